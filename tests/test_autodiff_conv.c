/* Autodiff convolution and pooling ops: conv2d (strides, padding, 1x1, 3x3,
 * 7x7, rectangular kernels, with and without bias), conv_transpose2d,
 * avgpool2d (both padding modes) and adaptive_avgpool2d.  Forward values
 * against naive loops in double; gradients by nd_gradcheck (central
 * differences) on three paths: inputs that are parameters (gradients
 * accumulated into caller buffers), inputs that are intermediate nodes (fresh
 * gradient buffers, beta = 0), and an op applied twice to the same inputs (the
 * second VJP must add to the first). */
#include "ad_test.h"

enum { PATH_DIRECT = 0, PATH_FRESH = 1, PATH_TWICE = 2 };
static const char *path_name[3] = {"params", "intermediate", "twice"};

/* Applies scale(., 1) to every non-NULL input so its gradient buffer is fresh. */
static nd_var *fresh(nd_tape *tp, nd_var *v, int path) { return v && path == PATH_FRESH ? nd_ad_scale(tp, v, 1.0f) : v; }

/* ---------------------------------------------------------------- conv2d */
typedef struct conv_case {
  const char *name;
  int64_t N, C, H, W, K, R, S, sh, sw, ph, pw;
  bool bias;
  int path;
} conv_case;

static nd_var *conv_of(nd_tape *tp, const conv_case *c, nd_var *x, nd_var *w, nd_var *b) {
  return nd_ad_conv2d(tp, x, w, b, c->sh, c->sw, c->ph, c->pw);
}

static nd_status f_conv(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const conv_case *c = user;
  nd_var *x = fresh(tp, l[0], c->path), *w = fresh(tp, l[1], c->path), *b = fresh(tp, c->bias ? l[2] : NULL, c->path);
  nd_var *y = conv_of(tp, c, x, w, b);
  if (c->path == PATH_TWICE) y = nd_ad_add(tp, y, nd_ad_scale(tp, conv_of(tp, c, x, w, b), 0.5f));
  *out = y;
  return nd_tape_status(tp);
}

/* y[n,k,p,q] = b[k] + sum_{c,r,s} x[n,c,p*sh-ph+r,q*sw-pw+s] w[k,c,r,s] (zero outside). */
static void ref_conv(const conv_case *c, const float *x, const float *w, const float *b, int64_t P, int64_t Q,
                     double *y) {
  for (int64_t n = 0; n < c->N; n++)
    for (int64_t k = 0; k < c->K; k++)
      for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < Q; q++) {
          double s = b ? b[k] : 0.0;
          for (int64_t ch = 0; ch < c->C; ch++)
            for (int64_t r = 0; r < c->R; r++)
              for (int64_t t = 0; t < c->S; t++) {
                int64_t h = p * c->sh - c->ph + r, ww = q * c->sw - c->pw + t;
                if (h < 0 || h >= c->H || ww < 0 || ww >= c->W) continue;
                s += (double)x[((n * c->C + ch) * c->H + h) * c->W + ww] * w[((k * c->C + ch) * c->R + r) * c->S + t];
              }
          y[((n * c->K + k) * P + p) * Q + q] = s;
        }
}

