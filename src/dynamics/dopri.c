/* Adaptive Dormand-Prince 5(4) (see include/neurodyn/dynamics.h).
 *
 * Tableau: J. R. Dormand & P. J. Prince, "A family of embedded Runge-Kutta
 * formulae", J. Comput. Appl. Math. 6(1):19-26, 1980, RK5(4)7M (Table 2);
 * the same coefficients as Hairer, Norsett & Wanner, Solving ODEs I (2nd ed.,
 * 1993), Table II.5.2.  Error norm and step-size control: ibid. Sec. II.4,
 * Eqs. (4.10)-(4.13); starting step: Sec. II.4, "Starting Step Size".  Dense
 * output: the continuous extension of Hairer's DOPRI5 code (Shampine,
 * "Some practical Runge-Kutta formulas", Math. Comp. 46(173), 1986).
 *
 * The state is float32 (nd_system); stage combinations, the error estimate
 * and the norms are formed in float64 and rounded once.  Every buffer is
 * allocated by nd_dopri_create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics_internal.h"

/* Butcher tableau RK5(4)7M: c_i, a_ij, b_i (5th order; b = a_7j, FSAL) and
 * e_i = b_i - b^_i with b^ the embedded 4th-order weights
 * (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40). */
static const double C2 = 1.0 / 5, C3 = 3.0 / 10, C4 = 4.0 / 5, C5 = 8.0 / 9;
static const double A21 = 1.0 / 5;
static const double A31 = 3.0 / 40, A32 = 9.0 / 40;
static const double A41 = 44.0 / 45, A42 = -56.0 / 15, A43 = 32.0 / 9;
static const double A51 = 19372.0 / 6561, A52 = -25360.0 / 2187, A53 = 64448.0 / 6561, A54 = -212.0 / 729;
static const double A61 = 9017.0 / 3168, A62 = -355.0 / 33, A63 = 46732.0 / 5247, A64 = 49.0 / 176,
                    A65 = -5103.0 / 18656;
static const double B1 = 35.0 / 384, B3 = 500.0 / 1113, B4 = 125.0 / 192, B5 = -2187.0 / 6784, B6 = 11.0 / 84;
static const double E1 = 71.0 / 57600, E3 = -71.0 / 16695, E4 = 71.0 / 1920, E5 = -17253.0 / 339200,
                    E6 = 22.0 / 525, E7 = -1.0 / 40;
/* dense output (Hairer's DOPRI5, subroutine CDOPRI) */
static const double D1 = -12715105075.0 / 11282082432.0, D3 = 87487479700.0 / 32700410799.0,
                    D4 = -10690763975.0 / 1880347072.0, D5 = 701980252875.0 / 199316789632.0,
                    D6 = -1453857185.0 / 822651844.0, D7 = 69997945.0 / 29380423.0;

struct nd_dopri {
  int64_t dim;
  float *k[7];    /* [dim] each: stage derivatives k1..k7 (k1 and k7 swap after an accepted step: FSAL) */
  float *ys;      /* [dim] stage state */
  float *y1;      /* [dim] candidate 5th-order solution */
  float *rc[5];   /* [dim] each, dense output coefficients (NULL without dense) */
  int64_t n_last; /* dim of the system of the last accepted step (0: none) */
  double t_old, h_last;
};

nd_dopri_opts nd_dopri_defaults(void) {
  nd_dopri_opts o;
  memset(&o, 0, sizeof o);
  o.rtol = 1e-3;
  o.atol = 1e-6;
  o.safety = 0.9;
  o.fac_min = 0.2;
  o.fac_max = 10.0;
  o.max_steps = 100000;
  return o;
}

nd_status nd_dopri_create(int64_t dim, bool dense, nd_dopri **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "dopri: output pointer is NULL");
  *out = NULL;
  if (dim < 1) return nd__error(ND_ERR_INVALID_ARG, "dopri: dim = %lld, must be >= 1", (long long)dim);
  if ((uint64_t)dim > SIZE_MAX / sizeof(float) / 16)
    return nd__error(ND_ERR_INVALID_ARG, "dopri: dim = %lld is too large", (long long)dim);
  nd_dopri *dp = calloc(1, sizeof *dp);
  if (!dp) return nd__error(ND_ERR_NOMEM, "dopri: out of memory");
  dp->dim = dim;
  size_t bytes = (size_t)dim * sizeof(float);
  bool ok = true;
  for (int s = 0; s < 7; s++) ok = ok && (dp->k[s] = nd_aligned_alloc(bytes)) != NULL;
  ok = ok && (dp->ys = nd_aligned_alloc(bytes)) != NULL && (dp->y1 = nd_aligned_alloc(bytes)) != NULL;
  for (int s = 0; dense && s < 5; s++) ok = ok && (dp->rc[s] = nd_aligned_alloc(bytes)) != NULL;
  if (!ok) {
    nd_dopri_free(dp);
    return nd__error(ND_ERR_NOMEM, "dopri: cannot allocate stage buffers for dim %lld", (long long)dim);
  }
  *out = dp;
  return ND_OK;
}

