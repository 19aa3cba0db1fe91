/* Private to the Krotov family: the Eq. 2 metric's weights
 * Wp = sign(W)|W|^(p-1), shared by the fast rule and the ODE model. */
#ifndef NEURODYN_MODELS_KROTOV_METRIC_H
#define NEURODYN_MODELS_KROTOV_METRIC_H

#include <stdint.h>

/* wp [rows, d] from w [rows, d]; integer p by products, p == 2 a copy. */
void nd__krotov_metric_rows(const float *w, float *wp, int64_t rows, int64_t d, double p);

#endif
