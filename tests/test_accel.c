/* Accelerated state updates (accel.h): every rule against numbers worked by
 * hand from the formulas in the header (x0 = 1, eta = 0.1). */
#include "nd_test.h"

static nd_accel *make(nd_accel_config c, int64_t rows, int64_t cols) {
  nd_accel *a = NULL;
  assert_int_equal(nd_accel_create(&c, rows, cols, &a), ND_OK);
  return a;
}

/* Two steps of one scalar with directions d1, d2; x after each in got[2]. */
static void two_steps(nd_accel_config c, float d1, float d2, float got[2]) {
  nd_accel *a = make(c, 1, 1);
  float x = 1.0f;
  assert_int_equal(nd_accel_step(a, &x, &d1, 1, 1, NULL), ND_OK);
  got[0] = x;
  assert_int_equal(nd_accel_step(a, &x, &d2, 1, 1, NULL), ND_OK);
  got[1] = x;
  nd_accel_free(a);
}

static nd_accel_config cfg(nd_accel_kind k) {
  nd_accel_config c = nd_accel_defaults(k);
  c.eta = 0.1;
  return c;
}

static void test_euler_momentum_nesterov(void **st) {
  (void)st;
  float g[2];
  two_steps(cfg(ND_ACCEL_EULER), 2, 2, g); /* 1 + 0.2, + 0.2 */
  nd_assert_close(g[0], 1.2, 1e-6, 0);
  nd_assert_close(g[1], 1.4, 1e-6, 0);
  nd_accel_config c = cfg(ND_ACCEL_MOMENTUM);
  c.mu = 0.5;
  two_steps(c, 2, 2, g); /* v = 2, x = 1.2; v = 0.5*2 + 2 = 3, x = 1.2 + 0.3 */
  nd_assert_close(g[0], 1.2, 1e-6, 0);
  nd_assert_close(g[1], 1.5, 1e-6, 0);
  c.kind = ND_ACCEL_NESTEROV; /* v = 2, x = 1 + 0.1 (2 + 0.5*2) = 1.3; v = 3, x = 1.3 + 0.1 (2 + 1.5) */
  two_steps(c, 2, 2, g);
  nd_assert_close(g[0], 1.3, 1e-6, 0);
  nd_assert_close(g[1], 1.65, 1e-6, 0);
}

static void test_fista_schedule(void **st) {
  (void)st;
  /* s1 = 1, s2 = (1+sqrt 5)/2 = 1.618034: mu1 = 0, x1 = 1.2, v1 = 2;
   * s3 = (1 + sqrt(1 + 4 s2^2))/2 = 2.193527, mu2 = 0.618034/2.193527 = 0.281754,
   * v2 = 0.281754*2 + 2 = 2.563508, x2 = 1.2 + 0.1 (2 + 0.281754*2.563508) = 1.472228 */
  nd_accel_config c = cfg(ND_ACCEL_NESTEROV);
  c.schedule = ND_ACCEL_MU_FISTA;
  float g[2];
  two_steps(c, 2, 2, g);
  nd_assert_close(g[0], 1.2, 1e-6, 0);
  nd_assert_close(g[1], 1.472228, 2e-6, 0);
}

static void test_restart(void **st) {
  (void)st;
  /* momentum 0.5, d = 2 then -1: v1 = 2, x1 = 1.2.  d2 v1 = -2 < 0, so v is
   * zeroed: v2 = -1, x2 = 1.1 (without restart v2 = 1 - 1 = 0, x2 = 1.2). */
  nd_accel_config c = cfg(ND_ACCEL_MOMENTUM);
  c.mu = 0.5;
  float g[2];
  two_steps(c, 2, -1, g);
  nd_assert_close(g[1], 1.2, 1e-6, 0);
  c.restart = true;
  two_steps(c, 2, -1, g);
  nd_assert_close(g[1], 1.1, 1e-6, 0);
}

