/* Autodiff reductions and losses: sum, mean, cross-entropy, MSE and Krotov &
 * Hopfield's |c - t|^m loss.  Values against double-precision formulas,
 * gradients by nd_gradcheck, plus the rectified-power/tanh top layer the
 * Krotov model trains with Adam. */
#include "ad_test.h"

/* ------------------------------------------------------------ sum, mean */
static nd_status f_sum(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  *out = user ? nd_ad_mean(tp, l[0]) : nd_ad_sum(tp, l[0]);
  return nd_tape_status(tp);
}
/* Through an intermediate node, so the reduction's VJP writes a fresh buffer,
 * and a second use of the same node, so it also accumulates. */
static nd_status f_sum_chain(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  nd_var *h = nd_ad_square(tp, l[0]);
  nd_var *a = user ? nd_ad_mean(tp, h) : nd_ad_sum(tp, h);
  nd_var *b = user ? nd_ad_mean(tp, h) : nd_ad_sum(tp, h);
  *out = nd_ad_add(tp, a, nd_ad_scale(tp, b, 0.5f));
  return nd_tape_status(tp);
}

static void test_sum_mean(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(3, ND_SHAPE(2, 3, 4), 1);
  double s = 0;
  for (int j = 0; j < 24; j++) s += x->data[j];
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_constant(tp, x);
  nd_var *sv = nd_ad_sum(tp, xv), *mv = nd_ad_mean(tp, xv);
  nd_assert_ok(nd_tape_status(tp));
  assert_int_equal(nd_tensor_numel(nd_var_value(sv)), 1);
  nd_assert_close(nd_var_item(sv), s, 1e-6, 1e-6);
  nd_assert_close(nd_var_item(mv), s / 24, 1e-6, 1e-6);
  /* the mean of nothing is an error, the sum of nothing is 0 */
  nd_tensor empty = nd_tensor_wrap(x->data, 2, ND_SHAPE(0, 3));
  nd_var *es = nd_ad_sum(tp, nd_tape_constant(tp, &empty));
  nd_assert_ok(nd_tape_status(tp));
  nd_assert_close(nd_var_item(es), 0.0, 0, 0);
  assert_null(nd_ad_mean(tp, nd_tape_constant(tp, &empty)));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  nd_tape_free(tp);
  int mean = 1;
  AD_GRADCHECK("sum", f_sum, NULL, x);
  AD_GRADCHECK("mean", f_sum, &mean, x);
  AD_GRADCHECK("sum chained", f_sum_chain, NULL, x);
  AD_GRADCHECK("mean chained", f_sum_chain, &mean, x);
  nd_tensor_free(x);
}

/* --------------------------------------------------------- cross-entropy */
static const int32_t ce_labels[4] = {2, 0, 4, 1};

static nd_status f_ce(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  nd_var *z = user ? nd_ad_scale(tp, l[0], 1.0f) : l[0]; /* user: through an intermediate */
  *out = nd_ad_cross_entropy(tp, z, ce_labels);
  return nd_tape_status(tp);
}
/* cross-entropy scaled after the fact: its VJP must multiply by dL/dloss */
static nd_status f_ce_scaled(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  nd_var *a = nd_ad_cross_entropy(tp, nd_ad_linear(tp, l[0], l[1], l[2]), ce_labels);
  *out = nd_ad_add(tp, nd_ad_scale(tp, a, -3.0f), nd_ad_cross_entropy(tp, nd_ad_tanh(tp, nd_ad_scale(tp, l[0], 2.0f)), ce_labels));
  return nd_tape_status(tp);
}

static void test_cross_entropy(void **state) {
  (void)state;
  nd_tensor *z = nd_test_tensor(2, ND_SHAPE(4, 5));
  ad_fill(z, 3, -3, 3, NULL, 0, 0);
  z->data[5] = 40.0f; /* a large logit: the log-sum-exp must not overflow */
  double want = 0;
  for (int r = 0; r < 4; r++) {
    double mx = -INFINITY, se = 0;
    for (int c = 0; c < 5; c++) mx = fmax(mx, z->data[r * 5 + c]);
    for (int c = 0; c < 5; c++) se += exp(z->data[r * 5 + c] - mx);
    want += mx + log(se) - z->data[r * 5 + ce_labels[r]];
  }
  want /= 4;
  nd_tape *tp = nd_test_tape(0);
  nd_var *l = nd_ad_cross_entropy(tp, nd_tape_constant(tp, z), ce_labels);
  nd_assert_ok(nd_tape_status(tp));
  nd_assert_close(nd_var_item(l), want, 1e-5, 1e-5);
  /* a label outside 0..C-1 is an error, and so is a 1-D input */
  const int32_t bad[4] = {0, 5, 1, 1};
  assert_null(nd_ad_cross_entropy(tp, nd_tape_constant(tp, z), bad));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_reset(tp);
  nd_tensor flat = nd_tensor_wrap(z->data, 1, ND_SHAPE(20));
  assert_null(nd_ad_cross_entropy(tp, nd_tape_constant(tp, &flat), ce_labels));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "20"));
  nd_tape_free(tp);
  z->data[5] = 2.5f;
  int through = 1;
  AD_GRADCHECK("cross_entropy", f_ce, NULL, z);
  AD_GRADCHECK("cross_entropy through an intermediate", f_ce, &through, z);
  nd_tensor *x = ad_tensor(2, ND_SHAPE(4, 5), 4), *W = ad_tensor(2, ND_SHAPE(5, 5), 5), *b = ad_tensor(1, ND_SHAPE(5), 6);
  AD_GRADCHECK("cross_entropy scaled and summed", f_ce_scaled, NULL, x, W, b);
  nd_tensor_free(z);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(b);
}

