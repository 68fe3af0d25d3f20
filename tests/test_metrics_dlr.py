"""D_LR: exact values, bounds, invariances, streaming and bad input (docs: Richness).

All checks are float64. Identities hold to round-off: 1e-10 for comparisons against the n×n
operator formula (an eigendecomposition/QR of an n×n matrix loses ~n·eps), 1e-12 elsewhere.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.metrics import (
    DLRStats,
    IsotropyWarning,
    accumulate_stats,
    dlr,
    dlr_from_stats,
    dlr_report,
    dlr_splits,
    dlr_stability,
    output_isotropy,
    stats_from_apply,
)

VARIANTS = ("cka", "projection", "literal")


def operator_dlr(phi, F, variant):
    """Independent reference: CKA of the n×n double-centred operators (the definition)."""
    n = phi.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K = H @ phi @ phi.T @ H
    if variant == "cka":
        P = H @ F @ F.T @ H
    elif variant == "projection":
        U, s, _ = np.linalg.svd(H @ F, full_matrices=False)
        U = U[:, s > 1e-8 * s[0]]
        P = U @ U.T
    else:
        U0, s, _ = np.linalg.svd(F, full_matrices=False)
        U0 = U0[:, s > 1e-8 * s[0]]
        P = H @ U0 @ U0.T @ H
    return 1 - np.sum(K * P) / (np.linalg.norm(K) * np.linalg.norm(P))


def etf_features(rng, C, p, n_per, scale=2.5, shift=3.0):
    """Exactly collapsed features: class means a simplex ETF, rotated into R^p, no noise."""
    E = np.eye(C) - 1.0 / C  # simplex ETF rows (rank C-1)
    R, _ = np.linalg.qr(rng.standard_normal((p, C)))
    means = scale * E @ R.T + shift * rng.standard_normal(p)[None, :]
    y = np.repeat(np.arange(C), n_per)
    return means[y], y


def whiten(rng, n, p):
    """Centred features with Phi^T Phi = n I exactly (isotropic random features)."""
    Z = rng.standard_normal((n, p))
    Z -= Z.mean(0)
    Q, _ = np.linalg.qr(Z)
    return np.sqrt(n) * Q


# ---------------------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,p,C,rank_def", [(30, 8, 3, False), (12, 40, 5, False),
                                            (25, 3, 9, False), (40, 10, 6, True)])
def test_bounds_random_draws(rng, n, p, C, rank_def):
    # Cauchy–Schwarz: every variant lies in [0, 1]. 250 draws per shape (1000 in all, including
    # n < p, C > p and rank-deficient features), vmapped through the traceable core, which does
    # not clip: 1e-12 is round-off.
    draws = 250
    phi = rng.standard_normal((draws, n, p)) * rng.exponential(size=(draws, 1, p))
    if rank_def:
        phi = phi[:, :, :2] @ rng.standard_normal((draws, 2, p))
    F = rng.standard_normal((draws, n, C)) + rng.standard_normal((draws, 1, C))
    @jax.jit  # one compilation per shape for all three variants
    def all_variants(phi, F):
        s = DLRStats.from_batch(phi, F)
        return [dlr_from_stats(s, v) for v in VARIANTS]

    out = jax.vmap(all_variants)(jnp.asarray(phi), jnp.asarray(F))
    for v, (d, _, iota) in zip(VARIANTS, out, strict=True):
        d, iota = np.asarray(d), np.asarray(iota)
        assert np.all((d >= -1e-12) & (d <= 1 + 1e-12)), (v, d.min(), d.max())
        assert np.all((iota > 0) & (iota <= 1 + 1e-12))


# ---------------------------------------------------------------------------------------------
# Operator formula, streaming
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_operator_definition(rng, variant):
    phi = rng.standard_normal((60, 9)) @ rng.standard_normal((9, 9)) + 4.0
    F = phi @ rng.standard_normal((9, 4)) + 0.3 * rng.standard_normal((60, 4)) + 1.5
    d = dlr_report(phi, F, variant, rank=4 if variant == "projection" else None).value
    assert abs(d - operator_dlr(phi, F, variant)) < 1e-10


@pytest.mark.parametrize("batch", [3, 64])
def test_streamed_equals_full(rng, batch):
    # Chan's pairwise merge is exact algebra: differences are round-off only.
    phi = rng.standard_normal((150, 12)) + 50.0  # large mean: naive sums would cancel
    F = phi @ rng.standard_normal((12, 5)) + rng.standard_normal((150, 5))
    for v in VARIANTS:
        full = dlr_report(phi, F, v).value
        streamed = dlr_report(phi, F, v, batch_size=batch).value
        assert abs(full - streamed) < 1e-12, v


def test_stats_from_apply_with_padding(rng):
    W1 = jnp.asarray(rng.standard_normal((6, 16)))
    W2 = jnp.asarray(rng.standard_normal((16, 3)))

    def apply(params, x):
        a, b = params
        phi = jnp.tanh(x @ a)
        return phi, phi @ b

    x = jnp.asarray(rng.standard_normal((103, 6)))  # 103 = 4·25 + 3: last batch padded
    s = stats_from_apply(apply, (W1, W2), x, batch_size=25)
    phi, f = apply((W1, W2), x)
    ref = accumulate_stats([(phi, f)])
    assert float(s.n) == 103.0
    np.testing.assert_allclose(np.asarray(s.c_pp), np.asarray(ref.c_pp), rtol=0, atol=1e-11)
    assert abs(dlr_report(stats=s).value - dlr_report(phi, f).value) < 1e-12
    reps = dlr_splits(apply, (W1, W2), {"train": x[:60], "test": x[60:]}, batch_size=16)
    assert reps["test"].split == "test" and reps["train"].n == 60


def test_float32_batches_accumulate_in_float64(rng):
    # The f32 values are represented exactly in f64, so streaming them must equal the f64
    # computation on the same numbers to f64 round-off, not f32 round-off (~1e-7).
    phi = rng.standard_normal((500, 20)).astype(np.float32) + np.float32(10)
    F = (phi @ rng.standard_normal((20, 4)).astype(np.float32))
    s = accumulate_stats((phi[i:i + 50], F[i:i + 50]) for i in range(0, 500, 50))
    assert s.c_pp.dtype == jnp.float64
    ref = dlr_report(phi.astype(np.float64), F.astype(np.float64), "cka").value
    assert abs(dlr_report(stats=s).value - ref) < 1e-12


def test_core_is_jittable_and_vmappable(rng):
    phis = rng.standard_normal((3, 40, 6))
    Fs = rng.standard_normal((3, 40, 2))
    stats = jax.vmap(DLRStats.from_batch)(jnp.asarray(phis), jnp.asarray(Fs))
    d, r, _ = jax.jit(jax.vmap(lambda s: dlr_from_stats(s, "projection")))(stats)
    for i in range(3):
        assert abs(float(d[i]) - dlr_report(phis[i], Fs[i], "projection").value) < 1e-12
        assert int(r[i]) == 2


# ---------------------------------------------------------------------------------------------
# Exact neural collapse
# ---------------------------------------------------------------------------------------------

def test_exact_collapse_zero(rng):
    C, p = 6, 20
    phi, y = etf_features(rng, C, p, n_per=7)
    # Any readout of rank C-1 on the ETF subspace plus a bias: E2 = 0 (and E3 with the bias).
    W = rng.standard_normal((p, C))
    F = phi @ W + rng.standard_normal(C)[None, :]
    assert dlr_report(phi, F, "projection").value < 1e-12
    # Self-dual readout (W ∝ class means) and one-hot outputs: isotropic, so E1 = 0 as well.
    means = np.stack([phi[y == c][0] for c in range(C)])
    F_sd = phi @ (means - means.mean(0)).T
    assert dlr(phi, F_sd, "cka") < 1e-12
    assert dlr(phi, np.eye(C)[y], "cka") < 1e-12
    # A random readout is anisotropic on the class subspace: E1 > 0 (E1's documented weakness).
    rep = dlr_report(phi, F, "cka")
    assert rep.value > 0.02 and not rep.isotropic
    with pytest.warns(IsotropyWarning, match="anisotropic"):
        dlr(phi, F, "cka")


# ---------------------------------------------------------------------------------------------
# Isotropic random features give 1 - sqrt(r/p), not 1
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("r", [1, 4, 10])
def test_isotropic_value_exact(rng, r):
    n, p, C = 300, 40, 10
    phi = whiten(rng, n, p)
    # outputs of rank r inside the feature span, isotropic (orthonormal readout rows) for E1
    Wo, _ = np.linalg.qr(rng.standard_normal((p, r)))
    F = phi @ Wo @ rng.standard_normal((r, C)) if r < C else phi @ Wo
    theory = 1 - np.sqrt(r / p)
    assert abs(dlr_report(phi, F, "projection", rank=r).value - theory) < 1e-12
    if r == C:
        assert abs(dlr(phi, F, "cka") - theory) < 1e-12


def test_isotropic_limit_random_gaussian(rng):
    # Gaussian features at n = 20p: E||Phi^T Phi/n||_F^2 = p + p^2/n, so D is biased up by about
    # sqrt(r/p)·p/(2n) ≈ 0.0056; the tolerance 0.01 covers it.
    n, p, C = 4000, 200, 10
    phi = rng.standard_normal((n, p))
    F = phi @ rng.standard_normal((p, C))
    theory = 1 - np.sqrt(C / p)
    for v in ("cka", "projection"):
        assert abs(dlr_report(phi, F, v).value - theory) < 0.01


# ---------------------------------------------------------------------------------------------
# Invariances
# ---------------------------------------------------------------------------------------------

def test_invariances(rng):
    n, p, C = 80, 10, 4
    phi = rng.standard_normal((n, p)) @ rng.standard_normal((p, p))
    F = phi @ rng.standard_normal((p, C)) + rng.standard_normal((n, C))
    R, _ = np.linalg.qr(rng.standard_normal((p, p)))
    Q, _ = np.linalg.qr(rng.standard_normal((C, C)))
    A = rng.standard_normal((C, C))
    b = rng.standard_normal(C)[None, :]
    phi2 = 3.7 * phi @ R + rng.standard_normal(p)[None, :]
    base = {v: dlr_report(phi, F, v).value for v in VARIANTS}
    for v in VARIANTS:  # features: scale, rotation, shift
        assert abs(dlr_report(phi2, F, v).value - base[v]) < 1e-10, v
    # outputs: E2 invariant to any invertible map and offset
    base["projection"] = dlr_report(phi, F, "projection", rank=C).value
    assert abs(dlr_report(phi, F @ A + b, "projection", rank=C).value - base["projection"]) < 1e-10
    # E1 invariant to s·orthogonal and offsets only
    assert abs(dlr_report(phi, 0.2 * F @ Q + b, "cka").value - base["cka"]) < 1e-10
    assert abs(dlr_report(phi, F @ A, "cka").value - base["cka"]) > 1e-3
    # anisotropic feature scaling changes D (CKA is not invariant to invertible linear maps)
    D = np.diag(np.exp(rng.standard_normal(p)))
    assert abs(dlr_report(phi @ D, F, "cka").value - base["cka"]) > 1e-3


def test_literal_not_offset_invariant(rng):
    # Zero-sum (CE-like) logits on collapsed features give E3 > 0; an offset fixes it.
    # Unbalanced classes, features = an isotropic embedding of the centred class space (E2 = 0).
    C = 5
    y = np.repeat(np.arange(C), [3, 5, 7, 9, 11])
    Y = np.eye(C)[y]
    Uc, s, _ = np.linalg.svd(Y - Y.mean(0), full_matrices=False)
    R, _ = np.linalg.qr(rng.standard_normal((12, C - 1)))
    phi = Uc[:, :C - 1] @ R.T + 2.0
    F = Y - 1.0 / C  # logits summing exactly to zero
    assert dlr_report(phi, F, "projection").value < 1e-12
    # Exact value: (HU0)^T(HU0) = I - a a^T with |a|^2 = |P_F 1|^2/n, eigenvalues 1 (C-2 times)
    # and t = 1 - |a|^2, and its range is the feature span, so E3 = 1 - tr/(sqrt(C-1)·|.|_F).
    U0, _ = np.linalg.qr(F[:, :C - 1])  # col(F) has rank C-1 (rows sum to zero)
    one = np.ones(len(y))
    t = 1 - np.sum((U0.T @ one) ** 2) / len(y)
    want = 1 - (C - 2 + t) / (np.sqrt(C - 1) * np.sqrt(C - 2 + t * t))
    e3 = dlr_report(phi, F, "literal").value
    assert want > 1e-3 and abs(e3 - want) < 1e-12
    assert dlr_report(phi, F + 1.0, "literal").value < 1e-12


# ---------------------------------------------------------------------------------------------
# The E2 rank discontinuity
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [1e-3, 1e-2, 1e-1])
def test_projection_rank_jump(rng, eps):
    # Collapsed features and MSE-like outputs Y + eps·z·1^T with z ⊥ class indicators: the
    # centred outputs have one tiny direction (the near-constraint sum_c f_c ≈ 1). Whitening it
    # costs exactly 1 - sqrt((C-1)/C); dropping it gives exactly 0.
    C = 10
    phi, y = etf_features(rng, C, 30, n_per=5)
    Y = np.eye(C)[y]
    z = rng.standard_normal(len(y))
    z -= Y @ (Y.T @ z / Y.sum(0))  # remove class means: z ⊥ every class indicator
    F = Y + eps * z[:, None] * np.ones(C)[None, :]
    d_full = dlr_report(phi, F, "projection", rank=C).value
    d_drop = dlr_report(phi, F, "projection", rank=C - 1).value
    assert abs(d_full - (1 - np.sqrt((C - 1) / C))) < 1e-10
    assert d_drop < 1e-10
    rep = dlr_report(phi, F, "projection")  # default rule: sigma_C/sigma_1 < 0.05 → drop
    expected_rank = C - 1 if eps * np.linalg.norm(z) * np.sqrt(C) < 0.05 * np.sqrt(5) else C
    assert rep.rank == expected_rank


def test_output_isotropy_values(rng):
    y = np.repeat(np.arange(4), 5)
    assert abs(output_isotropy(np.eye(4)[y]) - 1.0) < 1e-12
    F = np.eye(4)[y] @ np.diag([1.0, 2.0, 3.0, 4.0])  # centred rank 3, anisotropic
    lam = np.linalg.eigvalsh((F - F.mean(0)).T @ (F - F.mean(0)))
    for r in (2, 3):
        want = lam[-r:].sum() / (np.sqrt(r) * np.linalg.norm(lam))
        assert abs(output_isotropy(F, rank=r) - want) < 1e-12


def test_stability_rule(rng):
    phi = rng.standard_normal((2000, 10))
    F = phi @ rng.standard_normal((10, 3))
    out = dlr_stability(phi, F)
    assert out["n"] == [500, 1000, 2000] and out["stable"]


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

def test_bad_input(rng):
    phi = rng.standard_normal((20, 5))
    F = rng.standard_normal((20, 3))
    with pytest.raises(ValueError, match="same number of samples"):
        dlr(phi, F[:19])
    with pytest.raises(ValueError, match="fewer samples"):
        dlr(phi[:4], rng.standard_normal((4, 6)))
    with pytest.raises(ValueError, match="features are constant"):
        dlr(np.ones((20, 5)) * 3.0, F)
    with pytest.raises(ValueError, match="outputs are constant"):
        dlr(phi, np.ones((20, 3)))
    bad = phi.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        dlr(bad, F)
    with pytest.raises(ValueError, match=r"rank must be in \[1, 3\]"):
        dlr(phi, F, "projection", rank=4)
    with pytest.raises(ValueError, match=r"rank must be in \[1, 2\]"):
        dlr(phi, F[:, :2] @ rng.standard_normal((2, 3)), "projection", rank=3)
    with pytest.raises(ValueError, match="rank must be in"):
        dlr(phi, F, "projection", rank=0)
    with pytest.raises(ValueError, match="only used by variant='projection'"):
        dlr(phi, F, "cka", rank=2)
    with pytest.raises(TypeError, match="rank must be an int"):
        dlr(phi, F, "projection", rank=2.0)
    with pytest.raises(ValueError, match="variant must be one of"):
        dlr(phi, F, "kernel")
    with pytest.raises(ValueError, match="2-D"):
        dlr(phi, F[:, 0])
