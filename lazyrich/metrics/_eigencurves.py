r"""Eigen-curves of the feature operator: :math:`\Pi^*(k)`, :math:`\hat\Pi(k)`,
:math:`\rho_k/\rho_1` (Nam et al. 2026; docs: Richness).

Diagonalise the (optionally centred) feature second moment :math:`\Sigma = \bar\Phi^\top\bar\Phi/n
= V\,\mathrm{diag}(\rho)V^\top` on a fitting sample; the eigenfunctions are the Nyström
extensions :math:`e_k(x) = (\Phi(x)-\mu)^\top v_k/\sqrt{\rho_k}` (orthonormal on the fitting
sample: :math:`e_k^\top e_l/n = \delta_{kl}`). With :math:`B_{kc} = \langle e_k|f_c\rangle`,

.. math::
    \hat\Pi(k) = \frac{\sum_{i\le k}\sum_c\langle e_i|\hat f_c\rangle^2}
                      {\sum_c\|\hat f_c\|^2},\qquad
    \Pi^*(k) = \frac{\sum_{i\le k}\sum_c\langle e_i|f^*_c\rangle^2}{\sum_c\|f^*_c\|^2},\qquad
    Q^*(k) = \Pi^*(k) - \Pi^*(k-1).

A rich network saturates :math:`\hat\Pi` at :math:`k\approx C` (uncentred) or :math:`C-1`
(centred) with a spectral cliff after it; a lazy one rises slowly with a smooth spectrum.
"""

import dataclasses

import numpy as np

from lazyrich._checks import require_finite, require_ndim


@dataclasses.dataclass(frozen=True)
class EigenCurves:
    """Curves over the mode index ``k = 1..K`` (NumPy float64).

    Attributes:
        k: mode indices. rho: eigenvalues :math:`\\rho_k` (descending).
        rel_eig: :math:`\\rho_k/\\rho_1`.
        pi_hat: :math:`\\hat\\Pi(k)` (utilisation of the outputs).
        pi_star, q_star: :math:`\\Pi^*(k)`
        and :math:`Q^*(k)` for the targets, or ``None`` when no targets were given.
        center: whether features, outputs and targets were centred.
    """

    k: np.ndarray
    rho: np.ndarray
    rel_eig: np.ndarray
    pi_hat: np.ndarray
    pi_star: np.ndarray | None
    q_star: np.ndarray | None
    center: bool


def _as_2d(name, a, n):
    a = np.asarray(a)
    if a.ndim == 1 and np.issubdtype(a.dtype, np.integer):  # integer labels → one-hot
        if a.min(initial=0) < 0:
            raise ValueError(f"{name}: integer labels must be >= 0")
        a = np.eye(int(a.max()) + 1)[a]
    elif a.ndim == 1:
        a = a[:, None]
    require_ndim(name, a, 2, "shape (n, C), or integer labels (n,)")
    if a.shape[0] != n:
        raise ValueError(f"{name} must have {n} samples like features, got {a.shape[0]}")
    require_finite(name, a)
    return a.astype(np.float64)


def eigencurves(features, outputs, targets=None, *, center: bool = False, fit_features=None,
                k_max: int | None = None) -> EigenCurves:
    r"""Cumulative quality :math:`\Pi^*`, utilisation :math:`\hat\Pi` and relative eigenvalues.

    Args:
        features: :math:`\Phi`, ``(n, p)``, on the evaluation sample.
        outputs: :math:`\hat F`, ``(n, C)``, on the same sample.
        targets: optional :math:`f^*`, ``(n, C)`` or integer labels ``(n,)``.
        center: centre features (by the fitting mean), outputs and targets. Default ``False``, as
            in v1 of the paper (C dominant modes); D_LR itself is always centred.
        fit_features: sample on which the eigenbasis is fitted (default ``features``); needs
            more samples than features (Nyström). Evaluating on another sample gives
            out-of-sample curves (e.g. held-out :math:`\Pi^*`); off the fitting sample the
            eigenfunctions are not exactly orthonormal, so the curves are not capped at 1.
        k_max: number of modes to return (default: the numerical rank).
    """
    require_ndim("features", features, 2, "shape (n, p)")
    phi = np.asarray(features, np.float64)
    require_finite("features", phi)
    n = phi.shape[0]
    F = _as_2d("outputs", outputs, n)
    fit = phi if fit_features is None else np.asarray(fit_features, np.float64)
    require_ndim("fit_features", fit, 2, "shape (m, p)")
    if fit.shape[1] != phi.shape[1]:
        raise ValueError(f"fit_features must have p = {phi.shape[1]} columns, got {fit.shape[1]}")
    require_finite("fit_features", fit)
    mu = fit.mean(0) if center else np.zeros(fit.shape[1])
    sigma = (fit - mu).T @ (fit - mu) / fit.shape[0]
    rho, V = np.linalg.eigh(sigma)
    rho, V = rho[::-1], V[:, ::-1]
    if rho[0] <= 0:
        raise ValueError("features are constant (zero second moment): no eigenfunctions")
    rank = int(np.sum(rho > 1e-12 * rho[0]))
    K = rank if k_max is None else int(k_max)
    if not 1 <= K <= rank:
        raise ValueError(f"k_max must be in [1, {rank}] (the numerical rank of the features), "
                         f"got {k_max}")
    rho, V = rho[:K], V[:, :K]
    E = (phi - mu) @ V / np.sqrt(rho)[None, :]  # (n, K) eigenfunctions on the evaluation sample

    def cumulative(T):
        Tc = T - T.mean(0, keepdims=True) if center else T
        total = np.sum(Tc**2) / n
        if total == 0:
            raise ValueError("outputs/targets are zero (after centring): curves undefined")
        q = np.sum((E.T @ Tc / n) ** 2, axis=1) / total
        return np.cumsum(q), q

    pi_hat, _ = cumulative(F)
    pi_star = q_star = None
    if targets is not None:
        pi_star, q_star = cumulative(_as_2d("targets", targets, n))
    return EigenCurves(np.arange(1, K + 1), rho, rho / rho[0], pi_hat, pi_star, q_star, center)
