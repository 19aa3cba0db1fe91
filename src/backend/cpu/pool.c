/* Average pooling (fixed window and adaptive).  Planes (n, c) are independent
 * and run in parallel; each backward pass owns its dx plane, so no races. */
#include <string.h>

#include "backend/cpu/cpu.h"

/* Window [start, start+k) clipped to the input; divisor per PyTorch: the full
 * window (padding included, floor mode keeps it inside the padded input) or
 * the number of input elements it covers. */
static inline float window_divisor(const nd_pool2d_desc *d, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  if (d->count_include_pad) return (float)(d->kernel_h * d->kernel_w);
  return (float)((h1 - h0) * (w1 - w0));
}

nd_status nd__cpu_avgpool2d_forward(const nd_pool2d_desc *d, const float *x, float *y) {
  const int64_t P = nd_pool2d_out_h(d), Q = nd_pool2d_out_w(d), H = d->in_h, W = d->in_w;
  const int64_t planes = d->batch * d->channels;
#pragma omp parallel for schedule(static) ND__OMP_IF(planes * H * W)
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + pl * H * W;
    float *yp = y + pl * P * Q;
    for (int64_t p = 0; p < P; p++) {
      int64_t hs = p * d->stride_h - d->pad_h, h0 = ND__MAXI(hs, 0), h1 = ND__MINI(hs + d->kernel_h, H);
      for (int64_t q = 0; q < Q; q++) {
        int64_t ws = q * d->stride_w - d->pad_w, w0 = ND__MAXI(ws, 0), w1 = ND__MINI(ws + d->kernel_w, W);
        float s = 0;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) s += xp[h * W + w];
        yp[p * Q + q] = s / window_divisor(d, h0, h1, w0, w1);
      }
    }
  }
  return ND_OK;
}

nd_status nd__cpu_avgpool2d_backward(const nd_pool2d_desc *d, const float *dy, float *dx) {
  const int64_t P = nd_pool2d_out_h(d), Q = nd_pool2d_out_w(d), H = d->in_h, W = d->in_w;
  const int64_t planes = d->batch * d->channels;
#pragma omp parallel for schedule(static) ND__OMP_IF(planes * H * W)
  for (int64_t pl = 0; pl < planes; pl++) {
    float *xp = dx + pl * H * W;
    const float *yp = dy + pl * P * Q;
    memset(xp, 0, (size_t)(H * W) * sizeof *xp);
    for (int64_t p = 0; p < P; p++) {
      int64_t hs = p * d->stride_h - d->pad_h, h0 = ND__MAXI(hs, 0), h1 = ND__MINI(hs + d->kernel_h, H);
      for (int64_t q = 0; q < Q; q++) {
        int64_t ws = q * d->stride_w - d->pad_w, w0 = ND__MAXI(ws, 0), w1 = ND__MINI(ws + d->kernel_w, W);
        float g = yp[p * Q + q] / window_divisor(d, h0, h1, w0, w1);
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) xp[h * W + w] += g;
      }
    }
  }
  return ND_OK;
}

/* PyTorch's adaptive bins: start = floor(i*in/out), end = ceil((i+1)*in/out). */
static inline int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
static inline int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

void nd__cpu_adaptive_avgpool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                        const float *x, float *y) {
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) ND__OMP_IF(planes * h * w)
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + pl * h * w;
    float *yp = y + pl * out_h * out_w;
    for (int64_t i = 0; i < out_h; i++) {
      int64_t h0 = bin_start(i, h, out_h), h1 = bin_end(i, h, out_h);
      for (int64_t j = 0; j < out_w; j++) {
        int64_t w0 = bin_start(j, w, out_w), w1 = bin_end(j, w, out_w);
        float s = 0;
        for (int64_t a = h0; a < h1; a++)
          for (int64_t b = w0; b < w1; b++) s += xp[a * w + b];
        yp[i * out_w + j] = s / (float)((h1 - h0) * (w1 - w0));
      }
    }
  }
}

void nd__cpu_adaptive_avgpool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                         const float *dy, float *dx) {
  const int64_t planes = n * c;
#pragma omp parallel for schedule(static) ND__OMP_IF(planes * h * w)
  for (int64_t pl = 0; pl < planes; pl++) {
    float *xp = dx + pl * h * w;
    const float *yp = dy + pl * out_h * out_w;
    memset(xp, 0, (size_t)(h * w) * sizeof *xp);
    for (int64_t i = 0; i < out_h; i++) {
      int64_t h0 = bin_start(i, h, out_h), h1 = bin_end(i, h, out_h);
      for (int64_t j = 0; j < out_w; j++) {
        int64_t w0 = bin_start(j, w, out_w), w1 = bin_end(j, w, out_w);
        float g = yp[i * out_w + j] / (float)((h1 - h0) * (w1 - w0));
        for (int64_t a = h0; a < h1; a++)
          for (int64_t b = w0; b < w1; b++) xp[a * w + b] += g;
      }
    }
  }
}
