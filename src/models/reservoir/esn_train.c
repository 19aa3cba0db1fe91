/* Training an echo-state network beyond the ridge fit (equations in
 * include/neurodyn/reservoir.h): the online RLS/FORCE readout (Sussillo &
 * Abbott 2009), the local rules on the reservoir (intrinsic plasticity,
 * Schrauwen et al. 2008; anti-Hebbian decorrelation, Foldiak 1990), many
 * independent sequences in parallel, and checkpoints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/reservoir/esn_internal.h"
#include "neurodyn/checkpoint.h"

/* --------------------------------------------------------------- batches */

typedef struct seq_scratch {
  double *x, *pre, *u, *phi;
} seq_scratch;

static nd_status batch_check(const nd_esn *e, const double *u, int64_t B, const void *out, const char *who) {
  if (!e || !u || !out) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL argument", who);
  if (B < 1 || B > 100000000) return nd__error(ND_ERR_INVALID_ARG, "%s: B = %lld sequences, expected >= 1", who, (long long)B);
  return ND_OK;
}

/* one buffer of B (x, pre, u, phi) blocks */
static double *scratch(const nd_esn *e, int64_t B, int64_t *per) {
  int64_t NL = e->c.units * e->c.layers;
  *per = 2 * NL + e->c.inputs + e->F;
  return calloc((size_t)(B * *per), sizeof(double));
}

static seq_scratch seq_of(const nd_esn *e, double *buf, int64_t per, int64_t b) {
  int64_t NL = e->c.units * e->c.layers;
  double *p = buf + b * per;
  return (seq_scratch){p, p + NL, p + 2 * NL, p + 2 * NL + e->c.inputs};
}

nd_status nd_esn_states_batch(const nd_esn *e, const double *u, int64_t B, int64_t T, double *phi) {
  ND_TRY(batch_check(e, u, B, phi, "esn_states_batch"));
  if (T < 1 || (double)B * (double)T * (double)e->F > 4e9)
    return nd__error(ND_ERR_INVALID_ARG, "esn_states_batch: T = %lld: expected >= 1 and B T F <= 4e9", (long long)T);
  int64_t K = e->c.inputs, F = e->F, per;
  ND_TRY(nd__esn_check_series("esn_states_batch", "u", u, B * T * K));
  double *buf = scratch(e, B, &per);
  if (!buf) return nd__error(ND_ERR_NOMEM, "esn_states_batch: out of memory");
#pragma omp parallel for schedule(dynamic, 1) if (B > 1)
  for (int64_t b = 0; b < B; b++) {
    seq_scratch s = seq_of(e, buf, per, b);
    for (int64_t t = 0; t < T; t++) {
      const double *ut = u + (b * T + t) * K;
      nd__esn_step_state(e, ut, s.x, s.pre, NULL);
      nd__esn_features_of(e, ut, s.x, phi + (b * T + t) * F);
    }
  }
  free(buf);
  return ND_OK;
}

static bool all_finite(const double *v, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(v[k])) return false;
  return true;
}

