/* GEMM through BLIS's expert interface with a context chosen by neurodyn.
 *
 * BLIS (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating
 * BLAS Functionality", ACM TOMS 41(3), 2015) takes, with every call of its
 * expert ("_ex") API, a context (cntx_t: the micro-kernels and block sizes of
 * one sub-configuration) and a runtime object (rntm_t: the thread count).
 * neurodyn links its own private copy of BLIS (the static archive, its symbols
 * hidden in libneurodyn.so: CMakeLists.txt, ND_BLIS_EX) and passes, per call,
 * the context of the sub-configuration that fits the CPU (skx on AVX-512
 * F/BW/DQ/VL, haswell on AVX2 + FMA) and one thread (gemm.c splits the
 * product across its OpenMP threads).  Nothing is changed for the rest of the
 * process: no environment variable, no global kernel table of OpenBLAS or of
 * any other BLIS; LAPACK and other BLAS callers in the process keep theirs.
 *
 * Why: a DYNAMIC_ARCH OpenBLAS picks its kernels once, when it loads, from
 * $OPENBLAS_CORETYPE or its CPU detection; environments that pin
 * OPENBLAS_CORETYPE=Haswell (older OpenBLAS builds miscompute on some recent
 * CPUs) run AVX2 kernels on AVX-512 CPUs at about half the speed, and BLIS
 * 0.9's own detection does not know recent CPU families (generic kernels).
 * docs/RESULTS.md, "Kernels", measures the options side by side. */
#include "backend/cpu/cpu.h"

#ifdef ND_BLIS_EX
#include <blis.h>
#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cntx_t *ctx;               /* NULL: the expert path is not available */
static const char *ctx_name = ""; /* "skx", "haswell" */

static void init(void) {
  arch_t want;
  const char *name;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    want = BLIS_ARCH_SKX, name = "skx";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = BLIS_ARCH_HASWELL, name = "haswell";
  else
    return;
#else
  return;
#endif
  bli_init();
  cntx_t *c = bli_gks_lookup_nat_cntx(want); /* NULL if this BLIS has no such sub-configuration */
  if (!c) return;
  ctx_name = name;
  ctx = c;
}

bool nd__blis_ex_available(void) {
  pthread_once(&once, init);
  return ctx != NULL;
}

const char *nd__blis_ex_arch(void) {
  pthread_once(&once, init);
  return ctx_name;
}

/* Row-major C = alpha op(A) op(B) + beta C on one thread; the strides describe
 * the stored matrices (row stride ld, column stride 1), trans the op. */
#define ND__BLIS_EX(T, fn)                                                                                          \
  do {                                                                                                              \
    rntm_t rntm = BLIS_RNTM_INITIALIZER;                                                                            \
    bli_rntm_set_num_threads(1, &rntm);                                                                             \
    T al = alpha, be = beta;                                                                                        \
    fn(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, \
       (dim_t)k, &al, (T *)a, (inc_t)lda, 1, (T *)b, (inc_t)ldb, 1, &be, c, (inc_t)ldc, 1, ctx, &rntm);             \
  } while (0)

void nd__blis_ex_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  ND__BLIS_EX(float, bli_sgemm_ex);
}

void nd__blis_ex_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                       int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  ND__BLIS_EX(double, bli_dgemm_ex);
}

#else /* built without BLIS's static library (-DND_BLIS_EX=OFF) */

bool nd__blis_ex_available(void) { return false; }
const char *nd__blis_ex_arch(void) { return ""; }
void nd__blis_ex_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
  (void)beta, (void)c, (void)ldc;
}
void nd__blis_ex_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                       int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb;
  (void)beta, (void)c, (void)ldc;
}

#endif
