/* Linear ops: matmul, linear layer, broadcast add/sub/mul, scale, reshape. */
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/kernels.h"

/* GEMM that tolerates empty sizes (BLAS wants leading dimensions >= 1). */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                 int64_t ldb, float beta, float *c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0.0f) memset(c, 0, (size_t)(m * n) * sizeof(float));
    return;
  }
  nd_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* ---------------------------------------------------------------- matmul */
/* C[m,n] = op(A) op(B) with A stored [m,k] (or [k,m] if ta), B [k,n] (or [n,k]).
 * VJP: dA = dC op(B)^T (stored transposed if ta: dA_s = op(B) dC^T);
 *      dB = op(A)^T dC  (if tb: dB_s = dC^T op(A)). */
static nd_status matmul_backward(nd_tape *tp, nd_var *v) {
  nd_var *a = v->in[0], *b = v->in[1];
  bool ta = v->i[0] != 0, tb = v->i[1] != 0;
  int64_t m = v->i[2], n = v->i[3], k = v->i[4];
  int64_t lda = a->value.shape[1], ldb = b->value.shape[1];
  const float *dc = v->grad.data;
  float *g, beta;
  ND_TRY(nd__grad(tp, a, &g, &beta));
  if (g) {
    if (!ta)
      gemm(false, !tb, m, k, n, dc, n, b->value.data, ldb, beta, g, k);
    else
      gemm(tb, true, k, m, n, b->value.data, ldb, dc, n, beta, g, m);
  }
  ND_TRY(nd__grad(tp, b, &g, &beta));
  if (g) {
    if (!tb)
      gemm(!ta, false, k, n, m, a->value.data, lda, dc, n, beta, g, n);
    else
      gemm(true, ta, n, k, m, dc, n, a->value.data, lda, beta, g, k);
  }
  return ND_OK;
}

nd_var *nd_ad_matmul(nd_tape *tp, nd_var *a, nd_var *b, bool trans_a, bool trans_b) {
  nd_var *in[2] = {a, b};
  if (!nd__inputs_ok(tp, "matmul", 2, in)) return NULL;
  char sa[64], sb[64];
  if (a->value.ndim != 2 || b->value.ndim != 2)
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "matmul: operands must be 2-D, got %s and %s", nd__shape(a, sa),
                                  nd__shape(b, sb)));
  int64_t m = trans_a ? a->value.shape[1] : a->value.shape[0];
  int64_t k = trans_a ? a->value.shape[0] : a->value.shape[1];
  int64_t kb = trans_b ? b->value.shape[1] : b->value.shape[0];
  int64_t n = trans_b ? b->value.shape[0] : b->value.shape[1];
  if (k != kb)
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "matmul: inner sizes differ: %s%s times %s%s", nd__shape(a, sa),
                                  trans_a ? "^T" : "", nd__shape(b, sb), trans_b ? "^T" : ""));
  nd_var *v = nd__new_node(tp, "matmul", 2, ND_SHAPE(m, n), 2, in, matmul_backward);
  if (!v) return NULL;
  gemm(trans_a, trans_b, m, n, k, a->value.data, a->value.shape[1], b->value.data, b->value.shape[1], 0.0f,
       v->value.data, n);
  v->i[0] = trans_a;
  v->i[1] = trans_b;
  v->i[2] = m;
  v->i[3] = n;
  v->i[4] = k;
  return v;
}

/* ---------------------------------------------------------------- linear */
/* y[B,out] = x[B,in] W[out,in]^T + b.  VJP: dx = dy W, dW = dy^T x, db = sum_rows dy. */
static nd_status linear_backward(nd_tape *tp, nd_var *v) {
  nd_var *x = v->in[0], *w = v->in[1];
  int64_t rows = v->i[0], nin = v->i[1], nout = v->i[2];
  const float *dy = v->grad.data;
  float *g, beta;
  ND_TRY(nd__grad(tp, x, &g, &beta));
  if (g) gemm(false, false, rows, nin, nout, dy, nout, w->value.data, nin, beta, g, nin);
  ND_TRY(nd__grad(tp, w, &g, &beta));
  if (g) gemm(true, false, nout, nin, rows, dy, nout, x->value.data, nin, beta, g, nin);
  if (v->n_in == 3) {
    ND_TRY(nd__grad(tp, v->in[2], &g, &beta));
    if (g) nd_channel_sum(dy, rows, nout, 1, beta, g);
  }
  return ND_OK;
}

