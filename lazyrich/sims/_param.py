r"""Parametrisations of the γ-scaled centred network and the normalised learning rate.

Atanasov et al. 2025; docs: Conventions, "Parametrisations"; docs: Gamma scaling.

The default (``"mup"``, the convention of Atanasov et al. 2025 and their code) is the centred
μP network

.. math::
    f(x;\theta) = \frac{g(x;\theta) - g(x;\theta_0)}{\gamma},\qquad
    \theta \leftarrow \theta - N\eta\,\nabla_\theta \ell,

with all weights :math:`\mathcal N(0,1)`, hidden multipliers :math:`1/\sqrt{\text{fan-in}}` and
readout multiplier :math:`1/N`. The other conventions (Bordelon & Pehlevan 2022: DMFT; Jacot
et al. 2018: NTK; Chizat et al. 2019: lazy training) are the same dynamics written with other
variables; each is implemented natively (its own output scale, readout multiplier,
loss prefactor and step) so that the maps below are *tested*, not assumed:

======  ===========================================  ===============================================
name    native variables and update                  map to the μP (γ, η)
======  ===========================================  ===============================================
mup     :math:`(g-g_0)/\gamma`, step :math:`N\eta`   identity
dmft    same output with :math:`\gamma_0`, step
        :math:`N\eta_0\gamma_0^2`                    :math:`\gamma=\gamma_0,\ \eta=\eta_0\gamma_0^2`
ntk     readout :math:`1/\sqrt N`, output divided
        by :math:`\gamma_{NTK}`, step :math:`N\eta`  :math:`\gamma=\gamma_{NTK}/\sqrt N`, same η
chizat  :math:`\alpha(g-g_0)`, objective
        :math:`\alpha^{-2}\ell`, step :math:`\tau`   :math:`\gamma=1/\alpha,\ \eta=\tau/(N\alpha^2)`
======  ===========================================  ===============================================
"""

import math

import numpy as np

PARAMETRIZATIONS = ("mup", "dmft", "ntk", "chizat")


def native(parametrization: str, a, b, width: int) -> tuple:
    r"""The convention's native numbers for its own variables ``(a, b)``.

    ``(a, b)`` is (γ, η) for ``mup``, (γ₀, η₀) for ``dmft``, (γ_NTK, η) for ``ntk`` and
    (α, τ) for ``chizat``. Returns ``(out_scale, loss_scale, base_lr)``: the network output is
    ``out_scale * (g(θ) - g(θ₀))`` (with the readout of :func:`readout`), the objective is
    ``loss_scale * ℓ`` and the actual SGD step is ``width * base_lr`` (the model's μP
    per-layer multipliers supply the factor ``width``). Works on traced values; no checks.
    """
    if parametrization == "mup":
        return 1.0 / a, 1.0, b
    if parametrization == "dmft":
        return 1.0 / a, 1.0, b * a * a
    if parametrization == "ntk":
        return 1.0 / a, 1.0, b
    if parametrization == "chizat":
        return a, 1.0 / (a * a), b / width
    raise ValueError(f"unknown parametrization {parametrization!r}; "
                     f"expected one of {PARAMETRIZATIONS}")


def readout(parametrization: str) -> str:
    """The readout multiplier a convention uses: ``"ntk"`` (1/√N) or ``"mup"`` (1/N)."""
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {parametrization!r}; expected one of "
                         f"{PARAMETRIZATIONS}")
    return "ntk" if parametrization == "ntk" else "mup"


def to_mup(parametrization: str, a, b, width: int) -> tuple[float, float]:
    r"""Map a convention's variables ``(a, b)`` to the μP (γ, η) (docs: Conventions)."""
    _check(parametrization, a, b, width)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if parametrization == "mup":
        return a, b
    if parametrization == "dmft":
        return a, b * a**2
    if parametrization == "ntk":
        return a / math.sqrt(width), b
    return 1.0 / a, b / (width * a**2)


def from_mup(parametrization: str, gamma, eta, width: int) -> tuple[float, float]:
    r"""Inverse of :func:`to_mup`: the convention's variables for a μP (γ, η)."""
    _check(parametrization, gamma, eta, width)
    g, e = np.asarray(gamma, dtype=np.float64), np.asarray(eta, dtype=np.float64)
    if parametrization == "mup":
        return g, e
    if parametrization == "dmft":
        return g, e / g**2
    if parametrization == "ntk":
        return g * math.sqrt(width), e
    return 1.0 / g, e * width / g**2


def _check(parametrization, a, b, width):
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"unknown parametrization {parametrization!r}; expected one of "
                         f"{PARAMETRIZATIONS}")
    if not isinstance(width, int | np.integer) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    for name, v in (("first variable (γ, γ₀, γ_NTK or α)", a), ("step variable (η, η₀ or τ)", b)):
        v = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name} must be finite and > 0, got {v}")


def eta_scale(gamma, depth: int, kind: str = "smooth"):
    r"""The learning-rate scale :math:`s(\gamma)` that η* and the divergence edge follow
    (:math:`\gamma^2` lazy, :math:`\gamma^{2/L}` ultra-rich, Atanasov et al. 2025), interpolated
    by lazyrich (docs: Gamma scaling, "The normalised learning rate").

    ``"smooth"``: :math:`s(\gamma) = \gamma^2/(1+\gamma^{2-2/L})`, which tends to
    :math:`\gamma^2` as γ → 0 and :math:`\gamma^{2/L}` as γ → ∞.
    ``"piecewise"``: :math:`\gamma^2` for γ ≤ 1 and :math:`\gamma^{2/L}` for γ > 1.
    """
    if not isinstance(depth, int | np.integer) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    g = np.asarray(gamma, dtype=np.float64)
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"gamma must be finite and > 0, got {g}")
    if kind == "smooth":
        return g**2 / (1.0 + g ** (2.0 - 2.0 / depth))
    if kind == "piecewise":
        return np.where(g <= 1.0, g**2, g ** (2.0 / depth))
    raise ValueError(f"kind must be 'smooth' or 'piecewise', got {kind!r}")


def _rate(name, v):
    v = np.asarray(v, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {v}")
    return v


def eta_from_hat(eta_hat, gamma, depth: int, kind: str = "smooth"):
    r"""η from the normalised rate :math:`\hat\eta = \eta/s(\gamma)` (docs: Gamma scaling)."""
    return _rate("eta_hat", eta_hat) * eta_scale(gamma, depth, kind)


def eta_hat(eta, gamma, depth: int, kind: str = "smooth"):
    r"""The normalised rate :math:`\hat\eta = \eta/s(\gamma)` (docs: Gamma scaling)."""
    return _rate("eta", eta) / eta_scale(gamma, depth, kind)
