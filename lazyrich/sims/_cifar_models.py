r"""VGG-11 and ResNet-18 of the deep-network capacity experiments (Chou et al. 2025, section
4.6), as flax models for the sweep engine.

Architectures as in the paper's code: **no BatchNorm**, conv biases, Xavier-normal (gain 1)
weights and zero biases, a linear head 512k → classes on the 512k-dimensional penultimate layer
(``k`` the width factor):

* VGG-11: ``64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M`` (3×3 convolutions with
  padding 1 and ReLU, 2×2 max-pooling), then a 1×1 average pool (identity at 32×32 inputs).
* ResNet-18: 3×3 stem (64) + ReLU, BasicBlocks 2-2-2-2 (64, 128, 256, 512; stride 2 at the first
  block of stages 2–4), a 1×1 convolution on the shortcut when the shape changes, a 4×4 average
  pool.

:func:`cifar_model` wraps the flax module with :func:`lazyrich.sims.from_flax` (the trainer
centres and scales it: with ``parametrization="chizat"`` the sweep's ``gamma`` is the Chizat
:math:`\alpha` and ``eta`` the step :math:`\eta_0`, the paper's knob being
:math:`\bar\eta = \eta_0/\alpha`; docs: Manifold capacity) and returns the penultimate-feature
function that :func:`lazyrich.geometry.feature_probe` records. The capacity pipeline on top of
them is :func:`lazyrich.geometry.cifar_capacity_sweep`.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

VGG11 = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
CIFAR_ARCHS = ("vgg11", "resnet18")


def _xavier():
    # torch.nn.init.xavier_normal_: N(0, 2/(fan_in + fan_out)), fans including the receptive field
    return jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")


def _modules():
    import flax.linen as nn

    def conv(c, stride=1, k=3):
        return nn.Conv(c, (k, k), strides=(stride, stride), padding=((k // 2, k // 2),) * 2,
                       use_bias=True, kernel_init=_xavier(),
                       bias_init=jax.nn.initializers.zeros)

    class VGG(nn.Module):
        channels: tuple
        num_classes: int = 10

        @nn.compact
        def __call__(self, x, return_features: bool = False):
            for c in self.channels:
                if c == "M":
                    x = nn.max_pool(x, (2, 2), strides=(2, 2))
                else:
                    x = nn.relu(conv(c)(x))
            x = x.reshape(x.shape[0], -1)  # AvgPool(1) is the identity
            if return_features:
                return x
            return nn.Dense(self.num_classes, kernel_init=_xavier(),
                            bias_init=jax.nn.initializers.zeros)(x)

    class Block(nn.Module):
        c: int
        stride: int

        @nn.compact
        def __call__(self, x):
            h = nn.relu(conv(self.c, self.stride)(x))
            h = conv(self.c)(h)
            if self.stride != 1 or x.shape[-1] != self.c:
                x = conv(self.c, self.stride, k=1)(x)
            return nn.relu(h + x)

    class ResNet(nn.Module):
        widths: tuple
        num_classes: int = 10

        @nn.compact
        def __call__(self, x, return_features: bool = False):
            x = nn.relu(conv(self.widths[0])(x))
            for i, c in enumerate(self.widths):
                x = Block(c, 1 if i == 0 else 2)(x)
                x = Block(c, 1)(x)
            x = nn.avg_pool(x, (4, 4), strides=(4, 4))
            x = x.reshape(x.shape[0], -1)
            if return_features:
                return x
            return nn.Dense(self.num_classes, kernel_init=_xavier(),
                            bias_init=jax.nn.initializers.zeros)(x)

    return VGG, ResNet


class CifarModel(NamedTuple):
    """A sweep-ready model, its penultimate-feature function and the flax module.

    Attributes:
        model: for ``SweepConfig(model=...)`` (from :func:`lazyrich.sims.from_flax`).
        features: ``(params, x) -> (n, 512k)``, for :func:`lazyrich.geometry.feature_probe`.
        module: the flax linen module.
    """

    model: Any
    features: Callable
    module: Any


def cifar_model(arch: str = "vgg11", *, width_factor: float = 1.0, num_classes: int = 10,
                image_shape=(32, 32, 3)) -> CifarModel:
    """VGG-11 or ResNet-18 of the paper, channels scaled by ``width_factor`` (k).

    Args:
        arch: ``"vgg11"`` or ``"resnet18"``.
        width_factor: k; every channel count becomes ``max(1, round(k c))`` (k = 1: the paper).
        num_classes: outputs of the linear head.
        image_shape: (H, W, C) of the inputs (32×32×3 for CIFAR-10).
    """
    if arch not in CIFAR_ARCHS:
        raise ValueError(f"arch must be one of {CIFAR_ARCHS}, got {arch!r}")
    if isinstance(width_factor, bool) or not np.isfinite(width_factor) or width_factor <= 0:
        raise ValueError(f"width_factor must be finite and > 0, got {width_factor!r}")
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if len(image_shape) != 3 or image_shape[0] % 32 or image_shape[1] % 32:
        raise ValueError(f"image_shape must be (H, W, C) with H, W multiples of 32 (five "
                         f"2x downsamplings), got {image_shape}")
    from ._models import from_flax

    def ch(c):
        return max(1, int(round(width_factor * c)))

    VGG, ResNet = _modules()
    if arch == "vgg11":
        module = VGG(tuple(c if c == "M" else ch(c) for c in VGG11), int(num_classes))
    else:
        module = ResNet(tuple(ch(c) for c in (64, 128, 256, 512)), int(num_classes))
    width = ch(512)
    model = from_flax(module, np.zeros((1,) + tuple(image_shape)), width=width, name=arch)

    def features(params, x):
        with jax.numpy_dtype_promotion("standard"):
            return module.apply(params, x, return_features=True)

    return CifarModel(model, features, module)
