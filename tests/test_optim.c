/* Optimizers, clipping and schedules against independent double-precision
 * implementations of the published update rules (and, for a few cases, the
 * numbers torch.optim 1.13 prints for the same steps):
 *   SGD with momentum/Nesterov: PyTorch's documented form (torch.optim.SGD):
 *     d = g + wd p;  b_1 = d, b_t = mu b_{t-1} + (1 - damp) d;
 *     u = nesterov ? d + mu b_t : b_t;  p -= lr u.
 *   Adam: Kingma & Ba 2015, Algorithm 1 (g += wd p for L2 weight decay):
 *     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *     p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 *   AdamW: Loshchilov & Hutter 2019, Algorithm 2 with eta_t = 1 and the decay
 *     scaled by lr as in PyTorch: p -= lr wd p + lr m_hat / (sqrt(v_hat) + eps),
 *     with m, v from the raw gradient.
 *   RMSProp (Hinton, Lecture 6e; centred: Graves 2013 Eq. 38-40; PyTorch's
 *     placement of eps): v = a v + (1-a) g^2;  ga = a ga + (1-a) g (centred);
 *     s = sqrt(v - ga^2) + eps (centred) or sqrt(v) + eps;
 *     momentum: b = mu b + g / s, p -= lr b; else p -= lr g / s.
 *   Max-normalised momentum (Krotov & Hopfield's DAM notebook):
 *     b = mu b + g / max|g|;  p -= lr b;  p clipped to [-clip, clip]. */
#include <string.h>

#include "nd_test.h"

#define NP 3
#define NSTEPS 3

/* Fixed gradients for steps 1..3 (the gradient does not depend on p). */
static const double grads[NSTEPS][NP] = {{0.5, -1.0, 2.0}, {-0.25, 0.75, 1.5}, {1.0, 0.1, -3.0}};
static const double p0[NP] = {1.0, -2.0, 0.5};

typedef struct ref_state {
  double p[NP], s1[NP], s2[NP], s3[NP];
  int t;
} ref_state;

static void ref_init(ref_state *r) {
  memset(r, 0, sizeof *r);
  for (int j = 0; j < NP; j++) r->p[j] = p0[j];
}

static void ref_step(ref_state *r, const nd_optim_config *c, double lr, const double *g) {
  r->t++;
  const int t = r->t;
  const double wd = c->weight_decay;
  double gmax = 1e-30;
  for (int j = 0; j < NP; j++) gmax = fmax(gmax, fabs(g[j]));
  for (int j = 0; j < NP; j++) {
    double p = r->p[j], d = g[j];
    switch (c->kind) {
      case ND_OPTIM_SGD: {
        d += wd * p;
        if (c->momentum != 0) {
          double b = t == 1 ? d : c->momentum * r->s1[j] + (1.0 - c->dampening) * d;
          r->s1[j] = b;
          d = c->nesterov ? d + c->momentum * b : b;
        }
        p -= lr * d;
        break;
      }
      case ND_OPTIM_ADAM:
      case ND_OPTIM_ADAMW: {
        if (c->kind == ND_OPTIM_ADAM) d += wd * p;
        double m = c->beta1 * r->s1[j] + (1.0 - c->beta1) * d;
        double v = c->beta2 * r->s2[j] + (1.0 - c->beta2) * d * d;
        r->s1[j] = m;
        r->s2[j] = v;
        double mhat = m / (1.0 - pow(c->beta1, t)), vhat = v / (1.0 - pow(c->beta2, t));
        double step = lr * mhat / (sqrt(vhat) + c->eps);
        p = c->kind == ND_OPTIM_ADAMW ? p - lr * wd * p - step : p - step;
        break;
      }
      case ND_OPTIM_RMSPROP: {
        d += wd * p;
        double v = c->alpha * r->s1[j] + (1.0 - c->alpha) * d * d;
        r->s1[j] = v;
        double s;
        if (c->centered) {
          double ga = c->alpha * r->s3[j] + (1.0 - c->alpha) * d;
          r->s3[j] = ga;
          s = sqrt(v - ga * ga) + c->eps;
        } else {
          s = sqrt(v) + c->eps;
        }
        if (c->momentum > 0) {
          double b = c->momentum * r->s2[j] + d / s;
          r->s2[j] = b;
          p -= lr * b;
        } else {
          p -= lr * d / s;
        }
        break;
      }
      case ND_OPTIM_MAXNORM: {
        double b = c->momentum * r->s1[j] + d / gmax;
        r->s1[j] = b;
        p -= lr * b;
        if (c->clip > 0) p = fmin(fmax(p, -c->clip), c->clip);
        break;
      }
      default: fail_msg("unknown kind");
    }
    r->p[j] = p;
  }
}

