/* Dense layer and softmax cross-entropy for the block trainers (dense.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dense.h"

nd_status nd_cli_dense_init(nd_cli_dense *d, int64_t in, int64_t out, nd_rng *rng) {
  memset(d, 0, sizeof *d);
  d->in = in, d->out = out, d->np = out * in + out;
  d->p = calloc((size_t)d->np, sizeof *d->p), d->g = calloc((size_t)d->np, sizeof *d->g);
  if (!d->p || !d->g) {
    nd_cli_dense_release(d);
    return nd_set_error(ND_ERR_NOMEM, "out of memory for a %lld x %lld layer", (long long)out, (long long)in);
  }
  d->tp = nd_tensor_wrap(d->p, 1, ND_SHAPE(d->np));
  d->tg = nd_tensor_wrap(d->g, 1, ND_SHAPE(d->np));
  return nd_rng_normal(rng, d->p, out * in, 0, (float)(1 / sqrt((double)in)));
}

void nd_cli_dense_release(nd_cli_dense *d) {
  if (!d) return;
  free(d->p), free(d->g);
  memset(d, 0, sizeof *d);
}

void nd_cli_dense_forward(const nd_cli_dense *d, const float *x, int64_t B, float *y) {
  const float *b = d->p + d->out * d->in;
  for (int64_t i = 0; i < B; i++) memcpy(y + i * d->out, b, (size_t)d->out * sizeof *y);
  nd_sgemm(false, true, B, d->out, d->in, 1, x, d->in, d->p, d->in, 1, y, d->out);
}

void nd_cli_dense_backward(nd_cli_dense *d, const float *x, int64_t B, const float *dy, float *dx) {
  nd_sgemm(true, false, d->out, d->in, B, 1, dy, d->out, x, d->in, 0, d->g, d->in);
  float *gb = d->g + d->out * d->in;
  memset(gb, 0, (size_t)d->out * sizeof *gb);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d->out; j++) gb[j] += dy[i * d->out + j];
  if (dx) nd_sgemm(false, false, B, d->in, d->out, 1, dy, d->out, d->p, d->in, 0, dx, d->in);
}

nd_status nd_cli_ce_wrong(const float *logits, const int32_t *labels, int64_t B, int64_t C, double *loss, float *dlogits,
                          int64_t *wrong) {
  *wrong = 0;
  for (int64_t i = 0; i < B; i++) {
    int64_t k;
    nd_row_argmax(logits + i * C, 1, C, &k);
    *wrong += k != labels[i];
  }
  return nd_cross_entropy(logits, labels, B, C, loss, dlogits);
}

nd_status nd_cli_restore_tensor(const nd_checkpoint *ck, const char *name, nd_tensor *t) {
  nd_array a = {0};
  nd_status s = nd_checkpoint_get_array(ck, name, ND_DTYPE_F32, t->shape[0], &a);
  if (s != ND_OK) return s;
  memcpy(t->data, a.data, (size_t)t->shape[0] * sizeof(float));
  nd_array_release(&a);
  return ND_OK;
}
