/* The tape itself: custom VJPs (feedback alignment), no-record mode, reset and
 * reuse without growth, gradient accumulation, seeds, tape-owned variables,
 * and errors that poison the tape instead of crashing. */
#include "ad_test.h"

/* ------------------------------------------------------- custom VJP: FA */
/* Feedback alignment (Lillicrap et al. 2016): y = x W^T forward, but the
 * backward pass sends dx = dy B through a fixed random matrix B [out, in]
 * instead of dy W; dW = dy^T x is the true gradient.  With use_b = false the
 * same op uses W (true backprop), which gradcheck must accept. */
typedef struct fa_op {
  const nd_tensor *B; /* [out, in] */
  bool use_b;
  int forward_calls, backward_calls;
} fa_op;

static nd_status fa_forward(const nd_custom_args *a) {
  fa_op *op = a->user;
  const nd_tensor *x = a->inputs[0], *w = a->inputs[1];
  int64_t rows = x->shape[0], nin = x->shape[1], nout = w->shape[0];
  nd_sgemm(false, true, rows, nout, nin, 1.0f, x->data, nin, w->data, nin, 0.0f, a->output->data, nout);
  op->forward_calls++;
  return ND_OK;
}

static nd_status fa_backward(const nd_custom_args *a) {
  fa_op *op = a->user;
  const nd_tensor *x = a->inputs[0], *w = a->inputs[1];
  int64_t rows = x->shape[0], nin = x->shape[1], nout = w->shape[0];
  const float *fb = op->use_b ? op->B->data : w->data;
  if (a->dinputs[0]) /* dx = dy B (or dy W) */
    nd_sgemm(false, false, rows, nin, nout, 1.0f, a->doutput->data, nout, fb, nin, a->beta[0], a->dinputs[0]->data, nin);
  if (a->dinputs[1]) /* dW = dy^T x */
    nd_sgemm(true, false, nout, nin, rows, 1.0f, a->doutput->data, nout, x->data, nin, a->beta[1], a->dinputs[1]->data,
             nin);
  op->backward_calls++;
  return ND_OK;
}

static nd_var *fa_linear(nd_tape *tp, fa_op *op, nd_var *x, nd_var *w) {
  nd_var *in[2] = {x, w};
  const nd_tensor *xv = nd_var_value(x), *wv = nd_var_value(w);
  return nd_ad_custom(tp, 2, in, 2, ND_SHAPE(xv ? xv->shape[0] : 0, wv ? wv->shape[0] : 0), fa_forward, fa_backward, op);
}

