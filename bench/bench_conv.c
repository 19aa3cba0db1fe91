/* conv2d forward and forward+backward on the CordsNet layer shapes (batch 8,
 * 3x3, stride 1, pad 1).  One JSON line per measurement.
 *   bench_conv [--threads 2] [--reps 10] [--path auto|gemm|winograd] [--batch 8] [--channels C] [--clock wall|cpu]
 * (--channels C: only the layer with C channels)
 * forward_backward = forward + backward_data + backward_filter (with bias grad),
 * the work of one training step of the layer, as PyTorch's y.backward(g). */
#include <stdio.h>

#include "bench_common.h"
#include "backend/cpu/conv_impl.h"
#include "neurodyn/backend.h"
#include "neurodyn/kernels.h"

int main(int argc, char **argv) {
  int threads = atoi(bench_arg(argc, argv, "--threads", "2"));
  int reps = atoi(bench_arg(argc, argv, "--reps", "10"));
  int batch = atoi(bench_arg(argc, argv, "--batch", "8"));
  const char *path = bench_arg(argc, argv, "--path", "auto");
  bench_use_clock(bench_arg(argc, argv, "--clock", "wall"));
  nd__conv_force_path = strcmp(path, "gemm") == 0 ? 1 : strcmp(path, "winograd") == 0 ? 2 : 0;
  const int only = atoi(bench_arg(argc, argv, "--channels", "0")); /* 0: every shape */
  nd_set_num_threads(threads);
  const int64_t shapes[][2] = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
  for (int i = 0; i < 4; i++) {
    const int64_t C = shapes[i][0], HW = shapes[i][1];
    if (only && only != C) continue;
    nd_conv2d_desc d = {batch, C, HW, HW, C, 3, 3, 1, 1, 1, 1};
    size_t nx = (size_t)(batch * C * HW * HW), nw = (size_t)(C * C * 9);
    size_t wsn = nd_conv2d_workspace_floats(&d);
    float *x = bench_rand(nx, 1), *w = bench_rand(nw, 2), *b = bench_rand((size_t)C, 3), *y = bench_rand(nx, 4);
    float *dy = bench_rand(nx, 5), *dx = bench_rand(nx, 6), *dw = bench_rand(nw, 7), *db = bench_rand((size_t)C, 8);
    float *ws = nd_aligned_alloc((wsn ? wsn : 1) * sizeof(float));
    double flops = 2.0 * batch * C * C * 9 * HW * HW, tf, tfb;
    BENCH_MIN_TIME(tf, 2, reps, nd_conv2d_forward(&d, x, w, b, 0.0f, y, ws));
    BENCH_MIN_TIME(tfb, 1, reps, {
      nd_conv2d_forward(&d, x, w, b, 0.0f, y, ws);
      nd_conv2d_backward_data(&d, dy, w, 0.0f, dx, ws);
      nd_conv2d_backward_filter(&d, x, dy, 0.0f, dw, db, ws);
    });
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld", (long long)batch, (long long)C, (long long)HW, (long long)HW);
    printf("{\"bench\":\"conv2d\",\"impl\":\"neurodyn\",\"shape\":\"%s\",\"pass\":\"forward\",\"ms\":%.4f,"
           "\"gflops\":%.1f,\"threads\":%d,\"path\":\"%s\",\"blas\":\"%s\",\"blas_core\":\"%s\"}\n",
           shape, tf * 1e3, flops / tf * 1e-9, threads, path, nd_backend_blas_name(), nd_backend_blas_core());
    printf("{\"bench\":\"conv2d\",\"impl\":\"neurodyn\",\"shape\":\"%s\",\"pass\":\"forward_backward\",\"ms\":%.4f,"
           "\"gflops\":%.1f,\"threads\":%d,\"path\":\"%s\",\"blas\":\"%s\",\"blas_core\":\"%s\"}\n",
           shape, tfb * 1e3, 3 * flops / tfb * 1e-9, threads, path, nd_backend_blas_name(), nd_backend_blas_core());
    fflush(stdout);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
    nd_aligned_free(ws);
  }
  return 0;
}
