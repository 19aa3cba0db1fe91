/* neurodyn run somp --experiment autoregression|refinement|decision [--quick]: the
 * seed's experiments (docs/somp.md, docs/RESULTS.md), each comparing the
 * cells trained by supervised gradients only, by the local rules only, and
 * by the blend, with a fixed random network (only the readout learns) and
 * task baselines alongside:
 *
 *   autoregression  Mackey-Glass next-step prediction (test NRMSE; the
 *                   persistence forecast x_{t+1} = x_t as baseline) and
 *                   next-character prediction on a text file (default
 *                   /usr/share/common-licenses/GPL-3 from Debian's
 *                   base-files; test bits per character against the best
 *                   add-alpha n-gram chosen on validation and a GRU of the
 *                   same size trained by BPTT on the same minibatches)
 *   refinement      a static MNIST / Fashion-MNIST image fed at every step:
 *                   a linear probe (ridge regression on one-hot labels) on
 *                   the cell's output at each step, test accuracy per step
 *   decision        a 4-armed bandit and a 5x5 grid world: REINFORCE,
 *                   reward-modulated Hebbian plasticity (node perturbation)
 *                   and both (see agent_learn())
 *
 * Writes results.json into --out (default runs/somp-<experiment>) and prints
 * a table. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "progress.h"
#include "run.h"
#include "somp_common.h"

#define CMD "run somp"

typedef enum { M_FIXED = 0, M_SUPERVISED, M_PLASTIC, M_BLEND, M_COUNT } mode;
static const char *const mode_names[M_COUNT] = {"fixed", "supervised", "plasticity", "blend"};

static void set_mode(somp_spec *s, mode m) {
  s->learn.plastic = m == M_PLASTIC || m == M_BLEND;
  s->supervised = m == M_SUPERVISED || m == M_BLEND;
}

/* trains spec's model from seed; val and test metric (test scored once) */
static nd_status train_eval(const somp_spec *s, uint64_t seed, double *val, double *test) {
  somp_model m;
  nd_status st = somp_model_build(&m, s, seed);
  if (st != ND_OK) return st;
  for (int64_t e = 0; e < s->epochs && st == ND_OK; e++)
    for (int64_t k = 0; k < s->task.steps && st == ND_OK; k++) {
      m.epoch = e;
      somp_draw_starts(&s->task, seed, (uint64_t)(e * s->task.steps + k), s->task.batch, m.starts);
      double loss;
      st = somp_train_batch(&m, s->task.batch, m.starts, &loss);
    }
  double l;
  if (st == ND_OK) st = somp_evaluate(&m, SOMP_VAL, &l, val);
  if (st == ND_OK) st = somp_evaluate(&m, SOMP_TEST, &l, test);
  somp_model_free(&m);
  return st;
}

static void add_rule(somp_spec *s, nd_somp_rule_kind k, int cell, const char *input, double eta) {
  nd_somp_rule_config *r = &s->rules[s->n_rules++];
  *r = nd_somp_rule_defaults(k, cell, eta);
  if (input) snprintf(r->input, sizeof r->input, "%s", input);
}

/* ------------------------------------------------------------ n-gram */
/* add-alpha n-gram over symbols 0..V-1 (orders 1..5): counts of
 * (context, next) and of contexts in one open-addressing table. */
typedef struct ngram {
  uint64_t *key;
  uint32_t *cnt;
  int64_t cap;
} ngram;

static uint32_t *slot(ngram *g, uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  for (int64_t i = (int64_t)(h >> 40) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
    if (g->key[i] == key + 1) return &g->cnt[i];
    if (!g->key[i]) {
      g->key[i] = key + 1;
      return &g->cnt[i];
    }
  }
}

static uint32_t peek(const ngram *g, uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  for (int64_t i = (int64_t)(h >> 40) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
    if (g->key[i] == key + 1) return g->cnt[i];
    if (!g->key[i]) return 0;
  }
}

/* key of the (order-1)-symbol context ending before position p, with next symbol c (c = 255: the context total) */
static uint64_t ng_key(const uint8_t *x, int64_t p, int order, int c) {
  uint64_t k = (uint64_t)order;
  for (int j = 1; j < order; j++) k = k * 256 + x[p - j];
  return k * 256 + (uint64_t)c;
}

static double ngram_bpc(const ngram *g, const uint8_t *x, int64_t lo, int64_t hi, int order, double alpha, int V) {
  double s = 0;
  int64_t n = 0;
  for (int64_t p = lo; p < hi; p++) {
    if (p < order - 1) continue;
    const double c = peek(g, ng_key(x, p, order, x[p])), t = peek(g, ng_key(x, p, order, 255));
    s -= log2((c + alpha) / (t + alpha * V));
    n++;
  }
  return s / (double)n;
}

static nd_status ngram_eval(const somp_task *t, int *best_order, double *best_alpha, double *val_bpc, double *test_bpc) {
  ngram g = {NULL, NULL, 1 << 21};
  g.key = calloc((size_t)g.cap, sizeof *g.key);
  g.cnt = calloc((size_t)g.cap, sizeof *g.cnt);
  if (!g.key || !g.cnt) {
    free(g.key), free(g.cnt);
    return nd_set_error(ND_ERR_NOMEM, "n-gram: out of memory");
  }
  const int64_t lo = t->split[SOMP_TRAIN][0], hi = t->split[SOMP_TRAIN][1];
  for (int order = 1; order <= 5; order++)
    for (int64_t p = lo + order - 1; p < hi; p++) {
      (*slot(&g, ng_key(t->text, p, order, t->text[p])))++;
      (*slot(&g, ng_key(t->text, p, order, 255)))++;
    }
  static const double alphas[] = {0.003, 0.01, 0.03, 0.1, 0.3, 1};
  *val_bpc = INFINITY;
  for (int order = 1; order <= 5; order++)
    for (int a = 0; a < 6; a++) {
      const double v = ngram_bpc(&g, t->text, t->split[SOMP_VAL][0], t->split[SOMP_VAL][1], order, alphas[a], t->vocab);
      if (v < *val_bpc) *val_bpc = v, *best_order = order, *best_alpha = alphas[a];
    }
  *test_bpc = ngram_bpc(&g, t->text, t->split[SOMP_TEST][0], t->split[SOMP_TEST][1], *best_order, *best_alpha, t->vocab);
  free(g.key), free(g.cnt);
  return ND_OK;
}

/* --------------------------------------------------------------- GRU */
/* GRU (Cho et al. 2014): z = s(x Wz + h Uz + bz), r = s(x Wr + h Ur + br),
 * n = tanh(x Wn + (r o h) Un + bn), h' = (1 - z) o h + z o n; logits
 * h' V + c; BPTT on the tape, Adam, the same windows as the SOMP runs. */
typedef struct gru {
  int64_t V, H;
  nd_tensor p[11], g[11]; /* Wz Wr Wn [H,V], Uz Ur Un [H,H], bz br bn [H], Vo [V,H], co [V] */
  nd_optim *opt;
  nd_tape *tp;
} gru;

static void gru_free(gru *m) {
  for (int i = 0; i < 11; i++) nd_tensor_release(&m->p[i]), nd_tensor_release(&m->g[i]);
  nd_optim_free(m->opt);
  nd_tape_free(m->tp);
}

