r"""Comparison metrics for richness (Nam et al. 2026; docs: Richness).

These are the quantities D_LR is compared against: kernel distance from initialisation
(Fort et al. 2020), parameter norm and change (Chizat et al. 2019; Geiger et al. 2020),
kernel–target alignment (Cristianini et al. 2002; centred: Cortes et al. 2012), linear CKA
(Kornblith et al. 2019), representation change and ReLU activation-pattern stability, and the
effective rank of a kernel's spectrum (participation ratio, spectral entropy).
Feature-space forms cost :math:`O(np^2)` and never build an :math:`n\times n` matrix.
Kernel alignment and effective ranks are traceable (they run inside compiled sweeps as metric
hooks, :mod:`lazyrich.metrics._hooks`) and validate their inputs when called eagerly.
"""

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import concrete, require_finite, require_ndim, require_real

from ._dlr import accumulate_stats, dlr_from_stats


def _pair(name_a, a, name_b, b):
    require_ndim(name_a, a, 2, "shape (n, p)")
    require_ndim(name_b, b, 2, "shape (n, q)")
    if np.shape(a)[0] != np.shape(b)[0]:
        raise ValueError(f"{name_a} and {name_b} must have the same number of samples, got "
                         f"{np.shape(a)[0]} and {np.shape(b)[0]}")
    require_finite(name_a, a)
    require_finite(name_b, b)


def linear_cka(X, Y) -> float:
    r"""Linear CKA (Kornblith et al. 2019), in :math:`[0,1]`:

    .. math:: \|\bar Y^\top\bar X\|_F^2/(\|\bar X^\top\bar X\|_F\|\bar Y^\top\bar Y\|_F).

    Streams float64 statistics (the same ones as :func:`~lazyrich.metrics.dlr`; in fact
    ``dlr(phi, f, "cka") = 1 - linear_cka(phi, f)``).
    """
    _pair("X", X, "Y", Y)
    s = accumulate_stats([(X, Y)])
    for name, c in (("X", s.c_pp), ("Y", s.c_ff)):
        if not np.any(np.asarray(c)):
            raise ValueError(f"{name} is constant over the samples: CKA is undefined")
    with jax.enable_x64(True):
        return float(1.0 - dlr_from_stats(s, "cka")[0])


def feature_kernel_distance(phi0, phi_t, *, centered: bool = False) -> float:
    r"""Distance :math:`S_{init}` of the feature kernel :math:`K = \Phi\Phi^\top` from its start.

    Uncentred (Fort et al. 2020, default):
    :math:`1 - \|\Phi_0^\top\Phi_t\|_F^2/(\|\Phi_0^\top\Phi_0\|_F\|\Phi_t^\top\Phi_t\|_F)`,
    identical to ``theory.kernel_distance(Φ₀Φ₀ᵀ, ΦₜΦₜᵀ)`` but in feature space.
    ``centered=True`` gives :math:`1-\mathrm{CKA}(\Phi_0,\Phi_t)`. 0 for lazy training
    (features frozen up to scale and rotation).
    """
    _pair("phi0", phi0, "phi_t", phi_t)
    if centered:
        return 1.0 - linear_cka(phi0, phi_t)
    a = np.asarray(phi0, np.float64)
    b = np.asarray(phi_t, np.float64)
    if not (np.any(a) and np.any(b)):
        raise ValueError("features are identically zero: the kernel distance is undefined")
    cross = a.T @ b
    return float(1.0 - np.sum(cross**2) / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)))


def _alignment_parts(K, Y, centered):
    r""":math:`(\langle K, YY^\top\rangle_F, \|K\|_F, \|YY^\top\|_F)` after optional centring
    (``jnp``, traceable; the one implementation behind :func:`kernel_alignment`)."""
    if centered:
        K = K - jnp.mean(K, axis=0, keepdims=True)
        K = K - jnp.mean(K, axis=1, keepdims=True)
        Y = Y - jnp.mean(Y, axis=0, keepdims=True)
    T = Y @ Y.T
    return jnp.sum(K * T), jnp.linalg.norm(K), jnp.linalg.norm(T)


