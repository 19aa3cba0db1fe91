/* Spiking networks (include/neurodyn/snn.h): configuration, creation, the
 * weights (dense, sparse rows, random Brunel-type connectivity) and the
 * views of the state.  The step is in step.c; docs/spiking.md is the guide. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/snn/snn_internal.h"
#include "neurodyn/rng.h"
#include "neurodyn/tensor.h"

nd_snn_config nd_snn_defaults(void) {
  nd_snn_config c;
  memset(&c, 0, sizeof c);
  c.neurons = 100;
  c.inputs = 0;
  c.batch = 1;
  c.dt_ms = 0.1;
  c.tau_m_ms = 20;
  c.tau_syn_ms = 5;
  c.tau_a_ms = 200;
  c.t_ref_ms = 2;
  c.v_rest = 0;
  c.v_th = 20;
  c.v_reset = 10;
  c.beta = 1;
  c.model = ND_SNN_LIF;
  c.reset = ND_SNN_RESET_ZERO;
  c.synapse = ND_SNN_SYN_DELTA;
  c.rec_mode = ND_SNN_REC_AUTO;
  c.gemm_fraction = 0.02;
  c.seed = 1;
  return c;
}

static bool finite_pos(double x) { return isfinite(x) && x > 0; }

nd_status nd_snn_config_check(const nd_snn_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "snn: config is NULL");
  if (c->neurons < 1 || c->neurons > ND_SNN_MAX_NEURONS)
    return nd__error(ND_ERR_INVALID_ARG, "snn: neurons = %lld, expected 1..%lld", (long long)c->neurons,
                     (long long)ND_SNN_MAX_NEURONS);
  if (c->inputs < 0 || c->inputs > ND_SNN_MAX_NEURONS)
    return nd__error(ND_ERR_INVALID_ARG, "snn: inputs = %lld, expected 0..%lld", (long long)c->inputs,
                     (long long)ND_SNN_MAX_NEURONS);
  if (c->batch < 1 || c->batch > ND_TENSOR_MAX_NUMEL / c->neurons ||
      (c->inputs > 0 && c->batch > ND_TENSOR_MAX_NUMEL / c->inputs))
    return nd__error(ND_ERR_INVALID_ARG, "snn: batch = %lld, expected 1.. with batch*neurons <= 2^36",
                     (long long)c->batch);
  if (!finite_pos(c->dt_ms)) return nd__error(ND_ERR_INVALID_ARG, "snn: dt_ms = %g, expected > 0", c->dt_ms);
  if (!finite_pos(c->tau_m_ms)) return nd__error(ND_ERR_INVALID_ARG, "snn: tau_m_ms = %g, expected > 0", c->tau_m_ms);
  if (!finite_pos(c->tau_syn_ms))
    return nd__error(ND_ERR_INVALID_ARG, "snn: tau_syn_ms = %g, expected > 0", c->tau_syn_ms);
  if (!finite_pos(c->tau_a_ms)) return nd__error(ND_ERR_INVALID_ARG, "snn: tau_a_ms = %g, expected > 0", c->tau_a_ms);
  if (!isfinite(c->t_ref_ms) || c->t_ref_ms < 0 || c->t_ref_ms / c->dt_ms > 1e9)
    return nd__error(ND_ERR_INVALID_ARG, "snn: t_ref_ms = %g, expected 0 <= t_ref_ms <= 1e9 dt", c->t_ref_ms);
  const double v[] = {c->v_rest, c->v_th, c->v_reset, c->beta, c->i_ext, c->noise_std};
  const char *names[] = {"v_rest", "v_th", "v_reset", "beta", "i_ext", "noise_std"};
  for (int k = 0; k < 6; k++)
    if (!isfinite(v[k]) || fabs(v[k]) > 1e30)
      return nd__error(ND_ERR_INVALID_ARG, "snn: %s = %g, expected a finite value", names[k], v[k]);
  if (c->noise_std < 0) return nd__error(ND_ERR_INVALID_ARG, "snn: noise_std = %g, expected >= 0", c->noise_std);
  if (c->beta < 0) return nd__error(ND_ERR_INVALID_ARG, "snn: beta = %g, expected >= 0", c->beta);
  if (c->reset == ND_SNN_RESET_ZERO && c->v_reset >= c->v_th)
    return nd__error(ND_ERR_INVALID_ARG, "snn: v_reset = %g must lie below v_th = %g", c->v_reset, c->v_th);
  if ((unsigned)c->model > ND_SNN_ALIF) return nd__error(ND_ERR_INVALID_ARG, "snn: model = %d unknown", (int)c->model);
  if ((unsigned)c->reset > ND_SNN_RESET_SUBTRACT)
    return nd__error(ND_ERR_INVALID_ARG, "snn: reset = %d unknown", (int)c->reset);
  if ((unsigned)c->synapse > ND_SNN_SYN_EXP)
    return nd__error(ND_ERR_INVALID_ARG, "snn: synapse = %d unknown", (int)c->synapse);
  if ((unsigned)c->rec_mode > ND_SNN_REC_EVENT)
    return nd__error(ND_ERR_INVALID_ARG, "snn: rec_mode = %d unknown", (int)c->rec_mode);
  if (!(c->gemm_fraction >= 0 && c->gemm_fraction <= 1))
    return nd__error(ND_ERR_INVALID_ARG, "snn: gemm_fraction = %g, expected 0..1", c->gemm_fraction);
  return ND_OK;
}

/* The exact one-step propagators (snn.h): alpha, kappa, rho, P21, noise gain. */
static void propagators(nd_snn *net) {
  const nd_snn_config *c = &net->c;
  double dt = c->dt_ms, tm = c->tau_m_ms, ts = c->tau_syn_ms;
  net->alpha = exp(-dt / tm);
  net->kappa = exp(-dt / ts);
  net->rho = exp(-dt / c->tau_a_ms);
  /* Rotter & Diesmann 1999: P21 = ts/(ts - tm) (e^{-dt/ts} - e^{-dt/tm}),
   * written with expm1 so that ts close to tm loses no digits; the limit
   * ts = tm is (dt/tm) e^{-dt/tm}. */
  if (fabs(ts - tm) < 1e-9 * tm)
    net->p21 = dt / tm * net->alpha;
  else
    net->p21 = ts / (ts - tm) * net->alpha * expm1(dt / tm - dt / ts);
  net->noise_gain = c->noise_std * sqrt(-expm1(-2 * dt / tm));
  net->n_ref = (int32_t)llround(c->t_ref_ms / dt);
}

