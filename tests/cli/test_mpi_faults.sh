#!/bin/bash
# Data-parallel runs that fail or are stopped (docs/distributed.md), with
# `mpirun -np 2 --oversubscribe`:
#   - SIGTERM to every rank stops them at the same minibatch (exit 130, the
#     checkpoint written once) and the run resumes on 3 processes with one
#     process's bytes;
#   - a rank killed mid-epoch ends the job with an error within 60 s;
#   - a rank that hangs (SIGSTOP) makes the others give up after
#     ND_MPI_TIMEOUT seconds with a message.
# Skipped (77) as test_mpi.sh.
set -u
CLI="$1"
source "$(dirname "${BASH_SOURCE[0]}")/mpi_common.bash"
# SIGTERM to every rank mid-run: they agree to stop after the same minibatch, rank 0 writes
# the checkpoint, all exit 130; resumed on 3 processes the run ends with one process's bytes
MID=(--data "$DATA" --hidden 100 --epochs 20 --batch 50 --limit 6000 --seed 3 --png-every 0 --threads 1 --quiet)
"$CLI" train krotov "${MID[@]}" --out "$T/mid1" >/dev/null 2>"$T/err" || fail "mid: one process"
"${MPI[@]}" -np 2 "$CLI" train krotov "${MID[@]}" --out "$T/mid" >/dev/null 2>"$T/err" &
job=$!
for _ in $(seq 100); do [ -s "$T/mid/metrics.jsonl" ] && break; sleep 0.1; done
for r in 0 1; do p=$(rank_pid $job $r); [ -n "$p" ] && kill -TERM "$p"; done
wait $job
rc=$?
if [ $rc = 130 ]; then
  grep -q "interrupted in epoch" "$T/err" || fail "SIGTERM: no 'interrupted' message"
  "${MPI[@]}" -np 3 "$CLI" train krotov --resume "$T/mid" --quiet >/dev/null 2>"$T/err" || fail "mid: resume on 3"
  cmp "$T/mid1/W.safetensors" "$T/mid/W.safetensors" || fail "stopped by SIGTERM on 2, resumed on 3: differs"
  echo "SIGTERM to both ranks: exit 130, resumed on 3 processes with one process's bytes"
else
  [ $rc = 0 ] || fail "SIGTERM to both ranks: exit $rc, want 130"
  echo "SIGTERM came after the run ended (loaded machine): the mid-run resume was not exercised"
fi

# a rank killed mid-epoch: the job ends with an error, in bounded time
LONG=(--data "$DATA" --hidden 200 --epochs 200 --batch 100 --limit 6000 --png-every 0 --threads 1 --quiet)
for how in KILL STOP; do
  [ $how = STOP ] && export ND_MPI_TIMEOUT=3
  "${MPI[@]}" -np 2 "$CLI" train krotov "${LONG[@]}" --out "$T/kill$how" >/dev/null 2>"$T/err" &
  job=$!
  for _ in $(seq 100); do [ -s "$T/kill$how/metrics.jsonl" ] && break; sleep 0.2; done
  [ -s "$T/kill$how/metrics.jsonl" ] || { kill $job; fail "the long run never finished an epoch"; }
  victim=$(rank_pid $job 1)
  [ -n "$victim" ] || { kill $job; fail "no rank 1 among mpirun's children"; }
  t0=$(date +%s)
  kill -$how "$victim"
  for _ in $(seq 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then kill -KILL "$victim"; kill $job; fail "SIG$how of rank 1: the job still runs after 60 s"; fi
  wait $job
  rc=$?
  [ $rc != 0 ] || fail "SIG$how of rank 1: the job exited 0"
  case $how in
    KILL) grep -qi "rank 1" "$T/err" || fail "SIGKILL of rank 1: no message naming it" ;;
    STOP) grep -q "no answer from the other ranks" "$T/err" || fail "SIGSTOP of rank 1: no timeout message" ;;
  esac
  echo "SIG$how of rank 1: job ended with exit $rc after $(( $(date +%s) - t0 )) s"
done
echo "ok"
