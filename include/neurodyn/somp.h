/* SOMPNet: self-organising multi-paradigm cells and cyclic networks of them
 * (docs/somp.md; the design notebook of J. Valdez 2021,
 * "self_organizing_multiparadigm_networks.ipynb", Limboid/mpnets).
 *
 * A cell c with named inputs k (external sequences, or other cells' previous
 * outputs, its own included) steps in time t as
 *
 *   Z_t = P(sum_k X^k_t W^k) + b + zeta_t,   zeta_t ~ N(mu, noise_std^2)     (notebook "Fast dynamics")
 *   dense:   Y_t = alpha_d tanh(Z_t / alpha_d)
 *   sparse:  B_t = a_decay B_{t-1} + Z_t - a_discharge |Y_{t-1}|
 *            Y_t = alpha_s Theta(B_t / alpha_s)                     (ND_SOMP_BUCKET, default)
 *            Y_t = alpha_s Theta(Z_t / alpha_s)                     (ND_SOMP_ON_Z, the notebook's formula)
 *            Y_t = sign(B_t) max(|B_t| - threshold, 0)              (ND_SOMP_SOFT, upstream leaky_spiking_bucket.py)
 *   Theta(x) = +1 (x >= 1), 0 (|x| < 1), -1 (x <= -1); its gradient is
 *   taken as that of the identity (straight-through), for both ternary forms.
 *
 * P pools the input terms by sum (the notebook, default) or mean (upstream
 * code).  W^k is [units, n_k] (the plasticity interface's [n_post, n_pre]).
 * X^k_t of a cell source is that cell's Y_{t-1} (Y_{-1} = 0, B_{-1} = 0), so
 * every cell of a network reads the others' previous outputs and any graph,
 * cyclic or not, steps the same way.  Sequences are [batch, T, n].
 *
 * Inputs grow: an external input a cell has not seen gets its weight matrix
 * on first sight (keys are never deleted); every input is optional in a call
 * (those not given add nothing and, under mean pooling, are not counted).
 *
 * Hyperparameters resolve as defaults < cell < call < explicit (the seed's
 * precedence): each level's fields that are set (not NaN) win over the
 * levels below.
 *
 * Learning (nd_somp_net_learn): local rules (include/neurodyn/plasticity.h)
 * attached to a cell run on every step t >= 1 of a forward pass, on the
 * normalised activities x / alpha (the seed's hats); with the BPTT gradient
 * of a supervised loss (nd_somp_net_backward) they combine as
 *   w <- w - lr (eta_SL dL/dw - sum_r eta_r Delta_r)
 * with Delta_r scaled by (1 + reward) for the reward-modulated rules.
 * Immediate mode adds lr eta_r Delta_r to w after each step; accumulated mode
 * sums over the sequence and applies with the gradient (nd_somp_net_step). */
#ifndef NEURODYN_SOMP_H
#define NEURODYN_SOMP_H

#include "neurodyn/checkpoint.h"
#include "neurodyn/core.h"
#include "neurodyn/plasticity.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_somp_mode { ND_SOMP_DENSE = 0, ND_SOMP_SPARSE = 1 } nd_somp_mode;
typedef enum nd_somp_threshold { ND_SOMP_BUCKET = 0, ND_SOMP_ON_Z = 1, ND_SOMP_SOFT = 2 } nd_somp_threshold;
typedef enum nd_somp_pool { ND_SOMP_SUM = 0, ND_SOMP_MEAN = 1 } nd_somp_pool;

/* NaN: not set at this level.  Defaults (upstream core/somp_cell.py):
 * alpha_dense 1, alpha_sparse 1, a_decay 0.9, a_discharge 0.1,
 * noise_mean 0, noise_std 0.1, threshold 1 (ND_SOMP_SOFT only). */
typedef struct nd_somp_hparams {
  double alpha_dense, alpha_sparse, a_decay, a_discharge, noise_mean, noise_std, threshold;
} nd_somp_hparams;

