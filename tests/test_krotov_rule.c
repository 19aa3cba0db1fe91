/* Unit tests of the Krotov-Hopfield official fast rule (src/models/krotov/rule.c)
 * against naive double-precision loops written from the notebook's equations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"

/* Epochs done, through the status-returning getter. */
static int64_t epochs_done(const nd_krotov *m) {
  nd_train_state st;
  nd_assert_ok(nd_krotov_get_state(m, &st));
  return st.epoch;
}

/* ------------------------------------------------------------ naive reference */

static const double *g_sort_vals;
static int cmp_rank(const void *a, const void *b) {
  int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
  double x = g_sort_vals[i], y = g_sort_vals[j];
  if (x != x) x = -INFINITY;
  if (y != y) y = -INFINITY;
  if (x > y) return -1;
  if (x < y) return 1;
  return i < j ? -1 : (i > j);
}

/* Full sort, best first (value descending, lower index first on ties). */
static void full_sort_rank(const double *x, int64_t cols, int64_t *order) {
  for (int64_t i = 0; i < cols; i++) order[i] = i;
  g_sort_vals = x;
  qsort(order, (size_t)cols, sizeof *order, cmp_rank);
}

/* One notebook minibatch, literally: I = (sign(W)|W|^(p-1)) V^T; yl = 0;
 * yl[top] = 1; yl[kth] = -delta; xx = sum(yl*I); ds = yl V - xx W;
 * W += eps ds / max(max|ds|, 1e-30).  W [H, D], V [n, D]. */
static void naive_step(double *w, const double *v, int64_t n, int64_t H, int64_t D, double p, int64_t k,
                       double delta, double eps) {
  double *in = calloc((size_t)(H * n), sizeof *in), *g = calloc((size_t)(H * n), sizeof *g);
  double *ds = calloc((size_t)(H * D), sizeof *ds), *col = malloc((size_t)H * sizeof *col);
  int64_t *order = malloc((size_t)H * sizeof *order);
  for (int64_t h = 0; h < H; h++)
    for (int64_t b = 0; b < n; b++) {
      double acc = 0;
      for (int64_t i = 0; i < D; i++) {
        double x = w[h * D + i];
        double sg = (x > 0) - (x < 0);
        acc += sg * pow(fabs(x), p - 1) * v[b * D + i];
      }
      in[h * n + b] = acc;
    }
  for (int64_t b = 0; b < n; b++) {
    for (int64_t h = 0; h < H; h++) col[h] = in[h * n + b];
    full_sort_rank(col, H, order);
    g[order[0] * n + b] = 1.0;
    g[order[k - 1] * n + b] = -delta;
  }
  double m = 0;
  for (int64_t h = 0; h < H; h++) {
    double xx = 0;
    for (int64_t b = 0; b < n; b++) xx += g[h * n + b] * in[h * n + b];
    for (int64_t i = 0; i < D; i++) {
      double acc = 0;
      for (int64_t b = 0; b < n; b++) acc += g[h * n + b] * v[b * D + i];
      ds[h * D + i] = acc - xx * w[h * D + i];
      if (fabs(ds[h * D + i]) > m) m = fabs(ds[h * D + i]);
    }
  }
  double nc = m > 1e-30 ? m : 1e-30;
  for (int64_t j = 0; j < H * D; j++) w[j] += eps * ds[j] / nc;
  free(in), free(g), free(ds), free(col), free(order);
}

static double rel_diff(const double *a, const double *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num) / sqrt(den);
}

static void fill_uniform(double *x, int64_t n, uint64_t seed, double lo, double hi) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform_f64(&r, x, n, lo, hi);
}

static nd_krotov *make(int64_t H, int64_t D, int64_t B, double p, int64_t k, nd_krotov_precision prec,
                       nd_krotov_update upd) {
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = H, c.visible = D, c.batch = B, c.p = p, c.k = k, c.precision = prec, c.update = upd, c.seed = 11;
  nd_krotov *m = NULL;
  nd_assert_ok(nd_krotov_create(&c, &m));
  return m;
}

