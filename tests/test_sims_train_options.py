"""The one training stack's options: any optax optimizer with the μP multipliers as an optax
transform, a trainable-parameter mask, uncentred outputs, tasks from arrays, parameters kept at
the log points, and ``run_cells`` as the batched primitive (docs: Conventions, "Parametrisations";
Atanasov et al. 2025)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lazyrich import sims

BASE = sims.SweepConfig(depth=2, width=32, input_dim=8, num_steps=40, batch_size=16, log_every=5,
                        dtype="float64")


def _regression(n=24, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.tanh(x @ rng.normal(size=(d, 2)))
    return x, y


@pytest.mark.parametrize("name, tx, opts", [
    ("sgd", optax.identity(), {}),
    ("momentum", optax.trace(decay=0.7), {"momentum": 0.7}),
    ("adam", optax.scale_by_adam(b1=0.8, b2=0.99), {"b1": 0.8, "b2": 0.99}),
    ("signsgd", optax.scale_by_sign(), {}),
])
def test_builtin_optimizers_are_their_optax_transformations(name, tx, opts):
    """A built-in optimizer name is exactly (bit for bit) its optax direction followed by the μP
    per-layer multipliers of its family: the special cases are gone, not reimplemented."""
    rule = "sgd" if name in ("sgd", "momentum") else "adam"
    eta = 0.05 if rule == "sgd" else 2e-3
    a = sims.train(BASE.replace(optimizer=name), gamma=1.0, eta=eta, **opts)
    b = sims.train(BASE.replace(optimizer=tx, mup_steps=rule, optimizer_label=name), gamma=1.0,
                   eta=eta)
    assert not a.diverged and a.loss[-1] < a.loss[0]  # it trains: the identity is not vacuous
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.test_loss, b.test_loss)


def test_adamw_chain_is_optax_adamw():
    """AdamW as ``chain(scale_by_adam, add_decayed_weights)`` with ``mup_steps="none"`` (η is
    the step) is optax.adamw(η, wd) applied by hand to the engine's own full-batch objective.

    Reference: a plain loop over optax.adamw on mean((f − y)²) with f = (g(θ) − g(θ₀))/γ, from
    the engine's θ₀. Same operations up to association order, so round-off only (float64: 1e-12
    over 30 steps of an O(1) loss)."""
    x, y = _regression()
    task = sims.array_task(x, y)
    eta, wd, gamma = 1e-2, 0.5, 2.0
    tx = optax.chain(optax.scale_by_adam(b1=0.9, b2=0.98), optax.add_decayed_weights(wd))
    cfg = BASE.replace(task=task, input_dim=None, full_batch=True, num_steps=30, log_every=1,
                       optimizer=tx, mup_steps="none", optimizer_label="adamw")
    r = sims.train(cfg, gamma=gamma, eta=eta)
    model, _ = sims.resolve(cfg)
    p0 = r.params0
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    g0 = model.apply(p0, xj)

    def loss(p):
        return jnp.mean(((model.apply(p, xj) - g0) / gamma - yj) ** 2)

    ref = optax.adamw(eta, b1=0.9, b2=0.98, weight_decay=wd)
    p, state, curve = p0, ref.init(p0), []
    for _ in range(30):
        curve.append(float(loss(p)))
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts and floats
            upd, state = ref.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, upd)
    curve.append(float(loss(p)))
    assert curve[-1] < 0.9 * curve[0]  # it trains
    np.testing.assert_allclose(r.test_loss, curve, rtol=1e-12, atol=0)


def test_readout_only_is_linear_regression_on_frozen_features():
    r"""``trainable="readout"`` freezes every hidden weight bit for bit, and the training loss
    follows the exact linear recursion of GD on the readout:
    :math:`f_{t+1} = f_t - \frac{2\eta}{nC\gamma^2 N}\Phi\Phi^\top(f_t - y)` (μP readout 1/N,
    step Nη, MSE mean over n samples and C outputs). NumPy float64 reference; round-off only."""
    x, y = _regression()
    cfg = BASE.replace(task=sims.array_task(x, y), input_dim=None, full_batch=True, num_steps=25,
                       log_every=1, trainable="readout")
    gamma, eta = 0.5, 0.4
    r = sims.train(cfg, gamma=gamma, eta=eta, keep_params=True)
    w0 = r.params_log["w"][0]
    assert np.array_equal(w0[0], w0[-1])  # hidden layer frozen exactly
    assert not np.array_equal(r.params_log["w"][1][0], r.params_log["w"][1][-1])
    model, _ = sims.resolve(cfg)
    phi = np.asarray(model.features(r.params0, jnp.asarray(x)))
    n, C = y.shape
    N = cfg.width
    f, curve = np.zeros_like(y), []
    for _ in range(cfg.num_steps + 1):
        curve.append(np.mean((f - y) ** 2))
        f = f - 2 * eta / (n * C * gamma**2 * N) * phi @ (phi.T @ (f - y))
    assert curve[-1] < 0.9 * curve[0]
    np.testing.assert_allclose(r.test_loss, curve, rtol=1e-12)


def test_uncentred_output_starts_at_g0_over_gamma():
    """``centred=False``: f = g(θ)/γ, so the loss at step 0 is mean((g(θ₀)/γ − y)²), not
    mean(y²); the centred run starts at mean(y²) exactly (f ≡ 0 at θ₀)."""
    x, y = _regression()
    task = sims.array_task(x, y)
    cfg = BASE.replace(task=task, input_dim=None, full_batch=True, num_steps=5, log_every=5)
    gamma = 0.25
    unc = sims.train(cfg.replace(centred=False), gamma=gamma, eta=0.05)
    cen = sims.train(cfg, gamma=gamma, eta=0.05)
    model, _ = sims.resolve(cfg)
    g0 = np.asarray(model.apply(unc.params0, jnp.asarray(x)))
    assert np.abs(g0).max() > 1e-3  # the two conventions differ on this draw
    np.testing.assert_allclose(unc.test_loss[0], np.mean((g0 / gamma - y) ** 2), rtol=1e-13)
    assert cen.test_loss[0] == pytest.approx(np.mean(y**2), rel=1e-15)
    lin = sims.train(cfg.replace(centred=False, linearize=True), gamma=gamma, eta=0.05)
    assert lin.test_loss[0] == pytest.approx(unc.test_loss[0], rel=1e-13)


def test_array_task_labels_identity_and_fingerprint():
    """Integer labels become a one-hot classification task; identity is the data's hash, which
    the config's record (and so a sweep's fingerprint) carries."""
    x, _ = _regression(n=30)
    labels = np.arange(30) % 3
    t = sims.array_task(x, labels)
    assert t.classification and t.output_dim == 3
    assert t == sims.array_task(x.copy(), labels.copy())
    other = sims.array_task(x, (labels + 1) % 3)
    assert t != other
    d1 = BASE.replace(task=t, input_dim=None).to_dict()["task"]
    d2 = BASE.replace(task=other, input_dim=None).to_dict()["task"]
    assert d1["sha256"] != d2["sha256"] and d1["train_size"] == 30
    r = sims.train(BASE.replace(task=t, input_dim=None, loss="xent", full_batch=True, num_steps=10),
                   gamma=1.0, eta=1.0)
    assert r.accuracy is not None and np.all((r.accuracy >= 0) & (r.accuracy <= 1))


def test_default_config_record_unchanged():
    """Fields added for the one training stack are recorded only when set, so results files
    written before them keep their fingerprint (resuming them still works)."""
    keys = set(sims.SweepConfig().to_dict())
    assert not keys & {"mup_steps", "optimizer_label", "trainable", "centred"}
    assert {"mup_steps", "trainable"} <= set(
        sims.SweepConfig(mup_steps="none", trainable="readout").to_dict())


def test_run_cells_keeps_params_and_matches_train():
    """``run_cells`` is the batched primitive: its cells equal ``train`` of the same cell (to
    round-off: vmapped and single-cell programs may order reductions differently; float64,
    40 steps of an O(1) loss: 1e-12), and the kept parameters at the last log point are
    exactly the final parameters."""
    out = sims.run_cells(BASE, gamma=[1.0, 4.0], eta=[0.05, 0.2], seed=[0, 3], keep_params=True,
                         return_params=True)
    one = sims.train(BASE, gamma=4.0, eta=0.2, seed=3, keep_params=True)
    np.testing.assert_allclose(out["loss"][1], one.loss, rtol=1e-12)
    for a, b, c in zip(jax.tree.leaves(out["params_log"]), jax.tree.leaves(one.params_log),
                       jax.tree.leaves(out["params"]), strict=True):
        np.testing.assert_allclose(a[1], b, rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(a[:, -1], c)
    assert out["params_log"]["w"][0].shape == (2, len(out["steps"]), 8, 32)


def test_scale_by_mup_freezes_exactly():
    """A ``None`` multiplier gives an exact zero update even for an infinite gradient (0·inf
    would be NaN); other leaves are scaled."""
    tx = sims.scale_by_mup({"a": None, "b": 3.0})
    g = {"a": jnp.array([jnp.inf, 1.0]), "b": jnp.array([1.0, -2.0])}
    upd, _ = tx.update(g, tx.init(g))
    np.testing.assert_array_equal(upd["a"], [0.0, 0.0])
    np.testing.assert_array_equal(upd["b"], [3.0, -6.0])


BAD = [
    (lambda: sims.SweepConfig(optimizer=optax.identity()), ValueError, r"set mup_steps"),
    (lambda: sims.SweepConfig(mup_steps="lars"), ValueError, r"mup_steps must be one of"),
    (lambda: sims.SweepConfig(optimizer="sgd", optimizer_label="x"), ValueError,
     r"optimizer_label names a custom"),
    (lambda: sims.SweepConfig(optimizer=object()), ValueError, r"unknown optimizer"),
    (lambda: sims.SweepConfig(optimizer=optax.identity(), mup_steps="sgd", momentum=0.5),
     ValueError, r"momentum is an option of the built-in optimizers"),
    (lambda: sims.SweepConfig(trainable="hidden"), ValueError, r"unknown trainable"),
    (lambda: sims.SweepConfig(centred=1), TypeError, r"centred must be True or False"),
    (lambda: sims.SweepConfig(task=sims.array_task(np.ones((4, 2)), np.ones(4)),
                              task_options={"noise": 0.1}), ValueError,
     r"task_options are options of a named task"),
    (lambda: sims.SweepConfig(task="nonsense"), ValueError, r"unknown task 'nonsense'"),
    (lambda: sims.SweepConfig(task=sims.array_task(np.ones((4, 2)), np.ones(4)), input_dim=3),
     ValueError, r"input_dim=3 differs"),
    (lambda: sims.SweepConfig(task=sims.array_task(np.ones((4, 2)), np.ones(4)), loss="xent"),
     ValueError, r"loss='xent' needs a classification task"),
    (lambda: sims.SweepConfig(model=sims.from_apply(lambda p, x: x @ p, lambda k, d: jnp.ones(
        (16, 1), d)), trainable="readout"), ValueError, r"pass readout=fn"),
    (lambda: sims.array_task(np.ones((4, 2)), np.ones(3)), ValueError, r"one row per input"),
    (lambda: sims.array_task(np.ones(4), np.ones(4)), ValueError, r"x_train must be \(n, D\)"),
    (lambda: sims.array_task(np.ones((4, 2)), np.array([0, 1, 2, -1])), ValueError,
     r"labels must lie in"),
    (lambda: sims.array_task(np.ones((4, 2)), np.ones(4), np.ones((2, 3)), np.ones(2)),
     ValueError, r"x_test must have the inputs' shape"),
    (lambda: sims.array_task(np.ones((4, 2)), np.ones(4), np.ones((2, 2))), ValueError,
     r"give both x_test and y_test"),
    (lambda: sims.array_task(np.full((4, 2), np.nan), np.ones(4)), ValueError,
     r"x_train must be finite"),
    (lambda: sims.array_task(np.ones((4, 2)), np.ones(4), classes=3), ValueError,
     r"classes is for integer labels"),
    (lambda: sims.array_task(np.ones((4, 2)), np.arange(4), np.ones((2, 2)), np.ones(2)),
     TypeError, r"must both be integer labels or both real"),
    (lambda: sims.train(BASE, keep_params=1), TypeError, r"keep_params must be True or False"),
    (lambda: sims.SweepConfig(augment="crop"), TypeError, r"augment must be a callable"),
    (lambda: sims.SweepConfig(augment=lambda k, x: x[:, :3]), ValueError,
     r"augment\(key, x\) must return a batch of the input shape \(2, 16\)"),
    (lambda: sims.SweepConfig(augment=lambda x: x), ValueError, r"augment\(key, x\) failed"),
    (lambda: sims.crop_flip(padding=-1), ValueError, r"padding must be an integer >= 0"),
    (lambda: sims.crop_flip(flip="yes"), TypeError, r"flip must be True or False"),
    (lambda: sims.sweep(BASE.replace(optimizer=optax.identity(), mup_steps="sgd"),
                        path="/tmp/x.nc"), ValueError, r"needs optimizer_label"),
]


@pytest.mark.parametrize("fn, exc, match", BAD)
def test_bad_options_are_refused(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("name", ["run_cells", "scaled_sweep"])
def test_old_analysis_names_warn_and_forward_to_sims(name):
    """run_cells/scaled_sweep moved to lazyrich.sims (the training stack); the old names in
    lazyrich.analysis warn once per use and return the same function."""
    import lazyrich.analysis as an

    with pytest.warns(DeprecationWarning, match=rf"lazyrich\.analysis\.{name} is deprecated .* "
                                                rf"lazyrich\.sims\.{name}"):
        obj = getattr(an, name)
    assert obj is getattr(sims, name)
    assert name not in an.__all__


def test_readme_training_stack_example_runs():
    """The README's "One training stack" example runs as written (on small arrays, fewer
    steps) and returns what it says: (cell, step) curves and parameters at every log point."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    block = text.split("**One training stack.**", 1)[1]
    code = re.search(r"```python\n(.*?)```", block, flags=re.S).group(1)
    code = code.replace("num_steps=2000, log_every=100", "num_steps=20, log_every=10")
    rng = np.random.default_rng(0)
    ns = {"x_train": rng.normal(size=(30, 6)), "labels_train": np.arange(30) % 3,
          "x_test": rng.normal(size=(12, 6)), "labels_test": np.arange(12) % 3}
    exec(compile(code, "README.md", "exec"), ns)
    out = ns["out"]
    assert out["test_loss"].shape == (3, 3) and out["accuracy"].shape == (3, 3)
    assert out["params_log"]["w"][0].shape == (3, 3, 6, 256)
    assert not out["diverged"].any()


