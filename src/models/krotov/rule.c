/* Krotov-Hopfield official fast learning rule (Krotov & Hopfield, PNAS 2019,
 * Eq. 10; the notebook Unsupervised_learning_algorithm_MNIST.ipynb of
 * DimaKrotov/Biological_Learning).  See include/neurodyn/krotov.h for the
 * equations and docs/krotov.md for the user guide.
 *
 * One minibatch, as implemented here (V [B, D] rows = samples, W [H, D]):
 *   1. Wp = sign(W) |W|^(p-1)                (kept up to date row by row, so
 *                                             only rows changed by the last
 *                                             update are recomputed)
 *   2. I = V Wp^T                            GEMM [B, H]   (notebook: tot_input = dot(sig*|W|^(p-1), inputs))
 *   3. per sample: top-1 and k-th unit       partial selection (notebook: argsort, y[Kx*Ky-1], y[Kx*Ky-K])
 *   4. xx_m = sum_b g_bm I_bm                (notebook: xx = sum(yl*tot_input, 1))
 *   5. ds = g^T V - xx o W                   (notebook: ds = dot(yl, inputs.T) - xx[:,None]*synapses)
 *   6. W += eps ds / max(max|ds|, prec)      (notebook: synapses += eps*ds/nc)
 * g is zero except for two entries per sample, so rows of ds belong to at
 * most 2B "touched" units; every other row of ds is exactly 0 and W there
 * does not change.  Step 5 is either a sparse scatter over the touched rows
 * (default) or the notebook's dense GEMM g^T V followed by a pass over all
 * rows (ND_KROTOV_UPDATE_GEMM); steps 5-6 then only visit touched rows in the
 * sparse mode.
 *
 * The float and double versions are generated from one template: this file
 * includes itself twice with KR_T defined. */
#ifndef KR_T

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"
#include "neurodyn/rng.h"
#include "models/krotov/metric.h"
#include "models/krotov/shard.h"

/* Units with at most this k are ranked with a sorted running list of k
 * entries; larger k use quickselect on a per-thread copy of the row. */
#define KR_LIST_MAX_K 16

typedef struct kr_pair_f {
  float v;
  int64_t i;
} kr_pair_f;
typedef struct kr_pair_d {
  double v;
  int64_t i;
} kr_pair_d;

struct nd_krotov {
  nd_krotov_config c;
  int nthreads;     /* threads the per-thread scratch was sized for */
  /* float32 mode (NULL in float64 mode, except w_view) */
  float *w;         /* [H, D] weights */
  float *wp;        /* [H, D] sign(W)|W|^(p-1); == w when p == 2 */
  float *v;         /* [B, D] minibatch copy */
  float *in;        /* [B, H] currents I */
  float *ds;        /* [2B, D] sparse mode: touched rows; GEMM mode [H, D] */
  float *g;         /* [B, H] GEMM mode: dense g */
  float *xx;        /* [2B] (sparse) or [H] (GEMM): sum_b g o I */
  /* float64 mode */
  double *w64, *wp64, *v64, *in64, *ds64, *g64, *xx64;
  nd_tensor w_view; /* float32 view of W (F64 mode: its own buffer) */
  float *w_conv;    /* F64 mode: [H, D] float32 copy behind w_view */
  /* ranking and bookkeeping, shared by both precisions */
  int64_t *top, *kth;   /* [B] */
  double *itop, *ikth;  /* [B] I at each sample's top-1 and k-th unit */
  kr_exchange xchg;     /* data-parallel: the per-sample exchange (shard.h) */
  int64_t *slot;        /* [H] touched-row slot of each unit, -1 if untouched */
  int64_t *won;         /* [H] 1 if the unit was ranked first since the epoch began */
  int64_t winners;      /* number of units with won == 1 */
  int64_t *units;       /* [2B] unit of each slot */
  int64_t *start;       /* [2B+1] CSR offsets of each slot's (sample, coefficient) list */
  int64_t *ent_b;       /* [2B] sample of each entry */
  double *ent_c;        /* [2B] coefficient (+1 or -delta) of each entry */
  int64_t *fill;        /* [2B] fill cursor */
  void *scratch;        /* [nthreads * H] pairs for quickselect (k > KR_LIST_MAX_K) */
  nd_sampler sampler;   /* the per-epoch shuffle (stream nd_rng_split(seed, 2)) */
  int64_t epoch;
};

nd_krotov_config nd_krotov_defaults(void) {
  nd_krotov_config c;
  memset(&c, 0, sizeof c);
  c.hidden = 100;   /* Kx = Ky = 10 */
  c.visible = 784;
  c.p = 2.0;
  c.k = 2;
  c.delta = 0.4;
  c.eps0 = 2e-2;
  c.epochs = 200;
  c.batch = 100;
  c.init_mean = 0.0;
  c.init_std = 1.0;
  c.prec = 1e-30;
  c.precision = ND_KROTOV_F32;
  c.update = ND_KROTOV_UPDATE_SPARSE;
  c.seed = 0;
  return c;
}

