r"""Neural tangent kernel of a two-layer linear network and the kernel distance.

Spec: linear-networks.md §3.1–3.2.
"""

import jax.numpy as jnp
import numpy as np

from lazyrich._checks import require_finite, require_ndim, two_layer_dims


def two_layer_ntk(W1, W2, X):
    r"""Empirical NTK of :math:`f(X) = W_2W_1X` (spec §3.1).

    .. math::
        K = I_{N_o}\otimes (X^\top W_1^\top W_1 X) + (W_2W_2^\top)\otimes(X^\top X),

    of size :math:`N_oP\times N_oP`, rows ordered output-major (``np.kron`` ordering: row
    ``o*P + mu`` is output ``o`` on sample ``mu``). The first term comes from :math:`W_2`'s
    parameters, the second from :math:`W_1`'s. Leading batch axes of ``W1``/``W2`` (e.g. time)
    are broadcast.

    Args:
        W1: ``(..., n_hidden, n_in)``. W2: ``(..., n_out, n_hidden)``. X: ``(n_in, P)``,
        columns are samples.
    """
    require_ndim("X", X, 2, "shape (n_in, P), columns are samples")
    two_layer_dims(W1[(0,) * (jnp.ndim(W1) - 2)], W2[(0,) * (jnp.ndim(W2) - 2)])
    if np.shape(X)[0] != np.shape(W1)[-1]:
        raise ValueError(f"X must have n_in = {np.shape(W1)[-1]} rows (shape (n_in, P)), "
                         f"got {np.shape(X)}")
    require_finite("X", X)
    A = jnp.swapaxes(W1, -1, -2) @ W1
    B = W2 @ jnp.swapaxes(W2, -1, -2)
    return ntk_from_reps(A, B, X)


def ntk_from_reps(input_rep, output_rep, X):
    r"""The NTK of §3.1 from the representations :math:`A = W_1^\top W_1`, :math:`B = W_2W_2^\top`.

    This is how the closed form gives NTK(t): substitute the diagonal blocks of :math:`P(T)`.
    """
    X = jnp.asarray(X, dtype=jnp.result_type(input_rep))
    n_o = np.shape(output_rep)[-1]
    XAX = jnp.swapaxes(X, 0, 1) @ input_rep @ X  # (..., P, P)
    XX = jnp.swapaxes(X, 0, 1) @ X
    eye = jnp.eye(n_o, dtype=XAX.dtype)
    p = np.shape(X)[1]
    batch = np.shape(XAX)[:-2]
    # K[o, mu, o', nu] = δ_oo' (XᵀAX)[mu, nu] + B[o, o'] (XᵀX)[mu, nu]
    t1 = jnp.einsum("ab,...mn->...ambn", eye, XAX)
    t2 = jnp.einsum("...ab,mn->...ambn", output_rep, XX)
    return (t1 + t2).reshape(*batch, n_o * p, n_o * p)


def kernel_distance(K0, K1):
    r"""Kernel distance (Fort et al. 2020; spec §3.2), scale-invariant:

    .. math:: S = 1 - \frac{\langle K_0, K_1\rangle_F}{\|K_0\|_F\,\|K_1\|_F}.

    Lazy training keeps :math:`S\approx 0`; rich training makes it :math:`O(1)`. Leading axes
    broadcast, so ``kernel_distance(K[0], K)`` gives :math:`S(t)` for a stack of kernels.
    """
    K0 = jnp.asarray(K0)
    K1 = jnp.asarray(K1)
    if np.shape(K0)[-2:] != np.shape(K1)[-2:]:
        raise ValueError(f"kernels must have the same trailing shape, got {np.shape(K0)} and "
                         f"{np.shape(K1)}")
    inner = jnp.sum(K0 * K1, axis=(-2, -1))
    n0 = jnp.sqrt(jnp.sum(K0 * K0, axis=(-2, -1)))
    n1 = jnp.sqrt(jnp.sum(K1 * K1, axis=(-2, -1)))
    return 1.0 - inner / (n0 * n1)
