/* Every BLAS routine neurodyn calls, against a naive reference loop, under
 * each GEMM path the library can select (src/backend/cpu/gemm.c):
 *   - CBLAS: cblas_sgemm / cblas_dgemm of the linked BLAS (OpenBLAS or BLIS);
 *   - BLIS expert API: bli_sgemm_ex / bli_dgemm_ex with neurodyn's context
 *     (blis_ex.c; skipped when the build or the CPU has none).
 * (neurodyn calls no other BLAS or LAPACK routine: `grep -rn "cblas_\|LAPACKE_\|
 * bli_\|gemm_(" src` lists only these.)  Each is checked through nd_sgemm /
 * nd_dgemm (one thread and the two-thread panel split) and through the
 * one-thread nd__cpu_sgemm_serial the convolutions use: all four transpose
 * combinations, alpha/beta (beta == 0 overwrites NaN), leading dimensions
 * larger than the rows, odd sizes.
 *
 * Then the selection itself: by default neurodyn changes nothing for other
 * BLAS users (OpenBLAS keeps the core it chose from OPENBLAS_CORETYPE, the
 * variable is untouched), and on an AVX-512 CPU its GEMMs run AVX-512 kernels.
 * CMakeLists.txt runs this program twice: as is, and with
 * OPENBLAS_CORETYPE=Haswell (the pinned environment). */
#include <strings.h>

#include "nd_test.h"
#include "kernels_test_util.h"
#include "backend/cpu/cpu.h"
#include "neurodyn/backend.h"
#include "neurodyn/kernels.h"

char *openblas_get_corename(void) __attribute__((weak));

/* op(A)[i,p] op(B)[p,j] summed in long double. */
static long double ref_at(bool ta, bool tb, int64_t i, int64_t j, int64_t k, const double *a, int64_t lda,
                          const double *b, int64_t ldb) {
  long double s = 0;
  for (int64_t p = 0; p < k; p++)
    s += (long double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
  return s;
}

enum { VIA_ND = 0, VIA_SERIAL = 1 };

static void check_case(int via, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, double beta,
                       int64_t pad) {
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  const int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
  const int64_t na = ar * lda, nb = br * ldb, nc = m * ldc;
  float *af = kt_rand(na, -1, 1), *bf = kt_rand(nb, -1, 1), *c0 = kt_rand(nc, -1, 1);
  float *cf = malloc((size_t)nc * sizeof *cf);
  double *ad = malloc((size_t)na * sizeof *ad), *bd = malloc((size_t)nb * sizeof *bd);
  double *cd = malloc((size_t)nc * sizeof *cd);
  for (int64_t i = 0; i < na; i++) ad[i] = af[i];
  for (int64_t i = 0; i < nb; i++) bd[i] = bf[i];
  for (int64_t i = 0; i < nc; i++) {
    bool in = i % ldc < n;
    cf[i] = beta == 0 && in ? NAN : c0[i];
    cd[i] = beta == 0 && in ? NAN : c0[i];
  }
  if (via == VIA_SERIAL) {
    nd__blas_single_thread();
    nd__cpu_sgemm_serial(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
  } else {
    nd_sgemm(ta, tb, m, n, k, (float)alpha, af, lda, bf, ldb, (float)beta, cf, ldc);
    nd_dgemm(ta, tb, m, n, k, alpha, ad, lda, bd, ldb, beta, cd, ldc);
  }
  const double tol_f = 1e-6 * (double)(k + 4), tol_d = 1e-14 * (double)(k + 4);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < ldc; j++) {
      const int64_t at = i * ldc + j;
      if (j >= n) {
        if (cf[at] != c0[at] || (via == VIA_ND && cd[at] != (double)c0[at]))
          fail_msg("path %d via %d: padding C[%lld,%lld] written", nd__gemm_path(), via, (long long)i, (long long)j);
        continue;
      }
      const double want = alpha * (double)ref_at(ta, tb, i, j, k, ad, lda, bd, ldb) + (beta == 0 ? 0 : beta * c0[at]);
      const double scale = fabs(alpha) * (double)k + fabs(beta) + 1;
      const bool ok_f = fabs(cf[at] - want) <= tol_f * scale;
      const bool ok_d = via == VIA_SERIAL || fabs(cd[at] - want) <= tol_d * scale;
      if (!ok_f || !ok_d)
        fail_msg("path %d (%s %s) via %d ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld: C[%lld,%lld] "
                 "sgemm %.9g dgemm %.17g want %.17g",
                 nd__gemm_path(), nd_backend_blas_name(), nd_backend_blas_core(), via, ta, tb, (long long)m,
                 (long long)n, (long long)k, alpha, beta, (long long)pad, (long long)i, (long long)j, cf[at],
                 via == VIA_ND ? cd[at] : 0.0, want);
    }
  free(af), free(bf), free(c0), free(cf), free(ad), free(bd), free(cd);
}

static void run_suite(void) {
  const double alphas[] = {1.0, -0.75, 2.5}, betas[] = {0.0, 1.0, -0.5};
  for (int via = 0; via < 2; via++) {
    kt_seed(21 + (uint64_t)via);
    nd_set_num_threads(1);
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int ab = 0; ab < 3; ab++) {
          check_case(via, ta, tb, 7, 5, 3, alphas[ab], betas[ab], 0);
          check_case(via, ta, tb, 1, 1, 1, alphas[ab], betas[(ab + 1) % 3], 0);
          check_case(via, ta, tb, 13, 29, 17, alphas[(ab + 1) % 3], betas[ab], 3);
          check_case(via, ta, tb, 33, 1, 65, alphas[ab], betas[(ab + 2) % 3], 1);
          check_case(via, ta, tb, 65, 47, 129, alphas[(ab + 2) % 3], betas[ab], 2);
        }
    for (int it = 0; it < 20; it++) {
      int64_t m = kt_int(1, 90), n = kt_int(1, 90), k = kt_int(1, 120);
      check_case(via, kt_int(0, 1), kt_int(0, 1), m, n, k, kt_uniform(-2, 2), it % 3 ? kt_uniform(-1.5, 1.5) : 0.0,
                 kt_int(0, 4));
    }
  }
  /* The two-thread panel split (m*n*k >= 2^21), by columns and by rows, and
   * the Krotov rule's shapes (batch x hidden x visible, and its update). */
  nd_set_num_threads(2);
  kt_seed(23);
  check_case(VIA_ND, false, false, 37, 301, 203, 1.0, 0.0, 0);
  check_case(VIA_ND, true, true, 37, 301, 203, -1.0, 0.5, 2);
  check_case(VIA_ND, false, true, 311, 45, 171, 0.5, 1.0, 0);
  check_case(VIA_ND, true, false, 311, 45, 171, 1.5, 0.0, 1);
  check_case(VIA_ND, false, true, 100, 400, 784, 1.0, 0.0, 0);
  check_case(VIA_ND, true, false, 400, 784, 100, 0.25, 0.0, 0);
}

