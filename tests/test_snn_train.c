/* Training of recurrent spiking networks (include/neurodyn/snn.h, "training"):
 *  - BPTT against central finite differences of the smoothed model (H
 *    replaced by gamma F, F' the surrogate), for each surrogate and unit;
 *  - e-prop equal to BPTT where the theory says it is (Bellec et al. 2020:
 *    exact without recurrent interactions between neurons; a one-step task),
 *    and different where it is not;
 *  - e-prop's buffers flat in T (bytes counted, and the heap measured by
 *    mallinfo2), BPTT's growing;
 *  - the store-and-recall generator, bad arguments. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/rng.h"
#include "neurodyn/snn.h"

typedef struct seq_buf {
  float *x;
  int32_t *lab;
  nd_snn_seq s;
} seq_buf;

/* Random inputs (analog, positive), labels at every `every`-th step. */
static seq_buf make_seq(int64_t T, int64_t B, int64_t I, int64_t K, int every, float scale, uint64_t seed) {
  seq_buf q;
  q.x = malloc((size_t)(T * B * I) * sizeof(float));
  q.lab = malloc((size_t)(T * B) * sizeof(int32_t));
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, q.x, T * B * I, 0, scale);
  for (int64_t t = 0; t < T; t++)
    for (int64_t b = 0; b < B; b++) q.lab[t * B + b] = (t + 1) % every == 0 ? (int32_t)((t + b) % K) : -1;
  q.s = (nd_snn_seq){.T = T, .B = B, .x = q.x, .labels = q.lab};
  return q;
}

static void free_seq(seq_buf *q) {
  free(q->x);
  free(q->lab);
}

static nd_snn_learn_config small(nd_snn_unit unit) {
  nd_snn_learn_config c = nd_snn_learn_defaults();
  c.unit = unit;
  c.inputs = 3, c.neurons = 6, c.outputs = 3, c.batch = 2;
  c.tau_a_ms = 30;
  c.w_rec_scale = 1.5;
  c.seed = 7;
  return c;
}

static double loss_of(nd_snn_learner *l, const nd_snn_seq *s) {
  double lo;
  assert_int_equal(nd_snn_learner_eval(l, s, &lo, NULL, NULL), ND_OK);
  return lo;
}

/* Worst violation of |fd - g| <= atol + rtol |fd| over every parameter. */
static double gradcheck(nd_snn_learner *l, const nd_snn_seq *s, double *gmax_out) {
  nd_snn_params p, g;
  nd_snn_learner_params(l, &p, &g);
  const nd_snn_learn_config *c = nd_snn_learner_config(l);
  int64_t np = c->inputs * c->neurons + c->neurons * c->neurons + c->neurons * c->outputs + c->outputs;
  double lo;
  assert_int_equal(nd_snn_learner_grad(l, s, &lo, NULL, NULL), ND_OK);
  float *gc = malloc((size_t)np * sizeof(float));
  memcpy(gc, g.w_in, (size_t)np * sizeof(float));
  double gmax = 0, worst = 0;
  for (int64_t k = 0; k < np; k++) gmax = fmax(gmax, fabs(gc[k]));
  /* two steps, the better one counts: the triangle's F is piecewise quadratic, and a
   * step that straddles one of its kinks has an O(h) error; a wrong gradient fails both */
  const float hs[2] = {1e-3f, 2.5e-4f};
  for (int64_t k = 0; k < np; k++) {
    double best = INFINITY;
    for (int m = 0; m < 2; m++) {
      float w0 = p.w_in[k], h = hs[m];
      p.w_in[k] = w0 + h;
      double lp = loss_of(l, s);
      p.w_in[k] = w0 - h;
      double lm = loss_of(l, s);
      p.w_in[k] = w0;
      double fd = (lp - lm) / (2.0 * (double)h);
      best = fmin(best, fabs(fd - gc[k]) / (2e-3 * gmax + 2e-2 * fabs(fd)));
    }
    worst = fmax(worst, best);
  }
  free(gc);
  *gmax_out = gmax;
  return worst;
}