ND_API nd_somp_hparams nd_somp_hparams_unset(void);
ND_API nd_somp_hparams nd_somp_hparams_defaults(void);
/* defaults < cell < call < explicit; any of the three may be NULL.  Checks
 * the result (alpha > 0, 0 <= a_decay < 1, a_discharge >= 0, noise_std >= 0,
 * threshold >= 0, all finite), naming the field. */
ND_API nd_status nd_somp_hparams_resolve(const nd_somp_hparams *cell, const nd_somp_hparams *call,
                                         const nd_somp_hparams *explicit_hp, nd_somp_hparams *out);

#define ND_SOMP_NAME_MAX 48

typedef struct nd_somp_cell_config {
  char name[ND_SOMP_NAME_MAX]; /* unique in the network */
  int64_t units;
  nd_somp_mode mode;
  nd_somp_threshold threshold; /* sparse cells */
  nd_somp_pool pool;
  nd_somp_hparams hp;          /* cell level (NaN fields: the defaults) */
  double init_scale;           /* W^k ~ U(-s, s) / sqrt(n_k) (default 1); b = 0, mu = noise_mean */
} nd_somp_cell_config;

ND_API nd_somp_cell_config nd_somp_cell_defaults(const char *name, int64_t units);

typedef struct nd_somp_net nd_somp_net;

/* A network of n_cells cells (1..64) and no inputs yet; seed drives the
 * initial weights, the noise and the rules' random draws. */
ND_API nd_status nd_somp_net_create(int n_cells, const nd_somp_cell_config *cells, uint64_t seed, nd_somp_net **out);
ND_API void nd_somp_net_free(nd_somp_net *net);
ND_API int nd_somp_net_cells(const nd_somp_net *net);
ND_API const nd_somp_cell_config *nd_somp_net_cell_config(const nd_somp_net *net, int cell);
/* Index of the cell called name, or -1. */
ND_API int nd_somp_net_find(const nd_somp_net *net, const char *name);

/* Adds input `source` to `cell` (the seed's build): the name of a cell of
 * the network (its previous output; n_in ignored, 0 fine) or an external
 * input of n_in features.  Present already with that size: nothing happens;
 * another size: ND_ERR_SHAPE. */
ND_API nd_status nd_somp_net_connect(nd_somp_net *net, int cell, const char *source, int64_t n_in);
/* The inputs a cell has, in the order they were added. */
ND_API int nd_somp_net_num_inputs(const nd_somp_net *net, int cell);
ND_API const char *nd_somp_net_input_name(const nd_somp_net *net, int cell, int k);
/* W^k [units, n_k] (a view of the network's own weights), b and mu [units]. */
ND_API nd_status nd_somp_net_weight(nd_somp_net *net, int cell, const char *input, nd_tensor *w);
ND_API nd_status nd_somp_net_bias(nd_somp_net *net, int cell, nd_tensor *b);
ND_API nd_status nd_somp_net_noise_mean(nd_somp_net *net, int cell, nd_tensor *mu);
/* dL/dW^k and dL/db accumulated by nd_somp_net_backward (views). */
ND_API nd_status nd_somp_net_weight_grad(nd_somp_net *net, int cell, const char *input, nd_tensor *g);
ND_API nd_status nd_somp_net_bias_grad(nd_somp_net *net, int cell, nd_tensor *g);

/* One external input sequence for one cell.  alpha: the producing layer's
 * scale for the rules' x / alpha (0 means 1). */
typedef struct nd_somp_input {
  const char *name;
  int cell;
  const nd_tensor *x; /* [batch, T, n] */
  double alpha;
} nd_somp_input;

#define ND_SOMP_MAX_INPUTS 32

/* Runs the network over a batch of sequences: n inputs (all the same batch
 * and T >= 1; an unseen name grows that cell's weights).  call and
 * explicit_hp (NULL: none) override the cells' hyperparameters for this call
 * (a noise_mean given there replaces the learned mu).  With learning on
 * (nd_somp_net_learn) the rules run on every step t >= 1.  Outputs, states
 * and everything BPTT needs stay in the network until the next forward. */
