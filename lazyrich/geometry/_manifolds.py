r"""Manifold data: validation of the ``(P, M, N)`` layout, converters, synthetic manifolds.

Layout and options as in docs: Manifold capacity, "Setting"; synthetic manifolds with known
capacity (points: Cover 1965; spheres: the ball formula of Chung, Lee & Sompolinsky 2018).

The canonical layout is an array ``X`` of shape ``(P, M, N)``: ``P`` manifolds (classes), ``M``
points each, ``N`` features. Both capacity estimators validate their input with
:func:`as_manifolds`, so every bad input gets the same clear error.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._deprecation import key_first

# A manifold whose points are all equal to within this fraction of the data scale has no
# extent: its "variance" is round-off.
_ZERO_VAR_RTOL = 1e-12


def float64(fn):
    """Run ``fn`` with ``jax_enable_x64`` on (restored afterwards): capacity estimators compute in
    float64 whatever the global precision, and their JAX random draws are then the same bits
    either way."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return wrapped


def check_key(key, name: str = "key") -> None:
    """Refuse anything but a JAX PRNG key (a typed ``jax.random.key`` or a raw ``uint32[2]``
    ``jax.random.PRNGKey``), naming the argument."""
    dt = getattr(key, "dtype", None)
    ok = dt is not None and (jax.dtypes.issubdtype(dt, jax.dtypes.prng_key)
                             or (dt == np.uint32 and np.shape(key) == (2,)))
    if not ok:
        raise TypeError(f"{name} must be a JAX PRNG key such as jax.random.key(0), got {key!r}")


