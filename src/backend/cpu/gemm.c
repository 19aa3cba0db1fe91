/* GEMM: BLIS's expert interface with neurodyn's own context (blis_ex.c), or
 * CBLAS (OpenBLAS or BLIS, chosen with -DND_BLAS at configure time).
 *
 * Which one runs nd_sgemm/nd_dgemm (nd__gemm_path, decided once):
 *   $ND_BLAS_GEMM=blis   the BLIS expert path when this build has it;
 *   $ND_BLAS_GEMM=cblas  the linked BLAS through CBLAS, with the kernels it chose;
 *   unset or "auto"      the BLIS expert path when the CPU has AVX-512 and the
 *                        linked BLAS runs kernels without it (e.g. OpenBLAS under
 *                        OPENBLAS_CORETYPE=Haswell), CBLAS otherwise.
 * Neither changes anything for other BLAS users in the process (the
 * process-wide OpenBLAS switch of blas_core.c is opt-in, $ND_BLAS_CORETYPE).
 * Measured in docs/RESULTS.md, "Kernels".
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

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/cpu/cpu.h"

int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
char *openblas_get_corename(void) __attribute__((weak));

int nd__gemm_force = -1;

static pthread_once_t path_once = PTHREAD_ONCE_INIT;
static int path_chosen = ND__GEMM_CBLAS;

static bool cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

/* Does the CBLAS in use run AVX-512 kernels?  OpenBLAS: its core type; BLIS
 * through CBLAS: its own detection (0.9 knows no CPU after Zen 3/Skylake-X). */
static bool cblas_runs_avx512(void) {
  const char *lib = nd__blas_library();
  if (strcmp(lib, "openblas") == 0 && openblas_get_corename) {
    const char *core = openblas_get_corename();
    static const char *const fast[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; core && i < sizeof fast / sizeof fast[0]; i++)
      if (strcasecmp(core, fast[i]) == 0) return true;
    return false;
  }
  return false;
}

static void choose_path(void) {
  const char *want = getenv("ND_BLAS_GEMM");
  const bool ex = nd__blis_ex_available();
  if (want && strcasecmp(want, "cblas") == 0) path_chosen = ND__GEMM_CBLAS;
  else if (want && strcasecmp(want, "blis") == 0) path_chosen = ex ? ND__GEMM_BLIS_EX : ND__GEMM_CBLAS;
  else path_chosen = ex && cpu_has_avx512() && !cblas_runs_avx512() ? ND__GEMM_BLIS_EX : ND__GEMM_CBLAS;
}

int nd__gemm_path(void) {
  if (nd__gemm_force == ND__GEMM_CBLAS) return ND__GEMM_CBLAS;
  if (nd__gemm_force == ND__GEMM_BLIS_EX && nd__blis_ex_available()) return ND__GEMM_BLIS_EX;
  pthread_once(&path_once, choose_path);
  return path_chosen;
}

static void cblas_s(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
static void cblas_d(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t lda,
                    const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

const void *nd__cblas_sgemm_address(void) { return (const void *)&cblas_sgemm; }

/* The BLIS expert path passes its one-thread runtime per call; only the CBLAS
 * path needs OpenBLAS's own pool set to one thread (which, OpenBLAS having one
 * global setting, applies to every OpenBLAS caller in the process). */
void nd__blas_single_thread(void) {
  nd__blas_core_link(); /* links blas_core.c's constructor into static builds */
  if (nd__gemm_path() == ND__GEMM_BLIS_EX) return;
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
    __typeof__(call) call_ = call;                                                                  \
    int nt = 1;                                                                                     \
    ND__GEMM_THREADS(nt);                                                                           \
    if (nt <= 1 || (double)m * (double)n * (double)k < ND__GEMM_SPLIT_MIN) {                        \
      call_(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                        \
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
        call_(trans_a, trans_b, m, hi - lo, k, alpha, a, lda, trans_b ? b + lo * ldb : b + lo, ldb, beta, \
              c + lo, ldc);                                                                         \
      else                                                                                          \
        call_(trans_a, trans_b, hi - lo, n, k, alpha, trans_a ? a + lo : a + lo * lda, lda, b, ldb, beta, \
              c + lo * ldc, ldc);                                                                   \
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
  ND__GEMM_BODY(float, nd__gemm_path() == ND__GEMM_BLIS_EX ? nd__blis_ex_sgemm : cblas_s);
}

void nd__cpu_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                   int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  ND__GEMM_BODY(double, nd__gemm_path() == ND__GEMM_BLIS_EX ? nd__blis_ex_dgemm : cblas_d);
}

void nd__cpu_sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    ND__GEMM_EMPTY_K(float);
    return;
  }
  if (nd__gemm_path() == ND__GEMM_BLIS_EX)
    nd__blis_ex_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_s(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
