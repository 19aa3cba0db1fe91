/* Reductions and losses: sum, mean, cross-entropy, MSE, abs-power loss. */
#include <math.h>
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/kernels.h"

static const int64_t scalar_shape[1] = {1};

/* g = s + beta*g for every element. */
static void fill_add(float *g, float beta, float s, int64_t n) {
  if (beta == 0.0f)
    for (int64_t j = 0; j < n; j++) g[j] = s;
  else
    for (int64_t j = 0; j < n; j++) g[j] += s;
}

/* ------------------------------------------------------------ sum, mean */
/* y = c * sum_j x_j (c = 1 or 1/n);  dx_j = c * dy. */
static nd_status sum_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0];
  float *g, beta;
  ND_TRY(nd__grad(tp, x, &g, &beta));
  if (g) fill_add(g, beta, v->f[0] * v->grad.data[0], nd_tensor_numel(&x->value));
  return ND_OK;
}

static nd_var *sum_op(nd_tape *tp, nd_var *x, bool mean) {
  const char *name = mean ? "mean" : "sum";
  if (!nd__inputs_ok(tp, name, 1, &x)) return NULL;
  int64_t n = nd_tensor_numel(&x->value);
  if (mean && n == 0) return nd__fail(tp, nd__error(ND_ERR_SHAPE, "mean: input has no elements"));
  nd_var *v = nd__new_node(tp, name, 0, scalar_shape, 1, &x, sum_backward);
  if (!v) return NULL;
  v->f[0] = mean ? (float)(1.0 / (double)n) : 1.0f;
  double s = nd_sum(x->value.data, n);
  v->value.data[0] = (float)(mean ? s / (double)n : s);
  return v;
}

nd_var *nd_ad_sum(nd_tape *tp, nd_var *x) { return sum_op(tp, x, false); }
nd_var *nd_ad_mean(nd_tape *tp, nd_var *x) { return sum_op(tp, x, true); }

/* --------------------------------------------------------- cross-entropy */
/* L = -(1/B) sum_b log softmax(z_b)[y_b];  dL/dz = (softmax(z) - onehot(y)) / B,
 * computed by the kernel in the forward pass and scaled by dy in backward. */
static nd_status ce_backward(nd_tape *tp, nd_var *v) {
  nd_var *z = v->in[0];
  float *g, beta;
  ND_TRY(nd__grad(tp, z, &g, &beta));
  if (g) nd__gadd(g, beta, v->grad.data[0], (const float *)v->saved, nd_tensor_numel(&z->value));
  return ND_OK;
}

nd_var *nd_ad_cross_entropy(nd_tape *tp, nd_var *logits, const int32_t *labels) {
  if (!nd__inputs_ok(tp, "cross_entropy", 1, &logits)) return NULL;
  char s[64];
  if (logits->value.ndim != 2)
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "cross_entropy: logits are %s, expected [batch, classes]",
                                  nd__shape(logits, s)));
  if (!labels) return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "cross_entropy: labels are NULL"));
  int64_t rows = logits->value.shape[0], cols = logits->value.shape[1];
  if (rows == 0) return nd__fail(tp, nd__error(ND_ERR_SHAPE, "cross_entropy: empty batch"));
  nd_var *v = nd__new_node(tp, "cross_entropy", 0, scalar_shape, 1, &logits, ce_backward);
  if (!v) return NULL;
  float *dz = NULL;
  if (v->requires_grad && !(dz = nd__scratch(tp, rows * cols))) return NULL;
  double loss = 0.0;
  nd_status st = nd_cross_entropy(logits->value.data, labels, rows, cols, &loss, dz);
  if (st != ND_OK) return nd__fail(tp, st);
  v->saved = dz;
  v->value.data[0] = (float)loss;
  return v;
}

/* ------------------------------------------------------------------- MSE */
/* m as an int if it is a whole number in 1..32 (then powers are products,
 * several times faster than pow and exact to rounding), else 0. */
static int int_power(float m) {
  return m >= 1.0f && m <= 32.0f && m == (float)(int)m ? (int)m : 0;
}
static inline float ipowf(float x, int k) {
  float r = 1.0f;
  for (; k > 0; k >>= 1, x *= x)
    if (k & 1) r *= x;
  return r;
}
static inline double ipow(double x, int k) {
  double r = 1.0;
  for (; k > 0; k >>= 1, x *= x)
    if (k & 1) r *= x;
  return r;
}

/* L = (1/n) sum (a-b)^2;  dL/da = 2(a-b)/n = -dL/db. */
static nd_status pair_backward(nd_tape *tp, nd_var *v) {
  nd_var *a = v->in[0], *b = v->in[1];
  int64_t n = nd_tensor_numel(&a->value);
  const float *av = a->value.data, *bv = b->value.data;
  float dy = v->grad.data[0];
  bool mse = v->i[0] == 0;
  float m = v->f[0];
  float scale = mse ? 2.0f * dy / (float)n : dy * m;
  int im = int_power(m);
  for (int k = 0; k < 2; k++) {
    float *g, beta;
    ND_TRY(nd__grad(tp, v->in[k], &g, &beta));
    if (!g) continue;
    float sg = k == 0 ? scale : -scale;
    for (int64_t j = 0; j < n; j++) {
      float d = av[j] - bv[j], c;
      if (mse) {
        c = sg * d;
      } else {
        /* d/dc |c-t|^m = m |c-t|^(m-1) sign(c-t)  (Krotov & Hopfield 2019, Eq. 12) */
        float ad = fabsf(d);
        float p = im > 0 ? ipowf(ad, im - 1) : powf(ad, m - 1.0f);
        c = d > 0 ? sg * p : (d < 0 ? -sg * p : 0.0f);
      }
      g[j] = beta != 0.0f ? g[j] + c : c;
    }
  }
  return ND_OK;
}

static nd_var *pair_loss(nd_tape *tp, const char *name, nd_var *a, nd_var *b, bool mse, float m) {
  nd_var *in[2] = {a, b};
  if (!nd__inputs_ok(tp, name, 2, in)) return NULL;
  char sa[64], sb[64];
  if (!nd_tensor_same_shape(&a->value, &b->value))
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: operands are %s and %s, expected the same shape", name,
                                  nd__shape(a, sa), nd__shape(b, sb)));
  int64_t n = nd_tensor_numel(&a->value);
  if (mse && n == 0) return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: operands have no elements", name));
  nd_var *v = nd__new_node(tp, name, 0, scalar_shape, 2, in, pair_backward);
  if (!v) return NULL;
  v->i[0] = mse ? 0 : 1;
  v->f[0] = m;
  const float *av = a->value.data, *bv = b->value.data;
  int im = mse ? 2 : int_power(m);
  double s = 0.0;
  for (int64_t j = 0; j < n; j++) {
    double d = (double)av[j] - (double)bv[j];
    s += im > 0 ? ipow(fabs(d), im) : pow(fabs(d), (double)m);
  }
  v->value.data[0] = (float)(mse ? s / (double)n : s);
  return v;
}

nd_var *nd_ad_mse(nd_tape *tp, nd_var *a, nd_var *b) { return pair_loss(tp, "mse", a, b, true, 2.0f); }

nd_var *nd_ad_abs_power_loss(nd_tape *tp, nd_var *c, nd_var *t, float m) {
  if (!(m >= 1.0f) || !isfinite(m)) {
    nd__error(ND_ERR_INVALID_ARG, "abs_power_loss: exponent m = %g, need a finite m >= 1", (double)m);
    return nd__fail(tp, ND_ERR_INVALID_ARG);
  }
  return pair_loss(tp, "abs_power_loss", c, t, false, m);
}
