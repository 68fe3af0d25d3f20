"""Measures of richness, kernels and representation geometry."""

from ._collapse import ClassScatter as ClassScatter
from ._collapse import class_scatter as class_scatter
from ._collapse import dlr_labels as dlr_labels
from ._collapse import etf_error as etf_error
from ._collapse import nc1 as nc1
from ._collapse import nc_factors as nc_factors
from ._compare import activation_stability as activation_stability
from ._compare import feature_kernel_distance as feature_kernel_distance
from ._compare import kernel_alignment as kernel_alignment
from ._compare import linear_cka as linear_cka
from ._compare import param_change as param_change
from ._compare import param_norm as param_norm
from ._compare import representation_change as representation_change
from ._dlr import DLRReport as DLRReport
from ._dlr import DLRStats as DLRStats
from ._dlr import IsotropyWarning as IsotropyWarning
from ._dlr import accumulate_stats as accumulate_stats
from ._dlr import dlr as dlr
from ._dlr import dlr_from_stats as dlr_from_stats
from ._dlr import dlr_report as dlr_report
from ._dlr import dlr_splits as dlr_splits
from ._dlr import dlr_stability as dlr_stability
from ._dlr import output_isotropy as output_isotropy
from ._dlr import stats_from_apply as stats_from_apply
from ._eigencurves import EigenCurves as EigenCurves
from ._eigencurves import eigencurves as eigencurves
from ._empirical_ntk import NTKMoments as NTKMoments
from ._empirical_ntk import empirical_ntk as empirical_ntk
from ._empirical_ntk import jacobian as jacobian
from ._empirical_ntk import ntk_moments as ntk_moments
from ._plot import plot_dlr_trajectory as plot_dlr_trajectory
from ._plot import plot_eigencurves as plot_eigencurves

__all__ = [
    # D_LR (richness-metric.md §1)
    "dlr", "dlr_report", "dlr_from_stats", "dlr_splits", "dlr_stability", "output_isotropy",
    "DLRStats", "DLRReport", "IsotropyWarning", "accumulate_stats", "stats_from_apply",
    # neural collapse (§2)
    "nc1", "dlr_labels", "nc_factors", "etf_error", "class_scatter", "ClassScatter",
    # empirical NTK (engineering.md §2.2(a))
    "empirical_ntk", "jacobian", "ntk_moments", "NTKMoments",
    # eigen-curves and figures (§3)
    "eigencurves", "EigenCurves", "plot_eigencurves", "plot_dlr_trajectory",
    # comparison metrics (§4)
    "linear_cka", "feature_kernel_distance", "kernel_alignment", "param_norm", "param_change",
    "representation_change", "activation_stability",
]
