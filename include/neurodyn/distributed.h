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

/* ------------------------------------------------------------ gradient sums
 * Data-parallel gradients with a result independent of the process count:
 * a minibatch is cut into `blocks` fixed contiguous blocks of its rows
 * (nd_comm_shard_of(b, blocks, rows)), whatever the number of ranks; rank r
 * computes the gradients of its blocks (nd_comm_shard_of(r, size, blocks)),
 * the blocks' gradients are allgathered, and every rank sums them in block
 * order (float32, block 0 first).  With the same `blocks`, 1 .. blocks
 * processes give the same bits; one block is the ordinary whole-batch
 * gradient.  The price: each rank receives every block's gradient (an
 * allgather, (blocks - 1) x numel floats) where an allreduce would move
 * about twice numel (docs/distributed.md, scaling). */
typedef struct nd_grad_sum nd_grad_sum;

/* c may be NULL (alone); blocks >= 1, numel >= 1 floats per gradient. */
ND_API nd_status nd_grad_sum_create(nd_comm *c, int64_t blocks, int64_t numel, nd_grad_sum **out);
ND_API void nd_grad_sum_free(nd_grad_sum *g);
ND_API int64_t nd_grad_sum_blocks(const nd_grad_sum *g);
/* This rank's blocks [*first, *last). */
ND_API void nd_grad_sum_mine(const nd_grad_sum *g, int64_t *first, int64_t *last);
/* Where block b's gradient (numel floats) and its loss go; b one of this
 * rank's blocks (NULL otherwise). */
ND_API float *nd_grad_sum_slot(nd_grad_sum *g, int64_t b, double **loss);
/* The collective: afterwards grad (numel) = sum of every block's gradient in
 * block order and *loss (may be NULL) the sum of their losses. */
ND_API nd_status nd_grad_sum_reduce(nd_grad_sum *g, float *grad, double *loss);

#ifdef __cplusplus
}
#endif
#endif
