r"""The static configuration of a training run (:class:`SweepConfig`), its validation, the
per-cell values and seeds, the dtype policy, and how a config resolves into a model and a task.

Everything that defines a run except the swept per-cell values (γ, η, seed, …) is a field of
:class:`SweepConfig`; :func:`resolve` builds the model and task exactly as the engine does, and
:func:`choose_dtype` decides (or refuses) the dtype a set of cells runs in.
"""

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _param
from ._models import MLP, ConvNet, Model, activation_names
from ._tasks import CLASSIFICATION_TASKS, IMAGE_TASKS, TASKS, Task, make_task

MODELS = ("mlp", "deep-linear", "convnet")
OPTIMIZERS = ("sgd", "momentum", "adam", "signsgd")
#: Which per-layer step multipliers an optimizer takes (``SweepConfig.mup_steps``): ``"sgd"``
#: (N on every layer: the μP step Nη), ``"adam"`` (μP Adam/SignSGD: 1, 1/√N, 1), ``"none"``
#: (every multiplier 1: η is the step of every N(0,1) weight, the NTK parametrisation's rule) or
#: ``"sp"`` (each weight's fan-in: with parametrization="ntk", whose 1/√fan-in multipliers put
#: the scales in the forward pass, the effective weights W/√fan-in then move exactly as in the
#: standard parametrisation trained with step η).
MUP_STEPS = ("sgd", "adam", "none", "sp")
#: The built-in optimizers' multipliers.
_MUP_STEPS_OF = {"sgd": "sgd", "momentum": "sgd", "adam": "adam", "signsgd": "adam"}
#: Which parameters train (``SweepConfig.trainable``).
TRAINABLE = ("all", "readout")
LOSSES = ("mse", "xent")
DTYPES = ("auto", "float32", "float64")
PADDINGS = ("VALID", "SAME")
#: The optimizer options each optimizer reads (the others would be ignored, so they are refused).
OPTIMIZER_OPTIONS = {"sgd": (), "momentum": ("momentum",), "adam": ("b1", "b2", "adam_eps"),
                     "signsgd": ()}
ETA_SCALES = ("smooth", "piecewise")
#: Per-cell hyperparameters (array leaves of one cell; ``vmap`` runs over them).
CELL_FIELDS = ("gamma", "eta", "seed", "init_scale", "momentum", "b1", "b2")
#: Config fields a sweep may vary (``eta_hat`` is η/s(γ), s(γ) = γ²/(1 + γ^(2−2/L));
#: docs: Gamma scaling, "The normalised learning rate").
SWEEPABLE = ("gamma", "eta", "eta_hat", "seed", "init_scale", "momentum", "b1", "b2")
#: Below this γ the default dtype is float64 (the rule of the authors' code, Atanasov et al.
#: 2025: g − g₀ = O(γ) cancels in float32; docs: Conventions).
FLOAT64_BELOW = 1e-2
#: Largest seed: seeds are stored as int64 (NumPy, netCDF coordinates).
SEED_MAX = 2**63 - 1
#: Largest accepted round-off floor ε·o of the centred output f = o·(g − g₀) (g = O(1)):
#: cancellation in g − g₀ costs about ε·o relative error in f, so a dtype whose ε·o exceeds
#: this cannot resolve f to 0.1%.
ROUNDOFF_LIMIT = 1e-3
#: Open/closed ranges of the per-cell values: (low, high, low included).
_CELL_RANGES = {"gamma": (0.0, math.inf, False), "eta": (0.0, math.inf, False),
                "eta_hat": (0.0, math.inf, False), "init_scale": (0.0, math.inf, False),
                "momentum": (0.0, 1.0, True), "b1": (0.0, 1.0, True), "b2": (0.0, 1.0, True)}


def _pos_int(name, v, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r} ({type(v).__name__})")


def _is_number(v) -> bool:
    return not isinstance(v, bool | np.bool_) and isinstance(v, int | float | np.floating
                                                            | np.integer)


def _pos_float(name, v, low: float = 0.0):
    if not _is_number(v):
        raise TypeError(f"{name} must be a number, got {v!r} ({type(v).__name__})")
    if not math.isfinite(float(v)) or float(v) <= low:
        raise ValueError(f"{name} must be finite and > {low:g}, got {v!r}")