typedef struct optim_case {
  const char *name;
  nd_optim_config c;
} optim_case;

static nd_optim_config cfg(nd_optim_kind k, float lr, float wd) {
  nd_optim_config c = nd_optim_defaults(k);
  c.lr = lr;
  c.weight_decay = wd;
  return c;
}

/* Runs the library for NSTEPS and checks every step against the reference. */
static void run_case(const optim_case *oc) {
  nd_tensor *p = nd_test_tensor(1, ND_SHAPE(NP)), *g = nd_test_tensor(1, ND_SHAPE(NP));
  for (int j = 0; j < NP; j++) p->data[j] = (float)p0[j];
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&oc->c, 1, &p, &g, &o));
  ref_state r;
  ref_init(&r);
  for (int t = 0; t < NSTEPS; t++) {
    for (int j = 0; j < NP; j++) g->data[j] = (float)grads[t][j];
    nd_assert_close(nd_optim_lr(o), oc->c.lr, 0, 0);
    nd_assert_ok(nd_optim_step(o));
    ref_step(&r, &oc->c, oc->c.lr, grads[t]);
    assert_int_equal(nd_optim_steps(o), t + 1);
    for (int j = 0; j < NP; j++)
      if (fabs(p->data[j] - r.p[j]) > 2e-6 + 2e-6 * fabs(r.p[j]))
        fail_msg("%s step %d element %d: got %.9g, want %.9g", oc->name, t + 1, j, p->data[j], r.p[j]);
  }
  nd_optim_free(o);
  nd_tensor_free(p);
  nd_tensor_free(g);
}

static void test_updates_vs_reference(void **state) {
  (void)state;
  optim_case cases[] = {
      {"sgd", cfg(ND_OPTIM_SGD, 0.1f, 0)},
      {"sgd weight decay", cfg(ND_OPTIM_SGD, 0.1f, 0.05f)},
      {"sgd momentum", cfg(ND_OPTIM_SGD, 0.1f, 0)},
      {"sgd momentum dampening", cfg(ND_OPTIM_SGD, 0.1f, 0)},
      {"sgd nesterov weight decay", cfg(ND_OPTIM_SGD, 0.1f, 0.01f)},
      {"adam", cfg(ND_OPTIM_ADAM, 0.1f, 0)},
      {"adam L2", cfg(ND_OPTIM_ADAM, 0.1f, 0.1f)},
      {"adam betas eps", cfg(ND_OPTIM_ADAM, 0.05f, 0)},
      {"adamw", cfg(ND_OPTIM_ADAMW, 0.1f, 0.2f)},
      {"rmsprop", cfg(ND_OPTIM_RMSPROP, 0.01f, 0)},
      {"rmsprop weight decay", cfg(ND_OPTIM_RMSPROP, 0.01f, 0.1f)},
      {"rmsprop momentum", cfg(ND_OPTIM_RMSPROP, 0.01f, 0)},
      {"rmsprop centered momentum", cfg(ND_OPTIM_RMSPROP, 0.01f, 0)},
      {"maxnorm (DAM notebook), clip hit", cfg(ND_OPTIM_MAXNORM, 0.3f, 0)},
      {"maxnorm no clip", cfg(ND_OPTIM_MAXNORM, 0.3f, 0)},
  };
  cases[2].c.momentum = 0.9f;
  cases[3].c.momentum = 0.8f;
  cases[3].c.dampening = 0.3f;
  cases[4].c.momentum = 0.9f;
  cases[4].c.nesterov = true;
  cases[7].c.beta1 = 0.5f;
  cases[7].c.beta2 = 0.9f;
  cases[7].c.eps = 1e-3f;
  cases[11].c.momentum = 0.5f;
  cases[12].c.momentum = 0.5f;
  cases[12].c.centered = true;
  cases[12].c.alpha = 0.9f;
  cases[13].c.clip = 1.0f; /* p0 = -2 is clipped to -1 at the first step */
  cases[14].c.clip = 0.0f;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_case(&cases[k]);
}

