/* Compute kernels: the backend interface every model is written against.
 *
 * All arrays are float32, contiguous and row-major; images are NCHW and
 * convolution weights are [out_channels, in_channels, kernel_h, kernel_w].
 * Each call dispatches to the active backend (see backend.h); the CPU backend
 * (OpenBLAS + OpenMP) implements every slot and is the fallback for slots a
 * backend leaves NULL.
 *
 * `beta` arguments follow BLAS: the result is written as out = result + beta*out,
 * so beta = 0 overwrites (out may hold garbage, even NaN) and beta = 1 accumulates.
 * Functions that can be handed inconsistent sizes return nd_status; the others
 * trust their (already validated) caller. */
#ifndef NEURODYN_KERNELS_H
#define NEURODYN_KERNELS_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ GEMM */
/* C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C.  op(X) = X or X^T. */
ND_API void nd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
ND_API void nd_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc);

/* ----------------------------------------------------------- convolution */
typedef struct nd_conv2d_desc {
  int64_t batch, in_channels, in_h, in_w; /* input N, C, H, W */
  int64_t out_channels;                   /* K */
  int64_t kernel_h, kernel_w;             /* R, S */
  int64_t stride_h, stride_w;             /* >= 1 */
  int64_t pad_h, pad_w;                   /* zero padding on each side, >= 0 */
} nd_conv2d_desc;

/* Output spatial size: (in + 2*pad - kernel) / stride + 1. */
ND_API int64_t nd_conv2d_out_h(const nd_conv2d_desc *d);
ND_API int64_t nd_conv2d_out_w(const nd_conv2d_desc *d);
/* ND_OK, or ND_ERR_SHAPE / ND_ERR_INVALID_ARG naming the bad field. */
ND_API nd_status nd_conv2d_check(const nd_conv2d_desc *d);
/* Scratch floats a call needs (im2col buffers etc.).  Callers that run the
 * same convolution every step allocate this once and pass it in; workspace ==
 * NULL makes the call allocate and free its own (convenient, slower). */
ND_API size_t nd_conv2d_workspace_floats(const nd_conv2d_desc *d);

/* y[N,K,P,Q] = conv(x[N,C,H,W], w[K,C,R,S]) + bias[K] (bias may be NULL) + beta*y */
ND_API nd_status nd_conv2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias, float beta,
                            float *y, float *workspace);
/* dx[N,C,H,W] = conv^T(dy[N,K,P,Q], w) + beta*dx  (gradient w.r.t. the input) */
ND_API nd_status nd_conv2d_backward_data(const nd_conv2d_desc *d, const float *dy, const float *w, float beta, float *dx,
                                  float *workspace);
/* dw[K,C,R,S] = sum_n dy (*) x + beta*dw;  db[K] = sum_{n,p,q} dy + beta*db (db may be NULL) */
ND_API nd_status nd_conv2d_backward_filter(const nd_conv2d_desc *d, const float *x, const float *dy, float beta, float *dw,
                                    float *db, float *workspace);
/* Transposed convolution ("deconvolution"): the adjoint of the convolution d
 * describes.  x is shaped like that convolution's output [N,K,P,Q], w is
 * [K,C,R,S], y is shaped like its input [N,C,H,W]; bias[C] may be NULL. */
ND_API nd_status nd_conv_transpose2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                      float beta, float *y, float *workspace);

/* ---------------------------------------------------------------- pooling */
typedef struct nd_pool2d_desc {
  int64_t batch, channels, in_h, in_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad; /* average over the full window including padding (PyTorch default) */
} nd_pool2d_desc;
ND_API int64_t nd_pool2d_out_h(const nd_pool2d_desc *d);
ND_API int64_t nd_pool2d_out_w(const nd_pool2d_desc *d);
ND_API nd_status nd_pool2d_check(const nd_pool2d_desc *d);
ND_API nd_status nd_avgpool2d_forward(const nd_pool2d_desc *d, const float *x, float *y);
ND_API nd_status nd_avgpool2d_backward(const nd_pool2d_desc *d, const float *dy, float *dx); /* dx overwritten */
/* Adaptive average pooling to out_h x out_w (PyTorch's bin rule:
 * start = floor(i*H/out), end = ceil((i+1)*H/out)). */
ND_API void nd_adaptive_avgpool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                   const float *x, float *y);
ND_API void nd_adaptive_avgpool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                    const float *dy, float *dx); /* dx overwritten */

/* ------------------------------------------------------------ elementwise */
typedef enum nd_unary_op {
  ND_RELU,            /* max(x, 0) */
  ND_LEAKY_RELU,      /* x >= 0 ? x : param*x */
  ND_TANH,
  ND_SIGMOID,
  ND_SOFTPLUS,        /* log(1 + e^x), stable for large |x| */
  ND_ABS,
  ND_SIGN,            /* -1, 0, +1; gradient 0 */
  ND_POW,             /* sign(x)|x|^param ("signed power"; = x^param for integer odd param) */
  ND_RELU_POW,        /* max(x,0)^param (rectified power unit; Krotov-Hopfield Eq. 11) */
  ND_SOFT_THRESHOLD,  /* sign(x) max(|x| - param, 0)  (LCA, l1) */
  ND_HARD_THRESHOLD,  /* |x| > param ? x : 0; gradient 1 on the support */
  ND_NONNEG_THRESHOLD,/* max(x - param, 0) */
  ND_EXP,
  ND_LOG,
  ND_SQUARE,
  ND_UNARY_COUNT_
} nd_unary_op;

