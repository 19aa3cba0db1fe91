/* Krotov-Hopfield family (Krotov & Hopfield, "Unsupervised learning by
 * competing hidden units", PNAS 116(16):7723, 2019): one header, three parts.
 *
 *   1. nd_krotov      the official fast learning rule (Eq. 10)
 *   2. nd_krotov_ode  the full dynamical model (Eq. 2-3, 8-9)
 *   3. nd_krotov_top  the supervised top layer on a frozen hidden layer (Eq. 11-12)
 *
 * Each trainable part has the family verbs of docs/architecture.md:
 * defaults -> create -> epoch (progress callback) -> get/set training state ->
 * save/load (safetensors, metadata key "model") -> free. */
#ifndef NEURODYN_KROTOV_H
#define NEURODYN_KROTOV_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/dynamics.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/optim.h"
#include "neurodyn/train.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/plasticity.h"
#include "neurodyn/distributed.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================== 1. the fast rule */
/* The official fast learning rule
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

/* The longest anneal a config may ask for (a run of that many epochs would
 * take longer than any machine lasts; the bound keeps counts and the
 * history arrays of a run far from overflow). */
#define ND_KROTOV_MAX_EPOCHS 1000000000LL

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

typedef struct nd_krotov nd_krotov;

/* Validates c (ND_ERR_INVALID_ARG naming the field), allocates every buffer
 * and draws W. */
ND_API nd_status nd_krotov_create(const nd_krotov_config *c, nd_krotov **out);
/* The validation create does, alone (ND_ERR_INVALID_ARG naming the field). */
ND_API nd_status nd_krotov_config_check(const nd_krotov_config *c);
ND_API void nd_krotov_free(nd_krotov *k);
ND_API const nd_krotov_config *nd_krotov_config_of(const nd_krotov *k);
/* Data-parallel training (include/neurodyn/distributed.h): every rank holds
 * the same model and the whole data set; each minibatch's currents and
 * ranking are computed for the rank's part of it only, the per-sample
 * results (units and currents, 32 bytes a sample) are allgathered, and
 * every rank applies the update of the whole minibatch.  The model is the
 * one process's bit for bit (tests/test_distributed.c).  c NULL (or of size
 * 1): alone.  The model does not own c. */
ND_API nd_status nd_krotov_set_comm(nd_krotov *k, nd_comm *c);

/* W [hidden, visible] as float32.  In F32 mode the model's own weights
 * (valid until the next update); in F64 mode a float32 copy refreshed by
 * this call.  Do not write through it: use nd_krotov_set_weights. */
ND_API const nd_tensor *nd_krotov_weights(nd_krotov *k);
/* Copies W (row-major [hidden, visible]) out in double (either precision). */
ND_API void nd_krotov_weights_f64(const nd_krotov *k, double *out);
/* Replaces W; w must be [hidden, visible] (ND_ERR_SHAPE otherwise). */
ND_API nd_status nd_krotov_set_weights(nd_krotov *k, const nd_tensor *w);
ND_API nd_status nd_krotov_set_weights_f64(nd_krotov *k, const double *w);

/* Epochs done and the shuffle stream (include/neurodyn/train.h): with W,
 * everything an exact resume needs.  set: ND_ERR_INVALID_ARG if epoch < 0. */
ND_API nd_status nd_krotov_get_state(const nd_krotov *k, nd_train_state *out);
ND_API nd_status nd_krotov_set_state(nd_krotov *k, const nd_train_state *s);

/* Adds model "krotov", every config field, the state and W (plus W_f64 in
 * F64 mode) to ck; load creates a model from such a checkpoint, checking
 * every field and tensor (include/neurodyn/checkpoint.h). */
ND_API nd_status nd_krotov_save(nd_krotov *k, nd_checkpoint *ck);
ND_API nd_status nd_krotov_load(const nd_checkpoint *ck, nd_krotov **out);

/* eps0 (1 - epoch / epochs), the notebook's anneal (not clamped: epochs past
 * Nep give eps <= 0, as the notebook would). */
ND_API double nd_krotov_eps(const nd_krotov_config *c, int64_t epoch);

