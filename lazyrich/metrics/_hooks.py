r"""Metric hooks for compiled sweeps: NTK statistics and sharpness at logged times.

Factories of hooks ``fn(ctx)`` for ``lazyrich.sims.sweep(..., metrics={...})``; each hook runs
inside the sweep's ``jit(vmap(...))`` on the network ``ctx.f(params, x)`` (the centred,
γ-scaled output) and is built on the traceable metrics of this package:

* NTK statistics (:data:`NTK_STATS`) of the empirical NTK Gram
  :math:`K_{\mu\nu} = \sum_c \nabla_\theta f_c(x_\mu)\cdot\nabla_\theta f_c(x_\nu)`
  (:func:`~lazyrich.metrics.ntk_gram`): kernel–target alignment, uncentred
  :math:`A = \langle K, YY^\top\rangle_F/(\|K\|_F\|YY^\top\|_F)` and centred
  (:math:`K\to HKH`, :math:`Y\to HY`, :math:`H = I - \mathbf 1\mathbf 1^\top/P`)
  (:func:`~lazyrich.metrics.kernel_alignment`), :math:`\|K\|_F`, and the effective ranks
  :math:`r_2 = (\sum\lambda)^2/\sum\lambda^2` and :math:`r_H = \exp(-\sum p_i\ln p_i)`;
* sharpness (:data:`SHARPNESS_STATS`) of the MSE :math:`\ell = \frac{1}{PC}\sum(f-y)^2`: the top
  Gauss–Newton eigenvalue and both ends of the full Hessian's spectrum, by Lanczos
  (:func:`~lazyrich.metrics.gauss_newton_top`, :func:`~lazyrich.metrics.hessian_extremes`).
  The two differ away from a global minimum (the residual term), so they are logged separately.
"""

import jax.numpy as jnp
import numpy as np

from ._compare import entropy_rank, kernel_alignment, participation_ratio
from ._empirical_ntk import ntk_gram
from ._hessian import gauss_newton_top, hessian_extremes

NTK_STATS = ("align", "align_centered", "ntk_norm", "rank_pr", "rank_entropy")
SHARPNESS_STATS = ("gn_top", "hess_min", "hess_max")


def ntk_stats(K, y):
    r"""The :data:`NTK_STATS` of a kernel ``K`` ``(n, n)`` and targets ``y`` ``(n,)`` or ``(n, C)``,
    as a vector: :math:`(A, A_c, \|K\|_F, r_2, r_H)`. Traceable."""
    return jnp.stack([kernel_alignment(K, y), kernel_alignment(K, y, centered=True),
                      jnp.linalg.norm(K), participation_ratio(K), entropy_rank(K)])


def _eval_set(ctx, x, y, n_eval):
    if x is None:
        if ctx.x_test.shape[0] < n_eval:
            raise ValueError(f"n_eval={n_eval} exceeds the task's {ctx.x_test.shape[0]} test "
                             f"points: lower n_eval or raise task_options['test_size']")
        return ctx.x_test[:n_eval], ctx.y_test[:n_eval]
    return x, y


def _hook_options(kind, stats, x, y, n_eval, which, **ints):
    """Shared validation of the hook factories' options; returns ``which`` as a tuple."""
    if isinstance(which, str):
        which = (which,)
    try:
        which = tuple(which)
    except TypeError:
        raise TypeError(f"which must be a sequence of {kind} statistic names out of {stats}, got "
                        f"{which!r}") from None
    bad = [w for w in which if not isinstance(w, str) or w not in stats]
    if bad:
        raise ValueError(f"unknown {kind} statistic(s) {bad}; expected some of {stats}")
    if not which:
        raise ValueError(f"which must name at least one {kind} statistic out of {stats}")
    if (x is None) != (y is None):
        raise ValueError("give both x and y, or neither (then the task's test set is used)")
    if x is not None and (np.ndim(x) < 2 or np.ndim(y) < 1 or np.shape(x)[0] != np.shape(y)[0]):
        raise ValueError(f"x must be (n, ...) and y (n,) or (n, C) with the same n, got shapes "
                         f"{np.shape(x)} and {np.shape(y)}")
    for name, v in {"n_eval": n_eval, **ints}.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return which


def ntk_hooks(x=None, y=None, *, n_eval: int = 64, chunk: int | None = None,
              which=NTK_STATS) -> dict:
    r"""Metric hooks ``{name: fn(ctx)}`` for :func:`lazyrich.sims.sweep`: NTK alignment
    (uncentred, centred), ‖K‖_F and effective ranks on ``(x, y)`` (default: the first ``n_eval``
    test points of the task). The kernel is that of the centred, γ-scaled f (the 1/γ² cancels in
    alignment and ranks, not in the norm). Each hook rebuilds K from the same inputs (XLA may merge
    the identical computations inside the compiled sweep; request only the statistics you need)."""
    which = _hook_options("NTK", NTK_STATS, x, y, n_eval, which)
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int | np.integer)
                              or chunk < 1):
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")

    def make(i):
        def hook(ctx):
            xe, ye = _eval_set(ctx, x, y, n_eval)
            K = ntk_gram(ctx.f, ctx.params, xe, chunk=chunk)
            return ntk_stats(K, ye)[i]
        return hook

    return {name: make(NTK_STATS.index(name)) for name in which}


def sharpness_hooks(x=None, y=None, *, n_eval: int = 64, num_iters: int = 20,
                    which=SHARPNESS_STATS, seed: int = 0) -> dict:
    r"""Metric hooks for the MSE sharpness on ``(x, y)``: ``gn_top`` (top Gauss–Newton eigenvalue,
    via the NTK Gram in function space), ``hess_min``/``hess_max`` (both ends of the full
    Hessian, Lanczos on Hessian–vector products). Multiply by N for N·λ (the step is N·η in the
    μP parametrisation of the sweeps). Lanczos with ``num_iters`` steps: the extreme Ritz values
    converge first."""
    which = _hook_options("sharpness", SHARPNESS_STATS, x, y, n_eval, which, num_iters=num_iters)
    from lazyrich.sims import seed_key

    key = seed_key(seed)

    def gn(ctx):
        xe, _ = _eval_set(ctx, x, y, n_eval)
        return gauss_newton_top(key, lambda p: ctx.f(p, xe), ctx.params, num_iters)

    def hess(i):
        def hook(ctx):
            xe, ye = _eval_set(ctx, x, y, n_eval)
            loss = lambda p: jnp.mean((ctx.f(p, xe) - ye) ** 2)  # noqa: E731
            return hessian_extremes(key, loss, ctx.params, num_iters)[i]
        return hook

    hooks = {"gn_top": gn, "hess_min": hess(0), "hess_max": hess(1)}
    return {k: hooks[k] for k in which}
