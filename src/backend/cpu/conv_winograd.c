/* Winograd F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", CVPR 2016, Eq. 8 with the F(4x4,3x3)
 * matrices of Sec. 4.2):
 *
 *     Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 *
 * for every 6x6 input tile d (stride 4) and 3x3 filter g, giving a 4x4 output
 * tile.  Summed over input channels, the elementwise product becomes 36
 * independent GEMMs  M[xi] (K x T) = U[xi] (K x C) * V[xi] (C x T)  with
 * T = N * ceil(P/4) * ceil(Q/4) tiles: 36 multiplies per 16 outputs instead of
 * 144.  The input gradient of a 3x3 stride-1 convolution with padding p <= 2
 * is itself such a convolution (filters transposed and rotated by 180
 * degrees, padding 2 - p), so it runs here too. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/conv_impl.h"
#include "backend/cpu/dispatch.h"

int nd__conv_force_path = 0;

#define ND__WINO_LANES 16
#ifndef ND__WINO_U_FLOATS
#define ND__WINO_U_FLOATS (1 << 20)
#endif

/* Output channels in flight at once, over all threads: the transformed
 * filters (36 x KB x Cin) and products (36 x KB x T) of KB channels take at
 * most about ND__WINO_BUDGET floats, so the workspace does not depend on the
 * thread count; each of nt threads works on KB/nt channels at a time. */
#ifndef ND__WINO_BUDGET
#define ND__WINO_BUDGET ((int64_t)1 << 22) /* 16 MiB */
#endif
static int64_t kblock(int64_t cout, int64_t cin, int64_t tiles) {
  int64_t kb = ND__WINO_BUDGET / (36 * (cin + tiles));
  return ND__MINI(cout, ND__MAXI(kb, 32));
}

/* A Winograd convolution problem: input [N, Cin, H, W], output [N, Cout, P, Q],
 * 3x3 filters read through `flip` (see load_filter), zero padding ph, pw. */
typedef struct {
  int64_t N, Cin, Cout, H, W, P, Q, ph, pw;
  int64_t th, tw, T; /* tiles per image row/column, tiles in all */
  const float *w;
  bool flip; /* false: filter (co, ci) is w[co, ci]; true: w[ci, co] rotated by 180 degrees */
} wino;

static void wino_init(wino *p, int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, int64_t P, int64_t Q,
                      int64_t ph, int64_t pw, const float *w, bool flip) {
  *p = (wino){.N = N, .Cin = Cin, .Cout = Cout, .H = H, .W = W, .P = P, .Q = Q, .ph = ph, .pw = pw, .w = w, .flip = flip};
  p->th = (P + 3) / 4;
  p->tw = (Q + 3) / 4;
  p->T = N * p->th * p->tw;
}

static size_t wino_floats(const wino *p) {
  int64_t kb = kblock(p->Cout, p->Cin, p->T);
  return (size_t)(36 * p->Cin * p->T + 36 * kb * (p->Cin + p->T));
}

bool nd__winograd_applies(const nd__conv_geom *g) {
  if (g->R != 3 || g->S != 3 || g->sh != 1 || g->sw != 1) return false;
  if (nd__conv_force_path == 1) return false;
  if (nd__conv_force_path == 2) return true;
  /* Transforms cost O(C + K) per tile, GEMMs O(C*K): worth it with enough channels. */
  return g->C >= 16 && g->K >= 16 && g->P >= 4 && g->Q >= 4;
}

bool nd__winograd_backward_applies(const nd__conv_geom *g) { return g->ph <= 2 && g->pw <= 2; }

size_t nd__winograd_workspace_floats(const nd__conv_geom *g) {
  wino f, b;
  wino_init(&f, g->N, g->C, g->K, g->H, g->W, g->P, g->Q, g->ph, g->pw, NULL, false);
  size_t n = wino_floats(&f);
  if (nd__winograd_backward_applies(g)) {
    wino_init(&b, g->N, g->K, g->C, g->P, g->Q, g->H, g->W, 2 - g->ph, 2 - g->pw, NULL, true);
    size_t nb = wino_floats(&b);
    if (nb > n) n = nb;
  }
  return n;
}

/* dst[xi * ld + l] = src[xi][l] for the 36 rows and the first nl lanes; a
 * full block is a fixed-size copy the compiler inlines (a libc memcpy call
 * per 64-byte row cost about a tenth of the convolution). */
static inline void copy_lanes36(float *dst, int64_t ld, const float (*src)[ND__WINO_LANES], int64_t nl) {
  if (nl == ND__WINO_LANES) {
    for (int xi = 0; xi < 36; xi++) memcpy(dst + xi * ld, src[xi], ND__WINO_LANES * sizeof(float));
  } else {
    for (int xi = 0; xi < 36; xi++) memcpy(dst + xi * ld, src[xi], (size_t)nl * sizeof(float));
  }
}

