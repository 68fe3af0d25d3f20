r"""Lazy-limit (kernel) dynamics: exact train and test predictions of MSE gradient descent and
gradient flow with a fixed kernel, and the mean and covariance over random initial functions.

Conventions (docs: Conventions). Loss :math:`\ell = \frac1{PC}\sum_{\mu,c}(f_c(x_\mu) -
y_{\mu c})^2` (mean over the P training points and C outputs, **no** ½); full-batch GD on the
parameters with step :math:`N\eta`; engine time :math:`T = \eta\cdot\text{steps}`. Linearising the
centred μP-γ network :math:`f = (g_\theta - g_{\theta_0})/\gamma` around :math:`\theta_0` (Jacot
et al. 2018; Lee et al. 2019, "Wide neural networks of any depth evolve as linear models under
gradient descent") gives, as :math:`N\to\infty` and then :math:`\gamma\to 0`, with the residual
:math:`r = f(X) - y`,

.. math::
    r_{k+1} = (I - a\Theta)\,r_k,\qquad a = \frac{2\rho\eta}{PC\gamma^2}
    \qquad\text{(discrete GD, per step)},

    \frac{dr}{dT} = -b\,\Theta\,r,\qquad b = \frac{2\rho}{PC\gamma^2}
    \qquad\text{(gradient flow in } T = \eta\cdot\text{steps)},

where :math:`\Theta` is the infinite-width NTK in the NTK parametrisation (``mlp_kernels(...).ntk``)
and :math:`\rho = N/F_{\rm ro}` is the step width over the readout fan-in (1 for the MLP, 1/8 for
the ConvNet, whose readout fan-in is 8N). The factor 2 is the derivative of the loss without ½;
the 1/(PC) is its mean. Every output column evolves independently under the same P×P kernel.

Closed forms. With :math:`\Theta_{XX} = V\mathrm{diag}(\lambda)V^\top`, :math:`d_k(\lambda) =
(1-a\lambda)^k` (discrete) or :math:`d_T(\lambda) = e^{-b\lambda T}` (flow) and
:math:`\psi(\lambda) = (1 - d(\lambda))/\lambda` (limit :math:`ak` or :math:`bT` at
:math:`\lambda = 0`),

.. math::
    f(X) = y + V\mathrm{diag}(d)V^\top r_0,\qquad
    f(X_*) = f_0(X_*) - \Theta_{*X}V\mathrm{diag}(\psi)V^\top r_0,\qquad
    \ell = \frac1{PC}\sum_{c}\sum_i d(\lambda_i)^2\,(v_i^\top r_{0,c})^2 .

The test formula sums the test increments :math:`-a\Theta_{*X}r_j` over the steps (or integrates
them). At :math:`T = \infty` it is kernel regression, :math:`f_\infty(X_*) = f_0(X_*) -
\Theta_{*X}\Theta_{XX}^{+}r_0`, and the part of :math:`r_0` in the null space of
:math:`\Theta_{XX}` never decays.

Numerics. One eigendecomposition (float64) serves every time. :math:`1 - d` is never formed by
subtraction: :math:`d = e^{k\log(1 - a\lambda)}` with ``log1p`` for :math:`0\le a\lambda<1`,
:math:`d = (-1)^k e^{k\log(a\lambda - 1)}` for :math:`1 < a\lambda < 2` (oscillating, still
converging), and :math:`1 - d` from ``expm1``. The outputs are :math:`E r_0` (the residual,
whose square is the loss: no cancellation between f and y), :math:`f_0 - (I - E)r_0` (exactly
:math:`f_0` at t = 0) and :math:`f_0(X_*) - \Theta_{*X}\Psi r_0` with :math:`E = V\mathrm{diag}
(d)V^\top`, :math:`\Psi = V\mathrm{diag}(\psi)V^\top`; :math:`\Theta^{-1}` is never formed.
Eigenvalues within round-off of zero, :math:`\lambda\le P\epsilon\lambda_{\max}` (the
``rcond`` of ``numpy.linalg.pinv``), are the null space: there :math:`d = 1` and
:math:`\psi = ak` (:math:`bT`; 0 at :math:`T = \infty`, the pseudo-inverse). Tiny negative
eigenvalues are clipped; clearly negative ones are refused (not a kernel). For
:math:`a\lambda_{\max}\ge 2` the discrete iterates do not converge (the stability edge
:math:`\eta_{\max} = PC\gamma^2/(\rho\lambda_{\max})`, :func:`kernel_eta_max`): refused on
concrete inputs; under ``jit``/``vmap``, or with ``check=False``, the exact growing iterates are
returned with the flag ``diverges`` (once they overflow float64 they are ±inf or NaN, never
without the flag).

Derivatives. With respect to :math:`\Theta_{XX}` the derivative of each matrix function
:math:`g(\Theta)` (g = d, 1 - d, ψ) is the Daleckii–Krein formula
:math:`V\bigl[g^{[1]}\circ(V^\top d\Theta\,V)\bigr]V^\top`,
:math:`g^{[1]}_{ij} = (g(\lambda_i) - g(\lambda_j))/(\lambda_i - \lambda_j)` (:math:`g'` on the
diagonal and, through the trapezoid rule, for eigenvalues closer than 1e-5 of g's local scale),
so it is correct for repeated eigenvalues and null spaces, where ``eigh``'s own derivative is
NaN or wrong. At finite t the null space is a genuine zero eigenvalue (:math:`g'(0)` of the
smooth functions); at :math:`T = \infty` the derivative is that of the pseudo-inverse, valid for
perturbations that keep the rank. Derivatives w.r.t. y, :math:`f_0`, η, γ, ρ, the rate, the
times and :math:`\Theta_{*X}` are exact.

Precision. With ``jax_enable_x64`` on (``lazyrich.set_precision("float64")``) everything is JAX
float64: ``jit``-, ``vmap``- and ``grad``-able. With it off, concrete inputs are computed in
float64 all the same and returned as NumPy float64 arrays; traced inputs are refused (float64 is
unavailable inside such a trace, and float32 loses the small eigenvalues).
"""

import dataclasses
import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from lazyrich._checks import concrete

_F64 = jnp.float64
#: Negative eigenvalues down to ``-PSD_RTOL_FACTOR * P * eps * lambda_max`` (``eps`` of the
#: kernel's dtype) are round-off and are clipped to 0; below that the matrix is not a kernel.
#: The same multiple of ``P * eps * max|K|`` bounds its asymmetry.
PSD_RTOL_FACTOR = 100.0
TRAINABLE = ("all", "readout")


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["t", "train", "test", "loss", "rate", "diverges"],
                   meta_fields=["discrete"])
