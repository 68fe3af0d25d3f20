"""Closed forms: exact learning dynamics and kernels (spec: ../shared/spec/)."""

from ._capacity import ball_capacity as ball_capacity
from ._capacity import ball_capacity_large_dim as ball_capacity_large_dim
from ._capacity import cover_separability as cover_separability
from ._capacity import gardner_capacity as gardner_capacity
from ._ntk import kernel_distance as kernel_distance
from ._ntk import ntk_from_reps as ntk_from_reps
from ._ntk import two_layer_ntk as two_layer_ntk

__all__ = [
    "ball_capacity",
    "ball_capacity_large_dim",
    "cover_separability",
    "gardner_capacity",
    "kernel_distance",
    "ntk_from_reps",
    "two_layer_ntk",
]
