r"""Phase-map analysis of a (γ, η) sweep: the edges and η* of the phase map of Atanasov et al.
2025 and their slopes (docs: Gamma scaling, "Lazy and rich scaling laws").

Every function takes the xarray Dataset of :func:`lazyrich.sims.sweep` — variables ``loss``
(dims ``gamma, E, seed, step``) and ``diverged`` (dims ``gamma, E, seed``) where the η axis
``E`` is either

* ``eta`` (a 1-D grid shared by every γ), or
* ``eta_hat`` (the normalised rate :math:`\hat\eta = \eta/s(\gamma)`; docs: Gamma scaling)
  with the 2-D coordinate ``eta(gamma, eta_hat)`` giving the real η of every cell — the
  natural grid for slope claims, :math:`\eta = s(\gamma)\,10^k`, :math:`k\in[-3, 1]` (a
  window that holds η* and the divergence edge at every γ),

and returns DataArrays over ``(gamma, seed)`` of real η values, so slopes can be fitted per
seed and pooled with :func:`fit_slope`.
"""

import dataclasses
import functools

import numpy as np
import pandas as pd
import xarray as xr

_ETA_DIMS = ("eta", "eta_hat")


def eta_dim(ds: xr.Dataset) -> str:
    """The η axis of a sweep: ``"eta"`` or ``"eta_hat"``."""
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"ds must be an xarray.Dataset from lazyrich.sims.sweep, got "
                        f"{type(ds).__name__}")
    dims = [d for d in _ETA_DIMS if d in ds.dims]
    if len(dims) != 1:
        raise ValueError(f"dataset must have exactly one learning-rate dimension out of "
                         f"{_ETA_DIMS}; got dims {tuple(ds.dims)}")
    return dims[0]


def eta_grid(ds: xr.Dataset) -> np.ndarray:
    """The real η of every (γ, grid index): shape ``(n_gamma, n_eta)``."""
    e = eta_dim(ds)
    if "eta" not in ds.coords and "eta" not in ds:
        raise ValueError("an eta_hat sweep must carry the 2-D coordinate eta(gamma, eta_hat)")
    eta = ds["eta"]
    if eta.dims == ("eta",):
        out = np.broadcast_to(eta.values[None, :], (ds.sizes["gamma"], ds.sizes["eta"])).copy()
    elif set(eta.dims) != {"gamma", e}:
        raise ValueError(f"coordinate eta must have dims (gamma, {e}), got {eta.dims}")
    else:
        out = eta.transpose("gamma", e).values.astype(float)
    out = out.astype(float)
    if not np.all(np.isfinite(out) & (out > 0)):
        raise ValueError(f"coordinate eta must be finite and > 0 (learning rates on a log axis), "
                         f"got {np.unique(out[~(np.isfinite(out) & (out > 0))])[:5].tolist()}")
    return out


def _check(ds: xr.Dataset, var: str = "loss") -> str:
    e = eta_dim(ds)
    if not isinstance(var, str):
        raise TypeError(f"var must be the name of a loss variable, e.g. 'loss', got {var!r}")
    if var in ("accuracy", "diverged", "diverged_step"):
        raise ValueError(f"var must be a loss (lower is better), e.g. 'loss' or 'test_loss', got "
                         f"{var!r}")
    need = {var: ("gamma", e, "seed", "step"), "diverged": ("gamma", e, "seed")}
    for name, dims in need.items():
        if name not in ds:
            raise ValueError(f"dataset has no variable {name!r}; expected a lazyrich sweep with "
                             f"{list(need)} (got {list(ds.data_vars)})")
        if set(ds[name].dims) != set(dims):
            raise ValueError(f"{name!r} must have dims {dims}, got {ds[name].dims}")
    if ds.sizes[e] < 1:
        raise ValueError(f"the sweep has an empty {e} axis")
    v = ds[var].values
    if np.any(v < 0):  # NaN compares False
        raise ValueError(f"var {var!r} must be a non-negative loss, got a minimum of "
                         f"{np.nanmin(v):.3g}")
    return e