def kernel_alignment(K, targets, *, centered: bool = False):
    r"""Kernel–target alignment (Cristianini et al. 2002), the cosine between K and the target
    Gram:

    .. math:: A = \frac{\langle K, YY^\top\rangle_F}{\|K\|_F\,\|YY^\top\|_F}\in[-1, 1].

    ``K`` is an :math:`n\times n` kernel (e.g. an empirical NTK), ``targets`` ``(n,)`` or ``(n, C)``
    (one-hot for classes). ``centered=True`` double-centres K and centres Y,
    :math:`K\to HKH`, :math:`Y\to HY`, :math:`H = I - \mathbf 1\mathbf 1^\top/n`
    (Cortes et al. 2012); on the feature kernel that equals ``linear_cka(phi, Y)``, the
    labelled twin of D_LR.

    One function for both uses. On concrete arrays it validates, computes in float64 and
    returns a ``float``; it refuses a kernel or target Gram that is zero, or zero to round-off
    after centring (e.g. constant targets), where A has no value. Under ``jit``/``vmap``
    (in-sweep hooks) only shapes are checked, the result is a traced scalar in K's dtype and a
    zero Gram gives NaN.
    """
    require_ndim("K", K, 2, "an (n, n) kernel")
    n = np.shape(K)[0]
    if np.shape(K) != (n, n):
        raise ValueError(f"K must be square (n, n), got {np.shape(K)}")
    if np.ndim(targets) not in (1, 2) or np.shape(targets)[0] != n:
        raise ValueError(f"targets must have shape ({n},) or ({n}, C) to match K, "
                         f"got {np.shape(targets)}")
    Kv, Yv = concrete(K), concrete(targets)
    if Kv is None or Yv is None:                    # traced: no value checks possible
        K = jnp.asarray(K)
        Y = jnp.asarray(targets).astype(K.dtype)
        Y = Y[:, None] if Y.ndim == 1 else Y
        inner, kn, tn = _alignment_parts(K, Y, centered)
        return jnp.clip(inner / (kn * tn), -1.0, 1.0)
    require_real("K", Kv)
    require_real("targets", Yv)
    require_finite("K", Kv)
    require_finite("targets", Yv)
    Y = Yv.astype(np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    with jax.enable_x64(True):
        Kj, Yj = jnp.asarray(Kv, jnp.float64), jnp.asarray(Y)
        inner, kn, tn = (float(v) for v in _alignment_parts(Kj, Yj, centered))
        k_scale, y_scale = float(jnp.linalg.norm(Kj)), float(jnp.linalg.norm(Yj))
    # Centring a constant kernel or constant targets leaves pure round-off, of relative size
    # ~ n eps; below that the cosine is noise. (‖YYᵀ‖_F ~ ‖Y‖_F², hence the square root.)
    tol = n * np.finfo(np.float64).eps
    for name, rel in (("K", kn / k_scale if k_scale else 0.0),
                      ("targets", np.sqrt(tn) / y_scale if y_scale else 0.0)):
        if not rel > tol:
            what = " after centring" if centered else ""
            raise ValueError(f"{name} is zero{what} to round-off (relative norm {rel:.2g} <= "
                             f"n*eps = {tol:.2g}): the kernel-target alignment is undefined")
    return float(np.clip(inner / (kn * tn), -1.0, 1.0))


def _spectrum(name, K):
    """Eigenvalues of the symmetric part of a square kernel, clipped at 0 (PSD round-off)."""
    require_ndim(name, K, 2, "an (n, n) kernel")
    if np.shape(K)[0] != np.shape(K)[1]:
        raise ValueError(f"{name} must be square (n, n), got {np.shape(K)}")
    require_finite(name, K)
    K = jnp.asarray(K)
    lam = jnp.clip(jnp.linalg.eigvalsh(0.5 * (K + K.T)), 0.0, None)
    total = concrete(jnp.sum(lam))
    if total is not None and not total > 0:
        raise ValueError(f"{name} has no positive eigenvalue: its effective rank is undefined")
    return lam


def participation_ratio(K):
    r"""Effective rank of a PSD kernel, the participation ratio

    .. math:: r_2 = \Big(\sum_i\lambda_i\Big)^2\Big/\sum_i\lambda_i^2\in[1, n].

    Traceable (a zero kernel gives NaN under ``jit``; refused with a ValueError eagerly)."""
    lam = _spectrum("K", K)
    return jnp.sum(lam) ** 2 / jnp.sum(lam**2)


def entropy_rank(K):
    r"""Effective rank of a PSD kernel from the spectral entropy,

    .. math:: r_H = \exp\Big(-\sum_i p_i\ln p_i\Big),\qquad p_i = \lambda_i\Big/\sum_j\lambda_j,

    with :math:`0\ln 0 = 0`; :math:`1\le r_H\le n`. Traceable, like :func:`participation_ratio`."""
    lam = _spectrum("K", K)
    p = lam / jnp.sum(lam)
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))