/* ---- filter transform U[xi][co][ci] = (G g G^T)[xi], 16 filters at a time -- */
static inline float load_filter(const wino *p, int64_t co, int64_t ci, int tap) {
  if (!p->flip) return p->w[(co * p->Cin + ci) * 9 + tap];
  return p->w[(ci * p->Cout + co) * 9 + (8 - tap)]; /* (2-r)*3 + (2-s) = 8 - tap */
}

/* Serial: called by each thread for its own channels k0..k0+kb-1. */
ND__HOT static void filter_transform(const wino *p, int64_t k0, int64_t kb, float *U) {
  const int64_t pairs = kb * p->Cin, ld = kb * p->Cin;
  const int64_t blocks = (pairs + ND__WINO_LANES - 1) / ND__WINO_LANES;
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t p0 = b * ND__WINO_LANES, nl = ND__MINI(ND__WINO_LANES, pairs - p0);
    float g[9][ND__WINO_LANES], t[6][3][ND__WINO_LANES], u[36][ND__WINO_LANES];
    for (int64_t l = 0; l < ND__WINO_LANES; l++) {
      int64_t pr = p0 + (l < nl ? l : 0), co = k0 + pr / p->Cin, ci = pr % p->Cin;
      for (int tap = 0; tap < 9; tap++) g[tap][l] = load_filter(p, co, ci, tap);
    }
    /* t = G g (6x3), then u = t G^T (6x6); G rows: [1/4,0,0], -[1,1,1]/6, -[1,-1,1]/6,
     * [1/24,1/12,1/6], [1/24,-1/12,1/6], [0,0,1]. */
    for (int c = 0; c < 3; c++)
#pragma omp simd
      for (int l = 0; l < ND__WINO_LANES; l++) {
        float v0 = g[c][l], v1 = g[3 + c][l], v2 = g[6 + c][l];
        t[0][c][l] = v0 * 0.25f;
        t[1][c][l] = -(v0 + v1 + v2) * (1.0f / 6);
        t[2][c][l] = -(v0 - v1 + v2) * (1.0f / 6);
        t[3][c][l] = v0 * (1.0f / 24) + v1 * (1.0f / 12) + v2 * (1.0f / 6);
        t[4][c][l] = v0 * (1.0f / 24) - v1 * (1.0f / 12) + v2 * (1.0f / 6);
        t[5][c][l] = v2;
      }
    for (int r = 0; r < 6; r++)
#pragma omp simd
      for (int l = 0; l < ND__WINO_LANES; l++) {
        float v0 = t[r][0][l], v1 = t[r][1][l], v2 = t[r][2][l];
        u[r * 6 + 0][l] = v0 * 0.25f;
        u[r * 6 + 1][l] = -(v0 + v1 + v2) * (1.0f / 6);
        u[r * 6 + 2][l] = -(v0 - v1 + v2) * (1.0f / 6);
        u[r * 6 + 3][l] = v0 * (1.0f / 24) + v1 * (1.0f / 12) + v2 * (1.0f / 6);
        u[r * 6 + 4][l] = v0 * (1.0f / 24) - v1 * (1.0f / 12) + v2 * (1.0f / 6);
        u[r * 6 + 5][l] = v2;
      }
    copy_lanes36(U + p0, ld, u, nl);
  }
}

/* ---- input transform V[xi][ci][t] = (B^T d B)[xi] ----------------------- 
 * 16 consecutive tiles (lanes) at a time: patches are gathered into
 * d[36][16], the transform runs across lanes (vectorised), and each of the
 * 36 results is one contiguous 16-float store. */
#define L ND__WINO_LANES

static inline void tile_origin(const wino *p, int64_t t, int64_t *n, int64_t *h0, int64_t *w0) {
  const int64_t per = p->th * p->tw, r = t % per;
  *n = t / per;
  *h0 = 4 * (r / p->tw) - p->ph;
  *w0 = 4 * (r % p->tw) - p->pw;
}

