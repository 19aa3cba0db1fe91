/* Cost of the grid model (grid3d.h) as the active-node fraction varies: a
 * grown model (growth on, threshold 0) on 28 x 28 images of which only the
 * leftmost `lit` columns carry signal, so that the nodes reached by it are
 * active and the rest are never allocated (or freed); per setting the time
 * of one training step (batch_grads + apply: forward, backward, Adam) and of
 * one inference step, the measured active fraction (node GEMMs / node
 * slots), and the times over the dense model's (growth off, threshold < 0:
 * every node computes).  Cost follows activity when time / dense time ~
 * active fraction.  A peer row: an MLP 784-h-10 with the dense grid's
 * parameter count (BP, Adam) on the same batch.
 *
 *   bench_grid3d [--grid 14,14,4] [--dim 8] [--batch 100] [--reps 15] [--clock cpu|wall] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

typedef struct setting {
  nd_grid3d *m;
  nd_optim *opt;
  const float *x;
  const int32_t *y;
  int64_t rows;
} setting;

static void fail(const char *what) {
  fprintf(stderr, "bench_grid3d: %s: %s\n", what, nd_last_error());
  exit(1);
}

static void train_step(setting *s) {
  if (nd_grid3d_batch_grads(s->m, s->x, s->y, s->rows, NULL, NULL) != ND_OK || nd_grid3d_apply(s->m, s->opt) != ND_OK)
    fail("train step");
}

static int32_t pred[4096];
static void infer_step(setting *s) {
  if (nd_grid3d_predict(s->m, s->x, s->rows, s->rows, pred) != ND_OK) fail("predict");
}

static void measure(nd_grid3d_config c, const float *x, const int32_t *y, int64_t rows, int reps, double *t_train,
                    double *t_infer, double *frac, int64_t *alloc) {
  setting s = {.x = x, .y = y, .rows = rows};
  if (nd_grid3d_create(&c, &s.m) != ND_OK) fail("create");
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = 1e-4f; /* small steps: the active set stays put while timing */
  if (nd_optim_create(&oc, 2, nd_grid3d_readout_params(s.m), nd_grid3d_readout_grads(s.m), &s.opt) != ND_OK) fail("optim");
  for (int k = 0; k < 2 * (int)c.nz + 4; k++) train_step(&s); /* grow group by group, free the idle */
  nd_grid3d_reset_stats(s.m);
  BENCH_MIN_TIME(*t_train, 1, reps, train_step(&s));
  nd_grid3d_stats st = nd_grid3d_get_stats(s.m);
  *frac = (double)st.node_evals / (double)st.node_slots;
  BENCH_MIN_TIME(*t_infer, 1, reps, infer_step(&s));
  *alloc = nd_grid3d_num_allocated(s.m);
  nd_optim_free(s.opt);
  nd_grid3d_free(s.m);
}

/* The peer: an MLP 784-h-10 with about the grid's parameter count (h = 49
 * for the default 7x7x3 grid), BP, Adam, on the same batch. */
static nd_mlp *peer;
static nd_optim *peer_opt;
static const float *peer_x;
static const int32_t *peer_y;
static int64_t peer_rows;
static void mlp_train_step(void) {
  if (nd_mlp_batch_grads(peer, peer_x, peer_y, peer_rows, NULL) != ND_OK || nd_optim_step(peer_opt) != ND_OK)
    fail("mlp step");
}
static void mlp_infer_step(void) {
  if (nd_mlp_predict(peer, peer_x, peer_rows, peer_rows, pred) != ND_OK) fail("mlp predict");
}

