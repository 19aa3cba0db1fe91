/* Reverse-mode automatic differentiation: a define-by-run tape.
 *
 * Each differentiable op is one function (nd_ad_*) that checks shapes, computes
 * the forward value and, when the tape is recording, registers its
 * vector-Jacobian product (VJP).  The tape order is a topological order, so
 * nd_tape_backward() walks it once in reverse.
 *
 *   nd_tape *tp;
 *   if (nd_tape_create(0, &tp) != ND_OK) ...
 *   for (step...) {
 *     nd_tape_reset(tp);                          // frees every node at once
 *     nd_var *x = nd_tape_constant(tp, &batch);   // no gradient
 *     nd_var *W = nd_tape_param(tp, &w, &dw);     // model-owned value and grad
 *     nd_var *y = nd_ad_relu(tp, nd_ad_linear(tp, x, W, NULL));
 *     nd_var *loss = nd_ad_cross_entropy(tp, y, labels);
 *     if (nd_tape_backward(tp, loss) != ND_OK) ...   // dw += dloss/dw
 *   }
 *   nd_tape_free(tp);
 *
 * Memory.  Every node (its header, value and gradient buffers, saved data) lives
 * in the tape's arena.  nd_tape_reset() forgets them all and keeps the memory,
 * so a training loop that builds the same graph every step allocates nothing
 * from the system after the first step.  Parameters are leaves whose value and
 * gradient tensors belong to the caller (the model), so they survive a reset.
 *
 * Errors.  Ops return NULL on failure and set nd_last_error(); the tape also
 * keeps the first failure ("sticky" status), every later op that receives a
 * NULL input returns NULL without overwriting it, and nd_tape_backward() /
 * nd_tape_status() return it.  A chain of op calls therefore needs one check.
 *
 * Gradients.  Leaf gradients accumulate (+=) across backward calls: zero them
 * before each step (nd_optim_zero_grad, or nd_tensor_fill(g, 0)).  Gradients of
 * intermediate nodes are recomputed by each backward call and remain readable
 * (nd_var_grad) until the next reset.
 *
 * Broadcasting.  Binary ops (add, sub, mul) take `b` either with a's shape,
 * with one element (a scalar), or 1-D with a->shape[1] elements (a bias per
 * column of a [rows, cols] matrix, or per channel of an NCHW image). */
#ifndef NEURODYN_AUTODIFF_H
#define NEURODYN_AUTODIFF_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_tape nd_tape;
typedef struct nd_var nd_var;

/* ------------------------------------------------------------------ tape */
/* arena_bytes: first block of the node arena (0 picks 1 MiB; it grows by
 * chaining blocks as needed).  *out is NULL on failure. */
ND_API nd_status nd_tape_create(size_t arena_bytes, nd_tape **out);
ND_API void nd_tape_free(nd_tape *tp); /* NULL is a no-op */
/* Drops every node and the sticky error; keeps the memory; recording stays as
 * set.  NULL is a no-op. */
ND_API void nd_tape_reset(nd_tape *tp);
/* Recording on (default): ops register VJPs for inputs that need gradients.
 * Off: ops only compute values (evaluation / no-grad mode). */
ND_API nd_status nd_tape_set_recording(nd_tape *tp, bool on);
ND_API bool nd_tape_is_recording(const nd_tape *tp);
/* First failure since the last reset (ND_OK if none). */
ND_API nd_status nd_tape_status(const nd_tape *tp);
/* Records s as the sticky status if none is set yet (for code that builds
 * graphs and finds an error of its own); returns s. */
ND_API nd_status nd_tape_set_error(nd_tape *tp, nd_status s);
/* Nodes recorded since the last reset, and arena bytes in use / held (0 for NULL). */
ND_API int64_t nd_tape_num_nodes(const nd_tape *tp);
ND_API size_t nd_tape_bytes_used(const nd_tape *tp);
ND_API size_t nd_tape_bytes_held(const nd_tape *tp);
/* Scratch memory in the tape's arena, valid until the next reset (for custom
 * ops).  NULL (sticky error set) on failure. */
