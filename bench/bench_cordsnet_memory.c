/* Peak memory of one CordsNet BPTT step (nd_cordsnet_loss_grad) with and
 * without gradient checkpointing over time: one process per setting, so
 * that the peak resident set (VmHWM) is this setting's alone.
 *
 *   bench_cordsnet_memory --steps T [--time-checkpoint K] [--depth 4] [--width 16] [--batch 32]
 *
 * K = 1 keeps every step's record (no checkpointing), K = 0 uses sqrt(T).
 * Prints one JSON line: steps, K, bptt_bytes (the library's count of the
 * stored states), vmhwm_kib (the process's peak RSS), seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/cordsnet.h"

static long vmhwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  int T = atoi(bench_arg(argc, argv, "--steps", "100"));
  int K = atoi(bench_arg(argc, argv, "--time-checkpoint", "0"));
  nd_cordsnet_config c = nd_cordsnet_defaults();
  c.layout = ND_CORDSNET_NATIVE;
  c.depth = atoi(bench_arg(argc, argv, "--depth", "4"));
  c.width = atoi(bench_arg(argc, argv, "--width", "16"));
  c.in_channels = 1, c.classes = 10, c.in_h = c.in_w = 28;
  int64_t B = atoi(bench_arg(argc, argv, "--batch", "32"));
  nd_cordsnet *m;
  if (nd_cordsnet_create(&c, 1, &m) != ND_OK) {
    fprintf(stderr, "%s\n", nd_last_error());
    return 1;
  }
  float *x = bench_rand((size_t)(B * 784), 3);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
  for (int64_t b = 0; b < B; b++) y[b] = (int32_t)(b % 10), x[b] += 0.5f;
  nd_cordsnet_train t = nd_cordsnet_train_defaults();
  t.run.steps_spont = 10, t.run.steps = T - 10 > 1 ? T - 10 : 1;
  t.ce_steps = 5, t.post_steps = 10, t.penalty_steps = 2;
  t.checkpoint_every = K;
  long before = vmhwm_kib();
  double loss, t0 = bench_now();
  if (nd_cordsnet_loss_grad(m, &t, x, y, B, &loss, NULL) != ND_OK) {
    fprintf(stderr, "%s\n", nd_last_error());
    return 1;
  }
  double sec = bench_now() - t0;
  printf("{\"bench\": \"cordsnet_bptt_memory\", \"steps\": %d, \"time_checkpoint\": %d, \"depth\": %d, \"width\": %lld, "
         "\"batch\": %lld, \"bptt_bytes\": %zu, \"vmhwm_kib\": %ld, \"vmhwm_before_kib\": %ld, \"seconds\": %.3f}\n",
         T, K, c.depth, (long long)c.width, (long long)B, nd_cordsnet_bptt_bytes(m), vmhwm_kib(), before, sec);
  nd_cordsnet_free(m);
  free(x), free(y);
  return 0;
}