/* ------------------------------------------------------------ tests */

/* 2 samples, 3 units, 2 inputs, p = 3, k = 2, delta = 0.4: every mode against
 * the hand-set case and the naive loop. */
static void test_hand_case(void **state) {
  (void)state;
  const double w0[6] = {0.5, -1.0, 2.0, 0.25, -0.5, 1.5};
  const double v[4] = {1.0, 0.5, 0.2, 0.9};
  /* Wp = sign(W)|W|^2 = [[0.25,-1],[4,0.0625],[-0.25,2.25]];
   * sample 0: I = [-0.25, 4.03125, 0.875] -> top 1, 2nd 2
   * sample 1: I = [-0.85, 0.85625, 1.975] -> top 2, 2nd 1 */
  double want[6];
  memcpy(want, w0, sizeof want);
  naive_step(want, v, 2, 3, 2, 3.0, 2, 0.4, 0.02);
  /* hand values: xx = [0, 4.03125 - 0.4*0.85625, 1.975 - 0.4*0.875] = [0, 3.68875, 1.625]
   * ds row 1 = v0 - 0.4 v1 - 3.68875 W1 = [1 - 0.08 - 7.3775, 0.5 - 0.36 - 0.9221875]
   * ds row 2 = v1 - 0.4 v0 - 1.625 W2 = [0.2 - 0.4 + 0.8125, 0.9 - 0.2 - 2.4375]
   * max|ds| = 6.4575; row 0 unchanged. */
  const double ds1[2] = {1 - 0.08 - 7.3775, 0.5 - 0.36 - 0.9221875};
  const double ds2[2] = {0.2 - 0.4 + 0.8125, 0.9 - 0.2 - 2.4375};
  const double hand[6] = {0.5, -1.0, 2.0 + 0.02 * ds1[0] / 6.4575, 0.25 + 0.02 * ds1[1] / 6.4575,
                          -0.5 + 0.02 * ds2[0] / 6.4575, 1.5 + 0.02 * ds2[1] / 6.4575};
  for (int i = 0; i < 6; i++) nd_assert_close(want[i], hand[i], 1e-15, 1e-14);
  for (int prec = 0; prec < 2; prec++)
    for (int upd = 0; upd < 2; upd++) {
      nd_krotov *m = make(3, 2, 2, 3.0, 2, (nd_krotov_precision)prec, (nd_krotov_update)upd);
      nd_assert_ok(nd_krotov_set_weights_f64(m, w0));
      nd_assert_ok(nd_krotov_minibatch_f64(m, v, 2, 0.02));
      double got[6];
      nd_krotov_weights_f64(m, got);
      double tol = prec == ND_KROTOV_F64 ? 1e-14 : 2e-7;
      for (int i = 0; i < 6; i++) nd_assert_close(got[i], hand[i], tol, tol);
      nd_krotov_free(m);
    }
}

/* Random case, several minibatches, larger k (both ranking paths), p = 3 and
 * a non-integer p, every mode. */
