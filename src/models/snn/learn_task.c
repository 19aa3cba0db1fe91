/* Tasks and the training verbs of the spiking learner (include/neurodyn/snn.h,
 * "training"; docs/spiking.md): store-and-recall (Bellec et al. 2018), sequential
 * MNIST, an epoch, evaluation on a split, the resumable state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/snn/snn_internal.h"

nd_snn_task nd_snn_task_defaults(nd_snn_task_kind kind) {
  nd_snn_task t;
  memset(&t, 0, sizeof t);
  t.kind = kind;
  t.periods = 4, t.period_steps = 10, t.channel = 10, t.rate = 0.2;
  t.pixels = 28, t.score_steps = 1;
  t.steps = 50;
  return t;
}

nd_status nd_snn_task_check(const nd_snn_task *t) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "snn task: NULL");
  if (t->kind == ND_SNN_TASK_RECALL) {
    if (t->periods < 2 || t->periods > 100000) return nd__error(ND_ERR_INVALID_ARG, "snn task: periods = %lld, expected 2..100000", (long long)t->periods);
    if (t->period_steps < 1 || t->period_steps > 100000)
      return nd__error(ND_ERR_INVALID_ARG, "snn task: period_steps = %lld, expected 1..100000", (long long)t->period_steps);
    if (t->channel < 1 || t->channel > 10000) return nd__error(ND_ERR_INVALID_ARG, "snn task: channel = %lld, expected 1..10000", (long long)t->channel);
    if (!(t->rate >= 0 && t->rate <= 1)) return nd__error(ND_ERR_INVALID_ARG, "snn task: rate = %g, expected 0..1", t->rate);
    if (t->steps < 1 || t->steps > 1000000000) return nd__error(ND_ERR_INVALID_ARG, "snn task: steps = %lld, expected >= 1", (long long)t->steps);
    return ND_OK;
  }
  if (t->kind != ND_SNN_TASK_SMNIST) return nd__error(ND_ERR_INVALID_ARG, "snn task: kind = %d unknown", (int)t->kind);
  if (t->pixels < 1 || 784 % t->pixels)
    return nd__error(ND_ERR_INVALID_ARG, "snn task: pixels = %lld per step, expected a divisor of 784 (28: rows, 1: pixels)", (long long)t->pixels);
  if (t->score_steps < 1 || t->score_steps > 784 / t->pixels)
    return nd__error(ND_ERR_INVALID_ARG, "snn task: score_steps = %lld, expected 1..%lld", (long long)t->score_steps, (long long)(784 / t->pixels));
  return ND_OK;
}

nd_status nd_snn_task_shape(const nd_snn_task *t, int64_t *T, int64_t *inputs, int64_t *outputs) {
  ND_TRY(nd_snn_task_check(t));
  if (!T || !inputs || !outputs) return nd__error(ND_ERR_INVALID_ARG, "snn task_shape: NULL argument");
  if (t->kind == ND_SNN_TASK_RECALL) {
    *T = t->periods * t->period_steps, *inputs = 4 * t->channel, *outputs = 2;
  } else {
    *T = 784 / t->pixels, *inputs = t->pixels, *outputs = 10;
  }
  return ND_OK;
}

static int64_t below(nd_rng *r, int64_t n) { /* uniform in 0..n-1 */
  int64_t k = (int64_t)(nd_rng_uniform1(r) * (double)n);
  return k < n ? k : n - 1;
}

