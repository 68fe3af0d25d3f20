"""benchmarks/gpu.sh, the one script of a GPU run, at its CPU-test size (--small): every step runs
and reports, so the 15 minutes of a lent GPU are not spent finding a broken script."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_gpu_script_runs_every_step_at_small_size(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "GPU_BENCH_OUT": str(tmp_path),
           "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)  # the benchmarks choose their own CPU device count
    r = subprocess.run(["bash", "benchmarks/gpu.sh", "--small"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in r.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| step")}
    assert set(rows) == {"env", "sweep", "closed", "ipm", "claims"}, r.stdout
    for name, line in rows.items():
        assert line.split("|")[2].strip() == "0", f"step {name} failed: {line}"
        assert (tmp_path / f"{name}.log").exists()
    assert "engine (sims.sweep)" in rows["sweep"] and "% of matmul" in rows["sweep"]
    assert all(case in rows["closed"] for case in ("A1", "A2", "B", "C"))  # its target table
    assert "rel.diff vs nnls" in rows["ipm"]
    assert "1 passed, 0 failed" in rows["claims"]
    assert "missing: none" in rows["env"] or "missing: torch" in rows["env"]
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(["bash", "benchmarks/gpu.sh", "--bogus"], cwd=REPO, env=env, check=True,
                       capture_output=True)


def test_profile_script_attributes_time_to_the_training_step():
    """benchmarks/profile_sweep.py at the smoke size: XLA's per-thunk trace events are found and
    most of the thread time lands on operations that ran once per step and device."""
    env = {**os.environ, "LAZYRICH_BENCH_SMOKE": "1", "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    r = subprocess.run([sys.executable, "benchmarks/profile_sweep.py", "--top", "5"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line for line in r.stdout.splitlines() if line.rstrip().endswith("per step")]
    assert rows, r.stdout  # the largest operations include per-step ones
    share = float(r.stdout.split("per-step operations ")[1].split("%")[0])
    assert 20.0 < share <= 100.0, r.stdout