void nd_dopri_free(nd_dopri *dp) {
  if (!dp) return;
  for (int s = 0; s < 7; s++) nd_aligned_free(dp->k[s]);
  for (int s = 0; s < 5; s++) nd_aligned_free(dp->rc[s]);
  nd_aligned_free(dp->ys);
  nd_aligned_free(dp->y1);
  free(dp);
}

int64_t nd_dopri_dim(const nd_dopri *dp) { return dp ? dp->dim : 0; }

static nd_status check_args(const nd_dopri *dp, const nd_system *sys, const float *y) {
  return nd__check_system("dopri", dp, dp ? dp->dim : 0, sys, y);
}

static nd_status check_tols(double rtol, double atol) {
  if (!(rtol >= 0) || !(atol >= 0) || !isfinite(rtol) || !isfinite(atol) || (rtol == 0 && atol == 0))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: rtol = %g, atol = %g (each finite and >= 0, not both 0)", rtol,
                     atol);
  return ND_OK;
}

/* sqrt(1/n sum_i (x_i / (atol + rtol |y_i|))^2): the norm of II.4 (4.11) for
 * the starting step (sc_i from y0 alone). */
static double scaled_norm(const float *x, const float *y, int64_t n, double rtol, double atol) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double q = (double)x[i] / (atol + rtol * fabs((double)y[i]));
    s += q * q;
  }
  return sqrt(s / (double)n);
}

/* Stages 2..7 from (t, y) with k1 = f(t, y) in dp->k[0]; writes the
 * 5th-order y1 to dp->y1, k7 = f(t + h, y1) to dp->k[6] and returns the
 * scaled error norm (4.11) with sc_i = atol + rtol max(|y_i|, |y1_i|)
 * (NaN when a stage is not finite). */
static nd_status stages(nd_dopri *dp, const nd_system *sys, double t, double h, const float *y, double rtol,
                        double atol, double *err) {
  const int64_t n = sys->dim;
  float *restrict k1 = dp->k[0], *restrict k2 = dp->k[1], *restrict k3 = dp->k[2], *restrict k4 = dp->k[3],
                 *restrict k5 = dp->k[4], *restrict k6 = dp->k[5], *restrict k7 = dp->k[6];
  float *restrict ys = dp->ys, *restrict y1 = dp->y1;
  for (int64_t i = 0; i < n; i++) ys[i] = (float)(y[i] + h * (A21 * k1[i]));
  ND_TRY(sys->rhs(t + C2 * h, ys, k2, sys->user));
  for (int64_t i = 0; i < n; i++) ys[i] = (float)(y[i] + h * (A31 * k1[i] + A32 * k2[i]));
  ND_TRY(sys->rhs(t + C3 * h, ys, k3, sys->user));
  for (int64_t i = 0; i < n; i++) ys[i] = (float)(y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]));
  ND_TRY(sys->rhs(t + C4 * h, ys, k4, sys->user));
  for (int64_t i = 0; i < n; i++)
    ys[i] = (float)(y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]));
  ND_TRY(sys->rhs(t + C5 * h, ys, k5, sys->user));
  for (int64_t i = 0; i < n; i++)
    ys[i] = (float)(y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]));
  ND_TRY(sys->rhs(t + h, ys, k6, sys->user));
  for (int64_t i = 0; i < n; i++)
    y1[i] = (float)(y[i] + h * (B1 * k1[i] + B3 * k3[i] + B4 * k4[i] + B5 * k5[i] + B6 * k6[i]));
  ND_TRY(sys->rhs(t + h, y1, k7, sys->user));
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) {
    double e = h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
    float ay = fabsf(y[i]), ay1 = fabsf(y1[i]); /* a NaN in y1 makes sc, err NaN: a rejection */
    double sc = atol + rtol * (double)(ay > ay1 ? ay : ay1);
    double q = e / sc;
    s += q * q;
  }
  *err = sqrt(s / (double)n); /* NaN or Inf propagates */
  return ND_OK;
}

nd_status nd_dopri_step(nd_dopri *dp, const nd_system *sys, double t, double h, float *y, double rtol, double atol,
                        double *err) {
  ND_TRY(check_args(dp, sys, y));
  ND_TRY(check_tols(rtol, atol));
  if (!isfinite(h) || h == 0.0 || !isfinite(t))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: step at t = %g with h = %g (h must be finite and non-zero)", t, h);
  double e;
  ND_TRY(sys->rhs(t, y, dp->k[0], sys->user));
  ND_TRY(stages(dp, sys, t, h, y, rtol, atol, &e));
  memcpy(y, dp->y1, (size_t)sys->dim * sizeof(float));
  dp->n_last = 0; /* no dense output for single steps */
  if (err) *err = e;
  return ND_OK;
}

