/* A neural ODE block trained with the adjoint method (R. T. Q. Chen,
 * Y. Rubanova, J. Bettencourt, D. Duvenaud, "Neural ordinary differential
 * equations", NeurIPS 2018), docs/node.md:
 *
 *   dz/dt = f(z) = tanh(W z + b),  z(t1) = z(t0) + int f     forward: DOPRI5 (nd_dopri_integrate)
 *   backward (Alg. 1): integrate s = [z, a, a_theta] from t1 back to t0,
 *     ds/dt = [f(z), -a^T df/dz, -a^T df/dtheta],  s(t1) = [z(t1), dL/dz(t1), 0]
 *   then dL/dz(t0) = a(t0), dL/dtheta = a_theta(t0).
 *
 * The state is reconstructed backwards with the adjoint (no trajectory is
 * stored): memory is the augmented state and the solver's buffers, whatever
 * the number of steps.  Float32 (the solver's state). */
#ifndef NEURODYN_NODE_H
#define NEURODYN_NODE_H

#include "neurodyn/core.h"
#include "neurodyn/dynamics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_node_config {
  int64_t hidden, batch_max;
  double t0, t1;        /* integration interval, t1 != t0 (0, 1) */
  double rtol, atol;    /* DOPRI5 tolerances of both solves, > 0 (1e-6, 1e-8) */
  double init_scale;    /* W ~ N(0, init_scale^2 / hidden) (1) */
  uint64_t seed;
} nd_node_config;

typedef struct nd_node nd_node;

ND_API nd_node_config nd_node_defaults(void);
ND_API nd_status nd_node_config_check(const nd_node_config *c);
ND_API nd_status nd_node_create(const nd_node_config *c, nd_node **out);
ND_API void nd_node_free(nd_node *m);
/* W [n, n], b [n] (float32) and the gradient; -1 / NULL for NULL. */
ND_API int64_t nd_node_num_params(const nd_node *m);
ND_API float *nd_node_params(nd_node *m);
ND_API const float *nd_node_grad(const nd_node *m);
/* z [B, n]: z(t0) in, z(t1) out (in place). */
ND_API nd_status nd_node_forward(nd_node *m, float *z, int64_t B, nd_dopri_result *result);
/* From z = z(t1) and dz = dL/dz(t1) [B, n]: the parameter gradient into
 * nd_node_grad, dz overwritten with dL/dz(t0), z with the reconstructed z(t0). */
ND_API nd_status nd_node_backward(nd_node *m, float *z, float *dz, int64_t B, nd_dopri_result *result);

/* The checkpointed adjoint (after ANODE, Gholami et al. 2019, Sec. 3: the
 * plain adjoint reconstructs z(t) backwards, which is unstable where the
 * dynamics contract forwards).  Forward: K segments of [t0, t1], z at each
 * segment boundary kept in ck [(K+1), B, n] (ck[0] = z(t0) in, ck[K] =
 * z(t1) out).  Backward: segment by segment from the last, the adjoint
 * solve restarts its z from the stored checkpoint instead of the
 * reconstruction, so the reconstruction error is that of one segment;
 * dz = dL/dz(t1) in, dL/dz(t0) out; the gradient into nd_node_grad.  Memory
 * (K+1) B n floats besides the adjoint's; K = 1 is the plain adjoint.
 * (ANODE proper back-propagates through the solver's steps inside a
 * segment; here each segment keeps the continuous adjoint.) */
ND_API nd_status nd_node_forward_checkpoints(nd_node *m, float *ck, int64_t K, int64_t B, nd_dopri_result *result);
ND_API nd_status nd_node_backward_checkpoints(nd_node *m, const float *ck, int64_t K, float *dz, int64_t B,
                                              nd_dopri_result *result);

#ifdef __cplusplus
}
#endif
#endif