static void test_conv2d(void **state) {
  (void)state;
  static const conv_case cases[] = {
      {"3x3 stride 1 pad 1 bias", 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, true, 0},
      {"3x3 stride 1 pad 0 no bias", 2, 2, 5, 6, 3, 3, 3, 1, 1, 0, 0, false, 0},
      {"3x3 stride 2 pad 1 (uneven)", 2, 3, 7, 6, 2, 3, 3, 2, 2, 1, 1, true, 0},
      {"1x1 stride 1", 2, 4, 3, 4, 3, 1, 1, 1, 1, 0, 0, true, 0},
      {"1x1 stride 2 no bias", 1, 3, 5, 5, 2, 1, 1, 2, 2, 0, 0, false, 0},
      {"7x7 stride 2 pad 3", 1, 2, 9, 8, 2, 7, 7, 2, 2, 3, 3, true, 0},
      {"1x3 stride 1x2 pad 0x1", 2, 2, 4, 7, 3, 1, 3, 1, 2, 0, 1, true, 0},
      {"5x2 stride 3x1 pad 2x0", 1, 2, 8, 5, 2, 5, 2, 3, 1, 2, 0, false, 0},
      /* 16+ channels and 3x3 stride 1: the CPU backend's Winograd path */
      {"3x3 stride 1 pad 1, 16 -> 17 channels", 1, 16, 4, 5, 17, 3, 3, 1, 1, 1, 1, true, 0},
      {"3x3 stride 1 pad 0, 16 -> 16 channels", 1, 16, 6, 6, 16, 3, 3, 1, 1, 0, 0, false, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    conv_case c = cases[k];
    nd_tensor *x = ad_tensor(4, ND_SHAPE(c.N, c.C, c.H, c.W), 100 + k);
    nd_tensor *w = ad_tensor(4, ND_SHAPE(c.K, c.C, c.R, c.S), 200 + k);
    nd_tensor *b = ad_tensor(1, ND_SHAPE(c.K), 300 + k);
    int64_t P = (c.H + 2 * c.ph - c.R) / c.sh + 1, Q = (c.W + 2 * c.pw - c.S) / c.sw + 1;
    /* forward */
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = nd_ad_conv2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, w), c.bias ? nd_tape_constant(tp, b) : NULL,
                             c.sh, c.sw, c.ph, c.pw);
    nd_assert_ok(nd_tape_status(tp));
    const nd_tensor *yv = nd_var_value(y);
    assert_int_equal(yv->ndim, 4);
    assert_int_equal(yv->shape[0], c.N);
    assert_int_equal(yv->shape[1], c.K);
    assert_int_equal(yv->shape[2], P);
    assert_int_equal(yv->shape[3], Q);
    int64_t ny = c.N * c.K * P * Q;
    double *ref = malloc((size_t)ny * sizeof *ref);
    float *reff = malloc((size_t)ny * sizeof *reff);
    ref_conv(&c, x->data, w->data, c.bias ? b->data : NULL, P, Q, ref);
    for (int64_t j = 0; j < ny; j++) reff[j] = (float)ref[j];
    /* The Winograd F(4x4,3x3) path (16+ channels) rounds differently from a
     * direct sum: allow 2e-4 there, 1e-5 elsewhere. */
    double tol = c.C >= 16 ? 2e-4 : 1e-5;
    nd_assert_arrays_close(yv->data, reff, ny, tol, tol, c.name);
    free(ref);
    free(reff);
    nd_tape_free(tp);
    /* gradients on the three paths; conv is linear in each input, so a large
     * step has no truncation error and divides the rounding error of the
     * float32 output by more */
    int64_t sample = c.C >= 16 ? 12 : 32; /* elements per leaf (the big cases are slow under ASan) */
    for (int path = 0; path < 3; path++) {
      c.path = path;
      char what[128];
      snprintf(what, sizeof what, "conv2d %s, %s", c.name, path_name[path]);
      if (c.bias)
        AD_GRADCHECK_STEP(what, f_conv, &c, 0.1, sample, x, w, b);
      else
        AD_GRADCHECK_STEP(what, f_conv, &c, 0.1, sample, x, w);
    }
    nd_tensor_free(x);
    nd_tensor_free(w);
    nd_tensor_free(b);
  }
}

/* Gradient wrt x only (w a constant) and wrt w only (x a constant). */
typedef struct conv_one {
  conv_case c;
  nd_tensor *other;
  bool grad_x;
} conv_one;

static nd_status f_conv_one(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const conv_one *o = user;
  nd_var *k = nd_tape_constant(tp, o->other);
  *out = o->grad_x ? conv_of(tp, &o->c, l[0], k, NULL) : conv_of(tp, &o->c, k, l[0], NULL);
  return nd_tape_status(tp);
}

static void test_conv2d_partial(void **state) {
  (void)state;
  conv_case c = {"3x3 stride 2", 2, 3, 6, 6, 4, 3, 3, 2, 2, 1, 1, false, 0};
  nd_tensor *x = ad_tensor(4, ND_SHAPE(c.N, c.C, c.H, c.W), 1), *w = ad_tensor(4, ND_SHAPE(c.K, c.C, c.R, c.S), 2);
  conv_one ox = {c, w, true}, ow = {c, x, false};
  AD_GRADCHECK_STEP("conv2d dx only", f_conv_one, &ox, 1e-2, 0, x);
  AD_GRADCHECK_STEP("conv2d dw only", f_conv_one, &ow, 1e-2, 0, w);
  nd_tensor_free(x);
  nd_tensor_free(w);
}