/* Work-shared: called inside the parallel region of wino_run (or serially). */
ND__HOT static void input_transform(const wino *p, const float *x, float *V) {
  const int64_t ld = p->Cin * p->T, tblocks = (p->T + L - 1) / L, jobs = p->Cin * tblocks;
#pragma omp for schedule(static)
  for (int64_t job = 0; job < jobs; job++) {
    const int64_t ci = job / tblocks, t0 = (job % tblocks) * L, nl = ND__MINI(L, p->T - t0);
    float d[36][L], tmp[36][L];
    for (int64_t l = 0; l < L; l++) {
      if (l >= nl) {
        for (int e = 0; e < 36; e++) d[e][l] = 0;
        continue;
      }
      int64_t n, h0, w0;
      tile_origin(p, t0 + l, &n, &h0, &w0);
      const float *xc = x + (n * p->Cin + ci) * p->H * p->W;
      if (h0 >= 0 && h0 + 6 <= p->H && w0 >= 0 && w0 + 6 <= p->W) {
        for (int a = 0; a < 6; a++)
          for (int b = 0; b < 6; b++) d[6 * a + b][l] = xc[(h0 + a) * p->W + w0 + b];
      } else {
        for (int a = 0; a < 6; a++)
          for (int b = 0; b < 6; b++) {
            int64_t hh = h0 + a, ww = w0 + b;
            d[6 * a + b][l] = hh >= 0 && hh < p->H && ww >= 0 && ww < p->W ? xc[hh * p->W + ww] : 0.0f;
          }
      }
    }
    /* columns: tmp = B^T d; rows: v = tmp B (written back into d) */
    for (int b = 0; b < 6; b++)
#pragma omp simd
      for (int l = 0; l < L; l++) {
        float d0 = d[b][l], d1 = d[6 + b][l], d2 = d[12 + b][l], d3 = d[18 + b][l], d4 = d[24 + b][l],
              d5 = d[30 + b][l];
        tmp[b][l] = 4 * d0 - 5 * d2 + d4;
        tmp[6 + b][l] = -4 * d1 - 4 * d2 + d3 + d4;
        tmp[12 + b][l] = 4 * d1 - 4 * d2 - d3 + d4;
        tmp[18 + b][l] = -2 * d1 - d2 + 2 * d3 + d4;
        tmp[24 + b][l] = 2 * d1 - d2 - 2 * d3 + d4;
        tmp[30 + b][l] = 4 * d1 - 5 * d3 + d5;
      }
    for (int a = 0; a < 6; a++)
#pragma omp simd
      for (int l = 0; l < L; l++) {
        const int r = 6 * a;
        float d0 = tmp[r][l], d1 = tmp[r + 1][l], d2 = tmp[r + 2][l], d3 = tmp[r + 3][l], d4 = tmp[r + 4][l],
              d5 = tmp[r + 5][l];
        d[r][l] = 4 * d0 - 5 * d2 + d4;
        d[r + 1][l] = -4 * d1 - 4 * d2 + d3 + d4;
        d[r + 2][l] = 4 * d1 - 4 * d2 - d3 + d4;
        d[r + 3][l] = -2 * d1 - d2 + 2 * d3 + d4;
        d[r + 4][l] = 2 * d1 - d2 - 2 * d3 + d4;
        d[r + 5][l] = 4 * d1 - 5 * d3 + d5;
      }
    float *dst = V + ci * p->T + t0;
    copy_lanes36(dst, ld, d, nl);
  }
}

