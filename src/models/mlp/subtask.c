/* Subtask decomposition of the MLP (seed 004, "Decomposing Subtasks"; ops in
 * src/learning/subtask.c; docs/credit.md gives the formulation).  The layers
 * are cut into blocks k = 0..K-1 of subtask_layers layers from the input.
 * With R_k(y) = onehot(y) E_k the learned representative of block k's output:
 *
 *   yhat_0 = B_0(x),  yhat_k = B_k(R_{k-1}(y))  (k >= 1; the seed's
 *                     "yhat_2 = B_2(theta_2, ytilde_1)")
 *   L_k = mse(yhat_k, R_k(y))  (k < K-1),   L_{K-1} = NLL(softmax(yhat_{K-1}), y)
 *   theta_k <- dL_k/dtheta_k (back-propagation inside the block only)
 *   E_k     <- d(L_k + L_{k+1})/dE_k    (the seed's d(L_1, L_2) = L_1 + L_2)
 *
 * All losses go into one backward: block k's parameters feed L_k alone, so
 * nothing from a later block reaches them; dL_{k+1}/dR_k reaches E_k through
 * block k+1 only (the seed's "maximum depth of gradient computation is B_2").
 * At test time the blocks are chained, x -> B_0 -> B_1 -> ... (the ordinary
 * forward). */
#include "core/internal.h"
#include "internal.h"

/* The caller has reset the tape and set it recording. */
nd_status nd__mlp_subtask_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss) {
  nd_tape *tp = m->tape;
  const int nb = nd__mlp_subtask_blocks(m);
  nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(rows, m->c.sizes[0])); /* read only */
  nd_var *in = nd_tape_constant(tp, &xb), *total = NULL;
  for (int k = 0; k < nb; k++) {
    int first, end;
    nd__mlp_subtask_block(m, k, &first, &end);
    nd_var *h = in;
    for (int l = first; l < end; l++) {
      nd_var *w, *b;
      nd__mlp_layer_params(m, tp, l, &w, &b);
      nd_var *a = nd_ad_linear(tp, h, w, b);
      h = l + 1 < m->n_layers ? nd__mlp_activate(tp, &m->c, a) : a;
    }
    nd_var *lk;
    if (k + 1 < nb) {
      nd_var *e = nd_tape_param(tp, &m->params[m->rep_index[k]], &m->grads[m->rep_index[k]]);
      nd_var *r = nd_credit_representative(tp, e, labels, rows);
      lk = nd_ad_mse(tp, h, r);
      in = r; /* the next block reads the representative */
    } else {
      lk = nd_mlp_loss(m, tp, h, labels);
    }
    total = total ? nd_ad_add(tp, total, lk) : lk;
  }
  ND_TRY(nd_tape_backward(tp, total));
  if (loss) *loss = nd_var_item(total);
  return ND_OK;
}