static void test_conv2d_errors(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(4, ND_SHAPE(1, 3, 5, 5), 1), *w = ad_tensor(4, ND_SHAPE(2, 4, 3, 3), 2);
  nd_tensor *b = ad_tensor(1, ND_SHAPE(3), 3), *x3 = ad_tensor(3, ND_SHAPE(3, 5, 5), 4);
  nd_tape *tp = nd_test_tape(0);
  /* channel mismatch names both shapes */
  assert_null(nd_ad_conv2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, w), NULL, 1, 1, 0, 0));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "1x3x5x5"));
  assert_non_null(strstr(nd_last_error(), "2x4x3x3"));
  /* not 4-D */
  nd_tape_reset(tp);
  assert_null(nd_ad_conv2d(tp, nd_tape_constant(tp, x3), nd_tape_constant(tp, w), NULL, 1, 1, 0, 0));
  assert_non_null(strstr(nd_last_error(), "3x5x5"));
  /* bias of the wrong size */
  nd_tensor *w2 = ad_tensor(4, ND_SHAPE(2, 3, 3, 3), 5);
  nd_tape_reset(tp);
  assert_null(nd_ad_conv2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, w2), nd_tape_constant(tp, b), 1, 1, 0, 0));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "bias"));
  /* kernel larger than the padded input, zero stride */
  nd_tensor *wbig = ad_tensor(4, ND_SHAPE(2, 3, 7, 7), 6);
  nd_tape_reset(tp);
  assert_null(nd_ad_conv2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, wbig), NULL, 1, 1, 0, 0));
  assert_int_not_equal(nd_tape_status(tp), ND_OK);
  nd_tape_reset(tp);
  assert_null(nd_ad_conv2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, w2), NULL, 0, 1, 0, 0));
  assert_int_not_equal(nd_tape_status(tp), ND_OK);
  /* conv_transpose2d: out_pad must be below the stride */
  nd_tensor *xt = ad_tensor(4, ND_SHAPE(1, 2, 3, 3), 7);
  nd_tape_reset(tp);
  assert_null(nd_ad_conv_transpose2d(tp, nd_tape_constant(tp, xt), nd_tape_constant(tp, w2), NULL, 2, 2, 0, 0, 2, 0));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  /* ... and its input channels must match w's first dimension */
  nd_tape_reset(tp);
  assert_null(nd_ad_conv_transpose2d(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, w2), NULL, 1, 1, 0, 0, 0, 0));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "1x3x5x5"));
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(w);
  nd_tensor_free(w2);
  nd_tensor_free(wbig);
  nd_tensor_free(b);
  nd_tensor_free(x3);
  nd_tensor_free(xt);
}

/* ------------------------------------------------------ conv_transpose2d */
typedef struct convt_case {
  const char *name;
  int64_t N, K, P, Q, C, R, S, sh, sw, ph, pw, oph, opw;
  bool bias;
  int path;
} convt_case;

static nd_var *convt_of(nd_tape *tp, const convt_case *c, nd_var *x, nd_var *w, nd_var *b) {
  return nd_ad_conv_transpose2d(tp, x, w, b, c->sh, c->sw, c->ph, c->pw, c->oph, c->opw);
}

static nd_status f_convt(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const convt_case *c = user;
  nd_var *x = fresh(tp, l[0], c->path), *w = fresh(tp, l[1], c->path), *b = fresh(tp, c->bias ? l[2] : NULL, c->path);
  nd_var *y = convt_of(tp, c, x, w, b);
  if (c->path == PATH_TWICE) y = nd_ad_add(tp, y, nd_ad_scale(tp, convt_of(tp, c, x, w, b), -1.5f));
  *out = y;
  return nd_tape_status(tp);
}

