/* Training recurrent spiking networks (include/neurodyn/snn.h, "training";
 * docs/spiking.md): configuration, creation, the forward step shared by
 * evaluation, BPTT and e-prop, and surrogate-gradient BPTT (Neftci, Mostafa
 * & Zenke 2019) through the stored sequence.  e-prop is in eprop.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "models/snn/snn_internal.h"
#include "backend/cpu/dispatch.h"
#include "neurodyn/kernels.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

nd_snn_learn_config nd_snn_learn_defaults(void) {
  nd_snn_learn_config c;
  memset(&c, 0, sizeof c);
  c.unit = ND_SNN_UNIT_ALIF;
  c.inputs = 1, c.neurons = 100, c.outputs = 2, c.batch = 32;
  c.dt_ms = 1, c.tau_m_ms = 20, c.tau_a_ms = 200, c.tau_out_ms = 20;
  c.v_th = 0.6, c.beta = 1.8, c.gamma = 0.3, c.slope = 1;
  c.surrogate = ND_SNN_SURR_TRIANGLE;
  c.method = ND_SNN_BPTT;
  c.feedback = ND_SNN_FEEDBACK_SYMMETRIC;
  c.w_in_scale = 1, c.w_rec_scale = 1;
  c.lr = 1e-3;
  c.seed = 1;
  return c;
}

static bool fin(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

nd_status nd_snn_learn_config_check(const nd_snn_learn_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "snn: config is NULL");
  if ((unsigned)c->unit > ND_SNN_UNIT_RATE) return nd__error(ND_ERR_INVALID_ARG, "snn: unit = %d unknown", (int)c->unit);
  if (c->inputs < 1 || c->inputs > 65536) return nd__error(ND_ERR_INVALID_ARG, "snn: inputs = %lld, expected 1..65536", (long long)c->inputs);
  if (c->neurons < 1 || c->neurons > 65536) return nd__error(ND_ERR_INVALID_ARG, "snn: neurons = %lld, expected 1..65536", (long long)c->neurons);
  if (c->outputs < 2 || c->outputs > 65536) return nd__error(ND_ERR_INVALID_ARG, "snn: outputs = %lld, expected 2..65536", (long long)c->outputs);
  if (c->batch < 1 || c->batch > 1000000) return nd__error(ND_ERR_INVALID_ARG, "snn: batch = %lld, expected 1..1000000", (long long)c->batch);
  if (!fin(c->dt_ms, 1e-9, 1e9) || c->dt_ms <= 0) return nd__error(ND_ERR_INVALID_ARG, "snn: dt_ms = %g, expected > 0", c->dt_ms);
  if (!fin(c->tau_m_ms, 1e-9, 1e12)) return nd__error(ND_ERR_INVALID_ARG, "snn: tau_m_ms = %g, expected > 0", c->tau_m_ms);
  if (!fin(c->tau_a_ms, 1e-9, 1e12)) return nd__error(ND_ERR_INVALID_ARG, "snn: tau_a_ms = %g, expected > 0", c->tau_a_ms);
  if (!fin(c->tau_out_ms, 0, 1e12)) return nd__error(ND_ERR_INVALID_ARG, "snn: tau_out_ms = %g, expected >= 0", c->tau_out_ms);
  if (!fin(c->v_th, 1e-9, 1e9)) return nd__error(ND_ERR_INVALID_ARG, "snn: v_th = %g, expected > 0", c->v_th);
  if (!fin(c->beta, 0, 1e9)) return nd__error(ND_ERR_INVALID_ARG, "snn: beta = %g, expected >= 0", c->beta);
  if (!fin(c->gamma, 0, 1e3)) return nd__error(ND_ERR_INVALID_ARG, "snn: gamma = %g, expected 0..1000", c->gamma);
  if (!fin(c->slope, 1e-6, 1e6)) return nd__error(ND_ERR_INVALID_ARG, "snn: slope = %g, expected > 0", c->slope);
  if ((unsigned)c->surrogate > ND_SNN_SURR_ARCTAN) return nd__error(ND_ERR_INVALID_ARG, "snn: surrogate = %d unknown", (int)c->surrogate);
  if ((unsigned)c->method > ND_SNN_EPROP) return nd__error(ND_ERR_INVALID_ARG, "snn: method = %d unknown", (int)c->method);
  if ((unsigned)c->feedback > ND_SNN_FEEDBACK_RANDOM) return nd__error(ND_ERR_INVALID_ARG, "snn: feedback = %d unknown", (int)c->feedback);
  if (!fin(c->w_in_scale, 0, 1e6)) return nd__error(ND_ERR_INVALID_ARG, "snn: w_in_scale = %g, expected >= 0", c->w_in_scale);
  if (!fin(c->w_rec_scale, 0, 1e6)) return nd__error(ND_ERR_INVALID_ARG, "snn: w_rec_scale = %g, expected >= 0", c->w_rec_scale);
  if (!fin(c->lr, 0, 10)) return nd__error(ND_ERR_INVALID_ARG, "snn: lr = %g, expected 0..10", c->lr);
  if (!fin(c->clip, 0, 1e12)) return nd__error(ND_ERR_INVALID_ARG, "snn: clip = %g, expected >= 0", c->clip);
  return ND_OK;
}

/* ------------------------------------------------------------ surrogates */
float nd__snn_surr_f(nd_snn_surrogate s, float k, float x) {
  float ax = fabsf(x);
  switch (s) {
  case ND_SNN_SURR_TRIANGLE: return ax < 1 ? 1 - ax : 0;
  case ND_SNN_SURR_FAST_SIGMOID: { float d = 1 + k * ax; return 1 / (d * d); }
  default: { float u = (float)M_PI * k * x; return 1 / (1 + u * u); }
  }
}

