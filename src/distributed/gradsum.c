/* Block gradients summed in a fixed order across ranks (distributed.h),
 * in buckets that are exchanged while the caller computes the next ones. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/distributed.h"

#define GS_MAX_BUCKETS 64

/* Memory: one send buffer, bucket q at send + off (per * slot floats: this
 * rank's blocks), and one receive buffer of size times that.  With a
 * non-blocking allgather each bucket is its own collective, received at
 * recv + size * off (rank r's blocks at r * per * slot from there);
 * without one, the whole send buffer is a single allgather after the
 * backward pass (rank r's at r * send_total), as before buckets. */
typedef struct gs_bucket {
  int64_t numel, slot;   /* floats; floats per block slot: numel rounded up to even (+ 2 for the losses in the last) */
  int64_t at;            /* offset of the bucket in the summed gradient */
  int64_t off;           /* offset of its send part */
  float *send, *recv;    /* its send part; where rank 0's copy of it arrives */
  int64_t rank_stride;   /* floats from rank r's copy to rank r+1's */
  nd_comm_request req;
  bool ready;
} gs_bucket;

struct nd_grad_sum {
  nd_comm *comm;
  int64_t blocks, numel;
  int64_t first, last;   /* this rank's blocks */
  int64_t per;           /* slots per rank: ceil(blocks / size) */
  int nb, started;       /* buckets; buckets 0 .. started-1 are in flight or done */
  bool overlap;          /* a bucket per collective (the comm has a non-blocking allgather) */
  float *send, *recv;    /* [send_total], [size * send_total] (recv == send alone) */
  int64_t send_total;
  gs_bucket b[GS_MAX_BUCKETS];
};

static int comm_size(const nd_comm *c) { return c ? c->size : 1; }

nd_status nd_grad_sum_create_buckets(nd_comm *c, int64_t blocks, int buckets, const int64_t *numel, nd_grad_sum **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_create: out is NULL");
  *out = NULL;
  if (buckets < 1 || buckets > GS_MAX_BUCKETS || !numel)
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: %d buckets (need 1 .. %d and their sizes)", buckets, GS_MAX_BUCKETS);
  int64_t total = 0;
  for (int q = 0; q < buckets; q++) {
    if (numel[q] < 1 || numel[q] > ((int64_t)1 << 34))
      return nd__error(ND_ERR_INVALID_ARG, "grad_sum: bucket %d has numel = %lld (need >= 1)", q, (long long)numel[q]);
    total += numel[q];
  }
  if (blocks < 1 || total > ((int64_t)1 << 34))
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: blocks = %lld, numel = %lld (need >= 1)", (long long)blocks,
                     (long long)total);
  int size = comm_size(c);
  if (c && (size < 1 || c->rank < 0 || c->rank >= size || (size > 1 && !c->allgather)))
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: comm of size %d with rank %d and %s allgather", size, c->rank,
                     c->allgather ? "an" : "no");
  if (blocks < size)
    return nd__error(ND_ERR_INVALID_ARG, "grad_sum: blocks = %lld, fewer than the %d processes (need blocks >= processes)",
                     (long long)blocks, size);
  nd_grad_sum *g = calloc(1, sizeof *g);
  if (!g) return nd__error(ND_ERR_NOMEM, "grad_sum: no memory");
  g->comm = c, g->blocks = blocks, g->numel = total, g->nb = buckets;
  nd_comm_shard_of(c ? c->rank : 0, size, blocks, &g->first, &g->last);
  g->per = (blocks + size - 1) / size;
  g->overlap = size > 1 && c->iallgather && c->wait;
  int64_t at = 0, off = 0;
  for (int q = 0; q < buckets; at += numel[q], q++) {
    gs_bucket *k = &g->b[q];
    k->numel = numel[q], k->at = at, k->off = off;
    k->slot = (numel[q] + 1) / 2 * 2 + (q + 1 == buckets ? 2 : 0);
    off += g->per * k->slot;
  }
  g->send_total = off;
  g->send = calloc((size_t)off, sizeof(float));
  g->recv = size > 1 ? calloc((size_t)size * (size_t)off, sizeof(float)) : g->send;
  if (!g->send || !g->recv) {
    nd_grad_sum_free(g);
    return nd__error(ND_ERR_NOMEM, "grad_sum: no memory for %lld blocks of %lld floats", (long long)blocks,
                     (long long)total);
  }
  for (int q = 0; q < buckets; q++) {
    gs_bucket *k = &g->b[q];
    k->send = g->send + k->off;
    k->recv = g->recv + (g->overlap ? size * k->off : k->off);
    k->rank_stride = g->overlap ? g->per * k->slot : off;
  }
  *out = g;
  return ND_OK;
}