@dataclasses.dataclass(frozen=True)
class KernelDynamics:
    r"""Predictions of linear (kernel) dynamics at the requested steps or times (a pytree).

    Shapes: ``n_t`` is the length of ``steps``/``times`` (absent for a scalar); C is absent when
    ``y_train`` was 1-D.

    Attributes:
        t: the steps (integers, discrete GD) or times :math:`T` (gradient flow), as given.
        train: :math:`f(X)`, shape ``(n_t, P, C)``.
        test: :math:`f(X_*)`, ``(n_t, Q, C)``, or None without ``k_test_train``.
        loss: training loss :math:`\frac1{PC}\sum(f - y)^2` (no ½), ``(n_t,)``, computed from
            the spectrum (no cancellation between f and y).
        rate: the per-step factor a (discrete) or the flow rate b actually used.
        diverges: True where :math:`a\lambda_{\max}\ge 2` (discrete GD does not converge; the
            values are the exact iterates); always False for gradient flow.
        discrete: True for discrete GD (static).
    """

    t: jax.Array
    train: jax.Array
    test: jax.Array | None
    loss: jax.Array
    rate: jax.Array
    diverges: jax.Array
    discrete: bool


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["t", "train_mean", "train_cov", "test_mean", "test_cov",
                                "loss_mean", "rate", "diverges"],
                   meta_fields=["discrete", "trainable"])
@dataclasses.dataclass(frozen=True)
class KernelEnsemble:
    r"""Mean and covariance of the predictions over random initial functions (a pytree).

    Outputs are independent with one shared covariance, so covariances are P×P (Q×Q), the same
    for every output column (the covariance between different outputs is 0).

    Attributes:
        t: steps or times, as given.
        train_mean: :math:`\mathbb E f(X)`, ``(n_t, P, C)`` (C absent for 1-D ``y_train``).
        train_cov: :math:`\mathrm{Cov} f(X)`, ``(n_t, P, P)``.
        test_mean, test_cov: the same on the test inputs, ``(n_t, Q, C)`` and ``(n_t, Q, Q)``,
            or None without test kernels.
        loss_mean: the expected training loss
            :math:`\frac1{PC}\bigl(\|\mathbb E f - y\|_F^2 + C\,\mathrm{tr}\,\mathrm{Cov}\bigr)`,
            ``(n_t,)``.
        rate, diverges, discrete: as in :class:`KernelDynamics`.
        trainable: ``"all"`` or ``"readout"`` (static).
    """

    t: jax.Array
    train_mean: jax.Array
    train_cov: jax.Array
    test_mean: jax.Array | None
    test_cov: jax.Array | None
    loss_mean: jax.Array
    rate: jax.Array
    diverges: jax.Array
    discrete: bool
    trainable: str


# ---------------------------------------------------------------------------------------------
# Validation (house style: errors name the argument and what was expected)
# ---------------------------------------------------------------------------------------------


def _real_dtype(name, x):
    dt = x.dtype if hasattr(x, "dtype") else None
    if dt is None:
        try:
            dt = np.asarray(x).dtype
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of real numbers, got "
                            f"{type(x).__name__}") from None
    if dt.kind == "b" or not (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer)):
        raise TypeError(f"{name} must hold real numbers (a floating or integer dtype), got dtype "
                        f"{dt}")
    return np.dtype(dt)


def _eps_of(dt) -> float:
    """Round-off unit of the data: its own dtype's eps (integers are exact: float64's)."""
    return float(np.finfo(dt).eps) if np.issubdtype(dt, np.floating) else float(np.finfo(
        np.float64).eps)


def _array(name, x, shape, meaning):
    """A real array of exactly ``shape`` (None entries: any size >= 1), finite when concrete."""
    _real_dtype(name, x)
    s = np.shape(x)
    if len(s) != len(shape) or any(w is not None and w != g for w, g in zip(shape, s,
                                                                            strict=True)):
        want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + (
            ",)" if len(shape) == 1 else ")")
        raise ValueError(f"{name} must have shape {want} ({meaning}), got shape {s}")
    if any(g < 1 for g in s):
        raise ValueError(f"{name} must not be empty ({meaning}), got shape {s}")
    v = concrete(x)
    if v is not None and not np.all(np.isfinite(v)):
        bad = int(v.size - np.count_nonzero(np.isfinite(v)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); {name} must "
                         f"be finite")


def _kernel(name, k, P=None):
    """A square real kernel; symmetric within round-off when concrete. Returns (P, eps)."""
    _array(name, k, (P, P) if P is not None else (None, None), "a square kernel matrix")
    n = np.shape(k)[0]
    if np.shape(k)[1] != n:
        raise ValueError(f"{name} must be square (P, P), got shape {np.shape(k)}")
    eps = _eps_of(_real_dtype(name, k))
    v = concrete(k)
    if v is not None:
        v = v.astype(np.float64)
        scale = float(np.max(np.abs(v)))
        asym = float(np.max(np.abs(v - v.T)))
        tol = PSD_RTOL_FACTOR * n * eps * scale
        if asym > tol:
            raise ValueError(f"{name} must be symmetric (a kernel matrix): max|K - K^T| = "
                             f"{asym:.3g} exceeds the round-off tolerance {tol:.3g} "
                             f"({PSD_RTOL_FACTOR:g}*P*eps*max|K|)")
    return n, eps


def _scalar(name, v, *, allow_zero=False):
    """A real scalar (a tracer passes unchecked); > 0 (or >= 0) and finite when concrete."""
    if isinstance(v, bool | np.bool_ | str | bytes) or v is None:
        raise TypeError(f"{name} must be a real number, got {type(v).__name__} {v!r}")
    _real_dtype(name, v)
    if np.ndim(v) != 0:
        raise ValueError(f"{name} must be a scalar (use jax.vmap for many values), got shape "
                         f"{np.shape(v)}")
    c = concrete(v)
    if c is not None:
        f = float(c)
        rel = ">= 0" if allow_zero else "> 0"
        if not math.isfinite(f) or (f < 0 if allow_zero else f <= 0):
            raise ValueError(f"{name} must be finite and {rel}, got {v!r}")


