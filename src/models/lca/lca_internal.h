/* Private helpers of the LCA family (src/models/lca/), shared with the
 * convolutional LCA and dictionary learning. */
#ifndef NEURODYN_LCA_INTERNAL_H
#define NEURODYN_LCA_INTERNAL_H

#include "neurodyn/lca.h"

/* The largest max_iter a config may ask for. */
#define ND_LCA_MAX_ITER 1000000000LL

/* The default state update (docs/lca.md, chosen by the convergence table). */
nd_accel_config nd__lca_default_update(void);
/* a = T_lambda(u) of the variant, unchecked (a may equal u). */
void nd__lca_threshold(nd_lca_threshold t, nd_lca_variant v, float lambda, const float *u, float *a, int64_t count);
/* sum_j C(a_j), unchecked. */
double nd__lca_penalty(nd_lca_threshold t, float lambda, const float *a, int64_t count);

#endif
