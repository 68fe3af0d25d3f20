r"""Simulated manifold capacity (Algorithm 1) with nested random projections.

Chou et al. 2025 (docs: Manifold capacity, "Simulated capacity").

For trial :math:`k` draw one dichotomy :math:`y_k` and one Gaussian matrix
:math:`W_k\in\mathbb R^{n_\max\times N}`; project with its first :math:`n` rows. A separator in
:math:`n` dims extends to :math:`n+1` dims by a zero coordinate, so separability is monotone in
:math:`n` and each trial has a critical dimension :math:`n^*_k` (found by bisection, one LP per
step). The empirical curve :math:`\hat p(n) = \frac1{n_\text{rep}}\sum_k 1[n^*_k\le n]` is exact
for the sampled trials, :math:`N_c` is where it crosses 1/2 (linear interpolation between
integers) and :math:`\alpha_\text{sim} = P/N_c`.

The separability test is the LP feasibility problem :math:`\exists w: Gw\ge 1` with rows
:math:`g_i = y_{\mu(i)}\,\Pi x_i` (plus a column :math:`y_{\mu(i)}` with ``bias=True``), solved by
HiGHS; a "separable" verdict is certified by checking :math:`\min_i g_i\cdot w > 0`. Per-row
positive scaling of :math:`\Pi` does not change separability, so the unit-norm projection
columns of the Chung lab's reference code are not needed.
"""

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linprog

from lazyrich._deprecation import key_first

from ._dichotomies import check_ensemble, draw_dichotomies
from ._manifolds import as_manifolds, check_key, float64


@dataclasses.dataclass(frozen=True)
class SimulatedCapacity:
    r"""Result of :func:`simulated_capacity`.

    Attributes:
        capacity: :math:`\alpha_\text{sim} = P/N_c` (0 when more than half the trials are not
            separable even at ``n_max``: then only :math:`\alpha < P/n_\max` is known).
        critical_dim: :math:`N_c` (``inf`` in that case).
        capacity_ci: 95% bootstrap interval of the capacity over trials.
        n: the projection dimensions ``n_min..n_max`` of the curve.
        separability: :math:`\hat p(n)` on ``n``.
        trial_critical_dims: :math:`n^*_k` per trial (``inf``: not separable at ``n_max``).
        censored_fraction: fraction of trials with :math:`n^*_k = \infty`.
        options: every convention used (ensemble, bias, center, n_rep, bracket, seed data).
    """

    capacity: float
    critical_dim: float
    capacity_ci: tuple[float, float]
    n: np.ndarray
    separability: np.ndarray
    trial_critical_dims: np.ndarray
    censored_fraction: float
    options: dict


@functools.partial(jax.jit, static_argnames=("n_max", "N"))
def _projection(key, n_max, N):
    return jax.random.normal(key, (n_max, N), dtype=jnp.float64)


def is_separable(G: np.ndarray) -> bool:
    r"""Strict linear separability of signed points: :math:`\exists w:\ Gw > 0`.

    ``G`` has one row per signed point :math:`y_i x_i` (append a column :math:`y_i` for a bias).
    Rows are normalized (positive row scaling does not change separability) and the bounded
    max-margin LP :math:`\max_{w,s} s` s.t. :math:`Gw\ge s`, :math:`\|w\|_\infty\le1`,
    :math:`s\le1` is solved by HiGHS. It is always feasible and bounded, so near-degenerate
    configurations cannot be misreported as infeasible (the plain feasibility form
    :math:`Gw\ge1` needs :math:`\|w\|\sim1/\text{margin}` and loses separable cases to the
    solver's tolerances). "Separable" requires :math:`s^* > 10^{-9}` and is verified exactly:
    :math:`\min_i g_i\cdot w > 0`.
    """
    m, n = G.shape
    norms = np.linalg.norm(G, axis=1)
    Gn = G / np.where(norms > 0, norms, 1.0)[:, None]
    c = np.zeros(n + 1)
    c[-1] = -1.0
    A = np.concatenate([-Gn, np.ones((m, 1))], axis=1)  # s - g.w <= 0
    bounds = [(-1.0, 1.0)] * n + [(None, 1.0)]
    res = linprog(c, A_ub=A, b_ub=np.zeros(m), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"separability LP failed ({res.message}); shape {G.shape}")
    if res.x[-1] <= 1e-9:
        return False
    return bool(np.min(Gn @ res.x[:-1]) > 0)


def _critical_dim(Z, d, n_min, n_max, bias):
    """Smallest n in [n_min, n_max] with separable projected data; inf if none."""
    def sep(n):
        G = d[:, None] * Z[:, :n]
        if bias:
            G = np.concatenate([G, d[:, None]], axis=1)
        return is_separable(G)

    if not sep(n_max):
        return np.inf
    if sep(n_min):
        return float(n_min)
    lo, hi = n_min, n_max  # sep(lo) False, sep(hi) True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sep(mid):
            hi = mid
        else:
            lo = mid
    return float(hi)


