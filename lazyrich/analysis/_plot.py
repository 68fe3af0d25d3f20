r"""The toolkit's figures, in one place: the (γ, η) phase map (Figure 1 of Atanasov et al.
2025 on our tasks; docs: Gamma scaling), the eigen-curves and D_LR trajectories of the richness
measure, and capacity and effective geometry over training.

House style: ``ax=None`` (or ``axes=None``), returns the axes (or figure), never shows. The data
behind the phase map is returned by :func:`phase_map_data` so tests check numbers, not pixels.
"""

import dataclasses
import json

import numpy as np
import xarray as xr

from ._phase import eta_dim, eta_grid, eta_max, eta_min, eta_star, final_loss


@dataclasses.dataclass(frozen=True)
class PhaseMapData:
    """What the phase map draws.

    ``gamma`` (n_γ,), ``eta`` (n_γ, n_E) real η of each cell, ``value`` (n_γ, n_E) the seed-mean
    final ``var`` (NaN where a majority of seeds diverged), ``eta_star``/``eta_max``/``eta_min``
    (n_γ,) seed medians, ``depth`` L, and ``lines``: {label: (gamma, eta)} reference lines
    η ∝ γ², γ^(2/L), γ anchored on the measured edges.
    """

    gamma: np.ndarray
    eta: np.ndarray
    value: np.ndarray
    eta_star: np.ndarray
    eta_max: np.ndarray
    eta_min: np.ndarray
    depth: int
    lines: dict


def _depth_of(ds, depth):
    if depth is not None:
        if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        return int(depth)
    try:
        return int(json.loads(ds.attrs["config"])["depth"])
    except (KeyError, ValueError, TypeError):
        raise ValueError("dataset has no config attribute with the depth L: pass depth=") from None


def phase_map_data(ds: xr.Dataset, var: str = "test_loss", window: int = 3,
                   depth: int | None = None, threshold: float = 0.5) -> PhaseMapData:
    """The numbers of :func:`plot_phase_map` (see :class:`PhaseMapData`)."""
    L = _depth_of(ds, depth)
    e = eta_dim(ds)
    fl = final_loss(ds, var, window).transpose("gamma", e, "seed").values
    div = ds["diverged"].transpose("gamma", e, "seed").values
    with np.errstate(all="ignore"), _quiet():
        val = np.nanmean(fl, axis=-1)
    val = np.where(div.mean(-1) > 0.5, np.nan, val)
    g = ds["gamma"].values.astype(float)
    with _quiet():
        es = np.nanmedian(eta_star(ds, var, window).values, axis=1)
        em = np.nanmedian(eta_max(ds).values, axis=1)
        en = np.nanmedian(eta_min(ds, threshold, var, window).values, axis=1)
    lines = {}
    # each law is drawn over its own regime: γ² for γ ≤ 1, γ^(2/L) and γ for γ ≥ 1
    lo_g = np.geomspace(g.min(), max(min(g.max(), 1.0), g.min()), 50)
    hi_g = np.geomspace(min(max(g.min(), 1.0), g.max()), g.max(), 50)

    def anchor(edge, at):
        ok = np.isfinite(edge)
        if not ok.any():
            return None
        i = np.nonzero(ok)[0][0 if at == "low" else -1]
        return g[i], edge[i]

    a = anchor(em, "low")
    if a is not None and g.min() < 1.0:
        lines[r"$\eta\propto\gamma^2$"] = (lo_g, a[1] * (lo_g / a[0]) ** 2)
    a = anchor(em, "high")
    if a is not None and g.max() > 1.0:
        lines[rf"$\eta\propto\gamma^{{2/{L}}}$"] = (hi_g, a[1] * (hi_g / a[0]) ** (2 / L))
    a = anchor(en, "high")
    if a is not None and g.max() > 1.0:
        lines[r"$\eta\propto\gamma$"] = (hi_g, a[1] * (hi_g / a[0]))
    return PhaseMapData(g, eta_grid(ds), val, es, em, en, L, lines)


class _quiet:
    def __enter__(self):
        import warnings

        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *a):
        self.w.__exit__(*a)


