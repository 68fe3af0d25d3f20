"""The machinery of the capacity claims (docs: Manifold capacity) on cases with known answers:
the explicit N-dimensional recomputation of ``capacity/C3-C9-identities``, the independent ball
quadrature of ``capacity/C5-spheres-to-ball`` and the known-geometry checks of the synthetic
manifolds. The claims' verdicts themselves are ``lazyrich verify capacity/ --quick``; the
planted bugs they must catch are ``python -m tools.mutants capacity/``."""

import math

import jax
import numpy as np
import pytest

from lazyrich.claims.capacity import (
    ball_capacity_reference,
    cloud_geometry,
    explicit_geometry,
    sphere_geometry,
)
from lazyrich.geometry import gaussian_clouds, mean_field_capacity, sphere_manifolds


def _two_points_case():
    """P = 2 point manifolds x_1 = e_1, x_2 = e_2 in R^2, labels (+1, -1): the cone of the
    signed points is the quadrant {v_1 >= 0, v_2 <= 0}, so the anchor problem is solved by hand."""
    X = np.eye(2)[:, None, :]  # (P=2, M=1, N=2)
    T = np.array([[1.0, -2.0], [-0.5, 3.0], [2.0, 1.5], [-1.0, -0.7], [0.3, 0.4]])
    labels = np.tile([1.0, -1.0], (len(T), 1))
    return X, labels, T


def test_explicit_geometry_two_points_by_hand():
    X, labels, T = _two_points_case()
    u = T[:, :, None]  # u = <x, t> = t for x = e_1, e_2
    ref = explicit_geometry(X, labels, u, "all")
    # projection onto the quadrant: clip each coordinate
    act = np.stack([T[:, 0] > 0, T[:, 1] < 0], axis=1)
    want_a = np.maximum(T[:, 0], 0) ** 2 + np.minimum(T[:, 1], 0) ** 2
    np.testing.assert_allclose(ref["cone"], want_a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref["fields"], T, atol=1e-12)
    # anchors are the (unsigned) points where active; centers ("all") = active fraction * x_mu
    np.testing.assert_allclose(ref["anchors"], act[:, :, None] * np.eye(2)[None], atol=1e-12)
    f = act.mean(axis=0)
    np.testing.assert_allclose(ref["centers"], f[:, None] * np.eye(2), atol=1e-12)
    # axes s1 = (1 - f) x or -f x span R^2 (both f strictly between 0 and 1): b = |t|^2; the rows
    # (s0, s1) = (f x, g x) are orthogonal, so c = sum_mu g^2 t_mu^2 / (f^2 + g^2)
    assert np.all((f > 0) & (f < 1))
    np.testing.assert_allclose(ref["b"], np.sum(T**2, axis=1), rtol=1e-12)
    g = np.where(act, 1 - f, -f)
    np.testing.assert_allclose(ref["c"], np.sum(g**2 * T**2 / (f**2 + g**2), axis=1),
                               rtol=1e-12)
    # anchors of a point manifold are the point itself, so a_anchor = |projection of t onto the
    # span of the active points|^2 = the cone value here
    np.testing.assert_allclose(ref["a_anchor"], want_a, rtol=1e-12, atol=1e-14)


def test_explicit_geometry_active_policy_points_have_no_axes():
    X, labels, T = _two_points_case()
    ref = explicit_geometry(X, labels, T[:, :, None], "active")
    # "active": the center of a point manifold is the point, so every active axis is 0
    np.testing.assert_allclose(ref["centers"], np.eye(2), atol=1e-12)
    assert np.max(np.abs(ref["b"])) < 1e-20 and np.max(np.abs(ref["c"])) < 1e-20
    assert ref["dimension"] == 0 and ref["radius"] == float("inf")


@pytest.fixture(scope="module")
def small_clouds():
    X = np.asarray(gaussian_clouds(jax.random.key(3), 4, 6, 20, 2, 1.0))
    return X, {p: mean_field_capacity(jax.random.key(4), X, n_t=20, center_policy=p)
               for p in ("all", "active")}


