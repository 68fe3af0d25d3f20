"""lazyrich.analysis refuses inputs it cannot analyse (naming the argument and the expected value)
and never reports a statistic it does not have: a single seed gives a slope without a CI."""

import numpy as np
import pytest
import xarray as xr

from lazyrich import analysis as an
from lazyrich import metrics as lm
from lazyrich import sims

GAMMAS = np.array([1e-3, 1e-2, 1e-1])
ETAS = np.logspace(-9, 1, 41)


def sweep_like(n_steps=30):
    """A synthetic sweep: final loss a parabola in log η around η* = 0.1γ², divergence above
    η = 10γ² (the layout of lazyrich.sims.sweep)."""
    g, e, s = np.meshgrid(GAMMAS, ETAS, [0, 1], indexing="ij")
    logL = 0.7 * (np.log(e) - np.log(0.1 * g**2)) ** 2 - 3.0
    loss = np.exp(logL)[..., None] * np.ones(n_steps)
    loss[..., 0] = 1.0
    div = e > 10 * g**2
    loss[div] = np.nan
    return xr.Dataset({"loss": (("gamma", "eta", "seed", "step"), loss),
                       "accuracy": (("gamma", "eta", "seed", "step"), 1 - loss / 2),
                       "diverged": (("gamma", "eta", "seed"), div)},
                      coords={"gamma": GAMMAS, "eta": ETAS, "seed": [0, 1],
                              "step": np.arange(n_steps)})


# ------------------------------------------------------------------ fit_slope


def test_single_seed_has_no_ci():
    """y = 3x² exactly with one seed: the slope is 2 to round-off, but a bootstrap over one
    seed has no spread, so the CI is NaN (it used to print '95% CI [2.000, 2.000]') and
    agrees_with refuses to judge instead of passing on the slope alone."""
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = an.fit_slope(x, 3 * x**2)
    assert abs(fit.slope - 2.0) < 1e-12  # exact power law: OLS in log space is exact
    assert not fit.has_ci and np.isnan(fit.ci_low) and np.isnan(fit.ci_high)
    assert fit.n_seeds == 1 and "no CI" in str(fit) and "95% CI" not in str(fit)
    with pytest.raises(ValueError, match=r"no bootstrap CI \(n_seeds=1; needs >= 2 seeds\)"):
        fit.agrees_with(2.0, 0.15)
    # a second seed column that is all NaN (every cell diverged) is no second seed either
    y = np.stack([3 * x**2, np.full(4, np.nan)], axis=1)
    assert not an.fit_slope(x, y).has_ci


def test_two_seeds_give_a_ci_around_the_slope():
    """Two seeds with slopes 1.9 and 2.1: the pooled slope is 2 (equal weights), and the
    bootstrap CI spans the two per-seed slopes' range (resamples pick 1.9, 2.0 or 2.1)."""
    x = np.array([1.0, 2.0, 4.0, 8.0])
    y = np.stack([x**1.9, x**2.1], axis=1)
    fit = an.fit_slope(x, y)
    assert fit.has_ci and fit.n_seeds == 2
    assert abs(fit.slope - 2.0) < 1e-12
    np.testing.assert_allclose([fit.ci_low, fit.ci_high], [1.9, 2.1], atol=1e-12)
    assert fit.agrees_with(2.0, 0.15)


BAD_FITS = [
    (dict(y=np.array([1.0, -4.0, 16.0])), r"y must be > 0 and finite .* 1 entries <= 0"),
    (dict(y=np.array([1.0, 0.0, 16.0])), r"y must be > 0 and finite"),
    (dict(y=np.array([1.0, np.inf, 16.0])), r"y must be > 0 and finite .* infinite"),
    (dict(x=np.array([1.0, np.nan, 4.0])), r"x must be positive and finite"),
    (dict(x=np.array([1.0, -2.0, 4.0])), r"x must be positive and finite"),
    (dict(n_boot=0), r"n_boot must be an integer >= 40 for a 0.95 CI"),
    (dict(n_boot=10.5), r"n_boot must be an integer >= 40"),
    (dict(ci=1.5), r"ci must be a confidence level in \(0, 1\)"),
    (dict(ci=0.0), r"ci must be a confidence level in \(0, 1\)"),
    (dict(seed=-1), r"seed must be a non-negative integer, got -1"),
    (dict(y=np.ones((3, 2, 2))), r"y of shape \(len\(x\), n_seeds\)"),
]


@pytest.mark.parametrize("kw, match", BAD_FITS, ids=[f"fit{i}" for i in range(len(BAD_FITS))])
def test_fit_slope_bad_input(kw, match):
    args = {"x": np.array([1.0, 2.0, 4.0]), "y": np.array([[1.0, 1.1], [4.0, 4.2], [16.0, 15.0]]),
            **kw}
    x, y = args.pop("x"), args.pop("y")
    with pytest.raises(ValueError, match=match):
        an.fit_slope(x, y, **args)


# ------------------------------------------------------------------ phase maps and curves