ND_API void *nd_tape_alloc(nd_tape *tp, size_t bytes);

/* ---------------------------------------------------------------- leaves */
/* A leaf that needs no gradient (inputs, targets).  The value is a view of
 * x's data (no copy): it must stay alive and unchanged until backward. */
ND_API nd_var *nd_tape_constant(nd_tape *tp, const nd_tensor *x);
/* A parameter: value and grad (same shape, contiguous) belong to the caller;
 * backward adds dL/dvalue into grad.  grad == NULL makes it a constant. */
ND_API nd_var *nd_tape_param(nd_tape *tp, nd_tensor *value, nd_tensor *grad);
/* A leaf that needs a gradient kept in the tape (zero-filled, readable with
 * nd_var_grad after backward, until the next reset).  Value is a view of x. */
ND_API nd_var *nd_tape_variable(nd_tape *tp, const nd_tensor *x);

/* ------------------------------------------------------------- accessors */
/* The node's value (contiguous).  Mutating a leaf's value after ops used it
 * invalidates their saved data. */
ND_API nd_tensor *nd_var_value(nd_var *v);
/* dL/dvalue after nd_tape_backward, or NULL if no gradient reached v (or v
 * needs none). */
ND_API const nd_tensor *nd_var_grad(const nd_var *v);
ND_API bool nd_var_requires_grad(const nd_var *v);
/* value->data[0] (convenience for scalar losses); NaN for NULL. */
ND_API float nd_var_item(const nd_var *v);

/* -------------------------------------------------------------- backward */
/* Backward from a one-element output (seed 1). */
ND_API nd_status nd_tape_backward(nd_tape *tp, nd_var *out);
/* Backward from any output with seed gradient `seed` (out's shape; NULL means
 * all ones): computes the VJP seed^T * d(out)/d(leaves). */
ND_API nd_status nd_tape_backward_seed(nd_tape *tp, nd_var *out, const nd_tensor *seed);

/* A hook on a leaf's gradient (as PyTorch's post-accumulate-grad hook):
 * during every later nd_tape_backward until the next reset, fn(leaf, user)
 * runs as soon as the leaf's gradient is final, i.e. right after the VJP of
 * the first op (in recording order) that reads the leaf, while the sweep
 * goes on to the ops recorded before it; a leaf that no op reads gets it
 * after the sweep.  This is where data-parallel training starts reducing a
 * layer's gradient while the layers below are still being differentiated
 * (docs/distributed.md).  fn may not record ops on tp; a status other than
 * ND_OK stops the backward with it.  One hook per leaf (a second call
 * replaces it); ND_ERR_INVALID_ARG for a node that is not a leaf. */
typedef nd_status (*nd_grad_ready_fn)(nd_var *leaf, void *user);
ND_API nd_status nd_tape_on_grad_ready(nd_tape *tp, nd_var *leaf, nd_grad_ready_fn fn, void *user);

/* ------------------------------------------------------------ linear ops */
/* op(a)[m,k] * op(b)[k,n]; a, b 2-D; trans_* transposes the stored matrix. */
ND_API nd_var *nd_ad_matmul(nd_tape *tp, nd_var *a, nd_var *b, bool trans_a, bool trans_b);
/* x[B,in] * W[out,in]^T + b[out] (b may be NULL).  One GEMM per batch. */
ND_API nd_var *nd_ad_linear(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b);
ND_API nd_var *nd_ad_add(nd_tape *tp, nd_var *a, nd_var *b); /* a + b (b broadcast, see above) */
ND_API nd_var *nd_ad_sub(nd_tape *tp, nd_var *a, nd_var *b); /* a - b */
ND_API nd_var *nd_ad_mul(nd_tape *tp, nd_var *a, nd_var *b); /* a * b elementwise */
ND_API nd_var *nd_ad_scale(nd_tape *tp, nd_var *x, float alpha); /* alpha * x */
/* Same data, new shape (same element count; one entry may be -1). */
ND_API nd_var *nd_ad_reshape(nd_tape *tp, nd_var *x, int ndim, const int64_t *shape);

