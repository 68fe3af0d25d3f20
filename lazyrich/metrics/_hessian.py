r"""Sharpness without forming matrices: Lanczos on Hessian- and Gauss–Newton-vector products
(docs: Gamma scaling).

For a loss :math:`\ell(\theta) = \frac{1}{PC}\sum_{\mu,c}(f_c(x_\mu;\theta) - y_{\mu c})^2` (the
engine's MSE, no ½; docs: Conventions),

.. math::
    H = \underbrace{\tfrac{2}{PC}J^\top J}_{\text{Gauss–Newton}}
      + \tfrac{2}{PC}\sum_{\mu c} r_{\mu c}\,\nabla^2_\theta f_c(x_\mu),

and the Gauss–Newton part has the same non-zero spectrum as :math:`\tfrac{2}{PC}JJ^\top`, i.e.
the NTK Gram matrix. Both ends of the full Hessian's spectrum matter: for γ ≫ 1 the residual
term, indefinite and :math:`\propto\gamma^{-1}`, dominates at initialisation: there
:math:`f\equiv 0`, the residual is :math:`-y`, and
:math:`H = \tfrac{2}{PC}\bigl[J_g^\top J_g/\gamma^2 - \gamma^{-1}\sum_{\mu c}y_{\mu c}
\nabla^2_\theta g_c(x_\mu)\bigr]`, so the Gauss–Newton part scales exactly as
:math:`\gamma^{-2}` and the residual part exactly as :math:`\gamma^{-1}`.
"""

import functools

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from lazyrich._deprecation import key_first

from ._empirical_ntk import _ntk_operator


@functools.partial(jax.jit, static_argnames=("matvec", "num_iters"))
def _lanczos_ritz(matvec, v0, num_iters):
    n = v0.shape[0]
    V = jnp.zeros((num_iters + 1, n), v0.dtype).at[0].set(v0 / jnp.linalg.norm(v0))
    tiny = jnp.finfo(v0.dtype).tiny ** 0.5

    def body(j, carry):
        V, al, be = carry
        w = matvec(V[j])
        a = jnp.vdot(V[j], w)
        # full re-orthogonalisation, twice ("twice is enough"): keeps Ritz values free of ghosts
        w = w - V.T @ (V @ w)
        w = w - V.T @ (V @ w)
        b = jnp.linalg.norm(w)
        V = V.at[j + 1].set(jnp.where(b > tiny, w / jnp.maximum(b, tiny), 0.0))
        return V, al.at[j].set(a), be.at[j].set(b)

    _, al, be = jax.lax.fori_loop(0, num_iters, body, (V, jnp.zeros(num_iters, v0.dtype),
                                                       jnp.zeros(num_iters, v0.dtype)))
    T = jnp.diag(al) + jnp.diag(be[:-1], 1) + jnp.diag(be[:-1], -1)
    return jnp.linalg.eigvalsh(T)


def lanczos_extremes(matvec, v0, num_iters: int = 30):
    r"""Smallest and largest eigenvalue of a symmetric operator by ``num_iters`` Lanczos steps.

    ``matvec`` must be a hashable callable on flat vectors (it is a static argument of the jitted
    kernel). Extreme Ritz values converge first; the error falls geometrically with the spectral
    gap. ``num_iters`` is capped at the dimension.
    """
    v0 = jnp.asarray(v0)
    if v0.ndim != 1:
        raise ValueError(f"v0 must be a flat vector, got shape {v0.shape}")
    k = int(min(num_iters, v0.shape[0]))
    if k < 1:
        raise ValueError(f"num_iters must be >= 1, got {num_iters}")
    ritz = _lanczos_ritz(matvec, v0, k)
    return ritz[0], ritz[-1]


@key_first(2)
def hessian_extremes(key, loss_fn, params, num_iters: int = 30):
    r"""Extreme eigenvalues :math:`(\lambda_{\min}, \lambda_{\max})` of :math:`\nabla^2\ell(\theta)`
    for any pytree ``params``, from Hessian-vector products (forward-over-reverse)."""
    flat, unravel = ravel_pytree(params)
    grad = jax.grad(lambda p: loss_fn(unravel(p)))

    @jax.tree_util.Partial
    def hvp(v):
        return jax.jvp(grad, (flat,), (v,))[1]

    v0 = jax.random.normal(key, flat.shape, flat.dtype)
    return lanczos_extremes(hvp, v0, num_iters)


@key_first(2)
def gauss_newton_top(key, f_fn, params, num_iters: int = 30):
    r"""Top eigenvalue of the Gauss–Newton matrix :math:`\frac{2}{PC}J^\top J` of the MSE loss,
    computed in function space as the top eigenvalue of :math:`\frac{2}{PC}JJ^\top` (the NTK
    Gram) with one JVP and one VJP per Lanczos step (the operator of
    :func:`~lazyrich.metrics.ntk_vp`).

    ``f_fn(params) -> outputs`` of shape ``(P, C)`` (or ``(P,)``) on the evaluation batch.
    """
    out, ntk = _ntk_operator(f_fn, params)
    shape, m = out.shape, out.size

    @jax.tree_util.Partial
    def gram(u):
        return ntk(u.reshape(shape)).reshape(-1) * (2.0 / m)

    v0 = jax.random.normal(key, (m,), out.dtype)
    return lanczos_extremes(gram, v0, num_iters)[1]
