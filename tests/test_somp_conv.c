/* SOMP cells as convolution layers (include/neurodyn/somp.h): im2col and
 * col2im are adjoint (<im2col x, c> = <x, col2im c>, in double), and a cell
 * run on the columns equals, position by position, the cell equations
 * evaluated here on the receptive field read directly from the map (2-D with
 * stride and padding; 1-D as H = 1). */
#include "nd_test.h"

#include <string.h>

static void fill(float *x, int64_t n, uint64_t seed) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n, -1, 1);
}

static void test_adjoint(void **state) {
  (void)state;
  enum { B = 2, T = 2, H = 5, W = 4, C = 3 };
  const nd_somp_conv cv = {3, 2, 2, 1, 1, 0};
  const int64_t Ho = (H + 2 - 3) / 2 + 1, Wo = (W - 2) / 1 + 1, F = 3 * 2 * C;
  static float x[B * T * H * W * C], xb[B * T * H * W * C], c[B * 3 * 3 * T * 3 * 2 * C], cc[B * 3 * 3 * T * 3 * 2 * C];
  assert_int_equal(Ho * Wo, 9);
  fill(x, B * T * H * W * C, 1), fill(c, B * Ho * Wo * T * F, 2);
  nd_tensor tx = nd_tensor_wrap(x, 5, ND_SHAPE(B, T, H, W, C)), txb = nd_tensor_wrap(xb, 5, ND_SHAPE(B, T, H, W, C));
  nd_tensor tc = nd_tensor_wrap(c, 3, ND_SHAPE(B * Ho * Wo, T, F)), tcc = nd_tensor_wrap(cc, 3, ND_SHAPE(B * Ho * Wo, T, F));
  nd_assert_ok(nd_somp_im2col(&cv, &tx, &tcc));
  nd_assert_ok(nd_somp_col2im(&cv, &tc, &txb));
  double a = 0, b = 0;
  for (int64_t k = 0; k < B * Ho * Wo * T * F; k++) a += (double)cc[k] * c[k];
  for (int64_t k = 0; k < B * T * H * W * C; k++) b += (double)x[k] * xb[k];
  nd_assert_close(a, b, 1e-4, 1e-5);
  /* a wrong cols shape is refused */
  nd_tensor bad = nd_tensor_wrap(c, 3, ND_SHAPE(B * Ho * Wo, T, F - 1));
  assert_int_equal(nd_somp_im2col(&cv, &tx, &bad), ND_ERR_SHAPE);
}

static void check_conv_cell(int64_t H, int64_t W, nd_somp_conv cv) {
  enum { B = 2, T = 3, C = 2, U = 3 };
  const int64_t Ho = (H + 2 * cv.pad_h - cv.kh) / cv.stride_h + 1, Wo = (W + 2 * cv.pad_w - cv.kw) / cv.stride_w + 1;
  const int64_t F = cv.kh * cv.kw * C, P = B * Ho * Wo;
  float *x = malloc((size_t)(B * T * H * W * C) * sizeof(float)), *cols = malloc((size_t)(P * T * F) * sizeof(float));
  float *y = malloc((size_t)(P * T * U) * sizeof(float)), *map = malloc((size_t)(P * T * U) * sizeof(float));
  fill(x, B * T * H * W * C, 3);
  nd_tensor tx = nd_tensor_wrap(x, 5, ND_SHAPE(B, T, H, W, C)), tcol = nd_tensor_wrap(cols, 3, ND_SHAPE(P, T, F));
  nd_assert_ok(nd_somp_im2col(&cv, &tx, &tcol));
  nd_somp_cell_config c = nd_somp_cell_defaults("c", U);
  c.hp.noise_std = 0;
  nd_somp_net *net;
  nd_assert_ok(nd_somp_net_create(1, &c, 4, &net));
  nd_assert_ok(nd_somp_net_connect(net, 0, "c", 0));
  nd_somp_input in = {"x", 0, &tcol, 0};
  nd_assert_ok(nd_somp_net_forward(net, 1, &in, NULL, NULL));
  nd_tensor ty = nd_tensor_wrap(y, 3, ND_SHAPE(P, T, U)), tm = nd_tensor_wrap(map, 5, ND_SHAPE(B, T, Ho, Wo, U));
  nd_assert_ok(nd_somp_net_output(net, 0, &ty));
  nd_assert_ok(nd_somp_cols_to_map(&ty, B, Ho, Wo, &tm));
  nd_tensor w, ws;
  nd_assert_ok(nd_somp_net_weight(net, 0, "x", &w));
  nd_assert_ok(nd_somp_net_weight(net, 0, "c", &ws));
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < Ho; i++)
      for (int64_t j = 0; j < Wo; j++) {
        double prev[U] = {0};
        for (int64_t t = 0; t < T; t++) {
          double cur[U];
          for (int u = 0; u < U; u++) {
            double z = 0;
            for (int64_t di = 0; di < cv.kh; di++)
              for (int64_t dj = 0; dj < cv.kw; dj++) {
                const int64_t yy = i * cv.stride_h - cv.pad_h + di, zz = j * cv.stride_w - cv.pad_w + dj;
                if (yy < 0 || yy >= H || zz < 0 || zz >= W) continue;
                for (int k = 0; k < C; k++)
                  z += (double)w.data[u * F + (di * cv.kw + dj) * C + k] * x[(((b * T + t) * H + yy) * W + zz) * C + k];
              }
            for (int v = 0; v < U; v++) z += ws.data[u * U + v] * prev[v];
            cur[u] = tanh(z);
            nd_assert_close(map[(((b * T + t) * Ho + i) * Wo + j) * U + u], cur[u], 1e-5, 1e-5);
          }
          memcpy(prev, cur, sizeof prev);
        }
      }
  nd_somp_net_free(net);
  free(x), free(cols), free(y), free(map);
}

static void test_conv2d_cell(void **state) {
  (void)state;
  check_conv_cell(5, 4, (nd_somp_conv){3, 2, 2, 1, 1, 0});
}

static void test_conv1d_cell(void **state) {
  (void)state;
  check_conv_cell(1, 7, (nd_somp_conv){1, 3, 1, 2, 0, 1});
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adjoint),
      cmocka_unit_test(test_conv2d_cell),
      cmocka_unit_test(test_conv1d_cell),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
