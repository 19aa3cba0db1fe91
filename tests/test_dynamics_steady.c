/* Steady-state solver, observers and the trajectory recorder
 * (include/neurodyn/dynamics.h): the analytic fixed point of a linear system
 * y* = -A^{-1} b, step counts predicted in closed form for y' = -l y, the
 * per-row relative test, non-finite detection, bit-identity with
 * nd_integrate (and with the Krotov-Hopfield hidden dynamics that use it),
 * observer chains and recorded frames against separate integrations. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/dynamics.h"
#include "neurodyn/krotov.h"

/* ---- linear system y' = A y + b_row, batched: state [rows, 3] ---- */
typedef struct lin_ctx {
  double A[3][3];
  double b[4][3];
  int64_t rows;
} lin_ctx;

static nd_status lin_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  const lin_ctx *c = user;
  for (int64_t r = 0; r < c->rows; r++)
    for (int i = 0; i < 3; i++) {
      double s = c->b[r][i];
      for (int j = 0; j < 3; j++) s += c->A[i][j] * y[r * 3 + j];
      dy[r * 3 + i] = (float)s;
    }
  return ND_OK;
}

/* x = M^{-1} v by Gaussian elimination with partial pivoting (double). */
static void solve3(const double M[3][3], const double *v, double *x) {
  double a[3][4];
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < 3; j++) a[i][j] = M[i][j];
    a[i][3] = v[i];
  }
  for (int c = 0; c < 3; c++) {
    int p = c;
    for (int r = c + 1; r < 3; r++)
      if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
    for (int j = 0; j < 4; j++) {
      double tmp = a[c][j];
      a[c][j] = a[p][j];
      a[p][j] = tmp;
    }
    for (int r = c + 1; r < 3; r++) {
      double f = a[r][c] / a[c][c];
      for (int j = c; j < 4; j++) a[r][j] -= f * a[c][j];
    }
  }
  for (int i = 2; i >= 0; i--) {
    double s = a[i][3];
    for (int j = i + 1; j < 3; j++) s -= a[i][j] * x[j];
    x[i] = s / a[i][i];
  }
}

static void test_linear_fixed_point(void **state) {
  (void)state;
  /* A = -(S + 0.5 I) with S symmetric positive definite plus a skew part:
   * every eigenvalue has real part <= -0.5, so y(t) -> -A^{-1} b */
  lin_ctx c = {{{-2.0, 0.3, 0.1}, {-0.5, -1.5, 0.2}, {0.1, -0.4, -1.0}},
               {{1.0, -2.0, 0.5}, {0.0, 3.0, -1.0}},
               2};
  for (int k = 0; k < 2; k++) {
    nd_steady *ss;
    nd_assert_ok(nd_steady_create((nd_integrator_kind)k, 6, &ss));
    assert_int_equal(nd_steady_dim(ss), 6);
    assert_non_null(nd_steady_integrator(ss));
    nd_system sys = {6, lin_rhs, &c};
    float y[6] = {0};
    nd_steady_opts o = nd_steady_defaults();
    o.dt = 0.05;
    o.t_max = 200;
    o.tol = 1e-5;
    o.rows = 2;
    double rr[2] = {-1, -1};
    o.row_residual = rr;
    nd_steady_result r;
    nd_assert_ok(nd_steady_solve(ss, &sys, y, &o, &r));
    assert_true(r.converged);
    assert_false(r.stopped);
    assert_true(r.residual <= 1e-5);
    assert_true(r.steps > 10 && r.t < 200);
    nd_assert_close(r.t, r.steps * 0.05, 1e-9, 0);
    assert_int_equal(r.rhs_calls, (int64_t)nd_integrator_stages((nd_integrator_kind)k) * r.steps + 1);
    assert_true(rr[0] <= 1e-5 && rr[1] <= 1e-5 && fmax(rr[0], rr[1]) == r.residual);
    for (int64_t row = 0; row < 2; row++) {
      double mb[3], ystar[3];
      for (int i = 0; i < 3; i++) mb[i] = -c.b[row][i];
      solve3(c.A, mb, ystar);
      /* |y - y*| = |A^{-1} f(y)| <= ||A^{-1}|| tol (about 2 tol here) + float rounding */
      for (int i = 0; i < 3; i++) nd_assert_close(y[row * 3 + i], ystar[i], 5e-5, 1e-6);
    }
    nd_steady_free(ss);
  }
}

