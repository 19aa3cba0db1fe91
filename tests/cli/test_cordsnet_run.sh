# neurodyn run cordsnet: logits and recorded trajectories from a small
# native-layout CordsNet-R2 written by NumPy under upstream's names, top-5
# with a labels file, an image file as input, and bad input (exit 2, one line
# naming the file or field, nothing written).
. "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: numpy not available"; exit 77; }
cd "$TMP"
"$PY" - <<'PYEOF'
import json, struct
import numpy as np
rng = np.random.default_rng(0)
w = 4
def wn(name, shape, t):
    v = rng.uniform(-1, 1, shape).astype(np.float32)
    t[name + ".parametrizations.weight.original1"] = v
    t[name + ".parametrizations.weight.original0"] = (0.5 * np.ones((shape[0],) + (1,) * (len(shape) - 1))).astype(np.float32)
def save(path, t, meta=None):
    h, blobs, off = {}, [], 0
    for k in sorted(t):
        a = np.ascontiguousarray(t[k], dtype="<f4")
        h[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes()); off += a.nbytes
    if meta: h["__metadata__"] = meta
    s = json.dumps(h).encode(); s += b" " * ((8 - len(s) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(s))); f.write(s); [f.write(b) for b in blobs]
t = {}
wn("inp_conv", (w, 1, 3, 3), t); wn("inp_skip", (w, w, 3, 3), t)
for j in range(2):
    wn("area_conv.%d" % j, (w, w, 3, 3), t); wn("area_area.%d" % j, (w, w, 3, 3), t)
    t["conv_bias.%d" % j] = rng.uniform(-0.05, 0.05, (w, 14, 14)).astype(np.float32)
wn("out_fc", (10, w), t); t["out_fc.bias"] = np.zeros(10, np.float32)
save("m.safetensors", t)
bad = dict(t); bad["conv_bias.1"] = np.zeros((w, 13, 14), np.float32); save("bad_shape.safetensors", bad)
extra = dict(t); extra["surprise"] = np.zeros(3, np.float32); save("extra.safetensors", extra)
none = {"x": np.zeros(3, np.float32)}; save("none.safetensors", none)
x = rng.random((3, 1, 28, 28)).astype(np.float32); np.save("x.npy", x)
np.save("x_bad.npy", rng.random((3, 1, 27, 28)).astype(np.float32))
xn = x.copy(); xn[0, 0, 3, 3] = np.nan; np.save("x_nan.npy", xn)
open("labels.txt", "w").write("".join("digit%d\n" % i for i in range(10)))
open("labels_short.txt", "w").write("a\nb\n")
PYEOF
"$PY" -c "
import zlib, struct
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
raw = b''.join(b'\x00' + bytes((x * 9 + y * 3) % 256 for x in range(28)) for y in range(28))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open('digit.png', 'wb').write(png)
"
printf 'not an image' > junk.png
P="neurodyn run cordsnet"

expect_ok "$ND" run cordsnet --weights m.safetensors --input x.npy --out l.npy --steps-spont 20 --steps 20
case "$out" in *'"depth": 2'*) ;; *) fail "JSON line: $out" ;; esac
"$PY" -c "import numpy as np; l = np.load('l.npy'); assert l.shape == (3, 10) and np.isfinite(l).all(), l.shape" || fail "logits"
expect_ok "$ND" run cordsnet --weights m.safetensors --depth 2 --input x.npy --out l2.npy --steps-spont 20 --steps 20 \
  --record 0,1 --record-out traj.safetensors --labels labels.txt
case "$out" in *"image 2: digit"*) ;; *) fail "top-5 lines: $out" ;; esac
"$PY" -c "
import json, struct, numpy as np
f = open('traj.safetensors', 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n))
assert h['area_0']['shape'] == [40, 3, 4, 14, 14] and h['area_1']['shape'] == [40, 3, 4, 14, 14], h
assert np.array_equal(np.load('l.npy'), np.load('l2.npy'))
" || fail "trajectory shapes / recording changed the logits"
expect_ok "$ND" run cordsnet --weights m.safetensors --input digit.png --out lp.npy --steps-spont 5 --steps 5
"$PY" -c "import numpy as np; assert np.load('lp.npy').shape == (1, 10)" || fail "png input"

expect_error 2 "$P" "--weights" "$ND" run cordsnet --input x.npy --out o.npy
expect_error 2 "$P" "conv_bias.1" "$ND" run cordsnet --weights bad_shape.safetensors --input x.npy --out o.npy
expect_error 2 "$P" "surprise" "$ND" run cordsnet --weights extra.safetensors --input x.npy --out o.npy
expect_error 2 "$P" "none.safetensors" "$ND" run cordsnet --weights none.safetensors --input x.npy --out o.npy
expect_error 2 "$P" "--depth 4" "$ND" run cordsnet --weights m.safetensors --depth 4 --input x.npy --out o.npy
expect_error 2 "$P" "x_bad.npy" "$ND" run cordsnet --weights m.safetensors --input x_bad.npy --out o.npy
expect_error 2 "$P" "x_nan.npy" "$ND" run cordsnet --weights m.safetensors --input x_nan.npy --out o.npy
expect_error 2 "$P" "junk.png" "$ND" run cordsnet --weights m.safetensors --input junk.png --out o.npy
expect_error 2 "$P" "missing.npy" "$ND" run cordsnet --weights m.safetensors --input missing.npy --out o.npy
expect_error 2 "$P" "--alpha" "$ND" run cordsnet --weights m.safetensors --input x.npy --out o.npy --alpha 1.5
expect_error 2 "$P" "--record" "$ND" run cordsnet --weights m.safetensors --input x.npy --out o.npy --record 2 --record-out t.safetensors
expect_error 2 "$P" "--record" "$ND" run cordsnet --weights m.safetensors --input x.npy --out o.npy --record 0
expect_error 2 "$P" "labels_short.txt" "$ND" run cordsnet --weights m.safetensors --input x.npy --out o.npy --labels labels_short.txt
expect_error 2 "$P" "o.txt" "$ND" run cordsnet --weights m.safetensors --input x.npy --out o.txt
[ ! -e o.npy ] && [ ! -e t.safetensors ] && [ ! -e o.txt ] || fail "a failed run wrote output"
echo "PASS"
