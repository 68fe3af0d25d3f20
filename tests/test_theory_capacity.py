"""Classical capacity formulas: Cover/Wendel, Gardner and the L2 ball of Chung, Lee &
Sompolinsky 2018 (docs: Manifold capacity, "Classical formulas"; claim capacity/C4-ball-formula).

References are independent: exact binomial sums, Monte-Carlo integration of the ball
formula, and the closed-form limits.
"""

import math

import numpy as np
import pytest

from lazyrich.theory import (
    ball_capacity,
    ball_capacity_large_dim,
    cover_separability,
    gardner_capacity,
)


def test_cover_is_the_binomial_sum():
    # exact integer arithmetic: p(n) = 2^{1-P} sum_{k<n} C(P-1, k)
    P = 20
    n = np.arange(0, 25)
    exact = np.array([sum(math.comb(P - 1, k) for k in range(min(m, P))) / 2 ** (P - 1)
                      for m in n])
    np.testing.assert_allclose(cover_separability(P, n), exact, rtol=1e-13, atol=1e-15)
    assert cover_separability(P, P // 2) == 0.5  # N_c = P/2 exactly (alpha = 2)
    np.testing.assert_allclose(cover_separability(P, n, bias=True),
                               cover_separability(P, n + 1), rtol=0, atol=0)


def test_gardner_values():
    np.testing.assert_allclose(gardner_capacity(0.0), 2.0, rtol=1e-14)
    np.testing.assert_allclose(gardner_capacity(1.0), 0.5196, atol=1e-4)  # 4-decimal value


@pytest.mark.parametrize(("R", "D", "expected"),
                         [(0.5, 5, 0.5765), (1.0, 5, 0.3333), (2.0, 5, 0.2344), (1.0, 20, 0.0952),
                          (2.0, 3, 0.369)])
def test_ball_capacity_reference_values(R, D, expected):
    # values quoted to 4 decimals (the last one to 3): tolerance is half a unit in the last digit
    tol = 0.5e-4 if expected != 0.369 else 0.5e-3
    assert abs(ball_capacity(R, D) - expected) <= tol


def test_ball_capacity_limits():
    # R -> 0: points (Cover/Gardner, 2); R -> inf: D-dim affine subspaces, 1/(D + 1/2).
    # The corrections are O(R) and O(1/R) (touching region of width ~R resp. 1/R).
    for D in (1, 3, 10):
        assert abs(ball_capacity(1e-6, D) - 2.0) < 1e-4
        assert abs(ball_capacity(1e6, D) - 1.0 / (D + 0.5)) < 1e-4
    # large D at fixed R: (1 + R^2) alpha_0(R sqrt D). The correction comes from the Gaussian
    # tail beyond R sqrt(D), so it vanishes faster than any power: check monotone decay to ~0.
    errs = [abs(ball_capacity(0.2, D) / ball_capacity_large_dim(0.2, D) - 1)
            for D in (4, 16, 64, 256)]
    assert errs == sorted(errs, reverse=True)
    assert 1e-3 < errs[0] < 0.05 and errs[-1] < 1e-5  # measured 0.020 and 1.4e-6


def test_ball_capacity_matches_monte_carlo():
    # Independent reference: alpha^{-1} = E_T F(T) for the ball with F from the KKT regimes,
    # evaluated by Monte Carlo over (t0, r). 2e5 samples: s.e. ~ 0.3% of the mean.
    rng = np.random.default_rng(0)
    R, D, n = 1.5, 4, 200_000
    t0 = rng.standard_normal(n)
    r = np.sqrt(rng.chisquare(D, n))
    F = np.where(t0 > R * r, 0.0,
                 np.where(t0 < -r / R, t0 ** 2 + r ** 2, (R * r - t0) ** 2 / (1 + R ** 2)))
    se = F.std() / np.sqrt(n)
    assert abs(1 / ball_capacity(R, D) - F.mean()) < 4 * se


def test_theory_bad_input():
    with pytest.raises(ValueError, match="R must be finite and > 0"):
        ball_capacity(-1.0, 3)
    with pytest.raises(ValueError, match="D must be a positive integer"):
        ball_capacity(1.0, 2.5)
    with pytest.raises(ValueError, match="n must be non-negative integers"):
        cover_separability(10, -1)
    with pytest.raises(ValueError, match="P must be a positive integer"):
        cover_separability(0, 3)
