/* Convolution, transposed convolution, average and adaptive average pooling. */
#include <stdint.h>
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/kernels.h"

typedef struct conv_saved {
  nd_conv2d_desc d;
  float *ws; /* workspace shared by forward and backward calls */
} conv_saved;

static bool is4d(nd_tape *tp, const char *op, const char *what, nd_var *v) {
  if (v->value.ndim == 4) return true;
  char s[64];
  nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: %s is %s, expected 4-D", op, what, nd__shape(v, s)));
  return false;
}

static conv_saved *conv_prepare(nd_tape *tp, const char *op, const nd_conv2d_desc *d) {
  nd_status st = nd_conv2d_check(d);
  if (st != ND_OK) {
    nd__fail(tp, st);
    return NULL;
  }
  conv_saved *cs = nd_tape_alloc(tp, sizeof *cs);
  if (!cs) return NULL;
  cs->d = *d;
  size_t nws = nd_conv2d_workspace_floats(d);
  cs->ws = NULL;
  if (nws > 0 && !(cs->ws = nd__scratch(tp, (int64_t)nws))) {
    nd__error(ND_ERR_NOMEM, "%s: out of memory for a %zu-float workspace", op, nws);
    return NULL;
  }
  return cs;
}

/* ---------------------------------------------------------------- conv2d */
/* y = x (*) w + b.  VJP: dx = conv^T(dy, w), dw = sum_n dy (*) x, db = sum dy. */
static nd_status conv_backward(nd_tape *tp, nd_var *v) {
  const conv_saved *cs = v->saved;
  const nd_conv2d_desc *d = &cs->d;
  nd_var *x = v->in[0], *w = v->in[1];
  const float *dy = v->grad.data;
  float *g, beta;
  ND_TRY(nd__grad(tp, x, &g, &beta));
  if (g) ND_TRY(nd_conv2d_backward_data(d, dy, w->value.data, beta, g, cs->ws));
  ND_TRY(nd__grad(tp, w, &g, &beta));
  if (g) ND_TRY(nd_conv2d_backward_filter(d, x->value.data, dy, beta, g, NULL, cs->ws));
  if (v->n_in == 3) {
    ND_TRY(nd__grad(tp, v->in[2], &g, &beta));
    if (g) nd_channel_sum(dy, d->batch, d->out_channels, v->value.shape[2] * v->value.shape[3], beta, g);
  }
  return ND_OK;
}

/* Strides, paddings and kernel sizes beyond 2^31 cannot describe a real
 * layer and would overflow the output-size arithmetic: refuse them first. */
static bool geometry_ok(nd_tape *tp, const char *op, int n, const int64_t *v) {
  for (int i = 0; i < n; i++)
    if (v[i] < -(int64_t)INT32_MAX || v[i] > (int64_t)INT32_MAX) {
      nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: stride, padding or size %lld is out of range (|v| <= %d)", op,
                             (long long)v[i], INT32_MAX));
      return false;
    }
  return true;
}

nd_var *nd_ad_conv2d(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, int64_t stride_h, int64_t stride_w,
                     int64_t pad_h, int64_t pad_w) {
  nd_var *in[3] = {x, w, b};
  if (!nd__inputs_ok(tp, "conv2d", 2, in)) return NULL;
  if (!geometry_ok(tp, "conv2d", 4, ND_SHAPE(stride_h, stride_w, pad_h, pad_w))) return NULL;
  if (!is4d(tp, "conv2d", "input", x) || !is4d(tp, "conv2d", "weight", w)) return NULL;
  char sx[64], sw[64], sb[64];
  if (w->value.shape[1] != x->value.shape[1])
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "conv2d: input %s has %lld channels, weight %s expects %lld",
                                  nd__shape(x, sx), (long long)x->value.shape[1], nd__shape(w, sw),
                                  (long long)w->value.shape[1]));
  if (b && (b->value.ndim != 1 || b->value.shape[0] != w->value.shape[0]))
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "conv2d: bias is %s, weight %s wants [%lld]", nd__shape(b, sb),
                                  nd__shape(w, sw), (long long)w->value.shape[0]));
  nd_conv2d_desc d = {.batch = x->value.shape[0], .in_channels = x->value.shape[1], .in_h = x->value.shape[2],
                      .in_w = x->value.shape[3], .out_channels = w->value.shape[0], .kernel_h = w->value.shape[2],
                      .kernel_w = w->value.shape[3], .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h,
                      .pad_w = pad_w};
  conv_saved *cs = conv_prepare(tp, "conv2d", &d);
  if (!cs) return NULL;
  int64_t P = nd_conv2d_out_h(&d), Q = nd_conv2d_out_w(&d);
  nd_var *v = nd__new_node(tp, "conv2d", 4, ND_SHAPE(d.batch, d.out_channels, P, Q), b ? 3 : 2, in, conv_backward);
  if (!v) return NULL;
  v->saved = cs;
  nd_status s = nd_conv2d_forward(&d, x->value.data, w->value.data, b ? b->value.data : NULL, 0.0f, v->value.data,
                                  cs->ws);
  if (s != ND_OK) return nd__fail(tp, s);
  return v;
}

