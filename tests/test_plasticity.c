/* Local plasticity rules (include/neurodyn/plasticity.h): Hebbian and Oja
 * against naive double loops, accumulation and composition in one buffer,
 * Oja's rule converging to the principal eigenvector of a 2-D Gaussian's
 * covariance (Oja 1982), a Krotov-Hopfield-shaped rule written against the
 * interface (Krotov & Hopfield 2019, Eq. 3), and the input checks. */
#include "nd_test.h"

#include <string.h>

#include "neurodyn/dynamics.h"
#include "neurodyn/plasticity.h"

enum { B = 5, NP = 7, NQ = 3 };

static void fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n, lo, hi);
}

/* naive Delta of Hebbian (reward r per sample, or NULL) and Oja, in double */
static void naive(const float *pre, const float *post, const float *w, const float *r, bool oja, double *out) {
  for (int j = 0; j < NQ; j++)
    for (int i = 0; i < NP; i++) {
      double s = 0, q = 0;
      for (int b = 0; b < B; b++) {
        s += (r ? r[b] : 1.0) * (double)post[b * NQ + j] * pre[b * NP + i];
        q += (double)post[b * NQ + j] * post[b * NQ + j];
      }
      out[j * NP + i] = oja ? s - q * w[j * NP + i] : s;
    }
}

static void test_against_naive(void **state) {
  (void)state;
  float pre[B * NP], post[B * NQ], w[NQ * NP], r[B], d0[NQ * NP], d[NQ * NP];
  fill(pre, B * NP, 1, -1, 1);
  fill(post, B * NQ, 2, -1, 1);
  fill(w, NQ * NP, 3, -1, 1);
  fill(r, B, 4, -2, 2);
  fill(d0, NQ * NP, 5, -1, 1);
  nd_tensor tpre = nd_tensor_wrap(pre, 2, ND_SHAPE(B, NP)), tpost = nd_tensor_wrap(post, 2, ND_SHAPE(B, NQ));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(NQ, NP)), td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  nd_tensor tr = nd_tensor_wrap(r, 1, ND_SHAPE(B)), tr1 = nd_tensor_wrap(r, 1, ND_SHAPE(1));
  nd_plasticity_rule *heb, *oja;
  nd_assert_ok(nd_hebbian_create(&heb));
  nd_assert_ok(nd_oja_create(&oja));
  assert_string_equal(heb->name, "hebbian");
  assert_string_equal(oja->name, "oja");
  const float alpha = 0.37f;
  double want[NQ * NP], want2[NQ * NP];
  /* Hebbian, no reward: dW = d0 + alpha post^T pre */
  nd_plasticity_input in = {&tpre, &tpost, NULL, NULL, 0, {NULL}};
  memcpy(d, d0, sizeof d);
  nd_assert_ok(nd_plasticity_accumulate(heb, &in, alpha, &td));
  naive(pre, post, w, NULL, false, want);
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] + alpha * want[k], 1e-6, 1e-5);
  /* per-sample reward (twice: the scratch is reused) */
  in.reward = &tr;
  naive(pre, post, w, r, false, want);
  for (int rep = 0; rep < 2; rep++) {
    memcpy(d, d0, sizeof d);
    nd_assert_ok(nd_plasticity_accumulate(heb, &in, alpha, &td));
    for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] + alpha * want[k], 1e-6, 1e-5);
  }
  /* one reward for the batch */
  in.reward = &tr1;
  memcpy(d, d0, sizeof d);
  nd_assert_ok(nd_plasticity_accumulate(heb, &in, alpha, &td));
  naive(pre, post, w, NULL, false, want);
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] + alpha * r[0] * want[k], 1e-6, 1e-5);
  /* Oja (ignores the reward) */
  in.w = &tw;
  memcpy(d, d0, sizeof d);
  nd_assert_ok(nd_plasticity_accumulate(oja, &in, alpha, &td));
  naive(pre, post, w, NULL, true, want2);
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] + alpha * want2[k], 1e-6, 1e-5);
  /* composition: both rules on one buffer add up, in either order */
  in.reward = NULL;
  nd_plasticity_rule *both[2] = {heb, oja}, *rev[2] = {oja, heb};
  memcpy(d, d0, sizeof d);
  nd_assert_ok(nd_plasticity_accumulate_all(both, 2, &in, alpha, &td));
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] + alpha * (want[k] + want2[k]), 1e-6, 1e-5);
  float e[NQ * NP];
  memcpy(e, d, sizeof e);
  memcpy(d, d0, sizeof d);
  nd_assert_ok(nd_plasticity_accumulate_all(rev, 2, &in, alpha, &td));
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], e[k], 1e-6, 1e-6);
  /* combination with a gradient in the same buffer: alpha = -eta makes an
   * SGD step on it move W by +lr eta Delta */
  memcpy(d, d0, sizeof d); /* pretend d0 = dL/dW */
  nd_assert_ok(nd_plasticity_accumulate(heb, &in, -0.5f, &td));
  for (int k = 0; k < NQ * NP; k++) nd_assert_close(d[k], d0[k] - 0.5 * want[k], 1e-6, 1e-5);
  nd_plasticity_rule_free(heb);
  nd_plasticity_rule_free(oja);
  nd_plasticity_rule_free(NULL);
}

