/* Optimizer-accelerated state updates (accel.h): the formulas and their
 * sources are listed in the header. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/accel.h"
#include "neurodyn/tensor.h"

/* Julia's eps() (Float64 machine epsilon), added by upstream's Adam. */
#define UPSTREAM_EPS 2.220446049250313e-16

struct nd_accel {
  nd_accel_config c;
  int64_t max_rows, cols;
  float *m1;      /* velocity (MOMENTUM, NESTEROV) or first moment (ADAM kinds); NULL if unused */
  float *m2;      /* second moment (RMSPROP, ADAM kinds) */
  int64_t *t;     /* per-row step counters */
  double *s;      /* per-row FISTA sequence s_t */
};

static const char *const kind_names[ND_ACCEL_KIND_COUNT_] = {
    "euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam", "upstream-rmsprop"};
static const char *const schedule_names[ND_ACCEL_SCHEDULE_COUNT_] = {"constant", "fista"};

nd_accel_config nd_accel_defaults(nd_accel_kind kind) {
  nd_accel_config c;
  memset(&c, 0, sizeof c);
  c.kind = (kind >= 0 && kind < ND_ACCEL_KIND_COUNT_) ? kind : ND_ACCEL_EULER;
  c.eta = 0.01;
  c.mu = 0.9;
  c.schedule = ND_ACCEL_MU_CONSTANT;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.eps = 1e-8;
  switch (c.kind) {
  case ND_ACCEL_RMSPROP: c.beta2 = 0.99; break;
  case ND_ACCEL_UPSTREAM_ADAM: c.beta1 = 0.65; c.beta2 = 0.75; c.eps = UPSTREAM_EPS; break;
  case ND_ACCEL_UPSTREAM_RMSPROP: c.beta1 = 0.65; c.beta2 = 0.75; c.eps = UPSTREAM_EPS; break;
  default: break;
  }
  return c;
}

const char *nd_accel_name(nd_accel_kind kind) {
  return (kind >= 0 && kind < ND_ACCEL_KIND_COUNT_) ? kind_names[kind] : NULL;
}

const char *nd_accel_schedule_name(nd_accel_schedule s) {
  return (s >= 0 && s < ND_ACCEL_SCHEDULE_COUNT_) ? schedule_names[s] : NULL;
}

nd_status nd_accel_parse(const char *name, nd_accel_kind *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_accel_parse: out is NULL");
  int k;
  nd_status s = nd__parse_choice("update", name, kind_names, ND_ACCEL_KIND_COUNT_, &k);
  if (out) *out = (nd_accel_kind)k;
  return s;
}

nd_status nd_accel_schedule_parse(const char *name, nd_accel_schedule *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_accel_schedule_parse: out is NULL");
  int k;
  nd_status s = nd__parse_choice("momentum schedule", name, schedule_names, ND_ACCEL_SCHEDULE_COUNT_, &k);
  if (out) *out = (nd_accel_schedule)k;
  return s;
}

static bool in_unit(double x) { return isfinite(x) && x >= 0 && x < 1; }

nd_status nd_accel_config_check(const nd_accel_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "update: config is NULL");
  if (c->kind < 0 || c->kind >= ND_ACCEL_KIND_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "update: kind %d is not one of the %d kinds", (int)c->kind,
                     (int)ND_ACCEL_KIND_COUNT_);
  if (!isfinite(c->eta) || c->eta <= 0) return nd__error(ND_ERR_INVALID_ARG, "update: eta %g must be finite and > 0", c->eta);
  switch (c->kind) {
  case ND_ACCEL_MOMENTUM:
  case ND_ACCEL_NESTEROV:
    if (!in_unit(c->mu)) return nd__error(ND_ERR_INVALID_ARG, "update: mu %g must be in [0, 1)", c->mu);
    if (c->schedule < 0 || c->schedule >= ND_ACCEL_SCHEDULE_COUNT_)
      return nd__error(ND_ERR_INVALID_ARG, "update: schedule %d is not constant (0) or fista (1)", (int)c->schedule);
    break;
  case ND_ACCEL_RMSPROP:
  case ND_ACCEL_ADAM:
  case ND_ACCEL_UPSTREAM_ADAM:
  case ND_ACCEL_UPSTREAM_RMSPROP:
    if ((c->kind != ND_ACCEL_RMSPROP) && !in_unit(c->beta1))
      return nd__error(ND_ERR_INVALID_ARG, "update: beta1 %g must be in [0, 1)", c->beta1);
    if (c->kind == ND_ACCEL_UPSTREAM_ADAM && c->beta1 == 0)
      return nd__error(ND_ERR_INVALID_ARG, "update: beta1 must be > 0 for upstream-adam (it divides by beta1)");
    if (c->kind != ND_ACCEL_UPSTREAM_RMSPROP && !in_unit(c->beta2))
      return nd__error(ND_ERR_INVALID_ARG, "update: beta2 %g must be in [0, 1)", c->beta2);
    if (c->kind == ND_ACCEL_UPSTREAM_ADAM && c->beta2 == 0)
      return nd__error(ND_ERR_INVALID_ARG, "update: beta2 must be > 0 for upstream-adam (it divides by beta2)");
    if (!isfinite(c->eps) || c->eps < 0) return nd__error(ND_ERR_INVALID_ARG, "update: eps %g must be finite and >= 0", c->eps);
    if (c->kind == ND_ACCEL_UPSTREAM_RMSPROP && !(c->eps > 0))
      return nd__error(ND_ERR_INVALID_ARG, "update: eps must be > 0 for upstream-rmsprop (it divides by r + eps)");
    break;
  default: break;
  }
  return ND_OK;
}

