"""Eigen-curves Π*(k), Π̂(k), ρ_k/ρ_1 and the three-panel figure.

Nam et al. 2026; docs: Richness.
"""

import matplotlib
import numpy as np
import pytest

from lazyrich.analysis import plot_eigencurves
from lazyrich.metrics import eigencurves

matplotlib.use("Agg")


def test_identities(rng):
    n, p, C = 200, 12, 4
    phi = rng.standard_normal((n, p)) @ rng.standard_normal((p, p))
    W = rng.standard_normal((C, p))
    F = phi @ W.T
    y = rng.integers(0, C, n)
    c = eigencurves(phi, F, y)
    assert np.all(np.diff(c.pi_hat) >= -1e-15) and np.all(np.diff(c.pi_star) >= -1e-15)
    assert abs(c.pi_hat[-1] - 1) < 1e-10  # F lies in the feature span: full utilisation
    # weight-space formula: Π̂(k) = Σ_{i≤k} ρ_i ||W v_i||² / Σ_i ρ_i ||W v_i||² (uncentred)
    rho, V = np.linalg.eigh(phi.T @ phi / n)
    rho, V = rho[::-1], V[:, ::-1]
    w = rho * np.sum((W @ V) ** 2, axis=0)
    np.testing.assert_allclose(c.pi_hat, np.cumsum(w) / w.sum(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(c.rho, rho, rtol=1e-12)
    np.testing.assert_allclose(np.cumsum(c.q_star), c.pi_star, rtol=0, atol=1e-14)
    # centred, with a bias: the same identity with centred features
    c2 = eigencurves(phi, F + 3.0, center=True)
    assert abs(c2.pi_hat[-1] - 1) < 1e-10


def test_exact_collapse_modes(rng):
    # Exact NC, centred: Π̂(C-1) = Π*(C-1) = 1 and ρ_C/ρ_1 = 0 (rank C-1)
    C, p = 5, 16
    R, _ = np.linalg.qr(rng.standard_normal((p, C)))
    y = np.repeat(np.arange(C), 8)
    phi = (2 * (np.eye(C) - 1 / C) @ R.T)[y] + 1.0
    c = eigencurves(phi, np.eye(C)[y], y, center=True)
    assert len(c.k) == C - 1  # numerical rank of the centred features
    assert abs(c.pi_hat[C - 2] - 1) < 1e-12 and abs(c.pi_star[C - 2] - 1) < 1e-12
    # uncentred: the constant direction is a mode too, C modes in all
    cu = eigencurves(phi, np.eye(C)[y], y)
    assert len(cu.k) == C and abs(cu.pi_hat[-1] - 1) < 1e-12


def test_out_of_sample_and_plot(rng):
    phi = rng.standard_normal((300, 6))
    F = phi @ rng.standard_normal((6, 2))
    c_in = eigencurves(phi[:200], F[:200])
    same = eigencurves(phi[:200], F[:200], fit_features=phi[:200])
    np.testing.assert_allclose(same.pi_hat, c_in.pi_hat, rtol=0, atol=1e-15)
    # Nyström extension to new points: e_k(x) = x^T v_k / sqrt(rho_k); the held-out curve is the
    # projection formula evaluated with those (not orthonormal off-sample, so it may exceed 1)
    c_out = eigencurves(phi[200:], F[200:], fit_features=phi[:200])
    rho, V = np.linalg.eigh(phi[:200].T @ phi[:200] / 200)
    E = phi[200:] @ V[:, ::-1] / np.sqrt(rho[::-1])
    q = np.sum((E.T @ F[200:] / 100) ** 2, axis=1) / (np.sum(F[200:] ** 2) / 100)
    np.testing.assert_allclose(c_out.pi_hat, np.cumsum(q), rtol=1e-12)
    np.testing.assert_allclose(c_out.rho, c_in.rho)
    axes = plot_eigencurves([c_in, c_out], ["in", "out"], k_max=4)
    ys = axes[1].get_lines()[0].get_ydata()
    np.testing.assert_allclose(ys, c_in.pi_hat[:4])
    assert axes[2].get_yscale() == "log"


def test_bad_input(rng):
    phi = rng.standard_normal((20, 4))
    with pytest.raises(ValueError, match="20 samples"):
        eigencurves(phi, phi[:10])
    with pytest.raises(ValueError, match=r"k_max must be in \[1, 4\]"):
        eigencurves(phi, phi, k_max=5)
    with pytest.raises(ValueError, match="p = 4 columns"):
        eigencurves(phi, phi, fit_features=phi[:, :3])
    with pytest.raises(ValueError, match="constant"):
        eigencurves(np.zeros((20, 4)), phi)
    with pytest.raises(ValueError, match="2 labels for 1 models"):
        plot_eigencurves(eigencurves(phi, phi), ["a", "b"])
