/* CPU backend internals: one nd__cpu_<name> per kernel of kernels.h (same
 * signature), plus helpers shared by the CPU source files. */
#ifndef NEURODYN_BACKEND_CPU_H
#define NEURODYN_BACKEND_CPU_H

#include "neurodyn/kernels.h"

/* Arrays shorter than this run on one thread: an OpenMP fork/join costs a few
 * microseconds, about what one core needs for this many simple flops. */
#define ND__OMP_MIN 32768
#define ND__OMP_IF(n) if ((n) >= ND__OMP_MIN)

#define ND__CPU_DECL(name) __typeof__(nd_##name) nd__cpu_##name
ND__CPU_DECL(sgemm);
ND__CPU_DECL(dgemm);
ND__CPU_DECL(conv2d_workspace_floats);
ND__CPU_DECL(conv2d_forward);
ND__CPU_DECL(conv2d_backward_data);
ND__CPU_DECL(conv2d_backward_filter);
ND__CPU_DECL(conv_transpose2d_forward);
ND__CPU_DECL(avgpool2d_forward);
ND__CPU_DECL(avgpool2d_backward);
ND__CPU_DECL(adaptive_avgpool2d_forward);
ND__CPU_DECL(adaptive_avgpool2d_backward);
ND__CPU_DECL(unary);
ND__CPU_DECL(unary_backward);
ND__CPU_DECL(prelu_forward);
ND__CPU_DECL(prelu_backward);
ND__CPU_DECL(add);
ND__CPU_DECL(sub);
ND__CPU_DECL(mul);
ND__CPU_DECL(div);
ND__CPU_DECL(axpy);
ND__CPU_DECL(scale);
ND__CPU_DECL(add_channel_bias);
ND__CPU_DECL(channel_sum);
ND__CPU_DECL(sum);
ND__CPU_DECL(dot);
ND__CPU_DECL(max_abs);
ND__CPU_DECL(row_sum);
ND__CPU_DECL(row_mean);
ND__CPU_DECL(row_max);
ND__CPU_DECL(row_argmax);
ND__CPU_DECL(row_topk);
ND__CPU_DECL(softmax);
ND__CPU_DECL(log_softmax);
ND__CPU_DECL(softmax_backward);
ND__CPU_DECL(log_softmax_backward);
ND__CPU_DECL(cross_entropy);

/* The cblas_sgemm the backend calls, and which library it lives in:
 * "openblas", "blis" or "unknown" (by the file name of its shared object, so
 * the answer is right when both libraries are loaded, e.g. BLIS for GEMM and
 * OpenBLAS through LAPACK). */
const void *nd__cblas_sgemm_address(void);
const char *nd__blas_library(void);

/* Does nothing; calling it links the opt-in load-time OpenBLAS kernel
 * switch (blas_core.c, $ND_BLAS_CORETYPE) into static builds. */
void nd__blas_core_link(void);

/* Which GEMM runs nd_sgemm/nd_dgemm and nd__cpu_sgemm_serial (gemm.c):
 * BLIS's expert API with neurodyn's context (blis_ex.c) or the linked CBLAS.
 * nd__gemm_force (tests): -1 = the choice of gemm.c, else one of these. */
enum { ND__GEMM_CBLAS = 0, ND__GEMM_BLIS_EX = 1 };
int nd__gemm_path(void);
extern int nd__gemm_force;

/* blis_ex.c: true when this build carries BLIS and it has a context for this
 * CPU ("skx" on AVX-512 F/BW/DQ/VL, "haswell" on AVX2 + FMA); one-thread
 * products with that context. */
bool nd__blis_ex_available(void);
const char *nd__blis_ex_arch(void);
void nd__blis_ex_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
void nd__blis_ex_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                       int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc);

/* BLAS runs single-threaded under the backend's OpenMP pool (gemm.c). */
void nd__blas_single_thread(void);
/* One-thread GEMM for callers that parallelise over several products
 * themselves (call nd__blas_single_thread() before the parallel region). */
void nd__cpu_sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* nd__cpu_channel_sum for channels c0..c1-1 only, serial (callers inside a parallel region). */
void nd__cpu_channel_sum_rows(const float *dy, int64_t outer, int64_t channels, int64_t inner, int64_t c0, int64_t c1,
                              float beta, float *db);

static inline int64_t ND__MINI(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ND__MAXI(int64_t a, int64_t b) { return a > b ? a : b; }

/* y = beta*y + x, with beta == 0 overwriting (y may hold NaN). */
static inline void nd__cpu_store_beta(float *y, float v, float beta) { *y = beta == 0.0f ? v : v + beta * *y; }

#endif
