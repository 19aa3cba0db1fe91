/* The analysis toolkit (analysis.h) against dense eigendecompositions:
 * LAPACK dgeev on the explicit matrix of each operator.
 *   - random dense operators, full Krylov space (m = n): every Ritz value is
 *     an eigenvalue, with a small residual;
 *   - m < n on an operator with a separated outer spectrum: the leading
 *     values converge, and the reported residuals bound the true ones;
 *   - a convolution (3x3, pad 1, C -> C) whose matrix is built here from the
 *     definition of cross-correlation with zero padding (not by the conv
 *     kernel under test), through nd_conv_linop_create;
 *   - the leading eigenvector by Arnoldi and by power iteration against
 *     dgeev's, the spectral gap against |lambda_2| / |lambda_1| of dgeev;
 *   - an invariant subspace (early breakdown), a complex leading pair (power
 *     iteration must say it did not converge). */
#include <complex.h>
#include <lapacke.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/analysis.h"

typedef struct dense {
  int n;
  const double *a; /* row-major n x n */
  int calls;
} dense;

static nd_status dense_apply(void *ctx, const double *x, double *y) {
  dense *d = ctx;
  d->calls++;
  for (int i = 0; i < d->n; i++) {
    double s = 0;
    for (int j = 0; j < d->n; j++) s += d->a[(size_t)i * d->n + j] * x[j];
    y[i] = s;
  }
  return ND_OK;
}

static uint64_t lcg = 88172645463325252ull;
static double urand(void) { /* xorshift64, independent of the library's RNG */
  lcg ^= lcg << 13;
  lcg ^= lcg >> 7;
  lcg ^= lcg << 17;
  return (double)(lcg >> 11) / 9007199254740992.0;
}
static double nrand(void) {
  double u = urand() + 1e-300, v = urand();
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* dgeev of a row-major matrix: eigenvalues, and right eigenvectors (row-major,
 * LAPACK's pair layout) when vr != NULL. */
static void dense_eigs(int n, const double *a, double *wr, double *wi, double *vr) {
  double *c = malloc((size_t)n * n * sizeof *c);
  memcpy(c, a, (size_t)n * n * sizeof *c);
  double dummy;
  assert_int_equal(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', vr ? 'V' : 'N', n, c, n, wr, wi, &dummy, 1, vr ? vr : &dummy,
                                 vr ? n : 1),
                   0);
  free(c);
}

/* Every value (re, im) of the first k has a dgeev eigenvalue within tol*scale. */
static void assert_in_spectrum(int k, const double *re, const double *im, int n, const double *wr, const double *wi,
                               double tol) {
  double scale = 0;
  for (int i = 0; i < n; i++) scale = fmax(scale, hypot(wr[i], wi[i]));
  for (int j = 0; j < k; j++) {
    double best = INFINITY;
    for (int i = 0; i < n; i++) best = fmin(best, hypot(re[j] - wr[i], im[j] - wi[i]));
    if (best > tol * scale) fail_msg("Ritz value %d = %g%+gi is %g from the nearest eigenvalue", j, re[j], im[j], best);
  }
}

static int by_modulus(const void *pa, const void *pb) {
  const double *a = pa, *b = pb;
  double ma = hypot(a[0], a[1]), mb = hypot(b[0], b[1]);
  return ma > mb ? -1 : ma < mb ? 1 : (a[1] > b[1] ? -1 : a[1] < b[1]);
}

static void test_full_krylov_random(void **state) {
  (void)state;
  for (int trial = 0; trial < 3; trial++) {
    int n = 12 + 15 * trial;
    double *a = malloc((size_t)n * n * sizeof *a), *wr = malloc(n * sizeof *wr), *wi = malloc(n * sizeof *wi);
    for (int i = 0; i < n * n; i++) a[i] = nrand() / sqrt(n);
    dense d = {n, a, 0};
    nd_linop op = {.n = n, .apply = dense_apply, .ctx = &d};
    nd_eigs e;
    nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = n, .seed = 7 + trial}, &e));
    assert_int_equal(e.m, n);
    assert_int_equal(d.calls, n);
    dense_eigs(n, a, wr, wi, NULL);
    /* the same multiset: each Ritz value near an eigenvalue, and sorted lists agree */
    assert_in_spectrum(n, e.re, e.im, n, wr, wi, 1e-8);
    double (*ref)[2] = malloc((size_t)n * sizeof *ref);
    for (int i = 0; i < n; i++) ref[i][0] = wr[i], ref[i][1] = wi[i];
    qsort(ref, n, sizeof *ref, by_modulus);
    for (int i = 0; i < n; i++) nd_assert_close(hypot(e.re[i], e.im[i]), hypot(ref[i][0], ref[i][1]), 1e-8, 1e-8);
    /* order: |lambda| descending, a conjugate pair adjacent with im > 0 first */
    for (int i = 1; i < n; i++) assert_true(hypot(e.re[i], e.im[i]) <= hypot(e.re[i - 1], e.im[i - 1]) + 1e-12);
    for (int i = 0; i < n; i++)
      if (e.im[i] > 0) {
        assert_true(i + 1 < n);
        nd_assert_close(e.im[i + 1], -e.im[i], 1e-12, 1e-10);
        nd_assert_close(e.re[i + 1], e.re[i], 1e-12, 1e-10);
      }
    for (int i = 0; i < n; i++) assert_true(e.resid[i] < 1e-8);
    nd_eigs_release(&e);
    free(ref);
    free(a);
    free(wr);
    free(wi);
  }
}

