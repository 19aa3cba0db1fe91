/* Krotov-Hopfield unsupervised layer: the official fast learning rule
 * (Krotov & Hopfield, "Unsupervised learning by competing hidden units",
 * PNAS 116(16):7723, 2019, Eq. 10; code: DimaKrotov/Biological_Learning,
 * Unsupervised_learning_algorithm_MNIST.ipynb).
 *
 * For a minibatch V [batch, visible] (rows = samples; the notebook stores
 * samples as columns) and weights W [hidden, visible]:
 *
 *   I  = V (sign(W) |W|^(p-1))^T                  [batch, hidden]  I_bm = <W_m, v_b>_m (Eq. 2-3 metric)
 *   per sample b: g_b,top = +1 for the unit with the largest I_b,
 *                 g_b,kth = -delta for the k-th largest ONLY; all other g = 0   (Eq. 10)
 *   ds = g^T V - (sum_b g_b o I_b) o W            [hidden, visible]  (Eq. 3 RHS, R = 1, batch sum)
 *   W += eps ds / max(max |ds|, 1e-30)            (the largest single change is eps)
 *
 * with eps = eps0 (1 - epoch / epochs) (linear anneal) and the training set
 * reshuffled at the start of every epoch.  Ranking is by partial selection
 * (no full sort); ties are broken towards the lower unit index.  With k = 1
 * the top unit gets -delta (the notebook assigns +1 first, then overwrites it
 * with -delta).
 *
 * Precision: float32 (default) or float64 (as the notebook runs).  All
 * buffers are allocated by nd_krotov_create; a minibatch allocates nothing.
 *
 * Randomness: W ~ N(init_mean, init_std^2) from the Philox stream
 * nd_rng_split(seed, 1); the per-epoch permutations from stream
 * nd_rng_split(seed, 2), whose (key, counter) is part of nd_krotov_state, so
 * a checkpoint that stores W and the state resumes a run bit for bit when it
 * runs on the same number of threads (float32 GEMM panels split per thread
 * round differently at their edges; float64 was identical across counts). */
#ifndef NEURODYN_KROTOV_H
#define NEURODYN_KROTOV_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_krotov_precision {
  ND_KROTOV_F32 = 0, /* float32 weights, GEMMs and updates (default) */
  ND_KROTOV_F64 = 1  /* float64 throughout, as the upstream notebook */
} nd_krotov_precision;

/* How ds = g^T V is formed.  Both are the same rule: g has exactly two
 * non-zeros per sample, so only the <= 2*batch units ranked first or k-th by
 * some sample get a non-zero row of ds (the others have g = 0 and
 * sum_b g o I = 0, so their ds row is exactly 0 in the dense form too). */
typedef enum nd_krotov_update {
  ND_KROTOV_UPDATE_SPARSE = 0, /* default: scatter-add the selected samples' rows (2*batch*visible adds) */
  ND_KROTOV_UPDATE_GEMM = 1    /* dense g [batch, hidden] and one GEMM g^T V, as the notebook */
} nd_krotov_update;

typedef struct nd_krotov_config {
  int64_t hidden;    /* H, number of hidden units (notebook: Kx*Ky = 100; paper MNIST: 2000) */
  int64_t visible;   /* D, input dimension (784 for MNIST) */
  double p;          /* Lebesgue exponent p >= 1 (notebook 2.0; paper MNIST 3) */
  int64_t k;         /* rank that receives -delta, 1 <= k <= hidden (notebook 2; paper MNIST 7) */
  double delta;      /* anti-Hebbian strength (0.4) */
  double eps0;       /* initial learning rate = max |change| per minibatch (2e-2) */
  int64_t epochs;    /* Nep, length of the linear anneal (200) */
  int64_t batch;     /* minibatch size Num (100) */
  double init_mean;  /* W ~ N(init_mean, init_std^2): notebook mu = 0 */
  double init_std;   /* notebook sigma = 1 */
  double prec;       /* floor of the normaliser max|ds| (1e-30) */
  nd_krotov_precision precision; /* ND_KROTOV_F32 */
  nd_krotov_update update;       /* ND_KROTOV_UPDATE_SPARSE */
  uint64_t seed;     /* 0 */
} nd_krotov_config;

