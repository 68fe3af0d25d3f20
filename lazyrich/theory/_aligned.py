r"""Mode-wise (aligned) exact solutions, timings and limits.

Dominé et al. 2025, Saxe et al. 2014, Kunin et al. 2024 (docs: Linear networks, "Aligned modes"
and "Limits and symmetries").

For an aligned init :math:`W_1 = R\,\mathrm{diag}(c)\tilde V^\top`,
:math:`W_2 = \tilde U\mathrm{diag}(d)R^\top` (Ũ, Ṽ from the SVD of Σyx), each mode's strength
:math:`a = cd` obeys

.. math:: \frac{da}{dT} = \sqrt{\lambda^2 + 4a^2}\,(s - a),

which depends on λ only through λ². Everything here broadcasts over its arguments (explicitly:
``jnp.broadcast_arrays``, so scalar/array mixes work under strict rank promotion).
"""

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    require_broadcastable,
    require_finite,
    require_ndim,
    require_real,
    require_times,
)

from ._balanced import check_hidden_width, check_lambda_sign
from ._exact import _phi


def _check_args(**named):
    """Real dtypes and shapes that broadcast; a clear error naming every argument otherwise."""
    hint = " (e.g. s[None, :] with t[:, None])" if "t" in named else ""
    require_broadcastable(hint, **named)


def _floats(*xs):
    """Cast to one floating dtype (the widest float among array inputs, else the default float)
    and broadcast explicitly."""
    arrs = [jnp.asarray(x) for x in xs]
    floats = [a.dtype for a, x in zip(arrs, xs, strict=True)
              if jnp.issubdtype(a.dtype, jnp.floating) and not isinstance(x, float | int)]
    dt = max(floats, key=lambda d: jnp.dtype(d).itemsize) if floats else jnp.result_type(float)
    return jnp.broadcast_arrays(*[a.astype(dt) for a in arrs])


def _mode_coeffs(s, L):
    """k, p, q of a mode with s ≥ 0 and λ = L ≥ 0: k = sqrt(s² + L²/4), x = L/(2(k + s))
    (finite at L = 0), p, q = (1 ∓ x)/sqrt(1 + x²) (docs: Linear networks, "Exact solution")."""
    k = jnp.sqrt(s**2 + L**2 / 4.0)
    den = 2.0 * (k + s)
    x = jnp.where(den > 0, L / jnp.where(den > 0, den, jnp.ones_like(den)), jnp.zeros_like(den))
    A = 1.0 / jnp.sqrt(1.0 + x**2)
    return k, A * (1.0 - x), A * (1.0 + x)


def aligned_mode(s, lam, a0, t):
    r"""Exact strength :math:`a(T)` of one aligned mode, any λ, any sign of a0, any T.

    Dominé et al. 2025 (docs: Linear networks, "Aligned modes").

    With :math:`k = \sqrt{s^2+\lambda^2/4}` and the eigenvectors
    :math:`v_+ = (p, q)/\sqrt2`, :math:`v_- = (q, -p)/\sqrt2` of the 2×2 Riccati matrix, project
    the initial factor :math:`(c_0, d_0)` (:math:`c_0d_0 = a_0`, :math:`d_0^2 - c_0^2 = |\lambda|`):
    :math:`\pi = v_+\cdot(c_0,d_0)`, :math:`\rho = v_-\cdot(c_0,d_0)`; with :math:`e_2 = e^{-2kT}`,
    :math:`\varphi = (1-e_2)/(2k)`,

    .. math::
        a(T) = \frac{(\pi v_{+,0} + e_2\rho v_{-,0})(\pi v_{+,1} + e_2\rho v_{-,1})}
                    {e_2 + \pi^2\varphi + \rho^2 e_2\varphi}.

    Only decaying exponentials appear. Evaluated at |λ| (a depends on λ²); s < 0 uses
    :math:`a(s, a_0) = -a(-s, -a_0)`. At λ = 0 and :math:`a_0 < 0` the mode decays to the saddle
    a = 0 and stays there (Saxe).

    Args:
        s: singular value of the task mode. lam: λ. a0: initial strength. t: times T ≥ 0.
        All broadcast against each other (e.g. ``s[None, :]`` with ``t[:, None]``).
    """
    _check_args(s=s, lam=lam, a0=a0, t=t)
    require_finite("a0", a0)
    require_finite("s", s)
    require_finite("lam", lam)
    _require_nonneg_times(t)
    return _aligned_core(*_floats(s, lam, a0, t))


