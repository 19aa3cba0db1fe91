/* Adaptive Dormand-Prince 5(4) (include/neurodyn/dynamics.h) against exact
 * solutions: the order of the 5th-order solution on a linear ODE (fitted
 * slope of log error against log h), the harmonic oscillator, the global
 * error against rtol/atol, rejected steps, FSAL f-call counts, dense output,
 * backward integration, the steady-state and observer stops, and errors. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/dynamics.h"

/* ---- y' = A y, A = [[-a, w], [-w, -a]] (plus y3' = -2 y3): a damped
 * rotation, y(t) = e^{-a t} R(-w t) y0 exactly ---- */
typedef struct lin_ctx {
  double a, w;
  int64_t calls;
} lin_ctx;

static nd_status lin_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  lin_ctx *c = user;
  c->calls++;
  dy[0] = (float)(-c->a * y[0] + c->w * y[1]);
  dy[1] = (float)(-c->w * y[0] - c->a * y[1]);
  dy[2] = (float)(-2.0 * y[2]);
  return ND_OK;
}

static void lin_exact(const lin_ctx *c, const double *y0, double t, double *y) {
  double e = exp(-c->a * t), cs = cos(c->w * t), sn = sin(c->w * t);
  y[0] = e * (cs * y0[0] + sn * y0[1]);
  y[1] = e * (-sn * y0[0] + cs * y0[1]);
  y[2] = exp(-2.0 * t) * y0[2];
}

/* max-norm error after n fixed steps of nd_dopri_step over [0, T] */
static double fixed_step_error(nd_dopri *dp, int n, double T) {
  lin_ctx c = {0.01, 4.0, 0};
  nd_system sys = {3, lin_rhs, &c};
  const double y0[3] = {1.0, 0.5, 1.0};
  float y[3] = {1.0f, 0.5f, 1.0f};
  double h = T / n, err;
  for (int i = 0; i < n; i++) nd_assert_ok(nd_dopri_step(dp, &sys, i * h, h, y, 1e-3, 1e-6, &err));
  assert_int_equal(c.calls, 7 * n);
  double ex[3], m = 0;
  lin_exact(&c, y0, T, ex);
  for (int i = 0; i < 3; i++) m = fmax(m, fabs(y[i] - ex[i]));
  return m;
}

/* Error of the 5th-order solution with fixed steps scales as h^5: the
 * least-squares slope of log(err) on log(h) over 5 halvings. */
static void test_order_five(void **state) {
  (void)state;
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(3, false, &dp));
  const int ns[5] = {600, 700, 800, 900, 1000};
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int k = 0; k < 5; k++) {
    double e = fixed_step_error(dp, ns[k], 50.0), lx = log(50.0 / ns[k]), ly = log(e);
    print_message("dopri fixed step h = %.4f: max error %.3e\n", 50.0 / ns[k], e);
    assert_true(e > 1e-5); /* well above float32 round-off, so the slope is the method's */
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  double slope = (5 * sxy - sx * sy) / (5 * sxx - sx * sx);
  print_message("dopri fitted order %.3f\n", slope);
  assert_true(slope > 4.7 && slope < 5.5);
  nd_dopri_free(dp);
}

/* ---- harmonic oscillator x' = v, v' = -w^2 x, exact x = cos wt, v = -w sin wt ---- */
typedef struct osc_ctx {
  double w;
  int64_t calls;
} osc_ctx;

static nd_status osc_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  osc_ctx *c = user;
  c->calls++;
  dy[0] = y[1];
  dy[1] = (float)(-c->w * c->w * y[0]);
  return ND_OK;
}

static double osc_run(double rtol, double atol, double T, nd_dopri_result *r, int64_t *calls) {
  osc_ctx c = {2.0, 0};
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(2, false, &dp));
  nd_system sys = {2, osc_rhs, &c};
  float y[2] = {1.0f, 0.0f};
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = rtol;
  o.atol = atol;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, T, y, &o, r));
  nd_dopri_free(dp);
  assert_true(r->t == T);
  assert_int_equal(r->stop, ND_STOP_MAX_ITER);
  *calls = c.calls;
  return fmax(fabs(y[0] - cos(c.w * T)), fabs(y[1] + c.w * sin(c.w * T)) / c.w);
}

/* The global error at t = 10 (about 3 periods) shrinks with the tolerance
 * and stays within 15x of it (measured: 5-10x); f-calls = 2 + 6 (accepted + rejected). */
