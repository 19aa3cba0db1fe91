#!/bin/bash
# `neurodyn run somp --experiment autoregression --quick`: learning happened.
# Floors (each against a stated baseline, not against itself):
#   Mackey-Glass: supervised and blended cells beat the persistence forecast
#                 x_{t+1} = x_t in test NRMSE;
#   characters:   supervised and blended cells beat the uniform code
#                 (log2 of the alphabet size) in test bits per character.
# And a bad experiment name exits 2.
source "$(dirname "$0")/common.bash"
[ -r /usr/share/common-licenses/GPL-3 ] || { echo "SKIP: no /usr/share/common-licenses/GPL-3"; exit 77; }
expect_ok "$ND" run somp --experiment autoregression --quick --out "$TMP/ar"
[ -s "$TMP/ar/results.json" ] || fail "no results.json"
$PY - "$TMP/ar/results.json" <<'PYEOF' || fail "floors not met"
import json, math, sys
r = json.load(open(sys.argv[1]))
mg, tx = r["mackey_glass"], r["text"]
p = mg["persistence_test_nrmse"]
for m in ("supervised", "blend"):
    v = mg[m]["test_mean"]
    assert v < p, f"mackey-glass {m}: nrmse {v} not below persistence {p}"
u = math.log2(tx["vocab"])
for m in ("supervised", "blend"):
    v = tx[m]["test_mean"]
    assert v < u, f"text {m}: {v} bpc not below uniform {u}"
assert tx["ngram"]["test"] < u and tx["gru"]["test_mean"] < u
for m in ("fixed", "plasticity"):
    assert math.isfinite(mg[m]["test_mean"]) and math.isfinite(tx[m]["test_mean"])
PYEOF
expect_error 2 "neurodyn run somp: " "--experiment" "$ND" run somp --experiment dreaming
echo PASS
