r"""Tasks: generated in code or shipped with a package, never downloaded.

A task is built once per sweep from its ``data_seed`` (:meth:`Task.build` returns a pytree:
teacher weights, or the arrays of a finite data set, plus a fixed test set). Training batches
come from :meth:`Task.batch` with the key ``fold_in(stream_key, t)``, so **every cell of a
grid sees the same data stream** (common random numbers: cells differ by their hyperparameters,
not by their data).

Regression (whitened Gaussian inputs :math:`x\sim\mathcal N(0, I_D)`, :math:`\beta =
(1,\dots,1)/\sqrt D`):

* ``linear``: :math:`y = \beta\cdot x`.
* ``single-index``: :math:`y = \tanh(2\beta\cdot x) + \tfrac12\beta\cdot x` (the teacher of
  the γ-landscape claims).
* ``multi-index``: :math:`y = K^{-1/2}\sum_k [\tanh(2u_k\cdot x) + \tfrac12 u_k\cdot x]` with
  K orthonormal random directions.
* ``random-mlp``: :math:`y = \sqrt{2/M}\,a\cdot\mathrm{ReLU}(Wx/\sqrt D)` (M hidden units,
  N(0,1) weights; unit output variance).
* ``staircase``: multi-output linear :math:`y = W^*x`, :math:`W^* = U\,\mathrm{diag}(s)V^\top`
  with chosen singular values s, learned one mode at a time (Saxe et al. 2014;
  docs: Gamma scaling, "Deep linear networks").

Classification (one-hot targets; MSE uses them uncentred as the authors' code does):

* ``gaussian-mixture``: C classes, :math:`x = \mu_c + z`, :math:`|\mu_c| =` ``separation``.
* ``modular``: :math:`(a+b) \bmod p` from one-hot :math:`a \oplus b`; a fixed fraction of the
  :math:`p^2` pairs trains, the rest tests.
* ``digits``: scikit-learn's 8×8 digits, standardised; flat (64) or images (8, 8, 1).
* ``mnist`` / ``cifar10``: local files (see :mod:`._data_files`), per-channel standardised.
"""

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

TASKS = ("linear", "single-index", "multi-index", "random-mlp", "staircase", "gaussian-mixture",
         "modular", "digits", "mnist", "cifar10")
_SYNTHETIC = ("linear", "single-index", "multi-index", "random-mlp", "staircase",
              "gaussian-mixture")
#: Tasks with one-hot targets (the ones ``loss="xent"`` accepts).
CLASSIFICATION_TASKS = ("gaussian-mixture", "modular", "digits", "mnist", "cifar10")
#: Tasks that come as images (``image=True``, the ConvNet's input).
IMAGE_TASKS = ("digits", "mnist", "cifar10")
_DIGITS_SAMPLES = 1797  # scikit-learn's 8x8 digits

#: The options each task reads (anything else is refused, never ignored).
TASK_OPTIONS = {
    **{n: ("train_size", "test_size", "noise", "whiten") for n in ("linear", "single-index")},
    "multi-index": ("train_size", "test_size", "noise", "whiten", "n_index"),
    "random-mlp": ("train_size", "test_size", "noise", "whiten", "teacher_width"),
    "staircase": ("train_size", "test_size", "noise", "whiten", "singular_values"),
    "gaussian-mixture": ("train_size", "test_size", "classes", "separation"),
    "modular": ("modulus", "train_fraction"),
    "digits": ("test_size", "image"),
    "mnist": ("data_dir", "test_size", "image"),
    "cifar10": ("data_dir", "test_size", "image"),
}


def _int_option(name, v, low):
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
        number = isinstance(v, float | np.floating)  # a number of the wrong kind: a bad value
        raise (ValueError if number else TypeError)(
            f"task option {name} must be an integer >= {low}, got {v!r}")
    if v < low:
        raise ValueError(f"task option {name} must be an integer >= {low}, got {v!r}")
    return int(v)


