"""Closed forms: exact learning dynamics and kernels (spec: ../shared/spec/)."""

from ._ntk import kernel_distance as kernel_distance
from ._ntk import ntk_from_reps as ntk_from_reps
from ._ntk import two_layer_ntk as two_layer_ntk
from ._tasks import TaskSequence as TaskSequence
from ._tasks import predicted_forgetting as predicted_forgetting
from ._tasks import random_task as random_task
from ._tasks import task_sequence as task_sequence
from ._tasks import two_layer_loss as two_layer_loss
from ._tasks import weights_from_P as weights_from_P

__all__ = ["kernel_distance", "ntk_from_reps", "two_layer_ntk", "TaskSequence",
           "predicted_forgetting", "random_task", "task_sequence", "two_layer_loss",
           "weights_from_P"]
