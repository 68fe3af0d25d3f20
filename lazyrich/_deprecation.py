"""Names that moved between subpackages keep resolving at their old place for one release."""

import functools
import importlib
import warnings
from collections.abc import Mapping


def moved_names(old: str, new, names: Mapping[str, str] | None = None):
    """A module ``__getattr__`` (PEP 562) for the package ``old``: each ``old.name`` in ``names``
    warns (``DeprecationWarning``, pointing at the caller) and returns ``new.names[name]``, the
    same object; any other name is an ``AttributeError``. ``new`` is imported on first use only,
    so a lower layer does not import a higher one at import time.

    Names that went to several packages: ``moved_names(old, {new_pkg: {name: target}, ...})``.
    """
    targets = {new: names} if names is not None else dict(new)
    where = {name: (pkg, target) for pkg, table in targets.items()
             for name, target in table.items()}

    def __getattr__(name):
        if name not in where:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        pkg, target = where[name]
        warnings.warn(f"{old}.{name} moved to {pkg}.{target} ({old}.{name} is deprecated and will "
                      f"be removed in the next release; use {pkg}.{target})",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(pkg), target)

    return __getattr__


def is_key(x) -> bool:
    """Whether ``x`` is a JAX PRNG key: a typed key array (``jax.random.key``) or a raw
    ``uint32[..., 2]`` one (``jax.random.PRNGKey``); works on tracers (dtype and shape only)."""
    import jax
    import numpy as np

    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return True
    return np.dtype(dtype) == np.uint32 and np.shape(x)[-1:] == (2,)


def key_first(old_position: int):
    """For a function whose PRNG ``key`` became its first parameter: a call in the old order,
    with the key at position ``old_position`` (0-based) and a non-key first, still works for one
    release, with a ``DeprecationWarning`` pointing at the caller. ``key=`` by keyword works in
    either order (no warning)."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if args and not is_key(args[0]):
                if "key" in kwargs:
                    args = (kwargs.pop("key"), *args)
                elif len(args) > old_position and is_key(args[old_position]):
                    warnings.warn(f"{fn.__module__.split('._')[0]}.{fn.__name__}: the key is now "
                                  f"the first argument, {fn.__name__}(key, ...); the old order "
                                  f"(key at position {old_position + 1}) is deprecated and will "
                                  f"be removed in the next release", DeprecationWarning,
                                  stacklevel=2)
                    args = (args[old_position], *args[:old_position], *args[old_position + 1:])
            return fn(*args, **kwargs)

        return wrapper

    return deco