static void test_random_vs_naive(void **state) {
  (void)state;
  const int64_t H = 40, D = 30, B = 12, steps = 5;
  const double ps[2] = {3.0, 2.5};
  const int64_t ks[2] = {7, 20};
  double *w0 = malloc(H * D * sizeof *w0), *v = malloc(steps * B * D * sizeof *v);
  double *want = malloc(H * D * sizeof *want), *got = malloc(H * D * sizeof *got);
  for (int pi = 0; pi < 2; pi++)
    for (int ki = 0; ki < 2; ki++) {
      fill_uniform(w0, H * D, 100 + pi, -1, 1);
      fill_uniform(v, steps * B * D, 200 + ki, 0, 1);
      memcpy(want, w0, H * D * sizeof *w0);
      for (int s = 0; s < steps; s++) naive_step(want, v + s * B * D, B, H, D, ps[pi], ks[ki], 0.4, 0.05);
      for (int prec = 0; prec < 2; prec++)
        for (int upd = 0; upd < 2; upd++) {
          nd_krotov *m = make(H, D, B, ps[pi], ks[ki], (nd_krotov_precision)prec, (nd_krotov_update)upd);
          nd_assert_ok(nd_krotov_set_weights_f64(m, w0));
          for (int s = 0; s < steps; s++) nd_assert_ok(nd_krotov_minibatch_f64(m, v + s * B * D, B, 0.05));
          nd_krotov_weights_f64(m, got);
          double r = rel_diff(got, want, H * D);
          double tol = prec == ND_KROTOV_F64 ? 1e-12 : 1e-5;
          if (!(r <= tol))
            fail_msg("p %g k %lld prec %d update %d: relative difference %.3g > %.3g", ps[pi], (long long)ks[ki],
                     prec, upd, r, tol);
          nd_krotov_free(m);
        }
    }
  free(w0), free(v), free(want), free(got);
}

static void test_rank_ties(void **state) {
  (void)state;
  int64_t top, kth;
  const float a[4] = {1, 3, 3, 2};
  nd_assert_ok(nd_krotov_rank(a, 1, 4, 2, &top, &kth));
  assert_int_equal(top, 1);
  assert_int_equal(kth, 2);
  nd_assert_ok(nd_krotov_rank(a, 1, 4, 3, &top, &kth));
  assert_int_equal(kth, 3);
  const float b[3] = {5, 5, 5};
  nd_assert_ok(nd_krotov_rank(b, 1, 3, 3, &top, &kth));
  assert_int_equal(top, 0);
  assert_int_equal(kth, 2);
  const float c[4] = {NAN, -1, NAN, -INFINITY};
  nd_assert_ok(nd_krotov_rank(c, 1, 4, 2, &top, &kth));
  assert_int_equal(top, 1);
  assert_int_equal(kth, 0); /* NaN ranks as -inf; ties to the lower index */
  /* a NaN first in a later block of the running list must not hide the block */
  float e[100];
  for (int i = 0; i < 100; i++) e[i] = 0.01f * (float)i;
  e[64] = NAN;
  e[70] = 10;
  e[96] = NAN;
  e[97] = 20;
  nd_assert_ok(nd_krotov_rank(e, 1, 100, 2, &top, &kth));
  assert_int_equal(top, 97);
  assert_int_equal(kth, 70);
  /* the same ties through the quickselect path (k > 16) */
  float d[40];
  for (int i = 0; i < 40; i++) d[i] = (float)(i % 4);
  nd_assert_ok(nd_krotov_rank(d, 1, 40, 17, &top, &kth));
  assert_int_equal(top, 3);                          /* first of the ten 3s */
  assert_int_equal(kth, 2 + 4 * 6);                  /* 10 threes, then the 2s: 7th two is index 26 */
  assert_int_equal(nd_krotov_rank(d, 1, 40, 41, &top, &kth), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_krotov_rank(d, 1, 40, 0, &top, &kth), ND_ERR_INVALID_ARG);
}

