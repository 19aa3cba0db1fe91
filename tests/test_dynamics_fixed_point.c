/* Fixed-point iteration and Anderson acceleration (include/neurodyn/dynamics.h)
 * on contractions with known fixed points: a linear x = A x + b (reference
 * solution (I - A) x = b by LAPACK dgesv, in float64), cos(c x) = x batched
 * (reference: Newton's method in float64), a nonlinear system
 * x = x* + A tanh(x - x*) whose fixed point x* is known by construction.
 * Anderson must take fewer iterations than plain iteration, and its
 * safeguards (Tikhonov term, restarts) must keep a rank-deficient history
 * from breaking the solve that breaks without them. */
#include "nd_test.h"

#include <lapacke.h>
#include <string.h>

#include "neurodyn/dynamics.h"

#define N 40

/* tridiagonal A, 0.49 beside the diagonal: ||A||_inf = 0.98, spectral radius 0.98 cos(pi/41) = 0.977 */
static double a_entry(int i, int j) { return j == i + 1 || j == i - 1 ? 0.49 : 0.0; }

typedef struct lin_ctx {
  int n;
  const float *b;
  int64_t calls;
} lin_ctx;

static nd_status lin_g(const float *x, float *gx, void *user) {
  lin_ctx *c = user;
  c->calls++;
  for (int i = 0; i < c->n; i++) {
    double s = c->b[i];
    for (int j = i - 1; j <= i + 1; j++)
      if (j >= 0 && j < c->n) s += a_entry(i, j) * x[j];
    gx[i] = (float)s;
  }
  return ND_OK;
}

static double max_diff(const float *x, const double *ref, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(x[i] - ref[i]));
  return m;
}

static void test_linear(void **state) {
  (void)state;
  float b[N];
  double M[N * N], xs[N];
  lapack_int piv[N];
  for (int i = 0; i < N; i++) {
    b[i] = (float)sin(0.7 * i + 0.3);
    xs[i] = b[i];
    for (int j = 0; j < N; j++) M[i * N + j] = (i == j) - a_entry(i, j);
  }
  assert_int_equal(LAPACKE_dgesv(LAPACK_ROW_MAJOR, N, 1, M, N, piv, xs, 1), 0); /* (I - A) x* = b */
  nd_fixed_point *fp;
  nd_assert_ok(nd_fixed_point_create(N, 8, 1, &fp));
  int64_t iters[2];
  for (int mode = 0; mode < 2; mode++) {
    lin_ctx c = {N, b, 0};
    nd_map map = {N, lin_g, &c};
    float x[N] = {0};
    nd_fixed_point_opts o = nd_fixed_point_defaults();
    o.m = mode ? 8 : 0;
    o.tol = 1e-7;
    nd_fixed_point_result r;
    nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
    double err = max_diff(x, xs, N);
    print_message("linear x = Ax + b, %s: %lld iterations, residual %.2e, change %.2e, %lld restarts, error %.2e\n",
                  mode ? "Anderson m = 8" : "plain", (long long)r.iterations, r.residual, r.change,
                  (long long)r.restarts, err);
    assert_int_equal(r.stop, ND_STOP_TOLERANCE);
    assert_int_equal(c.calls, r.iterations);
    assert_true(r.change <= 1e-7);
    /* plain: the a-posteriori bound of a contraction with q = 0.98 in the max-norm,
     * |x - x*| <= q/(1-q) |x_{k+1} - x_k| (<= 49 change ||x||_2), plus float32 round-off */
    double xn = 0;
    for (int i = 0; i < N; i++) xn += (double)x[i] * x[i];
    assert_true(err < (mode ? 2e-5 : 49 * r.change * sqrt(xn) + 1e-5));
    iters[mode] = r.iterations;
  }
  assert_true(3 * iters[1] < iters[0]); /* Anderson: fewer than a third of the iterations */
  nd_fixed_point_free(fp);
}

/* ---- batched: rows of 2, x_i = cos(c_i x_i) ---- */
static const double cs[6] = {1.0, 1.0, 0.8, 0.8, 1.2, 1.2};

static nd_status cos_g(const float *x, float *gx, void *user) {
  (void)user;
  for (int i = 0; i < 6; i++) gx[i] = (float)cos(cs[i] * x[i]);
  return ND_OK;
}

static double newton_cos(double c) {
  double x = 0.7;
  for (int k = 0; k < 50; k++) x -= (cos(c * x) - x) / (-c * sin(c * x) - 1);
  return x;
}

