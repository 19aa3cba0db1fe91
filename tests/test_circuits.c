/* WTA circuits (circuits.h) against the steady states the equations give in
 * closed form (Rutishauser, Douglas & Slotine 2011, Eq. 2.1-2.2) and against
 * a brute-force reference that forms every neighbourhood explicitly. */
#include <math.h>
#include <stdlib.h>

#include <string.h>

#include "nd_test.h"
#include "neurodyn/circuits.h"

static nd_wta_config cfg(double alpha, double beta1, double beta2, double te, double ti) {
  nd_wta_config c = nd_wta_defaults();
  c.alpha = alpha;
  c.beta1 = beta1;
  c.beta2 = beta2;
  c.te = te;
  c.ti = ti;
  c.tol = 1e-6;
  c.max_iter = 20000;
  return c;
}

/* Losers decay to 0 as exp(-G t / tau): at the tolerance they are below
 * tol max|I| / G, so "active" is x_i > 1e-3. */
static int count_active(const float *x, int64_t n) {
  int k = 0;
  for (int64_t i = 0; i < n; i++) k += x[i] > 1e-3f;
  return k;
}

/* Inside the stable region (1 < alpha < 1 + beta1 beta2; here also alpha <
 * 2 sqrt(beta1 beta2) = 1.73) exactly one unit wins, whichever order.  Its
 * steady state: with x_j = 0 for the losers, G = 1 and both arguments of f
 * positive, Eq. 2.1-2.2 at rest read
 *   x_k = I_k + alpha x_k - beta1 y - Te,   y = beta2 x_k - Ti,
 * so x_k (1 - alpha + beta1 beta2) = I_k - Te + beta1 Ti, i.e.
 *   x_k = g (I_k - Te + beta1 Ti),  g = 1 / (1 - alpha + beta1 beta2)
 * (the gain of the paper's Sec. 2; here g = 1/0.55).  The losers stay at 0
 * because I_j - beta1 y - Te < 0 for them. */
static void test_wta_one_winner_gain(void **st) {
  (void)st;
  const double al = 1.2, b1 = 3, b2 = 0.25, te = 0.05, ti = 0.1, g = 1 / (1 - al + b1 * b2);
  const float in[3][4] = {{1, 0.1f, 0.68f, 0.7f}, {0.5f, 0.9f, 0.88f, 0.2f}, {0.2f, 0.98f, 0.1f, 1.0f}};
  const int win[3] = {0, 1, 3};
  for (int o = 0; o < ND_WTA_ORDER_COUNT_; o++) {
    nd_wta_config c = cfg(al, b1, b2, te, ti);
    c.order = (nd_wta_order)o;
    float x[12], y[3];
    nd_wta_result r;
    assert_int_equal(nd_wta_solve(&c, &in[0][0], 3, 4, x, y, &r), ND_OK);
    assert_int_equal(r.stop, ND_STOP_TOLERANCE);
    assert_true(r.residual <= 1e-6);
    for (int b = 0; b < 3; b++) {
      assert_int_equal(count_active(x + 4 * b, 4), 1);
      double xk = g * (in[b][win[b]] - te + b1 * ti);
      nd_assert_close(x[4 * b + win[b]], xk, 1e-5, 1e-5);
      nd_assert_close(y[b], b2 * xk - ti, 1e-5, 1e-5);
    }
  }
}

/* The approach to the winner's rest state follows the linearisation: for
 * the winner-inhibitor pair J = (1/tau) [[alpha - 1, -beta1], [beta2, -1]]
 * (the losers' own mode -G/tau is faster), eigenvalues
 * lambda = (tr +- sqrt(tr^2 - 4 det)) / 2, tr = alpha - 2, det = 1 - alpha +
 * beta1 beta2; Euler multiplies the error by |1 + eta lambda| per step.  Here
 * tr^2 < 4 det (complex pair): |1 + eta lambda|^2 = (1 + eta tr/2)^2 +
 * eta^2 (det - tr^2/4).  The residual's decay over 200 steps matches it. */
