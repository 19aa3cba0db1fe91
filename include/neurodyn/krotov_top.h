/* Supervised top layer of the Krotov-Hopfield network (Krotov & Hopfield,
 * PNAS 116(16):7723, 2019, Eq. 11-12), trained on a frozen hidden layer.
 *
 *   h = V W^T                 V [N, D] inputs, W [H, D] frozen hidden weights
 *   f = max(h, 0)^n           rectified power units (Eq. 11), f [N, H]
 *   c = tanh(beta f S^T)      S [C, H] trained, c [N, C] (Eq. 11)
 *   loss = sum_b sum_a |c_ba - t_ba|^m,  t = +1 for the true class, -1 else (Eq. 12)
 *   prediction = argmax_a c_a
 *
 * h uses the plain dot product sum_i W_mi v_i (the form the independent
 * ports use; methods.md section 1 marks the paper's choice unverified).
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
#ifndef NEURODYN_KROTOV_TOP_H
#define NEURODYN_KROTOV_TOP_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

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
} nd_krotov_top_config;

/* Paper values n = 4.5, m = 6; beta = 1 (set it, e.g. with
 * nd_krotov_top_auto_beta); init_std = 1e-2 ; seed 0. */
ND_API nd_krotov_top_config nd_krotov_top_defaults(int64_t hidden, int64_t classes);

typedef struct nd_krotov_top nd_krotov_top;

ND_API nd_status nd_krotov_top_create(const nd_krotov_top_config *c, nd_krotov_top **out);
ND_API void nd_krotov_top_free(nd_krotov_top *t);
ND_API const nd_krotov_top_config *nd_krotov_top_config_of(const nd_krotov_top *t);
/* S [classes, hidden] and its gradient buffer (for nd_optim_create). */
ND_API nd_tensor *nd_krotov_top_weights(nd_krotov_top *t);
ND_API nd_tensor *nd_krotov_top_grad(nd_krotov_top *t);
/* Replaces S by a copy of s (same shape required). */
ND_API nd_status nd_krotov_top_set_weights(nd_krotov_top *t, const nd_tensor *s);

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