void nd_accel_free(nd_accel *acc) {
  if (!acc) return;
  nd_aligned_free(acc->m1);
  nd_aligned_free(acc->m2);
  free(acc->t);
  free(acc->s);
  free(acc);
}

nd_status nd_accel_create(const nd_accel_config *c, int64_t max_rows, int64_t cols, nd_accel **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_accel_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_accel_config_check(c));
  if (max_rows < 1 || cols < 1 || max_rows > ND_TENSOR_MAX_NUMEL / cols)
    return nd__error(ND_ERR_INVALID_ARG, "nd_accel_create: state [%lld, %lld] must have sizes >= 1 and at most 2^36 numbers",
                     (long long)max_rows, (long long)cols);
  nd_accel *a = calloc(1, sizeof *a);
  if (!a) return nd__error(ND_ERR_NOMEM, "nd_accel_create: out of memory");
  a->c = *c;
  a->max_rows = max_rows;
  a->cols = cols;
  size_t bytes = (size_t)(max_rows * cols) * sizeof(float);
  bool need1 = c->kind != ND_ACCEL_EULER && c->kind != ND_ACCEL_RMSPROP && c->kind != ND_ACCEL_UPSTREAM_RMSPROP;
  bool need2 = c->kind >= ND_ACCEL_RMSPROP;
  a->t = calloc((size_t)max_rows, sizeof *a->t);
  a->s = calloc((size_t)max_rows, sizeof *a->s);
  if (need1) a->m1 = nd_aligned_alloc(bytes);
  if (need2) a->m2 = nd_aligned_alloc(bytes);
  if (!a->t || !a->s || (need1 && !a->m1) || (need2 && !a->m2)) {
    nd_accel_free(a);
    return nd__error(ND_ERR_NOMEM, "nd_accel_create: out of memory for a [%lld, %lld] state", (long long)max_rows,
                     (long long)cols);
  }
  nd_accel_reset(a);
  *out = a;
  return ND_OK;
}

nd_status nd_accel_reset(nd_accel *acc) {
  if (!acc) return nd__error(ND_ERR_INVALID_ARG, "nd_accel_reset: accel is NULL");
  size_t bytes = (size_t)(acc->max_rows * acc->cols) * sizeof(float);
  if (acc->m1) memset(acc->m1, 0, bytes);
  if (acc->m2) memset(acc->m2, 0, bytes);
  for (int64_t r = 0; r < acc->max_rows; r++) {
    acc->t[r] = 0;
    acc->s[r] = 1.0;
  }
  return ND_OK;
}

const nd_accel_config *nd_accel_config_of(const nd_accel *acc) { return acc ? &acc->c : NULL; }

/* The momentum coefficient of this row's step (FISTA's rises with t). */
static float row_mu(nd_accel *a, int64_t r) {
  if (a->c.schedule == ND_ACCEL_MU_CONSTANT) return (float)a->c.mu;
  double s = a->s[r], next = (1.0 + sqrt(1.0 + 4.0 * s * s)) / 2.0; /* Beck & Teboulle 2009, Eq. 4.2 */
  a->s[r] = next;
  return (float)((s - 1.0) / next); /* Eq. 4.3 */
}

