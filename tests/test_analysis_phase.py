"""Phase-map and loss-curve analysis on synthetic sweeps whose answers are known exactly."""

import numpy as np
import pytest
import xarray as xr

from lazyrich.analysis import (
    align_by_drop,
    bisect_edge,
    catapult,
    drop_time,
    eta_max,
    eta_min,
    eta_star,
    final_loss,
    fit_slope,
    staircase_steps,
)

GAMMAS = np.array([1e-3, 1e-2, 1e-1])
ETAS = np.logspace(-9, 1, 41)  # quarter-decade grid, as the slope claims use
SEEDS = np.array([0, 1, 2])


def synthetic_sweep(star_exp=2.0, max_exp=2.0, curvature=0.7):
    """Final loss a parabola in log η around η* = 0.1 γ^star_exp; divergence above 10 γ^max_exp."""
    g, e, s = np.meshgrid(GAMMAS, ETAS, SEEDS, indexing="ij")
    star = 0.1 * g**star_exp * (1 + 0.05 * s)
    logL = curvature * (np.log(e) - np.log(star)) ** 2 - 3.0
    steps = np.arange(30)
    loss = np.exp(logL)[..., None] * np.ones(steps.shape)
    loss[..., 0] = 1.0  # initial loss, above every final loss here
    div = e > 10 * g**max_exp
    loss[div] = np.nan
    return xr.Dataset(
        {"loss": (("gamma", "eta", "seed", "step"), loss),
         "diverged": (("gamma", "eta", "seed"), div)},
        coords={"gamma": GAMMAS, "eta": ETAS, "seed": SEEDS, "step": steps})


def test_eta_star_parabola_refinement_is_exact():
    ds = synthetic_sweep()
    est = eta_star(ds)
    truth = 0.1 * GAMMAS[:, None] ** 2 * (1 + 0.05 * SEEDS[None, :])
    # log-loss is exactly quadratic in log η: the 3-point parabola recovers η* to round-off
    np.testing.assert_allclose(est.values, truth, rtol=1e-9)
    raw = eta_star(ds, refine=False)  # without refinement: within half a grid step (0.125 dec)
    assert np.all(np.abs(np.log10(raw.values / truth)) <= 0.125 + 1e-12)


def test_eta_max_is_last_stable_grid_point():
    ds = synthetic_sweep()
    em = eta_max(ds)
    edge = 10 * GAMMAS**2
    for i, e in enumerate(edge):
        expected = ETAS[ETAS <= e].max()
        np.testing.assert_allclose(em.values[i], expected, rtol=1e-12)


def test_slopes_recover_exponents_with_ci():
    ds = synthetic_sweep(star_exp=2.0)
    fit = fit_slope(GAMMAS, eta_star(ds).values)
    # η* = 0.1 γ² (1 + 0.05 s): every seed has slope exactly 2, so the CI collapses onto 2
    assert abs(fit.slope - 2.0) < 1e-9 and fit.agrees_with(2.0, 0.15)
    assert not fit.agrees_with(1.0, 0.15)
    fit_max = fit_slope(GAMMAS, eta_max(ds).values)
    # the grid quantises η_max to 0.25 decade over a 2-decade span: slope error ≤ 0.25/2
    assert fit_max.agrees_with(2.0, 0.125 + 1e-9)


def test_bootstrap_ci_covers_noisy_slope():
    rng = np.random.default_rng(1)
    x = np.logspace(1, 4, 7)
    y = 3.0 * x[:, None] ** 0.667 * np.exp(0.1 * rng.normal(size=(7, 5)))
    fit = fit_slope(x, y, n_boot=500)
    assert fit.ci_low < fit.slope < fit.ci_high
    assert fit.agrees_with(2 / 3, 0.15)
    assert fit.ci_high - fit.ci_low < 0.1  # 35 points, noise 0.1 over 3 decades: a tight CI


def test_eta_min_and_final_loss_masks_divergence():
    ds = synthetic_sweep()
    fl = final_loss(ds)
    assert bool(np.isnan(fl.where(ds["diverged"])).all())
    em = eta_min(ds, threshold=0.5)
    # loss < 0.5 where 0.7 (log η − log η*)² − 3 < log 0.5
    lim = np.sqrt((np.log(0.5) + 3) / 0.7)
    star = 0.1 * GAMMAS**2
    expected = [ETAS[np.log(ETAS) > np.log(s) - lim].min() for s in star]
    np.testing.assert_allclose(em.values[:, 0], expected, rtol=1e-12)


def test_catapult_detection():
    ds = synthetic_sweep()
    loss = ds["loss"].values.copy()
    i = int(np.argmin(np.abs(ETAS - 1e-7)))  # η = η*(γ=1e-3): stable, trains well
    loss[0, i, 0, 3] = 5.0  # a spike, then the usual drop: a catapult
    ds2 = ds.copy(data={"loss": loss, "diverged": ds["diverged"].values})
    cat = catapult(ds2)
    assert bool(cat.values[0, i, 0]) and int(cat.sum()) == 1


