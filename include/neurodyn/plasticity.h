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
/* Calls rule->destroy; NULL is fine. */
ND_API void nd_plasticity_rule_free(nd_plasticity_rule *rule);

/* The reference rules above.  The Hebbian rule keeps a scratch buffer for
 * per-sample rewards, sized on first use (and when the batch grows). */
ND_API nd_status nd_hebbian_create(nd_plasticity_rule **out);
ND_API nd_status nd_oja_create(nd_plasticity_rule **out);

#ifdef __cplusplus
}
#endif
#endif
