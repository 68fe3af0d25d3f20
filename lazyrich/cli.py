"""The ``lazyrich`` command line.

``lazyrich verify [PATTERN ...] [--quick] [--json] [--list] [--report DIR] [--tier ...]
[--module MOD]`` runs the registered numerical claims (the toolkit's, plus those of each
``--module``) and prints a table; it exits 1 if any fails.

``lazyrich sweep [--config FILE] [--set KEY=VALUE ...] --gamma ... --eta ... --out PATH``
trains a (γ, η, seed) grid with the vmapped engine (``lazyrich.sims.sweep``) and writes netCDF;
rerunning the same command resumes. ``--shard i/N`` runs one slice; ``lazyrich merge OUT PARTS...``
combines the slices.
"""

import argparse
import os
import sys


def _enable_compile_cache() -> None:
    """Persistent XLA cache (outside the repository): most claim time is compilation."""
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir",
                          os.path.join(os.path.expanduser("~"), ".cache", "lazyrich-jax"))
    if not os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _verify(args) -> int:
    from lazyrich import set_precision

    _enable_compile_cache()

    set_precision("float64")  # theory checks run in float64; claims pass dtypes explicitly
    from lazyrich.verify import format_table, load_claims, run_claims, select, to_json, write_report

    if args.report and os.path.exists(args.report) and not os.path.isdir(args.report):
        print(f"lazyrich verify: --report {args.report!r} is a file; expected a directory to "
              f"write index.md, index.html and figures into", file=sys.stderr)
        return 2
    if args.report:  # fail before minutes of claims, not after
        try:
            os.makedirs(os.path.join(args.report, "figures"), exist_ok=True)
        except OSError as e:
            print(f"lazyrich verify: --report {args.report!r} cannot be created as a directory "
                  f"({e.strerror}); expected a writable directory path", file=sys.stderr)
            return 2
    try:
        chosen = select(load_claims(args.module or ()), args.patterns)
    except ValueError as e:
        print(f"lazyrich verify: {_one_line(e)}", file=sys.stderr)
        return 2
    if args.list:
        for c in chosen:
            print(f"{c.name:48s} [{c.tier}] {c.statement}")
        return 0
    import jax

    skip_gpu = {"cpu": True, "all": False, "auto": jax.default_backend() == "cpu"}[args.tier]
    results = run_claims(chosen, quick=args.quick, progress=not args.no_progress, skip_gpu=skip_gpu,
                         jobs=args.jobs, modules=tuple(args.module or ()))
    print(to_json(results) if args.json else format_table(results))
    if args.report:
        path = write_report(results, args.report)
        print(f"report written to {path}", file=sys.stderr)
    return 0 if all(r.status in ("pass", "skip") for r in results) else 1


_FLAG_FIELDS = {"model": str, "depth": int, "width": int, "input_dim": int, "activation": str,
                "task": str, "loss": str, "batch_size": int, "num_steps": int, "optimizer": str,
                "parametrization": str, "dtype": str, "log_every": int, "log_points": int,
                "data_seed": int}


def _one_line(e: BaseException) -> str:
    """An exception as one line for the terminal (no traceback)."""
    return " ".join(str(e).split()) or type(e).__name__


