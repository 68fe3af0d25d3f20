r"""Neural collapse and its exact bridge to :math:`\mathcal D_{LR}` (Papyan et al. 2020;
Nam et al. 2026; docs: Richness).

With class means :math:`\mu_c`, global mean :math:`\mu` and class frequencies :math:`\pi_c`,

.. math::
    \Sigma_W = \sum_c\pi_c\,\mathbb E[(\Phi-\mu_c)(\Phi-\mu_c)^\top\mid c],\qquad
    \Sigma_B = \sum_c\pi_c(\mu_c-\mu)(\mu_c-\mu)^\top,\qquad \Sigma_T = \Sigma_B+\Sigma_W .

Everything is computed in float64 with NumPy (these are measurement, not training, functions).
"""

import dataclasses

import numpy as np

from lazyrich._checks import require_finite, require_ndim


@dataclasses.dataclass(frozen=True)
class ClassScatter:
    """Class statistics of features (float64). ``counts[c]`` samples of class ``classes[c]``."""

    classes: np.ndarray
    counts: np.ndarray
    means: np.ndarray  # (C, p) class means
    mean: np.ndarray  # (p,) global mean
    sigma_w: np.ndarray  # (p, p)
    sigma_b: np.ndarray  # (p, p)

    @property
    def num_classes(self) -> int:
        return int(self.classes.size)

    @property
    def sigma_t(self) -> np.ndarray:
        return self.sigma_w + self.sigma_b


def class_scatter(features, labels, num_classes: int | None = None) -> ClassScatter:
    r"""Within- and between-class scatter :math:`\Sigma_W, \Sigma_B` (frequency-weighted).

    Args:
        features: shape ``(n, p)``.
        labels: integer class labels, shape ``(n,)``.
        num_classes: if given, labels must lie in ``[0, num_classes)`` and every class must occur.

    Raises:
        ValueError: mismatched lengths, non-integer or out-of-range labels, fewer than two
            classes, fewer samples than classes, an empty class, or non-finite features.
    """
    require_ndim("features", features, 2, "shape (n, p)")
    require_ndim("labels", labels, 1, "integer class labels of shape (n,)")
    phi = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    n = phi.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"features and labels must have the same number of samples, got {n} "
                         f"and {y.shape[0]}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    require_finite("features", phi)
    if num_classes is not None:
        if n < num_classes:
            raise ValueError(f"fewer samples (n = {n}) than classes (num_classes = {num_classes})")
        if y.min(initial=0) < 0 or y.max(initial=0) >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got range "
                             f"[{y.min()}, {y.max()}]")
    classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    if num_classes is not None and classes.size != num_classes:
        missing = sorted(set(range(num_classes)) - set(classes.tolist()))
        raise ValueError(f"classes {missing[:10]} have no samples (num_classes = {num_classes})")
    C = classes.size
    if C < 2:
        raise ValueError(f"need at least 2 classes, got {C}")
    onehot = np.zeros((n, C))
    onehot[np.arange(n), inv] = 1.0
    means = (onehot.T @ phi) / counts[:, None]
    pi = counts / n
    mu = pi @ means
    within = phi - means[inv]  # subtract class means: no cancellation against the total
    sigma_w = within.T @ within / n
    dm = means - mu[None, :]
    sigma_b = (dm * pi[:, None]).T @ dm
    return ClassScatter(classes, counts, means, mu, sigma_w, sigma_b)


