/* Locally connected and convolutional WTA circuits (circuits.h): each
 * excitatory unit has its own inhibitory unit reading a box of excitatory
 * units around it, and is inhibited by the same box of inhibitory units
 * (upstream NeurodynamicalSystems.jl `LocallyConnectedWTA`, 8333fac; the
 * units follow Rutishauser, Douglas & Slotine 2011, Eq. 2.1-2.2).
 *
 * The box operator is symmetric (P = P^T) and separable: per channel plane
 * the column sums over the kh rows around each row (O(H W kh)), then the box
 * along the width (direct for boxes up to 31 wide, O(H W kw); a running sum
 * beyond, O(H W)), then (across) over the channels; never a matrix. */
#include <string.h>

#include "backend/cpu/dispatch.h"
#include "circuits_internal.h"
#include "core/internal.h"
#include "neurodyn/tensor.h"

/* Boxes up to this width are summed directly (k vectorised passes over
 * cache-sized blocks); wider ones by a running sum. */
#define DIRECT_MAX 31
#define BLOCK 1024

/* dst[i] = sum_{|j - i| <= half, 0 <= j < len} src[j] along a contiguous line. */
ND__HOT static void box_line(const float *src, float *dst, int64_t len, int64_t half) {
  if (2 * half + 1 > DIRECT_MAX) { /* running sum in double: add the unit entering, drop the one leaving */
    double s = 0;
    for (int64_t j = 0; j <= half && j < len; j++) s += src[j];
    for (int64_t i = 0; i < len; i++) {
      dst[i] = (float)s;
      if (i + 1 + half < len) s += src[i + 1 + half];
      if (i - half >= 0) s -= src[i - half];
    }
    return;
  }
  if (len > 2 * half) { /* direct: each output one sum of 2 half + 1 loads, vectorised over the interior */
    for (int64_t i = 0; i < half; i++) { /* the left edge */
      float s = 0;
      for (int64_t j = 0; j <= i + half; j++) s += src[j];
      dst[i] = s;
    }
    if (half == 1) {
#pragma omp simd
      for (int64_t i = 1; i < len - 1; i++) dst[i] = src[i - 1] + src[i] + src[i + 1];
    } else { /* one vectorised pass per offset over cache-sized blocks of the interior */
      for (int64_t b0 = half; b0 < len - half; b0 += BLOCK) {
        const int64_t b1 = ND__MIN(b0 + BLOCK, len - half);
        const float *s0 = src - half;
#pragma omp simd
        for (int64_t i = b0; i < b1; i++) dst[i] = s0[i];
        for (int64_t d = -half + 1; d <= half; d++) {
          const float *sp = src + d;
#pragma omp simd
          for (int64_t i = b0; i < b1; i++) dst[i] += sp[i];
        }
      }
    }
    for (int64_t i = len - half; i < len; i++) { /* the right edge */
      float s = 0;
      for (int64_t j = i - half; j < len; j++) s += src[j];
      dst[i] = s;
    }
    return;
  }
  for (int64_t b0 = 0; b0 < len; b0 += BLOCK) { /* a box wider than the line */
    const int64_t b1 = ND__MIN(b0 + BLOCK, len);
    memset(dst + b0, 0, (size_t)(b1 - b0) * sizeof(float));
    for (int64_t d = -half; d <= half; d++) {
      const int64_t lo = ND__MAX(b0, -d), hi = ND__MIN(b1, len - d); /* 0 <= i + d < len */
      const float *sp = src + d;
#pragma omp simd
      for (int64_t i = lo; i < hi; i++) dst[i] += sp[i];
    }
  }
}

/* dst = box sums of src [C, H, W] (tmp holds H W floats).  kh = 1: the box
 * along each line.  Otherwise per channel plane, as long vectorised passes
 * over the whole plane: the column sums v = sum of the rows h - rh .. h + rh
 * (the plane plus itself shifted by d rows up and down, cut at the edges),
 * then the sums along the width over the flattened plane (which wrap from
 * one row into the next), whose first and last rw columns of every row are
 * then summed again within their row. */