static void test_gradcheck_smooth(void **state) {
  (void)state;
  const nd_snn_unit units[] = {ND_SNN_UNIT_LIF, ND_SNN_UNIT_ALIF, ND_SNN_UNIT_RATE};
  const nd_snn_surrogate surr[] = {ND_SNN_SURR_FAST_SIGMOID, ND_SNN_SURR_TRIANGLE, ND_SNN_SURR_ARCTAN};
  seq_buf q = make_seq(12, 2, 3, 3, 3, 1.5f, 3);
  for (int u = 0; u < 3; u++)
    for (int k = 0; k < (u == 2 ? 1 : 3); k++) {
      nd_snn_learn_config c = small(units[u]);
      c.surrogate = surr[k];
      c.smooth = true, c.reset_grad = true;
      c.gamma = 1.0, c.v_th = 0.5; /* a smooth spike of up to 1 */
      nd_snn_learner *l;
      assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
      double gmax, worst = gradcheck(l, &q.s, &gmax);
      print_message("gradcheck unit %d surrogate %d: |g|max %.3g, worst violation %.3f of the tolerance\n", u, k, gmax, worst);
      assert_true(gmax > 1e-3);
      assert_true(worst <= 1.0);
      nd_snn_learner_free(l);
    }
  /* the check can fail: without the reset's derivative BPTT is not the smoothed model's gradient */
  nd_snn_learn_config c = small(ND_SNN_UNIT_LIF);
  c.smooth = true, c.reset_grad = false, c.gamma = 1.0, c.v_th = 0.5;
  nd_snn_learner *l;
  assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
  double gmax, worst = gradcheck(l, &q.s, &gmax);
  print_message("gradcheck LIF without the reset's derivative: worst violation %.3f\n", worst);
  assert_true(worst > 1.0);
  nd_snn_learner_free(l);
  free_seq(&q);
}

/* Largest |a - b| / max|b| over the whole gradient. */
static double grad_diff(nd_snn_learner *l, const nd_snn_seq *s, double *loss_diff) {
  const nd_snn_learn_config *c = nd_snn_learner_config(l);
  int64_t np = c->inputs * c->neurons + c->neurons * c->neurons + c->neurons * c->outputs + c->outputs;
  nd_snn_params g;
  nd_snn_learner_params(l, NULL, &g);
  double l1, l2;
  float *gb = malloc((size_t)np * sizeof(float));
  nd_snn_learner_set_method(l, ND_SNN_BPTT);
  assert_int_equal(nd_snn_learner_grad(l, s, &l1, NULL, NULL), ND_OK);
  memcpy(gb, g.w_in, (size_t)np * sizeof(float));
  nd_snn_learner_set_method(l, ND_SNN_EPROP);
  assert_int_equal(nd_snn_learner_grad(l, s, &l2, NULL, NULL), ND_OK);
  double mx = 0, d = 0;
  for (int64_t k = 0; k < np; k++) mx = fmax(mx, fabs(gb[k]));
  for (int64_t k = 0; k < np; k++) d = fmax(d, fabs(gb[k] - g.w_in[k]));
  free(gb);
  *loss_diff = fabs(l1 - l2);
  assert_true(mx > 0);
  return d / mx;
}

