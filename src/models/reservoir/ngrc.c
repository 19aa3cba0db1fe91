/* Next-generation reservoir computing (Gauthier et al. 2021, Nat. Commun.
 * 12:5564; include/neurodyn/reservoir.h) and the Lorenz series it is tested
 * on, sampled with the library's Dormand-Prince solver. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/dynamics.h"
#include "neurodyn/reservoir.h"

struct nd_ngrc {
  nd_ngrc_config c;
  int64_t lin, F; /* d k, 1 + d k + d k (d k + 1) / 2 */
  double *w;      /* [d, F] */
};

nd_ngrc_config nd_ngrc_defaults(void) { return (nd_ngrc_config){.inputs = 3, .delays = 2, .spacing = 1, .ridge = 2.5e-6}; }

nd_status nd_ngrc_create(const nd_ngrc_config *c, nd_ngrc **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "ngrc_create: out is NULL");
  *out = NULL;
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "ngrc_create: config is NULL");
  if (c->inputs < 1 || c->delays < 1 || c->spacing < 1 || c->inputs * c->delays > 1000 || c->spacing > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "ngrc: inputs %lld, delays %lld, spacing %lld: expected >= 1, inputs*delays <= 1000",
                     (long long)c->inputs, (long long)c->delays, (long long)c->spacing);
  if (!(c->ridge >= 0 && isfinite(c->ridge))) return nd__error(ND_ERR_INVALID_ARG, "ngrc: ridge = %g, expected >= 0", c->ridge);
  nd_ngrc *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "ngrc_create: out of memory");
  m->c = *c;
  m->lin = c->inputs * c->delays;
  m->F = 1 + m->lin + m->lin * (m->lin + 1) / 2;
  *out = m;
  return ND_OK;
}

void nd_ngrc_free(nd_ngrc *m) {
  if (!m) return;
  free(m->w);
  free(m);
}

int64_t nd_ngrc_features(const nd_ngrc *m) { return m ? m->F : -1; }

/* O_total of time t of the series u (rows of d values): [1; lin; i <= j products] */
static void features(const nd_ngrc *m, const double *u, int64_t t, double *phi) {
  int64_t d = m->c.inputs, L = m->lin, q = 0;
  phi[q++] = 1;
  for (int64_t j = 0; j < m->c.delays; j++) memcpy(phi + 1 + j * d, u + (t - j * m->c.spacing) * d, (size_t)d * sizeof *u);
  q = 1 + L;
  for (int64_t a = 0; a < L; a++)
    for (int64_t b = a; b < L; b++) phi[q++] = phi[1 + a] * phi[1 + b];
}

nd_status nd_ngrc_fit(nd_ngrc *m, const double *u, int64_t T) {
  if (!m || !u) return nd__error(ND_ERR_INVALID_ARG, "ngrc_fit: NULL argument");
  int64_t d = m->c.inputs, t0 = (m->c.delays - 1) * m->c.spacing, rows = T - 1 - t0;
  if (T < 2 || rows < 1 || T > ((int64_t)1 << 31))
    return nd__error(ND_ERR_INVALID_ARG, "ngrc_fit: T = %lld points, expected more than (k-1)s + 1 = %lld", (long long)T,
                     (long long)(t0 + 1));
  for (int64_t k = 0; k < T * d; k++)
    if (!isfinite(u[k])) return nd__error(ND_ERR_NUMERIC, "ngrc_fit: u[%lld] is not finite", (long long)k);
  if ((double)rows * (double)m->F > 2e9) return nd__error(ND_ERR_INVALID_ARG, "ngrc_fit: too many features x points");
  double *phi = malloc((size_t)(rows * m->F) * sizeof *phi), *y = malloc((size_t)(rows * d) * sizeof *y);
  double *w = malloc((size_t)(d * m->F) * sizeof *w);
  if (!phi || !y || !w) {
    free(phi), free(y), free(w);
    return nd__error(ND_ERR_NOMEM, "ngrc_fit: out of memory");
  }
  for (int64_t r = 0; r < rows; r++) {
    int64_t t = t0 + r;
    features(m, u, t, phi + r * m->F);
    for (int64_t i = 0; i < d; i++) y[r * d + i] = u[(t + 1) * d + i] - u[t * d + i]; /* the increment */
  }
  nd_status s = nd_ridge_fit(phi, y, rows, m->F, d, m->c.ridge, ND_RIDGE_QR, w);
  free(phi), free(y);
  if (s != ND_OK) {
    free(w);
    return s;
  }
  free(m->w);
  m->w = w;
  return ND_OK;
}

