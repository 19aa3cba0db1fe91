/* SOMP cells as the query / key projections of an attention layer
 * (include/neurodyn/somp.h): the forward against attention computed here in
 * double from the cells' outputs (softmax written out, causal mask), and
 * the whole layer -- network forward, attention, attention backward,
 * BPTT -- against central differences (nd_gradcheck) in both the full and
 * the causal form, for the tokens, the values and every weight and bias.
 * q reads the tokens and itself; k reads the tokens and q (a cross-cell
 * connection, so dL/dq also flows through k). */
#include "nd_test.h"

#include <math.h>
#include <string.h>

enum { AB = 2, AT = 5, AN = 3, AD = 4, AV = 2 };

static void fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n, lo, hi);
}

static nd_somp_net *qk_net(void) {
  nd_somp_cell_config c[2] = {nd_somp_cell_defaults("q", AD), nd_somp_cell_defaults("k", AD)};
  c[0].hp.noise_std = c[1].hp.noise_std = 0;
  c[1].hp.alpha_dense = 1.5;
  c[0].init_scale = c[1].init_scale = 2.0; /* attention weights far from uniform */
  nd_somp_net *net = NULL;
  nd_assert_ok(nd_somp_net_create(2, c, 11, &net));
  nd_assert_ok(nd_somp_net_connect(net, 0, "x", AN));
  nd_assert_ok(nd_somp_net_connect(net, 0, "q", 0));
  nd_assert_ok(nd_somp_net_connect(net, 1, "x", AN));
  nd_assert_ok(nd_somp_net_connect(net, 1, "q", 0));
  return net;
}

static void test_forward_reference(void **state) {
  (void)state;
  for (int causal = 0; causal < 2; causal++) {
    nd_somp_net *net = qk_net();
    float x[AB * AT * AN], v[AB * AT * AV], out[AB * AT * AV], q[AB * AT * AD], k[AB * AT * AD], A[AB * AT * AT];
    fill(x, AB * AT * AN, 1, -1, 1), fill(v, AB * AT * AV, 2, -1, 1);
    nd_tensor tx = nd_tensor_wrap(x, 3, ND_SHAPE(AB, AT, AN)), tv = nd_tensor_wrap(v, 3, ND_SHAPE(AB, AT, AV));
    nd_tensor to = nd_tensor_wrap(out, 3, ND_SHAPE(AB, AT, AV)), tA = nd_tensor_wrap(A, 3, ND_SHAPE(AB, AT, AT));
    nd_tensor tq = nd_tensor_wrap(q, 3, ND_SHAPE(AB, AT, AD)), tk = nd_tensor_wrap(k, 3, ND_SHAPE(AB, AT, AD));
    nd_somp_input in[2] = {{"x", 0, &tx, 0}, {"x", 1, &tx, 0}};
    nd_somp_attention *att = NULL;
    nd_assert_ok(nd_somp_attention_create(net, 0, 1, causal, &att));
    assert_int_equal(nd_somp_attention_forward(att, &tv, &to), ND_ERR_INVALID_ARG); /* no network forward yet */
    nd_assert_ok(nd_somp_net_forward(net, 2, in, NULL, NULL));
    nd_assert_ok(nd_somp_attention_forward(att, &tv, &to));
    nd_assert_ok(nd_somp_attention_weights(att, &tA));
    nd_assert_ok(nd_somp_net_output(net, 0, &tq));
    nd_assert_ok(nd_somp_net_output(net, 1, &tk));
    double spread = 0;
    for (int b = 0; b < AB; b++)
      for (int i = 0; i < AT; i++) {
        const int n = causal ? i + 1 : AT;
        double s[AT], mx = -1e300, z = 0;
        for (int j = 0; j < n; j++) {
          s[j] = 0;
          for (int e = 0; e < AD; e++) s[j] += (double)q[(b * AT + i) * AD + e] * k[(b * AT + j) * AD + e];
          s[j] /= sqrt((double)AD);
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < n; j++) z += exp(s[j] - mx);
        for (int j = 0; j < AT; j++) {
          const double a = j < n ? exp(s[j] - mx) / z : 0.0;
          nd_assert_close(A[(b * AT + i) * AT + j], a, 1e-6, 1e-5);
          if (j < n) spread = fmax(spread, fabs(a - 1.0 / n));
        }
        for (int c = 0; c < AV; c++) {
          double o = 0;
          for (int j = 0; j < n; j++) o += exp(s[j] - mx) / z * v[(b * AT + j) * AV + c];
          nd_assert_close(out[(b * AT + i) * AV + c], o, 1e-6, 1e-5);
        }
      }
    assert_true(spread > 0.05); /* a test of the softmax, not of uniform weights */
    /* bad shapes */
    nd_tensor bad = nd_tensor_wrap(v, 3, ND_SHAPE(AB, AT - 1, AV));
    assert_int_equal(nd_somp_attention_forward(att, &bad, &to), ND_ERR_SHAPE);
    nd_tensor bado = nd_tensor_wrap(out, 3, ND_SHAPE(AB, AT, AV - 1));
    assert_int_equal(nd_somp_attention_forward(att, &tv, &bado), ND_ERR_SHAPE);
    nd_somp_attention_free(att);
    nd_somp_net_free(net);
  }
}

