/* Private backend function table (see include/neurodyn/backend.h).
 *
 * Each slot has exactly the signature of the public kernel of the same name in
 * kernels.h.  A backend may leave any slot NULL: the dispatcher then calls the
 * CPU implementation (nd__cpu_<name>), so a new backend can start with GEMM and
 * convolutions only.  Public entry points (src/backend/backend.c) validate
 * descriptors before dispatching, so slots may trust their arguments. */
#ifndef NEURODYN_BACKEND_IMPL_H
#define NEURODYN_BACKEND_IMPL_H

#include "neurodyn/backend.h"
#include "neurodyn/kernels.h"

#define ND__SLOT(name) __typeof__(nd_##name) *name

typedef struct nd__backend {
  const char *name;
  ND__SLOT(sgemm);
  ND__SLOT(dgemm);
  ND__SLOT(conv2d_workspace_floats);
  ND__SLOT(conv2d_forward);
  ND__SLOT(conv2d_backward_data);
  ND__SLOT(conv2d_backward_filter);
  ND__SLOT(conv_transpose2d_forward);
  ND__SLOT(avgpool2d_forward);
  ND__SLOT(avgpool2d_backward);
  ND__SLOT(adaptive_avgpool2d_forward);
  ND__SLOT(adaptive_avgpool2d_backward);
  ND__SLOT(unary);
  ND__SLOT(unary_backward);
  ND__SLOT(prelu_forward);
  ND__SLOT(prelu_backward);
  ND__SLOT(add);
  ND__SLOT(sub);
  ND__SLOT(mul);
  ND__SLOT(div);
  ND__SLOT(axpy);
  ND__SLOT(scale);
  ND__SLOT(add_channel_bias);
  ND__SLOT(channel_sum);
  ND__SLOT(sum);
  ND__SLOT(dot);
  ND__SLOT(max_abs);
  ND__SLOT(row_sum);
  ND__SLOT(row_mean);
  ND__SLOT(row_max);
  ND__SLOT(row_argmax);
  ND__SLOT(row_topk);
  ND__SLOT(softmax);
  ND__SLOT(log_softmax);
  ND__SLOT(softmax_backward);
  ND__SLOT(log_softmax_backward);
  ND__SLOT(cross_entropy);
} nd__backend;

/* The active backend (never NULL). */
const nd__backend *nd__backend_active(void);

/* The CPU backend: every slot filled (src/backend/cpu/). */
extern const nd__backend nd__cpu_backend;

#endif