static nd_status gru_create(gru *m, int64_t V, int64_t H, double lr, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->V = V, m->H = H;
  nd_rng r;
  nd_rng_init(&r, seed ^ 0x6e0);
  for (int i = 0; i < 11; i++) {
    const int64_t rows = i < 9 ? H : V, cols = i < 3 ? V : i < 6 ? H : i < 9 ? 1 : i == 9 ? H : 1;
    const int nd = (i >= 6 && i < 9) || i == 10 ? 1 : 2;
    const int64_t shape[2] = {rows, cols};
    nd_status s = nd_tensor_alloc(&m->p[i], nd, shape);
    if (s == ND_OK) s = nd_tensor_alloc(&m->g[i], nd, shape);
    if (s != ND_OK) return s;
    if (nd == 2 && i != 9) {
      const float a = (float)(1.0 / sqrt((double)H));
      nd_rng_uniform(&r, m->p[i].data, rows * cols, -a, a);
    }
  }
  nd_optim_config c = nd_optim_defaults(ND_OPTIM_ADAM);
  c.lr = (float)lr;
  nd_tensor *pp[11], *gg[11];
  for (int i = 0; i < 11; i++) pp[i] = &m->p[i], gg[i] = &m->g[i];
  nd_status s = nd_optim_create(&c, 11, pp, gg, &m->opt);
  if (s == ND_OK) s = nd_tape_create(1 << 22, &m->tp);
  return s;
}

/* x [B, T, V] one-hot (time-major slices built here), labels [B, T]; mean CE over t >= washout */
static nd_status gru_batch(gru *m, const float *x, const int32_t *lab, int64_t B, int64_t T, int64_t wash, bool train,
                           float *xt_buf, int32_t *lt_buf, double *loss) {
  nd_tape *tp = m->tp;
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, train);
  const int64_t V = m->V, H = m->H;
  nd_var *P[11];
  for (int i = 0; i < 11; i++) P[i] = nd_tape_param(tp, &m->p[i], train ? &m->g[i] : NULL);
  float *h0 = nd_tape_alloc(tp, (size_t)(B * H) * sizeof(float));
  if (!h0) return nd_tape_status(tp);
  memset(h0, 0, (size_t)(B * H) * sizeof(float));
  nd_tensor th0 = nd_tensor_wrap(h0, 2, ND_SHAPE(B, H));
  nd_var *h = nd_tape_constant(tp, &th0), *total = NULL;
  for (int64_t t = 0; t < T; t++) {
    float *xt = xt_buf + t * B * V;
    int32_t *lt = lt_buf + t * B;
    for (int64_t b = 0; b < B; b++) {
      memcpy(xt + b * V, x + (b * T + t) * V, (size_t)V * sizeof(float));
      lt[b] = lab[b * T + t];
    }
    nd_tensor tx = nd_tensor_wrap(xt, 2, ND_SHAPE(B, V));
    nd_var *xv = nd_tape_constant(tp, &tx);
    nd_var *z = nd_ad_sigmoid(tp, nd_ad_add(tp, nd_ad_linear(tp, xv, P[0], P[6]), nd_ad_linear(tp, h, P[3], NULL)));
    nd_var *r = nd_ad_sigmoid(tp, nd_ad_add(tp, nd_ad_linear(tp, xv, P[1], P[7]), nd_ad_linear(tp, h, P[4], NULL)));
    nd_var *n = nd_ad_tanh(tp, nd_ad_add(tp, nd_ad_linear(tp, xv, P[2], P[8]), nd_ad_linear(tp, nd_ad_mul(tp, r, h), P[5], NULL)));
    h = nd_ad_add(tp, h, nd_ad_mul(tp, z, nd_ad_sub(tp, n, h)));
    if (t >= wash) {
      nd_var *ce = nd_ad_cross_entropy(tp, nd_ad_linear(tp, h, P[9], P[10]), lt);
      total = total ? nd_ad_add(tp, total, ce) : ce;
    }
  }
  nd_var *L = nd_ad_scale(tp, total, 1.0f / (float)(T - wash));
  nd_status s = nd_tape_status(tp);
  if (s != ND_OK) return s;
  *loss = nd_var_item(L);
  if (!train) return ND_OK;
  nd_optim_zero_grad(m->opt);
  s = nd_tape_backward(tp, L);
  if (s == ND_OK) s = nd_optim_clip_grad_norm(m->opt, 1.0, NULL);
  if (s == ND_OK) s = nd_optim_step(m->opt);
  return s;
}

/* GRU of H units on the text task of s, the same minibatch windows as the SOMP runs */
static nd_status gru_eval(const somp_spec *s, uint64_t seed, double *val_bpc, double *test_bpc) {
  const somp_task *t = &s->task;
  gru m;
  nd_status st = gru_create(&m, t->vocab, s->cells[0].units, s->learn.lr, seed);
  const int64_t Bm = t->batch > t->val_windows ? t->batch : t->val_windows, T = t->T, V = t->vocab;
  float *x = malloc((size_t)(Bm * T * V) * sizeof(float)), *xt = malloc((size_t)(Bm * T * V) * sizeof(float));
  int32_t *lab = malloc((size_t)(Bm * T) * sizeof(int32_t)), *lt = malloc((size_t)(Bm * T) * sizeof(int32_t));
  int64_t *starts = malloc((size_t)Bm * sizeof(int64_t));
  if (st == ND_OK && (!x || !xt || !lab || !lt || !starts)) st = nd_set_error(ND_ERR_NOMEM, "gru: out of memory");
  for (int64_t e = 0; e < s->epochs && st == ND_OK; e++)
    for (int64_t k = 0; k < t->steps && st == ND_OK; k++) {
      somp_draw_starts(t, seed, (uint64_t)(e * t->steps + k), t->batch, starts);
      memset(x, 0, (size_t)(t->batch * T * V) * sizeof(float));
      for (int64_t b = 0; b < t->batch; b++)
        for (int64_t q = 0; q < T; q++) {
          x[(b * T + q) * V + t->text[starts[b] + q]] = 1;
          lab[b * T + q] = t->text[starts[b] + q + 1];
        }
      double l;
      st = gru_batch(&m, x, lab, t->batch, T, t->washout, true, xt, lt, &l);
    }
  for (int sp = SOMP_VAL; sp <= SOMP_TEST && st == ND_OK; sp++) {
    const int64_t B = t->val_windows, lo = t->split[sp][0], span = t->split[sp][1] - lo - T - 1;
    memset(x, 0, (size_t)(B * T * V) * sizeof(float));
    for (int64_t b = 0; b < B; b++) {
      const int64_t st0 = lo + (B > 1 ? span * b / (B - 1) : 0);
      for (int64_t q = 0; q < T; q++) {
        x[(b * T + q) * V + t->text[st0 + q]] = 1;
        lab[b * T + q] = t->text[st0 + q + 1];
      }
    }
    double l = 0;
    st = gru_batch(&m, x, lab, B, T, t->washout, false, xt, lt, &l);
    if (sp == SOMP_VAL) *val_bpc = l / log(2.0);
    else *test_bpc = l / log(2.0);
  }
  free(x), free(xt), free(lab), free(lt), free(starts);
  gru_free(&m);
  return st;
}

/* ------------------------------------------------------ autoregression */
static void run_entry(cJSON *arr, int seed, double val, double test) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "seed", seed);
  cJSON_AddNumberToObject(r, "val", val);
  cJSON_AddNumberToObject(r, "test", test);
  cJSON_AddItemToArray(arr, r);
}

static cJSON *results_mode(cJSON *parent, const char *name) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(parent, name, o);
  return o;
}

