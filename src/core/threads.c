/* Thread count shared by OpenMP regions and the BLAS library. */
#include <errno.h>
#include <limits.h>
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

static int online_cores(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 ? (cores > ND_MAX_THREADS ? ND_MAX_THREADS : (int)cores) : 1;
}

int nd_max_threads(void) {
  int cap = 4 * online_cores();
  return cap < ND_MAX_THREADS ? cap : ND_MAX_THREADS;
}

nd_status nd_parse_num_threads(const char *text, const char *source, int *out) {
  if (!source) source = "thread count";
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "%s: output pointer is NULL", source);
  *out = 0;
  if (!text) return nd__error(ND_ERR_INVALID_ARG, "%s: no value given", source);
  const int cap = nd_max_threads();
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || text[0] == ' ' || text[0] == '\t' || text[0] == '+')
    return nd__error(ND_ERR_INVALID_ARG, "%s=\"%s\" is not an integer (want 1..%d)", source, text, cap);
  if (v < 1 || v > cap)
    return nd__error(ND_ERR_INVALID_ARG, "%s=%s is out of range: want 1..%d (4 x %d cores, at most %d)", source,
                     text, cap, online_cores(), ND_MAX_THREADS);
  *out = (int)v;
  return ND_OK;
}

nd_status nd_num_threads_from_env(int *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "ND_NUM_THREADS: output pointer is NULL");
  *out = 0;
  const char *env = getenv("ND_NUM_THREADS");
  if (!env) return ND_OK;
  return nd_parse_num_threads(env, "ND_NUM_THREADS", out);
}

/* The default: a valid $ND_NUM_THREADS, else the number of cores.  A bad
 * value is logged (unless quiet: at load time, before a program could set a
 * log callback) and ignored; nd_num_threads_from_env reports it as an error. */
static int default_threads(bool quiet) {
  int n = 0;
  if (getenv("ND_NUM_THREADS") && nd_num_threads_from_env(&n) != ND_OK) {
    if (!quiet) nd__log(ND_LOG_WARN, "ignoring %s", nd_last_error());
    nd_clear_error();
    n = 0;
  }
  return n > 0 ? n : online_cores();
}

static void apply_threads(int n) {
  current_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(current_threads);
#endif
  if (openblas_set_num_threads) openblas_set_num_threads(current_threads);
  if (bli_thread_set_num_threads) bli_thread_set_num_threads(current_threads);
}

nd_status nd_set_num_threads(int n) {
  const int cap = nd_max_threads();
  if (n < 0 || n > cap)
    return nd__error(ND_ERR_INVALID_ARG, "threads: %d requested, want 1..%d (or 0 for the default)", n, cap);
  apply_threads(n > 0 ? n : default_threads(false));
  return ND_OK;
}

int nd_get_num_threads(void) {
  if (current_threads == 0) apply_threads(default_threads(false));
  return current_threads;
}

/* Apply $ND_NUM_THREADS when the library is loaded, so OpenMP regions honour
 * it even if the program never calls nd_set_num_threads. */
__attribute__((constructor)) static void init_threads(void) {
  if (getenv("ND_NUM_THREADS")) apply_threads(default_threads(true));
}
