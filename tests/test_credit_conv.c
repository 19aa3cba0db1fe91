/* Small conv nets in front of the MLP (include/neurodyn/mlp.h) for BP, FA
 * and DFA: FA with every feedback kernel and matrix equal to the forward one
 * is BP bit for bit (the conv FA op's zero bracket and transposed-conv
 * feedback); DFA's output layer gets BP's gradient and its conv layers an
 * update at an angle to BP's; BP's kernel gradient against central
 * differences of the loss; a tiny conv net learns a bump task; checkpoint
 * round trip; refusals. */
#include <math.h>
#include <string.h>

#include "models/mlp/internal.h"
#include "nd_test.h"

#define B 4

static nd_mlp *make(nd_credit_method method, uint64_t seed) {
  nd_mlp_config c = nd_mlp_defaults(3, (const int64_t[]){36, 7, 3});
  c.method = method, c.seed = seed, c.activation = ND_ACT_TANH;
  nd_assert_ok(nd_mlp_parse_conv("3,4", &c));
  c.conv_kernel = 3, c.conv_stride = 2;
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  return m;
}

static void data(float *x, int32_t *y, int rows, uint64_t seed) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, rows * 36, -1.0f, 1.0f);
  for (int i = 0; i < rows; i++) y[i] = (int32_t)(nd_rng_u32(&r) % 3);
}

static void test_conv_fa_with_b_equal_w_is_bp(void **st) {
  (void)st;
  float x[B * 36];
  int32_t y[B];
  data(x, y, B, 1);
  nd_mlp *bp = make(ND_CREDIT_BP, 3), *fa = make(ND_CREDIT_FA, 3);
  /* 6x6 -> 3x3 -> 2x2: dense layer 0 reads 4 * 2 * 2 = 16 */
  assert_int_equal(fa->flat, 16);
  assert_int_equal(nd_mlp_num_params(fa), 8);
  assert_string_equal(nd_mlp_param_name(fa, 2), "conv.1.weight");
  nd_assert_ok(nd_tensor_copy(&fa->conv_feedback[1], &fa->params[fa->conv_w_index[1]]));
  for (int l = 0; l < 2; l++) nd_assert_ok(nd_tensor_copy(&fa->feedback[l], &fa->params[fa->w_index[l]]));
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(fa, x, y, B, NULL));
  for (int i = 0; i < 8; i++) {
    const nd_tensor *a = nd_mlp_grad(bp, i), *b = nd_mlp_grad(fa, i);
    assert_memory_equal(a->data, b->data, (size_t)nd_tensor_numel(a) * sizeof(float));
    assert_true(nd_max_abs(a->data, nd_tensor_numel(a)) > 0);
  }
  /* its own random feedback: the conv layers' updates differ from BP's */
  nd_mlp *fr = make(ND_CREDIT_FA, 3);
  double ang[4];
  nd_assert_ok(nd_mlp_grad_angles(fr, x, y, B, ang));
  assert_true(ang[1] == 0.0 && ang[0] > 1.0 && ang[2] > 1.0 && ang[3] > 1.0); /* W_1 (output) exact; conv 0, 1 not */
  nd_mlp_free(bp), nd_mlp_free(fa), nd_mlp_free(fr);
}

