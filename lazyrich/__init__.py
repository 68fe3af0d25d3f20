"""lazyrich: lazy vs rich (feature-learning) training, made executable.

Subpackages
-----------
``lazyrich.theory``    closed forms (two-layer linear networks, deep linear chains, kernels)
``lazyrich.sims``      simulators and the vmapped sweep engine
``lazyrich.metrics``   richness and kernel measures, empirical NTK, curvature
``lazyrich.geometry``  manifold capacity and effective geometry
``lazyrich.analysis``  phase maps, slope fits, curve timing, in-sweep diagnostics
``lazyrich.claims``    the registered numerical claims, one module per area
``lazyrich.verify``    the claim framework behind ``lazyrich verify``

Imports go one way only: theory → sims → metrics → geometry → analysis → claims.
"""

from importlib.metadata import PackageNotFoundError, version

from ._precision import set_matmul_precision as set_matmul_precision
from ._precision import set_precision as set_precision

try:
    __version__ = version("lazyrich")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["set_precision", "set_matmul_precision", "__version__"]
