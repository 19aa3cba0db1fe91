/* Reductions, top-k, softmax, log-softmax and cross-entropy against naive
 * double-precision loops: sums and dots (incl. long arrays where a float
 * accumulator would drift), row statistics, argmax ties (first wins), top-k
 * against a full sort with ties by lower index, softmax/log-softmax at large
 * logits, their backward passes against central differences, cross-entropy
 * value and gradient, bad labels and bad k. */
#include <string.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "neurodyn/kernels.h"

static void test_sum_dot_max_abs(void **state) {
  (void)state;
  kt_seed(41);
  const int64_t sizes[] = {1, 7, 255, 257, 100003};
  for (int s = 0; s < 5; s++) {
    const int64_t n = sizes[s];
    float *a = kt_rand(n, -1, 1), *b = kt_rand(n, -1, 1);
    double sa = 0, sd = 0, ma = 0;
    for (int64_t i = 0; i < n; i++) sa += a[i], sd += (double)a[i] * b[i], ma = fmax(ma, fabs(a[i]));
    nd_assert_close(nd_sum(a, n), sa, 1e-9 * n, 0);
    nd_assert_close(nd_dot(a, b, n), sd, 1e-9 * n, 0);
    nd_assert_close(nd_max_abs(a, n), ma, 0, 0);
    free(a), free(b);
  }
  /* 2^24 + many ones: a float accumulator would stall at 2^24 */
  const int64_t n = 1 << 20;
  float *ones = kt_fill(n, 1.0f);
  ones[0] = 16777216.0f;
  nd_assert_close(nd_sum(ones, n), 16777216.0 + (n - 1), 0, 0);
  free(ones);
  nd_assert_close(nd_sum(NULL, 0), 0, 0, 0);
}

static void test_row_stats(void **state) {
  (void)state;
  kt_seed(42);
  const int64_t shapes[][2] = {{1, 1}, {3, 17}, {17, 3}, {64, 513}, {9, 1000}};
  for (int s = 0; s < 5; s++) {
    const int64_t rows = shapes[s][0], cols = shapes[s][1];
    float *x = kt_rand(rows * cols, -3, 3), *sum = kt_fill(rows, NAN), *mean = kt_fill(rows, NAN),
          *mx = kt_fill(rows, NAN);
    int64_t *am = malloc(rows * sizeof *am);
    nd_row_sum(x, rows, cols, sum);
    nd_row_mean(x, rows, cols, mean);
    nd_row_max(x, rows, cols, mx);
    nd_row_argmax(x, rows, cols, am);
    for (int64_t r = 0; r < rows; r++) {
      double s_ = 0, m_ = -INFINITY;
      int64_t a_ = 0;
      for (int64_t c = 0; c < cols; c++) {
        s_ += x[r * cols + c];
        if (x[r * cols + c] > m_) m_ = x[r * cols + c], a_ = c;
      }
      nd_assert_close(sum[r], s_, 1e-5 * cols, 1e-6);
      nd_assert_close(mean[r], s_ / cols, 1e-6, 1e-5);
      nd_assert_close(mx[r], m_, 0, 0);
      assert_int_equal(am[r], a_);
    }
    free(x), free(sum), free(mean), free(mx), free(am);
  }
  /* ties: the first maximum wins */
  const float t[12] = {1, 5, 5, 2, /**/ 7, 7, 7, 7, /**/ -1, -3, -1, -2};
  int64_t am[3];
  nd_row_argmax(t, 3, 4, am);
  assert_int_equal(am[0], 1);
  assert_int_equal(am[1], 0);
  assert_int_equal(am[2], 0);
}

/* Reference: indices sorted by (value desc, index asc). */
static const float *sort_row;
static int cmp_desc(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  if (sort_row[a] != sort_row[b]) return sort_row[a] > sort_row[b] ? -1 : 1;
  return a < b ? -1 : 1;
}

