/* Dense MLP: forward and losses against a naive double-precision network,
 * gradients of the full loss against central differences for every
 * parameter, and training to an accuracy floor on a synthetic XOR problem
 * (not linearly separable, so the hidden layer must do real work). */
#include <string.h>

#include "nd_test.h"

/* ------------------------------------------------------------------ data */
/* Four Gaussian clusters at (+-1, +-1) with standard deviation sd; the label
 * is the XOR of the coordinate signs of the centre. */
static void make_xor(int64_t n, float sd, uint64_t seed, float *x, int32_t *y) {
  nd_rng r;
  nd_rng_init(&r, seed);
  float noise[2];
  for (int64_t i = 0; i < n; i++) {
    int q = (int)(i % 4);
    float cx = q & 1 ? 1.0f : -1.0f, cy = q & 2 ? 1.0f : -1.0f;
    nd_rng_normal(&r, noise, 2, 0.0f, sd);
    x[2 * i] = cx + noise[0];
    x[2 * i + 1] = cy + noise[1];
    y[i] = (cx > 0) != (cy > 0);
  }
}

/* ------------------------------------------------------ naive reference */
static double act(nd_activation a, double p, double v) {
  switch (a) {
    case ND_ACT_RELU: return v > 0 ? v : 0;
    case ND_ACT_TANH: return tanh(v);
    case ND_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case ND_ACT_LEAKY_RELU: return v >= 0 ? v : p * v;
    case ND_ACT_RELU_POW: return v > 0 ? pow(v, p) : 0;
    default: return v;
  }
}

/* z = the network output for one row x, in double (mlp.h's equations). */
static void ref_forward(nd_mlp *m, const float *x, double *z) {
  const nd_mlp_config *c = nd_mlp_config_of(m);
  double h[64], a[64];
  for (int64_t i = 0; i < c->sizes[0]; i++) h[i] = x[i];
  int k = 0;
  for (int l = 0; l + 1 < c->n_sizes; l++) {
    const nd_tensor *W = nd_mlp_param(m, k++), *b = c->bias ? nd_mlp_param(m, k++) : NULL;
    int64_t fin = c->sizes[l], fout = c->sizes[l + 1];
    for (int64_t o = 0; o < fout; o++) {
      double s = b ? b->data[o] : 0.0;
      for (int64_t i = 0; i < fin; i++) s += (double)W->data[o * fin + i] * h[i];
      a[o] = s;
    }
    bool last = l + 2 == c->n_sizes;
    for (int64_t o = 0; o < fout; o++) h[o] = last ? a[o] : act(c->activation, c->act_param, a[o]);
  }
  for (int64_t o = 0; o < c->sizes[c->n_sizes - 1]; o++) z[o] = h[o];
}

static double ref_loss(nd_mlp *m, const float *x, const int32_t *y, int64_t rows) {
  const nd_mlp_config *c = nd_mlp_config_of(m);
  int64_t d = c->sizes[0], C = c->sizes[c->n_sizes - 1];
  double total = 0, z[64];
  for (int64_t r = 0; r < rows; r++) {
    ref_forward(m, x + r * d, z);
    if (c->loss == ND_MLP_LOSS_CROSS_ENTROPY) {
      double mx = z[0], se = 0;
      for (int64_t k = 1; k < C; k++) mx = fmax(mx, z[k]);
      for (int64_t k = 0; k < C; k++) se += exp(z[k] - mx);
      total += mx + log(se) - z[y[r]];
    } else { /* Krotov & Hopfield 2019, Eq. 11-12 */
      for (int64_t k = 0; k < C; k++)
        total += pow(fabs(tanh(c->out_scale * z[k]) - (k == y[r] ? 1.0 : -1.0)), c->loss_power);
    }
  }
  return total / (double)rows;
}

/* Loss on a tape (recording or not), through the library. */
static float mlp_loss(nd_mlp *m, nd_tape *tp, const float *x, const int32_t *y, int64_t rows, bool record,
                      nd_var **loss_out) {
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, record);
  nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(rows, nd_mlp_config_of(m)->sizes[0]));
  nd_var *loss = nd_mlp_loss(m, tp, nd_mlp_forward(m, tp, nd_tape_constant(tp, &xb)), y);
  nd_assert_ok(nd_tape_status(tp));
  if (loss_out) *loss_out = loss;
  return nd_var_item(loss);
}

typedef struct mlp_case {
  const char *name;
  nd_activation act;
  float act_param;
  nd_mlp_loss_kind loss;
  bool bias;
  int n_sizes;
  int64_t sizes[4];
} mlp_case;

/* Forward value against the reference, then every parameter's gradient
 * against central differences of the float32 loss (step h, projected in
 * double). */
