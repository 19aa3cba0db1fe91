/* Arnoldi eigenvalues and power iteration for operators given as
 * callbacks (include/neurodyn/analysis.h, docs/analysis.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "core/internal.h"
#include "neurodyn/analysis.h"
#include "neurodyn/rng.h"

/* Level-1/2 vector kernels, in double (plain loops: the library's BLAS use is
 * its GEMMs, tests/test_kernels_blas.c). */
static double dot(int64_t n, const double *x, const double *y) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

static double nrm2(int64_t n, const double *x) { return sqrt(dot(n, x, x)); }

static void axpy(int64_t n, double a, const double *x, double *y) {
#pragma omp parallel for if (n > 65536) schedule(static)
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void scal(int64_t n, double a, double *x) {
  for (int64_t i = 0; i < n; i++) x[i] *= a;
}

/* y = alpha V x, V [n, m] column-major */
static void gemv(int64_t n, int m, double alpha, const double *V, const double *x, double *y) {
#pragma omp parallel for if (n > 4096) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < m; j++) s += V[(size_t)j * n + i] * x[j];
    y[i] = alpha * s;
  }
}

void nd_linop_free(nd_linop *op) {
  if (!op) return;
  if (op->free_ctx) op->free_ctx(op->ctx);
  memset(op, 0, sizeof *op);
}

void nd_eigs_release(nd_eigs *e) {
  if (!e) return;
  free(e->re);
  free(e->im);
  free(e->resid);
  free(e->vec_re);
  free(e->vec_im);
  memset(e, 0, sizeof *e);
}

static nd_status check_op(const nd_linop *a, const char *who) {
  if (!a || !a->apply) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL operator", who);
  if (a->n <= 0) return nd__error(ND_ERR_INVALID_ARG, "%s: operator dimension %lld, expected >= 1", who, (long long)a->n);
  return ND_OK;
}

static bool all_finite(const double *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return false;
  return true;
}

static nd_status apply(const nd_linop *a, const double *x, double *y, const char *who) {
  ND_TRY(a->apply(a->ctx, x, y));
  if (!all_finite(y, a->n)) return nd__error(ND_ERR_NUMERIC, "%s: the operator returned a non-finite value", who);
  return ND_OK;
}

static nd_status random_unit(uint64_t seed, double *v, int64_t n) {
  nd_rng r;
  ND_TRY(nd_rng_init(&r, seed));
  ND_TRY(nd_rng_normal_f64(&r, v, n, 0.0, 1.0));
  double s = nrm2(n, v);
  if (!(s > 0)) {
    v[0] = 1;
    s = 1;
  }
  scal(n, 1.0 / s, v);
  return ND_OK;
}

/* Order of Ritz values: |lambda| descending, then positive imaginary part
 * first (a conjugate pair stays adjacent), then real part descending. */
typedef struct ritz {
  double re, im, resid;
  int col; /* column of the eigenvector in VR; for im < 0: the pair's first column */
  bool conj;
} ritz;

static int cmp_ritz(const void *pa, const void *pb) {
  const ritz *a = pa, *b = pb;
  double ma = hypot(a->re, a->im), mb = hypot(b->re, b->im);
  double tol = 1e-12 * fmax(ma, mb);
  if (ma > mb + tol) return -1;
  if (mb > ma + tol) return 1;
  if (a->im != b->im) return a->im > b->im ? -1 : 1;
  return a->re > b->re ? -1 : a->re < b->re ? 1 : 0;
}

/* Ritz values (and vectors) of the m x m Hessenberg H (column-major, ld m),
 * hnext = h_{m+1,m}.  vr [m*m] receives H's eigenvectors (dtrevc layout). */
