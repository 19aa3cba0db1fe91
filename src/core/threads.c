/* Thread count shared by OpenMP regions and the BLAS library. */
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/internal.h"

/* OpenBLAS and BLIS expose their own setters; declared weak so neurodyn links
 * against either (or a reference BLAS that has neither). */
void openblas_set_num_threads(int) __attribute__((weak));
void bli_thread_set_num_threads(long) __attribute__((weak));

static int current_threads = 0;

static int default_threads(void) {
  const char *env = getenv("ND_NUM_THREADS");
  if (env && *env) {
    int n = atoi(env);
    if (n > 0) return n;
    nd__log(ND_LOG_WARN, "ignoring ND_NUM_THREADS=%s (not a positive integer)", env);
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 ? (int)cores : 1;
}

void nd_set_num_threads(int n) {
  current_threads = n > 0 ? n : default_threads();
#ifdef _OPENMP
  omp_set_num_threads(current_threads);
#endif
  if (openblas_set_num_threads) openblas_set_num_threads(current_threads);
  if (bli_thread_set_num_threads) bli_thread_set_num_threads(current_threads);
}

int nd_get_num_threads(void) {
  if (current_threads == 0) nd_set_num_threads(0);
  return current_threads;
}

/* Apply $ND_NUM_THREADS when the library is loaded, so OpenMP regions honour
 * it even if the program never calls nd_set_num_threads. */
__attribute__((constructor)) static void init_threads(void) {
  if (getenv("ND_NUM_THREADS")) nd_set_num_threads(0);
}