/* y[i] = f(x[i]; param).  y may alias x. */
ND_API void nd_unary(nd_unary_op op, float param, const float *x, float *y, int64_t n);
/* dx[i] = dy[i] * f'(x[i]) + beta*dx[i].  y = f(x) is passed because some
 * derivatives are cheaper from it (tanh, sigmoid); it may be NULL for ops
 * that do not need it (the backend recomputes). */
ND_API void nd_unary_backward(nd_unary_op op, float param, const float *x, const float *y, const float *dy, float beta,
                       float *dx, int64_t n);

/* Parametric ReLU with one slope per channel: x viewed as [outer, channels, inner]. */
ND_API void nd_prelu_forward(const float *x, const float *slope, int64_t outer, int64_t channels, int64_t inner, float *y);
/* dx overwritten; dslope accumulated (+=). */
ND_API void nd_prelu_backward(const float *x, const float *slope, const float *dy, int64_t outer, int64_t channels,
                       int64_t inner, float *dx, float *dslope);

/* Binary ops on equal-length arrays; out may alias either input. */
ND_API void nd_add(const float *a, const float *b, float *out, int64_t n);
ND_API void nd_sub(const float *a, const float *b, float *out, int64_t n);
ND_API void nd_mul(const float *a, const float *b, float *out, int64_t n);
ND_API void nd_div(const float *a, const float *b, float *out, int64_t n);
ND_API void nd_axpy(float alpha, const float *x, float *y, int64_t n);  /* y += alpha*x */
ND_API void nd_scale(float alpha, float *x, int64_t n);                /* x *= alpha */
/* x viewed as [outer, channels, inner]: x[o,c,i] += bias[c].  Dense layers use
 * inner = 1 (bias per column), NCHW images use inner = H*W. */
ND_API void nd_add_channel_bias(float *x, const float *bias, int64_t outer, int64_t channels, int64_t inner);
/* db[c] = sum_{o,i} dy[o,c,i] + beta*db[c] */
ND_API void nd_channel_sum(const float *dy, int64_t outer, int64_t channels, int64_t inner, float beta, float *db);

/* ------------------------------------------------------------- reductions */
/* Whole-array reductions, accumulated in double. */
ND_API double nd_sum(const float *x, int64_t n);
ND_API double nd_dot(const float *a, const float *b, int64_t n);
ND_API float nd_max_abs(const float *x, int64_t n);
/* Row-wise over a [rows, cols] matrix; out has `rows` entries. */
ND_API void nd_row_sum(const float *x, int64_t rows, int64_t cols, float *out);
ND_API void nd_row_mean(const float *x, int64_t rows, int64_t cols, float *out);
ND_API void nd_row_max(const float *x, int64_t rows, int64_t cols, float *out);
ND_API void nd_row_argmax(const float *x, int64_t rows, int64_t cols, int64_t *out); /* first maximum */
/* The k largest entries of each row, in descending order (ties: lower index
 * first), by partial selection, not a full sort.  values and/or indices
 * ([rows, k]) may be NULL.  Column-wise callers transpose or use the
 * strided variant. */
ND_API nd_status nd_row_topk(const float *x, int64_t rows, int64_t cols, int64_t k, float *values, int64_t *indices);

/* ---------------------------------------------------- softmax, losses */
/* Row-wise over [rows, cols]; y may alias x.  Numerically stable. */
ND_API void nd_softmax(const float *x, int64_t rows, int64_t cols, float *y);
ND_API void nd_log_softmax(const float *x, int64_t rows, int64_t cols, float *y);
/* dx = y * (dy - sum(dy*y)) for softmax, dx = dy - softmax(x)*sum(dy) for log-softmax. */
ND_API void nd_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx);
ND_API void nd_log_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx);
/* Mean cross-entropy of logits [rows, cols] against integer labels.  If
 * dlogits != NULL it receives d(mean loss)/d(logits) = (softmax - onehot)/rows.
 * Returns ND_ERR_INVALID_ARG if a label is outside 0..cols-1. */
ND_API nd_status nd_cross_entropy(const float *logits, const int32_t *labels, int64_t rows, int64_t cols, double *loss,
                           float *dlogits);

/* ------------------------------------------------------ linear algebra */
/* Eigendecomposition of the symmetric n x n matrix a (row-major; LAPACK's
 * dsyev): w[0..n) receives the eigenvalues in ascending order and row k of a
 * is overwritten by the unit eigenvector of w[k].  ND_ERR_INVALID_ARG for a
 * NULL pointer, n < 1 or a non-finite element; ND_ERR_NUMERIC if LAPACK does
 * not converge. */
ND_API nd_status nd_dsyev(int64_t n, double *a, double *w);

#ifdef __cplusplus
}
#endif
#endif
