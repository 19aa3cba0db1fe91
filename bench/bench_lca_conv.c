/* Convolutional LCA: 64 filters 9x9 on a batch of 16 1x64x64 images (no
 * padding, stride 1: codes 16x64x56x56), 200 plain LCA steps (Euler,
 * eta 0.05, soft threshold lambda 0.1), timed as a whole solve.  Its peer,
 * bench/lca_conv_torch.py, runs the same loop with F.conv2d and
 * F.conv_transpose2d.  One JSON line per measurement.
 *   bench_lca_conv [--threads 2] [--reps 3] [--batch 16] [--filters 64] [--kernel 9] [--size 64] [--iters 200] */
#include <stdio.h>

#include "bench_common.h"
#include "neurodyn/backend.h"
#include "neurodyn/lca.h"

int main(int argc, char **argv) {
  int threads = atoi(bench_arg(argc, argv, "--threads", "2"));
  int reps = atoi(bench_arg(argc, argv, "--reps", "3"));
  const int64_t B = atoll(bench_arg(argc, argv, "--batch", "16")), F = atoll(bench_arg(argc, argv, "--filters", "64"));
  const int64_t K = atoll(bench_arg(argc, argv, "--kernel", "9")), S = atoll(bench_arg(argc, argv, "--size", "64"));
  const int64_t iters = atoll(bench_arg(argc, argv, "--iters", "200"));
  nd_set_num_threads(threads);
  nd_lca_conv_shape sh = {1, S, S, F, K, K, 1, 1, 0, 0};
  nd_lca_config c = nd_lca_defaults();
  c.lambda = 0.1f;
  c.update = nd_accel_defaults(ND_ACCEL_EULER);
  c.update.eta = 0.05;
  c.auto_eta = false;
  c.tol = 1e-300; /* never met: exactly `iters` steps, as the peer */
  c.max_iter = iters;
  float *w = bench_rand((size_t)(F * K * K), 1), *x = bench_rand((size_t)(B * S * S), 2);
  for (int64_t i = 0; i < F * K * K; i++) w[i] *= 0.2f; /* ||filter|| ~ 1 */
  nd_lca_conv *l;
  if (nd_lca_conv_create(&c, &sh, w, B, &l) != ND_OK) {
    fprintf(stderr, "bench_lca_conv: %s\n", nd_last_error());
    return 1;
  }
  const int64_t P = S - K + 1;
  float *a = malloc(sizeof(float) * (size_t)(B * F * P * P));
  nd_lca_result r = {0};
  double t;
  BENCH_MIN_TIME(t, 1, reps, nd_lca_conv_solve(l, x, B, a, &r));
  double nz = 0;
  for (int64_t i = 0; i < B * F * P * P; i++) nz += a[i] != 0;
  const double flops = 2.0 * 2.0 * (double)(B * F * K * K * P * P) * (double)iters; /* conv + transposed conv per step */
  char shape[96];
  snprintf(shape, sizeof shape, "%lldx1x%lldx%lld_F%lld_k%lld_it%lld", (long long)B, (long long)S, (long long)S,
           (long long)F, (long long)K, (long long)iters);
  printf("{\"bench\":\"lca_conv\",\"impl\":\"neurodyn\",\"shape\":\"%s\",\"pass\":\"solve\",\"ms\":%.3f,\"gflops\":%.1f,"
         "\"iterations\":%lld,\"objective\":%.6g,\"nonzero_frac\":%.4f,\"threads\":%d,\"blas\":\"%s\"}\n",
         shape, t * 1e3, flops / t * 1e-9, (long long)r.iterations, r.objective, nz / (double)(B * F * P * P), threads,
         nd_backend_blas_name());
  nd_lca_conv_free(l);
  free(w), free(x), free(a);
  return 0;
}