nd_var *nd_ad_linear(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b) {
  nd_var *in[3] = {x, w, b};
  if (!nd__inputs_ok(tp, "linear", 2, in)) return NULL;
  char sx[64], sw[64], sb[64];
  if (w->value.ndim != 2 || x->value.ndim < 1 || x->value.shape[x->value.ndim - 1] != w->value.shape[1])
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "linear: input %s does not match weight %s (want [..., in] and [out, in])",
                                  nd__shape(x, sx), nd__shape(w, sw)));
  int64_t nout = w->value.shape[0], nin = w->value.shape[1];
  if (b && (nd_tensor_numel(&b->value) != nout || b->value.ndim != 1))
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "linear: bias is %s, weight %s wants [%lld]", nd__shape(b, sb),
                                  nd__shape(w, sw), (long long)nout));
  int64_t rows = nin > 0 ? nd_tensor_numel(&x->value) / nin : 0;
  int64_t shape[ND_MAX_DIMS];
  for (int d = 0; d < x->value.ndim; d++) shape[d] = x->value.shape[d];
  shape[x->value.ndim - 1] = nout;
  nd_var *v = nd__new_node(tp, "linear", x->value.ndim, shape, b ? 3 : 2, in, linear_backward);
  if (!v) return NULL;
  gemm(false, true, rows, nout, nin, x->value.data, nin, w->value.data, nin, 0.0f, v->value.data, nout);
  if (b) nd_add_channel_bias(v->value.data, b->value.data, rows, nout, 1);
  v->i[0] = rows;
  v->i[1] = nin;
  v->i[2] = nout;
  return v;
}

/* ---------------------------------------------------- broadcast binaries */
enum { BC_SAME = 0, BC_SCALAR = 1, BC_CHANNEL = 2 };

/* Resolves how b broadcasts against a; fills i[0]=kind, i[1..3]=outer,ch,inner. */
static bool broadcast(nd_tape *tp, const char *op, nd_var *a, nd_var *b, int64_t *info) {
  int64_t na = nd_tensor_numel(&a->value), nb = nd_tensor_numel(&b->value);
  info[1] = info[2] = info[3] = 1;
  if (nd_tensor_same_shape(&a->value, &b->value) || (na == 1 && nb == 1)) {
    info[0] = BC_SAME;
    return true;
  }
  if (nb == 1) {
    info[0] = BC_SCALAR;
    return true;
  }
  if (b->value.ndim == 1 && a->value.ndim >= 2 && b->value.shape[0] == a->value.shape[1]) {
    info[0] = BC_CHANNEL;
    info[1] = a->value.shape[0];
    info[2] = a->value.shape[1];
    info[3] = a->value.shape[1] > 0 && a->value.shape[0] > 0 ? na / (a->value.shape[0] * a->value.shape[1]) : 0;
    return true;
  }
  char sa[64], sb[64];
  nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: cannot broadcast %s against %s (want the same shape, one element, or 1-D "
                                       "of size a.shape[1])",
                         op, nd__shape(b, sb), nd__shape(a, sa)));
  return false;
}

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2 };

static nd_status binary_backward(nd_tape *tp, nd_var *v) {
  nd_var *a = v->in[0], *b = v->in[1];
  int op = (int)v->i[4];
  int kind = (int)v->i[0];
  int64_t outer = v->i[1], ch = v->i[2], inner = v->i[3];
  int64_t n = nd_tensor_numel(&a->value);
  const float *dy = v->grad.data;
  const float *av = a->value.data, *bv = b->value.data;
  float *g, beta;
  /* d/da */
  ND_TRY(nd__grad(tp, a, &g, &beta));
  if (g) {
    if (op != OP_MUL) {
      nd__gadd(g, beta, 1.0f, dy, n);
    } else if (kind == BC_SAME) {
      for (int64_t j = 0; j < n; j++) g[j] = dy[j] * bv[j] + (beta != 0.0f ? g[j] : 0.0f);
    } else if (kind == BC_SCALAR) {
      nd__gadd(g, beta, bv[0], dy, n);
    } else {
      for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < ch; c++) {
          int64_t base = (o * ch + c) * inner;
          for (int64_t i = 0; i < inner; i++)
            g[base + i] = dy[base + i] * bv[c] + (beta != 0.0f ? g[base + i] : 0.0f);
        }
    }
  }
  /* d/db */
  ND_TRY(nd__grad(tp, b, &g, &beta));
  if (g) {
    float sign = op == OP_SUB ? -1.0f : 1.0f;
    if (kind == BC_SAME) {
      if (op == OP_MUL)
        for (int64_t j = 0; j < n; j++) g[j] = dy[j] * av[j] + (beta != 0.0f ? g[j] : 0.0f);
      else
        nd__gadd(g, beta, sign, dy, n);
    } else if (kind == BC_SCALAR) {
      double s = op == OP_MUL ? nd_dot(dy, av, n) : sign * nd_sum(dy, n);
      g[0] = (float)s + (beta != 0.0f ? g[0] : 0.0f);
    } else {
      for (int64_t c = 0; c < ch; c++) {
        double s = 0.0;
        for (int64_t o = 0; o < outer; o++) {
          int64_t base = (o * ch + c) * inner;
          for (int64_t i = 0; i < inner; i++) s += op == OP_MUL ? (double)dy[base + i] * av[base + i] : dy[base + i];
        }
        g[c] = sign * (float)s + (beta != 0.0f ? g[c] : 0.0f);
      }
    }
  }
  return ND_OK;
}

