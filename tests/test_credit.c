/* Credit assignment (include/neurodyn/credit.h, the methods of
 * include/neurodyn/mlp.h) against back-propagation and central differences:
 * FA with B = W equals BP; DFA's last-layer gradient equals BP's and, with
 * one hidden layer and D = W_out, every gradient does; DNI with the true
 * gradient as its synthetic one equals BP, and with its zero-initialised
 * modules leaves the layers below the top unchanged; the FF goodness loss
 * by gradcheck and against a double-precision formula; the angle. */
#include <string.h>

#include "models/mlp/internal.h"
#include "nd_test.h"

#define B 6

static void random_data(int64_t rows, int64_t d, int classes, uint64_t seed, float *x, int32_t *y) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, rows * d, 0.0f, 1.0f);
  for (int64_t i = 0; i < rows; i++) y[i] = (int32_t)(nd_rng_u32(&r) % (uint32_t)classes);
}

static nd_mlp *make(nd_credit_method method, int n, const int64_t *sizes, nd_activation act) {
  nd_mlp_config c = nd_mlp_defaults(n, sizes);
  c.method = method, c.activation = act, c.seed = 7;
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  return m;
}

/* Gradient i of a and b, compared with tolerance atol (0: bit for bit). */
static void same_grad(nd_mlp *a, nd_mlp *b, int i, double atol) {
  const nd_tensor *ga = nd_mlp_grad(a, i), *gb = nd_mlp_grad(b, i);
  assert_true(nd_tensor_same_shape(ga, gb));
  if (atol == 0) assert_memory_equal(ga->data, gb->data, (size_t)nd_tensor_numel(ga) * sizeof(float));
  else nd_assert_arrays_close(ga->data, gb->data, nd_tensor_numel(ga), atol, 1e-5, "grad");
  assert_true(nd_max_abs(ga->data, nd_tensor_numel(ga)) > 0);
}

static void test_fa_with_b_equal_w_is_bp(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  float x[B * 9];
  int32_t y[B];
  random_data(B, 9, 3, 1, x, y);
  nd_mlp *bp = make(ND_CREDIT_BP, 4, sizes, ND_ACT_TANH), *fa = make(ND_CREDIT_FA, 4, sizes, ND_ACT_TANH);
  assert_null(nd_mlp_feedback(fa, 0));
  for (int l = 1; l < 3; l++) nd_assert_ok(nd_tensor_copy(nd_mlp_feedback(fa, l), nd_mlp_param(fa, 2 * l)));
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(fa, x, y, B, NULL));
  for (int i = 0; i < nd_mlp_num_params(bp); i++) same_grad(bp, fa, i, 0);
  /* with its own random B the first layer's gradient differs */
  nd_mlp *fr = make(ND_CREDIT_FA, 4, sizes, ND_ACT_TANH);
  nd_assert_ok(nd_mlp_batch_grads(fr, x, y, B, NULL));
  same_grad(bp, fr, 4, 0); /* W_2: the true gradient in FA too */
  double ang[3];
  nd_assert_ok(nd_mlp_grad_angles(fr, x, y, B, ang));
  assert_true(ang[0] > 1.0 && ang[1] > 1.0 && ang[2] == 0.0);
  nd_mlp_free(bp), nd_mlp_free(fa), nd_mlp_free(fr);
}

static void test_dfa_last_layer_is_bp(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  float x[B * 9];
  int32_t y[B];
  random_data(B, 9, 3, 2, x, y);
  nd_mlp *bp = make(ND_CREDIT_BP, 4, sizes, ND_ACT_RELU), *dfa = make(ND_CREDIT_DFA, 4, sizes, ND_ACT_RELU);
  assert_non_null(nd_mlp_feedback(dfa, 1));
  assert_int_equal(nd_mlp_feedback(dfa, 1)->shape[0], 3);
  assert_int_equal(nd_mlp_feedback(dfa, 1)->shape[1], 5);
  assert_null(nd_mlp_feedback(dfa, 2));
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(dfa, x, y, B, NULL));
  same_grad(bp, dfa, 4, 0), same_grad(bp, dfa, 5, 0); /* W_2, b_2 */
  double ang[3];
  nd_assert_ok(nd_mlp_grad_angles(dfa, x, y, B, ang));
  assert_true(ang[0] > 1.0 && ang[2] == 0.0);
  nd_mlp_free(bp), nd_mlp_free(dfa);
}

