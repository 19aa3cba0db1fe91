/* Temporal, homeostatic, regulariser and competitive local rules of the
 * SOMPNet seed (include/neurodyn/plasticity.h, docs/somp.md): STDP and its
 * multi-lag and reward-modulated forms, covariance decay, structural and
 * intrinsic plasticity, L2 / mean / sparsity / temporal-VIC regularisers as
 * local gradients, the rule of implication, hard and soft WTA, row
 * normalisation and clipping.  Each is dW += alpha * Delta, Delta as the
 * header defines it; every sum over the batch is one GEMM where it can be. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/plasticity.h"
#include "neurodyn/rng.h"

#define MAX_LAGS 16

typedef struct lrule {
  nd_plasticity_rule base;
  double p[4];
  int64_t group;
  int n_lags, lags[MAX_LAGS], max_lag;
  float *s0, *s1, *s2; /* scratch, grown on demand */
  int64_t c0, c1, c2;
  /* multi-lag history: ring of max_lag + 1 steps of pre and post */
  float *hpre, *hpost;
  int64_t hb, hnp, hnq, hsteps;
  /* covariance decay state */
  float *M, *mpre, *mpost;
  int64_t cnp, cnq, csteps;
  nd_rng rng;
} lrule;

static float *grow(float **p, int64_t *cap, int64_t n, const char *who) {
  if (n <= *cap) return *p;
  float *q = nd_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (!q) {
    nd__error(ND_ERR_NOMEM, "plasticity '%s': cannot allocate %lld floats of scratch", who, (long long)n);
    return NULL;
  }
  memset(q, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
  nd_aligned_free(*p);
  *p = q;
  *cap = n;
  return q;
}

static void lrule_destroy(nd_plasticity_rule *self) {
  lrule *r = (lrule *)self;
  nd_aligned_free(r->s0), nd_aligned_free(r->s1), nd_aligned_free(r->s2);
  nd_aligned_free(r->hpre), nd_aligned_free(r->hpost);
  nd_aligned_free(r->M), nd_aligned_free(r->mpre), nd_aligned_free(r->mpost);
  free(r);
}

static void lrule_reset(nd_plasticity_rule *self, uint64_t seed) {
  lrule *r = (lrule *)self;
  r->hsteps = 0;
  r->csteps = 0;
  nd_rng_init(&r->rng, seed);
}

static nd_status make(const char *name, unsigned needs, int n_extra, nd_plasticity_accumulate_fn fn,
                      nd_plasticity_rule **out, lrule **r) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "%s: output pointer is NULL", name);
  *out = NULL;
  lrule *q = calloc(1, sizeof *q);
  if (!q) return nd__error(ND_ERR_NOMEM, "%s: out of memory", name);
  q->base.name = name;
  q->base.needs = needs;
  q->base.n_extra = n_extra;
  q->base.accumulate = fn;
  q->base.destroy = lrule_destroy;
  q->base.reset = lrule_reset;
  nd_rng_init(&q->rng, 0);
  *r = q;
  *out = &q->base;
  return ND_OK;
}

#define DIMS(in)                                                                                     \
  const int64_t B = (in)->pre->shape[0], np = (in)->pre->shape[1], nq = (in)->post->shape[1]; \
  (void)B, (void)np, (void)nq

static nd_status need_shape(const lrule *r, const nd_tensor *t, int64_t rows, int64_t cols, const char *what) {
  if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols)
    return nd__error(ND_ERR_SHAPE, "plasticity '%s': %s must be [%lld, %lld]", r->base.name, what, (long long)rows,
                     (long long)cols);
  return ND_OK;
}

/* rows of src [B, n] scaled by (1 + r_b) into dst (r per sample) */
static void reward_rows(const float *src, const float *rw, int64_t B, int64_t n, float *dst) {
  for (int64_t b = 0; b < B; b++) {
    const float f = 1.0f + rw[b];
    for (int64_t i = 0; i < n; i++) dst[b * n + i] = f * src[b * n + i];
  }
}

