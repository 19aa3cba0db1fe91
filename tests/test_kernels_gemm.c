/* nd_sgemm / nd_dgemm against a naive triple loop in double (long double for
 * dgemm): every transpose combination, alpha/beta, leading dimensions larger
 * than the row length, odd m, n, k, degenerate sizes, and products large
 * enough to take the multi-threaded panel split of gemm.c. */
#include <string.h>
#include <strings.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "neurodyn/backend.h"
#include "neurodyn/kernels.h"

/* C[i,j] = alpha * sum_p op(A)[i,p] op(B)[p,j] + beta * C0[i,j] */
static double ref_at(bool ta, bool tb, int64_t i, int64_t j, int64_t k, const double *a, int64_t lda, const double *b,
                     int64_t ldb) {
  long double s = 0;
  for (int64_t p = 0; p < k; p++) {
    double av = ta ? a[p * lda + i] : a[i * lda + p];
    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
    s += (long double)av * bv;
  }
  return (double)s;
}

/* Runs one product in float and in double and checks both. */
static void check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, double beta, int64_t pad) {
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  const int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
  const int64_t na = ar * lda, nb = br * ldb, nc = m * ldc;
  float *af = kt_rand(na, -1, 1), *bf = kt_rand(nb, -1, 1), *c0 = kt_rand(nc, -1, 1);
  float *cf = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *cf);
  double *ad = malloc((size_t)(na > 0 ? na : 1) * sizeof *ad), *bd = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *bd);
  double *cd = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *cd);
  for (int64_t i = 0; i < na; i++) ad[i] = af[i];
  for (int64_t i = 0; i < nb; i++) bd[i] = bf[i];
  for (int64_t i = 0; i < nc; i++) {
    /* beta == 0 must overwrite: start from NaN there (padding columns keep c0). */
    bool in = i % ldc < n;
    cf[i] = beta == 0 && in ? NAN : c0[i];
    cd[i] = beta == 0 && in ? NAN : c0[i];
  }
  nd_sgemm(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
  nd_dgemm(ta, tb, m, n, k, alpha, ad, lda, bd, ldb, beta, cd, ldc);
  const double tol_f = 1e-6 * (double)(k + 4), tol_d = 1e-14 * (double)(k + 4);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < ldc; j++) {
      const int64_t at = i * ldc + j;
      if (j >= n) { /* padding columns untouched */
        if (cf[at] != c0[at] || cd[at] != (double)c0[at])
          fail_msg("ta=%d tb=%d %lldx%lldx%lld: padding column %lld of row %lld was written", ta, tb, (long long)m,
                   (long long)n, (long long)k, (long long)j, (long long)i);
        continue;
      }
      double want = alpha * ref_at(ta, tb, i, j, k, ad, lda, bd, ldb) + (beta == 0 ? 0 : beta * c0[at]);
      double scale = fabs(alpha) * (double)k + fabs(beta) + 1;
      if (!(fabs(cf[at] - want) <= tol_f * scale) || !(fabs(cd[at] - want) <= tol_d * scale))
        fail_msg("ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld: C[%lld,%lld] sgemm %.9g dgemm %.17g want "
                 "%.17g",
                 ta, tb, (long long)m, (long long)n, (long long)k, alpha, beta, (long long)pad, (long long)i,
                 (long long)j, cf[at], cd[at], want);
    }
  free(af), free(bf), free(c0), free(cf), free(ad), free(bd), free(cd);
}

static void test_gemm_transpose_combos(void **state) {
  (void)state;
  kt_seed(11);
  const double alphas[] = {1.0, -0.75, 2.5}, betas[] = {0.0, 1.0, -0.5};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int ab = 0; ab < 3; ab++) {
        check_case(ta, tb, 7, 5, 3, alphas[ab], betas[ab], 0);
        check_case(ta, tb, 1, 1, 1, alphas[ab], betas[(ab + 1) % 3], 0);
        check_case(ta, tb, 13, 29, 17, alphas[(ab + 1) % 3], betas[ab], 3);
        check_case(ta, tb, 33, 1, 65, alphas[ab], betas[(ab + 2) % 3], 1);
        check_case(ta, tb, 1, 47, 9, alphas[(ab + 2) % 3], betas[ab], 0);
      }
}

