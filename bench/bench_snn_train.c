/* One training step of a recurrent spiking network (include/neurodyn/snn.h,
 * "training"): gradient by BPTT or e-prop, clipping and Adam, on random input
 * spikes (probability 0.3) with labels at the last 10 steps -- the same run as
 * bench/snn_train_torch.py --bench (bench/snn_train.sh).
 *
 *   bench_snn_train [--unit alif] [--method bptt] [--batch 128] [--steps 100]
 *                   [--inputs 40] [--neurons 256] [--outputs 10] [--threads 1]
 *                   [--repeats 5] [--clock wall|cpu]
 * prints one JSON line: seconds per training step (best, median), spike rate,
 * the trainer's buffer bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *unit = bench_arg(argc, argv, "--unit", "alif"), *method = bench_arg(argc, argv, "--method", "bptt");
  const char *clock = bench_use_clock(bench_arg(argc, argv, "--clock", "wall"));
  int64_t B = atoll(bench_arg(argc, argv, "--batch", "128")), T = atoll(bench_arg(argc, argv, "--steps", "100"));
  int repeats = atoi(bench_arg(argc, argv, "--repeats", "5")), threads = atoi(bench_arg(argc, argv, "--threads", "1"));
  nd_set_num_threads(threads);
  nd_snn_learn_config c = nd_snn_learn_defaults();
  c.unit = !strcmp(unit, "lif") ? ND_SNN_UNIT_LIF : !strcmp(unit, "rate") ? ND_SNN_UNIT_RATE : ND_SNN_UNIT_ALIF;
  c.method = !strcmp(method, "eprop") ? ND_SNN_EPROP : ND_SNN_BPTT;
  c.inputs = atoll(bench_arg(argc, argv, "--inputs", "40"));
  c.neurons = atoll(bench_arg(argc, argv, "--neurons", "256"));
  c.outputs = atoll(bench_arg(argc, argv, "--outputs", "10"));
  c.batch = B, c.clip = 1;
  nd_snn_learner *l;
  if (nd_snn_learner_create(&c, &l) != ND_OK) {
    fprintf(stderr, "bench_snn_train: %s\n", nd_last_error());
    return 2;
  }
  float *x = malloc((size_t)(T * B * c.inputs) * sizeof(float));
  int32_t *lab = malloc((size_t)(T * B) * sizeof(int32_t));
  nd_rng r;
  nd_rng_init(&r, 1);
  nd_rng_bernoulli(&r, x, T * B * c.inputs, 0.3f);
  for (int64_t q = 0; q < T * B; q++) lab[q] = q / B >= T - 10 ? (int32_t)(nd_rng_u32(&r) % (uint32_t)c.outputs) : -1;
  nd_snn_seq s = {.T = T, .B = B, .x = x, .labels = lab};
  double *times = malloc((size_t)(repeats + 1) * sizeof(double)), loss, acc, rate = 0;
  for (int k = 0; k <= repeats; k++) {
    double t0 = bench_now();
    if (nd_snn_learner_grad(l, &s, &loss, &acc, &rate) != ND_OK || nd_snn_learner_update(l) != ND_OK) {
      fprintf(stderr, "bench_snn_train: %s\n", nd_last_error());
      return 1;
    }
    times[k] = bench_now() - t0;
  }
  qsort(times + 1, (size_t)repeats, sizeof(double), cmp_d); /* the first step warms up */
  printf("{\"impl\": \"neurodyn\", \"unit\": \"%s\", \"method\": \"%s\", \"threads\": %d, \"clock\": \"%s\", \"T\": %lld, "
         "\"B\": %lld, \"I\": %lld, \"N\": %lld, \"K\": %lld, \"s_per_step_best\": %.6g, \"s_per_step_median\": %.6g, "
         "\"spike_rate\": %.4g, \"buffer_bytes\": %lld}\n",
         unit, method, threads, clock, (long long)T, (long long)B, (long long)c.inputs, (long long)c.neurons,
         (long long)c.outputs, times[1], times[1 + repeats / 2], rate, (long long)nd_snn_learner_buffer_bytes(l));
  nd_snn_learner_free(l);
  free(x), free(lab), free(times);
  return 0;
}