nd_status nd_esn_forecast_batch(const nd_esn *e, const double *u, int64_t B, int64_t warm, int64_t horizon, double *y) {
  ND_TRY(batch_check(e, u, B, y, "esn_forecast_batch"));
  if (!e->w_out) return nd__error(ND_ERR_INVALID_ARG, "esn_forecast_batch: no readout yet (fit first)");
  if (warm < 1 || horizon < 0 || (double)B * (double)(warm + horizon) > 1e9)
    return nd__error(ND_ERR_INVALID_ARG, "esn_forecast_batch: warm = %lld, horizon = %lld: expected warm >= 1, horizon >= 0",
                     (long long)warm, (long long)horizon);
  if (horizon > 0 && e->c.inputs != e->c.outputs)
    return nd__error(ND_ERR_INVALID_ARG, "esn_forecast_batch: a free run needs inputs == outputs (%lld, %lld)",
                     (long long)e->c.inputs, (long long)e->c.outputs);
  int64_t K = e->c.inputs, L = e->c.outputs, W = warm + horizon, per;
  ND_TRY(nd__esn_check_series("esn_forecast_batch", "u", u, B * warm * K));
  double *buf = scratch(e, B, &per);
  if (!buf) return nd__error(ND_ERR_NOMEM, "esn_forecast_batch: out of memory");
#pragma omp parallel for schedule(dynamic, 1) if (B > 1)
  for (int64_t b = 0; b < B; b++) {
    seq_scratch s = seq_of(e, buf, per, b);
    double *yb = y + b * W * L;
    int64_t t = 0;
    for (; t < warm; t++) {
      const double *ut = u + (b * warm + t) * K;
      nd__esn_step_state(e, ut, s.x, s.pre, NULL);
      nd__esn_readout_of(e, ut, s.x, yb + t * L);
    }
    for (; t < W; t++) {
      const double *in = yb + (t - 1) * L; /* the last readout, fed back */
      if (!all_finite(in, L)) break;
      memcpy(s.u, in, (size_t)K * sizeof *s.u);
      nd__esn_step_state(e, s.u, s.x, s.pre, NULL);
      nd__esn_readout_of(e, s.u, s.x, yb + t * L);
    }
    for (; t < W; t++)
      for (int64_t l = 0; l < L; l++) yb[t * L + l] = NAN;
  }
  free(buf);
  return ND_OK;
}

/* --------------------------------------------------------------- RLS / FORCE */

nd_esn_rls nd_esn_rls_defaults(void) { return (nd_esn_rls){.force = false, .alpha = 1e-6, .lambda = 1}; }

nd_status nd_esn_rls_reset(nd_esn *e) {
  if (!e) return nd__error(ND_ERR_INVALID_ARG, "esn_rls_reset: esn is NULL");
  free(e->P), free(e->rls_k);
  e->P = e->rls_k = NULL;
  return ND_OK;
}

static nd_status rls_begin(nd_esn *e, double alpha) {
  int64_t F = e->F, L = e->c.outputs;
  if ((double)F * (double)F > 4e8) return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: P would be %lld x %lld", (long long)F, (long long)F);
  if (e->P) return ND_OK; /* continue */
  e->P = calloc((size_t)(F * F), sizeof *e->P);
  e->rls_k = calloc((size_t)F, sizeof *e->rls_k);
  double *w = calloc((size_t)(L * F), sizeof *w);
  if (!e->P || !e->rls_k || !w) {
    free(w);
    nd_esn_rls_reset(e);
    return nd__error(ND_ERR_NOMEM, "esn_fit_rls: out of memory for P (%lld x %lld)", (long long)F, (long long)F);
  }
  for (int64_t i = 0; i < F; i++) e->P[i * F + i] = 1 / alpha;
  free(e->w_out);
  e->w_out = w;
  return ND_OK;
}

/* one RLS update with features phi and a-priori errors err [L] */
static void rls_update(nd_esn *e, const double *phi, const double *err, double lambda) {
  int64_t F = e->F, L = e->c.outputs;
  double *P = e->P, *k = e->rls_k, d = lambda;
#pragma omp parallel for schedule(static) if (F > 256)
  for (int64_t i = 0; i < F; i++) {
    double s = 0;
    const double *pi = P + i * F;
    for (int64_t j = 0; j < F; j++) s += pi[j] * phi[j];
    k[i] = s;
  }
  for (int64_t i = 0; i < F; i++) d += phi[i] * k[i];
  double c = 1 / d, il = 1 / lambda;
  for (int64_t l = 0; l < L; l++) {
    double *w = e->w_out + l * F, g = c * err[l];
    for (int64_t i = 0; i < F; i++) w[i] -= g * k[i];
  }
#pragma omp parallel for schedule(static) if (F > 256)
  for (int64_t i = 0; i < F; i++) {
    double *pi = P + i * F, ck = c * k[i];
    for (int64_t j = 0; j < F; j++) pi[j] = (pi[j] - ck * k[j]) * il;
  }
}

