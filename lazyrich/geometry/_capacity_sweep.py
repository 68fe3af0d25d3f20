r"""Capacity, effective geometry and the other feature-learning metrics over a sweep.

Chou et al. 2025 (docs: Manifold capacity, "Capacity through training"): capacity and
geometry are measured at every logged step on the last layer before the classifier, on
held-out inputs (P classes × M points), next to the conventional feature-learning metrics.

Mean-field capacity needs a host NNLS solver, so it cannot run inside the jitted trainer. The
work is split in two:

1. **Record** (inside :func:`lazyrich.sims.sweep`): metric hooks that store, at every log point of
   every cell, the penultimate features :math:`\Phi_t = \Phi(x;\theta_t)` of a fixed probe set
   (:func:`feature_probe`), the raw network outputs :math:`g(x;\theta_t) = W\Phi_t` that
   :math:`\mathcal D_{LR}` needs (:func:`output_probe`), and the relative weight change
   :math:`\|\theta_t-\theta_0\|/\|\theta_0\|` (:func:`weight_change`).
2. **Analyse** (host, :func:`geometry_over_sweep`): for every (cell, step), the probe features
   grouped into class manifolds ``(P, M, N)`` go through
   :func:`~lazyrich.geometry.mean_field_capacity` (same key everywhere: common random numbers
   across steps and cells), plus :math:`\mathcal D_{LR}(\Phi_t, g_t)`, linear CKA and kernel
   distance to the initial features, and the representation–label alignment
   :math:`\langle\Phi\Phi^\top, YY^\top\rangle_F/(\|\Phi\Phi^\top\|_F\|YY^\top\|_F)`
   (uncentred and centred).

Feature functions for the built-in models (:func:`mlp_features`, :func:`convnet_features`)
recompute the model's forward pass up to the input of its readout; :func:`probe_hooks` builds
all hooks for a :class:`~lazyrich.sims.SweepConfig`.
"""

import json
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._deprecation import key_first
from lazyrich.metrics import dlr, feature_kernel_distance, kernel_alignment, linear_cka

from ._capacity_mf import mean_field_capacity

#: Per-(cell, step) variables written by :func:`geometry_over_sweep`.
GEOMETRY_FIELDS = ("capacity", "capacity_stderr", "radius", "dimension", "center_alignment",
                   "axis_alignment", "center_axis_alignment", "psi", "active_fraction")
METRIC_FIELDS = ("kkt_max", "dlr", "cka_to_init", "kernel_distance", "label_alignment",
                 "label_alignment_centered")


# -- feature functions of the built-in models ---------------------------------------------------

def mlp_features(model) -> Callable:
    r"""``fn(params, x)``: the input of the readout of a :class:`lazyrich.sims.MLP`,
    :math:`\phi(h^{L-1})` (``x`` itself for ``depth == 1``), shape ``(n, N)`` — the model's own
    :meth:`~lazyrich.sims.MLP.features`, so ``readout(fn(params, x)) == model.apply(params, x)``.
    """
    from lazyrich.sims import MLP

    if not isinstance(model, MLP):
        raise TypeError(f"mlp_features needs a lazyrich.sims.MLP, got {type(model).__name__}")
    return model.features


def convnet_features(model) -> Callable:
    r"""``fn(params, x)``: the ReLU output of the dense layer of a :class:`lazyrich.sims.ConvNet`
    (width 8N), the input of its readout — the model's own
    :meth:`~lazyrich.sims.ConvNet.features`."""
    from lazyrich.sims import ConvNet

    if not isinstance(model, ConvNet):
        raise TypeError(f"convnet_features needs a lazyrich.sims.ConvNet, got "
                        f"{type(model).__name__}")
    return model.features


def resolve_model(cfg):
    """The model and task a :class:`~lazyrich.sims.SweepConfig` trains
    (:func:`lazyrich.sims.resolve`)."""
    from lazyrich import sims

    return sims.resolve(cfg)


