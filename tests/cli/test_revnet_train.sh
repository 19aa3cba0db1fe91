# neurodyn train revnet: a small bijective classifier on an MNIST subset
# learns (test error below a measured floor), reconstructs its input, reports
# activation bytes flat in depth (and growing with --store), resumes exactly,
# and bad input exits 2 naming the option.
. "$(dirname "$0")/common.bash"
mnist_dir >/dev/null || { echo "SKIP: MNIST not present (make data)"; exit 77; }
cd "$TMP"
P="neurodyn train revnet"
expect_ok "$ND" train revnet --help
case "$out" in *"--layers"*"store"*) ;; *) fail "--help lists no --layers / --store" ;; esac
C=(--hidden 32 --epochs 3 --batch 32 --limit 1500 --eval-train 500 --test-limit 1000 --seed 3 --threads 1 --quiet)
expect_ok "$ND" train revnet "${C[@]}" --out full
case "$out" in *"test error"*) ;; *) fail "no test error line: $out" ;; esac
"$PY" - full/metrics.jsonl <<'PY' || fail "test error or reconstruction out of range"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
# measured 18.4% (1,000 test images), floor 30% (chance 90%); reconstruction within float rounding
assert rows[-1]["test_error"] < 0.30, rows[-1]
assert all(r["reconstruction_error"] < 1e-3 for r in rows[:-1]), rows
PY
expect_ok "$ND" train revnet "${C[@]}" --stop-after 1 --out part
cmp -s full/revnet.safetensors part/revnet.safetensors && fail "1-epoch checkpoint equals the 3-epoch one"
expect_ok "$ND" train revnet --resume part --quiet
cmp full/revnet.safetensors part/revnet.safetensors || fail "resumed run differs from the uninterrupted one"
bytes() { "$PY" -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['activation_bytes'])" "$1/metrics.jsonl"; }
for L in 2 8; do
  expect_ok "$ND" train revnet "${C[@]}" --layers $L --epochs 1 --limit 200 --out rec$L
  expect_ok "$ND" train revnet "${C[@]}" --layers $L --epochs 1 --limit 200 --store --out st$L
done
[ "$(bytes rec2)" = "$(bytes rec8)" ] || fail "reconstructing: activation bytes grow with depth ($(bytes rec2) -> $(bytes rec8))"
[ "$(bytes st8)" -gt "$(bytes st2)" ] || fail "storing: activation bytes do not grow with depth"
expect_error 2 "$P" "--layers" "$ND" train revnet "${C[@]}" --layers 0 --out bad1
expect_error 2 "$P" "--hidden" "$ND" train revnet "${C[@]}" --hidden 0 --out bad2
expect_error 2 "$P" "--lr" "$ND" train revnet "${C[@]}" --lr 0 --out bad3
[ ! -e bad1 ] && [ ! -e bad2 ] && [ ! -e bad3 ] || fail "a refused run left a directory"
echo "PASS"
