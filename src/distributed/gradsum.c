/* Block gradients summed in a fixed order across ranks (distributed.h). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/distributed.h"

struct nd_grad_sum {
  nd_comm *comm;
  int64_t blocks, numel;
  int64_t first, last;   /* this rank's blocks */
  int64_t per;           /* slots per rank: ceil(blocks / size) */
  int64_t slot;          /* floats per slot: numel rounded up to even, then the loss as a double */
  float *send, *recv;    /* [per * slot], [size * per * slot] */
};

nd_status nd_grad_sum_create(nd_comm *c, int64_t blocks, int64_t numel, nd_grad_sum **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_create: out is NULL");
  *out = NULL;
  if (blocks < 1 || numel < 1 || numel > ((int64_t)1 << 34))
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: blocks = %lld, numel = %lld (need >= 1)", (long long)blocks,
                     (long long)numel);
  int size = c ? c->size : 1;
  if (c && (size < 1 || c->rank < 0 || c->rank >= size || (size > 1 && !c->allgather)))
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: comm of size %d with rank %d and %s allgather", size, c->rank,
                     c->allgather ? "an" : "no");
  if (blocks < size)
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: blocks = %lld, fewer than the %d processes (need blocks >= processes)",
                     (long long)blocks, size);
  nd_grad_sum *g = calloc(1, sizeof *g);
  if (!g) return nd__error(ND_ERR_NOMEM, "grad_sum: no memory");
  g->comm = c, g->blocks = blocks, g->numel = numel;
  nd_comm_shard_of(c ? c->rank : 0, size, blocks, &g->first, &g->last);
  g->per = (blocks + size - 1) / size;
  g->slot = (numel + 1) / 2 * 2 + 2;
  g->send = calloc((size_t)(g->per * g->slot), sizeof(float));
  g->recv = size > 1 ? calloc((size_t)size * (size_t)(g->per * g->slot), sizeof(float)) : g->send;
  if (!g->send || !g->recv) {
    nd_grad_sum_free(g);
    return nd__error(ND_ERR_NOMEM, "grad_sum: no memory for %lld blocks of %lld floats", (long long)blocks,
                     (long long)numel);
  }
  *out = g;
  return ND_OK;
}

void nd_grad_sum_free(nd_grad_sum *g) {
  if (!g) return;
  if (g->recv != g->send) free(g->recv);
  free(g->send);
  free(g);
}

int64_t nd_grad_sum_blocks(const nd_grad_sum *g) { return g ? g->blocks : 0; }

void nd_grad_sum_mine(const nd_grad_sum *g, int64_t *first, int64_t *last) {
  if (first) *first = g ? g->first : 0;
  if (last) *last = g ? g->last : 0;
}

float *nd_grad_sum_slot(nd_grad_sum *g, int64_t b, double **loss) {
  if (!g || b < g->first || b >= g->last) return NULL;
  float *s = g->send + (b - g->first) * g->slot;
  if (loss) *loss = (double *)(void *)(s + g->slot - 2); /* slot is even: 8-byte aligned */
  return s;
}

nd_status nd_grad_sum_reduce(nd_grad_sum *g, float *grad, double *loss) {
  if (!g || !grad) return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_reduce: NULL argument");
  int size = g->comm ? g->comm->size : 1;
  if (size > 1) ND_TRY(nd_comm_allgather(g->comm, g->send, g->recv, g->per * g->slot * (int64_t)sizeof(float)));
  double total = 0;
  bool first = true;
  for (int r = 0; r < size; r++) {
    int64_t b0, b1;
    nd_comm_shard_of(r, size, g->blocks, &b0, &b1);
    for (int64_t b = b0; b < b1; b++) {
      const float *s = g->recv + ((int64_t)r * g->per + (b - b0)) * g->slot;
      if (first)
        memcpy(grad, s, sizeof(float) * (size_t)g->numel);
      else
        for (int64_t i = 0; i < g->numel; i++) grad[i] += s[i];
      double l;
      memcpy(&l, s + g->slot - 2, sizeof l);
      total += l;
      first = false;
    }
  }
  if (loss) *loss = total;
  return ND_OK;
}
