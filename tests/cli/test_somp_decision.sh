#!/bin/bash
# `neurodyn run somp --experiment decision --quick`: a 4-armed Bernoulli
# bandit (arm probabilities 0.1 .. 0.9) and a 5x5 grid world (goal +1, step
# cost 0.05, at most 16 steps).  Floors against stated baselines, means over
# the 3 quick seeds, last 20 % of the updates (the margins are about 2/3 of
# the gains measured at this size, docs/RESULTS.md):
#   bandit: REINFORCE and the blend: mean reward > 0.7 (uniform choice: 0.5,
#           best arm 0.9); reward-modulated plasticity alone: > 0.55 and
#           above the fixed network;
#   grid world (defaults lr 0.2, eta 0.005): REINFORCE and the blend: mean
#           return > the uniform random policy's + 0.8 (measured + 1.13) and
#           success > 0.9; plasticity alone (its own setting, lr 0.1,
#           eta 0.05): return > random + 0.05 and > the fixed network + 0.05
#           (measured + 0.10).
source "$(dirname "$0")/common.bash"
expect_ok "$ND" run somp --experiment decision --quick --out "$TMP/dec"
expect_ok "$ND" run somp --experiment decision --quick --task grid --grid-lr 0.1 --grid-eta 0.05 --out "$TMP/grid"
$PY - "$TMP/dec/results.json" "$TMP/grid/results.json" <<'PYEOF' || fail "floors not met"
import json, sys
r = json.load(open(sys.argv[1]))
b = r["bandit"]
for m in ("reinforce", "blend"):
    assert b[m]["reward_mean"] > 0.7, (m, b[m]["reward_mean"])
p, f = b["plasticity"]["reward_mean"], b["fixed"]["reward_mean"]
assert p > 0.55 and p > f, (p, f)
g = r["gridworld"]
rnd = g["random_return"]
assert -0.6 < rnd < 0.0 and g["optimal_return"] > 0.8, (rnd, g["optimal_return"])
for m in ("reinforce", "blend"):
    assert g[m]["return_mean"] > rnd + 0.8 and g[m]["success_mean"] > 0.9, (m, g[m]["return_mean"], rnd)
g2 = json.load(open(sys.argv[2]))
assert "bandit" not in g2
g2 = g2["gridworld"]
p, f = g2["plasticity"]["return_mean"], g2["fixed"]["return_mean"]
assert p > g2["random_return"] + 0.05 and p > f + 0.05, (p, g2["random_return"], f)
PYEOF
# bad input: exit 2, naming the option
expect_error 2 "neurodyn run somp" "task" "$ND" run somp --experiment decision --task maze --out "$TMP/bad"
echo PASS
