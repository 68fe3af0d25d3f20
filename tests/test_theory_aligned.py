"""Mode-wise solutions, timings and limits (docs: Linear networks, "Aligned modes")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.claims import linear as C
from lazyrich.theory import (
    aligned_mode,
    convergence_values,
    half_time,
    lambda_balanced_init,
    reversal_time,
    saxe_mode,
    single_neuron,
    staircase_times,
    two_layer_linear,
)


def _late(f, rel):
    """``f`` evaluated at t(1 + rel): a trajectory with a time error of known relative size."""
    return lambda *a, **kw: f(*a[:-1], np.asarray(a[-1]) * (1.0 + rel), **kw)


def _scaled(f, rel):
    """``f``'s value times (1 + rel): an event time off by a known relative amount."""
    return lambda *a, **kw: f(*a, **kw) * (1.0 + rel)


# (claim, theory function it checks, wrong version's maker, relative size). Trajectories: 1e-6
# in time moves a(T) by ~1e-6 (measured 1.7e-6 … 3.7e-6), 10⁴× the 1e-10/1e-12 tolerances.
# Event times: the ODE locates events to ~1e-6 relative (their tolerance), so 1e-5 must fail.
_WRONG = [(C.c9_aligned_vs_ode, "aligned_mode", _late, 1e-6),
          (C.c10_saxe_limit, "aligned_mode", _late, 1e-6),
          (C.c10_saxe_limit, "saxe_mode", _late, 1e-6),
          (C.c11_half_time, "half_time", _scaled, 1e-5),
          (C.c21_reversal_aligned, "reversal_time", _scaled, 1e-5),
          (C.c25_single_neuron, "single_neuron", _late, 1e-6)]


@pytest.mark.parametrize("fn, name, wrong, rel", _WRONG,
                         ids=[f"{w[0].__name__}-{w[1]}" for w in _WRONG])
def test_mode_claim_rejects_a_small_error(fn, name, wrong, rel, monkeypatch):
    """Each mode-wise claim is checked against its reference (the scalar (c, d) or single-neuron
    ODE by DOP853, or Saxe et al.'s solution) and not against itself: it passes on the library's
    function and fails on the same function made wrong by a known, small amount (the claims import
    their theory functions at call time, so the patched one is used)."""
    import lazyrich.theory as T

    out = fn(quick=True)
    assert out.passed, (out.measured, out.tolerance, out.details)
    monkeypatch.setattr(T, name, wrong(getattr(T, name), rel))
    assert not fn(quick=True).passed


def test_c15_hidden_width_max_carries_the_lambda_block():
    # N_h = N_o > N_i (λ > 0): W2W2ᵀ → Ũ diag((κ+λ)/2)Ũᵀ + λŨ⊥Ũ⊥ᵀ; mirror for N_h = N_i > N_o
    out = C.c15_convergence(quick=True, cases=C.C15_NH_MAX_CASES)
    assert out.passed, out.details


def test_c12_error_scales_as_inverse_lambda_squared():
    out = C.c12_shallow_limit(quick=True)
    # next-order correction O(s²/λ²): fitted log-log slope −2 within ±0.3
    assert abs(out.details["slope"] + 2.0) < 0.3
    # and the prefactor of about 0.2 s²/λ² (measured independently) is reproduced within a
    # factor 3
    assert all(0.05 < r < 0.6 for r in out.details["err*lam^2"].values())