/* A few step-3 values printed by torch.optim (PyTorch 1.13, float32, printed with %.9g) for the
 * same p0 and gradients, so the reference itself is checked against a third
 * implementation:
 *   p = torch.tensor([1., -2., .5], requires_grad=True); opt = <ctor>([p], ...)
 *   for g in grads: p.grad = torch.tensor(g); opt.step()
 * (Debian's /usr/bin/python3 with torch 1.13.0a0 when this test was written). */
#define TORCH_SGD_NESTEROV 0.698189199, -1.86303818, -0.0257178564
#define TORCH_ADAM 0.807555199, -1.88928306, 0.302233398
#define TORCH_ADAMW 0.75323993, -1.77580583, 0.278754592
#define TORCH_RMSPROP 0.934051216, -1.97385287, 0.434176058

static void test_reference_vs_torch(void **state) {
  (void)state;
  struct {
    const char *name;
    nd_optim_config c;
    double want[NP];
  } cases[] = {
      {"SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)", cfg(ND_OPTIM_SGD, 0.1f, 0.01f),
       {TORCH_SGD_NESTEROV}},
      {"Adam(lr=0.1)", cfg(ND_OPTIM_ADAM, 0.1f, 0), {TORCH_ADAM}},
      {"AdamW(lr=0.1, weight_decay=0.2)", cfg(ND_OPTIM_ADAMW, 0.1f, 0.2f), {TORCH_ADAMW}},
      {"RMSprop(lr=0.01, alpha=0.9, momentum=0.5, centered=True)", cfg(ND_OPTIM_RMSPROP, 0.01f, 0),
       {TORCH_RMSPROP}},
  };
  cases[0].c.momentum = 0.9f;
  cases[0].c.nesterov = true;
  cases[3].c.momentum = 0.5f;
  cases[3].c.centered = true;
  cases[3].c.alpha = 0.9f;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    ref_state r;
    ref_init(&r);
    for (int t = 0; t < NSTEPS; t++) ref_step(&r, &cases[k].c, cases[k].c.lr, grads[t]);
    for (int j = 0; j < NP; j++)
      if (fabs(r.p[j] - cases[k].want[j]) > 2e-6 + 2e-6 * fabs(cases[k].want[j]))
        fail_msg("%s element %d: reference %.9g, torch %.9g", cases[k].name, j, r.p[j], cases[k].want[j]);
    run_case(&(optim_case){cases[k].name, cases[k].c});
  }
}

/* Several parameters, and one big enough for the OpenMP path: each element
 * must still follow the same formula. */