/* -------------------------------------------------------------- STDP */
static nd_status stdp_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  ND_TRY(need_shape(r, in->extra[0], B, np, "extra[0] (pre at t-1)"));
  ND_TRY(need_shape(r, in->extra[1], B, nq, "extra[1] (post at t-1)"));
  const float *post = in->post->data, *postp = in->extra[1]->data;
  if (in->reward && nd_tensor_numel(in->reward) == 1) {
    alpha *= 1.0f + in->reward->data[0];
  } else if (in->reward) {
    float *s = grow(&r->s0, &r->c0, 2 * B * nq, r->base.name);
    if (!s) return ND_ERR_NOMEM;
    reward_rows(post, in->reward->data, B, nq, s);
    reward_rows(postp, in->reward->data, B, nq, s + B * nq);
    post = s, postp = s + B * nq;
  }
  if (nq < 1 || np < 1) return ND_OK;
  nd_sgemm(true, false, nq, np, B, alpha, post, nq, in->extra[0]->data, np, 1.0f, dw->data, np);
  nd_sgemm(true, false, nq, np, B, -alpha, postp, nq, in->pre->data, np, 1.0f, dw->data, np);
  return ND_OK;
}

nd_status nd_stdp_create(nd_plasticity_rule **out) {
  lrule *r = NULL;
  return make("stdp", 0, 2, stdp_acc, out, &r);
}

/* ----------------------------------------------------- multi-lag STDP */
static nd_status mlag_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  const int64_t H = r->max_lag + 1;
  if (r->hb != B || r->hnp != np || r->hnq != nq || !r->hpre) {
    int64_t c = 0;
    nd_aligned_free(r->hpre), nd_aligned_free(r->hpost);
    r->hpre = r->hpost = NULL;
    if (!grow(&r->hpre, &c, H * B * np, r->base.name)) return ND_ERR_NOMEM;
    c = 0;
    if (!grow(&r->hpost, &c, H * B * nq, r->base.name)) return ND_ERR_NOMEM;
    r->hb = B, r->hnp = np, r->hnq = nq, r->hsteps = 0;
  }
  if (in->reward && nd_tensor_numel(in->reward) == 1) alpha *= 1.0f + in->reward->data[0];
  const int64_t t = r->hsteps, slot = t % H;
  memcpy(r->hpre + slot * B * np, in->pre->data, (size_t)(B * np) * sizeof(float));
  memcpy(r->hpost + slot * B * nq, in->post->data, (size_t)(B * nq) * sizeof(float));
  r->hsteps++;
  const float *pre = in->pre->data, *post = in->post->data;
  int64_t o0 = 0;
  for (int s = 0; s < r->n_lags; s++) {
    const int64_t len = nq / r->n_lags + (s < nq % r->n_lags ? 1 : 0), L = r->lags[s];
    if (len > 0 && t >= L && np > 0) {
      const int64_t ls = (t - L) % H;
      const float *prel = r->hpre + ls * B * np, *postl = r->hpost + ls * B * nq;
      nd_sgemm(true, false, len, np, B, alpha, post + o0, nq, prel, np, 1.0f, dw->data + o0 * np, np);
      nd_sgemm(true, false, len, np, B, -alpha, postl + o0, nq, pre, np, 1.0f, dw->data + o0 * np, np);
    }
    o0 += len;
  }
  return ND_OK;
}

