"""Analysis of sweep results: the (γ, η) phase map, slopes with bootstrap CIs, loss-curve
timing (gamma-scaling.md §2, §5)."""

from ._curves import align_by_drop as align_by_drop
from ._curves import drop_time as drop_time
from ._curves import staircase_steps as staircase_steps
from ._phase import SlopeFit as SlopeFit
from ._phase import bisect_edge as bisect_edge
from ._phase import catapult as catapult
from ._phase import eta_max as eta_max
from ._phase import eta_min as eta_min
from ._phase import eta_star as eta_star
from ._phase import final_loss as final_loss
from ._phase import fit_slope as fit_slope

__all__ = ["align_by_drop", "drop_time", "staircase_steps", "SlopeFit", "bisect_edge", "catapult",
           "eta_max", "eta_min", "eta_star", "final_loss", "fit_slope"]