def test_aligned_matrix_solution_is_mode_wise():
    """An aligned init (U, V from the SVD of Σ) evolves mode by mode: diag(ŨᵀW(T)Ṽ) = a_α(T)."""
    S = C.task(20, 5, 3)
    U, s, Vt = np.linalg.svd(S)
    a0 = np.array([0.3, -0.2, 1e-3])
    T = np.array([0.0, 0.4, 1.5, 6.0])
    for lam in (-2.0, 0.7):
        W0 = U[:, :3] @ np.diag(a0) @ Vt
        W1, W2 = (np.asarray(x) for x in
                  lambda_balanced_init(jax.random.key(0), lam, 3, 3, 5, W0=W0, U=U, V=Vt.T))
        W = np.asarray(two_layer_linear(W1, W2, S, T).W)
        modes = np.einsum("ia,tij,ja->ta", U[:, :3], W, Vt.T)
        ref = np.asarray(aligned_mode(s[None, :], lam, a0[None, :], T[:, None]))
        np.testing.assert_allclose(modes, ref, atol=1e-12)   # both exact: round-off only
        off = np.einsum("ia,tij,jb->tab", U, W, Vt.T)
        off[:, np.arange(3), np.arange(3)] = 0.0
        assert np.max(np.abs(off)) < 1e-12


def test_aligned_mode_broadcasts_and_survives_huge_T():
    s = jnp.array([0.5, 2.0])[None, :]
    t = jnp.array([0.0, 1e4, 1e6])[:, None]
    a = np.asarray(aligned_mode(s, 0.0, 1e-3, t))
    assert a.shape == (3, 2) and np.all(np.isfinite(a))
    np.testing.assert_allclose(a[1:], np.broadcast_to([0.5, 2.0], (2, 2)), rtol=1e-15)
    # λ = 0 and a0 < 0: stuck at the saddle a = 0 (no 0/0 when e^{-2sT} underflows)
    b = np.asarray(aligned_mode(1.0, 0.0, -0.5, jnp.array([1e3, 1e6])))
    assert np.all(b == 0.0)
    np.testing.assert_array_equal(np.asarray(saxe_mode(1.0, -0.5, jnp.array([1e6]))), [-0.0])


def test_staircase_times_match_the_matrix_solution():
    """Small aligned zero-balanced init: mode α is half-learned at t_α = ln(s_α/a0 − 1)/(2s_α)."""
    S = np.diag([4.0, 3.0, 2.0, 1.0])
    a0 = 1e-4
    t_stair = np.asarray(staircase_times(np.diag(S), a0))
    assert np.all(np.diff(t_stair) > 0)                       # larger s learned first
    np.testing.assert_allclose(t_stair * np.diag(S), np.log(np.diag(S) / a0 - 1) / 2, rtol=1e-14)
    eye = np.eye(4)
    W1, W2 = (np.asarray(x) for x in lambda_balanced_init(
        jax.random.key(1), 0.0, 4, 4, 4, W0=a0 * eye, U=eye, V=eye))
    W = np.asarray(two_layer_linear(W1, W2, S, t_stair).W)
    # closed form vs closed form at the exact half-times: round-off amplified by the sigmoid's
    # sensitivity to the start (ln(s/a0) ~ 10)
    np.testing.assert_allclose(W[np.arange(4), np.arange(4), np.arange(4)], np.diag(S) / 2,
                               rtol=1e-9)


def test_half_time_at_zero_lambda_and_small_lambda_limit():
    # λ → 0 is continuous: t½(λ = 1e-7) ≈ t½(0) to O(λ) (the plateau is set by a0 ≫ λ here)
    t0 = float(half_time(1.0, 0.0, 1e-2))
    assert t0 == pytest.approx(np.log(99.0) / 2, rel=1e-15)
    assert float(half_time(1.0, 1e-7, 1e-2)) == pytest.approx(t0, rel=1e-5)
    assert np.isinf(float(half_time(1.0, 0.0, -0.1)))        # zero-balanced a0 < 0: saddle
    assert np.isfinite(float(half_time(1.0, 1e-3, -0.1)))     # any λ ≠ 0 escapes
    assert float(half_time(1.0, 2.0, 0.7)) == 0.0             # already past s/2