static void test_oja_principal_component(void **state) {
  (void)state;
  /* x ~ N(0, C), C = [[3, 1], [1, 2]]: eigenvalues (5 +- sqrt 5)/2, principal
   * eigenvector (1, (sqrt 5 - 1)/2) normalised = (0.8507, 0.5257).  A
   * single linear unit y = w.x under Oja's rule: w -> +-e1, |w| -> 1. */
  const double l1 = (5 + sqrt(5.0)) / 2;
  double e1[2] = {1.0, l1 - 3.0};
  double ne = hypot(e1[0], e1[1]);
  e1[0] /= ne;
  e1[1] /= ne;
  /* Cholesky of C: L = [[sqrt 3, 0], [1/sqrt 3, sqrt(2 - 1/3)]] */
  const double L00 = sqrt(3.0), L10 = 1 / sqrt(3.0), L11 = sqrt(2 - 1.0 / 3);
  enum { BB = 16 };
  float x[BB * 2], z[BB * 2], y[BB], w[2] = {0.3f, -0.8f}, dw[2];
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(BB, 2)), ty = nd_tensor_wrap(y, 2, ND_SHAPE(BB, 1));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(1, 2)), tdw = nd_tensor_wrap(dw, 2, ND_SHAPE(1, 2));
  nd_plasticity_input in = {&tx, &ty, &tw, NULL, 0, {NULL}};
  nd_plasticity_rule *oja;
  nd_assert_ok(nd_oja_create(&oja));
  nd_rng g;
  nd_rng_init(&g, 42);
  const float eta = 0.002f;
  for (int step = 0; step < 6000; step++) {
    nd_rng_normal(&g, z, BB * 2, 0.0f, 1.0f);
    for (int b = 0; b < BB; b++) {
      x[b * 2] = (float)(L00 * z[b * 2]);
      x[b * 2 + 1] = (float)(L10 * z[b * 2] + L11 * z[b * 2 + 1]);
      y[b] = w[0] * x[b * 2] + w[1] * x[b * 2 + 1];
    }
    dw[0] = dw[1] = 0;
    nd_assert_ok(nd_plasticity_accumulate(oja, &in, eta / BB, &tdw));
    w[0] += dw[0];
    w[1] += dw[1];
  }
  double nw = hypot(w[0], w[1]);
  double cosang = fabs(w[0] * e1[0] + w[1] * e1[1]) / nw;
  print_message("oja: w = (%.4f, %.4f), |w| = %.4f, |cos(w, e1)| = %.6f\n", w[0], w[1], nw, cosang);
  assert_true(cosang > 0.999);
  nd_assert_close(nw, 1.0, 0.02, 0);
  /* the plain Hebbian rule on the same data grows without bound instead */
  nd_plasticity_rule *heb;
  nd_assert_ok(nd_hebbian_create(&heb));
  w[0] = 0.3f;
  w[1] = -0.8f;
  for (int step = 0; step < 2000; step++) {
    nd_rng_normal(&g, z, BB * 2, 0.0f, 1.0f);
    for (int b = 0; b < BB; b++) {
      x[b * 2] = (float)(L00 * z[b * 2]);
      x[b * 2 + 1] = (float)(L10 * z[b * 2] + L11 * z[b * 2 + 1]);
      y[b] = w[0] * x[b * 2] + w[1] * x[b * 2 + 1];
    }
    dw[0] = dw[1] = 0;
    nd_assert_ok(nd_plasticity_accumulate(heb, &in, eta / BB, &tdw));
    w[0] += dw[0];
    w[1] += dw[1];
  }
  assert_true(hypot(w[0], w[1]) > 10.0);
  nd_plasticity_rule_free(oja);
  nd_plasticity_rule_free(heb);
}

