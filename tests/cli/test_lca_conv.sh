# neurodyn run lca --conv: 2-D (stride, padding, 2 channels, a batch) and
# 1-D codes against `run lca` with the Toeplitz dictionary built here in
# NumPy from the definition; bad shapes exit 2 naming the file and shape and
# write nothing.
. "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: numpy not available"; exit 77; }
cd "$TMP"
"$PY" - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(1)
def toeplitz(w, H, W, sh, sw, ph, pw):
    F, C, kh, kw = w.shape
    P, Q = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    D = np.zeros((C * H * W, F * P * Q), np.float32)
    for f in range(F):
        for p in range(P):
            for q in range(Q):
                for c in range(C):
                    for i in range(kh):
                        for j in range(kw):
                            y, x = p * sh - ph + i, q * sw - pw + j
                            if 0 <= y < H and 0 <= x < W:
                                D[(c * H + y) * W + x, (f * P + p) * Q + q] = w[f, c, i, j]
    return D, P, Q
w = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
S = rng.standard_normal((2, 2, 9, 8)).astype(np.float32)
D, P, Q = toeplitz(w, 9, 8, 2, 1, 1, 2)
np.save("W.npy", w); np.save("S.npy", S); np.save("D.npy", D); np.save("Sflat.npy", S.reshape(2, -1))
np.save("S1.npy", S[0])
w1 = rng.standard_normal((2, 1, 5)).astype(np.float32)
s1 = rng.standard_normal((1, 20)).astype(np.float32)
D1, _, Q1 = toeplitz(w1[:, :, None, :], 1, 20, 1, 2, 0, 1)
np.save("W1.npy", w1); np.save("s1.npy", s1); np.save("D1.npy", D1); np.save("s1flat.npy", s1.reshape(-1))
np.save("S_bad.npy", rng.standard_normal((2, 3, 9, 8)).astype(np.float32))
x = S.copy(); x[1, 0, 2, 2] = np.nan; np.save("S_nan.npy", x)
np.save("W2.npy", np.zeros((3, 4), np.float32))
np.save("S_small.npy", np.ones((1, 2, 2, 2), np.float32))
PYEOF
args="--lambda 0.2 --tol 1e-6 --max-iter 5000"
expect_ok "$ND" run lca --conv --dict W.npy --input S.npy --stride 2x1 --pad 1x2 --kernel 3x4 $args --out A.npy
case "$out" in *'"stopped": "tolerance"'*) ;; *) fail "conv: $out" ;; esac
expect_ok "$ND" run lca --dict D.npy --input Sflat.npy $args --out Ad.npy
expect_ok "$ND" run lca --conv --dict W.npy --input S1.npy --stride 2x1 --pad 1x2 $args --out A1.npy
expect_ok "$ND" run lca --conv --dict W1.npy --input s1.npy --stride 2 --pad 1 $args --out B.npy
expect_ok "$ND" run lca --dict D1.npy --input s1flat.npy $args --out Bd.npy
"$PY" - <<'PYEOF' || fail "conv codes differ from the Toeplitz dense codes"
import numpy as np
a, ad, a1 = np.load("A.npy"), np.load("Ad.npy"), np.load("A1.npy")
assert a.shape == (2, 3, 5, 9), a.shape
assert a1.shape == (3, 5, 9), a1.shape
s = np.abs(ad).max()
assert 0 < (a != 0).sum() < a.size
assert np.abs(a.reshape(2, -1) - ad).max() <= 1e-3 * s, np.abs(a.reshape(2, -1) - ad).max()
assert np.abs(a1 - a[0]).max() <= 1e-3 * s
b, bd = np.load("B.npy"), np.load("Bd.npy")
assert b.shape == (2, 9), b.shape
assert np.abs(b.reshape(-1) - bd).max() <= 1e-3 * np.abs(bd).max()
PYEOF
bad() { # bad NEEDLE ARGS...: exit 2, one line naming NEEDLE, no out.npy
  local needle=$1; shift
  rm -f out.npy
  expect_error 2 "neurodyn run lca:" "$needle" "$ND" run lca --conv "$@" --out out.npy
  [ ! -e out.npy ] || fail "$* wrote out.npy"
}
bad "S_bad.npy" --dict W.npy --input S_bad.npy --lambda 0.1
bad "2x3x9x8" --dict W.npy --input S_bad.npy --lambda 0.1
bad "S_nan.npy" --dict W.npy --input S_nan.npy --lambda 0.1
bad "W2.npy" --dict W2.npy --input S.npy --lambda 0.1
bad "3x4" --dict W2.npy --input S.npy --lambda 0.1
bad "kernel" --dict W.npy --input S.npy --lambda 0.1 --kernel 5
bad "stride" --dict W.npy --input S.npy --lambda 0.1 --stride 0
bad "pad" --dict W.npy --input S.npy --lambda 0.1 --pad x
bad "S_small.npy" --dict W.npy --input S_small.npy --lambda 0.1
bad "lambda" --dict W.npy --input S.npy --lambda -1
echo "ok"
