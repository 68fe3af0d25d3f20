r"""Run an arbitrary list of cells (not a grid) through the sweep engine.

:func:`lazyrich.sims.sweep` runs a Cartesian grid; bisection of a divergence edge, η = η*(γ)
runs and other analysis steps need a *list* of cells :math:`(\gamma_i, \eta_i, \text{seed}_i)`.
This is ``jit(vmap(vmap(run_cell)))`` over that list (groups of cells that share θ₀, then the
cells of a group: the centring forward is computed once per group), with the same per-cell
function (so a cell gives the same numbers here as inside a sweep), compiled once per (config,
dtype, metrics, n_cells, group size).
"""

import jax
import jax.numpy as jnp
import numpy as np

from ._config import (
    CELL_FIELDS,
    SweepConfig,
    _bool,
    _resolve,
    _static_part,
    cell_params0,
    check_cell_values,
    check_metrics,
    check_optimizer_option,
    choose_dtype,
    split_seeds,
)
from ._engine import _SHARED_HYPER, Engine, _x64
from ._train import _compiled


def _devices(devices):
    n = len(jax.local_devices())
    if devices is None:
        return list(jax.local_devices())
    if isinstance(devices, bool):
        raise TypeError(f"devices must be a number of local devices (1..{n}) or a list of "
                        f"devices, got {devices!r}")
    if isinstance(devices, int | np.integer):
        if devices < 1 or devices > n:
            raise ValueError(f"devices must be between 1 and {n} (local devices), got {devices}")
        return list(jax.local_devices()[:devices])
    devs = list(devices)
    if not devs or not all(isinstance(d, jax.Device) for d in devs):
        raise TypeError(f"devices must be a number of local devices (1..{n}) or a non-empty list "
                        f"of jax devices, got {devices!r}")
    return devs


# Fields that fix a cell's θ₀ and its data stream: cells that share them share g(x; θ₀).
# Derived from run_cell's inputs (_SHARED_HYPER), where the seed arrives as two 32-bit halves.
SHARED_FIELDS = tuple(k for k in _SHARED_HYPER if k != "seed_hi")


def group_order(table: dict, idx: np.ndarray) -> np.ndarray:
    """``idx`` reordered so cells with the same θ₀ (same :data:`SHARED_FIELDS`) are adjacent,
    first appearance first (stable): chunks cut from it hold few groups of many cells."""
    idx = np.asarray(idx)
    keys = [tuple(table[k][i] for k in SHARED_FIELDS) for i in idx]
    first: dict = {}
    rank = np.array([first.setdefault(k, len(first)) for k in keys])
    return idx[np.argsort(rank, kind="stable")]


