r"""Capacity and effective geometry through lazy and rich training of a 2-layer network.

Spec: manifold-capacity.md §4.1 (Chizat–Oyallon–Bach scaling), §4.3 (2-layer toy, claim C12),
§4.8 (weight change), Appendix B (training loop).

The network :math:`f(x;\theta) = a^\top\sigma(Wx/\sqrt d)/\sqrt m` is centered and scaled:
:math:`h_\alpha(x) = \alpha\,(f(x;\theta) - f(x;\theta_0))`, trained by full-batch gradient
descent on :math:`L_\alpha(\theta) = \frac{1}{\alpha^2}\,\frac1{2n}\sum_i\|h_\alpha(x_i) - y_i\|^2`.
The output moves :math:`O(\eta)` per step for every :math:`\alpha` while the parameters move
:math:`O(\eta/\alpha)`: large :math:`\alpha` is lazy (NTK regime), small :math:`\alpha` rich.

This is a small self-contained trainer (one run, ``lax.scan``, parameters kept at chosen steps;
``vmap`` over :math:`\alpha`/:math:`\eta`). It should move onto the sweep engine of
``lazyrich.sims`` once that exists; the geometry helpers below only need hidden features.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._capacity_mf import mean_field_capacity


@functools.partial(jax.tree_util.register_dataclass, data_fields=["alpha", "lr"],
                   meta_fields=["width", "num_steps", "log_steps", "activation"])
@dataclasses.dataclass(frozen=True)
class ChizatTwoLayer:
    """Hyperparameters of :func:`train_two_layer` (``alpha``, ``lr`` may be traced/vmapped).

    Attributes:
        alpha: Chizat scale :math:`\\alpha` (feature-learning strength
            :math:`\\bar\\eta=\\eta/\\alpha`).
        lr: gradient-descent step :math:`\\eta` (keep below 2/sharpness of the NTK loss).
        width: hidden units :math:`m` (static).
        num_steps: number of GD steps (static).
        log_steps: steps at which parameters are kept, a sorted tuple within
            ``[0, num_steps]`` (static).
        activation: ``"relu"`` or ``"tanh"`` (static).
    """

    alpha: float
    lr: float
    width: int = 256
    num_steps: int = 1000
    log_steps: tuple = (0, 1000)
    activation: str = "relu"


@functools.partial(jax.tree_util.register_dataclass, data_fields=["W", "a", "loss"],
                   meta_fields=["steps"])
@dataclasses.dataclass(frozen=True)
class TwoLayerRun:
    """Parameters at ``steps`` (leading axis) and the training loss at every step.

    Attributes:
        steps: the logged steps (tuple). W: ``(n_log, m, d)``. a: ``(n_log, C, m)``.
        loss: :math:`L_\\alpha` before each step, ``(num_steps,)``.
    """

    steps: tuple
    W: jax.Array
    a: jax.Array
    loss: jax.Array


def _act(name):
    from lazyrich.theory import get_activation

    if name not in ("relu", "tanh"):
        raise ValueError(f"activation must be 'relu' or 'tanh', got {name!r}")
    return get_activation(name)


def hidden_features(W, X, activation: str = "relu"):
    r"""Hidden representation :math:`\sigma(Wx/\sqrt d)` of inputs ``X (..., d)``: ``(..., m)``."""
    return _act(activation)(X @ W.T / np.sqrt(W.shape[-1]))


def _f(W, a, X, activation):
    return hidden_features(W, X, activation) @ a.T / np.sqrt(W.shape[0])


def init_two_layer(key, d: int, width: int, n_out: int, dtype=jnp.float64):
    """Standard-normal first layer ``(m, d)`` and readout ``(C, m)`` (NTK parametrization)."""
    k1, k2 = jax.random.split(key)
    return (jax.random.normal(k1, (width, d), dtype=dtype),
            jax.random.normal(k2, (n_out, width), dtype=dtype))


@jax.jit
def _train(key, hp: ChizatTwoLayer, X, Y):
    W0, a0 = init_two_layer(key, X.shape[1], hp.width, Y.shape[1], X.dtype)
    f0 = _f(W0, a0, X, hp.activation)
    alpha = jnp.asarray(hp.alpha, X.dtype)
    lr = jnp.asarray(hp.lr, X.dtype)

    def loss(params):
        W, a = params
        h = alpha * (_f(W, a, X, hp.activation) - f0)
        return 0.5 * jnp.mean(jnp.sum((h - Y) ** 2, axis=1)) / alpha**2

    logs = jnp.asarray(hp.log_steps)
    n_log = len(hp.log_steps)
    buf0 = (jnp.zeros((n_log,) + W0.shape, X.dtype), jnp.zeros((n_log,) + a0.shape, X.dtype))

    def save(buf, params, i):
        hit = logs == i
        return tuple(jnp.where(hit.reshape((-1,) + (1,) * p.ndim), p[None], b)
                     for b, p in zip(buf, params, strict=True))

    def step(carry, i):
        params, buf = carry
        buf = save(buf, params, i)
        val, g = jax.value_and_grad(loss)(params)
        params = jax.tree.map(lambda p, gp: p - lr * gp, params, g)
        return (params, buf), val

    (params, buf), losses = jax.lax.scan(step, ((W0, a0), buf0), jnp.arange(hp.num_steps))
    buf = save(buf, params, hp.num_steps)
    return buf[0], buf[1], losses


def train_two_layer(key, hp: ChizatTwoLayer, X, Y) -> TwoLayerRun:
    r"""Full-batch GD on the Chizat-scaled, centered 2-layer network (one run; §4.1, App. B).

    Args:
        key: PRNG key of the initialization (same key => same :math:`\theta_0` for every
            :math:`\alpha`, so lazy and rich runs start from the same features).
        hp: :class:`ChizatTwoLayer`.
        X: training inputs ``(n, d)``. Y: targets ``(n, C)`` (e.g. one-hot).

    Returns:
        :class:`TwoLayerRun` with the parameters at ``hp.log_steps``.
    """
    X = jnp.asarray(X)
    Y = jnp.asarray(Y, dtype=X.dtype)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X must be (n, d) and Y (n, C) with the same n, got {X.shape}, {Y.shape}")
    steps = tuple(int(s) for s in hp.log_steps)
    if list(steps) != sorted(set(steps)) or steps[0] < 0 or steps[-1] > hp.num_steps:
        raise ValueError(f"log_steps must be sorted, distinct and within [0, num_steps="
                         f"{hp.num_steps}], got {hp.log_steps}")
    _act(hp.activation)
    hp = dataclasses.replace(hp, log_steps=steps)
    W, a, loss = _train(key, hp, X, Y)
    return TwoLayerRun(steps, W, a, loss)


def ntk_sharpness(key, X, width: int, n_out: int, activation: str = "relu") -> float:
    r"""Largest eigenvalue of the Gauss–Newton Hessian :math:`J^\top J/n` of the loss at
    initialization (α-independent under the Chizat scaling); GD is stable for
    :math:`\eta < 2/\lambda_\max`."""
    from threadpoolctl import threadpool_limits

    G = np.asarray(_ntk_gram(key, jnp.asarray(X), width, n_out, activation))
    with threadpool_limits(limits=1, user_api="blas"):
        return float(np.linalg.eigvalsh(G)[-1] / np.shape(X)[0])


@functools.partial(jax.jit, static_argnames=("width", "n_out", "activation"))
def _ntk_gram(key, X, width, n_out, activation):
    r"""Empirical NTK Gram matrix :math:`JJ^\top` of the outputs at initialization."""
    W0, a0 = init_two_layer(key, X.shape[1], width, n_out, X.dtype)
    J = jax.jacrev(lambda p: _f(p[0], p[1], X, activation).ravel())((W0, a0))
    J = jnp.concatenate([j.reshape(j.shape[0], -1) for j in J], axis=1)
    return J @ J.T


def geometry_over_training(run: TwoLayerRun, X_eval, key, *, activation: str = "relu",
                           **mf_options) -> dict:
    r"""Capacity, effective geometry and weight change of the hidden layer at each logged step.

    Args:
        run: :class:`TwoLayerRun` (one run, no leading batch axis).
        X_eval: evaluation inputs as manifolds ``(P, M, d)`` (e.g. test points per class).
        key: key of the mean-field estimator, reused at every step (common random numbers:
            differences over training are much less noisy than the absolute values, §6).
        **mf_options: passed to :func:`mean_field_capacity`.

    Returns:
        dict of NumPy arrays over steps: ``step``, ``capacity``, ``capacity_stderr``, ``radius``,
        ``dimension``, ``center_alignment``, ``axis_alignment``, ``center_axis_alignment``,
        ``psi``, ``weight_change`` (:math:`\|\theta_t-\theta_0\|/\|\theta_0\|`).
    """
    # Host NumPy from here on: a handful of small matmuls per step; eager JAX would compile
    # each op for each new shape.
    X_eval = np.asarray(X_eval)
    Ws, As = np.asarray(run.W), np.asarray(run.a)
    act = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}[activation]
    fields = ("capacity", "capacity_stderr", "radius", "dimension", "center_alignment",
              "axis_alignment", "center_axis_alignment", "psi")
    out = {f: [] for f in fields}
    th0 = np.sqrt(np.sum(Ws[0] ** 2) + np.sum(As[0] ** 2))
    change = []
    for i in range(len(run.steps)):
        H = act(X_eval @ Ws[i].T / np.sqrt(Ws.shape[-1]))
        r = mean_field_capacity(H, key, **mf_options)
        for f in fields:
            out[f].append(getattr(r, f))
        change.append(np.sqrt(np.sum((Ws[i] - Ws[0]) ** 2) + np.sum((As[i] - As[0]) ** 2)) / th0)
    res = {f: np.asarray(v) for f, v in out.items()}
    res["weight_change"] = np.asarray(change)
    res["step"] = np.asarray(run.steps)
    return res


def cloud_task(key, P: int = 8, n_train: int = 20, n_test: int = 30, d: int = 40, D: int = 10,
               R: float = 2.0, dtype=jnp.float64):
    r"""The Gaussian-cloud classification task of §4.3: class :math:`\mu` is a unit-norm center
    plus a ``D``-dim Gaussian cloud of RMS radius ``R`` in ``d`` dims; one-hot targets.

    Returns:
        ``(X_train (P*n_train, d), Y_train (P*n_train, P), X_test (P, n_test, d))``.
    """
    from ._manifolds import gaussian_clouds

    Xall = gaussian_clouds(key, P, n_train + n_test, d, D, R, dtype=dtype)
    Xtr = Xall[:, :n_train].reshape(P * n_train, d)
    Ytr = jnp.repeat(jnp.eye(P, dtype=dtype), n_train, axis=0)
    return Xtr, Ytr, Xall[:, n_train:]


def plot_geometry_over_training(results: dict, *, axes=None):
    """Plot capacity and each effective measure against step (log x), one line per run.

    Args:
        results: ``{label: geometry_over_training(...) dict}``.
        axes: optional array of 6 matplotlib axes.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    names = [("capacity", "capacity"), ("radius", "R_eff"), ("dimension", "D_eff"),
             ("center_alignment", "center align."), ("axis_alignment", "axis align."),
             ("center_axis_alignment", "center-axis align.")]
    if axes is None:
        fig, axes = plt.subplots(2, 3, figsize=(11, 6), constrained_layout=True)
    axes = np.asarray(axes).ravel()
    fig = axes[0].figure
    for label, res in results.items():
        x = np.maximum(res["step"], 0.5)  # step 0 drawn at 0.5 on the log axis
        for ax, (key, title) in zip(axes, names, strict=True):
            ax.plot(x, res[key], marker="o", ms=3, label=str(label))
            ax.set_xscale("log")
            ax.set_title(title)
            ax.set_xlabel("step")
    axes[0].legend(fontsize=8)
    return fig