def as_manifolds(X, *, center: bool = False, name: str = "X") -> np.ndarray:
    r"""Validate manifold data and return it as a float64 NumPy array ``(P, M, N)``.

    Args:
        X: array-like of shape ``(P, M, N)`` (a list of ``P`` arrays ``(M, N)`` of equal shape is
            accepted).
        center: subtract the global mean over all :math:`P\cdot M` points.
        name: the argument's name in error messages.

    Raises:
        ValueError: ragged input (manifolds of different sizes), wrong number of dimensions,
            fewer than 2 manifolds, ``M < 1``, ``N < 1``, NaN/inf, a manifold that is the origin
            (never separable by a homogeneous hyperplane), or a manifold with ``M >= 2`` points
            that all coincide (zero variance: pass it with ``M = 1`` if a point manifold is meant).
        TypeError: non-numeric input.
    """
    if isinstance(X, list | tuple):
        shapes = {np.shape(x) for x in X}
        if len(shapes) > 1:
            raise ValueError(
                f"{name} is ragged: its manifolds have different shapes {sorted(shapes)}; all "
                "manifolds must have the same number of points M and features N (subsample to a "
                "common M, e.g. lazyrich.geometry.manifolds_from_labels)")
    try:
        A = np.asarray(X)
    except ValueError as e:  # NumPy refuses inhomogeneous nested sequences
        raise ValueError(f"{name} is ragged (inhomogeneous nested sequence); expected a "
                         f"rectangular array of shape (P, M, N): {e}") from None
    if A.dtype == object:
        raise ValueError(f"{name} is ragged or not numeric (object array); expected a rectangular "
                         "array of shape (P, M, N)")
    if not (np.issubdtype(A.dtype, np.floating) or np.issubdtype(A.dtype, np.integer)
            or A.dtype == bool):
        raise TypeError(f"{name} must be a real numeric array of shape (P, M, N), got dtype "
                        f"{A.dtype}")
    if A.ndim != 3:
        raise ValueError(f"{name} must be 3-D with shape (P manifolds, M points, N features), got "
                         f"shape {A.shape}")
    P, M, N = A.shape
    if P < 2:
        raise ValueError(f"{name} must hold at least 2 manifolds (P >= 2) for a dichotomy, got "
                         f"P = {P} (shape {A.shape})")
    if M < 1:
        raise ValueError(f"{name} must hold at least 1 point per manifold (M >= 1), got M = {M}")
    if N < 1:
        raise ValueError(f"{name} must have at least 1 feature (N >= 1), got N = {N}")
    A = A.astype(np.float64)
    if not np.all(np.isfinite(A)):
        bad = int(A.size - np.count_nonzero(np.isfinite(A)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    if center:
        A = A - A.reshape(P * M, N).mean(axis=0)
    scale = float(np.max(np.abs(A)))
    if scale == 0.0:
        raise ValueError(f"{name} is identically zero{' after centering' if center else ''}: "
                         "no dichotomy is separable and capacity is undefined")
    norms = np.max(np.abs(A), axis=(1, 2))
    zero = np.flatnonzero(norms <= _ZERO_VAR_RTOL * scale)
    if zero.size:
        raise ValueError(f"manifold(s) {zero.tolist()} of {name} are the origin"
                         f"{' after centering' if center else ''}: a point at 0 is never "
                         "separable by a homogeneous hyperplane")
    if M >= 2:
        spread = np.max(np.abs(A - A[:, :1]), axis=(1, 2))
        flat = np.flatnonzero(spread <= _ZERO_VAR_RTOL * scale)
        if flat.size:
            raise ValueError(
                f"manifold(s) {flat.tolist()} of {name} have zero variance (all M = {M} points "
                "coincide): the anchor geometry is undefined. If point manifolds are intended, "
                "pass them with M = 1")
    return A


def manifolds_from_lab_list(Xs) -> np.ndarray:
    """Convert the lab's layout (a list of ``P`` arrays of shape ``(N, M)``) to ``(P, M, N)``."""
    return as_manifolds([np.asarray(x).T for x in Xs], name="Xs")


@key_first(3)
def manifolds_from_labels(key, features, labels, M: int) -> np.ndarray:
    """Balanced subsample of ``M`` points per class from ``(n, N)`` features and ``(n,)`` labels.

    Classes are sorted by label value; each class with fewer than ``M`` points is an error.
    Returns ``(P, M, N)`` float64 (Chou et al. 2025 use M = 50 per class).
    """
    F = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if F.ndim != 2 or y.shape != (F.shape[0],):
        raise ValueError(f"features must be (n, N) and labels (n,), got {F.shape} and {y.shape}")
    classes = np.unique(y)
    keys = jax.random.split(key, len(classes))
    out = []
    for c, k in zip(classes, keys, strict=True):
        idx = np.flatnonzero(y == c)
        if idx.size < M:
            raise ValueError(f"class {c!r} has {idx.size} points, fewer than M = {M}")
        pick = np.asarray(jax.random.choice(k, idx.size, (M,), replace=False))
        out.append(F[idx[pick]])
    return as_manifolds(np.stack(out), name="features")


def _frames(key, P, N, k, dtype):
    """``P`` independent random orthonormal ``k``-frames in ``R^N``: shape ``(P, k, N)``."""
    G = jax.random.normal(key, (P, N, k), dtype=dtype)
    Q, _ = jnp.linalg.qr(G)
    return jnp.swapaxes(Q, 1, 2)


def _check_counts(**counts):
    for nm, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{nm} must be a positive integer, got {v!r}")


def _check_synth(key, P, M, N, D, R):
    check_key(key)
    _check_counts(P=P, M=M, N=N, D=D)
    if N < D + 1:
        raise ValueError(f"N = {N} must be at least D + 1 = {D + 1} (center plus D axes)")
    if isinstance(R, bool) or not isinstance(R, int | float | np.number) or not np.isfinite(R) \
            or R < 0:
        raise ValueError(f"R must be finite and >= 0, got {R!r}")


@float64
def sphere_manifolds(key, P: int, M: int, N: int, D: int, R: float, *,
                     dtype=jnp.float64) -> jax.Array:
    r"""``P`` manifolds of ``M`` points uniform on a ``D``-sphere of radius ``R``.

    Manifold :math:`\mu`: :math:`x_{\mu k} = u^0_\mu + R\sum_{j=1}^D s_{jk}u^j_\mu` with
    :math:`(u^0_\mu, u^1_\mu, \dots, u^D_\mu)` a random orthonormal frame (unit-norm center
    orthogonal to its axes, as in the ball theory of Chung, Lee & Sompolinsky 2018;
    docs: Manifold capacity, "Classical formulas") and :math:`s_k` uniform on the unit sphere
    :math:`S^{D-1}`. Frames of different manifolds are independent, so centers and axes
    are uncorrelated across manifolds up to :math:`O(N^{-1/2})`. As :math:`M\to\infty` the
    convex hull fills the ball, whose capacity is :func:`lazyrich.theory.ball_capacity`.

    Returns:
        Array ``(P, M, N)``.
    """
    _check_synth(key, P, M, N, D, R)
    kf, ks = jax.random.split(key)
    F = _frames(kf, P, N, D + 1, dtype)  # (P, D+1, N)
    s = jax.random.normal(ks, (P, M, D), dtype=dtype)
    s = s / jnp.linalg.norm(s, axis=-1, keepdims=True)
    return F[:, :1, :] + R * jnp.einsum("pmd,pdn->pmn", s, F[:, 1:, :])


@float64
def gaussian_clouds(key, P: int, M: int, N: int, D: int, R: float, *,
                    dtype=jnp.float64) -> jax.Array:
    r"""``P`` Gaussian clouds: unit-norm center plus a ``D``-dim isotropic cloud, RMS radius ``R``.

    :math:`x_{\mu k} = u^0_\mu + (R/\sqrt D)\sum_{j=1}^D z_{jk}u^j_\mu`, :math:`z\sim N(0,1)`,
    with a random orthonormal frame per manifold, so :math:`\mathbb E\|x-u^0\|^2 = R^2`.

    Returns:
        Array ``(P, M, N)``.
    """
    _check_synth(key, P, M, N, D, R)
    kf, kz = jax.random.split(key)
    F = _frames(kf, P, N, D + 1, dtype)
    z = jax.random.normal(kz, (P, M, D), dtype=dtype)
    return F[:, :1, :] + (R / np.sqrt(D)) * jnp.einsum("pmd,pdn->pmn", z, F[:, 1:, :])


@float64
def point_manifolds(key, P: int, N: int, *, orthonormal: bool = False,
                    dtype=jnp.float64) -> jax.Array:
    """``P`` unit-norm Gaussian points as ``P`` manifolds of ``M = 1`` point: shape ``(P, 1, N)``.

    With ``orthonormal=True`` (needs ``N >= P``) the points are exactly orthonormal; Gaussian
    projections of them are then i.i.d. Gaussian, for which Cover's formula is exact
    (:func:`lazyrich.theory.cover_separability`).
    """
    check_key(key)
    _check_counts(P=P, N=N)
    if orthonormal:
        if N < P:
            raise ValueError(f"orthonormal points need N >= P, got N = {N}, P = {P}")
        Q, _ = jnp.linalg.qr(jax.random.normal(key, (N, P), dtype=dtype))
        return Q.T[:, None, :]
    x = jax.random.normal(key, (P, N), dtype=dtype)
    return (x / jnp.linalg.norm(x, axis=-1, keepdims=True))[:, None, :]