static void test_topk(void **state) {
  (void)state;
  kt_seed(43);
  for (int it = 0; it < 60; it++) {
    const int64_t rows = kt_int(1, 9), cols = kt_int(1, 300), k = kt_int(0, cols);
    float *x = kt_rand(rows * cols, -1, 1);
    if (it % 2) /* many ties */
      for (int64_t i = 0; i < rows * cols; i++) x[i] = (float)kt_int(-3, 3);
    float *vals = kt_fill(rows * (k ? k : 1), NAN);
    int64_t *idx = malloc((size_t)(rows * (k ? k : 1)) * sizeof *idx), *order = malloc(cols * sizeof *order);
    int64_t *idx_only = malloc((size_t)(rows * (k ? k : 1)) * sizeof *idx_only);
    nd_assert_ok(nd_row_topk(x, rows, cols, k, vals, idx));
    nd_assert_ok(nd_row_topk(x, rows, cols, k, NULL, idx_only));
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t c = 0; c < cols; c++) order[c] = c;
      sort_row = x + r * cols;
      qsort(order, (size_t)cols, sizeof *order, cmp_desc);
      for (int64_t j = 0; j < k; j++) {
        if (idx[r * k + j] != order[j] || vals[r * k + j] != sort_row[order[j]] || idx_only[r * k + j] != order[j])
          fail_msg("topk rows %lld cols %lld k %lld: row %lld rank %lld got (%lld, %g) want (%lld, %g)",
                   (long long)rows, (long long)cols, (long long)k, (long long)r, (long long)j,
                   (long long)idx[r * k + j], vals[r * k + j], (long long)order[j], sort_row[order[j]]);
      }
    }
    free(x), free(vals), free(idx), free(order), free(idx_only);
  }
  float x[3] = {1, 2, 3}, v[3];
  assert_int_equal(nd_row_topk(x, 1, 3, 4, v, NULL), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "k"));
  assert_int_equal(nd_row_topk(x, 1, 3, -1, v, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_row_topk(NULL, 1, 3, 1, v, NULL), ND_ERR_INVALID_ARG);
}

/* Double-precision softmax of one row. */
static void ref_softmax(const float *x, int64_t cols, double *p) {
  double m = -INFINITY, s = 0;
  for (int64_t i = 0; i < cols; i++) m = fmax(m, x[i]);
  for (int64_t i = 0; i < cols; i++) s += p[i] = exp((double)x[i] - m);
  for (int64_t i = 0; i < cols; i++) p[i] /= s;
}

static void test_softmax_forward(void **state) {
  (void)state;
  kt_seed(44);
  const int64_t shapes[][2] = {{1, 1}, {4, 10}, {7, 333}};
  const float offsets[] = {0, 1000, -1000, 80};
  for (int s = 0; s < 3; s++)
    for (int o = 0; o < 4; o++) {
      const int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
      float *x = kt_rand(n, -10, 10), *y = kt_fill(n, NAN), *ly = kt_fill(n, NAN);
      for (int64_t i = 0; i < n; i++) x[i] += offsets[o]; /* large logits: exp would overflow unshifted */
      double *p = malloc(cols * sizeof *p);
      nd_softmax(x, rows, cols, y);
      nd_log_softmax(x, rows, cols, ly);
      for (int64_t r = 0; r < rows; r++) {
        ref_softmax(x + r * cols, cols, p);
        double tot = 0;
        for (int64_t c = 0; c < cols; c++) {
          nd_assert_close(y[r * cols + c], p[c], 1e-7, 1e-5);
          if (p[c] > 1e-30) nd_assert_close(ly[r * cols + c], log(p[c]), 2e-5, 1e-6);
          assert_true(isfinite(ly[r * cols + c]));
          tot += y[r * cols + c];
        }
        nd_assert_close(tot, 1.0, 1e-5, 0);
      }
      /* in place */
      nd_softmax(x, rows, cols, x);
      nd_assert_arrays_close(x, y, n, 0, 0, "softmax in place");
      free(x), free(y), free(ly), free(p);
    }
}

/* Backward of softmax and log-softmax against central differences of the
 * double-precision forward: d/dx_j sum_i g_i f_i(x). */