/* ------------------------------------------------------ conv_transpose2d */
/* y = conv^T(x, w) + b (the adjoint of the convolution d).  VJP:
 * dx = conv(dy, w), dw = backward_filter with dy as that convolution's input
 * and x as its output gradient, db = sum dy. */
static nd_status convt_backward(nd_tape *tp, nd_var *v) {
  const conv_saved *cs = v->saved;
  const nd_conv2d_desc *d = &cs->d;
  nd_var *x = v->in[0], *w = v->in[1];
  const float *dy = v->grad.data;
  float *g, beta;
  ND_TRY(nd__grad(tp, x, &g, &beta));
  if (g) ND_TRY(nd_conv2d_forward(d, dy, w->value.data, NULL, beta, g, cs->ws));
  ND_TRY(nd__grad(tp, w, &g, &beta));
  if (g) ND_TRY(nd_conv2d_backward_filter(d, dy, x->value.data, beta, g, NULL, cs->ws));
  if (v->n_in == 3) {
    ND_TRY(nd__grad(tp, v->in[2], &g, &beta));
    if (g) nd_channel_sum(dy, d->batch, d->in_channels, d->in_h * d->in_w, beta, g);
  }
  return ND_OK;
}

nd_var *nd_ad_conv_transpose2d(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w, int64_t out_pad_h, int64_t out_pad_w) {
  nd_var *in[3] = {x, w, b};
  const char *op = "conv_transpose2d";
  if (!nd__inputs_ok(tp, op, 2, in)) return NULL;
  if (!geometry_ok(tp, op, 6, ND_SHAPE(stride_h, stride_w, pad_h, pad_w, out_pad_h, out_pad_w))) return NULL;
  if (!is4d(tp, op, "input", x) || !is4d(tp, op, "weight", w)) return NULL;
  char sx[64], sw[64], sb[64];
  if (w->value.shape[0] != x->value.shape[1])
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: input %s has %lld channels, weight %s expects %lld", op,
                                  nd__shape(x, sx), (long long)x->value.shape[1], nd__shape(w, sw),
                                  (long long)w->value.shape[0]));
  if (b && (b->value.ndim != 1 || b->value.shape[0] != w->value.shape[1]))
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: bias is %s, weight %s wants [%lld]", op, nd__shape(b, sb),
                                  nd__shape(w, sw), (long long)w->value.shape[1]));
  if (stride_h < 1 || stride_w < 1 || out_pad_h < 0 || out_pad_w < 0 || out_pad_h >= stride_h ||
      out_pad_w >= stride_w)
    return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: need stride >= 1 and 0 <= out_pad < stride, got stride "
                                                      "%lldx%lld out_pad %lldx%lld",
                                  op, (long long)stride_h, (long long)stride_w, (long long)out_pad_h,
                                  (long long)out_pad_w));
  int64_t P = x->value.shape[2], Q = x->value.shape[3];
  int64_t R = w->value.shape[2], S = w->value.shape[3];
  nd_conv2d_desc d = {.batch = x->value.shape[0], .in_channels = w->value.shape[1],
                      .in_h = (P - 1) * stride_h - 2 * pad_h + R + out_pad_h,
                      .in_w = (Q - 1) * stride_w - 2 * pad_w + S + out_pad_w, .out_channels = w->value.shape[0],
                      .kernel_h = R, .kernel_w = S, .stride_h = stride_h, .stride_w = stride_w, .pad_h = pad_h,
                      .pad_w = pad_w};
  if (d.in_h < 1 || d.in_w < 1)
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: output would be %lldx%lld", op, (long long)d.in_h,
                                  (long long)d.in_w));
  conv_saved *cs = conv_prepare(tp, op, &d);
  if (!cs) return NULL;
  if (nd_conv2d_out_h(&d) != P || nd_conv2d_out_w(&d) != Q)
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: input %s is not the output size of the adjoint convolution", op,
                                  nd__shape(x, sx)));
  nd_var *v = nd__new_node(tp, op, 4, ND_SHAPE(d.batch, d.in_channels, d.in_h, d.in_w), b ? 3 : 2, in, convt_backward);
  if (!v) return NULL;
  v->saved = cs;
  nd_status s = nd_conv_transpose2d_forward(&d, x->value.data, w->value.data, b ? b->value.data : NULL, 0.0f,
                                            v->value.data, cs->ws);
  if (s != ND_OK) return nd__fail(tp, s);
  return v;
}

