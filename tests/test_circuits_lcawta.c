/* LcaWta (circuits.h) against its two halves solved alone: with no flow it
 * is the non-negative LCA (lca.h); with the LCA feeding the circuit only
 * (F21 = 1) the circuit's state is LocallyConnectedWta's steady state for the
 * codes as input; with full coupling the fixed-point equations hold.  The
 * dictionary is not square (m = 6 < k = 10), which upstream cannot do. */
#include <math.h>
#include <stdlib.h>

#include "nd_test.h"
#include "neurodyn/circuits.h"
#include "neurodyn/lca.h"

enum { M = 6, K = 10, B = 2 };

static void setup(float *phi, float *s) {
  srand(5);
  for (int i = 0; i < M * K; i++) phi[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  for (int j = 0; j < K; j++) { /* unit-norm columns */
    double n2 = 0;
    for (int i = 0; i < M; i++) n2 += phi[i * K + j] * phi[i * K + j];
    for (int i = 0; i < M; i++) phi[i * K + j] /= (float)sqrt(n2);
  }
  for (int i = 0; i < B * M; i++) s[i] = (float)rand() / (float)RAND_MAX;
}

static nd_lcawta_config cfg(double f11, double f12, double f21, double f22) {
  nd_lcawta_config c = nd_lcawta_defaults();
  c.flow[0][0] = f11;
  c.flow[0][1] = f12;
  c.flow[1][0] = f21;
  c.flow[1][1] = f22;
  c.halfwidth = 2;
  c.wta.alpha = 1.1;
  c.wta.beta1 = 0.4;
  c.wta.beta2 = 0.3;
  c.wta.tol = 1e-6;
  c.wta.max_iter = 50000;
  return c;
}

static void test_halves(void **st) {
  (void)st;
  float phi[M * K], s[B * M], a[B * K], x[B * K], want[B * K], xw[B * K];
  setup(phi, s);
  nd_wta_result r;
  /* no flow: the LCA alone */
  nd_lcawta_config c = cfg(0, 0, 0, 0);
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  nd_lca_config lc = nd_lca_defaults();
  lc.threshold = ND_LCA_NONNEG;
  lc.lambda = 0.1f;
  lc.tol = 1e-7;
  lc.max_iter = 100000;
  nd_lca *l;
  assert_int_equal(nd_lca_create(&lc, phi, M, K, B, &l), ND_OK);
  nd_lca_result lr;
  assert_int_equal(nd_lca_solve(l, s, B, want, &lr), ND_OK);
  nd_lca_free(l);
  nd_assert_arrays_close(a, want, B * K, 1e-4, 0, "F = 0: the LCA");
  for (int i = 0; i < B * K; i++) assert_true(x[i] == 0);
  /* the LCA drives the circuit: x is LocallyConnectedWta's state for input a */
  c = cfg(0, 0, 1, 0);
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_OK);
  nd_assert_arrays_close(a, want, B * K, 1e-4, 0, "F21 = 1: the codes");
  assert_int_equal(nd_lcwta_solve(&c.wta, 2, want, B, K, xw, NULL, &r), ND_OK);
  nd_assert_arrays_close(x, xw, B * K, 1e-3, 1e-3, "F21 = 1: the circuit");
}

/* Full coupling (upstream's default flow): at the returned state
 *   a = max(phi^T s + F11 a + F12 x - (phi^T phi - I) a - lambda, 0)
 * (u at rest, Eq. 3.1 with the flow terms), computed here in double. */
static void test_coupled_fixed_point(void **st) {
  (void)st;
  float phi[M * K], s[B * M], a[B * K], x[B * K];
  setup(phi, s);
  nd_lcawta_config c = cfg(-0.1, 0.1, 0.1, -0.1);
  nd_wta_result r;
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  for (int q = 0; q < B; q++)
    for (int j = 0; j < K; j++) {
      double u = 0;
      for (int i = 0; i < M; i++) u += phi[i * K + j] * s[q * M + i];
      u += -0.1 * a[q * K + j] + 0.1 * x[q * K + j] + a[q * K + j];
      for (int l = 0; l < K; l++) {
        double g = 0;
        for (int i = 0; i < M; i++) g += phi[i * K + j] * phi[i * K + l];
        u -= g * a[q * K + l];
      }
      nd_assert_close(a[q * K + j], fmax(u - 0.1, 0), 1e-4, 0);
    }
}

static void test_bad(void **st) {
  (void)st;
  float phi[M * K], s[B * M], a[B * K], x[B * K];
  setup(phi, s);
  nd_wta_result r;
  nd_lcawta_config c = cfg(0, 0, 0, 0);
  c.halfwidth = K;
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_ERR_INVALID_ARG);
  c = cfg(NAN, 0, 0, 0);
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_ERR_INVALID_ARG);
  c = cfg(0, 0, 0, 0);
  c.lambda = -1;
  assert_int_equal(nd_lcawta_solve(&c, phi, M, K, s, B, a, x, &r), ND_ERR_INVALID_ARG);
  c = cfg(0, 0, 0, 0);
  assert_int_equal(nd_lcawta_solve(&c, NULL, M, K, s, B, a, x, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_lcawta_solve(&c, phi, 0, K, s, B, a, x, &r), ND_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_halves),
      cmocka_unit_test(test_coupled_fixed_point),
      cmocka_unit_test(test_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
