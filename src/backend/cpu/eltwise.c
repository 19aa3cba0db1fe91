/* Elementwise kernels: activations and their derivatives, binary ops, biases. */
#include <math.h>

#include "backend/cpu/cpu.h"

static inline float softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
static inline float sigmoid(float x) {
  /* exp of a non-positive argument only, so large |x| neither overflows nor gives NaN */
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}
static inline float signf(float x) { return (float)((x > 0) - (x < 0)); }

/* x^p for x > 0 when 2p is a small integer (Krotov-Hopfield's n = 4.5, p = 3):
 * repeated products times one sqrt are exact to a few ulp and several times
 * cheaper than powf, which dominated the rectified-power layers' time. */
static inline bool half_integer_power(float p, int *whole, bool *half) {
  float twice = 2.0f * p;
  if (!(twice >= 2.0f && twice <= 32.0f) || twice != (float)(int)twice) return false;
  *whole = (int)twice / 2;
  *half = ((int)twice & 1) != 0;
  return true;
}
static inline float ipow_sqrt(float x, int whole, bool half) {
  float r = half ? sqrtf(x) : 1.0f;
  for (int k = 0; k < whole; k++) r *= x;
  return r;
}


/* One loop per op so each vectorises; the OpenMP threshold avoids a fork for short arrays. */
#define ND__LOOP(n, body)                                            \
  do {                                                               \
    if ((n) >= ND__OMP_MIN) {                                        \
      _Pragma("omp parallel for simd schedule(static)") for (int64_t i = 0; i < (n); i++) { body; } \
    } else {                                                         \
      _Pragma("omp simd") for (int64_t i = 0; i < (n); i++) { body; } \
    }                                                                \
  } while (0)

void nd__cpu_unary(nd_unary_op op, float p, const float *x, float *y, int64_t n) {
  switch (op) {
  case ND_RELU: ND__LOOP(n, y[i] = x[i] > 0 ? x[i] : 0.0f); break;
  case ND_LEAKY_RELU: ND__LOOP(n, y[i] = x[i] >= 0 ? x[i] : p * x[i]); break;
  case ND_TANH: ND__LOOP(n, y[i] = tanhf(x[i])); break;
  case ND_SIGMOID: ND__LOOP(n, y[i] = sigmoid(x[i])); break;
  case ND_SOFTPLUS: ND__LOOP(n, y[i] = softplus(x[i])); break;
  case ND_ABS: ND__LOOP(n, y[i] = fabsf(x[i])); break;
  case ND_SIGN: ND__LOOP(n, y[i] = signf(x[i])); break;
  case ND_POW: ND__LOOP(n, y[i] = signf(x[i]) * powf(fabsf(x[i]), p)); break;
  case ND_RELU_POW: {
    int whole;
    bool half;
    if (half_integer_power(p, &whole, &half))
      ND__LOOP(n, y[i] = x[i] > 0 ? ipow_sqrt(x[i], whole, half) : 0.0f);
    else
      ND__LOOP(n, y[i] = x[i] > 0 ? powf(x[i], p) : 0.0f);
    break;
  }
  case ND_SOFT_THRESHOLD: ND__LOOP(n, y[i] = signf(x[i]) * fmaxf(fabsf(x[i]) - p, 0.0f)); break;
  case ND_HARD_THRESHOLD: ND__LOOP(n, y[i] = fabsf(x[i]) > p ? x[i] : 0.0f); break;
  case ND_NONNEG_THRESHOLD: ND__LOOP(n, y[i] = fmaxf(x[i] - p, 0.0f)); break;
  case ND_EXP: ND__LOOP(n, y[i] = expf(x[i])); break;
  case ND_LOG: ND__LOOP(n, y[i] = logf(x[i])); break;
  case ND_SQUARE: ND__LOOP(n, y[i] = x[i] * x[i]); break;
  default: break;
  }
}