/* One update of W from n samples V [n, visible] (1 <= n <= batch) with step
 * eps.  The F64 model converts V to double; nd_krotov_minibatch_f64 takes
 * double samples (either precision).  ND_ERR_NUMERIC (W unchanged) if the
 * update is not finite. */
ND_API nd_status nd_krotov_minibatch(nd_krotov *k, const float *v, int64_t n, double eps);
ND_API nd_status nd_krotov_minibatch_f64(nd_krotov *k, const double *v, int64_t n, double eps);

/* One epoch at the model's epoch counter e: eps = nd_krotov_eps(c, e); the
 * n rows of data [n, visible] are permuted with the shuffle stream; the
 * floor(n / batch) full minibatches are applied in order (the notebook's
 * range(Ns // Num): a remainder is skipped); then the counter becomes e + 1.
 * The permutation (nd_sampler, train.h) is drawn as the epoch starts.
 * progress (may be NULL) is called after every minibatch; when it returns
 * non-zero before the last one the epoch stops there and returns ND_OK with
 * the state's `batch` saying how far it got: a model given that state (and
 * W) finishes the epoch exactly as an uninterrupted one.  On a failing
 * minibatch the epoch counter and the shuffle stream are restored and W
 * keeps the minibatches applied before it. */
ND_API nd_status nd_krotov_epoch(nd_krotov *k, const float *data, int64_t n, nd_progress_fn progress, void *user);

/* Number of distinct units ranked first for at least one sample since the
 * last nd_krotov_epoch began (or since creation).  A healthy layer has most
 * units winning; a collapsed one (all samples won by a few units, e.g. the
 * paper's MNIST setting on Fashion-MNIST, docs/krotov.md) only a handful. */
ND_API int64_t nd_krotov_winners(const nd_krotov *k);

/* p-norms (sum_i |W_mu,i|^p)^(1/p) of the rows of a [hidden, visible] W,
 * accumulated in double, into norms [hidden].  Eq. 3 drives every row to
 * norm R = 1, so their mean and the fraction within 1% of 1 show how far
 * training has converged. */
ND_API nd_status nd_krotov_row_pnorms(const nd_tensor *w, double p, double *norms);

/* The learning rule of Eq. 3 as a local plasticity rule (plasticity.h):
 * dW += alpha (R^p g^T v - diag(sum_b g o I) W), with pre = v [batch,
 * visible], post = g [batch, hidden], w = W and extra[0] = the currents I
 * [batch, hidden].  The ODE model learns through it; the fast rule applies
 * the same sum to the rows its sparse g touches. */
ND_API nd_status nd_krotov_plasticity_create(int64_t hidden, double R, double p, nd_plasticity_rule **out);

/* Per-sample ranking used by the rule (exposed for tests): for each of the
 * rows of x [rows, cols], the index of the largest entry (top) and of the
 * k-th largest (kth), by partial selection; ties go to the lower index, NaN
 * ranks as -infinity.  1 <= k <= cols. */
ND_API nd_status nd_krotov_rank(const float *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth);
ND_API nd_status nd_krotov_rank_f64(const double *x, int64_t rows, int64_t cols, int64_t k, int64_t *top, int64_t *kth);


