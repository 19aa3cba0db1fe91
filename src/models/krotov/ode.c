/* Krotov-Hopfield full model: hidden dynamics with global inhibition (Eq. 8),
 * activity function (Eq. 9) and plasticity (Eq. 3) of Krotov & Hopfield,
 * PNAS 116(16):7723, 2019.  See include/neurodyn/krotov.h (part 2) for the
 * equations and docs/krotov.md ("The full ODE model") for the user guide.
 *
 * One minibatch, V [n, D] rows = samples, W [H, D]:
 *   1. Wp = sign(W) |W|^(p-1)                          (Eq. 2 metric; Wp == W for p = 2)
 *   2. I = V Wp^T                                      GEMM [n, H]      (Eq. 8 input current)
 *   3. h = 0; integrate tau dh/dt = I - w_inh (S - r(h)) - h,  S_b = sum_nu r(h_b,nu)
 *                                                      (Eq. 8, Euler or RK4, O(H) per sample)
 *   4. G = g(h)                                        [n, H]           (Eq. 9)
 *   5. ds = R^p G^T V - diag(sum_b G o I) W            GEMM [H, D]      (Eq. 3 right-hand side)
 *   6. W += (lr / tau_L) ds / n                        (Euler step in learning time, batch mean) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"
#include "neurodyn/rng.h"
#include "models/krotov/metric.h"

struct nd_krotov_ode {
  nd_krotov_ode_config c;
  nd_tensor w_view; /* [H, D] view of w */
  float *w;         /* [H, D] weights */
  float *wp;        /* [H, D] sign(W)|W|^(p-1); == w when p == 2 */
  float *cur;       /* [B, H] currents I */
  float *h;         /* [B, H] hidden state */
  float *g;         /* [B, H] g(h) */
  float *ds;        /* [H, D] Eq. 3 right-hand side (batch sum) */
  nd_steady *steady; /* Eq. 8 solver workspace, capacity B*H */
  nd_plasticity_rule *rule; /* Eq. 3 (nd_krotov_plasticity_create) */
  int64_t n_cur;    /* rows of the current system */
  nd_krotov_ode_stats stats;
  float *vbuf;      /* [B, D] gathered minibatch (epoch) */
  nd_sampler sampler; /* per-epoch shuffle, stream nd_rng_split(seed, 2) */
  int64_t epoch;
};

nd_krotov_ode_config nd_krotov_ode_defaults(void) {
  nd_krotov_ode_config c;
  memset(&c, 0, sizeof c);
  c.hidden = 100;
  c.visible = 784;
  c.batch = 100;
  c.p = 2.0;
  c.w_inh = 0.7;
  c.delta = 0.4;
  c.h_star = 0.5;
  c.tau = 1.0;
  c.tau_L = 100.0;
  c.R = 1.0;
  c.integrator = ND_INTEGRATOR_RK4;
  c.dt = 0.05;
  c.t_max = 20.0;
  c.tol = 1e-4;
  c.init_mean = 0.0;
  c.init_std = 1.0;
  c.seed = 0;
  c.lr = 60.0;
  c.lr_end = 5.0;
  c.epochs = 200;
  return c;
}

