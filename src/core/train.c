/* The one minibatch sampler (include/neurodyn/train.h): a Philox permutation
 * per epoch, drawn when the epoch starts, and gathers of its minibatches. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/train.h"

nd_status nd_sampler_init(nd_sampler *s, int64_t batch, bool drop_last, nd_rng rng) {
  if (!s) return nd__error(ND_ERR_INVALID_ARG, "nd_sampler_init: sampler is NULL");
  memset(s, 0, sizeof *s);
  if (batch < 1) return nd__error(ND_ERR_INVALID_ARG, "sampler: batch = %lld, need >= 1", (long long)batch);
  s->batch = batch;
  s->drop_last = drop_last;
  s->rng = rng;
  s->epoch_start = rng;
  return ND_OK;
}

void nd_sampler_release(nd_sampler *s) {
  if (!s) return;
  free(s->perm);
  s->perm = NULL;
  s->cap = s->n = 0;
  s->in_epoch = false;
}

int64_t nd_sampler_batches(const nd_sampler *s, int64_t n) {
  if (!s || s->batch < 1 || n < 1) return 0;
  return s->drop_last ? n / s->batch : (n + s->batch - 1) / s->batch;
}

nd_status nd_sampler_begin(nd_sampler *s, int64_t n) {
  if (!s || s->batch < 1) return nd__error(ND_ERR_INVALID_ARG, "nd_sampler_begin: sampler is NULL or not initialised");
  if (s->in_epoch && s->n == n) return ND_OK;
  const int64_t nb = nd_sampler_batches(s, n);
  if (nb < 1)
    return nd__error(ND_ERR_SHAPE, "sampler: %lld rows give no minibatch of %lld", (long long)n, (long long)s->batch);
  if (s->skip >= nb)
    return nd__error(ND_ERR_INVALID_ARG, "sampler: the saved state is %lld minibatches into an epoch of %lld",
                     (long long)s->skip, (long long)nb);
  if (n > s->cap) {
    int64_t *p = realloc(s->perm, (size_t)n * sizeof *p);
    if (!p) return nd__error(ND_ERR_NOMEM, "sampler: no memory for a permutation of %lld rows", (long long)n);
    s->perm = p;
    s->cap = n;
  }
  s->epoch_start = s->rng;
  nd_rng_permutation(&s->rng, s->perm, n);
  s->n = n;
  s->next = s->skip;
  s->skip = 0;
  s->in_epoch = true;
  return ND_OK;
}

nd_status nd_sampler_begin_from(nd_sampler *s, int64_t n, int64_t batch, bool drop_last, nd_rng *rng) {
  if (!s || !rng) return nd__error(ND_ERR_INVALID_ARG, "nd_sampler_begin_from: NULL argument");
  if (batch < 1) return nd__error(ND_ERR_INVALID_ARG, "sampler: batch = %lld, need >= 1", (long long)batch);
  s->batch = batch;
  s->drop_last = drop_last;
  s->rng = *rng;
  s->skip = 0;
  s->in_epoch = false;
  ND_TRY(nd_sampler_begin(s, n));
  *rng = s->rng;
  return ND_OK;
}

bool nd_sampler_next(nd_sampler *s, const int64_t **rows, int64_t *count) {
  *rows = NULL;
  *count = 0;
  if (!s || !s->in_epoch) return false;
  const int64_t start = s->next * s->batch;
  int64_t c = s->n - start;
  if (c > s->batch) c = s->batch;
  if (c < 1 || (s->drop_last && c < s->batch)) {
    s->in_epoch = false;
    return false;
  }
  s->next++;
  *rows = s->perm + start;
  *count = c;
  return true;
}

void nd_sampler_end(nd_sampler *s) {
  if (s) s->in_epoch = false;
}

void nd_sampler_gather(const float *src, int64_t d, const int64_t *rows, int64_t count, float *dst) {
  for (int64_t r = 0; r < count; r++) memcpy(dst + r * d, src + rows[r] * d, (size_t)d * sizeof(float));
}

void nd_sampler_get_state(const nd_sampler *s, nd_train_state *st) {
  if (!s || !st) return;
  /* mid-epoch: the stream this epoch's permutation came from, and how far */
  bool mid = s->in_epoch && s->next < nd_sampler_batches(s, s->n);
  const nd_rng *r = mid ? &s->epoch_start : &s->rng;
  st->batch = mid ? s->next : s->skip;
  st->rng_key = s->skip > 0 && !s->in_epoch ? s->rng.key : r->key;
  st->rng_counter = s->skip > 0 && !s->in_epoch ? s->rng.counter : r->counter;
}

nd_status nd_sampler_set_state(nd_sampler *s, const nd_train_state *st) {
  if (!s || !st) return nd__error(ND_ERR_INVALID_ARG, "nd_sampler_set_state: NULL argument");
  if (st->batch < 0) return nd__error(ND_ERR_INVALID_ARG, "train state: batch = %lld < 0", (long long)st->batch);
  s->rng.key = st->rng_key;
  s->rng.counter = st->rng_counter;
  s->epoch_start = s->rng;
  s->skip = st->batch;
  s->in_epoch = false;
  return ND_OK;
}
