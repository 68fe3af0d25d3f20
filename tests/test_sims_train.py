"""γ-scaled centred networks: exact identities, lazy limit, conventions (Atanasov et al.
2025; docs: Gamma scaling; docs: Conventions)."""

import jax
import numpy as np
import pytest

from lazyrich import sims

BASE = sims.SweepConfig(depth=2, width=64, input_dim=16, num_steps=120, batch_size=32, log_every=1,
                        dtype="float64")


def _relmax(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("depth", [2, 3])
def test_c1_gamma_init_scale_identity_float64(depth):
    """C1: (γ, η, θ₀) ≡ (1, ηγ^(-2/L), γ^(-1/L)θ₀) exactly for bias-free ReLU nets.

    Same data stream, same θ₀ draw; only round-off differs: a reference run measured 9e-16 /
    4e-15, so 1e-10 leaves room for accumulation over 300 steps and still catches any wrong
    power of γ (a wrong exponent changes the loss at O(1))."""
    cfg = BASE.replace(depth=depth, width=128, num_steps=300)
    g = 100.0
    eta = 0.2 * g ** (2 / depth)
    a = sims.train(cfg, gamma=g, eta=eta)
    b = sims.train(cfg, gamma=1.0, eta=eta * g ** (-2 / depth), init_scale=g ** (-1 / depth))
    assert not a.diverged
    assert a.loss[-1] < 0.5 * a.loss[0]  # the run actually trains (the identity is not vacuous)
    assert _relmax(a.loss, b.loss) < 1e-10
    assert _relmax(a.test_loss, b.test_loss) < 1e-10


@pytest.mark.parametrize("depth", [
    2,
    pytest.param(3, marks=pytest.mark.xfail(strict=True, reason=(
        "C1's float32 tolerance 1e-4 does not hold at L = 3, γ = 100: max rel diff of the "
        "test-loss curves 8.4e-4 (0 before the plateau ends at t≈120, then 7e-5, 3e-4, 5e-4 at "
        "t = 150, 200, 250). The L ≥ 3 saddle escape amplifies the 1e-7 rounding of the init "
        "scale into an escape-time shift; float64 gives 3e-15."))),
])
def test_c1_identity_float32(depth):
    """C1 in float32 (tolerance < 1e-4): round-off ~1e-7 per operation."""
    cfg = BASE.replace(depth=depth, width=128, num_steps=300, dtype="float32")
    g = 100.0
    eta = 0.2 * g ** (2 / depth)
    a = sims.train(cfg, gamma=g, eta=eta)
    b = sims.train(cfg, gamma=1.0, eta=eta * g ** (-2 / depth), init_scale=g ** (-1 / depth))
    assert a.loss.dtype == np.float32
    assert _relmax(a.test_loss, b.test_loss) < 1e-4


def test_c1_fails_for_non_homogeneous_net():
    """The identity needs homogeneity: with tanh it must break at O(1) (guards against a test
    that passes whatever the model)."""
    cfg = BASE.replace(activation="tanh", num_steps=100)
    g = 100.0
    a = sims.train(cfg, gamma=g, eta=0.2 * g)
    b = sims.train(cfg, gamma=1.0, eta=0.2, init_scale=g ** (-1 / 2))
    assert _relmax(a.test_loss, b.test_loss) > 1e-3


def test_c19_lazy_collapse_onto_linearized_model():
    """C19: at η = cγ², the loss curve converges to the jax.linearize model's as O(γ).

    Smooth activation (tanh): the Taylor remainder is (γ/2)uᵀHu, so the relative difference is
    C·γ with C = O(1); we fit its log-log slope over γ ∈ {1e-5, 1e-4, 1e-3} (prediction 1,
    tolerance ±0.1 for the O(γ²) next term) and check the bound 20γ."""
    cfg = BASE.replace(activation="tanh", num_steps=200)
    c = 0.3
    lin = sims.train(cfg.replace(linearize=True), gamma=1.0, eta=c)
    lin_b = sims.train(cfg.replace(linearize=True), gamma=1e-3, eta=c * 1e-6)
    # the linearised dynamics depend on η/γ² only: exact up to round-off
    assert _relmax(lin_b.loss, lin.loss) < 1e-10
    gammas = np.array([1e-5, 1e-4, 1e-3])
    diffs = np.array([_relmax(sims.train(cfg, gamma=g, eta=c * g * g).loss, lin.loss)
                      for g in gammas])
    assert np.all(diffs < 20 * gammas), diffs / gammas
    slope = np.polyfit(np.log(gammas), np.log(diffs), 1)[0]
    assert abs(slope - 1.0) < 0.1, slope


@pytest.mark.parametrize("name", ["dmft", "ntk", "chizat"])
def test_parametrization_dictionary_is_exact(name):
    """Each convention (docs: Conventions, "Parametrisations"), run natively with its own
    variables, reproduces the μP run (γ, η) mapped by to_mup. Different multiplier placement →
    round-off only (< 1e-10)."""
    cfg = BASE.replace(depth=3, num_steps=80)
    g, eta = 0.5, 0.05
    ref = sims.train(cfg, gamma=g, eta=eta)
    a, b = sims.from_mup(name, g, eta, cfg.width)
    back = sims.to_mup(name, a, b, cfg.width)
    np.testing.assert_allclose(back, (g, eta), rtol=1e-14)
    other = sims.train(cfg.replace(parametrization=name), gamma=float(a), eta=float(b))
    assert _relmax(other.loss, ref.loss) < 1e-10
    # and a wrong map (e.g. γ_NTK = γ instead of γ√N) is far off
    wrong = sims.train(cfg.replace(parametrization=name), gamma=g, eta=eta)
    assert not np.allclose(wrong.test_loss, ref.test_loss, rtol=1e-2)  # NaN (diverged) counts


def test_eta_scale_limits():
    """The smooth s(γ) → γ² (γ→0) and γ^(2/L) (γ→∞), piecewise exact on each side."""
    L = 3
    g = np.array([1e-6, 1e6])
    s = sims.eta_scale(g, L)
    np.testing.assert_allclose(s / np.array([g[0] ** 2, g[1] ** (2 / L)]), 1.0, rtol=1e-3)
    np.testing.assert_allclose(sims.eta_scale([0.1, 10.0], L, "piecewise"),
                               [0.01, 10 ** (2 / 3)], rtol=1e-14)
    np.testing.assert_allclose(sims.eta_hat(sims.eta_from_hat(0.3, 7.0, L), 7.0, L), 0.3)


def test_divergence_is_detected_and_frozen():
    """A step far above η_max blows up: the cell is flagged, and logged values after the
    flagged step are NaN; a small step is not flagged."""
    r = sims.train(BASE, gamma=1.0, eta=1e3)
    assert r.diverged and 0 <= r.diverged_step < 20
    assert np.all(np.isnan(r.loss[r.steps >= r.diverged_step]))
    ok = sims.train(BASE, gamma=1.0, eta=0.05)
    assert not ok.diverged and ok.diverged_step == -1 and np.all(np.isfinite(ok.loss))


def test_a_training_loss_above_twice_the_test_loss_is_not_a_divergence():
    """Divergence is judged against the larger initial loss (test set or first batch): an
    uncentred network whose training targets are far from its random outputs (train loss ≈ 9 +
    E f₀²) while the test targets are 0 (test loss ≈ E f₀²) converges monotonically at a small
    step and must not be flagged (it was, at step 0, when only the test loss counted); a step
    far above η_max still is."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8))
    task = sims.array_task(x[:8], np.full((8, 1), 3.0), x[8:], np.zeros((8, 1)))
    cfg = sims.SweepConfig(model="mlp", depth=2, width=64, task=task, full_batch=True,
                           num_steps=30, log_every=1, centred=False, dtype="float64")
    r = sims.train(cfg, gamma=1.0, eta=0.01)
    assert r.loss[0] > 4 * r.test_loss[0]  # the case the old rule flagged
    assert not r.diverged and np.all(np.isfinite(r.loss)) and np.all(np.diff(r.loss) < 0)
    assert sims.train(cfg, gamma=1.0, eta=1e3).diverged


def test_initial_params_are_the_cells_theta0():
    """sims.initial_params gives the θ₀ a cell starts from (its logged step-0 parameters), for
    seeds above 2**32 and a non-default init_scale too, to round-off (2 ulp: a compiled program
    may fuse the init_scale multiply into the sampler differently); bad seeds are refused."""
    cfg = BASE.replace(num_steps=2, log_every=1, init_scale=0.7)
    seeds = np.array([0, 3, 2**40 + 3])
    p0 = sims.initial_params(cfg, seeds)
    logged = sims.run_cells(cfg, gamma=1.0, eta=0.1, seed=seeds, keep_params=True)["params_log"]
    for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(logged), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b)[:, 0], rtol=5e-16, atol=0)
    one = sims.train(cfg, gamma=1.0, eta=0.1, seed=3).params0
    for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(one), strict=True):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b), rtol=5e-16, atol=0)
    assert not np.array_equal(jax.tree.leaves(p0)[0][0], jax.tree.leaves(p0)[0][2])
    with pytest.raises(ValueError, match="seed"):
        sims.initial_params(cfg, [-1])


def test_log_spaced_schedule_and_full_batch():
    s = sims.log_schedule(1000, log_points=20)
    assert s[0] == 0 and s[-1] == 1000 and np.all(np.diff(s) > 0)
    # full-batch GD on an exactly whitened finite training set: the loss is monotone for a
    # small step (GD on a smooth objective below the stability edge)
    cfg = BASE.replace(full_batch=True, task="linear", depth=2, log_every=None, log_points=30,
                       num_steps=300,
                       task_options={"train_size": 64, "whiten": True})
    r = sims.train(cfg, gamma=1.0, eta=0.05)
    assert r.steps.shape == r.loss.shape and np.all(np.diff(r.loss) <= 1e-12)
    assert r.loss[-1] < 0.05 * r.loss[0]


def test_centred_output_is_zero_at_init():
    """f ≡ 0 at t = 0 for every γ, so the initial loss is E[y²] whatever γ (centring)."""
    losses = [sims.train(BASE.replace(num_steps=1), gamma=g, eta=1e-9).test_loss[0]
              for g in (1e-3, 1.0, 1e3)]
    assert np.ptp(losses) < 1e-14


def test_bad_config_errors():
    with pytest.raises(ValueError, match="unknown model"):
        sims.SweepConfig(model="resnet")
    with pytest.raises(ValueError, match="unknown task"):
        sims.SweepConfig(task="imagenet")
    with pytest.raises(ValueError, match="unknown optimizer"):
        sims.SweepConfig(optimizer="lion")
    with pytest.raises(ValueError, match="gamma must be finite and > 0"):
        sims.SweepConfig(gamma=0.0)
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        sims.SweepConfig(eta=-1.0)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        sims.SweepConfig(width=12.5)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        sims.SweepConfig(depth=0)
    with pytest.raises(ValueError, match="unknown parametrization"):
        sims.to_mup("sp", 1.0, 1.0, 10)
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        sims.train(BASE, lr=0.1)
