"""The registered claims of ``lazyrich verify``, one module per area.

Importing this package registers every claim (:func:`lazyrich.verify.load_claims` does it). The
claims sit on top of the library: they import the public API of ``theory``, ``sims``,
``metrics`` and ``analysis``, and nothing below imports them.

* :mod:`lazyrich.claims.linear`: exact dynamics of two-layer linear networks;
* :mod:`lazyrich.claims.gamma`: γ-scaled networks and the (γ, η) landscape;
* :mod:`lazyrich.claims.richness`: D_LR, neural collapse, infinite-width kernels;
* :mod:`lazyrich.claims.capacity`: manifold capacity and effective geometry;
* :mod:`lazyrich.claims.kernels`: the lazy limit's kernel theory, the coord check, η*(N);
* :mod:`lazyrich.claims.dmft`: the rich infinite-width limit (DMFT) against kernels, networks
  and the exact linear modes.
"""

from . import capacity as capacity
from . import dmft as dmft
from . import gamma as gamma
from . import kernels as kernels
from . import linear as linear
from . import richness as richness

__all__ = ["capacity", "dmft", "gamma", "kernels", "linear", "richness"]