double nd_krotov_eps(const nd_krotov_config *c, int64_t epoch) {
  /* notebook: eps = eps0 * (1 - nep / Nep) */
  return c->eps0 * (1.0 - (double)epoch / (double)c->epochs);
}

nd_status nd_krotov_config_check(const nd_krotov_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "krotov: config is NULL");
  if (c->hidden < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov: hidden = %lld, must be >= 1", (long long)c->hidden);
  if (c->visible < 1)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: visible = %lld, must be >= 1", (long long)c->visible);
  if (!(c->p >= 1.0) || !isfinite(c->p)) return nd__error(ND_ERR_INVALID_ARG, "krotov: p = %g, must be >= 1", c->p);
  if (c->k < 1 || c->k > c->hidden)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: k = %lld, must be in 1..hidden (%lld)", (long long)c->k,
                     (long long)c->hidden);
  if (!isfinite(c->delta)) return nd__error(ND_ERR_INVALID_ARG, "krotov: delta = %g is not finite", c->delta);
  if (!(c->eps0 > 0) || !isfinite(c->eps0))
    return nd__error(ND_ERR_INVALID_ARG, "krotov: eps0 = %g, must be finite and > 0", c->eps0);
  if (c->epochs < 1 || c->epochs > ND_KROTOV_MAX_EPOCHS)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: epochs = %lld, must be in 1..%lld", (long long)c->epochs,
                     (long long)ND_KROTOV_MAX_EPOCHS);
  if (c->batch < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov: batch = %lld, must be >= 1", (long long)c->batch);
  if (!(c->init_std >= 0) || !isfinite(c->init_mean))
    return nd__error(ND_ERR_INVALID_ARG, "krotov: init N(%g, %g^2) is not valid", c->init_mean, c->init_std);
  if (!(c->prec > 0)) return nd__error(ND_ERR_INVALID_ARG, "krotov: prec = %g, must be > 0", c->prec);
  if (c->precision != ND_KROTOV_F32 && c->precision != ND_KROTOV_F64)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: precision = %d, must be ND_KROTOV_F32 or ND_KROTOV_F64",
                     (int)c->precision);
  if (c->update != ND_KROTOV_UPDATE_SPARSE && c->update != ND_KROTOV_UPDATE_GEMM)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: update = %d is not a nd_krotov_update", (int)c->update);
  double hd = (double)c->hidden * (double)c->visible;
  if (hd > 4e9 || (double)c->batch * (double)c->hidden > 4e9 || (double)c->batch * (double)c->visible > 4e9)
    return nd__error(ND_ERR_INVALID_ARG, "krotov: hidden %lld x visible %lld x batch %lld is too large",
                     (long long)c->hidden, (long long)c->visible, (long long)c->batch);
  return ND_OK;
}

/* Strict total order for ranking: larger value first, ties to the lower
 * index.  Values are read through KR_KEY, which maps NaN to -infinity. */
#define KR_BETTER(av, ai, bv, bi) ((av) > (bv) || ((av) == (bv) && (ai) < (bi)))
#define KR_KEY(x) ((x) == (x) ? (x) : -INFINITY)

#define KR_T float
#define KR_SFX _f
#define KR_PAIR kr_pair_f
#define KR_GEMM nd_sgemm
#include "rule.c"
#undef KR_T
#undef KR_SFX
#undef KR_PAIR
#undef KR_GEMM

#define KR_T double
#define KR_SFX _d
#define KR_PAIR kr_pair_d
#define KR_GEMM nd_dgemm
#include "rule.c"
#undef KR_T
#undef KR_SFX
#undef KR_PAIR
#undef KR_GEMM

static int max_threads(void) {
#ifdef _OPENMP
  int t = omp_get_max_threads();
  int n = nd_get_num_threads();
  return t > n ? t : n;
#else
  return 1;
#endif
}

void nd_krotov_free(nd_krotov *k) {
  if (!k) return;
  void *bufs[] = {k->w, k->v, k->in, k->ds, k->g, k->xx, k->w64, k->v64, k->in64, k->ds64, k->g64, k->xx64,
                  k->w_conv, k->top, k->kth, k->itop, k->ikth, k->slot, k->won, k->units, k->start, k->ent_b, k->ent_c, k->fill, k->scratch};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) nd_aligned_free(bufs[i]);
  if (k->wp && k->wp != k->w) nd_aligned_free(k->wp);
  if (k->wp64 && k->wp64 != k->w64) nd_aligned_free(k->wp64);
  nd_sampler_release(&k->sampler);
  nd__krotov_exchange_free(&k->xchg);
  free(k);
}

static void *kalloc(size_t n, size_t size, int *failed) {
  void *p = nd_aligned_alloc(n * size > 0 ? n * size : 1);
  if (!p) *failed = 1;
  return p;
}

