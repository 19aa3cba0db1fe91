/* Per-call time of a tiny LCA solve from C, the baseline of the Python
 * calling-overhead measurement (bench/python_overhead.py runs both).
 *
 *   bench_lca_call D.npy S.npy iters calls
 *
 * One signal S [1, m] under the dictionary D [m, n] (the files the Python
 * side wrote), Euler updates with tol so small that every solve takes
 * exactly `iters` steps.  Prints two lines of JSON, each the best of 5
 * repeats of `calls` calls: the solve alone on a created solver
 * (nd_lca_solve), and create + solve + free (what neurodyn.lca.solve does
 * per call). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "neurodyn/neurodyn.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 5) return fprintf(stderr, "usage: bench_lca_call D.npy S.npy iters calls\n"), 2;
  nd_tensor D, S;
  if (nd_npy_read(argv[1], &D) != ND_OK || nd_npy_read(argv[2], &S) != ND_OK || D.ndim != 2)
    return fprintf(stderr, "%s\n", nd_last_error()), 2;
  int64_t m = D.shape[0], n = D.shape[1], iters = atoll(argv[3]), calls = atoll(argv[4]);
  float *phi = D.data, *s = S.data, *a = malloc(sizeof(float) * (size_t)n);
  nd_lca_config c = nd_lca_defaults();
  c.update = nd_accel_defaults(ND_ACCEL_EULER);
  c.tol = 1e-300, c.max_iter = iters, c.lambda = 0.1f;
  nd_lca *l;
  if (nd_lca_create(&c, phi, m, n, 1, &l) != ND_OK) return fprintf(stderr, "%s\n", nd_last_error()), 1;
  nd_lca_result r;
  for (int64_t i = 0; i < calls / 10; i++) nd_lca_solve(l, s, 1, a, &r); /* warm-up */
  double solve_us = 1e300, full_us = 1e300;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (int64_t i = 0; i < calls; i++) nd_lca_solve(l, s, 1, a, &r);
    double t = (now() - t0) / (double)calls * 1e6;
    if (t < solve_us) solve_us = t;
  }
  nd_lca_free(l);
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (int64_t i = 0; i < calls / 4; i++) {
      nd_lca_create(&c, phi, m, n, 1, &l);
      nd_lca_solve(l, s, 1, a, &r);
      nd_lca_free(l);
    }
    double t = (now() - t0) / (double)(calls / 4) * 1e6;
    if (t < full_us) full_us = t;
  }
  printf("{\"what\": \"solve\", \"m\": %lld, \"n\": %lld, \"iterations\": %lld, \"us_per_call\": %.4f}\n",
         (long long)m, (long long)n, (long long)r.iterations, solve_us);
  printf("{\"what\": \"create+solve+free\", \"m\": %lld, \"n\": %lld, \"iterations\": %lld, \"us_per_call\": %.4f}\n",
         (long long)m, (long long)n, (long long)r.iterations, full_us);
  nd_tensor_release(&D), nd_tensor_release(&S), free(a);
  return 0;
}
