/* Locally connected and convolutional WTA circuits (circuits.h): each
 * excitatory unit has its own inhibitory unit reading a box of excitatory
 * units around it, and is inhibited by the same box of inhibitory units
 * (upstream NeurodynamicalSystems.jl `LocallyConnectedWTA`, 8333fac; the
 * units follow Rutishauser, Douglas & Slotine 2011, Eq. 2.1-2.2).
 *
 * The box operator is symmetric (P = P^T) and separable: sums along the
 * width (direct for boxes up to 31 wide, O(n k); a running sum beyond, O(n)),
 * then along the height (O(n kh)), then (across) over the channels; never a
 * matrix. */
#include <string.h>

#include "circuits_internal.h"
#include "core/internal.h"
#include "neurodyn/tensor.h"

/* Boxes up to this width are summed directly (k vectorised passes over
 * cache-sized blocks); wider ones by a running sum. */
#define DIRECT_MAX 31
#define BLOCK 1024

/* dst[i] = sum_{|j - i| <= half, 0 <= j < len} src[j] along a contiguous line. */
static void box_line(const float *src, float *dst, int64_t len, int64_t half) {
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
  for (int64_t b0 = 0; b0 < len; b0 += BLOCK) {
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

/* dst = box sums of src [C, H, W] (tmp holds C H W floats): along the width
 * per row, then along the height as sums of whole rows. */
static void box_pool(const nd__wta_pool *p, const float *src, float *dst, float *tmp) {
  const int64_t C = p->c, H = p->h, W = p->w, hw = H * W, rh = p->kh / 2;
  float *t = p->kh == 1 ? dst : tmp; /* the height pass is the identity */
  for (int64_t r = 0; r < C * H; r++) box_line(src + r * W, t + r * W, W, p->kw / 2);
  if (p->kh > 1)
    for (int64_t ch = 0; ch < C; ch++)
      for (int64_t h = 0; h < H; h++) {
        float *o = dst + ch * hw + h * W;
        memset(o, 0, (size_t)W * sizeof(float));
        for (int64_t h2 = ND__MAX(0, h - rh); h2 <= ND__MIN(H - 1, h + rh); h2++) {
          const float *q = tmp + ch * hw + h2 * W;
#pragma omp simd
          for (int64_t i = 0; i < W; i++) o[i] += q[i];
        }
      }
  if (!p->across || C == 1) return;
  for (int64_t ch = 1; ch < C; ch++)
    for (int64_t i = 0; i < hw; i++) dst[i] += dst[ch * hw + i];
  for (int64_t ch = 1; ch < C; ch++) memcpy(dst + ch * hw, dst, (size_t)hw * sizeof(float));
}

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
