/* Shared by the CPU convolution paths (conv.c, conv_winograd.c). */
#ifndef NEURODYN_BACKEND_CPU_CONV_IMPL_H
#define NEURODYN_BACKEND_CPU_CONV_IMPL_H

#include "backend/cpu/cpu.h"

/* Lowered images per GEMM are batched until the GEMM has this many columns. */
#define ND__GEMM_MIN_COLS 512

typedef struct nd__conv_geom {
  int64_t N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q; /* as in nd_conv2d_desc; P, Q output size */
  int64_t HW, PQ, CRS;
  bool pointwise; /* 1x1, stride 1, no padding: the input is its own im2col */
  int64_t group;  /* images lowered together on the GEMM path */
} nd__conv_geom;

void nd__conv_geom_init(nd__conv_geom *g, const nd_conv2d_desc *d);
/* given if non-NULL, else a fresh buffer recorded in *owned (free with nd_aligned_free). */
float *nd__conv_workspace(float *given, size_t floats, float **owned);

nd_status nd__conv2d_forward_gemm(const nd__conv_geom *g, const float *x, const float *w, const float *bias, float beta,
                                  float *y, float *ws);
nd_status nd__conv2d_backward_data_gemm(const nd__conv_geom *g, const float *dy, const float *w, float beta, float *dx,
                                        float *ws);

/* Winograd F(4x4, 3x3) (conv_winograd.c): 3x3 kernels, stride 1, on shapes
 * large enough that it beats im2col + GEMM. */
bool nd__winograd_applies(const nd__conv_geom *g);
/* The input gradient is a Winograd convolution too when pad <= 2. */
bool nd__winograd_backward_applies(const nd__conv_geom *g);
size_t nd__winograd_workspace_floats(const nd__conv_geom *g);
nd_status nd__conv2d_forward_winograd(const nd__conv_geom *g, const float *x, const float *w, const float *bias,
                                      float beta, float *y, float *ws);
nd_status nd__conv2d_backward_data_winograd(const nd__conv_geom *g, const float *dy, const float *w, float beta,
                                            float *dx, float *ws);

/* Force a path (tests and benchmarks): 0 = automatic, 1 = im2col + GEMM only,
 * 2 = Winograd wherever it is valid (3x3, stride 1).  Process-wide. */
extern int nd__conv_force_path;

#endif
