/* The fast rule's data-parallel exchange (shard.h). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/krotov/shard.h"

typedef struct kr_rec {
  int64_t top, kth;   /* the sample's top-1 and k-th unit */
  double itop, ikth;  /* I at those units (exact: a float or double current) */
} kr_rec;

void nd__krotov_exchange_free(kr_exchange *x) {
  free(x->send);
  free(x->recv);
  memset(x, 0, sizeof *x);
}

nd_status nd__krotov_exchange_set(kr_exchange *x, nd_comm *c, int64_t batch) {
  nd__krotov_exchange_free(x);
  if (!c || c->size <= 1) {
    x->comm = c;
    return ND_OK;
  }
  if (c->rank < 0 || c->rank >= c->size || !c->allgather)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: comm of size %d with rank %d and %s allgather", c->size, c->rank,
                     c->allgather ? "an" : "no");
  int64_t per = (batch + c->size - 1) / c->size;
  x->send = calloc((size_t)per, sizeof(kr_rec));
  x->recv = calloc((size_t)per * (size_t)c->size, sizeof(kr_rec));
  if (!x->send || !x->recv) {
    nd__krotov_exchange_free(x);
    return nd__error(ND_ERR_NOMEM, "krotov: no memory for the exchange of %d ranks", c->size);
  }
  x->comm = c;
  x->per = per;
  return ND_OK;
}

nd_status nd__krotov_exchange(kr_exchange *x, int64_t n, int64_t hidden, int64_t *top, int64_t *kth, double *itop,
                              double *ikth) {
  nd_comm *c = x->comm;
  if (!c || c->size <= 1) return ND_OK;
  const int64_t per = (n + c->size - 1) / c->size; /* <= x->per: n <= batch */
  int64_t lo, hi;
  nd_comm_shard(c, n, &lo, &hi);
  kr_rec *send = x->send, *recv = x->recv;
  memset(send, 0, sizeof(kr_rec) * (size_t)per);
  for (int64_t b = lo; b < hi; b++) send[b - lo] = (kr_rec){top[b], kth[b], itop[b], ikth[b]};
  ND_TRY(nd_comm_allgather(c, send, recv, per * (int64_t)sizeof(kr_rec)));
  for (int r = 0; r < c->size; r++) {
    int64_t l, h;
    nd_comm_shard_of(r, c->size, n, &l, &h);
    for (int64_t b = l; b < h; b++) {
      const kr_rec *e = &recv[(int64_t)r * per + (b - l)];
      if (e->top < 0 || e->top >= hidden || e->kth < 0 || e->kth >= hidden)
        return nd__error(ND_ERR_FORMAT, "krotov: rank %d sent units %lld, %lld for sample %lld (hidden %lld)", r,
                         (long long)e->top, (long long)e->kth, (long long)b, (long long)hidden);
      top[b] = e->top, kth[b] = e->kth, itop[b] = e->itop, ikth[b] = e->ikth;
    }
  }
  return ND_OK;
}
