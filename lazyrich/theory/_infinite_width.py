r"""Infinite-width NNGP and NTK of MLPs, without neural-tangents (spec: engineering.md §2.2(b)).

Network (``depth`` = L weight matrices, all weights :math:`\mathcal N(0,1)` with explicit
multipliers, rows of ``x`` are samples of dimension D):

.. math::
    h^1 = \frac{\sigma_w}{\sqrt D}W^0x + \sigma_b b^0,\qquad
    h^{\ell+1} = \frac{\sigma_w}{\sqrt N}W^\ell\phi(h^\ell) + \sigma_b b^\ell,\qquad
    g = h^L .

As :math:`N\to\infty` the pre-activations are Gaussian with covariance :math:`\Sigma^\ell` and

.. math::
    \Sigma^1 = \sigma_w^2\frac{x\cdot x'}{D} + \sigma_b^2,\qquad
    \Sigma^{\ell+1} = \sigma_w^2\,\mathbb E[\phi(u)\phi(v)] + \sigma_b^2,\qquad
    \dot\Sigma^{\ell+1} = \sigma_w^2\,\mathbb E[\phi'(u)\phi'(v)],

    \Theta^1 = \Sigma^1,\qquad \Theta^{\ell+1} = \Sigma^{\ell+1} + \Theta^\ell\,\dot\Sigma^{\ell+1},

with :math:`(u, v)\sim\mathcal N\bigl(0, [[\Sigma^\ell_{xx}, \Sigma^\ell_{xx'}],
[\cdot, \Sigma^\ell_{x'x'}]]\bigr)`.
NNGP :math:`=\Sigma^L`, NTK :math:`=\Theta^L` (NTK parametrisation, Jacot et al. 2018).

Closed forms of the Gaussian expectations, with
:math:`\rho = \cos\theta = \Sigma_{xx'}/\sqrt{\Sigma_{xx}\Sigma_{x'x'}}`:

* ReLU (arc-cosine kernels of orders 1 and 0, Cho & Saul 2009):
  :math:`\mathbb E[\phi\phi] = \frac{\sqrt{\Sigma_{xx}\Sigma_{x'x'}}}{2\pi}
  (\sin\theta + (\pi-\theta)\cos\theta)`,
  :math:`\mathbb E[\phi'\phi'] = \frac{\pi-\theta}{2\pi}`.
* erf (Williams 1997):
  :math:`\mathbb E[\phi\phi] = \frac2\pi\arcsin\frac{2\Sigma_{xx'}}
  {\sqrt{(1+2\Sigma_{xx})(1+2\Sigma_{x'x'})}}`,
  :math:`\mathbb E[\phi'\phi'] = \frac4\pi\bigl((1+2\Sigma_{xx})(1+2\Sigma_{x'x'})
  - 4\Sigma_{xx'}^2\bigr)^{-1/2}`.
* linear: :math:`\Sigma_{xx'}` and 1.
* anything else: tensor Gauss–Hermite quadrature of order ``quad_order`` (exponentially
  accurate for smooth activations, algebraically for kinks), derivative by autodiff.

The μP-γ parametrisation (gamma-scaling.md §1.2–1.3: readout multiplier :math:`1/N`,
output :math:`f = (g_\theta - g_{\theta_0})/\gamma`, SGD step :math:`N\eta`) has :math:`f_0\equiv 0`
and, at initialisation, the function-space kernel :math:`\Theta^L/\gamma^2` (same recursion,
:math:`\sigma_w = 1`, :math:`\sigma_b = 0`):
:math:`\dot f = -\eta\,\Theta^L/\gamma^2\,\nabla_f\mathcal L` per unit step. It governs
training only in the lazy limit :math:`\gamma\to 0`; at fixed
:math:`\gamma` and :math:`N\to\infty` the dynamics are rich and not kernel dynamics.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import require_finite, require_ndim

CLOSED_FORMS = ("relu", "erf", "linear")
ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "linear": lambda u: u,
    "tanh": jnp.tanh,
    "gelu": lambda u: jax.nn.gelu(u, approximate=False),
    "quadratic": lambda u: u * u,
    "softplus": jax.nn.softplus,
}


@functools.partial(jax.tree_util.register_dataclass, data_fields=["nngp", "ntk"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class MLPKernels:
    """Infinite-width kernels between two input sets, each of shape ``(n1, n2)``."""

    nngp: jax.Array
    ntk: jax.Array


def get_activation(activation) -> Callable:
    """An elementwise activation from a name in :data:`ACTIVATIONS` or a callable."""
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be a callable or one of {sorted(ACTIVATIONS)}, got "
                         f"{activation!r}")
    return ACTIVATIONS[activation]


# ---------------------------------------------------------------------------------------------
# Gaussian expectations E[phi(u)phi(v)], E[phi'(u)phi'(v)]
# ---------------------------------------------------------------------------------------------


def _closed_form(name, k11, k22, k12, same):
    """Closed forms on the grid of pairs: k11 (n1,1), k22 (1,n2), k12 (n1,n2)."""
    if name == "linear":
        return k12, jnp.ones_like(k12)
    if name == "relu":
        norm = jnp.sqrt(k11 * k22)
        rho = jnp.clip(k12 / norm, -1.0, 1.0)
        if same is not None:  # arccos is ill-conditioned at rho = 1: set the diagonal exactly
            rho = jnp.where(same, 1.0, rho)
        th = jnp.arccos(rho)
        sin = jnp.sqrt(jnp.maximum(1.0 - rho * rho, 0.0))
        return (norm / (2 * jnp.pi) * (sin + (jnp.pi - th) * rho),
                (jnp.pi - th) / (2 * jnp.pi))
    if name == "erf":
        a = 1.0 + 2.0 * k11
        b = 1.0 + 2.0 * k22
        arg = jnp.clip(2.0 * k12 / jnp.sqrt(a * b), -1.0, 1.0)
        return (2.0 / jnp.pi) * jnp.arcsin(arg), (4.0 / jnp.pi) / jnp.sqrt(a * b - 4.0 * k12 * k12)
    raise AssertionError(name)


def _closed_form_diag(name, k):
    if name == "linear":
        return k
    if name == "relu":
        return 0.5 * k
    return (2.0 / jnp.pi) * jnp.arcsin(2.0 * k / (1.0 + 2.0 * k))


def _gh(order, dtype):
    """Probabilists' Gauss–Hermite nodes and weights normalised to the N(0,1) measure."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    return jnp.asarray(z, dtype), jnp.asarray(w / np.sqrt(2 * np.pi), dtype)