ND_API nd_status nd_somp_net_forward(nd_somp_net *net, int n, const nd_somp_input *in, const nd_somp_hparams *call,
                                     const nd_somp_hparams *explicit_hp);
/* Y of a cell from the last forward, [batch, T, units] (copied). */
ND_API nd_status nd_somp_net_output(const nd_somp_net *net, int cell, nd_tensor *y);
/* Y_t of a cell at step t as a [batch, units] view (valid until the next forward). */
ND_API nd_status nd_somp_net_output_step(nd_somp_net *net, int cell, int64_t t, nd_tensor *y);

/* BPTT of the last forward: dy[c] = dL/dY of cell c [batch, T, units] or
 * NULL; accumulates dL/dW, dL/db (zero them with nd_somp_net_zero_grad) and,
 * for dx[i] != NULL, writes dL/dX of the forward's input i [batch, T, n].
 * Through the thresholds: straight-through (ternary) or the soft
 * threshold's derivative.  In immediate mode the weights used are the
 * updated ones. */
ND_API nd_status nd_somp_net_backward(nd_somp_net *net, const nd_tensor *const *dy, nd_tensor *const *dx);
ND_API void nd_somp_net_zero_grad(nd_somp_net *net);

/* ------------------------------------------------------------ learning */
typedef enum nd_somp_rule_kind {
  ND_SOMP_RULE_STDP = 0, ND_SOMP_RULE_STDP_MULTILAG, ND_SOMP_RULE_COVARIANCE_DECAY, ND_SOMP_RULE_STRUCTURAL,
  ND_SOMP_RULE_INTRINSIC, ND_SOMP_RULE_L2, ND_SOMP_RULE_MEAN_REG, ND_SOMP_RULE_SPARSITY_REG,
  ND_SOMP_RULE_TEMPORAL_VIC, ND_SOMP_RULE_IMPLICATION, ND_SOMP_RULE_HARD_WTA, ND_SOMP_RULE_SOFT_WTA,
  ND_SOMP_RULE_OJA, ND_SOMP_RULE_ROW_NORMALIZE, ND_SOMP_RULE_CLIP, ND_SOMP_RULE_HEBBIAN, ND_SOMP_RULE_COUNT
} nd_somp_rule_kind;

/* "stdp", "stdp_multilag", ...; NULL for a bad kind / -1 for an unknown name. */
ND_API const char *nd_somp_rule_name(nd_somp_rule_kind k);
ND_API int nd_somp_rule_kind_of(const char *name);

typedef struct nd_somp_rule_config {
  nd_somp_rule_kind kind;
  int cell;
  char input[ND_SOMP_NAME_MAX]; /* "" : every input of the cell (also those grown later) */
  double eta;                   /* rate eta_r */
  bool reward;                  /* scale by (1 + reward) */
  /* rule parameters, NaN: the default of the rule (docs/somp.md):
   * stdp_multilag p[0] = number of lags of {1,2,4,8,16} (5);
   * covariance_decay beta 0.9, a_cd 1, p[2] seed sign 0;
   * structural a_sp 1, grow 0.01, prune_below 0.001; intrinsic target 0.1;
   * mean_reg mu 0; sparsity_reg target 0.1; temporal_vic 25, 25, 1, 1;
   * implication threshold 0.2; hard_wta group 0; soft_wta temperature 1;
   * row_normalize norm 1; clip limit 1. */
  double p[4];
} nd_somp_rule_config;

ND_API nd_somp_rule_config nd_somp_rule_defaults(nd_somp_rule_kind kind, int cell, double eta);
/* Attaches a rule; intrinsic plasticity acts on the cell's noise mean mu,
 * l2 also on the bias, every other rule on the weights. */
ND_API nd_status nd_somp_net_add_rule(nd_somp_net *net, const nd_somp_rule_config *rc);
ND_API int nd_somp_net_num_rules(const nd_somp_net *net);

typedef enum nd_somp_apply { ND_SOMP_ACCUMULATE = 0, ND_SOMP_IMMEDIATE = 1 } nd_somp_apply;
typedef enum nd_somp_optimizer { ND_SOMP_SGD = 0, ND_SOMP_ADAM = 1 } nd_somp_optimizer;

