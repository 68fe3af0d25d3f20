"""Models, tasks, optimizers and data files of lazyrich.sims (Atanasov et al. 2025;
docs: Gamma scaling)."""

import gzip
import math
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lazyrich import sims

BASE = sims.SweepConfig(depth=2, width=32, input_dim=8, num_steps=60, batch_size=16, log_every=10,
                        dtype="float64")


def test_mlp_forward_matches_formula():
    """The μP MLP: h¹ = W⁰x/√D, h² = W¹φ(h¹)/√N, g = w φ(h²)/N, written out by hand."""
    m = sims.MLP(depth=3, hidden=16, input_dim=5, output_dim=2)
    p = m.init(jax.random.key(1), jnp.float64)
    x = jax.random.normal(jax.random.key(2), (7, 5), dtype=jnp.float64)
    W0, W1, W2 = p["w"]
    h1 = x @ W0 / math.sqrt(5)
    h2 = jax.nn.relu(h1) @ W1 / math.sqrt(16)
    ref = jax.nn.relu(h2) @ W2 / 16
    np.testing.assert_allclose(m.apply(p, x), ref, rtol=1e-14)
    # N(0,1) entries
    allw = np.concatenate([np.ravel(w) for w in p["w"]])
    assert abs(allw.std() - 1) < 0.1
    # homogeneity of degree L: g(cθ) = c^L g(θ)
    c = 1.7
    np.testing.assert_allclose(m.apply(jax.tree.map(lambda a: c * a, p), x), c**3 * ref, rtol=1e-13)
    assert m.degree == 3 and sims.MLP(3, 16, 5, bias=True).degree is None


def test_convnet_shapes_homogeneity_and_conv():
    """The authors' CNN: flattened dim 6·6·2N at 32×32 and 5·5·2N at 28×28; degree-4 homogeneous;
    its im2col convolution equals lax.conv_general_dilated divided by √C_in."""
    assert sims.ConvNet((32, 32, 3), 4)._flat() == 6 * 6 * 8
    assert sims.ConvNet((28, 28, 1), 4)._flat() == 5 * 5 * 8
    with pytest.raises(ValueError, match="too small"):
        sims.ConvNet((8, 8, 1), 4)
    for pad, shape in (("SAME", (8, 8, 2)), ("VALID", (10, 10, 1))):
        m = sims.ConvNet(shape, 4, padding=pad)
        p = m.init(jax.random.key(0), jnp.float64)
        x = jax.random.normal(jax.random.key(1), (3, *shape), dtype=jnp.float64)
        ref = jax.lax.conv_general_dilated(x, p["conv1"], (1, 1), pad,
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(m._conv(x, p["conv1"]), ref / math.sqrt(shape[2]), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(m.apply(jax.tree.map(lambda a: 2 * a, p), x),
                                   16 * m.apply(p, x), rtol=1e-12)


def test_convnet_activation_is_every_phi_and_only_relu_keeps_homogeneity():
    """``ConvNet(activation=φ)`` applies φ after each of its three hidden layers: with the
    convolutions written out by ``lax.conv_general_dilated`` (an independent implementation) the
    outputs agree to round-off for erf and tanh; ReLU and linear keep degree 4, erf has none;
    SweepConfig passes its ``activation`` to the ConvNet and an unknown name is refused."""
    from jax.scipy.special import erf

    shape = (8, 8, 2)
    x = jax.random.normal(jax.random.key(1), (3, *shape), dtype=jnp.float64)

    def reference(p, phi):
        def conv(h, w):
            return jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=(
                "NHWC", "HWIO", "NHWC")) / math.sqrt(w.shape[2])

        def pool(h):
            return jax.lax.reduce_window(h, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1),
                                         "VALID") / 4

        h = pool(phi(conv(x, p["conv1"])))
        h = pool(phi(conv(h, p["conv2"]))).reshape(len(x), -1)
        h = phi(h @ p["dense"] / math.sqrt(h.shape[1]))
        return h @ p["readout"] / p["readout"].shape[0]

    for name, phi in (("erf", erf), ("tanh", jnp.tanh), ("relu", jax.nn.relu)):
        m = sims.ConvNet(shape, 4, output_dim=3, padding="SAME", activation=name)
        p = m.init(jax.random.key(0), jnp.float64)
        np.testing.assert_allclose(m.apply(p, x), reference(p, phi), rtol=1e-12, atol=1e-14)
    assert sims.ConvNet(shape, 4, padding="SAME", activation="linear").degree == 4
    assert sims.ConvNet(shape, 4, padding="SAME", activation="erf").degree is None
    with pytest.raises(ValueError, match="unknown activation 'swish2'"):
        sims.ConvNet(shape, 4, padding="SAME", activation="swish2")
    cfg = sims.SweepConfig(model="convnet", depth=4, width=4, padding="SAME", task="digits",
                           activation="erf")
    assert sims.resolve(cfg)[0].activation == "erf"
    with pytest.raises(ValueError, match="option of model='mlp' and 'convnet' only"):
        sims.SweepConfig(model="deep-linear", activation="erf")


