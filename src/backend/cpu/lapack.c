/* Symmetric eigendecomposition through LAPACKE's dsyev (Debian
 * liblapacke-dev). */
#include <math.h>

#include <lapacke.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"

nd_status nd_dsyev(int64_t n, double *a, double *w) {
  if (!a || !w) return nd__error(ND_ERR_INVALID_ARG, "dsyev: NULL %s", !a ? "matrix" : "eigenvalue buffer");
  if (n < 1 || n > 46340) return nd__error(ND_ERR_INVALID_ARG, "dsyev: size %lld outside 1..46340", (long long)n);
  for (int64_t i = 0; i < n * n; i++)
    if (!isfinite(a[i])) return nd__error(ND_ERR_INVALID_ARG, "dsyev: element %lld is not finite", (long long)i);
  /* Column-major: a symmetric matrix reads the same either way, and the
   * eigenvectors come back as the columns of the column-major array, i.e.
   * the rows of the row-major one. */
  lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, a, (lapack_int)n, w);
  if (info < 0) return nd__error(ND_ERR_INTERNAL, "dsyev: LAPACKE argument %d is invalid", (int)-info);
  if (info > 0) return nd__error(ND_ERR_NUMERIC, "dsyev: LAPACK did not converge (info %d)", (int)info);
  return ND_OK;
}
