/* Benchmark of the Krotov-Hopfield official fast rule: seconds per
 * unsupervised epoch on MNIST train (60000 x 784) with the paper's setting
 * (2000 hidden units, p = 3, k = 7, delta = 0.4, minibatch 100 = notebook Num),
 * float32 and float64, sparse and GEMM forms of ds.
 *
 * Prints one JSON line per measurement:
 *   {"bench":"krotov_epoch", "precision", "update", "seconds_per_epoch",
 *    "gflops_nominal"   (2*2*H*D*N flops of the notebook's two GEMMs / time),
 *    "gemm_peer_gflops" (the same GEMM shapes, 600 x (I = V Wp^T and g^T V),
 *                        by direct cblas_sgemm / cblas_dgemm calls),
 *    "pct_of_gemm_rate" (gflops_nominal / gemm_peer_gflops),
 *    "igemm_only_seconds" (600 x I = V Wp^T alone through nd_sgemm/nd_dgemm:
 *                          the sparse form's floor)}
 * and then runs the NumPy peer bench/krotov_numpy.py (float64, the notebook
 * loop, same thread count; found relative to the working directory, so run
 * from the source tree, or give --numpy PATH; --numpy none skips it) and
 * prints its line and a "krotov_epoch_vs_numpy" ratio line.
 *
 * Options: --threads 2 (default; sets ND_NUM_THREADS-equivalent), --reps 2
 * (epochs timed per mode, minimum reported), --limit N (rows of MNIST used),
 * --numpy PATH|none (NumPy peer script), --numpy-batches 60 (minibatches it times),
 * --python /usr/bin/python3 (interpreter with numpy for the peer),
 * --modes f32-sparse,f64-gemm,... (which of the four epochs to time; default all),
 * --clock wall|cpu (wall time, default, or the process's CPU time: bench_common.h).
 * Data: data/mnist (scripts/get-data.sh); a "skipped" line if absent. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "neurodyn/backend.h"
#include "neurodyn/data.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"

int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));

/* GFLOP/s of direct CBLAS calls on the epoch's GEMM shapes: nb times
 * I[B,H] = V[B,D] Wp[H,D]^T and ds[H,D] = g[B,H]^T V[B,D].  BLAS runs with its
 * own `threads` threads. */
static double gemm_peer(bool f64, int64_t H, int64_t D, int64_t B, int64_t nb, int threads, int reps) {
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
  size_t sz = f64 ? sizeof(double) : sizeof(float);
  void *w = calloc((size_t)(H * D), sz), *v = calloc((size_t)(B * D), sz), *in = calloc((size_t)(B * H), sz),
       *g = calloc((size_t)(B * H), sz), *ds = calloc((size_t)(H * D), sz);
  float *r = bench_rand((size_t)(H * D), 1);
  for (int64_t i = 0; i < H * D; i++) {
    if (f64) ((double *)w)[i] = r[i], ((double *)ds)[i] = 0;
    else ((float *)w)[i] = r[i];
  }
  for (int64_t i = 0; i < B * D; i++) {
    if (f64) ((double *)v)[i] = r[i] + 0.5;
    else ((float *)v)[i] = r[i] + 0.5f;
  }
  for (int64_t i = 0; i < B * H; i++) {
    if (f64) ((double *)g)[i] = r[i];
    else ((float *)g)[i] = r[i];
  }
  double t;
  BENCH_MIN_TIME(t, 1, reps, {
    for (int64_t b = 0; b < nb; b++) {
      if (f64) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)D, 1.0, v, (int)D, w,
                    (int)D, 0.0, in, (int)H);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)D, (int)B, 1.0, g, (int)H, v, (int)D, 0.0,
                    ds, (int)D);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)D, 1.0f, v, (int)D, w, (int)D,
                    0.0f, in, (int)H);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)D, (int)B, 1.0f, g, (int)H, v, (int)D,
                    0.0f, ds, (int)D);
      }
    }
  });
  free(w), free(v), free(in), free(g), free(ds), free(r);
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  return 4.0 * (double)H * (double)D * (double)B * (double)nb / t * 1e-9;
}

/* Seconds for nb products I[B,H] = V[B,D] Wp[H,D]^T through nd_sgemm /
 * nd_dgemm (OpenMP panels, as the rule calls it): the floor of the sparse
 * form's epoch, whose only O(H*D*B) work is this product. */
static double igemm_floor(bool f64, int64_t H, int64_t D, int64_t B, int64_t nb, int reps) {
  size_t sz = f64 ? sizeof(double) : sizeof(float);
  void *w = malloc((size_t)(H * D) * sz), *v = malloc((size_t)(B * D) * sz), *in = malloc((size_t)(B * H) * sz);
  /* real values in every page (calloc'ed zero pages would all share one
   * physical page and make the product look cache-resident) */
  float *r = bench_rand((size_t)(H * D), 2);
  for (int64_t i = 0; i < H * D; i++) {
    if (f64) ((double *)w)[i] = r[i];
    else ((float *)w)[i] = r[i];
  }
  for (int64_t i = 0; i < B * D; i++) {
    if (f64) ((double *)v)[i] = r[i] + 0.5;
    else ((float *)v)[i] = r[i] + 0.5f;
  }
  free(r);
  double t;
  BENCH_MIN_TIME(t, 1, reps, {
    for (int64_t b = 0; b < nb; b++) {
      if (f64)
        nd_dgemm(false, true, B, H, D, 1.0, v, D, w, D, 0.0, in, H);
      else
        nd_sgemm(false, true, B, H, D, 1.0f, v, D, w, D, 0.0f, in, H);
    }
  });
  free(w), free(v), free(in);
  return t;
}

