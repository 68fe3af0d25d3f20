r"""Infinite-width NNGP and NTK of MLPs, without neural-tangents (docs: Kernel theory).

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

Closed forms of the Gaussian expectations. Write :math:`a=\Sigma_{xx}`, :math:`b=\Sigma_{x'x'}`,
:math:`c=\Sigma_{xx'}`, :math:`\rho=\cos\theta=c/\sqrt{ab}`, :math:`\Delta = ab-c^2\ge 0` and
the arc-cosine kernels of orders 1 and 0 (Cho & Saul 2009)

.. math::
    J_1(\rho) = \frac{\sqrt{1-\rho^2} + (\pi-\arccos\rho)\,\rho}{2\pi}
    = \mathbb E[\mathrm{relu}(z)\mathrm{relu}(z')],\qquad
    J_0(\rho) = \frac{\pi-\arccos\rho}{2\pi} = \Pr[z>0, z'>0]

for unit-variance :math:`(z, z')` with correlation :math:`\rho`.

* ABReLU :math:`\phi(u) = \alpha\min(u,0) + \beta\max(u,0)` (``ABReLU(α, β)``; ReLU is
  :math:`(0,1)`, leaky ReLU :math:`(s, 1)`). Since :math:`\phi(u) = \beta\,\mathrm{relu}(u) -
  \alpha\,\mathrm{relu}(-u)`, :math:`(-u,-v)\overset{d}{=}(u,v)` and
  :math:`J_1(\rho)-J_1(-\rho) = \rho/2`, :math:`J_0(\rho) + J_0(-\rho) = 1/2`:

  .. math::
      \mathbb E[\phi(u)\phi(v)] = (\beta-\alpha)^2\sqrt{ab}\,J_1(\rho) + \alpha\beta\,c,\qquad
      \mathbb E[\phi'(u)\phi'(v)] = (\beta-\alpha)^2 J_0(\rho) + \alpha\beta .

  On the diagonal (:math:`\rho = 1`) they are :math:`\tfrac{\alpha^2+\beta^2}2 a` and
  :math:`\tfrac{\alpha^2+\beta^2}2`.
* erf (Williams 1997), with :math:`A = 1+2a`, :math:`B = 1+2b`:
  :math:`\mathbb E[\phi\phi] = \frac2\pi\arcsin\frac{2c}{\sqrt{AB}}`,
  :math:`\mathbb E[\phi'\phi'] = \frac4\pi\bigl(1 + 2a + 2b + 4\Delta\bigr)^{-1/2}`
  (:math:`= \frac4\pi(AB-4c^2)^{-1/2}`, written without the cancellation).
* GELU :math:`\phi(u) = u\,\Phi(u)` (exact, erf-based). Write :math:`\Phi(u) = \Pr[\xi\le u]` with
  independent :math:`\xi,\xi'\sim\mathcal N(0,1)`, so
  :math:`\mathbb E[\phi(u)\phi(v)] = \mathbb E[uv\,1\{s>0\}1\{t>0\}]` with :math:`s = u-\xi`,
  :math:`t = v-\xi'`. The pair :math:`w=(s,t)` has covariance :math:`C = \Sigma + I` and
  cross-covariance :math:`\Sigma` with :math:`(u,v)`; regressing,
  :math:`(u,v) = \Sigma C^{-1}w + e` with :math:`e\perp w`, :math:`\mathrm{Cov}(e) = \Sigma C^{-1}`.
  With :math:`\det C = 1 + a + b + \Delta`, :math:`r = c/\sqrt{(1+a)(1+b)}`,
  :math:`P = \frac14 + \frac{\arcsin r}{2\pi}` and the truncated second moments
  :math:`M = \mathbb E[ww^\top 1\{w>0\}]`,
  :math:`M_{11} = (1+a)(P + \frac{r\sqrt{1-r^2}}{2\pi})`, :math:`M_{22}` likewise with
  :math:`b`, :math:`M_{12} = \sqrt{(1+a)(1+b)}\,(rP + \frac{\sqrt{1-r^2}}{2\pi})`:

  .. math::
      \mathbb E[\phi(u)\phi(v)] = \frac{(\Delta + a,\; c)\,M\,(c,\; \Delta+b)^\top}{\det C^2}
          + \frac{c\,P}{\det C},

      \mathbb E[\phi'(u)\phi'(v)] = P + \frac{c}{2\pi\sqrt{\det C}}
          \Bigl(\frac1{1+a} + \frac1{1+b} + \frac1{\det C}\Bigr),

  the second from :math:`\phi' = \Phi(u) + u\varphi(u)` and Gaussian tilting by
  :math:`\varphi(u)\propto e^{-u^2/2}`. This is an elementary closed form (the GELU NNGP kernel
  of Tsuchida et al. 2021, "Avoiding kernel fixed points", derived independently here); it is
  well conditioned everywhere (:math:`\det C\ge 1`), including :math:`\rho=\pm1` and zero
  variances.
* quadratic :math:`u^2` (Isserlis): :math:`ab + 2c^2` and :math:`4c`. linear: :math:`c` and 1.
* any other activation, or ``method="quadrature"``: a 2-D rule in polar coordinates. With
  :math:`u = \sqrt a\,r\cos\psi`, :math:`v = \sqrt b\,r\cos(\psi-\theta)` and
  :math:`(r\cos\psi, r\sin\psi)\sim\mathcal N(0, I)`,

  .. math::
      \mathbb E[F(u,v)] = \frac1{2\pi}\int_0^{2\pi}\!d\psi\int_0^\infty r e^{-r^2/2}
      F\bigl(\sqrt a\,r\cos\psi,\ \sqrt b\,r\cos(\psi-\theta)\bigr)\,dr .

  The circle is cut at the four rays where :math:`u = 0` or :math:`v = 0` (angles
  :math:`\pi/2, 3\pi/2, \theta+\pi/2, \theta+3\pi/2`), so on each sector the signs of
  :math:`u` and :math:`v` are fixed and an activation that is smooth on each half-line (kinked
  only at 0: ReLU, leaky ReLU, ABReLU) gives an integrand that is smooth on the sector. Each
  sector is split at its midpoint and each half mapped by :math:`d = \epsilon\sinh t` (distance
  :math:`d` from the cut, :math:`\epsilon = 1/\max(\sqrt a, \sqrt b, 1)`); along each ray,
  :math:`r = \lambda\sinh t` on :math:`[0, R = 10]` with :math:`\lambda = 1/\max(|u|/r, |v|/r,
  1)`; Gauss–Legendre in :math:`t` (``quad_order`` nodes per half-sector and per ray; the
  1-D diagonal integrals :math:`\mathbb E[\phi(u)^2]` use ``4 * quad_order`` on each half-line). The
  sinh maps resolve the activation's own scale (:math:`|u|\sim 1`) and the Gaussian's
  (:math:`r\sim 1`) at once, so the error decays geometrically in ``quad_order`` at a rate that
  depends only logarithmically on the variances; the truncation at :math:`R` costs
  :math:`\sim R^k e^{-R^2/2}\approx 10^{-18}` relative for polynomially bounded activations.
  Measured (one layer, ``quad_order=48``, relative to the closed forms for erf, ReLU, leaky
  ReLU, ABReLU, GELU and :math:`u^2`): :math:`\le 3\times10^{-14}` at variances
  :math:`10^{-4}` to 50 and :math:`|\rho|` up to 0.999, :math:`\le 4\times10^{-12}` at variance
  :math:`10^4`; a kinked activation's error falls from :math:`10^{-1}` to :math:`10^{-13}`
  between orders 4 and 32.
  Derivatives :math:`\phi'` come from autodiff. Kinks away from 0 or discontinuities are not
  split and converge only algebraically.

Zero variance (a zero input row with :math:`\sigma_b = 0`): the pre-activation is the constant
0 and the expectations factor, :math:`\mathbb E[\phi(0)\phi(v)] = \phi(0)\mathbb E[\phi(v)]`,
:math:`\mathbb E[\phi'(0)\phi'(v)] = \phi'(0)\mathbb E[\phi'(v)]`, with :math:`\phi'(0)` the value
JAX's autodiff gives for the activation's callable (0 for ReLU, :math:`\alpha` for ABReLU). The
NTK does not depend on that convention: the derivative kernel of a zero-variance layer always
multiplies :math:`\Theta = 0`.

The μP-γ parametrisation (docs: Conventions; readout multiplier :math:`1/N`,
output :math:`f = (g_\theta - g_{\theta_0})/\gamma`, SGD step :math:`N\eta`) has :math:`f_0\equiv 0`
and, at initialisation, the function-space kernel :math:`\Theta^L/\gamma^2` (same recursion,
:math:`\sigma_w = 1`, :math:`\sigma_b = 0`):
:math:`\dot f = -\eta\,\Theta^L/\gamma^2\,\nabla_f\mathcal L` per unit step. It governs
training only in the lazy limit :math:`\gamma\to 0`; at fixed
:math:`\gamma` and :math:`N\to\infty` the dynamics are rich and not kernel dynamics.
"""

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import concrete, require_ndim


