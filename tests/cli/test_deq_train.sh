# neurodyn train deq: a small DEQ classifier on an MNIST subset learns
# (test error below a floor measured on this setting), reports the forward
# and backward solver iterations and residuals in metrics.jsonl, resumes
# exactly (3 epochs in one go and 1 + 2 after --stop-after give
# byte-identical checkpoints), and bad input exits 2 naming the option.
. "$(dirname "$0")/common.bash"
mnist_dir >/dev/null || { echo "SKIP: MNIST not present (make data)"; exit 77; }
cd "$TMP"
P="neurodyn train deq"
expect_ok "$ND" train deq --help
case "$out" in *"--anderson-m"*"--tol"*) ;; *) fail "--help lists no solver options" ;; esac
C=(--hidden 32 --epochs 3 --batch 32 --limit 2000 --validation 500 --eval-train 500 --test-limit 1000 --seed 3 --threads 1 --quiet)
expect_ok "$ND" train deq "${C[@]}" --out full
case "$out" in *"test error"*) ;; *) fail "no test error line: $out" ;; esac
[ "$(grep -c . full/metrics.jsonl)" = 4 ] || fail "metrics.jsonl: want 3 epochs + final"
for k in fwd_iters bwd_iters fwd_residual_max bwd_residual_max fwd_unconverged solver_state_bytes peak_rss_kib validation_error; do
  grep -q "\"$k\"" full/metrics.jsonl || fail "no $k in metrics.jsonl"
done
# learns: 1500 images, 3 epochs measured 15.3% test error (1000 test images);
# chance is 90%, the floor 25%
"$PY" - full/metrics.jsonl <<'PY' || fail "test error or solver figures out of range"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
assert final["test_error"] < 0.25, final
for r in rows[:-1]:
    assert 1 <= r["fwd_iters"] <= 50 and 1 <= r["bwd_iters"] <= 50, r
    assert r["fwd_unconverged"] == 0 and r["bwd_unconverged"] == 0, r
PY
expect_ok "$ND" train deq "${C[@]}" --stop-after 1 --out part
cmp -s full/deq.safetensors part/deq.safetensors && fail "1-epoch checkpoint equals the 3-epoch one"
expect_ok "$ND" train deq --resume part --quiet
cmp full/deq.safetensors part/deq.safetensors || fail "resumed run differs from the uninterrupted one"
expect_error 2 "$P" "--tol" "$ND" train deq "${C[@]}" --tol 0 --out bad1
expect_error 2 "$P" "--tol" "$ND" train deq "${C[@]}" --tol -1 --out bad2
expect_error 2 "$P" "--anderson-m" "$ND" train deq "${C[@]}" --anderson-m 99 --out bad3
expect_error 2 "$P" "--max-iter" "$ND" train deq "${C[@]}" --max-iter 0 --out bad4
expect_error 2 "$P" "--lr" "$ND" train deq "${C[@]}" --lr 0 --out bad5
expect_error 2 "$P" "--jac-reg" "$ND" train deq "${C[@]}" --jac-reg -1 --out bad7
# Jacobian regularisation: reported, and a resumed run is the same run (eps comes from the run's stream)
expect_ok "$ND" train deq "${C[@]}" --jac-reg 1 --epochs 2 --out jr
grep -q '"jac_frob"' jr/metrics.jsonl || fail "--jac-reg: no jac_frob in metrics"
expect_ok "$ND" train deq "${C[@]}" --jac-reg 1 --epochs 2 --stop-after 1 --out jr-part
expect_ok "$ND" train deq --resume jr-part --quiet
cmp jr/deq.safetensors jr-part/deq.safetensors || fail "--jac-reg: resumed run differs"
# Broyden: learns too, and reports its iterations
expect_ok "$ND" train deq "${C[@]}" --solver broyden --epochs 1 --out br
grep -q '"bwd_iters"' br/metrics.jsonl || fail "--solver broyden: no bwd_iters"
expect_error 2 "$P" "--solver" "$ND" train deq "${C[@]}" --solver newton --out bad8
expect_error 2 "$P" "--anderson-m" "$ND" train deq "${C[@]}" --solver broyden --anderson-m 0 --out bad9
expect_error 2 "$P" "--dataset" "$ND" train deq "${C[@]}" --dataset cifar --out bad6
[ ! -e bad1 ] && [ ! -e bad2 ] && [ ! -e bad3 ] && [ ! -e bad4 ] && [ ! -e bad5 ] || fail "a refused run left a directory"
echo "PASS"
