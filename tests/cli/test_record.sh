#!/usr/bin/env bash
# --record on the commands that record states (docs/record.md): each writes
# OUT/record/index.json and NPY chunks that NumPy reads (tests/cli/
# record_check.py, independent of neurodyn's reader) with the kinds, frame
# shapes and frame counts the flags ask for; the frames agree with the
# command's other outputs where it has them; bad --record-every exits 2.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
CHECK="$SRC/tests/cli/record_check.py"
# the Python checks: from record_check import check; check(RUN_DIR, "NAME:KIND:SHAPE:FRAMES[:DTYPE]", ...)
export PYTHONPATH="$SRC/tests/cli${PYTHONPATH:+:$PYTHONPATH}"
# the solver's step count from the JSON line a run command printed
iters() { printf '%s\n' "$out" | sed -n 's/.*"iterations": \([0-9]*\).*/\1/p'; }

# ---- run snn: raster (any spike in each window of K steps) + membrane at the window's end
expect_ok "$ND" run snn --neurons 50 --duration-ms 50 --dt-ms 0.1 --trace 3 --seed 2 --quiet \
  --record --record-every 5 --out "$TMP/snn"
"$PY" - "$TMP/snn" <<'PY' || fail "snn raster and membrane against spikes.npy and voltage.npy"
import sys, json
import numpy as np
from record_check import check
d = sys.argv[1]
z = check(d, "spikes:raster:50:100:uint8", "membrane:vector:50:100")
sp, v = np.load(d + "/spikes.npy"), np.load(d + "/voltage.npy")
K, dt = 5, 0.1
want = np.zeros((100, 50), np.uint8)
for t, n in sp:
    k = int(round(t / dt)) - 1                    # the step that spiked, 0-based
    want[k // K, int(n)] = 1
assert sp.shape[0] > 0
np.testing.assert_array_equal(z["spikes"], want)
np.testing.assert_array_equal(z["membrane"][:, :3], v[K - 1::K])
idx = json.load(open(d + "/record/index.json"))
assert idx["streams"][0]["time_unit"] == "ms" and abs(idx["streams"][0]["dt"] - 0.5) < 1e-12
PY
# without --record: no record/ directory
expect_ok "$ND" run snn --neurons 20 --duration-ms 5 --quiet --out "$TMP/snn0"
[ ! -e "$TMP/snn0/record" ] || fail "record/ without --record"
expect_error 2 "neurodyn run snn:" "--record-every" "$ND" run snn --neurons 20 --duration-ms 5 --quiet \
  --record --record-every 0 --out "$TMP/snnbad"
[ ! -e "$TMP/snnbad/record" ] || fail "record/ after a bad --record-every"

# ---- run lca --record-dir: codes and potentials per solver iteration
cd "$TMP"
"$PY" - <<'PY'
import numpy as np
rng = np.random.default_rng(0)
D = rng.standard_normal((16, 32)).astype(np.float32); D /= np.linalg.norm(D, axis=0)
np.save("D.npy", D)
np.save("S.npy", rng.standard_normal((3, 16)).astype(np.float32))
np.save("s1.npy", rng.standard_normal(16).astype(np.float32))
W = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
np.save("W.npy", W / np.linalg.norm(W.reshape(4, -1), axis=1)[:, None, None, None])
np.save("I.npy", rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
PY
expect_ok "$ND" run lca --dict D.npy --input s1.npy --lambda 0.1 --out a1.npy --record-dir lca1
n1=$(iters)
expect_ok "$ND" run lca --dict D.npy --input S.npy --lambda 0.1 --out A.npy --record-dir lca3 --record-every 3
n3=$(iters)
expect_ok "$ND" run lca --conv --dict W.npy --input I.npy --lambda 0.1 --pad 1 --out C.npy --record-dir lcac
nc=$(iters)
"$PY" - $n1 $n3 $nc <<'PY' || fail "run lca: frames; the recorded codes end at the written codes; a = soft(u)"
import sys
import numpy as np
from record_check import check
n1, n3, nc = map(int, sys.argv[1:])
z, a = check("lca1", f"codes:vector:32:{n1}", f"potentials:vector:32:{n1}"), np.load("a1.npy")
check("lca3", f"codes:map2d:1x3x32:{(n3 + 2) // 3}", f"potentials:map2d:1x3x32:{(n3 + 2) // 3}")
np.testing.assert_allclose(z["codes"][-1], a, atol=1e-6)
u = z["potentials"]                                   # soft threshold of the potentials (Rozell 2008, Eq. 3.2)
np.testing.assert_allclose(z["codes"], np.sign(u) * np.maximum(np.abs(u) - 0.1, 0), atol=1e-6)
assert (np.abs(z["codes"][0]) < np.abs(z["codes"][-1]).max()).all() and len(u) > 2
c, C = check("lcac", f"codes:map2d:4x8x8:{nc}", f"potentials:map2d:4x8x8:{nc}"), np.load("C.npy")
np.testing.assert_allclose(c["codes"][-1], C[0], atol=1e-6)
PY
expect_error 2 "neurodyn run lca:" "--record-every" "$ND" run lca --dict D.npy --input s1.npy --lambda 0.1 \
  --out bad.npy --record-dir lcabad --record-every 0
[ ! -e lcabad ] && [ ! -e bad.npy ] || fail "run lca wrote after a bad --record-every"
cd - >/dev/null

# ---- train lca --record: the dictionary atoms as images, epoch 0 and every K epochs; at the end the
# final dictionary's codes of the first 16 held-out signals over the solver's iterations
PHOTOS=""
for d in "${ND_DATA_DIR:+$ND_DATA_DIR/photos}" "$SRC/data/photos"; do [ -n "$d" ] && [ -d "$d" ] && PHOTOS=$d && break; done
if [ -n "$PHOTOS" ]; then
  L=(--data patches --patch 8 --patches 600 --validation 100 --atoms 16 --batch 100 --epochs 4 --max-iter 50 --seed 2 --quiet)
  expect_ok "$ND" train lca "${L[@]}" --record --record-every 2 --out "$TMP/lcat"
  "$PY" - "$TMP/lcat" <<'PY' || fail "train lca: the recorded atoms"
import sys, json
import numpy as np
from record_check import check
d = sys.argv[1]
r = check(d, "atoms:image:16x8x8:3", "codes:map2d:1x16x16:*", "potentials:map2d:1x16x16:*")
z, a, u = r["atoms"], r["codes"], r["potentials"]
np.testing.assert_allclose(a, np.sign(u) * np.maximum(np.abs(u) - 0.1, 0), atol=1e-6)   # soft threshold, lambda 0.1
assert len(a) >= 2 and (a[-1] == 0).mean() > 0.2                                       # sparse at the end
D = np.load(d + "/dictionary.npy")                       # [m, n], columns are atoms
np.testing.assert_array_equal(z[2], D.T.reshape(16, 8, 8))   # frame 2 = epoch 4, the end
np.testing.assert_allclose(np.linalg.norm(z.reshape(3, 16, 64), axis=2), 1, atol=1e-5)  # unit atoms
assert np.abs(z[0] - z[2]).max() > 1e-3                       # epoch 0 is the initial dictionary
i = json.load(open(d + "/record/index.json"))["streams"][0]
assert i["time_unit"] == "epoch" and i["dt"] == 2
PY
else
  echo "skip: train lca (no data/photos)"
fi

# ---- run cordsnet --record AREAS --record-dir: each area's rates of image 0 as a map2d stream
cd "$TMP"
"$PY" - <<'PY'
import json, struct
import numpy as np
rng = np.random.default_rng(0)
w, t = 4, {}
def wn(name, shape):
    t[name + ".parametrizations.weight.original1"] = rng.uniform(-1, 1, shape).astype(np.float32)
    t[name + ".parametrizations.weight.original0"] = (0.5 * np.ones((shape[0],) + (1,) * (len(shape) - 1))).astype(np.float32)
wn("inp_conv", (w, 1, 3, 3)); wn("inp_skip", (w, w, 3, 3))
for j in range(2):
    wn("area_conv.%d" % j, (w, w, 3, 3)); wn("area_area.%d" % j, (w, w, 3, 3))
    t["conv_bias.%d" % j] = rng.uniform(-0.05, 0.05, (w, 14, 14)).astype(np.float32)
wn("out_fc", (10, w)); t["out_fc.bias"] = np.zeros(10, np.float32)
h, blobs, off = {}, [], 0
for k in sorted(t):
    a = np.ascontiguousarray(t[k], dtype="<f4")
    h[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
    blobs.append(a.tobytes()); off += a.nbytes
s = json.dumps(h).encode(); s += b" " * ((8 - len(s) % 8) % 8)
open("cn.safetensors", "wb").write(struct.pack("<Q", len(s)) + s + b"".join(blobs))
np.save("cx.npy", rng.random((2, 1, 28, 28)).astype(np.float32))
PY
CN=(--weights cn.safetensors --input cx.npy --out logits.npy --steps-spont 5 --steps 10 --record 0,1)
expect_ok "$ND" run cordsnet "${CN[@]}" --record-out traj.safetensors --record-dir cnrec --record-every 2
"$PY" - <<'PY' || fail "run cordsnet: the streams against the --record-out trajectories"
import json, struct
import numpy as np
from record_check import check
z = check("cnrec", "area0:map2d:4x14x14:8", "area1:map2d:4x14x14:8")
raw = open("traj.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]; h = json.loads(raw[8:8 + n])
for j in (0, 1):
    e = h["area_%d" % j]; b0, b1 = e["data_offsets"]
    tr = np.frombuffer(raw[8 + n + b0:8 + n + b1], "<f4").reshape(e["shape"])   # [T, N, C, H, W]
    assert tr.shape[:2] == (15, 2)
    np.testing.assert_array_equal(z["area%d" % j], tr[::2, 0])
PY
expect_ok "$ND" run cordsnet "${CN[@]}" --record-dir cnrec2          # without --record-out
"$PY" "$CHECK" cnrec2 area0:map2d:4x14x14:15 area1:map2d:4x14x14:15 || fail "run cordsnet --record-dir alone"
expect_error 2 "neurodyn run cordsnet:" "--record-dir" "$ND" run cordsnet --weights cn.safetensors --input cx.npy \
  --out l2.npy --record-dir cnbad
[ ! -e cnbad ] && [ ! -e l2.npy ] || fail "run cordsnet wrote after bad flags"
cd - >/dev/null

# ---- run wta | lcwta | convwta --record-dir: excitatory and inhibitory states over the steps
cd "$TMP"
"$PY" -c "
import numpy as np
np.save('w1.npy', np.array([1, 0.1, 0.68, 0.7], np.float32))
np.save('wb.npy', np.random.default_rng(1).random((3, 12)).astype(np.float32))
np.save('wc.npy', np.random.default_rng(2).random((2, 2, 5, 6)).astype(np.float32))"
expect_ok "$ND" run wta --input w1.npy --out x1.npy --inhibitory y1.npy --record-dir wta1
n1=$(iters)
expect_ok "$ND" run lcwta --input wb.npy --out xb.npy --halfwidth 2 --record-dir wtab --record-every 4
nb=$(iters)
expect_ok "$ND" run convwta --input wc.npy --out xc.npy --kernel 3x3 --max-iter 300 --record-dir wtac
nc=$(iters)
"$PY" - $n1 $nb $nc <<'PY' || fail "run wta: frames; the recorded states against the written steady state and the Euler step"
import sys
import numpy as np
from record_check import check
n1, nb, nc = map(int, sys.argv[1:])
z = check("wta1", f"excitatory:vector:4:{n1}", f"inhibitory:vector:1:{n1}"); x, y = z["excitatory"], z["inhibitory"]
k = (nb + 3) // 4
check("wtab", f"excitatory:map2d:1x3x12:{k}", f"inhibitory:map2d:1x3x12:{k}")
np.testing.assert_array_equal(x[-1], np.load("x1.npy"))
np.testing.assert_array_equal(y[-1], np.load("y1.npy"))
# step 2 from step 1 by the Euler equations (Rutishauser et al. 2011, Eq. 2.1-2.2), jacobi order
I, a, b1, b2, dt = np.array([1, 0.1, 0.68, 0.7]), 1.2, 3, 0.25, 0.1
x2 = x[0] + dt * (-x[0] + np.maximum(I + a * x[0] - b1 * y[0, 0], 0))
y2 = y[0] + dt * (-y[0] + np.maximum(b2 * x[0].sum(), 0))
np.testing.assert_allclose(x[1], x2, rtol=1e-5, atol=1e-7); np.testing.assert_allclose(y[1], y2, rtol=1e-5, atol=1e-7)
c = check("wtac", f"excitatory:map2d:2x5x6:{nc}", f"inhibitory:map2d:2x5x6:{nc}")["excitatory"]
np.testing.assert_array_equal(c[-1], np.load("xc.npy")[0])
PY
expect_error 2 "neurodyn run wta:" "--record-every" "$ND" run wta --input w1.npy --out xbad.npy --record-dir wbad \
  --record-every 0
[ ! -e wbad ] && [ ! -e xbad.npy ] || fail "run wta wrote after a bad --record-every"
cd - >/dev/null

# ---- the MNIST trainers (skipped without the data)
if D=$(mnist_dir); then
  # train grid3d: activity and allocation per epoch (epoch 0 = before training), eval on test images
  G=(--epochs 2 --limit 300 --test-limit 100 --threads 1 --quiet --grid 4,3,2 --threshold 0.05 --patience 1 --seed 4)
  expect_ok "$ND" train grid3d "${G[@]}" --record --out "$TMP/grid"
  expect_ok "$ND" train grid3d "${G[@]}" --out "$TMP/grid0"
  "$PY" - "$TMP/grid" "$TMP/grid0" "$TMP/grid.npz" <<'PY' || fail "grid3d record: positions, values, same metrics"
import sys, json
import numpy as np
from record_check import check
d, d0 = sys.argv[1], sys.argv[2]
z = check(d, "activity:grid3d:24:3", "allocated:grid3d:24:3", "eval:grid3d:24:64")
np.savez(sys.argv[3], **z)
pos = np.load(d + "/record/activity_positions.npy")
want = np.array([[x, y, k] for k in range(2) for y in range(3) for x in range(4)], np.float32)
np.testing.assert_array_equal(pos, want)                  # group order, x fastest
assert set(np.unique(z["allocated"])) <= {0.0, 1.0}
assert (z["activity"] >= 0).all() and (z["eval"] >= 0).all() and z["eval"].max() > 0
# an unallocated node has no state
assert (z["activity"][z["allocated"] == 0] == 0).all()
drop = ("seconds", "elapsed", "ms_per_batch")
m = [{k: v for k, v in json.loads(l).items() if k not in drop} for l in open(d + "/metrics.jsonl")]
m0 = [{k: v for k, v in json.loads(l).items() if k not in drop} for l in open(d0 + "/metrics.jsonl")]
assert m == m0, "recording changed the run"
PY
  [ ! -e "$TMP/grid0/record" ] || fail "record/ without --record"
  # interrupted and resumed: the streams continue where they stopped
  expect_ok "$ND" train grid3d "${G[@]}" --record --stop-after 1 --out "$TMP/gridr"
  "$PY" "$CHECK" "$TMP/gridr" activity:grid3d:24:2 allocated:grid3d:24:2 || fail "grid3d record after --stop-after"
  expect_ok "$ND" train grid3d --resume "$TMP/gridr" --quiet
  "$PY" - "$TMP/grid.npz" "$TMP/gridr" <<'PY' || fail "resumed recording differs from the uninterrupted one"
import sys
import numpy as np
from record_check import check
a, b = np.load(sys.argv[1]), check(sys.argv[2], "activity:grid3d:24:3", "eval:grid3d:24:64")
np.testing.assert_allclose(a["activity"], b["activity"], rtol=1e-6)
np.testing.assert_allclose(a["eval"], b["eval"], rtol=1e-6)
PY
  expect_error 2 "neurodyn train grid3d:" "--record-every" "$ND" train grid3d "${G[@]}" --record --record-every 0 \
    --out "$TMP/gridbad"
  [ ! -e "$TMP/gridbad" ] || fail "run directory after a bad --record-every"

  # train krotov: the receptive fields (rows of W) as images, epoch 0 and every epoch
  expect_ok "$ND" train krotov --hidden 10 --epochs 3 --limit 500 --seed 1 --quiet --record --out "$TMP/krotov"
  "$PY" - "$TMP/krotov" <<'PY' || fail "train krotov: the recorded fields against W.safetensors"
import sys, json, struct
import numpy as np
from record_check import check
d = sys.argv[1]
z = check(d, "fields:image:10x28x28:4")["fields"]
raw = open(d + "/W.safetensors", "rb").read()          # safetensors read by hand: 8-byte length, JSON, data
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
name = [k for k in h if k != "__metadata__" and h[k]["shape"] == [10, 784]][0]
b, e = h[name]["data_offsets"]
W = np.frombuffer(raw[8 + n + b:8 + n + e], "<f4").reshape(10, 28, 28)
np.testing.assert_array_equal(z[3], W)
assert np.abs(z[0] - z[3]).max() > 0                   # epoch 0 is the initial W
PY
  expect_error 2 "neurodyn train krotov:" "--record-every" "$ND" train krotov --hidden 10 --epochs 1 --limit 100 \
    --quiet --record --record-every -1 --out "$TMP/krbad"
else
  echo "skip: the MNIST parts (no MNIST; make data)"
fi

echo "ok"
