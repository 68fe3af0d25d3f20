"""The sweep engine: cell independence, chunking, sharding, storage, resume, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import xarray as xr

from lazyrich import sims

CFG = sims.SweepConfig(model="mlp", depth=3, width=32, input_dim=8, task="single-index",
                       batch_size=16, num_steps=60, log_every=10, dtype="float64")
GAMMA = [0.1, 1.0, 10.0]
ETA = [0.05, 0.5]
SEEDS = [0, 3]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Cells are independent computations; chunking or sharding changes only the reduction order
# inside XLA's batched kernels, so float64 results agree to ~1e-15 relative per op, accumulated
# over 60 steps. 1e-10 is far above that and far below any real difference (different keys
# or a different cell give O(1) changes).
RTOL = 1e-10


@pytest.fixture(scope="module")
def reference():
    return sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, chunk_size=12)


def test_dataset_layout(reference):
    ds = reference
    assert ds["loss"].dims == ("gamma", "eta", "seed", "step")
    assert ds["diverged"].dims == ("gamma", "eta", "seed")
    np.testing.assert_array_equal(ds["gamma"], GAMMA)
    np.testing.assert_array_equal(ds["seed"], SEEDS)
    np.testing.assert_array_equal(ds["step"], np.arange(0, 61, 10))
    assert "accuracy" not in ds  # regression task
    cfg = json.loads(ds.attrs["config"])
    assert cfg["width"] == 32 and ds.attrs["jax_version"] == jax.__version__
    assert ds["loss"].dtype == np.float64
    # the run trains: at γ = 1, η = 0.05 the test loss drops
    tl = ds["test_loss"].sel(gamma=1.0, eta=0.05)
    assert np.all(tl.isel(step=-1) < 0.8 * tl.isel(step=0))


def test_cell_equals_single_run(reference):
    for g, e, s in [(0.1, 0.05, 3), (10.0, 0.5, 0)]:
        r = sims.train(CFG, gamma=g, eta=e, seed=s)
        cell = reference.sel(gamma=g, eta=e, seed=s)
        np.testing.assert_allclose(cell["loss"], r.loss, rtol=RTOL)
        np.testing.assert_allclose(cell["test_loss"], r.test_loss, rtol=RTOL)
        assert bool(cell["diverged"]) == r.diverged


@pytest.mark.parametrize("chunk", [1, 5])
def test_chunking_does_not_change_cells(reference, chunk):
    ds = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, chunk_size=chunk)
    xr.testing.assert_allclose(ds[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)
    np.testing.assert_array_equal(ds["diverged"], reference["diverged"])


@pytest.mark.skipif(len(jax.local_devices()) < 2,
                    reason="one XLA device (LAZYRICH_TEST_CPU_DEVICES=1): nothing to shard")
def test_sharded_across_devices(reference):
    """Sharded over every local device (4 under the default conftest) = one device."""
    ds = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, chunk_size=8)
    xr.testing.assert_allclose(ds[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)


def test_cell_does_not_depend_on_grid(reference):
    """A cell's key comes from its integer seed only: a different grid gives the same cell."""
    small = sims.sweep(CFG, gamma=[10.0], eta=[0.05, 0.2], seeds=[3, 7], devices=1)
    np.testing.assert_allclose(small["loss"].sel(gamma=10.0, eta=0.05, seed=3),
                               reference["loss"].sel(gamma=10.0, eta=0.05, seed=3), rtol=RTOL)
    # and different seeds really differ
    assert not np.allclose(small["loss"].sel(eta=0.05, seed=3), small["loss"].sel(eta=0.05, seed=7))


