r"""DMFT of deep nonlinear networks: causal Monte Carlo single sites with pathwise responses
(docs: Dynamical mean field theory).

The centred μP-γ network with L >= 2 weight matrices and a smooth activation φ, trained by
full-batch GD in the engine's units, at infinite width and fixed γ (Bordelon & Pehlevan,
"Self-Consistent Dynamical Field Theory of Kernel Evolution in Wide Neural Networks", NeurIPS
2022, arXiv:2205.09653). Notation and units are those of :mod:`lazyrich.theory._dmft`:
:math:`\kappa = 2\eta/(P\gamma)`, :math:`\Delta = y - f` (0 on test points), n = steps + 1 times,
:math:`P_a` training + test points.

Per hidden layer :math:`\ell = 1,\dots,L-1` a population of M single-site paths carries the
forward field :math:`h^\ell(t)` and the backward field :math:`z^\ell(t)` (vectors over the points),
:math:`b^\ell = \phi'(h^\ell)\odot z^\ell`:

.. math::
    h^\ell(t) = \tilde u^\ell(t) + \sum_{s<t}\bigl[R^{\ell-1}(t,s)
        + \kappa\,\Phi^{\ell-1}(t,s)\,\mathrm{diag}\,\Delta(s)\bigr]\,b^\ell(s),

    z^\ell(t) = r^\ell(t) + \sum_{s\le t}Q^\ell(t,s)\,\phi(h^\ell(s))
        + \kappa\sum_{s<t}G^{\ell+1}(t,s)\,\mathrm{diag}\,\Delta(s)\,\phi(h^\ell(s)),

with :math:`\tilde u^1 = u^1\sim\mathcal N(0, K^x)` constant in time (:math:`\Phi^0 = K^x`,
:math:`R^0 = 0`), :math:`\tilde u^\ell\sim GP(0,\Phi^{\ell-1})`, :math:`r^\ell\sim GP(0,G^{\ell+1})`
and, at the top, :math:`z^{L-1}(t) = w(t)` with source :math:`w(0)\sim\mathcal N(0,1)`,
:math:`G^L\equiv 1`, :math:`Q^{L-1} = 0`. The kernels are population averages,
:math:`\Phi^\ell(t,s) = \mathbb E[\phi(h^\ell(t))\phi(h^\ell(s))^\top]`,
:math:`G^\ell(t,s) = \mathbb E[b^\ell(t)b^\ell(s)^\top]`, and the responses (Onsager terms from
reusing the initial weight matrices in both passes) are pathwise derivatives

.. math::
    R^\ell(t,s) = \mathbb E\Bigl[\frac{\partial\phi(h^\ell(t))}{\partial r^\ell(s)}\Bigr]\ (s<t),
    \qquad
    Q^\ell(t,s) = \mathbb E\Bigl[\frac{\partial b^{\ell+1}(t)}{\partial\tilde u^{\ell+1}(s)}\Bigr]
    \ (s\le t).

The equal-time :math:`Q^\ell(t,t)` (leading part :math:`\mathrm{diag}\,\mathbb E[\phi''(h)z]`) is
zero for linear φ and at t = 0, but O(γ) during training and O(1) per step: it does not vanish in
the flow limit.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._dmft import (
    MEMORY_BUDGET,
    DMFTSolution,
    _budget,
    _check_memory,
    _count,
    _inputs,
    _key,
    _mc_args,
    _replica_mean_se,
    _require_finite,
    _split,
    _x64,
)
from ._infinite_width import ACTIVATIONS, ABReLU

_F64 = jnp.float64
#: ``responses`` options: all response terms; without the equal-time Q(t,t); none (the
#: gradient-independence approximation).
RESPONSES = ("full", "no-equal-time", "none")
_KINKED = ("relu", "leaky_relu")
# eigenvalues of a conditional (Schur-complement) covariance below this fraction of max K^x_mm
# (the kernels' scale) are clipped to 0 and pseudo-inverted as 0 (sample kernels are PSD up to
# round-off; near-singular time increments at small gamma stay far above it: ~kappa^2)
_CLIP = 1e-13


# ---------------------------------------------------------------------------------------------
# Pieces of one replica
# ---------------------------------------------------------------------------------------------


def _value_and_slope(phi, h):
    return jax.jvp(phi, (h,), (jnp.ones_like(h),))


def _replay(phi, src_h, src_z, A, B, eps_h, eps_z):
    r"""One layer's whole history recomputed from its sources with the couplings A, B held fixed
    and shared perturbations ``eps_h``, ``eps_z`` ``(n, P_a)`` added to h and z:
    :math:`h(t) = \tilde u(t) + \epsilon_h(t) + \sum_{s}A(t,s)b(s)`,
    :math:`z(t) = r(t) + \epsilon_z(t) + \sum_s B(t,s)\phi(h(s))` (A strictly, B weakly
    causal, so zero blocks do the masking). Returns φ(h) and b ``(M, n, P_a)``.

    The perturbation is common to all paths, so the derivative of a population mean with respect
    to it is the population mean of each path's derivative with respect to its own source: the
    response function. The solver uses the hand-written reverse mode :func:`_adjoint`; this
    replay is its reference (JAX autodiff of it, in the tests)."""
    M, n, Pa = src_h.shape

    def step(carry, t):
        phist, bhist = carry
        h = src_h[:, t] + eps_h[t][None] + jnp.einsum("psq,msq->mp", A[t], bhist)
        p, dp = _value_and_slope(phi, h)
        phist = phist.at[:, t].set(p)
        z = src_z[:, t] + eps_z[t][None] + jnp.einsum("psq,msq->mp", B[t], phist)
        bhist = bhist.at[:, t].set(dp * z)
        return (phist, bhist), None

    zero = jnp.zeros((M, n, Pa), _F64)
    (phist, bhist), _ = jax.lax.scan(step, (zero, zero), jnp.arange(n))
    return phist, bhist


def _adjoint(phi, Hh, Z, A, B, t, seed_h, seed_b):
    r"""Population-mean pathwise derivatives of an output at time t of one layer's recursion,
    hand-written reverse mode (the recursion of :func:`_replay`, swept from t down to 0).

    The output's cotangent is seeded on h(t) (``seed_h``, ``(M, P_o, P_a)``: for
    :math:`\phi(h(t))` it is :math:`\phi'(h(t))` on the diagonal) or on b(t) (``seed_b``). With
    :math:`\bar b(s) = \sum_{t'>s}A(t',s)^\top\bar h(t')`, :math:`\bar z = \bar b\odot\phi'`,
    :math:`\bar\phi(s) = \sum_{t'\ge s}B(t',s)^\top\bar z(t')` and
    :math:`\bar h = \bar b\odot\phi''z + \bar\phi\odot\phi'`, returns the path means of
    :math:`\bar z(s)` (derivatives w.r.t. the backward source) and :math:`\bar h(s)` (w.r.t. the
    forward source), ``(P_o, n, P_a)`` each, zero for s > t. Cost :math:`O(M P_o n P_a^2)` per
    time swept."""
    M, n, Pa = Hh.shape
    Po = seed_h.shape[1]

    def d12(h):
        def d1(u):
            return jax.jvp(phi, (u,), (jnp.ones_like(u),))[1]
        return jax.jvp(d1, (h,), (jnp.ones_like(h),))

    A2 = A.transpose(2, 0, 1, 3).reshape(n, n * Pa, Pa)       # [s] -> (t p, q) = A(t, s)_{pq}
    B2 = B.transpose(2, 0, 1, 3).reshape(n, n * Pa, Pa)

    def body(i, carry):
        AH, AZ = carry                # cotangents of h and z, (M Po, n Pa): a plain 2-d matmul
        s = t - i
        first = i == 0
        p1, p2 = d12(Hh[:, s])
        # pull: h(t') for t' > s and z(t') for t' >= s are the only consumers of b(s), phi(s)
        ab = jnp.where(first, seed_b, 0.0) + (AH @ A2[s]).reshape(M, Po, Pa)
        az = ab * p1[:, None, :]
        AZ = jax.lax.dynamic_update_slice(AZ, az.reshape(M * Po, Pa), (0, s * Pa))
        ap = (AZ @ B2[s]).reshape(M, Po, Pa)
        ah = jnp.where(first, seed_h, 0.0) + ab * (p2 * Z[:, s])[:, None, :] + ap * p1[:, None, :]
        AH = jax.lax.dynamic_update_slice(AH, ah.reshape(M * Po, Pa), (0, s * Pa))
        return AH, AZ

    zero = jnp.zeros((M * Po, n * Pa), _F64)
    AH, AZ = jax.lax.fori_loop(0, t + 1, body, (zero, zero))
    AH = AH.reshape(M, Po, n, Pa)
    AZ = AZ.reshape(M, Po, n, Pa)
    return jnp.mean(AZ, axis=0), jnp.mean(AH, axis=0)


def _chol_row(K, Lf, Li, t, scale):
    r"""Row t of the incremental block Cholesky factor of the covariance ``K`` ``(n, P_a, n,
    P_a)``, rows < t already in ``Lf`` with pseudo-inverted diagonal blocks ``Li``:
    :math:`L(t,s) = (K(t,s) - \sum_{k<s}L(t,k)L(s,k)^\top)L(s,s)^{+\top}`, then the Schur
    complement :math:`S = K(t,t) - \sum_{k<t}L(t,k)L(t,k)^\top` with eigenvalues clipped at 0 gives
    :math:`L(t,t) = V\sqrt{\lambda_+}V^\top` and its pseudo-inverse."""
    n = K.shape[0]
    idx = jnp.arange(n)

    def off(s, row):
        prev = jnp.where((idx < s)[:, None, None], row, 0.0)
        c = K[t, :, s, :] - jnp.einsum("kab,kcb->ac", prev, Lf[s])
        return row.at[s].set(c @ Li[s].T)

    row = jax.lax.fori_loop(0, t, off, jnp.zeros_like(Lf[0]))
    prev = jnp.where((idx < t)[:, None, None], row, 0.0)
    S = K[t, :, t, :] - jnp.einsum("kab,kcb->ac", prev, prev)
    lam, V = jnp.linalg.eigh(0.5 * (S + S.T))
    keep = lam > _CLIP * scale
    sq = jnp.sqrt(jnp.where(keep, lam, 0.0))
    inv = jnp.where(keep, 1.0 / jnp.where(keep, sq, 1.0), 0.0)
    # the symmetric square root (unique, continuous in S: common random numbers stay common)
    row = row.at[t].set((V * sq[None, :]) @ V.T)
    return Lf.at[t].set(row), Li.at[t].set((V * inv[None, :]) @ V.T)


def _fill(Kfull, t, block):
    """Write the cross-time blocks K(t, s) = block[s] and K(s, t) = block[s]^T for all s <= t
    (``block`` zero beyond t)."""
    n = Kfull.shape[0]
    mask = (jnp.arange(n) <= t)[:, None, None]
    row = jnp.where(mask, block, Kfull[t].transpose(1, 0, 2))             # (n, Pa, Pa) [s, a, b]
    Kfull = Kfull.at[t].set(row.transpose(1, 0, 2))
    col = jnp.where(mask, block.transpose(0, 2, 1), Kfull[:, :, t, :])
    return Kfull.at[:, :, t, :].set(col)


@functools.partial(jax.jit, static_argnames=("phi", "steps", "P", "samples", "L", "mode"))
def _deep_replica(phi, key, Kx, y, kappa, gamma, steps, P, samples, L, mode):
    r"""One population of ``samples`` paths per hidden layer, causal in time. ``mode``: 0 full
    responses, 1 without the equal-time Q(t,t), 2 no responses."""
    Pa = Kx.shape[0]
    n = steps + 1
    M = samples
    quarter = M // 4
    H = L - 1                                       # hidden layers, index k = ell - 1
    nr = L - 2                                      # layers with responses R (k <= L-3) / Q
    lam, V = jnp.linalg.eigh(0.5 * (Kx + Kx.T))
    factor = V * jnp.sqrt(jnp.maximum(lam, 0.0))[None, :]
    k_u1, k_w0, k_fwd, k_bwd = jax.random.split(key, 4)
    # Antithetic groups of four paths. Members 1, 2 (and 3, 4) differ by the sign of every
    # backward source (w(0), r): the population is exactly even in gamma. Members 1, 3 (and 2, 4)
    # differ by the sign of every innovation after t = 0 (the Cholesky terms s >= 1 of both
    # families): those terms scale as |kappa| (square roots of O(kappa^2) conditional
    # covariances), and without the flip their Monte Carlo average leaves an O(|gamma|), i.e.
    # non-analytic, error in the lazy limit.
    u1 = jax.random.normal(k_u1, (quarter, Pa), _F64) @ factor.T
    u1 = jnp.concatenate([u1, u1, u1, u1])
    w0 = jax.random.normal(k_w0, (quarter,), _F64)
    w0 = jnp.concatenate([w0, -w0, w0, -w0])

    def group(xi, t, backward):
        later = jnp.where(t == 0, 1.0, -1.0)
        signs = (1.0, -1.0, later, -later) if backward else (1.0, 1.0, later, later)
        return jnp.concatenate([c * xi for c in signs])
    strict = (jnp.arange(n)[:, None] > jnp.arange(n)[None, :]).astype(_F64)    # [t, s]: s < t
    ones4 = jnp.ones((n, Pa, n, Pa), _F64)
    KxT = jnp.broadcast_to(Kx[None, :, None, :], (n, Pa, n, Pa))
    scale = jnp.max(jnp.diag(Kx))
    eye_p = jnp.eye(Pa, dtype=_F64)

    def coupling(K4, resp, delta):
        """resp + κ 1[s<t] K(t,s) diag Δ(s), (n, Pa, n, Pa)."""
        return resp + kappa * K4 * strict[:, None, :, None] * delta[None, None, :, :]

    z4 = jnp.zeros((max(nr, 1), n, Pa, n, Pa), _F64)
    zpath = jnp.zeros((H, M, n, Pa), _F64)
    state = dict(
        Hh=zpath, Z=zpath, P_=zpath, B_=zpath,                     # h, z, phi(h), b
        U=zpath.at[0].set(jnp.broadcast_to(u1[:, None, :], (M, n, Pa))),   # forward sources
        Rsrc=zpath.at[H - 1].set(jnp.broadcast_to(w0[:, None, None], (M, n, Pa))),
        Xu=jnp.zeros((max(nr, 1), M, n, Pa), _F64), Xr=jnp.zeros((max(nr, 1), M, n, Pa), _F64),
        Phi=jnp.zeros((H, n, Pa, n, Pa), _F64), G=jnp.zeros((H, n, Pa, n, Pa), _F64),
        R=z4, Q=z4,
        LFu=jnp.zeros((max(nr, 1), n, n, Pa, Pa), _F64), LIu=jnp.zeros((max(nr, 1), n, Pa, Pa)),
        LFr=jnp.zeros((max(nr, 1), n, n, Pa, Pa), _F64), LIr=jnp.zeros((max(nr, 1), n, Pa, Pa)),
        delta=jnp.zeros((n, Pa), _F64), f=jnp.zeros((n, Pa), _F64),
    )

    def A_of(st, k):
        if k == 0:
            return coupling(KxT, 0.0, st["delta"])
        return coupling(st["Phi"][k - 1], st["R"][k - 1], st["delta"])

    def B_of(st, k):
        if k == H - 1:
            return coupling(ones4, 0.0, st["delta"])
        return coupling(st["G"][k + 1], st["Q"][k], st["delta"])

    def body(t, st):
        st = dict(st)
        # ---- forward sweep, layers 1 .. L-1 ----
        for k in range(H):
            if k >= 1:
                Lf, Li = _chol_row(st["Phi"][k - 1], st["LFu"][k - 1], st["LIu"][k - 1], t,
                                   scale)
                st["LFu"] = st["LFu"].at[k - 1].set(Lf)
                st["LIu"] = st["LIu"].at[k - 1].set(Li)
                xi = jax.random.normal(jax.random.fold_in(jax.random.fold_in(k_fwd, k), t),
                                       (quarter, Pa), _F64)
                Xu = st["Xu"][k - 1].at[:, t].set(group(xi, t, False))
                st["Xu"] = st["Xu"].at[k - 1].set(Xu)
                u_t = jnp.einsum("sab,msb->ma", Lf[t], Xu)
                st["U"] = st["U"].at[k, :, t].set(u_t)
            A = A_of(st, k)
            h = st["U"][k][:, t] + jnp.einsum("psq,msq->mp", A[t], st["B_"][k])
            p, _ = _value_and_slope(phi, h)
            st["Hh"] = st["Hh"].at[k, :, t].set(h)
            st["P_"] = st["P_"].at[k, :, t].set(p)
            block = jnp.einsum("ma,msb->sab", p, st["P_"][k]) / M
            st["Phi"] = st["Phi"].at[k].set(_fill(st["Phi"][k], t, block))
            if k <= L - 3 and mode != 2:
                _, dp = _value_and_slope(phi, h)
                seed = dp[:, :, None] * eye_p[None]                       # d phi(h(t))/dh(t)
                Rt, _ = _adjoint(phi, st["Hh"][k], st["Z"][k], A, B_of(st, k), t, seed,
                                 jnp.zeros_like(seed))
                Rt = jnp.where((jnp.arange(n) < t)[None, :, None], Rt, 0.0)
                st["R"] = st["R"].at[k, t].set(Rt)
        # ---- output and error signal ----
        top = H - 1
        B = B_of(st, top)
        w_t = st["Rsrc"][top][:, t] + jnp.einsum("psq,msq->mp", B[t], st["P_"][top])
        f_t = jnp.mean(w_t * st["P_"][top][:, t] - w0[:, None] * st["P_"][top][:, 0], axis=0)
        f_t = f_t / gamma
        st["f"] = st["f"].at[t].set(f_t)
        st["delta"] = st["delta"].at[t, :P].set(y - f_t[:P])
        # ---- backward sweep, layers L-1 .. 1 ----
        for k in range(H - 1, -1, -1):
            if k <= L - 3:
                Lf, Li = _chol_row(st["G"][k + 1], st["LFr"][k], st["LIr"][k], t, scale)
                st["LFr"] = st["LFr"].at[k].set(Lf)
                st["LIr"] = st["LIr"].at[k].set(Li)
                xi = jax.random.normal(jax.random.fold_in(jax.random.fold_in(k_bwd, k), t),
                                       (quarter, Pa), _F64)
                Xr = st["Xr"][k].at[:, t].set(group(xi, t, True))
                st["Xr"] = st["Xr"].at[k].set(Xr)
                r_t = jnp.einsum("sab,msb->ma", Lf[t], Xr)
                st["Rsrc"] = st["Rsrc"].at[k, :, t].set(r_t)
            B = B_of(st, k)
            z = st["Rsrc"][k][:, t] + jnp.einsum("psq,msq->mp", B[t], st["P_"][k])
            _, dp = _value_and_slope(phi, st["Hh"][k][:, t])
            b = dp * z
            st["Z"] = st["Z"].at[k, :, t].set(z)
            st["B_"] = st["B_"].at[k, :, t].set(b)
            block = jnp.einsum("ma,msb->sab", b, st["B_"][k]) / M
            st["G"] = st["G"].at[k].set(_fill(st["G"][k], t, block))
            if k >= 1 and mode != 2:
                seed = jnp.broadcast_to(eye_p[None], (M, Pa, Pa))        # d b(t)/d b(t)
                _, Qt = _adjoint(phi, st["Hh"][k], st["Z"][k], A_of(st, k), B, t,
                                 jnp.zeros_like(seed), seed)
                Qt = jnp.where((jnp.arange(n) < t + int(mode == 0))[None, :, None], Qt, 0.0)
                st["Q"] = st["Q"].at[k - 1, t].set(Qt)
        return st

    st = jax.lax.fori_loop(0, n, body, state)
    t = jnp.arange(n)
    Phi_tt = st["Phi"][:, t, :, t, :]                                      # (n, H, Pa, Pa)
    G_tt = st["G"][:, t, :, t, :]
    Phi_tt = jnp.moveaxis(Phi_tt, 0, 1)
    G_tt = jnp.moveaxis(G_tt, 0, 1)                                        # (H, n, Pa, Pa)
    ntk = G_tt[0] * Kx[None] + jnp.sum(Phi_tt[:-1] * G_tt[1:], axis=0) + Phi_tt[-1]
    return st["f"], Phi_tt, G_tt, ntk


def _kinked(activation):
    if isinstance(activation, ABReLU):
        return True
    if isinstance(activation, str):
        return activation in _KINKED
    return any(activation is ACTIVATIONS[name] for name in _KINKED) or activation is jax.nn.relu


def deep_memory(n_points: int, steps: int, depth: int, samples: int) -> float:
    r"""Bytes one replica of :func:`dmft_deep` plans for: the paths (fields, sources and normal
    banks, about :math:`8(L-1)` arrays of :math:`MnP_a`), the reverse-mode cotangents of the
    responses (:math:`3P_a` such arrays) and the kernels, responses and Cholesky factors
    (:math:`6(L-1)` arrays of :math:`(nP_a)^2`): :math:`8[(8(L-1) + 3P_a)MnP_a +
    6(L-1)(nP_a)^2]`."""
    n = steps + 1
    Hl = depth - 1
    return 8.0 * ((8 * Hl + 3 * n_points) * samples * n * n_points
                  + 6 * Hl * (n * n_points) ** 2)


def dmft_deep(key, x_train, y_train, x_test=None, *, depth: int, activation, gamma, eta,
              steps: int, samples: int, replicas: int, responses: str = "full",
              memory_budget=MEMORY_BUDGET) -> DMFTSolution:
    r"""Deep network (L >= 2 weight matrices) with a smooth activation at infinite width: the
    single-site processes of every hidden layer sampled by Monte Carlo and solved causally in one
    pass, with sample-dependent response functions from pathwise derivatives (Bordelon &
    Pehlevan 2022, arXiv:2205.09653; docs: Dynamical mean field theory).

    The equations are those of the module docstring (:mod:`lazyrich.theory._dmft_deep`), in the
    engine's units with :math:`\kappa = 2\eta/(P\gamma)`. Every coupling is causal, so at each
    step t, with all earlier rows fixed:

    1. **Forward sweep**, ℓ = 1 … L−1: row t of the block Cholesky factor of
       :math:`\Phi^{\ell-1}` (built incrementally; Schur-complement eigenvalues clipped at 0,
       pseudo-inverted diagonal blocks) turns a fixed bank of standard normals into the source
       :math:`\tilde u^\ell(t)` conditional on its past; then :math:`h^\ell(t)`,
       :math:`\Phi^\ell(t, s\le t)` and the strictly causal :math:`R^\ell(t, s<t)`.
    2. :math:`f(t) = \frac1\gamma\mathbb E[w(t)\phi(h^{L-1}(t)) - w(0)\phi(h^{L-1}(0))]` (the
       subtracted term on the same paths: the Monte Carlo form of the engine's centring), and
       :math:`\Delta(t) = y - f(t)`.
    3. **Backward sweep**, ℓ = L−1 … 1: :math:`z^{L-1}(t) = w(t)`; below, the source
       :math:`r^\ell(t)` conditional on its past from :math:`G^{\ell+1}`, then :math:`z^\ell(t)`
       (with the equal-time :math:`Q^\ell(t,t)\phi(h^\ell(t))`), :math:`b^\ell(t)`,
       :math:`G^\ell(t, s\le t)` and :math:`Q^{\ell-1}(t, s\le t)` *including* s = t.

    Responses are pathwise derivatives of each path's own recursion (reverse mode written out:
    one sweep back over the layer's history per step and response family, checked against JAX
    autodiff of the recursion), averaged over the paths; no
    fixed-point iteration is needed and, for discrete GD, the result is exact up to Monte Carlo
    error. ``responses="no-equal-time"`` drops :math:`Q(t,t)`; ``responses="none"`` drops R and Q
    (the gradient-independence approximation). Both are ablations, for tests and figures.

    Estimator: ``replicas`` independent populations of ``samples`` paths per layer, each with its
    own Δ; the result is the replica mean and ``*_se`` its standard error. Paths come in
    antithetic groups of four: flipping every backward source and :math:`w(0)` makes each
    sampled trajectory exactly even in γ; flipping every innovation after t = 0 (the conditional
    parts of the Cholesky draws, which scale as :math:`|\kappa|`) removes an O(|γ|) Monte Carlo
    term, so the sampled trajectory tends to its own kernel dynamics with an O(γ²) gap.
    Monte Carlo error :math:`O(M^{-1/2})`, bias :math:`O(1/M)`. At depth 2 there are no
    responses and this is :func:`dmft_two_layer`'s recursion (with its own random draws).

    Only smooth activations: for ReLU and other kinked φ the pathwise derivatives miss the
    δ-function terms of :math:`\phi''` in Q, so ``"relu"``, ``"leaky_relu"`` and :class:`ABReLU`
    are refused (a user callable is taken to be smooth; it is differentiated twice).

    Cost: time :math:`O(R\,(L-2)\,M\,n^3P_a^3)` for the responses (at each of the n steps a
    reverse sweep over the layer's history with :math:`P_a` cotangents, two response families
    per pair of adjacent hidden layers) plus :math:`O(R\,L\,M\,n^2P_a^2)` for the paths; memory
    per replica :func:`deep_memory` bytes (e.g. 0.15 GB for M = 8000, n = 21, :math:`P_a` = 4,
    L = 3), refused above ``memory_budget``; replicas run one after the other. Measured on two
    CPU cores after compilation (about 4 s), L = 3, :math:`P_a` = 4: 3.7 s per replica at
    M = 8000, n = 21 (0.5 s without responses), 0.4 s at M = 4000, n = 13.

    Args:
        key: a JAX PRNG key (first argument).
        x_train: ``(P, D)``, rows are points. y_train: ``(P,)``. x_test: optional ``(Q, D)``.
        depth: L >= 2, the number of weight matrices.
        activation: a smooth activation: a name of :data:`ACTIVATIONS` other than ``"relu"`` and
            ``"leaky_relu"`` (``"erf"``, ``"tanh"``, ``"gelu"``, ``"linear"``, ...) or a
            hashable elementwise callable.
        gamma: γ, finite and nonzero. eta: the engine's η > 0. steps: GD steps >= 1.
        samples: M, paths per layer and replica, a multiple of 4 (antithetic groups).
        replicas: R >= 1 independent populations (>= 2 for an error estimate).
        responses: ``"full"`` (default), ``"no-equal-time"`` or ``"none"``.
        memory_budget: bytes the solve may use (default 2 GiB).

    Returns:
        :class:`DMFTSolution` (``solver="deep"``) with ``loss_se``, ``f_train_se``,
        ``f_test_se``; ``gradient_kernel`` holds :math:`G^\ell(t,t)` over the points.

    Raises:
        ValueError: bad arguments (the message names the argument), a kinked activation, or a
            solve over ``memory_budget``.
        RuntimeError: the trajectory overflows float64 (GD diverges at this η and γ).
    """
    key = _key(key)
    x_all, y, P, with_test = _inputs(x_train, y_train, x_test)
    L = _count("depth", depth, 2, "the number of weight matrices")
    if _kinked(activation):
        raise ValueError(f"activation must be smooth for the deep DMFT, got {activation!r}: a "
                         f"kinked activation has a delta-function second derivative whose terms in "
                         f"the backward response Q are missed by pathwise derivatives (use erf, "
                         f"tanh, gelu or softplus; two-layer ReLU is dmft_two_layer)")
    phi, g, e, steps, samples, replicas = _mc_args(
        activation, gamma, eta, steps, samples, replicas, 4,
        "paths come in antithetic groups of four")
    if not isinstance(responses, str) or responses not in RESPONSES:
        raise ValueError(f"responses must be one of {RESPONSES}, got {responses!r}")
    mode = RESPONSES.index(responses)
    budget = _budget(memory_budget)
    Pa, D = x_all.shape
    n = steps + 1
    _check_memory(deep_memory(Pa, steps, L, samples), budget,
                  f"depth {L}, {samples} samples x {n} time points x {Pa} points per replica")
    Kx = x_all @ x_all.T / D
    kappa = 2.0 * e / (P * g)

    def run():
        args = (jnp.asarray(Kx, _F64), jnp.asarray(y, _F64), jnp.asarray(kappa, _F64),
                jnp.asarray(g, _F64))
        outs = [_deep_replica(phi, k, *args, steps, P, samples, L, mode)
                for k in jax.random.split(key, replicas)]
        f, Phi, G, ntk = (jnp.stack(v) for v in zip(*outs, strict=True))
        loss = jnp.mean((f[:, :, :P] - args[1][None, None]) ** 2, axis=2)
        fm, fse = _replica_mean_se(f)
        lm, lse = _replica_mean_se(loss)
        return fm, fse, lm, lse, jnp.mean(Phi, 0), jnp.mean(G, 0), jnp.mean(ntk, 0)

    f, fse, loss, lse, Phi, G, ntk = _x64(run)
    _require_finite("dmft_deep", loss)
    ftr, fte = _split(f, P, with_test)
    ftr_se, fte_se = _split(fse, P, with_test)
    return DMFTSolution(np.arange(n), loss, ftr, fte, Phi, G, ntk, np.zeros((0,)), lse, ftr_se,
                        fte_se, "deep", L)