@dataclasses.dataclass(frozen=True)
class ABReLU:
    r"""The piecewise-linear activation :math:`\phi(u) = a\min(u, 0) + b\max(u, 0)`.

    ``ABReLU(0, 1)`` is ReLU, ``ABReLU(s, 1)`` leaky ReLU with slope ``s``, ``ABReLU(-1, 1)`` is
    :math:`|u|`, ``ABReLU(1, 1)`` the identity. Its NNGP/NTK expectations have the closed form
    :math:`(b-a)^2\sqrt{\Sigma_{xx}\Sigma_{x'x'}}J_1(\rho) + ab\,\Sigma_{xx'}` and
    :math:`(b-a)^2 J_0(\rho) + ab` (module docstring). Frozen and hashable, so it can be a
    static argument of ``jit``. At :math:`u = 0` its autodiff derivative is ``a``.
    """

    a: float
    b: float

    def __post_init__(self):
        for name in ("a", "b"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"ABReLU slope {name} must be a real number, got {v!r}")
            if not math.isfinite(float(v)):
                raise ValueError(f"ABReLU slope {name} must be finite, got {v!r}")
            object.__setattr__(self, name, float(v))

    def __call__(self, u):
        return jnp.where(u > 0, self.b * u, self.a * u)


def _linear(u):
    return u