def model_features(model) -> Callable:
    """The penultimate-feature function of a model: built-in MLP/ConvNet, or any model with a
    ``features(params, x)`` attribute."""
    from lazyrich.sims import MLP, ConvNet

    if isinstance(model, MLP):
        return mlp_features(model)
    if isinstance(model, ConvNet):
        return convnet_features(model)
    fn = getattr(model, "features", None)
    if callable(fn):
        return fn
    raise TypeError(f"no feature function known for {type(model).__name__}: pass "
                    f"feature_fn=(params, x) -> (n, N) to feature_probe yourself")


# -- metric hooks (jitted inside the sweep) -----------------------------------------------------

def _probe_input(probe_x, name="probe_x"):
    if probe_x is None:
        return None
    x = np.asarray(probe_x)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must be a batch of inputs (n, ...) with n >= 1, got shape "
                         f"{x.shape}")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite real numbers")
    return x


def _cast_like(x, params):
    dt = jax.tree.leaves(params)[0].dtype
    return jnp.asarray(x, dtype=dt)


def feature_probe(feature_fn: Callable, probe_x=None) -> Callable:
    r"""A sweep metric hook recording :math:`\Phi(x;\theta_t)` of a fixed probe set.

    Args:
        feature_fn: ``(params, x) -> (n, N)`` features (e.g. :func:`mlp_features`).
        probe_x: probe inputs ``(n, ...)`` (a constant baked into the compiled sweep; cast to the
            run's dtype). ``None``: the task's test set (``ctx.x_test``).

    Returns:
        ``hook(ctx) -> (n, N)``; in ``sims.sweep(..., metrics={"features": hook})`` the
        dataset gets ``features(…, step, features_dim0, features_dim1)``.
    """
    if not callable(feature_fn):
        raise TypeError("feature_fn must be a callable (params, x) -> (n, N) features")
    x = _probe_input(probe_x)

    def hook(ctx):
        xx = ctx.x_test if x is None else _cast_like(x, ctx.params)
        return feature_fn(ctx.params, xx)

    return hook


def output_probe(apply_fn: Callable, probe_x=None) -> Callable:
    r"""A sweep metric hook recording the raw (uncentred) network output :math:`g(x;\theta_t)`,
    the readout of the features: what :math:`\mathcal D_{LR}` compares them with.

    ``apply_fn`` is the model's ``apply(params, x)``; ``probe_x`` as in :func:`feature_probe`.
    """
    if not callable(apply_fn):
        raise TypeError("apply_fn must be a callable (params, x) -> (n, C) outputs")
    return feature_probe(apply_fn, probe_x)  # the same probe, recording the readout instead


def weight_change(ctx):
    r"""Metric hook: :math:`\|\theta_t-\theta_0\|_2/\|\theta_0\|_2` over all parameters (the
    relative weight change)."""
    d = sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree.leaves(ctx.params),
                                                  jax.tree.leaves(ctx.params0), strict=True))
    n0 = sum(jnp.sum(b ** 2) for b in jax.tree.leaves(ctx.params0))
    return jnp.sqrt(d / n0)


def probe_hooks(cfg, probe_x=None, *, feature_fn: Callable | None = None,
                prefix: str = "") -> dict:
    """All hooks for a sweep of ``cfg``: ``{"features", "outputs", "weight_change"}`` (names
    prefixed by ``prefix``). ``feature_fn`` defaults to :func:`model_features` of the config's
    model (built-in MLP/ConvNet); pass it for other models (e.g. :func:`cifar_model`'s).

    Example::

        hooks = geometry.probe_hooks(cfg, x_probe)
        ds = sims.sweep(cfg, gamma=[0.01, 1.0], metrics=hooks)
        geo = geometry.geometry_over_sweep(jax.random.key(0), ds, "features", y_probe)
    """
    model, _ = resolve_model(cfg)
    fn = model_features(model) if feature_fn is None else feature_fn
    return {f"{prefix}features": feature_probe(fn, probe_x),
            f"{prefix}outputs": output_probe(model.apply, probe_x),
            f"{prefix}weight_change": weight_change}


