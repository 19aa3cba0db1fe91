#!/bin/bash
# Data-parallel training over MPI (docs/distributed.md), run with
# `mpirun -np N --oversubscribe` on this machine:
#   - 2 and 4 processes give the bytes of one process (W, checkpoint);
#   - a run stopped on 2 processes resumes on 3, one stopped alone resumes
#     on 2, with the bytes of an uninterrupted run;
#   - only rank 0 writes (one stdout line, metrics with per-rank timing);
#   - mlp-baseline, train mlp --method dfa (and with a conv front), krotov-top, cordsnet, deq, revnet, ode, rnn and snn
#     with --grad-blocks N:
#     one process's bytes on 2..N processes, and a resume on another count;
#   - a trainer that cannot run data-parallel exits 2 saying so.
# Failures (a killed, a hung, an interrupted rank): test_mpi_faults.sh.
# Skipped (77) when neurodyn was built without MPI, mpirun is absent or
# MNIST is not there.
set -u
CLI="$1"
source "$(dirname "${BASH_SOURCE[0]}")/mpi_common.bash"
COMMON=(--data "$DATA" --hidden 40 --p 3 --k 3 --epochs 3 --batch 20 --limit 400 --seed 7 --png-every 0 --threads 1 --quiet)

"$CLI" train krotov "${COMMON[@]}" --out "$T/one" >/dev/null 2>"$T/err" || fail "one-process run"
for np in 2 4; do # (3 processes: the resume below and krotov-top)
  "${MPI[@]}" -np $np "$CLI" train krotov "${COMMON[@]}" --out "$T/np$np" >"$T/out" 2>"$T/err" || fail "mpirun -np $np exited $?"
  cmp "$T/one/W.safetensors" "$T/np$np/W.safetensors" || fail "$np processes: W differs from one process's"
  cmp "$T/one/checkpoint.safetensors" "$T/np$np/checkpoint.safetensors" || fail "$np processes: checkpoint differs"
  [ -s "$T/out" ] && fail "$np processes, --quiet: something on stdout: $(cat "$T/out")"
  [ "$(grep -c . "$T/np$np/metrics.jsonl")" = 3 ] || fail "$np processes: metrics.jsonl should have 3 lines"
  /usr/bin/python3 - "$T/np$np/metrics.jsonl" $np <<'PY' || fail "$np processes: per-rank timing missing from metrics.jsonl"
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    n = int(sys.argv[2])
    assert m["ranks"] == n and len(m["rank_seconds"]) == n and len(m["rank_comm_seconds"]) == n, m
    assert all(0 <= c <= s + 1e-3 for c, s in zip(m["rank_comm_seconds"], m["rank_seconds"])), m
    assert 0 <= m["comm_fraction"] <= 1, m
PY
done
# only rank 0 prints: one W path on stdout, one summary line
"${MPI[@]}" -np 2 "$CLI" train krotov "${COMMON[@]}" --no-quiet --out "$T/loud" >"$T/out" 2>"$T/err" || fail "np 2, not quiet"
[ "$(wc -l <"$T/out")" = 1 ] || fail "stdout should be rank 0's one line (the W path), got: $(cat "$T/out")"
[ "$(grep -c "epochs, mean p-norm" "$T/err")" = 1 ] || fail "the summary line should be printed once"
# the comparison can fail: another seed differs
"$CLI" train krotov "${COMMON[@]}" --seed 8 --out "$T/seed8" >/dev/null 2>"$T/err" || fail "seed 8"
cmp -s "$T/one/W.safetensors" "$T/seed8/W.safetensors" && fail "the seed has no effect"

