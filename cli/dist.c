/* MPI behind the library's nd_comm (dist.h).  The only file that includes
 * mpi.h; without ND_HAVE_MPI it only refuses to run as several processes. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
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
  /* SLURM_STEP_NUM_TASKS: srun's task count (set in job steps only, not in
   * the batch script), also without an MPI plugin (srun --mpi=none) */
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS", NULL};
  for (int i = 0; vars[i]; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return strtol(v, NULL, 10);
  }
  return getenv("PMIX_RANK") ? 2 : 1; /* PMIx launch (srun --mpi=pmix) without a size variable */
}

/* Why a trainer runs in one process (docs/distributed.md's table). */
static const char *const serial_why[][2] = {
    {"grid3d", "its nodes are computed, trained (lazy per-node Adam) and grown from each minibatch's own activity, so "
               "the ranks' updates would differ in shape"},
    {"somp", "its stateful rules (covariance decay's running means, structural growth, VIC, immediate mode) update "
             "inside the forward pass of the whole minibatch"},
    {"esn", "its readout is one ridge-regression solve on a single time series, not minibatches"},
    {"ngrc", "its readout is one ridge-regression solve on a single trajectory, not minibatches"},
    {"lca", "not connected to the comm yet: the dictionary step after each minibatch's LCA inference"},
    {"hlca", "not connected to the comm yet: layer-by-layer LCA dictionary learning (as train lca)"},
};

int nd_cli_dist_guard(const char *verb, const char *name) {
  static const char *const parallel[] = {"krotov", "krotov-top", "mlp", "mlp-baseline", "cordsnet", "deq", "ode", "revnet", "rnn", "snn", NULL};
  long n = launched_size();
  if (n <= 1) return 0;
  const char *why = NULL;
  if (!strcmp(verb, "train")) {
    for (int i = 0; parallel[i]; i++)
      if (!strcmp(name, parallel[i])) return 0;
    for (size_t i = 0; i < sizeof serial_why / sizeof serial_why[0]; i++)
      if (!strcmp(name, serial_why[i][0])) why = serial_why[i][1];
  }
  const char *rank_vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
  long rank = 0;
  for (int i = 0; rank_vars[i]; i++)
    if (getenv(rank_vars[i]) && *getenv(rank_vars[i])) {
      rank = strtol(getenv(rank_vars[i]), NULL, 10);
      break;
    }
  if (rank != 0) return 2;
  char cmd[96];
  snprintf(cmd, sizeof cmd, "%s %s", verb, name);
  return nd_cli_cmd_fail(cmd, 2, "%s cannot run data-parallel (started as %ld processes%s%s); run it as one process "
                                 "(docs/distributed.md)", cmd, n, why ? ": " : "", why ? why : "");
}

/* Threads a rank will run: the last --threads N (N > 0), else
 * $ND_NUM_THREADS, else every online core (the library's default,
 * src/core/threads.c). */
static long rank_threads(char **argv, long cores) {
  long n = -1;
  for (int i = 1; argv[i]; i++) {
    const char *v = !strcmp(argv[i], "--threads") ? argv[i + 1] : !strncmp(argv[i], "--threads=", 10) ? argv[i] + 10 : NULL;
    if (v) n = strtol(v, NULL, 10);
  }
  if (n > 0) return n;
  const char *e = getenv("ND_NUM_THREADS");
  n = e ? strtol(e, NULL, 10) : 0;
  return n > 0 ? n : cores;
}

void nd_cli_dist_omp_policy(char **argv) {
  long ranks = launched_size();
  const char *no = getenv("ND_OMP_NO_REEXEC");
  if (ranks <= 1 || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || (no && *no && strcmp(no, "0"))) return;
  const char *local_vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_TASKS_PER_NODE", NULL};
  long local = ranks;
  for (int i = 0; local_vars[i]; i++) {
    const char *v = getenv(local_vars[i]);
    if (v && *v && strtol(v, NULL, 10) > 0) {
      local = strtol(v, NULL, 10);
      break;
    }
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN), threads = rank_threads(argv, cores > 0 ? cores : 1);
  cpu_set_t set;
  long bound = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  if (cores < 1 || (local * threads <= cores && threads <= bound)) return; /* a core per thread: spinning costs nothing */
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv); /* libgomp read its settings when it was loaded: start again with the new one */
  unsetenv("OMP_WAIT_POLICY"); /* no re-exec (no /proc): go on as started */
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

