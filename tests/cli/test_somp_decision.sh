#!/bin/bash
# `neurodyn run somp --experiment decision --quick`: a 4-armed Bernoulli
# bandit (arm probabilities 0.1 .. 0.9).  Floors against stated baselines,
# means over the 3 quick seeds, last 20 % of the updates:
#   REINFORCE and the blend: mean reward > 0.7 (uniform choice: 0.5, best arm 0.9);
#   reward-modulated plasticity alone: > 0.55 and above the fixed network.
source "$(dirname "$0")/common.bash"
expect_ok "$ND" run somp --experiment decision --quick --out "$TMP/dec"
$PY - "$TMP/dec/results.json" <<'PYEOF' || fail "floors not met"
import json, sys
b = json.load(open(sys.argv[1]))["bandit"]
for m in ("reinforce", "blend"):
    assert b[m]["reward_mean"] > 0.7, (m, b[m]["reward_mean"])
p, f = b["plasticity"]["reward_mean"], b["fixed"]["reward_mean"]
assert p > 0.55 and p > f, (p, f)
PYEOF
echo PASS
