#!/bin/bash
# Data-parallel training under Slurm (docs/distributed.md, "Slurm"): a
# private one-node cluster (munged, slurmctld and slurmd as root, on their
# own socket and ports, a slurm.conf written here, all stopped at the end):
#   - `srun --mpi=pmix -n 2 neurodyn train krotov` gives one process's bytes;
#   - the example job script's shape through sbatch (`srun --mpi=pmix` inside
#     an allocation of 2 tasks): mlp-baseline with --grad-blocks 2, one
#     process's bytes;
#   - `srun --mpi=none -n 2` (no MPI set up by the launcher) exits 2 saying
#     so, instead of two independent runs writing one --out.
# Skipped (77) without MPI, MNIST, the Slurm daemons (apt-get install slurmd
# slurmctld slurm-client munge; not in scripts/deps.sh), Slurm's PMIx plugin,
# or root, or inside a Slurm job.
set -u
CLI="$(realpath "$1")"
source "$(dirname "${BASH_SOURCE[0]}")/mpi_common.bash"
for p in munged slurmctld slurmd srun sbatch sinfo; do
  command -v $p >/dev/null 2>&1 || { echo "SKIP: $p not installed (apt-get install slurmd slurmctld slurm-client munge)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: the private Slurm cluster needs root"; exit 77; }
[ -z "${SLURM_JOB_ID:-}" ] || { echo "SKIP: already inside a Slurm job"; exit 77; }
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
export SLURM_CONF="$T/slurm/slurm.conf"
stop() {
  for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  for p in $(pgrep -x slurmstepd); do # steps of this cluster that outlive their job
    { tr '\0' '\n' </proc/$p/environ; } 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF" && PIDS+=("$p")
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap stop EXIT
mkdir -p "$T/slurm/state" "$T/slurm/spool" "$T/munge"
chmod 700 "$T/munge"
head -c 1024 /dev/urandom >"$T/munge/key" && chmod 600 "$T/munge/key"
munged --force --socket="$T/munge/sock" --key-file="$T/munge/key" --pid-file="$T/munge/pid" \
  --log-file="$T/munge/log" --seed-file="$T/munge/seed" || fail "munged did not start: $(cat "$T/munge/log" 2>/dev/null)"
for _ in $(seq 50); do [ -s "$T/munge/pid" ] && break; sleep 0.1; done
PIDS+=("$(cat "$T/munge/pid")")
HOST=$(hostname -s)
cat >"$SLURM_CONF" <<EOF
ClusterName=ndtest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/sock
StateSaveLocation=$T/slurm/state
SlurmdSpoolDir=$T/slurm/spool
SlurmctldPidFile=$T/slurm/ctld.pid
SlurmdPidFile=$T/slurm/slurmd.pid
SlurmctldLogFile=$T/slurm/ctld.log
SlurmdLogFile=$T/slurm/slurmd.log
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF
slurmctld -D -f "$SLURM_CONF" >"$T/slurm/ctld.out" 2>&1 &
PIDS+=($!); disown
slurmd -D -f "$SLURM_CONF" >"$T/slurm/slurmd.out" 2>&1 &
PIDS+=($!); disown
for _ in $(seq 100); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.3; done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || fail "the private Slurm node is not idle: $(sinfo 2>&1; tail -5 "$T/slurm/ctld.log" "$T/slurm/slurmd.log")"
srun --mpi=list 2>&1 | grep -qw pmix || { echo "SKIP: this Slurm has no PMIx plugin (srun --mpi=list)"; exit 77; }
SRUN=(timeout 300 srun --mpi=pmix --export=ALL)

COMMON=(--data "$DATA" --hidden 40 --p 3 --k 3 --epochs 2 --batch 20 --limit 400 --seed 7 --png-every 0 --threads 1 --quiet)
"$CLI" train krotov "${COMMON[@]}" --out "$T/one" >/dev/null 2>"$T/err" || fail "one-process run"
"${SRUN[@]}" -n 2 "$CLI" train krotov "${COMMON[@]}" --out "$T/srun2" >"$T/out" 2>"$T/err" || fail "srun -n 2 exited $?"
cmp "$T/one/W.safetensors" "$T/srun2/W.safetensors" || fail "srun -n 2: W differs from one process's"
grep -q '"ranks": 2' "$T/srun2/metrics.jsonl" || fail "srun -n 2: metrics.jsonl does not say 2 ranks"
[ -s "$T/out" ] && fail "srun -n 2, --quiet: something on stdout: $(cat "$T/out")"

# the job script of docs/distributed.md, scaled down, through sbatch
MLP=(--data "$DATA" --limit 400 --test-limit 100 --hidden 16 --epochs 2 --batch 50 --grad-blocks 2 --threads 1 --quiet)
"$CLI" train mlp-baseline "${MLP[@]}" --out "$T/mlp1" >/dev/null 2>"$T/err" || fail "mlp-baseline alone"
cat >"$T/job.sh" <<EOF
#!/bin/bash
#SBATCH --job-name=nd-test
#SBATCH --nodes=1
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
#SBATCH --time=00:05:00
#SBATCH --output=$T/job.log
export ND_MPI_TIMEOUT=120
srun --mpi=pmix "$CLI" train mlp-baseline ${MLP[*]} --out "$T/mlp2"
EOF
sbatch --wait "$T/job.sh" >/dev/null 2>"$T/err" || fail "sbatch --wait: the job failed: $(cat "$T/job.log" 2>/dev/null)"
cmp "$T/mlp1/mlp.safetensors" "$T/mlp2/mlp.safetensors" || fail "sbatch + srun on 2 tasks: mlp differs from one process's"

# no MPI from the launcher: refused, nothing written
timeout 120 srun --mpi=none --export=ALL -n 2 "$CLI" train krotov "${COMMON[@]}" --out "$T/none" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "srun --mpi=none -n 2 exited $rc, want 2"
grep -q "srun --mpi=pmix" "$T/err" || fail "srun --mpi=none: no message naming srun --mpi=pmix"
[ -e "$T/none/config.json" ] && fail "srun --mpi=none wrote config.json"
echo "ok"