static void test_many_params_parallel(void **state) {
  (void)state;
  const int64_t big = 70001;
  nd_tensor *p[2] = {nd_test_tensor(1, ND_SHAPE(big)), nd_test_tensor(2, ND_SHAPE(2, 3))};
  nd_tensor *g[2] = {nd_test_tensor(1, ND_SHAPE(big)), nd_test_tensor(2, ND_SHAPE(2, 3))};
  for (int i = 0; i < 2; i++)
    for (int64_t j = 0; j < nd_tensor_numel(p[i]); j++) p[i]->data[j] = (float)p0[j % NP];
  nd_optim_config c = cfg(ND_OPTIM_ADAMW, 0.1f, 0.2f);
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 2, p, g, &o));
  ref_state r;
  ref_init(&r);
  for (int t = 0; t < NSTEPS; t++) {
    for (int i = 0; i < 2; i++)
      for (int64_t j = 0; j < nd_tensor_numel(g[i]); j++) g[i]->data[j] = (float)grads[t][j % NP];
    nd_assert_ok(nd_optim_step(o));
    ref_step(&r, &c, c.lr, grads[t]);
  }
  for (int i = 0; i < 2; i++)
    for (int64_t j = 0; j < nd_tensor_numel(p[i]); j++)
      if (fabs(p[i]->data[j] - r.p[j % NP]) > 2e-6 + 2e-6 * fabs(r.p[j % NP]))
        fail_msg("param %d element %lld: got %.9g, want %.9g", i, (long long)j, p[i]->data[j], r.p[j % NP]);
  /* zero_grad clears every gradient; reset_state forgets the moments */
  nd_optim_zero_grad(o);
  for (int i = 0; i < 2; i++) assert_true(nd_max_abs(g[i]->data, nd_tensor_numel(g[i])) == 0.0f);
  nd_optim_reset_state(o);
  assert_int_equal(nd_optim_steps(o), 0);
  nd_optim_free(o);
  for (int i = 0; i < 2; i++) {
    nd_tensor_free(p[i]);
    nd_tensor_free(g[i]);
  }
}

/* After reset_state the optimizer behaves as if new (Adam's first step is
 * lr * sign(g) up to eps, Kingma & Ba 2015 Sec. 2.1). */
static void test_reset_state(void **state) {
  (void)state;
  nd_tensor *p = nd_test_tensor(1, ND_SHAPE(NP)), *g = nd_test_tensor(1, ND_SHAPE(NP));
  nd_optim_config c = cfg(ND_OPTIM_ADAM, 0.1f, 0);
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 1, &p, &g, &o));
  for (int t = 0; t < NSTEPS; t++) {
    for (int j = 0; j < NP; j++) g->data[j] = (float)grads[t][j];
    nd_assert_ok(nd_optim_step(o));
  }
  nd_optim_reset_state(o);
  for (int j = 0; j < NP; j++) {
    p->data[j] = 0.0f;
    g->data[j] = (float)grads[0][j];
  }
  nd_assert_ok(nd_optim_step(o));
  for (int j = 0; j < NP; j++) nd_assert_close(p->data[j], grads[0][j] > 0 ? -0.1 : 0.1, 1e-6, 0);
  nd_optim_free(o);
  nd_tensor_free(p);
  nd_tensor_free(g);
}