nd_status nd_stdp_multilag_create(int n_lags, const int *lags, nd_plasticity_rule **out) {
  static const int def[] = {1, 2, 4, 8, 16};
  if (!lags) lags = def, n_lags = 5;
  if (n_lags < 1 || n_lags > MAX_LAGS)
    return nd__error(ND_ERR_INVALID_ARG, "stdp_multilag: n_lags = %d, need 1..%d", n_lags, MAX_LAGS);
  for (int k = 0; k < n_lags; k++)
    if (lags[k] < 1 || lags[k] > 1024)
      return nd__error(ND_ERR_INVALID_ARG, "stdp_multilag: lags[%d] = %d, need 1..1024", k, lags[k]);
  lrule *r = NULL;
  ND_TRY(make("stdp_multilag", 0, 0, mlag_acc, out, &r));
  r->n_lags = n_lags;
  for (int k = 0; k < n_lags; k++) {
    r->lags[k] = lags[k];
    if (lags[k] > r->max_lag) r->max_lag = lags[k];
  }
  return ND_OK;
}

/* -------------------------------------------------- covariance decay */
static nd_status cd_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  ND_TRY(need_shape(r, in->extra[0], B, np, "extra[0] (pre at t-1)"));
  const double beta = r->p[0], a = r->p[1];
  const float sgn = r->p[2] != 0 ? -1.0f : 1.0f;
  if (r->cnp != np || r->cnq != nq || !r->M) {
    int64_t c = 0;
    nd_aligned_free(r->M), nd_aligned_free(r->mpre), nd_aligned_free(r->mpost);
    r->M = r->mpre = r->mpost = NULL;
    if (!grow(&r->M, &c, nq * np, r->base.name)) return ND_ERR_NOMEM;
    c = 0;
    if (!grow(&r->mpre, &c, np, r->base.name)) return ND_ERR_NOMEM;
    c = 0;
    if (!grow(&r->mpost, &c, nq, r->base.name)) return ND_ERR_NOMEM;
    r->cnp = np, r->cnq = nq, r->csteps = 0;
  }
  const float first = r->csteps == 0 ? 0.0f : (float)beta, rest = r->csteps == 0 ? 1.0f : (float)(1.0 - beta);
  const float *pre = in->extra[0]->data, *post = in->post->data;
  if (nq > 0 && np > 0) nd_sgemm(true, false, nq, np, B, rest / (float)B, post, nq, pre, np, first, r->M, np);
  for (int64_t j = 0; j < np; j++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) s += pre[b * np + j];
    r->mpre[j] = (r->csteps ? first * r->mpre[j] : 0.0f) + rest * (float)(s / (double)B); /* fresh buffers hold garbage */
  }
  for (int64_t i = 0; i < nq; i++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) s += post[b * nq + i];
    r->mpost[i] = (r->csteps ? first * r->mpost[i] : 0.0f) + rest * (float)(s / (double)B);
  }
  r->csteps++;
  const float *w = in->w->data, *mpre = r->mpre;
  float *d = dw->data;
  const float f = alpha * sgn * (float)a;
  for (int64_t i = 0; i < nq; i++) {
    const float *Mi = r->M + i * np, *wi = w + i * np, mq = r->mpost[i];
    float *di = d + i * np;
#pragma omp simd
    for (int64_t j = 0; j < np; j++) di[j] += f * (fabsf(Mi[j] - mq * mpre[j]) - 1.0f) * wi[j];
  }
  return ND_OK;
}

nd_status nd_covariance_decay_create(double beta, double a_cd, bool seed_sign, nd_plasticity_rule **out) {
  if (!(beta >= 0 && beta < 1) || !isfinite(a_cd))
    return nd__error(ND_ERR_INVALID_ARG, "covariance_decay: beta = %g, a_cd = %g: need 0 <= beta < 1, a_cd finite",
                     beta, a_cd);
  lrule *r = NULL;
  ND_TRY(make("covariance_decay", ND_PLASTICITY_NEEDS_W, 1, cd_acc, out, &r));
  r->p[0] = beta, r->p[1] = a_cd, r->p[2] = seed_sign ? 1 : 0;
  return ND_OK;
}

