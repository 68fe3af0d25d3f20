r"""Task sequences for two-layer linear networks: continual, reversal and transfer learning.

Dominé et al. 2025; Braun et al. 2022 (docs: Linear networks, "Task sequences"). The mechanism:
the balance matrix
:math:`W_2^\top W_2 - W_1W_1^\top = \lambda I` is conserved by the flow *whatever the task*, so the
weights at the end of task A are a valid λ-balanced initialisation for task B, and the same closed
form applies with :math:`\Sigma_{yx}\leftarrow\Sigma^B_{yx}`.

With whitened inputs the loss of task :math:`i` at any time is
:math:`\mathcal L_i(T) = \tfrac12\|W(T) - \Sigma_i\|_F^2 + c_i`, with the irreducible part
:math:`c_i = \tfrac12(\operatorname{tr}\Sigma^{(i)}_{yy} - \|\Sigma_i\|_F^2)`.
"""

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    dtype_of,
    require_finite,
    require_ndim,
    require_real,
    require_times,
    two_layer_dims,
)


def _irreducible_check(Syx, Syy_trace, name: str = "Syy_trace") -> None:
    r"""Raise unless :math:`\operatorname{tr}\Sigma_{yy} \ge \|\Sigma_{yx}\|_F^2` (concrete values).

    With whitened inputs :math:`\Sigma_{yy} - \Sigma_{yx}\Sigma_{yx}^\top` is a Schur complement of
    the joint covariance, hence PSD: the irreducible loss is ≥ 0. Round-off in statistics
    accumulated over many samples is allowed for by a relative slack of :math:`\sqrt\epsilon`.
    """
    if np.ndim(Syy_trace) != 0:
        raise ValueError(f"{name} must be a scalar (tr Sigma_yy), got shape {np.shape(Syy_trace)}")
    tr, S = concrete(Syy_trace), concrete(Syx)
    if tr is not None and not np.isfinite(tr):
        raise ValueError(f"{name} must be a finite number >= ||Syx||_F^2 (tr Sigma_yy), got {tr}")
    if tr is None or S is None:
        return
    fro2 = float(np.sum(np.asarray(S, np.float64) ** 2))
    slack = np.sqrt(np.finfo(np.float64).eps) * max(fro2, abs(float(tr)))
    if float(tr) < fro2 - slack:
        raise ValueError(f"{name} = {float(tr):.6g} must be >= ||Syx||_F^2 = {fro2:.6g}: with "
                         f"whitened inputs tr Sigma_yy - ||Sigma_yx||_F^2 is the irreducible "
                         f"loss (times 2) and cannot be negative")


def two_layer_loss(W, Syx, Syy_trace=None):
    r"""Loss of the network function ``W`` on a whitened task (docs: Linear networks, "Setting").

    .. math:: \mathcal L = \tfrac12\|W - \Sigma_{yx}\|_F^2 + \tfrac12(\operatorname{tr}\Sigma_{yy}
              - \|\Sigma_{yx}\|_F^2).

    Without ``Syy_trace`` the constant is dropped (the *excess* loss). ``W`` may carry leading
    (time) axes.

    Raises:
        ValueError: shapes, non-finite values, or :math:`\operatorname{tr}\Sigma_{yy} <
            \|\Sigma_{yx}\|_F^2` (a negative irreducible loss is impossible).
        TypeError: complex or boolean inputs.
    """
    require_real("W", W)
    require_real("Syx", Syx)
    require_ndim("Syx", Syx, 2, "shape (n_out, n_in)")
    if np.ndim(W) < 2 or np.shape(W)[-2:] != np.shape(Syx):
        raise ValueError(f"W's trailing shape {np.shape(W)[-2:]} must equal Syx's {np.shape(Syx)}")
    require_finite("W", W)
    require_finite("Syx", Syx)
    W = jnp.asarray(W)
    dt = W.dtype if jnp.issubdtype(W.dtype, jnp.floating) else jnp.result_type(float)
    W, Syx = W.astype(dt), jnp.asarray(Syx, dtype=dt)
    excess = 0.5 * jnp.sum((W - jnp.broadcast_to(Syx, np.shape(W))) ** 2, axis=(-2, -1))
    if Syy_trace is None:
        return excess
    require_real("Syy_trace", Syy_trace)
    _irreducible_check(Syx, Syy_trace)
    return excess + 0.5 * (jnp.asarray(Syy_trace, dtype=dt) - jnp.sum(Syx**2))


