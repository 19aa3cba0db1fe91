/* A bijective classifier trained without storing activations in depth
 * (docs/memory.md, "bijective classifier"): an i-RevNet-style stack of
 * additive coupling blocks on the whole input (Gomez et al. 2017, Eq. 1-2;
 * Jacobsen, Smeulders & Oyallon 2018, i-RevNet), x = (x1, x2) halves of D:
 *
 *   y1 = x1 + F(x2),  y2 = x2 + G(y1),   F(u) = V tanh(W u + b) + c  (G alike)
 *
 * The network is a bijection of R^D; the first `classes` output dimensions
 * are read as logits and the other D - classes ("dummy dimensions") are
 * left unconstrained.  Backward reconstructs each block's input from its
 * output (x2 = y2 - G(y1), x1 = y1 - F(x2)) instead of storing it, so
 * activation memory is O(B·D) whatever the depth; `store` keeps every
 * block's input instead (ordinary backprop of the same network, the
 * reference).  Float32. */
#ifndef NEURODYN_REVNET_H
#define NEURODYN_REVNET_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_revnet_config {
  int64_t inputs;     /* D, even (784) */
  int64_t hidden;     /* F's and G's hidden width h (64) */
  int64_t layers;     /* coupling blocks L (4) */
  int64_t classes;    /* output dimensions read as logits, <= D/2 (10) */
  int64_t batch_max;  /* largest batch (256) */
  bool store;         /* keep every block's input (ordinary backprop) instead of reconstructing (false) */
  uint64_t seed;
} nd_revnet_config;

typedef struct nd_revnet nd_revnet;

ND_API nd_revnet_config nd_revnet_defaults(void);
ND_API nd_status nd_revnet_config_check(const nd_revnet_config *c);
ND_API nd_status nd_revnet_create(const nd_revnet_config *c, nd_revnet **out);
ND_API void nd_revnet_free(nd_revnet *m);
/* Parameters, per block F then G, each W [h, D/2], b [h], V [D/2, h], c [D/2]; the gradient. */
ND_API int64_t nd_revnet_num_params(const nd_revnet *m);
ND_API float *nd_revnet_params(nd_revnet *m);
ND_API float *nd_revnet_grad(nd_revnet *m);
/* Softmax cross-entropy of the logits (mean over the B rows of x [B, D]),
 * its gradient into nd_revnet_grad (overwritten), *wrong = rows whose
 * argmax is not the label. */
ND_API nd_status nd_revnet_loss_grad(nd_revnet *m, const float *x, const int32_t *labels, int64_t B, double *loss, int64_t *wrong);
/* logits [B, classes] */
ND_API nd_status nd_revnet_predict(nd_revnet *m, const float *x, int64_t B, float *logits);
/* Bytes of activation buffers the last nd_revnet_loss_grad used (store:
 * (L + 1) B D floats of block inputs and the scratch; else the scratch),
 * and max |x reconstructed - x| of its input (0 with store). */
ND_API size_t nd_revnet_activation_bytes(const nd_revnet *m);
ND_API double nd_revnet_reconstruction_error(const nd_revnet *m);

#ifdef __cplusplus
}
#endif
#endif