typedef struct nd_somp_learn {
  bool plastic;          /* run the rules in forward */
  nd_somp_apply apply;
  double lr, eta_sl;     /* default 1e-3, 1 */
  nd_somp_optimizer optimizer;
  double beta1, beta2, eps; /* Adam (0.9, 0.999, 1e-8) */
  double clip;           /* clip the combined update's global norm (0: off) */
  const nd_tensor *reward; /* [batch] or one element, or NULL (0) */
} nd_somp_learn;

ND_API nd_somp_learn nd_somp_learn_defaults(void);
/* Sets the learning options the next forward / step use (reward is read then). */
ND_API nd_status nd_somp_net_learn(nd_somp_net *net, const nd_somp_learn *l);
/* One update of every parameter along eta_SL grad - sum_r eta_r Delta_r
 * (accumulated mode: the rules' sums over the last forward, which restarts
 * them; immediate mode: the gradient only), then zeroes both. */
ND_API nd_status nd_somp_net_step(nd_somp_net *net);

/* Per-rule norms of the last forward's summed updates |sum_t eta_r Delta_r|
 * (Frobenius over every matrix the rule touched), activity rates (mean
 * |Y / alpha|) and sparsity (fraction of exact zeros) of a cell. */
ND_API double nd_somp_net_rule_norm(const nd_somp_net *net, int rule);
ND_API const char *nd_somp_net_rule_label(const nd_somp_net *net, int rule);
ND_API nd_status nd_somp_net_activity(const nd_somp_net *net, int cell, double *rate, double *sparsity);

/* Checkpoint: "model": "somp", the cells, their inputs (grown ones too,
 * names and sizes), weights, biases, noise means, Adam moments, the step and
 * sequence counters.  Rules are not saved (re-attach them; they keep no
 * state across forwards). */
ND_API nd_status nd_somp_net_save(const nd_somp_net *net, nd_checkpoint *ck);
ND_API nd_status nd_somp_net_load(const nd_checkpoint *ck, nd_somp_net **out);
/* Forward passes run so far (each draws its noise and rule seeds from it). */
ND_API int64_t nd_somp_net_sequences(const nd_somp_net *net);
/* Sets that counter: nd_somp_net_set_sequences(net, nd_somp_net_sequences(net) - 1)
 * before a forward on the same inputs replays the last pass with the same
 * noise (e.g. to apply reward-modulated rules once the reward of the pass is
 * known).  seq >= 0. */
ND_API nd_status nd_somp_net_set_sequences(nd_somp_net *net, int64_t seq);

/* ------------------------------------------------- convolutional role */
/* A SOMP cell as a 1-D or 2-D convolution layer (the seed's list of roles):
 * every output position becomes one sequence of the batch whose input is
 * its receptive field, so one cell (shared weights, its own state per
 * position) runs at every position.  Maps are channels-last sequences
 * x [B, T, H, W, C] (1-D: H = 1); kernel kh x kw, stride, zero padding;
 * Ho = (H + 2 pad_h - kh) / stride_h + 1 (likewise Wo).
 *   nd_somp_im2col  x -> cols [B Ho Wo, T, kh kw C] (rows ordered b, i, j;
 *                   features ordered di, dj, c), the cell's input
 *   nd_somp_col2im  the adjoint: cols -> x, overlapping fields summed
 *                   (dL/dx from the cell's dL/dX)
 *   nd_somp_cols_to_map  the cell's output [B Ho Wo, T, U] -> [B, T, Ho, Wo, U] */
typedef struct nd_somp_conv {
  int64_t kh, kw, stride_h, stride_w, pad_h, pad_w;
} nd_somp_conv;

ND_API nd_status nd_somp_im2col(const nd_somp_conv *cv, const nd_tensor *x, nd_tensor *cols);
ND_API nd_status nd_somp_col2im(const nd_somp_conv *cv, const nd_tensor *cols, nd_tensor *x);
ND_API nd_status nd_somp_cols_to_map(const nd_tensor *y, int64_t B, int64_t Ho, int64_t Wo, nd_tensor *map);

