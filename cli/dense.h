/* A dense layer y = x W^T + b (W [out, in], b [out], float32) with its
 * gradient, for the trainers that put a linear input map or readout around a
 * library block (train deq, train ode).  Parameters and gradient are one
 * flat buffer each ([W, b]), wrapped as tensors for the optimizer. */
#ifndef NEURODYN_CLI_DENSE_H
#define NEURODYN_CLI_DENSE_H

#include "neurodyn/neurodyn.h"

typedef struct nd_cli_dense {
  int64_t in, out, np;
  float *p, *g;           /* [out * in + out] */
  nd_tensor tp, tg;       /* views of p and g */
} nd_cli_dense;

/* W ~ N(0, 1 / in) from *rng, b = 0. */
nd_status nd_cli_dense_init(nd_cli_dense *d, int64_t in, int64_t out, nd_rng *rng);
void nd_cli_dense_release(nd_cli_dense *d);
/* y [B, out] = x [B, in] W^T + b */
void nd_cli_dense_forward(const nd_cli_dense *d, const float *x, int64_t B, float *y);
/* g = [dy^T x, sum_rows dy] (overwritten); dx [B, in] = dy W unless NULL. */
void nd_cli_dense_backward(nd_cli_dense *d, const float *x, int64_t B, const float *dy, float *dx);
/* The softmax cross-entropy of logits [B, C] against labels (mean; dlogits
 * may be NULL) and the count of rows whose argmax is not the label. */
nd_status nd_cli_ce_wrong(const float *logits, const int32_t *labels, int64_t B, int64_t C, double *loss, float *dlogits,
                          int64_t *wrong);
/* Copies the float32 array `name` of ck, t's element count, into the
 * contiguous 1-D tensor t (a resumed run's parameters). */
nd_status nd_cli_restore_tensor(const nd_checkpoint *ck, const char *name, nd_tensor *t);

#endif
