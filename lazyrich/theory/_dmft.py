r"""Dynamical mean field theory (DMFT) of the centred μP-γ network at infinite width and fixed γ:
two-layer networks with any activation, deep linear networks (docs: Dynamical mean field theory).

At fixed feature-learning strength γ and width :math:`N\to\infty` the network trained by full-batch
gradient descent is not a kernel method: every hidden layer's feature kernel
:math:`\Phi^\ell(t,s)` and gradient kernel :math:`G^\ell(t,s)` evolve, and they obey closed,
self-consistent equations for single-site stochastic processes (Bordelon & Pehlevan,
"Self-Consistent Dynamical Field Theory of Kernel Evolution in Wide Neural Networks", NeurIPS 2022,
arXiv:2205.09653). Finite-width networks fluctuate around that trajectory by
:math:`O(N^{-1/2})`, with an :math:`O(N^{-1})` mean shift (Bordelon & Pehlevan, "Dynamics of Finite
Width Kernel and Prediction Fluctuations in Mean Field Neural Networks", NeurIPS 2023,
arXiv:2304.03408).

Units: exactly the engine's (docs: Conventions). Network with L weight matrices, all
:math:`\mathcal N(0,1)`, rows of ``x`` are points,

.. math::
    h^1_\mu = \frac{W^0x_\mu}{\sqrt D},\quad
    h^{\ell+1}_\mu = \frac{W^\ell\phi(h^\ell_\mu)}{\sqrt N},\quad
    g(x_\mu) = \frac{w\cdot\phi(h^{L-1}_\mu)}{N},\quad
    f_\mu = \frac{g_\theta(x_\mu) - g_{\theta_0}(x_\mu)}{\gamma},

loss :math:`\ell = \frac1P\sum_\mu(f_\mu - y_\mu)^2` (no ½), step
:math:`\theta\leftarrow\theta - N\eta\nabla\ell`, time :math:`T = \eta\cdot\text{steps}`. With
:math:`K^x_{\mu\nu} = x_\mu\cdot x_\nu/D`, the error :math:`\Delta = y - f` and the per-step field
increment

.. math::
    \kappa = \frac{2\eta}{P\gamma},

every solver here is discrete GD, exact step by step (the kernels are built from left sums, and f
is computed from the fields, never by an NTK Euler step). The equations are even in γ
(:math:`(\gamma, w, z)\to(-\gamma, -w, -z)` leaves f unchanged), so negative γ is accepted and
gives the same trajectory; as :math:`\gamma\to 0` at fixed :math:`\eta_0 = \eta/\gamma^2` they
tend to :func:`kernel_dynamics` with the infinite-width NTK (``mlp_kernels(...).ntk``), i.e.
:math:`f\leftarrow f + \frac{2\eta}{P\gamma^2}\Theta\Delta` per step, with an :math:`O(\gamma^2)`
correction.

Outputs are scalar (one output column). Everything is computed in float64 whatever the global
JAX flag (inputs of any real dtype are cast); results are JAX float64 arrays when
``jax_enable_x64`` is on and NumPy float64 arrays otherwise.
"""

import dataclasses
import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from lazyrich._checks import concrete

from ._infinite_width import get_activation

_F64 = jnp.float64
#: Default limit on the working memory a solver may plan to use (bytes): 2 GiB.
MEMORY_BUDGET = 2 * 1024 ** 3


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["steps", "loss", "f_train", "f_test", "feature_kernel",
                                "gradient_kernel", "ntk", "residuals", "loss_se", "f_train_se",
                                "f_test_se"],
                   meta_fields=["solver", "depth"])
@dataclasses.dataclass(frozen=True)
class DMFTSolution:
    r"""A DMFT trajectory at every step :math:`k = 0,\dots,\text{steps}` (a pytree).

    Shapes: n = steps + 1 time points, P training points, Q test points (Q = 0 without
    ``x_test``), :math:`P_a = P + Q` (training points first), L = ``depth``.

    Attributes:
        steps: the step numbers :math:`0,\dots,\text{steps}`, ``(n,)`` (engine time
            :math:`T = \eta k`).
        loss: the training loss :math:`\frac1P\sum_\mu(f_\mu - y_\mu)^2` (the engine's
            ``loss`` in full-batch mode), ``(n,)``.
        f_train: the centred output :math:`f(x_\mu)` on the training points, ``(n, P)``.
        f_test: the same on the test points, ``(n, Q)``, or None without ``x_test``.
        feature_kernel: :math:`\Phi^\ell(t,t)_{\mu\nu} = \mathbb E[\phi(h^\ell_\mu(t))
            \phi(h^\ell_\nu(t))]` for the hidden layers :math:`\ell = 1,\dots,L-1`, over train and
            test points, ``(L-1, n, P_a, P_a)``.
        gradient_kernel: :math:`G^\ell(t,t)_{\mu\nu} = \mathbb E[b^\ell_\mu(t)b^\ell_\nu(t)]`,
            :math:`b^\ell = \phi'(h^\ell)\odot z^\ell` the backward field (for the two-layer
            network :math:`b = w\,\phi'(h)`; for linear networks it does not depend on the point,
            so every entry of a time slice is the same), ``(L-1, n, P_a, P_a)``.
        ntk: the network's tangent kernel in the NTK parametrisation,
            :math:`K(t) = \sum_{\ell=0}^{L-1}G^{\ell+1}(t,t)\odot\Phi^\ell(t,t)` with
            :math:`\Phi^0 = K^x` and :math:`G^L = 1`; at t = 0 it is ``mlp_kernels(...).ntk``
            (``(n, P_a, P_a)``). The output moves by :math:`\frac{2\eta}{P\gamma^2}K\Delta` per
            step to first order.
        residuals: the fixed-point residual of every sweep (:func:`dmft_deep_linear` with
            depth >= 3); empty for the one-pass solvers.
        loss_se, f_train_se, f_test_se: Monte Carlo standard errors of ``loss``, ``f_train``,
            ``f_test`` from the spread of independent replicas (:func:`dmft_two_layer`; NaN with
            one replica); None for the deterministic solvers.
        solver: ``"two_layer_linear"``, ``"two_layer"`` or ``"deep_linear"`` (static).
        depth: L, the number of weight matrices (static).
    """

    steps: jax.Array
    loss: jax.Array
    f_train: jax.Array
    f_test: jax.Array | None
    feature_kernel: jax.Array
    gradient_kernel: jax.Array
    ntk: jax.Array
    residuals: jax.Array
    loss_se: jax.Array | None
    f_train_se: jax.Array | None
    f_test_se: jax.Array | None
    solver: str
    depth: int


