#!/bin/bash
# `neurodyn train rnn`: every cell runs and resumes exactly (3 epochs in one
# go = 1, interrupted with --stop-after, then resumed: byte-identical
# checkpoints); the reconstructing cells report 0 step scratch bytes; bad
# inputs exit 2 with a message naming the option.
set -u
CLI="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for cell in reversible unitary tanh gru approx; do
  COMMON=(--cell "$cell" --length 12 --hidden 16 --batch 4 --steps 5 --epochs 3 --seed 4 --quiet)
  "$CLI" train rnn "${COMMON[@]}" --out "$T/$cell-full" >/dev/null || { echo "$cell: full run failed"; exit 1; }
  "$CLI" train rnn "${COMMON[@]}" --stop-after 1 --out "$T/$cell-part" >/dev/null || { echo "$cell: first part failed"; exit 1; }
  cmp -s "$T/$cell-full/checkpoint.safetensors" "$T/$cell-part/checkpoint.safetensors" && { echo "$cell: 1-epoch checkpoint equals the 3-epoch one"; exit 1; }
  "$CLI" train rnn --resume "$T/$cell-part" --quiet >/dev/null || { echo "$cell: resume failed"; exit 1; }
  cmp "$T/$cell-full/checkpoint.safetensors" "$T/$cell-part/checkpoint.safetensors" || { echo "$cell: resumed checkpoint differs"; exit 1; }
  [ "$(grep -c . "$T/$cell-part/metrics.jsonl")" = 3 ] || { echo "$cell: metrics.jsonl should have 3 lines"; exit 1; }
  grep -q '"val_loss"' "$T/$cell-part/metrics.jsonl" || { echo "$cell: no val_loss"; exit 1; }
  if [ "$cell" != tanh ] && [ "$cell" != gru ]; then
    grep -q '"step_scratch_bytes": 0' "$T/$cell-full/metrics.jsonl" || { echo "$cell: step allocated scratch"; exit 1; }
  else
    grep -q '"step_scratch_bytes": 0' "$T/$cell-full/metrics.jsonl" && { echo "$cell: BPTT reported no stored states"; exit 1; }
  fi
done
"$CLI" train rnn --cell approx --inverse-only --length 10 --hidden 8 --steps 2 --epochs 2 --quiet --out "$T/inv" >/dev/null || { echo "approx --inverse-only failed"; exit 1; }
grep -q '"grad_error"' "$T/inv/metrics.jsonl" || { echo "approx: no grad_error in metrics"; exit 1; }
"$CLI" train rnn --task adding --length 20 --hidden 8 --steps 2 --epochs 1 --quiet --out "$T/add" >/dev/null || { echo "adding failed"; exit 1; }
# a flag contradicting the saved run is refused
"$CLI" train rnn --resume "$T/unitary-part" --hidden 32 --quiet 2>"$T/err" >/dev/null; rc=$?
[ $rc = 2 ] || { echo "--resume with another --hidden gave exit $rc, want 2"; exit 1; }
bad() {
  "$CLI" train rnn "$@" --out "$T/bad" 2>"$T/err" >/dev/null; rc=$?
  [ $rc = 2 ] || { echo "$* gave exit $rc, want 2"; cat "$T/err"; exit 1; }
  grep -q -- "$want" "$T/err" || { echo "$*: message does not name $want:"; cat "$T/err"; exit 1; }
  [ ! -e "$T/bad" ] || { echo "$*: wrote the run directory"; exit 1; }
}
want=--length bad --length 0
want=--cell bad --cell lstm
want=--hidden bad --cell unitary --hidden 7
want=--lr bad --lr 0
want=--layers bad --layers 0
want=--epochs bad --epochs 0
exit 0