static void test_nonfinite_and_config_errors(void **state) {
  (void)state;
  nd_tensor *p = nd_test_tensor(1, ND_SHAPE(NP)), *g = nd_test_tensor(1, ND_SHAPE(NP));
  for (int j = 0; j < NP; j++) p->data[j] = (float)p0[j];
  nd_optim_config c = cfg(ND_OPTIM_SGD, 0.1f, 0);
  c.momentum = 0.9f;
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 1, &p, &g, &o));
  g->data[1] = NAN;
  assert_int_equal(nd_optim_step(o), ND_ERR_NUMERIC);
  assert_non_null(strstr(nd_last_error(), "NaN"));
  g->data[1] = INFINITY;
  assert_int_equal(nd_optim_step(o), ND_ERR_NUMERIC);
  assert_int_equal(nd_optim_steps(o), 0);
  for (int j = 0; j < NP; j++) assert_true(p->data[j] == (float)p0[j]);
  nd_optim_free(o);

  struct {
    nd_optim_config c;
    const char *field;
  } bad[8];
  for (int k = 0; k < 8; k++) bad[k].c = cfg(ND_OPTIM_SGD, 0.1f, 0);
  bad[0].c.lr = -1.0f, bad[0].field = "lr";
  bad[1].c.nesterov = true, bad[1].field = "nesterov";
  bad[2].c = cfg(ND_OPTIM_ADAM, 0.1f, 0), bad[2].c.beta1 = 1.0f, bad[2].field = "beta1";
  bad[3].c = cfg(ND_OPTIM_ADAMW, 0.1f, 0), bad[3].c.beta2 = -0.5f, bad[3].field = "beta2";
  bad[4].c = cfg(ND_OPTIM_RMSPROP, 0.1f, 0), bad[4].c.alpha = 1.5f, bad[4].field = "alpha";
  bad[5].c.momentum = 1.0f, bad[5].field = "momentum";
  bad[6].c.weight_decay = NAN, bad[6].field = "weight_decay";
  bad[7].c.kind = ND_OPTIM_KIND_COUNT_, bad[7].field = "kind";
  for (int k = 0; k < 8; k++) {
    o = (nd_optim *)&bad; /* must be reset to NULL on failure */
    assert_int_equal(nd_optim_create(&bad[k].c, 1, &p, &g, &o), ND_ERR_INVALID_ARG);
    assert_null(o);
    assert_non_null(strstr(nd_last_error(), bad[k].field));
  }
  /* a gradient of another shape */
  nd_tensor *g2 = nd_test_tensor(1, ND_SHAPE(NP + 1));
  c = cfg(ND_OPTIM_ADAM, 0.1f, 0);
  assert_int_equal(nd_optim_create(&c, 1, &p, &g2, &o), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "4"));
  nd_tensor_free(g2);
  nd_tensor_free(p);
  nd_tensor_free(g);
}

/* Centred RMSProp with a constant gradient: v - ga^2 -> 0 and rounds to
 * either side of it (for roughly one gradient value in ten); the update must
 * stay finite. */
static void test_rmsprop_centered_constant_gradient(void **state) {
  (void)state;
  const int64_t n = 4096;
  nd_tensor *p = nd_test_tensor(1, ND_SHAPE(n)), *g = nd_test_tensor(1, ND_SHAPE(n));
  nd_rng r;
  nd_rng_init(&r, 3);
  float *gs = malloc((size_t)n * sizeof *gs);
  nd_rng_uniform(&r, gs, n, -4.0f, 4.0f);
  nd_optim_config c = cfg(ND_OPTIM_RMSPROP, 1e-6f, 0);
  c.centered = true;
  c.alpha = 0.9f;
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 1, &p, &g, &o));
  for (int t = 0; t < 400; t++) {
    memcpy(g->data, gs, (size_t)n * sizeof *gs);
    nd_assert_ok(nd_optim_step(o));
  }
  for (int64_t j = 0; j < n; j++)
    if (!isfinite(p->data[j])) fail_msg("element %lld (gradient %.9g) became %g", (long long)j, gs[j], p->data[j]);
  free(gs);
  nd_optim_free(o);
  nd_tensor_free(p);
  nd_tensor_free(g);
}

