r"""The vmapped sweep engine: one config, a grid of (γ, η, seed) cells, one ``vmap``.

The grid (γ, η or η̂, any other sweepable field, seed) is flattened into one **cell** axis.
A cell's randomness comes only from ``fold_in(key(0), seed)`` (initialisation) and the shared
data stream ``fold_in(key(data_seed), ·)``, so its result never depends on the grid it sits in,
on the chunking, or on the number of devices (up to reduction-order round-off).

Cells are processed in chunks sized to a memory budget; each chunk is one call of
``jit(vmap(train_one_cell))`` with the cell axis sharded across the local devices
(``NamedSharding`` over a 1-D mesh), padded to a constant size so nothing recompiles. With a
``path``, each finished chunk is written atomically as a flat netCDF file under
``path + ".parts"``; a rerun of the same sweep skips the finished cells (resume after a crash
or ``SIGKILL``) and the final gridded file is written atomically at the end. ``shard=(i, n)``
runs a deterministic slice of the cells (job arrays; combine with :func:`merge`), and under
``jax.distributed`` every process runs its own slice and process 0 merges.
"""

import json
import math
import os
import shutil

import jax
import numpy as np

from . import _param
from ._cells import _devices, _runner, group_order
from ._config import (
    CELL_FIELDS,
    SWEEPABLE,
    SweepConfig,
    _resolve,
    _static_part,
    check_cell_values,
    check_metrics,
    check_optimizer_option,
    check_seeds,
    choose_dtype,
)
from ._engine import Engine, _x64
from ._results import fingerprint, flat_dataset, provenance, read_checked, to_grid, write_atomic
from ._train import _compiled

_DEFAULT_BUDGET = 2 * 1024**3


def _values(name, v):
    try:
        arr = np.asarray(v)
    except (OverflowError, ValueError):  # e.g. integers beyond 64 bits: checked below
        arr = np.asarray(v, dtype=object)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D list of values, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise ValueError(f"empty grid: {name} has no values; give at least one")
    arr = check_seeds("seeds", arr) if name == "seed" else check_cell_values(name, arr)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} has repeated values: {arr.tolist()}; each value must appear once")
    return arr


#: Config fields a sweep may vary that change array shapes: one compiled engine per value
#: combination, all stored in one dataset with these as its leading dimensions.
SHAPE_AXES = ("width", "depth", "batch_size")