def _dphi(phi):
    def d(u):
        return jax.jvp(phi, (u,), (jnp.ones_like(u),))[1]
    return d


def _quadrature(phi, k11, k22, k12, order):
    r"""E[φ(u)φ(v)] and E[φ'(u)φ'(v)] by 2-D Gauss–Hermite: u = √a z₁, v = √b(ρz₁ + √(1-ρ²)z₂)."""
    z, w = _gh(order, k12.dtype)
    dphi = _dphi(phi)
    sa = jnp.sqrt(k11)
    sb = jnp.sqrt(k22)
    rho = jnp.clip(k12 / (sa * sb), -1.0, 1.0)
    c = jnp.sqrt(jnp.maximum(1.0 - rho * rho, 0.0))
    u = sa[..., None] * z[None, None, :]  # (n1, 1, q)
    pu, du = phi(u), dphi(u)

    def row(args):
        # one row of the kernel: v over (n2, q1, q2), memory n2·q² per row
        pu_i, du_i, rho_i, c_i = args  # (1, q), (1, q), (n2,), (n2,)
        v = sb[0][:, None, None] * (rho_i[:, None, None] * z[None, :, None]
                                    + c_i[:, None, None] * z[None, None, :])
        pv = phi(v) @ w  # integrate z2: (n2, q1)
        dv = dphi(v) @ w
        return pv @ (w * pu_i[0]), dv @ (w * du_i[0])

    e_pp, e_dd = jax.lax.map(row, (pu, du, rho, c))
    return e_pp, e_dd


def _quadrature_diag(phi, k, order):
    z, w = _gh(order, k.dtype)
    return phi(jnp.sqrt(k)[:, None] * z[None, :]) ** 2 @ w


# ---------------------------------------------------------------------------------------------
# The recursion
# ---------------------------------------------------------------------------------------------


