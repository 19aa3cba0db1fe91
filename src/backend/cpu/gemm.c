/* GEMM through CBLAS (OpenBLAS or BLIS, chosen with -DND_BLAS at configure time). */
#include <cblas.h>

#include "backend/cpu/cpu.h"

/* k == 0 leaves C = beta*C, which some BLAS builds mishandle for NaN-filled C
 * with beta == 0; BLAS also rejects ld < 1, which k == 0 or n == 0 produce. */
#define ND__GEMM_EMPTY_K(T)                                                          \
  do {                                                                               \
    for (int64_t i = 0; i < m; i++)                                                  \
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? (T)0 : beta * c[i * ldc + j]; \
  } while (0)

void nd__cpu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    ND__GEMM_EMPTY_K(float);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void nd__cpu_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                   int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0) {
    ND__GEMM_EMPTY_K(double);
    return;
  }
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
