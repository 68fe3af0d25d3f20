"""Test policy (tests/README.md has the whole of it).

* float64 on: theory checks compare against references at 1e-9..1e-12.
  Simulators take explicit dtypes, so float32 behaviour is still tested where it matters.
* strict dtype promotion and raising rank promotion: silent upcasts or broadcasts fail.
* 4 CPU devices, so sharding is tested on a laptop (``LAZYRICH_TEST_CPU_DEVICES=1`` runs the
  suite on one device: results must not depend on the device count).
* Agg backend; JAX compilation cache outside the repository and LLVM -O1 for XLA's CPU
  backend (speed only: results are bit-identical).
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.expanduser("~/.cache/lazyrich-jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

from lazyrich.cli import _quick_compile  # noqa: E402  (imports no JAX)

_quick_compile()  # LLVM -O1, as `lazyrich verify`: most test time compiles small programs

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
CPU_DEVICES = int(os.environ.get("LAZYRICH_TEST_CPU_DEVICES", "4"))
jax.config.update("jax_num_cpu_devices", CPU_DEVICES)

try:
    from hypothesis import HealthCheck, settings

    # First examples pay for compilation: no deadlines; few, derandomised examples.
    settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("ci")
except ImportError:  # hypothesis is a dev extra
    pass


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed (tests must be reproducible)."""
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    if jax.default_backend() == "cpu":
        skip = pytest.mark.skip(reason="needs an accelerator")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
