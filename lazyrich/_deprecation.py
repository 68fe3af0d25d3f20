"""Names that moved between subpackages keep resolving at their old place for one release."""

import importlib
import warnings
from collections.abc import Mapping


def moved_names(old: str, new: str, names: Mapping[str, str]):
    """A module ``__getattr__`` (PEP 562) for the package ``old``: each ``old.name`` in ``names``
    warns (``DeprecationWarning``, pointing at the caller) and returns ``new.names[name]``, the
    same object; any other name is an ``AttributeError``. ``new`` is imported on first use only,
    so a lower layer does not import a higher one at import time."""

    def __getattr__(name):
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(f"{old}.{name} moved to {new}.{target} ({old}.{name} is deprecated and will "
                      f"be removed in the next release; use {new}.{target})",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new), target)

    return __getattr__