def _steps(steps):
    dt = getattr(steps, "dtype", None)
    if dt is None:
        if isinstance(steps, bool) or (isinstance(steps, numbers.Real)
                                       and not isinstance(steps, numbers.Integral)):
            raise TypeError(f"steps must be non-negative integers (the GD step counts), got "
                            f"{steps!r}")
        try:
            dt = np.asarray(steps).dtype
        except (TypeError, ValueError):
            raise TypeError(f"steps must be non-negative integers, got {steps!r}") from None
    if np.dtype(dt).kind == "b" or not np.issubdtype(dt, np.integer):
        raise TypeError(f"steps must be non-negative integers (an integer dtype; e.g. "
                        f"np.arange(0, 101, 10)), got dtype {dt}")
    if np.ndim(steps) > 1:
        raise ValueError(f"steps must be a scalar or 1-D, got shape {np.shape(steps)}")
    v = concrete(steps)
    if v is not None and np.any(v < 0):
        raise ValueError(f"steps must be non-negative integers, got min {int(v.min())}")


def _times(times):
    _real_dtype("times", times)
    if isinstance(times, bool | np.bool_):
        raise TypeError(f"times must be real numbers, got {times!r}")
    if np.ndim(times) > 1:
        raise ValueError(f"times must be a scalar or 1-D, got shape {np.shape(times)}")
    v = concrete(times)
    if v is not None and (np.any(np.isnan(v)) or np.any(v < 0)):
        raise ValueError(f"times must be non-negative (inf allowed: the kernel-regression "
                         f"limit) and not NaN, got {v.tolist() if v.size < 8 else 'offending'} "
                         f"entries")


def _clock(steps, times, eta, gamma, rho, rate):
    """Which dynamics and which rate parameters; returns ``discrete``."""
    if (steps is None) == (times is None):
        raise ValueError("give exactly one of steps (discrete GD: integer step counts, with eta) "
                         "and times (gradient flow: T = eta*steps, may be inf)")
    discrete = steps is not None
    if discrete:
        _steps(steps)
    else:
        _times(times)
    if rate is not None:
        given = [n for n, v in (("eta", eta), ("gamma", gamma), ("rho", rho)) if v is not None]
        if given:
            raise ValueError(f"give either rate (the factor multiplying Theta (f - y)) or the "
                             f"engine's eta/gamma/rho, not both; got rate and {given}")
        _scalar("rate", rate)
        return discrete
    if discrete and eta is None:
        raise ValueError("discrete GD (steps=...) needs eta, the engine's learning rate (or "
                         "rate, the per-step factor a)")
    if not discrete and eta is not None:
        raise ValueError("gradient flow (times=...) takes no eta: times are the engine's "
                         "T = eta*steps already; for discrete GD pass steps=... with eta")
    if eta is not None:
        _scalar("eta", eta)
    for name, v in (("gamma", gamma), ("rho", rho)):
        if v is not None:
            _scalar(name, v)
    return discrete


def _targets(y_train, P):
    _real_dtype("y_train", y_train)
    if np.ndim(y_train) not in (1, 2):
        raise ValueError(f"y_train must have shape (P,) or (P, C) with P = {P} (the kernel's "
                         f"size), got shape {np.shape(y_train)}")
    shape = (P,) if np.ndim(y_train) == 1 else (P, None)
    _array("y_train", y_train, shape, f"targets on the P = {P} training inputs")
    return 1 if np.ndim(y_train) == 1 else np.shape(y_train)[1]


def _traced(*xs) -> bool:
    return any(x is not None and concrete(x) is None for x in jax.tree.leaves(xs))


def _in_float64(fn, *args):
    """Run ``fn`` in float64 whatever the global flag (module docstring, Precision)."""
    if jax.config.jax_enable_x64:
        return fn(*args)
    if _traced(*args):
        raise ValueError("kernel dynamics need float64 and jax_enable_x64 is off: under jit, vmap "
                         "or grad enable it first (lazyrich.set_precision('float64'))")
    with jax.enable_x64(True):
        out = fn(*args)
        return jax.tree.map(np.asarray, out)


# ---------------------------------------------------------------------------------------------
# The spectral factors d and psi
# ---------------------------------------------------------------------------------------------


def _eig(K, cut_rel):
    """Eigenpairs of the symmetrised K; eigenvalues clipped at 0; a null mask (λ <= cut)."""
    K = 0.5 * (K + K.T)
    lam_raw, V = jnp.linalg.eigh(K)
    lam_max = jnp.maximum(jnp.max(lam_raw), 0.0)
    null = lam_raw <= cut_rel * lam_max
    lam = jnp.where(null, 0.0, lam_raw)
    return lam, V, null, lam_raw


def _power(u, k):
    r""":math:`(1-u)^k` for u >= 0 and integer k >= 0 (broadcast), without 0·log 0, with
    ``log1p`` on both sides of u = 1. Returns the value, :math:`k\log|1-u|` (finite stand-in at
    u = 1) and the sign flag of :math:`(-1)^k` for u > 1."""
    below = u < 1.0
    at_one = u == 1.0
    # log|1 - u| = log1p(-u) (u < 1) or log1p(u - 2) (u > 1): accurate near u = 0 and u = 2
    logabs = jnp.log1p(jnp.where(at_one, 0.0, jnp.where(below, -u, u - 2.0)))
    kl = k.astype(_F64) * logabs
    e = jnp.exp(kl)
    flip = (~below) & (k % 2 == 1)
    value = jnp.where(flip, -e, e)
    return jnp.where(at_one, (k == 0).astype(_F64), value), kl, flip, at_one


def _factors(lam, null, t, rate, discrete):
    r""":math:`d(t,\lambda)`, :math:`1 - d` and :math:`\psi = (1-d)/\lambda`, each ``(n_t, P)``."""
    lam_s = jnp.where(null, 1.0, lam)[None, :]        # safe divisor: no 0/0 in any branch
    if discrete:
        k = t[:, None]
        kf = k.astype(_F64)
        d, kl, flip, at_one = _power(rate * lam[None, :], k)   # a·λ >= 0 (0 on the null space)
        e = jnp.exp(kl)
        one_minus_d = jnp.where(flip, 1.0 + e, -jnp.expm1(kl))
        one_minus_d = jnp.where(at_one, 1.0 - d, one_minus_d)
        psi = one_minus_d / lam_s
        d = jnp.where(null[None, :], 1.0, d)
        one_minus_d = jnp.where(null[None, :], 0.0, one_minus_d)
        psi = jnp.where(null[None, :], rate * kf, psi)
        return d, one_minus_d, psi
    T = t[:, None]
    inf = jnp.isinf(T)
    Ts = jnp.where(inf, 0.0, T)                       # finite stand-in: no inf·0 in gradients
    z = rate * lam[None, :] * Ts
    d = jnp.where(inf, 0.0, jnp.exp(-z))
    one_minus_d = jnp.where(inf, 1.0, -jnp.expm1(-z))
    psi = one_minus_d / lam_s
    d = jnp.where(null[None, :], 1.0, d)
    one_minus_d = jnp.where(null[None, :], 0.0, one_minus_d)
    psi = jnp.where(null[None, :], jnp.where(inf, 0.0, rate * Ts), psi)
    return d, one_minus_d, psi