/* The notebook's values: hidden 100, visible 784, p 2, k 2, delta 0.4,
 * eps0 0.02, epochs 200, batch 100, init N(0, 1), prec 1e-30, float32,
 * sparse update, seed 0. */
ND_API nd_krotov_config nd_krotov_defaults(void);

/* Everything besides W that an exact resume needs. */
typedef struct nd_krotov_state {
  int64_t epoch;        /* next epoch index (0 at creation); sets eps and counts the anneal */
  uint64_t rng_key;     /* shuffle stream key */
  uint64_t rng_counter; /* shuffle stream counter */
} nd_krotov_state;

typedef struct nd_krotov nd_krotov;

/* Validates c (ND_ERR_INVALID_ARG naming the field), allocates every buffer
 * and draws W. */
ND_API nd_status nd_krotov_create(const nd_krotov_config *c, nd_krotov **out);
ND_API void nd_krotov_free(nd_krotov *k);
ND_API const nd_krotov_config *nd_krotov_config_of(const nd_krotov *k);

/* W [hidden, visible] as float32.  In F32 mode the model's own weights
 * (valid until the next update); in F64 mode a float32 copy refreshed by
 * this call.  Do not write through it: use nd_krotov_set_weights. */
ND_API const nd_tensor *nd_krotov_weights(nd_krotov *k);
/* Copies W (row-major [hidden, visible]) out in double (either precision). */
ND_API void nd_krotov_weights_f64(const nd_krotov *k, double *out);
/* Replaces W; w must be [hidden, visible] (ND_ERR_SHAPE otherwise). */
ND_API nd_status nd_krotov_set_weights(nd_krotov *k, const nd_tensor *w);
ND_API nd_status nd_krotov_set_weights_f64(nd_krotov *k, const double *w);

ND_API nd_krotov_state nd_krotov_get_state(const nd_krotov *k);
/* ND_ERR_INVALID_ARG if epoch < 0. */
ND_API nd_status nd_krotov_set_state(nd_krotov *k, const nd_krotov_state *s);

/* eps0 (1 - epoch / epochs), the notebook's anneal (not clamped: epochs past
 * Nep give eps <= 0, as the notebook would). */
ND_API double nd_krotov_eps(const nd_krotov_config *c, int64_t epoch);

/* One update of W from n samples V [n, visible] (1 <= n <= batch) with step
 * eps.  The F64 model converts V to double; nd_krotov_minibatch_f64 takes
 * double samples (either precision).  ND_ERR_NUMERIC (W unchanged) if the
 * update is not finite. */
ND_API nd_status nd_krotov_minibatch(nd_krotov *k, const float *v, int64_t n, double eps);
ND_API nd_status nd_krotov_minibatch_f64(nd_krotov *k, const double *v, int64_t n, double eps);

/* Called after every minibatch of an epoch. */
typedef void (*nd_krotov_progress_fn)(int64_t batches_done, int64_t batches_total, void *user);

/* One epoch at the model's epoch counter e: eps = nd_krotov_eps(c, e); the
 * n rows of data [n, visible] are permuted with the shuffle stream; the
 * floor(n / batch) full minibatches are applied in order (the notebook's
 * range(Ns // Num): a remainder is skipped); then the counter becomes e + 1.
 * The permutation buffer is allocated on the first call (and when n grows).
 * progress may be NULL.  On a failing minibatch the epoch counter and the
 * shuffle stream are restored and W keeps the minibatches applied before it. */
ND_API nd_status nd_krotov_epoch(nd_krotov *k, const float *data, int64_t n, nd_krotov_progress_fn progress, void *user);

/* Number of distinct units ranked first for at least one sample since the
 * last nd_krotov_epoch began (or since creation).  A healthy layer has most
 * units winning; a collapsed one (all samples won by a few units, e.g. the
 * paper's MNIST setting on Fashion-MNIST, docs/krotov.md) only a handful. */
ND_API int64_t nd_krotov_winners(const nd_krotov *k);

/* Per-sample ranking used by the rule (exposed for tests): for each of the
 * rows of x [rows, cols], the index of the largest entry (top) and of the
 * k-th largest (kth), by partial selection; ties go to the lower index, NaN
 * ranks as -infinity.  1 <= k <= cols. */
ND_API nd_status nd_krotov_rank(const float *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth);
ND_API nd_status nd_krotov_rank_f64(const double *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth);

#ifdef __cplusplus
}
#endif
#endif