/* ------------------------------------------------------------------- MSE */
static nd_status f_mse(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_mse(tp, l[0], l[1]);
  return nd_tape_status(tp);
}
static nd_status f_mse_const(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  *out = nd_ad_mse(tp, nd_ad_sigmoid(tp, l[0]), nd_tape_constant(tp, user));
  return nd_tape_status(tp);
}

static void test_mse(void **state) {
  (void)state;
  nd_tensor *a = ad_tensor(2, ND_SHAPE(3, 4), 1), *b = ad_tensor(2, ND_SHAPE(3, 4), 2);
  double want = 0;
  for (int j = 0; j < 12; j++) want += ((double)a->data[j] - b->data[j]) * ((double)a->data[j] - b->data[j]);
  want /= 12;
  nd_tape *tp = nd_test_tape(0);
  nd_var *l = nd_ad_mse(tp, nd_tape_constant(tp, a), nd_tape_constant(tp, b));
  nd_assert_ok(nd_tape_status(tp));
  nd_assert_close(nd_var_item(l), want, 1e-7, 1e-6);
  nd_tensor *c = ad_tensor(2, ND_SHAPE(4, 3), 3);
  assert_null(nd_ad_mse(tp, nd_tape_constant(tp, a), nd_tape_constant(tp, c)));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "3x4"));
  assert_non_null(strstr(nd_last_error(), "4x3"));
  nd_tape_free(tp);
  AD_GRADCHECK("mse", f_mse, NULL, a, b);
  AD_GRADCHECK("mse against a constant", f_mse_const, b, a);
  nd_tensor_free(a);
  nd_tensor_free(b);
  nd_tensor_free(c);
}

/* --------------------------------------------------------- |c - t|^m loss */
typedef struct apl_case {
  float m;
  bool fresh;
} apl_case;

static nd_status f_apl(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const apl_case *c = user;
  nd_var *a = c->fresh ? nd_ad_scale(tp, l[0], 1.0f) : l[0], *b = c->fresh ? nd_ad_scale(tp, l[1], 1.0f) : l[1];
  *out = nd_ad_abs_power_loss(tp, a, b, c->m);
  if (c->fresh) *out = nd_ad_add(tp, *out, nd_ad_scale(tp, nd_ad_abs_power_loss(tp, a, b, c->m), 0.5f));
  return nd_tape_status(tp);
}

