"""The ``lazyrich`` command line.

``lazyrich verify [PATTERN ...] [--quick] [--json] [--list] [--report DIR] [--tier ...]
[--module MOD]`` runs the registered numerical claims (the toolkit's, plus those of each
``--module``) and prints a table; it exits 1 if any fails.

``lazyrich sweep [--config FILE] [--set KEY=VALUE ...] --gamma ... --eta ... --out PATH``
trains a (γ, η, seed) grid with the vmapped engine (``lazyrich.sims.sweep``) and writes netCDF;
rerunning the same command resumes. ``--shard i/N`` runs one slice; ``lazyrich merge OUT PARTS...``
combines the slices. ``examples/*.toml`` are ready-made configs.

``lazyrich plot phase-map SCAN.nc -o phase.png`` and ``lazyrich plot curves SCAN.nc -o
curves.png [--gamma G]`` draw a finished sweep with the figures of :mod:`lazyrich.analysis`.

``lazyrich --version`` prints the installed version. ``verify`` and ``sweep`` show a progress bar
when stderr is a terminal (``--progress`` / ``--no-progress`` force it on or off). ``verify``
compiles with LLVM at -O1 unless ``XLA_FLAGS`` sets a level (claims are small programs run
once). Usage errors and bad input are one line on stderr, exit status 2.
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


def _quick_compile() -> None:
    """LLVM at -O1 for XLA's CPU backend (unless ``XLA_FLAGS`` already sets a level): a claim is
    many small programs, each run once, so compiling dominates. Measured on a 2-core CPU:
    ``verify kernels/ --quick`` from an empty cache 174 s -> 142 s, claim values bit-identical
    (no fast-math either way). Takes effect only before JAX's backend starts."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=1".strip()


def _verify(args) -> int:
    from lazyrich import set_precision

    _quick_compile()
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
    results = run_claims(chosen, quick=args.quick, progress=_show_progress(args),
                         skip_gpu=skip_gpu, jobs=args.jobs, modules=tuple(args.module or ()))
    print(to_json(results) if args.json else format_table(results))
    if args.report:
        path = write_report(results, args.report)
        print(f"report written to {path}", file=sys.stderr)
    return 0 if all(r.status in ("pass", "skip") for r in results) else 1


_FLAG_FIELDS = {"model": str, "depth": int, "width": int, "input_dim": int, "activation": str,
                "task": str, "loss": str, "batch_size": int, "num_steps": int, "optimizer": str,
                "parametrization": str, "dtype": str, "log_every": int, "log_points": int,
                "data_seed": int, "padding": str, "trainable": str}


def _sweep_choices() -> dict:
    """The valid values of each ``sweep`` option with a fixed set, read from the library's own
    tuples (never copied here, so the help and the checks follow the library)."""
    from lazyrich import sims

    found = {"model": sims.MODELS, "task": sims.TASKS, "optimizer": sims.OPTIMIZERS,
             "activation": sims.activation_names(), "parametrization": sims.PARAMETRIZATIONS,
             "dtype": sims.DTYPES, "loss": sims.LOSSES, "padding": sims.PADDINGS,
             "trainable": sims.TRAINABLE}
    return {k: tuple(v) for k, v in found.items()}


def _show_progress(args) -> bool:
    """``--progress`` / ``--no-progress``, else a bar only when stderr is a terminal (no bar
    redrawn into log files and pipes)."""
    return sys.stderr.isatty() if args.progress is None else args.progress


