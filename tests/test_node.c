/* Neural ODE adjoint (include/neurodyn/node.h) against discretise-then-
 * optimise written here: the loss L = sum c . z(t1) of a float64 RK4
 * solve with 2000 fixed steps, differentiated by central differences in
 * every parameter and initial value.  The adjoint gradients (DOPRI5 both
 * ways, rtol 1e-6) must agree to 1e-4 of the largest one; the state
 * reconstructed backwards must return to z(t0); bad arguments. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/node.h"

enum { N = 5, B = 3, STEPS = 2000 };

static void f64(const double *p, const double *z, double *fz) {
  for (int r = 0; r < B; r++)
    for (int i = 0; i < N; i++) {
      double a = p[N * N + i];
      for (int j = 0; j < N; j++) a += p[i * N + j] * z[r * N + j];
      fz[r * N + i] = tanh(a);
    }
}

/* L(p, z0) by RK4 on [0, 1] */
static double loss_rk4(const double *p, const double *z0, const double *c) {
  double z[B * N], k1[B * N], k2[B * N], k3[B * N], k4[B * N], y[B * N], h = 1.0 / STEPS;
  memcpy(z, z0, sizeof z);
  for (int s = 0; s < STEPS; s++) {
    f64(p, z, k1);
    for (int i = 0; i < B * N; i++) y[i] = z[i] + 0.5 * h * k1[i];
    f64(p, y, k2);
    for (int i = 0; i < B * N; i++) y[i] = z[i] + 0.5 * h * k2[i];
    f64(p, y, k3);
    for (int i = 0; i < B * N; i++) y[i] = z[i] + h * k3[i];
    f64(p, y, k4);
    for (int i = 0; i < B * N; i++) z[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  }
  double L = 0;
  for (int i = 0; i < B * N; i++) L += c[i] * z[i];
  return L;
}

static void test_adjoint_vs_discretised(void **s) {
  (void)s;
  nd_node_config cfg = nd_node_defaults();
  cfg.hidden = N, cfg.batch_max = B, cfg.init_scale = 1.5, cfg.seed = 2;
  nd_node *m = NULL;
  nd_assert_ok(nd_node_create(&cfg, &m));
  float *p = nd_node_params(m);
  for (int i = 0; i < N; i++) p[N * N + i] = 0.2f * (float)(i - 2);
  nd_rng r;
  nd_rng_init(&r, 6);
  float z[B * N], z0[B * N], dz[B * N];
  double c[B * N], pd[N * N + N], zd[B * N];
  for (int i = 0; i < B * N; i++) z0[i] = z[i] = (float)(2 * nd_rng_uniform1(&r) - 1), c[i] = 2 * nd_rng_uniform1(&r) - 1, dz[i] = (float)c[i];
  nd_dopri_result fr, br;
  nd_assert_ok(nd_node_forward(m, z, B, &fr));
  nd_assert_ok(nd_node_backward(m, z, dz, B, &br));
  for (int i = 0; i < B * N; i++) nd_assert_close(z[i], z0[i], 1e-4, 0); /* reconstructed z(t0) */
  for (int i = 0; i < N * N + N; i++) pd[i] = p[i];
  for (int i = 0; i < B * N; i++) zd[i] = z0[i];
  double want[N * N + N + B * N], h = 1e-5, gmax = 0;
  for (int i = 0; i < N * N + N + B * N; i++) {
    double *v = i < N * N + N ? &pd[i] : &zd[i - N * N - N], keep = *v;
    *v = keep + h;
    double lp = loss_rk4(pd, zd, c);
    *v = keep - h;
    double lm = loss_rk4(pd, zd, c);
    *v = keep;
    want[i] = (lp - lm) / (2 * h);
    gmax = fmax(gmax, fabs(want[i]));
  }
  assert_true(gmax > 0.1);
  const float *g = nd_node_grad(m);
  for (int i = 0; i < N * N + N + B * N; i++) {
    double got = i < N * N + N ? g[i] : dz[i - N * N - N];
    if (!(fabs(got - want[i]) <= 1e-4 * gmax)) fail_msg("entry %d: adjoint %.8g, discretise-then-optimise %.8g", i, got, want[i]);
  }
  print_message("forward %lld steps (%lld f-calls), adjoint %lld steps (%lld f-calls)\n", (long long)fr.steps,
                (long long)fr.rhs_calls, (long long)br.steps, (long long)br.rhs_calls);
  nd_node_free(m);
}

/* Where the dynamics contract strongly (W = -k I + noise), reconstructing
 * z(t) backwards amplifies rounding by about e^k and the plain adjoint's
 * gradient is wrong (Gholami et al. 2019); restarting each segment from a
 * checkpoint bounds that to e^(k/K).  Both against discretise-then-optimise. */
static double worst_error(nd_node *m, const float *z0, const double *c, int64_t K, double *gmax_out) {
  float ck[(64 + 1) * B * N], dz[B * N];
  memcpy(ck, z0, sizeof(float) * B * N);
  for (int i = 0; i < B * N; i++) dz[i] = (float)c[i];
  nd_dopri_result fr, br;
  nd_assert_ok(nd_node_forward_checkpoints(m, ck, K, B, &fr));
  nd_assert_ok(nd_node_backward_checkpoints(m, ck, K, dz, B, &br));
  const float *p = nd_node_params(m), *g = nd_node_grad(m);
  double pd[N * N + N], zd[B * N], h = 1e-5, gmax = 0, worst = 0;
  for (int i = 0; i < N * N + N; i++) pd[i] = p[i];
  for (int i = 0; i < B * N; i++) zd[i] = z0[i];
  for (int i = 0; i < N * N + N + B * N; i++) {
    double *v = i < N * N + N ? &pd[i] : &zd[i - N * N - N], keep = *v;
    *v = keep + h;
    double lp = loss_rk4(pd, zd, c);
    *v = keep - h;
    double lm = loss_rk4(pd, zd, c);
    *v = keep;
    double want = (lp - lm) / (2 * h), got = i < N * N + N ? g[i] : dz[i - N * N - N];
    gmax = fmax(gmax, fabs(want)), worst = fmax(worst, fabs(got - want));
  }
  *gmax_out = gmax;
  return worst;
}

static void test_checkpointed_adjoint(void **s) {
  (void)s;
  nd_node_config cfg = nd_node_defaults();
  cfg.hidden = N, cfg.batch_max = B, cfg.init_scale = 1, cfg.seed = 3;
  nd_node *m = NULL;
  nd_assert_ok(nd_node_create(&cfg, &m));
  float *p = nd_node_params(m);
  p[0] -= 25, p[N + 1] -= 25; /* two coordinates contract fast, three do not */
  for (int i = 0; i < N; i++) p[N * N + i] = 0.3f * (float)(i - 2);
  nd_rng r;
  nd_rng_init(&r, 8);
  float z0[B * N];
  double c[B * N], gmax;
  for (int i = 0; i < B * N; i++) z0[i] = (float)(4 * nd_rng_uniform1(&r) - 2), c[i] = 2 * nd_rng_uniform1(&r) - 1;
  double plain = worst_error(m, z0, c, 1, &gmax), ckd = worst_error(m, z0, c, 20, &gmax);
  print_message("contracting dynamics: worst gradient error, plain adjoint %.3g, 20 checkpoints %.3g (largest gradient %.3g)\n",
                plain, ckd, gmax);
  assert_true(ckd <= 1e-3 * gmax);
  assert_true(plain > 100 * ckd);
  /* on the benign problem of the first test, one segment is the plain adjoint */
  float ck[2 * B * N];
  assert_int_equal(nd_node_forward_checkpoints(m, ck, 0, B, NULL), ND_ERR_INVALID_ARG);
  nd_node_free(m);
}

static void test_bad_args(void **s) {
  (void)s;
  nd_node_config c = nd_node_defaults();
  c.rtol = 0;
  assert_int_equal(nd_node_config_check(&c), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "tolerance"));
  c = nd_node_defaults(), c.atol = -1;
  assert_int_equal(nd_node_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_node_defaults(), c.t1 = c.t0;
  assert_int_equal(nd_node_config_check(&c), ND_ERR_INVALID_ARG);
  nd_node *m = (nd_node *)1;
  assert_int_equal(nd_node_create(NULL, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  c = nd_node_defaults(), c.batch_max = 2;
  nd_assert_ok(nd_node_create(&c, &m));
  float z[64] = {0};
  assert_int_equal(nd_node_forward(m, z, 3, NULL), ND_ERR_SHAPE);
  assert_int_equal(nd_node_backward(m, z, NULL, 1, NULL), ND_ERR_INVALID_ARG);
  assert_true(nd_node_num_params(NULL) == -1 && nd_node_params(NULL) == NULL && nd_node_grad(NULL) == NULL);
  nd_node_free(m);
  nd_node_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adjoint_vs_discretised),
      cmocka_unit_test(test_checkpointed_adjoint),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