# resume on another process count
"${MPI[@]}" -np 2 "$CLI" train krotov "${COMMON[@]}" --stop-after 1 --out "$T/r23" >/dev/null 2>"$T/err" || fail "np 2, 1 epoch"
"${MPI[@]}" -np 3 "$CLI" train krotov --resume "$T/r23" --quiet >/dev/null 2>"$T/err" || fail "resume on np 3"
cmp "$T/one/checkpoint.safetensors" "$T/r23/checkpoint.safetensors" || fail "stopped on 2, resumed on 3: differs"
"$CLI" train krotov "${COMMON[@]}" --stop-after 2 --out "$T/r12" >/dev/null 2>"$T/err" || fail "alone, 2 epochs"
"${MPI[@]}" -np 2 "$CLI" train krotov --resume "$T/r12" --quiet >/dev/null 2>"$T/err" || fail "resume on np 2"
cmp "$T/one/W.safetensors" "$T/r12/W.safetensors" || fail "stopped alone, resumed on 2: differs"

# gradient trainers: --grad-blocks N fixed blocks per minibatch, summed in block
# order, give one process's bytes on 2..N processes; resume on another count
MLP=(--data "$DATA" --limit 600 --test-limit 100 --hidden 24 --epochs 2 --batch 50 --grad-blocks 4 --threads 1 --quiet)
"$CLI" train mlp-baseline "${MLP[@]}" --out "$T/mlp1" >/dev/null 2>"$T/err" || fail "mlp-baseline alone"
for np in 2 4; do
  "${MPI[@]}" -np $np "$CLI" train mlp-baseline "${MLP[@]}" --out "$T/mlp$np" >/dev/null 2>"$T/err" || fail "mlp-baseline on $np"
  cmp "$T/mlp1/mlp.safetensors" "$T/mlp$np/mlp.safetensors" || fail "mlp-baseline on $np processes differs from one"
done
"${MPI[@]}" -np 4 "$CLI" train mlp-baseline "${MLP[@]}" --stop-after 1 --out "$T/mlpr" >/dev/null 2>"$T/err" || fail "mlp np 4, 1 epoch"
"${MPI[@]}" -np 2 "$CLI" train mlp-baseline --resume "$T/mlpr" --quiet >/dev/null 2>"$T/err" || fail "mlp resume on np 2"
cmp "$T/mlp1/mlp.safetensors" "$T/mlpr/mlp.safetensors" || fail "mlp stopped on 4, resumed on 2: differs"
TOP=(--features "$T/one/W.safetensors" --data "$DATA" --limit 600 --test-limit 100 --epochs 2 --batch 64 --dropout 0.1
     --grad-blocks 3 --threads 1 --quiet)
"$CLI" train krotov-top "${TOP[@]}" --out "$T/top1" >/dev/null 2>"$T/err" || fail "krotov-top alone"
"${MPI[@]}" -np 3 "$CLI" train krotov-top "${TOP[@]}" --out "$T/top3" >/dev/null 2>"$T/err" || fail "krotov-top on 3"
cmp "$T/top1/top.safetensors" "$T/top3/top.safetensors" || fail "krotov-top on 3 processes differs from one"
"${MPI[@]}" -np 4 "$CLI" train krotov-top "${TOP[@]}" --out "$T/top4" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] && grep -q -- "--grad-blocks 3: need" "$T/err" || fail "--grad-blocks 3 on 4 processes: exit $rc, want 2 and a message"

# train cordsnet (BPTT, AdamW, gradient clipping): --grad-blocks 4 gives one
# process's checkpoint bytes (model + AdamW moments) on 2; stopped on 2, resumed on 4
CDN=(--depth 2 --width 2 --steps-spont 3 --steps 4 --ce-steps 2 --post-steps 2 --penalty-steps 1 --epochs 2
     --epoch-size 32 --batch 16 --limit 200 --validation 50 --eval-train 30 --test-limit 40 --grad-blocks 4 --threads 1 --quiet)