static void test_create_errors(void **state) {
  (void)state;
  nd_somp_net *net = qk_net();
  nd_somp_attention *att = NULL;
  assert_int_equal(nd_somp_attention_create(net, 0, 0, false, &att), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_somp_attention_create(net, 0, 2, false, &att), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_somp_attention_create(NULL, 0, 1, false, &att), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_somp_attention_create(net, 0, 1, false, NULL), ND_ERR_INVALID_ARG);
  assert_null(att);
  nd_somp_net_free(net);
  nd_somp_cell_config c[2] = {nd_somp_cell_defaults("q", 3), nd_somp_cell_defaults("k", 4)};
  nd_assert_ok(nd_somp_net_create(2, c, 1, &net));
  assert_int_equal(nd_somp_attention_create(net, 0, 1, false, &att), ND_ERR_SHAPE);
  nd_somp_net_free(net);
  nd_somp_attention_free(NULL);
}

/* ---------------------------------------------------------- gradcheck */

typedef struct ag_ctx {
  nd_somp_net *net;
  nd_somp_attention *att;
} ag_ctx;

static nd_status ag_fwd(const nd_custom_args *a) {
  ag_ctx *g = a->user;
  nd_somp_input in[2] = {{"x", 0, a->inputs[0], 0}, {"x", 1, a->inputs[0], 0}};
  nd_status s = nd_somp_net_forward(g->net, 2, in, NULL, NULL);
  return s != ND_OK ? s : nd_somp_attention_forward(g->att, a->inputs[1], a->output);
}