/* An operator with a separated outer spectrum: a random matrix of spectral
 * radius ~0.5 plus a rank-3 part with eigenvalues near 3, -2.5, 2. */
static void test_partial_krylov(void **state) {
  (void)state;
  const int n = 300, m = 60;
  double *a = malloc((size_t)n * n * sizeof *a), *wr = malloc(n * sizeof *wr), *wi = malloc(n * sizeof *wi);
  for (int i = 0; i < n * n; i++) a[i] = 0.5 * nrand() / sqrt(n);
  const double lam[3] = {3.0, -2.5, 2.0};
  static double u[3][300];
  for (int k = 0; k < 3; k++) { /* orthonormal u_k; A += lam_k u_k u_k^T */
    for (int i = 0; i < n; i++) u[k][i] = nrand();
    for (int l = 0; l < k; l++) {
      double p = 0;
      for (int i = 0; i < n; i++) p += u[k][i] * u[l][i];
      for (int i = 0; i < n; i++) u[k][i] -= p * u[l][i];
    }
    double nn = 0;
    for (int i = 0; i < n; i++) nn += u[k][i] * u[k][i];
    for (int i = 0; i < n; i++) u[k][i] /= sqrt(nn);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) a[(size_t)i * n + j] += lam[k] * u[k][i] * u[k][j];
  }
  dense d = {n, a, 0};
  nd_linop op = {.n = n, .apply = dense_apply, .ctx = &d};
  nd_eigs e;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = m, .seed = 3, .want_vector = true}, &e));
  assert_int_equal(e.m, m);
  assert_int_equal(d.calls, m);
  assert_false(e.invariant);
  double *vr = malloc((size_t)n * n * sizeof *vr);
  dense_eigs(n, a, wr, wi, vr);
  /* dgeev's three outermost eigenvalues */
  int idx[300];
  for (int i = 0; i < n; i++) idx[i] = i;
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < n; j++)
      if (hypot(wr[idx[j]], wi[idx[j]]) > hypot(wr[idx[i]], wi[idx[i]])) {
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
      }
  for (int k = 0; k < 3; k++) {
    nd_assert_close(e.re[k], wr[idx[k]], 1e-7, 1e-7);
    nd_assert_close(e.im[k], wi[idx[k]], 1e-7, 1e-7);
    assert_true(e.resid[k] < 1e-6);
  }
  /* spectral gap: 1 - |lambda_2| / |lambda_1| */
  nd_assert_close(e.gap, 1 - hypot(wr[idx[1]], wi[idx[1]]) / hypot(wr[idx[0]], wi[idx[0]]), 1e-7, 0);
  /* leading vector against dgeev's (real): |<x, v>| / ||v|| = 1 */
  assert_true(wi[idx[0]] == 0);
  double dotv = 0, nv = 0, ni = 0;
  for (int i = 0; i < n; i++) {
    double vi = vr[(size_t)i * n + idx[0]];
    dotv += e.vec_re[i] * vi;
    nv += vi * vi;
    ni += e.vec_im[i] * e.vec_im[i];
  }
  nd_assert_close(fabs(dotv) / sqrt(nv), 1.0, 1e-7, 0);
  nd_assert_close(ni, 0.0, 1e-14, 0);
  /* the residual reported for the leading pair is the true one */
  double ax[300], r2 = 0;
  dense_apply(&d, e.vec_re, ax);
  for (int i = 0; i < n; i++) r2 += (ax[i] - e.re[0] * e.vec_re[i]) * (ax[i] - e.re[0] * e.vec_re[i]);
  nd_assert_close(sqrt(r2), e.resid[0], 1e-9, 1e-3);
  /* power iteration: the same value and vector */
  double pv[300];
  nd_power_result pr;
  nd_assert_ok(nd_power_iteration(&op, &(nd_power_opts){.max_iter = 2000, .tol = 1e-10, .seed = 5}, pv, &pr));
  assert_true(pr.converged);
  nd_assert_close(pr.lambda, wr[idx[0]], 1e-8, 1e-8);
  double pd = 0;
  for (int i = 0; i < n; i++) pd += pv[i] * vr[(size_t)i * n + idx[0]];
  nd_assert_close(fabs(pd) / sqrt(nv), 1.0, 1e-8, 0);
  nd_eigs_release(&e);
  free(vr);
  free(a);
  free(wr);
  free(wi);
}

