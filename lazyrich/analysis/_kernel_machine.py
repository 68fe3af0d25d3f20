r"""Is the trained network a kernel machine? (Atanasov, Bordelon & Pehlevan 2022;
docs: Gamma scaling, "Silent alignment and the final kernel".)

Kernel regression with the network's own NTK at time t,

.. math:: f_{\rm KR}^{(t)}(x) = k_t(x)^\top (K_t + \rho I)^{-1} y,\qquad
          K_t = \nabla_\theta f(X;\theta_t)\,\nabla_\theta f(X;\theta_t)^\top,

compared with the network's predictions. Silent alignment predicts that after training from a
small initialisation on whitened data the network equals regression with its *final* kernel
(t = ∞) and not with the initial one (t = 0).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lazyrich._checks import require_finite, require_ndim


def kernel_regression(K_train, y_train, K_cross, *, ridge: float = 0.0):
    r"""Predictions :math:`K_\times (K + \rho I)^{-1} y` (NumPy, float64).

    Args:
        K_train: ``(P, P)`` kernel on the training inputs.
        y_train: ``(P,)`` or ``(P, C)`` targets.
        K_cross: ``(n, P)`` kernel between test and training inputs.
        ridge: ρ ≥ 0; with ρ = 0 a least-squares (pseudo-inverse) solve, so a singular K gives the
            minimum-norm interpolant.
    """
    K = np.asarray(K_train, np.float64)
    Kx = np.asarray(K_cross, np.float64)
    y = np.asarray(y_train, np.float64)
    require_ndim("K_train", K, 2, "a (P, P) kernel")
    require_ndim("K_cross", Kx, 2, "an (n, P) kernel")
    P = K.shape[0]
    if K.shape != (P, P) or Kx.shape[1] != P or y.shape[0] != P:
        raise ValueError(f"shapes do not match: K_train {K.shape}, y_train {y.shape}, K_cross "
                         f"{Kx.shape}; expected (P, P), (P,) or (P, C), (n, P)")
    if (isinstance(ridge, bool) or not isinstance(ridge, int | float | np.floating | np.integer)
            or not (np.isfinite(ridge) and ridge >= 0)):
        raise ValueError(f"ridge must be finite and >= 0, got {ridge}")
    for name, a in (("K_train", K), ("K_cross", Kx), ("y_train", y)):
        require_finite(name, a)
    alpha = np.linalg.lstsq(K + ridge * np.eye(P), y, rcond=1e-13)[0]
    return Kx @ alpha


@dataclasses.dataclass(frozen=True)
class KernelMachineCheck:
    r"""Network vs kernel regression with :math:`K_0` and :math:`K_t` on the test inputs.

    ``rel_err0``/``rel_errt`` are :math:`\|f_{NN}-f_{KR}\|/\|f_{NN}\|` for the initial and the
    time-t kernel.
    """

    f_nn: np.ndarray
    f_kr0: np.ndarray
    f_krt: np.ndarray
    rel_err0: float
    rel_errt: float


def _gram(f, params, x1, x2):
    flat, unravel = ravel_pytree(params)

    def J(x):
        return jax.jacrev(lambda th: jnp.reshape(f(unravel(th), x), (-1,)))(flat)

    J1 = J(x1)
    J2 = J1 if x2 is None else J(x2)
    C = J1.shape[0] // x1.shape[0]
    J1 = J1.reshape(x1.shape[0], C, -1)
    J2 = J2.reshape(-1, C, J2.shape[-1])
    return np.asarray(jnp.einsum("icp,jcp->ij", J1, J2), np.float64)


def kernel_machine_check(f, params, params0, x_train, y_train, x_test, *,
                         ridge: float = 0.0) -> KernelMachineCheck:
    r"""Compare ``f(params, x_test)`` with kernel regression on ``(x_train, y_train)`` using the
    NTK of ``f`` at ``params0`` (:math:`K_0`) and at ``params`` (:math:`K_t`): the
    test-prediction comparison of Atanasov, Bordelon & Pehlevan 2022.

    ``f(params, x)`` is the network (e.g. the centred γ-scaled f of a sweep, which is 0 at θ₀);
    outputs ``(n,)`` or ``(n, C)``, the kernel is summed over outputs. Full Jacobians are
    formed: meant for P·|θ| up to ~10⁷.
    """
    x_train, x_test = jnp.asarray(x_train), jnp.asarray(x_test)
    y = np.asarray(y_train, np.float64)
    if x_train.shape[0] != y.shape[0]:
        raise ValueError(f"x_train has {x_train.shape[0]} samples but y_train has {y.shape[0]}")
    fnn = np.asarray(f(params, x_test), np.float64)
    out = {}
    for name, p in (("0", params0), ("t", params)):
        K = _gram(f, p, x_train, None)
        Kx = _gram(f, p, x_test, x_train)
        out[name] = kernel_regression(K, y, Kx, ridge=ridge).reshape(fnn.shape)
    nrm = np.linalg.norm(fnn)
    if nrm == 0:
        raise ValueError("the network output is identically zero (at initialisation?): relative "
                         "errors are undefined")
    return KernelMachineCheck(fnn, out["0"], out["t"], float(np.linalg.norm(fnn - out["0"]) / nrm),
                              float(np.linalg.norm(fnn - out["t"]) / nrm))
