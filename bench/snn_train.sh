#!/usr/bin/env bash
# Training-step benchmark (docs/spiking.md, docs/RESULTS.md): one step
# (gradient, clipping, Adam) of a batch-128 recurrent ALIF network, neurodyn's
# bench_snn_train (BPTT and e-prop) against the PyTorch loop of
# bench/snn_train_torch.py --bench (same equations, BPTT through autograd), at
# THREADS threads and at one, alternating for ROUNDS rounds.
#
#   bash bench/snn_train.sh BUILD_DIR   (env: UNIT B T I N K THREADS ROUNDS REPEATS)
#
# Prints JSON lines: one per run (neurodyn by wall and by CPU clock; PyTorch
# reports both), then the ratios of the fastest of each.
set -euo pipefail
BUILD=$(cd "${1:?usage: bash bench/snn_train.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
UNIT=${UNIT:-alif} B=${B:-128} T=${T:-100} I=${I:-40} N=${N:-256} K=${K:-10}
THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-2} REPEATS=${REPEATS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "{\"uptime\": \"$(uptime)\"}"
ARGS=(--unit "$UNIT" --batch "$B" --steps "$T" --inputs "$I" --neurons "$N" --outputs "$K" --repeats "$REPEATS")
for ((r = 1; r <= ROUNDS; r++)); do
  for tt in $(printf '%s\n' "$THREADS" 1 | sort -u); do
    for m in bptt eprop; do
      for clk in wall cpu; do
        OMP_NUM_THREADS=$tt "$BUILD/bench_snn_train" "${ARGS[@]}" --method "$m" --threads "$tt" --clock "$clk" | tee -a "$TMP/all.jsonl"
      done
    done
    /usr/bin/python3 "$SRC/bench/snn_train_torch.py" --bench "${ARGS[@]}" --threads "$tt" | tee -a "$TMP/all.jsonl"
  done
done
/usr/bin/python3 - "$TMP/all.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
out = {"bench": "snn_train_ratio"}
for t in sorted({r["threads"] for r in runs}):
    nd = lambda m, clk: min(r["s_per_step_best"] for r in runs
                            if r["impl"] == "neurodyn" and r["threads"] == t and r["method"] == m and r["clock"] == clk)
    th = lambda k: min(r[k] for r in runs if r["impl"] == "torch" and r["threads"] == t)
    o = {"neurodyn_bptt_wall_s": nd("bptt", "wall"), "neurodyn_bptt_cpu_s": nd("bptt", "cpu"),
         "neurodyn_eprop_wall_s": nd("eprop", "wall"), "neurodyn_eprop_cpu_s": nd("eprop", "cpu"),
         "torch_bptt_wall_s": th("s_per_step_best"), "torch_bptt_cpu_s": th("cpu_s_per_step_best")}
    o["speedup_bptt_wall"] = round(o["torch_bptt_wall_s"] / o["neurodyn_bptt_wall_s"], 2)
    o["speedup_bptt_cpu"] = round(o["torch_bptt_cpu_s"] / o["neurodyn_bptt_cpu_s"], 2)
    o["speedup_eprop_vs_torch_bptt_cpu"] = round(o["torch_bptt_cpu_s"] / o["neurodyn_eprop_cpu_s"], 2)
    out[f"threads_{t}"] = o
print(json.dumps(out))
PY
