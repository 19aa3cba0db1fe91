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

/* Propagate a failing status. */
#define ND_TRY(expr)                      \
  do {                                    \
    nd_status nd__s_ = (expr);            \
    if (nd__s_ != ND_OK) return nd__s_;   \
  } while (0)

#define ND__MIN(a, b) ((a) < (b) ? (a) : (b))
#define ND__MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
