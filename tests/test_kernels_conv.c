/* Convolution kernels against naive loops (forward, input and filter
 * gradients, transposed convolution), the adjoint identities, beta semantics,
 * both CPU paths (im2col + GEMM and Winograd F(4x4,3x3)) and descriptor checks. */
#include <string.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "neurodyn/kernels.h"
#include "neurodyn/backend.h"
#include "backend/cpu/conv_impl.h"

typedef struct {
  nd_conv2d_desc d;
  int64_t P, Q, nx, nw, ny;
} conv_case;

static conv_case make_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t r, int64_t s, int64_t sh,
                           int64_t sw, int64_t ph, int64_t pw) {
  conv_case t = {.d = {n, c, h, w, k, r, s, sh, sw, ph, pw}};
  t.P = nd_conv2d_out_h(&t.d);
  t.Q = nd_conv2d_out_w(&t.d);
  t.nx = n * c * h * w;
  t.nw = k * c * r * s;
  t.ny = n * k * t.P * t.Q;
  return t;
}

/* The three naive references, in double. */
static void ref_forward(const conv_case *t, const float *x, const float *w, const float *bias, double *y) {
  const nd_conv2d_desc *d = &t->d;
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t k = 0; k < d->out_channels; k++)
      for (int64_t p = 0; p < t->P; p++)
        for (int64_t q = 0; q < t->Q; q++) {
          double acc = bias ? bias[k] : 0;
          for (int64_t c = 0; c < d->in_channels; c++)
            for (int64_t r = 0; r < d->kernel_h; r++)
              for (int64_t s = 0; s < d->kernel_w; s++) {
                int64_t ih = p * d->stride_h - d->pad_h + r, iw = q * d->stride_w - d->pad_w + s;
                if (ih < 0 || ih >= d->in_h || iw < 0 || iw >= d->in_w) continue;
                acc += (double)x[((n * d->in_channels + c) * d->in_h + ih) * d->in_w + iw] *
                       w[((k * d->in_channels + c) * d->kernel_h + r) * d->kernel_w + s];
              }
          y[((n * d->out_channels + k) * t->P + p) * t->Q + q] = acc;
        }
}

static void ref_backward(const conv_case *t, const float *x, const float *w, const float *dy, double *dx, double *dw,
                         double *db) {
  const nd_conv2d_desc *d = &t->d;
  memset(dx, 0, (size_t)t->nx * sizeof *dx);
  memset(dw, 0, (size_t)t->nw * sizeof *dw);
  memset(db, 0, (size_t)d->out_channels * sizeof *db);
  for (int64_t n = 0; n < d->batch; n++)
    for (int64_t k = 0; k < d->out_channels; k++)
      for (int64_t p = 0; p < t->P; p++)
        for (int64_t q = 0; q < t->Q; q++) {
          double g = dy[((n * d->out_channels + k) * t->P + p) * t->Q + q];
          db[k] += g;
          for (int64_t c = 0; c < d->in_channels; c++)
            for (int64_t r = 0; r < d->kernel_h; r++)
              for (int64_t s = 0; s < d->kernel_w; s++) {
                int64_t ih = p * d->stride_h - d->pad_h + r, iw = q * d->stride_w - d->pad_w + s;
                if (ih < 0 || ih >= d->in_h || iw < 0 || iw >= d->in_w) continue;
                int64_t xi = ((n * d->in_channels + c) * d->in_h + ih) * d->in_w + iw;
                int64_t wi = ((k * d->in_channels + c) * d->kernel_h + r) * d->kernel_w + s;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
}

/* |got - want| <= tol * (scale + |want|) for every element. */
static void check(const float *got, const double *want, int64_t n, double tol, double scale, const char *what,
                  const conv_case *t) {
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - want[i]);
    if (!(e <= tol * (scale + fabs(want[i]))))
      fail_msg("%s: N%lld C%lld %lldx%lld K%lld k%lldx%lld s%lld,%lld p%lld,%lld path %d: element %lld got %.9g want "
               "%.9g",
               what, (long long)t->d.batch, (long long)t->d.in_channels, (long long)t->d.in_h, (long long)t->d.in_w,
               (long long)t->d.out_channels, (long long)t->d.kernel_h, (long long)t->d.kernel_w,
               (long long)t->d.stride_h, (long long)t->d.stride_w, (long long)t->d.pad_h, (long long)t->d.pad_w,
               nd__conv_force_path, (long long)i, got[i], want[i]);
  }
}

