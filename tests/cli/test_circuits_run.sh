# neurodyn run wta | lcwta | convwta: the closed-form winner, batches, both
# orders, convwta = lcwta on 1-D maps, the runaway, and bad input (exit 2,
# one line naming the field or file, nothing written).
. "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: numpy not available"; exit 77; }
cd "$TMP"
"$PY" - <<'PYEOF'
import numpy as np
np.save("I.npy", np.array([1, 0.1, 0.68, 0.7], np.float32))
np.save("IB.npy", np.array([[1, 0.1, 0.68, 0.7], [0.2, 0.9, 0.3, 0.5]], np.float32))
rng = np.random.default_rng(0)
L = rng.random((3, 50)).astype(np.float32)
np.save("L.npy", L)
np.save("L4.npy", L.reshape(3, 1, 1, 50))
np.save("M.npy", rng.random((2, 4, 5, 6)).astype(np.float32))
D = rng.standard_normal((6, 10)).astype(np.float32); D /= np.linalg.norm(D, axis=0)
np.save("D.npy", D)
np.save("S.npy", rng.random((2, 6)).astype(np.float32))
x = L.copy(); x[1, 3] = np.nan
np.save("Lnan.npy", x)
PYEOF

# Rutishauser et al. 2011, one winner with G = 1, T = 0: x_k = I_k / (1 - alpha + beta1 beta2)
# (alpha 1.2, beta1 = beta2 = 1: gain 1.25), y = beta2 x_k.
for order in jacobi upstream; do
  expect_ok "$ND" run wta --input I.npy --out X.npy --inhibitory Y.npy --alpha 1.2 --beta1 1 --beta2 1 --order $order
  "$PY" -c "
import json, numpy as np
r = json.loads('''$out''')
assert r['stopped'] == 'tolerance' and r['winners'] == [1] and r['winner'] == [0], r
x = np.load('X.npy'); y = np.load('Y.npy')
assert x.shape == (4,) and y.shape == (1,), (x.shape, y.shape)
assert abs(x[0] - 1.25) < 1e-4 and np.abs(x[1:]).max() < 1e-4 and abs(y[0] - 1.25) < 1e-4, (x, y)
" || fail "wta $order: $out"
done
expect_ok "$ND" run wta --input IB.npy --out XB.npy
"$PY" -c "
import json, numpy as np
r = json.loads('''$out''')
assert r['winners'] == [1, 1] and r['winner'] == [0, 1], r
x = np.load('XB.npy'); g = 1 / (1 - 1.2 + 3 * 0.25)
assert x.shape == (2, 4) and abs(x[0, 0] - g) < 1e-4 and abs(x[1, 1] - 0.9 * g) < 1e-4, x
" || fail "wta batch: $out"
# alpha < 1: both close inputs stay on
expect_ok "$ND" run wta --input IB.npy --out XB.npy --alpha 0.5 --beta1 1 --beta2 0.2
"$PY" -c "import json; r = json.loads('''$out'''); assert r['winners'][0] > 1, r" || fail "alpha < 1: $out"

# convwta on [B, 1, 1, n] with a 1 x 7 box is lcwta with half-width 3
expect_ok "$ND" run lcwta --input L.npy --out XL.npy --halfwidth 3 --alpha 1.1 --beta1 0.3 --beta2 0.3
case "$out" in *'"winners"'*) ;; *) fail "lcwta JSON: $out" ;; esac
expect_ok "$ND" run convwta --input L4.npy --out XC.npy --kernel 1x7 --alpha 1.1 --beta1 0.3 --beta2 0.3
"$PY" -c "
import numpy as np
a = np.load('XL.npy'); b = np.load('XC.npy')
assert a.shape == (3, 50) and b.shape == (3, 1, 1, 50) and (a == b.reshape(3, 50)).all()
" || fail "convwta != lcwta"
expect_ok "$ND" run convwta --input M.npy --out XM.npy --kernel 1 --across --alpha 1.2 --beta1 1 --beta2 0.3
"$PY" -c "
import numpy as np
x = np.load('XM.npy'); assert x.shape == (2, 4, 5, 6)
w = (x > 1e-3).sum(axis=1); assert (w == 1).all(), w  # one winning feature per pixel
" || fail "convwta across"