def _shape_values(cfg, name, v):
    arr = np.atleast_1d(np.asarray(v, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of positive integers, got {v!r}")
    if not all(isinstance(x, int | np.integer) and not isinstance(x, bool) and x >= 1
               for x in arr):
        raise ValueError(f"{name} must be positive integers, got {arr.tolist()}")
    arr = arr.astype(np.int64)
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} has repeated values: {arr.tolist()}; each value must appear once")
    if not isinstance(cfg.model, str) and name in ("width", "depth"):
        raise ValueError(f"a {name} axis needs a built-in model ('mlp', 'deep-linear', "
                         f"'convnet'); a wrapped model fixes its own {name}")
    if name == "depth" and cfg.model == "convnet":
        raise ValueError("model='convnet' has 4 weight layers: a depth axis needs model='mlp' or "
                         "'deep-linear'")
    if name == "batch_size" and cfg.full_batch:
        raise ValueError("a batch_size axis has no effect with full_batch=True")
    return arr


def make_grid(cfg: SweepConfig, *, gamma=None, eta=None, eta_hat=None, seeds=None, **extra):
    """The ordered grid {dim: values}: shape axes (width, depth, batch_size: one compiled
    engine each), gamma, eta | eta_hat, extras (spec order), seed."""
    if not isinstance(cfg, SweepConfig):
        raise TypeError(f"cfg must be a lazyrich.sims.SweepConfig, got {type(cfg).__name__}")
    fields = {f for f in SweepConfig.__dataclass_fields__}
    shapes = {k: _shape_values(cfg, k, extra.pop(k)) for k in SHAPE_AXES if k in extra}
    for k in extra:
        if k not in fields:
            raise ValueError(f"unknown sweep axis {k!r}: not a SweepConfig field; sweepable "
                             f"fields are {SWEEPABLE}")
        if k not in SWEEPABLE or k in ("gamma", "eta", "eta_hat", "seed"):
            raise ValueError(f"config field {k!r} is not sweepable (it is static); sweepable "
                             f"fields are {SWEEPABLE} and the shape axes {SHAPE_AXES}. Run one "
                             f"sweep per value")
    if eta is not None and eta_hat is not None:
        raise ValueError("give eta or eta_hat, not both (eta_hat is eta/s(gamma))")
    grid = dict(shapes)
    grid["gamma"] = _values("gamma", cfg.gamma if gamma is None else gamma)
    if eta_hat is not None:
        grid["eta_hat"] = _values("eta_hat", eta_hat)
    else:
        grid["eta"] = _values("eta", cfg.eta if eta is None else eta)
    for k in SWEEPABLE:
        if k in extra:
            check_optimizer_option(cfg.optimizer, k, k in ("momentum", "b1", "b2"))
            grid[k] = _values(k, extra[k])
    grid["seed"] = _values("seed", cfg.seed if seeds is None else seeds)
    return grid


def _check_hat_depth(cfg):
    """eta_hat = eta/s(gamma) depends on the depth L: a wrapped model must declare it, and the
    config's depth (used for the eta coordinates and by merge) must agree."""
    from ._models import ApplyModel

    m = cfg.model
    if isinstance(m, ApplyModel):
        if m.model_depth is None:
            raise ValueError("eta_hat sweeps need the model's depth L for s(gamma) = gamma^2/(1 + "
                             "gamma^(2-2/L)): pass depth=L (its number of weight layers) to "
                             "sims.from_apply/from_flax, and SweepConfig(depth=L)")
        if m.model_depth != cfg.depth:
            raise ValueError(f"SweepConfig depth={cfg.depth} differs from the model's depth "
                             f"{m.model_depth}: eta_hat sweeps use depth as the L of s(gamma); set "
                             f"SweepConfig(depth={m.model_depth})")


def _cell_table(cfg, grid, depth_for_hat):
    """Per-cell values of every CELL_FIELD (float64/int64 NumPy arrays, C order)."""
    if "eta_hat" in grid:
        _check_hat_depth(cfg)
    mesh = np.meshgrid(*grid.values(), indexing="ij")
    flat = {k: m.ravel() for k, m in zip(grid, mesh, strict=True)}
    if "eta_hat" in flat:
        hat = flat.pop("eta_hat")
        if "depth" in flat:  # s(gamma) depends on each cell's own depth
            eta = np.empty_like(hat)
            for L in np.unique(flat["depth"]):
                sel = flat["depth"] == L
                eta[sel] = _param.eta_from_hat(hat[sel], flat["gamma"][sel], int(L),
                                               cfg.eta_scale)
        else:
            eta = _param.eta_from_hat(hat, flat["gamma"], depth_for_hat, cfg.eta_scale)
        flat["eta"] = eta
    n = flat["gamma"].size
    out = {k: flat[k] for k in SHAPE_AXES if k in flat}
    for k in CELL_FIELDS:
        if k in flat:
            out[k] = flat[k]
        else:
            out[k] = np.full(n, getattr(cfg, k), dtype=np.int64 if k == "seed" else np.float64)
    return out


def _bytes_per_cell(eng: Engine) -> int:
    """A conservative estimate of one cell's working memory (params, optimizer, activations,
    test-set evaluation, logs)."""
    item = eng.dtype.itemsize
    with _x64(eng.dtype):  # only shapes: no float64 array may be requested with x64 off
        shapes = jax.eval_shape(lambda: eng.model.init(jax.random.key(0), eng.dtype))
    P = sum(int(np.prod(s.shape)) for s in jax.tree.leaves(shapes))
    opt = eng.cfg.optimizer
    if isinstance(opt, str):
        n_opt = {"sgd": 0, "momentum": 1, "adam": 2, "signsgd": 0}[opt]
    else:  # a custom optax transformation: count its state
        state = jax.eval_shape(opt.init, shapes)
        n_opt = math.ceil(sum(int(np.prod(s.shape)) for s in jax.tree.leaves(state)) / max(P, 1))
    d_in = int(np.prod(eng.task.input_shape))
    model = eng.model
    if hasattr(model, "depth"):
        act = d_in + model.depth * model.width + eng.task.output_dim
    else:
        act = d_in + 16 * model.width + eng.task.output_dim
    n_test = int(eng.data["test_x"].shape[0])
    B = int(eng.data["train_x"].shape[0]) if eng.cfg.full_batch else eng.cfg.batch_size
    n_log = len(eng.log_steps) * (3 + len(eng.metrics))
    words = P * (6 + 2 * n_opt) + 4 * B * act + 2 * n_test * act + n_log + eng.cfg.divergence_window
    return int(words * item * 1.5)


def parse_shard(shard) -> tuple[int, int] | None:
    """A shard ``(i, N)`` from ``"i/N"`` (e.g. built from a job array's task id) or a pair of
    integers, validated (``0 <= i < N``); ``None`` stays ``None``."""
    return _parse_shard(shard)


def _parse_shard(shard):
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            i, n = (int(t) for t in shard.split("/"))
        except ValueError:
            raise ValueError(f"shard must look like 'i/N' with integers 0 <= i < N, got "
                             f"{shard!r}") from None
    else:
        try:
            i, n = shard
        except (TypeError, ValueError):
            raise ValueError(f"shard must be (i, N) or 'i/N' with integers 0 <= i < N, got "
                             f"{shard!r}") from None
    ints = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (i, n))
    if not (ints and n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be (i, N) with integers 0 <= i < N, got {shard!r}")
    return int(i), int(n)


def shard_path(path: str, shard) -> str:
    """The file of shard ``"i/N"`` (or ``(i, N)``) of the sweep whose result goes to ``path``:
    ``scan.nc`` -> ``scan.shard-i-of-N.nc``, the name ``lazyrich sweep --shard``,
    :func:`submit_sweep` and the how-to's ``lazyrich merge`` commands use."""
    if not isinstance(path, str) or not path:
        raise TypeError(f"path must be a non-empty file path (str), got {path!r}")
    i, n = _parse_shard(shard)
    stem = path[:-3] if path.endswith(".nc") else path
    return f"{stem}.shard-{i}-of-{n}.nc"


def shard_cells(n_cells: int, shard) -> np.ndarray:
    """The cell indices of shard ``(i, N)``: contiguous, balanced blocks (empty when N exceeds
    the number of cells and i >= n_cells)."""
    if isinstance(n_cells, bool) or not isinstance(n_cells, int | np.integer) or n_cells < 0:
        raise ValueError(f"n_cells must be an integer >= 0, got {n_cells!r}")
    i, n = _parse_shard(shard)
    return np.array_split(np.arange(n_cells), n)[i]


def _check_path(name, path):
    """A results path: a file name whose folder exists or can be created, never a folder."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a file path (str), got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name} {path!r} is a directory; expected the path of a netCDF "
                                f"file, e.g. {os.path.join(path, 'sweep.nc')!r}")
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise NotADirectoryError(f"{name} {path!r}: {parent!r} is a file, not a directory")
    return path


def sweep(cfg: SweepConfig, *, gamma=None, eta=None, eta_hat=None, seeds=None, path=None,
          chunk_size: int | None = None, memory_budget: int | None = None, devices=None,
          shard=None, metrics: dict | None = None, progress: bool = False, **extra):
    r"""Train every cell of a (γ, η, …, seed) grid and return an ``xarray.Dataset``.

    Args:
        cfg: the static configuration (:class:`SweepConfig`).
        gamma, eta, seeds: grid values (default: the config's single value). ``eta`` is the
            μP η (docs: Conventions); the actual SGD step is ``N * eta``.
        eta_hat: instead of ``eta``, the normalised rate η̂ = η/s(γ) (docs: Gamma scaling); the
            dataset then has dimension ``eta_hat`` and a 2-D coordinate ``eta(gamma, eta_hat)``.
        **extra: other sweepable fields (see :data:`SWEEPABLE`), e.g. ``init_scale=[...]``, and
            the shape axes ``width``, ``depth``, ``batch_size`` (lists of positive integers; one
            compiled engine per combination, all in one dataset whose leading dimensions they
            are; ``eta_hat`` then uses each cell's own depth in s(γ)).
        path: netCDF file to write; a rerun with the same arguments resumes (finished chunks
            are kept in ``path + ".parts"``), and returns the file's content once complete.
        chunk_size: cells per compiled call (default: as many as ``memory_budget`` allows).
        memory_budget: bytes for one chunk's working memory (default 2 GiB).
        devices: the local devices (or how many) to shard the cell axis over (default: all).
        shard: ``(i, N)`` or ``"i/N"``: run only that slice of cells; with ``path`` the slice is
            written as a flat file to merge later with :func:`merge`. Returns the flat dataset
            (with zero cells, and written as such, when N exceeds the number of cells).
        metrics: ``{name: fn(ctx) -> array}`` evaluated at every log point
            (:class:`MetricContext`), stored as variables with dims (…, step, …). Names must be
            identifiers other than the built-in variables and dimensions.
        seeds: integers in [0, 2**63 − 1]; each gives its own initialisation (both 32-bit
            halves enter the key; seeds below 2**32 keep the key ``fold_in(key(0), seed)``).

    A float32 run whose numbers do not fit the dtype (η underflowing to 0, 1/γ overflowing, or
    a round-off floor ε/γ of the centred output above 1e-3) is refused with ``ValueError``
    for an explicit ``dtype``, and promoted to float64 for ``dtype="auto"``: such cells would
    otherwise not train, or be reported as diverged.
        progress: show a tqdm bar over cells.

    Returns:
        Dataset with ``loss``, ``test_loss`` (and ``accuracy`` for classification tasks) over
        ``(gamma, eta, [extras], seed, step)``, ``diverged`` and ``diverged_step`` over the grid
        dims, the requested metrics, and ``attrs`` holding the config as JSON, versions and the
        git revision.
    """
    grid = make_grid(cfg, gamma=gamma, eta=eta, eta_hat=eta_hat, seeds=seeds, **extra)
    metrics = check_metrics(metrics)
    if path is not None:
        path = _check_path("path", path)
        if not isinstance(cfg.optimizer, str) and cfg.optimizer_label is None:
            raise ValueError("a sweep with a custom optax optimizer and a path needs "
                             "optimizer_label: it names the optimizer in the file's fingerprint, "
                             "which resuming and merging compare (two unnamed optimizers would "
                             "look the same)")
    if memory_budget is not None and (isinstance(memory_budget, bool) or not isinstance(
            memory_budget, int | np.integer) or memory_budget < 1):
        raise ValueError(f"memory_budget must be a positive number of bytes (int), got "
                         f"{memory_budget!r}")
    table = _cell_table(cfg, grid, cfg.depth)
    groups, dtype = _engines(cfg, grid, table, metrics)
    n_cells = table["gamma"].size
    names = [k for k, _ in metrics]
    fp = fingerprint(cfg.to_dict(), grid, dtype, names)
    attrs = {"lazyrich_fingerprint": fp, "config": json.dumps(cfg.to_dict(), default=str),
             "grid": json.dumps({k: v.tolist() for k, v in grid.items()}), "dtype": dtype,
             "metrics": json.dumps(names), **provenance()}

    shard = _parse_shard(shard)
    if shard is None and jax.process_count() > 1:
        return _distributed(cfg, grid, groups, table, fp, attrs, path, chunk_size,
                            memory_budget, devices, progress)
    if path is not None and shard is None and os.path.exists(path):
        return read_checked(path, fp)
    cells = np.arange(n_cells) if shard is None else shard_cells(n_cells, shard)
    if path is not None and shard is not None and os.path.exists(path):
        return read_checked(path, fp)

    flat = _run_cells(groups, table, cells, attrs, fp, path, chunk_size, memory_budget, devices,
                      progress)
    if shard is not None:
        flat = _with_cell_coords(flat, grid)
        if path is not None:
            write_atomic(flat, path)
            shutil.rmtree(path + ".parts", ignore_errors=True)
        return flat
    ds = _finish(flat, grid, cfg)
    if path is not None:
        write_atomic(ds, path)
        shutil.rmtree(path + ".parts", ignore_errors=True)
    return ds


def _eta_coords(grid, depth, kind):
    """For η̂ sweeps: the coordinate eta(gamma, eta_hat) = η̂·s(γ), or eta(depth, gamma,
    eta_hat) when depth is an axis (s depends on L)."""
    if "eta_hat" not in grid:
        return {}
    if "depth" in grid:
        eta = np.stack([_param.eta_from_hat(grid["eta_hat"][None, :], grid["gamma"][:, None],
                                            int(L), kind) for L in grid["depth"]])
        return {"eta": (("depth", "gamma", "eta_hat"), eta)}
    eta = _param.eta_from_hat(grid["eta_hat"][None, :], grid["gamma"][:, None], depth, kind)
    return {"eta": (("gamma", "eta_hat"), eta)}


def _with_cell_coords(flat, grid):
    """Each cell's grid values as coordinates along ``cell`` (``gamma(cell)``, ``seed(cell)``,
    …): a shard file says which runs it holds. Cell k is entry k of the grid in C order."""
    shape = tuple(len(v) for v in grid.values())
    idx = np.unravel_index(np.asarray(flat["cell"].values, dtype=np.int64), shape)
    return flat.assign_coords({k: ("cell", np.asarray(v)[i])
                               for (k, v), i in zip(grid.items(), idx, strict=True)})


def _finish(flat, grid, cfg):
    return to_grid(flat, grid, _eta_coords(grid, cfg.depth, cfg.eta_scale))


def _engines(cfg, grid, table, metrics):
    """``([(engine, cell indices), ...], dtype)``: one compiled engine per combination of the
    shape axes (width, depth, batch_size) in the grid, all in one dtype (for ``"auto"`` the widest
    any group needs: float64 represents whatever float32 does)."""
    n = table["gamma"].size
    axes = [k for k in SHAPE_AXES if k in grid]
    if not axes:
        dtype = choose_dtype(cfg, _resolve(cfg)[0], table)
        return [(_compiled(_static_part(cfg), dtype, metrics)[0], np.arange(n))], dtype
    keys = np.stack([table[k] for k in axes], axis=1)
    groups = []
    for combo in np.unique(keys, axis=0):
        sel = np.nonzero(np.all(keys == combo, axis=1))[0]
        groups.append((cfg.replace(**{k: int(v) for k, v in zip(axes, combo, strict=True)}), sel))
    dtypes = {choose_dtype(c, _resolve(c)[0], {k: v[sel] for k, v in table.items()})
              for c, sel in groups}
    dtype = "float64" if "float64" in dtypes else "float32"
    return [(_compiled(_static_part(c), dtype, metrics)[0], sel) for c, sel in groups], dtype


def _chunk_size(eng, n_cells, chunk_size, memory_budget, n_dev):
    per = _bytes_per_cell(eng)
    if chunk_size is not None:
        c = chunk_size
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if memory_budget is not None and chunk_size * per > memory_budget:
            raise ValueError(f"chunk_size={chunk_size} needs ~{chunk_size * per} bytes, over the "
                             f"memory budget of {memory_budget} bytes (~{per} bytes per cell)")
        return int(chunk_size)
    budget = _DEFAULT_BUDGET if memory_budget is None else memory_budget
    fit = int(budget // per)
    if fit < 1:
        raise ValueError(f"one cell needs ~{per} bytes but memory_budget is {budget} bytes: "
                         f"no chunk fits; raise memory_budget or shrink width, batch_size or the "
                         f"test set")
    n = min(fit, n_cells)
    if n >= n_dev:  # a multiple of the device count, padded up to cover small grids evenly
        n = min(fit // n_dev, math.ceil(n_cells / n_dev)) * n_dev
    return max(1, n)


def _run_cells(groups, table, cells, attrs, fp, path, chunk_size, memory_budget, devices,
               progress):
    import xarray as xr

    devs = _devices(devices)
    done_parts = []
    parts_dir = None
    if path is not None:
        parts_dir = path + ".parts"
        os.makedirs(parts_dir, exist_ok=True)
        for name in sorted(os.listdir(parts_dir)):
            full = os.path.join(parts_dir, name)
            if name.startswith(".tmp-"):
                os.remove(full)  # an interrupted write: never renamed, so never counted
                continue
            if name.endswith(".nc"):  # (cell coordinates, if any, are rebuilt at the end)
                done_parts.append(read_checked(full, fp, what="partial results file")
                                  .reset_coords(drop=True))
    # finished cells of this run (a part may also hold cells outside it: keep only ours)
    parts = [p.isel(cell=np.isin(p["cell"].values, cells)) for p in done_parts]
    parts = [p for p in parts if p.sizes["cell"]]
    done = (np.concatenate([p["cell"].values for p in parts]) if parts else np.zeros(0, int))
    todo = np.setdiff1d(cells, done)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cells.size, initial=cells.size - todo.size, unit="cell", desc="sweep")
    for eng, sel in groups:  # one compiled engine per shape (width, depth, batch_size)
        g_todo = np.intersect1d(todo, sel)
        if not g_todo.size:
            continue
        g_todo = group_order(table, g_todo)  # chunks of few θ₀: the centring forward is shared
        chunk = _chunk_size(eng, g_todo.size, chunk_size, memory_budget, len(devs))
        with _x64(eng.dtype):
            runner = _runner(eng, chunk, devs)
            for start in range(0, g_todo.size, chunk):
                idx = g_todo[start: start + chunk]
                logs = runner(table, idx)
                part = flat_dataset(idx, logs, eng.log_steps, attrs)
                if parts_dir is not None:
                    name = f"cells-{idx[0]:09d}-{idx[-1]:09d}.nc"
                    write_atomic(part, os.path.join(parts_dir, name))
                parts.append(part)
                if bar is not None:
                    bar.update(idx.size)
    if bar is not None:
        bar.close()
    if not parts:  # an empty shard (more shards than cells): a valid file with no cells
        return _empty_flat(groups[0][0], attrs)
    flat = xr.concat(parts, dim="cell") if len(parts) > 1 else parts[0]
    flat = flat.sortby("cell")
    flat.attrs = dict(attrs)
    return flat


def _empty_flat(eng, attrs):
    """A flat dataset with zero cells and every variable a run would log (shapes from
    ``jax.eval_shape``; nothing is trained), so an empty shard merges like any other."""
    with _x64(eng.dtype):
        hyper = jax.tree.map(lambda a: a[None], eng.cast_hyper({}))
        shapes = jax.eval_shape(
            lambda h, d: jax.vmap(eng.run_cell, in_axes=(0, None))(h, d)[1], hyper, eng.data)
    logs = {k: np.zeros((0,) + tuple(v.shape[1:]), dtype=v.dtype) for k, v in shapes.items()}
    return flat_dataset(np.zeros(0, np.int64), logs, eng.log_steps, dict(attrs))


def merge(paths, out: str | None = None):
    """Merge flat shard files of one sweep into the gridded dataset (and write it to ``out``).

    Refuses files from different sweeps and grids that are not covered exactly once; a missing
    file raises ``FileNotFoundError``, a folder ``IsADirectoryError``. Empty shards (more shards
    than cells) merge like any other.
    """
    import xarray as xr

    if isinstance(paths, str | os.PathLike):
        raise TypeError(f"paths must be a list of shard files, got the single path {paths!r}")
    paths = [os.fspath(p) if isinstance(p, os.PathLike) else p for p in paths]
    if not paths:
        raise ValueError("merge needs at least one shard file, got none")
    for p in paths:
        if not isinstance(p, str):
            raise TypeError(f"paths must be file paths (str), got {p!r}")
    if out is not None:
        out = _check_path("out", out)
    first = read_checked(paths[0], None, what="shard file")
    fp = first.attrs["lazyrich_fingerprint"]
    parts = [first] + [read_checked(p, fp, what="shard file") for p in paths[1:]]
    for p, ds in zip(paths, parts, strict=True):
        if "cell" not in ds.dims:
            raise ValueError(f"{p!r} is not a flat shard file (no 'cell' dimension); merge takes "
                             f"the files written by sweep(..., shard=...)")
    # the cells' coordinates (newer shard files) are implied by the grid: concatenate without
    parts = [ds.reset_coords(drop=True) for ds in parts]
    flat = xr.concat(parts, dim="cell") if len(parts) > 1 else parts[0]
    flat.attrs = dict(first.attrs)
    grid = {k: np.asarray(v) for k, v in json.loads(first.attrs["grid"]).items()}
    cfg = json.loads(first.attrs["config"])
    extra = _eta_coords(grid, int(cfg["depth"]), cfg["eta_scale"])
    ds = to_grid(flat, grid, extra)
    if out is not None:
        write_atomic(ds, out)
    return ds


def _distributed(cfg, grid, groups, table, fp, attrs, path, chunk_size, memory_budget, devices,
                 progress):
    """Multi-process run (``jax.distributed``): each process runs its slice on its local
    devices and writes it; process 0 merges after a barrier; everyone returns the result."""
    from jax.experimental import multihost_utils

    if path is None:
        raise ValueError("a multi-process sweep needs path= (processes exchange results by file)")
    pid, n = jax.process_index(), jax.process_count()
    if not os.path.exists(path):
        part = f"{path}.proc-{pid}-of-{n}.nc"
        if not os.path.exists(part):
            cells = shard_cells(table["gamma"].size, (pid, n))
            flat = _run_cells(groups, table, cells, attrs, fp, part, chunk_size, memory_budget,
                              devices, progress and pid == 0)
            write_atomic(flat, part)
            shutil.rmtree(part + ".parts", ignore_errors=True)
        multihost_utils.sync_global_devices("lazyrich-sweep-parts")
        if pid == 0:
            merge([f"{path}.proc-{i}-of-{n}.nc" for i in range(n)], out=path)
            for i in range(n):
                os.remove(f"{path}.proc-{i}-of-{n}.nc")
        multihost_utils.sync_global_devices("lazyrich-sweep-merged")
    return read_checked(path, fp)