static void test_wta_linear_rate(void **st) {
  (void)st;
  const float in[4] = {1, 0.1f, 0.68f, 0.7f};
  nd_wta_config c = cfg(1.2, 3, 0.25, 0, 0);
  c.tol = 1e-30;
  const double eta = c.dt / c.tau, tr = c.alpha - 2, det = 1 - c.alpha + c.beta1 * c.beta2;
  assert_true(tr * tr < 4 * det);
  const double want = sqrt(pow(1 + eta * tr / 2, 2) + eta * eta * (det - tr * tr / 4));
  double res[2];
  for (int k = 0; k < 2; k++) {
    float x[4];
    nd_wta_result r;
    c.max_iter = k ? 300 : 100;
    assert_int_equal(nd_wta_solve(&c, in, 1, 4, x, NULL, &r), ND_OK);
    res[k] = r.residual;
  }
  nd_assert_close(pow(res[1] / res[0], 1.0 / 200), want, 2e-3, 0);
}

/* The observer sees every step: its t-th state is the state a solve of
 * max_iter t returns; a non-zero return stops the solve there. */
typedef struct obs_log {
  int64_t calls, stop_at;
  float x[4], y;
} obs_log;

static int obs(int64_t iter, const float *x, const float *y, int64_t batch, void *user) {
  obs_log *l = user;
  assert_int_equal(batch, 1);
  assert_int_equal(iter, ++l->calls);
  memcpy(l->x, x, sizeof l->x);
  l->y = y[0];
  return iter == l->stop_at;
}

