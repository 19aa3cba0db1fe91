/* GEMM through CBLAS (OpenBLAS or BLIS, chosen with -DND_BLAS at configure time).
 *
 * Threading: the CPU backend keeps ONE pool of threads, OpenMP's.  The BLAS
 * library is asked to run single-threaded and large products are split into
 * column (or row) panels, one per OpenMP thread, so that OpenBLAS's pthread
 * pool and OpenMP's never both hold spinning threads.  On the tall-skinny
 * products of the Krotov rule this split is also faster than OpenBLAS's own
 * two-thread split (docs/RESULTS.md, "Kernels"). */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/cpu.h"

int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));

const void *nd__cblas_sgemm_address(void) { return (const void *)&cblas_sgemm; }

void nd__blas_single_thread(void) {
  nd__blas_core_link(); /* links blas_core.c's constructor into static builds */
  if (openblas_get_num_threads && openblas_set_num_threads && openblas_get_num_threads() != 1)
    openblas_set_num_threads(1);
}

/* k == 0 leaves C = beta*C, which some BLAS builds mishandle for NaN-filled C
 * with beta == 0; BLAS also rejects ld < 1, which k == 0 or n == 0 produce. */
#define ND__GEMM_EMPTY_K(T)                                                          \
  do {                                                                               \
    for (int64_t i = 0; i < m; i++)                                                  \
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? (T)0 : beta * c[i * ldc + j]; \
  } while (0)

/* Below this many multiply-adds one thread does the whole product. */
#define ND__GEMM_SPLIT_MIN (1 << 21)

/* The product split into nt panels along n (or m when m is larger); panel
 * widths are multiples of 16 so each keeps whole micro-kernel tiles. */
#define ND__GEMM_BODY(T, call)                                                                      \
  do {                                                                                              \
    if (m <= 0 || n <= 0) return;                                                                   \
    if (k <= 0 || alpha == 0) {                                                                     \
      ND__GEMM_EMPTY_K(T);                                                                          \
      return;                                                                                       \
    }                                                                                               \
    nd__blas_single_thread();                                                                       \
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans; \
    int nt = 1;                                                                                     \
    ND__GEMM_THREADS(nt);                                                                           \
    if (nt <= 1 || (double)m * (double)n * (double)k < ND__GEMM_SPLIT_MIN) {                        \
      call(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc); \
      return;                                                                                       \
    }                                                                                               \
    const bool by_cols = n >= m;                                                                    \
    const int64_t len = by_cols ? n : m;                                                            \
    int64_t chunk = (len + nt - 1) / nt;                                                            \
    chunk = (chunk + 15) / 16 * 16;                                                                 \
    _Pragma("omp parallel for schedule(static) num_threads(nt)")                                   \
    for (int t = 0; t < nt; t++) {                                                                  \
      int64_t lo = t * chunk, hi = lo + chunk < len ? lo + chunk : len;                             \
      if (lo >= hi) continue;                                                                       \
      if (by_cols)                                                                                  \
        call(CblasRowMajor, ta, tb, (int)m, (int)(hi - lo), (int)k, alpha, a, (int)lda,             \
             trans_b ? b + lo * ldb : b + lo, (int)ldb, beta, c + lo, (int)ldc);                    \
      else                                                                                          \
        call(CblasRowMajor, ta, tb, (int)(hi - lo), (int)n, (int)k, alpha,                          \
             trans_a ? a + lo : a + lo * lda, (int)lda, b, (int)ldb, beta, c + lo * ldc, (int)ldc); \
    }                                                                                               \
  } while (0)

#ifdef _OPENMP
#define ND__GEMM_THREADS(nt) \
  do { nt = omp_in_parallel() ? 1 : omp_get_max_threads(); } while (0)
#else
#define ND__GEMM_THREADS(nt) (void)0
#endif

void nd__cpu_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  ND__GEMM_BODY(float, cblas_sgemm);
}

void nd__cpu_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                   int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  ND__GEMM_BODY(double, cblas_dgemm);
}

void nd__cpu_sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    ND__GEMM_EMPTY_K(float);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
