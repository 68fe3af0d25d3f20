r"""Phase-map analysis of a (γ, η) sweep (gamma-scaling.md §2.1, §5 "Statistics to standardise").

Every function takes the xarray Dataset of :func:`lazyrich.sims.sweep` — variables ``loss``
(dims ``gamma, eta, seed, step``) and ``diverged`` (dims ``gamma, eta, seed``), coordinates
holding the real values — and returns DataArrays over ``(gamma, seed)`` so slopes can be fitted
per seed and pooled.
"""

import dataclasses

import numpy as np
import xarray as xr

_REQUIRED = {"loss": ("gamma", "eta", "seed", "step"), "diverged": ("gamma", "eta", "seed")}


def _check(ds: xr.Dataset, var: str = "loss"):
    for name, dims in {var: _REQUIRED["loss"], "diverged": _REQUIRED["diverged"]}.items():
        if name not in ds:
            raise ValueError(f"dataset has no variable {name!r}; expected a lazyrich sweep with "
                             f"{list(_REQUIRED)} (got {list(ds.data_vars)})")
        if set(ds[name].dims) != set(dims):
            raise ValueError(f"{name!r} must have dims {dims}, got {ds[name].dims}")
    if ds.sizes["eta"] < 1:
        raise ValueError("the sweep has an empty eta axis")


def final_loss(ds: xr.Dataset, var: str = "loss", window: int = 20) -> xr.DataArray:
    """Mean of ``var`` over the last ``window`` logged steps (online SGD noise, spec §5);
    NaN for diverged cells."""
    _check(ds, var)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out = ds[var].isel(step=slice(-window, None)).mean("step")
    return out.where(~ds["diverged"])


def eta_max(ds: xr.Dataset) -> xr.DataArray:
    r"""Divergence edge on the grid: the largest η below the smallest diverged η, per (γ, seed).

    NaN where every η diverged; the grid's top η where none did (a lower bound — widen the grid).
    Refine between the returned η and the next grid point with :func:`bisect_edge`.
    """
    _check(ds)
    etas = ds["eta"].values
    order = np.argsort(etas)
    div = ds["diverged"].transpose("gamma", "seed", "eta").values[..., order]
    first_bad = np.where(div.any(-1), div.argmax(-1), len(etas))
    idx = first_bad - 1
    vals = np.where(idx >= 0, etas[order][np.clip(idx, 0, None)], np.nan)
    return xr.DataArray(vals, dims=("gamma", "seed"),
                        coords={"gamma": ds["gamma"], "seed": ds["seed"]}, name="eta_max")


def eta_star(ds: xr.Dataset, var: str = "loss", window: int = 20, refine: bool = True) -> xr.DataArray:
    r"""Optimal learning rate: argmin over η of the final loss, per (γ, seed).

    With ``refine`` the minimum is refined inside the grid by a parabola through
    :math:`\log L` vs :math:`\log\eta` at the grid minimum and its two neighbours (spec §5: halves
    the 0.25-decade grid's slope error). A minimum on the grid edge is returned unrefined.
    """
    fl = final_loss(ds, var, window).transpose("gamma", "seed", "eta")
    etas = ds["eta"].values
    order = np.argsort(etas)
    le = np.log(etas[order])
    vals = np.log(fl.values[..., order])
    out = np.full(vals.shape[:2], np.nan)
    for i, j in np.ndindex(*vals.shape[:2]):
        v = vals[i, j]
        if np.all(~np.isfinite(v)):
            continue
        k = int(np.nanargmin(np.where(np.isfinite(v), v, np.inf)))
        est = le[k]
        if refine and 0 < k < len(le) - 1 and np.all(np.isfinite(v[k - 1:k + 2])):
            c2, c1, _ = np.polyfit(le[k - 1:k + 2], v[k - 1:k + 2], 2)
            if c2 > 0:
                est = float(np.clip(-c1 / (2 * c2), le[k - 1], le[k + 1]))
        out[i, j] = np.exp(est)
    return xr.DataArray(out, dims=("gamma", "seed"),
                        coords={"gamma": ds["gamma"], "seed": ds["seed"]}, name="eta_star")


