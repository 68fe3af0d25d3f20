"""Closed forms: exact learning dynamics and kernels (spec: ../shared/spec/)."""

from ._infinite_width import ACTIVATIONS as ACTIVATIONS
from ._infinite_width import MLPKernels as MLPKernels
from ._infinite_width import get_activation as get_activation
from ._infinite_width import mlp_kernels as mlp_kernels
from ._ntk import kernel_distance as kernel_distance
from ._ntk import ntk_from_reps as ntk_from_reps
from ._ntk import two_layer_ntk as two_layer_ntk

__all__ = ["kernel_distance", "ntk_from_reps", "two_layer_ntk",
           # infinite-width MLP kernels (engineering.md §2.2(b))
           "mlp_kernels", "MLPKernels", "ACTIVATIONS", "get_activation"]