/* -------------------------------------------------------- convolutions */
/* x[N,C,H,W] (*) w[K,C,R,S] + b[K] (b may be NULL) -> [N,K,P,Q]. */
ND_API nd_var *nd_ad_conv2d(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, int64_t stride_h, int64_t stride_w,
                     int64_t pad_h, int64_t pad_w);
/* Adjoint of that convolution: x[N,K,P,Q], w[K,C,R,S], b[C] -> [N,C,H,W] with
 * H = (P-1)*stride_h - 2*pad_h + R + out_pad_h (out_pad < stride; likewise W). */
ND_API nd_var *nd_ad_conv_transpose2d(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, int64_t stride_h, int64_t stride_w,
                               int64_t pad_h, int64_t pad_w, int64_t out_pad_h, int64_t out_pad_w);
ND_API nd_var *nd_ad_avgpool2d(nd_tape *tp, nd_var *x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h,
                        int64_t stride_w, int64_t pad_h, int64_t pad_w, bool count_include_pad);
ND_API nd_var *nd_ad_adaptive_avgpool2d(nd_tape *tp, nd_var *x, int64_t out_h, int64_t out_w);

/* ---------------------------------------------------------- elementwise */
/* y = f(x; param) for any nd_unary_op (see kernels.h for each definition). */
ND_API nd_var *nd_ad_unary(nd_tape *tp, nd_unary_op op, float param, nd_var *x);
ND_API nd_var *nd_ad_relu(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_leaky_relu(nd_tape *tp, nd_var *x, float slope);
ND_API nd_var *nd_ad_tanh(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_sigmoid(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_softplus(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_abs(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_pow(nd_tape *tp, nd_var *x, float p);        /* sign(x)|x|^p */
ND_API nd_var *nd_ad_relu_pow(nd_tape *tp, nd_var *x, float n);   /* max(x,0)^n, rectified power unit */
ND_API nd_var *nd_ad_soft_threshold(nd_tape *tp, nd_var *x, float lambda);
ND_API nd_var *nd_ad_hard_threshold(nd_tape *tp, nd_var *x, float lambda);
ND_API nd_var *nd_ad_exp(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_log(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_square(nd_tape *tp, nd_var *x);
/* Parametric ReLU, one slope per channel (dimension 1 of x, ndim >= 2). */
ND_API nd_var *nd_ad_prelu(nd_tape *tp, nd_var *x, nd_var *slope);

/* -------------------------------------------------- reductions, losses */
ND_API nd_var *nd_ad_sum(nd_tape *tp, nd_var *x);  /* scalar: sum of all elements */
ND_API nd_var *nd_ad_mean(nd_tape *tp, nd_var *x); /* scalar: mean of all elements */
/* Row-wise over the last dimension (x viewed as [numel/cols, cols]). */
ND_API nd_var *nd_ad_softmax(nd_tape *tp, nd_var *x);
ND_API nd_var *nd_ad_log_softmax(nd_tape *tp, nd_var *x);
/* Scalar mean cross-entropy of logits[B,C] against labels[B] in 0..C-1
 * (read during the call only: the gradient is computed in the forward pass). */
ND_API nd_var *nd_ad_cross_entropy(nd_tape *tp, nd_var *logits, const int32_t *labels);
/* Scalar mean over all elements of (a - b)^2. */
ND_API nd_var *nd_ad_mse(nd_tape *tp, nd_var *a, nd_var *b);
/* Scalar sum over all elements of |c - t|^m, m >= 1 (Krotov & Hopfield 2019,
 * Eq. 12, top-layer loss with m = 6). */
ND_API nd_var *nd_ad_abs_power_loss(nd_tape *tp, nd_var *c, nd_var *t, float m);

/* ------------------------------------------------------------ custom VJP */
#define ND_CUSTOM_MAX_INPUTS 8

/* Arguments a custom op's callbacks receive.  Forward: write `output`
 * (contiguous, shape given at creation, uninitialised).  Backward: add
 * dL/dinputs[i] into dinputs[i] for every non-NULL entry (NULL: input i needs
 * no gradient).  dinputs[i] already holds the gradient accumulated from other
 * consumers, or zeros; beta[i] is 0 in the second case and 1 in the first, so a
 * kernel call with `beta = beta[i]` can also write instead of accumulate.
 * scratch memory: nd_tape_alloc(tape, bytes). */
typedef struct nd_custom_args {
  nd_tape *tape;
  void *user;
  int n_inputs;
  const nd_tensor *inputs[ND_CUSTOM_MAX_INPUTS];
  nd_tensor *output;             /* forward: write it; backward: the forward result (read only) */
  const nd_tensor *doutput;      /* backward: dL/doutput */
  nd_tensor *dinputs[ND_CUSTOM_MAX_INPUTS];
  float beta[ND_CUSTOM_MAX_INPUTS];
} nd_custom_args;
typedef nd_status (*nd_custom_fn)(const nd_custom_args *args);

/* An op with a user forward and a user VJP (feedback alignment, implicit
 * differentiation, reversible layers ...).  `user` must outlive backward.
 * backward may be NULL for an op that passes no gradient. */
ND_API nd_var *nd_ad_custom(nd_tape *tp, int n_inputs, nd_var *const *inputs, int out_ndim, const int64_t *out_shape,
                     nd_custom_fn forward, nd_custom_fn backward, void *user);

/* ------------------------------------------------------------- gradcheck */
/* Builds a function of the leaves on tp (leaves[i] are params over the values
 * being checked) and returns its output in *out.  Any output shape works: the
 * checker differentiates f = sum_j r_j out_j with a fixed random r. */
typedef nd_status (*nd_gradcheck_fn)(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out);

typedef struct nd_gradcheck_opts {
  double step;          /* central-difference step h (default 1e-3) */
  double atol, rtol;    /* pass if |analytic - numeric| <= atol + rtol*|numeric| (1e-3, 1e-2) */
  int64_t max_per_leaf; /* check at most this many random elements per leaf (0 = all) */
  uint64_t seed;        /* projection vector and element choice */
} nd_gradcheck_opts;

typedef struct nd_gradcheck_result {
  double max_abs_err;   /* max |analytic - numeric| */
  double max_rel_err;   /* max |analytic - numeric| / max(|analytic|, |numeric|, 1e-12) */
  int worst_leaf;       /* leaf and element of the largest tolerance excess (-1: none) */
  int64_t worst_index;
  double worst_analytic, worst_numeric;
  int64_t checked;      /* elements compared */
  bool passed;
} nd_gradcheck_result;

/* Defaults listed above. */
ND_API nd_gradcheck_opts nd_gradcheck_default_opts(void);

/* Compares the tape's gradient of f with central differences.  values[i] are
 * the caller's float32 tensors (contiguous); they are perturbed in place
 * during the check and restored exactly.  The function value is projected and
 * accumulated in double; the denominator uses the float32 step actually
 * taken, (float)(x+h) - (float)(x-h).  Returns ND_OK whether or not the check
 * passed (see res->passed); an error status if f fails. */
ND_API nd_status nd_gradcheck(nd_gradcheck_fn f, void *user, int n_leaves, nd_tensor *const *values,
                       const nd_gradcheck_opts *opts, nd_gradcheck_result *res);

#ifdef __cplusplus
}
#endif
#endif