/* --------------------------------------------- structural plasticity */
static nd_status sp_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  const int64_t n = nq * np;
  float *u = grow(&r->s0, &r->c0, n, r->base.name);
  if (!u) return ND_ERR_NOMEM;
  ND_TRY(nd_rng_uniform(&r->rng, u, n, 0.0f, 1.0f));
  const double p = r->p[0] / ((double)np * (double)nq);
  const float g = (float)r->p[1], th = (float)r->p[2];
  const float *w = in->w->data;
  float *d = dw->data;
  for (int64_t k = 0; k < n; k++) {
    if (w[k] == 0.0f) {
      if ((double)u[k] < p) d[k] += alpha * g;
    } else if (fabsf(w[k]) < th) {
      d[k] -= alpha * w[k];
    }
  }
  return ND_OK;
}

nd_status nd_structural_create(double a_sp, double grow_v, double prune_below, uint64_t seed,
                               nd_plasticity_rule **out) {
  if (!(a_sp >= 0) || !isfinite(a_sp) || !isfinite(grow_v) || !(prune_below >= 0) || !isfinite(prune_below))
    return nd__error(ND_ERR_INVALID_ARG, "structural: a_sp = %g, grow = %g, prune_below = %g: need a_sp >= 0, "
                     "prune_below >= 0, all finite", a_sp, grow_v, prune_below);
  lrule *r = NULL;
  ND_TRY(make("structural", ND_PLASTICITY_NEEDS_W, 0, sp_acc, out, &r));
  r->p[0] = a_sp, r->p[1] = grow_v, r->p[2] = prune_below;
  nd_rng_init(&r->rng, seed);
  return ND_OK;
}

/* ---------------------------------------------- intrinsic plasticity */
static nd_status ip_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  if (np != 1)
    return nd__error(ND_ERR_SHAPE, "plasticity 'intrinsic': updates a [n_post, 1] vector: pre must be [batch, 1], "
                     "got %lld columns", (long long)np);
  const float *post = in->post->data;
  for (int64_t i = 0; i < nq; i++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) s += r->p[0] - fabs((double)post[b * nq + i]);
    dw->data[i] += alpha * (float)s;
  }
  return ND_OK;
}

nd_status nd_intrinsic_create(double target, nd_plasticity_rule **out) {
  if (!isfinite(target)) return nd__error(ND_ERR_INVALID_ARG, "intrinsic: target = %g is not finite", target);
  lrule *r = NULL;
  ND_TRY(make("intrinsic", 0, 0, ip_acc, out, &r));
  r->p[0] = target;
  return ND_OK;
}

/* ------------------------------------------------------------------ L2 */
static nd_status l2_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  (void)self;
  nd_axpy(-alpha, in->w->data, dw->data, nd_tensor_numel(dw));
  return ND_OK;
}

nd_status nd_l2_decay_create(nd_plasticity_rule **out) {
  lrule *r = NULL;
  return make("l2", ND_PLASTICITY_NEEDS_W, 0, l2_acc, out, &r);
}

/* ---------------------------------------------------- the loss rules */
/* Delta = -Q^T pre with Q = dL/dpost (o) G, Q in r->s1 [B, nq] */
static nd_status loss_finish(lrule *r, const nd_plasticity_input *in, float alpha, nd_tensor *dw, float *q) {
  DIMS(in);
  const float *G = in->extra[2]->data;
  for (int64_t k = 0; k < B * nq; k++) q[k] *= G[k];
  if (nq > 0 && np > 0) nd_sgemm(true, false, nq, np, B, -alpha, q, nq, in->pre->data, np, 1.0f, dw->data, np);
  (void)r;
  return ND_OK;
}

static nd_status loss_check(lrule *r, const nd_plasticity_input *in, float **q) {
  DIMS(in);
  ND_TRY(need_shape(r, in->extra[1], B, nq, "extra[1] (post at t-1)"));
  ND_TRY(need_shape(r, in->extra[2], B, nq, "extra[2] (gain G)"));
  *q = grow(&r->s1, &r->c1, B * nq, r->base.name);
  return *q ? ND_OK : ND_ERR_NOMEM;
}

