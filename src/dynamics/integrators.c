/* Explicit integrators: forward Euler and classic RK4 (see
 * include/neurodyn/dynamics.h for the formulas).  Stage buffers are allocated
 * once by nd_integrator_create; nothing here allocates per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "dynamics/dynamics_internal.h"

struct nd_integrator {
  nd_integrator_kind kind;
  int64_t dim;
  float *k1;   /* [dim] (capacity) f(t, y); for RK4 also the running sum k1 + 2k2 + 2k3 + k4 */
  float *k;    /* [dim] RK4: current stage derivative */
  float *ytmp; /* [dim] RK4: stage state */
};

const char *nd_stop_reason_name(nd_stop_reason r) {
  static const char *const names[ND_STOP_COUNT_] = {"tolerance", "energy", "max-iter", "observer", "diverged"};
  return (r >= 0 && r < ND_STOP_COUNT_) ? names[r] : NULL;
}

const char *nd_integrator_name(nd_integrator_kind kind) {
  switch (kind) {
    case ND_INTEGRATOR_EULER: return "euler";
    case ND_INTEGRATOR_RK4: return "rk4";
    default: return NULL;
  }
}

nd_status nd_integrator_parse(const char *name, nd_integrator_kind *out) {
  if (!name || !out) return nd__error(ND_ERR_INVALID_ARG, "integrator: name or output is NULL");
  for (int k = 0; k < ND_INTEGRATOR_COUNT_; k++) {
    if (strcmp(name, nd_integrator_name((nd_integrator_kind)k)) == 0) {
      *out = (nd_integrator_kind)k;
      return ND_OK;
    }
  }
  return nd__error(ND_ERR_INVALID_ARG, "integrator: unknown method '%s' (expected euler or rk4)", name);
}

int nd_integrator_order(nd_integrator_kind kind) {
  switch (kind) {
    case ND_INTEGRATOR_EULER: return 1;
    case ND_INTEGRATOR_RK4: return 4;
    default: return 0;
  }
}

int nd_integrator_stages(nd_integrator_kind kind) {
  switch (kind) {
    case ND_INTEGRATOR_EULER: return 1;
    case ND_INTEGRATOR_RK4: return 4;
    default: return 0;
  }
}

nd_status nd_integrator_create(nd_integrator_kind kind, int64_t dim, nd_integrator **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "integrator: output pointer is NULL");
  *out = NULL;
  if (kind < 0 || kind >= ND_INTEGRATOR_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "integrator: kind = %d is not an nd_integrator_kind", (int)kind);
  if (dim < 1) return nd__error(ND_ERR_INVALID_ARG, "integrator: dim = %lld, must be >= 1", (long long)dim);
  if ((uint64_t)dim > SIZE_MAX / sizeof(float) / 4)
    return nd__error(ND_ERR_INVALID_ARG, "integrator: dim = %lld is too large", (long long)dim);
  nd_integrator *it = calloc(1, sizeof *it);
  if (!it) return nd__error(ND_ERR_NOMEM, "integrator: out of memory");
  it->kind = kind;
  it->dim = dim;
  size_t bytes = (size_t)dim * sizeof(float);
  it->k1 = nd_aligned_alloc(bytes);
  bool ok = it->k1 != NULL;
  if (kind == ND_INTEGRATOR_RK4) {
    it->k = nd_aligned_alloc(bytes);
    it->ytmp = nd_aligned_alloc(bytes);
    ok = ok && it->k && it->ytmp;
  }
  if (!ok) {
    nd_integrator_free(it);
    return nd__error(ND_ERR_NOMEM, "integrator: cannot allocate %s stage buffers for dim %lld",
                     nd_integrator_name(kind), (long long)dim);
  }
  *out = it;
  return ND_OK;
}

void nd_integrator_free(nd_integrator *it) {
  if (!it) return;
  nd_aligned_free(it->k1);
  nd_aligned_free(it->k);
  nd_aligned_free(it->ytmp);
  free(it);
}

nd_integrator_kind nd_integrator_kind_of(const nd_integrator *it) { return it ? it->kind : ND_INTEGRATOR_COUNT_; }
int64_t nd_integrator_dim(const nd_integrator *it) { return it ? it->dim : 0; }

nd_status nd__check_system(const char *who, const void *workspace, int64_t capacity, const nd_system *sys,
                           const float *y) {
  if (!workspace || !sys || !y) return nd__error(ND_ERR_INVALID_ARG, "%s: workspace, system or state is NULL", who);
  if (!sys->rhs) return nd__error(ND_ERR_INVALID_ARG, "%s: system has no right-hand side (rhs is NULL)", who);
  if (sys->dim < 1 || sys->dim > capacity)
    return nd__error(ND_ERR_SHAPE, "%s: system dim %lld is not in 1..%lld (the workspace's dim)", who,
                     (long long)sys->dim, (long long)capacity);
  return ND_OK;
}

static nd_status check_system(const nd_integrator *it, const nd_system *sys, const float *y) {
  return nd__check_system("integrator", it, it ? it->dim : 0, sys, y);
}

float *nd__integrator_k1(nd_integrator *it) { return it->k1; }

double nd__max_abs(const float *x, int64_t n) {
  /* one vectorised pass: the max of |x_i| is exact in float; NaNs are counted */
  float m = 0;
  int64_t nans = 0;
#pragma omp simd reduction(max : m) reduction(+ : nans)
  for (int64_t i = 0; i < n; i++) {
    float a = fabsf(x[i]);
    m = a > m ? a : m;
    nans += x[i] != x[i];
  }
  return nans ? (double)NAN : (double)m;
}

