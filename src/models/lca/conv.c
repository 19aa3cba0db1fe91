/* Convolutional LCA (include/neurodyn/lca.h, "convolutional LCA"): the LCA
 * of Rozell et al. 2008 (Eq. 3.1-3.2) with the dictionary a filter bank,
 * Phi a = conv_transpose(a, w) and Phi^T s = conv(s, w) (kernels.h), so the
 * Toeplitz dictionary is never formed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/lca.h"
#include "neurodyn/rng.h"

struct nd_lca_conv {
  nd_lca_config cfg;
  nd_lca_conv_shape sh;
  int64_t m, n, fsize, max_batch; /* m = C H W, n = F P Q, fsize = C kh kw */
  float *w;                       /* [F, C, kh, kw] */
  float *u, *a, *d, *b;           /* [max_batch, n] */
  float *r;                       /* [max_batch, m] */
  float *ws;                      /* conv workspace */
  double *bmax;                   /* [max_batch] max |Phi^T s| per image */
  unsigned char *active;          /* [max_batch] */
  nd_accel *acc;
  double lipschitz, eta;
  nd_lca_observer_fn obs;
  void *obs_user;
};

nd_status nd_lca_conv_shape_check(const nd_lca_conv_shape *sh, int64_t *m, int64_t *n) {
  if (!sh) return nd__error(ND_ERR_INVALID_ARG, "lca_conv: shape is NULL");
  const struct {
    const char *name;
    int64_t v, lo;
  } f[] = {{"channels", sh->channels, 1}, {"height", sh->height, 1},     {"width", sh->width, 1},
           {"filters", sh->filters, 1},   {"kernel_h", sh->kernel_h, 1}, {"kernel_w", sh->kernel_w, 1},
           {"stride_h", sh->stride_h, 1}, {"stride_w", sh->stride_w, 1}, {"pad_h", sh->pad_h, 0},
           {"pad_w", sh->pad_w, 0}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].v < f[i].lo || f[i].v > (1 << 24))
      return nd__error(ND_ERR_INVALID_ARG, "lca_conv: %s = %lld, need %lld..%d", f[i].name, (long long)f[i].v,
                       (long long)f[i].lo, 1 << 24);
  nd_conv2d_desc d = {1, sh->channels, sh->height, sh->width, sh->filters, sh->kernel_h, sh->kernel_w,
                      sh->stride_h, sh->stride_w, sh->pad_h, sh->pad_w};
  ND_TRY(nd_conv2d_check(&d));
  const int64_t mm = sh->channels * sh->height * sh->width, nn = sh->filters * nd_conv2d_out_h(&d) * nd_conv2d_out_w(&d);
  if (mm > ND_TENSOR_MAX_NUMEL || nn > ND_TENSOR_MAX_NUMEL || sh->filters * sh->channels * sh->kernel_h * sh->kernel_w > ND_TENSOR_MAX_NUMEL)
    return nd__error(ND_ERR_INVALID_ARG, "lca_conv: image %lld or code %lld elements too large", (long long)mm, (long long)nn);
  if (m) *m = mm;
  if (n) *n = nn;
  return ND_OK;
}

static nd_conv2d_desc desc_of(const nd_lca_conv *l, int64_t batch) {
  const nd_lca_conv_shape *s = &l->sh;
  return (nd_conv2d_desc){batch, s->channels, s->height, s->width, s->filters, s->kernel_h, s->kernel_w,
                          s->stride_h, s->stride_w, s->pad_h, s->pad_w};
}

/* out [batch, n] = Phi^T x (x [batch, m]). */
static void phi_t(nd_lca_conv *l, const float *x, int64_t batch, float *out) {
  nd_conv2d_desc d = desc_of(l, batch);
  nd_conv2d_forward(&d, x, l->w, NULL, 0.0f, out, l->ws);
}
/* x[0..8) are all +-0 (a branch-free test the compiler vectorises). */
static inline bool all_zero8(const float *x) {
  uint32_t bits = 0;
  for (int k = 0; k < 8; k++) {
    uint32_t b;
    memcpy(&b, x + k, sizeof b);
    bits |= b & 0x7fffffffu;
  }
  return bits == 0;
}

/* out_b [C, H, W] = Phi a_b by scattering the non-zeros of the code map
 * a_b [F, P, Q]: each adds its filter, scaled, at its position (the
 * definition of the transposed convolution, Phi's column (f, p, q)). */
