r"""Run an arbitrary list of cells (not a grid) through the sweep engine.

:func:`lazyrich.sims.sweep` runs a Cartesian grid; bisection of a divergence edge, η = η*(γ)
runs and other analysis steps need a *list* of cells :math:`(\gamma_i, \eta_i, \text{seed}_i)`.
This is ``jit(vmap(run_cell))`` over that list, with the same per-cell function (so a cell gives
the same numbers here as inside a sweep), compiled once per (config, dtype, metrics, n_cells).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich.sims._train import CELL_FIELDS, Engine, SweepConfig, _x64


@functools.lru_cache(maxsize=32)
def _compiled(cfg: SweepConfig, dtype: str, metrics: tuple):
    eng = Engine(cfg, dtype, metrics)

    def run(hyper, data):
        return jax.vmap(eng.run_cell, in_axes=(0, None))(hyper, data)

    return eng, jax.jit(run)


def run_cells(cfg: SweepConfig, *, metrics: dict | None = None, return_params: bool = False,
              **cells) -> dict:
    r"""Train the cells given as equal-length 1-D arrays (``gamma=…, eta=…, seed=…``; fields of
    :data:`lazyrich.sims._train.CELL_FIELDS`; scalars broadcast; missing ones take ``cfg``'s value).

    Returns a dict of NumPy arrays with a leading cell axis: ``loss``, ``test_loss``
    (``accuracy``), ``diverged``, ``diverged_step``, the requested ``metrics`` (each over
    ``(cell, step)``), ``steps`` (the logged steps) and, with ``return_params``, ``params``
    (the final parameter pytree, leading cell axis).
    """
    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    bad = set(cells) - set(CELL_FIELDS)
    if bad:
        raise ValueError(f"unknown cell field(s) {sorted(bad)}; expected some of {CELL_FIELDS}")
    arrs = {k: np.atleast_1d(np.asarray(v)) for k, v in cells.items()}
    sizes = {a.size for a in arrs.values() if a.size != 1}
    if len(sizes) > 1 or any(a.ndim != 1 for a in arrs.values()):
        raise ValueError(f"cell fields must be 1-D arrays of one common length (or scalars), got "
                         f"{ {k: a.shape for k, a in arrs.items()} }")
    n = sizes.pop() if sizes else 1
    g = arrs.get("gamma", np.asarray([cfg.gamma]))
    if not np.all(np.isfinite(g.astype(float))) or np.any(g.astype(float) <= 0):
        raise ValueError(f"gamma must be finite and > 0, got {g}")
    dtype = cfg.resolve_dtype(g)
    eng, fn = _compiled(cfg, dtype, tuple(sorted((metrics or {}).items())))
    with _x64(dtype):
        hyper = {}
        for k in CELL_FIELDS:
            v = arrs.get(k, np.asarray([getattr(cfg, k)]))
            dt = jnp.int32 if k == "seed" else eng.dtype
            hyper[k] = jnp.broadcast_to(jnp.asarray(v, dtype=dt), (n,))
        params, logs = fn(hyper, eng.data)
        out = {k: np.asarray(v) for k, v in logs.items()}
        if return_params:
            out["params"] = jax.tree.map(np.asarray, params)
    out["steps"] = np.asarray(eng.log_steps)
    return out
