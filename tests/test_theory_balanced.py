"""λ-balanced initialisation (docs: Linear networks, "Balanced initialisations"; claim C1)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.claims.linear import c1_balanced_init
from lazyrich.theory import (
    balance,
    lambda_balanced_init,
    measure_lambda,
    split_singular_values,
    whiten,
)


def test_c1_balance_and_product_exact():
    out = c1_balanced_init(quick=True)
    # pure linear algebra: W2ᵀW2 − W1W1ᵀ − λI and W2W1 − W0 at round-off (~n·eps·|Gram|)
    assert out.passed, out
    assert out.measured < 1e-12
    assert out.details["n_configs"] >= 40


@pytest.mark.parametrize("lam", [1e8, -1e8, 1e-12, 0.0])
def test_split_is_cancellation_free(lam):
    s0 = np.array([1.0, 1e-3, 2.5, 0.0])
    c, d = (np.asarray(x) for x in split_singular_values(jnp.asarray(s0), lam))
    # c·d = s0 and d² − c² = λ to a few ulps even when |λ| ≫ s0 (the naive c² = (κ−λ)/2
    # would give c = 0 here and lose the product entirely)
    np.testing.assert_allclose(c * d, s0, rtol=4e-16, atol=0)
    np.testing.assert_allclose(d**2 - c**2, lam, rtol=4e-16, atol=4e-16 * 2.5**2)
    assert np.all(np.minimum(np.abs(c), np.abs(d)) <= np.maximum(np.abs(c), np.abs(d)))


def test_padding_puts_sqrt_lambda_in_the_enlarged_layer():
    # (3,4,5), λ = 2 > 0: the extra hidden unit lives in W2 with singular value √2;
    # public code pads with √(λ·0) = 0 and breaks the balance
    W1, W2 = lambda_balanced_init(jax.random.key(3), 2.0, 3, 4, 5)
    sv2 = np.linalg.svd(np.asarray(W2), compute_uv=False)
    sv1 = np.linalg.svd(np.asarray(W1), compute_uv=False)
    assert np.min(np.abs(sv2 - np.sqrt(2.0))) < 1e-13
    assert sv1[-1] < 1e-13 * sv1[0] or sv1.size == 3     # W1 has rank ≤ N_i = 3 < N_h
    lam, imb = measure_lambda(W1, W2)
    assert abs(float(lam) - 2.0) < 1e-13 and float(imb) < 1e-13
    # λ < 0 with N_o < N_h ≤ N_i: the extra unit lives in W1 with √|λ|
    W1, W2 = lambda_balanced_init(jax.random.key(3), -3.0, 5, 4, 3)
    assert np.min(np.abs(np.linalg.svd(np.asarray(W1), compute_uv=False) - np.sqrt(3.0))) < 1e-13
    assert float(measure_lambda(W1, W2)[1]) < 1e-13


def test_vmap_over_keys_and_lambda_matches_the_loop():
    keys = jax.random.split(jax.random.key(0), 3)
    lams = jnp.array([0.0, 1.5, -4.0])
    A, B = jax.vmap(lambda k, lam: lambda_balanced_init(k, lam, 4, 4, 4))(keys, lams)
    lam_hat, imb = measure_lambda(A, B)
    np.testing.assert_allclose(np.asarray(lam_hat), np.asarray(lams), atol=1e-13)
    assert float(jnp.max(imb)) < 1e-13
    for i in range(3):   # traced (jnp) and concrete (NumPy) paths draw the same numbers
        a, b = lambda_balanced_init(keys[i], float(lams[i]), 4, 4, 4)
        assert float(jnp.max(jnp.abs(a - A[i]))) < 1e-12
        assert float(jnp.max(jnp.abs(b - B[i]))) < 1e-12


def test_default_W0_is_gaussian_product_scaling_with_sigma_squared():
    k = jax.random.key(5)
    W1, W2 = lambda_balanced_init(k, 0.0, 3, 4, 3, sigma=1.0)
    V1, V2 = lambda_balanced_init(k, 0.0, 3, 4, 3, sigma=0.1)
    # same draws, W0 = (σB)(σA): the product scales exactly with σ²
    np.testing.assert_allclose(np.asarray(V2 @ V1), 0.01 * np.asarray(W2 @ W1), atol=1e-14)


def test_aligned_init_and_signed_singular_values():
    S = np.random.default_rng(1).standard_normal((5, 3))
    U, s, Vt = np.linalg.svd(S)
    W0 = U[:, :3] @ np.diag([1.0, -2.0, 0.0]) @ Vt
    W1, W2 = lambda_balanced_init(jax.random.key(2), 1.5, 3, 3, 5, W0=W0, U=U[:, :3], V=Vt.T)
    np.testing.assert_allclose(np.asarray(W2 @ W1), W0, atol=1e-14)
    assert float(measure_lambda(W1, W2)[1]) < 1e-14
    # aligned: W1 = R diag(c) Ṽᵀ, i.e. W1ᵀW1 is diagonal in Ṽ
    D = Vt @ np.asarray(W1.T @ W1) @ Vt.T
    assert np.max(np.abs(D - np.diag(np.diag(D)))) < 1e-14


def test_measure_lambda_uses_the_trace_not_the_corner():
    # conserved matrix diag(1, 3): the [0,0] entry says 1, the trace estimate says 2
    W1 = np.zeros((2, 2))
    W2 = np.diag([1.0, np.sqrt(3.0)])
    lam, imb = measure_lambda(W1, W2)
    assert float(lam) == pytest.approx(2.0, abs=1e-15)
    assert float(imb) == pytest.approx(1.0, abs=1e-15)
    assert balance(W1[None], W2[None]).shape == (1, 2, 2)


def test_whiten_gives_identity_covariance():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 9)) * np.array([[10.0], [0.1], [1.0], [3.0]]) + 5.0
    Xw = np.asarray(whiten(X))
    # 1/P normalisation, centred: Σxx = I to round-off (cond(Σ) ~ 1e4 → ~1e-12)
    np.testing.assert_allclose(Xw @ Xw.T / 9, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Xw.mean(axis=1), 0.0, atol=1e-12)
    Xn = np.asarray(whiten(X[:, :4], center=False))      # P = N_i suffices without centring
    np.testing.assert_allclose(Xn @ Xn.T / 4, np.eye(4), atol=1e-10)