def _per_extra_dim(fn):
    """Let a phase-map function written for (gamma, eta, seed, step) run on a sweep with more
    grid dimensions (the shape axes width, depth, batch_size, or swept init_scale, momentum, ...):
    it is applied to each slice and the results are stacked along those dimensions (results
    come out with them first, e.g. (width, gamma, seed))."""

    @functools.wraps(fn)
    def wrapper(ds, *args, **kwargs):
        if not isinstance(ds, xr.Dataset) or "loss" not in ds:
            return fn(ds, *args, **kwargs)
        core = {"gamma", "eta", "eta_hat", "seed", "step"}
        extra = [d for d in ds["loss"].dims if d not in core]
        if not extra:
            return fn(ds, *args, **kwargs)
        d = extra[0]
        outs = [wrapper(ds.isel({d: i}), *args, **kwargs) for i in range(ds.sizes[d])]
        index = pd.Index(ds[d].values, name=d)
        if isinstance(outs[0], tuple):
            return tuple(xr.concat([o[j].drop_vars(d, errors="ignore") for o in outs], index)
                         for j in range(len(outs[0])))
        return xr.concat([o.drop_vars(d, errors="ignore") for o in outs], index)

    return wrapper


def _check_window(ds, window) -> int:
    """The final-loss window: an integer in [1, n_steps − 1], so it never reaches step 0."""
    n = ds.sizes["step"]
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ValueError(f"window must be a positive integer (logged steps to average), got "
                         f"{window!r}")
    if window > n - 1:
        raise ValueError(f"window must be at most {n - 1} (the dataset has {n} logged steps and "
                         f"the final-loss average must not reach the initial one), got {window}")
    return int(window)


def _out(ds, vals, name):
    return xr.DataArray(vals, dims=("gamma", "seed"),
                        coords={"gamma": ds["gamma"].values, "seed": ds["seed"].values}, name=name)


def _sorted(ds, arr_gse):
    """Sort each γ row of a (gamma, seed, E) array by real η; return (etas (g, E), arr)."""
    etas = eta_grid(ds)
    order = np.argsort(etas, axis=1)
    etas = np.take_along_axis(etas, order, axis=1)
    arr = np.take_along_axis(arr_gse, order[:, None, :], axis=2)
    return etas, arr


@_per_extra_dim
def final_loss(ds: xr.Dataset, var: str = "loss", window: int = 20) -> xr.DataArray:
    """Mean of ``var`` over the last ``window`` logged steps (it averages out online
    SGD noise); NaN for diverged cells."""
    _check(ds, var)
    window = _check_window(ds, window)
    out = ds[var].isel(step=slice(-window, None)).mean("step")
    return out.where(~ds["diverged"])


@_per_extra_dim
def eta_max(ds: xr.Dataset) -> xr.DataArray:
    r"""Divergence edge on the grid: the largest η below the smallest diverged η, per (γ, seed).

    NaN where every η diverged; the grid's top η where none did (a lower bound — widen the grid).
    Refine between the returned η and the next grid point with :func:`refine_eta_max` or
    :func:`bisect_edge`.
    """
    e = _check(ds)
    etas, div = _sorted(ds, ds["diverged"].transpose("gamma", "seed", e).values)
    n = etas.shape[1]
    first_bad = np.where(div.any(-1), div.argmax(-1), n)
    idx = first_bad - 1
    vals = np.take_along_axis(etas, np.clip(idx, 0, None), axis=1)
    return _out(ds, np.where(idx >= 0, vals, np.nan), "eta_max")