nd_status nd_grad_sum_create(nd_comm *c, int64_t blocks, int64_t numel, nd_grad_sum **out) {
  return nd_grad_sum_create_buckets(c, blocks, 1, &numel, out);
}

void nd_grad_sum_free(nd_grad_sum *g) {
  if (!g) return;
  for (int q = 0; q < g->nb; q++) /* a collective in flight reads and writes the buffers */
    if (g->b[q].req.state) nd_comm_wait(g->comm, &g->b[q].req);
  if (g->recv != g->send) free(g->recv);
  free(g->send);
  free(g);
}

int64_t nd_grad_sum_blocks(const nd_grad_sum *g) { return g ? g->blocks : 0; }
int nd_grad_sum_buckets(const nd_grad_sum *g) { return g ? g->nb : 0; }

void nd_grad_sum_mine(const nd_grad_sum *g, int64_t *first, int64_t *last) {
  if (first) *first = g ? g->first : 0;
  if (last) *last = g ? g->last : 0;
}

float *nd_grad_sum_bucket(nd_grad_sum *g, int64_t b, int q, double **loss) {
  if (!g || b < g->first || b >= g->last || q < 0 || q >= g->nb) return NULL;
  gs_bucket *k = &g->b[q];
  float *s = k->send + (b - g->first) * k->slot;
  gs_bucket *last = &g->b[g->nb - 1];
  if (loss) *loss = (double *)(void *)(last->send + (b - g->first) * last->slot + last->slot - 2); /* 8-byte aligned */
  return s;
}

float *nd_grad_sum_slot(nd_grad_sum *g, int64_t b, double **loss) {
  return g && g->nb == 1 ? nd_grad_sum_bucket(g, b, 0, loss) : NULL;
}

static nd_status start(nd_grad_sum *g, int q) {
  gs_bucket *k = &g->b[q];
  g->started = q + 1;
  if (!g->overlap) return ND_OK; /* one allgather of every bucket, in reduce */
  return nd_comm_iallgather(g->comm, k->send, k->recv, g->per * k->slot * (int64_t)sizeof(float), &k->req);
}

nd_status nd_grad_sum_ready(nd_grad_sum *g, int q) {
  if (!g || q < 0 || q >= g->nb)
    return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_ready: bucket %d of %d", q, g ? g->nb : 0);
  if (q < g->started) return ND_OK; /* already on its way */
  g->b[q].ready = true;
  for (int k = 0; k < g->started; k++) /* progress on what is in flight */
    if (g->b[k].req.state) ND_TRY(nd_comm_test(g->comm, &g->b[k].req, NULL));
  while (g->started < g->nb - 1 && g->b[g->started].ready) ND_TRY(start(g, g->started));
  return ND_OK;
}

