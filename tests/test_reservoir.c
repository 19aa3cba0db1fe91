/* Reservoir computing (include/neurodyn/reservoir.h) against independent
 * references:
 *   - the spectral radius of matrices whose eigenvalues are known by
 *     construction (triangular, rotation blocks);
 *   - the scaled reservoir's spectral radius against the growth rate of
 *     ||W^k x|| (power iteration through the ESN's own linear regime);
 *   - ridge regression (both solvers) against the exact solution of a
 *     consistent system and the closed form for orthogonal designs;
 *   - Mackey-Glass against a direct transcription of the delay RK4 on a full
 *     array (no ring buffer);
 *   - a short Mackey-Glass ESN fit and free run with floors from measurement;
 *   - NRMSE and bad arguments. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/reservoir.h"

static void test_spectral_radius_known(void **state) {
  (void)state;
  enum { N = 40 };
  double *a = calloc(N * N, sizeof *a), rho;
  nd_rng r;
  nd_rng_init(&r, 4);
  /* upper triangular: the eigenvalues are the diagonal */
  for (int i = 0; i < N; i++)
    for (int j = i; j < N; j++) a[i * N + j] = 2 * nd_rng_uniform1(&r) - 1;
  a[17 * N + 17] = -1.75;
  nd_assert_ok(nd_spectral_radius(a, N, &rho));
  nd_assert_close(rho, 1.75, 1e-10, 0);
  /* a rotation-scaling block [[c, -s], [s, c]] (eigenvalues c +- i s) and a diagonal */
  memset(a, 0, N * N * sizeof *a);
  for (int i = 2; i < N; i++) a[i * N + i] = 0.5 + 0.01 * i; /* up to 0.89 */
  a[0] = 0.6, a[1] = -0.7, a[N] = 0.7, a[N + 1] = 0.6;        /* |.| = sqrt(0.85) = 0.922 */
  nd_assert_ok(nd_spectral_radius(a, N, &rho));
  nd_assert_close(rho, sqrt(0.85), 1e-10, 0);
  free(a);
}

/* Linear regime: bias 0, a tiny impulse, then zero input, so x(t) = W^(t-1) x(1)
 * to ~1e-12 relative (tanh s = s - s^3/3); the growth rate over k steps,
 * (|x(2k)| / |x(k)|)^(1/k), tends to the spectral radius. */
static void test_esn_spectral_radius_by_power(void **state) {
  (void)state;
  nd_esn_config c = nd_esn_defaults();
  c.units = 300, c.connectivity = 0.05, c.spectral_radius = 0.9, c.bias_scaling = 0, c.input_scaling = 1e-6;
  nd_esn *e = NULL;
  nd_assert_ok(nd_esn_create(&c, &e));
  nd_assert_close(nd_esn_spectral_radius(e), 0.9, 1e-9, 0);
  double one = 1, zero = 0, n1 = 0, n2 = 0;
  nd_assert_ok(nd_esn_step(e, &one));
  for (int t = 1; t <= 800; t++) {
    nd_assert_ok(nd_esn_step(e, &zero));
    double s = 0;
    for (int i = 0; i < 300; i++) s += nd_esn_state(e)[i] * nd_esn_state(e)[i];
    if (t == 400) n1 = sqrt(s);
    if (t == 800) n2 = sqrt(s);
  }
  nd_assert_close(pow(n2 / n1, 1.0 / 400), 0.9, 0.02, 0);
  nd_esn_free(e);
}

/* The power-iteration estimate against dgeev: the reservoir scaled by the
 * estimate has, by dgeev on its dense copy, a radius within 2% of the target. */
static void test_esn_power_radius(void **state) {
  (void)state;
  nd_esn_config c = nd_esn_defaults();
  c.units = 400, c.connectivity = 0.03, c.spectral_radius = 0.95, c.rho_method = ND_ESN_RHO_POWER;
  nd_esn *e = NULL;
  nd_assert_ok(nd_esn_create(&c, &e));
  double *w = malloc(400 * 400 * sizeof *w), rho;
  nd_assert_ok(nd_esn_reservoir(e, w));
  int64_t nnz = 0;
  for (int k = 0; k < 400 * 400; k++) nnz += w[k] != 0;
  assert_int_equal(nnz, nd_esn_nnz(e));
  nd_assert_ok(nd_spectral_radius(w, 400, &rho));
  print_message("power-scaled reservoir: dgeev radius %.4f (target 0.95)\n", rho);
  nd_assert_close(rho, 0.95, 0.02 * 0.95, 0);
  free(w);
  nd_esn_free(e);
}

