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

/* The conv cell (nd_deq_config.conv_channels): z = tanh(W (*) z + U (*) x + b),
 * U 3x3 stride 2 pad 1, W 3x3 stride 1 pad 1, written here as plain loops in
 * float64 and unrolled KC times from 0, every iterate stored and
 * back-propagated; the implicit gradient must agree to 1e-4. */
enum { CI = 2, CH = 6, CWD = 5, CC = 3, CP = 3, CQ = 3, CB = 2, CN = CC * CP * CQ, CIN = CI * CH * CWD, KC = 300 };
enum { NWC = CC * CC * 9, NUC = CC * CI * 9, NPC = NWC + NUC + CC };

/* y[k][p][q] += sum w[k][c][r][s] x[c][p*st-1+r][q*st-1+s] over one image */
static void conv_ref(const double *x, int C, int H, int W, const double *w, int K, int st, int P, int Q, double *y) {
  for (int k = 0; k < K; k++)
    for (int p = 0; p < P; p++)
      for (int q = 0; q < Q; q++)
        for (int c = 0; c < C; c++)
          for (int r = 0; r < 3; r++)
            for (int t = 0; t < 3; t++) {
              int h = p * st - 1 + r, v = q * st - 1 + t;
              if (h >= 0 && h < H && v >= 0 && v < W) y[(k * P + p) * Q + q] += w[((k * C + c) * 3 + r) * 3 + t] * x[(c * H + h) * W + v];
            }
}

/* the adjoint: gx += conv^T(gy), gw += gy (*) x */
static void conv_ref_back(const double *x, int C, int H, int W, const double *w, int K, int st, int P, int Q, const double *gy, double *gx,
                          double *gw) {
  for (int k = 0; k < K; k++)
    for (int p = 0; p < P; p++)
      for (int q = 0; q < Q; q++)
        for (int c = 0; c < C; c++)
          for (int r = 0; r < 3; r++)
            for (int t = 0; t < 3; t++) {
              int h = p * st - 1 + r, v = q * st - 1 + t, wi = ((k * C + c) * 3 + r) * 3 + t;
              if (h < 0 || h >= H || v < 0 || v >= W) continue;
              double g = gy[(k * P + p) * Q + q];
              if (gx) gx[(c * H + h) * W + v] += g * w[wi];
              if (gw) gw[wi] += g * x[(c * H + h) * W + v];
            }
}

static void unrolled_conv(const float *pf, const float *xf, const double *c, double *g, double *gx) {
  static double z[KC + 1][CB][CN];
  double p[NPC], x[CB * CIN], a[CN];
  for (int i = 0; i < NPC; i++) p[i] = pf[i];
  for (int i = 0; i < CB * CIN; i++) x[i] = xf[i];
  const double *W = p, *U = p + NWC, *b = p + NWC + NUC;
  memset(z, 0, sizeof z);
  for (int k = 0; k < KC; k++)
    for (int r = 0; r < CB; r++) {
      for (int i = 0; i < CN; i++) a[i] = b[i / (CP * CQ)];
      conv_ref(x + r * CIN, CI, CH, CWD, U, CC, 2, CP, CQ, a);
      conv_ref(z[k][r], CC, CP, CQ, W, CC, 1, CP, CQ, a);
      for (int i = 0; i < CN; i++) z[k + 1][r][i] = tanh(a[i]);
    }
  double gz[CB][CN];
  memset(g, 0, sizeof(double) * NPC);
  memset(gx, 0, sizeof(double) * CB * CIN);
  for (int r = 0; r < CB; r++)
    for (int i = 0; i < CN; i++) gz[r][i] = c[r * CN + i];
  for (int k = KC - 1; k >= 0; k--)
    for (int r = 0; r < CB; r++) {
      double v[CN], gp[CN] = {0};
      for (int i = 0; i < CN; i++) v[i] = gz[r][i] * (1 - z[k + 1][r][i] * z[k + 1][r][i]), g[NWC + NUC + i / (CP * CQ)] += v[i];
      conv_ref_back(z[k][r], CC, CP, CQ, W, CC, 1, CP, CQ, v, gp, g);
      conv_ref_back(x + r * CIN, CI, CH, CWD, U, CC, 2, CP, CQ, v, gx + r * CIN, g + NWC);
      memcpy(gz[r], gp, sizeof gp);
    }
}

