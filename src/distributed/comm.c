/* The collective hooks of data-parallel training (include/neurodyn/distributed.h).
 * This file only times and checks: the collective itself is the caller's
 * (MPI in cli/dist.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "neurodyn/distributed.h"

void nd_comm_shard_of(int rank, int size, int64_t n, int64_t *lo, int64_t *hi) {
  if (size < 1 || rank < 0 || rank >= size || n < 0) {
    if (lo) *lo = 0;
    if (hi) *hi = 0;
    return;
  }
  /* n * r / size without overflow for any n < 2^62 and size < 2^31 */
  int64_t q = n / size, r = n % size;
  if (lo) *lo = q * rank + (r * rank) / size;
  if (hi) *hi = q * (rank + 1) + (r * (rank + 1)) / size;
}

void nd_comm_shard(const nd_comm *c, int64_t n, int64_t *lo, int64_t *hi) {
  if (!c) {
    if (lo) *lo = 0;
    if (hi) *hi = n > 0 ? n : 0;
    return;
  }
  nd_comm_shard_of(c->rank, c->size, n, lo, hi);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

nd_status nd_comm_allgather(nd_comm *c, const void *send, void *recv, int64_t bytes) {
  if (!send || !recv || bytes < 0)
    return nd__error(ND_ERR_INVALID_ARG, "nd_comm_allgather: send %p, recv %p, bytes %lld", send, recv, (long long)bytes);
  if (!c || c->size <= 1) {
    memmove(recv, send, (size_t)bytes);
    return ND_OK;
  }
  if (!c->allgather || c->rank < 0 || c->rank >= c->size)
    return nd__error(ND_ERR_INVALID_ARG, "nd_comm_allgather: comm of size %d has rank %d and %s allgather", c->size,
                     c->rank, c->allgather ? "an" : "no");
  double t0 = now();
  nd_status s = c->allgather(send, recv, bytes, c->user);
  c->seconds += now() - t0;
  c->calls++;
  c->bytes += bytes;
  if (s != ND_OK) return nd__error(s, "allgather of %lld bytes on rank %d of %d: %s", (long long)bytes, c->rank, c->size, nd_last_error());
  return ND_OK;
}

nd_status nd_comm_max_int(nd_comm *c, int value, int *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_comm_max_int: out is NULL");
  *out = value;
  if (!c || c->size <= 1) return ND_OK;
  int *all = malloc(sizeof(int) * (size_t)c->size);
  if (!all) return nd__error(ND_ERR_NOMEM, "nd_comm_max_int: no memory for %d ranks", c->size);
  nd_status s = nd_comm_allgather(c, &value, all, sizeof(int));
  for (int r = 0; s == ND_OK && r < c->size; r++)
    if (all[r] > *out) *out = all[r];
  free(all);
  return s;
}

nd_status nd_comm_iallgather(nd_comm *c, const void *send, void *recv, int64_t bytes, nd_comm_request *req) {
  if (!req) return nd__error(ND_ERR_INVALID_ARG, "nd_comm_iallgather: req is NULL");
  if (req->state != 0) return nd__error(ND_ERR_INVALID_ARG, "nd_comm_iallgather: req is still in flight");
  if (!c || c->size <= 1 || !c->iallgather || !c->wait) return nd_comm_allgather(c, send, recv, bytes);
  if (!send || !recv || bytes < 0 || c->rank < 0 || c->rank >= c->size)
    return nd__error(ND_ERR_INVALID_ARG, "nd_comm_iallgather: send %p, recv %p, bytes %lld, rank %d of %d", send, recv,
                     (long long)bytes, c->rank, c->size);
  double t0 = now();
  nd_status s = c->iallgather(send, recv, bytes, req, c->user);
  c->seconds += now() - t0;
  c->calls++;
  c->bytes += bytes;
  if (s != ND_OK)
    return nd__error(s, "iallgather of %lld bytes on rank %d of %d: %s", (long long)bytes, c->rank, c->size, nd_last_error());
  req->state = 1;
  return ND_OK;
}

static nd_status comm_wait(nd_comm *c, nd_comm_request *req, bool block, bool *done) {
  if (!req) return nd__error(ND_ERR_INVALID_ARG, "nd_comm_wait: req is NULL");
  *done = true;
  if (req->state == 0) return ND_OK;
  double t0 = now();
  nd_status s = c->wait(req, block, done, c->user);
  c->seconds += now() - t0;
  if (s != ND_OK) return nd__error(s, "waiting for a collective on rank %d of %d: %s", c->rank, c->size, nd_last_error());
  if (block) *done = true;
  if (*done) req->state = 0;
  return ND_OK;
}

nd_status nd_comm_wait(nd_comm *c, nd_comm_request *req) {
  bool done;
  return comm_wait(c, req, true, &done);
}

nd_status nd_comm_test(nd_comm *c, nd_comm_request *req, bool *done) {
  bool d;
  return comm_wait(c, req, false, done ? done : &d);
}