nd_status nd_krotov_ode_config_check(const nd_krotov_ode_config *c) {
#define KO_POS(field)                                                                                \
  if (!(c->field > 0) || !isfinite(c->field))                                                        \
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: " #field " = %g, must be finite and > 0", c->field);
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: config is NULL");
  if (c->hidden < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: hidden = %lld, must be >= 1", (long long)c->hidden);
  if (c->visible < 1)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: visible = %lld, must be >= 1", (long long)c->visible);
  if (c->batch < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: batch = %lld, must be >= 1", (long long)c->batch);
  if (!(c->p >= 1.0) || !isfinite(c->p)) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: p = %g, must be >= 1", c->p);
  if (!(c->w_inh >= 0) || !isfinite(c->w_inh))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: w_inh = %g, must be finite and >= 0", c->w_inh);
  if (!isfinite(c->delta)) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: delta = %g is not finite", c->delta);
  if (!(c->h_star >= 0) || !isfinite(c->h_star))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: h_star = %g, must be finite and >= 0", c->h_star);
  KO_POS(tau)
  KO_POS(tau_L)
  KO_POS(R)
  KO_POS(dt)
  KO_POS(t_max)
  if (!isfinite(c->lr) || !isfinite(c->lr_end))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: lr = %g, lr_end = %g: must be finite", c->lr, c->lr_end);
  if (c->epochs < 1 || c->epochs > ND_KROTOV_MAX_EPOCHS)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: epochs = %lld, must be in 1..%lld", (long long)c->epochs,
                     (long long)ND_KROTOV_MAX_EPOCHS);
  if (!isfinite(c->tol)) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: tol = %g is not finite", c->tol);
  if (c->integrator != ND_INTEGRATOR_EULER && c->integrator != ND_INTEGRATOR_RK4)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: integrator = %d is not ND_INTEGRATOR_EULER or _RK4",
                     (int)c->integrator);
  if (!(c->init_std >= 0) || !isfinite(c->init_std) || !isfinite(c->init_mean))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: init N(%g, %g^2) is not valid", c->init_mean, c->init_std);
  if (c->t_max / c->dt > 1e9)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: t_max / dt = %g steps is too many", c->t_max / c->dt);
  double hd = (double)c->hidden * (double)c->visible;
  if (hd > 4e9 || (double)c->batch * (double)c->hidden > 4e9 || (double)c->batch * (double)c->visible > 4e9)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: hidden %lld x visible %lld x batch %lld is too large",
                     (long long)c->hidden, (long long)c->visible, (long long)c->batch);
  return ND_OK;
#undef KO_POS
}

void nd_krotov_ode_free(nd_krotov_ode *m) {
  if (!m) return;
  if (m->wp != m->w) nd_aligned_free(m->wp);
  nd_aligned_free(m->w);
  nd_aligned_free(m->cur);
  nd_aligned_free(m->h);
  nd_aligned_free(m->g);
  nd_aligned_free(m->ds);
  nd_aligned_free(m->vbuf);
  nd_steady_free(m->steady);
  nd_plasticity_rule_free(m->rule);
  nd_sampler_release(&m->sampler);
  free(m);
}

nd_status nd_krotov_ode_create(const nd_krotov_ode_config *c, nd_krotov_ode **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: output pointer is NULL");
  *out = NULL;
  ND_TRY(nd_krotov_ode_config_check(c));
  nd_krotov_ode *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "krotov_ode: out of memory");
  m->c = *c;
  const size_t H = (size_t)c->hidden, D = (size_t)c->visible, B = (size_t)c->batch;
  m->w = nd_aligned_alloc(H * D * sizeof(float));
  m->wp = c->p == 2.0 ? m->w : nd_aligned_alloc(H * D * sizeof(float));
  m->cur = nd_aligned_alloc(B * H * sizeof(float));
  m->h = nd_aligned_alloc(B * H * sizeof(float));
  m->g = nd_aligned_alloc(B * H * sizeof(float));
  m->ds = nd_aligned_alloc(H * D * sizeof(float));
  m->vbuf = nd_aligned_alloc(B * D * sizeof(float));
  if (!m->w || !m->wp || !m->cur || !m->h || !m->g || !m->ds || !m->vbuf) {
    nd_krotov_ode_free(m);
    return nd__error(ND_ERR_NOMEM, "krotov_ode: cannot allocate buffers for hidden %lld, visible %lld, batch %lld",
                     (long long)c->hidden, (long long)c->visible, (long long)c->batch);
  }
  nd_status s = nd_steady_create(c->integrator, c->batch * c->hidden, &m->steady);
  if (s == ND_OK) s = nd_krotov_plasticity_create(c->hidden, c->R, c->p, &m->rule);
  if (s != ND_OK) {
    nd_krotov_ode_free(m);
    return s;
  }
  m->w_view = nd_tensor_wrap(m->w, 2, ND_SHAPE(c->hidden, c->visible));
  nd_rng root;
  nd_rng_init(&root, c->seed);
  nd_rng init = nd_rng_split(&root, 1);
  nd_rng_normal(&init, m->w, (int64_t)(H * D), (float)c->init_mean, (float)c->init_std);
  s = nd_sampler_init(&m->sampler, c->batch, true, nd_rng_split(&root, 2)); /* a remainder is skipped */
  if (s != ND_OK) {
    nd_krotov_ode_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}

