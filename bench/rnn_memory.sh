#!/bin/bash
# Peak RSS of one training step of `neurodyn train rnn` against the sequence
# length, per cell (docs/RESULTS.md "Training through time: memory").
# Usage: bench/rnn_memory.sh path/to/neurodyn [hidden] [batch]
# Prints: cell T peak_rss_kib input_kib (what the task's x, [T+20, B, 10]
# floats, would take as an array; the trainer streams it step by step, so no
# cell holds it).
set -eu
ND="${1:?usage: $0 path/to/neurodyn [hidden] [batch]}"
H="${2:-128}"
B="${3:-16}"
T_DIR=$(mktemp -d)
trap 'rm -rf "$T_DIR"' EXIT
echo "cell T peak_rss_kib input_kib"
for cell in tanh reversible unitary; do
  for T in 100 1000 10000; do
    rm -rf "$T_DIR/run"
    kib=$(/usr/bin/time -f %M "$ND" train rnn --cell "$cell" --length "$T" --hidden "$H" --batch "$B" --steps 1 --epochs 1 \
      --val-batches 1 --threads 1 --quiet --out "$T_DIR/run" 2>&1 >/dev/null | tail -1)
    echo "$cell $T $kib $(( (T + 20) * B * 10 * 4 / 1024 ))"
  done
done