def _quadratic(u):
    return u * u


def _gelu(u):
    return jax.nn.gelu(u, approximate=False)


ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "leaky_relu": ABReLU(0.01, 1.0),
    "erf": jax.scipy.special.erf,
    "gelu": _gelu,
    "linear": _linear,
    "quadratic": _quadratic,
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
}
"""The toolkit's activation table: name -> elementwise callable. ``"leaky_relu"`` has slope 0.01
(as :func:`jax.nn.leaky_relu`); pass ``ABReLU(s, 1.0)`` for another slope."""

# names with closed-form kernels; any ABReLU instance has one too
CLOSED_FORMS = ("relu", "leaky_relu", "erf", "gelu", "linear", "quadratic")
QUAD_ORDER_RANGE = (2, 512)
"""Valid ``quad_order`` (nodes per half-sector and per ray: ``8 * quad_order**2`` points per
pair of inputs)."""
_RADIUS = 10.0  # radial cut-off of the standard Gaussian: r e^{-r^2/2} ~ 2e-21 there


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
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a callable or one of {sorted(ACTIVATIONS)}, got "
                        f"{type(activation).__name__} {activation!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be a callable or one of {sorted(ACTIVATIONS)}, got "
                         f"{activation!r}")
    return ACTIVATIONS[activation]


def _closed_key(activation):
    """A hashable description of the closed form for ``activation``, or None."""
    if isinstance(activation, ABReLU):
        return ("abrelu", activation.a, activation.b)
    name = activation if isinstance(activation, str) else None
    if name is None:  # a callable that is one of the table's entries
        name = next((k for k, f in ACTIVATIONS.items() if f is activation), None)
    if name == "relu":
        return ("abrelu", 0.0, 1.0)
    if name == "leaky_relu":
        return _closed_key(ACTIVATIONS["leaky_relu"])
    if name in CLOSED_FORMS:
        return (name,)
    return None


# ---------------------------------------------------------------------------------------------
# Gaussian expectations E[phi(u)phi(v)], E[phi'(u)phi'(v)]
# ---------------------------------------------------------------------------------------------