/* Partial selection against a full sort on random rows, with many ties. */
static void test_rank_vs_sort(void **state) {
  (void)state;
  const int64_t rows = 50, cols = 300;
  double *x = malloc(rows * cols * sizeof *x);
  float *xf = malloc(rows * cols * sizeof *xf);
  int64_t *order = malloc(cols * sizeof *order), top[50], kth[50];
  const int64_t ks[] = {1, 2, 7, 16, 17, 40, 150, 300};
  for (int rep = 0; rep < 2; rep++) {
    fill_uniform(x, rows * cols, 7 + rep, -1, 1);
    if (rep == 1) /* coarse values: many ties */
      for (int64_t i = 0; i < rows * cols; i++) x[i] = floor(x[i] * 8);
    for (int64_t i = 0; i < rows * cols; i++) xf[i] = (float)x[i], x[i] = xf[i];
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
      int64_t k = ks[ki];
      for (int prec = 0; prec < 2; prec++) {
        if (prec == 0)
          nd_assert_ok(nd_krotov_rank(xf, rows, cols, k, top, kth));
        else
          nd_assert_ok(nd_krotov_rank_f64(x, rows, cols, k, top, kth));
        for (int64_t r = 0; r < rows; r++) {
          full_sort_rank(x + r * cols, cols, order);
          if (top[r] != order[0] || kth[r] != order[k - 1])
            fail_msg("rep %d k %lld prec %d row %lld: got top %lld kth %lld, sort gives %lld %lld", rep,
                     (long long)k, prec, (long long)r, (long long)top[r], (long long)kth[r], (long long)order[0],
                     (long long)order[k - 1]);
        }
      }
    }
  }
  free(x), free(xf), free(order);
}

/* The largest single change of W is eps (the max-abs normalisation). */
static void test_max_change_is_eps(void **state) {
  (void)state;
  const int64_t H = 60, D = 50, B = 20;
  float *v = malloc(B * D * sizeof *v);
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_rng_uniform(&r, v, B * D, 0, 1);
  for (int prec = 0; prec < 2; prec++)
    for (int upd = 0; upd < 2; upd++) {
      nd_krotov *m = make(H, D, B, 3.0, 7, (nd_krotov_precision)prec, (nd_krotov_update)upd);
      double *b64 = malloc(H * D * sizeof *b64), *a64 = malloc(H * D * sizeof *a64);
      nd_krotov_weights_f64(m, b64);
      nd_assert_ok(nd_krotov_minibatch(m, v, B, 0.03));
      nd_krotov_weights_f64(m, a64);
      double mx = 0;
      int64_t changed_rows = 0;
      for (int64_t h = 0; h < H; h++) {
        int ch = 0;
        for (int64_t i = 0; i < D; i++) {
          double d = fabs(a64[h * D + i] - b64[h * D + i]);
          if (d > mx) mx = d;
          if (d != 0) ch = 1;
        }
        changed_rows += ch;
      }
      nd_assert_close(mx, 0.03, 0, prec == ND_KROTOV_F64 ? 1e-12 : 1e-4);
      assert_true(changed_rows >= 1 && changed_rows <= 2 * B);
      free(b64), free(a64);
      nd_krotov_free(m);
    }
  free(v);
}

/* Epochs: eps anneal, determinism for a seed, and an exact resume from
 * (W, state) in a fresh model created with another seed. */