static void test_abs_power_loss(void **state) {
  (void)state;
  static const float ms[] = {1.0f, 2.0f, 3.0f, 4.5f, 6.0f};
  nd_tensor *c = nd_test_tensor(2, ND_SHAPE(3, 5)), *t = nd_test_tensor(2, ND_SHAPE(3, 5));
  ad_fill(c, 1, -0.9f, 0.9f, NULL, 0, 0); /* |c - t| >= 0.1: away from the kink of m = 1 */
  for (int j = 0; j < 15; j++) t->data[j] = j % 5 == j / 5 ? 1.0f : -1.0f; /* +-1 targets as in Krotov & Hopfield */
  t->data[14] = c->data[14] + 0.3f;                                         /* and a negative difference */
  for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
    float m = ms[k];
    double want = 0;
    for (int j = 0; j < 15; j++) want += pow(fabs((double)c->data[j] - t->data[j]), m);
    nd_tape *tp = nd_test_tape(0);
    nd_var *l = nd_ad_abs_power_loss(tp, nd_tape_constant(tp, c), nd_tape_constant(tp, t), m);
    nd_assert_ok(nd_tape_status(tp));
    nd_assert_close(nd_var_item(l), want, 1e-6, 1e-6);
    /* analytic gradient: dL/dc = m |c-t|^(m-1) sign(c-t) (Krotov & Hopfield 2019, Eq. 12) */
    nd_tensor *g = nd_test_tensor(2, ND_SHAPE(3, 5));
    nd_tape_reset(tp);
    l = nd_ad_abs_power_loss(tp, nd_tape_param(tp, c, g), nd_tape_constant(tp, t), m);
    nd_assert_ok(nd_tape_backward(tp, l));
    for (int j = 0; j < 15; j++) {
      double d = (double)c->data[j] - t->data[j];
      nd_assert_close(g->data[j], m * pow(fabs(d), m - 1) * (d > 0 ? 1 : -1), 1e-5, 1e-5);
    }
    nd_tensor_free(g);
    nd_tape_free(tp);
    /* The loss is stored in float32, so its rounding (|L| up to ~10^2 for
     * m = 6) divided by 2h dominates with h = 1e-3; h = 1e-2 keeps both that
     * and the truncation error (|d| <= 2) within tolerance. */
    apl_case ac = {m, false};
    char what[64];
    snprintf(what, sizeof what, "abs_power_loss m = %g", (double)m);
    AD_GRADCHECK_STEP(what, f_apl, &ac, 1e-2, 0, c, t);
    ac.fresh = true;
    snprintf(what, sizeof what, "abs_power_loss m = %g, intermediates", (double)m);
    AD_GRADCHECK_STEP(what, f_apl, &ac, 1e-2, 0, c, t);
  }
  /* m < 1, NaN and mismatched shapes are errors */
  nd_tape *tp = nd_test_tape(0);
  assert_null(nd_ad_abs_power_loss(tp, nd_tape_constant(tp, c), nd_tape_constant(tp, t), 0.5f));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_reset(tp);
  assert_null(nd_ad_abs_power_loss(tp, nd_tape_constant(tp, c), nd_tape_constant(tp, t), NAN));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_reset(tp);
  nd_tensor t2 = nd_tensor_wrap(t->data, 2, ND_SHAPE(5, 3));
  assert_null(nd_ad_abs_power_loss(tp, nd_tape_constant(tp, c), nd_tape_constant(tp, &t2), 6.0f));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "5x3"));
  nd_tape_free(tp);
  nd_tensor_free(c);
  nd_tensor_free(t);
}

/* The supervised top layer of Krotov & Hopfield 2019 (Eq. 11-12):
 * h = relu(v W^T)^n, c = tanh(beta h S^T), loss = sum |c - t|^m. */
typedef struct krotov_case {
  nd_tensor *v, *t;
  float n, beta, m;
} krotov_case;

static nd_status f_krotov(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const krotov_case *k = user;
  nd_var *h = nd_ad_relu_pow(tp, nd_ad_matmul(tp, nd_tape_constant(tp, k->v), l[0], false, true), k->n);
  nd_var *c = nd_ad_tanh(tp, nd_ad_scale(tp, nd_ad_matmul(tp, h, l[1], false, true), k->beta));
  *out = nd_ad_abs_power_loss(tp, c, nd_tape_constant(tp, k->t), k->m);
  return nd_tape_status(tp);
}

static void test_krotov_top_layer(void **state) {
  (void)state;
  const int64_t B = 4, D = 6, H = 5, C = 3;
  nd_tensor *v = ad_tensor(2, ND_SHAPE(B, D), 1), *W = ad_tensor(2, ND_SHAPE(H, D), 2);
  nd_tensor *S = ad_tensor(2, ND_SHAPE(C, H), 3), *t = nd_test_tensor(2, ND_SHAPE(B, C));
  for (int64_t j = 0; j < B * C; j++) t->data[j] = j % C == (j / C) % C ? 1.0f : -1.0f;
  krotov_case k = {v, t, 3.0f, 0.5f, 6.0f};
  /* keep v W^T away from the relu kink at 0 so finite differences are smooth */
  nd_tape *tp = nd_test_tape(0);
  nd_var *a = nd_ad_matmul(tp, nd_tape_constant(tp, v), nd_tape_constant(tp, W), false, true);
  nd_assert_ok(nd_tape_status(tp));
  for (int64_t j = 0; j < B * H; j++) assert_true(fabsf(nd_var_value(a)->data[j]) > 1e-2f);
  nd_tape_free(tp);
  AD_GRADCHECK("Krotov top layer", f_krotov, &k, W, S);
  nd_tensor_free(v);
  nd_tensor_free(W);
  nd_tensor_free(S);
  nd_tensor_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sum_mean), cmocka_unit_test(test_cross_entropy), cmocka_unit_test(test_mse),
      cmocka_unit_test(test_abs_power_loss), cmocka_unit_test(test_krotov_top_layer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