@pytest.mark.slow
def test_convnet_trains_on_digits_with_cross_entropy():
    """The authors' CNN (padding SAME for 8×8 digits) learns: accuracy well above chance (0.1)."""
    cfg = sims.SweepConfig(model="convnet", depth=4, width=4, padding="SAME", task="digits",
                           loss="xent", num_steps=60, batch_size=32, log_every=30, dtype="float32")
    r = sims.train(cfg, gamma=1.0, eta=0.5)
    assert r.accuracy is not None and r.accuracy[-1] > 0.3
    assert r.test_loss[-1] < r.test_loss[0]


def test_flax_cnn_is_centred_gamma_scaled_and_swept():
    """A small flax linen CNN goes through the same engine: f = 0 at init, and the γ ↔
    init-scale identity holds because the model is bias-free ReLU (degree 2)."""
    import flax.linen as nn

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(4, (3, 3), use_bias=False)(x))
            x = x.reshape(x.shape[0], -1)
            return nn.Dense(10, use_bias=False)(x)

    model = sims.from_flax(CNN(), np.zeros((1, 8, 8, 1)), width=4, degree=2)
    cfg = sims.SweepConfig(model=model, task="digits", task_options={"image": True}, num_steps=40,
                           batch_size=32, log_every=10, dtype="float64")
    # one compiled sweep holds both sides of the identity: (γ=4, η) and (1, η/4, θ₀/2)
    ds = sims.sweep(cfg, gamma=[1.0, 4.0], eta=[0.0125, 0.05], init_scale=[0.5, 1.0], seeds=[0],
                    devices=1)
    assert ds["loss"].shape == (2, 2, 2, 1, 5) and "accuracy" in ds
    assert np.all(ds["test_loss"].isel(step=0) == ds["test_loss"].isel(step=0)[0, 0, 0, 0])
    a = ds["test_loss"].sel(gamma=4.0, eta=0.05, init_scale=1.0)
    b = ds["test_loss"].sel(gamma=1.0, eta=0.0125, init_scale=0.5)
    assert float(a.isel(step=-1, seed=0)) < 0.9 * float(a.isel(step=0, seed=0))  # it trains
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_nnx_model_and_custom_apply():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(8, 16, use_bias=False, rngs=rngs)
            self.l2 = nnx.Linear(16, 1, use_bias=False, rngs=rngs)

        def __call__(self, x):
            return self.l2(jax.nn.relu(self.l1(x)))

    m = sims.from_flax(lambda rngs: Net(rngs), np.zeros((1, 8)), width=16)
    r = sims.train(BASE.replace(model=m), gamma=1.0, eta=0.002)
    assert np.all(np.isfinite(r.loss)) and r.test_loss[-1] < r.test_loss[0]
    custom = sims.from_apply(lambda p, x: jnp.tanh(x @ p["a"]) @ p["b"] / 32,
                             lambda k, dt: {"a": jax.random.normal(k, (8, 32), dt),
                                            "b": jax.random.normal(jax.random.fold_in(k, 1),
                                                                   (32, 1), dt)}, width=32)
    r2 = sims.train(BASE.replace(model=custom), gamma=1.0, eta=0.01)
    assert r2.test_loss[-1] < r2.test_loss[0]
    with pytest.raises(TypeError, match="flax"):
        sims.from_flax(3, np.zeros((1, 8)))