static void test_epoch_resume(void **state) {
  (void)state;
  const int64_t H = 30, D = 20, B = 10, N = 55; /* 5 full minibatches, remainder 5 skipped */
  float *data = malloc(N * D * sizeof *data);
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  for (int prec = 0; prec < 2; prec++) {
    nd_krotov_config c = nd_krotov_defaults();
    c.hidden = H, c.visible = D, c.batch = B, c.p = 3, c.k = 3, c.epochs = 4, c.seed = 42;
    c.precision = (nd_krotov_precision)prec;
    nd_assert_close(nd_krotov_eps(&c, 0), 0.02, 0, 1e-15);
    nd_assert_close(nd_krotov_eps(&c, 3), 0.005, 0, 1e-15);
    nd_krotov *a = NULL, *b = NULL, *d = NULL;
    nd_assert_ok(nd_krotov_create(&c, &a));
    nd_assert_ok(nd_krotov_create(&c, &b));
    double *wa = malloc(H * D * sizeof *wa), *wb = malloc(H * D * sizeof *wb);
    nd_krotov_weights_f64(a, wa);
    nd_krotov_weights_f64(b, wb);
    assert_memory_equal(wa, wb, H * D * sizeof *wa); /* same seed, same W */
    int64_t calls = 0;
    for (int e = 0; e < 3; e++) nd_assert_ok(nd_krotov_epoch(a, data, N, NULL, NULL));
    nd_assert_ok(nd_krotov_epoch(b, data, N, NULL, NULL));
    nd_train_state st;
    nd_assert_ok(nd_krotov_get_state(b, &st));
    assert_int_equal(st.epoch, 1);
    nd_krotov_weights_f64(b, wb);
    c.seed = 999;
    nd_assert_ok(nd_krotov_create(&c, &d));
    nd_assert_ok(nd_krotov_set_weights_f64(d, wb));
    nd_assert_ok(nd_krotov_set_state(d, &st));
    for (int e = 0; e < 2; e++) nd_assert_ok(nd_krotov_epoch(d, data, N, NULL, NULL));
    assert_int_equal(epochs_done(d), 3);
    nd_krotov_weights_f64(a, wa);
    nd_krotov_weights_f64(d, wb);
    assert_memory_equal(wa, wb, H * D * sizeof *wa);
    /* the float32 view agrees with the weights */
    const nd_tensor *t = nd_krotov_weights(d);
    assert_int_equal(t->shape[0], H);
    assert_int_equal(t->shape[1], D);
    for (int64_t i = 0; i < H * D; i++) assert_true(t->data[i] == (float)wb[i]);
    nd_krotov_free(a), nd_krotov_free(b), nd_krotov_free(d);
    free(wa), free(wb);
    (void)calls;
  }
  free(data);
}

/* The epoch equals its minibatches applied by hand in the permutation order
 * drawn from the shuffle stream. */
static int count_progress(const nd_progress_info *info, void *user) {
  int64_t *n = user;
  assert_int_equal(info->done, n[0] + 1);
  n[0] = info->done;
  n[1] = info->total;
  return 0;
}

static void test_epoch_matches_minibatches(void **state) {
  (void)state;
  const int64_t H = 25, D = 16, B = 8, N = 40;
  float *data = malloc(N * D * sizeof *data), *v = malloc(B * D * sizeof *v);
  int64_t perm[40];
  nd_rng r;
  nd_rng_init(&r, 8);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = H, c.visible = D, c.batch = B, c.p = 2, c.k = 2, c.epochs = 10, c.seed = 4;
  nd_krotov *a = NULL, *b = NULL;
  nd_assert_ok(nd_krotov_create(&c, &a));
  nd_assert_ok(nd_krotov_create(&c, &b));
  nd_assert_ok(nd_krotov_epoch(a, data, N, NULL, NULL));
  int64_t prog[2] = {0, 0};
  nd_assert_ok(nd_krotov_epoch(a, data, N, count_progress, prog));
  assert_int_equal(prog[0], 5);
  assert_int_equal(prog[1], 5);
  nd_train_state st;
    nd_assert_ok(nd_krotov_get_state(b, &st));
  nd_rng sh = {.key = st.rng_key, .counter = st.rng_counter};
  /* the second epoch's winners, ranked independently (p = 2: I = W v, full sort in double) */
  int won[25] = {0}, winners = 0;
  double col[25];
  int64_t order[25];
  for (int e = 0; e < 2; e++) {
    nd_rng_permutation(&sh, perm, N);
    for (int64_t mb = 0; mb < N / B; mb++) {
      for (int64_t i = 0; i < B; i++) memcpy(v + i * D, data + perm[mb * B + i] * D, D * sizeof *v);
      const float *w = nd_krotov_weights(b)->data;
      for (int64_t i = 0; e == 1 && i < B; i++) {
        for (int64_t h = 0; h < H; h++) {
          double acc = 0;
          for (int64_t j = 0; j < D; j++) acc += (double)w[h * D + j] * v[i * D + j];
          col[h] = acc;
        }
        full_sort_rank(col, H, order);
        if (!won[order[0]]) won[order[0]] = 1, winners++;
      }
      nd_assert_ok(nd_krotov_minibatch(b, v, B, 0.02 * (1.0 - e / 10.0)));
    }
  }
  assert_memory_equal(nd_krotov_weights(a)->data, nd_krotov_weights(b)->data, H * D * sizeof(float));
  assert_true(winners > 1);
  assert_int_equal(nd_krotov_winners(a), winners);
  /* an epoch of one repeated sample has exactly one winner: the count restarts each epoch */
  for (int64_t i = 0; i < B; i++) memcpy(v + i * D, data, D * sizeof *v);
  nd_assert_ok(nd_krotov_epoch(a, v, B, NULL, NULL));
  assert_int_equal(nd_krotov_winners(a), 1);
  nd_krotov_free(a), nd_krotov_free(b);
  free(data), free(v);
}

