"""The landscape claims (docs: Gamma scaling) at their quick sizes, asserting the numbers the
claims report. Sweeps are shared through the claims module's caches, so C3–C6 and C8 cost one
sweep. Heavier claims (whole L = 3 sweeps, long plateaus) are ``slow``; ``lazyrich verify gamma/
--quick`` runs all of them."""

import numpy as np
import pytest

from lazyrich import set_precision
from lazyrich.verify import load_claims


@pytest.fixture(scope="module")
def claims():
    set_precision("float64")
    return {k: v for k, v in load_claims().items() if k.startswith("gamma/C")}


def _run(claims, prefix):
    """Run the claim; return its raw Outcome (details with lists and dicts, before the registry's
    wrapper turns them into strings for the report)."""
    from lazyrich.claims import gamma as C

    (name,) = [k for k in claims if k.startswith(prefix)]
    num = prefix.split("/C")[1].rstrip("-")
    return getattr(C, f"_c{num}")(True)


def test_every_landscape_claim_is_registered(claims):
    have = {k.split("-")[0] for k in claims}
    want = {f"gamma/C{i}" for i in list(range(2, 19)) + [20, 21, 22]}
    assert want <= have


def test_c2_init_hessian_scaling(claims):
    out = _run(claims, "gamma/C2-")
    d = out.details
    # the engine's curvature against the plain-network reference: round-off only
    assert out.passed and d["gn_rel_err"] < 1e-10 and d["quadratic_form_rel_err"] < 1e-10
    # the residual term is O(1) against the GN term at γ = 1, so a wrong power of γ in either
    # would show at O(1) in vᵀHv, not hide under round-off
    assert np.min(np.abs(d["res_over_gn_at_gamma1"])) > 0.1


def _fake_sweep(k_star, k_edge, gammas=(1e-3, 1e-2), seeds=(0, 1)):
    """A sweep in the layout of lazyrich.sims.scaled_sweep on η = γ²·10^k whose final loss is a
    parabola in log10 η with its minimum at k_star and which diverges above k_edge (both known)."""
    import xarray as xr

    g, k = np.asarray(gammas), np.arange(-1.0, 1.01, 0.25)
    eta = g[:, None] ** 2 * 10.0 ** k[None, :]
    kk = np.broadcast_to(k[None, :, None], (g.size, k.size, len(seeds)))
    final = np.exp((kk - k_star) ** 2)
    loss = np.stack([np.full_like(final, 10.0), final, final, final, final], axis=-1)
    div = kk > k_edge
    return xr.Dataset({"test_loss": (("gamma", "eta_hat", "seed", "step"), loss),
                       "loss": (("gamma", "eta_hat", "seed", "step"), loss),
                       "diverged": (("gamma", "eta_hat", "seed"), div)},
                      coords={"gamma": g, "eta_hat": 10.0**k, "seed": list(seeds),
                              "step": np.arange(5), "eta": (("gamma", "eta_hat"), eta)})


def test_grid_edge_checks_on_known_sweeps():
    """The edge checks of C3–C7, C21 and C22 on sweeps with a known optimum and edge: interior ones
    pass, an optimum or a divergence edge on the grid's boundary is reported."""
    from lazyrich.claims import gamma as C

    inside = _fake_sweep(0.1, 0.6)
    assert C._star_edges(inside) == [] and C._bracket_edges(inside) == []
    assert len(C._star_edges(_fake_sweep(1.7, 0.6))) == 4  # argmin next to the diverged cells
    assert len(C._star_edges(_fake_sweep(1.7, 2.0))) == 4  # argmin on the grid's top
    assert len(C._star_edges(_fake_sweep(-1.7, 0.6))) == 4  # below the bottom
    assert len(C._bracket_edges(_fake_sweep(0.1, 2.0))) == 4  # nothing diverges on the grid
    assert len(C._bracket_edges(_fake_sweep(0.1, -2.0))) == 4  # everything diverges


def test_one_bin_and_zero_width_ci():
    """Values on the law's own scale in one bisection bin make the slope the grid's: _one_bin
    says so, and a slope fit with a zero-width CI fails with a message even though its slope
    equals the prediction; one with seed spread passes."""
    from lazyrich.claims import gamma as C

    g = np.array([1e-3, 1e-2, 1e-1])
    same = np.repeat((5.4 * g**2)[:, None], 3, axis=1)
    assert C._one_bin(same, g**2, 0.001)
    spread = same * 10.0 ** np.array([[0.0, 0.01, -0.01], [0.005, 0.0, 0.02], [0.0, -0.01, 0.01]])
    assert not C._one_bin(spread, g**2, 0.001)
    flat = C._slope_outcome(g, same, 2.0, 0.1, label="x", ylabel="y", zero_ci_fails=True)
    assert abs(flat.measured - 2.0) < 1e-12 and not flat.passed
    assert "zero-width CI" in flat.details["failure"]
    ok = C._slope_outcome(g, spread, 2.0, 0.1, label="x", ylabel="y", zero_ci_fails=True)
    assert ok.passed and ok.details["ci"][1] > ok.details["ci"][0]


