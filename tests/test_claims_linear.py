"""The independent side of the linear/ claims, pinned on cases with a known answer.

The claims C13–C15, C17, C18, C22 and C24 compare the closed form with weights integrated by
:func:`lazyrich.claims.linear.weights_ode` and, for kernels, with JJᵀ written out by
:func:`~lazyrich.claims.linear.ntk_jjt` and a NumPy cosine. Those references are checked here
against exact solutions (Saxe's sigmoid, a scalar network's kernel) and against finite
differences, and the comparison is shown to see a wrong time unit; none of them uses the closed
form.
"""

import numpy as np
import pytest

from lazyrich.claims import linear as C


def test_weights_ode_matches_saxe_sigmoid():
    # 1×1×1, λ = 0: a = w2·w1 solves da/dT = 2a(s − a), a(T) = s e^{2sT}/(e^{2sT} − 1 + s/a0)
    # (Saxe et al. 2014), an exact answer computed without any ODE solver
    s, a0 = 1.5, 0.01
    T = np.array([3.0, 0.0, 0.5, 1.0, 2.0])            # any order: returned in this order
    w = np.sqrt(a0)
    W1, W2 = C.weights_ode(np.array([[w]]), np.array([[w]]), np.array([[s]]), T)
    a = (W2 @ W1)[:, 0, 0]
    e = np.exp(2 * s * T)
    exact = s * e / (e - 1 + s / a0)
    assert np.max(np.abs(a - exact)) < 1e-10            # DOP853 at rtol 1e-12: ~1e-12 reached
    # and the balance w2² − w1² = 0 is conserved by the integrated flow
    assert np.max(np.abs(W2[:, 0, 0] ** 2 - W1[:, 0, 0] ** 2)) < 1e-10
    # a time unit off by 2 would put a(T) far from the sigmoid: the comparison can see it
    e2 = np.exp(4 * s * T)
    assert np.max(np.abs(a - s * e2 / (e2 - 1 + s / a0))) > 0.1


def test_weights_ode_is_the_gradient_flow_of_the_loss():
    # one explicit Euler step of size h from the ODE's start equals the ODE at h to O(h²):
    # checks the sign and the factors of the right-hand side (dW1 = W2ᵀE, dW2 = EW1ᵀ)
    rng = np.random.default_rng(0)
    W1, W2, S = rng.normal(size=(3, 2)), rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    h = 1e-5
    A1, A2 = C.weights_ode(W1, W2, S, np.array([h]))
    E = S - W2 @ W1
    d1, d2 = (A1[0] - W1) / h, (A2[0] - W2) / h
    scale = np.max(np.abs(W2.T @ E))
    assert np.max(np.abs(d1 - W2.T @ E)) < 1e-3 * scale     # O(h)·|d²W/dT²| ≈ 1e-5 relative
    assert np.max(np.abs(d2 - E @ W1.T)) < 1e-3 * scale


def test_ntk_jjt_scalar_network_exact():
    # f(x) = w2 w1 x (1×1×1): J = [w2 x, w1 x] per sample, so K = (w1² + w2²) x xᵀ
    x = np.array([[0.5, -1.0, 2.0]])
    K = C.ntk_jjt(np.array([[0.3]]), np.array([[-1.2]]), x)
    np.testing.assert_allclose(K, (0.3**2 + 1.2**2) * x.T @ x, rtol=1e-14)


def test_ntk_jjt_equals_finite_difference_jacobian():
    rng = np.random.default_rng(1)
    n_i, n_h, n_o, p = 3, 4, 2, 5
    W1, W2, X = rng.normal(size=(n_h, n_i)), rng.normal(size=(n_o, n_h)), rng.normal(size=(n_i, p))
    theta = np.concatenate([W1.ravel(), W2.ravel()])

    def f(th):
        return (th[n_h * n_i:].reshape(n_o, n_h) @ th[:n_h * n_i].reshape(n_h, n_i) @ X).ravel()

    h = 1e-5   # f is bilinear: central differences are exact up to round-off ~ eps/h
    J = np.stack([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(theta.size)], 1)
    K = C.ntk_jjt(W1, W2, X)
    assert np.max(np.abs(K - J @ J.T)) / np.max(np.abs(K)) < 1e-9


def test_cosine_distance_known_values():
    K = np.diag([1.0, 2.0, 3.0])
    assert C.cosine_distance(K, 5.0 * K) == pytest.approx(0.0, abs=1e-15)   # scale-free
    assert C.cosine_distance(K, -K) == pytest.approx(2.0, abs=1e-15)
    assert C.cosine_distance(np.diag([1.0, 0.0]), np.diag([0.0, 1.0])) == 1.0  # orthogonal


def test_P_of_blocks():
    rng = np.random.default_rng(2)
    W1, W2 = rng.normal(size=(3, 2)), rng.normal(size=(4, 3))
    P = C.P_of(W1[None], W2[None])[0]
    np.testing.assert_allclose(P[:2, :2], W1.T @ W1, rtol=1e-14)
    np.testing.assert_allclose(P[2:, 2:], W2 @ W2.T, rtol=1e-14)
    np.testing.assert_allclose(P[2:, :2], W2 @ W1, rtol=1e-14)


def test_kernel_distances_reference_sees_a_wrong_time_unit():
    # the reference kernel distance at T (JJᵀ of ODE weights) differs at O(1) from the one at 2T
    # mid-learning, while closed form and reference agree at the ODE's tolerance
    dims, W0, S = C._square_setup()
    T = np.array([0.0, 1.0, 2.0])
    s_cf, s_ode, _, _ = C.kernel_distances(dims, 1.0, S, W0, T)
    assert np.max(np.abs(s_cf - s_ode)) < 1e-10
    assert s_cf[0] == 0.0 and s_ode[0] == pytest.approx(0.0, abs=1e-15)
    assert abs(s_ode[2] - s_ode[1]) > 1e-3    # S(K₀, K(1)) vs S(K₀, K(2)): a doubled T shows
