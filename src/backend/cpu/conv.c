/* 2-D convolution on the CPU: im2col + GEMM (any kernel, stride, padding),
 * a plain GEMM for 1x1 stride-1 unpadded kernels, and Winograd F(4x4,3x3)
 * for 3x3 stride-1 kernels (conv_winograd.c).
 *
 * Shapes: x [N,C,H,W], w [K,C,R,S], y [N,K,P,Q].  The lowered input of one
 * image is col [C*R*S, P*Q] with row (c*R + r)*S + s holding
 * x[c, p*sh - ph + r, q*sw - pw + s] (zero outside the image), so that
 * y_n = W[K, CRS] * col_n.  Small images are lowered several at a time
 * (col [CRS, g*PQ]) so the GEMM is wide enough to run at full speed. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/conv_impl.h"
#include "core/internal.h"

void nd__conv_geom_init(nd__conv_geom *g, const nd_conv2d_desc *d) {
  g->N = d->batch;
  g->C = d->in_channels;
  g->H = d->in_h;
  g->W = d->in_w;
  g->K = d->out_channels;
  g->R = d->kernel_h;
  g->S = d->kernel_w;
  g->sh = d->stride_h;
  g->sw = d->stride_w;
  g->ph = d->pad_h;
  g->pw = d->pad_w;
  g->P = nd_conv2d_out_h(d);
  g->Q = nd_conv2d_out_w(d);
  g->HW = g->H * g->W;
  g->PQ = g->P * g->Q;
  g->CRS = g->C * g->R * g->S;
  g->pointwise = g->R == 1 && g->S == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
  /* Images per GEMM: aim for at least ND__GEMM_MIN_COLS columns. */
  g->group = g->pointwise ? 1 : ND__MAXI(1, ND__MINI(g->N, ND__GEMM_MIN_COLS / g->PQ));
}

static size_t gemm_path_floats(const nd__conv_geom *g) {
  size_t col = g->pointwise ? 0 : (size_t)(g->CRS * g->group * g->PQ);
  size_t tmp = g->group > 1 ? (size_t)(g->K * g->group * g->PQ) : 0;
  return col + tmp;
}

size_t nd__cpu_conv2d_workspace_floats(const nd_conv2d_desc *d) {
  nd__conv_geom g;
  nd__conv_geom_init(&g, d);
  size_t n = gemm_path_floats(&g);
  if (nd__winograd_applies(&g)) n = ND__MAX(n, nd__winograd_workspace_floats(&g));
  return n;
}

/* Range [lo, hi) of output columns q whose input column q*sw - pw + s lies in [0, W). */
static inline void valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
  /* need 0 <= q*stride + off < in, off = s - pad */
  int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t h = in - off <= 0 ? 0 : (in - off - 1) / stride + 1;
  *lo = ND__MINI(l, out);
  *hi = ND__MAXI(*lo, ND__MINI(h, out));
}

/* col[row, off + p*Q + q] for the rows of channel c of one image (x_img = [C,H,W]). */
static void im2col_channel(const nd__conv_geom *g, const float *x_img, int64_t c, float *col, int64_t ldcol) {
  const float *xc = x_img + c * g->HW;
  for (int64_t r = 0; r < g->R; r++)
    for (int64_t s = 0; s < g->S; s++) {
      float *dst = col + ((c * g->R + r) * g->S + s) * ldcol;
      int64_t qlo, qhi;
      valid_range(s - g->pw, g->sw, g->W, g->Q, &qlo, &qhi);
      for (int64_t p = 0; p < g->P; p++, dst += g->Q) {
        int64_t ih = p * g->sh - g->ph + r;
        if (ih < 0 || ih >= g->H) {
          memset(dst, 0, (size_t)g->Q * sizeof *dst);
          continue;
        }
        const float *src = xc + ih * g->W + s - g->pw;
        for (int64_t q = 0; q < qlo; q++) dst[q] = 0;
        if (g->sw == 1)
          memcpy(dst + qlo, src + qlo, (size_t)(qhi - qlo) * sizeof *dst);
        else
          for (int64_t q = qlo; q < qhi; q++) dst[q] = src[q * g->sw];
        for (int64_t q = qhi; q < g->Q; q++) dst[q] = 0;
      }
    }
}