nd_status nd_krotov_create(const nd_krotov_config *c, nd_krotov **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_krotov_config_check(c));
  nd_krotov *k = calloc(1, sizeof *k);
  if (!k) return nd__error(ND_ERR_NOMEM, "krotov: no memory for the model");
  k->c = *c;
  const size_t H = (size_t)c->hidden, D = (size_t)c->visible, B = (size_t)c->batch;
  const bool gemm = c->update == ND_KROTOV_UPDATE_GEMM;
  const size_t ds_rows = gemm ? H : 2 * B;
  int failed = 0;
  k->nthreads = max_threads();
  if (c->precision == ND_KROTOV_F32) {
    k->w = kalloc(H * D, sizeof(float), &failed);
    k->wp = c->p == 2.0 ? k->w : kalloc(H * D, sizeof(float), &failed);
    k->v = kalloc(B * D, sizeof(float), &failed);
    k->in = kalloc(B * H, sizeof(float), &failed);
    k->ds = kalloc(ds_rows * D, sizeof(float), &failed);
    k->xx = kalloc(gemm ? H : 2 * B, sizeof(float), &failed);
    if (gemm) k->g = kalloc(B * H, sizeof(float), &failed);
    if (!failed) k->w_view = nd_tensor_wrap(k->w, 2, (int64_t[]){c->hidden, c->visible});
  } else {
    k->w64 = kalloc(H * D, sizeof(double), &failed);
    k->wp64 = c->p == 2.0 ? k->w64 : kalloc(H * D, sizeof(double), &failed);
    k->v64 = kalloc(B * D, sizeof(double), &failed);
    k->in64 = kalloc(B * H, sizeof(double), &failed);
    k->ds64 = kalloc(ds_rows * D, sizeof(double), &failed);
    k->xx64 = kalloc(gemm ? H : 2 * B, sizeof(double), &failed);
    if (gemm) k->g64 = kalloc(B * H, sizeof(double), &failed);
    k->w_conv = kalloc(H * D, sizeof(float), &failed);
    if (!failed) k->w_view = nd_tensor_wrap(k->w_conv, 2, (int64_t[]){c->hidden, c->visible});
  }
  k->top = kalloc(B, sizeof(int64_t), &failed);
  k->kth = kalloc(B, sizeof(int64_t), &failed);
  k->itop = kalloc(B, sizeof(double), &failed);
  k->ikth = kalloc(B, sizeof(double), &failed);
  k->slot = kalloc(H, sizeof(int64_t), &failed);
  k->won = kalloc(H, sizeof(int64_t), &failed);
  k->units = kalloc(2 * B, sizeof(int64_t), &failed);
  k->start = kalloc(2 * B + 1, sizeof(int64_t), &failed);
  k->ent_b = kalloc(2 * B, sizeof(int64_t), &failed);
  k->ent_c = kalloc(2 * B, sizeof(double), &failed);
  k->fill = kalloc(2 * B, sizeof(int64_t), &failed);
  if (c->k > KR_LIST_MAX_K)
    k->scratch = kalloc((size_t)k->nthreads * H, c->precision == ND_KROTOV_F32 ? sizeof(kr_pair_f) : sizeof(kr_pair_d),
                        &failed);
  if (failed) {
    nd_krotov_free(k);
    return nd__error(ND_ERR_NOMEM, "krotov: no memory for buffers (hidden %lld, visible %lld, batch %lld)",
                     (long long)c->hidden, (long long)c->visible, (long long)c->batch);
  }
  for (size_t h = 0; h < H; h++) k->slot[h] = -1, k->won[h] = 0;

  /* W ~ N(mu, sigma^2) (notebook: synapses = np.random.normal(mu, sigma, (Kx*Ky, N))) */
  nd_rng base;
  nd_rng_init(&base, c->seed);
  nd_rng wr = nd_rng_split(&base, 1);
  /* notebook: range(Ns // Num) minibatches, a remainder skipped */
  ND_TRY(nd_sampler_init(&k->sampler, c->batch, true, nd_rng_split(&base, 2)));
  if (c->precision == ND_KROTOV_F32) {
    nd_rng_normal(&wr, k->w, (int64_t)(H * D), (float)c->init_mean, (float)c->init_std);
    kr_refresh_all_f(k);
  } else {
    nd_rng_normal_f64(&wr, k->w64, (int64_t)(H * D), c->init_mean, c->init_std);
    kr_refresh_all_d(k);
  }
  k->epoch = 0;
  *out = k;
  return ND_OK;
}

const nd_krotov_config *nd_krotov_config_of(const nd_krotov *k) { return &k->c; }

nd_status nd_krotov_set_comm(nd_krotov *k, nd_comm *c) {
  if (!k) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_set_comm: model is NULL");
  return nd__krotov_exchange_set(&k->xchg, c, k->c.batch);
}

const nd_tensor *nd_krotov_weights(nd_krotov *k) {
  if (k->c.precision == ND_KROTOV_F64) {
    int64_t n = k->c.hidden * k->c.visible;
    for (int64_t i = 0; i < n; i++) k->w_conv[i] = (float)k->w64[i];
  }
  return &k->w_view;
}

