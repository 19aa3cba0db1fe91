# neurodyn run lca: a solve from NPY and from safetensors, the JSON line, and
# every kind of bad input (exit 2, one line naming the file and the shape,
# nothing written).
. "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: numpy not available"; exit 77; }
cd "$TMP"
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(0)
D = rng.standard_normal((16, 32)).astype(np.float32)
D /= np.linalg.norm(D, axis=0)
np.save("D.npy", D)
np.save("S.npy", rng.standard_normal((3, 16)).astype(np.float32))
np.save("s1.npy", rng.standard_normal(16).astype(np.float32))
np.save("S_bad.npy", rng.standard_normal((3, 15)).astype(np.float32))
x = rng.standard_normal((3, 16)).astype(np.float32); x[1, 4] = np.nan
np.save("S_nan.npy", x)
np.save("D3.npy", np.zeros((2, 4, 4), np.float32))
PYEOF
printf 'not a tensor\n' > notes.txt
P="run lca"

expect_ok "$ND" run lca --dict D.npy --input S.npy --lambda 0.1 --out A.npy
for k in iterations residual objective stopped; do
  case "$out" in *"\"$k\""*) ;; *) fail "JSON line lacks $k: $out" ;; esac
done
"$PY" -c "
import json, numpy as np
r = json.loads('''$out''')
assert r['stopped'] == 'tolerance' and r['iterations'] > 0, r
a = np.load('A.npy'); assert a.shape == (3, 32) and a.dtype == np.float32
" || fail "bad result: $out"
expect_ok "$ND" run lca --dict D.npy --input s1.npy --lambda 0.1 --out a1.npy --update adam --threshold nonneg
"$PY" -c "import numpy as np; a = np.load('a1.npy'); assert a.shape == (32,) and (a >= 0).all()" || fail "1-D nonneg"
expect_ok "$ND" convert D.npy D.safetensors
expect_ok "$ND" convert S.npy S.safetensors
expect_ok "$ND" run lca --dict D.safetensors --input S.safetensors --lambda 0.1 --out A.safetensors
expect_ok "$ND" inspect A.safetensors
case "$out" in *"[3, 32]"* | *"3, 32"* | *"3x32"*) ;; *) fail "A.safetensors: $out" ;; esac
for u in euler momentum nesterov rmsprop upstream-adam upstream-rmsprop; do
  expect_ok "$ND" run lca --dict D.npy --input S.npy --lambda 0.1 --update "$u" --max-iter 50 --out u.npy
done
expect_ok "$ND" run lca --dict D.npy --input S.npy --lambda 0.1 --variant upstream --out up.npy

bad() { # bad NEEDLE ARGS...: exit 2, one line naming NEEDLE, no out.npy
  local needle=$1; shift
  rm -f out.npy
  expect_error 2 "neurodyn run lca:" "$needle" "$ND" run lca "$@" --out out.npy
  [ ! -e out.npy ] || fail "$* wrote out.npy"
  ls | grep -q '^out\.npy' && fail "$* left a temporary" || true
}
bad "S_bad.npy" --dict D.npy --input S_bad.npy --lambda 0.1
bad "3x15" --dict D.npy --input S_bad.npy --lambda 0.1
bad "S_nan.npy" --dict D.npy --input S_nan.npy --lambda 0.1
bad "3x16" --dict D.npy --input S_nan.npy --lambda 0.1
bad "lambda" --dict D.npy --input S.npy --lambda -1
bad "lambda" --dict D.npy --input S.npy
bad "tol" --dict D.npy --input S.npy --lambda 0.1 --tol 0
bad "tol" --dict D.npy --input S.npy --lambda 0.1 --tol -1
bad "D3.npy" --dict D3.npy --input S.npy --lambda 0.1
bad "2x4x4" --dict D3.npy --input S.npy --lambda 0.1
bad "notes.txt" --dict notes.txt --input S.npy --lambda 0.1
bad "notes.txt" --dict D.npy --input notes.txt --lambda 0.1
bad "missing.npy" --dict missing.npy --input S.npy --lambda 0.1
bad "update" --dict D.npy --input S.npy --lambda 0.1 --update sgd
bad "eta" --dict D.npy --input S.npy --lambda 0.1 --eta 0
expect_error 2 "neurodyn run lca:" "A.txt" "$ND" run lca --dict D.npy --input S.npy --lambda 0.1 --out A.txt
expect_error 2 "neurodyn run:" "nosuch" "$ND" run nosuch
echo "ok"
