r"""Exact gradient-flow dynamics of two-layer linear networks from λ-balanced initialisations.

From Dominé, Anguita, Proca, Braun, Kunin, Mediano & Saxe, ICLR 2025 (after Fukumizu 1998 and
Braun et al. 2022; docs: Linear networks, "Exact solution"). Conventions (docs: Conventions): loss
:math:`\frac{1}{2P}\|W_2W_1X - Y\|_F^2` with whitened inputs :math:`\Sigma_{xx} = I`,
dimensionless time :math:`T = t/\tau = \eta\cdot\text{steps}`.

Stack :math:`Q = [W_1^\top; W_2]\in\mathbb R^{n\times N_h}` (:math:`n = N_i + N_o`) and
:math:`P = QQ^\top`. On the λ-balanced manifold the flow is the matrix Riccati equation

.. math::
    \frac{dP}{dT} = FP + PF - P^2,\qquad
    F = \begin{pmatrix} -\tfrac{\lambda}{2} I_{N_i} & \Sigma_{yx}^\top \\
                        \Sigma_{yx} & \tfrac{\lambda}{2} I_{N_o}\end{pmatrix},

whose solution is :math:`P(T) = e^{FT}P_0[I + G(T)P_0]^{-1}e^{FT}`,
:math:`G(T) = \int_0^T e^{2Fs}ds`. That form grows like :math:`e^{k_{\max}T}` and overflows
(claim ``linear/C7-naive-overflows``); this module evaluates it in two stable ways:

* ``"stable"`` (docs: Linear networks, "Stable form"): the paper's direct form, rewritten so
  that every exponential is decaying
  (combined exponents :math:`e^{(\mu-k)T}` for the unequal-dimension terms). Needs
  :math:`N_h = \min(N_i, N_o)` and an invertible :math:`B`.
* ``"propagator"`` (docs: Linear networks, "Exact propagator"): the exact semigroup step in
  factor form,
  :math:`\hat Q\leftarrow e^{\Lambda h}\hat Q L^{-\top}` with
  :math:`LL^\top = I + \hat Q^\top g(h)\hat Q`,
  in the eigenbasis of F, steps of length ≤ 5/max|Λ|. Any N_h, λ = 0, singular B (it reproduces
  the saddle); cost ∝ max(T)·max|Λ|, so times needing more than ``MAX_PROPAGATOR_STEPS``
  steps are refused.
"""

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from lazyrich._checks import concrete, require_real, require_times, two_layer_dims

from ._balanced import balance, check_balanced, check_hidden_width

METHODS = ("auto", "stable", "propagator", "naive")


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["t", "Q", "lam", "cond_B", "B_margin"],
                   meta_fields=["n_in", "n_hidden", "n_out", "method"])
@dataclasses.dataclass(frozen=True)
class LinearSolution:
    r"""Closed-form trajectory of a two-layer linear network (a pytree; ``vmap`` adds axes).

    Attributes:
        t: times :math:`T = t/\tau`, shape ``(n_t,)``, in the caller's order.
        Q: a factor :math:`Q(T) = [W_1^\top; W_2]R(T)` of P, shape ``(n_t, n, N_h)``, equal to the
            true stacked weights up to a hidden rotation R(T) (computed stably, never by
            factorising P; a valid λ-balanced init for a next task, see :meth:`factor`).
        lam: λ measured from the initial weights (trace estimate).
        cond_B: condition number of :math:`B = W_1\tilde V\mathrm{diag}(p) + W_2^\top\tilde U
            \mathrm{diag}(q)` (σ_max/σ_min of the N_h×m matrix). Numerically infinite means the
            initial condition has no component along a growing mode: the flow converges to a
            saddle (docs: Linear networks, "Saddles"), not a bug.
        B_margin: :math:`\sigma_{\min}(B)/(\sqrt2\,\|Q_0\|_F)\in[0, 1]`, the
            scale-free distance of B from singularity. cond_B alone misses B ≈ 0 (exact reversal
            of a converged network at λ = 0), whose round-off makes a well-conditioned but tiny B.
        n_in, n_hidden, n_out: widths (static).
        method: ``"stable"``, ``"propagator"`` or ``"naive"`` (static).
    """

    t: jax.Array
    Q: jax.Array
    lam: jax.Array
    cond_B: jax.Array
    B_margin: jax.Array
    n_in: int
    n_hidden: int
    n_out: int
    method: str

    @property
    def P(self):
        """:math:`P(T) = QQ^\top`, ``(n_t, n, n)``, :math:`n = N_i + N_o` (gauge-invariant: compare
        it, not W1 or W2, with simulations, since Q is fixed only up to a hidden rotation)."""
        return _gram(self.Q)

    @property
    def W(self):
        """Network function :math:`W_2W_1`, the bottom-left block of P, ``(n_t, N_o, N_i)``."""
        return self.P[..., self.n_in:, :self.n_in]

    @property
    def input_rep(self):
        """Input-side representation :math:`W_1^\\top W_1`, ``(n_t, N_i, N_i)``."""
        return self.P[..., :self.n_in, :self.n_in]

    @property
    def output_rep(self):
        """Output-side representation :math:`W_2W_2^\\top`, ``(n_t, N_o, N_o)``."""
        return self.P[..., self.n_in:, self.n_in:]

    def factor(self):
        r"""Weights :math:`(W_1, W_2)` at every time, up to a hidden-layer rotation.

        Read off the factor Q (computed stably, not by factorising P). They are λ-balanced with the
        same λ (the rotation cancels in :math:`W_2^\top W_2 - W_1W_1^\top`), so they are a valid
        initialisation for a next task: λ is conserved across task switches
        (docs: Linear networks, "Task sequences"). Shapes ``(n_t, N_h, N_i)`` and
        ``(n_t, N_o, N_h)``.
        """
        return jnp.swapaxes(self.Q[..., :self.n_in, :], -1, -2), self.Q[..., self.n_in:, :]

    @property
    def saddle(self):
        """True where B is singular to round-off (B_margin ≤ 1e3·eps): a mode is never learned.

        At λ = 0 with a square network this happens exactly when
        :math:`\\det W_0\\det\\Sigma_{yx} < 0` (half of random inits), and at exact reversal of a
        converged network (B = 0).
        """
        eps = jnp.finfo(self.Q.dtype).eps
        return ~(self.B_margin > 1e3 * eps)


