"""Landscape analysis: η̂ sweeps, the phase map, NTK/sharpness diagnostics inside sweeps, the
kernel machine, run_cells and bisection of the divergence edge (docs: Gamma scaling)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from jax.flatten_util import ravel_pytree

from lazyrich import analysis as an
from lazyrich import metrics as lm
from lazyrich import sims
from lazyrich.metrics import empirical_ntk, kernel_alignment

GAMMAS = np.array([1e-3, 1e-2, 1e-1])
KS = np.arange(-3, 1.0001, 0.25)
SEEDS = np.array([0, 1, 2])


def hat_sweep():
    """A synthetic η̂ sweep: η = γ²·10^k, loss parabola around η* = 0.1γ²(1+0.05 s) in log η,
    divergence above η = 3γ² — the same numbers as tests/test_analysis_phase.py, on a γ-dependent
    η grid."""
    eta = GAMMAS[:, None] ** 2 * 10.0 ** KS[None, :]
    star = 0.1 * GAMMAS[:, None, None] ** 2 * (1 + 0.05 * SEEDS[None, None, :])
    logL = 0.7 * (np.log(eta)[..., None] - np.log(star)) ** 2 - 3.0
    steps = np.arange(30)
    loss = np.exp(logL)[..., None] * np.ones(steps.shape)
    loss[..., 0] = 1.0
    div = np.broadcast_to((eta > 3 * GAMMAS[:, None] ** 2)[..., None], logL.shape).copy()
    loss[div] = np.nan
    return xr.Dataset({"loss": (("gamma", "eta_hat", "seed", "step"), loss),
                       "diverged": (("gamma", "eta_hat", "seed"), div)},
                      coords={"gamma": GAMMAS, "eta_hat": 10.0**KS, "seed": SEEDS, "step": steps,
                              "eta": (("gamma", "eta_hat"), eta)})


def test_eta_hat_sweep_star_max_min():
    ds = hat_sweep()
    assert an.eta_dim(ds) == "eta_hat"
    truth = 0.1 * GAMMAS[:, None] ** 2 * (1 + 0.05 * SEEDS[None, :])
    # log-loss exactly quadratic in log η: the parabola refinement is exact (round-off)
    np.testing.assert_allclose(an.eta_star(ds).values, truth, rtol=1e-9)
    # edge at 3γ²: the last stable grid point is γ²·10^0.25 (10^0.5 = 3.16 > 3)
    np.testing.assert_allclose(an.eta_max(ds).values,
                               np.broadcast_to(GAMMAS[:, None] ** 2 * 10**0.25, (3, 3)),
                               rtol=1e-12)
    lo, hi = an.eta_bracket(ds)
    np.testing.assert_allclose(hi.values / lo.values, 10**0.25, rtol=1e-12)
    fit = an.fit_slope(GAMMAS, an.eta_star(ds).values)
    assert abs(fit.slope - 2) < 1e-9 and fit.agrees_with(2.0, 0.15)
    lim = np.sqrt((np.log(0.5) + 3) / 0.7)  # loss < 0.5 L0 inside this log-distance of η*
    em = an.eta_min(ds, 0.5).values
    for i in range(3):
        grid = GAMMAS[i] ** 2 * 10.0**KS
        np.testing.assert_allclose(em[i, 0], grid[np.log(grid) > np.log(truth[i, 0]) - lim].min())


def test_phase_map_data_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    ds = hat_sweep()
    d = an.phase_map_data(ds, "loss", window=5, depth=2)
    assert np.isnan(d.value[d.eta > 3 * GAMMAS[:, None] ** 2]).all()
    assert np.isfinite(d.value[d.eta <= 3 * GAMMAS[:, None] ** 2]).all()
    assert list(d.lines) == [r"$\eta\propto\gamma^2$"]  # γ ≤ 0.1 only: the lazy law alone
    for label, (x, y) in d.lines.items():
        slope = np.polyfit(np.log(x), np.log(y), 1)[0]
        expected = {r"$\eta\propto\gamma^2$": 2.0, r"$\eta\propto\gamma^{2/2}$": 1.0,
                    r"$\eta\propto\gamma$": 1.0}[label]
        assert abs(slope - expected) < 1e-12
    ax = an.plot_phase_map(ds, "loss", window=5, depth=2)
    assert ax.get_xlabel() == r"$\log_{10}\gamma$" and len(ax.lines) == 2 + len(d.lines)
    with pytest.raises(ValueError, match="pass depth="):
        an.phase_map_data(ds, "loss")


def test_bad_datasets():
    ds = hat_sweep()
    with pytest.raises(ValueError, match="exactly one learning-rate dimension"):
        an.eta_max(ds.rename({"eta_hat": "lr"}).drop_vars("eta"))
    with pytest.raises(ValueError, match="coordinate eta must have dims"):
        an.eta_max(ds.assign_coords(eta=("eta_hat", ds["eta"].values[0])))
    with pytest.raises(ValueError, match="need 0 < lo < hi"):
        an.bisect_edge(lambda e: e > 1, np.array([1.0, 2.0]), np.array([2.0, 1.0]))


def test_vector_bisection_brackets_every_edge():
    edges = np.array([0.0123, 0.5, 3.3])
    lo, hi = an.bisect_edge(lambda e: e > edges, np.full(3, 1e-3), np.full(3, 10.0), iters=20)
    assert np.all((lo <= edges) & (edges < hi))
    np.testing.assert_allclose(np.log(hi / lo), np.log(1e4) / 2**20, rtol=1e-9)


# --------------------------------------------------------------------------- diagnostics


def _mlp(width=16, depth=2, D=5, C=2, seed=0):
    m = sims.MLP(depth, width, D, C, "relu", False, "mup")
    p0 = m.init(jax.random.key(seed), jnp.float64)
    p = jax.tree.map(
        lambda a: a + 0.3 * jax.random.normal(jax.random.key(seed + 1), a.shape, a.dtype), p0)
    return m, p0, p


def test_ntk_gram_and_vp_match_reference():
    m, p0, p = _mlp()
    x = jax.random.normal(jax.random.key(3), (12, 5), jnp.float64)
    f = lambda q, xx: (m.apply(q, xx) - m.apply(p0, xx)) / 10.0  # noqa: E731
    K = lm.ntk_gram(f, p, x, chunk=4)
    ref = empirical_ntk(lambda q, xx: m.apply(q, xx) / 10.0, p, x)  # f − g₀ has the same Jacobian
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-14)
    # a chunk that does not divide n: the last block is padded, the padding rows dropped
    np.testing.assert_allclose(lm.ntk_gram(f, p, x, chunk=5), ref, rtol=1e-12, atol=1e-14)
    Kfull = empirical_ntk(lambda q, xx: m.apply(q, xx) / 10.0, p, x, trace_outputs=False)
    v = jax.random.normal(jax.random.key(4), (12, 2), jnp.float64)
    np.testing.assert_allclose(lm.ntk_vp(f, p, x, v), jnp.einsum("icjd,jd->ic", Kfull, v),
                               rtol=1e-11, atol=1e-14)
    with pytest.raises(ValueError, match=r"chunk must be a positive integer .* got 0"):
        lm.ntk_gram(f, p, x, chunk=0)
    with pytest.raises(ValueError, match=r"v must have the output shape \(12, 2\), got \(12,\)"):
        lm.ntk_vp(f, p, x, v[:, 0])


def test_alignment_and_ranks_exact():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(10, 10))
    K = A @ A.T
    y = rng.normal(size=(10, 3))
    H = np.eye(10) - 1 / 10
    for c in (False, True):
        # independent NumPy reference: explicit centring matrix H, cosine of K and YYᵀ
        Kc, Yc = (H @ K @ H, H @ y) if c else (K, y)
        T = Yc @ Yc.T
        want = np.sum(Kc * T) / (np.linalg.norm(Kc) * np.linalg.norm(T))
        # eager (validated, float64) and traced (inside jit, as in the hooks): round-off apart
        assert abs(kernel_alignment(K, y, centered=c) - want) < 1e-12
        traced = jax.jit(lambda k, t, c=c: kernel_alignment(k, t, centered=c))
        assert abs(float(traced(jnp.asarray(K), jnp.asarray(y))) - want) < 1e-12
    lam = np.array([4.0, 1.0, 1.0, 0.0])
    D = jnp.asarray(np.diag(lam))
    assert abs(float(lm.participation_ratio(D)) - 36 / 18) < 1e-12
    p = lam[:3] / 6
    assert abs(float(lm.entropy_rank(D)) - np.exp(-np.sum(p * np.log(p)))) < 1e-12
    assert abs(float(lm.entropy_rank(jnp.eye(7))) - 7) < 1e-12
    with pytest.raises(ValueError, match=r"K must be square \(n, n\), got \(3, 4\)"):
        kernel_alignment(jnp.ones((3, 4)), jnp.ones(3))


@pytest.fixture(scope="module")
def hooked_sweep():
    cfg = sims.SweepConfig(depth=2, width=16, num_steps=20, batch_size=8, dtype="float64",
                           log_every=10, task_options={"test_size": 16})
    hooks = {**lm.ntk_hooks(n_eval=16, chunk=8), **lm.sharpness_hooks(n_eval=16, num_iters=40)}
    ds = sims.sweep(cfg, gamma=[0.5, 5.0], eta=[0.05], seeds=[0], metrics=hooks)
    return cfg, ds


def test_hooks_inside_sweep_match_direct_computation(hooked_sweep):
    cfg, ds = hooked_sweep
    m = sims.MLP(2, 16, 16, 1, "relu", False, "mup")
    task = sims.make_task("single-index", test_size=16)
    data = task.build(0, jnp.float64)
    x, y = data["test_x"], data["test_y"]
    p0 = m.init(jax.random.fold_in(jax.random.key(0), 0), jnp.float64)
    for gi, g in enumerate([0.5, 5.0]):
        f = lambda q, xx: (m.apply(q, xx) - m.apply(p0, xx)) / g  # noqa: E731, B023
        K = np.asarray(lm.ntk_gram(f, p0, x))
        cell = ds.isel(gamma=gi, eta=0, seed=0, step=0)
        np.testing.assert_allclose(float(cell["align"]), kernel_alignment(K, np.asarray(y)),
                                   rtol=1e-10)
        np.testing.assert_allclose(float(cell["align_centered"]),
                                   kernel_alignment(K, np.asarray(y), centered=True), rtol=1e-10)
        np.testing.assert_allclose(float(cell["ntk_norm"]), np.linalg.norm(K), rtol=1e-10)
        lam = np.clip(np.linalg.eigvalsh(K), 0, None)
        np.testing.assert_allclose(float(cell["rank_pr"]), lam.sum() ** 2 / (lam**2).sum(),
                                   rtol=1e-9)
        # GN top = top eigenvalue of (2/P) K (P = 16 points, C = 1); Lanczos with 40 > 16 iterations
        # spans the whole 16-dim Krylov space: exact to round-off
        np.testing.assert_allclose(float(cell["gn_top"]), 2 / 16 * lam.max(), rtol=1e-8)
        flat, unr = ravel_pytree(p0)
        Hm = jax.hessian(lambda th, f=f, unr=unr: jnp.mean((f(unr(th), x) - y) ** 2))(flat)
        ev = np.linalg.eigvalsh(np.asarray(Hm))
        # 40 Lanczos steps, well-separated extremes: converged to ~1e-6 relative
        np.testing.assert_allclose(float(cell["hess_max"]), ev.max(), rtol=1e-5)
        np.testing.assert_allclose(float(cell["hess_min"]), ev.min(), rtol=1e-4,
                                   atol=1e-8 * abs(ev).max())
    # GN part at init ∝ γ^-2 exactly (the Gauss–Newton term is JᵀJ/γ²; γ 0.5 → 5)
    r = float(ds["gn_top"].isel(gamma=0, eta=0, seed=0, step=0)
              / ds["gn_top"].isel(gamma=1, eta=0, seed=0, step=0))
    assert abs(r - 100.0) < 1e-7


def test_hook_bad_inputs():
    with pytest.raises(ValueError, match="unknown NTK statistic"):
        lm.ntk_hooks(which=("nope",))
    with pytest.raises(ValueError, match="unknown sharpness statistic"):
        lm.sharpness_hooks(which=("nope",))
    with pytest.raises(ValueError, match="give both x and y"):
        lm.ntk_hooks(x=jnp.ones((2, 2)))


# --------------------------------------------------------------------------- kernel machine


def test_kernel_regression_interpolates_and_validates():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 20))
    K = X @ X.T
    y = rng.normal(size=8)
    np.testing.assert_allclose(an.kernel_regression(K, y, K), y, atol=1e-9)
    with pytest.raises(ValueError, match="shapes do not match"):
        an.kernel_regression(K, y[:5], K)
    with pytest.raises(ValueError, match="ridge"):
        an.kernel_regression(K, y, K, ridge=-1.0)
    with pytest.raises(ValueError, match="non-finite"):
        an.kernel_regression(K * np.nan, y, K)


def test_kernel_machine_exact_for_a_linear_model():
    """A model linear in θ has K_t = K_0, and GD from θ₀ = 0 converges to the minimum-norm
    interpolant, which *is* kernel regression: both errors vanish (to the GD tolerance)."""
    rng = np.random.default_rng(2)
    X = jnp.asarray(rng.normal(size=(6, 15)))
    y = jnp.asarray(rng.normal(size=6))
    Xt = jnp.asarray(rng.normal(size=(9, 15)))
    f = lambda p, x: x @ p["w"]  # noqa: E731
    p = {"w": jnp.zeros(15)}
    lr = 1.0 / float(jnp.linalg.eigvalsh(X @ X.T).max())
    for _ in range(3000):
        p = {"w": p["w"] - lr * X.T @ (X @ p["w"] - y)}
    res = an.kernel_machine_check(f, p, {"w": jnp.zeros(15)}, X, y, Xt)
    assert res.rel_err0 < 1e-8 and res.rel_errt < 1e-8
    with pytest.raises(ValueError, match="identically zero"):
        an.kernel_machine_check(f, {"w": jnp.zeros(15)}, {"w": jnp.zeros(15)}, X, y, Xt)


# --------------------------------------------------------------------------- cells and bisection


def test_run_cells_reproduces_sweep_cells_and_bisection():
    cfg = sims.SweepConfig(depth=2, width=16, num_steps=40, batch_size=8, dtype="float64",
                           log_every=10)
    eh = 10.0 ** np.arange(-1, 1.6, 0.5)
    ds = sims.sweep(cfg, gamma=[1e-2, 10.0], eta_hat=eh, seeds=[0, 1])
    out = sims.run_cells(cfg, gamma=np.array([10.0, 1e-2]), eta=np.array([ds["eta"].values[1, 2],
                                                                         ds["eta"].values[0, 1]]),
                       seed=np.array([1, 0]))
    np.testing.assert_allclose(out["loss"][0], ds["loss"].values[1, 2, 1], rtol=1e-12,
                               equal_nan=True)
    np.testing.assert_allclose(out["loss"][1], ds["loss"].values[0, 1, 0], rtol=1e-12,
                               equal_nan=True)
    lo, hi = an.eta_bracket(ds)
    ref = an.refine_eta_max(cfg, ds, iters=3)
    ok = np.isfinite(hi.values)
    assert ok.any()
    assert np.all((ref.values[ok] >= lo.values[ok]) & (ref.values[ok] <= hi.values[ok]))
    # the refined bracket's lower end is stable and its upper end diverges: re-run both ends
    step = 10 ** (0.5 / 2**3 / 2)  # half the final bracket's log-width
    g = np.broadcast_to(ds.gamma.values[:, None], lo.shape)[ok]
    s = np.broadcast_to(ds.seed.values[None, :], lo.shape)[ok]
    assert not sims.run_cells(cfg, gamma=g, eta=ref.values[ok] / step * 0.999,
                            seed=s)["diverged"].any()
    assert sims.run_cells(cfg, gamma=g, eta=ref.values[ok] * step * 1.001, seed=s)["diverged"].all()
    with pytest.raises(ValueError, match="unknown cell field"):
        sims.run_cells(cfg, lr=1.0)
    with pytest.raises(ValueError, match="one common length"):
        sims.run_cells(cfg, gamma=np.ones(2), eta=np.ones(3))


def test_phase_map_reference_lines_across_regimes():
    g = np.array([1e-2, 1.0, 1e2])
    eta = g[:, None] ** 2 * 10.0 ** KS[None, :]
    steps = np.arange(5)
    loss = np.ones((3, KS.size, 1, 5))
    loss[..., 1:] = 0.1  # every cell trains: η_min = the grid's lowest η
    div = np.broadcast_to((10.0 ** KS > 1.0)[None, :, None], (3, KS.size, 1)).copy()
    ds = xr.Dataset({"loss": (("gamma", "eta_hat", "seed", "step"), loss),
                     "diverged": (("gamma", "eta_hat", "seed"), div)},
                    coords={"gamma": g, "eta_hat": 10.0**KS, "seed": [0], "step": steps,
                            "eta": (("gamma", "eta_hat"), eta)})
    d = an.phase_map_data(ds, "loss", window=2, depth=3)
    want = {r"$\eta\propto\gamma^2$": (2.0, 1e-2, 1.0),
            r"$\eta\propto\gamma^{2/3}$": (2 / 3, 1.0, 1e2),
            r"$\eta\propto\gamma$": (1.0, 1.0, 1e2)}
    assert set(d.lines) == set(want)
    for label, (x, y) in d.lines.items():
        slope, lo, hi = want[label]
        assert abs(np.polyfit(np.log(x), np.log(y), 1)[0] - slope) < 1e-12
        assert np.isclose(x.min(), lo) and np.isclose(x.max(), hi)
    # each line passes through the edge it is anchored on (η_max at the ends, η_min at large γ)
    y2 = d.lines[r"$\eta\propto\gamma^2$"][1]
    assert np.isclose(y2[0], d.eta_max[0])
    assert np.isclose(d.lines[r"$\eta\propto\gamma$"][1][-1], d.eta_min[-1])