nd_status nd_snn_recall_batch(const nd_snn_task *t, nd_rng *rng, int64_t B, float *x, int32_t *labels) {
  int64_t T, I, K;
  ND_TRY(nd_snn_task_shape(t, &T, &I, &K));
  if (t->kind != ND_SNN_TASK_RECALL || !rng || !x || !labels || B < 1)
    return nd__error(ND_ERR_INVALID_ARG, "snn recall_batch: bad argument");
  const int64_t P = t->periods, S = t->period_steps, C = t->channel;
  for (int64_t b = 0; b < B; b++) {
    int64_t store = below(rng, P - 1), recall = store + 1 + below(rng, P - 1 - store);
    int bit_store = 0;
    for (int64_t p = 0; p < P; p++) {
      int bit = nd_rng_uniform1(rng) < 0.5;
      if (p == store) bit_store = bit;
      bool on[4] = {bit == 0, bit == 1, p == store, p == recall};
      for (int64_t k = 0; k < S; k++) {
        int64_t tt = p * S + k;
        float *xr = x + (tt * B + b) * I;
        for (int ch = 0; ch < 4; ch++)
          for (int64_t i = 0; i < C; i++) xr[ch * C + i] = on[ch] && nd_rng_uniform1(rng) < t->rate ? 1.0f : 0.0f;
      }
    }
    for (int64_t tt = 0; tt < T; tt++) labels[tt * B + b] = tt / S == recall ? bit_store : -1;
  }
  return ND_OK;
}

nd_status nd_snn_smnist_batch(const nd_snn_task *t, const float *images, const int32_t *labels, const int64_t *rows,
                              int64_t B, float *x, int32_t *lab) {
  int64_t T, I, K;
  ND_TRY(nd_snn_task_shape(t, &T, &I, &K));
  if (t->kind != ND_SNN_TASK_SMNIST || !images || !labels || !rows || !x || !lab || B < 1)
    return nd__error(ND_ERR_INVALID_ARG, "snn smnist_batch: bad argument");
  for (int64_t b = 0; b < B; b++) {
    const float *img = images + rows[b] * 784;
    if (labels[rows[b]] < 0 || labels[rows[b]] > 9) return nd__error(ND_ERR_INVALID_ARG, "snn smnist: label %d of row %lld, expected 0..9", labels[rows[b]], (long long)rows[b]);
    for (int64_t tt = 0; tt < T; tt++) {
      memcpy(x + (tt * B + b) * I, img + tt * I, (size_t)I * sizeof(float));
      lab[tt * B + b] = tt >= T - t->score_steps ? labels[rows[b]] : -1;
    }
  }
  return ND_OK;
}

/* The minibatch buffers for the task's T (grown once). */
static nd_status batch_buffers(nd_snn_learner *l, const nd_snn_task *t, int64_t *T) {
  int64_t I, K;
  ND_TRY(nd_snn_task_shape(t, T, &I, &K));
  if (I != l->c.inputs || K != l->c.outputs)
    return nd__error(ND_ERR_SHAPE, "snn: the task has %lld inputs and %lld outputs, the network %lld and %lld", (long long)I,
                     (long long)K, (long long)l->c.inputs, (long long)l->c.outputs);
  if (*T > l->bx_t) {
    free(l->bx), free(l->bl);
    free(l->kx), free(l->kl);
    l->bx = malloc((size_t)(*T * l->c.batch * I) * sizeof(float));
    l->bl = malloc((size_t)(*T * l->c.batch) * sizeof(int32_t));
    l->kx = malloc((size_t)(*T * l->c.batch * I) * sizeof(float));
    l->kl = malloc((size_t)(*T * l->c.batch) * sizeof(int32_t));
    l->bx_t = *T;
    if (!l->bx || !l->bl || !l->kx || !l->kl) {
      free(l->bx), free(l->bl), free(l->kx), free(l->kl);
      l->bx = NULL, l->bl = NULL, l->kx = NULL, l->kl = NULL, l->bx_t = 0;
      return nd__error(ND_ERR_NOMEM, "snn: out of memory for a %lld-step minibatch", (long long)*T);
    }
  }
  return ND_OK;
}

nd_status nd_snn_learner_set_comm(nd_snn_learner *l, nd_comm *c, int64_t blocks) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_set_comm: learner is NULL");
  nd_grad_sum_free(l->gsum), free(l->gflat);
  l->gsum = NULL, l->gflat = NULL;
  if ((!c || c->size <= 1) && blocks <= 1) return ND_OK;
  l->gflat = malloc(sizeof(float) * (size_t)(l->np + 2));
  if (!l->gflat) return nd__error(ND_ERR_NOMEM, "snn: out of memory for the block gradients");
  return nd_grad_sum_create(c, blocks, l->np + 2, &l->gsum);
}

typedef struct snn_blocks {
  nd_snn_learner *l;
  const nd_snn_seq *s;
} snn_blocks;