static void test_ridge(void **state) {
  (void)state;
  enum { T = 200, F = 10, L = 2 };
  double *phi = malloc(T * F * sizeof *phi), y[T * L], w_true[L * F], w[L * F];
  nd_rng r;
  nd_rng_init(&r, 6);
  nd_rng_uniform_f64(&r, phi, T * F, -1, 1);
  nd_rng_uniform_f64(&r, w_true, L * F, -2, 2);
  for (int t = 0; t < T; t++)
    for (int l = 0; l < L; l++) {
      double s = 0;
      for (int f = 0; f < F; f++) s += phi[t * F + f] * w_true[l * F + f];
      y[t * L + l] = s;
    }
  for (int solver = 0; solver < 2; solver++) {
    nd_assert_ok(nd_ridge_fit(phi, y, T, F, L, 0, (nd_ridge_solver)solver, w));
    for (int k = 0; k < L * F; k++) nd_assert_close(w[k], w_true[k], 1e-9, 0);
  }
  /* orthogonal design: four columns of the Walsh-Hadamard matrix of order 16,
   * Phi[t][f] = (-1)^(bit f of t) (Phi^T Phi = 16 I), so w = Phi^T y / (16 + ridge) */
  enum { H = 16, FH = 4 };
  double ph[H * FH], yh[H], wh[FH], lam = 3.5;
  for (int t = 0; t < H; t++) {
    for (int f = 0; f < FH; f++) ph[t * FH + f] = ((unsigned)t >> f) & 1u ? -1 : 1;
    yh[t] = sin(t + 1.0);
  }
  /* check the design really is orthogonal before using the closed form */
  for (int f = 0; f < FH; f++)
    for (int g = 0; g < FH; g++) {
      double s = 0;
      for (int t = 0; t < H; t++) s += ph[t * FH + f] * ph[t * FH + g];
      assert_true(s == (f == g ? 16.0 : 0.0));
    }
  for (int solver = 0; solver < 2; solver++) {
    nd_assert_ok(nd_ridge_fit(ph, yh, H, FH, 1, lam, (nd_ridge_solver)solver, wh));
    for (int f = 0; f < FH; f++) {
      double s = 0;
      for (int t = 0; t < H; t++) s += ph[t * FH + f] * yh[t];
      nd_assert_close(wh[f], s / (16 + lam), 1e-12, 0);
    }
  }
  /* a singular system without ridge */
  for (int t = 0; t < T; t++) phi[t * F + 3] = phi[t * F + 2];
  assert_int_equal(nd_ridge_fit(phi, y, T, F, L, 0, ND_RIDGE_CHOLESKY, w), ND_ERR_NUMERIC);
  free(phi);
}

/* Mackey-Glass, transcribed directly: x[k+1] = RK4 step of
 * f(x) = 0.2 x[k-17] / (1 + x[k-17]^10) - 0.1 x with x[k-17] held, and
 * x[j] = 1.2 for j < 0. */
static void test_mackey_glass(void **state) {
  (void)state;
  enum { N = 3000, TAU = 17 };
  double *got = malloc(N * sizeof *got), *ref = malloc((N + TAU) * sizeof *ref);
  nd_assert_ok(nd_mackey_glass(N, 17, 0.2, 0.1, 10, 1.2, 1, got));
  for (int j = 0; j <= TAU; j++) ref[j] = 1.2; /* ref[j + TAU] = x[j] */
  for (int k = 0; k + 1 < N; k++) {
    double x = ref[k + TAU], d = ref[k];
#define F(v) (0.2 * d / (1 + pow(d, 10)) - 0.1 * (v))
    double k1 = F(x), k2 = F(x + 0.5 * k1), k3 = F(x + 0.5 * k2), k4 = F(x + k3);
#undef F
    ref[k + 1 + TAU] = x + (k1 + 2 * k2 + 2 * k3 + k4) / 6;
  }
  for (int k = 0; k < N; k++) nd_assert_close(got[k], ref[k + TAU], 1e-12, 1e-12);
  /* on the chaotic attractor: bounded, not settled */
  double lo = 10, hi = -10;
  for (int k = 1000; k < N; k++) lo = fmin(lo, got[k]), hi = fmax(hi, got[k]);
  assert_true(lo > 0.2 && hi < 1.5 && hi - lo > 0.6);
  free(got);
  free(ref);
}

/* A small ESN on Mackey-Glass (fed tanh(x - 1) as Jaeger & Haas 2004):
 * the one-step NRMSE on 500 held-out teacher-forced steps, and the 84-step
 * free-run NRMSE over 10 held-out windows (200 teacher-forced steps, then 84
 * free).  Measured at this configuration (300 units, ridge 1e-10, QR):
 * 7.5e-5 and 6.8e-3; floors about 3x: 2.5e-4 and 2e-2. */
