/* The copying-memory task and the adding problem (Arjovsky, Shah & Bengio
 * 2016, "Unitary evolution recurrent neural networks", Sec. 4.1-4.2; the
 * copy task after Hochreiter & Schmidhuber 1997). */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/rnn.h"

#define COPY_SYMBOLS 8 /* categories a_1..a_8 */
#define COPY_LEN 10    /* symbols to remember */
#define COPY_BLANK 8
#define COPY_MARK 9

nd_status nd_rnn_copy_task(nd_rng *rng, int64_t T, int64_t B, float *x, int32_t *labels) {
  if (!rng || !x || !labels) return nd__error(ND_ERR_INVALID_ARG, "rnn copy task: NULL argument");
  if (T < 1 || T > 100000000 || B < 1 || B > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "rnn copy task: T = %lld, B = %lld, expected T >= 1 and B >= 1", (long long)T, (long long)B);
  int64_t L = T + 2 * COPY_LEN, in = COPY_MARK + 1;
  memset(x, 0, (size_t)(L * B * in) * sizeof *x);
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < L; t++) {
      int sym = COPY_BLANK;
      if (t < COPY_LEN) sym = (int)(nd_rng_u32(rng) % COPY_SYMBOLS);
      else if (t == T + COPY_LEN - 1) sym = COPY_MARK; /* the marker after T - 1 blanks */
      x[(t * B + b) * in + sym] = 1;
      labels[t * B + b] = COPY_BLANK;
    }
    /* output the remembered symbols in the last 10 steps */
    for (int64_t k = 0; k < COPY_LEN; k++) {
      int sym = -1;
      for (int s = 0; s < COPY_SYMBOLS; s++)
        if (x[(k * B + b) * in + s] == 1) sym = s;
      labels[(T + COPY_LEN + k) * B + b] = sym;
    }
  }
  return ND_OK;
}

nd_status nd_rnn_adding_task(nd_rng *rng, int64_t T, int64_t B, float *x, float *target) {
  if (!rng || !x || !target) return nd__error(ND_ERR_INVALID_ARG, "rnn adding task: NULL argument");
  if (T < 2 || T > 100000000 || B < 1 || B > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "rnn adding task: T = %lld, B = %lld, expected T >= 2 and B >= 1", (long long)T, (long long)B);
  for (int64_t b = 0; b < B; b++) {
    int64_t h = T / 2;
    int64_t i = (int64_t)(nd_rng_uniform1(rng) * (double)h), j = h + (int64_t)(nd_rng_uniform1(rng) * (double)(T - h));
    double sum = 0;
    for (int64_t t = 0; t < T; t++) {
      float v = (float)nd_rng_uniform1(rng);
      x[(t * B + b) * 2] = v;
      x[(t * B + b) * 2 + 1] = (t == i || t == j) ? 1.0f : 0.0f;
      if (t == i || t == j) sum += v;
    }
    target[b] = (float)sum;
  }
  return ND_OK;
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