nd_status nd_ngrc_forecast(const nd_ngrc *m, const double *u, int64_t H, int64_t steps, double *y) {
  if (!m || !u || !y || steps < 0) return nd__error(ND_ERR_INVALID_ARG, "ngrc_forecast: NULL argument or steps < 0");
  if (!m->w) return nd__error(ND_ERR_INVALID_ARG, "ngrc_forecast: no readout yet (fit first)");
  int64_t d = m->c.inputs, need = (m->c.delays - 1) * m->c.spacing + 1;
  if (H < need) return nd__error(ND_ERR_INVALID_ARG, "ngrc_forecast: %lld history points, need %lld", (long long)H, (long long)need);
  /* a window of the last `need` points followed by the predictions */
  double *buf = malloc((size_t)((need + steps) * d) * sizeof *buf), *phi = malloc((size_t)m->F * sizeof *phi);
  if (!buf || !phi) {
    free(buf), free(phi);
    return nd__error(ND_ERR_NOMEM, "ngrc_forecast: out of memory");
  }
  memcpy(buf, u + (H - need) * d, (size_t)(need * d) * sizeof *buf);
  nd_status s = ND_OK;
  for (int64_t k = 0; k < steps && s == ND_OK; k++) {
    int64_t t = need - 1 + k;
    features(m, buf, t, phi);
    for (int64_t i = 0; i < d; i++) {
      double v = buf[t * d + i];
      for (int64_t f = 0; f < m->F; f++) v += m->w[i * m->F + f] * phi[f];
      if (!isfinite(v)) s = nd__error(ND_ERR_NUMERIC, "ngrc_forecast: diverged at step %lld", (long long)k);
      buf[(t + 1) * d + i] = v;
    }
  }
  if (s == ND_OK) memcpy(y, buf + need * d, (size_t)(steps * d) * sizeof *y);
  free(buf), free(phi);
  return s;
}

typedef struct lorenz_p {
  double sigma, rho, beta;
} lorenz_p;

static nd_status lorenz_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  const lorenz_p *p = user;
  dy[0] = (float)(p->sigma * ((double)y[1] - y[0]));
  dy[1] = (float)((double)y[0] * (p->rho - y[2]) - y[1]);
  dy[2] = (float)((double)y[0] * y[1] - p->beta * y[2]);
  return ND_OK;
}

nd_status nd_lorenz(int64_t n, double dt, const double *x0, double sigma, double rho, double beta, double *out) {
  if (!x0 || !out || n < 1) return nd__error(ND_ERR_INVALID_ARG, "lorenz: NULL argument or n < 1");
  if (!(dt > 0 && isfinite(dt)) || !isfinite(sigma) || !isfinite(rho) || !isfinite(beta))
    return nd__error(ND_ERR_INVALID_ARG, "lorenz: dt = %g must be > 0 and the parameters finite", dt);
  lorenz_p p = {sigma, rho, beta};
  nd_system sys = {.dim = 3, .rhs = lorenz_rhs, .user = &p};
  nd_dopri *dp = NULL;
  ND_TRY(nd_dopri_create(3, false, &dp));
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = 1e-6, o.atol = 1e-6;
  float y[3] = {(float)x0[0], (float)x0[1], (float)x0[2]};
  nd_status s = ND_OK;
  for (int64_t k = 0; k < n && s == ND_OK; k++) {
    for (int i = 0; i < 3; i++) out[k * 3 + i] = y[i];
    if (k + 1 < n) s = nd_dopri_integrate(dp, &sys, (double)k * dt, (double)(k + 1) * dt, y, &o, NULL);
  }
  nd_dopri_free(dp);
  return s;
}