static nd_status mr_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  float *q;
  ND_TRY(loss_check(r, in, &q));
  const float *y = in->post->data;
  for (int64_t b = 0; b < B; b++) {
    double s = 0;
    for (int64_t i = 0; i < nq; i++) s += y[b * nq + i];
    const float g = (float)(2.0 * (s - r->p[0]));
    for (int64_t i = 0; i < nq; i++) q[b * nq + i] = g;
  }
  return loss_finish(r, in, alpha, dw, q);
}

nd_status nd_mean_reg_create(double mu, nd_plasticity_rule **out) {
  if (!isfinite(mu)) return nd__error(ND_ERR_INVALID_ARG, "mean_reg: mu = %g is not finite", mu);
  lrule *r = NULL;
  ND_TRY(make("mean_reg", 0, 3, mr_acc, out, &r));
  r->p[0] = mu;
  return ND_OK;
}

static nd_status sr_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  float *q;
  ND_TRY(loss_check(r, in, &q));
  const double rho = r->p[0], eps = 1e-4;
  const float *y = in->post->data;
  for (int64_t k = 0; k < B * nq; k++) {
    const double v = y[k], a = fmin(fmax(fabs(v), eps), 1.0 - eps);
    const double dl = log(a / rho) - log((1.0 - a) / (1.0 - rho));
    q[k] = (float)((v > 0) - (v < 0)) * (float)dl;
  }
  return loss_finish(r, in, alpha, dw, q);
}

nd_status nd_sparsity_reg_create(double target, nd_plasticity_rule **out) {
  if (!(target > 0 && target < 1))
    return nd__error(ND_ERR_INVALID_ARG, "sparsity_reg: target = %g, need 0 < target < 1", target);
  lrule *r = NULL;
  ND_TRY(make("sparsity_reg", 0, 3, sr_acc, out, &r));
  r->p[0] = target;
  return ND_OK;
}

static nd_status vic_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  if (B < 2) return nd__error(ND_ERR_SHAPE, "plasticity 'temporal_vic': needs batch >= 2 (variance), got %lld", (long long)B);
  float *q;
  ND_TRY(loss_check(r, in, &q));
  float *yc = grow(&r->s0, &r->c0, B * nq, r->base.name);
  float *C = yc ? grow(&r->s2, &r->c2, nq * nq + nq, r->base.name) : NULL;
  if (!C) return ND_ERR_NOMEM;
  float *m = C + nq * nq;
  const double lam = r->p[0], mu = r->p[1], nu = r->p[2], gam = r->p[3], n = (double)nq, bm1 = (double)(B - 1);
  const float *y = in->post->data, *yp = in->extra[1]->data;
  for (int64_t i = 0; i < nq; i++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) s += y[b * nq + i];
    m[i] = (float)(s / (double)B);
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < nq; i++) yc[b * nq + i] = y[b * nq + i] - m[i];
  /* invariance and variance */
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < nq; i++) q[b * nq + i] = (float)(2.0 * lam / ((double)B * n)) * (y[b * nq + i] - yp[b * nq + i]);
  for (int64_t i = 0; i < nq; i++) {
    double v = 0;
    for (int64_t b = 0; b < B; b++) v += (double)yc[b * nq + i] * yc[b * nq + i];
    const double sd = sqrt(v / bm1 + 1e-4);
    if (sd < gam)
      for (int64_t b = 0; b < B; b++) q[b * nq + i] -= (float)(mu / n * yc[b * nq + i] / (bm1 * sd));
  }
  /* covariance: C = yc^T yc / (B-1), off-diagonal; grad 4 nu / (n (B-1)) yc C_off */
  if (nu != 0 && nq > 0) {
    nd_sgemm(true, false, nq, nq, B, (float)(1.0 / bm1), yc, nq, yc, nq, 0.0f, C, nq);
    for (int64_t i = 0; i < nq; i++) C[i * nq + i] = 0.0f;
    nd_sgemm(false, false, B, nq, nq, (float)(4.0 * nu / (n * bm1)), yc, nq, C, nq, 1.0f, q, nq);
  }
  return loss_finish(r, in, alpha, dw, q);
}

