r"""Models in the "N(0,1) weights + explicit multipliers" μP form of Atanasov et al.
2025 (docs: Gamma scaling; docs: Conventions).

A model is anything with ``init(key, dtype) -> params`` and ``apply(params, x) -> g(x; θ)``
(the *uncentred*, un-γ-scaled network). Centring and the 1/γ factor are applied by the
trainer, so every model, including a user's ``apply(params, x)`` or a flax module, is centred
and γ-scaled the same way:

.. math:: f(x;\theta) = \frac{g(x;\theta) - g(x;\theta_0)}{\gamma}.

Built-in models (pure JAX):

* :class:`MLP`, with :math:`L` = number of weight layers,
  :math:`h^1 = W^0x/\sqrt D`, :math:`h^{\ell+1} = W^\ell\phi(h^\ell)/\sqrt N`,
  :math:`g = w^L\phi(h^{L-1})/N` (readout ``"ntk"``: :math:`1/\sqrt N`). ``activation="linear"``
  is the deep linear network.
* :class:`ConvNet`, the CNN of Atanasov et al. 2025 (L = 4): two 3×3 convolutions divided by
  :math:`\sqrt{C_{in}}` (fan-in without :math:`k^2`, as the authors' code), ReLU and 2×2 average
  pooling, a dense layer of width 8N and a 1/fan-in readout.

Every built-in model without biases and with a positively homogeneous activation
(:math:`\phi(cu) = c\,\phi(u)` for c > 0: ReLU, linear, …) is positively homogeneous of degree L
in its parameters (``degree``), which is what the exact γ ↔ init-scale symmetry needs
(docs: Gamma scaling, "The γ ↔ init-scale symmetry").
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def activation_names() -> tuple:
    """The activation names the built-in models accept: every name of the library's one table,
    :data:`lazyrich.theory.ACTIVATIONS` (read at call time, so additions to it are accepted)."""
    from lazyrich.theory import ACTIVATIONS

    return tuple(sorted(ACTIVATIONS))


def _act(name: str):
    """The activation ``name`` from the library's one table
    (:func:`lazyrich.theory.get_activation`)."""
    from lazyrich.theory import get_activation

    names = activation_names()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"unknown activation {name!r}; expected one of {names}")
    return get_activation(name)


@functools.lru_cache(maxsize=32)
def _positively_homogeneous(name: str) -> bool:
    r"""Whether :math:`\phi(cu) = c\,\phi(u)` for c > 0, checked on exactly representable points
    (c = 2, 4; u of both signs): then an MLP without biases is homogeneous of degree L."""
    phi = _act(name)
    u = np.array([-3.0, -1.5, -1.0, -0.25, 0.0, 0.25, 1.0, 1.5, 3.0], dtype=np.float32)
    base = np.asarray(phi(jnp.asarray(u)), dtype=np.float64)
    if not np.all(np.isfinite(base)):
        return False
    return all(np.allclose(np.asarray(phi(jnp.asarray(c * u)), np.float64), c * base,
                           rtol=1e-6, atol=1e-7) for c in (2.0, 4.0))


def _positive_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


@dataclasses.dataclass(frozen=True)
class Model:
    """Base class: a network :math:`g(x;\\theta)` and what the trainer needs to know about it.

    Attributes:
        width: N in the μP SGD step :math:`N\\eta`.
        degree: homogeneity degree in the parameters (``None`` if not homogeneous).
    """

    def init(self, key, dtype) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def apply(self, params, x) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def width(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def degree(self) -> int | None:
        return None

    def lr_scales(self, optimizer: str, params):
        """Per-leaf step multipliers (a pytree like ``params``).

        SGD and momentum: :math:`N` everywhere (the global μP step :math:`N\\eta`).
        Adam and SignSGD: 1 everywhere unless a model overrides it (the MLP uses the
        μP rates 1, 1/√N, 1 of input, hidden and readout layers).
        """
        s = float(self.width) if optimizer in ("sgd", "momentum") else 1.0
        return jax.tree.map(lambda _: s, params)

    def readout_mask(self, params):
        """Which leaves belong to the readout (a pytree of bools like ``params``): the layer that
        ``SweepConfig(trainable="readout")`` trains alone."""
        raise ValueError(f"trainable='readout' needs a model that names its readout layer; "
                         f"{type(self).__name__} does not (for a wrapped model pass "
                         f"readout=fn(params) -> pytree of bools to from_apply/from_flax)")

    def describe(self) -> dict:
        return {"model": type(self).__name__}


@dataclasses.dataclass(frozen=True)
class MLP(Model):
    r"""Bias-free (by default) μP MLP with ``depth`` = L weight layers
    (Atanasov et al. 2025; docs: Gamma scaling).

    Args:
        depth: L ≥ 1, the number of weight matrices (L = 2: one hidden layer).
        hidden: N, the hidden width.
        input_dim: D.
        output_dim: C.
        activation: a name of :data:`lazyrich.theory.ACTIVATIONS` (``"relu"``, ``"linear"``
            for the deep linear network, ``"tanh"``, ``"erf"``, ``"gelu"``, …).
        bias: biases initialised at 0 and divided by the same multiplier as the weights. Under
            the step Nη only the first-layer bias learns at O(1) rate; they break homogeneity.
        readout: ``"mup"`` (1/N) or ``"ntk"`` (1/√N; the NTK convention, docs: Conventions).
    """

    depth: int
    hidden: int
    input_dim: int
    output_dim: int = 1
    activation: str = "relu"
    bias: bool = False
    readout: str = "mup"

    def __post_init__(self):
        for name in ("depth", "hidden", "input_dim", "output_dim"):
            _positive_int(name, getattr(self, name))
        _act(self.activation)
        if not isinstance(self.bias, bool | np.bool_):
            raise TypeError(f"bias must be True or False, got {self.bias!r}")
        if self.readout not in ("mup", "ntk"):
            raise ValueError(f"readout must be 'mup' or 'ntk', got {self.readout!r}")

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def degree(self) -> int | None:
        homogeneous = _positively_homogeneous(self.activation) and not self.bias
        return self.depth if homogeneous else None

    def _dims(self):
        L, N = self.depth, self.hidden
        return [self.input_dim] + [N] * (L - 1) + [self.output_dim]

    def init(self, key, dtype):
        dims = self._dims()
        keys = jax.random.split(key, self.depth)
        ws = tuple(jax.random.normal(k, (a, b), dtype=dtype)
                   for k, a, b in zip(keys, dims[:-1], dims[1:], strict=True))
        if not self.bias:
            return {"w": ws}
        return {"w": ws, "b": tuple(jnp.zeros((b,), dtype=dtype) for b in dims[1:])}

    def _mult(self, layer: int, fan_in: int) -> float:
        if layer == self.depth - 1:
            return 1.0 / fan_in if self.readout == "mup" else 1.0 / math.sqrt(fan_in)
        return 1.0 / math.sqrt(fan_in)

    def preactivations(self, params, x) -> list:
        r"""Every layer's pre-activation :math:`[h^1, \dots, h^{L-1}, g]` on ``x`` (the last is
        the readout): what a coord check measures layer by layer."""
        phi = _act(self.activation)
        ws = params["w"]
        bs = params.get("b")
        out, h = [], x
        for i, w in enumerate(ws):
            z = (phi(h) if i > 0 else h) @ w
            if bs is not None:
                z = z + bs[i][None, :]
            h = z * self._mult(i, w.shape[0])
            out.append(h)
        return out

    def features(self, params, x):
        r"""The readout's input :math:`\phi(h^{L-1})` (``x`` itself when ``depth == 1``), shape
        ``(n, N)``: the representation that D_LR and manifold capacity measure."""
        phi = _act(self.activation)
        ws = params["w"]
        bs = params.get("b")
        h = x
        for i, w in enumerate(ws[:-1]):
            if i > 0:
                h = phi(h)
            z = h @ w
            if bs is not None:
                z = z + bs[i][None, :]
            h = z * self._mult(i, w.shape[0])
        return phi(h) if len(ws) > 1 else h

    def apply(self, params, x):
        w = params["w"][-1]
        z = self.features(params, x) @ w
        if params.get("b") is not None:
            z = z + params["b"][-1][None, :]
        return z * self._mult(len(params["w"]) - 1, w.shape[0])

    def lr_scales(self, optimizer, params):
        if optimizer in ("sgd", "momentum"):
            return super().lr_scales(optimizer, params)
        # μP Adam/SignSGD in the N(0,1)+multiplier form (Yang et al. 2022, Tensor Programs V):
        # input O(1), hidden ∝ 1/√N, readout O(1).
        L = self.depth
        per = [1.0 if (i == 0 or i == L - 1) else 1.0 / math.sqrt(self.hidden) for i in range(L)]
        out = {"w": tuple(per)}
        if "b" in params:
            out["b"] = tuple(per)
        return out

    def readout_mask(self, params):
        last = len(params["w"]) - 1
        out = {"w": tuple(i == last for i in range(len(params["w"])))}
        if "b" in params:
            out["b"] = tuple(i == last for i in range(len(params["b"])))
        return out

    def describe(self):
        return {"model": "mlp", **dataclasses.asdict(self)}


def deep_linear(depth: int, hidden: int, input_dim: int, output_dim: int = 1) -> MLP:
    """The deep linear network: an :class:`MLP` with ``activation="linear"``."""
    return MLP(depth, hidden, input_dim, output_dim, activation="linear")


def _avgpool2(h):
    b, H, W, c = h.shape
    h = h[:, : H // 2 * 2, : W // 2 * 2, :]
    return h.reshape(b, H // 2, 2, W // 2, 2, c).mean(axis=(2, 4))


@dataclasses.dataclass(frozen=True)
class ConvNet(Model):
    r"""The CNN of Atanasov et al. 2025 (L = 4 weight layers), on NHWC images.

    conv3×3 (C→N) /√C → φ → avgpool 2 → conv3×3 (N→2N) /√N → φ → avgpool 2 → flatten →
    dense (F→8N) /√F → φ → readout (8N→classes) /(8N). Weights N(0,1), no biases; φ = ReLU
    (the authors' choice) or any name of :data:`lazyrich.theory.ACTIVATIONS` (``activation``;
    a smooth one, e.g. ``"erf"``, makes the small-γ expansion analytic).
    ``padding="VALID"`` is the authors' choice (F = 6·6·2N at 32×32, 5·5·2N at 28×28);
    ``"SAME"`` lets 8×8 images (scikit-learn digits) through.
    """

    image_shape: tuple  # (H, W, C)
    hidden: int
    output_dim: int = 10
    padding: str = "VALID"
    activation: str = "relu"

    def __post_init__(self):
        _act(self.activation)
        _positive_int("hidden", self.hidden)
        _positive_int("output_dim", self.output_dim)
        if (not isinstance(self.image_shape, tuple | list) or len(self.image_shape) != 3
                or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1
                       for s in self.image_shape)):
            raise ValueError(f"image_shape must be (H, W, C) with positive entries, "
                             f"got {self.image_shape}")
        if self.padding not in ("VALID", "SAME"):
            raise ValueError(f"padding must be 'VALID' or 'SAME', got {self.padding!r}")
        if self._flat() < 1:
            raise ValueError(f"images of shape {self.image_shape} are too small for two 3x3 "
                             f"{self.padding} convolutions and 2x2 poolings; use padding='SAME'")

    def _flat(self) -> int:
        H, W, _ = self.image_shape
        k = 2 if self.padding == "VALID" else 0
        H, W = (H - k) // 2, (W - k) // 2
        H, W = (H - k) // 2, (W - k) // 2
        return max(H, 0) * max(W, 0) * 2 * self.hidden

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def degree(self) -> int | None:
        return 4 if _positively_homogeneous(self.activation) else None

    def init(self, key, dtype):
        C = self.image_shape[2]
        N = self.hidden
        k = jax.random.split(key, 4)
        return {
            "conv1": jax.random.normal(k[0], (3, 3, C, N), dtype=dtype),
            "conv2": jax.random.normal(k[1], (3, 3, N, 2 * N), dtype=dtype),
            "dense": jax.random.normal(k[2], (self._flat(), 8 * N), dtype=dtype),
            "readout": jax.random.normal(k[3], (8 * N, self.output_dim), dtype=dtype),
        }

    def _conv(self, h, w):
        # im2col by shifted slices + one matmul: the same result as conv_general_dilated
        # (tested), but XLA:CPU compiles its gradient inside scans several times faster.
        kh, kw, c_in, c_out = w.shape
        if self.padding == "SAME":
            h = jnp.pad(h, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
        H, W = h.shape[1] - kh + 1, h.shape[2] - kw + 1
        patches = jnp.concatenate([h[:, i:i + H, j:j + W, :] for i in range(kh) for j in range(kw)],
                                  axis=-1)  # features ordered (kh, kw, C_in)
        return (patches @ w.reshape(kh * kw * c_in, c_out)) / math.sqrt(c_in)

    def features(self, params, x):
        """The activated output of the dense layer (width 8N), the readout's input,
        shape ``(n, 8N)``."""
        phi = _act(self.activation)
        h = _avgpool2(phi(self._conv(x, params["conv1"])))
        h = _avgpool2(phi(self._conv(h, params["conv2"])))
        h = h.reshape(h.shape[0], -1)
        return phi(h @ params["dense"] / math.sqrt(params["dense"].shape[0]))

    def apply(self, params, x):
        return self.features(params, x) @ params["readout"] / params["readout"].shape[0]

    def lr_scales(self, optimizer, params):
        if optimizer in ("sgd", "momentum"):
            return super().lr_scales(optimizer, params)
        s = 1.0 / math.sqrt(self.hidden)
        return {"conv1": 1.0, "conv2": s, "dense": s, "readout": 1.0}

    def readout_mask(self, params):
        return {k: k == "readout" for k in params}

    def describe(self):
        return {"model": "convnet", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True, eq=False)
class ApplyModel(Model):
    r"""Any ``apply(params, x)`` with an ``init(key, dtype)``: centred, γ-scaled and swept as is.

    Args:
        apply_fn: ``apply(params, x) -> (batch, outputs)``.
        init_fn: ``init(key, dtype) -> params``.
        width: the N of the μP step Nη (use 1 to make η the actual step).
        degree: homogeneity degree in the parameters, if any.
        lr_scale_fn: optional ``(optimizer, params) -> pytree`` of per-leaf step multipliers.
        name: recorded in the results' attributes.
        model_depth: L, the number of weight layers, if known: the L of
            :math:`s(\gamma) = \gamma^2/(1+\gamma^{2-2/L})` in ``eta_hat`` sweeps, which refuse a
            model whose depth is unknown rather than assume one.
    """

    apply_fn: Callable
    init_fn: Callable
    model_width: int = 1
    model_degree: int | None = None
    lr_scale_fn: Callable | None = None
    name: str = "custom"
    model_depth: int | None = None
    readout_fn: Callable | None = None

    # Identity semantics: two wrapped callables are different models even when their metadata
    # agree. Compiled engines are cached per config, so field equality (inherited from Model,
    # which compares no fields here) would hand one model's engine to another.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __post_init__(self):
        if not callable(self.apply_fn) or not callable(self.init_fn):
            raise TypeError("apply_fn and init_fn must be callables")
        _positive_int("width", self.model_width)
        if self.model_degree is not None:
            _positive_int("degree", self.model_degree)
        if self.lr_scale_fn is not None and not callable(self.lr_scale_fn):
            raise TypeError(f"lr_scales must be a callable (optimizer, params) -> pytree or None, "
                            f"got {self.lr_scale_fn!r}")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {self.name!r}")
        if self.model_depth is not None:
            _positive_int("depth", self.model_depth)
        if self.readout_fn is not None and not callable(self.readout_fn):
            raise TypeError(f"readout must be a callable params -> pytree of bools or None, got "
                            f"{self.readout_fn!r}")

    @property
    def width(self) -> int:
        return self.model_width

    @property
    def degree(self):
        return self.model_degree

    def init(self, key, dtype):
        return jax.tree.map(lambda a: jnp.asarray(a, dtype=dtype), self.init_fn(key, dtype))

    def apply(self, params, x):
        return self.apply_fn(params, x)

    def lr_scales(self, optimizer, params):
        if self.lr_scale_fn is not None:
            return self.lr_scale_fn(optimizer, params)
        return super().lr_scales(optimizer, params)

    def readout_mask(self, params):
        if self.readout_fn is None:
            return super().readout_mask(params)
        mask = self.readout_fn(params)
        if jax.tree.structure(mask) != jax.tree.structure(params):
            raise ValueError(f"readout(params) must return a pytree of bools with the structure "
                             f"of params, got {jax.tree.structure(mask)}")
        return jax.tree.map(bool, mask)

    def describe(self):
        return {"model": self.name, "width": self.model_width, "degree": self.model_degree,
                "depth": self.model_depth}


def from_apply(apply, init, *, width: int = 1, degree: int | None = None, lr_scales=None,
               name: str = "custom", depth: int | None = None, readout=None) -> ApplyModel:
    r"""Wrap ``apply(params, x)`` and ``init(key, dtype)`` as a model for :func:`sweep`.

    The trainer computes :math:`f = (\text{apply}(\theta,x) - \text{apply}(\theta_0,x))/\gamma`
    and steps by ``width * eta`` for SGD. Example::

        model = sims.from_apply(lambda p, x: jnp.tanh(x @ p["a"]) @ p["b"] / 64,
                                lambda k, dt: {"a": jax.random.normal(k, (16, 64), dt),
                                               "b": jax.random.normal(k, (64, 1), dt)}, width=64)

    ``depth`` (L, the number of weight layers) is needed by ``eta_hat`` sweeps, whose
    :math:`s(\gamma)` depends on L; set ``SweepConfig(depth=L)`` to the same value.
    ``readout(params) -> pytree of bools`` marks the readout layer, for
    ``SweepConfig(trainable="readout")``.
    """
    return ApplyModel(apply, init, width, degree, lr_scales, name, depth, readout)


def from_flax(module, example_x, *, width: int = 1, degree: int | None = None, lr_scales=None,
              name: str | None = None, depth: int | None = None, readout=None) -> ApplyModel:
    """Wrap a flax model (linen ``Module`` or an nnx factory ``rngs -> nnx.Module``).

    Linen: ``init`` is ``module.init(key, example_x)`` and ``apply`` is ``module.apply``.
    NNX: ``module`` is a callable taking ``nnx.Rngs`` and returning a module; parameters are the
    ``nnx.Param`` state and the graph definition is fixed.
    Whatever initialisation flax uses is kept; centring and 1/γ are applied by the trainer.
    ``depth`` (L) is needed by ``eta_hat`` sweeps, and ``readout`` by ``trainable="readout"``,
    as for :func:`from_apply`.
    """
    import flax.linen as nn

    example_x = jnp.asarray(example_x)
    if isinstance(module, nn.Module):
        # flax keeps its own param_dtype (float32): let it promote inside the module
        def init(key, dtype):
            with jax.numpy_dtype_promotion("standard"):
                return module.init(key, example_x.astype(dtype))

        def apply_linen(params, x):
            with jax.numpy_dtype_promotion("standard"):
                return module.apply(params, x)

        return ApplyModel(apply_linen, init, width, degree, lr_scales,
                          name or type(module).__name__, depth, readout)
    if callable(module):
        from flax import nnx

        graphdef, _ = nnx.split(module(nnx.Rngs(0)))

        def init(key, dtype):
            with jax.numpy_dtype_promotion("standard"):
                m = module(nnx.Rngs(params=key))
            _, state = nnx.split(m)
            return jax.tree.map(lambda a: jnp.asarray(a, dtype=dtype), nnx.to_pure_dict(state))

        def apply(params, x):
            _, state = nnx.split(module(nnx.Rngs(0)))
            nnx.replace_by_pure_dict(state, params)
            with jax.numpy_dtype_promotion("standard"):
                return nnx.merge(graphdef, state)(x)

        return ApplyModel(apply, init, width, degree, lr_scales, name or "nnx", depth, readout)
    raise TypeError(f"from_flax expects a flax.linen Module or an nnx factory (rngs -> Module), "
                    f"got {type(module).__name__}")
