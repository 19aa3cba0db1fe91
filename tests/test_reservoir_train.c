/* Echo-state network training beyond the ridge fit (include/neurodyn/reservoir.h):
 *   - RLS with lambda = 1 from P = I / alpha equals ridge regression with
 *     ridge alpha on the same states (an algebraic identity, solved here by
 *     LAPACK through nd_ridge_fit);
 *   - independent sequences in parallel equal each sequence run alone, bit
 *     for bit (states and teacher-forced + free-running forecasts);
 *   - the first layer of a deep ESN is the plain ESN of the same seed;
 *     a deeper layer against its equation on dense copies;
 *   - intrinsic plasticity: one update equals the rule transcribed here, and
 *     passes move the units' output spread towards the target sigma;
 *   - anti-Hebbian decorrelation: one update against the rule on dense
 *     copies, rescaled to the configured spectral radius (dgeev);
 *   - FORCE on Mackey-Glass with a floor from measurement;
 *   - a checkpoint round trip continues RLS exactly. */
#include "nd_test.h"

#include <string.h>
#include <unistd.h>

#include "neurodyn/checkpoint.h"
#include "neurodyn/reservoir.h"

static nd_esn *make(int64_t units, int64_t layers, double noise) {
  nd_esn_config c = nd_esn_defaults();
  c.units = units, c.layers = layers, c.connectivity = 0.1, c.washout = 20, c.noise = noise, c.seed = 3;
  nd_esn *e = NULL;
  nd_assert_ok(nd_esn_create(&c, &e));
  return e;
}

static double *mg_net(int n) { /* tanh(x - 1) of Mackey-Glass after a 300-step transient */
  double *x = malloc((size_t)(n + 300) * sizeof *x);
  nd_assert_ok(nd_mackey_glass(n + 300, 17, 0.2, 0.1, 10, 1.2, 1, x));
  for (int k = 0; k < n; k++) x[k] = tanh(x[k + 300] - 1);
  return x;
}

static void test_rls_equals_ridge(void **state) {
  (void)state;
  enum { T = 400, W = 20 };
  nd_esn *e = make(40, 2, 0);
  double *u = mg_net(T + 1), alpha = 1e-3;
  int64_t F = nd_esn_features(e);
  assert_int_equal(F, 1 + 1 + 80);
  nd_esn_rls r = nd_esn_rls_defaults();
  r.alpha = alpha;
  double mse;
  nd_assert_ok(nd_esn_fit_rls(e, u, u + 1, T, &r, &mse));
  double *phi = malloc((size_t)(T * F) * sizeof *phi), *w = malloc((size_t)F * sizeof *w);
  nd_assert_ok(nd_esn_states_batch(e, u, 1, T, phi));
  nd_assert_ok(nd_ridge_fit(phi + W * F, u + 1 + W, T - W, F, 1, alpha, ND_RIDGE_QR, w));
  const double *got = nd_esn_readout_weights(e);
  double num = 0, den = 0;
  for (int64_t f = 0; f < F; f++) num += (got[f] - w[f]) * (got[f] - w[f]), den += w[f] * w[f];
  print_message("RLS vs ridge: relative difference %.3g (|w| %.3g), a-priori mse %.3g\n", sqrt(num / den), sqrt(den), mse);
  assert_true(sqrt(num / den) < 1e-6);
  free(phi), free(w), free(u);
  nd_esn_free(e);
}

static void test_batch_equals_sequential(void **state) {
  (void)state;
  enum { B = 5, T = 60, WARM = 40, H = 30 };
  nd_esn *e = make(30, 3, 0);
  int64_t F = nd_esn_features(e), NL = 90;
  double *u = mg_net(B * T + 1);
  double *phi = malloc((size_t)(B * T * F) * sizeof *phi);
  nd_assert_ok(nd_esn_states_batch(e, u, B, T, phi));
  for (int b = 0; b < B; b++) {
    nd_assert_ok(nd_esn_reset(e));
    for (int t = 0; t < T; t++) {
      nd_assert_ok(nd_esn_step(e, u + b * T + t));
      const double *p = phi + ((int64_t)b * T + t) * F;
      assert_true(p[0] == 1 && p[1] == u[b * T + t]);
      assert_memory_equal(p + 2, nd_esn_state(e), (size_t)NL * sizeof(double));
    }
  }
  /* forecasts: fit a readout, then B windows of WARM teacher-forced + H free steps */
  nd_assert_ok(nd_esn_fit(e, u, u + 1, B * T));
  double *uw = malloc(B * WARM * sizeof *uw), *y = malloc(B * (WARM + H) * sizeof *y), ref[WARM + H];
  for (int b = 0; b < B; b++) memcpy(uw + b * WARM, u + b * 50, WARM * sizeof *uw);
  nd_assert_ok(nd_esn_forecast_batch(e, uw, B, WARM, H, y));
  for (int b = 0; b < B; b++) {
    nd_assert_ok(nd_esn_reset(e));
    nd_assert_ok(nd_esn_run(e, uw + b * WARM, WARM, ref));
    nd_assert_ok(nd_esn_generate(e, H, ref + WARM));
    assert_memory_equal(y + b * (WARM + H), ref, sizeof ref);
  }
  free(u), free(phi), free(uw), free(y);
  nd_esn_free(e);
}