static void test_softmax_backward(void **state) {
  (void)state;
  kt_seed(45);
  const int64_t rows = 3, cols = 11, n = rows * cols;
  float *x = kt_rand(n, -4, 4), *g = kt_rand(n, -1, 1), *y = malloc(n * sizeof *y), *ly = malloc(n * sizeof *ly);
  float *dx = kt_fill(n, NAN), *ldx = kt_fill(n, NAN);
  nd_softmax(x, rows, cols, y);
  nd_log_softmax(x, rows, cols, ly);
  nd_softmax_backward(y, g, rows, cols, dx);
  nd_log_softmax_backward(ly, g, rows, cols, ldx);
  double p[11], xr[11];
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < cols; j++) {
      double f[2][2]; /* [softmax/log][+h/-h] */
      const double h = 1e-4;
      for (int sgnh = 0; sgnh < 2; sgnh++) {
        for (int64_t c = 0; c < cols; c++) xr[c] = x[r * cols + c];
        xr[j] += sgnh ? -h : h;
        /* forward in double (ref_softmax takes floats: do it inline) */
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < cols; c++) m = fmax(m, xr[c]);
        for (int64_t c = 0; c < cols; c++) s += p[c] = exp(xr[c] - m);
        double fs = 0, fl = 0;
        for (int64_t c = 0; c < cols; c++) {
          fs += g[r * cols + c] * p[c] / s;
          fl += g[r * cols + c] * (xr[c] - m - log(s));
        }
        f[0][sgnh] = fs;
        f[1][sgnh] = fl;
      }
      nd_assert_close(dx[r * cols + j], (f[0][0] - f[0][1]) / (2 * h), 1e-5, 1e-4);
      nd_assert_close(ldx[r * cols + j], (f[1][0] - f[1][1]) / (2 * h), 1e-5, 1e-4);
    }
  free(x), free(g), free(y), free(ly), free(dx), free(ldx);
}

static void test_cross_entropy(void **state) {
  (void)state;
  kt_seed(46);
  const int64_t rows = 6, cols = 9, n = rows * cols;
  float *x = kt_rand(n, -5, 5), *d = kt_fill(n, NAN);
  int32_t labels[6];
  for (int r = 0; r < rows; r++) labels[r] = (int32_t)kt_int(0, cols - 1);
  x[0] += 500; /* a large logit on a wrong label: stable, costs about 500 */
  labels[0] = 1;
  double loss = NAN;
  nd_assert_ok(nd_cross_entropy(x, labels, rows, cols, &loss, d));
  double want = 0, p[9];
  for (int64_t r = 0; r < rows; r++) {
    ref_softmax(x + r * cols, cols, p);
    /* -log p[label] computed as lse - x[label] in double */
    double m = -INFINITY, s = 0;
    for (int64_t c = 0; c < cols; c++) m = fmax(m, x[r * cols + c]);
    for (int64_t c = 0; c < cols; c++) s += exp((double)x[r * cols + c] - m);
    want += m + log(s) - x[r * cols + labels[r]];
    for (int64_t c = 0; c < cols; c++)
      nd_assert_close(d[r * cols + c], (p[c] - (c == labels[r])) / rows, 1e-7, 1e-5);
  }
  want /= rows;
  nd_assert_close(loss, want, 1e-6, 1e-6);
  assert_true(loss > 480.0 / rows);
  /* without gradient */
  double loss2 = NAN;
  nd_assert_ok(nd_cross_entropy(x, labels, rows, cols, &loss2, NULL));
  nd_assert_close(loss2, loss, 0, 1e-12);
  /* hand case: two equal logits -> log 2 */
  const float two[2] = {3, 3};
  const int32_t l0[1] = {1};
  nd_assert_ok(nd_cross_entropy(two, l0, 1, 2, &loss2, NULL));
  nd_assert_close(loss2, log(2.0), 1e-7, 0);
  /* bad labels */
  int32_t bad[6] = {0, 1, 2, 9, 0, 0};
  assert_int_equal(nd_cross_entropy(x, bad, rows, cols, &loss2, d), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "labels[3]"));
  bad[3] = -1;
  assert_int_equal(nd_cross_entropy(x, bad, rows, cols, &loss2, d), ND_ERR_INVALID_ARG);
  free(x), free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sum_dot_max_abs), cmocka_unit_test(test_row_stats),
      cmocka_unit_test(test_topk),            cmocka_unit_test(test_softmax_forward),
      cmocka_unit_test(test_softmax_backward), cmocka_unit_test(test_cross_entropy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