def nc1(features, labels, num_classes: int | None = None) -> float:
    r"""NC1 of Papyan, Han & Donoho (2020), :math:`\mathrm{tr}(\Sigma_W\Sigma_B^\dagger)/C`.

    Stable computation: the pseudo-inverse of :math:`\Sigma_B` is taken on its top
    :math:`\min(C-1, p)` eigenpairs only (its rank is at most :math:`C-1`), dropping any of those
    below :math:`10^{-12}` of the largest, in float64. A default-tolerance ``pinv`` in float32
    inverts round-off directions and returns :math:`10^6`-size values.

    0 iff :math:`\mathrm{range}\,\Sigma_W\perp\mathrm{range}\,\Sigma_B` (weak NC1, not
    :math:`\Sigma_W = 0`). Unbounded above; not scale-free across datasets.
    """
    s = class_scatter(features, labels, num_classes)
    lam, V = np.linalg.eigh(s.sigma_b)
    k = min(s.num_classes - 1, lam.size)
    lam, V = lam[-k:], V[:, -k:]
    keep = lam > 1e-12 * lam[-1]
    if lam[-1] <= 0.0:
        raise ValueError("all class means coincide (Sigma_B = 0): NC1 is undefined")
    lam, V = lam[keep], V[:, keep]
    quad = np.einsum("pi,pq,qi->i", V, s.sigma_w, V)
    return float(np.sum(quad / lam) / s.num_classes)


def dlr_labels(features, labels, num_classes: int | None = None) -> float:
    r"""Closed form of :math:`\mathcal D_{LR}` with the labels as outputs (docs: Richness):

    .. math::
        \mathcal D_{LR}(\hat f = y)
        = 1 - \frac{\mathrm{tr}\,\Sigma_B}{\sqrt{C-1}\,\|\Sigma_B+\Sigma_W\|_F}.

    Equals ``dlr(features, one_hot(labels), "projection")`` for balanced or unbalanced classes,
    and the ``"cka"`` variant too when classes are balanced (the centred one-hot Gram is then
    isotropic). A bounded, scale-free, pseudo-inverse-free counterpart of NC1/NC2.
    """
    s = class_scatter(features, labels, num_classes)
    st = s.sigma_t
    nt = np.sqrt(np.sum(st * st))
    if nt == 0.0:
        raise ValueError("features are constant over the samples: D_LR is undefined")
    return float(1.0 - np.trace(s.sigma_b) / (np.sqrt(s.num_classes - 1) * nt))


def nc_factors(features, labels, num_classes: int | None = None) -> dict:
    r"""The two factors of :math:`1-\mathcal D_{LR}(\hat f=y)` under weak NC1 (docs: Richness):

    .. math:: 1-\mathcal D = \sqrt{\frac{PR(\Sigma_B)}{C-1}}\cdot
              \Bigl(1+\frac{\|\Sigma_W\|_F^2}{\|\Sigma_B\|_F^2}\Bigr)^{-1/2},

    exact when :math:`\Sigma_W\Sigma_B = 0`. Returns ``{"etf": first factor (NC2, 1 for a
    simplex ETF), "within": second factor (Frobenius NC1, 1 when Σ_W = 0), "cross":
    ⟨Σ_W, Σ_B⟩_F/‖Σ_B‖_F² (0 under weak NC1; the factorisation holds only then)}``.
    """
    s = class_scatter(features, labels, num_classes)
    nb2 = np.sum(s.sigma_b**2)
    if nb2 == 0.0:
        raise ValueError("all class means coincide (Sigma_B = 0)")
    pr = np.trace(s.sigma_b) ** 2 / nb2
    return {"etf": float(np.sqrt(pr / (s.num_classes - 1))),
            "within": float(1.0 / np.sqrt(1.0 + np.sum(s.sigma_w**2) / nb2)),
            "cross": float(np.sum(s.sigma_w * s.sigma_b) / nb2)}


def etf_error(features, labels, num_classes: int | None = None) -> float:
    r"""NC2 distance of the centred class means from a simplex ETF (Papyan et al. 2020):

    :math:`\bigl\|\frac{\bar M\bar M^\top}{\|\bar M\bar M^\top\|_F} - \frac{I_C - 11^\top/C}
    {\|I_C - 11^\top/C\|_F}\bigr\|_F`, with :math:`\bar M` the class means minus their
    *unweighted* average. 0 for a simplex ETF (any scale, rotation, shift).
    """
    s = class_scatter(features, labels, num_classes)
    M = s.means - s.means.mean(axis=0, keepdims=True)
    G = M @ M.T
    C = s.num_classes
    E = np.eye(C) - np.ones((C, C)) / C
    return float(np.linalg.norm(G / np.linalg.norm(G) - E / np.linalg.norm(E)))