def _bool(name, v):
    if not isinstance(v, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {v!r} ({type(v).__name__})")


def _range_text(name) -> str:
    lo, hi, closed = _CELL_RANGES[name]
    if hi == math.inf:
        return "finite and > 0"
    return f"in [{lo:g}, {hi:g})" if closed else f"in ({lo:g}, {hi:g})"


def check_seeds(name: str, v, *, what: str = "non-negative integers") -> np.ndarray:
    """Seeds as an int64 array; refuses non-integers and values outside [0, 2**63 − 1].

    Every seed in that range gives its own run: the low and high 32-bit halves are both folded
    into the key (:func:`cell_key`), so nothing wraps.
    """
    expected = f"{name} must be {what} in [0, 2**63 - 1]"
    shown = v.tolist() if isinstance(v, np.ndarray) else v
    arr = np.asarray(v) if not isinstance(v, int) else np.asarray(v, dtype=object)
    if arr.dtype == object:  # Python ints (possibly beyond 64 bits), or mixed types
        items = list(arr.ravel())
        if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in items):
            numbers = all(_is_number(s) for s in items)
            raise (ValueError if numbers else TypeError)(f"{expected}, got {shown!r}")
        if any(not 0 <= int(s) <= SEED_MAX for s in items):
            raise ValueError(f"{expected}, got {shown!r}")
        return np.asarray([int(s) for s in items], dtype=np.int64).reshape(arr.shape)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        numbers = arr.dtype != bool and np.issubdtype(arr.dtype, np.number)
        raise (ValueError if numbers else TypeError)(f"{expected}, got {shown!r} "
                                                     f"(dtype {arr.dtype})")
    if np.issubdtype(arr.dtype, np.unsignedinteger) and np.any(arr > SEED_MAX):
        raise ValueError(f"{expected}, got {shown!r}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        raise ValueError(f"{expected}, got {shown!r}")
    return arr


def check_seed(name: str, v) -> int:
    """One seed (see :func:`check_seeds`) as a Python int."""
    if np.ndim(v) != 0:
        raise TypeError(f"{name} must be a non-negative integer in [0, 2**63 - 1], got {v!r}")
    return int(check_seeds(name, v, what="a non-negative integer"))


def check_cell_values(name: str, v) -> np.ndarray:
    """Per-cell values of field ``name`` as a float64 (or, for seeds, int64) array, refusing
    values outside the field's range (γ, η, η̂, init_scale > 0; momentum, b1, b2 in [0, 1))."""
    if name == "seed":
        return check_seeds(name, v)
    arr = np.asarray(v)
    if (arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number)
            or np.issubdtype(arr.dtype, np.complexfloating)):
        raise TypeError(f"{name} values must be real numbers, got {v!r}")
    arr = arr.astype(np.float64)
    lo, hi, closed = _CELL_RANGES[name]
    ok = np.isfinite(arr) & ((arr >= lo) if closed else (arr > lo)) & (arr < hi)
    if not np.all(ok):
        raise ValueError(f"{name} must be {_range_text(name)}, got {arr.tolist()}")
    return arr


def split_seeds(seeds) -> tuple[np.ndarray, np.ndarray]:
    """The low and high 32-bit halves of int64 seeds in [0, 2**63 − 1], as uint32."""
    s = np.asarray(seeds, dtype=np.int64)
    return (s & 0xFFFFFFFF).astype(np.uint32), (s >> 32).astype(np.uint32)


def cell_key(lo, hi):
    r"""A cell's initialisation key: ``fold_in(key(0), lo)``, then ``hi`` folded in when it is
    non-zero. Seeds below :math:`2^{32}` keep the key they always had; larger ones stay
    distinct (nothing wraps). Traceable (``lo``/``hi`` may be uint32 tracers)."""
    k = jax.random.fold_in(jax.random.key(0), lo)
    return jnp.where(hi > 0, jax.random.fold_in(k, hi), k)


def cell_params0(model, seed_lo, seed_hi, init_scale, dtype):
    """A cell's initial parameters θ₀: ``model.init(cell_key(lo, hi))`` times ``init_scale``
    (traceable; the one place the engine's initialisation rule is written)."""
    return jax.tree.map(lambda p: p * init_scale, model.init(cell_key(seed_lo, seed_hi), dtype))


