#!/bin/bash
# neurodyn train grid3d: bad settings exit 2 naming the flag (or the
# positions file and line) and leave no run directory; on real MNIST (skips
# without it) a short run per method (bp, dfa, ff) reaches an accuracy
# floor, metrics.jsonl has val_acc and the cost figures every epoch and
# test_acc once, `neurodyn eval` scores the model; an interrupted run resumes bit for bit (growth counters and
# the nodes' Adam moments included); a run on nodes at given positions.
#
# Measured (7x7x3 grid, dim 8, 2500 training images, 3 epochs, lr 0.01,
# seed 1, 1 thread, first 1000 test images; commit of this test): test
# accuracy bp 85.1%, dfa 80.3%, ff 74.1%.  Floors about 5 points below.
source "$(dirname "$0")/common.bash"
P="neurodyn train grid3d: "
expect_error 2 "$P" "--grid" "$ND" train grid3d --grid 7,7 --quiet --out "$TMP/x"
expect_error 2 "$P" "--grid" "$ND" train grid3d --grid 7,0,3 --quiet --out "$TMP/x"
expect_error 2 "$P" "--method" "$ND" train grid3d --method dni --quiet --out "$TMP/x"
expect_error 2 "$P" "--method" "$ND" train grid3d --method bogus --quiet --out "$TMP/x"
expect_error 2 "$P" "--dim" "$ND" train grid3d --dim 0 --quiet --out "$TMP/x"
expect_error 2 "$P" "--patience" "$ND" train grid3d --patience 0 --quiet --out "$TMP/x"
expect_error 2 "$P" "--radius" "$ND" train grid3d --radius -1 --quiet --out "$TMP/x"
expect_error 2 "$P" "--steps" "$ND" train grid3d --steps 0 --quiet --out "$TMP/x"
expect_error 2 "$P" "--method" "$ND" train grid3d --method dfa --grid 7,7,9 --quiet --out "$TMP/x"
expect_error 2 "$P" "$TMP/nope.txt" "$ND" train grid3d --positions "$TMP/nope.txt" --quiet --out "$TMP/x"
printf '0 0 0\n1 0 0\n0.5 0.5\n' >"$TMP/bad.txt"
expect_error 2 "$P" "bad.txt:3" "$ND" train grid3d --positions "$TMP/bad.txt" --quiet --out "$TMP/x"
expect_error 2 "$P" "--grad-blocks" "$ND" train grid3d --grad-blocks 2 --quiet --out "$TMP/x"
[ ! -e "$TMP/x" ] || fail "a refused run left its directory"

D=$(mnist_dir) || { echo "SKIP: MNIST not present (make data)"; exit 77; }
export ND_DATA_DIR="$(dirname "$D")"
CI=(--epochs 3 --limit 3000 --validation 500 --test-limit 1000 --threads 1 --seed 1 --quiet)
declare -A FLOOR=([bp]=0.80 [dfa]=0.75 [ff]=0.69)
for m in bp dfa ff; do
  expect_ok "$ND" train grid3d --method "$m" "${CI[@]}" --out "$TMP/$m"
  "$PY" - "$TMP/$m/metrics.jsonl" "$m" "${FLOOR[$m]}" <<'PYEOF' || fail "$m: metrics or accuracy floor"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
m, floor = sys.argv[2], float(sys.argv[3])
epochs = [r for r in rows if "final" not in r]
final = [r for r in rows if "final" in r]
assert len(epochs) == 3 and len(final) == 1, rows
for r in epochs:
    assert 0 < r["active_fraction"] <= 1 and 0 < r["params"] and 0 < r["allocated_nodes"] <= 147, r
    assert 0 <= r["val_acc"] <= 1 and r["ms_per_batch"] > 0, r
assert epochs[0]["births"] > 0
acc = final[0]["test_acc"]
print(f"{m}: test accuracy {acc:.4f} (floor {floor})")
assert acc >= floor, acc
PYEOF
done
# neurodyn eval scores the saved grid
expect_ok "$ND" eval --model "$TMP/bp" --test-limit 200
grep -q "grid3d on mnist test (200 examples)" <<<"$out" || fail "eval: $out"
# exact resume (growth: patience 2 frees nodes between epochs)
R=(--epochs 3 --limit 600 --validation 100 --test-limit 200 --threads 1 --threshold 0.05 --patience 2 --lateral --steps 2 --quiet)
for m in bp ff; do
  expect_ok "$ND" train grid3d --method "$m" "${R[@]}" --out "$TMP/full-$m"
  expect_ok "$ND" train grid3d --method "$m" "${R[@]}" --stop-after 1 --out "$TMP/part-$m"
  expect_ok "$ND" train grid3d --resume "$TMP/part-$m" --threads 1 --quiet
  cmp "$TMP/full-$m/grid3d.safetensors" "$TMP/part-$m/grid3d.safetensors" || fail "$m: resume differs"
  [ "$(grep -c '"test_acc"' "$TMP/part-$m/metrics.jsonl")" = 1 ] || fail "$m: test_acc once"
done
# nodes at given positions: a 4x4 input sheet, two sparser layers above
"$PY" - >"$TMP/pos.txt" <<'PYEOF'
for y in range(4):
    for x in range(4): print(x, y, 0)
for y in range(3):
    for x in range(3): print(0.5 + x, 0.5 + y, 1, "# layer 1")
print("1.5, 1.5, 2")
PYEOF
expect_ok "$ND" train grid3d --positions "$TMP/pos.txt" --radius 1.3 --epochs 1 --limit 500 --test-limit 200 --threads 1 --quiet --out "$TMP/pos"
grep -q '26 nodes in 3 groups' <<<"$out" || fail "positions: $out"
echo "ok"
