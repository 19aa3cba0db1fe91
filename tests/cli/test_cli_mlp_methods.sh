#!/bin/bash
# neurodyn train mlp --method M on real MNIST (skips without it): a short
# run per method reaches an accuracy floor; metrics.jsonl has val_acc every
# epoch, the per-layer angle for fa/dfa/dni (below 90 degrees: the update
# aligns with the gradient) and test_acc once; an interrupted run resumes
# bit for bit (the DNI modules and FF's wrong-label stream included); bad
# settings exit 2 naming the flag.
#
# Measured (784-64-64-10, 5000 training images, 4 epochs, Adam lr 0.003,
# seed 1, 1 thread, first 1000 test images; commit of this test): test
# accuracy bp 89.4%, fa 86.4%, dfa 85.9%, dni 80.1%, ff 73.7%; dtp 88.6%,
# am 88.8%, subtask 88.0% (commit 14c8192).  Floors 3.5 to 5.7 points below.
# DTP's top hidden layer is regressed on a gradient-step target, so its
# update is BP's direction (angle_1 ~ 0).
source "$(dirname "$0")/common.bash"
D=$(mnist_dir) || { echo "SKIP: MNIST not present (make data)"; exit 77; }
export ND_DATA_DIR="$(dirname "$D")"
CI=(--layers 784,64,64,10 --epochs 4 --limit 5000 --test-limit 1000 --lr 0.003 --angle-rows 200 --threads 1 --seed 1 --quiet)
declare -A FLOOR=([bp]=0.86 [fa]=0.82 [dfa]=0.82 [dni]=0.75 [ff]=0.68 [dtp]=0.84 [am]=0.84 [subtask]=0.83)
for m in bp fa dfa dni ff dtp am subtask; do
  expect_ok "$ND" train mlp --method "$m" "${CI[@]}" --out "$TMP/$m"
  "$PY" - "$TMP/$m/metrics.jsonl" "$m" "${FLOOR[$m]}" <<'PYEOF' || fail "$m: metrics or accuracy floor"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
m, floor = sys.argv[2], float(sys.argv[3])
epochs = [r for r in rows if "final" not in r]
final = [r for r in rows if "final" in r]
assert len(epochs) == 4 and len(final) == 1, rows
assert all(0 <= r["train_error"] <= 1 for r in epochs)
acc = final[0]["test_acc"]
print(f"{m}: test accuracy {acc:.4f} (floor {floor})")
assert acc >= floor, acc
if m in ("fa", "dfa", "dni"):
    last = epochs[-1]
    assert 0 < last["angle_0"] < 90 and 0 < last["angle_1"] < 90 and last["angle_2"] == 0, last
elif m == "dtp":
    last = epochs[-1]
    assert 0 < last["angle_0"] < 90 and last["angle_1"] < 1 and last["angle_2"] == 0, last
elif m in ("am", "subtask"):
    last = epochs[-1]
    assert all(0 < last[f"angle_{l}"] < 90 for l in range(3)), last
else:
    assert "angle_0" not in epochs[-1]
PYEOF
done
# small conv nets for bp, fa, dfa (measured, commit of this test: test
# accuracy bp 87.0%, fa 72.1%, dfa 70.3%; floors 4 to 6 points below)
declare -A CFLOOR=([bp]=0.83 [fa]=0.66 [dfa]=0.64)
for m in bp fa dfa; do
  expect_ok "$ND" train mlp --method "$m" --conv 8,16 --layers 784,64,10 --epochs 3 --limit 3000 --test-limit 1000 \
    --lr 0.003 --angle-rows 200 --threads 1 --seed 1 --quiet --out "$TMP/conv-$m"
  "$PY" - "$TMP/conv-$m/metrics.jsonl" "$m" "${CFLOOR[$m]}" <<'PYEOF' || fail "conv $m: metrics or accuracy floor"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
m, floor = sys.argv[2], float(sys.argv[3])
acc = [r for r in rows if "final" in r][0]["test_acc"]
print(f"conv {m}: test accuracy {acc:.4f} (floor {floor})")
assert acc >= floor, acc
last = [r for r in rows if "final" not in r][-1]
if m != "bp":
    assert last["angle_1"] == 0 and all(0 < last[k] < 120 for k in ("angle_0", "angle_conv_0", "angle_conv_1")), last