static nd_status ag_bwd(const nd_custom_args *a) {
  ag_ctx *g = a->user;
  float dq[AB * AT * AD], dk[AB * AT * AD], dv[AB * AT * AV], dx0[AB * AT * AN], dx1[AB * AT * AN];
  nd_tensor tq = nd_tensor_wrap(dq, 3, ND_SHAPE(AB, AT, AD)), tk = nd_tensor_wrap(dk, 3, ND_SHAPE(AB, AT, AD));
  nd_tensor tv = nd_tensor_wrap(dv, 3, ND_SHAPE(AB, AT, AV));
  nd_status s = nd_somp_attention_backward(g->att, a->doutput, &tq, &tk, &tv);
  if (s != ND_OK) return s;
  nd_tensor t0 = nd_tensor_wrap(dx0, 3, ND_SHAPE(AB, AT, AN)), t1 = nd_tensor_wrap(dx1, 3, ND_SHAPE(AB, AT, AN));
  const nd_tensor *dy[2] = {&tq, &tk};
  nd_tensor *dx[2] = {&t0, &t1};
  nd_somp_net_zero_grad(g->net);
  if ((s = nd_somp_net_backward(g->net, dy, dx)) != ND_OK) return s;
  if (a->dinputs[0]) nd_axpy(1.0f, dx0, a->dinputs[0]->data, AB * AT * AN), nd_axpy(1.0f, dx1, a->dinputs[0]->data, AB * AT * AN);
  if (a->dinputs[1]) nd_axpy(1.0f, dv, a->dinputs[1]->data, AB * AT * AV);
  nd_tensor gr[6];
  nd_somp_net_weight_grad(g->net, 0, "x", &gr[0]);
  nd_somp_net_weight_grad(g->net, 0, "q", &gr[1]);
  nd_somp_net_weight_grad(g->net, 1, "x", &gr[2]);
  nd_somp_net_weight_grad(g->net, 1, "q", &gr[3]);
  nd_somp_net_bias_grad(g->net, 0, &gr[4]);
  nd_somp_net_bias_grad(g->net, 1, &gr[5]);
  for (int i = 0; i < 6; i++)
    if (a->dinputs[i + 2]) nd_axpy(1.0f, gr[i].data, a->dinputs[i + 2]->data, nd_tensor_numel(&gr[i]));
  return ND_OK;
}

static nd_status ag_fn(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  *out = nd_ad_custom(tp, 8, leaves, 3, ND_SHAPE(AB, AT, AV), ag_fwd, ag_bwd, user);
  return *out ? ND_OK : nd_tape_status(tp);
}

static void check_gradients(bool causal) {
  nd_somp_net *net = qk_net();
  nd_somp_attention *att = NULL;
  nd_assert_ok(nd_somp_attention_create(net, 0, 1, causal, &att));
  float x[AB * AT * AN], v[AB * AT * AV];
  fill(x, AB * AT * AN, 5, -1, 1), fill(v, AB * AT * AV, 6, -1, 1);
  nd_tensor tx = nd_tensor_wrap(x, 3, ND_SHAPE(AB, AT, AN)), tv = nd_tensor_wrap(v, 3, ND_SHAPE(AB, AT, AV));
  nd_tensor w[6];
  nd_assert_ok(nd_somp_net_weight(net, 0, "x", &w[0]));
  nd_assert_ok(nd_somp_net_weight(net, 0, "q", &w[1]));
  nd_assert_ok(nd_somp_net_weight(net, 1, "x", &w[2]));
  nd_assert_ok(nd_somp_net_weight(net, 1, "q", &w[3]));
  nd_assert_ok(nd_somp_net_bias(net, 0, &w[4]));
  nd_assert_ok(nd_somp_net_bias(net, 1, &w[5]));
  fill(w[4].data, AD, 7, -0.3f, 0.3f), fill(w[5].data, AD, 8, -0.3f, 0.3f);
  ag_ctx g = {net, att};
  nd_tensor *vals[8] = {&tx, &tv, &w[0], &w[1], &w[2], &w[3], &w[4], &w[5]};
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  nd_gradcheck_result res;
  nd_assert_ok(nd_gradcheck(ag_fn, &g, 8, vals, &o, &res));
  if (!res.passed)
    fail_msg("gradcheck (causal %d): leaf %d element %lld analytic %g numeric %g", causal, res.worst_leaf,
             (long long)res.worst_index, res.worst_analytic, res.worst_numeric);
  assert_true(res.checked == AB * AT * AN + AB * AT * AV + 2 * AD * AN + 2 * AD * AD + 2 * AD);
  nd_somp_attention_free(att);
  nd_somp_net_free(net);
}

static void test_gradcheck_full(void **state) {
  (void)state;
  check_gradients(false);
}

static void test_gradcheck_causal(void **state) {
  (void)state;
  check_gradients(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_reference),
      cmocka_unit_test(test_create_errors),
      cmocka_unit_test(test_gradcheck_full),
      cmocka_unit_test(test_gradcheck_causal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