def mlp_kernels(x1, x2=None, *, depth: int, activation="relu", weight_std: float = 1.0,
                bias_std: float = 0.0, parametrization: str = "ntk", gamma: float = 1.0,
                method: str = "auto", quad_order: int = 128, dtype=jnp.float64) -> MLPKernels:
    r"""Infinite-width NNGP :math:`\Sigma^L` and NTK :math:`\Theta^L` of an MLP (module docstring).

    Args:
        x1: inputs, shape ``(n1, D)`` (rows are samples). x2: ``(n2, D)``; default ``x1``
            (then the diagonal is handled analytically: no :math:`\sqrt\epsilon` loss at
            :math:`\rho = 1`).
        depth: number of weight matrices :math:`L\ge 1` (``depth=2``: one hidden layer).
        activation: ``"relu"``, ``"erf"``, ``"linear"`` (closed forms), another name in
            :data:`ACTIVATIONS`, or any elementwise callable (quadrature).
        weight_std, bias_std: :math:`\sigma_w, \sigma_b` (NTK parametrisation only).
        parametrization: ``"ntk"``, or ``"mup"`` for the μP-γ network of gamma-scaling.md §1.2
            (returns :math:`\Sigma^L` and :math:`\Theta^L/\gamma^2`; needs the defaults
            :math:`\sigma_w = 1, \sigma_b = 0`).
        method: ``"auto"`` (closed form when there is one), ``"closed"`` or ``"quadrature"``.
        quad_order: Gauss–Hermite order per dimension (memory :math:`n_2\cdot q^2` per row).
        dtype: float64 for theory comparisons (the default).

    Returns:
        :class:`MLPKernels` with ``nngp`` and ``ntk`` of shape ``(n1, n2)``.
    """
    require_ndim("x1", x1, 2, "shape (n1, D), rows are samples")
    same = x2 is None
    if not same:
        require_ndim("x2", x2, 2, "shape (n2, D), rows are samples")
        if np.shape(x2)[1] != np.shape(x1)[1]:
            raise ValueError(f"x1 and x2 must have the same input dimension, got {np.shape(x1)} "
                             f"and {np.shape(x2)}")
        require_finite("x2", x2)
    require_finite("x1", x1)
    if not isinstance(depth, int | np.integer) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (number of weight matrices), "
                         f"got {depth!r}")
    if parametrization not in ("ntk", "mup"):
        raise ValueError(f"parametrization must be 'ntk' or 'mup', got {parametrization!r}")
    if parametrization == "mup" and (weight_std != 1.0 or bias_std != 0.0):
        raise ValueError("the mup parametrisation (gamma-scaling.md §1.2) has N(0,1) weights "
                         "and no biases: leave weight_std=1 and bias_std=0")
    if not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be finite and > 0, got {gamma!r}")
    if weight_std <= 0 or bias_std < 0:
        raise ValueError(f"need weight_std > 0 and bias_std >= 0, got {weight_std!r}, {bias_std!r}")
    if method not in ("auto", "closed", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed' or 'quadrature', got {method!r}")
    name = activation if isinstance(activation, str) else None
    phi = get_activation(activation)
    if method == "closed" and name not in CLOSED_FORMS:
        raise ValueError(f"no closed form for activation {activation!r}; closed forms: "
                         f"{CLOSED_FORMS}")
    closed = name if (name in CLOSED_FORMS and method != "quadrature") else None
    if closed is None and (not isinstance(quad_order, int | np.integer) or quad_order < 2):
        raise ValueError(f"quad_order must be an integer >= 2, got {quad_order!r}")
    a = jnp.asarray(x1, dtype)
    b = a if same else jnp.asarray(x2, dtype)
    nngp, ntk = _recursion(a, b, same, int(depth), closed, phi if closed is None else None,
                           float(weight_std) ** 2, float(bias_std) ** 2, int(quad_order))
    if parametrization == "mup":
        ntk = ntk / jnp.asarray(gamma, dtype) ** 2
    return MLPKernels(nngp, ntk)


@functools.partial(jax.jit, static_argnames=("same", "depth", "closed", "phi", "order"))
def _recursion(x1, x2, same, depth, closed, phi, sw2, sb2, order):
    D = x1.shape[1]
    k12 = sw2 * (x1 @ x2.T) / D + sb2
    k11 = sw2 * jnp.sum(x1 * x1, axis=1) / D + sb2
    k22 = k11 if same else sw2 * jnp.sum(x2 * x2, axis=1) / D + sb2
    theta = k12
    eye = jnp.eye(x1.shape[0], dtype=bool) if same else None
    for _ in range(depth - 1):
        if closed is not None:
            e_pp, e_dd = _closed_form(closed, k11[:, None], k22[None, :], k12, eye)
            d11 = _closed_form_diag(closed, k11)
            d22 = d11 if same else _closed_form_diag(closed, k22)
        else:
            e_pp, e_dd = _quadrature(phi, k11[:, None], k22[None, :], k12, order)
            d11 = _quadrature_diag(phi, k11, order)
            d22 = d11 if same else _quadrature_diag(phi, k22, order)
        k12 = sw2 * e_pp + sb2
        theta = k12 + theta * (sw2 * e_dd)
        k11 = sw2 * d11 + sb2
        k22 = k11 if same else sw2 * d22 + sb2
    return k12, theta