ND__HOT static void box_pool_hot(const nd__wta_pool *p, const float *src, float *dst, float *tmp) {
  const int64_t C = p->c, H = p->h, W = p->w, hw = H * W, rh = p->kh / 2, rw = p->kw / 2;
  if (p->kh == 1)
    for (int64_t r = 0; r < C * H; r++) box_line(src + r * W, dst + r * W, W, rw);
  else
    for (int64_t ch = 0; ch < C; ch++) {
      const float *s = src + ch * hw;
      float *v = tmp, *o = dst + ch * hw;
      memcpy(v, s, (size_t)hw * sizeof(float));
      for (int64_t d = 1; d <= rh && d < H; d++) {
        const int64_t sh = d * W;
#pragma omp simd
        for (int64_t i = sh; i < hw; i++) v[i] += s[i - sh]; /* the row d above */
#pragma omp simd
        for (int64_t i = 0; i < hw - sh; i++) v[i] += s[i + sh]; /* the row d below */
      }
      if (rw == 0) {
        memcpy(o, v, (size_t)hw * sizeof(float));
        continue;
      }
      if (2 * rw + 1 > DIRECT_MAX || W <= 2 * rw) {
        for (int64_t h = 0; h < H; h++) box_line(v + h * W, o + h * W, W, rw);
        continue;
      }
      box_line(v, o, hw, rw); /* over the flattened plane: right inside every row, wrapped at its edges */
      for (int64_t h = 0; h < H; h++) { /* the edge columns, within their row */
        const float *vr = v + h * W;
        float *orow = o + h * W;
        for (int64_t i = 0; i < rw; i++) {
          float a = 0, b = 0;
          for (int64_t j = 0; j <= i + rw; j++) a += vr[j];
          for (int64_t j = W - 1 - i - rw; j < W; j++) b += vr[j];
          orow[i] = a;
          orow[W - 1 - i] = b;
        }
      }
    }
  if (!p->across || C == 1) return;
  for (int64_t ch = 1; ch < C; ch++)
    for (int64_t i = 0; i < hw; i++) dst[i] += dst[ch * hw + i];
  for (int64_t ch = 1; ch < C; ch++) memcpy(dst + ch * hw, dst, (size_t)hw * sizeof(float));
}

/* The pool's entry (a plain function: its address goes into the pool). */
static void box_pool(const nd__wta_pool *p, const float *src, float *dst, float *tmp) { box_pool_hot(p, src, dst, tmp); }

nd_status nd_convwta_solve(const nd_wta_config *c, const nd_convwta_shape *s, const float *input, float *x, float *y,
                           nd_wta_result *r) {
  if (r) memset(r, 0, sizeof *r);
  if (!s) return nd__error(ND_ERR_INVALID_ARG, "convwta: shape is NULL");
  if (s->batch < 1 || s->channels < 1 || s->height < 1 || s->width < 1)
    return nd__error(ND_ERR_INVALID_ARG, "convwta: input shape [%lld, %lld, %lld, %lld] needs every size >= 1",
                     (long long)s->batch, (long long)s->channels, (long long)s->height, (long long)s->width);
  if (s->kh < 1 || s->kw < 1 || s->kh % 2 == 0 || s->kw % 2 == 0)
    return nd__error(ND_ERR_INVALID_ARG, "convwta: kernel %lldx%lld must be odd in both sizes (centred)", (long long)s->kh,
                     (long long)s->kw);
  if (s->kh > s->height || s->kw > s->width)
    return nd__error(ND_ERR_INVALID_ARG, "convwta: kernel %lldx%lld is larger than the input's %lldx%lld map",
                     (long long)s->kh, (long long)s->kw, (long long)s->height, (long long)s->width);
  if ((double)s->channels * (double)s->height * (double)s->width > (double)ND_TENSOR_MAX_NUMEL)
    return nd__error(ND_ERR_INVALID_ARG, "convwta: map [%lld, %lld, %lld] exceeds the tensor limit", (long long)s->channels,
                     (long long)s->height, (long long)s->width);
  nd__wta_pool p;
  memset(&p, 0, sizeof p);
  p.c = s->channels;
  p.h = s->height;
  p.w = s->width;
  p.kh = s->kh;
  p.kw = s->kw;
  p.across = s->across;
  p.n = p.ni = p.c * p.h * p.w;
  p.e2i = box_pool;
  p.i2e = box_pool;
  return nd__wta_run("convwta", c, &p, input, s->batch, x, y, r);
}

nd_status nd_lcwta_solve(const nd_wta_config *c, int64_t halfwidth, const float *input, int64_t batch, int64_t n,
                         float *x, float *y, nd_wta_result *r) {
  if (r) memset(r, 0, sizeof *r);
  if (n < 1) return nd__error(ND_ERR_INVALID_ARG, "lcwta: n %lld must be >= 1", (long long)n);
  if (halfwidth < 0 || halfwidth >= n)
    return nd__error(ND_ERR_INVALID_ARG, "lcwta: halfwidth %lld must be in [0, n) = [0, %lld)", (long long)halfwidth,
                     (long long)n);
  nd__wta_pool p;
  nd__lcwta_pool(n, halfwidth, &p);
  return nd__wta_run("lcwta", c, &p, input, batch, x, y, r);
}

void nd__lcwta_pool(int64_t n, int64_t halfwidth, nd__wta_pool *p) {
  memset(p, 0, sizeof *p); /* a [1, 1, n] map with a 1 x (2w + 1) box, which may exceed n (the band is cut at the ends) */
  p->c = p->h = 1;
  p->w = n;
  p->kh = 1;
  p->kw = 2 * halfwidth + 1;
  p->n = p->ni = n;
  p->e2i = box_pool;
  p->i2e = box_pool;
}