"$CLI" train cordsnet "${CDN[@]}" --out "$T/cd1" >/dev/null 2>"$T/err" || fail "cordsnet alone"
"${MPI[@]}" -np 2 "$CLI" train cordsnet "${CDN[@]}" --out "$T/cd2" >/dev/null 2>"$T/err" || fail "cordsnet on 2"
cmp "$T/cd1/cordsnet.safetensors" "$T/cd2/cordsnet.safetensors" || fail "cordsnet on 2 processes differs from one"
"${MPI[@]}" -np 2 "$CLI" train cordsnet "${CDN[@]}" --stop-after 1 --out "$T/cdr" >/dev/null 2>"$T/err" || fail "cordsnet np 2, 1 epoch"
"${MPI[@]}" -np 4 "$CLI" train cordsnet --resume "$T/cdr" --quiet >/dev/null 2>"$T/err" || fail "cordsnet resume on np 4"
cmp "$T/cd1/cordsnet.safetensors" "$T/cdr/cordsnet.safetensors" || fail "cordsnet stopped on 2, resumed on 4: differs"
"$CLI" train cordsnet "${CDN[@]}" --grad-blocks 0 --out "$T/cd0" >/dev/null 2>"$T/err" || fail "cordsnet, whole batches"
cmp -s "$T/cd1/cordsnet.safetensors" "$T/cd0/cordsnet.safetensors" && fail "cordsnet: 4 blocks gave the bytes of whole batches (the comparison cannot fail)"

# the supervised driver's gradient trainers (cli/supervised.c: train deq, revnet,
# ode --task mnist and spiral): --grad-blocks 4 gives one process's checkpoint
# bytes (model + Adam moments) on 2; deq (with the Jacobian penalty's noise,
# drawn per block) stopped on 2 resumes on 3
SUP=(--limit 200 --test-limit 40 --eval-train 30 --epochs 2 --batch 20 --grad-blocks 4 --threads 1 --quiet)
sup_same() { # name file train-args...: one process's bytes on 2
  local name=$1 file=$2; shift 2
  "$CLI" train "$@" --out "$T/${name}1" >/dev/null 2>"$T/err" || fail "$name alone"
  "${MPI[@]}" -np 2 "$CLI" train "$@" --out "$T/${name}2" >/dev/null 2>"$T/err" || fail "$name on 2"
  cmp "$T/${name}1/$file" "$T/${name}2/$file" || fail "$name on 2 processes differs from one"
}
DEQ=(deq --data "$DATA" --hidden 16 --validation 40 --jac-reg 0.1 "${SUP[@]}")
sup_same deq deq.safetensors "${DEQ[@]}"
"${MPI[@]}" -np 2 "$CLI" train "${DEQ[@]}" --stop-after 1 --out "$T/deqr" >/dev/null 2>"$T/err" || fail "deq np 2, 1 epoch"
"${MPI[@]}" -np 3 "$CLI" train deq --resume "$T/deqr" --quiet >/dev/null 2>"$T/err" || fail "deq resume on np 3"
cmp "$T/deq1/deq.safetensors" "$T/deqr/deq.safetensors" || fail "deq stopped on 2, resumed on 3: differs"
"$CLI" train "${DEQ[@]}" --grad-blocks 0 --out "$T/deq0" >/dev/null 2>"$T/err" || fail "deq, whole batches"
cmp -s "$T/deq1/deq.safetensors" "$T/deq0/deq.safetensors" && fail "deq: 4 blocks gave the bytes of whole batches (the comparison cannot fail)"
sup_same revnet revnet.safetensors revnet --data "$DATA" --layers 2 --hidden 16 "${SUP[@]}"
sup_same odem ode.safetensors ode --task mnist --data "$DATA" --hidden 8 "${SUP[@]}"
sup_same odes ode.safetensors ode --task spiral --points 200 --steps 5 --hidden 4 --epochs 2 --batch 8 --grad-blocks 4 \
  --threads 1 --quiet

