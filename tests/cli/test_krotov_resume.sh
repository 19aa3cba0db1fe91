#!/bin/bash
# `neurodyn train krotov --resume` continues an interrupted run exactly: 4
# epochs in one go and 2 + 2 (interrupted with --stop-after, then resumed)
# give bitwise identical weights and rule state.  Small --limit subset (fast).
set -u
CLI="$1"
if ! "$CLI" train krotov --help >/dev/null 2>&1; then echo "train krotov unavailable"; exit 1; fi
if [ ! -d "${ND_DATA_DIR:-${ND_SOURCE_DIR:-.}/data}/mnist" ]; then
  echo "SKIP: MNIST not present (make data)"; exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
COMMON=(--hidden 16 --p 3 --k 3 --epochs 4 --batch 50 --limit 500 --seed 7 --png-every 2 --quiet)
"$CLI" train krotov "${COMMON[@]}" --out "$T/full" >/dev/null || { echo "full run failed"; exit 1; }
"$CLI" train krotov "${COMMON[@]}" --stop-after 2 --out "$T/part" >/dev/null || { echo "first half failed"; exit 1; }
grep -c . "$T/part/metrics.jsonl" | grep -qx 2 || { echo "interrupted run should have 2 metric lines"; exit 1; }
cmp -s "$T/full/checkpoint.safetensors" "$T/part/checkpoint.safetensors" && { echo "2-epoch checkpoint equals the 4-epoch one"; exit 1; }
"$CLI" train krotov --resume "$T/part" --quiet >/dev/null || { echo "resume failed"; exit 1; }
# checkpoints hold W, the rule state (epoch, RNG key/counter) and the history: byte-identical files
cmp "$T/full/checkpoint.safetensors" "$T/part/checkpoint.safetensors" || { echo "resumed checkpoint differs"; exit 1; }
cmp "$T/full/W.safetensors" "$T/part/W.safetensors" || { echo "resumed W differs"; exit 1; }
[ "$(grep -c . "$T/part/metrics.jsonl")" = 4 ] || { echo "metrics.jsonl should have 4 lines after resume"; exit 1; }
for f in fields.png convergence.png fields_epoch0002.png fields_epoch0004.png config.json; do
  [ -s "$T/part/$f" ] || { echo "missing $f"; exit 1; }
done
# a different seed must give different weights (the comparison can fail)
"$CLI" train krotov "${COMMON[@]}" --seed 8 --out "$T/other" >/dev/null || exit 1
cmp -s "$T/full/W.safetensors" "$T/other/W.safetensors" && { echo "seed has no effect"; exit 1; }
# bad input: exit 2 with a one-line message naming the option
"$CLI" train krotov --hidden 0 --out "$T/bad" 2>"$T/err" >/dev/null; rc=$?
[ $rc = 2 ] || { echo "--hidden 0 gave exit $rc, want 2"; exit 1; }
"$CLI" train krotov --resume "$T/nonexistent" 2>"$T/err" >/dev/null; rc=$?
[ $rc = 2 ] || { echo "--resume of a missing dir gave exit $rc, want 2"; cat "$T/err"; exit 1; }
# the ODE model resumes exactly too
ODE=(--rule ode --hidden 12 --epochs 3 --limit 300 --seed 3 --png-every 0 --quiet)
"$CLI" train krotov "${ODE[@]}" --out "$T/ode-full" >/dev/null || { echo "ode run failed"; exit 1; }
"$CLI" train krotov "${ODE[@]}" --stop-after 1 --out "$T/ode-part" >/dev/null || exit 1
"$CLI" train krotov --resume "$T/ode-part" --quiet >/dev/null || { echo "ode resume failed"; exit 1; }
cmp "$T/ode-full/checkpoint.safetensors" "$T/ode-part/checkpoint.safetensors" || { echo "ode resume differs"; exit 1; }
# float64 mode: the checkpoint carries W in float64 and resumes exactly
F64=(--precision f64 --hidden 10 --p 3 --k 2 --epochs 3 --batch 50 --limit 300 --png-every 0 --quiet)
"$CLI" train krotov "${F64[@]}" --out "$T/f64-full" >/dev/null || { echo "f64 run failed"; exit 1; }
"$CLI" train krotov "${F64[@]}" --stop-after 2 --out "$T/f64-part" >/dev/null || exit 1
"$CLI" train krotov --resume "$T/f64-part" --quiet >/dev/null || { echo "f64 resume failed"; exit 1; }
cmp "$T/f64-full/checkpoint.safetensors" "$T/f64-part/checkpoint.safetensors" || { echo "f64 resume differs"; exit 1; }
# top layer on the learned W, then eval of the saved model reproduces the reported test error
"$CLI" train krotov-top --features "$T/full/W.safetensors" --epochs 2 --limit 500 --test-limit 500 --quiet --out "$T/top" >"$T/top.txt" ||
  { echo "krotov-top failed"; exit 1; }
want=$(grep -o 'test error [0-9.]*%' "$T/top.txt")
got=$("$CLI" eval --model "$T/top" --test-limit 500 | grep -o 'test error [0-9.]*%')
[ -n "$want" ] && [ "$want" = "$got" ] || { echo "eval gave '$got', training reported '$want'"; exit 1; }
echo "ok"