/* ====================================================== 2. the ODE model */
/* Krotov-Hopfield unsupervised layer: the full model with hidden-unit
 * dynamics (Krotov & Hopfield, "Unsupervised learning by competing hidden
 * units", PNAS 116(16):7723, 2019, Eq. 2, 3, 8, 9; the "BioNeurons" class of
 * the seed notebook).  The official fast approximation (Eq. 10) is in
 * neurodyn/krotov.h.
 *
 * Weights W [hidden, visible], inputs v (a row of V [batch, visible]):
 *
 *   Eq. 2   <X, Y>_mu = sum_i |W_mu,i|^(p-2) X_i Y_i   (Lebesgue-p metric of unit mu)
 *   Eq. 8   I_mu = <W_mu, v>_mu = sum_i sign(W_mu,i) |W_mu,i|^(p-1) v_i
 *           tau dh_mu/dt = I_mu - w_inh sum_{nu != mu} r(h_nu) - h_mu,  r = ReLU,  h(0) = 0
 *   Eq. 9   g(h) = 1 if h >= h*,  -delta if 0 < h < h*,  0 if h <= 0
 *   Eq. 3   tau_L dW_mu/dt = g(Q_mu) (R^p v - <W_mu, v>_mu W_mu)
 *
 * where the post-synaptic activity Q_mu is the steady state of Eq. 8 (the
 * hidden dynamics is fast, tau << tau_L).  For a batch, I = V Wp^T with
 * Wp = sign(W)|W|^(p-1) is one GEMM; the inhibition sum_{nu != mu} r(h_nu)
 * is (sum_nu r(h_nu)) - r(h_mu), O(hidden) per sample.  Eq. 8 is integrated
 * from h = 0 over [0, t_max] with steps dt by explicit Euler or RK4
 * (neurodyn/dynamics.h), stopping early once max |dh/dt| <= tol.  Then one
 * explicit Euler step of Eq. 3 in learning time, averaged over the batch:
 *
 *   W_mu += (lr / tau_L) (1/n) sum_b g(h_b,mu) (R^p v_b - I_b,mu W_mu)
 *
 * Along Eq. 3, d/dt sum_i |W_mu,i|^p = (p g I_mu / tau_L)(R^p - sum_i |W_mu,i|^p):
 * units driven with g I > 0 (every unit with g = 1) settle on the p-sphere
 * of radius R.
 *
 * Stability of the hidden dynamics: while m units are active the fastest
 * rate is (1 + (m-1) w_inh) / tau, so explicit steps need
 * dt < 2 tau / (1 + (m-1) w_inh) (Euler; about 2.8 tau / ... for RK4).  A
 * step that is too large makes the state blow up, which is reported as
 * ND_ERR_NUMERIC.
 *
 * All buffers are allocated by nd_krotov_ode_create; a minibatch allocates
 * nothing.  Randomness follows neurodyn/krotov.h: W ~ N(init_mean,
 * init_std^2) from Philox stream nd_rng_split(seed, 1), the per-epoch
 * permutations from stream nd_rng_split(seed, 2), whose position is part of
 * nd_krotov_ode_state. */

typedef struct nd_krotov_ode_config {
  int64_t hidden;   /* H, hidden units */
  int64_t visible;  /* D, input dimension (784 for MNIST) */
  int64_t batch;    /* largest minibatch (the epoch's minibatch size) */
  double p;         /* Lebesgue exponent p >= 1 (Eq. 2; notebook lebesgue_p) */
  double w_inh;     /* global inhibition strength w_inh >= 0 (Eq. 8) */
  double delta;     /* anti-Hebbian strength Delta (Eq. 9) */
  double h_star;    /* activity threshold h* >= 0 (Eq. 9) */
  double tau;       /* hidden time constant tau > 0 (Eq. 8) */
  double tau_L;     /* learning time constant tau_L > 0 (Eq. 3) */
  double R;         /* radius of the p-sphere the rows settle on, R > 0 (Eq. 3) */
  nd_integrator_kind integrator; /* ND_INTEGRATOR_EULER or ND_INTEGRATOR_RK4 for Eq. 8 */
  double dt;        /* integration step of Eq. 8 (same units as tau) */
  double t_max;     /* Eq. 8 is integrated over [0, t_max] from h = 0 */
  double tol;       /* stop Eq. 8 early when max |dh/dt| <= tol; <= 0: always run to t_max */
  double init_mean; /* W ~ N(init_mean, init_std^2) */
  double init_std;
  uint64_t seed;
  double lr;        /* learning-time step of the first epoch (60) ... */
  double lr_end;    /* ... falling linearly to this in the last one (5) */
  int64_t epochs;   /* length of that anneal (200) */
} nd_krotov_ode_config;

/* hidden 100, visible 784, batch 100, p 2, w_inh 0.7, delta 0.4, h_star 0.5,
 * tau 1, tau_L 100, R 1, RK4, dt 0.05, t_max 20, tol 1e-4, init N(0, 1),
 * seed 0, lr 60 -> lr_end 5 over 200 epochs.  delta, tau and tau_L are the notebook's BioNeurons defaults; p
 * and the N(0, 1) init are those of the notebook's MNIST runs (the init
 * matters: rows far outside the p-sphere receive large currents, so units
 * that have not learned yet win the competition until they shrink to R);
 * w_inh, h_star, dt, t_max and tol are chosen for MNIST pixels in [0, 1]
 * (see docs/krotov.md).  tol must exceed the float32 floor of the residual,
 * about ulp(max |h|) / (2 dt). */
