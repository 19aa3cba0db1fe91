/* LCA thresholds, costs, names and the configuration (lca.h).
 * Rozell, Johnson, Baraniuk & Olshausen, Neural Comput. 20(10), 2008:
 * soft / hard thresholds Sec. 3.2 (Eq. 3.4-3.5), costs Sec. 2 (Eq. 2.1). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "lca_internal.h"

static const char *const threshold_names[ND_LCA_THRESHOLD_COUNT_] = {"soft", "hard", "nonneg"};
static const char *const variant_names[ND_LCA_VARIANT_COUNT_] = {"textbook", "upstream"};
static const char *const form_names[ND_LCA_FORM_COUNT_] = {"auto", "gram", "two-gemm"};

nd_lca_config nd_lca_defaults(void) {
  nd_lca_config c;
  memset(&c, 0, sizeof c);
  c.threshold = ND_LCA_SOFT;
  c.lambda = 0.1f;
  c.update = nd__lca_default_update();
  c.tol = 1e-4;
  c.max_iter = 1000;
  c.variant = ND_LCA_TEXTBOOK;
  c.form = ND_LCA_FORM_AUTO;
  c.normalize = false;
  c.auto_eta = true;
  return c;
}

nd_status nd_lca_config_check(const nd_lca_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "lca: config is NULL");
  if (c->threshold < 0 || c->threshold >= ND_LCA_THRESHOLD_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "lca: threshold %d is not soft (0), hard (1) or nonneg (2)", (int)c->threshold);
  if (!isfinite(c->lambda) || c->lambda < 0)
    return nd__error(ND_ERR_INVALID_ARG, "lca: lambda %g must be finite and >= 0", (double)c->lambda);
  if (!isfinite(c->tol) || !(c->tol > 0)) return nd__error(ND_ERR_INVALID_ARG, "lca: tol %g must be finite and > 0", c->tol);
  if (c->max_iter < 1 || c->max_iter > ND_LCA_MAX_ITER)
    return nd__error(ND_ERR_INVALID_ARG, "lca: max_iter %lld must be in 1..%lld", (long long)c->max_iter,
                     (long long)ND_LCA_MAX_ITER);
  if (c->variant < 0 || c->variant >= ND_LCA_VARIANT_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "lca: variant %d is not textbook (0) or upstream (1)", (int)c->variant);
  if (c->variant == ND_LCA_UPSTREAM && c->threshold != ND_LCA_SOFT)
    return nd__error(ND_ERR_INVALID_ARG, "lca: the upstream variant's activation is max(lambda, u); threshold must be soft, not %s",
                     threshold_names[c->threshold]);
  if (c->form < 0 || c->form >= ND_LCA_FORM_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "lca: form %d is not auto (0), gram (1) or two-gemm (2)", (int)c->form);
  nd_status s = nd_accel_config_check(&c->update);
  if (s != ND_OK) return nd__error(s, "lca: %s", nd_last_error());
  return ND_OK;
}

static const char *name_of(int v, const char *const *names, int count) {
  return (v >= 0 && v < count) ? names[v] : NULL;
}

const char *nd_lca_threshold_name(nd_lca_threshold t) { return name_of(t, threshold_names, ND_LCA_THRESHOLD_COUNT_); }
const char *nd_lca_variant_name(nd_lca_variant v) { return name_of(v, variant_names, ND_LCA_VARIANT_COUNT_); }
const char *nd_lca_form_name(nd_lca_form f) { return name_of(f, form_names, ND_LCA_FORM_COUNT_); }

nd_status nd_lca_threshold_parse(const char *name, nd_lca_threshold *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_threshold_parse: out is NULL");
  int v;
  nd_status s = nd__parse_choice("lca threshold", name, threshold_names, ND_LCA_THRESHOLD_COUNT_, &v);
  if (out) *out = (nd_lca_threshold)v;
  return s;
}
nd_status nd_lca_variant_parse(const char *name, nd_lca_variant *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_variant_parse: out is NULL");
  int v;
  nd_status s = nd__parse_choice("lca variant", name, variant_names, ND_LCA_VARIANT_COUNT_, &v);
  if (out) *out = (nd_lca_variant)v;
  return s;
}
nd_status nd_lca_form_parse(const char *name, nd_lca_form *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_form_parse: out is NULL");
  int v;
  nd_status s = nd__parse_choice("lca form", name, form_names, ND_LCA_FORM_COUNT_, &v);
  if (out) *out = (nd_lca_form)v;
  return s;
}

void nd__lca_threshold(nd_lca_threshold t, nd_lca_variant v, float lambda, const float *u, float *a, int64_t count) {
  if (v == ND_LCA_UPSTREAM) { /* NeurodynamicalSystems.jl 8333fac: max.(λ, u) */
    for (int64_t i = 0; i < count; i++) a[i] = u[i] > lambda ? u[i] : lambda;
    return;
  }
  switch (t) {
  case ND_LCA_SOFT: /* sign(u) max(|u| - lambda, 0) = u - clamp(u, -lambda, lambda) */
    for (int64_t i = 0; i < count; i++) {
      float x = u[i], c = x < -lambda ? -lambda : (x > lambda ? lambda : x);
      a[i] = x - c;
    }
    break;
  case ND_LCA_HARD: /* u 1[|u| > lambda] */
    for (int64_t i = 0; i < count; i++) a[i] = fabsf(u[i]) > lambda ? u[i] : 0.0f;
    break;
  case ND_LCA_NONNEG: /* max(u - lambda, 0) */
    for (int64_t i = 0; i < count; i++) a[i] = u[i] > lambda ? u[i] - lambda : 0.0f;
    break;
  default: break;
  }
}

double nd__lca_penalty(nd_lca_threshold t, float lambda, const float *a, int64_t count) {
  double p = 0;
  if (t == ND_LCA_HARD) {
    for (int64_t i = 0; i < count; i++) p += a[i] != 0.0f;
    return p * 0.5 * (double)lambda * (double)lambda;
  }
  for (int64_t i = 0; i < count; i++) p += fabs((double)a[i]);
  return p * (double)lambda;
}

static nd_status check_args(const char *fn, nd_lca_threshold t, float lambda, const void *x, const void *y, int64_t count) {
  if (!x || !y) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL array", fn);
  if (count < 0) return nd__error(ND_ERR_INVALID_ARG, "%s: count %lld < 0", fn, (long long)count);
  if (t < 0 || t >= ND_LCA_THRESHOLD_COUNT_) return nd__error(ND_ERR_INVALID_ARG, "%s: unknown threshold %d", fn, (int)t);
  if (!isfinite(lambda) || lambda < 0)
    return nd__error(ND_ERR_INVALID_ARG, "%s: lambda %g must be finite and >= 0", fn, (double)lambda);
  return ND_OK;
}

nd_status nd_lca_threshold_apply(nd_lca_threshold t, nd_lca_variant v, float lambda, const float *u, float *a,
                                 int64_t count) {
  ND_TRY(check_args("nd_lca_threshold_apply", t, lambda, u, a, count));
  if (v < 0 || v >= ND_LCA_VARIANT_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "nd_lca_threshold_apply: unknown variant %d", (int)v);
  nd__lca_threshold(t, v, lambda, u, a, count);
  return ND_OK;
}

nd_status nd_lca_penalty(nd_lca_threshold t, float lambda, const float *a, int64_t count, double *out) {
  if (out) *out = 0;
  ND_TRY(check_args("nd_lca_penalty", t, lambda, a, out, count));
  *out = nd__lca_penalty(t, lambda, a, count);
  return ND_OK;
}