# train rnn (float64 gradients summed in block order, nd_grad_sum_f64): 3 blocks
# give one process's checkpoint bytes on 2 (a cell with stored states and one that
# reconstructs them); stopped on 2, resumed on 3
RNN=(--length 5 --hidden 8 --batch 8 --steps 3 --epochs 2 --val-batches 1 --grad-blocks 3 --threads 1 --quiet)
sup_same rnng checkpoint.safetensors rnn --cell gru --task adding "${RNN[@]}"
sup_same rnnr checkpoint.safetensors rnn --cell reversible --task copy "${RNN[@]}"
"${MPI[@]}" -np 2 "$CLI" train rnn --cell gru --task adding "${RNN[@]}" --stop-after 1 --out "$T/rnnx" >/dev/null 2>"$T/err" || fail "rnn np 2, 1 epoch"
"${MPI[@]}" -np 3 "$CLI" train rnn --resume "$T/rnnx" --quiet >/dev/null 2>"$T/err" || fail "rnn resume on np 3"
cmp "$T/rnng1/checkpoint.safetensors" "$T/rnnx/checkpoint.safetensors" || fail "rnn stopped on 2, resumed on 3: differs"

# train snn (BPTT and e-prop, store-and-recall): 3 blocks give one process's
# checkpoint bytes on 2; e-prop stopped on 2 resumes on 3
SNN=(--unit alif --neurons 12 --batch 8 --steps 3 --epochs 2 --periods 3 --period-steps 4 --channel 3 --val-batches 1
     --grad-blocks 3 --threads 1 --quiet)
sup_same snnb checkpoint.safetensors snn --method bptt "${SNN[@]}"
sup_same snne checkpoint.safetensors snn --method eprop "${SNN[@]}"
"${MPI[@]}" -np 2 "$CLI" train snn --method eprop "${SNN[@]}" --stop-after 1 --out "$T/snnx" >/dev/null 2>"$T/err" || fail "snn np 2, 1 epoch"
"${MPI[@]}" -np 3 "$CLI" train snn --resume "$T/snnx" --quiet >/dev/null 2>"$T/err" || fail "snn resume on np 3"
cmp "$T/snne1/checkpoint.safetensors" "$T/snnx/checkpoint.safetensors" || fail "snn stopped on 2, resumed on 3: differs"

# train mlp with other credit-assignment methods; am cannot share minibatches
DFA=(--method dfa --layers 784,32,10 --data "$DATA" --limit 600 --test-limit 100 --epochs 2 --batch 50 --grad-blocks 2
     --angle-rows 100 --threads 1 --quiet)
"$CLI" train mlp "${DFA[@]}" --out "$T/dfa1" >/dev/null 2>"$T/err" || fail "mlp --method dfa alone"
"${MPI[@]}" -np 2 "$CLI" train mlp "${DFA[@]}" --out "$T/dfa2" >/dev/null 2>"$T/err" || fail "mlp --method dfa on 2"
cmp "$T/dfa1/mlp.safetensors" "$T/dfa2/mlp.safetensors" || fail "mlp --method dfa on 2 processes differs from one"
# a conv front (its kernels' buckets come after the dense layers'): one process's bytes on 2
CONV=(--conv 4 --layers 784,16,10 --data "$DATA" --limit 300 --test-limit 100 --epochs 1 --batch 50 --grad-blocks 2
      --angle-rows 0 --threads 1 --quiet)
"$CLI" train mlp "${CONV[@]}" --out "$T/cv1" >/dev/null 2>"$T/err" || fail "mlp --conv alone"
"${MPI[@]}" -np 2 "$CLI" train mlp "${CONV[@]}" --out "$T/cv2" >/dev/null 2>"$T/err" || fail "mlp --conv on 2"
cmp "$T/cv1/mlp.safetensors" "$T/cv2/mlp.safetensors" || fail "mlp --conv on 2 processes differs from one"
# ff and dtp draw their wrong labels / noise for the whole minibatch on every rank
for meth in ff dtp; do
  "$CLI" train mlp "${DFA[@]}" --method $meth --out "$T/${meth}1" >/dev/null 2>"$T/err" || fail "mlp --method $meth alone"
  "${MPI[@]}" -np 2 "$CLI" train mlp "${DFA[@]}" --method $meth --out "$T/${meth}2" >/dev/null 2>"$T/err" || fail "mlp --method $meth on 2"
  cmp "$T/${meth}1/mlp.safetensors" "$T/${meth}2/mlp.safetensors" || fail "mlp --method $meth on 2 processes differs from one"