@key_first(3)
def balanced_probe(key, x, labels, per_class: int):
    """A class-balanced probe set: ``per_class`` random points of every class, grouped by class
    (sorted labels). Returns ``(x_probe, labels_probe)``; ``labels`` may be one-hot."""
    y = np.asarray(labels)
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    x = np.asarray(x)
    if y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x (n, ...) and labels (n,) or (n, C) must match, got {x.shape} and "
                         f"{np.shape(labels)}")
    if isinstance(per_class, bool) or int(per_class) != per_class or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    classes = np.unique(y)
    idx = []
    for c, k in zip(classes, jax.random.split(key, len(classes)), strict=True):
        pool = np.flatnonzero(y == c)
        if pool.size < per_class:
            raise ValueError(f"class {c!r} has {pool.size} points, fewer than per_class = "
                             f"{per_class}")
        idx.append(pool[np.asarray(jax.random.choice(k, pool.size, (per_class,),
                                                     replace=False))])
    idx = np.concatenate(idx)
    return x[idx], y[idx]


# -- host analysis --------------------------------------------------------------------------------

def probe_manifolds(features, labels, M: int | None = None) -> np.ndarray:
    """Group probe features ``(n, N)`` into class manifolds ``(P, M, N)``: for each class (sorted),
    its first ``M`` points in probe order (default: the smallest class size). Deterministic, so
    every step and cell uses the same points."""
    F = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if F.ndim != 2 or y.shape != (F.shape[0],):
        raise ValueError(f"features must be (n, N) and labels (n,), got {F.shape} and {y.shape}")
    classes, counts = np.unique(y, return_counts=True)
    M = int(counts.min()) if M is None else M
    if M < 1 or M > counts.min():
        raise ValueError(f"M must be in [1, {int(counts.min())}] (the smallest class), got {M}")
    return np.stack([F[np.flatnonzero(y == c)[:M]] for c in classes])


def _labels_1d(labels, n):
    y = np.asarray(labels)
    if y.ndim == 2:
        y = np.argmax(y, axis=1)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) (or one-hot ({n}, C)) to match the "
                         f"{n} probe points, got {np.shape(labels)}")
    return y


def _one_cell(F, G, y, onehot, key, M, opts, out, i):
    """Fill row ``i`` of every output array from features ``F (T, n, N)`` and outputs
    ``G (T, n, C)`` (or None) of one cell."""
    T = F.shape[0]
    F0 = F[0]
    ok0 = np.all(np.isfinite(F0))
    for t in range(T):
        Ft = F[t]
        if not np.all(np.isfinite(Ft)):  # diverged (NaN-masked by the trainer)
            continue
        r = mean_field_capacity(key, probe_manifolds(Ft, y, M), **opts)
        for f in GEOMETRY_FIELDS:
            out[f][i, t] = getattr(r, f)
        out["kkt_max"][i, t] = float(np.max(r.samples["kkt"]))
        K = Ft @ Ft.T
        out["label_alignment"][i, t] = kernel_alignment(K, onehot)
        out["label_alignment_centered"][i, t] = kernel_alignment(K, onehot, centered=True)
        if ok0:
            out["cka_to_init"][i, t] = linear_cka(F0, Ft)
            out["kernel_distance"][i, t] = feature_kernel_distance(F0, Ft)
        if G is not None and np.all(np.isfinite(G[t])):
            out["dlr"][i, t] = dlr(Ft, G[t], warn=False)


