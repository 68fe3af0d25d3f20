"""The richness claims' training path (lazyrich/claims/richness.py) on the one training stack.

The claims measure D_LR on networks trained by :mod:`lazyrich.sims`; these tests pin the two
things the claims add on top of the engine: that what they measure is the network the engine
trained (same θ₀ for every γ, the centred γ-scaled output, the readout's input as features),
and that the grokking pilot's standard-parametrisation network with AdamW is exactly
``optax.adamw`` on the cross-entropy of that network (docs: "Parametrisations").
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lazyrich import sims
from lazyrich.claims import richness as R


@pytest.fixture(scope="module")
def digits():
    return R._digits()


@pytest.mark.parametrize("trainable", ["all", "readout"])
def test_gamma_cells_share_theta0_and_measurements_see_the_trained_network(digits, trainable):
    r"""One seed for every γ gives one θ₀ (bit for bit); the claim's forward pass
    :math:`f = (g_\theta - g_{\theta_0})/\gamma` is 0 at θ₀ exactly and reproduces the engine's
    logged test loss at step T; with ``trainable="readout"`` the measured features do not move
    at all (the last-layer control's S_init is exactly 0). float64: the two evaluations are the
    same operations (the engine precomputes g(θ₀)), so only round-off differs: rtol 1e-12."""
    X, y, tr, te = digits
    cfg = R._digits_config(X, y, tr, te, 20, width=16, dtype="float64", trainable=trainable)
    gammas = np.array([0.1, 1.0, 3.0])
    out = sims.run_cells(cfg, gamma=gammas, eta=R._lr_scale(gammas), seed=0, keep_params=True)
    assert not out["diverged"].any()
    for leaf in jax.tree.leaves(out["params_log"]):  # (cell, step, ...)
        for i in range(1, len(gammas)):
            np.testing.assert_array_equal(leaf[i, 0], leaf[0, 0])
    Y = np.eye(10)[y]
    for i, gamma in enumerate(gammas):
        p0, p = R._at(out["params_log"], i, 0), R._at(out["params_log"], i, -1)
        phi0, phi, f = (np.asarray(a) for a in R._mlp_outputs(cfg, p0, p, X, gamma))
        _, _, f0 = R._mlp_outputs(cfg, p0, p0, X, gamma)
        assert np.all(np.asarray(f0) == 0.0)
        assert out["test_loss"][i, -1] < out["test_loss"][i, 0]  # it trained: not vacuous
        np.testing.assert_allclose(np.mean((f[te] - Y[te]) ** 2), out["test_loss"][i, -1],
                                   rtol=1e-12)
        assert phi.shape == (len(y), 16)
        if trainable == "readout":
            np.testing.assert_array_equal(phi, phi0)
        else:
            assert np.max(np.abs(phi - phi0)) > 0


def test_grokking_config_is_optax_adamw_on_the_pilot_network():
    r"""The grokking pilot's engine config (standard parametrisation via ``from_apply``,
    uncentred output, one-hot cross-entropy, ``chain(scale_by_adam, add_decayed_weights)``
    with ``mup_steps="none"``) equals, at every logged step, an independent loop of
    ``optax.adamw(η, b1=0.9, b2=0.98, weight_decay=λ)`` on the mean integer-label
    cross-entropy of :math:`g(x) = W^1{}^\top (W^0{}^\top x)^{\odot 2}`, from the engine's θ₀.

    Same operations up to association order (one-hot sum vs. label gather): float64 round-off,
    measured 1e-14 over 300 steps of the full-size pilot; atol 1e-12 on O(1) weights."""
    P, width, steps, every = 7, 16, 20, 5
    a, b = (m.ravel() for m in np.meshgrid(np.arange(P), np.arange(P), indexing="ij"))
    X = np.concatenate([np.eye(P)[a], np.eye(P)[b]], axis=1)
    y = (a + b) % P
    perm = np.random.default_rng(0).permutation(P * P)
    tr = perm[: P * P // 2]
    # the config trains on the engine's modular task: the hand-built table above (its split
    # drawn as the task does) is the independent reference of its data
    cfg, features = R._grok_config(steps, P=P, width=width, every=every, dtype="float64")
    r = sims.train(cfg, seed=0, keep_params=True)
    assert not r.diverged

    xtr, ytr = jnp.asarray(X[tr]), jnp.asarray(y[tr])

    def g(p, x):
        return (x @ p["w"][0]) ** 2 @ p["w"][1]

    def loss(p):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(g(p, xtr), ytr))

    np.testing.assert_array_equal(features(r.params0, xtr), (xtr @ r.params0["w"][0]) ** 2)
    # the pilot's initial scales W⁰ ~ N(0, 9/D), W¹ ~ N(0, 1/N), drawn from the cell's key
    # fold_in(key(0), seed): exactly the standard normals times 3/√D and 1/√N
    k0, k1 = jax.random.split(jax.random.fold_in(jax.random.key(0), 0))
    z0 = jax.random.normal(k0, (2 * P, width), jnp.float64)
    z1 = jax.random.normal(k1, (width, P), jnp.float64)
    np.testing.assert_array_equal(r.params0["w"][0], z0 * (3 / np.sqrt(2 * P)))
    np.testing.assert_array_equal(r.params0["w"][1], z1 * (1 / np.sqrt(width)))

    ref = optax.adamw(R._GROK_ETA, b1=0.9, b2=0.98, weight_decay=R._GROK_WD)
    p, state = r.params0, ref.init(r.params0)
    losses = []
    for t in range(steps + 1):
        if t % every == 0:
            k = t // every
            losses.append(float(loss(p)))
            for want, got in zip(jax.tree.leaves(p), jax.tree.leaves(R._at(r.params_log, k)),
                                 strict=True):
                np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0,
                                           atol=1e-12)
        with jax.numpy_dtype_promotion("standard"):  # optax: b1 ** (int32 count)
            upd, state = ref.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, upd)
    np.testing.assert_allclose(r.loss, losses, rtol=1e-12)
    assert losses[-1] < losses[0]  # it trained: not vacuous


def test_reference_ntk_relu_hand_values():
    r"""The claims' independent NTK recursion (ReLU, one hidden layer) against values worked by
    hand from Cho & Saul (2009): identical inputs give :math:`\Sigma^2 = \sigma_w^2a/2 +
    \sigma_b^2`, :math:`\Theta^2 = \Sigma^2 + \sigma_w^2 a/2`; orthogonal inputs with
    :math:`\sigma_b = 0` (angle π/2) give :math:`\Theta^2 = \sigma_w^2\sqrt{ab}/(2\pi) + 0`.
    Depth 1 is :math:`\Sigma^1` itself. Closed forms: float64 round-off, rtol 1e-13."""
    sw, sb = 1.3, 0.3
    x = np.array([[1.0, 2.0, 0.0], [-2.0, 1.0, 0.0]])  # orthogonal rows, |x|² = 5, D = 3
    a = sw**2 * 5 / 3 + sb**2
    np.testing.assert_allclose(R._reference_ntk(x, 1, "relu", sw, sb),
                               sw**2 * x @ x.T / 3 + sb**2, rtol=1e-13)
    T = R._reference_ntk(x, 2, "relu", sw, sb)
    np.testing.assert_allclose(np.diag(T), sw**2 * a / 2 + sb**2 + sw**2 * a / 2, rtol=1e-13)
    T0 = R._reference_ntk(x, 2, "relu", sw, 0.0)
    a0 = sw**2 * 5 / 3
    np.testing.assert_allclose(T0[0, 1], sw**2 * a0 / (2 * np.pi), rtol=1e-13)


def test_reference_ntk_gelu_gauss_hermite_against_1d_quadrature():
    r"""The Gauss–Hermite branch (GELU) of the claims' NTK reference in its three Cholesky
    regimes — :math:`v = u` (x' = x), :math:`v = -u` (x' = -x) and independent
    :math:`u, v` (orthogonal inputs, σ_b = 0: the expectations factor) — against 1-D adaptive
    quadrature (``scipy.integrate.quad``, abs. error ~1e-14). 128 nodes: measured 1e-13
    relative on depth-3 kernels; rtol 1e-10."""
    from scipy.integrate import quad
    from scipy.special import ndtr

    def gelu(u):
        return u * ndtr(u)

    def dgelu(u):
        return ndtr(u) + u * np.exp(-u * u / 2) / np.sqrt(2 * np.pi)

    def gauss(f, var):  # E f(u), u ~ N(0, var)
        s = np.sqrt(var)
        return quad(lambda z: f(s * z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
                    -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]

    sw = 1.3
    x = np.array([[1.0, 2.0, 0.0], [-1.0, -2.0, 0.0], [-2.0, 1.0, 0.0]])
    a = sw**2 * 5 / 3
    T = R._reference_ntk(x, 2, "gelu", sw, 0.0)
    S1 = sw**2 * x @ x.T / 3
    same = sw**2 * gauss(lambda u: gelu(u) ** 2, a) + S1[0, 0] * sw**2 * gauss(
        lambda u: dgelu(u) ** 2, a)
    anti = sw**2 * gauss(lambda u: gelu(u) * gelu(-u), a) + S1[0, 1] * sw**2 * gauss(
        lambda u: dgelu(u) * dgelu(-u), a)
    indep = sw**2 * gauss(gelu, a) ** 2  # Σ¹ = 0 between orthogonal inputs: no Θ¹ term
    np.testing.assert_allclose([T[0, 0], T[0, 1], T[0, 2]], [same, anti, indep], rtol=1e-10)


def test_nc1_reference_and_library_on_an_exact_two_class_case():
    r"""NC1 with a known answer: two balanced classes on one axis at ±m with within-class
    offsets ±s give :math:`\Sigma_B = m^2`, :math:`\Sigma_W = s^2`, so
    :math:`\mathrm{NC1} = s^2/(2m^2)`; the other axis carries within-class spread only, which
    the pseudo-inverse of the rank-1 :math:`\Sigma_B` must ignore. Both the claim's reference
    (definition, np.cov + pinv) and :func:`lazyrich.metrics.nc1` must give it; rtol 1e-12
    (round-off)."""
    from lazyrich.metrics import nc1

    m, s = 2.0, 0.5
    phi = np.array([[-m - s, 1.0], [-m + s, -1.0], [m - s, 3.0], [m + s, -3.0]])
    y = np.array([0, 0, 1, 1])
    want = s**2 / (2 * m**2)
    np.testing.assert_allclose(R._nc1_reference(phi, y), want, rtol=1e-12)
    np.testing.assert_allclose(nc1(phi, y), want, rtol=1e-12)