PYEOF
done
expect_ok "$ND" eval --model "$TMP/conv-fa/mlp.safetensors" --test-limit 1000
# the method is in the checkpoint, eval scores it
"$PY" - "$TMP/dni/mlp.safetensors" <<'PYEOF' || fail "checkpoint metadata"
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
assert h["__metadata__"]["method"] == "dni" and "sg.0.weight" in h and "sg.1.bias" in h, h["__metadata__"]
PYEOF
"$PY" - "$TMP/dtp/mlp.safetensors" "$TMP/subtask/mlp.safetensors" <<'PYEOF' || fail "dtp/subtask checkpoint"
import json, struct, sys
def header(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; return json.loads(b[8:8 + n])
d, s = header(sys.argv[1]), header(sys.argv[2])
assert d["__metadata__"]["method"] == "dtp" and d["inv.1.weight"]["shape"] == [64, 64] and "inv.0.weight" not in d, d.keys()
assert s["__metadata__"]["method"] == "subtask" and s["rep.0.weight"]["shape"] == [10, 64] and "rep.1.weight" not in s
PYEOF
expect_ok "$ND" eval --model "$TMP/subtask/mlp.safetensors" --test-limit 1000
expect_ok "$ND" eval --model "$TMP/ff/mlp.safetensors" --test-limit 1000
# exact resume, with a validation split (val_acc every epoch)
R=(--layers 784,32,32,10 --epochs 3 --limit 1000 --validation 200 --test-limit 200 --threads 1 --checkpoint-every 1 --quiet)
for m in fa dni ff dtp am subtask; do
  expect_ok "$ND" train mlp --method "$m" "${R[@]}" --out "$TMP/full-$m"
  expect_ok "$ND" train mlp --method "$m" "${R[@]}" --stop-after 1 --out "$TMP/part-$m"
  expect_ok "$ND" train mlp --resume "$TMP/part-$m" --threads 1 --quiet # threads: free on resume, and BLAS sums differ
  cmp "$TMP/full-$m/mlp.safetensors" "$TMP/part-$m/mlp.safetensors" || fail "$m: resume differs"
  [ "$(grep -c '"val_acc"' "$TMP/part-$m/metrics.jsonl")" = 3 ] || fail "$m: val_acc every epoch"
  [ "$(grep -c '"test_acc"' "$TMP/part-$m/metrics.jsonl")" = 1 ] || fail "$m: test_acc once"
done
expect_error 2 "neurodyn train mlp: " "--method" "$ND" train mlp --method bogus --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--layers" "$ND" train mlp --layers 784,abc,10 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--layers" "$ND" train mlp --layers 700,10 --limit 100 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--method" "$ND" train mlp --method ff --layers 784,10 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--ff-theta" "$ND" train mlp --method ff --ff-theta -1 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--method" "$ND" train mlp --method dtp --layers 784,10 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--method" "$ND" train mlp --method am --loss abs-power --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--dtp-target-lr" "$ND" train mlp --method dtp --dtp-target-lr 0 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--dtp-noise" "$ND" train mlp --method dtp --dtp-noise -1 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--am-mu" "$ND" train mlp --method am --am-mu 0 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--am-code-steps" "$ND" train mlp --method am --am-code-steps 5000 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--subtask-layers" "$ND" train mlp --method subtask --subtask-layers 3 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--subtask-layers" "$ND" train mlp --method subtask --subtask-layers 0 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--conv" "$ND" train mlp --conv 8,x --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--method" "$ND" train mlp --conv 8 --method dni --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--conv-kernel" "$ND" train mlp --conv 8 --conv-kernel 0 --quiet --out "$TMP/x"
expect_error 2 "neurodyn train mlp: " "--conv-stride" "$ND" train mlp --conv 8 --conv-stride 9 --quiet --out "$TMP/x"
[ ! -e "$TMP/x" ] || fail "a refused run left its directory"
echo "ok"
