r"""Training one γ-scaled centred network: the single-run simulator behind every sweep.

Spec: gamma-scaling.md §1.2–1.9 (model, update, conventions), §5 conventions (divergence,
common random numbers). One cell is a pure function of its hyperparameters
(γ, η, seed, …); a sweep is ``vmap`` of it over cells.

For one cell, with :math:`(o, \lambda, \eta_b)` = (output scale, objective prefactor, base rate)
of the chosen convention (:func:`lazyrich.sims.native`; μP: :math:`(1/\gamma, 1, \eta)`):

.. math::
    f(x;\theta) = o\,[g(x;\theta) - g(x;\theta_0)],\qquad
    \theta_{t+1} = \theta_t - \eta_b\, s \odot U_t(\lambda\nabla_\theta \ell(f; x_t, y_t)),

where :math:`s` are the model's per-layer μP multipliers (N for SGD, so the step is
:math:`N\eta`; §1.8 for Adam/SignSGD) and :math:`U_t` the optimizer's transform (identity for
SGD). :math:`\ell` is the MSE :math:`\frac{1}{BC}\sum(f-y)^2` (no ½, spec §1.3) or the mean
cross-entropy. Online SGD draws batch t from ``fold_in(stream_key, t)``, identical for every cell.

Divergence (spec §5 conventions, made online so a diverging cell is frozen): a cell is flagged
at the first step where the batch loss is non-finite, an update is non-finite, or the mean batch
loss over the last ``divergence_window`` steps exceeds ``divergence_factor`` times the initial
test loss (the window starts filled with that value, so a short catapult spike is not flagged).
From then on its parameters stop moving and its logged values are NaN.

Logging: an outer ``lax.scan`` over log points wraps an inner loop over the steps between
them, so memory is O(number of log points) per cell.
"""

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _param
from ._models import ACTIVATIONS, MLP, ConvNet, Model
from ._tasks import TASKS, Task, make_task

MODELS = ("mlp", "deep-linear", "convnet")
OPTIMIZERS = ("sgd", "momentum", "adam", "signsgd")
LOSSES = ("mse", "xent")
DTYPES = ("auto", "float32", "float64")
#: Per-cell hyperparameters (array leaves of one cell; ``vmap`` runs over them).
CELL_FIELDS = ("gamma", "eta", "seed", "init_scale", "momentum", "b1", "b2")
#: Config fields a sweep may vary (``eta_hat`` is η/s(γ), spec §1.9).
SWEEPABLE = ("gamma", "eta", "eta_hat", "seed", "init_scale", "momentum", "b1", "b2")
#: Below this γ the default dtype is float64 (spec §1.5, the authors' rule).
FLOAT64_BELOW = 1e-2


