#!/bin/bash
# The feedback experiment of docs/RESULTS.md ("Hierarchical LCA: top-down
# feedback"), all on the MNIST training split's validation images first:
#   bash bench/hlca.sh [BUILD_DIR] [OUT_DIR]
# 1. for each corruption (noise sigma 0.5, a 12x12 occluder) a grid of
#    threshold (soft, nonneg) x lambda (0.1,0.05 and 0.3,0.1) x gain, scored on
#    the 1000 validation images only (--test 0);
# 2. per corruption the threshold and lambdas with the lowest validation
#    clean-reconstruction error WITHOUT feedback (gain 0: the choice favours the
#    baseline), then that run again with the test images scored once (gain 0
#    and the gain chosen on validation).
# Summary: OUT_DIR/summary.txt.
set -eu
BUILD=${1:-build/release}
OUT=${2:-runs/hlca_bench}
HERE=$(cd "$(dirname "$0")" && pwd)
ND=$(cd "$BUILD" && pwd)/neurodyn
PY=/usr/bin/python3
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
{ echo "commit $(git -C "$HERE" rev-parse --short HEAD)"; echo "host $(hostname) $(nproc) cores"; uptime; } > "$OUT/machine.txt"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
GAINS=0,0.1,0.3,1,3
for cor in noise occlude; do
  for th in soft nonneg; do
    for lam in 0.1,0.05 0.3,0.1; do
      d="$OUT/val_${cor}_${th}_${lam}"
      [ -s "$d/feedback.json" ] || nice "$ND" train hlca --threshold $th --lambda $lam --corrupt $cor --test 0 \
        --gains $GAINS --out "$d" --quiet > /dev/null
    done
  done
  best=$($PY - "$OUT" "$cor" <<'PY'
import glob, json, sys
out, cor = sys.argv[1:]
runs = []
for f in glob.glob(f"{out}/val_{cor}_*/feedback.json"):
    v = json.load(open(f))["validation"]
    g0 = [x for x in v if x["gain"] == 0][0]["clean_rel_error"]
    runs.append((g0, f.split("/")[-2]))
print(min(runs)[1])
PY
)
  th=$(echo "$best" | cut -d_ -f3); lam=$(echo "$best" | cut -d_ -f4)
  d="$OUT/test_${cor}"
  [ -s "$d/feedback.json" ] || nice "$ND" train hlca --threshold $th --lambda $lam --corrupt $cor --test 2000 \
    --gains $GAINS --out "$d" --quiet > /dev/null
  echo "$cor: chose --threshold $th --lambda $lam on validation (gain 0)" >> "$OUT/summary.txt"
  $PY -c "import json; print(json.dumps(json.load(open('$d/feedback.json')), indent=1))" >> "$OUT/summary.txt"
done
uptime >> "$OUT/machine.txt"
cat "$OUT/summary.txt"
