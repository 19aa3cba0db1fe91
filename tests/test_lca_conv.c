#include <string.h>
/* Convolutional LCA against the dense LCA with the equivalent Toeplitz
 * dictionary, built here from the definition (column (f, p, q) holds filter
 * f at (p*stride_h - pad_h, q*stride_w - pad_w), cropped), on small 1-D and
 * 2-D multi-channel cases with stride and padding: the same reconstruction
 * Phi a, the same drive Phi^T s, the same L, and the same codes and energy
 * after the solve; batch results equal per-image results; bad arguments. */
#include "nd_test.h"

#include "neurodyn/lca.h"

typedef struct ccase {
  nd_lca_conv_shape sh;
  int64_t m, n, P, Q;
  float *w, *phi; /* filters [F, C, kh, kw]; Toeplitz [m, n] */
} ccase;

static ccase make_case(nd_lca_conv_shape sh, uint64_t seed) {
  ccase c = {.sh = sh};
  c.P = (sh.height + 2 * sh.pad_h - sh.kernel_h) / sh.stride_h + 1;
  c.Q = (sh.width + 2 * sh.pad_w - sh.kernel_w) / sh.stride_w + 1;
  c.m = sh.channels * sh.height * sh.width;
  c.n = sh.filters * c.P * c.Q;
  const int64_t fs = sh.channels * sh.kernel_h * sh.kernel_w;
  c.w = malloc(sizeof(float) * (size_t)(sh.filters * fs));
  c.phi = calloc((size_t)(c.m * c.n), sizeof(float));
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_normal(&r, c.w, sh.filters * fs, 0, 1);
  for (int64_t f = 0; f < sh.filters; f++)
    for (int64_t p = 0; p < c.P; p++)
      for (int64_t q = 0; q < c.Q; q++) {
        const int64_t col = (f * c.P + p) * c.Q + q;
        for (int64_t ch = 0; ch < sh.channels; ch++)
          for (int64_t i = 0; i < sh.kernel_h; i++)
            for (int64_t j = 0; j < sh.kernel_w; j++) {
              const int64_t y = p * sh.stride_h - sh.pad_h + i, x = q * sh.stride_w - sh.pad_w + j;
              if (y < 0 || y >= sh.height || x < 0 || x >= sh.width) continue;
              c.phi[((ch * sh.height + y) * sh.width + x) * c.n + col] = c.w[((f * sh.channels + ch) * sh.kernel_h + i) * sh.kernel_w + j];
            }
      }
  return c;
}

static void free_case(ccase *c) { free(c->w), free(c->phi); }

static nd_lca_config config(void) {
  nd_lca_config c = nd_lca_defaults();
  c.lambda = 0.3f;
  c.tol = 1e-6;
  c.max_iter = 5000;
  return c;
}

/* Phi a and Phi^T s of the conv model against the Toeplitz products (double). */
static void check_operators(ccase *c, nd_lca_conv *l) {
  enum { B = 2 };
  float *a = malloc(sizeof(float) * (size_t)(B * c->n)), *s = malloc(sizeof(float) * (size_t)(B * c->m));
  float *got = malloc(sizeof(float) * (size_t)(B * c->m)), *want = malloc(sizeof(float) * (size_t)(B * c->m));
  nd_rng r;
  nd_rng_init(&r, 9);
  nd_rng_normal(&r, a, B * c->n, 0, 1);
  nd_assert_ok(nd_lca_conv_reconstruct(l, a, B, got));
  for (int b = 0; b < B; b++)
    for (int64_t i = 0; i < c->m; i++) {
      double acc = 0;
      for (int64_t j = 0; j < c->n; j++) acc += (double)c->phi[i * c->n + j] * a[b * c->n + j];
      want[b * c->m + i] = (float)acc;
    }
  nd_assert_arrays_close(got, want, B * c->m, 1e-4, 1e-4, "Phi a");
  /* energy with a = 0 is 1/2 ||s||^2, and with the code a it is 1/2||s - Phi a||^2 + lambda |a|_1 */
  nd_rng_normal(&r, s, B * c->m, 0, 1);
  double e[B], tot;
  nd_assert_ok(nd_lca_conv_energy(l, s, a, B, e, &tot));
  for (int b = 0; b < B; b++) {
    double r2 = 0, l1 = 0;
    for (int64_t i = 0; i < c->m; i++) r2 += pow((double)s[b * c->m + i] - want[b * c->m + i], 2);
    for (int64_t j = 0; j < c->n; j++) l1 += fabs((double)a[b * c->n + j]);
    nd_assert_close(e[b], 0.5 * r2 + 0.3 * l1, 1e-3, 1e-5);
  }
  free(a), free(s), free(got), free(want);
}

