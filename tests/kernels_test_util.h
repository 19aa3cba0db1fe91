/* Small helpers shared by the tests/test_kernels_*.c programs (header only). */
#ifndef ND_KERNELS_TEST_UTIL_H
#define ND_KERNELS_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Deterministic uniform numbers in [lo, hi) (64-bit LCG, top 24 bits). */
static uint64_t kt_state = 0x9E3779B97F4A7C15ull;
static inline void kt_seed(uint64_t s) { kt_state = s * 0x9E3779B97F4A7C15ull + 1; }
static inline float kt_uniform(float lo, float hi) {
  kt_state = kt_state * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (float)((kt_state >> 40) * (1.0 / 16777216.0));
}
static inline int64_t kt_int(int64_t lo, int64_t hi) { /* inclusive */
  return lo + (int64_t)(kt_uniform(0, 1) * (float)(hi - lo + 1)) % (hi - lo + 1);
}
static inline float *kt_rand(int64_t n, float lo, float hi) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = kt_uniform(lo, hi);
  return p;
}
static inline float *kt_fill(int64_t n, float v) {
  float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  for (int64_t i = 0; i < n; i++) p[i] = v;
  return p;
}
static inline double kt_max_abs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
  return m;
}
static inline double kt_dot(const float *a, const float *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

#endif