/* --------------------------------------------------- attention role */
/* Two cells of a network as the query and key projections of a scaled
 * dot-product attention layer over the sequence positions (the seed's list
 * of roles; Vaswani et al. 2017, Eq. 1): after nd_somp_net_forward,
 *   S_b = Y^q_b (Y^k_b)^T / sqrt(d),  A_b = softmax over j (causal: j <= i),
 *   out_b = A_b V_b      (V [B, T, n_v]: the values, given by the caller)
 * with Y^q, Y^k [B, T, d] the cells' outputs (both cells d units; each may
 * read the tokens, itself, the other cells).  Backward returns dL/dV and the
 * cells' dL/dY (dq, dk [B, T, d]) to pass to nd_somp_net_backward as dy. */
typedef struct nd_somp_attention nd_somp_attention;

ND_API nd_status nd_somp_attention_create(nd_somp_net *net, int q_cell, int k_cell, bool causal, nd_somp_attention **out);
ND_API void nd_somp_attention_free(nd_somp_attention *a);
/* out [B, T, n_v] from the network's last forward and the values v. */
ND_API nd_status nd_somp_attention_forward(nd_somp_attention *a, const nd_tensor *v, nd_tensor *out);
/* The attention weights A of the last forward, [B, T, T] (copied). */
ND_API nd_status nd_somp_attention_weights(const nd_somp_attention *a, nd_tensor *attn);
/* dq, dk (overwritten) and dv (may be NULL; overwritten) from dL/dout. */
ND_API nd_status nd_somp_attention_backward(nd_somp_attention *a, const nd_tensor *dout, nd_tensor *dq, nd_tensor *dk,
                                            nd_tensor *dv);

/* ------------------------------------------------------------- readout */
/* A linear readout of one cell at every step, o_t = Y_t V^T + c (V
 * [outputs, units], zero-initialised), trained by its gradient with the
 * network's optimizer settings.  Loss over the steps t >= t_from:
 *   ND_SOMP_LOSS_MSE  mean over scored entries of (o - target)^2, target [B, T, outputs]
 *   ND_SOMP_LOSS_CE   mean softmax cross-entropy against labels [B, T] (-1: not scored)
 * *acc (may be NULL): CE the fraction of scored steps whose argmax is the
 * label; MSE NaN. */
typedef enum nd_somp_loss { ND_SOMP_LOSS_MSE = 0, ND_SOMP_LOSS_CE = 1 } nd_somp_loss;
typedef struct nd_somp_readout nd_somp_readout;

ND_API nd_status nd_somp_readout_create(int64_t units, int64_t outputs, nd_somp_readout **out);
ND_API void nd_somp_readout_free(nd_somp_readout *r);
/* V [outputs, units] and c [outputs] (views). */
ND_API nd_status nd_somp_readout_params(nd_somp_readout *r, nd_tensor *v, nd_tensor *c);
/* Loss of the last forward of `cell`; with dy != NULL ([B, T, units]) also
 * dL/dY (overwritten) and the readout's gradient (accumulated).  pred
 * (may be NULL): the outputs o [B, T, outputs]. */
ND_API nd_status nd_somp_readout_loss(nd_somp_readout *r, const nd_somp_net *net, int cell, nd_somp_loss loss,
                                      const float *target, const int32_t *labels, int64_t t_from, nd_tensor *dy,
                                      float *pred, double *loss_out, double *acc);
/* One update of V and c along their gradient (lr, optimizer of `l`), then zeroes it. */
ND_API nd_status nd_somp_readout_step(nd_somp_readout *r, const nd_somp_learn *l);
ND_API nd_status nd_somp_readout_save(const nd_somp_readout *r, const char *prefix, nd_checkpoint *ck);
ND_API nd_status nd_somp_readout_load(nd_somp_readout *r, const char *prefix, const nd_checkpoint *ck);

#ifdef __cplusplus
}
#endif
#endif
