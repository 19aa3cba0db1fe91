#!/usr/bin/env bash
# SGEMM throughput under each BLAS kernel choice (docs/RESULTS.md, "Kernels").
#
#   bash bench/gemm_cores.sh BUILD_DIR [BLIS_BUILD_DIR] [ROUNDS]
#
# Runs BUILD_DIR/bench_gemm (an OpenBLAS build) with
#   OPENBLAS_CORETYPE = Haswell, unset (OpenBLAS's own detection), SkylakeX, Zen,
#   each with ND_BLAS_CORETYPE=keep so neurodyn leaves OpenBLAS's choice alone,
#   and once with neurodyn's default (ND_BLAS_CORETYPE unset, OPENBLAS_CORETYPE=Haswell);
# and BLIS_BUILD_DIR/bench_gemm (configured with -DND_BLAS=blis), if given,
#   with BLIS's own detection and with BLIS_ARCH_TYPE=skx.
# Configurations alternate for ROUNDS rounds (default 3); the summary lines
# {"bench":"sgemm_config", ...} give the best (minimum-time) GFLOP/s of each
# configuration, shape and implementation over the rounds.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash bench/gemm_cores.sh BUILD_DIR [BLIS_BUILD_DIR] [ROUNDS]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
BLIS=${2:-}
ROUNDS=${3:-3}
THREADS=${ND_BENCH_THREADS:-2}
export ND_NUM_THREADS=$THREADS
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

run() { # label, then env assignments (NAME=VALUE or -NAME to unset), then the program
  local label=$1
  shift
  local unsets=() sets=()
  while [ $# -gt 1 ]; do
    case "$1" in
      -*) unsets+=(-u "${1#-}") ;;
      *) sets+=("$1") ;;
    esac
    shift
  done
  env "${unsets[@]}" "${sets[@]}" "$1" --threads "$THREADS" | sed "s/^{/{\"config\":\"$label\",/" | tee -a "$OUT"
}

for ((r = 1; r <= ROUNDS; r++)); do
  run "openblas Haswell (OPENBLAS_CORETYPE=Haswell, ND_BLAS_CORETYPE=keep)" OPENBLAS_CORETYPE=Haswell ND_BLAS_CORETYPE=keep "$BUILD/bench_gemm"
  run "openblas detected (OPENBLAS_CORETYPE unset, ND_BLAS_CORETYPE=keep)" -OPENBLAS_CORETYPE ND_BLAS_CORETYPE=keep "$BUILD/bench_gemm"
  run "openblas SkylakeX (OPENBLAS_CORETYPE=SkylakeX, ND_BLAS_CORETYPE=keep)" OPENBLAS_CORETYPE=SkylakeX ND_BLAS_CORETYPE=keep "$BUILD/bench_gemm"
  run "openblas Zen (OPENBLAS_CORETYPE=Zen, ND_BLAS_CORETYPE=keep)" OPENBLAS_CORETYPE=Zen ND_BLAS_CORETYPE=keep "$BUILD/bench_gemm"
  run "neurodyn default (OPENBLAS_CORETYPE=Haswell, ND_BLAS_CORETYPE unset)" OPENBLAS_CORETYPE=Haswell -ND_BLAS_CORETYPE "$BUILD/bench_gemm"
  if [ -n "$BLIS" ]; then
    run "blis detected" -BLIS_ARCH_TYPE "$BLIS/bench_gemm"
    run "blis skx (BLIS_ARCH_TYPE=skx)" BLIS_ARCH_TYPE=skx "$BLIS/bench_gemm"
  fi
done

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, sys
best = {}
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("bench") != "sgemm":
        continue
    key = (o["config"], o["shape"], o["impl"])
    if key not in best or o["ms"] < best[key]["ms"]:
        best[key] = o
for (config, shape, impl), o in best.items():
    print(json.dumps({"bench": "sgemm_config", "config": config, "blas_core": o["blas_core"], "shape": shape,
                      "impl": impl, "ms": o["ms"], "gflops": o["gflops"],
                      "statistic": f"min over {sys.argv[2]} rounds"}))
EOF
