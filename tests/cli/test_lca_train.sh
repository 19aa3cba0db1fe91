#!/bin/bash
# `neurodyn train lca`: dictionary learning on whitened photograph patches
# (dense) and on MNIST (conv); 2 epochs in one go equal 1 + 1 (--stop-after,
# then --resume) byte for byte; metrics.jsonl has the per-epoch figures; the
# PNG grid and dictionary.npy are written; bad flags exit 2.  Tiny sizes.
set -u
CLI="$1"
DATA="${ND_DATA_DIR:-${ND_SOURCE_DIR:-.}/data}"
if [ ! -d "$DATA/photos" ]; then echo "SKIP: data/photos not present (scripts/get-data.sh)"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
COMMON=(--data patches --patch 8 --patches 600 --validation 100 --atoms 32 --batch 50 --epochs 2 --lambda 0.5
        --max-iter 100 --seed 3 --quiet)
"$CLI" train lca "${COMMON[@]}" --out "$T/full" >/dev/null || { echo "full run failed"; exit 1; }
"$CLI" train lca "${COMMON[@]}" --stop-after 1 --out "$T/part" >/dev/null || { echo "first half failed"; exit 1; }
[ "$(grep -c . "$T/part/metrics.jsonl")" = 1 ] || { echo "interrupted run should have 1 metric line"; exit 1; }
"$CLI" train lca --resume "$T/part" --quiet >/dev/null || { echo "resume failed"; exit 1; }
cmp "$T/full/checkpoint.safetensors" "$T/part/checkpoint.safetensors" || { echo "resumed checkpoint differs"; exit 1; }
cmp "$T/full/dictionary.npy" "$T/part/dictionary.npy" || { echo "resumed dictionary differs"; exit 1; }
[ "$(grep -c . "$T/part/metrics.jsonl")" = 2 ] || { echo "metrics.jsonl should have 2 lines after resume"; exit 1; }
for k in rel_error sparsity nonzeros val_rel_error val_sparsity; do
  grep -q "\"$k\"" "$T/full/metrics.jsonl" || { echo "metrics.jsonl lacks $k"; exit 1; }
done
for f in dictionary.png dictionary_epoch0001.png dictionary_epoch0002.png dictionary.npy config.json; do
  [ -s "$T/full/$f" ] || { echo "missing $f"; exit 1; }
done
"$CLI" train lca "${COMMON[@]}" --seed 4 --out "$T/other" >/dev/null || exit 1
cmp -s "$T/full/dictionary.npy" "$T/other/dictionary.npy" && { echo "seed has no effect"; exit 1; }
if [ -d "$DATA/mnist" ]; then
  "$CLI" train lca --data mnist --limit 60 --validation 20 --conv --filters 4 --kernel 5 --stride 2 --batch 20 \
    --epochs 1 --max-iter 50 --quiet --out "$T/mnist" >/dev/null || { echo "mnist conv run failed"; exit 1; }
  [ -s "$T/mnist/dictionary.png" ] || { echo "mnist: no dictionary.png"; exit 1; }
fi
bad() { # bad NEEDLE ARGS...: exit 2, the message names NEEDLE, no run directory
  local needle=$1; shift
  "$CLI" train lca "$@" --out "$T/bad" 2>"$T/err" >/dev/null; rc=$?
  [ $rc = 2 ] || { echo "$*: exit $rc, expected 2"; cat "$T/err"; exit 1; }
  grep -q -- "$needle" "$T/err" || { echo "$*: message lacks $needle"; cat "$T/err"; exit 1; }
  [ ! -e "$T/bad" ] || { echo "$*: created the run directory"; exit 1; }
}
bad lr "${COMMON[@]}" --lr 0
bad lambda --lambda -1
bad batch --batch 1000 --patches 600 --patch 8 --validation 100
bad atoms --atoms 0
bad data --data cifar
bad kernel --conv --kernel 0
echo "ok"
