"""Measures of richness and kernels: D_LR, neural collapse, eigen-curves, CKA and kernel distances,
the empirical NTK and loss-curvature extremes.

Manifold capacity and effective geometry moved to :mod:`lazyrich.geometry`; their old names here
still resolve for one release, with a :class:`DeprecationWarning`.
"""

from lazyrich._deprecation import moved_names as _moved_names

from ._collapse import ClassScatter as ClassScatter
from ._collapse import class_scatter as class_scatter
from ._collapse import dlr_labels as dlr_labels
from ._collapse import etf_error as etf_error
from ._collapse import nc1 as nc1
from ._collapse import nc_factors as nc_factors
from ._compare import activation_stability as activation_stability
from ._compare import entropy_rank as entropy_rank
from ._compare import feature_kernel_distance as feature_kernel_distance
from ._compare import kernel_alignment as kernel_alignment
from ._compare import linear_cka as linear_cka
from ._compare import param_change as param_change
from ._compare import param_norm as param_norm
from ._compare import participation_ratio as participation_ratio
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
from ._empirical_ntk import ntk_gram as ntk_gram
from ._empirical_ntk import ntk_moments as ntk_moments
from ._empirical_ntk import ntk_vp as ntk_vp
from ._hessian import gauss_newton_top as gauss_newton_top
from ._hessian import hessian_extremes as hessian_extremes
from ._hessian import lanczos_extremes as lanczos_extremes
from ._hooks import NTK_STATS as NTK_STATS
from ._hooks import SHARPNESS_STATS as SHARPNESS_STATS
from ._hooks import ntk_hooks as ntk_hooks
from ._hooks import ntk_stats as ntk_stats
from ._hooks import sharpness_hooks as sharpness_hooks

__all__ = ["ClassScatter", "class_scatter", "dlr_labels", "etf_error", "nc1", "nc_factors",
           "activation_stability", "entropy_rank", "feature_kernel_distance", "kernel_alignment",
           "linear_cka", "param_change", "param_norm", "participation_ratio",
           "representation_change", "DLRReport", "DLRStats", "IsotropyWarning",
           "accumulate_stats", "dlr", "dlr_from_stats", "dlr_report", "dlr_splits",
           "dlr_stability", "output_isotropy", "stats_from_apply", "EigenCurves", "eigencurves",
           "NTKMoments", "empirical_ntk", "jacobian", "ntk_gram", "ntk_moments", "ntk_vp",
           "gauss_newton_top", "hessian_extremes", "lanczos_extremes", "NTK_STATS",
           "SHARPNESS_STATS", "ntk_hooks", "ntk_stats", "sharpness_hooks"]
# Names that moved to lazyrich.geometry; importing them from here still works for one release.
_MOVED_TO_GEOMETRY = frozenset({
    "MeanFieldCapacity",
    "SolverAccuracyError",
    "mean_field_capacity",
    "SimulatedCapacity",
    "simulated_capacity",
    "balanced_probe",
    "convnet_features",
    "feature_probe",
    "geometry_over_sweep",
    "mlp_features",
    "model_features",
    "output_probe",
    "probe_hooks",
    "probe_manifolds",
    "weight_change",
    "cifar_capacity_sweep",
    "draw_dichotomies",
    "ChizatTwoLayer",
    "TwoLayerRun",
    "geometry_over_training",
    "train_two_layer",
    "as_manifolds",
    "gaussian_clouds",
    "manifolds_from_lab_list",
    "manifolds_from_labels",
    "point_manifolds",
    "sphere_manifolds",
    "box_qp_ipm",
    "exact_nnls",
    "nnls_cpu",
    "polish_nnls",
    "projection_residual",
})


# and the CIFAR model builders, which then moved on to lazyrich.sims; figures live in analysis
_MOVED_TO_SIMS = frozenset({"CifarModel", "cifar_model"})
_MOVED_TO_ANALYSIS = frozenset({"plot_dlr_trajectory", "plot_eigencurves",
                                "plot_geometry_over_training"})

__getattr__ = _moved_names("lazyrich.metrics", {
    "lazyrich.geometry": {name: name for name in _MOVED_TO_GEOMETRY},
    "lazyrich.sims": {name: name for name in _MOVED_TO_SIMS},
    "lazyrich.analysis": {name: name for name in _MOVED_TO_ANALYSIS}})
