/* Reductions: whole-array sums in double, row-wise statistics, top-k selection. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"

#include "backend/cpu/cpu.h"

/* Blocks of double partial sums (vectorised; float -> double conversion is
 * exact, so products in dot are exact too) folded into a double total.  A
 * float partial sum would lose whole terms next to a large one (2^24 + 1). */
#define ND__BLOCK 256

double nd__cpu_sum(const float *x, int64_t n) {
  double total = 0;
  int64_t nb = (n + ND__BLOCK - 1) / ND__BLOCK;
#pragma omp parallel for reduction(+ : total) schedule(static) ND__OMP_IF(n)
  for (int64_t b = 0; b < nb; b++) {
    int64_t lo = b * ND__BLOCK, hi = lo + ND__BLOCK < n ? lo + ND__BLOCK : n;
    double part = 0;
#pragma omp simd reduction(+ : part)
    for (int64_t i = lo; i < hi; i++) part += (double)x[i];
    total += part;
  }
  return total;
}

double nd__cpu_dot(const float *a, const float *b, int64_t n) {
  double total = 0;
  int64_t nb = (n + ND__BLOCK - 1) / ND__BLOCK;
#pragma omp parallel for reduction(+ : total) schedule(static) ND__OMP_IF(n)
  for (int64_t k = 0; k < nb; k++) {
    int64_t lo = k * ND__BLOCK, hi = lo + ND__BLOCK < n ? lo + ND__BLOCK : n;
    double part = 0;
#pragma omp simd reduction(+ : part)
    for (int64_t i = lo; i < hi; i++) part += (double)a[i] * (double)b[i];
    total += part;
  }
  return total;
}

float nd__cpu_max_abs(const float *x, int64_t n) {
  float m = 0;
#pragma omp parallel for simd reduction(max : m) schedule(static) ND__OMP_IF(n)
  for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
  return m;
}

void nd__cpu_row_sum(const float *x, int64_t rows, int64_t cols, float *out) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    double acc = 0;
    for (int64_t lo = 0; lo < cols; lo += ND__BLOCK) {
      int64_t hi = lo + ND__BLOCK < cols ? lo + ND__BLOCK : cols;
      float part = 0;
#pragma omp simd reduction(+ : part)
      for (int64_t i = lo; i < hi; i++) part += xr[i];
      acc += part;
    }
    out[r] = (float)acc;
  }
}

void nd__cpu_row_mean(const float *x, int64_t rows, int64_t cols, float *out) {
  nd__cpu_row_sum(x, rows, cols, out);
  if (cols > 0)
    for (int64_t r = 0; r < rows; r++) out[r] /= (float)cols;
}

void nd__cpu_row_max(const float *x, int64_t rows, int64_t cols, float *out) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < cols; i++) m = fmaxf(m, xr[i]);
    out[r] = m;
  }
}

void nd__cpu_row_argmax(const float *x, int64_t rows, int64_t cols, int64_t *out) {
#pragma omp parallel for schedule(static) ND__OMP_IF(rows * cols)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    int64_t best = 0;
    for (int64_t i = 1; i < cols; i++)
      if (xr[i] > xr[best]) best = i;
    out[r] = best;
  }
}

/* ------------------------------------------------------------------ top-k
 * A binary min-heap of the k best (value, index) pairs seen so far, rooted at
 * the worst of them: O(cols log k) per row instead of a full sort. "Better"
 * means a larger value, or an equal value at a lower index. */
typedef struct {
  float v;
  int64_t i;
} nd__pair;

static inline bool better(nd__pair a, nd__pair b) { return a.v > b.v || (a.v == b.v && a.i < b.i); }

static void sift_down(nd__pair *h, int64_t n, int64_t at) {
  for (;;) {
    int64_t l = 2 * at + 1, r = l + 1, worst = at;
    if (l < n && better(h[worst], h[l])) worst = l;
    if (r < n && better(h[worst], h[r])) worst = r;
    if (worst == at) return;
    nd__pair t = h[at];
    h[at] = h[worst];
    h[worst] = t;
    at = worst;
  }
}

static void topk_row(const float *xr, int64_t cols, int64_t k, nd__pair *h, float *values, int64_t *indices) {
  for (int64_t i = 0; i < k; i++) h[i] = (nd__pair){xr[i], i};
  for (int64_t i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
  for (int64_t i = k; i < cols; i++) {
    nd__pair p = {xr[i], i};
    if (better(p, h[0])) {
      h[0] = p;
      sift_down(h, k, 0);
    }
  }
  /* Heap sort of the k survivors: pop the worst into the last free slot. */
  for (int64_t n = k; n > 1; n--) {
    nd__pair t = h[0];
    h[0] = h[n - 1];
    h[n - 1] = t;
    sift_down(h, n - 1, 0);
  }
  for (int64_t i = 0; i < k; i++) {
    if (values) values[i] = h[i].v;
    if (indices) indices[i] = h[i].i;
  }
}

nd_status nd__cpu_row_topk(const float *x, int64_t rows, int64_t cols, int64_t k, float *values, int64_t *indices) {
  if (k == 0 || rows == 0) return ND_OK;
  int failed = 0;
#pragma omp parallel ND__OMP_IF(rows * cols)
  {
    nd__pair *h = malloc((size_t)k * sizeof *h);
    if (!h) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++)
      if (h) topk_row(x + r * cols, cols, k, h, values ? values + r * k : NULL, indices ? indices + r * k : NULL);
    free(h);
  }
  if (failed) return nd__error(ND_ERR_NOMEM, "nd_row_topk: no memory for a heap of %lld entries", (long long)k);
  return ND_OK;
}