static void phi_sparse_image(const nd_lca_conv *l, const float *a, float *out) {
  const nd_lca_conv_shape *s = &l->sh;
  const int64_t H = s->height, W = s->width, kh = s->kernel_h, kw = s->kernel_w, C = s->channels;
  const int64_t P = (H + 2 * s->pad_h - kh) / s->stride_h + 1, Q = (W + 2 * s->pad_w - kw) / s->stride_w + 1;
  memset(out, 0, (size_t)(C * H * W) * sizeof *out);
  for (int64_t f = 0; f < s->filters; f++)
    for (int64_t p = 0; p < P; p++) {
      const float *ap = a + (f * P + p) * Q;
      const int64_t y0 = p * s->stride_h - s->pad_h;
      const int64_t ilo = y0 < 0 ? -y0 : 0, ihi = y0 + kh > H ? H - y0 : kh;
      for (int64_t q = 0; q < Q; q++) {
        if (q + 8 <= Q && all_zero8(ap + q)) { /* most of a sparse map: skip 8 at once */
          q += 7;
          continue;
        }
        const float v = ap[q];
        if (v == 0.0f) continue;
        const int64_t x0 = q * s->stride_w - s->pad_w;
        const int64_t jlo = x0 < 0 ? -x0 : 0, jhi = x0 + kw > W ? W - x0 : kw;
        for (int64_t c = 0; c < C; c++) {
          const float *wf = l->w + ((f * C + c) * kh) * kw;
          for (int64_t i = ilo; i < ihi; i++) {
            float *dst = out + (c * H + y0 + i) * W + x0;
            const float *wi = wf + i * kw;
            for (int64_t j = jlo; j < jhi; j++) dst[j] += v * wi[j];
          }
        }
      }
    }
}

/* out [batch, m] = Phi a (a [batch, n]).  Sparse codes (the usual case once
 * the LCA has thresholded) are scattered, costing nnz C kh kw multiply-adds
 * instead of the dense transposed convolution's n C kh kw; the switch-over
 * at 1/8 non-zeros is where the scatter, at about an eighth of the GEMM's
 * rate, costs as much (measured on bench_lca_conv's shapes, docs/lca.md). */
static void phi_nnz(nd_lca_conv *l, const float *a, int64_t batch, int64_t nnz, float *out) {
  if (nnz * 8 <= batch * l->n) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < batch; b++) phi_sparse_image(l, a + b * l->n, out + b * l->m);
    return;
  }
  nd_conv2d_desc d = desc_of(l, batch);
  nd_conv_transpose2d_forward(&d, a, l->w, NULL, 0.0f, out, l->ws);
}

static int64_t count_nonzero(const float *a, int64_t count) {
  int64_t nnz = 0;
#pragma omp parallel for simd reduction(+ : nnz) schedule(static)
  for (int64_t i = 0; i < count; i++) nnz += a[i] != 0.0f;
  return nnz;
}

static void phi(nd_lca_conv *l, const float *a, int64_t batch, float *out) {
  phi_nnz(l, a, batch, count_nonzero(a, batch * l->n), out);
}

/* L = ||Phi||_2^2 by power iteration on Phi^T Phi (one image; u, d, r as
 * scratch), from a fixed Philox start; stops when the Rayleigh quotient
 * changes by < 1e-7 relative, at most 500 rounds. */
static double power_iteration(nd_lca_conv *l) {
  float *v = l->u, *pv = l->r, *q = l->d;
  nd_rng rg;
  nd_rng_init(&rg, 0x1ca);
  nd_rng_normal(&rg, v, l->n, 0.0f, 1.0f);
  double lam = 0;
  for (int it = 0; it < 500; it++) {
    double nv = 0;
    for (int64_t i = 0; i < l->n; i++) nv += (double)v[i] * v[i];
    nv = sqrt(nv);
    if (!(nv > 0)) return lam;
    for (int64_t i = 0; i < l->n; i++) v[i] = (float)(v[i] / nv);
    phi(l, v, 1, pv);
    phi_t(l, pv, 1, q);
    double rq = 0;
    for (int64_t i = 0; i < l->n; i++) rq += (double)v[i] * q[i];
    memcpy(v, q, (size_t)l->n * sizeof *v);
    bool done = it > 5 && fabs(rq - lam) <= 1e-7 * fabs(rq);
    lam = rq;
    if (done) break;
  }
  return lam;
}

