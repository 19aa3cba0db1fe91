/* Integrate-to-steady-state (see include/neurodyn/dynamics.h, "Steady state").
 *
 * With the default options (metric ND_STEADY_RATE, rtol 0, t0 0) the loop is
 * the one nd_integrate runs with a tolerance: before each step k1 = f(t, y) is
 * evaluated, the run stops when max|k1| <= tol (that k1 is then the reported
 * residual and no step is taken), otherwise the step is completed from that
 * same k1; the number of steps and the shortened last step that lands on
 * t0 + t_max are those of nd_integrate.  So a model that called
 * nd_integrate(it, sys, 0, t_max, dt, y, {tol}, r) gets bit-identical states
 * from nd_steady_solve.  The only difference is that a non-finite residual
 * stops the run at once (ND_ERR_NUMERIC) instead of marching on to t_max. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics_internal.h"

struct nd_steady {
  nd_integrator *it;
  int64_t dim;
  float *prev; /* [dim] state before the step (ND_STEADY_CHANGE only) */
};

nd_steady_opts nd_steady_defaults(void) {
  nd_steady_opts o;
  memset(&o, 0, sizeof o);
  o.t0 = 0.0;
  o.dt = 0.01;
  o.t_max = 100.0;
  o.max_steps = 0;
  o.tol = 1e-4;
  o.rtol = 0.0;
  o.metric = ND_STEADY_RATE;
  o.rows = 0;
  return o;
}

const char *nd_steady_metric_name(nd_steady_metric m) {
  switch (m) {
    case ND_STEADY_RATE: return "rate";
    case ND_STEADY_CHANGE: return "change";
    default: return NULL;
  }
}

nd_status nd_steady_create(nd_integrator_kind kind, int64_t dim, nd_steady **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "steady: output pointer is NULL");
  *out = NULL;
  nd_steady *s = calloc(1, sizeof *s);
  if (!s) return nd__error(ND_ERR_NOMEM, "steady: out of memory");
  nd_status st = nd_integrator_create(kind, dim, &s->it);
  if (st != ND_OK) {
    free(s);
    return st;
  }
  s->dim = dim;
  s->prev = nd_aligned_alloc((size_t)dim * sizeof(float));
  if (!s->prev) {
    nd_steady_free(s);
    return nd__error(ND_ERR_NOMEM, "steady: cannot allocate a workspace for dim %lld", (long long)dim);
  }
  *out = s;
  return ND_OK;
}

void nd_steady_free(nd_steady *s) {
  if (!s) return;
  nd_integrator_free(s->it);
  nd_aligned_free(s->prev);
  free(s);
}

nd_integrator *nd_steady_integrator(nd_steady *s) { return s ? s->it : NULL; }
int64_t nd_steady_dim(const nd_steady *s) { return s ? s->dim : 0; }

/* The metric of each row (max_i |a_i - b_i|, or max_i |a_i| when b is NULL),
 * the tolerance test per row against tol + rtol max_i |y_i|, and the largest
 * row metric.  Returns the largest metric (NaN/Inf as soon as one is). */
static double check_rows(const float *a, const float *b, const float *y, int64_t rows, int64_t cols, bool test,
                         double tol, double rtol, double *row_out, bool *all_ok) {
  double worst = 0;
  bool ok = test;
  for (int64_t r = 0; r < rows; r++) {
    const float *ar = a + r * cols;
    double m;
    if (b) {
      const float *br = b + r * cols;
      m = 0;
      for (int64_t i = 0; i < cols; i++) {
        double d = fabs((double)ar[i] - (double)br[i]);
        if (d != d) {
          m = d;
          break;
        }
        if (d > m) m = d;
      }
    } else {
      m = nd__max_abs(ar, cols);
    }
    if (row_out) row_out[r] = m;
    if (!isfinite(m)) {
      *all_ok = false;
      return m;
    }
    if (m > worst) worst = m;
    if (ok) {
      double bound = tol > 0 ? tol : 0.0;
      if (rtol > 0) bound += rtol * nd__max_abs(y + r * cols, cols);
      if (!(m <= bound)) ok = false;
    }
  }
  *all_ok = ok;
  return worst;
}

