/* The SOMPNet local rules (include/neurodyn/plasticity.h, src/learning/temporal.c)
 * against updates worked out by hand in the comments below, or against naive
 * double loops written from the equations of the header (for the loss rules:
 * central differences of the loss itself, computed here in double through a
 * one-step unit post = tanh(W pre), so that the gain G = 1 - post^2). */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/plasticity.h"

static void fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n, lo, hi);
}

static nd_plasticity_input mk(nd_tensor *pre, nd_tensor *post, nd_tensor *w, nd_tensor *rw, int n_extra, nd_tensor *e0,
                              nd_tensor *e1, nd_tensor *e2) {
  nd_plasticity_input in = {pre, post, w, rw, n_extra, {e0, e1, e2, NULL}};
  return in;
}

/* one sample: pre_{t-1} = (1, 0), pre_t = (0, 1), post_{t-1} = 0.5, post_t = 1:
 * Delta = post_t pre_{t-1} - post_{t-1} pre_t = (1 - 0, 0 - 0.5) = (1, -0.5);
 * reward 1 doubles it; with alpha 0.1 on dW = (1, 1): (1.1, 0.95) and (1.2, 0.9). */
static void test_stdp_by_hand(void **state) {
  (void)state;
  float pp[2] = {1, 0}, p[2] = {0, 1}, qp[1] = {0.5f}, q[1] = {1}, d[2] = {1, 1}, r[1] = {1};
  nd_tensor tpp = nd_tensor_wrap(pp, 2, ND_SHAPE(1, 2)), tp = nd_tensor_wrap(p, 2, ND_SHAPE(1, 2));
  nd_tensor tqp = nd_tensor_wrap(qp, 2, ND_SHAPE(1, 1)), tq = nd_tensor_wrap(q, 2, ND_SHAPE(1, 1));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(1, 2)), tr = nd_tensor_wrap(r, 1, ND_SHAPE(1));
  nd_plasticity_rule *s;
  nd_assert_ok(nd_stdp_create(&s));
  nd_plasticity_input in = mk(&tp, &tq, NULL, NULL, 2, &tpp, &tqp, NULL);
  nd_assert_ok(nd_plasticity_accumulate(s, &in, 0.1f, &td));
  nd_assert_close(d[0], 1.1, 1e-6, 0);
  nd_assert_close(d[1], 0.95, 1e-6, 0);
  d[0] = d[1] = 1;
  in.reward = &tr;
  nd_assert_ok(nd_plasticity_accumulate(s, &in, 0.1f, &td));
  nd_assert_close(d[0], 1.2, 1e-6, 0);
  nd_assert_close(d[1], 0.9, 1e-6, 0);
  /* no extras: refused, naming the count */
  in.n_extra = 0;
  assert_int_equal(nd_plasticity_accumulate(s, &in, 0.1f, &td), ND_ERR_INVALID_ARG);
  nd_plasticity_rule_free(s);
}

/* per-sample reward against the naive sum over b of (1 + r_b)(...) */
static void test_stdp_reward_per_sample(void **state) {
  (void)state;
  enum { B = 4, NP = 3, NQ = 2 };
  float pp[B * NP], p[B * NP], qp[B * NQ], q[B * NQ], r[B], d[NQ * NP] = {0};
  fill(pp, B * NP, 1, -1, 1), fill(p, B * NP, 2, -1, 1), fill(qp, B * NQ, 3, -1, 1), fill(q, B * NQ, 4, -1, 1);
  fill(r, B, 5, -1, 2);
  nd_tensor tpp = nd_tensor_wrap(pp, 2, ND_SHAPE(B, NP)), tp = nd_tensor_wrap(p, 2, ND_SHAPE(B, NP));
  nd_tensor tqp = nd_tensor_wrap(qp, 2, ND_SHAPE(B, NQ)), tq = nd_tensor_wrap(q, 2, ND_SHAPE(B, NQ));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP)), tr = nd_tensor_wrap(r, 1, ND_SHAPE(B));
  nd_plasticity_rule *s;
  nd_assert_ok(nd_stdp_create(&s));
  nd_plasticity_input in = mk(&tp, &tq, NULL, &tr, 2, &tpp, &tqp, NULL);
  nd_assert_ok(nd_plasticity_accumulate(s, &in, 0.5f, &td));
  for (int i = 0; i < NQ; i++)
    for (int j = 0; j < NP; j++) {
      double w = 0;
      for (int b = 0; b < B; b++) w += (1 + r[b]) * ((double)q[b * NQ + i] * pp[b * NP + j] - (double)qp[b * NQ + i] * p[b * NP + j]);
      nd_assert_close(d[i * NP + j], 0.5 * w, 1e-5, 1e-5);
    }
  nd_plasticity_rule_free(s);
}