static void test_wta_observer(void **st) {
  (void)st;
  const float in[4] = {1, 0.1f, 0.68f, 0.7f};
  nd_wta_config c = cfg(1.2, 3, 0.25, 0, 0);
  obs_log l = {0, -1, {0}, 0};
  c.observer = obs, c.observer_user = &l;
  float x[4], y;
  nd_wta_result r;
  assert_int_equal(nd_wta_solve(&c, in, 1, 4, x, &y, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  assert_int_equal(l.calls, r.iterations); /* the last frame is the answer */
  assert_memory_equal(l.x, x, sizeof x);
  /* stopped by the observer after 37 steps = a solve of max_iter 37 */
  l = (obs_log){0, 37, {0}, 0};
  assert_int_equal(nd_wta_solve(&c, in, 1, 4, x, &y, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_OBSERVER);
  assert_int_equal(r.iterations, 37);
  nd_wta_config c37 = cfg(1.2, 3, 0.25, 0, 0);
  c37.max_iter = 37;
  float x37[4], y37;
  assert_int_equal(nd_wta_solve(&c37, in, 1, 4, x37, &y37, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_MAX_ITER);
  assert_memory_equal(x37, x, sizeof x);
  assert_memory_equal(l.x, x, sizeof x);
  assert_true(y37 == y && l.y == y);
}

/* alpha >= 1 + beta1 beta2: the winner-inhibitor pair has determinant
 * 1 - alpha + beta1 beta2 <= 0 (no positive steady state, a saddle):
 * the activity runs away, which the solver reports as diverged. */
static void test_wta_runaway(void **st) {
  (void)st;
  const float in[4] = {1, 0.1f, 0.68f, 0.7f};
  for (int k = 0; k < 2; k++) {
    nd_wta_config c = cfg(k ? 3.0 : 2.0, 3, 0.25, 0, 0);
    float x[4];
    nd_wta_result r;
    assert_int_equal(nd_wta_solve(&c, in, 1, 4, x, NULL, &r), ND_ERR_NUMERIC);
    assert_int_equal(r.stop, ND_STOP_DIVERGED);
    assert_true(r.iterations > 1 && r.iterations < c.max_iter);
  }
}

/* alpha < 1: no selection.  Two close inputs stay co-active; the rest state
 * with units 1, 2 on (G = 1, T = 0) solves
 *   (1 - alpha) x_i = I_i - beta1 y,  y = beta2 (x_1 + x_2)
 * so S = x_1 + x_2 = (I_1 + I_2) / (1 - alpha + 2 beta1 beta2): for
 * I = (1, 0.95, 0.2), alpha 0.5, beta1 3, beta2 0.25: S = 0.975,
 * y = 0.24375, x = (0.5375, 0.4375, 0) (0.2 - 3y < 0 keeps unit 3 off). */
static void test_wta_no_selection(void **st) {
  (void)st;
  const float in[3] = {1, 0.95f, 0.2f}, want[3] = {0.5375f, 0.4375f, 0};
  nd_wta_config c = cfg(0.5, 3, 0.25, 0, 0);
  float x[3], y;
  nd_wta_result r;
  assert_int_equal(nd_wta_solve(&c, in, 1, 3, x, &y, &r), ND_OK);
  assert_int_equal(r.stop, ND_STOP_TOLERANCE);
  nd_assert_arrays_close(x, want, 3, 1e-5, 0, "alpha < 1");
  nd_assert_close(y, 0.24375, 1e-5, 0);
  assert_int_equal(count_active(x, 3), 2);
}

/* Brute force: P[i, j] = 1 when j is in i's box (same channel unless across),
 * summed over j explicitly, in double. */
static void ref_pool(int C, int H, int W, int kh, int kw, bool across, const double *src, double *dst) {
  for (int c = 0; c < C; c++)
    for (int h = 0; h < H; h++)
      for (int w = 0; w < W; w++) {
        double s = 0;
        for (int c2 = 0; c2 < C; c2++)
          for (int h2 = 0; h2 < H; h2++)
            for (int w2 = 0; w2 < W; w2++)
              if ((across || c2 == c) && abs(h2 - h) <= kh / 2 && abs(w2 - w) <= kw / 2) s += src[(c2 * H + h2) * W + w2];
        dst[(c * H + h) * W + w] = s;
      }
}

/* `steps` Euler steps of the box circuit for one row, from 0. */
static void ref_solve(const nd_wta_config *c, int C, int H, int W, int kh, int kw, bool across, const float *in, int steps,
                      double *x) {
  const int n = C * H * W;
  const double eta = c->dt / c->tau;
  double *y = calloc((size_t)n, sizeof(double)), *q = calloc((size_t)n, sizeof(double));
  double *yn = calloc((size_t)n, sizeof(double));
  for (int i = 0; i < n; i++) x[i] = 0;
  for (int s = 0; s < steps; s++) {
    ref_pool(C, H, W, kh, kw, across, x, q);
    for (int i = 0; i < n; i++) yn[i] = y[i] + eta * (fmax(c->beta2 * q[i] - c->ti, 0) - c->g * y[i]);
    ref_pool(C, H, W, kh, kw, across, c->order == ND_WTA_UPSTREAM ? yn : y, q);
    for (int i = 0; i < n; i++) {
      x[i] += eta * (fmax(in[i] + c->alpha * x[i] - c->beta1 * q[i] - c->te, 0) - c->g * x[i]);
      y[i] = yn[i];
    }
  }
  free(y);
  free(q);
  free(yn);
}

static void rand_input(float *v, int n, unsigned seed) {
  srand(seed);
  for (int i = 0; i < n; i++) v[i] = (float)rand() / (float)RAND_MAX;
}

static void check_close(const float *got, const double *want, int n, double tol, const char *what) {
  for (int i = 0; i < n; i++)
    if (fabs(got[i] - want[i]) > tol * (1 + fabs(want[i]))) fail_msg("%s: element %d: %g, reference %g", what, i, got[i], want[i]);
}

/* LocallyConnectedWta equals the dense banded reference after a fixed number
 * of steps (tol tiny: no row stops early), for both orders, a band wider than
 * the line included, batched. */
static void test_lcwta_dense_reference(void **st) {
  (void)st;
  const int ns[4] = {23, 5, 40, 70}, ws[4] = {3, 4, 0, 20}, B = 3, steps = 150; /* w = 20: the running sum */
  for (int t = 0; t < 4; t++)
    for (int o = 0; o < 2; o++) {
      const int n = ns[t];
      nd_wta_config c = cfg(1.1, 0.4, 0.3, 0.01, 0.02);
      c.order = (nd_wta_order)o;
      c.tol = 1e-30;
      c.max_iter = steps;
      float *in = malloc(sizeof(float) * B * n), *x = malloc(sizeof(float) * B * n);
      double *want = malloc(sizeof(double) * n);
      rand_input(in, B * n, 7u + (unsigned)t);
      nd_wta_result r;
      assert_int_equal(nd_lcwta_solve(&c, ws[t], in, B, n, x, NULL, &r), ND_OK);
      assert_int_equal(r.iterations, steps);
      for (int b = 0; b < B; b++) {
        ref_solve(&c, 1, 1, n, 1, 2 * ws[t] + 1, false, in + b * n, steps, want);
        check_close(x + b * n, want, n, 1e-4, "lcwta");
      }
      free(in);
      free(x);
      free(want);
    }
}

/* ConvWta on 2-D NCHW maps (3x3, 5x5, 3x5 within channels; 1x1, 1x3, 5x3 across) equals
 * the brute-force reference; on [B, 1, 1, n] with a 1 x (2w+1) kernel it is
 * LocallyConnectedWta with half-width w, bit for bit. */
static void test_convwta(void **st) {
  (void)st;
  const int C = 3, H = 5, W = 6, n = C * H * W, B = 2, steps = 120;
  const int kh[6] = {3, 1, 1, 5, 3, 5}, kw[6] = {3, 1, 3, 5, 5, 3}; /* 5-wide: the block passes of the box */
  const bool across[6] = {false, true, true, false, false, true};
  float in[B * n], x[B * n];
  double want[n];
  rand_input(in, B * n, 11);
  for (int t = 0; t < 6; t++) {
    nd_wta_config c = cfg(1.1, 0.5, 0.2, 0, 0);
    c.tol = 1e-30;
    c.max_iter = steps;
    nd_convwta_shape s = {B, C, H, W, kh[t], kw[t], across[t]};
    nd_wta_result r;
    assert_int_equal(nd_convwta_solve(&c, &s, in, x, NULL, &r), ND_OK);
    for (int b = 0; b < B; b++) {
      ref_solve(&c, C, H, W, kh[t], kw[t], across[t], in + b * n, steps, want);
      check_close(x + b * n, want, n, 1e-4, "convwta");
    }
  }
  /* 1-D: equal to lcwta */
  float x2[B * n], y1[B * n], y2[B * n];
  nd_wta_config c = cfg(1.2, 0.3, 0.3, 0, 0);
  nd_convwta_shape s = {B, 1, 1, n, 1, 7, false};
  nd_wta_result r1, r2;
  assert_int_equal(nd_convwta_solve(&c, &s, in, x, y1, &r1), ND_OK);
  assert_int_equal(nd_lcwta_solve(&c, 3, in, B, n, x2, y2, &r2), ND_OK);
  assert_int_equal(r1.iterations, r2.iterations);
  assert_memory_equal(x, x2, sizeof x);
  assert_memory_equal(y1, y2, sizeof y1);
}

static void test_bad_arguments(void **st) {
  (void)st;
  float in[8] = {1, 0, 0, 0, 0, 0, 0, 0}, x[8];
  nd_wta_config c = nd_wta_defaults();
  nd_wta_result r;
  assert_int_equal(nd_lcwta_solve(&c, 8, in, 1, 8, x, NULL, &r), ND_ERR_INVALID_ARG); /* halfwidth >= n */
  assert_int_equal(nd_lcwta_solve(&c, -1, in, 1, 8, x, NULL, &r), ND_ERR_INVALID_ARG);
  nd_convwta_shape s = {1, 1, 2, 4, 3, 3, false};
  assert_int_equal(nd_convwta_solve(&c, &s, in, x, NULL, &r), ND_ERR_INVALID_ARG); /* kernel taller than the map */
  s.kh = 1;
  s.kw = 2;
  assert_int_equal(nd_convwta_solve(&c, &s, in, x, NULL, &r), ND_ERR_INVALID_ARG); /* even */
  nd_wta_config bad = c;
  bad.tau = -1;
  assert_int_equal(nd_wta_solve(&bad, in, 1, 8, x, NULL, &r), ND_ERR_INVALID_ARG);
  bad = c;
  bad.dt = 2 * c.tau;
  assert_int_equal(nd_wta_config_check(&bad), ND_ERR_INVALID_ARG);
  in[3] = NAN;
  assert_int_equal(nd_wta_solve(&c, in, 1, 8, x, NULL, &r), ND_ERR_INVALID_ARG);
  nd_wta_order o;
  assert_int_equal(nd_wta_order_parse("gauss", &o), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_wta_order_parse("upstream", &o), ND_OK);
  assert_int_equal(o, ND_WTA_UPSTREAM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wta_one_winner_gain), cmocka_unit_test(test_wta_linear_rate), cmocka_unit_test(test_wta_runaway),
      cmocka_unit_test(test_wta_no_selection),    cmocka_unit_test(test_lcwta_dense_reference),
      cmocka_unit_test(test_wta_observer),
      cmocka_unit_test(test_convwta),             cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