/* Completes a step whose k1 = f(t, y) is already in it->k1. */
nd_status nd__integrator_finish_step(nd_integrator *it, const nd_system *sys, double t, double h, float *y) {
  const int64_t n = sys->dim;
  float *restrict k1 = it->k1;
  if (it->kind == ND_INTEGRATOR_EULER) {
    const float hf = (float)h;
    for (int64_t i = 0; i < n; i++) y[i] += hf * k1[i];
    return ND_OK;
  }
  /* classic RK4; k1 becomes the running sum k1 + 2 k2 + 2 k3 + k4 */
  float *restrict k = it->k, *restrict yt = it->ytmp;
  const float h2 = (float)(0.5 * h), hf = (float)h;
  for (int64_t i = 0; i < n; i++) yt[i] = y[i] + h2 * k1[i];
  ND_TRY(sys->rhs(t + 0.5 * h, yt, k, sys->user)); /* k2 */
  for (int64_t i = 0; i < n; i++) {
    yt[i] = y[i] + h2 * k[i];
    k1[i] += 2.0f * k[i];
  }
  ND_TRY(sys->rhs(t + 0.5 * h, yt, k, sys->user)); /* k3 */
  for (int64_t i = 0; i < n; i++) {
    yt[i] = y[i] + hf * k[i];
    k1[i] += 2.0f * k[i];
  }
  ND_TRY(sys->rhs(t + h, yt, k, sys->user)); /* k4 */
  const float h6 = (float)(h / 6.0);
  for (int64_t i = 0; i < n; i++) y[i] += h6 * (k1[i] + k[i]);
  return ND_OK;
}

nd_status nd_integrator_step(nd_integrator *it, const nd_system *sys, double t, double dt, float *y) {
  ND_TRY(check_system(it, sys, y));
  if (!isfinite(dt) || dt == 0.0 || !isfinite(t))
    return nd__error(ND_ERR_INVALID_ARG, "integrator: step at t = %g with dt = %g (dt must be finite and non-zero)",
                     t, dt);
  ND_TRY(sys->rhs(t, y, it->k1, sys->user));
  return nd__integrator_finish_step(it, sys, t, dt, y);
}

nd_status nd_integrate(nd_integrator *it, const nd_system *sys, double t0, double t1, double dt, float *y,
                       const nd_integrate_opts *opts, nd_integrate_result *result) {
  static const nd_integrate_opts no_opts = {0};
  nd_integrate_result res = {0};
  if (result) *result = res;
  ND_TRY(check_system(it, sys, y));
  if (!opts) opts = &no_opts;
  if (!isfinite(t0) || !isfinite(t1))
    return nd__error(ND_ERR_INVALID_ARG, "integrate: interval [%g, %g] is not finite", t0, t1);
  if (!isfinite(dt) || dt == 0.0)
    return nd__error(ND_ERR_INVALID_ARG, "integrate: dt = %g, must be finite and non-zero", dt);
  const double span = t1 - t0;
  const double h = span >= 0 ? fabs(dt) : -fabs(dt);
  /* number of steps; a span within 1e-9 steps of a multiple of dt takes no
   * extra sliver step */
  double nsteps_d = ceil(fabs(span) / fabs(dt) - 1e-9);
  if (nsteps_d < 0) nsteps_d = 0;
  if (nsteps_d > 9.0e15)
    return nd__error(ND_ERR_INVALID_ARG, "integrate: [%g, %g] with dt = %g needs too many steps", t0, t1, dt);
  int64_t nsteps = (int64_t)nsteps_d;
  if (opts->max_steps > 0 && opts->max_steps < nsteps) nsteps = opts->max_steps;

  double t = t0;
  bool have_k1 = false; /* it->k1 holds f(t, y) of the current state */
  res.t = t0;
  if (opts->observer && opts->observer(0, t0, y, opts->observer_user) != 0) res.stopped = true;
  for (int64_t i = 0; i < nsteps && !res.stopped; i++) {
    ND_TRY(sys->rhs(t, y, it->k1, sys->user));
    if (opts->tol > 0) {
      double r = nd__max_abs(it->k1, sys->dim);
      if (r <= opts->tol) {
        have_k1 = true;
        res.residual = r;
        res.converged = true;
        break;
      }
    }
    double t_next = (i + 1 == (int64_t)nsteps_d) ? t1 : t0 + (double)(i + 1) * h;
    ND_TRY(nd__integrator_finish_step(it, sys, t, t_next - t, y));
    t = t_next;
    res.steps = i + 1;
    res.t = t;
    if (opts->observer && opts->observer(res.steps, t, y, opts->observer_user) != 0) res.stopped = true;
  }
  if (!have_k1) {
    ND_TRY(sys->rhs(t, y, it->k1, sys->user));
    res.residual = nd__max_abs(it->k1, sys->dim);
    res.converged = opts->tol > 0 && res.residual <= opts->tol;
  }
  if (result) *result = res;
  if (!isfinite(res.residual) || !isfinite(nd__max_abs(y, sys->dim)))
    return nd__error(ND_ERR_NUMERIC,
                     "integrate: %s state or residual is not finite at t = %g after %lld steps of dt = %g "
                     "(step too large for the system's stiffness?)",
                     nd_integrator_name(it->kind), t, (long long)res.steps, dt);
  return ND_OK;
}