/* A rule of one's own: the Krotov-Hopfield plasticity (Eq. 3 of Krotov &
 * Hopfield, PNAS 2019), Delta = R^p g^T v - diag(sum_b g o I) W, with
 * pre = v, post = g, w = W and extra[0] = the currents I [batch, H]. */
typedef struct krotov_like {
  nd_plasticity_rule base;
  float rp; /* R^p */
} krotov_like;

static nd_status krotov_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  const krotov_like *k = (const krotov_like *)self;
  const int64_t nb = in->pre->shape[0], D = in->pre->shape[1], H = in->post->shape[1];
  const float *v = in->pre->data, *gg = in->post->data, *I = in->extra[0]->data, *W = in->w->data;
  nd_sgemm(true, false, H, D, nb, alpha * k->rp, gg, H, v, D, 1.0f, dw->data, D);
  for (int64_t u = 0; u < H; u++) {
    double xx = 0;
    for (int64_t b = 0; b < nb; b++) xx += (double)gg[b * H + u] * I[b * H + u];
    for (int64_t i = 0; i < D; i++) dw->data[u * D + i] -= (float)(alpha * xx) * W[u * D + i];
  }
  return ND_OK;
}

static void test_krotov_shaped_rule(void **state) {
  (void)state;
  float v[B * NP], g[B * NQ], w[NQ * NP], cur[B * NQ], d[NQ * NP] = {0};
  fill(v, B * NP, 7, 0, 1);
  fill(w, NQ * NP, 8, -1, 1);
  /* I = v W^T, g in {1, -0.4, 0} */
  for (int b = 0; b < B; b++)
    for (int u = 0; u < NQ; u++) {
      double s = 0;
      for (int i = 0; i < NP; i++) s += (double)v[b * NP + i] * w[u * NP + i];
      cur[b * NQ + u] = (float)s;
      g[b * NQ + u] = (b + u) % 3 == 0 ? 1.0f : (b + u) % 3 == 1 ? -0.4f : 0.0f;
    }
  nd_tensor tv = nd_tensor_wrap(v, 2, ND_SHAPE(B, NP)), tg = nd_tensor_wrap(g, 2, ND_SHAPE(B, NQ));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(NQ, NP)), tc = nd_tensor_wrap(cur, 2, ND_SHAPE(B, NQ));
  nd_tensor td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  krotov_like k = {{"krotov", ND_PLASTICITY_NEEDS_W, 1, krotov_acc, NULL, NULL}, 1.0f};
  nd_plasticity_input in = {&tv, &tg, &tw, NULL, 1, {&tc}};
  nd_assert_ok(nd_plasticity_accumulate(&k.base, &in, 0.25f, &td));
  for (int u = 0; u < NQ; u++)
    for (int i = 0; i < NP; i++) {
      double s = 0, xx = 0;
      for (int b = 0; b < B; b++) {
        s += (double)g[b * NQ + u] * v[b * NP + i];
        xx += (double)g[b * NQ + u] * cur[b * NQ + u];
      }
      nd_assert_close(d[u * NP + i], 0.25 * (s - xx * w[u * NP + i]), 1e-6, 1e-5);
    }
  /* the interface refuses an input without the currents, naming the rule */
  in.n_extra = 0;
  assert_int_equal(nd_plasticity_accumulate(&k.base, &in, 0.25f, &td), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "krotov"));
  assert_non_null(strstr(nd_last_error(), "extra"));
  nd_plasticity_rule_free(&k.base); /* destroy NULL: nothing happens */
}