@jax.jit
def _aligned_core(s, lam, a0, t):
    sg = jnp.where(s < 0, -1.0, 1.0).astype(s.dtype)
    s, a0, L = jnp.abs(s), sg * a0, jnp.abs(lam)
    k, p, q = _mode_coeffs(s, L)
    kap0 = jnp.sqrt(L**2 + 4.0 * a0**2)
    d0 = jnp.sqrt((kap0 + L) / 2.0)
    c0 = jnp.where(d0 > 0, a0 / jnp.where(d0 > 0, d0, jnp.ones_like(d0)), jnp.zeros_like(d0))
    r = jnp.sqrt(jnp.asarray(0.5, dtype=s.dtype))
    # π (the growing component) cancels when a0 < 0; use π(q d0 − p c0) = r(q²d0² − p²c0²)
    # = r(L + 2xκ0/(1 + x²)) with x = (q − p)/(q + p), all terms ≥ 0. At λ = 0, a0 < 0 this is
    # exactly 0: the saddle is kept (a 1-ulp π would escape it by T ≈ 40/s)
    x = (q - p) / (q + p)
    pi_direct = r * (p * c0 + q * d0)
    alt_den = q * d0 - p * c0
    pi_alt = r * (L + 2.0 * x * kap0 / (1.0 + x**2)) / jnp.where(alt_den > 0, alt_den, 1.0)
    pi = jnp.where(c0 < 0, pi_alt, pi_direct)
    rho = r * (q * c0 - p * d0)
    e2 = jnp.exp(-2.0 * k * t)
    phi = t * _phi(2.0 * k * t)
    n_in = r * (pi * p + e2 * rho * q)
    n_out = r * (pi * q - e2 * rho * p)
    den = e2 + pi**2 * phi + rho**2 * e2 * phi
    # den underflows to 0 only on the saddle (pi = 0) at huge T, where a -> 0 exactly
    a = jnp.where(den > 0, n_in * n_out / jnp.where(den > 0, den, jnp.ones_like(den)), 0.0)
    return sg * a


def _require_nonneg_times(t):
    v = concrete(t)
    if v is not None and (not np.all(np.isfinite(v)) or np.any(v < 0)):
        finite = v[np.isfinite(v)]
        low = f"min {finite.min()!r} and " if finite.size else ""
        raise ValueError(f"t must be finite and non-negative, got {low}"
                         f"{int(np.sum(~np.isfinite(v)))} non-finite entries")


def saxe_mode(s, a0, t):
    r"""Saxe et al. (2014) zero-balanced mode: :math:`da/dT = 2|a|(s - a)`.

    For :math:`a_0 > 0`: :math:`a(T) = s e^{2sT}/(e^{2sT} - 1 + s/a_0)`, evaluated as
    :math:`a_0/(e^{-2sT} + a_0(1-e^{-2sT})/s)` (no overflow, s → 0 safe). For :math:`a_0 < 0`
    (c = −d) the mode decays to the saddle: :math:`a = a_0e^{-2sT}/(1 + |a_0|(1-e^{-2sT})/s)`.
    """
    _check_args(s=s, a0=a0, t=t)
    require_finite("a0", a0)
    require_finite("s", s)
    _require_nonneg_times(t)
    return _saxe_core(*_floats(s, a0, t))


@jax.jit
def _saxe_core(s, a0, t):
    sg = jnp.where(s < 0, -1.0, 1.0).astype(s.dtype)
    s, a0 = jnp.abs(s), sg * a0
    e = jnp.exp(-2.0 * s * t)
    grow = 2.0 * t * _phi(2.0 * s * t)       # (1 - e^{-2sT})/s
    up = a0 / (e + a0 * grow)
    down = a0 * e / (1.0 - a0 * grow)
    return sg * jnp.where(a0 >= 0, up, down)


