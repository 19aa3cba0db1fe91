/* Echo-state network (include/neurodyn/reservoir.h; Jaeger 2001; leaky
 * units: Jaeger et al. 2007, Eq. 2; readout: Lukosevicius 2012, Eq. 9).
 * W is held as sparse rows (CSR): at 1% connectivity a step is ~N^2/100
 * multiply-adds instead of N^2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/reservoir.h"
#include "neurodyn/rng.h"

#define ND_ESN_MAX_UNITS 5000 /* W is drawn dense for dgeev: 200 MB, minutes */

struct nd_esn {
  nd_esn_config c;
  int64_t *row_ptr; /* [N + 1] */
  int32_t *col;     /* [nnz] */
  double *val;      /* [nnz] */
  int64_t nnz;
  double *w_in;     /* [N, 1 + K]: bias column first */
  double *x, *pre;  /* [N] state, pre-activation scratch */
  double *u;        /* [K] last input */
  double *w_out;    /* [L, F] or NULL before a fit */
  double rho;       /* spectral radius after scaling */
};

nd_esn_config nd_esn_defaults(void) {
  nd_esn_config c = {.units = 1000, .inputs = 1, .outputs = 1, .connectivity = 0.01, .spectral_radius = 0.8,
                     .leak = 1, .input_scaling = 1, .bias_scaling = 0.2, .ridge = 1e-8, .washout = 100, .seed = 1,
                     .rho_method = ND_ESN_RHO_EIG, .power_iterations = 1000};
  return c;
}

nd_status nd_esn_config_check(const nd_esn_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "esn: config is NULL");
  if (c->units < 1 || c->units > ND_ESN_MAX_UNITS)
    return nd__error(ND_ERR_INVALID_ARG, "esn: units = %lld, expected 1..%d", (long long)c->units, ND_ESN_MAX_UNITS);
  if (c->inputs < 1 || c->inputs > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "esn: inputs = %lld, expected 1..100000", (long long)c->inputs);
  if (c->outputs < 1 || c->outputs > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "esn: outputs = %lld, expected 1..100000", (long long)c->outputs);
  if (!(c->connectivity > 0 && c->connectivity <= 1))
    return nd__error(ND_ERR_INVALID_ARG, "esn: connectivity = %g, expected (0, 1]", c->connectivity);
  if (!(c->spectral_radius > 0 && c->spectral_radius < 1e6))
    return nd__error(ND_ERR_INVALID_ARG, "esn: spectral_radius = %g, expected > 0", c->spectral_radius);
  if (!(c->leak > 0 && c->leak <= 1)) return nd__error(ND_ERR_INVALID_ARG, "esn: leak = %g, expected (0, 1]", c->leak);
  if (!(c->input_scaling >= 0 && c->input_scaling < 1e6))
    return nd__error(ND_ERR_INVALID_ARG, "esn: input_scaling = %g, expected >= 0", c->input_scaling);
  if (!(c->bias_scaling >= 0 && c->bias_scaling < 1e6))
    return nd__error(ND_ERR_INVALID_ARG, "esn: bias_scaling = %g, expected >= 0", c->bias_scaling);
  if (!(c->ridge >= 0 && c->ridge < 1e30)) return nd__error(ND_ERR_INVALID_ARG, "esn: ridge = %g, expected >= 0", c->ridge);
  if ((unsigned)c->rho_method > ND_ESN_RHO_POWER)
    return nd__error(ND_ERR_INVALID_ARG, "esn: rho_method = %d unknown", (int)c->rho_method);
  if (c->rho_method == ND_ESN_RHO_POWER && (c->power_iterations < 2 || c->power_iterations > 1000000))
    return nd__error(ND_ERR_INVALID_ARG, "esn: power_iterations = %lld, expected 2..1e6", (long long)c->power_iterations);
  if ((unsigned)c->solver > ND_RIDGE_QR) return nd__error(ND_ERR_INVALID_ARG, "esn: solver = %d unknown", (int)c->solver);
  if (c->washout < 0) return nd__error(ND_ERR_INVALID_ARG, "esn: washout = %lld, expected >= 0", (long long)c->washout);
  return ND_OK;
}

void nd_esn_free(nd_esn *e) {
  if (!e) return;
  free(e->row_ptr), free(e->col), free(e->val), free(e->w_in), free(e->x), free(e->pre), free(e->u), free(e->w_out);
  free(e);
}

