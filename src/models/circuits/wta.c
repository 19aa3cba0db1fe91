/* WTA circuits (circuits.h): the config, the Euler engine every circuit
 * shares, and the global circuit with one inhibitory unit.
 * Rutishauser, Douglas & Slotine, Neural Comput. 23(3):735-773, 2011,
 * Eq. 2.1-2.2; the UPSTREAM order is NeurodynamicalSystems.jl (8333fac). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/dispatch.h"
#include "circuits_internal.h"
#include "core/internal.h"
#include "neurodyn/tensor.h"

nd_wta_config nd_wta_defaults(void) {
  nd_wta_config c;
  memset(&c, 0, sizeof c);
  c.alpha = 1.2;
  c.beta1 = 3.0;
  c.beta2 = 0.25;
  c.te = 0.0;
  c.ti = 0.0;
  c.g = 1.0;
  c.tau = 1.0;
  c.dt = 0.1;
  c.order = ND_WTA_JACOBI;
  c.tol = 1e-6;
  c.max_iter = 10000;
  c.max_state = 1e6;
  return c;
}

nd_status nd_wta_config_check(const nd_wta_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "wta: config is NULL");
  if (!isfinite(c->alpha)) return nd__error(ND_ERR_INVALID_ARG, "wta: alpha %g must be finite", c->alpha);
  if (!(c->beta1 >= 0) || !isfinite(c->beta1)) return nd__error(ND_ERR_INVALID_ARG, "wta: beta1 %g must be >= 0 and finite", c->beta1);
  if (!(c->beta2 >= 0) || !isfinite(c->beta2)) return nd__error(ND_ERR_INVALID_ARG, "wta: beta2 %g must be >= 0 and finite", c->beta2);
  if (!isfinite(c->te)) return nd__error(ND_ERR_INVALID_ARG, "wta: te %g must be finite", c->te);
  if (!isfinite(c->ti)) return nd__error(ND_ERR_INVALID_ARG, "wta: ti %g must be finite", c->ti);
  if (!(c->g > 0) || !isfinite(c->g)) return nd__error(ND_ERR_INVALID_ARG, "wta: g (leak) %g must be > 0 and finite", c->g);
  if (!(c->tau > 0) || !isfinite(c->tau)) return nd__error(ND_ERR_INVALID_ARG, "wta: tau %g must be > 0 and finite", c->tau);
  if (!(c->dt > 0) || !(c->dt <= c->tau))
    return nd__error(ND_ERR_INVALID_ARG, "wta: dt %g must be in (0, tau = %g] (Euler step dt/tau <= 1)", c->dt, c->tau);
  if ((unsigned)c->order >= ND_WTA_ORDER_COUNT_) return nd__error(ND_ERR_INVALID_ARG, "wta: order %d is not jacobi or upstream", (int)c->order);
  if (!(c->tol > 0) || !isfinite(c->tol)) return nd__error(ND_ERR_INVALID_ARG, "wta: tol %g must be > 0 and finite", c->tol);
  if (c->max_iter < 1) return nd__error(ND_ERR_INVALID_ARG, "wta: max_iter %lld must be >= 1", (long long)c->max_iter);
  if (!(c->max_state > 0)) return nd__error(ND_ERR_INVALID_ARG, "wta: max_state %g must be > 0", c->max_state);
  return ND_OK;
}

static const char *const order_names[] = {"jacobi", "upstream"};

const char *nd_wta_order_name(nd_wta_order o) {
  return (unsigned)o < ND_WTA_ORDER_COUNT_ ? order_names[o] : NULL;
}

nd_status nd_wta_order_parse(const char *name, nd_wta_order *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "wta: out is NULL");
  for (int i = 0; name && i < ND_WTA_ORDER_COUNT_; i++)
    if (!strcmp(name, order_names[i])) {
      *out = (nd_wta_order)i;
      return ND_OK;
    }
  return nd__error(ND_ERR_INVALID_ARG, "wta: order '%.64s' is not one of jacobi, upstream", name ? name : "(null)");
}

/* One step of row b.  Rates (tau dx/dt = f(...) - G x, Eq. 2.1-2.2) at the
 * current state; the residual max|rate| / scale; the state moves only when
 * the residual exceeds tol (so a stopped row returns the state its residual
 * describes).  *maxabs gets the largest |state| after the step (infinite
 * when a state is not finite: the sum chk propagates NaN and Inf). */