/* ---------------------------------------------------------------- pooling */
static nd_status avgpool_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0];
  float *g;
  ND_TRY(nd__grad_overwrite(tp, x, &g));
  if (!g) return ND_OK;
  ND_TRY(nd_avgpool2d_backward((const nd_pool2d_desc *)v->saved, v->grad.data, g));
  nd__grad_commit(x, g);
  return ND_OK;
}

nd_var *nd_ad_avgpool2d(nd_tape *tp, nd_var *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h,
                        int64_t stride_w, int64_t pad_h, int64_t pad_w, bool count_include_pad) {
  if (!nd__inputs_ok(tp, "avgpool2d", 1, &x)) return NULL;
  if (!geometry_ok(tp, "avgpool2d", 6, ND_SHAPE(kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w))) return NULL;
  if (!is4d(tp, "avgpool2d", "input", x)) return NULL;
  nd_pool2d_desc d = {.batch = x->value.shape[0], .channels = x->value.shape[1], .in_h = x->value.shape[2],
                      .in_w = x->value.shape[3], .kernel_h = kernel_h, .kernel_w = kernel_w, .stride_h = stride_h,
                      .stride_w = stride_w, .pad_h = pad_h, .pad_w = pad_w, .count_include_pad = count_include_pad};
  nd_status st = nd_pool2d_check(&d);
  if (st != ND_OK) return nd__fail(tp, st);
  nd_pool2d_desc *saved = nd_tape_alloc(tp, sizeof *saved);
  if (!saved) return NULL;
  *saved = d;
  nd_var *v = nd__new_node(tp, "avgpool2d", 4, ND_SHAPE(d.batch, d.channels, nd_pool2d_out_h(&d), nd_pool2d_out_w(&d)),
                           1, &x, avgpool_backward);
  if (!v) return NULL;
  v->saved = saved;
  nd_status s = nd_avgpool2d_forward(&d, x->value.data, v->value.data);
  if (s != ND_OK) return nd__fail(tp, s);
  return v;
}

static nd_status adaptive_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0];
  float *g;
  ND_TRY(nd__grad_overwrite(tp, x, &g));
  if (!g) return ND_OK;
  const int64_t *s = x->value.shape;
  nd_adaptive_avgpool2d_backward(s[0], s[1], s[2], s[3], v->value.shape[2], v->value.shape[3], v->grad.data, g);
  nd__grad_commit(x, g);
  return ND_OK;
}

nd_var *nd_ad_adaptive_avgpool2d(nd_tape *tp, nd_var *x, int64_t out_h, int64_t out_w) {
  if (!nd__inputs_ok(tp, "adaptive_avgpool2d", 1, &x)) return NULL;
  if (!geometry_ok(tp, "adaptive_avgpool2d", 2, ND_SHAPE(out_h, out_w))) return NULL;
  if (!is4d(tp, "adaptive_avgpool2d", "input", x)) return NULL;
  const int64_t *s = x->value.shape;
  if (out_h < 1 || out_w < 1 || s[2] < 1 || s[3] < 1)
    return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "adaptive_avgpool2d: output %lldx%lld from input %lldx%lld",
                                  (long long)out_h, (long long)out_w, (long long)s[2], (long long)s[3]));
  nd_var *v = nd__new_node(tp, "adaptive_avgpool2d", 4, ND_SHAPE(s[0], s[1], out_h, out_w), 1, &x, adaptive_backward);
  if (!v) return NULL;
  nd_adaptive_avgpool2d_forward(s[0], s[1], s[2], s[3], out_h, out_w, x->value.data, v->value.data);
  return v;
}