/* Block b = rows [r0, r1) of the minibatch (nd_grad_sum_batch's block
 * function): copied out of the time-major arrays, its gradient (BPTT or
 * e-prop), accuracy and rate weighted by its share w of the rows (every row
 * scores the same number of steps, so the losses, means over the scored
 * entries, are the rows' means). */
static nd_status snn_block(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean) {
  snn_blocks *k = user;
  nd_snn_learner *l = k->l;
  const nd_snn_seq *s = k->s;
  float *slot = nd_grad_sum_slot(l->gsum, b, NULL);
  const int64_t R = r1 - r0, I = l->c.inputs, np = l->np;
  *mean = 0;
  if (R == 0) {
    memset(slot, 0, sizeof(float) * (size_t)(np + 2));
    return ND_OK;
  }
  for (int64_t t = 0; t < s->T; t++) {
    memcpy(l->kx + t * R * I, s->x + (t * s->B + r0) * I, sizeof(float) * (size_t)(R * I));
    memcpy(l->kl + t * R, s->labels + t * s->B + r0, sizeof(int32_t) * (size_t)R);
  }
  nd_snn_seq q = {.T = s->T, .B = R, .x = l->kx, .labels = l->kl};
  double acc, rate;
  ND_TRY(nd_snn_learner_grad(l, &q, mean, &acc, &rate));
  const float wf = (float)w;
  for (int64_t i = 0; i < np; i++) slot[i] = wf * l->g[i];
  slot[np] = (float)(w * (isnan(acc) ? 0 : acc)), slot[np + 1] = (float)(w * rate);
  return ND_OK;
}

/* The minibatch's gradient into l->g: whole, or data-parallel from its
 * blocks summed in block order (nd_grad_sum_batch); *acc and *rate summed
 * in float32 with it. */
static nd_status batch_grad(nd_snn_learner *l, const nd_snn_seq *s, double *loss, double *acc, double *rate) {
  if (!l->gsum) return nd_snn_learner_grad(l, s, loss, acc, rate);
  snn_blocks k = {l, s};
  ND_TRY(nd_grad_sum_batch(l->gsum, s->B, snn_block, &k, l->gflat, loss));
  memcpy(l->g, l->gflat, sizeof(float) * (size_t)l->np);
  *acc = l->gflat[l->np], *rate = l->gflat[l->np + 1];
  return ND_OK;
}

static nd_status train_batch(nd_snn_learner *l, const nd_snn_seq *s) {
  double loss, acc, rate;
  ND_TRY(batch_grad(l, s, &loss, &acc, &rate));
  ND_TRY(nd_snn_learner_update(l));
  l->ep_loss += loss, l->ep_acc += isnan(acc) ? 0 : acc, l->ep_rate += rate;
  return ND_OK;
}

nd_status nd_snn_learner_epoch(nd_snn_learner *l, const nd_snn_task *t, nd_progress_fn progress, void *user) {
  if (!l || !t) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_epoch: NULL argument");
  int64_t T;
  ND_TRY(batch_buffers(l, t, &T));
  const bool smnist = t->kind == ND_SNN_TASK_SMNIST;
  if (smnist && (!t->images || !t->labels || t->n < 1)) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_epoch: smnist task without rows");
  int64_t total = smnist ? nd_sampler_batches(&l->sampler, t->n) : t->steps;
  if (smnist) ND_TRY(nd_sampler_begin(&l->sampler, t->n));
  if (l->batch_done == 0) l->ep_loss = l->ep_acc = l->ep_rate = 0;
  while (l->batch_done < total) {
    nd_snn_seq s = {.T = T, .x = l->bx, .labels = l->bl};
    if (smnist) {
      const int64_t *rows;
      if (!nd_sampler_next(&l->sampler, &rows, &s.B)) break;
      ND_TRY(nd_snn_smnist_batch(t, t->images, t->labels, rows, s.B, l->bx, l->bl));
    } else {
      s.B = l->c.batch;
      ND_TRY(nd_snn_recall_batch(t, &l->rng, s.B, l->bx, l->bl));
    }
    ND_TRY(train_batch(l, &s));
    l->batch_done++;
    nd_progress_info info = {.epoch = l->epoch, .done = l->batch_done, .total = total};
    bool last = l->batch_done == total;
    if (last) {
      l->epoch++, l->batch_done = 0;
      l->ep_n = total;
      if (smnist) nd_sampler_end(&l->sampler);
    }
    if (progress && progress(&info, user) && !last) return ND_OK;
    if (last) break;
  }
  return ND_OK;
}

