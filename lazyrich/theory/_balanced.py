r"""λ-balanced initialisations of two-layer linear networks.

Dominé et al. 2025 (docs: Linear networks, "Balanced initialisations").

A pair :math:`(W_1, W_2)` with :math:`W_1\in\mathbb R^{N_h\times N_i}`,
:math:`W_2\in\mathbb R^{N_o\times N_h}` is *λ-balanced* when

.. math:: W_2^\top W_2 - W_1W_1^\top = \lambda I_{N_h}.

The matrix on the left is conserved by gradient flow for any data, so λ is a property of the
initialisation. λ > 0: the output-side layer is larger ("downstream"); λ < 0: the input-side
layer is larger ("upstream"); λ = 0: zero-balanced (Saxe).

Ranks restrict λ: :math:`W_1W_1^\top` has rank ≤ N_i, so N_h > N_i forces λ ≥ 0;
:math:`W_2^\top W_2` has rank ≤ N_o, so N_h > N_o forces λ ≤ 0; N_h < min(N_i, N_o) is a
bottleneck that cannot represent a full-rank task.
"""

import jax
import jax.numpy as jnp
import numpy as np

from lazyrich._checks import (
    concrete,
    require_finite,
    require_ndim,
    require_positive,
    require_real,
    two_layer_dims,
)


def check_hidden_width(n_in: int, n_hidden: int, n_out: int) -> None:
    """Reject a bottleneck hidden width N_h < min(N_i, N_o): the task would not be reachable."""
    m = min(n_in, n_out)
    if n_hidden < m:
        raise ValueError(
            f"bottleneck: n_hidden={n_hidden} < min(n_in, n_out)={m}. A two-layer linear network "
            f"with a hidden layer narrower than min(n_in, n_out) cannot represent a full-rank "
            f"task, "
            f"and the closed forms (docs: Linear networks) assume n_hidden >= {m}.")


def allowed_lambda_signs(n_in: int, n_hidden: int, n_out: int) -> tuple[bool, bool]:
    """Whether λ > 0 and λ < 0 are possible for these widths (λ = 0 always is).

    :math:`W_2^\\top W_2` has rank ≤ N_o and :math:`W_1W_1^\\top` rank ≤ N_i, so λ > 0 needs
    N_h ≤ N_o and λ < 0 needs N_h ≤ N_i (docs: Linear networks, "Balanced initialisations")."""
    return n_hidden <= n_out, n_hidden <= n_in


def check_lambda_sign(lam: float, n_in: int, n_hidden: int, n_out: int, *, atol: float = 0.0):
    """Raise if the sign of λ is forbidden by the ranks of the layer Gram matrices
    (see :func:`allowed_lambda_signs`)."""
    pos_ok, neg_ok = allowed_lambda_signs(n_in, n_hidden, n_out)
    if lam > atol and not pos_ok:
        raise ValueError(
            f"lambda={lam:g} > 0 is impossible with n_hidden={n_hidden} > n_out={n_out}: "
            f"W2^T W2 (n_hidden x n_hidden) has rank <= n_out, so W2^T W2 - W1 W1^T = lambda I "
            f"needs lambda <= 0. Allowed here: lambda "
            f"{'<= 0' if neg_ok else '= 0 only (n_hidden also exceeds n_in)'}.")
    if lam < -atol and not neg_ok:
        raise ValueError(
            f"lambda={lam:g} < 0 is impossible with n_hidden={n_hidden} > n_in={n_in}: "
            f"W1 W1^T (n_hidden x n_hidden) has rank <= n_in, so W2^T W2 - W1 W1^T = lambda I "
            f"needs lambda >= 0. Allowed here: lambda "
            f"{'>= 0' if pos_ok else '= 0 only (n_hidden also exceeds n_out)'}.")