static void test_esn_mackey_glass(void **state) {
  (void)state;
  enum { N = 6000, TRAIN = 2000, WIN = 284 };
  double *x = malloc(N * sizeof *x), *z = malloc(N * sizeof *z), y[600];
  nd_assert_ok(nd_mackey_glass(N, 17, 0.2, 0.1, 10, 1.2, 1, x));
  for (int k = 0; k < N; k++) z[k] = tanh(x[k] - 1);
  double var = 0, m = 0;
  for (int k = 300; k < N; k++) m += x[k] / (N - 300);
  for (int k = 300; k < N; k++) var += (x[k] - m) * (x[k] - m) / (N - 300);
  nd_esn_config c = nd_esn_defaults();
  c.units = 300, c.connectivity = 0.05, c.ridge = 1e-10, c.solver = ND_RIDGE_QR;
  nd_esn *e = NULL;
  nd_assert_ok(nd_esn_create(&c, &e));
  nd_assert_ok(nd_esn_fit(e, z + 300, z + 301, TRAIN));
  /* continue teacher-forced over the next 500 steps: y[t] predicts x[2301 + t] */
  nd_assert_ok(nd_esn_run(e, z + 2300, 500, y));
  double p[500], q[500];
  for (int t = 0; t < 500; t++) p[t] = atanh(y[t]) + 1, q[t] = x[2301 + t];
  double one = nd_nrmse(p, q, 500, var);
  double se = 0;
  for (int i = 0; i < 10; i++) {
    int s0 = 2900 + i * WIN;
    nd_assert_ok(nd_esn_reset(e));
    nd_assert_ok(nd_esn_run(e, z + s0, 200, y));
    nd_assert_ok(nd_esn_generate(e, 83, y)); /* y[82] predicts x[s0 + 199 + 84] */
    double d = atanh(y[82]) + 1 - x[s0 + 199 + 84];
    se += d * d;
  }
  double free_run = sqrt(se / 10 / var);
  print_message("one-step NRMSE %.3g, 84-step free-run NRMSE %.3g\n", one, free_run);
  assert_true(one < 2.5e-4);
  assert_true(free_run < 2e-2);
  nd_esn_free(e);
  free(x);
  free(z);
}

/* NG-RC on the logistic map u' = r u (1 - u): the increment (r - 1) u - r u^2
 * is in NG-RC's feature space (d = 1, k = 1), so a fit without ridge recovers
 * it and the forecast follows the map for 20 steps (chaos amplifies 1e-15 by
 * at most ~2^20 in that time). */
static void test_ngrc_logistic(void **state) {
  (void)state;
  enum { T = 200 };
  double u[T + 40];
  u[0] = 0.3;
  for (int t = 0; t + 1 < T + 40; t++) u[t + 1] = 3.9 * u[t] * (1 - u[t]);
  nd_ngrc_config c = {.inputs = 1, .delays = 1, .spacing = 1, .ridge = 0};
  nd_ngrc *m = NULL;
  nd_assert_ok(nd_ngrc_create(&c, &m));
  assert_int_equal(nd_ngrc_features(m), 3);
  nd_assert_ok(nd_ngrc_fit(m, u, T));
  double y[20];
  nd_assert_ok(nd_ngrc_forecast(m, u, T, 20, y));
  for (int k = 0; k < 20; k++) nd_assert_close(y[k], u[T + k], 1e-6, 0);
  nd_ngrc_free(m);
  c = nd_ngrc_defaults();
  nd_assert_ok(nd_ngrc_create(&c, &m));
  assert_int_equal(nd_ngrc_features(m), 28); /* Gauthier et al. 2021: 1 + 6 + 21 for Lorenz, k = 2 */
  nd_ngrc_free(m);
}

/* Lorenz by nd_lorenz against RK4 in double with h = 1e-4 written here:
 * the float32 adaptive solution stays within 1e-3 over 1 time unit. */
