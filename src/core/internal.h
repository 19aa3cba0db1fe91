/* Private helpers shared by every source file of the library (not installed). */
#ifndef NEURODYN_INTERNAL_H
#define NEURODYN_INTERNAL_H

#include "neurodyn/core.h"

#if defined(__GNUC__)
#define ND__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ND__PRINTF(a, b)
#endif

/* Record a failure for nd_last_error() and return s, so callers can write
 *   return nd__error(ND_ERR_SHAPE, "lca: input is %s, expected %s", a, b); */
nd_status nd__error(nd_status s, const char *fmt, ...) ND__PRINTF(2, 3);

/* Send a message to the log callback if level passes the threshold. */
void nd__log(nd_log_level level, const char *fmt, ...) ND__PRINTF(2, 3);

/* ND_OK if t is a header the library can trust (non-NULL, ndim 0..5, sizes
 * >= 0 within ND_TENSOR_MAX_NUMEL, data present if it has elements), else
 * ND_ERR_INVALID_ARG "<what>: <arg> ...".  Declared with a forward struct so
 * this header needs no tensor.h. */
struct nd_tensor;
nd_status nd__tensor_check(const struct nd_tensor *t, const char *what, const char *arg);

/* Index of name in names[0..count) into *out (0 on failure); on an unknown
 * or NULL name ND_ERR_INVALID_ARG "<what>: unknown name 'x' (a|b|c)". */
nd_status nd__parse_choice(const char *what, const char *name, const char *const *names, int count, int *out);

/* Propagate a failing status. */
#define ND_TRY(expr)                      \
  do {                                    \
    nd_status nd__s_ = (expr);            \
    if (nd__s_ != ND_OK) return nd__s_;   \
  } while (0)

/* Adam / AdamW's update of n parameters at step t >= 1 (src/optim/optim.c;
 * Kingma & Ba 2015, Alg. 1): for models that keep their own moments (the
 * lazily allocated nodes of src/models/grid3d). */
struct nd_optim_config;
void nd__adam_update(const struct nd_optim_config *c, int64_t t, float lr, float *restrict p, const float *restrict g,
                     float *restrict m, float *restrict v, int64_t n);

#define ND__MIN(a, b) ((a) < (b) ? (a) : (b))
#define ND__MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
