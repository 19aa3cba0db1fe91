/* Natural-image patches: decoding (a PNG written by libpng read back through
 * stb_image; the sklearn photographs when data/photos is there), patch
 * windows, the symmetric eigensolver on a matrix with known eigenvalues, and
 * ZCA whitening checked by recomputing the covariance of its output. */
#include "io_test_util.h"

#include "neurodyn/data.h"
#include "neurodyn/kernels.h"

static void test_decode_png(void **state) {
  (void)state;
  char dir[64], p[128];
  io_mkdtemp(dir);
  snprintf(p, sizeof p, "%s/g.png", dir);
  uint8_t g[5 * 3];
  for (int i = 0; i < 15; i++) g[i] = (uint8_t)(i * 17);
  nd_assert_ok(nd_png_write_gray(p, 5, 3, g));
  nd_tensor im;
  nd_assert_ok(nd_image_read_gray(p, &im));
  assert_int_equal(im.ndim, 2);
  assert_int_equal(im.shape[0], 3);
  assert_int_equal(im.shape[1], 5);
  for (int i = 0; i < 15; i++) nd_assert_close(im.data[i], i * 17 / 255.0, 1e-7, 0);
  nd_tensor_release(&im);
  /* not an image, and a missing file: errors naming the file, nothing allocated */
  snprintf(p, sizeof p, "%s/bad.jpg", dir);
  FILE *f = fopen(p, "wb");
  fputs("not a jpeg", f);
  fclose(f);
  assert_int_equal(nd_image_read_gray(p, &im), ND_ERR_FORMAT);
  assert_non_null(strstr(nd_last_error(), "bad.jpg"));
  assert_null(im.data);
  snprintf(p, sizeof p, "%s/none.png", dir);
  assert_int_equal(nd_image_read_gray(p, &im), ND_ERR_IO);
  assert_int_equal(nd_image_parse_gray("xx", 2, "mem", &im), ND_ERR_FORMAT);
  io_rm_rf(dir);
}

static void test_photographs(void **state) {
  (void)state;
  char dir[4096];
  if (nd_data_find(NULL, "photos", dir, sizeof dir) != ND_OK) skip();
  nd_tensor pt;
  nd_assert_ok(nd_photo_patches_load(NULL, 8, 500, 1, 0.1, &pt));
  assert_int_equal(pt.shape[0], 500);
  assert_int_equal(pt.shape[1], 64);
  for (int64_t i = 0; i < 500 * 64; i++) assert_true(isfinite(pt.data[i]));
  nd_tensor_release(&pt);
  char p[4200];
  snprintf(p, sizeof p, "%s/china.jpg", dir);
  nd_tensor im;
  nd_assert_ok(nd_image_read_gray(p, &im));
  assert_int_equal(im.shape[0], 427); /* sklearn's load_sample_image: 427 x 640 x 3 */
  assert_int_equal(im.shape[1], 640);
  nd_tensor_release(&im);
}

static void test_patch_windows(void **state) {
  (void)state;
  nd_tensor im[2];
  nd_assert_ok(nd_tensor_alloc(&im[0], 2, ND_SHAPE(6, 9)));
  nd_assert_ok(nd_tensor_alloc(&im[1], 2, ND_SHAPE(4, 4)));
  for (int i = 0; i < 54; i++) im[0].data[i] = (float)i;
  for (int i = 0; i < 16; i++) im[1].data[i] = 1000.0f + (float)i;
  nd_tensor pt;
  nd_assert_ok(nd_patches_sample(im, 2, 3, 400, 7, &pt));
  int from1 = 0;
  for (int p = 0; p < 400; p++) {
    const float *q = pt.data + p * 9;
    bool second = q[0] >= 1000;
    int W = second ? 4 : 9, base = (int)(q[0] - (second ? 1000 : 0));
    from1 += second;
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 3; x++) nd_assert_close(q[y * 3 + x], q[0] + y * W + x, 0, 0);
    assert_true(base % W + 3 <= W && base / W + 3 <= (second ? 4 : 6));
  }
  /* image 1 has 4 of the 32 + 4 positions: about 44 of 400 patches */
  assert_true(from1 > 15 && from1 < 80);
  nd_tensor_release(&pt);
  assert_int_equal(nd_patches_sample(im, 2, 5, 10, 7, &pt), ND_ERR_SHAPE); /* 5x5 > 4x4 */
  nd_tensor_release(&im[0]);
  nd_tensor_release(&im[1]);
}

static void test_dsyev(void **state) {
  (void)state;
  /* [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 1, 3, 5 with (1,-1,0)/sqrt2, (1,1,0)/sqrt2, (0,0,1) */
  double a[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, w[3];
  nd_assert_ok(nd_dsyev(3, a, w));
  nd_assert_close(w[0], 1, 1e-12, 0);
  nd_assert_close(w[1], 3, 1e-12, 0);
  nd_assert_close(w[2], 5, 1e-12, 0);
  nd_assert_close(fabs(a[0]), M_SQRT1_2, 1e-12, 0);
  nd_assert_close(a[0] + a[1], 0, 1e-12, 0);
  nd_assert_close(a[3] - a[4], 0, 1e-12, 0);
  nd_assert_close(fabs(a[8]), 1, 1e-12, 0);
  a[4] = NAN;
  assert_int_equal(nd_dsyev(3, a, w), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_dsyev(0, a, w), ND_ERR_INVALID_ARG);
}

static void test_whiten(void **state) {
  (void)state;
  enum { N = 4000, D = 6 };
  nd_tensor x;
  nd_assert_ok(nd_tensor_alloc(&x, 2, ND_SHAPE(N, D)));
  nd_rng r;
  nd_rng_init(&r, 3);
  float z[D];
  for (int p = 0; p < N; p++) { /* correlated: x_j = sum_{k<=j} z_k * (k+1) */
    nd_rng_normal(&r, z, D, 0, 1);
    double acc = 0;
    for (int j = 0; j < D; j++) x.data[p * D + j] = (float)(acc += z[j] * (j + 1));
  }
  float zca[D * D];
  nd_assert_ok(nd_patches_whiten(&x, 0.0, zca));
  /* covariance of the output, recomputed here: the projector I - 11^T/D
   * (each row's mean was removed, so the all-ones direction is null) */
  for (int i = 0; i < D; i++)
    for (int j = 0; j < D; j++) {
      double c = 0;
      for (int p = 0; p < N; p++) c += (double)x.data[p * D + i] * x.data[p * D + j];
      nd_assert_close(c / N, (i == j) - 1.0 / D, 1e-4, 0);
    }
  for (int i = 0; i < D; i++) /* ZCA: the symmetric whitening matrix */
    for (int j = 0; j < D; j++) nd_assert_close(zca[i * D + j], zca[j * D + i], 1e-5, 1e-5);
  assert_int_equal(nd_patches_whiten(&x, -1, NULL), ND_ERR_INVALID_ARG);
  nd_tensor_release(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_png),   cmocka_unit_test(test_photographs), cmocka_unit_test(test_patch_windows),
      cmocka_unit_test(test_dsyev),        cmocka_unit_test(test_whiten),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