/* ---- y' = -l y, one component ---- */
static nd_status decay1(double t, const float *y, float *dy, void *user) {
  (void)t;
  dy[0] = (float)(-*(const double *)user * y[0]);
  return ND_OK;
}

static void test_step_count_vs_tolerance(void **state) {
  (void)state;
  /* Euler: y_n = (1 - l dt)^n, rate l y_n; the RATE test passes first at
   * n = ceil(log(tol / l) / log(1 - l dt)); CHANGE (dt l y_{n-1}) one step
   * later at the tolerance scaled by dt. */
  const double l = 2.0, dt = 0.01;
  nd_steady *ss;
  nd_assert_ok(nd_steady_create(ND_INTEGRATOR_EULER, 1, &ss));
  nd_system sys = {1, decay1, (void *)&l};
  int64_t prev = -1;
  const double tols[4] = {1.3e-2, 1.3e-3, 1.3e-4, 1.3e-5};
  for (int k = 0; k < 4; k++) {
    float y = 1.0f;
    nd_steady_opts o = nd_steady_defaults();
    o.dt = dt;
    o.t_max = 1e3;
    o.tol = tols[k];
    nd_steady_result r;
    nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
    int64_t want = (int64_t)ceil(log(tols[k] / l) / log(1 - l * dt));
    print_message("tol %.3g: %lld steps (predicted %lld), residual %.4g\n", tols[k], (long long)r.steps,
                  (long long)want, r.residual);
    assert_true(r.converged);
    assert_int_equal(r.steps, want);
    assert_true(r.residual <= tols[k] && r.residual > tols[k] * (1 - l * dt) * 0.999);
    assert_int_equal(r.rhs_calls, r.steps + 1); /* the passing k1 is the residual: no extra call */
    /* ten times smaller tolerance: log(10) / -log(1 - l dt) = 114 more steps */
    if (prev >= 0) assert_true(r.steps - prev >= 113 && r.steps - prev <= 115);
    prev = r.steps;

    float z = 1.0f;
    o.metric = ND_STEADY_CHANGE;
    o.tol = tols[k] * dt;
    nd_assert_ok(nd_steady_solve(ss, &sys, &z, &o, &r));
    assert_true(r.converged);
    assert_int_equal(r.steps, want + 1);
    assert_true(r.residual <= o.tol);
    assert_int_equal(r.rhs_calls, r.steps);
  }
  /* caps: max_steps and t_max end the run unconverged, which is no error */
  float y = 1.0f;
  nd_steady_opts o = nd_steady_defaults();
  o.dt = dt;
  o.tol = 1e-12;
  o.max_steps = 7;
  nd_steady_result r;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_false(r.converged);
  assert_int_equal(r.steps, 7);
  nd_assert_close(y, pow(1 - l * dt, 7), 1e-6, 0);
  nd_assert_close(r.residual, l * y, 1e-7, 0);
  o.max_steps = 0;
  o.t_max = 0.255; /* 26 steps, the last one 0.005 */
  y = 1.0f;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_false(r.converged);
  assert_int_equal(r.steps, 26);
  nd_assert_close(r.t, 0.255, 0, 0);
  nd_assert_close(y, pow(1 - l * dt, 25) * (1 - l * 0.005), 1e-6, 0);
  /* no tolerance: runs to the cap; t_max = INFINITY with max_steps */
  o.tol = 0;
  o.t_max = INFINITY;
  o.max_steps = 1000;
  y = 1.0f;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_false(r.converged);
  assert_int_equal(r.steps, 1000);
  nd_assert_close(r.t, 10.0, 1e-9, 0);
  nd_steady_free(ss);
}

/* ---- y' = c_row - y: row targets of different scales ---- */
static nd_status relax(double t, const float *y, float *dy, void *user) {
  (void)t;
  (void)user;
  dy[0] = 0.5f * (1.0f - y[0]);    /* row 0: target 1, rate 0.5 */
  dy[1] = 2.0f * (1000.0f - y[1]); /* row 1: target 1000, rate 2 */
  return ND_OK;
}

