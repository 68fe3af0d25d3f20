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
            "source": self.claim.source,
            "reference": self.claim.reference,
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


def _outcome_of(c: Claim, quick: bool) -> tuple:
    """(status, seconds, outcome, error) of one run of ``c``; an exception is an error."""
    t0 = time.perf_counter()
    try:
        out = c.run(quick)
        return ("pass" if out.passed else "fail"), time.perf_counter() - t0, out, ""
    except Exception as exc:  # noqa: BLE001 - a broken claim is reported, not fatal
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return "error", time.perf_counter() - t0, None, tb


def _worker_init(modules: tuple, config: dict) -> None:
    """A worker process: the parent's JAX settings (x64, compilation cache), then the claims."""
    import jax

    for k, v in config.items():
        jax.config.update(k, v)
    from ._claim import load_claims

    load_claims(modules)


def _worker_run(name: str, quick: bool) -> tuple:
    from ._claim import _REGISTRY

    return _outcome_of(_REGISTRY[name], quick)


_JAX_SETTINGS = ("jax_enable_x64", "jax_compilation_cache_dir",
                 "jax_persistent_cache_min_compile_time_secs")


def run_claims(
    claims: Sequence[Claim], *, quick: bool = True, progress: bool = True, skip_gpu: bool = True,
    jobs: int = 1, modules: Sequence[str] = (),
) -> list[Result]:
    """Run each claim; a raised exception becomes an ``"error"`` result.

    ``jobs`` > 1 runs the claims in that many worker processes (spawned, so each has its own JAX
    runtime, with this process's x64 and compilation-cache settings; each imports
    :mod:`lazyrich.claims` and ``modules`` and runs claims by name). Results come back in the
    order of ``claims`` and are the same as a serial run's: every claim seeds its own randomness.
    Each worker holds its own JAX memory, so choose ``jobs`` by cores *and* memory.
    """
    from tqdm.auto import tqdm

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    bar = tqdm(total=len(claims), desc="verify", unit="claim", disable=not progress,
               file=sys.stderr)
    slots: list = [None] * len(claims)
    todo = []
    for i, c in enumerate(claims):
        if c.tier == "gpu" and skip_gpu:
            slots[i] = Result(c, "skip", 0.0, error="gpu tier: no accelerator (use --tier all)")
            bar.update(1)
        else:
            todo.append(i)
    if jobs == 1 or len(todo) <= 1:
        for i in todo:
            bar.set_postfix_str(claims[i].name, refresh=True)
            status, sec, out, err = _outcome_of(claims[i], quick)
            slots[i] = Result(claims[i], status, sec, out, err)
            bar.update(1)
    else:
        import concurrent.futures as cf
        import multiprocessing

        import jax

        config = {k: getattr(jax.config, k) for k in _JAX_SETTINGS}
        with cf.ProcessPoolExecutor(min(jobs, len(todo)), multiprocessing.get_context("spawn"),
                                    initializer=_worker_init,
                                    initargs=(tuple(modules), config)) as pool:
            futures = {pool.submit(_worker_run, claims[i].name, quick): i for i in todo}
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    status, sec, out, err = fut.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker is an error, not a crash
                    status, sec, out, err = "error", 0.0, None, f"worker failed: {exc!r}"
                slots[i] = Result(claims[i], status, sec, out, err)
                bar.set_postfix_str(claims[i].name, refresh=True)
                bar.update(1)
    bar.close()
    return slots


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