@_per_extra_dim
def eta_bracket(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """The grid bracket of the divergence edge: (last stable η, first diverging η) per (γ, seed);
    the upper end is NaN where nothing diverged."""
    e = _check(ds)
    etas, div = _sorted(ds, ds["diverged"].transpose("gamma", "seed", e).values)
    n = etas.shape[1]
    first_bad = np.where(div.any(-1), div.argmax(-1), n)
    lo = np.take_along_axis(etas, np.clip(first_bad - 1, 0, None), axis=1)
    hi = np.take_along_axis(etas, np.clip(first_bad, 0, n - 1), axis=1)
    return (_out(ds, np.where(first_bad > 0, lo, np.nan), "eta_lo"),
            _out(ds, np.where(first_bad < n, hi, np.nan), "eta_hi"))


@_per_extra_dim
def eta_star(ds: xr.Dataset, var: str = "loss", window: int = 20,
             refine: bool = True) -> xr.DataArray:
    r"""Optimal learning rate: argmin over η of the final loss, per (γ, seed).

    With ``refine`` the minimum is refined inside the grid by a parabola through
    :math:`\log L` vs :math:`\log\eta` at the grid minimum and its two neighbours (this
    roughly halves the 0.25-decade grid's slope error). A minimum on the grid edge is
    returned unrefined.
    """
    e = _check(ds, var)
    if not isinstance(refine, bool | np.bool_):
        raise TypeError(f"refine must be True or False, got {refine!r}")
    fl = final_loss(ds, var, window).transpose("gamma", "seed", e).values
    etas, fl = _sorted(ds, fl)
    with np.errstate(divide="ignore"):  # a final loss of exactly 0 is the best cell: log -> -inf
        vals = np.log(fl)
    out = np.full(vals.shape[:2], np.nan)
    for i, j in np.ndindex(*vals.shape[:2]):
        v = vals[i, j]
        le = np.log(etas[i])
        if np.all(~np.isfinite(v)):
            continue
        k = int(np.argmin(np.where(np.isfinite(v), v, np.inf)))
        est = le[k]
        if refine and 0 < k < len(le) - 1 and np.all(np.isfinite(v[k - 1:k + 2])):
            c2, c1, _ = np.polyfit(le[k - 1:k + 2], v[k - 1:k + 2], 2)
            if c2 > 0:
                est = float(np.clip(-c1 / (2 * c2), le[k - 1], le[k + 1]))
        out[i, j] = np.exp(est)
    return _out(ds, out, "eta_star")


@_per_extra_dim
def eta_min(ds: xr.Dataset, threshold: float = 0.5, var: str = "loss",
            window: int = 20) -> xr.DataArray:
    r"""No-training edge :math:`\eta_{\min}(T)`: the smallest η whose final loss is below
    ``threshold`` × the initial loss, per (γ, seed): :math:`\propto\gamma^2` lazy,
    :math:`\propto\gamma/T` ultra-rich (Atanasov et al. 2025;
    docs: Gamma scaling, "Lazy and rich scaling laws")."""
    if (isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating)
            or not 0 < threshold < 1):
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    e = _check(ds, var)
    fl = final_loss(ds, var, window)
    l0 = ds[var].isel(step=0)
    trained = (fl < threshold * l0).transpose("gamma", "seed", e).values
    etas, tr = _sorted(ds, trained)
    idx = np.where(tr.any(-1), tr.argmax(-1), -1)
    vals = np.take_along_axis(etas, np.clip(idx, 0, None), axis=1)
    return _out(ds, np.where(idx >= 0, vals, np.nan), "eta_min")


@_per_extra_dim
def catapult(ds: xr.Dataset, var: str = "loss", rise: float = 1.5,
             window: int = 20) -> xr.DataArray:
    r"""Catapult cells: the loss first rises above ``rise`` × its initial value, then ends below
    it, without diverging (Lewkowycz et al. 2020). In the lazy regime the catapult band lies
    just under the divergence edge, parallel to it (docs: Gamma scaling, "Edge of stability")."""
    if (isinstance(rise, bool) or not isinstance(rise, int | float | np.floating)
            or not (np.isfinite(rise) and rise > 1)):
        raise ValueError(f"rise must be finite and > 1 (a rise above the initial loss), got "
                         f"{rise!r}")
    _check(ds, var)
    l0 = ds[var].isel(step=0)
    peak = ds[var].max("step")
    out = (peak > rise * l0) & (final_loss(ds, var, window) < l0) & ~ds["diverged"]
    return out.rename("catapult")


