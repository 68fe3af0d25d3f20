r"""Data statistics and whitening for the closed forms (docs: Linear networks, "Setting").

The exact solution of :func:`two_layer_linear` needs whitened inputs, :math:`\Sigma_{xx} = XX^\top/P
= I`, and then depends on the data only through :math:`\Sigma_{yx} = YX^\top/P`.

* :math:`\Sigma_{xx} = cI` (e.g. one-hot items ``X = I_P``: c = 1/P) is the whitened flow with
  target
  :math:`\Sigma_{yx}/c` and time constant τ/c, i.e. evaluate at times :math:`cT`.
* A general :math:`\Sigma_{xx}` has no closed form (a change of variables changes the layer
  metrics): whiten the data first (:func:`whiten`) or integrate the ODE
  (``lazyrich.sims.ode_two_layer(..., Sxx=Sxx)``).
"""

import jax.numpy as jnp
import numpy as np

from lazyrich._checks import concrete, require_finite, require_ndim, require_real


def whiten(X, center: bool = True, *, rtol: float = 1e-10):
    r"""Whitened copy of the inputs ``X`` (``(N_i, P)``, columns are samples).

    Centres the columns (if ``center``), then applies the symmetric (ZCA) transform
    :math:`\Sigma^{-1/2}` with :math:`\Sigma = X_cX_c^\top/P` (the 1/P normalisation of the loss,
    not 1/(P−1)), so the result has :math:`XX^\top/P = I` to round-off.

    ``rtol`` is a finite number in [0, 1). Eigenvalues of Σ below
    :math:`\max(\mathrm{rtol},\,10N_i\epsilon)\,\lambda_{\max}` are refused as rank
    deficiency: below :math:`\sim N_i\epsilon\lambda_{\max}` an eigenvalue is round-off of the
    eigensolver, and dividing by its square root would return noise (or NaN for a negative one).

    Raises:
        ValueError: fewer samples than needed (P ≥ N_i, and P ≥ N_i + 1 when centring, since
            centring removes one degree of freedom), rank-deficient data (an eigenvalue of Σ
            below that threshold), or an ``rtol`` outside [0, 1).
        TypeError: non-real ``X`` or a ``center`` that is not a bool.
    """
    require_real("X", X)
    require_ndim("X", X, 2, "shape (n_in, P), columns are samples")
    require_finite("X", X)
    if not isinstance(center, bool | np.bool_):
        raise TypeError(f"center must be a bool, got {center!r}")
    if np.ndim(rtol) != 0 or not (np.isfinite(rtol) and 0 <= rtol < 1):
        raise ValueError(f"rtol must be a finite number in [0, 1), got {rtol!r}")
    n_i, P = np.shape(X)
    need = n_i + (1 if center else 0)
    if P < need:
        extra = (f" + 1 = {need} when centring (centring removes one degree of freedom)"
                 if center else "")
        raise ValueError(
            f"cannot whiten {n_i}-dimensional inputs from P={P} samples: need P >= n_in"
            f"{extra}"
            f"; otherwise Sigma_xx = X X^T / P is singular")
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    Xc = X - jnp.mean(X, axis=1, keepdims=True) if center else X
    S = Xc @ Xc.T / P
    e, V = jnp.linalg.eigh(0.5 * (S + S.T))
    ev = concrete(e)
    floor = 10 * n_i * float(np.finfo(X.dtype).eps)   # eigensolver round-off, relative
    tol = max(float(rtol), floor)
    if ev is not None and not ev[0] > tol * max(ev[-1], np.finfo(ev.dtype).tiny):
        raise ValueError(f"the inputs are rank-deficient: smallest/largest eigenvalue of Sigma_xx "
                         f"= {ev[0]:.3g}/{ev[-1]:.3g} <= {tol:.3g} = max(rtol={rtol:g}, "
                         f"10*n_in*eps); drop redundant input dimensions (e.g. keep the leading "
                         f"principal components) before whitening")
    return (V / jnp.sqrt(e)[None, :]) @ V.T @ Xc


def from_data(X, Y, *, rtol: float = 1e-8):
    r"""Input and input-output covariances
    :math:`(\Sigma_{xx}, \Sigma_{yx}) = (XX^\top/P, YX^\top/P)`.

    Checks that the inputs are whitened (:math:`\Sigma_{xx} = I` within ``rtol``), which the closed
    form of :func:`two_layer_linear` requires (it takes :math:`\Sigma_{yx}` only).

    Raises:
        ValueError: mismatched shapes, no samples (P = 0), non-finite data or a bad ``rtol``
            (finite, ≥ 0); :math:`\Sigma_{xx} = cI` with c ≠ 1 (the
            message gives the exact rescaling: target :math:`\Sigma_{yx}/c`, times :math:`cT`);
            any other :math:`\Sigma_{xx}` (the message says how to whiten).
    """
    require_real("X", X)
    require_real("Y", Y)
    require_ndim("X", X, 2, "shape (n_in, P), columns are samples")
    require_ndim("Y", Y, 2, "shape (n_out, P), columns are samples")
    if np.shape(X)[1] != np.shape(Y)[1]:
        raise ValueError(f"X and Y must have the same number of samples (columns), got "
                         f"X {np.shape(X)} and Y {np.shape(Y)}")
    if np.shape(X)[1] < 1:
        raise ValueError(f"X and Y must have at least one sample (column), P >= 1; got P = 0 "
                         f"(X {np.shape(X)}, Y {np.shape(Y)})")
    if np.ndim(rtol) != 0 or not (np.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol!r}")
    require_finite("X", X)
    require_finite("Y", Y)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    Y = jnp.asarray(Y, dtype=X.dtype)
    P = X.shape[1]
    Sxx = X @ X.T / P
    Syx = Y @ X.T / P
    v = concrete(Sxx)
    if v is None:
        return Sxx, Syx
    n_i = v.shape[0]
    if np.max(np.abs(v - np.eye(n_i))) <= rtol:
        return Sxx, Syx
    c = float(np.trace(v) / n_i)
    if c > 0 and np.max(np.abs(v - c * np.eye(n_i))) <= rtol * c:
        raise ValueError(
            f"Sigma_xx = c I with c = {c:.6g}, not I. This is the whitened flow with target "
            f"Sigma_yx / c and time constant tau / c (docs: Linear networks): call "
            f"two_layer_linear(W1, W2, Syx / c, c * t) to get the network at times t.")
    raise ValueError(
        f"the inputs are not whitened: max|Sigma_xx - I| = {np.max(np.abs(v - np.eye(n_i))):.3g} "
        f"(Sigma_xx = X X^T / P). The closed form needs Sigma_xx = I: use X = whiten(X) (centre, "
        f"then multiply by Sigma_xx^(-1/2) with the 1/P normalisation; needs P >= n_in + 1), or "
        f"integrate the flow with lazyrich.sims.ode_two_layer(W1, W2, Syx, t, Sxx=Sxx).")