static void test_custom_feedback_alignment(void **state) {
  (void)state;
  const int64_t rows = 3, nin = 4, nout = 2;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(rows, nin), 1), *W = ad_tensor(2, ND_SHAPE(nout, nin), 2);
  nd_tensor *B = ad_tensor(2, ND_SHAPE(nout, nin), 3), *r = ad_tensor(2, ND_SHAPE(rows, nout), 4);
  nd_tensor *gW = nd_test_tensor(2, ND_SHAPE(nout, nin));
  fa_op op = {B, true, 0, 0};
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_variable(tp, x); /* tape-owned gradient */
  nd_var *wv = nd_tape_param(tp, W, gW);
  nd_var *y = fa_linear(tp, &op, xv, wv);
  nd_assert_ok(nd_tape_status(tp));
  assert_int_equal(op.forward_calls, 1);
  /* forward is the ordinary product */
  for (int64_t i = 0; i < rows; i++)
    for (int64_t o = 0; o < nout; o++) {
      double s = 0;
      for (int64_t k = 0; k < nin; k++) s += (double)x->data[i * nin + k] * W->data[o * nin + k];
      nd_assert_close(nd_var_value(y)->data[i * nout + o], s, 1e-6, 1e-6);
    }
  /* L = sum r .* y, so dL/dy = r; dx must be r B (not r W), dW = r^T x */
  nd_assert_ok(nd_tape_backward_seed(tp, y, r));
  assert_int_equal(op.backward_calls, 1);
  const nd_tensor *gx = nd_var_grad(xv);
  assert_non_null(gx);
  double max_diff_w = 0;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t k = 0; k < nin; k++) {
      double want = 0, true_bp = 0;
      for (int64_t o = 0; o < nout; o++) {
        want += (double)r->data[i * nout + o] * B->data[o * nin + k];
        true_bp += (double)r->data[i * nout + o] * W->data[o * nin + k];
      }
      nd_assert_close(gx->data[i * nin + k], want, 1e-6, 1e-6);
      max_diff_w = fmax(max_diff_w, fabs(gx->data[i * nin + k] - true_bp));
    }
  assert_true(max_diff_w > 1e-2); /* B differs from W, so FA differs from backprop */
  for (int64_t o = 0; o < nout; o++)
    for (int64_t k = 0; k < nin; k++) {
      double want = 0;
      for (int64_t i = 0; i < rows; i++) want += (double)r->data[i * nout + o] * x->data[i * nin + k];
      nd_assert_close(gW->data[o * nin + k], want, 1e-6, 1e-6);
    }

  /* The FA signal flows on through earlier ops: z = tanh(x), y = FA(z, W).
   * dx = (r B) .* (1 - z^2); x is also used directly (beta = 1 path). */
  nd_tape_reset(tp);
  nd_tensor_fill(gW, 0.0f);
  xv = nd_tape_variable(tp, x);
  nd_var *z = nd_ad_tanh(tp, xv);
  y = nd_ad_add(tp, nd_ad_sum(tp, fa_linear(tp, &op, z, nd_tape_param(tp, W, gW))), nd_ad_sum(tp, z));
  nd_assert_ok(nd_tape_backward(tp, y));
  gx = nd_var_grad(xv);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t k = 0; k < nin; k++) {
      double fb = 1.0; /* from sum(z) */
      for (int64_t o = 0; o < nout; o++) fb += B->data[o * nin + k];
      double t = tanh(x->data[i * nin + k]);
      nd_assert_close(gx->data[i * nin + k], fb * (1 - t * t), 1e-5, 1e-5);
    }
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(B);
  nd_tensor_free(r);
  nd_tensor_free(gW);
}

static nd_status f_custom_true(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  nd_var *h = fa_linear(tp, user, l[0], l[1]);
  *out = nd_ad_add(tp, fa_linear(tp, user, nd_ad_tanh(tp, h), l[2]), nd_ad_scale(tp, nd_ad_tanh(tp, h), 0.5f));
  return nd_tape_status(tp);
}

/* A custom op with the true transpose in its VJP passes gradcheck; with B
 * it does not (the check can fail). */
static void test_custom_gradcheck(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(3, 4), 1), *W1 = ad_tensor(2, ND_SHAPE(4, 4), 2);
  nd_tensor *W2 = ad_tensor(2, ND_SHAPE(4, 4), 3), *B = ad_tensor(2, ND_SHAPE(4, 4), 4);
  fa_op op = {B, false, 0, 0};
  AD_GRADCHECK("custom linear with W^T", f_custom_true, &op, x, W1, W2);
  op.use_b = true;
  nd_tensor *vals[3] = {x, W1, W2};
  nd_gradcheck_result res;
  nd_assert_ok(nd_gradcheck(f_custom_true, &op, 3, vals, NULL, &res));
  assert_false(res.passed);
  assert_int_equal(res.worst_leaf, 0); /* only the input's gradient is wrong */
  nd_tensor_free(x);
  nd_tensor_free(W1);
  nd_tensor_free(W2);
  nd_tensor_free(B);
}

/* A custom op without backward passes no gradient; a failing forward poisons
 * the tape with its status and message. */
static nd_status fail_forward(const nd_custom_args *a) {
  (void)a;
  return ND_ERR_NUMERIC; /* no message: the tape supplies one */
}
static nd_status copy_forward(const nd_custom_args *a) {
  memcpy(a->output->data, a->inputs[0]->data, (size_t)nd_tensor_numel(a->output) * sizeof(float));
  return ND_OK;
}

