# neurodyn train cordsnet: a tiny run on an MNIST subset, exact resume (3
# epochs in one go and 1 + 2 after --stop-after give byte-identical
# checkpoints), the checkpoint read back by `run cordsnet`, and bad input
# (exit 2, one line naming the option).
. "$(dirname "$0")/common.bash"
mnist_dir >/dev/null || { echo "SKIP: MNIST not present (make data)"; exit 77; }
cd "$TMP"
P="neurodyn train cordsnet"
C=(--depth 2 --width 2 --steps-spont 3 --steps 4 --ce-steps 2 --post-steps 2 --penalty-steps 1 --epochs 3
   --epoch-size 32 --batch 16 --limit 200 --validation 50 --eval-train 30 --test-limit 40 --seed 5 --quiet)
expect_ok "$ND" train cordsnet "${C[@]}" --out full
case "$out" in *"test error"*) ;; *) fail "no test error line: $out" ;; esac
[ "$(grep -c . full/metrics.jsonl)" = 4 ] || fail "metrics.jsonl: want 3 epochs + final"
grep -q '"validation_error"' full/metrics.jsonl || fail "no validation error in metrics"
expect_ok "$ND" train cordsnet "${C[@]}" --stop-after 1 --out part
cmp -s full/cordsnet.safetensors part/cordsnet.safetensors && fail "1-epoch checkpoint equals the 3-epoch one"
expect_ok "$ND" train cordsnet --resume part --quiet
cmp full/cordsnet.safetensors part/cordsnet.safetensors || fail "resumed run differs from the uninterrupted one"
expect_ok "$ND" train cordsnet "${C[@]}" --seed 6 --out other
cmp -s full/cordsnet.safetensors other/cordsnet.safetensors && fail "seed has no effect"
# the checkpoint (upstream's names + optimizer moments) is a weights file for run cordsnet
"$PY" -c "
import numpy as np, struct
" 2>/dev/null && have_numpy && {
  "$PY" -c "import numpy as np; np.save('x.npy', np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32))"
  expect_ok "$ND" run cordsnet --weights full/cordsnet.safetensors --input x.npy --out l.npy --steps-spont 3 --steps 4
  case "$out" in *'"depth": 2'*) ;; *) fail "run cordsnet on the checkpoint: $out" ;; esac
}
expect_error 2 "$P" "depth" "$ND" train cordsnet "${C[@]}" --depth 3 --out bad1
expect_error 2 "$P" "--ce-steps" "$ND" train cordsnet "${C[@]}" --ce-steps 9 --out bad2
expect_error 2 "$P" "--penalty-steps" "$ND" train cordsnet "${C[@]}" --penalty-steps 5 --out bad3
expect_error 2 "$P" "--alpha" "$ND" train cordsnet "${C[@]}" --alpha 0 --out bad4
expect_error 2 "$P" "--lr" "$ND" train cordsnet "${C[@]}" --lr -1 --out bad5
expect_error 2 "$P" "nonexistent" "$ND" train cordsnet --resume nonexistent --quiet
[ ! -e bad1 ] && [ ! -e bad2 ] && [ ! -e bad5 ] || fail "a refused run left a directory"
echo "PASS"