nd_status nd_snn_learner_epoch_stats(const nd_snn_learner *l, double *loss, double *accuracy, double *rate) {
  if (!l || !loss || !accuracy || !rate) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_epoch_stats: NULL argument");
  double k = (double)(l->batch_done ? l->batch_done : l->ep_n > 0 ? l->ep_n : 1);
  *loss = l->ep_loss / k, *accuracy = l->ep_acc / k, *rate = l->ep_rate / k;
  return ND_OK;
}

nd_status nd_snn_learner_evaluate(nd_snn_learner *l, const nd_snn_task *t, int split, int64_t batches, int64_t n,
                                  const float *images, const int32_t *labels, double *loss, double *accuracy) {
  if (!l || !t || !loss || !accuracy) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_evaluate: NULL argument");
  int64_t T;
  ND_TRY(batch_buffers(l, t, &T));
  const int64_t Bm = l->c.batch;
  double sl = 0, sa = 0, w = 0;
  if (t->kind == ND_SNN_TASK_RECALL) {
    if (batches < 1 || split < 0 || split > 1) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_evaluate: batches = %lld, split = %d", (long long)batches, split);
    nd_rng root;
    nd_rng_init(&root, l->c.seed);
    nd_rng r = nd_rng_split(&root, 3 + (uint64_t)split); /* training 2, validation 3, test 4 */
    for (int64_t k = 0; k < batches; k++) {
      nd_snn_seq s = {.T = T, .B = Bm, .x = l->bx, .labels = l->bl};
      double lo, ac;
      ND_TRY(nd_snn_recall_batch(t, &r, Bm, l->bx, l->bl));
      ND_TRY(nd_snn_learner_eval(l, &s, &lo, &ac, NULL));
      sl += lo, sa += ac, w += 1;
    }
  } else {
    if (!images || !labels || n < 1) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_evaluate: smnist without rows");
    int64_t *rows = malloc((size_t)Bm * sizeof *rows);
    if (!rows) return nd__error(ND_ERR_NOMEM, "snn_learner_evaluate: out of memory");
    nd_status st = ND_OK;
    for (int64_t start = 0; start < n && st == ND_OK; start += Bm) {
      int64_t B = n - start < Bm ? n - start : Bm;
      for (int64_t b = 0; b < B; b++) rows[b] = start + b;
      nd_snn_seq s = {.T = T, .B = B, .x = l->bx, .labels = l->bl};
      double lo, ac;
      st = nd_snn_smnist_batch(t, images, labels, rows, B, l->bx, l->bl);
      if (st == ND_OK) st = nd_snn_learner_eval(l, &s, &lo, &ac, NULL);
      if (st == ND_OK) sl += lo * (double)B, sa += ac * (double)B, w += (double)B;
    }
    free(rows);
    ND_TRY(st);
  }
  *loss = sl / w, *accuracy = sa / w;
  return ND_OK;
}

nd_status nd_snn_learner_get_state(const nd_snn_learner *l, nd_train_state *st) {
  if (!l || !st) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_get_state: NULL argument");
  nd_sampler_get_state(&l->sampler, st);
  st->epoch = l->epoch, st->batch = l->batch_done;
  return ND_OK;
}

nd_status nd_snn_learner_set_state(nd_snn_learner *l, const nd_train_state *st) {
  if (!l || !st) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_set_state: NULL argument");
  if (st->epoch < 0 || st->batch < 0) return nd__error(ND_ERR_INVALID_ARG, "snn: state epoch %lld, batch %lld", (long long)st->epoch, (long long)st->batch);
  ND_TRY(nd_sampler_set_state(&l->sampler, st));
  l->epoch = st->epoch, l->batch_done = st->batch;
  return ND_OK;
}