float nd__snn_surr_F(nd_snn_surrogate s, float k, float x) {
  switch (s) {
  case ND_SNN_SURR_TRIANGLE:
    if (x <= -1) return 0;
    if (x <= 0) return 0.5f * (1 + x) * (1 + x);
    if (x < 1) return 1 - 0.5f * (1 - x) * (1 - x);
    return 1;
  case ND_SNN_SURR_FAST_SIGMOID: return x < 0 ? 1 / (k * (1 - k * x)) : (2 - 1 / (1 + k * x)) / k;
  default: return atanf((float)M_PI * k * x) / ((float)M_PI * k) + 0.5f / k;
  }
}

/* --------------------------------------------------------------- buffers */
float *nd__snn_learn_buf(nd_snn_learner *l, int64_t n) {
  if (n < 1) n = 1;
  float *p = nd_aligned_alloc((size_t)n * sizeof(float));
  if (p) {
    memset(p, 0, (size_t)n * sizeof(float));
    l->bytes += n * (int64_t)sizeof(float);
  }
  return p;
}

void nd__snn_learn_unbuf(nd_snn_learner *l, float *p, int64_t n) {
  if (!p) return;
  if (n < 1) n = 1;
  nd_aligned_free(p);
  l->bytes -= n * (int64_t)sizeof(float);
}

static int64_t eprop_m(const nd_snn_learn_config *c) { return c->inputs + c->neurons; }
/* e-prop keeps per-synapse traces [B, N, M] for ALIF or a leaky readout */
static bool eprop_full(const nd_snn_learn_config *c) { return c->unit == ND_SNN_UNIT_ALIF || c->tau_out_ms > 0; }

static void free_eprop(nd_snn_learner *l) {
  const nd_snn_learn_config *c = &l->c;
  int64_t B = c->batch, N = c->neurons, M = eprop_m(c), bnm = B * N * M;
  nd__snn_learn_unbuf(l, l->ev, B * M);
  nd__snn_learn_unbuf(l, l->ea, bnm);
  nd__snn_learn_unbuf(l, l->eprev, bnm);
  nd__snn_learn_unbuf(l, l->ebar, bnm);
  nd__snn_learn_unbuf(l, l->lsig, B * N);
  nd__snn_learn_unbuf(l, l->zbar, B * N);
  nd__snn_learn_unbuf(l, l->gT, N * M);
  l->ev = l->ea = l->eprev = l->ebar = l->lsig = l->zbar = l->gT = NULL;
}

static void free_store(nd_snn_learner *l) {
  const nd_snn_learn_config *c = &l->c;
  int64_t BN = c->batch * c->neurons, BK = c->batch * c->outputs, T = l->cap_t;
  if (!T) return;
  nd__snn_learn_unbuf(l, l->sz, (T + 1) * BN);
  nd__snn_learn_unbuf(l, l->spsi, T * BN);
  nd__snn_learn_unbuf(l, l->sdy, T * BK);
  l->sz = l->spsi = l->sdy = NULL;
  l->cap_t = 0;
}

