/* Deep equilibrium layer (include/neurodyn/deq.h) against unrolled
 * differentiation written here: K = 400 plain iterations z_{k+1} = f(z_k)
 * from 0 in float64, every iterate stored, back-propagated step by step.
 * For a contractive f the unrolled gradient converges to the implicit one
 * (Bai et al. 2019, Theorem 1); they must agree to 1e-4.  Also: the solver
 * honours its tolerance and reports iterations and residual; a budget too
 * small is an error naming the stop reason; bad arguments. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/deq.h"

enum { IN = 3, N = 8, B = 4, K = 400 };

static void unrolled(const float *p, const float *x, const double *c, double *g, double *gx) {
  static double z[K + 1][B][N];
  const float *W = p, *U = p + N * N, *b = p + N * N + N * IN;
  memset(z, 0, sizeof z);
  for (int k = 0; k < K; k++)
    for (int r = 0; r < B; r++)
      for (int i = 0; i < N; i++) {
        double a = b[i];
        for (int j = 0; j < N; j++) a += W[i * N + j] * z[k][r][j];
        for (int j = 0; j < IN; j++) a += U[i * IN + j] * x[r * IN + j];
        z[k + 1][r][i] = tanh(a);
      }
  double gz[B][N];
  memset(g, 0, sizeof(double) * (N * N + N * IN + N));
  memset(gx, 0, sizeof(double) * B * IN);
  for (int r = 0; r < B; r++)
    for (int i = 0; i < N; i++) gz[r][i] = c[r * N + i]; /* L = sum c . z_K */
  for (int k = K - 1; k >= 0; k--)
    for (int r = 0; r < B; r++) {
      double v[N], gp[N] = {0};
      for (int i = 0; i < N; i++) v[i] = gz[r][i] * (1 - z[k + 1][r][i] * z[k + 1][r][i]);
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) g[i * N + j] += v[i] * z[k][r][j], gp[j] += v[i] * W[i * N + j];
        for (int j = 0; j < IN; j++) g[N * N + i * IN + j] += v[i] * x[r * IN + j], gx[r * IN + j] += v[i] * U[i * IN + j];
        g[N * N + N * IN + i] += v[i];
      }
      memcpy(gz[r], gp, sizeof gp);
    }
}

static nd_deq *make(int m, nd_deq_solver solver) {
  nd_deq_config c = nd_deq_defaults();
  c.inputs = IN, c.hidden = N, c.batch_max = B, c.anderson_m = m, c.tol = 1e-6, c.init_scale = 0.8, c.seed = 3;
  c.solver = solver;
  nd_deq *d = NULL;
  nd_assert_ok(nd_deq_create(&c, &d));
  float *p = nd_deq_params(d);
  for (int i = 0; i < N; i++) p[N * N + N * IN + i] = 0.1f * (float)(i - 3); /* a bias */
  return d;
}