# ---------------------------------------------------------------------------------------------
# Validation: errors name the argument and what was expected
# ---------------------------------------------------------------------------------------------


def _values(name, x, meaning):
    """``x`` as a concrete float64 NumPy array of real numbers (tracers and non-reals refused)."""
    if isinstance(x, bool | np.bool_ | str | bytes) or x is None:
        raise TypeError(f"{name} must be an array of real numbers ({meaning}), got "
                        f"{type(x).__name__} {x!r}")
    v = concrete(x)
    if v is None:
        raise TypeError(f"{name} must be a concrete array ({meaning}): the DMFT solvers validate "
                        f"their inputs and cannot run under jit, vmap or grad tracing")
    if v.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers ({meaning}), got dtype {v.dtype}")
    v = v.astype(np.float64)
    if not np.all(np.isfinite(v)):
        bad = int(v.size - np.count_nonzero(np.isfinite(v)))
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) (NaN or inf)")
    return v


def _points(name, x, D=None):
    v = _values(name, x, "shape (n, D), rows are points")
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, D) with n >= 1 points as rows and D >= 1, "
                         f"got shape {v.shape}")
    if D is not None and v.shape[1] != D:
        raise ValueError(f"{name} must have the training inputs' dimension D = {D}, got shape "
                         f"{v.shape}")
    return v


def _targets(y_train, P):
    v = _values("y_train", y_train, f"targets on the P = {P} training points")
    if v.shape != (P,):
        raise ValueError(f"y_train must have shape (P,) = ({P},) (one target per training point; "
                         f"the solvers have one output), got shape {v.shape}")
    return v


def _real_scalar(name, v, meaning):
    if isinstance(v, bool | np.bool_ | str | bytes) or v is None:
        raise TypeError(f"{name} must be a real number ({meaning}), got {type(v).__name__} "
                        f"{v!r}")
    c = concrete(v)
    if c is None or c.ndim != 0 or c.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a concrete real scalar ({meaning}), got "
                        f"{type(v).__name__} {v!r}")
    return float(c)


def _gamma(gamma):
    g = _real_scalar("gamma", gamma, "the feature-learning strength")
    if not math.isfinite(g) or g == 0.0:
        raise ValueError(f"gamma must be finite and nonzero (the trajectory is even in gamma; "
                         f"gamma -> 0 is kernel_dynamics), got {gamma!r}")
    return g


def _positive(name, v, meaning):
    f = _real_scalar(name, v, meaning)
    if not math.isfinite(f) or f <= 0:
        raise ValueError(f"{name} must be finite and > 0 ({meaning}), got {v!r}")
    return f


def _count(name, v, low, meaning):
    if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{name} must be an integer >= {low} ({meaning}), got {v!r}")
    return int(v)


def _budget(memory_budget):
    b = _positive("memory_budget", memory_budget, "bytes of working memory allowed")
    return b


def _check_memory(need, budget, what):
    if need > budget:
        raise ValueError(f"this solve needs about {need / 2**30:.2f} GiB ({what}), over "
                         f"memory_budget = {budget / 2**30:.2f} GiB: use fewer steps or points, "
                         f"or raise memory_budget")


def _inputs(x_train, y_train, x_test):
    xtr = _points("x_train", x_train)
    P, D = xtr.shape
    y = _targets(y_train, P)
    xte = None if x_test is None else _points("x_test", x_test, D)
    x_all = xtr if xte is None else np.concatenate([xtr, xte], axis=0)
    return x_all, y, P, xte is not None


def _x64(fn, *args):
    """Run ``fn`` in float64 whatever the global flag; NumPy results when the flag is off."""
    if jax.config.jax_enable_x64:
        return fn(*args)
    with jax.enable_x64(True):
        return jax.tree.map(np.asarray, fn(*args))


def _require_finite(solver, loss):
    if not np.all(np.isfinite(np.asarray(loss))):
        raise RuntimeError(f"{solver}: the trajectory overflowed (gradient descent diverges at "
                           f"this eta and gamma): lower eta")


def _split(f_all, P, with_test):
    return f_all[..., :P], (f_all[..., P:] if with_test else None)