/* y = conv(x, w): the matrix of a 3x3, pad-1 cross-correlation on C x H x W,
 * from its definition y[k,p,q] = sum_{c,r,s} w[k,c,r,s] x[c, p+r-1, q+s-1]. */
static void conv_matrix(int C, int H, int W, const float *w, double *a) {
  int n = C * H * W;
  memset(a, 0, (size_t)n * n * sizeof *a);
  for (int k = 0; k < C; k++)
    for (int p = 0; p < H; p++)
      for (int q = 0; q < W; q++)
        for (int c = 0; c < C; c++)
          for (int r = 0; r < 3; r++)
            for (int s = 0; s < 3; s++) {
              int i = p + r - 1, j = q + s - 1;
              if (i < 0 || j < 0 || i >= H || j >= W) continue;
              a[(size_t)((k * H + p) * W + q) * n + (c * H + i) * W + j] += w[((k * C + c) * 3 + r) * 3 + s];
            }
}

static void test_conv_operator(void **state) {
  (void)state;
  const int C = 3, H = 5, W = 4, n = C * H * W;
  float w[3 * 3 * 9];
  for (int i = 0; i < C * C * 9; i++) w[i] = (float)(nrand() * 0.3);
  double *a = malloc((size_t)n * n * sizeof *a), wr[60], wi[60];
  conv_matrix(C, H, W, w, a);
  dense_eigs(n, a, wr, wi, NULL);
  nd_conv2d_desc d = {.batch = 1, .in_channels = C, .in_h = H, .in_w = W, .out_channels = C, .kernel_h = 3,
                      .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
  nd_linop op;
  nd_assert_ok(nd_conv_linop_create(&d, w, &op));
  assert_int_equal(op.n, n);
  /* the operator is the matrix: one product on a random vector */
  double x[60], y[60];
  for (int i = 0; i < n; i++) x[i] = nrand();
  nd_assert_ok(op.apply(op.ctx, x, y));
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < n; j++) s += a[(size_t)i * n + j] * x[j];
    nd_assert_close(y[i], s, 1e-5, 1e-5); /* the conv runs in float32 */
  }
  nd_eigs e;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = n, .seed = 11}, &e));
  assert_int_equal(e.m, n);
  assert_in_spectrum(n, e.re, e.im, n, wr, wi, 2e-5);
  double rho = 0;
  for (int i = 0; i < n; i++) rho = fmax(rho, hypot(wr[i], wi[i]));
  nd_assert_close(hypot(e.re[0], e.im[0]), rho, 1e-5, 1e-5);
  nd_eigs_release(&e);
  nd_linop_free(&op);
  free(a);
}

