"""The ``lazyrich`` command line.

``lazyrich verify [PATTERN ...] [--quick] [--json] [--list] [--report DIR] [--tier ...]``
runs the registered numerical claims and prints a table; it exits 1 if any fails.
"""

import argparse
import sys


def _verify(args) -> int:
    from lazyrich import set_precision

    set_precision("float64")  # theory checks run in float64; claims pass dtypes explicitly
    from lazyrich.verify import format_table, load_claims, run_claims, select, to_json, write_report

    try:
        chosen = select(load_claims(), args.patterns)
    except ValueError as e:
        print(f"lazyrich verify: {e}", file=sys.stderr)
        return 2
    if args.list:
        for c in chosen:
            print(f"{c.name:48s} [{c.tier}] {c.statement}")
        return 0
    import jax

    skip_gpu = {"cpu": True, "all": False, "auto": jax.default_backend() == "cpu"}[args.tier]
    results = run_claims(chosen, quick=args.quick, progress=not args.no_progress, skip_gpu=skip_gpu)
    print(to_json(results) if args.json else format_table(results))
    if args.report:
        path = write_report(results, args.report)
        print(f"report written to {path}", file=sys.stderr)
    return 0 if all(r.status in ("pass", "skip") for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lazyrich", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="run registered numerical claims")
    v.add_argument("patterns", nargs="*", help="claim-name prefixes or globs, e.g. linear/ 'gamma/C1*'")
    v.add_argument("--quick", action="store_true", help="CPU-sized versions of each claim")
    v.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    v.add_argument("--list", action="store_true", help="list the selected claims and exit")
    v.add_argument("--report", metavar="DIR", help="write DIR/index.md, index.html and figures")
    v.add_argument("--tier", choices=("auto", "cpu", "all"), default="auto",
                   help="gpu-tier claims: run if an accelerator is present (auto), never, or always")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(func=_verify)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