void nd_snn_free(nd_snn *net) {
  if (!net) return;
  nd_aligned_free(net->v);
  nd_aligned_free(net->isyn);
  nd_aligned_free(net->a);
  nd_aligned_free(net->z);
  nd_aligned_free(net->r);
  nd_aligned_free(net->noise);
  free(net->ref);
  free(net->list);
  free(net->nlist);
  nd_aligned_free(net->w_dense);
  nd_aligned_free(net->w_in);
  nd__snn_drop_sparse(net);
  free(net);
}

static float *zalloc(int64_t n) {
  float *p = nd_aligned_alloc((size_t)n * sizeof(float));
  if (p) memset(p, 0, (size_t)n * sizeof(float));
  return p;
}

nd_status nd_snn_create(const nd_snn_config *c, nd_snn **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "snn_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_snn_config_check(c));
  nd_snn *net = calloc(1, sizeof *net);
  if (!net) return nd__error(ND_ERR_NOMEM, "snn_create: out of memory");
  net->c = *c;
  propagators(net);
  int64_t bn = c->batch * c->neurons;
  net->v = zalloc(bn);
  net->isyn = zalloc(bn);
  net->a = zalloc(bn);
  net->z = zalloc(bn);
  net->r = zalloc(bn);
  net->ref = calloc((size_t)bn, sizeof(int32_t));
  net->list = calloc((size_t)bn, sizeof(int32_t));
  net->nlist = calloc((size_t)c->batch, sizeof(int64_t));
  if (c->noise_std > 0) net->noise = zalloc(bn);
  if (c->inputs > 0) net->w_in = zalloc(c->inputs * c->neurons);
  if (!net->v || !net->isyn || !net->a || !net->z || !net->r || !net->ref || !net->list || !net->nlist ||
      (c->noise_std > 0 && !net->noise) || (c->inputs > 0 && !net->w_in)) {
    nd_snn_free(net);
    return nd__error(ND_ERR_NOMEM, "snn_create: out of memory for %lld x %lld neurons", (long long)c->batch,
                     (long long)c->neurons);
  }
  nd_snn_reset_state(net);
  *out = net;
  return ND_OK;
}

const nd_snn_config *nd_snn_get_config(const nd_snn *net) { return net ? &net->c : NULL; }

