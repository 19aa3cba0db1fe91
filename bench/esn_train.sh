#!/usr/bin/env bash
# ESN training benchmark (docs/reservoir.md, docs/RESULTS.md): `neurodyn train
# esn` against bench/esn_numpy.py (NumPy + SciPy) on the same task: 1000
# units, 1% connectivity, spectral radius 0.8, Mackey-Glass, 3000 training
# steps, ridge 1e-8 by the normal equations.  Timed: reservoir creation
# (spectral radius included), the teacher-forced states and the solve.  Two
# pairings: dense eigenvalues (dgeev / numpy.linalg.eigvals) and the fast
# estimates (power iteration / ARPACK scipy.sparse.linalg.eigs).
#
#   bash bench/esn_train.sh BUILD_DIR   (env: THREADS ROUNDS)
set -euo pipefail
BUILD=$(cd "${1:?usage: bash bench/esn_train.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "{\"uptime\": \"$(uptime)\"}"
for ((r = 1; r <= ROUNDS; r++)); do
  for pair in "eig eig" "power arpack"; do
    set -- $pair
    "$BUILD/neurodyn" train esn --rho-method "$1" --threads "$THREADS" --trials 5 --no-plot --quiet --out "$TMP/nd"
    /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); r=m["results"]; print(json.dumps({"impl": "neurodyn", "rho": sys.argv[2], "fit_s": r["fit_s"], "test_nrmse_1": r["test_nrmse_1"]}))' \
      "$TMP/nd/metrics.json" "$1" | tee -a "$TMP/all.jsonl"
    /usr/bin/python3 "$SRC/bench/esn_numpy.py" --rho "$2" --threads "$THREADS" | tee -a "$TMP/all.jsonl"
  done
done
/usr/bin/python3 - "$TMP/all.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for nd_rho, np_rho in (("eig", "eig"), ("power", "arpack")):
    a = min(r["fit_s"] for r in runs if r["impl"] == "neurodyn" and r["rho"] == nd_rho)
    b = min(r["fit_s"] for r in runs if r["impl"] == "numpy" and r["rho"] == np_rho)
    print(json.dumps({"bench": "esn_train_ratio", "neurodyn_rho": nd_rho, "numpy_rho": np_rho, "neurodyn_fit_s": a,
                      "numpy_fit_s": b, "speedup": round(b / a, 2), "statistic": "min over rounds"}))
PY