@pytest.mark.parametrize("opt", ["momentum", "adam", "signsgd"])
def test_optax_optimizers_with_mup_rates(opt):
    """The optax path with per-layer μP rates (N for momentum; 1, 1/√N, 1 for
    Adam and SignSGD) equals a hand-written update."""
    cfg = BASE.replace(optimizer=opt, depth=3, num_steps=5, log_every=1)
    eta = 1e-3
    r = sims.train(cfg, gamma=1.0, eta=eta)
    # hand-written reference on the same stream
    m = sims.MLP(3, 32, 8)
    task = sims.make_task("single-index", input_dim=8)
    data = task.build(0, jnp.float64)
    p0 = m.init(jax.random.fold_in(jax.random.key(0), 0), jnp.float64)
    p = p0
    stream = jax.random.fold_in(jax.random.key(0), 3)
    rates = {"momentum": [32.0] * 3, "adam": [1.0, 1 / math.sqrt(32), 1.0],
             "signsgd": [1.0, 1 / math.sqrt(32), 1.0]}[opt]
    mom = [jnp.zeros_like(w) for w in p["w"]]
    nu = [jnp.zeros_like(w) for w in p["w"]]
    losses = []
    for t in range(5):
        x, y = task.batch(data, jax.random.fold_in(stream, t), 16)

        def loss(q, x=x, y=y):  # this step's batch, bound now
            return jnp.mean((m.apply(q, x) - m.apply(p0, x) - y) ** 2)

        lv, g = jax.value_and_grad(loss)(p)
        losses.append(float(lv))
        new = []
        for i, (w, gw) in enumerate(zip(p["w"], g["w"], strict=True)):
            if opt == "momentum":
                mom[i] = gw + 0.9 * mom[i]
                u = mom[i]
            elif opt == "adam":
                mom[i] = 0.9 * mom[i] + 0.1 * gw
                nu[i] = 0.999 * nu[i] + 0.001 * gw**2
                mhat = mom[i] / (1 - 0.9 ** (t + 1))
                u = mhat / (jnp.sqrt(nu[i] / (1 - 0.999 ** (t + 1))) + 1e-8)
            else:
                u = jnp.sign(gw)
            new.append(w - eta * rates[i] * u)
        p = {"w": tuple(new)}
    np.testing.assert_allclose(r.loss[:5], losses, rtol=1e-10)


def test_tasks_shapes_and_statistics():
    t = sims.make_task("staircase", input_dim=8, singular_values=(3.0, 1.0, 0.3))
    d = t.build(0, jnp.float64)
    W = np.asarray(d["teacher"]["W"])
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), [3.0, 1.0, 0.3], rtol=1e-12)
    for name in ("linear", "single-index", "multi-index", "random-mlp"):
        task = sims.make_task(name, input_dim=16)
        x, y = task.batch(task.build(0, jnp.float64), jax.random.key(5), 4096)
        assert x.shape == (4096, 16) and y.shape == (4096, 1)
        # whitened inputs: sample covariance ≈ I within 4/√n per entry
        assert np.max(np.abs(np.cov(np.asarray(x).T) - np.eye(16))) < 4 / math.sqrt(4096) * 2
        assert 0.2 < float(jnp.var(y)) < 3.0
    gm = sims.make_task("gaussian-mixture", input_dim=8, classes=4)
    x, y = gm.batch(gm.build(0, jnp.float64), jax.random.key(0), 64)
    assert y.shape == (64, 4) and np.all(np.asarray(y).sum(1) == 1)
    mod = sims.make_task("modular", modulus=7)
    d = mod.build(0, jnp.float64)
    a = np.argmax(np.asarray(d["train_x"])[:, :7], 1)
    b = np.argmax(np.asarray(d["train_x"])[:, 7:], 1)
    np.testing.assert_array_equal(np.argmax(np.asarray(d["train_y"]), 1), (a + b) % 7)
    assert d["train_x"].shape[0] + d["test_x"].shape[0] == 49
    dig = sims.make_task("digits")
    dd = dig.build(0, jnp.float64)
    assert dd["train_x"].shape == (1437, 64) and dd["test_x"].shape == (360, 64)
    # exact whitening of a finite training set
    w = sims.make_task("linear", input_dim=8, train_size=32, whiten=True).build(0, jnp.float64)
    X = np.asarray(w["train_x"])
    np.testing.assert_allclose(X.T @ X / 32, np.eye(8), atol=1e-12)


