"""Sweep results as xarray Datasets in netCDF (h5netcdf), written atomically.

Two layouts:

* **flat** (``cell`` dimension): what a chunk, a shard or a process writes. Each cell carries
  its index in the full grid; any set of flat files with the same fingerprint can be merged.
* **gridded** (dims ``gamma, eta|eta_hat, [extras], seed, step``): the final dataset, with the
  swept values as coordinates.

Every file carries ``attrs["lazyrich_fingerprint"]`` (config, grid, dtype and metric names as
JSON); resuming or merging refuses a file whose fingerprint differs. Files also carry
``attrs["lazyrich_format"]`` (``"lazyrich-sweep/<version>"``; files written before this attribute
existed state the same in their fingerprint). Reading parses attributes as JSON data only (never
evaluated) and refuses a file whose format is unknown or newer than this toolkit reads.
"""

import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading

import numpy as np

FORMAT_NAME = "lazyrich-sweep"
FORMAT_VERSION = 1  # the newest results-file format this toolkit reads and the one it writes
FORMAT = f"{FORMAT_NAME}/{FORMAT_VERSION}"
# attributes that hold JSON; parsed with json.loads only
_JSON_ATTRS = ("lazyrich_fingerprint", "config", "grid", "metrics")


def fingerprint(config: dict, grid: dict, dtype: str, metric_names) -> str:
    blob = json.dumps({"format": FORMAT, "config": config,
                       "grid": {k: [_jsonable(v) for v in vs] for k, vs in grid.items()},
                       "dtype": dtype, "metrics": list(metric_names)}, sort_keys=True, default=str)
    return blob


def _jsonable(v):
    return int(v) if isinstance(v, int | np.integer) else float(v)


def _renamed(fp: str):
    """A fingerprint with config fields under their current names (``steps`` became
    ``num_steps``): files written before a rename still resume and merge."""
    try:
        d = json.loads(fp)
    except ValueError:
        return fp
    cfg = d.get("config")
    if isinstance(cfg, dict) and "steps" in cfg and "num_steps" not in cfg:
        cfg["num_steps"] = cfg.pop("steps")
    return d


def fingerprint_hash(fp: str) -> str:
    return hashlib.sha256(fp.encode()).hexdigest()[:16]