/* lags {1, 2} over 3 outputs: rows 0-1 own lag 1, row 2 lag 2.  Four steps
 * of random activity against the naive sum over t >= L. */
static void test_stdp_multilag(void **state) {
  (void)state;
  enum { B = 2, NP = 3, NQ = 3, T = 4 };
  float pre[T][B * NP], post[T][B * NQ], d[NQ * NP] = {0};
  for (int t = 0; t < T; t++) fill(pre[t], B * NP, 10 + t, -1, 1), fill(post[t], B * NQ, 20 + t, -1, 1);
  const int lags[2] = {1, 2};
  nd_plasticity_rule *s;
  nd_assert_ok(nd_stdp_multilag_create(2, lags, &s));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  for (int t = 0; t < T; t++) {
    nd_tensor tp = nd_tensor_wrap(pre[t], 2, ND_SHAPE(B, NP)), tq = nd_tensor_wrap(post[t], 2, ND_SHAPE(B, NQ));
    nd_plasticity_input in = mk(&tp, &tq, NULL, NULL, 0, NULL, NULL, NULL);
    nd_assert_ok(nd_plasticity_accumulate(s, &in, 1.0f, &td));
  }
  for (int i = 0; i < NQ; i++) {
    const int L = i < 2 ? 1 : 2;
    for (int j = 0; j < NP; j++) {
      double w = 0;
      for (int t = L; t < T; t++)
        for (int b = 0; b < B; b++)
          w += (double)post[t][b * NQ + i] * pre[t - L][b * NP + j] - (double)post[t - L][b * NQ + i] * pre[t][b * NP + j];
      nd_assert_close(d[i * NP + j], w, 1e-5, 1e-5);
    }
  }
  /* reset forgets the history: one more step adds nothing */
  memset(d, 0, sizeof d);
  nd_plasticity_rule_reset(s, 0);
  nd_tensor tp = nd_tensor_wrap(pre[0], 2, ND_SHAPE(B, NP)), tq = nd_tensor_wrap(post[0], 2, ND_SHAPE(B, NQ));
  nd_plasticity_input in = mk(&tp, &tq, NULL, NULL, 0, NULL, NULL, NULL);
  nd_assert_ok(nd_plasticity_accumulate(s, &in, 1.0f, &td));
  for (int k = 0; k < NQ * NP; k++) assert_true(d[k] == 0.0f);
  nd_plasticity_rule_free(s);
}

/* Covariance decay, one sample, one synapse, beta = 0.5, a_cd = 2, w = 3.
 * step 1: pre_{t-1} = 1, post = 0.5: M = 0.5, m_pre = 1, m_post = 0.5,
 *         sigma = 0.5 - 0.5 = 0, c - 1 = 2 (0 - 1) = -2, Delta = -6.
 * step 2: pre_{t-1} = -1, post = 1: M = 0.5*0.5 + 0.5*(-1) = -0.25,
 *         m_pre = 0, m_post = 0.75, sigma = -0.25, c - 1 = 2 (0.25 - 1) = -1.5,
 *         Delta = -4.5.  The seed's literal sign flips both. */