def param_norm(params) -> float:
    r""":math:`\|\theta\|^2 = \sum_\ell\|\theta_\ell\|_F^2` over every leaf (float64)."""
    return float(sum(np.sum(np.asarray(a, np.float64) ** 2) for a in jax.tree.leaves(params)))


def param_change(params, params0, *, relative: bool = True, per_layer: bool = False):
    r"""Parameter change :math:`\|\theta_t-\theta_0\|/\|\theta_0\|` (absolute: ``relative=False``).

    ``per_layer=True`` returns one value per top-level entry of the pytree (per layer for a list
    of layers), each relative to that layer's own initial norm.
    """
    if jax.tree.structure(params) != jax.tree.structure(params0):
        raise ValueError("params and params0 must have the same pytree structure")
    groups = list(zip(params, params0, strict=True)) if per_layer else [(params, params0)]
    out = []
    for p, p0 in groups:
        d = sum(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
                for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(p0), strict=True))
        if relative:
            n0 = param_norm(p0)
            if n0 == 0.0:
                raise ValueError("initial parameters are zero: use relative=False")
            out.append(float(np.sqrt(d / n0)))
        else:
            out.append(float(np.sqrt(d)))
    return out if per_layer else out[0]


def representation_change(phi0, phi_t) -> float:
    r"""Relative representation change :math:`\|\Phi_t-\Phi_0\|_F/\|\Phi_0\|_F` (same inputs)."""
    _pair("phi0", phi0, "phi_t", phi_t)
    if np.shape(phi0) != np.shape(phi_t):
        raise ValueError(f"phi0 and phi_t must have the same shape, got {np.shape(phi0)} and "
                         f"{np.shape(phi_t)}")
    a = np.asarray(phi0, np.float64)
    n0 = np.linalg.norm(a)
    if n0 == 0.0:
        raise ValueError("phi0 is identically zero: relative change undefined")
    return float(np.linalg.norm(np.asarray(phi_t, np.float64) - a) / n0)


def activation_stability(pre0, pre_t) -> float:
    r"""Fraction of (sample, unit) pairs whose ReLU gate :math:`\mathbb 1[h>0]` is unchanged.

    ``pre0`` and ``pre_t`` are pre-activations on the same inputs, shape ``(n, N)``. 1 in the lazy
    regime (the linearised model keeps every gate), lower when features are learned.
    """
    _pair("pre0", pre0, "pre_t", pre_t)
    if np.shape(pre0) != np.shape(pre_t):
        raise ValueError(f"pre0 and pre_t must have the same shape, got {np.shape(pre0)} and "
                         f"{np.shape(pre_t)}")
    return float(np.mean((np.asarray(pre0) > 0) == (np.asarray(pre_t) > 0)))