/* Layer 1 of a deep ESN is the plain ESN of the seed.  Layer 2 follows
 * x2(t) = tanh(W2 x2(t-1) + W_in2 [1; x1(t)]) (Gallicchio et al. 2017): with
 * W2 from its dense copy, atanh(x2(t)) - W2 x2(t-1) must be an exact affine
 * function of x1(t); over 60 steps (> N + 1 unknowns per unit) a least-squares
 * fit leaves no residual only if the equation holds. */
static void test_deep_layers(void **state) {
  (void)state;
  enum { N = 25, T = 60 };
  nd_esn *deep = make(N, 2, 0), *flat = make(N, 1, 0);
  double *u = mg_net(T), *xs = malloc((T + 1) * 2 * N * sizeof *xs);
  memset(xs, 0, 2 * N * sizeof *xs);
  for (int t = 0; t < T; t++) {
    nd_assert_ok(nd_esn_step(deep, u + t));
    nd_assert_ok(nd_esn_step(flat, u + t));
    assert_memory_equal(nd_esn_state(deep), nd_esn_state(flat), N * sizeof(double));
    memcpy(xs + (t + 1) * 2 * N, nd_esn_state(deep), 2 * N * sizeof *xs);
  }
  double *w2 = malloc(N * N * sizeof *w2), rho;
  nd_assert_ok(nd_esn_layer_reservoir(deep, 1, w2));
  nd_assert_ok(nd_spectral_radius(w2, N, &rho));
  nd_assert_close(rho, 0.8, 1e-9, 0);
  nd_assert_close(nd_esn_layer_spectral_radius(deep, 1), 0.8, 1e-9, 0);
  double *phi = malloc(T * (N + 1) * sizeof *phi), *tgt = malloc(T * N * sizeof *tgt), *w = malloc(N * (N + 1) * sizeof *w);
  for (int t = 1; t <= T; t++) {
    const double *x1 = xs + t * 2 * N, *x2 = x1 + N, *x2p = xs + (t - 1) * 2 * N + N;
    phi[(t - 1) * (N + 1)] = 1;
    memcpy(phi + (t - 1) * (N + 1) + 1, x1, N * sizeof *phi);
    for (int i = 0; i < N; i++) {
      double r = 0;
      for (int j = 0; j < N; j++) r += w2[i * N + j] * x2p[j];
      tgt[(t - 1) * N + i] = atanh(x2[i]) - r;
    }
  }
  nd_assert_ok(nd_ridge_fit(phi, tgt, T, N + 1, N, 0, ND_RIDGE_QR, w));
  double worst = 0;
  for (int t = 0; t < T; t++)
    for (int i = 0; i < N; i++) {
      double p = 0;
      for (int f = 0; f <= N; f++) p += w[i * (N + 1) + f] * phi[t * (N + 1) + f];
      worst = fmax(worst, fabs(p - tgt[t * N + i]));
    }
  print_message("layer 2: worst residual of the affine fit %.3g\n", worst);
  assert_true(worst < 1e-8);
  free(phi), free(tgt), free(w), free(w2), free(u), free(xs);
  nd_esn_free(deep), nd_esn_free(flat);
}

/* one IP update (a pass of washout + 1 steps) against the rule written out:
 * from g = 1, b = 0 and leak 1, x = tanh(s), so s = atanh(x) */
