# Sourced by tests/cli/test_mpi*.sh (bash test_mpi.sh path/to/neurodyn, $CLI
# set): the skips (77 without MPI, mpirun or MNIST), Open MPI as root, $MPI,
# $T, fail, rank_pid.
[ "${ND_HAVE_MPI:-0}" = 1 ] || { echo "SKIP: neurodyn built without MPI (-DND_MPI=OFF)"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun not installed (scripts/deps.sh)"; exit 77; }
DATA="${ND_DATA_DIR:-${ND_SOURCE_DIR:-.}/data}"
[ -d "$DATA/mnist" ] || { echo "SKIP: MNIST not present (make data)"; exit 77; }
# Open MPI refuses to start as root unless told to (CI containers run as root).
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export ND_BLAS_GEMM=blis # the GEMM path mpirun runs get (cli/dist.c), for the one-process references too
MPI=(mpirun --oversubscribe --bind-to none -x ND_BLAS_GEMM -x ND_MPI_TIMEOUT)
export ND_MPI_TIMEOUT=120
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Open MPI's session directory under this test's own folder: two tests that start mpirun at the
# same moment (ctest -j) otherwise race for the same /tmp/ompi.<host>.<uid> directory.
export TMPDIR="$T" OMPI_MCA_orte_tmpdir_base="$T"
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && cat "$T/err"; exit 1; }
rank_pid() { # the PID of rank $2 among the children of mpirun $1
  for p in $(ps -o pid= --ppid "$1"); do
    tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo $p; return; }
  done
}
