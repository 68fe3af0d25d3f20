"""Run notebooks/sweeps.py top to bottom in fast mode (a subprocess, Agg backend)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.notebook
def test_notebook_sweeps_runs():
    env = {**os.environ, "LAZYRICH_FAST": "1", "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    res = subprocess.run([sys.executable, os.path.join(REPO, "notebooks", "sweeps.py")], env=env,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "diverged cells:" in res.stdout