static void compare_with_dense(nd_lca_conv_shape sh, uint64_t seed) {
  ccase c = make_case(sh, seed);
  nd_lca_config cfg = config();
  enum { B = 3 };
  nd_lca_conv *lc;
  nd_lca *ld;
  nd_assert_ok(nd_lca_conv_create(&cfg, &sh, c.w, B, &lc));
  nd_assert_ok(nd_lca_create(&cfg, c.phi, c.m, c.n, B, &ld));
  check_operators(&c, lc);
  nd_assert_close(nd_lca_conv_lipschitz(lc), nd_lca_lipschitz(ld), 0, 1e-4);
  float *s = malloc(sizeof(float) * (size_t)(B * c.m));
  float *ac = malloc(sizeof(float) * (size_t)(B * c.n)), *ad = malloc(sizeof(float) * (size_t)(B * c.n));
  float *a1 = malloc(sizeof(float) * (size_t)c.n);
  nd_rng r;
  nd_rng_init(&r, seed + 100);
  nd_rng_normal(&r, s, B * c.m, 0, 1);
  nd_lca_result rc, rd, r1;
  nd_assert_ok(nd_lca_conv_solve(lc, s, B, ac, &rc));
  nd_assert_ok(nd_lca_solve(ld, s, B, ad, &rd));
  assert_int_equal(rc.stop, ND_STOP_TOLERANCE);
  assert_int_equal(rd.stop, ND_STOP_TOLERANCE);
  assert_true(rc.residual <= 1e-6);
  double amax = 0;
  int64_t nz = 0;
  for (int64_t i = 0; i < B * c.n; i++) amax = fmax(amax, fabs(ad[i])), nz += ad[i] != 0;
  assert_true(nz > 0 && nz < B * c.n); /* a sparse, non-trivial code */
  nd_assert_arrays_close(ac, ad, B * c.n, 1e-4 * amax, 0, "conv codes vs Toeplitz dense codes");
  nd_assert_close(rc.objective, rd.objective, 0, 1e-5);
  /* the second image alone gives its row of the batch */
  nd_assert_ok(nd_lca_conv_solve(lc, s + c.m, 1, a1, &r1));
  nd_assert_arrays_close(a1, ac + c.n, c.n, 1e-5 * amax, 0, "batch row vs single image");
  free(s), free(ac), free(ad), free(a1);
  nd_lca_conv_free(lc);
  nd_lca_free(ld);
  free_case(&c);
}

static void test_conv1d(void **state) {
  (void)state;
  /* 2 channels, length 23, 3 filters of 5 taps, stride 2, padding 2 */
  compare_with_dense((nd_lca_conv_shape){2, 1, 23, 3, 1, 5, 1, 2, 0, 2}, 1);
}

static void test_conv2d(void **state) {
  (void)state;
  /* 2 x 9 x 8 images, 4 filters 3 x 4, strides (2, 1), padding (1, 2) */
  compare_with_dense((nd_lca_conv_shape){2, 9, 8, 4, 3, 4, 2, 1, 1, 2}, 2);
  /* 1 channel, stride 1, no padding */
  compare_with_dense((nd_lca_conv_shape){1, 7, 7, 2, 3, 3, 1, 1, 0, 0}, 3);
}

