r"""Reference simulators for two-layer linear networks (docs: Linear networks, "Setting").

Both use the conventions of the closed forms: loss
:math:`\mathcal L = \frac{1}{2P}\|W_2W_1X - Y\|_F^2`, which depends on the data only through
:math:`\Sigma_{xx} = XX^\top/P` and :math:`\Sigma_{yx} = YX^\top/P`, and dimensionless time
:math:`T = t/\tau = \eta\cdot\text{steps}`. The flow is

.. math::
    \dot W_1 = W_2^\top(\Sigma_{yx} - W_2W_1\Sigma_{xx}),\qquad
    \dot W_2 = (\Sigma_{yx} - W_2W_1\Sigma_{xx})W_1^\top .

:func:`gd_two_layer` is its forward-Euler discretisation (full-batch gradient descent), written
for one run and batched with ``jax.vmap`` over initialisations and learning rates;
:func:`ode_two_layer` integrates the flow with scipy's DOP853 and is the independent
reference of the test suite and of the ``linear/`` claims.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    require_finite,
    require_positive,
    require_real,
    require_times,
    two_layer_dims,
)


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["t", "W1", "W2", "diverged", "diverged_step"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class LinearTrajectory:
    """Weights of a two-layer linear network at times ``t`` (leading axis: time).

    Attributes:
        t: times :math:`T = \\eta\\cdot\\text{steps}`, shape ``(n_t,)``.
        W1: shape ``(n_t, n_hidden, n_in)``.
        W2: shape ``(n_t, n_out, n_hidden)``.
        diverged: True if gradient descent produced a non-finite weight (NaN or ±inf) at some
            step (η above the stability edge); always False for the ODE, which raises instead.
        diverged_step: the first step whose weights are non-finite, −1 if none. Every saved
            point at a step ≥ ``diverged_step`` (times ≥ η·diverged_step) holds non-finite
            weights and must not be used. Batched like ``t`` under ``vmap``.
    """

    t: jax.Array
    W1: jax.Array
    W2: jax.Array
    diverged: jax.Array | bool = False
    diverged_step: jax.Array | int = -1

    @property
    def W(self):
        """Network function :math:`W_2W_1`, shape ``(n_t, n_out, n_in)``."""
        return self.W2 @ self.W1

    @property
    def input_rep(self):
        """Input-side representation :math:`W_1^\\top W_1`, shape ``(n_t, n_in, n_in)``."""
        return jnp.swapaxes(self.W1, -1, -2) @ self.W1

    @property
    def output_rep(self):
        """Output-side representation :math:`W_2W_2^\\top`, shape ``(n_t, n_out, n_out)``."""
        return self.W2 @ jnp.swapaxes(self.W2, -1, -2)

    @property
    def P(self):
        """:math:`P = QQ^\\top` with :math:`Q = [W_1^\\top; W_2]` (docs: Linear networks),
        gauge-invariant."""
        Q = jnp.concatenate([jnp.swapaxes(self.W1, -1, -2), self.W2], axis=-2)
        return Q @ jnp.swapaxes(Q, -1, -2)

    @property
    def balance(self):
        """:math:`W_2^\\top W_2 - W_1W_1^\\top`, conserved by the flow (docs: Linear networks)."""
        return jnp.swapaxes(self.W2, -1, -2) @ self.W2 - self.W1 @ jnp.swapaxes(self.W1, -1, -2)


def _grads(W1, W2, Syx, Sxx):
    E = Syx - (W2 @ W1 if Sxx is None else W2 @ W1 @ Sxx)
    return W2.T @ E, E @ W1.T


@functools.partial(jax.jit, static_argnames=("num_steps", "save_every"))
def _gd(W1, W2, Syx, Sxx, eta, num_steps, save_every):
    def step(carry, _):
        a, b, div, div_step, i = carry
        g1, g2 = _grads(a, b, Syx, Sxx)
        a, b = a + eta * g1, b + eta * g2
        bad = ~(jnp.all(jnp.isfinite(a)) & jnp.all(jnp.isfinite(b)))
        div_step = jnp.where(bad & ~div, i + 1, div_step)   # weights after step i + 1
        return (a, b, div | bad, div_step, i + 1), None

    def block(carry, _):
        carry, _ = jax.lax.scan(step, carry, None, length=save_every)
        return carry, carry[:2]

    init = (W1, W2, jnp.asarray(False), jnp.asarray(-1, jnp.int32), jnp.asarray(0, jnp.int32))
    (_, _, div, div_step, _), (w1s, w2s) = jax.lax.scan(block, init, None,
                                                        length=num_steps // save_every)
    w1s = jnp.concatenate([W1[None], w1s])
    w2s = jnp.concatenate([W2[None], w2s])
    steps = jnp.arange(num_steps // save_every + 1, dtype=W1.dtype) * save_every
    return LinearTrajectory(eta * steps, w1s, w2s, div, div_step)


def _check_linear_inputs(W1, W2, Syx, Sxx) -> tuple[int, int, int]:
    """Shared checks of the two simulators: real, non-empty, finite, matching shapes; Sxx a
    covariance (symmetric PSD to a relative sqrt(eps), concrete values only)."""
    for name, x in (("W1", W1), ("W2", W2), ("Syx", Syx)) + ((("Sxx", Sxx),) if Sxx is not None
                                                             else ()):
        require_real(name, x)
    n_i, n_h, n_o = two_layer_dims(W1, W2, Syx)
    for name, n in (("n_in", n_i), ("n_hidden", n_h), ("n_out", n_o)):
        if n < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={n} (an empty weight matrix)")
    if Sxx is not None:
        if np.shape(Sxx) != (n_i, n_i):
            raise ValueError(f"Sxx must have shape (n_in, n_in) = ({n_i}, {n_i}), got "
                             f"{np.shape(Sxx)}")
        require_finite("Sxx", Sxx)
        v = concrete(Sxx)
        if v is not None:
            dt = v.dtype if np.issubdtype(v.dtype, np.floating) else np.dtype(np.float64)
            v = np.asarray(v, dtype=np.float64)
            # round-off of a covariance X Xᵀ/P accumulated in dtype: sqrt(eps) relative is generous
            tol = np.sqrt(np.finfo(dt).eps) * float(np.max(np.abs(v)))
            asym = float(np.max(np.abs(v - v.T)))
            low = float(np.linalg.eigvalsh(0.5 * (v + v.T))[0])
            if asym > tol or low < -tol:
                raise ValueError(f"Sxx must be a covariance, symmetric positive semi-definite; "
                                 f"got max|Sxx - Sxx^T| = {asym:.3g} and smallest eigenvalue "
                                 f"{low:.3g} (tolerance {tol:.3g})")
    return n_i, n_h, n_o


def gd_two_layer(W1, W2, Syx, eta, num_steps: int, *, Sxx=None, save_every: int = 1):
    r"""Full-batch gradient descent on :math:`\frac{1}{2P}\|W_2W_1X-Y\|^2`, one run.

    Update: :math:`W_1 \mathrel{+}= \eta W_2^\top E`, :math:`W_2 \mathrel{+}= \eta E W_1^\top`,
    :math:`E = \Sigma_{yx} - W_2W_1\Sigma_{xx}`. Memory is O(number of saved points): an outer
    ``lax.scan`` over saves wraps an inner one over ``save_every`` steps.

    Divergence is reported, not hidden: above the stability edge
    (:math:`\eta\,\lambda_{\max}(\nabla^2\mathcal L) > 2`) the weights grow geometrically and
    overflow. Every step is checked, and the result's ``diverged`` / ``diverged_step`` say
    whether and when a weight became non-finite. A run that grows but is still finite at
    ``num_steps`` is not flagged: look at its loss.

    Args:
        W1, W2: initial weights, shapes ``(n_hidden, n_in)`` and ``(n_out, n_hidden)``, real
            (integers are promoted to the default float). The run uses W1's floating dtype.
        Syx: :math:`\Sigma_{yx}`, shape ``(n_out, n_in)``.
        eta: learning rate, a scalar > 0 (may be traced, so ``vmap`` over it works).
        num_steps: number of steps, a multiple of ``save_every``.
        Sxx: :math:`\Sigma_{xx}` (default identity: whitened inputs), a covariance: symmetric
            positive semi-definite ``(n_in, n_in)``.
        save_every: keep the weights every this many steps (and at step 0).

    Returns:
        :class:`LinearTrajectory` at times :math:`T = \eta\cdot\{0, k, 2k, \dots\}`, with
        ``diverged`` and ``diverged_step``.
    """
    _check_linear_inputs(W1, W2, Syx, Sxx)
    if not isinstance(num_steps, int | np.integer) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    if not isinstance(save_every, int | np.integer) or save_every < 1 or num_steps % save_every:
        raise ValueError(f"save_every must be a positive divisor of num_steps={num_steps}, "
                         f"got {save_every!r}")
    require_real("eta", eta)
    if np.ndim(eta) != 0:
        raise ValueError(f"eta must be a scalar > 0 (use jax.vmap over eta for several), got shape "
                         f"{np.shape(eta)}")
    require_positive("eta", eta)
    W1 = jnp.asarray(W1)
    if not jnp.issubdtype(W1.dtype, jnp.floating):   # integer weights: an integer eta would be 0
        W1 = W1.astype(jnp.result_type(float))
    dt = W1.dtype
    cast = lambda a: None if a is None else jnp.asarray(a, dtype=dt)  # noqa: E731
    return _gd(W1, cast(W2), cast(Syx), cast(Sxx), jnp.asarray(eta, dtype=dt),
               int(num_steps), int(save_every))


def ode_two_layer(W1, W2, Syx, t, *, Sxx=None, rtol: float = 1e-12, atol: float = 1e-12,
                  method: str = "DOP853"):
    r"""Integrate the gradient flow with ``scipy.integrate.solve_ivp`` in float64.

    The test suite's independent reference (DOP853 at rtol = atol = 1e-12). Works for
    any :math:`\Sigma_{xx}`, balanced or not, so it is also the fallback for non-whitened data.

    Args:
        W1, W2, Syx: as in :func:`gd_two_layer`.
        t: non-negative times :math:`T`, shape ``(n_t,)``, non-decreasing, at least one.
        Sxx: input covariance (default identity), symmetric positive semi-definite.
        rtol, atol: scipy tolerances, finite and > 0.
        method: a ``solve_ivp`` method name.

    Returns:
        :class:`LinearTrajectory` of NumPy float64 arrays at ``t`` (``diverged`` is False).

    Raises:
        ValueError: bad shapes, values or tolerances (a NaN tolerance would make scipy loop
            forever). RuntimeError: the integrator fails.
    """
    from scipy.integrate import solve_ivp

    n_i, n_h, n_o = _check_linear_inputs(W1, W2, Syx, Sxx)
    require_real("t", t)
    require_times("t", t)
    t = np.asarray(t, dtype=np.float64)
    if t.size == 0:
        raise ValueError("t must contain at least one time")
    if np.any(np.diff(t) < 0):
        raise ValueError("t must be non-decreasing for the ODE reference")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if np.ndim(tol) != 0 or not np.isfinite(tol) or not tol > 0:
            raise ValueError(f"{name} must be a finite number > 0, got {tol!r}")
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    Syx = np.asarray(Syx, dtype=np.float64)
    Sxx = None if Sxx is None else np.asarray(Sxx, dtype=np.float64)
    k = n_h * n_i

    def rhs(_, y):
        a = y[:k].reshape(n_h, n_i)
        b = y[k:].reshape(n_o, n_h)
        E = Syx - (b @ a if Sxx is None else b @ a @ Sxx)
        return np.concatenate([(b.T @ E).ravel(), (E @ a.T).ravel()])

    y0 = np.concatenate([W1.ravel(), W2.ravel()])
    t_u, inverse = np.unique(t, return_inverse=True)  # scipy wants strictly increasing t_eval
    if t_u[-1] == 0:
        ys = np.repeat(y0[:, None], len(t), axis=1)
    else:
        sol = solve_ivp(rhs, (0.0, float(t_u[-1])), y0, method=method, t_eval=t_u, rtol=rtol,
                        atol=atol)
        if not sol.success:
            raise RuntimeError(f"ODE reference failed: {sol.message}")
        ys = sol.y[:, inverse]
    w1s = ys[:k].T.reshape(len(t), n_h, n_i)
    w2s = ys[k:].T.reshape(len(t), n_o, n_h)
    return LinearTrajectory(t, w1s, w2s)


@functools.partial(jax.jit, static_argnames=("L", "num_steps"))
def _chain_gd(gamma, eta, y_star, L, num_steps):
    a0 = jnp.ones((L,), dtype=jnp.result_type(gamma))

    eye = jnp.eye(L, dtype=bool)

    def step(a, _):
        others = jnp.prod(jnp.where(eye, 1.0, a[None, :]), axis=1)  # Π_{k≠ℓ} a_k, no division
        f = (jnp.prod(a) - 1.0) / gamma
        loss = 0.5 * (f - y_star) ** 2
        ntk = jnp.sum(others**2) / gamma**2
        return a - eta * (f - y_star) * others / gamma, (loss, ntk)

    a, (loss, sharp) = jax.lax.scan(step, a0, None, length=num_steps)
    return loss, sharp


def chain_gd(gamma, eta, L: int, num_steps: int, y_star=1.0):
    r"""Gradient descent on the scalar L-chain; returns (loss, NTK) per step, shapes
    ``(num_steps,)``.

    The chain is the balanced rank-one reduction of a width-N deep linear network on whitened
    inputs with a target of norm :math:`y^*` (its closed-form edges and plateau time are
    :func:`lazyrich.theory.chain_eta_max_lazy`, :func:`~lazyrich.theory.chain_eta_max_rich`,
    :func:`~lazyrich.theory.chain_plateau_time`):

    .. math::
        f = \frac{1}{\gamma}\Big(\prod_{\ell=1}^L a_\ell - 1\Big),\quad a_\ell(0)=1,\quad
        \ell(a) = \tfrac12 (f-y^*)^2,\qquad
        a_\ell \leftarrow a_\ell - \eta\,(f-y^*)\,\frac{1}{\gamma}\prod_{k\neq\ell}a_k .

    The NTK of the balanced chain is :math:`K = \sum_\ell (\partial f/\partial a_\ell)^2
    = L\,a^{2(L-1)}/\gamma^2`, the sharpness at a minimum. ``gamma`` and ``eta`` may be traced
    (``vmap`` over grids) but each is a scalar: γ > 0, η > 0, finite :math:`y^*` (checked when
    concrete).
    """
    if not isinstance(L, int | np.integer) or isinstance(L, bool | np.bool_) or L < 2:
        raise ValueError(f"depth L (number of weight layers) must be an integer >= 2, got {L!r}")
    L = int(L)
    if (not isinstance(num_steps, int | np.integer) or isinstance(num_steps, bool | np.bool_)
            or num_steps < 1):
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    for name, x in (("gamma", gamma), ("eta", eta), ("y_star", y_star)):
        require_real(name, x)
        if np.ndim(x) != 0:
            raise ValueError(f"{name} must be a scalar (use jax.vmap for a grid), got shape "
                             f"{np.shape(x)}")
    require_positive("gamma", gamma)
    require_positive("eta", eta)
    require_finite("y_star", y_star)
    dt = jnp.result_type(float)
    return _chain_gd(jnp.asarray(gamma, dt), jnp.asarray(eta, dt), jnp.asarray(y_star, dt), L,
                     int(num_steps))
