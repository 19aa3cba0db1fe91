/* A deep equilibrium layer (S. Bai, J. Z. Kolter, V. Koltun, "Deep
 * equilibrium models", NeurIPS 2019), docs/deq.md:
 *
 *   z* = f(z*; x) = tanh(W z* + U x + b)            forward: Anderson (nd_fixed_point_solve)
 *   dL/dtheta = u^T df/dtheta at z*,  u = J_f(z*)^T u + dL/dz*      (Theorem 1)
 *
 * The backward solves the linear fixed point for u with the same Anderson
 * solver (one vector-Jacobian product J^T u = W^T (u . (1 - z*^2)) per
 * iteration), so memory does not depend on the number of forward or
 * backward iterations: z*, u and the solver's window are all that is kept.
 * Float32 (the solver's state), rows of the batch solved independently. */
#ifndef NEURODYN_DEQ_H
#define NEURODYN_DEQ_H

#include "neurodyn/core.h"
#include "neurodyn/dynamics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_deq_solver { ND_DEQ_ANDERSON = 0, ND_DEQ_BROYDEN } nd_deq_solver;

typedef struct nd_deq_config {
  int64_t inputs, hidden;
  int64_t batch_max;      /* largest batch B */
  int anderson_m;         /* Anderson window, 0..64; 0: plain iteration; Broyden: its memory, 1..64 (5) */
  nd_deq_solver solver;   /* both solves: Anderson (nd_fixed_point_solve) or Broyden (nd_broyden_solve) */
  double tol;             /* relative change tolerance of both solves, > 0 (1e-6) */
  int64_t max_iter;       /* evaluations per solve, >= 1 (200) */
  double init_scale;      /* W ~ N(0, init_scale^2 / hidden): < 1 keeps f contractive (0.5) */
  /* A solve that spends max_iter without reaching tol: false (default) is an
   * error, ND_ERR_NUMERIC; true returns ND_OK with the last iterate and
   * result.stop = ND_STOP_MAX_ITER (torchdeq's behaviour, for training,
   * where the caller counts such solves), and backward may follow. */
  bool accept_unconverged;
  uint64_t seed;
} nd_deq_config;

typedef struct nd_deq nd_deq;

ND_API nd_deq_config nd_deq_defaults(void);
ND_API nd_status nd_deq_config_check(const nd_deq_config *c);
ND_API nd_status nd_deq_create(const nd_deq_config *c, nd_deq **out);
ND_API void nd_deq_free(nd_deq *d);

/* Parameters W [n, n], U [n, in], b [n] (float32, row-major) and their gradient,
 * nd_deq_num_params entries (NULL / -1 for NULL). */
ND_API int64_t nd_deq_num_params(const nd_deq *d);
ND_API float *nd_deq_params(nd_deq *d);
ND_API const float *nd_deq_grad(const nd_deq *d);

/* z [B, n] = the fixed point for inputs x [B, in], solved from z = 0.
 * result (may be NULL): iterations, residual, stop.  ND_ERR_NUMERIC when the
 * solve does not reach the tolerance within max_iter (result filled in). */
ND_API nd_status nd_deq_forward(nd_deq *d, const float *x, int64_t B, float *z, nd_fixed_point_result *result);
/* After nd_deq_forward on the same x: the gradient of L for dz = dL/dz* [B, n]
 * into nd_deq_grad (overwritten) and, if dx is not NULL, dL/dx [B, in].
 * Implicit differentiation; result as for the forward. */
ND_API nd_status nd_deq_backward(nd_deq *d, const float *x, int64_t B, const float *dz, float *dx,
                                 nd_fixed_point_result *result);

/* Jacobian regularisation (Bai, Koltun & Kolter 2021, "Stabilizing
 * equilibrium models by Jacobian regularization", Eq. 6-7): after
 * nd_deq_backward, the Hutchinson estimate
 *   R = ||eps^T J_f(z*)||^2 / (B n),  J_f = diag(1 - f(z*)^2) W,
 * for caller's eps [B, n] (standard normal), into *R, and gamma dR/dtheta
 * added to nd_deq_grad, at the last forward's z* held fixed (as Bai et al.
 * differentiate one application of f at the equilibrium).  Penalising it
 * keeps f contractive, so that both solves converge in fewer iterations. */
ND_API nd_status nd_deq_jacobian_reg(nd_deq *d, const float *x, int64_t B, const float *eps, double gamma, double *R);

#ifdef __cplusplus
}
#endif
#endif
