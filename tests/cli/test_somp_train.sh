#!/bin/bash
# `neurodyn train somp --config net.json`: a 2-cell cyclic network (dense +
# sparse) with STDP, covariance decay and intrinsic plasticity trains,
# writes metrics (per-rule update norms, activity rates, sparsity per cell)
# and plots, and resumes exactly (stop after 1 epoch, resume: byte-identical
# checkpoint to the uninterrupted run).  Bad net.json files exit 2 with one
# line naming the file and the bad key, and write no run directory.
source "$(dirname "$0")/common.bash"
cat >"$TMP/net.json" <<'EOF'
{
  "cells": [
    {"name": "c1", "units": 12, "hparams": {"alpha_dense": 2.0, "noise_std": 0.01}, "inputs": ["x", "c1", "c2"]},
    {"name": "c2", "units": 6, "mode": "sparse", "hparams": {"alpha_sparse": 0.5}, "inputs": ["c1", "c2"]}
  ],
  "rules": [
    {"rule": "stdp", "cell": "c1", "eta": 0.001},
    {"rule": "covariance_decay", "cell": "c1", "input": "c2", "eta": 0.001, "params": {"beta": 0.9}},
    {"rule": "intrinsic", "cell": "c2", "eta": 0.0001}
  ],
  "readout": "c1",
  "task": {"name": "mackey-glass", "T": 20, "washout": 5, "batch": 4, "steps": 4, "val_windows": 8},
  "learn": {"lr": 0.003, "optimizer": "adam", "clip": 1.0},
  "epochs": 3
}
EOF
expect_ok "$ND" train somp --config "$TMP/net.json" --out "$TMP/full" --seed 3 --quiet
for f in config.json net.json metrics.jsonl checkpoint.safetensors loss.png rules.png activity.png; do
  [ -s "$TMP/full/$f" ] || fail "no $f"
done
[ "$(grep -c . "$TMP/full/metrics.jsonl")" = 3 ] || fail "metrics.jsonl should have 3 lines"
for k in '"rule_update_norm": \[' '"activity_rate": \[' '"sparsity": \[' '"val_nrmse"' '"test_nrmse"'; do
  grep -q "$k" "$TMP/full/metrics.jsonl" || fail "metrics.jsonl lacks $k"
done
# three rules -> three norms, two cells -> two rates
$PY - "$TMP/full/metrics.jsonl" <<'EOF' || fail "metrics arrays have the wrong sizes or values"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert all(len(r["rule_update_norm"]) == 3 and len(r["activity_rate"]) == 2 for r in rows)
assert all(x > 0 for r in rows for x in r["rule_update_norm"])
assert all(0 <= s <= 1 for r in rows for s in r["sparsity"])
EOF
# exact resume
expect_ok "$ND" train somp --config "$TMP/net.json" --out "$TMP/part" --seed 3 --quiet --stop-after 1
cmp -s "$TMP/full/checkpoint.safetensors" "$TMP/part/checkpoint.safetensors" && fail "1-epoch checkpoint equals the 3-epoch one"
expect_ok "$ND" train somp --resume "$TMP/part" --quiet
cmp "$TMP/full/checkpoint.safetensors" "$TMP/part/checkpoint.safetensors" || fail "resumed checkpoint differs"
# exact resume with a grown input: c2 reads x only from epoch 1 (0-based), so
# its weights for x grow on first sight in the second epoch.  Stopping after
# epoch 1 checkpoints before the growth (the input appears after the
# checkpoint); stopping after epoch 2, after it (grown, then restored).  Both
# resumed runs end byte-identical to the uninterrupted one.
cat >"$TMP/grow.json" <<'EOF'
{
  "cells": [
    {"name": "c1", "units": 8, "hparams": {"alpha_dense": 2.0}, "inputs": ["x", "c1", "c2"]},
    {"name": "c2", "units": 5, "inputs": ["c1", "c2", {"name": "x", "from_epoch": 1}]}
  ],
  "rules": [
    {"rule": "stdp", "cell": "c2", "eta": 0.001},
    {"rule": "covariance_decay", "cell": "c2", "input": "x", "eta": 0.001}
  ],
  "readout": "c2",
  "task": {"T": 16, "washout": 4, "batch": 4, "steps": 3, "val_windows": 6},
  "learn": {"lr": 0.003, "optimizer": "adam"},
  "epochs": 3
}
EOF
inputs_of_c2() { # the inputs checkpoint $1 holds for cell 1 (safetensors metadata)
  $PY - "$1" <<'PYEOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
print(json.loads(b[8:8 + n])["__metadata__"]["somp.cell1.inputs"])
PYEOF
}
expect_ok "$ND" train somp --config "$TMP/grow.json" --out "$TMP/gfull" --seed 5 --quiet
case "$(inputs_of_c2 "$TMP/gfull/checkpoint.safetensors")" in *"x:1"*) ;; *) fail "c2 did not grow its x input" ;; esac
for stop in 1 2; do
  expect_ok "$ND" train somp --config "$TMP/grow.json" --out "$TMP/gpart$stop" --seed 5 --quiet --stop-after $stop
  held=$(inputs_of_c2 "$TMP/gpart$stop/checkpoint.safetensors")
  if [ $stop = 1 ]; then case "$held" in *x:*) fail "x grown before its epoch: $held" ;; esac; fi
  if [ $stop = 2 ]; then case "$held" in *x:1*) ;; *) fail "x not in the epoch-2 checkpoint: $held" ;; esac; fi
  expect_ok "$ND" train somp --resume "$TMP/gpart$stop" --quiet
  cmp "$TMP/gfull/checkpoint.safetensors" "$TMP/gpart$stop/checkpoint.safetensors" ||
    fail "resumed (stop after $stop) checkpoint differs from the uninterrupted run (grown input)"
