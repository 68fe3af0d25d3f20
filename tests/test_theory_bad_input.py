"""Linear-network, deep-linear and capacity theory: bad input is refused with a message naming the
argument and what it must be; nothing returns NaN, a truncated value or a raw traceback silently,
and no call runs unbounded (the propagator refuses times it would need too many steps for)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.sims import chain_gd
from lazyrich.theory import (
    aligned_mode,
    balance,
    ball_capacity,
    ball_capacity_large_dim,
    chain_eta_max_lazy,
    chain_eta_max_rich,
    chain_plateau_time,
    convergence_values,
    cover_separability,
    deep_linear_final_ntk,
    from_data,
    gardner_capacity,
    half_time,
    lambda_balanced_init,
    measure_lambda,
    mode_learning_time,
    random_task,
    reversal_time,
    saxe_mode,
    shallow_limit,
    single_neuron,
    split_singular_values,
    two_layer_linear,
    whiten,
)
from lazyrich.theory._exact import MAX_PROPAGATOR_STEPS, propagator_steps

KEY = jax.random.key(0)
W1, W2 = (np.asarray(w) for w in lambda_balanced_init(KEY, 1.0, 3, 3, 3))
S = np.asarray(random_task(jax.random.key(1), 3, 3, [2.0, 1.0, 0.5]))
# λ = 0 with n_hidden = 3 > min(n_in, n_out) = 2: "auto" has to use the propagator
V1, V2 = (np.asarray(w) for w in lambda_balanced_init(KEY, 0.0, 2, 3, 2))
T1 = np.array([0.0, 1.0])
_rng = np.random.default_rng(0)
Z = _rng.standard_normal((2, 10))
X_DEFICIENT = np.vstack([Z, Z[0] + Z[1]])   # rank 2 in 3 dimensions, up to rounding


CASES = {
    # λ-balanced init
    "init_sigma_nan": (lambda: lambda_balanced_init(KEY, 0.5, 3, 3, 3, sigma=np.nan), ValueError,
                       r"sigma must be finite and > 0, got nan"),            # was a raw LinAlgError
    "init_sigma_negative": (lambda: lambda_balanced_init(KEY, 0.5, 3, 3, 3, sigma=-1.0),
                            ValueError, r"sigma must be finite and > 0, got -1\.0"),
    "init_sigma_zero": (lambda: lambda_balanced_init(KEY, 0.5, 3, 3, 3, sigma=0.0), ValueError,
                        r"sigma must be finite and > 0, got 0\.0"),
    "init_sigma_vector": (lambda: lambda_balanced_init(KEY, 0.5, 3, 3, 3, sigma=np.ones(2)),
                          ValueError, r"sigma must be a scalar > 0, got shape \(2,\)"),
    "init_int_key": (lambda: lambda_balanced_init(0, 0.5, 3, 3, 3), TypeError,
                     r"key must be a single jax\.random key, e\.g\. jax\.random\.key\(0\), got 0"),
    "init_complex_lam": (lambda: lambda_balanced_init(KEY, 0.5 + 1j, 3, 3, 3), TypeError,
                         r"lam must hold real numbers \(a floating or integer dtype\), got dtype "
                         r"complex128"),
    "init_string_lam": (lambda: lambda_balanced_init(KEY, "0.5", 3, 3, 3), TypeError,
                        r"lam must hold real numbers \(a floating or integer dtype\), got dtype "
                        r"<U3"),
    "init_bool_n_hidden": (lambda: lambda_balanced_init(KEY, 0.0, 1, True, 1), ValueError,
                           r"n_hidden must be a positive integer, got True"),
    # measuring λ
    "measure_1d_W1": (lambda: measure_lambda(np.ones(3), np.ones(3)), ValueError,
                      r"W1 must be at least 2-D, W1 \(\.\.\., n_hidden, n_in\).*got W1 of shape "
                      r"\(3,\)"),                                               # was IndexError
    "measure_1d_W2": (lambda: measure_lambda(np.ones((3, 2)), np.ones(3)), ValueError,
                      r"W2 must be at least 2-D.*W2 \(\.\.\., n_out, n_hidden\).*got W2 of "
                      r"shape \(3,\)"),
    "measure_width_mismatch": (lambda: measure_lambda(np.ones((3, 2)), np.ones((2, 4))),
                               ValueError, r"W2 must have shape \(\.\.\., n_out, n_hidden=3\) to "
                                           r"match W1 \(3, 2\), got \(2, 4\)"),
    "measure_batch_mismatch": (lambda: measure_lambda(np.ones((2, 3, 3)), np.ones((4, 3, 3))),
                               ValueError, r"leading \(batch\) axes of W1 \(2, 3, 3\) and W2 "
                                           r"\(4, 3, 3\) must broadcast"),
    "measure_nan": (lambda: measure_lambda(np.full((2, 2), np.nan), np.eye(2)), ValueError,
                    r"W1 contains 4 non-finite value\(s\) \(NaN or inf\); W1 must be finite"),
    "balance_1d": (lambda: balance(np.ones(3), np.ones((3, 3))), ValueError,
                   r"W1 must be at least 2-D"),
    # splitting singular values
    "split_nan_s0": (lambda: split_singular_values(np.nan, 0.5), ValueError,   # was (0, nan)
                     r"s0 contains 1 non-finite value\(s\) \(NaN or inf\); s0 must be finite"),
    "split_inf_s0": (lambda: split_singular_values(np.inf, 0.5), ValueError,
                     r"s0 contains 1 non-finite value\(s\).*s0 must be finite"),
    "split_nan_lam": (lambda: split_singular_values(1.0, np.nan), ValueError,
                      r"lam contains 1 non-finite value\(s\).*lam must be finite"),
    "split_complex": (lambda: split_singular_values(1.0 + 1j, 0.5), TypeError,
                      r"s0 must hold real numbers"),
    "split_shapes": (lambda: split_singular_values(np.ones(3), np.ones(2)), ValueError,
                     r"s0 and lam must broadcast against each other, got shapes \(3,\) and "
                     r"\(2,\)"),
    # limits of the representations
    "conv_nan_lam": (lambda: convergence_values(S, np.nan, 3), ValueError,      # was all-NaN
                     r"lam contains 1 non-finite value\(s\).*lam must be finite"),
    "conv_fractional_n_hidden": (lambda: convergence_values(S, 0.5, 3.7), ValueError,
                                 r"n_hidden must be a positive integer, got 3\.7"),  # was int(3.7)
    "conv_bool_n_hidden": (lambda: convergence_values(S, 0.5, True), ValueError,
                           r"n_hidden must be a positive integer, got True"),
    "conv_vector_lam": (lambda: convergence_values(S, np.ones(3), 3), ValueError,
                        r"lam must be a scalar, got shape \(3,\)"),
    # reversal: s = 0 has no crossing time (was ln2/|λ|)
    "reversal_s_zero": (lambda: reversal_time(0.0, 2.0), ValueError,
                        r"s must be nonzero .*no reversal and no crossing time"),
    "reversal_s_zero_in_array": (lambda: reversal_time(np.array([1.0, 0.0]), 2.0), ValueError,
                                 r"s must be nonzero"),
    # aligned closed forms: shapes that do not broadcast (was an unnamed broadcasting error)
    "aligned_shapes": (lambda: aligned_mode(np.ones(3), 0.5, 0.1, np.ones(2)), ValueError,
                       r"s, lam, a0, t must broadcast against each other \(e\.g\. s\[None, :\] "
                       r"with t\[:, None\]\); got shapes s \(3,\), lam \(\), a0 \(\), t \(2,\)"),
    "saxe_shapes": (lambda: saxe_mode(np.ones(3), 0.1, np.ones(2)), ValueError,
                    r"s, a0, t must broadcast against each other.*s \(3,\), a0 \(\), t \(2,\)"),
    "half_time_shapes": (lambda: half_time(np.ones(3), np.ones(2), 0.1), ValueError,
                         r"s, lam, a0 must broadcast against each other; got shapes s \(3,\), "
                         r"lam \(2,\), a0 \(\)"),
    "neuron_shapes": (lambda: single_neuron(np.ones(3), 0.1, 0.1, np.ones(2)), ValueError,
                      r"s, delta, nu0, t must broadcast against each other"),
    "reversal_shapes": (lambda: reversal_time(np.ones(3), np.ones(2)), ValueError,
                        r"s, lam must broadcast against each other; got shapes s \(3,\), "
                        r"lam \(2,\)"),
    "aligned_complex_s": (lambda: aligned_mode(1.0 + 1j, 0.5, 0.1, T1), TypeError,
                          r"s must hold real numbers \(a floating or integer dtype\)"),
    "aligned_all_nan_t": (lambda: aligned_mode(1.0, 0.5, 0.1, np.array([np.nan])), ValueError,
                          r"t must be finite and non-negative, got 1 non-finite entries"),
    "shallow_vector_lam": (lambda: shallow_limit(S, S, np.ones(2), T1), ValueError,
                           r"lam must be a scalar, got shape \(2,\)"),
    # whitening and data statistics
    "whiten_negative_rtol": (lambda: whiten(X_DEFICIENT, rtol=-1.0), ValueError,  # was all-NaN
                             r"rtol must be a finite number in \[0, 1\), got -1\.0"),
    "whiten_nan_rtol": (lambda: whiten(Z, rtol=np.nan), ValueError,
                        r"rtol must be a finite number in \[0, 1\), got nan"),
    "whiten_rtol_one": (lambda: whiten(Z, rtol=1.0), ValueError,
                        r"rtol must be a finite number in \[0, 1\), got 1\.0"),
    # rtol = 0 used to "whiten" rank-2 data in 3-D to X X^T/P = a rank-2 projector, not I
    "whiten_zero_rtol_deficient": (lambda: whiten(X_DEFICIENT, rtol=0.0), ValueError,
                                   r"rank-deficient.*<= [0-9.e-]+ = max\(rtol=0, "
                                   r"10\*n_in\*eps\)"),
    "whiten_center_string": (lambda: whiten(Z, center="no"), TypeError,
                             r"center must be a bool, got 'no'"),
    "from_data_no_samples": (lambda: from_data(np.zeros((2, 0)), np.zeros((1, 0))), ValueError,
                             r"X and Y must have at least one sample \(column\), P >= 1; got "
                             r"P = 0"),                                   # message said "nan"
    "from_data_nan_rtol": (lambda: from_data(np.eye(2), np.ones((1, 2)), rtol=np.nan),
                           ValueError, r"rtol must be a finite number >= 0, got nan"),
    "from_data_complex_Y": (lambda: from_data(np.eye(2), 1j * np.ones((1, 2))), TypeError,
                            r"Y must hold real numbers"),
    # exact solution: the propagator's cost is bounded (t = 1e9 used to run for ~20 min, 1e12
    # for longer than we waited)
    "propagator_t_1e9": (lambda: two_layer_linear(W1, W2, S, np.array([0.0, 1e9]),
                                                  method="propagator"), ValueError,
                         r"t: max\(t\) = 1e\+09 would take 4\.\d+e\+08 exact propagator steps "
                         r".*more than the limit of 1e\+06 steps; t must be <= about"),
    "auto_propagator_t_1e12": (lambda: two_layer_linear(V1, V2, np.diag([2.0, 1.0]),
                                                        np.array([1e12])), ValueError,
                               r"t: max\(t\) = 1e\+12 would take .*limit of 1e\+06 steps"),
    # deep linear chain
    "chain_gd_nan_gamma": (lambda: chain_gd(np.nan, 0.1, 2, 5), ValueError,   # was all-NaN
                           r"gamma must be finite and > 0, got nan"),
    "chain_gd_zero_gamma": (lambda: chain_gd(0.0, 0.1, 2, 5), ValueError,
                            r"gamma must be finite and > 0, got 0\.0"),
    "chain_gd_negative_eta": (lambda: chain_gd(1.0, -0.1, 2, 5), ValueError,  # was ascent
                              r"eta must be finite and > 0, got -0\.1"),
    "chain_gd_nan_y_star": (lambda: chain_gd(1.0, 0.1, 2, 5, y_star=np.nan), ValueError,
                            r"y_star contains 1 non-finite value\(s\).*y_star must be finite"),
    # a (2,) gamma with L = 2 used to be applied per layer, silently
    "chain_gd_vector_gamma": (lambda: chain_gd(np.ones(2), 0.1, 2, 5), ValueError,
                              r"gamma must be a scalar \(use jax\.vmap for a grid\), got shape "
                              r"\(2,\)"),
    "chain_gd_bool_steps": (lambda: chain_gd(1.0, 0.1, 2, True), ValueError,
                            r"num_steps must be a positive integer, got True"),
    "eta_lazy_string_gamma": (lambda: chain_eta_max_lazy("1", 2), TypeError,
                              r"gamma must be a real number > 0, got dtype <U1"),
    "eta_rich_nan_y_star": (lambda: chain_eta_max_rich(1.0, 2, y_star=np.nan), ValueError,
                            r"y_star contains 1 non-finite value\(s\).*y_star must be finite"),
    "eta_rich_unreachable": (lambda: chain_eta_max_rich(1.0, 3, y_star=-2.0), ValueError,
                             r"y_star must satisfy 1 \+ gamma \* y_star > 0"),        # was NaN
    "plateau_negative_y_star": (lambda: chain_plateau_time(1.0, 2, 0.1, y_star=-1.0),
                                ValueError, r"y_star must be finite and > 0, got -1\.0"),
    "plateau_zero_y_star": (lambda: chain_plateau_time(1.0, 3, 0.1, y_star=0.0), ValueError,
                            r"y_star must be finite and > 0, got 0\.0"),             # was inf
    "plateau_shapes": (lambda: chain_plateau_time(np.ones(2), 3, np.ones(3)), ValueError,
                       r"gamma, eta, y_star must broadcast against each other; got shapes "
                       r"gamma \(2,\), eta \(3,\), y_star \(\)"),
    "mode_time_vector_s": (lambda: mode_learning_time(np.ones(2), 0.1, 2), ValueError,
                           r"s must be a real scalar, got shape \(2,\)"),
    "mode_time_complex_u0": (lambda: mode_learning_time(1.0, 0.1 + 0j, 2), TypeError,
                             r"u0 must hold real numbers"),
    "mode_time_inf_s": (lambda: mode_learning_time(np.inf, 0.1, 2), ValueError,
                        r"need finite s > 0.*got s=inf"),
    "mode_time_float_depth": (lambda: mode_learning_time(1.0, 0.1, 2.0), ValueError,
                              r"depth L \(number of weight layers\) must be an integer >= 2, "
                              r"got 2\.0"),
    "final_ntk_nan": (lambda: deep_linear_final_ntk(np.array([np.nan, 1.0]), 2), ValueError,
                      r"beta_star contains 1 non-finite value\(s\).*beta_star must be finite"),
    "final_ntk_complex": (lambda: deep_linear_final_ntk(1j * np.ones(2), 2), TypeError,
                          r"beta_star must hold real numbers"),
    "final_ntk_empty": (lambda: deep_linear_final_ntk(np.zeros(0), 2), ValueError,
                        r"beta_star must be a non-empty vector \(d,\), got shape \(0,\)"),
    # classical capacities
    "cover_nan_P": (lambda: cover_separability(np.nan, 3), ValueError,
                    r"P must be a positive integer, got nan"),
    "cover_string_n": (lambda: cover_separability(3, "a"), TypeError,
                       r"n must hold real numbers"),
    "gardner_string_kappa": (lambda: gardner_capacity("a"), TypeError,
                             r"kappa must hold real numbers"),
    "ball_inf_D": (lambda: ball_capacity(1.0, np.inf), ValueError,          # was OverflowError
                   r"D must be a positive integer \(finite, >= 1\), got array\(inf\)"),
    "ball_shapes": (lambda: ball_capacity(np.ones(2), np.ones(3, int)), ValueError,
                    r"R, D, kappa must broadcast against each other; got shapes R \(2,\), "
                    r"D \(3,\), kappa \(\)"),
    "ball_large_nan_R": (lambda: ball_capacity_large_dim(np.nan, 5), ValueError,
                         r"R must be finite and >= 0, got array\(nan\)"),   # blamed kappa
    "ball_large_negative_R": (lambda: ball_capacity_large_dim(-1.0, 3), ValueError,
                              r"R must be finite and >= 0, got array\(-1\.\)"),  # was 161.96
    "ball_large_zero_D": (lambda: ball_capacity_large_dim(1.0, 0), ValueError,
                          r"D must be a positive integer \(finite, >= 1\), got array\(0\.\)"),
    "ball_large_shapes": (lambda: ball_capacity_large_dim(np.ones(2), np.ones(3)), ValueError,
                          r"R, D must broadcast against each other"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_refused_clearly(case):
    call, exc, match = CASES[case]
    with pytest.raises(exc, match=match):
        call()


def test_split_promotes_integer_s0_instead_of_truncating_lambda():
    """s0 = 3 (an integer) used to cast λ = 0.5 to the integer 0 under standard promotion."""
    c, d = (float(x) for x in split_singular_values(3, 0.5))
    # c d = s0 and d^2 - c^2 = λ, both O(1) quantities: round-off only
    assert c * d == pytest.approx(3.0, abs=1e-14)
    assert d * d - c * c == pytest.approx(0.5, abs=1e-14)


def test_reversal_time_is_even_in_s_and_nan_at_s_zero_under_jit():
    s = np.array([0.3, 1.0, 4.0])
    # a(s, a0) = -a(-s, -a0): a mode with s < 0 reverses in the same time (bitwise: only s^2 enters)
    np.testing.assert_array_equal(np.asarray(reversal_time(-s, 0.7)),
                                  np.asarray(reversal_time(s, 0.7)))
    # traced s = 0 cannot raise; it must not return the s -> 0 limit ln2/|λ| either
    out = jax.jit(reversal_time)(jnp.array([0.0, 1.0]), 2.0)
    assert np.isnan(float(out[0])) and np.isfinite(float(out[1]))


def test_final_ntk_of_zero_target_is_the_zero_limit():
    """β* = 0 used to give NaN; the limit of K∞ = s^{2(L-1)/L}[I + (L-1)β̂β̂ᵀ] as s -> 0 is 0."""
    e = np.array([0.6, 0.8, 0.0])
    for L in (2, 3, 5):
        assert np.all(np.asarray(deep_linear_final_ntk(np.zeros(3), L)) == 0.0)
        # ||K(ε e)||_2 = L ε^{2(L-1)/L} exactly (eigenvalue along β̂): continuity at 0
        eps = 1e-6
        top = np.linalg.eigvalsh(np.asarray(deep_linear_final_ntk(eps * e, L)))[-1]
        assert top == pytest.approx(L * eps ** (2 * (L - 1) / L), rel=1e-12)


def test_capacity_limits_at_the_edges_still_work():
    # R = 0 balls are points: (1 + 0) α0(0) = 2 (Cover)
    assert float(ball_capacity_large_dim(0.0, 4)) == pytest.approx(2.0, abs=1e-15)
    # y* = 0: the chain starts at its solution a* = 1, so the rich edge is the lazy one
    assert float(chain_eta_max_rich(1.5, 3, y_star=0.0)) == pytest.approx(
        float(chain_eta_max_lazy(1.5, 3)), rel=1e-15)


def test_propagator_step_count_and_large_lambda_use():
    lam = 100.0
    A1, A2 = (np.asarray(w) for w in lambda_balanced_init(KEY, lam, 3, 3, 3, sigma=0.1))
    t = np.array([3.0, 0.0, 1e4, 1e4])
    # independent count: max|Λ| = sqrt(s_max^2 + λ^2/4), one ceil per gap of the sorted times
    lmax = np.sqrt(2.0**2 + lam**2 / 4.0)
    expect = int(np.ceil(3.0 * lmax / 5.0) + np.ceil((1e4 - 3.0) * lmax / 5.0))
    steps, hmax = propagator_steps(A1, A2, S, t)
    assert hmax == pytest.approx(5.0 / lmax, rel=1e-13) and abs(steps - expect) <= 1
    assert steps < MAX_PROPAGATOR_STEPS      # T = 1e4 with |λ| = 100 is a normal use
    sol = two_layer_linear(A1, A2, S, t, method="propagator")
    # converged for k_min T = 50·1e4: W = Σyx to round-off of O(1) entries
    np.testing.assert_allclose(np.asarray(sol.W[2:]), np.stack([S, S]), rtol=0, atol=1e-12)


def test_propagator_under_jit_returns_nan_beyond_the_limit_instead_of_hanging():
    f = jax.jit(lambda t: two_layer_linear(W1, W2, S, t, method="propagator").W)
    far = np.asarray(f(jnp.array([0.0, 1e9])))
    assert np.all(np.isnan(far))
    near = np.asarray(f(jnp.array([0.0, 1.0])))
    ref = np.asarray(two_layer_linear(W1, W2, S, T1, method="propagator").W)
    np.testing.assert_allclose(near, ref, rtol=0, atol=1e-13)   # same arithmetic, jit or not
