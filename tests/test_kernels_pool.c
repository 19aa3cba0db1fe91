/* Average pooling (both padding modes, strides, backward) and adaptive average
 * pooling (forward/backward, sizes that do not divide) against naive loops
 * written from PyTorch's definitions, plus the adjoint identity
 * <pool(x), g> = <x, pool^T(g)> and descriptor checks. */
#include <string.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "neurodyn/kernels.h"

/* Naive avg pool: window rows p*sh - ph .. +kh-1; divisor kh*kw when padding
 * counts (PyTorch count_include_pad=True, floor mode), else the in-image count. */
static void ref_avgpool(const nd_pool2d_desc *d, const float *x, double *y) {
  const int64_t P = nd_pool2d_out_h(d), Q = nd_pool2d_out_w(d);
  for (int64_t pl = 0; pl < d->batch * d->channels; pl++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t q = 0; q < Q; q++) {
        double s = 0;
        int64_t cnt = 0;
        for (int64_t r = 0; r < d->kernel_h; r++)
          for (int64_t c = 0; c < d->kernel_w; c++) {
            int64_t h = p * d->stride_h - d->pad_h + r, w = q * d->stride_w - d->pad_w + c;
            if (h < 0 || h >= d->in_h || w < 0 || w >= d->in_w) continue;
            s += x[(pl * d->in_h + h) * d->in_w + w];
            cnt++;
          }
        y[(pl * P + p) * Q + q] = s / (double)(d->count_include_pad ? d->kernel_h * d->kernel_w : cnt);
      }
}

/* Backward as a scatter: each output gradient spread over its window. */
static void ref_avgpool_backward(const nd_pool2d_desc *d, const float *dy, double *dx) {
  const int64_t P = nd_pool2d_out_h(d), Q = nd_pool2d_out_w(d);
  memset(dx, 0, (size_t)(d->batch * d->channels * d->in_h * d->in_w) * sizeof *dx);
  for (int64_t pl = 0; pl < d->batch * d->channels; pl++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t q = 0; q < Q; q++) {
        int64_t cnt = 0;
        for (int pass = 0; pass < 2; pass++)
          for (int64_t r = 0; r < d->kernel_h; r++)
            for (int64_t c = 0; c < d->kernel_w; c++) {
              int64_t h = p * d->stride_h - d->pad_h + r, w = q * d->stride_w - d->pad_w + c;
              if (h < 0 || h >= d->in_h || w < 0 || w >= d->in_w) continue;
              if (pass == 0) {
                cnt++;
                continue;
              }
              double div = (double)(d->count_include_pad ? d->kernel_h * d->kernel_w : cnt);
              dx[(pl * d->in_h + h) * d->in_w + w] += dy[(pl * P + p) * Q + q] / div;
            }
      }
}

static int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

static void check_d(const float *got, const double *want, int64_t n, double tol, const char *what) {
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i]))))
      fail_msg("%s: element %lld of %lld: got %.9g want %.9g", what, (long long)i, (long long)n, got[i], want[i]);
}

static void run_avgpool(const nd_pool2d_desc *d) {
  nd_assert_ok(nd_pool2d_check(d));
  const int64_t P = nd_pool2d_out_h(d), Q = nd_pool2d_out_w(d);
  const int64_t nx = d->batch * d->channels * d->in_h * d->in_w, ny = d->batch * d->channels * P * Q;
  float *x = kt_rand(nx, -1, 1), *g = kt_rand(ny, -1, 1), *y = kt_fill(ny, NAN), *dx = kt_fill(nx, NAN);
  double *ry = malloc((size_t)ny * sizeof *ry), *rdx = malloc((size_t)nx * sizeof *rdx);
  ref_avgpool(d, x, ry);
  ref_avgpool_backward(d, g, rdx);
  nd_assert_ok(nd_avgpool2d_forward(d, x, y));
  check_d(y, ry, ny, 1e-6, d->count_include_pad ? "avgpool forward (count pad)" : "avgpool forward (exclude pad)");
  nd_assert_ok(nd_avgpool2d_backward(d, g, dx));
  check_d(dx, rdx, nx, 1e-6, d->count_include_pad ? "avgpool backward (count pad)" : "avgpool backward (exclude pad)");
  nd_assert_close(kt_dot(y, g, ny), kt_dot(x, dx, nx), 1e-5 * (double)ny, 0);
  free(x), free(g), free(y), free(dx), free(ry), free(rdx);
}

