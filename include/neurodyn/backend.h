/* Backend selection.  Every kernel of kernels.h dispatches to the active
 * backend; "cpu" (OpenBLAS or BLIS + OpenMP) is always present, implements
 * every kernel and is the fallback for kernels another backend leaves out.
 *
 * The active backend is process-wide: select it once at start-up, before any
 * thread runs kernels (selection is not synchronised with running kernels). */
#ifndef NEURODYN_BACKEND_H
#define NEURODYN_BACKEND_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the active backend ("cpu" by default). */
ND_API const char *nd_backend_name(void);

/* Make the backend called `name` active.  ND_ERR_NOT_FOUND (message lists the
 * available backends) if this build has no such backend. */
ND_API nd_status nd_backend_select(const char *name);

/* Number of backends compiled in, and the name of backend i (NULL if out of range). */
ND_API int nd_backend_count(void);
ND_API const char *nd_backend_name_at(int i);

/* The BLAS that runs nd_sgemm/nd_dgemm ("openblas" or "blis") and its
 * kernels: for OpenBLAS its core type (e.g. "SkylakeX", "Haswell"), for BLIS
 * its sub-configuration (e.g. "skx", "zen3"); "" when unknown.  On an AVX-512
 * CPU whose linked BLAS runs kernels without AVX-512 (e.g. OpenBLAS under
 * OPENBLAS_CORETYPE=Haswell), neurodyn's GEMMs run BLIS's skx kernels through
 * its expert API with a context of neurodyn's own, which changes nothing for
 * other BLAS users in the process.  $ND_BLAS_GEMM=blis|cblas forces either
 * path; $ND_BLAS_CORETYPE=auto|<core> opts in to switching OpenBLAS's kernels
 * for the whole process at load (src/backend/cpu/gemm.c, blas_core.c;
 * docs/RESULTS.md, "Kernels"). */
ND_API const char *nd_backend_blas_name(void);
ND_API const char *nd_backend_blas_core(void);

#ifdef __cplusplus
}
#endif
#endif
