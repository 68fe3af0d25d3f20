"""Neural collapse (NC1 stable, NC2) and the exact bridge to D_LR.

Papyan et al. 2020 (neural collapse), Nam et al. 2026 (D_LR); docs: Richness.
"""

import numpy as np
import pytest

from lazyrich.metrics import class_scatter, dlr, dlr_labels, dlr_report, etf_error, nc1, nc_factors


def mixture(rng, counts, p=15, noise=0.7):
    C = len(counts)
    y = np.repeat(np.arange(C), counts)
    means = 3.0 * rng.standard_normal((C, p))
    return means[y] + noise * rng.standard_normal((len(y), p)) + 5.0, y


def zero_class_mean(z, y):
    """Within-class noise: subtract each class's own mean so the class means are unchanged."""
    for c in np.unique(y):
        z[y == c] -= z[y == c].mean(0)
    return z


def test_scatter_decomposition(rng):
    phi, y = mixture(rng, [10, 20, 30, 15])
    s = class_scatter(phi, y)
    cov = np.cov(phi.T, bias=True)
    np.testing.assert_allclose(s.sigma_t, cov, rtol=0, atol=1e-12 * np.abs(cov).max())
    assert np.linalg.matrix_rank(s.sigma_b) == 3


def test_nc1_reference_and_zero(rng):
    phi, y = mixture(rng, [12, 12, 12, 12, 12])
    s = class_scatter(phi, y)
    # reference: explicit pseudo-inverse on the exact rank C-1 (no round-off directions)
    ref = np.trace(s.sigma_w @ np.linalg.pinv(s.sigma_b, rcond=1e-10, hermitian=True)) / 5
    assert abs(nc1(phi, y) - ref) < 1e-10 * ref
    # weak NC1: within-class scatter orthogonal to the class-mean subspace gives exactly 0
    C, p = 4, 12
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    y = np.repeat(np.arange(C), 9)
    phi = (2 * rng.standard_normal((C, C - 1)) @ Q[:, :C - 1].T)[y]
    phi += zero_class_mean(rng.standard_normal((len(y), p - C + 1)), y) @ Q[:, C - 1:].T  # ⊥ means
    assert nc1(phi, y) < 1e-12
    assert dlr_labels(phi, y) > 0.05  # D_LR is stricter: it also sees the orthogonal noise


def test_nc1_stable_in_float32_inputs(rng):
    # Collapsed float32 features: the f32 rounding noise must not be amplified by a pinv of the
    # round-off directions of Sigma_B (the failure mode of a default pinv: values of order 1e6).
    phi, y = mixture(rng, [50] * 10, p=64, noise=1e-3)
    v = nc1(phi.astype(np.float32), y)
    assert v < 1e-4


@pytest.mark.parametrize("counts", [[20, 20, 20, 20], [7, 19, 33, 11, 25]])
def test_closed_form_with_labels(rng, counts):
    """D(Phi, one-hot) = 1 - tr Σ_B/(sqrt(C-1)||Σ_T||_F), balanced or not (E2; docs: Richness)."""
    phi, y = mixture(rng, counts)
    Y = np.eye(len(counts))[y]
    closed = dlr_labels(phi, y)
    assert abs(dlr_report(phi, Y, "projection").value - closed) < 1e-12
    if len(set(counts)) == 1:  # balanced: the centred one-hot Gram is isotropic, E1 = E2
        assert abs(dlr(phi, Y, "cka") - closed) < 1e-12


def test_factorisation_under_weak_nc1(rng):
    C, p = 5, 14
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    y = np.repeat(np.arange(C), [6, 8, 10, 12, 14])
    phi = (rng.standard_normal((C, C - 1)) @ Q[:, :C - 1].T)[y]
    phi += 0.4 * zero_class_mean(rng.standard_normal((len(y), p - C + 1)), y) @ Q[:, C - 1:].T
    fac = nc_factors(phi, y)
    assert abs(fac["cross"]) < 1e-12
    assert abs((1 - dlr_labels(phi, y)) - fac["etf"] * fac["within"]) < 1e-12


def test_exact_etf(rng):
    C, p = 7, 20
    R, _ = np.linalg.qr(rng.standard_normal((p, C)))
    y = np.repeat(np.arange(C), 4)
    phi = (3.0 * (np.eye(C) - 1 / C) @ R.T)[y] + 1.0
    assert etf_error(phi, y) < 1e-12
    assert dlr_labels(phi, y) < 1e-12
    fac = nc_factors(phi, y)
    assert abs(fac["etf"] - 1) < 1e-12 and abs(fac["within"] - 1) < 1e-12


def test_bad_input(rng):
    phi, y = mixture(rng, [5, 5, 5])
    with pytest.raises(ValueError, match="same number of samples"):
        nc1(phi, y[:-1])
    with pytest.raises(TypeError, match="labels must be integers"):
        nc1(phi, y.astype(float))
    with pytest.raises(ValueError, match="fewer samples"):
        nc1(phi[:3], y[:3], num_classes=10)
    with pytest.raises(ValueError, match="have no samples"):
        nc1(phi, y, num_classes=4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        nc1(phi, np.zeros(15, int))
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        nc1(phi, y + 1, num_classes=3)
    bad = phi.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        nc1(bad, y)
    with pytest.raises(ValueError, match="class means coincide"):
        nc1(np.ones((15, 4)), y)
    with pytest.raises(ValueError, match="constant"):
        dlr_labels(np.ones((15, 4)), y)