static void test_conv_dfa_and_bp_gradcheck(void **st) {
  (void)st;
  float x[B * 36];
  int32_t y[B];
  data(x, y, B, 2);
  nd_mlp *bp = make(ND_CREDIT_BP, 5), *dfa = make(ND_CREDIT_DFA, 5);
  assert_int_equal(dfa->conv_feedback[0].shape[0], 3);
  assert_int_equal(dfa->conv_feedback[0].shape[1], 3 * 3 * 3);
  nd_assert_ok(nd_mlp_batch_grads(bp, x, y, B, NULL));
  nd_assert_ok(nd_mlp_batch_grads(dfa, x, y, B, NULL));
  int w1 = dfa->w_index[1];
  assert_memory_equal(nd_mlp_grad(bp, w1)->data, nd_mlp_grad(dfa, w1)->data, 7 * 3 * sizeof(float));
  double ang[4];
  nd_assert_ok(nd_mlp_grad_angles(dfa, x, y, B, ang));
  assert_true(ang[1] == 0.0 && ang[2] > 1.0 && ang[3] > 1.0);
  /* BP's gradient of conv kernel 0 against central differences of the loss */
  nd_tensor *K = nd_mlp_param(bp, bp->conv_w_index[0]);
  const nd_tensor *G = nd_mlp_grad(bp, bp->conv_w_index[0]);
  float g[27];
  memcpy(g, G->data, sizeof g);
  for (int j = 0; j < 27; j += 4) {
    double l[2];
    float keep = K->data[j];
    for (int s = 0; s < 2; s++) {
      K->data[j] = keep + (s ? -1e-2f : 1e-2f);
      nd_tape *tp = nd_test_tape(0);
      nd_tensor xb = nd_tensor_wrap(x, 2, ND_SHAPE(B, 36));
      nd_var *loss = nd_mlp_loss(bp, tp, nd_mlp_forward(bp, tp, nd_tape_constant(tp, &xb)), y);
      nd_assert_ok(nd_tape_status(tp));
      l[s] = nd_var_item(loss);
      nd_tape_free(tp);
    }
    double step = (double)(keep + 1e-2f) - (double)(keep - 1e-2f);
    K->data[j] = keep;
    nd_assert_close(g[j], (l[0] - l[1]) / step, 2e-4, 2e-2);
  }
  nd_mlp_free(bp), nd_mlp_free(dfa);
}

static void test_conv_train_checkpoint_refusals(void **st) {
  (void)st;
  enum { N = 96 };
  static float x[N * 36];
  static int32_t y[N];
  nd_rng r;
  nd_rng_init(&r, 4);
  for (int i = 0; i < N; i++) { /* class = which third of the rows holds the bar */
    y[i] = i % 3;
    nd_rng_uniform(&r, x + i * 36, 36, 0.0f, 0.3f);
    for (int j = 0; j < 12; j++) x[i * 36 + 12 * y[i] + j] += 1.0f;
  }
  for (int meth = ND_CREDIT_BP; meth <= ND_CREDIT_DFA; meth++) {
    nd_mlp *m = make((nd_credit_method)meth, 6);
    nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
    oc.lr = 1e-2f;
    nd_optim *opt;
    nd_assert_ok(nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt));
    nd_rng s;
    nd_rng_init(&s, 1);
    for (int e = 0; e < 20; e++) nd_assert_ok(nd_mlp_train_epoch(m, opt, x, y, N, 16, &s, NULL));
    double acc;
    nd_assert_ok(nd_mlp_accuracy(m, x, y, N, 32, &acc));
    printf("conv %s: accuracy %.3f\n", nd_credit_method_name((nd_credit_method)meth), acc);
    assert_true(acc > 0.9);
    nd_checkpoint *ck;
    nd_assert_ok(nd_checkpoint_create(&ck));
    nd_assert_ok(nd_mlp_save(m, ck));
    assert_string_equal(nd_checkpoint_meta(ck, "conv"), "3,4");
    nd_mlp *back;
    nd_assert_ok(nd_mlp_load(ck, &back));
    assert_int_equal(nd_mlp_config_of(back)->n_conv, 2);
    assert_int_equal(nd_mlp_config_of(back)->conv_kernel, 3);
    int32_t p1[N], p2[N];
    nd_assert_ok(nd_mlp_predict(m, x, N, 50, p1));
    nd_assert_ok(nd_mlp_predict(back, x, N, 50, p2));
    assert_memory_equal(p1, p2, sizeof p1);
    nd_mlp_free(back);
    nd_checkpoint_free(ck);
    nd_optim_free(opt);
    nd_mlp_free(m);
  }
  nd_mlp_config c = nd_mlp_defaults(3, (const int64_t[]){36, 7, 3});
  nd_assert_ok(nd_mlp_parse_conv("3", &c));
  c.method = ND_CREDIT_DNI;
  assert_int_equal(nd_mlp_config_check(&c), ND_ERR_INVALID_ARG);
  c.method = ND_CREDIT_BP, c.sizes[0] = 35;
  assert_int_equal(nd_mlp_config_check(&c), ND_ERR_INVALID_ARG);
  c.sizes[0] = 36, c.conv_kernel = 0;
  assert_int_equal(nd_mlp_config_check(&c), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_mlp_parse_conv("3,x", &c), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_mlp_parse_conv("1,2,3,4,5", &c), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_fa_with_b_equal_w_is_bp),
      cmocka_unit_test(test_conv_dfa_and_bp_gradcheck),
      cmocka_unit_test(test_conv_train_checkpoint_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
