/* Backend registry and the public kernel entry points of kernels.h.
 *
 * Each public kernel validates what it can (descriptors, sizes), then calls
 * the active backend's slot, or the CPU implementation when that slot is NULL. */
#include <string.h>

#include "backend/backend_impl.h"
#include "backend/cpu/cpu.h"
#include "core/internal.h"

/* A CUDA build appends its table here (src/backend/cuda/). */
static const nd__backend *const backends[] = {&nd__cpu_backend};
#define ND__NUM_BACKENDS ((int)(sizeof backends / sizeof backends[0]))
static const nd__backend *active = &nd__cpu_backend;

const nd__backend *nd__backend_active(void) { return active; }
const char *nd_backend_name(void) { return active->name; }
int nd_backend_count(void) { return ND__NUM_BACKENDS; }
const char *nd_backend_name_at(int i) { return i >= 0 && i < ND__NUM_BACKENDS ? backends[i]->name : NULL; }

nd_status nd_backend_select(const char *name) {
  if (!name) return nd__error(ND_ERR_INVALID_ARG, "nd_backend_select: name is NULL");
  for (int i = 0; i < ND__NUM_BACKENDS; i++)
    if (strcmp(backends[i]->name, name) == 0) {
      active = backends[i];
      return ND_OK;
    }
  char list[256] = "";
  for (int i = 0; i < ND__NUM_BACKENDS; i++) {
    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, backends[i]->name, sizeof list - strlen(list) - 1);
  }
  return nd__error(ND_ERR_NOT_FOUND, "nd_backend_select: no backend \"%s\" in this build (available: %s)", name, list);
}

/* OpenBLAS and BLIS identify themselves through these (weak: whichever is linked). */
char *openblas_get_corename(void) __attribute__((weak));
char *openblas_get_config(void) __attribute__((weak));
const char *bli_info_get_version_str(void) __attribute__((weak));
int bli_arch_query_id(void) __attribute__((weak));              /* arch_t, an enum */
const char *bli_arch_string(int id) __attribute__((weak));

const char *nd_backend_blas_name(void) {
  if (nd__gemm_path() == ND__GEMM_BLIS_EX) return "blis";
  const char *lib = nd__blas_library(); /* where cblas_sgemm lives (static links: by symbol) */
  if (strcmp(lib, "unknown") != 0) return lib;
  if (openblas_get_corename) return "openblas";
  if (bli_info_get_version_str) return "blis";
  return "unknown";
}
const char *nd_backend_blas_core(void) {
  if (nd__gemm_path() == ND__GEMM_BLIS_EX) return nd__blis_ex_arch();
  const char *lib = nd_backend_blas_name();
  if (strcmp(lib, "openblas") == 0 && openblas_get_corename) {
    const char *s = openblas_get_corename();
    return s ? s : "";
  }
  if (strcmp(lib, "blis") == 0 && bli_arch_query_id && bli_arch_string) { /* BLIS: the sub-configuration it runs, e.g. "zen3" */
    const char *s = bli_arch_string(bli_arch_query_id());
    return s ? s : "";
  }
  return "";
}

#define ND__CALL(name, ...)                                   \
  do {                                                        \
    const nd__backend *b_ = active;                           \
    if (b_->name) return b_->name(__VA_ARGS__);               \
    return nd__cpu_##name(__VA_ARGS__);                       \
  } while (0)
#define ND__CALL_VOID(name, ...)                              \
  do {                                                        \
    const nd__backend *b_ = active;                           \
    if (b_->name)                                             \
      b_->name(__VA_ARGS__);                                  \
    else                                                      \
      nd__cpu_##name(__VA_ARGS__);                            \
  } while (0)

