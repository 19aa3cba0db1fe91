/* Online alternating minimisation with auxiliary variables (A. Choromanska,
 * B. Cowen, S. Kumaravel, R. Luss, M. Rigotti, I. Rish, B. Kingsbury,
 * P. DiAchille, V. Gurev, R. Tejwani & D. Bouneffouf, "Beyond backprop:
 * online alternating minimization with auxiliary variables", ICML 2019, PMLR
 * 97:1193-1202, arXiv 1806.09077, Sec. 3, Eq. 2-4 and Alg. 1; code
 * IBM/online-alt-min).  The codes c_l (the linear layers' outputs) are free
 * variables of
 *
 *   min ell(y, W_L phi(c_{L-1})) + mu sum_l ||c_l - W_l phi(c_{l-1})||^2
 *
 * optimised per minibatch top-down by a few steps of SGD with Nesterov
 * momentum (the code's `update_codes`), after which every layer is regressed
 * on its codes independently.  The codes' step is the one below; the losses
 * are built on the tape by the MLP family (src/models/mlp/am.c). */
#include "core/internal.h"
#include "neurodyn/credit.h"

nd_status nd_credit_nesterov_step(float *x, float *v, const float *g, int64_t n, float lr, float momentum) {
  if (!x || !v || !g || n < 0) return nd__error(ND_ERR_INVALID_ARG, "nesterov step: NULL argument or n < 0");
  for (int64_t i = 0; i < n; i++) { /* torch.optim.SGD(nesterov=True), dampening 0 */
    v[i] = momentum * v[i] + g[i];
    x[i] -= lr * (g[i] + momentum * v[i]);
  }
  return ND_OK;
}
