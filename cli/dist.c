/* MPI behind the library's nd_comm (dist.h).  The only file that includes
 * mpi.h; without ND_HAVE_MPI it only refuses to run as several processes. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "options.h"

#ifdef ND_HAVE_MPI
#include <mpi.h>
#endif

static bool g_active = false;   /* MPI_Init done */
static bool g_has_agreed = false;
static int g_agreed = 0;
static nd_comm g_comm;

/* The process count the launcher announces (1 if none). */
static long launched_size(void) {
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strtol(v, NULL, 10);
  }
  return getenv("PMIX_RANK") ? 2 : 1; /* PMIx launch (srun --mpi=pmix) without a size variable */
}

void nd_cli_dist_agreed(int rc) {
  g_has_agreed = true;
  g_agreed = rc;
}

#ifdef ND_HAVE_MPI

static double g_timeout = 600; /* seconds a collective may wait */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nd_status mpi_fail(int err, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(err, msg, &len);
  return nd_set_error(ND_ERR_IO, "MPI %s failed on rank %d: %.*s", what, g_comm.rank, len, msg);
}

/* MPI_Iallgather, polled: spinning for the first millisecond (a collective
 * of a few kilobytes takes microseconds), then sleeping 100 us between
 * tests, giving up after g_timeout seconds. */
static nd_status mpi_allgather(const void *send, void *recv, int64_t bytes, void *user) {
  (void)user;
  if (bytes > INT_MAX) return nd_set_error(ND_ERR_INVALID_ARG, "allgather of %lld bytes: more than MPI's int count", (long long)bytes);
  MPI_Request req;
  int err = MPI_Iallgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &req);
  if (err != MPI_SUCCESS) return mpi_fail(err, "allgather");
  double t0 = now();
  for (long spins = 0;; spins++) {
    int done = 0;
    err = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (err != MPI_SUCCESS) return mpi_fail(err, "allgather");
    if (done) return ND_OK;
    double waited = now() - t0;
    if (waited > g_timeout) {
      fprintf(stderr, "neurodyn: rank %d of %d: no answer from the other ranks for %.0f s (ND_MPI_TIMEOUT): a rank "
                      "died or hangs; stopping the job\n", g_comm.rank, g_comm.size, waited);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (waited > 1e-3) nanosleep(&(struct timespec){0, 100000}, NULL);
  }
}

int nd_cli_dist_start(const char *cmd, nd_comm **comm) {
  *comm = NULL;
  if (g_active) {
    *comm = &g_comm;
    return 0;
  }
  if (launched_size() <= 1 && !getenv("OMPI_COMM_WORLD_SIZE")) return 0;
  const char *t = getenv("ND_MPI_TIMEOUT");
  if (t && *t) {
    char *end = NULL;
    double v = strtod(t, &end);
    if (*end || !(v > 0)) return nd_cli_cmd_fail(cmd, 2, "ND_MPI_TIMEOUT=%s: need a number of seconds > 0", t);
    g_timeout = v;
  }
  /* The BLIS expert GEMM path computes each row of a product the same way
   * whatever the number of rows; OpenBLAS's small-matrix kernels do not, and
   * a shard's currents would round differently from the whole minibatch's
   * (docs/distributed.md).  Chosen before the first GEMM; an explicit
   * ND_BLAS_GEMM is kept. */
  setenv("ND_BLAS_GEMM", "blis", 0);
  int provided = 0;
  if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return nd_cli_cmd_fail(cmd, 1, "MPI_Init failed");
  g_active = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* failures come back as codes, reported, then MPI_Abort */
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  g_comm = (nd_comm){.rank = rank, .size = size, .allgather = mpi_allgather};
  *comm = &g_comm;
  return 0;
}

int nd_cli_dist_agree(int rc) {
  if (!g_active || g_comm.size <= 1) return rc;
  int all = rc;
  if (nd_comm_max_int(&g_comm, rc, &all) != ND_OK) {
    fprintf(stderr, "neurodyn: %s\n", nd_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  nd_cli_dist_agreed(all);
  return all;
}

int nd_cli_dist_finish(int rc) {
  if (!g_active) return rc;
  g_active = false;
  if (rc == 0 || (g_has_agreed && rc == g_agreed)) {
    /* An end every rank agreed on: rank 0 carries the code.  The others exit
     * 0 and ignore the SIGTERM that mpirun sends once rank 0 has exited
     * non-zero, so that the job's status is rank 0's (130, 2), not a signal. */
    if (rc != 0 && g_comm.rank != 0) {
      signal(SIGTERM, SIG_IGN);
      signal(SIGINT, SIG_IGN);
      rc = 0;
    }
    MPI_Finalize();
    return rc;
  }
  fprintf(stderr, "neurodyn: rank %d of %d failed (exit %d); stopping the other ranks\n", g_comm.rank, g_comm.size, rc);
  MPI_Abort(MPI_COMM_WORLD, rc);
  return rc;
}

const char *nd_cli_dist_library(void) {
  static char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  v[strcspn(v, ",\n")] = 0; /* "Open MPI v4.1.4" */
  return v;
}

#else /* no MPI in this build */

int nd_cli_dist_start(const char *cmd, nd_comm **comm) {
  *comm = NULL;
  long n = launched_size();
  if (n > 1)
    return nd_cli_cmd_fail(cmd, 2, "started as one of %ld processes (mpirun/srun), but this neurodyn was built without "
                                   "MPI: rebuild with -DND_MPI=ON (docs/distributed.md)", n);
  return 0;
}

int nd_cli_dist_agree(int rc) { return rc; }
int nd_cli_dist_finish(int rc) { return rc; }
const char *nd_cli_dist_library(void) { return "none"; }

#endif