ND_API nd_krotov_ode_config nd_krotov_ode_defaults(void);

/* What the last minibatch (or nd_krotov_ode_hidden call) did. */
typedef struct nd_krotov_ode_stats {
  int64_t steps;       /* integrator steps of Eq. 8 */
  double t;            /* time reached */
  double residual;     /* max |dh/dt| at the state used */
  bool converged;      /* residual <= tol */
  double frac_active;  /* fraction of (sample, unit) pairs with h > 0 */
  double frac_hebb;    /* ... with g = 1 (h >= h*) */
  double frac_anti;    /* ... with g = -delta (0 < h < h*) */
} nd_krotov_ode_stats;

typedef struct nd_krotov_ode nd_krotov_ode;

/* Validates c (ND_ERR_INVALID_ARG naming the field), allocates every buffer
 * and draws W. */
ND_API nd_status nd_krotov_ode_create(const nd_krotov_ode_config *c, nd_krotov_ode **out);
ND_API nd_status nd_krotov_ode_config_check(const nd_krotov_ode_config *c);
ND_API void nd_krotov_ode_free(nd_krotov_ode *m); /* NULL is fine */
ND_API const nd_krotov_ode_config *nd_krotov_ode_config_of(const nd_krotov_ode *m);

/* W [hidden, visible] (the model's own weights, valid until the next update;
 * do not write through it). */
ND_API const nd_tensor *nd_krotov_ode_weights(const nd_krotov_ode *m);
/* Replaces W; w must be [hidden, visible] (ND_ERR_SHAPE otherwise). */
ND_API nd_status nd_krotov_ode_set_weights(nd_krotov_ode *m, const nd_tensor *w);

/* Epochs done and the shuffle stream (include/neurodyn/train.h). */
ND_API nd_status nd_krotov_ode_get_state(const nd_krotov_ode *m, nd_train_state *out);
ND_API nd_status nd_krotov_ode_set_state(nd_krotov_ode *m, const nd_train_state *s); /* epoch >= 0 */

/* Model "krotov-ode": every config field, the state and W. */
ND_API nd_status nd_krotov_ode_save(const nd_krotov_ode *m, nd_checkpoint *ck);
ND_API nd_status nd_krotov_ode_load(const nd_checkpoint *ck, nd_krotov_ode **out);

/* Learning-time step of an epoch: linear from c->lr (epoch 0) to c->lr_end
 * (epoch c->epochs - 1). */
ND_API double nd_krotov_ode_lr(const nd_krotov_ode_config *c, int64_t epoch);

/* Eq. 9. */
ND_API float nd_krotov_ode_g(float h, float h_star, float delta);

/* Currents I [n, hidden] = <W_mu, v_b>_mu (Eq. 8) for v [n, visible],
 * 1 <= n <= batch. */
ND_API nd_status nd_krotov_ode_currents(nd_krotov_ode *m, const float *v, int64_t n, float *currents);

/* Steady-state hidden activity h [n, hidden] of Eq. 8 for v [n, visible]
 * (1 <= n <= batch), integrated as a minibatch does.  stats may be NULL. */
ND_API nd_status nd_krotov_ode_hidden(nd_krotov_ode *m, const float *v, int64_t n, float *h, nd_krotov_ode_stats *stats);

/* One learning step from v [n, visible] (1 <= n <= batch): steady state of
 * Eq. 8, then W += (lr / tau_L) * batch mean of the Eq. 3 right-hand side.
 * lr is the step in learning time (same units as tau_L).  ND_ERR_NUMERIC (W
 * unchanged) if the hidden dynamics or the update is not finite. */
ND_API nd_status nd_krotov_ode_minibatch(nd_krotov_ode *m, const float *v, int64_t n, double lr);

/* One epoch with step nd_krotov_ode_lr(c, epoch): the n rows of data
 * [n, visible] are permuted with the shuffle stream, the floor(n / batch)
 * full minibatches are applied in order (a remainder is skipped, as by the
 * fast rule), and the epoch counter grows by one.  progress, stopping
 * part-way and failures behave as in nd_krotov_epoch. */
