/* Online alternating minimisation with auxiliary variables for the MLP
 * (Choromanska et al., ICML 2019, arXiv 1806.09077; the per-minibatch
 * procedure of the authors' code IBM/online-alt-min, altmin.py; ops in
 * src/learning/am.c).  The codes c_l are the pre-activations of the hidden
 * layers l = 0..L-2.  Per minibatch:
 *
 *   1. forward: c_l <- c_l^0 = h_l W_l^T + b_l
 *   2. codes, top-down, am_code_steps Nesterov steps each (lr am_code_lr,
 *      momentum 0.9) on
 *        top:   (1/mu) ell(y, act(c_{L-2}) W_{L-1}^T + b_{L-1}) + mse(c_{L-2}, c_{L-2}^0)
 *        lower: (1/mu) mse(act(c_l) W_{l+1}^T + b_{l+1}, c_{l+1}) + mse(c_l, c_l^0)
 *      (mse: the mean over elements, ell: the batch-mean NLL, as the code)
 *   3. weights, every layer on its own (the gradients the optimizer steps):
 *        ell(y, act(c_{L-2}) W_{L-1}^T + b_{L-1}),  mse(act(c_{l-1}) W_l^T + b_l, c_l),
 *        mse(x W_0^T + b_0, c_0)
 *
 * The code's sparsity terms (lambda_c, lambda_w) default to 0 and are left
 * out; its batch-norm layers are not used. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "internal.h"

#define AM_MOMENTUM 0.9f /* the code's Nesterov momentum of the codes */

static nd_status grow(nd_mlp *m, int64_t rows, int64_t width) {
  if (rows <= m->aux_rows) return ND_OK;
  float *p = realloc(m->aux, (size_t)(3 * rows * width) * sizeof(float));
  if (!p) return nd__error(ND_ERR_NOMEM, "mlp am: out of memory for the codes of %lld rows", (long long)rows);
  m->aux = p, m->aux_rows = rows;
  return ND_OK;
}

/* The caller has reset the tape and set it recording. */
nd_status nd__mlp_am_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss) {
  nd_tape *tp = m->tape;
  const int L = m->n_layers;
  int64_t width = 0, off[ND_MLP_MAX_LAYERS + 1];
  for (int l = 0; l + 1 < L; l++) off[l] = width, width += m->c.sizes[l + 1];
  ND_TRY(grow(m, rows, width));
  /* m->aux: codes [rows * width], then their start values, then velocities; layer l at rows * off[l] */
  float *code = m->aux, *c0 = m->aux + m->aux_rows * width, *vel = m->aux + 2 * m->aux_rows * width;
  nd_tensor cl[ND_MLP_MAX_LAYERS], c0l[ND_MLP_MAX_LAYERS];
  for (int l = 0; l + 1 < L; l++) {
    cl[l] = nd_tensor_wrap(code + rows * off[l], 2, ND_SHAPE(rows, m->c.sizes[l + 1]));
    c0l[l] = nd_tensor_wrap(c0 + rows * off[l], 2, ND_SHAPE(rows, m->c.sizes[l + 1]));
  }
  nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(rows, m->c.sizes[0])); /* read only */
  /* 1. forward */
  nd_var *h = nd_tape_constant(tp, &xb);
  for (int l = 0; l + 1 < L; l++) {
    nd_var *a = nd__mlp_linear_const(m, tp, l, h);
    ND_TRY(nd_tape_status(tp));
    memcpy(cl[l].data, nd_var_value(a)->data, (size_t)nd_tensor_numel(&cl[l]) * sizeof(float));
    h = nd__mlp_activate(tp, &m->c, a);
  }
  nd_var *ce0 = nd_mlp_loss(m, tp, nd__mlp_linear_const(m, tp, L - 1, h), labels);
  ND_TRY(nd_tape_status(tp));
  if (loss) *loss = nd_var_item(ce0);
  /* 2. codes, top-down */
  const float inv_mu = 1.0f / m->c.am_mu;
  for (int l = L - 2; l >= 0; l--) {
    int64_t n = nd_tensor_numel(&cl[l]);
    memcpy(c0l[l].data, cl[l].data, (size_t)n * sizeof(float));
    float *v = vel + rows * off[l];
    memset(v, 0, (size_t)n * sizeof(float));
    for (int it = 0; it < m->c.am_code_steps; it++) {
      nd_tape_reset(tp);
      nd_var *cv = nd_tape_variable(tp, &cl[l]);
      nd_var *out = nd__mlp_linear_const(m, tp, l + 1, nd__mlp_activate(tp, &m->c, cv));
      nd_var *d = l + 2 == L ? nd_mlp_loss(m, tp, out, labels) : nd_ad_mse(tp, out, nd_tape_constant(tp, &cl[l + 1]));
      nd_var *obj = nd_ad_add(tp, nd_ad_scale(tp, d, inv_mu), nd_ad_mse(tp, cv, nd_tape_constant(tp, &c0l[l])));
      ND_TRY(nd_tape_backward(tp, obj));
      ND_TRY(nd_credit_nesterov_step(cl[l].data, v, nd_var_grad(cv)->data, n, m->c.am_code_lr, AM_MOMENTUM));
    }
  }
  /* 3. weights, each layer on its own regression */
  nd_tape_reset(tp);
  nd_var *total = NULL;
  for (int l = 0; l < L; l++) {
    nd_var *w, *b;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    nd_var *in = l == 0 ? nd_tape_constant(tp, &xb) : nd__mlp_activate(tp, &m->c, nd_tape_constant(tp, &cl[l - 1]));
    nd_var *out = nd_ad_linear(tp, in, w, b);
    nd_var *ll = l + 1 == L ? nd_mlp_loss(m, tp, out, labels) : nd_ad_mse(tp, out, nd_tape_constant(tp, &cl[l]));
    total = total ? nd_ad_add(tp, total, ll) : ll;
  }
  return nd_tape_backward(tp, total);
}