const nd_krotov_ode_config *nd_krotov_ode_config_of(const nd_krotov_ode *m) { return &m->c; }
const nd_tensor *nd_krotov_ode_weights(const nd_krotov_ode *m) { return &m->w_view; }

nd_status nd_krotov_ode_set_weights(nd_krotov_ode *m, const nd_tensor *w) {
  if (!m || !w) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: set_weights: model or tensor is NULL");
  ND_TRY(nd_tensor_check_shape(w, "krotov_ode weights", 2, ND_SHAPE(m->c.hidden, m->c.visible)));
  return nd_tensor_copy(&m->w_view, w);
}

nd_status nd_krotov_ode_get_state(const nd_krotov_ode *m, nd_train_state *out) {
  if (!m || !out) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: get_state: model or state is NULL");
  out->epoch = m->epoch;
  nd_sampler_get_state(&m->sampler, out);
  return ND_OK;
}

nd_status nd_krotov_ode_set_state(nd_krotov_ode *m, const nd_train_state *s) {
  if (!m || !s) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: set_state: model or state is NULL");
  if (s->epoch < 0) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: state epoch = %lld < 0", (long long)s->epoch);
  ND_TRY(nd_sampler_set_state(&m->sampler, s));
  m->epoch = s->epoch;
  return ND_OK;
}

double nd_krotov_ode_lr(const nd_krotov_ode_config *c, int64_t epoch) {
  /* linear from lr (first epoch) to lr_end (last epoch) */
  if (c->epochs <= 1) return c->lr;
  return c->lr + (c->lr_end - c->lr) * (double)epoch / (double)(c->epochs - 1);
}

nd_krotov_ode_stats nd_krotov_ode_last_stats(const nd_krotov_ode *m) { return m->stats; }

/* Eq. 9: g(h) = 1 (h >= h*), -delta (0 < h < h*), 0 (h <= 0).  With
 * h* = 0 the middle branch is empty. */
float nd_krotov_ode_g(float h, float h_star, float delta) {
  if (h >= h_star && h > 0) return 1.0f;
  if (h > 0) return -delta;
  return 0.0f;
}

void nd_krotov_ode_norms(const nd_krotov_ode *m, double *norms) {
  if (m && norms) nd_krotov_row_pnorms(&m->w_view, m->c.p, norms);
}

static nd_status check_batch(const nd_krotov_ode *m, const void *v, int64_t n, const char *what) {
  if (!m || !v) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: %s: model or input is NULL", what);
  if (n < 1 || n > m->c.batch)
    return nd__error(ND_ERR_SHAPE, "krotov_ode: %s: %lld samples, must be in 1..batch (%lld)", what, (long long)n,
                     (long long)m->c.batch);
  return ND_OK;
}

/* Steps 1-2: Wp = sign(W)|W|^(p-1) (Eq. 2), I = V Wp^T (Eq. 8). */
static void compute_currents(nd_krotov_ode *m, const float *v, int64_t n, float *cur) {
  const int64_t H = m->c.hidden, D = m->c.visible;
  if (m->wp != m->w) nd__krotov_metric_rows(m->w, m->wp, H, D, m->c.p);
  nd_sgemm(false, true, n, H, D, 1.0f, v, D, m->wp, D, 0.0f, cur, H);
}

/* Eq. 8 for one sample: tau dh/dt = I - w_inh (S - r(h)) - h, S = sum_nu r(h_nu). */
static inline void hidden_rhs_row(const float *restrict hb, const float *restrict ib, float *restrict db, int64_t H,
                                  float w_inh, float inv_tau) {
  float total = 0; /* sum_nu r(h_nu) */
#pragma omp simd reduction(+ : total)
  for (int64_t u = 0; u < H; u++) total += hb[u] > 0 ? hb[u] : 0.0f;
#pragma omp simd
  for (int64_t u = 0; u < H; u++) {
    float r = hb[u] > 0 ? hb[u] : 0.0f;
    db[u] = (ib[u] - w_inh * (total - r) - hb[u]) * inv_tau; /* Eq. 8 */
  }
}