static void test_covariance_decay_by_hand(void **state) {
  (void)state;
  for (int lit = 0; lit < 2; lit++) {
    nd_plasticity_rule *cd;
    nd_assert_ok(nd_covariance_decay_create(0.5, 2.0, lit, &cd));
    float w[1] = {3}, d[1] = {0}, pre[1] = {0}, post[1], prev[1];
    nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(1, 1)), td = nd_tensor_wrap(d, 2, ND_SHAPE(1, 1));
    nd_tensor tp = nd_tensor_wrap(pre, 2, ND_SHAPE(1, 1)), tq = nd_tensor_wrap(post, 2, ND_SHAPE(1, 1));
    nd_tensor tpp = nd_tensor_wrap(prev, 2, ND_SHAPE(1, 1));
    nd_plasticity_input in = mk(&tp, &tq, &tw, NULL, 1, &tpp, NULL, NULL);
    const float s = lit ? -1.0f : 1.0f;
    for (int rep = 0; rep < 2; rep++) { /* the second pass after reset: the same */
      prev[0] = 1, post[0] = 0.5f, d[0] = 0;
      nd_assert_ok(nd_plasticity_accumulate(cd, &in, 1.0f, &td));
      nd_assert_close(d[0], s * -6.0, 1e-5, 0);
      prev[0] = -1, post[0] = 1, d[0] = 0;
      nd_assert_ok(nd_plasticity_accumulate(cd, &in, 1.0f, &td));
      nd_assert_close(d[0], s * -4.5, 1e-5, 0);
      nd_plasticity_rule_reset(cd, 0);
    }
    nd_plasticity_rule_free(cd);
  }
}

/* Covariance decay on a random batch over three steps against the naive
 * rolling means of the header. */
static void test_covariance_decay_naive(void **state) {
  (void)state;
  enum { B = 3, NP = 2, NQ = 2, T = 3 };
  float pre[T][B * NP], post[T][B * NQ], w[NQ * NP], d[NQ * NP];
  for (int t = 0; t < T; t++) fill(pre[t], B * NP, 30 + t, -1, 1), fill(post[t], B * NQ, 40 + t, -1, 1);
  fill(w, NQ * NP, 50, -1, 1);
  const double beta = 0.7, a = 0.3;
  nd_plasticity_rule *cd;
  nd_assert_ok(nd_covariance_decay_create(beta, a, false, &cd));
  double M[NQ * NP], mp[NP], mq[NQ];
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(NQ, NP)), td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  for (int t = 0; t < T; t++) {
    memset(d, 0, sizeof d);
    nd_tensor tpp = nd_tensor_wrap(pre[t], 2, ND_SHAPE(B, NP)), tq = nd_tensor_wrap(post[t], 2, ND_SHAPE(B, NQ));
    nd_plasticity_input in = mk(&tpp, &tq, &tw, NULL, 1, &tpp, NULL, NULL); /* pre_{t-1} := pre[t] here */
    nd_assert_ok(nd_plasticity_accumulate(cd, &in, 1.0f, &td));
    const double f = t ? beta : 0, g = t ? 1 - beta : 1;
    for (int j = 0; j < NP; j++) {
      double s = 0;
      for (int b = 0; b < B; b++) s += pre[t][b * NP + j];
      mp[j] = f * (t ? mp[j] : 0) + g * s / B;
    }
    for (int i = 0; i < NQ; i++) {
      double s = 0;
      for (int b = 0; b < B; b++) s += post[t][b * NQ + i];
      mq[i] = f * (t ? mq[i] : 0) + g * s / B;
    }
    for (int i = 0; i < NQ; i++)
      for (int j = 0; j < NP; j++) {
        double s = 0;
        for (int b = 0; b < B; b++) s += (double)post[t][b * NQ + i] * pre[t][b * NP + j];
        M[i * NP + j] = f * (t ? M[i * NP + j] : 0) + g * s / B;
        const double sig = M[i * NP + j] - mq[i] * mp[j];
        nd_assert_close(d[i * NP + j], a * (fabs(sig) - 1) * w[i * NP + j], 1e-5, 1e-4);
      }
  }
  nd_plasticity_rule_free(cd);
}

/* Structural plasticity on W = (0, 0.0005, -0.5, 0) with prune_below 0.001:
 * p = 1 (a_sp = n_pre n_post = 4): the two zeros grow by 0.01, 0.0005 is
 * pruned (-0.0005), -0.5 stays; p = 0: only the pruning. */