nd_status nd_temporal_vic_create(double lambda, double mu, double nu, double gamma, nd_plasticity_rule **out) {
  if (!(lambda >= 0 && mu >= 0 && nu >= 0 && gamma > 0) || !isfinite(lambda + mu + nu + gamma))
    return nd__error(ND_ERR_INVALID_ARG, "temporal_vic: lambda = %g, mu = %g, nu = %g, gamma = %g: need >= 0 "
                     "(gamma > 0), finite", lambda, mu, nu, gamma);
  lrule *r = NULL;
  ND_TRY(make("temporal_vic", 0, 3, vic_acc, out, &r));
  r->p[0] = lambda, r->p[1] = mu, r->p[2] = nu, r->p[3] = gamma;
  return ND_OK;
}

/* ----------------------------------------------- rule of implication */
static nd_status imp_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  ND_TRY(need_shape(r, in->extra[0], B, np, "extra[0] (pre at t-1)"));
  float *P = grow(&r->s0, &r->c0, B * np, r->base.name);
  float *Q = P ? grow(&r->s1, &r->c1, B * nq, r->base.name) : NULL;
  float *D = Q ? grow(&r->s2, &r->c2, nq * np, r->base.name) : NULL;
  if (!D) return ND_ERR_NOMEM;
  const float t = (float)r->p[0];
  const float *xp = in->extra[0]->data, *y = in->post->data, *w = in->w->data;
  for (int64_t k = 0; k < B * np; k++) P[k] = xp[k] > t ? 1.0f : 0.0f;
  for (int64_t k = 0; k < B * nq; k++) Q[k] = (fabsf(y[k]) < t ? 1.0f : 0.0f) - (y[k] < -t ? 1.0f : 0.0f);
  if (nq < 1 || np < 1) return ND_OK;
  nd_sgemm(true, false, nq, np, B, 1.0f, Q, nq, P, np, 0.0f, D, np);
  for (int64_t k = 0; k < nq * np; k++)
    if (w[k] != 0.0f) dw->data[k] += alpha * D[k];
  return ND_OK;
}

nd_status nd_implication_create(double threshold, nd_plasticity_rule **out) {
  if (!(threshold >= 0) || !isfinite(threshold))
    return nd__error(ND_ERR_INVALID_ARG, "implication: threshold = %g, need >= 0", threshold);
  lrule *r = NULL;
  ND_TRY(make("implication", ND_PLASTICITY_NEEDS_W, 1, imp_acc, out, &r));
  r->p[0] = threshold;
  return ND_OK;
}

/* ------------------------------------------------- hard and soft WTA */
/* Delta_i. += alpha (sum_b S_bi pre_b - (sum_b S_bi) W_i.), S in q [B, nq] */
static void competitive_finish(const nd_plasticity_input *in, float alpha, nd_tensor *dw, const float *S) {
  DIMS(in);
  if (nq < 1 || np < 1) return;
  nd_sgemm(true, false, nq, np, B, alpha, S, nq, in->pre->data, np, 1.0f, dw->data, np);
  const float *w = in->w->data;
  for (int64_t i = 0; i < nq; i++) {
    double c = 0;
    for (int64_t b = 0; b < B; b++) c += S[b * nq + i];
    nd_axpy(-alpha * (float)c, w + i * np, dw->data + i * np, np);
  }
}