static void test_errors(void **state) {
  (void)state;
  float pre[B * NP] = {0}, post[B * NQ] = {0}, w[NQ * NP] = {0}, d[NQ * NP], r[B] = {0};
  for (int k = 0; k < NQ * NP; k++) d[k] = 1.5f;
  nd_tensor tpre = nd_tensor_wrap(pre, 2, ND_SHAPE(B, NP)), tpost = nd_tensor_wrap(post, 2, ND_SHAPE(B, NQ));
  nd_tensor tw = nd_tensor_wrap(w, 2, ND_SHAPE(NQ, NP)), td = nd_tensor_wrap(d, 2, ND_SHAPE(NQ, NP));
  nd_tensor bad_d = nd_tensor_wrap(d, 2, ND_SHAPE(NP, NQ)), short_post = nd_tensor_wrap(post, 2, ND_SHAPE(B - 1, NQ));
  nd_tensor bad_r = nd_tensor_wrap(r, 1, ND_SHAPE(B - 1)), flat = nd_tensor_wrap(pre, 1, ND_SHAPE(B * NP));
  nd_plasticity_rule *heb, *oja;
  nd_assert_ok(nd_hebbian_create(&heb));
  nd_assert_ok(nd_oja_create(&oja));
  nd_plasticity_input in = {&tpre, &tpost, NULL, NULL, 0, {NULL}};
  assert_int_equal(nd_plasticity_accumulate(NULL, &in, 1, &td), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_plasticity_accumulate(heb, NULL, 1, &td), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_plasticity_accumulate(heb, &in, 1, NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_plasticity_accumulate(heb, &in, NAN, &td), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_plasticity_accumulate(heb, &in, 1, &bad_d), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "dW is 7x3"));
  assert_int_equal(nd_plasticity_accumulate(oja, &in, 1, &td), ND_ERR_INVALID_ARG); /* W missing */
  assert_non_null(strstr(nd_last_error(), "oja"));
  nd_plasticity_input in2 = in;
  in2.post = &short_post;
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_SHAPE);
  in2 = in;
  in2.pre = &flat;
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_SHAPE);
  in2 = in;
  in2.post = NULL;
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_INVALID_ARG);
  in2 = in;
  in2.reward = &bad_r;
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "reward"));
  in2 = in;
  in2.w = &bad_d;
  assert_int_equal(nd_plasticity_accumulate(oja, &in2, 1, &td), ND_ERR_SHAPE);
  in2 = in;
  in2.n_extra = 1; /* extra[0] NULL */
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_INVALID_ARG);
  in2.n_extra = 9;
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_INVALID_ARG);
  in2.n_extra = 1;
  in2.extra[0] = &td; /* [NQ, NP]: first dimension is not the batch */
  assert_int_equal(nd_plasticity_accumulate(heb, &in2, 1, &td), ND_ERR_SHAPE);
  /* a list is checked before any rule runs */
  nd_plasticity_rule *list[2] = {heb, oja};
  assert_int_equal(nd_plasticity_accumulate_all(list, 2, &in, 1, &td), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_plasticity_accumulate_all(NULL, 2, &in, 1, &td), ND_ERR_INVALID_ARG);
  nd_assert_ok(nd_plasticity_accumulate_all(list, 0, &in, 1, &td));
  for (int k = 0; k < NQ * NP; k++) assert_true(d[k] == 1.5f); /* nothing written by the failures */
  in.w = &tw;
  nd_assert_ok(nd_plasticity_accumulate_all(list, 2, &in, 1, &td));
  assert_int_equal(nd_hebbian_create(NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_oja_create(NULL), ND_ERR_INVALID_ARG);
  nd_plasticity_rule_free(heb);
  nd_plasticity_rule_free(oja);
}


