"""Mean-field capacity and effective geometry (docs: Manifold capacity), the facts of the claims
capacity/C1-points-mean-field, capacity/C3-C9-identities, capacity/C5-spheres-to-ball and
capacity/C7-sim-vs-mean-field at test size, and the invariances of the estimator.

Exact identities are checked at round-off; Monte-Carlo results against theory with tolerances
from the Monte-Carlo standard error or previously measured bands.
"""

import jax
import numpy as np
import pytest

from lazyrich.geometry import (
    box_qp_ipm,
    gaussian_clouds,
    mean_field_capacity,
    nnls_cpu,
    point_manifolds,
    simulated_capacity,
    sphere_manifolds,
)
from lazyrich.theory import ball_capacity


@pytest.fixture(scope="module")
def clouds():
    return np.asarray(gaussian_clouds(jax.random.key(2), 8, 20, 100, 4, 1.0))


@pytest.fixture(scope="module")
def clouds_mf(clouds):
    return mean_field_capacity(jax.random.key(1), clouds, n_t=200)


def test_points_capacity_two():
    """C1: alpha = 2 and active fraction 1/2 for Gaussian points.

    E[a] = P/2 exactly in expectation; the s.e. of alpha at n_t = 400 is ~0.05 (measured 0.048),
    so the tolerance 0.15 is 3 s.e."""
    X = point_manifolds(jax.random.key(0), 20, 200)
    r = mean_field_capacity(jax.random.key(1), X, n_t=400)
    assert abs(r.capacity - 2.0) <= 0.15
    assert abs(r.capacity - 2.0) <= 3.5 * r.capacity_stderr
    assert abs(r.active_fraction - 0.5) <= 0.05  # binomial s.e. sqrt(.25/8000) ~ 0.006, P-coupled


def test_orthonormal_points_exact_per_sample():
    """C1 exact variant: for orthonormal points a = sum_mu max(0, y_mu t_mu)^2 sample by sample."""
    X = point_manifolds(jax.random.key(0), 10, 30, orthonormal=True)
    r = mean_field_capacity(jax.random.key(3), X, n_t=50)
    yt = r.samples["labels"] * r.samples["u"][:, :, 0]  # y_mu <x_mu, t>
    np.testing.assert_allclose(r.samples["a"], np.sum(np.maximum(yt, 0.0) ** 2, axis=1),
                               rtol=1e-10)
    np.testing.assert_array_equal(r.samples["active"], yt > 0)  # active <=> y t > 0
    np.testing.assert_allclose(r.anchor_weights[r.samples["active"]], 1.0, atol=1e-12)


def test_identities_c3_c9(clouds_mf):
    """C3: ||G^T lambda||^2 = c^T lambda = (St)^T (SS^T)^+ (St); C9: alpha = Psi (1+R^-2)/D."""
    r = clouds_mf
    np.testing.assert_allclose(r.samples["a_anchor"], r.samples["a"], rtol=1e-8)
    assert np.max(r.samples["kkt"]) < 1e-10  # exact solver: KKT at round-off
    assert abs(r.capacity / (r.psi * r.approx_capacity) - 1) < 1e-10
    assert 0 < r.psi <= 1 + 1e-12
    # anchors are convex combinations: weights >= 0 summing to 1 on active rows
    W, act = r.anchor_weights, r.samples["active"]
    assert np.all(W >= 0)
    np.testing.assert_allclose(W.sum(-1)[act], 1.0, atol=1e-12)
    np.testing.assert_allclose(W.sum(-1)[~act], 0.0, atol=0)


