/* Spiking networks (include/neurodyn/snn.h) against closed forms derived
 * here, independently of the simulator:
 *   - LIF f-I curve under constant current (Dayan & Abbott 2001, Eq. 5.11,
 *     with the absolute refractory period added to the interval);
 *   - ALIF: the threshold's exponential decay after one spike, and the
 *     sequence of adapting interspike intervals from the continuous-time
 *     map (Bellec et al. 2018, Eq. 1-2);
 *   - the exponential-current PSP (the alpha-difference kernel);
 *   - the free membrane's Ornstein-Uhlenbeck standard deviation;
 *   - GEMM and event-driven recurrent input giving the same spikes;
 *   - the random connectivity's statistics, and bad arguments. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/snn.h"
#include "models/snn/snn_internal.h"

static nd_snn *make(const nd_snn_config *c) {
  nd_snn *net = NULL;
  nd_assert_ok(nd_snn_create(c, &net));
  return net;
}

/* spike times (ms) of neuron 0 of row b over `steps` steps with per-row drive */
typedef struct spikes {
  double t[4096];
  int n;
} spikes;

static void run_rows(nd_snn *net, int64_t steps, const float *drive, spikes *out) {
  const nd_snn_config *c = nd_snn_get_config(net);
  for (int64_t b = 0; b < c->batch; b++) out[b].n = 0;
  for (int64_t t = 0; t < steps; t++) {
    nd_assert_ok(nd_snn_step(net, NULL, drive));
    const float *z = nd_snn_spikes(net);
    for (int64_t b = 0; b < c->batch; b++)
      if (z[b * c->neurons] != 0 && out[b].n < 4096) out[b].t[out[b].n++] = (double)(t + 1) * c->dt_ms;
  }
}

/* f-I curve.  tau_m dV/dt = -(V - v_rest) + mu from V(0) = v_reset gives
 * V(t) = v_rest + mu + (v_reset - v_rest - mu) e^{-t/tau_m}, which reaches
 * v_th after T = tau_m ln((v_rest + mu - v_reset) / (v_rest + mu - v_th))
 * when v_rest + mu > v_th; with the refractory period the interval is
 * t_ref + T and the rate 1 / (t_ref + T) (Dayan & Abbott, "Theoretical
 * Neuroscience", 2001, Eq. 5.11; Gerstner et al., "Neuronal Dynamics", 2014,
 * Sect. 1.3).  Below threshold the rate is 0.  On a grid of dt the first
 * grid point at or past threshold fires, so every interval is within one dt
 * of the analytic one. */
static void test_lif_fi_curve(void **state) {
  (void)state;
  const float mu[] = {15, 19.9f, 21, 22, 25, 30, 40, 60, 100, 300};
  enum { NB = sizeof mu / sizeof mu[0] };
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1, c.batch = NB, c.dt_ms = 0.01;
  nd_snn *net = make(&c);
  spikes sp[NB];
  run_rows(net, 100000, mu, sp); /* 1 s */
  for (int b = 0; b < NB; b++) {
    double m = mu[b];
    if (c.v_rest + m <= c.v_th) {
      assert_int_equal(sp[b].n, 0);
      continue;
    }
    double T = c.tau_m_ms * log((c.v_rest + m - c.v_reset) / (c.v_rest + m - c.v_th)) + c.t_ref_ms;
    assert_true(sp[b].n >= 3);
    double mean = (sp[b].t[sp[b].n - 1] - sp[b].t[0]) / (sp[b].n - 1);
    for (int k = 1; k < sp[b].n; k++) nd_assert_close(sp[b].t[k] - sp[b].t[k - 1], T, 1.0001 * c.dt_ms, 0);
    nd_assert_close(1000.0 / mean, 1000.0 / T, 0, 1.0001 * c.dt_ms / T);
    /* the first spike starts from rest (V = v_rest), no refractory period;
     * 2 dt: at mu = 21 V creeps up by 5e-4 mV a step near threshold, so the
     * float32 rounding of 4800 steps (~1e-4 relative) can cost one step */
    nd_assert_close(sp[b].t[0], c.tau_m_ms * log(m / (m - c.v_th)), 2.0001 * c.dt_ms, 0);
  }
  nd_snn_free(net);
}

