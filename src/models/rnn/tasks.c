/* The copying-memory task and the adding problem (Arjovsky, Shah & Bengio
 * 2016, "Unitary evolution recurrent neural networks", Sec. 4.1-4.2; the
 * copy task after Hochreiter & Schmidhuber 1997). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "rnn_internal.h"

#define COPY_SYMBOLS 8 /* categories a_1..a_8 */
#define COPY_LEN 10    /* symbols to remember */
#define COPY_BLANK 8
#define COPY_MARK 9

/* The adding problem's number at Philox position c (one block per number, as nd_rng_uniform1 draws). */
static float adding_u(uint64_t key, uint64_t c) {
  nd_rng r = {key, c};
  return (float)nd_rng_uniform1(&r);
}

nd_status nd__rnn_stream_alloc(nd__rnn_stream *s, int64_t B, size_t *bytes) {
  memset(s, 0, sizeof *s);
  s->sym = calloc((size_t)(B * COPY_LEN), 1), s->mark = calloc((size_t)(B * 2), sizeof *s->mark);
  s->target = calloc((size_t)B, sizeof *s->target);
  if (bytes) *bytes += (size_t)(B * COPY_LEN) + (size_t)(B * 2) * sizeof *s->mark + (size_t)B * sizeof *s->target;
  if (!s->sym || !s->mark || !s->target) {
    nd__rnn_stream_free(s);
    return nd__error(ND_ERR_NOMEM, "rnn: out of memory for a task minibatch");
  }
  s->cap = B;
  return ND_OK;
}

void nd__rnn_stream_free(nd__rnn_stream *s) {
  if (!s) return;
  free(s->sym), free(s->mark), free(s->target);
  memset(s, 0, sizeof *s);
}

nd_status nd__rnn_stream_draw(nd__rnn_stream *s, nd_rng *rng, nd_rnn_task task, int64_t length, int64_t B) {
  if (B > s->cap) return nd__error(ND_ERR_SHAPE, "rnn: a task minibatch of %lld rows, room for %lld", (long long)B, (long long)s->cap);
  s->task = task, s->B = B, s->delay = length;
  if (task == ND_RNN_TASK_COPY) {
    s->T = length + 2 * COPY_LEN;
    for (int64_t i = 0; i < B * COPY_LEN; i++) s->sym[i] = (uint8_t)(nd_rng_u32(rng) % COPY_SYMBOLS);
    return ND_OK;
  }
  int64_t T = length, h = T / 2, per = T + 2; /* per row: two positions, then T numbers */
  s->T = T, s->key = rng->key, s->counter = rng->counter;
  for (int64_t b = 0; b < B; b++) {
    uint64_t c = s->counter + (uint64_t)(b * per);
    nd_rng r = {s->key, c};
    int64_t i = (int64_t)(nd_rng_uniform1(&r) * (double)h), j = h + (int64_t)(nd_rng_uniform1(&r) * (double)(T - h));
    s->mark[2 * b] = i, s->mark[2 * b + 1] = j;
    double sum = (double)adding_u(s->key, c + 2 + (uint64_t)i) + (double)adding_u(s->key, c + 2 + (uint64_t)j);
    s->target[b] = (float)sum;
  }
  rng->counter = s->counter + (uint64_t)(B * per);
  return ND_OK;
}

nd__rnn_stream nd__rnn_stream_rows(const nd__rnn_stream *s, int64_t r0, int64_t r1) {
  nd__rnn_stream v = *s;
  v.B = v.cap = r1 - r0;
  if (s->task == ND_RNN_TASK_COPY) v.sym = s->sym + r0 * COPY_LEN;
  else v.counter = s->counter + (uint64_t)(r0 * (s->T + 2)), v.mark = s->mark + 2 * r0, v.target = s->target + r0;
  return v;
}

void nd__rnn_stream_x(const nd__rnn_stream *s, int64_t t, double *x) {
  int64_t B = s->B;
  if (s->task == ND_RNN_TASK_COPY) {
    memset(x, 0, (size_t)(B * (COPY_MARK + 1)) * sizeof *x);
    for (int64_t b = 0; b < B; b++) {
      int sym = t < COPY_LEN ? s->sym[b * COPY_LEN + t] : t == s->delay + COPY_LEN - 1 ? COPY_MARK : COPY_BLANK;
      x[b * (COPY_MARK + 1) + sym] = 1;
    }
    return;
  }
  for (int64_t b = 0; b < B; b++) {
    x[2 * b] = adding_u(s->key, s->counter + (uint64_t)(b * (s->T + 2)) + 2 + (uint64_t)t);
    x[2 * b + 1] = (t == s->mark[2 * b] || t == s->mark[2 * b + 1]) ? 1.0 : 0.0;
  }
}