def eta_min(ds: xr.Dataset, threshold: float = 0.5, var: str = "loss", window: int = 20) -> xr.DataArray:
    r"""No-training edge :math:`\eta_{\min}(T)`: the smallest η whose final loss is below
    ``threshold`` × the initial loss, per (γ, seed) (spec §2.1)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    fl = final_loss(ds, var, window)
    l0 = ds[var].isel(step=0)
    trained = (fl < threshold * l0).transpose("gamma", "seed", "eta")
    etas = ds["eta"].values
    order = np.argsort(etas)
    tr = trained.values[..., order]
    idx = np.where(tr.any(-1), tr.argmax(-1), -1)
    vals = np.where(idx >= 0, etas[order][np.clip(idx, 0, None)], np.nan)
    return xr.DataArray(vals, dims=("gamma", "seed"),
                        coords={"gamma": ds["gamma"], "seed": ds["seed"]}, name="eta_min")


def catapult(ds: xr.Dataset, var: str = "loss", rise: float = 1.5, window: int = 20) -> xr.DataArray:
    r"""Catapult cells: the loss first rises above ``rise`` × its initial value, then ends below
    it, without diverging (Lewkowycz et al. 2020; spec §2.1, §2.3 item 5)."""
    _check(ds, var)
    l0 = ds[var].isel(step=0)
    peak = ds[var].max("step")
    return ((peak > rise * l0) & (final_loss(ds, var, window) < l0) & ~ds["diverged"]).rename("catapult")


@dataclasses.dataclass(frozen=True)
class SlopeFit:
    """A pooled log–log OLS slope with a bootstrap confidence interval over seeds."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    n_points: int

    def agrees_with(self, prediction: float, tol: float) -> bool:
        """Spec §5: |slope − prediction| ≤ tol **and** the CI overlaps prediction ± tol."""
        return (abs(self.slope - prediction) <= tol
                and self.ci_high >= prediction - tol and self.ci_low <= prediction + tol)


def fit_slope(x, y, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> SlopeFit:
    r"""Pooled OLS slope of :math:`\log y` on :math:`\log x` over (x, seed) points, with a
    ``n_boot``-resample bootstrap over seeds (spec §5).

    Args:
        x: shape ``(n_x,)``, positive.
        y: shape ``(n_x, n_seeds)`` (or ``(n_x,)``); non-finite entries are dropped.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"x must be 1-D and y of shape (len(x), n_seeds); got {x.shape}, {y.shape}")
    if np.any(x <= 0):
        raise ValueError("x must be positive for a log-log fit")
    lx = np.repeat(np.log(x)[:, None], y.shape[1], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(y)

    def ols(cols):
        X, Y = lx[:, cols].ravel(), ly[:, cols].ravel()
        ok = np.isfinite(X) & np.isfinite(Y)
        if ok.sum() < 2 or np.ptp(X[ok]) == 0:
            return np.nan, np.nan
        return np.polyfit(X[ok], Y[ok], 1)

    slope, icpt = ols(np.arange(y.shape[1]))
    if not np.isfinite(slope):
        raise ValueError("fewer than two finite points at distinct x: no slope to fit")
    rng = np.random.default_rng(seed)
    boots = np.array([ols(rng.integers(0, y.shape[1], y.shape[1]))[0] for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - ci) / 2, (1 + ci) / 2])
    n = int(np.sum(np.isfinite(ly)))
    return SlopeFit(float(slope), float(icpt), float(lo), float(hi), n)


def bisect_edge(diverges, lo: float, hi: float, *, iters: int = 8) -> tuple[float, float]:
    r"""Refine a divergence edge between a stable ``lo`` and a diverging ``hi`` by bisection in
    :math:`\log\eta`. ``diverges(eta) -> bool`` runs the model (e.g. a one-cell sweep).

    Returns the final bracket ``(stable, diverging)``; its log-width is
    :math:`\log(hi/lo)/2^{\text{iters}}`.
    """
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got lo={lo}, hi={hi}")
    for _ in range(iters):
        mid = float(np.sqrt(lo * hi))
        if diverges(mid):
            hi = mid
        else:
            lo = mid
    return lo, hi