@dataclasses.dataclass(frozen=True)
class SlopeFit:
    """A pooled log–log OLS slope with a bootstrap confidence interval over seeds.

    ``ci_low``/``ci_high`` are NaN when fewer than two seeds carry data (``n_seeds < 2``): a
    bootstrap over one seed has no spread, so no interval is reported (``has_ci`` is False).
    """

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    n_points: int
    n_seeds: int = 0

    @property
    def has_ci(self) -> bool:
        """Whether a bootstrap CI exists (at least two seeds with data)."""
        return bool(np.isfinite(self.ci_low) and np.isfinite(self.ci_high))

    def agrees_with(self, prediction: float, tol: float) -> bool:
        """Pass rule: |slope − prediction| ≤ tol **and** the CI overlaps prediction ± tol.

        Raises ``ValueError`` when there is no CI (one seed): the second condition cannot be
        checked, and judging on the slope alone would pass a claim on weaker evidence.
        """
        if not self.has_ci:
            raise ValueError(f"this fit has no bootstrap CI (n_seeds={self.n_seeds}; needs >= 2 "
                             f"seeds): agrees_with cannot check the CI condition; fit more seeds "
                             f"or compare .slope yourself")
        return (abs(self.slope - prediction) <= tol
                and self.ci_high >= prediction - tol and self.ci_low <= prediction + tol)

    def __str__(self):
        if not self.has_ci:
            return (f"{self.slope:.3f} (no CI: {self.n_seeds} seed(s) with data, a bootstrap "
                    f"over seeds needs >= 2; n={self.n_points})")
        return (f"{self.slope:.3f} (95% CI [{self.ci_low:.3f}, {self.ci_high:.3f}], "
                f"n={self.n_points})")