/* ---- output transform y = A^T M A (+ bias, + beta*y) for channels k0..k0+kb-1 */
/* Serial: called by each thread for its own channels. */
ND__HOT static void output_transform(const wino *p, const float *M, int64_t k0, int64_t kb, const float *bias, float beta,
                             float *y) {
  const int64_t ld = kb * p->T, tblocks = (p->T + L - 1) / L, jobs = kb * tblocks;
  for (int64_t job = 0; job < jobs; job++) {
    const int64_t kk = job / tblocks, t0 = (job % tblocks) * L, nl = ND__MINI(L, p->T - t0), k = k0 + kk;
    const float bk = bias ? bias[k] : 0.0f;
    float m[36][L], tmp[24][L], o[16][L];
    const float *src = M + kk * p->T + t0;
    if (nl == L) {
      for (int xi = 0; xi < 36; xi++) memcpy(m[xi], src + xi * ld, sizeof m[xi]); /* fixed size: inlined */
    } else {
      for (int xi = 0; xi < 36; xi++) {
        memcpy(m[xi], src + xi * ld, (size_t)nl * sizeof(float));
        for (int64_t l = nl; l < L; l++) m[xi][l] = 0;
      }
    }
    /* A^T rows: [1,1,1,1,1,0], [0,1,-1,2,-2,0], [0,1,1,4,4,0], [0,1,-1,8,-8,1] */
    for (int b = 0; b < 6; b++)
#pragma omp simd
      for (int l = 0; l < L; l++) {
        float a_ = m[6 + b][l] + m[12 + b][l], b_ = m[6 + b][l] - m[12 + b][l];
        float c_ = m[18 + b][l] + m[24 + b][l], d_ = m[18 + b][l] - m[24 + b][l];
        tmp[b][l] = m[b][l] + a_ + c_;
        tmp[6 + b][l] = b_ + 2 * d_;
        tmp[12 + b][l] = a_ + 4 * c_;
        tmp[18 + b][l] = b_ + 8 * d_ + m[30 + b][l];
      }
    for (int a = 0; a < 4; a++)
#pragma omp simd
      for (int l = 0; l < L; l++) {
        const int r = 6 * a;
        float a_ = tmp[r + 1][l] + tmp[r + 2][l], b_ = tmp[r + 1][l] - tmp[r + 2][l];
        float c_ = tmp[r + 3][l] + tmp[r + 4][l], d_ = tmp[r + 3][l] - tmp[r + 4][l];
        o[4 * a][l] = tmp[r][l] + a_ + c_ + bk;
        o[4 * a + 1][l] = b_ + 2 * d_ + bk;
        o[4 * a + 2][l] = a_ + 4 * c_ + bk;
        o[4 * a + 3][l] = b_ + 8 * d_ + tmp[r + 5][l] + bk;
      }
    for (int64_t l = 0; l < nl; l++) {
      int64_t n, h0, w0;
      tile_origin(p, t0 + l, &n, &h0, &w0);
      h0 += p->ph; /* output tile origin */
      w0 += p->pw;
      float *yc = y + (n * p->Cout + k) * p->P * p->Q;
      const int64_t hn = ND__MINI(4, p->P - h0), wn = ND__MINI(4, p->Q - w0);
      for (int64_t a = 0; a < hn; a++) {
        float *row = yc + (h0 + a) * p->Q + w0;
        if (beta == 0.0f)
          for (int64_t b = 0; b < wn; b++) row[b] = o[4 * a + b][l];
        else
          for (int64_t b = 0; b < wn; b++) row[b] = o[4 * a + b][l] + beta * row[b];
      }
    }
  }
}
#undef L

/* One parallel region with a single barrier: all threads transform the
 * input tiles, then each thread takes a contiguous range of output channels
 * and, KB/nt channels at a time, transforms their filters, runs the 36
 * products (serial GEMMs) and the output transform into its own buffers.
 * Few synchronisation points matter on a shared machine: an OpenMP barrier
 * waits for the slowest thread, which may be descheduled. */
static void wino_run(const wino *p, const float *x, const float *bias, float beta, float *y, float *ws) {
  const int64_t KB = kblock(p->Cout, p->Cin, p->T);
  float *V = ws, *slots = V + 36 * p->Cin * p->T;
  int nthr = 1;
#ifdef _OPENMP
  nthr = (int)ND__MINI(omp_in_parallel() ? 1 : omp_get_max_threads(), KB); /* KB/nt >= 1 slot rows each */
#endif
  nd__blas_single_thread();
#pragma omp parallel num_threads(nthr)
  {
    input_transform(p, x, V); /* ends with the barrier */
    int nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    const int64_t kbs = ND__MAXI(1, KB / nt); /* channels per step of this thread */
    float *U = slots + (int64_t)t * 36 * kbs * (p->Cin + p->T), *M = U + 36 * kbs * p->Cin;
    const int64_t lo = p->Cout * t / nt, hi = p->Cout * (t + 1) / nt;
    for (int64_t k0 = lo; k0 < hi; k0 += kbs) {
      const int64_t kb = ND__MINI(kbs, hi - k0);
      filter_transform(p, k0, kb, U);
      for (int xi = 0; xi < 36; xi++)
        nd__cpu_sgemm_serial(false, false, kb, p->T, p->Cin, 1.0f, U + xi * kb * p->Cin, p->Cin,
                             V + xi * p->Cin * p->T, p->T, 0.0f, M + xi * kb * p->T, p->T);
      output_transform(p, M, k0, kb, bias, beta, y);
    }
  }
}

nd_status nd__conv2d_forward_winograd(const nd__conv_geom *g, const float *x, const float *w, const float *bias,
                                      float beta, float *y, float *ws) {
  wino p;
  wino_init(&p, g->N, g->C, g->K, g->H, g->W, g->P, g->Q, g->ph, g->pw, w, false);
  wino_run(&p, x, bias, beta, y, ws);
  return ND_OK;
}

nd_status nd__conv2d_backward_data_winograd(const nd__conv_geom *g, const float *dy, const float *w, float beta,
                                            float *dx, float *ws) {
  wino p;
  wino_init(&p, g->N, g->K, g->C, g->P, g->Q, g->H, g->W, 2 - g->ph, 2 - g->pw, w, true);
  wino_run(&p, dy, NULL, beta, dx, ws);
  return ND_OK;
}