def test_crop_flip_is_a_padded_crop_and_a_mirror():
    """Every augmented image is one of the (2p+1)² crops of the zero-padded image, mirrored or
    not (brute force over all of them), offsets and flips vary across the batch, and the batch
    keeps its shape."""
    p = 2
    x = jax.random.normal(jax.random.key(0), (64, 5, 6, 2), jnp.float64)
    out = np.asarray(sims.crop_flip(padding=p)(jax.random.key(1), x))
    assert out.shape == x.shape
    xp = np.pad(np.asarray(x), ((0, 0), (p, p), (p, p), (0, 0)))
    seen = set()
    for i in range(x.shape[0]):
        hits = [(a, b, f) for a in range(2 * p + 1) for b in range(2 * p + 1) for f in (0, 1)
                if np.array_equal(out[i], (lambda c: c[:, ::-1] if f else c)(
                    xp[i, a:a + 5, b:b + 6]))]
        assert hits, f"image {i} is not a crop/flip of its input"
        seen.add(hits[0])
    assert len(seen) > 10  # random, not one fixed transform
    assert np.array_equal(sims.crop_flip(0, flip=False)(jax.random.key(2), x), x)


def test_augment_reaches_training_batches_only():
    """An identity augmentation changes nothing (bit for bit, online SGD); a real one changes
    the trajectory but not the test-set evaluation at step 0."""
    cfg = sims.SweepConfig(model="convnet", depth=4, width=4, task="digits", padding="SAME",
                           task_options={"test_size": 100}, num_steps=6, log_every=3,
                           batch_size=16, loss="xent", dtype="float64")
    base = sims.train(cfg, gamma=1.0, eta=0.5)
    same = sims.train(cfg.replace(augment=lambda key, x: x), gamma=1.0, eta=0.5)
    np.testing.assert_array_equal(base.test_loss, same.test_loss)
    aug = sims.train(cfg.replace(augment=sims.crop_flip(1)), gamma=1.0, eta=0.5)
    assert aug.test_loss[0] == base.test_loss[0]
    assert not np.array_equal(aug.loss, base.loss)
    assert cfg.replace(augment=sims.crop_flip(1)).to_dict()["augment"] == (
        "crop_flip(padding=1, flip=True)")


