"""The landscape claims (docs: Gamma scaling) at their quick sizes, asserting the numbers the
claims report. Sweeps are shared through the claims module's caches, so C3–C6 and C8 cost one
sweep. Heavier claims (whole L = 3 sweeps, long plateaus) are ``slow``; ``lazyrich verify gamma/
--quick`` runs all of them."""

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
    assert claims[name].run(quick=True).passed is not None  # the registered path works too
    num = prefix.split("/C")[1].rstrip("-")
    return getattr(C, f"_c{num}")(True)


def test_every_landscape_claim_is_registered(claims):
    have = {k.split("-")[0] for k in claims}
    want = {f"gamma/C{i}" for i in list(range(2, 19)) + [20, 21, 22]}
    assert want <= have


def test_c2_init_hessian_scaling(claims):
    out = _run(claims, "gamma/C2-")
    # exact algebra: γ²λ_GN and γ·vᵀH_res v are γ-independent to round-off
    assert (out.passed and out.details["gn_spread"] < 1e-10
            and out.details["residual_spread"] < 1e-10)


@pytest.mark.parametrize("prefix, pred, tol", [("gamma/C3-", 2.0, 0.15), ("gamma/C4-", 2.0, 0.25),
                                               ("gamma/C5-", 1.0, 0.15), ("gamma/C6-", 1.0, 0.15)])
def test_l2_slopes(claims, prefix, pred, tol):
    out = _run(claims, prefix)
    lo, hi = out.details["ci"]
    # pass rule: pooled slope within tol and the bootstrap CI overlapping pred ± tol
    assert out.passed and abs(out.measured - pred) <= tol and hi >= pred - tol and lo <= pred + tol


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
    import numpy as np

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
