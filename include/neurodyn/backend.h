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

/* Name of the BLAS library the CPU backend was linked against ("openblas" or
 * "blis") and the kernels it runs: for OpenBLAS its core type (e.g.
 * "SkylakeX", "Haswell"), for BLIS its sub-configuration (e.g. "zen3"); ""
 * when unknown.  With OpenBLAS, neurodyn switches to the AVX-512 kernels at
 * load time on AVX-512 CPUs even when OPENBLAS_CORETYPE names an older core;
 * $ND_BLAS_CORETYPE=keep turns that off, $ND_BLAS_CORETYPE=<core> forces a
 * core (see src/backend/cpu/blas_core.c and docs/RESULTS.md, "Kernels"). */
ND_API const char *nd_backend_blas_name(void);
ND_API const char *nd_backend_blas_core(void);

#ifdef __cplusplus
}
#endif
#endif