static nd_status add_runs(cJSON *o, const somp_spec *base, int seeds, const char *metric, bool print) {
  for (int m = 0; m < M_COUNT; m++) {
    somp_spec s = *base;
    set_mode(&s, (mode)m);
    cJSON *arr = cJSON_CreateArray();
    double mean = 0;
    for (int k = 0; k < seeds; k++) {
      double v = 0, te = 0;
      nd_status st = train_eval(&s, (uint64_t)(k + 1), &v, &te);
      if (st != ND_OK) return st;
      run_entry(arr, k + 1, v, te);
      mean += te / seeds;
    }
    cJSON *mo = results_mode(o, mode_names[m]);
    cJSON_AddItemToObject(mo, "runs", arr);
    cJSON_AddNumberToObject(mo, "test_mean", mean);
    if (print) printf("  %-11s test %s %.4f (mean of %d seed%s)\n", mode_names[m], metric, mean, seeds, seeds > 1 ? "s" : "");
  }
  return ND_OK;
}

static double persistence_nrmse(const somp_task *t) {
  double se = 0, m1 = 0, m2 = 0, c = 0;
  for (int64_t p = t->split[SOMP_TEST][0]; p + 1 < t->split[SOMP_TEST][1]; p++) {
    const double d = t->series[p + 1] - t->series[p];
    se += d * d, m1 += t->series[p + 1], m2 += (double)t->series[p + 1] * t->series[p + 1], c++;
  }
  m1 /= c;
  return sqrt(se / c / (m2 / c - m1 * m1));
}

static nd_status autoregression(bool quick, const char *corpus, cJSON *root) {
  const int seeds = quick ? 1 : 3;
  /* Mackey-Glass */
  somp_spec s;
  somp_spec_default(&s);
  s.cells[0].units = 32;
  s.cells[0].hp.alpha_dense = 2.0, s.cells[0].hp.noise_std = 0.01;
  s.task.T = 40, s.task.washout = 10, s.task.batch = 16, s.task.steps = quick ? 20 : 50, s.task.val_windows = 64;
  s.epochs = quick ? 3 : 10;
  add_rule(&s, ND_SOMP_RULE_STDP, 0, NULL, 1e-3);
  add_rule(&s, ND_SOMP_RULE_COVARIANCE_DECAY, 0, "c", 1e-3);
  add_rule(&s, ND_SOMP_RULE_L2, 0, NULL, 1e-4);
  nd_status st = somp_task_load(&s.task);
  if (st != ND_OK) return st;
  cJSON *mg = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "mackey_glass", mg);
  const double pers = persistence_nrmse(&s.task);
  cJSON_AddNumberToObject(mg, "persistence_test_nrmse", pers);
  printf("Mackey-Glass (tau 17) next step, %d units, T %lld, %lld x %lld minibatches of %lld:\n", (int)s.cells[0].units,
         (long long)s.task.T, (long long)s.epochs, (long long)s.task.steps, (long long)s.task.batch);
  printf("  persistence test nrmse %.4f\n", pers);
  st = add_runs(mg, &s, seeds, "nrmse", true);
  somp_task_free(&s.task);
  if (st != ND_OK) return st;
  /* characters */
  somp_spec_default(&s);
  s.cells[0].units = quick ? 32 : 64;
  s.cells[0].hp.noise_std = 0.01;
  s.task.kind = SOMP_TASK_TEXT;
  snprintf(s.task.path, sizeof s.task.path, "%s", corpus);
  s.task.T = quick ? 32 : 64, s.task.washout = 4, s.task.batch = 16, s.task.steps = quick ? 30 : 50;
  s.task.val_windows = quick ? 64 : 128;
  s.epochs = quick ? 2 : 6;
  add_rule(&s, ND_SOMP_RULE_STDP, 0, NULL, 1e-3);
  add_rule(&s, ND_SOMP_RULE_COVARIANCE_DECAY, 0, "c", 1e-3);
  add_rule(&s, ND_SOMP_RULE_L2, 0, NULL, 1e-4);
  st = somp_task_load(&s.task);
  if (st != ND_OK) return st;
  cJSON *tx = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "text", tx);
  cJSON_AddStringToObject(tx, "corpus", corpus);
  cJSON_AddNumberToObject(tx, "bytes", (double)s.task.n);
  cJSON_AddNumberToObject(tx, "vocab", s.task.vocab);
  int order = 0;
  double alpha = 0, nv = 0, nt = 0;
  st = ngram_eval(&s.task, &order, &alpha, &nv, &nt);
  if (st == ND_OK) {
    cJSON *ng = results_mode(tx, "ngram");
    cJSON_AddNumberToObject(ng, "order", order);
    cJSON_AddNumberToObject(ng, "alpha", alpha);
    cJSON_AddNumberToObject(ng, "val", nv);
    cJSON_AddNumberToObject(ng, "test", nt);
    printf("text %s (%lld bytes, %d symbols), %d units, T %lld:\n", corpus, (long long)s.task.n, s.task.vocab,
           (int)s.cells[0].units, (long long)s.task.T);
    printf("  uniform     %.4f bits/char\n", log2((double)s.task.vocab));
    printf("  n-gram      test bpc %.4f (order %d, add-%g, chosen on validation)\n", nt, order, alpha);
  }
  if (st == ND_OK) {
    cJSON *g = results_mode(tx, "gru");
    cJSON *arr = cJSON_CreateArray();
    double mean = 0;
    for (int k = 0; k < seeds && st == ND_OK; k++) {
      double v = 0, te = 0;
      st = gru_eval(&s, (uint64_t)(k + 1), &v, &te);
      run_entry(arr, k + 1, v, te);
      mean += te / seeds;
    }
    cJSON_AddItemToObject(g, "runs", arr);
    cJSON_AddNumberToObject(g, "test_mean", mean);
    if (st == ND_OK) printf("  gru (BPTT)  test bpc %.4f (mean of %d)\n", mean, seeds);
  }
  if (st == ND_OK) st = add_runs(tx, &s, seeds, "bpc", true);
  somp_task_free(&s.task);
  return st;
}

/* --------------------------------------------------------- refinement */
/* (F^T F + lam I) W = F^T Y by Cholesky in double; F [n, d] with a bias column */
static int ridge_fit(const float *F, const int32_t *y, int64_t n, int64_t d, int classes, double lam, double *W) {
  const int64_t D = d + 1;
  double *A = calloc((size_t)(D * D), sizeof *A), *R = calloc((size_t)(D * classes), sizeof *R);
  if (!A || !R) {
    free(A), free(R);
    return -1;
  }
  for (int64_t k = 0; k < n; k++) {
    const float *f = F + k * d;
    for (int64_t i = 0; i < D; i++) {
      const double fi = i < d ? f[i] : 1.0;
      for (int64_t j = 0; j <= i; j++) A[i * D + j] += fi * (j < d ? f[j] : 1.0);
      R[i * classes + y[k]] += fi;
    }
  }
  for (int64_t i = 0; i < D; i++) {
    for (int64_t j = 0; j < i; j++) A[j * D + i] = A[i * D + j];
    A[i * D + i] += lam;
  }
  for (int64_t i = 0; i < D; i++) { /* Cholesky A = L L^T in place (lower) */
    for (int64_t j = 0; j <= i; j++) {
      double s = A[i * D + j];
      for (int64_t k = 0; k < j; k++) s -= A[i * D + k] * A[j * D + k];
      A[i * D + j] = i == j ? sqrt(s > 1e-300 ? s : 1e-300) : s / A[j * D + j];
    }
  }
  for (int c = 0; c < classes; c++) {
    for (int64_t i = 0; i < D; i++) {
      double s = R[i * classes + c];
      for (int64_t k = 0; k < i; k++) s -= A[i * D + k] * W[k * classes + c];
      W[i * classes + c] = s / A[i * D + i];
    }
    for (int64_t i = D - 1; i >= 0; i--) {
      double s = W[i * classes + c];
      for (int64_t k = i + 1; k < D; k++) s -= A[k * D + i] * W[k * classes + c];
      W[i * classes + c] = s / A[i * D + i];
    }
  }
  free(A), free(R);
  return 0;
}