nd_status nd_steady_solve(nd_steady *s, const nd_system *sys, float *y, const nd_steady_opts *opts,
                          nd_steady_result *result) {
  nd_steady_result res = {0};
  if (result) *result = res;
  if (!s || !sys || !y || !opts)
    return nd__error(ND_ERR_INVALID_ARG, "steady: workspace, system, state or options is NULL");
  if (!sys->rhs) return nd__error(ND_ERR_INVALID_ARG, "steady: system has no right-hand side (rhs is NULL)");
  if (sys->dim < 1 || sys->dim > s->dim)
    return nd__error(ND_ERR_SHAPE, "steady: system dim %lld is not in 1..%lld (the workspace's dim)",
                     (long long)sys->dim, (long long)s->dim);
  if (!isfinite(opts->t0)) return nd__error(ND_ERR_INVALID_ARG, "steady: t0 = %g is not finite", opts->t0);
  if (!(opts->dt > 0) || !isfinite(opts->dt))
    return nd__error(ND_ERR_INVALID_ARG, "steady: dt = %g, must be finite and > 0", opts->dt);
  if (!(opts->t_max > 0))
    return nd__error(ND_ERR_INVALID_ARG, "steady: t_max = %g, must be > 0 (INFINITY: bounded by max_steps only)",
                     opts->t_max);
  if (isinf(opts->t_max) && opts->max_steps <= 0)
    return nd__error(ND_ERR_INVALID_ARG, "steady: t_max is infinite and max_steps = %lld: the run has no bound",
                     (long long)opts->max_steps);
  if (!isfinite(opts->tol) || !isfinite(opts->rtol))
    return nd__error(ND_ERR_INVALID_ARG, "steady: tol = %g, rtol = %g must be finite", opts->tol, opts->rtol);
  if (opts->metric != ND_STEADY_RATE && opts->metric != ND_STEADY_CHANGE)
    return nd__error(ND_ERR_INVALID_ARG, "steady: metric = %d is not ND_STEADY_RATE or ND_STEADY_CHANGE",
                     (int)opts->metric);
  const int64_t n = sys->dim;
  const int64_t rows = opts->rows > 1 ? opts->rows : 1;
  if (opts->rows < 0 || n % rows != 0)
    return nd__error(ND_ERR_SHAPE, "steady: rows = %lld does not divide the state dim %lld", (long long)opts->rows,
                     (long long)n);
  const int64_t cols = n / rows;

  /* steps: as nd_integrate over [t0, t0 + t_max], capped by max_steps */
  const double t0 = opts->t0, h = opts->dt;
  const bool bounded_t = isfinite(opts->t_max);
  const double t1 = t0 + opts->t_max;
  double nsteps_d = 0;
  int64_t nsteps;
  if (bounded_t) {
    nsteps_d = ceil((t1 - t0) / h - 1e-9);
    if (nsteps_d < 0) nsteps_d = 0;
    if (nsteps_d > 9.0e15 && opts->max_steps <= 0)
      return nd__error(ND_ERR_INVALID_ARG, "steady: t_max = %g with dt = %g needs too many steps", opts->t_max, h);
    nsteps = nsteps_d > 9.0e15 ? INT64_MAX : (int64_t)nsteps_d;
    if (opts->max_steps > 0 && opts->max_steps < nsteps) nsteps = opts->max_steps;
  } else {
    nsteps = opts->max_steps;
  }

  const bool test = opts->tol > 0 || opts->rtol > 0;
  const bool change = opts->metric == ND_STEADY_CHANGE;
  float *k1 = nd__integrator_k1(s->it);
  double t = t0;
  bool have_res = false, ok = false;
  res.t = t0;
  if (opts->observer && opts->observer(0, t0, y, opts->observer_user) != 0) res.stopped = true;
  for (int64_t i = 0; i < nsteps && !res.stopped; i++) {
    ND_TRY(sys->rhs(t, y, k1, sys->user));
    res.rhs_calls++;
    if (!change) {
      double r = check_rows(k1, NULL, y, rows, cols, test, opts->tol, opts->rtol, opts->row_residual, &ok);
      res.residual = r;
      if (!isfinite(r)) {
        have_res = true;
        break;
      }
      if (ok) {
        have_res = true;
        res.converged = true;
        break;
      }
    } else {
      memcpy(s->prev, y, (size_t)n * sizeof(float));
    }
    double t_next = (bounded_t && (double)(i + 1) == nsteps_d) ? t1 : t0 + (double)(i + 1) * h;
    ND_TRY(nd__integrator_finish_step(s->it, sys, t, t_next - t, y));
    res.rhs_calls += nd_integrator_stages(nd_integrator_kind_of(s->it)) - 1;
    t = t_next;
    res.steps = i + 1;
    res.t = t;
    if (opts->observer && opts->observer(res.steps, t, y, opts->observer_user) != 0) res.stopped = true;
    if (change) {
      double r = check_rows(y, s->prev, y, rows, cols, test, opts->tol, opts->rtol, opts->row_residual, &ok);
      res.residual = r;
      have_res = true;
      if (!isfinite(r)) break;
      if (ok) {
        res.converged = true;
        break;
      }
    }
  }
  if (!have_res) {
    if (!change) {
      /* the residual of the state returned: one more f-call */
      ND_TRY(sys->rhs(t, y, k1, sys->user));
      res.rhs_calls++;
      res.residual = check_rows(k1, NULL, y, rows, cols, test, opts->tol, opts->rtol, opts->row_residual, &ok);
      res.converged = ok && isfinite(res.residual);
    } else {
      /* no step taken (stopped at step 0): no change to measure */
      res.residual = 0;
      if (opts->row_residual)
        for (int64_t r = 0; r < rows; r++) opts->row_residual[r] = 0;
    }
  }
  if (result) *result = res;
  if (!isfinite(res.residual) || !isfinite(nd__max_abs(y, n)))
    return nd__error(ND_ERR_NUMERIC,
                     "steady: %s state or residual (%s) is not finite at t = %g after %lld steps of dt = %g "
                     "(step too large for the system's stiffness?)",
                     nd_integrator_name(nd_integrator_kind_of(s->it)), nd_steady_metric_name(opts->metric), t,
                     (long long)res.steps, h);
  return ND_OK;
}
