/* Elementwise ops (every nd_unary_op), PReLU, softmax and log-softmax. */
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/kernels.h"

static const char *unary_name(nd_unary_op op) {
  switch (op) {
    case ND_RELU: return "relu";
    case ND_LEAKY_RELU: return "leaky_relu";
    case ND_TANH: return "tanh";
    case ND_SIGMOID: return "sigmoid";
    case ND_SOFTPLUS: return "softplus";
    case ND_ABS: return "abs";
    case ND_SIGN: return "sign";
    case ND_POW: return "pow";
    case ND_RELU_POW: return "relu_pow";
    case ND_SOFT_THRESHOLD: return "soft_threshold";
    case ND_HARD_THRESHOLD: return "hard_threshold";
    case ND_NONNEG_THRESHOLD: return "nonneg_threshold";
    case ND_EXP: return "exp";
    case ND_LOG: return "log";
    case ND_SQUARE: return "square";
    default: return "unary";
  }
}

/* dx = dy * f'(x) (kernels.h, nd_unary_backward). */
static nd_status unary_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0];
  float *g, beta;
  ND_TRY(nd__grad(tp, x, &g, &beta));
  if (g)
    nd_unary_backward((nd_unary_op)v->i[0], v->f[0], x->value.data, v->value.data, v->grad.data, beta, g,
                      nd_tensor_numel(&v->value));
  return ND_OK;
}

nd_var *nd_ad_unary(nd_tape *tp, nd_unary_op op, float param, nd_var *x) {
  if ((int)op < 0 || op >= ND_UNARY_COUNT_) {
    nd__error(ND_ERR_INVALID_ARG, "unary: unknown op %d", (int)op);
    return nd__fail(tp, ND_ERR_INVALID_ARG);
  }
  const char *name = unary_name(op);
  if (!nd__inputs_ok(tp, name, 1, &x)) return NULL;
  /* The sign function has zero derivative everywhere: record nothing. */
  nd_var *v = nd__new_node(tp, name, x->value.ndim, x->value.shape, 1, &x, op == ND_SIGN ? NULL : unary_backward);
  if (!v) return NULL;
  v->i[0] = op;
  v->f[0] = param;
  nd_unary(op, param, x->value.data, v->value.data, nd_tensor_numel(&x->value));
  return v;
}

nd_var *nd_ad_relu(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_RELU, 0.0f, x); }
nd_var *nd_ad_leaky_relu(nd_tape *tp, nd_var *x, float slope) { return nd_ad_unary(tp, ND_LEAKY_RELU, slope, x); }
nd_var *nd_ad_tanh(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_TANH, 0.0f, x); }
nd_var *nd_ad_sigmoid(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_SIGMOID, 0.0f, x); }
nd_var *nd_ad_softplus(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_SOFTPLUS, 0.0f, x); }
nd_var *nd_ad_abs(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_ABS, 0.0f, x); }
nd_var *nd_ad_pow(nd_tape *tp, nd_var *x, float p) { return nd_ad_unary(tp, ND_POW, p, x); }
nd_var *nd_ad_relu_pow(nd_tape *tp, nd_var *x, float n) { return nd_ad_unary(tp, ND_RELU_POW, n, x); }
nd_var *nd_ad_soft_threshold(nd_tape *tp, nd_var *x, float lambda) {
  return nd_ad_unary(tp, ND_SOFT_THRESHOLD, lambda, x);
}
nd_var *nd_ad_hard_threshold(nd_tape *tp, nd_var *x, float lambda) {
  return nd_ad_unary(tp, ND_HARD_THRESHOLD, lambda, x);
}
nd_var *nd_ad_exp(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_EXP, 0.0f, x); }
nd_var *nd_ad_log(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_LOG, 0.0f, x); }
nd_var *nd_ad_square(nd_tape *tp, nd_var *x) { return nd_ad_unary(tp, ND_SQUARE, 0.0f, x); }

/* ----------------------------------------------------------------- PReLU */
/* y = x >= 0 ? x : a_c x;  dx = dy * (x >= 0 ? 1 : a_c);  da_c = sum dy * min(x,0). */
static nd_status prelu_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0], *a = v->in[1];
  int64_t outer = v->i[0], ch = v->i[1], inner = v->i[2];
  float *gx, *ga;
  ND_TRY(nd__grad_overwrite(tp, x, &gx));
  ND_TRY(nd__grad_acc(tp, a, &ga));
  float *dx = gx, *da = ga;
  if (!dx && !(dx = nd__scratch(tp, nd_tensor_numel(&x->value)))) return ND_ERR_NOMEM;
  if (!da) {
    if (!(da = nd__scratch(tp, ch))) return ND_ERR_NOMEM;
    memset(da, 0, (size_t)ch * sizeof(float));
  }
  nd_prelu_backward(x->value.data, a->value.data, v->grad.data, outer, ch, inner, dx, da);
  if (gx) nd__grad_commit(x, gx);
  return ND_OK;
}

nd_var *nd_ad_prelu(nd_tape *tp, nd_var *x, nd_var *slope) {
  nd_var *in[2] = {x, slope};
  if (!nd__inputs_ok(tp, "prelu", 2, in)) return NULL;
  char sx[64], sa[64];
  if (x->value.ndim < 2 || slope->value.ndim != 1 || slope->value.shape[0] != x->value.shape[1])
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "prelu: slope is %s, input %s wants [shape[1]] with ndim >= 2",
                                  nd__shape(slope, sa), nd__shape(x, sx)));
  nd_var *v = nd__new_node(tp, "prelu", x->value.ndim, x->value.shape, 2, in, prelu_backward);
  if (!v) return NULL;
  int64_t n = nd_tensor_numel(&x->value);
  v->i[0] = x->value.shape[0];
  v->i[1] = x->value.shape[1];
  v->i[2] = v->i[0] * v->i[1] > 0 ? n / (v->i[0] * v->i[1]) : 0;
  nd_prelu_forward(x->value.data, slope->value.data, v->i[0], v->i[1], v->i[2], v->value.data);
  return v;
}

/* ------------------------------------------------------ softmax family */
static nd_status softmax_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0];
  float *g;
  ND_TRY(nd__grad_overwrite(tp, x, &g));
  if (!g) return ND_OK;
  if (v->i[2])
    nd_log_softmax_backward(v->value.data, v->grad.data, v->i[0], v->i[1], g);
  else
    nd_softmax_backward(v->value.data, v->grad.data, v->i[0], v->i[1], g);
  nd__grad_commit(x, g);
  return ND_OK;
}

static nd_var *softmax_op(nd_tape *tp, nd_var *x, bool log) {
  const char *name = log ? "log_softmax" : "softmax";
  if (!nd__inputs_ok(tp, name, 1, &x)) return NULL;
  if (x->value.ndim < 1) return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: input must have at least one dimension", name));
  nd_var *v = nd__new_node(tp, name, x->value.ndim, x->value.shape, 1, &x, softmax_backward);
  if (!v) return NULL;
  int64_t cols = x->value.shape[x->value.ndim - 1];
  int64_t rows = cols > 0 ? nd_tensor_numel(&x->value) / cols : 0;
  v->i[0] = rows;
  v->i[1] = cols;
  v->i[2] = log;
  if (log)
    nd_log_softmax(x->value.data, rows, cols, v->value.data);
  else
    nd_softmax(x->value.data, rows, cols, v->value.data);
  return v;
}

nd_var *nd_ad_softmax(nd_tape *tp, nd_var *x) { return softmax_op(tp, x, false); }
nd_var *nd_ad_log_softmax(nd_tape *tp, nd_var *x) { return softmax_op(tp, x, true); }
