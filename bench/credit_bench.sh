#!/bin/bash
# One training epoch of 784-1000-1000-10 (minibatch 100, Adam) over the
# first LIMIT MNIST training images (default all 60000) per credit-assignment
# method, and PyTorch's BP epoch of the same network over the same images in
# the same run (bench/mlp_torch.py), at 1 and 2 threads, ROUNDS times
# (default 3) alternating, PyTorch under both OpenMP wait policies (passive
# and its default), and the minimum of each over the rounds (the least
# disturbed by other jobs on a shared machine); the other methods (METHODS,
# default all) at 1 thread.  Prints the load average: the machine is shared.
#   bash bench/credit_bench.sh build/release/neurodyn [DATA_DIR] [LIMIT]
set -eu
# libgomp and OpenBLAS threads spin while they wait; on a loaded machine that costs 5-10x (RESULTS.md)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ND=${1:?neurodyn}; DATA=${2:-data}; LIMIT=${3:-60000}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
epoch() { # method threads
  nice -n 10 "$ND" train mlp --method "$1" --epochs 1 --threads "$2" --angle-rows 0 --data "$DATA" --limit "$LIMIT" --test-limit 1000 --quiet \
    --out "$OUT/$1-$2" >"$OUT/$1-$2.txt"
  /usr/bin/python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(f'{sys.argv[2]} threads {sys.argv[3]}: epoch {r[\"seconds\"]:.2f} s')" \
    "$OUT/$1-$2/metrics.jsonl" "neurodyn $1" "$2"
  grep -o 'peak memory [0-9]* MiB' "$OUT/$1-$2.txt"
}
torch() { # threads wait-policy
  env OMP_WAIT_POLICY="$2" nice -n 10 /usr/bin/python3 "$(dirname "$0")/mlp_torch.py" "$DATA/mnist" "$1" "$LIMIT" |
    sed "s/^torch/torch ($2 wait)/" | tee -a "$OUT/times.txt"
}
for r in $(seq "${ROUNDS:-3}"); do
  for t in 1 2; do
    epoch bp $t | tee -a "$OUT/times.txt"
    torch $t passive
    torch $t active
  done
done
/usr/bin/python3 - "$OUT/times.txt" <<'PY'
import re, sys
best = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.*) threads (\d+): epoch ([0-9.]+) s", line)
    if m: best[(m[1], m[2])] = min(best.get((m[1], m[2]), 1e9), float(m[3]))
for t in "12":
    nd = best[("neurodyn bp", t)]
    pt = min(v for (k, tt), v in best.items() if tt == t and k.startswith("torch"))
    print(f"{t} thread(s), minimum over the rounds: neurodyn {nd:.2f} s, PyTorch (better policy) {pt:.2f} s: PyTorch / neurodyn {pt / nd:.2f}x")
PY
for m in ${METHODS:-fa dfa dni ff dtp am subtask}; do epoch $m 1; done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