def test_reversal_time_asymptotes():
    s = 1.0
    big = np.array([1e2, 1e3])
    rel = np.asarray(reversal_time(s, big)) * big / np.log(2) - 1
    # t× = ln2/|λ| (1 + O(s²/λ²)): tenfold λ → hundredfold smaller relative error
    assert abs(np.log10(rel[0] / rel[1]) - 2.0) < 0.05
    small = np.array([1e-6, 1e-8])
    diff = np.asarray(reversal_time(s, small)) - np.log(2 * s / small) / (2 * s)
    assert np.all(np.abs(diff) < 1e-5)                        # (1/2s) ln(2s/|λ|) + O(λ)
    np.testing.assert_allclose(np.asarray(reversal_time(s, -big)),
                               np.asarray(reversal_time(s, big)), rtol=0)
    assert np.isinf(float(reversal_time(s, 0.0)))


def test_convergence_values_square_pm_lambda():
    S = C.task(21, 4, 4)
    A_p, B_p = convergence_values(S, 3.0, 4)
    A_m, B_m = convergence_values(S, -3.0, 4)
    # square: the two layers swap roles, W1ᵀW1(λ) − W1ᵀW1(−λ) = −λI
    np.testing.assert_allclose(np.asarray(A_p - A_m), -3.0 * np.eye(4), atol=1e-13)
    np.testing.assert_allclose(np.asarray(B_p - B_m), 3.0 * np.eye(4), atol=1e-13)
    U, s, Vt = np.linalg.svd(S)
    # ... and the input side at λ equals the output side at −λ, mode by mode
    np.testing.assert_allclose(Vt @ np.asarray(A_p) @ Vt.T, U.T @ np.asarray(B_m) @ U, atol=1e-13)
    # λ = 0: both representations are Ṽ S̃ Ṽᵀ and Ũ S̃ Ũᵀ
    A0, B0 = convergence_values(S, 0.0, 4)
    np.testing.assert_allclose(np.asarray(A0), Vt.T @ np.diag(s) @ Vt, atol=1e-13)
    np.testing.assert_allclose(np.asarray(B0), U @ np.diag(s) @ U.T, atol=1e-13)


def test_single_neuron_pole_is_where_a_crosses_zero():
    """z < −1 (ν0 below the unstable root): ν has a pole exactly when a(T) = 0 in the flow."""
    from scipy.integrate import solve_ivp

    beta = np.array([1.0, 0.0, 0.0, 0.0])
    w0 = np.array([-2.0, 0.3, 0.0, 0.0])
    a0 = 0.5
    s, delta, nu0 = 1.0, a0**2 - w0 @ w0, float(w0 @ beta / a0)
    K = np.sqrt(delta**2 + 4 * s**2)
    z = (delta + 2 * nu0) / K
    assert z < -1
    t_pole = 2 / K * np.arctanh(-1 / z)          # 1 + z tanh(KT/2) = 0

    def rhs(_, y):
        r = beta - y[4] * y[:4]
        return np.concatenate([y[4] * r, [y[:4] @ r]])

    sol = solve_ivp(rhs, (0, 10), np.concatenate([w0, [a0]]), method="DOP853", rtol=1e-12,
                    atol=1e-13, events=lambda _, y: y[4])
    assert abs(sol.t_events[0][0] - t_pole) < 1e-9
    # away from the pole the unified tanh/coth expression matches the flow on both sides
    T = np.array([0.5 * t_pole, 2.0 * t_pole])
    w, a = C.single_neuron_ode(w0, a0, beta, T)
    np.testing.assert_allclose(np.asarray(single_neuron(s, delta, nu0, T)), (w @ beta) / a,
                               rtol=1e-9)


def test_single_neuron_is_the_n_out_1_network():
    """Kunin's neuron is the (N_i, 1, 1) network: ν = Wβ*/(W2W2ᵀ) from two_layer_linear."""
    rng = np.random.default_rng(26)
    beta = rng.standard_normal(4)
    T = np.linspace(0.0, 6.0, 13)
    for a0, wn in [(1.0, 0.1), (0.1, 1.0)]:
        w0 = wn * rng.standard_normal(4) / 2.0
        w, a = C.single_neuron_ode(w0, a0, beta, T)
        assert C.single_neuron_as_network_error(w0, a0, beta, T, (w @ beta) / a) < 1e-10