static void check_implicit(int m, nd_deq_solver solver) {
  nd_deq *d = make(m, solver);
  float x[B * IN], z[B * N], dz[B * N], dx[B * IN];
  double c[B * N], g[N * N + N * IN + N], gx[B * IN];
  nd_rng r;
  nd_rng_init(&r, 8);
  for (int i = 0; i < B * IN; i++) x[i] = (float)(2 * nd_rng_uniform1(&r) - 1);
  for (int i = 0; i < B * N; i++) c[i] = 2 * nd_rng_uniform1(&r) - 1, dz[i] = (float)c[i];
  nd_fixed_point_result fr, br;
  nd_assert_ok(nd_deq_forward(d, x, B, z, &fr));
  assert_true(fr.stop == ND_STOP_TOLERANCE && fr.change <= 1e-6 && fr.iterations > 1 && fr.iterations < 200);
  nd_assert_ok(nd_deq_backward(d, x, B, dz, dx, &br));
  assert_true(br.stop == ND_STOP_TOLERANCE && br.change <= 1e-6);
  unrolled(nd_deq_params(d), x, c, g, gx);
  const float *got = nd_deq_grad(d);
  double gmax = 0;
  for (int i = 0; i < N * N + N * IN + N; i++) gmax = fmax(gmax, fabs(g[i]));
  assert_true(gmax > 0.1);
  for (int i = 0; i < N * N + N * IN + N; i++)
    if (!(fabs(got[i] - g[i]) <= 1e-4 * gmax)) fail_msg("m %d param %d: implicit %.8g, unrolled %.8g", m, i, got[i], g[i]);
  for (int i = 0; i < B * IN; i++)
    if (!(fabs(dx[i] - gx[i]) <= 1e-4 * gmax)) fail_msg("m %d dx %d: implicit %.8g, unrolled %.8g", m, i, dx[i], gx[i]);
  print_message("%s m = %d: forward %lld iterations (residual %.2g), backward %lld (residual %.2g)\n",
                solver == ND_DEQ_BROYDEN ? "broyden" : "anderson", m, (long long)fr.iterations, fr.residual, (long long)br.iterations, br.residual);
  nd_deq_free(d);
}

static void test_implicit_vs_unrolled_anderson(void **s) { (void)s; check_implicit(5, ND_DEQ_ANDERSON); }
static void test_implicit_vs_unrolled_plain(void **s) { (void)s; check_implicit(0, ND_DEQ_ANDERSON); }
static void test_implicit_vs_unrolled_broyden(void **s) { (void)s; check_implicit(8, ND_DEQ_BROYDEN); }

static void test_budget_and_args(void **s) {
  (void)s;
  nd_deq_config c = nd_deq_defaults();
  c.inputs = IN, c.hidden = N, c.batch_max = B, c.max_iter = 2, c.init_scale = 0.8;
  nd_deq *d = NULL;
  nd_assert_ok(nd_deq_create(&c, &d));
  float x[B * IN] = {0.5f, -0.2f, 0.3f}, z[B * N], dz[B * N] = {1};
  nd_fixed_point_result r;
  assert_int_equal(nd_deq_forward(d, x, B, z, &r), ND_ERR_NUMERIC);
  assert_true(r.stop == ND_STOP_MAX_ITER && r.iterations == 2);
  assert_non_null(strstr(nd_last_error(), "max"));
  assert_int_equal(nd_deq_backward(d, x, B, dz, NULL, NULL), ND_ERR_INVALID_ARG); /* no forward */
  assert_int_equal(nd_deq_forward(d, x, B + 1, z, NULL), ND_ERR_SHAPE);
  nd_deq_free(d);
  /* accept_unconverged: the same budget returns the last iterate, says so, and backward may follow */
  c.accept_unconverged = true;
  nd_assert_ok(nd_deq_create(&c, &d));
  nd_assert_ok(nd_deq_forward(d, x, B, z, &r));
  assert_true(r.stop == ND_STOP_MAX_ITER && r.iterations == 2);
  nd_assert_ok(nd_deq_backward(d, x, B, dz, NULL, &r));
  assert_true(r.stop == ND_STOP_MAX_ITER && r.iterations == 2);
  nd_deq_free(d);
  c = nd_deq_defaults(), c.tol = 0;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_deq_defaults(), c.anderson_m = 65;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_deq_defaults(), c.solver = ND_DEQ_BROYDEN, c.anderson_m = 0; /* Broyden needs a memory */
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_deq_defaults(), c.solver = (nd_deq_solver)2;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  nd_broyden *bw = (nd_broyden *)1;
  assert_int_equal(nd_broyden_create(4, 0, 1, &bw), ND_ERR_INVALID_ARG);
  assert_null(bw);
  nd_broyden_free(NULL);
  d = (nd_deq *)1;
  assert_int_equal(nd_deq_create(NULL, &d), ND_ERR_INVALID_ARG);
  assert_null(d);
  nd_deq_free(NULL);
}

