/* Dense LCA (lca.h) against what the equations give in closed form, the
 * Lasso optimality conditions, and itself row by row. */
#include "nd_test.h"

/* With Phi = I the inhibition vanishes: du/dt = s - u, so u -> s and a ->
 * T_lambda(s) exactly (Rozell et al. 2008, Eq. 3.1). */
static void test_identity_dictionary(void **st) {
  (void)st;
  float phi[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, s[3] = {0.5f, -0.05f, -2.0f}, a[3];
  const float want[3][3] = {{0.4f, 0, -1.9f}, {0.5f, 0, -2.0f}, {0.4f, 0, 0}}; /* soft, hard, nonneg, lambda 0.1 */
  for (int t = 0; t < 3; t++) {
    for (int k = 0; k < 2; k++) { /* Euler and the default update */
      nd_lca_config c = nd_lca_defaults();
      c.threshold = (nd_lca_threshold)t;
      c.tol = 1e-7;
      c.max_iter = 5000;
      if (k == 0) c.update = nd_accel_defaults(ND_ACCEL_EULER);
      nd_lca *l;
      assert_int_equal(nd_lca_create(&c, phi, 3, 3, 1, &l), ND_OK);
      nd_lca_result r;
      assert_int_equal(nd_lca_solve(l, s, 1, a, &r), ND_OK);
      assert_int_equal(r.stop, ND_STOP_TOLERANCE);
      nd_assert_arrays_close(a, want[t], 3, 1e-5, 0, nd_lca_threshold_name(c.threshold));
      /* E = 1/2 ||s - a||^2 + C(a) */
      double e = 0;
      for (int i = 0; i < 3; i++) e += 0.5 * (s[i] - a[i]) * (s[i] - a[i]);
      double pen;
      assert_int_equal(nd_lca_penalty(c.threshold, 0.1f, a, 3, &pen), ND_OK);
      nd_assert_close(r.objective, e + pen, 1e-6, 0);
      nd_lca_free(l);
    }
  }
}

/* Upstream: du = s - u - lambda (Phi = I), so u -> s - lambda and
 * a = max(lambda, s - lambda). */
static void test_upstream_variant(void **st) {
  (void)st;
  float phi[4] = {1, 0, 0, 1}, s[2] = {0.5f, -1.0f}, a[2];
  nd_lca_config c = nd_lca_defaults();
  c.variant = ND_LCA_UPSTREAM;
  c.update = nd_accel_defaults(ND_ACCEL_EULER);
  c.auto_eta = false;
  c.update.eta = 0.1;
  c.tol = 1e-7;
  c.max_iter = 10000;
  nd_lca *l;
  assert_int_equal(nd_lca_create(&c, phi, 2, 2, 1, &l), ND_OK);
  nd_lca_result r;
  assert_int_equal(nd_lca_solve(l, s, 1, a, &r), ND_OK);
  nd_assert_close(a[0], 0.4, 1e-5, 0);
  nd_assert_close(a[1], 0.1f, 0, 0); /* the floor */
  nd_assert_close(nd_lca_potentials(l)[1], -1.1, 1e-5, 0);
  nd_lca_free(l);
}

/* Random 32 x 64 dictionary: at the fixed point of soft LCA the Lasso
 * conditions hold, |Phi_j^T (s - Phi a)| <= lambda with equality and the sign
 * of a_j on the support; both forms agree; a batch gives per-signal results. */
static void test_kkt_forms_batch(void **st) {
  (void)st;
  enum { M = 32, N = 64, B = 3 };
  static float phi[M * N], s[B * M], a[B * N], a1[N], a2[B * N];
  nd_rng rng;
  assert_int_equal(nd_rng_init(&rng, 7), ND_OK);
  assert_int_equal(nd_rng_normal(&rng, phi, M * N, 0.0f, 1.0f / sqrtf((float)M)), ND_OK);
  assert_int_equal(nd_rng_normal(&rng, s, B * M, 0.0f, 1.0f), ND_OK);
  nd_lca_config c = nd_lca_defaults();
  c.lambda = 0.3f;
  c.tol = 1e-6;
  c.max_iter = 20000;
  c.form = ND_LCA_FORM_GRAM;
  nd_lca *l, *l2;
  assert_int_equal(nd_lca_create(&c, phi, M, N, B, &l), ND_OK);
  nd_lca_result r;
  assert_int_equal(nd_lca_solve(l, s, B, a, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  int support = 0;
  for (int b = 0; b < B; b++)
    for (int j = 0; j < N; j++) {
      double g = 0;
      for (int i = 0; i < M; i++) {
        double res = s[b * M + i];
        for (int k = 0; k < N; k++) res -= (double)phi[i * N + k] * a[b * N + k];
        g += phi[i * N + j] * res;
      }
      if (a[b * N + j] != 0) {
        support++;
        nd_assert_close(g, copysign(0.3, a[b * N + j]), 1e-3, 0);
      } else {
        assert_true(fabs(g) <= 0.3 + 1e-3);
      }
    }
  assert_true(support > B && support < B * N);
  c.form = ND_LCA_FORM_TWO_GEMM;
  assert_int_equal(nd_lca_create(&c, phi, M, N, B, &l2), ND_OK);
  assert_int_equal(nd_lca_solve(l2, s, B, a2, NULL), ND_OK);
  nd_assert_arrays_close(a2, a, B * N, 1e-4, 1e-3, "two-gemm vs gram");
  for (int b = 0; b < B; b++) {
    assert_int_equal(nd_lca_solve(l, s + b * M, 1, a1, NULL), ND_OK);
    nd_assert_arrays_close(a1, a + b * N, N, 1e-6, 1e-5, "row alone vs in the batch");
  }
  nd_lca_free(l);
  nd_lca_free(l2);
}

static int stop_at_3(int64_t it, const float *a, const float *u, int64_t batch, void *user) {
  (void)a, (void)u, (void)batch;
  *(int64_t *)user = it;
  return it == 3;
}

static void test_max_iter_observer_diverged(void **st) {
  (void)st;
  float phi[4] = {1, 0.5f, 0, 1}, s[2] = {1, 1}, a[2];
  nd_lca_config c = nd_lca_defaults();
  c.max_iter = 2;
  nd_lca *l;
  assert_int_equal(nd_lca_create(&c, phi, 2, 2, 1, &l), ND_OK);
  nd_lca_result r;
  assert_int_equal(nd_lca_solve(l, s, 1, a, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_MAX_ITER);
  assert_int_equal(r.iterations, 2);
  assert_true(r.residual > c.tol);
  nd_lca_free(l);
  c.max_iter = 100;
  assert_int_equal(nd_lca_create(&c, phi, 2, 2, 1, &l), ND_OK);
  int64_t seen = 0;
  assert_int_equal(nd_lca_set_observer(l, stop_at_3, &seen), ND_OK);
  assert_int_equal(nd_lca_solve(l, s, 1, a, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_OBSERVER);
  assert_int_equal(r.iterations, 3);
  nd_lca_free(l);
  /* Euler far beyond 2/L blows up: reported, not hidden */
  c.update = nd_accel_defaults(ND_ACCEL_EULER);
  c.auto_eta = false;
  c.update.eta = 50;
  c.max_iter = 1000;
  c.lambda = 0;
  assert_int_equal(nd_lca_create(&c, phi, 2, 2, 1, &l), ND_OK);
  assert_int_equal(nd_lca_solve(l, s, 1, a, &r), ND_ERR_NUMERIC);
  assert_int_equal(r.stop, ND_STOP_DIVERGED);
  nd_lca_free(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity_dictionary),
      cmocka_unit_test(test_upstream_variant),
      cmocka_unit_test(test_kkt_forms_batch),
      cmocka_unit_test(test_max_iter_observer_diverged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
