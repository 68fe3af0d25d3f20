"""lazyrich.sims refuses what it cannot compute: bad configs, seeds, options, dtypes and paths
raise ValueError/TypeError (or a file error) naming the argument and the expected value, and the
cases that used to go silently wrong now give the right answer."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr

from lazyrich import sims, theory
from lazyrich.sims._results import write_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tiny but complete: every check below trains (when it trains) in a second or two
TINY = dict(depth=2, width=8, input_dim=4, num_steps=5, batch_size=4, log_every=5, dtype="float64",
            task_options={"test_size": 16})
CFG = sims.SweepConfig(**TINY)


# ------------------------------------------------------------------ bad configs, one per case

BAD_CONFIGS = [
    # (fields, exception, regex naming the field and the expected value)
    ({"width": 0}, ValueError, r"width must be a positive integer, got 0"),
    ({"depth": 1.5}, ValueError, r"depth must be a positive integer, got 1.5"),
    ({"num_steps": "5"}, ValueError, r"num_steps must be a positive integer, got '5'"),
    ({"activation": "swish"}, ValueError, r"unknown activation 'swish'; expected one of .*'gelu'"),
    ({"task_options": {"nosie": 0.5}}, ValueError,
     r"unknown task option\(s\) \['nosie'\].*valid options are .*'noise'"),
    ({"task_options": {"test_size": -5}}, ValueError, r"test_size must be an integer >= 1, got -5"),
    ({"task_options": {"test_size": 2.5}}, ValueError, r"test_size must be an integer >= 1"),
    ({"task_options": {"test_size": "8"}}, TypeError, r"test_size must be an integer >= 1"),
    ({"task_options": {"noise": -0.1}}, ValueError, r"noise must be finite and >= 0, got -0.1"),
    ({"task_options": {"whiten": True}}, ValueError, r"whiten=True needs task option train_size"),
    ({"task_options": "noise=0.1"}, TypeError, r"task_options must be a dict"),
    ({"task": "staircase", "task_options": {"singular_values": []}}, ValueError,
     r"singular_values must hold at least one positive number"),
    ({"task": "gaussian-mixture", "task_options": {"noise": 0.1}}, ValueError,
     r"unknown task option\(s\) \['noise'\] for task 'gaussian-mixture'"),
    ({"task": "modular", "input_dim": None, "task_options": {"train_fraction": 1.0}}, ValueError,
     r"train_fraction must be finite and in \(0, 1\), got 1.0"),
    ({"task": "digits", "input_dim": None, "task_options": {"image": True}}, ValueError,
     r"model 'mlp' needs flat inputs: set task_options\['image'\] to False"),
    ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    ({"b2": -0.1}, ValueError, r"b2 must be in \[0, 1\)"),
    ({"adam_eps": 0.0}, ValueError, r"adam_eps must be finite and > 0, got 0.0"),
    # an option the optimizer does not read used to be ignored (sgd with momentum=0.5 is sgd)
    ({"momentum": 0.5}, ValueError,
     r"momentum is read only by optimizer 'momentum', but optimizer='sgd' would ignore it"),
    ({"optimizer": "momentum", "b1": 0.5}, ValueError,
     r"b1 is read only by optimizer 'adam', but optimizer='momentum' would ignore it"),
    ({"divergence_factor": 1.0}, ValueError, r"divergence_factor must be finite and > 1, got 1.0"),
    ({"gamma": float("nan")}, ValueError, r"gamma must be finite and > 0, got nan"),
    ({"bias": "False"}, TypeError, r"bias must be True or False, got 'False'"),
    ({"full_batch": 1}, TypeError, r"full_batch must be True or False, got 1"),
    ({"padding": "same"}, ValueError,
     r"unknown padding 'same'; expected one of \('VALID', 'SAME'\)"),
    ({"padding": "SAME"}, ValueError, r"padding='SAME' is an option of model='convnet' only"),
    ({"eta_scale": "linear"}, ValueError,
     r"unknown eta_scale 'linear'; expected one of \('smooth', 'piecewise'\)"),
    ({"model": "deep-linear", "activation": "tanh"}, ValueError,
     r"activation='tanh' is ignored by model='deep-linear'"),
    ({"model": "convnet", "task": "digits", "input_dim": None, "padding": "SAME"}, ValueError,
     r"model='convnet' has 4 weight layers: set depth=4"),
    ({"model": "convnet", "depth": 4}, ValueError,
     r"model='convnet' needs an image task, one of \('digits', 'mnist', 'cifar10'\)"),
    ({"loss": "xent"}, ValueError, r"loss='xent' needs a classification task, one of"),
    ({"full_batch": True}, ValueError, r"full_batch=True needs a finite training set"),
    ({"log_every": 1, "log_points": 3}, ValueError,
     r"give at most one of log_every and log_points"),
    ({"seed": -1}, ValueError,
     r"seed must be a non-negative integer in \[0, 2\*\*63 - 1\], got -1"),
    ({"seed": 2**63}, ValueError, r"seed must be a non-negative integer in \[0, 2\*\*63 - 1\]"),
    ({"seed": 1.5}, ValueError, r"seed must be a non-negative integer in \[0, 2\*\*63 - 1\]"),
    ({"seed": "0"}, TypeError, r"seed must be a non-negative integer in \[0, 2\*\*63 - 1\]"),
    ({"data_seed": -3}, ValueError, r"data_seed must be a non-negative integer in \[0, 2\*\*63"),
    # float32 cannot hold γ = 1e-40 (below its smallest normal 1.2e-38): refused, not "diverged"
    ({"dtype": "float32", "gamma": 1e-40}, ValueError,
     r"dtype='float32' cannot run the cell gamma=1e-40.*underflows float32"),
    # float32 round-off of g − g₀ is 1.2e-7 × 1/γ = 1.2e-2 at γ = 1e-5: above the 1e-3 floor
    ({"dtype": "float32", "gamma": 1e-5}, ValueError,
     r"gamma=1e-05.*round-off floor .* above 0.001; use dtype='float64'"),
]


@pytest.mark.parametrize("fields, exc, match", BAD_CONFIGS,
                         ids=[str(i) + "-" + "-".join(c[0]) for i, c in enumerate(BAD_CONFIGS)])
def test_bad_config_is_refused(fields, exc, match):
    with pytest.raises(exc, match=match):
        sims.SweepConfig(**{**TINY, **fields})


BAD_SWEEPS = [
    ({"seeds": [0, -1]}, ValueError, r"seeds must be non-negative integers in \[0, 2\*\*63 - 1\]"),
    ({"seeds": [2**64]}, ValueError, r"seeds must be non-negative integers in \[0, 2\*\*63 - 1\]"),
    ({"seeds": [0.5]}, ValueError, r"seeds must be non-negative integers"),
    ({"seeds": [1, 1]}, ValueError, r"seed has repeated values"),
    ({"cfg": {"optimizer": "momentum"}, "momentum": [0.5, 1.2]}, ValueError,
     r"momentum must be in \[0, 1\), got \[0.5, 1.2\]"),
    ({"b1": [0.5, 0.9]}, ValueError, r"b1 is read only by optimizer 'adam'"),
    ({"eta_hat": [0.0]}, ValueError, r"eta_hat must be finite and > 0"),
    ({"metrics": {"loss": lambda c: 0.0}}, ValueError, r"metric name 'loss' clashes"),
    ({"metrics": {"gamma": lambda c: 0.0}}, ValueError, r"metric name 'gamma' clashes"),
    ({"metrics": {"wnorm": 3.0}}, TypeError, r"metric 'wnorm' must be a callable"),
    ({"metrics": {"w norm": lambda c: 0.0}}, ValueError, r"metric names must be identifiers"),
    ({"shard": "2/2"}, ValueError, r"shard must be \(i, N\) with integers 0 <= i < N"),
    ({"shard": (0.5, 2)}, ValueError, r"shard must be \(i, N\) with integers 0 <= i < N"),
    ({"memory_budget": -1}, ValueError, r"memory_budget must be a positive number of bytes"),
    ({"devices": 0}, ValueError, r"devices must be between 1 and \d+ \(local devices\), got 0"),
    ({"devices": True}, TypeError, r"devices must be a number of local devices"),
    # η = η̂·s(γ) ≈ 1e-50 at γ = 1e-25: zero in float32. Refused, never a frozen "trained" cell
    ({"cfg": {"dtype": "float32"}, "gamma": [1e-25], "eta_hat": [1.0]}, ValueError,
     r"gamma=1e-25, eta=1e-50: eta = 1e-50 underflows float32"),
    ({"eta": [0.1], "eta_hat": [0.1]}, ValueError, r"give eta or eta_hat, not both"),
]


@pytest.mark.parametrize("kw, exc, match", BAD_SWEEPS,
                         ids=[str(i) + "-" + "-".join(c[0]) for i, c in enumerate(BAD_SWEEPS)])
def test_bad_sweep_arguments_are_refused(kw, exc, match):
    kw = dict(kw)
    cfg = CFG.replace(**kw.pop("cfg", {}))
    with pytest.raises(exc, match=match):
        sims.sweep(cfg, **kw)


BAD_CALLS = [
    (lambda: sims.train(CFG, seed=2**63), ValueError, r"seed must be a non-negative integer"),
    (lambda: sims.train(CFG, lr=0.1), ValueError, r"unknown hyperparameter\(s\) \['lr'\]"),
    (lambda: sims.train(CFG, metrics=[lambda c: 0.0]), TypeError, r"metrics must be a dict"),
    (lambda: sims.train("mlp"), TypeError, r"cfg must be a lazyrich.sims.SweepConfig"),
    (lambda: sims.make_task("linear", nosie=0.5), ValueError,
     r"unknown task option\(s\) \['nosie'\] for task 'linear'; valid options are"),
    (lambda: sims.make_task("linear", image=True), ValueError,
     r"image=True needs an image task, one of \('digits', 'mnist', 'cifar10'\)"),
    (lambda: sims.make_task("digits", test_size=1797), ValueError,
     r"test_size must be < 1797 for digits"),
    (lambda: sims.make_task("multi-index", input_dim=2, n_index=3), ValueError,
     r"n_index must be <= input_dim=2, got 3"),
    (lambda: sims.log_schedule(10, log_points=0), ValueError,
     r"log_points must be a positive integer, got 0"),
    (lambda: sims.eta_from_hat(-1.0, 1.0, 2), ValueError, r"eta_hat must be finite and > 0"),
    (lambda: sims.shard_cells(4, (2, 2.0)), ValueError, r"shard must be \(i, N\) with integers"),
    (lambda: sims.merge("part.nc"), TypeError, r"paths must be a list of shard files"),
    (lambda: sims.merge([]), ValueError, r"merge needs at least one shard file"),
    (lambda: sims.run_cells(CFG, eta=[-1.0]), ValueError, r"eta must be finite and > 0"),
    (lambda: sims.run_cells(CFG, seed=[0, -2]), ValueError,
     r"seed must be non-negative integers in \[0, 2\*\*63 - 1\]"),
    (lambda: sims.run_cells(CFG.replace(optimizer="momentum"), momentum=1.5), ValueError,
     r"momentum must be in \[0, 1\)"),
    (lambda: sims.run_cells(CFG, momentum=0.5), ValueError,
     r"momentum is read only by optimizer 'momentum'"),
    (lambda: sims.run_cells(CFG, gamma=[]), ValueError, r"must hold at least one cell"),
    (lambda: sims.scaled_sweep(CFG, [1.0], [0.0], [-1], lambda g: g), ValueError,
     r"seed must be non-negative integers"),
    (lambda: sims.scaled_sweep(CFG, [1.0], [np.inf], [0], lambda g: g), ValueError,
     r"k \(log10 of eta/scale\) must be finite"),
    (lambda: sims.MLP(2, 4, 3, bias="yes"), TypeError, r"bias must be True or False"),
    (lambda: sims.ConvNet((8, 8.5, 1), 4), ValueError, r"image_shape must be \(H, W, C\)"),
    (lambda: sims.from_apply(lambda p, x: x, lambda k, d: {}, degree=-1), ValueError,
     r"degree must be a positive integer, got -1"),
    (lambda: sims.resolve({"model": "mlp"}), TypeError, r"cfg must be a lazyrich.sims.SweepConfig"),
]


@pytest.mark.parametrize("call, exc, match", BAD_CALLS,
                         ids=[f"call{i}" for i in range(len(BAD_CALLS))])
def test_bad_calls_are_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------------ files


def test_file_errors_name_the_path_and_the_problem(tmp_path):
    missing = str(tmp_path / "missing.nc")
    with pytest.raises(FileNotFoundError, match=r"shard file '.*missing.nc' does not exist"):
        sims.merge([missing])
    with pytest.raises(IsADirectoryError, match=r"shard file '.*' is a directory"):
        sims.merge([str(tmp_path)])
    # an output path that is a folder: not "corrupt", not "delete it"
    with pytest.raises(IsADirectoryError, match=r"path '.*' is a directory; expected the path of a "
                                                r"netCDF file"):
        sims.sweep(CFG, path=str(tmp_path))
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not netcdf")
    with pytest.raises(ValueError, match=r"shard file '.*junk.nc' is corrupt.*rerun the sweep "
                                         r"shard that wrote it"):
        sims.merge([str(junk)])


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_results_files_follow_the_umask(tmp_path, mask, mode):
    """Written through a private temporary file, the result still gets 0o666 & ~umask, as an
    ordinary open() would (it used to stay 0600 whatever the umask)."""
    path = str(tmp_path / "r.nc")
    old = os.umask(mask)
    try:
        write_atomic(xr.Dataset({"x": ("a", np.arange(3.0))}), path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode


# ------------------------------------------------------------------ seeds


def test_seeds_are_distinct_over_64_bits_and_small_seeds_unchanged():
    """Seeds 0, 2**32 and 2**40 used to wrap to one int32 (three identical runs). Each now has
    its own key, and a seed below 2**32 keeps the key fold_in(key(0), seed) it always had."""
    seeds = [5, 2**32 + 5, 2**40]
    ds = sims.sweep(CFG, gamma=[1.0], eta=[0.1], seeds=seeds, devices=1)
    final = ds["loss"].isel(step=-1).values.ravel()
    assert np.unique(final).size == 3
    for s in seeds:
        r = sims.train(CFG, gamma=1.0, eta=0.1, seed=s)
        # one cell of a sweep is the same computation as a run alone: float64 round-off only
        np.testing.assert_allclose(ds["loss"].sel(gamma=1.0, eta=0.1, seed=s), r.loss, rtol=1e-12)
    # the initial weights of seed 5 are exactly those of the historic key
    model, _ = sims.resolve(CFG)
    want = model.init(jax.random.fold_in(jax.random.key(0), 5), jnp.float64)
    got = sims.train(CFG, seed=5).params0
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(a, b)
    # and 2**32 + 5 no longer collides with 5
    hi = sims.train(CFG, seed=2**32 + 5).params0
    assert not np.allclose(jax.tree.leaves(hi)[0], jax.tree.leaves(got)[0])


def test_data_seeds_beyond_32_bits_do_not_wrap_without_x64():
    """With x64 off, key(2**32 + 5) is key(5): data seed 2**32 + 5 used to give the very data
    of seed 5. Both halves now enter the key; a data seed below 2**32 keeps key(seed)."""
    task = sims.make_task("single-index", input_dim=4, test_size=8)
    with jax.enable_x64(False):
        a = np.asarray(task.build(2**32 + 5, jnp.float32)["test_x"])
        b = np.asarray(task.build(5, jnp.float32)["test_x"])
        ref = np.asarray(jax.random.normal(
            jax.random.split(jax.random.fold_in(jax.random.key(5), 1))[0], (8, 4), jnp.float32))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(b, ref)  # the historic stream of a small seed, bit for bit


# ------------------------------------------------------------------ options that were ignored


def test_misspelt_task_option_is_no_longer_the_no_noise_run():
    """{"nosie": 0.5} used to train exactly the noise-free task; the right key changes the
    labels (noise std 0.5 on targets of unit scale), the wrong one is refused."""
    plain = CFG.replace(task_options={"test_size": 16})
    noisy = CFG.replace(task_options={"test_size": 16, "noise": 0.5})
    a = sims.train(plain, gamma=1.0, eta=0.1).test_loss
    b = sims.train(noisy, gamma=1.0, eta=0.1).test_loss
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match=r"unknown task option\(s\) \['nosie'\]"):
        CFG.replace(task_options={"test_size": 16, "nosie": 0.5})


def test_modular_train_fraction_one_has_no_test_set_to_fake():
    """train_fraction=1 used to 'test' on one training pair; now the split keeps both sides
    non-empty or refuses, and the default split is disjoint."""
    task = sims.make_task("modular", modulus=5)
    from lazyrich.sims._tasks import _finite_dataset

    xtr, _, xte, _ = _finite_dataset(task, 0)
    pairs = {tuple(r) for r in xtr}
    assert len(pairs) + len(xte) == 25 and not any(tuple(r) in pairs for r in xte)


# ------------------------------------------------------------------ dtype: no underflow


def test_auto_dtype_promotes_instead_of_underflowing():
    """η = 1e-50 is 0 in float32: with dtype='auto' the engine runs float64 (a tiny but exact
    step, nothing diverges); with dtype='float32' it refuses."""
    cfg = CFG.replace(dtype="auto")
    ds = sims.sweep(cfg, gamma=[1.0], eta=[1e-50], devices=1)
    assert ds.attrs["dtype"] == "float64" and ds["loss"].dtype == np.float64
    assert not bool(ds["diverged"].any())
    # the step is 1e-50·N ≈ 1e-49: the test loss moves by far less than float64 resolves
    tl = ds["test_loss"].values.ravel()
    np.testing.assert_allclose(tl[-1], tl[0], rtol=1e-12)
    with pytest.raises(ValueError, match=r"eta = 1e-50 underflows float32"):
        sims.sweep(CFG.replace(dtype="float32"), gamma=[1.0], eta=[1e-50], devices=1)


def test_float64_is_used_without_a_false_warning_in_a_plain_process(tmp_path):
    """The README sweep (dtype='float64') in a process without x64 enabled used to print jax's
    'float64 ... truncated to float32' warning three times although everything ran in float64."""
    code = (
        "import numpy as np\n"
        "from lazyrich import sims\n"
        "cfg = sims.SweepConfig(model='mlp', depth=3, width=8, input_dim=16, task='single-index',"
        " loss='mse', batch_size=8, num_steps=4, log_every=2, optimizer='sgd', dtype='float64',"
        " task_options={'test_size': 16})\n"
        f"ds = sims.sweep(cfg, gamma=np.logspace(-3, 3, 3), eta_hat=np.logspace(-3, 1, 2),"
        f" seeds=[0, 1], path={str(tmp_path / 'scan.nc')!r})\n"
        "print(ds['loss'].dtype, ds.attrs['dtype'])\n")
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["PYTHONPATH"] = REPO
    res = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["float64", "float64"]
    assert "truncated" not in res.stderr and "UserWarning" not in res.stderr, res.stderr


# ------------------------------------------------------------------ one activation table


def test_every_theory_activation_is_accepted():
    """The sims accept exactly the names of lazyrich.theory.ACTIVATIONS (one table)."""
    for name in theory.ACTIVATIONS:
        assert sims.SweepConfig(**{**TINY, "activation": name}).activation == name
    assert not hasattr(sims._models, "ACTIVATIONS")


def test_gelu_mlp_is_the_exact_gelu_network_and_trains():
    """GELU(u) = u·Φ(u) (exact, not the tanh approximation), checked against scipy's normal
    CDF; the γ = 1 network then lowers its test loss (a real run, not just a config)."""
    m = sims.MLP(depth=2, hidden=8, input_dim=4, activation="gelu")
    p = m.init(jax.random.key(3), jnp.float64)
    x = np.asarray(jax.random.normal(jax.random.key(4), (5, 4), dtype=jnp.float64))
    h = x @ np.asarray(p["w"][0]) / 2.0  # 1/sqrt(D), D = 4
    ref = (h * ndtr(h)) @ np.asarray(p["w"][1]) / 8.0  # readout 1/N
    np.testing.assert_allclose(m.apply(p, jnp.asarray(x)), ref, rtol=1e-12)
    # GELU is not positively homogeneous: no degree; ReLU is (degree L)
    assert m.degree is None and sims.MLP(2, 8, 4, activation="relu").degree == 2
    cfg = CFG.replace(activation="gelu", num_steps=60, log_every=20, task_options={"test_size": 64})
    r = sims.train(cfg, gamma=1.0, eta=0.5)
    # 60 SGD steps at N·η = 4 on the single-index teacher: the loss falls well below its
    # initial value E[y²] (≈ 0.7); 0.8× leaves room for batch noise
    assert not r.diverged and r.test_loss[-1] < 0.8 * r.test_loss[0]


# ------------------------------------------------------------------ property tests


FIELDS = ("model", "depth", "width", "activation", "task", "task_options", "loss", "optimizer",
          "parametrization", "dtype", "num_steps", "batch_size", "gamma", "eta", "seed", "momentum",
          "divergence_factor", "log_every", "full_batch", "input_dim", "bias", "init_scale")

_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e-40, 1e-6]))
ANY_VALUE = {
    "model": st.sampled_from(["mlp", "deep-linear", "convnet", "resnet", 3]),
    "depth": st.one_of(st.integers(-1, 4), st.just(2.5)),
    "width": st.one_of(st.integers(-1, 8), st.just("8"), st.just(True)),
    "activation": st.sampled_from(sorted(theory.ACTIVATIONS) + ["swish", ""]),
    "task": st.sampled_from(["linear", "single-index", "gaussian-mixture", "staircase", "bogus"]),
    "task_options": st.fixed_dictionaries(
        {"test_size": st.sampled_from([8, 0, -5, 2.5])},
        optional={"noise": st.sampled_from([0.0, 0.1, -1.0, "x"]),
                  "nosie": st.just(0.5), "classes": st.sampled_from([1, 3]),
                  "train_size": st.sampled_from([8, 0])}),
    "loss": st.sampled_from(["mse", "xent", "l1"]),
    "optimizer": st.sampled_from(["sgd", "momentum", "adam", "signsgd", "lion"]),
    "parametrization": st.sampled_from(["mup", "ntk", "dmft", "chizat", "sp"]),
    "dtype": st.sampled_from(["auto", "float32", "float64", "bfloat16"]),
    "num_steps": st.one_of(st.integers(-1, 5), st.just(3.0)),
    "batch_size": st.integers(-1, 4),
    "gamma": _float, "eta": _float, "init_scale": _float,
    "seed": st.one_of(st.integers(-2, 2**64), st.just(1.5)),
    "momentum": st.one_of(st.floats(-0.5, 1.5), st.just("0.9")),
    "divergence_factor": st.one_of(st.floats(0.0, 5.0), st.just(float("nan"))),
    "log_every": st.one_of(st.none(), st.integers(-1, 3)),
    "full_batch": st.sampled_from([False, True, "no"]),
    "input_dim": st.one_of(st.none(), st.integers(-1, 6)),
    "bias": st.sampled_from([False, True, 0]),
}
VALID_VALUE = {
    "activation": st.sampled_from(sorted(theory.ACTIVATIONS)),
    "task": st.sampled_from(["linear", "single-index", "gaussian-mixture", "staircase"]),
    "optimizer": st.sampled_from(["sgd", "momentum", "adam", "signsgd"]),
    "parametrization": st.sampled_from(["mup", "ntk", "dmft", "chizat"]),
    "dtype": st.sampled_from(["auto", "float32", "float64"]),
    "depth": st.integers(1, 3), "width": st.integers(1, 8), "num_steps": st.integers(1, 5),
    "batch_size": st.integers(1, 4), "gamma": st.floats(1e-2, 1e2), "eta": st.floats(1e-3, 1.0),
    "seed": st.integers(0, 2**63 - 1), "momentum": st.floats(0.0, 0.99),
    "divergence_factor": st.floats(1.5, 10.0), "init_scale": st.floats(0.5, 2.0),
}


def _small(draw_fields):
    return {"depth": 2, "width": 4, "input_dim": 4, "num_steps": 3, "batch_size": 4, "log_every": 1,
            "task_options": {"test_size": 8}, **draw_fields}


@given(st.fixed_dictionaries({}, optional=ANY_VALUE))
def test_config_constructs_or_names_the_field(fields):
    """Random values, valid and invalid: a config is built, or ValueError/TypeError names one of
    the fields given. Never another exception type (no raw MLIR/Overflow/Index errors)."""
    kw = _small(fields)
    try:
        cfg = sims.SweepConfig(**kw)
    except (ValueError, TypeError) as e:
        names = set(kw) | set(kw["task_options"]) | {"image"}
        assert any(n in str(e) for n in names), str(e)
        return
    assert sims.resolve(cfg)[1].name == cfg.task


@given(st.fixed_dictionaries({}, optional=VALID_VALUE))
def test_valid_config_is_accepted_by_the_trainer(fields):
    """Random valid values: the config builds and its whole training step traces with the
    shapes the engine expects (one logged value per log step; eval_shape: no compile)."""
    kw = _small(fields)
    if kw.get("optimizer") != "momentum":  # only the momentum optimizer reads it
        kw.pop("momentum", None)
    if kw.get("task") == "gaussian-mixture":
        kw["task_options"] = {"test_size": 8, "classes": 3}
    cfg = sims.SweepConfig(**kw)
    from lazyrich.sims._config import choose_dtype
    from lazyrich.sims._engine import Engine, _x64

    model, _ = sims.resolve(cfg)
    dtype = choose_dtype(cfg, model, {"gamma": np.asarray([cfg.gamma]),
                                      "eta": np.asarray([cfg.eta])})
    eng = Engine(cfg, dtype)
    with _x64(dtype):
        _, logs = jax.eval_shape(eng.run_cell, eng.cast_hyper({}), eng.data)
    n_log = len(eng.log_steps)
    assert logs["test_loss"].shape == (n_log,) and logs["test_loss"].dtype == jnp.dtype(dtype)
    assert math.isfinite(cfg.gamma)


def test_tiny_valid_config_trains():
    """The property above traces; one tiny config actually runs through sims.train."""
    r = sims.train(sims.SweepConfig(**_small({"optimizer": "adam", "activation": "tanh"})),
                   gamma=2.0, eta=0.05, seed=2**40)
    assert r.loss.shape == (4,) and np.all(np.isfinite(r.test_loss)) and not r.diverged


def test_eta_hat_needs_the_wrapped_models_depth():
    """eta_hat = eta/s(gamma) with s depending on L: a wrapped model of unknown depth used to get
    the default L = 2 silently. Now its depth is required and must match the config's; then the
    eta coordinate is eta_hat * s(gamma) with that L."""
    def init(key, dt):
        k1, k2, k3 = jax.random.split(key, 3)
        return {"a": jax.random.normal(k1, (4, 8), dt), "b": jax.random.normal(k2, (8, 8), dt),
                "c": jax.random.normal(k3, (8, 1), dt)}

    def apply(p, x):
        return jnp.tanh(jnp.tanh(x @ p["a"] / 2) @ p["b"] / 8**0.5) @ p["c"] / 8

    grid = dict(gamma=[0.5, 2.0], eta_hat=[0.1], seeds=[0], devices=1)
    unknown = sims.from_apply(apply, init, width=8)
    with pytest.raises(ValueError, match=r"pass depth=L .* and SweepConfig\(depth=L\)"):
        sims.sweep(CFG.replace(model=unknown), **grid)
    three = sims.from_apply(apply, init, width=8, depth=3)
    with pytest.raises(ValueError, match=r"depth=2 differs from the model's depth 3.*depth=3"):
        sims.sweep(CFG.replace(model=three), **grid)
    ds = sims.sweep(CFG.replace(model=three, depth=3), **grid)
    want = 0.1 * sims.eta_scale(np.array([0.5, 2.0]), 3)
    np.testing.assert_allclose(ds["eta"].values[:, 0], want, rtol=1e-14)
