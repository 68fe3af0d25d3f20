"""Closed forms: exact learning dynamics and kernels."""

from lazyrich._deprecation import moved_names as _moved_names

from ._aligned import aligned_mode as aligned_mode
from ._aligned import convergence_values as convergence_values
from ._aligned import half_time as half_time
from ._aligned import reversal_time as reversal_time
from ._aligned import saxe_mode as saxe_mode
from ._aligned import shallow_limit as shallow_limit
from ._aligned import single_neuron as single_neuron
from ._aligned import staircase_times as staircase_times
from ._balanced import allowed_lambda_signs as allowed_lambda_signs
from ._balanced import balance as balance
from ._balanced import lambda_balanced_init as lambda_balanced_init
from ._balanced import measure_lambda as measure_lambda
from ._balanced import split_singular_values as split_singular_values
from ._capacity import ball_capacity as ball_capacity
from ._capacity import ball_capacity_large_dim as ball_capacity_large_dim
from ._capacity import cover_separability as cover_separability
from ._capacity import gardner_capacity as gardner_capacity
from ._conv_kernels import Activation as Activation
from ._conv_kernels import AvgPool as AvgPool
from ._conv_kernels import CNNKernels as CNNKernels
from ._conv_kernels import Conv as Conv
from ._conv_kernels import Dense as Dense
from ._conv_kernels import Flatten as Flatten
from ._conv_kernels import GlobalAvgPool as GlobalAvgPool
from ._conv_kernels import cnn_kernels as cnn_kernels
from ._conv_kernels import convnet_kernels as convnet_kernels
from ._conv_kernels import convnet_layers as convnet_layers
from ._deep_linear import chain_eta_max_lazy as chain_eta_max_lazy
from ._deep_linear import chain_eta_max_rich as chain_eta_max_rich
from ._deep_linear import chain_plateau_time as chain_plateau_time
from ._deep_linear import deep_linear_final_ntk as deep_linear_final_ntk
from ._deep_linear import mode_learning_time as mode_learning_time
from ._dmft import DMFTSolution as DMFTSolution
from ._dmft import dmft_deep_linear as dmft_deep_linear
from ._dmft import dmft_two_layer as dmft_two_layer
from ._dmft import dmft_two_layer_linear as dmft_two_layer_linear
from ._dmft_deep import dmft_deep as dmft_deep
from ._exact import LinearSolution as LinearSolution
from ._exact import two_layer_linear as two_layer_linear
from ._infinite_width import ACTIVATIONS as ACTIVATIONS
from ._infinite_width import ABReLU as ABReLU
from ._infinite_width import MLPKernels as MLPKernels
from ._infinite_width import get_activation as get_activation
from ._infinite_width import mlp_kernels as mlp_kernels
from ._kernel_dynamics import KernelDynamics as KernelDynamics
from ._kernel_dynamics import KernelEnsemble as KernelEnsemble
from ._kernel_dynamics import kernel_dynamics as kernel_dynamics
from ._kernel_dynamics import kernel_ensemble as kernel_ensemble
from ._kernel_dynamics import kernel_eta_max as kernel_eta_max
from ._ntk import kernel_distance as kernel_distance
from ._ntk import ntk_from_reps as ntk_from_reps
from ._ntk import two_layer_ntk as two_layer_ntk
from ._tasks import TaskSequence as TaskSequence
from ._tasks import predicted_forgetting as predicted_forgetting
from ._tasks import random_task as random_task
from ._tasks import task_sequence as task_sequence
from ._tasks import two_layer_loss as two_layer_loss
from ._whiten import from_data as from_data
from ._whiten import whiten as whiten

__all__ = ["Activation", "AvgPool", "CNNKernels", "Conv", "Dense", "Flatten", "GlobalAvgPool",
           "cnn_kernels", "convnet_kernels", "convnet_layers", "KernelDynamics", "KernelEnsemble",
           "kernel_dynamics", "kernel_ensemble",
           "kernel_eta_max", "aligned_mode", "convergence_values", "half_time", "reversal_time",
           "saxe_mode",
           "shallow_limit", "single_neuron", "staircase_times", "allowed_lambda_signs", "balance",
           "lambda_balanced_init", "measure_lambda", "split_singular_values", "ball_capacity",
           "ball_capacity_large_dim", "cover_separability", "gardner_capacity",
           "chain_eta_max_lazy", "chain_eta_max_rich", "chain_plateau_time",
           "deep_linear_final_ntk", "mode_learning_time", "DMFTSolution", "dmft_deep",
           "dmft_deep_linear",
           "dmft_two_layer", "dmft_two_layer_linear", "LinearSolution", "two_layer_linear",
           "ACTIVATIONS", "ABReLU", "MLPKernels", "get_activation", "mlp_kernels",
           "kernel_distance", "ntk_from_reps", "two_layer_ntk", "TaskSequence",
           "predicted_forgetting", "random_task", "task_sequence", "two_layer_loss", "from_data",
           "whiten"]

# Old name here -> name in lazyrich.sims (simulators live there; one release of grace).
__getattr__ = _moved_names("lazyrich.theory", "lazyrich.sims", {"chain_gd": "chain_gd"})
