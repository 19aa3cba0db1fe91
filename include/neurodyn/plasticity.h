/* Local plasticity rules: one small interface that every rule implements.
 *
 * A rule reads the activity on both sides of a weight matrix over a batch,
 * optionally a reward (modulator), the weights themselves and rule-specific
 * per-sample quantities, and ADDS alpha times its update direction Delta
 * into an update buffer dW:
 *
 *   dW[n_post, n_pre] += alpha * Delta(pre [batch, n_pre], post [batch, n_post], W, reward, extra)
 *
 * Because every rule only adds, rules compose (call several on one buffer,
 * or nd_plasticity_accumulate_all) and combine with gradients in the same
 * buffer: an optimizer that steps W -= lr * g on a buffer g holding dL/dW
 * applies W += lr * eta * Delta when the rule is accumulated into g with
 * alpha = -eta.  For a plain Euler step in learning time, zero dW, accumulate
 * with alpha = step, then W += dW.  Delta sums over the batch; alpha =
 * eta / batch gives the batch mean.
 *
 * Reference rules:
 *   Hebbian  Delta = post^T pre = sum_b post_b pre_b^T                  (Hebb 1949)
 *            with a reward r [batch]: sum_b r_b post_b pre_b^T; with one
 *            reward for the batch: r post^T pre (reward-modulated Hebb)
 *   Oja      Delta = post^T pre - diag(sum_b post_b^2) W                (Oja 1982)
 *            for post = pre W^T (a linear unit y = w.x this is
 *            y (x - y w)); w converges to the unit principal eigenvector of
 *            the input covariance E[x x^T].
 *
 * A rule of one's own embeds nd_plasticity_rule as its first member:
 *
 *   typedef struct { nd_plasticity_rule base; float rp; } krotov_rule;
 *   static nd_status krotov_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha,
 *                               nd_tensor *dw) {
 *     // Krotov & Hopfield 2019, Eq. 3: Delta = R^p g^T v - diag(sum_b g o I) W
 *     // pre = v [B, D], post = g [B, H], in->w = W [H, D], in->extra[0] = I [B, H]
 *     ...
 *   }
 *   krotov_rule k = {{"krotov", ND_PLASTICITY_NEEDS_W, 1, krotov_acc, NULL}, 1.0f};
 *   nd_plasticity_accumulate(&k.base, &in, step, &dw);
 *
 * nd_plasticity_accumulate checks the input against what the rule declares
 * (shapes, W, reward, extra tensors) before calling it, so a rule's
 * accumulate may assume them.  Rules read the fields they use and ignore the
 * others (Oja ignores a reward), so one input can feed a list of rules. */
#ifndef NEURODYN_PLASTICITY_H
#define NEURODYN_PLASTICITY_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_PLASTICITY_MAX_EXTRA 4

/* What a rule may read.  Every tensor is contiguous; batch = pre->shape[0]. */
typedef struct nd_plasticity_input {
  const nd_tensor *pre;    /* [batch, n_pre] presynaptic activity (e.g. visible v) */
  const nd_tensor *post;   /* [batch, n_post] postsynaptic activity (e.g. hidden g) */
  const nd_tensor *w;      /* [n_post, n_pre] the parameter's current value, or NULL */
  const nd_tensor *reward; /* [batch] per-sample reward, or one element for the batch, or NULL */
  int n_extra;             /* extra tensors given */
  const nd_tensor *extra[ND_PLASTICITY_MAX_EXTRA]; /* rule-specific, each [batch, ...] (e.g. currents I [batch, n_post]) */
} nd_plasticity_input;

enum {
  ND_PLASTICITY_NEEDS_W = 1u << 0,      /* in->w must be given */
  ND_PLASTICITY_NEEDS_REWARD = 1u << 1, /* in->reward must be given */
};

typedef struct nd_plasticity_rule nd_plasticity_rule;

/* dw += alpha * Delta(in).  Called by nd_plasticity_accumulate after the
 * checks, with dw [n_post, n_pre]. */
typedef nd_status (*nd_plasticity_accumulate_fn)(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha,
                                                 nd_tensor *dw);

struct nd_plasticity_rule {
  const char *name;                       /* for messages */
  unsigned needs;                         /* ND_PLASTICITY_NEEDS_* flags */
  int n_extra;                            /* extra tensors the rule reads (in->extra[0..n_extra)) */
  nd_plasticity_accumulate_fn accumulate;
  void (*destroy)(nd_plasticity_rule *self); /* frees the rule (NULL: nothing to free) */
  /* Forgets temporal state (a new sequence begins: rolling means, histories)
   * and reseeds the rule's random draws from `seed` (NULL: stateless). */
  void (*reset)(nd_plasticity_rule *self, uint64_t seed);
};