# ---------------------------------------------------------------------------------------------
# Two-layer linear network: the (P_a+1) x (P_a+1) moment recursion
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("steps", "P"))
def _two_layer_linear_core(Kx, y, C0, kappa, gamma, steps, P):
    Pa = Kx.shape[0]
    eye = jnp.eye(Pa + 1, dtype=_F64)

    def step(C, _):
        f = (C[0, 1:] - C0[0, 1:]) / gamma
        delta = jnp.zeros((Pa,), _F64).at[:P].set(y - f[:P])
        A = jnp.zeros((Pa + 1, Pa + 1), _F64)
        A = A.at[0, 1:].set(delta).at[1:, 0].set(Kx @ delta)
        M = eye + kappa * A
        return M @ C @ M.T, C

    CT, Cs = jax.lax.scan(step, C0, None, length=steps)
    Cs = jnp.concatenate([Cs, CT[None]], axis=0)                 # (n, Pa+1, Pa+1)
    f = (Cs[:, 0, 1:] - C0[None, 0, 1:]) / gamma
    Phi = Cs[:, 1:, 1:]
    Gtt = Cs[:, 0, 0]
    G = jnp.broadcast_to(Gtt[:, None, None], Phi.shape)
    ntk = G * Kx[None] + Phi
    loss = jnp.mean((f[:, :P] - y[None]) ** 2, axis=1)
    return f, loss, Phi[None], G[None], ntk


def dmft_two_layer_linear(x_train, y_train, x_test=None, *, gamma, eta, steps: int,
                          moments=None) -> DMFTSolution:
    r"""Two-layer linear network (L = 2, :math:`\phi(u) = u`) at infinite width: an exact,
    deterministic :math:`(P_a+1)\times(P_a+1)` recursion (Bordelon & Pehlevan 2022,
    arXiv:2205.09653; docs: Dynamical mean field theory).

    Each hidden neuron carries the single-site state :math:`s = (a, h_1,\dots,h_{P_a})` (readout
    weight and pre-activations on the training then test points). Under GD every neuron obeys
    the same linear map, so the second moments :math:`C(t) = \mathbb E[ss^\top]` close:

    .. math::
        C(t+1) = M(t)\,C(t)\,M(t)^\top,\qquad
        M(t) = I + \kappa\begin{pmatrix}0 & \Delta(t)^\top\\ K^x\Delta(t) & 0\end{pmatrix},
        \qquad \kappa = \frac{2\eta}{P\gamma},

        f(t) = \frac{C(t)_{0,1:} - C(0)_{0,1:}}{\gamma},\qquad
        \Delta_\mu(t) = y_\mu - f_\mu(t)\ (\text{training points}),\ 0\ (\text{test points}),

    with :math:`C(0) = \mathrm{diag}(1, K^x)`. Feature kernel :math:`\Phi(t,t) = C_{1:,1:}`,
    gradient kernel :math:`G(t,t) = C_{00}`, NTK :math:`C_{00}K^x + \Phi` (:math:`2K^x` at t = 0).
    f is computed from the moments themselves: this is GD exactly, not an NTK Euler step.

    **Finite width.** A width-N network is *exactly* this recursion started from its empirical
    moments :math:`C_N(0) = \frac1N\sum_i s_i(0)s_i(0)^\top` (a Wishart matrix, mean
    :math:`\mathrm{diag}(1, K^x)`), the centring subtracting :math:`C_N(0)_{0,1:}`: pass them as
    ``moments`` to reproduce an engine run to round-off and to obtain exact finite-N statistics.

    Cost: :math:`O(\text{steps}\cdot P_a^3)` time, :math:`O(\text{steps}\cdot P_a^2)` memory.

    Args:
        x_train: training inputs ``(P, D)``, rows are points (:math:`K^x = xx^\top/D`).
        y_train: targets ``(P,)``.
        x_test: optional test inputs ``(Q, D)`` (passive: :math:`\Delta = 0` there).
        gamma: γ, finite and nonzero (the trajectory is even in γ).
        eta: the engine's learning rate η > 0 (step :math:`N\eta` on N(0,1) weights).
        steps: number of GD steps >= 1.
        moments: optional initial second moments :math:`C(0)`, ``(P_a+1, P_a+1)``, symmetric PSD,
            ordered (a, training points, test points). Default :math:`\mathrm{diag}(1, K^x)`.

    Returns:
        :class:`DMFTSolution` (``solver="two_layer_linear"``, no residuals, no standard errors).

    Raises:
        RuntimeError: the trajectory overflows float64 (GD diverges at this η and γ).
    """
    x_all, y, P, with_test = _inputs(x_train, y_train, x_test)
    g = _gamma(gamma)
    e = _positive("eta", eta, "the engine's learning rate")
    steps = _count("steps", steps, 1, "the number of GD steps")
    Pa, D = x_all.shape
    Kx = x_all @ x_all.T / D
    if moments is None:
        C0 = np.zeros((Pa + 1, Pa + 1))
        C0[0, 0] = 1.0
        C0[1:, 1:] = Kx
    else:
        C0 = _values("moments", moments, "the initial second moments of (a, h)")
        if C0.shape != (Pa + 1, Pa + 1):
            raise ValueError(f"moments must have shape (P_a+1, P_a+1) = ({Pa + 1}, {Pa + 1}) "
                             f"(a, then the {P} training and {Pa - P} test points), got shape "
                             f"{C0.shape}")
        scale = max(float(np.max(np.abs(C0))), 1e-300)
        if float(np.max(np.abs(C0 - C0.T))) > 1e-12 * scale:
            raise ValueError("moments must be symmetric (a second-moment matrix), got "
                             f"max|C - C^T| = {float(np.max(np.abs(C0 - C0.T))):.3g}")
        low = float(np.min(np.linalg.eigvalsh(0.5 * (C0 + C0.T))))
        if low < -1e-12 * (Pa + 1) * scale:
            raise ValueError(f"moments must be positive semi-definite (a second-moment matrix), "
                             f"got smallest eigenvalue {low:.3g}")
    kappa = 2.0 * e / (P * g)

    def run():
        return _two_layer_linear_core(jnp.asarray(Kx, _F64), jnp.asarray(y, _F64),
                                      jnp.asarray(C0, _F64), jnp.asarray(kappa, _F64),
                                      jnp.asarray(g, _F64), steps, P)

    f, loss, Phi, G, ntk = _x64(run)
    _require_finite("dmft_two_layer_linear", loss)
    ftr, fte = _split(f, P, with_test)
    return DMFTSolution(np.arange(steps + 1), loss, ftr, fte, Phi, G, ntk, np.zeros((0,)),
                        None, None, None, "two_layer_linear", 2)