static void test_structural(void **state) {
  (void)state;
  float w[4] = {0, 0.0005f, -0.5f, 0}, d[4], pre[2] = {1, 1}, post[2] = {1, 1};
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(2, 2)), td = nd_tensor_wrap(d, 2, ND_SHAPE(2, 2));
  nd_tensor tp = nd_tensor_wrap(pre, 2, ND_SHAPE(1, 2)), tq = nd_tensor_wrap(post, 2, ND_SHAPE(1, 2));
  nd_plasticity_input in = mk(&tp, &tq, &tw, NULL, 0, NULL, NULL, NULL);
  for (int all = 0; all < 2; all++) {
    nd_plasticity_rule *sp;
    nd_assert_ok(nd_structural_create(all ? 4.0 : 0.0, 0.01, 0.001, 7, &sp));
    memset(d, 0, sizeof d);
    nd_assert_ok(nd_plasticity_accumulate(sp, &in, 1.0f, &td));
    nd_assert_close(d[0], all ? 0.01 : 0, 1e-7, 0);
    nd_assert_close(d[1], -0.0005, 1e-7, 0);
    nd_assert_close(d[2], 0, 0, 0);
    nd_assert_close(d[3], all ? 0.01 : 0, 1e-7, 0);
    nd_plasticity_rule_free(sp);
  }
  /* p = a_sp / (n_pre n_post) = 100 / 400 = 0.25 on 400 absent synapses:
   * growth count ~ Binomial(400, 0.25): mean 100, sd 8.66; within 5 sd. */
  enum { N = 20 };
  float w2[N * N] = {0}, d2[N * N] = {0}, x[N], y[N];
  for (int k = 0; k < N; k++) x[k] = y[k] = 1;
  nd_tensor tw2 = nd_tensor_wrap(w2, 2, ND_SHAPE(N, N)), td2 = nd_tensor_wrap(d2, 2, ND_SHAPE(N, N));
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(1, N)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(1, N));
  nd_plasticity_input in2 = mk(&tx, &ty, &tw2, NULL, 0, NULL, NULL, NULL);
  nd_plasticity_rule *sp;
  nd_assert_ok(nd_structural_create(100.0, 1.0, 0.001, 11, &sp));
  nd_assert_ok(nd_plasticity_accumulate(sp, &in2, 1.0f, &td2));
  int grown = 0;
  for (int k = 0; k < N * N; k++) grown += d2[k] == 1.0f;
  assert_true(grown > 100 - 44 && grown < 100 + 44);
  /* reset with the same seed replays the same draws */
  float d3[N * N] = {0};
  nd_tensor td3 = nd_tensor_wrap(d3, 2, ND_SHAPE(N, N));
  nd_plasticity_rule_reset(sp, 11);
  nd_assert_ok(nd_plasticity_accumulate(sp, &in2, 1.0f, &td3));
  assert_memory_equal(d2, d3, sizeof d2);
  nd_plasticity_rule_free(sp);
}

/* Intrinsic plasticity, H = 0.1, post = [[0.5, -1], [0, 0.2]]:
 * Delta_0 = (0.1 - 0.5) + (0.1 - 0) = -0.3, Delta_1 = (0.1 - 1) + (0.1 - 0.2) = -1. */
static void test_intrinsic_by_hand(void **state) {
  (void)state;
  float ones[2] = {1, 1}, post[4] = {0.5f, -1, 0, 0.2f}, d[2] = {0, 0};
  nd_tensor to = nd_tensor_wrap(ones, 2, ND_SHAPE(2, 1)), tq = nd_tensor_wrap(post, 2, ND_SHAPE(2, 2));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(2, 1));
  nd_plasticity_rule *ip;
  nd_assert_ok(nd_intrinsic_create(0.1, &ip));
  nd_plasticity_input in = mk(&to, &tq, NULL, NULL, 0, NULL, NULL, NULL);
  nd_assert_ok(nd_plasticity_accumulate(ip, &in, 1.0f, &td));
  nd_assert_close(d[0], -0.3, 1e-6, 0);
  nd_assert_close(d[1], -1.0, 1e-6, 0);
  nd_plasticity_rule_free(ip);
}

