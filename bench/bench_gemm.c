/* SGEMM throughput: nd_sgemm (the CPU backend: BLAS single-threaded under
 * OpenMP, panels split across threads) against a direct cblas_sgemm call
 * (the BLAS library's own threading, same thread count) on the same operands.
 * One JSON line per shape and implementation, then a ratio line.
 *
 * Shapes: square 512, 1024, 2048, and the tall-skinny products of the
 * Krotov-Hopfield rule (minibatch-of-hidden-units x 784 inputs: 2000x784 times
 * 784xN, N = 100, 200, 500, 1000), plus its transposed update product
 * (2000xB times Bx784 with A transposed, B = 100) and the product as the rule
 * calls it (minibatch 100 x 2000 hidden units x 784 inputs, B transposed).
 *
 *   bench_gemm [--threads 2] [--min-time 0.3] [--shapes all|square|krotov] [--clock wall|cpu]
 *
 * The BLAS and kernels that run nd_sgemm (nd_backend_blas_name/core: the BLIS
 * expert path or the linked BLAS, $ND_BLAS_GEMM) and OPENBLAS_CORETYPE (which
 * the direct cblas_sgemm calls follow) are printed in every line, so runs
 * with different choices (bench/gemm_cores.sh, docs/RESULTS.md) can be compared. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/backend.h"
#include "neurodyn/kernels.h"

int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
void bli_thread_set_num_threads(long) __attribute__((weak));

static void blas_threads(int n) {
  if (openblas_set_num_threads) openblas_set_num_threads(n);
  if (bli_thread_set_num_threads) bli_thread_set_num_threads(n);
}

/* Repeats body until min_time has passed (at least 3 times, after one warm-up
 * run); returns the fastest single run. */
#define TIME_UNTIL(result, min_time, body)                   \
  do {                                                       \
    body;                                                    \
    double best_ = 1e30, start_ = bench_now();               \
    int n_ = 0;                                              \
    while (n_ < 3 || bench_now() - start_ < (min_time)) {    \
      double t0_ = bench_now();                              \
      body;                                                  \
      double t_ = bench_now() - t0_;                         \
      if (t_ < best_) best_ = t_;                            \
      n_++;                                                  \
    }                                                        \
    (result) = best_;                                        \
  } while (0)

typedef struct {
  const char *kind;
  int ta, tb;
  int64_t m, n, k;
} shape;

int main(int argc, char **argv) {
  const int threads = atoi(bench_arg(argc, argv, "--threads", "2"));
  const double min_time = atof(bench_arg(argc, argv, "--min-time", "0.3"));
  const char *which = bench_arg(argc, argv, "--shapes", "all");
  const char *clock_name = bench_use_clock(bench_arg(argc, argv, "--clock", "wall"));
  nd_set_num_threads(threads);
  const shape shapes[] = {
      {"square", 0, 0, 512, 512, 512},   {"square", 0, 0, 1024, 1024, 1024}, {"square", 0, 0, 2048, 2048, 2048},
      {"krotov", 0, 1, 2000, 100, 784},  {"krotov", 0, 1, 2000, 200, 784},   {"krotov", 0, 1, 2000, 500, 784},
      {"krotov", 0, 1, 2000, 1000, 784}, {"krotov", 1, 0, 2000, 784, 100},  {"krotov", 0, 1, 100, 2000, 784},
  };
  const char *env_core = getenv("OPENBLAS_CORETYPE");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const shape *s = &shapes[i];
    if (strcmp(which, "all") != 0 && strcmp(which, s->kind) != 0) continue;
    /* op(A) is m x k, op(B) is k x n; stored row-major with the transposes applied. */
    const int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    float *a = bench_rand((size_t)(s->m * s->k), 1), *b = bench_rand((size_t)(s->k * s->n), 2);
    float *c = bench_rand((size_t)(s->m * s->n), 3);
    const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    double t_nd, t_blas;
    TIME_UNTIL(t_nd, min_time, nd_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n));
    blas_threads(threads);
    TIME_UNTIL(t_blas, min_time,
               cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                           (int)s->m, (int)s->n, (int)s->k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)s->n));
    char name[96];
    snprintf(name, sizeof name, "%s%s %lldx%lldx%lld", s->ta ? "T" : "N", s->tb ? "T" : "N", (long long)s->m,
             (long long)s->n, (long long)s->k);
    const char *impls[2] = {"neurodyn", "cblas"};
    const double ts[2] = {t_nd, t_blas};
    for (int j = 0; j < 2; j++)
      printf("{\"bench\":\"sgemm\",\"impl\":\"%s\",\"kind\":\"%s\",\"shape\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f,"
             "\"threads\":%d,\"clock\":\"%s\",\"blas\":\"%s\",\"blas_core\":\"%s\",\"OPENBLAS_CORETYPE\":\"%s\"}\n",
             impls[j], s->kind, name, ts[j] * 1e3, flops / ts[j] * 1e-9, threads, clock_name, nd_backend_blas_name(),
             nd_backend_blas_core(), env_core ? env_core : "(unset)");
    printf("{\"bench\":\"sgemm_ratio\",\"shape\":\"%s\",\"neurodyn_over_cblas_time\":%.3f}\n", name, t_nd / t_blas);
    fflush(stdout);
    free(a), free(b), free(c);
  }
  return 0;
}