static double ridge_acc(const float *F, const int32_t *y, int64_t n, int64_t d, int classes, const double *W) {
  int64_t hit = 0;
  for (int64_t k = 0; k < n; k++) {
    int best = 0;
    double bv = -INFINITY;
    for (int c = 0; c < classes; c++) {
      double s = W[d * classes + c];
      for (int64_t i = 0; i < d; i++) s += F[k * d + i] * W[i * classes + c];
      if (s > bv) bv = s, best = c;
    }
    hit += best == y[k];
  }
  return (double)hit / (double)n;
}

/* 2x2 average pooling of 28x28 images to 14x14 */
static void pool2(const float *src, int64_t n, float *dst) {
  for (int64_t k = 0; k < n; k++)
    for (int i = 0; i < 14; i++)
      for (int j = 0; j < 14; j++) {
        const float *p = src + k * 784 + (2 * i) * 28 + 2 * j;
        dst[k * 196 + i * 14 + j] = 0.25f * (p[0] + p[1] + p[28] + p[29]);
      }
}

typedef struct ref_cfg {
  int64_t units, T, batch, epochs, n_train, n_test;
  double lr;
} ref_cfg;

/* features Y_t [n, units] at every step t of the cell on images x [n, 196] */
static nd_status ref_features(nd_somp_net *net, const float *x, int64_t n, const ref_cfg *c, float *feat, float *seq) {
  nd_somp_learn l = nd_somp_learn_defaults();
  nd_status st = nd_somp_net_learn(net, &l);
  nd_somp_hparams ex = nd_somp_hparams_unset();
  ex.noise_std = 0;
  for (int64_t k0 = 0; k0 < n && st == ND_OK; k0 += c->batch) {
    const int64_t B = k0 + c->batch <= n ? c->batch : n - k0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t t = 0; t < c->T; t++) memcpy(seq + (b * c->T + t) * 196, x + (k0 + b) * 196, 196 * sizeof(float));
    nd_tensor tx = nd_tensor_wrap(seq, 3, ND_SHAPE(B, c->T, 196));
    nd_somp_input in = {"x", 0, &tx, 0};
    st = nd_somp_net_forward(net, 1, &in, NULL, &ex);
    for (int64_t t = 0; t < c->T && st == ND_OK; t++) {
      nd_tensor y;
      st = nd_somp_net_output_step(net, 0, t, &y);
      for (int64_t b = 0; b < B && st == ND_OK; b++)
        memcpy(feat + ((t * n) + k0 + b) * c->units, y.data + b * c->units, (size_t)c->units * sizeof(float));
    }
  }
  return st;
}

static nd_status refinement_set(const char *name, bool quick, cJSON *root, int *skipped) {
  const ref_cfg c = {64, 6, 50, quick ? 2 : 5, quick ? 1000 : 5000, quick ? 500 : 2000, 3e-3};
  nd_dataset tr = {0}, te = {0};
  nd_status st = nd_dataset_load(NULL, name, "train", c.n_train + 1000, &tr);
  if (st == ND_ERR_NOT_FOUND) {
    printf("%s: not found (%s), skipped\n", name, nd_last_error());
    (*skipped)++;
    return ND_OK;
  }
  if (st == ND_OK) st = nd_dataset_load(NULL, name, "test", c.n_test, &te);
  if (st != ND_OK) {
    nd_dataset_release(&tr);
    return st;
  }
  /* train: the first n_train images; validation: the next 1000 (for the probe's lambda); test: the test split */
  const int64_t nv = 1000;
  float *xtr = malloc((size_t)((c.n_train + nv) * 196) * sizeof(float)), *xte = malloc((size_t)(c.n_test * 196) * sizeof(float));
  float *seq = malloc((size_t)(c.batch * c.T * 196) * sizeof(float));
  int32_t *lab = malloc((size_t)(c.batch * c.T) * sizeof(int32_t));
  const int64_t nmax = c.n_train + nv > c.n_test ? c.n_train + nv : c.n_test;
  float *ftr = malloc((size_t)(c.T * (c.n_train + nv) * c.units) * sizeof(float)), *fte = malloc((size_t)(c.T * c.n_test * c.units) * sizeof(float));
  float *dyb = malloc((size_t)(c.batch * c.T * c.units) * sizeof(float));
  double *W = malloc((size_t)((c.units + 1) * 10) * sizeof(double));
  (void)nmax;
  if (!xtr || !xte || !seq || !lab || !ftr || !fte || !dyb || !W) st = nd_set_error(ND_ERR_NOMEM, "refinement: out of memory");
  if (st == ND_OK) pool2(tr.images.data, c.n_train + nv, xtr), pool2(te.images.data, c.n_test, xte);
  cJSON *set = cJSON_CreateObject();
  cJSON_AddItemToObject(root, name, set);
  printf("%s: linear-probe test accuracy per step t = 0..%lld (%lld train, %lld test images, 14x14, %lld units):\n", name,
         (long long)c.T - 1, (long long)c.n_train, (long long)c.n_test, (long long)c.units);
  for (int m = 0; m < M_COUNT && st == ND_OK; m++) {
    nd_somp_cell_config cc = nd_somp_cell_defaults("c", c.units);
    cc.hp.noise_std = 0.01;
    nd_somp_net *net = NULL;
    nd_somp_readout *ro = NULL;
    st = nd_somp_net_create(1, &cc, 7, &net);
    if (st == ND_OK) st = nd_somp_net_connect(net, 0, "x", 196);
    if (st == ND_OK) st = nd_somp_net_connect(net, 0, "c", 0);
    if (st == ND_OK) st = nd_somp_readout_create(c.units, 10, &ro);
    nd_somp_rule_config r1 = nd_somp_rule_defaults(ND_SOMP_RULE_SOFT_WTA, 0, 1e-3), r2 = nd_somp_rule_defaults(ND_SOMP_RULE_TEMPORAL_VIC, 0, 1e-3);
    snprintf(r1.input, sizeof r1.input, "x");
    if (st == ND_OK) st = nd_somp_net_add_rule(net, &r1);
    if (st == ND_OK) st = nd_somp_net_add_rule(net, &r2);
    nd_somp_learn l = nd_somp_learn_defaults();
    l.lr = c.lr, l.optimizer = ND_SOMP_ADAM, l.clip = 1.0;
    l.plastic = m == M_PLASTIC || m == M_BLEND;
    const bool sup = m == M_SUPERVISED || m == M_BLEND;
    if (m != M_FIXED)
      for (int64_t e = 0; e < c.epochs && st == ND_OK; e++)
        for (int64_t k0 = 0; k0 + c.batch <= c.n_train && st == ND_OK; k0 += c.batch) {
          for (int64_t b = 0; b < c.batch; b++)
            for (int64_t t = 0; t < c.T; t++) {
              memcpy(seq + (b * c.T + t) * 196, xtr + (k0 + b) * 196, 196 * sizeof(float));
              lab[b * c.T + t] = tr.labels[k0 + b];
            }
          nd_tensor tx = nd_tensor_wrap(seq, 3, ND_SHAPE(c.batch, c.T, 196)), tdy = nd_tensor_wrap(dyb, 3, ND_SHAPE(c.batch, c.T, c.units));
          nd_somp_input in = {"x", 0, &tx, 0};
          st = nd_somp_net_learn(net, &l);
          if (st == ND_OK) st = nd_somp_net_forward(net, 1, &in, NULL, NULL);
          double loss;
          if (st == ND_OK) st = nd_somp_readout_loss(ro, net, 0, ND_SOMP_LOSS_CE, NULL, lab, 0, &tdy, NULL, &loss, NULL);
          nd_somp_net_zero_grad(net);
          const nd_tensor *dy[1] = {&tdy};
          if (st == ND_OK && sup) st = nd_somp_net_backward(net, dy, NULL);
          if (st == ND_OK) st = nd_somp_net_step(net);
          if (st == ND_OK) st = nd_somp_readout_step(ro, &l);
        }
    if (st == ND_OK) st = ref_features(net, xtr, c.n_train + nv, &c, ftr, seq);
    if (st == ND_OK) st = ref_features(net, xte, c.n_test, &c, fte, seq);
    cJSON *acc = cJSON_CreateArray();
    printf("  %-11s", mode_names[m]);
    for (int64_t t = 0; t < c.T && st == ND_OK; t++) {
      /* lambda on the validation images, then the test split once */
      static const double lams[] = {1e-3, 1e-1, 10};
      double best = -1, bl = 1;
      for (int q = 0; q < 3; q++) {
        if (ridge_fit(ftr + t * (c.n_train + nv) * c.units, tr.labels, c.n_train, c.units, 10, lams[q] * c.n_train, W)) {
          st = nd_set_error(ND_ERR_NOMEM, "ridge: out of memory");
          break;
        }
        const double v = ridge_acc(ftr + (t * (c.n_train + nv) + c.n_train) * c.units, tr.labels + c.n_train, nv, c.units, 10, W);
        if (v > best) best = v, bl = lams[q];
      }
      if (st != ND_OK) break;
      ridge_fit(ftr + t * (c.n_train + nv) * c.units, tr.labels, c.n_train, c.units, 10, bl * c.n_train, W);
      const double a = ridge_acc(fte + t * c.n_test * c.units, te.labels, c.n_test, c.units, 10, W);
      cJSON_AddItemToArray(acc, cJSON_CreateNumber(a));
      printf(" %.3f", a);
    }
    printf("\n");
    cJSON_AddItemToObject(set, mode_names[m], acc);
    nd_somp_readout_free(ro);
    nd_somp_net_free(net);
  }
  free(xtr), free(xte), free(seq), free(lab), free(ftr), free(fte), free(dyb), free(W);
  nd_dataset_release(&tr), nd_dataset_release(&te);
  return st;
}

