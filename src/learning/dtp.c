/* Difference target propagation (D.-H. Lee, S. Zhang, A. Fischer &
 * Y. Bengio, "Difference target propagation", ECML-PKDD 2015, LNCS
 * 9284:498-515, arXiv 1412.7525, Sec. 3 and its Algorithm 1).  Every hidden
 * layer is regressed on a target instead of receiving a back-propagated
 * error:
 *
 *   hhat_{L-1} = h_{L-1} - eta dL/dh_{L-1}                 top hidden layer
 *   hhat_{l-1} = h_{l-1} + g_l(hhat_l) - g_l(h_l)          below, g_l a learned inverse
 *
 * The second line is the "difference" correction: whatever g_l's error,
 * hhat_l = h_l gives hhat_{l-1} = h_{l-1}, and an exact inverse makes
 * f_l(hhat_{l-1}) = hhat_l.  The layer and inverse losses that use these
 * targets are built on the tape by the MLP family (src/models/mlp/dtp.c). */
#include "core/internal.h"
#include "neurodyn/credit.h"

nd_status nd_credit_dtp_top_target(const float *h, const float *grad, int64_t n, float eta, float *out) {
  if (!h || !grad || !out || n < 0) return nd__error(ND_ERR_INVALID_ARG, "dtp top target: NULL argument or n < 0");
  for (int64_t i = 0; i < n; i++) out[i] = h[i] - eta * grad[i];
  return ND_OK;
}

nd_status nd_credit_dtp_target(const float *h, const float *g_hat, const float *g_h, int64_t n, float *out) {
  if (!h || !g_hat || !g_h || !out || n < 0) return nd__error(ND_ERR_INVALID_ARG, "dtp target: NULL argument or n < 0");
  for (int64_t i = 0; i < n; i++) out[i] = h[i] + (g_hat[i] - g_h[i]);
  return ND_OK;
}