/* L2: Delta = -W; W = (1, -2), alpha 0.5: dW = (-0.5, 1). */
static void test_l2_by_hand(void **state) {
  (void)state;
  float w[2] = {1, -2}, d[2] = {0, 0}, x[2] = {0, 0}, y[1] = {0};
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(1, 2)), td = nd_tensor_wrap(d, 2, ND_SHAPE(1, 2));
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(1, 2)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(1, 1));
  nd_plasticity_rule *l2;
  nd_assert_ok(nd_l2_decay_create(&l2));
  nd_plasticity_input in = mk(&tx, &ty, &tw, NULL, 0, NULL, NULL, NULL);
  nd_assert_ok(nd_plasticity_accumulate(l2, &in, 0.5f, &td));
  nd_assert_close(d[0], -0.5, 1e-7, 0);
  nd_assert_close(d[1], 1.0, 1e-7, 0);
  nd_plasticity_rule_free(l2);
}

/* ---------------------------------------- the loss rules, numerically */
enum { LB = 4, LNP = 3, LNQ = 3 };
typedef double (*loss_fn)(const double *y, const double *yprev, const double *p);

static double loss_mr(const double *y, const double *yp, const double *p) {
  (void)yp;
  double L = 0;
  for (int b = 0; b < LB; b++) {
    double s = 0;
    for (int i = 0; i < LNQ; i++) s += y[b * LNQ + i];
    L += (s - p[0]) * (s - p[0]);
  }
  return L;
}

static double loss_sr(const double *y, const double *yp, const double *p) {
  (void)yp;
  double L = 0;
  for (int k = 0; k < LB * LNQ; k++) {
    const double a = fabs(y[k]);
    L += a * log(a / p[0]) + (1 - a) * log((1 - a) / (1 - p[0]));
  }
  return L;
}

static double loss_vic(const double *y, const double *yp, const double *p) {
  const double n = LNQ;
  double inv = 0, var = 0, cov = 0, m[LNQ] = {0}, C[LNQ][LNQ] = {{0}};
  for (int k = 0; k < LB * LNQ; k++) inv += (y[k] - yp[k]) * (y[k] - yp[k]);
  inv /= LB * n;
  for (int i = 0; i < LNQ; i++) {
    for (int b = 0; b < LB; b++) m[i] += y[b * LNQ + i] / LB;
  }
  for (int i = 0; i < LNQ; i++)
    for (int k = 0; k < LNQ; k++) {
      for (int b = 0; b < LB; b++) C[i][k] += (y[b * LNQ + i] - m[i]) * (y[b * LNQ + k] - m[k]) / (LB - 1);
    }
  for (int i = 0; i < LNQ; i++) {
    const double sd = sqrt(C[i][i] + 1e-4);
    var += fmax(0, p[3] - sd) / n;
    for (int k = 0; k < LNQ; k++)
      if (k != i) cov += C[i][k] * C[i][k] / n;
  }
  return p[0] * inv + p[1] * var + p[2] * cov;
}

/* L(tanh(pre W^T)) as a function of W, in double */
static double loss_of_w(loss_fn f, const double *w, const float *pre, const double *yp, const double *p) {
  double y[LB * LNQ];
  for (int b = 0; b < LB; b++)
    for (int i = 0; i < LNQ; i++) {
      double z = 0;
      for (int j = 0; j < LNP; j++) z += w[i * LNP + j] * pre[b * LNP + j];
      y[b * LNQ + i] = tanh(z);
    }
  return f(y, yp, p);
}

