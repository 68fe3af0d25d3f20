r"""Capacity and effective geometry through lazy and rich training of a two-layer network.

The experiment of Chou, Le, Wang and Chung (ICML 2025, arXiv 2503.18114, section 4): train the
centred, Chizat-scaled two-layer network (Chizat, Oyallon & Bach, "On Lazy Training in
Differentiable Programming", NeurIPS 2019)

.. math::
    f(x;\theta) = \frac{1}{\sqrt m}\,a^\top\sigma\!\Big(\frac{Wx}{\sqrt d}\Big),\qquad
    h_\alpha(x) = \alpha\,\big(f(x;\theta) - f(x;\theta_0)\big),\qquad
    L_\alpha(\theta) = \frac{1}{\alpha^2}\,\frac{1}{2n}\sum_i\|h_\alpha(x_i) - y_i\|^2,

by full-batch gradient descent with step :math:`\mathrm{lr}` on every parameter. The output
moves :math:`O(\mathrm{lr})` per step for every :math:`\alpha` while the parameters move
:math:`O(\mathrm{lr}/\alpha)`: large :math:`\alpha` is lazy (the NTK regime), small
:math:`\alpha` rich. The hidden representation :math:`\sigma(Wx/\sqrt d)` of held-out points of
each class is then measured by its manifold capacity and effective geometry (Chung, Lee &
Sompolinsky, "Classification and Geometry of General Perceptual Manifolds", PRX 8, 031003,
2018) at each logged step.

Training is the sweep engine's (:func:`lazyrich.sims.train`); this network is exactly its
two-layer MLP in the NTK parametrisation,

.. code-block:: python

    cfg = sims.SweepConfig(model="mlp", depth=2, width=m, parametrization="ntk",
                           task=sims.array_task(X, labels), full_batch=True, loss="mse",
                           dtype="float64", activation="relu", num_steps=T)
    result = sims.train(cfg, gamma=1 / alpha, eta=lr * C / (2 * alpha**2 * m),
                        keep_params=True)

because the engine's output is :math:`(g-g_0)/\gamma_\text{NTK}` with readout
:math:`1/\sqrt m`, its objective the mean of :math:`(f-y)^2` over samples *and* the :math:`C`
outputs (no :math:`\tfrac12`), and its step :math:`m\eta` on every layer: so
:math:`\gamma_\text{NTK} = 1/\alpha` and :math:`m\eta\cdot 2\alpha^2/C = \mathrm{lr}`. The
engine's weights are :math:`W_0 = W^\top` ``(d, m)`` and :math:`W_1 = a^\top` ``(m, C)``.

Here: :func:`cloud_task` (the Gaussian-cloud classification task), :func:`ntk_sharpness` (the
gradient-descent stability edge at initialisation), :func:`geometry_over_training` (capacity,
geometry and weight change at each logged step of a :class:`lazyrich.sims.TrainResult`) and
:func:`lazyrich.analysis.plot_geometry_over_training`. The former private trainer's names
(:class:`ChizatTwoLayer`, :class:`TwoLayerRun`, :func:`train_two_layer`) still work for one
release, on top of the same engine, with a :class:`DeprecationWarning`.
"""

import contextlib
import dataclasses
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ._capacity_mf import mean_field_capacity

#: Per-step fields of :func:`geometry_over_training` taken from :func:`mean_field_capacity`.
_FIELDS = ("capacity", "capacity_stderr", "radius", "dimension", "center_alignment",
           "axis_alignment", "center_axis_alignment", "psi")

_NEW_WAY = ("train with lazyrich.sims.train(sims.SweepConfig(model='mlp', depth=2, width=m, "
            "parametrization='ntk', task=sims.array_task(X, Y), full_batch=True, loss='mse', "
            "dtype='float64', num_steps=T), gamma=1/alpha, eta=lr*C/(2*alpha**2*m), "
            "keep_params=True) and measure with "
            "lazyrich.geometry.geometry_over_training(result, model, X_eval, key)")


