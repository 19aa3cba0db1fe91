/* Mackey-Glass delay equation (Mackey & Glass 1977, Science 197:287),
 *   dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t),
 * by RK4 with step h, the delayed value x(t - tau) read from a ring buffer of
 * the last floor(tau / h) values and held over the step (the scheme of
 * reservoirpy's datasets.mackey_glass, _mg_rk4). */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "neurodyn/reservoir.h"

static double mg(double x, double xtau, double beta, double gamma, double power) {
  return beta * xtau / (1 + pow(xtau, power)) - gamma * x;
}

nd_status nd_mackey_glass(int64_t n, double tau, double beta, double gamma, double power, double x0, double h,
                          double *out) {
  if (!out || n < 1) return nd__error(ND_ERR_INVALID_ARG, "mackey_glass: %s", out ? "n < 1" : "out is NULL");
  if (!(h > 0 && isfinite(h)) || !(tau >= h && tau / h <= 1e8))
    return nd__error(ND_ERR_INVALID_ARG, "mackey_glass: tau = %g, h = %g: expected h > 0, h <= tau <= 1e8 h", tau, h);
  if (!isfinite(beta) || !isfinite(gamma) || !isfinite(power) || !isfinite(x0))
    return nd__error(ND_ERR_INVALID_ARG, "mackey_glass: beta, gamma, power and x0 must be finite");
  int64_t m = (int64_t)floor(tau / h); /* reservoirpy: int(np.floor(tau / h)) */
  double *hist = malloc((size_t)m * sizeof *hist);
  if (!hist) return nd__error(ND_ERR_NOMEM, "mackey_glass: out of memory for %lld history values", (long long)m);
  for (int64_t i = 0; i < m; i++) hist[i] = x0;
  double x = x0;
  int64_t head = 0; /* hist[head] = x(t - tau) */
  for (int64_t k = 0; k < n; k++) {
    out[k] = x;
    double xtau = hist[head];
    double k1 = h * mg(x, xtau, beta, gamma, power);
    double k2 = h * mg(x + 0.5 * k1, xtau, beta, gamma, power);
    double k3 = h * mg(x + 0.5 * k2, xtau, beta, gamma, power);
    double k4 = h * mg(x + k3, xtau, beta, gamma, power);
    hist[head] = x;
    head = (head + 1) % m;
    x += (k1 + 2 * k2 + 2 * k3 + k4) / 6;
  }
  free(hist);
  if (!isfinite(x)) return nd__error(ND_ERR_NUMERIC, "mackey_glass: the series diverged");
  return ND_OK;
}