static void test_ip_rule(void **state) {
  (void)state;
  enum { N = 30, T = 21 };
  nd_esn *e = make(N, 1, 0), *ref = make(N, 1, 0);
  double *u = mg_net(T);
  nd_esn_plasticity p = nd_esn_plasticity_defaults();
  p.eta = 1e-2, p.mu = 0.1, p.sigma = 0.3;
  nd_assert_ok(nd_esn_adapt(e, u, T, &p, NULL));
  for (int t = 0; t < T; t++) nd_assert_ok(nd_esn_step(ref, u + t));
  double s2 = p.sigma * p.sigma;
  for (int i = 0; i < N; i++) {
    double y = nd_esn_state(ref)[i], s = atanh(y);
    double db = -p.eta * (-p.mu / s2 + (y / s2) * (2 * s2 + 1 - y * y + p.mu * y)), dg = p.eta / 1 + db * s;
    nd_assert_close(nd_esn_ip_bias(e)[i], db, 1e-9, 1e-12);
    nd_assert_close(nd_esn_gain(e)[i], 1 + dg, 1e-9, 1e-12);
  }
  free(u);
  nd_esn_free(e), nd_esn_free(ref);
}

/* IP passes over Mackey-Glass drive the output spread towards sigma. */
static void test_rules_effect(void **state) {
  (void)state;
  enum { T = 1000 };
  double *u = mg_net(T);
  nd_esn *e = make(100, 1, 0);
  nd_esn_plasticity none = {.rule = ND_ESN_RULE_NONE, .eta = 1e-3, .mu = 0, .sigma = 0.2}, ip = none;
  ip.rule = ND_ESN_IP;
  nd_esn_adapt_stats s0, s1;
  nd_assert_ok(nd_esn_adapt(e, u, T, &none, &s0));
  for (int k = 0; k < 10; k++) nd_assert_ok(nd_esn_adapt(e, u, T, &ip, &s1));
  print_message("IP: output std %.3f -> %.3f (target 0.2), mean %.3f -> %.3f\n", s0.std, s1.std, s0.mean, s1.mean);
  assert_true(fabs(s1.std - 0.2) < 0.5 * fabs(s0.std - 0.2));
  assert_true(fabs(s1.mean) < 0.05);
  free(u);
  nd_esn_free(e);
}

/* Decorrelation: a pass of washout + 3 steps makes exactly one non-zero
 * update (the centring means start at the state of the washout's end), at
 * t = washout + 2, dW_ij = -eta (x_i(t) - m_i)(x_j(t-1) - m_j) with
 * m = x(w) + 0.01 (x(w+1) - x(w)); then W is rescaled to radius 0.8.
 * Checked against that update on dense copies with dgeev. */
static void test_decorrelation_rule(void **state) {
  (void)state;
  enum { N = 40, W = 20, T = W + 3 };
  double *u = mg_net(T), eta = 0.05;
  nd_esn *e = make(N, 1, 0), *ref = make(N, 1, 0);
  double *w0 = malloc(N * N * sizeof *w0), *w1 = malloc(N * N * sizeof *w1), xs[T][N], rho;
  nd_assert_ok(nd_esn_reservoir(ref, w0));
  for (int t = 0; t < T; t++) {
    nd_assert_ok(nd_esn_step(ref, u + t));
    memcpy(xs[t], nd_esn_state(ref), sizeof xs[t]);
  }
  nd_esn_plasticity dec = {.rule = ND_ESN_DECORRELATE, .eta = eta, .mu = 0, .sigma = 1};
  nd_esn_adapt_stats st;
  nd_assert_ok(nd_esn_adapt(e, u, T, &dec, &st));
  double m[N];
  for (int i = 0; i < N; i++) m[i] = xs[W][i] + 0.01 * (xs[W + 1][i] - xs[W][i]);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (w0[i * N + j] != 0 && i != j) w0[i * N + j] -= eta * (xs[W + 2][i] - m[i]) * (xs[W + 1][j] - m[j]);
  nd_assert_ok(nd_spectral_radius(w0, N, &rho));
  nd_assert_ok(nd_esn_reservoir(e, w1));
  for (int k = 0; k < N * N; k++) nd_assert_close(w1[k], w0[k] * 0.8 / rho, 1e-12, 1e-12);
  free(w0), free(w1), free(u);
  nd_esn_free(e), nd_esn_free(ref);
}

/* FORCE on Mackey-Glass: 200 units, two passes; the one-step NRMSE of the
 * learned readout (teacher-forced, held-out 500 steps, in the network's
 * units).  Measured 5.8e-3 (teacher-forced RLS: 2.7e-4); floor 2e-2. */