def split_singular_values(s0, lam):
    r"""Split products :math:`s_0 = c\,d` into layer strengths with :math:`d^2 - c^2 = \lambda`.

    Cancellation-free (Dominé et al. 2025; docs: Linear networks, "Balanced initialisations"):
    with :math:`\kappa = \sqrt{\lambda^2 + 4s_0^2}`,
    for λ ≥ 0 take :math:`d = \sqrt{(\kappa+\lambda)/2}` and :math:`c = s_0/d`; for λ < 0 take
    :math:`c = \sqrt{(\kappa-\lambda)/2}` and :math:`d = s_0/c`. The naive
    :math:`c^2 = (\kappa-\lambda)/2` loses every digit when :math:`|\lambda|\gg s_0`. ``s0`` may be
    negative (the sign goes to the smaller factor). ``s0`` and ``lam`` are real, finite and
    broadcast against each other; integers are promoted to the default float (never λ to an
    integer). Returns ``(c, d)`` (W1 side, W2 side).
    """
    require_real("s0", s0)
    require_real("lam", lam)
    require_finite("s0", s0)
    require_finite("lam", lam)
    try:
        np.broadcast_shapes(np.shape(s0), np.shape(lam))
    except ValueError:
        raise ValueError(f"s0 and lam must broadcast against each other, got shapes "
                         f"{np.shape(s0)} and {np.shape(lam)}") from None
    s0 = jnp.asarray(s0)
    dt = s0.dtype if jnp.issubdtype(s0.dtype, jnp.floating) else jnp.result_type(float)
    s0, lam = jnp.broadcast_arrays(s0.astype(dt), jnp.asarray(lam, dtype=dt))
    return _split(jnp, s0, lam)


def _split(xp, s0, lam):
    lam = xp.asarray(lam, dtype=s0.dtype)
    kappa = xp.sqrt(lam**2 + 4.0 * s0**2)
    big = xp.sqrt((kappa + xp.abs(lam)) / 2.0)  # the larger factor, > 0 unless s0 = lam = 0
    safe = xp.where(big > 0, big, xp.ones_like(big))
    small = xp.where(big > 0, s0 / safe, xp.zeros_like(big))
    pos = lam >= 0
    return xp.where(pos, small, big), xp.where(pos, big, small)


def _orthogonal_from(xp, G):
    """Haar-distributed orthogonal matrix from a Gaussian G (QR with the sign fix)."""
    q, r = xp.linalg.qr(G)
    return q * xp.sign(xp.diag(r))[None, :]


def _complete_basis(xp, U, n: int):
    """Extend orthonormal columns ``U`` (n×k) to an n×n orthogonal matrix keeping U first."""
    k = U.shape[1]
    if k == n:
        return U
    q, r = xp.linalg.qr(xp.concatenate([U, xp.eye(n, dtype=U.dtype)], axis=1))
    sgn = xp.where(xp.arange(n) < k, xp.sign(xp.diag(r)[:n]), 1.0).astype(U.dtype)
    return q * sgn[None, :]


def _check_orthonormal(name: str, U, n: int, m: int):
    require_ndim(name, U, 2, f"shape ({n}, {n}) or ({n}, {m}), orthonormal columns")
    if U.shape[0] != n or U.shape[1] not in (m, n):
        raise ValueError(f"{name} must have shape ({n}, {n}) or ({n}, {m}), got {U.shape}")
    require_finite(name, U)
    v = concrete(U)
    if v is not None:
        err = np.max(np.abs(v.T @ v - np.eye(v.shape[1])))
        if err > 1e-6:
            raise ValueError(f"{name} must have orthonormal columns; "
                             f"max|{name}^T {name} - I| = {err:.3g}")


