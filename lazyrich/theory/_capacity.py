r"""Classical capacity formulas used as ground truth for the capacity estimators.

Cover 1965 / Wendel 1962 (separability of points), Gardner 1988 (capacity at a margin) and the
:math:`L_2` ball of Chung, Lee & Sompolinsky 2018
(docs: Manifold capacity, "Classical formulas"); checked by the claims
``capacity/C1-points-mean-field``, ``capacity/C2-cover-curve`` and ``capacity/C4-ball-formula``.

All functions are host-side (NumPy/SciPy, float64): they are references, not simulators.
"""

import numpy as np
from scipy import integrate, special, stats

from lazyrich._checks import require_broadcastable, require_real


def _real(name: str, x) -> np.ndarray:
    """``x`` as a float64 array after a TypeError for non-real input (complex, bool, str)."""
    require_real(name, x)
    return np.asarray(x, dtype=np.float64)


def _broadcast(**named) -> list[np.ndarray]:
    require_broadcastable("", **named)
    return np.broadcast_arrays(*named.values())


def _require_dimension(name: str, D: np.ndarray) -> None:
    if not np.all(np.isfinite(D)) or np.any(D < 1) or np.any(np.floor(D) != D):
        raise ValueError(f"{name} must be a positive integer (finite, >= 1), got {D!r}")


def cover_separability(P: int, n, *, bias: bool = False) -> np.ndarray:
    r"""Probability that a dichotomy of ``P`` points in general position is linearly separable.

    Cover (1965) / Wendel (1962), homogeneous separation in ``n`` dimensions:

    .. math:: p(n) = 2^{1-P}\sum_{k=0}^{n-1}\binom{P-1}{k}
              = \mathrm{BinomCDF}(n-1;\ P-1,\ \tfrac12),

    the same for *every* dichotomy. With a bias term the constant coordinate is one extra
    dimension: :math:`p_\text{bias}(n) = p(n+1)`. For even ``P``, :math:`p(P/2) = 1/2`, so the
    critical dimension is :math:`P/2` and the capacity :math:`P/N_c = 2`
    (docs: Manifold capacity, "Simulated capacity").

    Args:
        P: number of points (``>= 1``).
        n: projection dimension(s), integers ``>= 0``.
        bias: separation with a bias term (affine hyperplanes).
    """
    p = np.asarray(P) if not isinstance(P, str) else None
    if (p is None or p.ndim != 0 or not np.issubdtype(p.dtype, np.number)
            or np.iscomplexobj(p) or not np.isfinite(p) or p < 1 or np.floor(p) != p):
        raise ValueError(f"P must be a positive integer, got {P!r}")
    n = _real("n", n)
    if not np.all(np.isfinite(n)) or np.any(n < 0) or np.any(np.floor(n) != n):
        raise ValueError(f"n must be non-negative integers, got {n!r}")
    m = n + (1 if bias else 0)
    return np.where(m >= 1, stats.binom.cdf(m - 1, int(P) - 1, 0.5), 0.0)


def gardner_capacity(kappa=0.0) -> np.ndarray:
    r"""Gardner's capacity of points at margin :math:`\kappa` (Gardner 1988;
    docs: Manifold capacity, "Classical formulas").

    .. math:: \alpha_0(\kappa)^{-1} = \int_{-\kappa}^{\infty} Dt\,(t+\kappa)^2
              = (1+\kappa^2)\,\Phi(\kappa) + \kappa\,\phi(\kappa),

    so :math:`\alpha_0(0) = 2` (Cover) and :math:`\alpha_0(1) = 0.5196`.
    """
    k = _real("kappa", kappa)
    if not np.all(np.isfinite(k)):
        raise ValueError(f"kappa must be finite, got {kappa!r}")
    return 1.0 / ((1.0 + k**2) * special.ndtr(k) + k * stats.norm.pdf(k))


def _gauss_moments(a, b):
    """(∫_a^b Dt, ∫_a^b t Dt, ∫_a^b t² Dt) for the standard normal measure Dt."""
    pa = 0.0 if np.isinf(a) else stats.norm.pdf(a)
    pb = 0.0 if np.isinf(b) else stats.norm.pdf(b)
    m0 = special.ndtr(b) - special.ndtr(a)
    m1 = pa - pb
    m2 = m0 + (0.0 if np.isinf(a) else a * pa) - (0.0 if np.isinf(b) else b * pb)
    return m0, m1, m2


