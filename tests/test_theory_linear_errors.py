"""Bad input gets a clear error naming what was wrong and what was expected."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.claims import linear as C
from lazyrich.theory import (
    aligned_mode,
    convergence_values,
    from_data,
    half_time,
    lambda_balanced_init,
    shallow_limit,
    staircase_times,
    two_layer_linear,
    whiten,
)

KEY = jax.random.key(0)


@pytest.fixture(scope="module")
def net():
    W1, W2 = C.init(0, 1.0, (3, 3, 3))
    return W1, W2, C.task(0, 3, 3), np.array([0.0, 1.0])


# ----------------------------------------------------------------------------- two_layer_linear
def test_wrong_shapes(net):
    W1, W2, S, t = net
    with pytest.raises(ValueError, match=r"W1 must be 2-D"):
        two_layer_linear(W1[0], W2, S, t)
    with pytest.raises(ValueError, match=r"W2 must have shape \(n_out, n_hidden=3\)"):
        two_layer_linear(W1, W2[:, :2], S, t)
    with pytest.raises(ValueError, match=r"Syx must have shape \(n_out, n_in\) = \(3, 3\)"):
        two_layer_linear(W1, W2, S[:2], t)
    with pytest.raises(ValueError, match=r"t must be 1-D"):
        two_layer_linear(W1, W2, S, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"at least one time"):
        two_layer_linear(W1, W2, S, np.zeros((0,)))


def test_non_finite_inputs(net):
    W1, W2, S, t = net
    bad = W1.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"W1 contains 1 non-finite"):
        two_layer_linear(bad, W2, S, t)
    bad = S.copy()
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"Syx contains 1 non-finite"):
        two_layer_linear(W1, W2, bad, t)


@pytest.mark.parametrize("t", [np.array([0.0, -1.0]), np.array([1.0, np.inf]),
                               np.array([1.0, np.nan])])
def test_bad_times(net, t):
    W1, W2, S, _ = net
    with pytest.raises(ValueError, match=r"t must be finite and non-negative"):
        two_layer_linear(W1, W2, S, t)


def test_not_lambda_balanced_reports_imbalance_and_estimate(net):
    _, _, S, t = net
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    with pytest.raises(ValueError, match=r"not lambda-balanced.*= [0-9.e+-]+ with lambda estimate "
                                         r"tr\(W2\^T W2 - W1 W1\^T\)/n_hidden = "):
        two_layer_linear(W1, W2, S, t)
    # an explicit looser tolerance is honoured (the user takes responsibility)
    D = W2.T @ W2 - W1 @ W1.T
    imb = np.max(np.abs(D - np.trace(D) / 3 * np.eye(3)))
    two_layer_linear(W1, W2, S, t, balance_tol=imb, method="propagator")


def test_lambda_isotropy_failure(net):
    _, _, S, t = net
    # per-unit balance diag(1, 2, 3): diagonal, conserved, but not λI
    c = np.array([0.5, 0.4, 0.3])
    d = np.sqrt(c**2 + np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"isotropy failure.*per-unit lambda ranges over \[1, 3\]"):
        two_layer_linear(np.diag(c), np.diag(d), S, t)


def test_bottleneck_hidden_width():
    W1, W2 = np.zeros((2, 3)), np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"bottleneck: n_hidden=2 < min\(n_in, n_out\)=3"):
        two_layer_linear(W1, W2, np.eye(3), np.array([1.0]))
    with pytest.raises(ValueError, match=r"bottleneck"):
        lambda_balanced_init(KEY, 0.0, 3, 2, 4)


def test_method_errors(net):
    W1, W2, S, t = net
    with pytest.raises(ValueError, match=r"method must be one of"):
        two_layer_linear(W1, W2, S, t, method="fast")
    with pytest.raises(ValueError, match=r'under jit/vmap pass method="stable"'):
        jax.jit(lambda a: two_layer_linear(a, W2, S, t))(W1)
    A, B = C.init(0, 1.0, (3, 4, 5))
    with pytest.raises(ValueError,
                       match=r'method="stable" needs n_hidden = min\(n_in, n_out\) = 3'):
        two_layer_linear(A, B, C.task(0, 5, 3), t, method="stable")


# ------------------------------------------------------------------------------------ init
@pytest.mark.parametrize("lam,dims,match", [
    (-1.0, (3, 4, 5), r"lambda=-1 < 0 is impossible with n_hidden=4 > n_in=3.*Allowed here: "
                      r"lambda >= 0"),
    (1.0, (5, 4, 3), r"lambda=1 > 0 is impossible with n_hidden=4 > n_out=3.*Allowed here: "
                     r"lambda <= 0"),
    (0.5, (3, 5, 3), r"lambda=0.5 > 0 is impossible.*lambda = 0 only"),
])
def test_init_lambda_sign_forbidden_by_ranks(lam, dims, match):
    with pytest.raises(ValueError, match=match):
        lambda_balanced_init(KEY, lam, *dims)


def test_init_argument_errors():
    with pytest.raises(ValueError, match=r"n_hidden must be a positive integer"):
        lambda_balanced_init(KEY, 0.0, 3, 0, 3)
    with pytest.raises(ValueError, match=r"W0 must have shape \(n_out, n_in\) = \(3, 4\)"):
        lambda_balanced_init(KEY, 0.0, 4, 4, 3, W0=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"give both U and V"):
        lambda_balanced_init(KEY, 0.0, 3, 3, 3, U=np.eye(3))
    with pytest.raises(ValueError, match=r"U must have orthonormal columns"):
        lambda_balanced_init(KEY, 0.0, 3, 3, 3, U=2 * np.eye(3), V=np.eye(3))
    with pytest.raises(ValueError, match=r"W0 is not aligned with the given U, V"):
        lambda_balanced_init(KEY, 0.0, 3, 3, 3, W0=np.ones((3, 3)), U=np.eye(3), V=np.eye(3))
    with pytest.raises(ValueError, match=r"lam contains 1 non-finite"):
        lambda_balanced_init(KEY, np.nan, 3, 3, 3)
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
        lambda_balanced_init(KEY, 0.0, 3, 3, 3, dtype=jnp.int32)


# ------------------------------------------------------------------------- data and whitening
def test_from_data_non_white_inputs_says_how_to_whiten():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((2, 10))
    with pytest.raises(ValueError, match=r"not whitened.*whiten\(X\).*Sigma_xx\^\(-1/2\).*1/P "
                                         r"normalisation.*ode_two_layer"):
        from_data(X, Y)
    with pytest.raises(ValueError, match=r"same number of samples"):
        from_data(X, Y[:, :9])


def test_from_data_scalar_covariance_states_the_rescaling():
    X = 3.0 * np.eye(4)                                  # Σxx = 9 I / 4
    with pytest.raises(ValueError, match=r"Sigma_xx = c I with c = 2.25\b.*target Sigma_yx / c and "
                                         r"time constant tau / c"):
        from_data(X, np.ones((1, 4)))


def test_whiten_errors():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match=r"need P >= n_in \+ 1 = 4 when centring"):
        whiten(rng.standard_normal((3, 3)))
    with pytest.raises(ValueError, match=r"need P >= n_in;"):
        whiten(rng.standard_normal((3, 2)), center=False)
    X = rng.standard_normal((3, 8))
    X[2] = X[0] + X[1]                                   # rank 2
    with pytest.raises(ValueError, match=r"rank-deficient"):
        whiten(X)


# --------------------------------------------------------------------------- mode-wise helpers
def test_mode_helper_errors():
    with pytest.raises(ValueError, match=r"t must be finite and non-negative"):
        aligned_mode(1.0, 0.0, 0.1, jnp.array([-1.0]))
    with pytest.raises(ValueError, match=r"half_time needs s > 0"):
        half_time(0.0, 1.0, 0.1)
    with pytest.raises(ValueError, match=r"staircase_times needs s > 0 and a0 > 0"):
        staircase_times(jnp.array([1.0, 2.0]), -1e-3)
    with pytest.raises(ValueError, match=r"depends on the initialisation"):
        convergence_values(np.ones((5, 3)), 1.0, 4)
    with pytest.raises(ValueError, match=r"lambda=-1 < 0 is impossible"):
        convergence_values(np.ones((5, 3)), -1.0, 5)
    with pytest.raises(ValueError, match=r"W0 and Syx must have the same shape"):
        shallow_limit(np.ones((2, 3)), np.ones((3, 2)), 10.0, jnp.array([0.0]))
