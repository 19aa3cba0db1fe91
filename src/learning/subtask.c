/* Subtask decomposition with learned label representatives (seed 004,
 * GrowNet, "Decomposing Subtasks"): a task x -> y split into x -> ytilde_1
 * -> y, where ytilde_1 = R_1(y) is a learned representative of the label;
 * block 1 is trained on D(yhat_1, R_1(y)), block 2 (reading R_1(y)) on its
 * own loss against y, and R_1 on d(L_1, L_2), so that no gradient crosses a
 * block boundary and the deepest gradient computation is one block.  It
 * resembles the local losses of A. Nokland & L. H. Eidnes, "Training neural
 * networks with local error signals", ICML 2019 (there each block gets a
 * local classifier / similarity loss; here a regression target learned from
 * the label).  R_k is an embedding: R_k(y) = onehot(y) E_k.  The blocks and
 * losses are built on the tape by the MLP family (src/models/mlp/subtask.c). */
#include "core/internal.h"
#include "credit_internal.h"

nd_var *nd_credit_representative(nd_tape *tp, nd_var *e, const int32_t *labels, int64_t rows) {
  if (!nd__credit_inputs_ok(tp, "representative", 1, &e)) return NULL;
  const nd_tensor *ev = nd_var_value(e);
  char s[64];
  if (ev->ndim != 2 || !labels || rows < 1) {
    nd__error(ND_ERR_SHAPE, "representative: table is %s with %lld rows of labels, expected [classes, n] and rows >= 1",
              nd_tensor_shape_str(ev, s, 64), (long long)rows);
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  int64_t classes = ev->shape[0];
  float *oh = nd_tape_alloc(tp, (size_t)(rows * classes) * sizeof(float));
  nd_tensor *t = nd_tape_alloc(tp, sizeof *t);
  if (!oh || !t) return NULL;
  for (int64_t r = 0; r < rows; r++) {
    if (labels[r] < 0 || labels[r] >= classes) {
      nd__error(ND_ERR_INVALID_ARG, "representative: label %d of row %lld is outside 0..%lld", (int)labels[r],
                (long long)r, (long long)classes - 1);
      nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
      return NULL;
    }
    for (int64_t k = 0; k < classes; k++) oh[r * classes + k] = k == labels[r] ? 1.0f : 0.0f;
  }
  *t = nd_tensor_wrap(oh, 2, ND_SHAPE(rows, classes));
  return nd_ad_matmul(tp, nd_tape_constant(tp, t), e, false, false); /* [B, classes] x [classes, n] */
}