nd_status nd_esn_fit_rls(nd_esn *e, const double *u, const double *y, int64_t T, const nd_esn_rls *r, double *mse) {
  if (!e || !u || !y || !r) return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: NULL argument");
  if (T <= e->c.washout || T > ((int64_t)1 << 31))
    return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: T = %lld steps, expected washout %lld < T", (long long)T, (long long)e->c.washout);
  if (!(r->alpha > 0 && r->alpha < 1e30)) return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: alpha = %g, expected > 0", r->alpha);
  if (!(r->lambda > 0 && r->lambda <= 1)) return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: lambda = %g, expected (0, 1]", r->lambda);
  if (r->force && e->c.inputs != e->c.outputs)
    return nd__error(ND_ERR_INVALID_ARG, "esn_fit_rls: FORCE feeds the output back: needs inputs == outputs");
  int64_t K = e->c.inputs, L = e->c.outputs, F = e->F;
  ND_TRY(nd__esn_check_series("esn_fit_rls", "u", u, T * K));
  ND_TRY(nd__esn_check_series("esn_fit_rls", "y", y, T * L));
  ND_TRY(rls_begin(e, r->alpha));
  double *phi = malloc((size_t)(F + 2 * L) * sizeof *phi);
  if (!phi) return nd__error(ND_ERR_NOMEM, "esn_fit_rls: out of memory");
  double *z = phi + F, *err = z + L, se = 0;
  nd_esn_reset(e);
  nd_status s = ND_OK;
  for (int64_t t = 0; t < T; t++) {
    /* FORCE: after the washout, the input is the output of the step before */
    const double *in = (r->force && t > e->c.washout) ? z : u + t * K;
    nd__esn_step(e, in, true);
    if (t < e->c.washout) continue;
    nd__esn_features_of(e, e->u, e->x, phi);
    nd__esn_readout_of(e, e->u, e->x, z);
    for (int64_t l = 0; l < L; l++) err[l] = z[l] - y[t * L + l], se += err[l] * err[l];
    rls_update(e, phi, err, r->lambda);
    if (r->force) nd__esn_readout_of(e, e->u, e->x, z); /* fed back: the output after the update */
    if (!all_finite(z, L)) {
      s = nd__error(ND_ERR_NUMERIC, "esn_fit_rls: the output diverged at step %lld (raise alpha)", (long long)t);
      break;
    }
  }
  free(phi);
  if (mse) *mse = se / (double)((T - e->c.washout) * L);
  return s;
}

/* --------------------------------------------------------------- local rules */

nd_esn_plasticity nd_esn_plasticity_defaults(void) {
  return (nd_esn_plasticity){.rule = ND_ESN_IP, .eta = 5e-4, .mu = 0, .sigma = 0.2};
}

/* Schrauwen et al. 2008: the tanh rule with a Gaussian target (reservoir.h) */
static void ip_rule(nd_esn *e, const nd_esn_plasticity *p) {
  int64_t NL = e->c.units * e->c.layers;
  const double eta = p->eta, mu = p->mu, s2 = p->sigma * p->sigma;
  for (int64_t i = 0; i < NL; i++) {
    double s = e->pre[i], y = tanh(e->gain[i] * s + e->ipb[i]);
    double db = -eta * (-mu / s2 + (y / s2) * (2 * s2 + 1 - y * y + mu * y));
    double dg = eta / e->gain[i] + db * s;
    e->ipb[i] += db, e->gain[i] += dg;
  }
}

/* Foldiak 1990 on centred activities: dW_ij = -eta (x_i(t) - m_i)(x_j(t-1) - m_j)
 * on the existing i != j connections; m: running means (rate 0.01) */