/* y = a .* b; the VJP writes input 1 before input 0 and honours beta, so an
 * input passed twice is only right if both slots accumulate. */
static nd_status mul_forward(const nd_custom_args *a) {
  nd_mul(a->inputs[0]->data, a->inputs[1]->data, a->output->data, nd_tensor_numel(a->output));
  return ND_OK;
}
static nd_status mul_backward(const nd_custom_args *a) {
  int64_t n = nd_tensor_numel(a->output);
  for (int k = 1; k >= 0; k--) {
    if (!a->dinputs[k]) continue;
    float *g = a->dinputs[k]->data;
    const float *other = a->inputs[1 - k]->data, *dy = a->doutput->data;
    for (int64_t j = 0; j < n; j++) g[j] = dy[j] * other[j] + (a->beta[k] != 0.0f ? g[j] : 0.0f);
  }
  return ND_OK;
}
static nd_status f_custom_square(nd_tape *tp, nd_var *const *l, void *user, nd_var **out) {
  (void)user;
  nd_var *h = nd_ad_scale(tp, l[0], 1.0f); /* intermediate: fresh gradient buffer */
  nd_var *in[2] = {h, h};
  *out = nd_ad_custom(tp, 2, in, 1, ND_SHAPE(5), mul_forward, mul_backward, NULL);
  return nd_tape_status(tp);
}

static void test_custom_aliased_inputs(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(1, ND_SHAPE(5), 1);
  AD_GRADCHECK("custom op with one input passed twice", f_custom_square, NULL, x);
  nd_tensor_free(x);
}

