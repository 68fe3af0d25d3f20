"""Running claims: one at a time, an exception recorded as an error, never a crash."""

import dataclasses
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Literal

from ._claim import Claim, Outcome

Status = Literal["pass", "fail", "error", "skip"]


@dataclasses.dataclass(frozen=True)
class Result:
    claim: Claim
    status: Status
    seconds: float
    outcome: Outcome | None = None
    error: str = ""

    def as_dict(self) -> dict:
        o = self.outcome
        return {
            "claim": self.claim.name,
            "status": self.status,
            "statement": self.claim.statement,
            "measure": self.claim.measure,
            "why": self.claim.why,
            "spec": self.claim.spec,
            "tier": self.claim.tier,
            "predicted": _jsonable(o.predicted) if o else None,
            "measured": _jsonable(o.measured) if o else None,
            "tolerance": _jsonable(o.tolerance) if o else None,
            "details": {k: _jsonable(v) for k, v in o.details.items()} if o else {},
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


def _jsonable(v):
    if isinstance(v, str | bool | int) or v is None:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else str(f)


def run_claims(
    claims: Sequence[Claim], *, quick: bool = True, progress: bool = True, skip_gpu: bool = True
) -> list[Result]:
    """Run each claim; a raised exception becomes an ``"error"`` result."""
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(claims, desc="verify", unit="claim", disable=not progress, file=sys.stderr)
    for c in bar:
        bar.set_postfix_str(c.name, refresh=True)
        if c.tier == "gpu" and skip_gpu:
            results.append(Result(c, "skip", 0.0,
                                  error="gpu tier: no accelerator (use --tier all)"))
            continue
        t0 = time.perf_counter()
        try:
            out = c.run(quick)
            status: Status = "pass" if out.passed else "fail"
            results.append(Result(c, status, time.perf_counter() - t0, out))
        except Exception as exc:  # noqa: BLE001 - a broken claim is reported, not fatal
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            results.append(Result(c, "error", time.perf_counter() - t0, error=tb))
    return results


def _fmt(v) -> str:
    """Compact text for a table cell: numbers to 3 significant digits, sequences element-wise."""
    if v is None:
        return "-"
    if isinstance(v, str | bool):
        return str(v)
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        pass
    try:
        items = list(v)
    except TypeError:
        return str(v)
    return "[" + ", ".join(_fmt(x) for x in items) + "]"


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table: claim, predicted, measured, tolerance, pass, seconds."""
    head = ("claim", "predicted", "measured", "tolerance", "pass", "s")
    rows = []
    for r in results:
        o = r.outcome
        rows.append((
            r.claim.name,
            _fmt(o.predicted) if o else "-",
            _fmt(o.measured) if o else "-",
            _fmt(o.tolerance) if o else "-",
            {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skip": "skip"}[r.status],
            f"{r.seconds:.1f}",
        ))
    # long predictions (intervals, lists) are shortened here; --json and --report keep them
    cap = 32
    rows = [tuple(c if len(c) <= cap or i == 0 else c[: cap - 1] + "…" for i, c in enumerate(row))
            for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [line(head), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    for r in results:
        if r.status == "error":
            out.append(f"ERROR {r.claim.name}: {r.error}")
    n = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error", "skip")}
    out.append(f"{n['pass']} passed, {n['fail'] + n['error']} failed, {n['skip']} skipped")
    return "\n".join(out)


def to_json(results: Sequence[Result]) -> str:
    return json.dumps([r.as_dict() for r in results], indent=2)
