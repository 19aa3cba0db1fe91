#!/bin/bash
# The grid world of `neurodyn run somp --experiment decision`: learning rate
# and Hebbian rate chosen on validation seeds (101-105), then every mode
# scored once on the test seeds (1-5) with the setting chosen for it
# (docs/RESULTS.md, "SOMPNet").  Usage: bench/somp_grid_sweep.sh [BUILD] [OUT]
set -euo pipefail
ND=${1:-build}/neurodyn
OUT=${2:-runs/somp-grid-sweep}
mkdir -p "$OUT"
for lr in 0.05 0.1 0.2 0.5; do
  for eta in 0.005 0.02 0.05; do
    OMP_NUM_THREADS=1 nice -n 10 "$ND" run somp --experiment decision --task grid --first-seed 101 \
      --grid-lr $lr --grid-eta $eta --out "$OUT/val-$lr-$eta" >/dev/null
  done
done
# per mode, the setting with the best mean validation return; then the test seeds once
/usr/bin/python3 - "$OUT" <<'PYEOF' >"$OUT/chosen.txt"
import glob, json, os, sys
best = {}
for d in sorted(glob.glob(os.path.join(sys.argv[1], "val-*"))):
    g = json.load(open(os.path.join(d, "results.json")))["gridworld"]
    for m in ("reinforce", "plasticity", "blend"):
        r = g[m]["return_mean"]
        if m not in best or r > best[m][0]:
            best[m] = (r, g["lr"], g["eta"])
for m, (r, lr, eta) in best.items():
    print(m, lr, eta, r)
PYEOF
cat "$OUT/chosen.txt"
while read -r m lr eta _; do
  OMP_NUM_THREADS=1 nice -n 10 "$ND" run somp --experiment decision --task grid --first-seed 1 \
    --grid-lr "$lr" --grid-eta "$eta" --out "$OUT/test-$m" | grep -E "random|optimal|$m"
done <"$OUT/chosen.txt"