static void test_custom_edge_cases(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(1, ND_SHAPE(4), 1), *g = nd_test_tensor(1, ND_SHAPE(4));
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_param(tp, x, g);
  nd_var *stop = nd_ad_custom(tp, 1, &xv, 1, ND_SHAPE(4), copy_forward, NULL, NULL);
  nd_assert_ok(nd_tape_status(tp));
  assert_false(nd_var_requires_grad(stop));
  /* y = sum(stop(x) * x): dy/dx = stop(x) = x, with no term through stop */
  nd_var *y = nd_ad_sum(tp, nd_ad_mul(tp, stop, xv));
  nd_assert_ok(nd_tape_backward(tp, y));
  for (int j = 0; j < 4; j++) nd_assert_close(g->data[j], x->data[j], 1e-7, 0);
  /* a failing forward */
  assert_null(nd_ad_custom(tp, 1, &xv, 1, ND_SHAPE(4), fail_forward, NULL, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_NUMERIC);
  assert_non_null(strstr(nd_last_error(), "custom op"));
  /* too many inputs */
  nd_tape_reset(tp);
  nd_var *many[ND_CUSTOM_MAX_INPUTS + 1];
  for (int k = 0; k <= ND_CUSTOM_MAX_INPUTS; k++) many[k] = nd_tape_constant(tp, x);
  assert_null(nd_ad_custom(tp, ND_CUSTOM_MAX_INPUTS + 1, many, 1, ND_SHAPE(4), copy_forward, NULL, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(g);
}

/* ------------------------------------------------------------- no-record */
static nd_var *small_net(nd_tape *tp, nd_tensor *x, nd_tensor *W, nd_tensor *gW, nd_tensor *b, nd_tensor *gb,
                         const int32_t *labels) {
  nd_var *h = nd_ad_tanh(tp, nd_ad_linear(tp, nd_tape_constant(tp, x), nd_tape_param(tp, W, gW), nd_tape_param(tp, b, gb)));
  nd_var *z = nd_ad_relu_pow(tp, h, 2.0f);
  return nd_ad_add(tp, nd_ad_cross_entropy(tp, z, labels), nd_ad_mean(tp, nd_ad_square(tp, h)));
}

static void test_no_record(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(4, 3), 1), *W = ad_tensor(2, ND_SHAPE(5, 3), 2), *b = ad_tensor(1, ND_SHAPE(5), 3);
  nd_tensor *gW = nd_test_tensor(2, ND_SHAPE(5, 3)), *gb = nd_test_tensor(1, ND_SHAPE(5));
  const int32_t labels[4] = {0, 4, 2, 1};
  nd_tape *tp = nd_test_tape(0);
  assert_true(nd_tape_is_recording(tp));
  nd_var *l1 = small_net(tp, x, W, gW, b, gb, labels);
  nd_assert_ok(nd_tape_status(tp));
  assert_true(nd_tape_num_nodes(tp) > 0);
  float with_tape = nd_var_item(l1);

  nd_tape_reset(tp);
  nd_tape_set_recording(tp, false);
  assert_false(nd_tape_is_recording(tp));
  nd_var *l2 = small_net(tp, x, W, gW, b, gb, labels);
  nd_assert_ok(nd_tape_status(tp));
  assert_int_equal(nd_tape_num_nodes(tp), 0);
  assert_false(nd_var_requires_grad(l2));
  assert_true(nd_var_item(l2) == with_tape); /* bit-identical forward */
  /* backward has nothing to differentiate and leaves the gradients alone */
  assert_int_equal(nd_tape_backward(tp, l2), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "not recording"));
  for (int j = 0; j < 15; j++) assert_true(gW->data[j] == 0.0f);
  /* reset keeps the mode; switching back records again */
  nd_tape_reset(tp);
  assert_false(nd_tape_is_recording(tp));
  nd_tape_set_recording(tp, true);
  nd_var *l3 = small_net(tp, x, W, gW, b, gb, labels);
  nd_assert_ok(nd_tape_backward(tp, l3));
  assert_true(nd_var_item(l3) == with_tape);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(b);
  nd_tensor_free(gW);
  nd_tensor_free(gb);
}

/* ------------------------------------------------------- reset and reuse */
static void test_reset_reuse_no_growth(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(8, 6), 1), *W = ad_tensor(2, ND_SHAPE(5, 6), 2), *b = ad_tensor(1, ND_SHAPE(5), 3);
  nd_tensor *gW = nd_test_tensor(2, ND_SHAPE(5, 6)), *gb = nd_test_tensor(1, ND_SHAPE(5));
  const int32_t labels[8] = {0, 1, 2, 3, 4, 0, 1, 2};
  /* a small first block, so the arena has to chain more on the first pass */
  nd_tape *tp = nd_test_tape(4096);
  size_t held = 0, used = 0;
  int64_t nodes = 0;
  float first_loss = 0;
  for (int it = 0; it < 1000; it++) {
    nd_tape_reset(tp);
    assert_int_equal(nd_tape_num_nodes(tp), 0);
    assert_int_equal(nd_tape_bytes_used(tp), 0);
    nd_tensor_fill(gW, 0.0f);
    nd_tensor_fill(gb, 0.0f);
    nd_var *l = small_net(tp, x, W, gW, b, gb, labels);
    for (int k = 0; k < 6; k++) l = nd_ad_add(tp, l, nd_ad_sum(tp, nd_ad_square(tp, nd_ad_scale(tp, l, 0.1f))));
    nd_assert_ok(nd_tape_backward(tp, l));
    if (it == 0) {
      held = nd_tape_bytes_held(tp);
      used = nd_tape_bytes_used(tp);
      nodes = nd_tape_num_nodes(tp);
      first_loss = nd_var_item(l);
      assert_true(held > 4096); /* it did grow once */
      assert_true(used > 0 && used <= held);
    } else {
      /* the same graph: same bytes, same nodes, nothing new from the system */
      assert_int_equal(nd_tape_bytes_held(tp), held);
      assert_int_equal(nd_tape_bytes_used(tp), used);
      assert_int_equal(nd_tape_num_nodes(tp), nodes);
      assert_true(nd_var_item(l) == first_loss);
    }
  }
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(b);
  nd_tensor_free(gW);
  nd_tensor_free(gb);
}

