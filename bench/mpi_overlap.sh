#!/bin/bash
# Communication overlapped with the backward pass (docs/distributed.md): the
# comm_fraction and epoch time of `train mlp` (784-1000-1000-10, bp, batch
# 100, one thread per rank) on 2 processes, with the gradient buckets
# exchanged while the backward pass goes on (ND_MPI_OVERLAP=1, the default)
# and after it (ND_MPI_OVERLAP=0), and, when given, an older neurodyn
# ($BEFORE: one allgather of the whole gradient after the backward pass).
# The OpenMP wait policy (VARIANTS="passive spin"): the same runs with
# every core's thread in each rank (no --threads, 2 ranks x 2 threads on 2
# cores), "passive" as neurodyn starts under mpirun (it re-executes itself
# with OMP_WAIT_POLICY=passive, cli/dist.c), "spin" with ND_OMP_NO_REEXEC=1
# (libgomp's default: threads spin at barriers).
# Rounds alternate the variants, each round starting with the next one; one JSON line per run.
#   bench/mpi_overlap.sh build/release/neurodyn [rounds] > bench/results/mpi_overlap.jsonl
#   VARIANTS="passive spin" bench/mpi_overlap.sh build/release/neurodyn 3 > bench/results/mpi_wait_policy.jsonl
set -u
CLI="$1"
ROUNDS="${2:-3}"
BEFORE="${BEFORE:-}"
DATA="${ND_DATA_DIR:-data}"
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ARGS=(--data "$DATA" --limit 3000 --test-limit 100 --epochs 2 --batch 100 --angle-rows 0 --quiet)
run() { # name binary overlap threads no-reexec
  rm -rf "$T/$1"
  local th=()
  [ "$4" != all ] && th=(--threads "$4")
  ND_MPI_OVERLAP=$3 ND_OMP_NO_REEXEC=$5 nice mpirun -np 2 --oversubscribe --bind-to none -x ND_MPI_OVERLAP -x ND_OMP_NO_REEXEC \
    "$2" train mlp "${ARGS[@]}" "${th[@]}" --out "$T/$1" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; return 1; }
  /usr/bin/python3 - "$T/$1/metrics.jsonl" "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"rank_seconds"' in l]
m = rows[-1]  # the second epoch: the first includes start-up
print(json.dumps({"variant": sys.argv[2], "epoch_seconds": max(m["rank_seconds"]),
                  "rank_comm_seconds": m["rank_comm_seconds"], "comm_fraction": m["comm_fraction"],
                  "loadavg": sys.argv[3]}))
PY
}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT
read -r -a V <<<"${VARIANTS:-overlap after}"
[ -n "$BEFORE" ] && V+=(before)
for r in $(seq "$ROUNDS"); do # each round starts with the next variant (no fixed order)
  for i in $(seq 0 $((${#V[@]} - 1))); do
    v=${V[$(( (i + r) % ${#V[@]} ))]}
    case $v in
      overlap) run overlap "$CLI" 1 1 0 ;;
      after) run after "$CLI" 0 1 0 ;;
      before) run before "$BEFORE" 1 1 0 ;;
      passive) run passive "$CLI" 1 all 0 ;;
      spin) run spin "$CLI" 1 all 1 ;;
    esac
  done
done
