#!/usr/bin/env bash
# --record on the commands that record states (docs/record.md): each writes
# OUT/record/index.json and NPY chunks that NumPy reads (tests/cli/
# record_check.py, independent of neurodyn's reader) with the kinds, frame
# shapes and frame counts the flags ask for; the frames agree with the
# command's other outputs where it has them; bad --record-every exits 2.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }
CHECK="$SRC/tests/cli/record_check.py"

# ---- run snn: raster (any spike in each window of K steps) + membrane at the window's end
expect_ok "$ND" run snn --neurons 50 --duration-ms 50 --dt-ms 0.1 --trace 3 --seed 2 --quiet \
  --record --record-every 5 --out "$TMP/snn"
"$PY" "$CHECK" "$TMP/snn" spikes:raster:50:100:uint8 membrane:vector:50:100 --save "$TMP/snn.npz" || fail "snn record"
"$PY" - "$TMP/snn" "$TMP/snn.npz" <<'PY' || fail "snn raster against spikes.npy"
import sys, json
import numpy as np
d, z = sys.argv[1], np.load(sys.argv[2])
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

# ---- the MNIST trainers (skipped without the data)
if D=$(mnist_dir); then
  # train grid3d: activity and allocation per epoch (epoch 0 = before training), eval on test images
  G=(--epochs 2 --limit 300 --test-limit 100 --threads 1 --quiet --grid 4,3,2 --threshold 0.05 --patience 1 --seed 4)
  expect_ok "$ND" train grid3d "${G[@]}" --record --out "$TMP/grid"
  "$PY" "$CHECK" "$TMP/grid" activity:grid3d:24:3 allocated:grid3d:24:3 eval:grid3d:24:64 --save "$TMP/grid.npz" \
    || fail "grid3d record"
  expect_ok "$ND" train grid3d "${G[@]}" --out "$TMP/grid0"
  "$PY" - "$TMP/grid" "$TMP/grid0" "$TMP/grid.npz" <<'PY' || fail "grid3d record: positions, values, same metrics"
import sys, json
import numpy as np
d, d0, z = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
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
  "$PY" "$CHECK" "$TMP/gridr" activity:grid3d:24:3 eval:grid3d:24:64 --save "$TMP/gridr.npz" || fail "grid3d resumed"
  "$PY" -c "import numpy as np, sys; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); \
np.testing.assert_allclose(a['activity'], b['activity'], rtol=1e-6); np.testing.assert_allclose(a['eval'], b['eval'], rtol=1e-6)" \
    "$TMP/grid.npz" "$TMP/gridr.npz" || fail "resumed recording differs from the uninterrupted one"
  expect_error 2 "neurodyn train grid3d:" "--record-every" "$ND" train grid3d "${G[@]}" --record --record-every 0 \
    --out "$TMP/gridbad"
  [ ! -e "$TMP/gridbad" ] || fail "run directory after a bad --record-every"
else
  echo "skip: the MNIST parts (no MNIST; make data)"
fi

echo "ok"
