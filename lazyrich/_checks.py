"""Input validation shared by every subpackage: clear errors naming what was expected.

Checks on *values* (finiteness, balance) run only on concrete arrays; under ``jit``
or ``vmap`` tracing they are skipped, and shape checks still run.
"""

import jax
import numpy as np


def concrete(x) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` while it is being traced."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def require_ndim(name: str, x, ndim: int, meaning: str = "") -> None:
    if np.ndim(x) != ndim:
        what = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must be {ndim}-D{what}, got shape {np.shape(x)}")


def dtype_of(x):
    """dtype of an array, a tracer or anything ``np.asarray`` accepts."""
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def require_real(name: str, x) -> None:
    """TypeError unless ``x`` holds real numbers (integer or floating; not complex, bool, str)."""
    try:
        dt = dtype_of(x)
    except (TypeError, ValueError):   # ragged nested lists and the like
        raise TypeError(f"{name} must hold real numbers (a floating or integer dtype), got "
                        f"{type(x).__name__} {x!r}") from None
    if not (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer)):
        raise TypeError(f"{name} must hold real numbers (a floating or integer dtype), got dtype "
                        f"{dt}")


def require_finite(name: str, x) -> None:
    v = concrete(x)
    if v is None:
        return
    try:
        ok = np.isfinite(v)
    except TypeError:                 # strings, objects: np.isfinite has no loop for them
        raise TypeError(f"{name} must hold finite real numbers, got dtype {v.dtype}") from None
    if not np.all(ok):
        bad = int(np.size(v) - np.count_nonzero(ok))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); {name} must "
                         f"be finite")


def require_positive(name: str, x, *, allow_zero: bool = False) -> None:
    v = concrete(x)
    if v is None:
        return
    rel = ">= 0" if allow_zero else "> 0"
    if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
        raise TypeError(f"{name} must be a real number {rel}, got dtype {v.dtype}")
    bad = (v < 0) if allow_zero else (v <= 0)
    if np.any(bad) or not np.all(np.isfinite(v)):
        got = v if v.size < 8 else "an array with offending entries"
        raise ValueError(f"{name} must be finite and {rel}, got {got}")


def require_times(name: str, t) -> None:
    """Non-negative, finite, 1-D times (any order is allowed by closed forms)."""
    require_real(name, t)
    require_ndim(name, t, 1, "a vector of times")
    v = concrete(t)
    if v is not None and (not np.all(np.isfinite(v)) or np.any(v < 0)):
        finite = v[np.isfinite(v)]
        low = f"min {finite.min()!r}, " if finite.size else ""
        raise ValueError(f"{name} must be finite and non-negative; got {low}"
                         f"non-finite entries: {int(np.sum(~np.isfinite(v)))}")


def two_layer_dims(W1, W2, Syx=None) -> tuple[int, int, int]:
    """Validate W1 (N_h, N_i), W2 (N_o, N_h), Σyx (N_o, N_i); return (N_i, N_h, N_o)."""
    require_ndim("W1", W1, 2, "shape (n_hidden, n_in)")
    require_ndim("W2", W2, 2, "shape (n_out, n_hidden)")
    n_h, n_i = np.shape(W1)
    n_o = np.shape(W2)[0]
    if np.shape(W2)[1] != n_h:
        raise ValueError(f"W2 must have shape (n_out, n_hidden={n_h}) to match W1 {np.shape(W1)}, "
                         f"got {np.shape(W2)}")
    if Syx is not None:
        require_ndim("Syx", Syx, 2, "shape (n_out, n_in)")
        if np.shape(Syx) != (n_o, n_i):
            raise ValueError(f"Syx must have shape (n_out, n_in) = {(n_o, n_i)} for W1 "
                             f"{np.shape(W1)} and W2 {np.shape(W2)}, got {np.shape(Syx)}")
        require_finite("Syx", Syx)
    require_finite("W1", W1)
    require_finite("W2", W2)
    return n_i, n_h, n_o


def require_broadcastable(hint: str = "", **named) -> tuple:
    """Real dtypes and shapes that broadcast against each other; a ValueError naming every
    argument and its shape otherwise (``hint`` is appended, e.g. how to broadcast). Returns the
    broadcast shape."""
    for name, x in named.items():
        require_real(name, x)
    shapes = {name: np.shape(x) for name, x in named.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        got = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(f"{', '.join(shapes)} must broadcast against each other{hint}; got "
                         f"shapes {got}") from None
