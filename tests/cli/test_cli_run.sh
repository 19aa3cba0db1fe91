#!/bin/bash
# The run driver (cli/run.c) as a user meets it: resume refuses conflicting
# flags, Ctrl-C checkpoints and resumes exactly, one run per directory,
# stale temporaries removed, provenance in config.json, eval by model key
# with --json/--save, data options, and bad checkpoints refused naming file
# and key.  Needs MNIST (skips without it).
source "$(dirname "$0")/common.bash"
D=$(mnist_dir) || { echo "SKIP: MNIST not present (make data)"; exit 77; }
export ND_DATA_DIR="$(dirname "$D")"
SMALL=(--hidden 16 --p 3 --k 3 --epochs 3 --batch 50 --limit 500 --seed 7 --png-every 1 --quiet)

# a run to work with
expect_ok "$ND" train krotov "${SMALL[@]}" --stop-after 1 --out "$TMP/a"
for f in config.json metrics.jsonl checkpoint.safetensors W.safetensors fields.png convergence.png; do
  [ -s "$TMP/a/$f" ] || fail "missing $f"
done

# config.json records where the run came from
"$PY" - "$TMP/a/config.json" <<'EOF' || fail "config.json provenance"
import json, sys
c = json.load(open(sys.argv[1]))
p = c["_provenance"]
assert p["commit"] and p["host"] and p["version"], p
files = [d["file"] for d in p["data"]]
assert any(f.endswith("train-images-idx3-ubyte") or f.endswith("train-images-idx3-ubyte.gz") for f in files), files
assert all(len(d["sha256"]) == 64 for d in p["data"]), p["data"]
assert c["hidden"] == 16 and c["stop-after"] == 1
EOF

# --resume with a flag that contradicts the run: exit 2 naming it, nothing touched
sum_before=$(md5sum "$TMP/a/checkpoint.safetensors")
expect_error 2 "neurodyn train krotov:" "--hidden 300 (the run has 16)" "$ND" train krotov --resume "$TMP/a" --hidden 300
expect_error 2 "neurodyn train krotov:" "--seed" "$ND" train krotov --resume "$TMP/a" --seed 8 --p 3
[ "$(md5sum "$TMP/a/checkpoint.safetensors")" = "$sum_before" ] || fail "a refused resume changed the checkpoint"
# the same value again is no conflict, and free flags may change
expect_ok "$ND" train krotov --resume "$TMP/a" --hidden 16 --threads 1 --quiet
[ "$(grep -c . "$TMP/a/metrics.jsonl")" = 3 ] || fail "resume should run to --epochs 3"

# one run per directory: a second run into a locked directory exits 2 naming the holder
mkdir -p "$TMP/lock"
exec 9>"$TMP/lock/.lock"
flock 9
echo 4242 >&9
expect_error 2 "neurodyn train krotov:" "PID 4242" "$ND" train krotov "${SMALL[@]}" --out "$TMP/lock"
exec 9>&-
[ ! -e "$TMP/lock/config.json" ] || fail "the refused run wrote config.json"

# a stale temporary of a killed run (its PID is gone) is removed on resume
stale="$TMP/a/checkpoint.safetensors.tmp.4194311"
echo junk >"$stale"
expect_ok "$ND" train krotov --resume "$TMP/a" --quiet
[ ! -e "$stale" ] || fail "stale temporary left in place"

# Ctrl-C: a checkpoint, the resume command, exit 130; the resumed run equals an uninterrupted one
LONG=(--hidden 64 --p 3 --k 3 --epochs 4 --batch 20 --limit 6000 --seed 3 --png-every 0 --quiet --threads 1)
expect_ok "$ND" train krotov "${LONG[@]}" --out "$TMP/full"
"$ND" train krotov "${LONG[@]}" --out "$TMP/int" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 200); do [ -s "$TMP/int/metrics.jsonl" ] && break; sleep 0.05; done
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
if [ $rc = 0 ]; then
  echo "note: the run finished before Ctrl-C arrived; interruption not exercised"