def plot_phase_map(ds: xr.Dataset, var: str = "test_loss", *, window: int = 3,
                   depth: int | None = None, ax=None, cmap: str = "viridis", lines: bool = True,
                   markers: bool = True):
    r"""Heat map of the final loss over :math:`\log\gamma\times\log\eta` (Figure 1 of
    Atanasov et al. 2025).

    Diverged cells are masked (grey); white dots mark η*(γ) (sub-grid refined, seed median),
    black crosses the grid divergence edge; dashed reference lines η ∝ γ² (anchored on the
    edge at the smallest γ), γ^(2/L) (at the largest γ) and γ (through η_min at the largest γ).
    Works for ``eta`` and ``eta_hat`` sweeps (each γ column is drawn at its own η values).
    Returns the axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    d = phase_map_data(ds, var, window, depth)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    lg = np.log10(d.gamma)
    gedge = np.concatenate([[lg[0] - (lg[1] - lg[0]) / 2 if lg.size > 1 else lg[0] - 0.25],
                            (lg[1:] + lg[:-1]) / 2,
                            [lg[-1] + (lg[-1] - lg[-2]) / 2 if lg.size > 1 else lg[-1] + 0.25]])
    finite = d.value[np.isfinite(d.value) & (d.value > 0)]
    norm = LogNorm(finite.min(), finite.max()) if finite.size else None
    cm = plt.get_cmap(cmap).with_extremes(bad="0.8")
    mesh = None
    for i in range(d.gamma.size):
        le = np.log10(d.eta[i])
        order = np.argsort(le)
        le, v = le[order], d.value[i][order]
        ee = np.concatenate([[le[0] - (le[1] - le[0]) / 2 if le.size > 1 else le[0] - 0.125],
                             (le[1:] + le[:-1]) / 2,
                             [le[-1] + (le[-1] - le[-2]) / 2 if le.size > 1 else le[-1] + 0.125]])
        mesh = ax.pcolormesh(gedge[i:i + 2], ee, np.ma.masked_invalid(v)[:, None], cmap=cm,
                             norm=norm)
    if mesh is not None:
        ax.figure.colorbar(mesh, ax=ax, label=f"final {var}")
    if markers:
        ax.plot(lg, np.log10(d.eta_star), "o", color="w", mec="k", ms=4, label=r"$\eta^*$")
        ax.plot(lg, np.log10(d.eta_max), "x", color="k", ms=4, label=r"$\eta_{\max}$ (grid)")
    if lines:
        for (label, (x, y)), ls in zip(d.lines.items(), ("--", "-.", ":"), strict=False):
            ax.plot(np.log10(x), np.log10(y), ls, color="r", lw=1.2, label=label)
    ax.set_xlabel(r"$\log_{10}\gamma$")
    ax.set_ylabel(r"$\log_{10}\eta$")
    ax.legend(fontsize=7, loc="lower right")
    return ax


# -- richness measures (lazyrich.metrics) -------------------------------------------------

def plot_eigencurves(curves, labels=None, axes=None, *, k_max: int | None = None,
                     logx: bool = False):
    r"""The three-panel eigendecomposition figure of Nam et al. (ICLR 2026) for one or
    several models (docs: Richness).

    Panels: cumulative quality :math:`\Pi^*(k)` (skipped lines when a model has no targets),
    cumulative utilisation :math:`\hat\Pi(k)`, relative eigenvalue :math:`\rho_k/\rho_1` (log).

    Args:
        curves: one :class:`~lazyrich.metrics.EigenCurves` or a sequence of them.
        labels: one label per model (default "model i").
        axes: three matplotlib axes; a new ``1×3`` figure if ``None``.
        k_max: truncate the x-axis. logx: logarithmic mode axis.

    Returns:
        The three axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, list | tuple):
        curves = [curves]
    if not curves:
        raise ValueError("need at least one EigenCurves")
    labels = [f"model {i}" for i in range(len(curves))] if labels is None else list(labels)
    if len(labels) != len(curves):
        raise ValueError(f"got {len(labels)} labels for {len(curves)} models")
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
    if len(axes) != 3:
        raise ValueError(f"axes must hold 3 axes, got {len(axes)}")
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(curves)))
    for c, lab, col in zip(curves, labels, colors, strict=True):
        sl = slice(None) if k_max is None else slice(0, k_max)
        if c.pi_star is not None:
            axes[0].plot(c.k[sl], c.pi_star[sl], "-o", ms=2.5, color=col, label=lab)
        axes[1].plot(c.k[sl], c.pi_hat[sl], "-o", ms=2.5, color=col, label=lab)
        axes[2].semilogy(c.k[sl], c.rel_eig[sl], "-o", ms=2.5, color=col, label=lab)
    for ax, yl in zip(axes, [r"quality $\Pi^*(k)$", r"utilisation $\hat\Pi(k)$",
                             r"relative eigenvalue $\rho_k/\rho_1$"], strict=True):
        ax.set_xlabel("eigen-index k")
        ax.set_ylabel(yl)
        if logx:
            ax.set_xscale("log")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].legend(fontsize="small")
    return axes