def test_ipm_agrees_with_nnls():
    """The JAX interior point and the CPU active set agree on unique solutions.

    Generic Gaussian points with N > P*M make K positive definite, so lambda (hence the
    anchors) is unique: both solvers must give the same lambda to ~1e-9 (IPM stops at mu ~ 1e-15,
    K well conditioned) and every output to the same accuracy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 10, 60)) / np.sqrt(60) + rng.standard_normal((4, 1, 60)) / 4
    a = mean_field_capacity(jax.random.key(0), X, n_t=16, solver="nnls")
    b = mean_field_capacity(jax.random.key(0), X, n_t=16, solver="ipm", ipm_batch=16)
    assert b.options["solver"] == "ipm" and a.options["solver"] == "nnls"
    np.testing.assert_allclose(b.anchor_weights, a.anchor_weights, atol=1e-8)
    np.testing.assert_array_equal(b.samples["active"], a.samples["active"])
    for f in ("capacity", "radius", "dimension", "psi", "center_alignment", "axis_alignment",
              "center_axis_alignment"):
        assert abs(getattr(a, f) - getattr(b, f)) <= 1e-8 * max(1.0, abs(getattr(a, f))), f
    assert np.max(b.samples["kkt"]) < 1e-9


def test_qp_solvers_on_random_nnls():
    """Direct solver check: IPM vs column-generation NNLS vs scipy's plain NNLS, including a
    rank-deficient Gram matrix (duplicated columns) where lambda is not unique but the optimal
    value and the projection G^T lambda are."""
    from scipy.optimize import nnls

    rng = np.random.default_rng(1)
    F = rng.standard_normal((30, 50))
    F[:, 25:] = F[:, :25]  # duplicates: singular Q
    z = rng.standard_normal(30)
    lam_ref, _ = nnls(F, z)
    lam_cg = nnls_cpu(F, z)
    Q, c = F.T @ F, F.T @ z
    s = np.linalg.eigvalsh(Q)[-1]
    lam_ipm, kkt = box_qp_ipm(Q / s, c / s, iters=60)
    lam_ipm = np.asarray(lam_ipm)
    for lam in (lam_cg, lam_ipm):
        np.testing.assert_allclose(F @ lam, F @ lam_ref, atol=1e-8)  # unique projection
        assert abs(c @ lam - c @ lam_ref) < 1e-9 * abs(c @ lam_ref)
    assert float(kkt) < 1e-9


def test_invariances_exact():
    """Invariances: rotation, zero padding and global scaling leave every output unchanged
    (same draws: K is invariant, and the Gram-space sampler only sees K)."""
    X = np.asarray(sphere_manifolds(jax.random.key(5), 6, 15, 30, 3, 1.0))
    Qr, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((30, 30)))
    base = mean_field_capacity(jax.random.key(0), X, n_t=30)
    for Y in (X @ Qr, np.concatenate([X, np.zeros((6, 15, 7))], -1), 5.0 * X):
        r = mean_field_capacity(jax.random.key(0), Y, n_t=30)
        for f in ("capacity", "radius", "dimension", "center_alignment", "axis_alignment",
                  "center_axis_alignment"):
            assert abs(getattr(r, f) - getattr(base, f)) <= 1e-8 * abs(getattr(base, f)), f


def test_spheres_approach_ball_from_above():
    """C5 (reduced): sampled D=3, R=2 spheres (P=16, M=100, N=600) give alpha within 5% of the
    ball formula alpha_B = 0.369 and never below it by more than 3% (finite M biases alpha up).
    s.e. of alpha at n_t = 300 is ~1.5%."""
    X = sphere_manifolds(jax.random.key(0), 16, 100, 600, 3, 2.0)
    r = mean_field_capacity(jax.random.key(1), X, n_t=300)
    ab = float(ball_capacity(2.0, 3))
    assert abs(r.capacity / ab - 1) <= 0.05, (r.capacity, ab)
    assert r.capacity >= ab * 0.97


@pytest.mark.slow
def test_sphere_capacity_decreases_with_m():
    """C5: D=5, R=1: alpha(M=50) > alpha(M=200) > alpha_B = 1/3 (measured 0.398 > 0.361 > 0.333).
    The M-gap (~0.04) is ~4 s.e. at n_t = 300; common draws (same key) make it sharper."""
    ab = float(ball_capacity(1.0, 5))
    caps = []
    for M in (50, 200):
        X = sphere_manifolds(jax.random.key(0), 16, M, 600, 5, 1.0)
        caps.append(mean_field_capacity(jax.random.key(1), X, n_t=300).capacity)
    assert caps[0] > caps[1] > ab * 0.97, caps


def test_sim_and_mean_field_agree(clouds, clouds_mf):
    """C7(c): tiny Gaussian clouds (P=8, M=20, N=100, D=4), homogeneous, balanced: alpha_sim and
    alpha_MF within 10% (the band for P = 8: finite-P corrections; measured 0.491 vs 0.479)."""
    s = simulated_capacity(jax.random.key(1), clouds, n_rep=100, n_boot=200)
    assert abs(s.capacity / clouds_mf.capacity - 1) <= 0.10, (s.capacity, clouds_mf.capacity)


def test_fixed_labels_and_ensembles(clouds):
    y = np.array([1, -1] * 4, dtype=float)
    r = mean_field_capacity(jax.random.key(0), clouds, n_t=20, ensemble="fixed", labels=y)
    assert np.all(r.samples["labels"] == y)
    r = mean_field_capacity(jax.random.key(0), clouds, n_t=20, ensemble="one_vs_rest")
    assert np.all(np.abs(r.samples["labels"].sum(1)) == 6)


GOOD = np.random.default_rng(0).standard_normal((4, 5, 6))


@pytest.mark.parametrize(("X", "kw", "match"), [
    (GOOD[:1], {}, r"at least 2 manifolds \(P >= 2\)"),
    (np.zeros((4, 0, 6)), {}, r"at least 1 point per manifold \(M >= 1\)"),
    ([GOOD[0], GOOD[1, :3], GOOD[2], GOOD[3]], {}, "ragged"),
    (np.where(np.arange(6) == 0, np.inf, GOOD), {}, "non-finite"),
    (np.concatenate([GOOD[:3], np.broadcast_to(GOOD[3, :1], (1, 5, 6))]), {}, "zero variance"),
    (GOOD, {"n_t": 1}, "n_t must be an integer >= 2"),
    (GOOD, {"center_policy": "some"}, "center_policy must be one of"),
    (GOOD, {"solver": "cvxpy"}, "solver must be one of"),
    (GOOD, {"ensemble": "fixed"}, "ensemble='fixed' needs labels"),
])
def test_mean_field_bad_input(X, kw, match):
    with pytest.raises(ValueError, match=match):
        mean_field_capacity(jax.random.key(0), X, **kw)


def test_gpu_tier_claim_smoke_on_cpu():
    """The GPU-tier claim (IPM at paper size) runs and passes at its quick size on the CPU."""
    from lazyrich.verify import load_claims

    c = load_claims()["capacity/ipm-backend-paper-size"]
    assert c.tier == "gpu"
    out = c.run(quick=True)
    assert out.passed, out