@pytest.mark.parametrize("policy", ["all", "active"])
def test_explicit_geometry_matches_estimator_and_tells_policies_apart(small_clouds, policy):
    X, res = small_clouds
    r = res[policy]
    ref = explicit_geometry(X, r.samples["labels"], r.samples["u"], policy)
    for k in ("b", "c", "a_anchor"):
        np.testing.assert_allclose(r.samples[k], ref[k], rtol=1e-8)
    np.testing.assert_allclose(r.samples["a"], ref["cone"], rtol=1e-8)
    assert abs(r.dimension / ref["dimension"] - 1) < 1e-8
    assert abs(r.radius / ref["radius"] - 1) < 1e-8
    # the other policy's reference is far off: the comparison can tell the policies apart
    other = explicit_geometry(X, r.samples["labels"], r.samples["u"],
                              "active" if policy == "all" else "all")
    assert np.max(np.abs(r.samples["b"] / other["b"] - 1)) > 1e-2


def test_ball_reference_known_values_and_limits():
    # Chung, Lee & Sompolinsky 2018: alpha_B(1, 5) = 1/3 (printed 0.3333), alpha_B(2, 5) = 0.2344
    assert abs(ball_capacity_reference(1.0, 5) - 1 / 3) < 1e-9
    assert abs(ball_capacity_reference(2.0, 5) - 0.2344) < 5e-5
    # R -> 0: alpha^-1 = 1/2 + 2 phi(0) E[chi_D] R + O(R^2), so (2 - alpha)/R -> 8 phi(0) E[chi_D]
    R, D = 1e-4, 5
    e_chi = math.sqrt(2) * math.gamma((D + 1) / 2) / math.gamma(D / 2)
    slope = 8 / math.sqrt(2 * math.pi) * e_chi
    assert abs((2 - ball_capacity_reference(R, D)) / R / slope - 1) < 1e-2  # O(R) = 7e-4
    # R -> inf: 1/(D + 1/2) with an O(1/R) correction (0.057/R measured at R = 100 and 1000)
    assert abs(ball_capacity_reference(1e3, D) - 1 / (D + 0.5)) < 1.2e-4


def test_cloud_geometry_on_hand_built_clouds():
    # centre (0, 0, 2), axes e_1, e_2: points c +- 3 e_j, so |u0| = 2 and |x - u0|^2 = 9 exactly
    c = np.array([0.0, 0.0, 2.0])
    pts = np.array([c + s * 3.0 * e for e in np.eye(3)[:2] for s in (1, -1)])
    X = np.stack([pts, pts[:, [1, 0, 2]] * [1, 1, 0.5]])  # second: centre norm 1, same axes
    norms, d2, ranks = cloud_geometry(X)
    np.testing.assert_allclose(norms, [2.0] * 4 + [1.0] * 4, atol=1e-12)
    assert abs(d2 - 9.0) < 1e-12 and np.all(ranks == 2)


def test_cloud_geometry_measures_generator_radius():
    X = gaussian_clouds(jax.random.key(5), 6, 200, 40, 3, 1.5)
    norms, d2, ranks = cloud_geometry(X)
    # unit centres exactly; mean of 1200 chi^2_3/3 draws has s.e. sqrt(2/3/1200) = 0.024
    assert np.max(np.abs(norms - 1)) < 1e-10 and np.all(ranks == 3)
    assert abs(d2 / 1.5**2 - 1) < 0.12


def test_sphere_geometry_exact_and_detects_wrong_radius():
    X = np.asarray(sphere_manifolds(jax.random.key(0), 4, 30, 50, 3, 2.0))
    err, ranks = sphere_geometry(X, 2.0)
    assert err < 1e-12 and np.all(ranks == 3)
    err_wrong, _ = sphere_geometry(X, 2.5)  # |x|^2 = 5 against 1 + 6.25
    assert abs(err_wrong - 2.25) < 1e-12