/* --------------------------------------------- accumulation, seeds, grads */
static void test_accumulation_and_seeds(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(2, 3), 1), *g = nd_test_tensor(2, ND_SHAPE(2, 3));
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_param(tp, x, g);
  nd_var *sq = nd_ad_square(tp, xv);
  nd_var *y = nd_ad_sum(tp, sq);
  nd_assert_ok(nd_tape_backward(tp, y));
  nd_assert_ok(nd_tape_backward(tp, y)); /* params accumulate: 2 * 2x */
  for (int j = 0; j < 6; j++) nd_assert_close(g->data[j], 4.0 * x->data[j], 1e-6, 1e-6);
  /* intermediate gradients are recomputed, not accumulated: d y / d sq = 1 */
  const nd_tensor *gsq = nd_var_grad(sq);
  assert_non_null(gsq);
  for (int j = 0; j < 6; j++) nd_assert_close(gsq->data[j], 1.0, 0, 0);
  /* a seed on a non-scalar output: seed^T d(sq)/dx = 2 x seed */
  nd_tensor *seed = ad_tensor(2, ND_SHAPE(2, 3), 2);
  nd_tensor_fill(g, 0.0f);
  nd_assert_ok(nd_tape_backward_seed(tp, sq, seed));
  for (int j = 0; j < 6; j++) nd_assert_close(g->data[j], 2.0 * x->data[j] * seed->data[j], 1e-6, 1e-6);
  /* a NULL seed means ones */
  nd_tensor_fill(g, 0.0f);
  nd_assert_ok(nd_tape_backward_seed(tp, sq, NULL));
  for (int j = 0; j < 6; j++) nd_assert_close(g->data[j], 2.0 * x->data[j], 1e-6, 1e-6);
  /* a strided seed is accepted (copied) */
  nd_tensor *big = ad_tensor(2, ND_SHAPE(2, 6), 3), col;
  nd_assert_ok(nd_tensor_slice(big, 1, 1, 3, &col));
  assert_false(nd_tensor_is_contiguous(&col));
  nd_tensor_fill(g, 0.0f);
  nd_assert_ok(nd_tape_backward_seed(tp, sq, &col));
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 3; c++)
      nd_assert_close(g->data[r * 3 + c], 2.0 * x->data[r * 3 + c] * big->data[r * 6 + 1 + c], 1e-6, 1e-6);
  /* the wrong seed size and a non-scalar output without seed are errors that
   * name the shapes; they do not poison the tape */
  nd_tensor *bad = ad_tensor(1, ND_SHAPE(5), 4);
  assert_int_equal(nd_tape_backward_seed(tp, sq, bad), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "2x3"));
  assert_non_null(strstr(nd_last_error(), "5"));
  assert_int_equal(nd_tape_backward(tp, sq), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "2x3"));
  nd_assert_ok(nd_tape_status(tp));
  /* a constant output has no gradient to compute */
  assert_int_equal(nd_tape_backward(tp, nd_ad_sum(tp, nd_tape_constant(tp, x))), ND_ERR_INVALID_ARG);
  nd_tape_free(tp);
  nd_tensor_free(x);
  nd_tensor_free(g);
  nd_tensor_free(seed);
  nd_tensor_free(big);
  nd_tensor_free(bad);
}