static nd_status refinement(bool quick, cJSON *root, int *skipped) {
  nd_status st = refinement_set("mnist", quick, root, skipped);
  if (st == ND_OK) st = refinement_set("fashion-mnist", quick, root, skipped);
  return st;
}


/* ------------------------------------------------------------ decision */
/* Both decision tasks share the agent: an observation held for T steps
 * into a noisy cell (its own recurrence included), logits = V Y_{T-1} + c,
 * action ~ softmax(logits), B episodes in parallel.  Once the rewards of a
 * decision are known, its forward is replayed with the same noise
 * (nd_somp_net_set_sequences) and the cell learns by
 *   REINFORCE (Williams 1992): -A_b grad log pi(a_b) through the readout and
 *            BPTT into the cell ("supervised" path of the blend);
 *   plasticity: the readout fixed; the cell's reward-modulated Hebbian rule
 *            with the per-sample advantage A_b as reward, sum_b A_b post_b pre_b^T
 *            (node perturbation: the cell's noise explores, Fiete & Seung 2006);
 *   blend:   both.  fixed: nothing learns. */
typedef struct agent_cfg {
  int64_t obs, K, B, T, units;
  double lr, eta, noise_std;
} agent_cfg;

typedef struct agent {
  agent_cfg c;
  mode m;
  bool pg, plastic;
  nd_somp_net *net;
  float *x, *dyb, *V, *cb, *gV, *gc, *adv, *pi; /* pi [B, K] of the last act */
  nd_tensor tx, tdy, tadv;
} agent;

static void agent_free(agent *a) {
  free(a->x), free(a->dyb), free(a->V), free(a->cb), free(a->gV), free(a->gc), free(a->adv), free(a->pi);
  nd_somp_net_free(a->net);
}

static nd_status agent_init(agent *a, const agent_cfg *c, mode m, uint64_t seed, nd_rng *rng) {
  memset(a, 0, sizeof *a);
  a->c = *c, a->m = m;
  a->pg = m == M_SUPERVISED || m == M_BLEND, a->plastic = m == M_PLASTIC || m == M_BLEND;
  nd_somp_cell_config cc = nd_somp_cell_defaults("c", c->units);
  cc.hp.noise_std = c->noise_std;
  nd_status st = nd_somp_net_create(1, &cc, seed, &a->net);
  if (st == ND_OK) st = nd_somp_net_connect(a->net, 0, "x", c->obs);
  if (st == ND_OK) st = nd_somp_net_connect(a->net, 0, "c", 0);
  nd_somp_rule_config rc = nd_somp_rule_defaults(ND_SOMP_RULE_HEBBIAN, 0, c->eta);
  rc.reward = true;
  if (st == ND_OK) st = nd_somp_net_add_rule(a->net, &rc);
  const int64_t B = c->B, T = c->T, U = c->units, K = c->K;
  a->x = calloc((size_t)(B * T * c->obs), sizeof(float)), a->dyb = calloc((size_t)(B * T * U), sizeof(float));
  a->V = malloc((size_t)(K * U) * sizeof(float)), a->cb = calloc((size_t)K, sizeof(float));
  a->gV = calloc((size_t)(K * U), sizeof(float)), a->gc = calloc((size_t)K, sizeof(float));
  a->adv = calloc((size_t)B, sizeof(float)), a->pi = calloc((size_t)(B * K), sizeof(float));
  if (st == ND_OK && (!a->x || !a->dyb || !a->V || !a->cb || !a->gV || !a->gc || !a->adv || !a->pi))
    st = nd_set_error(ND_ERR_NOMEM, "decision: out of memory");
  if (st == ND_OK) st = nd_rng_uniform(rng, a->V, K * U, -1.0f / sqrtf((float)U), 1.0f / sqrtf((float)U));
  a->tx = nd_tensor_wrap(a->x, 3, ND_SHAPE(B, T, c->obs)), a->tdy = nd_tensor_wrap(a->dyb, 3, ND_SHAPE(B, T, U));
  a->tadv = nd_tensor_wrap(a->adv, 1, ND_SHAPE(B));
  return st;
}

