r"""Solvers for the non-negative quadratic program of the mean-field capacity (spec §3.7).

Per sample the anchor problem is the dual of the projection onto a polyhedral cone,

.. math:: \lambda^* = \arg\min_{\lambda\ge0}\ \tfrac12\lambda^\top Q\lambda - c^\top\lambda,
          \qquad Q = D K D,\quad c = D u,

with :math:`K` the Gram matrix of the points, :math:`D=\mathrm{diag}(d)` the signs and
:math:`u\sim N(0,K)`. Equivalently, with :math:`K = BB^\top` and :math:`u = Bz`, the
non-negative least-squares problem :math:`\min_{\lambda\ge0}\|B^\top D\lambda - z\|^2`.

Two exact backends, tested against each other:

* :func:`nnls_cpu`: Lawson–Hanson active set (``scipy.optimize.nnls``) on the factored form,
  wrapped in column generation (solve on a candidate subset, add every coordinate whose
  gradient violates the KKT conditions, repeat). Finite termination, exact support; the CPU
  default.
* :func:`box_qp_ipm`: a Mehrotra predictor–corrector primal–dual interior-point method with a
  fixed iteration count, pure JAX (``vmap``/``jit``-able, one Cholesky per iteration): the
  accelerator backend.

Both report the KKT residual :func:`kkt_residual` so callers can verify the answer.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import nnls


def kkt_residual(Q, c, lam):
    r"""Scaled KKT violation of :math:`\lambda` for :math:`\min_{\lambda\ge0}\frac12\lambda^\top
    Q\lambda - c^\top\lambda`: the largest of :math:`\max(-\lambda)`, :math:`\max(-g)` and
    :math:`\max|\lambda_i g_i|` with :math:`g = Q\lambda - c`, relative to
    :math:`1+\|c\|_\infty` (resp. its square for the complementarity term). Works batched."""
    g = jnp.einsum("...ij,...j->...i", Q, lam) - c
    sc = 1.0 + jnp.max(jnp.abs(c), axis=-1)
    r1 = jnp.max(jnp.maximum(-lam, 0.0), axis=-1)
    r2 = jnp.max(jnp.maximum(-g, 0.0), axis=-1) / sc
    r3 = jnp.max(jnp.abs(lam * g), axis=-1) / sc**2
    return jnp.maximum(jnp.maximum(r1, r2), r3)


def _max_step(v, dv):
    ratio = jnp.where(dv < 0, -v / jnp.where(dv < 0, dv, -1.0), jnp.inf)
    return jnp.minimum(1.0, jnp.min(ratio))


@functools.partial(jax.jit, static_argnames=("iters",))
def box_qp_ipm(Q, c, iters: int = 40):
    r"""Primal–dual interior point for :math:`\min_{\lambda\ge0}\frac12\lambda^\top Q\lambda -
    c^\top\lambda` (one problem; ``vmap`` for a batch).

    Variables :math:`(\lambda, s)` with :math:`s = Q\lambda - c \ge 0`, :math:`\lambda_i s_i = 0`.
    Each iteration solves :math:`(Q + \Lambda^{-1}S)\,\Delta\lambda = \dots` by one Cholesky
    factorization shared by the predictor and the corrector (Mehrotra, centering
    :math:`\sigma = (\mu_\text{aff}/\mu)^3`), with a common primal/dual step and fraction to the
    boundary 0.995. A jitter of :math:`10^{-13}\,\mathrm{tr}(Q)/n` keeps the factorization
    defined when the active block of :math:`Q` is singular (duplicate or collinear points); it
    only perturbs search directions, the residuals are exact. ``Q`` should be scaled to
    :math:`\lambda_\max(Q)\approx1`.

    Returns:
        ``(lam, kkt)``: the solution (float, shape ``(n,)``) and :func:`kkt_residual`.
    """
    n = c.shape[0]
    dt = Q.dtype
    jitter = 1e-13 * jnp.trace(Q) / n + jnp.finfo(dt).tiny
    x0 = jnp.ones(n, dt)
    s0 = jnp.ones(n, dt)

    def body(carry, _):
        x, s = carry
        rd = Q @ x - c - s
        mu = jnp.dot(x, s) / n
        H = Q + jnp.diag(s / x + jitter)
        L = jnp.linalg.cholesky(H)

        def solve(rhs):
            return jax.scipy.linalg.cho_solve((L, True), rhs)

        def direction(rc):
            dx = solve(-rd - rc / x)
            return dx, (-rc - s * dx) / x

        dx_a, ds_a = direction(x * s)
        a_aff = jnp.minimum(_max_step(x, dx_a), _max_step(s, ds_a))
        mu_aff = jnp.dot(x + a_aff * dx_a, s + a_aff * ds_a) / n
        sigma = (mu_aff / mu) ** 3
        dx, ds = direction(x * s + dx_a * ds_a - sigma * mu)
        a = 0.995 * jnp.minimum(_max_step(x, dx), _max_step(s, ds))
        x_new = x + a * dx
        s_new = s + a * ds
        ok = jnp.all(jnp.isfinite(x_new)) & jnp.all(jnp.isfinite(s_new)) & (mu > 0)
        return (jnp.where(ok, x_new, x), jnp.where(ok, s_new, s)), None

    (x, s), _ = jax.lax.scan(body, (x0, s0), None, length=iters)
    # Complementarity is ~1e-16 here; clip the interior's tiny positive values of inactive
    # coordinates using the dual slack (s_i >> x_i), which makes the support exact.
    lam = jnp.where(s > x, 0.0, x)
    return lam, kkt_residual(Q, c, lam)


def nnls_cpu(F, z, *, tol: float = 1e-10, max_rounds: int = 50, start: int | None = None):
    r"""Exact NNLS :math:`\min_{\lambda\ge0}\|F\lambda - z\|^2` by column generation (host, NumPy).

    Start from the ``start`` columns with the largest positive correlation :math:`F^\top z`
    (default ``min(n, max(40, 4 sqrt n))``), solve the restricted NNLS with Lawson–Hanson, then
    add every column whose gradient :math:`g = F^\top(F\lambda - z)` is below
    :math:`-\text{tol}\,(1+\|F^\top z\|_\infty)`; stop when none is (the KKT conditions of the full
    problem then hold). The solution is sparse (tens of anchors out of hundreds of points), so
    the restricted problems are small.

    Args:
        F: ``(r, n)`` matrix (columns: signed points in isometric coordinates).
        z: ``(r,)`` right-hand side.

    Returns:
        ``lam`` of shape ``(n,)``.
    """
    r, n = F.shape
    Fz = F.T @ z
    scale = tol * (1.0 + np.max(np.abs(Fz)))
    k0 = min(n, start if start is not None else max(40, int(4 * np.sqrt(n))))
    cand = np.argsort(-Fz)[:k0]
    mask = np.zeros(n, bool)
    mask[cand] = True
    lam = np.zeros(n)
    for _ in range(max_rounds):
        idx = np.flatnonzero(mask)
        sol, _ = nnls(F[:, idx], z, maxiter=50 * max(idx.size, 10))
        lam[:] = 0.0
        lam[idx] = sol
        g = F.T @ (F[:, idx] @ sol - z)
        viol = (~mask) & (g < -scale)
        if not viol.any():
            return lam
        # add the worst violators (at most as many as are already in the model)
        order = np.flatnonzero(viol)
        order = order[np.argsort(g[order])][: max(idx.size, 10)]
        mask[order] = True
    raise RuntimeError(f"column generation did not converge in {max_rounds} rounds")