static void test_gemm_random_odd_shapes(void **state) {
  (void)state;
  kt_seed(12);
  for (int it = 0; it < 40; it++) {
    int64_t m = kt_int(1, 70), n = kt_int(1, 70), k = kt_int(1, 90);
    if (it % 2 == 0) m |= 1, n |= 1, k |= 1;
    const double alpha = kt_uniform(-2, 2), beta = it % 3 == 0 ? 0.0 : kt_uniform(-1.5, 1.5);
    check_case(kt_int(0, 1), kt_int(0, 1), m, n, k, alpha, beta, kt_int(0, 4));
  }
}

/* Large enough for the panel split across threads (m*n*k >= 2^21), split by
 * columns (n >= m) and by rows (m > n), odd sizes so panels are ragged. */
static void test_gemm_threaded_split(void **state) {
  (void)state;
  kt_seed(13);
  nd_set_num_threads(2);
  check_case(false, false, 37, 301, 203, 1.0, 0.0, 0);
  check_case(true, true, 37, 301, 203, -1.0, 0.5, 2);
  check_case(false, true, 311, 45, 171, 0.5, 1.0, 0);
  check_case(true, false, 311, 45, 171, 1.5, 0.0, 1);
}

/* k == 0 or alpha == 0: C = beta*C, and beta == 0 clears NaN. */
static void test_gemm_degenerate(void **state) {
  (void)state;
  float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {7}, b[1] = {8};
  nd_sgemm(false, false, 2, 3, 0, 1.0f, a, 1, b, 3, 2.0f, c, 3);
  for (int i = 0; i < 6; i++) nd_assert_close(c[i], 2.0 * (i + 1), 0, 0);
  for (int i = 0; i < 6; i++) c[i] = NAN;
  nd_sgemm(false, false, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3);
  for (int i = 0; i < 6; i++) nd_assert_close(c[i], 0.0, 0, 0);
  double cd[4] = {1, 2, 3, 4}, ad[4] = {1, 1, 1, 1};
  nd_dgemm(false, false, 2, 2, 2, 0.0, ad, 2, ad, 2, -1.0, cd, 2);
  for (int i = 0; i < 4; i++) nd_assert_close(cd[i], -(i + 1.0), 0, 0);
  /* m == 0 or n == 0: nothing is touched */
  c[0] = 42;
  nd_sgemm(false, false, 0, 3, 2, 1.0f, a, 2, b, 3, 0.0f, c, 3);
  nd_sgemm(false, false, 2, 0, 2, 1.0f, a, 2, b, 1, 0.0f, c, 1);
  nd_assert_close(c[0], 42, 0, 0);
}

/* gemm.c: on an AVX-512 CPU, unless a path is forced ($ND_BLAS_GEMM) or
 * OpenBLAS's kernels are switched by hand ($ND_BLAS_CORETYPE), neurodyn's
 * GEMMs (the products above) run AVX-512 kernels whatever OPENBLAS_CORETYPE
 * says: OpenBLAS's own when it chose them, else BLIS's skx through its expert
 * API (tests/test_kernels_blas.c checks that nothing else changes). */
static void test_blas_core_selection(void **state) {
  (void)state;
  const char *blas = nd_backend_blas_name(), *core = nd_backend_blas_core(), *want = getenv("ND_BLAS_CORETYPE");
  const char *forced = getenv("ND_BLAS_GEMM");
  if ((want && *want && strcasecmp(want, "keep") != 0) || (forced && *forced && strcasecmp(forced, "auto") != 0))
    skip();
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    skip();
  if (strcmp(blas, "blis") == 0 && strcasecmp(core, "skx") == 0) return;
  if (strcmp(blas, "openblas") != 0) skip(); /* a BLIS build without the expert path */
  if (strcasecmp(core, "SkylakeX") != 0 && strcasecmp(core, "Cooperlake") != 0 &&
      strcasecmp(core, "SapphireRapids") != 0)
    fail_msg("neurodyn's GEMMs run OpenBLAS core %s on an AVX-512 CPU (OPENBLAS_CORETYPE=%s)", core,
             getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
#else
  (void)blas, (void)core;
  skip();
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_transpose_combos),
      cmocka_unit_test(test_gemm_random_odd_shapes),
      cmocka_unit_test(test_gemm_threaded_split),
      cmocka_unit_test(test_gemm_degenerate),
      cmocka_unit_test(test_blas_core_selection),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
