#!/bin/bash
# LCA benchmarks of docs/RESULTS.md ("LCA"), all in one run so that the
# ratios against NumPy/PyTorch share the machine's state:
#   bash bench/lca.sh [BUILD_DIR] [OUT_DIR]
# 1. convergence table (iterations to 1e-2/1e-4/1e-6 relative objective error), the
#    adaptive updates' eta chosen on a validation set of signals;
# 2. batch 128 to 1e-4: neurodyn's default update vs torch FISTA (default and passive OpenMP wait);
# 3. 4096 atoms x 256 dims x batch 128 x 300 plain-LCA steps vs torch (Gram and two-GEMM forms)
#    and vs the time of neurodyn's own GEMMs for those steps;
# 4. batch 1 to 1e-4 vs NumPy FISTA; 5. cost growth (n = 256..8192, B = 1..512, both forms).
# Report: python3 bench/lca_report.py OUT_DIR
set -eu
BUILD=${1:-build/release}
OUT=${2:-runs/lca_bench}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BUILD" && pwd)/bench_lca
PY=/usr/bin/python3
mkdir -p "$OUT/p"
OUT=$(cd "$OUT" && pwd)
cd "$OUT"
{ echo "commit $(git -C "$HERE" rev-parse --short HEAD)"; echo "host $(hostname) $(nproc) cores"; uptime; } > machine.txt
export ND_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE

# 1. problem, f*, FISTA and ISTA counts
[ -s fista.jsonl ] || $PY "$HERE/lca_torch.py" problem p > fista.jsonl
: > conv.jsonl
conv() { # SET FRAC LABEL ARGS...
  local set=$1 frac=$2 label=$3; shift 3
  "$BIN" conv p/D.npy p/S_$set.npy p/lam_${set}_$frac.npy p/fstar_${set}_$frac.npy "$@" --max-iter ${MAXIT:-6000} |
    sed "s|^{|{\"set\": \"$set\", \"frac\": $frac, \"label\": \"$label\", |" >> conv.jsonl
}
for frac in 0.1 0.01; do
  conv test $frac "euler eta=0.01" euler 0.01
  conv test $frac "euler eta=1/L" euler 0
  conv test $frac "momentum mu=0.9" momentum 0 0.9 constant 0
  conv test $frac "nesterov mu=0.9" nesterov 0 0.9 constant 0
  conv test $frac "nesterov fista" nesterov 0 0.9 fista 0
  conv test $frac "momentum fista+restart" momentum 0 0.9 fista 1
  conv test $frac "nesterov fista+restart (default)" nesterov 0 0.9 fista 1
  for u in rmsprop adam upstream-adam upstream-rmsprop; do
    for eta in 0.001 0.003 0.01 0.03 0.1; do
      MAXIT=3000 conv val $frac "$u eta=$eta" $u $eta
      MAXIT=3000 conv test $frac "$u eta=$eta" $u $eta
    done
  done
done
uptime >> machine.txt

# 2. batch 128 to 1e-4
conv batch 0.1 "batch default" nesterov 0 0.9 fista 1
K_LCA=$($PY -c "import json; print(max(r['it_1e-4'] for r in map(json.loads, open('conv.jsonl')) if r['set'] == 'batch'))")
K_FISTA=$($PY -c "import json; print(max(r['it_1e-4'] for r in map(json.loads, open('fista.jsonl')) if r['set'] == 'batch' and r['update'] == 'fista'))")
LAM=$($PY -c "import numpy as np; print(repr(float(np.load('p/lam_batch_0.1.npy')[0])))")
: > time.jsonl
for rep in 1 2; do
  for f in gram two-gemm; do "$BIN" time p/D.npy p/S_batch.npy "$LAM" nesterov "$K_LCA" --form $f --reps 3 >> time.jsonl; done
  OMP_WAIT_POLICY=PASSIVE $PY "$HERE/lca_torch.py" fista-time p "$K_FISTA" >> time.jsonl
  env -u OMP_WAIT_POLICY $PY "$HERE/lca_torch.py" fista-time p "$K_FISTA" >> time.jsonl
done

# 3. plain LCA, 4096 atoms
$PY -c "
import numpy as np
r = np.random.default_rng(5); D = r.standard_normal((256, 4096)); D /= np.linalg.norm(D, axis=0)
np.save('p/D4096.npy', D.astype(np.float32)); np.save('p/S4096.npy', r.standard_normal((128, 256)).astype(np.float32))"
for rep in 1 2; do
  "$BIN" time p/D4096.npy p/S4096.npy 0.05 euler 300 --eta 0.01 --form two-gemm --reps 2 >> time.jsonl
  "$BIN" gemm 256 4096 128 300 >> time.jsonl
done
env -u OMP_WAIT_POLICY $PY "$HERE/lca_torch.py" lca-time >> time.jsonl
uptime >> machine.txt

# 4. batch 1
K1=$($PY -c "import json; print(next(r['it_1e-4'] for r in map(json.loads, open('conv.jsonl')) if r['set'] == 'test' and r['frac'] == 0.1 and r['signal'] == 0 and 'default' in r['label']))")
KF1=$($PY -c "import json; print(next(r['it_1e-4'] for r in map(json.loads, open('fista.jsonl')) if r['set'] == 'test' and r['frac'] == 0.1 and r['signal'] == 0 and r['update'] == 'fista'))")
LAM1=$($PY -c "import numpy as np; print(repr(float(np.load('p/lam_test_0.1.npy')[0])))")
$PY -c "import numpy as np; np.save('p/s1.npy', np.load('p/S_test.npy')[:1])"
for rep in 1 2; do
  for th in 1 2; do ND_NUM_THREADS=$th "$BIN" time p/D.npy p/s1.npy "$LAM1" nesterov "$K1" --reps 20 | sed "s/^{/{\"threads\": $th, /" >> time.jsonl; done
  $PY "$HERE/lca_torch.py" numpy-fista p "$KF1" >> time.jsonl
done

# 5. growth
"$BIN" growth 256 > growth.jsonl
uptime >> machine.txt
echo "done: $OUT (python3 $HERE/lca_report.py $OUT)"
