r"""Capacity through lazy and rich training of the Chizat-scaled two-layer network, trained by
the sweep engine (lazyrich.sims) and measured by lazyrich.geometry.

The network (Chizat, Oyallon & Bach 2019): f(x) = a^T sigma(W x/sqrt d)/sqrt m,
h = alpha (f - f0), L = (1/alpha^2)(1/2n) sum_i ||h(x_i) - y_i||^2, GD with step lr. In the engine
this is the two-layer MLP in the NTK parametrisation with gamma_NTK = 1/alpha and
eta = lr C/(2 alpha^2 m); the tests below check that map against an independent NumPy trainer
(tests/references.py), then the physics (lazy limit, capacity gains) on top of it.
"""

import jax
import numpy as np
import pytest
from references import chizat_two_layer_gd, two_layer_ntk

from lazyrich import sims
from lazyrich.analysis import plot_geometry_over_training
from lazyrich.geometry import (
    ChizatTwoLayer,
    TwoLayerRun,
    cloud_task,
    geometry_over_training,
    ntk_sharpness,
    train_two_layer,
)

WIDTH = 64
#: GD step as a fraction of the stability edge 2/lambda: a quarter of it. At half the edge
#: (lr = 1/lambda, the claim's choice at width 128) the rich runs (alpha <= 0.3) of this
#: width-64 network sharpen past the edge (measured over init seeds 0-7: the loss rises on
#: 12-153 of 300 steps, and seeds 1 and 7 diverge at alpha = 0.1); at lr = 0.5/lambda no seed
#: diverges and alpha = 0.3 descends monotonically.
LR = 0.5


@pytest.fixture(scope="module")
def task():
    Xtr, Ytr, Xte = cloud_task(jax.random.key(0), n_train=10, n_test=20)
    return np.asarray(Xtr), np.asarray(Ytr), np.asarray(Xte)


def _cfg(task, steps, *, width=WIDTH, activation="relu", log_every=None, seed=1):
    Xtr, Ytr, _ = task
    labels = np.argmax(Ytr, axis=1)  # the engine one-hot encodes them back to Ytr
    return sims.SweepConfig(model="mlp", depth=2, width=width, parametrization="ntk",
                            task=sims.array_task(Xtr, labels), full_batch=True, loss="mse",
                            dtype="float64", activation=activation, num_steps=steps,
                            log_every=log_every or steps, seed=seed)


def _theta0(cfg):
    """theta_0 of the config's cell, from a 1-step run (the engine's own draw)."""
    return sims.train(cfg.replace(num_steps=1, log_every=1)).params0


@pytest.fixture(scope="module")
def sharp(task):
    cfg = _cfg(task, 1)
    return ntk_sharpness(sims.resolve(cfg)[0], _theta0(cfg), task[0])


def _train(task, alpha, lr, steps, **kw):
    """One engine run of the Chizat network: gamma_NTK = 1/alpha, eta = lr C/(2 alpha^2 m)."""
    cfg = _cfg(task, steps, **kw)
    C, m = task[1].shape[1], cfg.width
    return sims.train(cfg, gamma=1.0 / alpha, eta=lr * C / (2 * alpha**2 * m),
                      keep_params=True), cfg


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_engine_is_the_chizat_network(task, sharp, activation):
    """The engine's NTK-parametrised MLP at gamma = 1/alpha, eta = lr C/(2 alpha^2 m) follows the
    NumPy reference trainer from the same theta_0, step for step, rich and lazy.

    Tolerance: both compute the same float64 gradient in a different summation order, ~n eps
    = 160 * 1.1e-16 ~ 2e-14 relative per step on O(1) weights; below the stability edge the GD
    map does not amplify it (measured max |dW| 1.2e-14 after 20 steps, weights up to 7, moved
    by up to 15 at alpha = 0.1 and 0.02 at alpha = 100), so 1e-12 absolute is ~100x the
    measured and still 5e-11 of the smallest displacement. The loss
    L_alpha = (C/(2 alpha^2)) * engine loss agrees to relative 1e-12 (its round-off floor is
    eps * alpha * |f|/|h - y| ~ 1e-14 at alpha = 100; measured 6e-15)."""
    Xtr, Ytr, _ = task
    lr = LR / sharp
    C = Ytr.shape[1]
    for alpha in (0.1, 100.0):
        r, _ = _train(task, alpha, lr, 20, activation=activation, log_every=5)
        W0, W1 = r.params0["w"]
        ref0, ref1, ref_loss = chizat_two_layer_gd(W0, W1, Xtr, Ytr, alpha=alpha, lr=lr,
                                                   num_steps=20, activation=activation)
        np.testing.assert_allclose(r.params_log["w"][0], ref0[::5], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.params_log["w"][1], ref1[::5], rtol=0, atol=1e-12)
        # the weights really moved (rich: O(1); lazy: O(1/alpha)), so the check has teeth
        assert np.max(np.abs(ref0[-1] - ref0[0])) > 0.1 / alpha
        np.testing.assert_allclose(r.loss[:-1] * C / (2 * alpha**2), ref_loss[::5], rtol=1e-12)


