r"""The (γ, η) phase-map figure: Figure 1 of [OL] on our tasks (gamma-scaling.md §2.1, §3.2).

House style (engineering.md §6.3): ``ax=None``, returns the axes, never shows. The data behind
the picture is returned by :func:`phase_map_data` so tests check numbers, not pixels.
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
    r"""Heat map of the final loss over :math:`\log\gamma\times\log\eta` (Figure 1 of [OL]).

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