static void check_loss_rule(nd_plasticity_rule *rule, loss_fn f, const double *p, uint64_t seed) {
  float pre[LB * LNP], w[LNQ * LNP], post[LB * LNQ], prev[LB * LNQ], G[LB * LNQ], d[LNQ * LNP] = {0};
  fill(pre, LB * LNP, seed, -1, 1);
  fill(w, LNQ * LNP, seed + 1, -0.8f, 0.8f);
  fill(prev, LB * LNQ, seed + 2, -0.5f, 0.5f);
  double wd[LNQ * LNP], yp[LB * LNQ];
  for (int k = 0; k < LNQ * LNP; k++) wd[k] = w[k];
  for (int k = 0; k < LB * LNQ; k++) yp[k] = prev[k];
  for (int b = 0; b < LB; b++)
    for (int i = 0; i < LNQ; i++) {
      double z = 0;
      for (int j = 0; j < LNP; j++) z += wd[i * LNP + j] * pre[b * LNP + j];
      post[b * LNQ + i] = (float)tanh(z);
      G[b * LNQ + i] = 1.0f - post[b * LNQ + i] * post[b * LNQ + i];
    }
  nd_tensor tp = nd_tensor_wrap(pre, 2, ND_SHAPE(LB, LNP)), tq = nd_tensor_wrap(post, 2, ND_SHAPE(LB, LNQ));
  nd_tensor tpp = nd_tensor_wrap(pre, 2, ND_SHAPE(LB, LNP)), tqp = nd_tensor_wrap(prev, 2, ND_SHAPE(LB, LNQ));
  nd_tensor tg = nd_tensor_wrap(G, 2, ND_SHAPE(LB, LNQ)), td = nd_tensor_wrap(d, 2, ND_SHAPE(LNQ, LNP));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(LNQ, LNP));
  nd_plasticity_input in = mk(&tp, &tq, &tw, NULL, 3, &tpp, &tqp, &tg);
  nd_assert_ok(nd_plasticity_accumulate(rule, &in, 1.0f, &td));
  const double h = 1e-6;
  for (int k = 0; k < LNQ * LNP; k++) {
    const double w0 = wd[k];
    wd[k] = w0 + h;
    const double lp = loss_of_w(f, wd, pre, yp, p);
    wd[k] = w0 - h;
    const double lm = loss_of_w(f, wd, pre, yp, p);
    wd[k] = w0;
    nd_assert_close(d[k], -(lp - lm) / (2 * h), 2e-4, 2e-3);
  }
}

static void test_mean_reg_numeric(void **state) {
  (void)state;
  nd_plasticity_rule *r;
  const double p[1] = {0.3};
  nd_assert_ok(nd_mean_reg_create(p[0], &r));
  check_loss_rule(r, loss_mr, p, 100);
  nd_plasticity_rule_free(r);
}

static void test_sparsity_reg_numeric(void **state) {
  (void)state;
  nd_plasticity_rule *r;
  const double p[1] = {0.1};
  nd_assert_ok(nd_sparsity_reg_create(p[0], &r));
  check_loss_rule(r, loss_sr, p, 200);
  nd_plasticity_rule_free(r);
}

static void test_temporal_vic_numeric(void **state) {
  (void)state;
  /* gamma 1 keeps the variance hinge active (the tanh of small inputs has sd < 1) */
  const double p[4] = {25, 25, 1, 1};
  nd_plasticity_rule *r;
  nd_assert_ok(nd_temporal_vic_create(p[0], p[1], p[2], p[3], &r));
  check_loss_rule(r, loss_vic, p, 300);
  nd_plasticity_rule_free(r);
  const double q[4] = {1, 0, 3, 1}; /* invariance and covariance alone */
  nd_assert_ok(nd_temporal_vic_create(q[0], q[1], q[2], q[3], &r));
  check_loss_rule(r, loss_vic, q, 400);
  nd_plasticity_rule_free(r);
}

/* Rule of implication, t = 0.2, two samples, pre_{t-1} (one input) = 0.5
 * then 0.1, post_t (three outputs) = (0.9, 0.1, -0.7) then (0.0, 0.0, -0.9),
 * W = (1, 1, 0):
 *   sample 0 (parent +): child + -> 0, neutral -> +1, - -> -1 (dead weight: 0)
 *   sample 1 (parent 0.1 < t): nothing
 * Delta = (0, 1, 0). */