def _require_width(name: str, v) -> None:
    if not isinstance(v, int | np.integer) or isinstance(v, bool | np.bool_) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def lambda_balanced_init(key, lam, n_in: int, n_hidden: int, n_out: int, *, W0=None,
                         sigma=1.0, U=None, V=None, R=None, dtype=jnp.float64):
    r"""A λ-balanced pair :math:`(W_1, W_2)` with a prescribed product :math:`W_2W_1 = W_0`.

    Algorithm (the "get λ-balanced" algorithm of Dominé et al. 2025, without the zero padding
    of extra hidden units of some public copies, which breaks the balance;
    docs: Linear networks, "Balanced initialisations"):
    write :math:`W_0 = U\,\mathrm{diag}(s_0)\,V^\top` (full SVD), split each
    :math:`s_{0\alpha} = c_\alpha d_\alpha` with :math:`d_\alpha^2 - c_\alpha^2 = \lambda`
    (cancellation-free, :func:`split_singular_values`), pad the extra hidden indices
    :math:`j = m,\dots,N_h-1` with :math:`\sqrt{|\lambda|}` in the layer that λ's sign enlarges,
    and set :math:`W_1 = R S_1 V^\top`, :math:`W_2 = U S_2 R^\top` with any orthogonal ``R``.
    Then :math:`W_2^\top W_2 - W_1W_1^\top = \lambda I` to round-off and :math:`W_2W_1 = W_0`.

    Args:
        key: ``jax.random`` key, used for the default ``W0`` and ``R``.
        lam: λ (may be traced: ``jax.vmap`` over λ works; the sign check runs when concrete).
        n_in, n_hidden, n_out: widths :math:`N_i, N_h, N_o`; need :math:`N_h\ge\min(N_i,N_o)`,
            and λ ≥ 0 if :math:`N_h > N_i`, λ ≤ 0 if :math:`N_h > N_o` (ranks).
        W0: target product, ``(n_out, n_in)``. Default: :math:`B A` with
            :math:`A\sim\mathcal N(0,\sigma^2)^{N_h\times N_i}`,
            :math:`B\sim\mathcal N(0,\sigma^2)^{N_o\times N_h}` (the paper's default, σ = 1: a
            *large* init).
        sigma: standard deviation of the default ``W0`` factors, a finite scalar > 0 (for a
            zero product pass ``W0=jnp.zeros((n_out, n_in))``).
        U, V: singular bases for an aligned init, ``(n_out, n_out)`` / ``(n_in, n_in)`` (or the
            first m columns, completed here). Take them from the SVD of :math:`\Sigma_{yx}` for
            the mode-wise solution (:func:`aligned_mode`). Then ``W0`` must equal
            :math:`U\,\mathrm{diag}(s_0)V^\top` for some (signed) :math:`s_0`; without ``W0``,
            :math:`s_0` are the singular values of the default Gaussian product.
        R: hidden-layer rotation ``(n_hidden, n_hidden)``; default Haar-random from ``key``.
        dtype: floating dtype of the result.

    Returns:
        ``(W1, W2)`` of shapes ``(n_hidden, n_in)`` and ``(n_out, n_hidden)``.
    """
    for name, v in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out)):
        _require_width(name, v)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    n_i, n_h, n_o = int(n_in), int(n_hidden), int(n_out)
    m = min(n_i, n_o)
    check_hidden_width(n_i, n_h, n_o)
    require_real("lam", lam)
    require_finite("lam", lam)
    if np.ndim(lam) != 0:
        raise ValueError(f"lam must be a scalar (use jax.vmap over lam), got shape {np.shape(lam)}")
    require_real("sigma", sigma)
    if np.ndim(sigma) != 0:
        raise ValueError(f"sigma must be a scalar > 0, got shape {np.shape(sigma)}")
    require_positive("sigma", sigma)   # a standard deviation; for W2 W1 = 0 pass W0=zeros
    try:
        k_w0, k_r = jax.random.split(key)
    except (TypeError, ValueError):
        raise TypeError(f"key must be a single jax.random key, e.g. jax.random.key(0), got "
                        f"{key!r}") from None
    lv = concrete(lam)
    if lv is not None:
        check_lambda_sign(float(lv), n_i, n_h, n_o)
    if R is not None:
        _check_orthonormal("R", R, n_h, n_h)
    if W0 is not None:
        require_ndim("W0", W0, 2, f"shape (n_out, n_in) = ({n_o}, {n_i})")
        if np.shape(W0) != (n_o, n_i):
            raise ValueError(f"W0 must have shape (n_out, n_in) = ({n_o}, {n_i}), "
                             f"got {np.shape(W0)}")
        require_finite("W0", W0)
    if (U is None) != (V is None):
        raise ValueError("give both U and V (an aligned init) or neither")
    if U is not None:
        _check_orthonormal("U", U, n_o, m)
        _check_orthonormal("V", V, n_i, m)

    # random draws always come from jax.random (same stream on both paths below)
    ka, kb = jax.random.split(k_w0)
    G = jax.random.normal(k_r, (n_h, n_h), dtype=dtype) if R is None else None
    if W0 is None:
        A = jax.random.normal(ka, (n_h, n_i), dtype=dtype)
        Bm = jax.random.normal(kb, (n_o, n_h), dtype=dtype)
        sig = jnp.asarray(sigma, dtype=dtype)
        W_rand = (sig * Bm) @ (sig * A)
    inputs = dict(lam=lam, W0=W0, U=U, V=V, R=R, G=G, W_rand=None if W0 is not None else W_rand)
    vals = {k: (None if v is None else concrete(v)) for k, v in inputs.items()}
    if all(v is not None for k, v in vals.items() if inputs[k] is not None):
        # concrete inputs: NumPy, no compilation (inits are built in Python loops)
        arrs = {k: (None if v is None else np.asarray(v, dtype=dtype)) for k, v in vals.items()}
        W1, W2 = _assemble(np, arrs, (n_i, n_h, n_o))
        return jnp.asarray(W1, dtype=dtype), jnp.asarray(W2, dtype=dtype)
    arrs = {k: (None if v is None else jnp.asarray(v, dtype=dtype)) for k, v in inputs.items()}
    return _assemble(jnp, arrs, (n_i, n_h, n_o))