/* Eq. 8 for the n samples of the current system, state y = h [n, H]. */
static nd_status hidden_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  const nd_krotov_ode *m = user;
  const int64_t H = m->c.hidden, n = m->n_cur;
  const float w_inh = (float)m->c.w_inh, inv_tau = (float)(1.0 / m->c.tau);
  const float *cur = m->cur;
  if (n * H >= 65536) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < n; b++) hidden_rhs_row(y + b * H, cur + b * H, dy + b * H, H, w_inh, inv_tau);
  } else {
    for (int64_t b = 0; b < n; b++) hidden_rhs_row(y + b * H, cur + b * H, dy + b * H, H, w_inh, inv_tau);
  }
  return ND_OK;
}

/* Steps 1-3: currents into m->cur and the steady state into m->h. */
static nd_status steady_state(nd_krotov_ode *m, const float *v, int64_t n) {
  const int64_t H = m->c.hidden;
  compute_currents(m, v, n, m->cur);
  memset(m->h, 0, (size_t)(n * H) * sizeof(float));
  m->n_cur = n;
  nd_system sys = {n * H, hidden_rhs, m};
  /* from h = 0 over [0, t_max], stopping once max |dh/dt| <= tol (the rate
   * metric; tol <= 0: always to t_max) */
  nd_steady_opts opts = nd_steady_defaults();
  opts.dt = m->c.dt, opts.t_max = m->c.t_max, opts.tol = m->c.tol, opts.rows = n;
  nd_steady_result r;
  nd_status s = nd_steady_solve(m->steady, &sys, m->h, &opts, &r);
  m->stats.steps = r.steps;
  m->stats.t = r.t;
  m->stats.residual = r.residual;
  m->stats.converged = r.converged;
  if (s != ND_OK)
    return nd__error(s, "krotov_ode: hidden dynamics (Eq. 8): %s (dt = %g, w_inh = %g, tau = %g)", nd_last_error(),
                     m->c.dt, m->c.w_inh, m->c.tau);
  /* step 4: G = g(h) (Eq. 9), and activity statistics */
  const float hs = (float)m->c.h_star, dl = (float)m->c.delta;
  int64_t act = 0, hebb = 0, anti = 0;
  for (int64_t i = 0; i < n * H; i++) {
    float h = m->h[i];
    m->g[i] = nd_krotov_ode_g(h, hs, dl);
    act += h > 0;
    hebb += h > 0 && h >= hs;
    anti += h > 0 && h < hs;
  }
  m->stats.frac_active = (double)act / (double)(n * H);
  m->stats.frac_hebb = (double)hebb / (double)(n * H);
  m->stats.frac_anti = (double)anti / (double)(n * H);
  return ND_OK;
}

nd_status nd_krotov_ode_currents(nd_krotov_ode *m, const float *v, int64_t n, float *currents) {
  ND_TRY(check_batch(m, v, n, "currents"));
  if (!currents) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: currents: output is NULL");
  compute_currents(m, v, n, currents);
  return ND_OK;
}

nd_status nd_krotov_ode_hidden(nd_krotov_ode *m, const float *v, int64_t n, float *h, nd_krotov_ode_stats *stats) {
  ND_TRY(check_batch(m, v, n, "hidden"));
  if (!h) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: hidden: output is NULL");
  ND_TRY(steady_state(m, v, n));
  memcpy(h, m->h, (size_t)(n * m->c.hidden) * sizeof(float));
  if (stats) *stats = m->stats;
  return ND_OK;
}