int main(int argc, char **argv) {
  const int threads = atoi(bench_arg(argc, argv, "--threads", "2"));
  const int reps = atoi(bench_arg(argc, argv, "--reps", "2"));
  const int64_t limit = atoll(bench_arg(argc, argv, "--limit", "0"));
  /* The NumPy peer runs by default when started from the source tree (as
   * bench/run.sh does); --numpy none skips it. */
  const char *numpy = bench_arg(argc, argv, "--numpy", "bench/krotov_numpy.py");
  if (strcmp(numpy, "none") == 0 || access(numpy, R_OK) != 0) numpy = NULL;
  const char *numpy_batches = bench_arg(argc, argv, "--numpy-batches", "60");
  const char *python = bench_arg(argc, argv, "--python", "/usr/bin/python3");
  const char *modes = bench_arg(argc, argv, "--modes", "all");
  const char *clock_name = bench_use_clock(bench_arg(argc, argv, "--clock", "wall"));
  nd_set_num_threads(threads);

  nd_dataset ds;
  nd_status s = nd_mnist_load(NULL, "train", limit, &ds);
  if (s != ND_OK) {
    printf("{\"bench\":\"krotov_epoch\",\"skipped\":\"MNIST not found (run scripts/get-data.sh)\"}\n");
    return 0;
  }
  const int64_t H = 2000, D = 784, B = 100, N = ds.n, nb = N / B;
  const double nominal = 4.0 * (double)H * (double)D * (double)(nb * B); /* 2*2*H*D*N */
  double peer[2] = {0, 0}, floor_s[2] = {0, 0};
  for (int f64 = 0; f64 < 2; f64++) {
    if (strcmp(modes, "all") != 0 && !strstr(modes, f64 ? "f64" : "f32")) continue;
    peer[f64] = gemm_peer(f64, H, D, B, nb, threads, reps);
    floor_s[f64] = igemm_floor(f64, H, D, B, nb, reps);
  }

  double best_f32 = 0;
  for (int prec = 0; prec < 2; prec++)
    for (int upd = 0; upd < 2; upd++) {
      char mode[16];
      snprintf(mode, sizeof mode, "%s-%s", prec ? "f64" : "f32", upd ? "gemm" : "sparse");
      if (strcmp(modes, "all") != 0 && !strstr(modes, mode)) continue;
      nd_krotov_config c = nd_krotov_defaults();
      c.hidden = H, c.visible = D, c.batch = B, c.p = 3, c.k = 7, c.delta = 0.4, c.epochs = 1000, c.seed = 1;
      c.precision = (nd_krotov_precision)prec;
      c.update = (nd_krotov_update)upd;
      nd_krotov *k = NULL;
      if ((s = nd_krotov_create(&c, &k)) != ND_OK) {
        fprintf(stderr, "bench_krotov: %s\n", nd_last_error());
        return 1;
      }
      double t = 1e30;
      for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        s = nd_krotov_epoch(k, ds.images.data, N, NULL, NULL);
        double dt = bench_now() - t0;
        if (s != ND_OK) {
          fprintf(stderr, "bench_krotov: %s\n", nd_last_error());
          return 1;
        }
        if (dt < t) t = dt;
      }
      nd_krotov_free(k);
      const double gf = nominal / t * 1e-9;
      if (prec == 0 && (best_f32 == 0 || t < best_f32)) best_f32 = t;
      printf("{\"bench\":\"krotov_epoch\",\"precision\":\"%s\",\"update\":\"%s\",\"hidden\":%lld,\"visible\":%lld,"
             "\"samples\":%lld,\"batch\":%lld,\"p\":3,\"k\":7,\"threads\":%d,\"clock\":\"%s\",\"blas\":\"%s\","
             "\"blas_core\":\"%s\",\"seconds_per_epoch\":%.4f,"
             "\"gflops_nominal\":%.2f,\"gemm_peer\":\"cblas_%cgemm\",\"gemm_peer_gflops\":%.2f,"
             "\"pct_of_gemm_rate\":%.1f,\"igemm_only_seconds\":%.4f}\n",
             prec ? "f64" : "f32", upd ? "gemm" : "sparse", (long long)H, (long long)D, (long long)(nb * B),
             (long long)B, threads, clock_name, nd_backend_blas_name(), nd_backend_blas_core(), t, gf, prec ? 'd' : 's', peer[prec], 100.0 * gf / peer[prec], floor_s[prec]);
      fflush(stdout);
    }

  if (numpy) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s --threads %d --batches %s --limit %lld", python, numpy, threads, numpy_batches,
             (long long)limit);
    FILE *f = popen(cmd, "r");
    double np_sec = -1;
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
      fputs(line, stdout);
      const char *q = strstr(line, "\"seconds_per_epoch\":");
      if (q) np_sec = atof(q + strlen("\"seconds_per_epoch\":"));
    }
    if (f) pclose(f);
    if (np_sec > 0)
      printf("{\"bench\":\"krotov_epoch_vs_numpy\",\"threads\":%d,\"c_f32_seconds_per_epoch\":%.4f,"
             "\"numpy_f64_seconds_per_epoch\":%.3f,\"speedup\":%.1f}\n",
             threads, best_f32, np_sec, np_sec / best_f32);
    else
      printf("{\"bench\":\"krotov_epoch_vs_numpy\",\"skipped\":\"NumPy peer %s gave no result\"}\n", numpy);
  }
  nd_dataset_release(&ds);
  return 0;
}