/* ------------------------------------------------------------- clipping */
static void test_clip_grad_norm(void **state) {
  (void)state;
  nd_tensor *a = nd_test_tensor(1, ND_SHAPE(2)), *b = nd_test_tensor(2, ND_SHAPE(1, 2));
  nd_tensor *gs[2] = {a, b};
  a->data[0] = 3.0f, a->data[1] = 0.0f, b->data[0] = 0.0f, b->data[1] = -4.0f; /* global norm 5 */
  double n = 0;
  nd_assert_ok(nd_clip_grad_norm(gs, 2, 10.0, &n));
  nd_assert_close(n, 5.0, 1e-12, 0);
  assert_true(a->data[0] == 3.0f && b->data[1] == -4.0f); /* below the limit: untouched */
  nd_assert_ok(nd_clip_grad_norm(gs, 2, 1.0, &n));
  nd_assert_close(n, 5.0, 1e-12, 0);
  double coef = 1.0 / (5.0 + 1e-6); /* torch.nn.utils.clip_grad_norm_ */
  nd_assert_close(a->data[0], 3.0 * coef, 1e-7, 1e-6);
  nd_assert_close(b->data[1], -4.0 * coef, 1e-7, 1e-6);
  double after = sqrt((double)a->data[0] * a->data[0] + (double)b->data[1] * b->data[1]);
  nd_assert_close(after, 1.0, 1e-6, 0);
  /* through the optimizer */
  nd_tensor *p1 = nd_test_tensor(1, ND_SHAPE(2)), *p2 = nd_test_tensor(2, ND_SHAPE(1, 2));
  nd_tensor *ps[2] = {p1, p2};
  nd_optim_config c = cfg(ND_OPTIM_SGD, 1.0f, 0);
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 2, ps, gs, &o));
  a->data[0] = 30.0f, b->data[1] = 40.0f;
  nd_assert_ok(nd_optim_clip_grad_norm(o, 0.5, &n));
  nd_assert_close(n, 50.0, 1e-9, 0);
  nd_assert_ok(nd_optim_step(o));
  nd_assert_close(p1->data[0], -30.0 * 0.5 / (50.0 + 1e-6), 1e-7, 1e-6);
  nd_assert_close(p2->data[1], -40.0 * 0.5 / (50.0 + 1e-6), 1e-7, 1e-6);
  nd_optim_free(o);
  nd_tensor_free(a);
  nd_tensor_free(b);
  nd_tensor_free(p1);
  nd_tensor_free(p2);
}

/* ------------------------------------------------------------ schedules */
static void test_schedules(void **state) {
  (void)state;
  const double pi = 3.14159265358979323846;
  nd_schedule s = nd_schedule_constant(0.3f);
  nd_assert_ok(nd_schedule_check(&s));
  for (int64_t t = 0; t < 100; t += 17) nd_assert_close(nd_schedule_lr(&s, t), 0.3, 1e-7, 0);

  /* linear 1.0 -> 0.1 over 10 steps, then flat */
  nd_schedule lin = {.kind = ND_SCHED_LINEAR, .base_lr = 1.0f, .final_lr = 0.1f, .total_steps = 10};
  nd_assert_ok(nd_schedule_check(&lin));
  const int64_t ts[] = {0, 1, 5, 9, 10, 11, 1000};
  for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
    double frac = fmin((double)ts[k] / 10.0, 1.0);
    nd_assert_close(nd_schedule_lr(&lin, ts[k]), 1.0 + (0.1 - 1.0) * frac, 1e-7, 1e-6);
  }
  nd_assert_close(nd_schedule_lr(&lin, 5), 0.55, 1e-7, 0);

  /* cosine (Loshchilov & Hutter 2017, Eq. 5): eta_min + (eta_max - eta_min)(1 + cos(pi t/T))/2 */
  nd_schedule cs = {.kind = ND_SCHED_COSINE, .base_lr = 0.5f, .final_lr = 0.01f, .total_steps = 20};
  nd_assert_ok(nd_schedule_check(&cs));
  for (int64_t t = 0; t <= 25; t++) {
    double frac = fmin((double)t / 20.0, 1.0);
    nd_assert_close(nd_schedule_lr(&cs, t), 0.01 + 0.49 * 0.5 * (1 + cos(pi * frac)), 1e-7, 1e-6);
  }
  nd_assert_close(nd_schedule_lr(&cs, 0), 0.5, 1e-7, 0);
  nd_assert_close(nd_schedule_lr(&cs, 10), 0.255, 1e-7, 1e-6);
  nd_assert_close(nd_schedule_lr(&cs, 20), 0.01, 1e-7, 0);

  /* cosine with 4 warm-up steps: base * (t+1)/4 for t < 4, then cosine over 16 */
  cs.warmup_steps = 4;
  nd_assert_ok(nd_schedule_check(&cs));
  for (int64_t t = 0; t < 4; t++) nd_assert_close(nd_schedule_lr(&cs, t), 0.5 * (double)(t + 1) / 4.0, 1e-7, 1e-6);
  for (int64_t t = 4; t <= 22; t++) {
    double frac = fmin((double)(t - 4) / 16.0, 1.0);
    nd_assert_close(nd_schedule_lr(&cs, t), 0.01 + 0.49 * 0.5 * (1 + cos(pi * frac)), 1e-7, 1e-6);
  }
  /* linear with warm-up */
  lin.warmup_steps = 2;
  nd_assert_close(nd_schedule_lr(&lin, 0), 0.5, 1e-7, 0);
  nd_assert_close(nd_schedule_lr(&lin, 1), 1.0, 1e-7, 0);
  nd_assert_close(nd_schedule_lr(&lin, 2), 1.0, 1e-7, 0);
  nd_assert_close(nd_schedule_lr(&lin, 6), 0.55, 1e-7, 1e-6);

  /* step decay */
  nd_schedule st = {.kind = ND_SCHED_STEP, .base_lr = 1.0f, .step_size = 3, .gamma = 0.5f};
  nd_assert_ok(nd_schedule_check(&st));
  const double want_step[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (int t = 0; t < 7; t++) nd_assert_close(nd_schedule_lr(&st, t), want_step[t], 0, 0);

  /* invalid schedules name the field */
  nd_schedule bad = cs;
  bad.total_steps = 4;
  assert_int_equal(nd_schedule_check(&bad), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "total_steps"));
  bad = st;
  bad.step_size = 0;
  assert_int_equal(nd_schedule_check(&bad), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "step_size"));
  bad = s;
  bad.base_lr = -1.0f;
  assert_int_equal(nd_schedule_check(&bad), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "base_lr"));
}