def provenance() -> dict:
    """Versions, git revision and JAX settings that can change results (stored as attrs)."""
    import jax
    import jaxlib
    import xarray

    import lazyrich

    try:
        here = os.path.dirname(os.path.abspath(lazyrich.__file__))
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    return {"lazyrich_version": lazyrich.__version__, "jax_version": jax.__version__,
            "jaxlib_version": jaxlib.__version__, "numpy_version": np.__version__,
            "xarray_version": xarray.__version__, "git_revision": rev,
            "jax_threefry_partitionable": str(jax.config.jax_threefry_partitionable),
            "device_kind": jax.devices()[0].device_kind}


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask: from /proc where there is one (no side effect), else by setting and
    restoring it (serialised across threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(ds, path: str) -> None:
    """Write ``ds`` to ``path`` through a temporary file in the same folder and ``os.replace``,
    so a reader (or a resumed run) sees either the old file or the complete new one.

    The file gets the mode an ordinary ``open(path, "w")`` would give (0o666 minus the umask;
    0644 under umask 022), not the private 0600 of the temporary file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"output path {path!r} is a directory; expected a netCDF file path")
    folder = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    if "lazyrich_fingerprint" in ds.attrs and "lazyrich_format" not in ds.attrs:
        # state the fingerprint's format explicitly (on a shallow copy: the caller's dataset
        # is unchanged)
        try:
            fmt = json.loads(ds.attrs["lazyrich_fingerprint"]).get("format", FORMAT)
        except (TypeError, ValueError, AttributeError):
            fmt = FORMAT
        ds = ds.copy(deep=False)
        ds.attrs["lazyrich_format"] = fmt
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nc", dir=folder)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        ds.to_netcdf(tmp, engine="h5netcdf")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_checked(path: str, fp: str | None = None, *, what: str = "results file"):
    """Open a results file fully into memory; clear errors for missing, unreadable, corrupt or
    foreign files (``FileNotFoundError``, ``IsADirectoryError``, ``PermissionError``,
    ``ValueError``)."""
    import xarray as xr

    # what to do about a damaged file: a sweep's own output or chunk is recomputed once
    # deleted; a shard file has to be produced again by its shard
    fix = ("rerun the sweep shard that wrote it" if what == "shard file"
           else "delete it to recompute")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} {path!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {path!r} is a directory; expected a netCDF file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"{what} {path!r} is not readable (permission denied)")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            ds = ds.load()
    except Exception as e:  # h5py/h5netcdf raise many types for a damaged file
        raise ValueError(f"{what} {path!r} is corrupt or not a netCDF file ({type(e).__name__}: "
                         f"{e}); {fix}") from e
    got = ds.attrs.get("lazyrich_fingerprint")
    if got is None:
        raise ValueError(f"{what} {path!r} was not written by a lazyrich sweep (no fingerprint); "
                         f"refusing to resume into or merge it: use another path")
    check_format(ds.attrs, path, what=what)
    if fp is not None and got != fp and _renamed(got) != _renamed(fp):
        raise ValueError(f"{what} {path!r} belongs to a different sweep (config, grid, dtype or "
                         f"metrics differ: fingerprint {fingerprint_hash(got)} != "
                         f"{fingerprint_hash(fp)}); use another path or delete it")
    return ds


def check_format(attrs, path: str, *, what: str = "results file") -> int:
    """Check a results file's attributes as data: the JSON ones parse with :func:`json.loads`
    (nothing is evaluated) and the format is ``lazyrich-sweep/<v>`` with ``1 <= v <=``
    :data:`FORMAT_VERSION`. The format is read from ``lazyrich_format`` or, in files written
    before that attribute, from the fingerprint's ``"format"``; both, when present, must agree.
    Returns ``v``; raises ``ValueError`` naming the file, its format and the supported one."""
    parsed = {}
    for key in _JSON_ATTRS:
        if key not in attrs:
            continue
        raw = attrs[key]
        try:
            if not isinstance(raw, str):
                raise TypeError(f"a {type(raw).__name__}, not a JSON string")
            parsed[key] = json.loads(raw)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what} {path!r}: attribute {key!r} must be JSON text written by "
                             f"lazyrich, got {str(raw)[:80]!r} ({e}); the file is damaged or "
                             f"foreign") from None
    fp = parsed.get("lazyrich_fingerprint")
    inner = fp.get("format") if isinstance(fp, dict) else None
    stated = attrs.get("lazyrich_format")
    if stated is not None and inner is not None and stated != inner:
        raise ValueError(f"{what} {path!r} states format {stated!r} but its fingerprint says "
                         f"{inner!r}; the file is damaged or foreign")
    fmt = stated if stated is not None else inner
    m = re.fullmatch(rf"{re.escape(FORMAT_NAME)}/([0-9]+)", fmt) if isinstance(fmt, str) else None
    if m is None or int(m.group(1)) < 1:
        raise ValueError(f"{what} {path!r} has the unknown results format {fmt!r}; this lazyrich "
                         f"reads format {FORMAT!r}")
    version = int(m.group(1))
    if version > FORMAT_VERSION:
        raise ValueError(f"{what} {path!r} was written in results format {fmt!r}, newer than "
                         f"this lazyrich reads (format {FORMAT!r}); upgrade lazyrich to read it")
    return version


def flat_dataset(cells: np.ndarray, logs: dict, steps: np.ndarray, attrs: dict):
    """A flat (``cell``) dataset from per-cell logs (leading axis: cell)."""
    import xarray as xr

    data = {}
    for k, v in logs.items():
        v = np.asarray(v)
        if k in ("diverged", "diverged_step"):
            data[k] = (("cell",), v)
        else:
            extra = tuple(f"{k}_dim{i}" for i in range(v.ndim - 2))
            data[k] = (("cell", "step") + extra, v)
    return xr.Dataset(data, coords={"cell": np.asarray(cells, dtype=np.int64),
                                    "step": np.asarray(steps, dtype=np.int64)}, attrs=attrs)


def to_grid(flat, grid: dict, coords_extra: dict | None = None):
    """Reshape a flat dataset holding every cell exactly once into the gridded layout."""
    import xarray as xr

    names = list(grid)
    shape = tuple(len(v) for v in grid.values())
    n = int(np.prod(shape))
    cells = np.asarray(flat["cell"].values)
    if cells.size != n or not np.array_equal(np.sort(cells), np.arange(n)):
        missing = np.setdiff1d(np.arange(n), cells)
        dup = cells.size - np.unique(cells).size
        raise ValueError(f"results do not cover the grid exactly once: {missing.size} of {n} "
                         f"cells missing (e.g. {missing[:5].tolist()}), {dup} duplicated")
    flat = flat.sortby("cell")
    data = {}
    for k, da in flat.data_vars.items():
        rest = da.dims[1:]
        v = da.values.reshape(shape + da.shape[1:])
        data[k] = (tuple(names) + rest, v)
    coords = {k: np.asarray(v) for k, v in grid.items()}
    coords["step"] = flat["step"].values
    if coords_extra:
        coords.update(coords_extra)
    return xr.Dataset(data, coords=coords, attrs=dict(flat.attrs))


def load_results(path):
    """A finished sweep (gridded) or a shard file (flat, with its cells' coordinates), read
    fully into memory and checked: a lazyrich results file in a format this version reads.
    Missing, unreadable, corrupt or foreign files raise ``FileNotFoundError``,
    ``IsADirectoryError``, ``PermissionError`` or ``ValueError`` with the path in the message.

    Example::

        ds = sims.load_results("scan.nc")
        analysis.plot_phase_map(ds, "test_loss")
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file path, got {path!r}")
    return read_checked(os.fspath(path), None)
