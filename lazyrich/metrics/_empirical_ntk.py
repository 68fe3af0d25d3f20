r"""Empirical neural tangent kernel of any ``apply(params, x)`` (Jacot et al. 2018).

.. math:: \Theta_{ij}^{cc'} = \nabla_\theta f_c(x_i)\cdot\nabla_\theta f_{c'}(x_j)
          = (J J'^\top)_{(ic),(jc')},\qquad J = \partial f/\partial\theta\in\mathbb R^{nC\times P},

by Jacobian contraction: per-sample Jacobians (``vmap(jacrev)``), flattened with
``ravel_pytree``, contracted in chunks of ``batch_size`` samples (``lax.map``), so memory is
:math:`O(n_2 C P + B C P)` plus the kernel (:func:`empirical_ntk`; :func:`ntk_gram` is the
output-summed Gram on one input set that the in-sweep hooks use). Products with the kernel,
:math:`\Theta v = J(J^\top v)`, need no Jacobian: one VJP and one JVP (:func:`ntk_vp`; the
Gauss–Newton sharpness in :mod:`lazyrich.metrics._hessian` is built on the same operator).
Everything here is traceable (runs under ``jit``/``vmap``); value checks run on concrete inputs.

For many samples the :math:`n\times n` kernel cannot be stored, but its Frobenius statistics can:
:math:`\langle\Theta, \Theta'\rangle_F = \|J^\top J'\|_F^2` and
:math:`\langle\Theta, yy^\top\rangle = \|J^\top y\|^2` need only the :math:`P\times P` and
:math:`P\times C` moments, streamed over samples by :func:`ntk_moments` (kernel distance from
initialisation and kernel–target alignment of the NTK on :math:`10^5` samples; docs: Richness).
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lazyrich._checks import require_finite


def _flat_jacobian(apply, params):
    """x (d...) -> J (C, P) for one sample; scalar outputs give C = 1."""
    flat, unravel = ravel_pytree(params)

    def f(theta, x):
        out = apply(unravel(theta), x[None])[0]
        return jnp.reshape(out, (-1,))

    jac = jax.jacrev(f)
    return flat, lambda x: jac(flat, x)


def _chunks(x, b):
    """``x`` as ``(ceil(n/b), b, ...)`` blocks. The last block is padded with copies of the last
    sample, never zeros: a network need not be differentiable at x = 0 (x/‖x‖, log), and a NaN
    Jacobian of a padding row would survive being multiplied by a zero weight."""
    n = x.shape[0]
    nb = -(-n // b)
    pad = nb * b - n
    xp = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
    return xp.reshape(nb, b, *x.shape[1:]), n


def _check_batch_size(name, b):
    if b is not None and (isinstance(b, bool) or not isinstance(b, int | np.integer) or b < 1):
        raise ValueError(f"{name} must be a positive integer (samples per Jacobian block) or "
                         f"None, got {b!r}")


def jacobian(apply: Callable, params, x, *, batch_size: int | None = None):
    """Per-sample flattened Jacobians :math:`\\partial f_c(x_i)/\\partial\\theta`, ``(n, C, P)``."""
    _check_batch_size("batch_size", batch_size)
    _, jac = _flat_jacobian(apply, params)
    x = jnp.asarray(x)
    b = x.shape[0] if batch_size is None else int(min(batch_size, x.shape[0]))
    xb, n = _chunks(x, b)
    J = jax.lax.map(jax.vmap(jac), xb)
    return J.reshape(-1, *J.shape[2:])[:n]


def empirical_ntk(apply: Callable, params, x1, x2=None, *, batch_size: int | None = None,
                  trace_outputs: bool = True):
    r"""Empirical NTK :math:`\Theta(x_1, x_2)` by Jacobian contraction.

    Args:
        apply: ``apply(params, x) -> outputs`` with ``x`` a batch (samples on axis 0) and outputs
            ``(B,)`` or ``(B, C)``; any parameter pytree.
        x1, x2: inputs (samples on axis 0); ``x2`` defaults to ``x1``.
        batch_size: samples per Jacobian chunk (``lax.map``; bounds the autodiff workspace).
            The Jacobians themselves take :math:`O((n_1+n_2)CP)` memory; for many samples use
            :func:`ntk_moments`.
        trace_outputs: return :math:`\sum_c\Theta^{cc}`, shape ``(n1, n2)`` (default);
            otherwise the full kernel, shape ``(n1, C, n2, C)``.
    """
    x1 = jnp.asarray(x1)
    require_finite("x1", x1)
    if x2 is not None:
        x2 = jnp.asarray(x2)
        require_finite("x2", x2)
        if x2.shape[1:] != x1.shape[1:]:
            raise ValueError(f"x1 and x2 must have the same sample shape, got {x1.shape} and "
                             f"{x2.shape}")
    _check_batch_size("batch_size", batch_size)
    J1 = jacobian(apply, params, x1, batch_size=batch_size)  # (n1, C, P)
    J2 = J1 if x2 is None else jacobian(apply, params, x2, batch_size=batch_size)
    if trace_outputs:
        return jnp.einsum("icp,jcp->ij", J1, J2)
    return jnp.einsum("icp,jdp->icjd", J1, J2)


def ntk_gram(f: Callable, params, x, *, chunk: int | None = None):
    r"""Empirical NTK Gram of ``f(params, x) -> (n,)`` or ``(n, C)`` on one set of inputs, summed
    over outputs:

    .. math:: K_{\mu\nu} = \sum_c \nabla_\theta f_c(x_\mu)\cdot\nabla_\theta f_c(x_\nu),
              \qquad K\in\mathbb R^{n\times n}.

    The same computation as ``empirical_ntk(f, params, x, batch_size=chunk)`` (this is the name
    the in-sweep hooks use): traceable, so it runs inside ``jit``/``vmap`` of a sweep. ``chunk``
    samples per Jacobian block (any value; the last block is padded).
    """
    _check_batch_size("chunk", chunk)
    return empirical_ntk(f, params, x, batch_size=chunk)


def _ntk_operator(f_fn: Callable, params):
    r"""Linearise ``f_fn(params) -> outputs`` once; return ``(outputs, u -> J J^\top u)``, each
    product one VJP and one JVP (no Jacobian is formed)."""
    out, vjp = jax.vjp(f_fn, params)

    def op(u):
        (g,) = vjp(u)
        return jax.jvp(f_fn, (params,), (g,))[1]

    return out, op


def ntk_vp(f: Callable, params, x, v):
    r"""NTK–vector product :math:`(JJ^\top)v`, i.e. :math:`\sum_{\nu c'}\Theta^{cc'}_{\mu\nu}
    v_{\nu c'}`, with one VJP and one JVP (no Jacobian); ``v`` has the shape of
    ``f(params, x)``. Traceable."""
    out, op = _ntk_operator(lambda p: f(p, x), params)
    if np.shape(v) != out.shape:
        raise ValueError(f"v must have the output shape {out.shape}, got {np.shape(v)}")
    return op(v)


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["n", "jtj", "j0tj", "j0tj0", "jty", "yty"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class NTKMoments:
    r"""Streamed moments of the empirical NTK over n samples (full :math:`nC\times nC` kernel).

    ``jtj`` :math:`= J_t^\top J_t`, ``j0tj`` :math:`= J_0^\top J_t`,
    ``j0tj0`` :math:`= J_0^\top J_0`
    (all :math:`P\times P`), ``jty`` :math:`= J_t^\top y`, ``yty`` :math:`= y^\top y` with
    :math:`y\in\mathbb R^{nC}` the stacked targets.
    """

    n: jax.Array
    jtj: jax.Array
    j0tj: jax.Array
    j0tj0: jax.Array
    jty: jax.Array
    yty: jax.Array

    @property
    def distance_from_init(self):
        r"""Kernel distance
        :math:`1-\langle\Theta_0,\Theta_t\rangle_F/(\|\Theta_0\|_F\|\Theta_t\|_F)`."""
        inner = jnp.sum(self.j0tj * self.j0tj)
        norms = jnp.sum(self.jtj * self.jtj) * jnp.sum(self.j0tj0 * self.j0tj0)
        return 1.0 - inner / jnp.sqrt(norms)

    @property
    def target_alignment(self):
        r"""Uncentred kernel–target alignment
        :math:`y^\top\Theta_t y/(\|\Theta_t\|_F\,y^\top y)`."""
        return jnp.sum(self.jty * self.jty) / (jnp.sqrt(jnp.sum(self.jtj * self.jtj)) * self.yty)


def ntk_moments(apply: Callable, params, x, *, params0=None, targets=None,
                batch_size: int | None = 256, dtype=jnp.float64) -> NTKMoments:
    r"""Stream the :math:`P\times P` moments of the NTK over ``x`` (memory :math:`O(P^2 + BCP)`).

    Cost :math:`O(nCP^2)`: the tool for many samples and a small model (:math:`P\lesssim 10^4`);
    the kernel itself (:math:`n^2` entries) is never formed. ``params0`` (default ``params``)
    gives the reference kernel for :attr:`NTKMoments.distance_from_init`; ``targets`` of shape
    ``(n,)`` or ``(n, C)`` give :attr:`NTKMoments.target_alignment`.
    """
    _check_batch_size("batch_size", batch_size)
    x = jnp.asarray(x)
    require_finite("x", x)
    n = x.shape[0]
    p0 = params if params0 is None else params0
    out_shape = jax.eval_shape(apply, params, x[:1]).shape
    C = int(np.prod(out_shape[1:], dtype=int))
    if targets is not None and (np.shape(targets)[0] != n or int(np.size(targets)) != n * C):
        raise ValueError(f"targets must have shape ({n},) or ({n}, {C}) to match x and the "
                         f"{C} outputs, got {np.shape(targets)}")
    y = jnp.zeros((n, C), dtype) if targets is None else jnp.asarray(targets, dtype).reshape(n, C)
    _, jac = _flat_jacobian(apply, params)
    _, jac0 = _flat_jacobian(apply, p0)
    b = n if batch_size is None else int(min(batch_size, n))
    xb, _ = _chunks(x, b)
    nb = xb.shape[0]
    w = (jnp.arange(nb * b) < n).astype(dtype).reshape(nb, b)
    yb, _ = _chunks(y, b)
    P = ravel_pytree(params)[0].shape[0]

    def body(acc, args):
        xc, wc, yc = args
        J = jax.vmap(jac)(xc).astype(dtype) * wc[:, None, None]  # (B, C, P), padding zeroed
        J0 = jax.vmap(jac0)(xc).astype(dtype) * wc[:, None, None]
        Jf = J.reshape(-1, P)
        J0f = J0.reshape(-1, P)
        yf = yc.reshape(-1)
        return NTKMoments(acc.n + jnp.sum(wc), acc.jtj + Jf.T @ Jf, acc.j0tj + J0f.T @ Jf,
                          acc.j0tj0 + J0f.T @ J0f, acc.jty + Jf.T @ yf,
                          acc.yty + jnp.sum(yf * yf * jnp.repeat(wc, C))), None

    z = jnp.zeros((P, P), dtype)
    init = NTKMoments(jnp.zeros((), dtype), z, z, z, jnp.zeros(P, dtype), jnp.zeros((), dtype))
    out, _ = jax.lax.scan(jax.jit(body), init, (xb, w, yb))
    return out
