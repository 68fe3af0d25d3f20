#!/usr/bin/env bash
# One accelerator run of lazyrich's benchmarks, on the machine's own Python (nothing installed:
# the repository is put on PYTHONPATH). Prints one table at the end; each step's full output is
# kept in $GPU_BENCH_OUT (default: a fresh temporary folder).
#
#   bash benchmarks/gpu.sh            # GPU sizes: fits in 8 minutes on one H200
#   bash benchmarks/gpu.sh --small    # the same steps at CPU-test sizes (tests/test_benchmarks.py)
#
# Steps (each under its own time limit, so one slow step cannot eat the others' time):
#   env      the JAX backend and devices, and which of the library's dependencies import
#   sweep    benchmarks/sweep.py: engine vs a loop of jitted runs vs the eager PyTorch loop
#            (PyTorch on the GPU when it sees one), and the engine's FLOP/s against jnp.matmul
#   closed   benchmarks/closed_form.py: the batched closed form of the linear dynamics vs DOP853
#   ipm      benchmarks/capacity.py --ipm --no-baseline: the interior-point capacity solver at
#            the paper's size (P = 10, M = 50, N = 512, n_t = 200)
#   claims   lazyrich verify --tier all --quick on the gpu-tier claims
# Figures go into benchmarks/README.md ("GPU"); the script never changes the repository.
set -u
cd "$(dirname "$0")/.."
SMALL=0
for arg in "$@"; do
  case "$arg" in
    --small) SMALL=1 ;;
    *) echo "gpu.sh: unknown argument '$arg' (expected --small)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
OUT=${GPU_BENCH_OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
if [ "$SMALL" = 1 ]; then
  export LAZYRICH_FAST=1 LAZYRICH_BENCH_SMOKE=1
  LIMIT_SWEEP=300 LIMIT_CLOSED=120 LIMIT_IPM=120 LIMIT_CLAIMS=120
  IPM_ARGS=(--P 4 --M 10 --N 64 --n-t 16)
  CLAIMS=(capacity/ipm-backend-paper-size)
else
  LIMIT_SWEEP=150 LIMIT_CLOSED=60 LIMIT_IPM=60 LIMIT_CLAIMS=140
  IPM_ARGS=(--n-t 200)
  CLAIMS=(capacity/ipm-backend-paper-size gamma/GPU1-figure1-mlp)
fi

ROWS=()
step() {  # step NAME LIMIT_S SUMMARY_REGEX CMD...
  local name=$1 limit=$2 pattern=$3
  shift 3
  local t0 rc t1 summary
  t0=$(date +%s)
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  t1=$(date +%s)
  summary=$(grep -E "$pattern" "$OUT/$name.log" | tail -n 4 | tr -s ' ' | paste -sd ';' -)
  [ "$rc" = 124 ] && summary="TIMED OUT after ${limit} s; $summary"
  ROWS+=("| $name | $rc | $((t1 - t0)) | ${summary:-see $OUT/$name.log} |")
  echo "gpu.sh: $name finished (rc $rc, $((t1 - t0)) s)" >&2
}

step env 60 "backend|missing|devices" "$PY" -c '
import importlib, jax
print("backend", jax.default_backend(), "devices", jax.devices())
miss = [m for m in ("numpy", "scipy", "optax", "flax", "xarray", "h5netcdf", "matplotlib",
                    "tqdm", "torch") if importlib.util.find_spec(m) is None]
print("missing:", ", ".join(miss) or "none")'
step sweep "$LIMIT_SWEEP" "engine|ratio|matmul" "$PY" benchmarks/sweep.py
step closed "$LIMIT_CLOSED" "ratio|PASS|FAIL|error" "$PY" benchmarks/closed_form.py
step ipm "$LIMIT_IPM" "ipm|nnls" "$PY" benchmarks/capacity.py --ipm --no-baseline "${IPM_ARGS[@]}"
step claims "$LIMIT_CLAIMS" "PASS|FAIL|ERROR|passed" "$PY" -m lazyrich.cli verify "${CLAIMS[@]}" \
  --tier all --quick --no-progress

echo
echo "| step | rc | s | summary |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo "logs: $OUT"