def _assemble(xp, a, dims):
    """Split, pad and rotate (see :func:`lambda_balanced_init`) with the array namespace ``xp``
    (NumPy when concrete, jnp when traced)."""
    n_i, n_h, n_o = dims
    m = min(n_i, n_o)
    lam, W0, U, V = a["lam"], a["W0"], a["U"], a["V"]
    R = _orthogonal_from(xp, a["G"]) if a["R"] is None else a["R"]
    if U is None:
        U, s0, Vt = xp.linalg.svd(W0 if W0 is not None else a["W_rand"], full_matrices=True)
        V = Vt.T
    else:
        U, V = _complete_basis(xp, U, n_o), _complete_basis(xp, V, n_i)
        if W0 is None:
            s0 = xp.linalg.svd(a["W_rand"], compute_uv=False)
        else:
            D = U.T @ W0 @ V
            off = xp.abs(D - xp.eye(n_o, n_i, dtype=D.dtype) * D)
            if xp is np and np.max(off) > 1e-8 * max(1.0, float(np.max(np.abs(D)))):
                raise ValueError(
                    f"W0 is not aligned with the given U, V: U^T W0 V has off-diagonal entries "
                    f"up to {np.max(off):.3g}; an aligned init needs W0 = U diag(s0) V^T")
            s0 = xp.diagonal(D)[:m]
    c, d = _split(xp, s0, lam)
    # extra hidden units carry the ±λ block in the layer λ enlarges: sqrt(λ) in W2 for λ > 0,
    # sqrt(-λ) in W1 for λ < 0 (zero padding would break the balance)
    if n_h > m:
        def safe_sqrt(v):  # sqrt(max(v, 0)) with a finite derivative at v <= 0 (grad over λ)
            return xp.where(v > 0, xp.sqrt(xp.where(v > 0, v, 1.0)), 0.0)

        zero = xp.zeros((n_h - m,), dtype=c.dtype)
        pad1 = safe_sqrt(-lam) + zero if n_h <= n_i else zero   # λ <= 0 allowed
        pad2 = safe_sqrt(lam) + zero if n_h <= n_o else zero    # λ >= 0 allowed
        c, d = xp.concatenate([c, pad1]), xp.concatenate([d, pad2])
    S1 = xp.eye(n_h, n_i, dtype=c.dtype) * c[:, None]
    S2 = xp.eye(n_o, n_h, dtype=c.dtype) * d[None, :]
    return R @ S1 @ V.T, U @ S2 @ R.T


def _pair_shapes(W1, W2) -> None:
    """W1 ``(..., N_h, N_i)`` and W2 ``(..., N_o, N_h)`` with broadcasting leading axes."""
    require_real("W1", W1)
    require_real("W2", W2)
    if np.ndim(W1) < 2 or np.ndim(W2) < 2:
        bad, x = ("W1", W1) if np.ndim(W1) < 2 else ("W2", W2)
        raise ValueError(f"{bad} must be at least 2-D, W1 (..., n_hidden, n_in) and W2 "
                         f"(..., n_out, n_hidden), got {bad} of shape {np.shape(x)}")
    s1, s2 = np.shape(W1), np.shape(W2)
    if s2[-1] != s1[-2]:
        raise ValueError(f"W2 must have shape (..., n_out, n_hidden={s1[-2]}) to match W1 "
                         f"{s1}, got {s2}")
    try:
        np.broadcast_shapes(s1[:-2], s2[:-2])
    except ValueError:
        raise ValueError(f"leading (batch) axes of W1 {s1} and W2 {s2} must broadcast") from None


