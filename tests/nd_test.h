/* Shared helpers for neurodyn's cmocka tests. */
#ifndef ND_TEST_H
#define ND_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "neurodyn/neurodyn.h"

/* Fails with both values printed unless |a-b| <= atol + rtol*|b|. */
#define nd_assert_close(a, b, atol, rtol)                                                              \
  do {                                                                                                 \
    double nd_a_ = (double)(a), nd_b_ = (double)(b);                                                   \
    if (!(fabs(nd_a_ - nd_b_) <= (atol) + (rtol)*fabs(nd_b_)))                                         \
      fail_msg("%s = %.9g, %s = %.9g (|diff| %.3g > atol %.3g + rtol %.3g)", #a, nd_a_, #b, nd_b_,    \
               fabs(nd_a_ - nd_b_), (double)(atol), (double)(rtol));                                   \
  } while (0)

/* Fails unless every element of two float arrays is close; prints the worst. */
static inline void nd_assert_arrays_close(const float *got, const float *want, int64_t n, double atol, double rtol,
                                          const char *what) {
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)want[i]);
    double excess = d - (atol + rtol * fabs((double)want[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worst_excess || isnan(excess))) {
      worst = i;
      worst_excess = excess;
    }
  }
  if (worst >= 0)
    fail_msg("%s: element %lld of %lld: got %.9g, want %.9g (atol %.3g, rtol %.3g)", what, (long long)worst,
             (long long)n, got[worst], want[worst], atol, rtol);
}

/* Status check that prints nd_last_error() on failure. */
#define nd_assert_ok(expr)                                                                  \
  do {                                                                                      \
    nd_status nd_s_ = (expr);                                                               \
    if (nd_s_ != ND_OK) fail_msg("%s -> %s: %s", #expr, nd_status_str(nd_s_), nd_last_error()); \
  } while (0)

/* nd_tensor_create / nd_tape_create for tests: fails the test on error. */
static inline nd_tensor *nd_test_tensor(int ndim, const int64_t *shape) {
  nd_tensor *t = NULL;
  nd_status s = nd_tensor_create(ndim, shape, &t);
  if (s != ND_OK) fail_msg("nd_tensor_create -> %s: %s", nd_status_str(s), nd_last_error());
  return t;
}
static inline nd_tape *nd_test_tape(size_t arena_bytes) {
  nd_tape *tp = NULL;
  nd_status s = nd_tape_create(arena_bytes, &tp);
  if (s != ND_OK) fail_msg("nd_tape_create -> %s: %s", nd_status_str(s), nd_last_error());
  return tp;
}

/* Exit code ctest treats as "skipped" (SKIP_RETURN_CODE). */
#define ND_TEST_SKIP 77

#endif