def seed_key(seed: int, name: str = "seed"):
    """The key of an integer seed in [0, 2**63 − 1] (refused otherwise, naming ``name``):
    ``key(seed)`` below 2**32 (what it always was), else ``key(low 32 bits)`` with the high 32
    bits folded in, so no two seeds share a key."""
    seed = check_seed(name, seed)
    lo, hi = int(seed) & 0xFFFFFFFF, int(seed) >> 32
    k = jax.random.key(np.uint32(lo))
    return jax.random.fold_in(k, np.uint32(hi)) if hi else k


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    r"""Everything that defines a training run except the swept values (all fields static).

    Model: ``model`` is ``"mlp"``, ``"deep-linear"``, ``"convnet"`` or a :class:`Model`
    (e.g. from :func:`from_apply` / :func:`from_flax`); ``depth`` = L weight layers; ``width``
    = N; ``input_dim`` = D (default: the task's, 16 for synthetic tasks); ``activation``
    (a name of :data:`lazyrich.theory.ACTIVATIONS`: relu, linear, tanh, erf, …; the MLP's and the
    ConvNet's φ); ``bias`` (off by default: biases break the homogeneity behind the γ ↔
    init-scale symmetry, and past the first layer they barely move at large N;
    docs: Gamma scaling).
    Task: ``task`` (a name of :data:`TASKS` with ``task_options``, a dict; or a :class:`Task`,
    e.g. your own arrays from :func:`array_task`).
    Training: ``loss`` (``"mse"``/``"xent"``), ``batch_size`` B, ``full_batch`` (GD on the
    training set), ``num_steps`` T, ``optimizer`` (sgd, momentum, adam, signsgd, or any
    ``optax.GradientTransformation``: the update direction, before the μP per-layer multipliers
    ``mup_steps`` and the per-cell rate η; ``optimizer_label`` names it in results files),
    ``trainable`` (``"all"``, or ``"readout"``: only the last layer learns), ``augment`` (a
    training-batch transform ``augment(key, x) -> x`` of the same shape, e.g. :func:`crop_flip`;
    its key is the step's data key, so every cell sees the same augmented stream), ``centred``
    (``False``: the output is :math:`o\,g(x;\theta)`, not centred at θ₀),
    ``parametrization`` (mup, dmft, ntk, chizat: how ``gamma``/``eta`` are read;
    docs: Conventions),
    ``linearize`` (train the ``jax.linearize`` model at θ₀: the lazy limit), ``dtype`` (``"auto"``:
    float64 when γ < 1e-2). Logging: ``log_every`` k or ``log_points`` n log-spaced steps
    (default: every ``num_steps // 100``). ``data_seed`` fixes teacher and data stream;
    ``data_per_seed`` gives each seed its own stream.
    Defaults of the sweepable values: ``gamma``, ``eta``, ``seed``, ``init_scale`` (θ₀ is
    multiplied by it), ``momentum``, ``b1``, ``b2``.
    """

    model: Any = "mlp"
    depth: int = 2
    width: int = 128
    input_dim: int | None = None
    activation: str = "relu"
    bias: bool = False
    padding: str = "VALID"
    task: Any = "single-index"
    task_options: Any = ()
    loss: str = "mse"
    batch_size: int = 32
    full_batch: bool = False
    num_steps: int = 1000
    optimizer: Any = "sgd"
    mup_steps: str | None = None
    optimizer_label: str | None = None
    trainable: str = "all"
    centred: bool = True
    parametrization: str = "mup"
    linearize: bool = False
    augment: Any = None
    dtype: str = "auto"
    log_every: int | None = None
    log_points: int | None = None
    data_seed: int = 0
    data_per_seed: bool = False
    divergence_factor: float = 2.0
    divergence_window: int = 20
    adam_eps: float = 1e-8
    eta_scale: str = "smooth"
    gamma: float = 1.0
    eta: float = 0.1
    seed: int = 0
    init_scale: float = 1.0
    momentum: float = 0.9
    b1: float = 0.9
    b2: float = 0.999

    def __post_init__(self):
        opts = self.task_options
        if isinstance(opts, dict):
            if not all(isinstance(k, str) for k in opts):
                raise TypeError(f"task_options keys must be strings, got {list(opts)}")
            opts = tuple(sorted((k, _freeze(f"task_options[{k!r}]", v)) for k, v in opts.items()))
            object.__setattr__(self, "task_options", opts)
        elif not (isinstance(opts, tuple) and all(isinstance(p, tuple) and len(p) == 2
                                                  and isinstance(p[0], str) for p in opts)):
            raise TypeError(f"task_options must be a dict of task options, got {opts!r}")
        if not (isinstance(self.model, Model)
                or (isinstance(self.model, str) and self.model in MODELS)):
            raise ValueError(f"unknown model {self.model!r}; expected one of {MODELS} or a "
                             f"lazyrich.sims Model (from_apply / from_flax)")
        if isinstance(self.task, Task):
            if self.task_options:
                raise ValueError(f"task_options are options of a named task; a Task instance "
                                 f"carries its own, got task_options={dict(self.task_options)}")
        elif not isinstance(self.task, str) or self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS} or a "
                             f"lazyrich.sims.Task (e.g. from array_task)")
        self._check_optimizer()
        for name, allowed in (("loss", LOSSES), ("trainable", TRAINABLE),
                              ("parametrization", _param.PARAMETRIZATIONS),
                              ("padding", PADDINGS), ("eta_scale", ETA_SCALES)):
            v = getattr(self, name)
            if not isinstance(v, str) or v not in allowed:
                raise ValueError(f"unknown {name} {v!r}; expected one of {allowed}")
        acts = activation_names()
        if not isinstance(self.activation, str) or self.activation not in acts:
            raise ValueError(f"unknown activation {self.activation!r}; expected one of {acts}")
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("bias", "full_batch", "linearize", "data_per_seed", "centred"):
            _bool(name, getattr(self, name))
        for name in ("depth", "width", "batch_size", "num_steps", "divergence_window"):
            _pos_int(name, getattr(self, name))
        _pos_int("input_dim", self.input_dim, allow_none=True)
        _pos_int("log_every", self.log_every, allow_none=True)
        _pos_int("log_points", self.log_points, allow_none=True)
        if self.log_every is not None and self.log_points is not None:
            raise ValueError("give at most one of log_every and log_points, got "
                             f"log_every={self.log_every}, log_points={self.log_points}")
        for name in ("gamma", "eta", "init_scale", "adam_eps"):
            _pos_float(name, getattr(self, name))
        # the window starts filled with L0 and flags a mean above factor·L0: a factor <= 1 would
        # flag cells that merely have not trained yet
        _pos_float("divergence_factor", self.divergence_factor, low=1.0)
        for name in ("momentum", "b1", "b2"):
            v = getattr(self, name)
            if not _is_number(v):
                raise TypeError(f"{name} must be a number in [0, 1), got {v!r}")
            check_cell_values(name, v)
        check_seed("seed", self.seed)
        check_seed("data_seed", self.data_seed)
        if self.data_per_seed and self.full_batch:
            raise ValueError("data_per_seed has no effect with full_batch=True (no data stream): "
                             "set data_per_seed=False")
        self._check_model_options()
        if self.augment is not None and not callable(self.augment):
            raise TypeError(f"augment must be a callable augment(key, x) -> x or None, got "
                            f"{self.augment!r}")
        for name in ("momentum", "b1", "b2", "adam_eps"):
            check_optimizer_option(self.optimizer, name,
                                   getattr(self, name) != _DEFAULTS[name])
        model, _ = _resolve(self)  # task options, model/task compatibility
        choose_dtype(self, model, {k: np.asarray([getattr(self, k)]) for k in CELL_FIELDS})

    def _check_optimizer(self):

        opt = self.optimizer
        if isinstance(opt, optax.GradientTransformation):
            if self.mup_steps is None:
                raise ValueError(f"optimizer is an optax transformation: set mup_steps to one of "
                                 f"{MUP_STEPS} ('sgd': step N*eta on every layer; 'adam': the "
                                 f"muP Adam multipliers 1, 1/sqrt(N), 1; 'none': eta is the step)")
        elif not isinstance(opt, str) or opt not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {opt!r}; expected one of {OPTIMIZERS} or an "
                             f"optax.GradientTransformation")
        if self.mup_steps is not None and self.mup_steps not in MUP_STEPS:
            raise ValueError(f"mup_steps must be one of {MUP_STEPS} (or None: the built-in "
                             f"optimizer's own), got {self.mup_steps!r}")
        if self.optimizer_label is not None:
            if not isinstance(self.optimizer_label, str) or not self.optimizer_label:
                raise TypeError(f"optimizer_label must be a non-empty string, got "
                                f"{self.optimizer_label!r}")
            if isinstance(opt, str):
                raise ValueError(f"optimizer_label names a custom optax optimizer; the built-in "
                                 f"{opt!r} is named by itself")

    @property
    def step_rule(self) -> str:
        """The μP per-layer multipliers the optimizer takes: ``mup_steps``, or the built-in
        optimizer's own (``"sgd"`` for sgd/momentum, ``"adam"`` for adam/signsgd)."""
        if self.mup_steps is not None:
            return self.mup_steps
        return _MUP_STEPS_OF[self.optimizer]

    @property
    def optimizer_name(self) -> str:
        """The optimizer's name in results: the built-in name, or ``optax:<optimizer_label>``."""
        if isinstance(self.optimizer, str):
            return self.optimizer
        return f"optax:{self.optimizer_label or 'unnamed'}"

    def _check_model_options(self):
        """Options a model does not read are refused rather than silently ignored."""
        m = self.model
        if m == "convnet" and self.depth != 4:
            raise ValueError(f"model='convnet' has 4 weight layers: set depth=4 (depth is the L of "
                             f"s(γ) for eta_hat sweeps), got depth={self.depth}")
        if m not in ("mlp", "convnet") and self.activation not in ("relu", "linear"):
            what = "always linear" if m == "deep-linear" else "not a built-in model"
            raise ValueError(f"activation={self.activation!r} is ignored by model={m!r} ({what}); "
                             f"activation is an option of model='mlp' and 'convnet' only")
        if m != "mlp" and self.bias:
            raise ValueError(f"bias=True is an option of model='mlp' only, got model={m!r}")
        if m != "convnet" and self.padding != "VALID":
            raise ValueError(f"padding={self.padding!r} is an option of model='convnet' only, "
                             f"got model={m!r}")

    def replace(self, **kw) -> "SweepConfig":
        if "steps" in kw:  # the deprecated old name of num_steps
            import warnings

            warnings.warn("SweepConfig.replace(steps=...) is deprecated and will be removed in "
                          "the next release; use num_steps", DeprecationWarning, stacklevel=2)
            kw["num_steps"] = kw.pop("steps")
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        if isinstance(self.model, Model):
            d["model"] = self.model.describe()
        if isinstance(self.task, Task):
            d["task"] = self.task.describe()
        d["optimizer"] = self.optimizer_name
        if self.augment is not None:
            a = self.augment
            d["augment"] = (a.describe() if hasattr(a, "describe")
                            else f"{getattr(a, '__module__', '?')}.{getattr(a, '__qualname__', a)}")
        d["task_options"] = dict(self.task_options)
        for k in _OMIT_AT_DEFAULT:  # absent at their defaults: older results keep their fingerprint
            if d[k] == _DEFAULTS[k]:
                del d[k]
        return d

    def resolve_dtype(self, gammas) -> str:
        """``dtype``, or for ``"auto"``: float64 when min γ < :data:`FLOAT64_BELOW`, else float32.

        The engine also promotes ``"auto"`` to float64 (and refuses an explicit dtype) when the
        run's numbers do not fit the dtype (:func:`choose_dtype`)."""
        if self.dtype != "auto":
            return self.dtype
        g = np.asarray(gammas, dtype=np.float64)
        return "float64" if np.min(g) < FLOAT64_BELOW else "float32"


