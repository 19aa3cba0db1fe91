/* Autodiff elementwise ops (every nd_unary_op), PReLU, softmax, log-softmax:
 * forward against libm formulas, gradients by gradcheck away from kinks. */
#include "ad_test.h"

typedef struct unary_case {
  const char *name;
  nd_unary_op op;
  float param;
  float lo, hi;     /* input range */
  float kinks[3];   /* points where f or f' jumps */
  int nk;
} unary_case;

static double ref_unary(nd_unary_op op, double p, double x) {
  switch (op) {
    case ND_RELU: return x > 0 ? x : 0;
    case ND_LEAKY_RELU: return x >= 0 ? x : p * x;
    case ND_TANH: return tanh(x);
    case ND_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ND_SOFTPLUS: return log1p(exp(x));
    case ND_ABS: return fabs(x);
    case ND_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case ND_POW: return (x < 0 ? -1 : 1) * pow(fabs(x), p);
    case ND_RELU_POW: return x > 0 ? pow(x, p) : 0;
    case ND_SOFT_THRESHOLD: return (x < 0 ? -1 : 1) * fmax(fabs(x) - p, 0);
    case ND_HARD_THRESHOLD: return fabs(x) > p ? x : 0;
    case ND_NONNEG_THRESHOLD: return fmax(x - p, 0);
    case ND_EXP: return exp(x);
    case ND_LOG: return log(x);
    case ND_SQUARE: return x * x;
    default: return NAN;
  }
}

static const unary_case cases[] = {
    {"relu", ND_RELU, 0, -1, 1, {0}, 1},
    {"leaky_relu", ND_LEAKY_RELU, 0.1f, -1, 1, {0}, 1},
    {"tanh", ND_TANH, 0, -2, 2, {0}, 0},
    {"sigmoid", ND_SIGMOID, 0, -3, 3, {0}, 0},
    {"softplus", ND_SOFTPLUS, 0, -3, 3, {0}, 0},
    {"abs", ND_ABS, 0, -1, 1, {0}, 1},
    {"pow 3", ND_POW, 3.0f, -1.2f, 1.2f, {0}, 1},
    {"pow 2.5", ND_POW, 2.5f, -1.2f, 1.2f, {0}, 1},
    {"relu_pow 4.5", ND_RELU_POW, 4.5f, -1.2f, 1.5f, {0}, 1},
    {"relu_pow 1", ND_RELU_POW, 1.0f, -1, 1, {0}, 1},
    {"soft_threshold", ND_SOFT_THRESHOLD, 0.3f, -1, 1, {-0.3f, 0.0f, 0.3f}, 3},
    {"hard_threshold", ND_HARD_THRESHOLD, 0.3f, -1, 1, {-0.3f, 0.3f}, 2},
    {"nonneg_threshold", ND_NONNEG_THRESHOLD, 0.3f, -1, 1, {0.3f}, 1},
    {"exp", ND_EXP, 0, -2, 2, {0}, 0},
    {"log", ND_LOG, 0, 0.2f, 3, {0}, 0},
    {"square", ND_SQUARE, 0, -2, 2, {0}, 0},
};

static nd_status f_unary(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const unary_case *c = user;
  *out = nd_ad_unary(tp, c->op, c->param, l[0]);
  return nd_tape_status(tp);
}

static void test_unary_ops(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const unary_case *c = &cases[k];
    nd_tensor *x = nd_test_tensor(2, ND_SHAPE(4, 6));
    ad_fill(x, 100 + k, c->lo, c->hi, c->kinks, c->nk, 0.05f);
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = nd_ad_unary(tp, c->op, c->param, nd_tape_constant(tp, x));
    nd_assert_ok(nd_tape_status(tp));
    for (int64_t j = 0; j < 24; j++) {
      double want = ref_unary(c->op, c->param, x->data[j]);
      if (fabs(nd_var_value(y)->data[j] - want) > 1e-5 + 1e-5 * fabs(want))
        fail_msg("%s(%g): got %.9g, want %.9g", c->name, x->data[j], nd_var_value(y)->data[j], want);
    }
    nd_tape_free(tp);
    AD_GRADCHECK(c->name, f_unary, (void *)c, x);
    nd_tensor_free(x);
  }
}

