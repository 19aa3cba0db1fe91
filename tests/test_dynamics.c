/* Integrators (include/neurodyn/dynamics.h) against analytic solutions:
 * exponential decay y' = -lambda y and the harmonic oscillator x'' = -w^2 x,
 * the measured order of convergence (error ratio when halving dt), the
 * tolerance stop, the observer, the last-step shortening and errors. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/dynamics.h"

/* ---- y'_i = -lambda_i y_i, several rates in one batched state ---- */
typedef struct decay_ctx {
  const double *lambda;
  int64_t calls;
} decay_ctx;

static nd_status decay_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  decay_ctx *c = user;
  c->calls++;
  for (int i = 0; i < 3; i++) dy[i] = (float)(-c->lambda[i] * y[i]);
  return ND_OK;
}

/* the same with two components */
static nd_status decay_rhs2(double t, const float *y, float *dy, void *user) {
  (void)t;
  decay_ctx *c = user;
  c->calls++;
  for (int i = 0; i < 2; i++) dy[i] = (float)(-c->lambda[i] * y[i]);
  return ND_OK;
}

/* ---- harmonic oscillator x' = v, v' = -w^2 x ---- */
static nd_status osc_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  double w2 = *(const double *)user;
  dy[0] = y[1];
  dy[1] = (float)(-w2 * y[0]);
  return ND_OK;
}

/* ---- time-dependent y' = cos(t) (exact y = sin t) ---- */
static nd_status cos_rhs(double t, const float *y, float *dy, void *user) {
  (void)y;
  (void)user;
  dy[0] = (float)cos(t);
  return ND_OK;
}

static double osc_error(nd_integrator_kind kind, double dt, double t1) {
  const double w = 1.3;
  double w2 = w * w;
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(kind, 2, &it));
  nd_system sys = {2, osc_rhs, &w2};
  float y[2] = {1.0f, 0.0f};
  nd_integrate_result r;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, t1, dt, y, NULL, &r));
  nd_integrator_free(it);
  assert_int_equal(r.steps, (int64_t)llround(t1 / dt));
  double ex = cos(w * t1), ev = -w * sin(w * t1);
  return fmax(fabs(y[0] - ex), fabs(y[1] - ev));
}

static void test_decay_euler_exact_recurrence(void **state) {
  (void)state;
  /* Euler on y' = -l y is y_n = (1 - l dt)^n y0 exactly (up to float rounding). */
  const double lambda[3] = {0.5, 1.0, 3.0};
  decay_ctx c = {lambda, 0};
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_EULER, 3, &it));
  nd_system sys = {3, decay_rhs, &c};
  float y[3] = {1, 2, -1};
  const double dt = 0.05;
  nd_integrate_result r;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 1.0, dt, y, NULL, &r));
  assert_int_equal(r.steps, 20);
  nd_assert_close(r.t, 1.0, 0, 0);
  assert_int_equal(c.calls, 21); /* 20 steps + the final residual */
  const double y0[3] = {1, 2, -1};
  for (int i = 0; i < 3; i++) {
    nd_assert_close(y[i], y0[i] * pow(1 - lambda[i] * dt, 20), 1e-6, 1e-5);
    /* and close to the exact solution to O(dt) */
    nd_assert_close(y[i], y0[i] * exp(-lambda[i]), 0.06, 0);
  }
  /* residual = max |f(t1, y)| */
  double m = 0;
  for (int i = 0; i < 3; i++) m = fmax(m, lambda[i] * fabs(y[i]));
  nd_assert_close(r.residual, m, 1e-6, 1e-5);
  nd_integrator_free(it);
}

