"""Capacity and geometry recorded through the sweep engine, with the other feature-learning
metrics (docs: Manifold capacity, "Capacity through training")."""

import jax
import numpy as np
import pytest

from lazyrich import geometry, metrics, sims
from lazyrich.geometry._capacity_sweep import resolve_model

CFG = sims.SweepConfig(task="gaussian-mixture", task_options={"classes": 4, "test_size": 80},
                       width=32, num_steps=40, batch_size=16, log_every=20, dtype="float64")


@pytest.fixture(scope="module")
def swept():
    model, task = resolve_model(CFG)
    data = task.build(CFG.data_seed, np.float64)
    xp, yp = geometry.balanced_probe(jax.random.key(0), data["test_x"], data["test_y"], 10)
    # gamma = 0.1 at this eta diverges (a NaN-masked cell); gamma = 3 trains
    ds = sims.sweep(CFG, gamma=[0.1, 3.0], eta=[0.5], seeds=[0, 1],
                    metrics=geometry.probe_hooks(CFG, xp), devices=1)
    return model, xp, yp, ds


def test_hook_records_the_features_of_a_single_run(swept):
    """The features stored at step t equal the features of sims.train stopped at step t (same
    data stream and init, so the same trajectory): only vmap-vs-single round-off differs."""
    model, xp, yp, ds = swept
    feat = geometry.mlp_features(model)
    assert not bool(ds["diverged"].sel(gamma=3.0).any())
    for t in (20, 40):
        r = sims.train(CFG.replace(num_steps=t), gamma=3.0, eta=0.5, seed=1)
        got = ds["features"].sel(gamma=3.0, eta=0.5, seed=1, step=t).values
        want = np.asarray(feat(r.params, xp))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        out = ds["outputs"].sel(gamma=3.0, eta=0.5, seed=1, step=t).values
        np.testing.assert_allclose(out, np.asarray(model.apply(r.params, xp)), rtol=1e-10,
                                   atol=1e-13)
    np.testing.assert_allclose(ds["features"].sel(gamma=3.0, seed=1, step=0).values.squeeze(),
                               np.asarray(feat(r.params0, xp)), rtol=1e-12)
    # the features are the readout's input: readout(features) == apply, to round-off
    w = np.asarray(r.params["w"][-1])
    np.testing.assert_allclose(np.asarray(feat(r.params, xp)) @ w / w.shape[0],
                               np.asarray(model.apply(r.params, xp)), rtol=1e-12, atol=1e-14)
    wc = ds["weight_change"].sel(gamma=3.0, eta=0.5, seed=1, step=40).item()
    num = sum(np.sum((np.asarray(a) - np.asarray(b)) ** 2)
              for a, b in zip(jax.tree.leaves(r.params), jax.tree.leaves(r.params0),
                              strict=True))
    den = sum(np.sum(np.asarray(b) ** 2) for b in jax.tree.leaves(r.params0))
    assert abs(wc / np.sqrt(num / den) - 1) < 1e-10


def test_geometry_over_sweep_equals_direct_calls(swept):
    """Every entry is exactly what mean_field_capacity / dlr / linear_cka return on the stored
    features (same key, same manifolds): no hidden resampling between cells or steps."""
    _, xp, yp, ds = swept
    key = jax.random.key(3)
    geo = geometry.geometry_over_sweep(key, ds, "features", yp, n_t=40)
    assert geo["capacity"].dims == ("gamma", "eta", "seed", "step")
    for seed, t in ((0, 0), (1, 40)):
        F = ds["features"].sel(gamma=3.0, eta=0.5, seed=seed, step=t).values
        G = ds["outputs"].sel(gamma=3.0, eta=0.5, seed=seed, step=t).values
        F0 = ds["features"].sel(gamma=3.0, eta=0.5, seed=seed, step=0).values
        X = np.stack([F[yp == c] for c in np.unique(yp)])
        r = geometry.mean_field_capacity(key, X, n_t=40)
        g = geo.sel(gamma=3.0, eta=0.5, seed=seed, step=t)
        for f in geometry._capacity_sweep.GEOMETRY_FIELDS:
            assert g[f].item() == getattr(r, f), f
        assert g["dlr"].item() == metrics.dlr(F, G, warn=False)
        assert g["cka_to_init"].item() == metrics.linear_cka(F0, F)
        assert g["kernel_distance"].item() == metrics.feature_kernel_distance(F0, F)
        onehot = np.eye(4)[yp]
        assert g["label_alignment"].item() == metrics.kernel_alignment(F @ F.T, onehot)
    # at step 0 the features are the initial ones
    np.testing.assert_allclose(geo["cka_to_init"].sel(step=0, gamma=3.0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(geo["kernel_distance"].sel(step=0, gamma=3.0), 0.0, atol=1e-12)
    # the sweep's scalars ride along; the diverged cell stays NaN after it diverged
    np.testing.assert_array_equal(geo["accuracy"].values, ds["accuracy"].values)
    lazy = geo.sel(gamma=0.1, eta=0.5, seed=0)
    assert bool(ds["diverged"].sel(gamma=0.1, eta=0.5, seed=0))
    assert np.isnan(lazy["capacity"].values[-1]) and np.isfinite(lazy["capacity"].values[0])


def test_convnet_features_are_the_readout_input():
    """convnet_features(params, x) @ readout / (8N) reproduces ConvNet.apply."""
    m = sims.ConvNet((8, 8, 1), 3, 10, "SAME")
    p = m.init(jax.random.key(0), np.float64)
    x = np.asarray(jax.random.normal(jax.random.key(1), (5, 8, 8, 1), dtype=np.float64))
    phi = np.asarray(geometry.convnet_features(m)(p, x))
    assert phi.shape == (5, 24)
    np.testing.assert_allclose(phi @ np.asarray(p["readout"]) / 24, np.asarray(m.apply(p, x)),
                               rtol=1e-12, atol=1e-14)


def test_bad_input(swept):
    _, xp, yp, ds = swept
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="not a variable"):
        geometry.geometry_over_sweep(key, ds, "feats", yp)
    with pytest.raises(ValueError, match="dims"):
        geometry.geometry_over_sweep(key, ds, "weight_change", yp)
    with pytest.raises(ValueError, match="labels must have shape"):
        geometry.geometry_over_sweep(key, ds, "features", yp[:-1])
    with pytest.raises(ValueError, match="first logged step must be 0"):
        geometry.geometry_over_sweep(key, ds.isel(step=slice(1, None)), "features", yp)
    with pytest.raises(ValueError, match="M must be in"):
        geometry.probe_manifolds(np.zeros((8, 3)), np.repeat([0, 1], 4), M=5)
    with pytest.raises(TypeError, match="feature_fn"):
        geometry.feature_probe(3)
    with pytest.raises(TypeError, match="apply_fn"):
        geometry.output_probe(None)
    with pytest.raises(ValueError, match="probe_x"):
        geometry.feature_probe(lambda p, x: x, np.zeros(3))
    with pytest.raises(TypeError, match="MLP"):
        geometry.mlp_features(sims.ConvNet((8, 8, 1), 2, padding="SAME"))
    with pytest.raises(TypeError, match="ConvNet"):
        geometry.convnet_features(sims.MLP(2, 4, 3))
    with pytest.raises(ValueError, match="fewer than per_class"):
        geometry.balanced_probe(key, xp, yp, 11)
