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
const char *nd_backend_name(void);

/* Make the backend called `name` active.  ND_ERR_NOT_FOUND (message lists the
 * available backends) if this build has no such backend. */
nd_status nd_backend_select(const char *name);

/* Number of backends compiled in, and the name of backend i (NULL if out of range). */
int nd_backend_count(void);
const char *nd_backend_name_at(int i);

/* Name of the BLAS library the CPU backend was linked against ("openblas" or
 * "blis") and, for OpenBLAS, the core type it selected at load time (e.g.
 * "SkylakeX", "Haswell"; "" when unknown).  Useful for checking that the fast
 * path is in use: see docs/RESULTS.md ("Kernels") about OPENBLAS_CORETYPE. */
const char *nd_backend_blas_name(void);
const char *nd_backend_blas_core(void);

#ifdef __cplusplus
}
#endif
#endif
