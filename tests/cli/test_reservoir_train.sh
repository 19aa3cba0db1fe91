#!/usr/bin/env bash
# neurodyn train esn / train ngrc: a small Mackey-Glass run writes metrics.json (read back by
# Python) with one-step NRMSE below a floor from measurement (200 units:
# 1.5e-4 measured, floor 5e-4) and a free-run NRMSE at the horizon, the
# sweep files, and bad flags exit 2 with one line and no directory; the deep /
# plasticity / RLS run resumes exactly; FORCE, decorrelation and Lorenz run.
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

# metrics.jsonl: one line per epoch (here the single ridge fit)
[ "$(grep -c . "$TMP/esn/metrics.jsonl")" = 1 ] && [ -s "$TMP/esn/checkpoint.safetensors" ] || fail "metrics.jsonl / checkpoint"

# deep ESN, intrinsic plasticity, RLS with noise: 4 epochs in one go, and 3 + resume, give the same
# reservoir, readout and scores (the tensors of the checkpoints byte for byte; metrics.json but the timing)
C=(--units 60 --connectivity 0.1 --train 600 --trials 4 --layers 2 --plasticity ip --plasticity-epochs 2
   --readout rls --readout-epochs 2 --rls-alpha 1e-6 --noise 1e-5 --no-plot --quiet)
expect_ok "$ND" train esn "${C[@]}" --out "$TMP/full"
expect_ok "$ND" train esn "${C[@]}" --stop-after 3 --out "$TMP/part"
[ "$(grep -c . "$TMP/part/metrics.jsonl")" = 3 ] && [ ! -e "$TMP/part/metrics.json" ] || fail "stopped run"
expect_ok "$ND" train esn --resume "$TMP/part" --quiet
"$PY" - "$TMP/full" "$TMP/part" <<'PY' || fail "resume differs"
import json, struct, sys
def tensors(p):
    d = open(p + "/checkpoint.safetensors", "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    h = json.loads(d[8:8 + n]); h.pop("__metadata__")
    return h, d[8 + n:]
assert tensors(sys.argv[1]) == tensors(sys.argv[2])
a, b = (json.load(open(d + "/metrics.json"))["results"] for d in sys.argv[1:])
a.pop("fit_s"), b.pop("fit_s")
assert a == b, (a, b)
assert 0 < a["test_nrmse_1"] < 5e-3, a
lines = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
assert [l["phase"] for l in lines] == ["plasticity"] * 2 + ["readout"] * 2, lines
assert lines[1]["act_std"] < lines[0]["act_std"], lines  # IP pulls the spread towards 0.2
PY
# a different seed gives a different reservoir (the comparison can fail)
expect_ok "$ND" train esn "${C[@]}" --seed 5 --out "$TMP/other"
cmp -s "$TMP/full/checkpoint.safetensors" "$TMP/other/checkpoint.safetensors" && fail "seed has no effect"

# FORCE and decorrelation run; Lorenz with 3 components
expect_ok "$ND" train esn --units 60 --connectivity 0.1 --train 600 --trials 4 --readout force --plasticity decorrelate \
  --plasticity-epochs 1 --plasticity-eta 1e-4 --no-plot --quiet --out "$TMP/force"
expect_ok "$ND" train esn --task lorenz --units 60 --connectivity 0.1 --train 500 --discard 400 --warmup 50 --horizon 44 \
  --trials 4 --solver qr --input-scaling 0.5 --quiet --out "$TMP/lorenz"
"$PY" - "$TMP/lorenz" <<'PY' || fail "lorenz metrics"
import json, sys
r = json.load(open(sys.argv[1] + "/metrics.json"))["results"]
assert r["features"] == 1 + 3 + 60 and 0 < r["test_nrmse_1"] < 0.05, r
PY

expect_error 2 "neurodyn train esn:" "--out" "$ND" train esn --units 10
expect_error 2 "neurodyn train esn:" "layers" "$ND" train esn --layers 0 --out "$TMP/bad5"
expect_error 2 "neurodyn train esn:" "rls-alpha" "$ND" train esn --readout rls --rls-alpha 0 --out "$TMP/bad6"
expect_error 2 "neurodyn train esn:" "plasticity" "$ND" train esn --plasticity hebb --out "$TMP/bad7"
expect_error 2 "neurodyn train esn:" "resume" "$ND" train esn --resume "$TMP/nonexistent"
[ ! -e "$TMP/bad5" ] && [ ! -e "$TMP/bad6" ] && [ ! -e "$TMP/bad7" ] || fail "a refused run left a directory"
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
# NG-RC on Mackey-Glass in the windows of train esn (k 4, s 1, ridge 1e-8): one-step test NRMSE
# measured 2.7e-3, floor 1e-2
expect_ok "$ND" train ngrc --task mackey-glass --delays 4 --ridge 1e-8 --train 3000 --discard 1000 --trials 10 --quiet --out "$TMP/ngmg"
"$PY" - "$TMP/ngmg" <<'PY' || fail "ngrc mackey-glass metrics"
import json, sys
r = json.load(open(sys.argv[1] + "/metrics.json"))["results"]
assert r["features"] == 15 and 0 < r["test_nrmse_1"] < 1e-2, r
PY
expect_error 2 "neurodyn train ngrc:" "warmup" "$ND" train ngrc --task mackey-glass --warmup 1 --out "$TMP/bad8"
expect_error 2 "neurodyn train ngrc:" "delays" "$ND" train ngrc --delays 0 --out "$TMP/bad4"
[ ! -e "$TMP/bad4" ] || fail "a refused ngrc run left a directory"
echo "ok"