void nd_krotov_weights_f64(const nd_krotov *k, double *out) {
  int64_t n = k->c.hidden * k->c.visible;
  if (k->c.precision == ND_KROTOV_F64)
    memcpy(out, k->w64, (size_t)n * sizeof(double));
  else
    for (int64_t i = 0; i < n; i++) out[i] = k->w[i];
}

nd_status nd_krotov_set_weights(nd_krotov *k, const nd_tensor *w) {
  if (!k || !w) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_set_weights: NULL argument");
  ND_TRY(nd_tensor_check_shape(w, "krotov weights", 2, (int64_t[]){k->c.hidden, k->c.visible}));
  const int64_t H = k->c.hidden, D = k->c.visible;
  for (int64_t h = 0; h < H; h++)
    for (int64_t i = 0; i < D; i++) {
      float x = w->data[h * w->stride[0] + i * w->stride[1]];
      if (k->c.precision == ND_KROTOV_F32)
        k->w[h * D + i] = x;
      else
        k->w64[h * D + i] = x;
    }
  if (k->c.precision == ND_KROTOV_F32)
    kr_refresh_all_f(k);
  else
    kr_refresh_all_d(k);
  return ND_OK;
}

nd_status nd_krotov_set_weights_f64(nd_krotov *k, const double *w) {
  if (!k || !w) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_set_weights_f64: NULL argument");
  int64_t n = k->c.hidden * k->c.visible;
  if (k->c.precision == ND_KROTOV_F64) {
    memcpy(k->w64, w, (size_t)n * sizeof(double));
    kr_refresh_all_d(k);
  } else {
    for (int64_t i = 0; i < n; i++) k->w[i] = (float)w[i];
    kr_refresh_all_f(k);
  }
  return ND_OK;
}

