/* Timing helpers for the bench_*.c programs (header only). */
#ifndef ND_BENCH_COMMON_H
#define ND_BENCH_COMMON_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CLOCK_MONOTONIC (wall time) by default; bench_use_clock("cpu") switches to
 * the CPU time of the process (summed over its threads).  On a machine shared
 * with other jobs, the CPU time of a one-thread run measures the kernel's own
 * speed without the time it waited for a core (`--clock cpu --threads 1`). */
static clockid_t bench_clock_id = CLOCK_MONOTONIC;
static inline const char *bench_use_clock(const char *name) {
  bench_clock_id = strcmp(name, "cpu") == 0 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
  return bench_clock_id == CLOCK_MONOTONIC ? "wall" : "cpu";
}

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(bench_clock_id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Minimum wall time of `reps` runs of body after `warm` warm-up runs: the
 * minimum is the figure least disturbed by other processes on a shared machine. */
#define BENCH_MIN_TIME(result, warm, reps, body)         \
  do {                                                   \
    for (int w_ = 0; w_ < (warm); w_++) { body; }        \
    double best_ = 1e30;                                 \
    for (int r_ = 0; r_ < (reps); r_++) {                \
      double t0_ = bench_now();                          \
      body;                                              \
      double t_ = bench_now() - t0_;                     \
      if (t_ < best_) best_ = t_;                        \
    }                                                    \
    (result) = best_;                                    \
  } while (0)

static inline float *bench_rand(size_t n, unsigned seed) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = (float)(seed >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
  return p;
}

static inline const char *bench_arg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

#endif