static void check_case(const mlp_case *mc) {
  nd_mlp_config c = nd_mlp_defaults(mc->n_sizes, mc->sizes);
  c.activation = mc->act;
  c.act_param = mc->act_param;
  c.loss = mc->loss;
  c.bias = mc->bias;
  c.out_scale = 0.7f;
  c.seed = 5;
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  const int64_t rows = 5, d = mc->sizes[0];
  float x[5 * 8];
  int32_t y[5];
  nd_rng r;
  nd_rng_init(&r, 9);
  nd_rng_uniform(&r, x, rows * d, -1.5f, 1.5f);
  for (int64_t i = 0; i < rows; i++) y[i] = (int32_t)(i % mc->sizes[mc->n_sizes - 1]);
  nd_tape *tp = nd_test_tape(0);
  nd_var *loss;
  float L = mlp_loss(m, tp, x, y, rows, true, &loss);
  double want = ref_loss(m, x, y, rows);
  if (fabs(L - want) > 1e-5 + 1e-5 * fabs(want)) fail_msg("%s: loss %.9g, reference %.9g", mc->name, L, want);
  for (int i = 0; i < nd_mlp_num_params(m); i++) nd_tensor_fill(nd_mlp_grad(m, i), 0.0f);
  nd_assert_ok(nd_tape_backward(tp, loss));
  const double h = 1e-3;
  for (int i = 0; i < nd_mlp_num_params(m); i++) {
    nd_tensor *p = nd_mlp_param(m, i), *g = nd_mlp_grad(m, i);
    for (int64_t j = 0; j < nd_tensor_numel(p); j++) {
      float x0 = p->data[j], xp = (float)(x0 + h), xm = (float)(x0 - h);
      p->data[j] = xp;
      double lp = mlp_loss(m, tp, x, y, rows, false, NULL);
      p->data[j] = xm;
      double lm = mlp_loss(m, tp, x, y, rows, false, NULL);
      p->data[j] = x0;
      double numeric = (lp - lm) / ((double)xp - (double)xm);
      if (fabs(g->data[j] - numeric) > 1e-3 + 1e-2 * fabs(numeric))
        fail_msg("%s: d loss / d %s[%lld]: backward %.9g, central difference %.9g", mc->name, nd_mlp_param_name(m, i),
                 (long long)j, g->data[j], numeric);
    }
  }
  nd_tape_free(tp);
  nd_mlp_free(m);
}

static void test_forward_and_gradients(void **state) {
  (void)state;
  static const mlp_case cases[] = {
      {"tanh, cross-entropy", ND_ACT_TANH, 0, ND_MLP_LOSS_CROSS_ENTROPY, true, 3, {4, 6, 3}},
      {"sigmoid, 2 hidden, no bias", ND_ACT_SIGMOID, 0, ND_MLP_LOSS_CROSS_ENTROPY, false, 4, {3, 5, 4, 2}},
      {"relu_pow 3, |c-t|^6", ND_ACT_RELU_POW, 3.0f, ND_MLP_LOSS_ABS_POWER, true, 3, {4, 6, 3}},
      {"leaky relu, |c-t|^6", ND_ACT_LEAKY_RELU, 0.1f, ND_MLP_LOSS_ABS_POWER, true, 3, {5, 4, 3}},
      {"relu, cross-entropy", ND_ACT_RELU, 0, ND_MLP_LOSS_CROSS_ENTROPY, true, 3, {4, 7, 3}},
      {"identity, single layer", ND_ACT_IDENTITY, 0, ND_MLP_LOSS_CROSS_ENTROPY, true, 2, {6, 4}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_case(&cases[k]);
}

/* ----------------------------------------------------------- structure */
static void test_params_and_init(void **state) {
  (void)state;
  nd_mlp_config c = nd_mlp_defaults(3, ND_SHAPE(16, 8, 3));
  c.seed = 42;
  nd_mlp *m, *m2;
  nd_assert_ok(nd_mlp_create(&c, &m));
  nd_assert_ok(nd_mlp_create(&c, &m2));
  assert_int_equal(nd_mlp_num_params(m), 4);
  const char *names[4] = {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"};
  const int64_t numel[4] = {8 * 16, 8, 3 * 8, 3};
  const double bound[4] = {0.25, 0.25, 1 / sqrt(8.0), 1 / sqrt(8.0)}; /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
  for (int i = 0; i < 4; i++) {
    assert_string_equal(nd_mlp_param_name(m, i), names[i]);
    assert_ptr_equal(nd_mlp_params(m)[i], nd_mlp_param(m, i));
    assert_ptr_equal(nd_mlp_grads(m)[i], nd_mlp_grad(m, i));
    assert_int_equal(nd_tensor_numel(nd_mlp_param(m, i)), numel[i]);
    assert_true(nd_tensor_same_shape(nd_mlp_param(m, i), nd_mlp_grad(m, i)));
    float mx = nd_max_abs(nd_mlp_param(m, i)->data, numel[i]);
    assert_true(mx <= bound[i] && mx > 0.5 * bound[i]);
    /* same seed, same weights */
    assert_memory_equal(nd_mlp_param(m, i)->data, nd_mlp_param(m2, i)->data, (size_t)numel[i] * sizeof(float));
  }
  assert_null(nd_mlp_param(m, 4));
  assert_null(nd_mlp_param_name(m, -1));
  nd_mlp_free(m);
  nd_mlp_free(m2);
  /* bad configurations name the field */
  c = nd_mlp_defaults(1, ND_SHAPE(4));
  assert_int_equal(nd_mlp_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  assert_non_null(strstr(nd_last_error(), "n_sizes"));
  c = nd_mlp_defaults(2, ND_SHAPE(4, 0));
  assert_int_equal(nd_mlp_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "sizes[1]"));
  c = nd_mlp_defaults(2, ND_SHAPE(4, 2));
  c.activation = ND_ACT_RELU_POW;
  assert_int_equal(nd_mlp_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "act_param"));
  c = nd_mlp_defaults(2, ND_SHAPE(4, 2));
  c.loss = ND_MLP_LOSS_ABS_POWER;
  c.loss_power = 0.5f;
  assert_int_equal(nd_mlp_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "loss_power"));
}

/* Labels outside 0..C-1 and inputs of the wrong width fail cleanly. */
static void test_bad_inputs(void **state) {
  (void)state;
  nd_mlp_config c = nd_mlp_defaults(3, ND_SHAPE(2, 4, 2));
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  nd_optim *opt;
  nd_assert_ok(nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt));
  float x[8] = {0};
  int32_t y[4] = {0, 1, 2, 0};
  nd_rng r;
  nd_rng_init(&r, 1);
  assert_int_equal(nd_mlp_train_epoch(m, opt, x, y, 4, 2, &r, NULL), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "2"));
  assert_int_equal(nd_mlp_train_epoch(m, opt, x, y, 0, 2, &r, NULL), ND_ERR_INVALID_ARG);
  nd_tape *tp = nd_test_tape(0);
  nd_tensor xb = nd_tensor_wrap(x, 2, ND_SHAPE(2, 4)); /* width 4, the network wants 2 */
  assert_null(nd_mlp_forward(m, tp, nd_tape_constant(tp, &xb)));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "2x4"));
  nd_tape_free(tp);
  nd_optim_free(opt);
  nd_mlp_free(m);
}