/* ------------------------------------------------------------------ GEMM */
void nd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  ND__CALL_VOID(sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void nd_dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
              int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
  ND__CALL_VOID(dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ----------------------------------------------------------- convolution */
int64_t nd_conv2d_out_h(const nd_conv2d_desc *d) { return (d->in_h + 2 * d->pad_h - d->kernel_h) / d->stride_h + 1; }
int64_t nd_conv2d_out_w(const nd_conv2d_desc *d) { return (d->in_w + 2 * d->pad_w - d->kernel_w) / d->stride_w + 1; }

nd_status nd_conv2d_check(const nd_conv2d_desc *d) {
  if (!d) return nd__error(ND_ERR_INVALID_ARG, "conv2d: descriptor is NULL");
  if (d->batch < 1 || d->in_channels < 1 || d->in_h < 1 || d->in_w < 1 || d->out_channels < 1)
    return nd__error(ND_ERR_SHAPE, "conv2d: batch, in_channels, in_h, in_w, out_channels must be >= 1 (got %lld, %lld, %lld, %lld, %lld)",
                     (long long)d->batch, (long long)d->in_channels, (long long)d->in_h, (long long)d->in_w,
                     (long long)d->out_channels);
  if (d->kernel_h < 1 || d->kernel_w < 1)
    return nd__error(ND_ERR_SHAPE, "conv2d: kernel_h and kernel_w must be >= 1 (got %lldx%lld)", (long long)d->kernel_h,
                     (long long)d->kernel_w);
  if (d->stride_h < 1 || d->stride_w < 1)
    return nd__error(ND_ERR_INVALID_ARG, "conv2d: stride_h and stride_w must be >= 1 (got %lld, %lld)",
                     (long long)d->stride_h, (long long)d->stride_w);
  if (d->pad_h < 0 || d->pad_w < 0)
    return nd__error(ND_ERR_INVALID_ARG, "conv2d: pad_h and pad_w must be >= 0 (got %lld, %lld)", (long long)d->pad_h,
                     (long long)d->pad_w);
  if (d->in_h + 2 * d->pad_h < d->kernel_h || d->in_w + 2 * d->pad_w < d->kernel_w)
    return nd__error(ND_ERR_SHAPE, "conv2d: kernel %lldx%lld is larger than the padded input %lldx%lld",
                     (long long)d->kernel_h, (long long)d->kernel_w, (long long)(d->in_h + 2 * d->pad_h),
                     (long long)(d->in_w + 2 * d->pad_w));
  return ND_OK;
}

size_t nd_conv2d_workspace_floats(const nd_conv2d_desc *d) {
  if (nd_conv2d_check(d) != ND_OK) return 0;
  ND__CALL(conv2d_workspace_floats, d);
}

static nd_status conv_args(const char *fn, const nd_conv2d_desc *d, const void *a, const void *b, const void *out) {
  ND_TRY(nd_conv2d_check(d));
  if (!a || !b || !out) return nd__error(ND_ERR_INVALID_ARG, "%s: a data pointer is NULL", fn);
  return ND_OK;
}

nd_status nd_conv2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias, float beta,
                            float *y, float *workspace) {
  ND_TRY(conv_args("nd_conv2d_forward", d, x, w, y));
  ND__CALL(conv2d_forward, d, x, w, bias, beta, y, workspace);
}
nd_status nd_conv2d_backward_data(const nd_conv2d_desc *d, const float *dy, const float *w, float beta, float *dx,
                                  float *workspace) {
  ND_TRY(conv_args("nd_conv2d_backward_data", d, dy, w, dx));
  ND__CALL(conv2d_backward_data, d, dy, w, beta, dx, workspace);
}
nd_status nd_conv2d_backward_filter(const nd_conv2d_desc *d, const float *x, const float *dy, float beta, float *dw,
                                    float *db, float *workspace) {
  ND_TRY(conv_args("nd_conv2d_backward_filter", d, x, dy, dw));
  ND__CALL(conv2d_backward_filter, d, x, dy, beta, dw, db, workspace);
}
nd_status nd_conv_transpose2d_forward(const nd_conv2d_desc *d, const float *x, const float *w, const float *bias,
                                      float beta, float *y, float *workspace) {
  ND_TRY(conv_args("nd_conv_transpose2d_forward", d, x, w, y));
  ND__CALL(conv_transpose2d_forward, d, x, w, bias, beta, y, workspace);
}

/* ---------------------------------------------------------------- pooling */
int64_t nd_pool2d_out_h(const nd_pool2d_desc *d) { return (d->in_h + 2 * d->pad_h - d->kernel_h) / d->stride_h + 1; }
int64_t nd_pool2d_out_w(const nd_pool2d_desc *d) { return (d->in_w + 2 * d->pad_w - d->kernel_w) / d->stride_w + 1; }

nd_status nd_pool2d_check(const nd_pool2d_desc *d) {
  if (!d) return nd__error(ND_ERR_INVALID_ARG, "pool2d: descriptor is NULL");
  if (d->batch < 1 || d->channels < 1 || d->in_h < 1 || d->in_w < 1)
    return nd__error(ND_ERR_SHAPE, "pool2d: batch, channels, in_h, in_w must be >= 1 (got %lld, %lld, %lld, %lld)",
                     (long long)d->batch, (long long)d->channels, (long long)d->in_h, (long long)d->in_w);
  if (d->kernel_h < 1 || d->kernel_w < 1 || d->stride_h < 1 || d->stride_w < 1)
    return nd__error(ND_ERR_INVALID_ARG, "pool2d: kernel (%lldx%lld) and stride (%lld, %lld) must be >= 1",
                     (long long)d->kernel_h, (long long)d->kernel_w, (long long)d->stride_h, (long long)d->stride_w);
  /* PyTorch's rule: padding at most half the kernel, so every window sees input. */
  if (d->pad_h < 0 || d->pad_w < 0 || 2 * d->pad_h > d->kernel_h || 2 * d->pad_w > d->kernel_w)
    return nd__error(ND_ERR_INVALID_ARG, "pool2d: padding (%lld, %lld) must be in 0..kernel/2 (kernel %lldx%lld)",
                     (long long)d->pad_h, (long long)d->pad_w, (long long)d->kernel_h, (long long)d->kernel_w);
  if (d->in_h + 2 * d->pad_h < d->kernel_h || d->in_w + 2 * d->pad_w < d->kernel_w)
    return nd__error(ND_ERR_SHAPE, "pool2d: kernel %lldx%lld is larger than the padded input %lldx%lld",
                     (long long)d->kernel_h, (long long)d->kernel_w, (long long)(d->in_h + 2 * d->pad_h),
                     (long long)(d->in_w + 2 * d->pad_w));
  return ND_OK;
}
nd_status nd_avgpool2d_forward(const nd_pool2d_desc *d, const float *x, float *y) {
  ND_TRY(nd_pool2d_check(d));
  if (!x || !y) return nd__error(ND_ERR_INVALID_ARG, "nd_avgpool2d_forward: a data pointer is NULL");
  ND__CALL(avgpool2d_forward, d, x, y);
}
nd_status nd_avgpool2d_backward(const nd_pool2d_desc *d, const float *dy, float *dx) {
  ND_TRY(nd_pool2d_check(d));
  if (!dy || !dx) return nd__error(ND_ERR_INVALID_ARG, "nd_avgpool2d_backward: a data pointer is NULL");
  ND__CALL(avgpool2d_backward, d, dy, dx);
}
void nd_adaptive_avgpool2d_forward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                   const float *x, float *y) {
  ND__CALL_VOID(adaptive_avgpool2d_forward, n, c, h, w, out_h, out_w, x, y);
}
void nd_adaptive_avgpool2d_backward(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                    const float *dy, float *dx) {
  ND__CALL_VOID(adaptive_avgpool2d_backward, n, c, h, w, out_h, out_w, dy, dx);
}

