/* krotov_ode_mnist: train the full Krotov-Hopfield model (hidden dynamics
 * Eq. 8 with global inhibition, activity function Eq. 9, plasticity Eq. 3)
 * on MNIST and write the receptive fields as a PNG grid (signed colour map).
 * Uses only the public headers.
 *
 *   cc -O2 examples/krotov_ode_mnist.c $(pkg-config --cflags --libs neurodyn) -o krotov_ode_mnist
 *   ./krotov_ode_mnist [--data DIR] [--out FILE.png] [--hidden 100] [--samples 5000]
 *                      [--epochs 8] [--lr 60] [--lr-end 5] [--batch 100] [--p 2] [--w-inh 0.7]
 *                      [--delta 0.4] [--h-star 0.5] [--tau-l 100] [--dt 0.05] [--t-max 20]
 *                      [--tol 1e-4] [--init-std 1] [--integrator rk4|euler] [--seed 0]
 *
 * Without --out the PNG goes to $TMPDIR/krotov_ode_fields.png (/tmp when
 * TMPDIR is unset), so running it from a source tree leaves nothing there.
 * The step in learning time falls linearly from --lr to --lr-end over the
 * epochs.  Prints one line per epoch (mean and spread of the rows' p-norms,
 * how many units won at least one sample, hidden-dynamics steps and
 * residual, activity fractions) and the wall time.  Exit 77 if MNIST is not
 * present (scripts/get-data.sh fetches it), 1 on any error. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "neurodyn/neurodyn.h"

#define CHECK(expr)                                                                       \
  do {                                                                                    \
    nd_status s_ = (expr);                                                                \
    if (s_ != ND_OK) {                                                                    \
      fprintf(stderr, "%s failed: %s: %s\n", #expr, nd_status_str(s_), nd_last_error()); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  const char *data_dir = NULL, *out = NULL;
  char default_out[4096];
  int64_t samples = 5000, epochs = 8;
  double lr = 60.0, lr_end = 5.0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "option %s needs a value\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--data")) data_dir = v;
    else if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--hidden")) c.hidden = atoll(v);
    else if (!strcmp(a, "--samples")) samples = atoll(v);
    else if (!strcmp(a, "--epochs")) epochs = atoll(v);
    else if (!strcmp(a, "--batch")) c.batch = atoll(v);
    else if (!strcmp(a, "--lr")) lr = atof(v);
    else if (!strcmp(a, "--lr-end")) lr_end = atof(v);
    else if (!strcmp(a, "--p")) c.p = atof(v);
    else if (!strcmp(a, "--w-inh")) c.w_inh = atof(v);
    else if (!strcmp(a, "--delta")) c.delta = atof(v);
    else if (!strcmp(a, "--h-star")) c.h_star = atof(v);
    else if (!strcmp(a, "--tau-l")) c.tau_L = atof(v);
    else if (!strcmp(a, "--dt")) c.dt = atof(v);
    else if (!strcmp(a, "--t-max")) c.t_max = atof(v);
    else if (!strcmp(a, "--tol")) c.tol = atof(v);
    else if (!strcmp(a, "--init-std")) c.init_std = atof(v);
    else if (!strcmp(a, "--seed")) c.seed = (uint64_t)atoll(v);
    else if (!strcmp(a, "--integrator")) CHECK(nd_integrator_parse(v, &c.integrator));
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }

  if (!out) {
    const char *tmp = getenv("TMPDIR");
    snprintf(default_out, sizeof default_out, "%s/krotov_ode_fields.png", tmp && *tmp ? tmp : "/tmp");
    out = default_out;
  }
  nd_dataset train;
  nd_status s = nd_mnist_load(data_dir, "train", samples, &train);
  if (s == ND_ERR_NOT_FOUND || s == ND_ERR_IO) {
    fprintf(stderr, "krotov_ode_mnist: skipped, MNIST not available: %s\n", nd_last_error());
    return 77;
  }
  CHECK(s);
  c.visible = (int64_t)train.rows * train.cols;
  nd_krotov_ode *m;
  CHECK(nd_krotov_ode_create(&c, &m));
  printf("krotov_ode: %lld samples, hidden %lld, p %g, w_inh %g, delta %g, h* %g, tau_L %g, R %g, %s dt %g, "
         "t_max %g, tol %g, batch %lld, lr %g -> %g\n",
         (long long)train.n, (long long)c.hidden, c.p, c.w_inh, c.delta, c.h_star, c.tau_L, c.R,
         nd_integrator_name(c.integrator), c.dt, c.t_max, c.tol, (long long)c.batch, lr, lr_end);

  double *norms = malloc((size_t)c.hidden * sizeof *norms);
  float *h = malloc((size_t)(c.batch * c.hidden) * sizeof *h);
  int *won = calloc((size_t)c.hidden, sizeof *won);
  if (!norms || !h || !won) return 1;
  double t0 = now();
  for (int64_t e = 0; e < epochs; e++) {
    double step = epochs > 1 ? lr + (lr_end - lr) * (double)e / (double)(epochs - 1) : lr;
    CHECK(nd_krotov_ode_epoch_lr(m, train.images.data, train.n, step, NULL, NULL));
    nd_krotov_ode_stats st = nd_krotov_ode_last_stats(m);
    nd_krotov_ode_norms(m, norms);
    double mean = 0, lo = INFINITY, hi = 0;
    for (int64_t u = 0; u < c.hidden; u++) {
      mean += norms[u];
      lo = fmin(lo, norms[u]);
      hi = fmax(hi, norms[u]);
    }
    mean /= (double)c.hidden;
    /* units that reach g = 1 on the first 1000 samples */
    memset(won, 0, (size_t)c.hidden * sizeof *won);
    for (int64_t b0 = 0; b0 + c.batch <= (train.n < 1000 ? train.n : 1000); b0 += c.batch) {
      CHECK(nd_krotov_ode_hidden(m, train.images.data + b0 * c.visible, c.batch, h, NULL));
      for (int64_t i = 0; i < c.batch * c.hidden; i++)
        if (h[i] >= c.h_star && h[i] > 0) won[i % c.hidden] = 1;
    }
    int nwon = 0;
    for (int64_t u = 0; u < c.hidden; u++) nwon += won[u];
    printf("epoch %3lld  lr %6.3g  p-norm mean %.4f [%.4f, %.4f]  units with g=1: %d/%lld  "
           "Eq.8 steps %lld residual %.2g  active %.4f hebb %.4f anti %.4f  %.1f s\n",
           (long long)(e + 1), step, mean, lo, hi, nwon, (long long)c.hidden, (long long)st.steps, st.residual,
           st.frac_active, st.frac_hebb, st.frac_anti, now() - t0);
    fflush(stdout);
  }
  double wall = now() - t0;
  const nd_tensor *w = nd_krotov_ode_weights(m);
  nd_png_tiles_opts po = {.cmap = ND_CMAP_BWR, .zoom = 2};
  CHECK(nd_png_write_tiles(out, w->data, (int)c.hidden, train.rows, train.cols, &po));
  printf("trained in %.1f s; receptive fields in %s\n", wall, out);
  free(norms);
  free(h);
  free(won);
  nd_krotov_ode_free(m);
  nd_dataset_release(&train);
  return 0;
}