def test_schedule_and_clipping_compose_with_the_mup_steps():
    r"""An optax schedule before the μP multipliers gives the step :math:`N\eta\,s_t`: the
    readout-only linear recursion with :math:`\eta_t = \eta/(1 + t/3)` holds exactly; a
    global-norm clip that never binds (huge bound) changes nothing."""
    x, y = _regression()
    sched = optax.scale_by_schedule(lambda t: 1.0 / (1.0 + t / 3.0))
    cfg = BASE.replace(task=sims.array_task(x, y), input_dim=None, full_batch=True, num_steps=12,
                       log_every=1, trainable="readout", optimizer=sched, mup_steps="sgd",
                       optimizer_label="1/(1+t/3)")
    gamma, eta = 0.5, 0.4
    r = sims.train(cfg, gamma=gamma, eta=eta)
    model, _ = sims.resolve(cfg)
    phi = np.asarray(model.features(r.params0, jnp.asarray(x)))
    n, C = y.shape
    f, curve = np.zeros_like(y), []
    for t in range(cfg.num_steps + 1):
        curve.append(np.mean((f - y) ** 2))
        eta_t = eta / (1 + t / 3)
        f = f - 2 * eta_t / (n * C * gamma**2 * cfg.width) * phi @ (phi.T @ (f - y))
    np.testing.assert_allclose(r.test_loss, curve, rtol=1e-12)
    clipped = sims.train(cfg.replace(optimizer=optax.chain(optax.clip_by_global_norm(1e9),
                                                           sched)), gamma=gamma, eta=eta)
    np.testing.assert_array_equal(clipped.test_loss, r.test_loss)