/* dx_img[c] += col2im of the rows of channel c (the adjoint of im2col_channel). */
static void col2im_channel(const nd__conv_geom *g, const float *col, int64_t ldcol, int64_t c, float *dx_img) {
  float *xc = dx_img + c * g->HW;
  for (int64_t r = 0; r < g->R; r++)
    for (int64_t s = 0; s < g->S; s++) {
      const float *src = col + ((c * g->R + r) * g->S + s) * ldcol;
      int64_t qlo, qhi;
      valid_range(s - g->pw, g->sw, g->W, g->Q, &qlo, &qhi);
      for (int64_t p = 0; p < g->P; p++, src += g->Q) {
        int64_t ih = p * g->sh - g->ph + r;
        if (ih < 0 || ih >= g->H) continue;
        float *dst = xc + ih * g->W + s - g->pw;
        if (g->sw == 1) {
#pragma omp simd
          for (int64_t q = qlo; q < qhi; q++) dst[q] += src[q];
        } else {
          for (int64_t q = qlo; q < qhi; q++) dst[q * g->sw] += src[q];
        }
      }
    }
}

/* Lower images n0..n0+gn-1 into col [CRS, gn*PQ].  Work-shared: called by
 * every thread of a parallel region (ends with its barrier), or serially. */
static void im2col_group(const nd__conv_geom *g, const float *x, int64_t n0, int64_t gn, float *col) {
  const int64_t ld = gn * g->PQ, jobs = gn * g->C;
#pragma omp for schedule(static)
  for (int64_t j = 0; j < jobs; j++) {
    int64_t i = j / g->C, c = j % g->C;
    im2col_channel(g, x + (n0 + i) * g->C * g->HW, c, col + i * g->PQ, ld);
  }
}

/* Threads for a GEMM-path region that splits the K output channels: at most
 * one per channel, one when already inside a parallel region. */
static int k_threads(const nd__conv_geom *g) {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  return (int)ND__MINI(omp_get_max_threads(), g->K);
#else
  (void)g;
  return 1;
#endif
}
static void thread_rows(int64_t K, int64_t *lo, int64_t *hi) {
  int nt = 1, t = 0;
#ifdef _OPENMP
  nt = omp_get_num_threads();
  t = omp_get_thread_num();
#endif
  *lo = K * t / nt;
  *hi = K * (t + 1) / nt;
}

/* a[n0+i, k, :] (an [N,K,PQ] array) into buf [K, gn*PQ]. */
static void gather_group(const nd__conv_geom *g, const float *a, int64_t n0, int64_t gn, float *buf) {
  const int64_t ld = gn * g->PQ, jobs = gn * g->K;
#pragma omp parallel for schedule(static) ND__OMP_IF(g->K * ld)
  for (int64_t j = 0; j < jobs; j++) {
    int64_t i = j / g->K, k = j % g->K;
    memcpy(buf + k * ld + i * g->PQ, a + ((n0 + i) * g->K + k) * g->PQ, (size_t)g->PQ * sizeof *buf);
  }
}

float *nd__conv_workspace(float *given, size_t floats, float **owned) {
  *owned = NULL;
  if (given || floats == 0) return given;
  *owned = nd_aligned_alloc(floats * sizeof(float));
  return *owned;
}

static nd_status nomem(const char *fn, size_t floats) {
  return nd__error(ND_ERR_NOMEM, "%s: cannot allocate a workspace of %zu floats", fn, floats);
}

/* One parallel region: per group of images, all threads lower the input
 * (one barrier), then each thread multiplies its own range of output
 * channels (serial GEMM) and stores them; a second barrier before the next
 * group reuses the buffers. */