static nd_status hessenberg_eigs(int m, double *h, double hnext, ritz *out, double *vr) {
  double *wr = malloc((size_t)m * sizeof *wr), *wi = malloc((size_t)m * sizeof *wi);
  if (!wr || !wi) {
    free(wr);
    free(wi);
    return nd__error(ND_ERR_NOMEM, "arnoldi: out of memory (Hessenberg %d x %d)", m, m);
  }
  nd_status s = ND_OK;
  /* Schur form H = Z T Z^T by Hessenberg QR with shifts (dhseqr), then the
   * eigenvectors of T back-transformed by Z (dtrevc, howmny 'B'). */
  lapack_int info = LAPACKE_dhseqr(LAPACK_COL_MAJOR, 'S', 'I', m, 1, m, h, m, wr, wi, vr, m);
  if (info != 0) s = nd__error(ND_ERR_NUMERIC, "arnoldi: LAPACK dhseqr failed (info %d)", (int)info);
  lapack_int got = 0;
  if (s == ND_OK) {
    info = LAPACKE_dtrevc(LAPACK_COL_MAJOR, 'R', 'B', NULL, m, h, m, NULL, 1, vr, m, m, &got);
    if (info != 0) s = nd__error(ND_ERR_NUMERIC, "arnoldi: LAPACK dtrevc failed (info %d)", (int)info);
  }
  for (int j = 0; s == ND_OK && j < m; j++) {
    out[j].re = wr[j];
    out[j].im = wi[j];
    out[j].conj = false;
    const double *yr = vr + (size_t)j * m;
    double norm2, last2;
    if (wi[j] == 0) {
      out[j].col = j;
      norm2 = dot(m, yr, yr);
      last2 = yr[m - 1] * yr[m - 1];
    } else {
      /* pair (j, j+1): columns j and j+1 hold the real and imaginary parts
       * of the vector of wr[j] + i wi[j] (wi[j] > 0) */
      int c = wi[j] > 0 ? j : j - 1;
      const double *a = vr + (size_t)c * m, *b = vr + (size_t)(c + 1) * m;
      out[j].col = c;
      out[j].conj = wi[j] < 0;
      norm2 = dot(m, a, a) + dot(m, b, b);
      last2 = a[m - 1] * a[m - 1] + b[m - 1] * b[m - 1];
    }
    out[j].resid = norm2 > 0 ? fabs(hnext) * sqrt(last2 / norm2) : 0; /* Saad eq. 6.11 */
  }
  free(wr);
  free(wi);
  return s;
}

nd_status nd_arnoldi_eigs(const nd_linop *a, const nd_arnoldi_opts *o, nd_eigs *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "arnoldi: out is NULL");
  ND_TRY(check_op(a, "arnoldi"));
  const nd_arnoldi_opts def = {0};
  if (!o) o = &def;
  if (o->krylov < 0) return nd__error(ND_ERR_INVALID_ARG, "arnoldi: krylov = %d, expected >= 0", o->krylov);
  int64_t n = a->n;
  if (n > INT32_MAX) return nd__error(ND_ERR_INVALID_ARG, "arnoldi: operator dimension %lld too large", (long long)n);
  int m = o->krylov ? o->krylov : 100;
  if (m > n) m = (int)n;
  /* V [n, m+1] column-major, H [(m+1), m] column-major */
  size_t vbytes = (size_t)n * (size_t)(m + 1) * sizeof(double);
  double *V = malloc(vbytes), *H = calloc((size_t)(m + 1) * (size_t)m, sizeof *H), *w = malloc((size_t)n * sizeof *w);
  /* vr zeroed: LAPACKE checks the Z it is given for NaNs even when compz = 'I' */
  double *hs = malloc((size_t)m * (size_t)m * sizeof *hs), *vr = calloc((size_t)m * (size_t)m, sizeof *vr);
  ritz *rz = malloc((size_t)m * sizeof *rz);
  nd_status s = ND_OK;
  if (!V || !H || !w || !hs || !vr || !rz) {
    s = nd__error(ND_ERR_NOMEM, "arnoldi: out of memory (basis of %d vectors of %lld: %zu MB)", m + 1, (long long)n,
                  vbytes >> 20);
    goto done;
  }
  if ((s = random_unit(o->seed, V, n)) != ND_OK) goto done;
  const int ldh = m + 1;
  int reached = m;
  double hnext = 0;
  for (int j = 0; j < m; j++) {
    if ((s = apply(a, V + (size_t)j * n, w, "arnoldi")) != ND_OK) goto done;
    double w0 = nrm2(n, w);
    /* modified Gram-Schmidt, twice */
    for (int pass = 0; pass < 2; pass++)
      for (int i = 0; i <= j; i++) {
        const double *vi = V + (size_t)i * n;
        double hij = dot(n, vi, w);
        H[(size_t)j * ldh + i] += hij;
        axpy(n, -hij, vi, w);
      }
    double beta = nrm2(n, w);
    H[(size_t)j * ldh + j + 1] = beta;
    hnext = beta;
    if (beta <= 1e-12 * w0 || beta == 0) { /* A V_j lies in span V_j: invariant subspace */
      reached = j + 1;
      out->invariant = j + 1 < m || beta == 0;
      hnext = 0;
      break;
    }
    if (j + 1 < m) {
      double *vn = V + (size_t)(j + 1) * n;
      for (int64_t k = 0; k < n; k++) vn[k] = w[k] / beta;
    }
  }
  m = reached;
  for (int j = 0; j < m; j++) memcpy(hs + (size_t)j * m, H + (size_t)j * ldh, (size_t)m * sizeof *hs);
  if ((s = hessenberg_eigs(m, hs, hnext, rz, vr)) != ND_OK) goto done;
  qsort(rz, (size_t)m, sizeof *rz, cmp_ritz);
  out->m = m;
  out->n = n;
  out->re = malloc((size_t)m * sizeof *out->re);
  out->im = malloc((size_t)m * sizeof *out->im);
  out->resid = malloc((size_t)m * sizeof *out->resid);
  if (!out->re || !out->im || !out->resid) {
    s = nd__error(ND_ERR_NOMEM, "arnoldi: out of memory");
    goto done;
  }
  for (int j = 0; j < m; j++) {
    out->re[j] = rz[j].re;
    out->im[j] = rz[j].im;
    out->resid[j] = rz[j].resid;
  }
  double r0 = hypot(rz[0].re, rz[0].im);
  out->gap = 0;
  if (m >= 2 && r0 > 0) {
    /* the largest value other than lambda_1 itself */
    for (int j = 1; j < m; j++)
      if (rz[j].re != rz[0].re || rz[j].im != rz[0].im) {
        out->gap = 1 - hypot(rz[j].re, rz[j].im) / r0;
        break;
      }
  }
  if (o->want_vector) {
    out->vec_re = calloc((size_t)n, sizeof *out->vec_re);
    out->vec_im = calloc((size_t)n, sizeof *out->vec_im);
    if (!out->vec_re || !out->vec_im) {
      s = nd__error(ND_ERR_NOMEM, "arnoldi: out of memory");
      goto done;
    }
    /* x = V_m y: y = vr[:, col] (+ i vr[:, col+1] for a pair, conjugated for the
     * member with negative imaginary part) */
    const double *yr = vr + (size_t)rz[0].col * m;
    gemv(n, m, 1.0, V, yr, out->vec_re);
    if (rz[0].im != 0) {
      const double *yi = vr + (size_t)(rz[0].col + 1) * m;
      gemv(n, m, rz[0].conj ? -1.0 : 1.0, V, yi, out->vec_im);
    }
    double nr = nrm2(n, out->vec_re), ni = nrm2(n, out->vec_im);
    double nv = hypot(nr, ni);
    if (nv > 0) {
      scal(n, 1 / nv, out->vec_re);
      scal(n, 1 / nv, out->vec_im);
    }
  }