static void decorrelate_rule(nd_esn *e, double eta, double *m) {
  int64_t n = e->c.units, NL = n * e->c.layers;
  for (int64_t l = 0; l < e->c.layers; l++) {
    nd_esn_layer *y = &e->layer[l];
    const double *x = e->x + l * n, *xp = e->xprev + l * n, *ml = m + l * n;
#pragma omp parallel for schedule(static) if (n > 512)
    for (int64_t i = 0; i < n; i++)
      for (int64_t q = y->row_ptr[i]; q < y->row_ptr[i + 1]; q++)
        if (y->col[q] != i) y->val[q] -= eta * (x[i] - ml[i]) * (xp[y->col[q]] - ml[y->col[q]]);
  }
  for (int64_t i = 0; i < NL; i++) m[i] += 0.01 * (e->x[i] - m[i]);
}

enum { NPAIRS = 64 };

nd_status nd_esn_adapt(nd_esn *e, const double *u, int64_t T, const nd_esn_plasticity *p, nd_esn_adapt_stats *st) {
  if (!e || !u || !p) return nd__error(ND_ERR_INVALID_ARG, "esn_adapt: NULL argument");
  if (T <= e->c.washout || T > ((int64_t)1 << 31))
    return nd__error(ND_ERR_INVALID_ARG, "esn_adapt: T = %lld steps, expected washout %lld < T", (long long)T, (long long)e->c.washout);
  if ((unsigned)p->rule > ND_ESN_DECORRELATE) return nd__error(ND_ERR_INVALID_ARG, "esn_adapt: rule = %d unknown", (int)p->rule);
  if (!(p->eta > 0 && p->eta < 1)) return nd__error(ND_ERR_INVALID_ARG, "esn_adapt: eta = %g, expected (0, 1)", p->eta);
  if (!(p->sigma > 0 && p->sigma < 1e3) || !isfinite(p->mu))
    return nd__error(ND_ERR_INVALID_ARG, "esn_adapt: sigma = %g, mu = %g: expected sigma > 0, mu finite", p->sigma, p->mu);
  int64_t K = e->c.inputs, n = e->c.units, NL = n * e->c.layers, cnt = 0;
  ND_TRY(nd__esn_check_series("esn_adapt", "u", u, T * K));
  double sum = 0, sq = 0, ps[NPAIRS][5] = {{0}}; /* per pair: sums of a, b, a^2, b^2, ab */
  double *m = p->rule == ND_ESN_DECORRELATE ? calloc((size_t)NL, sizeof *m) : NULL;
  if (p->rule == ND_ESN_DECORRELATE && !m) return nd__error(ND_ERR_NOMEM, "esn_adapt: out of memory");
  nd_esn_reset(e);
  for (int64_t t = 0; t < T; t++) {
    memcpy(e->xprev, e->x, (size_t)NL * sizeof *e->x);
    nd__esn_step(e, u + t * K, false);
    if (t < e->c.washout) continue;
    if (p->rule == ND_ESN_IP) ip_rule(e, p);
    if (p->rule == ND_ESN_DECORRELATE && t == e->c.washout) memcpy(m, e->x, (size_t)NL * sizeof *m);
    if (p->rule == ND_ESN_DECORRELATE) decorrelate_rule(e, p->eta, m);
    for (int64_t i = 0; i < NL; i++) sum += e->x[i], sq += e->x[i] * e->x[i];
    for (int q = 0; q < NPAIRS; q++) {
      double a = e->x[(37 * q) % n], b = e->x[(101 * q + 13) % n];
      ps[q][0] += a, ps[q][1] += b, ps[q][2] += a * a, ps[q][3] += b * b, ps[q][4] += a * b;
    }
    cnt++;
  }
  free(m);
  nd_status s = ND_OK;
  if (!all_finite(e->gain, NL) || !all_finite(e->ipb, NL) || !all_finite(e->x, NL))
    s = nd__error(ND_ERR_NUMERIC, "esn_adapt: the rule diverged (lower eta)");
  for (int64_t l = 0; s == ND_OK && p->rule == ND_ESN_DECORRELATE && l < e->c.layers; l++) s = nd__esn_rescale(e, l);
  if (st) {
    double m = sum / (double)(cnt * NL), ac = 0;
    int np = 0;
    for (int q = 0; q < NPAIRS; q++) {
      if ((37 * q) % n == (101 * q + 13) % n) continue;
      double ma = ps[q][0] / cnt, mb = ps[q][1] / cnt;
      double va = ps[q][2] / cnt - ma * ma, vb = ps[q][3] / cnt - mb * mb, cab = ps[q][4] / cnt - ma * mb;
      if (va > 0 && vb > 0) ac += fabs(cab / sqrt(va * vb)), np++;
    }
    st->mean = m, st->std = sqrt(fmax(0, sq / (double)(cnt * NL) - m * m));
    st->mean_abs_corr = np ? ac / np : NAN;
  }
  return s;
}