# ---------------------------------------------------------------------------------------------
# Two-layer network, any activation: single-site Monte Carlo, causal one pass
# ---------------------------------------------------------------------------------------------


def _value_and_slope(phi, h):
    return jax.jvp(phi, (h,), (jnp.ones_like(h),))


@functools.partial(jax.jit, static_argnames=("phi", "steps", "P"))
def _two_layer_paths(phi, Kx, y, a0, h0, kappa, gamma, steps, P):
    r"""One population of M single-site samples ``a0 (M,)``, ``h0 (M, P_a)`` run through the
    causal recursion; returns f ``(n, P_a)``, Φ(t,t) and G(t,t) ``(n, P_a, P_a)``.

    Exactly GD on a width-M two-layer network whose first-layer fields are ``h0`` and readout
    ``a0``: pass a network's own (a_i, h_i(0)) to reproduce it to round-off."""
    M = a0.shape[0]
    p0, _ = _value_and_slope(phi, h0)
    g0 = a0 @ p0 / M                                    # the centring term, same samples

    def step(carry, _):
        a, h = carry
        p, dp = _value_and_slope(phi, h)
        f = (a @ p / M - g0) / gamma
        d = y - f[:P]
        b = a[:, None] * dp                             # backward field a phi'(h), (M, P_a)
        Phi = p.T @ p / M
        G = b.T @ b / M
        a_new = a + kappa * (p[:, :P] @ d)
        h_new = h + kappa * (b[:, :P] * d[None, :]) @ Kx[:, :P].T
        return (a_new, h_new), (f, Phi, G)

    _, out = jax.lax.scan(step, (a0, h0), None, length=steps + 1)
    return out


@functools.partial(jax.jit, static_argnames=("phi", "steps", "P", "samples", "replicas"))
def _two_layer_mc(phi, key, Kx, y, kappa, gamma, steps, P, samples, replicas):
    Pa = Kx.shape[0]
    lam, V = jnp.linalg.eigh(0.5 * (Kx + Kx.T))
    factor = V * jnp.sqrt(jnp.maximum(lam, 0.0))[None, :]      # K^x = factor factor^T
    half = samples // 2

    def replica(k):
        ka, kh = jax.random.split(k)
        a = jax.random.normal(ka, (half,), _F64)
        h = jax.random.normal(kh, (half, Pa), _F64) @ factor.T
        # antithetic pairs (a, h), (-a, h): every odd moment of a vanishes in the sample, so the
        # sampled trajectory is exactly even in gamma, like the infinite-width one
        a0 = jnp.concatenate([a, -a])
        h0 = jnp.concatenate([h, h], axis=0)
        return _two_layer_paths(phi, Kx, y, a0, h0, kappa, gamma, steps, P)

    f, Phi, G = jax.vmap(replica)(jax.random.split(key, replicas))
    loss = jnp.mean((f[:, :, :P] - y[None, None]) ** 2, axis=2)        # (R, n)

    fm, fse = _replica_mean_se(f)
    lm, lse = _replica_mean_se(loss)
    Phim = jnp.mean(Phi, axis=0)
    Gm = jnp.mean(G, axis=0)
    ntk = Gm * Kx[None] + Phim
    return fm, fse, lm, lse, Phim[None], Gm[None], ntk


def _mc_args(activation, gamma, eta, steps, samples, replicas, group: int, why: str):
    """The Monte Carlo solvers' shared arguments, validated: (φ, γ, η, steps, samples,
    replicas); ``samples`` must be a multiple of ``group`` (the antithetic group size, ``why``)."""
    phi = get_activation(activation)
    try:
        hash(phi)
    except TypeError:
        raise TypeError(f"activation must be hashable (it is a static argument of the compiled "
                        f"solver), got {activation!r}") from None
    g = _gamma(gamma)
    e = _positive("eta", eta, "the engine's learning rate")
    steps = _count("steps", steps, 1, "the number of GD steps")
    samples = _count("samples", samples, group, "Monte Carlo samples per replica")
    if samples % group:
        raise ValueError(f"samples must be a multiple of {group} ({why}), got {samples}")
    replicas = _count("replicas", replicas, 1, "independent Monte Carlo populations")
    return phi, g, e, steps, samples, replicas


def _replica_mean_se(v):
    """Mean over the leading replica axis and its standard error (NaN with one replica)."""
    R = v.shape[0]
    m = jnp.mean(v, axis=0)
    if R == 1:
        return m, jnp.full(m.shape, jnp.nan, _F64)
    return m, jnp.std(v, axis=0, ddof=1) / math.sqrt(R)