# Divided differences of g(λ) switch to the trapezoid (g'(λ_i) + g'(λ_j))/2 when |λ_i - λ_j| is
# below _CLOSE times g's local scale of variation: the direct quotient then loses
# ~eps/_CLOSE, the trapezoid ~_CLOSE² (relative), both ~1e-10 or better.
_CLOSE = 1e-5


def _dphi1(w):
    r""":math:`\varphi_1'(w)` for :math:`\varphi_1(w) = (e^w - 1)/w`, w <= 0: a Taylor series
    near 0 (no cancellation), the closed form :math:`(e^w(w-1)+1)/w^2` elsewhere."""
    small = jnp.abs(w) < 1e-2
    ws = jnp.where(small, 1.0, w)
    series = 0.5 + w * (1 / 3 + w * (1 / 8 + w * (1 / 30 + w * (1 / 144 + w / 840))))
    return jnp.where(small, series, (jnp.exp(ws) * (ws - 1.0) + 1.0) / (ws * ws))


def _derivatives(lam, null, t, rate, discrete, factors):
    r"""For g = d, 1 - d, ψ: (g, ∂g/∂λ, ∂g/∂c, local scale ℓ in λ units), each ``(n_t, P)``.

    The clock c is the rate a for discrete GD and :math:`z = bT` for the flow. Derivatives at
    :math:`\lambda = 0` are those of the smooth functions (the null space is a genuine zero
    eigenvalue at finite t); at :math:`T = \infty` they are those of the pseudo-inverse
    (0 on the null space)."""
    d, omd, psi = factors
    lam_r = lam[None, :]
    lam_s = jnp.where(null, 1.0, lam)[None, :]
    if discrete:
        k = t[:, None]
        kf = k.astype(_F64)
        u = rate * lam_r
        pk1 = _power(u, jnp.maximum(k - 1, 0))[0]
        kp = kf * pk1                                   # k (1 - u)^{k-1}
        d_l = -rate * kp
        # ψ = a Σ_{j<k} (1-u)^j = a Σ_m (-u)^m C(k, m+1), so near u = 0 (no cancellation)
        # ψ' = a² Σ_{m>=1} (-1)^m m C(k, m+1) u^{m-1}
        c = kf * (kf - 1.0) / 2.0
        series, upow = -c, jnp.ones_like(u)
        for m in range(2, 10):
            c = c * (kf - m) / (m + 1)
            upow = upow * u
            series = series + (-1.0) ** m * m * c * upow
        small = kf * u < 1e-2
        psi_l = jnp.where(small, rate * rate * series, (rate * kp - psi) / lam_s)
        d_c, psi_c = -lam_r * kp, kp
        kk = jnp.where(kf > 0, kf, 1.0)
        ell = jnp.where(kf > 0, jnp.maximum(jnp.abs(1.0 - u), 1.0 / kk) / (kk * rate), jnp.inf)
    else:
        T = t[:, None]
        inf = jnp.isinf(T)
        z = rate * jnp.where(inf, 0.0, T)
        e = jnp.exp(-z * lam_r)
        d_l = jnp.where(inf, 0.0, -z * e)
        psi_l = jnp.where(inf, jnp.where(null[None, :], 0.0, -1.0 / (lam_s * lam_s)),
                          -z * z * _dphi1(-z * lam_r))
        d_c = jnp.where(inf, 0.0, -lam_r * e)
        psi_c = jnp.where(inf, 0.0, e)
        ell = jnp.where(inf, 0.0, jnp.where(z > 0, 1.0 / jnp.where(z > 0, z, 1.0), jnp.inf))
    ell_psi = jnp.maximum(ell, lam_r)
    return ((d, d_l, d_c, ell), (omd, -d_l, -d_c, ell), (psi, psi_l, psi_c, ell_psi))


def _divided(lam, g, g_l, ell):
    r"""Daleckii–Krein matrix :math:`(g(\lambda_i) - g(\lambda_j))/(\lambda_i - \lambda_j)`
    (:math:`g'` on the diagonal and for close pairs), ``(n_t, P, P)``."""
    diff = lam[:, None] - lam[None, :]
    scale = jnp.minimum(ell[:, :, None], ell[:, None, :])
    close = jnp.abs(diff)[None] <= _CLOSE * scale
    quotient = (g[:, :, None] - g[:, None, :]) / jnp.where(close, 1.0, diff[None])
    return jnp.where(close, 0.5 * (g_l[:, :, None] + g_l[:, None, :]), quotient)


def _apply(V, g, VR):
    return jnp.einsum("pi,ti,im->tpm", V, g, VR)


@functools.partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _matfun(K, t, rate, R, cut_rel, discrete):
    r""":math:`g(\Theta)R` for g = d, 1 - d, ψ at every t (each ``(n_t, P, M)``), and the raw
    eigenvalues. Its derivative w.r.t. the kernel is the Daleckii–Krein formula
    :math:`V[(g[\lambda_i,\lambda_j])\circ(V^\top d\Theta V)]V^\top`, defined for repeated
    eigenvalues too (``eigh``'s own derivative is not)."""
    lam, V, null, lam_raw = _eig(K, cut_rel)
    d, omd, psi = _factors(lam, null, t, rate, discrete)
    VR = V.T @ R
    return _apply(V, d, VR), _apply(V, omd, VR), _apply(V, psi, VR), lam_raw


def _matfun_jvp(cut_rel, discrete, primals, tangents):
    K, t, rate, R = primals
    dK, dt, drate, dR = tangents
    lam, V, null, lam_raw = _eig(K, cut_rel)
    factors = _factors(lam, null, t, rate, discrete)
    VR = V.T @ R
    out = tuple(_apply(V, g, VR) for g in factors) + (lam_raw,)

    def zero(x):
        return isinstance(x, SymbolicZero)

    M = None if zero(dK) else V.T @ (0.5 * (dK + dK.T)) @ V
    if discrete:
        dc = None if zero(drate) else drate
    else:
        T = t[:, None]
        inf = jnp.isinf(T)
        parts = []
        if not zero(drate):
            parts.append(jnp.where(inf, 0.0, T) * drate)
        if not zero(dt):
            parts.append(jnp.where(inf, 0.0, rate * dt[:, None]))
        dc = sum(parts[1:], parts[0]) if parts else None
    dVR = None if zero(dR) else V.T @ dR
    n_t, P, m = t.shape[0], lam.shape[0], R.shape[1]
    tangent_out = []
    for g, g_l, g_c, ell in _derivatives(lam, null, t, rate, discrete, factors):
        inner = jnp.zeros((n_t, P, m), _F64)
        if M is not None:
            inner = inner + jnp.einsum("tij,jm->tim", _divided(lam, g, g_l, ell) * M[None], VR)
        if dc is not None:
            inner = inner + (g_c * dc)[:, :, None] * VR[None]
        if dVR is not None:
            inner = inner + g[:, :, None] * dVR[None]
        tangent_out.append(jnp.einsum("pi,tim->tpm", V, inner))
    dlam = jnp.zeros_like(lam_raw) if M is None else jnp.diagonal(M)
    return out, (*tangent_out, dlam)