static void test_decay_rk4_accuracy(void **state) {
  (void)state;
  const double lambda[3] = {0.5, 1.0, 3.0};
  decay_ctx c = {lambda, 0};
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_RK4, 3, &it));
  assert_int_equal(nd_integrator_kind_of(it), ND_INTEGRATOR_RK4);
  assert_int_equal(nd_integrator_dim(it), 3);
  nd_system sys = {3, decay_rhs, &c};
  float y[3] = {1, 2, -1};
  nd_integrate_result r;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 2.0, 0.05, y, NULL, &r));
  assert_int_equal(r.steps, 40);
  assert_int_equal(c.calls, 4 * 40 + 1);
  const double y0[3] = {1, 2, -1};
  for (int i = 0; i < 3; i++) nd_assert_close(y[i], y0[i] * exp(-2.0 * lambda[i]), 2e-6, 0);
  /* one RK4 step of y' = -l y is the degree-4 Taylor polynomial of e^(-l dt) */
  float z[3] = {1, 1, 1};
  const double h = 0.3;
  nd_assert_ok(nd_integrator_step(it, &sys, 0.0, h, z));
  for (int i = 0; i < 3; i++) {
    double x = -lambda[i] * h;
    nd_assert_close(z[i], 1 + x + x * x / 2 + x * x * x / 6 + x * x * x * x / 24, 1e-6, 0);
  }
  nd_integrator_free(it);
}

static void test_oscillator_and_order(void **state) {
  (void)state;
  /* errors against x = cos(wt), v = -w sin(wt) and the observed order
   * log2(err(dt) / err(dt/2)) */
  const double t1 = 6.0;
  double e1 = osc_error(ND_INTEGRATOR_EULER, 0.01, t1);
  double e2 = osc_error(ND_INTEGRATOR_EULER, 0.005, t1);
  double order_euler = log2(e1 / e2);
  print_message("euler: err(%.4g) = %.4g, err(%.4g) = %.4g, order %.3f\n", 0.01, e1, 0.005, e2, order_euler);
  assert_true(order_euler >= 0.9 && order_euler <= 1.1);

  double r1 = osc_error(ND_INTEGRATOR_RK4, 0.2, t1);
  double r2 = osc_error(ND_INTEGRATOR_RK4, 0.1, t1);
  double order_rk4 = log2(r1 / r2);
  print_message("rk4: err(%.4g) = %.4g, err(%.4g) = %.4g, order %.3f\n", 0.2, r1, 0.1, r2, order_rk4);
  assert_true(order_rk4 >= 3.7 && order_rk4 <= 4.3);
  /* RK4 is far more accurate than Euler at the same step */
  assert_true(osc_error(ND_INTEGRATOR_RK4, 0.01, t1) < 1e-4 * e1);
  assert_int_equal(nd_integrator_order(ND_INTEGRATOR_EULER), 1);
  assert_int_equal(nd_integrator_order(ND_INTEGRATOR_RK4), 4);
  assert_int_equal(nd_integrator_stages(ND_INTEGRATOR_RK4), 4);
}

static void test_time_dependent_and_last_step(void **state) {
  (void)state;
  /* y' = cos t from 0 to 1 with dt = 0.3: steps 0.3, 0.3, 0.3, 0.1 */
  for (int k = 0; k < 2; k++) {
    nd_integrator *it;
    nd_assert_ok(nd_integrator_create((nd_integrator_kind)k, 1, &it));
    nd_system sys = {1, cos_rhs, NULL};
    float y[1] = {0};
    nd_integrate_result r;
    nd_assert_ok(nd_integrate(it, &sys, 0.0, 1.0, 0.3, y, NULL, &r));
    assert_int_equal(r.steps, 4);
    nd_assert_close(r.t, 1.0, 0, 0);
    if (k == ND_INTEGRATOR_EULER) {
      double want = 0.3 * (cos(0.0) + cos(0.3) + cos(0.6)) + 0.1 * cos(0.9);
      nd_assert_close(y[0], want, 1e-6, 0);
    } else {
      /* RK4 on a pure quadrature is Simpson's rule per step */
      double want = 0, t = 0;
      const double hs[4] = {0.3, 0.3, 0.3, 0.1};
      for (int i = 0; i < 4; i++) {
        want += hs[i] / 6 * (cos(t) + 4 * cos(t + hs[i] / 2) + cos(t + hs[i]));
        t += hs[i];
      }
      nd_assert_close(y[0], want, 1e-6, 0);
      nd_assert_close(y[0], sin(1.0), 1e-4, 0);
    }
    /* backward in time from 1 to 0 subtracts sin(1) */
    double y_fwd = y[0];
    nd_assert_ok(nd_integrate(it, &sys, 1.0, 0.0, 0.01, y, NULL, &r));
    assert_int_equal(r.steps, 100);
    nd_assert_close(r.t, 0.0, 0, 0);
    nd_assert_close(y[0], y_fwd - sin(1.0), k == 0 ? 1e-2 : 1e-5, 0);
    nd_integrator_free(it);
  }
}

