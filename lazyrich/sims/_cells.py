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

from ._train import (
    CELL_FIELDS,
    Engine,
    SweepConfig,
    _bool,
    _resolve,
    _static_part,
    _x64,
    check_cell_values,
    check_metrics,
    check_optimizer_option,
    choose_dtype,
    split_seeds,
)


@functools.lru_cache(maxsize=32)
def _compiled(cfg: SweepConfig, dtype: str, metrics: tuple, keep_params: bool):
    eng = Engine(cfg, dtype, metrics, keep_params)

    def run(hyper, data):
        return jax.vmap(eng.run_cell, in_axes=(0, None))(hyper, data)

    return eng, jax.jit(run)


def run_cells(cfg: SweepConfig, *, metrics: dict | None = None, return_params: bool = False,
              keep_params: bool = False, **cells) -> dict:
    r"""Train the cells given as equal-length 1-D arrays (``gamma=…, eta=…, seed=…``; fields of
    :data:`lazyrich.sims._train.CELL_FIELDS`; scalars broadcast; missing ones take ``cfg``'s value).

    Returns a dict of NumPy arrays with a leading cell axis: ``loss``, ``test_loss``
    (``accuracy``), ``diverged``, ``diverged_step``, the requested ``metrics`` (each over
    ``(cell, step)``), ``steps`` (the logged steps) and, with ``return_params``, ``params``
    (the final parameter pytree, leading cell axis); with ``keep_params``, ``params_log`` (the
    parameters at every logged step: leading axes cell, step).

    This is the one batched primitive: :func:`sweep` is a grid of cells run through the same
    per-cell function (so a cell gives the same numbers here as inside a sweep), and
    :func:`train` is one cell of it.
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
    if any(a.size == 0 for a in arrs.values()):
        raise ValueError(f"cell fields must hold at least one cell, got "
                         f"{ {k: a.shape for k, a in arrs.items()} }")
    n = sizes.pop() if sizes else 1
    arrs = {k: check_cell_values(k, a) for k, a in arrs.items()}
    for k in ("momentum", "b1", "b2"):
        check_optimizer_option(cfg.optimizer, k, k in arrs)
    metrics = check_metrics(metrics)
    _bool("return_params", return_params)
    _bool("keep_params", keep_params)
    table = {k: np.broadcast_to(arrs.get(k, np.asarray([getattr(cfg, k)])), (n,))
             for k in CELL_FIELDS}
    dtype = choose_dtype(cfg, _resolve(cfg)[0], table)
    eng, fn = _compiled(_static_part(cfg), dtype, metrics, keep_params)
    with _x64(dtype):
        hyper = {k: jnp.asarray(np.asarray(table[k], np.float64), dtype=eng.dtype)
                 for k in CELL_FIELDS if k != "seed"}
        lo, hi = split_seeds(table["seed"])  # all 63 bits of every seed: nothing wraps
        hyper["seed"], hyper["seed_hi"] = jnp.asarray(lo), jnp.asarray(hi)
        params, logs = fn(hyper, eng.data)
        out = {k: np.asarray(v) for k, v in logs.items() if k != "params"}
        if keep_params:
            out["params_log"] = jax.tree.map(np.asarray, logs["params"])
        if return_params:
            out["params"] = jax.tree.map(np.asarray, params)
    out["steps"] = np.asarray(eng.log_steps)
    return out


def scaled_sweep(cfg: SweepConfig, gamma, k, seeds, scale, *, metrics: dict | None = None):
    r"""A (γ, η̂, seed) sweep on the grid :math:`\eta = \text{scale}(\gamma)\cdot 10^{k}` for any
    scale function (e.g. :math:`\gamma` for SignSGD, :math:`\gamma^{1/L}`, or a measured edge),
    in the layout of :func:`sweep` with ``eta_hat`` (dims ``gamma, eta_hat, seed,
    step``; coordinate ``eta(gamma, eta_hat)``) — every analysis function accepts it.

    ``scale(gamma_array) -> array`` of positive numbers. All cells run in one vmapped call.
    """
    import xarray as xr

    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    if not callable(scale):
        raise TypeError(f"scale must be a callable scale(gamma) -> array, got {scale!r}")
    g = check_cell_values("gamma", np.ravel(gamma))
    s = check_cell_values("seed", np.ravel(seeds))
    kk = np.asarray(k, dtype=np.float64).ravel()
    if g.size == 0 or kk.size == 0 or s.size == 0:
        raise ValueError(f"gamma, k and seeds must be non-empty, got sizes {g.size}, {kk.size}, "
                         f"{s.size}")
    if not np.all(np.isfinite(kk)):
        raise ValueError(f"k (log10 of eta/scale) must be finite, got {kk.tolist()}")
    for name, v in (("gamma", g), ("k", kk), ("seeds", s)):
        if np.unique(v).size != v.size:
            raise ValueError(f"{name} has repeated values: {v.tolist()}; each value must appear "
                             f"once")
    sc = np.asarray(scale(g), dtype=np.float64)
    if sc.shape != g.shape or not np.all(np.isfinite(sc) & (sc > 0)):
        raise ValueError(f"scale(gamma) must return finite positive values of shape {g.shape}, "
                         f"got {sc}")
    eta = sc[:, None] * 10.0 ** kk[None, :]
    G, E, S = np.meshgrid(np.arange(g.size), np.arange(kk.size), np.arange(s.size), indexing="ij")
    out = run_cells(cfg, metrics=metrics, gamma=g[G.ravel()], eta=eta[G.ravel(), E.ravel()],
                    seed=s[S.ravel()])
    shape = (g.size, kk.size, s.size)
    data = {}
    for name, v in out.items():
        if name == "steps":
            continue
        v = v.reshape(shape + v.shape[1:])
        dims = ("gamma", "eta_hat", "seed") + (("step",) if v.ndim > 3 else ()) + tuple(
            f"{name}_dim{i}" for i in range(v.ndim - 4))
        data[name] = (dims, v)
    import json

    return xr.Dataset(data, coords={"gamma": g, "eta_hat": 10.0**kk, "seed": s,
                                    "step": out["steps"], "eta": (("gamma", "eta_hat"), eta)},
                      attrs={"config": json.dumps(cfg.to_dict(), default=str)})
