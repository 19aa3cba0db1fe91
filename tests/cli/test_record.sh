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

echo "ok"