def _deprecated(what: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{what} is deprecated and will be removed in the next release; {_NEW_WAY}",
                  DeprecationWarning, stacklevel=stacklevel)


# -- the task -----------------------------------------------------------------------------------

def cloud_task(key, P: int = 8, n_train: int = 20, n_test: int = 30, d: int = 40, D: int = 10,
               R: float = 2.0, dtype=jnp.float64):
    r"""The Gaussian-cloud classification task of the two-layer experiment (Chou et al. 2025,
    section 4): class :math:`\mu` is a unit-norm centre plus a ``D``-dimensional Gaussian cloud
    of RMS radius ``R`` in ``d`` dimensions (:func:`~lazyrich.geometry.gaussian_clouds`),

    .. math:: x_{\mu k} = u^0_\mu + \frac{R}{\sqrt D}\sum_{j=1}^D z_{jk}\,u^j_\mu .

    Returns:
        ``(X_train (P*n_train, d), Y_train (P*n_train, P), X_test (P, n_test, d))``: training
        points grouped by class with one-hot targets, and held-out points as ``P`` manifolds.
    """
    from ._manifolds import gaussian_clouds

    Xall = gaussian_clouds(key, P, n_train + n_test, d, D, R, dtype=dtype)
    Xtr = Xall[:, :n_train].reshape(P * n_train, d)
    Ytr = jnp.repeat(jnp.eye(P, dtype=dtype), n_train, axis=0)
    return Xtr, Ytr, Xall[:, n_train:]


# -- the stability edge -------------------------------------------------------------------------