static void test_errors(void **state) {
  (void)state;
  nd_krotov *m = NULL;
  nd_krotov_config c = nd_krotov_defaults();
  c.k = 0;
  assert_int_equal(nd_krotov_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "k = 0"));
  c = nd_krotov_defaults(), c.k = 101;
  assert_int_equal(nd_krotov_create(&c, &m), ND_ERR_INVALID_ARG);
  c = nd_krotov_defaults(), c.p = 0.5;
  assert_int_equal(nd_krotov_create(&c, &m), ND_ERR_INVALID_ARG);
  c = nd_krotov_defaults(), c.batch = 0;
  assert_int_equal(nd_krotov_create(&c, &m), ND_ERR_INVALID_ARG);
  c = nd_krotov_defaults(), c.precision = (nd_krotov_precision)7;
  assert_int_equal(nd_krotov_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_null(m);

  c = nd_krotov_defaults();
  c.hidden = 10, c.visible = 4, c.batch = 3;
  nd_assert_ok(nd_krotov_create(&c, &m));
  float v[12] = {0};
  assert_int_equal(nd_krotov_minibatch(m, v, 4, 0.1), ND_ERR_SHAPE);
  assert_int_equal(nd_krotov_minibatch(m, v, 0, 0.1), ND_ERR_SHAPE);
  nd_tensor *bad = nd_test_tensor(2, ND_SHAPE(4, 10));
  assert_int_equal(nd_krotov_set_weights(m, bad), ND_ERR_SHAPE);
  nd_tensor_free(bad);
  /* a NaN input: ND_ERR_NUMERIC, W unchanged */
  float before[40];
  memcpy(before, nd_krotov_weights(m)->data, sizeof before);
  v[1] = NAN;
  assert_int_equal(nd_krotov_minibatch(m, v, 3, 0.1), ND_ERR_NUMERIC);
  assert_memory_equal(before, nd_krotov_weights(m)->data, sizeof before);
  nd_train_state st = {.epoch = -1};
  assert_int_equal(nd_krotov_set_state(m, &st), ND_ERR_INVALID_ARG);
  nd_krotov_free(m);
}

/* Defaults are the notebook's. */
static void test_defaults(void **state) {
  (void)state;
  nd_krotov_config c = nd_krotov_defaults();
  assert_int_equal(c.hidden, 100);
  assert_int_equal(c.visible, 784);
  assert_true(c.p == 2.0 && c.k == 2 && c.delta == 0.4 && c.eps0 == 0.02);
  assert_int_equal(c.epochs, 200);
  assert_int_equal(c.batch, 100);
  assert_true(c.init_mean == 0 && c.init_std == 1 && c.prec == 1e-30);
  assert_int_equal(c.precision, ND_KROTOV_F32);
  /* W ~ N(0, 1): sample moments of 78400 draws */
  nd_krotov *m = NULL;
  nd_assert_ok(nd_krotov_create(&c, &m));
  const nd_tensor *w = nd_krotov_weights(m);
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < 78400; i++) s += w->data[i], s2 += (double)w->data[i] * w->data[i];
  nd_assert_close(s / 78400, 0, 0.02, 0);
  nd_assert_close(s2 / 78400, 1, 0.03, 0);
  nd_krotov_free(m);
}