static void test_rmsprop_adam(void **st) {
  (void)st;
  float g[2];
  nd_accel_config c = cfg(ND_ACCEL_RMSPROP);
  c.beta2 = 0.9; /* rho */
  c.eps = 0;
  two_steps(c, 2, 2, g); /* r = 0.1*4 = 0.4, x = 1 + 0.1*2/sqrt(0.4) = 1.316228 */
  nd_assert_close(g[0], 1.316228, 2e-6, 0);
  c = cfg(ND_ACCEL_ADAM);
  c.eps = 0;
  /* step 1: m^ = d, v^ = d^2, x = 1.1; step 2 (d = 1): m = 0.9*0.2 + 0.1 = 0.28,
   * m^ = 0.28/0.19 = 1.473684; v = 0.999*0.004 + 0.001 = 0.004996,
   * v^ = 0.004996/0.001999 = 2.499250, x = 1.1 + 0.1*1.473684/1.580902 = 1.193218 */
  two_steps(c, 2, 1, g);
  nd_assert_close(g[0], 1.1, 1e-6, 0);
  nd_assert_close(g[1], 1.193218, 2e-6, 0);
}

static void test_upstream(void **st) {
  (void)st;
  float g[2];
  /* upstream Adam (b1 0.65, b2 0.75): m = 0.35*2 = 0.7, v = 0.25*4 = 1,
   * x = 1 + (0.1/0.65) 0.7 / sqrt(1/0.75) = 1.093264 */
  two_steps(cfg(ND_ACCEL_UPSTREAM_ADAM), 2, 2, g);
  nd_assert_close(g[0], 1.093264, 2e-6, 0);
  /* upstream RMSProp (b 0.65, eps 0.3 as upstream's example): r = 0.35*4 = 1.4,
   * x = 1 + 0.1/(1.4 + 0.3) * 2 = 1.117647 (divides by r, not sqrt r) */
  nd_accel_config c = cfg(ND_ACCEL_UPSTREAM_RMSPROP);
  c.eps = 0.3;
  two_steps(c, 2, 2, g);
  nd_assert_close(g[0], 1.117647, 2e-6, 0);
}

static void test_rows_independent(void **st) {
  (void)st;
  /* Row 1 inactive in the first step: afterwards it must equal a fresh
   * single-row run that took one step. */
  nd_accel_config c = cfg(ND_ACCEL_ADAM);
  nd_accel *a = make(c, 2, 2);
  float x[4] = {1, 1, 1, 1}, d[4] = {2, -1, 2, -1};
  unsigned char act[2] = {1, 0};
  assert_int_equal(nd_accel_step(a, x, d, 2, 2, act), ND_OK);
  nd_assert_close(x[2], 1.0, 0, 0);
  assert_int_equal(nd_accel_step(a, x, d, 2, 2, NULL), ND_OK);
  float y[2] = {1, 1};
  nd_accel *b = make(c, 1, 2);
  assert_int_equal(nd_accel_step(b, y, d, 1, 2, NULL), ND_OK);
  nd_assert_close(x[2], y[0], 0, 0);
  nd_assert_close(x[3], y[1], 0, 0);
  assert_int_equal(nd_accel_reset(a), ND_OK);
  nd_accel_free(a);
  nd_accel_free(b);
}

static void test_names(void **st) {
  (void)st;
  for (int k = 0; k < ND_ACCEL_KIND_COUNT_; k++) {
    nd_accel_kind got;
    assert_int_equal(nd_accel_parse(nd_accel_name((nd_accel_kind)k), &got), ND_OK);
    assert_int_equal(got, k);
    nd_accel_config c = nd_accel_defaults((nd_accel_kind)k);
    assert_int_equal(nd_accel_config_check(&c), ND_OK);
  }
  nd_accel_config u = nd_accel_defaults(ND_ACCEL_UPSTREAM_ADAM);
  nd_assert_close(u.beta1, 0.65, 0, 0);
  nd_assert_close(u.beta2, 0.75, 0, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_euler_momentum_nesterov), cmocka_unit_test(test_fista_schedule),
      cmocka_unit_test(test_restart),                 cmocka_unit_test(test_rmsprop_adam),
      cmocka_unit_test(test_upstream),                cmocka_unit_test(test_rows_independent),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
