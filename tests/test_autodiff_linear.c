/* Autodiff linear ops: matmul (all transposes), linear, broadcast add/sub/mul,
 * scale, reshape.  Forward values against naive loops; gradients by gradcheck. */
#include "ad_test.h"

/* ---------------------------------------------------------------- matmul */
typedef struct mm_args {
  bool ta, tb;
} mm_args;

static nd_status f_matmul(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const mm_args *a = user;
  *out = nd_ad_matmul(tp, l[0], l[1], a->ta, a->tb);
  return nd_tape_status(tp);
}

static void test_matmul(void **state) {
  (void)state;
  const int64_t m = 3, k = 4, n = 5;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      nd_tensor *A = ad_tensor(2, ta ? ND_SHAPE(k, m) : ND_SHAPE(m, k), 10 + ta);
      nd_tensor *B = ad_tensor(2, tb ? ND_SHAPE(n, k) : ND_SHAPE(k, n), 20 + tb);
      /* forward against a naive triple loop */
      nd_tape *tp = nd_test_tape(0);
      nd_var *c = nd_ad_matmul(tp, nd_tape_constant(tp, A), nd_tape_constant(tp, B), ta, tb);
      nd_assert_ok(nd_tape_status(tp));
      const nd_tensor *cv = nd_var_value(c);
      assert_int_equal(cv->shape[0], m);
      assert_int_equal(cv->shape[1], n);
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          double s = 0;
          for (int64_t p = 0; p < k; p++) {
            double av = ta ? A->data[p * m + i] : A->data[i * k + p];
            double bv = tb ? B->data[j * k + p] : B->data[p * n + j];
            s += av * bv;
          }
          nd_assert_close(cv->data[i * n + j], s, 1e-5, 1e-5);
        }
      nd_tape_free(tp);
      mm_args args = {ta, tb};
      AD_GRADCHECK(ta ? (tb ? "matmul TT" : "matmul TN") : (tb ? "matmul NT" : "matmul NN"), f_matmul, &args, A, B);
      nd_tensor_free(A);
      nd_tensor_free(B);
    }
}

static void test_matmul_shape_error(void **state) {
  (void)state;
  nd_tensor *A = ad_tensor(2, ND_SHAPE(3, 4), 1), *B = ad_tensor(2, ND_SHAPE(3, 4), 2);
  nd_tape *tp = nd_test_tape(0);
  nd_var *a = nd_tape_constant(tp, A), *b = nd_tape_constant(tp, B);
  assert_null(nd_ad_matmul(tp, a, b, false, false));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "matmul"));
  assert_non_null(strstr(nd_last_error(), "3x4"));
  /* The failure is sticky: later ops return NULL and backward reports it. */
  assert_null(nd_ad_relu(tp, NULL));
  assert_int_equal(nd_tape_backward(tp, a), ND_ERR_SHAPE);
  /* NT is fine */
  nd_tape_reset(tp);
  a = nd_tape_constant(tp, A);
  b = nd_tape_constant(tp, B);
  assert_non_null(nd_ad_matmul(tp, a, b, false, true));
  nd_assert_ok(nd_tape_status(tp));
  nd_tape_free(tp);
  nd_tensor_free(A);
  nd_tensor_free(B);
}

/* ---------------------------------------------------------------- linear */
static nd_status f_linear(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_linear(tp, l[0], l[1], l[2]);
  return nd_tape_status(tp);
}
static nd_status f_linear_nobias(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_linear(tp, l[0], l[1], NULL);
  return nd_tape_status(tp);
}

static void test_linear(void **state) {
  (void)state;
  const int64_t B = 4, in = 5, out = 3;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(B, in), 1), *W = ad_tensor(2, ND_SHAPE(out, in), 2),
            *b = ad_tensor(1, ND_SHAPE(out), 3);
  nd_tape *tp = nd_test_tape(0);
  nd_var *y = nd_ad_linear(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, W), nd_tape_constant(tp, b));
  nd_assert_ok(nd_tape_status(tp));
  for (int64_t r = 0; r < B; r++)
    for (int64_t o = 0; o < out; o++) {
      double s = b->data[o];
      for (int64_t i = 0; i < in; i++) s += (double)x->data[r * in + i] * W->data[o * in + i];
      nd_assert_close(nd_var_value(y)->data[r * out + o], s, 1e-5, 1e-5);
    }
  nd_tape_free(tp);
  AD_GRADCHECK("linear", f_linear, NULL, x, W, b);
  AD_GRADCHECK("linear without bias", f_linear_nobias, NULL, x, W);
  /* x with extra leading dimensions: [2, 2, in] */
  nd_tensor x3;
  nd_assert_ok(nd_tensor_reshape(x, 3, ND_SHAPE(2, 2, in), &x3));
  AD_GRADCHECK("linear 3-D input", f_linear, NULL, &x3, W, b);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(b);
}

/* ---------------------------------------------------- broadcast binaries */
typedef nd_var *(*binop)(nd_tape *, nd_var *, nd_var *);
static nd_status f_binary(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  *out = (*(binop *)user)(tp, l[0], l[1]);
  return nd_tape_status(tp);
}

static double ref_op(int op, double a, double b) { return op == 0 ? a + b : op == 1 ? a - b : a * b; }