static bool uses_auto_eta(const nd_lca_config *c) {
  return c->auto_eta && (c->update.kind == ND_ACCEL_EULER || c->update.kind == ND_ACCEL_MOMENTUM ||
                         c->update.kind == ND_ACCEL_NESTEROV);
}

static nd_status load_filters(nd_lca_conv *l, const float *filters) {
  const int64_t F = l->sh.filters, fs = l->fsize;
  for (int64_t i = 0; i < F * fs; i++)
    if (!isfinite(filters[i]))
      return nd__error(ND_ERR_INVALID_ARG, "lca_conv: filter %lld, element %lld is not finite", (long long)(i / fs),
                       (long long)(i % fs));
  if (l->cfg.normalize)
    for (int64_t f = 0; f < F; f++) {
      double nn = 0;
      for (int64_t j = 0; j < fs; j++) nn += (double)filters[f * fs + j] * filters[f * fs + j];
      if (!(nn > 0)) return nd__error(ND_ERR_INVALID_ARG, "lca_conv: filter %lld is all zero (normalize)", (long long)f);
    }
  memcpy(l->w, filters, (size_t)(F * fs) * sizeof *l->w);
  if (l->cfg.normalize)
    for (int64_t f = 0; f < F; f++) {
      double nn = 0;
      for (int64_t j = 0; j < fs; j++) nn += (double)l->w[f * fs + j] * l->w[f * fs + j];
      const float inv = (float)(1.0 / sqrt(nn));
      for (int64_t j = 0; j < fs; j++) l->w[f * fs + j] *= inv;
    }
  /* L only when the step needs it (a power iteration costs ~100 solves'
   * steps of one image); otherwise on request (nd_lca_conv_lipschitz) */
  l->lipschitz = uses_auto_eta(&l->cfg) ? power_iteration(l) : NAN;
  l->eta = uses_auto_eta(&l->cfg) ? (l->lipschitz > 0 ? 1.0 / l->lipschitz : 1.0) : l->cfg.update.eta;
  if (l->acc && nd_accel_config_of(l->acc)->eta == l->eta) return ND_OK; /* the same step: keep it */
  nd_accel_free(l->acc);
  l->acc = NULL;
  nd_accel_config ac = l->cfg.update;
  ac.eta = l->eta;
  return nd_accel_create(&ac, l->max_batch, l->n, &l->acc);
}

nd_status nd_lca_conv_create(const nd_lca_config *c, const nd_lca_conv_shape *sh, const float *filters,
                             int64_t max_batch, nd_lca_conv **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "lca_conv_create: out is NULL");
  *out = NULL;
  if (!c || !filters) return nd__error(ND_ERR_INVALID_ARG, "lca_conv_create: NULL %s", !c ? "config" : "filters");
  ND_TRY(nd_lca_config_check(c));
  int64_t m, n;
  ND_TRY(nd_lca_conv_shape_check(sh, &m, &n));
  if (max_batch < 1 || max_batch > ND_TENSOR_MAX_NUMEL / (m > n ? m : n))
    return nd__error(ND_ERR_INVALID_ARG, "lca_conv_create: max_batch = %lld out of range", (long long)max_batch);
  nd_lca_conv *l = calloc(1, sizeof *l);
  if (!l) return nd__error(ND_ERR_NOMEM, "lca_conv_create: out of memory");
  l->cfg = *c, l->sh = *sh, l->m = m, l->n = n, l->max_batch = max_batch;
  l->fsize = sh->channels * sh->kernel_h * sh->kernel_w;
  nd_conv2d_desc d = desc_of(l, max_batch), d1 = desc_of(l, 1);
  size_t wsf = nd_conv2d_workspace_floats(&d), ws1 = nd_conv2d_workspace_floats(&d1);
  if (ws1 > wsf) wsf = ws1;
  const size_t bn = (size_t)(max_batch * n) * sizeof(float);
  l->w = nd_aligned_alloc((size_t)(sh->filters * l->fsize) * sizeof(float));
  l->u = nd_aligned_alloc(bn), l->a = nd_aligned_alloc(bn), l->d = nd_aligned_alloc(bn), l->b = nd_aligned_alloc(bn);
  l->r = nd_aligned_alloc((size_t)(max_batch * m) * sizeof(float));
  l->ws = nd_aligned_alloc((wsf ? wsf : 1) * sizeof(float));
  l->bmax = malloc((size_t)max_batch * sizeof *l->bmax);
  l->active = malloc((size_t)max_batch);
  nd_status s = ND_OK;
  if (!l->w || !l->u || !l->a || !l->d || !l->b || !l->r || !l->ws || !l->bmax || !l->active)
    s = nd__error(ND_ERR_NOMEM, "lca_conv_create: cannot allocate for batch %lld of %lld -> %lld", (long long)max_batch,
                  (long long)m, (long long)n);
  if (s == ND_OK) s = load_filters(l, filters);
  if (s != ND_OK) {
    nd_lca_conv_free(l);
    return s;
  }
  *out = l;
  return ND_OK;
}