def _float_option(name, v, low, *, strict=False, high=None):
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f"task option {name} must be a number, got {v!r}")
    v = float(v)
    ok = math.isfinite(v) and (v > low if strict else v >= low) and (high is None or v < high)
    if not ok:
        rng = (f"in ({low:g}, {high:g})" if high is not None
               else f"{'>' if strict else '>='} {low:g}")
        raise ValueError(f"task option {name} must be finite and {rng}, got {v!r}")
    return v


def check_options(name: str, options: dict) -> dict:
    """Validate task ``name``'s options: unknown keys are refused (listing the valid ones) and
    every value is checked against its range. Returns the normalised options."""
    valid = TASK_OPTIONS[name]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown task option(s) {unknown} for task {name!r}; valid options are "
                         f"{valid}")
    out = dict(options)
    for k in ("train_size", "test_size", "n_index", "teacher_width"):
        if k in out:
            out[k] = _int_option(k, out[k], 1)
    for k in ("classes", "modulus"):
        if k in out:
            out[k] = _int_option(k, out[k], 2)
    for k in ("noise", "separation"):
        if k in out:
            out[k] = _float_option(k, out[k], 0.0)
    if "train_fraction" in out:
        out["train_fraction"] = _float_option("train_fraction", out["train_fraction"], 0.0,
                                              strict=True, high=1.0)
    for k in ("whiten", "image"):
        if k in out and not isinstance(out[k], bool | np.bool_):
            raise TypeError(f"task option {k} must be True or False, got {out[k]!r}")
        if k in out:
            out[k] = bool(out[k])
    if "singular_values" in out:
        sv = out["singular_values"]
        if isinstance(sv, str) or not isinstance(sv, list | tuple | np.ndarray):
            raise TypeError(f"task option singular_values must be a sequence of positive numbers, "
                            f"got {sv!r}")
        vals = tuple(_float_option("singular_values", v, 0.0, strict=True) for v in sv)
        if not vals:
            raise ValueError("task option singular_values must hold at least one positive "
                             "number, got ()")
        out["singular_values"] = vals
    if "data_dir" in out and not isinstance(out["data_dir"], str | os.PathLike):
        raise TypeError(f"task option data_dir must be a path (str), got {out['data_dir']!r}")
    if "data_dir" in out:
        out["data_dir"] = os.fspath(out["data_dir"])
    return out