static void test_relative_per_row(void **state) {
  (void)state;
  /* From y = 0: |f_0| = 0.5 e^(-t/2), |f_1| = 2000 e^(-2t).  Per row,
   * |f_b| <= rtol |y_b| with rtol = 1e-3 holds for row 1 from
   * t = ln(2001)/2 = 3.80 and for row 0 from t = 2 ln(501) = 12.43, so the run
   * stops at 12.43.  As one row the bound is rtol max|y| ~ 1 and row 1's rate
   * decides: it stops near 3.8 with row 0 still 15% away from its target. */
  nd_steady *ss;
  nd_assert_ok(nd_steady_create(ND_INTEGRATOR_RK4, 2, &ss));
  nd_system sys = {2, relax, NULL};
  nd_steady_opts o = nd_steady_defaults();
  o.dt = 0.01;
  o.tol = 0;
  o.rtol = 1e-3;
  o.rows = 2;
  double rr[2];
  o.row_residual = rr;
  float y[2] = {0, 0};
  nd_steady_result r;
  nd_assert_ok(nd_steady_solve(ss, &sys, y, &o, &r));
  assert_true(r.converged);
  nd_assert_close(r.t, 2 * log(501.0), 0.011, 0);
  assert_true(0.5 * fabs(1 - y[0]) <= 1e-3 * fabs(y[0]));
  nd_assert_close(rr[0], 0.5 * fabs(1 - y[0]), 1e-6, 1e-3);
  nd_assert_close(rr[1], 2.0 * fabs(1000 - y[1]), 1e-3, 1e-2);
  nd_assert_close(r.residual, fmax(rr[0], rr[1]), 0, 0);
  /* one row */
  float z[2] = {0, 0};
  o.rows = 0;
  o.row_residual = NULL;
  nd_steady_result r1;
  nd_assert_ok(nd_steady_solve(ss, &sys, z, &o, &r1));
  assert_true(r1.converged);
  nd_assert_close(r1.t, 0.5 * log(2001.0), 0.02, 0);
  assert_true(fabs(1 - z[0]) > 0.1);
  /* rows must divide the state */
  o.rows = 3;
  assert_int_equal(nd_steady_solve(ss, &sys, z, &o, &r1), ND_ERR_SHAPE);
  nd_steady_free(ss);
}

/* ---- non-finite ---- */
static nd_status blowup(double t, const float *y, float *dy, void *user) {
  (void)t;
  (void)user;
  dy[0] = y[0] * y[0]; /* y' = y^2: y = y0 / (1 - y0 t), infinite at t = 1/y0 */
  return ND_OK;
}

static nd_status nan_at_start(double t, const float *y, float *dy, void *user) {
  (void)t;
  (void)y;
  (void)user;
  dy[0] = NAN;
  return ND_OK;
}

static void test_non_finite(void **state) {
  (void)state;
  for (int m = 0; m < 2; m++) {
    nd_steady *ss;
    nd_assert_ok(nd_steady_create(ND_INTEGRATOR_EULER, 1, &ss));
    nd_system sys = {1, blowup, NULL};
    float y = 10.0f;
    nd_steady_opts o = nd_steady_defaults();
    o.dt = 0.1;
    o.t_max = 1e6; /* 1e7 steps if it did not stop */
    o.tol = 1e-6;
    o.metric = (nd_steady_metric)m;
    nd_steady_result r;
    assert_int_equal(nd_steady_solve(ss, &sys, &y, &o, &r), ND_ERR_NUMERIC);
    assert_non_null(strstr(nd_last_error(), "not finite"));
    assert_false(r.converged);
    assert_true(r.steps > 0 && r.steps < 20); /* stopped at once, not at t_max */
    assert_false(isfinite(r.residual));
    nd_system nan_sys = {1, nan_at_start, NULL};
    y = 1.0f;
    assert_int_equal(nd_steady_solve(ss, &nan_sys, &y, &o, &r), ND_ERR_NUMERIC);
    assert_true(r.steps <= 1);
    nd_steady_free(ss);
  }
}

