/* Test driver for tests/python/test_krotov_numpy.py: runs minibatches of the
 * Krotov-Hopfield fast rule from files and writes the final weights.
 *
 *   krotov_driver W0.npy DATA.npy ORDER.npy OUT.npy [options]
 *     W0.npy    initial weights [hidden, visible] (f4 or f8)
 *     DATA.npy  samples [n, visible] (f4 or f8)
 *     ORDER.npy row indices of each minibatch [steps, batch] (f8 holding integers)
 *     OUT.npy   final weights, '<f8'
 *   options: --p P --k K --delta D --eps0 E --epochs NEP --per-epoch M
 *            --precision f32|f64 --update sparse|gemm
 * Minibatch s uses eps = eps0 (1 - floor(s / M) / NEP), the notebook's anneal
 * with M minibatches per epoch.  Exit 0 on success, 1 with a message otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/io.h"
#include "neurodyn/krotov.h"

static const char *opt(int argc, char **argv, const char *name, const char *def) {
  for (int i = 5; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

static int fail(const char *what, nd_status s) {
  fprintf(stderr, "krotov_driver: %s: %s: %s\n", what, nd_status_str(s), nd_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: krotov_driver W0.npy DATA.npy ORDER.npy OUT.npy [options]\n");
    return 1;
  }
  nd_array w0 = {0}, data = {0}, order = {0};
  nd_status s;
  if ((s = nd_npy_read_f64(argv[1], &w0))) return fail(argv[1], s);
  if ((s = nd_npy_read_f64(argv[2], &data))) return fail(argv[2], s);
  if ((s = nd_npy_read_f64(argv[3], &order))) return fail(argv[3], s);
  if (w0.ndim != 2 || data.ndim != 2 || order.ndim != 2 || data.shape[1] != w0.shape[1]) {
    fprintf(stderr, "krotov_driver: shapes do not fit (W0 %dd, data %dd, order %dd)\n", w0.ndim, data.ndim,
            order.ndim);
    return 1;
  }
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = w0.shape[0];
  c.visible = w0.shape[1];
  c.batch = order.shape[1];
  c.p = atof(opt(argc, argv, "--p", "2"));
  c.k = atoll(opt(argc, argv, "--k", "2"));
  c.delta = atof(opt(argc, argv, "--delta", "0.4"));
  c.eps0 = atof(opt(argc, argv, "--eps0", "0.02"));
  c.epochs = atoll(opt(argc, argv, "--epochs", "200"));
  int64_t per_epoch = atoll(opt(argc, argv, "--per-epoch", "1000000000"));
  c.precision = strcmp(opt(argc, argv, "--precision", "f64"), "f32") == 0 ? ND_KROTOV_F32 : ND_KROTOV_F64;
  c.update = strcmp(opt(argc, argv, "--update", "sparse"), "gemm") == 0 ? ND_KROTOV_UPDATE_GEMM
                                                                          : ND_KROTOV_UPDATE_SPARSE;
  if (per_epoch < 1) per_epoch = 1;
  nd_krotov *k = NULL;
  if ((s = nd_krotov_create(&c, &k))) return fail("create", s);
  if ((s = nd_krotov_set_weights_f64(k, w0.data))) return fail("set_weights", s);
  const double *x = data.data, *ord = order.data;
  const int64_t B = c.batch, D = c.visible;
  double *v = malloc((size_t)(B * D) * sizeof *v);
  if (!v) return 1;
  for (int64_t step = 0; step < order.shape[0]; step++) {
    for (int64_t r = 0; r < B; r++) {
      int64_t row = (int64_t)ord[step * B + r];
      if (row < 0 || row >= data.shape[0]) {
        fprintf(stderr, "krotov_driver: order[%lld][%lld] = %lld out of range\n", (long long)step, (long long)r,
                (long long)row);
        return 1;
      }
      memcpy(v + r * D, x + row * D, (size_t)D * sizeof *v);
    }
    double eps = nd_krotov_eps(&c, step / per_epoch);
    if ((s = nd_krotov_minibatch_f64(k, v, B, eps))) return fail("minibatch", s);
  }
  double *w = malloc((size_t)(c.hidden * D) * sizeof *w);
  if (!w) return 1;
  nd_krotov_weights_f64(k, w);
  if ((s = nd_npy_write_f64(argv[4], 2, (int64_t[]){c.hidden, D}, w))) return fail(argv[4], s);
  free(v), free(w);
  nd_krotov_free(k);
  nd_array_release(&w0), nd_array_release(&data), nd_array_release(&order);
  return 0;
}