static void test_implication_by_hand(void **state) {
  (void)state;
  float pp[2] = {0.5f, 0.1f}, p[2] = {0, 0}, q[6] = {0.9f, 0.1f, -0.7f, 0.0f, 0.0f, -0.9f}, w[3] = {1, 1, 0},
        d[3] = {0, 0, 0};
  nd_tensor tpp = nd_tensor_wrap(pp, 2, ND_SHAPE(2, 1)), tp = nd_tensor_wrap(p, 2, ND_SHAPE(2, 1));
  nd_tensor tq = nd_tensor_wrap(q, 2, ND_SHAPE(2, 3)), tw = nd_tensor_wrap(w, 2, ND_SHAPE(3, 1));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(3, 1));
  nd_plasticity_rule *r;
  nd_assert_ok(nd_implication_create(0.2, &r));
  nd_plasticity_input in = mk(&tp, &tq, &tw, NULL, 1, &tpp, NULL, NULL);
  nd_assert_ok(nd_plasticity_accumulate(r, &in, 1.0f, &td));
  nd_assert_close(d[0], 0, 0, 0);
  nd_assert_close(d[1], 1, 0, 0);
  nd_assert_close(d[2], 0, 0, 0);
  /* W (1, 1, 1): the third output's -1 now counts */
  w[2] = 1, d[0] = d[1] = d[2] = 0;
  nd_assert_ok(nd_plasticity_accumulate(r, &in, 1.0f, &td));
  nd_assert_close(d[2], -1, 0, 0);
  nd_plasticity_rule_free(r);
}

/* Hard WTA: one sample pre = (1, 2), post = (0.2, 0.9, 0.1), W rows
 * (0,0), (1,1), (2,2).  One group: unit 1 wins, Delta_1 = pre - W_1 = (0, 1).
 * Groups of 2: {0,1} -> 1, {2} -> 2: also Delta_2 = (1, 2) - (2, 2) = (-1, 0). */
static void test_hard_wta_by_hand(void **state) {
  (void)state;
  float x[2] = {1, 2}, y[3] = {0.2f, 0.9f, 0.1f}, w[6] = {0, 0, 1, 1, 2, 2}, d[6];
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(1, 2)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(1, 3));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(3, 2)), td = nd_tensor_wrap(d, 2, ND_SHAPE(3, 2));
  nd_plasticity_input in = mk(&tx, &ty, &tw, NULL, 0, NULL, NULL, NULL);
  for (int g = 0; g <= 2; g += 2) {
    nd_plasticity_rule *r;
    nd_assert_ok(nd_hard_wta_create(g, &r));
    memset(d, 0, sizeof d);
    nd_assert_ok(nd_plasticity_accumulate(r, &in, 1.0f, &td));
    const float want[6] = {0, 0, 0, 1, g ? -1.0f : 0.0f, 0};
    nd_assert_arrays_close(d, want, 6, 1e-6, 0, "hard wta");
    nd_plasticity_rule_free(r);
  }
}

/* Soft WTA against softmax weights computed here. */
static void test_soft_wta_naive(void **state) {
  (void)state;
  enum { B = 3, NP = 2, NQ = 4 };
  float x[B * NP], y[B * NQ], w[NQ * NP], d[NQ * NP] = {0};
  fill(x, B * NP, 60, -1, 1), fill(y, B * NQ, 61, -1, 1), fill(w, NQ * NP, 62, -1, 1);
  const double tau = 0.5;
  nd_plasticity_rule *r;
  nd_assert_ok(nd_soft_wta_create(tau, &r));
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(B, NP)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(B, NQ));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(NQ, NP)), td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  nd_plasticity_input in = mk(&tx, &ty, &tw, NULL, 0, NULL, NULL, NULL);
  nd_assert_ok(nd_plasticity_accumulate(r, &in, 1.0f, &td));
  for (int i = 0; i < NQ; i++)
    for (int j = 0; j < NP; j++) {
      double want = 0;
      for (int b = 0; b < B; b++) {
        double z = 0;
        for (int k = 0; k < NQ; k++) z += exp(y[b * NQ + k] / tau);
        want += exp(y[b * NQ + i] / tau) / z * (x[b * NP + j] - w[i * NP + j]);
      }
      nd_assert_close(d[i * NP + j], want, 1e-5, 1e-5);
    }
  nd_plasticity_rule_free(r);
}

