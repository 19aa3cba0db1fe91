/* Echo-state network (include/neurodyn/reservoir.h; Jaeger 2001; leaky
 * units: Jaeger et al. 2007, Eq. 2; readout: Lukosevicius 2012, Eq. 9),
 * stacked into a deep ESN (Gallicchio, Micheli & Pedrelli 2017), with the
 * intrinsic gain and bias of Schrauwen et al. 2008 on every unit.  Each
 * layer's W is held as sparse rows (CSR): at 1% connectivity a step is
 * ~N^2/100 multiply-adds instead of N^2.  The readouts (ridge, RLS/FORCE),
 * the local rules and the checkpoints are in esn_train.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/reservoir/esn_internal.h"
#include "neurodyn/rng.h"

nd_esn_config nd_esn_defaults(void) {
  nd_esn_config c = {.units = 1000, .inputs = 1, .outputs = 1, .connectivity = 0.01, .spectral_radius = 0.8,
                     .leak = 1, .input_scaling = 1, .bias_scaling = 0.2, .ridge = 1e-8, .washout = 100, .seed = 1,
                     .rho_method = ND_ESN_RHO_EIG, .power_iterations = 1000, .layers = 1, .inter_scaling = 1,
                     .noise = 0};
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
  if (c->layers < 1 || c->layers > ND_ESN_MAX_LAYERS)
    return nd__error(ND_ERR_INVALID_ARG, "esn: layers = %lld, expected 1..%d", (long long)c->layers, ND_ESN_MAX_LAYERS);
  if (!(c->inter_scaling >= 0 && c->inter_scaling < 1e6))
    return nd__error(ND_ERR_INVALID_ARG, "esn: inter_scaling = %g, expected >= 0", c->inter_scaling);
  if (!(c->noise >= 0 && c->noise < 1)) return nd__error(ND_ERR_INVALID_ARG, "esn: noise = %g, expected [0, 1)", c->noise);
  return ND_OK;
}

void nd_esn_free(nd_esn *e) {
  if (!e) return;
  for (int64_t l = 0; l < e->c.layers; l++) {
    nd_esn_layer *y = &e->layer[l];
    free(y->row_ptr), free(y->col), free(y->val), free(y->w_in);
  }
  free(e->x), free(e->pre), free(e->xprev), free(e->u), free(e->gain), free(e->ipb), free(e->w_out), free(e->P);
  free(e->rls_k), free(e->nbuf);
  free(e);
}

/* Random streams of layer l: 1, 2, 3 for layer 0 (as before layers existed), 10 l + 1.. for the others. */
static uint64_t stream(int64_t l, int which) { return l == 0 ? (uint64_t)which : (uint64_t)(10 * l + which); }

/* rho(W_l) by power iteration: the mean log growth of |W^k x| over iterations
 * K+1..2K (the first K let x turn towards the dominant eigenvectors; the
 * mean over a window cancels the rotation of a complex dominant pair). */
static double power_radius(const nd_esn *e, const nd_esn_layer *y, int64_t l, double *x, double *v) {
  int64_t n = e->c.units, K = e->c.power_iterations / 2;
  nd_rng base, r;
  nd_rng_init(&base, e->c.seed);
  r = nd_rng_split(&base, stream(l, 3));
  for (int64_t i = 0; i < n; i++) x[i] = 2 * nd_rng_uniform1(&r) - 1;
  double logsum = 0;
  for (int64_t k = 0; k < 2 * K; k++) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
      double a = 0;
      for (int64_t q = y->row_ptr[i]; q < y->row_ptr[i + 1]; q++) a += y->val[q] * x[y->col[q]];
      v[i] = a, s += a * a;
    }
    s = sqrt(s);
    if (!(s > 0)) return 0; /* nilpotent (e.g. too sparse) */
    double xs = 0;
    for (int64_t i = 0; i < n; i++) xs += x[i] * x[i];
    if (k >= K) logsum += log(s / sqrt(xs));
    for (int64_t i = 0; i < n; i++) x[i] = v[i] / s;
  }
  return exp(logsum / (double)K);
}

static void layer_dense(const nd_esn *e, const nd_esn_layer *y, double *w) {
  int64_t n = e->c.units;
  memset(w, 0, (size_t)(n * n) * sizeof *w);
  for (int64_t i = 0; i < n; i++)
    for (int64_t q = y->row_ptr[i]; q < y->row_ptr[i + 1]; q++) w[i * n + y->col[q]] = y->val[q];
}

