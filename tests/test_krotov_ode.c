/* Krotov-Hopfield full model (include/neurodyn/krotov.h (part 2)): Lebesgue-p
 * currents vs a naive loop, the steady state of the hidden dynamics (Eq. 8)
 * vs the analytic fixed point (a 2-unit case by hand and random cases by
 * enumerating active sets), Euler vs RK4, the activity function g (Eq. 9),
 * one plasticity step (Eq. 3) vs a double-precision reference, the
 * normalisation of every row to the p-sphere of radius R, epochs and resume,
 * and errors. */
#include "nd_test.h"

#include <string.h>

/* Epochs done, through the status-returning getter. */
static int64_t epochs_done(const nd_krotov_ode *m) {
  nd_train_state st;
  nd_assert_ok(nd_krotov_ode_get_state(m, &st));
  return st.epoch;
}


static nd_krotov_ode_config small_config(int64_t hidden, int64_t visible, int64_t batch) {
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  c.hidden = hidden;
  c.visible = visible;
  c.batch = batch;
  c.w_inh = 0.5;
  c.h_star = 0.2;
  c.delta = 0.4;
  c.tau = 1.0;
  c.tau_L = 10.0;
  c.dt = 0.05;
  c.t_max = 60.0;
  c.tol = 1e-6;
  return c;
}

static void set_weights(nd_krotov_ode *m, const float *w, int64_t h, int64_t d) {
  nd_tensor t = nd_tensor_wrap((float *)w, 2, ND_SHAPE(h, d));
  nd_assert_ok(nd_krotov_ode_set_weights(m, &t));
}

/* Analytic fixed point of tau dh/dt = I - w (S - r(h)) - h for 0 <= w < 1:
 * the active set A is the top-m units by current for the m whose solution
 * is consistent; on A, (1-w) h_mu + w S = I_mu with S = sum_A h, so
 * S = sum_A I / (1 + w (m-1)), h_mu = (I_mu - w S) / (1 - w); off A,
 * h_nu = I_nu - w S <= 0. */
