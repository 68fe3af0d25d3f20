r"""The engine: training one γ-scaled centred network, the single-run simulator behind
:func:`~lazyrich.sims.train`, :func:`~lazyrich.sims.run_cells` and every sweep.

The model, update and conventions are those of Atanasov et al. 2025 (docs: Gamma scaling;
docs: Conventions). One cell is a pure function of its hyperparameters
(γ, η, seed, …); a sweep is ``vmap`` of it over cells.

For one cell, with :math:`(o, \lambda, \eta_b)` = (output scale, objective prefactor, base rate)
of the chosen convention (:func:`lazyrich.sims.native`; μP: :math:`(1/\gamma, 1, \eta)`):

.. math::
    f(x;\theta) = o\,[g(x;\theta) - g(x;\theta_0)],\qquad
    \theta_{t+1} = \theta_t - \eta_b\, s \odot U_t(\lambda\nabla_\theta \ell(f; x_t, y_t)),

where :math:`s` are the model's per-layer μP multipliers (N for SGD, so the step is
:math:`N\eta`; for Adam/SignSGD the MLP's are 1, :math:`1/\sqrt N`, 1 on input, hidden and
readout layers) and :math:`U_t` the optimizer's transform (identity for SGD). :math:`\ell` is
the MSE :math:`\frac{1}{BC}\sum(f-y)^2` (no ½, as in the authors' code; docs: Conventions) or
the mean cross-entropy. Online SGD draws batch t from ``fold_in(stream_key, t)``, identical for
every cell (common random numbers across the grid).

Divergence (made online, so a diverging cell is frozen): a cell is flagged at the first step
where the batch loss is non-finite, an update is non-finite, or the mean batch loss over the
last ``divergence_window`` steps (default 20) exceeds ``divergence_factor`` (default 2) times
the larger of the initial test loss and the initial loss on the first batch (the window starts
filled with the test loss, so a short catapult spike is not flagged; the larger of the two, so
an uncentred network whose random initial outputs fit the test points better than the
training points is not flagged at step 0).
From then on its parameters stop moving and its logged values are NaN.

Logging: an outer ``lax.scan`` over log points wraps an inner loop over the steps between
them, so memory is O(number of log points) per cell.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _param
from ._config import (
    CELL_FIELDS,
    SweepConfig,
    _bool,
    _resolve,
    cell_params0,
    check_seeds,
    fan_in,
    log_schedule,
    seed_key,
    split_seeds,
)


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



#: run_cell's inputs that fix a cell's θ₀ and data stream (the seed as its two 32-bit halves):
#: cells equal in these share g(x; θ₀).
_SHARED_HYPER = ("seed", "seed_hi", "init_scale")


def _tree_all_finite(tree):
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.isfinite(jnp.sum(a)) for a in leaves]))


def _where_tree(c, a, b):
    return jax.tree.map(lambda u, v: jnp.where(c, u, v), a, b)


class Engine:
    """A config resolved into a model, a task and a pure one-cell run function.

    ``run_cell(hyper, data)`` trains one cell; ``hyper`` is a dict of scalars named
    :data:`CELL_FIELDS` (make it with :meth:`cast_hyper`); ``data`` is :attr:`data`
    (``task.build(...)``, shared by every cell). This is the simulator written for one run:
    :func:`run_cells` and :func:`sweep` batch it with ``vmap`` and sharding; write your own
    batching (``jit``, ``vmap``, ``shard_map``) over it the same way.
    """

    def __init__(self, cfg: SweepConfig, dtype: str, metrics: tuple = (),
                 keep_params: bool = False):
        self.cfg = cfg
        self.model, self.task = _resolve(cfg)
        self.dtype = jnp.dtype(dtype)
        self.log_steps = log_schedule(cfg.num_steps, cfg.log_every, cfg.log_points)
        self.metrics = tuple(metrics)  # ((name, fn), ...)
        self.keep_params = bool(keep_params)

    @functools.cached_property
    def data(self):
        with _x64(self.dtype):
            return self.task.build(self.cfg.data_seed, self.dtype)

    def cast_hyper(self, hyper: dict) -> dict:
        """Per-cell values (scalars or 1-D arrays; missing fields take the config's) as the
        arrays :meth:`run_cell` takes: floats in the engine's dtype, the seed split into its
        32-bit halves ``seed`` (low) and ``seed_hi`` (high)."""
        out = {}
        for k in CELL_FIELDS:
            v = hyper.get(k, getattr(self.cfg, k))
            if k == "seed":
                lo, hi = split_seeds(check_seeds("seed", v))
                out["seed"], out["seed_hi"] = jnp.asarray(lo), jnp.asarray(hi)
            else:
                out[k] = jnp.asarray(np.asarray(v, dtype=np.float64), dtype=self.dtype)
        return out

    def run_cell(self, hyper: dict, data):
        cfg, model, task, dt = self.cfg, self.model, self.task, self.dtype
        seed_hi = hyper.get("seed_hi", jnp.zeros((), jnp.uint32))
        params0 = cell_params0(model, hyper["seed"], seed_hi, hyper["init_scale"], dt)
        out_scale, loss_scale, base_lr = _param.native(cfg.parametrization, hyper["gamma"],
                                                        hyper["eta"], model.width)
        apply = model.apply
        centred = cfg.centred

        def f(p, x, g0=None):
            if cfg.linearize:
                g0x, lin = jax.linearize(lambda q: apply(q, x), params0)
                dg = lin(jax.tree.map(jnp.subtract, p, params0))
                return out_scale * (dg if centred else g0x + dg)
            if not centred:
                return out_scale * apply(p, x)
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
        precompute = centred and not cfg.linearize  # g(x; θ₀) of the fixed sets, once
        g0_test = apply(params0, x_test) if precompute else None
        if cfg.full_batch:
            x_all, y_all = data["train_x"], data["train_y"]
            g0_all = apply(params0, x_all) if precompute else None

        stream = jax.random.fold_in(seed_key(cfg.data_seed), 3)
        if cfg.data_per_seed:
            stream = jax.random.fold_in(stream, hyper["seed"])
            stream = jnp.where(seed_hi > 0, jax.random.fold_in(stream, seed_hi), stream)

        def batch(t):
            if cfg.full_batch:
                x, y, g0 = x_all, y_all, g0_all
            else:
                x, y = task.batch(data, jax.random.fold_in(stream, t), cfg.batch_size)
                g0 = None
            if cfg.augment is not None:  # new inputs: g(x; θ₀) is recomputed on them
                x = cfg.augment(jax.random.fold_in(jax.random.fold_in(stream, t), 7), x)
                g0 = None
            return x, y, g0

        # the update: the optimizer's direction, then the per-leaf step base_lr·s_ℓ (the μP
        # multipliers, 0 on frozen leaves) as one optax transform; θ ← θ − update
        opt = optax.chain(_direction(cfg, hyper),
                          scale_by_mup(_step_multipliers(cfg, model, params0, base_lr)))
        with jax.numpy_dtype_promotion("standard"):
            opt_state0 = opt.init(params0)

        # Under vmap, feature vectors shared by the cells would enter x·W₁ and the weight
        # gradient xᵀδ with the cells folded into the columns, which XLA:CPU pays for with
        # transposes of the activations and of δ; an x that is itself per cell (x + 0·(per-cell
        # scalars): the same numbers, exactly 0 added even for a non-finite scalar) makes them
        # batched GEMMs instead (benchmarks/README.md: 1.2–1.3× per run). Images stay shared:
        # a per-cell image turns the first convolution into a grouped one, 4–12% slower. The
        # centring g(x; θ₀) is taken on the shared x, so it stays once per θ₀.
        own = [jnp.asarray(v) for k, v in hyper.items() if k not in _SHARED_HYPER]
        cell_zero = sum(0 * jnp.nan_to_num(v) for v in own if jnp.issubdtype(v.dtype, jnp.floating))

        def per_cell(x):
            if x.ndim != 2 or not jnp.issubdtype(x.dtype, jnp.floating):
                return x
            return x + jnp.asarray(cell_zero, x.dtype)

        def test_metrics(p):
            out = f(p, per_cell(x_test), g0_test)
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
        x0, y0, g00 = batch(jnp.asarray(0, jnp.int32))
        thresh = cfg.divergence_factor * jnp.maximum(L0, loss_of(f(params0, x0, g00), y0))

        def step(t, carry):
            params, opt_state, div, div_step, buf, first, i0 = carry
            x, y, g0 = batch(t)
            if g0 is None and precompute:
                g0 = apply(params0, x)
            x = per_cell(x)
            (_, lv), grads = jax.value_and_grad(objective, has_aux=True)(params, x, y, g0)
            with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts, floats
                upd, new_opt = opt.update(grads, opt_state, params)
            new_params = jax.tree.map(jnp.subtract, params, upd)
            buf = jax.lax.dynamic_update_index_in_dim(buf, lv, t % W, 0)
            bad = (~jnp.isfinite(lv)) | (jnp.mean(buf) > thresh) | ~_tree_all_finite(new_params)
            div_step = jnp.where(bad & ~div, t, div_step)
            div = div | bad
            params = _where_tree(div, params, new_params)
            opt_state = _where_tree(div, opt_state, new_opt)
            first = jnp.where(t == i0, lv, first)
            return params, opt_state, div, div_step, buf, first, i0

        steps = self.log_steps
        starts = jnp.asarray(steps[:-1], dtype=jnp.int32)
        stops = jnp.asarray(steps[1:], dtype=jnp.int32)

        def interval(carry, se):
            params, opt_state, div, div_step, buf = carry
            s, e = se
            logs = {**test_metrics(params), **hooks(params, s)}
            if self.keep_params:
                logs["params"] = params
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
        if self.keep_params:
            last["params"] = params
        logs = jax.tree.map(lambda a, b: jnp.concatenate([a, b[None]]), logs, last)
        step_arr = jnp.asarray(steps, dtype=jnp.int32)
        masked = div & (step_arr >= div_step)

        def mask(a):
            if not jnp.issubdtype(a.dtype, jnp.floating):
                return a
            m = masked.reshape(masked.shape + (1,) * (a.ndim - 1))
            return jnp.where(m, jnp.asarray(jnp.nan, a.dtype), a)

        logs = {k: (v if k == "params" else mask(v)) for k, v in logs.items()}
        logs["diverged"] = div
        logs["diverged_step"] = div_step
        return params, logs


def _direction(cfg, hyper):
    """The optimizer's update direction as an optax transformation (per-cell options traced)."""
    if not isinstance(cfg.optimizer, str):
        return cfg.optimizer
    if cfg.optimizer == "sgd":
        return optax.identity()
    if cfg.optimizer == "momentum":
        return optax.trace(decay=hyper["momentum"])
    if cfg.optimizer == "adam":
        return optax.scale_by_adam(b1=hyper["b1"], b2=hyper["b2"], eps=cfg.adam_eps)
    return optax.scale_by_sign()


def _step_multipliers(cfg, model, params, base_lr):
    r"""Per-leaf steps :math:`\eta_b s_\ell` (the model's μP multipliers for
    ``cfg.step_rule``), and ``None`` on leaves that ``cfg.trainable`` freezes."""
    rule = cfg.step_rule
    if rule == "none":
        scales = jax.tree.map(lambda _: 1.0, params)
    elif rule == "sp":
        scales = jax.tree.map(lambda p: fan_in(p.shape), params)
    else:
        scales = model.lr_scales("sgd" if rule == "sgd" else "adam", params)
    steps = jax.tree.map(lambda s: base_lr * s, scales)
    if cfg.trainable == "readout":
        mask = model.readout_mask(params)
        steps = jax.tree.map(lambda s, m: s if m else None, steps, mask)
    return steps


def scale_by_mup(multipliers) -> "optax.GradientTransformation":
    r"""Multiply each leaf of the update by its own step multiplier: the μP per-layer learning
    rates as an optax transformation (gamma-scaling docs, "Parametrisations").

    ``multipliers`` is a pytree with the parameters' structure whose leaves are numbers (Python
    floats or traced scalars, e.g. :math:`\eta\,s_\ell` with :math:`s_\ell = N` for μP SGD) or
    ``None``: a ``None`` leaf is frozen (its update is exactly 0, whatever the gradient, so an
    infinite gradient of a frozen layer cannot leak in). Stateless. Composes with any optax
    chain, e.g. ``optax.chain(optax.scale_by_adam(), scale_by_mup(m))``.
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        out = jax.tree.map(lambda m, u: jnp.zeros_like(u) if m is None else m * u,
                           multipliers, updates, is_leaf=lambda v: v is None)
        return out, state

    return optax.GradientTransformation(init_fn, update_fn)


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
class CropFlip:
    """Random crop after zero padding, and a random horizontal flip, per image of an NHWC batch
    (the usual CIFAR augmentation). Build with :func:`crop_flip`."""

    padding: int = 4
    flip: bool = True

    def __call__(self, key, x):
        n, H, W, _ = x.shape
        p = self.padding
        k_off, k_flip = jax.random.split(key)
        if p:
            xp = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
            off = jax.random.randint(k_off, (n, 2), 0, 2 * p + 1)
            x = jax.vmap(lambda im, o: jax.lax.dynamic_slice(
                im, (o[0], o[1], 0), (H, W, im.shape[-1])))(xp, off)
        if self.flip:
            f = jax.random.bernoulli(k_flip, 0.5, (n,))
            x = jnp.where(f[:, None, None, None], x[:, :, ::-1, :], x)
        return x

    def describe(self) -> str:
        return f"crop_flip(padding={self.padding}, flip={self.flip})"


def crop_flip(padding: int = 4, flip: bool = True) -> CropFlip:
    """The augmentation ``augment(key, x)`` for :class:`SweepConfig`: each image of an NHWC
    batch is zero-padded by ``padding`` pixels, cropped back to its size at a uniformly random
    offset, and (``flip``) mirrored left-right with probability 1/2."""
    if isinstance(padding, bool) or not isinstance(padding, int | np.integer) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    _bool("flip", flip)
    return CropFlip(int(padding), bool(flip))
