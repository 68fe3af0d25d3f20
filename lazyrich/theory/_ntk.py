r"""Neural tangent kernel of a two-layer linear network and the kernel distance.

Dominé et al. 2025; Fort et al. 2020 (docs: Linear networks, "Kernels and representations").
"""

import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    dtype_of,
    require_finite,
    require_ndim,
    require_real,
    two_layer_dims,
)


def _batch_shape(name_a: str, a, name_b: str, b) -> tuple[int, ...]:
    """Broadcast shape of the leading (batch) axes of two stacks of matrices, or a clear error."""
    try:
        return np.broadcast_shapes(np.shape(a)[:-2], np.shape(b)[:-2])
    except ValueError:
        raise ValueError(f"the leading (batch) axes of {name_a} {np.shape(a)} and {name_b} "
                         f"{np.shape(b)} must broadcast against each other") from None


def two_layer_ntk(W1, W2, X):
    r"""Empirical NTK of :math:`f(X) = W_2W_1X` (docs: Linear networks).

    .. math::
        K = I_{N_o}\otimes (X^\top W_1^\top W_1 X) + (W_2W_2^\top)\otimes(X^\top X),

    of size :math:`N_oP\times N_oP`, rows ordered output-major (``np.kron`` ordering: row
    ``o*P + mu`` is output ``o`` on sample ``mu``). The first term comes from :math:`W_2`'s
    parameters, the second from :math:`W_1`'s. Leading batch axes of ``W1``/``W2`` (e.g. time)
    are broadcast.

    Args:
        W1: ``(..., n_hidden, n_in)``. W2: ``(..., n_out, n_hidden)``. X: ``(n_in, P)``,
        columns are samples. All real.
    """
    for name, x in (("W1", W1), ("W2", W2), ("X", X)):
        require_real(name, x)
    W1, W2 = jnp.asarray(W1), jnp.asarray(W2)
    require_ndim("X", X, 2, "shape (n_in, P), columns are samples")
    for name, w in (("W1", W1), ("W2", W2)):
        if w.ndim < 2:
            raise ValueError(f"{name} must be at least 2-D (a matrix, optionally with leading "
                             f"batch axes), got shape {w.shape}")
    _batch_shape("W1", W1, "W2", W2)
    two_layer_dims(W1[(0,) * (W1.ndim - 2)], W2[(0,) * (W2.ndim - 2)])
    if np.shape(X)[0] != W1.shape[-1]:
        raise ValueError(f"X must have n_in = {W1.shape[-1]} rows (shape (n_in, P)), "
                         f"got {np.shape(X)}")
    require_finite("W1", W1)   # the batch, not only its first entry
    require_finite("W2", W2)
    require_finite("X", X)
    A = jnp.swapaxes(W1, -1, -2) @ W1
    B = W2 @ jnp.swapaxes(W2, -1, -2)
    return ntk_from_reps(A, B, X)


