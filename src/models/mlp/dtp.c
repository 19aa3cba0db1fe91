/* Difference target propagation of the MLP (Lee, Zhang, Fischer & Bengio,
 * ECML-PKDD 2015, arXiv 1412.7525, Sec. 3; ops in src/learning/dtp.c).  With
 * h_0 = x and h_{l+1} = f_l(h_l) = act(h_l W_l^T + b_l):
 *
 *   hhat_{L-1} = h_{L-1} - eta dl/dh_{L-1}            (per-example gradient of the NLL)
 *   hhat_l     = h_l + g_l(hhat_{l+1}) - g_l(h_{l+1}),  l = L-2 .. 1,  g_l(h) = act(h V_l^T + c_l)
 *   layer l < L-1:  L_l = (1/B) sum_b ||f_l(h_l) - hhat_{l+1}||^2   (h_l and the target held constant)
 *   output layer:   the NLL of softmax(h_{L-1} W^T + b) (h_{L-1} held constant)
 *   inverse l:      L_l^inv = (1/B) sum_b ||g_l(f_l(h_l + e)) - (h_l + e)||^2,  e ~ N(0, sigma^2)
 *
 * (squared norms summed over units and averaged over the batch, as the
 * paper's code).  All losses go into one backward; every layer's input is a
 * constant, so each gradient stays inside its layer.  The inverses are
 * trained on the same minibatch as the forward weights, with the same
 * optimizer, rather than in a separate pass per epoch as the paper's code. */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "internal.h"
#include "neurodyn/kernels.h"

/* act(in V_l^T + c_l) with the inverse's parameters as leaves (param true)
 * or constants. */
static nd_var *inverse(nd_mlp *m, nd_tape *tp, int l, nd_var *in, bool param) {
  nd_tensor *V = &m->params[m->inv_w_index[l]], *c = &m->params[m->inv_b_index[l]];
  nd_var *v = param ? nd_tape_param(tp, V, &m->grads[m->inv_w_index[l]]) : nd_tape_constant(tp, V);
  nd_var *cv = param ? nd_tape_param(tp, c, &m->grads[m->inv_b_index[l]]) : nd_tape_constant(tp, c);
  return nd__mlp_activate(tp, &m->c, nd_ad_linear(tp, in, v, cv));
}

/* Forward with detached layer inputs: h[1..L-1], z; then the targets
 * hat[1..L-1] (tape arena). */
static nd_status forward_targets(nd_mlp *m, nd_tape *tp, const float *x, const int32_t *labels, int64_t rows,
                                 nd_var **h, nd_var **z, nd_tensor **hat) {
  const int L = m->n_layers;
  int64_t classes = m->c.sizes[L];
  nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(rows, m->c.sizes[0])); /* read only */
  h[0] = nd_tape_constant(tp, &xb);
  for (int l = 0; l < L; l++) {
    nd_var *w, *b;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    nd_var *a = nd_ad_linear(tp, nd_credit_detach(tp, h[l]), w, b);
    if (l + 1 < L) h[l + 1] = nd__mlp_activate(tp, &m->c, a);
    else *z = a;
  }
  ND_TRY(nd_tape_status(tp));
  /* top: e = softmax(z) - onehot(y) per example, dl/dh = e W_{L-1} */
  int64_t n = m->c.sizes[L - 1];
  nd_tensor *e = nd__mlp_scratch(tp, rows, classes), *g = nd__mlp_scratch(tp, rows, n);
  hat[L - 1] = nd__mlp_scratch(tp, rows, n);
  if (!e || !g || !hat[L - 1]) return nd_tape_status(tp);
  const float *zv = nd_var_value(*z)->data;
  for (int64_t r = 0; r < rows; r++) {
    if (labels[r] < 0 || labels[r] >= classes)
      return nd__error(ND_ERR_INVALID_ARG, "mlp dtp: label %d of row %lld is outside 0..%lld", (int)labels[r],
                       (long long)r, (long long)classes - 1);
    float mx = zv[r * classes], sum = 0;
    for (int64_t k = 1; k < classes; k++) mx = zv[r * classes + k] > mx ? zv[r * classes + k] : mx;
    for (int64_t k = 0; k < classes; k++) sum += e->data[r * classes + k] = expf(zv[r * classes + k] - mx);
    for (int64_t k = 0; k < classes; k++) e->data[r * classes + k] = e->data[r * classes + k] / sum - (k == labels[r]);
  }
  const nd_tensor *W = &m->params[m->w_index[L - 1]];
  nd_sgemm(false, false, rows, n, classes, 1.0f, e->data, classes, W->data, n, 0.0f, g->data, n);
  ND_TRY(nd_credit_dtp_top_target(nd_var_value(h[L - 1])->data, g->data, rows * n, m->c.dtp_target_lr, hat[L - 1]->data));
  /* below: the difference correction through the inverses */
  for (int l = L - 2; l >= 1; l--) {
    nd_var *ghat = inverse(m, tp, l, nd_tape_constant(tp, hat[l + 1]), false);
    nd_var *gh = inverse(m, tp, l, nd_credit_detach(tp, h[l + 1]), false);
    hat[l] = nd__mlp_scratch(tp, rows, m->c.sizes[l]);
    ND_TRY(nd_tape_status(tp));
    ND_TRY(nd_credit_dtp_target(nd_var_value(h[l])->data, nd_var_value(ghat)->data, nd_var_value(gh)->data,
                                rows * m->c.sizes[l], hat[l]->data));
  }
  return ND_OK;
}

