"""Loaders for local MNIST and CIFAR-10 files in their standard formats (never downloads).

* MNIST: the IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``.
* CIFAR-10, either distribution, as a directory or as the ``.tar.gz`` archive:

  - the "binary version" (``cifar-10-batches-bin``, ``cifar-10-binary.tar.gz``):
    ``data_batch_1.bin .. data_batch_5.bin`` and ``test_batch.bin``, each a sequence of
    3073-byte records (one label byte, then 3072 pixel bytes: 1024 R, 1024 G, 1024 B, rows
    first). No pickle is involved; preferred when both versions are present.
  - the "python version" (``cifar-10-batches-py``, ``cifar-10-python.tar.gz``): pickled
    ``data_batch_1 .. data_batch_5`` and ``test_batch``. These are read by a restricted
    unpickler (:class:`CifarUnpickler`) that can build only what a genuine batch holds (dicts,
    lists, bytes, str, numbers and numeric numpy arrays) and refuses every other global, so a
    tampered file raises before any of its code can run.

  Archives are read member by member in memory (``TarFile.extractfile``); nothing is extracted
  to disk, and an archive with a member that has an absolute path, a ``..`` component, or is a
  link or a special file is refused as a whole.

Both loaders return ``(x_train, y_train, x_test, y_test)`` with images ``uint8`` NHWC and labels
``int64``; normalisation is the task's business (per-channel mean/std).
"""

import gzip
import io
import os
import pickle
import posixpath
import tarfile
import zlib

import numpy as np

_MNIST = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
          "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}

_CIFAR_PY = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
_CIFAR_BIN = [n + ".bin" for n in _CIFAR_PY]
_PIXELS = 3 * 32 * 32  # one image: 1024 R, 1024 G, 1024 B bytes
_CLASSES = 10


class DataFileError(ValueError):
    """A data file refused because it is not what its format allows (the message names the
    file and what was found)."""


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (``.gz`` or plain): big-endian magic, dims, then unsigned bytes."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw[4:head], dtype=">i4"))
    data = np.frombuffer(raw[head:], dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says shape {dims} ({int(np.prod(dims))} bytes) "
                         f"but the file holds {data.size}")
    return data.reshape(dims)