/* Row normalisation of (3, 4) to norm 1: Delta = (0.6 - 3, 0.8 - 4); a zero
 * row stays.  Clip at 1 of (2, -0.5, -3): Delta = (-1, 0, 2). */
static void test_rownorm_clip_by_hand(void **state) {
  (void)state;
  float w[4] = {3, 4, 0, 0}, d[4] = {0}, x[2] = {0}, y[2] = {0};
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(2, 2)), td = nd_tensor_wrap(d, 2, ND_SHAPE(2, 2));
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(1, 2)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(1, 2));
  nd_plasticity_input in = mk(&tx, &ty, &tw, NULL, 0, NULL, NULL, NULL);
  nd_plasticity_rule *r;
  nd_assert_ok(nd_row_normalize_create(1.0, &r));
  nd_assert_ok(nd_plasticity_accumulate(r, &in, 1.0f, &td));
  const float want[4] = {-2.4f, -3.2f, 0, 0};
  nd_assert_arrays_close(d, want, 4, 1e-6, 0, "row normalize");
  nd_plasticity_rule_free(r);
  float c[3] = {2, -0.5f, -3}, dc[3] = {0}, cx[3] = {0}, cy[1] = {0};
  nd_tensor tc = nd_tensor_wrap(c, 2, ND_SHAPE(1, 3)), tdc = nd_tensor_wrap(dc, 2, ND_SHAPE(1, 3));
  nd_tensor tcx = nd_tensor_wrap(cx, 2, ND_SHAPE(1, 3)), tcy = nd_tensor_wrap(cy, 2, ND_SHAPE(1, 1));
  nd_plasticity_input in2 = mk(&tcx, &tcy, &tc, NULL, 0, NULL, NULL, NULL);
  nd_assert_ok(nd_clip_rule_create(1.0, &r));
  nd_assert_ok(nd_plasticity_accumulate(r, &in2, 1.0f, &tdc));
  const float want2[3] = {-1, 0, 2};
  nd_assert_arrays_close(dc, want2, 3, 1e-6, 0, "clip");
  nd_plasticity_rule_free(r);
}

static void test_bad_arguments(void **state) {
  (void)state;
  nd_plasticity_rule *r = NULL;
  assert_int_equal(nd_covariance_decay_create(1.0, 1.0, false, &r), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "beta"));
  assert_int_equal(nd_sparsity_reg_create(0.0, &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_soft_wta_create(0.0, &r), ND_ERR_INVALID_ARG);
  const int bad[1] = {0};
  assert_int_equal(nd_stdp_multilag_create(1, bad, &r), ND_ERR_INVALID_ARG);
  assert_null(r);
  /* VIC with batch 1 */
  float x[2] = {0}, y[2] = {0}, d[4] = {0};
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(1, 2)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(1, 2));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(2, 2));
  nd_assert_ok(nd_temporal_vic_create(25, 25, 1, 1, &r));
  nd_plasticity_input in = mk(&tx, &ty, NULL, NULL, 3, &tx, &ty, &ty);
  assert_int_equal(nd_plasticity_accumulate(r, &in, 1.0f, &td), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "batch"));
  nd_plasticity_rule_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stdp_by_hand),
      cmocka_unit_test(test_stdp_reward_per_sample),
      cmocka_unit_test(test_stdp_multilag),
      cmocka_unit_test(test_covariance_decay_by_hand),
      cmocka_unit_test(test_covariance_decay_naive),
      cmocka_unit_test(test_structural),
      cmocka_unit_test(test_intrinsic_by_hand),
      cmocka_unit_test(test_l2_by_hand),
      cmocka_unit_test(test_mean_reg_numeric),
      cmocka_unit_test(test_sparsity_reg_numeric),
      cmocka_unit_test(test_temporal_vic_numeric),
      cmocka_unit_test(test_implication_by_hand),
      cmocka_unit_test(test_hard_wta_by_hand),
      cmocka_unit_test(test_soft_wta_naive),
      cmocka_unit_test(test_rownorm_clip_by_hand),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