@dataclasses.dataclass(frozen=True)
class Task:
    """A task's static description. Build with :func:`make_task`."""

    name: str
    input_shape: tuple
    output_dim: int
    classification: bool
    options: tuple = ()  # sorted (key, value) pairs

    def opt(self, key, default=None):
        return dict(self.options).get(key, default)

    @property
    def finite(self) -> bool:
        """Whether training samples come from a fixed, finite training set."""
        return self.name not in _SYNTHETIC or self.opt("train_size") is not None

    # -- building ------------------------------------------------------------------------------
    def build(self, data_seed: int, dtype) -> dict:
        """Teacher and/or data arrays, and a fixed test set, from the integer ``data_seed``."""
        from ._config import seed_key

        key = seed_key(data_seed, "data_seed")
        k_teacher, k_test, k_train = (jax.random.fold_in(key, i) for i in range(3))
        data = {}
        if self.name in _SYNTHETIC:
            data["teacher"] = self._teacher(k_teacher, dtype)
            n_test = int(self.opt("test_size", 1024))
            data["test_x"], data["test_y"] = self._draw(data["teacher"], k_test, n_test, dtype)
            p = self.opt("train_size")
            if p is not None:
                x, y = self._draw(data["teacher"], k_train, int(p), dtype,
                                  whiten=bool(self.opt("whiten", False)))
                data["train_x"], data["train_y"] = x, y
        else:
            xtr, ytr, xte, yte = _finite_dataset(self, int(data_seed))
            data["train_x"] = jnp.asarray(xtr, dtype=dtype)
            data["train_y"] = jnp.asarray(ytr, dtype=dtype)
            data["test_x"] = jnp.asarray(xte, dtype=dtype)
            data["test_y"] = jnp.asarray(yte, dtype=dtype)
        return data

    def _teacher(self, key, dtype):
        D = self.input_shape[0]
        if self.name in ("linear", "single-index"):
            return {"beta": jnp.full((D,), 1.0 / math.sqrt(D), dtype=dtype)}
        if self.name == "multi-index":
            K = int(self.opt("n_index", 2))
            q, _ = jnp.linalg.qr(jax.random.normal(key, (D, K), dtype=dtype))
            return {"u": q}
        if self.name == "random-mlp":
            M = int(self.opt("teacher_width", 32))
            k1, k2 = jax.random.split(key)
            return {"W": jax.random.normal(k1, (D, M), dtype=dtype),
                    "a": jax.random.normal(k2, (M, 1), dtype=dtype)}
        if self.name == "staircase":
            s = jnp.asarray(self.opt("singular_values"), dtype=dtype)
            C = s.shape[0]
            k1, k2 = jax.random.split(key)
            V, _ = jnp.linalg.qr(jax.random.normal(k1, (D, C), dtype=dtype))
            U, _ = jnp.linalg.qr(jax.random.normal(k2, (C, C), dtype=dtype))
            return {"W": V @ (s[:, None] * U.T)}  # y = x @ W, shape (D, C)
        if self.name == "gaussian-mixture":
            C = self.output_dim
            mu = jax.random.normal(key, (C, D), dtype=dtype)
            mu = mu / jnp.linalg.norm(mu, axis=1, keepdims=True)
            return {"mu": float(self.opt("separation", 3.0)) * mu}
        raise AssertionError(self.name)

    def _targets(self, teacher, x):
        n = self.name
        if n == "linear":
            return (x @ teacher["beta"])[:, None]
        if n == "single-index":
            z = x @ teacher["beta"]
            return (jnp.tanh(2.0 * z) + 0.5 * z)[:, None]
        if n == "multi-index":
            z = x @ teacher["u"]
            K = z.shape[1]
            return (jnp.tanh(2.0 * z) + 0.5 * z).sum(axis=1, keepdims=True) / math.sqrt(K)
        if n == "random-mlp":
            D = x.shape[1]
            M = teacher["W"].shape[1]
            return jax.nn.relu(x @ teacher["W"] / math.sqrt(D)) @ teacher["a"] * math.sqrt(2.0 / M)
        if n == "staircase":
            return x @ teacher["W"]
        raise AssertionError(n)

    def _draw(self, teacher, key, n, dtype, whiten=False):
        D = self.input_shape[0]
        kx, kl = jax.random.split(key)
        if self.name == "gaussian-mixture":
            C = self.output_dim
            labels = jax.random.randint(kl, (n,), 0, C)
            x = teacher["mu"][labels] + jax.random.normal(kx, (n, D), dtype=dtype)
            return x, jax.nn.one_hot(labels, C, dtype=dtype)
        x = jax.random.normal(kx, (n, D), dtype=dtype)
        if whiten:
            # exact whitening: X^T X / n = I (needs n >= D)
            cov = x.T @ x / n
            w, v = jnp.linalg.eigh(cov)
            x = x @ (v / jnp.sqrt(w)[None, :]) @ v.T
        y = self._targets(teacher, x)
        noise = float(self.opt("noise", 0.0))
        if noise > 0:
            y = y + noise * jax.random.normal(kl, y.shape, dtype=dtype)
        return x, y

    # -- sampling ------------------------------------------------------------------------------
    def batch(self, data, key, batch_size: int):
        """A training batch for the step key ``key`` (online SGD); ``batch_size=None``: all."""
        if "train_x" in data:
            if batch_size is None:
                return data["train_x"], data["train_y"]
            idx = jax.random.randint(key, (batch_size,), 0, data["train_x"].shape[0])
            return data["train_x"][idx], data["train_y"][idx]
        return self._draw(data["teacher"], key, batch_size, data["test_x"].dtype)

    def describe(self) -> dict:
        return {"task": self.name, "input_shape": list(self.input_shape),
                "output_dim": self.output_dim, **dict(self.options)}


