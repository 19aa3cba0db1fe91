# neurodyn train ode: the spiral task learns the dynamics (trajectory MSE on
# held-out starting points falls well below the predict-zero baseline), the
# MNIST ODE block learns (test error below a measured floor), both report
# function evaluations, resume exactly (byte-identical checkpoints), and bad
# input (tolerance <= 0, unknown task) exits 2 naming the option.
. "$(dirname "$0")/common.bash"
cd "$TMP"
P="neurodyn train ode"
expect_ok "$ND" train ode --help
case "$out" in *"--task"*"--rtol"*) ;; *) fail "--help lists no --task / --rtol" ;; esac
S=(--task spiral --hidden 2 --points 200 --t-end 10 --window 20 --init-scale 0.1 --batch 16 --steps 25 --epochs 4 --lr 0.03
   --rtol 1e-4 --atol 1e-6 --seed 2 --threads 1 --quiet)
expect_ok "$ND" train ode "${S[@]}" --out sp
case "$out" in *"trajectory MSE"*) ;; *) fail "no spiral summary: $out" ;; esac
for k in train_mse validation_mse fwd_nfe bwd_nfe zero_baseline_mse reconstruction_error; do
  grep -q "\"$k\"" sp/metrics.jsonl || fail "spiral: no $k in metrics.jsonl"
done
"$PY" - sp/metrics.jsonl <<'PY' || fail "spiral: did not learn"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last, final = rows[-2], rows[-1]
# measured: test MSE 9.0e-5 vs the predict-zero baseline 5.4e-2; floor 100x below it
assert final["test_mse"] < 0.01 * last["zero_baseline_mse"], (final, last)
assert last["fwd_nfe"] >= 7 and last["bwd_nfe"] >= 7, last
assert last["reconstruction_error"] < 1e-3, last
PY
expect_ok "$ND" train ode "${S[@]}" --stop-after 1 --out sp-part
[ "$(grep -c . sp-part/metrics.jsonl)" = 1 ] || fail "spiral: --stop-after 1 wrote other than 1 metrics line"
cmp -s sp/ode.safetensors sp-part/ode.safetensors && fail "spiral: 1-epoch checkpoint equals the 3-epoch one"
expect_ok "$ND" train ode --resume sp-part --quiet
cmp sp/ode.safetensors sp-part/ode.safetensors || fail "spiral: resumed run differs from the uninterrupted one"
expect_error 2 "$P" "--rtol" "$ND" train ode "${S[@]}" --rtol 0 --out bad1
expect_error 2 "$P" "--rtol" "$ND" train ode "${S[@]}" --rtol -1e-3 --out bad2
expect_error 2 "$P" "--task" "$ND" train ode "${S[@]}" --task lorenz --out bad3
expect_error 2 "$P" "--hidden" "$ND" train ode "${S[@]}" --hidden 1 --out bad4
expect_error 2 "$P" "--window" "$ND" train ode "${S[@]}" --window 500 --out bad5
[ ! -e bad1 ] && [ ! -e bad2 ] && [ ! -e bad3 ] && [ ! -e bad4 ] && [ ! -e bad5 ] || fail "a refused run left a directory"
mnist_dir >/dev/null || { echo "SKIP (mnist part): MNIST not present"; echo PASS; exit 0; }
M=(--task mnist --hidden 32 --epochs 2 --batch 32 --limit 1500 --eval-train 500 --test-limit 1000 --rtol 1e-3 --atol 1e-5
   --seed 3 --threads 1 --quiet)
expect_ok "$ND" train ode "${M[@]}" --out mn
case "$out" in *"test error"*"NFE"*) ;; *) fail "no mnist summary: $out" ;; esac
"$PY" - mn/metrics.jsonl <<'PY' || fail "mnist: test error or NFE out of range"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
final = rows[-1]
# measured: 20.7% test error; chance 90%, the floor 30%
assert final["test_error"] < 0.30, final
assert rows[-2]["fwd_nfe"] >= 7 and rows[-2]["bwd_nfe"] >= 7, rows[-2]
PY
expect_ok "$ND" train ode "${M[@]}" --stop-after 1 --out mn-part
expect_ok "$ND" train ode --resume mn-part --quiet
cmp mn/ode.safetensors mn-part/ode.safetensors || fail "mnist: resumed run differs from the uninterrupted one"
echo "PASS"
