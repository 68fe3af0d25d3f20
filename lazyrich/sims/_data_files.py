"""Loaders for local MNIST and CIFAR-10 files in their standard formats (never downloads).

* MNIST: the IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each optionally ``.gz``.
* CIFAR-10: the "python version", a directory ``cifar-10-batches-py`` (or the
  ``cifar-10-python.tar.gz`` archive) holding pickled ``data_batch_1..5`` and ``test_batch``.
  Pickle can run code when loaded: only point this at files you trust.

Both return ``(x_train, y_train, x_test, y_test)`` with images ``uint8`` NHWC and labels
``int64``; normalisation is the task's business (spec §3.1: per-channel mean/std).
"""

import gzip
import os
import pickle
import tarfile

import numpy as np

_MNIST = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
          "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


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


def _cifar_batch(blob: bytes, name: str):
    d = pickle.loads(blob, encoding="bytes")
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError(f"CIFAR-10 {name}: not a CIFAR batch (needs b'data' and b'labels')")
    x = np.asarray(d[b"data"], dtype=np.uint8)
    if x.ndim != 2 or x.shape[1] != 3072:
        raise ValueError(f"CIFAR-10 {name}: data must be (n, 3072), got {x.shape}")
    x = x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(d[b"labels"], dtype=np.int64)


def load_cifar10(path: str):
    """CIFAR-10 from the python-version directory or its ``.tar.gz``. Images ``(n, 32, 32, 3)``."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    blobs = {}
    if os.path.isdir(path):
        root = path
        if os.path.isdir(os.path.join(path, "cifar-10-batches-py")):
            root = os.path.join(path, "cifar-10-batches-py")
        for n in names:
            p = os.path.join(root, n)
            if not os.path.exists(p):
                raise FileNotFoundError(f"{root!r} has no {n} (standard CIFAR-10 python batches)")
            with open(p, "rb") as f:
                blobs[n] = f.read()
    elif os.path.isfile(path) and tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            members = {os.path.basename(m.name): m for m in tf.getmembers() if m.isfile()}
            for n in names:
                if n not in members:
                    raise FileNotFoundError(f"archive {path!r} has no {n}")
                blobs[n] = tf.extractfile(members[n]).read()
    else:
        raise FileNotFoundError(f"CIFAR-10 path {path!r} is neither a directory nor a tar archive")
    parts = [_cifar_batch(blobs[n], n) for n in names[:5]]
    x_test, y_test = _cifar_batch(blobs["test_batch"], "test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            x_test, y_test)