def test_bisect_edge_brackets_the_edge():
    lo, hi = bisect_edge(lambda e: e > 0.0123, 1e-3, 1.0, iters=20)
    assert lo <= 0.0123 < hi and np.log(hi / lo) <= np.log(1e3) / 2**20 * 1.0000001


def test_drop_time_matches_saxe_half_time():
    from lazyrich.theory import saxe_mode

    s, a0 = 2.0, 1e-3
    t = np.linspace(0, 10, 20001)
    a = np.asarray(saxe_mode(s, a0, t))
    L = 0.5 * (s - a) ** 2
    # L = L0/2 ⇔ (s − a)² = (s − a0)²/2: Saxe's time formula gives that time exactly
    af = s - (s - a0) / np.sqrt(2)
    exact = 1 / (2 * s) * np.log(af * (s - a0) / (a0 * (s - af)))
    assert abs(drop_time(t, L, 0.5) - exact) < 1e-5  # interpolation error on a 5e-4 grid


def test_staircase_steps_find_saxe_modes():
    from lazyrich.theory import saxe_mode

    s, a0 = np.array([3.0, 1.0, 0.3]), 1e-4
    t = np.geomspace(1e-2, 300, 6000)
    a = np.asarray(saxe_mode(s[:, None], a0, t[None, :]))
    L = 0.5 * np.sum((s[:, None] - a) ** 2, axis=0)
    times, drops = staircase_steps(t, L, min_drop=0.005)
    assert len(times) == 3
    # each step removes ½ s_α²; adjacent sigmoids overlap (time ratio ~3), so the split at the
    # descent-rate minimum leaks a few % of a step into its neighbour
    np.testing.assert_allclose(drops, 0.5 * s**2, rtol=0.05)
    half = 1 / (2 * s) * np.log(s / a0 - 1)  # Saxe half-times; the steepest point is near them
    np.testing.assert_allclose(times, half, rtol=0.1)


def test_align_by_drop_collapses_shifted_curves():
    t = np.linspace(0, 50, 5001)
    base = lambda u: 1 / (1 + np.exp(u - 10))  # noqa: E731
    curves = np.stack([base(t), base(t - 7.0), base(t - 13.0)])
    shifts, _ = align_by_drop(t, curves)
    np.testing.assert_allclose(np.diff(shifts), [7.0, 6.0], atol=1e-3)


def test_bad_inputs():
    ds = synthetic_sweep()
    with pytest.raises(ValueError, match="no variable 'test_loss'"):
        final_loss(ds, var="test_loss")
    with pytest.raises(ValueError, match="must have dims"):
        eta_max(ds.rename({"seed": "run"}))
    with pytest.raises(ValueError, match="x must be positive"):
        fit_slope(np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="fewer than two finite points"):
        fit_slope(np.array([1.0, 2.0]), np.array([np.nan, 2.0]))
    with pytest.raises(ValueError, match="strictly increasing"):
        drop_time(np.array([0.0, 0.0, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="need 0 < lo < hi"):
        bisect_edge(lambda e: True, 1.0, 0.5)


def test_plot_loss_curves_draws_seed_means_at_the_best_eta():
    """Without gamma: one line per γ, at the η with the lowest seed-mean final test loss, whose
    y-data is the seed mean (a diverged seed's NaNs left out); with gamma: one line per η."""
    import matplotlib

    matplotlib.use("Agg")
    from lazyrich.analysis import plot_loss_curves

    steps = np.array([0, 1, 2, 4, 8])
    rng = np.random.default_rng(0)
    loss = rng.uniform(0.5, 2.0, size=(2, 3, 2, steps.size))  # gamma, eta, seed, step
    loss[0, 1, :, -3:] = [[0.1, 0.1, 0.1], [0.3, 0.3, 0.3]]    # γ0: best η index 1
    loss[1, 2, :, -3:] = 0.05                                 # γ1: best η index 2
    loss[1, 2, 1, -2:] = np.nan                               # a seed diverged there ...
    div = np.zeros(loss.shape[:3], bool)
    div[1, 2, 1] = True
    ds = xr.Dataset({"test_loss": (("gamma", "eta", "seed", "step"), loss),
                     "loss": (("gamma", "eta", "seed", "step"), loss),
                     "diverged": (("gamma", "eta", "seed"), div)},
                    coords={"gamma": [0.1, 10.0], "eta": [0.01, 0.1, 1.0], "seed": [0, 1],
                            "step": steps})
    ax = plot_loss_curves(ds)
    lines = ax.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), loss[0, 1, :, 1:].mean(0))
    want = np.nanmean(loss[1, 2, :, 1:], axis=0)                # ... and is left out
    np.testing.assert_allclose(lines[1].get_ydata(), want)
    assert "1/2 seeds diverged" in lines[1].get_label()
    ax = plot_loss_curves(ds, "loss", gamma=10.0)
    assert len(ax.get_lines()) == 3
    with pytest.raises(ValueError, match=r"gamma = 3 is not in the grid"):
        plot_loss_curves(ds, gamma=3.0)
    with pytest.raises(ValueError, match="var 'accuracy' is not a logged variable"):
        plot_loss_curves(ds, "accuracy")
