"""Measures of richness, kernels and representation geometry."""

from ._capacity_mf import MeanFieldCapacity as MeanFieldCapacity
from ._capacity_mf import mean_field_capacity as mean_field_capacity
from ._capacity_sim import SimulatedCapacity as SimulatedCapacity
from ._capacity_sim import simulated_capacity as simulated_capacity
from ._dichotomies import draw_dichotomies as draw_dichotomies
from ._geometry_training import ChizatTwoLayer as ChizatTwoLayer
from ._geometry_training import TwoLayerRun as TwoLayerRun
from ._geometry_training import geometry_over_training as geometry_over_training
from ._geometry_training import plot_geometry_over_training as plot_geometry_over_training
from ._geometry_training import train_two_layer as train_two_layer
from ._manifolds import as_manifolds as as_manifolds
from ._manifolds import gaussian_clouds as gaussian_clouds
from ._manifolds import manifolds_from_lab_list as manifolds_from_lab_list
from ._manifolds import manifolds_from_labels as manifolds_from_labels
from ._manifolds import point_manifolds as point_manifolds
from ._manifolds import sphere_manifolds as sphere_manifolds
from ._qp import box_qp_ipm as box_qp_ipm
from ._qp import nnls_cpu as nnls_cpu

__all__ = [
    "ChizatTwoLayer",
    "MeanFieldCapacity",
    "SimulatedCapacity",
    "TwoLayerRun",
    "as_manifolds",
    "box_qp_ipm",
    "draw_dichotomies",
    "gaussian_clouds",
    "geometry_over_training",
    "manifolds_from_lab_list",
    "manifolds_from_labels",
    "mean_field_capacity",
    "nnls_cpu",
    "plot_geometry_over_training",
    "point_manifolds",
    "simulated_capacity",
    "sphere_manifolds",
    "train_two_layer",
]