/* holds obs [B, obs] for T steps; plastic: the rules on with reward adv */
static nd_status agent_forward(agent *a, const float *obs, bool plastic) {
  const int64_t B = a->c.B, T = a->c.T, F = a->c.obs;
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) memcpy(a->x + (b * T + t) * F, obs + b * F, (size_t)F * sizeof(float));
  nd_somp_learn l = nd_somp_learn_defaults();
  l.lr = a->c.lr, l.optimizer = ND_SOMP_SGD, l.plastic = plastic;
  if (plastic) l.reward = &a->tadv;
  nd_status st = nd_somp_net_learn(a->net, &l);
  nd_somp_input in = {"x", 0, &a->tx, 0};
  if (st == ND_OK) st = nd_somp_net_forward(a->net, 1, &in, NULL, NULL);
  return st;
}

/* softmax policy of the last forward into a->pi; act[b] drawn when act != NULL */
static nd_status agent_policy(agent *a, nd_rng *rng, int *act) {
  const int64_t B = a->c.B, U = a->c.units, K = a->c.K;
  nd_tensor y;
  ND_CLI_TRY(nd_somp_net_output_step(a->net, 0, a->c.T - 1, &y));
  for (int64_t b = 0; b < B; b++) {
    double mx = -INFINITY, z = 0, lg[16];
    for (int64_t k = 0; k < K; k++) {
      lg[k] = a->cb[k];
      for (int64_t u = 0; u < U; u++) lg[k] += a->V[k * U + u] * y.data[b * U + u];
      mx = fmax(mx, lg[k]);
    }
    for (int64_t k = 0; k < K; k++) z += exp(lg[k] - mx);
    for (int64_t k = 0; k < K; k++) a->pi[b * K + k] = (float)(exp(lg[k] - mx) / z);
    if (!act) continue;
    const double u0 = nd_rng_uniform1(rng);
    double acc = 0;
    act[b] = (int)K - 1;
    for (int64_t k = 0; k < K - 1; k++) {
      acc += a->pi[b * K + k];
      if (u0 < acc) {
        act[b] = (int)k;
        break;
      }
    }
  }
  return ND_OK;
}

/* learns from one decision whose forward was the net's last (sequence seq):
 * the replay with the rules on (plastic), REINFORCE through readout and BPTT
 * (pg), one blended step; a->adv holds the advantages (0: not scored) */
static nd_status agent_learn(agent *a, int64_t seq, const float *obs, const int *act) {
  if (!a->pg && !a->plastic) return ND_OK;
  const int64_t B = a->c.B, T = a->c.T, U = a->c.units, K = a->c.K;
  ND_CLI_TRY(nd_somp_net_set_sequences(a->net, seq));
  ND_CLI_TRY(agent_forward(a, obs, a->plastic));
  nd_somp_net_zero_grad(a->net);
  if (a->pg) {
    ND_CLI_TRY(agent_policy(a, NULL, NULL));
    nd_tensor y;
    ND_CLI_TRY(nd_somp_net_output_step(a->net, 0, T - 1, &y));
    memset(a->dyb, 0, (size_t)(B * T * U) * sizeof(float));
    memset(a->gV, 0, (size_t)(K * U) * sizeof(float)), memset(a->gc, 0, (size_t)K * sizeof(float));
    /* d(-A log pi_a)/dlogits = -A (onehot - pi), mean over the batch */
    for (int64_t b = 0; b < B; b++)
      for (int64_t k = 0; k < K; k++) {
        const float g = -a->adv[b] * ((k == act[b]) - a->pi[b * K + k]) / (float)B;
        a->gc[k] += g;
        for (int64_t u = 0; u < U; u++) {
          a->gV[k * U + u] += g * y.data[b * U + u];
          a->dyb[(b * T + T - 1) * U + u] += g * a->V[k * U + u];
        }
      }
    const nd_tensor *dy[1] = {&a->tdy};
    ND_CLI_TRY(nd_somp_net_backward(a->net, dy, NULL));
  }
  ND_CLI_TRY(nd_somp_net_step(a->net));
  if (a->pg)
    for (int64_t k = 0; k < K; k++) {
      a->cb[k] -= (float)a->c.lr * a->gc[k];
      for (int64_t u = 0; u < U; u++) a->V[k * U + u] -= (float)a->c.lr * a->gV[k * U + u];
    }
  return ND_OK;
}

/* K-armed Bernoulli bandit (arm probabilities 0.1 .. 0.9 permuted per seed):
 * a constant observation, reward ~ Bernoulli(p_a), advantage r - running mean. */
typedef struct bandit_cfg {
  agent_cfg a;
  int64_t iters;
} bandit_cfg;

static nd_status bandit_run(const bandit_cfg *c, mode m, uint64_t seed, double *late_reward, double *late_best) {
  nd_rng rng;
  nd_rng_init(&rng, seed * 7919 + 1);
  const int64_t K = c->a.K, B = c->a.B;
  double p[16];
  for (int64_t k = 0; k < K; k++) p[k] = 0.1 + 0.8 * (double)k / (double)(K - 1);
  for (int64_t k = K - 1; k > 0; k--) {
    const int64_t j = (int64_t)(nd_rng_uniform1(&rng) * (double)(k + 1));
    const double t = p[k];
    p[k] = p[j], p[j] = t;
  }
  int best = 0;
  for (int k = 1; k < K; k++)
    if (p[k] > p[best]) best = k;
  agent a;
  nd_status st = agent_init(&a, &c->a, m, seed, &rng);
  float *obs = malloc((size_t)B * sizeof(float));
  int *act = malloc((size_t)B * sizeof(int));
  if (st == ND_OK && (!obs || !act)) st = nd_set_error(ND_ERR_NOMEM, "bandit: out of memory");
  for (int64_t b = 0; st == ND_OK && b < B; b++) obs[b] = 1.0f;
  double baseline = 0.5, rsum = 0, bsum = 0, cnt = 0;
  for (int64_t it = 0; it < c->iters && st == ND_OK; it++) {
    st = agent_forward(&a, obs, false);
    if (st == ND_OK) st = agent_policy(&a, &rng, act);
    if (st != ND_OK) break;
    double mean_r = 0;
    for (int64_t b = 0; b < B; b++) {
      const double r = nd_rng_uniform1(&rng) < p[act[b]] ? 1.0 : 0.0;
      a.adv[b] = (float)(r - baseline);
      mean_r += r / (double)B;
      if (it >= c->iters * 4 / 5) rsum += r, bsum += act[b] == best, cnt++;
    }
    baseline = 0.9 * baseline + 0.1 * mean_r;
    st = agent_learn(&a, nd_somp_net_sequences(a.net) - 1, obs, act);
  }
  *late_reward = cnt ? rsum / cnt : NAN;
  *late_best = cnt ? bsum / cnt : NAN;
  free(obs), free(act);
  agent_free(&a);
  return st;
}

/* A small grid world: side x side cells, the goal at a cell drawn per seed,
 * every episode from a uniform non-goal start; actions up, down, left, right
 * (into a wall: stay); reward +goal on reaching the goal (the episode ends),
 * -step_cost on every step; at most H steps.  Observation: the one-hot cell.
 * Return-to-go G_h = sum_{h' >= h} r_h' (undiscounted); advantage
 * A = G_h - b(s_h) with b a running mean of G per cell (the same baseline
 * for every mode).  Decisions of one batch of episodes are learned from
 * after the batch ends, in time order (one blended step each). */
typedef struct grid_cfg {
  agent_cfg a;
  int side, H;
  double goal, step_cost;
  int64_t iters;
} grid_cfg;

