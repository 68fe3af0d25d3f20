"""Where the sweep engine's time goes: a per-operation profile of ``benchmarks/sweep.py``'s grid.

Runs the 64-cell grid of ``sweep.py`` (T = 200 steps, or 20 with ``LAZYRICH_BENCH_SMOKE=1``)
once to compile, then once under ``jax.profiler.trace`` with XLA:CPU's per-thunk trace events
switched on (``--xla_cpu_enable_xprof_traceme``), and prints the compiled program's operations
(XLA's fusion names: ``ynn_fusion.N`` are dots run by YNNPACK, ``dot.N`` by Eigen) by total
time, with how often each ran. An operation that ran steps × devices times is per training
step; one that ran (log points − 1) × devices times belongs to the test-set evaluations. The
times are each thread's own, so on several devices they add up to more than the wall time;
loops (``while.N``) are left out, their events cover their bodies on some iterations only.

This is how benchmarks/README.md found the transposes the per-cell inputs removed and the
share of the three N × N GEMMs. Usage: ``python benchmarks/profile_sweep.py [--top K]``.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import sys
import tempfile

# the per-thunk events must be switched on before XLA starts
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_enable_xprof_traceme=true").strip()

import jax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweep  # noqa: E402  (sets one XLA CPU device per core, as the benchmark runs)

STEPS = 20 if sweep.SMOKE else 200


def op_times(trace_dir):
    """{operation name: (calls, total µs)} of the XLA operations in a perfetto trace."""
    files = sorted(glob.glob(os.path.join(trace_dir, "plugins", "profile", "*",
                                          "perfetto_trace.json.gz")))
    if not files:
        raise RuntimeError(f"no perfetto trace under {trace_dir}")
    with gzip.open(files[-1]) as fh:
        data = json.load(fh)
    events = data["traceEvents"] if isinstance(data, dict) else data
    out = collections.defaultdict(lambda: [0, 0.0])
    for e in events:
        name = e.get("name", "")
        # XLA's own operations; not Python frames ($...), executor or runtime bookkeeping, nor
        # control flow (a while's events cover its body on some iterations, not on others)
        if (e.get("ph") != "X" or name.startswith(("$", "while.", "conditional.", "call."))
                or any(c in name for c in ":( ")):
            continue
        out[name][0] += 1
        out[name][1] += float(e.get("dur", 0.0))
    return {k: tuple(v) for k, v in out.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=25, help="operations to list (default 25)")
    args = ap.parse_args(argv)
    cfg = sweep.cfg_for(sweep.N, STEPS)
    run = sweep.engine(cfg)
    run()  # compile
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            run()
        ops = op_times(tmp)
    n_dev = jax.device_count()
    per_step = STEPS * n_dev
    per_log = len(range(0, STEPS, cfg.log_every)) * n_dev
    total = sum(t for _, t in ops.values())
    print(f"grid of benchmarks/sweep.py, T = {STEPS}, {n_dev} device(s): "
          f"{len(ops)} operations, {total / 1e3:.1f} ms of thread time")
    print(f"{'operation':<42} {'calls':>6} {'total ms':>9} {'us/call':>9} {'share':>6}  kind")
    for name, (calls, t) in sorted(ops.items(), key=lambda kv: -kv[1][1])[:args.top]:
        kind = ("per step" if calls == per_step else "per log point" if calls == per_log
                else "")
        print(f"{name[:42]:<42} {calls:6d} {t / 1e3:9.2f} {t / calls:9.1f} "
              f"{100 * t / total:5.1f}%  {kind}")
    steps_t = sum(t for c, t in ops.values() if c == per_step)
    log_t = sum(t for c, t in ops.values() if c == per_log)
    print(f"per-step operations {100 * steps_t / total:.1f}%, per-log-point operations "
          f"{100 * log_t / total:.1f}% of the thread time")


if __name__ == "__main__":
    main()