def test_sweep_is_run_cells_on_a_grid():
    """A sweep's chunk and ``run_cells`` on the same cells go through one compiled primitive:
    bit-identical curves, in the sweep's C order (gamma, eta, seed)."""
    ds = sims.sweep(BASE, gamma=[1.0, 2.0], eta=[0.05], seeds=[0, 1], chunk_size=4)
    out = sims.run_cells(BASE, gamma=[1.0, 1.0, 2.0, 2.0], eta=0.05, seed=[0, 1, 0, 1])
    np.testing.assert_array_equal(ds["loss"].values.reshape(4, -1), out["loss"])
    np.testing.assert_array_equal(ds["test_loss"].values.reshape(4, -1), out["test_loss"])
    one = sims.run_cells(BASE, gamma=[1.0, 1.0, 2.0, 2.0], eta=0.05, seed=[0, 1, 0, 1],
                         devices=1)  # unsharded: the same numbers up to reduction order
    np.testing.assert_allclose(one["loss"], out["loss"], rtol=1e-12)
    with pytest.raises(ValueError, match="devices must be between 1 and"):
        sims.run_cells(BASE, gamma=1.0, devices=0)


def test_steps_is_the_deprecated_name_of_num_steps(tmp_path, capsys):
    """``num_steps`` is the one name for T. ``SweepConfig(steps=...)``, ``replace(steps=...)``,
    ``cfg.steps``, ``lazyrich sweep --steps`` and results files whose recorded config says
    ``steps`` keep working for one release (the code warns, the CLI says so on stderr)."""
    import json

    import xarray as xr

    from lazyrich.cli import main
    from lazyrich.sims._results import write_atomic

    with pytest.warns(DeprecationWarning, match="use num_steps"):
        cfg = sims.SweepConfig(steps=7)
    assert cfg.num_steps == 7
    with pytest.warns(DeprecationWarning, match="use num_steps"):
        assert cfg.replace(steps=9).num_steps == 9
    with pytest.warns(DeprecationWarning, match="SweepConfig.steps is deprecated"):
        assert cfg.steps == 7
    with pytest.raises(TypeError, match="give num_steps only"):
        sims.SweepConfig(steps=3, num_steps=4)
    # a results file written before the rename resumes (fingerprint config with "steps")
    path = tmp_path / "old.nc"
    small = BASE.replace(num_steps=4, log_every=2)
    ds = sims.sweep(small, gamma=[1.0], eta=[0.05], path=str(path))
    with xr.open_dataset(path, engine="h5netcdf") as f:
        old = f.load()
    fp = json.loads(old.attrs["lazyrich_fingerprint"])
    fp["config"]["steps"] = fp["config"].pop("num_steps")
    old.attrs["lazyrich_fingerprint"] = json.dumps(fp, sort_keys=True)
    write_atomic(old, str(path))
    again = sims.sweep(small, gamma=[1.0], eta=[0.05], path=str(path))
    np.testing.assert_array_equal(again["loss"].values, ds["loss"].values)
    out = tmp_path / "cli.nc"
    assert main(["sweep", "--out", str(out), "--depth", "2", "--width", "8", "--input-dim", "4",
                 "--steps", "3", "--batch-size", "4", "--log-every", "3", "--dtype", "float64",
                 "--no-progress", "--set", 'task_options={"test_size": 16}']) == 0
    assert "'steps' is deprecated, use 'num_steps'" in capsys.readouterr().err
    assert json.loads(xr.open_dataset(out, engine="h5netcdf").attrs["config"])["num_steps"] == 3