static void test_oscillator_tolerances(void **state) {
  (void)state;
  const double tols[4] = {1e-3, 1e-4, 1e-5, 1e-6};
  double prev = INFINITY;
  int64_t prev_steps = 0;
  for (int k = 0; k < 4; k++) {
    nd_dopri_result r;
    int64_t calls;
    double e = osc_run(tols[k], tols[k], 10.0, &r, &calls);
    print_message("dopri oscillator rtol = atol = %g: error %.3e, %lld steps, %lld rejected, %lld f-calls\n",
                  tols[k], e, (long long)r.steps, (long long)r.rejected, (long long)r.rhs_calls);
    assert_true(e < 15 * tols[k]);
    assert_true(e < prev);
    assert_true(r.steps > prev_steps);
    assert_int_equal(calls, r.rhs_calls);
    assert_int_equal(r.rhs_calls, 2 + 6 * (r.steps + r.rejected));
    assert_true(r.err <= 1.0);
    nd_assert_close(r.residual, fmax(2.0 * fabs(sin(20.0)), 4.0 * fabs(cos(20.0))), 120 * tols[k], 0); /* max|f| at t = 10 */
    prev = e;
    prev_steps = r.steps;
  }
}

/* A too-large first step (h0 = 1 on y' = -50 y) is rejected and counted; the
 * run still reaches the exact e^{-50 t} within tolerance. */
typedef struct fast_ctx {
  int64_t calls;
} fast_ctx;
static nd_status fast_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  ((fast_ctx *)user)->calls++;
  dy[0] = -50.0f * y[0];
  dy[1] = (float)cos(t); /* y1 = sin t */
  return ND_OK;
}

static void test_rejections(void **state) {
  (void)state;
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(2, false, &dp));
  fast_ctx c = {0};
  nd_system sys = {2, fast_rhs, &c};
  float y[2] = {1.0f, 0.0f};
  nd_dopri_opts o = nd_dopri_defaults();
  o.h0 = 1.0;
  o.rtol = 1e-5;
  o.atol = 1e-7;
  nd_dopri_result r;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 1.0, y, &o, &r));
  print_message("dopri h0 = 1 on y' = -50 y: %lld steps, %lld rejected\n", (long long)r.steps, (long long)r.rejected);
  assert_true(r.rejected >= 1);
  assert_int_equal(r.rhs_calls, 1 + 6 * (r.steps + r.rejected)); /* h0 given: no starting-step f-call */
  assert_int_equal(c.calls, r.rhs_calls);
  nd_assert_close(y[0], exp(-50.0), 1e-6, 0);
  nd_assert_close(y[1], sin(1.0), 1e-5, 0);
  /* the step budget counts attempts: with 2 the run stops early, reported */
  o.max_steps = 2;
  y[0] = 1.0f, y[1] = 0.0f;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 1.0, y, &o, &r));
  assert_int_equal(r.steps + r.rejected, 2);
  assert_int_equal(r.stop, ND_STOP_MAX_ITER);
  assert_true(r.t < 1.0);
  nd_dopri_free(dp);
}

/* ---- dense output: called from the observer at the middle of each step ---- */
typedef struct dense_ctx {
  nd_dopri *dp;
  double t_prev, w, worst;
  int64_t n;
} dense_ctx;

static int dense_obs(int64_t step, double t, const float *y, void *user) {
  (void)y;
  dense_ctx *d = user;
  if (step > 0) {
    double tm = 0.5 * (d->t_prev + t);
    float ym[2];
    if (nd_dopri_dense(d->dp, tm, ym) != ND_OK) return 1;
    d->worst = fmax(d->worst, fabs(ym[0] - cos(d->w * tm)));
    d->n++;
  }
  d->t_prev = t;
  return 0;
}

static void test_dense_output(void **state) {
  (void)state;
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(2, true, &dp));
  osc_ctx c = {2.0, 0};
  nd_system sys = {2, osc_rhs, &c};
  float y[2] = {1.0f, 0.0f}, out[2];
  assert_int_equal(nd_dopri_dense(dp, 0.0, out), ND_ERR_INVALID_ARG); /* no step yet */
  dense_ctx d = {dp, 0, 2.0, 0, 0};
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = o.atol = 1e-6;
  o.observer = dense_obs;
  o.observer_user = &d;
  nd_dopri_result r;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 5.0, y, &o, &r));
  assert_int_equal(d.n, r.steps);
  print_message("dopri dense output at step midpoints: worst error %.3e over %lld steps\n", d.worst, (long long)d.n);
  assert_true(d.worst < 3e-5);
  /* the ends of the last step are the stored states */
  nd_assert_ok(nd_dopri_dense(dp, 5.0, out));
  nd_assert_close(out[0], y[0], 1e-6, 0);
  assert_int_equal(nd_dopri_dense(dp, 5.5, out), ND_ERR_INVALID_ARG);
  nd_dopri_free(dp);
}