nd_status nd__conv2d_forward_gemm(const nd__conv_geom *g, const float *x, const float *w, const float *bias, float beta,
                                  float *y, float *ws) {
  float *col = ws, *tmp = ws + (g->pointwise ? 0 : g->CRS * g->group * g->PQ);
  nd__blas_single_thread();
#pragma omp parallel num_threads(k_threads(g))
  {
    int64_t klo, khi;
    thread_rows(g->K, &klo, &khi);
    for (int64_t n0 = 0; n0 < g->N; n0 += g->group) {
      const int64_t gn = ND__MINI(g->group, g->N - n0), ld = gn * g->PQ;
      const float *b = g->pointwise ? x + n0 * g->C * g->HW : col;
      if (!g->pointwise) im2col_group(g, x, n0, gn, col);
      if (khi > klo) {
        const float *wk = w + klo * g->CRS;
        if (gn == 1) {
          float *yn = y + (n0 * g->K + klo) * g->PQ;
          nd__cpu_sgemm_serial(false, false, khi - klo, g->PQ, g->CRS, 1.0f, wk, g->CRS, b, ld, beta, yn, g->PQ);
          if (bias) nd__cpu_add_channel_bias(yn, bias + klo, 1, khi - klo, g->PQ);
        } else {
          float *tk = tmp + klo * ld;
          nd__cpu_sgemm_serial(false, false, khi - klo, ld, g->CRS, 1.0f, wk, g->CRS, b, ld, 0.0f, tk, ld);
          for (int64_t i = 0; i < gn; i++)
            for (int64_t k = klo; k < khi; k++) {
              const float *src = tmp + k * ld + i * g->PQ;
              float *dst = y + ((n0 + i) * g->K + k) * g->PQ;
              const float bk = bias ? bias[k] : 0.0f;
              if (beta == 0.0f)
                for (int64_t t = 0; t < g->PQ; t++) dst[t] = src[t] + bk;
              else
                for (int64_t t = 0; t < g->PQ; t++) dst[t] = src[t] + bk + beta * dst[t];
            }
        }
      }
      if (n0 + g->group < g->N) {
#pragma omp barrier
      }
    }
  }
  return ND_OK;
}

nd_status nd__cpu_conv2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias, float beta,
                                 float *y, float *workspace) {
  nd__conv_geom g;
  nd__conv_geom_init(&g, d);
  bool wino = nd__winograd_applies(&g);
  size_t floats = wino ? nd__winograd_workspace_floats(&g) : gemm_path_floats(&g);
  float *owned, *ws = nd__conv_workspace(workspace, floats, &owned);
  if (!ws && floats) return nomem("nd_conv2d_forward", floats);
  nd_status st = wino ? nd__conv2d_forward_winograd(&g, x, w, bias, beta, y, ws)
                      : nd__conv2d_forward_gemm(&g, x, w, bias, beta, y, ws);
  nd_aligned_free(owned);
  return st;
}

nd_status nd__conv2d_backward_data_gemm(const nd__conv_geom *g, const float *dy, const float *w, float beta, float *dx,
                                        float *ws) {
  float *col = ws, *tmp = ws + (g->pointwise ? 0 : g->CRS * g->group * g->PQ);
  for (int64_t n0 = 0; n0 < g->N; n0 += g->group) {
    const int64_t gn = ND__MINI(g->group, g->N - n0), ld = gn * g->PQ;
    const float *a = dy + n0 * g->K * g->PQ;
    if (gn > 1) {
      gather_group(g, dy, n0, gn, tmp);
      a = tmp;
    }
    if (g->pointwise) { /* dx_n[C, HW] = W^T[C, K] dy_n[K, HW] */
      nd__cpu_sgemm(true, false, g->C, g->PQ, g->K, 1.0f, w, g->C, a, g->PQ, beta, dx + n0 * g->C * g->HW, g->PQ);
      continue;
    }
    /* dcol[CRS, ld] = W^T dy, then scatter-add into the image planes. */
    nd__cpu_sgemm(true, false, g->CRS, ld, g->K, 1.0f, w, g->CRS, a, ld, 0.0f, col, ld);
    const int64_t jobs = gn * g->C;
#pragma omp parallel for schedule(static) ND__OMP_IF(g->CRS * ld)
    for (int64_t j = 0; j < jobs; j++) {
      int64_t i = j / g->C, c = j % g->C;
      float *img = dx + (n0 + i) * g->C * g->HW, *plane = img + c * g->HW;
      if (beta == 0.0f)
        memset(plane, 0, (size_t)g->HW * sizeof *plane);
      else if (beta != 1.0f)
        for (int64_t t = 0; t < g->HW; t++) plane[t] *= beta;
      col2im_channel(g, col + i * g->PQ, ld, c, img);
    }
  }
  return ND_OK;
}