/* R(theta) = ||eps^T diag(1 - f(z)^2) W||^2 / (B N) at a fixed z, in float64 (Bai et al. 2021, Eq. 6). */
static double jac_R(const double *p, const float *x, const float *z, const float *eps) {
  const double *W = p, *U = p + N * N, *b = p + N * N + N * IN;
  double sum = 0;
  for (int r = 0; r < B; r++) {
    double v[N], u[N] = {0};
    for (int i = 0; i < N; i++) {
      double a = b[i];
      for (int j = 0; j < N; j++) a += W[i * N + j] * z[r * N + j];
      for (int j = 0; j < IN; j++) a += U[i * IN + j] * x[r * IN + j];
      double y = tanh(a);
      v[i] = eps[r * N + i] * (1 - y * y);
    }
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) u[j] += v[i] * W[i * N + j];
    for (int j = 0; j < N; j++) sum += u[j] * u[j];
  }
  return sum / (B * N);
}

/* nd_deq_jacobian_reg: R as written above, and gamma dR/dtheta (z* fixed)
 * equal to central differences of it; the penalty needs a backward first. */
static void test_jacobian_reg(void **s) {
  (void)s;
  nd_deq_config c = nd_deq_defaults();
  c.inputs = IN, c.hidden = N, c.batch_max = B, c.init_scale = 0.8, c.tol = 1e-6;
  nd_deq *d = NULL;
  nd_assert_ok(nd_deq_create(&c, &d));
  float x[B * IN], z[B * N], dz[B * N], eps[B * N];
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_assert_ok(nd_rng_uniform(&r, x, B * IN, -1, 1));
  nd_assert_ok(nd_rng_normal(&r, eps, B * N, 0, 1));
  for (int i = 0; i < B * N; i++) dz[i] = 0.1f * (float)(i % 5);
  double R;
  assert_int_equal(nd_deq_jacobian_reg(d, x, B, eps, 1, &R), ND_ERR_INVALID_ARG); /* no backward yet */
  nd_assert_ok(nd_deq_forward(d, x, B, z, NULL));
  nd_assert_ok(nd_deq_backward(d, x, B, dz, NULL, NULL));
  int np = (int)nd_deq_num_params(d);
  double g0[N * N + N * IN + N], p[N * N + N * IN + N], gamma = 0.7;
  for (int i = 0; i < np; i++) g0[i] = nd_deq_grad(d)[i], p[i] = nd_deq_params(d)[i];
  nd_assert_ok(nd_deq_jacobian_reg(d, x, B, eps, gamma, &R));
  nd_assert_close(R, jac_R(p, x, z, eps), 1e-5, 1e-4);
  double worst = 0, big = 0;
  for (int i = 0; i < np; i++) {
    double v = p[i], h = 1e-5;
    p[i] = v + h;
    double rp = jac_R(p, x, z, eps);
    p[i] = v - h;
    double rm = jac_R(p, x, z, eps);
    p[i] = v;
    double fd = gamma * (rp - rm) / (2 * h), got = nd_deq_grad(d)[i] - g0[i];
    worst = fmax(worst, fabs(fd - got)), big = fmax(big, fabs(fd));
  }
  assert_true(big > 1e-3);
  if (!(worst <= 1e-4 * big)) fail_msg("jacobian_reg gradient: worst error %.3g of %.3g", worst, big);
  assert_int_equal(nd_deq_jacobian_reg(d, x, B, eps, -1, &R), ND_ERR_INVALID_ARG);
  nd_deq_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_implicit_vs_unrolled_anderson),
      cmocka_unit_test(test_implicit_vs_unrolled_plain),
      cmocka_unit_test(test_implicit_vs_unrolled_broyden),
      cmocka_unit_test(test_budget_and_args), cmocka_unit_test(test_jacobian_reg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