static void measure_mlp(int64_t params, const float *x, const int32_t *y, int64_t rows, int reps, double *t_train,
                        double *t_infer, int64_t *hidden) {
  int64_t h = (params - 10) / (784 + 1 + 10);
  nd_mlp_config mc = nd_mlp_defaults(3, (const int64_t[]){784, h, 10});
  if (nd_mlp_create(&mc, &peer) != ND_OK) fail("mlp create");
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  if (nd_optim_create(&oc, nd_mlp_num_params(peer), nd_mlp_params(peer), nd_mlp_grads(peer), &peer_opt) != ND_OK)
    fail("mlp optim");
  peer_x = x, peer_y = y, peer_rows = rows;
  BENCH_MIN_TIME(*t_train, 1, reps, mlp_train_step());
  BENCH_MIN_TIME(*t_infer, 1, reps, mlp_infer_step());
  *hidden = h;
  nd_optim_free(peer_opt);
  nd_mlp_free(peer);
}

int main(int argc, char **argv) {
  nd_grid3d_config c = nd_grid3d_defaults();
  long long gx = 14, gy = 14, gz = 4;
  if (sscanf(bench_arg(argc, argv, "--grid", "14,14,4"), "%lld,%lld,%lld", &gx, &gy, &gz) != 3) {
    fprintf(stderr, "bench_grid3d: --grid X,Y,Z\n");
    return 2;
  }
  c.nx = gx, c.ny = gy, c.nz = gz;
  c.dim = atoll(bench_arg(argc, argv, "--dim", "8"));
  c.patience = 2;
  int64_t rows = atoll(bench_arg(argc, argv, "--batch", "100"));
  int reps = atoi(bench_arg(argc, argv, "--reps", "15"));
  const char *clock = bench_use_clock(bench_arg(argc, argv, "--clock", "cpu"));
  if (rows < 1 || rows > 4096 || reps < 1) return 2;
  const int64_t px = 28 * 28;
  float *x = malloc((size_t)(rows * px) * sizeof(float));
  int32_t *y = malloc((size_t)rows * sizeof(int32_t));
  float *noise = bench_rand((size_t)(rows * px), 7);
  for (int64_t r = 0; r < rows; r++) y[r] = (int32_t)(r % 10);

  nd_grid3d_config dense = c;
  dense.growth = false, dense.threshold = -1.0f;
  for (int64_t i = 0; i < rows * px; i++) x[i] = noise[i] + 0.6f; /* every pixel lit */
  double td, tdi, fd;
  int64_t ad;
  measure(dense, x, y, rows, reps, &td, &tdi, &fd, &ad);
  printf("# grid %lldx%lldx%lld, dim %lld, batch %lld, %s clock, minimum of %d steps\n", gx, gy, gz, (long long)c.dim,
         (long long)rows, clock, reps);
  printf("| lit columns | active fraction | allocated nodes | train ms/step | infer ms/step | train / dense | infer / dense |\n");
  printf("|---|---|---|---|---|---|---|\n");
  printf("| dense (all nodes, no gate) | %.3f | %lld | %.3f | %.3f | 1.000 | 1.000 |\n", fd, (long long)ad, 1e3 * td,
         1e3 * tdi);
  {
    nd_grid3d *g = NULL;
    if (nd_grid3d_create(&dense, &g) != ND_OK) fail("create");
    int64_t params = nd_grid3d_param_count_dense(g), h;
    nd_grid3d_free(g);
    double tm, tmi;
    measure_mlp(params, x, y, rows, reps, &tm, &tmi, &h);
    printf("| MLP 784-%lld-10 (%lld parameters; grid: %lld), BP | - | - | %.3f | %.3f | %.3f | %.3f |\n", (long long)h,
           (long long)(784 * h + h + 10 * h + 10), (long long)params, 1e3 * tm, 1e3 * tmi, tm / td, tmi / tdi);
  }
  const int lits[] = {28, 20, 14, 8, 4, 2};
  for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t p = 0; p < px; p++) x[r * px + p] = p % 28 < lits[k] ? noise[r * px + p] + 0.6f : 0.0f;
    double t, ti, f;
    int64_t a;
    measure(c, x, y, rows, reps, &t, &ti, &f, &a);
    printf("| %d | %.3f | %lld | %.3f | %.3f | %.3f | %.3f |\n", lits[k], f, (long long)a, 1e3 * t, 1e3 * ti, t / td,
           ti / tdi);
    fflush(stdout);
  }
  free(x), free(y), free(noise);
  return 0;
}
