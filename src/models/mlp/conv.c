/* Small conv nets in front of the MLP's dense layers (include/neurodyn/mlp.h)
 * for BP, FA and DFA.  The image [B, s*s] is read as [B, 1, s, s]; conv layer
 * j computes h_{j+1} = act(conv2d(h_j, K_j) + c_j) with padding k/2; the last
 * maps are flattened for dense layer 0.
 *   FA  (Lillicrap et al. 2016, Nat. Commun. 7:13276; for conv layers the
 *       feedback is a fixed random kernel shaped like K_j, as Nokland 2016's
 *       conv experiments): the error below conv layer j >= 1 goes through
 *       B_j.  On the tape: y = conv(hd, K) + (conv(h, B) - conv(hd, B)), hd
 *       the detached input; the bracket is exactly zero (the same inputs),
 *       so y is BP's value, dK comes from the first term and dh = the
 *       transposed convolution of dy with B from the second.
 *   DFA (Nokland 2016, Eq. 3): every conv layer's input detached and e D_j
 *       sent to its (flattened) activity by nd_credit_dfa_output. */
#include <math.h>

#include "core/internal.h"
#include "internal.h"

nd_status nd__mlp_conv_check(const nd_mlp_config *c) {
  if (c->n_conv == 0) return ND_OK;
  if (c->n_conv < 0 || c->n_conv > ND_MLP_MAX_CONV)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: n_conv = %d, need 0..%d", c->n_conv, ND_MLP_MAX_CONV);
  if (c->method != ND_CREDIT_BP && c->method != ND_CREDIT_FA && c->method != ND_CREDIT_DFA)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: method = %s takes no conv layers here; use bp, fa or dfa",
                     nd_credit_method_name(c->method) ? nd_credit_method_name(c->method) : "?");
  int64_t s = (int64_t)llround(sqrt((double)c->sizes[0]));
  if (s * s != c->sizes[0])
    return nd__error(ND_ERR_INVALID_ARG, "mlp: sizes = %lld inputs, not a square image (conv layers read one square "
                     "channel)", (long long)c->sizes[0]);
  if (c->conv_kernel < 1 || c->conv_kernel > 15)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: conv_kernel = %d, need 1..15", c->conv_kernel);
  if (c->conv_stride < 1 || c->conv_stride > 4)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: conv_stride = %d, need 1..4", c->conv_stride);
  for (int j = 0; j < c->n_conv; j++) {
    if (c->conv_channels[j] < 1 || c->conv_channels[j] > 4096)
      return nd__error(ND_ERR_INVALID_ARG, "mlp: conv = %lld channels in layer %d, need 1..4096",
                       (long long)c->conv_channels[j], j);
    s = (s + 2 * (c->conv_kernel / 2) - c->conv_kernel) / c->conv_stride + 1;
    if (s < 1)
      return nd__error(ND_ERR_INVALID_ARG, "mlp: conv_kernel = %d, conv_stride = %d leave no map after conv layer %d",
                       c->conv_kernel, c->conv_stride, j);
  }
  if (c->method == ND_CREDIT_DFA && c->n_conv + c->n_sizes - 2 > ND_CUSTOM_MAX_INPUTS - 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: method = dfa takes at most %d hidden layers, conv layers included",
                     ND_CUSTOM_MAX_INPUTS - 1);
  return ND_OK;
}

/* The conv layers' geometry, kernels and biases (Kaiming uniform over fan_in
 * = C_in k^2, as torch.nn.Conv2d), and m->flat. */
nd_status nd__mlp_conv_params(nd_mlp *m, nd_rng *rng) {
  const nd_mlp_config *c = &m->c;
  int64_t s = (int64_t)llround(sqrt((double)c->sizes[0])), cin = 1, k = c->conv_kernel;
  m->flat = c->sizes[0];
  for (int j = 0; j < c->n_conv; j++) {
    m->conv_side[j] = s;
    float bound = (float)(1.0 / sqrt((double)(cin * k * k)));
    ND_TRY(nd__mlp_add_param(m, 4, ND_SHAPE(c->conv_channels[j], cin, k, k), bound, rng, "conv.%d.weight", j,
                          &m->conv_w_index[j]));
    m->conv_b_index[j] = -1;
    if (c->bias) ND_TRY(nd__mlp_add_param(m, 1, ND_SHAPE(c->conv_channels[j]), bound, rng, "conv.%d.bias", j, &m->conv_b_index[j]));
    s = (s + 2 * (k / 2) - k) / c->conv_stride + 1;
    cin = c->conv_channels[j];
    m->flat = cin * s * s;
  }
  m->conv_side[c->n_conv] = s;
  return ND_OK;
}