static void test_avgpool_fixed(void **state) {
  (void)state;
  kt_seed(21);
  /* n, c, h, w, kh, kw, sh, sw, ph, pw */
  const int64_t cases[][10] = {
      {1, 1, 4, 4, 2, 2, 2, 2, 0, 0}, {2, 3, 7, 5, 3, 3, 2, 2, 1, 1}, {1, 2, 9, 8, 3, 2, 1, 1, 1, 1},
      {3, 1, 5, 5, 5, 5, 1, 1, 2, 2}, {1, 4, 11, 6, 4, 3, 3, 2, 2, 1}, {2, 2, 3, 10, 1, 3, 1, 3, 0, 1},
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {1, 3, 6, 13, 2, 4, 2, 3, 1, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int inc = 0; inc < 2; inc++) {
      const int64_t *v = cases[i];
      nd_pool2d_desc d = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], inc};
      run_avgpool(&d);
    }
}

static void test_avgpool_random(void **state) {
  (void)state;
  kt_seed(22);
  for (int it = 0; it < 60; it++) {
    nd_pool2d_desc d = {.batch = kt_int(1, 3), .channels = kt_int(1, 5)};
    d.kernel_h = kt_int(1, 5);
    d.kernel_w = kt_int(1, 5);
    d.stride_h = kt_int(1, 3);
    d.stride_w = kt_int(1, 3);
    d.pad_h = kt_int(0, d.kernel_h / 2);
    d.pad_w = kt_int(0, d.kernel_w / 2);
    d.in_h = kt_int(imax(1, d.kernel_h - 2 * d.pad_h), 17);
    d.in_w = kt_int(imax(1, d.kernel_w - 2 * d.pad_w), 17);
    d.count_include_pad = kt_int(0, 1);
    run_avgpool(&d);
  }
}

/* A case worked by hand: 3x3 input 1..9, 2x2 window, stride 1, pad 1. */
static void test_avgpool_hand(void **state) {
  (void)state;
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float y[16];
  nd_pool2d_desc d = {1, 1, 3, 3, 2, 2, 1, 1, 1, 1, true};
  assert_int_equal(nd_pool2d_out_h(&d), 4);
  nd_assert_ok(nd_avgpool2d_forward(&d, x, y));
  nd_assert_close(y[0], 1.0 / 4, 1e-7, 0);         /* corner: only x[0,0] inside, divisor 4 */
  nd_assert_close(y[5], (1 + 2 + 4 + 5) / 4.0, 1e-6, 0);
  d.count_include_pad = false;
  nd_assert_ok(nd_avgpool2d_forward(&d, x, y));
  nd_assert_close(y[0], 1.0, 1e-7, 0);             /* divisor 1 */
  nd_assert_close(y[1], (1 + 2) / 2.0, 1e-7, 0);
  nd_assert_close(y[15], 9.0, 1e-7, 0);
}

