"""Analysis of sweep results and training runs: the (γ, η) phase map, slopes with bootstrap
CIs, loss-curve timing, kernel-machine checks (docs: Gamma scaling).

``run_cells`` and ``scaled_sweep`` moved to :mod:`lazyrich.sims` (the training stack). The NTK
and sharpness diagnostics and their in-sweep hooks moved to :mod:`lazyrich.metrics`
(``ntk_hooks``, ``sharpness_hooks``, ``ntk_gram``, ...); their old names here still resolve for
one release, with a :class:`DeprecationWarning`.
"""

from lazyrich._deprecation import moved_names as _moved_names

from ._coord import COORD_EXPONENTS as COORD_EXPONENTS
from ._coord import COORD_PARAMETRIZATIONS as COORD_PARAMETRIZATIONS
from ._coord import coord_check as coord_check
from ._coord import coord_exponents as coord_exponents
from ._coord import eta_star_width_exponent as eta_star_width_exponent
from ._curves import align_by_drop as align_by_drop
from ._curves import collapse_error as collapse_error
from ._curves import drop_time as drop_time
from ._curves import staircase_steps as staircase_steps
from ._kernel_machine import KernelMachineCheck as KernelMachineCheck
from ._kernel_machine import kernel_machine_check as kernel_machine_check
from ._kernel_machine import kernel_regression as kernel_regression
from ._phase import SlopeFit as SlopeFit
from ._phase import bisect_edge as bisect_edge
from ._phase import catapult as catapult
from ._phase import eta_bracket as eta_bracket
from ._phase import eta_dim as eta_dim
from ._phase import eta_grid as eta_grid
from ._phase import eta_max as eta_max
from ._phase import eta_min as eta_min
from ._phase import eta_star as eta_star
from ._phase import final_loss as final_loss
from ._phase import fit_slope as fit_slope
from ._phase import refine_eta_max as refine_eta_max
from ._plot import PhaseMapData as PhaseMapData
from ._plot import phase_map_data as phase_map_data
from ._plot import plot_coord_check as plot_coord_check
from ._plot import plot_dlr_trajectory as plot_dlr_trajectory
from ._plot import plot_eigencurves as plot_eigencurves
from ._plot import plot_geometry_over_training as plot_geometry_over_training
from ._plot import plot_loss_curves as plot_loss_curves
from ._plot import plot_phase_map as plot_phase_map

__all__ = ["COORD_EXPONENTS", "COORD_PARAMETRIZATIONS", "coord_check", "coord_exponents",
           "eta_star_width_exponent", "align_by_drop", "collapse_error", "drop_time",
           "staircase_steps",
           "KernelMachineCheck", "kernel_machine_check", "kernel_regression",
           "SlopeFit", "bisect_edge", "catapult", "eta_bracket", "eta_dim", "eta_grid", "eta_max",
           "eta_min", "eta_star", "final_loss", "fit_slope", "refine_eta_max",
           "PhaseMapData", "phase_map_data", "plot_phase_map",
           "plot_coord_check", "plot_dlr_trajectory", "plot_eigencurves",
           "plot_geometry_over_training", "plot_loss_curves"]

# Old name here -> name in lazyrich.metrics (one release of grace, then removed).
_MOVED_TO_METRICS = {
    "NTK_STATS": "NTK_STATS",
    "SHARPNESS_STATS": "SHARPNESS_STATS",
    "entropy_rank": "entropy_rank",
    "ntk_gram": "ntk_gram",
    "ntk_hooks": "ntk_hooks",
    "ntk_stats": "ntk_stats",
    "ntk_vp": "ntk_vp",
    "participation_ratio": "participation_ratio",
    "sharpness_hooks": "sharpness_hooks",
    "target_alignment": "kernel_alignment",  # one function, traced and eager
}


# Old name here -> name in lazyrich.sims (the one training stack runs lists of cells too).
_MOVED_TO_SIMS = {"run_cells": "run_cells", "scaled_sweep": "scaled_sweep"}

__getattr__ = _moved_names("lazyrich.analysis", {"lazyrich.metrics": _MOVED_TO_METRICS,
                                                "lazyrich.sims": _MOVED_TO_SIMS})
