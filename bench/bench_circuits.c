/* Steps per second of LocallyConnectedWta and ConvWta (circuits.h) for
 * n = 1e4 .. 1e6 units per row, batch 64.  A step's time is the difference
 * of two solves of K1 and K2 steps (tol 1e-30: no row stops) divided by
 * K2 - K1, so the set-up (zeroing, the input check) drops out.  Peer:
 * bench/circuits_torch.py (banded as conv1d, the box as a depthwise conv2d).
 *
 *   bench_circuits [--batch 64] [--halfwidth 3] [--threads 1] [--clock cpu|wall] [--max-n 1000000]
 * One JSON line per measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

static double solve_time(int conv, const nd_wta_config *c0, int64_t steps, int64_t hw, const nd_convwta_shape *s,
                         const float *in, float *x, float *y, int64_t B, int64_t n) {
  nd_wta_config c = *c0;
  c.max_iter = steps;
  nd_wta_result r;
  double t0 = bench_now();
  nd_status st = conv ? nd_convwta_solve(&c, s, in, x, y, &r) : nd_lcwta_solve(&c, hw, in, B, n, x, y, &r);
  double t = bench_now() - t0;
  if (st != ND_OK || r.iterations != steps) {
    fprintf(stderr, "bench_circuits: %s (%lld steps)\n", nd_last_error(), (long long)r.iterations);
    exit(1);
  }
  return t;
}

int main(int argc, char **argv) {
  const int64_t B = atoll(bench_arg(argc, argv, "--batch", "64")), w = atoll(bench_arg(argc, argv, "--halfwidth", "3"));
  const int64_t max_n = atoll(bench_arg(argc, argv, "--max-n", "1000000"));
  const char *clk = bench_use_clock(bench_arg(argc, argv, "--clock", "cpu"));
  nd_set_num_threads(atoi(bench_arg(argc, argv, "--threads", "1")));
  nd_wta_config c = nd_wta_defaults();
  c.alpha = 1.1;
  c.beta1 = 0.3;
  c.beta2 = 0.3;
  c.tol = 1e-30;
  const int64_t ns[3] = {10000, 100000, 1000000};
  for (int k = 0; k < 3 && ns[k] <= max_n; k++) {
    for (int conv = 0; conv < 2; conv++) {
      /* conv: 16 channels of side sqrt(n / 16), a 3x3 box within each channel */
      int64_t side = (int64_t)llround(sqrt((double)ns[k] / 16)), n = conv ? 16 * side * side : ns[k];
      nd_convwta_shape s = {B, 16, side, side, 3, 3, false};
      float *in = bench_rand((size_t)(B * n), 7), *x = malloc(sizeof(float) * (size_t)(B * n));
      float *y = malloc(sizeof(float) * (size_t)(B * n));
      for (int64_t i = 0; i < B * n; i++) in[i] += 0.5f;
      const int64_t k1 = 2, k2 = n >= 1000000 ? 6 : 22;
      double best = 1e30;
      for (int rep = 0; rep < 3; rep++) {
        double t = solve_time(conv, &c, k2, w, &s, in, x, y, B, n) - solve_time(conv, &c, k1, w, &s, in, x, y, B, n);
        if (t < best) best = t;
      }
      double sps = (double)(k2 - k1) / best;
      printf("{\"bench\": \"circuits\", \"impl\": \"neurodyn\", \"circuit\": \"%s\", \"n\": %lld, \"batch\": %lld, "
             "\"shape\": \"%s\", \"steps_per_s\": %.4g, \"unit_steps_per_s\": %.4g, \"clock\": \"%s\", \"threads\": %d}\n",
             conv ? "convwta" : "lcwta", (long long)n, (long long)B, conv ? "16xSxS, 3x3 box" : "band w=3",
             sps, sps * (double)(B * n), clk, nd_max_threads() < 1 ? 1 : atoi(bench_arg(argc, argv, "--threads", "1")));
      fflush(stdout);
      free(in);
      free(x);
      free(y);
    }
  }
  return 0;
}