/* --------------------------------------------------------------- checkpoints */

static const char *const rho_names[] = {"eig", "power", NULL};
static const char *const solver_names[] = {"cholesky", "qr", NULL};
#define F_(field, key, type, lo, hi) ND_META_FIELD(nd_esn_config, field, key, type, lo, hi)
static const nd_meta_field esn_fields[] = {
    F_(units, "esn.units", ND_META_I64, 1, ND_ESN_MAX_UNITS),
    F_(inputs, "esn.inputs", ND_META_I64, 1, 100000),
    F_(outputs, "esn.outputs", ND_META_I64, 1, 100000),
    F_(connectivity, "esn.connectivity", ND_META_F64, 1e-300, 1),
    F_(spectral_radius, "esn.spectral_radius", ND_META_F64, 1e-300, 1e6),
    F_(leak, "esn.leak", ND_META_F64, 1e-300, 1),
    F_(input_scaling, "esn.input_scaling", ND_META_F64, 0, 1e6),
    F_(bias_scaling, "esn.bias_scaling", ND_META_F64, 0, 1e6),
    F_(ridge, "esn.ridge", ND_META_F64, 0, 1e30),
    F_(washout, "esn.washout", ND_META_I64, 0, 1e12),
    ND_META_CHOICE_FIELD(nd_esn_config, solver, "esn.solver", solver_names),
    ND_META_CHOICE_FIELD(nd_esn_config, rho_method, "esn.rho_method", rho_names),
    F_(power_iterations, "esn.power_iterations", ND_META_I64, 0, 1000000),
    F_(seed, "esn.seed", ND_META_U64, 0, 1.8e19),
    F_(layers, "esn.layers", ND_META_I64, 1, ND_ESN_MAX_LAYERS),
    F_(inter_scaling, "esn.inter_scaling", ND_META_F64, 0, 1e6),
    F_(noise, "esn.noise", ND_META_F64, 0, 1),
};
#undef F_
#define NFIELDS ((int)(sizeof esn_fields / sizeof esn_fields[0]))

typedef struct esn_extra {
  uint64_t noise_counter;
  bool has_w_out, has_P;
} esn_extra;
static const nd_meta_field extra_fields[] = {
    ND_META_FIELD(esn_extra, noise_counter, "esn.noise_counter", ND_META_U64, 0, 1.8e19),
    ND_META_FIELD(esn_extra, has_w_out, "esn.has_w_out", ND_META_BOOL, 0, 1),
    ND_META_FIELD(esn_extra, has_P, "esn.has_P", ND_META_BOOL, 0, 1),
};

static nd_status put(struct nd_checkpoint *ck, const char *name, const double *v, int ndim, int64_t d0, int64_t d1) {
  nd_array a = {.dtype = ND_DTYPE_F64, .ndim = ndim, .shape = {d0, d1}, .numel = d0 * (ndim == 2 ? d1 : 1), .data = (void *)v};
  if (ndim == 1) a.shape[1] = 1;
  return nd_checkpoint_put_array(ck, name, &a);
}

