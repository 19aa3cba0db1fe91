#!/usr/bin/env bash
# Runs every benchmark of a build and its reference peer; `make bench` calls it.
#
#   bash bench/run.sh BUILD_DIR            (from anywhere; runs in the source tree)
#
# Conventions (a new benchmark needs no edit here):
#  * Every executable BUILD_DIR/bench_<name> (built from bench/bench_<name>.c)
#    is run with `--threads $ND_BENCH_THREADS`.  It prints one JSON object per
#    line per measurement; lines that are not JSON objects are passed through
#    on stderr.  A benchmark that runs its own peer (bench_krotov runs
#    bench/krotov_numpy.py) just prints the peer's lines too.
#  * If bench/<name>_peer.py or bench/<name>_torch.py exists, it is the peer of
#    bench_<name>: run by /usr/bin/python3 (the interpreter that has NumPy and
#    PyTorch) with `--threads $ND_BENCH_THREADS`, alternating with the
#    benchmark for $ND_BENCH_ROUNDS rounds so both see the same machine load.
#    Lines of the two are joined on (bench, shape, pass): for every key, the
#    fastest "ms" over all rounds of impl "neurodyn" and of the peer's impl
#    give one line {"bench": "<bench>_ratio", ..., "ratio": neurodyn/peer}.
#    (bench_conv <-> bench/conv_torch.py is such a pair.)
#  * Environment: ND_BENCH_THREADS (default 2; exported as ND_NUM_THREADS),
#    ND_BENCH_ROUNDS (default 3), ND_BENCH_ONLY (space-separated names, e.g.
#    "gemm conv", to run a subset).  OpenBLAS reads OPENBLAS_CORETYPE when it
#    loads: see docs/RESULTS.md ("Kernels") for its effect on speed.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: bash bench/run.sh BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC"
THREADS=${ND_BENCH_THREADS:-2}
ROUNDS=${ND_BENCH_ROUNDS:-3}
PY=/usr/bin/python3
export ND_NUM_THREADS=$THREADS
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

json_only() { # stdout: JSON object lines; other lines to stderr
  while IFS= read -r line; do
    case "$line" in
      \{*) printf '%s\n' "$line" ;;
      *) printf '%s\n' "$line" >&2 ;;
    esac
  done
}

shopt -s nullglob
found=0
for exe in "$BUILD"/bench_*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  name=${exe##*/bench_}
  if [ -n "${ND_BENCH_ONLY:-}" ] && [[ " $ND_BENCH_ONLY " != *" $name "* ]]; then continue; fi
  found=1
  peer=""
  for cand in "bench/${name}_peer.py" "bench/${name}_torch.py"; do
    if [ -f "$cand" ]; then peer=$cand; break; fi
  done
  if [ -z "$peer" ]; then
    "$exe" --threads "$THREADS" | json_only
    continue
  fi
  if ! "$PY" -c 'import sys' 2>/dev/null; then
    echo "bench/run.sh: $PY not found; running bench_$name without its peer $peer" >&2
    "$exe" --threads "$THREADS" | json_only
    continue
  fi
  : > "$TMP/$name.jsonl"
  for ((r = 1; r <= ROUNDS; r++)); do
    "$exe" --threads "$THREADS" | json_only | tee -a "$TMP/$name.jsonl"
    "$PY" "$peer" --threads "$THREADS" | json_only | tee -a "$TMP/$name.jsonl"
  done
  "$PY" - "$TMP/$name.jsonl" "$ROUNDS" <<'EOF'
import json, sys
best = {}
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if "ms" not in o or "impl" not in o:
        continue
    key = (o.get("bench"), o.get("shape"), o.get("pass"))
    slot = best.setdefault(key, {})
    if o["impl"] not in slot or o["ms"] < slot[o["impl"]]:
        slot[o["impl"]] = o["ms"]
for (bench, shape, pas), slot in best.items():
    if "neurodyn" not in slot:
        continue
    for impl, ms in slot.items():
        if impl == "neurodyn":
            continue
        out = {"bench": f"{bench}_ratio", "shape": shape, "pass": pas, "neurodyn_ms": slot["neurodyn"],
               f"{impl}_ms": ms, "ratio": round(slot["neurodyn"] / ms, 3), "peer": impl,
               "statistic": f"min over {sys.argv[2]} alternating rounds"}
        if pas is None:
            del out["pass"]
        print(json.dumps(out))
EOF
done
if [ "$found" = 0 ]; then
  echo "bench/run.sh: no bench_* executables in $BUILD (build first: make build)" >&2
  exit 1
fi
