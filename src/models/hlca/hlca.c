/* Hierarchical LCA with top-down feedback (include/neurodyn/hlca.h): a
 * stack of LCA layers (Rozell et al. 2008, Eq. 3.1) each coding the layer
 * below, with the prediction error of the layer above fed back with gain
 * gamma (Boutin et al. 2021, PLoS Comput. Biol. 17(1):e1008629, the feedback
 * term k_FB of their sparse deep predictive coding).  One step per layer l,
 * batched as GEMMs on rows of A_l [B, n_l]:
 *
 *   R_l = A_{l-1} - A_l Phi_l^T                    (residual, A_0 = S)
 *   D_l = R_l Phi_l + A_l - U_l - gamma R_{l+1}    (tau du_l/dt; no last term for l = L)
 *   U_l <- update(U_l, D_l) (accel.h; Euler: U_l + eta D_l),   A_l = T(U_l). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/hlca.h"
#include "neurodyn/kernels.h"
#include "neurodyn/tensor.h"

struct nd_hlca {
  nd_hlca_config c;
  int64_t L, sizes[ND_HLCA_MAX_LAYERS + 1], max_batch, batch;
  float *phi[ND_HLCA_MAX_LAYERS];
  float *u[ND_HLCA_MAX_LAYERS], *a[ND_HLCA_MAX_LAYERS], *d[ND_HLCA_MAX_LAYERS], *r[ND_HLCA_MAX_LAYERS];
  double lip[ND_HLCA_MAX_LAYERS]; /* ||Phi_l||_2^2 */
  double eta;
  nd_accel *acc[ND_HLCA_MAX_LAYERS];
  double *scale, *res;
  unsigned char *active;
};

nd_hlca_config nd_hlca_defaults(void) {
  nd_hlca_config c;
  memset(&c, 0, sizeof c);
  c.threshold = ND_LCA_SOFT;
  for (int l = 0; l < ND_HLCA_MAX_LAYERS; l++) c.lambda[l] = 0.1f;
  c.gain = 0.0;
  c.update = nd_lca_defaults().update;
  c.auto_eta = true;
  c.tol = 1e-4;
  c.max_iter = 1000;
  return c;
}

nd_status nd_hlca_config_check(const nd_hlca_config *c, int64_t layers) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "hlca: config is NULL");
  if (layers < 1 || layers > ND_HLCA_MAX_LAYERS)
    return nd__error(ND_ERR_INVALID_ARG, "hlca: layers %lld must be in 1..%d", (long long)layers, ND_HLCA_MAX_LAYERS);
  if (c->threshold != ND_LCA_SOFT && c->threshold != ND_LCA_NONNEG)
    return nd__error(ND_ERR_INVALID_ARG, "hlca: threshold must be soft or nonneg (the energy argument needs T' >= 0 and a "
                     "convex cost)");
  for (int64_t l = 0; l < layers; l++)
    if (!(c->lambda[l] >= 0) || !isfinite(c->lambda[l]))
      return nd__error(ND_ERR_INVALID_ARG, "hlca: lambda[%lld] %g must be >= 0 and finite", (long long)l, c->lambda[l]);
  if (!(c->gain >= 0) || !isfinite(c->gain)) return nd__error(ND_ERR_INVALID_ARG, "hlca: gain %g must be >= 0 and finite", c->gain);
  ND_TRY(nd_accel_config_check(&c->update));
  if (!(c->tol > 0) || !isfinite(c->tol)) return nd__error(ND_ERR_INVALID_ARG, "hlca: tol %g must be > 0 and finite", c->tol);
  if (c->max_iter < 1) return nd__error(ND_ERR_INVALID_ARG, "hlca: max_iter %lld must be >= 1", (long long)c->max_iter);
  return ND_OK;
}

static bool scaled(const nd_hlca_config *c) {
  const nd_accel_kind k = c->update.kind;
  return c->auto_eta && (k == ND_ACCEL_EULER || k == ND_ACCEL_MOMENTUM || k == ND_ACCEL_NESTEROV);
}

/* The step, and the updates built with it. */
static nd_status pick_eta(nd_hlca *h) {
  h->eta = h->c.update.eta;
  if (scaled(&h->c)) {
    double worst = 0; /* the step 1/L of the stacked gradient: layer l sees ||Phi_l||^2 + gamma (its feedback's a_l term) */
    for (int64_t l = 0; l < h->L; l++) worst = fmax(worst, h->lip[l] + (l + 1 < h->L ? h->c.gain : 0.0));
    h->eta = worst > 0 ? 1.0 / worst : 1.0;
  }
  nd_accel_config ac = h->c.update;
  ac.eta = h->eta;
  for (int64_t l = 0; l < h->L; l++) {
    nd_accel_free(h->acc[l]);
    h->acc[l] = NULL;
    ND_TRY(nd_accel_create(&ac, h->max_batch, h->sizes[l + 1], &h->acc[l]));
  }
  return ND_OK;
}