void nd_snn_learner_free(nd_snn_learner *l) {
  if (!l) return;
  const nd_snn_learn_config *c = &l->c;
  int64_t BN = c->batch * c->neurons, BK = c->batch * c->outputs;
  nd_optim_free(l->opt);
  free_eprop(l);
  free_store(l);
  float *bn[] = {l->v, l->a, l->z0, l->z1, l->psi, l->r, l->gz, l->ga};
  for (int i = 0; i < 8; i++) nd__snn_learn_unbuf(l, bn[i], BN);
  float *bk[] = {l->y, l->dy, l->gyr};
  for (int i = 0; i < 3; i++) nd__snn_learn_unbuf(l, bk[i], BK);
  nd_aligned_free(l->p);
  nd_aligned_free(l->g);
  nd_aligned_free(l->fb);
  free(l->bx);
  free(l->bl);
  free(l->kx), free(l->kl), free(l->gflat);
  nd_grad_sum_free(l->gsum);
  nd_sampler_release(&l->sampler);
  free(l);
}

static nd_status alloc_eprop(nd_snn_learner *l) {
  const nd_snn_learn_config *c = &l->c;
  int64_t B = c->batch, N = c->neurons, M = eprop_m(c), bnm = B * N * M;
  if (l->ev) return ND_OK;
  if (eprop_full(c) && (double)bnm * 3 * sizeof(float) > 8e9)
    return nd__error(ND_ERR_NOMEM, "snn: e-prop traces of %lld x %lld x %lld would exceed 8 GB", (long long)B, (long long)N,
                     (long long)M);
  l->ev = nd__snn_learn_buf(l, B * M);
  l->lsig = nd__snn_learn_buf(l, B * N);
  l->zbar = nd__snn_learn_buf(l, B * N);
  l->gT = nd__snn_learn_buf(l, N * M);
  bool ok = l->ev && l->lsig && l->zbar && l->gT;
  if (eprop_full(c)) {
    l->ebar = nd__snn_learn_buf(l, bnm);
    ok = ok && l->ebar;
    if (c->unit == ND_SNN_UNIT_ALIF) {
      l->ea = nd__snn_learn_buf(l, bnm);
      l->eprev = nd__snn_learn_buf(l, bnm);
      ok = ok && l->ea && l->eprev;
    }
  }
  if (!ok) {
    free_eprop(l);
    return nd__error(ND_ERR_NOMEM, "snn: out of memory for the e-prop traces");
  }
  return ND_OK;
}

static nd_status alloc_store(nd_snn_learner *l, int64_t T) {
  if (T <= l->cap_t) return ND_OK;
  const nd_snn_learn_config *c = &l->c;
  int64_t BN = c->batch * c->neurons, BK = c->batch * c->outputs;
  free_store(l);
  l->sz = nd__snn_learn_buf(l, (T + 1) * BN);
  l->spsi = nd__snn_learn_buf(l, T * BN);
  l->sdy = nd__snn_learn_buf(l, T * BK);
  l->cap_t = T;
  if (!l->sz || !l->spsi || !l->sdy) {
    free_store(l);
    return nd__error(ND_ERR_NOMEM, "snn: out of memory for BPTT over %lld steps", (long long)T);
  }
  return ND_OK;
}

/* Weights N(0, s^2 / fan_in), no self-connections (Bellec et al. 2018). */
static void init_weights(nd_snn_learner *l) {
  const nd_snn_learn_config *c = &l->c;
  int64_t I = c->inputs, N = c->neurons, K = c->outputs;
  nd_rng base, r;
  nd_rng_init(&base, c->seed);
  r = nd_rng_split(&base, 11);
  float *w_in = l->p, *w_rec = w_in + I * N, *w_out = w_rec + N * N;
  nd_rng_normal(&r, w_in, I * N, 0, (float)(c->w_in_scale / sqrt((double)I)));
  nd_rng_normal(&r, w_rec, N * N, 0, (float)(c->w_rec_scale / sqrt((double)N)));
  for (int64_t j = 0; j < N; j++) w_rec[j * N + j] = 0;
  nd_rng_normal(&r, w_out, N * K, 0, (float)(1 / sqrt((double)N)));
  memset(w_out + N * K, 0, (size_t)K * sizeof(float));
  if (l->fb) nd_rng_normal(&r, l->fb, N * K, 0, (float)(1 / sqrt((double)N)));
}