static void test_invariant_subspace(void **state) {
  (void)state;
  /* 2 I on R^20: A v0 = 2 v0, so the first step breaks down with the exact value */
  const int n = 20;
  double *a = calloc((size_t)n * n, sizeof *a);
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = 2;
  dense d = {n, a, 0};
  nd_linop op = {.n = n, .apply = dense_apply, .ctx = &d};
  nd_eigs e;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = 10}, &e));
  assert_int_equal(e.m, 1);
  assert_true(e.invariant);
  nd_assert_close(e.re[0], 2.0, 1e-12, 0);
  nd_assert_close(e.im[0], 0.0, 1e-12, 0);
  nd_assert_close(e.gap, 0.0, 0, 0);
  nd_eigs_release(&e);
  /* a diagonal with 4 distinct values: the Krylov space closes after 4 steps */
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = 1 + i % 4;
  d.calls = 0;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = 15, .seed = 2}, &e));
  assert_int_equal(e.m, 4);
  assert_true(e.invariant);
  for (int k = 0; k < 4; k++) nd_assert_close(e.re[k], 4.0 - k, 1e-10, 0);
  nd_assert_close(e.gap, 0.25, 1e-10, 0);
  nd_eigs_release(&e);
  /* krylov larger than n is clamped; default krylov min(n, 100) */
  for (int i = 0; i < n; i++) a[(size_t)i * n + i] = i + 1;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = 1000}, &e));
  assert_int_equal(e.m, n);
  nd_assert_close(e.re[0], (double)n, 1e-9, 0);
  nd_eigs_release(&e);
  free(a);
}

static void test_complex_leading_pair(void **state) {
  (void)state;
  /* rotation-scaling block with eigenvalues 0.9 e^{+-i pi/3}, then a
   * diagonal of moduli < 0.8 */
  const int n = 30;
  double *a = calloc((size_t)n * n, sizeof *a);
  double r = 0.9, th = M_PI / 3;
  a[0] = r * cos(th), a[1] = -r * sin(th), a[n] = r * sin(th), a[n + 1] = r * cos(th);
  for (int i = 2; i < n; i++) a[(size_t)i * n + i] = 0.8 * (i - 15) / 15.0;
  dense d = {n, a, 0};
  nd_linop op = {.n = n, .apply = dense_apply, .ctx = &d};
  nd_eigs e;
  nd_assert_ok(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = n, .want_vector = true, .seed = 4}, &e));
  nd_assert_close(e.re[0], r * cos(th), 1e-10, 0);
  nd_assert_close(e.im[0], r * sin(th), 1e-10, 0);
  nd_assert_close(e.im[1], -r * sin(th), 1e-10, 0);
  nd_assert_close(e.gap, 0.0, 1e-12, 0); /* |lambda_2| = |lambda_1|: power iteration cannot converge */
  /* the complex Ritz vector: A x = lambda x */
  double complex lam = e.re[0] + I * e.im[0];
  double err = 0;
  double xr[30], xi[30], yr[30], yi[30];
  memcpy(xr, e.vec_re, sizeof xr);
  memcpy(xi, e.vec_im, sizeof xi);
  dense_apply(&d, xr, yr);
  dense_apply(&d, xi, yi);
  for (int i = 0; i < n; i++) {
    double complex ax = yr[i] + I * yi[i], lx = lam * (xr[i] + I * xi[i]);
    err += cabs(ax - lx) * cabs(ax - lx);
  }
  assert_true(sqrt(err) < 1e-9);
  nd_eigs_release(&e);
  double v[30];
  nd_power_result pr;
  nd_assert_ok(nd_power_iteration(&op, &(nd_power_opts){.max_iter = 500}, v, &pr));
  assert_false(pr.converged);
  assert_int_equal(pr.iters, 500);
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_krylov_random),  cmocka_unit_test(test_partial_krylov),
      cmocka_unit_test(test_conv_operator),       cmocka_unit_test(test_invariant_subspace),
      cmocka_unit_test(test_complex_leading_pair),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