/* Nokland 2016: with one hidden layer, D_1 = W_2 makes DFA equal BP. */
static void test_dfa_one_hidden_d_equal_w_is_bp(void **st) {
  (void)st;
  const int64_t sizes[3] = {8, 6, 4};
  float x[B * 8];
  int32_t y[B];
  random_data(B, 8, 4, 3, x, y);
  nd_mlp *bp = make(ND_CREDIT_BP, 3, sizes, ND_ACT_SIGMOID), *dfa = make(ND_CREDIT_DFA, 3, sizes, ND_ACT_SIGMOID);
  nd_assert_ok(nd_tensor_copy(nd_mlp_feedback(dfa, 0), nd_mlp_param(dfa, 2))); /* W_out [4, 6] = D_1 [4, 6] */
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(dfa, x, y, B, NULL));
  for (int i = 0; i < 4; i++) same_grad(bp, dfa, i, 0);
  nd_mlp_free(bp), nd_mlp_free(dfa);
}

/* The true dL/dh of every hidden layer, by back-propagation through a graph
 * built here from the public ops. */
static void true_hidden_grads(nd_mlp *m, const float *x, const int32_t *y, nd_tensor *out, int n_hidden) {
  nd_tape *tp = nd_test_tape(0);
  nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(B, nd_mlp_config_of(m)->sizes[0]));
  nd_var *h, *hid[4];
  h = nd_tape_variable(tp, &xb); /* so that the hidden nodes need a gradient */
  for (int l = 0; l <= n_hidden; l++) {
    nd_var *w = nd_tape_param(tp, nd_mlp_param(m, 2 * l), NULL), *b = nd_tape_param(tp, nd_mlp_param(m, 2 * l + 1), NULL);
    nd_var *a = nd_ad_linear(tp, h, w, b);
    h = l == n_hidden ? a : (hid[l] = nd_ad_relu(tp, a));
  }
  nd_assert_ok(nd_tape_backward(tp, nd_ad_cross_entropy(tp, h, y)));
  for (int l = 0; l < n_hidden; l++) nd_assert_ok(nd_tensor_copy(&out[l], nd_var_grad(hid[l])));
  nd_tape_free(tp);
}

static void test_dni_perfect_synthetic_gradient_is_bp(void **st) {
  (void)st;
  const int64_t sizes[4] = {9, 7, 5, 3};
  float x[B * 9];
  int32_t y[B];
  random_data(B, 9, 3, 4, x, y);
  nd_mlp *bp = make(ND_CREDIT_BP, 4, sizes, ND_ACT_RELU), *dni = make(ND_CREDIT_DNI, 4, sizes, ND_ACT_RELU);
  assert_int_equal(nd_mlp_num_params(dni), 6 + 4);
  assert_string_equal(nd_mlp_param_name(dni, 8), "sg.1.weight");
  assert_int_equal(nd_mlp_param(dni, 6)->shape[1], 7 + 3); /* cDNI: [h, y] */
  /* zero-initialised modules: nothing below the top layer moves on the first step */
  nd_assert_ok(nd_mlp_batch_grads(dni, x, y, B, NULL));
  for (int i = 0; i < 4; i++) assert_true(nd_max_abs(nd_mlp_grad(dni, i)->data, nd_tensor_numel(nd_mlp_grad(dni, i))) == 0);
  nd_tensor g[2];
  nd_assert_ok(nd_tensor_alloc(&g[0], 2, ND_SHAPE(B, 7)));
  nd_assert_ok(nd_tensor_alloc(&g[1], 2, ND_SHAPE(B, 5)));
  true_hidden_grads(bp, x, y, g, 2);
  const nd_tensor *gp[2] = {&g[0], &g[1]};
  nd__mlp_set_sg_override(dni, gp);
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(dni, x, y, B, NULL));
  for (int i = 0; i < 6; i++) same_grad(bp, dni, i, 1e-7);
  nd__mlp_set_sg_override(dni, NULL);
  /* the modules are regressed on what arrived: the top module's target is the true gradient */
  assert_true(nd_max_abs(nd_mlp_grad(dni, 8)->data, nd_tensor_numel(nd_mlp_grad(dni, 8))) > 0);
  nd_tensor_release(&g[0]), nd_tensor_release(&g[1]);
  nd_mlp_free(bp), nd_mlp_free(dni);
}