def fit_slope(x, y, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> SlopeFit:
    r"""Pooled OLS slope of :math:`\log y` on :math:`\log x` over (x, seed) points, with a
    ``n_boot``-resample bootstrap over seeds.

    The model is :math:`\log y_{is} = a + b\log x_i + \varepsilon_{is}`, fitted to every finite
    point; the CI is the central ``ci`` quantile range of :math:`b` refitted on seed columns
    resampled with replacement.

    Args:
        x: shape ``(n_x,)``, finite and > 0.
        y: shape ``(n_x, n_seeds)`` (or ``(n_x,)``: one seed), > 0; NaN marks a missing point
            (e.g. a diverged cell) and is dropped. Zero, negative or infinite entries have no
            finite log and raise ``ValueError``.
        n_boot: bootstrap resamples, at least enough to put one resample in each tail:
            :math:`\lceil 2/(1-\text{ci})\rceil` (40 for a 95% CI).
        ci: confidence level in (0, 1).
        seed: the bootstrap's NumPy seed.

    Returns:
        :class:`SlopeFit`; with fewer than two seeds carrying data its CI is NaN
        (``has_ci`` False) and :meth:`SlopeFit.agrees_with` refuses to judge.
    """
    if isinstance(ci, bool) or not isinstance(ci, int | float | np.floating) or not 0 < ci < 1:
        raise ValueError(f"ci must be a confidence level in (0, 1), e.g. 0.95, got {ci!r}")
    n_min = int(np.ceil(2.0 / (1.0 - ci) - 1e-9))
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < n_min:
        raise ValueError(f"n_boot must be an integer >= {n_min} for a {ci:g} CI (at least one "
                         f"resample in each tail), got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 1 or y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(f"x must be 1-D and y of shape (len(x), n_seeds); got {x.shape}, "
                         f"{y.shape}")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"x must be positive and finite for a log-log fit, got {x.tolist()}")
    bad = ~np.isnan(y) & ~(np.isfinite(y) & (y > 0))
    if np.any(bad):
        raise ValueError(f"y must be > 0 and finite for a log-log fit (NaN marks a missing point); "
                         f"got {int(bad.sum())} entries <= 0 or infinite, e.g. "
                         f"{y[bad][:3].tolist()}")
    lx = np.repeat(np.log(x)[:, None], y.shape[1], axis=1)
    ly = np.log(y)

    def ols(cols):
        X, Y = lx[:, cols].ravel(), ly[:, cols].ravel()
        ok = np.isfinite(Y)
        if ok.sum() < 2 or np.ptp(X[ok]) == 0:
            return np.nan, np.nan
        return np.polyfit(X[ok], Y[ok], 1)

    slope, icpt = ols(np.arange(y.shape[1]))
    if not np.isfinite(slope):
        raise ValueError("fewer than two finite points at distinct x: no slope to fit")
    n = int(np.sum(np.isfinite(ly)))
    n_seeds = int(np.sum(np.isfinite(ly).any(axis=0)))
    if n_seeds < 2:  # a bootstrap over one seed reproduces it: no spread, no interval
        return SlopeFit(float(slope), float(icpt), np.nan, np.nan, n, n_seeds)
    rng = np.random.default_rng(seed)
    boots = np.array([ols(rng.integers(0, y.shape[1], y.shape[1]))[0] for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    if boots.size < n_min:
        return SlopeFit(float(slope), float(icpt), np.nan, np.nan, n, n_seeds)
    lo, hi = np.quantile(boots, [(1 - ci) / 2, (1 + ci) / 2])
    return SlopeFit(float(slope), float(icpt), float(lo), float(hi), n, n_seeds)


def bisect_edge(diverges, lo, hi, *, iters: int = 8):
    r"""Refine a divergence edge between a stable ``lo`` and a diverging ``hi`` by bisection in
    :math:`\log\eta`. ``diverges(eta) -> bool`` runs the model.

    ``lo``/``hi`` may be arrays (every bracket bisected at once; ``diverges`` then takes and
    returns arrays of the same shape — one vmapped run per iteration, see
    :func:`refine_eta_max`). Returns the final bracket ``(stable, diverging)``; its log-width is
    :math:`\log(hi/lo)/2^{\text{iters}}`.
    """
    if not callable(diverges):
        raise TypeError(f"diverges must be a callable diverges(eta) -> bool, got {diverges!r}")
    if isinstance(iters, bool) or not isinstance(iters, int | np.integer) or iters < 0:
        raise ValueError(f"iters must be a non-negative integer, got {iters!r}")
    scalar = np.ndim(lo) == 0 and np.ndim(hi) == 0
    lo = np.asarray(lo, dtype=float).copy()
    hi = np.asarray(hi, dtype=float).copy()
    if lo.shape != hi.shape or not np.all((0 < lo) & (lo < hi) & np.isfinite(hi)):
        raise ValueError(f"need 0 < lo < hi (finite, of one shape), got lo={lo}, hi={hi}")
    for _ in range(iters):
        mid = np.sqrt(lo * hi)
        d = np.asarray(diverges(float(mid) if scalar else mid), dtype=bool)
        if d.shape != lo.shape:
            raise ValueError(f"diverges(eta) must return a bool of the brackets' shape "
                             f"{lo.shape}, got shape {d.shape}")
        hi = np.where(d, mid, hi)
        lo = np.where(d, lo, mid)
    return (float(lo), float(hi)) if scalar else (lo, hi)


def refine_eta_max(cfg, ds: xr.Dataset, *, iters: int = 4) -> xr.DataArray:
    r"""Divergence edge refined by bisection below the grid resolution.

    Starts from the grid bracket (:func:`eta_bracket`) of every (γ, seed) and bisects all of
    them at once in :math:`\log\eta`: each iteration is one vmapped run of the cells
    :math:`(\gamma, \eta_{\rm mid}, \text{seed})` with the sweep's config ``cfg``
    (:func:`lazyrich.sims.run_cells`). Returns the geometric midpoint of the final bracket
    (log-error ≤ bracket/2^(iters+1)); where the grid has no bracket, the grid value of
    :func:`eta_max`.
    """
    from lazyrich.sims import run_cells

    lo, hi = eta_bracket(ds)
    g = np.broadcast_to(ds["gamma"].values[:, None], lo.shape)
    s = np.broadcast_to(ds["seed"].values[None, :], lo.shape)
    ok = np.isfinite(lo.values) & np.isfinite(hi.values)
    if not ok.any():
        return eta_max(ds)
    gl, sl = g[ok], s[ok]

    def diverges(mid):
        return run_cells(cfg, gamma=gl, eta=mid, seed=sl)["diverged"]

    a, b = bisect_edge(diverges, lo.values[ok], hi.values[ok], iters=iters)
    out = eta_max(ds).values.copy()
    out[ok] = np.sqrt(a * b)
    return _out(ds, out, "eta_max")