else
  [ $rc = 130 ] || { cat "$TMP/int.err"; fail "Ctrl-C gave exit $rc, want 130"; }
  grep -q "resume with: neurodyn train krotov --resume $TMP/int" "$TMP/int.err" || fail "no resume hint: $(cat "$TMP/int.err")"
  expect_ok "$ND" train krotov --resume "$TMP/int" --quiet
fi
cmp "$TMP/full/W.safetensors" "$TMP/int/W.safetensors" || fail "interrupted + resumed run differs from the uninterrupted one"

# bad input leaves nothing behind
expect_error 2 "neurodyn train krotov:" "epochs" "$ND" train krotov --hidden 10 --epochs 1000000000000000 --out "$TMP/huge"
[ ! -e "$TMP/huge" ] || fail "refused run created its directory"
expect_ok "$ND" train krotov "${SMALL[@]}" --stop-after 9223372036854775807 --checkpoint-every 9223372036854775807 --out "$TMP/big"
[ "$(grep -c . "$TMP/big/metrics.jsonl")" = 3 ] || fail "--stop-after INT64_MAX should run to --epochs"
"$PY" -c 'import numpy as np, sys; np.save(sys.argv[1], np.zeros((0, 784), dtype="<f4"))' "$TMP/empty.npy"
expect_error 2 "neurodyn train krotov-top:" "hidden" "$ND" train krotov-top --features "$TMP/empty.npy" --epochs 1 --out "$TMP/empty-top"
[ ! -e "$TMP/empty-top" ] || fail "refused run created its directory"
touch "$TMP/afile"
expect_error 2 "neurodyn train krotov:" "not a directory" "$ND" train krotov "${SMALL[@]}" --out "$TMP/afile"
expect_error 2 "neurodyn train krotov:" "--data" "$ND" train krotov "${SMALL[@]}" --data "$TMP/nowhere" --out "$TMP/nod"
[ ! -e "$TMP/nod" ] || fail "refused run created its directory"

# a checkpoint whose metadata lies is refused naming the file and the key
cp -r "$TMP/a" "$TMP/bad"
edit_meta() { # dir key value
  "$PY" - "$1/checkpoint.safetensors" "$2" "$3" <<'EOF'
import json, struct, sys
path, key, value = sys.argv[1:]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"][key] = value
t = json.dumps(h).encode()
t += b" " * ((8 - len(t) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
EOF
}
for kv in "hidden 1e300" "hidden 20.7" "hidden abc" "precision f16" "epochs 9223372036854775807" "state.epoch -1" "state.epoch 50"; do
  rm -rf "$TMP/bad" && cp -r "$TMP/a" "$TMP/bad"
  set -- $kv
  edit_meta "$TMP/bad" "$1" "$2"
  expect_error 2 "neurodyn train krotov:" "'$1'" "$ND" train krotov --resume "$TMP/bad" --quiet
  case "$err" in *checkpoint.safetensors*) ;; *) fail "message does not name the file: $err" ;; esac
done

# NaN in saved weights is refused naming the tensor (features file, model file)
"$PY" - "$TMP/a/W.safetensors" "$TMP/nan.npy" <<'EOF'
import numpy as np, sys
w = np.ones((16, 784), dtype="<f4"); w[3, 5] = np.nan
np.save(sys.argv[2], w)
EOF
expect_error 2 "neurodyn train krotov-top:" "NaN" "$ND" train krotov-top --features "$TMP/nan.npy" --epochs 1 --out "$TMP/nan-top"
[ ! -e "$TMP/nan-top" ] || fail "refused run created its directory"