def _crossing(n, p):
    """Linear interpolation of the first crossing of 1/2 by the non-decreasing curve p(n)."""
    above = np.flatnonzero(p >= 0.5)
    if above.size == 0:
        return np.inf
    j = above[0]
    if j == 0:
        return float(n[0])
    return float(n[j - 1] + (0.5 - p[j - 1]) / (p[j] - p[j - 1]))


def _nc_from_trials(nstar, n):
    p = np.mean(nstar[None, :] <= n[:, None], axis=1)
    return _crossing(n, p), p


@key_first(1)
@float64
def simulated_capacity(key, X, *, n_rep: int = 100, ensemble: str = "balanced", labels=None,
                       bias: bool = False, center: bool = False, n_min: int = 1,
                       n_max: int | None = None, n_boot: int = 1000) -> SimulatedCapacity:
    r"""Simulated capacity :math:`\alpha_\text{sim} = P/N_c` of manifolds ``X``
    (docs: Manifold capacity, "Simulated capacity").

    Args:
        X: manifolds, shape ``(P, M, N)`` (see :func:`as_manifolds`).
        key: JAX PRNG key (dichotomies, projections, bootstrap).
        n_rep: number of trials (dichotomy + nested projection); ``>= 100`` is recommended.
        ensemble, labels: dichotomy ensemble (:func:`~lazyrich.geometry.draw_dichotomies`):
            ``"balanced"`` (default), ``"iid"``, ``"one_vs_rest"`` or ``"fixed"`` with
            ``labels`` of shape ``(P,)``.
        bias: separate with a bias term (as the SVM of the Chung lab's reference code) instead
            of the homogeneous, theoretical definition (default). For points, bias shifts
            :math:`N_c` from :math:`P/2` to :math:`P/2-1` (the constant coordinate is one more
            dimension in Cover's count, :func:`lazyrich.theory.cover_separability`). Compare
            with :func:`mean_field_capacity` only with ``bias=False``.
        center: subtract the global mean first.
        n_min, n_max: bracket of projection dimensions, ``1 <= n_min <= n_max <= N``. Default
            ``n_max = min(N, P*M)`` (a safe data-independent bracket: at ``n >= P*M`` generic
            points are separable).
        n_boot: bootstrap resamples for ``capacity_ci`` (0: no interval, ``(nan, nan)``).

    Computes in float64 whatever the global precision.

    Returns:
        :class:`SimulatedCapacity` with the whole curve :math:`\hat p(n)`.
    """
    check_key(key)
    A = as_manifolds(X, center=center)
    P, M, N = A.shape
    check_ensemble(ensemble, labels, P)
    if isinstance(n_rep, bool) or not isinstance(n_rep, int | np.integer) or n_rep < 1:
        raise ValueError(f"n_rep must be a positive integer, got {n_rep!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0 (0: no bootstrap interval), got "
                         f"{n_boot!r}")
    if n_max is None:
        n_max = min(N, P * M)
    for nm, v in (("n_min", n_min), ("n_max", n_max)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool):
            raise ValueError(f"{nm} must be an integer projection dimension, got {v!r}")
    if not 1 <= n_min <= n_max <= N:
        raise ValueError(f"projection dimensions must satisfy 1 <= n_min <= n_max <= N = {N}, "
                         f"got n_min = {n_min}, n_max = {n_max}")
    n_min, n_max = int(n_min), int(n_max)
    ky, kw, kb = jax.random.split(key, 3)
    Y = draw_dichotomies(ky, P, int(n_rep), ensemble, labels)
    flat = A.reshape(P * M, N)
    nstar = np.empty(int(n_rep))
    for k, kk in enumerate(jax.random.split(kw, int(n_rep))):
        Z = flat @ np.asarray(_projection(kk, n_max, N)).T  # (PM, n_max), nested in n
        nstar[k] = _critical_dim(Z, np.repeat(Y[k], M), n_min, n_max, bias)
    n = np.arange(n_min, n_max + 1)
    nc, p = _nc_from_trials(nstar, n)
    censored = float(np.mean(np.isinf(nstar)))
    if censored >= 0.5:
        warnings.warn(f"{censored:.0%} of trials are not separable at n_max = {n_max}: only "
                      f"capacity < P/n_max = {P / n_max:.4g} is known", RuntimeWarning,
                      stacklevel=2)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(kb)).ravel())
    boot = np.array([P / _nc_from_trials(nstar[rng.integers(0, n_rep, n_rep)], n)[0]
                     for _ in range(int(n_boot))])
    ci = (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))) if n_boot else (
        np.nan, np.nan)
    options = dict(n_rep=int(n_rep), ensemble=ensemble, bias=bool(bias), center=bool(center),
                   n_min=n_min, n_max=n_max, method="nested_projection_critical_dim",
                   separability="LP (HiGHS), homogeneous" + (" + bias" if bias else ""))
    return SimulatedCapacity(capacity=float(P / nc), critical_dim=float(nc), capacity_ci=ci, n=n,
                             separability=p, trial_critical_dims=nstar,
                             censored_fraction=censored, options=options)