def _accept_old_steps(init):
    """``SweepConfig(steps=T)`` (the old name of ``num_steps``) still works for one release."""

    @functools.wraps(init)
    def __init__(self, *args, steps=None, **kwargs):
        if steps is not None:
            import warnings

            if "num_steps" in kwargs:
                raise TypeError("give num_steps only (steps is its deprecated old name)")
            warnings.warn("SweepConfig(steps=...) is deprecated and will be removed in the next "
                          "release; use num_steps", DeprecationWarning, stacklevel=2)
            kwargs["num_steps"] = steps
        init(self, *args, **kwargs)

    return __init__


def _old_steps(self) -> int:
    """Deprecated: :attr:`num_steps`."""
    import warnings

    warnings.warn("SweepConfig.steps is deprecated and will be removed in the next release; use "
                  "num_steps", DeprecationWarning, stacklevel=2)
    return self.num_steps


SweepConfig.__init__ = _accept_old_steps(SweepConfig.__init__)
SweepConfig.steps = property(_old_steps)
_DEFAULTS = {k: f.default for k, f in SweepConfig.__dataclass_fields__.items()}
#: Fields added after results files existed: recorded only when set.
_OMIT_AT_DEFAULT = ("mup_steps", "optimizer_label", "trainable", "centred", "augment")