nd_status nd_snn_learner_create(const nd_snn_learn_config *c, nd_snn_learner **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_snn_learn_config_check(c));
  nd_snn_learner *l = calloc(1, sizeof *l);
  if (!l) return nd__error(ND_ERR_NOMEM, "snn_learner_create: out of memory");
  l->c = *c;
  l->alpha = (float)exp(-c->dt_ms / c->tau_m_ms);
  l->rho = (float)exp(-c->dt_ms / c->tau_a_ms);
  l->kappa = c->tau_out_ms > 0 ? (float)exp(-c->dt_ms / c->tau_out_ms) : 0.0f;
  int64_t I = c->inputs, N = c->neurons, K = c->outputs, B = c->batch, BN = B * N, BK = B * K;
  l->np = I * N + N * N + N * K + K;
  l->p = nd_aligned_alloc((size_t)l->np * sizeof(float));
  l->g = nd_aligned_alloc((size_t)l->np * sizeof(float));
  if (c->feedback == ND_SNN_FEEDBACK_RANDOM) l->fb = nd_aligned_alloc((size_t)(N * K) * sizeof(float));
  float **bn[] = {&l->v, &l->a, &l->z0, &l->z1, &l->psi, &l->r, &l->gz, &l->ga};
  bool ok = l->p && l->g && (c->feedback != ND_SNN_FEEDBACK_RANDOM || l->fb);
  for (int i = 0; i < 8; i++) ok = ok && (*bn[i] = nd__snn_learn_buf(l, BN));
  float **bk[] = {&l->y, &l->dy, &l->gyr};
  for (int i = 0; i < 3; i++) ok = ok && (*bk[i] = nd__snn_learn_buf(l, BK));
  if (!ok) {
    nd_snn_learner_free(l);
    return nd__error(ND_ERR_NOMEM, "snn_learner_create: out of memory for %lld neurons", (long long)N);
  }
  memset(l->g, 0, (size_t)l->np * sizeof(float));
  init_weights(l);
  const int64_t shapes[4][2] = {{I, N}, {N, N}, {N, K}, {K, 1}};
  int64_t off = 0;
  for (int i = 0; i < 4; i++) {
    l->tp[i] = nd_tensor_wrap(l->p + off, i == 3 ? 1 : 2, shapes[i]);
    l->tg[i] = nd_tensor_wrap(l->g + off, i == 3 ? 1 : 2, shapes[i]);
    off += shapes[i][0] * shapes[i][1];
  }
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)c->lr;
  nd_tensor *tp[4] = {&l->tp[0], &l->tp[1], &l->tp[2], &l->tp[3]}, *tg[4] = {&l->tg[0], &l->tg[1], &l->tg[2], &l->tg[3]};
  nd_status s = nd_optim_create(&oc, 4, tp, tg, &l->opt);
  if (s == ND_OK) s = nd_sampler_init(&l->sampler, c->batch, false, nd_rng_split(&(nd_rng){0}, 0));
  if (s != ND_OK) {
    nd_snn_learner_free(l);
    return s;
  }
  nd_rng base;
  nd_rng_init(&base, c->seed);
  l->rng = nd_rng_split(&base, 2);
  l->sampler.rng = nd_rng_split(&base, 5);
  *out = l;
  return ND_OK;
}

const nd_snn_learn_config *nd_snn_learner_config(const nd_snn_learner *l) { return l ? &l->c : NULL; }

nd_status nd_snn_learner_params(nd_snn_learner *l, nd_snn_params *p, nd_snn_params *grad) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_params: learner is NULL");
  int64_t I = l->c.inputs, N = l->c.neurons, K = l->c.outputs;
  float *base[2] = {l->p, l->g};
  nd_snn_params *dst[2] = {p, grad};
  for (int i = 0; i < 2; i++)
    if (dst[i]) {
      dst[i]->w_in = base[i];
      dst[i]->w_rec = base[i] + I * N;
      dst[i]->w_out = base[i] + I * N + N * N;
      dst[i]->b_out = base[i] + I * N + N * N + N * K;
    }
  return ND_OK;
}

float *nd_snn_learner_feedback(nd_snn_learner *l) { return l ? l->fb : NULL; }

nd_status nd_snn_learner_set_method(nd_snn_learner *l, nd_snn_method m) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_set_method: learner is NULL");
  if ((unsigned)m > ND_SNN_EPROP) return nd__error(ND_ERR_INVALID_ARG, "snn: method = %d unknown", (int)m);
  l->c.method = m;
  return ND_OK;
}

int64_t nd_snn_learner_buffer_bytes(const nd_snn_learner *l) { return l ? l->bytes : -1; }


/* ------------------------------------------------- sparse-aware products
 * Spikes are binary and mostly zero; a product with a spike matrix skips its
 * zeros below ND_SNN_SPARSE_FRACTION non-zeros (measured crossover:
 * docs/spiking.md), else it is one GEMM.  Exact either way (the same sums in
 * another order). */

#define ND_SNN_SPARSE_FRACTION 0.15

static int64_t count_nz(const float *a, int64_t n) {
  int64_t k = 0;
  for (int64_t q = 0; q < n; q++) k += a[q] != 0.0f;
  return k;
}