nd_status nd__mlp_dtp_targets(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, float *const *targets) {
  nd_tape *tp = m->tape;
  bool was = nd_tape_is_recording(tp);
  nd_tape_set_recording(tp, false);
  nd_tape_reset(tp);
  nd_var *h[ND_MLP_MAX_LAYERS + 1], *z = NULL;
  nd_tensor *hat[ND_MLP_MAX_LAYERS + 1] = {0};
  nd_status s = forward_targets(m, tp, x, labels, rows, h, &z, hat);
  for (int l = 1; s == ND_OK && l < m->n_layers; l++)
    if (targets[l]) memcpy(targets[l], hat[l]->data, (size_t)nd_tensor_numel(hat[l]) * sizeof(float));
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, was);
  return s;
}

/* The caller has reset the tape and set it recording. */
nd_status nd__mlp_dtp_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss) {
  nd_tape *tp = m->tape;
  const int L = m->n_layers;
  nd_var *h[ND_MLP_MAX_LAYERS + 1], *z = NULL;
  nd_tensor *hat[ND_MLP_MAX_LAYERS + 1] = {0};
  ND_TRY(forward_targets(m, tp, x, labels, rows, h, &z, hat));
  nd_var *ce = nd_mlp_loss(m, tp, z, labels), *total = ce;
  for (int l = 0; l + 1 < L; l++) { /* L_l = (1/B) sum ||h_{l+1} - hhat_{l+1}||^2 */
    nd_var *d = nd_ad_mse(tp, h[l + 1], nd_tape_constant(tp, hat[l + 1]));
    total = nd_ad_add(tp, total, nd_ad_scale(tp, d, (float)m->c.sizes[l + 1]));
  }
  nd_rng local, *rng = m->neg_rng;
  if (!rng) { /* outside an epoch (angles, tests): a fixed stream */
    nd_rng_init(&local, m->c.seed ^ 0x64747075ull);
    rng = &local;
  }
  for (int l = 1, off = 0; l + 1 < L; off += (int)m->c.sizes[l], l++) { /* L_l^inv on h_l + e */
    int64_t n = m->c.sizes[l];
    nd_tensor *hn = nd__mlp_scratch(tp, rows, n);
    if (!hn) return nd_tape_status(tp);
    if (m->drawn) /* data-parallel: this block's rows of the whole minibatch's noise (train.c) */
      memcpy(hn->data, m->draw_f + m->draw_rows * off + m->draw_r0 * n, sizeof(float) * (size_t)(rows * n));
    else
      nd_rng_normal(rng, hn->data, rows * n, 0.0f, m->c.dtp_noise);
    nd_axpy(1.0f, nd_var_value(h[l])->data, hn->data, rows * n);
    nd_var *hv = nd_tape_constant(tp, hn);
    nd_var *f = nd_credit_detach(tp, nd__mlp_activate(tp, &m->c, nd__mlp_linear_const(m, tp, l, hv)));
    nd_var *d = nd_ad_mse(tp, inverse(m, tp, l, f, true), hv);
    total = nd_ad_add(tp, total, nd_ad_scale(tp, d, (float)n));
  }
  ND_TRY(nd_tape_backward(tp, total));
  if (loss) *loss = nd_var_item(ce);
  return ND_OK;
}
