/* Time per training sequence of a 4-cell cyclic SOMP network (docs/RESULTS.md
 * "SOMPNet"): cells c0..c3 of 256 dense units, c_i reads c_{i-1 mod 4} and
 * itself, c0 also an external input of 64 features; batch 64, T = 100; STDP
 * and covariance decay on every input of every cell (accumulated mode) and
 * the supervised gradient by BPTT of a per-step MSE readout of c3, blended in
 * one SGD step.  bench/somp_torch.py is the same computation in PyTorch.
 *
 *   bench_somp [--reps N] [--units U] [--batch B] [--T T]
 * prints one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

#define CHECK(x)                                                               \
  do {                                                                         \
    nd_status s_ = (x);                                                        \
    if (s_ != ND_OK) {                                                         \
      fprintf(stderr, "bench_somp: %s: %s\n", #x, nd_last_error());            \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  int reps = 5;
  int64_t U = 256, B = 64, T = 100, NX = 64, NO = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--units")) U = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch")) B = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--T")) T = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--clock")) bench_use_clock(argv[i + 1]);
  }
  nd_somp_cell_config c[4];
  const char *names[4] = {"c0", "c1", "c2", "c3"};
  for (int i = 0; i < 4; i++) {
    c[i] = nd_somp_cell_defaults(names[i], U);
    c[i].hp.noise_std = 0; /* as the PyTorch side */
  }
  nd_somp_net *net;
  CHECK(nd_somp_net_create(4, c, 1, &net));
  CHECK(nd_somp_net_connect(net, 0, "x", NX));
  for (int i = 0; i < 4; i++) {
    CHECK(nd_somp_net_connect(net, i, names[(i + 3) % 4], 0));
    CHECK(nd_somp_net_connect(net, i, names[i], 0));
    nd_somp_rule_config r = nd_somp_rule_defaults(ND_SOMP_RULE_STDP, i, 1e-3);
    CHECK(nd_somp_net_add_rule(net, &r));
    r = nd_somp_rule_defaults(ND_SOMP_RULE_COVARIANCE_DECAY, i, 1e-3);
    CHECK(nd_somp_net_add_rule(net, &r));
  }
  nd_somp_readout *ro;
  CHECK(nd_somp_readout_create(U, NO, &ro));
  nd_somp_learn l = nd_somp_learn_defaults();
  l.plastic = true, l.lr = 1e-3, l.eta_sl = 1.0;
  CHECK(nd_somp_net_learn(net, &l));
  float *x = bench_rand((size_t)(B * T * NX), 1), *tgt = bench_rand((size_t)(B * T * NO), 2);
  float *dyb = malloc((size_t)(B * T * U) * sizeof(float));
  nd_tensor tx = nd_tensor_wrap(x, 3, ND_SHAPE(B, T, NX)), tdy = nd_tensor_wrap(dyb, 3, ND_SHAPE(B, T, U));
  nd_somp_input in = {"x", 0, &tx, 0};
  const nd_tensor *dy[4] = {NULL, NULL, NULL, &tdy};
  double loss = 0, best = 1e30, best_cpu = 1e30;
  for (int r = -1; r < reps; r++) { /* one warm-up, then the minimum of wall and of CPU time */
    const double t0 = bench_now();
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    CHECK(nd_somp_net_forward(net, 1, &in, NULL, NULL));
    CHECK(nd_somp_readout_loss(ro, net, 3, ND_SOMP_LOSS_MSE, tgt, NULL, 0, &tdy, NULL, &loss, NULL));
    nd_somp_net_zero_grad(net);
    CHECK(nd_somp_net_backward(net, dy, NULL));
    CHECK(nd_somp_net_step(net));
    CHECK(nd_somp_readout_step(ro, &l));
    const double w = bench_now() - t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    const double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
    if (r >= 0 && w < best) best = w;
    if (r >= 0 && cpu < best_cpu) best_cpu = cpu;
  }
  printf("{\"impl\": \"neurodyn\", \"units\": %lld, \"batch\": %lld, \"T\": %lld, \"threads\": %d, \"seconds_per_sequence\": %.6f, \"cpu_seconds_per_sequence\": %.6f, \"loss\": %.6g}\n",
         (long long)U, (long long)B, (long long)T, nd_get_num_threads(), best, best_cpu, loss);
  free(x), free(tgt), free(dyb);
  nd_somp_readout_free(ro);
  nd_somp_net_free(net);
  return 0;
}