nd_status nd_esn_save(const nd_esn *e, struct nd_checkpoint *ck) {
  if (!e || !ck) return nd__error(ND_ERR_INVALID_ARG, "esn_save: NULL argument");
  int64_t NL = e->c.units * e->c.layers, F = e->F;
  esn_extra x = {e->noise_rng.counter, e->w_out != NULL, e->P != NULL};
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "esn"));
  ND_TRY(nd_checkpoint_put_fields(ck, NFIELDS, esn_fields, &e->c));
  ND_TRY(nd_checkpoint_put_fields(ck, 3, extra_fields, &x));
  char name[64];
  for (int64_t l = 0; l < e->c.layers; l++) {
    snprintf(name, sizeof name, "esn.w%lld", (long long)l);
    ND_TRY(put(ck, name, e->layer[l].val, 1, e->layer[l].nnz, 1));
    snprintf(name, sizeof name, "esn.rho%lld", (long long)l);
    ND_TRY(put(ck, name, &e->layer[l].rho, 1, 1, 1));
  }
  ND_TRY(put(ck, "esn.gain", e->gain, 1, NL, 1));
  ND_TRY(put(ck, "esn.ip_bias", e->ipb, 1, NL, 1));
  if (e->w_out) ND_TRY(put(ck, "esn.w_out", e->w_out, 2, e->c.outputs, F));
  if (e->P) ND_TRY(put(ck, "esn.P", e->P, 2, F, F));
  return ND_OK;
}

static nd_status get(const struct nd_checkpoint *ck, const char *name, int64_t n, double *dst) {
  nd_array a = {0};
  ND_TRY(nd_checkpoint_get_array(ck, name, ND_DTYPE_F64, n, &a));
  memcpy(dst, a.data, (size_t)n * sizeof *dst);
  nd_array_release(&a);
  return ND_OK;
}

static nd_status load_into(const struct nd_checkpoint *ck, nd_esn *e, const esn_extra *x) {
  int64_t NL = e->c.units * e->c.layers, F = e->F;
  char name[64];
  for (int64_t l = 0; l < e->c.layers; l++) {
    snprintf(name, sizeof name, "esn.w%lld", (long long)l);
    ND_TRY(get(ck, name, e->layer[l].nnz, e->layer[l].val));
    snprintf(name, sizeof name, "esn.rho%lld", (long long)l);
    ND_TRY(get(ck, name, 1, &e->layer[l].rho));
  }
  ND_TRY(get(ck, "esn.gain", NL, e->gain));
  ND_TRY(get(ck, "esn.ip_bias", NL, e->ipb));
  if (x->has_w_out) {
    e->w_out = malloc((size_t)(e->c.outputs * F) * sizeof *e->w_out);
    if (!e->w_out) return nd__error(ND_ERR_NOMEM, "esn_load: out of memory");
    ND_TRY(get(ck, "esn.w_out", e->c.outputs * F, e->w_out));
  }
  if (x->has_P) {
    e->P = malloc((size_t)(F * F) * sizeof *e->P);
    e->rls_k = calloc((size_t)F, sizeof *e->rls_k);
    if (!e->P || !e->rls_k) return nd__error(ND_ERR_NOMEM, "esn_load: out of memory");
    ND_TRY(get(ck, "esn.P", F * F, e->P));
  }
  e->noise_rng.counter = x->noise_counter;
  return ND_OK;
}

nd_status nd_esn_load(const struct nd_checkpoint *ck, nd_esn **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "esn_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "esn"));
  nd_esn_config c = nd_esn_defaults();
  esn_extra x = {0};
  ND_TRY(nd_checkpoint_get_fields(ck, NFIELDS, esn_fields, &c));
  ND_TRY(nd_checkpoint_get_fields(ck, 3, extra_fields, &x));
  nd_esn *e = NULL;
  nd_status s = nd_esn_create(&c, &e);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  s = load_into(ck, e, &x);
  if (s != ND_OK) {
    nd_esn_free(e);
    return s;
  }
  *out = e;
  return ND_OK;
}
