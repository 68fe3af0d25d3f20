"""notebooks/geometry.py runs top to bottom in fast mode."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parents[1] / "notebooks" / "geometry.py"


@pytest.mark.notebook
def test_geometry_notebook_runs(tmp_path):
    env = os.environ | {"LAZYRICH_FAST": "1", "MPLBACKEND": "Agg", "LAZYRICH_FIGDIR": str(tmp_path)}
    res = subprocess.run([sys.executable, str(NB)], env=env, capture_output=True, text=True,
                         timeout=240, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for name in ("capacity_points", "capacity_spheres", "geometry_over_training",
                 "geometry_strategies", "geometry_over_sweep"):
        assert (tmp_path / f"{name}.png").exists(), name
    # the notebook prints the capacity gains: richest > lazy, lazy flat (claim C12)
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("capacity gain:"))
    gains = ast.literal_eval(line.split(":", 1)[1].strip())
    assert gains["alpha=0.1"] > 0.15 and abs(gains["alpha=100"]) < 0.02
    # the sweep-based section: the CNN's rich run gains capacity, the lazy one stays flat
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("sweep capacity gain:"))
    gains = ast.literal_eval(line.split(":", 1)[1].strip())
    assert gains["gamma=5"] > 0.15 and abs(gains["gamma=0.01"]) < 0.02, gains
