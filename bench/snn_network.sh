#!/usr/bin/env bash
# LIF network benchmark (docs/spiking.md, docs/RESULTS.md): `neurodyn run snn`
# against the PyTorch loop of bench/snn_network_torch.py on the same network
# (N neurons, connection probability P, T ms at dt ms, Brunel J = 0.1 mV,
# g = 5, drive 24 mV, membrane noise 3 mV), alternating for ROUNDS rounds.
# PyTorch's event-driven loop runs at THREADS threads and at one (on a loaded
# machine its two-thread pool can be the slower).  The dense-product PyTorch
# loop is timed over DENSE_STEPS steps only (it
# takes ~0.1 s a step at N = 10^4) and its time per step extrapolated.
#
#   bash bench/snn_network.sh BUILD_DIR   (env: N P T DT THREADS ROUNDS DENSE_STEPS)
#
# Prints JSON lines: one per run, then the ratios of the fastest of each.
set -euo pipefail
BUILD=$(cd "${1:?usage: bash bench/snn_network.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000} P=${P:-0.1} T=${T:-1000} DT=${DT:-0.1} THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-2}
DENSE_STEPS=${DENSE_STEPS:-20}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "{\"uptime\": \"$(uptime)\"}"
for ((r = 1; r <= ROUNDS; r++)); do
  "$BUILD/neurodyn" run snn --neurons "$N" --connectivity "$P" --duration-ms "$T" --dt-ms "$DT" --drive 24 --noise 3 \
    --seed 1 --threads "$THREADS" --trace 0 --quiet --out "$TMP/nd"
  /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; r["impl"]="neurodyn"; print(json.dumps(r))' \
    "$TMP/nd/summary.json" | tee -a "$TMP/all.jsonl"
  for tt in $(printf '%s\n' "$THREADS" 1 | sort -u); do  # PyTorch at THREADS and at 1 thread
    /usr/bin/python3 "$SRC/bench/snn_network_torch.py" --neurons "$N" --connectivity "$P" --duration-ms "$T" --dt-ms "$DT" \
      --threads "$tt" --mode event | tee -a "$TMP/all.jsonl"
  done
done
/usr/bin/python3 "$SRC/bench/snn_network_torch.py" --neurons "$N" --connectivity "$P" --duration-ms "$T" --dt-ms "$DT" \
  --threads "$THREADS" --mode dense --steps-limit "$DENSE_STEPS" | tee -a "$TMP/all.jsonl"
/usr/bin/python3 - "$TMP/all.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
nd = [r for r in runs if r.get("impl") == "neurodyn"]
ev = [r for r in runs if r.get("mode") == "event"]
de = [r for r in runs if r.get("mode") == "dense"]
best = lambda rs, k: min(r[k] for r in rs)
steps = nd[0]["steps"]
out = {"bench": "snn_network_ratio", "steps": steps,
       "neurodyn_wall_s": best(nd, "wall_s"), "neurodyn_cpu_s": best(nd, "cpu_s"),
       "torch_event_wall_s": best(ev, "wall_s"), "torch_event_cpu_s": best(ev, "cpu_s"),
       "torch_dense_wall_s_extrapolated": best(de, "s_per_step") * steps,
       "neurodyn_events_per_cpu_s": max(r["synaptic_events_per_cpu_s"] for r in nd),
       "torch_event_events_per_cpu_s": max(r["events_per_cpu_s"] for r in ev),
       "torch_event_wall_s_by_threads": {str(t): min(r["wall_s"] for r in ev if r["threads"] == t)
                                         for t in sorted({r["threads"] for r in ev})}}
out["speedup_wall_vs_faster_torch"] = round(min(out["torch_event_wall_s"], out["torch_dense_wall_s_extrapolated"]) / out["neurodyn_wall_s"], 2)
out["speedup_cpu_vs_torch_event"] = round(out["torch_event_cpu_s"] / out["neurodyn_cpu_s"], 2)
print(json.dumps(out))
PY