def make_task(name: str, *, input_dim=None, image=False, **options) -> Task:
    """Build the static description of task ``name`` (see the module docstring).

    Options (all optional): ``train_size`` (finite training set for synthetic tasks),
    ``whiten`` (exactly whiten it), ``test_size`` (default 1024), ``noise`` (label noise std),
    ``n_index``, ``teacher_width``, ``singular_values`` (staircase, default (3, 1, 0.3)),
    ``classes`` and ``separation`` (mixture), ``modulus`` and ``train_fraction`` (modular),
    ``data_dir`` (mnist, cifar10), ``image`` (digits/mnist/cifar10 as NHWC images).
    :data:`TASK_OPTIONS` lists the options each task reads; any other key raises ``ValueError``
    (a misspelt option is never silently ignored), and values are range-checked.
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; expected one of {TASKS}")
    opts = check_options(name, {k: v for k, v in options.items() if v is not None})
    if not isinstance(image, bool | np.bool_):
        raise TypeError(f"image must be True or False, got {image!r}")
    if image and name not in IMAGE_TASKS:
        raise ValueError(f"image=True needs an image task, one of {IMAGE_TASKS}; got {name!r}")
    fixed = {"modular": None, "digits": 64, "mnist": 784, "cifar10": 3072}
    if name in _SYNTHETIC:
        D = 16 if input_dim is None else input_dim
        if isinstance(D, bool) or not isinstance(D, int | np.integer) or D < 1:
            raise ValueError(f"input_dim must be a positive integer, got {D!r}")
        D = int(D)
        if name == "staircase":
            s = opts.setdefault("singular_values", (3.0, 1.0, 0.3))
            if len(s) > D:
                raise ValueError(f"staircase needs at most input_dim={D} singular values, "
                                 f"got {len(s)}")
            out, cls = len(s), False
        elif name == "gaussian-mixture":
            out, cls = opts.setdefault("classes", 10), True
        else:
            out, cls = 1, False
        if name == "multi-index" and opts.get("n_index", 2) > D:
            raise ValueError(f"task option n_index must be <= input_dim={D}, got "
                             f"{opts.get('n_index', 2)}")
        if opts.get("whiten") and opts.get("train_size", 0) < D:
            raise ValueError(f"whiten=True needs task option train_size >= input_dim={D}, got "
                             f"train_size={opts.get('train_size')}")
        return Task(name, (D,), out, cls, tuple(sorted(opts.items())))
    if name == "modular":
        p = opts.setdefault("modulus", 23)
        f = opts.setdefault("train_fraction", 0.5)
        n_tr = int(round(f * p * p))
        if not 1 <= n_tr < p * p:
            raise ValueError(f"task option train_fraction must leave at least one of the "
                             f"{p * p} pairs for training and one for testing, i.e. lie in "
                             f"[{0.5 / p**2:.3g}, {1 - 0.5 / p**2:.3g}), got {f!r}")
        shape, out = (2 * p,), p
    elif name == "digits":
        if opts.get("test_size", 360) >= _DIGITS_SAMPLES:
            raise ValueError(f"task option test_size must be < {_DIGITS_SAMPLES} for digits "
                             f"({_DIGITS_SAMPLES} samples; the rest train), got "
                             f"{opts['test_size']}")
        shape, out = ((8, 8, 1) if image else (64,)), 10
    elif name == "mnist":
        shape, out = ((28, 28, 1) if image else (784,)), 10
    else:
        shape, out = ((32, 32, 3) if image else (3072,)), 10
    if name in ("mnist", "cifar10") and not opts.get("data_dir"):
        raise ValueError(f"task {name!r} reads local files: set task option data_dir to their "
                         f"directory (nothing is downloaded)")
    if (input_dim is not None and not image and name != "modular"
            and input_dim != fixed.get(name, shape[0])):
        raise ValueError(f"task {name!r} has input_dim {shape[0]}, got input_dim={input_dim}")
    if name == "modular" and input_dim is not None and input_dim != shape[0]:
        raise ValueError(f"task 'modular' with modulus {opts['modulus']} has input_dim {shape[0]}, "
                         f"got input_dim={input_dim}")
    opts["image"] = bool(image)
    return Task(name, shape, out, True, tuple(sorted(opts.items())))


def _standardise(xtr, xte):
    axes = tuple(range(xtr.ndim - 1))
    mean = xtr.mean(axis=axes, keepdims=True)
    std = xtr.std(axis=axes, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return (xtr - mean) / std, (xte - mean) / std


def _finite_dataset(task: Task, data_seed: int):
    rng = np.random.default_rng(data_seed)
    n_cls = task.output_dim
    image = task.opt("image", False)
    if task.name == "modular":
        p = task.opt("modulus")
        a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        a, b = a.ravel(), b.ravel()
        x = np.concatenate([np.eye(p)[a], np.eye(p)[b]], axis=1)
        lab = (a + b) % p
        perm = rng.permutation(p * p)
        n_tr = int(round(task.opt("train_fraction") * p * p))  # 1 <= n_tr < p², checked
        tr, te = perm[:n_tr], perm[n_tr:]
        return x[tr], np.eye(p)[lab[tr]], x[te], np.eye(p)[lab[te]]
    if task.name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = d.images.astype(np.float64)[..., None]  # (n, 8, 8, 1)
        lab = d.target.astype(np.int64)
        perm = rng.permutation(len(lab))
        n_te = int(task.opt("test_size", 360))
        te, tr = perm[:n_te], perm[n_te:]
        xtr, xte = x[tr], x[te]
        ytr, yte = lab[tr], lab[te]
    else:
        from ._data_files import load_cifar10, load_mnist

        loader = load_mnist if task.name == "mnist" else load_cifar10
        xtr, ytr, xte, yte = loader(task.opt("data_dir"))
        xtr, xte = xtr.astype(np.float64) / 255.0, xte.astype(np.float64) / 255.0
        n_te = task.opt("test_size")
        if n_te is not None:
            if n_te > len(xte):
                raise ValueError(f"task option test_size={n_te} exceeds the {len(xte)} test "
                                 f"images of {task.name}")
            xte, yte = xte[: int(n_te)], yte[: int(n_te)]
    xtr, xte = _standardise(xtr, xte)
    if not image:
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    return xtr, np.eye(n_cls)[ytr], xte, np.eye(n_cls)[yte]


@dataclasses.dataclass(frozen=True, eq=False)
class ArrayTask(Task):
    """A finite task from the user's own arrays (build with :func:`array_task`).

    Equal (and sharing compiled runs) exactly when the arrays are equal: identity is the
    SHA-256 of their bytes, which results files also record, so a resumed sweep on other data
    is refused rather than merged.
    """

    arrays: tuple = ()  # (x_train, y_train, x_test, y_test) as float64 NumPy arrays
    digest: str = ""

    def __eq__(self, other):
        return isinstance(other, ArrayTask) and other.digest == self.digest

    def __hash__(self):
        return hash(self.digest)

    @property
    def finite(self) -> bool:
        return True

    def build(self, data_seed: int, dtype) -> dict:
        xtr, ytr, xte, yte = self.arrays
        return {"train_x": jnp.asarray(xtr, dtype=dtype), "train_y": jnp.asarray(ytr, dtype=dtype),
                "test_x": jnp.asarray(xte, dtype=dtype), "test_y": jnp.asarray(yte, dtype=dtype)}

    def describe(self) -> dict:
        return {"task": self.name, "input_shape": list(self.input_shape),
                "output_dim": self.output_dim, "classification": self.classification,
                "train_size": int(self.arrays[0].shape[0]),
                "test_size": int(self.arrays[2].shape[0]), "sha256": self.digest}


def _labels_or_targets(name, y, n, classes):
    """Integer labels (1-D) as one-hot rows, or real targets as a 2-D float array."""
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{name} must have one row per input ({n}), got shape {y.shape}")
    if y.dtype == bool or y.dtype == object or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"{name} must hold numbers (integer labels or real targets), got dtype "
                        f"{y.dtype}")
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1:
            raise ValueError(f"integer {name} must be 1-D class labels, got shape {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise ValueError(f"{name} labels must lie in [0, classes={classes}), got "
                             f"[{y.min()}, {y.max()}]")
        return np.eye(classes)[y]
    if np.issubdtype(y.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {y.dtype}")
    y = y.astype(np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2:
        raise ValueError(f"real {name} must be (n,) or (n, outputs), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return y


def array_task(x_train, y_train, x_test=None, y_test=None, *, classes: int | None = None,
               name: str = "arrays") -> ArrayTask:
    r"""A task from your own arrays, trained by the same engine as the built-in tasks.

    ``x_*``: inputs ``(n, D)`` or NHWC images ``(n, H, W, C)``. ``y_*``: integer class labels
    ``(n,)`` (a classification task: one-hot targets, ``loss="xent"`` allowed, ``accuracy``
    logged; ``classes`` defaults to max label + 1) or real targets ``(n,)``/``(n, C)``
    (regression). Without a test set the training set is the test set (``test_loss`` is then
    the full training loss). Use with ``full_batch=True`` for gradient descent on the whole set,
    or minibatches drawn from it. Arrays are copied (float64) when the task is made.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither (the training set is then the "
                         "test set)")
    xtr = np.asarray(x_train)
    if xtr.dtype == bool or not np.issubdtype(xtr.dtype, np.number) or np.issubdtype(
            xtr.dtype, np.complexfloating):
        raise TypeError(f"x_train must hold real numbers, got dtype {xtr.dtype}")
    if xtr.ndim not in (2, 4) or xtr.shape[0] < 1:
        raise ValueError(f"x_train must be (n, D) or NHWC images (n, H, W, C) with n >= 1, got "
                         f"shape {xtr.shape}")
    xtr = xtr.astype(np.float64)
    xte = xtr if x_test is None else np.asarray(x_test)
    if xte.dtype == bool or not np.issubdtype(xte.dtype, np.number) or np.issubdtype(
            xte.dtype, np.complexfloating):
        raise TypeError(f"x_test must hold real numbers, got dtype {xte.dtype}")
    xte = xte.astype(np.float64)
    if xte.shape[1:] != xtr.shape[1:] or xte.shape[0] < 1:
        raise ValueError(f"x_test must have the inputs' shape {xtr.shape[1:]} and n >= 1, got "
                         f"{xte.shape}")
    for nm, x in (("x_train", xtr), ("x_test", xte)):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{nm} must be finite (no NaN or inf)")
    ytr_raw = np.asarray(y_train)
    yte_raw = ytr_raw if y_test is None else np.asarray(y_test)
    labels = np.issubdtype(ytr_raw.dtype, np.integer) and ytr_raw.dtype != bool
    if labels != (np.issubdtype(yte_raw.dtype, np.integer) and yte_raw.dtype != bool):
        raise TypeError(f"y_train and y_test must both be integer labels or both real targets, "
                        f"got dtypes {ytr_raw.dtype}, {yte_raw.dtype}")
    if labels:
        top = int(max(ytr_raw.max(initial=0), yte_raw.max(initial=0))) + 1
        if classes is None:
            classes = top
        if isinstance(classes, bool) or not isinstance(classes, int | np.integer) or classes < 2:
            raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
        classes = int(classes)
    elif classes is not None:
        raise ValueError("classes is for integer labels; y_train holds real targets")
    ytr = _labels_or_targets("y_train", ytr_raw, xtr.shape[0], classes)
    yte = _labels_or_targets("y_test", yte_raw, xte.shape[0], classes)
    if yte.shape[1] != ytr.shape[1]:
        raise ValueError(f"y_test has {yte.shape[1]} outputs, y_train {ytr.shape[1]}")
    import hashlib

    h = hashlib.sha256()
    for a in (xtr, ytr, xte, yte):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    arrays = tuple(np.ascontiguousarray(a) for a in (xtr, ytr, xte, yte))
    for a in arrays:
        a.setflags(write=False)
    return ArrayTask(name, tuple(int(d) for d in xtr.shape[1:]), int(ytr.shape[1]), bool(labels),
                     (), arrays, h.hexdigest())

