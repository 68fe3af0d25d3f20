r"""Deep linear theory behind the (γ, η) landscape: the scalar L-chain, mode-wise learning times
(the staircase) and the final NTK (Saxe et al. 2014; Atanasov, Bordelon & Pehlevan 2022;
Atanasov et al. 2025; docs: Gamma scaling, "Deep linear networks").

The scalar L-chain is the balanced rank-one reduction of a width-N deep linear network on
whitened inputs with a target of norm :math:`y^*`:

.. math::
    f = \frac{1}{\gamma}\Big(\prod_{\ell=1}^L a_\ell - 1\Big),\quad a_\ell(0)=1,\quad
    \ell(a) = \tfrac12 (f-y^*)^2,\qquad
    a_\ell \leftarrow a_\ell - \eta\,(f-y^*)\,\frac{1}{\gamma}\prod_{k\neq\ell}a_k .
"""


import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    require_broadcastable,
    require_finite,
    require_positive,
    require_real,
)


def _depth(L) -> int:
    if not isinstance(L, int | np.integer) or isinstance(L, bool | np.bool_) or L < 2:
        raise ValueError(f"depth L (number of weight layers) must be an integer >= 2, got {L!r}")
    return int(L)


def _floats(*xs):
    """Broadcast to one shape in the default float dtype (strict promotion, explicit ranks)."""
    dt = jnp.result_type(float)
    return jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dt) for x in xs))


def _require_solvable(gamma, y_star) -> None:
    r"""The balanced chain from a = 1 reaches :math:`a^{*L} = 1 + \gamma y^*` only if it is > 0
    (a_ℓ = 0 is a critical point the flow cannot cross)."""
    g, y = concrete(gamma), concrete(y_star)
    if g is not None and y is not None and np.any(1.0 + g * y <= 0):
        raise ValueError(f"y_star must satisfy 1 + gamma * y_star > 0 (the balanced chain from "
                         f"a = 1 cannot reach a product <= 0), got gamma={g!r}, y_star={y!r}")


def chain_eta_max_lazy(gamma, L: int):
    r"""Lazy divergence edge of the chain: the initial NTK is :math:`K_0 = L/\gamma^2`, so
    GD is stable for :math:`\eta < 2/K_0 = 2\gamma^2/L`."""
    L = _depth(L)
    require_positive("gamma", gamma)
    return 2.0 * jnp.asarray(gamma, dtype=jnp.result_type(float)) ** 2 / L


def chain_eta_max_rich(gamma, L: int, y_star=1.0):
    r"""Ultra-rich divergence edge of the chain: the sharpness of the solution
    :math:`a^* = (1+\gamma y^*)^{1/L}` is :math:`K^* = L\,a^{*2(L-1)}/\gamma^2`, so
    :math:`\eta_{\max} = 2/K^* \to (2/L)\,y^{*-2(L-1)/L}\gamma^{2/L}` for :math:`\gamma\gg 1`.
    Returned exactly (not only its limit). Needs :math:`1 + \gamma y^* > 0` (finite ``y_star``;
    0 gives the lazy edge, as the chain starts at its solution)."""
    L = _depth(L)
    require_broadcastable("", gamma=gamma, y_star=y_star)
    require_positive("gamma", gamma)
    require_finite("y_star", y_star)
    _require_solvable(gamma, y_star)
    g, y_star = _floats(gamma, y_star)
    a_star = (1.0 + g * y_star) ** (1.0 / L)
    return 2.0 * g**2 / (L * a_star ** (2 * (L - 1)))


def chain_plateau_time(gamma, L: int, eta, y_star=1.0):
    r"""Steps until the chain leaves its plateau, from the early-time (:math:`f \approx 0`)
    balanced flow :math:`da/d\tau = y^* a^{L-1}/\gamma`, :math:`\tau = \eta t`:

    .. math::
        t_{1/2} \approx \frac{\gamma}{2y^*\eta}\ln\!\Big(1+\frac{\gamma y^*}{2}\Big)\ (L=2),\qquad
        t_{1/2} \approx \frac{\gamma}{(L-2)\,y^*\eta}\ (L\ge 3).

    Needs γ > 0, η > 0 and :math:`y^* > 0` (with :math:`y^* \le 0` the product never grows out
    of the plateau, so the formula does not apply).
    """
    L = _depth(L)
    require_broadcastable("", gamma=gamma, eta=eta, y_star=y_star)
    require_positive("gamma", gamma)
    require_positive("eta", eta)
    require_positive("y_star", y_star)
    g, eta, y_star = _floats(gamma, eta, y_star)
    if L == 2:
        return g / (2.0 * y_star * eta) * jnp.log1p(g * y_star / 2.0)
    return g / ((L - 2) * y_star * eta)