/* The hot loops below are serial functions called from the parallel
 * regions, so that they get the CPU-dispatched clones (backend/cpu/dispatch.h). */
/* c [N] = beta c + sum over a's non-zeros a_k W[k, :]. */
static ND__HOT void sparse_row(int64_t K, int64_t N, const float *a, const float *W, float beta, float *c) {
  if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
  for (int64_t k = 0; k < K; k++) {
    if (a[k] == 0.0f) continue;
    const float s = a[k], *w = W + k * N;
    for (int64_t n = 0; n < N; n++) c[n] += s * w[n];
  }
}

/* Columns n0..n1-1 of G += A^T D over rows 0..R-1, skipping A's zeros. */
static ND__HOT void sparse_tn_cols(int64_t R, int64_t K, int64_t N, const float *A, const float *D, float *G, int64_t n0,
                                   int64_t n1) {
  for (int64_t q = 0; q < R; q++) {
    const float *a = A + q * K, *d = D + q * N;
    for (int64_t k = 0; k < K; k++) {
      if (a[k] == 0.0f) continue;
      const float s = a[k];
      float *g = G + k * N;
      for (int64_t n = n0; n < n1; n++) g[n] += s * d[n];
    }
  }
}

/* C [B, N] = beta C + A [B, K] W [K, N] (beta 0 or 1). */
void nd__snn_mm(int64_t B, int64_t K, int64_t N, const float *A, const float *W, float beta, float *C) {
  if ((double)count_nz(A, B * K) > ND_SNN_SPARSE_FRACTION * (double)(B * K)) {
    nd_sgemm(false, false, B, N, K, 1.0f, A, K, W, N, beta, C, N);
    return;
  }
#pragma omp parallel for schedule(static) if (B * N > 65536)
  for (int64_t b = 0; b < B; b++) sparse_row(K, N, A + b * K, W, beta, C + b * N);
}

/* G [K, N] = A [R, K]^T D [R, N] (overwritten). */
void nd__snn_mm_tn(int64_t R, int64_t K, int64_t N, const float *A, const float *D, float *G) {
  if ((double)count_nz(A, R * K) > ND_SNN_SPARSE_FRACTION * (double)(R * K)) {
    nd_sgemm(true, false, K, N, R, 1.0f, A, K, D, N, 0.0f, G, N);
    return;
  }
  memset(G, 0, (size_t)(K * N) * sizeof(float));
  /* column blocks, one per thread (no two threads write one element) */
  const int64_t nchunks = R * K > 65536 ? (N < nd_get_num_threads() ? N : nd_get_num_threads()) : 1;
  const int64_t chunk = (N + nchunks - 1) / nchunks;
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t n0 = c * chunk, n1 = n0 + chunk < N ? n0 + chunk : N;
    sparse_tn_cols(R, K, N, A, D, G, n0, n1);
  }
}

/* ---------------------------------------------------------- forward step */
void nd__snn_learn_input(nd_snn_learner *l, int64_t B, const float *x, const float *zprev) {
  const nd_snn_learn_config *c = &l->c;
  int64_t I = c->inputs, N = c->neurons;
  nd__snn_mm(B, I, N, x, l->p, 0.0f, l->r);
  nd__snn_mm(B, N, N, zprev, l->p + I * N, 1.0f, l->r);
}

/* The neurons q = 0..n-1 of one step (nd__snn_learn_neurons), one loop per
 * surrogate so that each vectorises; a serial function for the dispatched clones. */
static ND__HOT void spiking_range(nd_snn_surrogate su, int64_t n, float *v, float *a, const float *r, const float *zprev,
                                  float *znew, float *psi, float alpha, float arho, float ain, float vth, float inv,
                                  float gam, float beta, float k) {
#define ND_SNN_NEURON_LOOP(FX)                                                                    \
  for (int64_t q = 0; q < n; q++) {                                                               \
    float vq = alpha * v[q] + r[q] - vth * zprev[q]; /* reset by subtraction (Bellec et al. 2020, Eq. 21) */ \
    float aq = arho * a[q] + ain * zprev[q];         /* Eq. 23 (LIF: a stays 0) */                \
    float x = (vq - vth - beta * aq) * inv, ax = fabsf(x);                                        \
    (void)ax;                                                                                     \
    v[q] = vq;                                                                                    \
    a[q] = aq;                                                                                    \
    znew[q] = x >= 0 ? 1.0f : 0.0f;                                                               \
    psi[q] = gam * inv * (FX); /* Eq. 22 (triangle) */                                            \
  }
  switch (su) {
  case ND_SNN_SURR_TRIANGLE: ND_SNN_NEURON_LOOP(ax < 1.0f ? 1.0f - ax : 0.0f) break;
  case ND_SNN_SURR_FAST_SIGMOID: ND_SNN_NEURON_LOOP(1.0f / ((1.0f + k * ax) * (1.0f + k * ax))) break;
  default: ND_SNN_NEURON_LOOP(1.0f / (1.0f + ((float)M_PI * k * x) * ((float)M_PI * k * x))) break;
  }
#undef ND_SNN_NEURON_LOOP
}

