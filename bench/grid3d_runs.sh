#!/bin/bash
# Grid models against an MLP with the same parameter count on MNIST and
# Fashion-MNIST (docs/RESULTS.md, "Grid models").
#   Models: grid 7x7x3, dim 8, radius 1.5, growth on, threshold 0 (39,154
#   parameters dense; 43,074 with FF's label inputs) and MLP 784-49-10
#   (38,965); methods bp, dfa, ff.  Adam with a cosine anneal, batch 100,
#   the last 10000 training images held out, seed 1, one thread per run.
#   Learning rates tried: grid bp/dfa {0.003 (MNIST bp only), 0.01, 0.03},
#   grid ff {0.003, 0.01}; MLP {0.001, 0.003, 0.01}.  Epochs: 10, FF 5 (its
#   steps carry three times the rows; the budget of the session).
#   The runs score only the first test image (--test-limit 1); the choice
#   (grid3d_summary.py choose) reads the final val_acc alone; the chosen
#   model of each (data set, model, method) is then scored once on the full
#   test set by `neurodyn eval`.  grid3d_summary.py table prints the table.
#   bash bench/grid3d_runs.sh build/release/neurodyn OUTDIR [JOBS]
set -eu
ND=${1:?neurodyn}; OUT=${2:?outdir}; JOBS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=1
mkdir -p "$OUT/select" "$OUT/final"
COMMON=(--validation 10000 --batch 100 --test-limit 1 --threads 1 --seed 1 --quiet)
job() { # job DIR ARGS...: one run unless DIR already holds a finished one
  local d=$1; shift
  echo "d='$d'; [ -s \"\$d/metrics.jsonl\" ] && grep -q final \"\$d/metrics.jsonl\" && exit 0; rm -rf \"\$d\"; nice -n 10 $* --out \"\$d\" >\"\$d.log\" 2>&1"
}
jobs_select() {
  for ds in mnist fashion-mnist; do
    for m in bp dfa ff; do
      case $m in ff) lrs="0.003 0.01"; ep=5 ;; *) lrs="0.01 0.03"; ep=10 ;; esac
      [ $ds-$m = mnist-bp ] && lrs="0.003 $lrs"
      for lr in $lrs; do
        job "$OUT/select/$ds-grid-$m-$lr" "$ND" train grid3d --method $m --dataset $ds --lr $lr --epochs $ep "${COMMON[@]}"
      done
      for lr in 0.001 0.003 0.01; do
        job "$OUT/select/$ds-mlp-$m-$lr" "$ND" train mlp --layers 784,49,10 --method $m --dataset $ds --lr $lr \
          --epochs $ep --angle-rows 0 "${COMMON[@]}"
      done
    done
  done
}
# FF first: the longest runs
jobs_select | sort -t- -k4,4r -s | grep -- '-ff-' >"$OUT/jobs.txt"
jobs_select | grep -v -- '-ff-' >>"$OUT/jobs.txt"
xargs -d '\n' -P "$JOBS" -I{} bash -c {} <"$OUT/jobs.txt"
/usr/bin/python3 "$HERE/grid3d_summary.py" choose "$OUT" | while read -r ds model m lr; do
  f=$([ "$model" = grid ] && echo grid3d || echo mlp).safetensors
  nice -n 10 "$ND" eval --model "$OUT/select/$ds-$model-$m-$lr/$f" --dataset "$ds" >"$OUT/final/$ds-$model-$m.txt"
done
/usr/bin/python3 "$HERE/grid3d_summary.py" table "$OUT"