void nd_hlca_free(nd_hlca *h) {
  if (!h) return;
  for (int64_t l = 0; l < h->L; l++) {
    nd_aligned_free(h->phi[l]);
    nd_aligned_free(h->u[l]), nd_aligned_free(h->a[l]), nd_aligned_free(h->d[l]), nd_aligned_free(h->r[l]);
    nd_accel_free(h->acc[l]);
  }
  free(h->scale), free(h->res), free(h->active);
  free(h);
}

nd_status nd_hlca_create(const nd_hlca_config *c, int64_t layers, const int64_t *sizes, const float *const *phi,
                         int64_t max_batch, nd_hlca **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "hlca: out is NULL");
  *out = NULL;
  ND_TRY(nd_hlca_config_check(c, layers));
  if (!sizes || !phi) return nd__error(ND_ERR_INVALID_ARG, "hlca: %s is NULL", sizes ? "phi" : "sizes");
  if (max_batch < 1) return nd__error(ND_ERR_INVALID_ARG, "hlca: max_batch %lld must be >= 1", (long long)max_batch);
  for (int64_t l = 0; l <= layers; l++)
    if (sizes[l] < 1 || sizes[l] > ND_TENSOR_MAX_NUMEL / max_batch)
      return nd__error(ND_ERR_INVALID_ARG, "hlca: sizes[%lld] = %lld must be >= 1 (and batch x size within the tensor limit)",
                       (long long)l, (long long)sizes[l]);
  for (int64_t l = 0; l < layers; l++) {
    if (!phi[l]) return nd__error(ND_ERR_INVALID_ARG, "hlca: phi[%lld] is NULL", (long long)l);
    if (sizes[l] > ND_TENSOR_MAX_NUMEL / sizes[l + 1])
      return nd__error(ND_ERR_INVALID_ARG, "hlca: dictionary %lld [%lld, %lld] exceeds the tensor limit", (long long)l + 1,
                       (long long)sizes[l], (long long)sizes[l + 1]);
    for (int64_t i = 0; i < sizes[l] * sizes[l + 1]; i++)
      if (!isfinite(phi[l][i]))
        return nd__error(ND_ERR_INVALID_ARG, "hlca: dictionary %lld [%lld, %lld] element %lld is not finite", (long long)l + 1,
                         (long long)sizes[l], (long long)sizes[l + 1], (long long)i);
  }
  nd_hlca *h = calloc(1, sizeof *h);
  if (!h) return nd__error(ND_ERR_NOMEM, "hlca: out of memory");
  h->c = *c;
  h->L = layers;
  h->max_batch = max_batch;
  memcpy(h->sizes, sizes, (size_t)(layers + 1) * sizeof(int64_t));
  bool ok = true;
  for (int64_t l = 0; l < layers && ok; l++) {
    const int64_t m = sizes[l], n = sizes[l + 1];
    h->phi[l] = nd_aligned_alloc((size_t)(m * n) * sizeof(float));
    h->u[l] = nd_aligned_alloc((size_t)(max_batch * n) * sizeof(float));
    h->a[l] = nd_aligned_alloc((size_t)(max_batch * n) * sizeof(float));
    h->d[l] = nd_aligned_alloc((size_t)(max_batch * n) * sizeof(float));
    h->r[l] = nd_aligned_alloc((size_t)(max_batch * m) * sizeof(float));
    ok = h->phi[l] && h->u[l] && h->a[l] && h->d[l] && h->r[l];
    if (ok) memcpy(h->phi[l], phi[l], (size_t)(m * n) * sizeof(float));
  }
  h->scale = calloc((size_t)max_batch, sizeof(double));
  h->res = calloc((size_t)max_batch, sizeof(double));
  h->active = malloc((size_t)max_batch);
  if (!ok || !h->scale || !h->res || !h->active) {
    nd_hlca_free(h);
    return nd__error(ND_ERR_NOMEM, "hlca: out of memory for %lld layers, batch %lld", (long long)layers, (long long)max_batch);
  }
  for (int64_t l = 0; l < layers; l++) { /* ||Phi_l||^2 by the LCA's own power iteration (lca.h) */
    nd_lca_config lc = nd_lca_defaults();
    lc.form = ND_LCA_FORM_TWO_GEMM;
    nd_lca *tmp = NULL;
    nd_status s = nd_lca_create(&lc, h->phi[l], sizes[l], sizes[l + 1], 1, &tmp);
    if (s != ND_OK) {
      nd_hlca_free(h);
      return s;
    }
    h->lip[l] = nd_lca_lipschitz(tmp);
    nd_lca_free(tmp);
  }
  nd_status s = pick_eta(h);
  if (s != ND_OK) {
    nd_hlca_free(h);
    return s;
  }
  *out = h;
  return ND_OK;
}