/* ---------------------------------------------------------------- errors */
static void test_errors_poison(void **state) {
  (void)state;
  nd_tensor *x = ad_tensor(2, ND_SHAPE(4, 3), 1), *W = ad_tensor(2, ND_SHAPE(5, 7), 2);
  nd_tensor *gW = nd_test_tensor(2, ND_SHAPE(5, 7)), *gbad = nd_test_tensor(2, ND_SHAPE(7, 5));
  nd_tape *tp = nd_test_tape(0);
  nd_var *xv = nd_tape_constant(tp, x), *wv = nd_tape_param(tp, W, gW);
  nd_var *y = nd_ad_linear(tp, xv, wv, NULL);
  assert_null(y);
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", nd_last_error());
  assert_non_null(strstr(msg, "linear"));
  assert_non_null(strstr(msg, "4x3"));
  assert_non_null(strstr(msg, "5x7"));
  /* every later op returns NULL, keeps the first message, records nothing */
  int64_t nodes = nd_tape_num_nodes(tp);
  nd_var *z = nd_ad_sum(tp, nd_ad_tanh(tp, y));
  assert_null(z);
  assert_null(nd_ad_add(tp, xv, xv)); /* even with valid inputs */
  assert_null(nd_tape_constant(tp, x));
  assert_string_equal(nd_last_error(), msg);
  assert_int_equal(nd_tape_num_nodes(tp), nodes);
  assert_int_equal(nd_tape_backward(tp, z), ND_ERR_SHAPE);
  assert_int_equal(nd_tape_set_error(tp, ND_ERR_NUMERIC), ND_ERR_NUMERIC);
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE); /* the first one wins */
  for (int j = 0; j < 35; j++) assert_true(gW->data[j] == 0.0f);
  /* reset clears the failure and the tape works again */
  nd_tape_reset(tp);
  nd_assert_ok(nd_tape_status(tp));
  xv = nd_tape_constant(tp, x);
  assert_non_null(nd_ad_add(tp, xv, xv));
  nd_assert_ok(nd_tape_status(tp));
  /* a NULL input without an earlier failure is itself an error */
  assert_null(nd_ad_tanh(tp, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  /* a gradient buffer of the wrong shape */
  nd_tape_reset(tp);
  assert_null(nd_tape_param(tp, W, gbad));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "7x5"));
  /* a non-contiguous leaf */
  nd_tape_reset(tp);
  nd_tensor col;
  nd_assert_ok(nd_tensor_slice(W, 1, 1, 2, &col));
  assert_null(nd_tape_constant(tp, &col));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  /* mismatched operands of a binary op name both shapes */
  nd_tape_reset(tp);
  assert_null(nd_ad_mul(tp, nd_tape_constant(tp, x), nd_tape_constant(tp, W)));
  assert_non_null(strstr(nd_last_error(), "4x3"));
  assert_non_null(strstr(nd_last_error(), "5x7"));
  /* a NULL tape is reported, not dereferenced */
  assert_null(nd_ad_tanh(NULL, xv));
  assert_null(nd_tape_constant(NULL, x));
  assert_int_equal(nd_tape_status(NULL), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_tape_backward(NULL, NULL), ND_ERR_INVALID_ARG);
  assert_true(isnan(nd_var_item(NULL)));
  nd_tape_free(tp);
  nd_tape_free(NULL);
  nd_tensor_free(x);
  nd_tensor_free(W);
  nd_tensor_free(gW);
  nd_tensor_free(gbad);
}

/* nd_tape_alloc hands out scratch that lives until the next reset. */
static void test_tape_alloc(void **state) {
  (void)state;
  nd_tape *tp = nd_test_tape(1024);
  float *a = nd_tape_alloc(tp, 100 * sizeof(float));
  float *b = nd_tape_alloc(tp, 5000 * sizeof(float)); /* larger than the first block */
  assert_non_null(a);
  assert_non_null(b);
  for (int j = 0; j < 100; j++) a[j] = (float)j;
  for (int j = 0; j < 5000; j++) b[j] = (float)-j;
  for (int j = 0; j < 100; j++) assert_true(a[j] == (float)j);
  assert_true(nd_tape_bytes_used(tp) >= 5100 * sizeof(float));
  nd_tape_reset(tp);
  assert_int_equal(nd_tape_bytes_used(tp), 0);
  nd_tape_free(tp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_custom_feedback_alignment),
      cmocka_unit_test(test_custom_gradcheck),
      cmocka_unit_test(test_custom_edge_cases),
      cmocka_unit_test(test_custom_aliased_inputs),
      cmocka_unit_test(test_no_record),
      cmocka_unit_test(test_reset_reuse_no_growth),
      cmocka_unit_test(test_accumulation_and_seeds),
      cmocka_unit_test(test_errors_poison),
      cmocka_unit_test(test_tape_alloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