/* rho(W) by power iteration: the mean log growth of |W^k x| over iterations
 * K+1..2K (the first K let x turn towards the dominant eigenvectors; the
 * mean over a window cancels the rotation of a complex dominant pair). */
static double power_radius(const nd_esn *e, double *x, double *y, int64_t iters) {
  int64_t n = e->c.units, K = iters / 2;
  nd_rng base, r;
  nd_rng_init(&base, e->c.seed);
  r = nd_rng_split(&base, 3);
  for (int64_t i = 0; i < n; i++) x[i] = 2 * nd_rng_uniform1(&r) - 1;
  double logsum = 0;
  for (int64_t k = 0; k < 2 * K; k++) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
      double v = 0;
      for (int64_t q = e->row_ptr[i]; q < e->row_ptr[i + 1]; q++) v += e->val[q] * x[e->col[q]];
      y[i] = v, s += v * v;
    }
    s = sqrt(s);
    if (!(s > 0)) return 0; /* nilpotent (e.g. too sparse) */
    double xs = 0;
    for (int64_t i = 0; i < n; i++) xs += x[i] * x[i];
    if (k >= K) logsum += log(s / sqrt(xs));
    for (int64_t i = 0; i < n; i++) x[i] = y[i] / s;
  }
  return exp(logsum / (double)K);
}

/* W: Bernoulli(connectivity) entries, uniform in [-1, 1], as sparse rows;
 * its spectral radius by dgeev on a dense copy or by power iteration; then
 * scaled to the target. */
static nd_status draw_reservoir(nd_esn *e) {
  int64_t n = e->c.units, cap = 1024, nnz = 0;
  nd_rng base, r;
  nd_rng_init(&base, e->c.seed);
  r = nd_rng_split(&base, 1);
  e->row_ptr = malloc((size_t)(n + 1) * sizeof *e->row_ptr);
  e->col = malloc((size_t)cap * sizeof *e->col);
  e->val = malloc((size_t)cap * sizeof *e->val);
  if (!e->row_ptr || !e->col || !e->val) return nd__error(ND_ERR_NOMEM, "esn: out of memory");
  for (int64_t i = 0; i < n; i++) {
    e->row_ptr[i] = nnz;
    for (int64_t j = 0; j < n; j++) {
      if (nd_rng_uniform1(&r) >= e->c.connectivity) continue;
      if (nnz == cap) {
        cap *= 2;
        int32_t *c2 = realloc(e->col, (size_t)cap * sizeof *c2);
        if (c2) e->col = c2;
        double *v2 = c2 ? realloc(e->val, (size_t)cap * sizeof *v2) : NULL;
        if (!v2) return nd__error(ND_ERR_NOMEM, "esn: out of memory");
        e->val = v2;
      }
      e->col[nnz] = (int32_t)j, e->val[nnz++] = 2 * nd_rng_uniform1(&r) - 1;
    }
  }
  e->row_ptr[n] = nnz;
  e->nnz = nnz;
  double rho = 0;
  nd_status s = ND_OK;
  if (e->c.rho_method == ND_ESN_RHO_POWER) {
    rho = power_radius(e, e->x, e->pre, e->c.power_iterations);
    memset(e->x, 0, (size_t)n * sizeof *e->x);
  } else {
    double *w = malloc((size_t)(n * n) * sizeof *w);
    if (!w) return nd__error(ND_ERR_NOMEM, "esn: out of memory for a dense %lld x %lld copy for dgeev", (long long)n, (long long)n);
    nd_esn_reservoir(e, w);
    s = nd_spectral_radius(w, n, &rho);
    free(w);
  }
  if (s != ND_OK) return s;
  if (!(rho > 0)) return nd__error(ND_ERR_NUMERIC, "esn: the reservoir has spectral radius 0 (too sparse: raise connectivity)");
  double scale = e->c.spectral_radius / rho;
  for (int64_t q = 0; q < nnz; q++) e->val[q] *= scale;
  e->rho = rho * scale;
  return ND_OK;
}

