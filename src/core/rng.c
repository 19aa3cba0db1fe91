/* Philox4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11). See rng.h. */
#include <math.h>

#include "core/internal.h"
#include "neurodyn/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
/* Fills smaller than this run on one thread: the OpenMP start-up costs more. */
#define PARALLEL_MIN_BLOCKS 16384

static inline void philox(uint64_t key, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

nd_status nd_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "philox4x32: output is NULL");
  philox(key, counter, out);
  return ND_OK;
}

nd_status nd_rng_init(nd_rng *r, uint64_t seed) {
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "rng init: generator is NULL");
  r->key = seed;
  r->counter = 0;
  return ND_OK;
}

nd_rng nd_rng_split(const nd_rng *r, uint64_t stream) {
  if (!r) {
    nd__error(ND_ERR_INVALID_ARG, "rng split: generator is NULL");
    return (nd_rng){0, 0};
  }
  /* Mix the stream number into a new key with one Philox block. */
  uint32_t b[4];
  philox(r->key, ~stream, b);
  nd_rng s = {((uint64_t)b[0] << 32 | b[1]) ^ (stream * 0x9E3779B97F4A7C15ull), 0};
  return s;
}

static inline float u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); } /* [0,1) */
static inline float u32_to_open(uint32_t u) { return ((float)(u >> 8) + 1.0f) * (1.0f / 16777216.0f); } /* (0,1] */
static inline double u64_to_unit(uint32_t hi, uint32_t lo) {
  return (double)(((uint64_t)hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0); /* 53 bits, [0,1) */
}

uint32_t nd_rng_u32(nd_rng *r) {
  if (!r) {
    nd__error(ND_ERR_INVALID_ARG, "rng: generator is NULL");
    return 0;
  }
  uint32_t b[4];
  philox(r->key, r->counter++, b);
  return b[0];
}

double nd_rng_uniform1(nd_rng *r) {
  if (!r) {
    nd__error(ND_ERR_INVALID_ARG, "rng: generator is NULL");
    return NAN;
  }
  uint32_t b[4];
  philox(r->key, r->counter++, b);
  return u64_to_unit(b[0], b[1]);
}

static nd_status check_fill(const nd_rng *r, const void *out, int64_t n, const char *what) {
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "%s: generator is NULL", what);
  if (n < 0) return nd__error(ND_ERR_INVALID_ARG, "%s: negative count %lld", what, (long long)n);
  if (n > 0 && !out) return nd__error(ND_ERR_INVALID_ARG, "%s: output is NULL for %lld values", what, (long long)n);
  return ND_OK;
}

/* Each fill maps block i (counter c0 + i) to elements [per*i, per*i + per). */
#define BLOCK_FILL(r, n, per, ...)                                                \
  do {                                                                           \
    const int64_t nblocks_ = ((n) + (per)-1) / (per);                            \
    const uint64_t c0_ = (r)->counter, key_ = (r)->key;                          \
    _Pragma("omp parallel for schedule(static) if (nblocks_ >= PARALLEL_MIN_BLOCKS)") \
    for (int64_t blk = 0; blk < nblocks_; blk++) {                               \
      uint32_t b[4];                                                             \
      philox(key_, c0_ + (uint64_t)blk, b);                               \
      const int64_t base = blk * (per);                                          \
      const int64_t cnt = (n)-base < (per) ? (n)-base : (per);                   \
      __VA_ARGS__;                                                               \
    }                                                                            \
    (r)->counter += (uint64_t)nblocks_;                                          \
  } while (0)

nd_status nd_rng_uniform(nd_rng *r, float *out, int64_t n, float lo, float hi) {
  ND_TRY(check_fill(r, out, n, "rng uniform"));
  const float span = hi - lo;
  BLOCK_FILL(r, n, 4, for (int64_t j = 0; j < cnt; j++) out[base + j] = lo + span * u32_to_unit(b[j]));
  return ND_OK;
}

nd_status nd_rng_bernoulli(nd_rng *r, float *out, int64_t n, float p) {
  ND_TRY(check_fill(r, out, n, "rng bernoulli"));
  BLOCK_FILL(r, n, 4, for (int64_t j = 0; j < cnt; j++) out[base + j] = u32_to_unit(b[j]) < p ? 1.0f : 0.0f);
  return ND_OK;
}

/* Box-Muller: two uniforms give two independent normals. */
static inline void box_muller(double u1, double u2, double *z0, double *z1) {
  double rad = sqrt(-2.0 * log(u1));
  double ang = 6.283185307179586 * u2;
  *z0 = rad * cos(ang);
  *z1 = rad * sin(ang);
}

nd_status nd_rng_normal(nd_rng *r, float *out, int64_t n, float mean, float std) {
  ND_TRY(check_fill(r, out, n, "rng normal"));
  BLOCK_FILL(r, n, 4, {
    double z[4];
    box_muller(u32_to_open(b[0]), u32_to_unit(b[1]), &z[0], &z[1]);
    box_muller(u32_to_open(b[2]), u32_to_unit(b[3]), &z[2], &z[3]);
    for (int64_t j = 0; j < cnt; j++) out[base + j] = mean + std * (float)z[j];
  });
  return ND_OK;
}

nd_status nd_rng_uniform_f64(nd_rng *r, double *out, int64_t n, double lo, double hi) {
  ND_TRY(check_fill(r, out, n, "rng uniform_f64"));
  const double span = hi - lo;
  BLOCK_FILL(r, n, 2, {
    if (cnt > 0) out[base] = lo + span * u64_to_unit(b[0], b[1]);
    if (cnt > 1) out[base + 1] = lo + span * u64_to_unit(b[2], b[3]);
  });
  return ND_OK;
}

nd_status nd_rng_normal_f64(nd_rng *r, double *out, int64_t n, double mean, double std) {
  ND_TRY(check_fill(r, out, n, "rng normal_f64"));
  BLOCK_FILL(r, n, 2, {
    double z0, z1;
    box_muller(1.0 - u64_to_unit(b[0], b[1]), u64_to_unit(b[2], b[3]), &z0, &z1);
    if (cnt > 0) out[base] = mean + std * z0;
    if (cnt > 1) out[base + 1] = mean + std * z1;
  });
  return ND_OK;
}

/* Unbiased integer in [0, bound) (Lemire's multiply-shift with rejection). */
static uint64_t bounded(nd_rng *r, uint64_t bound) {
  for (;;) {
    uint32_t b[4];
    philox(r->key, r->counter++, b);
    uint64_t x = (uint64_t)b[0] << 32 | b[1];
    unsigned __int128 m = (unsigned __int128)x * bound;
    uint64_t low = (uint64_t)m;
    if (low >= bound || low >= (0 - bound) % bound) return (uint64_t)(m >> 64);
  }
}

nd_status nd_rng_permutation(nd_rng *r, int64_t *perm, int64_t n) {
  ND_TRY(check_fill(r, perm, n, "rng permutation"));
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)bounded(r, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return ND_OK;
}