/* The optimizer uses the schedule's lr for the step it is about to take. */
static void test_optim_with_schedule(void **state) {
  (void)state;
  nd_tensor *p = nd_test_tensor(1, ND_SHAPE(1)), *g = nd_test_tensor(1, ND_SHAPE(1));
  nd_optim_config c = cfg(ND_OPTIM_SGD, 123.0f, 0);
  nd_optim *o;
  nd_assert_ok(nd_optim_create(&c, 1, &p, &g, &o));
  nd_schedule cs = {.kind = ND_SCHED_COSINE, .base_lr = 0.5f, .final_lr = 0.0f, .total_steps = 8, .warmup_steps = 2};
  nd_assert_ok(nd_optim_set_schedule(o, &cs));
  double want = 0;
  for (int t = 0; t < 10; t++) {
    g->data[0] = 1.0f; /* p -= lr_t */
    nd_assert_close(nd_optim_lr(o), nd_schedule_lr(&cs, t), 0, 0);
    want -= nd_schedule_lr(&cs, t);
    nd_assert_ok(nd_optim_step(o));
    nd_assert_close(p->data[0], want, 1e-6, 1e-6);
  }
  nd_optim_set_lr(o, 0.25f); /* drops the schedule */
  nd_assert_close(nd_optim_lr(o), 0.25, 0, 0);
  nd_schedule bad = cs;
  bad.total_steps = 1;
  assert_int_equal(nd_optim_set_schedule(o, &bad), ND_ERR_INVALID_ARG);
  nd_assert_close(nd_optim_lr(o), 0.25, 0, 0);
  nd_optim_free(o);
  nd_tensor_free(p);
  nd_tensor_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_updates_vs_reference),
      cmocka_unit_test(test_reference_vs_torch),
      cmocka_unit_test(test_many_params_parallel),
      cmocka_unit_test(test_reset_state),
      cmocka_unit_test(test_nonfinite_and_config_errors),
      cmocka_unit_test(test_rmsprop_centered_constant_gradient),
      cmocka_unit_test(test_clip_grad_norm),
      cmocka_unit_test(test_schedules),
      cmocka_unit_test(test_optim_with_schedule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