nd_status nd_esn_create(const nd_esn_config *c, nd_esn **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "esn_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_esn_config_check(c));
  nd_esn *e = calloc(1, sizeof *e);
  if (!e) return nd__error(ND_ERR_NOMEM, "esn_create: out of memory");
  e->c = *c;
  int64_t n = c->units, k1 = 1 + c->inputs;
  e->w_in = malloc((size_t)(n * k1) * sizeof *e->w_in);
  e->x = calloc((size_t)n, sizeof *e->x);
  e->pre = calloc((size_t)n, sizeof *e->pre);
  e->u = calloc((size_t)c->inputs, sizeof *e->u);
  nd_status s = (!e->w_in || !e->x || !e->pre || !e->u) ? nd__error(ND_ERR_NOMEM, "esn_create: out of memory")
                                                       : draw_reservoir(e);
  if (s != ND_OK) {
    nd_esn_free(e);
    return s;
  }
  nd_rng base, r;
  nd_rng_init(&base, c->seed);
  r = nd_rng_split(&base, 2);
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < k1; k++)
      e->w_in[i * k1 + k] = (k == 0 ? c->bias_scaling : c->input_scaling) * (2 * nd_rng_uniform1(&r) - 1);
  *out = e;
  return ND_OK;
}

double nd_esn_spectral_radius(const nd_esn *e) { return e ? e->rho : NAN; }
int64_t nd_esn_nnz(const nd_esn *e) { return e ? e->nnz : -1; }
const double *nd_esn_state(const nd_esn *e) { return e ? e->x : NULL; }

nd_status nd_esn_reservoir(const nd_esn *e, double *w) {
  if (!e || !w) return nd__error(ND_ERR_INVALID_ARG, "esn_reservoir: %s is NULL", e ? "w" : "esn");
  int64_t n = e->c.units;
  memset(w, 0, (size_t)(n * n) * sizeof *w);
  for (int64_t i = 0; i < n; i++)
    for (int64_t q = e->row_ptr[i]; q < e->row_ptr[i + 1]; q++) w[i * n + e->col[q]] = e->val[q];
  return ND_OK;
}
const double *nd_esn_readout_weights(const nd_esn *e) { return e ? e->w_out : NULL; }

nd_status nd_esn_reset(nd_esn *e) {
  if (!e) return nd__error(ND_ERR_INVALID_ARG, "esn_reset: esn is NULL");
  memset(e->x, 0, (size_t)e->c.units * sizeof *e->x);
  memset(e->u, 0, (size_t)e->c.inputs * sizeof *e->u);
  return ND_OK;
}

/* x = (1 - a) x + a tanh(W x + W_in [b; u])   (Jaeger et al. 2007, Eq. 2) */
static void step(nd_esn *e, const double *u) {
  int64_t n = e->c.units, K = e->c.inputs, k1 = 1 + K;
  const double a = e->c.leak;
  for (int64_t i = 0; i < n; i++) {
    double s = e->w_in[i * k1];
    for (int64_t k = 0; k < K; k++) s += e->w_in[i * k1 + 1 + k] * u[k];
    for (int64_t q = e->row_ptr[i]; q < e->row_ptr[i + 1]; q++) s += e->val[q] * e->x[e->col[q]];
    e->pre[i] = s;
  }
  for (int64_t i = 0; i < n; i++) e->x[i] = (1 - a) * e->x[i] + a * tanh(e->pre[i]);
  memcpy(e->u, u, (size_t)K * sizeof *u);
}

nd_status nd_esn_step(nd_esn *e, const double *u) {
  if (!e || !u) return nd__error(ND_ERR_INVALID_ARG, "esn_step: %s is NULL", e ? "u" : "esn");
  for (int64_t k = 0; k < e->c.inputs; k++)
    if (!isfinite(u[k])) return nd__error(ND_ERR_NUMERIC, "esn_step: u[%lld] = %g is not finite", (long long)k, u[k]);
  step(e, u);
  return ND_OK;
}

/* phi = [1; u; x] */
static void features(const nd_esn *e, double *phi) {
  phi[0] = 1;
  memcpy(phi + 1, e->u, (size_t)e->c.inputs * sizeof *phi);
  memcpy(phi + 1 + e->c.inputs, e->x, (size_t)e->c.units * sizeof *phi);
}

