/* Bijective classifier (include/neurodyn/revnet.h): gradients by
 * reconstruction equal those with stored activations and central
 * differences of a float64 forward pass written here from the block
 * equations; the input is reconstructed; activation memory flat in depth
 * without storing, growing with it when storing; bad arguments. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/revnet.h"

enum { D = 8, H = 3, L = 3, C = 3, B = 4, NP = 2 * L * (H * D / 2 + H + D / 2 * H + D / 2) };

static double ref_loss(const double *p, const float *x, const int32_t *lab) {
  int d = D / 2, sub = H * d + H + d * H + d;
  double total = 0;
  for (int r = 0; r < B; r++) {
    double y[D];
    for (int i = 0; i < D; i++) y[i] = x[r * D + i];
    for (int k = 0; k < 2 * L; k++) {
      const double *W = p + k * sub, *b = W + H * d, *V = b + H, *c = V + d * H;
      double *u = k % 2 ? y : y + d, *t = k % 2 ? y + d : y, a[H];
      for (int j = 0; j < H; j++) {
        a[j] = b[j];
        for (int i = 0; i < d; i++) a[j] += W[j * d + i] * u[i];
        a[j] = tanh(a[j]);
      }
      for (int i = 0; i < d; i++) {
        double o = c[i];
        for (int j = 0; j < H; j++) o += V[i * H + j] * a[j];
        t[i] += o;
      }
    }
    double mx = y[0], se = 0;
    for (int k = 1; k < C; k++) mx = fmax(mx, y[k]);
    for (int k = 0; k < C; k++) se += exp(y[k] - mx);
    total += -(y[lab[r]] - mx - log(se));
  }
  return total / B;
}

static nd_revnet *make(bool store, int64_t layers) {
  nd_revnet_config c = nd_revnet_defaults();
  c.inputs = D, c.hidden = H, c.layers = layers, c.classes = C, c.batch_max = B, c.store = store, c.seed = 5;
  nd_revnet *m = NULL;
  nd_assert_ok(nd_revnet_create(&c, &m));
  float *p = nd_revnet_params(m);
  nd_rng r;
  nd_rng_init(&r, 2);
  for (int64_t i = 0; i < nd_revnet_num_params(m); i++) p[i] += (float)(0.3 * (nd_rng_uniform1(&r) - 0.5)); /* every term non-zero */
  return m;
}

static void test_gradients(void **s) {
  (void)s;
  nd_revnet *a = make(false, L), *b = make(true, L);
  assert_int_equal(nd_revnet_num_params(a), NP);
  float x[B * D];
  int32_t lab[B] = {0, 2, 1, 2};
  nd_rng r;
  nd_rng_init(&r, 7);
  nd_assert_ok(nd_rng_uniform(&r, x, B * D, -1, 1));
  double la, lb;
  int64_t wa, wb;
  nd_assert_ok(nd_revnet_loss_grad(a, x, lab, B, &la, &wa));
  nd_assert_ok(nd_revnet_loss_grad(b, x, lab, B, &lb, &wb));
  assert_true(la == lb && wa == wb);
  assert_true(nd_revnet_reconstruction_error(a) < 1e-5);
  double p[NP], gmax = 0;
  for (int i = 0; i < NP; i++) p[i] = nd_revnet_params(a)[i];
  nd_assert_close(la, ref_loss(p, x, lab), 1e-5, 1e-5);
  const float *ga = nd_revnet_grad(a), *gb = nd_revnet_grad(b);
  double want[NP];
  for (int i = 0; i < NP; i++) {
    double v = p[i], h = 1e-6;
    p[i] = v + h;
    double lp = ref_loss(p, x, lab);
    p[i] = v - h;
    double lm = ref_loss(p, x, lab);
    p[i] = v;
    want[i] = (lp - lm) / (2 * h), gmax = fmax(gmax, fabs(want[i]));
  }
  assert_true(gmax > 0.05);
  for (int i = 0; i < NP; i++) {
    if (!(fabs(ga[i] - want[i]) <= 1e-4 * gmax)) fail_msg("param %d: reconstructed %.8g, finite difference %.8g", i, ga[i], want[i]);
    if (!(fabs(ga[i] - gb[i]) <= 1e-5 * gmax)) fail_msg("param %d: reconstructed %.8g, stored %.8g", i, ga[i], gb[i]);
  }
  nd_revnet_free(a), nd_revnet_free(b);
}

/* Activation bytes: the same for 3 and 12 blocks when reconstructing; with storing, (L + 1) B D floats more. */
static void test_memory_in_depth(void **s) {
  (void)s;
  size_t bytes[2][2];
  float x[B * D] = {0.5f};
  int32_t lab[B] = {0};
  for (int st = 0; st < 2; st++)
    for (int k = 0; k < 2; k++) {
      nd_revnet *m = make(st, k ? 12 : 3);
      double loss;
      int64_t w;
      nd_assert_ok(nd_revnet_loss_grad(m, x, lab, B, &loss, &w));
      bytes[st][k] = nd_revnet_activation_bytes(m);
      nd_revnet_free(m);
    }
  assert_true(bytes[0][0] == bytes[0][1]);
  assert_true(bytes[1][1] - bytes[1][0] == sizeof(float) * 9 * B * D);
  print_message("activation bytes, 3 -> 12 blocks: reconstructing %zu -> %zu, storing %zu -> %zu\n", bytes[0][0], bytes[0][1],
                bytes[1][0], bytes[1][1]);
}

static void test_bad_args(void **s) {
  (void)s;
  nd_revnet_config c = nd_revnet_defaults();
  c.inputs = 7;
  assert_int_equal(nd_revnet_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_revnet_defaults(), c.classes = 500;
  assert_int_equal(nd_revnet_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_revnet_defaults(), c.layers = 0;
  assert_int_equal(nd_revnet_config_check(&c), ND_ERR_INVALID_ARG);
  nd_revnet *m = (nd_revnet *)1;
  assert_int_equal(nd_revnet_create(NULL, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  m = make(false, 1);
  float x[B * D] = {0}, lg[B * C];
  assert_int_equal(nd_revnet_predict(m, x, B + 1, lg), ND_ERR_SHAPE);
  assert_int_equal(nd_revnet_predict(m, x, B, NULL), ND_ERR_INVALID_ARG);
  nd_revnet_free(m);
  nd_revnet_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradients),
      cmocka_unit_test(test_memory_in_depth),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
