r"""Solvers for the non-negative quadratic program of the mean-field capacity
(docs: Manifold capacity, "Mean-field capacity").

Per sample the anchor problem is the dual of the projection onto a polyhedral cone,

.. math:: \lambda^* = \arg\min_{\lambda\ge0}\ \tfrac12\lambda^\top Q\lambda - c^\top\lambda,
          \qquad Q = D K D,\quad c = D u,

with :math:`K` the Gram matrix of the points, :math:`D=\mathrm{diag}(d)` the signs and
:math:`u\sim N(0,K)`. Equivalently, with :math:`K = BB^\top` and :math:`u = Bz`, the
non-negative least-squares problem :math:`\min_{\lambda\ge0}\|F\lambda - z\|^2`,
:math:`F = (DB)^\top`, whose solution gives the projection :math:`p = F\lambda^*` of :math:`z`
onto the cone :math:`C = \{F\lambda : \lambda\ge0\}`.

Backends:

* :func:`nnls_cpu`: Lawson–Hanson active set (``scipy.optimize.nnls``) on the factored form,
  wrapped in column generation, then :func:`polish_nnls`. The CPU default.
* :func:`box_qp_ipm`: a Mehrotra predictor–corrector primal–dual interior-point method with a
  fixed iteration count, pure JAX (``vmap``/``jit``-able): the accelerator backend. Its answer is
  approximate (interior points never reach the boundary exactly); callers polish it with
  :func:`polish_nnls`.
* :func:`polish_nnls`: a Lawson–Hanson active-set refinement in float64 from any starting point,
  with least squares on the support by SVD, so that it stays exact when the support's columns are
  nearly collinear.
* :func:`exact_nnls`: accepts a candidate only with a certified residual, else polishes it, else
  solves by BVLS (an independent active-set method).

Accuracy is certified by :func:`projection_residual`, the Moreau conditions of the projection
(see its docstring). It does not depend on how :math:`\lambda` parametrises the projection. The
residual :math:`\max_i|\lambda_i g_i|` of the QP in :math:`\lambda` does: on strongly
correlated features (a large common mean) the support's columns have condition numbers of
:math:`10^7`, :math:`\|\lambda\|` reaches :math:`10^7` and that residual has a round-off floor
of :math:`\epsilon\|\lambda\|_1^2 \approx 10^{-2}` although the projection is exact to
:math:`10^{-11}` (measured on the CNN features of the capacity claims).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from scipy.optimize import lsq_linear, nnls

_EPS = np.finfo(np.float64).eps


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


def _two_sum(a, b):
    """Knuth's error-free sum: ``s + e == a + b`` exactly."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    """Dekker's error-free product (Veltkamp splitting; no FMA needed): ``p + e == a * b``."""
    p = a * b
    c = 134217729.0 * a  # 2**27 + 1
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


def _cone_point(F, z, lam):
    r""":math:`p = F\lambda` and :math:`\rho = z - p` in twice the working precision (compensated
    dot products, Ogita–Rump–Oishi): near-collinear supports carry :math:`\lambda\sim10^7` whose
    products cancel to :math:`p = O(1)`, which plain float64 gets only to
    :math:`\epsilon\sum_j\lambda_j\|f_j\|`."""
    s = np.zeros(F.shape[0])
    c = np.zeros(F.shape[0])
    for j in np.flatnonzero(lam):
        prod, e1 = _two_prod(F[:, j], lam[j])
        s, e2 = _two_sum(s, prod)
        c += e1 + e2
    d, e = _two_sum(z, -s)
    return s + c, d + (e - c)


def projection_residual(F, z, lam):
    r"""Relative residual of the Moreau conditions for :math:`p = F\lambda` to be the projection of
    :math:`z` onto the cone :math:`C = \{F\lambda:\lambda\ge0\}` (batched over leading axes).

    :math:`p = \Pi_C(z)` if and only if :math:`\lambda\ge0`, the residual :math:`\rho = z - p` lies
    in the polar cone (:math:`f_i^\top\rho\le0` for every column) and :math:`p^\top\rho = 0`. The
    scale-free violations

    .. math:: \max_i\frac{(f_i^\top\rho)_+}{\|f_i\|\,\|z\|},\qquad
              \frac{|p^\top\rho|}{\|z\|^2},\qquad
              \max_i\frac{(-\lambda_i)_+\|f_i\|}{\|z\|}

    are invariant under rescaling of :math:`z` and of each column, and do not depend on how
    :math:`\lambda` parametrises :math:`p` (it is not unique for collinear columns). The largest
    of them is returned (0 for :math:`z = 0`, where :math:`\lambda = 0` is exact). :math:`p` and
    :math:`\rho` are evaluated in compensated (double-double) arithmetic, so the residual is that
    of the given :math:`\lambda`, not of the round-off of evaluating it.

    Args:
        F: ``(..., r, n)``; z: ``(..., r)``; lam: ``(..., n)``.
    """
    F = np.asarray(F, np.float64)
    z = np.asarray(z, np.float64)
    lam = np.asarray(lam, np.float64)
    batch = np.broadcast_shapes(F.shape[:-2], z.shape[:-1], lam.shape[:-1])
    F = np.broadcast_to(F, batch + F.shape[-2:]).reshape(-1, *F.shape[-2:])
    z = np.broadcast_to(z, batch + z.shape[-1:]).reshape(-1, z.shape[-1])
    lam = np.broadcast_to(lam, batch + lam.shape[-1:]).reshape(-1, lam.shape[-1])
    out = np.array([_residual_one(Fk, zk, lk) for Fk, zk, lk in zip(F, z, lam, strict=True)])
    return out.reshape(batch) if batch else float(out[0])


def moreau_violation(p, rho, g, fn, lam, zn):
    r"""The scale-free Moreau residual of :func:`projection_residual` from its pieces (batched
    over leading axes): the projection ``p``, ``rho = z - p``, ``g = F^T rho``, the column norms
    ``fn``, ``lam`` and ``|z|`` (0 where ``|z| = 0``, for which ``lam = 0`` is exact)."""
    cols = np.where(fn > 0, fn, 1.0)
    dual = np.max(np.maximum(g, 0.0) / cols, axis=-1)
    primal = np.max(np.maximum(-lam, 0.0) * fn, axis=-1)
    safe = np.where(zn > 0, zn, 1.0)
    out = np.maximum(np.maximum(dual, primal) / safe, np.abs(np.sum(p * rho, axis=-1)) / safe**2)
    return np.where(zn > 0, out, 0.0)


def _residual_one(F, z, lam):
    p, rho = _cone_point(F, z, np.where(lam > 0, lam, 0.0))
    return float(moreau_violation(p, rho, F.T @ rho, np.linalg.norm(F, axis=0), lam,
                                  np.linalg.norm(z)))


def _least_squares(A, b, refine: int = 2):
    """``argmin ||A x - b||`` by SVD (``gelsd``) with ``refine`` steps of iterative refinement on
    compensated residuals: the fit's residual is then orthogonal to the columns to working
    precision even when ``x`` is large (ill-conditioned ``A``)."""
    x = scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0]
    for _ in range(refine):
        x = x + scipy.linalg.lstsq(A, _cone_point(A, b, x)[1], lapack_driver="gelsd")[0]
    return x


def polish_nnls(F, z, lam, *, tol: float = 1e-12, target: float = 1e-11,
                max_iter: int | None = None):
    r"""Lawson–Hanson active-set refinement of :math:`\min_{\lambda\ge0}\|F\lambda - z\|^2` from a
    starting point ``lam`` (float64, host).

    First the NNLS restricted to the start's support :math:`\{\lambda_i > 0\}` is solved
    (Lawson–Hanson); then each round solves the unconstrained least squares on the support
    :math:`S` (SVD, ``gelsd``), steps back along the segment to stay feasible, dropping the blocking
    coordinates, and adds the column with the most negative scaled gradient
    :math:`g_i/\|f_i\|`, :math:`g = F^\top(F\lambda - z)` (residual in compensated arithmetic),
    until every :math:`g_i \ge -\|f_i\|\,\|z\|\max(\mathrm{tol}, 64\epsilon)` (the round-off
    floor of :math:`g_i`, so round-off never makes it cycle).
    A column whose re-solve drops it at once is skipped until the support changes (the classical
    guard against cycling). The final least squares on :math:`S` is iteratively refined on
    compensated residuals, so that it is exact when the support's columns are nearly collinear.
    From a near-optimal start (an interior point or a restricted Lawson–Hanson solve) it ends in
    a few rounds; a start whose residual is already ``<= target`` is returned as it is.

    Returns:
        ``(lam, residual)``: the polished solution and its :func:`projection_residual`; the start
        is returned unchanged when polishing does not lower the residual.
    """
    F = np.asarray(F, np.float64)
    z = np.asarray(z, np.float64)
    n = F.shape[1]
    start = np.where(np.asarray(lam, np.float64) > 0, lam, 0.0)
    res0 = float(projection_residual(F, z, start))
    if res0 <= target:
        return start, res0
    lam = start.copy()
    idx = np.flatnonzero(lam)
    if idx.size:  # exact Lawson-Hanson on the start's support (an interior point has a wide one)
        lam[idx] = nnls(F[:, idx], z, maxiter=50 * max(idx.size, 10))[0]
    S = lam > 0
    fn = np.linalg.norm(F, axis=0)
    zn = float(np.linalg.norm(z))
    max_iter = 2 * n + 10 if max_iter is None else max_iter
    skip = np.zeros(n, bool)
    added = -1
    for _ in range(max_iter):
        changed = False
        for _ in range(n + 1):  # least squares on S, keeping lam >= 0
            idx = np.flatnonzero(S)
            if idx.size == 0:
                lam[:] = 0.0
                break
            xs = _least_squares(F[:, idx], z, refine=0)
            if np.all(xs > 0):
                lam[:] = 0.0
                lam[idx] = xs
                break
            cur = lam[idx]
            neg = xs <= 0
            ratios = cur[neg] / (cur[neg] - xs[neg])
            alpha = np.min(ratios)
            new = cur + alpha * (xs - cur)
            out = new <= 0
            out[np.flatnonzero(neg)[ratios <= alpha]] = True
            if alpha == 0 and np.array_equal(idx[out], [added]):
                skip[added] = True
            else:
                changed = True
            lam[idx] = np.where(out, 0.0, new)
            S[idx[out]] = False
        if changed:
            skip[:] = False
        g = -(F.T @ _cone_point(F, z, lam)[1])
        theta = fn * max(tol, 64 * _EPS) * zn
        cand = np.flatnonzero(~S & ~skip & (g < -theta))
        if cand.size == 0:
            break
        added = cand[np.argmin(g[cand] / fn[cand])]
        S[added] = True
    idx = np.flatnonzero(S)
    if idx.size:
        xs = _least_squares(F[:, idx], z)
        if np.all(xs > 0):
            lam[:] = 0.0
            lam[idx] = xs
    res = float(projection_residual(F, z, lam))
    return (lam, res) if res < res0 else (start, res0)


def exact_nnls(F, z, lam=None, *, target: float = 1e-11):
    r"""Certified NNLS :math:`\min_{\lambda\ge0}\|F\lambda - z\|^2` from a candidate ``lam``
    (default: none, i.e. :math:`\lambda = 0`).

    The candidate is accepted if its :func:`projection_residual` is ``<= target``; else it is
    refined by :func:`polish_nnls`; if that does not reach ``target`` either, the problem is
    solved afresh by bounded-variable least squares (Stark–Parker BVLS,
    ``scipy.optimize.lsq_linear``), an independent active-set method that stays exact when
    Lawson–Hanson's support degenerates (``scipy.optimize.nnls`` returned supports of condition
    number 1e17, :math:`\lambda\sim10^{14}` and residual 7.5e-3 on one sample of the CNN
    features of the capacity claims; BVLS: 2e-12). The best of the three is returned.

    Returns:
        ``(lam, residual)``.
    """
    F = np.asarray(F, np.float64)
    z = np.asarray(z, np.float64)
    lam = np.zeros(F.shape[1]) if lam is None else np.where(np.asarray(lam) > 0, lam, 0.0)
    best = (lam, float(projection_residual(F, z, lam)))
    if best[1] <= target:
        return best
    best = min(best, polish_nnls(F, z, lam, target=target), key=lambda b: b[1])
    if best[1] <= target:
        return best
    x = lsq_linear(F, z, bounds=(0.0, np.inf), method="bvls", tol=1e-14, max_iter=50 * F.shape[1])
    x = np.maximum(x.x, 0.0)
    return min(best, (x, float(projection_residual(F, z, x))), key=lambda b: b[1])


def nnls_cpu(F, z, *, tol: float = 1e-10, max_rounds: int = 50, start: int | None = None):
    r"""Exact NNLS :math:`\min_{\lambda\ge0}\|F\lambda - z\|^2` by column generation, certified
    by :func:`exact_nnls` (host, NumPy).

    Start from the ``start`` columns with the largest positive correlation :math:`F^\top z`
    (default ``min(n, max(40, 4 sqrt n))``), solve the restricted NNLS with Lawson–Hanson, then
    add every column whose gradient :math:`g = F^\top(F\lambda - z)` is below
    :math:`-\text{tol}\,(1+\|F^\top z\|_\infty)`; stop when none is (the KKT conditions of the full
    problem then hold), then certify. The solution is sparse (tens of anchors out of hundreds of
    points), so the restricted problems are small.

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
            return exact_nnls(F, z, lam)[0]
        # add the worst violators (at most as many as are already in the model)
        order = np.flatnonzero(viol)
        order = order[np.argsort(g[order])][: max(idx.size, 10)]
        mask[order] = True
    return exact_nnls(F, z, lam)[0]