/* ------------------------------------------------------------ elementwise */
void nd_unary(nd_unary_op op, float param, const float *x, float *y, int64_t n) { ND__CALL_VOID(unary, op, param, x, y, n); }
void nd_unary_backward(nd_unary_op op, float param, const float *x, const float *y, const float *dy, float beta,
                       float *dx, int64_t n) {
  ND__CALL_VOID(unary_backward, op, param, x, y, dy, beta, dx, n);
}
void nd_prelu_forward(const float *x, const float *slope, int64_t outer, int64_t channels, int64_t inner, float *y) {
  ND__CALL_VOID(prelu_forward, x, slope, outer, channels, inner, y);
}
void nd_prelu_backward(const float *x, const float *slope, const float *dy, int64_t outer, int64_t channels,
                       int64_t inner, float *dx, float *dslope) {
  ND__CALL_VOID(prelu_backward, x, slope, dy, outer, channels, inner, dx, dslope);
}
void nd_add(const float *a, const float *b, float *out, int64_t n) { ND__CALL_VOID(add, a, b, out, n); }
void nd_sub(const float *a, const float *b, float *out, int64_t n) { ND__CALL_VOID(sub, a, b, out, n); }
void nd_mul(const float *a, const float *b, float *out, int64_t n) { ND__CALL_VOID(mul, a, b, out, n); }
void nd_div(const float *a, const float *b, float *out, int64_t n) { ND__CALL_VOID(div, a, b, out, n); }
void nd_axpy(float alpha, const float *x, float *y, int64_t n) { ND__CALL_VOID(axpy, alpha, x, y, n); }
void nd_scale(float alpha, float *x, int64_t n) { ND__CALL_VOID(scale, alpha, x, n); }
void nd_add_channel_bias(float *x, const float *bias, int64_t outer, int64_t channels, int64_t inner) {
  ND__CALL_VOID(add_channel_bias, x, bias, outer, channels, inner);
}
void nd_channel_sum(const float *dy, int64_t outer, int64_t channels, int64_t inner, float beta, float *db) {
  ND__CALL_VOID(channel_sum, dy, outer, channels, inner, beta, db);
}