/* Online plasticity attached as an observer: while leaky units
 * y' = -y + x W^T relax, every step adds dt * post(y)^T pre(x) into dW; the
 * result equals the naive sum over the trajectory recorded in the same run
 * by a chained nd_trajectory. */
typedef struct leaky {
  const float *x, *w; /* [B, NP], [NQ, NP] */
} leaky;

static nd_status leaky_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  const leaky *c = user;
  for (int b = 0; b < B; b++)
    for (int j = 0; j < NQ; j++) {
      float s = 0;
      for (int i = 0; i < NP; i++) s += c->x[b * NP + i] * c->w[j * NP + i];
      dy[b * NQ + j] = s - y[b * NQ + j];
    }
  return ND_OK;
}

typedef struct online {
  nd_plasticity_rule *rule;
  nd_tensor *pre, *dw;
  float dt;
  nd_status status;
} online;

static int online_hebb(int64_t step, double t, const float *y, void *user) {
  (void)t;
  online *o = user;
  if (step == 0) return 0;
  nd_tensor post = nd_tensor_wrap((float *)y, 2, ND_SHAPE(B, NQ));
  nd_plasticity_input in = {o->pre, &post, NULL, NULL, 0, {NULL}};
  o->status = nd_plasticity_accumulate(o->rule, &in, o->dt, o->dw);
  return o->status != ND_OK; /* stop the run on an error */
}

static void test_online_via_observer(void **state) {
  (void)state;
  enum { STEPS = 40 };
  float x[B * NP], w[NQ * NP], y[B * NQ] = {0}, dw[NQ * NP] = {0}, frames[(STEPS + 1) * B * NQ];
  fill(x, B * NP, 21, 0, 1);
  fill(w, NQ * NP, 22, -1, 1);
  leaky c = {x, w};
  nd_system sys = {B * NQ, leaky_rhs, &c};
  nd_tensor tx = nd_tensor_wrap(x, 2, ND_SHAPE(B, NP)), tdw = nd_tensor_wrap(dw, 2, ND_SHAPE(NQ, NP));
  nd_plasticity_rule *heb;
  nd_assert_ok(nd_hebbian_create(&heb));
  online o = {heb, &tx, &tdw, 0.05f, ND_OK};
  nd_trajectory tr;
  nd_assert_ok(nd_trajectory_init(&tr, frames, NULL, B * NQ, STEPS + 1, 1));
  nd_observer items[2] = {{nd_trajectory_observe, &tr}, {online_hebb, &o}};
  nd_observer_list list = {items, 2};
  nd_integrator *it;
  nd_assert_ok(nd_integrator_create(ND_INTEGRATOR_RK4, B * NQ, &it));
  nd_integrate_opts io = {nd_observer_chain, &list, 0, 0};
  nd_integrate_result r;
  nd_assert_ok(nd_integrate(it, &sys, 0.0, STEPS * 0.05, 0.05, y, &io, &r));
  nd_assert_ok(o.status);
  assert_int_equal(r.steps, STEPS);
  assert_int_equal(tr.count, STEPS + 1);
  for (int j = 0; j < NQ; j++)
    for (int i = 0; i < NP; i++) {
      double s = 0;
      for (int n = 1; n <= STEPS; n++)
        for (int b = 0; b < B; b++) s += 0.05 * (double)frames[(n * B + b) * NQ + j] * x[b * NP + i];
      nd_assert_close(dw[j * NP + i], s, 1e-5, 1e-5);
    }
  nd_integrator_free(it);
  nd_plasticity_rule_free(heb);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_naive),
      cmocka_unit_test(test_oja_principal_component),
      cmocka_unit_test(test_krotov_shaped_rule),
      cmocka_unit_test(test_online_via_observer),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