static void test_thresholds_and_updates(void **state) {
  (void)state;
  nd_lca_conv_shape sh = {1, 8, 8, 3, 3, 3, 1, 1, 1, 1};
  ccase c = make_case(sh, 4);
  const nd_lca_threshold th[] = {ND_LCA_HARD, ND_LCA_NONNEG};
  const nd_accel_kind up[] = {ND_ACCEL_EULER, ND_ACCEL_ADAM};
  float s[64], ac[192], ad[192];
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_normal(&r, s, 64, 0, 1);
  for (int t = 0; t < 2; t++) {
    nd_lca_config cfg = config();
    cfg.threshold = th[t];
    cfg.update = nd_accel_defaults(up[t]);
    cfg.auto_eta = t == 0;
    cfg.max_iter = 300; /* the same trajectory, not necessarily converged */
    cfg.tol = 1e-12;
    nd_lca_conv *lc;
    nd_lca *ld;
    nd_assert_ok(nd_lca_conv_create(&cfg, &sh, c.w, 1, &lc));
    nd_assert_ok(nd_lca_create(&cfg, c.phi, c.m, c.n, 1, &ld));
    nd_lca_result rc, rd;
    nd_assert_ok(nd_lca_conv_solve(lc, s, 1, ac, &rc));
    nd_assert_ok(nd_lca_solve(ld, s, 1, ad, &rd));
    assert_int_equal(rc.iterations, rd.iterations);
    nd_assert_arrays_close(ac, ad, c.n, 2e-3, 2e-3, th[t] == ND_LCA_HARD ? "hard/euler" : "nonneg/adam");
    if (th[t] == ND_LCA_NONNEG)
      for (int64_t i = 0; i < c.n; i++) assert_true(ac[i] >= 0);
    nd_lca_conv_free(lc);
    nd_lca_free(ld);
  }
  free_case(&c);
}

static void test_bad_arguments(void **state) {
  (void)state;
  nd_lca_conv_shape sh = {1, 8, 8, 2, 3, 3, 1, 1, 0, 0}, bad = sh;
  float w[18], s[64], a[72];
  for (int i = 0; i < 18; i++) w[i] = (float)(i % 5) - 2;
  for (int i = 0; i < 64; i++) s[i] = (float)i / 64;
  nd_lca_config cfg = config();
  nd_lca_conv *l = NULL;
  int64_t m, n;
  nd_assert_ok(nd_lca_conv_shape_check(&sh, &m, &n));
  assert_int_equal(m, 64);
  assert_int_equal(n, 72);
  bad.kernel_h = 9; /* larger than the image */
  assert_int_not_equal(nd_lca_conv_create(&cfg, &bad, w, 1, &l), ND_OK);
  assert_null(l);
  bad = sh, bad.stride_w = 0;
  assert_int_equal(nd_lca_conv_create(&cfg, &bad, w, 1, &l), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "stride_w"));
  nd_lca_config badc = cfg;
  badc.lambda = -1;
  assert_int_equal(nd_lca_conv_create(&badc, &sh, w, 1, &l), ND_ERR_INVALID_ARG);
  w[3] = NAN;
  assert_int_equal(nd_lca_conv_create(&cfg, &sh, w, 1, &l), ND_ERR_INVALID_ARG);
  w[3] = 1;
  nd_assert_ok(nd_lca_conv_create(&cfg, &sh, w, 2, &l));
  assert_int_equal(nd_lca_conv_solve(l, s, 3, a, NULL), ND_ERR_SHAPE); /* > max_batch */
  s[5] = INFINITY;
  assert_int_equal(nd_lca_conv_solve(l, s, 1, a, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_lca_conv_solve(NULL, s, 1, a, NULL), ND_ERR_INVALID_ARG);
  w[0] = NAN;
  assert_int_equal(nd_lca_conv_set_filters(l, w), ND_ERR_INVALID_ARG);
  nd_lca_conv_free(l);
  nd_lca_conv_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv1d),
      cmocka_unit_test(test_conv2d),
      cmocka_unit_test(test_thresholds_and_updates),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