void nd__snn_learn_neurons(nd_snn_learner *l, int64_t B, const float *zprev, float *znew, float *psi) {
  const nd_snn_learn_config *c = &l->c;
  const int64_t bn = B * c->neurons;
  const float alpha = l->alpha, rho = l->rho, vth = (float)c->v_th, inv = 1.0f / vth, gam = (float)c->gamma;
  const float beta = c->unit == ND_SNN_UNIT_ALIF ? (float)c->beta : 0.0f, k = (float)c->slope;
  const nd_snn_surrogate su = c->surrogate;
  float *v = l->v, *a = l->a;
  const float *r = l->r;
  if (c->unit == ND_SNN_UNIT_RATE) {
#pragma omp parallel for schedule(static) if (bn > 65536)
    for (int64_t q = 0; q < bn; q++) {
      v[q] = alpha * v[q] + r[q];
      float h = tanhf(v[q]);
      znew[q] = h;
      psi[q] = 1 - h * h;
    }
    return;
  }
  const bool alif = c->unit == ND_SNN_UNIT_ALIF;
  if (c->smooth) { /* the smoothed model (tests): z = gamma F(x) */
    for (int64_t q = 0; q < bn; q++) {
      v[q] = alpha * v[q] + r[q] - vth * zprev[q];
      if (alif) a[q] = rho * a[q] + zprev[q];
      float x = (v[q] - vth - beta * a[q]) * inv;
      znew[q] = gam * nd__snn_surr_F(su, k, x);
      psi[q] = gam * inv * nd__snn_surr_f(su, k, x);
    }
    return;
  }
  const float arho = alif ? rho : 0.0f, ain = alif ? 1.0f : 0.0f;
  const int64_t chunk = 8192, nchunks = (bn + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (bn > 65536)
  for (int64_t ch = 0; ch < nchunks; ch++) {
    int64_t q0 = ch * chunk, n = bn - q0 < chunk ? bn - q0 : chunk;
    spiking_range(su, n, v + q0, a + q0, r + q0, zprev + q0, znew + q0, psi + q0, alpha, arho, ain, vth, inv, gam,
                  beta, k);
  }
}

void nd__snn_learn_readout(nd_snn_learner *l, int64_t B, const float *z, const int32_t *labels, double inv_scored,
                           float *dy, double *loss, double *correct) {
  const nd_snn_learn_config *c = &l->c;
  int64_t N = c->neurons, K = c->outputs;
  float *y = l->y;
  const float *w_out = l->p + c->inputs * N + N * N, *b = w_out + N * K;
  for (int64_t q = 0; q < B; q++)
    for (int64_t o = 0; o < K; o++) y[q * K + o] = l->kappa * y[q * K + o] + b[o];
  nd__snn_mm(B, N, K, z, w_out, 1.0f, y);
  for (int64_t q = 0; q < B; q++) {
    float *d = dy + q * K;
    const float *yq = y + q * K;
    int32_t lab = labels[q];
    if (lab < 0) {
      memset(d, 0, (size_t)K * sizeof(float));
      continue;
    }
    float mx = yq[0];
    int64_t am = 0;
    for (int64_t o = 1; o < K; o++)
      if (yq[o] > mx) mx = yq[o], am = o;
    double sum = 0;
    for (int64_t o = 0; o < K; o++) sum += exp((double)(yq[o] - mx));
    *loss += (log(sum) - (double)(yq[lab] - mx)) * inv_scored;
    *correct += am == lab;
    for (int64_t o = 0; o < K; o++) d[o] = (float)((exp((double)(yq[o] - mx)) / sum - (o == lab)) * inv_scored);
  }
}

/* ------------------------------------------------------------------ calls */
static nd_status check_seq(const nd_snn_learner *l, const nd_snn_seq *s, double *inv_scored, int64_t *scored) {
  if (!l || !s || !s->x || !s->labels) return nd__error(ND_ERR_INVALID_ARG, "snn_learner: NULL argument");
  if (s->T < 1 || s->T > 100000000) return nd__error(ND_ERR_INVALID_ARG, "snn_learner: T = %lld, expected >= 1", (long long)s->T);
  if (s->B < 1 || s->B > l->c.batch)
    return nd__error(ND_ERR_SHAPE, "snn_learner: minibatch of %lld rows, expected 1..%lld (config batch)", (long long)s->B,
                     (long long)l->c.batch);
  int64_t n = 0;
  for (int64_t q = 0; q < s->T * s->B; q++) {
    if (s->labels[q] >= l->c.outputs)
      return nd__error(ND_ERR_INVALID_ARG, "snn_learner: label %d at step %lld, row %lld, expected < outputs = %lld",
                       (int)s->labels[q], (long long)(q / s->B), (long long)(q % s->B), (long long)l->c.outputs);
    n += s->labels[q] >= 0;
  }
  *scored = n;
  *inv_scored = n ? 1.0 / (double)n : 0.0;
  return ND_OK;
}

static void reset_state(nd_snn_learner *l, int64_t B) {
  int64_t BN = B * l->c.neurons;
  memset(l->v, 0, (size_t)BN * sizeof(float));
  memset(l->a, 0, (size_t)BN * sizeof(float));
  memset(l->z0, 0, (size_t)BN * sizeof(float));
  memset(l->y, 0, (size_t)(B * l->c.outputs) * sizeof(float));
}

static double sum_f(const float *p, int64_t n) {
  double s = 0;
  for (int64_t q = 0; q < n; q++) s += p[q];
  return s;
}

static void finish(const nd_snn_seq *s, int64_t scored, int64_t N, double loss, double correct, double spikes,
                   double *loss_out, double *acc, double *rate) {
  *loss_out = loss;
  if (acc) *acc = scored ? correct / (double)scored : NAN;
  if (rate) *rate = spikes / ((double)s->T * (double)s->B * (double)N);
}

nd_status nd_snn_learner_eval(nd_snn_learner *l, const nd_snn_seq *s, double *loss, double *accuracy, double *rate) {
  double inv = 0;
  int64_t scored = 0;
  ND_TRY(check_seq(l, s, &inv, &scored));
  if (!loss) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_eval: loss is NULL");
  const nd_snn_learn_config *c = &l->c;
  int64_t B = s->B, N = c->neurons, BN = B * N;
  reset_state(l, B);
  double lo = 0, cor = 0, sp = 0;
  float *zp = l->z0, *zn = l->z1;
  for (int64_t t = 0; t < s->T; t++) {
    nd__snn_learn_input(l, B, s->x + t * B * c->inputs, zp);
    nd__snn_learn_neurons(l, B, zp, zn, l->psi);
    nd__snn_learn_readout(l, B, zn, s->labels + t * B, inv, l->dy, &lo, &cor);
    sp += sum_f(zn, BN);
    float *tmp = zp;
    zp = zn, zn = tmp;
  }
  finish(s, scored, N, lo, cor, sp, loss, accuracy, rate);
  return ND_OK;
}

/* dL/dz_t enters the step only through psi_t (dL/dv_t = psi_t dL/dz_t + ...,
 * dL/da_t likewise), so where psi_t = 0 -- outside the pseudo-derivative's
 * support, most neurons -- it is not needed: the two products are computed
 * only at psi_t != 0 (a sampled product; the other entries are set to 0). */
static ND__HOT void sampled_row(int64_t N, int64_t K, const float *psi, const float *gyb, const float *w_out,
                                const float *gvb, const float *w_rec, float *gz) {
  for (int64_t j = 0; j < N; j++) {
    float s = 0.0f;
    if (psi[j] != 0.0f) {
      const float *wo = w_out + j * K;
      for (int64_t o = 0; o < K; o++) s += gyb[o] * wo[o];
      if (gvb) {
        const float *wr = w_rec + j * N;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < N; i++) acc += gvb[i] * wr[i];
        s += acc;
      }
    }
    gz[j] = s;
  }
}