nd_status nd_krotov_get_state(const nd_krotov *k, nd_train_state *out) {
  if (!k || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_get_state: NULL argument");
  out->epoch = k->epoch;
  nd_sampler_get_state(&k->sampler, out);
  return ND_OK;
}

nd_status nd_krotov_set_state(nd_krotov *k, const nd_train_state *s) {
  if (!k || !s) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_set_state: NULL argument");
  if (s->epoch < 0) return nd__error(ND_ERR_INVALID_ARG, "krotov state: epoch = %lld < 0", (long long)s->epoch);
  ND_TRY(nd_sampler_set_state(&k->sampler, s));
  k->epoch = s->epoch;
  return ND_OK;
}

static nd_status check_batch(const nd_krotov *k, const void *v, int64_t n) {
  if (!k || !v) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_minibatch: NULL argument");
  if (n < 1 || n > k->c.batch)
    return nd__error(ND_ERR_SHAPE, "nd_krotov_minibatch: %lld samples, must be 1..batch (%lld)", (long long)n,
                     (long long)k->c.batch);
  return ND_OK;
}

nd_status nd_krotov_minibatch(nd_krotov *k, const float *v, int64_t n, double eps) {
  ND_TRY(check_batch(k, v, n));
  const size_t nv = (size_t)(n * k->c.visible);
  if (k->c.precision == ND_KROTOV_F32) {
    memcpy(k->v, v, nv * sizeof(float));
    return kr_step_f(k, n, eps);
  }
  for (size_t i = 0; i < nv; i++) k->v64[i] = v[i];
  return kr_step_d(k, n, eps);
}

nd_status nd_krotov_minibatch_f64(nd_krotov *k, const double *v, int64_t n, double eps) {
  ND_TRY(check_batch(k, v, n));
  const size_t nv = (size_t)(n * k->c.visible);
  if (k->c.precision == ND_KROTOV_F64) {
    memcpy(k->v64, v, nv * sizeof(double));
    return kr_step_d(k, n, eps);
  }
  for (size_t i = 0; i < nv; i++) k->v[i] = (float)v[i];
  return kr_step_f(k, n, eps);
}

nd_status nd_krotov_epoch(nd_krotov *k, const float *data, int64_t n, nd_progress_fn progress, void *user) {
  if (!k || !data) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_epoch: NULL argument");
  if (n < k->c.batch)
    return nd__error(ND_ERR_SHAPE, "krotov: epoch: %lld samples, fewer than one minibatch (%lld)", (long long)n,
                     (long long)k->c.batch);
  const int64_t D = k->c.visible, nb = nd_sampler_batches(&k->sampler, n);
  const double eps = nd_krotov_eps(&k->c, k->epoch); /* eps = eps0*(1-nep/Nep) */
  nd_train_state saved;
  nd_krotov_get_state(k, &saved);
  /* notebook: M = M[np.random.permutation(Ns), :] (drawn as the epoch starts) */
  ND_TRY(nd_sampler_begin(&k->sampler, n));
  if (saved.batch == 0) { /* a new epoch, not one resumed part-way */
    memset(k->won, 0, (size_t)k->c.hidden * sizeof *k->won);
    k->winners = 0;
  }
  const int64_t *rows;
  int64_t count;
  while (nd_sampler_next(&k->sampler, &rows, &count)) {
    nd_status s;
    if (k->c.precision == ND_KROTOV_F32) {
      nd_sampler_gather(data, D, rows, count, k->v);
      s = kr_step_f(k, count, eps);
    } else {
      for (int64_t r = 0; r < count; r++)
        for (int64_t i = 0; i < D; i++) k->v64[r * D + i] = data[rows[r] * D + i];
      s = kr_step_d(k, count, eps);
    }
    if (s != ND_OK) {
      int64_t b = k->sampler.next - 1;
      nd_krotov_set_state(k, &saved);
      return nd__error(s, "krotov: epoch %lld, minibatch %lld of %lld: %s", (long long)saved.epoch, (long long)b,
                       (long long)nb, nd_last_error());
    }
    if (progress && k->sampler.next < nb) {
      nd_progress_info info = {k->epoch, k->sampler.next, nb};
      if (progress(&info, user)) return ND_OK; /* stopped part-way: the state says where */
    }
  }
  k->epoch++;
  if (progress) progress(&(nd_progress_info){k->epoch - 1, nb, nb}, user);
  return ND_OK;
}

void nd__krotov_metric_rows(const float *w, float *wp, int64_t rows, int64_t d, double p) {
  if (p == 2.0) {
    if (wp != w) memcpy(wp, w, sizeof(float) * (size_t)(rows * d));
    return;
  }
#pragma omp parallel for schedule(static) if (rows * d > 65536)
  for (int64_t r = 0; r < rows; r++) kr_pow_row_f(w + r * d, wp + r * d, d, p);
}

nd_status nd_krotov_row_pnorms(const nd_tensor *w, double p, double *norms) {
  if (!w || !norms || !w->data) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_row_pnorms: NULL argument");
  if (w->ndim != 2 || !nd_tensor_is_contiguous(w))
    return nd__error(ND_ERR_SHAPE, "nd_krotov_row_pnorms: W must be a contiguous [hidden, visible] tensor");
  if (!(p >= 1.0) || !isfinite(p)) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_row_pnorms: p = %g, need p >= 1", p);
  const int64_t H = w->shape[0], D = w->shape[1];
  for (int64_t u = 0; u < H; u++) {
    const float *row = w->data + u * D;
    double s = 0;
    if (p == 2.0) {
      for (int64_t i = 0; i < D; i++) s += (double)row[i] * row[i];
      norms[u] = sqrt(s);
    } else {
      for (int64_t i = 0; i < D; i++) s += pow(fabs((double)row[i]), p);
      norms[u] = pow(s, 1.0 / p);
    }
  }
  return ND_OK;
}

int64_t nd_krotov_winners(const nd_krotov *k) { return k ? k->winners : 0; }

nd_status nd_krotov_rank(const float *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth) {
  return kr_rank_rows_f(x, rows, cols, k, top, kth, "nd_krotov_rank");
}

nd_status nd_krotov_rank_f64(const double *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth) {
  return kr_rank_rows_d(x, rows, cols, k, top, kth, "nd_krotov_rank_f64");
}

#else /* ---------------------------------------------------------------- template (KR_T) */

#define KR_CAT2(a, b) a##b
#define KR_CAT(a, b) KR_CAT2(a, b)
#define KR_FN(name) KR_CAT(name, KR_SFX)

/* Buffers of this precision. */
#define KR_W(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->w : (KR_T *)(void *)(k)->w64)
#define KR_WP(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->wp : (KR_T *)(void *)(k)->wp64)
#define KR_V(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->v : (KR_T *)(void *)(k)->v64)
#define KR_IN(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->in : (KR_T *)(void *)(k)->in64)
#define KR_DS(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->ds : (KR_T *)(void *)(k)->ds64)
#define KR_G(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->g : (KR_T *)(void *)(k)->g64)
#define KR_XX(k) (sizeof(KR_T) == sizeof(float) ? (KR_T *)(void *)(k)->xx : (KR_T *)(void *)(k)->xx64)

/* Wp row = sign(W)|W|^(p-1)  (notebook: sig = np.sign(synapses); sig*np.absolute(synapses)**(p-1)).
 * Integer p uses products; p == 2 needs nothing (Wp aliases W). */
static inline void KR_FN(kr_pow_row)(const KR_T *restrict w, KR_T *restrict wp, int64_t d, double p) {
  if (p == 2.0) return;
  if (p == 3.0) {
    for (int64_t i = 0; i < d; i++) wp[i] = w[i] * (KR_T)fabs((double)w[i]);
  } else if (p == 1.0) {
    for (int64_t i = 0; i < d; i++) wp[i] = (KR_T)((w[i] > 0) - (w[i] < 0));
  } else if (p == 4.0) {
    for (int64_t i = 0; i < d; i++) wp[i] = w[i] * w[i] * w[i];
  } else {
    const KR_T e = (KR_T)(p - 1.0);
    for (int64_t i = 0; i < d; i++) {
      KR_T a = w[i] < 0 ? -w[i] : w[i];
      KR_T m = sizeof(KR_T) == sizeof(float) ? (KR_T)powf((float)a, (float)e) : (KR_T)pow((double)a, (double)e);
      wp[i] = w[i] < 0 ? -m : (w[i] > 0 ? m : 0);
    }
  }
}

static void KR_FN(kr_refresh_all)(nd_krotov *k) {
  const int64_t H = k->c.hidden, D = k->c.visible;
  KR_T *w = KR_W(k), *wp = KR_WP(k);
  if (wp == w) return;
#pragma omp parallel for schedule(static) if (H * D > 65536)
  for (int64_t h = 0; h < H; h++) KR_FN(kr_pow_row)(w + h * D, wp + h * D, D, k->c.p);
}

/* Quickselect: after the call, a[kk] is the element that would be at index kk
 * if a[lo..hi] were sorted best-first by KR_BETTER. */
static void KR_FN(kr_select)(KR_PAIR *a, int64_t lo, int64_t hi, int64_t kk) {
  while (hi > lo) {
    int64_t mid = lo + (hi - lo) / 2;
    /* median of three as pivot, moved to hi */
    KR_PAIR t;
#define KR_SWAP(x, y) (t = a[x], a[x] = a[y], a[y] = t)
    if (KR_BETTER(a[mid].v, a[mid].i, a[lo].v, a[lo].i)) KR_SWAP(mid, lo);
    if (KR_BETTER(a[hi].v, a[hi].i, a[lo].v, a[lo].i)) KR_SWAP(hi, lo);
    if (KR_BETTER(a[mid].v, a[mid].i, a[hi].v, a[hi].i)) KR_SWAP(mid, hi);
    KR_PAIR piv = a[hi];
    int64_t s = lo;
    for (int64_t i = lo; i < hi; i++)
      if (KR_BETTER(a[i].v, a[i].i, piv.v, piv.i)) {
        KR_SWAP(i, s);
        s++;
      }
    KR_SWAP(s, hi);
#undef KR_SWAP
    if (s == kk) return;
    if (kk < s)
      hi = s - 1;
    else
      lo = s + 1;
  }
}

/* Top-1 and k-th (1-based rank k) of one row (notebook: y = np.argsort(tot_input, axis=0);
 * yl[y[Kx*Ky-1], ...] = 1.0; yl[y[Kx*Ky-K], ...] = -delta).  scratch holds
 * cols pairs when k > KR_LIST_MAX_K. */
static void KR_FN(kr_rank_row)(const KR_T *restrict x, int64_t cols, int64_t k, KR_PAIR *restrict scratch,
                               int64_t *top, int64_t *kth) {
  if (k <= KR_LIST_MAX_K) {
    /* running list of the k best, best first.  Indices arrive in increasing
     * order, so a newcomer beats a listed entry only by a strictly larger
     * value (ties stay with the lower, earlier index). */
    KR_PAIR list[KR_LIST_MAX_K];
    int64_t len = 0;
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t c1 = c0 + 16 < cols ? c0 + 16 : cols;
      if (len == k) {
        /* skip a whole block when none of it beats the k-th best (a
         * vectorised compare; NaN never passes x > thr, as KR_KEY ranks it) */
        const KR_T thr = list[k - 1].v;
        int any = 0;
        for (int64_t i = c0; i < c1; i++) any |= x[i] > thr;
        if (!any) continue;
      }
      for (int64_t i = c0; i < c1; i++) {
        KR_T v = KR_KEY(x[i]);
        if (len == k && !(v > list[k - 1].v)) continue;
        int64_t pos = len < k ? len : k - 1;
        while (pos > 0 && v > list[pos - 1].v) {
          list[pos] = list[pos - 1];
          pos--;
        }
        list[pos] = (KR_PAIR){v, i};
        if (len < k) len++;
      }
    }
    *top = list[0].i;
    *kth = list[k - 1].i;
    return;
  }
  int64_t best = 0;
  KR_T bestv = KR_KEY(x[0]);
  for (int64_t i = 0; i < cols; i++) {
    KR_T v = KR_KEY(x[i]);
    scratch[i] = (KR_PAIR){v, i};
    if (v > bestv) best = i, bestv = v;
  }
  KR_FN(kr_select)(scratch, 0, cols - 1, k - 1);
  *top = best;
  *kth = scratch[k - 1].i;
}