def test_init_gn_top_matches_the_engine():
    """C4's edge-of-stability reference (dense top GN eigenvalue of the plain network at each
    seed's θ₀, computed outside the engine) equals the engine's own Lanczos gn_top hook at γ = 1
    on the same points: the same matrix, so only Lanczos/round-off error (P = 16 points, 16
    Lanczos steps: exact in exact arithmetic)."""
    from lazyrich.claims import gamma as C
    from lazyrich.metrics import sharpness_hooks
    from lazyrich.sims import SweepConfig, run_cells

    set_precision("float64")
    cfg = SweepConfig(depth=2, width=16, num_steps=1, batch_size=8, dtype="float64",
                      log_every=1, task_options={"test_size": 16})
    ref = C._init_gn_top(cfg, [0, 1], n_eval=16)
    hooks = sharpness_hooks(n_eval=16, num_iters=16, which=("gn_top",))
    eng = run_cells(cfg, metrics=hooks, gamma=1.0, eta=1e-3, seed=np.array([0, 1]))["gn_top"]
    np.testing.assert_allclose(eng[:, 0], ref, rtol=1e-8)
    assert abs(ref[0] / ref[1] - 1) > 1e-3  # the seeds differ: the key convention matters


@pytest.mark.parametrize("prefix, pred, tol", [("gamma/C3-", 2.0, 0.15), ("gamma/C4-", 2.0, 0.25),
                                               ("gamma/C5-", 1.0, 0.15), ("gamma/C6-", 1.0, 0.15)])
def test_l2_slopes(claims, prefix, pred, tol):
    out = _run(claims, prefix)
    lo, hi = out.details["ci"]
    # the quick-size numbers: slope within tol, a CI of non-zero width, no grid-edge message
    assert abs(out.measured - pred) <= tol and hi > lo and "failure" not in out.details
    if prefix == "gamma/C4-":  # the edge of stability, N·η_max·λ_max ≈ 2, at every cell
        from lazyrich.claims import gamma as C

        lo_b, hi_b = C.EOS_BAND
        assert all(lo_b <= v <= hi_b for v in out.details["eos_product"])


def test_c8_crossover(claims):
    out = _run(claims, "gamma/C8-")
    r = out.details["eta_max_over_gamma2"]
    assert out.passed and out.details["monotone"] and r[1] / r[3] > 3


def test_c10_l2_plateau_log_gamma(claims):
    out = _run(claims, "gamma/C10-")
    assert out.passed and out.details["r2"] > 0.98 and out.measured <= 0.2


def test_c18_staircase(claims):
    out = _run(claims, "gamma/C18-")
    d = out.details
    assert out.passed and d["L3_spread"] <= 0.2 and d["L2_max_rel_err"] <= 0.2
    assert len(d["staircase_step_times"]) == 3


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["gamma/C7-", "gamma/C9-", "gamma/C11-", "gamma/C12-",
                                    "gamma/C13-", "gamma/C14-", "gamma/C15-", "gamma/C16-",
                                    "gamma/C17-", "gamma/C20-", "gamma/C21-", "gamma/C22-"])
def test_heavier_claims(claims, prefix):
    out = _run(claims, prefix)
    assert out.passed, (out.measured, out.details)


def test_gpu_tier_runs_at_tiny_size_on_cpu():
    """The GPU-tier claim's code path (two dtypes, two widths, slopes, width check), tiny."""
    from lazyrich.claims import gamma as C

    set_precision("float64")
    sizes = dict(widths=(8, 16), depths=(2,), gammas=(1e-3, 1e-2, 10.0, 100.0), seeds=range(2),
                 num_steps=20, k=np.arange(-1.0, 1.0001, 0.5), batch=8, test_size=32)
    out = C._figure1_outcome(True, sizes)
    fits = out.details["fits"]
    assert set(fits) == {"N8_L2", "N16_L2"}
    for r in fits.values():
        assert set(r) == {"lazy_eta_star", "rich_eta_star", "rich_eta_min"}
        assert np.isfinite(r["lazy_eta_star"]["slope"])
    assert out.details["max_width_log10_deviation"] is not None
    assert load_claims()["gamma/GPU1-figure1-mlp"].tier == "gpu"