/* ------------------------------------------------------------------ FF */
static int64_t ff_pos = 3, ff_neg = 2;
static nd_status ff_fn(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  (void)user;
  *out = nd_credit_ff_loss(tp, leaves[0], ff_pos, ff_neg, 2.0f);
  return nd_tape_status(tp);
}

static void test_ff_goodness_gradcheck(void **st) {
  (void)st;
  nd_tensor *y = nd_test_tensor(2, ND_SHAPE(6, 4)); /* row 5 takes no part */
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_normal(&r, y->data, 24, 0.0f, 0.8f);
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  nd_gradcheck_result res;
  nd_assert_ok(nd_gradcheck(ff_fn, NULL, 1, &y, &o, &res));
  assert_true(res.passed);
  /* the value against the formula in double: softplus(theta - G) / softplus(G - theta) */
  nd_tape *tp = nd_test_tape(0);
  nd_var *l = nd_credit_ff_loss(tp, nd_tape_constant(tp, y), ff_pos, ff_neg, 2.0f);
  double want = 0;
  for (int rr = 0; rr < 5; rr++) {
    double g = 0;
    for (int j = 0; j < 4; j++) g += (double)y->data[rr * 4 + j] * y->data[rr * 4 + j];
    double t = rr < 3 ? 2.0 - g : g - 2.0;
    want += log(1 + exp(t)) / 5;
  }
  nd_assert_close(nd_var_item(l), want, 1e-6, 1e-5);
  /* W = 0, b = 0 gives G = 0: every row costs softplus(theta) or softplus(-theta) */
  nd_tensor_fill(y, 0.0f);
  nd_tape_reset(tp);
  l = nd_credit_ff_loss(tp, nd_tape_constant(tp, y), ff_pos, ff_neg, 2.0f);
  nd_assert_close(nd_var_item(l), (3 * log(1 + exp(2.0)) + 2 * log(1 + exp(-2.0))) / 5, 1e-6, 1e-5);
  assert_null(nd_credit_ff_loss(tp, nd_tape_constant(tp, y), 5, 2, 1.0f)); /* 7 rows > 6 */
  nd_tape_free(tp);
  nd_tensor_free(y);
}

static void test_ff_normalize_embed(void **st) {
  (void)st;
  float x[2 * 4] = {3, 4, 0, 0, 0, 0, 0, 0}, o[8];
  nd_assert_ok(nd_credit_ff_normalize(x, 2, 4, 0.0f, o)); /* ||x|| = 5, sqrt(d) = 2 */
  nd_assert_close(o[0], 3 * 2.0 / 5, 1e-6, 0);
  nd_assert_close(o[1], 4 * 2.0 / 5, 1e-6, 0);
  nd_assert_ok(nd_credit_ff_normalize(x, 2, 4, 1e-8f, o)); /* a zero row stays zero */
  assert_true(o[4] == 0);
  int32_t lab[2] = {2, 0};
  nd_assert_ok(nd_credit_ff_embed(x, 2, 4, 3, lab, 0));
  assert_true(x[0] == 0 && x[1] == 0 && x[2] == 1 && x[3] == 0 && x[4] == 1 && x[5] == 0);
  nd_assert_ok(nd_credit_ff_embed(x, 2, 4, 3, NULL, 0.1f));
  assert_true(x[2] == 0.1f && x[3] == 0);
  lab[1] = 3;
  assert_int_equal(nd_credit_ff_embed(x, 2, 4, 3, lab, 0), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_credit_ff_embed(x, 2, 2, 3, NULL, 0), ND_ERR_INVALID_ARG);
}