/* The public ranking (nd_krotov_rank[_f64]) over rows of x, with its own scratch. */
static nd_status KR_FN(kr_rank_rows)(const KR_T *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth,
                                     const char *who) {
  if (!x || !top || !kth) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL argument", who);
  if (rows < 0 || cols < 1 || k < 1 || k > cols)
    return nd__error(ND_ERR_INVALID_ARG, "%s: rows %lld, cols %lld, k %lld (need 1 <= k <= cols)", who,
                     (long long)rows, (long long)cols, (long long)k);
  KR_PAIR *scratch = NULL;
  if (k > KR_LIST_MAX_K) {
    scratch = malloc((size_t)cols * sizeof *scratch);
    if (!scratch) return nd__error(ND_ERR_NOMEM, "%s: no memory", who);
  }
  for (int64_t r = 0; r < rows; r++) KR_FN(kr_rank_row)(x + r * cols, cols, k, scratch, top + r, kth + r);
  free(scratch);
  return ND_OK;
}

/* One minibatch on the n samples already in the V buffer. */
static nd_status KR_FN(kr_step)(nd_krotov *k, int64_t n, double eps) {
  const int64_t H = k->c.hidden, D = k->c.visible, K = k->c.k;
  const KR_T delta = (KR_T)k->c.delta;
  KR_T *restrict w = KR_W(k), *restrict wp = KR_WP(k), *restrict v = KR_V(k), *restrict in = KR_IN(k),
                 *restrict ds = KR_DS(k), *restrict xx = KR_XX(k);
  const bool gemm = k->c.update == ND_KROTOV_UPDATE_GEMM;

  /* Data-parallel: this rank's rows [lo, hi) only (shard.h).  A one-row
   * shard goes through the GEMM with a neighbour, so that the BLAS takes its
   * GEMM path (not GEMV, which rounds differently) as for larger shards. */
  int64_t lo, hi;
  nd_comm_shard(k->xchg.comm, n, &lo, &hi);
  int64_t glo = hi - lo == 1 && n > 1 ? (lo > 0 ? lo - 1 : lo) : lo, ghi = hi - lo == 1 && n > 1 && lo == 0 ? hi + 1 : hi;

  /* 2. I = V Wp^T  [n, H]  (notebook: tot_input = np.dot(sig*|W|^(p-1), inputs), [H, Num]) */
  if (ghi > glo) KR_GEMM(false, true, ghi - glo, H, D, (KR_T)1, v + glo * D, D, wp, D, (KR_T)0, in + glo * H, H);

  /* 3. ranking, one sample per iteration */
  int64_t *restrict top = k->top, *restrict kth = k->kth;
  KR_PAIR *scratch_all = (KR_PAIR *)k->scratch;
  const int nthr = k->nthreads;
#pragma omp parallel num_threads(nthr) if (n * H > 20000)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    KR_PAIR *scratch = scratch_all ? scratch_all + (size_t)tid * (size_t)H : NULL;
#pragma omp for schedule(static)
    for (int64_t b = lo; b < hi; b++) KR_FN(kr_rank_row)(in + b * H, H, K, scratch, top + b, kth + b);
  }
  /* the currents the update needs, then every rank's rows from the others */
  double *restrict itop = k->itop, *restrict ikth = k->ikth;
  for (int64_t b = lo; b < hi; b++) itop[b] = (double)in[b * H + top[b]], ikth[b] = (double)in[b * H + kth[b]];
  ND_TRY(nd__krotov_exchange(&k->xchg, n, H, top, kth, itop, ikth));

  /* Winners of this epoch: a collapsing layer (every sample won by a handful
   * of units, see docs/krotov.md) shows up as a small count. */
  for (int64_t b = 0; b < n; b++)
    if (!k->won[top[b]]) {
      k->won[top[b]] = 1;
      k->winners++;
    }

  /* Touched units and, per unit, its list of (sample, g) entries.  g_top = 1
   * is assigned before g_kth = -delta, so with k = 1 the unit gets -delta as
   * in the notebook.  Entries keep sample order, so sums run in sample order. */
  int64_t *restrict slot = k->slot, *restrict units = k->units;
  int64_t nt = 0;
  for (int64_t b = 0; b < n; b++) {
    int64_t u[2] = {top[b], kth[b]};
    for (int j = 0; j < 2; j++)
      if (slot[u[j]] < 0) {
        slot[u[j]] = nt;
        units[nt++] = u[j];
      }
  }
  int64_t *restrict start = k->start, *restrict fill = k->fill, *restrict ent_b = k->ent_b;
  double *restrict ent_c = k->ent_c;
  for (int64_t s = 0; s <= nt; s++) start[s] = 0;
  for (int64_t b = 0; b < n; b++) {
    start[slot[top[b]] + 1]++;
    if (kth[b] != top[b]) start[slot[kth[b]] + 1]++;
  }
  for (int64_t s = 0; s < nt; s++) {
    start[s + 1] += start[s];
    fill[s] = start[s];
  }
  for (int64_t b = 0; b < n; b++) {
    if (kth[b] == top[b]) { /* k == 1: yl = 1 then overwritten by -delta */
      int64_t s = slot[top[b]];
      ent_b[fill[s]] = b, ent_c[fill[s]++] = -(double)delta;
      continue;
    }
    int64_t s = slot[top[b]];
    ent_b[fill[s]] = b, ent_c[fill[s]++] = 1.0;
    s = slot[kth[b]];
    ent_b[fill[s]] = b, ent_c[fill[s]++] = -(double)delta;
  }

  /* 4. xx_m = sum_b g_bm I_bm  (notebook: xx = np.sum(np.multiply(yl, tot_input), 1)); I_bm of
   *    entry e on unit m is sample b's I_top or I_kth */