/* Reset by subtraction without refractoriness: V restarts from the overshoot
 * (< one step's rise), so the interval tends to tau_m ln(mu/(mu - v_th))
 * (v_rest = 0) as dt -> 0; within 2 dt. */
static void test_lif_subtract(void **state) {
  (void)state;
  const float mu[] = {25, 50};
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1, c.batch = 2, c.dt_ms = 0.01, c.t_ref_ms = 0, c.reset = ND_SNN_RESET_SUBTRACT;
  nd_snn *net = make(&c);
  spikes sp[2];
  run_rows(net, 50000, mu, sp);
  for (int b = 0; b < 2; b++) {
    double T = c.tau_m_ms * log(mu[b] / (mu[b] - c.v_th));
    assert_true(sp[b].n > 10);
    for (int k = 1; k < sp[b].n; k++) nd_assert_close(sp[b].t[k] - sp[b].t[k - 1], T, 2.0001 * c.dt_ms, 0);
  }
  nd_snn_free(net);
}

/* ALIF, one spike: a jumps to 1 and then decays as a(t) = e^{-t/tau_a}, so
 * the threshold is v_th + beta e^{-t/tau_a} (Bellec et al. 2018, Eq. 1-2
 * in continuous time). */
static void test_alif_decay(void **state) {
  (void)state;
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1, c.model = ND_SNN_ALIF, c.dt_ms = 0.5, c.tau_a_ms = 150, c.beta = 3;
  nd_snn *net = make(&c);
  float kick = 1e4f, none = 0;
  nd_assert_ok(nd_snn_step(net, NULL, &kick));
  assert_true(nd_snn_spikes(net)[0] == 1.0f);
  for (int k = 1; k <= 2000; k++) {
    nd_assert_ok(nd_snn_step(net, NULL, &none));
    assert_true(nd_snn_spikes(net)[0] == 0.0f);
    double t = k * c.dt_ms;
    nd_assert_close(c.v_th + c.beta * nd_snn_adaptation(net)[0], c.v_th + c.beta * exp(-t / c.tau_a_ms), 1e-6, 1e-5);
  }
  nd_snn_free(net);
}

/* time from V = v0 to the first crossing of v_th + beta a0 e^{-t/tau_a}
 * under constant mu with V(t) = mu + (v0 - mu) e^{-t/tau_m}: bisection on
 * the sign change (V rises, the threshold falls, so the root is unique) */
static double crossing(double mu, double v0, double a0, const nd_snn_config *c) {
  double lo = 0, hi = 10000;
  for (int it = 0; it < 200; it++) {
    double t = 0.5 * (lo + hi);
    double f = mu + (v0 - mu) * exp(-t / c->tau_m_ms) - (c->v_th + c->beta * a0 * exp(-t / c->tau_a_ms));
    if (f >= 0) hi = t; else lo = t;
  }
  return hi;
}

/* ALIF under constant drive: the n-th interval, from the closed-form map
 *   T_1 = first crossing from V = v_rest with a = 0,
 *   after spike n: a_n^+ = a_{n-1}^+ e^{-T_n/tau_a} + 1, then t_ref held at
 *   v_reset, then the crossing from v_reset with a = a_n^+ e^{-t_ref/tau_a},
 * converging to the steady interval where a^+ = 1/(1 - e^{-T/tau_a}).  The
 * simulator's intervals match within 3 dt (the grid plus its one-step lag of
 * a), and lengthen (adaptation). */
