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

/* A collective in flight: storage for the implementation's handle (an
 * MPI_Request, ...), owned by the caller, so that starting one allocates
 * nothing. */
typedef struct nd_comm_request {
  int state; /* kept by nd_comm_iallgather / nd_comm_wait: 0 idle, 1 in flight */
  union {
    unsigned char bytes[56];
    int64_t align_i;
    void *align_p;
  } opaque;
} nd_comm_request;

/* Optional non-blocking allgather: starts the allgather of allgather_fn's
 * contract and returns at once; send and recv must stay untouched until
 * wait_fn has reported it done.  Every rank starts its non-blocking
 * collectives in the same order.  wait_fn(req, block, &done, user): block:
 * until done; else only test (and make progress).  A failure must end the
 * job as for allgather_fn. */
typedef nd_status (*nd_iallgather_fn)(const void *send, void *recv, int64_t bytes, nd_comm_request *req, void *user);
typedef nd_status (*nd_comm_wait_fn)(nd_comm_request *req, bool block, bool *done, void *user);

typedef struct nd_comm {
  int rank;                  /* this process, 0 .. size-1 */
  int size;                  /* processes (1: alone) */
  nd_allgather_fn allgather; /* may be NULL when size == 1 */
  void *user;
  nd_iallgather_fn iallgather; /* optional (with wait): NULL runs every collective blocking */
  nd_comm_wait_fn wait;
  /* kept by nd_comm_allgather, nd_comm_iallgather and nd_comm_wait */
  double seconds;            /* wall time spent in collectives (for a non-blocking one: inside its start and waits) */
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

/* c->iallgather (timed; c->calls and c->bytes count it at its start), or,
 * without one, c NULL or size 1, the blocking nd_comm_allgather, done on
 * return.  nd_comm_wait: block until req is done (test: only look, *done
 * says); a request that is not in flight is done.  Both time themselves
 * into c->seconds. */
ND_API nd_status nd_comm_iallgather(nd_comm *c, const void *send, void *recv, int64_t bytes, nd_comm_request *req);
ND_API nd_status nd_comm_wait(nd_comm *c, nd_comm_request *req);
ND_API nd_status nd_comm_test(nd_comm *c, nd_comm_request *req, bool *done);

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
/* Bucketed and overlapped (as PyTorch DDP's gradient buckets; Li et al.,
 * "PyTorch Distributed", VLDB 2020, Sec. 3.2.3): the gradient is `buckets`
 * consecutive pieces of numel[q] floats (grad = bucket 0, bucket 1, ...),
 * each its own allgather.  Once the caller has written bucket q of all its
 * blocks it calls nd_grad_sum_ready(g, q); buckets start in index order
 * (bucket q only after 0 .. q-1, so every rank starts the same collectives
 * in the same order), with the comm's non-blocking allgather where it has
 * one, while the caller computes the next buckets' gradients.  The last
 * bucket carries the blocks' losses and is started by nd_grad_sum_reduce.
 * The sum is the one of nd_grad_sum_create, element by element, so the
 * result does not depend on the bucketing or the process count. */
ND_API nd_status nd_grad_sum_create_buckets(nd_comm *c, int64_t blocks, int buckets, const int64_t *numel,
                                            nd_grad_sum **out);
ND_API int nd_grad_sum_buckets(const nd_grad_sum *g);
/* Block b's part of bucket q (numel[q] floats), b one of this rank's blocks
 * (NULL otherwise); *loss: where block b's loss goes (may be NULL). */
ND_API float *nd_grad_sum_bucket(nd_grad_sum *g, int64_t b, int q, double **loss);
/* Bucket q of every one of this rank's blocks is written: start it (and any
 * later bucket already ready), except the last bucket.  Also makes progress
 * on the collectives in flight. */
ND_API nd_status nd_grad_sum_ready(nd_grad_sum *g, int q);
ND_API void nd_grad_sum_free(nd_grad_sum *g);
ND_API int64_t nd_grad_sum_blocks(const nd_grad_sum *g);
/* This rank's blocks [*first, *last). */
ND_API void nd_grad_sum_mine(const nd_grad_sum *g, int64_t *first, int64_t *last);
/* Where block b's gradient (numel floats) and its loss go; b one of this
 * rank's blocks (NULL otherwise).  One bucket only (nd_grad_sum_create). */
ND_API float *nd_grad_sum_slot(nd_grad_sum *g, int64_t b, double **loss);
/* The collective: starts the buckets not yet started, waits for all;
 * afterwards grad (numel, or the numel[q] summed) = sum of every block's
 * gradient in block order and *loss (may be NULL) the sum of their
 * losses. */
ND_API nd_status nd_grad_sum_reduce(nd_grad_sum *g, float *grad, double *loss);

/* One minibatch of `rows` rows, data-parallel, for a model whose loss is a
 * batch mean: for each of this rank's blocks b, rows [r0, r1) of the batch
 * (nd_comm_shard_of(b, blocks, rows)) and weight w = (r1 - r0) / rows,
 * fn(user, b, r0, r1, w, &mean) writes w times the gradient of the block's
 * mean loss into the block's buckets (zeros for an empty block, r0 == r1)
 * and sets mean to the block's mean loss; then every bucket is started and
 * summed (nd_grad_sum_reduce): grad = the batch's gradient, *loss (may be
 * NULL) = sum over blocks of w * mean, the batch's mean loss.  The same
 * arithmetic for 1 .. blocks processes (docs/distributed.md). */
typedef nd_status (*nd_grad_block_fn)(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean);
ND_API nd_status nd_grad_sum_batch(nd_grad_sum *g, int64_t rows, nd_grad_block_fn fn, void *user, float *grad,
                                   double *loss);
/* One bucket: block b's slot = w * src (numel floats), zeros when w == 0. */
ND_API nd_status nd_grad_sum_put(nd_grad_sum *g, int64_t b, double w, const float *src);

/* The same block-order sum for a model that keeps its gradient in float64
 * (train rnn), one blocking allgather, buffers the caller's: mine holds
 * this rank's blocks [first, last) = nd_comm_shard_of(rank, size, blocks),
 * block b's numel doubles at mine + (b - first) * numel (room for
 * nd_grad_sum_f64_per(c, blocks) blocks); recv has size times that room;
 * out [numel] = every block's values summed in block order (float64, block
 * 0 first), on every rank, whatever the number of processes. */
ND_API int64_t nd_grad_sum_f64_per(const nd_comm *c, int64_t blocks);
ND_API nd_status nd_grad_sum_f64(nd_comm *c, int64_t blocks, int64_t numel, const double *mine, double *recv, double *out);

#ifdef __cplusplus
}
#endif
#endif