def plot_dlr_trajectory(steps, dlr_values, accuracy=None, ax=None, *,
                        labels=("D_LR", "test accuracy")):
    """D_LR against training step, with accuracy on a twin axis (e.g. through grokking).

    ``dlr_values`` may be a dict ``{name: values}`` (e.g. train and test splits). Returns the
    D_LR axes (the twin is ``ax.accuracy_axis`` when accuracy is given).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    series = dlr_values if isinstance(dlr_values, dict) else {labels[0]: dlr_values}
    for name, v in series.items():
        if len(v) != len(steps):
            raise ValueError(f"{name}: {len(v)} values for {len(steps)} steps")
        ax.plot(steps, v, "-", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("D_LR")
    ax.set_ylim(0, 1)
    if accuracy is not None:
        tw = ax.twinx()
        tw.plot(steps, accuracy, "--", color="k", label=labels[1])
        tw.set_ylabel(labels[1])
        tw.set_ylim(0, 1.02)
        ax.accuracy_axis = tw
    ax.legend(loc="center left", fontsize="small")
    return ax


# -- capacity and geometry over training (lazyrich.geometry) -------------------------------

def plot_geometry_over_training(results: dict, *, axes=None):
    """Plot capacity and each effective measure against step (log x), one line per run.

    Args:
        results: ``{label: geometry_over_training(...) dict}``.
        axes: optional array of 6 matplotlib axes.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    names = [("capacity", "capacity"), ("radius", "R_eff"), ("dimension", "D_eff"),
             ("center_alignment", "center align."), ("axis_alignment", "axis align."),
             ("center_axis_alignment", "center-axis align.")]
    if axes is None:
        fig, axes = plt.subplots(2, 3, figsize=(11, 6), constrained_layout=True)
    axes = np.asarray(axes).ravel()
    fig = axes[0].figure
    for label, res in results.items():
        x = np.maximum(res["step"], 0.5)  # step 0 drawn at 0.5 on the log axis
        for ax, (key, title) in zip(axes, names, strict=True):
            ax.plot(x, res[key], marker="o", ms=3, label=str(label))
            ax.set_xscale("log")
            ax.set_title(title)
            ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    return fig


# -- coord check (lazyrich.analysis.coord_check) --------------------------------------------

def plot_coord_check(result, *, quantity: str = "change", step: int = 1, axes=None):
    """One panel per parametrisation: the coordinate size of every layer's ``quantity``
    (``"change"``: mean |h_t − h_0|, or ``"size"``: mean |h_t|) at ``step`` against width,
    log–log, seed mean with the seed range shaded. Flat lines are width-consistent (μP).

    Returns:
        The axes (one per parametrisation).
    """
    import matplotlib.pyplot as plt

    if quantity not in ("change", "size"):
        raise ValueError(f"quantity must be 'change' or 'size', got {quantity!r}")
    if step not in result["step"].values:
        raise ValueError(f"step must be one of {result['step'].values.tolist()}, got {step!r}")
    names = list(result["parametrization"].values)
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2),
                               constrained_layout=True, squeeze=False)
    axes = np.asarray(axes).ravel()
    ws = result["width"].values
    for ax, p in zip(axes, names, strict=True):
        v = result[quantity].sel(parametrization=p, step=step)  # (width, seed, layer)
        for ell in result["layer"].values:
            y = v.sel(layer=ell).values
            label = "output" if ell == result["layer"].values[-1] else f"h{ell}"
            line, = ax.plot(ws, y.mean(axis=1), marker="o", label=label)
            ax.fill_between(ws, y.min(axis=1), y.max(axis=1), color=line.get_color(), alpha=0.2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"{p}: {quantity} at t = {step}")
        ax.set_xlabel("width N")
    axes[0].set_ylabel("mean |·|")
    axes[0].legend(fontsize=8)
    return axes