static void test_eprop_equals_bptt(void **state) {
  (void)state;
  const nd_snn_unit units[] = {ND_SNN_UNIT_LIF, ND_SNN_UNIT_ALIF, ND_SNN_UNIT_RATE};
  for (int u = 0; u < 3; u++)
    for (int leak = 0; leak < 2; leak++) {
      nd_snn_learn_config c = small(units[u]);
      c.neurons = 20, c.batch = 4, c.inputs = 5;
      c.tau_out_ms = leak ? 20 : 0;
      c.w_in_scale = 3;
      nd_snn_learner *l;
      assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
      double ld;
      /* one-step task: the recurrent weights cannot act */
      seq_buf q1 = make_seq(1, 4, 5, 3, 1, 1.0f, 5);
      double d1 = grad_diff(l, &q1.s, &ld);
      assert_true(d1 < 1e-6 && ld == 0);
      /* 40 steps with the recurrent weights at zero: e-prop is exact */
      seq_buf q = make_seq(40, 4, 5, 3, 4, 1.0f, 6);
      double d2 = grad_diff(l, &q.s, &ld);
      print_message("unit %d leak %d: recurrent (T = 40) |eprop - bptt| / max|bptt| = %.3g\n", u, leak, d2);
      assert_true(d2 > 1e-3); /* with recurrent interactions it is an approximation */
      nd_snn_params p;
      nd_snn_learner_params(l, &p, NULL);
      memset(p.w_rec, 0, (size_t)(c.neurons * c.neurons) * sizeof(float));
      double d3 = grad_diff(l, &q.s, &ld);
      print_message("unit %d leak %d: one step %.3g; W_rec = 0, T = 40: %.3g\n", u, leak, d1, d3);
      assert_true(d3 < 2e-5);
      nd_snn_learner_free(l);
      free_seq(&q1);
      free_seq(&q);
    }
}

static long long heap_bytes(void) {
  struct mallinfo2 h = mallinfo2();
  return (long long)(h.uordblks + h.hblkhd);
}

/* mallinfo2 sees the heap (not under a sanitizer's allocator, where it reads 0). */
static bool heap_visible(void) {
  long long h0 = heap_bytes();
  char *volatile p = malloc(1 << 20); /* volatile: the pair is not optimised away */
  if (p) p[0] = 1;
  long long h1 = heap_bytes();
  free(p);
  return h1 - h0 >= (1 << 20);
}

static void test_memory_flat(void **state) {
  (void)state;
  const bool heap_ok = heap_visible();
  if (!heap_ok) print_message("mallinfo2 does not see this allocator: heap growth not measured\n");
  nd_snn_learn_config c = small(ND_SNN_UNIT_ALIF);
  c.neurons = 64, c.inputs = 16, c.outputs = 4, c.batch = 8;
  for (int m = 0; m < 2; m++) {
    c.method = m ? ND_SNN_EPROP : ND_SNN_BPTT;
    nd_snn_learner *l;
    assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
    seq_buf a = make_seq(50, 8, 16, 4, 10, 1.0f, 1), b = make_seq(500, 8, 16, 4, 10, 1.0f, 2);
    double lo;
    assert_int_equal(nd_snn_learner_grad(l, &a.s, &lo, NULL, NULL), ND_OK);
    int64_t b1 = nd_snn_learner_buffer_bytes(l);
    long long h0 = heap_bytes();
    assert_int_equal(nd_snn_learner_grad(l, &b.s, &lo, NULL, NULL), ND_OK);
    long long heap = heap_bytes() - h0;
    int64_t b2 = nd_snn_learner_buffer_bytes(l);
    print_message("%s: buffers %lld bytes at T = 50, %lld at T = 500; heap growth in the T = 500 call %lld bytes\n",
                  m ? "e-prop" : "BPTT", (long long)b1, (long long)b2, heap);
    if (m) {
      assert_int_equal(b1, b2);
      assert_true(!heap_ok || heap <= 0);
    } else {
      /* BPTT stores z, psi [T, B, N] and dy [T, B, K] */
      assert_true(b2 - b1 >= 450LL * 8 * (2 * 64 + 4) * 4);
      assert_true(!heap_ok || heap >= 450LL * 8 * (2 * 64 + 4) * 4);
    }
    nd_snn_learner_free(l);
    free_seq(&a);
    free_seq(&b);
  }
}

static void test_random_feedback(void **state) {
  (void)state;
  nd_snn_learn_config c = small(ND_SNN_UNIT_LIF);
  c.method = ND_SNN_EPROP, c.feedback = ND_SNN_FEEDBACK_RANDOM;
  nd_snn_learner *l;
  assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
  float *fb = nd_snn_learner_feedback(l);
  assert_non_null(fb);
  seq_buf q = make_seq(1, 2, 3, 3, 1, 1.0f, 5);
  nd_snn_params p, g;
  nd_snn_learner_params(l, &p, &g);
  /* with B set to W_out, random e-prop is symmetric e-prop */
  memcpy(fb, p.w_out, (size_t)(c.neurons * c.outputs) * sizeof(float));
  double ld, d = grad_diff(l, &q.s, &ld);
  assert_true(d < 1e-6);
  nd_snn_learner_free(l);
  free_seq(&q);
}

