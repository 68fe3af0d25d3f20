"""The private demo trainer (lazyrich/metrics/_demo_training.py): exact identities.

Conventions of gamma-scaling.md §1.2–1.3 and the exact γ ↔ initialisation-scale symmetry §1.6.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.metrics._demo_training import (
    TrainConfig,
    checkpoint,
    mlp_apply,
    mlp_init,
    model_fn,
    train,
)


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((20, 5)))
    y = jnp.asarray(rng.standard_normal((20, 3)))
    p0 = mlp_init(jax.random.key(0), (5, 16, 16, 3))
    return x, y, p0


def test_centred_output_and_manual_step(setup):
    x, y, p0 = setup
    cfg = TrainConfig(eta=0.05, gamma=0.7, steps=1, log_every=1)
    apply = model_fn(cfg, p0)
    assert float(jnp.max(jnp.abs(apply(p0, x)[1]))) == 0.0  # f(θ₀) ≡ 0 for every γ
    plog, loss = train(jax.random.key(1), cfg, p0, x, y)
    g = jax.grad(lambda p: jnp.mean((apply(p, x)[1] - y) ** 2))(p0)
    want = jax.tree.map(lambda a, b: a - 16 * 0.05 * b, p0, g)  # μP step N·η
    for a, b in zip(jax.tree.leaves(checkpoint(plog, 1)), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-13)
    assert abs(float(loss[0]) - float(jnp.mean(y**2))) < 1e-14


def test_gamma_init_scale_symmetry(setup):
    """§1.6: SGD on (γ, η, θ₀) ≡ SGD on (1, η γ^(-2/L), γ^(-1/L) θ₀) for a bias-free ReLU MLP
    (degree L = 3 homogeneous), through the whole trajectory; float64 round-off only."""
    x, y, p0 = setup
    gamma, eta, L = 4.0, 0.5, 3
    a = TrainConfig(eta=eta, gamma=gamma, steps=40, log_every=10)
    b = TrainConfig(eta=eta * gamma ** (-2 / L), gamma=1.0, steps=40, log_every=10)
    q0 = jax.tree.map(lambda w: w * gamma ** (-1 / L), p0)
    la, lb = train(jax.random.key(1), a, p0, x, y)[1], train(jax.random.key(1), b, q0, x, y)[1]
    np.testing.assert_allclose(np.asarray(la), np.asarray(lb), rtol=1e-12)
    assert float(la[-1]) < 0.9 * float(la[0])  # it did train


def test_readout_only_and_vmap(setup):
    x, y, p0 = setup
    cfg = TrainConfig(eta=0.1, gamma=1.0, steps=20, log_every=20, readout_only=True)
    plog, _ = train(jax.random.key(1), cfg, p0, x, y)
    for i in range(2):
        last = checkpoint(plog, -1)[i]["w"]
        np.testing.assert_array_equal(np.asarray(last), np.asarray(p0[i]["w"]))
    gs = jnp.asarray([0.5, 2.0])

    def one(g):
        cfg = TrainConfig(eta=0.01, gamma=g, steps=20, log_every=20)
        return train(jax.random.key(1), cfg, p0, x, y)[1]

    both = jax.vmap(one)(gs)
    for i in range(2):
        np.testing.assert_allclose(np.asarray(both[i]), np.asarray(one(gs[i])), rtol=1e-12)


def test_parametrisations(setup):
    x, _, p0 = setup
    phi, g_ntk = mlp_apply(p0, x, parametrization="ntk")
    _, g_mup = mlp_apply(p0, x, parametrization="mup")
    np.testing.assert_allclose(np.asarray(g_mup), np.asarray(g_ntk) / 4.0, rtol=1e-13)  # √16/16
    assert phi.shape == (20, 16)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        mlp_init(jax.random.key(0), (5, 3))
