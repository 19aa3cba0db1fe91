#!/bin/bash
# `neurodyn train hlca`: a 2-layer hierarchical LCA learned layer by layer on
# MNIST (tiny sizes): a run stopped after layer 1 and resumed (which codes
# the images again for layer 2) equals the uninterrupted one byte for byte;
# metrics.jsonl has a line per epoch with its layer; the dictionaries and
# feedback.json (validation per gain, chosen gain, test with and without
# feedback) are written; bad flags exit 2 naming the flag and write nothing.
set -u
CLI="$1"
DATA="${ND_DATA_DIR:-${ND_SOURCE_DIR:-.}/data}"
if [ ! -d "$DATA/mnist" ]; then echo "SKIP: data/mnist not present (scripts/get-data.sh)"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
COMMON=(--limit 400 --validation 100 --atoms 24,8 --lambda 0.1,0.05 --epochs 1 --batch 50 --max-iter 40 --probe 200
        --test 100 --eval-iter 40 --gains 0,0.5 --seed 3 --quiet)
"$CLI" train hlca "${COMMON[@]}" --out "$T/full" >/dev/null || { echo "full run failed"; exit 1; }
"$CLI" train hlca "${COMMON[@]}" --stop-after 1 --out "$T/part" >/dev/null || { echo "first layer failed"; exit 1; }
[ "$(grep -c . "$T/part/metrics.jsonl")" = 1 ] || { echo "interrupted run should have 1 metric line"; exit 1; }
[ ! -e "$T/part/layer2.npy" ] || { echo "interrupted run wrote layer2.npy"; exit 1; }
"$CLI" train hlca --resume "$T/part" --quiet >/dev/null || { echo "resume failed"; exit 1; }
for f in checkpoint.safetensors layer1.npy layer2.npy feedback.json; do
  cmp "$T/full/$f" "$T/part/$f" || { echo "resumed $f differs"; exit 1; }
done
[ "$(grep -c . "$T/part/metrics.jsonl")" = 2 ] || { echo "metrics.jsonl should have 2 lines after resume"; exit 1; }
grep -q '"layer": 2' "$T/full/metrics.jsonl" || { echo "metrics.jsonl lacks layer 2"; exit 1; }
for k in rel_error sparsity val_rel_error; do
  grep -q "\"$k\"" "$T/full/metrics.jsonl" || { echo "metrics.jsonl lacks $k"; exit 1; }
done
for f in layer1.png layer1.npy layer2.npy feedback.json config.json; do
  [ -s "$T/full/$f" ] || { echo "missing $f"; exit 1; }
done
/usr/bin/python3 - "$T/full" <<'PY' || { echo "outputs wrong"; exit 1; }
import json, sys, numpy as np
d = sys.argv[1]
l1, l2 = np.load(d + "/layer1.npy"), np.load(d + "/layer2.npy")
assert l1.shape == (784, 24) and l2.shape == (24, 8), (l1.shape, l2.shape)
assert np.allclose(np.linalg.norm(l1, axis=0), 1, atol=1e-4) and np.allclose(np.linalg.norm(l2, axis=0), 1, atol=1e-4)
f = json.load(open(d + "/feedback.json"))
assert [v["gain"] for v in f["validation"]] == [0, 0.5]
assert f["chosen_gain"] in (0, 0.5) and f["test_images"] == 100
for k in ("test_no_feedback", "test_chosen_gain"):
    assert 0 < f[k]["clean_rel_error"] and 0 <= f[k]["probe_acc_layer1"] <= 1, f[k]
best = min(f["validation"], key=lambda v: v["clean_rel_error"])["gain"]
assert f["chosen_gain"] == best
PY
bad() { # bad NEEDLE ARGS...: exit 2, the message names NEEDLE, no run directory
  local needle=$1; shift
  "$CLI" train hlca "$@" --out "$T/bad" 2>"$T/err" >/dev/null; rc=$?
  [ $rc = 2 ] || { echo "$*: exit $rc, expected 2"; cat "$T/err"; exit 1; }
  grep -q -- "$needle" "$T/err" || { echo "$*: message lacks $needle"; cat "$T/err"; exit 1; }
  [ ! -e "$T/bad" ] || { echo "$*: created the run directory"; exit 1; }
}
bad atoms "${COMMON[@]}" --atoms 0
bad atoms "${COMMON[@]}" --atoms 24,x
bad lambda "${COMMON[@]}" --lambda 0.1,0.1,0.1
bad lambda "${COMMON[@]}" --lambda -1
bad gains "${COMMON[@]}" --gains 0,-1
bad occlude "${COMMON[@]}" --occlude 29
bad batch "${COMMON[@]}" --batch 1000
bad data --data cifar
bad lr "${COMMON[@]}" --lr 0
bad epochs "${COMMON[@]}" --epochs 0
echo "ok"
