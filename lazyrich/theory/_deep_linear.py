r"""Deep linear theory behind the (γ, η) landscape: the scalar L-chain, mode-wise learning times
(the staircase) and the final NTK. Spec: gamma-scaling.md §2.3, §4.3–4.4.

The scalar L-chain is the balanced rank-one reduction of a width-N deep linear network on
whitened inputs with a target of norm :math:`y^*`:

.. math::
    f = \frac{1}{\gamma}\Big(\prod_{\ell=1}^L a_\ell - 1\Big),\quad a_\ell(0)=1,\quad
    \ell(a) = \tfrac12 (f-y^*)^2,\qquad
    a_\ell \leftarrow a_\ell - \eta\,(f-y^*)\,\frac{1}{\gamma}\prod_{k\neq\ell}a_k .
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import require_positive


def _depth(L) -> int:
    if not isinstance(L, int | np.integer) or L < 2:
        raise ValueError(f"depth L (number of weight layers) must be an integer >= 2, got {L!r}")
    return int(L)


def chain_eta_max_lazy(gamma, L: int):
    r"""Lazy divergence edge of the chain: the initial NTK is :math:`K_0 = L/\gamma^2`, so
    GD is stable for :math:`\eta < 2/K_0 = 2\gamma^2/L` (§2.3 item 1)."""
    L = _depth(L)
    require_positive("gamma", gamma)
    return 2.0 * jnp.asarray(gamma) ** 2 / L


def chain_eta_max_rich(gamma, L: int, y_star=1.0):
    r"""Ultra-rich divergence edge (§2.3 item 2): the sharpness of the solution
    :math:`a^* = (1+\gamma y^*)^{1/L}` is :math:`K^* = L\,a^{*2(L-1)}/\gamma^2`, so
    :math:`\eta_{\max} = 2/K^* \to (2/L)\,y^{*-2(L-1)/L}\gamma^{2/L}` for :math:`\gamma\gg 1`.
    Returned exactly (not only its limit)."""
    L = _depth(L)
    require_positive("gamma", gamma)
    g = jnp.asarray(gamma)
    a_star = (1.0 + g * y_star) ** (1.0 / L)
    return 2.0 * g**2 / (L * a_star ** (2 * (L - 1)))


def chain_plateau_time(gamma, L: int, eta, y_star=1.0):
    r"""Steps until the chain leaves its plateau (§2.3 item 3), from :math:`\dot a = y^* a^{L-1}/\gamma`:

    .. math::
        t_{1/2} \approx \frac{\gamma}{2y^*\eta}\ln\!\Big(1+\frac{\gamma y^*}{2}\Big)\ (L=2),\qquad
        t_{1/2} \approx \frac{\gamma}{(L-2)\,y^*\eta}\ (L\ge 3).
    """
    L = _depth(L)
    require_positive("gamma", gamma)
    require_positive("eta", eta)
    g, eta = jnp.asarray(gamma), jnp.asarray(eta)
    if L == 2:
        return g / (2.0 * y_star * eta) * jnp.log1p(g * y_star / 2.0)
    return g / ((L - 2) * y_star * eta)


@functools.partial(jax.jit, static_argnames=("L", "num_steps"))
def _chain_gd(gamma, eta, y_star, L, num_steps):
    a0 = jnp.ones((L,), dtype=jnp.result_type(gamma))

    eye = jnp.eye(L, dtype=bool)

    def step(a, _):
        others = jnp.prod(jnp.where(eye, 1.0, a[None, :]), axis=1)  # Π_{k≠ℓ} a_k, no division
        f = (jnp.prod(a) - 1.0) / gamma
        loss = 0.5 * (f - y_star) ** 2
        ntk = jnp.sum(others**2) / gamma**2
        return a - eta * (f - y_star) * others / gamma, (loss, ntk)

    a, (loss, sharp) = jax.lax.scan(step, a0, None, length=num_steps)
    return loss, sharp


def chain_gd(gamma, eta, L: int, num_steps: int, y_star=1.0):
    r"""Gradient descent on the scalar L-chain; returns (loss, NTK) per step, shapes ``(num_steps,)``.

    The NTK of the balanced chain is :math:`K = \sum_\ell (\partial f/\partial a_\ell)^2
    = L\,a^{2(L-1)}/\gamma^2`, the sharpness at a minimum. ``gamma`` and ``eta`` may be traced
    (``vmap`` over grids).
    """
    L = _depth(L)
    if not isinstance(num_steps, int | np.integer) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    dt = jnp.result_type(float)
    return _chain_gd(jnp.asarray(gamma, dt), jnp.asarray(eta, dt), jnp.asarray(y_star, dt), L,
                     int(num_steps))


def mode_learning_time(s, u0, L: int, frac: float = 0.5):
    r"""Gradient-flow time for a mode of strength :math:`u` to go from ``u0`` to ``frac·s`` (§2.3 item 6):

    .. math:: \frac{du}{d\tau} = L\,u^{2-2/L}(s-u),\qquad
              \tau = \int_{u_0}^{fs}\frac{du}{L\,u^{2-2/L}(s-u)} .

    Exact for every L by quadrature in :math:`w=\ln u` (smooth integrand). For L = 2 it is
    :math:`\frac{1}{2s}\ln\frac{f(s-u_0)}{u_0(1-f)}`, Saxe's formula. The staircase of §4.4 is this
    time for each singular value :math:`s_\alpha`, largest first. Scalars only (NumPy).
    """
    from scipy.integrate import quad

    L = _depth(L)
    s, u0 = float(s), float(u0)
    if not (s > 0 and 0 < u0 < frac * s and 0 < frac < 1):
        raise ValueError(f"need s > 0, 0 < u0 < frac*s and 0 < frac < 1; got s={s}, u0={u0}, frac={frac}")
    integrand = lambda w: 1.0 / (L * np.exp(w * (1 - 2 / L)) * (s - np.exp(w)))  # noqa: E731
    val, _ = quad(integrand, np.log(u0), np.log(frac * s), epsabs=0, epsrel=1e-12, limit=200)
    return val


def deep_linear_final_ntk(beta_star, L: int):
    r"""Final NTK of a depth-L linear network that learned :math:`\beta^*` from a small balanced init (§4.4):

    .. math:: K_\infty = s^{2(L-1)/L}\big[I + (L-1)\hat\beta\hat\beta^\top\big],\quad s=\|\beta^*\| .

    The learned direction has L times the isotropic eigenvalue (depth-dependent spectral learning).
    """
    L = _depth(L)
    b = jnp.asarray(beta_star)
    if b.ndim != 1:
        raise ValueError(f"beta_star must be a vector, got shape {b.shape}")
    s = jnp.linalg.norm(b)
    bh = b / s
    return s ** (2 * (L - 1) / L) * (jnp.eye(b.shape[0], dtype=b.dtype) + (L - 1) * jnp.outer(bh, bh))
