#!/bin/bash
# The comparison table of docs/RESULTS.md ("Credit assignment"): each method
# trains 784-1000-1000-10 (ReLU, cross-entropy, Adam with a cosine anneal to
# 1e-5, minibatch 100) on the first 50000 training images with the last
# 10000 held out for validation, for EPOCHS epochs at the learning rate
# chosen on the validation split (bench/credit_sweep.sh); the test set is
# scored once at the end.  THREADS threads (default 2) with
# OMP_WAIT_POLICY=passive (see RESULTS.md on threads on a loaded machine);
# EXTRA_<method> (e.g. EXTRA_subtask="--subtask-layers 1") adds flags.
#   bash bench/credit_table.sh build/release/neurodyn OUTDIR DATASET EPOCHS "bp=0.003 fa=0.003 ..."
set -eu
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ND=${1:?neurodyn}; OUT=${2:?outdir}; DS=${3:?dataset}; E=${4:?epochs}; LRS=${5:?method=lr list}
mkdir -p "$OUT"
for ml in $LRS; do
  m=${ml%%=*}; lr=${ml#*=}; extra="EXTRA_$m"
  d="$OUT/$DS-$m"
  [ -s "$d/metrics.jsonl" ] && grep -q final "$d/metrics.jsonl" && continue
  rm -rf "$d"
  nice -n 10 "$ND" train mlp --method "$m" --dataset "$DS" --validation 10000 --epochs "$E" --lr "$lr" \
    --threads "${THREADS:-2}" --seed 1 --quiet --checkpoint-every 1 ${!extra:-} --out "$d" >"$d.txt" 2>&1 || { cat "$d.txt"; exit 1; }
  tail -2 "$d.txt" | head -1
done