static nd_var *binary(nd_tape *tp, const char *name, int op, nd_var *a, nd_var *b) {
  nd_var *in[2] = {a, b};
  if (!nd__inputs_ok(tp, name, 2, in)) return NULL;
  int64_t info[4];
  if (!broadcast(tp, name, a, b, info)) return NULL;
  nd_var *v = nd__new_node(tp, name, a->value.ndim, a->value.shape, 2, in, binary_backward);
  if (!v) return NULL;
  memcpy(v->i, info, sizeof info);
  v->i[4] = op;
  int64_t n = nd_tensor_numel(&a->value);
  const float *av = a->value.data, *bv = b->value.data;
  float *y = v->value.data;
  if (info[0] == BC_SAME) {
    if (op == OP_ADD) nd_add(av, bv, y, n);
    else if (op == OP_SUB) nd_sub(av, bv, y, n);
    else nd_mul(av, bv, y, n);
  } else if (info[0] == BC_SCALAR) {
    float s = bv[0];
    for (int64_t j = 0; j < n; j++) y[j] = op == OP_ADD ? av[j] + s : op == OP_SUB ? av[j] - s : av[j] * s;
  } else {
    int64_t outer = info[1], ch = info[2], inner = info[3];
    for (int64_t o = 0; o < outer; o++)
      for (int64_t c = 0; c < ch; c++) {
        int64_t base = (o * ch + c) * inner;
        float s = bv[c];
        for (int64_t i = 0; i < inner; i++) {
          float x = av[base + i];
          y[base + i] = op == OP_ADD ? x + s : op == OP_SUB ? x - s : x * s;
        }
      }
  }
  return v;
}

nd_var *nd_ad_add(nd_tape *tp, nd_var *a, nd_var *b) { return binary(tp, "add", OP_ADD, a, b); }
nd_var *nd_ad_sub(nd_tape *tp, nd_var *a, nd_var *b) { return binary(tp, "sub", OP_SUB, a, b); }
nd_var *nd_ad_mul(nd_tape *tp, nd_var *a, nd_var *b) { return binary(tp, "mul", OP_MUL, a, b); }

/* ----------------------------------------------------------------- scale */
static nd_status scale_backward(nd_tape *tp, nd_var *v) {
  float *g, beta;
  ND_TRY(nd__grad(tp, v->in[0], &g, &beta));
  if (g) nd__gadd(g, beta, v->f[0], v->grad.data, nd_tensor_numel(&v->value));
  return ND_OK;
}

nd_var *nd_ad_scale(nd_tape *tp, nd_var *x, float alpha) {
  if (!nd__inputs_ok(tp, "scale", 1, &x)) return NULL;
  nd_var *v = nd__new_node(tp, "scale", x->value.ndim, x->value.shape, 1, &x, scale_backward);
  if (!v) return NULL;
  v->f[0] = alpha;
  int64_t n = nd_tensor_numel(&x->value);
  for (int64_t j = 0; j < n; j++) v->value.data[j] = alpha * x->value.data[j];
  return v;
}

/* --------------------------------------------------------------- reshape */
static nd_status reshape_backward(nd_tape *tp, nd_var *v) {
  float *g, beta;
  ND_TRY(nd__grad(tp, v->in[0], &g, &beta));
  if (g) nd__gadd(g, beta, 1.0f, v->grad.data, nd_tensor_numel(&v->value));
  return ND_OK;
}

nd_var *nd_ad_reshape(nd_tape *tp, nd_var *x, int ndim, const int64_t *shape) {
  if (!nd__inputs_ok(tp, "reshape", 1, &x)) return NULL;
  nd_tensor view;
  if (nd_tensor_reshape(&x->value, ndim, shape, &view) != ND_OK) return nd__fail(tp, ND_ERR_SHAPE);
  return nd__new_node_data(tp, "reshape", view.ndim, view.shape, 1, &x, reshape_backward, x->value.data);
}