def test_write_resume_and_shard_merge(reference, tmp_path):
    path = str(tmp_path / "res.nc")
    ds = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, chunk_size=5, path=path)
    assert os.path.exists(path) and not os.path.exists(path + ".parts")
    back = xr.open_dataset(path, engine="h5netcdf").load()
    xr.testing.assert_allclose(back[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)
    # what the call returned is what it wrote (netCDF round trip of float64 is exact)
    xr.testing.assert_allclose(ds[["loss", "test_loss"]], back[["loss", "test_loss"]], rtol=0)
    np.testing.assert_array_equal(back["diverged"].values, reference["diverged"].values)
    # complete file: a rerun returns it without training
    again = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, path=path)
    xr.testing.assert_identical(again, back)
    # shards over a job array, merged
    parts = []
    for i in range(3):
        p = str(tmp_path / f"s{i}.nc")
        flat = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, shard=f"{i}/3", path=p)
        assert flat.sizes["cell"] == 4
        parts.append(p)
    merged = sims.merge(parts[::-1], out=str(tmp_path / "merged.nc"))
    xr.testing.assert_allclose(merged[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)
    with pytest.raises(ValueError, match="cells missing"):
        sims.merge(parts[:2])


def test_shard_files_carry_their_cells_coordinates(reference, tmp_path):
    """A shard file says which runs it holds: gamma, eta and seed along ``cell`` (cell k is grid
    entry k in C order), and each cell's curve is the gridded result at those coordinates."""
    p = str(tmp_path / "s1.nc")
    sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, shard="1/3", path=p)
    flat = xr.open_dataset(p, engine="h5netcdf").load()
    g, e, s = np.meshgrid(GAMMA, ETA, SEEDS, indexing="ij")
    cells = flat["cell"].values
    assert cells.size == 4
    for name, full in (("gamma", g), ("eta", e), ("seed", s)):
        np.testing.assert_array_equal(flat[name].values, full.ravel()[cells])
    for k in range(cells.size):
        c = flat.isel(cell=k)
        ref = reference.sel(gamma=float(c["gamma"]), eta=float(c["eta"]), seed=int(c["seed"]))
        np.testing.assert_allclose(c["test_loss"], ref["test_loss"], rtol=RTOL)


