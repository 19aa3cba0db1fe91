/* Data-parallel training without a dependency on MPI: a model that can
 * share a minibatch across processes is given an nd_comm, a table of the
 * collective its epoch needs, filled by the program (the neurodyn CLI fills
 * it with MPI_Allgather, cli/dist.c; a test fills it with threads).  The
 * library itself never includes mpi.h.
 *
 * The contract (docs/distributed.md):
 *   - every rank holds the whole data set and the same model (same seed);
 *   - the shuffle is drawn from the seed's stream, identical on every rank,
 *     so a minibatch is the same set of global sample indices whatever the
 *     number of processes; rank r works on the contiguous part
 *     nd_comm_shard(c, n) of it;
 *   - ranks exchange per-sample results with allgather (rank order), and
 *     every rank then forms the update from the whole minibatch in sample
 *     order, exactly as one process does.  The result does not depend on
 *     the number of processes (bit for bit where the per-sample arithmetic
 *     does not depend on the shard: tests/test_distributed.c).
 *
 * The model does not own the comm; it must outlive the model's use of it. */
#ifndef NEURODYN_DISTRIBUTED_H
#define NEURODYN_DISTRIBUTED_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every rank passes `bytes` bytes in send; afterwards recv (size * bytes)
 * holds rank r's block at offset r * bytes, on every rank.  A collective:
 * every rank calls it the same number of times with the same bytes.  A
 * failure (a rank gone) must not return on some ranks only; the CLI's MPI
 * implementation aborts the job. */
typedef nd_status (*nd_allgather_fn)(const void *send, void *recv, int64_t bytes, void *user);

typedef struct nd_comm {
  int rank;                  /* this process, 0 .. size-1 */
  int size;                  /* processes (1: alone) */
  nd_allgather_fn allgather; /* may be NULL when size == 1 */
  void *user;
  /* kept by nd_comm_allgather */
  double seconds;            /* wall time spent in collectives */
  int64_t calls, bytes;      /* collectives, bytes sent by this rank */
} nd_comm;

/* rank's part [*lo, *hi) of n items: items n*r/size .. n*(r+1)/size - 1
 * (contiguous, sizes differ by at most one, rank order = item order).
 * c NULL: the whole [0, n). */
ND_API void nd_comm_shard(const nd_comm *c, int64_t n, int64_t *lo, int64_t *hi);
ND_API void nd_comm_shard_of(int rank, int size, int64_t n, int64_t *lo, int64_t *hi);

/* c->allgather, timed into c->seconds (c NULL or size 1: a copy of send).
 * ND_ERR_INVALID_ARG for NULL buffers, bytes < 0, or size > 1 without an
 * allgather function. */
ND_API nd_status nd_comm_allgather(nd_comm *c, const void *send, void *recv, int64_t bytes);

/* The largest of every rank's value (an allgather of one int). */
ND_API nd_status nd_comm_max_int(nd_comm *c, int value, int *out);

#ifdef __cplusplus
}
#endif
#endif
