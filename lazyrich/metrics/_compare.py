r"""Comparison metrics for richness (spec: richness-metric.md §4).

These are the quantities D_LR is compared against: kernel distance from initialisation
(Fort et al. 2020), parameter norm and change (Chizat et al. 2019; Geiger et al. 2020),
kernel–target alignment (Cristianini et al. 2002; centred: Cortes et al. 2012), linear CKA
(Kornblith et al. 2019), representation change and ReLU activation-pattern stability.
Feature-space forms cost :math:`O(np^2)` and never build an :math:`n\times n` matrix.
"""

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import require_finite, require_ndim
from lazyrich.theory import kernel_distance

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


def kernel_alignment(K, targets, *, centered: bool = False) -> float:
    r"""Kernel–target alignment :math:`\langle K, YY^\top\rangle_F/(\|K\|_F\|YY^\top\|_F)`.

    ``K`` is an :math:`n\times n` kernel (e.g. an empirical NTK), ``targets`` ``(n,)`` or ``(n, C)``
    (one-hot for classes). ``centered=True`` double-centres both (Cortes et al. 2012); on the
    feature kernel that equals ``linear_cka(phi, Y)``, the labelled twin of D_LR (§2.4).
    Computed as ``1 - theory.kernel_distance(K, YYᵀ)``.
    """
    require_ndim("K", K, 2, "an (n, n) kernel")
    n = np.shape(K)[0]
    if np.shape(K) != (n, n):
        raise ValueError(f"K must be square (n, n), got {np.shape(K)}")
    Y = np.asarray(targets, np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"targets must have shape ({n},) or ({n}, C) to match K, "
                         f"got {np.shape(targets)}")
    require_finite("K", K)
    require_finite("targets", Y)
    Kt = np.asarray(K, np.float64)
    T = Y @ Y.T
    if centered:
        Kt = Kt - Kt.mean(0, keepdims=True)
        Kt = Kt - Kt.mean(1, keepdims=True)
        Yc = Y - Y.mean(0, keepdims=True)
        T = Yc @ Yc.T
    if not (np.any(Kt) and np.any(T)):
        raise ValueError("kernel or target Gram is zero (after centring): alignment is undefined")
    with jax.enable_x64(True):
        return float(1.0 - kernel_distance(jnp.asarray(Kt), jnp.asarray(T)))


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
