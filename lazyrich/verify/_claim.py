"""Claims: named, checkable numerical predictions, and the registry that holds them.

A claim is a function ``fn(quick: bool) -> Outcome`` with metadata: what is predicted,
how it is measured, and why the tolerance is what it is. The toolkit's claims live in
:mod:`lazyrich.claims` (one module per area); a researcher's own claims live in their own module,
registered with the same public :func:`claim` decorator, and are loaded by
``load_claims(modules=["mypkg.claims"])`` or ``lazyrich verify --module mypkg.claims``.
"""

import dataclasses
import fnmatch
import importlib
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

Tier = Literal["cpu", "gpu"]
SeriesKind = Literal["theory", "sim", "reference"]


@dataclasses.dataclass(frozen=True)
class Series:
    """One line (``kind="theory"``) or set of markers (``"sim"``, ``"reference"``)."""

    x: Any
    y: Any
    label: str
    kind: SeriesKind = "theory"

    def __post_init__(self):
        x = np.asarray(self.x, dtype=float).ravel()
        y = np.asarray(self.y, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"Series {self.label!r}: x has {x.size} points but y has {y.size}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)


@dataclasses.dataclass(frozen=True)
class Plot:
    """The data of one claim's figure: theory curves over simulation markers."""

    series: Sequence[Series]
    xlabel: str = ""
    ylabel: str = ""
    xscale: str = "linear"
    yscale: str = "linear"
    title: str = ""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What running a claim produced.

    ``predicted`` and ``measured`` are the numbers shown side by side (for an error
    claim: the predicted error bound context and the measured error); ``tolerance``
    is the acceptance threshold in the same units; ``passed`` is the verdict.
    """

    predicted: float | str
    measured: float
    tolerance: float | str
    passed: bool
    plot: Plot | None = None
    details: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def error_below(cls, error, tol, *, predicted: float | str = 0.0, **kw) -> "Outcome":
        """Pass when a measured error (finite) is at most ``tol``."""
        error = float(error)
        return cls(predicted, error, float(tol), bool(np.isfinite(error) and error <= tol), **kw)

    @classmethod
    def close_to(cls, predicted, measured, *, rtol=0.0, atol=0.0, **kw) -> "Outcome":
        """Pass when ``|measured - predicted| <= atol + rtol*|predicted|``."""
        predicted, measured = float(predicted), float(measured)
        tol = atol + rtol * abs(predicted)
        ok = bool(np.isfinite(measured) and abs(measured - predicted) <= tol)
        return cls(predicted, measured, tol, ok, **kw)

    @classmethod
    def in_range(cls, measured, lo, hi, *, predicted: float | str | None = None, **kw) -> "Outcome":
        """Pass when ``lo <= measured <= hi``."""
        measured = float(measured)
        pred = f"[{lo:.3g}, {hi:.3g}]" if predicted is None else predicted
        ok = bool(np.isfinite(measured) and lo <= measured <= hi)
        return cls(pred, measured, f"[{lo:.3g}, {hi:.3g}]", ok, **kw)


@dataclasses.dataclass(frozen=True)
class Claim:
    name: str
    statement: str
    measure: str
    why: str
    source: str
    tier: Tier
    fn: Callable[[bool], Outcome]
    reference: str = ""

    @property
    def spec(self) -> str:
        """The old name of :attr:`source` (kept for one release)."""
        return self.source

    def run(self, quick: bool = True) -> Outcome:
        out = self.fn(quick)
        if not isinstance(out, Outcome):
            raise TypeError(f"claim {self.name!r} returned {type(out).__name__}, expected Outcome")
        return out


_REGISTRY: dict[str, Claim] = {}


def claim(
    name: str,
    *,
    statement: str,
    measure: str,
    why: str,
    source: str = "",
    tier: Tier = "cpu",
    spec: str | None = None,
    reference: str = "",
) -> Callable[[Callable[[bool], Outcome]], Callable[[bool], Outcome]]:
    """Register ``fn(quick) -> Outcome`` as the claim ``name`` (``"area/short-name"``).

    Args:
        statement: the prediction, in words and symbols.
        measure: how the measured number is obtained.
        why: why the tolerance is what it is (round-off, O(η), seed noise...).
        source: where the prediction comes from: the paper(s) and the docs page, e.g.
            ``"Dominé et al. 2025; docs: Linear networks"``.
        tier: ``"cpu"`` (runs everywhere; ``quick`` must fit a laptop) or ``"gpu"``.
        reference: what the measured value is checked against, computed by other means than the
            prediction (``"the weight ODE integrated by DOP853 (rtol 1e-12)"``, ``"MLPs trained
            by the engine at three widths, 16 seeds each"``, a published value). Shown next to
            predicted and measured in the report. Every toolkit claim names one; a claim whose
            measured value is computed from its own prediction cannot fail.
        spec: the old name of ``source`` (accepted for one release, with a warning).
    """
    if spec is not None:
        import warnings

        if source:
            raise TypeError("give source= only (spec= is its old name)")
        warnings.warn("claim(spec=...) is now claim(source=...)", DeprecationWarning,
                      stacklevel=2)
        source = spec
    if "/" not in name:
        raise ValueError(f"claim name {name!r} must look like 'area/short-name'")
    if tier not in ("cpu", "gpu"):
        raise ValueError(f"tier must be 'cpu' or 'gpu', got {tier!r}")
    if not isinstance(reference, str):
        raise TypeError(f"reference must be a string (what the claim is checked against), got "
                        f"{type(reference).__name__}")

    def register(fn):
        if name in _REGISTRY and _REGISTRY[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"claim {name!r} is registered twice")
        _REGISTRY[name] = Claim(name, statement, measure, why, source, tier, fn, reference)
        return fn

    return register


def load_claims(modules: Sequence[str] = ()) -> dict[str, Claim]:
    """Import :mod:`lazyrich.claims` and each module named in ``modules`` (dotted names, imported
    with :func:`importlib.import_module`: that is their purpose, so name only modules you trust),
    and return the registry of every claim they registered.

    Raises:
        ValueError: a module that cannot be found (the message names it).
    """
    import lazyrich.claims  # noqa: F401  (registers the toolkit's claims)

    for name in modules:
        if not isinstance(name, str) or not name:
            raise ValueError(f"modules must be dotted module names, got {name!r}")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                raise ValueError(f"claim module {name!r} was not found (is its package installed "
                                 f"or on PYTHONPATH?)") from None
            raise
    return dict(sorted(_REGISTRY.items(), key=lambda kv: _natural(kv[0])))


def _natural(name: str):
    """Sort key: "linear/C2" before "linear/C16"."""
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def select(claims: dict[str, Claim], patterns: Sequence[str] = ()) -> list[Claim]:
    """Claims whose name starts with, or glob-matches, any of ``patterns`` (all if none).

    Raises:
        ValueError: a pattern that matches no claim (a typo should not pass silently).
    """
    if not patterns:
        return list(claims.values())
    chosen: dict[str, Claim] = {}
    for pat in patterns:
        hits = [c for n, c in claims.items() if n.startswith(pat) or fnmatch.fnmatch(n, pat)]
        if not hits:
            known = sorted({n.split("/")[0] + "/" for n in claims})
            raise ValueError(f"no claim matches {pat!r}; areas are {known}")
        chosen.update((c.name, c) for c in hits)
    return [chosen[n] for n in sorted(chosen, key=_natural)]
