/* The linear algebra of reservoir computing (include/neurodyn/reservoir.h):
 * ridge regression by Cholesky (LAPACK dposv), the spectral radius by the
 * eigenvalues of LAPACK dgeev, and the NRMSE. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/reservoir.h"

/* OpenBLAS's LAPACK runs its own thread pool; while neurodyn's OpenMP
 * workers spin-wait (the default OMP_WAIT_POLICY) they starve it: dgeev of a
 * 1000 x 1000 matrix took 8-35 s with two threads against 0.85 s with one on
 * a loaded 2-core machine.  The LAPACK calls here run with OpenBLAS at one
 * thread and restore its setting afterwards (weak: absent with other BLAS). */
int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));

static int lapack_begin(void) {
  int n = openblas_get_num_threads && openblas_set_num_threads ? openblas_get_num_threads() : 0;
  if (n > 1) openblas_set_num_threads(1);
  return n;
}
static void lapack_end(int n) {
  if (n > 1) openblas_set_num_threads(n);
}

/* [Phi; sqrt(ridge) I] w^T = [Y; 0] in the least-squares sense (dgels) */
static nd_status ridge_qr(const double *phi, const double *y, int64_t T, int64_t F, int64_t L, double ridge, double *w) {
  int64_t R = T + F;
  double *a = calloc((size_t)(R * F), sizeof *a), *b = calloc((size_t)(R * L), sizeof *b);
  if (!a || !b) {
    free(a), free(b);
    return nd__error(ND_ERR_NOMEM, "ridge_fit: out of memory for a %lld x %lld least-squares problem", (long long)R,
                     (long long)F);
  }
  memcpy(a, phi, (size_t)(T * F) * sizeof *a);
  memcpy(b, y, (size_t)(T * L) * sizeof *b);
  for (int64_t i = 0; i < F; i++) a[(T + i) * F + i] = sqrt(ridge);
  int saved = lapack_begin();
  lapack_int info = LAPACKE_dgels(LAPACK_ROW_MAJOR, 'N', (lapack_int)R, (lapack_int)F, (lapack_int)L, a,
                                  (lapack_int)F, b, (lapack_int)L);
  lapack_end(saved);
  free(a);
  if (info != 0) {
    free(b);
    return nd__error(ND_ERR_NUMERIC, "ridge_fit: dgels info %d: the states are rank deficient (raise the ridge)", (int)info);
  }
  for (int64_t l = 0; l < L; l++)
    for (int64_t f = 0; f < F; f++) w[l * F + f] = b[f * L + l];
  free(b);
  return ND_OK;
}

nd_status nd_ridge_fit(const double *phi, const double *y, int64_t T, int64_t F, int64_t L, double ridge,
                       nd_ridge_solver solver, double *w) {
  if (!phi || !y || !w) return nd__error(ND_ERR_INVALID_ARG, "ridge_fit: NULL argument");
  if (T < 1 || F < 1 || L < 1 || F > 100000 || L > 100000 || T > ((int64_t)1 << 40) / F)
    return nd__error(ND_ERR_INVALID_ARG, "ridge_fit: sizes T = %lld, F = %lld, L = %lld out of range", (long long)T,
                     (long long)F, (long long)L);
  if (!(ridge >= 0 && isfinite(ridge))) return nd__error(ND_ERR_INVALID_ARG, "ridge_fit: ridge = %g, expected >= 0", ridge);
  if ((unsigned)solver > ND_RIDGE_QR) return nd__error(ND_ERR_INVALID_ARG, "ridge_fit: solver = %d unknown", (int)solver);
  if (solver == ND_RIDGE_QR) return ridge_qr(phi, y, T, F, L, ridge, w);
  double *a = malloc((size_t)(F * F) * sizeof *a), *b = malloc((size_t)(F * L) * sizeof *b);
  if (!a || !b) {
    free(a), free(b);
    return nd__error(ND_ERR_NOMEM, "ridge_fit: out of memory for a %lld x %lld system", (long long)F, (long long)F);
  }
  /* normal equations (Phi^T Phi + ridge I) w^T = Phi^T Y (Lukosevicius 2012, Eq. 9); Phi^T Phi
   * by the symmetric rank-k update (dsyrk: the upper triangle, half the multiply-adds of a GEMM),
   * which is all dposv('U') reads */
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)F, (int)T, 1.0, phi, (int)F, 0.0, a, (int)F);
  nd_dgemm(true, false, F, L, T, 1.0, phi, F, y, L, 0.0, b, L);
  for (int64_t i = 0; i < F; i++) a[i * F + i] += ridge;
  int saved = lapack_begin();
  lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)F, (lapack_int)L, a, (lapack_int)F, b, (lapack_int)L);
  lapack_end(saved);
  free(a);
  if (info != 0) {
    free(b);
    return nd__error(ND_ERR_NUMERIC, "ridge_fit: dposv info %d: the %lld x %lld system is not positive definite (raise the ridge)",
                     (int)info, (long long)F, (long long)F);
  }
  for (int64_t l = 0; l < L; l++)
    for (int64_t f = 0; f < F; f++) w[l * F + f] = b[f * L + l];
  free(b);
  return ND_OK;
}

nd_status nd_spectral_radius(const double *a, int64_t n, double *rho) {
  if (!a || !rho) return nd__error(ND_ERR_INVALID_ARG, "spectral_radius: NULL argument");
  *rho = NAN;
  if (n < 1 || n > 20000) return nd__error(ND_ERR_INVALID_ARG, "spectral_radius: n = %lld, expected 1..20000", (long long)n);
  double *m = malloc((size_t)(n * n) * sizeof *m), *wr = malloc((size_t)n * sizeof *wr), *wi = malloc((size_t)n * sizeof *wi);
  if (!m || !wr || !wi) {
    free(m), free(wr), free(wi);
    return nd__error(ND_ERR_NOMEM, "spectral_radius: out of memory for %lld x %lld", (long long)n, (long long)n);
  }
  memcpy(m, a, (size_t)(n * n) * sizeof *m);
  int saved = lapack_begin();
  lapack_int info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)n, m, (lapack_int)n, wr, wi, NULL, 1, NULL, 1);
  lapack_end(saved);
  double r = 0;
  for (int64_t i = 0; i < n && info == 0; i++) r = fmax(r, hypot(wr[i], wi[i]));
  free(m), free(wr), free(wi);
  if (info != 0) return nd__error(ND_ERR_NUMERIC, "spectral_radius: dgeev info %d (no convergence or a non-finite entry)", (int)info);
  *rho = r;
  return ND_OK;
}

double nd_nrmse(const double *pred, const double *target, int64_t n, double var) {
  if (!pred || !target || n < 1) {
    nd__error(ND_ERR_INVALID_ARG, "nrmse: NULL argument or n < 1");
    return NAN;
  }
  if (!(var > 0)) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += target[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++) v += (target[i] - m) * (target[i] - m);
    var = v / (double)n;
  }
  double e = 0;
  for (int64_t i = 0; i < n; i++) e += (pred[i] - target[i]) * (pred[i] - target[i]);
  return sqrt(e / (double)n / var);
}