nd_status nd__esn_rescale(nd_esn *e, int64_t l) {
  nd_esn_layer *y = &e->layer[l];
  int64_t n = e->c.units;
  double rho = 0;
  if (e->c.rho_method == ND_ESN_RHO_POWER) {
    rho = power_radius(e, y, l, e->pre, e->xprev);
  } else {
    double *w = malloc((size_t)(n * n) * sizeof *w);
    if (!w) return nd__error(ND_ERR_NOMEM, "esn: out of memory for a dense %lld x %lld copy for dgeev", (long long)n, (long long)n);
    layer_dense(e, y, w);
    nd_status s = nd_spectral_radius(w, n, &rho);
    free(w);
    ND_TRY(s);
  }
  if (!(rho > 0)) return nd__error(ND_ERR_NUMERIC, "esn: the reservoir has spectral radius 0 (too sparse: raise connectivity)");
  double scale = e->c.spectral_radius / rho;
  for (int64_t q = 0; q < y->nnz; q++) y->val[q] *= scale;
  y->rho = rho * scale;
  return ND_OK;
}

/* W_l: Bernoulli(connectivity) entries, uniform in [-1, 1], as sparse rows;
 * then scaled to the target spectral radius. */
static nd_status draw_layer(nd_esn *e, int64_t l) {
  nd_esn_layer *y = &e->layer[l];
  int64_t n = e->c.units, cap = 1024, nnz = 0;
  nd_rng base, r;
  nd_rng_init(&base, e->c.seed);
  r = nd_rng_split(&base, stream(l, 1));
  y->row_ptr = malloc((size_t)(n + 1) * sizeof *y->row_ptr);
  y->col = malloc((size_t)cap * sizeof *y->col);
  y->val = malloc((size_t)cap * sizeof *y->val);
  if (!y->row_ptr || !y->col || !y->val) return nd__error(ND_ERR_NOMEM, "esn: out of memory");
  for (int64_t i = 0; i < n; i++) {
    y->row_ptr[i] = nnz;
    for (int64_t j = 0; j < n; j++) {
      if (nd_rng_uniform1(&r) >= e->c.connectivity) continue;
      if (nnz == cap) {
        cap *= 2;
        int32_t *c2 = realloc(y->col, (size_t)cap * sizeof *c2);
        if (c2) y->col = c2;
        double *v2 = c2 ? realloc(y->val, (size_t)cap * sizeof *v2) : NULL;
        if (!v2) return nd__error(ND_ERR_NOMEM, "esn: out of memory");
        y->val = v2;
      }
      y->col[nnz] = (int32_t)j, y->val[nnz++] = 2 * nd_rng_uniform1(&r) - 1;
    }
  }
  y->row_ptr[n] = nnz;
  y->nnz = nnz;
  ND_TRY(nd__esn_rescale(e, l));
  /* W_in of the layer: [N, 1 + in], bias column first */
  y->in = l == 0 ? e->c.inputs : n;
  int64_t k1 = 1 + y->in;
  double s_in = l == 0 ? e->c.input_scaling : e->c.inter_scaling;
  y->w_in = malloc((size_t)(n * k1) * sizeof *y->w_in);
  if (!y->w_in) return nd__error(ND_ERR_NOMEM, "esn: out of memory");
  r = nd_rng_split(&base, stream(l, 2));
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < k1; k++) y->w_in[i * k1 + k] = (k == 0 ? e->c.bias_scaling : s_in) * (2 * nd_rng_uniform1(&r) - 1);
  return ND_OK;
}