def _read_config_file(path: str) -> dict:
    import json
    import tomllib

    if not os.path.exists(path):
        raise FileNotFoundError(f"--config {path!r} does not exist; expected a JSON or TOML file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"--config {path!r} is a directory; expected a JSON or TOML file")
    with open(path, "rb") as f:
        raw = f.read()
    kind = "TOML" if path.endswith(".toml") else "JSON"
    try:
        data = tomllib.loads(raw.decode()) if kind == "TOML" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"--config {path!r} is not valid {kind}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"--config {path!r} must hold a table of SweepConfig fields (a JSON "
                         f"object), got a {type(data).__name__}")
    if not isinstance(data.get("grid", {}), dict):
        raise ValueError(f"--config {path!r}: 'grid' must be a table {{gamma = [...], eta = "
                         f"[...], seeds = [...]}}, got {data['grid']!r}")
    return data


def _parse_value(text: str, what: str):
    """A command-line value: JSON when it parses (numbers, true/false, lists, objects), else a
    plain string. Text that starts like a JSON object, list or string must be valid JSON."""
    import json

    try:
        return json.loads(text)
    except ValueError as e:
        if text.strip()[:1] in ("{", "[", '"'):
            raise ValueError(f"{what}: {text!r} is not valid JSON ({e}); write objects like "
                             f'{{"noise": 0.1}} with double-quoted keys') from None
        return text


def _sweep(args) -> int:
    from lazyrich import sims

    try:
        fields = _read_config_file(args.config) if args.config else {}
        grid = dict(fields.pop("grid", {}))
        if "seed" in grid:
            if "seeds" in grid:
                raise ValueError("--config: the grid gives both 'seed' and 'seeds'; use one")
            grid["seeds"] = grid.pop("seed")
        for name in _FLAG_FIELDS:
            v = getattr(args, name)
            if v is not None:
                fields[name] = v
        for item in args.set or []:
            if "=" not in item:
                raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
            k, v = item.split("=", 1)
            fields[k.strip()] = _parse_value(v, f"--set {k.strip()}")
        for k in ("gamma", "eta", "eta_hat", "seeds"):
            v = getattr(args, k)
            if v is not None:
                grid[k] = v
        for item in args.sweep or []:
            if "=" not in item:
                raise ValueError(f"--sweep expects NAME=V1,V2,..., got {item!r}")
            k, v = item.split("=", 1)
            grid[k.strip()] = [_parse_value(x, f"--sweep {k.strip()}") for x in v.split(",")]
        if args.steps_old is not None:
            fields.setdefault("steps", args.steps_old)
        if "steps" in fields:  # the old name of num_steps (config files, --set, --steps)
            if "num_steps" in fields:
                raise ValueError("give num_steps only (steps is its deprecated old name)")
            print("lazyrich: 'steps' is deprecated, use 'num_steps' (--num-steps)",
                  file=sys.stderr)
            fields["num_steps"] = fields.pop("steps")
        unknown = set(fields) - set(sims.SweepConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; valid fields are "
                             f"{sorted(sims.SweepConfig.__dataclass_fields__)}")
        cfg = sims.SweepConfig(**fields)
        out = args.out
        if os.path.isdir(out):
            raise IsADirectoryError(f"--out {out!r} is a directory; expected the path of a "
                                    f"netCDF file, e.g. {os.path.join(out, 'sweep.nc')!r}")
        if args.shard:
            i, n = sims.parse_shard(args.shard)
            stem = out[:-3] if out.endswith(".nc") else out
            out = f"{stem}.shard-{i}-of-{n}.nc"
        ds = sims.sweep(cfg, path=out, shard=args.shard, chunk_size=args.chunk_size,
                        memory_budget=args.memory_budget, progress=not args.no_progress, **grid)
    except (ValueError, TypeError, OSError) as e:
        print(f"lazyrich sweep: {_one_line(e)}", file=sys.stderr)
        return 2
    n_div = int(ds["diverged"].values.sum())
    note = ""
    if args.shard and ds["diverged"].size == 0:
        note = (f" (shard {args.shard} has no cells: the grid has fewer cells than shards; "
                f"the empty file merges like the others)")
    print(f"wrote {out}: {ds['diverged'].size} cells, {n_div} diverged{note}", file=sys.stderr)
    return 0


def _merge(args) -> int:
    from lazyrich import sims

    try:
        if os.path.isdir(args.out):
            raise IsADirectoryError(f"OUT {args.out!r} is a directory; expected the path of the "
                                    f"merged netCDF file, e.g. "
                                    f"{os.path.join(args.out, 'merged.nc')!r}")
        ds = sims.merge(args.parts, out=args.out)
    except (ValueError, TypeError, OSError) as e:
        print(f"lazyrich merge: {_one_line(e)}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {ds['diverged'].size} cells from {len(args.parts)} file(s)",
          file=sys.stderr)
    return 0


def _positive_jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer number of worker "
                                         f"processes, got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lazyrich", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="run registered numerical claims")
    v.add_argument("patterns", nargs="*",
                   help="claim-name prefixes or globs, e.g. linear/ 'gamma/C1*'")
    v.add_argument("--quick", action="store_true", help="CPU-sized versions of each claim")
    v.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    v.add_argument("--list", action="store_true", help="list the selected claims and exit")
    v.add_argument("--report", metavar="DIR", help="write DIR/index.md, index.html and figures")
    v.add_argument("--tier", choices=("auto", "cpu", "all"), default="auto",
                   help="gpu-tier claims: run if an accelerator is present (auto), never, or "
                        "always")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.add_argument("--jobs", type=_positive_jobs, default=1, metavar="N",
                   help="run the claims in N worker processes (default 1; each holds its own "
                        "JAX runtime, a few GB at most)")
    v.add_argument("--module", action="append", metavar="MODULE",
                   help="also import this module's claims (a dotted name, e.g. mypkg.claims; "
                        "it is imported, i.e. its code runs); repeatable")
    v.set_defaults(func=_verify)

    sw = sub.add_parser("sweep", help="train a (gamma, eta, seed) grid and write netCDF")
    sw.add_argument("--config", metavar="FILE", help="JSON or TOML: SweepConfig fields and an "
                    "optional 'grid' table (gamma, eta or eta_hat, seeds, other sweepable fields)")
    sw.add_argument("--out", required=True, metavar="PATH", help="netCDF output (rerun to resume)")
    for name, typ in _FLAG_FIELDS.items():
        sw.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None)
    sw.add_argument("--steps", dest="steps_old", type=int, default=None,
                    help="deprecated: --num-steps")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="any SweepConfig field "
                    "(VALUE parsed as JSON, else a string)")
    sw.add_argument("--gamma", type=float, nargs="+")
    sw.add_argument("--eta", type=float, nargs="+", help="the spec's eta (step = N*eta)")
    sw.add_argument("--eta-hat", dest="eta_hat", type=float, nargs="+",
                    help="normalised rate eta/s(gamma) instead of --eta")
    sw.add_argument("--seeds", type=int, nargs="+")
    sw.add_argument("--sweep", action="append", metavar="NAME=V1,V2",
                    help="another sweepable field, e.g. init_scale=0.5,1")
    sw.add_argument("--shard", metavar="i/N", help="run slice i of N (writes OUT.shard-i-of-N.nc)")
    sw.add_argument("--chunk-size", dest="chunk_size", type=int)
    sw.add_argument("--memory-budget", dest="memory_budget", type=int, help="bytes per chunk")
    sw.add_argument("--no-progress", action="store_true")
    sw.set_defaults(func=_sweep)

    m = sub.add_parser("merge", help="merge shard files of one sweep into the gridded file")
    m.add_argument("out", help="output netCDF")
    m.add_argument("parts", nargs="+", help="shard files written by 'lazyrich sweep --shard'")
    m.set_defaults(func=_merge)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