def test_deprecated_trainer_returns_the_former_numbers(task, sharp):
    """train_two_layer (deprecated, now on lazyrich.sims) draws the former initialisation from
    its key (split(key) -> W (m, d), a (C, m), standard normal) and follows the NumPy reference
    at every step (same tolerance as above). It warns once, naming the new way."""
    Xtr, Ytr, _ = task
    lr = LR / sharp
    with pytest.warns(DeprecationWarning, match=r"sims\.train") as rec:
        hp = ChizatTwoLayer(alpha=0.3, lr=lr, width=WIDTH, num_steps=20, log_steps=(0, 7, 20))
    assert rec[0].filename == __file__  # the warning points at the caller
    with pytest.warns(DeprecationWarning, match=r"train_two_layer is deprecated") as rec:
        run = train_two_layer(jax.random.key(1), hp, Xtr, Ytr)
    assert len(rec) == 1 and rec[0].filename == __file__
    assert isinstance(run, TwoLayerRun) and run.steps == (0, 7, 20)
    k1, k2 = jax.random.split(jax.random.key(1))
    np.testing.assert_array_equal(run.W[0], jax.random.normal(k1, (WIDTH, 40), np.float64))
    np.testing.assert_array_equal(run.a[0], jax.random.normal(k2, (8, WIDTH), np.float64))
    ref0, ref1, ref_loss = chizat_two_layer_gd(run.W[0].T, run.a[0].T, Xtr, Ytr, alpha=0.3,
                                               lr=lr, num_steps=20)
    np.testing.assert_allclose(run.W.transpose(0, 2, 1), ref0[[0, 7, 20]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.a.transpose(0, 2, 1), ref1[[0, 7, 20]], rtol=0, atol=1e-12)
    assert run.loss.shape == (20,)
    np.testing.assert_allclose(run.loss, ref_loss, rtol=1e-12)


def test_ntk_sharpness_is_the_stability_edge(task, sharp):
    """ntk_sharpness = lambda_max(J J^T)/n of the uncentred network at theta_0: equal to the
    hand-written Jacobian's (tests/references.py) to round-off (an eigenvalue of a symmetric
    matrix moves by at most ||dK||_2 (Weyl), ~ n C eps ||K|| ~ 1e-13 relative for n C = 640;
    measured 7e-16). And
    it is the gradient-descent edge in the units of L_alpha: in the lazy limit (alpha = 1000,
    where the dynamics is linear, h <- h - lr K/n (h - y)) the engine at lr = 1.9/lambda
    converges and at lr = 2.1/lambda diverges (its top mode grows as 1.1^t; measured: flagged
    at step 32)."""
    Xtr, _, _ = task
    cfg = _cfg(task, 1)
    W0, W1 = _theta0(cfg)["w"]
    lam_ref = np.linalg.eigvalsh(two_layer_ntk(W0, W1, Xtr))[-1] / Xtr.shape[0]
    assert abs(sharp / lam_ref - 1) < 1e-12
    stable, _ = _train(task, 1000.0, 1.9 / sharp, 300, log_every=100)
    assert not stable.diverged and stable.loss[-1] < 0.1 * stable.loss[0]
    unstable, _ = _train(task, 1000.0, 2.1 / sharp, 300, log_every=100)
    assert unstable.diverged


def test_centred_start_and_descent(task, sharp):
    """h = alpha (f - f0) is exactly 0 at init: L_alpha(0) = mean ||y||^2/(2 alpha^2) =
    1/(2 alpha^2) for one-hot targets; GD at a quarter of the stability edge decreases it
    monotonically (to round-off, relative 1e-12)."""
    C = task[1].shape[1]
    for alpha in (0.3, 30.0):
        r, _ = _train(task, alpha, LR / sharp, 100, log_every=1)
        L = r.loss * C / (2 * alpha**2)
        assert abs(L[0] * alpha**2 - 0.5) < 1e-12
        assert np.all(np.diff(L) <= 1e-12 * L[0])
        assert L[-1] < 0.5 * L[0]


def _rel_change(r):
    num = sum(np.sum((p[-1] - p0) ** 2) for p, p0 in zip(jax.tree.leaves(r.params_log),
                                                         jax.tree.leaves(r.params0), strict=True))
    return np.sqrt(num / sum(np.sum(p0**2) for p0 in jax.tree.leaves(r.params0)))


def test_lazy_limit_parameter_change_scales_as_one_over_alpha(task, sharp):
    """Parameters move O(1/alpha) while the function moves O(1) (Chizat, Oyallon & Bach 2019,
    Theorem 2.3): the log-log slope of ||theta_t - theta_0||/||theta_0|| against alpha over
    {10, 100, 1000} is -1 up to O(1/alpha) corrections (tolerance 0.05 on the slope)."""
    alphas = np.array([10.0, 100.0, 1000.0])
    ch = [_rel_change(_train(task, a, LR / sharp, 200)[0]) for a in alphas]
    slope = np.polyfit(np.log(alphas), np.log(ch), 1)[0]
    assert abs(slope + 1) < 0.05, (slope, ch)


def test_rich_raises_capacity_lazy_keeps_it(task, sharp):
    """Capacity claim C12 at test size (Chou et al. 2025, section 4): the richest run gains
    >= 15% capacity, the lazy one changes < 2% (parameters move ~0.5%), and the gain is ordered
    by richness. Same estimator draws at every step (common random numbers), so the gains are
    precise beyond the ~2% s.e. of each value. Measured over init seeds 0-7 (width 64, 300
    steps, n_t = 150): rich gain 0.53-0.73, middle 0.10-0.21, lazy |gain| <= 0.0044, always
    ordered; weight change 1.8-2.0, 0.39-0.43, 0.0043-0.0050."""
    _, _, Xte = task
    res = {}
    for a in (0.1, 1.0, 100.0):
        r, cfg = _train(task, a, LR / sharp, 300)
        res[a] = geometry_over_training(jax.random.key(2), r, sims.resolve(cfg)[0], Xte,
                                        n_t=150)
        np.testing.assert_array_equal(res[a]["step"], [0, 300])
        assert abs(res[a]["weight_change"][-1] - _rel_change(r)) < 1e-12
    gain = [res[a]["capacity"][-1] / res[a]["capacity"][0] - 1 for a in (0.1, 1.0, 100.0)]
    assert gain[0] >= 0.15 and gain[0] > gain[1] > gain[2], gain
    assert abs(gain[2]) <= 0.02, gain
    # identical start: every run begins from the same features
    assert len({round(float(r["capacity"][0]), 12) for r in res.values()}) == 1
    assert all(r["weight_change"][0] == 0 for r in res.values())
    assert res[0.1]["radius"][-1] < res[0.1]["radius"][0]  # rich: manifolds shrink
    fig = plot_geometry_over_training({f"alpha={a:g}": r for a, r in res.items()})
    assert len(fig.axes) == 6


def test_deprecated_geometry_form_gives_the_same_numbers(task, sharp):
    """geometry_over_training(TwoLayerRun, X_eval, key) (deprecated) reads W (m, d) and a (C, m)
    and measures sigma(W x/sqrt d): the same features, hence bit for bit the same geometry, as
    the engine run it was built from."""
    _, _, Xte = task
    r, cfg = _train(task, 0.3, LR / sharp, 30, log_every=10)
    new = geometry_over_training(jax.random.key(2), r, sims.resolve(cfg)[0], Xte, n_t=30)
    W, A = r.params_log["w"]
    with pytest.warns(DeprecationWarning, match="TwoLayerRun"):
        run = TwoLayerRun(tuple(int(s) for s in r.steps), W.transpose(0, 2, 1),
                          A.transpose(0, 2, 1), r.loss)
    with pytest.warns(DeprecationWarning, match=r"geometry_over_training\(TwoLayerRun"):
        old = geometry_over_training(run, Xte, jax.random.key(2), n_t=30)
    assert set(old) == set(new)
    for k in new:
        np.testing.assert_allclose(old[k], new[k], rtol=1e-12, atol=0, err_msg=k)


def test_training_bad_input(task, sharp):
    Xtr, Ytr, Xte = task
    r, cfg = _train(task, 1.0, LR / sharp, 5)
    model = sims.resolve(cfg)[0]
    with pytest.raises(ValueError, match="keep_params=True"):
        geometry_over_training(jax.random.key(0), sims.train(cfg), model, Xte)
    with pytest.raises(TypeError, match="must be a lazyrich.sims.TrainResult"):
        geometry_over_training(jax.random.key(0), {"params_log": r.params_log}, model, Xte)
    with pytest.raises(TypeError, match=r"the key comes first"):
        geometry_over_training(r, model, Xte)
    with pytest.raises(TypeError, match=r"needs key, model and X_eval"):
        geometry_over_training(jax.random.key(0), r, model)
    with pytest.raises(TypeError, match=r"with features\(params, x\)"):
        geometry_over_training(jax.random.key(0), r, object(), Xte)
    with pytest.raises(ValueError, match="X_eval must have at least 3"):
        geometry_over_training(jax.random.key(0), r, model, Xte[0])
    diverged, _ = _train(task, 1000.0, 3.0 / sharp, 100)
    assert diverged.diverged
    with pytest.raises(ValueError, match="the run diverged at step"):
        geometry_over_training(jax.random.key(0), diverged, model, Xte)
    with pytest.raises(TypeError, match=r"with apply\(params, x\)"):
        ntk_sharpness(None, r.params0, Xtr)
    with pytest.raises(ValueError, match="x must be finite"):
        ntk_sharpness(model, r.params0, np.full_like(Xtr, np.nan))
    # the deprecated trainer keeps its checks
    with pytest.warns(DeprecationWarning):
        hp = ChizatTwoLayer(alpha=1.0, lr=LR / sharp, width=16, num_steps=10,
                            log_steps=(0, 11))
        with pytest.raises(ValueError, match="log_steps must be sorted, distinct and within"):
            train_two_layer(jax.random.key(0), hp, Xtr, Ytr)
        hp = ChizatTwoLayer(alpha=1.0, lr=LR / sharp, width=16, num_steps=10,
                            log_steps=(0, 10), activation="gelu")
        with pytest.raises(ValueError, match="activation must be 'relu' or 'tanh'"):
            train_two_layer(jax.random.key(0), hp, Xtr, Ytr)
        hp = ChizatTwoLayer(alpha=1.0, lr=LR / sharp, width=16, num_steps=10,
                            log_steps=(0, 10))
        with pytest.raises(ValueError, match=r"X must be \(n, d\) and Y \(n, C\)"):
            train_two_layer(jax.random.key(0), hp, Xtr, Ytr[:-1])