static int grid_move(int side, int s, int action) {
  int r = s / side, c = s % side;
  if (action == 0 && r > 0) r--;
  if (action == 1 && r < side - 1) r++;
  if (action == 2 && c > 0) c--;
  if (action == 3 && c < side - 1) c++;
  return r * side + c;
}

static int grid_start(nd_rng *rng, int side, int goal) {
  const int n = side * side;
  int s = (int)(nd_rng_uniform1(rng) * (double)(n - 1));
  return s >= goal ? s + 1 : s;
}

/* expected return of the shortest path and of the uniform random policy
 * (Monte Carlo, `episodes` episodes) from a uniform non-goal start */
static void grid_baselines(const grid_cfg *c, int goal, uint64_t seed, double *optimal, double *random_ret,
                           double *random_success) {
  const int n = c->side * c->side;
  double o = 0;
  for (int s = 0; s < n; s++) {
    if (s == goal) continue;
    const int d = abs(s / c->side - goal / c->side) + abs(s % c->side - goal % c->side);
    o += d <= c->H ? c->goal - c->step_cost * d : -c->step_cost * c->H;
  }
  *optimal = o / (n - 1);
  nd_rng rng;
  nd_rng_init(&rng, seed * 104729 + 3);
  const int episodes = 20000;
  double g = 0, succ = 0;
  for (int e = 0; e < episodes; e++) {
    int s = grid_start(&rng, c->side, goal);
    for (int h = 0; h < c->H; h++) {
      s = grid_move(c->side, s, (int)(nd_rng_uniform1(&rng) * 4));
      g -= c->step_cost;
      if (s == goal) {
        g += c->goal, succ++;
        break;
      }
    }
  }
  *random_ret = g / episodes, *random_success = succ / episodes;
}

/* the seed's random stream, its first draw the goal */
static int grid_goal(const grid_cfg *c, uint64_t seed, nd_rng *rng) {
  nd_rng_init(rng, seed * 15485863 + 5);
  return (int)(nd_rng_uniform1(rng) * c->side * c->side);
}

static nd_status grid_run(const grid_cfg *c, mode m, uint64_t seed, double *late_return, double *late_success,
                          double *late_steps) {
  nd_rng rng;
  const int goal = grid_goal(c, seed, &rng), n = c->side * c->side, H = c->H;
  const int64_t B = c->a.B;
  agent a;
  nd_status st = agent_init(&a, &c->a, m, seed, &rng);
  float *obs = calloc((size_t)(H * B * n), sizeof(float)), *rew = calloc((size_t)(H * B), sizeof(float));
  int *act = malloc((size_t)(H * B) * sizeof(int)), *state = malloc((size_t)B * sizeof(int));
  bool *alive = malloc((size_t)(H * B) * sizeof(bool));
  int64_t *seq = malloc((size_t)H * sizeof(int64_t));
  double *base = calloc((size_t)n, sizeof(double));
  if (st == ND_OK && (!obs || !rew || !act || !state || !alive || !seq || !base))
    st = nd_set_error(ND_ERR_NOMEM, "grid world: out of memory");
  double gsum = 0, ssum = 0, hsum = 0, cnt = 0;
  for (int64_t it = 0; it < c->iters && st == ND_OK; it++) {
    for (int64_t b = 0; b < B; b++) state[b] = grid_start(&rng, c->side, goal);
    memset(obs, 0, (size_t)(H * B * n) * sizeof(float));
    int steps = 0;
    for (int h = 0; h < H && st == ND_OK; h++) {
      bool any = false;
      for (int64_t b = 0; b < B; b++) {
        alive[h * B + b] = h == 0 || (alive[(h - 1) * B + b] && state[b] != goal);
        any |= alive[h * B + b];
        obs[(h * B + b) * n + state[b]] = 1.0f;
      }
      if (!any) break;
      st = agent_forward(&a, obs + h * B * n, false);
      if (st == ND_OK) st = agent_policy(&a, &rng, act + h * B);
      seq[h] = nd_somp_net_sequences(a.net) - 1;
      for (int64_t b = 0; b < B && st == ND_OK; b++) {
        rew[h * B + b] = 0;
        if (!alive[h * B + b]) continue;
        state[b] = grid_move(c->side, state[b], act[h * B + b]);
        rew[h * B + b] = (float)(-c->step_cost + (state[b] == goal ? c->goal : 0.0));
      }
      steps = h + 1;
    }
    if (st != ND_OK) break;
    const bool late = it >= c->iters * 4 / 5;
    for (int64_t b = 0; b < B; b++) { /* return-to-go into rew, the late statistics */
      double g = 0;
      int len = 0;
      for (int h = steps - 1; h >= 0; h--)
        if (alive[h * B + b]) g += rew[h * B + b], rew[h * B + b] = (float)g, len = len ? len : h + 1;
      if (late) gsum += g, ssum += g > -c->step_cost * H + 1e-9, hsum += len, cnt++;
    }
    for (int h = 0; h < steps && st == ND_OK; h++) {
      for (int64_t b = 0; b < B; b++) {
        a.adv[b] = 0;
        if (!alive[h * B + b]) continue;
        int s = 0;
        while (obs[(h * B + b) * n + s] == 0.0f) s++;
        a.adv[b] = (float)(rew[h * B + b] - base[s]);
        base[s] += 0.05 * (rew[h * B + b] - base[s]);
      }
      st = agent_learn(&a, seq[h], obs + h * B * n, act + h * B);
    }
  }
  *late_return = cnt ? gsum / cnt : NAN;
  *late_success = cnt ? ssum / cnt : NAN;
  *late_steps = cnt ? hsum / cnt : NAN;
  free(obs), free(rew), free(act), free(state), free(alive), free(seq), free(base);
  agent_free(&a);
  return st;
}

/* {"seed": seed, keys[i]: vals[i]} appended to arr */
static void add_run(cJSON *arr, uint64_t seed, int n, const char *const *keys, const double *vals) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "seed", (double)seed);
  for (int i = 0; i < n; i++) cJSON_AddNumberToObject(e, keys[i], vals[i]);
  cJSON_AddItemToArray(arr, e);
}

static const char *decision_mode_name(int m) { return m == M_SUPERVISED ? "reinforce" : mode_names[m]; }

static nd_status bandit_experiment(bool quick, cJSON *root) {
  const bandit_cfg c = {{1, 4, 32, 4, 16, 0.5, 0.05, 0.3}, quick ? 300 : 1500};
  const int seeds = quick ? 3 : 5;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "bandit", o);
  cJSON_AddNumberToObject(o, "arms", (double)c.a.K);
  cJSON_AddNumberToObject(o, "chance_reward", 0.5);
  cJSON_AddNumberToObject(o, "best_reward", 0.9);
  printf("%lld-armed Bernoulli bandit (p = 0.1 .. 0.9 permuted), %lld units, %lld updates of %lld trials; last 20%%:\n",
         (long long)c.a.K, (long long)c.a.units, (long long)c.iters, (long long)c.a.B);
  nd_status st = ND_OK;
  for (int m = 0; m < M_COUNT && st == ND_OK; m++) {
    double mr = 0, mb = 0;
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < seeds && st == ND_OK; k++) {
      double r = 0, b = 0;
      st = bandit_run(&c, (mode)m, (uint64_t)(k + 1), &r, &b);
      static const char *const keys[] = {"reward", "best_arm_fraction"};
      add_run(arr, (uint64_t)(k + 1), 2, keys, (const double[]){r, b});
      mr += r / seeds, mb += b / seeds;
    }
    cJSON *mo = results_mode(o, decision_mode_name(m));
    cJSON_AddItemToObject(mo, "runs", arr);
    cJSON_AddNumberToObject(mo, "reward_mean", mr);
    cJSON_AddNumberToObject(mo, "best_arm_fraction_mean", mb);
    printf("  %-11s reward %.3f, best arm %.3f (mean of %d seeds)\n", decision_mode_name(m), mr, mb, seeds);
  }
  return st;
}