nd_status nd_snn_reset_state(nd_snn *net) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "snn_reset_state: net is NULL");
  int64_t bn = net->c.batch * net->c.neurons;
  for (int64_t k = 0; k < bn; k++) net->v[k] = (float)net->c.v_rest;
  memset(net->isyn, 0, (size_t)bn * sizeof(float));
  memset(net->a, 0, (size_t)bn * sizeof(float));
  memset(net->z, 0, (size_t)bn * sizeof(float));
  memset(net->ref, 0, (size_t)bn * sizeof(int32_t));
  memset(net->nlist, 0, (size_t)net->c.batch * sizeof(int64_t));
  nd_rng base;
  nd_rng_init(&base, net->c.seed);
  net->rng = nd_rng_split(&base, 3);
  net->steps = net->gemm_steps = 0;
  return ND_OK;
}

void nd__snn_drop_sparse(nd_snn *net) {
  free(net->row_ptr);
  free(net->col);
  free(net->val);
  net->row_ptr = NULL;
  net->col = NULL;
  net->val = NULL;
  net->nnz = 0;
}

nd_status nd_snn_set_recurrent(nd_snn *net, const float *w) {
  if (!net || !w) return nd__error(ND_ERR_INVALID_ARG, "snn_set_recurrent: %s is NULL", net ? "w" : "net");
  int64_t n = net->c.neurons;
  for (int64_t k = 0; k < n * n; k++)
    if (!isfinite(w[k]))
      return nd__error(ND_ERR_NUMERIC, "snn_set_recurrent: w[%lld][%lld] = %g is not finite", (long long)(k / n),
                       (long long)(k % n), w[k]);
  int64_t nnz = 0;
  for (int64_t k = 0; k < n * n; k++) nnz += w[k] != 0;
  float *dense = net->w_dense ? net->w_dense : nd_aligned_alloc((size_t)(n * n) * sizeof(float));
  int64_t *rp = malloc((size_t)(n + 1) * sizeof *rp);
  int32_t *col = malloc((size_t)(nnz ? nnz : 1) * sizeof *col);
  float *val = malloc((size_t)(nnz ? nnz : 1) * sizeof *val);
  if (!dense || !rp || !col || !val) {
    if (dense != net->w_dense) nd_aligned_free(dense);
    free(rp), free(col), free(val);
    return nd__error(ND_ERR_NOMEM, "snn_set_recurrent: out of memory for %lld x %lld weights", (long long)n,
                     (long long)n);
  }
  memcpy(dense, w, (size_t)(n * n) * sizeof(float));
  net->w_dense = dense;
  nd__snn_drop_sparse(net);
  int64_t q = 0;
  for (int64_t j = 0; j < n; j++) {
    rp[j] = q;
    for (int64_t i = 0; i < n; i++)
      if (w[j * n + i] != 0) col[q] = (int32_t)i, val[q++] = w[j * n + i];
  }
  rp[n] = q;
  net->row_ptr = rp, net->col = col, net->val = val, net->nnz = nnz;
  return ND_OK;
}

/* Targets of one presynaptic neuron by geometric gaps between successes of
 * Bernoulli(p) trials over i = 0..n-1, i != j (the skip method). */
static int64_t draw_row(nd_rng *r, int64_t n, int64_t j, double p, int32_t *targets) {
  int64_t m = 0;
  if (p >= 1) {
    for (int64_t i = 0; i < n; i++)
      if (i != j) targets[m++] = (int32_t)i;
    return m;
  }
  double l1p = log1p(-p);
  int64_t i = -1;
  for (;;) {
    double u = nd_rng_uniform1(r);
    double gap = floor(log1p(-u) / l1p); /* failures before the next success */
    if (gap >= (double)n) break;
    i += 1 + (int64_t)gap;
    if (i >= n) break;
    if (i != j) targets[m++] = (int32_t)i;
  }
  return m;
}

