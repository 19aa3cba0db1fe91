/* The WTA engine shared by the global, locally connected and convolutional
 * circuits (circuits.h): a circuit is its pooling operator P from the
 * excitatory units of a row to its inhibitory units (and P^T back). */
#ifndef NEURODYN_CIRCUITS_INTERNAL_H
#define NEURODYN_CIRCUITS_INTERNAL_H

#include "neurodyn/circuits.h"

typedef struct nd__wta_pool nd__wta_pool;
struct nd__wta_pool {
  int64_t n, ni; /* excitatory and inhibitory units per row */
  /* dst[ni] = P x (unweighted sums), dst[n] = P^T y; tmp holds n floats. */
  void (*e2i)(const nd__wta_pool *p, const float *x, float *dst, float *tmp);
  void (*i2e)(const nd__wta_pool *p, const float *y, float *dst, float *tmp);
  int64_t c, h, w, kh, kw; /* box geometry (local.c) */
  bool across;
};

/* Solves the circuit for input [batch, n] from x = y = 0 into x [batch, n]
 * and y [batch, ni] (NULL: not returned); checks c and the pointers. */
nd_status nd__wta_run(const char *who, const nd_wta_config *c, const nd__wta_pool *p, const float *input, int64_t batch,
                      float *x, float *y, nd_wta_result *r);

/* One Euler step of one row (x [n], y [ni], ws [ni + 2n]); returns the
 * residual max|tau dx/dt| / scale at the state before the step, moves the
 * state only when it exceeds c->tol, *maxabs the largest |state| after. */
double nd__wta_row_step(const nd_wta_config *c, const nd__wta_pool *p, const float *in, float *x, float *y, float *ws,
                        double scale, double *maxabs);

/* The pool of a [1, 1, n] line with half-width w (local.c). */
void nd__lcwta_pool(int64_t n, int64_t halfwidth, nd__wta_pool *p);

#endif