static void sampled_grad_z(int64_t B, int64_t N, int64_t K, const float *psi, const float *gy, const float *w_out,
                           const float *gvn, const float *w_rec, float *gz) {
#pragma omp parallel for schedule(static) if (B * N > 65536)
  for (int64_t b = 0; b < B; b++)
    sampled_row(N, K, psi + b * N, gy + b * K, w_out, gvn ? gvn + b * N : NULL, w_rec, gz + b * N);
}

/* BPTT (snn.h): forward storing z, psi and dy; backward turns psi into
 * dL/dv and dy into the readout error filtered backwards by kappa; the
 * weight gradients are then three GEMMs over all T*B rows. */
static nd_status bptt(nd_snn_learner *l, const nd_snn_seq *s, double inv, double *lo, double *cor, double *sp) {
  const nd_snn_learn_config *c = &l->c;
  int64_t T = s->T, B = s->B, I = c->inputs, N = c->neurons, K = c->outputs, BN = B * N, BK = B * K;
  ND_TRY(alloc_store(l, T));
  reset_state(l, B);
  float *Z = l->sz, *PSI = l->spsi, *DY = l->sdy;
  memset(Z, 0, (size_t)BN * sizeof(float));
  for (int64_t t = 0; t < T; t++) {
    float *zp = Z + t * BN, *zn = Z + (t + 1) * BN;
    nd__snn_learn_input(l, B, s->x + t * B * I, zp);
    nd__snn_learn_neurons(l, B, zp, zn, PSI + t * BN);
    nd__snn_learn_readout(l, B, zn, s->labels + t * B, inv, DY + t * BK, lo, cor);
    *sp += sum_f(zn, BN);
  }
  const float alpha = l->alpha, rho = l->rho, kappa = l->kappa, vth = (float)c->v_th;
  const float beta = c->unit == ND_SNN_UNIT_ALIF ? (float)c->beta : 0.0f;
  const bool alif = c->unit == ND_SNN_UNIT_ALIF;
  const float *w_rec = l->p + I * N, *w_out = w_rec + N * N;
  float *gz = l->gz, *ga = l->ga;
  memset(ga, 0, (size_t)BN * sizeof(float));
  for (int64_t t = T - 1; t >= 0; t--) {
    float *gy = DY + t * BK, *gv = PSI + t * BN, *gvn = t + 1 < T ? PSI + (t + 1) * BN : NULL;
    if (gvn)
      for (int64_t q = 0; q < BK; q++) gy[q] += kappa * gy[q + BK];
    /* dL/dz_t: readout, the recurrent input of step t+1, adaptation (Eq. 23) */
    if ((double)count_nz(gv, BN) > ND_SNN_SPARSE_FRACTION * (double)BN) {
      nd_sgemm(false, true, B, N, K, 1.0f, gy, K, w_out, K, 0.0f, gz, N);
      if (gvn) nd_sgemm(false, true, B, N, N, 1.0f, gvn, N, w_rec, N, 1.0f, gz, N);
    } else {
      sampled_grad_z(B, N, K, gv, gy, w_out, gvn, w_rec, gz);
    }
    if (gvn) {
      if (alif)
        for (int64_t q = 0; q < BN; q++) gz[q] += ga[q];
      if (c->reset_grad && c->unit != ND_SNN_UNIT_RATE)
        for (int64_t q = 0; q < BN; q++) gz[q] -= vth * gvn[q];
    }
    for (int64_t q = 0; q < BN; q++) {
      float p = gv[q], gnext = gvn ? gvn[q] : 0.0f;
      gv[q] = p * gz[q] + alpha * gnext;
      if (alif) ga[q] = rho * ga[q] - beta * p * gz[q];
    }
  }
  float *g_in = l->g, *g_rec = g_in + I * N, *g_out = g_rec + N * N, *g_b = g_out + N * K;
  nd__snn_mm_tn(T * B, I, N, s->x, PSI, g_in);
  nd__snn_mm_tn(T * B, N, N, Z, PSI, g_rec);
  nd__snn_mm_tn(T * B, N, K, Z + BN, DY, g_out);
  for (int64_t o = 0; o < K; o++) {
    double sb = 0;
    for (int64_t q = 0; q < T * B; q++) sb += DY[q * K + o];
    g_b[o] = (float)sb;
  }
  return ND_OK;
}

nd_status nd_snn_learner_grad(nd_snn_learner *l, const nd_snn_seq *s, double *loss, double *accuracy, double *rate) {
  double inv = 0;
  int64_t scored = 0;
  ND_TRY(check_seq(l, s, &inv, &scored));
  if (!loss) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_grad: loss is NULL");
  double lo = 0, cor = 0, sp = 0;
  if (l->c.method == ND_SNN_EPROP) {
    ND_TRY(alloc_eprop(l));
    ND_TRY(nd__snn_eprop_grad(l, s, inv, &lo, &cor, &sp));
  } else {
    ND_TRY(bptt(l, s, inv, &lo, &cor, &sp));
  }
  finish(s, scored, l->c.neurons, lo, cor, sp, loss, accuracy, rate);
  return ND_OK;
}

nd_status nd_snn_learner_update(nd_snn_learner *l) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "snn_learner_update: learner is NULL");
  if (l->c.clip > 0) ND_TRY(nd_optim_clip_grad_norm(l->opt, l->c.clip, NULL));
  return nd_optim_step(l->opt);
}
