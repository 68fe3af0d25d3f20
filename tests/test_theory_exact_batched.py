"""The stable form evaluated as batched linear algebra over the time axis (issue 14).

``_stable_P`` forms the centre for all times with one GEMM, inverts its Cholesky factor by
recursive blocking (``_chol_inv``) and applies it with GEMMs, in cache-sized chunks of times.
These tests check that evaluation against independent references: LAPACK for the factor
inverse, DOP853 at rtol = 1e-13 and the exact propagator for P(T), on small versions of the
benchmark's cases A1 (small init), A2 (σ = 1), B (λ = 50, long horizon) and unequal widths.
Chunking is forced (``_CHUNK_ELEMS`` lowered) so that the multi-chunk path, with a padded last
chunk, is what runs; each call goes through a fresh ``jax.jit`` so no cached compile of the
default chunking is reused.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.sims import ode_two_layer
from lazyrich.theory import _exact, lambda_balanced_init, random_task


def per_time_err(P, Pref):
    P, Pref = np.asarray(P), np.asarray(Pref)
    return np.max(np.abs(P - Pref), axis=(-2, -1)) / np.max(np.abs(Pref), axis=(-2, -1))


def gram(Q):
    Q = np.asarray(Q)
    return Q @ np.swapaxes(Q, -1, -2)


def stable_Q(W1, W2, S, t, chunk_elems=None, monkeypatch=None):
    if chunk_elems is not None:
        monkeypatch.setattr(_exact, "_CHUNK_ELEMS", chunk_elems)
    return np.asarray(jax.jit(lambda *a: _exact._stable_P(*a)[0])(W1, W2, S, jnp.asarray(t)))


def problem(dims, lam, sigma, seed=0):
    n_i, n_h, n_o = dims
    W1, W2 = lambda_balanced_init(jax.random.key(seed), lam, n_i, n_h, n_o, sigma=sigma)
    S = random_task(jax.random.key(seed + 100), n_i, n_o, np.geomspace(2.0, 0.2, min(n_i, n_o)))
    return np.asarray(W1), np.asarray(W2), np.asarray(S)


@pytest.mark.parametrize("m", [1, 5, 16, 17, 40])
def test_chol_inv_matches_lapack(m):
    """The recursion (leaves of 16) equals LAPACK's Cholesky factor inverted. The centre is
    SPD with cond ≲ 1e3 here; the inverse of a triangular factor is computed to ~cond·eps in
    either way, so 1e-12 relative leaves a factor ~10 of room."""
    G = np.random.default_rng(m).standard_normal((7, m, m))
    A = G @ np.swapaxes(G, -1, -2) + 0.1 * m * np.eye(m)
    Li = np.asarray(jax.jit(_exact._chol_inv)(jnp.asarray(A)))
    ref = np.linalg.inv(np.linalg.cholesky(A))
    assert np.max(np.abs(Li - ref)) <= 1e-12 * np.max(np.abs(ref))
    assert np.all(np.triu(Li, 1) == 0.0)


@pytest.mark.parametrize("dims,lam", [((5, 5, 5), 1.0), ((3, 3, 5), 0.7), ((5, 3, 3), -0.7)])
@pytest.mark.parametrize("n_t", [64, 61])   # a divisor of the chunk size, and a padded chunk
def test_chunked_evaluation_equals_one_block(dims, lam, n_t, monkeypatch):
    """Chunks of ~8 times (with a padded last one when 8 ∤ n_t) give the one-block result:
    each time is computed independently, so only the GEMM blocking differs (round-off)."""
    W1, W2, S = problem(dims, lam, 0.5)
    t = np.linspace(0.0, 30.0, n_t)
    one = stable_Q(W1, W2, S, t)
    per = (dims[0] + dims[2]) * dims[1]
    chunked = stable_Q(W1, W2, S, t, chunk_elems=8 * per, monkeypatch=monkeypatch)
    assert np.max(per_time_err(gram(chunked), gram(one))) <= 1e-13


# A1: small init, λ = 1; A2: the paper's σ = 1; B: lazy and stiff, λ = 50, long horizon;
# unequal widths of both kinds (the M⊥ terms).
CASES = {
    "A1": ((6, 6, 6), 1.0, 6**-0.5, 20.0),
    "A2": ((6, 6, 6), 1.0, 1.0, 20.0),
    "B": ((6, 6, 6), 50.0, 6**-0.5, 200.0),
    "wide-out": ((3, 3, 5), 1.5, 0.5, 20.0),
    "wide-in": ((5, 3, 3), -1.5, 0.5, 20.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_batched_stable_form_matches_independent_references(case, monkeypatch):
    """Per time, to 1e-11. The stable form's round-off is ≲ cond(B)²·eps, asserted ≤ 1e-12 for
    these inits. Square cases: against DOP853 at rtol = 1e-13 (atol = 1e-18, pure relative
    control), whose own error here was measured ≤ 1.5e-13. Unequal widths: against the exact
    propagator, because there DOP853 at rtol = 1e-13 is itself off by 8e-12 and 1e-11 (measured;
    3e-12 at rtol = 3e-14) while the stable form and the propagator agree to 2e-14."""
    dims, lam, sigma, t_end = CASES[case]
    W1, W2, S = problem(dims, lam, sigma, seed=len(case))
    assert _exact.stable_check(W1, W2, S).predicted_error <= 1e-12
    t = np.linspace(0.0, t_end, 97)
    per = (dims[0] + dims[2]) * dims[1]
    Q = stable_Q(W1, W2, S, t, chunk_elems=16 * per, monkeypatch=monkeypatch)
    if dims[0] == dims[2]:
        ref = ode_two_layer(W1, W2, S, t, rtol=1e-13, atol=1e-18).P
    else:
        ref = gram(jax.jit(lambda *a: _exact._propagate_P(*a)[0])(W1, W2, S, jnp.asarray(t)))
    assert np.max(per_time_err(gram(Q), ref)) <= 1e-11


@pytest.mark.parametrize("dims", [(4, 4, 4), (3, 3, 5), (5, 3, 3)])
def test_batched_stable_form_is_stable_at_large_T(dims, monkeypatch):
    """Large T and |λ| (k·T up to ~5e4: e^{kT} overflows float64 at kT ≈ 709): finite, and
    equal to the exact propagator (an independent evaluation, ~1e4 exact steps here) per time
    to 1e-11: both are round-off-accurate (each ≲ 1e-13 at these cond(B)), the rest is margin
    for the propagator's accumulated round-off over its steps."""
    lam = 50.0 if dims[0] <= dims[2] else -50.0
    W1, W2, S = problem(dims, lam, 0.3, seed=7)
    t = np.concatenate([np.linspace(0.0, 2.0, 20), np.geomspace(3.0, 2e3, 19)])
    per = (dims[0] + dims[2]) * dims[1]
    Q = stable_Q(W1, W2, S, t, chunk_elems=8 * per, monkeypatch=monkeypatch)
    assert np.all(np.isfinite(Q))
    prop = np.asarray(jax.jit(lambda *a: _exact._propagate_P(*a)[0])(W1, W2, S, jnp.asarray(t)))
    assert np.max(per_time_err(gram(Q), gram(prop))) <= 1e-11


def test_gram_in_chunks_equals_one_product(monkeypatch):
    """``LinearSolution.P`` forms QQᵀ in chunks of times for large batches: same values."""
    Q = np.random.default_rng(0).standard_normal((2, 48, 6, 3))
    monkeypatch.setattr(_exact, "_CHUNK_ELEMS", 8 * 36)
    P = np.asarray(jax.jit(lambda q: _exact._gram.__wrapped__(q))(jnp.asarray(Q)))
    assert P.shape == (2, 48, 6, 6)
    np.testing.assert_allclose(P, gram(Q), rtol=0, atol=1e-14)