/* Checks `in` and dw against the rule (ND_ERR_INVALID_ARG / ND_ERR_SHAPE
 * naming the rule, the field and the shapes; dw untouched on error), then
 * dw += alpha * Delta.  alpha must be finite; dw must not alias w. */
ND_API nd_status nd_plasticity_accumulate(nd_plasticity_rule *rule, const nd_plasticity_input *in, float alpha,
                                          nd_tensor *dw);
/* The same for n rules in order on one input and one buffer (all inputs are
 * checked first: on an error no rule has run). */
ND_API nd_status nd_plasticity_accumulate_all(nd_plasticity_rule *const *rules, int n, const nd_plasticity_input *in,
                                              float alpha, nd_tensor *dw);
/* Calls rule->reset if the rule has one; NULL is fine. */
ND_API void nd_plasticity_rule_reset(nd_plasticity_rule *rule, uint64_t seed);
/* Calls rule->destroy; NULL is fine. */
ND_API void nd_plasticity_rule_free(nd_plasticity_rule *rule);

/* The reference rules above.  The Hebbian rule keeps a scratch buffer for
 * per-sample rewards, sized on first use (and when the batch grows). */
ND_API nd_status nd_hebbian_create(nd_plasticity_rule **out);
ND_API nd_status nd_oja_create(nd_plasticity_rule **out);

/* ------------------------------------------------------------------------
 * Temporal and homeostatic rules (the SOMPNet seed, docs/somp.md; Valdez
 * 2021, "Self-organizing multi-paradigm networks", notebook in Limboid/mpnets).
 * They read the activity of one time step t in pre/post (normalised, x/alpha
 * of the producing layer) and, by this convention, in the extra tensors:
 *
 *   extra[0]  pre at t-1  [batch, n_pre]
 *   extra[1]  post at t-1 [batch, n_post]
 *   extra[2]  gain G [batch, n_post]: d post_bi / d W_ij = G_bi pre_bj
 *             (a unit post = tanh(W pre): G = 1 - post^2)
 *
 * Each rule states which extras it reads (n_extra counts from extra[0]).
 * The loss rules (mean, sparsity, VIC) return Delta = -dL/dW through the one
 * step, W held fixed elsewhere: the local gradient, not backpropagated.
 * Rules "over a vector" (intrinsic plasticity) update a [n_post, 1]
 * parameter (a bias or a noise mean): pass pre = ones [batch, 1].
 * ---------------------------------------------------------------------- */

/* STDP (seed rule 1): Delta_ij = sum_b post_t,bi pre_t-1,bj - post_t-1,bi pre_t,bj
 * (dW[post, pre]; the seed's w_ji with j the input).  With a reward (per
 * sample or one for the batch) each sample's term is scaled by (1 + r)
 * (the seed's reward-modulated STDP).  Reads extra[0], extra[1]. */
ND_API nd_status nd_stdp_create(nd_plasticity_rule **out);
/* Multi-lag STDP (upstream HEAD `SOMP`): the n_post outputs are cut into
 * n_lags consecutive slices (sizes as equal as possible, the first ones
 * larger), slice s pairing post_t with pre_{t-L_s} and post_{t-L_s} with
 * pre_t.  The rule keeps the last max(L) steps itself (reset() forgets them;
 * a lag whose past is not there yet adds nothing).  Reads no extras.
 * lags NULL: {1, 2, 4, 8, 16}. */
ND_API nd_status nd_stdp_multilag_create(int n_lags, const int *lags, nd_plasticity_rule **out);
/* Covariance decay (seed rule 2): beta-rolling means over the steps since
 * reset, M_ij <- beta M_ij + (1-beta) mean_b post_t,bi pre_t-1,bj,
 * m_pre <- beta m_pre + (1-beta) mean_b pre_t-1, m_post likewise of post_t
 * (each starts at the first step's value); sigma = M - m_post m_pre^T,
 * c = a_cd (|sigma| - 1) + 1 and Delta = (c - 1) W, the increment that makes
 * W <- c W (the seed's stated intent).  seed_sign: the seed's literal
 * Delta = (1 - c) W instead.  Reads W, extra[0]. */
