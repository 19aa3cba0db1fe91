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

#include "backend/cpu/conv_impl.h"

int nd__conv_force_path = 0;

#define ND__WINO_LANES 16

/* Output channels transformed and multiplied per block: keeps the transformed
 * filters of a block (36 * KB * Cin floats) cache-sized. */
static int64_t kblock(int64_t cout, int64_t cin) {
  int64_t kb = (1 << 20) / (36 * cin); /* about 4 MiB */
  kb = ND__MAXI(16, kb - kb % 16);
  return ND__MINI(kb, cout);
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
  int64_t kb = kblock(p->Cout, p->Cin);
  return (size_t)(36 * p->Cin * p->T + 36 * kb * p->Cin + 36 * kb * p->T);
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

/* ---- 1-D transforms, applied to columns then rows ------------------------ */
/* B^T v for a 6-vector (stride s in, stride o out). */
static inline void bt6(const float *v, int64_t s, float *out, int64_t o) {
  float d0 = v[0], d1 = v[s], d2 = v[2 * s], d3 = v[3 * s], d4 = v[4 * s], d5 = v[5 * s];
  out[0] = 4 * d0 - 5 * d2 + d4;
  out[o] = -4 * d1 - 4 * d2 + d3 + d4;
  out[2 * o] = 4 * d1 - 4 * d2 - d3 + d4;
  out[3 * o] = -2 * d1 - d2 + 2 * d3 + d4;
  out[4 * o] = 2 * d1 - d2 - 2 * d3 + d4;
  out[5 * o] = 4 * d1 - 5 * d3 + d5;
}
/* A^T m for a 6-vector -> 4-vector. */
static inline void at6(const float *m, int64_t s, float *out, int64_t o) {
  float m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
  float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
  out[0] = m0 + a + c;
  out[o] = b + 2 * d;
  out[2 * o] = a + 4 * c;
  out[3 * o] = b + 8 * d + m5;
}

/* ---- filter transform U[xi][co][ci] = (G g G^T)[xi], 16 filters at a time -- */
static inline float load_filter(const wino *p, int64_t co, int64_t ci, int tap) {
  if (!p->flip) return p->w[(co * p->Cin + ci) * 9 + tap];
  return p->w[(ci * p->Cout + co) * 9 + (8 - tap)]; /* (2-r)*3 + (2-s) = 8 - tap */
}

static void filter_transform(const wino *p, int64_t k0, int64_t kb, float *U) {
  const int64_t pairs = kb * p->Cin, ld = kb * p->Cin;
  const int64_t blocks = (pairs + ND__WINO_LANES - 1) / ND__WINO_LANES;
#pragma omp parallel for schedule(static) ND__OMP_IF(pairs * 64)
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
    for (int xi = 0; xi < 36; xi++) memcpy(U + xi * ld + p0, u[xi], (size_t)nl * sizeof(float));
  }
}

/* ---- input transform V[xi][ci][t] = (B^T d B)[xi] ----------------------- */
static void input_transform(const wino *p, const float *x, float *V) {
  const int64_t ld = p->Cin * p->T, jobs = p->N * p->Cin * p->th;
#pragma omp parallel for schedule(static) ND__OMP_IF(jobs * p->tw * 36)
  for (int64_t job = 0; job < jobs; job++) {
    const int64_t i = job % p->th, ci = (job / p->th) % p->Cin, n = job / (p->th * p->Cin);
    const float *xc = x + (n * p->Cin + ci) * p->H * p->W;
    const int64_t h0 = 4 * i - p->ph;
    float d[36], tmp[36], v[36];
    for (int64_t j = 0; j < p->tw; j++) {
      const int64_t w0 = 4 * j - p->pw, t = (n * p->th + i) * p->tw + j;
      if (h0 >= 0 && h0 + 6 <= p->H && w0 >= 0 && w0 + 6 <= p->W) {
        for (int a = 0; a < 6; a++) memcpy(d + 6 * a, xc + (h0 + a) * p->W + w0, 6 * sizeof(float));
      } else {
        for (int a = 0; a < 6; a++)
          for (int b = 0; b < 6; b++) {
            int64_t hh = h0 + a, ww = w0 + b;
            d[6 * a + b] = hh >= 0 && hh < p->H && ww >= 0 && ww < p->W ? xc[hh * p->W + ww] : 0.0f;
          }
      }
      for (int b = 0; b < 6; b++) bt6(d + b, 6, tmp + b, 6); /* columns: tmp = B^T d */
      for (int a = 0; a < 6; a++) bt6(tmp + 6 * a, 1, v + 6 * a, 1); /* rows: v = tmp B */
      float *dst = V + ci * p->T + t;
      for (int xi = 0; xi < 36; xi++) dst[xi * ld] = v[xi];
    }
  }
}

/* ---- output transform y = A^T M A (+ bias, + beta*y) for channels k0..k0+kb-1 */
static void output_transform(const wino *p, const float *M, int64_t k0, int64_t kb, const float *bias, float beta,
                             float *y) {
  const int64_t ld = kb * p->T, jobs = p->N * kb * p->th;
#pragma omp parallel for schedule(static) ND__OMP_IF(jobs * p->tw * 36)
  for (int64_t job = 0; job < jobs; job++) {
    const int64_t i = job % p->th, kk = (job / p->th) % kb, n = job / (p->th * kb), k = k0 + kk;
    float *yc = y + (n * p->Cout + k) * p->P * p->Q;
    const float bk = bias ? bias[k] : 0.0f;
    float m[36], tmp[24], o[16];
    for (int64_t j = 0; j < p->tw; j++) {
      const int64_t t = (n * p->th + i) * p->tw + j;
      const float *src = M + kk * p->T + t;
      for (int xi = 0; xi < 36; xi++) m[xi] = src[xi * ld];
      for (int b = 0; b < 6; b++) at6(m + b, 6, tmp + b, 6);        /* tmp (4x6) = A^T m */
      for (int a = 0; a < 4; a++) at6(tmp + 6 * a, 1, o + 4 * a, 1); /* o (4x4) = tmp A */
      const int64_t hn = ND__MINI(4, p->P - 4 * i), wn = ND__MINI(4, p->Q - 4 * j);
      for (int64_t a = 0; a < hn; a++) {
        float *row = yc + (4 * i + a) * p->Q + 4 * j;
        for (int64_t b = 0; b < wn; b++) nd__cpu_store_beta(&row[b], o[4 * a + b] + bk, beta);
      }
    }
  }
}

static void wino_run(const wino *p, const float *x, const float *bias, float beta, float *y, float *ws) {
  const int64_t kbmax = kblock(p->Cout, p->Cin);
  float *V = ws, *U = V + 36 * p->Cin * p->T, *M = U + 36 * kbmax * p->Cin;
  input_transform(p, x, V);
  for (int64_t k0 = 0; k0 < p->Cout; k0 += kbmax) {
    const int64_t kb = ND__MINI(kbmax, p->Cout - k0);
    filter_transform(p, k0, kb, U);
    for (int xi = 0; xi < 36; xi++)
      nd__cpu_sgemm(false, false, kb, p->T, p->Cin, 1.0f, U + xi * kb * p->Cin, p->Cin, V + xi * p->Cin * p->T, p->T,
                    0.0f, M + xi * kb * p->T, p->T);
    output_transform(p, M, k0, kb, bias, beta, y);
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