def test_task_errors():
    with pytest.raises(ValueError, match="unknown task"):
        sims.make_task("imagenet")
    with pytest.raises(ValueError, match="data_dir"):
        sims.make_task("mnist")
    with pytest.raises(ValueError, match="input_dim 64"):
        sims.make_task("digits", input_dim=10)
    with pytest.raises(ValueError, match="finite training set"):
        sims.train(BASE.replace(full_batch=True))
    with pytest.raises(ValueError, match="classification"):
        sims.train(BASE.replace(loss="xent"))


def _write_idx(path, arr, gz):
    arr = np.asarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 8, arr.ndim]) + np.asarray(arr.shape, dtype=">i4").tobytes()
    data = head + arr.tobytes()
    if gz:
        with gzip.open(path + ".gz", "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def test_mnist_and_cifar_loaders(tmp_path, rng):
    """Standard formats, written here: IDX (plain and .gz) and the CIFAR-10 python batches."""
    mdir = tmp_path / "mnist"
    mdir.mkdir()
    xtr = rng.integers(0, 256, (20, 28, 28))
    ytr = rng.integers(0, 10, 20)
    _write_idx(str(mdir / "train-images-idx3-ubyte"), xtr, gz=True)
    _write_idx(str(mdir / "train-labels-idx1-ubyte"), ytr, gz=False)
    _write_idx(str(mdir / "t10k-images-idx3-ubyte"), xtr[:5], gz=False)
    _write_idx(str(mdir / "t10k-labels-idx1-ubyte"), ytr[:5], gz=True)
    from lazyrich.sims._data_files import load_cifar10, load_mnist

    a, b, c, d = load_mnist(str(mdir))
    np.testing.assert_array_equal(a[..., 0], xtr)
    np.testing.assert_array_equal(b, ytr)
    assert c.shape == (5, 28, 28, 1)
    cdir = tmp_path / "cifar-10-batches-py"
    cdir.mkdir()
    imgs = {}
    for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (4, 3072)).astype(np.uint8)
        imgs[n] = x
        with open(cdir / n, "wb") as f:
            pickle.dump({b"data": x, b"labels": list(range(4))}, f)
    xa, ya, xt, yt = load_cifar10(str(tmp_path))
    assert xa.shape == (20, 32, 32, 3) and yt.shape == (4,)
    # channel layout: row r of CIFAR is 1024 R, then G, then B values
    np.testing.assert_array_equal(xa[0, :, :, 1].ravel(), imgs["data_batch_1"][0, 1024:2048])
    # through the task, with an MLP
    cfg = sims.SweepConfig(task="mnist", task_options={"data_dir": str(mdir)}, width=16,
                           num_steps=10, batch_size=4, log_every=5, dtype="float64")
    r = sims.train(cfg, gamma=1.0, eta=0.01)
    assert r.accuracy.shape == r.loss.shape
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x01abc")
    for n in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (bad / n).write_bytes(b"")
    with pytest.raises(ValueError, match="bad magic"):
        load_mnist(str(bad))
    with pytest.raises(FileNotFoundError, match="python batches"):
        load_cifar10(str(mdir))
    assert os.path.exists(mdir)


def test_wrapped_models_are_distinct_in_the_engine_cache():
    """Two from_apply models with identical metadata must not share a compiled engine."""
    import jax
    import jax.numpy as jnp

    from lazyrich import sims

    def init(k, dt):
        return {"a": jax.random.normal(k, (16, 8), dt)}

    m1 = sims.from_apply(lambda p, x: jnp.tanh(x @ p["a"])[:, :1], init, width=8)
    m2 = sims.from_apply(lambda p, x: jnp.sin(x @ p["a"])[:, :1], init, width=8)
    assert m1 != m2 and hash(m1) != hash(m2) and m1 == m1
    base = dict(task="single-index", num_steps=20, batch_size=8, dtype="float64", log_every=10)
    r1 = sims.train(sims.SweepConfig(model=m1, **base), gamma=1.0, eta=0.05)
    r2 = sims.train(sims.SweepConfig(model=m2, **base), gamma=1.0, eta=0.05)
    assert not (r1.diverged or r2.diverged)
    # different models ⇒ different trajectories (a shared engine would give identical ones)
    assert abs(float(r1.test_loss[-1]) - float(r2.test_loss[-1])) > 1e-6