/* ------------------------------------------------------------- reductions */
double nd_sum(const float *x, int64_t n) { ND__CALL(sum, x, n); }
double nd_dot(const float *a, const float *b, int64_t n) { ND__CALL(dot, a, b, n); }
float nd_max_abs(const float *x, int64_t n) { ND__CALL(max_abs, x, n); }
void nd_row_sum(const float *x, int64_t rows, int64_t cols, float *out) { ND__CALL_VOID(row_sum, x, rows, cols, out); }
void nd_row_mean(const float *x, int64_t rows, int64_t cols, float *out) { ND__CALL_VOID(row_mean, x, rows, cols, out); }
void nd_row_max(const float *x, int64_t rows, int64_t cols, float *out) { ND__CALL_VOID(row_max, x, rows, cols, out); }
void nd_row_argmax(const float *x, int64_t rows, int64_t cols, int64_t *out) {
  ND__CALL_VOID(row_argmax, x, rows, cols, out);
}
nd_status nd_row_topk(const float *x, int64_t rows, int64_t cols, int64_t k, float *values, int64_t *indices) {
  if (!x) return nd__error(ND_ERR_INVALID_ARG, "nd_row_topk: x is NULL");
  if (rows < 0 || cols < 0 || k < 0 || k > cols)
    return nd__error(ND_ERR_INVALID_ARG, "nd_row_topk: need 0 <= k <= cols (rows %lld, cols %lld, k %lld)",
                     (long long)rows, (long long)cols, (long long)k);
  ND__CALL(row_topk, x, rows, cols, k, values, indices);
}

/* ---------------------------------------------------- softmax, losses */
void nd_softmax(const float *x, int64_t rows, int64_t cols, float *y) { ND__CALL_VOID(softmax, x, rows, cols, y); }
void nd_log_softmax(const float *x, int64_t rows, int64_t cols, float *y) { ND__CALL_VOID(log_softmax, x, rows, cols, y); }
void nd_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx) {
  ND__CALL_VOID(softmax_backward, y, dy, rows, cols, dx);
}
void nd_log_softmax_backward(const float *y, const float *dy, int64_t rows, int64_t cols, float *dx) {
  ND__CALL_VOID(log_softmax_backward, y, dy, rows, cols, dx);
}
nd_status nd_cross_entropy(const float *logits, const int32_t *labels, int64_t rows, int64_t cols, double *loss,
                           float *dlogits) {
  if (!logits || !labels || !loss) return nd__error(ND_ERR_INVALID_ARG, "nd_cross_entropy: logits, labels and loss must not be NULL");
  if (rows < 1 || cols < 1)
    return nd__error(ND_ERR_SHAPE, "nd_cross_entropy: logits are %lldx%lld, need at least 1x1", (long long)rows,
                     (long long)cols);
  for (int64_t r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= cols)
      return nd__error(ND_ERR_INVALID_ARG, "nd_cross_entropy: labels[%lld] = %d is outside 0..%lld", (long long)r,
                       (int)labels[r], (long long)(cols - 1));
  ND__CALL(cross_entropy, logits, labels, rows, cols, loss, dlogits);
}
