#!/usr/bin/env bash
# neurodyn train esn / train ngrc: a small Mackey-Glass run writes metrics.json (read back by
# Python) with one-step NRMSE below a floor from measurement (200 units:
# 1.1e-4 measured, floor 5e-4) and a free-run NRMSE at the horizon, the
# sweep files, and bad flags exit 2 with one line and no directory.
source "$(dirname "$0")/common.bash"

expect_ok "$ND" train esn --units 200 --connectivity 0.05 --train 2000 --trials 10 --solver qr --ridge 1e-10 \
  --sweep-rho 0.7,0.9 --quiet --out "$TMP/esn"
"$PY" - "$TMP/esn" <<'PY' || fail "metrics"
import json, math, sys
d = sys.argv[1]
r = json.load(open(d + "/metrics.json"))["results"]
assert abs(r["spectral_radius_measured"] - 0.8) < 1e-9, r
assert r["test_nrmse_1"] < 5e-4 and r["val_nrmse_1"] < 5e-4, r
assert 0 < r["test_nrmse_horizon"] < 1, r
s = json.load(open(d + "/rho_sweep.json"))["sweep"]
assert [x["spectral_radius"] for x in s] == [0.7, 0.9]
PY
[ -s "$TMP/esn/free_run.png" ] && [ -s "$TMP/esn/rho_sweep.png" ] || fail "figures missing"

expect_error 2 "neurodyn train esn:" "--out" "$ND" train esn --units 10
expect_error 2 "neurodyn train esn:" "leak" "$ND" train esn --leak 2 --out "$TMP/bad1"
expect_error 2 "neurodyn train esn:" "sweep-rho" "$ND" train esn --sweep-rho 0.5,x --out "$TMP/bad2"
expect_error 2 "neurodyn train esn:" "washout" "$ND" train esn --train 50 --out "$TMP/bad3"
[ ! -e "$TMP/bad1" ] && [ ! -e "$TMP/bad2" ] && [ ! -e "$TMP/bad3" ] || fail "a refused run left a directory"
# train ngrc on Lorenz at its defaults (ridge 1e-3): test forecast NRMSE over 44 steps
# measured 2.45e-3, floor 2e-2
expect_ok "$ND" train ngrc --quiet --out "$TMP/ngrc"
"$PY" - "$TMP/ngrc" <<'PY' || fail "ngrc metrics"
import json, sys
r = json.load(open(sys.argv[1] + "/metrics.json"))["results"]
assert r["features"] == 28 and 0 < r["test_nrmse"] < 2e-2, r
PY
expect_error 2 "neurodyn train ngrc:" "delays" "$ND" train ngrc --delays 0 --out "$TMP/bad4"
[ ! -e "$TMP/bad4" ] || fail "a refused ngrc run left a directory"
echo "ok"