def test_resume_after_partial_run(reference, tmp_path):
    """Simulate a crash: keep only some chunk files, rerun, get the full result."""
    path = str(tmp_path / "r.nc")
    parts = path + ".parts"
    # a parts folder as a killed run leaves it: one finished chunk and a half-written temp file
    os.makedirs(parts)
    flat = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, shard="0/3")
    from lazyrich.sims._results import write_atomic
    write_atomic(flat, os.path.join(parts, "cells-000000000-000000003.nc"))
    with open(os.path.join(parts, ".tmp-half-written.nc"), "wb") as f:
        f.write(b"\x89HDF garbage from a killed writer")
    ds = sims.sweep(CFG, gamma=GAMMA, eta=ETA, seeds=SEEDS, devices=1, chunk_size=3, path=path)
    xr.testing.assert_allclose(ds[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)


def test_sigkill_midrun_then_rerun_gives_same_dataset(tmp_path):
    """Run the CLI in a subprocess, SIGKILL it once the first chunk has landed, rerun the same
    command, and compare with an uninterrupted run."""
    out = str(tmp_path / "k.nc")
    cfg = {"depth": 2, "width": 32, "input_dim": 8, "num_steps": 3000, "batch_size": 16,
           "log_every": 500, "dtype": "float64",
           "grid": {"gamma": [0.5, 2.0], "eta": [0.02, 0.1], "seeds": [0, 1, 2]}}
    cfile = tmp_path / "cfg.json"
    cfile.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "lazyrich.cli", "sweep", "--config", str(cfile), "--out", out,
           "--chunk-size", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out + ".parts"
    t0 = time.time()
    while time.time() - t0 < 120:
        if os.path.isdir(parts) and any(n.startswith("cells-") for n in os.listdir(parts)):
            break
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the sweep finished before it could be killed; make it longer"
    n_done = len([n for n in os.listdir(parts) if n.startswith("cells-")])
    assert 1 <= n_done < 6 and not os.path.exists(out)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    resumed = xr.open_dataset(out, engine="h5netcdf").load()
    fields = {k: v for k, v in cfg.items() if k != "grid"}
    full = sims.sweep(sims.SweepConfig(**fields), **cfg["grid"], devices=1)
    xr.testing.assert_allclose(resumed[["loss", "test_loss"]], full[["loss", "test_loss"]],
                               rtol=RTOL)
    np.testing.assert_array_equal(resumed["diverged"].values, full["diverged"].values)


def test_eta_hat_and_extra_axis_and_metrics():
    ds = sims.sweep(CFG.replace(num_steps=20), gamma=[0.1, 10.0], eta_hat=[0.1, 1.0], seeds=[0],
                    init_scale=[0.5, 1.0], metrics={"wnorm": lambda c: sum(
                        (w**2).sum() for w in c.params["w"])})
    assert ds["loss"].dims == ("gamma", "eta_hat", "init_scale", "seed", "step")
    np.testing.assert_allclose(ds["eta"].sel(gamma=10.0, eta_hat=1.0),
                               sims.eta_scale(10.0, CFG.depth), rtol=1e-14)
    r = sims.train(CFG.replace(num_steps=20), gamma=10.0, eta=float(sims.eta_scale(10.0, 3)),
                   init_scale=0.5, metrics={"wnorm": lambda c: sum((w**2).sum()
                                                                  for w in c.params["w"])})
    np.testing.assert_allclose(ds["wnorm"].sel(gamma=10.0, eta_hat=1.0, init_scale=0.5, seed=0),
                               r.metrics["wnorm"], rtol=RTOL)


def test_float64_policy():
    """dtype='auto' runs float64 when min γ < 1e-2 (the authors' rule), float32 otherwise."""
    cfg = CFG.replace(dtype="auto", num_steps=10)
    assert cfg.resolve_dtype([1e-3, 1.0]) == "float64"
    assert cfg.resolve_dtype([1e-2, 1.0]) == "float32"
    assert CFG.replace(dtype="float32").resolve_dtype([1e-3]) == "float32"  # config overrides
    assert sims.sweep(cfg, gamma=[1e-3, 1.0], eta=[1e-6], devices=1)["loss"].dtype == np.float64


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty grid"):
        sims.sweep(CFG, gamma=[], eta=ETA)
    with pytest.raises(ValueError, match="gamma must be finite and > 0"):
        sims.sweep(CFG, gamma=[0.0, 1.0])
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        sims.sweep(CFG, eta=[-0.1])
    with pytest.raises(ValueError, match="'activation' is not sweepable"):
        sims.sweep(CFG, activation=["relu", "tanh"])
    with pytest.raises(ValueError, match="unknown sweep axis"):
        sims.sweep(CFG, lr=[0.1])
    with pytest.raises(ValueError, match="seeds must be non-negative integers"):
        sims.sweep(CFG, seeds=[0.5])
    with pytest.raises(ValueError, match="no chunk fits"):
        sims.sweep(CFG, memory_budget=1000)
    with pytest.raises(ValueError, match="over the memory budget"):
        sims.sweep(CFG, chunk_size=64, memory_budget=10**5)
    # a corrupt results file on resume
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not netcdf at all")
    with pytest.raises(ValueError, match="corrupt or not a netCDF file"):
        sims.sweep(CFG, path=str(bad))
    # a foreign one: a netCDF file from elsewhere, or from a different sweep
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(ValueError, match="not written by a lazyrich sweep"):
        sims.sweep(CFG, path=str(foreign))
    other = tmp_path / "other.nc"
    sims.sweep(CFG.replace(num_steps=10), gamma=[1.0], eta=[0.1], devices=1, path=str(other))
    with pytest.raises(ValueError, match="belongs to a different sweep"):
        sims.sweep(CFG.replace(num_steps=10), gamma=[2.0], eta=[0.1], devices=1, path=str(other))
    with pytest.raises(ValueError, match="shard must"):
        sims.sweep(CFG, shard="3/2")


def test_cli_bad_input_exits_2(tmp_path, capsys):
    from lazyrich.cli import main

    assert main(["sweep", "--out", str(tmp_path / "x.nc"), "--model", "resnet"]) == 2
    assert "argument --model: invalid choice: 'resnet'" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "x.nc"), "--gamma", "-1"]) == 2
    assert "gamma must be finite and > 0" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "m.nc"), str(tmp_path / "missing.nc")]) == 2


def test_cli_shard_and_merge(tmp_path, reference):
    """`lazyrich sweep --shard i/N` on a job array, then `lazyrich merge`, gives the sweep."""
    from lazyrich.cli import main

    cfile = tmp_path / "c.toml"
    cfile.write_text('model = "mlp"\ndepth = 3\nwidth = 32\ninput_dim = 8\nbatch_size = 16\n'
                     'steps = 60\nlog_every = 10\ndtype = "float64"\n'
                     '[grid]\ngamma = [0.1, 1.0, 10.0]\neta = [0.05, 0.5]\nseed = [0, 3]\n')
    out = str(tmp_path / "cli.nc")
    for i in range(2):
        assert main(["sweep", "--config", str(cfile), "--out", out, "--shard", f"{i}/2",
                     "--no-progress"]) == 0
    parts = [str(tmp_path / f"cli.shard-{i}-of-2.nc") for i in range(2)]
    assert main(["merge", out, *parts]) == 0
    ds = xr.open_dataset(out, engine="h5netcdf").load()
    xr.testing.assert_allclose(ds[["loss", "test_loss"]], reference[["loss", "test_loss"]],
                               rtol=RTOL)


