r"""Manifold capacity and effective representational geometry.

Following Chou, Le, Wang and Chung, "Feature Learning beyond the Lazy-Rich Dichotomy: Insights
from Representational Geometry" (ICML 2025, arXiv 2503.18114), a representation is judged by how
many class manifolds a linear readout can separate per feature dimension. For :math:`P`
manifolds of :math:`M` points in :math:`\mathbb R^N` the capacity is :math:`\alpha = P/N^*`, with
:math:`N^*` the smallest dimension at which a random dichotomy is separable with probability
one half; the mean-field theory writes :math:`1/\alpha = \mathbb E_{y,t}\|\Pi_{C_y}(t)\|^2/P`
(projection of a Gaussian field onto the cone of signed points) and splits it into an effective
radius, dimension and centre/axis alignments,
:math:`\alpha = \Psi\,(1+R_\text{eff}^{-2})/D_\text{eff}`.

What lives here:

* capacity: :func:`simulated_capacity` (bisection over random projections, LP feasibility) and
  :func:`mean_field_capacity` (the anchor problem per sample, with the effective radius,
  dimension and alignments; refuses a result whose solver residual is not certified, raising
  :class:`SolverAccuracyError`);
* capacity through training: probe hooks recorded inside :func:`lazyrich.sims.sweep`
  (:func:`probe_hooks`, :func:`feature_probe`, :func:`output_probe`, :func:`weight_change`) and
  their host-side analysis :func:`geometry_over_sweep`; the geometry of one
  :func:`lazyrich.sims.train` run at each logged step (:func:`geometry_over_training`, e.g. the
  Chizat-scaled two-layer network of Chizat, Oyallon & Bach 2019 on :func:`cloud_task`, at a
  step set by :func:`ntk_sharpness`) and the CIFAR-10 VGG/ResNet sweep (:func:`cifar_model`,
  :func:`cifar_capacity_sweep`). The former two-layer trainer's names (:class:`ChizatTwoLayer`,
  :class:`TwoLayerRun`, :func:`train_two_layer`) run on :mod:`lazyrich.sims` and are deprecated;
* synthetic and data-derived manifolds (:func:`point_manifolds`, :func:`sphere_manifolds`,
  :func:`gaussian_clouds`, :func:`manifolds_from_labels`) and random dichotomies;
* the certified non-negative least-squares solvers of the anchor problem (:func:`nnls_cpu`,
  :func:`box_qp_ipm`, :func:`exact_nnls`, :func:`polish_nnls`) and the scale-free Moreau residual
  :func:`projection_residual` that certifies them.

Layering: this package sits above :mod:`lazyrich.metrics` (it uses :math:`\mathcal D_{LR}`, CKA
and kernel alignment from there) and below :mod:`lazyrich.analysis` and :mod:`lazyrich.claims`.
"""

from lazyrich._deprecation import moved_names as _moved_names

from ._capacity_mf import MeanFieldCapacity as MeanFieldCapacity
from ._capacity_mf import SolverAccuracyError as SolverAccuracyError
from ._capacity_mf import mean_field_capacity as mean_field_capacity
from ._capacity_sim import SimulatedCapacity as SimulatedCapacity
from ._capacity_sim import simulated_capacity as simulated_capacity
from ._capacity_sweep import balanced_probe as balanced_probe
from ._capacity_sweep import convnet_features as convnet_features
from ._capacity_sweep import feature_probe as feature_probe
from ._capacity_sweep import geometry_over_sweep as geometry_over_sweep
from ._capacity_sweep import mlp_features as mlp_features
from ._capacity_sweep import model_features as model_features
from ._capacity_sweep import output_probe as output_probe
from ._capacity_sweep import probe_hooks as probe_hooks
from ._capacity_sweep import probe_manifolds as probe_manifolds
from ._capacity_sweep import weight_change as weight_change
from ._cifar_capacity import cifar_capacity_sweep as cifar_capacity_sweep
from ._dichotomies import draw_dichotomies as draw_dichotomies
from ._geometry_training import ChizatTwoLayer as ChizatTwoLayer
from ._geometry_training import TwoLayerRun as TwoLayerRun
from ._geometry_training import cloud_task as cloud_task
from ._geometry_training import geometry_over_training as geometry_over_training
from ._geometry_training import ntk_sharpness as ntk_sharpness
from ._geometry_training import train_two_layer as train_two_layer
from ._manifolds import as_manifolds as as_manifolds
from ._manifolds import gaussian_clouds as gaussian_clouds
from ._manifolds import manifolds_from_lab_list as manifolds_from_lab_list
from ._manifolds import manifolds_from_labels as manifolds_from_labels
from ._manifolds import point_manifolds as point_manifolds
from ._manifolds import sphere_manifolds as sphere_manifolds
from ._qp import box_qp_ipm as box_qp_ipm
from ._qp import exact_nnls as exact_nnls
from ._qp import nnls_cpu as nnls_cpu
from ._qp import polish_nnls as polish_nnls
from ._qp import projection_residual as projection_residual

__all__ = [
    # capacity and effective geometry
    "MeanFieldCapacity", "SolverAccuracyError", "mean_field_capacity",
    "SimulatedCapacity", "simulated_capacity",
    # capacity through training sweeps
    "balanced_probe", "convnet_features", "feature_probe", "geometry_over_sweep",
    "mlp_features", "model_features", "output_probe", "probe_hooks", "probe_manifolds",
    "weight_change",
    "cifar_capacity_sweep",
    "cloud_task", "geometry_over_training", "ntk_sharpness",
    # deprecated (the former two-layer trainer; use lazyrich.sims.train)
    "ChizatTwoLayer", "TwoLayerRun", "train_two_layer",
    # manifolds and dichotomies
    "as_manifolds", "gaussian_clouds", "manifolds_from_lab_list", "manifolds_from_labels",
    "point_manifolds", "sphere_manifolds", "draw_dichotomies",
    # certified NNLS solvers
    "box_qp_ipm", "exact_nnls", "nnls_cpu", "polish_nnls", "projection_residual",
]

# Model builders live with the other models in lazyrich.sims, figures in lazyrich.analysis (one
# release of grace here).
__getattr__ = _moved_names("lazyrich.geometry", {
    "lazyrich.sims": {"CifarModel": "CifarModel", "cifar_model": "cifar_model"},
    "lazyrich.analysis": {"plot_geometry_over_training": "plot_geometry_over_training"}})