static void test_lorenz(void **state) {
  (void)state;
  double x0[3] = {1, 1, 1}, out[41 * 3];
  nd_assert_ok(nd_lorenz(41, 0.025, x0, 10, 28, 8.0 / 3, out));
  double y[3] = {1, 1, 1}, h = 1e-4;
#define LZ(v, d)                                    \
  do {                                              \
    d[0] = 10 * (v[1] - v[0]);                      \
    d[1] = v[0] * (28 - v[2]) - v[1];               \
    d[2] = v[0] * v[1] - 8.0 / 3 * v[2];            \
  } while (0)
  for (int k = 1; k <= 40; k++) {
    for (int s = 0; s < 250; s++) {
      double k1[3], k2[3], k3[3], k4[3], t[3];
      LZ(y, k1);
      for (int i = 0; i < 3; i++) t[i] = y[i] + 0.5 * h * k1[i];
      LZ(t, k2);
      for (int i = 0; i < 3; i++) t[i] = y[i] + 0.5 * h * k2[i];
      LZ(t, k3);
      for (int i = 0; i < 3; i++) t[i] = y[i] + h * k3[i];
      LZ(t, k4);
      for (int i = 0; i < 3; i++) y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
    for (int i = 0; i < 3; i++) nd_assert_close(out[k * 3 + i], y[i], 1e-3, 1e-4);
  }
#undef LZ
}

/* NG-RC on Lorenz in the setting of Gauthier et al. 2021 (dt = 0.025, k = 2,
 * s = 1, 400 training points) but ridge 1e-3: their 2.5e-6 made the forecast
 * diverge within 15 steps here and in an independent NumPy version on
 * double-precision data.  The forecast NRMSE over one Lyapunov time (1.1
 * time units = 44 steps; each component normalised by its variance):
 * measured 2.1e-3; floor 1e-2. */
static void test_ngrc_lorenz(void **state) {
  (void)state;
  enum { N = 2000, WARM = 400, TRAIN = 400, H = 44 };
  double x0[3] = {17.68, 12.93, 43.91}, *u = malloc(N * 3 * sizeof *u);
  nd_assert_ok(nd_lorenz(N, 0.025, x0, 10, 28, 8.0 / 3, u));
  nd_ngrc_config c = nd_ngrc_defaults();
  c.ridge = 1e-3;
  nd_ngrc *m = NULL;
  nd_assert_ok(nd_ngrc_create(&c, &m));
  nd_assert_ok(nd_ngrc_fit(m, u + WARM * 3, TRAIN));
  double y[H * 3], var[3] = {0}, mean[3] = {0}, se = 0;
  for (int k = WARM; k < N; k++)
    for (int i = 0; i < 3; i++) mean[i] += u[k * 3 + i] / (N - WARM);
  for (int k = WARM; k < N; k++)
    for (int i = 0; i < 3; i++) var[i] += (u[k * 3 + i] - mean[i]) * (u[k * 3 + i] - mean[i]) / (N - WARM);
  int start = WARM + TRAIN; /* forecast right after the training data, as the paper */
  nd_assert_ok(nd_ngrc_forecast(m, u, start, H, y));
  for (int k = 0; k < H; k++)
    for (int i = 0; i < 3; i++) se += (y[k * 3 + i] - u[(start + k) * 3 + i]) * (y[k * 3 + i] - u[(start + k) * 3 + i]) / var[i];
  double nrmse = sqrt(se / (H * 3));
  print_message("NG-RC Lorenz NRMSE over one Lyapunov time: %.3g\n", nrmse);
  assert_true(nrmse < 1e-2);
  nd_ngrc_free(m);
  free(u);
}

static void test_nrmse_and_bad_args(void **state) {
  (void)state;
  double t[4] = {1, 2, 3, 4}, p[4] = {1, 2, 3, 5};
  nd_assert_close(nd_nrmse(p, t, 4, 0), sqrt(0.25 / 1.25), 1e-15, 0);
  nd_assert_close(nd_nrmse(p, t, 4, 4.0), sqrt(0.25 / 4), 1e-15, 0);
  assert_true(isnan(nd_nrmse(NULL, t, 4, 0)));
  nd_esn_config c = nd_esn_defaults();
  nd_esn *e = (nd_esn *)1;
  c.spectral_radius = 0;
  assert_int_equal(nd_esn_create(&c, &e), ND_ERR_INVALID_ARG);
  assert_null(e);
  c = nd_esn_defaults();
  c.leak = 1.5;
  assert_int_equal(nd_esn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_esn_defaults();
  c.units = 20, c.connectivity = 0.2;
  nd_assert_ok(nd_esn_create(&c, &e));
  double y[2], u[200] = {0};
  assert_int_equal(nd_esn_readout(e, y), ND_ERR_INVALID_ARG); /* no fit yet */
  assert_int_equal(nd_esn_fit(e, u, u, 100), ND_ERR_INVALID_ARG); /* T <= washout */
  double nan = NAN;
  assert_int_equal(nd_esn_step(e, &nan), ND_ERR_NUMERIC);
  nd_esn_free(e);
  double out[4];
  assert_int_equal(nd_mackey_glass(4, 0.5, 0.2, 0.1, 10, 1.2, 1, out), ND_ERR_INVALID_ARG);
  double rho;
  assert_int_equal(nd_spectral_radius(t, 0, &rho), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spectral_radius_known), cmocka_unit_test(test_esn_spectral_radius_by_power),
 cmocka_unit_test(test_esn_power_radius),
      cmocka_unit_test(test_ridge),                 cmocka_unit_test(test_mackey_glass),
      cmocka_unit_test(test_esn_mackey_glass),      cmocka_unit_test(test_ngrc_logistic),
      cmocka_unit_test(test_lorenz),                cmocka_unit_test(test_ngrc_lorenz),      cmocka_unit_test(test_nrmse_and_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
