/* Direct feedback alignment (Nokland, "Direct feedback alignment provides
 * learning in deep neural networks", NIPS 2016, arXiv 1609.01596, Sec. 2):
 * the output error e = dL/dz goes straight to every hidden layer through a
 * fixed random matrix, delta_l = (e D_l) . phi'(a_l) (the paper's Eq. 3,
 * with D_l = B_l^T in its notation).  An identity op on z whose VJP hands e
 * D_l to each hidden activity h_l; the caller detaches each layer's input so
 * that nothing else flows down. */
#include "core/internal.h"
#include "credit_internal.h"
#include "neurodyn/kernels.h"

#define MAXH (ND_CUSTOM_MAX_INPUTS - 1)

typedef struct dfa_user {
  const nd_tensor *feedback[MAXH];
} dfa_user;

static nd_status dfa_forward(const nd_custom_args *a) {
  nd_tensor_copy(a->output, a->inputs[0]);
  return ND_OK;
}

static nd_status dfa_backward(const nd_custom_args *a) {
  const dfa_user *u = a->user;
  const nd_tensor *e = a->doutput;
  int64_t rows = e->shape[0], nl = e->shape[1];
  if (a->dinputs[0]) {
    if (a->beta[0] == 0.0f) nd_tensor_copy(a->dinputs[0], e);
    else nd_axpy(1.0f, e->data, a->dinputs[0]->data, rows * nl);
  }
  for (int k = 1; k < a->n_inputs; k++) {
    if (!a->dinputs[k]) continue;
    int64_t n = a->inputs[k]->shape[1]; /* dh_l = e D_l, D_l [n_L, n_l] */
    nd_sgemm(false, false, rows, n, nl, 1.0f, e->data, nl, u->feedback[k - 1]->data, n, a->beta[k],
             a->dinputs[k]->data, n);
  }
  return ND_OK;
}

nd_var *nd_credit_dfa_output(nd_tape *tp, nd_var *z, int n_hidden, nd_var *const *h, const nd_tensor *const *feedback) {
  if (!nd__credit_inputs_ok(tp, "dfa_output", 1, &z)) return NULL;
  const nd_tensor *zv = nd_var_value(z);
  char s1[64], s2[64], s3[64];
  nd_status s = ND_OK;
  if (n_hidden < 0 || n_hidden > MAXH || (n_hidden > 0 && (!h || !feedback)))
    s = nd__error(ND_ERR_INVALID_ARG, "dfa_output: %d hidden layers (h or feedback NULL?), at most %d", n_hidden, MAXH);
  else if (zv->ndim != 2)
    s = nd__error(ND_ERR_SHAPE, "dfa_output: z is %s, expected [B, n_L]", nd_tensor_shape_str(zv, s1, 64));
  for (int l = 0; s == ND_OK && l < n_hidden; l++) {
    if (!nd__credit_inputs_ok(tp, "dfa_output", 1, &h[l])) return NULL;
    const nd_tensor *hv = nd_var_value(h[l]), *d = feedback[l];
    if (hv->ndim != 2 || hv->shape[0] != zv->shape[0] || !d || !d->data || d->ndim != 2 || d->shape[0] != zv->shape[1] ||
        d->shape[1] != hv->shape[1] || !nd_tensor_is_contiguous(d))
      s = nd__error(ND_ERR_SHAPE, "dfa_output: layer %d: h %s and D %s do not fit z %s ([B,n_l], [n_L,n_l])", l,
                    nd_tensor_shape_str(hv, s1, 64), d ? nd_tensor_shape_str(d, s2, 64) : "NULL",
                    nd_tensor_shape_str(zv, s3, 64));
  }
  if (s != ND_OK) {
    nd_tape_set_error(tp, s);
    return NULL;
  }
  dfa_user *u = nd_tape_alloc(tp, sizeof *u);
  if (!u) return NULL;
  nd_var *in[ND_CUSTOM_MAX_INPUTS] = {z};
  for (int l = 0; l < n_hidden; l++) in[l + 1] = h[l], u->feedback[l] = feedback[l];
  return nd_ad_custom(tp, n_hidden + 1, in, 2, zv->shape, dfa_forward, dfa_backward, u);
}