static void test_conv_implicit_vs_unrolled(void **s) {
  (void)s;
  nd_deq_config c = nd_deq_defaults();
  c.conv_channels = CC, c.image_c = CI, c.image_h = CH, c.image_w = CWD, c.inputs = CIN, c.hidden = CN;
  c.batch_max = CB, c.anderson_m = 5, c.tol = 1e-6, c.init_scale = 0.8, c.seed = 5;
  nd_deq *d = NULL;
  nd_assert_ok(nd_deq_create(&c, &d));
  assert_int_equal(nd_deq_num_params(d), NPC);
  float *pp = nd_deq_params(d);
  for (int i = 0; i < CC; i++) pp[NWC + NUC + i] = 0.2f * (float)(i - 1);
  float x[CB * CIN], z[CB * CN], dz[CB * CN], dx[CB * CIN];
  double cc[CB * CN], g[NPC], gx[CB * CIN];
  nd_rng r;
  nd_rng_init(&r, 9);
  for (int i = 0; i < CB * CIN; i++) x[i] = (float)(2 * nd_rng_uniform1(&r) - 1);
  for (int i = 0; i < CB * CN; i++) cc[i] = 2 * nd_rng_uniform1(&r) - 1, dz[i] = (float)cc[i];
  nd_fixed_point_result fr, br;
  nd_assert_ok(nd_deq_forward(d, x, CB, z, &fr));
  assert_true(fr.stop == ND_STOP_TOLERANCE && fr.change <= 1e-6 && fr.iterations > 1);
  nd_assert_ok(nd_deq_backward(d, x, CB, dz, dx, &br));
  assert_true(br.stop == ND_STOP_TOLERANCE && br.change <= 1e-6);
  unrolled_conv(pp, x, cc, g, gx);
  const float *got = nd_deq_grad(d);
  double gmax = 0;
  for (int i = 0; i < NPC; i++) gmax = fmax(gmax, fabs(g[i]));
  assert_true(gmax > 0.1);
  for (int i = 0; i < NPC; i++)
    if (!(fabs(got[i] - g[i]) <= 1e-4 * gmax)) fail_msg("conv param %d: implicit %.8g, unrolled %.8g", i, got[i], g[i]);
  for (int i = 0; i < CB * CIN; i++)
    if (!(fabs(dx[i] - gx[i]) <= 1e-4 * gmax)) fail_msg("conv dx %d: implicit %.8g, unrolled %.8g", i, dx[i], gx[i]);
  print_message("conv cell: forward %lld iterations (residual %.2g), backward %lld (residual %.2g)\n", (long long)fr.iterations,
                fr.residual, (long long)br.iterations, br.residual);
  double R;
  assert_int_equal(nd_deq_jacobian_reg(d, x, CB, dz, 1, &R), ND_ERR_INVALID_ARG);
  nd_deq_free(d);
  /* a state size that does not match the image is refused, naming hidden */
  c.hidden = CN + 1;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "hidden"));
  c.hidden = CN, c.inputs = CIN - 1;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
  c.inputs = CIN, c.conv_channels = -1;
  assert_int_equal(nd_deq_config_check(&c), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_implicit_vs_unrolled_anderson),
      cmocka_unit_test(test_implicit_vs_unrolled_plain),
      cmocka_unit_test(test_implicit_vs_unrolled_broyden),
      cmocka_unit_test(test_budget_and_args), cmocka_unit_test(test_jacobian_reg),
      cmocka_unit_test(test_conv_implicit_vs_unrolled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