done
"${MPI[@]}" -np 2 "$CLI" train mlp "${DFA[@]}" --method am --out "$T/am" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] && grep -q "am cannot run data-parallel (its codes" "$T/err" || fail "mlp --method am on 2 processes: exit $rc, want 2 and a message"

# more OpenMP threads than cores (2 ranks x every core's thread): the ranks run with
# OMP_WAIT_POLICY=passive (the program re-executes itself, cli/dist.c), not with
# ND_OMP_NO_REEXEC=1; the environment of the running rank 0 tells
policy_of_rank0() { # extra env assignments...; prints the rank's OMP_WAIT_POLICY line (or nothing)
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" "${MPI[@]}" -x ND_OMP_NO_REEXEC -np 2 "$CLI" train krotov --data "$DATA" \
    --hidden 40 --p 3 --k 3 --batch 20 --limit 6000 --epochs 20 --png-every 0 --quiet --out "$T/pol" >/dev/null 2>&1 &
  local job=$! p="" seen=""
  for _ in $(seq 100); do
    p=$(rank_pid $job 0)
    if [ -n "$p" ]; then # past the start (the re-execution is the first thing main does)
      sleep 0.5
      seen=$(tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep '^OMP_WAIT_POLICY=')
      break
    fi
    kill -0 $job 2>/dev/null || break
    sleep 0.1
  done
  kill $job 2>/dev/null; wait $job 2>/dev/null; rm -rf "$T/pol"
  echo "$seen"
}
[ "$(policy_of_rank0 ND_OMP_NO_REEXEC=0)" = OMP_WAIT_POLICY=passive ] || fail "2 ranks x all cores: OMP_WAIT_POLICY=passive not set"
[ -z "$(policy_of_rank0 ND_OMP_NO_REEXEC=1)" ] || fail "ND_OMP_NO_REEXEC=1: the wait policy was changed"

# a trainer that cannot share minibatches says so (exit 2), writing nothing
"${MPI[@]}" -np 2 "$CLI" train krotov --rule ode --data "$DATA" --limit 100 --hidden 8 --epochs 1 --quiet \
  --out "$T/ode" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "--rule ode on 2 processes exited $rc, want 2"
grep -q "cannot run data-parallel" "$T/err" || fail "--rule ode on 2 processes: no clear message"
[ -e "$T/ode/config.json" ] && fail "--rule ode on 2 processes wrote config.json"
# ... also one that does not go through the run driver (its N copies would write one --out)
"${MPI[@]}" -np 2 "$CLI" train esn --out "$T/esn" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] && grep -q "train esn cannot run data-parallel" "$T/err" || fail "train esn on 2 processes: exit $rc, want 2 and a message"
[ "$(grep -c "cannot run data-parallel" "$T/err")" = 1 ] || fail "train esn on 2 processes: the message should come once (rank 0)"
[ -e "$T/esn" ] && fail "train esn on 2 processes wrote its --out"
grep -q "ridge-regression solve" "$T/err" || fail "train esn on 2 processes: the message should give the reason"
for tr in grid3d somp; do # each refused trainer names its reason (cli/dist.c)
  "${MPI[@]}" -np 2 "$CLI" train $tr --out "$T/$tr" >/dev/null 2>"$T/err"
  rc=$?
  [ $rc = 2 ] && grep -q "train $tr cannot run data-parallel (started as 2 processes: .*); run it" "$T/err" ||
    fail "train $tr on 2 processes: exit $rc, want 2 and a message with the reason"
done
echo "ok"