static void test_recall_task(void **state) {
  (void)state;
  nd_snn_task t = nd_snn_task_defaults(ND_SNN_TASK_RECALL);
  t.rate = 1; /* every neuron of an active channel fires: the cues can be read back */
  int64_t T, I, K, B = 16;
  assert_int_equal(nd_snn_task_shape(&t, &T, &I, &K), ND_OK);
  assert_int_equal(T, 40);
  assert_int_equal(I, 40);
  float *x = malloc((size_t)(T * B * I) * sizeof(float));
  int32_t *lab = malloc((size_t)(T * B) * sizeof(int32_t));
  nd_rng r;
  nd_rng_init(&r, 1);
  assert_int_equal(nd_snn_recall_batch(&t, &r, B, x, lab), ND_OK);
  int ones = 0;
  for (int64_t b = 0; b < B; b++) {
    int64_t store = -1, recall = -1, scored = 0;
    for (int64_t p = 0; p < t.periods; p++) {
      const float *xr = x + (p * t.period_steps * B + b) * I;
      if (xr[2 * t.channel] == 1) store = p;
      if (xr[3 * t.channel] == 1) recall = p;
    }
    assert_true(store >= 0 && recall > store);
    int bit = x[(store * t.period_steps * B + b) * I + t.channel] == 1;
    for (int64_t tt = 0; tt < T; tt++) {
      if (lab[tt * B + b] >= 0) {
        scored++;
        assert_int_equal(lab[tt * B + b], bit);
        assert_int_equal(tt / t.period_steps, recall);
      }
    }
    assert_int_equal(scored, t.period_steps);
    ones += bit;
  }
  assert_true(ones > 0 && ones < B);
  free(x);
  free(lab);
}

static void test_bad_args(void **state) {
  (void)state;
  nd_snn_learn_config c = nd_snn_learn_defaults();
  c.outputs = 1;
  nd_snn_learner *l = (nd_snn_learner *)1;
  assert_int_equal(nd_snn_learner_create(&c, &l), ND_ERR_INVALID_ARG);
  assert_null(l);
  assert_non_null(strstr(nd_last_error(), "outputs"));
  c = nd_snn_learn_defaults();
  c.tau_out_ms = -1;
  assert_int_equal(nd_snn_learn_config_check(&c), ND_ERR_INVALID_ARG);
  c = nd_snn_learn_defaults();
  c.batch = 2, c.inputs = 2;
  assert_int_equal(nd_snn_learner_create(&c, &l), ND_OK);
  seq_buf q = make_seq(3, 3, 2, 2, 1, 1.0f, 1);
  double lo;
  assert_int_equal(nd_snn_learner_grad(l, &q.s, &lo, NULL, NULL), ND_ERR_SHAPE); /* 3 rows > batch 2 */
  q.s.B = 2;
  q.lab[0] = 5;
  assert_int_equal(nd_snn_learner_grad(l, &q.s, &lo, NULL, NULL), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "label"));
  nd_snn_task t = nd_snn_task_defaults(ND_SNN_TASK_SMNIST);
  t.pixels = 5;
  assert_int_equal(nd_snn_task_check(&t), ND_ERR_INVALID_ARG);
  nd_snn_learner_free(l);
  nd_snn_learner_free(NULL);
  assert_int_equal(nd_snn_learner_buffer_bytes(NULL), -1);
  free_seq(&q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradcheck_smooth), cmocka_unit_test(test_eprop_equals_bptt),
      cmocka_unit_test(test_memory_flat),      cmocka_unit_test(test_random_feedback),
      cmocka_unit_test(test_recall_task),      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