/* The wrappers call the generic op with the right code and parameter. */
static void test_wrappers(void **state) {
  (void)state;
  nd_tensor *x = nd_test_tensor(1, ND_SHAPE(8));
  ad_fill(x, 7, 0.2f, 1.5f, NULL, 0, 0);
  for (int j = 0; j < 4; j++) x->data[j] = -x->data[j];
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_constant(tp, x);
  struct {
    nd_var *v;
    nd_unary_op op;
    float p;
  } w[] = {
      {nd_ad_relu(tp, xv), ND_RELU, 0},
      {nd_ad_leaky_relu(tp, xv, 0.2f), ND_LEAKY_RELU, 0.2f},
      {nd_ad_tanh(tp, xv), ND_TANH, 0},
      {nd_ad_sigmoid(tp, xv), ND_SIGMOID, 0},
      {nd_ad_softplus(tp, xv), ND_SOFTPLUS, 0},
      {nd_ad_abs(tp, xv), ND_ABS, 0},
      {nd_ad_pow(tp, xv, 3.0f), ND_POW, 3.0f},
      {nd_ad_relu_pow(tp, xv, 4.5f), ND_RELU_POW, 4.5f},
      {nd_ad_soft_threshold(tp, xv, 0.5f), ND_SOFT_THRESHOLD, 0.5f},
      {nd_ad_hard_threshold(tp, xv, 0.5f), ND_HARD_THRESHOLD, 0.5f},
      {nd_ad_exp(tp, xv), ND_EXP, 0},
      {nd_ad_square(tp, xv), ND_SQUARE, 0},
  };
  nd_assert_ok(nd_tape_status(tp));
  for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
    for (int j = 0; j < 8; j++) nd_assert_close(nd_var_value(w[k].v)->data[j], ref_unary(w[k].op, w[k].p, x->data[j]), 1e-5, 1e-5);
  nd_var *lg = nd_ad_log(tp, nd_ad_exp(tp, xv));
  for (int j = 0; j < 8; j++) nd_assert_close(nd_var_value(lg)->data[j], x->data[j], 1e-6, 1e-5);
  nd_tape_free(tp);
  nd_tensor_free(x);
}

/* sign has zero derivative: it records nothing and passes no gradient. */
static void test_sign_no_gradient(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(1, ND_SHAPE(5), 3), *g = nd_test_tensor(1, ND_SHAPE(5));
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_param(tp, x, g);
  nd_var *s = nd_ad_unary(tp, ND_SIGN, 0, xv);
  assert_false(nd_var_requires_grad(s));
  nd_var *y = nd_ad_sum(tp, nd_ad_add(tp, nd_ad_mul(tp, s, xv), xv)); /* |x| + x */
  nd_assert_ok(nd_tape_backward(tp, y));
  for (int j = 0; j < 5; j++) nd_assert_close(g->data[j], (x->data[j] > 0 ? 1 : -1) + 1.0, 1e-6, 0);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(g);
}

/* ----------------------------------------------------------------- PReLU */
static nd_status f_prelu(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_prelu(tp, l[0], l[1]);
  return nd_tape_status(tp);
}
static nd_status f_prelu_x_only(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  *out = nd_ad_prelu(tp, l[0], nd_tape_constant(tp, user));
  return nd_tape_status(tp);
}

static void test_prelu(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(4, ND_SHAPE(2, 3, 2, 2), 11), *a = nd_test_tensor(1, ND_SHAPE(3));
  ad_fill(a, 12, 0.05f, 0.5f, NULL, 0, 0);
  nd_tape *tp = nd_test_tape(0);
  nd_var *y = nd_ad_prelu(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, a));
  nd_assert_ok(nd_tape_status(tp));
  for (int64_t j = 0; j < 24; j++) {
    int64_t c = (j / 4) % 3;
    double xv = x->data[j];
    nd_assert_close(nd_var_value(y)->data[j], xv >= 0 ? xv : a->data[c] * xv, 1e-7, 1e-6);
  }
  nd_tape_free(tp);
  AD_GRADCHECK("prelu NCHW", f_prelu, NULL, x, a);
  AD_GRADCHECK("prelu x only", f_prelu_x_only, a, x);
  nd_tensor *x2 = ad_tensor(2, ND_SHAPE(4, 3), 13);
  AD_GRADCHECK("prelu 2-D", f_prelu, NULL, x2, a);
  nd_tensor_free(x);
  nd_tensor_free(x2);
  nd_tensor_free(a);
}

/* ------------------------------------------------------ softmax family */
static nd_status f_softmax(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  *out = user ? nd_ad_log_softmax(tp, l[0]) : nd_ad_softmax(tp, l[0]);
  return nd_tape_status(tp);
}

static void test_softmax(void **state) {
  (void)state;
  nd_tensor *x = nd_test_tensor(2, ND_SHAPE(3, 5));
  ad_fill(x, 21, -2, 2, NULL, 0, 0);
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_constant(tp, x);
  nd_var *p = nd_ad_softmax(tp, xv), *lp = nd_ad_log_softmax(tp, xv);
  nd_assert_ok(nd_tape_status(tp));
  for (int r = 0; r < 3; r++) {
    double z = 0;
    for (int c = 0; c < 5; c++) z += exp(x->data[r * 5 + c]);
    for (int c = 0; c < 5; c++) {
      nd_assert_close(nd_var_value(p)->data[r * 5 + c], exp(x->data[r * 5 + c]) / z, 1e-6, 1e-5);
      nd_assert_close(nd_var_value(lp)->data[r * 5 + c], x->data[r * 5 + c] - log(z), 1e-5, 1e-5);
    }
  }
  nd_tape_free(tp);
  AD_GRADCHECK("softmax", f_softmax, NULL, x);
  int log_flag = 1;
  AD_GRADCHECK("log_softmax", f_softmax, &log_flag, x);
  nd_tensor_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_ops), cmocka_unit_test(test_wrappers), cmocka_unit_test(test_sign_no_gradient),
      cmocka_unit_test(test_prelu),     cmocka_unit_test(test_softmax),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