def load_mnist(directory: str):
    """MNIST from the four IDX files in ``directory``. Images ``(n, 28, 28, 1)`` uint8."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"MNIST directory {directory!r} does not exist")
    out = {}
    for k, stem in _MNIST.items():
        for name in (stem, stem + ".gz"):
            p = os.path.join(directory, name)
            if os.path.exists(p):
                out[k] = read_idx(p)
                break
        else:
            raise FileNotFoundError(f"{directory!r} has no {stem}[.gz] (standard MNIST IDX files)")
    for split in ("train", "test"):
        x, y = out[f"x_{split}"], out[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"MNIST {split}: images {x.shape} and labels {y.shape} do not match")
    return (out["x_train"][..., None], out["y_train"].astype(np.int64),
            out["x_test"][..., None], out["y_test"].astype(np.int64))


# ---------------------------------------------------------------------------------------------
# CIFAR-10 python batches: a restricted unpickler
# ---------------------------------------------------------------------------------------------

# dtype kinds a data array may have: bool, signed/unsigned int, float, complex (never object,
# void/structured, string or datetime)
_NUMERIC_KINDS = "biufc"


def _numeric_dtype(dt, source: str) -> np.dtype:
    if not isinstance(dt, np.dtype) or dt.kind not in _NUMERIC_KINDS or dt.hasobject:
        raise DataFileError(f"CIFAR-10 file {source!r} holds an array of dtype {dt!r}; a CIFAR-10 "
                            f"batch holds only numeric arrays (uint8 pixels), refusing to load it")
    return dt


class _NdarrayType:
    """Stands for ``numpy.ndarray`` inside a restricted pickle: it may only be passed to the
    array reconstructor, never called."""

    def __new__(cls, *args, **kwargs):
        raise ValueError("numpy.ndarray may only appear as the type of a reconstructed array")


def _admitted(source: str) -> dict:
    """The globals a genuine CIFAR-10 python batch (pickled by Python 2 or 3, numpy 1 or 2, any
    protocol) refers to, each wrapped so it can only build numeric data."""
    from numpy import frombuffer

    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar

    def reconstruct(subtype, shape, typecode):
        # ndarray.__reduce__ (protocols 0-4): _reconstruct(ndarray, (0,), b"b"), then
        # __setstate__ fills shape, dtype and bytes
        if subtype is not _NdarrayType:
            raise DataFileError(f"CIFAR-10 file {source!r} reconstructs an array of type "
                                f"{subtype!r}; only plain numpy.ndarray is admitted")
        _numeric_dtype(np.dtype(typecode), source)
        return _reconstruct(np.ndarray, shape, typecode)

    def dtype(code, align=False, copy=True):
        # copy=True always: a BUILD (__setstate__) must never alter numpy's shared dtype singletons
        if not isinstance(code, str | bytes):
            raise DataFileError(f"CIFAR-10 file {source!r} builds a dtype from a "
                                f"{type(code).__name__}; only type codes such as 'u1' are "
                                f"admitted")
        return _numeric_dtype(np.dtype(code, bool(align), True), source)

    def from_buffer(buf, dt, shape, order, axis_order=None):
        # ndarray.__reduce_ex__(5): the bytes in band, then frombuffer/reshape
        arr = frombuffer(buf, dtype=_numeric_dtype(dt, source))
        if order == "K" and axis_order is not None:
            return arr.reshape(shape, order="C").transpose(axis_order)
        return arr.reshape(shape, order=order)

    def numpy_scalar(dt, data=None):
        return scalar(_numeric_dtype(dt, source), data)

    def latin1(text, encoding="utf-8", errors="strict"):
        # how Python 3 pickles bytes at protocol < 3: _codecs.encode(str, "latin1")
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise DataFileError(f"CIFAR-10 file {source!r} calls _codecs.encode with encoding "
                                f"{encoding!r}; only 'latin1' (pickled bytes) is admitted")
        return text.encode("latin1", errors)

    table = {("numpy", "ndarray"): _NdarrayType, ("numpy", "dtype"): dtype,
             ("_codecs", "encode"): latin1}
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = numpy_scalar
        table[(f"{core}.numeric", "_frombuffer")] = from_buffer
    # builtins that only build data (protocol < 3 writes bytes/sets through them)
    for name, obj in (("bytes", bytes), ("bytearray", bytearray), ("set", set),
                      ("frozenset", frozenset), ("complex", complex)):
        table[("builtins", name)] = table[("__builtin__", name)] = obj
    return table


class CifarUnpickler(pickle.Unpickler):
    r"""A :class:`pickle.Unpickler` for CIFAR-10 python batches that cannot run code.

    Unpickling runs code only through the globals a pickle names (``find_class``: every
    ``GLOBAL``, ``STACK_GLOBAL``, ``INST`` and extension-registry opcode goes through it) and
    through persistent ids. Here ``find_class`` admits only the numpy array/dtype/scalar
    reconstructors (wrapped to build numeric dtypes only) and a few data-only builtins; any
    other global, e.g. ``os.system`` or ``builtins.open`` in a ``__reduce__`` payload, raises
    ``ValueError`` naming the file and the global *before* it is looked up, let alone called.
    Strings are read with ``encoding="bytes"`` (the batches were written by Python 2).
    """

    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")
        self._source = source
        self._table = _admitted(source)

    def find_class(self, module, name):
        obj = self._table.get((module, name))
        if obj is None:
            raise DataFileError(f"CIFAR-10 file {self._source!r} refers to the global "
                                f"{module}.{name}, which a CIFAR-10 batch never holds; refusing "
                                f"to load it (unpickling it could run code). Use the binary "
                                f"distribution (cifar-10-binary.tar.gz) or a trusted copy")
        return obj

    def persistent_load(self, pid):
        raise DataFileError(f"CIFAR-10 file {self._source!r} holds a persistent id; a CIFAR-10 "
                            f"batch never does, refusing to load it")


_DATA = (type(None), bool, int, float, complex, str, bytes, bytearray)


def _check_data(obj, source: str, depth: int = 0):
    """Everything unpickled is plain data: containers of scalars and numeric numpy arrays."""
    if depth > 32:
        raise DataFileError(f"CIFAR-10 file {source!r} nests containers {depth} deep; a CIFAR-10 "
                            f"batch is a flat dict")
    if isinstance(obj, np.ndarray):
        if type(obj) is not np.ndarray:
            raise DataFileError(f"CIFAR-10 file {source!r} holds a {type(obj).__name__}; only "
                                f"plain numpy arrays are admitted")
        _numeric_dtype(obj.dtype, source)
    elif isinstance(obj, np.generic):
        _numeric_dtype(obj.dtype, source)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_data(k, source, depth + 1)
            _check_data(v, source, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            _check_data(v, source, depth + 1)
    elif not isinstance(obj, _DATA):
        raise DataFileError(f"CIFAR-10 file {source!r} holds a {type(obj).__name__}; a "
                            f"CIFAR-10 batch holds only dicts, lists, bytes, str, numbers and "
                            f"numeric arrays")


def _get(d: dict, key: str):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def _checked_batch(x, y, source: str):
    """Validate a batch: ``x`` uint8 ``(N, 3072)``, ``y`` N integer labels in [0, 9]; return
    NHWC images and int64 labels."""
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != _PIXELS:
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataFileError(f"CIFAR-10 file {source!r}: data must be a uint8 array of shape "
                            f"(N, {_PIXELS}), got {got}")
    n = x.shape[0]
    if n == 0:
        raise DataFileError(f"CIFAR-10 file {source!r}: data must hold N >= 1 images, got 0")
    if isinstance(y, np.ndarray):
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataFileError(f"CIFAR-10 file {source!r}: labels must be a 1-D integer array or "
                                f"a list of ints, got a {y.dtype} array of shape {y.shape}")
        labels = y.astype(np.int64)
    elif isinstance(y, list | tuple):
        bad = [v for v in y if isinstance(v, bool) or not isinstance(v, int | np.integer)]
        if bad:
            raise DataFileError(f"CIFAR-10 file {source!r}: labels must be ints in [0, 9], got "
                                f"{bad[0]!r}")
        labels = np.asarray([int(v) for v in y], dtype=np.int64)
    else:
        raise DataFileError(f"CIFAR-10 file {source!r}: labels must be a list of ints in [0, 9], "
                            f"got {type(y).__name__}")
    if labels.shape != (n,):
        raise DataFileError(f"CIFAR-10 file {source!r}: {n} images but {labels.size} labels; "
                            f"expected one label per image")
    out = np.flatnonzero((labels < 0) | (labels >= _CLASSES))
    if out.size:
        raise DataFileError(f"CIFAR-10 file {source!r}: labels must lie in [0, 9], got "
                            f"{int(labels[out[0]])} at index {int(out[0])}")
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_cifar_python_batch(blob: bytes, source: str):
    """One CIFAR-10 python batch (a pickle) through :class:`CifarUnpickler`, then validated:
    a dict with ``data`` (uint8 ``(N, 3072)``) and ``labels`` (N ints in [0, 9]), keys as bytes
    or str. Returns ``(images NHWC uint8, labels int64)``."""
    try:
        d = CifarUnpickler(io.BytesIO(blob), source).load()
    except DataFileError:
        raise
    except Exception as e:  # a truncated, garbled or ill-formed pickle raises many types
        raise ValueError(f"CIFAR-10 file {source!r} could not be read as a CIFAR-10 pickle "
                         f"({type(e).__name__}: {e})") from e
    _check_data(d, source)
    if not isinstance(d, dict) or _get(d, "data") is None or _get(d, "labels") is None:
        raise DataFileError(f"CIFAR-10 file {source!r} is not a CIFAR batch: expected a dict with "
                            f"keys b'data' and b'labels'")
    return _checked_batch(_get(d, "data"), _get(d, "labels"), source)


def read_cifar_binary_batch(blob: bytes, source: str):
    """One CIFAR-10 binary batch: N records of 1 label byte + 3072 pixel bytes (no pickle)."""
    rec = 1 + _PIXELS
    if len(blob) == 0 or len(blob) % rec:
        raise DataFileError(f"CIFAR-10 file {source!r} holds {len(blob)} bytes; a binary batch "
                            f"holds a positive multiple of {rec} (1 label byte + {_PIXELS} pixels)")
    raw = np.frombuffer(blob, dtype=np.uint8).reshape(-1, rec)
    return _checked_batch(raw[:, 1:], raw[:, 0].astype(np.int64), source)


# ---------------------------------------------------------------------------------------------
# CIFAR-10: folders and archives
# ---------------------------------------------------------------------------------------------

def _check_member(archive: str, m: tarfile.TarInfo) -> None:
    """Refuse a member that would be dangerous were the archive ever extracted (and that no
    genuine CIFAR-10 archive holds): absolute path, ``..``, link, device or fifo."""
    name = m.name
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or posixpath.isabs(name) or (
            len(name) > 1 and name[0].isalpha() and name[1] == ":"):
        why = "has an absolute path"
    elif ".." in parts:
        why = "has a '..' component"
    elif m.issym() or m.islnk():
        why = f"is a {'symbolic' if m.issym() else 'hard'} link (to {m.linkname!r})"
    elif not (m.isfile() or m.isdir()):
        why = "is not a regular file or directory"
    else:
        return
    raise DataFileError(f"archive {archive!r}: member {name!r} {why}; a CIFAR-10 archive holds "
                        f"only regular files and folders under relative paths, refusing to "
                        f"read it")


def _read_archive(path: str):
    """``(format, {name: (bytes, source)})`` from a CIFAR-10 ``.tar.gz``, read in memory."""
    try:
        with tarfile.open(path, "r:*") as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(path, m)
            files: dict[str, list] = {}
            for m in members:
                if m.isfile():
                    files.setdefault(posixpath.basename(m.name), []).append(m)
            fmt, names = (("binary", _CIFAR_BIN) if all(n in files for n in _CIFAR_BIN)
                          else ("python", _CIFAR_PY))
            blobs = {}
            for n in names:
                found = files.get(n, [])
                if not found:
                    raise FileNotFoundError(
                        f"archive {path!r} has no {n} (expected the CIFAR-10 python batches "
                        f"{', '.join(_CIFAR_PY)} or the binary batches {', '.join(_CIFAR_BIN)})")
                if len(found) > 1:
                    raise DataFileError(f"archive {path!r} holds {n} more than once "
                                        f"({[m.name for m in found]}); cannot tell which to read")
                # in memory: nothing is ever written to disk
                blobs[n] = (tf.extractfile(found[0]).read(), f"{path}:{found[0].name}")
    except (DataFileError, FileNotFoundError):
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataFileError(f"archive {path!r} is damaged or not a tar archive "
                            f"({type(e).__name__}: {e})") from e
    return fmt, blobs


def _read_folder(path: str):
    """``(format, {name: (bytes, source)})`` from a CIFAR-10 folder (binary preferred)."""
    root, fmt = path, None
    for sub, kind in (("cifar-10-batches-bin", "binary"), ("cifar-10-batches-py", "python")):
        if os.path.isdir(os.path.join(path, sub)):
            root, fmt = os.path.join(path, sub), kind
            break
    if fmt is None:
        fmt = ("binary" if os.path.exists(os.path.join(path, _CIFAR_BIN[0]))
               and not os.path.exists(os.path.join(path, _CIFAR_PY[0])) else "python")
    names = _CIFAR_BIN if fmt == "binary" else _CIFAR_PY
    blobs = {}
    for n in names:
        p = os.path.join(root, n)
        if not os.path.isfile(p):
            raise FileNotFoundError(
                f"{root!r} has no {n} (standard CIFAR-10 {fmt} batches; expected "
                f"{', '.join(names)} there or in a cifar-10-batches-py/ or "
                f"cifar-10-batches-bin/ subfolder)")
        with open(p, "rb") as f:
            blobs[n] = (f.read(), p)
    return fmt, blobs


def load_cifar10(path: str):
    """CIFAR-10 from a local folder or ``.tar.gz`` of the binary or python distribution.
    Images ``(n, 32, 32, 3)`` uint8, labels int64 in [0, 9].

    ``path`` is a folder holding ``cifar-10-batches-bin/`` or ``cifar-10-batches-py/`` (or
    being one of them), or the archive ``cifar-10-binary.tar.gz`` / ``cifar-10-python.tar.gz``.
    The binary version is read when present (plain bytes); python batches go through the
    restricted :class:`CifarUnpickler`. Every batch is validated (uint8 ``(N, 3072)`` pixels,
    N labels in [0, 9]); anything else raises ``ValueError`` naming the file.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"CIFAR-10 path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        fmt, blobs = _read_folder(path)
    elif os.path.isfile(path) and tarfile.is_tarfile(path):
        fmt, blobs = _read_archive(path)
    else:
        raise FileNotFoundError(f"CIFAR-10 path {path!r} is neither a directory nor a tar archive")
    read = read_cifar_binary_batch if fmt == "binary" else read_cifar_python_batch
    names = _CIFAR_BIN if fmt == "binary" else _CIFAR_PY
    parts = [read(*blobs[n]) for n in names[:5]]
    x_test, y_test = read(*blobs[names[5]])
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            x_test, y_test)
