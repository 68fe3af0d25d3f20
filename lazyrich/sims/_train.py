"""One cell, trained and returned with its parameters: :func:`train` (a thin layer over the
engine; :func:`~lazyrich.sims.run_cells` is the batched primitive)."""

import dataclasses
import functools
from typing import Any

import jax
import numpy as np

from ._config import (
    CELL_FIELDS,
    SweepConfig,
    _bool,
    _resolve,
    _static_part,
    cell_params0,
    check_metrics,
    choose_dtype,
)
from ._engine import Engine, _x64


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """One run: logged values at ``steps`` and the final parameters.

    ``loss`` is the batch loss at θ_t on batch t; ``test_loss``/``accuracy`` are on the task's
    fixed test set; ``metrics`` holds requested per-step hooks. Values after a divergence are NaN.
    ``params_log`` (with ``keep_params=True``): the parameters at every logged step, each leaf
    with a leading step axis.
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
    params_log: Any = None




@functools.lru_cache(maxsize=32)
def _compiled(cfg: SweepConfig, dtype: str, metrics: tuple, keep_params: bool = False):
    eng = Engine(cfg, dtype, metrics, keep_params)
    return eng, jax.jit(eng.run_cell)


def train(cfg: SweepConfig, *, metrics: dict | None = None, keep_params: bool = False,
          **hyper) -> TrainResult:
    """Train one cell (γ, η, seed, … default to ``cfg``'s values; keyword overrides).

    ``keep_params=True`` also returns the parameters at every logged step (``params_log``).

    Example::

        r = sims.train(sims.SweepConfig(depth=3, width=128), gamma=100.0, eta=0.5, seed=1)
        r.loss  # (n_log,)
    """
    _bool("keep_params", keep_params)
    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    bad = set(hyper) - set(CELL_FIELDS)
    if bad:
        raise ValueError(f"unknown hyperparameter(s) {sorted(bad)}; expected some of {CELL_FIELDS}")
    metrics = check_metrics(metrics)
    cfg = cfg.replace(**{k: v for k, v in hyper.items()})
    hyper = {k: getattr(cfg, k) for k in CELL_FIELDS}
    model, _ = _resolve(cfg)
    dtype = choose_dtype(cfg, model, {k: np.asarray([v]) for k, v in hyper.items()})
    eng, fn = _compiled(_static_part(cfg), dtype, metrics, keep_params)
    with _x64(dtype):
        h = eng.cast_hyper(hyper)
        params, logs = fn(h, eng.data)
        p0 = cell_params0(eng.model, h["seed"], h["seed_hi"], h["init_scale"], eng.dtype)
    logs = jax.tree.map(np.asarray, logs)
    extra = {k: logs[k] for k, _ in eng.metrics}
    return TrainResult(eng.log_steps, logs["loss"], logs["test_loss"], logs.get("accuracy"), extra,
                       bool(logs["diverged"]), int(logs["diverged_step"]), params, p0,
                       logs.get("params"))