/* ---- bit-identity with nd_integrate on a Krotov-style right-hand side ---- */
typedef struct inh_ctx {
  const float *cur;
  int64_t n, H;
  float w_inh, inv_tau;
} inh_ctx;

/* Krotov & Hopfield 2019, Eq. 8: tau dh/dt = I - w_inh (sum_nu r(h_nu) - r(h)) - h */
static nd_status inh_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  const inh_ctx *c = user;
  for (int64_t b = 0; b < c->n; b++) {
    const float *hb = y + b * c->H, *ib = c->cur + b * c->H;
    float *db = dy + b * c->H;
    float total = 0;
    /* the same pragmas as the model (src/models), so that the sum is
     * reduced in the same order */
#pragma omp simd reduction(+ : total)
    for (int64_t u = 0; u < c->H; u++) total += hb[u] > 0 ? hb[u] : 0.0f;
#pragma omp simd
    for (int64_t u = 0; u < c->H; u++) {
      float r = hb[u] > 0 ? hb[u] : 0.0f;
      db[u] = (ib[u] - c->w_inh * (total - r) - hb[u]) * c->inv_tau;
    }
  }
  return ND_OK;
}

static void test_same_as_integrate(void **state) {
  (void)state;
  enum { N = 5, H = 17 };
  float cur[N * H];
  nd_rng g;
  nd_rng_init(&g, 11);
  nd_rng_normal(&g, cur, N * H, 0.2f, 1.0f);
  inh_ctx c = {cur, N, H, 0.2f, 1.0f};
  nd_system sys = {N * H, inh_rhs, &c};
  const double tols[4] = {1e-4, 1e-2, 1e-9, 0.0}; /* converges; early; never (t_max); no test */
  for (int k = 0; k < 2; k++)
    for (int j = 0; j < 4; j++)
      for (int cap = 0; cap < 2; cap++) {
        nd_integrator *it;
        nd_steady *ss;
        nd_assert_ok(nd_integrator_create((nd_integrator_kind)k, N * H, &it));
        nd_assert_ok(nd_steady_create((nd_integrator_kind)k, N * H, &ss));
        float a[N * H] = {0}, b[N * H] = {0};
        nd_integrate_opts io = {NULL, NULL, tols[j], cap ? 37 : 0};
        nd_integrate_result ir;
        nd_assert_ok(nd_integrate(it, &sys, 0.0, 20.0, 0.05, a, &io, &ir));
        nd_steady_opts o = nd_steady_defaults();
        o.dt = 0.05;
        o.t_max = 20.0;
        o.tol = tols[j];
        o.max_steps = cap ? 37 : 0;
        o.rows = j == 0 ? N : 0; /* per-row or not: the same with rtol 0 */
        nd_steady_result r;
        nd_assert_ok(nd_steady_solve(ss, &sys, b, &o, &r));
        assert_memory_equal(a, b, sizeof a);
        assert_int_equal(r.steps, ir.steps);
        assert_true(r.t == ir.t && r.residual == ir.residual);
        assert_int_equal(r.converged, ir.converged);
        if (j == 0 && !cap) assert_true(r.converged && r.steps < 400);
        if (j == 2 && !cap) assert_true(!r.converged && r.steps == 400);
        nd_integrator_free(it);
        nd_steady_free(ss);
      }
}

/* ... and with the Krotov-Hopfield model's own hidden dynamics, which call
 * nd_integrate(it, sys, 0, t_max, dt, h, {tol}) today: the default steady
 * options with the model's dt, t_max and tol give the same h bit for bit. */