void nd__rnn_stream_labels(const nd__rnn_stream *s, int64_t t, int32_t *labels) {
  int64_t k = t - s->delay - COPY_LEN; /* the output phase: the last 10 steps */
  for (int64_t b = 0; b < s->B; b++) labels[b] = k >= 0 ? s->sym[b * COPY_LEN + k] : COPY_BLANK;
}

/* The arrays of a streamed minibatch: x [T, B, inputs] and labels [T, B] or target [B]. */
static nd_status write_out(nd_rng *rng, nd_rnn_task task, int64_t length, int64_t B, float *x, int32_t *labels,
                           float *target) {
  nd__rnn_stream s;
  ND_TRY(nd__rnn_stream_alloc(&s, B, NULL));
  nd_status st = nd__rnn_stream_draw(&s, rng, task, length, B);
  int64_t in = task == ND_RNN_TASK_COPY ? COPY_MARK + 1 : 2;
  double *xd = malloc((size_t)(B * in) * sizeof *xd);
  if (st == ND_OK && !xd) st = nd__error(ND_ERR_NOMEM, "rnn task: out of memory");
  for (int64_t t = 0; st == ND_OK && t < s.T; t++) {
    nd__rnn_stream_x(&s, t, xd);
    for (int64_t i = 0; i < B * in; i++) x[t * B * in + i] = (float)xd[i];
    if (labels) nd__rnn_stream_labels(&s, t, labels + t * B);
  }
  if (st == ND_OK && target) memcpy(target, s.target, (size_t)B * sizeof *target);
  free(xd);
  nd__rnn_stream_free(&s);
  return st;
}

nd_status nd_rnn_copy_task(nd_rng *rng, int64_t T, int64_t B, float *x, int32_t *labels) {
  if (!rng || !x || !labels) return nd__error(ND_ERR_INVALID_ARG, "rnn copy task: NULL argument");
  if (T < 1 || T > 100000000 || B < 1 || B > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "rnn copy task: T = %lld, B = %lld, expected T >= 1 and B >= 1", (long long)T, (long long)B);
  return write_out(rng, ND_RNN_TASK_COPY, T, B, x, labels, NULL);
}

nd_status nd_rnn_adding_task(nd_rng *rng, int64_t T, int64_t B, float *x, float *target) {
  if (!rng || !x || !target) return nd__error(ND_ERR_INVALID_ARG, "rnn adding task: NULL argument");
  if (T < 2 || T > 100000000 || B < 1 || B > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "rnn adding task: T = %lld, B = %lld, expected T >= 2 and B >= 1", (long long)T, (long long)B);
  return write_out(rng, ND_RNN_TASK_ADDING, T, B, x, NULL, target);
}

nd_status nd_rnn_task_shape(const nd_rnn_config *c, int64_t *T, int64_t *inputs, int64_t *outputs) {
  if (!c || !T || !inputs || !outputs) return nd__error(ND_ERR_INVALID_ARG, "rnn task shape: NULL argument");
  if (c->task == ND_RNN_TASK_COPY) *T = c->length + 2 * COPY_LEN, *inputs = COPY_MARK + 1, *outputs = COPY_SYMBOLS + 1;
  else if (c->task == ND_RNN_TASK_ADDING) *T = c->length, *inputs = 2, *outputs = 1;
  else return nd__error(ND_ERR_INVALID_ARG, "rnn: task = %d unknown", (int)c->task);
  return ND_OK;
}

double nd_rnn_task_baseline(const nd_rnn_config *c) {
  if (!c) return NAN;
  if (c->task == ND_RNN_TASK_COPY) return COPY_LEN * log((double)COPY_SYMBOLS) / (double)(c->length + 2 * COPY_LEN);
  return 1.0 / 6.0; /* Var(u1 + u2) for u ~ U(0, 1), predicting the mean 1 */
}