def _pos_int(name, v, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _pos_float(name, v):
    if isinstance(v, bool) or not isinstance(v, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    if not math.isfinite(float(v)) or float(v) <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    r"""Everything that defines a training run except the swept values (all fields static).

    Model: ``model`` is ``"mlp"``, ``"deep-linear"``, ``"convnet"`` or a :class:`Model`
    (e.g. from :func:`from_apply` / :func:`from_flax`); ``depth`` = L weight layers; ``width``
    = N; ``input_dim`` = D (default: the task's, 16 for synthetic tasks); ``activation``
    (relu, linear, tanh, erf); ``bias`` (off by default, spec §1.2).
    Task: ``task`` (see :mod:`lazyrich.sims._tasks`) with ``task_options`` (a dict).
    Training: ``loss`` (``"mse"``/``"xent"``), ``batch_size`` B, ``full_batch`` (GD on the
    training set), ``steps`` T, ``optimizer`` (sgd, momentum, adam, signsgd),
    ``parametrization`` (mup, dmft, ntk, chizat: how ``gamma``/``eta`` are read, spec §1.4),
    ``linearize`` (train the ``jax.linearize`` model at θ₀: the lazy limit), ``dtype`` (``"auto"``:
    float64 when γ < 1e-2). Logging: ``log_every`` k or ``log_points`` n log-spaced steps
    (default: every ``steps // 100``). ``data_seed`` fixes teacher and data stream;
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
    task: str = "single-index"
    task_options: Any = ()
    loss: str = "mse"
    batch_size: int = 32
    full_batch: bool = False
    steps: int = 1000
    optimizer: str = "sgd"
    parametrization: str = "mup"
    linearize: bool = False
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
            opts = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                for k, v in opts.items()))
            object.__setattr__(self, "task_options", opts)
        if not (isinstance(self.model, Model) or self.model in MODELS):
            raise ValueError(f"unknown model {self.model!r}; expected one of {MODELS} or a "
                             f"lazyrich.sims Model (from_apply / from_flax)")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASKS}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; expected one of {LOSSES}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; "
                             f"expected one of {ACTIVATIONS}")
        if self.parametrization not in _param.PARAMETRIZATIONS:
            raise ValueError(f"unknown parametrization {self.parametrization!r}; expected one of "
                             f"{_param.PARAMETRIZATIONS}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("depth", "width", "batch_size", "steps", "divergence_window"):
            _pos_int(name, getattr(self, name))
        _pos_int("input_dim", self.input_dim, allow_none=True)
        _pos_int("log_every", self.log_every, allow_none=True)
        _pos_int("log_points", self.log_points, allow_none=True)
        if self.log_every is not None and self.log_points is not None:
            raise ValueError("give at most one of log_every and log_points")
        for name in ("gamma", "eta", "init_scale", "divergence_factor"):
            _pos_float(name, getattr(self, name))
        s = self.seed
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.data_per_seed and self.full_batch:
            raise ValueError("data_per_seed has no effect with full_batch=True (no data stream)")

    def replace(self, **kw) -> "SweepConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(self.model, Model):
            d["model"] = self.model.describe()
        d["task_options"] = dict(self.task_options)
        return d

    def resolve_dtype(self, gammas) -> str:
        if self.dtype != "auto":
            return self.dtype
        g = np.asarray(gammas, dtype=np.float64)
        return "float64" if np.min(g) < FLOAT64_BELOW else "float32"


class MetricContext(NamedTuple):
    """What a per-step metric hook ``fn(ctx) -> array`` sees at each log point of one cell.

    ``f(params, x)`` is the centred, γ-scaled network; ``params``/``params0`` the current and
    initial parameters; ``x_test``/``y_test`` the task's test set; ``step`` the step number.
    """

    params: Any
    params0: Any
    f: Callable
    gamma: jax.Array
    eta: jax.Array
    step: jax.Array
    x_test: jax.Array
    y_test: jax.Array


def log_schedule(steps: int, log_every=None, log_points=None) -> np.ndarray:
    """The logged steps: 0, k, 2k, …, T, or ~n log-spaced steps in [1, T] plus 0."""
    if log_points is not None:
        s = np.unique(np.round(np.geomspace(1, steps, log_points)).astype(np.int64))
        return np.concatenate([[0], s])
    k = max(1, steps // 100) if log_every is None else log_every
    s = np.arange(0, steps + 1, k, dtype=np.int64)
    return s if s[-1] == steps else np.append(s, steps)


@functools.lru_cache(maxsize=64)
def _resolve(cfg: SweepConfig) -> tuple[Model, Task]:
    opts = dict(cfg.task_options)
    image = bool(opts.pop("image", False)) or cfg.model == "convnet"
    task = make_task(cfg.task, input_dim=cfg.input_dim, image=image, **opts)
    if cfg.full_batch and not task.finite:
        raise ValueError(f"full_batch=True needs a finite training set: set "
                         f"task_options={{'train_size': P}} for task {cfg.task!r}")
    if cfg.loss == "xent" and not task.classification:
        raise ValueError(f"loss='xent' needs a classification task, {cfg.task!r} is regression")
    readout = _param.readout(cfg.parametrization)
    if isinstance(cfg.model, Model):
        if readout != "mup" and not isinstance(cfg.model, MLP):
            raise ValueError("parametrization 'ntk' changes the readout multiplier and is only "
                             "available for the built-in MLP")
        return cfg.model, task
    if cfg.model == "convnet":
        return ConvNet(tuple(task.input_shape), cfg.width, task.output_dim, cfg.padding), task
    if len(task.input_shape) != 1:
        raise ValueError(f"model {cfg.model!r} needs flat inputs")
    act = "linear" if cfg.model == "deep-linear" else cfg.activation
    return MLP(cfg.depth, cfg.width, task.input_shape[0], task.output_dim, act, cfg.bias,
               readout), task


def resolve(cfg: SweepConfig) -> tuple[Model, Task]:
    """The model and task a config trains, built exactly as the sweep engine builds them."""
    return _resolve(cfg)


def _tree_all_finite(tree):
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.isfinite(jnp.sum(a)) for a in leaves]))


def _where_tree(c, a, b):
    return jax.tree.map(lambda u, v: jnp.where(c, u, v), a, b)


class Engine:
    """A config resolved into a model, a task and a pure one-cell run function.

    ``run_cell(hyper, data)`` trains one cell; ``hyper`` is a dict of scalars named
    :data:`CELL_FIELDS`; ``data`` is ``task.build(...)`` (shared by every cell).
    """

    def __init__(self, cfg: SweepConfig, dtype: str, metrics: tuple = ()):
        self.cfg = cfg
        self.model, self.task = _resolve(cfg)
        self.dtype = jnp.dtype(dtype)
        self.log_steps = log_schedule(cfg.steps, cfg.log_every, cfg.log_points)
        self.metrics = tuple(metrics)  # ((name, fn), ...)

    @functools.cached_property
    def data(self):
        with _x64(self.dtype):
            return self.task.build(self.cfg.data_seed, self.dtype)

    def cast_hyper(self, hyper: dict) -> dict:
        out = {}
        for k in CELL_FIELDS:
            v = hyper.get(k, getattr(self.cfg, k))
            dt = jnp.int32 if k == "seed" else self.dtype
            out[k] = jnp.asarray(v, dtype=dt)
        return out

    def run_cell(self, hyper: dict, data):
        cfg, model, task, dt = self.cfg, self.model, self.task, self.dtype
        key = jax.random.fold_in(jax.random.key(0), hyper["seed"])
        params0 = model.init(key, dt)
        params0 = jax.tree.map(lambda p: p * hyper["init_scale"], params0)
        out_scale, loss_scale, base_lr = _param.native(cfg.parametrization, hyper["gamma"],
                                                        hyper["eta"], model.width)
        scales = model.lr_scales(cfg.optimizer, params0)
        apply = model.apply

        def f(p, x, g0=None):
            if cfg.linearize:
                _, lin = jax.linearize(lambda q: apply(q, x), params0)
                return out_scale * lin(jax.tree.map(jnp.subtract, p, params0))
            if g0 is None:
                g0 = apply(params0, x)
            return out_scale * (apply(p, x) - g0)

        def loss_of(out, y):
            if cfg.loss == "mse":
                return jnp.mean((out - y) ** 2)
            return jnp.mean(-jnp.sum(y * jax.nn.log_softmax(out, axis=-1), axis=-1))

        def objective(p, x, y, g0):
            lv = loss_of(f(p, x, g0), y)
            return loss_scale * lv, lv

        x_test, y_test = data["test_x"], data["test_y"]
        g0_test = None if cfg.linearize else apply(params0, x_test)
        if cfg.full_batch:
            x_all, y_all = data["train_x"], data["train_y"]
            g0_all = None if cfg.linearize else apply(params0, x_all)

        stream = jax.random.fold_in(jax.random.key(cfg.data_seed), 3)
        if cfg.data_per_seed:
            stream = jax.random.fold_in(stream, hyper["seed"])

        def batch(t):
            if cfg.full_batch:
                return x_all, y_all, g0_all
            x, y = task.batch(data, jax.random.fold_in(stream, t), cfg.batch_size)
            return x, y, None

        opt = _optimizer(cfg, hyper)
        with jax.numpy_dtype_promotion("standard"):
            opt_state0 = opt.init(params0) if opt is not None else ()

        def test_metrics(p):
            out = f(p, x_test, g0_test)
            m = {"test_loss": loss_of(out, y_test)}
            if task.classification:
                m["accuracy"] = jnp.mean(
                    (jnp.argmax(out, axis=-1) == jnp.argmax(y_test, axis=-1)).astype(dt))
            return m

        def hooks(p, t):
            if not self.metrics:
                return {}
            ctx = MetricContext(p, params0, f, hyper["gamma"], hyper["eta"], t, x_test, y_test)
            return {name: jnp.asarray(fn(ctx)) for name, fn in self.metrics}

        L0 = test_metrics(params0)["test_loss"]
        W = cfg.divergence_window
        thresh = cfg.divergence_factor * L0

        def step(t, carry):
            params, opt_state, div, div_step, buf, first, i0 = carry
            x, y, g0 = batch(t)
            (_, lv), grads = jax.value_and_grad(objective, has_aux=True)(params, x, y, g0)
            if opt is None:
                upd = grads
                new_opt = opt_state
            else:
                with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts, floats
                    upd, new_opt = opt.update(grads, opt_state, params)
            new_params = jax.tree.map(lambda p, u, s: p - (base_lr * s) * u, params, upd, scales)
            buf = jax.lax.dynamic_update_index_in_dim(buf, lv, t % W, 0)
            bad = (~jnp.isfinite(lv)) | (jnp.mean(buf) > thresh) | ~_tree_all_finite(new_params)
            div_step = jnp.where(bad & ~div, t, div_step)
            div = div | bad
            params = _where_tree(div, params, new_params)
            opt_state = _where_tree(div, opt_state, new_opt) if opt is not None else opt_state
            first = jnp.where(t == i0, lv, first)
            return params, opt_state, div, div_step, buf, first, i0

        steps = self.log_steps
        starts = jnp.asarray(steps[:-1], dtype=jnp.int32)
        stops = jnp.asarray(steps[1:], dtype=jnp.int32)

        def interval(carry, se):
            params, opt_state, div, div_step, buf = carry
            s, e = se
            logs = {**test_metrics(params), **hooks(params, s)}
            nan = jnp.asarray(jnp.nan, dt)
            c = jax.lax.fori_loop(s, e, step, (params, opt_state, div, div_step, buf, nan, s))
            params, opt_state, div, div_step, buf, first, _ = c
            logs["loss"] = first
            return (params, opt_state, div, div_step, buf), logs

        init = (params0, opt_state0, jnp.asarray(False), jnp.asarray(-1, jnp.int32),
                jnp.full((W,), L0, dtype=dt))
        (params, opt_state, div, div_step, _), logs = jax.lax.scan(interval, init, (starts, stops))
        # the last log point (t = T): no step follows, evaluate the batch loss directly
        xT, yT, g0T = batch(jnp.asarray(steps[-1], jnp.int32))
        last = {**test_metrics(params), **hooks(params, jnp.asarray(steps[-1], jnp.int32)),
                "loss": loss_of(f(params, xT, g0T), yT)}
        logs = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), logs, last)
        step_arr = jnp.asarray(steps, dtype=jnp.int32)
        masked = div & (step_arr >= div_step)

        def mask(a):
            if not jnp.issubdtype(a.dtype, jnp.floating):
                return a
            m = masked.reshape(masked.shape + (1,) * (a.ndim - 1))
            return jnp.where(m, jnp.asarray(jnp.nan, a.dtype), a)

        logs = {k: mask(v) for k, v in logs.items()}
        logs["diverged"] = div
        logs["diverged_step"] = div_step
        return params, logs


def _optimizer(cfg, hyper):
    import optax

    if cfg.optimizer == "sgd":
        return None
    if cfg.optimizer == "momentum":
        return optax.trace(decay=hyper["momentum"])
    if cfg.optimizer == "adam":
        return optax.scale_by_adam(b1=hyper["b1"], b2=hyper["b2"], eps=cfg.adam_eps)
    return optax.scale_by_sign()


class _x64:
    """Enable x64 for the duration of a float64 computation (restores the global setting)."""

    def __init__(self, dtype):
        self.on = jnp.dtype(dtype) == jnp.float64
        self.ctx = None

    def __enter__(self):
        if self.on and not jax.config.jax_enable_x64:
            self.ctx = jax.enable_x64(True)
            self.ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """One run: logged values at ``steps`` and the final parameters.

    ``loss`` is the batch loss at θ_t on batch t; ``test_loss``/``accuracy`` are on the task's
    fixed test set; ``metrics`` holds requested per-step hooks. Values after a divergence are NaN.
    """

    steps: np.ndarray
    loss: np.ndarray
    test_loss: np.ndarray
    accuracy: np.ndarray | None
    metrics: dict
    diverged: bool
    diverged_step: int
    params: Any
    params0: Any


def _static_part(cfg: SweepConfig) -> SweepConfig:
    """The config with its per-cell values reset: one compiled function serves every cell."""
    defaults = {k: SweepConfig.__dataclass_fields__[k].default for k in CELL_FIELDS}
    return cfg.replace(**defaults)


@functools.lru_cache(maxsize=32)
def _compiled(cfg: SweepConfig, dtype: str, metrics: tuple):
    eng = Engine(cfg, dtype, metrics)
    return eng, jax.jit(eng.run_cell)


def train(cfg: SweepConfig, *, metrics: dict | None = None, **hyper) -> TrainResult:
    """Train one cell (γ, η, seed, … default to ``cfg``'s values; keyword overrides).

    Example::

        r = sims.train(sims.SweepConfig(depth=3, width=128), gamma=100.0, eta=0.5, seed=1)
        r.loss  # (n_log,)
    """
    bad = set(hyper) - set(CELL_FIELDS)
    if bad:
        raise ValueError(f"unknown hyperparameter(s) {sorted(bad)}; expected some of {CELL_FIELDS}")
    cfg = cfg.replace(**{k: v for k, v in hyper.items()})
    dtype = cfg.resolve_dtype([cfg.gamma])
    hyper = {k: getattr(cfg, k) for k in CELL_FIELDS}
    eng, fn = _compiled(_static_part(cfg), dtype, tuple((metrics or {}).items()))
    with _x64(dtype):
        h = eng.cast_hyper(hyper)
        params, logs = fn(h, eng.data)
        key = jax.random.fold_in(jax.random.key(0), h["seed"])
        p0 = jax.tree.map(lambda p: p * h["init_scale"], eng.model.init(key, eng.dtype))
    logs = jax.tree.map(np.asarray, logs)
    extra = {k: logs[k] for k, _ in eng.metrics}
    return TrainResult(eng.log_steps, logs["loss"], logs["test_loss"], logs.get("accuracy"), extra,
                       bool(logs["diverged"]), int(logs["diverged_step"]), params, p0)
