"""The ``lazyrich`` command line: bad input exits with status 2 and one line on stderr that names
the argument and what was expected (no traceback, no misleading advice); an empty shard writes a
valid empty file that merges."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from lazyrich import sims
from lazyrich.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--depth", "2", "--width", "8", "--input-dim", "4", "--num-steps", "5",
        "--batch-size", "4", "--log-every", "5", "--dtype", "float64", "--no-progress",
        "--set", 'task_options={"test_size": 16}']


def _files(tmp_path):
    """A folder of bad inputs shared by the cases below."""
    (tmp_path / "adir").mkdir(exist_ok=True)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "grid.json").write_text(json.dumps({"grid": [1, 2]}))
    (tmp_path / "junk.nc").write_bytes(b"not netcdf")
    return tmp_path


CASES = [
    # (argv with {d} for the folder, regex that must appear on stderr: argument + expectation)
    (["merge", "{d}/m.nc", "{d}/missing.nc"], r"shard file '.*missing.nc' does not exist"),
    (["merge", "{d}/m.nc", "{d}/adir"], r"shard file '.*adir' is a directory"),
    (["merge", "{d}/adir", "{d}/junk.nc"], r"OUT '.*adir' is a directory; expected the path"),
    (["merge", "{d}/m.nc", "{d}/junk.nc"], r"shard file '.*junk.nc' is corrupt.*rerun the sweep "
                                           r"shard that wrote it"),
    (["sweep", "--out", "{d}/adir"], r"--out '.*adir' is a directory; expected the path of a "
                                     r"netCDF file"),
    (["sweep", "--config", ".", "--out", "{d}/x.nc"],
     r"--config '.' is a directory; expected a JSON or TOML file"),
    (["sweep", "--config", "{d}/nope.toml", "--out", "{d}/x.nc"],
     r"--config '.*nope.toml' does not exist; expected a JSON or TOML file"),
    (["sweep", "--config", "{d}/bad.json", "--out", "{d}/x.nc"],
     r"--config '.*bad.json' is not valid JSON"),
    (["sweep", "--config", "{d}/list.json", "--out", "{d}/x.nc"],
     r"--config '.*list.json' must hold a table of SweepConfig fields"),
    (["sweep", "--config", "{d}/grid.json", "--out", "{d}/x.nc"],
     r"--config '.*grid.json': 'grid' must be a table"),
    (["sweep", "--out", "{d}/x.nc", "--set", "task_options={nosie: 0.5}"],
     r"--set task_options: '\{nosie: 0.5\}' is not valid JSON .* double-quoted keys"),
    (["sweep", "--out", "{d}/x.nc", "--set", 'task_options={"nosie": 0.5}'],
     r"unknown task option\(s\) \['nosie'\] for task 'single-index'; valid options are"),
    (["sweep", "--out", "{d}/x.nc", "--set", "widht=8"],
     r"unknown config field\(s\) \['widht'\]; valid fields are .*'width'"),
    (["sweep", "--out", "{d}/x.nc", "--set", "bias=False"],
     r"bias must be True or False, got 'False'"),
    (["sweep", "--out", "{d}/x.nc", "--seeds", "-1"],
     r"seeds must be non-negative integers in \[0, 2\*\*63 - 1\]"),
    (["sweep", "--out", "{d}/x.nc", "--shard", "3/2"],
     r"shard must be \(i, N\) with integers 0 <= i < N, got '3/2'"),
    (["sweep", "--out", "{d}/x.nc", "--sweep", "input_dim=8,16"], r"config field 'input_dim' is "
                                                                  r"not sweepable"),
    (["sweep", "--out", "{d}/x.nc", "--sweep", "width=8,8"], r"width has repeated values"),
    (["sweep", "--out", "{d}/x.nc", "--activation", "swish"],
     r"argument --activation: invalid choice: 'swish' \(choose from .*'gelu'"),
    (["sweep", "--out", "{d}/x.nc", "--task", "single_index"],
     r"argument --task: invalid choice: 'single_index' \(choose from .*'single-index'"),
    (["sweep", "--out", "{d}/x.nc", "--set", "activation=swish"],
     r"unknown activation 'swish'; expected one of .*'gelu'"),
    (["verify", "--report", "{d}/bad.json", "--list"],
     r"--report '.*bad.json' is a file; expected a directory"),
    (["verify", "--report", "{d}/bad.json/sub", "linear/C1"],
     r"--report '.*bad.json/sub' cannot be created as a directory .*expected a writable"),
]


@pytest.mark.parametrize("argv, match", CASES, ids=[f"{c[0][0]}{i}" for i, c in enumerate(CASES)])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, match):
    d = _files(tmp_path)
    status = main([a.replace("{d}", str(d)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lazyrich {argv[0]}: "), err
    assert re.search(match, lines[0]), lines[0]
    assert "delete it" not in err  # the old advice for a missing file or a folder


def test_no_traceback_from_the_shell(tmp_path):
    """As a user runs it: exit status 2 and a one-line message, for a folder given as --config
    (a raw IsADirectoryError traceback before) and a missing shard file (called corrupt)."""
    env = {**os.environ, "PYTHONPATH": REPO}
    for argv in (["sweep", "--config", ".", "--out", str(tmp_path / "x.nc")],
                 ["merge", str(tmp_path / "m.nc"), str(tmp_path / "missing.nc")]):
        res = subprocess.run([sys.executable, "-m", "lazyrich.cli", *argv], env=env,
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert ("--config" in res.stderr) if argv[0] == "sweep" else ("missing.nc" in res.stderr)


def test_empty_shard_writes_a_valid_empty_part_that_merges(tmp_path, capsys):
    """One cell, two shards: shard 1/2 used to end in an IndexError. It now writes a file with
    zero cells (every variable present), says so, and merge combines both parts into the same
    result as an unsharded sweep. Files follow the umask (0644 under 022, not 0600)."""
    out = str(tmp_path / "s.nc")
    grid = ["--gamma", "1", "--eta", "0.1", "--seeds", "0"]
    old = os.umask(0o022)
    try:
        for i in (1, 0):
            assert main(["sweep", "--out", out, "--shard", f"{i}/2", *TINY, *grid]) == 0
        err = capsys.readouterr().err
        assert "shard 1/2 has no cells" in err
        parts = [str(tmp_path / f"s.shard-{i}-of-2.nc") for i in range(2)]
        empty = xr.open_dataset(parts[1], engine="h5netcdf").load()
        full = xr.open_dataset(parts[0], engine="h5netcdf").load()
        assert empty.sizes["cell"] == 0 and set(empty.data_vars) == set(full.data_vars)
        assert empty["loss"].dtype == full["loss"].dtype == np.float64
        merged_path = str(tmp_path / "merged.nc")
        assert main(["merge", merged_path, *parts]) == 0
    finally:
        os.umask(old)
    merged = xr.open_dataset(merged_path, engine="h5netcdf").load()
    cfg = sims.SweepConfig(depth=2, width=8, input_dim=4, num_steps=5, batch_size=4, log_every=5,
                           dtype="float64", task_options={"test_size": 16})
    ref = sims.sweep(cfg, gamma=[1.0], eta=[0.1], seeds=[0], devices=1)
    # the same cell computed alone: equal up to float64 round-off of the batched kernels
    xr.testing.assert_allclose(merged[["loss", "test_loss"]], ref[["loss", "test_loss"]],
                               rtol=1e-12)
    for p in (*parts, merged_path):
        assert os.stat(p).st_mode & 0o777 == 0o644
