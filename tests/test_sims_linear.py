"""Reference simulators of two-layer linear networks: GD and the DOP853 flow (docs: Conventions,
time T = η·steps)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich.sims import gd_two_layer, ode_two_layer


@pytest.fixture
def net(rng):
    return rng.normal(size=(4, 3)) * 0.4, rng.normal(size=(2, 4)) * 0.4, rng.normal(size=(2, 3))


def test_gd_is_first_order_in_eta_with_general_sxx(net, rng):
    """Non-whitened, unbalanced case: GD → flow with error ∝ η (Euler's global error)."""
    W1, W2, S = net
    A = rng.normal(size=(3, 3))
    Sxx = A @ A.T / 3 + 0.5 * np.eye(3)
    errs = []
    for eta in (1e-2, 1e-3):
        n = int(round(3.0 / eta))
        g = gd_two_layer(W1, W2, S, eta, n, Sxx=Sxx, save_every=n // 3)
        o = ode_two_layer(W1, W2, S, np.asarray(g.t), Sxx=Sxx)
        errs.append(float(np.abs(np.asarray(g.W) - o.W).max()))
    # first order: a decade of η buys a decade of error (O(η²) corrections allow 7..13)
    assert 7 < errs[0] / errs[1] < 13


def test_gd_saves_at_multiples_of_save_every(net):
    W1, W2, S = net
    g = gd_two_layer(W1, W2, S, 0.01, 100, save_every=25)
    np.testing.assert_allclose(np.asarray(g.t), 0.01 * np.array([0, 25, 50, 75, 100]), rtol=1e-15)
    np.testing.assert_array_equal(np.asarray(g.W1[0]), W1)
    assert g.W.shape == (5, 2, 3) and g.P.shape == (5, 5, 5)


def test_gd_vmaps_over_eta_and_inits(net, rng):
    W1, W2, S = net
    etas = jnp.array([0.01, 0.02, 0.05])
    batched = jax.vmap(lambda e: gd_two_layer(W1, W2, S, e, 40, save_every=10).W)(etas)
    for i, e in enumerate(etas):
        single = gd_two_layer(W1, W2, S, float(e), 40, save_every=10).W
        np.testing.assert_allclose(batched[i], single, rtol=1e-13)  # same arithmetic, batched
    W1s = jnp.stack([jnp.asarray(W1), jnp.asarray(W1) * 0.5])
    out = jax.vmap(lambda a: gd_two_layer(a, W2, S, 0.01, 10).W[-1])(W1s)
    assert out.shape == (2, 2, 3)


def test_ode_at_time_zero_and_balance(net):
    W1, W2, S = net
    o = ode_two_layer(W1, W2, S, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(o.W1[0], W1)
    # balance conserved by the flow even for an unbalanced start (exact invariant; ODE tol 1e-12)
    np.testing.assert_allclose(o.balance[-1], o.balance[0], atol=1e-10)


@pytest.mark.parametrize("kwargs,match", [
    (dict(eta=0.0), "eta must be finite and > 0"),
    (dict(eta=-1.0), "eta must be finite and > 0"),
    (dict(num_steps=0), "num_steps must be a positive integer"),
    (dict(num_steps=2.5), "num_steps must be a positive integer"),
    (dict(save_every=3), "save_every must be a positive divisor"),
])
def test_gd_bad_arguments(net, kwargs, match):
    W1, W2, S = net
    args = dict(eta=0.01, num_steps=10, save_every=1) | kwargs
    with pytest.raises(ValueError, match=match):
        gd_two_layer(W1, W2, S, args["eta"], args["num_steps"], save_every=args["save_every"])


def test_shape_and_nan_errors(net):
    W1, W2, S = net
    with pytest.raises(ValueError, match=r"W2 must have shape \(n_out, n_hidden=4\)"):
        gd_two_layer(W1, W2.T, S, 0.1, 1)
    with pytest.raises(ValueError, match=r"Syx must have shape \(n_out, n_in\) = \(2, 3\)"):
        gd_two_layer(W1, W2, S.T, 0.1, 1)
    with pytest.raises(ValueError, match="W1 must be 2-D"):
        gd_two_layer(W1[0], W2, S, 0.1, 1)
    bad = np.array(W1)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="W1 contains 1 non-finite"):
        ode_two_layer(bad, W2, S, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="Sxx must have shape"):
        gd_two_layer(W1, W2, S, 0.1, 1, Sxx=np.eye(2))


def test_ode_time_errors(net):
    W1, W2, S = net
    with pytest.raises(ValueError, match="t must be finite and non-negative"):
        ode_two_layer(W1, W2, S, np.array([0.0, -1.0]))
    with pytest.raises(ValueError, match="t must be finite and non-negative"):
        ode_two_layer(W1, W2, S, np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="non-decreasing"):
        ode_two_layer(W1, W2, S, np.array([1.0, 0.5]))