static void test_cos_batched(void **state) {
  (void)state;
  double ref[6];
  for (int i = 0; i < 6; i++) ref[i] = newton_cos(cs[i]);
  nd_assert_close(ref[0], 0.7390851332151607, 1e-15, 0); /* the Dottie number */
  nd_fixed_point *fp;
  nd_assert_ok(nd_fixed_point_create(6, 4, 3, &fp));
  int64_t iters[2];
  for (int mode = 0; mode < 2; mode++) {
    nd_map map = {6, cos_g, NULL};
    float x[6] = {0, 0.5f, 0, 1, 0, -0.5f};
    nd_fixed_point_opts o = nd_fixed_point_defaults();
    o.m = mode ? 2 : 0;
    o.rows = 3;
    nd_fixed_point_result r;
    nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
    print_message("cos(c x) = x, 3 rows, %s: %lld iterations, error %.2e\n", mode ? "Anderson m = 2" : "plain",
                  (long long)r.iterations, max_diff(x, ref, 6));
    assert_int_equal(r.stop, ND_STOP_TOLERANCE);
    assert_true(max_diff(x, ref, 6) < 5e-6);
    iters[mode] = r.iterations;
  }
  assert_true(2 * iters[1] < iters[0]);
  nd_fixed_point_free(fp);
}

/* ---- nonlinear x = x* + A tanh(x - x*): fixed point x* by construction ---- */
typedef struct tanh_ctx {
  double xs[N];
} tanh_ctx;

static nd_status tanh_g(const float *x, float *gx, void *user) {
  tanh_ctx *c = user;
  for (int i = 0; i < N; i++) {
    double s = c->xs[i];
    for (int j = i - 1; j <= i + 1; j++)
      if (j >= 0 && j < N) s += a_entry(i, j) * tanh(x[j] - c->xs[j]);
    gx[i] = (float)s;
  }
  return ND_OK;
}

static void test_nonlinear(void **state) {
  (void)state;
  tanh_ctx c;
  for (int i = 0; i < N; i++) c.xs[i] = 1.0 + 0.5 * cos(1.3 * i);
  nd_fixed_point *fp;
  nd_assert_ok(nd_fixed_point_create(N, 8, 1, &fp));
  int64_t iters[2];
  for (int mode = 0; mode < 2; mode++) {
    nd_map map = {N, tanh_g, &c};
    float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)(c.xs[i] + 2.0 * sin(0.9 * i)); /* far out, in tanh's flat part */
    nd_fixed_point_opts o = nd_fixed_point_defaults();
    o.m = mode ? 8 : 0;
    nd_fixed_point_result r;
    nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
    double err = max_diff(x, c.xs, N);
    print_message("x = x* + A tanh(x - x*), %s: %lld iterations, %lld restarts, error %.2e\n",
                  mode ? "Anderson m = 8" : "plain", (long long)r.iterations, (long long)r.restarts, err);
    assert_int_equal(r.stop, ND_STOP_TOLERANCE);
    assert_true(err < 2e-5);
    iters[mode] = r.iterations;
  }
  assert_true(3 * iters[1] < iters[0]);
  nd_fixed_point_free(fp);
}

/* ---- safeguards: a one-dimensional state with memory 3 makes every history
 * of two or more columns rank-deficient (dF is 1 x m_k) ---- */
static nd_status cos1_g(const float *x, float *gx, void *user) {
  (void)user;
  gx[0] = (float)cos(x[0]);
  return ND_OK;
}

static void test_safeguards(void **state) {
  (void)state;
  nd_fixed_point *fp;
  nd_assert_ok(nd_fixed_point_create(1, 3, 1, &fp));
  nd_map map = {1, cos1_g, NULL};
  nd_fixed_point_result r;
  /* without the Tikhonov term and the condition test the normal equations
   * are singular: a reported breakdown */
  nd_fixed_point_opts o = nd_fixed_point_defaults();
  o.m = 3;
  o.reg = 0;
  o.cond_max = INFINITY;
  o.restart_growth = INFINITY;
  float x[1] = {0};
  nd_status s = nd_fixed_point_solve(fp, &map, x, &o, &r);
  print_message("rank-deficient history, no safeguards: %s (%s) after %lld iterations\n", nd_status_str(s),
                nd_stop_reason_name(r.stop), (long long)r.iterations);
  assert_int_equal(s, ND_ERR_NUMERIC);
  assert_int_equal(r.stop, ND_STOP_DIVERGED);
  /* with the defaults: restarts, and the fixed point */
  o = nd_fixed_point_defaults();
  o.m = 3;
  x[0] = 0;
  nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
  print_message("rank-deficient history, defaults: %lld iterations, %lld restarts, x = %.8f\n",
                (long long)r.iterations, (long long)r.restarts, x[0]);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  assert_true(r.restarts >= 1);
  nd_assert_close(x[0], 0.7390851332151607, 2e-6, 0);
  /* the Tikhonov term alone (no condition test) also keeps it solvable */
  o.cond_max = INFINITY;
  x[0] = 0;
  nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  nd_assert_close(x[0], 0.7390851332151607, 2e-6, 0);
  nd_fixed_point_free(fp);
}

/* Restart on residual growth.  x = J x + 1 with J = 0.5 I + 2 (superdiagonal)
 * (10 x 10): spectral radius 0.5 but ||J|| = 2.5, so the residual of the
 * iteration rises for many steps before it falls.  With restart_growth = 10
 * the history is cleared when ||f|| passes 10x its best; the solve still
 * reaches x* = (I - J)^{-1} 1 (LAPACK dgesv, float64). */