ND__HOT double nd__wta_row_step(const nd_wta_config *c, const nd__wta_pool *p, const float *in, float *x, float *y, float *ws,
                       double scale, double *maxabs) {
  const int64_t n = p->n, ni = p->ni;
  const float eta = (float)(c->dt / c->tau), al = (float)c->alpha, b1 = (float)c->beta1, b2 = (float)c->beta2;
  const float te = (float)c->te, ti = (float)c->ti, g = (float)c->g;
  float *yn = ws, *xn = ws + ni, *tmp = xn + n;
  float rm = 0, mm = 0, chk = 0;
  /* Comparisons, not fmaxf: fmaxf's NaN rule keeps it a library call in the
   * vector clones; a NaN state still shows in chk (and max_state). */
  p->e2i(p, x, yn, tmp);
#pragma omp simd reduction(max : rm, mm) reduction(+ : chk)
  for (int64_t k = 0; k < ni; k++) {
    const float a = b2 * yn[k] - ti, r = (a > 0.0f ? a : 0.0f) - g * y[k], v = y[k] + eta * r;
    const float ar = fabsf(r), av = fabsf(v);
    yn[k] = v;
    rm = ar > rm ? ar : rm;
    mm = av > mm ? av : mm;
    chk += r;
  }
  p->i2e(p, c->order == ND_WTA_UPSTREAM ? yn : y, xn, tmp);
#pragma omp simd reduction(max : rm, mm) reduction(+ : chk)
  for (int64_t i = 0; i < n; i++) {
    const float a = in[i] + al * x[i] - b1 * xn[i] - te, r = (a > 0.0f ? a : 0.0f) - g * x[i], v = x[i] + eta * r;
    const float ar = fabsf(r), av = fabsf(v);
    xn[i] = v;
    rm = ar > rm ? ar : rm;
    mm = av > mm ? av : mm;
    chk += r;
  }
  if (!isfinite(chk)) rm = mm = INFINITY;
  double res = (double)rm / scale;
  if (res <= c->tol) return res;
  memcpy(y, yn, (size_t)ni * sizeof(float));
  memcpy(x, xn, (size_t)n * sizeof(float));
  *maxabs = mm;
  return res;
}