def _key(key):
    if isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key, got shape {key.shape}")
        return key
    v = concrete(key) if key is not None else None
    if v is None or v.dtype != np.uint32 or v.shape != (2,):
        raise TypeError(f"key must be a JAX PRNG key (jax.random.key(0) or jax.random.PRNGKey(0)),"
                        f" got {type(key).__name__} {key!r}")
    return key


def dmft_two_layer(key, x_train, y_train, x_test=None, *, activation, gamma, eta, steps: int,
                   samples: int, replicas: int, memory_budget=MEMORY_BUDGET) -> DMFTSolution:
    r"""Two-layer network (L = 2) with any activation at infinite width: the single-site process
    sampled by Monte Carlo, solved causally in one pass (Bordelon & Pehlevan 2022,
    arXiv:2205.09653; docs: Dynamical mean field theory).

    The first layer acts on fixed inputs and the readout is a vector, so there are no response
    (Onsager) terms: the single site is the readout weight a and the pre-activations
    :math:`h_\mu` on the :math:`P_a` points, with

    .. math::
        a(t+1) = a(t) + \kappa\sum_\nu\Delta_\nu(t)\,\phi(h_\nu(t)),\qquad
        h_\mu(t+1) = h_\mu(t) + \kappa\sum_\nu K^x_{\mu\nu}\Delta_\nu(t)\,a(t)\,\phi'(h_\nu(t)),

        a(0)\sim\mathcal N(0,1),\quad h(0)\sim\mathcal N(0,K^x),\qquad
        f_\mu(t) = \frac1\gamma\,\mathbb E\bigl[a(t)\phi(h_\mu(t)) - a(0)\phi(h_\mu(0))\bigr],

    :math:`\kappa = 2\eta/(P\gamma)`, :math:`\Delta = y - f` on training points (0 on test
    points). Kernels :math:`\Phi(t,t) = \mathbb E[\phi(h)\phi(h)^\top]`,
    :math:`G(t,t) = \mathbb E[a^2\phi'(h)\phi'(h)^\top]`, NTK :math:`G\odot K^x + \Phi`.

    Estimator. Each of ``replicas`` independent populations of ``samples`` sites is run with its
    own :math:`\Delta` (in law a width-``samples`` network whose first-layer fields are drawn in
    :math:`P_a` dimensions); the result is the replica mean and ``*_se`` its standard error
    (replica standard deviation / :math:`\sqrt{R}`). The subtracted :math:`t = 0` term of f is
    evaluated on the same samples (the Monte Carlo form of the engine's centring): without it the
    noise of f would be :math:`O(1/(\gamma\sqrt M))`. Samples come in antithetic pairs
    :math:`(a, h), (-a, h)`, so every sampled trajectory is exactly even in γ and, as
    :math:`\gamma\to 0`, tends to kernel dynamics with its own initial sample NTK (``ntk[0]``
    with ``replicas=1``) with an :math:`O(\gamma^2)` gap. The Monte Carlo error is
    :math:`O(M^{-1/2})`, the bias :math:`O(1/M)`. ReLU is fine here (no responses).

    Cost: :math:`O(R\,M\,P_a^2\cdot\text{steps})` time; memory about
    :math:`8\,R\,(10\,M P_a + 3\,n P_a^2)` bytes (n = steps + 1), refused above
    ``memory_budget``.

    Args:
        key: a JAX PRNG key (first argument).
        x_train: ``(P, D)``, rows are points. y_train: ``(P,)``. x_test: optional ``(Q, D)``.
        activation: a name of :data:`ACTIVATIONS` (``"relu"``, ``"tanh"``, ``"erf"``,
            ``"linear"``, ...), an :class:`ABReLU`, or an elementwise callable (hashable).
        gamma: γ, finite and nonzero. eta: the engine's η > 0. steps: GD steps >= 1.
        samples: M, sites per replica, an even integer >= 2 (antithetic pairs).
        replicas: R >= 1 independent populations (>= 2 for an error estimate).
        memory_budget: bytes the solve may use (default :data:`MEMORY_BUDGET`, 2 GiB).

    Returns:
        :class:`DMFTSolution` (``solver="two_layer"``) with ``loss_se``, ``f_train_se``,
        ``f_test_se``.

    Raises:
        RuntimeError: the trajectory overflows float64 (GD diverges at this η and γ).
    """
    key = _key(key)
    x_all, y, P, with_test = _inputs(x_train, y_train, x_test)
    phi, g, e, steps, samples, replicas = _mc_args(
        activation, gamma, eta, steps, samples, replicas, 2,
        "sites come in antithetic pairs (a, h), (-a, h)")
    budget = _budget(memory_budget)
    Pa, D = x_all.shape
    n = steps + 1
    _check_memory(8.0 * replicas * (10 * samples * Pa + 3 * n * Pa * Pa), budget,
                  f"{replicas} replicas x {samples} samples x {Pa} points, {n} time points")
    Kx = x_all @ x_all.T / D
    kappa = 2.0 * e / (P * g)

    def run():
        return _two_layer_mc(phi, key, jnp.asarray(Kx, _F64), jnp.asarray(y, _F64),
                             jnp.asarray(kappa, _F64), jnp.asarray(g, _F64), steps, P, samples,
                             replicas)

    f, fse, loss, lse, Phi, G, ntk = _x64(run)
    _require_finite("dmft_two_layer", loss)
    ftr, fte = _split(f, P, with_test)
    ftr_se, fte_se = _split(fse, P, with_test)
    return DMFTSolution(np.arange(n), loss, ftr, fte, Phi, G, ntk, np.zeros((0,)), lse, ftr_se,
                        fte_se, "two_layer", 2)