def _sq_moment(a, b, c):
    """∫_a^b Dt (c - t)²."""
    m0, m1, m2 = _gauss_moments(a, b)
    return c * c * m0 - 2.0 * c * m1 + m2


def _ball_inverse(R: float, D: int, kappa: float) -> float:
    def inner(r):
        lo = kappa - r / R
        touching = _sq_moment(lo, kappa + R * r, kappa + R * r) / (1.0 + R * R)
        embedded = _sq_moment(-np.inf, lo, kappa) + r * r * special.ndtr(lo)
        return (touching + embedded) * stats.chi.pdf(r, D)

    hi = stats.chi.ppf(1.0 - 1e-16, D)
    val, _ = integrate.quad(inner, 0.0, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    return val


def ball_capacity(R, D, kappa=0.0) -> np.ndarray:
    r"""Mean-field capacity of :math:`L_2` balls of radius ``R`` in ``D`` dims (Chung, Lee &
    Sompolinsky 2018; docs: Manifold capacity, "Classical formulas").

    Center norm 1, margin :math:`\kappa`; with :math:`r\sim\chi_D` and :math:`t_0\sim N(0,1)`,

    .. math::
        \alpha_B^{-1} = \mathbb E_r\Big[\int_{\kappa-r/R}^{\kappa+Rr} Dt_0\,
            \frac{(\kappa + Rr - t_0)^2}{1+R^2}
          + \int_{-\infty}^{\kappa-r/R} Dt_0\,\big((\kappa-t_0)^2 + r^2\big)\Big].

    The inner integrals are Gaussian moments in closed form; the outer expectation is adaptive
    quadrature (absolute error ~1e-12). Limits: :math:`R\to0`: :math:`\alpha_0(\kappa)`
    (2 at :math:`\kappa=0`); :math:`R\to\infty`: :math:`1/(D+\frac12)` at :math:`\kappa=0`;
    large ``D``: :func:`ball_capacity_large_dim`. Values: :math:`\alpha_B(1,5)=1/3`,
    :math:`\alpha_B(2,5)=0.2344`, :math:`\alpha_B(1,20)=0.0952` (claim C4).

    Args:
        R: radius (``> 0``), scalar or array. D: dimension (positive integer), scalar or array.
        kappa: margin (finite).

    Returns:
        :math:`\alpha_B` broadcast over ``R``, ``D``, ``kappa``.
    """
    R, D, kappa = _broadcast(R=_real("R", R), D=_real("D", D), kappa=_real("kappa", kappa))
    if not np.all(np.isfinite(R)) or np.any(R <= 0):
        raise ValueError(f"R must be finite and > 0, got {R!r}")
    _require_dimension("D", D)
    if not np.all(np.isfinite(kappa)):
        raise ValueError(f"kappa must be finite, got {kappa!r}")
    out = np.empty(R.shape, dtype=np.float64)
    for idx in np.ndindex(R.shape):
        out[idx] = 1.0 / _ball_inverse(float(R[idx]), int(D[idx]), float(kappa[idx]))
    return out if out.ndim else out[()]


def ball_capacity_large_dim(R, D) -> np.ndarray:
    r"""Large-``D`` limit of the ball capacity at zero margin (Chung, Lee & Sompolinsky 2018):

    .. math:: \alpha_B(R, D) \approx (1+R^2)\,\alpha_0(R\sqrt D)
              \;\to\; \frac{1+R^{-2}}{D}\quad (R\sqrt D\gg1).

    ``R`` finite and ≥ 0 (R = 0 is the point capacity :math:`\alpha_0(0) = 2`), ``D`` a positive
    integer; they broadcast.
    """
    R, D = _broadcast(R=_real("R", R), D=_real("D", D))
    if not np.all(np.isfinite(R)) or np.any(R < 0):
        raise ValueError(f"R must be finite and >= 0, got {R!r}")
    _require_dimension("D", D)
    return (1.0 + R**2) * gardner_capacity(R * np.sqrt(D))
