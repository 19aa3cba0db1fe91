#!/bin/bash
# `neurodyn demo superres` (tiny draws): results.json has every method's
# figures, the synthetic spectrogram PNG is written, the speech one too when
# espeak-ng and libsndfile are there (else the demo says it skipped);
# bad flags exit 2 and write nothing.
source "$(dirname "$0")/common.bash"
expect_ok "$ND" demo superres --trials 1 --val-trials 1 --out "$TMP/sr"
case "$out" in *"pictures: $TMP/sr/superres_synthetic.png"*) ;; *) fail "no picture line: $out" ;; esac
[ -s "$TMP/sr/superres_synthetic.png" ] || fail "no synthetic PNG"
"$PY" - "$TMP/sr" <<'PY' || fail "results.json"
import json, sys
r = json.load(open(sys.argv[1] + "/results.json"))
assert set(r["test"]) == {"filterbank", "lca", "lca+lcwta", "lcawta"}, r["test"].keys()
for m, v in r["test"].items():
    assert len(v["resolved_fraction"]) == len(r["spacings_cents"])
    assert v["single_tone_error_cents"] >= 0
assert r["test"]["lca"]["iterations_per_batch"] > 0 and r["lca_euler_iterations_per_batch"] > 0
PY
if command -v espeak-ng >/dev/null && grep -q '"speech_frames"' "$TMP/sr/results.json"; then
  [ -s "$TMP/sr/superres_speech.png" ] || fail "speech PNG missing"
else
  case "$out" in *"speech: skipped"*) ;; *) fail "no speech and no skip message" ;; esac
fi
expect_error 2 "neurodyn demo superres:" "--trials" "$ND" demo superres --trials 0 --out "$TMP/bad"
[ ! -e "$TMP/bad" ] || fail "bad --trials created the output directory"
expect_error 2 "neurodyn demo superres:" "quote" "$ND" demo superres --text "it's" --out "$TMP/bad"
[ ! -e "$TMP/bad" ] || fail "bad --text created the output directory"
echo ok