nd_status nd_esn_create(const nd_esn_config *c, nd_esn **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "esn_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_esn_config_check(c));
  nd_esn *e = calloc(1, sizeof *e);
  if (!e) return nd__error(ND_ERR_NOMEM, "esn_create: out of memory");
  e->c = *c;
  int64_t nl = c->units * c->layers;
  e->F = 1 + c->inputs + nl;
  e->x = calloc((size_t)nl, sizeof *e->x);
  e->pre = calloc((size_t)nl, sizeof *e->pre);
  e->xprev = calloc((size_t)nl, sizeof *e->xprev);
  e->gain = malloc((size_t)nl * sizeof *e->gain);
  e->ipb = calloc((size_t)nl, sizeof *e->ipb);
  e->u = calloc((size_t)c->inputs, sizeof *e->u);
  e->nbuf = calloc((size_t)nl, sizeof *e->nbuf);
  nd_status s = (!e->x || !e->pre || !e->xprev || !e->gain || !e->ipb || !e->u || !e->nbuf) ? nd__error(ND_ERR_NOMEM, "esn_create: out of memory")
                                                                              : ND_OK;
  for (int64_t i = 0; s == ND_OK && i < nl; i++) e->gain[i] = 1;
  for (int64_t l = 0; s == ND_OK && l < c->layers; l++) s = draw_layer(e, l);
  if (s != ND_OK) {
    nd_esn_free(e);
    return s;
  }
  nd_rng base;
  nd_rng_init(&base, c->seed);
  e->noise_rng = nd_rng_split(&base, 4);
  *out = e;
  return ND_OK;
}

double nd_esn_spectral_radius(const nd_esn *e) { return e ? e->layer[0].rho : NAN; }
double nd_esn_layer_spectral_radius(const nd_esn *e, int64_t l) {
  return e && l >= 0 && l < e->c.layers ? e->layer[l].rho : NAN;
}
int64_t nd_esn_nnz(const nd_esn *e) { return e ? e->layer[0].nnz : -1; }
int64_t nd_esn_features(const nd_esn *e) { return e ? e->F : -1; }
const double *nd_esn_state(const nd_esn *e) { return e ? e->x : NULL; }
const double *nd_esn_gain(const nd_esn *e) { return e ? e->gain : NULL; }
const double *nd_esn_ip_bias(const nd_esn *e) { return e ? e->ipb : NULL; }
nd_esn_config nd_esn_get_config(const nd_esn *e) { return e ? e->c : nd_esn_defaults(); }

nd_status nd_esn_reservoir(const nd_esn *e, double *w) {
  if (!e || !w) return nd__error(ND_ERR_INVALID_ARG, "esn_reservoir: %s is NULL", e ? "w" : "esn");
  layer_dense(e, &e->layer[0], w);
  return ND_OK;
}
nd_status nd_esn_layer_reservoir(const nd_esn *e, int64_t l, double *w) {
  if (!e || !w || l < 0 || l >= e->c.layers) return nd__error(ND_ERR_INVALID_ARG, "esn_layer_reservoir: NULL argument or bad layer");
  layer_dense(e, &e->layer[l], w);
  return ND_OK;
}
const double *nd_esn_readout_weights(const nd_esn *e) { return e ? e->w_out : NULL; }

nd_status nd_esn_reset(nd_esn *e) {
  if (!e) return nd__error(ND_ERR_INVALID_ARG, "esn_reset: esn is NULL");
  memset(e->x, 0, (size_t)(e->c.units * e->c.layers) * sizeof *e->x);
  memset(e->u, 0, (size_t)e->c.inputs * sizeof *e->u);
  return ND_OK;
}

/* One step of every layer on the state x [layers N] (pre: the net inputs s),
 * layer l > 0 driven by the new state of layer l - 1 (Gallicchio et al. 2017,
 * Eq. 1 and 2):
 *   s = W_l x_l + W_in,l [b; in_l],  x_l = (1 - a) x_l + a tanh(g * s + b_ip)
 * (Jaeger et al. 2007, Eq. 2; the gain g and bias b_ip of Schrauwen et al.
 * 2008, 1 and 0 unless adapted).  noise: NULL, or uniform values added to x. */
void nd__esn_step_state(const nd_esn *e, const double *u, double *x, double *pre, const double *noise) {
  int64_t n = e->c.units;
  const double a = e->c.leak;
  for (int64_t l = 0; l < e->c.layers; l++) {
    const nd_esn_layer *y = &e->layer[l];
    const double *in = l == 0 ? u : x + (l - 1) * n;
    double *xl = x + l * n, *pl = pre + l * n;
    const double *g = e->gain + l * n, *b = e->ipb + l * n;
    int64_t k1 = 1 + y->in;
    for (int64_t i = 0; i < n; i++) {
      const double *wi = y->w_in + i * k1;
      double s = wi[0];
      for (int64_t k = 0; k < y->in; k++) s += wi[1 + k] * in[k];
      for (int64_t q = y->row_ptr[i]; q < y->row_ptr[i + 1]; q++) s += y->val[q] * xl[y->col[q]];
      pl[i] = s;
    }
    for (int64_t i = 0; i < n; i++) xl[i] = (1 - a) * xl[i] + a * tanh(g[i] * pl[i] + b[i]);
    if (noise)
      for (int64_t i = 0; i < n; i++) xl[i] += noise[l * n + i];
  }
}

