"""The closed form near the saddle: small |λ|, small inits, det(W₀) against det(Σyx).

There cond(B) is large and the stable direct form loses ≈ cond(B)²·eps of relative accuracy, so
``method="auto"`` must hand these inits to the exact propagator, and a forced ``"stable"`` must
refuse rather than return a wrong trajectory.

Reference: ``lazyrich.sims.ode_two_layer`` (DOP853, rtol = 1e-12). Its default atol = 1e-12 is
absolute: on weights of size 1e-4 it allows ~1e-8 relative error per time, more than the 1e-9
being tested, so these tests pass atol = 1e-18 (pure relative control; measured agreement with
the propagator ≤ 1e-11 per time on such inits). Errors are relative *per time*,
max|ΔP(T)|/max|P(T)|, so that an early-time error on a tiny P is not hidden by a late, large P.
"""

import jax
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lazyrich.sims import ode_two_layer
from lazyrich.theory import lambda_balanced_init, random_task, two_layer_linear
from lazyrich.theory._exact import choose_method, stable_check

TOL = 1e-9          # the accuracy promised in float64 (ODE level)
EPS = np.finfo(np.float64).eps


def per_time_err(P, Pref) -> np.ndarray:
    P, Pref = np.asarray(P), np.asarray(Pref)
    return np.max(np.abs(P - Pref), axis=(-2, -1)) / np.max(np.abs(Pref), axis=(-2, -1))


def ode_P(W1, W2, S, T):
    return np.asarray(ode_two_layer(W1, W2, S, T, rtol=1e-12, atol=1e-18).P)


def P0_of(W1, W2):
    Q0 = np.vstack([np.asarray(W1).T, np.asarray(W2)])
    return Q0 @ Q0.T


@pytest.fixture(scope="module")
def reproducer():
    """λ = 1e-6 with σ = 0.5: cond(B) ≈ 9.3e5, which the old auto dispatch (cond ≤ 1e6) sent to
    the stable form, off by 1.4e-6 already at T = 0."""
    W1, W2 = lambda_balanced_init(jax.random.key(40), lam=1e-6, n_in=3, n_hidden=3, n_out=3,
                                  sigma=0.5)
    S = random_task(jax.random.key(140), 3, 3, [2.0, 1.0, 0.5])
    return np.asarray(W1), np.asarray(W2), np.asarray(S)


def test_reproducer_auto_is_exact_at_T0_and_matches_the_ode(reproducer):
    W1, W2, S = reproducer
    T = np.array([0.0, 0.5, 2.0, 8.0])
    sol = two_layer_linear(W1, W2, S, T)
    # T = 0: the propagator returns Q0 itself (an O(1) matrix product): round-off only
    assert per_time_err(sol.P[0], P0_of(W1, W2)) <= 1e-12
    assert np.max(per_time_err(sol.P, ode_P(W1, W2, S, T))) <= TOL


def test_forced_stable_is_refused_where_auto_is_exact(reproducer):
    """The old failure mode is caught: forced ``"stable"`` really is wrong here (checked with
    ``check=False``), its check refuses it, and ``"auto"`` does not pick it."""
    W1, W2, S = reproducer
    T = np.array([0.0, 1.0])
    chk = stable_check(W1, W2, S)
    assert 5e5 < chk.cond_B < 2e6
    # the measured law: error ≈ c·cond(B)²·eps, c ~ 0.01..1 → ≫ 1e-8 at cond(B) ~ 1e6
    unchecked = two_layer_linear(W1, W2, S, T, method="stable", check=False)
    ref = ode_P(W1, W2, S, T)
    assert per_time_err(unchecked.P[0], P0_of(W1, W2)) > 1e-8
    assert np.max(per_time_err(unchecked.P, ref)) > 1e-8
    # both gates see it: the predicted error and the verified T = 0 evaluation
    assert chk.predicted_error > TOL and chk.p0_error > 1e3 * EPS * chk.cond_B
    with pytest.raises(ValueError, match=r'method="stable" cannot reach relative accuracy 1e-09.*'
                                         r'cond\(B\) = 9\.3\de\+05'):
        two_layer_linear(W1, W2, S, T, method="stable")
    auto = two_layer_linear(W1, W2, S, T)
    assert auto.method == "propagator"
    assert np.max(per_time_err(auto.P, ref)) <= TOL


def test_verified_p0_check_is_at_round_off_on_a_good_init():
    """Where B is well conditioned the T = 0 evaluation reproduces Q0Q0ᵀ to a few eps·cond(B)
    (here with unequal widths, which exercises the extra M⊥ term) and auto keeps "stable"."""
    W1, W2 = lambda_balanced_init(jax.random.key(3), 0.7, 3, 3, 5)
    S = random_task(jax.random.key(4), 3, 5, [2.0, 1.0, 0.5])
    chk = stable_check(W1, W2, S)
    assert chk.cond_B < 1e2
    assert chk.p0_error <= 1e2 * EPS * chk.cond_B     # backward-stable: O(cond·eps)
    assert choose_method(W1, W2, S) == "stable"