nd_status nd_snn_set_recurrent_random(nd_snn *net, double p, double frac_exc, float w_exc, float w_inh,
                                      uint64_t seed) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "snn_set_recurrent_random: net is NULL");
  if (!(p >= 0 && p <= 1)) return nd__error(ND_ERR_INVALID_ARG, "snn_set_recurrent_random: p = %g, expected 0..1", p);
  if (!(frac_exc >= 0 && frac_exc <= 1))
    return nd__error(ND_ERR_INVALID_ARG, "snn_set_recurrent_random: frac_exc = %g, expected 0..1", frac_exc);
  if (!isfinite(w_exc) || !isfinite(w_inh))
    return nd__error(ND_ERR_INVALID_ARG, "snn_set_recurrent_random: weights %g, %g must be finite", w_exc, w_inh);
  int64_t n = net->c.neurons;
  int32_t *tmp = malloc((size_t)n * sizeof *tmp);
  int64_t *rp = malloc((size_t)(n + 1) * sizeof *rp);
  int64_t cap = (int64_t)(p * (double)n * (double)(n - 1) + 6 * sqrt(p * (double)n * (double)n) + (double)n + 16);
  if (cap > n * (n - 1)) cap = n * (n - 1) > 0 ? n * (n - 1) : 1;
  int32_t *col = malloc((size_t)cap * sizeof *col);
  if (!tmp || !rp || !col) goto nomem;
  nd_rng base, r;
  nd_rng_init(&base, seed);
  r = nd_rng_split(&base, 7);
  int64_t n_exc = llround(frac_exc * (double)n), q = 0;
  for (int64_t j = 0; j < n; j++) {
    rp[j] = q;
    int64_t m = draw_row(&r, n, j, p, tmp);
    if (q + m > cap) { /* beyond 6 sigma: grow */
      int64_t nc = (q + m) * 2 > n * (n - 1) ? n * (n - 1) : (q + m) * 2;
      int32_t *g = realloc(col, (size_t)nc * sizeof *col);
      if (!g) goto nomem;
      col = g, cap = nc;
    }
    memcpy(col + q, tmp, (size_t)m * sizeof *tmp);
    q += m;
  }
  rp[n] = q;
  float *val = malloc((size_t)(q ? q : 1) * sizeof *val);
  if (!val) goto nomem;
  for (int64_t j = 0; j < n; j++)
    for (int64_t e = rp[j]; e < rp[j + 1]; e++) val[e] = j < n_exc ? w_exc : w_inh;
  free(tmp);
  nd_aligned_free(net->w_dense);
  net->w_dense = NULL;
  nd__snn_drop_sparse(net);
  net->row_ptr = rp, net->col = col, net->val = val, net->nnz = q;
  return ND_OK;
nomem:
  free(tmp), free(rp), free(col);
  return nd__error(ND_ERR_NOMEM, "snn_set_recurrent_random: out of memory for %lld neurons at p = %g", (long long)n, p);
}

int64_t nd_snn_synapse_count(const nd_snn *net) { return net ? net->nnz : -1; }

int64_t nd_snn_out_degree(const nd_snn *net, int64_t j) {
  if (!net || j < 0 || j >= net->c.neurons) {
    nd__error(ND_ERR_INVALID_ARG, "snn_out_degree: %s", net ? "j out of range" : "net is NULL");
    return -1;
  }
  return net->row_ptr ? net->row_ptr[j + 1] - net->row_ptr[j] : 0;
}

nd_status nd_snn_set_input(nd_snn *net, const float *w_in) {
  if (!net || !w_in) return nd__error(ND_ERR_INVALID_ARG, "snn_set_input: %s is NULL", net ? "w_in" : "net");
  if (net->c.inputs == 0) return nd__error(ND_ERR_INVALID_ARG, "snn_set_input: the network has inputs = 0");
  int64_t m = net->c.inputs * net->c.neurons;
  for (int64_t k = 0; k < m; k++)
    if (!isfinite(w_in[k])) return nd__error(ND_ERR_NUMERIC, "snn_set_input: w_in[%lld] = %g is not finite", (long long)k, w_in[k]);
  memcpy(net->w_in, w_in, (size_t)m * sizeof(float));
  return ND_OK;
}

const float *nd_snn_voltage(const nd_snn *net) { return net ? net->v : NULL; }
const float *nd_snn_current(const nd_snn *net) { return net ? net->isyn : NULL; }
const float *nd_snn_adaptation(const nd_snn *net) { return net ? net->a : NULL; }
const float *nd_snn_spikes(const nd_snn *net) { return net ? net->z : NULL; }
int64_t nd_snn_steps(const nd_snn *net) { return net ? net->steps : -1; }
int64_t nd_snn_gemm_steps(const nd_snn *net) { return net ? net->gemm_steps : -1; }

const int32_t *nd_snn_spike_list(const nd_snn *net, int64_t b, int64_t *count) {
  if (count) *count = 0;
  if (!net || !count || b < 0 || b >= net->c.batch) {
    nd__error(ND_ERR_INVALID_ARG, "snn_spike_list: %s", !net ? "net is NULL" : !count ? "count is NULL" : "b out of range");
    return NULL;
  }
  *count = net->nlist[b];
  return net->list + b * net->c.neurons;
}
