/* Opt-in: switch OpenBLAS's kernels for the whole process at library load
 * ($ND_BLAS_CORETYPE).  Off by default: neurodyn's own GEMMs reach fast
 * kernels without it (gemm.c, blis_ex.c), and this switch changes the kernels
 * of every other OpenBLAS user in the process (NumPy, LAPACK, ...).
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels once, when it loads:
 * from $OPENBLAS_CORETYPE if set, else from its CPU detection.  Environments
 * that pin OPENBLAS_CORETYPE=Haswell (common on machines OpenBLAS once
 * misdetected) run AVX2 kernels on AVX-512 CPUs: measured on an AMD EPYC
 * (Zen 5, 2 cores) SGEMM ran at about half the speed of the SkylakeX kernels
 * (docs/RESULTS.md, "Kernels").  Environment variables are read before any
 * code of ours runs, so this constructor (which runs after OpenBLAS's own,
 * as libopenblas is a dependency) re-runs OpenBLAS's kernel selection:
 *
 *   ND_BLAS_CORETYPE unset, empty or "keep": leave OpenBLAS's choice alone
 *       (the default);
 *   ND_BLAS_CORETYPE=auto: if the CPU has AVX-512 (F, BW, DQ, VL) but
 *       OpenBLAS chose kernels without it, switch to its SkylakeX kernels;
 *   ND_BLAS_CORETYPE=<name> (e.g. Haswell, SkylakeX, Zen): use that OpenBLAS
 *       core (ignored unless this OpenBLAS has it).
 *
 * nd_backend_blas_core() reports the kernels in use.  $OPENBLAS_CORETYPE is
 * restored afterwards, so child processes see the environment unchanged.
 * Nothing happens when cblas_sgemm is not OpenBLAS's (a BLIS build, even
 * with OpenBLAS loaded for LAPACK) or OpenBLAS is not a DYNAMIC_ARCH build. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <ctype.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/cpu/cpu.h"

char *openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
extern char gotoblas_SKYLAKEX[] __attribute__((weak)); /* kernel table: only its presence is tested */

static bool core_has_avx512(const char *core) {
  static const char *const cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
    if (strcasecmp(core, cores[i]) == 0) return true;
  return false;
}

static bool cpu_has_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

/* Re-runs OpenBLAS's selection with OPENBLAS_CORETYPE = name, then restores it. */
static void reselect(const char *name) {
  const char *old = getenv("OPENBLAS_CORETYPE");
  char *saved = old ? strdup(old) : NULL;
  if (old && !saved) return;
  setenv("OPENBLAS_CORETYPE", name, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  if (saved) {
    setenv("OPENBLAS_CORETYPE", saved, 1);
    free(saved);
  } else {
    unsetenv("OPENBLAS_CORETYPE");
  }
}

const char *nd__blas_library(void) {
  Dl_info info;
  if (dladdr(nd__cblas_sgemm_address(), &info) && info.dli_fname) {
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (strstr(base, "openblas")) return "openblas";
    if (strstr(base, "blis")) return "blis";
  }
  return "unknown";
}

/* Called from gemm.c so that a static link pulls this file (and its
 * constructor) in whenever GEMM is used. */
void nd__blas_core_link(void) {}

__attribute__((constructor)) static void nd__blas_core_init(void) {
  if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  if (strcmp(nd__blas_library(), "openblas") != 0) return; /* GEMM runs elsewhere (BLIS) */
  const char *want = getenv("ND_BLAS_CORETYPE");
  if (!want || !*want || strcasecmp(want, "keep") == 0) return;
  const char *core = openblas_get_corename();
  if (!core) return;
  if (strcasecmp(want, "auto") != 0) {
    /* Only names this OpenBLAS has kernels for (gotoblas_<NAME>): an unknown
     * name would make OpenBLAS fall back to its slowest generic kernels. */
    char sym[64] = "gotoblas_";
    size_t n = strlen(sym);
    for (const char *c = want; *c && n + 1 < sizeof sym; c++) sym[n++] = (char)toupper((unsigned char)*c);
    sym[n] = 0;
    if (strcasecmp(core, want) != 0 && dlsym(RTLD_DEFAULT, sym)) reselect(want);
    return;
  }
  if (gotoblas_SKYLAKEX && !core_has_avx512(core) && cpu_has_avx512()) reselect("SkylakeX");
}