int64_t nd_hlca_layers(const nd_hlca *h) { return h ? h->L : -1; }
int64_t nd_hlca_size(const nd_hlca *h, int64_t l) { return h && l >= 0 && l <= h->L ? h->sizes[l] : -1; }
double nd_hlca_eta(const nd_hlca *h) { return h ? h->eta : NAN; }

nd_status nd_hlca_set_gain(nd_hlca *h, double gain) {
  if (!h) return nd__error(ND_ERR_INVALID_ARG, "hlca: model is NULL");
  if (!(gain >= 0) || !isfinite(gain)) return nd__error(ND_ERR_INVALID_ARG, "hlca: gain %g must be >= 0 and finite", gain);
  h->c.gain = gain;
  return pick_eta(h);
}

const float *nd_hlca_code(const nd_hlca *h, int64_t l) { return h && l >= 1 && l <= h->L ? h->a[l - 1] : NULL; }

/* R_l = A_{l-1} - A_l Phi_l^T for every layer (rows [0, B)). */
static void residuals(nd_hlca *h, const float *s, const float *const *a, int64_t B) {
  for (int64_t l = 0; l < h->L; l++) {
    const int64_t m = h->sizes[l], n = h->sizes[l + 1];
    memcpy(h->r[l], l == 0 ? s : a[l - 1], (size_t)(B * m) * sizeof(float));
    nd_sgemm(false, true, B, m, n, -1.0f, a[l], n, h->phi[l], n, 1.0f, h->r[l], m);
  }
}

static nd_status check_batch(const nd_hlca *h, const float *s, int64_t batch, const char *who) {
  if (!h || !s) return nd__error(ND_ERR_INVALID_ARG, "%s: %s is NULL", who, h ? "signal" : "model");
  if (batch < 1 || batch > h->max_batch)
    return nd__error(ND_ERR_SHAPE, "%s: batch %lld must be in 1..%lld (max_batch)", who, (long long)batch,
                     (long long)h->max_batch);
  for (int64_t i = 0; i < batch * h->sizes[0]; i++)
    if (!isfinite(s[i])) return nd__error(ND_ERR_INVALID_ARG, "%s: signal element %lld is not finite", who, (long long)i);
  return ND_OK;
}

nd_status nd_hlca_energy(nd_hlca *h, const float *s, const float *const *codes, int64_t batch, double *per_row,
                         double *total, double *layer_terms) {
  ND_TRY(check_batch(h, s, batch, "hlca_energy"));
  if (!codes) return nd__error(ND_ERR_INVALID_ARG, "hlca_energy: codes is NULL");
  for (int64_t l = 0; l < h->L; l++)
    if (!codes[l]) return nd__error(ND_ERR_INVALID_ARG, "hlca_energy: codes[%lld] is NULL", (long long)l);
  residuals(h, s, codes, batch);
  if (total) *total = 0;
  if (layer_terms) memset(layer_terms, 0, (size_t)h->L * sizeof(double));
  for (int64_t b = 0; b < batch; b++) {
    double e = 0, w = 1;
    for (int64_t l = 0; l < h->L; l++) {
      const int64_t m = h->sizes[l], n = h->sizes[l + 1];
      double sq = 0, pen = 0;
      const float *r = h->r[l] + b * m;
      for (int64_t i = 0; i < m; i++) sq += (double)r[i] * r[i];
      ND_TRY(nd_lca_penalty(h->c.threshold, h->c.lambda[l], codes[l] + b * n, n, &pen));
      const double term = 0.5 * sq + pen;
      if (layer_terms) layer_terms[l] += term;
      e += w * term;
      w *= h->c.gain;
    }
    if (per_row) per_row[b] = e;
    if (total) *total += e;
  }
  return ND_OK;
}

nd_status nd_hlca_predict(const nd_hlca *h, int64_t l, const float *a, int64_t batch, float *out) {
  if (!h || !a || !out) return nd__error(ND_ERR_INVALID_ARG, "hlca_predict: NULL argument");
  if (l < 1 || l > h->L) return nd__error(ND_ERR_INVALID_ARG, "hlca_predict: layer %lld must be in 1..%lld", (long long)l,
                                          (long long)h->L);
  if (batch < 1) return nd__error(ND_ERR_INVALID_ARG, "hlca_predict: batch %lld must be >= 1", (long long)batch);
  const int64_t m = h->sizes[l - 1], n = h->sizes[l];
  nd_sgemm(false, true, batch, m, n, 1.0f, a, n, h->phi[l - 1], n, 0.0f, out, m);
  return ND_OK;
}

