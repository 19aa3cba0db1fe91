/* Row-wise softmax, log-softmax, their backward passes and cross-entropy.
 * Each row is shifted by its maximum before exponentiating (no overflow for
 * large logits); sums are accumulated in double. */
#include <math.h>

#include "backend/cpu/cpu.h"

static float row_max(const float *x, int64_t cols) {
  float m = -INFINITY;
  for (int64_t i = 0; i < cols; i++) m = fmaxf(m, x[i]);
  return m;
}

void nd__cpu_softmax(const float *x, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float m = row_max(xr, cols);
    double s = 0;
    for (int64_t i = 0; i < cols; i++) {
      yr[i] = expf(xr[i] - m);
      s += yr[i];
    }
    float inv = (float)(1.0 / s);
    for (int64_t i = 0; i < cols; i++) yr[i] *= inv;
  }
}

void nd__cpu_log_softmax(const float *x, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float m = row_max(xr, cols);
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += exp((double)(xr[i] - m));
    /* (x - m) is exact; subtracting log(s) last keeps the result accurate
     * relative to itself even when |x| is large (x - (m + log s) would carry
     * the rounding error of m + log s, an ulp of m). */
    const float ls = (float)log(s);
    for (int64_t i = 0; i < cols; i++) yr[i] = (xr[i] - m) - ls;
  }
}

void nd__cpu_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * cols, *gr = dy + r * cols;
    float *dr = dx + r * cols;
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += (double)gr[i] * yr[i];
    float sf = (float)s;
    for (int64_t i = 0; i < cols; i++) dr[i] = yr[i] * (gr[i] - sf);
  }
}

void nd__cpu_log_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * cols, *gr = dy + r * cols;
    float *dr = dx + r * cols;
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += gr[i];
    float sf = (float)s;
    for (int64_t i = 0; i < cols; i++) dr[i] = gr[i] - expf(yr[i]) * sf;
  }
}

nd_status nd__cpu_cross_entropy(const float *logits, const int32_t *labels, int64_t rows, int64_t cols, double *loss,
                                float *dlogits) {
  double total = 0;
  const double inv_rows = 1.0 / (double)rows;
#pragma omp parallel for reduction(+ : total) schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = logits + r * cols;
    float m = row_max(xr, cols);
    double s = 0;
    for (int64_t i = 0; i < cols; i++) s += exp((double)(xr[i] - m));
    double lse = m + log(s);
    total += lse - xr[labels[r]]; /* -log softmax(x)[label] */
    if (dlogits) {
      float *dr = dlogits + r * cols;
      for (int64_t i = 0; i < cols; i++) dr[i] = (float)(exp((double)xr[i] - lse) * inv_rows);
      dr[labels[r]] -= (float)inv_rows;
    }
  }
  *loss = total * inv_rows;
  return ND_OK;
}