static void test_pool_check(void **state) {
  (void)state;
  nd_pool2d_desc d = {1, 1, 4, 4, 2, 2, 2, 2, 0, 0, true};
  nd_assert_ok(nd_pool2d_check(&d));
  nd_pool2d_desc bad = d;
  bad.stride_h = 0;
  assert_int_equal(nd_pool2d_check(&bad), ND_ERR_INVALID_ARG);
  bad = d;
  bad.pad_h = 2; /* more than half the kernel */
  assert_int_equal(nd_pool2d_check(&bad), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "padding"));
  bad = d;
  bad.kernel_h = 5;
  assert_int_equal(nd_pool2d_check(&bad), ND_ERR_SHAPE);
  bad = d;
  bad.channels = 0;
  assert_int_equal(nd_pool2d_check(&bad), ND_ERR_SHAPE);
  float buf[16] = {0};
  assert_int_equal(nd_avgpool2d_forward(&d, NULL, buf), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_avgpool2d_backward(&bad, buf, buf), ND_ERR_SHAPE);
}

/* ---------------------------------------------------------------- adaptive */
/* PyTorch's bins: start = floor(i*in/out), end = ceil((i+1)*in/out), written
 * with floating point here (the kernel uses integer arithmetic). */
static int64_t fstart(int64_t i, int64_t in, int64_t out) { return (int64_t)floor((double)i * in / out); }
static int64_t fend(int64_t i, int64_t in, int64_t out) { return (int64_t)ceil((double)(i + 1) * in / out); }

static void run_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  const int64_t nx = n * c * h * w, ny = n * c * oh * ow;
  float *x = kt_rand(nx, -1, 1), *g = kt_rand(ny, -1, 1), *y = kt_fill(ny, NAN), *dx = kt_fill(nx, NAN);
  double *ry = calloc((size_t)ny, sizeof *ry), *rdx = calloc((size_t)nx, sizeof *rdx);
  for (int64_t pl = 0; pl < n * c; pl++)
    for (int64_t i = 0; i < oh; i++)
      for (int64_t j = 0; j < ow; j++) {
        int64_t h0 = fstart(i, h, oh), h1 = fend(i, h, oh), w0 = fstart(j, w, ow), w1 = fend(j, w, ow);
        double s = 0, cnt = (double)((h1 - h0) * (w1 - w0));
        for (int64_t a = h0; a < h1; a++)
          for (int64_t b = w0; b < w1; b++) {
            s += x[(pl * h + a) * w + b];
            rdx[(pl * h + a) * w + b] += g[(pl * oh + i) * ow + j] / cnt;
          }
        ry[(pl * oh + i) * ow + j] = s / cnt;
      }
  nd_adaptive_avgpool2d_forward(n, c, h, w, oh, ow, x, y);
  check_d(y, ry, ny, 1e-6, "adaptive avgpool forward");
  nd_adaptive_avgpool2d_backward(n, c, h, w, oh, ow, g, dx);
  check_d(dx, rdx, nx, 1e-6, "adaptive avgpool backward");
  free(x), free(g), free(y), free(dx), free(ry), free(rdx);
}

static void test_adaptive(void **state) {
  (void)state;
  kt_seed(23);
  run_adaptive(2, 3, 7, 5, 3, 2);   /* non-divisible: overlapping bins */
  run_adaptive(1, 2, 10, 10, 5, 5); /* divisible: plain 2x2 average */
  run_adaptive(1, 1, 5, 7, 1, 1);   /* global average */
  run_adaptive(1, 2, 3, 4, 5, 6);   /* output larger than input: bins repeat rows */
  run_adaptive(3, 1, 13, 11, 4, 7);
  for (int it = 0; it < 20; it++)
    run_adaptive(kt_int(1, 2), kt_int(1, 3), kt_int(1, 15), kt_int(1, 15), kt_int(1, 8), kt_int(1, 8));
  /* global average by hand */
  const float x[6] = {1, 2, 3, 4, 5, 6};
  float y;
  nd_adaptive_avgpool2d_forward(1, 1, 2, 3, 1, 1, x, &y);
  nd_assert_close(y, 3.5, 1e-7, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_avgpool_fixed), cmocka_unit_test(test_avgpool_random), cmocka_unit_test(test_avgpool_hand),
      cmocka_unit_test(test_pool_check),    cmocka_unit_test(test_adaptive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
