/* Decoupled neural interfaces (Jaderberg, Czarnecki, Osindero, Vinyals,
 * Graves, Silver & Kavukcuoglu, "Decoupled neural interfaces using
 * synthetic gradients", ICML 2017, PMLR 70:1627, Sec. 2): a layer is updated
 * with a synthetic gradient dhat = M(h) (cDNI: M(h, y)) in place of dL/dh,
 * theta <- theta - eta (dh/dtheta)^T dhat, without waiting for the layers
 * above.  The op below seeds that gradient on the tape; M is regressed on the
 * gradient that does arrive with nd_credit_regression_grads (credit.c). */
#include <string.h>

#include "core/internal.h"
#include "credit_internal.h"
#include "neurodyn/kernels.h"

static const int64_t one[1] = {1};

static nd_status inject_forward(const nd_custom_args *a) {
  a->output->data[0] = 0.0f;
  return ND_OK;
}

static nd_status inject_backward(const nd_custom_args *a) {
  const nd_tensor *g = a->user;
  if (!a->dinputs[0]) return ND_OK;
  int64_t n = nd_tensor_numel(g);
  float s = a->doutput->data[0];
  if (a->beta[0] == 0.0f) memset(a->dinputs[0]->data, 0, (size_t)n * sizeof(float));
  nd_axpy(s, g->data, a->dinputs[0]->data, n); /* dL/dh += s * dhat */
  return ND_OK;
}

nd_var *nd_credit_inject(nd_tape *tp, nd_var *h, const nd_tensor *g) {
  if (!nd__credit_inputs_ok(tp, "inject", 1, &h)) return NULL;
  const nd_tensor *hv = nd_var_value(h);
  char s1[64], s2[64];
  if (!g || !g->data || !nd_tensor_same_shape(g, hv) || !nd_tensor_is_contiguous(g)) {
    nd__error(ND_ERR_SHAPE, "inject: gradient is %s, expected contiguous %s like h",
              g ? nd_tensor_shape_str(g, s1, 64) : "NULL", nd_tensor_shape_str(hv, s2, 64));
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  return nd_ad_custom(tp, 1, &h, 1, one, inject_forward, inject_backward, (void *)g);
}
