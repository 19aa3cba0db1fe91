/* LCA benchmarks (docs/RESULTS.md, "LCA"); driven by bench/lca.sh.
 *
 *   bench_lca conv D.npy S.npy LAMBDAS.npy FSTAR.npy UPDATE ETA [MU SCHEDULE RESTART] [--max-iter N]
 *       per signal (solved alone, its own lambda): the first iteration whose
 *       objective is within 1e-2, 1e-4, 1e-6 of f* (relative), -1 if never;
 *       one JSON line per signal.  ETA <= 0: 1/L.
 *   bench_lca time D.npy S.npy LAMBDA UPDATE ITERS [--form auto|gram|two-gemm] [--reps R]
 *       wall time of one solve of the whole batch with exactly ITERS steps.
 *   bench_lca gemm M N B ITERS: the two GEMMs of ITERS two-gemm steps alone.
 *   bench_lca growth M: time per step for n = 256..8192, B = 1..512, both forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "neurodyn/neurodyn.h"

static void load(const char *path, nd_tensor *t) {
  if (nd_tensor_file_read_f32(path, NULL, t) != ND_OK) {
    fprintf(stderr, "%s\n", nd_last_error());
    exit(2);
  }
}

typedef struct conv_obs {
  const float *phi, *s;
  int64_t m, n;
  double lambda, fstar;
  int64_t hit[3];
} conv_obs;

static double objective(const conv_obs *o, const float *a) {
  double e = 0, p = 0;
  for (int64_t i = 0; i < o->m; i++) {
    double r = o->s[i];
    for (int64_t j = 0; j < o->n; j++)
      if (a[j] != 0) r -= (double)o->phi[i * o->n + j] * a[j];
    e += r * r;
  }
  for (int64_t j = 0; j < o->n; j++) p += fabs((double)a[j]);
  return 0.5 * e + o->lambda * p;
}

static int conv_observe(int64_t it, const float *a, const float *u, int64_t batch, void *user) {
  (void)u, (void)batch;
  conv_obs *o = user;
  double rel = (objective(o, a) - o->fstar) / o->fstar;
  const double eps[3] = {1e-2, 1e-4, 1e-6};
  for (int k = 0; k < 3; k++)
    if (o->hit[k] < 0 && rel <= eps[k]) o->hit[k] = it;
  return o->hit[2] >= 0;
}

static nd_lca_config make_config(const char *update, double eta, int argc, char **argv, int first) {
  nd_lca_config c = nd_lca_defaults();
  nd_accel_kind k;
  if (nd_accel_parse(update, &k) != ND_OK) {
    fprintf(stderr, "%s\n", nd_last_error());
    exit(2);
  }
  c.update = nd_accel_defaults(k);
  if (eta > 0) {
    c.update.eta = eta;
    c.auto_eta = false;
  }
  if (argc > first && argv[first][0] != '-') c.update.mu = atof(argv[first]);
  if (argc > first + 1 && argv[first + 1][0] != '-') nd_accel_schedule_parse(argv[first + 1], &c.update.schedule);
  if (argc > first + 2 && argv[first + 2][0] != '-') c.update.restart = atoi(argv[first + 2]) != 0;
  return c;
}

static int run_conv(int argc, char **argv) {
  nd_tensor D, S, Lam, F;
  load(argv[2], &D);
  load(argv[3], &S);
  load(argv[4], &Lam);
  load(argv[5], &F);
  nd_lca_config c = make_config(argv[6], atof(argv[7]), argc, argv, 8);
  c.tol = 1e-12;
  c.max_iter = atoll(bench_arg(argc, argv, "--max-iter", "20000"));
  int64_t m = D.shape[0], n = D.shape[1], B = S.ndim == 2 ? S.shape[0] : 1;
  float *a = malloc((size_t)n * sizeof *a);
  for (int64_t b = 0; b < B; b++) {
    c.lambda = Lam.data[b];
    nd_lca *l;
    if (nd_lca_create(&c, D.data, m, n, 1, &l) != ND_OK) {
      fprintf(stderr, "%s\n", nd_last_error());
      return 2;
    }
    conv_obs o = {D.data, S.data + b * m, m, n, c.lambda, F.data[b], {-1, -1, -1}};
    nd_lca_set_observer(l, conv_observe, &o);
    nd_lca_result r;
    nd_status s = nd_lca_solve(l, S.data + b * m, 1, a, &r);
    printf("{\"signal\": %lld, \"update\": \"%s\", \"eta\": %.6g, \"it_1e-2\": %lld, \"it_1e-4\": %lld, \"it_1e-6\": %lld, "
           "\"status\": \"%s\"}\n",
           (long long)b, argv[6], nd_lca_eta(l), (long long)o.hit[0], (long long)o.hit[1], (long long)o.hit[2],
           s == ND_OK ? "ok" : "diverged");
    nd_lca_free(l);
  }
  free(a);
  return 0;
}

static int run_time(int argc, char **argv) {
  nd_tensor D, S;
  load(argv[2], &D);
  load(argv[3], &S);
  nd_lca_config c = make_config(argv[5], atof(bench_arg(argc, argv, "--eta", "0")), argc, argv, 99);
  c.lambda = (float)atof(argv[4]);
  c.tol = 1e-30;
  c.max_iter = atoll(argv[6]);
  nd_lca_form_parse(bench_arg(argc, argv, "--form", "auto"), &c.form);
  int reps = atoi(bench_arg(argc, argv, "--reps", "3"));
  int64_t m = D.shape[0], n = D.shape[1], B = S.ndim == 2 ? S.shape[0] : 1;
  float *a = malloc((size_t)(B * n) * sizeof *a);
  nd_lca *l;
  double t_create = bench_now();
  if (nd_lca_create(&c, D.data, m, n, B, &l) != ND_OK) {
    fprintf(stderr, "%s\n", nd_last_error());
    return 2;
  }
  t_create = bench_now() - t_create;
  nd_lca_result r;
  double t;
  BENCH_MIN_TIME(t, 1, reps, nd_lca_solve(l, S.data, B, a, &r));
  printf("{\"bench\": \"lca_time\", \"m\": %lld, \"n\": %lld, \"batch\": %lld, \"update\": \"%s\", \"form\": \"%s\", "
         "\"iterations\": %lld, \"seconds\": %.6g, \"create_seconds\": %.6g, \"objective\": %.9g}\n",
         (long long)m, (long long)n, (long long)B, argv[5], nd_lca_form_name(nd_lca_form_of(l)), (long long)r.iterations,
         t, t_create, r.objective);
  nd_lca_free(l);
  free(a);
  return 0;
}

static int run_gemm(char **argv) {
  int64_t m = atoll(argv[2]), n = atoll(argv[3]), B = atoll(argv[4]), iters = atoll(argv[5]);
  float *phi = bench_rand((size_t)(m * n), 1), *a = bench_rand((size_t)(B * n), 2), *r = bench_rand((size_t)(B * m), 3),
        *d = bench_rand((size_t)(B * n), 4);
  double t;
  BENCH_MIN_TIME(t, 1, 3, for (int64_t i = 0; i < iters; i++) {
    nd_sgemm(false, true, B, m, n, 1.0f, a, n, phi, n, 0.0f, r, m);
    nd_sgemm(false, false, B, n, m, -1.0f, r, m, phi, n, 1.0f, d, n);
  });
  double flop = 4.0 * (double)B * m * n * iters;
  printf("{\"bench\": \"lca_gemm\", \"m\": %lld, \"n\": %lld, \"batch\": %lld, \"iterations\": %lld, \"seconds\": %.6g, "
         "\"gflops\": %.4g}\n", (long long)m, (long long)n, (long long)B, (long long)iters, t, flop / t * 1e-9);
  free(phi), free(a), free(r), free(d);
  return 0;
}

static int run_growth(char **argv) {
  int64_t m = atoll(argv[2]);
  const int64_t ns[] = {256, 1024, 4096, 8192}, bs[] = {1, 16, 128, 512};
  for (int i = 0; i < 4; i++) {
    float *phi = bench_rand((size_t)(m * ns[i]), 5);
    for (int j = 0; j < 4; j++) {
      int64_t n = ns[i], B = bs[j];
      float *s = bench_rand((size_t)(B * m), 6), *a = malloc((size_t)(B * n) * sizeof *a);
      for (int f = 1; f <= 2; f++) {
        if (f == 1 && n > 4096) continue; /* a 256 MiB Gram matrix */
        nd_lca_config c = nd_lca_defaults();
        c.update = nd_accel_defaults(ND_ACCEL_EULER);
        c.lambda = 0.05f;
        c.tol = 1e-30;
        c.form = (nd_lca_form)f;
        int64_t iters = (int64_t)fmax(5, fmin(200, 2e9 / (4.0 * B * m * n)));
        c.max_iter = iters;
        nd_lca *l;
        if (nd_lca_create(&c, phi, m, n, B, &l) != ND_OK) return 2;
        nd_lca_result r;
        double t;
        BENCH_MIN_TIME(t, 0, 2, nd_lca_solve(l, s, B, a, &r));
        double flop_step = f == 1 ? 2.0 * B * n * n : 4.0 * B * m * n;
        printf("{\"bench\": \"lca_growth\", \"m\": %lld, \"n\": %lld, \"batch\": %lld, \"form\": \"%s\", \"ms_per_step\": %.5g, "
               "\"gflops\": %.4g}\n", (long long)m, (long long)n, (long long)B, nd_lca_form_name(c.form), 1e3 * t / iters,
               flop_step * iters / t * 1e-9);
        fflush(stdout);
        nd_lca_free(l);
      }
      free(s), free(a);
    }
    free(phi);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 8 && !strcmp(argv[1], "conv")) return run_conv(argc, argv);
  if (argc >= 7 && !strcmp(argv[1], "time")) return run_time(argc, argv);
  if (argc >= 6 && !strcmp(argv[1], "gemm")) return run_gemm(argv);
  if (argc >= 3 && !strcmp(argv[1], "growth")) return run_growth(argv);
  fprintf(stderr, "usage: see the comment at the top of bench/bench_lca.c\n");
  return 2;
}