# runaway: exit 1, nothing written
rm -f R.npy
run "$ND" run wta --input I.npy --out R.npy --alpha 2.5
[ "$rc" -eq 1 ] || fail "runaway exited $rc"
case "$out$err" in *diverged*runaway*) ;; *) fail "runaway: $out / $err" ;; esac
[ ! -e R.npy ] || fail "runaway wrote R.npy"

bad() { # bad CMD NEEDLE ARGS...: exit 2, one line naming NEEDLE, no out.npy
  local cmd=$1 needle=$2; shift 2
  rm -f out.npy
  expect_error 2 "neurodyn run $cmd:" "$needle" "$ND" run "$cmd" "$@" --out out.npy
  [ ! -e out.npy ] || fail "$cmd $* wrote out.npy"
}
bad wta tau --input I.npy --tau -1
bad wta dt --input I.npy --dt 2
bad wta beta1 --input I.npy --beta1 -1
bad wta order --input I.npy --order gauss
bad wta tol --input I.npy --tol 0
bad wta max_iter --input I.npy --max-iter 0
bad wta Lnan.npy --input Lnan.npy
bad wta missing.npy --input missing.npy
bad wta M.npy --input M.npy
bad lcwta halfwidth --input L.npy --halfwidth 50
bad lcwta halfwidth --input L.npy --halfwidth -1
bad convwta kernel --input M.npy --kernel 7
bad convwta kernel --input M.npy --kernel 3x4
bad convwta kernel --input M.npy --kernel abc
bad convwta L.npy --input L.npy --kernel 3
# lcawta (non-square dictionary): with no flow the codes are run lca's (nonneg)
expect_ok "$ND" run lcawta --dict D.npy --input S.npy --out AW.npy --flow 0,0,0,0 --halfwidth 2 --tol 1e-7 --max-iter 100000
expect_ok "$ND" run lca --dict D.npy --input S.npy --out AL.npy --lambda 0.1 --threshold nonneg --tol 1e-7 --max-iter 100000
"$PY" -c "
import numpy as np
a = np.load('AW.npy'); b = np.load('AL.npy'); assert a.shape == (2, 10) and np.abs(a - b).max() < 1e-4, (a, b)
" || fail "lcawta F = 0 != lca"
expect_ok "$ND" run lcawta --dict D.npy --input S.npy --out AW.npy --circuit XW.npy --halfwidth 2 --alpha 1.1 --beta1 0.4 --beta2 0.3
case "$out" in *'"stopped": "tolerance"'*) ;; *) fail "lcawta: $out" ;; esac
bad lcawta flow --dict D.npy --input S.npy --flow 1,2,3
bad lcawta flow --dict D.npy --input S.npy --flow 1,2,3,4,5
bad lcawta halfwidth --dict D.npy --input S.npy --halfwidth 10
bad lcawta L.npy --dict D.npy --input L.npy
bad lcawta dict --input S.npy
# negative tau and the LCA step for every circuit; lcawta's --circuit file is not written either
bad lcwta tau --input L.npy --tau -1
bad convwta tau --input M.npy --kernel 3 --tau -1
bad lcawta tau --dict D.npy --input S.npy --tau -1
bad lcawta lca-eta --dict D.npy --input S.npy --lca-eta 2
bad lcawta flow --dict D.npy --input S.npy --flow 1,2,3,x
rm -f C.npy
expect_error 2 "neurodyn run lcawta:" "flow" "$ND" run lcawta --dict D.npy --input S.npy --flow 1,2 --out out.npy --circuit C.npy
[ ! -e out.npy ] && [ ! -e C.npy ] || fail "lcawta bad flow wrote a file"
expect_error 2 "neurodyn run wta:" "out.txt" "$ND" run wta --input I.npy --out out.txt
echo ok