static void test_same_as_krotov_ode_hidden(void **state) {
  (void)state;
  nd_krotov_ode_config kc = nd_krotov_ode_defaults();
  kc.hidden = 23;
  kc.visible = 12;
  kc.batch = 6;
  kc.w_inh = 0.3;
  kc.init_std = 0.3;
  for (int k = 0; k < 2; k++) {
    kc.integrator = (nd_integrator_kind)k;
    nd_krotov_ode *m;
    nd_assert_ok(nd_krotov_ode_create(&kc, &m));
    float v[6 * 12], cur[6 * 23], want[6 * 23], got[6 * 23] = {0};
    nd_rng g;
    nd_rng_init(&g, 5);
    nd_rng_uniform(&g, v, 6 * 12, 0.0f, 1.0f);
    nd_krotov_ode_stats st;
    nd_assert_ok(nd_krotov_ode_hidden(m, v, 6, want, &st));
    nd_assert_ok(nd_krotov_ode_currents(m, v, 6, cur));
    inh_ctx c = {cur, 6, 23, (float)kc.w_inh, (float)(1.0 / kc.tau)};
    nd_system sys = {6 * 23, inh_rhs, &c};
    nd_steady *ss;
    nd_assert_ok(nd_steady_create(kc.integrator, 6 * 23, &ss));
    nd_steady_opts o = nd_steady_defaults();
    o.dt = kc.dt;
    o.t_max = kc.t_max;
    o.tol = kc.tol;
    nd_steady_result r;
    nd_assert_ok(nd_steady_solve(ss, &sys, got, &o, &r));
    print_message("%s: %lld steps, residual %.3g, converged %d\n", nd_integrator_name(kc.integrator),
                  (long long)r.steps, r.residual, r.converged);
    assert_true(r.steps > 5);
    assert_memory_equal(want, got, sizeof want);
    assert_int_equal(r.steps, st.steps);
    assert_true(r.residual == st.residual && r.t == st.t);
    assert_int_equal(r.converged, st.converged);
    nd_steady_free(ss);
    nd_krotov_ode_free(m);
  }
}

/* ---- observers and the trajectory recorder ---- */
typedef struct count_obs {
  int64_t calls, stop_at;
} count_obs;

static int counter(int64_t step, double t, const float *y, void *user) {
  (void)t;
  (void)y;
  count_obs *o = user;
  assert_int_equal(step, o->calls);
  o->calls++;
  return o->stop_at >= 0 && step >= o->stop_at;
}

static void test_observers_and_trajectory(void **state) {
  (void)state;
  const double l = 1.5;
  nd_system sys = {1, decay1, (void *)&l};
  /* a recorder every 10th of 100 RK4 steps, chained with a counter */
  float frames[11], big[8];
  double times[11];
  int64_t steps[11];
  nd_trajectory tr;
  nd_assert_ok(nd_trajectory_init(&tr, frames, times, 1, 11, 10));
  tr.steps = steps;
  count_obs cnt = {0, -1};
  nd_observer items[2] = {{nd_trajectory_observe, &tr}, {counter, &cnt}};
  nd_observer_list list = {items, 2};
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_RK4, 1, &it));
  float y = 2.0f;
  nd_integrate_opts io = {nd_observer_chain, &list, 0, 0};
  nd_integrate_result ir;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, 1.0, 0.01, &y, &io, &ir));
  assert_int_equal(ir.steps, 100);
  assert_int_equal(cnt.calls, 101);
  assert_int_equal(tr.count, 11);
  assert_int_equal(tr.dropped, 0);
  for (int k = 0; k < 11; k++) {
    /* frame k is the state after 10 k steps: integrate there on its own */
    float z = 2.0f;
    if (k > 0) nd_assert_ok(nd_integrate(it, &sys, 0.0, 0.1 * k, 0.01, &z, NULL, NULL));
    assert_true(frames[k] == z);
    nd_assert_close(times[k], 0.1 * k, 1e-12, 0);
    assert_int_equal(steps[k], 10 * k);
    nd_assert_close(frames[k], 2.0 * exp(-l * 0.1 * k), 1e-6, 0);
  }
  nd_integrator_free(it);

  /* on the steady solver: full buffer stops the run when asked; frames
   * beyond capacity are counted */
  nd_steady *ss;
  nd_assert_ok(nd_steady_create(ND_INTEGRATOR_EULER, 1, &ss));
  nd_trajectory tr2;
  nd_assert_ok(nd_trajectory_init(&tr2, big, NULL, 1, 8, 3));
  tr2.stop_when_full = true;
  nd_steady_opts o = nd_steady_defaults();
  o.observer = nd_trajectory_observe;
  o.observer_user = &tr2;
  o.tol = 1e-9;
  y = 1.0f;
  nd_steady_result r;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_true(r.stopped);
  assert_false(r.converged);
  assert_int_equal(tr2.count, 8);
  assert_int_equal(r.steps, 21); /* frames at steps 0, 3, ..., 21 */
  nd_assert_close(big[7], pow(1 - l * 0.01, 21), 1e-6, 0);
  nd_trajectory tr3;
  nd_assert_ok(nd_trajectory_init(&tr3, big, NULL, 1, 2, 5));
  o.observer_user = &tr3;
  o.max_steps = 50;
  y = 1.0f;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_false(r.stopped);
  assert_int_equal(r.steps, 50);
  assert_int_equal(tr3.count, 2);
  assert_int_equal(tr3.dropped, 9); /* steps 10, 15, ..., 50 */
  /* the counter's stop request on the steady solver */
  count_obs c2 = {0, 4};
  o.observer = counter;
  o.observer_user = &c2;
  y = 1.0f;
  nd_assert_ok(nd_steady_solve(ss, &sys, &y, &o, &r));
  assert_true(r.stopped);
  assert_int_equal(r.steps, 4);
  nd_assert_close(r.residual, l * y, 1e-7, 0); /* residual of the state returned */
  nd_steady_free(ss);
}