def balance(W1, W2):
    r""":math:`W_2^\top W_2 - W_1W_1^\top` (``(..., N_h, N_h)``), conserved by gradient flow for
    any data (docs: Linear networks, "Balanced initialisations").

    W1 is ``(..., N_h, N_i)``, W2 ``(..., N_o, N_h)``; leading axes broadcast."""
    _pair_shapes(W1, W2)
    W1 = jnp.asarray(W1)
    W2 = jnp.asarray(W2)
    dt = jnp.result_type(*(w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else float
                           for w in (W1, W2)))
    W1, W2 = W1.astype(dt), W2.astype(dt)
    A = jnp.swapaxes(W2, -1, -2) @ W2
    B = W1 @ jnp.swapaxes(W1, -1, -2)
    shape = jnp.broadcast_shapes(A.shape, B.shape)
    return jnp.broadcast_to(A, shape) - jnp.broadcast_to(B, shape)


def measure_lambda(W1, W2):
    r"""Estimate λ and the departure from λ-balance.

    :math:`\lambda = \mathrm{tr}(W_2^\top W_2 - W_1W_1^\top)/N_h` (never the [0,0] entry: public
    code that reads it gets the wrong answer whenever the balance is not isotropic), and
    ``imbalance`` :math:`=\max|W_2^\top W_2 - W_1W_1^\top - \lambda I|`. Leading axes broadcast.
    Refuses non-finite weights (concrete values): their λ would be NaN.

    Returns:
        ``(lam, imbalance)``.
    """
    _pair_shapes(W1, W2)
    require_finite("W1", W1)
    require_finite("W2", W2)
    D = balance(W1, W2)
    n_h = D.shape[-1]
    lam = jnp.trace(D, axis1=-2, axis2=-1) / n_h
    eye = jnp.eye(n_h, dtype=D.dtype)
    imb = jnp.max(jnp.abs(D - lam[..., None, None] * jnp.broadcast_to(eye, D.shape)), axis=(-2, -1))
    return lam, imb


def check_balanced(W1, W2, *, balance_tol: float = 1e-8) -> tuple[float, float]:
    """Raise a clear error unless ``(W1, W2)`` is λ-balanced (concrete inputs only).

    The tolerance is relative to the size of the Gram matrices, since round-off in
    :math:`W_2^\\top W_2` scales with :math:`\\|W\\|^2`. Distinguishes a non-isotropic but diagonal
    conserved matrix (one λ per hidden unit) from a general imbalance. Returns ``(λ, imbalance)``.
    """
    n_i, n_h, n_o = two_layer_dims(W1, W2)
    a = np.asarray(W1, dtype=np.float64)
    b = np.asarray(W2, dtype=np.float64)
    D = b.T @ b - a @ a.T
    lam = float(np.trace(D) / n_h)
    imb = float(np.max(np.abs(D - lam * np.eye(n_h))))
    scale = max(1.0, float(np.max(np.abs(b.T @ b))), float(np.max(np.abs(a @ a.T))))
    tol = balance_tol * scale
    if imb > tol:
        diag = np.diag(D)
        off = float(np.max(np.abs(D - np.diag(diag))))
        if off <= tol:
            raise ValueError(
                f"lambda-isotropy failure: W2^T W2 - W1 W1^T is diagonal but not a multiple of the "
                f"identity; per-unit lambda ranges over [{diag.min():.6g}, {diag.max():.6g}] "
                f"(trace estimate lambda={lam:.6g}, imbalance {imb:.3g} > tol {tol:.3g}). The "
                f"closed form needs one lambda for all hidden units "
                f"(W2^T W2 - W1 W1^T = lambda I); "
                f"build the init with lambda_balanced_init, or integrate with "
                f"lazyrich.sims.ode_two_layer.")
        raise ValueError(
            f"the initialisation is not lambda-balanced: max|W2^T W2 - W1 W1^T - lambda I| = "
            f"{imb:.3g} with lambda estimate tr(W2^T W2 - W1 W1^T)/n_hidden = {lam:.6g} "
            f"(tolerance {tol:.3g} = balance_tol * max(1, |Gram|)). The closed form is exact only "
            f"on the lambda-balanced manifold (docs: Linear networks); use lambda_balanced_init "
            f"or lazyrich.sims.ode_two_layer for an arbitrary init.")
    return lam, imb
