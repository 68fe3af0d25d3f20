"""Run notebooks/richness.py top to bottom in fast mode (engineering.md §5)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.notebook
def test_richness_notebook_runs():
    env = dict(os.environ, LAZYRICH_FAST="1", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(ROOT / "notebooks" / "richness.py")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "D_LR train" in out.stdout and "step" in out.stdout
