"""Two-layer linear networks: bad input is refused with a message naming the argument and what it
must be; nothing returns NaN or a wrong answer silently (a diverging GD run says so)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.sims import gd_two_layer, ode_two_layer
from lazyrich.theory import (
    kernel_distance,
    lambda_balanced_init,
    ntk_from_reps,
    predicted_forgetting,
    random_task,
    task_sequence,
    two_layer_linear,
    two_layer_loss,
    two_layer_ntk,
)

KEY = jax.random.key(0)
W1, W2 = (np.asarray(w) for w in lambda_balanced_init(KEY, 0.5, 3, 3, 3))
S = np.asarray(random_task(jax.random.key(1), 3, 3, [2.0, 1.0, 0.5]))
T = np.array([0.0, 1.0])
K = np.eye(4) + 0.1


def _end_of_task_out_of_range():
    seq = task_sequence(W1, W2, [S], T)
    return seq.end_of_task(5)


# (call, exception, regex naming the argument and the expected value); one distinct bad input each
CASES = {
    # kernel distance: a cosine, undefined (no limit) for a zero kernel
    "kd_zero_K0": (lambda: kernel_distance(np.zeros((4, 4)), K), ValueError,
                   r"K0 is identically zero.*expected a kernel with \|\|K0\|\|_F > 0"),
    "kd_zero_in_stack": (lambda: kernel_distance(K, np.stack([K, 0 * K])), ValueError,
                         r"K1 is identically zero at batch index \[1\].*\|\|K1\|\|_F > 0"),
    "kd_1d": (lambda: kernel_distance(K, np.ones(4)), ValueError,
              r"K1 must be a square kernel \(\.\.\., n, n\), got shape \(4,\)"),
    "kd_complex": (lambda: kernel_distance(K * 1j, K), TypeError,
                   r"K0 must hold real numbers \(a floating or integer dtype\), got dtype complex"),
    # random tasks
    "task_nan_sv": (lambda: random_task(KEY, 3, 3, [np.nan, 1.0, 0.5]), ValueError,
                    r"singular_values must be finite and >= 0.*got \[nan, 1\.0, 0\.5\]"),
    "task_inf_sv": (lambda: random_task(KEY, 3, 3, [np.inf, 1.0, 0.5]), ValueError,
                    r"singular_values must be finite and >= 0.*got \[inf, 1\.0, 0\.5\]"),
    "task_negative_sv": (lambda: random_task(KEY, 3, 3, [2.0, -1.0, 0.5]), ValueError,
                         r"singular_values must be finite and >= 0.*got \[2\.0, -1\.0, 0\.5\]"),
    "task_sv_count": (lambda: random_task(KEY, 3, 4, [2.0, 1.0]), ValueError,
                      r"singular_values must have min\(n_in, n_out\) = 3 entries, "
                      r"got shape \(2,\)"),
    "task_n_in_zero": (lambda: random_task(KEY, 0, 3, []), ValueError,
                       r"n_in must be a positive integer, got 0"),
    "task_n_out_float": (lambda: random_task(KEY, 3, 3.0, [1.0, 1.0, 1.0]), ValueError,
                         r"n_out must be a positive integer, got 3\.0"),
    "task_int_dtype": (lambda: random_task(KEY, 3, 3, [1.0, 1.0, 1.0], dtype=jnp.int32),
                       TypeError, r"dtype must be a floating dtype, got int32"),
    "task_int_key": (lambda: random_task(0, 3, 3, [1.0, 1.0, 1.0]), TypeError,
                     r"key must be a single jax\.random key, e\.g\. jax\.random\.key\(0\), got 0"),
    # exact solution
    "tll_nan_balance_tol": (lambda: two_layer_linear(W1, W2, S, T, balance_tol=np.nan),
                            ValueError, r"balance_tol must be a finite number > 0, got nan"),
    "tll_negative_balance_tol": (lambda: two_layer_linear(W1, W2, S, T, balance_tol=-1.0),
                                 ValueError, r"balance_tol must be a finite number > 0, got -1"),
    "tll_complex_Syx": (lambda: two_layer_linear(W1, W2, S * 1j, T), TypeError,
                        r"Syx must hold real numbers \(a floating or integer dtype\)"),
    "tll_empty": (lambda: two_layer_linear(np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)),
                                           T), ValueError, r"n_in must be >= 1, got n_in=0"),
    # task sequences and losses
    "seq_empty_t": (lambda: task_sequence(W1, W2, [S], np.array([])), ValueError,
                    r"t must contain at least one time"),
    "seq_single_array": (lambda: task_sequence(W1, W2, S, T), ValueError,
                         r"tasks must be a sequence of Syx matrices.*tasks=\[Syx\]"),
    "seq_Syy_below_fro": (lambda: task_sequence(W1, W2, [S], T, Syy_traces=[0.0]), ValueError,
                          r"Syy_traces\[0\] = 0 must be >= \|\|Syx\|\|_F\^2 = 5\.25"),
    "seq_Syy_nan": (lambda: task_sequence(W1, W2, [S], T, Syy_traces=[np.nan]), ValueError,
                    r"Syy_traces\[0\] must be a finite number >= \|\|Syx\|\|_F\^2"),
    "seq_end_of_task": (_end_of_task_out_of_range, ValueError,
                        r"i must be an integer task index in \[0, 1\), got 5"),
    "loss_negative_Syy": (lambda: two_layer_loss(W2 @ W1, S, -1.0), ValueError,
                          r"Syy_trace = -1 must be >= \|\|Syx\|\|_F\^2"),
    "forgetting_shape": (lambda: predicted_forgetting(S, S[:2], S), ValueError,
                         r"S_j must have the shape of S_i \(3, 3\), got \(2, 3\)"),
    # NTK
    "ntk_batch_mismatch": (lambda: two_layer_ntk(np.stack([W1, W1]), np.stack([W2] * 3),
                                                 np.ones((3, 2))), ValueError,
                           r"leading \(batch\) axes of W1 \(2, 3, 3\) and W2 \(3, 3, 3\) must "
                           r"broadcast"),
    "ntk_reps_mismatch": (lambda: ntk_from_reps(np.eye(2), np.eye(3), np.ones((3, 2))),
                          ValueError, r"input_rep must be \(\.\.\., n_in, n_in\) with n_in = 3"),
    # simulators
    "gd_eta_vector": (lambda: gd_two_layer(W1, W2, S, np.array([0.1, 0.2]), 10), ValueError,
                      r"eta must be a scalar > 0 \(use jax\.vmap over eta"),
    "gd_complex_W1": (lambda: gd_two_layer(W1 * 1j, W2, S, 0.1, 10), TypeError,
                      r"W1 must hold real numbers \(a floating or integer dtype\)"),
    "gd_Sxx_not_psd": (lambda: gd_two_layer(W1, W2, S, 0.1, 10, Sxx=-np.eye(3)), ValueError,
                       r"Sxx must be a covariance, symmetric positive semi-definite.*smallest "
                       r"eigenvalue -1"),
    "gd_Sxx_asymmetric": (lambda: gd_two_layer(W1, W2, S, 0.1, 10, Sxx=np.eye(3) + np.triu(
        np.ones((3, 3)), 1)), ValueError, r"Sxx must be a covariance, symmetric.*max\|Sxx - "
                                          r"Sxx\^T\| = 1"),
    "ode_nan_rtol": (lambda: ode_two_layer(W1, W2, S, T, rtol=np.nan), ValueError,   # used to hang
                     r"rtol must be a finite number > 0, got nan"),
    "ode_zero_atol": (lambda: ode_two_layer(W1, W2, S, T, atol=0.0), ValueError,
                      r"atol must be a finite number > 0, got 0\.0"),
    "ode_empty_t": (lambda: ode_two_layer(W1, W2, S, np.array([])), ValueError,
                    r"t must contain at least one time"),
    "ode_Sxx_shape": (lambda: ode_two_layer(W1, W2, S, T, Sxx=np.eye(2)), ValueError,
                      r"Sxx must have shape \(n_in, n_in\) = \(3, 3\), got \(2, 2\)"),
    "ode_Sxx_nan": (lambda: ode_two_layer(W1, W2, S, T, Sxx=np.full((3, 3), np.nan)),  # hung
                    ValueError, r"Sxx contains 9 non-finite value\(s\) \(NaN or inf\)"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_refused_clearly(case):
    call, exc, match = CASES[case]
    with pytest.raises(exc, match=match):
        call()


def _sharpness(W1, W2, S) -> float:
    """λ_max of the Hessian of ½‖W2W1 − Σ‖² at (W1, W2): GD is stable only for η < 2/λ_max."""
    n1 = W1.size

    def loss(theta):
        a, b = theta[:n1].reshape(W1.shape), theta[n1:].reshape(W2.shape)
        return 0.5 * jnp.sum((b @ a - S) ** 2)

    H = jax.hessian(loss)(jnp.concatenate([jnp.ravel(W1), jnp.ravel(W2)]))
    return float(jnp.linalg.eigvalsh(H)[-1])


def test_gd_reports_divergence_above_the_stability_edge():
    edge = 2.0 / _sharpness(W1, W2, S)
    # 5x the edge: the top Hessian direction is multiplied by |1 - 10| = 9 per step and the
    # weights overflow; 0.5x the edge converges
    tr = gd_two_layer(W1, W2, S, 5.0 * edge, 400)
    assert bool(tr.diverged)
    k = int(tr.diverged_step)
    W1s, W2s = np.asarray(tr.W1), np.asarray(tr.W2)
    finite = np.array([np.all(np.isfinite(a)) and np.all(np.isfinite(b))
                       for a, b in zip(W1s, W2s, strict=True)])
    # save_every = 1: saved point i is step i. Finite strictly before the flagged step, non-finite
    # from it on (the flag is computed in the loop, the check here from the returned weights)
    assert 1 <= k <= 400 and finite[:k].all() and not finite[k:].any()
    # detection is per step, not per save: a coarser save grid reports the same step
    coarse = gd_two_layer(W1, W2, S, 5.0 * edge, 400, save_every=50)
    assert bool(coarse.diverged) and int(coarse.diverged_step) == k
    ok = gd_two_layer(W1, W2, S, 0.5 * edge, 400)
    assert not bool(ok.diverged) and int(ok.diverged_step) == -1
    assert np.all(np.isfinite(np.asarray(ok.W1))) and np.all(np.isfinite(np.asarray(ok.W2)))


def test_gd_divergence_flags_batch_under_vmap():
    edge = 2.0 / _sharpness(W1, W2, S)
    etas = jnp.array([0.5, 5.0]) * edge
    tr = jax.vmap(lambda e: gd_two_layer(W1, W2, S, e, 400, save_every=100))(etas)
    np.testing.assert_array_equal(np.asarray(tr.diverged), [False, True])
    assert int(tr.diverged_step[0]) == -1 and int(tr.diverged_step[1]) >= 1


def test_gd_integer_inputs_are_promoted_not_truncated():
    """Integer weights used to make an integer run: η cast to 0, time stuck at 0, no learning."""
    A, B, Sy = np.eye(2, dtype=int), np.eye(2, dtype=int), 2 * np.eye(2, dtype=int)
    tr = gd_two_layer(A, B, Sy, 0.1, 10)
    ref = gd_two_layer(A.astype(float), B.astype(float), Sy.astype(float), 0.1, 10)
    assert jnp.issubdtype(tr.W1.dtype, jnp.floating)
    # the same float computation: identical to round-off
    np.testing.assert_allclose(np.asarray(tr.t), np.asarray(ref.t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.asarray(tr.W1), np.asarray(ref.W1), rtol=0, atol=1e-15)
    assert float(tr.t[-1]) == pytest.approx(1.0, abs=1e-12)   # T = η·steps