def test_sp_steps_are_the_standard_parametrisation():
    r"""``parametrization="ntk", mup_steps="sp"`` is the standard parametrisation: the effective
    weights :math:`W/\sqrt{\text{fan-in}}` (readout included) move by exactly η times the
    gradient with respect to themselves (reference: plain GD on the effective weights, JAX
    autodiff of the same loss; float64 round-off over 5 steps)."""
    import jax

    x, y = _regression()
    cfg = BASE.replace(task=sims.array_task(x, y), input_dim=None, full_batch=True, num_steps=5,
                       log_every=1, parametrization="ntk", mup_steps="sp", centred=False)
    eta = 0.05
    r = sims.train(cfg, gamma=1.0, eta=eta, keep_params=True)
    fans = [w.shape[0] for w in r.params0["w"]]
    eff = [jnp.asarray(w) / np.sqrt(f) for w, f in zip(r.params0["w"], fans, strict=True)]
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def loss(ws):
        return jnp.mean((jax.nn.relu(xj @ ws[0]) @ ws[1] - yj) ** 2)

    for t in range(1, 6):
        eff = [w - eta * g for w, g in zip(eff, jax.grad(loss)(eff), strict=True)]
        got = [r.params_log["w"][i][t] / np.sqrt(fans[i]) for i in range(2)]
        for a, b in zip(got, eff, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