/* ---------------------------------------------------------- overlap
 * Non-blocking allgathers for the gradient buckets (nd_grad_sum): Open MPI
 * moves a non-blocking collective only inside MPI calls ("OMPI progress:
 * no" in ompi_info), and the backward pass between two buckets is one long
 * GEMM, so a progress thread owns them: it starts each queued
 * MPI_Iallgather in queue order (the order the ranks agree on) and tests the
 * ones in flight every ~50 us until they are done, sleeping otherwise.  The
 * main thread only queues and waits (condition variable).  Needs
 * MPI_THREAD_MULTIPLE (the main thread's own blocking collectives may run
 * while the thread tests); without it, or with ND_MPI_OVERLAP=0, the comm
 * has no iallgather and every bucket is exchanged, blocking, at the end of
 * the backward pass (docs/distributed.md). */
#define OV_SLOTS 64

typedef struct ov_op {
  const void *send;
  void *recv;
  int bytes;
  int state; /* 0 free, 1 queued, 2 in flight, 3 done, 4 failed */
  int err;
  MPI_Request req;
} ov_op;

static struct {
  pthread_t th;
  bool running, stop;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  ov_op op[OV_SLOTS];
  int head, tail; /* queue of slots in start order: op[head % N] .. op[(tail-1) % N] */
} g_ov = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void *ov_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_ov.mu);
  while (!g_ov.stop) {
    bool pending = false;
    for (int k = g_ov.head; k < g_ov.tail; k++) {
      ov_op *o = &g_ov.op[k % OV_SLOTS];
      if (o->state == 1) {
        o->err = MPI_Iallgather(o->send, o->bytes, MPI_BYTE, o->recv, o->bytes, MPI_BYTE, MPI_COMM_WORLD, &o->req);
        o->state = o->err == MPI_SUCCESS ? 2 : 4;
      }
      if (o->state == 2) {
        int flag = 0;
        o->err = MPI_Test(&o->req, &flag, MPI_STATUS_IGNORE);
        if (o->err != MPI_SUCCESS) o->state = 4;
        else if (flag) o->state = 3;
        else pending = true;
      }
    }
    while (g_ov.head < g_ov.tail && g_ov.op[g_ov.head % OV_SLOTS].state == 0) g_ov.head++;
    pthread_cond_broadcast(&g_ov.done);
    if (pending) {
      pthread_mutex_unlock(&g_ov.mu);
      nanosleep(&(struct timespec){0, 50000}, NULL);
      pthread_mutex_lock(&g_ov.mu);
    } else if (!g_ov.stop) {
      bool queued = false;
      for (int k = g_ov.head; k < g_ov.tail; k++) queued = queued || g_ov.op[k % OV_SLOTS].state == 1;
      if (!queued) pthread_cond_wait(&g_ov.work, &g_ov.mu);
    }
  }
  pthread_mutex_unlock(&g_ov.mu);
  return NULL;
}

static nd_status mpi_iallgather(const void *send, void *recv, int64_t bytes, nd_comm_request *r, void *user) {
  (void)user;
  if (bytes > INT_MAX) return nd_set_error(ND_ERR_INVALID_ARG, "allgather of %lld bytes: more than MPI's int count", (long long)bytes);
  pthread_mutex_lock(&g_ov.mu);
  if (g_ov.tail - g_ov.head >= OV_SLOTS || g_ov.op[g_ov.tail % OV_SLOTS].state != 0) {
    pthread_mutex_unlock(&g_ov.mu);
    return nd_set_error(ND_ERR_INVALID_ARG, "more than %d non-blocking allgathers in flight", OV_SLOTS);
  }
  int slot = g_ov.tail % OV_SLOTS;
  g_ov.op[slot] = (ov_op){.send = send, .recv = recv, .bytes = (int)bytes, .state = 1};
  g_ov.tail++;
  memcpy(r->opaque.bytes, &slot, sizeof slot);
  pthread_cond_signal(&g_ov.work);
  pthread_mutex_unlock(&g_ov.mu);
  return ND_OK;
}