def predicted_forgetting(S_i, S_j, S_k):
    r"""Forgetting of task *i* when a converged network moves from task *j* to task *k*.

    .. math:: F_i = \mathcal L_i(\text{after }k) - \mathcal L_i(\text{after }j)
              = \tfrac12\left(\|\Sigma_k-\Sigma_i\|_F^2 - \|\Sigma_j-\Sigma_i\|_F^2\right).

    It depends only on task similarity, not on λ (Dominé et al. 2025; docs: Linear networks,
    "Task sequences"; tested by claim ``linear/C22-forgetting-independent-of-lambda``).
    All three are real, finite ``(n_out, n_in)`` matrices of one shape.
    """
    for name, S in (("S_i", S_i), ("S_j", S_j), ("S_k", S_k)):
        require_real(name, S)
        require_ndim(name, S, 2, "shape (n_out, n_in)")
        if np.shape(S) != np.shape(S_i):
            raise ValueError(f"{name} must have the shape of S_i {np.shape(S_i)}, got "
                             f"{np.shape(S)}")
        require_finite(name, S)
    dt = np.result_type(*(dtype_of(S) for S in (S_i, S_j, S_k)))
    dt = dt if np.issubdtype(dt, np.floating) else jnp.result_type(float)
    S_i, S_j, S_k = (jnp.asarray(s, dtype=dt) for s in (S_i, S_j, S_k))
    return 0.5 * (jnp.sum((S_k - S_i) ** 2) - jnp.sum((S_j - S_i) ** 2))


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["t", "task", "P", "losses", "W1_final", "W2_final"],
                   meta_fields=["n_in"])
@dataclasses.dataclass(frozen=True)
class TaskSequence:
    """Closed-form dynamics through a sequence of tasks.

    Attributes:
        t: global times, shape ``(n_tasks * n_t,)`` (each task's local grid shifted).
        task: index of the task being trained at each time, shape ``(n_tasks * n_t,)``.
        P: :math:`QQ^\\top` at each time, shape ``(n_tasks * n_t, n, n)``.
        losses: ``losses[:, i]`` is task *i*'s loss at each time (excess loss when no
            :math:`\\operatorname{tr}\\Sigma_{yy}` was given).
        W1_final, W2_final: a factor of the final P (valid weights for a further task).
    """

    t: jax.Array
    task: jax.Array
    P: jax.Array
    losses: jax.Array
    W1_final: jax.Array
    W2_final: jax.Array
    n_in: int

    @property
    def W(self):
        return self.P[:, self.n_in:, :self.n_in]

    @property
    def input_rep(self):
        return self.P[:, :self.n_in, :self.n_in]

    @property
    def output_rep(self):
        return self.P[:, self.n_in:, self.n_in:]

    def end_of_task(self, i: int) -> int:
        """Index into the time axis of the last time of task ``i`` (0 <= i < number of tasks)."""
        n_tasks = int(self.task[-1] + 1)
        if not isinstance(i, int | np.integer) or not 0 <= i < n_tasks:
            raise ValueError(f"i must be an integer task index in [0, {n_tasks}), got {i!r}")
        n_t = self.t.shape[0] // n_tasks
        return (int(i) + 1) * n_t - 1