def _closed_form(form, a, b, c):
    """Closed forms, elementwise over broadcastable variances a, b and covariances c."""
    kind = form[0]
    if kind == "linear":
        return c, jnp.ones_like(c)
    if kind == "quadratic":
        return a * b + 2.0 * c * c, 4.0 * c
    delta = jnp.maximum(a * b - c * c, 0.0)
    if kind == "erf":
        arg = jnp.clip(2.0 * c / jnp.sqrt((1.0 + 2.0 * a) * (1.0 + 2.0 * b)), -1.0, 1.0)
        return ((2.0 / jnp.pi) * jnp.arcsin(arg),
                (4.0 / jnp.pi) / jnp.sqrt(1.0 + 2.0 * (a + b) + 4.0 * delta))
    if kind == "gelu":
        c11, c22 = 1.0 + a, 1.0 + b
        det = 1.0 + a + b + delta
        q = jnp.sqrt(c11 * c22)
        r = jnp.clip(c / q, -1.0, 1.0)
        s = jnp.sqrt(det) / q  # sqrt(1 - r^2) without cancellation
        p = 0.25 + jnp.arcsin(r) / (2 * jnp.pi)
        m = p + r * s / (2 * jnp.pi)
        m12 = q * (r * p + s / (2 * jnp.pi))
        a1, a2 = delta + a, delta + b
        e_pp = (a1 * c * c11 * m + a1 * a2 * m12 + c * c * m12 + c * a2 * c22 * m) / (det * det)
        e_pp = e_pp + c * p / det
        e_dd = p + c / (2 * jnp.pi * jnp.sqrt(det)) * (1.0 / c11 + 1.0 / c22 + 1.0 / det)
        return e_pp, e_dd
    if kind == "abrelu":
        lo, hi = form[1], form[2]
        norm = jnp.sqrt(a * b)
        pos = norm > 0
        rho = jnp.clip(jnp.where(pos, c / jnp.where(pos, norm, 1.0), 0.0), -1.0, 1.0)
        th = jnp.arccos(rho)
        j1 = (jnp.sqrt(jnp.maximum(1.0 - rho * rho, 0.0)) + (jnp.pi - th) * rho) / (2 * jnp.pi)
        j0 = (jnp.pi - th) / (2 * jnp.pi)
        k = (hi - lo) ** 2
        e_pp = k * norm * j1 + lo * hi * c
        # u == 0 (zero variance): E[phi'(0)phi'(v)] = phi'(0) E[phi'(v)], phi'(0) = lo
        d1 = jnp.where(a > 0, 0.5 * (lo + hi), lo)
        d2 = jnp.where(b > 0, 0.5 * (lo + hi), lo)
        return e_pp, jnp.where(pos, k * j0 + lo * hi, d1 * d2)
    raise AssertionError(form)


def _closed_diag(form, k):
    """The closed forms on the diagonal (rho = 1 exactly: no arccos round-off at rho ~ 1)."""
    if form[0] == "abrelu":
        lo, hi = form[1], form[2]
        m2 = 0.5 * (lo * lo + hi * hi)
        return m2 * k, jnp.where(k > 0, m2, lo * lo)
    if form[0] == "erf":
        return ((2.0 / jnp.pi) * jnp.arcsin(2.0 * k / (1.0 + 2.0 * k)),
                (4.0 / jnp.pi) / jnp.sqrt(1.0 + 4.0 * k))
    return _closed_form(form, k, k, k)  # exact at a = b = c (delta = 0)


