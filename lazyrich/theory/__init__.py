"""Closed forms: exact learning dynamics and kernels (spec: ../shared/spec/)."""

from ._ntk import kernel_distance as kernel_distance
from ._ntk import ntk_from_reps as ntk_from_reps
from ._ntk import two_layer_ntk as two_layer_ntk

__all__ = ["kernel_distance", "ntk_from_reps", "two_layer_ntk"]
