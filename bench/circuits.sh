#!/bin/bash
# LocallyConnectedWta / ConvWta steps per second against PyTorch, one run:
#   bash bench/circuits.sh [BUILD_DIR] [OUT_DIR] [BASELINE_BENCH]
# neurodyn (bench_circuits), the PyTorch peer (circuits_torch.py) and, if
# given, an older bench_circuits binary for a before/after ratio; one thread
# each, CPU clock, under nice.  Writes OUT_DIR/circuits.jsonl and machine.txt.
set -eu
BUILD=${1:-build/release}
OUT=${2:-runs/circuits_bench}
BASE=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
{ echo "commit $(git -C "$HERE" rev-parse --short HEAD)"; echo "host $(hostname) $(nproc) cores"; uptime; } > "$OUT/machine.txt"
: > "$OUT/circuits.jsonl"
nice "$BUILD/bench_circuits" --threads 1 --clock cpu >> "$OUT/circuits.jsonl"
[ -n "$BASE" ] && nice "$BASE" --threads 1 --clock cpu | sed 's/"impl": "neurodyn"/"impl": "neurodyn-before"/' >> "$OUT/circuits.jsonl"
nice /usr/bin/python3 "$HERE/circuits_torch.py" --threads 1 >> "$OUT/circuits.jsonl"
uptime >> "$OUT/machine.txt"
cat "$OUT/circuits.jsonl"
