"""Simulators (one run each, batched only by vmap/scan/sharding) and sweeps."""

from ._cells import initial_params as initial_params
from ._cells import run_cells as run_cells
from ._cells import scaled_sweep as scaled_sweep
from ._cifar_models import CIFAR_ARCHS as CIFAR_ARCHS
from ._cifar_models import CifarModel as CifarModel
from ._cifar_models import cifar_model as cifar_model
from ._config import DTYPES as DTYPES
from ._config import ETA_SCALES as ETA_SCALES
from ._config import LOSSES as LOSSES
from ._config import MODELS as MODELS
from ._config import MUP_STEPS as MUP_STEPS
from ._config import OPTIMIZERS as OPTIMIZERS
from ._config import PADDINGS as PADDINGS
from ._config import SWEEPABLE as SWEEPABLE
from ._config import TRAINABLE as TRAINABLE
from ._config import SweepConfig as SweepConfig
from ._config import log_schedule as log_schedule
from ._config import resolve as resolve
from ._config import seed_key as seed_key
from ._engine import Engine as Engine
from ._engine import MetricContext as MetricContext
from ._engine import crop_flip as crop_flip
from ._engine import scale_by_mup as scale_by_mup
from ._linear import LinearTrajectory as LinearTrajectory
from ._linear import chain_gd as chain_gd
from ._linear import gd_two_layer as gd_two_layer
from ._linear import ode_two_layer as ode_two_layer
from ._models import MLP as MLP
from ._models import ConvNet as ConvNet
from ._models import Model as Model
from ._models import activation_names as activation_names
from ._models import deep_linear as deep_linear
from ._models import from_apply as from_apply
from ._models import from_flax as from_flax
from ._param import PARAMETRIZATIONS as PARAMETRIZATIONS
from ._param import eta_from_hat as eta_from_hat
from ._param import eta_hat as eta_hat
from ._param import eta_scale as eta_scale
from ._param import from_mup as from_mup
from ._param import native as native
from ._param import to_mup as to_mup
from ._results import load_results as load_results
from ._slurm import SlurmSweep as SlurmSweep
from ._slurm import submit_sweep as submit_sweep
from ._sweep import SHAPE_AXES as SHAPE_AXES
from ._sweep import make_grid as make_grid
from ._sweep import merge as merge
from ._sweep import parse_shard as parse_shard
from ._sweep import shard_cells as shard_cells
from ._sweep import shard_path as shard_path
from ._sweep import sweep as sweep
from ._tasks import TASK_OPTIONS as TASK_OPTIONS
from ._tasks import TASKS as TASKS
from ._tasks import ArrayTask as ArrayTask
from ._tasks import Task as Task
from ._tasks import array_task as array_task
from ._tasks import make_task as make_task
from ._train import TrainResult as TrainResult
from ._train import train as train

__all__ = ["initial_params", "run_cells", "scaled_sweep", "CIFAR_ARCHS", "CifarModel",
           "cifar_model",
           "LinearTrajectory", "chain_gd", "gd_two_layer",
           "ode_two_layer",
           "MLP", "ConvNet", "Model", "deep_linear", "from_apply", "from_flax",
           "PARAMETRIZATIONS", "eta_from_hat", "eta_hat", "eta_scale", "from_mup", "native",
           "to_mup",
           "SHAPE_AXES", "make_grid", "merge", "parse_shard", "shard_cells", "sweep",
           "TASK_OPTIONS", "TASKS", "Task", "make_task", "ArrayTask", "array_task",
           "MUP_STEPS", "Engine", "OPTIMIZERS", "SWEEPABLE", "TRAINABLE", "MetricContext",
           "SweepConfig", "TrainResult", "log_schedule", "crop_flip", "resolve", "scale_by_mup",
           "seed_key", "train", "DTYPES", "ETA_SCALES", "LOSSES", "MODELS", "PADDINGS",
           "activation_names", "load_results", "SlurmSweep", "submit_sweep", "shard_path"]
