r"""Diagnostics at logged times, usable inside sweeps (gamma-scaling.md §2.4, §4.2, §6 item 4).

Pure ``jax.numpy`` functions of a network ``f(params, x)`` (traceable: they run inside the
sweep's ``jit(vmap(...))``), and factories of metric hooks ``fn(ctx)`` for
``lazyrich.sims.sweep(..., metrics={...})``:

* empirical NTK Gram
  :math:`K_{\mu\nu} = \sum_c \nabla_\theta f_c(x_\mu)\cdot\nabla_\theta f_c(x_\nu)`
  by Jacobian contraction in chunks (:func:`ntk_gram`), and NTK–vector products
  :math:`Kv = J(J^\top v)` without forming J (:func:`ntk_vp`);
* kernel–target alignment, uncentred :math:`A = \langle K, YY^\top\rangle_F/(\|K\|_F\|YY^\top\|_F)`
  and centred (:math:`K\to HKH`, :math:`Y\to HY`, :math:`H = I - 11^\top/P`) (§4.2);
* effective rank: participation ratio :math:`r_2 = (\sum\lambda)^2/\sum\lambda^2` and entropy rank
  :math:`r_H = \exp(-\sum p_i\ln p_i)`, :math:`p_i=\lambda_i/\sum\lambda` (§4.2);
* :math:`\|K\|_F`;
* sharpness: the top Gauss–Newton eigenvalue and both ends of the full Hessian's spectrum of the
  MSE :math:`\ell = \frac{1}{PC}\sum(f-y)^2` by Lanczos (§2.4: measure them separately).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lazyrich.metrics._hessian import gauss_newton_top, hessian_extremes

NTK_STATS = ("align", "align_centered", "ntk_norm", "rank_pr", "rank_entropy")
SHARPNESS_STATS = ("gn_top", "hess_min", "hess_max")


def ntk_gram(f, params, x, *, chunk: int | None = None):
    r"""Empirical NTK Gram of ``f(params, x) -> (n,)`` or ``(n, C)``, summed over outputs, shape
    ``(n, n)``. Per-sample flattened Jacobians are built ``chunk`` samples at a time
    (``lax.map``), bounding the autodiff workspace; the n×P Jacobian itself is kept."""
    flat, unravel = ravel_pytree(params)

    def jac_one(xi):
        out = lambda th: jnp.reshape(f(unravel(th), xi[None]), (-1,))  # noqa: E731
        return jax.jacrev(out)(flat)  # (C, P)

    n = x.shape[0]
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int | np.integer)
                              or chunk < 1):
        raise ValueError(f"chunk must be a positive integer (samples per Jacobian block) or None, "
                         f"got {chunk!r}")
    b = n if chunk is None else int(min(chunk, n))
    if n % b:
        raise ValueError(f"chunk={chunk} must divide the number of samples {n}")
    J = jax.lax.map(jax.vmap(jac_one), x.reshape(n // b, b, *x.shape[1:]))
    J = J.reshape(n, -1, flat.shape[0])
    return jnp.einsum("icp,jcp->ij", J, J)


def ntk_vp(f, params, x, v):
    r"""NTK–vector product :math:`(JJ^\top)v` with one VJP and one JVP (no Jacobian);
    ``v`` has the shape of ``f(params, x)``."""
    out, vjp = jax.vjp(lambda p: f(p, x), params)
    if v.shape != out.shape:
        raise ValueError(f"v must have the output shape {out.shape}, got {v.shape}")
    (g,) = vjp(v)
    return jax.jvp(lambda p: f(p, x), (params,), (g,))[1]


def _targets2d(y):
    return y[:, None] if y.ndim == 1 else y


def target_alignment(K, y, *, centered: bool = False):
    r"""Kernel–target alignment :math:`\langle K, YY^\top\rangle_F/(\|K\|_F\,\|YY^\top\|_F)`
    (Cristianini et al.); ``centered`` double-centres K and centres Y (Cortes et al.)."""
    Y = _targets2d(y)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or Y.shape[0] != K.shape[0]:
        raise ValueError(f"K must be (n, n) and y (n,) or (n, C); got {K.shape}, {y.shape}")
    if centered:
        K = K - jnp.mean(K, axis=0, keepdims=True)
        K = K - jnp.mean(K, axis=1, keepdims=True)
        Y = Y - jnp.mean(Y, axis=0, keepdims=True)
    T = Y @ Y.T
    return jnp.sum(K * T) / (jnp.linalg.norm(K) * jnp.linalg.norm(T))


def _spectrum(K):
    lam = jnp.linalg.eigvalsh(0.5 * (K + K.T))
    return jnp.clip(lam, 0.0, None)


def participation_ratio(K):
    r"""Effective rank :math:`(\sum\lambda_i)^2/\sum\lambda_i^2` of a PSD kernel."""
    lam = _spectrum(K)
    return jnp.sum(lam) ** 2 / jnp.sum(lam**2)


def entropy_rank(K):
    r"""Effective rank :math:`\exp(-\sum p_i\ln p_i)`, :math:`p_i = \lambda_i/\sum\lambda`."""
    lam = _spectrum(K)
    p = lam / jnp.sum(lam)
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)))


def ntk_stats(K, y):
    """The :data:`NTK_STATS` of a kernel and targets, as a vector."""
    return jnp.stack([target_alignment(K, y), target_alignment(K, y, centered=True),
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
    Hessian, Lanczos on Hessian–vector products). Multiply by N for the spec's N·λ (the step is
    N·η). Lanczos with ``num_iters`` steps: the extreme Ritz values converge first."""
    which = _hook_options("sharpness", SHARPNESS_STATS, x, y, n_eval, which, num_iters=num_iters)
    from lazyrich.sims._train import check_seed, seed_key

    key = seed_key(check_seed("seed", seed))

    def gn(ctx):
        xe, _ = _eval_set(ctx, x, y, n_eval)
        return gauss_newton_top(lambda p: ctx.f(p, xe), ctx.params, key, num_iters)

    def hess(i):
        def hook(ctx):
            xe, ye = _eval_set(ctx, x, y, n_eval)
            loss = lambda p: jnp.mean((ctx.f(p, xe) - ye) ** 2)  # noqa: E731
            return hessian_extremes(loss, ctx.params, key, num_iters)[i]
        return hook

    hooks = {"gn_top": gn, "hess_min": hess(0), "hess_max": hess(1)}
    return {k: hooks[k] for k in which}
