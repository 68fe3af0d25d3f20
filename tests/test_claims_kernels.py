"""What the kernels/ claims measure, pinned against references computed by other means.

The lazy-dynamics claims compare the engine's centred output with three references: the
infinite-width kernels (tested against wide networks in ``test_theory_conv_kernels.py`` and
against neural-tangents values in ``test_theory_kernel_dynamics.py``), the network's own
linearisation, and the same network at −γ. The last two are built here from the engine's
options (``linearize=True``; g → −g), so they are checked here against independent
computations: GD of the linear model written as kernel GD with the *empirical* NTK at θ₀
(autodiff Jacobians, not the engine's jvp), and GD at −γ written out by hand with ``jax.grad``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import sims
from lazyrich.claims import kernels as K
from lazyrich.metrics import empirical_ntk
from lazyrich.theory import kernel_dynamics, kernel_eta_max


def _mlp_case(width=32, P=8):
    x, y, _ = K._lazy_setup(P=P, Q=4)
    task = sims.array_task(x[:P], y[:P], x, y)
    cfg = sims.SweepConfig(model="mlp", depth=2, width=width, activation="erf", task=task,
                           full_batch=True, num_steps=12, log_every=1, dtype="float64")
    return cfg, x, y, P, 1  # rho = N / readout fan-in


def _convnet_case(width=8, P=6):
    x, labels, _ = K._digits_setup(P, 2)
    y = (labels - 4.5)[:, None] / 3  # one real output: the empirical NTK is then one kernel
    task = sims.array_task(x[:P], y[:P], x, y)
    cfg = sims.SweepConfig(model="convnet", depth=4, width=width, padding="SAME",
                           activation="erf", task=task, full_batch=True, num_steps=12,
                           log_every=1, dtype="float64")
    return cfg, x, y, P, 1 / 8


@pytest.mark.parametrize("case", [_mlp_case, _convnet_case], ids=["mlp", "convnet"])
def test_linearised_engine_is_kernel_gd_with_its_empirical_ntk(case):
    r"""``linearize=True`` trains :math:`f = J_0(\theta-\theta_0)/\gamma`, so its outputs obey
    :math:`f_{k+1} = f_k - \tfrac{2\rho\eta}{P\gamma^2}\,\hat\Theta(f_k - y)` exactly, with
    :math:`\hat\Theta` = (readout fan-in) × the empirical NTK at θ₀ and ρ = N / fan-in (1 for
    the MLP, 1/8 for the ConvNet: the claims' units). Float64 round-off over 12 steps with
    a·λ_max = 0.5: rtol 1e-10. At γ = 0.5 the 1/γ² is visible; ρ = 1 for the ConvNet (the MLP's
    value: a·λ_max = 4, past the stability edge) must be far off."""
    cfg, x, y, P, rho = case()
    gamma = 0.5
    model, _ = sims.resolve(cfg)
    theta0 = jax.tree.map(lambda a: a[0], sims.train(cfg.replace(num_steps=1), gamma=gamma,
                                                     eta=1e-3, seed=3,
                                                     keep_params=True).params_log)
    fan_in = model.width / rho
    with jax.enable_x64(True):
        k_all = fan_in * np.asarray(empirical_ntk(model.apply, theta0, jnp.asarray(x)))
    k_tt, k_st = k_all[:P, :P], k_all[:, :P]
    eta = 0.25 * float(kernel_eta_max(k_tt, gamma=gamma, rho=rho))
    steps = np.arange(cfg.num_steps + 1)
    pred = np.asarray(kernel_dynamics(k_tt, y[:P], steps=steps, eta=eta, gamma=gamma, rho=rho,
                                      k_test_train=k_st).test)
    f = K._outputs(cfg.replace(linearize=True), gamma, eta, 3)[0]
    np.testing.assert_allclose(f, pred, rtol=1e-10, atol=1e-12 * np.abs(pred).max())
    if rho != 1:
        wrong = np.asarray(kernel_dynamics(k_tt, y[:P], steps=steps, eta=eta, gamma=gamma,
                                           rho=1.0, k_test_train=k_st, check=False).test)
        assert np.abs(f - wrong).max() > 0.1 * np.abs(pred).max()


def test_mirrored_config_is_the_network_at_minus_gamma():
    r"""``_mirrored(cfg)`` at γ is ``cfg`` at −γ (which the engine refuses): GD written out by
    hand, :math:`\theta \leftarrow \theta - N\eta\,\nabla_\theta\,\mathrm{mean}((g_\theta -
    g_{\theta_0})/(-\gamma) - y)^2`, from the engine's θ₀, gives the same outputs at every step
    (float64 round-off: rtol 1e-10), and they differ from the +γ run at O(γ) (here γ = 0.3)."""
    cfg, x, y, P, _ = _mlp_case(width=16)
    gamma = 0.3
    model, _ = sims.resolve(cfg)
    eta = 0.2 * gamma**2
    theta = jax.tree.map(lambda a: a[0], sims.train(cfg.replace(num_steps=1), gamma=gamma,
                                                    eta=eta, seed=5, keep_params=True).params_log)
    with jax.enable_x64(True):
        xs, xtr, ytr = jnp.asarray(x), jnp.asarray(x[:P]), jnp.asarray(y[:P])
        g0_all, g0_tr = model.apply(theta, xs), model.apply(theta, xtr)

        def loss(p):
            return jnp.mean(((model.apply(p, xtr) - g0_tr) / -gamma - ytr) ** 2)

        grad = jax.jit(jax.grad(loss))
        hand = []
        for _ in range(cfg.num_steps + 1):
            hand.append(np.asarray((model.apply(theta, xs) - g0_all) / -gamma))
            theta = jax.tree.map(lambda p, g: p - model.width * eta * g, theta, grad(theta))
    hand = np.stack(hand)
    mirrored = K._outputs(K._mirrored(cfg), gamma, eta, 5)[0]
    plus = K._outputs(cfg, gamma, eta, 5)[0]
    np.testing.assert_allclose(mirrored, hand, rtol=1e-10, atol=1e-13)
    assert np.abs(plus - mirrored).max() > 1e-3 * np.abs(plus).max()


def test_expansion_vanishes_for_a_model_linear_in_its_parameters():
    r"""For :math:`g = \phi(xW)\,a/N` with W fixed (random features; only a trains) the network
    is its own linearisation at every γ: both parts of ``_gamma_expansion`` are round-off
    (< 1e-12 of the outputs), while a network with a trained hidden layer has an even part that
    grows 4× and an odd part 2× when γ doubles."""
    x, y, _ = K._lazy_setup(P=8, Q=4)
    P, N = 8, 64
    W = np.random.default_rng(0).normal(size=(x.shape[1], N)) / np.sqrt(x.shape[1])

    def apply(p, xx):
        return jnp.tanh(xx @ W) @ p["a"] / N

    rf = sims.from_apply(apply, lambda k, dt: {"a": jax.random.normal(k, (N, 1), dt)},
                         width=N, depth=1)
    task = sims.array_task(x[:P], y[:P], x, y)
    cfg = sims.SweepConfig(model=rf, depth=1, task=task, full_batch=True, num_steps=10,
                           log_every=1, dtype="float64")
    even, odd = K._gamma_expansion(cfg, [0.1, 0.2], lambda g: 0.5 * g**2, np.arange(2))
    scale = np.abs(K._outputs(cfg, 0.1, 0.005, 0)).max()
    assert scale > 0.1 and np.all(even < 1e-12 * scale) and np.all(odd < 1e-12 * scale)
    mlp, *_ = _mlp_case(width=64)
    even, odd = K._gamma_expansion(mlp, [0.01, 0.02], lambda g: 0.1 * g**2, np.arange(4))
    assert even[1] / even[0] == pytest.approx(4, rel=0.1)
    assert odd[1] / odd[0] == pytest.approx(2, rel=0.1)