static void test_cblas_path(void **state) {
  (void)state;
  nd__gemm_force = ND__GEMM_CBLAS;
  assert_int_equal(nd__gemm_path(), ND__GEMM_CBLAS);
  run_suite();
  nd__gemm_force = -1;
}

static void test_blis_expert_path(void **state) {
  (void)state;
  if (!nd__blis_ex_available()) skip(); /* -DND_BLIS_EX=OFF, or a CPU without AVX2 + FMA */
  nd__gemm_force = ND__GEMM_BLIS_EX;
  assert_int_equal(nd__gemm_path(), ND__GEMM_BLIS_EX);
  assert_string_equal(nd_backend_blas_name(), "blis");
  assert_string_equal(nd_backend_blas_core(), nd__blis_ex_arch());
  run_suite();
  nd__gemm_force = -1;
}

/* The path the library selects by itself, whichever it is. */
static void test_default_path(void **state) {
  (void)state;
  nd__gemm_force = -1;
  run_suite();
}

static bool cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

static bool avx512_kernels(const char *core) {
  static const char *const fast[] = {"SkylakeX", "Cooperlake", "SapphireRapids", "skx"};
  for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
    if (strcasecmp(core, fast[i]) == 0) return true;
  return false;
}

/* Default: no process-wide change, and AVX-512 kernels for neurodyn's GEMMs
 * on an AVX-512 CPU (whatever OPENBLAS_CORETYPE says). */
static void test_selection_has_no_side_effect(void **state) {
  (void)state;
  const char *opt_in = getenv("ND_BLAS_CORETYPE"), *forced = getenv("ND_BLAS_GEMM");
  if ((opt_in && *opt_in && strcasecmp(opt_in, "keep") != 0) || (forced && *forced)) skip();
  nd__gemm_force = -1;
  float a[4] = {1, 2, 3, 4}, c[4];
  nd_sgemm(false, false, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, c, 2);
  const char *env = getenv("OPENBLAS_CORETYPE");
  if (openblas_get_corename && env && *env) {
    /* OpenBLAS keeps the core the environment asked for (names are matched
     * case-insensitively by OpenBLAS, and it reports its own spelling). */
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, env) != 0)
      fail_msg("OpenBLAS runs core %s but OPENBLAS_CORETYPE=%s: neurodyn changed it for the process",
               core ? core : "(null)", env);
  }
  if (cpu_has_avx512() && !avx512_kernels(nd_backend_blas_core())) {
    if (!nd__blis_ex_available()) skip(); /* built without the BLIS expert path: nothing faster to pick */
    fail_msg("AVX-512 CPU but neurodyn's GEMMs run %s %s (OPENBLAS_CORETYPE=%s)", nd_backend_blas_name(),
             nd_backend_blas_core(), env ? env : "(unset)");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cblas_path),
      cmocka_unit_test(test_blis_expert_path),
      cmocka_unit_test(test_default_path),
      cmocka_unit_test(test_selection_has_no_side_effect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
