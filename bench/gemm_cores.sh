#!/usr/bin/env bash
# SGEMM throughput under each BLAS kernel choice (docs/RESULTS.md, "Kernels").
#
#   bash bench/gemm_cores.sh BUILD_DIR [ROUNDS] [SHAPES]
#
# Runs BUILD_DIR/bench_gemm (an OpenBLAS build with the BLIS expert path,
# -DND_BLIS_EX=ON, the default) under:
#   A  "openblas, environment's core": ND_BLAS_GEMM=cblas, OPENBLAS_CORETYPE as
#      the caller's environment has it (unset: OpenBLAS's own detection);
#   A' "openblas Haswell (pinned)": ND_BLAS_GEMM=cblas, OPENBLAS_CORETYPE=Haswell;
#   B  "blis expert API, neurodyn's context": ND_BLAS_GEMM=blis (with
#      OPENBLAS_CORETYPE=Haswell, which it does not read);
#   C  "process-wide switch (opt-in)": ND_BLAS_GEMM=cblas ND_BLAS_CORETYPE=auto
#      OPENBLAS_CORETYPE=Haswell (OpenBLAS switched to SkylakeX at load);
#   D  "neurodyn default, pinned Haswell": ND_BLAS_GEMM, ND_BLAS_CORETYPE unset,
#      OPENBLAS_CORETYPE=Haswell (selects B on an AVX-512 CPU).
# Configurations alternate for ROUNDS rounds (default 3); the summary lines
# {"bench":"sgemm_config", ...} give the best (minimum-time) GFLOP/s of each
# configuration, shape and implementation over the rounds ("neurodyn" =
# nd_sgemm, 2 OpenMP threads; "cblas" = direct cblas_sgemm of the linked
# OpenBLAS with its own threads, which follows OPENBLAS_CORETYPE only).
# SHAPES: all (default), square or krotov.  ND_BENCH_THREADS (default 2) and
# ND_BENCH_ARGS (e.g. "--clock cpu", with ND_BENCH_THREADS=1 on a shared
# machine) go to every bench_gemm run.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash bench/gemm_cores.sh BUILD_DIR [ROUNDS] [SHAPES]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
ROUNDS=${2:-3}
SHAPES=${3:-all}
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
  # shellcheck disable=SC2086  # ND_BENCH_ARGS: extra options, split on spaces
  env "${unsets[@]}" "${sets[@]}" "$1" --threads "$THREADS" --shapes "$SHAPES" ${ND_BENCH_ARGS:-} | sed "s/^{/{\"config\":\"$label\",/" | tee -a "$OUT"
}

for ((r = 1; r <= ROUNDS; r++)); do
  run "A openblas, environment's core" ND_BLAS_GEMM=cblas -ND_BLAS_CORETYPE "$BUILD/bench_gemm"
  run "A' openblas Haswell (pinned)" ND_BLAS_GEMM=cblas -ND_BLAS_CORETYPE OPENBLAS_CORETYPE=Haswell "$BUILD/bench_gemm"
  run "B blis expert API, neurodyn's context" ND_BLAS_GEMM=blis -ND_BLAS_CORETYPE OPENBLAS_CORETYPE=Haswell "$BUILD/bench_gemm"
  run "C process-wide switch (opt-in)" ND_BLAS_GEMM=cblas ND_BLAS_CORETYPE=auto OPENBLAS_CORETYPE=Haswell "$BUILD/bench_gemm"
  run "D neurodyn default, pinned Haswell" -ND_BLAS_GEMM -ND_BLAS_CORETYPE OPENBLAS_CORETYPE=Haswell "$BUILD/bench_gemm"
done

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'PY'
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
    print(json.dumps({"bench": "sgemm_config", "config": config, "blas": o["blas"], "blas_core": o["blas_core"],
                      "OPENBLAS_CORETYPE": o["OPENBLAS_CORETYPE"], "shape": shape, "impl": impl, "ms": o["ms"],
                      "gflops": o["gflops"], "statistic": f"min over {sys.argv[2]} rounds"}))
PY
