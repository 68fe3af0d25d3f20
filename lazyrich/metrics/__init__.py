"""Measures of richness, kernels and representation geometry."""

__all__: list[str] = []