static void test_alif_adaptation(void **state) {
  (void)state;
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1, c.model = ND_SNN_ALIF, c.dt_ms = 0.01, c.tau_a_ms = 100, c.beta = 0.5;
  const float mu = 60;
  nd_snn *net = make(&c);
  spikes sp;
  run_rows(net, 200000, &mu, &sp); /* 2 s */
  assert_true(sp.n > 40);
  double want_t = crossing(mu, c.v_rest, 0, &c), a_plus = 1;
  nd_assert_close(sp.t[0], want_t, 3.0001 * c.dt_ms, 0);
  double T = 0;
  for (int k = 1; k < sp.n; k++) {
    T = c.t_ref_ms + crossing(mu, c.v_reset, a_plus * exp(-c.t_ref_ms / c.tau_a_ms), &c);
    nd_assert_close(sp.t[k] - sp.t[k - 1], T, 3.0001 * c.dt_ms, 0);
    a_plus = a_plus * exp(-T / c.tau_a_ms) + 1;
  }
  assert_true(sp.t[sp.n - 1] - sp.t[sp.n - 2] > sp.t[1] - sp.t[0] + 1.0); /* adapted */
  /* steady state: a^+ = 1/(1 - e^{-T/tau_a}) */
  nd_assert_close(a_plus, 1 / (1 - exp(-T / c.tau_a_ms)), 1e-3, 1e-3);
  nd_snn_free(net);
}

/* One input spike of weight w through an exponential synapse into a
 * membrane without threshold: tau_s dI/dt = -I, tau_m dV/dt = -V + I,
 * I(0) = w, V(0) = 0 gives V(t) = w tau_s/(tau_s - tau_m)(e^{-t/tau_s} -
 * e^{-t/tau_m}), and for tau_s = tau_m, V(t) = w (t/tau_m) e^{-t/tau_m}. */
static void test_exp_synapse_psp(void **state) {
  (void)state;
  const double tau_s[] = {5, 20};
  for (int q = 0; q < 2; q++) {
    nd_snn_config c = nd_snn_defaults();
    c.neurons = 1, c.inputs = 1, c.synapse = ND_SNN_SYN_EXP, c.tau_syn_ms = tau_s[q], c.v_th = 1e6, c.dt_ms = 0.25;
    nd_snn *net = make(&c);
    float w = 2.5f, one = 1, zero = 0;
    nd_assert_ok(nd_snn_set_input(net, &w));
    nd_assert_ok(nd_snn_step(net, &one, NULL));
    nd_assert_close(nd_snn_voltage(net)[0], 0, 1e-7, 0);
    for (int k = 1; k <= 400; k++) {
      nd_assert_ok(nd_snn_step(net, &zero, NULL));
      double t = k * c.dt_ms, ts = c.tau_syn_ms, tm = c.tau_m_ms;
      double want = ts == tm ? w * t / tm * exp(-t / tm) : w * ts / (ts - tm) * (exp(-t / ts) - exp(-t / tm));
      nd_assert_close(nd_snn_voltage(net)[0], want, 1e-5, 1e-4);
    }
    nd_snn_free(net);
  }
}

/* The free membrane with noise: V is an OU process with stationary standard
 * deviation noise_std; over 2000 independent rows after 10 tau_m the sample
 * std is within 5% (its standard error is about 1.6%). */
static void test_noise_std(void **state) {
  (void)state;
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1, c.batch = 2000, c.v_th = 1e6, c.noise_std = 3, c.dt_ms = 1, c.seed = 5;
  nd_snn *net = make(&c);
  for (int k = 0; k < 200; k++) nd_assert_ok(nd_snn_step(net, NULL, NULL));
  double s = 0, s2 = 0;
  for (int b = 0; b < 2000; b++) s += nd_snn_voltage(net)[b], s2 += (double)nd_snn_voltage(net)[b] * nd_snn_voltage(net)[b];
  double mean = s / 2000, sd = sqrt(s2 / 2000 - mean * mean);
  nd_assert_close(mean, 0, 0.3, 0);
  nd_assert_close(sd, 3, 0, 0.05);
  nd_snn_free(net);
}