_matfun.defjvp(_matfun_jvp, symbolic_zeros=True)


def _diverges(lam_raw, rate, discrete):
    if not discrete:
        return jnp.zeros((), bool)
    return ~(rate * jnp.maximum(jnp.max(lam_raw), 0.0) < 2.0)


@functools.partial(jax.jit, static_argnames=("cut_rel", "discrete"))
def _dynamics_core(K, Kst, y, f0, f0s, t, rate, cut_rel, discrete):
    P, C = y.shape
    # E r0 (the residual), (I − E) r0 and Ψ r0; f = f0 − (I − E) r0 is exactly f0 at t = 0,
    # and the loss is formed from the residual itself (no cancellation between f and y)
    Xd, Xomd, Xpsi, lam_raw = _matfun(K, t, rate, f0 - y, cut_rel, discrete)
    train = f0[None] - Xomd
    loss = jnp.sum(Xd * Xd, axis=(1, 2)) / (P * C)
    test = None
    if Kst is not None:
        test = f0s[None] - jnp.einsum("qp,tpc->tqc", Kst, Xpsi)
    return train, test, loss, lam_raw, _diverges(lam_raw, rate, discrete)


@functools.partial(jax.jit, static_argnames=("cut_rel", "discrete", "readout"))
def _ensemble_core(K, S, Kst, Sst, Sss, y, t, rate, s2, cut_rel, discrete, readout):
    r"""Lee et al. (2019) mean and covariance; ``readout``: K is Σ itself (simplified form)."""
    P, C = y.shape
    E, Omd, Psi, lam_raw = _matfun(K, t, rate, jnp.eye(P, dtype=_F64), cut_rel, discrete)
    Ey = E @ y                                        # E_k y, (n_t, P, C)
    train_mean = Omd @ y                              # (I − E_k) y
    train_cov = s2 * (E @ S @ E)                      # s0² E Σ E (E symmetric)
    train_cov = 0.5 * (train_cov + jnp.swapaxes(train_cov, 1, 2))
    tr = jnp.trace(train_cov, axis1=1, axis2=2)
    loss_mean = (jnp.sum(Ey * Ey, axis=(1, 2)) + C * tr) / (P * C)
    test_mean = test_cov = None
    if Kst is not None:
        A = jnp.einsum("qp,tpr->tqr", Kst, Psi)      # A_k = Θ_*X Ψ_k
        test_mean = A @ y
        if readout:
            # s0²[Σ** − Σ_*X Ψ (I + E) Σ_X*]: (1 − d²)/λ = ψ (1 + d), no cancellation
            cov = Sss[None] - jnp.einsum("qp,tpr,sr->tqs", Sst, Psi + Psi @ E, Sst)
        else:
            AS = jnp.einsum("tqp,rp->tqr", A, Sst)            # A Σ_X*
            ASA = jnp.einsum("tqp,pr,tsr->tqs", A, S, A)
            cov = Sss[None] + ASA - AS - jnp.swapaxes(AS, 1, 2)
        test_cov = s2 * 0.5 * (cov + jnp.swapaxes(cov, 1, 2))
    return (train_mean, train_cov, test_mean, test_cov, loss_mean, lam_raw,
            _diverges(lam_raw, rate, discrete))


# ---------------------------------------------------------------------------------------------
# Shared front end
# ---------------------------------------------------------------------------------------------


def _rate(discrete, P, C, eta, gamma, rho, rate):
    """a = 2ρη/(PCγ²) or b = 2ρ/(PCγ²) as a float64 scalar (differentiable in its inputs)."""
    if rate is not None:
        return jnp.asarray(rate, _F64)
    g = jnp.asarray(1.0 if gamma is None else gamma, _F64)
    r = jnp.asarray(1.0 if rho is None else rho, _F64)
    out = 2.0 * r / (P * C * g * g)
    return out * jnp.asarray(eta, _F64) if discrete else out


def _clock_array(steps, times, discrete):
    t = jnp.asarray(steps) if discrete else jnp.asarray(times, _F64)
    if discrete and not jnp.issubdtype(t.dtype, jnp.integer):
        t = t.astype(jnp.int64)
    return t


def _check_spectrum(name, lam_raw, P, eps):
    """Refuse clearly negative eigenvalues (concrete only)."""
    v = concrete(lam_raw)
    if v is None:
        return
    top = max(float(np.max(v)), 0.0)
    low = float(np.min(v))
    tol = PSD_RTOL_FACTOR * P * eps * top
    if low < -tol or (top == 0.0 and low < 0.0):
        raise ValueError(f"{name} is not positive semi-definite (not a kernel): its smallest "
                         f"eigenvalue is {low:.3g}, below the round-off tolerance -{tol:.3g} "
                         f"(-{PSD_RTOL_FACTOR:g}*P*eps*lambda_max, lambda_max = {top:.3g})")


def _check_divergence(diverges, lam_raw, rate_arr, rate_given, P, C, gamma, rho, eta):
    if concrete(diverges) is None or not bool(concrete(diverges)):
        return
    lmax = float(np.max(concrete(lam_raw)))
    if rate_given:
        raise ValueError(f"rate = {float(concrete(rate_arr)):.6g} is at or beyond the stability "
                         f"edge of discrete GD: rate*lambda_max = "
                         f"{float(concrete(rate_arr)) * lmax:.6g} >= 2 (rate_max = 2/lambda_max "
                         f"= {2.0 / lmax:.6g}); the iterates do not converge. Use a smaller rate, "
                         f"times=... for gradient flow, or check=False for the exact diverging "
                         f"iterates (flagged diverges=True)")
    g = 1.0 if gamma is None else float(concrete(gamma))
    r = 1.0 if rho is None else float(concrete(rho))
    eta_max = P * C * g * g / (r * lmax)
    raise ValueError(f"eta = {float(concrete(eta)):.6g} is at or beyond the stability edge of "
                     f"discrete GD, eta_max = P*C*gamma^2/(rho*lambda_max) = {eta_max:.6g} "
                     f"(P = {P}, C = {C}, gamma = {g:.6g}, rho = {r:.6g}, lambda_max = "
                     f"{lmax:.6g}; a*lambda_max = {float(concrete(rate_arr)) * lmax:.6g} >= 2): "
                     f"the iterates do not converge. Use eta < eta_max, times=... for gradient "
                     f"flow, or check=False for the exact diverging iterates (flagged "
                     f"diverges=True)")