nd_status nd_krotov_ode_minibatch(nd_krotov_ode *m, const float *v, int64_t n, double lr) {
  ND_TRY(check_batch(m, v, n, "minibatch"));
  if (!isfinite(lr)) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: minibatch: lr = %g is not finite", lr);
  const int64_t H = m->c.hidden, D = m->c.visible;
  ND_TRY(steady_state(m, v, n));
  /* step 5: ds = R^p G^T V - diag(xx) W,  xx_mu = sum_b g_b,mu I_b,mu   (Eq. 3, batch sum),
   * through the family's plasticity rule */
  memset(m->ds, 0, sizeof(float) * (size_t)(H * D));
  nd_tensor vt = nd_tensor_wrap((float *)v, 2, ND_SHAPE(n, D)), gt = nd_tensor_wrap(m->g, 2, ND_SHAPE(n, H)),
            it = nd_tensor_wrap(m->cur, 2, ND_SHAPE(n, H)), dst = nd_tensor_wrap(m->ds, 2, ND_SHAPE(H, D));
  nd_plasticity_input in = {.pre = &vt, .post = &gt, .w = &m->w_view, .n_extra = 1, .extra = {&it}};
  ND_TRY(nd_plasticity_accumulate(m->rule, &in, 1.0f, &dst));
  const float *restrict w = m->w;
  float *restrict ds = m->ds;
  bool finite = true;
  (void)w;
#pragma omp parallel for schedule(static) reduction(&& : finite) if (H * D > 65536)
  for (int64_t u = 0; u < H; u++) {
    const float *restrict dr = ds + u * D;
    float acc = 0;
    for (int64_t i = 0; i < D; i++) acc += dr[i] * 0.0f;
    finite = finite && acc == 0.0f; /* NaN/Inf anywhere in the row makes acc NaN */
  }
  if (!finite)
    return nd__error(ND_ERR_NUMERIC,
                     "krotov_ode: minibatch: the Eq. 3 update is not finite (W unchanged); an explicit Euler step "
                     "lr/tau_L = %g is unstable once lr/tau_L * <W,v> exceeds about 1: lower the learning rate",
                     lr / m->c.tau_L);
  /* step 6: W += (lr / tau_L) ds / n   (explicit Euler in learning time, batch mean) */
  const float step = (float)(lr / m->c.tau_L / (double)n);
  float *restrict wm = m->w;
#pragma omp parallel for schedule(static) if (H * D > 65536)
  for (int64_t i = 0; i < H * D; i++) wm[i] += step * ds[i];
  return ND_OK;
}

nd_status nd_krotov_ode_epoch_lr(nd_krotov_ode *m, const float *data, int64_t n, double lr, nd_progress_fn progress,
                                 void *user) {
  if (!m || !data) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: epoch: model or data is NULL");
  const int64_t B = m->c.batch, D = m->c.visible;
  if (n < B)
    return nd__error(ND_ERR_SHAPE, "krotov_ode: epoch: %lld samples, fewer than one minibatch (%lld)", (long long)n,
                     (long long)B);
  if (!isfinite(lr)) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: epoch: lr = %g is not finite", lr);
  const int64_t nb = nd_sampler_batches(&m->sampler, n);
  nd_train_state saved;
  nd_krotov_ode_get_state(m, &saved);
  ND_TRY(nd_sampler_begin(&m->sampler, n));
  const int64_t *rows;
  int64_t count;
  while (nd_sampler_next(&m->sampler, &rows, &count)) {
    nd_sampler_gather(data, D, rows, count, m->vbuf);
    nd_status s = nd_krotov_ode_minibatch(m, m->vbuf, count, lr);
    if (s != ND_OK) {
      nd_krotov_ode_set_state(m, &saved);
      return s;
    }
    if (progress && m->sampler.next < nb) {
      nd_progress_info info = {m->epoch, m->sampler.next, nb};
      if (progress(&info, user)) return ND_OK; /* stopped part-way: the state says where */
    }
  }
  m->epoch++;
  if (progress) progress(&(nd_progress_info){m->epoch - 1, nb, nb}, user);
  return ND_OK;
}

nd_status nd_krotov_ode_epoch(nd_krotov_ode *m, const float *data, int64_t n, nd_progress_fn progress, void *user) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "krotov_ode: epoch: model is NULL");
  return nd_krotov_ode_epoch_lr(m, data, n, nd_krotov_ode_lr(&m->c, m->epoch), progress, user);
}
