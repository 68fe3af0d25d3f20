"""Two processes under jax.distributed (loopback, gloo) give the single-process sweep."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

from lazyrich import sims

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = {"gamma": [0.5, 2.0], "eta": [0.02, 0.1], "seeds": [0, 1, 2]}
FIELDS = {"depth": 2, "width": 16, "input_dim": 8, "num_steps": 40, "batch_size": 8,
          "log_every": 10, "dtype": "float64"}

SCRIPT = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.config.update("jax_num_cpu_devices", 2)
    port, pid, out, fields, grid = sys.argv[1:6]
    pid = int(pid)
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2,
                               process_id=pid)
    from lazyrich import sims
    assert jax.process_count() == 2 and len(jax.local_devices()) == 2
    ds = sims.sweep(sims.SweepConfig(**json.loads(fields)), path=out, **json.loads(grid))
    print("cells", ds["diverged"].size)
""")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_distributed_sweep_matches_single_process(tmp_path):
    out = str(tmp_path / "dist.nc")
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": REPO}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, port, str(i), out, json.dumps(FIELDS),
                               json.dumps(GRID)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=280) for p in procs]
    for p, (so, se) in zip(procs, outs, strict=True):
        assert p.returncode == 0, se[-3000:]
        assert "cells 12" in so
    dist = xr.open_dataset(out, engine="h5netcdf").load()
    ref = sims.sweep(sims.SweepConfig(**FIELDS), devices=1, **GRID)
    # independent cells; only reduction order differs (float64): see test_sims_sweep.RTOL
    xr.testing.assert_allclose(dist[["loss", "test_loss"]], ref[["loss", "test_loss"]], rtol=1e-10)
    np.testing.assert_array_equal(dist["diverged"].values, ref["diverged"].values)