def _inputs(name, x, min_ndim=2):
    x = np.asarray(x)
    if (x.dtype == bool or not np.issubdtype(x.dtype, np.number)
            or np.issubdtype(x.dtype, np.complexfloating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.ndim < min_ndim or 0 in x.shape:
        raise ValueError(f"{name} must have at least {min_ndim} non-empty axes, got shape "
                         f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _check_model(model, need: str):
    if not callable(getattr(model, need, None)):
        raise TypeError(f"model must be a lazyrich.sims model with {need}(params, x) (e.g. "
                        f"sims.resolve(cfg)[0]), got {type(model).__name__}")


def ntk_sharpness(model, params, x) -> float:
    r"""The gradient-descent stability edge of the network at ``params`` (usually
    :math:`\theta_0`), in the units of the Chizat objective :math:`L_\alpha`:

    .. math::
        \lambda = \frac{1}{n}\,\lambda_\max\big(JJ^\top\big),\qquad
        J = \frac{\partial\,\mathrm{vec}\,g(X;\theta)}{\partial\theta}\in\mathbb R^{nC\times P},

    the top eigenvalue of the Gauss–Newton Hessian :math:`J^\top J/n` of :math:`L_\alpha`
    (module docstring), which does not depend on :math:`\alpha`. Gradient descent on
    :math:`L_\alpha` with step :math:`\mathrm{lr}` is stable near :math:`\theta_0` for
    :math:`\mathrm{lr} < 2/\lambda` (Chizat, Oyallon & Bach 2019, section 3). In the sweep
    engine's NTK parametrisation (:math:`\gamma_\text{NTK} = 1/\alpha`, per-layer step
    :math:`m\eta`) that is :math:`\eta < C/(\alpha^2 m\lambda)`, since
    :math:`\mathrm{lr} = 2\alpha^2 m\eta/C`.

    :math:`JJ^\top` is the full empirical NTK (all output pairs) of the *uncentred* network
    ``model.apply`` (:func:`lazyrich.metrics.empirical_ntk`), diagonalised exactly on the host.

    Args:
        model: a :mod:`lazyrich.sims` model, e.g. ``sims.resolve(cfg)[0]``.
        params: its parameters, e.g. ``sims.train(...).params0``.
        x: the training inputs ``(n, ...)``.

    Returns:
        :math:`\lambda` (a float).
    """
    from threadpoolctl import threadpool_limits

    from lazyrich.metrics import empirical_ntk

    _check_model(model, "apply")
    x = _inputs("x", x)
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ValueError("params has no arrays")
    with jax.enable_x64(True):
        dt = jnp.result_type(*leaves)
        K = np.asarray(empirical_ntk(model.apply, params, jnp.asarray(x, dtype=dt),
                                     trace_outputs=False), dtype=np.float64)
    n = x.shape[0]
    K = K.reshape(n * K.shape[1], -1)
    with threadpool_limits(limits=1, user_api="blas"):  # faster and reproducible at this size
        return float(np.linalg.eigvalsh(K)[-1] / n)


# -- geometry over training ---------------------------------------------------------------------

def _weight_change(params, params0) -> float:
    d = sum(float(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
            for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params0), strict=True))
    n0 = sum(float(np.sum(np.asarray(b, np.float64) ** 2)) for b in jax.tree.leaves(params0))
    return float(np.sqrt(d / n0))


def _geometry(steps, params_log, params0, features, X_eval, key, mf_options) -> dict:
    X_eval = _inputs("X_eval", X_eval, min_ndim=3)
    P, M = X_eval.shape[:2]
    flat = X_eval.reshape(P * M, *X_eval.shape[2:])
    out = {f: [] for f in _FIELDS}
    change = []
    fn = jax.jit(features)
    with jax.enable_x64(True):
        dt = jnp.result_type(*jax.tree.leaves(params0))
        xs = jnp.asarray(flat, dtype=dt)
        for i in range(len(steps)):
            p = jax.tree.map(lambda a, i=i: a[i], params_log)
            H = np.asarray(fn(p, xs), dtype=np.float64).reshape(P, M, -1)
            r = mean_field_capacity(key, H, **mf_options)
            for f in _FIELDS:
                out[f].append(getattr(r, f))
            change.append(_weight_change(p, params0))
    res = {f: np.asarray(v) for f, v in out.items()}
    res["weight_change"] = np.asarray(change)
    res["step"] = np.asarray(steps)
    return res


def geometry_over_training(key, result=None, model=None, X_eval=None, **mf_options) -> dict:
    r"""Capacity, effective geometry and weight change of the features at each logged step.

    At every logged step :math:`t` the features :math:`\Phi_t = \Phi(x;\theta_t)` (the input of
    the readout, ``model.features``; :math:`\sigma(Wx/\sqrt d)` for the two-layer network) of
    the evaluation manifolds go through :func:`~lazyrich.geometry.mean_field_capacity` with the
    same ``key`` (common random numbers: differences over training are much less noisy than
    the absolute values), giving the capacity :math:`\alpha_M` and the effective radius,
    dimension and alignments of Chung, Lee & Sompolinsky (2018); and the relative weight change
    :math:`\|\theta_t-\theta_0\|/\|\theta_0\|` over all parameters (O(1/α) in the lazy regime,
    Chizat, Oyallon & Bach 2019, Theorem 2.3).

    Args:
        key: key of the mean-field estimator, reused at every step.
        result: a :class:`lazyrich.sims.TrainResult` from ``sims.train(...,
            keep_params=True)`` (its ``params_log`` has a leading step axis).
        model: the model it trained, ``sims.resolve(cfg)[0]`` (needs ``features(params, x)``:
            the built-in MLP and ConvNet have it).
        X_eval: evaluation inputs as manifolds ``(P, M, ...)`` (e.g. held-out points per
            class; :func:`cloud_task`'s ``X_test``).
        **mf_options: passed to :func:`~lazyrich.geometry.mean_field_capacity` (e.g. ``n_t``).

    Returns:
        dict of NumPy arrays over the logged steps: ``step``, ``capacity``,
        ``capacity_stderr``, ``radius``, ``dimension``, ``center_alignment``,
        ``axis_alignment``, ``center_axis_alignment``, ``psi``, ``weight_change``.

    The deprecated form ``geometry_over_training(run, X_eval, key, activation=...)`` with a
    :class:`TwoLayerRun` still works for one release.
    """
    from lazyrich import sims

    if isinstance(key, TwoLayerRun):  # the deprecated form (run, X_eval, key)
        _deprecated("geometry_over_training(TwoLayerRun, X_eval, key)")
        result, rest = key, [a for a in (result, model, X_eval) if a is not None]
        if len(rest) != 2:
            raise TypeError("geometry_over_training(run, X_eval, key) with a TwoLayerRun takes "
                            "X_eval and key")
        activation = mf_options.pop("activation", "relu")
        _act(activation)
        W, a = np.asarray(result.W), np.asarray(result.a)
        mlp = sims.MLP(2, W.shape[1], W.shape[2], a.shape[1], activation, readout="ntk")
        log = {"w": (W.transpose(0, 2, 1), a.transpose(0, 2, 1))}
        p0 = {"w": (W[0].T, a[0].T)}
        return _geometry(result.steps, log, p0, mlp.features, rest[0], rest[1], mf_options)
    if isinstance(key, sims.TrainResult):
        raise TypeError("the key comes first: geometry_over_training(key, result, model, "
                        "X_eval)")
    if not isinstance(result, sims.TrainResult):
        raise TypeError(f"result must be a lazyrich.sims.TrainResult (sims.train(..., "
                        f"keep_params=True)), got {type(result).__name__}")
    if result.params_log is None:
        raise ValueError("result has no parameters over training: train with "
                         "sims.train(..., keep_params=True)")
    if result.diverged:
        raise ValueError(f"the run diverged at step {result.diverged_step}: its parameters "
                         f"stopped there, so its geometry after that step would be meaningless")
    if model is None or X_eval is None or key is None:
        raise TypeError("geometry_over_training(key, result, model, X_eval) needs key, model "
                        "and X_eval")
    _check_model(model, "features")
    n_log = {int(np.shape(a)[0]) for a in jax.tree.leaves(result.params_log)}
    if n_log != {len(result.steps)}:
        raise ValueError(f"result.params_log must have a leading axis over the "
                         f"{len(result.steps)} logged steps, got lengths {sorted(n_log)}")
    return _geometry(result.steps, result.params_log, result.params0, model.features, X_eval,
                     key, mf_options)


# -- deprecated: the former private trainer's API, on top of lazyrich.sims ----------------------

def _act(name):
    from lazyrich.theory import get_activation

    if name not in ("relu", "tanh"):
        raise ValueError(f"activation must be 'relu' or 'tanh', got {name!r}")
    return get_activation(name)


def hidden_features(W, X, activation: str = "relu"):
    r"""Hidden representation :math:`\sigma(Wx/\sqrt d)` of inputs ``X (..., d)`` for a first
    layer in the layout :math:`W\in\mathbb R^{m\times d}` of :class:`TwoLayerRun`:
    ``(..., m)``. (For a :mod:`lazyrich.sims` run use ``model.features``.)"""
    return _act(activation)(X @ W.T / math.sqrt(W.shape[-1]))  # a weak-typed scalar


@dataclasses.dataclass(frozen=True)
class ChizatTwoLayer:
    """Deprecated hyperparameters of :func:`train_two_layer` (use :func:`lazyrich.sims.train`
    with the configuration in the module docstring).

    Attributes:
        alpha: Chizat scale :math:`\\alpha`.
        lr: gradient-descent step on :math:`L_\\alpha` (keep below 2/:func:`ntk_sharpness`).
        width: hidden units :math:`m`.
        num_steps: number of GD steps.
        log_steps: steps at which parameters are kept, a sorted tuple within
            ``[0, num_steps]``.
        activation: ``"relu"`` or ``"tanh"``.
    """

    alpha: float
    lr: float
    width: int = 256
    num_steps: int = 1000
    log_steps: tuple = (0, 1000)
    activation: str = "relu"

    def __post_init__(self):
        _deprecated("lazyrich.geometry.ChizatTwoLayer", stacklevel=4)


@dataclasses.dataclass(frozen=True)
class TwoLayerRun:
    """Deprecated result of :func:`train_two_layer`: parameters at ``steps`` (leading axis) and
    the training loss at every step (a :class:`lazyrich.sims.TrainResult` replaces it).

    Attributes:
        steps: the logged steps (tuple). W: ``(n_log, m, d)``. a: ``(n_log, C, m)``.
        loss: :math:`L_\\alpha` before each step, ``(num_steps,)``.
    """

    steps: tuple
    W: jax.Array
    a: jax.Array
    loss: jax.Array

    def __post_init__(self):
        _deprecated("lazyrich.geometry.TwoLayerRun", stacklevel=4)

    @classmethod
    def _quiet(cls, **fields):
        """Built by :func:`train_two_layer`, which has already warned once."""
        run = object.__new__(cls)
        for k, v in fields.items():
            object.__setattr__(run, k, v)
        return run


def train_two_layer(key, hp: ChizatTwoLayer, X, Y) -> TwoLayerRun:
    r"""Deprecated: full-batch GD on the Chizat-scaled, centred two-layer network.

    Runs :func:`lazyrich.sims.train` on the network of the module docstring with the former
    trainer's initialisation drawn from ``key`` (:math:`W` ``(m, d)`` then :math:`a` ``(C, m)``,
    standard normal, from ``jax.random.split(key)``), so it returns what the former trainer
    returned, up to round-off. Differences: it is no longer traceable (``hp`` must hold
    numbers, not tracers), and a run that diverges is stopped by the engine (its later values
    are NaN). New code: :func:`lazyrich.sims.train` with the configuration in the module
    docstring (its initialisation comes from an integer seed).

    Args:
        key: PRNG key of the initialisation.
        hp: :class:`ChizatTwoLayer`.
        X: training inputs ``(n, d)``. Y: targets ``(n, C)`` (e.g. one-hot).

    Returns:
        :class:`TwoLayerRun` with the parameters at ``hp.log_steps``.
    """
    from lazyrich import sims

    _deprecated("lazyrich.geometry.train_two_layer")
    X = np.asarray(X)
    Y = np.asarray(Y, dtype=X.dtype)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X must be (n, d) and Y (n, C) with the same n, got {X.shape}, {Y.shape}")
    steps = tuple(int(s) for s in hp.log_steps)
    if list(steps) != sorted(set(steps)) or steps[0] < 0 or steps[-1] > hp.num_steps:
        raise ValueError(f"log_steps must be sorted, distinct and within [0, num_steps="
                         f"{hp.num_steps}], got {hp.log_steps}")
    _act(hp.activation)
    d, m, C = X.shape[1], int(hp.width), Y.shape[1]
    dtype = "float64" if X.dtype == np.float64 else "float32"
    with jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext():
        k1, k2 = jax.random.split(key)
        W0 = np.asarray(jax.random.normal(k1, (m, d), dtype=dtype))
        a0 = np.asarray(jax.random.normal(k2, (C, m), dtype=dtype))

    def init(_key, dt):  # the former initialisation, whatever key the engine passes
        return {"W": jnp.asarray(W0, dtype=dt), "a": jnp.asarray(a0, dtype=dt)}

    def apply(p, x):
        return hidden_features(p["W"], x, hp.activation) @ p["a"].T / math.sqrt(m)

    # The engine's "chizat" convention: output alpha*(g - g0), objective alpha^-2 * mean over
    # samples and outputs of (f - y)^2 = (2/C) L_alpha, step tau (width=1): tau = lr*C/2.
    model = sims.from_apply(apply, init, width=1, name="chizat-two-layer")
    cfg = sims.SweepConfig(model=model, task=sims.array_task(X, Y), full_batch=True, loss="mse",
                           num_steps=int(hp.num_steps), log_every=1, parametrization="chizat",
                           dtype=dtype)
    alpha, lr = float(hp.alpha), float(hp.lr)
    r = sims.train(cfg, gamma=alpha, eta=lr * C / 2, keep_params=True)
    idx = np.asarray(steps)
    W = r.params_log["W"][idx]
    a = r.params_log["a"][idx]
    loss = r.loss[:-1] * C / (2 * alpha**2)  # mean (f - y)^2 -> L_alpha, before each step
    return TwoLayerRun._quiet(steps=steps, W=W, a=a, loss=loss)