def half_time(s, lam, a0):
    r"""Time for a mode to go from :math:`a_0` to s/2; 0 if :math:`a_0 \ge s/2`.

    Dominé et al. 2025; Saxe et al. 2014 (docs: Linear networks, "Aligned modes").

    λ ≠ 0: in :math:`\nu = cs/d` (:math:`d\nu/dT = s^2 - |\lambda|\nu - \nu^2`),
    :math:`t_{1/2} = \frac{2}{K}[\operatorname{artanh}\frac{|\lambda|+2\nu_{1/2}}{K} -
    \operatorname{artanh}\frac{|\lambda|+2\nu_0}{K}]`, :math:`K = \sqrt{\lambda^2+4s^2}`,
    :math:`\nu_{1/2} = \sqrt{\lambda^2+s^2} - |\lambda|`, written with logarithms of
    cancellation-free differences. Finite for every :math:`a_0` (a mode is never stuck).
    λ = 0: :math:`\frac{1}{2s}\ln(s/a_0 - 1)`, +∞ for :math:`a_0 \le 0` (saddle). Needs s > 0.
    """
    _check_args(s=s, lam=lam, a0=a0)
    require_finite("s", s)
    require_finite("lam", lam)
    require_finite("a0", a0)
    sv = concrete(s)
    if sv is not None and np.any(sv <= 0):
        raise ValueError("half_time needs s > 0 (a mode with s <= 0 never reaches s/2 from below)")
    return _half_core(*_floats(s, lam, a0))


@jax.jit
def _half_core(s, lam, a0):
    L = jnp.abs(lam)
    K = jnp.sqrt(L**2 + 4.0 * s**2)
    Km = 4.0 * s**2 / (K + L)                       # K - |λ| without cancellation

    def nu_of(a):  # ν = c s / d with d² = (sqrt(λ² + 4a²) + |λ|)/2
        return a * s / ((jnp.sqrt(L**2 + 4.0 * a**2) + L) / 2.0)

    def log_ratio(nu):  # 2 artanh((|λ| + 2ν)/K) = ln((K + |λ| + 2ν)/(K - |λ| - 2ν))
        return jnp.log((K + L + 2.0 * nu) / (Km - 2.0 * nu))

    nu_half = s**2 / (L + jnp.sqrt(L**2 + s**2))
    t_lam = (log_ratio(nu_half) - log_ratio(jnp.where(L > 0, nu_of(a0), 0.0))) / K
    ratio = jnp.where(a0 > 0, s / jnp.where(a0 > 0, a0, jnp.ones_like(a0)) - 1.0, jnp.inf)
    t_zero = jnp.where(a0 > 0, jnp.log(jnp.maximum(ratio, 1.0)) / (2.0 * s), jnp.inf)
    t = jnp.where(L > 0, t_lam, t_zero)
    return jnp.where(a0 >= s / 2.0, 0.0, t)


def staircase_times(s, a0):
    r"""Saxe staircase (Saxe et al. 2014): the time each mode of a small aligned zero-balanced
    init reaches half its value, :math:`t_\alpha = \frac{1}{2s_\alpha}\ln(s_\alpha/a_0 - 1)\approx
    \frac{1}{2s_\alpha}\ln(s_\alpha/a_0)`. The loss drops by :math:`\tfrac12 s_\alpha^2` around
    :math:`t_\alpha`; larger singular values are learned first (:math:`t_\alpha\propto 1/s_\alpha`).

    Args:
        s: task singular values (> 0), any shape. a0: initial strength(s), 0 < a0 < s/2.
    """
    _check_args(s=s, a0=a0)
    require_finite("s", s)
    require_finite("a0", a0)
    sv, av = concrete(s), concrete(a0)
    if sv is not None and av is not None and (np.any(sv <= 0) or np.any(av <= 0)):
        raise ValueError("staircase_times needs s > 0 and a0 > 0 (a0 <= 0 is the saddle: "
                         "zero-balanced modes with a0 <= 0 are never learned)")
    return half_time(s, 0.0, a0)


def reversal_time(s, lam):
    r"""Time for a converged aligned mode (a = s) to cross 0 after the task flips to −Σ.

    Dominé et al. 2025 (docs: Linear networks, "Task sequences").

    From :math:`a_0 = -s` with target s, in the variable ν the crossing a = 0 is ν = 0, which gives

    .. math::
        t_\times = \frac{1}{K}\ln\Big(1 + \frac{K}{|\lambda|}\Big),\qquad
        K = \sqrt{\lambda^2+4s^2}.

    Symmetric in ±λ and in ±s (:math:`a(s, a_0) = -a(-s, -a_0)`); :math:`t_\times\to\ln 2/|\lambda|`
    for large |λ|; :math:`t_\times\approx\frac{1}{2s}\ln(2s/|\lambda|)` for small |λ|; +∞ at
    λ = 0 (B = 0: the saddle W = 0, zero-balanced networks never reverse, Braun et al. 2022).

    Needs s ≠ 0: a mode with s = 0 is a ≡ 0 before and after the flip, so it never crosses 0
    and there is nothing to reverse (the limit s → 0 of the formula, ln 2/|λ|, is not a crossing
    time). Concrete s = 0 raises; under ``jit`` the result there is NaN.
    """
    _check_args(s=s, lam=lam)
    require_finite("s", s)
    require_finite("lam", lam)
    sv = concrete(s)
    if sv is not None and np.any(sv == 0):
        raise ValueError("s must be nonzero (the singular value of a learned mode): with s = 0 "
                         "the mode stays at a = 0 before and after the flip, so there is no "
                         "reversal and no crossing time")
    return _reversal_core(*_floats(s, lam))


