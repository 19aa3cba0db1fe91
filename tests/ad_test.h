/* Helpers for the autodiff tests: random tensors away from kinks and a
 * gradcheck assertion that prints the worst element. */
#ifndef ND_AD_TEST_H
#define ND_AD_TEST_H

#include <math.h>
#include <string.h>

#include "nd_test.h"

/* Uniform values in [lo, hi) redrawn while within `gap` of any kink. */
static inline void ad_fill(nd_tensor *t, uint64_t seed, float lo, float hi, const float *kinks, int nk, float gap) {
  nd_rng r;
  nd_rng_init(&r, seed);
  int64_t n = nd_tensor_numel(t);
  for (int64_t j = 0; j < n; j++) {
    for (;;) {
      float v = lo + (hi - lo) * (float)nd_rng_uniform1(&r);
      bool ok = true;
      for (int k = 0; k < nk; k++)
        if (fabsf(v - kinks[k]) < gap) ok = false;
      if (ok) {
        t->data[j] = v;
        break;
      }
    }
  }
}

/* Fills t with values in (-1, 1) at least 0.1 away from 0. */
static inline void ad_fill_default(nd_tensor *t, uint64_t seed) {
  static const float zero = 0.0f;
  ad_fill(t, seed, -1.0f, 1.0f, &zero, 1, 0.1f);
}

static inline nd_tensor *ad_tensor(int ndim, const int64_t *shape, uint64_t seed) {
  nd_tensor *t = nd_test_tensor(ndim, shape);
  assert_non_null(t);
  ad_fill_default(t, seed);
  return t;
}

/* Runs nd_gradcheck with options o and fails the test with details unless it passes. */
static inline nd_gradcheck_result ad_gradcheck_opts(const char *what, nd_gradcheck_fn f, void *user, int n,
                                                    nd_tensor *const *values, const nd_gradcheck_opts *o) {
  nd_gradcheck_result r;
  nd_assert_ok(nd_gradcheck(f, user, n, values, o, &r));
  assert_true(r.checked > 0);
  if (!r.passed)
    fail_msg("%s: gradcheck failed: leaf %d element %lld analytic %.9g numeric %.9g (max abs err %.3g, max rel err "
             "%.3g, %lld checked)",
             what, r.worst_leaf, (long long)r.worst_index, r.worst_analytic, r.worst_numeric, r.max_abs_err,
             r.max_rel_err, (long long)r.checked);
  return r;
}

/* Same with a step, a per-leaf sample size (0 = all) and the default tolerances. */
#define AD_GRADCHECK_STEP(what, f, user, step_, max_per_leaf_, ...)                                 \
  do {                                                                                             \
    nd_tensor *ad_vals_[] = {__VA_ARGS__};                                                         \
    nd_gradcheck_opts ad_o_ = nd_gradcheck_default_opts();                                         \
    ad_o_.step = (step_);                                                                          \
    ad_o_.max_per_leaf = (max_per_leaf_);                                                          \
    ad_gradcheck_opts(what, f, user, (int)(sizeof ad_vals_ / sizeof ad_vals_[0]), ad_vals_, &ad_o_); \
  } while (0)

/* Runs nd_gradcheck and fails the test with details unless it passes. */
static inline nd_gradcheck_result ad_gradcheck(const char *what, nd_gradcheck_fn f, void *user, int n,
                                               nd_tensor *const *values, double atol, double rtol) {
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  o.atol = atol;
  o.rtol = rtol;
  nd_gradcheck_result r;
  nd_assert_ok(nd_gradcheck(f, user, n, values, &o, &r));
  assert_true(r.checked > 0);
  if (!r.passed)
    fail_msg("%s: gradcheck failed: leaf %d element %lld analytic %.9g numeric %.9g (max abs err %.3g, max rel err "
             "%.3g, %lld checked)",
             what, r.worst_leaf, (long long)r.worst_index, r.worst_analytic, r.worst_numeric, r.max_abs_err,
             r.max_rel_err, (long long)r.checked);
  return r;
}

#define AD_GRADCHECK(what, f, user, ...)                                                          \
  do {                                                                                             \
    nd_tensor *ad_vals_[] = {__VA_ARGS__};                                                         \
    ad_gradcheck(what, f, user, (int)(sizeof ad_vals_ / sizeof ad_vals_[0]), ad_vals_, 1e-3, 1e-2); \
  } while (0)

#endif