def check_optimizer_option(optimizer, name: str, given: bool) -> None:
    """Refuse an optimizer option (set, or swept) that ``optimizer`` does not read."""
    if given and not isinstance(optimizer, str):
        raise ValueError(f"{name} is an option of the built-in optimizers; a custom optax "
                         f"optimizer carries its own hyperparameters")
    if given and name not in OPTIMIZER_OPTIONS[optimizer]:
        users = [o for o, opts in OPTIMIZER_OPTIONS.items() if name in opts]
        raise ValueError(f"{name} is read only by optimizer {users[0]!r}, but optimizer="
                         f"{optimizer!r} would ignore it; options of {optimizer!r}: "
                         f"{OPTIMIZER_OPTIONS[optimizer]}")


def _freeze(name, v):
    """Hashable task-option values: lists (also nested) become tuples; dicts and sets, which no
    task option takes, are refused."""
    if isinstance(v, list | tuple):
        return tuple(_freeze(name, x) for x in v)
    if isinstance(v, np.ndarray):
        return tuple(_freeze(name, x) for x in v.tolist())
    if isinstance(v, dict | set):
        raise TypeError(f"{name} must be a number, string, bool or list, got {v!r}")
    return v


def _step_scales(cfg, model) -> np.ndarray:
    """The model's per-layer step multipliers (SGD: N; μP Adam: 1 and 1/√N; none: 1)."""
    return _step_scales_of(model, cfg.step_rule)