ND_API nd_status nd_krotov_ode_epoch(nd_krotov_ode *m, const float *data, int64_t n, nd_progress_fn progress,
                                     void *user);
/* The same with an explicit step lr (a schedule of the caller's own). */
ND_API nd_status nd_krotov_ode_epoch_lr(nd_krotov_ode *m, const float *data, int64_t n, double lr,
                                        nd_progress_fn progress, void *user);

/* Statistics of the last minibatch or nd_krotov_ode_hidden call. */
ND_API nd_krotov_ode_stats nd_krotov_ode_last_stats(const nd_krotov_ode *m);

/* p-norms (sum_i |W_mu,i|^p)^(1/p) of the rows of W, norms [hidden]
 * (accumulated in double). */
ND_API void nd_krotov_ode_norms(const nd_krotov_ode *m, double *norms);


/* ====================================================== 3. the top layer */
/* Supervised top layer of the Krotov-Hopfield network (Krotov & Hopfield,
 * PNAS 116(16):7723, 2019, Eq. 11-12), trained on a frozen hidden layer.
 *
 *   h = V W^T                 V [N, D] inputs, W [H, D] frozen hidden weights
 *   f = max(h, 0)^n           rectified power units (Eq. 11), f [N, H]
 *   c = tanh(beta f S^T)      S [C, H] trained, c [N, C] (Eq. 11)
 *   loss = sum_b sum_a |c_ba - t_ba|^m,  t = +1 for the true class, -1 else (Eq. 12)
 *   prediction = argmax_a c_a
 *
 * h uses the plain dot product sum_i W_mi v_i (the form independent
 * re-implementations use; the paper does not say which inner product h is,
 * docs/krotov.md).
 * Setting lebesgue_p > 0 instead uses the Eq. 3 metric of the learning rule,
 * h = <W, v>_mu = sum_i sign(W_mi)|W_mi|^(p-1) v_i.
 *
 * The hidden layer is frozen, so f is computed once for a whole data set
 * (nd_krotov_features: one GEMM per chunk of rows) and the top layer trains on
 * f alone.  Training is Adam (nd_optim) through the autodiff tape
 * (nd_ad_matmul, nd_ad_scale, nd_ad_tanh, nd_ad_abs_power_loss) on shuffled
 * minibatches; the loss is the batch sum of Eq. 12, as in the paper.
 *
 * beta: the paper gives no value.  The logits beta f S^T must be O(1) at the
 * start or tanh saturates and learning stalls, and f = h^n has a scale that
 * depends on W and n.  nd_krotov_top_auto_beta picks beta = 1 / mean_b max_mu
 * f_b,mu over a feature matrix, so the largest feature of a typical example
 * enters the readout at scale 1 (documented in docs/krotov.md). */

typedef struct nd_krotov_top_config {
  int64_t hidden;     /* H: number of hidden units (features) */
  int64_t classes;    /* C: number of classes (10 for MNIST) */
  float n;            /* power of the rectified power units (paper 4.5) */
  float m;            /* loss exponent (paper 6), >= 1 */
  float beta;         /* readout gain, > 0 */
  float init_std;     /* S ~ N(0, init_std^2) */
  uint64_t seed;      /* initialisation of S */
  float dropout;      /* training only: each feature f_mu zeroed with this probability and
                         the rest scaled by 1/(1-dropout) (inverted dropout; not in the
                         paper, a regulariser option), 0 <= dropout < 1, default 0 */
  float lebesgue_p;   /* the hidden layer's metric for the features (nd_krotov_features):
                         0 = plain dot product (default), p > 0 = Eq. 3 metric with this p */
} nd_krotov_top_config;

/* Paper values n = 4.5, m = 6; beta = 1 (set it, e.g. with
 * nd_krotov_top_auto_beta); init_std = 1e-2 ; seed 0. */
ND_API nd_krotov_top_config nd_krotov_top_defaults(int64_t hidden, int64_t classes);

typedef struct nd_krotov_top nd_krotov_top;

