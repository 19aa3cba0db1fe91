/* The fast rule's data-parallel exchange (private to the family).
 *
 * Each rank computes the currents I = V Wp^T and the ranking (top-1, k-th)
 * of its own contiguous rows [lo, hi) of the minibatch only (the GEMM is
 * nearly all of a minibatch's work); the ranks then allgather, per sample,
 * (top, kth, I_top, I_kth): 32 bytes a sample, whatever hidden and visible
 * are.  That is all the rest of Eq. 10 needs: with it every rank forms the
 * same sparse g, xx = sum_b g o I and ds = g^T V - xx o W from the whole
 * minibatch (every rank holds V) in sample order, exactly as one process,
 * and applies the same normalised update. */
#ifndef NEURODYN_KROTOV_SHARD_H
#define NEURODYN_KROTOV_SHARD_H

#include "neurodyn/distributed.h"

typedef struct kr_exchange {
  nd_comm *comm;  /* NULL: one process */
  void *send;     /* [per] records, per = ceil(batch / size) */
  void *recv;     /* [size * per] records */
  int64_t per;    /* records per rank the buffers hold */
} kr_exchange;

/* Sizes the buffers for minibatches of up to `batch` samples on c (NULL:
 * none); frees the old ones.  ND_ERR_INVALID_ARG for a bad comm. */
nd_status nd__krotov_exchange_set(kr_exchange *x, nd_comm *c, int64_t batch);
void nd__krotov_exchange_free(kr_exchange *x);

/* On entry rows [lo, hi) of top, kth, itop, ikth (n rows) hold this rank's
 * results; on return every row holds its owner's.  ND_ERR_FORMAT if a rank
 * sent a unit outside 0..hidden-1. */
nd_status nd__krotov_exchange(kr_exchange *x, int64_t n, int64_t hidden, int64_t *top, int64_t *kth, double *itop,
                              double *ikth);

#endif