static void test_conv_transpose2d(void **state) {
  (void)state;
  static const convt_case cases[] = {
      {"3x3 stride 2 pad 1 out_pad 1 bias", 2, 3, 3, 4, 2, 3, 3, 2, 2, 1, 1, 1, 1, true, 0},
      {"3x3 stride 1 pad 0", 1, 2, 4, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, false, 0},
      {"2x2 stride 2", 2, 2, 3, 3, 2, 2, 2, 2, 2, 0, 0, 0, 0, true, 0},
      {"4x3 stride 3x2 pad 1x0 out_pad 2x1", 1, 2, 3, 3, 3, 4, 3, 3, 2, 1, 0, 2, 1, true, 0},
      {"3x3 stride 1 pad 1, 16 -> 16 channels (Winograd)", 1, 16, 4, 4, 16, 3, 3, 1, 1, 1, 1, 0, 0, true, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    convt_case c = cases[k];
    int64_t H = (c.P - 1) * c.sh - 2 * c.ph + c.R + c.oph, W = (c.Q - 1) * c.sw - 2 * c.pw + c.S + c.opw;
    nd_tensor *x = ad_tensor(4, ND_SHAPE(c.N, c.K, c.P, c.Q), 400 + k);
    nd_tensor *w = ad_tensor(4, ND_SHAPE(c.K, c.C, c.R, c.S), 500 + k);
    nd_tensor *b = ad_tensor(1, ND_SHAPE(c.C), 600 + k);
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = convt_of(tp, &c, nd_tape_constant(tp, x), nd_tape_constant(tp, w), c.bias ? nd_tape_constant(tp, b) : NULL);
    nd_assert_ok(nd_tape_status(tp));
    const nd_tensor *yv = nd_var_value(y);
    assert_int_equal(yv->shape[1], c.C);
    assert_int_equal(yv->shape[2], H);
    assert_int_equal(yv->shape[3], W);
    /* reference: scatter y[n,c,p*sh-ph+r,q*sw-pw+s] += x[n,k,p,q] w[k,c,r,s] */
    int64_t ny = c.N * c.C * H * W;
    double *ref = calloc((size_t)ny, sizeof *ref);
    float *reff = malloc((size_t)ny * sizeof *reff);
    for (int64_t n = 0; n < c.N; n++)
      for (int64_t kk = 0; kk < c.K; kk++)
        for (int64_t p = 0; p < c.P; p++)
          for (int64_t q = 0; q < c.Q; q++)
            for (int64_t ch = 0; ch < c.C; ch++)
              for (int64_t r = 0; r < c.R; r++)
                for (int64_t s = 0; s < c.S; s++) {
                  int64_t h = p * c.sh - c.ph + r, ww = q * c.sw - c.pw + s;
                  if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                  ref[((n * c.C + ch) * H + h) * W + ww] +=
                      (double)x->data[((n * c.K + kk) * c.P + p) * c.Q + q] * w->data[((kk * c.C + ch) * c.R + r) * c.S + s];
                }
    for (int64_t j = 0; j < ny; j++) {
      int64_t ch = (j / (H * W)) % c.C;
      reff[j] = (float)(ref[j] + (c.bias ? b->data[ch] : 0.0));
    }
    double tol = c.K >= 16 ? 2e-4 : 1e-5; /* Winograd path, as above */
    nd_assert_arrays_close(yv->data, reff, ny, tol, tol, c.name);
    free(ref);
    free(reff);
    nd_tape_free(tp);
    int64_t sample = c.K >= 16 ? 12 : 32;
    for (int path = 0; path < 3; path++) {
      c.path = path;
      char what[128];
      snprintf(what, sizeof what, "conv_transpose2d %s, %s", c.name, path_name[path]);
      if (c.bias)
        AD_GRADCHECK_STEP(what, f_convt, &c, 0.1, sample, x, w, b);
      else
        AD_GRADCHECK_STEP(what, f_convt, &c, 0.1, sample, x, w);
    }
    nd_tensor_free(x);
    nd_tensor_free(w);
    nd_tensor_free(b);
  }
}

/* conv_transpose2d is the adjoint of conv2d: <conv(x, w), y> = <x, conv^T(y, w)>. */
static void test_conv_adjoint(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(4, ND_SHAPE(2, 3, 7, 6), 1), *w = ad_tensor(4, ND_SHAPE(4, 3, 3, 3), 2);
  nd_tensor *yy = ad_tensor(4, ND_SHAPE(2, 4, 4, 3), 3);
  nd_tape *tp = nd_test_tape(0);
  nd_var *wv = nd_tape_constant(tp, w);
  nd_var *cx = nd_ad_conv2d(tp, nd_tape_constant(tp, x), wv, NULL, 2, 2, 1, 1);
  /* H = (4-1)*2 - 2 + 3 + 0 = 7, W = (3-1)*2 - 2 + 3 + 1 = 6 */
  nd_var *ty = nd_ad_conv_transpose2d(tp, nd_tape_constant(tp, yy), wv, NULL, 2, 2, 1, 1, 0, 1);
  nd_assert_ok(nd_tape_status(tp));
  assert_int_equal(nd_tensor_numel(nd_var_value(cx)), nd_tensor_numel(yy));
  double lhs = 0, rhs = 0;
  for (int64_t j = 0; j < nd_tensor_numel(yy); j++) lhs += (double)nd_var_value(cx)->data[j] * yy->data[j];
  for (int64_t j = 0; j < nd_tensor_numel(x); j++) rhs += (double)x->data[j] * nd_var_value(ty)->data[j];
  nd_assert_close(lhs, rhs, 1e-4, 1e-5);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(w);
  nd_tensor_free(yy);
}

/* ---------------------------------------------------------------- pooling */
typedef struct pool_case {
  const char *name;
  int64_t N, C, H, W, kh, kw, sh, sw, ph, pw;
  bool include_pad;
  int path;
} pool_case;

static nd_var *pool_of(nd_tape *tp, const pool_case *c, nd_var *x) {
  return nd_ad_avgpool2d(tp, x, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->include_pad);
}

static nd_status f_pool(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const pool_case *c = user;
  nd_var *x = fresh(tp, l[0], c->path);
  nd_var *y = pool_of(tp, c, x);
  if (c->path == PATH_TWICE) y = nd_ad_add(tp, y, nd_ad_scale(tp, pool_of(tp, c, x), 2.0f));
  *out = y;
  return nd_tape_status(tp);
}

static void test_avgpool2d(void **state) {
  (void)state;
  static const pool_case cases[] = {
      {"2x2 stride 2", 2, 3, 6, 4, 2, 2, 2, 2, 0, 0, true, 0},
      {"3x3 stride 2 pad 1 include pad", 2, 2, 7, 6, 3, 3, 2, 2, 1, 1, true, 0},
      {"3x3 stride 2 pad 1 exclude pad", 2, 2, 7, 6, 3, 3, 2, 2, 1, 1, false, 0},
      {"3x2 stride 1 pad 1x0 exclude pad", 1, 3, 5, 5, 3, 2, 1, 1, 1, 0, false, 0},
      {"5x5 stride 3 pad 2 include pad", 1, 2, 8, 9, 5, 5, 3, 3, 2, 2, true, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    pool_case c = cases[k];
    nd_tensor *x = ad_tensor(4, ND_SHAPE(c.N, c.C, c.H, c.W), 700 + k);
    int64_t P = (c.H + 2 * c.ph - c.kh) / c.sh + 1, Q = (c.W + 2 * c.pw - c.kw) / c.sw + 1;
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = pool_of(tp, &c, nd_tape_constant(tp, x));
    nd_assert_ok(nd_tape_status(tp));
    const nd_tensor *yv = nd_var_value(y);
    assert_int_equal(yv->shape[2], P);
    assert_int_equal(yv->shape[3], Q);
    /* PyTorch's AvgPool2d (ceil_mode=False): the divisor is kh*kw with
     * count_include_pad, else the number of window cells inside the input */
    for (int64_t nc = 0; nc < c.N * c.C; nc++)
      for (int64_t p = 0; p < P; p++)
        for (int64_t q = 0; q < Q; q++) {
          double s = 0;
          int64_t cnt = 0;
          for (int64_t r = 0; r < c.kh; r++)
            for (int64_t t = 0; t < c.kw; t++) {
              int64_t h = p * c.sh - c.ph + r, w = q * c.sw - c.pw + t;
              if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
              s += x->data[(nc * c.H + h) * c.W + w];
              cnt++;
            }
          double want = s / (double)(c.include_pad ? c.kh * c.kw : cnt);
          nd_assert_close(yv->data[(nc * P + p) * Q + q], want, 1e-6, 1e-5);
        }
    nd_tape_free(tp);
    for (int path = 0; path < 3; path++) {
      c.path = path;
      char what[128];
      snprintf(what, sizeof what, "avgpool2d %s, %s", c.name, path_name[path]);
      AD_GRADCHECK_STEP(what, f_pool, &c, 1e-2, 0, x);
    }
    nd_tensor_free(x);
  }
}

typedef struct adaptive_case {
  int64_t N, C, H, W, oh, ow;
  int path;
} adaptive_case;

static nd_status f_adaptive(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  const adaptive_case *c = user;
  nd_var *x = fresh(tp, l[0], c->path);
  nd_var *y = nd_ad_adaptive_avgpool2d(tp, x, c->oh, c->ow);
  if (c->path == PATH_TWICE) y = nd_ad_sub(tp, y, nd_ad_adaptive_avgpool2d(tp, x, c->oh, c->ow));
  if (c->path == PATH_TWICE) y = nd_ad_add(tp, y, nd_ad_scale(tp, nd_ad_adaptive_avgpool2d(tp, x, c->oh, c->ow), 3.0f));
  *out = y;
  return nd_tape_status(tp);
}

static void test_adaptive_avgpool2d(void **state) {
  (void)state;
  static const adaptive_case cases[] = {
      {2, 3, 7, 5, 3, 2, 0}, /* overlapping bins (7 -> 3) */
      {1, 2, 6, 6, 3, 3, 0}, /* exact division */
      {2, 2, 5, 4, 1, 1, 0}, /* global average */
      {1, 2, 3, 2, 5, 4, 0}, /* upsampling: output larger than input */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    adaptive_case c = cases[k];
    nd_tensor *x = ad_tensor(4, ND_SHAPE(c.N, c.C, c.H, c.W), 800 + k);
    nd_tape *tp = nd_test_tape(0);
    nd_var *y = nd_ad_adaptive_avgpool2d(tp, nd_tape_constant(tp, x), c.oh, c.ow);
    nd_assert_ok(nd_tape_status(tp));
    const nd_tensor *yv = nd_var_value(y);
    assert_int_equal(yv->shape[2], c.oh);
    assert_int_equal(yv->shape[3], c.ow);
    /* PyTorch's bins: [floor(i*H/oh), ceil((i+1)*H/oh)) */
    for (int64_t nc = 0; nc < c.N * c.C; nc++)
      for (int64_t i = 0; i < c.oh; i++)
        for (int64_t j = 0; j < c.ow; j++) {
          int64_t h0 = i * c.H / c.oh, h1 = ((i + 1) * c.H + c.oh - 1) / c.oh;
          int64_t w0 = j * c.W / c.ow, w1 = ((j + 1) * c.W + c.ow - 1) / c.ow;
          double s = 0;
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) s += x->data[(nc * c.H + h) * c.W + w];
          nd_assert_close(yv->data[(nc * c.oh + i) * c.ow + j], s / (double)((h1 - h0) * (w1 - w0)), 1e-6, 1e-5);
        }
    assert_null(nd_ad_adaptive_avgpool2d(tp, nd_tape_constant(tp, x), 0, 2));
    assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
    nd_tape_free(tp);
    for (int path = 0; path < 3; path++) {
      c.path = path;
      char what[64];
      snprintf(what, sizeof what, "adaptive_avgpool2d case %zu, %s", k, path_name[path]);
      AD_GRADCHECK_STEP(what, f_adaptive, &c, 1e-2, 0, x);
    }
    nd_tensor_free(x);
  }
}

/* A small CNN end to end: conv -> prelu -> avgpool -> conv_transpose -> adaptive pool -> linear. */
static nd_status f_cnn(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  nd_var *h = nd_ad_conv2d(tp, l[0], l[1], l[2], 1, 1, 1, 1);
  h = nd_ad_prelu(tp, h, l[3]);
  h = nd_ad_avgpool2d(tp, h, 2, 2, 2, 2, 0, 0, true);
  h = nd_ad_conv_transpose2d(tp, h, l[4], NULL, 2, 2, 0, 0, 0, 0);
  h = nd_ad_tanh(tp, h);
  h = nd_ad_adaptive_avgpool2d(tp, h, 2, 2);
  h = nd_ad_reshape(tp, h, 2, ND_SHAPE(2, -1));
  *out = nd_ad_linear(tp, h, l[5], NULL);
  return nd_tape_status(tp);
}

static void test_small_cnn(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(4, ND_SHAPE(2, 2, 6, 6), 1), *w1 = ad_tensor(4, ND_SHAPE(3, 2, 3, 3), 2);
  nd_tensor *b1 = ad_tensor(1, ND_SHAPE(3), 3), *a = nd_test_tensor(1, ND_SHAPE(3));
  nd_tensor *w2 = ad_tensor(4, ND_SHAPE(3, 2, 2, 2), 5), *w3 = ad_tensor(2, ND_SHAPE(4, 8), 6);
  nd_tensor_fill(a, 0.25f);
  AD_GRADCHECK_STEP("small CNN", f_cnn, NULL, 1e-3, 40, x, w1, b1, a, w2, w3);
  nd_tensor_free(x);
  nd_tensor_free(w1);
  nd_tensor_free(b1);
  nd_tensor_free(a);
  nd_tensor_free(w2);
  nd_tensor_free(w3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv2d),
      cmocka_unit_test(test_conv2d_partial),
      cmocka_unit_test(test_conv2d_errors),
      cmocka_unit_test(test_conv_transpose2d),
      cmocka_unit_test(test_conv_adjoint),
      cmocka_unit_test(test_avgpool2d),
      cmocka_unit_test(test_adaptive_avgpool2d),
      cmocka_unit_test(test_small_cnn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