static void test_errors(void **state) {
  (void)state;
  nd_steady *ss = (nd_steady *)0x1;
  assert_int_equal(nd_steady_create(ND_INTEGRATOR_RK4, 0, &ss), ND_ERR_INVALID_ARG);
  assert_null(ss);
  assert_int_equal(nd_steady_create((nd_integrator_kind)5, 3, &ss), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_steady_create(ND_INTEGRATOR_RK4, 3, NULL), ND_ERR_INVALID_ARG);
  nd_assert_ok(nd_steady_create(ND_INTEGRATOR_RK4, 1, &ss));
  const double l = 1;
  nd_system sys = {1, decay1, (void *)&l};
  float y = 1;
  nd_steady_opts o = nd_steady_defaults();
  nd_steady_result r;
  assert_int_equal(nd_steady_solve(NULL, &sys, &y, &o, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_steady_solve(ss, NULL, &y, &o, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_steady_solve(ss, &sys, NULL, &o, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_steady_solve(ss, &sys, &y, NULL, &r), ND_ERR_INVALID_ARG);
  nd_system big = {2, decay1, (void *)&l};
  assert_int_equal(nd_steady_solve(ss, &big, &y, &o, &r), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "dim"));
  nd_system none = {1, NULL, NULL};
  assert_int_equal(nd_steady_solve(ss, &none, &y, &o, &r), ND_ERR_INVALID_ARG);
  nd_steady_opts bad = o;
  bad.dt = 0;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "dt"));
  bad.dt = -0.1;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  bad = o;
  bad.t_max = INFINITY;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "max_steps"));
  bad.t_max = 0;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  bad = o;
  bad.tol = NAN;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  bad = o;
  bad.metric = (nd_steady_metric)9;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_INVALID_ARG);
  bad = o;
  bad.rows = -2;
  assert_int_equal(nd_steady_solve(ss, &sys, &y, &bad, &r), ND_ERR_SHAPE);
  assert_true(y == 1.0f); /* nothing ran */
  assert_string_equal(nd_steady_metric_name(ND_STEADY_CHANGE), "change");
  assert_null(nd_steady_metric_name((nd_steady_metric)7));
  nd_trajectory tr;
  float buf[2];
  assert_int_equal(nd_trajectory_init(NULL, buf, NULL, 1, 2, 1), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_trajectory_init(&tr, NULL, NULL, 1, 2, 1), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_trajectory_init(&tr, buf, NULL, 0, 2, 1), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_trajectory_init(&tr, buf, NULL, 1, 2, 0), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_trajectory_init(&tr, buf, NULL, 1, -1, 1), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_observer_chain(0, 0, buf, NULL), 0);
  nd_steady_free(ss);
  nd_steady_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_fixed_point),
      cmocka_unit_test(test_step_count_vs_tolerance),
      cmocka_unit_test(test_relative_per_row),
      cmocka_unit_test(test_non_finite),
      cmocka_unit_test(test_same_as_integrate),
      cmocka_unit_test(test_same_as_krotov_ode_hidden),
      cmocka_unit_test(test_observers_and_trajectory),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
