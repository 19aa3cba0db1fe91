#!/bin/bash
# Longer runs of the comparison table (docs/RESULTS.md, "Credit assignment",
# longer runs): 784-1000-1000-10 on MNIST, the first 50000 training images
# with the last 10000 held out for validation, EPOCHS epochs (default 20) of
# Adam with a cosine anneal to 1e-5, 1 thread, nice.  Each entry of RUNS is
# method=lr; the runs go in LANES parallel queues (default 2), one after the
# other in each.  The learning rate of each method is the one with the lower
# validation error (bench/credit_summary.py); the test error of the chosen
# run is the one reported.  Runs already finished in OUT are skipped, and an
# interrupted run resumes from its last epoch's checkpoint.  EXTRA adds
# flags to every run (e.g. "--activation tanh"), with TAG naming the runs.
#   RUNS="bp=0.001 bp=0.003 ..." bash bench/credit_long.sh build/neurodyn OUT [EPOCHS]
set -eu
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OMP_NUM_THREADS=1
ND=${1:?neurodyn}; OUT=${2:?outdir}; E=${3:-20}; DS=${DS:-mnist}; LANES=${LANES:-2}
mkdir -p "$OUT"
one() { # method lr
  local d="$OUT/$DS-$1${TAG:+-$TAG}-$2"
  [ -s "$d/metrics.jsonl" ] && grep -q final "$d/metrics.jsonl" && return 0
  if [ -s "$d/mlp.safetensors" ]; then
    nice -n 10 "$ND" train mlp --resume "$d" --quiet >>"$d.txt" 2>&1
  else
    rm -rf "$d"
    nice -n 10 "$ND" train mlp --method "$1" --dataset "$DS" --validation 10000 --epochs "$E" --lr "$2" \
      --threads 1 --seed 1 --quiet --checkpoint-every 1 ${EXTRA:-} --out "$d" >"$d.txt" 2>&1
  fi
}
i=0
for lane in $(seq 0 $((LANES - 1))); do
  ( k=0; for ml in ${RUNS:?method=lr list}; do
      [ $((k % LANES)) -eq "$lane" ] && one "${ml%%=*}" "${ml#*=}"; k=$((k + 1))
    done ) &
done
wait