/* Hairer II.4, "Starting Step Size" (a)-(f), p = 5; k1 = f(t0, y0) is in
 * dp->k[0]; uses k[1] and ys as scratch.  One f-call. */
static nd_status initial_step(nd_dopri *dp, const nd_system *sys, double t0, const float *y, double rtol, double atol,
                              double h_max, double dir, double *h_out) {
  const int64_t n = sys->dim;
  double d0 = scaled_norm(y, y, n, rtol, atol), d1 = scaled_norm(dp->k[0], y, n, rtol, atol);
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  if (h0 > h_max) h0 = h_max;
  for (int64_t i = 0; i < n; i++) dp->ys[i] = (float)(y[i] + dir * h0 * dp->k[0][i]);
  ND_TRY(sys->rhs(t0 + dir * h0, dp->ys, dp->k[1], sys->user));
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double q = ((double)dp->k[1][i] - dp->k[0][i]) / (atol + rtol * fabs((double)y[i]));
    s += q * q;
  }
  double d2 = sqrt(s / (double)n) / h0, dm = fmax(d1, d2);
  double h1 = dm <= 1e-15 ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dm, 1.0 / 5.0);
  double h = fmin(100 * h0, h1);
  *h_out = isfinite(h) ? fmin(h, h_max) : h0;
  return ND_OK;
}

/* Dense output coefficients of the step (t, y) -> (t + h, y1) (CDOPRI/DOPRI5). */
static void dense_prepare(nd_dopri *dp, int64_t n, double t, double h, const float *y) {
  const float *k1 = dp->k[0], *k3 = dp->k[2], *k4 = dp->k[3], *k5 = dp->k[4], *k6 = dp->k[5], *k7 = dp->k[6];
  for (int64_t i = 0; i < n; i++) {
    double ydiff = (double)dp->y1[i] - y[i], bspl = h * k1[i] - ydiff;
    dp->rc[0][i] = y[i];
    dp->rc[1][i] = (float)ydiff;
    dp->rc[2][i] = (float)bspl;
    dp->rc[3][i] = (float)(ydiff - h * k7[i] - bspl);
    dp->rc[4][i] = (float)(h * (D1 * k1[i] + D3 * k3[i] + D4 * k4[i] + D5 * k5[i] + D6 * k6[i] + D7 * k7[i]));
  }
  dp->n_last = n;
  dp->t_old = t;
  dp->h_last = h;
}

nd_status nd_dopri_dense(const nd_dopri *dp, double t, float *out) {
  if (!dp || !out) return nd__error(ND_ERR_INVALID_ARG, "dopri dense: workspace or output is NULL");
  if (!dp->rc[0]) return nd__error(ND_ERR_INVALID_ARG, "dopri dense: workspace created without dense output");
  if (dp->n_last == 0) return nd__error(ND_ERR_INVALID_ARG, "dopri dense: no accepted step to interpolate yet");
  double th = (t - dp->t_old) / dp->h_last;
  if (!(th >= -1e-12 && th <= 1 + 1e-12))
    return nd__error(ND_ERR_INVALID_ARG, "dopri dense: t = %g is outside the last step [%g, %g]", t, dp->t_old,
                     dp->t_old + dp->h_last);
  double th1 = 1 - th;
  for (int64_t i = 0; i < dp->n_last; i++)
    out[i] = (float)(dp->rc[0][i] +
                     th * (dp->rc[1][i] + th1 * (dp->rc[2][i] + th * (dp->rc[3][i] + th1 * (double)dp->rc[4][i]))));
  return ND_OK;
}

static nd_status check_opts(const nd_dopri_opts *o) {
  ND_TRY(check_tols(o->rtol, o->atol));
  if (!(o->safety > 0 && o->safety < 1))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: safety = %g, must be in (0, 1)", o->safety);
  if (!(o->fac_min > 0 && o->fac_min <= 1))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: fac_min = %g, must be in (0, 1]", o->fac_min);
  if (!(o->fac_max >= 1) || !isfinite(o->fac_max))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: fac_max = %g, must be finite and >= 1", o->fac_max);
  if (!isfinite(o->h0) || !isfinite(o->h_max) || !isfinite(o->h_min) || isnan(o->tol))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: h0 = %g, h_max = %g, h_min = %g, tol = %g must be finite", o->h0,
                     o->h_max, o->h_min, o->tol);
  return ND_OK;
}