def ntk_from_reps(input_rep, output_rep, X):
    r"""The NTK of :func:`two_layer_ntk` from the representations :math:`A = W_1^\top W_1`,
    :math:`B = W_2W_2^\top`: :math:`K = I_{N_o}\otimes(X^\top AX) + B\otimes(X^\top X)`.

    This is how the closed form gives NTK(t): substitute the diagonal blocks of :math:`P(T)`.

    Args:
        input_rep: ``(..., n_in, n_in)``. output_rep: ``(..., n_out, n_out)``; leading axes
        broadcast. X: ``(n_in, P)``. All real and finite.
    """
    for name, x in (("input_rep", input_rep), ("output_rep", output_rep), ("X", X)):
        require_real(name, x)
    require_ndim("X", X, 2, "shape (n_in, P), columns are samples")
    n_i = np.shape(X)[0]
    for name, r in (("input_rep", input_rep), ("output_rep", output_rep)):
        if np.ndim(r) < 2 or np.shape(r)[-1] != np.shape(r)[-2]:
            raise ValueError(f"{name} must be a square matrix (..., n, n), got shape "
                             f"{np.shape(r)}")
    if np.shape(input_rep)[-1] != n_i:
        raise ValueError(f"input_rep must be (..., n_in, n_in) with n_in = {n_i} (the rows of "
                         f"X), got shape {np.shape(input_rep)}")
    batch = _batch_shape("input_rep", input_rep, "output_rep", output_rep)
    for name, x in (("input_rep", input_rep), ("output_rep", output_rep), ("X", X)):
        require_finite(name, x)
    dt = jnp.result_type(input_rep)
    dt = dt if jnp.issubdtype(dt, jnp.floating) else jnp.result_type(float)
    input_rep = jnp.asarray(input_rep, dtype=dt)
    output_rep = jnp.asarray(output_rep, dtype=dt)
    X = jnp.asarray(X, dtype=dt)
    n_o = np.shape(output_rep)[-1]
    XAX = jnp.swapaxes(X, 0, 1) @ input_rep @ X  # (..., P, P)
    XX = jnp.swapaxes(X, 0, 1) @ X
    eye = jnp.eye(n_o, dtype=XAX.dtype)
    p = np.shape(X)[1]
    # K[o, mu, o', nu] = δ_oo' (XᵀAX)[mu, nu] + B[o, o'] (XᵀX)[mu, nu]
    t1 = jnp.einsum("ab,...mn->...ambn", eye, XAX)
    t2 = jnp.einsum("...ab,mn->...ambn", output_rep, XX)
    t1, t2 = jnp.broadcast_arrays(t1, t2)   # explicit: batch axes may differ in rank
    return (t1 + t2).reshape(*batch, n_o * p, n_o * p)


def kernel_distance(K0, K1):
    r"""Kernel distance (Fort et al. 2020; docs: Linear networks), scale-invariant:

    .. math:: S = 1 - \frac{\langle K_0, K_1\rangle_F}{\|K_0\|_F\,\|K_1\|_F}\in[0, 2].

    Lazy training keeps :math:`S\approx 0`; rich training makes it :math:`O(1)`. Leading axes
    broadcast, so ``kernel_distance(K[0], K)`` gives :math:`S(t)` for a stack of kernels.
    Round-off can push the cosine a few ulp past ±1; S is clipped to [0, 2].

    Args:
        K0, K1: real square kernels ``(..., n, n)``, finite, not identically zero (S is a
            cosine: it has no value, and no limit, for a zero kernel).

    Raises:
        ValueError: shapes, non-finite entries, or a zero kernel (concrete inputs; under
            ``jit`` a zero kernel gives NaN).
        TypeError: complex or boolean kernels.
    """
    for name, K in (("K0", K0), ("K1", K1)):
        require_real(name, K)
        if np.ndim(K) < 2 or np.shape(K)[-1] != np.shape(K)[-2]:
            raise ValueError(f"{name} must be a square kernel (..., n, n), got shape "
                             f"{np.shape(K)}")
    if np.shape(K0)[-2:] != np.shape(K1)[-2:]:
        raise ValueError(f"kernels must have the same trailing shape, got {np.shape(K0)} and "
                         f"{np.shape(K1)}")
    _batch_shape("K0", K0, "K1", K1)
    require_finite("K0", K0)
    require_finite("K1", K1)
    dt = np.result_type(dtype_of(K0), dtype_of(K1))
    dt = dt if np.issubdtype(dt, np.floating) else jnp.result_type(float)
    K0, K1 = jnp.broadcast_arrays(jnp.asarray(K0, dtype=dt), jnp.asarray(K1, dtype=dt))
    n0 = jnp.sqrt(jnp.sum(K0 * K0, axis=(-2, -1)))
    n1 = jnp.sqrt(jnp.sum(K1 * K1, axis=(-2, -1)))
    for name, n in (("K0", n0), ("K1", n1)):
        v = concrete(n)
        if v is not None and np.any(v == 0):
            where = "" if v.ndim == 0 else f" at batch index {np.argwhere(v == 0)[0].tolist()}"
            raise ValueError(f"{name} is identically zero{where}: the kernel distance is a cosine "
                             f"and is undefined for a zero kernel; expected a kernel with "
                             f"||{name}||_F > 0")
    inner = jnp.sum(K0 * K1, axis=(-2, -1))
    return jnp.clip(1.0 - inner / (n0 * n1), 0.0, 2.0)