static nd_status hwta_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  float *S = grow(&r->s1, &r->c1, B * nq, r->base.name);
  if (!S) return ND_ERR_NOMEM;
  const int64_t g = r->group > 0 && r->group < nq ? r->group : nq;
  const float *y = in->post->data;
  memset(S, 0, (size_t)(B * nq) * sizeof(float));
  for (int64_t b = 0; b < B; b++)
    for (int64_t i0 = 0; i0 < nq; i0 += g) {
      int64_t best = i0;
      for (int64_t i = i0 + 1; i < i0 + g && i < nq; i++)
        if (y[b * nq + i] > y[b * nq + best]) best = i;
      S[b * nq + best] = 1.0f;
    }
  competitive_finish(in, alpha, dw, S);
  return ND_OK;
}

nd_status nd_hard_wta_create(int64_t group, nd_plasticity_rule **out) {
  if (group < 0) return nd__error(ND_ERR_INVALID_ARG, "hard_wta: group = %lld, need >= 0", (long long)group);
  lrule *r = NULL;
  ND_TRY(make("hard_wta", ND_PLASTICITY_NEEDS_W, 0, hwta_acc, out, &r));
  r->group = group;
  return ND_OK;
}

static nd_status swta_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  float *S = grow(&r->s1, &r->c1, B * nq, r->base.name);
  if (!S) return ND_ERR_NOMEM;
  const double tau = r->p[0];
  const float *y = in->post->data;
  for (int64_t b = 0; b < B; b++) {
    double mx = -INFINITY, z = 0;
    for (int64_t i = 0; i < nq; i++) mx = fmax(mx, y[b * nq + i] / tau);
    for (int64_t i = 0; i < nq; i++) z += exp(y[b * nq + i] / tau - mx);
    for (int64_t i = 0; i < nq; i++) S[b * nq + i] = (float)(exp(y[b * nq + i] / tau - mx) / z);
  }
  competitive_finish(in, alpha, dw, S);
  return ND_OK;
}

nd_status nd_soft_wta_create(double temperature, nd_plasticity_rule **out) {
  if (!(temperature > 0) || !isfinite(temperature))
    return nd__error(ND_ERR_INVALID_ARG, "soft_wta: temperature = %g, need > 0", temperature);
  lrule *r = NULL;
  ND_TRY(make("soft_wta", ND_PLASTICITY_NEEDS_W, 0, swta_acc, out, &r));
  r->p[0] = temperature;
  return ND_OK;
}

/* ------------------------------------------- row normalisation, clip */
static nd_status rown_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  DIMS(in);
  const float *w = in->w->data;
  for (int64_t i = 0; i < nq; i++) {
    const double n = sqrt(nd_dot(w + i * np, w + i * np, np));
    if (n > 0) nd_axpy(alpha * (float)(r->p[0] / n - 1.0), w + i * np, dw->data + i * np, np);
  }
  return ND_OK;
}

nd_status nd_row_normalize_create(double norm, nd_plasticity_rule **out) {
  if (!(norm > 0) || !isfinite(norm)) return nd__error(ND_ERR_INVALID_ARG, "row_normalize: norm = %g, need > 0", norm);
  lrule *r = NULL;
  ND_TRY(make("row_normalize", ND_PLASTICITY_NEEDS_W, 0, rown_acc, out, &r));
  r->p[0] = norm;
  return ND_OK;
}

static nd_status clip_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  lrule *r = (lrule *)self;
  const float c = (float)r->p[0], *w = in->w->data;
  const int64_t n = nd_tensor_numel(dw);
  for (int64_t k = 0; k < n; k++) {
    const float v = w[k] > c ? c : (w[k] < -c ? -c : w[k]);
    dw->data[k] += alpha * (v - w[k]);
  }
  return ND_OK;
}

nd_status nd_clip_rule_create(double limit, nd_plasticity_rule **out) {
  if (!(limit >= 0) || !isfinite(limit)) return nd__error(ND_ERR_INVALID_ARG, "clip: limit = %g, need >= 0", limit);
  lrule *r = NULL;
  ND_TRY(make("clip", ND_PLASTICITY_NEEDS_W, 0, clip_acc, out, &r));
  r->p[0] = limit;
  return ND_OK;
}
