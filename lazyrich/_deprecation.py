"""Names that moved between subpackages keep resolving at their old place for one release."""

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