nd_status nd__wta_run(const char *who, const nd_wta_config *c, const nd__wta_pool *p, const float *input, int64_t batch,
                      float *x, float *y, nd_wta_result *r) {
  if (r) memset(r, 0, sizeof *r);
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "%s: result is NULL", who);
  ND_TRY(nd_wta_config_check(c));
  if (!input || !x) return nd__error(ND_ERR_INVALID_ARG, "%s: %s is NULL", who, input ? "x" : "input");
  if (batch < 1) return nd__error(ND_ERR_INVALID_ARG, "%s: batch %lld must be >= 1", who, (long long)batch);
  const int64_t n = p->n, ni = p->ni;
  if ((double)batch * (double)(n > ni ? n : ni) > (double)ND_TENSOR_MAX_NUMEL)
    return nd__error(ND_ERR_INVALID_ARG, "%s: batch %lld x %lld units exceeds the tensor limit", who, (long long)batch,
                     (long long)n);
  for (int64_t i = 0; i < batch * n; i++)
    if (!isfinite(input[i])) return nd__error(ND_ERR_INVALID_ARG, "%s: input element %lld is not finite", who, (long long)i);
  const int nt = omp_get_max_threads();
  const int64_t per = ni + 2 * n;
  float *ys = y ? y : nd_aligned_alloc((size_t)(batch * ni) * sizeof(float));
  float *ws = nd_aligned_alloc((size_t)((int64_t)nt * per) * sizeof(float));
  double *res = calloc((size_t)batch, sizeof(double)), *scale = calloc((size_t)batch, sizeof(double));
  double *mx = calloc((size_t)batch, sizeof(double));
  unsigned char *active = malloc((size_t)batch);
  nd_status st = ND_OK;
  if (!ys || !ws || !res || !scale || !mx || !active) {
    st = nd__error(ND_ERR_NOMEM, "%s: out of memory for batch %lld x %lld units", who, (long long)batch, (long long)n);
    goto done;
  }
  memset(x, 0, (size_t)(batch * n) * sizeof(float));
  memset(ys, 0, (size_t)(batch * ni) * sizeof(float));
  memset(active, 1, (size_t)batch);
  for (int64_t b = 0; b < batch; b++) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)input[b * n + i]));
    scale[b] = fmax(m, 1e-30);
  }
  r->stop = ND_STOP_MAX_ITER;
  for (int64_t it = 1; it <= c->max_iter; it++) {
    int any = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : any)
    for (int64_t b = 0; b < batch; b++) {
      if (!active[b]) continue;
      res[b] = nd__wta_row_step(c, p, input + b * n, x + b * n, ys + b * ni, ws + (int64_t)omp_get_thread_num() * per, scale[b],
                        &mx[b]);
      if (res[b] <= c->tol) active[b] = 0;
      else any = 1;
    }
    int64_t bad = -1;
    for (int64_t b = 0; b < batch && bad < 0; b++)
      if (active[b] && !(mx[b] <= c->max_state)) bad = b;
    if (bad >= 0) {
      r->iterations = it;
      r->stop = ND_STOP_DIVERGED;
      st = nd__error(ND_ERR_NUMERIC, "%s: runaway in row %lld after %lld steps (|state| %g > max_state %g): alpha %g outside "
                     "the stable region alpha < 1 + beta1 beta2 = %g?", who, (long long)bad, (long long)it, mx[bad],
                     c->max_state, c->alpha, 1 + c->beta1 * c->beta2);
      break;
    }
    if (!any) {
      r->stop = ND_STOP_TOLERANCE;
      break;
    }
    r->iterations = it;
    if (c->observer && c->observer(it, x, ys, batch, c->observer_user)) {
      r->stop = ND_STOP_OBSERVER;
      break;
    }
  }
  for (int64_t b = 0; b < batch; b++) r->residual = fmax(r->residual, res[b]);
done:
  if (ys != y) nd_aligned_free(ys);
  nd_aligned_free(ws);
  free(res);
  free(scale);
  free(mx);
  free(active);
  return st;
}

/* Global circuit: P x = sum_j x_j (one inhibitory unit), P^T y = y for all. */
static void global_e2i(const nd__wta_pool *p, const float *x, float *dst, float *tmp) {
  (void)tmp;
  double s = 0;
  for (int64_t i = 0; i < p->n; i++) s += x[i];
  dst[0] = (float)s;
}

static void global_i2e(const nd__wta_pool *p, const float *y, float *dst, float *tmp) {
  (void)tmp;
  for (int64_t i = 0; i < p->n; i++) dst[i] = y[0];
}

nd_status nd_wta_solve(const nd_wta_config *c, const float *input, int64_t batch, int64_t n, float *x, float *y,
                       nd_wta_result *r) {
  if (n < 1) {
    if (r) memset(r, 0, sizeof *r);
    return nd__error(ND_ERR_INVALID_ARG, "wta: n %lld must be >= 1", (long long)n);
  }
  nd__wta_pool p;
  memset(&p, 0, sizeof p);
  p.n = n;
  p.ni = 1;
  p.e2i = global_e2i;
  p.i2e = global_i2e;
  return nd__wta_run("wta", c, &p, input, batch, x, y, r);
}