def mode_learning_time(s, u0, L: int, frac: float = 0.5):
    r"""Gradient-flow time for a mode of strength :math:`u` to go from ``u0`` to ``frac·s``
    (each singular value of a whitened linear target evolves alone; Saxe et al. 2014, Arora et
    al. 2018; in the γ picture :math:`u_0 \sim 1/\gamma`):

    .. math:: \frac{du}{d\tau} = L\,u^{2-2/L}(s-u),\qquad
              \tau = \int_{u_0}^{fs}\frac{du}{L\,u^{2-2/L}(s-u)} .

    Exact for every L by quadrature in :math:`w=\ln u` (smooth integrand). For L = 2 it is
    :math:`\frac{1}{2s}\ln\frac{f(s-u_0)}{u_0(1-f)}`, Saxe's formula. The staircase
    (saddle-to-saddle loss curve) is this time for each singular value :math:`s_\alpha`, largest
    first. Scalars only (NumPy).
    """
    import warnings

    from scipy.integrate import IntegrationWarning, quad

    L = _depth(L)
    for name, x in (("s", s), ("u0", u0), ("frac", frac)):
        require_real(name, x)
        if np.ndim(x) != 0:
            raise ValueError(f"{name} must be a real scalar, got shape {np.shape(x)}")
    s, u0, frac = float(s), float(u0), float(frac)
    if not (s > 0 and 0 < u0 < frac * s and 0 < frac < 1 and np.isfinite(s)):
        raise ValueError(f"need finite s > 0, 0 < u0 < frac*s and 0 < frac < 1; got s={s}, "
                         f"u0={u0}, frac={frac}")
    integrand = lambda w: 1.0 / (L * np.exp(w * (1 - 2 / L)) * (s - np.exp(w)))  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)   # judged by its error estimate below
        val, err = quad(integrand, np.log(u0), np.log(frac * s), epsabs=0, epsrel=1e-12,
                        limit=200)
    if not (np.isfinite(val) and err <= 1e-8 * abs(val)):
        raise ValueError(f"mode_learning_time cannot be computed accurately for s={s}, u0={u0}, "
                         f"frac={frac}, L={L}: quadrature error estimate {err:.3g} for a time of "
                         f"{val:.6g} (u0 or frac*s too close to 0 or s in double precision)")
    return val


def deep_linear_final_ntk(beta_star, L: int):
    r"""Final NTK of a depth-L linear network that learned :math:`\beta^*` from a small balanced
    init on whitened inputs (Atanasov, Bordelon & Pehlevan 2022; docs: Gamma scaling):

    .. math:: K_\infty = s^{2(L-1)/L}\big[I + (L-1)\hat\beta\hat\beta^\top\big],\quad
              s=\|\beta^*\| .

    The learned direction has L times the isotropic eigenvalue (depth-dependent spectral learning).
    β* = 0 gives :math:`K_\infty = 0` (the limit :math:`s\to0`: the prefactor vanishes for L ≥ 2
    while :math:`\hat\beta\hat\beta^\top` stays bounded; a network left at W = 0 has zero NTK).
    """
    L = _depth(L)
    require_real("beta_star", beta_star)
    if np.ndim(beta_star) != 1 or np.shape(beta_star)[0] < 1:
        raise ValueError(f"beta_star must be a non-empty vector (d,), got shape "
                         f"{np.shape(beta_star)}")
    require_finite("beta_star", beta_star)
    b = jnp.asarray(beta_star)
    b = b if jnp.issubdtype(b.dtype, jnp.floating) else b.astype(jnp.result_type(float))
    s = jnp.linalg.norm(b)
    bh = b / jnp.where(s > 0, s, jnp.ones_like(s))                 # β̂ = 0 at β* = 0
    eye = jnp.eye(b.shape[0], dtype=b.dtype)
    return s ** (2 * (L - 1) / L) * (eye + (L - 1) * jnp.outer(bh, bh))