/* ------------------------------------------------------------- training */
typedef struct train_case {
  const char *name;
  nd_activation act;
  float act_param;
  nd_mlp_loss_kind loss;
  float lr;
  int epochs;
  double min_acc;
} train_case;

static void train_xor(const train_case *tc) {
  enum { N = 400, NT = 400 };
  static float x[2 * N], xt[2 * NT];
  static int32_t y[N], yt[NT];
  make_xor(N, 0.3f, 1, x, y);
  make_xor(NT, 0.3f, 2, xt, yt);
  nd_mlp_config c = nd_mlp_defaults(3, ND_SHAPE(2, 16, 2));
  c.activation = tc->act;
  c.act_param = tc->act_param;
  c.loss = tc->loss;
  c.seed = 3;
  nd_mlp *m;
  nd_assert_ok(nd_mlp_create(&c, &m));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = tc->lr;
  nd_optim *opt;
  nd_assert_ok(nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt));
  nd_rng r;
  nd_rng_init(&r, 11);
  double acc0, first = 0, last = 0;
  nd_assert_ok(nd_mlp_accuracy(m, xt, yt, NT, 64, &acc0));
  for (int e = 0; e < tc->epochs; e++) {
    nd_assert_ok(nd_mlp_train_epoch(m, opt, x, y, N, 32, &r, &last));
    if (e == 0) first = last;
  }
  double acc;
  nd_assert_ok(nd_mlp_accuracy(m, xt, yt, NT, 64, &acc));
  /* the mean epoch loss equals the reference loss of the trained network up
   * to the updates made during the epoch: check the final value directly */
  nd_tape *tp = nd_test_tape(0);
  float L = mlp_loss(m, tp, xt, yt, NT, false, NULL);
  nd_assert_close(L, ref_loss(m, xt, yt, NT), 1e-5, 1e-4);
  nd_tape_free(tp);
  print_message("%s: acc %.3f (before %.3f) loss %.4f -> %.4f\n", tc->name, acc, acc0, first, last);
  if (!(acc >= tc->min_acc) || !(last < 0.5 * first))
    fail_msg("%s: held-out accuracy %.3f (before training %.3f, need %.2f), epoch loss %.4f -> %.4f", tc->name, acc,
             acc0, tc->min_acc, first, last);
  /* predictions agree with argmax of the reference network */
  int32_t pred[16];
  nd_assert_ok(nd_mlp_predict(m, xt, 16, 5, pred));
  for (int i = 0; i < 16; i++) {
    double z[2];
    ref_forward(m, xt + 2 * i, z);
    assert_int_equal(pred[i], z[1] > z[0] ? 1 : 0);
  }
  nd_optim_free(opt);
  nd_mlp_free(m);
}

static void test_train_xor(void **state) {
  (void)state;
  static const train_case cases[] = {
      {"tanh + cross-entropy", ND_ACT_TANH, 0, ND_MLP_LOSS_CROSS_ENTROPY, 0.03f, 40, 0.95},
      {"relu_pow 2 + |c-t|^6 (Krotov & Hopfield top layer)", ND_ACT_RELU_POW, 2.0f, ND_MLP_LOSS_ABS_POWER, 0.02f, 40,
       0.95},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) train_xor(&cases[k]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_and_gradients),
      cmocka_unit_test(test_params_and_init),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_train_xor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
