/* A convolution as a linear operator on its input (analysis.h). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/analysis.h"

typedef struct conv_ctx {
  nd_conv2d_desc d;
  float *w, *x, *y, *ws;
  int64_t n;
} conv_ctx;

static void conv_free(void *p) {
  conv_ctx *c = p;
  if (!c) return;
  nd_aligned_free(c->w);
  nd_aligned_free(c->x);
  nd_aligned_free(c->y);
  nd_aligned_free(c->ws);
  free(c);
}

static nd_status conv_apply(void *p, const double *x, double *y) {
  conv_ctx *c = p;
  for (int64_t i = 0; i < c->n; i++) c->x[i] = (float)x[i];
  ND_TRY(nd_conv2d_forward(&c->d, c->x, c->w, NULL, 0.0f, c->y, c->ws));
  for (int64_t i = 0; i < c->n; i++) y[i] = c->y[i];
  return ND_OK;
}

nd_status nd_conv_linop_create(const nd_conv2d_desc *d, const float *w, nd_linop *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!d || !w || !out) return nd__error(ND_ERR_INVALID_ARG, "conv_linop: NULL %s", !d ? "desc" : !w ? "w" : "out");
  nd_conv2d_desc e = *d;
  e.batch = 1;
  ND_TRY(nd_conv2d_check(&e));
  int64_t ph = nd_conv2d_out_h(&e), pw = nd_conv2d_out_w(&e);
  if (e.out_channels != e.in_channels || ph != e.in_h || pw != e.in_w)
    return nd__error(ND_ERR_SHAPE,
                     "conv_linop: the convolution maps %lldx%lldx%lld to %lldx%lldx%lld; an operator needs the same shape",
                     (long long)e.in_channels, (long long)e.in_h, (long long)e.in_w, (long long)e.out_channels,
                     (long long)ph, (long long)pw);
  conv_ctx *c = calloc(1, sizeof *c);
  if (!c) return nd__error(ND_ERR_NOMEM, "conv_linop: out of memory");
  c->d = e;
  c->n = e.in_channels * e.in_h * e.in_w;
  size_t nw = (size_t)(e.out_channels * e.in_channels * e.kernel_h * e.kernel_w);
  size_t nws = nd_conv2d_workspace_floats(&e);
  c->w = nd_aligned_alloc(nw * sizeof(float));
  c->x = nd_aligned_alloc((size_t)c->n * sizeof(float));
  c->y = nd_aligned_alloc((size_t)c->n * sizeof(float));
  c->ws = nd_aligned_alloc((nws ? nws : 1) * sizeof(float));
  if (!c->w || !c->x || !c->y || !c->ws) {
    conv_free(c);
    return nd__error(ND_ERR_NOMEM, "conv_linop: out of memory");
  }
  memcpy(c->w, w, nw * sizeof(float));
  *out = (nd_linop){.n = c->n, .apply = conv_apply, .ctx = c, .free_ctx = conv_free};
  return ND_OK;
}