ND_API nd_status nd_krotov_top_create(const nd_krotov_top_config *c, nd_krotov_top **out);
ND_API nd_status nd_krotov_top_config_check(const nd_krotov_top_config *c);
ND_API void nd_krotov_top_free(nd_krotov_top *t);
ND_API const nd_krotov_top_config *nd_krotov_top_config_of(const nd_krotov_top *t);
/* S [classes, hidden] and its gradient buffer (for nd_optim_create). */
ND_API nd_tensor *nd_krotov_top_weights(nd_krotov_top *t);
ND_API nd_tensor *nd_krotov_top_grad(nd_krotov_top *t);
/* Replaces S by a copy of s (same shape required). */
ND_API nd_status nd_krotov_top_set_weights(nd_krotov_top *t, const nd_tensor *s);
/* Data-parallel training (include/neurodyn/distributed.h, nd_grad_sum):
 * each minibatch is cut into `blocks` fixed blocks of rows, each rank
 * computes the gradient of its blocks, and every rank sums all blocks'
 * gradients in block order before the optimizer step.  The same blocks
 * give the same model on 1 .. blocks processes, bit for bit; blocks = 1
 * without a comm is the ordinary whole-batch gradient.  c may be NULL (one
 * process, e.g. to reproduce a data-parallel run); blocks >= size of c.  The
 * model does not own c.  Features, labels and the rng stream are the same on
 * every rank (dropout masks are drawn for the whole batch). */
ND_API nd_status nd_krotov_top_set_comm(nd_krotov_top *t, nd_comm *c, int64_t blocks);

/* Model "krotov-top": every config field, the frozen hidden weights W
 * [hidden, visible] and S.  load fills *w (owned) with that W. */
ND_API nd_status nd_krotov_top_save(nd_krotov_top *t, const nd_tensor *w, nd_checkpoint *ck);
ND_API nd_status nd_krotov_top_load(const nd_checkpoint *ck, nd_krotov_top **out, nd_tensor *w);

/* f = max(h, 0)^n with h = V W^T (lebesgue_p <= 0) or h = V (sign(W)|W|^(p-1))^T
 * (lebesgue_p > 0).  v: n_rows x D row-major; W [H, D]; out is allocated
 * (owned, [n_rows, H]).  Rows go through the GEMM in chunks of up to 8192. */
ND_API nd_status nd_krotov_features(const nd_tensor *w, const float *v, int64_t n_rows, int64_t d, float n,
                             float lebesgue_p, nd_tensor *out);

/* beta = 1 / mean over rows of max_mu f[row, mu] (rows whose max is 0 are
 * skipped; 1 if every row is 0). */
ND_API float nd_krotov_top_auto_beta(const nd_tensor *features);

/* Builds c = tanh(beta f S^T) [B, C] on tp from f [B, H] (Eq. 11); S enters
 * as a parameter leaf over the model's weights and gradient buffer. */
ND_API nd_var *nd_krotov_top_forward(nd_krotov_top *t, nd_tape *tp, nd_var *f);
/* The same readout for any S node [C, H] (e.g. a gradcheck leaf). */
ND_API nd_var *nd_krotov_readout(nd_tape *tp, nd_var *f, nd_var *s, float beta);
/* Scalar loss sum |c - t|^m of c against labels (t = +-1 one-hot, Eq. 12). */
ND_API nd_var *nd_krotov_top_loss(nd_krotov_top *t, nd_tape *tp, nd_var *c, const int32_t *labels);

/* One epoch over features [n, H] with labels [n]: minibatches of `batch` rows
 * in the order of a fresh nd_rng_permutation drawn from rng; per batch: zero
 * gradients, forward, loss, backward, opt step.  opt must hold exactly
 * (nd_krotov_top_weights, nd_krotov_top_grad).  *mean_loss (may be NULL):
 * the loss summed over the epoch divided by n (per example). */
ND_API nd_status nd_krotov_top_train_epoch(nd_krotov_top *t, nd_optim *opt, const nd_tensor *features,
                                    const int32_t *labels, int64_t batch, nd_rng *rng, double *mean_loss);
/* argmax_a c_a for every row of features [n, H]. */
ND_API nd_status nd_krotov_top_predict(nd_krotov_top *t, const nd_tensor *features, int32_t *pred);
/* Fraction of rows misclassified. */
ND_API nd_status nd_krotov_top_error(nd_krotov_top *t, const nd_tensor *features, const int32_t *labels, double *error);

#ifdef __cplusplus
}
#endif
#endif