# shapes up to 4 with N_h = min(N_i, N_o) (both signs of λ allowed) and one N_h = N_o > N_i
# (λ ≥ 0 only, the propagator's case)
DIMS = [(2, 2, 2), (3, 3, 3), (4, 4, 4), (2, 2, 3), (4, 3, 3), (2, 3, 3)]


# What makes an init near-saddle is |λ| small *relative to the init's size* σ² (the product W0
# has singular values ~σ²): B then nearly loses its component along a growing mode, most so when
# det(W0) and det(Σyx) disagree. So λ is drawn as ρ·σ² with ρ = 1e-7..1 (|λ| ≈ 1e-15..0.5),
# σ = 1e-4..0.7, and the det sign flipped in half the draws.
@given(dims=st.sampled_from(DIMS), log_rho=st.floats(-7.0, 0.0), neg=st.booleans(),
       log_sigma=st.floats(-4.0, -0.15), flip=st.booleans(), seed=st.integers(0, 2**16))
# three draws the old dispatch (stable up to cond(B) = 1e6) got wrong by 1e-6..1e-5, always run
@example(dims=(3, 3, 3), log_rho=-5.14, neg=False, log_sigma=-0.4444, flip=True, seed=31456)
@example(dims=(2, 2, 2), log_rho=-4.65, neg=False, log_sigma=-1.8029, flip=True, seed=45977)
@example(dims=(4, 3, 3), log_rho=-4.56, neg=False, log_sigma=-2.962, flip=False, seed=5791)
def test_auto_matches_the_ode_near_the_saddle(dims, log_rho, neg, log_sigma, flip, seed):
    n_i, n_h, n_o = dims
    sigma = 10.0**log_sigma
    lam = 10.0**log_rho * sigma**2 * (-1.0 if neg and n_h <= n_i else 1.0)  # λ<0 needs N_h ≤ N_i
    W1, W2 = (np.asarray(w) for w in lambda_balanced_init(
        jax.random.key(seed), lam, n_i, n_h, n_o, sigma=sigma))
    if flip:   # flip one output row: W2ᵀW2 (so λ) is unchanged, det(W) changes sign
        W2 = W2.copy()
        W2[0] *= -1.0
    m = min(n_i, n_o)
    S = np.asarray(random_task(jax.random.key(seed + 1), n_i, n_o, np.linspace(2.0, 0.5, m)))
    T = np.array([0.0, 0.5, 2.0, 6.0])    # plateau and escape of the fastest modes
    sol = two_layer_linear(W1, W2, S, T)
    # auto keeps "stable" only while cond(B)²·eps ≤ TOL/10, the bound on its T = 0 error too
    assert per_time_err(sol.P[0], P0_of(W1, W2)) <= TOL / 10
    err = per_time_err(sol.P, ode_P(W1, W2, S, T))
    assert np.max(err) <= TOL, (sol.method, float(sol.cond_B), err)


@pytest.mark.parametrize("case", ["reproducer", "unequal-widths"])
def test_numpy_p0_mirror_tracks_the_stable_form(case, reproducer):
    """``stable_check`` evaluates the stable form at T = 0 in a NumPy mirror of ``_stable_P``
    (no compilation: an eager JAX evaluation costs ~3 s of op compiles per shape). The mirror
    must stay the same maths: on the ill-conditioned init both are round-off of the measured size,
    above the 1e-9 target and below cond(B)²·eps (measured 1.7e-5 and 1.5e-6; the operation
    order differs, so only the law bounds them, not each other), and both are O(cond·eps) where
    B is well conditioned (a dropped or wrong term would give O(1))."""
    if case == "reproducer":
        W1, W2, S = reproducer
    else:
        W1, W2 = (np.asarray(w) for w in lambda_balanced_init(jax.random.key(3), 0.7, 3, 3, 5))
        S = np.asarray(random_task(jax.random.key(4), 3, 5, [2.0, 1.0, 0.5]))
    mirror = stable_check(W1, W2, S)
    compiled = per_time_err(two_layer_linear(W1, W2, S, np.zeros(1), method="stable",
                                             check=False).P[0], P0_of(W1, W2))
    if case == "reproducer":
        for err in (mirror.p0_error, compiled):
            assert TOL < err <= mirror.predicted_error
    else:
        assert max(compiled, mirror.p0_error) <= 1e2 * EPS * mirror.cond_B