def task_sequence(W1, W2, tasks: Sequence, t, *, Syy_traces=None, method: str = "auto"):
    r"""Train through ``tasks`` one after another with the exact solution.

    λ is conserved by the flow whatever the task, so the end of one task is a λ-balanced start
    for the next (docs: Linear networks, "Task sequences").

    Each task runs for the local times ``t`` (starting at 0; the last entry is its duration),
    starting from the weights at the end of the previous task. Reversal learning is
    ``tasks=[S, -S]``; transfer/fine-tuning is ``[S_A, S_B]``; continual learning any longer list.

    Args:
        W1, W2: λ-balanced initial weights.
        tasks: sequence of :math:`\Sigma_{yx}` matrices, all of shape ``(n_out, n_in)``.
        t: local time grid of each task, 1-D, non-decreasing, ``t[0] == 0``.
        Syy_traces: optional :math:`\operatorname{tr}\Sigma_{yy}` per task, for absolute losses.
        method: passed to :func:`lazyrich.theory.two_layer_linear`.
    """
    from ._exact import two_layer_linear

    if getattr(tasks, "ndim", None) == 2:   # one array, not a sequence of them
        raise ValueError(f"tasks must be a sequence of Syx matrices, got one 2-D array of shape "
                         f"{np.shape(tasks)}: wrap it in a list, tasks=[Syx]")
    if len(tasks) < 1:
        raise ValueError("tasks must contain at least one Syx matrix")
    n_i, n_h, _ = two_layer_dims(W1, W2, tasks[0])
    for k, S in enumerate(tasks):
        if np.shape(S) != np.shape(tasks[0]):
            raise ValueError(f"task {k} has Syx of shape {np.shape(S)}, expected "
                             f"{np.shape(tasks[0])}")
        require_finite(f"tasks[{k}]", S)
    require_times("t", t)
    t_np = np.asarray(t, dtype=float)
    if t_np.size == 0:
        raise ValueError("t must contain at least one time (each task's local time grid, t[0] = 0)")
    if t_np[0] != 0 or np.any(np.diff(t_np) < 0):
        raise ValueError("t must start at 0 and be non-decreasing (each task's local time grid)")
    if Syy_traces is not None:
        if len(Syy_traces) != len(tasks):
            raise ValueError(f"Syy_traces has {len(Syy_traces)} entries for {len(tasks)} tasks")
        for k, (S, tr) in enumerate(zip(tasks, Syy_traces, strict=True)):
            _irreducible_check(S, tr, f"Syy_traces[{k}]")

    Ps, times, idx = [], [], []
    w1, w2 = W1, W2
    for k, S in enumerate(tasks):
        sol = two_layer_linear(w1, w2, S, t, method=method)
        Ps.append(sol.P)
        times.append(t_np + k * t_np[-1])
        idx.append(np.full(len(t_np), k))
        w1s, w2s = sol.factor()  # λ-balanced weights (up to a hidden rotation) for the next task
        w1, w2 = w1s[-1], w2s[-1]
    P = jnp.concatenate(Ps)
    W = P[:, n_i:, :n_i]
    losses = jnp.stack(
        [two_layer_loss(W, S, None if Syy_traces is None else Syy_traces[k])
         for k, S in enumerate(tasks)], axis=-1)
    return TaskSequence(jnp.asarray(np.concatenate(times)), jnp.asarray(np.concatenate(idx)),
                        P, losses, w1, w2, n_i)


def random_task(key, n_in: int, n_out: int, singular_values, dtype=jnp.float64):
    r""":math:`\Sigma_{yx} = U\operatorname{diag}(s)V^\top` with Haar-random U, V (Saxe
    staircases use well-separated ``singular_values``).

    Args:
        key: a ``jax.random`` key (``jax.random.key(seed)``).
        n_in, n_out: positive integers.
        singular_values: :math:`\min(N_i, N_o)` finite values ≥ 0 (any order).
        dtype: a floating dtype.
    """
    for name, v in (("n_in", n_in), ("n_out", n_out)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {np.dtype(dtype).name}")
    require_real("singular_values", singular_values)
    m = min(n_in, n_out)
    if np.shape(singular_values) != (m,):
        raise ValueError(f"singular_values must have min(n_in, n_out) = {m} entries, "
                         f"got shape {np.shape(singular_values)}")
    sv = concrete(singular_values)
    if sv is not None and not np.all(np.isfinite(sv) & (sv >= 0)):
        raise ValueError(f"singular_values must be finite and >= 0 (the sign of a mode lives in "
                         f"U, V), got {np.asarray(sv).tolist()}")
    try:
        ku, kv = jax.random.split(key)
    except (TypeError, ValueError):
        raise TypeError(f"key must be a single jax.random key, e.g. jax.random.key(0), got "
                        f"{key!r}") from None
    s = jnp.asarray(singular_values, dtype=dtype)
    U = jnp.linalg.qr(jax.random.normal(ku, (n_out, n_out), dtype=dtype))[0]
    V = jnp.linalg.qr(jax.random.normal(kv, (n_in, n_in), dtype=dtype))[0]
    return (U[:, :m] * s[None, :]) @ V[:, :m].T