#define KR_CUR(e, m) ((KR_T)(top[ent_b[e]] == (m) ? itop[ent_b[e]] : ikth[ent_b[e]]))
  double maxabs = 0;
  int bad = 0;
  if (!gemm) {
    for (int64_t s = 0; s < nt; s++) {
      KR_T acc = 0;
      for (int64_t e = start[s]; e < start[s + 1]; e++) acc += (KR_T)ent_c[e] * KR_CUR(e, units[s]);
      xx[s] = acc;
    }
    /* 5. ds rows of touched units: ds_m = sum_b g_bm v_b - xx_m W_m  (Eq. 3 RHS, R = 1) */
#pragma omp parallel for schedule(dynamic, 4) reduction(max : maxabs) reduction(| : bad) num_threads(nthr) if (nt * D > 20000)
    for (int64_t s = 0; s < nt; s++) {
      KR_T *restrict row = ds + s * D;
      const KR_T *restrict wr = w + units[s] * D;
      const KR_T x = xx[s];
      int64_t e = start[s];
      const KR_T c0 = (KR_T)ent_c[e];
      const KR_T *restrict v0 = v + ent_b[e] * D;
      for (int64_t i = 0; i < D; i++) row[i] = c0 * v0[i];
      for (e = e + 1; e < start[s + 1]; e++) {
        const KR_T c = (KR_T)ent_c[e];
        const KR_T *restrict vb = v + ent_b[e] * D;
        for (int64_t i = 0; i < D; i++) row[i] += c * vb[i];
      }
      KR_T m = 0, chk = 0; /* chk += d*0 stays 0 unless some d is NaN or infinite */
      for (int64_t i = 0; i < D; i++) {
        KR_T d = row[i] - x * wr[i];
        row[i] = d;
        KR_T a = d < 0 ? -d : d;
        m = a > m ? a : m;
        chk += d * 0;
      }
      if (chk != 0 || !(m <= (KR_T)INFINITY) || chk != chk) bad = 1;
      if ((double)m > maxabs) maxabs = (double)m;
    }
  } else {
    /* notebook form: dense yl [n, H] and ds = yl^T V - xx o W over all H rows */
    KR_T *restrict g = KR_G(k);
    memset(g, 0, (size_t)(n * H) * sizeof(KR_T));
    for (int64_t b = 0; b < n; b++) {
      g[b * H + top[b]] = 1;
      g[b * H + kth[b]] = -delta;
    }
    for (int64_t h = 0; h < H; h++) xx[h] = 0;
    for (int64_t s = 0; s < nt; s++) {
      KR_T acc = 0;
      for (int64_t e = start[s]; e < start[s + 1]; e++) acc += (KR_T)ent_c[e] * KR_CUR(e, units[s]);
      xx[units[s]] = acc;
    }
    KR_GEMM(true, false, H, D, n, (KR_T)1, g, H, v, D, (KR_T)0, ds, D);
#pragma omp parallel for schedule(static) reduction(max : maxabs) reduction(| : bad) num_threads(nthr) if (H * D > 20000)
    for (int64_t h = 0; h < H; h++) {
      KR_T *restrict row = ds + h * D;
      const KR_T *restrict wr = w + h * D;
      const KR_T x = xx[h];
      KR_T m = 0, chk = 0; /* chk += d*0 stays 0 unless some d is NaN or infinite */
      for (int64_t i = 0; i < D; i++) {
        KR_T d = row[i] - x * wr[i];
        row[i] = d;
        KR_T a = d < 0 ? -d : d;
        m = a > m ? a : m;
        chk += d * 0;
      }
      if (chk != 0 || !(m <= (KR_T)INFINITY) || chk != chk) bad = 1;
      if ((double)m > maxabs) maxabs = (double)m;
    }
  }
