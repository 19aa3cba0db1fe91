#!/bin/bash
# Learning-rate choice for each credit-assignment method on the validation
# split (docs/RESULTS.md, "Credit assignment"): 784-1000-1000-10, the first
# 20000 MNIST training images with the last 5000 of them held out, 2 epochs
# of Adam (cosine to 1e-5), lr in {3e-4, 1e-3, 3e-3}; prints the validation
# error of each.  METHODS (default: every method) and EXTRA (more flags, e.g.
# "--subtask-layers 1", with TAG naming the runs) select runs.  The test set is not looked at (the runs score it, on 1000
# images only, and the summary ignores it).
#   bash bench/credit_sweep.sh build/release/neurodyn OUTDIR [mnist|fashion-mnist]
set -eu
ND=${1:?neurodyn}; OUT=${2:?outdir}; DS=${3:-mnist}
mkdir -p "$OUT"
for m in ${METHODS:-bp fa dfa dni ff dtp am subtask}; do
  for lr in ${LRS:-0.0003 0.001 0.003}; do
    d="$OUT/$DS-$m${TAG:+-$TAG}-$lr"
    [ -s "$d/metrics.jsonl" ] && grep -q final "$d/metrics.jsonl" && continue
    rm -rf "$d"
    nice -n 10 "$ND" train mlp --method $m --dataset $DS --limit 20000 --validation 5000 --test-limit 1000 --epochs 2 \
      --lr $lr --angle-rows 0 --threads 1 --seed 1 --quiet ${EXTRA:-} --out "$d" >/dev/null
    /usr/bin/python3 - "$d/metrics.jsonl" $m $lr <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"final"' not in l]
print(f"{sys.argv[2]:8s} lr {sys.argv[3]:7s} validation error {100 * rows[-1]['validation_error']:.2f}%  ({rows[-1]['seconds']:.1f} s/epoch)")
PY
  done
done
