#!/bin/bash
# Accuracy against activity for the grid model (docs/RESULTS.md, "Grid
# models"): 7x7x3, dim 8, BP on MNIST at the learning rate chosen by
# grid3d_runs.sh, 10 epochs, the last 10000 training images held out, the
# activation threshold in {0, 0.1, 0.13, 0.16, 0.2, 0.4, 0.8}; per run the final
# validation accuracy, active fraction, allocated parameters and time per
# minibatch.  Validation only: the runs score one test image, not looked at.
#   bash bench/grid3d_sparsity.sh build/release/neurodyn OUTDIR [LR] [JOBS]
set -eu
ND=${1:?neurodyn}; OUT=${2:?outdir}; LR=${3:-0.01}; JOBS=${4:-2}
export OMP_NUM_THREADS=1
mkdir -p "$OUT/sparsity"
for th in 0 0.1 0.13 0.16 0.2 0.4 0.8; do
  d="$OUT/sparsity/mnist-grid-bp-th$th"
  echo "[ -s '$d/metrics.jsonl' ] && grep -q final '$d/metrics.jsonl' && exit 0; rm -rf '$d'; nice -n 10 '$ND' train grid3d --method bp --dataset mnist --lr $LR --threshold $th --epochs 10 --validation 10000 --test-limit 1 --threads 1 --seed 1 --quiet --out '$d' > '$d.log' 2>&1"
done | xargs -d '\n' -P "$JOBS" -I{} bash -c {}
echo "| threshold | val acc | active fraction | allocated nodes | params (allocated / 39154) | ms / minibatch |"
echo "|---|---|---|---|---|---|"
for th in 0 0.1 0.13 0.16 0.2 0.4 0.8; do
  /usr/bin/python3 - "$OUT/sparsity/mnist-grid-bp-th$th/metrics.jsonl" "$th" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"final"' not in l][-1]
print(f"| {sys.argv[2]} | {100 * r['val_acc']:.2f}% | {r['active_fraction']:.3f} | {r['allocated_nodes']} | {r['params']} | {r['ms_per_batch']:.2f} |")
PY
done