static void test_binary(void **state) {
  (void)state;
  binop ops[3] = {nd_ad_add, nd_ad_sub, nd_ad_mul};
  const char *names[3] = {"add", "sub", "mul"};
  nd_tensor *a2 = ad_tensor(2, ND_SHAPE(3, 4), 1), *b2 = ad_tensor(2, ND_SHAPE(3, 4), 2);
  nd_tensor *bias = ad_tensor(1, ND_SHAPE(4), 3), *s = ad_tensor(0, NULL, 4);
  nd_tensor *a4 = ad_tensor(4, ND_SHAPE(2, 3, 2, 2), 5), *c4 = ad_tensor(1, ND_SHAPE(3), 6);
  for (int op = 0; op < 3; op++) {
    char what[64];
    snprintf(what, sizeof what, "%s same shape", names[op]);
    AD_GRADCHECK(what, f_binary, &ops[op], a2, b2);
    snprintf(what, sizeof what, "%s column bias", names[op]);
    AD_GRADCHECK(what, f_binary, &ops[op], a2, bias);
    snprintf(what, sizeof what, "%s scalar", names[op]);
    AD_GRADCHECK(what, f_binary, &ops[op], a2, s);
    snprintf(what, sizeof what, "%s channel NCHW", names[op]);
    AD_GRADCHECK(what, f_binary, &ops[op], a4, c4);
    /* forward values */
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = ops[op](tp, nd_tape_constant(tp, a4), nd_tape_constant(tp, c4));
    nd_var *z = ops[op](tp, nd_tape_constant(tp, a2), nd_tape_constant(tp, s));
    nd_assert_ok(nd_tape_status(tp));
    for (int64_t n = 0; n < 2; n++)
      for (int64_t c = 0; c < 3; c++)
        for (int64_t i = 0; i < 4; i++) {
          int64_t j = (n * 3 + c) * 4 + i;
          nd_assert_close(nd_var_value(y)->data[j], ref_op(op, a4->data[j], c4->data[c]), 1e-6, 1e-6);
        }
    for (int64_t j = 0; j < 12; j++) nd_assert_close(nd_var_value(z)->data[j], ref_op(op, a2->data[j], s->data[0]), 1e-6, 1e-6);
    /* a bias that fits no rule is a shape error */
    nd_tensor *bad = ad_tensor(1, ND_SHAPE(5), 7);
    assert_null(ops[op](tp, nd_tape_constant(tp, a2), nd_tape_constant(tp, bad)));
    assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
    nd_tensor_free(bad);
    nd_tape_free(tp);
  }
  nd_tensor_free(a2);
  nd_tensor_free(b2);
  nd_tensor_free(bias);
  nd_tensor_free(s);
  nd_tensor_free(a4);
  nd_tensor_free(c4);
}

/* A leaf used twice: d(x*x)/dx = 2x, d(x+x)/dx = 2. */
static nd_status f_square_by_mul(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_add(tp, nd_ad_mul(tp, l[0], l[0]), l[0]);
  return nd_tape_status(tp);
}

static void test_shared_input(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(1, ND_SHAPE(6), 9), *g = nd_test_tensor(1, ND_SHAPE(6));
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_param(tp, x, g);
  nd_var *y = nd_ad_sum(tp, nd_ad_add(tp, nd_ad_mul(tp, xv, xv), xv));
  nd_assert_ok(nd_tape_backward(tp, y));
  for (int j = 0; j < 6; j++) nd_assert_close(g->data[j], 2.0 * x->data[j] + 1.0, 1e-6, 1e-6);
  nd_tape_free(tp);
  AD_GRADCHECK("x*x + x", f_square_by_mul, NULL, x);
  nd_tensor_free(x);
  nd_tensor_free(g);
}

/* ------------------------------------------------------- scale, reshape */
static nd_status f_scale(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_scale(tp, l[0], -2.5f);
  return nd_tape_status(tp);
}
static nd_status f_reshape(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  nd_var *r = nd_ad_reshape(tp, l[0], 2, ND_SHAPE(-1, 2));
  *out = nd_ad_mul(tp, r, l[1]); /* [6,2] * bias[2] makes the layout matter */
  return nd_tape_status(tp);
}

static void test_scale_reshape(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(3, 4), 1), *c = ad_tensor(1, ND_SHAPE(2), 2);
  AD_GRADCHECK("scale", f_scale, NULL, x);
  AD_GRADCHECK("reshape", f_reshape, NULL, x, c);
  nd_tape *tp = nd_test_tape(0);
  nd_var *r = nd_ad_reshape(tp, nd_tape_constant(tp, x), 2, ND_SHAPE(6, -1));
  nd_assert_ok(nd_tape_status(tp));
  assert_int_equal(nd_var_value(r)->shape[1], 2);
  assert_ptr_equal(nd_var_value(r)->data, x->data); /* a view, no copy */
  assert_null(nd_ad_reshape(tp, nd_tape_constant(tp, x), 2, ND_SHAPE(5, -1)));
  assert_int_not_equal(nd_tape_status(tp), ND_OK);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matmul),       cmocka_unit_test(test_matmul_shape_error),
      cmocka_unit_test(test_linear),       cmocka_unit_test(test_binary),
      cmocka_unit_test(test_shared_input), cmocka_unit_test(test_scale_reshape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
