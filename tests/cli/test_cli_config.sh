#!/usr/bin/env bash
# --config FILE.json fills options; flags given on the command line override
# it; bad config files exit 2 naming the file and key.  With MNIST present, a
# short `demo mlp --out DIR` run writes its resolved config.json, and feeding
# that file back with --config resolves to the same values.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
"$PY" -c "import numpy as np, sys; np.save(sys.argv[1], np.array([1.0, 3.0], np.float32))" "$TMP/v.npy"

# inspect's --stats (on by default) from a config file, then overridden by a flag.
echo '{"stats": false}' >"$TMP/nostats.json"
expect_ok "$ND" inspect "$TMP/v.npy"
case "$out" in *"mean 2"*) ;; *) fail "default --stats should print the mean: $out" ;; esac
expect_ok "$ND" inspect --config "$TMP/nostats.json" "$TMP/v.npy"
case "$out" in *mean*) fail "config {\"stats\": false} ignored: $out" ;; esac
expect_ok "$ND" inspect --config "$TMP/nostats.json" --stats "$TMP/v.npy"
case "$out" in *"mean 2"*) ;; *) fail "--stats flag should override the config file: $out" ;; esac
expect_ok "$ND" inspect --stats --config="$TMP/nostats.json" "$TMP/v.npy"
case "$out" in *"mean 2"*) ;; *) fail "a flag before --config should still override it: $out" ;; esac

# Bad config files.
echo '{"stats": false, "colour": "red"}' >"$TMP/unknown.json"
expect_error 2 "neurodyn inspect:" "colour" "$ND" inspect --config "$TMP/unknown.json" "$TMP/v.npy"
case "$err" in *unknown.json*) ;; *) fail "unknown key: message does not name the file" ;; esac
echo '{"stats": "no"}' >"$TMP/type.json"
expect_error 2 "neurodyn inspect:" "stats" "$ND" inspect --config "$TMP/type.json" "$TMP/v.npy"
echo '{"stats": fal' >"$TMP/broken.json"
expect_error 2 "neurodyn inspect:" "broken.json" "$ND" inspect --config "$TMP/broken.json" "$TMP/v.npy"
echo '[1, 2]' >"$TMP/array.json"
expect_error 2 "neurodyn inspect:" "array.json" "$ND" inspect --config "$TMP/array.json" "$TMP/v.npy"
expect_error 2 "neurodyn inspect:" "$TMP/none.json" "$ND" inspect --config "$TMP/none.json" "$TMP/v.npy"
expect_error 2 "neurodyn inspect:" "--config" "$ND" inspect "$TMP/v.npy" --config
echo '{"epochs": 2.5}' >"$TMP/frac.json"
expect_error 2 "neurodyn demo mlp:" "epochs" "$ND" demo mlp --config "$TMP/frac.json"
echo '{"epochs": 99999999999}' >"$TMP/range.json"
expect_error 2 "neurodyn demo mlp:" "epochs" "$ND" demo mlp --config "$TMP/range.json"

# A real run: config values, flag overrides, the written config.json, and
# that config.json read back.
mnist_dir >/dev/null || { echo "SKIP: the rest needs MNIST (make data); the parts above passed"; exit 77; }
cat >"$TMP/run.json" <<'JSON'
{"epochs": 1, "hidden": 8, "batch": 50, "limit": 200, "lr": 0.01, "seed": 3, "quiet": true, "threads": 2}
JSON
expect_ok "$ND" demo mlp --config "$TMP/run.json" --hidden 12 --lr=0.02 --out "$TMP/run1"
"$PY" - "$TMP/run1/config.json" <<'PY' || fail "resolved config.json does not hold the config and flag values"
import json, sys
c = json.load(open(sys.argv[1]))
want = {"epochs": 1, "hidden": 12, "batch": 50, "limit": 200, "lr": 0.02, "seed": 3, "quiet": True, "threads": 2}
for k, v in want.items():
    assert c[k] == v, (k, c[k], v)
assert c["_command"] == "neurodyn demo mlp", c
PY
[ -s "$TMP/run1/metrics.jsonl" ] || fail "no metrics.jsonl"
expect_ok "$ND" inspect --no-stats "$TMP/run1/model.safetensors"
printf '%s\n' "$out" | grep -Eq "layers.0.weight +f32 +12x784" || fail "model.safetensors: $out"
expect_ok "$ND" demo mlp --config "$TMP/run1/config.json" --out "$TMP/run2"
"$PY" - "$TMP/run1/config.json" "$TMP/run2/config.json" <<'PY' || fail "config.json read back resolves differently"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
a.pop("out"); b.pop("out")
assert a == b, (a, b)
PY
# Progress: silent with quiet (from the config file); with --no-quiet and
# stderr not a terminal, plain lines (no carriage returns), at most one per
# 10 % plus the final one.
[ -z "$err" ] || fail "quiet run wrote to stderr"
expect_ok "$ND" demo mlp --config "$TMP/run.json" --no-quiet
case "$err" in *$'\r'*) fail "progress to a non-terminal used carriage returns" ;; esac
n="$(printf '%s\n' "$err" | grep -c '^epoch 1/1 ')"
[ "$n" -ge 1 ] && [ "$n" -le 11 ] || fail "expected 1..11 progress lines, got $n"
printf '%s\n' "$err" | tail -n 1 | grep -Eq '^epoch 1/1 100% 4/4 .* loss=' || fail "last progress line"
# Same seed and settings: same model.
cmp -s "$TMP/run1/model.safetensors" "$TMP/run2/model.safetensors" || fail "same config, different model"
echo "ok"
