"""The dmft/ claims' own machinery on cases with known answers: the control-variate estimator of
the width claim, the tasks, and the control variates' exact mean (the claims
themselves run in ``lazyrich verify dmft/``; their planted bugs in ``make mutants``)."""

import numpy as np
import pytest

from lazyrich import sims
from lazyrich.claims import dmft as C


def test_control_variate_mean_recovers_a_known_mean():
    """values = 3 + Z·β + ε with E[Z] = 0: the intercept estimates 3 with the residual noise's
    standard error, not the spread of Z·β. Over 20 seeds the estimate is within 4 s.e. of 3 every
    time, its s.e. is within 30% of σ_ε/√S (the OLS formula), and ≥ 10× smaller than the plain
    mean's (Z·β has s.d. 10× σ_ε here)."""
    rng = np.random.default_rng(0)
    S, k, sig = 200, 5, 0.1
    for _ in range(20):
        Z = rng.standard_normal((S, k))
        beta = rng.standard_normal(k) * (10 * sig / np.sqrt(k))
        v = 3.0 + Z @ beta + sig * rng.standard_normal(S)
        m, se = C.control_variate_mean(v, Z)
        assert abs(m - 3.0) < 4 * se
        assert abs(se / (sig / np.sqrt(S)) - 1) < 0.3
        assert se < np.std(v, ddof=1) / np.sqrt(S) / 5
    with pytest.raises(ValueError, match="samples"):
        C.control_variate_mean(np.zeros(5), np.zeros((5, 3)))


def test_tasks_have_the_stated_input_geometry():
    X, y = C._task(6, 8, seed=1)
    np.testing.assert_allclose(np.sum(X**2, axis=1), 8.0, rtol=1e-14)  # K^x_μμ = 1
    Xo, _ = C._task(4, 4, seed=2, orthogonal=True)
    np.testing.assert_allclose(Xo @ Xo.T / 4, np.eye(4), atol=1e-14)    # K^x = I (bridge)
    assert y.shape == (6,) and np.all(np.isfinite(y))


def test_control_variates_have_mean_zero():
    """The width claim subtracts diag(1, Kˣ) from each seed's initial moments C_N(0): that is
    their exact expectation under the engine's initialisation (readout and first layer
    N(0, 1)), so the intercept is unbiased. Over 256 seeds at N = 64 every entry of the seed
    mean of C_N(0) − diag(1, Kˣ) is within 4.5 s.e. of 0 (15 entries; s.e. from the seeds)."""
    X, y = C._task(4, 8, seed=0)
    cfg = C._two_layer_cfg(X, y, 64, 1)
    Cn = C._initial_moments(cfg, X, np.arange(256))
    C0 = np.zeros((5, 5))
    C0[0, 0], C0[1:, 1:] = 1.0, X @ X.T / 8
    d = Cn - C0
    z = d.mean(0) / (d.std(0, ddof=1) / np.sqrt(256))
    iu = np.triu_indices(5)
    assert np.max(np.abs(z[iu])) < 4.5
    # and the moments are the engine's: the first seed's h = x·W⁰/√D from sims.initial_params
    p0 = sims.initial_params(cfg, 0)
    h = X @ np.asarray(p0["w"][0][0]) / np.sqrt(8)
    np.testing.assert_allclose(Cn[0, 1:, 1:], h @ h.T / 64, rtol=1e-12)