@jax.jit
def _reversal_core(s, lam):
    L = jnp.abs(lam)
    K = jnp.sqrt(L**2 + 4.0 * s**2)
    Lsafe = jnp.where(L > 0, L, jnp.ones_like(L))
    t = jnp.where(L > 0, jnp.log1p(K / Lsafe) / K, jnp.inf)
    return jnp.where(s != 0, t, jnp.nan)     # s = 0: no reversal (refused when concrete)


def convergence_values(Syx, lam, n_hidden: int):
    r"""Limits of the representations as T → ∞ (needs a non-singular B).

    Dominé et al. 2025 (docs: Linear networks, "Limits and symmetries").

    With :math:`\kappa_\alpha = \sqrt{\lambda^2 + 4s_\alpha^2}`:

    .. math::
        W_1^\top W_1 \to \tilde V\mathrm{diag}\Big(\frac{\kappa-\lambda}{2}\Big)\tilde V^\top
            \;[-\lambda\,\tilde V_\perp\tilde V_\perp^\top\ \text{if } N_i > N_o,\ N_h = N_i],\quad
        W_2W_2^\top \to \tilde U\mathrm{diag}\Big(\frac{\kappa+\lambda}{2}\Big)\tilde U^\top
            \;[+\lambda\,\tilde U_\perp\tilde U_\perp^\top\ \text{if } N_o > N_i,\ N_h = N_o].

    With :math:`N_h = \min(N_i,N_o)` there is no room for the λ-block (bracketed terms are 0).

    Returns:
        ``(input_rep, output_rep)``: ``(N_i, N_i)`` and ``(N_o, N_o)``.

    Raises:
        ValueError: bottleneck N_h, a λ sign the widths forbid, or
            :math:`\min < N_h < \max` with λ ≠ 0 (the λ-block then lies on an init-dependent
            subspace: use the solution at large T instead).
    """
    require_real("Syx", Syx)
    require_ndim("Syx", Syx, 2, "shape (n_out, n_in)")
    require_finite("Syx", Syx)
    require_real("lam", lam)
    if np.ndim(lam) != 0:
        raise ValueError(f"lam must be a scalar, got shape {np.shape(lam)}")
    require_finite("lam", lam)
    if (not isinstance(n_hidden, int | np.integer) or isinstance(n_hidden, bool | np.bool_)
            or n_hidden < 1):
        raise ValueError(f"n_hidden must be a positive integer, got {n_hidden!r}")
    n_o, n_i = np.shape(Syx)
    n_h = int(n_hidden)
    m = min(n_i, n_o)
    check_hidden_width(n_i, n_h, n_o)
    lv = concrete(lam)
    if lv is not None:
        check_lambda_sign(float(lv), n_i, n_h, n_o)
        if m < n_h < max(n_i, n_o) and lv != 0:
            raise ValueError(
                f"with min(n_in, n_out)={m} < n_hidden={n_h} < max={max(n_i, n_o)} and lambda != 0 "
                f"the lambda-block of the limit lies on an (n_hidden - m)-dimensional subspace "
                f"that "
                f"depends on the initialisation; evaluate two_layer_linear at large T instead")
    Syx, lam = jnp.asarray(Syx), jnp.asarray(lam)
    dt = Syx.dtype if jnp.issubdtype(Syx.dtype, jnp.floating) else jnp.result_type(float)
    Syx, lam = Syx.astype(dt), lam.astype(dt)
    Uf, s, Vft = jnp.linalg.svd(Syx, full_matrices=True)
    Ut, Vt = Uf[:, :m], Vft.T[:, :m]
    kap = jnp.sqrt(lam**2 + 4.0 * s**2)
    A = (Vt * ((kap - lam) / 2.0)[None, :]) @ Vt.T
    B = (Ut * ((kap + lam) / 2.0)[None, :]) @ Ut.T
    if n_h == n_i > n_o:
        Vp = Vft.T[:, m:]
        A = A - lam * Vp @ Vp.T
    if n_h == n_o > n_i:
        Up = Uf[:, m:]
        B = B + lam * Up @ Up.T
    return A, B