done:
  free(V);
  free(H);
  free(w);
  free(hs);
  free(vr);
  free(rz);
  if (s != ND_OK) nd_eigs_release(out);
  return s;
}

nd_status nd_power_iteration(const nd_linop *a, const nd_power_opts *o, double *vec, nd_power_result *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || !vec) return nd__error(ND_ERR_INVALID_ARG, "power_iteration: NULL %s", out ? "vec" : "out");
  ND_TRY(check_op(a, "power_iteration"));
  const nd_power_opts def = {0};
  if (!o) o = &def;
  if (o->max_iter < 0 || o->tol < 0 || !isfinite(o->tol))
    return nd__error(ND_ERR_INVALID_ARG, "power_iteration: max_iter %d / tol %g out of range", o->max_iter, o->tol);
  int max_iter = o->max_iter ? o->max_iter : 1000;
  double tol = o->tol > 0 ? o->tol : 1e-8;
  int64_t n = a->n;
  double *w = malloc((size_t)n * sizeof *w);
  if (!w) return nd__error(ND_ERR_NOMEM, "power_iteration: out of memory");
  nd_status s = random_unit(o->seed, vec, n);
  for (int k = 0; s == ND_OK && k < max_iter; k++) {
    if ((s = apply(a, vec, w, "power_iteration")) != ND_OK) break;
    double lambda = dot(n, vec, w);
    /* residual of the current unit iterate: ||A v - lambda v|| */
    double r2 = 0;
    for (int64_t i = 0; i < n; i++) {
      double d = w[i] - lambda * vec[i];
      r2 += d * d;
    }
    out->lambda = lambda;
    out->residual = sqrt(r2);
    out->iters = k + 1;
    if (out->residual <= tol * fabs(lambda)) {
      out->converged = true;
      break;
    }
    double nw = nrm2(n, w);
    if (!(nw > 0)) break; /* A v = 0: v is in the null space, lambda 0 */
    for (int64_t i = 0; i < n; i++) vec[i] = w[i] / nw;
  }
  if (s == ND_OK && out->residual == 0 && out->lambda == 0) out->converged = true;
  free(w);
  return s;
}
