#!/usr/bin/env bash
# The Krotov-Hopfield MNIST headline with a validation split (docs/RESULTS.md,
# "Krotov headline on a validation split"):
#
#   bash bench/krotov_protocol.sh BUILD_DIR [OUT_DIR]      (default OUT_DIR runs/krotov_protocol)
#
#  1. Hebbian layer, paper setting, seed 0, on train[0:50000] ("fit").
#  2. Top-layer candidates, fixed before any was run: 300 and 1000 top-layer
#     epochs at lr 0.01 (the `train krotov-top` recipe otherwise), trained on
#     fit, scored on train[50000:60000] ("val").  The candidate with the lower
#     val error is chosen (a tie goes to fewer epochs).
#  3. Hebbian layers for seeds 1 and 2 on fit.
#  4. For the chosen setting, seeds 0, 1, 2: top layer on fit, test set scored
#     once each; mean and sample standard deviation printed.  Seed 0's top
#     layer is the one its val run trained and saved (stage "score"); seeds 1
#     and 2 train theirs (stage "test").
#
# Every stage prints JSON lines (appended to OUT_DIR/protocol.jsonl); a stage
# whose result file exists is not rerun, and a Hebbian run resumes from its
# checkpoint, so the script can be restarted.  The binary is copied into
# OUT_DIR first, so rebuilding the tree does not change a running protocol.
# KP_HEBB_EPOCHS, KP_E1, KP_E2 (default 200, 300, 1000) shrink the run for a
# smoke test of the script only.  To run the Hebbian layers and the top layers
# side by side (e.g. one thread each on a loaded 2-core machine):
#   KP_PART=hebb KP_SEEDS="1 2" ... &   trains only those Hebbian layers
#   KP_PART=top ...                     runs steps 2 and 4, waiting for each W_seedS file
# On a shared machine run it as
#   ND_NUM_THREADS=2 OMP_WAIT_POLICY=passive nohup bash bench/krotov_protocol.sh build/release OUT &
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: bash bench/krotov_protocol.sh BUILD_DIR [OUT_DIR]" >&2
  exit 2
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
OUT=${2:-runs/krotov_protocol}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$SRC"
THREADS=${ND_NUM_THREADS:-2}
export ND_NUM_THREADS=$THREADS
BIN=$OUT/bench_krotov_protocol
if [ ! -x "$BIN" ]; then
  cp "$BUILD/bench_krotov_protocol" "$BIN"
  git -C "$SRC" rev-parse HEAD > "$OUT/commit.txt" 2>/dev/null || echo unknown > "$OUT/commit.txt"
  git -C "$SRC" status --porcelain --untracked-files=no >> "$OUT/commit.txt" 2>/dev/null || true
fi
HE=${KP_HEBB_EPOCHS:-200}
E1=${KP_E1:-300}
E2=${KP_E2:-1000}
LOG=$OUT/protocol.jsonl
echo "{\"protocol\": \"start\", \"part\": \"${KP_PART:-all}\", \"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$(grep -E "^[0-9a-f]{40}$" "$OUT/commit.txt" | tail -1)\", \"threads\": $THREADS, \"host\": \"$(hostname)\"}" >> "$LOG"

PART=${KP_PART:-all}
hebb() { # seed
  [ -f "$OUT/W_seed$1.safetensors" ] && return 0
  if [ "$PART" = top ]; then # another process trains it: wait for its W
    while [ ! -f "$OUT/W_seed$1.safetensors" ]; do sleep 20; done
    return 0
  fi
  "$BIN" --stage hebb --seed "$1" --epochs "$HE" --out "$OUT" | tee -a "$OUT/hebb_seed$1.jsonl" | grep '"done"' >> "$LOG"
}
top() { # stage seed top_epochs lr [extra args] -> result file; S saved as S_<stage>_seed..
  local res="$OUT/$1_seed$2_e$3_lr$4.json" st=$1 sd=$2 ep=$3 lr=$4
  shift 4
  if [ ! -f "$res" ]; then
    "$BIN" --stage "$st" --w "$OUT/W_seed$sd.safetensors" --seed "$sd" --top-epochs "$ep" --lr "$lr" \
      --save-s "$OUT/S_${st}_seed${sd}_e${ep}_lr$lr.safetensors" "$@" \
      | tee -a "$OUT/${st}_seed${sd}_e${ep}_lr$lr.progress.jsonl" | grep -v _progress > "$res.tmp"
    mv "$res.tmp" "$res"
    cat "$res" >> "$LOG"
  fi
  cat "$res"
}
val_error() { sed -n 's/.*"val_error": \([0-9.]*\).*/\1/p' "$1"; }

if [ "$PART" = hebb ]; then
  for s in ${KP_SEEDS:-0 1 2}; do hebb "$s"; done
  exit 0
fi
hebb 0
top val 0 "$E1" 0.01 > /dev/null
top val 0 "$E2" 0.01 > /dev/null
v1=$(val_error "$OUT/val_seed0_e${E1}_lr0.01.json")
v2=$(val_error "$OUT/val_seed0_e${E2}_lr0.01.json")
chosen=$(awk -v a="$v1" -v b="$v2" -v e1="$E1" -v e2="$E2" 'BEGIN { print (b < a) ? e2 : e1 }')
echo "{\"protocol\": \"chosen\", \"candidates\": [$E1, $E2], \"val_errors\": [$v1, $v2], \"top_epochs\": $chosen, \"lr\": 0.01}" | tee -a "$LOG"
hebb 1
hebb 2
# seed 0: the chosen candidate's top layer was trained (on fit only) by its val
# run and saved; score it on the test set instead of training it again
top score 0 "$chosen" 0.01 --s "$OUT/S_val_seed0_e${chosen}_lr0.01.safetensors" > /dev/null
for s in 1 2; do top test "$s" "$chosen" 0.01 > /dev/null; done
cat "$OUT"/score_seed0_e"$chosen"_lr0.01.json "$OUT"/test_seed[12]_e"$chosen"_lr0.01.json | sed -n 's/.*"test_error": \([0-9.]*\).*/\1/p' | awk '
  { x[NR] = $1; s += $1 }
  END { m = s / NR; for (i = 1; i <= NR; i++) v += (x[i] - m)^2; sd = NR > 1 ? sqrt(v / (NR - 1)) : 0;
        printf "{\"protocol\": \"result\", \"seeds\": %d, \"test_error_mean\": %.5f, \"test_error_std\": %.5f}\n", NR, m, sd }' | tee -a "$LOG"
