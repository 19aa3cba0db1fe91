/* Drives the spiking learner for tests/python/test_snn_train_torch.py:
 *   snn_grad_tool OUTDIR UNIT METHOD T B I N K TAU_OUT SEED
 * UNIT lif|alif|rate, METHOD bptt|eprop.  Draws input spikes (probability
 * 0.3) and labels at every 5th step, computes the gradient of the loss and
 * writes into OUTDIR as NPY: x [T, B, I], labels [T, B] (float), w_in, w_rec,
 * w_out, b_out, their gradients g_w_in ..., and loss [1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/neurodyn.h"

static int put(const char *dir, const char *name, float *data, int ndim, const int64_t *shape) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.npy", dir, name);
  nd_tensor t = nd_tensor_wrap(data, ndim, shape);
  if (nd_npy_write(path, &t) != ND_OK) {
    fprintf(stderr, "snn_grad_tool: %s\n", nd_last_error());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 11) {
    fprintf(stderr, "usage: snn_grad_tool OUTDIR UNIT METHOD T B I N K TAU_OUT SEED\n");
    return 2;
  }
  nd_snn_learn_config c = nd_snn_learn_defaults();
  c.unit = !strcmp(argv[2], "lif") ? ND_SNN_UNIT_LIF : !strcmp(argv[2], "rate") ? ND_SNN_UNIT_RATE : ND_SNN_UNIT_ALIF;
  c.method = !strcmp(argv[3], "eprop") ? ND_SNN_EPROP : ND_SNN_BPTT;
  int64_t T = atoll(argv[4]), B = atoll(argv[5]);
  c.inputs = atoll(argv[6]), c.neurons = atoll(argv[7]), c.outputs = atoll(argv[8]), c.batch = B;
  c.tau_out_ms = atof(argv[9]);
  c.seed = strtoull(argv[10], NULL, 10);
  c.w_in_scale = 2, c.w_rec_scale = 1;
  c.tau_a_ms = 50;
  nd_snn_learner *l;
  if (nd_snn_learner_create(&c, &l) != ND_OK) {
    fprintf(stderr, "snn_grad_tool: %s\n", nd_last_error());
    return 2;
  }
  int64_t I = c.inputs, N = c.neurons, K = c.outputs;
  float *x = malloc((size_t)(T * B * I) * sizeof(float)), *labf = malloc((size_t)(T * B) * sizeof(float));
  int32_t *lab = malloc((size_t)(T * B) * sizeof(int32_t));
  nd_rng r;
  nd_rng_init(&r, c.seed + 100);
  nd_rng_bernoulli(&r, x, T * B * I, 0.3f);
  for (int64_t q = 0; q < T * B; q++) {
    int64_t t = q / B;
    lab[q] = (t + 1) % 5 == 0 ? (int32_t)(nd_rng_u32(&r) % (uint32_t)K) : -1;
    labf[q] = (float)lab[q];
  }
  nd_snn_seq s = {.T = T, .B = B, .x = x, .labels = lab};
  double loss;
  int rc = 0;
  if (nd_snn_learner_grad(l, &s, &loss, NULL, NULL) != ND_OK) {
    fprintf(stderr, "snn_grad_tool: %s\n", nd_last_error());
    rc = 1;
  }
  nd_snn_params p, g;
  nd_snn_learner_params(l, &p, &g);
  float lossf = (float)loss;
  const char *dir = argv[1];
  if (!rc)
    rc = put(dir, "x", x, 3, ND_SHAPE(T, B, I)) || put(dir, "labels", labf, 2, ND_SHAPE(T, B)) ||
         put(dir, "w_in", p.w_in, 2, ND_SHAPE(I, N)) || put(dir, "w_rec", p.w_rec, 2, ND_SHAPE(N, N)) ||
         put(dir, "w_out", p.w_out, 2, ND_SHAPE(N, K)) || put(dir, "b_out", p.b_out, 1, ND_SHAPE(K)) ||
         put(dir, "g_w_in", g.w_in, 2, ND_SHAPE(I, N)) || put(dir, "g_w_rec", g.w_rec, 2, ND_SHAPE(N, N)) ||
         put(dir, "g_w_out", g.w_out, 2, ND_SHAPE(N, K)) || put(dir, "g_b_out", g.b_out, 1, ND_SHAPE(K)) ||
         put(dir, "loss", &lossf, 1, ND_SHAPE(1));
  nd_snn_learner_free(l);
  free(x), free(labf), free(lab);
  return rc;
}