/* the grid world's settings on the command line (the validation sweep) */
typedef struct grid_opts {
  double lr, eta;
  int64_t first_seed;
  int which; /* 0 both, 1 the bandit, 2 the grid world */
} grid_opts;

static nd_status grid_experiment(bool quick, const grid_opts *go, cJSON *root) {
  grid_cfg c = {{25, 4, 32, 3, 32, go->lr, go->eta, 0.3}, 5, 16, 1.0, 0.05, quick ? 150 : 600};
  const uint64_t seed0 = (uint64_t)go->first_seed;
  const int seeds = quick ? 3 : 5;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "gridworld", o);
  cJSON_AddNumberToObject(o, "side", c.side);
  cJSON_AddNumberToObject(o, "max_steps", c.H);
  cJSON_AddNumberToObject(o, "goal_reward", c.goal);
  cJSON_AddNumberToObject(o, "step_cost", c.step_cost);
  cJSON_AddNumberToObject(o, "lr", c.a.lr);
  cJSON_AddNumberToObject(o, "eta", c.a.eta);
  printf("%dx%d grid world (goal +%g, step -%g, at most %d steps), %lld units, %lld updates of %lld episodes; last 20%%:\n",
         c.side, c.side, c.goal, c.step_cost, c.H, (long long)c.a.units, (long long)c.iters, (long long)c.a.B);
  double opt = 0, rnd = 0, rsucc = 0;
  cJSON *bl = cJSON_CreateArray();
  for (int k = 0; k < seeds; k++) { /* the goal of each seed, as grid_run draws it */
    nd_rng rng;
    const uint64_t seed = seed0 + (uint64_t)k;
    const int goal = grid_goal(&c, seed, &rng);
    double o1, r1, s1;
    grid_baselines(&c, goal, seed, &o1, &r1, &s1);
    opt += o1 / seeds, rnd += r1 / seeds, rsucc += s1 / seeds;
    static const char *const keys[] = {"goal", "optimal_return", "random_return"};
    add_run(bl, seed, 3, keys, (const double[]){goal, o1, r1});
  }
  cJSON_AddItemToObject(o, "baselines", bl);
  cJSON_AddNumberToObject(o, "optimal_return", opt);
  cJSON_AddNumberToObject(o, "random_return", rnd);
  cJSON_AddNumberToObject(o, "random_success", rsucc);
  printf("  %-11s return %.3f, success %.3f\n  %-11s return %.3f\n", "random", rnd, rsucc, "optimal", opt);
  nd_status st = ND_OK;
  for (int m = 0; m < M_COUNT && st == ND_OK; m++) {
    double mr = 0, ms = 0, mh = 0;
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; k < seeds && st == ND_OK; k++) {
      double r = 0, s = 0, h = 0;
      const uint64_t seed = seed0 + (uint64_t)k;
      st = grid_run(&c, (mode)m, seed, &r, &s, &h);
      static const char *const keys[] = {"return", "success", "steps"};
      add_run(arr, seed, 3, keys, (const double[]){r, s, h});
      mr += r / seeds, ms += s / seeds, mh += h / seeds;
    }
    cJSON *mo = results_mode(o, decision_mode_name(m));
    cJSON_AddItemToObject(mo, "runs", arr);
    cJSON_AddNumberToObject(mo, "return_mean", mr);
    cJSON_AddNumberToObject(mo, "success_mean", ms);
    cJSON_AddNumberToObject(mo, "steps_mean", mh);
    printf("  %-11s return %.3f, success %.3f, steps %.2f (mean of %d seeds)\n", decision_mode_name(m), mr, ms, mh, seeds);
  }
  return st;
}

static nd_status decision(bool quick, const grid_opts *go, cJSON *root) {
  nd_status st = go->which != 2 ? bandit_experiment(quick, root) : ND_OK;
  return st == ND_OK && go->which != 1 ? grid_experiment(quick, go, root) : st;
}

/* ---------------------------------------------------------------- main */
int nd_cli_run_somp(int argc, char **argv) {
  int experiment = 0;
  bool quick = false;
  const char *corpus = NULL;
  grid_opts go = {0.2, 0.005, 1, 0};
  static const char *const tasks[] = {"both", "bandit", "grid", NULL};
  nd_cli_common common;
  static const char *const experiments[] = {"autoregression", "refinement", "decision", NULL};
  const nd_option table[] = {
      {"experiment", ND_OPT_CHOICE, &experiment, "autoregression", "autoregression (Mackey-Glass, characters), refinement (MNIST / Fashion-MNIST probes) or decision (bandit, grid world)", experiments},
      {"quick", ND_OPT_BOOL, &quick, "false", "the small CI-sized version (one seed)", NULL},
      {"corpus", ND_OPT_STRING, &corpus, SOMP_DEFAULT_CORPUS, "autoregression: the text file for character prediction", NULL},
      {"task", ND_OPT_CHOICE, &go.which, "both", "decision: both tasks, only the bandit or only the grid world", tasks},
      {"grid-lr", ND_OPT_DOUBLE, &go.lr, "0.2", "decision: the grid world's learning rate (default: chosen on seeds 101-105, docs/RESULTS.md)", NULL},
      {"grid-eta", ND_OPT_DOUBLE, &go.eta, "0.005", "decision: the grid world's Hebbian rate eta (default: the blend's choice; plasticity alone chose 0.05 with --grid-lr 0.1)", NULL},
      {"first-seed", ND_OPT_INT64, &go.first_seed, "1", "decision: the grid world's seeds are first-seed, first-seed + 1, ...", NULL},
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "--experiment NAME [--quick]",
                        "Runs one of the SOMPNet seed's experiments, comparing cells trained by supervised gradients "
                        "only, by local rules only and by the blend (plus a fixed random network and task baselines). "
                        "Writes results.json into --out (default runs/somp-NAME). docs/somp.md.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&common);
  char out[1024];
  snprintf(out, sizeof out, "%s/somp-%s", "runs", experiments[experiment]);
  if (common.out) snprintf(out, sizeof out, "%s", common.out);
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "experiment", experiments[experiment]);
  cJSON_AddBoolToObject(root, "quick", quick);
  int skipped = 0;
  const double t0 = nd_cli_now();
  nd_status s = experiment == 0 ? autoregression(quick, corpus, root)
                : experiment == 1 ? refinement(quick, root, &skipped)
                                  : decision(quick, &go, root);
  cJSON_AddNumberToObject(root, "seconds", nd_cli_now() - t0);
  if (s == ND_OK) {
    char path[1100];
    s = nd_cli_mkdirs(out);
    snprintf(path, sizeof path, "%s/results.json", out);
    if (s == ND_OK) {
      s = nd_cli_write_json(root, path);
      root = NULL;
    }
  }
  cJSON_Delete(root);
  if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  else rc = 0;
  nd_args_release(&args);
  return rc;
}