def shallow_limit(W0, Syx, lam, t):
    r"""Large-|λ| (lazy) limit:
    :math:`W(T)\approx\Sigma_{yx} + (W_0-\Sigma_{yx})e^{-|\lambda|T}`.

    Dominé et al. 2025 (docs: Linear networks, "Limits and symmetries").

    A shallow network with time constant τ/|λ|; the next-order correction of the rate is
    :math:`O(s^2/|\lambda|)`. Valid for square networks and, with unequal widths, only for the
    lazy sign :math:`\mu = \mathrm{sgn}(N_o-N_i)\lambda/2 < 0` (the other sign is not lazy).

    Returns:
        ``(n_t, N_o, N_i)``.
    """
    for name, x in (("W0", W0), ("Syx", Syx), ("lam", lam)):
        require_real(name, x)
    require_ndim("W0", W0, 2, "shape (n_out, n_in)")
    require_ndim("Syx", Syx, 2, "shape (n_out, n_in)")
    if np.ndim(lam) != 0:
        raise ValueError(f"lam must be a scalar, got shape {np.shape(lam)}")
    if np.shape(W0) != np.shape(Syx):
        raise ValueError(f"W0 and Syx must have the same shape, got {np.shape(W0)} and "
                         f"{np.shape(Syx)}")
    require_finite("W0", W0)
    require_finite("Syx", Syx)
    require_finite("lam", lam)
    require_times("t", t)
    W0 = jnp.asarray(W0)
    dt = W0.dtype if jnp.issubdtype(W0.dtype, jnp.floating) else jnp.result_type(float)
    W0, Syx = W0.astype(dt), jnp.asarray(Syx, dtype=dt)
    t = jnp.asarray(t, dtype=dt)
    decay = jnp.exp(-jnp.abs(jnp.asarray(lam, dtype=dt)) * t)
    return Syx[None] + (W0 - Syx)[None] * decay[:, None, None]


def single_neuron(s, delta, nu0, t):
    r"""Kunin et al. (2024) single neuron :math:`f(x) = a\,w^\top x`, exact :math:`\nu(T)`.

    (Kunin et al. 2024; docs: Linear networks, "Aligned modes".)

    With whitened inputs, target :math:`\beta^*` (:math:`s = \|\beta^*\|`), the conserved
    :math:`\delta = a^2 - \|w\|^2` (Dominé's λ with :math:`W_2 = a`, :math:`W_1 = w^\top`) and
    :math:`\nu = w^\top\beta^*/a`, the flow is :math:`d\nu/dT = s^2 - \delta\nu - \nu^2`, so with
    :math:`K = \sqrt{\delta^2+4s^2}` and :math:`z = (\delta + 2\nu_0)/K`

    .. math::
        \nu(T) = \tfrac12\Big(-\delta + K\,\frac{\tanh(KT/2) + z}{1 + z\tanh(KT/2)}\Big),

    one expression for both the tanh branch (|z| < 1) and the coth branch (|z| > 1; the identity
    :math:`\coth(x + \operatorname{arcoth} z) = (\tanh x + z)/(1 + z\tanh x)`). For z < −1, ν has a
    pole where a crosses 0; the formula continues through it (the Riccati flow is projective).
    K = 0 (s = δ = 0) gives :math:`\nu_0/(1+\nu_0T)`.
    """
    _check_args(s=s, delta=delta, nu0=nu0, t=t)
    require_finite("s", s)
    require_finite("delta", delta)
    require_finite("nu0", nu0)
    _require_nonneg_times(t)
    return _neuron_core(*_floats(s, delta, nu0, t))


@jax.jit
def _neuron_core(s, delta, nu0, t):
    K = jnp.sqrt(delta**2 + 4.0 * s**2)
    Ks = jnp.where(K > 0, K, jnp.ones_like(K))
    th = jnp.tanh(K * t / 2.0)
    num = Ks * th + delta + 2.0 * nu0                 # K (tanh + z)
    den = 1.0 + (delta + 2.0 * nu0) * th / Ks         # 1 + z tanh
    nu = 0.5 * (-delta + num / den)
    return jnp.where(K > 0, nu, nu0 / (1.0 + nu0 * t))