/* Heavy ball or Nesterov on one row, with O'Donoghue-Candes restart. */
static void step_momentum(nd_accel *a, int64_t r, float *x, const float *d, float *v, int64_t n) {
  if (a->c.restart && a->t[r] > 0) {
    double dot = 0;
    for (int64_t j = 0; j < n; j++) dot += (double)d[j] * v[j];
    if (dot < 0) {
      memset(v, 0, (size_t)n * sizeof *v);
      a->t[r] = 0;
      a->s[r] = 1.0;
    }
  }
  a->t[r]++;
  float mu = row_mu(a, r), eta = (float)a->c.eta;
  if (a->c.kind == ND_ACCEL_MOMENTUM) {
    for (int64_t j = 0; j < n; j++) {
      v[j] = mu * v[j] + d[j];
      x[j] += eta * v[j];
    }
  } else {
    for (int64_t j = 0; j < n; j++) {
      v[j] = mu * v[j] + d[j];
      x[j] += eta * (d[j] + mu * v[j]);
    }
  }
}

static void step_row(nd_accel *a, int64_t r, float *x, const float *d, int64_t n) {
  const nd_accel_config *c = &a->c;
  float *m1 = a->m1 ? a->m1 + r * n : NULL, *m2 = a->m2 ? a->m2 + r * n : NULL;
  float eta = (float)c->eta;
  switch (c->kind) {
  case ND_ACCEL_EULER:
    a->t[r]++;
    for (int64_t j = 0; j < n; j++) x[j] += eta * d[j];
    break;
  case ND_ACCEL_MOMENTUM:
  case ND_ACCEL_NESTEROV: step_momentum(a, r, x, d, m1, n); break;
  case ND_ACCEL_RMSPROP: {
    a->t[r]++;
    float rho = (float)c->beta2, eps = (float)c->eps;
    for (int64_t j = 0; j < n; j++) {
      m2[j] = rho * m2[j] + (1.0f - rho) * d[j] * d[j];
      x[j] += eta * d[j] / (sqrtf(m2[j]) + eps);
    }
    break;
  }
  case ND_ACCEL_ADAM: {
    int64_t t = ++a->t[r];
    float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    float c1 = (float)(1.0 - pow(c->beta1, (double)t)), c2 = (float)(1.0 - pow(c->beta2, (double)t));
    for (int64_t j = 0; j < n; j++) {
      m1[j] = b1 * m1[j] + (1.0f - b1) * d[j];
      m2[j] = b2 * m2[j] + (1.0f - b2) * d[j] * d[j];
      x[j] += eta * (m1[j] / c1) / (sqrtf(m2[j] / c2) + eps);
    }
    break;
  }
  case ND_ACCEL_UPSTREAM_ADAM: {
    /* Julia promotes to Float64 where eps() enters, then stores Float32. */
    a->t[r]++;
    float b1 = (float)c->beta1, b2 = (float)c->beta2;
    double gain = (double)(eta / b1);
    for (int64_t j = 0; j < n; j++) {
      m1[j] = b1 * m1[j] + (1.0f - b1) * d[j];
      m2[j] = b2 * m2[j] + (1.0f - b2) * (d[j] * d[j]);
      double den = (double)sqrtf(m2[j] / b2) + UPSTREAM_EPS;
      x[j] = (float)((double)x[j] + gain * ((double)m1[j] / den));
    }
    break;
  }
  case ND_ACCEL_UPSTREAM_RMSPROP: {
    a->t[r]++;
    float b = (float)c->beta1, eps = (float)c->eps;
    for (int64_t j = 0; j < n; j++) {
      m2[j] = m2[j] * b + (1.0f - b) * (d[j] * d[j]);
      x[j] += (eta / (m2[j] + eps)) * d[j];
    }
    break;
  }
  default: break;
  }
}

nd_status nd_accel_step(nd_accel *acc, float *x, const float *d, int64_t rows, int64_t cols, const unsigned char *active) {
  if (!acc || !x || !d) return nd__error(ND_ERR_INVALID_ARG, "nd_accel_step: accel, x and d must not be NULL");
  if (cols != acc->cols || rows < 1 || rows > acc->max_rows)
    return nd__error(ND_ERR_SHAPE, "nd_accel_step: state [%lld, %lld] does not fit the accel's [<=%lld, %lld]",
                     (long long)rows, (long long)cols, (long long)acc->max_rows, (long long)acc->cols);
  size_t bytes = (size_t)(rows * cols) * sizeof(float);
  if ((const char *)x < (const char *)d + bytes && (const char *)d < (const char *)x + bytes)
    return nd__error(ND_ERR_INVALID_ARG, "nd_accel_step: x and d overlap");
#pragma omp parallel for schedule(static) if (rows * cols > 16384 && rows > 1)
  for (int64_t r = 0; r < rows; r++)
    if (!active || active[r]) step_row(acc, r, x + r * cols, d + r * cols, cols);
  return ND_OK;
}
