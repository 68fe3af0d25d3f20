"""Global numeric settings, set once at start-up (docs: Conventions)."""

import jax

_VALID = ("float32", "float64")


def set_precision(precision: str) -> None:
    """Choose the default float width for arrays created from now on.

    ``"float64"`` enables ``jax_enable_x64``; theory-vs-simulation checks need it
    (float32 loses the O(η) signal of a GD-vs-flow comparison below η ≈ 1e-5; claim
    linear/C24-float32).
    Arrays that already exist keep their dtype. Library functions take an explicit
    ``dtype=`` wherever the width matters, so this only sets defaults.
    """
    if precision not in _VALID:
        raise ValueError(f"precision must be one of {_VALID}, got {precision!r}")
    jax.config.update("jax_enable_x64", precision == "float64")


def set_matmul_precision(precision: str = "highest") -> None:
    """Set ``jax_default_matmul_precision``.

    On GPUs float32 matmuls default to TF32 (~1e-3 relative); theory comparisons
    need ``"highest"`` (docs: Conventions).
    """
    jax.config.update("jax_default_matmul_precision", precision)