typedef struct obs_ctx {
  int64_t calls, last_step, stop_at;
  double last_t;
} obs_ctx;

static int observer(int64_t step, double t, const float *y, void *user) {
  (void)y;
  obs_ctx *o = user;
  assert_int_equal(step, o->calls); /* 0, 1, 2, ... */
  o->calls++;
  o->last_step = step;
  o->last_t = t;
  return o->stop_at >= 0 && step >= o->stop_at;
}

static void test_tolerance_observer_max_steps(void **state) {
  (void)state;
  const double lambda[3] = {1.0, 2.0, 4.0};
  decay_ctx c = {lambda, 0};
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_RK4, 3, &it));
  nd_system sys = {3, decay_rhs, &c};
  /* tolerance stop: max |f| = max l_i |y_i| <= 1e-3 */
  float y[3] = {1, 1, 1};
  obs_ctx o = {0, -1, -1, 0};
  nd_integrate_opts opts = {observer, &o, 1e-3, 0};
  nd_integrate_result r;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 100.0, 0.05, y, &opts, &r));
  assert_true(r.converged);
  assert_false(r.stopped);
  assert_true(r.residual <= 1e-3);
  /* exact: l=1 component decays below 1e-3 at t = ln(1000) = 6.91 */
  nd_assert_close(r.t, 6.95, 0.051, 0);
  assert_int_equal(o.calls, r.steps + 1);
  nd_assert_close(o.last_t, r.t, 1e-12, 0);
  /* the residual of the state returned is what it claims */
  double m = 0;
  for (int i = 0; i < 3; i++) m = fmax(m, lambda[i] * fabs(y[i]));
  nd_assert_close(r.residual, m, 1e-9, 1e-5);

  /* observer stop after 7 steps */
  float z[3] = {1, 1, 1};
  obs_ctx o2 = {0, -1, 7, 0};
  nd_integrate_opts opts2 = {observer, &o2, 0, 0};
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 10.0, 0.1, z, &opts2, &r));
  assert_true(r.stopped);
  assert_false(r.converged);
  assert_int_equal(r.steps, 7);
  nd_assert_close(r.t, 0.7, 1e-12, 0);
  nd_assert_close(z[0], exp(-0.7), 1e-5, 0);

  /* max_steps */
  float w[3] = {1, 1, 1};
  nd_integrate_opts opts3 = {NULL, NULL, 0, 3};
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 10.0, 0.1, w, &opts3, &r));
  assert_int_equal(r.steps, 3);
  nd_assert_close(r.t, 0.3, 1e-12, 0);

  /* a smaller system on the same integrator (capacity 3): only y[0..2) moves */
  const double lam2[3] = {1.0, 2.0, 4.0};
  decay_ctx c2 = {lam2, 0};
  nd_system small = {2, decay_rhs2, &c2};
  float s2[3] = {1, 1, 123};
  nd_assert_ok(nd_integrate(it, &small, 0.0, 1.0, 0.1, s2, NULL, &r));
  nd_assert_close(s2[0], exp(-1.0), 1e-5, 0);
  nd_assert_close(s2[1], exp(-2.0), 1e-5, 0);
  assert_true(s2[2] == 123.0f);

  /* an empty interval takes no step and reports f(t0, y0) */
  float u[3] = {1, 1, 1};
  nd_assert_ok(nd_integrate(it, &sys, 2.0, 2.0, 0.1, u, NULL, &r));
  assert_int_equal(r.steps, 0);
  nd_assert_close(r.residual, 4.0, 0, 0);
  nd_integrator_free(it);
}