nd_status nd_hlca_solve(nd_hlca *h, const float *s, int64_t batch, float *const *codes, nd_hlca_result *result) {
  nd_hlca_result rr;
  nd_hlca_result *r = result ? result : &rr;
  memset(r, 0, sizeof *r);
  ND_TRY(check_batch(h, s, batch, "hlca"));
  const int64_t B = batch, L = h->L;
  const float gam = (float)h->c.gain;
  for (int64_t l = 0; l < L; l++) {
    memset(h->u[l], 0, (size_t)(B * h->sizes[l + 1]) * sizeof(float));
    memset(h->a[l], 0, (size_t)(B * h->sizes[l + 1]) * sizeof(float));
  }
  { /* scale: max |Phi_1^T s| per row, into d[0] for the moment */
    const int64_t m = h->sizes[0], n = h->sizes[1];
    nd_sgemm(false, false, B, n, m, 1.0f, s, m, h->phi[0], n, 0.0f, h->d[0], n);
    for (int64_t b = 0; b < B; b++) {
      double mm = 0;
      for (int64_t j = 0; j < n; j++) mm = fmax(mm, fabs((double)h->d[0][b * n + j]));
      h->scale[b] = fmax(mm, 1e-30);
      h->res[b] = INFINITY;
    }
  }
  memset(h->active, 1, (size_t)h->max_batch);
  for (int64_t l = 0; l < L; l++) ND_TRY(nd_accel_reset(h->acc[l]));
  nd_status st = ND_OK;
  r->stop = ND_STOP_MAX_ITER;
  for (int64_t it = 1; it <= h->c.max_iter; it++) {
    residuals(h, s, (const float *const *)h->a, B);
    for (int64_t l = 0; l < L; l++) { /* D_l = R_l Phi_l + A_l - U_l - gamma R_{l+1} */
      const int64_t m = h->sizes[l], n = h->sizes[l + 1];
      float *d = h->d[l];
      const float *a = h->a[l], *u = h->u[l];
      nd_sgemm(false, false, B, n, m, 1.0f, h->r[l], m, h->phi[l], n, 0.0f, d, n);
      const float *rn = l + 1 < L ? h->r[l + 1] : NULL; /* [B, n]: the layer above's residual lives in this layer's space */
      if (rn && gam != 0.0f) {
#pragma omp parallel for schedule(static) if (B * n > 65536)
        for (int64_t i = 0; i < B * n; i++) d[i] += a[i] - u[i] - gam * rn[i];
      } else {
#pragma omp parallel for schedule(static) if (B * n > 65536)
        for (int64_t i = 0; i < B * n; i++) d[i] += a[i] - u[i];
      }
    }
    bool any = false, bad = false;
    for (int64_t b = 0; b < B; b++) {
      if (!h->active[b]) continue;
      double worst = 0;
      for (int64_t l = 0; l < L; l++) {
        const int64_t n = h->sizes[l + 1];
        const float *d = h->d[l] + b * n;
        float dm = 0, chk = 0;
        for (int64_t j = 0; j < n; j++) dm = fmaxf(dm, fabsf(d[j])), chk += d[j];
        if (!isfinite(chk)) dm = INFINITY;
        worst = fmax(worst, (double)dm);
      }
      h->res[b] = worst / h->scale[b];
      if (!isfinite(h->res[b])) bad = true;
      if (h->res[b] <= h->c.tol) h->active[b] = 0;
      else any = true;
    }
    if (bad) {
      r->iterations = it;
      r->stop = ND_STOP_DIVERGED;
      st = nd__error(ND_ERR_NUMERIC, "hlca: state not finite after %lld steps (eta %g too large?)", (long long)it, h->eta);
      break;
    }
    if (!any) {
      r->stop = ND_STOP_TOLERANCE;
      break;
    }
    for (int64_t l = 0; l < L; l++) { /* the rows still running move; a = T(u) */
      const int64_t n = h->sizes[l + 1];
      ND_TRY(nd_accel_step(h->acc[l], h->u[l], h->d[l], B, n, h->active));
      for (int64_t b = 0; b < B; b++)
        if (h->active[b])
          nd_lca_threshold_apply(h->c.threshold, ND_LCA_TEXTBOOK, h->c.lambda[l], h->u[l] + b * n, h->a[l] + b * n, n);
    }
    r->iterations = it;
  }
  for (int64_t b = 0; b < B; b++) r->residual = fmax(r->residual, h->res[b]);
  h->batch = B;
  if (st == ND_OK) {
    double e = 0;
    st = nd_hlca_energy(h, s, (const float *const *)h->a, B, NULL, &e, NULL);
    r->energy = e;
  }
  for (int64_t l = 0; codes && l < L; l++)
    if (codes[l]) memcpy(codes[l], h->a[l], (size_t)(B * h->sizes[l + 1]) * sizeof(float));
  return st;
}