void nd_lca_conv_free(nd_lca_conv *l) {
  if (!l) return;
  nd_aligned_free(l->w), nd_aligned_free(l->u), nd_aligned_free(l->a), nd_aligned_free(l->d);
  nd_aligned_free(l->b), nd_aligned_free(l->r), nd_aligned_free(l->ws);
  free(l->bmax), free(l->active);
  nd_accel_free(l->acc);
  free(l);
}

nd_status nd_lca_conv_set_filters(nd_lca_conv *l, const float *filters) {
  if (!l || !filters) return nd__error(ND_ERR_INVALID_ARG, "lca_conv_set_filters: NULL argument");
  return load_filters(l, filters);
}

const float *nd_lca_conv_filters(const nd_lca_conv *l) { return l ? l->w : NULL; }
const nd_lca_conv_shape *nd_lca_conv_shape_of(const nd_lca_conv *l) { return l ? &l->sh : NULL; }
double nd_lca_conv_lipschitz(nd_lca_conv *l) {
  if (l && isnan(l->lipschitz)) l->lipschitz = power_iteration(l); /* uses the solve's buffers */
  return l ? l->lipschitz : NAN;
}
double nd_lca_conv_eta(const nd_lca_conv *l) { return l ? l->eta : NAN; }

nd_status nd_lca_conv_set_observer(nd_lca_conv *l, nd_lca_observer_fn fn, void *user) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "lca_conv_set_observer: model is NULL");
  l->obs = fn, l->obs_user = user;
  return ND_OK;
}

static nd_status check_batch(const nd_lca_conv *l, const char *fn, const void *x, const void *y, int64_t batch) {
  if (!l || !x || !y) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (batch < 1 || batch > l->max_batch)
    return nd__error(ND_ERR_SHAPE, "%s: batch %lld, need 1..%lld (max_batch)", fn, (long long)batch,
                     (long long)l->max_batch);
  return ND_OK;
}

static nd_status check_finite(const float *x, int64_t count, const char *what) {
  for (int64_t i = 0; i < count; i++)
    if (!isfinite(x[i])) return nd__error(ND_ERR_INVALID_ARG, "lca_conv: %s element %lld is not finite", what, (long long)i);
  return ND_OK;
}

/* The direction at U: A = T(U), R = S - Phi A, D = Phi^T R - U + A (minus
 * lambda for UPSTREAM); per-image residuals max|D| / max|Phi^T S| into res. */
static void direction(nd_lca_conv *l, const float *s, int64_t batch, double *res) {
  const int64_t n = l->n, m = l->m;
  const nd_lca_config *c = &l->cfg;
  int64_t nnz = 0;
#pragma omp parallel for reduction(+ : nnz) schedule(static)
  for (int64_t b = 0; b < batch; b++) { /* A = T(U), image by image (threads over the batch) */
    nd_lca_threshold_apply(c->threshold, c->variant, c->lambda, l->u + b * n, l->a + b * n, n);
    const float *a = l->a + b * n;
    int64_t k = 0;
#pragma omp simd reduction(+ : k)
    for (int64_t j = 0; j < n; j++) k += a[j] != 0.0f;
    nnz += k;
  }
  phi_nnz(l, l->a, batch, nnz, l->r);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < batch * m; i++) l->r[i] = s[i] - l->r[i];
  phi_t(l, l->r, batch, l->d);
  const float extra = c->variant == ND_LCA_UPSTREAM ? c->lambda : 0.0f;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < batch; b++) {
    float *d = l->d + b * n;
    const float *u = l->u + b * n, *a = l->a + b * n;
    float mx = 0, sum = 0; /* sum: NaN or Inf anywhere makes it non-finite */
#pragma omp simd reduction(max : mx) reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
      const float v = d[j] + a[j] - u[j] - extra;
      d[j] = v;
      const float av = fabsf(v);
      mx = av > mx ? av : mx;
      sum += v;
    }
    res[b] = isfinite(sum) ? (double)mx / (l->bmax[b] > 1e-30 ? l->bmax[b] : 1e-30) : NAN;
  }
}