void nd__esn_step(nd_esn *e, const double *u, bool noisy) {
  const double *noise = NULL;
  if (noisy && e->c.noise > 0) {
    int64_t nl = e->c.units * e->c.layers;
    nd_rng_uniform_f64(&e->noise_rng, e->nbuf, nl, -e->c.noise, e->c.noise);
    noise = e->nbuf;
  }
  nd__esn_step_state(e, u, e->x, e->pre, noise);
  memcpy(e->u, u, (size_t)e->c.inputs * sizeof *u);
}

nd_status nd_esn_step(nd_esn *e, const double *u) {
  if (!e || !u) return nd__error(ND_ERR_INVALID_ARG, "esn_step: %s is NULL", e ? "u" : "esn");
  for (int64_t k = 0; k < e->c.inputs; k++)
    if (!isfinite(u[k])) return nd__error(ND_ERR_NUMERIC, "esn_step: u[%lld] = %g is not finite", (long long)k, u[k]);
  nd__esn_step(e, u, false);
  return ND_OK;
}

/* phi = [1; u; x_1; ...; x_L] */
void nd__esn_features_of(const nd_esn *e, const double *u, const double *x, double *phi) {
  phi[0] = 1;
  memcpy(phi + 1, u, (size_t)e->c.inputs * sizeof *phi);
  memcpy(phi + 1 + e->c.inputs, x, (size_t)(e->c.units * e->c.layers) * sizeof *phi);
}

void nd__esn_readout_of(const nd_esn *e, const double *u, const double *x, double *y) {
  int64_t K = e->c.inputs, NL = e->c.units * e->c.layers, F = e->F;
  for (int64_t l = 0; l < e->c.outputs; l++) {
    const double *w = e->w_out + l * F;
    double s = w[0];
    for (int64_t k = 0; k < K; k++) s += w[1 + k] * u[k];
    for (int64_t i = 0; i < NL; i++) s += w[1 + K + i] * x[i];
    y[l] = s;
  }
}

nd_status nd__esn_check_series(const char *who, const char *name, const double *v, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(v[k])) return nd__error(ND_ERR_NUMERIC, "%s: %s[%lld] is not finite", who, name, (long long)k);
  return ND_OK;
}

nd_status nd_esn_fit(nd_esn *e, const double *u, const double *y, int64_t T) {
  if (!e || !u || !y) return nd__error(ND_ERR_INVALID_ARG, "esn_fit: NULL argument");
  if (T <= e->c.washout || T > ((int64_t)1 << 31))
    return nd__error(ND_ERR_INVALID_ARG, "esn_fit: T = %lld steps, expected washout %lld < T <= 2^31", (long long)T,
                     (long long)e->c.washout);
  int64_t K = e->c.inputs, L = e->c.outputs, F = e->F, rows = T - e->c.washout;
  ND_TRY(nd__esn_check_series("esn_fit", "u", u, T * K));
  ND_TRY(nd__esn_check_series("esn_fit", "y", y, T * L));
  if ((double)rows * (double)F > 2e9) return nd__error(ND_ERR_INVALID_ARG, "esn_fit: %lld x %lld states exceed 2e9 values", (long long)rows, (long long)F);
  double *phi = malloc((size_t)(rows * F) * sizeof *phi);
  double *w = malloc((size_t)(L * F) * sizeof *w);
  if (!phi || !w) {
    free(phi), free(w);
    return nd__error(ND_ERR_NOMEM, "esn_fit: out of memory for %lld x %lld states", (long long)rows, (long long)F);
  }
  nd_esn_reset(e);
  for (int64_t t = 0; t < T; t++) {
    nd__esn_step(e, u + t * K, true); /* noise (config.noise) in training only (Jaeger & Haas 2004) */
    if (t >= e->c.washout) nd__esn_features_of(e, e->u, e->x, phi + (t - e->c.washout) * F);
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
  nd__esn_readout_of(e, e->u, e->x, y);
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
