#!/usr/bin/env bash
# neurodyn run snn: the files it writes (read back by NumPy), a single
# neuron's rate against the analytic f-I curve (Dayan & Abbott 2001, Eq.
# 5.11 plus the refractory period, computed here in Python), a small random
# network's summary agreeing with its spike file, and bad flags exiting 2 with
# one line and no output directory.
source "$(dirname "$0")/common.bash"
have_numpy || { echo "SKIP: /usr/bin/python3 has no numpy"; exit 77; }

# one neuron, no connections, no noise: mu = 30 mV, v_th 20, v_reset 10, t_ref 2, tau_m 20
expect_ok "$ND" run snn --neurons 1 --connectivity 0 --noise 0 --drive 30 --duration-ms 1000 --dt-ms 0.01 \
  --trace 1 --quiet --out "$TMP/one"
"$PY" - "$TMP/one" <<'PY' || fail "single-neuron rate"
import math, sys, json
import numpy as np
d = sys.argv[1]
sp = np.load(d + "/spikes.npy"); r = np.load(d + "/rates.npy"); v = np.load(d + "/voltage.npy")
T = 2 + 20 * math.log((30 - 10) / (30 - 20))            # ISI (ms)
isi = np.diff(sp[:, 0])
assert sp.shape[1] == 2 and (sp[:, 1] == 0).all(), sp.shape
assert np.abs(isi - T).max() <= 0.0101, (isi.min(), isi.max(), T)
assert abs(r[0] - len(sp)) < 1e-6                         # 1 s: rate = count
assert v.shape == (100000, 1) and v.max() < 20 and v.min() >= 0
s = json.load(open(d + "/summary.json"))
assert s["results"]["spikes"] == len(sp) and s["results"]["synaptic_events"] == 0
PY
[ -s "$TMP/one/raster.png" ] && [ -s "$TMP/one/voltage.png" ] || fail "figures missing"

# a small noisy network
expect_ok "$ND" run snn --neurons 300 --connectivity 0.1 --duration-ms 200 --seed 3 --quiet --out "$TMP/net"
"$PY" - "$TMP/net" <<'PY' || fail "network outputs"
import sys, json
import numpy as np
d = sys.argv[1]
sp = np.load(d + "/spikes.npy"); r = np.load(d + "/rates.npy")
s = json.load(open(d + "/summary.json"))["results"]
assert len(sp) == s["spikes"] > 0
assert ((sp[:, 0] > 0) & (sp[:, 0] <= 200 + 1e-9)).all()
counts = np.bincount(sp[:, 1].astype(int), minlength=300)
assert np.allclose(r, counts / 0.2), "rates are counts / duration"
assert abs(s["synapses"] - 0.1 * 300 * 299) < 5 * (0.1 * 0.9 * 300 * 299) ** 0.5
assert s["mean_rate_hz"] > 0
PY

expect_error 2 "neurodyn run snn:" "--out" "$ND" run snn --neurons 10
expect_error 2 "neurodyn run snn:" "connectivity" "$ND" run snn --connectivity 1.5 --out "$TMP/bad1"
expect_error 2 "neurodyn run snn:" "v_reset" "$ND" run snn --v-reset 30 --out "$TMP/bad2"
expect_error 2 "neurodyn run snn:" "trace" "$ND" run snn --neurons 2 --trace 3 --out "$TMP/bad3"
expect_error 2 "neurodyn run" "unknown model" "$ND" run nosuch
[ ! -e "$TMP/bad1" ] && [ ! -e "$TMP/bad2" ] && [ ! -e "$TMP/bad3" ] || fail "a refused run left a directory"
echo "ok"