@functools.lru_cache(maxsize=32)
def _gauss_legendre01(n):
    """Gauss–Legendre nodes and weights on [0, 1] (NumPy's eigenvalue + Newton: stable at any n)."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1.0) / 2.0, w / 2.0


def _value_and_derivative(phi, u):
    return jax.jvp(phi, (u,), (jnp.ones_like(u),))


def _sinh_cosh(t):
    """sinh and cosh from one expm1 (accurate sinh at small t, fewer ops to compile)."""
    m = jnp.expm1(t)
    return m * (m + 2.0) / (2.0 * (m + 1.0)), 0.5 * (m + 1.0 + 1.0 / (m + 1.0))


def _radial(lam, order, dtype):
    """Nodes r = λ sinh(t) on [0, R] and Jacobians dr/dt·w_t, for λ of any shape (+ one axis)."""
    t, w = (jnp.asarray(v, dtype).reshape((1,) * lam.ndim + (-1,))
            for v in _gauss_legendre01(order))
    big_t = jnp.arcsinh(_RADIUS / lam)[..., None]
    sinh, cosh = _sinh_cosh(big_t * t)
    return lam[..., None] * sinh, lam[..., None] * cosh * big_t * w


def _expect_diag(phi, k, order):
    """E[φ(u)²], E[φ'(u)²] for u ~ N(0, k), k of shape (P,): two half-lines, sinh-mapped GL.

    Uses ``4 * order`` nodes: 1-D rules are cheap, and the diagonal feeds every later layer."""
    s = jnp.sqrt(k)
    r, jac = _radial(1.0 / jnp.maximum(s, 1.0), 4 * order, k.dtype)
    w = jac * jnp.exp(-0.5 * r * r) / math.sqrt(2 * math.pi)
    f, d = _value_and_derivative(phi, jnp.stack([s[:, None] * r, -s[:, None] * r]))
    return jnp.sum(w * (f * f).sum(0), axis=1), jnp.sum(w * (d * d).sum(0), axis=1)


def _expect_pairs(phi, a, b, c, order):
    """E[φ(u)φ(v)], E[φ'(u)φ'(v)] for P pairs (shapes (P,)) by the sector-split polar rule."""
    dtype = c.dtype
    sa, sb = jnp.sqrt(a), jnp.sqrt(b)
    th = jnp.arctan2(jnp.sqrt(jnp.maximum(a * b - c * c, 0.0)), c)  # angle between u and v
    eps = 1.0 / jnp.maximum(jnp.maximum(sa, sb), 1.0)
    t, w = (jnp.asarray(v, dtype).reshape(1, 1, -1) for v in _gauss_legendre01(order))
    half = jnp.pi / 2
    zero = jnp.zeros_like(th)
    start = jnp.stack([zero + half, half + th, zero + 3 * half, 3 * half + th], axis=-1)
    width = jnp.stack([th, jnp.pi - th, th, jnp.pi - th], axis=-1)  # (P, 4) sectors
    big_t = jnp.arcsinh(width / (2 * eps[:, None]))[..., None]
    sinh, cosh = _sinh_cosh(big_t * t)
    d = eps[:, None, None] * sinh  # distance from the nearer cut, (P, 4, q)
    wd = eps[:, None, None] * cosh * big_t * w
    psi = jnp.concatenate([start[..., None] + d, (start + width)[..., None] - d], axis=-1)
    wpsi = jnp.concatenate([wd, wd], axis=-1) / (2 * jnp.pi)
    psi = psi.reshape(psi.shape[0], -1)  # (P, 8q)
    wpsi = wpsi.reshape(psi.shape)
    al = sa[:, None] * jnp.cos(psi)  # u = al r, v = be r on each ray
    be = sb[:, None] * jnp.cos(psi - th[:, None])
    r, jac = _radial(1.0 / jnp.maximum(jnp.maximum(jnp.abs(al), jnp.abs(be)), 1.0), order, dtype)
    weight = wpsi[..., None] * jac * r * jnp.exp(-0.5 * r * r)
    f, d = _value_and_derivative(phi, jnp.stack([al[..., None] * r, be[..., None] * r]))
    return jnp.sum(weight * f[0] * f[1], axis=(1, 2)), jnp.sum(weight * d[0] * d[1], axis=(1, 2))


def _quadrature(phi, a, b, c, order):
    """:func:`_expect_pairs` over flat pairs, in batches that keep ~2^21 points in memory."""
    if a.shape[0] == 0:
        return c, c
    batch = max(1, min(a.shape[0], 2**21 // (8 * order * order)))
    out = jax.lax.map(lambda p: _expect_pairs(phi, p[0][None], p[1][None], p[2][None], order),
                      (a, b, c), batch_size=batch)
    return out[0][:, 0], out[1][:, 0]


# ---------------------------------------------------------------------------------------------
# The recursion
# ---------------------------------------------------------------------------------------------


def _real(name, v, *, low, strict):
    """A finite real scalar ``v`` with ``v > low`` (strict) or ``v >= low``, as float."""
    arr = None if isinstance(v, bool | np.bool_ | str | bytes) else concrete(v)
    if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")
    rel = ">" if strict else ">="
    f = float(arr)
    if not math.isfinite(f) or (f <= low if strict else f < low):
        raise ValueError(f"{name} must be finite and {rel} {low}, got {v!r}")
    return f


def _inputs(name, x, meaning):
    require_ndim(name, x, 2, meaning)
    dt = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    if dt.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, integer or floating dtype), got "
                        f"dtype {dt}")
    if np.shape(x)[0] < 1 or np.shape(x)[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column ({meaning}), got "
                         f"shape {np.shape(x)}")
    _require_finite_input(name, x)


def _float_dtype(dtype):
    """``dtype`` as a float32/float64 NumPy dtype, or a named error."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be jnp.float32 or jnp.float64, got {dtype!r}") from e
    if dt not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"dtype must be jnp.float32 or jnp.float64, got {dt}")
    return dt