/* Derivative f'(x) (with y = f(x) where that is cheaper), then dx = dy*f' + beta*dx. */
#define ND__BWD(n, deriv)                                                                    \
  do {                                                                                       \
    if (beta == 0.0f)                                                                        \
      ND__LOOP(n, dx[i] = dy[i] * (deriv));                                                  \
    else                                                                                     \
      ND__LOOP(n, dx[i] = dy[i] * (deriv) + beta * dx[i]);                                   \
  } while (0)

static inline float pow_deriv(float x, float p) {
  float a = fabsf(x);
  if (a == 0.0f) return p == 1.0f ? 1.0f : 0.0f; /* subgradient 0 where |x|^(p-1) blows up */
  return p * powf(a, p - 1.0f);
}

void nd__cpu_unary_backward(nd_unary_op op, float p, const float *x, const float *y, const float *dy, float beta,
                            float *dx, int64_t n) {
  switch (op) {
  case ND_RELU: ND__BWD(n, x[i] > 0 ? 1.0f : 0.0f); break;
  case ND_LEAKY_RELU: ND__BWD(n, x[i] >= 0 ? 1.0f : p); break;
  case ND_TANH:
    if (y) ND__BWD(n, 1.0f - y[i] * y[i]);
    else ND__BWD(n, 1.0f - tanhf(x[i]) * tanhf(x[i]));
    break;
  case ND_SIGMOID:
    if (y) ND__BWD(n, y[i] * (1.0f - y[i]));
    else ND__BWD(n, sigmoid(x[i]) * (1.0f - sigmoid(x[i])));
    break;
  case ND_SOFTPLUS: ND__BWD(n, sigmoid(x[i])); break;
  case ND_ABS: ND__BWD(n, signf(x[i])); break;
  case ND_SIGN: ND__BWD(n, 0.0f); break;
  case ND_POW: ND__BWD(n, pow_deriv(x[i], p)); break;
  case ND_RELU_POW:
    /* p x^(p-1) = p y / x reuses the forward value; only for p >= 1, where y/x cannot blow up */
    if (y && p >= 1.0f) ND__BWD(n, x[i] > 0 ? p * (y[i] / x[i]) : 0.0f);
    else ND__BWD(n, x[i] > 0 ? pow_deriv(x[i], p) : 0.0f);
    break;
  case ND_SOFT_THRESHOLD: ND__BWD(n, fabsf(x[i]) > p ? 1.0f : 0.0f); break;
  case ND_HARD_THRESHOLD: ND__BWD(n, fabsf(x[i]) > p ? 1.0f : 0.0f); break;
  case ND_NONNEG_THRESHOLD: ND__BWD(n, x[i] > p ? 1.0f : 0.0f); break;
  case ND_EXP:
    if (y) ND__BWD(n, y[i]);
    else ND__BWD(n, expf(x[i]));
    break;
  case ND_LOG: ND__BWD(n, 1.0f / x[i]); break;
  case ND_SQUARE: ND__BWD(n, 2.0f * x[i]); break;
  default: break;
  }
}

void nd__cpu_prelu_forward(const float *x, const float *slope, int64_t outer, int64_t channels, int64_t inner,
                           float *y) {
  int64_t rows = outer * channels;
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * inner)
  for (int64_t r = 0; r < rows; r++) {
    float a = slope[r % channels];
    const float *xr = x + r * inner;
    float *yr = y + r * inner;
    for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] >= 0 ? xr[i] : a * xr[i];
  }
}

void nd__cpu_prelu_backward(const float *x, const float *slope, const float *dy, int64_t outer, int64_t channels,
                            int64_t inner, float *dx, float *dslope) {
  /* Channels in parallel: each thread owns its dslope[c], so no reduction races. */
#pragma omp parallel for schedule(static) ND__OMP_IF(outer * channels * inner)
  for (int64_t c = 0; c < channels; c++) {
    float a = slope[c];
    double acc = 0;
    for (int64_t o = 0; o < outer; o++) {
      int64_t off = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; i++) {
        float xv = x[off + i], g = dy[off + i];
        if (xv >= 0) {
          dx[off + i] = g;
        } else {
          dx[off + i] = a * g;
          acc += (double)g * xv;
        }
      }
    }
    dslope[c] += (float)acc;
  }
}

