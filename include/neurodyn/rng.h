/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
 *
 * A stream is (key = seed, counter).  Every fill call draws block i of
 * four 32-bit words from counter c0 + i, so element j of a fill depends only on
 * (seed, c0, j): the numbers are the same whatever the thread count, and a
 * parallel fill splits blocks across threads without changing them.  After a
 * fill the counter moves past the blocks it used.
 *
 * To give independent streams to parts of a program, derive them with
 * nd_rng_split (different key), never by reseeding with seed+1. */
#ifndef NEURODYN_RNG_H
#define NEURODYN_RNG_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_rng {
  uint64_t key;      /* the seed */
  uint64_t counter;  /* next unused 128-bit block */
} nd_rng;

ND_API nd_status nd_rng_init(nd_rng *r, uint64_t seed);
/* Independent stream number `stream` derived from r's key (r is unchanged).
 * A pure function of its arguments, returned by value ({0, 0} and an error set
 * for a NULL r), as are the single draws below (0 / NaN for a NULL r). */
ND_API nd_rng nd_rng_split(const nd_rng *r, uint64_t stream);

/* One Philox block: the four 32-bit outputs for (key, counter). */
ND_API nd_status nd_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]);

ND_API uint32_t nd_rng_u32(nd_rng *r);           /* uses one block per call */
ND_API double nd_rng_uniform1(nd_rng *r);        /* one value in [0,1) */

/* Bulk fills (parallel with OpenMP for large n; thread-count independent).
 * ND_ERR_INVALID_ARG for a NULL generator, n < 0, or NULL out with n > 0. */
ND_API nd_status nd_rng_uniform(nd_rng *r, float *out, int64_t n, float lo, float hi);       /* [lo,hi) */
ND_API nd_status nd_rng_normal(nd_rng *r, float *out, int64_t n, float mean, float std);     /* Box-Muller */
ND_API nd_status nd_rng_bernoulli(nd_rng *r, float *out, int64_t n, float p);                /* 1 with prob p, else 0 */
ND_API nd_status nd_rng_uniform_f64(nd_rng *r, double *out, int64_t n, double lo, double hi);
ND_API nd_status nd_rng_normal_f64(nd_rng *r, double *out, int64_t n, double mean, double std);
/* Uniformly random permutation of 0..n-1 (Fisher-Yates, unbiased bounded ints). */
ND_API nd_status nd_rng_permutation(nd_rng *r, int64_t *perm, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