/* FF on the MLP: no gradient crosses a layer (the first layer's gradient
 * does not change when the read-out's weights do), and scaling a layer's
 * output leaves the next layer's input unchanged. */
static void test_ff_layers_are_local(void **st) {
  (void)st;
  const int64_t sizes[4] = {12, 8, 6, 3};
  float x[B * 12];
  int32_t y[B];
  random_data(B, 12, 3, 6, x, y);
  nd_mlp *a = make(ND_CREDIT_FF, 4, sizes, ND_ACT_RELU), *b = make(ND_CREDIT_FF, 4, sizes, ND_ACT_RELU);
  nd_tensor *w2 = nd_mlp_param(b, 4), *w1 = nd_mlp_param(b, 2);
  nd_scale(3.0f, w2->data, nd_tensor_numel(w2));
  nd_assert_ok(nd_mlp_batch_grads(a, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(b, x, y, B, NULL));
  same_grad(a, b, 0, 0), same_grad(a, b, 2, 0);
  /* W_1 scaled by 2 (and b_1): layer 1's output doubles, the read-out sees the same normalised input */
  nd_scale(2.0f, w1->data, nd_tensor_numel(w1));
  nd_scale(2.0f, nd_mlp_param(b, 3)->data, 6);
  int32_t pa[B], pb[B];
  nd_assert_ok(nd_mlp_predict(a, x, B, B, pa));
  nd_scale(1.0f / 3.0f, w2->data, nd_tensor_numel(w2));
  nd_assert_ok(nd_mlp_predict(b, x, B, B, pb));
  assert_memory_equal(pa, pb, sizeof pa);
  double ang[3];
  nd_assert_ok(nd_mlp_grad_angles(a, x, y, B, ang));
  assert_true(isnan(ang[0]));
  nd_mlp_free(a), nd_mlp_free(b);
}

static void test_angle_and_regression(void **st) {
  (void)st;
  float a[2] = {1, 0}, b[2] = {1, 1}, z[2] = {0, 0};
  nd_assert_close(nd_credit_angle(a, b, 2), 45.0, 1e-9, 0);
  nd_assert_close(nd_credit_angle(a, a, 2), 0.0, 1e-6, 0);
  assert_true(isnan(nd_credit_angle(a, z, 2)));
  /* (1/B) sum ||in U^T + c - t||^2: gradient against a naive sum */
  float in[3 * 2] = {1, 2, -1, 0.5f, 0, 3}, pred[3 * 2] = {0.5f, 1, -2, 0, 1, 1}, t[3 * 2] = {0, 0, 1, 1, 1, -1};
  nd_tensor ti = nd_tensor_wrap(in, 2, ND_SHAPE(3, 2)), tp = nd_tensor_wrap(pred, 2, ND_SHAPE(3, 2)),
            tt = nd_tensor_wrap(t, 2, ND_SHAPE(3, 2));
  nd_tensor *dw = nd_test_tensor(2, ND_SHAPE(2, 2)), *db = nd_test_tensor(1, ND_SHAPE(2));
  double loss;
  nd_assert_ok(nd_credit_regression_grads(&ti, &tp, &tt, NULL, dw, db, &loss));
  double l = 0;
  for (int i = 0; i < 6; i++) l += (pred[i] - t[i]) * (pred[i] - t[i]) / 3.0;
  nd_assert_close(loss, l, 1e-9, 1e-9);
  for (int o = 0; o < 2; o++)
    for (int k = 0; k < 2; k++) {
      double g = 0;
      for (int r = 0; r < 3; r++) g += 2.0 / 3 * (pred[r * 2 + o] - t[r * 2 + o]) * in[r * 2 + k];
      nd_assert_close(dw->data[o * 2 + k], g, 1e-6, 1e-6);
    }
  nd_assert_close(db->data[0], 2.0 / 3 * (0.5 + -3 + 0), 1e-6, 1e-6);
  float work[6], keep[4];
  memcpy(keep, dw->data, sizeof keep);
  nd_assert_ok(nd_credit_regression_grads(&ti, &tp, &tt, work, dw, NULL, NULL)); /* caller's scratch: same result */
  assert_memory_equal(keep, dw->data, sizeof keep);
  nd_tensor_free(dw), nd_tensor_free(db);
}

/* Training with each method lowers the loss on a small problem; the method
 * survives save and load. */
static void test_methods_train_and_checkpoint(void **st) {
  (void)st;
  const int64_t sizes[4] = {16, 20, 20, 4};
  enum { N = 256 };
  static float x[N * 16];
  static int32_t y[N];
  nd_rng r;
  nd_rng_init(&r, 9);
  for (int i = 0; i < N; i++) { /* class = which quarter of the input holds the bump */
    y[i] = i % 4;
    nd_rng_uniform(&r, x + i * 16, 16, 0.0f, 0.3f);
    for (int j = 0; j < 4; j++) x[i * 16 + 4 * y[i] + j] += 1.0f;
  }
  for (int meth = 0; meth < ND_CREDIT_COUNT_; meth++) {
    nd_mlp *m = make((nd_credit_method)meth, 4, sizes, ND_ACT_RELU);
    nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
    oc.lr = 3e-3f;
    nd_optim *opt;
    nd_assert_ok(nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt));
    nd_rng s;
    nd_rng_init(&s, 1);
    double acc = 0, loss;
    for (int e = 0; e < 15; e++) nd_assert_ok(nd_mlp_train_epoch(m, opt, x, y, N, 32, &s, &loss));
    nd_assert_ok(nd_mlp_accuracy(m, x, y, N, 64, &acc));
    printf("%-3s: accuracy %.3f\n", nd_credit_method_name((nd_credit_method)meth), acc);
    assert_true(acc > 0.85); /* measured: 1.000 for bp, fa, dfa, dni; 0.895 for ff */
    nd_checkpoint *ck;
    nd_assert_ok(nd_checkpoint_create(&ck));
    nd_assert_ok(nd_mlp_save(m, ck));
    assert_string_equal(nd_checkpoint_meta(ck, "method"), nd_credit_method_name((nd_credit_method)meth));
    nd_mlp *back;
    nd_assert_ok(nd_mlp_load(ck, &back));
    assert_int_equal(nd_mlp_config_of(back)->method, meth);
    assert_int_equal(nd_mlp_num_params(back), nd_mlp_num_params(m));
    for (int i = 0; i < nd_mlp_num_params(m); i++)
      assert_memory_equal(nd_mlp_param(back, i)->data, nd_mlp_param(m, i)->data,
                          (size_t)nd_tensor_numel(nd_mlp_param(m, i)) * sizeof(float));
    if (nd_mlp_feedback(m, 1))
      assert_memory_equal(nd_mlp_feedback(back, 1)->data, nd_mlp_feedback(m, 1)->data,
                          (size_t)nd_tensor_numel(nd_mlp_feedback(m, 1)) * sizeof(float));
    nd_mlp_free(back);
    nd_checkpoint_free(ck);
    nd_optim_free(opt);
    nd_mlp_free(m);
  }
  nd_mlp_config c = nd_mlp_defaults(3, (const int64_t[]){4, 3, 10});
  c.method = ND_CREDIT_FF; /* 10 labels do not fit 4 inputs */
  nd_mlp *bad = (nd_mlp *)1;
  assert_int_equal(nd_mlp_create(&c, &bad), ND_ERR_INVALID_ARG);
  assert_null(bad);
  c.method = (nd_credit_method)99;
  assert_int_equal(nd_mlp_create(&c, &bad), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fa_with_b_equal_w_is_bp),
      cmocka_unit_test(test_dfa_last_layer_is_bp),
      cmocka_unit_test(test_dfa_one_hidden_d_equal_w_is_bp),
      cmocka_unit_test(test_dni_perfect_synthetic_gradient_is_bp),
      cmocka_unit_test(test_ff_goodness_gradcheck),
      cmocka_unit_test(test_ff_normalize_embed),
      cmocka_unit_test(test_ff_layers_are_local),
      cmocka_unit_test(test_angle_and_regression),
      cmocka_unit_test(test_methods_train_and_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