# a file of the wrong kind says what it is
expect_error 2 "neurodyn train krotov-top:" "is a PNG image" "$ND" train krotov-top --features "$TMP/a/fields.png" --out "$TMP/png-top"
expect_error 2 "neurodyn train krotov-top:" "metrics.jsonl" "$ND" train krotov-top --features "$TMP/a/metrics.jsonl" --out "$TMP/png-top"
[ ! -e "$TMP/png-top" ] || fail "refused run created its directory"

# top layer with a validation split; the test set is never trimmed by --limit
expect_ok "$ND" train krotov-top --features "$TMP/a/W.safetensors" --epochs 2 --limit 600 --validation 100 --out "$TMP/top"
grep -q '"validation_error"' "$TMP/top/metrics.jsonl" || fail "no validation_error in metrics"
grep -q '"test_error"' "$TMP/top/metrics.jsonl" || fail "no final test_error in metrics"
[ "$(grep -c '"test_error"' "$TMP/top/metrics.jsonl")" = 1 ] || fail "the test set must be scored once"

# the top layer and the backprop baseline resume exactly too (optimizer state in the checkpoint)
TOP=(--features "$TMP/a/W.safetensors" --epochs 4 --limit 600 --test-limit 500 --checkpoint-every 1 --quiet)
expect_ok "$ND" train krotov-top "${TOP[@]}" --out "$TMP/top-full"
expect_ok "$ND" train krotov-top "${TOP[@]}" --stop-after 2 --out "$TMP/top-part"
expect_ok "$ND" train krotov-top --resume "$TMP/top-part" --quiet
cmp "$TMP/top-full/top.safetensors" "$TMP/top-part/top.safetensors" || fail "krotov-top resume differs"
[ "$(grep -c '"test_error"' "$TMP/top-part/metrics.jsonl")" = 1 ] || fail "the resumed top layer must score the test set once"
MLP=(--hidden 20 --epochs 3 --limit 400 --test-limit 200 --checkpoint-every 1 --quiet)
expect_ok "$ND" train mlp-baseline "${MLP[@]}" --out "$TMP/mlp-full"
expect_ok "$ND" train mlp-baseline "${MLP[@]}" --stop-after 1 --out "$TMP/mlp-part"
expect_ok "$ND" train mlp-baseline --resume "$TMP/mlp-part" --quiet
cmp "$TMP/mlp-full/mlp.safetensors" "$TMP/mlp-part/mlp.safetensors" || fail "mlp-baseline resume differs"

# eval: dispatch on the model key, --json with the confusion matrix, --save
expect_ok "$ND" eval --model "$TMP/top" --json --save "$TMP/ev"
printf '%s' "$out" | "$PY" -c '
import json, sys
o = json.load(sys.stdin)
assert o["model"] == "krotov-top" and o["examples"] == 10000, o
c = o["confusion"]
assert len(c) == 10 and sum(map(sum, c)) == 10000
wrong = 10000 - sum(c[i][i] for i in range(10))
assert abs(wrong / 10000 - o["test_error"]) < 1e-12' || fail "eval --json: $out"
[ "$(wc -l <"$TMP/ev/predictions.csv")" -ge 10000 ] || fail "predictions.csv incomplete"
head -1 "$TMP/ev/confusion.csv" | grep -q '^label' || fail "confusion.csv header"
# a model whose S holds an infinity is refused naming the tensor
cp "$TMP/top/top.safetensors" "$TMP/inf.safetensors"
"$PY" - "$TMP/inf.safetensors" <<'EOF'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); o = 8 + n + h["S"]["data_offsets"][0]
b[o:o + 4] = struct.pack("<f", float("inf")); open(p, "wb").write(b)
EOF
expect_error 2 "neurodyn eval:" "'S'" "$ND" eval --model "$TMP/inf.safetensors"
# a hidden layer is not something eval scores: one clear line, no freed memory printed
expect_error 2 "neurodyn eval:" "holds a 'krotov' model" "$ND" eval --model "$TMP/a/W.safetensors"
echo ok