def _layout(table: dict, idx: np.ndarray, chunk: int, n_dev: int):
    """Cells ``idx`` as a (G, S) table of positions into ``idx``: each row one θ₀ (a group, or
    a piece of one), padded by repeating its last cell; G a multiple of ``n_dev``, G·S ≤ chunk.
    S is the largest row length that fits, so the centring forward is shared as widely as the
    chunk allows (S = 1, G = chunk is the ungrouped layout)."""
    groups: dict = {}
    for pos, i in enumerate(idx):
        groups.setdefault(tuple(table[k][i] for k in SHARED_FIELDS), []).append(pos)
    sizes = [len(g) for g in groups.values()]
    for S in range(max(sizes), 0, -1):
        rows = sum(-(-n // S) for n in sizes)
        G = (chunk // S) // n_dev * n_dev  # fixed per S: the shape recompiles only with S
        if G >= rows:
            break
    layout = []
    for members in groups.values():
        for a in range(0, len(members), S):
            row = members[a: a + S]
            layout.append(row + [row[-1]] * (S - len(row)))
    layout += [layout[-1]] * (G - len(layout))  # whole padding rows: discarded
    return np.asarray(layout), S


class _Runner:
    r"""The one batched primitive: ``jit(vmap(vmap(run_cell)))`` over at most ``chunk`` cells,
    the outer axis sharded over a device set; compiled once per (engine, chunk, devices, S).

    The outer axis runs over groups of cells with the same θ₀ (seed and init_scale), the inner
    one over the cells of a group. ``vmap`` batches only what depends on a batched input, so
    everything a cell computes from θ₀ and the data stream alone — the centring forward
    :math:`g(x;\theta_0)` on every batch, on the test set and on the training set, the data
    batches — is computed once per group instead of once per cell. A cell's numbers are those of
    its run alone (only the reduction order of batched products may differ)."""

    def __init__(self, eng: Engine, chunk: int, devs: list, return_params: bool = False):
        self.eng, self.chunk, self.return_params = eng, chunk, return_params
        self.n_dev = len(devs) if chunk % len(devs) == 0 else 1
        devs = devs[: self.n_dev]
        mesh = jax.sharding.Mesh(np.array(devs), ("cells",))
        self.cell_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("cells"))
        self.repl = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

        def one(shared, own, data):
            params, logs = eng.run_cell({**shared, **own}, data)
            return (params, logs) if return_params else logs

        group = jax.vmap(one, in_axes=(None, 0, None))  # cells of one θ₀
        self.fn = jax.jit(jax.vmap(group, in_axes=(0, 0, None)), out_shardings=self.cell_sharding)
        self.data = jax.device_put(eng.data, self.repl)

    def __call__(self, table: dict, idx: np.ndarray) -> dict:
        idx = np.asarray(idx)
        layout, S = _layout(table, idx, self.chunk, self.n_dev)
        take = idx[layout]  # (G, S) cell numbers
        hyper = {k: jnp.asarray(table[k][take], dtype=self.eng.dtype)
                 for k in CELL_FIELDS if k != "seed"}
        lo, hi = split_seeds(table["seed"][take])  # all 63 bits, nothing wraps
        hyper["seed"], hyper["seed_hi"] = jnp.asarray(lo), jnp.asarray(hi)
        shared = {k: jax.device_put(hyper[k][:, 0], self.cell_sharding) for k in _SHARED_HYPER}
        own = {k: jax.device_put(v, self.cell_sharding) for k, v in hyper.items()
               if k not in _SHARED_HYPER}
        out = self.fn(shared, own, self.data)
        params, logs = out if self.return_params else (None, out)
        # where cell idx[j] was computed (a padded repeat of a cell computes the same numbers,
        # so any of its places will do)
        where = np.empty(idx.size, dtype=np.int64)
        where[layout.ravel()] = np.arange(layout.size)

        def cut(tree):
            return jax.tree.map(lambda v: np.asarray(v).reshape((-1,) + v.shape[2:])[where], tree)

        res = {k: cut(v) for k, v in logs.items() if k != "params"}
        if self.eng.keep_params:
            res["params_log"] = cut(logs["params"])
        if params is not None:
            res["params"] = cut(params)
        return res


_RUNNERS: dict = {}


def _runner(eng: Engine, chunk: int, devs: list, return_params: bool = False) -> _Runner:
    """Compiled chunk functions are reused across calls with the same config (no recompile)."""
    key = (eng.cfg, str(eng.dtype), eng.metrics, eng.keep_params, chunk, tuple(devs),
           return_params)
    r = _RUNNERS.get(key)
    if r is None:
        if len(_RUNNERS) > 32:
            _RUNNERS.clear()
        r = _RUNNERS[key] = _Runner(eng, chunk, devs, return_params)
    return r


def run_cells(cfg: SweepConfig, *, metrics: dict | None = None, return_params: bool = False,
              keep_params: bool = False, devices=None, **cells) -> dict:
    r"""Train the cells given as equal-length 1-D arrays (``gamma=…, eta=…, seed=…``; fields of
    ``gamma, eta, seed, init_scale, momentum, b1, b2``; scalars broadcast; missing ones take
    ``cfg``'s value).

    Returns a dict of NumPy arrays with a leading cell axis: ``loss``, ``test_loss``
    (``accuracy``), ``diverged``, ``diverged_step``, the requested ``metrics`` (each over
    ``(cell, step)``), ``steps`` (the logged steps) and, with ``return_params``, ``params``
    (the final parameter pytree, leading cell axis); with ``keep_params``, ``params_log`` (the
    parameters at every logged step: leading axes cell, step). ``devices``: the local devices
    (or how many) the cell axis is sharded over (default: all).

    This is the one batched primitive: :func:`sweep` runs a grid's cells through the same
    compiled function, in chunks (so a cell gives the same numbers here as inside a sweep), and
    :func:`train` is one cell of the same per-cell function.
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
    eng = _compiled(_static_part(cfg), dtype, metrics, keep_params)[0]
    devs = _devices(devices)
    chunk = n if n < len(devs) else -(-n // len(devs)) * len(devs)  # whole devices, padded
    with _x64(dtype):
        out = _runner(eng, chunk, devs, return_params)(table, np.arange(n))
    out["steps"] = np.asarray(eng.log_steps)
    return out


def initial_params(cfg: SweepConfig, seeds, *, init_scale=None):
    r"""The initial parameters :math:`\theta_0` the engine gives the cells with these ``seeds``,
    as a pytree with a leading seed axis, in the dtype a run of ``cfg`` uses (``init_scale``:
    default ``cfg.init_scale``). For references computed outside the engine at a cell's
    initialisation (the same rule :func:`run_cells` and :func:`train` use, not a copy of it;
    equal to a compiled cell's θ₀ to round-off, since XLA may fuse the scale differently)."""
    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    seeds = check_cell_values("seed", np.atleast_1d(np.asarray(seeds)))
    if seeds.ndim != 1:
        raise ValueError(f"seeds must be a seed or a 1-D array of seeds, got shape {seeds.shape}")
    scale = cfg.init_scale if init_scale is None else init_scale
    scale = float(check_cell_values("init_scale", np.atleast_1d(np.asarray(scale)))[0])
    model, _ = _resolve(cfg)
    dtype = choose_dtype(cfg, model, {k: np.asarray([getattr(cfg, k)]) for k in CELL_FIELDS})
    lo, hi = split_seeds(seeds)
    with _x64(dtype):
        dt = jnp.dtype(dtype)
        init = jax.jit(jax.vmap(lambda a, b, c: cell_params0(model, a, b, c, dt),
                                in_axes=(0, 0, None)))  # compiled, as in the engine
        return init(jnp.asarray(lo), jnp.asarray(hi), jnp.asarray(scale, dt))


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
