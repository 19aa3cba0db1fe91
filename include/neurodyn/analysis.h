/* Spectral analysis of linear operators given only as a product y = A x:
 * eigenvalues by Arnoldi iteration, the leading eigenvector by power
 * iteration and by Arnoldi (with the spectral gap that decides how fast
 * power iteration converges), and a convolution as such an operator.
 * docs/analysis.md.
 *
 *   nd_linop conv;
 *   nd_conv_linop_create(&desc, w, &conv);       // x -> conv(x, w), C*H*W
 *   nd_eigs e;
 *   nd_arnoldi_opts o = {.krylov = 100, .seed = 1};
 *   if (nd_arnoldi_eigs(&conv, &o, &e) == ND_OK)
 *     printf("spectral radius %g\n", hypot(e.re[0], e.im[0]));
 *   nd_eigs_release(&e);
 *   nd_linop_free(&conv);
 *
 * Arnoldi (Saad, "Numerical Methods for Large Eigenvalue Problems", 2nd ed.
 * 2011, Algorithm 6.2): an orthonormal Krylov basis V_m by modified
 * Gram-Schmidt, each vector orthogonalised twice ("twice is enough",
 * Giraud et al. 2005), and the Ritz values: the eigenvalues of the small
 * upper Hessenberg H_m = V_m^T A V_m, by LAPACK's shifted QR for Hessenberg
 * matrices (dhseqr) and its Schur vectors (dtrevc) -- not by unshifted QR
 * sweeps.  A Ritz pair (theta, V_m y) has residual
 * ||A V_m y - theta V_m y|| = h_{m+1,m} |e_m^T y| (Saad eq. 6.11), reported
 * per value: the values with small residuals are eigenvalues of A; with
 * m < n, the outer part of the spectrum converges first.
 *
 * All vectors are double; the operator's callback may compute in any
 * precision. */
#ifndef NEURODYN_ANALYSIS_H
#define NEURODYN_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>

#include "neurodyn/core.h"
#include "neurodyn/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = A x, x and y of length n (not aliased).  A non-OK status stops the
 * caller, which returns it. */
typedef nd_status (*nd_linop_apply_fn)(void *ctx, const double *x, double *y);

typedef struct nd_linop {
  int64_t n;
  nd_linop_apply_fn apply;
  void *ctx;
  void (*free_ctx)(void *ctx); /* called by nd_linop_free; NULL: ctx is the caller's */
} nd_linop;

/* Frees ctx through free_ctx and zeroes *op.  NULL is fine. */
ND_API void nd_linop_free(nd_linop *op);

/* The convolution d describes (batch 1) as an operator on its input: it
 * must map C x H x W to the same shape (out_channels == in_channels, output
 * H x W), like a CordsNet area's recurrent conv (3x3, stride 1, pad 1).
 * w [K, C, R, S] is copied.  Applied by nd_conv2d_forward in float32. */
ND_API nd_status nd_conv_linop_create(const nd_conv2d_desc *d, const float *w, nd_linop *out);

typedef struct nd_arnoldi_opts {
  int krylov;       /* Krylov dimension m; 0: min(n, 100); larger than n: n */
  uint64_t seed;    /* the start vector, N(0, 1) entries */
  bool want_vector; /* also the Ritz vector of the leading value */
} nd_arnoldi_opts;

typedef struct nd_eigs {
  int m;           /* Ritz values: the Krylov dimension reached */
  bool invariant;  /* the Krylov space became invariant before m = krylov
                      (h_{j+1,j} ~ 0): these m values are exact eigenvalues */
  double *re, *im; /* [m] Ritz values by |lambda| descending; a conjugate pair
                      is adjacent, positive imaginary part first */
  double *resid;   /* [m] residual norm of each Ritz pair (unit vector) */
  double gap;      /* 1 - |lambda_2| / |lambda_1|, lambda_2 the largest value that
                      is not lambda_1 itself (its conjugate counts: gap 0 for
                      a complex leading pair); 0 when m < 2 */
  int64_t n;
  double *vec_re, *vec_im; /* [n] unit Ritz vector of re[0] + i im[0] (want_vector), else NULL */
} nd_eigs;

/* ND_ERR_INVALID_ARG for a NULL or empty operator; the callback's status
 * otherwise; ND_ERR_NUMERIC when LAPACK fails or a product is not finite. */
ND_API nd_status nd_arnoldi_eigs(const nd_linop *a, const nd_arnoldi_opts *o, nd_eigs *out);
ND_API void nd_eigs_release(nd_eigs *e);

typedef struct nd_power_opts {
  int max_iter;  /* 0: 1000 */
  double tol;    /* stop when ||A v - lambda v|| <= tol * |lambda|; 0: 1e-8 */
  uint64_t seed; /* start vector */
} nd_power_opts;

typedef struct nd_power_result {
  double lambda;   /* Rayleigh quotient v^T A v of the last unit iterate */
  double residual; /* ||A v - lambda v|| */
  int iters;
  bool converged;  /* false: no real dominant eigenvalue with a gap (e.g. a
                      complex leading pair), or max_iter too small */
} nd_power_result;

/* Power iteration v <- A v / ||A v|| from a random unit vector (Golub & Van
 * Loan, Matrix Computations, 4th ed., section 7.3.1); vec [n] receives the
 * last unit iterate.  The error after k steps shrinks like
 * (|lambda_2| / |lambda_1|)^k, so see nd_eigs.gap. */
ND_API nd_status nd_power_iteration(const nd_linop *a, const nd_power_opts *o, double *vec, nd_power_result *out);

#ifdef __cplusplus
}
#endif
#endif