static void test_force_mackey_glass(void **state) {
  (void)state;
  enum { T = 2000, V = 500 };
  double *u = mg_net(T + V + 1);
  nd_esn_config c = nd_esn_defaults();
  c.units = 200, c.connectivity = 0.05, c.seed = 1;
  nd_esn *e = NULL;
  nd_assert_ok(nd_esn_create(&c, &e));
  nd_esn_rls r = nd_esn_rls_defaults();
  r.force = true, r.alpha = 1e-8;
  double mse1, mse2;
  nd_assert_ok(nd_esn_fit_rls(e, u, u + 1, T, &r, &mse1));
  nd_assert_ok(nd_esn_fit_rls(e, u, u + 1, T, &r, &mse2));
  double y[V], m = 0, v = 0, se = 0;
  nd_assert_ok(nd_esn_reset(e));
  nd_assert_ok(nd_esn_run(e, u + T - 200, 200, y)); /* warm up on the last training steps */
  nd_assert_ok(nd_esn_run(e, u + T, V, y));
  for (int t = 0; t < V; t++) m += u[T + 1 + t] / V;
  for (int t = 0; t < V; t++) v += (u[T + 1 + t] - m) * (u[T + 1 + t] - m) / V, se += (y[t] - u[T + 1 + t]) * (y[t] - u[T + 1 + t]);
  double nrmse = sqrt(se / V / v);
  print_message("FORCE: a-priori mse pass 1 %.3g, pass 2 %.3g; held-out one-step NRMSE %.3g\n", mse1, mse2, nrmse);
  assert_true(nrmse < 2e-2);
  free(u);
  nd_esn_free(e);
}

/* save after one RLS pass with noise, load, a second pass on both: identical */
static void test_checkpoint_resume(void **state) {
  (void)state;
  enum { T = 300 };
  double *u = mg_net(T + 1);
  nd_esn *a = make(30, 2, 1e-4);
  nd_esn_plasticity ip = nd_esn_plasticity_defaults();
  nd_esn_rls r = nd_esn_rls_defaults();
  r.alpha = 1e-2;
  nd_assert_ok(nd_esn_adapt(a, u, T, &ip, NULL));
  nd_assert_ok(nd_esn_fit_rls(a, u, u + 1, T, &r, NULL));
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_esn_save(a, ck));
  char path[] = "/tmp/nd_esn_ckXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  nd_assert_ok(nd_checkpoint_write(ck, path));
  nd_checkpoint_free(ck);
  nd_assert_ok(nd_checkpoint_read(path, &ck));
  nd_esn *b = NULL;
  nd_assert_ok(nd_esn_load(ck, &b));
  nd_checkpoint_free(ck);
  unlink(path);
  int64_t F = nd_esn_features(a);
  assert_memory_equal(nd_esn_readout_weights(a), nd_esn_readout_weights(b), (size_t)F * sizeof(double));
  nd_assert_ok(nd_esn_fit_rls(a, u, u + 1, T, &r, NULL));
  nd_assert_ok(nd_esn_fit_rls(b, u, u + 1, T, &r, NULL));
  assert_memory_equal(nd_esn_readout_weights(a), nd_esn_readout_weights(b), (size_t)F * sizeof(double));
  assert_memory_equal(nd_esn_gain(a), nd_esn_gain(b), 60 * sizeof(double));
  /* a wrong model name is refused */
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_checkpoint_put_meta(ck, "model", "krotov"));
  nd_esn *c = NULL;
  assert_int_equal(nd_esn_load(ck, &c), ND_ERR_FORMAT);
  nd_checkpoint_free(ck);
  free(u);
  nd_esn_free(a), nd_esn_free(b);
}

static void test_bad_args(void **state) {
  (void)state;
  nd_esn *e = make(10, 1, 0);
  double u[100] = {0}, y[100];
  nd_esn_rls r = nd_esn_rls_defaults();
  r.alpha = 0;
  assert_int_equal(nd_esn_fit_rls(e, u, u, 50, &r, NULL), ND_ERR_INVALID_ARG);
  nd_esn_plasticity p = nd_esn_plasticity_defaults();
  p.eta = 2;
  assert_int_equal(nd_esn_adapt(e, u, 50, &p, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_esn_forecast_batch(e, u, 1, 10, 5, y), ND_ERR_INVALID_ARG); /* no readout */
  assert_int_equal(nd_esn_states_batch(e, u, 0, 10, y), ND_ERR_INVALID_ARG);
  nd_esn_config c = nd_esn_defaults();
  c.layers = 0;
  assert_int_equal(nd_esn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_esn_defaults();
  c.noise = -1;
  assert_int_equal(nd_esn_config_check(&c), ND_ERR_INVALID_ARG);
  nd_esn_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rls_equals_ridge), cmocka_unit_test(test_batch_equals_sequential),
      cmocka_unit_test(test_deep_layers),      cmocka_unit_test(test_ip_rule),
      cmocka_unit_test(test_rules_effect),     cmocka_unit_test(test_force_mackey_glass), cmocka_unit_test(test_decorrelation_rule),
      cmocka_unit_test(test_checkpoint_resume), cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