nd_status nd__mlp_conv_feedback(nd_mlp *m, nd_rng *rng) {
  const nd_mlp_config *c = &m->c;
  int64_t classes = c->sizes[c->n_sizes - 1];
  for (int j = 0; j < c->n_conv; j++) {
    const nd_tensor *K = &m->params[m->conv_w_index[j]];
    if (c->method == ND_CREDIT_FA && j >= 1) { /* a fixed random kernel with K_j's shape and scale */
      ND_TRY(nd_tensor_alloc(&m->conv_feedback[j], 4, K->shape));
      float bound = (float)(1.0 / sqrt((double)(K->shape[1] * K->shape[2] * K->shape[3])));
      nd_rng_uniform(rng, m->conv_feedback[j].data, nd_tensor_numel(K), -bound, bound);
    }
    if (c->method == ND_CREDIT_DFA) { /* D_j ~ U(+-1/sqrt(n_j)), n_j = C_j P_j Q_j */
      int64_t n = c->conv_channels[j] * m->conv_side[j + 1] * m->conv_side[j + 1];
      ND_TRY(nd_tensor_alloc(&m->conv_feedback[j], 2, ND_SHAPE(classes, n)));
      float bound = (float)(1.0 / sqrt((double)n));
      nd_rng_uniform(rng, m->conv_feedback[j].data, classes * n, -bound, bound);
    }
  }
  return ND_OK;
}

nd_var *nd__mlp_conv_front(nd_mlp *m, nd_tape *tp, nd_var *x, nd_credit_method method, nd_var **hidden,
                           const nd_tensor **D, int *n_hidden) {
  if (!x) return NULL;
  const nd_mlp_config *c = &m->c;
  int64_t rows = nd_var_value(x)->shape[0], s0 = m->conv_side[0], k = c->conv_kernel, p = k / 2, st = c->conv_stride;
  nd_var *h = nd_ad_reshape(tp, x, 4, ND_SHAPE(rows, 1, s0, s0));
  for (int j = 0; j < c->n_conv; j++) {
    nd_var *w = nd_tape_param(tp, &m->params[m->conv_w_index[j]], &m->grads[m->conv_w_index[j]]);
    nd_var *b = m->conv_b_index[j] >= 0 ? nd_tape_param(tp, &m->params[m->conv_b_index[j]], &m->grads[m->conv_b_index[j]])
                                        : NULL;
    if (m->hooking) nd__mlp_hook_param(m, tp, w, m->conv_w_index[j]), nd__mlp_hook_param(m, tp, b, m->conv_b_index[j]);
    nd_var *a;
    if (method == ND_CREDIT_FA && j >= 1) {
      nd_var *hd = nd_credit_detach(tp, h), *fb = nd_tape_constant(tp, &m->conv_feedback[j]);
      nd_var *zero = nd_ad_sub(tp, nd_ad_conv2d(tp, h, fb, NULL, st, st, p, p), nd_ad_conv2d(tp, hd, fb, NULL, st, st, p, p));
      a = nd_ad_add(tp, nd_ad_conv2d(tp, hd, w, b, st, st, p, p), zero);
    } else {
      a = nd_ad_conv2d(tp, method == ND_CREDIT_DFA && j >= 1 ? nd_credit_detach(tp, h) : h, w, b, st, st, p, p);
    }
    h = nd__mlp_activate(tp, c, a);
    if (method == ND_CREDIT_DFA && h) {
      hidden[*n_hidden] = nd_ad_reshape(tp, h, 2, ND_SHAPE(rows, -1));
      D[(*n_hidden)++] = &m->conv_feedback[j];
    }
  }
  return nd_ad_reshape(tp, h, 2, ND_SHAPE(rows, m->flat));
}