@jax.jit
def _gram(Q):
    """:math:`QQ^\top` over the last two axes. Many small products are formed in chunks of
    ~``_CHUNK_ELEMS`` output elements (``lax.map``): XLA:CPU ran one batched product over 1000
    times at (100×50)(50×100) about 2x slower than the same in cache-sized chunks."""
    lead, (n, h) = Q.shape[:-2], Q.shape[-2:]
    b = int(np.prod(lead))
    c = _chunk_size(b, n * n)
    if c == b or b % c:
        return Q @ jnp.swapaxes(Q, -1, -2)
    g = jax.lax.map(lambda x: x @ jnp.swapaxes(x, -1, -2), Q.reshape(b // c, c, n, h))
    return g.reshape(lead + (n, n))


def _phi(x):
    r""":math:`(1 - e^{-x})/x` for x ≥ 0, stable at 0 (→ 1) and for large x."""
    safe = jnp.where(x > 1e-8, x, jnp.ones_like(x))
    return jnp.where(x > 1e-8, -jnp.expm1(-safe) / safe, 1.0 - x / 2.0)


def _expm1_over(x):
    r""":math:`(e^{x} - 1)/x`, stable at 0 (→ 1)."""
    small = jnp.abs(x) < 1e-8
    safe = jnp.where(small, jnp.ones_like(x), x)
    return jnp.where(small, 1.0 + x / 2.0, jnp.expm1(safe) / safe)


def _spectrum(Syx, lam, n_i: int, n_o: int, xp=jnp):
    r"""Closed-form eigen-structure of F (Dominé et al. 2025; docs: Linear networks).

    Returns ``(Ut, Vt, s, k, p, q, mu, Mperp, O, Lam)``: the SVD pieces of Σyx, the mode rates
    :math:`k = \sqrt{s^2 + \lambda^2/4}`, the mixing coefficients p, q (with the λ = 0-safe
    :math:`x = \lambda/(2(k+s))`), the extra eigenvalue
    :math:`\mu = \mathrm{sgn}(N_o-N_i)\lambda/2`,
    its eigenvectors ``Mperp`` (n×|N_o−N_i|), and the full orthogonal basis ``O`` with eigenvalues
    ``Lam``. ``xp`` is the array namespace (``jnp``, or ``np`` for the concrete checks).
    """
    m = min(n_i, n_o)
    Uf, s, Vft = xp.linalg.svd(Syx, full_matrices=True)
    Vf = Vft.T
    Ut, Vt = Uf[:, :m], Vf[:, :m]
    k = xp.sqrt(s**2 + lam**2 / 4.0)
    den = 2.0 * (k + s)
    x = xp.where(den > 0, lam / xp.where(den > 0, den, xp.ones_like(den)), xp.zeros_like(den))
    a = 1.0 / xp.sqrt(1.0 + x**2)
    p, q = a * (1.0 - x), a * (1.0 + x)
    sq = xp.sqrt(xp.asarray(0.5, dtype=Syx.dtype))
    Op = sq * xp.concatenate([Vt * p[None, :], Ut * q[None, :]], axis=0)
    Om = sq * xp.concatenate([Vt * q[None, :], -Ut * p[None, :]], axis=0)
    if n_o > n_i:
        Mperp = xp.concatenate([xp.zeros((n_i, n_o - m), Syx.dtype), Uf[:, m:]], axis=0)
        mu = lam / 2.0
    elif n_i > n_o:
        Mperp = xp.concatenate([Vf[:, m:], xp.zeros((n_o, n_i - m), Syx.dtype)], axis=0)
        mu = -lam / 2.0
    else:
        Mperp = xp.zeros((n_i + n_o, 0), Syx.dtype)
        mu = xp.zeros_like(lam)
    Ob = xp.concatenate([Op, Om, Mperp], axis=1)
    Lam = xp.concatenate([k, -k, xp.broadcast_to(mu, (Mperp.shape[1],))])
    return Ut, Vt, s, k, p, q, mu, Mperp, Ob, Lam


def _B_matrix(W1, W2, Ut, Vt, p, q):
    return (W1 @ Vt) * p[None, :] + (W2.T @ Ut) * q[None, :]


def _diagnostics(W1, W2, Ut, Vt, p, q):
    """cond(B) and B_margin = σ_min(B)/(√2‖Q0‖_F) (B = √2 O₊ᵀQ0, so B_margin ≤ 1)."""
    sv = jnp.linalg.svd(_B_matrix(W1, W2, Ut, Vt, p, q), compute_uv=False)
    q0 = jnp.sqrt(jnp.sum(W1**2) + jnp.sum(W2**2))
    margin = sv[-1] / (jnp.sqrt(jnp.asarray(2.0, dtype=sv.dtype)) * jnp.where(q0 > 0, q0, 1.0))
    return sv[0] / sv[-1], margin


def _lam_of(W1, W2):
    return jnp.trace(balance(W1, W2)) / W1.shape[0]


#: Leaves of :func:`_chol_inv`'s recursion: blocks this small are factorised by LAPACK (at
#: (50, 50, 50), 1000 times: leaves of 16 beat 4, 8 and 32 by 10-30%, 2026-12-01).
_CHOL_LEAF = 16
#: Target size (elements of the output per chunk) of one time chunk of :func:`_stable_P` and of
#: :func:`_gram`: ~2 MB in float64, so a chunk's intermediates stay in cache (measured at
#: (50, 50, 50), 1000 times: 2^18 beat 2^15, 2^17, 2^19 and 2^21, the last ~1.3x slower).
_CHUNK_ELEMS = 1 << 18


def _chol_inv(A):
    r"""Inverse :math:`L^{-1}` of the lower Cholesky factor of SPD matrices ``(..., m, m)``.

    Reads the lower triangle only. Recursive 2×2 blocking: with :math:`L_{11}L_{11}^\top =
    A_{11}`, :math:`L_{21} = A_{21}L_{11}^{-\top}`, :math:`L_{22}L_{22}^\top = A_{22} -
    L_{21}L_{21}^\top`, the inverse is :math:`\begin{pmatrix}L_{11}^{-1} & 0\\ -L_{22}^{-1}
    L_{21}L_{11}^{-1} & L_{22}^{-1}\end{pmatrix}`. Every level is a batched GEMM over the
    leading axes; blocks of at most ``_CHOL_LEAF`` rows go to LAPACK (Cholesky, then a
    triangular solve against I). Why not LAPACK on the whole batch: XLA:CPU runs a batched
    Cholesky and triangular solve one small matrix at a time (1000 of 50×50: 10 ms and, against
    I, 26 ms on an idle machine), while here all but the leaves' ~(leaf/m)² share of the flops
    are batched GEMMs. Only the factor's inverse is formed: the stable form needs
    :math:`L^{-1}Z^\top`, and an explicit inverse followed by GEMMs was faster than a batched
    triangular solve with n columns (68 ms).
    """
    m = A.shape[-1]
    if m <= _CHOL_LEAF:
        Lc = jax.lax.linalg.cholesky(A, symmetrize_input=False)
        eye = jnp.broadcast_to(jnp.eye(m, dtype=A.dtype), A.shape)
        return jax.lax.linalg.triangular_solve(Lc, eye, left_side=True, lower=True)
    h = m // 2
    I11 = _chol_inv(A[..., :h, :h])
    L21 = A[..., h:, :h] @ jnp.swapaxes(I11, -1, -2)
    I22 = _chol_inv(A[..., h:, h:] - L21 @ jnp.swapaxes(L21, -1, -2))
    I21 = -(I22 @ L21) @ I11
    zero = jnp.zeros(A.shape[:-2] + (h, m - h), A.dtype)
    return jnp.concatenate([jnp.concatenate([I11, zero], axis=-1),
                            jnp.concatenate([I21, I22], axis=-1)], axis=-2)


def _chunk_size(n_t: int, per_time: int) -> int:
    """Times per chunk (static): all of them if they fit ``_CHUNK_ELEMS``, else a divisor of
    n_t near that size (no padding), else that size (the last chunk is padded)."""
    target = max(1, _CHUNK_ELEMS // max(per_time, 1))
    if n_t <= target:
        return n_t
    for c in range(target, target // 2, -1):
        if n_t % c == 0:
            return c
    return target


def _stable_P(W1, W2, Syx, t):
    r"""The stable form for N_h = m, all times at once; docs: Linear networks, "Stable form".

    Returns the factor :math:`Q = ZL^{-\top}` (:math:`LL^\top` = the centre M), λ and the
    diagnostics. Evaluated as batched linear algebra over the time axis rather than one time at
    a time (XLA:CPU runs per-time small products far below peak); with
    :math:`d = e^{-kT}`, :math:`\gamma = (1 - e^{-2kT})/k`, :math:`K_1 = B^{-1}C`:

    * the centre :math:`M = d\circ(4B^{-1}B^{-\top} + K_1\Gamma K_1^\top)\circ d^\top + \Gamma`:
      :math:`K_1\Gamma K_1^\top = \sum_a\gamma_a K_1[:,a]K_1[:,a]^\top` for all times is ONE
      GEMM, ``gamma (n_t, m) @ KK (m, m²)``, with the time-independent
      :math:`KK[a, (i, j)] = K_1[i,a]K_1[j,a]`; unequal widths add the rank-one-in-time
      :math:`(L^\top L)\circ\Phi`, :math:`\Phi = 4T\varphi(2|\mu|T)\,ff^\top`,
      :math:`f = e^{(\max(\mu, 0) - k)T}\le 1`;
    * :math:`L^{-1}` by :func:`_chol_inv` (recursive blocking: batched GEMMs);
    * :math:`Q^\top = L^{-1}Z^\top`: with :math:`H^\top = dK_1d` (:math:`Y = L^{-1}H^\top`),
      :math:`Q^\top = [(L^{-1}D_p - YD_q)\tilde V^\top,\ (L^{-1}D_q + YD_p)\tilde U^\top]`
      (plus :math:`2(L^{-1}\circ e^{(\mu-k)T})(M_\perp L)^\top` on the wider side): products with
      time-independent right factors, i.e. GEMMs over all times at once.

    Times are processed in chunks of ~``_CHUNK_ELEMS`` elements of Q (``lax.map``) so that the
    intermediates stay in cache. Every exponential still decays (no overflow at any T).
    """
    n_h, n_i = W1.shape
    n_o = W2.shape[0]
    m = n_h
    lam = _lam_of(W1, W2)
    Ut, Vt, s, k, p, q, mu, Mperp, _, _ = _spectrum(Syx, lam, n_i, n_o)
    B = _B_matrix(W1, W2, Ut, Vt, p, q)
    C = (W2.T @ Ut) * p[None, :] - (W1 @ Vt) * q[None, :]
    Binv = jnp.linalg.inv(B)
    K1 = Binv @ C                                          # B^{-1} C
    BB = Binv @ Binv.T
    BB4 = 2.0 * (BB + BB.T)                                # 4 B^{-1}B^{-T}, exactly symmetric
    KK = (K1.T[:, :, None] * K1.T[:, None, :]).reshape(m, m * m)
    extra = n_i != n_o
    if extra:
        J = Mperp.T @ jnp.concatenate([W1.T, W2], axis=0)  # Ũ⊥ᵀW2 or Ṽ⊥ᵀW1ᵀ
        L = J @ Binv.T
        LL = L.T @ L
        rows = slice(n_i, None) if n_o > n_i else slice(0, n_i)   # where M⊥ is nonzero
        ML2 = 2.0 * (Mperp[rows] @ L).T                     # (m, |rows|)
        mu_plus = jnp.maximum(mu, 0.0)

    def block(tb):
        T = tb[:, None]
        d = jnp.exp(-k[None, :] * T)
        gam = 2.0 * T * _phi(2.0 * k[None, :] * T)         # (1 - e^{-2kT})/k
        G = (gam @ KK).reshape(-1, m, m)                    # K1 Γ K1ᵀ, one GEMM over times
        center = (d[:, :, None] * (BB4[None] + G) * d[:, None, :]
                  + gam[:, :, None] * jnp.eye(m, dtype=gam.dtype)[None])
        if extra:
            # combined exponents only: f = e^{(max(mu,0) - k)T} <= 1 (no overflow)
            f = jnp.exp((mu_plus - k[None, :]) * T)
            w = 4.0 * T * _phi(jnp.abs(2.0 * mu) * T)
            center = center + LL[None] * (w[:, :, None] * f[:, :, None] * f[:, None, :])
        Li = _chol_inv(center)                              # L^{-1}, LLᵀ = center

        def right(X, F):      # X_t @ F for every t as ONE GEMM (a broadcast F would batch it)
            return (X.reshape(-1, X.shape[-1]) @ F).reshape(X.shape[:-1] + F.shape[-1:])

        Y = right(Li * d[:, None, :], K1) * d[:, None, :]   # L^{-1} Hᵀ, Hᵀ = d K1 d
        p3, q3 = p[None, None, :], q[None, None, :]
        top = right(Li * p3 - Y * q3, Vt.T)                 # (Z_top L^{-T})ᵀ
        bot = right(Li * q3 + Y * p3, Ut.T)
        if extra:
            add = right(Li * jnp.exp((mu - k[None, :]) * T)[:, None, :], ML2)
            if n_o > n_i:
                bot = bot + add
            else:
                top = top + add
        return jnp.swapaxes(jnp.concatenate([top, bot], axis=-1), -1, -2)  # Q = Z L^{-T}

    n_t = t.shape[0]
    c = _chunk_size(n_t, (n_i + n_o) * m)
    if c == n_t:
        Q = block(t)
    else:
        n_c = -(-n_t // c)
        tp = jnp.concatenate([t, jnp.broadcast_to(t[-1:], (n_c * c - n_t,))])
        Q = jax.lax.map(block, tp.reshape(n_c, c)).reshape(n_c * c, n_i + n_o, m)[:n_t]
    return Q, lam, _diagnostics(W1, W2, Ut, Vt, p, q)


#: Most exact steps one propagator call may take (steps of length <= 5/max|Λ|, so about
#: max(t)·max|Λ|/5 of them). 10^6 steps take 1-3 s for 3×3×3 networks on a CPU and ~40 s at
#: 20×20×20; T = 10^4 with |λ| = 100 and singular values ~1 needs ~10^5.
MAX_PROPAGATOR_STEPS = 1_000_000


def _step_bound(Lam):
    """Longest exact propagator step, 5/max|Λ| (5 when F = 0)."""
    lmax = jnp.max(jnp.abs(Lam))
    return 5.0 / jnp.where(lmax > 0, lmax, jnp.ones_like(lmax))


def _propagate_P(W1, W2, Syx, t):
    """The exact propagator: exact factor-form steps between the sorted distinct times, in the
    eigenbasis of F (docs: Linear networks, "Exact propagator").

    Returns NaN (never hangs) when the steps would exceed :data:`MAX_PROPAGATOR_STEPS` plus one
    per time (the slack of evaluating the count in a different order); eager calls of
    :func:`two_layer_linear` refuse such times with a ValueError before getting here.
    """
    n_h, n_i = W1.shape
    n_o = W2.shape[0]
    lam = _lam_of(W1, W2)
    Ut, Vt, s, k, p, q, mu, Mperp, Ob, Lam = _spectrum(Syx, lam, n_i, n_o)
    diag = _diagnostics(W1, W2, Ut, Vt, p, q)
    Qh0 = Ob.T @ jnp.concatenate([W1.T, W2], axis=0)
    hmax = _step_bound(Lam)
    order = jnp.argsort(t)
    ts = t[order]
    dts = jnp.diff(ts, prepend=jnp.zeros((1,), t.dtype))
    eye = jnp.eye(n_h, dtype=W1.dtype)
    too_many = ~(jnp.sum(jnp.ceil(dts / hmax)) <= MAX_PROPAGATOR_STEPS + t.shape[0])

    def interval(Qh, dt):
        n = jnp.where(too_many, 0.0, jnp.maximum(jnp.ceil(dt / hmax), 1.0))
        h = dt / jnp.maximum(n, 1.0)
        eh = jnp.exp(Lam * h)
        g = h * _expm1_over(2.0 * Lam * h)      # ∫_0^h e^{2Λs} ds

        def step(_, Qh):
            X = eye + Qh.T @ (g[:, None] * Qh)
            Lx = jnp.linalg.cholesky(0.5 * (X + X.T))
            return solve_triangular(Lx, (eh[:, None] * Qh).T, lower=True).T   # e^{Λh} Q̂ L^{-T}

        Qh = jax.lax.fori_loop(0, n.astype(jnp.int32), step, Qh)
        return Qh, Qh

    _, Qhs = jax.lax.scan(interval, Qh0, dts)
    Qhs = jnp.where(too_many, jnp.nan, Qhs[jnp.argsort(order)])
    return Ob[None] @ Qhs, lam, diag


def propagator_steps(W1, W2, Syx, t) -> tuple[int, float]:
    r"""Number of exact steps the propagator takes for these concrete inputs, and the step bound.

    Steps have length :math:`\le h_{\max} = 5/\max|\Lambda|` with
    :math:`\max|\Lambda| = \sqrt{s_{\max}^2 + \lambda^2/4}` (the fastest eigenvalue of F), so
    the count is :math:`\sum_i\lceil\Delta t_i/h_{\max}\rceil` over the sorted times.
    Returns ``(steps, h_max)``.
    """
    a, b, S = (np.asarray(x, dtype=np.float64) for x in (W1, W2, Syx))
    lam = np.trace(b.T @ b - a @ a.T) / a.shape[0]
    lmax = float(np.sqrt(np.linalg.norm(S, 2) ** 2 + lam**2 / 4.0))
    hmax = 5.0 / lmax if lmax > 0 else 5.0
    ts = np.sort(np.asarray(t, dtype=np.float64))
    dts = np.diff(ts, prepend=0.0)
    return int(np.sum(np.ceil(dts / hmax))), hmax


def _naive_P(W1, W2, Syx, t):
    """The textbook form e^{FT} P0 [I + G P0]^{-1} e^{FT}. Overflows; kept to document claim
    ``linear/C7-naive-overflows``."""
    n_h, n_i = W1.shape
    n_o = W2.shape[0]
    lam = _lam_of(W1, W2)
    Ut, Vt, s, k, p, q, mu, Mperp, Ob, Lam = _spectrum(Syx, lam, n_i, n_o)
    diag = _diagnostics(W1, W2, Ut, Vt, p, q)
    Q0 = jnp.concatenate([W1.T, W2], axis=0)
    Ph0 = Ob.T @ (Q0 @ Q0.T) @ Ob
    n = Ph0.shape[0]

    def at(T):
        D = jnp.exp(Lam * T)
        g = T * _expm1_over(2.0 * Lam * T)
        M = jnp.linalg.solve((jnp.eye(n, dtype=Ph0.dtype) + g[:, None] * Ph0).T, Ph0.T).T
        P = Ob @ (D[:, None] * M * D[None, :]) @ Ob.T
        e, V = jnp.linalg.eigh(0.5 * (P + P.T))       # a factor of P, only to fit the container
        return V[:, -n_h:] * jnp.sqrt(jnp.maximum(e[-n_h:], 0.0))[None, :]

    return jax.vmap(at)(t), lam, diag


_IMPLS = {"stable": _stable_P, "propagator": _propagate_P, "naive": _naive_P}


@functools.partial(jax.jit, static_argnames=("method",))
def _solve(W1, W2, Syx, t, method):
    Q, lam, (cond, margin) = _IMPLS[method](W1, W2, Syx, t)
    return LinearSolution(t, Q, lam, cond, margin, W1.shape[1], W1.shape[0], W2.shape[0], method)


def _accuracy_target(dtype) -> float:
    r"""Relative accuracy the choice of method aims at: 1e-9 in float64 (the level of the ODE
    reference, DOP853 at rtol = atol = 1e-12), :math:`10^3\epsilon` in lower precision."""
    return max(1e-9, 1e3 * float(np.finfo(dtype).eps))


class StableCheck(NamedTuple):
    r"""How far the stable form can be trusted on one concrete initialisation.

    Attributes:
        cond_B: :math:`\sigma_{\max}(B)/\sigma_{\min}(B)`, computed in float64.
        B_margin: :math:`\sigma_{\min}(B)/(\sqrt2\|Q_0\|_F)` (0 for a zero init).
        p0_error: :math:`\max|P_{\rm stable}(0) - Q_0Q_0^\top|/\max|Q_0Q_0^\top|`, the stable form
            evaluated at T = 0 with its own arithmetic in the inputs' precision; ``inf`` when B or
            the centre matrix cannot be factorised.
        eps: machine epsilon of the inputs' precision.
    """

    cond_B: float
    B_margin: float
    p0_error: float
    eps: float

    @property
    def predicted_error(self) -> float:
        r""":math:`\mathrm{cond}(B)^2\epsilon`, the measured bound on the stable form's error."""
        return self.cond_B**2 * self.eps

    def failure(self, budget: float) -> str | None:
        """Why the stable form cannot be trusted to relative accuracy ``budget``; None if it can."""
        eps = self.eps
        if not self.B_margin > 1e3 * eps:
            return (f"B is singular to round-off (B_margin = {self.B_margin:.3g} <= 1e3*eps = "
                    f"{1e3 * eps:.3g}): the flow converges to a saddle, which only the propagator "
                    f"reproduces")
        if not self.predicted_error <= budget:
            return (f"cond(B) = {self.cond_B:.3g}, so its round-off error cond(B)^2*eps = "
                    f"{self.predicted_error:.3g} may exceed {budget:.3g}")
        if not self.p0_error <= 1e3 * eps * self.cond_B:
            return (f"evaluated at T = 0 it misses P0 = Q0 Q0^T by {self.p0_error:.3g} (relative; "
                    f"allowed 1e3*eps*cond(B) = {1e3 * eps * self.cond_B:.3g})")
        return None


def _stable_p0_error(W1, W2, Syx) -> float:
    """The stable form at T = 0 in NumPy with the setup of ``_stable_P`` (LU inverse of B) and
    LAPACK's Cholesky and triangular solve for the centre (``_stable_P`` inverts the Cholesky
    factor by recursive blocking instead: the same maths, another operation order), in the
    inputs' precision; its relative deviation from :math:`P_0 = Q_0Q_0^\\top` (inf if it cannot
    be evaluated)."""
    from scipy.linalg import solve_triangular as np_solve_triangular

    n_h, n_i = W1.shape
    n_o = W2.shape[0]
    Q0 = np.concatenate([W1.T, W2], axis=0)
    P0 = Q0.astype(np.float64) @ Q0.T.astype(np.float64)
    scale = np.max(np.abs(P0))
    if not scale > 0:
        return np.inf
    lam = np.trace(W2.T @ W2 - W1 @ W1.T) / n_h
    Ut, Vt, _, _, p, q, _, Mperp, _, _ = _spectrum(Syx, lam, n_i, n_o, xp=np)
    B = _B_matrix(W1, W2, Ut, Vt, p, q)
    C = (W2.T @ Ut) * p[None, :] - (W1 @ Vt) * q[None, :]
    try:
        with np.errstate(all="ignore"):
            Binv = np.linalg.inv(B)
            E = (Binv @ C).T                          # e^{-kT} Cᵀ B^{-T} e^{-kT} at T = 0
            Z = np.concatenate([Vt @ (np.diag(p) - q[:, None] * E),
                                Ut @ (np.diag(q) + p[:, None] * E)], axis=0)
            if Mperp.shape[1] > 0:                    # unequal widths: 2 M⊥ L at T = 0
                Z = Z + 2.0 * Mperp @ ((Mperp.T @ Q0) @ Binv.T)
            center = 4.0 * (Binv @ Binv.T)            # Γ(0) = 0 and Φ(0) = 0
            Lc = np.linalg.cholesky(0.5 * (center + center.T))
            Q = np_solve_triangular(Lc, Z.T, lower=True).T
            err = np.max(np.abs(Q.astype(np.float64) @ Q.T.astype(np.float64) - P0)) / scale
    except (np.linalg.LinAlgError, ValueError):
        return np.inf
    return float(err) if np.isfinite(err) else np.inf


def stable_check(W1, W2, Syx) -> StableCheck:
    r"""Diagnose the stable form on concrete values (NumPy: no compilation).

    Needs :math:`N_h = \min(N_i, N_o)`. cond(B) and the margin are computed in float64 (they
    describe the problem); the T = 0 evaluation runs in the inputs' floating precision (it tests
    the arithmetic that will be used).
    """
    n_i, n_h, n_o = two_layer_dims(W1, W2, Syx)
    if n_h != min(n_i, n_o):
        raise ValueError(f"the stable form needs n_hidden = min(n_in, n_out) = {min(n_i, n_o)}, "
                         f"got n_hidden={n_h}")
    dt = _float_dtype(W1)
    a, b, S = (np.asarray(x, dtype=np.float64) for x in (W1, W2, Syx))
    lam = np.trace(b.T @ b - a @ a.T) / n_h
    Ut, Vt, _, _, p, q, _, _, _, _ = _spectrum(S, lam, n_i, n_o, xp=np)
    sv = np.linalg.svd(_B_matrix(a, b, Ut, Vt, p, q), compute_uv=False)
    q0 = np.sqrt(np.sum(a**2) + np.sum(b**2))
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf
    margin = float(sv[-1] / (np.sqrt(2.0) * q0)) if q0 > 0 else 0.0
    p0 = _stable_p0_error(*(np.asarray(x, dtype=dt) for x in (W1, W2, Syx)))
    return StableCheck(cond, margin, p0, float(np.finfo(dt).eps))


def choose_method(W1, W2, Syx) -> str:
    r"""The ``"auto"`` dispatch, on concrete values (outside ``jit``; NumPy, no compilation).

    ``"stable"`` only when all of these hold, else ``"propagator"`` (exact for every init):

    1. :math:`N_h = \min(N_i, N_o)` (the stable form needs a square, invertible B);
    2. B is not singular to round-off: ``B_margin`` > :math:`10^3\epsilon`;
    3. the *predicted* error is within a tenth of the accuracy target,
       :math:`\mathrm{cond}(B)^2\epsilon \le 10^{-10}` in float64 (so cond(B) ≲ 670;
       :math:`10^2\epsilon` in float32, cond(B) ≲ 10). Measured law: on 400 random near-saddle
       inits (widths 2–4 with N_h = min(N_i, N_o), |λ| = 1e-9..0.1 of both signs, factor scale
       σ = 1e-4..1, det(W) flipped in half of them), the stable form's largest relative error
       over T ∈ [0, 30] against the exact propagator was ≈ c·cond(B)²·ε with c ≤ 0.95
       (median 0.15): the error of the T = 0 term :math:`4e^{-kT}B^{-1}B^{-\top}e^{-kT}`
       squares cond(B). (A limit of cond(B) ≤ 1e6 would allow errors of ~1e-4.)
    4. *verified*: the stable form evaluated at T = 0 (:func:`stable_check`) reproduces
       :math:`P_0 = Q_0Q_0^\top` within :math:`10^3\epsilon\,\mathrm{cond}(B)`. A backward-stable
       evaluation is off by O(cond(B)·ε); the measured T = 0 error was ≤ 0.42·cond(B)²ε, below
       this bound for every cond(B) that item 3 admits, so a failure means the law above does
       not describe this init (the check catches what the law might miss, not its usual cases).
    """
    n_i, n_h, n_o = two_layer_dims(W1, W2, Syx)
    if n_h != min(n_i, n_o):
        return "propagator"
    chk = stable_check(W1, W2, Syx)
    return "propagator" if chk.failure(0.1 * _accuracy_target(_float_dtype(W1))) else "stable"


def _float_dtype(x):
    dt = np.asarray(x).dtype
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)



def _require_nonempty(**dims) -> None:
    for name, n in dims.items():
        if n < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={n} (an empty weight matrix)")


def two_layer_linear(W1, W2, Syx, t, *, method: str = "auto", balance_tol: float = 1e-8,
                     check: bool = True) -> LinearSolution:
    r"""Exact gradient-flow trajectory :math:`P(T)` of a λ-balanced two-layer linear network.

    Solves :math:`dP/dT = FP + PF - P^2` (Dominé et al. 2025; docs: Linear networks) from
    :math:`P_0 = Q_0Q_0^\top`, :math:`Q_0 = [W_1^\top; W_2]`, for whitened inputs
    (:math:`\Sigma_{xx} = I`; see :func:`from_data` and :func:`whiten`), loss
    :math:`\frac1{2P}\|W_2W_1X - Y\|^2`, time :math:`T = \eta\cdot\text{steps}`.

    Accuracy target of the method choice: relative error ≤ 1e-9 in float64 (the ODE
    reference's level), :math:`10^3\epsilon` in lower precision. (In float32 an init with
    :math:`|\lambda|` below round-off of :math:`W_2^\top W_2` is not λ-balanced to working
    precision, and no method recovers digits the inputs have lost.)

    Methods:
        ``"auto"``: ``"stable"`` when it is verified to meet a tenth of the accuracy target,
        else ``"propagator"`` (see :func:`choose_method`): :math:`N_h = \min(N_i,N_o)`, B not
        singular to round-off, :math:`\mathrm{cond}(B)^2\epsilon \le 10^{-10}` (float64; the
        stable form's error was measured to follow ≈ cond(B)²ε, up to 0.95·cond(B)²ε), and the
        stable form evaluated at T = 0 reproduces :math:`Q_0Q_0^\top` within
        :math:`10^3\epsilon\,\mathrm{cond}(B)`. Near the saddle (small |λ|, det(W₀) of the
        opposite sign to det(Σyx)) cond(B) is large and the propagator is used. The choice is
        made on concrete values, so ``"auto"`` cannot be used inside ``jit``/``vmap``: pick a
        method there (one compile serves every λ and init).

        ``"stable"`` (docs: Linear networks, "Stable form"): with
        :math:`E = e^{-kT}C^\top B^{-\top}e^{-kT}`,
        :math:`Z = [\tilde V(\mathrm{diag}\,p - \mathrm{diag}\,q\,E);\ \tilde U(\mathrm{diag}\,q +
        \mathrm{diag}\,p\,E)]` (plus :math:`2M_\perp(L\circ e^{(\mu-k)T})` if N_i ≠ N_o),
        :math:`P = Z\,\mathrm{center}^{-1}Z^\top` with the SPD centre factored by Cholesky (all
        times as batched GEMMs; see ``_stable_P``). Every
        exponential decays; no overflow at any T. Reverse-differentiable (w.r.t. the weights,
        and w.r.t. λ through :func:`lambda_balanced_init`). Its round-off grows like
        cond(B)²ε: on concrete inputs with ``check=True`` it is refused (ValueError) when B is
        singular to round-off, when cond(B)²ε exceeds the accuracy target, or when its T = 0
        value misses :math:`Q_0Q_0^\top` by more than :math:`10^3\epsilon\,\mathrm{cond}(B)`.
        Under ``jit``/``vmap`` (traced inputs) nothing can be checked: watch ``cond_B``.

        ``"propagator"`` (docs: Linear networks, "Exact propagator"): exact factor steps
        between sorted times (≤ 5/max|Λ| each). Works
        for any N_h ≥ min(N_i, N_o), λ = 0 and singular B (a true saddle). Its cost grows
        linearly with max(t)·max|Λ| (:math:`\max|\Lambda| = \sqrt{s_{\max}^2+\lambda^2/4}`),
        so it is bounded: times needing more than ``MAX_PROPAGATOR_STEPS`` = 10^6 steps
        (max(t) ≳ 5·10^6/max|Λ|, e.g. T = 10^4 is fine up to max|Λ| ≈ 500) are refused with a
        ValueError; under ``jit`` the result is NaN instead. No shortcut replaces the steps at
        large T: the flow may still be moving after any finite time (1/T approach to a zero
        singular value at λ = 0, long plateaus near a saddle), so convergence cannot be
        certified cheaply. Not reverse-differentiable (dynamic trip counts).

        ``"naive"``: the textbook form; overflows for :math:`k_{\max}T \gtrsim 350`.
        Only for documenting why the others exist (claim ``linear/C7-naive-overflows``).

    Args:
        W1: ``(N_h, N_i)``, W2: ``(N_o, N_h)``: a λ-balanced initialisation
            (:func:`lambda_balanced_init`), real dtype.
        Syx: :math:`\Sigma_{yx} = YX^\top/P`, ``(N_o, N_i)``.
        t: times, 1-D, finite, ≥ 0, any order (duplicates allowed).
        balance_tol: relative tolerance of the λ-balance check, finite and > 0
            (:math:`\max|W_2^\top W_2 - W_1W_1^\top - \lambda I|` ≤ tol·max(1, |Gram|)); never
            below 100·eps of the input dtype (so float32 inits pass at ~1e-5).
        check: run the value checks (finiteness, balance, and the accuracy check of a forced
            ``"stable"``); they are skipped anyway for traced inputs.

    Returns:
        :class:`LinearSolution` with ``Q``, ``P``, ``W``, ``input_rep``, ``output_rep``, ``lam``,
        ``cond_B``, ``B_margin``, ``saddle``, ``method``, and :meth:`LinearSolution.factor`.

    Raises:
        ValueError: wrong shapes, empty or non-finite inputs, negative or non-finite times, a
            bottleneck N_h < min(N_i, N_o), an init that is not λ-balanced or whose conserved
            matrix is not isotropic, an unknown method, ``"auto"`` under tracing, a bad
            ``balance_tol``, a forced ``"stable"`` that fails its accuracy check, or
            propagator times beyond ``MAX_PROPAGATOR_STEPS`` steps.
        TypeError: complex (or boolean) inputs.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    for name, x in (("W1", W1), ("W2", W2), ("Syx", Syx), ("t", t)):
        require_real(name, x)
    n_i, n_h, n_o = two_layer_dims(W1, W2, Syx)
    _require_nonempty(n_in=n_i, n_hidden=n_h, n_out=n_o)
    check_hidden_width(n_i, n_h, n_o)
    require_times("t", t)
    if np.ndim(balance_tol) != 0 or not (np.isfinite(balance_tol) and balance_tol > 0):
        raise ValueError(f"balance_tol must be a finite number > 0, got {balance_tol!r}")
    traced = any(concrete(a) is None for a in (W1, W2, Syx))
    if check and not traced:
        # never tighter than round-off of the input dtype (float32 inits are balanced to ~1e-7)
        eps = float(jnp.finfo(jnp.result_type(W1)).eps) if jnp.issubdtype(
            jnp.result_type(W1), jnp.floating) else 0.0
        check_balanced(W1, W2, balance_tol=max(balance_tol, 100 * eps))
    W1 = jnp.asarray(W1)
    if not jnp.issubdtype(W1.dtype, jnp.floating):
        W1 = W1.astype(jnp.result_type(float))
    dt = W1.dtype
    W2 = jnp.asarray(W2, dtype=dt)
    Syx = jnp.asarray(Syx, dtype=dt)
    t = jnp.asarray(t, dtype=dt)
    if method == "auto":
        if traced:
            raise ValueError('method="auto" chooses on concrete values; under jit/vmap pass '
                             'method="stable" (N_h = min(N_i, N_o), invertible B) or '
                             'method="propagator" (always valid)')
        method = choose_method(W1, W2, Syx)
    elif method == "stable" and n_h != min(n_i, n_o):
        raise ValueError(f'method="stable" needs n_hidden = min(n_in, n_out) = {min(n_i, n_o)}, '
                         f'got n_hidden={n_h}; use method="propagator" (or "auto")')
    elif method == "stable" and check and not traced:
        target = _accuracy_target(dt)
        why = stable_check(W1, W2, Syx).failure(target)
        if why is not None:
            raise ValueError(
                f'method="stable" cannot reach relative accuracy {target:.3g} on this init: {why}. '
                f'Use method="propagator" (exact for any init) or "auto"; check=False returns the '
                f'unverified stable result')
    n_t = t.shape[0]
    if n_t == 0:
        raise ValueError("t must contain at least one time")
    if method == "propagator" and not traced and concrete(t) is not None:
        steps, hmax = propagator_steps(W1, W2, Syx, t)
        if steps > MAX_PROPAGATOR_STEPS:
            raise ValueError(
                f't: max(t) = {float(jnp.max(t)):.6g} would take {steps:.3g} exact propagator '
                f'steps (each <= 5/max|Lambda| = {hmax:.3g}), more than the limit of '
                f'{MAX_PROPAGATOR_STEPS:.0e} steps; t must be <= about '
                f'{MAX_PROPAGATOR_STEPS * hmax:.4g} here. For later times use method="stable" '
                f'(cost independent of t; needs n_hidden = min(n_in, n_out) and an invertible B) '
                f'or convergence_values for the limit T -> infinity')
    # eager calls: pad the times to a bucket (a power of two, at least 64) so that calls with
    # different numbers of times share one compilation; padded entries repeat the last time and
    # cost next to nothing. Traced calls are compiled by the caller's jit once anyway: no padding.
    bucket = max(64, 1 << max(n_t - 1, 0).bit_length())
    if not traced and concrete(t) is not None and bucket != n_t:
        t_pad = jnp.concatenate([t, jnp.broadcast_to(t[-1:], (bucket - n_t,))])
        sol = _solve(W1, W2, Syx, t_pad, method)
        return dataclasses.replace(sol, t=t, Q=sol.Q[:n_t])
    return _solve(W1, W2, Syx, t, method)