/* Backwards from t = 1 to 0 on y' = -2 y3 (third component of lin). */
static void test_backward(void **state) {
  (void)state;
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(8, false, &dp)); /* larger than the system: fine */
  lin_ctx c = {0.3, 4.0, 0};
  nd_system sys = {3, lin_rhs, &c};
  const double y1[3] = {0.2, -0.4, 0.5};
  float y[3] = {0.2f, -0.4f, 0.5f};
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = 1e-6;
  o.atol = 1e-7;
  nd_dopri_result r;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 1.0, 0.0, y, &o, &r));
  assert_true(r.t == 0.0);
  double ex[3];
  lin_exact(&c, y1, -1.0, ex); /* y(0) = e^{-A} y(1) */
  for (int i = 0; i < 3; i++) nd_assert_close(y[i], ex[i], 2e-5, 1e-5);
  nd_dopri_free(dp);
}

static int stop_at_3(int64_t step, double t, const float *y, void *user) {
  (void)t, (void)y, (void)user;
  return step >= 3;
}

/* The steady-state stop on max|f| <= tol and the observer stop. */
static void test_stops(void **state) {
  (void)state;
  nd_dopri *dp;
  nd_assert_ok(nd_dopri_create(3, false, &dp));
  lin_ctx c = {0.3, 4.0, 0};
  nd_system sys = {3, lin_rhs, &c};
  float y[3] = {1, 1, 1};
  nd_dopri_opts o = nd_dopri_defaults();
  o.tol = 1e-3;
  nd_dopri_result r;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 1000.0, y, &o, &r));
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  assert_true(r.residual <= 1e-3 && r.t < 1000.0);
  float dy[3];
  lin_rhs(0, y, dy, &c);
  nd_assert_close(fmax(fmax(fabs(dy[0]), fabs(dy[1])), fabs(dy[2])), r.residual, 1e-9, 1e-6);
  assert_string_equal(nd_stop_reason_name(r.stop), "tolerance");
  o = nd_dopri_defaults();
  o.observer = stop_at_3;
  y[0] = y[1] = y[2] = 1;
  nd_assert_ok(nd_dopri_integrate(dp, &sys, 0.0, 10.0, y, &o, &r));
  assert_int_equal(r.stop, ND_STOP_OBSERVER);
  assert_int_equal(r.steps, 3);
  nd_dopri_free(dp);
}

static nd_status nan_rhs(double t, const float *y, float *dy, void *user) {
  (void)t, (void)user;
  dy[0] = y[0] > 2 ? NAN : y[0] * y[0]; /* blows up at t = 1 from y(0) = 1 */
  return ND_OK;
}

static void test_errors(void **state) {
  (void)state;
  nd_dopri *dp;
  assert_int_equal(nd_dopri_create(0, false, &dp), ND_ERR_INVALID_ARG);
  assert_null(dp);
  nd_assert_ok(nd_dopri_create(3, false, &dp));
  lin_ctx c = {0.3, 4.0, 0};
  nd_system sys = {4, lin_rhs, &c};
  float y[4] = {1, 1, 1, 1};
  nd_dopri_result r;
  assert_int_equal(nd_dopri_integrate(dp, &sys, 0, 1, y, NULL, &r), ND_ERR_SHAPE);
  sys.dim = 3;
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = o.atol = 0;
  assert_int_equal(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, &r), ND_ERR_INVALID_ARG);
  o = nd_dopri_defaults();
  o.safety = 1.5;
  assert_int_equal(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_dopri_integrate(dp, &sys, 0, INFINITY, y, NULL, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_dopri_step(dp, &sys, 0, 0.0, y, 1e-3, 1e-6, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_dopri_dense(dp, 0.0, y), ND_ERR_INVALID_ARG); /* created without dense */
  /* y' = y^2 has a pole at t = 1: the step size collapses, reported */
  nd_system bad = {1, nan_rhs, NULL};
  y[0] = 1;
  o = nd_dopri_defaults();
  o.h_min = 1e-8;
  assert_int_equal(nd_dopri_integrate(dp, &bad, 0, 2, y, &o, &r), ND_ERR_NUMERIC);
  assert_int_equal(r.stop, ND_STOP_DIVERGED);
  assert_true(r.t < 1.0 && r.t > 0.4);
  nd_dopri_free(dp);
  nd_dopri_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_five),  cmocka_unit_test(test_oscillator_tolerances),
      cmocka_unit_test(test_rejections),  cmocka_unit_test(test_dense_output),
      cmocka_unit_test(test_backward),    cmocka_unit_test(test_stops),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