nd_status nd__cpu_conv2d_backward_data(const nd_conv2d_desc *d, const float *dy, const float *w, float beta, float *dx,
                                       float *workspace) {
  nd__conv_geom g;
  nd__conv_geom_init(&g, d);
  bool wino = nd__winograd_applies(&g) && nd__winograd_backward_applies(&g);
  size_t floats = wino ? nd__winograd_workspace_floats(&g) : gemm_path_floats(&g);
  float *owned, *ws = nd__conv_workspace(workspace, floats, &owned);
  if (!ws && floats) return nomem("nd_conv2d_backward_data", floats);
  nd_status st = wino ? nd__conv2d_backward_data_winograd(&g, dy, w, beta, dx, ws)
                      : nd__conv2d_backward_data_gemm(&g, dy, w, beta, dx, ws);
  nd_aligned_free(owned);
  return st;
}

/* Same structure as the forward GEMM path: per group, a shared lowering of
 * the input, then each thread accumulates its own rows of dW (and db). */
nd_status nd__cpu_conv2d_backward_filter(const nd_conv2d_desc *d, const float *x, const float *dy, float beta, float *dw,
                                         float *db, float *workspace) {
  nd__conv_geom g;
  nd__conv_geom_init(&g, d);
  size_t floats = gemm_path_floats(&g);
  float *owned, *ws = nd__conv_workspace(workspace, floats, &owned);
  if (!ws && floats) return nomem("nd_conv2d_backward_filter", floats);
  float *col = ws, *tmp = ws + (g.pointwise ? 0 : g.CRS * g.group * g.PQ);
  nd__blas_single_thread();
#pragma omp parallel num_threads(k_threads(&g))
  {
    int64_t klo, khi;
    thread_rows(g.K, &klo, &khi);
    for (int64_t n0 = 0; n0 < g.N; n0 += g.group) {
      const int64_t gn = ND__MINI(g.group, g.N - n0), ld = gn * g.PQ;
      const float *b = g.pointwise ? x + n0 * g.C * g.HW : col;
      if (!g.pointwise) im2col_group(&g, x, n0, gn, col);
      if (khi > klo) {
        const float *a = dy + (n0 * g.K + klo) * g.PQ;
        if (gn > 1) { /* this thread's rows of dy for the group, side by side: [khi-klo, ld] */
          for (int64_t k = klo; k < khi; k++)
            for (int64_t i = 0; i < gn; i++)
              memcpy(tmp + k * ld + i * g.PQ, dy + ((n0 + i) * g.K + k) * g.PQ, (size_t)g.PQ * sizeof *tmp);
          a = tmp + klo * ld;
        }
        /* dW[klo:khi, CRS] (+)= dy_group[klo:khi, ld] col[CRS, ld]^T */
        nd__cpu_sgemm_serial(false, true, khi - klo, g.CRS, ld, 1.0f, a, ld, b, ld, n0 == 0 ? beta : 1.0f,
                             dw + klo * g.CRS, g.CRS);
      }
      if (n0 + g.group < g.N) {
#pragma omp barrier
      }
    }
    if (db && khi > klo) nd__cpu_channel_sum_rows(dy, g.N, g.K, g.PQ, klo, khi, beta, db);
  }
  nd_aligned_free(owned);
  return ND_OK;
}

nd_status nd__cpu_conv_transpose2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                           float beta, float *y, float *workspace) {
  /* The transposed convolution is the input gradient of d's convolution. */
  ND_TRY(nd__cpu_conv2d_backward_data(d, x, w, beta, y, workspace));
  if (bias) nd__cpu_add_channel_bias(y, bias, d->batch, d->in_channels, d->in_h * d->in_w);
  return ND_OK;
}