/* The ziggurat draws (noise.c) against the standard normal: the largest
 * distance of the empirical CDF of 10^6 draws from Phi on a grid (KS: below
 * 1.95/sqrt(n) with probability 0.999), the fraction in the tail beyond the
 * ziggurat's base r = 3.44262 (2(1 - Phi(r)) = 5.76e-4, within 5 sigma), and
 * the fourth moment 3. */
static void test_ziggurat_normal(void **state) {
  (void)state;
  enum { N = 1000000 };
  float *x = malloc(N * sizeof *x);
  nd_rng r;
  nd_rng_init(&r, 11);
  nd__snn_normal_fill(&r, x, N);
  enum { G = 161 };
  static double cnt[G];
  double tail = 0, m4 = 0, m2 = 0;
  for (int k = 0; k < G; k++) cnt[k] = 0;
  for (int i = 0; i < N; i++) {
    double v = x[i];
    m2 += v * v, m4 += v * v * v * v;
    tail += fabs(v) > 3.44262;
    for (int k = 0; k < G; k++) cnt[k] += v <= -4 + 0.05 * k;
  }
  double worst = 0;
  for (int k = 0; k < G; k++) {
    double t = -4 + 0.05 * k, phi = 0.5 * erfc(-t / sqrt(2.0));
    worst = fmax(worst, fabs(cnt[k] / N - phi));
  }
  assert_true(worst < 1.95 / sqrt((double)N));
  double pt = erfc(3.44262 / sqrt(2.0)), sd = sqrt(N * pt * (1 - pt));
  assert_true(fabs(tail - N * pt) < 5 * sd);
  nd_assert_close(m2 / N, 1.0, 0.01, 0);
  nd_assert_close(m4 / N, 3.0, 0.05, 0);
  free(x);
}

/* Recurrent input as a GEMM, as events and chosen per step gives the
 * same spikes bit for bit: the weights are multiples of 1/8 and the sums
 * small, so every order of summation is exact. */
static void test_gemm_equals_events(void **state) {
  (void)state;
  enum { N = 64, B = 5, STEPS = 300 };
  float *w = malloc(N * N * sizeof *w), drive[B * N];
  nd_rng r;
  nd_rng_init(&r, 9);
  for (int k = 0; k < N * N; k++) {
    double u = nd_rng_uniform1(&r);
    w[k] = u < 0.7 ? 0.0f : (float)(floor(nd_rng_uniform1(&r) * 16) - 9) / 8.0f;
  }
  for (int k = 0; k < N; k++) w[k * N + k] = 0;
  for (int k = 0; k < B * N; k++) drive[k] = 18.0f + (float)(k % 13);
  nd_snn_rec_mode modes[] = {ND_SNN_REC_GEMM, ND_SNN_REC_EVENT, ND_SNN_REC_AUTO};
  float *ref = malloc((size_t)STEPS * B * N * sizeof *ref);
  int64_t total = 0;
  for (int m = 0; m < 3; m++) {
    nd_snn_config c = nd_snn_defaults();
    c.neurons = N, c.batch = B, c.dt_ms = 0.5, c.rec_mode = modes[m], c.model = ND_SNN_ALIF, c.beta = 0.25;
    nd_snn *net = make(&c);
    nd_assert_ok(nd_snn_set_recurrent(net, w));
    for (int t = 0; t < STEPS; t++) {
      nd_assert_ok(nd_snn_step(net, NULL, drive));
      if (m == 0) {
        memcpy(ref + (size_t)t * B * N, nd_snn_spikes(net), B * N * sizeof(float));
        for (int k = 0; k < B * N; k++) total += nd_snn_spikes(net)[k] != 0;
      } else {
        assert_memory_equal(ref + (size_t)t * B * N, nd_snn_spikes(net), B * N * sizeof(float));
      }
    }
    if (m == 0) assert_int_equal(nd_snn_gemm_steps(net), STEPS);
    if (m == 1) assert_int_equal(nd_snn_gemm_steps(net), 0);
    nd_snn_free(net);
  }
  assert_true(total > 500); /* the network did spike */
  free(ref);
  free(w);
}