/* The fast rule's sparse update is the Eq. 3 plasticity rule
 * (nd_krotov_plasticity_create) applied to its g = +1 (top) / -delta (k-th)
 * and normalised to a largest change of eps. */
static void test_sparse_update_is_the_plasticity_rule(void **state) {
  (void)state;
  const int64_t H = 30, D = 20, B = 12;
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = H, c.visible = D, c.batch = B, c.p = 3, c.k = 4, c.delta = 0.3, c.seed = 21;
  nd_krotov *k = NULL;
  nd_assert_ok(nd_krotov_create(&c, &k));
  float *v = malloc(sizeof(float) * B * D), *w0 = malloc(sizeof(float) * H * D), *wp = malloc(sizeof(float) * H * D);
  float *cur = malloc(sizeof(float) * B * H), *g = calloc((size_t)(B * H), sizeof(float)), *ds = calloc((size_t)(H * D), sizeof(float));
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_uniform(&r, v, B * D, 0, 1);
  memcpy(w0, nd_krotov_weights(k)->data, sizeof(float) * H * D);
  for (int64_t i = 0; i < H * D; i++) wp[i] = w0[i] * fabsf(w0[i]); /* sign(W)|W|^(p-1), p = 3 */
  nd_sgemm(false, true, B, H, D, 1.0f, v, D, wp, D, 0.0f, cur, H);
  int64_t top[12], kth[12];
  nd_assert_ok(nd_krotov_rank(cur, B, H, c.k, top, kth));
  for (int64_t b = 0; b < B; b++) g[b * H + top[b]] = 1.0f, g[b * H + kth[b]] = (float)-c.delta;
  nd_plasticity_rule *rule = NULL;
  nd_assert_ok(nd_krotov_plasticity_create(H, 1.0, c.p, &rule));
  nd_tensor vt = nd_tensor_wrap(v, 2, ND_SHAPE(B, D)), gt = nd_tensor_wrap(g, 2, ND_SHAPE(B, H)),
            it = nd_tensor_wrap(cur, 2, ND_SHAPE(B, H)), wt = nd_tensor_wrap(w0, 2, ND_SHAPE(H, D)),
            dt = nd_tensor_wrap(ds, 2, ND_SHAPE(H, D));
  nd_plasticity_input in = {.pre = &vt, .post = &gt, .w = &wt, .n_extra = 1, .extra = {&it}};
  nd_assert_ok(nd_plasticity_accumulate(rule, &in, 1.0f, &dt));
  float m = 0;
  for (int64_t i = 0; i < H * D; i++) m = fabsf(ds[i]) > m ? fabsf(ds[i]) : m;
  const double eps = 0.01;
  nd_assert_ok(nd_krotov_minibatch(k, v, B, eps));
  const float *w1 = nd_krotov_weights(k)->data;
  double worst = 0;
  for (int64_t i = 0; i < H * D; i++) {
    double want = (double)w0[i] + eps * (double)ds[i] / (double)m;
    double e = fabs((double)w1[i] - want);
    worst = e > worst ? e : worst;
  }
  assert_true(worst < 1e-6); /* the largest change is eps = 1e-2 */
  int64_t changed = 0;
  for (int64_t i = 0; i < H * D; i++) changed += w1[i] != w0[i];
  assert_true(changed > 0);
  nd_plasticity_rule_free(rule);
  nd_krotov_free(k);
  free(v), free(w0), free(wp), free(cur), free(g), free(ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_case),       cmocka_unit_test(test_random_vs_naive),
      cmocka_unit_test(test_rank_ties),       cmocka_unit_test(test_rank_vs_sort),
      cmocka_unit_test(test_max_change_is_eps), cmocka_unit_test(test_epoch_resume),
      cmocka_unit_test(test_epoch_matches_minibatches), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_sparse_update_is_the_plasticity_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