static double dmax_abs(const double *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* Runs every kernel on one shape with the current forced path and checks it
 * against the references ry, rdx, rdw, rdb. */
static void run_checks(const conv_case *t, bool own_workspace, const float *x, const float *w, const float *bias,
                       const float *dy, const double *ry, const double *rdx, const double *rdw, const double *rdb) {
  const nd_conv2d_desc *d = &t->d;
  size_t wsn = nd_conv2d_workspace_floats(d);
  float *ws = own_workspace ? malloc((wsn ? wsn : 1) * sizeof(float)) : NULL;
  if (ws) memset(ws, 0xff, (wsn ? wsn : 1) * sizeof(float)); /* NaN garbage */
  const double tol = 2e-5 * sqrt((double)(d->in_channels * d->kernel_h * d->kernel_w));
  const double tol_w = 2e-5 * sqrt((double)(d->batch * t->P * t->Q));

  /* forward, beta = 0 over NaN */
  float *y = kt_fill(t->ny, NAN);
  nd_assert_ok(nd_conv2d_forward(d, x, w, bias, 0.0f, y, ws));
  check(y, ry, t->ny, tol, dmax_abs(ry, t->ny), "forward beta=0", t);
  /* forward, beta = 1 accumulates onto y0; no bias */
  float *y0 = kt_rand(t->ny, -1, 1);
  memcpy(y, y0, t->ny * sizeof *y);
  nd_assert_ok(nd_conv2d_forward(d, x, w, NULL, 1.0f, y, ws));
  double *want = malloc(t->ny * sizeof *want);
  for (int64_t i = 0; i < t->ny; i++) want[i] = ry[i] - bias[(i / (t->P * t->Q)) % d->out_channels] + y0[i];
  check(y, want, t->ny, tol, dmax_abs(want, t->ny), "forward beta=1", t);
  free(want);

  /* backward data: beta = 0 over NaN, then beta = 1 */
  float *dx = kt_fill(t->nx, NAN);
  nd_assert_ok(nd_conv2d_backward_data(d, dy, w, 0.0f, dx, ws));
  check(dx, rdx, t->nx, tol, dmax_abs(rdx, t->nx), "backward_data beta=0", t);
  float *dx0 = kt_rand(t->nx, -1, 1);
  memcpy(dx, dx0, t->nx * sizeof *dx);
  nd_assert_ok(nd_conv2d_backward_data(d, dy, w, 1.0f, dx, ws));
  double *wantx = malloc(t->nx * sizeof *wantx);
  for (int64_t i = 0; i < t->nx; i++) wantx[i] = rdx[i] + dx0[i];
  check(dx, wantx, t->nx, tol, dmax_abs(wantx, t->nx), "backward_data beta=1", t);

  /* transposed convolution = backward data + bias over input channels */
  float *tb = kt_rand(d->in_channels, -1, 1);
  nd_assert_ok(nd_conv_transpose2d_forward(d, dy, w, tb, 0.0f, dx, ws));
  for (int64_t i = 0; i < t->nx; i++) wantx[i] = rdx[i] + tb[(i / (d->in_h * d->in_w)) % d->in_channels];
  check(dx, wantx, t->nx, tol, dmax_abs(wantx, t->nx), "conv_transpose2d", t);
  free(wantx);

  /* backward filter with bias gradient: beta = 0 over NaN, then beta = 1 */
  float *dw = kt_fill(t->nw, NAN), *db = kt_fill(d->out_channels, NAN);
  nd_assert_ok(nd_conv2d_backward_filter(d, x, dy, 0.0f, dw, db, ws));
  check(dw, rdw, t->nw, tol_w, dmax_abs(rdw, t->nw), "backward_filter beta=0", t);
  check(db, rdb, d->out_channels, tol_w, dmax_abs(rdb, d->out_channels), "bias grad beta=0", t);
  nd_assert_ok(nd_conv2d_backward_filter(d, x, dy, 1.0f, dw, db, ws));
  double *rdw2 = malloc(t->nw * sizeof *rdw2), *rdb2 = malloc(d->out_channels * sizeof *rdb2);
  for (int64_t i = 0; i < t->nw; i++) rdw2[i] = 2 * rdw[i];
  for (int64_t i = 0; i < d->out_channels; i++) rdb2[i] = 2 * rdb[i];
  check(dw, rdw2, t->nw, tol_w, dmax_abs(rdw2, t->nw), "backward_filter beta=1", t);
  check(db, rdb2, d->out_channels, tol_w, dmax_abs(rdb2, d->out_channels), "bias grad beta=1", t);
  free(rdw2), free(rdb2);

  /* adjoint identities: <conv(x), v> = <x, conv^T(v)> and <conv_w(x), v> = <w, dW(x, v)> */
  nd_assert_ok(nd_conv2d_forward(d, x, w, NULL, 0.0f, y, ws));
  nd_assert_ok(nd_conv2d_backward_data(d, dy, w, 0.0f, dx, ws));
  nd_assert_ok(nd_conv2d_backward_filter(d, x, dy, 0.0f, dw, NULL, ws));
  double lhs = kt_dot(y, dy, t->ny), rhs = kt_dot(x, dx, t->nx), rhs_w = kt_dot(w, dw, t->nw);
  double mag = sqrt((double)t->ny) * kt_max_abs(y, t->ny) + 1;
  nd_assert_close(lhs, rhs, 1e-4 * mag, 0);
  nd_assert_close(lhs, rhs_w, 1e-4 * mag, 0);

  free(ws), free(y), free(y0), free(dx), free(dx0), free(tb), free(dw), free(db);
}

/* Random operands, the naive references once, then the kernels on each
 * (forced path, workspace) pair: automatic with and without a workspace,
 * im2col + GEMM only, Winograd wherever valid; or automatic only. */
static void run_shape(const conv_case *t, bool all_paths) {
  const nd_conv2d_desc *d = &t->d;
  nd_assert_ok(nd_conv2d_check(d));
  float *x = kt_rand(t->nx, -1, 1), *w = kt_rand(t->nw, -1, 1), *bias = kt_rand(d->out_channels, -1, 1);
  float *dy = kt_rand(t->ny, -1, 1);
  double *ry = malloc(t->ny * sizeof *ry), *rdx = malloc(t->nx * sizeof *rdx), *rdw = malloc(t->nw * sizeof *rdw),
         *rdb = malloc(d->out_channels * sizeof *rdb);
  ref_forward(t, x, w, bias, ry);
  ref_backward(t, x, w, dy, rdx, rdw, rdb);
  const int paths[4] = {0, 0, 1, 2};
  const bool own[4] = {true, false, false, true};
  for (int i = 0; i < (all_paths ? 4 : 2); i++) {
    nd__conv_force_path = paths[i];
    run_checks(t, own[i], x, w, bias, dy, ry, rdx, rdw, rdb);
  }
  nd__conv_force_path = 0;
  free(x), free(w), free(bias), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
}
static void run_all_paths(const conv_case *t) { run_shape(t, true); }

static void test_conv_fixed_shapes(void **state) {
  (void)state;
  kt_seed(1);
  /* n, c, h, w, k, r, s, sh, sw, ph, pw */
  const int64_t cases[][11] = {
      {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0},   {3, 4, 6, 7, 5, 1, 1, 1, 1, 0, 0},  {2, 3, 7, 5, 2, 1, 1, 2, 2, 0, 0},
      {1, 2, 5, 6, 3, 1, 1, 1, 1, 1, 1},   {3, 3, 8, 6, 4, 3, 3, 1, 1, 1, 1},  {1, 5, 9, 11, 3, 3, 3, 1, 1, 0, 0},
      {2, 2, 10, 9, 3, 3, 3, 1, 1, 2, 2},  {1, 3, 7, 7, 2, 3, 3, 2, 2, 1, 1},  {2, 17, 13, 10, 16, 3, 3, 1, 1, 1, 1},
      {3, 2, 12, 9, 3, 7, 7, 1, 1, 3, 3},  {1, 3, 15, 11, 2, 7, 7, 2, 2, 3, 2}, {1, 1, 3, 3, 1, 3, 3, 1, 1, 0, 0},
      {2, 4, 4, 9, 3, 3, 5, 1, 2, 0, 2},   {1, 6, 5, 5, 7, 5, 5, 1, 1, 0, 0},  {2, 16, 9, 9, 17, 3, 3, 1, 1, 0, 1},
      {1, 2, 6, 6, 2, 3, 3, 1, 1, 3, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const int64_t *v = cases[i];
    conv_case t = make_case(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
    run_all_paths(&t);
  }
}

static void test_conv_random_shapes(void **state) {
  (void)state;
  kt_seed(2);
  for (int it = 0; it < 25; it++) {
    int64_t ksz[] = {1, 3, 7};
    int64_t r = ksz[kt_int(0, 2)], s = kt_int(0, 3) == 0 ? ksz[kt_int(0, 2)] : r;
    int64_t ph = kt_int(0, 3), pw = kt_int(0, 3);
    if (r == 1) ph = kt_int(0, 1);
    if (s == 1) pw = kt_int(0, 1);
    int64_t h = kt_int(ND__MAXI(1, r - 2 * ph), 12), w = kt_int(ND__MAXI(1, s - 2 * pw), 12);
    conv_case t = make_case(kt_int(0, 1) ? 1 : 3, kt_int(1, 17), h, w, kt_int(1, 17), r, s, kt_int(1, 2), kt_int(1, 2),
                            ph, pw);
    run_all_paths(&t);
  }
}

/* A CordsNet-like layer, small enough for the naive loop: Winograd in auto mode. */
static void test_conv_winograd_auto(void **state) {
  (void)state;
  kt_seed(3);
  conv_case t = make_case(2, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1);
  nd__conv_geom g;
  nd__conv_geom_init(&g, &t.d);
  assert_true(nd__winograd_applies(&g));
  run_shape(&t, false);
}

static void test_conv_check(void **state) {
  (void)state;
  nd_conv2d_desc d = {1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1};
  nd_assert_ok(nd_conv2d_check(&d));
  assert_int_equal(nd_conv2d_out_h(&d), 5);
  nd_conv2d_desc bad = d;
  bad.stride_w = 0;
  assert_int_equal(nd_conv2d_check(&bad), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "stride"));
  bad = d;
  bad.pad_h = -1;
  assert_int_equal(nd_conv2d_check(&bad), ND_ERR_INVALID_ARG);
  bad = d;
  bad.pad_h = 0;
  bad.in_h = 2;
  assert_int_equal(nd_conv2d_check(&bad), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "kernel"));
  bad = d;
  bad.in_channels = 0;
  assert_int_equal(nd_conv2d_check(&bad), ND_ERR_SHAPE);
  float buf[128] = {0};
  assert_int_equal(nd_conv2d_forward(&bad, buf, buf, NULL, 0, buf, NULL), ND_ERR_SHAPE);
  assert_int_equal(nd_conv2d_forward(&d, NULL, buf, NULL, 0, buf, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_conv2d_workspace_floats(&bad), 0);
}

static void test_backend_select(void **state) {
  (void)state;
  assert_string_equal(nd_backend_name(), "cpu");
  assert_true(nd_backend_count() >= 1);
  assert_string_equal(nd_backend_name_at(0), "cpu");
  assert_null(nd_backend_name_at(-1));
  assert_int_equal(nd_backend_select("no-such-backend"), ND_ERR_NOT_FOUND);
  assert_non_null(strstr(nd_last_error(), "cpu"));
  nd_assert_ok(nd_backend_select("cpu"));
  assert_string_equal(nd_backend_name(), "cpu");
  const char *blas = nd_backend_blas_name();
  assert_true(strcmp(blas, "openblas") == 0 || strcmp(blas, "blis") == 0);
  assert_non_null(nd_backend_blas_core());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_fixed_shapes), cmocka_unit_test(test_conv_random_shapes),
      cmocka_unit_test(test_conv_winograd_auto), cmocka_unit_test(test_conv_check),
      cmocka_unit_test(test_backend_select),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