# ---------------------------------------------------------------------------------------------
# Deep linear networks: deterministic matrix equations, damped fixed point, Delta forward in time
# ---------------------------------------------------------------------------------------------
#
# Layout: a time-and-point index (t, mu) is flattened to t * P_a + mu; n = steps + 1 times.
# Phi: (n P_a, n P_a); R (response of h to r): (n P_a, n); G: (n, n); Q (response of b to the
# forward source): (n, n P_a).


def _layer(Phi_in, R_in, G_up, Q_up, delta, kappa, n, Pa):
    r"""One hidden layer's operators and kernels given the error signal (all times at once).

    :math:`C = R_{in} + \kappa\,1[s<t]\,\Phi_{in}\Delta`, :math:`D = Q_{up} + \kappa\,1[s<t]\,
    G_{up}\Delta`, :math:`Y = (I - DC)^{-1}`, and through :math:`X = I + CYD` (push-through):
    returns Φ, R = CY, G, Q = YD and :math:`E[h b^\top] = \Phi_{in}D^\top Y^\top + CG`."""
    N_ = n * Pa
    t_of = jnp.repeat(jnp.arange(n), Pa)                                  # (N_,)
    past = (t_of[:, None] > jnp.arange(n)[None, :]).astype(_F64)         # [(t,mu), s]: s < t
    C = R_in + kappa * past * jnp.einsum("asn,sn->as", Phi_in.reshape(N_, n, Pa), delta)
    strict = (jnp.arange(n)[:, None] > jnp.arange(n)[None, :]).astype(_F64)
    D = Q_up + kappa * ((strict * G_up)[:, :, None] * delta[None, :, :]).reshape(n, N_)
    eye = jnp.eye(n, dtype=_F64)
    Y = solve_triangular(eye - D @ C, eye, lower=True, unit_diagonal=True)
    R = C @ Y
    Q = Y @ D
    DPhi = D @ Phi_in                                                     # (n, N_)
    G = Y @ (G_up + DPhi @ D.T) @ Y.T
    B = Phi_in + C @ G_up @ C.T
    E = Q @ B                                                             # Y D B, (n, N_)
    CE = C @ E
    Phi = B + CE + CE.T + C @ (E @ Q.T) @ C.T
    HB = (Y @ DPhi).T + C @ G                                             # E[h b^T], (N_, n)
    return Phi, R, G, Q, HB


def _equal_time(Phi, n, Pa):
    P4 = Phi.reshape(n, Pa, n, Pa)
    t = jnp.arange(n)
    return P4[t, :, t, :]                                                 # (n, Pa, Pa)


def _top_forward(Phi_in, R_in, G_up, y, kappa, gamma, n, Pa, P):
    r"""Δ and f of the top hidden layer, solved forward in time: row t of C, D, Y = (I - DC)^{-1},
    M = G_up + D Φ_in Dᵀ and G = Y M Yᵀ needs only Δ(s < t), so f(t) = E[h(t) b(t)]/γ follows,
    then Δ(t) = y - f(t). O(n (n P_a)^2) time."""
    Phi4 = Phi_in.reshape(n, Pa, n, Pa)
    R3 = R_in.reshape(n, Pa, n)
    s_idx = jnp.arange(n)

    def body(t, carry):
        delta, C, D, Y, V, Mm, G, f = carry
        past = (s_idx < t).astype(_F64)
        upto = s_idx <= t
        C_t = R3[t] + kappa * past[None, :] * jnp.einsum("msn,sn->ms", Phi4[t], delta)
        D_t = kappa * (past * G_up[t])[:, None] * delta                   # (n, Pa)
        C = C.at[t].set(C_t)
        D = D.at[t].set(D_t)
        DC_t = jnp.einsum("sn,snr->r", D_t, C)
        Y_t = (s_idx == t).astype(_F64) + DC_t @ Y
        Y = Y.at[t].set(Y_t)
        V_t = jnp.einsum("sn,snrl->rl", D_t, Phi4)                         # row t of D Φ_in
        V = V.at[t].set(V_t)
        m_t = jnp.where(upto, G_up[t] + jnp.einsum("rl,srl->s", V_t, D), 0.0)
        Mm = Mm.at[t].set(jnp.where(upto, m_t, Mm[t])).at[:, t].set(jnp.where(upto, m_t, Mm[:, t]))
        g_t = jnp.where(upto, (Y_t @ Mm) @ Y.T, 0.0)
        G = G.at[t].set(jnp.where(upto, g_t, G[t])).at[:, t].set(jnp.where(upto, g_t, G[:, t]))
        f_t = (Y_t @ V[:, t, :] + C_t @ G[:, t]) / gamma
        delta = delta.at[t, :P].set(y - f_t[:P])
        f = f.at[t].set(f_t)
        return delta, C, D, Y, V, Mm, G, f

    z = functools.partial(jnp.zeros, dtype=_F64)
    init = (z((n, Pa)), z((n, Pa, n)), z((n, n, Pa)), z((n, n)), z((n, n, Pa)), z((n, n)),
            z((n, n)), z((n, Pa)))
    out = jax.lax.fori_loop(0, n, body, init)
    return out[0], out[-1]