@functools.lru_cache(maxsize=64)
def _step_scales_of(model, rule) -> np.ndarray:
    if rule == "none":
        return np.asarray([1.0])
    if rule == "sp":
        shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.float32))
        return np.unique([fan_in(s.shape) for s in jax.tree.leaves(shapes)])
    optimizer = "sgd" if rule == "sgd" else "adam"
    try:
        shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.float32))
        leaves = jax.tree.leaves(model.lr_scales(optimizer, shapes))
        vals = np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in leaves])
        if vals.size and np.all(np.isfinite(vals)):
            return np.unique(vals)
    except Exception:  # a user's lr_scales may need concrete arrays: fall back to N
        pass
    return np.asarray([float(model.width)])


def fan_in(shape) -> float:
    """A weight's fan-in: the product of all but its last dimension (1 for a bias vector)."""
    return float(np.prod(shape[:-1])) if len(shape) >= 2 else 1.0


def _dtype_problem(cfg, model, cells: dict, dtype: str) -> str | None:
    """Why ``dtype`` cannot run these cells, or None.

    Every number the update uses must be a normal float of the dtype (no overflow, no underflow
    to 0 or to subnormals): γ, η, the output scale o, the objective prefactor and each per-layer
    step; and the centred output's round-off floor ε·o must stay below :data:`ROUNDOFF_LIMIT`.
    """
    fi = np.finfo(dtype)
    tiny, big, eps = float(fi.tiny), float(fi.max), float(fi.eps)  # Python floats: no casts
    g = np.asarray(cells["gamma"], np.float64)
    e = np.asarray(cells["eta"], np.float64)
    with np.errstate(all="ignore"):
        o, lam, base = (np.broadcast_to(np.asarray(x, np.float64), g.shape)
                        for x in _param.native(cfg.parametrization, g, e, model.width))
        steps = base[:, None] * _step_scales(cfg, model)[None, :]
    named = (("gamma", g), ("eta", e), ("the output scale o", np.abs(o)),
             ("the objective prefactor", lam), ("the per-layer step", steps))
    for what, v in named:
        bad = ~((v >= tiny) & (v <= big))
        if np.any(bad):
            i = np.unravel_index(int(np.argmax(bad)), bad.shape)[0]
            v0 = float(np.ravel(v[i])[0]) if v.ndim > 1 else float(v[i])
            kind = "overflows" if v0 > big else "underflows"
            return (f"the cell gamma={g[i]:.3g}, eta={e[i]:.3g}: {what} = {v0:.3g} {kind} "
                    f"{dtype}, whose normal range is [{tiny:.3g}, {big:.3g}]")
    floor = eps * np.abs(o)
    if cfg.centred and np.any(floor > ROUNDOFF_LIMIT):
        i = int(np.argmax(floor))
        return (f"the cell gamma={g[i]:.3g}, eta={e[i]:.3g}: the centred output f = o·(g − g0) "
                f"with o = {o[i]:.3g} has a {dtype} round-off floor eps·o = {floor[i]:.2g}, above "
                f"{ROUNDOFF_LIMIT:g}")
    return None


