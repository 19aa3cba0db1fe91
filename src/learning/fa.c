/* Feedback alignment (Lillicrap, Cownden, Tweed & Akerman, "Random synaptic
 * feedback weights support error backpropagation for deep learning", Nat.
 * Commun. 7:13276, 2016): the error reaches the layer below through a fixed
 * random matrix B instead of W^T (the paper's Fig. 1: delta_h = B e in
 * place of W^T e).  A linear op whose VJP uses B for dx and the true
 * gradients for W and b. */
#include "core/internal.h"
#include "credit_internal.h"
#include "neurodyn/kernels.h"

typedef struct fa_user {
  const nd_tensor *feedback;
  bool has_bias;
} fa_user;

static nd_status fa_forward(const nd_custom_args *a) {
  const nd_tensor *x = a->inputs[0], *w = a->inputs[1];
  int64_t rows = x->shape[0], nin = x->shape[1], nout = w->shape[0];
  nd_sgemm(false, true, rows, nout, nin, 1.0f, x->data, nin, w->data, nin, 0.0f, a->output->data, nout); /* x W^T */
  if (a->n_inputs > 2) nd_add_channel_bias(a->output->data, a->inputs[2]->data, rows, nout, 1);
  return ND_OK;
}

static nd_status fa_backward(const nd_custom_args *a) {
  const fa_user *u = a->user;
  const nd_tensor *x = a->inputs[0], *w = a->inputs[1];
  int64_t rows = x->shape[0], nin = x->shape[1], nout = w->shape[0];
  const float *dy = a->doutput->data;
  if (a->dinputs[0]) /* dx = dy B: the fixed random feedback in place of W */
    nd_sgemm(false, false, rows, nin, nout, 1.0f, dy, nout, u->feedback->data, nin, a->beta[0], a->dinputs[0]->data, nin);
  if (a->dinputs[1]) /* dW = dy^T x, as in BP */
    nd_sgemm(true, false, nout, nin, rows, 1.0f, dy, nout, x->data, nin, a->beta[1], a->dinputs[1]->data, nin);
  if (u->has_bias && a->dinputs[2]) nd_channel_sum(dy, rows, nout, 1, a->beta[2], a->dinputs[2]->data);
  return ND_OK;
}

nd_var *nd_credit_linear_fa(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, const nd_tensor *feedback) {
  if (!nd__credit_inputs_ok(tp, "linear_fa", 2, (nd_var *[]){x, w})) return NULL;
  const nd_tensor *xv = nd_var_value(x), *wv = nd_var_value(w);
  char s1[64], s2[64], s3[64];
  if (xv->ndim != 2 || wv->ndim != 2 || xv->shape[1] != wv->shape[1] || (b && (nd_var_value(b)->ndim != 1 ||
      nd_var_value(b)->shape[0] != wv->shape[0]))) {
    nd__error(ND_ERR_SHAPE, "linear_fa: x %s and W %s (and b) do not fit [B,in], [out,in], [out]",
              nd_tensor_shape_str(xv, s1, 64), nd_tensor_shape_str(wv, s2, 64));
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  if (!feedback || !feedback->data || !nd_tensor_same_shape(feedback, wv) || !nd_tensor_is_contiguous(feedback)) {
    nd__error(ND_ERR_SHAPE, "linear_fa: feedback matrix is %s, expected contiguous %s like W",
              feedback ? nd_tensor_shape_str(feedback, s3, 64) : "NULL", nd_tensor_shape_str(wv, s2, 64));
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  fa_user *u = nd_tape_alloc(tp, sizeof *u);
  if (!u) return NULL;
  u->feedback = feedback;
  u->has_bias = b != NULL;
  nd_var *in[3] = {x, w, b};
  return nd_ad_custom(tp, b ? 3 : 2, in, 2, ND_SHAPE(xv->shape[0], wv->shape[0]), fa_forward, fa_backward, u);
}
