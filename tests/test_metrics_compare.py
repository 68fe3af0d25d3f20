"""Comparison metrics for richness (docs: Richness): exact identities and bad input."""

import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.metrics import (
    activation_stability,
    dlr,
    dlr_labels,
    feature_kernel_distance,
    kernel_alignment,
    linear_cka,
    param_change,
    param_norm,
    representation_change,
)
from lazyrich.theory import kernel_distance


def test_cka_reference_and_invariances(rng):
    X = rng.standard_normal((40, 6)) + 2.0
    Y = X @ rng.standard_normal((6, 3)) + 0.5 * rng.standard_normal((40, 3))
    H = np.eye(40) - 1 / 40
    Kx, Ky = H @ X @ X.T @ H, H @ Y @ Y.T @ H  # n×n reference (Kornblith et al.)
    ref = np.sum(Kx * Ky) / (np.linalg.norm(Kx) * np.linalg.norm(Ky))
    assert abs(linear_cka(X, Y) - ref) < 1e-12
    assert abs(linear_cka(X, Y) - (1 - dlr(X, Y, warn=False))) < 1e-15
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert abs(linear_cka(3 * X @ Q + 1, Y) - ref) < 1e-12
    assert abs(linear_cka(X, X) - 1) < 1e-14


def test_feature_kernel_distance_equals_kernel_distance(rng):
    a = rng.standard_normal((30, 5))
    b = a @ rng.standard_normal((5, 7)) + 0.1 * rng.standard_normal((30, 7))
    want = float(kernel_distance(jnp.asarray(a @ a.T), jnp.asarray(b @ b.T)))
    assert abs(feature_kernel_distance(a, b) - want) < 1e-12
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert abs(feature_kernel_distance(a, 2.5 * a @ Q)) < 1e-14  # lazy: rotation + scale
    assert abs(feature_kernel_distance(a, b, centered=True) - (1 - linear_cka(a, b))) < 1e-15


def test_kernel_alignment(rng):
    phi = rng.standard_normal((24, 8)) + 1.0
    y = np.repeat(np.arange(4), 6)
    Y = np.eye(4)[y]
    K = phi @ phi.T
    T = Y @ Y.T
    want = np.sum(K * T) / (np.linalg.norm(K) * np.linalg.norm(T))
    assert abs(kernel_alignment(K, Y) - want) < 1e-12
    # centred KTA on the feature kernel = CKA(Phi, Y) = 1 - D_LR(Phi, labels) for balanced classes
    assert abs(kernel_alignment(K, Y, centered=True) - linear_cka(phi, Y)) < 1e-12
    assert abs(kernel_alignment(K, Y, centered=True) - (1 - dlr_labels(phi, y))) < 1e-12
    assert abs(kernel_alignment(T, Y) - 1) < 1e-14


def test_params_and_representations(rng):
    p0 = [{"w": jnp.asarray(rng.standard_normal((3, 4)))},
          {"w": jnp.asarray(rng.standard_normal((4, 2)))}]
    p1 = [{"w": p0[0]["w"] * 2}, {"w": p0[1]["w"]}]
    n00 = float(np.sum(np.asarray(p0[0]["w"]) ** 2))
    assert abs(param_norm(p1) - (4 * n00 + float(np.sum(np.asarray(p0[1]["w"]) ** 2)))) < 1e-12
    assert abs(param_change(p1, p0) - np.sqrt(n00 / param_norm(p0))) < 1e-14
    layers = param_change(p1, p0, per_layer=True)
    assert abs(layers[0] - 1.0) < 1e-14 and layers[1] == 0.0
    assert abs(param_change(p1, p0, relative=False) - np.sqrt(n00)) < 1e-12
    a = rng.standard_normal((10, 4))
    assert abs(representation_change(a, 1.5 * a) - 0.5) < 1e-14
    assert activation_stability(a, 2 * a) == 1.0
    assert activation_stability(a, -a) == 0.0


def test_bad_input(rng):
    a = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="same number of samples"):
        linear_cka(a, a[:9])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(np.ones((10, 3)), a)
    with pytest.raises(ValueError, match="non-finite"):
        feature_kernel_distance(a, np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="square"):
        kernel_alignment(a, a[:, 0])
    with pytest.raises(ValueError, match="targets must have shape"):
        kernel_alignment(a @ a.T, np.ones(9))
    with pytest.raises(ValueError, match="same pytree structure"):
        param_change([a], [a, a])
    with pytest.raises(ValueError, match="same shape"):
        representation_change(a, a[:, :2])
