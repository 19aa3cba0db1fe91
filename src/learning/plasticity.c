/* The local-plasticity interface (include/neurodyn/plasticity.h): input
 * checks shared by every rule, and composition. */
#include <math.h>

#include "core/internal.h"
#include "neurodyn/plasticity.h"

static const char *rname(const nd_plasticity_rule *r) { return r->name ? r->name : "(unnamed)"; }

static nd_status check(const nd_plasticity_rule *rule, const nd_plasticity_input *in, float alpha,
                       const nd_tensor *dw) {
  if (!rule) return nd__error(ND_ERR_INVALID_ARG, "plasticity: rule is NULL");
  const char *n = rname(rule);
  if (!rule->accumulate) return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': rule has no accumulate function", n);
  if (!in || !dw) return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': input or update buffer dW is NULL", n);
  if (!in->pre || !in->post) return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': pre or post activity is NULL", n);
  if (!isfinite(alpha)) return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': alpha = %g is not finite", n, alpha);
  char a[64], b[64];
  const nd_tensor *pre = in->pre, *post = in->post;
  if (pre->ndim != 2 || post->ndim != 2 || pre->shape[0] != post->shape[0] || pre->shape[0] < 1)
    return nd__error(ND_ERR_SHAPE, "plasticity '%s': pre is %s and post %s, expected [batch, n_pre] and [batch, n_post]",
                     n, nd_tensor_shape_str(pre, a, sizeof a), nd_tensor_shape_str(post, b, sizeof b));
  const int64_t batch = pre->shape[0], n_pre = pre->shape[1], n_post = post->shape[1];
  if (!nd_tensor_is_contiguous(pre) || !nd_tensor_is_contiguous(post) || !nd_tensor_is_contiguous(dw))
    return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': pre, post and dW must be contiguous", n);
  if (dw->ndim != 2 || dw->shape[0] != n_post || dw->shape[1] != n_pre)
    return nd__error(ND_ERR_SHAPE, "plasticity '%s': dW is %s, expected [n_post %lld, n_pre %lld]", n,
                     nd_tensor_shape_str(dw, a, sizeof a), (long long)n_post, (long long)n_pre);
  if (!in->w && (rule->needs & ND_PLASTICITY_NEEDS_W))
    return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': the rule reads the weights W, but input w is NULL", n);
  if (in->w && (!nd_tensor_same_shape(in->w, dw) || !nd_tensor_is_contiguous(in->w)))
    return nd__error(ND_ERR_SHAPE, "plasticity '%s': w is %s, expected contiguous %s like dW", n,
                     nd_tensor_shape_str(in->w, a, sizeof a), nd_tensor_shape_str(dw, b, sizeof b));
  if (!in->reward && (rule->needs & ND_PLASTICITY_NEEDS_REWARD))
    return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': the rule reads a reward, but input reward is NULL", n);
  if (in->reward) {
    int64_t nr = nd_tensor_numel(in->reward);
    if ((nr != batch && nr != 1) || !nd_tensor_is_contiguous(in->reward))
      return nd__error(ND_ERR_SHAPE, "plasticity '%s': reward is %s, expected [batch %lld] or one element", n,
                       nd_tensor_shape_str(in->reward, a, sizeof a), (long long)batch);
  }
  if (in->n_extra < 0 || in->n_extra > ND_PLASTICITY_MAX_EXTRA)
    return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': n_extra = %d, must be in 0..%d", n, in->n_extra,
                     ND_PLASTICITY_MAX_EXTRA);
  if (in->n_extra < rule->n_extra)
    return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': the rule reads %d extra tensors, the input has %d", n,
                     rule->n_extra, in->n_extra);
  for (int k = 0; k < in->n_extra; k++) {
    const nd_tensor *e = in->extra[k];
    if (!e) return nd__error(ND_ERR_INVALID_ARG, "plasticity '%s': extra[%d] is NULL", n, k);
    if (e->ndim < 1 || e->shape[0] != batch || !nd_tensor_is_contiguous(e))
      return nd__error(ND_ERR_SHAPE, "plasticity '%s': extra[%d] is %s, expected contiguous [batch %lld, ...]", n, k,
                       nd_tensor_shape_str(e, a, sizeof a), (long long)batch);
  }
  return ND_OK;
}

nd_status nd_plasticity_accumulate(nd_plasticity_rule *rule, const nd_plasticity_input *in, float alpha,
                                   nd_tensor *dw) {
  ND_TRY(check(rule, in, alpha, dw));
  return rule->accumulate(rule, in, alpha, dw);
}

nd_status nd_plasticity_accumulate_all(nd_plasticity_rule *const *rules, int n, const nd_plasticity_input *in,
                                       float alpha, nd_tensor *dw) {
  if (n < 0 || (n > 0 && !rules))
    return nd__error(ND_ERR_INVALID_ARG, "plasticity: %d rules given as %p", n, (const void *)rules);
  for (int k = 0; k < n; k++) ND_TRY(check(rules[k], in, alpha, dw));
  for (int k = 0; k < n; k++) ND_TRY(rules[k]->accumulate(rules[k], in, alpha, dw));
  return ND_OK;
}

void nd_plasticity_rule_reset(nd_plasticity_rule *rule, uint64_t seed) {
  if (rule && rule->reset) rule->reset(rule, seed);
}

void nd_plasticity_rule_free(nd_plasticity_rule *rule) {
  if (rule && rule->destroy) rule->destroy(rule);
}
