"""Measures of richness, kernels and representation geometry."""

from ._hessian import gauss_newton_top as gauss_newton_top
from ._hessian import hessian_extremes as hessian_extremes
from ._hessian import lanczos_extremes as lanczos_extremes

__all__ = ["gauss_newton_top", "hessian_extremes", "lanczos_extremes"]