def _bool_arg(name, v):
    if not isinstance(v, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {v!r}")


def _unshape(x, scalar_t, vector_y):
    """Drop the time axis (scalar t) and the output axis (1-D y) the caller did not ask for."""
    if x is None:
        return None
    if vector_y:
        x = x[..., 0]
    return x[0] if scalar_t else x


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def kernel_dynamics(k_train_train, y_train, *, steps=None, times=None, eta=None, gamma=None,
                    rho=None, rate=None, k_test_train=None, f0_train=None, f0_test=None,
                    check: bool = True) -> KernelDynamics:
    r"""Exact predictions of MSE training with a fixed kernel: discrete GD or gradient flow.

    Solves :math:`f_{k+1} = f_k - a\,\Theta(f_k - y)` at integer steps k, or
    :math:`df/dT = -b\,\Theta(f - y)` at times T (any :math:`T\le\infty`), on the training
    inputs X and, through :math:`\Theta_{*X}`, on test inputs :math:`X_*` (module docstring for
    the closed forms and their stable evaluation).

    **Which kernel, which units.** To overlay a run of the engine (centred μP-γ network, loss
    mean over P and C without ½, step :math:`N\eta`) pass the engine's own numbers:

    * ``k_train_train`` :math:`=\Theta_{XX}` = ``theory.mlp_kernels(x_train, depth=L,
      activation=...).ntk`` (NTK parametrisation, :math:`\sigma_w = 1,\ \sigma_b = 0`), and
      ``k_test_train`` = ``theory.mlp_kernels(x_test, x_train, ...).ntk`` (shape (Q, P));
    * ``steps`` = the logged steps with the run's ``eta``, ``gamma``; or ``times`` = η·steps
      for gradient flow (no ``eta``);
    * ``rho`` = N / readout fan-in: 1 for the MLP (default), 1/8 for the ConvNet.

    Then :math:`a = 2\rho\eta/(PC\gamma^2)` and :math:`b = 2\rho/(PC\gamma^2)`. Other
    parametrisations: map their (γ, η) to μP first (``sims.to_mup``); the ``"mup"`` kernel of
    ``mlp_kernels`` (:math:`\Theta/\gamma^2`) goes with ``gamma=1``. Without the engine, pass
    ``rate`` (a or b) and your own time units. neural-tangents'
    ``gradient_descent_mse(Θ, y, learning_rate=lr)`` (loss with ½) at time t is
    ``times=t`` with ``rate = lr/(P*C)``; the engine corresponds to ``lr = 2ρη/γ²``,
    ``t = steps``.

    How close a run comes: a centred μP erf MLP at γ = 1e-3 (P = 8, aλ_max = 0.5) follows the
    discrete prediction with a per-seed RMS gap ≈ :math:`N^{-1/2}` (the finite-width kernel's
    fluctuation at initialisation); the flow prediction misses such a run by O(aλ) per step, so
    compare runs with ``steps``. At larger γ the gap grows as :math:`\gamma^2` (seed mean) plus
    an odd :math:`O(\gamma N^{-1/2})` part per seed.

    Example::

        K = theory.mlp_kernels(x_train, depth=2, activation="erf").ntk
        Ks = theory.mlp_kernels(x_test, x_train, depth=2, activation="erf").ntk
        r = sims.train(cfg, gamma=1e-3, eta=eta)            # cfg: full_batch=True, centred
        pred = kernel_dynamics(K, y_train, steps=r.steps, eta=eta, gamma=1e-3, k_test_train=Ks)
        pred.loss  # overlays r.loss (full-batch: the training loss at the logged steps)

    Args:
        k_train_train: :math:`\Theta_{XX}`, (P, P), symmetric positive semi-definite (within
            round-off: asymmetry up to ``100*P*eps*max|K|`` and negative eigenvalues down to
            ``-100*P*eps*lambda_max`` are tolerated; eps of its dtype).
        y_train: targets, (P,) or (P, C); the outputs share the kernel.
        steps: integer step counts k >= 0 (scalar or 1-D): discrete GD. Needs ``eta`` or
            ``rate``.
        times: times T >= 0 (scalar or 1-D; ``inf`` is the kernel-regression limit): gradient
            flow. Give exactly one of ``steps``, ``times``.
        eta, gamma, rho: the engine's learning rate (discrete only), γ (default 1) and
            :math:`\rho` (default 1), all > 0.
        rate: instead of (eta, gamma, rho): a (discrete) or b (flow) directly, > 0.
        k_test_train: :math:`\Theta_{*X}`, (Q, P), for test predictions.
        f0_train, f0_test: the initial function on X and :math:`X_*` (shapes of ``y_train`` with
            P or Q rows); default 0, the centred engine.
        check: on concrete inputs, refuse (ValueError) discrete GD at or beyond the stability
            edge (:math:`a\lambda_{\max}\ge 2`, :func:`kernel_eta_max`). ``False`` returns the
            exact, non-converging iterates with ``diverges=True`` (once they overflow float64
            they are ±inf or NaN). Under ``jit``/``vmap`` nothing can be refused: read
            ``diverges``.

    Returns:
        :class:`KernelDynamics` (``train``, ``test``, ``loss``, ``rate``, ``diverges``).

    Differentiable (float64, ``jax_enable_x64`` on) w.r.t. every array argument: ``y_train``,
    ``f0_*``, ``eta``, ``gamma``, ``rho``, ``rate``, ``times``, ``k_test_train`` and
    ``k_train_train`` (Daleckii–Krein, correct for repeated eigenvalues and null spaces; at
    ``times=inf`` with a null space, for rank-preserving perturbations: module docstring), and
    vmappable over any of them (over ``eta`` or ``times`` the eigendecomposition is done once).
    Integer ``steps`` have no derivative.

    Raises:
        ValueError: wrong shapes, non-finite values, a non-symmetric or clearly indefinite
            kernel, eta/gamma/rho/rate not > 0, negative steps or times, both or neither of
            steps/times, discrete GD at or beyond the stability edge (with ``check``).
        TypeError: non-real arrays, non-integer steps.
    """
    _bool_arg("check", check)
    P, eps = _kernel("k_train_train", k_train_train)
    C = _targets(y_train, P)
    discrete = _clock(steps, times, eta, gamma, rho, rate)
    vector_y = np.ndim(y_train) == 1
    yshape = "(P,)" if vector_y else f"(P, {C})"
    if f0_train is not None:
        _array("f0_train", f0_train, np.shape(y_train), f"the initial function on X, like "
               f"y_train {yshape}")
    if k_test_train is not None:
        _array("k_test_train", k_test_train, (None, P), f"Theta between the Q test and the "
               f"P = {P} training inputs")
        Q = np.shape(k_test_train)[0]
        if f0_test is not None:
            _array("f0_test", f0_test, (Q,) if vector_y else (Q, C),
                   f"the initial function on the Q = {Q} test inputs")
    elif f0_test is not None:
        raise ValueError("f0_test needs k_test_train (test predictions need the test-train "
                         "kernel)")
    scalar_t = np.ndim(steps if discrete else times) == 0

    def run(K, Kst, y, f0, f0s, steps, times, eta, gamma, rho, rate):
        K = jnp.asarray(K, _F64)
        y2 = jnp.asarray(y, _F64).reshape(P, C)
        f02 = jnp.zeros_like(y2) if f0 is None else jnp.asarray(f0, _F64).reshape(P, C)
        Kst2 = None if Kst is None else jnp.asarray(Kst, _F64)
        f0s2 = None
        if Kst2 is not None:
            f0s2 = (jnp.zeros((Kst2.shape[0], C), _F64) if f0s is None
                    else jnp.asarray(f0s, _F64).reshape(-1, C))
        t = _clock_array(steps, times, discrete)
        a = _rate(discrete, P, C, eta, gamma, rho, rate)
        train, test, loss, lam_raw, div = _dynamics_core(
            K, Kst2, y2, f02, f0s2, t.reshape(-1), a, P * eps, discrete)
        return (t, _unshape(train, scalar_t, vector_y), _unshape(test, scalar_t, vector_y),
                loss[0] if scalar_t else loss, a, div, lam_raw)

    t, train, test, loss, a, div, lam_raw = _in_float64(
        run, k_train_train, k_test_train, y_train, f0_train, f0_test, steps, times, eta, gamma,
        rho, rate)
    _check_spectrum("k_train_train", lam_raw, P, eps)
    if check:
        _check_divergence(div, lam_raw, a, rate is not None, P, C, gamma, rho, eta)
    return KernelDynamics(t, train, test, loss, a, div, discrete)


def kernel_ensemble(nngp_train_train, y_train, *, init_variance, trainable: str = "all",
                    ntk_train_train=None, ntk_test_train=None, nngp_test_train=None,
                    nngp_test_test=None, steps=None, times=None, eta=None, gamma=None, rho=None,
                    rate=None, check: bool = True) -> KernelEnsemble:
    r"""Mean and covariance of kernel-dynamics predictions over random initial functions.

    Lee et al. (2019), "Wide neural networks of any depth evolve as linear models under gradient
    descent": at infinite width the NTK :math:`\Theta` is deterministic and the only randomness
    is the initial function :math:`f_0\sim\mathcal{GP}(0, s_0^2\Sigma)`, :math:`\Sigma` the NNGP
    (independent across outputs). With :math:`E_k = V\mathrm{diag}(d_k)V^\top` and
    :math:`A_k = \Theta_{*X}V\mathrm{diag}(\psi_k)V^\top = \Theta_{*X}\Theta_{XX}^{-1}(I - E_k)`
    (:math:`\Theta^{-1}` is never formed; :func:`kernel_dynamics` for d, ψ and the units):

    .. math::
        \mathbb E f_k(X) = (I - E_k)y,\qquad \mathrm{Cov} f_k(X) = s_0^2E_k\Sigma_{XX}E_k,

        \mathbb E f_k(X_*) = A_ky,\qquad
        \mathrm{Cov} f_k(X_*) = s_0^2\bigl[\Sigma_{**} + A_k\Sigma_{XX}A_k^\top
            - A_k\Sigma_{X*} - \Sigma_{*X}A_k^\top\bigr].

    ``trainable="readout"`` (only the last layer learns): the training kernel is the readout
    kernel :math:`\Sigma` itself (:math:`\rho\Sigma/\gamma^2` in function space, the same units
    as :math:`\Theta` in :func:`kernel_dynamics`), E uses its spectrum and the covariance takes
    the GP-posterior-like form (no cancellation)

    .. math::
        \mathrm{Cov} f_k(X_*) = s_0^2\bigl[\Sigma_{**} - \Sigma_{*X}V\mathrm{diag}
            \bigl(\tfrac{1 - d_k^2}{\lambda}\bigr)V^\top\Sigma_{X*}\bigr],\qquad
        \mathbb E f_k(X_*) = \Sigma_{*X}\Sigma_{XX}^{-1}(I - E_k)y,

    the GP posterior at :math:`k\to\infty`; for the readout it holds at any width in
    expectation over the readout weights.

    **Which** :math:`s_0^2` (``init_variance``). The *uncentred* network's
    :math:`f_0 = g(\theta_0)/\gamma`: :math:`s_0^2 = 1/(F_{\rm ro}\gamma^2)` for the μP-γ net
    (readout fan-in :math:`F_{\rm ro}`, = N for the MLP), :math:`1/\gamma_{NTK}^2 =
    1/(N\gamma^2)` for the NTK-parametrised MLP (:math:`\gamma = \gamma_{NTK}/\sqrt N`), 1 for
    neural-tangents' standard parametrisation. The centred engine has :math:`f_0\equiv 0`:
    ``init_variance=0``, zero covariance. At fixed μP γ, :math:`s_0^2 = O(1/N)` is of the same
    order as the effect of the finite-width kernel's fluctuation, which this infinite-width
    formula leaves out: the covariance is the complete leading-order answer in the NTK scaling
    (:math:`s_0^2 = O(1)`). Do not put the NNGP into the mean of full training: the mean uses
    :math:`\Theta`; :math:`\Sigma` enters the covariance (and replaces Θ only for the readout).

    Args:
        nngp_train_train: :math:`\Sigma_{XX}`, (P, P), positive semi-definite.
        y_train: (P,) or (P, C).
        init_variance: :math:`s_0^2\ge 0` (required: the right value depends on the network).
        trainable: ``"all"`` (needs ``ntk_train_train``) or ``"readout"`` (no NTK arguments).
        ntk_train_train: :math:`\Theta_{XX}`, (P, P). ntk_test_train: :math:`\Theta_{*X}`, (Q, P).
        nngp_test_train: :math:`\Sigma_{*X}`, (Q, P). nngp_test_test: :math:`\Sigma_{**}`,
            (Q, Q). Test outputs need both (and ``ntk_test_train`` for ``"all"``).
        steps, times, eta, gamma, rho, rate, check: as in :func:`kernel_dynamics`.

    Returns:
        :class:`KernelEnsemble`.
    """
    _bool_arg("check", check)
    if not isinstance(trainable, str) or trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {TRAINABLE}, got {trainable!r}")
    readout = trainable == "readout"
    P, eps = _kernel("nngp_train_train", nngp_train_train)
    C = _targets(y_train, P)
    discrete = _clock(steps, times, eta, gamma, rho, rate)
    _scalar("init_variance", init_variance, allow_zero=True)
    if readout:
        given = [n for n, v in (("ntk_train_train", ntk_train_train),
                                ("ntk_test_train", ntk_test_train)) if v is not None]
        if given:
            raise ValueError(f"trainable='readout' trains with the readout kernel (the NNGP); "
                             f"{given} would be ignored: leave them out")
    else:
        if ntk_train_train is None:
            raise ValueError("trainable='all' needs ntk_train_train (Theta drives the mean; the "
                             "NNGP enters only the covariance)")
        _, eps_k = _kernel("ntk_train_train", ntk_train_train, P)
        eps = max(eps, eps_k)
    tests = {"nngp_test_train": nngp_test_train, "nngp_test_test": nngp_test_test}
    if not readout:
        tests["ntk_test_train"] = ntk_test_train
    have = [n for n, v in tests.items() if v is not None]
    if have and len(have) != len(tests):
        missing = [n for n in tests if n not in have]
        raise ValueError(f"test predictions need all of {list(tests)}; got {have}, missing "
                         f"{missing}")
    with_test = bool(have)
    if with_test:
        _array("nngp_test_train", nngp_test_train, (None, P),
               f"Sigma between the Q test and P = {P} training inputs")
        Q = np.shape(nngp_test_train)[0]
        _kernel("nngp_test_test", nngp_test_test, Q)
        if not readout:
            _array("ntk_test_train", ntk_test_train, (Q, P),
                   f"Theta between the Q = {Q} test and P = {P} training inputs")
    vector_y = np.ndim(y_train) == 1
    scalar_t = np.ndim(steps if discrete else times) == 0
    train_kernel_name = "nngp_train_train" if readout else "ntk_train_train"

    def run(S, K, Kst, Sst, Sss, y, s2, steps, times, eta, gamma, rho, rate):
        S = jnp.asarray(S, _F64)
        K = S if readout else jnp.asarray(K, _F64)
        y2 = jnp.asarray(y, _F64).reshape(P, C)
        t = _clock_array(steps, times, discrete)
        a = _rate(discrete, P, C, eta, gamma, rho, rate)
        if with_test:
            Sst = jnp.asarray(Sst, _F64)
            Kst = Sst if readout else jnp.asarray(Kst, _F64)
            Sss = jnp.asarray(Sss, _F64)
        out = _ensemble_core(K, S, Kst, Sst, Sss, y2, t.reshape(-1), a,
                             jnp.asarray(s2, _F64), P * eps, discrete, readout)
        mtr, ctr, mte, cte, lm, lam_raw, div = out

        def cov_t(c):
            return None if c is None else (c[0] if scalar_t else c)

        return (t, _unshape(mtr, scalar_t, vector_y), cov_t(ctr),
                _unshape(mte, scalar_t, vector_y), cov_t(cte), lm[0] if scalar_t else lm, a,
                div, lam_raw)

    out = _in_float64(run, nngp_train_train, None if readout else ntk_train_train,
                      ntk_test_train, nngp_test_train, nngp_test_test, y_train, init_variance,
                      steps, times, eta, gamma, rho, rate)
    t, mtr, ctr, mte, cte, lm, a, div, lam_raw = out
    _check_spectrum(train_kernel_name, lam_raw, P, eps)
    if not readout:
        v = concrete(nngp_train_train)
        if v is not None:
            _check_spectrum("nngp_train_train", np.linalg.eigvalsh(
                0.5 * (v + v.T).astype(np.float64)), P, eps)
    if check:
        _check_divergence(div, lam_raw, a, rate is not None, P, C, gamma, rho, eta)
    return KernelEnsemble(t, mtr, ctr, mte, cte, lm, a, div, discrete, trainable)


def kernel_eta_max(k_train_train, *, gamma=1.0, rho=1.0, num_outputs: int = 1):
    r"""Stability edge of discrete kernel GD in the engine's learning rate:
    :math:`\eta_{\max} = PC\gamma^2/(\rho\lambda_{\max}(\Theta))`.

    GD :math:`f\leftarrow f - a\Theta(f-y)` with :math:`a = 2\rho\eta/(PC\gamma^2)` converges iff
    :math:`a\lambda_{\max} < 2`. For :math:`\eta_{\max}/2 < \eta < \eta_{\max}` the top modes
    still converge with alternating sign. neural-tangents' ``max_learning_rate(ntk, size) =
    2·size/λ_max`` (loss with ½) is the same edge after the map ``lr = 2ρη/γ²``. A zero kernel
    gives ``inf``.

    Args:
        k_train_train: :math:`\Theta_{XX}` (P, P) (units as in :func:`kernel_dynamics`).
        gamma, rho: γ and :math:`\rho` = N/readout fan-in (1 for the MLP, 1/8 for the ConvNet).
        num_outputs: C, the number of output columns (the loss is a mean over them).
    """
    P, eps = _kernel("k_train_train", k_train_train)
    _scalar("gamma", gamma)
    _scalar("rho", rho)
    if (isinstance(num_outputs, bool) or not isinstance(num_outputs, int | np.integer)
            or num_outputs < 1):
        raise ValueError(f"num_outputs must be a positive integer (C), got {num_outputs!r}")
    C = int(num_outputs)

    def run(K, gamma, rho):
        K = jnp.asarray(K, _F64)
        lam = jnp.linalg.eigvalsh(0.5 * (K + K.T))
        lmax = jnp.max(lam)
        g = jnp.asarray(gamma, _F64)
        edge = P * C * g * g / (jnp.asarray(rho, _F64) * jnp.where(lmax > 0, lmax, 1.0))
        return jnp.where(lmax > 0, edge, jnp.inf), lam

    edge, lam = _in_float64(run, k_train_train, gamma, rho)
    _check_spectrum("k_train_train", lam, P, eps)
    return edge