void nd__cpu_add(const float *a, const float *b, float *y, int64_t n) { ND__LOOP(n, y[i] = a[i] + b[i]); }
void nd__cpu_sub(const float *a, const float *b, float *y, int64_t n) { ND__LOOP(n, y[i] = a[i] - b[i]); }
void nd__cpu_mul(const float *a, const float *b, float *y, int64_t n) { ND__LOOP(n, y[i] = a[i] * b[i]); }
void nd__cpu_div(const float *a, const float *b, float *y, int64_t n) { ND__LOOP(n, y[i] = a[i] / b[i]); }
void nd__cpu_axpy(float alpha, const float *x, float *y, int64_t n) { ND__LOOP(n, y[i] += alpha * x[i]); }
void nd__cpu_scale(float alpha, float *y, int64_t n) { ND__LOOP(n, y[i] *= alpha); }

void nd__cpu_add_channel_bias(float *x, const float *bias, int64_t outer, int64_t channels, int64_t inner) {
  if (inner == 1) {
#pragma omp parallel for schedule(static) ND__OMP_IF(outer * channels)
    for (int64_t o = 0; o < outer; o++) {
      float *xr = x + o * channels;
#pragma omp simd
      for (int64_t c = 0; c < channels; c++) xr[c] += bias[c];
    }
    return;
  }
  int64_t rows = outer * channels;
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * inner)
  for (int64_t r = 0; r < rows; r++) {
    float b = bias[r % channels];
    float *xr = x + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; i++) xr[i] += b;
  }
}

/* inner == 1 (a linear layer's bias): the column sums of dy [outer, channels]
 * row by row, contiguous and vectorised, over blocks of CSUM_BLOCK channels;
 * each channel's double total adds the rows in the same order as
 * nd__cpu_channel_sum_rows, so the result is the same number. */
#define CSUM_BLOCK 256
static void column_sums(const float *dy, int64_t outer, int64_t channels, float beta, float *db) {
  int64_t blocks = (channels + CSUM_BLOCK - 1) / CSUM_BLOCK;
#pragma omp parallel for schedule(static) ND__OMP_IF(outer * channels)
  for (int64_t blk = 0; blk < blocks; blk++) {
    int64_t c0 = blk * CSUM_BLOCK, nc = channels - c0 < CSUM_BLOCK ? channels - c0 : CSUM_BLOCK;
    double acc[CSUM_BLOCK];
    for (int64_t c = 0; c < nc; c++) acc[c] = 0.0;
    for (int64_t o = 0; o < outer; o++) {
      const float *r = dy + o * channels + c0;
#pragma omp simd
      for (int64_t c = 0; c < nc; c++) acc[c] += (double)r[c];
    }
    for (int64_t c = 0; c < nc; c++) nd__cpu_store_beta(&db[c0 + c], (float)acc[c], beta);
  }
}

void nd__cpu_channel_sum(const float *dy, int64_t outer, int64_t channels, int64_t inner, float beta, float *db) {
  if (inner == 1) {
    column_sums(dy, outer, channels, beta, db);
    return;
  }
#pragma omp parallel for schedule(static) ND__OMP_IF(outer * channels * inner)
  for (int64_t c = 0; c < channels; c++) nd__cpu_channel_sum_rows(dy, outer, channels, inner, c, c + 1, beta, db);
}

void nd__cpu_channel_sum_rows(const float *dy, int64_t outer, int64_t channels, int64_t inner, int64_t c0, int64_t c1,
                              float beta, float *db) {
  for (int64_t c = c0; c < c1; c++) {
    double acc = 0;
    for (int64_t o = 0; o < outer; o++) {
      const float *r = dy + (o * channels + c) * inner;
      float part = 0; /* short float partial sums vectorise; the total is kept in double */
#pragma omp simd reduction(+ : part)
      for (int64_t i = 0; i < inner; i++) part += r[i];
      acc += part;
    }
    nd__cpu_store_beta(&db[c], (float)acc, beta);
  }
}