def choose_dtype(cfg: SweepConfig, model, cells: dict) -> str:
    r"""The dtype a run uses for these cells (dicts of per-cell arrays with ``gamma``, ``eta``).

    ``cfg.dtype`` when explicit; for ``"auto"`` :meth:`SweepConfig.resolve_dtype`, promoted to
    float64 when float32 cannot represent the run. Raises ``ValueError`` (naming γ or η and the
    range) when the chosen dtype cannot: an η that underflows to 0 would otherwise freeze the
    network and an overflowing 1/γ would be reported as a divergence.
    """
    dtype = cfg.resolve_dtype(cells["gamma"])
    why = _dtype_problem(cfg, model, cells, dtype)
    if why is not None and cfg.dtype == "auto" and dtype == "float32":
        dtype = "float64"
        why = _dtype_problem(cfg, model, cells, dtype)
    if why is not None:
        hint = (" use dtype='float64' (or 'auto'), or" if dtype == "float32"
                and _dtype_problem(cfg, model, cells, "float64") is None else "")
        raise ValueError(f"dtype={dtype!r} cannot run {why};{hint} choose gamma and eta whose "
                         f"numbers fit the dtype")
    return dtype




def log_schedule(num_steps: int, log_every=None, log_points=None) -> np.ndarray:
    """The logged steps: 0, k, 2k, …, T, or ~n log-spaced steps in [1, T] plus 0."""
    _pos_int("num_steps", num_steps)
    steps = num_steps
    _pos_int("log_every", log_every, allow_none=True)
    _pos_int("log_points", log_points, allow_none=True)
    if log_every is not None and log_points is not None:
        raise ValueError("give at most one of log_every and log_points, got "
                         f"log_every={log_every}, log_points={log_points}")
    if log_points is not None:
        s = np.unique(np.round(np.geomspace(1, steps, log_points)).astype(np.int64))
        return np.concatenate([[0], s])
    k = max(1, steps // 100) if log_every is None else log_every
    s = np.arange(0, steps + 1, k, dtype=np.int64)
    return s if s[-1] == steps else np.append(s, steps)


@functools.lru_cache(maxsize=64)
def _resolve(cfg: SweepConfig) -> tuple[Model, Task]:
    if isinstance(cfg.task, Task):
        task = cfg.task
        if cfg.input_dim is not None and (len(task.input_shape) != 1
                                          or task.input_shape[0] != cfg.input_dim):
            raise ValueError(f"input_dim={cfg.input_dim} differs from the task's input shape "
                             f"{task.input_shape}: leave input_dim=None with a Task")
        if cfg.model == "convnet" and len(task.input_shape) != 3:
            raise ValueError(f"model='convnet' needs NHWC images; the task's inputs have shape "
                             f"{task.input_shape}")
    else:
        opts = dict(cfg.task_options)
        image = opts.pop("image", False)
        if not isinstance(image, bool | np.bool_):
            raise TypeError(f"task_options['image'] must be True or False, got {image!r}")
        if cfg.model == "convnet":
            if cfg.task not in IMAGE_TASKS:
                raise ValueError(f"model='convnet' needs an image task, one of {IMAGE_TASKS}; "
                                 f"got task={cfg.task!r}")
            image = True
        task = make_task(cfg.task, input_dim=cfg.input_dim, image=bool(image), **opts)
    if cfg.augment is not None:
        _check_augment(cfg.augment, task)
    if cfg.full_batch and not task.finite:
        raise ValueError(f"full_batch=True needs a finite training set: set "
                         f"task_options={{'train_size': P}} for task {cfg.task!r}")
    if cfg.loss == "xent" and not task.classification:
        raise ValueError(f"loss='xent' needs a classification task, one of "
                         f"{CLASSIFICATION_TASKS} or an array_task with labels; {task.name!r} is "
                         f"regression")
    readout = _param.readout(cfg.parametrization)
    if isinstance(cfg.model, Model):
        if readout != "mup" and not isinstance(cfg.model, MLP):
            raise ValueError("parametrization 'ntk' changes the readout multiplier and is only "
                             "available for the built-in MLP")
        model = cfg.model
        if cfg.trainable == "readout":
            model.readout_mask(jax.eval_shape(lambda: model.init(jax.random.key(0),
                                                                 jnp.float32)))
        return model, task
    if cfg.model == "convnet":
        return ConvNet(tuple(task.input_shape), cfg.width, task.output_dim, cfg.padding,
                       cfg.activation), task
    if len(task.input_shape) != 1:
        raise ValueError(f"model {cfg.model!r} needs flat inputs: set task_options['image'] to "
                         f"False (or use model='convnet')")
    act = "linear" if cfg.model == "deep-linear" else cfg.activation
    return MLP(cfg.depth, cfg.width, task.input_shape[0], task.output_dim, act, cfg.bias,
               readout), task


def _check_augment(augment, task):
    """``augment(key, x)`` must map a batch of the task's inputs to one of the same shape."""
    x = jax.ShapeDtypeStruct((2, *task.input_shape), jnp.float32)
    try:
        out = jax.eval_shape(augment, jax.random.key(0), x)
    except Exception as e:
        raise ValueError(f"augment(key, x) failed on a batch of shape {x.shape}: {e}") from e
    if getattr(out, "shape", None) != x.shape:
        raise ValueError(f"augment(key, x) must return a batch of the input shape {x.shape}, got "
                         f"{getattr(out, 'shape', out)!r}")


def resolve(cfg: SweepConfig) -> tuple[Model, Task]:
    """The model and task a config trains, built exactly as the sweep engine builds them."""
    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    return _resolve(cfg)


#: Names a metric hook may not take: the built-in variables and the dataset's dimensions.
RESERVED_NAMES = ("loss", "test_loss", "accuracy", "diverged", "diverged_step", "cell", "step",
                  *SWEEPABLE)


def check_metrics(metrics) -> tuple:
    """``{name: fn(ctx) -> array}`` validated and frozen as sorted ``((name, fn), ...)``."""
    if metrics is None:
        return ()
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict {{name: fn(ctx) -> array}}, got "
                        f"{type(metrics).__name__}")
    for k, fn in metrics.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ValueError(f"metric names must be identifiers (letters, digits, _), got {k!r}")
        if k in RESERVED_NAMES:
            raise ValueError(f"metric name {k!r} clashes with a built-in variable or dimension; "
                             f"names must not be one of {RESERVED_NAMES}")
        if not callable(fn):
            raise TypeError(f"metric {k!r} must be a callable fn(ctx) -> array, got "
                            f"{type(fn).__name__}")
    return tuple(sorted(metrics.items()))



def _static_part(cfg: SweepConfig) -> SweepConfig:
    """The config with its per-cell values reset: one compiled function serves every cell."""
    defaults = {k: SweepConfig.__dataclass_fields__[k].default for k in CELL_FIELDS}
    return cfg.replace(**defaults)