ND_API nd_status nd_covariance_decay_create(double beta, double a_cd, bool seed_sign, nd_plasticity_rule **out);
/* Structural plasticity (seed rule 3): each absent synapse (W_ij == 0) grows
 * with probability p = a_sp / (n_pre n_post): Delta_ij = grow (Bernoulli draw
 * per step, from the rule's own stream, reseeded by reset); each present one
 * with |W_ij| < prune_below is pruned: Delta_ij = -W_ij (exactly zero when
 * applied with rate 1).  Reads W. */
ND_API nd_status nd_structural_create(double a_sp, double grow, double prune_below, uint64_t seed,
                                      nd_plasticity_rule **out);
/* Intrinsic plasticity (seed rule 4), over a [n_post, 1] vector (the noise
 * mean or a bias): Delta_i = sum_b (H - |post_bi|), H the target rate (seed:
 * H_IP = 0.1).  The seed writes Delta mu = eta (x - H), which raises an
 * over-active unit's input; homeostasis needs the opposite sign. */
ND_API nd_status nd_intrinsic_create(double target, nd_plasticity_rule **out);
/* L2 (seed rule 6): L = 1/2 sum W^2, Delta = -W.  Reads W. */
ND_API nd_status nd_l2_decay_create(nd_plasticity_rule **out);
/* Mean regularisation (seed rule 7): L = sum_b (sum_i post_bi - mu)^2, Delta = -dL/dW.
 * Reads extra[0..2]. */
ND_API nd_status nd_mean_reg_create(double mu, nd_plasticity_rule **out);
/* Sparsity regularisation (seed rule 7b): KL of Bernoulli(a) from
 * Bernoulli(target) per element, a = |post| clamped to [1e-4, 1 - 1e-4]:
 * L = sum a log(a/target) + (1-a) log((1-a)/(1-target)), Delta = -dL/dW
 * (the seed writes "- (1 - y) log", a sign slip).  Reads extra[0..2]. */
ND_API nd_status nd_sparsity_reg_create(double target, nd_plasticity_rule **out);
/* Temporal VIC (seed rule 5; VICReg, Bardes, Ponce & LeCun, ICLR 2022,
 * Eqs. 1-6) between post_t and post_t-1 (held fixed), n = n_post, B = batch:
 *   L = lambda/(B n) sum (post_t - post_t-1)^2
 *     + mu/n sum_i max(0, gamma - sqrt(Var_b post_t,bi + 1e-4))
 *     + nu/n sum_{i != k} C_ik^2,  C = cov_b(post_t) (1/(B-1)),
 * Delta = -dL/dW.  VICReg's defaults: lambda = mu = 25, nu = 1, gamma = 1.
 * Needs batch >= 2.  Reads extra[0..2]. */
ND_API nd_status nd_temporal_vic_create(double lambda, double mu, double nu, double gamma, nd_plasticity_rule **out);
/* The seed's rule of implication (threshold t, seed: 0.2): for W_ij != 0 and
 * pre_t-1,bj > t: +1 if |post_t,bi| < t (the weight mattered), -1 if
 * post_t,bi < -t (recycle), 0 otherwise; summed over b.  Reads W, extra[0]. */
ND_API nd_status nd_implication_create(double threshold, nd_plasticity_rule **out);
/* Hard local winner-take-all (competitive learning, Rumelhart & Zipser 1985):
 * post units in consecutive groups of `group` (0: one group); in each group
 * the unit of largest post for sample b wins, Delta_i. += (pre_b - W_i.) for
 * winners only.  Reads W. */
ND_API nd_status nd_hard_wta_create(int64_t group, nd_plasticity_rule **out);
/* Soft winner-take-all (soft competitive learning, Nowlan 1990):
 * s_b = softmax(post_b / temperature), Delta_i. = sum_b s_bi (pre_b - W_i.).  Reads W. */
ND_API nd_status nd_soft_wta_create(double temperature, nd_plasticity_rule **out);
/* Row normalisation: Delta_i. = norm W_i. / |W_i.| - W_i. (rows of zero
 * norm untouched): with rate 1 each unit's incoming weights get L2 norm
 * `norm`.  Reads W. */
ND_API nd_status nd_row_normalize_create(double norm, nd_plasticity_rule **out);
/* Clipping: Delta = clamp(W, -limit, limit) - W (a projection with rate 1).  Reads W. */
ND_API nd_status nd_clip_rule_create(double limit, nd_plasticity_rule **out);

#ifdef __cplusplus
}
#endif
#endif