@key_first(3)
def geometry_over_sweep(key, ds, var: str, labels, *, outputs: str | None = "outputs",
                        M: int | None = None, **capacity_options):
    r"""Capacity, effective geometry and the other feature-learning metrics (weight change,
    :math:`\mathcal D_{LR}`, CKA and kernel distance to the initial features,
    representation–label alignment) for every (cell, step) of a sweep.

    Args:
        ds: a dataset from :func:`lazyrich.sims.sweep` holding recorded probe features ``var``
            (dims ``(…grid, step, var_dim0, var_dim1)``, from :func:`feature_probe`).
        var: the name of the feature variable.
        labels: class labels of the probe points, ``(n,)`` or one-hot ``(n, C)``.
        key: key of :func:`~lazyrich.geometry.mean_field_capacity`, the same for every cell and
            step (common random numbers: differences over training and across cells are far
            less noisy than the absolute values).
        outputs: name of the recorded raw outputs (:func:`output_probe`) for
            :math:`\mathcal D_{LR}`; ``None`` (or absent from ``ds``): no ``dlr``.
        M: points per class manifold (default: the smallest class; see :func:`probe_manifolds`).
        **capacity_options: passed to :func:`~lazyrich.geometry.mean_field_capacity` (``n_t``,
            ``ensemble``, ``center``, …).

    Returns:
        ``xarray.Dataset`` over the sweep's dims and ``step`` with ``capacity``,
        ``capacity_stderr``, ``radius`` (:math:`R_\text{eff}`), ``dimension``
        (:math:`D_\text{eff}`), ``center_alignment``, ``axis_alignment``,
        ``center_axis_alignment``, ``psi``, ``active_fraction``, ``kkt_max`` (the largest KKT
        residual of the anchor problems: solver accuracy); ``dlr``; ``cka_to_init``
        (linear CKA of :math:`\Phi_t` with :math:`\Phi_0`), ``kernel_distance``
        (:math:`1-\|\Phi_0^\top\Phi_t\|_F^2/(\|\Phi_0^\top\Phi_0\|_F\|\Phi_t^\top\Phi_t\|_F)`),
        ``label_alignment`` and ``label_alignment_centered``; plus the sweep's own per-step
        scalars (``loss``, ``test_loss``, ``accuracy``, scalar metrics such as
        ``weight_change``). Diverged (NaN) entries stay NaN.
    """
    import xarray as xr

    if var not in ds:
        raise ValueError(f"{var!r} is not a variable of the dataset (has {sorted(ds.data_vars)});"
                         f" record it with metrics={{{var!r}: feature_probe(...)}}")
    da = ds[var]
    fdims = (f"{var}_dim0", f"{var}_dim1")
    if "step" not in da.dims or any(d not in da.dims for d in fdims) or da.ndim < 3:
        raise ValueError(f"{var!r} must have dims (..., step, {fdims[0]}, {fdims[1]}): probe "
                         f"features of shape (n, N) at each step; got dims {da.dims}")
    steps = np.asarray(ds["step"].values)
    if steps[0] != 0:
        raise ValueError(f"the first logged step must be 0 (the initial features), got "
                         f"{steps[0]}; do not subset away step 0")
    grid = [d for d in da.dims if d not in ("step",) + fdims]
    da = da.transpose(*grid, "step", *fdims)
    shape = tuple(da.sizes[d] for d in grid)
    T, n, _ = da.shape[len(grid):]
    y = _labels_1d(labels, n)
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)
    F = np.asarray(da.values, dtype=np.float64).reshape((-1, T, n, da.shape[-1]))
    G = None
    if outputs is not None and outputs in ds:
        go = ds[outputs].transpose(*grid, "step", f"{outputs}_dim0", f"{outputs}_dim1")
        if go.shape[len(grid) + 1] != n:
            raise ValueError(f"{outputs!r} has {go.shape[len(grid) + 1]} probe points, {var!r} "
                             f"has {n}")
        G = np.asarray(go.values, dtype=np.float64).reshape((-1, T, n, go.shape[-1]))
    names = GEOMETRY_FIELDS + METRIC_FIELDS
    out = {f: np.full((F.shape[0], T), np.nan) for f in names}
    for i in range(F.shape[0]):
        _one_cell(F[i], None if G is None else G[i], y, onehot, key, M, capacity_options, out,
                  i)
    if G is None:
        del out["dlr"]
    dims = tuple(grid) + ("step",)
    data = {f: (dims, v.reshape(shape + (T,))) for f, v in out.items()}
    for k, v in ds.data_vars.items():  # the sweep's per-step scalars, alongside
        if k not in data and set(v.dims) == set(dims):
            data[k] = v.transpose(*dims)
    coords = {c: ds.coords[c] for c in ds.coords if set(ds.coords[c].dims) <= set(dims)}
    attrs = dict(ds.attrs)
    # JSON, so that reading the attribute back is parsing data, never evaluating it
    attrs["geometry"] = json.dumps({"var": var, "M": M, "P": int(classes.size),
                                    **capacity_options}, default=str)
    return xr.Dataset(data, coords=coords, attrs=attrs)