static nd_status nan_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  (void)user;
  dy[0] = y[0] * y[0] * 1e30f; /* blows up */
  return ND_OK;
}

static nd_status failing_rhs(double t, const float *y, float *dy, void *user) {
  (void)y;
  (void)dy;
  (void)user;
  if (t > 0.25) return ND_ERR_UNSUPPORTED;
  dy[0] = 0;
  return ND_OK;
}

static void test_errors(void **state) {
  (void)state;
  nd_integrator *it = (nd_integrator *)0x1;
  assert_int_equal(nd_integrator_create(ND_INTEGRATOR_RK4, 0, &it), ND_ERR_INVALID_ARG);
  assert_null(it);
  assert_int_equal(nd_integrator_create((nd_integrator_kind)7, 3, &it), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "kind"));
  nd_integrator_kind k;
  nd_assert_ok(nd_integrator_parse("rk4", &k));
  assert_int_equal(k, ND_INTEGRATOR_RK4);
  nd_assert_ok(nd_integrator_parse("euler", &k));
  assert_int_equal(k, ND_INTEGRATOR_EULER);
  assert_int_equal(nd_integrator_parse("rk45", &k), ND_ERR_INVALID_ARG);
  assert_null(nd_integrator_name((nd_integrator_kind)9));
  assert_string_equal(nd_stop_reason_name(ND_STOP_TOLERANCE), "tolerance");
  assert_string_equal(nd_stop_reason_name(ND_STOP_MAX_ITER), "max-iter");
  assert_string_equal(nd_stop_reason_name(ND_STOP_DIVERGED), "diverged");
  assert_null(nd_stop_reason_name(ND_STOP_COUNT_));
  assert_null(nd_stop_reason_name((nd_stop_reason)-1));

  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_EULER, 1, &it));
  float y[1] = {1};
  nd_system bad_dim = {2, cos_rhs, NULL};
  assert_int_equal(nd_integrator_step(it, &bad_dim, 0, 0.1, y), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "dim"));
  bad_dim.dim = 0;
  assert_int_equal(nd_integrator_step(it, &bad_dim, 0, 0.1, y), ND_ERR_SHAPE);
  nd_system no_rhs = {1, NULL, NULL};
  assert_int_equal(nd_integrate(it, &no_rhs, 0, 1, 0.1, y, NULL, NULL), ND_ERR_INVALID_ARG);
  nd_system ok = {1, cos_rhs, NULL};
  assert_int_equal(nd_integrate(it, &ok, 0, 1, 0.0, y, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_integrate(it, &ok, 0, INFINITY, 0.1, y, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_integrator_step(it, &ok, 0, NAN, y), ND_ERR_INVALID_ARG);
  nd_system blow = {1, nan_rhs, NULL};
  y[0] = 10;
  assert_int_equal(nd_integrate(it, &blow, 0, 1, 0.1, y, NULL, NULL), ND_ERR_NUMERIC);
  assert_non_null(strstr(nd_last_error(), "not finite"));
  /* a failing right-hand side aborts with its status */
  nd_system fails = {1, failing_rhs, NULL};
  y[0] = 0;
  nd_integrate_result r;
  assert_int_equal(nd_integrate(it, &fails, 0, 1, 0.1, y, NULL, &r), ND_ERR_UNSUPPORTED);
  nd_integrator_free(it);
  nd_integrator_free(NULL);
  assert_int_equal(nd_integrator_kind_of(NULL), ND_INTEGRATOR_COUNT_);
  assert_int_equal(nd_integrator_dim(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decay_euler_exact_recurrence),
      cmocka_unit_test(test_decay_rk4_accuracy),
      cmocka_unit_test(test_oscillator_and_order),
      cmocka_unit_test(test_time_dependent_and_last_step),
      cmocka_unit_test(test_tolerance_observer_max_steps),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