def _require_finite_input(name, x) -> None:
    """Refuse NaN/inf in a concrete input (traced inputs pass), counting them in the message."""
    v = concrete(x)
    if v is not None and not np.all(np.isfinite(v)):
        bad = int(v.size - np.count_nonzero(np.isfinite(v)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) (NaN or inf)")


def mlp_kernels(x1, x2=None, *, depth: int, activation="relu", weight_std: float = 1.0,
                bias_std: float = 0.0, parametrization: str = "ntk", gamma: float = 1.0,
                method: str = "auto", quad_order: int = 48, dtype=jnp.float64) -> MLPKernels:
    r"""Infinite-width NNGP :math:`\Sigma^L` and NTK :math:`\Theta^L` of an MLP (module docstring).

    Args:
        x1: inputs, shape ``(n1, D)`` (rows are samples; integer or bool inputs are cast to
            ``dtype``). x2: ``(n2, D)``; default ``x1`` (then the diagonal is handled
            analytically: no :math:`\sqrt\epsilon` loss at :math:`\rho = 1`).
        depth: number of weight matrices :math:`L\ge 1` (``depth=2``: one hidden layer).
        activation: a name in :data:`ACTIVATIONS` (closed forms for ``"relu"``,
            ``"leaky_relu"``, ``"erf"``, ``"gelu"``, ``"linear"``, ``"quadratic"``), an
            :class:`ABReLU` (closed form), or any elementwise callable (quadrature).
        weight_std, bias_std: :math:`\sigma_w > 0, \sigma_b \ge 0` (NTK parametrisation only).
        parametrization: ``"ntk"``, or ``"mup"`` for the μP-γ network (readout :math:`1/N`,
            output :math:`(g_\theta - g_{\theta_0})/\gamma`; docs: Conventions), which returns
            :math:`\Sigma^L` and :math:`\Theta^L/\gamma^2` and needs the defaults
            :math:`\sigma_w = 1, \sigma_b = 0`.
        method: ``"auto"`` (closed form when there is one), ``"closed"`` or ``"quadrature"``.
        quad_order: Gauss–Legendre nodes per half-sector and per ray of the polar rule, in
            :data:`QUAD_ORDER_RANGE` (``8 * quad_order**2`` activation evaluations per pair).
            The default 48 is accurate to ~1e-13 relative for activations smooth on each
            half-line, at any variance up to ~1e4 (module docstring).
        dtype: ``jnp.float64`` for theory comparisons (the default) or ``jnp.float32``.

    Returns:
        :class:`MLPKernels` with ``nngp`` and ``ntk`` of shape ``(n1, n2)``.
    """
    same = x2 is None
    _inputs("x1", x1, "shape (n1, D), rows are samples")
    if not same:
        _inputs("x2", x2, "shape (n2, D), rows are samples")
        if np.shape(x2)[1] != np.shape(x1)[1]:
            raise ValueError(f"x1 and x2 must have the same input dimension, got {np.shape(x1)} "
                             f"and {np.shape(x2)}")
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1 (number of weight matrices), "
                         f"got {depth!r}")
    if parametrization not in ("ntk", "mup"):
        raise ValueError(f"parametrization must be 'ntk' or 'mup', got {parametrization!r}")
    sw = _real("weight_std", weight_std, low=0.0, strict=True)
    sb = _real("bias_std", bias_std, low=0.0, strict=False)
    gamma = _real("gamma", gamma, low=0.0, strict=True)
    if parametrization == "mup" and (sw != 1.0 or sb != 0.0):
        raise ValueError("the mup parametrisation has N(0,1) weights, readout multiplier 1/N and "
                         f"no biases: need weight_std=1 and bias_std=0, got {weight_std!r}, "
                         f"{bias_std!r}")
    if method not in ("auto", "closed", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed' or 'quadrature', got {method!r}")
    lo, hi = QUAD_ORDER_RANGE
    if (isinstance(quad_order, bool) or not isinstance(quad_order, int | np.integer)
            or not lo <= quad_order <= hi):
        raise ValueError(f"quad_order must be an integer in [{lo}, {hi}], got {quad_order!r}")
    dt = _float_dtype(dtype)
    phi = get_activation(activation)
    form = _closed_key(activation)
    if method == "closed" and form is None:
        raise ValueError(f"method='closed' but there is no closed form for activation "
                         f"{activation!r}; closed forms: {CLOSED_FORMS} or an ABReLU(a, b)")
    if method == "quadrature":
        form = None
    a = jnp.asarray(x1).astype(dt)
    b = a if same else jnp.asarray(x2).astype(dt)
    nngp, ntk = _recursion(a, b, same, int(depth), form, phi if form is None else None,
                           sw * sw, sb * sb, int(quad_order))
    if parametrization == "mup":
        ntk = ntk / jnp.asarray(gamma, dt) ** 2
    _require_finite_kernels(dt, nngp, ntk)
    return MLPKernels(nngp, ntk)


def _require_finite_kernels(dt, *kernels) -> None:
    """Refuse kernels that overflowed or met a NaN (concrete values only; traced pass)."""
    for v in kernels:
        got = concrete(v)
        if got is not None and not np.all(np.isfinite(got)):
            raise ValueError(f"the kernels are not finite in {dt}: the inputs x1/x2 are too large "
                             "(overflow) or the activation returned NaN/inf; rescale the inputs, "
                             "use float64, or check the activation")


@functools.partial(jax.jit, static_argnames=("same", "depth", "form", "phi", "order"))
def _recursion(x1, x2, same, depth, form, phi, sw2, sb2, order):
    D = x1.shape[1]
    n1, n2 = x1.shape[0], x2.shape[0]
    k12 = sw2 * (x1 @ x2.T) / D + sb2
    k11 = sw2 * jnp.sum(x1 * x1, axis=1) / D + sb2
    k22 = k11 if same else sw2 * jnp.sum(x2 * x2, axis=1) / D + sb2
    eye = jnp.eye(n1, dtype=bool)

    def diag(k):
        return _closed_diag(form, k) if form is not None else _expect_diag(phi, k, order)

    def layer(_, carry):  # one layer; a loop, not unrolled, so compile time is depth-independent
        k12, theta, k11, k22 = carry
        d_pp, d_dd = diag(k11 if same else jnp.concatenate([k11, k22]))
        d11_pp, d11_dd, k22_pp = d_pp[:n1], d_dd[:n1], d_pp[n1:]
        if form is not None:
            e_pp, e_dd = _closed_form(form, k11[:, None], k22[None, :], k12)
        elif same:  # pairs i < j only; the diagonal comes from the 1-D rule
            i, j = np.triu_indices(n1, 1)
            p_pp, p_dd = _quadrature(phi, k11[i], k11[j], k12[i, j], order)
            e_pp = jnp.zeros_like(k12).at[i, j].set(p_pp).at[j, i].set(p_pp)
            e_dd = jnp.zeros_like(k12).at[i, j].set(p_dd).at[j, i].set(p_dd)
        else:
            i, j = (v.ravel() for v in np.indices((n1, n2)))
            p_pp, p_dd = _quadrature(phi, k11[i], k22[j], k12[i, j], order)
            e_pp, e_dd = p_pp.reshape(n1, n2), p_dd.reshape(n1, n2)
        if same:  # exact diagonal: rho = 1 by construction
            e_pp = jnp.where(eye, d11_pp[:, None], e_pp)
            e_dd = jnp.where(eye, d11_dd[:, None], e_dd)
            k22_pp = d11_pp
        k12 = sw2 * e_pp + sb2
        theta = k12 + theta * (sw2 * e_dd)
        return k12, theta, sw2 * d11_pp + sb2, sw2 * k22_pp + sb2

    k12, theta, _, _ = jax.lax.fori_loop(0, depth - 1, layer, (k12, k12, k11, k22))
    return k12, theta