nd_status nd_esn_fit(nd_esn *e, const double *u, const double *y, int64_t T) {
  if (!e || !u || !y) return nd__error(ND_ERR_INVALID_ARG, "esn_fit: NULL argument");
  if (T <= e->c.washout || T > ((int64_t)1 << 31))
    return nd__error(ND_ERR_INVALID_ARG, "esn_fit: T = %lld steps, expected washout %lld < T <= 2^31", (long long)T,
                     (long long)e->c.washout);
  int64_t K = e->c.inputs, L = e->c.outputs, F = 1 + K + e->c.units, rows = T - e->c.washout;
  for (int64_t k = 0; k < T * K; k++)
    if (!isfinite(u[k])) return nd__error(ND_ERR_NUMERIC, "esn_fit: u[%lld] is not finite", (long long)k);
  for (int64_t k = 0; k < T * L; k++)
    if (!isfinite(y[k])) return nd__error(ND_ERR_NUMERIC, "esn_fit: y[%lld] is not finite", (long long)k);
  if ((double)rows * (double)F > 2e9) return nd__error(ND_ERR_INVALID_ARG, "esn_fit: %lld x %lld states exceed 2e9 values", (long long)rows, (long long)F);
  double *phi = malloc((size_t)(rows * F) * sizeof *phi);
  double *w = malloc((size_t)(L * F) * sizeof *w);
  if (!phi || !w) {
    free(phi), free(w);
    return nd__error(ND_ERR_NOMEM, "esn_fit: out of memory for %lld x %lld states", (long long)rows, (long long)F);
  }
  nd_esn_reset(e);
  for (int64_t t = 0; t < T; t++) {
    step(e, u + t * K);
    if (t >= e->c.washout) features(e, phi + (t - e->c.washout) * F);
  }
  nd_status s = nd_ridge_fit(phi, y + e->c.washout * L, rows, F, L, e->c.ridge, e->c.solver, w);
  free(phi);
  if (s != ND_OK) {
    free(w);
    return s;
  }
  free(e->w_out);
  e->w_out = w;
  return ND_OK;
}

nd_status nd_esn_readout(const nd_esn *e, double *y) {
  if (!e || !y) return nd__error(ND_ERR_INVALID_ARG, "esn_readout: %s is NULL", e ? "y" : "esn");
  if (!e->w_out) return nd__error(ND_ERR_INVALID_ARG, "esn_readout: no readout yet (fit first)");
  int64_t K = e->c.inputs, F = 1 + K + e->c.units;
  for (int64_t l = 0; l < e->c.outputs; l++) {
    const double *w = e->w_out + l * F;
    double s = w[0];
    for (int64_t k = 0; k < K; k++) s += w[1 + k] * e->u[k];
    for (int64_t i = 0; i < e->c.units; i++) s += w[1 + K + i] * e->x[i];
    y[l] = s;
  }
  return ND_OK;
}

nd_status nd_esn_run(nd_esn *e, const double *u, int64_t T, double *y) {
  if (!e || !u || !y || T < 0) return nd__error(ND_ERR_INVALID_ARG, "esn_run: NULL argument or T < 0");
  for (int64_t t = 0; t < T; t++) {
    ND_TRY(nd_esn_step(e, u + t * e->c.inputs));
    ND_TRY(nd_esn_readout(e, y + t * e->c.outputs));
  }
  return ND_OK;
}

nd_status nd_esn_generate(nd_esn *e, int64_t steps, double *y) {
  if (!e || !y || steps < 0) return nd__error(ND_ERR_INVALID_ARG, "esn_generate: NULL argument or steps < 0");
  if (e->c.inputs != e->c.outputs)
    return nd__error(ND_ERR_INVALID_ARG, "esn_generate: needs inputs == outputs (%lld, %lld)", (long long)e->c.inputs,
                     (long long)e->c.outputs);
  int64_t L = e->c.outputs;
  double *cur = malloc((size_t)L * sizeof *cur);
  if (!cur) return nd__error(ND_ERR_NOMEM, "esn_generate: out of memory");
  nd_status s = nd_esn_readout(e, cur);
  for (int64_t t = 0; t < steps && s == ND_OK; t++) {
    s = nd_esn_step(e, cur); /* refuses a diverged (non-finite) prediction */
    if (s == ND_OK) s = nd_esn_readout(e, y + t * L);
    if (s == ND_OK) memcpy(cur, y + t * L, (size_t)L * sizeof *cur);
  }
  free(cur);
  return s;
}