#define NJ 10
static nd_status jordan_g(const float *x, float *gx, void *user) {
  (void)user;
  for (int i = 0; i < NJ; i++) gx[i] = (float)(0.5 * x[i] + (i + 1 < NJ ? 2.0 * x[i + 1] : 0.0) + 1.0);
  return ND_OK;
}

static void test_growth_restart(void **state) {
  (void)state;
  double M[NJ * NJ] = {0}, xs[NJ];
  lapack_int piv[NJ];
  for (int i = 0; i < NJ; i++) {
    xs[i] = 1;
    M[i * NJ + i] = 0.5;
    if (i + 1 < NJ) M[i * NJ + i + 1] = -2.0;
  }
  assert_int_equal(LAPACKE_dgesv(LAPACK_ROW_MAJOR, NJ, 1, M, NJ, piv, xs, 1), 0);
  nd_fixed_point *fp;
  nd_assert_ok(nd_fixed_point_create(NJ, 2, 1, &fp));
  nd_map map = {NJ, jordan_g, NULL};
  int64_t restarts[2];
  for (int mode = 0; mode < 2; mode++) {
    float x[NJ] = {0};
    nd_fixed_point_opts o = nd_fixed_point_defaults();
    o.m = 2;
    o.restart_growth = mode ? 10 : INFINITY;
    nd_fixed_point_result r;
    nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
    double err = 0, xm = 0;
    for (int i = 0; i < NJ; i++) err = fmax(err, fabs(x[i] - xs[i])), xm = fmax(xm, fabs(xs[i]));
    print_message("x = Jx + 1, m = 2, restart_growth %g: %lld iterations, %lld restarts, relative error %.2e\n",
                  o.restart_growth, (long long)r.iterations, (long long)r.restarts, err / xm);
    assert_int_equal(r.stop, ND_STOP_TOLERANCE);
    assert_true(err < 1e-4 * xm);
    restarts[mode] = r.restarts;
  }
  assert_int_equal(restarts[0], 0);
  assert_true(restarts[1] >= 1);
  nd_fixed_point_free(fp);
}

static int stop_at_4(int64_t step, double t, const float *y, void *user) {
  (void)t, (void)y, (void)user;
  return step >= 4;
}

static nd_status nan_g(const float *x, float *gx, void *user) {
  (void)user;
  gx[0] = x[0] > 10 ? NAN : 2 * x[0] + 1; /* expanding: runs away */
  return ND_OK;
}

static void test_stops_and_errors(void **state) {
  (void)state;
  nd_fixed_point *fp = (nd_fixed_point *)1;
  assert_int_equal(nd_fixed_point_create(0, 2, 1, &fp), ND_ERR_INVALID_ARG);
  assert_null(fp);
  assert_int_equal(nd_fixed_point_create(4, 65, 1, &fp), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_fixed_point_create(4, 2, 5, &fp), ND_ERR_INVALID_ARG);
  nd_assert_ok(nd_fixed_point_create(6, 2, 3, &fp));
  nd_map map = {6, cos_g, NULL};
  float x[6] = {0};
  nd_fixed_point_result r;
  nd_fixed_point_opts o = nd_fixed_point_defaults();
  o.m = 3; /* above m_max */
  assert_int_equal(nd_fixed_point_solve(fp, &map, x, &o, &r), ND_ERR_INVALID_ARG);
  o = nd_fixed_point_defaults();
  o.m = 2;
  o.rows = 4; /* does not divide 6 */
  assert_int_equal(nd_fixed_point_solve(fp, &map, x, &o, &r), ND_ERR_SHAPE);
  o.rows = 3;
  o.beta = 0;
  assert_int_equal(nd_fixed_point_solve(fp, &map, x, &o, &r), ND_ERR_INVALID_ARG);
  o.beta = 1;
  o.max_iter = 3;
  nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
  assert_int_equal(r.stop, ND_STOP_MAX_ITER);
  assert_int_equal(r.iterations, 3);
  o.max_iter = 1000;
  o.observer = stop_at_4;
  memset(x, 0, sizeof x);
  nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
  assert_int_equal(r.stop, ND_STOP_OBSERVER);
  assert_int_equal(r.iterations, 4);
  /* damping beta = 0.5 converges to the same point */
  o = nd_fixed_point_defaults();
  o.m = 0;
  o.beta = 0.5;
  o.rows = 3;
  memset(x, 0, sizeof x);
  nd_assert_ok(nd_fixed_point_solve(fp, &map, x, &o, &r));
  nd_assert_close(x[0], 0.7390851332151607, 3e-6, 0);
  nd_map bad = {1, nan_g, NULL};
  x[0] = 1;
  o = nd_fixed_point_defaults();
  o.m = 0;
  assert_int_equal(nd_fixed_point_solve(fp, &bad, x, &o, &r), ND_ERR_NUMERIC);
  assert_int_equal(r.stop, ND_STOP_DIVERGED);
  nd_fixed_point_free(fp);
  nd_fixed_point_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear),     cmocka_unit_test(test_cos_batched),
      cmocka_unit_test(test_nonlinear),  cmocka_unit_test(test_safeguards),
      cmocka_unit_test(test_growth_restart), cmocka_unit_test(test_stops_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