def plot_loss_curves(ds: xr.Dataset, var: str = "test_loss", *, gamma: float | None = None,
                     ax=None):
    r"""Training curves of a sweep: ``var`` against step, the mean over seeds (a seed stops
    where it diverged; the legend counts diverged seeds).

    With ``gamma``: every η (or η̂) at that γ. Without: each γ at its best η, the one with the
    lowest seed-mean final ``test_loss`` (``loss`` if there is none) over the last three logged
    steps (:func:`final_loss`) — the lazy-to-rich change of the curves' shape at a glance
    (docs: Gamma scaling). ``ds``: a finished sweep with dims ``gamma``, ``eta`` or
    ``eta_hat``, ``seed``, ``step`` (fix any other grid dimension with ``ds.sel`` first).
    Returns the axes.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    if var not in ds or "step" not in ds[var].dims:
        logged = sorted(str(k) for k, v in ds.data_vars.items() if "step" in v.dims)
        raise ValueError(f"var {var!r} is not a logged variable of ds; expected one of {logged}")
    e = eta_dim(ds)
    extra = [d for d in ds["diverged"].dims if d not in ("gamma", e, "seed")]
    if extra:
        raise ValueError(f"ds also varies {extra}: select one value of each first "
                         f"(ds.sel({extra[0]}=...))")
    sym = r"$\hat\eta$" if e == "eta_hat" else r"$\eta$"
    steps = ds["step"].values
    keep = steps > 0  # log-scaled step axis
    gammas = ds["gamma"].values
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
    if gamma is not None:
        hit = np.nonzero(np.isclose(gammas, float(gamma), rtol=1e-6, atol=0.0))[0]
        if not hit.size:
            raise ValueError(f"gamma = {gamma:g} is not in the grid; expected one of "
                             f"{gammas.tolist()}")
        cells = [(int(hit[0]), j) for j in range(ds.sizes[e])]
        ax.set_title(rf"$\gamma$ = {gammas[hit[0]]:.3g}", fontsize=9)
    else:
        if ds.sizes["step"] < 2:
            raise ValueError(f"ds has {ds.sizes['step']} logged step; the best {e} needs at "
                             f"least 2 (or give gamma)")
        ref = "test_loss" if "test_loss" in ds else "loss"
        final = final_loss(ds, ref, min(3, ds.sizes["step"] - 1))
        final = final.transpose("gamma", e, "seed").values
        with np.errstate(all="ignore"):
            counts = np.isfinite(final).sum(-1)
            seed_mean = np.where(counts > 0, np.nansum(final, -1) / np.maximum(counts, 1),
                                 np.inf)
        cells = [(i, int(np.argmin(seed_mean[i]))) for i in range(gammas.size)
                 if np.isfinite(seed_mean[i]).any()]
        if not cells:
            raise ValueError("every cell of ds diverged; no curve to draw")
        ax.set_title(rf"each $\gamma$ at its best {sym} (final {ref})", fontsize=9)
    colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, max(len(cells), 1)))
    div = ds["diverged"].transpose("gamma", e, "seed").values
    drawn = []
    for (i, j), c in zip(cells, colours, strict=True):
        y = ds[var].isel({"gamma": i, e: j}).transpose("seed", "step").values.astype(float)
        with np.errstate(all="ignore"):
            n = np.isfinite(y).sum(0)
            mean = np.where(n > 0, np.nansum(np.where(np.isfinite(y), y, 0.0), 0)
                            / np.maximum(n, 1), np.nan)
        label = rf"$\gamma$={gammas[i]:.3g}, " if gamma is None else ""
        label += f"{sym}={float(ds[e].values[j]):.3g}"
        if div[i, j].any():
            label += f" ({int(div[i, j].sum())}/{div.shape[-1]} seeds diverged)"
        ax.plot(steps[keep], mean[keep], color=c, label=label)
        drawn.append(mean[keep])
    vals = np.concatenate(drawn)
    vals = vals[np.isfinite(vals)]
    ax.set_xscale("log")
    if vals.size and vals.min() > 0 and vals.max() > 10 * vals.min():  # losses; not accuracy
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{var} (mean over seeds)")
    ax.legend(fontsize=7)
    return ax
