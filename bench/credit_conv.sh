#!/bin/bash
# The small conv net of docs/RESULTS.md ("Credit assignment", conv rows):
# conv 16,32 (5x5, stride 2, padding 2; 28 -> 14 -> 7) + 1568-256-10, ReLU,
# cross-entropy, Adam with a cosine anneal to 1e-5, minibatch 100, for bp,
# fa and dfa.  First the learning rate on the validation split (the first
# 20000 training images, the last 5000 of them held out, 2 epochs, lr in
# {1e-3, 3e-3}), then each method with its chosen rate on the first 50000
# training images (last 10000 held out), EPOCHS epochs, MNIST and
# Fashion-MNIST (MNIST's choice for both), test set scored once.
#   bash bench/credit_conv.sh build/release/neurodyn OUTDIR EPOCHS
set -eu
ND=${1:?neurodyn}; OUT=${2:?outdir}; E=${3:-3}
NET=(--conv 16,32 --conv-kernel 5 --conv-stride 2 --layers 784,256,10)
mkdir -p "$OUT"
declare -A BEST
for m in bp fa dfa; do
  best=""; bestv=2
  for lr in 0.001 0.003; do
    d="$OUT/sweep-$m-$lr"
    [ -s "$d/metrics.jsonl" ] && grep -q final "$d/metrics.jsonl" || { rm -rf "$d"; nice -n 10 "$ND" train mlp --method $m "${NET[@]}" \
      --limit 20000 --validation 5000 --test-limit 1000 --epochs 2 --lr $lr --angle-rows 0 --threads 1 --seed 1 --quiet --out "$d" >/dev/null; }
    v=$(/usr/bin/python3 -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if '\"final\"' not in l]; print(r[-1]['validation_error'])" "$d/metrics.jsonl")
    echo "conv $m lr $lr validation error $v"
    if /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$v" "$bestv"; then best=$lr; bestv=$v; fi
  done
  BEST[$m]=$best
done
for ds in mnist fashion-mnist; do
  for m in bp fa dfa; do
    d="$OUT/$ds-conv-$m"
    [ -s "$d/metrics.jsonl" ] && grep -q final "$d/metrics.jsonl" && continue
    rm -rf "$d"
    nice -n 10 "$ND" train mlp --method $m "${NET[@]}" --dataset $ds --validation 10000 --epochs "$E" --lr "${BEST[$m]}" \
      --threads 1 --seed 1 --quiet --checkpoint-every 1 --out "$d" >"$d.txt" 2>&1 || { cat "$d.txt"; exit 1; }
    tail -2 "$d.txt" | head -1
  done
done
