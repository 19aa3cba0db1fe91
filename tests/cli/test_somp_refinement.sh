#!/bin/bash
# `neurodyn run somp --experiment refinement --quick` on MNIST and
# Fashion-MNIST: the linear probes on the trained cells (supervised, blend)
# at the last step reach at least 3 x chance (0.3 for 10 classes); skipped
# when the data sets are not there.
source "$(dirname "$0")/common.bash"
export ND_DATA_DIR="${ND_DATA_DIR:-$SRC/data}"
{ [ -d "$ND_DATA_DIR/mnist" ] && [ -d "$ND_DATA_DIR/fashion-mnist" ]; } || { echo "SKIP: MNIST / Fashion-MNIST not in $ND_DATA_DIR"; exit 77; }
expect_ok "$ND" run somp --experiment refinement --quick --out "$TMP/rf"
$PY - "$TMP/rf/results.json" <<'PYEOF' || fail "floors not met"
import json, sys
r = json.load(open(sys.argv[1]))
for ds in ("mnist", "fashion-mnist"):
    for m in ("supervised", "blend", "fixed"):
        acc = r[ds][m]
        assert len(acc) == 6, (ds, m, acc)
        assert acc[-1] >= 0.3, f"{ds} {m}: last-step probe accuracy {acc[-1]} below 0.3"
PYEOF
echo PASS