done
# the input first seen at epoch 1 changed the run: without it the weights differ
sed 's/{"name": "x", "from_epoch": 1}/{"name": "x", "from_epoch": 9}/' "$TMP/grow.json" >"$TMP/nogrow.json"
expect_ok "$ND" train somp --config "$TMP/nogrow.json" --out "$TMP/gnone" --seed 5 --quiet
cmp -s "$TMP/gfull/checkpoint.safetensors" "$TMP/gnone/checkpoint.safetensors" && fail "the grown input changed nothing"
# a text task on the corpus Debian's base-files ships
if [ -r /usr/share/common-licenses/GPL-3 ]; then
  sed 's/"name": "mackey-glass"/"name": "text"/' "$TMP/net.json" >"$TMP/text.json"
  expect_ok "$ND" train somp --config "$TMP/text.json" --out "$TMP/text" --quiet
  grep -q '"val_bpc"' "$TMP/text/metrics.jsonl" || fail "text task: no val_bpc"
fi
# bad net.json files: exit 2, one line naming the file and the key
bad() {
  local needle=$1
  printf '%s\n' "$2" >"$TMP/bad.json"
  expect_error 2 "neurodyn train somp: " "$needle" "$ND" train somp --config "$TMP/bad.json" --out "$TMP/badrun"
  case "$err" in *bad.json*) ;; *) fail "message does not name the file: $err" ;; esac
  [ ! -e "$TMP/badrun" ] || fail "a bad net.json wrote the run directory"
}
bad 'cells[0]: unknown key "unitz"' '{"cells": [{"name": "a", "unitz": 3, "inputs": ["x"]}]}'
bad 'cells[0].units' '{"cells": [{"name": "a", "units": 0, "inputs": ["x"]}]}'
bad 'cells[0].mode' '{"cells": [{"name": "a", "units": 3, "mode": "spiky", "inputs": ["x"]}]}'
bad 'cells[0].inputs[1]' '{"cells": [{"name": "a", "units": 3, "inputs": ["x", "b"]}]}'
bad 'cells[0].hparams: unknown key "alpha"' '{"cells": [{"name": "a", "units": 3, "hparams": {"alpha": 1}, "inputs": ["x"]}]}'
bad 'a_decay' '{"cells": [{"name": "a", "units": 3, "hparams": {"a_decay": 1.5}, "inputs": ["x"]}]}'
bad 'rules[0].rule' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "rules": [{"rule": "stpd", "cell": "a"}]}'
bad 'rules[0].params: unknown key "betta"' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "rules": [{"rule": "covariance_decay", "cell": "a", "params": {"betta": 1}}]}'
bad 'rules[0]' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "rules": [{"rule": "stdp", "cell": "zz"}]}'
bad 'task.washout' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "task": {"T": 5, "washout": 9}}'
bad 'learn.optimizer' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "learn": {"optimizer": "rmsprop"}}'
bad 'cells[0].inputs[1]: from_epoch: only the task input' '{"cells": [{"name": "a", "units": 3, "inputs": ["x", {"name": "a", "from_epoch": 2}]}]}'
bad 'cells[0].inputs[0]: unknown key "from"' '{"cells": [{"name": "a", "units": 3, "inputs": [{"name": "x", "from": 2}]}]}'
bad 'no cell reads the task input' '{"cells": [{"name": "a", "units": 3, "inputs": [{"name": "x", "from_epoch": 2}]}]}'
bad 'rules[0].params: covariance_decay: beta = 5.9' '{"cells": [{"name": "a", "units": 3, "inputs": ["x"]}], "rules": [{"rule": "covariance_decay", "cell": "a", "params": {"beta": 5.9}}]}'
bad 'unknown key "cels"' '{"cels": []}'
bad 'not valid JSON' '{"cells": ['
bad 'reads the task input' '{"cells": [{"name": "a", "units": 3, "inputs": ["a"]}]}'
expect_error 2 "neurodyn train somp: " "--config" "$ND" train somp --out "$TMP/badrun"
echo PASS