def test_layout_groups_cells_by_initialisation():
    """The runner's (G, S) layout: every row holds cells of one θ₀ (seed and init_scale), every
    cell appears, G is a multiple of the device count and G·S fits the chunk; S is as large as
    the chunk allows (the centring forward is shared across S cells)."""
    from lazyrich.sims._cells import SHARED_FIELDS, _layout, group_order

    seed = np.array([0, 0, 1, 2, 2, 2, 0, 1, 3])
    scale = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0])
    table = {"seed": seed, "init_scale": scale}
    idx = np.arange(seed.size)
    for chunk, n_dev in [(9, 1), (12, 2), (16, 4), (6, 2)]:
        layout, S = _layout(table, idx[:chunk], chunk, n_dev)
        G = layout.shape[0]
        assert layout.shape[1] == S and G % n_dev == 0 and G * S <= chunk
        assert set(layout.ravel()) == set(range(min(chunk, idx.size)))
        for row in layout:
            assert len({(seed[i], scale[i]) for i in row}) == 1  # one θ₀ per row
    layout, S = _layout(table, idx, 16, 1)
    assert S == 3  # the largest group: seed 0 (three cells) and seed 2 at scale 1 (two)
    order = group_order(table, idx)
    keys = [(seed[i], scale[i]) for i in order]
    assert keys == sorted(keys, key=keys.index)  # each θ₀'s cells adjacent, first seen first
    assert sorted(order) == list(idx) and SHARED_FIELDS == ("seed", "init_scale")


def test_cells_sharing_an_initialisation_equal_their_runs_alone():
    """Grouping by θ₀ changes nothing a cell computes: an irregular list (repeated and unique
    seeds, two init scales, a repeated cell) gives each cell its single-run numbers (same
    RTOL reasoning as above: only the reduction order of batched products differs)."""
    cells = dict(gamma=[0.1, 10.0, 1.0, 1.0, 10.0, 10.0], eta=[0.05, 0.5, 0.05, 0.05, 0.5, 0.5],
                 seed=[0, 0, 3, 0, 3, 0], init_scale=[1.0, 1.0, 1.0, 0.5, 1.0, 1.0])
    out = sims.run_cells(CFG, **cells)
    for j in range(6):
        one = {k: v[j] for k, v in cells.items()}
        r = sims.train(CFG, **one)
        np.testing.assert_allclose(out["loss"][j], r.loss, rtol=RTOL)
        np.testing.assert_allclose(out["test_loss"][j], r.test_loss, rtol=RTOL)
    np.testing.assert_array_equal(out["loss"][1], out["loss"][5])  # the same cell twice


def test_centring_forward_is_computed_once_per_initialisation():
    """XLA's own FLOP count of the compiled chunk: 8 cells of one θ₀ laid out as one group
    (S = 8) against the same 8 cells ungrouped (S = 1). Per step a cell does its forward, the
    centring forward g(x; θ₀) and a backward of about two forwards; sharing the centring over 8
    cells removes 7/8 of one of those four units (−22%), more with the test set's centring:
    the grouped program must count at most 85% of the ungrouped one's FLOPs (measured 68%)."""
    import jax.numpy as jnp

    from lazyrich.sims._cells import _Runner

    cfg = CFG.replace(width=64, num_steps=20)
    eng = sims.Engine(cfg, "float64")
    runner = _Runner(eng, 8, jax.local_devices()[:1])

    def flops(G, S):
        shared = {"seed": jnp.zeros(G, jnp.uint32), "seed_hi": jnp.zeros(G, jnp.uint32),
                  "init_scale": jnp.ones(G)}
        own = {k: jnp.ones((G, S)) for k in ("gamma", "eta", "momentum", "b1", "b2")}
        cost = runner.fn.lower(shared, own, runner.data).compile().cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]

    assert flops(1, 8) <= 0.85 * flops(8, 1)