t = np.linspace(0.0, 10.0, 11)
BAD_CALLS = [
    (lambda ds: an.final_loss(ds, window=0), ValueError, r"window must be a positive integer"),
    (lambda ds: an.final_loss(ds, window=30), ValueError,
     r"window must be at most 29 \(the dataset has 30 logged steps"),
    (lambda ds: an.eta_star(ds, window=2.5), ValueError, r"window must be a positive integer"),
    (lambda ds: an.eta_star(ds, var="accuracy"), ValueError,
     r"var must be a loss \(lower is better\), e.g. 'loss' or 'test_loss', got 'accuracy'"),
    (lambda ds: an.eta_star(ds, refine="yes"), TypeError, r"refine must be True or False"),
    (lambda ds: an.eta_min(ds, threshold=1.5), ValueError, r"threshold must be in \(0, 1\)"),
    (lambda ds: an.catapult(ds, rise=0.5), ValueError, r"rise must be finite and > 1"),
    (lambda ds: an.eta_max(ds.assign(loss=-ds["loss"])), ValueError,
     r"var 'loss' must be a non-negative loss"),
    (lambda ds: an.eta_grid(ds.assign_coords(eta=-ds["eta"])), ValueError,
     r"coordinate eta must be finite and > 0"),
    (lambda ds: an.eta_max(ds.to_array()), TypeError, r"ds must be an xarray.Dataset"),
    (lambda ds: an.phase_map_data(ds, "loss", depth=True), ValueError,
     r"depth must be a positive integer"),
    (lambda ds: an.bisect_edge(lambda e: True, 1.0, 2.0, iters=-1), ValueError,
     r"iters must be a non-negative integer"),
    (lambda ds: an.bisect_edge(lambda e: True, 1.0, np.inf), ValueError,
     r"need 0 < lo < hi \(finite"),
    (lambda ds: an.bisect_edge(lambda e: np.ones(3, bool), np.ones(2), 2 * np.ones(2)),
     ValueError, r"diverges\(eta\) must return a bool of the brackets' shape \(2,\)"),
    (lambda ds: an.drop_time(t, np.exp(-t), frac=1.0), ValueError,
     r"frac must be a number in \(0, 1\), got 1.0"),
    (lambda ds: an.drop_time(t, -np.exp(-t)), ValueError, r"loss must be finite and >= 0"),
    (lambda ds: an.drop_time(np.array([0.0, np.nan, 1.0]), np.ones(3)), ValueError,
     r"t must be finite"),
    (lambda ds: an.staircase_steps(t, np.exp(-t), min_drop=2.0), ValueError,
     r"min_drop must be a number in \[0, 1\]"),
    (lambda ds: an.collapse_error(t, np.stack([np.exp(-t)] * 2), n_grid=1), ValueError,
     r"n_grid must be an integer >= 2"),
    (lambda ds: lm.ntk_hooks(which=["bogus"]), ValueError,
     r"unknown NTK statistic\(s\) \['bogus'\]; expected some of"),
    (lambda ds: lm.ntk_hooks(n_eval=0), ValueError, r"n_eval must be a positive integer"),
    (lambda ds: lm.ntk_hooks(chunk=0), ValueError, r"chunk must be a positive integer or None"),
    (lambda ds: lm.ntk_hooks(x=np.ones((4, 2)), y=np.ones(3)), ValueError,
     r"x must be \(n, ...\) and y \(n,\) or \(n, C\) with the same n"),
    (lambda ds: lm.sharpness_hooks(num_iters=0), ValueError,
     r"num_iters must be a positive integer"),
    (lambda ds: lm.sharpness_hooks(seed=-1), ValueError,
     r"seed must be a non-negative integer in \[0, 2\*\*63 - 1\]"),
    (lambda ds: an.kernel_regression(np.eye(2), np.ones(2), np.eye(2), ridge=-1.0), ValueError,
     r"ridge must be finite and >= 0"),
]


@pytest.mark.parametrize("call, exc, match", BAD_CALLS,
                         ids=[f"call{i}" for i in range(len(BAD_CALLS))])
def test_bad_analysis_calls(call, exc, match):
    ds = sweep_like()
    with pytest.raises(exc, match=match):
        call(ds)


def test_single_statistic_name_is_not_split_into_letters():
    """which="align" used to be read as the letters a, l, i, g, n (all 'unknown')."""
    assert list(lm.ntk_hooks(which="align")) == ["align"]
    assert list(lm.sharpness_hooks(which="gn_top")) == ["gn_top"]


def test_n_eval_beyond_the_test_set_is_refused():
    """n_eval = 64 with a 16-point test set used to evaluate the kernel on 16 points silently."""
    cfg = sims.SweepConfig(depth=2, width=4, input_dim=4, num_steps=2, batch_size=4, log_every=1,
                           dtype="float64", task_options={"test_size": 16})
    with pytest.raises(ValueError, match=r"n_eval=64 exceeds the task's 16 test points"):
        sims.run_cells(cfg, metrics=lm.ntk_hooks(n_eval=64, which=("ntk_norm",)))


def test_final_loss_window_is_the_last_steps():
    """window = n_steps − 1 averages steps 1..29 (all equal to the final loss here), never
    step 0 (the initial loss 1.0): the result equals the exact final loss."""
    ds = sweep_like()
    fl = an.final_loss(ds, window=29)
    exact = ds["loss"].isel(step=-1, drop=True).where(~ds["diverged"])
    xr.testing.assert_allclose(fl, exact, rtol=1e-14)