@functools.partial(jax.jit, static_argnames=("L", "n", "Pa", "P"))
def _deep_linear_sweep(state, Kx, y, kappa, gamma, L, n, Pa, P):
    r"""One fixed-point sweep: Δ forward in time from the current kernels, then every layer's
    (Φ, R, G, Q) from the current state (Jacobi). Returns the new state and the observables."""
    Phi_s, R_s, G_s, Q_s = state
    N_ = n * Pa
    Phi0 = jnp.tile(Kx, (n, n))
    ones = jnp.ones((n, n), _F64)

    def inputs(ell):
        Phi_in = Phi0 if ell == 1 else Phi_s[ell - 2]
        R_in = jnp.zeros((N_, n), _F64) if ell == 1 else R_s[ell - 2]
        G_up = ones if ell == L - 1 else G_s[ell - 1]
        Q_up = jnp.zeros((n, N_), _F64) if ell == L - 1 else Q_s[ell - 1]
        return Phi_in, R_in, G_up, Q_up

    Phi_top, R_top, G_top, _ = inputs(L - 1)
    delta, f = _top_forward(Phi_top, R_top, G_top, y, kappa, gamma, n, Pa, P)
    new_Phi, new_R, new_G, new_Q = [], [], [], []
    Phi_tt, G_tt = [], []
    for ell in range(1, L):
        Phi, R, G, Q, _ = _layer(*inputs(ell), delta, kappa, n, Pa)
        if ell <= L - 2:
            new_Phi.append(Phi)
            new_R.append(R)
        if ell >= 2:
            new_G.append(G)
            new_Q.append(Q)
        Phi_tt.append(_equal_time(Phi, n, Pa))
        G_tt.append(jnp.diagonal(G))
    new = tuple(jnp.stack(v) if v else s for v, s in
                zip((new_Phi, new_R, new_G, new_Q), state, strict=True))
    res = jnp.zeros((), _F64)
    finite = jnp.all(jnp.isfinite(f))
    for a, b in zip(new, state, strict=True):
        if a.size:
            res = jnp.maximum(res, jnp.max(jnp.abs(a - b)) / (1.0 + jnp.max(jnp.abs(b))))
            finite = finite & jnp.all(jnp.isfinite(a))
    res = jnp.where(finite, res, jnp.inf)          # a diverging iteration is never "converged"
    Phi_tt = jnp.stack(Phi_tt)                                            # (L-1, n, Pa, Pa)
    G_tt = jnp.stack(G_tt)                                                # (L-1, n)
    Gfull = jnp.broadcast_to(G_tt[:, :, None, None], Phi_tt.shape)
    ntk = G_tt[0][:, None, None] * Kx[None] + jnp.sum(Phi_tt[:-1] * Gfull[1:], axis=0) + Phi_tt[-1]
    loss = jnp.mean((f[:, :P] - y[None]) ** 2, axis=1)
    return new, res, (f, loss, Phi_tt, Gfull, ntk)


def deep_linear_memory(n_points: int, steps: int, depth: int) -> float:
    r"""Bytes :func:`dmft_deep_linear` plans for: :math:`8\,(3L + 2)\,(nP_a)^2` with
    :math:`n` = steps + 1 time points and :math:`P_a` train + test points."""
    N_ = (steps + 1) * n_points
    return 8.0 * (3 * depth + 2) * N_ * N_