/* Sum over images of 1/2 ||R_b||^2 + penalty(A_b), from the R and A of the
 * last direction() call. */
static nd_status objective(nd_lca_conv *l, int64_t batch, double *per_row, double *total) {
  double sum = 0;
  for (int64_t b = 0; b < batch; b++) {
    double e = 0, pen = 0;
    const float *r = l->r + b * l->m;
    for (int64_t i = 0; i < l->m; i++) e += 0.5 * (double)r[i] * r[i];
    ND_TRY(nd_lca_penalty(l->cfg.threshold, l->cfg.lambda, l->a + b * l->n, l->n, &pen));
    if (per_row) per_row[b] = e + pen;
    sum += e + pen;
  }
  if (total) *total = sum;
  return ND_OK;
}

nd_status nd_lca_conv_solve(nd_lca_conv *l, const float *s, int64_t batch, float *a, nd_lca_result *result) {
  if (result) memset(result, 0, sizeof *result);
  ND_TRY(check_batch(l, "lca_conv_solve", s, a, batch));
  ND_TRY(check_finite(s, batch * l->m, "input"));
  const int64_t n = l->n;
  phi_t(l, s, batch, l->b);
  for (int64_t b = 0; b < batch; b++) {
    double mx = 0;
    for (int64_t j = 0; j < n; j++) mx = fmax(mx, fabs((double)l->b[b * n + j]));
    l->bmax[b] = mx;
    l->active[b] = 1;
  }
  memset(l->u, 0, (size_t)(batch * n) * sizeof *l->u);
  ND_TRY(nd_accel_reset(l->acc));
  double *res = malloc((size_t)batch * sizeof *res); /* once per solve, not per step */
  if (!res) return nd__error(ND_ERR_NOMEM, "lca_conv_solve: out of memory");
  nd_lca_result r = {0};
  nd_status st = ND_OK;
  for (int64_t it = 0;; it++) {
    direction(l, s, batch, res);
    int64_t left = 0;
    r.residual = 0;
    for (int64_t b = 0; b < batch; b++) {
      if (l->active[b] && res[b] <= l->cfg.tol) l->active[b] = 0;
      left += l->active[b];
      if (!(res[b] <= r.residual)) r.residual = res[b];
    }
    if (!isfinite(r.residual)) {
      r.stop = ND_STOP_DIVERGED;
      st = nd__error(ND_ERR_NUMERIC, "lca_conv_solve: the state became non-finite at step %lld", (long long)it);
      break;
    }
    if (left == 0) {
      r.stop = ND_STOP_TOLERANCE;
      break;
    }
    if (it == l->cfg.max_iter) {
      r.stop = ND_STOP_MAX_ITER;
      break;
    }
    st = nd_accel_step(l->acc, l->u, l->d, batch, n, l->active);
    if (st != ND_OK) break;
    r.iterations = it + 1;
    if (l->obs && l->obs(it + 1, l->a, l->u, batch, l->obs_user)) {
      direction(l, s, batch, res); /* report the state reached */
      r.residual = 0;
      for (int64_t b = 0; b < batch; b++)
        if (!(res[b] <= r.residual)) r.residual = res[b];
      r.stop = ND_STOP_OBSERVER;
      break;
    }
  }
  free(res);
  memcpy(a, l->a, (size_t)(batch * n) * sizeof *a);
  nd_status so = objective(l, batch, NULL, &r.objective);
  if (st == ND_OK) st = so;
  if (result) *result = r;
  return st;
}

nd_status nd_lca_conv_reconstruct(nd_lca_conv *l, const float *a, int64_t batch, float *out) {
  ND_TRY(check_batch(l, "lca_conv_reconstruct", a, out, batch));
  phi(l, a, batch, out);
  return ND_OK;
}

nd_status nd_lca_conv_energy(nd_lca_conv *l, const float *s, const float *a, int64_t batch, double *per_row,
                             double *total) {
  ND_TRY(check_batch(l, "lca_conv_energy", s, a, batch));
  phi(l, a, batch, l->r);
  for (int64_t i = 0; i < batch * l->m; i++) l->r[i] = s[i] - l->r[i];
  memcpy(l->a, a, (size_t)(batch * l->n) * sizeof *a);
  return objective(l, batch, per_row, total);
}
