"""The mutation harness of ``make mutants``: plant a curated, plausible bug in a scratch copy of
the package and check that the claims meant to guard against it fail.

A claim that passes over a planted bug proves nothing about that bug. Each :class:`Mutant` names
one textual edit (``old`` must occur exactly once in ``path``, so a stale mutant is an error, not a
silent no-op) and the claims expected to catch it; the harness runs ``lazyrich verify --quick``
on those claims against the mutated copy and reports which failed (a claim that raises counts as
failed: it stopped a wrong result). The area tables live in the sibling modules, one per claims
area; ``python -m tools.mutants`` runs them all (``--help`` for subsets).
"""

import dataclasses
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AREAS = ("linear", "gamma", "richness", "capacity", "kernels", "dmft")


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One planted bug: replace ``old`` by ``new`` in ``path`` (relative to the repository root)
    and expect at least one of ``claims`` (names or patterns of ``lazyrich verify``) to fail."""

    name: str
    path: str
    old: str
    new: str
    claims: tuple
    why: str = ""

    @property
    def area(self) -> str:
        return self.name.split("/")[0]


def all_mutants() -> list[Mutant]:
    """Every area's mutants, in area order."""
    out = []
    for area in AREAS:
        out += importlib.import_module(f"tools.mutants.{area}").MUTANTS
    return out


def check_applies(m: Mutant, root: str = ROOT) -> str:
    """The mutated text of ``m.path``; raises if ``old`` does not occur exactly once."""
    with open(os.path.join(root, m.path), encoding="utf-8") as f:
        text = f.read()
    n = text.count(m.old)
    if n != 1:
        raise ValueError(f"mutant {m.name}: its 'old' text occurs {n} times in {m.path} "
                         f"(expected exactly once): update the mutant to the current code")
    if m.new == m.old:
        raise ValueError(f"mutant {m.name}: 'new' equals 'old'")
    return text.replace(m.old, m.new)


def _scratch(root: str) -> str:
    """A copy of the package's source files (tracked, or new and not ignored) in a fresh
    directory: the working tree as it is, without build outputs or caches."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                            "lazyrich"], cwd=root, check=True,
                           capture_output=True, text=True).stdout.split()
    dest = tempfile.mkdtemp(prefix="lazyrich-mutant-")
    for rel in files:
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(os.path.join(root, rel), os.path.join(dest, rel))
    return dest


def run_claims(claims, mutant: Mutant | None = None, root: str = ROOT, timeout: float = 1200):
    """``{claim: status}`` of ``lazyrich verify --quick`` on ``claims``, run in a scratch copy of
    the package with ``mutant`` applied (None: unmutated), and the seconds it took."""
    dest = _scratch(root)
    try:
        if mutant is not None:
            text = check_applies(mutant, root)
            with open(os.path.join(dest, mutant.path), "w", encoding="utf-8") as f:
                f.write(text)
        env = dict(os.environ, PYTHONPATH=dest)
        t0 = time.perf_counter()
        code = ("import sys, lazyrich; assert lazyrich.__file__.startswith(sys.argv[1]), "
                "lazyrich.__file__; from lazyrich.cli import main; sys.exit(main(sys.argv[2:]))")
        p = subprocess.run([sys.executable, "-c", code, dest, "verify", "--quick", "--json",
                            "--no-progress", *claims], cwd=dest, env=env, capture_output=True,
                           text=True, timeout=timeout)
        secs = time.perf_counter() - t0
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    try:
        res = json.loads(p.stdout)
    except json.JSONDecodeError:  # the package does not even import: every claim is stopped
        return {c: "error" for c in claims}, secs, p.stderr.strip().splitlines()[-1:]
    return {r["claim"]: r["status"] for r in res}, secs, []


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="mutant names or prefixes (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip checking that the claims pass on the unmutated copy")
    args = ap.parse_args(argv)
    chosen = [m for m in all_mutants()
              if not args.names or any(m.name.startswith(n) for n in args.names)]
    if not chosen:
        print(f"no mutant matches {args.names}", file=sys.stderr)
        return 2
    for m in chosen:
        check_applies(m)
    if args.list:
        for m in chosen:
            print(f"{m.name:40s} {m.path}  ->  {', '.join(m.claims)}")
        return 0
    if not args.no_baseline:  # a kill only means something if the claims pass unmutated
        claims = sorted({c for m in chosen for c in m.claims})
        status, secs, err = run_claims(claims)
        bad = {c: s for c, s in status.items() if s != "pass"}
        print(f"baseline: {len(status) - len(bad)} of {len(status)} claims pass unmutated "
              f"({secs:.0f} s)", flush=True)
        if bad or err:
            print(f"baseline failures: {bad} {err}", file=sys.stderr)
            return 1
    rows, killed = [], 0
    head = f"| {'mutation':38s} | {'claims expected to fail':44s} | failed | killed | s |"
    print(head + "\n|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|",
          flush=True)
    for m in chosen:
        status, secs, err = run_claims(m.claims, m)
        failed = [c for c, s in status.items() if s != "pass"]
        ok = bool(failed)
        killed += ok
        rows.append((m, failed, ok))
        print(f"| {m.name:38s} | {', '.join(m.claims):44s} | {', '.join(failed) or '-'} | "
              f"{'yes' if ok else 'NO'} | {secs:.0f} |", flush=True)
    print(f"mutants: {killed} killed of {len(chosen)}")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
