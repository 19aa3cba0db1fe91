#!/bin/bash
# SOMPNet benchmark of docs/RESULTS.md ("SOMPNet"): time per training sequence
# of the 4-cell cyclic network (256 units each, batch 64, T = 100, STDP +
# covariance decay + supervised BPTT blend), neurodyn (bench/bench_somp.c)
# and PyTorch (bench/somp_torch.py) in the same run, both on THREADS threads:
#   bash bench/somp.sh [BUILD_DIR] [THREADS] [REPS]
set -eu
BUILD=${1:-build/release}
THREADS=${2:-2}
REPS=${3:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
echo "commit $(git -C "$HERE" rev-parse --short HEAD), $(hostname), $(nproc) cores, threads $THREADS"
uptime
ND_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE "$BUILD/bench_somp" --reps "$REPS"
OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$HERE/somp_torch.py" --reps "$REPS" --threads "$THREADS"
ND_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE "$BUILD/bench_somp" --reps "$REPS"
uptime