def dmft_deep_linear(x_train, y_train, x_test=None, *, depth: int, gamma, eta, steps: int,
                     tol=1e-12, damping=0.5, max_iter: int = 500,
                     memory_budget=MEMORY_BUDGET) -> DMFTSolution:
    r"""Deep linear network (L >= 2 weight matrices, :math:`\phi(u) = u`) at infinite width: the
    deterministic DMFT matrix equations, solved by a damped fixed point with the error signal
    solved forward in time (Bordelon & Pehlevan 2022, arXiv:2205.09653; docs: Dynamical mean
    field theory).

    With :math:`\phi = \mathrm{id}` the backward field :math:`b^\ell = z^\ell` does not depend on
    the point, so :math:`G^\ell(t,s)` is an :math:`n\times n` matrix while :math:`\Phi^\ell` is
    :math:`nP_a\times nP_a` (n = steps + 1 times). The initial weight matrices, reused by the
    forward and backward passes, give response (Onsager) terms :math:`R^\ell` (of :math:`h^\ell`
    to the backward source :math:`r^\ell`) and :math:`Q^\ell` (of :math:`b^{\ell+1}` to the forward
    source :math:`\tilde u^{\ell+1}`). Per hidden layer, with the strictly causal operators

    .. math::
        C^\ell_{(t\mu),s} = R^{\ell-1}_{(t\mu),s} + \kappa\,1[s<t]\sum_\nu
            \Phi^{\ell-1}_{\mu\nu}(t,s)\Delta_\nu(s),\qquad
        D^\ell_{t,(s\nu)} = Q^\ell_{t,(s\nu)} + \kappa\,1[s<t]\,G^{\ell+1}(t,s)\Delta_\nu(s),

    (:math:`\Phi^0 = K^x` at all times, :math:`R^0 = 0`, :math:`G^L \equiv 1`,
    :math:`Q^{L-1} = 0`, :math:`\kappa = 2\eta/(P\gamma)`), the fields are
    :math:`h^\ell = X(\tilde u + Cr)`, :math:`b^\ell = Y(r + D\tilde u)` with
    :math:`Y = (I - DC)^{-1}` and, by the push-through identity, :math:`X = (I - CD)^{-1} =
    I + CYD` (only an :math:`n\times n` triangular solve), and

    .. math::
        \Phi^\ell = X(\Phi^{\ell-1} + CG^{\ell+1}C^\top)X^\top,\qquad
        G^\ell = Y(G^{\ell+1} + D\Phi^{\ell-1}D^\top)Y^\top,\qquad
        R^\ell = XC,\qquad Q^{\ell-1} = YD,

        f_\mu(t) = \frac1\gamma\bigl[\Phi^{L-2}D^\top Y^\top + CG^{L-1}\bigr]_{(t\mu),t}
        \quad(\text{top layer}),\qquad \Delta = y - f .

    Solver. Start from the static kernels (:math:`\Phi^\ell = K^x`, :math:`G^\ell = 1`,
    R = Q = 0). Each sweep (1) solves Δ forward in time given the current kernels (row t of every
    operator needs only :math:`\Delta(s<t)`; never a Picard iteration on the whole trajectory,
    which diverges on long horizons), (2) recomputes every layer's (Φ, R, G, Q), (3) records the
    residual :math:`\max_q\lVert q_{new} - q\rVert_\infty/(1 + \lVert q\rVert_\infty)` over the
    fed-back order parameters and (4) damps, :math:`q\leftarrow\alpha q_{new} + (1-\alpha)q`
    (:math:`\alpha` = ``damping``). It stops at residual <= ``tol`` and raises if ``max_iter``
    sweeps do not get there. At depth 2 nothing is fed back: one pass, exact (equal to
    :func:`dmft_two_layer_linear` to round-off), no residuals.

    Cost: time :math:`O(L\,n\,(nP_a)^2)` per sweep; memory about
    :math:`8(3L+2)(nP_a)^2` bytes (:func:`deep_linear_memory`; e.g. n = 61, :math:`P_a` = 8,
    L = 3: 34 MB), refused above ``memory_budget``.

    Args:
        x_train: ``(P, D)``, rows are points. y_train: ``(P,)``. x_test: optional ``(Q, D)``.
        depth: L >= 2, the number of weight matrices (L - 1 hidden layers).
        gamma: γ, finite and nonzero. eta: the engine's η > 0. steps: GD steps >= 1.
        tol: residual at which the fixed point stops, > 0 (1e-12 is reachable).
        damping: α in (0, 1], the weight of the new iterate (1: undamped).
        max_iter: the most sweeps, >= 1.
        memory_budget: bytes the solve may use (default :data:`MEMORY_BUDGET`, 2 GiB).

    Returns:
        :class:`DMFTSolution` (``solver="deep_linear"``) with the residual trace.

    Raises:
        RuntimeError: no convergence to ``tol`` within ``max_iter`` sweeps, or a sweep that
            overflows (the message gives the last residual; damp more or shorten the horizon;
            undamped iteration diverged at L = 4, γ = 2, 60 steps, where α = 0.5 converged in
            232 sweeps), or a depth-2 trajectory that overflows (GD diverges at this η).
    """
    x_all, y, P, with_test = _inputs(x_train, y_train, x_test)
    L = _count("depth", depth, 2, "the number of weight matrices")
    g = _gamma(gamma)
    e = _positive("eta", eta, "the engine's learning rate")
    steps = _count("steps", steps, 1, "the number of GD steps")
    tol = _positive("tol", tol, "the residual at which the fixed point stops")
    a = _real_scalar("damping", damping, "the weight of the new iterate")
    if not (0.0 < a <= 1.0):
        raise ValueError(f"damping must be in (0, 1] (the weight of the new iterate; 1 is "
                         f"undamped), got {damping!r}")
    max_iter = _count("max_iter", max_iter, 1, "the most fixed-point sweeps")
    budget = _budget(memory_budget)
    Pa, D = x_all.shape
    n = steps + 1
    _check_memory(deep_linear_memory(Pa, steps, L), budget,
                  f"depth {L}, {n} time points x {Pa} points")
    Kx = x_all @ x_all.T / D
    kappa = 2.0 * e / (P * g)
    N_ = n * Pa

    def run():
        Kx_j = jnp.asarray(Kx, _F64)
        k = L - 2
        state = (jnp.broadcast_to(jnp.tile(Kx_j, (n, n)), (k, N_, N_)),
                 jnp.zeros((k, N_, n), _F64), jnp.ones((k, n, n), _F64),
                 jnp.zeros((k, n, N_), _F64))
        args = (Kx_j, jnp.asarray(y, _F64), jnp.asarray(kappa, _F64), jnp.asarray(g, _F64))
        residuals = []
        while True:
            new, res, obs = _deep_linear_sweep(state, *args, L, n, Pa, P)
            if L == 2:
                _require_finite("dmft_deep_linear", obs[1])
                break
            r = float(res)
            residuals.append(r)
            if r <= tol:
                break
            if not math.isfinite(r) or len(residuals) >= max_iter:
                raise RuntimeError(
                    f"dmft_deep_linear did not converge: residual {r:.3g} after "
                    f"{len(residuals)} sweeps (tol = {tol:g}, max_iter = {max_iter}, damping = "
                    f"{a:g}); lower damping, raise max_iter or shorten steps")
            state = tuple(a * q_new + (1.0 - a) * q for q_new, q in zip(new, state, strict=True))
        return obs, np.asarray(residuals, dtype=np.float64)

    obs, residuals = _x64(run)
    f, loss, Phi_tt, G_tt, ntk = obs
    ftr, fte = _split(f, P, with_test)
    return DMFTSolution(np.arange(n), loss, ftr, fte, Phi_tt, G_tt, ntk, residuals, None, None,
                        None, "deep_linear", L)