def _add_progress(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show a progress bar (default: only when stderr is a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")


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
        if args.slurm:
            if args.shard or not args.shards:
                raise ValueError("--slurm needs --shards N (the job array's size) and no --shard")
            opts = {}
            for item in args.slurm_option or []:
                if "=" not in item:
                    raise ValueError(f"--slurm-option expects KEY=VALUE, got {item!r}")
                k, v = item.split("=", 1)
                opts[k.strip()] = _parse_value(v, f"--slurm-option {k.strip()}")
            ds = sims.submit_sweep(cfg, path=out, shards=args.shards, slurm_options=opts,
                                   wait=not args.no_wait, chunk_size=args.chunk_size,
                                   memory_budget=args.memory_budget, **grid)
            if args.no_wait:
                print(f"submitted {len(ds.jobs)} shard(s) of {out} (logs: {ds.folder}); once "
                      f"they have finished, rerun without --no-wait to merge", file=sys.stderr)
                return 0
        elif args.slurm_option or args.shards or args.no_wait:
            raise ValueError("--slurm-option, --shards and --no-wait go with --slurm")
        else:
            if args.shard:
                out = sims.shard_path(out, args.shard)
            ds = sims.sweep(cfg, path=out, shard=args.shard, chunk_size=args.chunk_size,
                            memory_budget=args.memory_budget, progress=_show_progress(args),
                            **grid)
    except (ValueError, TypeError, OSError, ImportError) as e:
        print(f"lazyrich sweep: {_one_line(e)}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # --slurm: a shard failed max_requeues + 1 times
        print(f"lazyrich sweep: {_one_line(e)}", file=sys.stderr)
        return 1
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


# -- lazyrich plot ----------------------------------------------------------------------------

#: The per-cell dimensions a figure draws; any other grid dimension (width, init_scale, ...) is
#: fixed with --select first.
_CORE_DIMS = ("gamma", "eta", "eta_hat", "seed", "step")


def _load_scan(path: str):
    """A finished sweep's dataset, or one-line errors naming SCAN and what was expected."""

    from lazyrich import sims

    expected = "expected a netCDF file written by 'lazyrich sweep' (or 'lazyrich merge')"
    if not os.path.exists(path):
        raise FileNotFoundError(f"SCAN {path!r} does not exist; {expected}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"SCAN {path!r} is a directory; {expected}")
    try:  # the library's reader: format, fingerprint and readability checks
        ds = sims.load_results(path)
    except (ValueError, TypeError, OSError) as e:
        raise ValueError(f"SCAN: {_one_line(e)}") from None
    if "cell" in ds.dims:
        raise ValueError(f"SCAN {path!r} is one shard of a sweep (flat cells); merge the shards "
                         f"first: lazyrich merge OUT.nc PART.nc ...")
    return ds


def _nearest(values, v: float):
    """The index of ``v`` in a coordinate (to float round-off), or None."""
    import numpy as np

    hit = np.nonzero(np.isclose(np.asarray(values, dtype=float), v, rtol=1e-6, atol=0.0))[0]
    return int(hit[0]) if hit.size else None


def _select(ds, items, path: str):
    """Fix every grid dimension beyond (gamma, eta or eta_hat, seed) at one value."""
    extra = [d for d in ds["diverged"].dims if d not in _CORE_DIMS] if "diverged" in ds else []
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--select expects DIM=VALUE, got {item!r}")
        name, text = (t.strip() for t in item.split("=", 1))
        if name not in extra:
            raise ValueError(f"--select {name}: not a further grid dimension of SCAN {path!r}; "
                             f"expected one of {extra}")
        try:
            i = _nearest(ds[name].values, float(text))
        except ValueError:
            i = None
        if i is None:
            raise ValueError(f"--select {name}={text}: not in the grid; expected one of "
                             f"{ds[name].values.tolist()}")
        ds = ds.isel({name: i})
        extra.remove(name)
    if extra:
        vals = {d: ds[d].values.tolist() for d in extra}
        raise ValueError(f"SCAN {path!r} also varies {vals}; pick one value of each with "
                         f"--select {extra[0]}=VALUE")
    return ds


def _check_metric(ds, metric: str, path: str) -> None:
    logged = sorted(str(k) for k, v in ds.data_vars.items() if "step" in v.dims)
    if metric not in logged:
        raise ValueError(f"--metric {metric!r}: SCAN {path!r} has no such logged variable; "
                         f"expected one of {logged}")


def _check_out(out: str, fig) -> None:
    supported = fig.canvas.get_supported_filetypes()
    ext = os.path.splitext(out)[1][1:].lower()
    if os.path.isdir(out):
        raise IsADirectoryError(f"-o {out!r} is a directory; expected an image path, e.g. "
                                f"{os.path.join(out, 'figure.png')!r}")
    if ext not in supported:
        raise ValueError(f"-o {out!r}: expected an image file name ending in one of "
                         f"{sorted('.' + k for k in supported)}")


def _save(fig, out: str) -> None:
    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OSError(f"-o {out!r}: folder {folder!r} cannot be created ({e.strerror}); "
                      f"expected a writable path") from None
    try:
        fig.savefig(out, dpi=150)
    except OSError as e:
        raise OSError(f"-o {out!r} cannot be written ({e.strerror or e}); expected a writable "
                      f"path") from None


def _draw_curves(ds, metric: str, gamma, ax, path: str) -> None:
    """``analysis.plot_loss_curves`` with errors naming the CLI's arguments."""
    from lazyrich import analysis

    if gamma is not None and _nearest(ds["gamma"].values, gamma) is None:
        raise ValueError(f"--gamma {gamma:g}: not in the grid of SCAN {path!r}; expected one "
                         f"of {ds['gamma'].values.tolist()}")
    try:
        analysis.plot_loss_curves(ds, metric, gamma=gamma, ax=ax)
    except ValueError as e:
        raise ValueError(f"SCAN {path!r}: {_one_line(e)}") from None


def _plot(args) -> int:
    from matplotlib.figure import Figure

    from lazyrich import analysis

    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    try:
        _check_out(args.out, fig)
        ds = _load_scan(args.scan)
        ds = _select(ds, args.select, args.scan)
        _check_metric(ds, args.metric, args.scan)
        ax = fig.add_subplot()
        if args.figure == "phase-map":
            try:
                analysis.plot_phase_map(ds, args.metric, ax=ax)
            except (ValueError, TypeError) as e:
                raise ValueError(f"SCAN {args.scan!r} with --metric {args.metric!r}: "
                                 f"{_one_line(e)}") from None
        else:
            _draw_curves(ds, args.metric, args.gamma, ax, args.scan)
        _save(fig, args.out)
    except (ValueError, TypeError, OSError) as e:
        print(f"lazyrich plot {args.figure}: {_one_line(e)}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}", file=sys.stderr)
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


def _version() -> str:
    """The installed distribution's version, else ``lazyrich.__version__`` (a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lazyrich")
    except PackageNotFoundError:
        import lazyrich

        return getattr(lazyrich, "__version__", "unknown")


class _Formatter(argparse.HelpFormatter):
    """Help wrapped at spaces only, so names such as single-index stay whole (and copyable)."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False,
                             break_long_words=False)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (``lazyrich sweep: argument --task: invalid choice:
    'x' (choose from ...)``), exit status 2, like every other bad input of the CLI."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="lazyrich", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"lazyrich {_version()}")
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
    _add_progress(v)
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
    from lazyrich import sims

    choices = _sweep_choices()
    defaults = sims.SweepConfig.__dataclass_fields__
    for name, typ in _FLAG_FIELDS.items():
        flag = "--" + name.replace("_", "-")
        default = defaults[name].default
        said = "" if default is None else f" (default {default})"
        if name in choices:
            sw.add_argument(flag, dest=name, type=typ, default=None, choices=choices[name],
                            metavar=name.upper(),
                            help=f"one of: {', '.join(choices[name])}{said}")
        else:
            sw.add_argument(flag, dest=name, type=typ, default=None,
                            metavar=name.upper() if typ is str else "N",
                            help=f"SweepConfig.{name}{said}")
    sw.add_argument("--steps", dest="steps_old", type=int, default=None,
                    help="deprecated: --num-steps")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="any SweepConfig field "
                    "(VALUE parsed as JSON, else a string)")
    sw.add_argument("--gamma", type=float, nargs="+", metavar="G",
                    help="γ values of the grid (replace the config file's)")
    sw.add_argument("--eta", type=float, nargs="+", metavar="ETA",
                    help="the μP η (step = N·η; docs: Conventions)")
    sw.add_argument("--eta-hat", dest="eta_hat", type=float, nargs="+", metavar="ETA_HAT",
                    help="normalised rate eta/s(gamma) instead of --eta")
    sw.add_argument("--seeds", type=int, nargs="+", metavar="S",
                    help="initialisation seeds of the grid")
    sw.add_argument("--sweep", action="append", metavar="NAME=V1,V2",
                    help="another sweepable field, e.g. init_scale=0.5,1")
    sw.add_argument("--shard", metavar="i/N", help="run slice i of N (writes OUT.shard-i-of-N.nc)")
    sw.add_argument("--slurm", action="store_true",
                    help="run --shards N slices as one Slurm job array (submitit; pip install "
                         "lazyrich[slurm]): requeues preempted/failed tasks, merges into --out")
    sw.add_argument("--slurm-option", dest="slurm_option", action="append", metavar="KEY=VALUE",
                    help="submitit/sbatch option, e.g. partition=gpu, time=60 (minutes), "
                         "gpus_per_node=1, mem_gb=32 (VALUE parsed as JSON); repeatable")
    sw.add_argument("--shards", type=int, metavar="N", help="with --slurm: the array's size")
    sw.add_argument("--no-wait", dest="no_wait", action="store_true",
                    help="with --slurm: submit and exit (rerun without it, once done, to merge)")
    sw.add_argument("--chunk-size", dest="chunk_size", type=int, metavar="N",
                    help="cells per compiled call (default: what --memory-budget allows)")
    sw.add_argument("--memory-budget", dest="memory_budget", type=int, metavar="BYTES",
                    help="bytes per chunk (default 2 GiB)")
    _add_progress(sw)
    sw.set_defaults(func=_sweep)

    m = sub.add_parser("merge", help="merge shard files of one sweep into the gridded file")
    m.add_argument("out", help="output netCDF")
    m.add_argument("parts", nargs="+", help="shard files written by 'lazyrich sweep --shard'")
    m.set_defaults(func=_merge)

    pl = sub.add_parser("plot", help="draw a finished sweep (the figures of lazyrich.analysis)")
    figs = pl.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    pm = figs.add_parser("phase-map", help="final loss over (log γ, log η): η*, the divergence "
                         "edge and the η ∝ γ², γ^(2/L), γ lines (analysis.plot_phase_map)")
    cv = figs.add_parser("curves", help="a metric against step: every η at one γ (--gamma), or "
                         "each γ at its best η")
    for f in (pm, cv):
        f.add_argument("scan", metavar="SCAN.nc",
                       help="netCDF file written by 'lazyrich sweep' or 'lazyrich merge'")
        f.add_argument("-o", "--out", required=True, metavar="IMAGE",
                       help="image to write; the format is the extension (.png, .pdf, .svg, ...)")
        f.add_argument("--metric", default="test_loss",
                       help="logged variable to draw (default test_loss; e.g. loss, accuracy)")
        f.add_argument("--select", action="append", metavar="DIM=VALUE",
                       help="one value of a further grid dimension (width, init_scale, ...); "
                            "repeatable")
        f.set_defaults(func=_plot)
    cv.add_argument("--gamma", type=float, metavar="G",
                    help="draw every η at this γ of the grid (default: each γ at the η of its "
                         "lowest final test loss)")
    return p


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors: their status, returned
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