nd_status nd_grad_sum_reduce(nd_grad_sum *g, float *grad, double *loss) {
  if (!g || !grad) return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_reduce: NULL argument");
  int size = comm_size(g->comm);
  while (g->started < g->nb) ND_TRY(start(g, g->started));
  if (!g->overlap && size > 1)
    ND_TRY(nd_comm_allgather(g->comm, g->send, g->recv, g->send_total * (int64_t)sizeof(float)));
  double total = 0;
  for (int q = 0; q < g->nb; q++) {
    gs_bucket *k = &g->b[q];
    ND_TRY(nd_comm_wait(g->comm, &k->req));
    k->ready = false;
    bool first = true;
    float *out = grad + k->at;
    for (int r = 0; r < size; r++) { /* every block in block order, block 0 first */
      int64_t b0, b1;
      nd_comm_shard_of(r, size, g->blocks, &b0, &b1);
      for (int64_t b = b0; b < b1; b++) {
        const float *s = k->recv + (int64_t)r * k->rank_stride + (b - b0) * k->slot;
        if (first)
          memcpy(out, s, sizeof(float) * (size_t)k->numel);
        else
          for (int64_t i = 0; i < k->numel; i++) out[i] += s[i];
        if (q + 1 == g->nb) {
          double l;
          memcpy(&l, s + k->slot - 2, sizeof l);
          total += l;
        }
        first = false;
      }
    }
  }
  g->started = 0;
  if (loss) *loss = total;
  return ND_OK;
}

nd_status nd_grad_sum_batch(nd_grad_sum *g, int64_t rows, nd_grad_block_fn fn, void *user, float *grad, double *loss) {
  if (!g || !fn || !grad || rows < 1)
    return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_batch: a NULL argument or rows = %lld (need >= 1)", (long long)rows);
  for (int64_t b = g->first; b < g->last; b++) {
    int64_t r0, r1;
    nd_comm_shard_of((int)b, (int)g->blocks, rows, &r0, &r1);
    const double w = (double)(r1 - r0) / (double)rows;
    double mean = 0, *slot_loss;
    ND_TRY(fn(user, b, r0, r1, w, &mean));
    nd_grad_sum_bucket(g, b, 0, &slot_loss);
    *slot_loss = mean * (double)(r1 - r0) / (double)rows;
  }
  for (int q = 0; q < g->nb; q++) ND_TRY(nd_grad_sum_ready(g, q)); /* the buckets fn did not mark ready */
  return nd_grad_sum_reduce(g, grad, loss);
}

nd_status nd_grad_sum_put(nd_grad_sum *g, int64_t b, double w, const float *src) {
  float *slot = nd_grad_sum_slot(g, b, NULL);
  if (!slot || !src)
    return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_put: block %lld is not this rank's (or %s)", (long long)b,
                     g && g->nb != 1 ? "more than one bucket" : "src is NULL");
  const float wf = (float)w;
  if (w == 0) memset(slot, 0, sizeof(float) * (size_t)g->numel);
  else
    for (int64_t i = 0; i < g->numel; i++) slot[i] = wf * src[i];
  return ND_OK;
}

int64_t nd_grad_sum_f64_per(const nd_comm *c, int64_t blocks) {
  int size = comm_size(c);
  return (blocks + size - 1) / size;
}

nd_status nd_grad_sum_f64(nd_comm *c, int64_t blocks, int64_t numel, const double *mine, double *recv, double *out) {
  int size = comm_size(c);
  if (!mine || !recv || !out || numel < 1 || blocks < size || blocks > ((int64_t)1 << 30))
    return nd__error(ND_ERR_INVALID_ARG, "nd_grad_sum_f64: blocks = %lld for %d processes, numel = %lld (or a NULL buffer)",
                     (long long)blocks, size, (long long)numel);
  int64_t per = nd_grad_sum_f64_per(c, blocks);
  ND_TRY(nd_comm_allgather(c, mine, recv, per * numel * (int64_t)sizeof(double)));
  memset(out, 0, sizeof(double) * (size_t)numel);
  for (int r = 0; r < size; r++) { /* rank order = block order */
    int64_t first, last;
    nd_comm_shard_of(r, size, blocks, &first, &last);
    for (int64_t b = first; b < last; b++) {
      const double *v = recv + ((int64_t)r * per + (b - first)) * numel;
      for (int64_t i = 0; i < numel; i++) out[i] += v[i];
    }
  }
  return ND_OK;
}