/* Random connectivity: no self-connections, about p N (N-1) synapses (within
 * 5 sigma of the binomial), the excitatory fraction's weights. */
static void test_random_connectivity(void **state) {
  (void)state;
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 1000, c.rec_mode = ND_SNN_REC_EVENT;
  nd_snn *net = make(&c);
  double p = 0.1, n = 1000;
  nd_assert_ok(nd_snn_set_recurrent_random(net, p, 0.8, 0.5f, -2.0f, 3));
  double m = p * n * (n - 1), sd = sqrt(m * (1 - p));
  assert_true(fabs((double)nd_snn_synapse_count(net) - m) < 5 * sd);
  /* one spike of neuron 0 (excitatory) and of neuron 999 (inhibitory): the
   * next step's V (from rest, delta synapses) is the sum of their weights */
  float *kick = calloc(1000, sizeof *kick);
  kick[0] = 1e9f, kick[999] = 1e9f;
  nd_assert_ok(nd_snn_step(net, NULL, kick));
  int64_t cnt;
  const int32_t *l = nd_snn_spike_list(net, 0, &cnt);
  assert_int_equal(cnt, 2);
  assert_int_equal(l[0], 0);
  assert_int_equal(l[1], 999);
  memset(kick, 0, 1000 * sizeof *kick);
  nd_assert_ok(nd_snn_step(net, NULL, kick));
  const float *v = nd_snn_voltage(net);
  int ne = 0, ni = 0, both = 0;
  for (int i = 0; i < 1000; i++) {
    float x = v[i];
    if (i == 0 || i == 999) continue;
    if (fabsf(x - 0.5f) < 1e-3f) ne++;
    else if (fabsf(x + 2.0f) < 1e-3f) ni++;
    else if (fabsf(x + 1.5f) < 1e-3f) both++;
    else assert_true(fabsf(x) < 1e-3f);
  }
  assert_true(ne + both > 60 && ne + both < 140);
  assert_true(ni + both > 60 && ni + both < 140);
  free(kick);
  nd_snn_free(net);
}

static void test_bad_args(void **state) {
  (void)state;
  nd_snn *net = (nd_snn *)1;
  nd_snn_config c = nd_snn_defaults();
  c.neurons = 0;
  assert_int_equal(nd_snn_create(&c, &net), ND_ERR_INVALID_ARG);
  assert_null(net);
  c = nd_snn_defaults();
  c.v_reset = 30;
  assert_int_equal(nd_snn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_snn_defaults();
  c.dt_ms = NAN;
  assert_int_equal(nd_snn_config_check(&c), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "dt_ms"));
  c = nd_snn_defaults();
  net = make(&c);
  float x = 1;
  assert_int_equal(nd_snn_step(net, &x, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_snn_set_input(net, &x), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_snn_set_recurrent_random(net, 1.5, 0.8, 1, 1, 1), ND_ERR_INVALID_ARG);
  int64_t cnt = 7;
  assert_null(nd_snn_spike_list(net, 1, &cnt));
  assert_int_equal(cnt, 0);
  nd_snn_free(net);
  assert_int_equal(nd_snn_step(NULL, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_null(nd_snn_voltage(NULL));
  nd_snn_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lif_fi_curve),     cmocka_unit_test(test_lif_subtract),
      cmocka_unit_test(test_alif_decay),       cmocka_unit_test(test_alif_adaptation),
      cmocka_unit_test(test_exp_synapse_psp),  cmocka_unit_test(test_noise_std),        cmocka_unit_test(test_ziggurat_normal),
      cmocka_unit_test(test_gemm_equals_events), cmocka_unit_test(test_random_connectivity),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