nd_status nd_dopri_integrate(nd_dopri *dp, const nd_system *sys, double t0, double t1, float *y,
                             const nd_dopri_opts *opts, nd_dopri_result *result) {
  nd_dopri_result res = {0};
  res.stop = ND_STOP_MAX_ITER;
  if (result) *result = res;
  ND_TRY(check_args(dp, sys, y));
  nd_dopri_opts o = opts ? *opts : nd_dopri_defaults();
  ND_TRY(check_opts(&o));
  if (!isfinite(t0) || !isfinite(t1))
    return nd__error(ND_ERR_INVALID_ARG, "dopri: interval [%g, %g] is not finite", t0, t1);
  const int64_t n = sys->dim;
  const double dir = t1 >= t0 ? 1.0 : -1.0, span = fabs(t1 - t0);
  const double h_max = o.h_max > 0 ? fmin(o.h_max, span) : span;
  double t = t0, h = 0;
  dp->n_last = 0;
  res.t = t0;
  ND_TRY(sys->rhs(t, y, dp->k[0], sys->user));
  res.rhs_calls = 1;
  res.residual = nd__max_abs(dp->k[0], n);
  if (!isfinite(res.residual)) {
    res.stop = ND_STOP_DIVERGED;
    if (result) *result = res;
    return nd__error(ND_ERR_NUMERIC, "dopri: f(t0, y0) is not finite at t0 = %g", t0);
  }
  if (o.observer && o.observer(0, t, y, o.observer_user) != 0) res.stop = ND_STOP_OBSERVER;
  if (span > 0 && res.stop != ND_STOP_OBSERVER) {
    if (o.h0 > 0) {
      h = fmin(o.h0, h_max);
    } else {
      ND_TRY(initial_step(dp, sys, t, y, o.rtol, o.atol, h_max, dir, &h));
      res.rhs_calls++;
    }
  }
  bool last_rejected = false;
  nd_status st = ND_OK;
  while (res.stop == ND_STOP_MAX_ITER && dir * (t1 - t) > 0) {
    if (o.tol > 0 && res.residual <= o.tol) { /* k1 = f(t, y) is the residual (FSAL) */
      res.stop = ND_STOP_TOLERANCE;
      break;
    }
    if (o.max_steps > 0 && res.steps + res.rejected >= o.max_steps) break;
    bool last = 1.01 * h >= fabs(t1 - t); /* as DOPRI5: no sliver of a last step */
    double hs = last ? t1 - t : dir * h;
    if ((!last && h < o.h_min) || t + hs == t) {
      res.stop = ND_STOP_DIVERGED;
      st = nd__error(ND_ERR_NUMERIC, "dopri: step size %g at t = %g is below h_min = %g (stiff or singular?)",
                     fabs(hs), t, fmax(o.h_min, 0));
      break;
    }
    double err;
    ND_TRY(stages(dp, sys, t, hs, y, o.rtol, o.atol, &err));
    res.rhs_calls += 6;
    if (!isfinite(err)) { /* a stage overflowed: shrink as far as allowed (II.4) */
      res.rejected++;
      h *= o.fac_min;
      last_rejected = true;
      continue;
    }
    /* (4.13): h_new = h min(facmax, max(facmin, fac (1/err)^(1/5))), facmax = 1 after a rejection */
    double fac = err > 0 ? o.safety * pow(err, -0.2) : o.fac_max;
    double fac_max = last_rejected ? 1.0 : o.fac_max;
    double ratio = fmin(fac_max, fmax(o.fac_min, fac));
    if (err <= 1) {
      if (dp->rc[0]) dense_prepare(dp, n, t, hs, y);
      memcpy(y, dp->y1, (size_t)n * sizeof(float));
      float *tmp = dp->k[0]; /* FSAL: k7 = f(t + h, y1) is the next k1 */
      dp->k[0] = dp->k[6];
      dp->k[6] = tmp;
      t = last ? t1 : t + hs;
      res.steps++;
      res.t = t;
      res.err = err;
      res.residual = nd__max_abs(dp->k[0], n);
      h = fmin(fabs(hs) * ratio, h_max);
      last_rejected = false;
      if (o.observer && o.observer(res.steps, t, y, o.observer_user) != 0) res.stop = ND_STOP_OBSERVER;
    } else {
      res.rejected++;
      h = fabs(hs) * ratio;
      last_rejected = true;
    }
  }
  res.h = h;
  if (st == ND_OK && !(isfinite(res.residual) && isfinite(nd__max_abs(y, n)))) {
    res.stop = ND_STOP_DIVERGED;
    st = nd__error(ND_ERR_NUMERIC, "dopri: state or residual is not finite at t = %g after %lld steps", t,
                   (long long)res.steps);
  }
  if (result) *result = res;
  return st;
}
