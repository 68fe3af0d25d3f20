"""Simulators (one run each, batched only by vmap/scan/sharding) and sweeps."""

from ._linear import LinearTrajectory as LinearTrajectory
from ._linear import gd_two_layer as gd_two_layer
from ._linear import ode_two_layer as ode_two_layer

__all__ = ["LinearTrajectory", "gd_two_layer", "ode_two_layer"]