#undef KR_CUR
  if (bad || !isfinite(maxabs)) {
    for (int64_t s = 0; s < nt; s++) slot[units[s]] = -1;
    return nd__error(ND_ERR_NUMERIC, "krotov: the update is not finite (max|ds| = %g or a NaN); W left unchanged", maxabs);
  }

  /* 6. W += eps ds / max(max|ds|, prec)  (notebook: nc = max(np.amax(np.absolute(ds)), prec);
   *    synapses += eps*np.true_divide(ds, nc)); then Wp of the changed rows. */
  const double nc = maxabs > k->c.prec ? maxabs : k->c.prec;
  const KR_T scale = (KR_T)(eps / nc);
  const double p = k->c.p;
#pragma omp parallel for schedule(static) num_threads(nthr) if (nt * D > 20000)
  for (int64_t s = 0; s < nt; s++) {
    const int64_t u = units[s];
    KR_T *restrict wr = w + u * D;
    const KR_T *restrict row = ds + (gemm ? u : s) * D;
    for (int64_t i = 0; i < D; i++) wr[i] += scale * row[i];
    KR_FN(kr_pow_row)(wr, wp + u * D, D, p);
  }
  for (int64_t s = 0; s < nt; s++) slot[units[s]] = -1;
  return ND_OK;
}

#undef KR_CAT2
#undef KR_CAT
#undef KR_FN
#undef KR_W
#undef KR_WP
#undef KR_V
#undef KR_IN
#undef KR_DS
#undef KR_G
#undef KR_XX

#endif