static void fixed_point_ref(const float *cur, int64_t H, double w, double *h) {
  int64_t order[64];
  for (int64_t i = 0; i < H; i++) order[i] = i;
  for (int64_t i = 0; i < H; i++)
    for (int64_t j = i + 1; j < H; j++)
      if (cur[order[j]] > cur[order[i]]) {
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
  for (int64_t m = 0; m <= H; m++) {
    double sum = 0;
    for (int64_t k = 0; k < m; k++) sum += cur[order[k]];
    double S = m ? sum / (1 + w * (double)(m - 1)) : 0;
    bool ok = true;
    for (int64_t k = 0; k < H; k++) {
      int64_t u = order[k];
      double hu = k < m ? (cur[u] - w * S) / (1 - w) : cur[u] - w * S;
      if ((k < m && !(hu > 0)) || (k >= m && hu > 0)) ok = false;
      h[u] = hu;
    }
    if (ok) return;
  }
  fail_msg("no consistent active set");
}

static void test_currents_vs_naive(void **state) {
  (void)state;
  const double ps[3] = {2.0, 3.0, 2.5};
  for (int k = 0; k < 3; k++) {
    nd_krotov_ode_config c = small_config(5, 7, 3);
    c.p = ps[k];
    c.init_std = 1.0;
    c.seed = 11 + (uint64_t)k;
    nd_krotov_ode *m;
    nd_assert_ok(nd_krotov_ode_create(&c, &m));
    float v[3 * 7];
    nd_rng r;
    nd_rng_init(&r, 5);
    nd_rng_normal(&r, v, 21, 0, 1);
    float cur[15], want[15];
    nd_assert_ok(nd_krotov_ode_currents(m, v, 3, cur));
    const float *w = nd_krotov_ode_weights(m)->data;
    for (int b = 0; b < 3; b++)
      for (int u = 0; u < 5; u++) {
        double s = 0;
        for (int i = 0; i < 7; i++) {
          double x = w[u * 7 + i];
          s += (x > 0 ? 1 : x < 0 ? -1 : 0) * pow(fabs(x), ps[k] - 1) * v[b * 7 + i]; /* <W_mu, v>_mu, Eq. 8 */
        }
        want[b * 5 + u] = (float)s;
      }
    nd_assert_arrays_close(cur, want, 15, 1e-5, 1e-5, "currents");
    nd_krotov_ode_free(m);
  }
}

static void test_steady_state_two_units_by_hand(void **state) {
  (void)state;
  /* p = 3: I_mu = sum_i sign(W)|W|^2 v_i.  W = [[1, 1], [sqrt .6, sqrt .3]],
   * v1 = (1, 0) -> I = (1, 0.6); v2 = (0, 1) -> I = (1, 0.3).  w_inh = 0.5:
   *   sample 1, both active: h1 = (1 - .5*.6)/(1 - .25) = 0.93333, h2 = (.6 - .5)/.75 = 0.13333
   *   sample 2, unit 2 silenced: h1 = 1, h2 = .3 - .5*1 = -0.2 */
  for (int k = 0; k < 2; k++) {
    nd_krotov_ode_config c = small_config(2, 2, 2);
    c.p = 3.0;
    c.integrator = (nd_integrator_kind)k;
    nd_krotov_ode *m;
    nd_assert_ok(nd_krotov_ode_create(&c, &m));
    const float w[4] = {1.0f, 1.0f, sqrtf(0.6f), sqrtf(0.3f)};
    set_weights(m, w, 2, 2);
    const float v[4] = {1, 0, 0, 1};
    float h[4];
    nd_krotov_ode_stats st;
    nd_assert_ok(nd_krotov_ode_hidden(m, v, 2, h, &st));
    const float want[4] = {0.7f / 0.75f, 0.1f / 0.75f, 1.0f, -0.2f};
    nd_assert_arrays_close(h, want, 4, 1e-5, 0, k ? "rk4 steady state" : "euler steady state");
    assert_true(st.converged);
    assert_true(st.residual <= 1e-6);
    assert_true(st.steps > 10 && st.steps < 1200);
    /* activity: 3 of 4 pairs active; g = 1 for 0.933 and 1, -delta for 0.133 (< h* = 0.2) */
    nd_assert_close(st.frac_active, 0.75, 0, 0);
    nd_assert_close(st.frac_hebb, 0.5, 0, 0);
    nd_assert_close(st.frac_anti, 0.25, 0, 0);
    nd_krotov_ode_free(m);
  }
}

static void test_steady_state_random_vs_active_sets(void **state) {
  (void)state;
  /* random currents; the integrator's steady state matches the enumerated
   * analytic fixed point, for several w_inh, in both integrators */
  const double ws[3] = {0.0, 0.3, 0.8};
  for (int wi = 0; wi < 3; wi++)
    for (int k = 0; k < 2; k++) {
      nd_krotov_ode_config c = small_config(8, 6, 5);
      c.w_inh = ws[wi];
      c.integrator = (nd_integrator_kind)k;
      c.init_std = 0.5;
      c.t_max = 200.0;
      c.dt = 0.05;
      c.tol = 3e-5; /* above the float32 floor ulp(h) / (2 dt) */
      c.seed = 100 + (uint64_t)wi;
      nd_krotov_ode *m;
      nd_assert_ok(nd_krotov_ode_create(&c, &m));
      float v[5 * 6], cur[5 * 8], h[5 * 8];
      nd_rng r;
      nd_rng_init(&r, 7 + (uint64_t)wi);
      nd_rng_uniform(&r, v, 30, -1, 1);
      nd_assert_ok(nd_krotov_ode_currents(m, v, 5, cur));
      nd_krotov_ode_stats st;
      nd_assert_ok(nd_krotov_ode_hidden(m, v, 5, h, &st));
      assert_true(st.converged);
      for (int b = 0; b < 5; b++) {
        double ref[8];
        float reff[8];
        fixed_point_ref(cur + b * 8, 8, ws[wi], ref);
        for (int u = 0; u < 8; u++) reff[u] = (float)ref[u];
        /* residual 3e-5 / slowest rate (1 - w = 0.2) bounds the distance */
        nd_assert_arrays_close(h + b * 8, reff, 8, 2e-4, 0, "steady state vs active-set fixed point");
      }
      nd_krotov_ode_free(m);
    }
}

static void test_euler_vs_rk4(void **state) {
  (void)state;
  /* same weights and inputs (a larger random case), both integrators run to
   * the steady state; they agree */
  float hs[2][4 * 30];
  for (int k = 0; k < 2; k++) {
    nd_krotov_ode_config c = small_config(30, 16, 4);
    c.w_inh = 0.6;
    c.integrator = (nd_integrator_kind)k;
    c.dt = k ? 0.1 : 0.05; /* m active units: Euler needs dt < 2/(1 + (m-1) w), RK4 about 2.8/(...) */
    c.t_max = 100;
    c.tol = 3e-5;
    c.init_std = 0.3;
    c.seed = 3;
    nd_krotov_ode *m;
    nd_assert_ok(nd_krotov_ode_create(&c, &m));
    float v[4 * 16];
    nd_rng r;
    nd_rng_init(&r, 9);
    nd_rng_uniform(&r, v, 64, 0, 1);
    nd_krotov_ode_stats st;
    nd_assert_ok(nd_krotov_ode_hidden(m, v, 4, hs[k], &st));
    assert_true(st.converged);
    print_message("%s: %lld steps to t = %.2f, residual %.2g, active %.3f\n", k ? "rk4" : "euler",
                  (long long)st.steps, st.t, st.residual, st.frac_active);
    nd_krotov_ode_free(m);
  }
  nd_assert_arrays_close(hs[0], hs[1], 4 * 30, 3e-4, 0, "euler vs rk4 steady state");
  /* a competitive case: some units active, some silenced */
  int act = 0;
  for (int i = 0; i < 4 * 30; i++) act += hs[1][i] > 0;
  assert_true(act > 0 && act < 4 * 30);
}

static void test_g_piecewise(void **state) {
  (void)state;
  /* Eq. 9: 1 for h >= h*, -delta for 0 < h < h*, 0 for h <= 0 */
  const float hs = 0.5f, d = 0.4f;
  assert_true(nd_krotov_ode_g(-3.0f, hs, d) == 0.0f);
  assert_true(nd_krotov_ode_g(-1e-6f, hs, d) == 0.0f);
  assert_true(nd_krotov_ode_g(0.0f, hs, d) == 0.0f);
  assert_true(nd_krotov_ode_g(1e-6f, hs, d) == -0.4f);
  assert_true(nd_krotov_ode_g(0.3f, hs, d) == -0.4f);
  assert_true(nd_krotov_ode_g(0.49999f, hs, d) == -0.4f);
  assert_true(nd_krotov_ode_g(0.5f, hs, d) == 1.0f);
  assert_true(nd_krotov_ode_g(7.0f, hs, d) == 1.0f);
  /* h* = 0: no anti-Hebbian band */
  assert_true(nd_krotov_ode_g(0.0f, 0.0f, d) == 0.0f);
  assert_true(nd_krotov_ode_g(1e-6f, 0.0f, d) == 1.0f);
  /* delta = 0 */
  assert_true(nd_krotov_ode_g(0.2f, hs, 0.0f) == 0.0f);
  assert_true(nd_krotov_ode_g(NAN, hs, d) == 0.0f);
}

static void test_plasticity_step_vs_reference(void **state) {
  (void)state;
  /* one minibatch = W + lr/tau_L * mean_b g(h_b) (R^p v_b - I_b W), computed
   * here in double from the model's own steady state and naive currents */
  const int H = 6, D = 9, B = 5;
  nd_krotov_ode_config c = small_config(H, D, B);
  c.p = 3.0;
  c.R = 1.5;
  c.w_inh = 0.3;
  c.h_star = 0.3;
  c.init_std = 0.6;
  c.seed = 21;
  nd_krotov_ode *m;
  nd_assert_ok(nd_krotov_ode_create(&c, &m));
  float v[5 * 9], h[5 * 6], w0[6 * 9], w1[6 * 9];
  nd_rng r;
  nd_rng_init(&r, 4);
  nd_rng_uniform(&r, v, B * D, -0.2f, 1.0f);
  memcpy(w0, nd_krotov_ode_weights(m)->data, sizeof w0);
  nd_assert_ok(nd_krotov_ode_hidden(m, v, B - 1, h, NULL)); /* a short batch: n = 4 */
  int nonzero = 0;
  for (int i = 0; i < (B - 1) * H; i++) nonzero += nd_krotov_ode_g(h[i], 0.3f, 0.4f) != 0;
  assert_true(nonzero > 0);
  const double lr = 0.7;
  nd_assert_ok(nd_krotov_ode_minibatch(m, v, B - 1, lr));
  double want[6 * 9];
  for (int u = 0; u < H; u++)
    for (int i = 0; i < D; i++) {
      double acc = 0;
      for (int b = 0; b < B - 1; b++) {
        double I = 0;
        for (int j = 0; j < D; j++) I += copysign(pow(fabs(w0[u * D + j]), 2.0), w0[u * D + j]) * v[b * D + j];
        double g = nd_krotov_ode_g(h[b * H + u], 0.3f, 0.4f);
        acc += g * (pow(1.5, 3.0) * v[b * D + i] - I * w0[u * D + i]); /* Eq. 3 */
      }
      want[u * D + i] = w0[u * D + i] + lr / c.tau_L * acc / (B - 1);
    }
  memcpy(w1, nd_krotov_ode_weights(m)->data, sizeof w1);
  float wantf[6 * 9];
  for (int i = 0; i < H * D; i++) wantf[i] = (float)want[i];
  nd_assert_arrays_close(w1, wantf, H * D, 1e-5, 1e-4, "Eq. 3 step");
  /* rows with g = 0 on every sample did not move */
  for (int u = 0; u < H; u++) {
    bool any = false;
    for (int b = 0; b < B - 1; b++) any = any || nd_krotov_ode_g(h[b * H + u], 0.3f, 0.4f) != 0;
    if (!any) assert_memory_equal(w1 + u * D, w0 + u * D, D * sizeof(float));
  }
  nd_krotov_ode_free(m);
}

static void spread(const double *x, int n, double R, double *max_dev) {
  *max_dev = 0;
  for (int i = 0; i < n; i++) *max_dev = fmax(*max_dev, fabs(x[i] / R - 1));
}

static void test_norms_converge_to_R(void **state) {
  (void)state;
  /* from random weights of very different norms, repeated plasticity steps
   * put every row on the p-sphere of radius R (the paper's normalisation:
   * d/dt sum|W|^p = p g I / tau_L (R^p - sum|W|^p)) */
  const double ps[2] = {2.0, 3.0};
  for (int k = 0; k < 2; k++) {
    const int H = 6, D = 10, B = 20, N = 200;
    nd_krotov_ode_config c = small_config(H, D, B);
    c.p = ps[k];
    c.R = 1.0;
    c.w_inh = 0.2;
    c.h_star = 0.05;
    c.delta = 0.4;
    c.tau_L = 10.0;
    c.dt = 0.2; /* RK4 is stable here up to about 2.8 / (1 + 5 * 0.2) */
    c.t_max = 30;
    c.tol = 1e-4;
    c.seed = 77;
    nd_krotov_ode *m;
    nd_assert_ok(nd_krotov_ode_create(&c, &m));
    /* rows scaled to norms 0.3 .. 2.5 */
    float w[6 * 10];
    nd_rng r;
    nd_rng_init(&r, 12);
    nd_rng_normal(&r, w, H * D, 0, 1);
    for (int u = 0; u < H; u++) {
      double s = 0;
      for (int i = 0; i < D; i++) s += pow(fabs(w[u * D + i]), c.p);
      double scale = (0.3 + 0.44 * u) / pow(s, 1 / c.p);
      for (int i = 0; i < D; i++) w[u * D + i] *= (float)scale;
    }
    set_weights(m, w, H, D);
    /* inputs: Gaussian, so every unit sees positive currents on some samples */
    static float data[200 * 10];
    nd_rng_normal(&r, data, N * D, 0, 1);
    double norms[6], dev0, dev;
    nd_krotov_ode_norms(m, norms);
    spread(norms, H, c.R, &dev0);
    /* learning-time steps 3 then 0.5 (an explicit step of size c biases the
     * norm up by O(c^2 (|v|^2 - I^2)), so the end uses small steps) */
    for (int e = 0; e < 24; e++) nd_assert_ok(nd_krotov_ode_epoch_lr(m, data, N, e < 16 ? 3.0 : 0.5, NULL, NULL));
    nd_krotov_ode_norms(m, norms);
    spread(norms, H, c.R, &dev);
    print_message("p = %g: max |norm/R - 1| %.3f -> %.4f (norms %.4f %.4f %.4f %.4f %.4f %.4f)\n", c.p, dev0, dev,
                  norms[0], norms[1], norms[2], norms[3], norms[4], norms[5]);
    assert_true(dev0 > 0.5);
    assert_true(dev < 0.02);
    /* naive p-norm of the returned weights agrees with nd_krotov_ode_norms */
    const float *wf = nd_krotov_ode_weights(m)->data;
    double s = 0;
    for (int i = 0; i < D; i++) s += pow(fabs(wf[i]), c.p);
    nd_assert_close(norms[0], pow(s, 1 / c.p), 1e-9, 1e-6);
    nd_krotov_ode_free(m);
  }
}

static void test_epoch_resume_and_determinism(void **state) {
  (void)state;
  const int H = 5, D = 8, B = 4, N = 18; /* 4 minibatches, remainder 2 skipped */
  nd_krotov_ode_config c = small_config(H, D, B);
  c.init_std = 0.5;
  c.dt = 0.1;
  c.tol = 1e-4;
  c.seed = 5;
  static float data[18 * 8];
  nd_rng r;
  nd_rng_init(&r, 1);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  nd_krotov_ode *a, *b;
  nd_assert_ok(nd_krotov_ode_create(&c, &a));
  nd_assert_ok(nd_krotov_ode_create(&c, &b));
  assert_memory_equal(nd_krotov_ode_weights(a)->data, nd_krotov_ode_weights(b)->data, H * D * sizeof(float));
  /* a: three epochs straight; b: one epoch, then a fresh model resumed from b's W and state */
  for (int e = 0; e < 3; e++) nd_assert_ok(nd_krotov_ode_epoch_lr(a, data, N, 1.0, NULL, NULL));
  nd_assert_ok(nd_krotov_ode_epoch_lr(b, data, N, 1.0, NULL, NULL));
  nd_train_state st;
    nd_assert_ok(nd_krotov_ode_get_state(b, &st));
  assert_int_equal(st.epoch, 1);
  nd_krotov_ode *c2;
  nd_krotov_ode_config cc = c;
  cc.seed = 999; /* different init and stream: everything comes from the checkpoint */
  nd_assert_ok(nd_krotov_ode_create(&cc, &c2));
  nd_assert_ok(nd_krotov_ode_set_weights(c2, nd_krotov_ode_weights(b)));
  nd_assert_ok(nd_krotov_ode_set_state(c2, &st));
  for (int e = 0; e < 2; e++) nd_assert_ok(nd_krotov_ode_epoch_lr(c2, data, N, 1.0, NULL, NULL));
  assert_int_equal(epochs_done(c2), 3);
  assert_memory_equal(nd_krotov_ode_weights(a)->data, nd_krotov_ode_weights(c2)->data, H * D * sizeof(float));
  /* and the weights did move */
  nd_krotov_ode *fresh;
  nd_assert_ok(nd_krotov_ode_create(&c, &fresh));
  assert_memory_not_equal(nd_krotov_ode_weights(a)->data, nd_krotov_ode_weights(fresh)->data, H * D * sizeof(float));
  nd_krotov_ode_free(a);
  nd_krotov_ode_free(b);
  nd_krotov_ode_free(c2);
  nd_krotov_ode_free(fresh);
}

static void test_errors(void **state) {
  (void)state;
  nd_krotov_ode *m = (nd_krotov_ode *)0x1;
  nd_krotov_ode_config c = small_config(3, 4, 2);
  c.tau = 0;
  assert_int_equal(nd_krotov_ode_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  assert_non_null(strstr(nd_last_error(), "tau"));
  c = small_config(3, 4, 2);
  c.p = 0.5;
  assert_int_equal(nd_krotov_ode_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "p = "));
  c = small_config(3, 4, 2);
  c.w_inh = -1;
  assert_int_equal(nd_krotov_ode_create(&c, &m), ND_ERR_INVALID_ARG);
  c = small_config(3, 4, 2);
  c.integrator = (nd_integrator_kind)5;
  assert_int_equal(nd_krotov_ode_create(&c, &m), ND_ERR_INVALID_ARG);
  c = small_config(3, 4, 2);
  c.dt = 0;
  assert_int_equal(nd_krotov_ode_create(&c, &m), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "dt"));
  assert_int_equal(nd_krotov_ode_create(NULL, &m), ND_ERR_INVALID_ARG);

  c = small_config(3, 4, 2);
  nd_assert_ok(nd_krotov_ode_create(&c, &m));
  float v[3 * 4] = {0}, h[3 * 3];
  assert_int_equal(nd_krotov_ode_minibatch(m, v, 3, 1.0), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "batch"));
  assert_int_equal(nd_krotov_ode_hidden(m, v, 0, h, NULL), ND_ERR_SHAPE);
  assert_int_equal(nd_krotov_ode_minibatch(m, v, 2, NAN), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_krotov_ode_epoch_lr(m, v, 1, 1.0, NULL, NULL), ND_ERR_SHAPE);
  float wbad[4 * 4] = {0};
  nd_tensor t = nd_tensor_wrap(wbad, 2, ND_SHAPE(4, 4));
  assert_int_equal(nd_krotov_ode_set_weights(m, &t), ND_ERR_SHAPE);
  nd_train_state st = {-1, 0, 0, 0};
  assert_int_equal(nd_krotov_ode_set_state(m, &st), ND_ERR_INVALID_ARG);
  nd_krotov_ode_free(m);

  /* an explicit step far beyond the stability limit blows up: reported, W unchanged */
  c = small_config(40, 4, 2);
  c.w_inh = 5.0;
  c.dt = 3.0; /* h <- -2h + ...: |h| doubles every step */
  c.t_max = 3000;
  c.integrator = ND_INTEGRATOR_EULER;
  c.init_std = 1.0;
  c.tol = 0;
  nd_assert_ok(nd_krotov_ode_create(&c, &m));
  float w0[40 * 4];
  memcpy(w0, nd_krotov_ode_weights(m)->data, sizeof w0);
  float vv[2 * 4] = {1, 1, 1, 1, 1, -1, 1, -1};
  assert_int_equal(nd_krotov_ode_minibatch(m, vv, 2, 1.0), ND_ERR_NUMERIC);
  assert_non_null(strstr(nd_last_error(), "Eq. 8"));
  assert_memory_equal(nd_krotov_ode_weights(m)->data, w0, sizeof w0);
  nd_krotov_ode_free(m);
  nd_krotov_ode_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_currents_vs_naive),
      cmocka_unit_test(test_steady_state_two_units_by_hand),
      cmocka_unit_test(test_steady_state_random_vs_active_sets),
      cmocka_unit_test(test_euler_vs_rk4),
      cmocka_unit_test(test_g_piecewise),
      cmocka_unit_test(test_plasticity_step_vs_reference),
      cmocka_unit_test(test_norms_converge_to_R),
      cmocka_unit_test(test_epoch_resume_and_determinism),
      cmocka_unit_test(test_errors),
  };
  const char *filter = getenv("ND_TEST_FILTER"); /* run a subset: ND_TEST_FILTER='test_g*' */
  if (filter) cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
