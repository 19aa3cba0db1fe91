/* The compute of one rank in a data-parallel Krotov minibatch (the measured
 * input of the scaling model in docs/distributed.md): the last rank of P
 * (the one with the largest share of the minibatch) runs nd_krotov_minibatch
 * with a stand-in comm whose allgather copies the rank's own block into
 * every rank's slot, so the time is the rank's GEMM and ranking on B/P rows
 * plus the part every rank repeats (ds of the touched rows, the update), and
 * no communication (that is modelled from bench/mpi_collectives.c).
 *
 *   build/release/bench_distributed --threads 1 --clock cpu [--reps 5]
 *
 * Batch 100 (the paper's) and 1000.  One JSON line per (batch, hidden, ranks): {"bench": "krotov_rank", "hidden": H,
 * "batch": B, "ranks": P, "rows": rows of this rank, "ms": min per minibatch}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

static nd_status copy_gather(const void *send, void *recv, int64_t bytes, void *user) {
  const nd_comm *c = user;
  for (int r = 0; r < c->size; r++) memcpy((char *)recv + (size_t)r * (size_t)bytes, send, (size_t)bytes);
  return ND_OK;
}

int main(int argc, char **argv) {
  setenv("ND_BLAS_GEMM", "blis", 0); /* the path data-parallel runs take (cli/dist.c) */
  int threads = atoi(bench_arg(argc, argv, "--threads", "1"));
  int reps = atoi(bench_arg(argc, argv, "--reps", "5"));
  const char *clock = bench_use_clock(bench_arg(argc, argv, "--clock", "wall"));
  nd_set_num_threads(threads);
  const int64_t D = 784, hiddens[] = {2000, 20000}, batches[] = {100, 1000};
  const int ranks[] = {1, 2, 8, 64, 512};
  float *v = bench_rand((size_t)(1000 * D), 3);
  for (int64_t i = 0; i < 1000 * D; i++) v[i] += 0.5f; /* pixels in [0, 1) */
  for (int bi = 0; bi < 2; bi++)
  for (int hi = 0; hi < 2; hi++)
    for (int ri = 0; ri < 5; ri++) {
      const int64_t B = batches[bi];
      nd_krotov_config c = nd_krotov_defaults();
      c.hidden = hiddens[hi], c.visible = D, c.batch = B, c.p = 3, c.k = 7; /* the paper's MNIST settings */
      nd_krotov *k = NULL;
      if (nd_krotov_create(&c, &k) != ND_OK) {
        fprintf(stderr, "%s\n", nd_last_error());
        return 1;
      }
      nd_comm comm = {.rank = ranks[ri] - 1, .size = ranks[ri], .allgather = copy_gather};
      comm.user = &comm;
      if (ranks[ri] > 1) nd_krotov_set_comm(k, &comm);
      int64_t lo, hi2;
      nd_comm_shard(&comm, B, &lo, &hi2);
      double t;
      nd_status s = ND_OK;
      BENCH_MIN_TIME(t, 1, reps, s = nd_krotov_minibatch(k, v, B, 1e-3));
      if (s != ND_OK) fprintf(stderr, "%s\n", nd_last_error());
      printf("{\"bench\": \"krotov_rank\", \"hidden\": %lld, \"batch\": %lld, \"ranks\": %d, \"rows\": %lld, "
             "\"ms\": %.4f, \"threads\": %d, \"clock\": \"%s\"}\n",
             (long long)c.hidden, (long long)B, ranks[ri], (long long)(hi2 - lo), 1e3 * t, threads, clock);
      fflush(stdout);
      nd_krotov_free(k);
    }
  free(v);
  return 0;
}