static nd_status mpi_wait(nd_comm_request *r, bool block, bool *done, void *user) {
  (void)user;
  int slot;
  memcpy(&slot, r->opaque.bytes, sizeof slot);
  ov_op *o = &g_ov.op[slot];
  double t0 = now();
  pthread_mutex_lock(&g_ov.mu);
  while (block && o->state != 3 && o->state != 4) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&g_ov.done, &g_ov.mu, &until);
    double waited = now() - t0;
    if (waited > g_timeout && o->state != 3 && o->state != 4) {
      pthread_mutex_unlock(&g_ov.mu);
      fprintf(stderr, "neurodyn: rank %d of %d: no answer from the other ranks for %.0f s (ND_MPI_TIMEOUT): a rank "
                      "died or hangs; stopping the job\n", g_comm.rank, g_comm.size, waited);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  *done = o->state == 3 || o->state == 4;
  int state = o->state, err = o->err;
  if (*done) o->state = 0; /* the slot is free again */
  pthread_mutex_unlock(&g_ov.mu);
  if (state == 4) return mpi_fail(err, "iallgather");
  return ND_OK;
}

static void ov_stop(void) {
  if (!g_ov.running) return;
  pthread_mutex_lock(&g_ov.mu);
  g_ov.stop = true;
  pthread_cond_signal(&g_ov.work);
  pthread_mutex_unlock(&g_ov.mu);
  pthread_join(g_ov.th, NULL);
  g_ov.running = false;
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
  const char *st = getenv("SLURM_STEP_NUM_TASKS");
  if (st && strtol(st, NULL, 10) > 1 && !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK") &&
      !getenv("PMI_SIZE"))
    return nd_cli_cmd_fail(cmd, 2, "started by srun as one of %s tasks, but the launcher set up no MPI (no PMIx or PMI "
                                   "in the environment): use srun --mpi=pmix (srun --mpi=list shows the site's "
                                   "plugins) or mpirun (docs/distributed.md)", st);
  const char *ov = getenv("ND_MPI_OVERLAP");
  if (ov && *ov && strcmp(ov, "0") && strcmp(ov, "1"))
    return nd_cli_cmd_fail(cmd, 2, "ND_MPI_OVERLAP=%s: need 0 (exchange gradients after the backward pass) or 1", ov);
  bool overlap = !(ov && !strcmp(ov, "0"));
  int provided = 0;
  if (MPI_Init_thread(NULL, NULL, overlap ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    return nd_cli_cmd_fail(cmd, 1, "MPI_Init failed");
  g_active = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* failures come back as codes, reported, then MPI_Abort */
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long launched = launched_size();
  if (size == 1 && launched > 1) { /* every task alone: N independent runs into one --out */
    g_active = false;
    MPI_Finalize();
    return nd_cli_cmd_fail(cmd, 2, "started as one of %ld tasks (srun), but MPI sees a single process: the launcher set "
                                   "up no MPI; use srun --mpi=pmix (srun --mpi=list shows the site's plugins) or mpirun "
                                   "(docs/distributed.md)", launched);
  }
  g_comm = (nd_comm){.rank = rank, .size = size, .allgather = mpi_allgather};
  _Static_assert(sizeof(int) <= sizeof(((nd_comm_request *)0)->opaque), "request slot");
  if (overlap && provided >= MPI_THREAD_MULTIPLE && size > 1 && pthread_create(&g_ov.th, NULL, ov_main, NULL) == 0) {
    g_ov.running = true;
    g_comm.iallgather = mpi_iallgather, g_comm.wait = mpi_wait;
  }
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
  ov_stop();
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
