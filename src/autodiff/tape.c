/* Define-by-run tape: nodes, leaves, the backward sweep and custom-VJP ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/kernels.h"

/* ------------------------------------------------------------------ tape */
nd_status nd_tape_create(size_t arena_bytes, nd_tape **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tape: output pointer is NULL");
  *out = NULL;
  nd_tape *tp = calloc(1, sizeof *tp);
  if (!tp) return nd__error(ND_ERR_NOMEM, "tape: could not allocate header");
  nd_status s = nd_arena_create(arena_bytes, &tp->arena);
  if (s != ND_OK) {
    free(tp);
    return s;
  }
  tp->cap_nodes = 256;
  tp->nodes = malloc((size_t)tp->cap_nodes * sizeof *tp->nodes);
  if (!tp->nodes) {
    nd_arena_free(tp->arena);
    free(tp);
    return nd__error(ND_ERR_NOMEM, "tape: could not allocate the node list");
  }
  tp->recording = true;
  *out = tp;
  return ND_OK;
}

void nd_tape_free(nd_tape *tp) {
  if (!tp) return;
  nd_arena_free(tp->arena);
  free(tp->nodes);
  free(tp->hooks);
  free(tp);
}

void nd_tape_reset(nd_tape *tp) {
  if (!tp) return;
  nd_arena_reset(tp->arena);
  tp->n_nodes = 0;
  tp->n_hooks = 0;
  tp->status = ND_OK;
}

nd_status nd_tape_set_recording(nd_tape *tp, bool on) {
  if (!tp) return nd__error(ND_ERR_INVALID_ARG, "tape set_recording: tape is NULL");
  tp->recording = on;
  return ND_OK;
}
bool nd_tape_is_recording(const nd_tape *tp) { return tp && tp->recording; }
nd_status nd_tape_status(const nd_tape *tp) {
  if (!tp) return nd__error(ND_ERR_INVALID_ARG, "tape status: tape is NULL");
  return tp->status;
}
int64_t nd_tape_num_nodes(const nd_tape *tp) { return tp ? tp->n_nodes : 0; }
size_t nd_tape_bytes_used(const nd_tape *tp) { return tp ? nd_arena_used(tp->arena) : 0; }
size_t nd_tape_bytes_held(const nd_tape *tp) { return tp ? nd_arena_capacity(tp->arena) : 0; }

nd_status nd_tape_set_error(nd_tape *tp, nd_status s) {
  if (!tp) return nd__error(ND_ERR_INVALID_ARG, "tape set_error: tape is NULL");
  nd__fail(tp, s);
  return s;
}

nd_var *nd__fail(nd_tape *tp, nd_status s) {
  if (tp && tp->status == ND_OK) tp->status = s;
  return NULL;
}

void *nd_tape_alloc(nd_tape *tp, size_t bytes) {
  if (!tp) {
    nd__error(ND_ERR_INVALID_ARG, "tape alloc: tape is NULL");
    return NULL;
  }
  void *p = nd_arena_alloc(tp->arena, bytes);
  if (!p) nd__fail(tp, nd__error(ND_ERR_NOMEM, "tape alloc: out of memory for %zu bytes", bytes));
  return p;
}

float *nd__scratch(nd_tape *tp, int64_t n) { return nd_tape_alloc(tp, (size_t)n * sizeof(float)); }

const char *nd__shape(const nd_var *v, char *buf) { return nd_tensor_shape_str(&v->value, buf, 64); }

bool nd__inputs_ok(nd_tape *tp, const char *op, int n, nd_var *const *in) {
  if (!tp) {
    nd__error(ND_ERR_INVALID_ARG, "%s: tape is NULL", op);
    return false;
  }
  if (tp->status != ND_OK) return false;
  if (n > 0 && !in) {
    nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: input list is NULL", op));
    return false;
  }
  for (int k = 0; k < n; k++)
    if (!in[k]) {
      nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: input %d is NULL", op, k));
      return false;
    }
  return true;
}

static nd_status push_node(nd_tape *tp, nd_var *v) {
  if (tp->n_nodes == tp->cap_nodes) {
    int64_t cap = tp->cap_nodes * 2;
    nd_var **p = realloc(tp->nodes, (size_t)cap * sizeof *p);
    if (!p) return nd__error(ND_ERR_NOMEM, "tape: could not grow the node list to %lld", (long long)cap);
    tp->nodes = p;
    tp->cap_nodes = cap;
  }
  tp->nodes[tp->n_nodes++] = v;
  return ND_OK;
}

static nd_var *alloc_var(nd_tape *tp, const char *op) {
  nd_var *v = nd_arena_alloc(tp->arena, sizeof *v);
  if (!v) {
    nd__fail(tp, nd__error(ND_ERR_NOMEM, "%s: out of memory for a node", op));
    return NULL;
  }
  memset(v, 0, sizeof *v);
  v->op = op;
  return v;
}

nd_var *nd__new_node(nd_tape *tp, const char *op, int ndim, const int64_t *shape, int n_in, nd_var *const *in,
                     nd__backward_fn backward) {
  return nd__new_node_data(tp, op, ndim, shape, n_in, in, backward, NULL);
}

nd_var *nd__new_node_data(nd_tape *tp, const char *op, int ndim, const int64_t *shape, int n_in, nd_var *const *in,
                          nd__backward_fn backward, float *data) {
  nd_var *v = alloc_var(tp, op);
  if (!v) return NULL;
  if (ndim < 0 || ndim > ND_MAX_DIMS || (ndim > 0 && !shape))
    return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: output has %d dimensions", op, ndim));
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: negative output size %lld in dimension %d", op,
                                    (long long)shape[d], d));
    if (shape[d] > 0 && (__builtin_mul_overflow(n, shape[d], &n) || n > ND_TENSOR_MAX_NUMEL))
      return nd__fail(tp, nd__error(ND_ERR_SHAPE, "%s: output shape has more than %lld elements", op,
                                    (long long)ND_TENSOR_MAX_NUMEL));
  }
  for (int d = 0; d < ndim; d++)
    if (shape[d] == 0) n = 0;
  if (!data) data = nd_arena_alloc(tp->arena, (size_t)n * sizeof(float));
  if (!data) return nd__fail(tp, nd__error(ND_ERR_NOMEM, "%s: out of memory for a %lld-element value", op, (long long)n));
  v->value = nd_tensor_wrap(data, ndim, shape);
  v->grad = v->value;
  v->grad.data = NULL;
  v->n_in = n_in;
  bool need = false;
  for (int k = 0; k < n_in; k++) {
    v->in[k] = in[k];
    need = need || in[k]->requires_grad;
  }
  if (tp->recording && need && backward) {
    v->requires_grad = true;
    v->backward = backward;
    if (push_node(tp, v) != ND_OK) return nd__fail(tp, ND_ERR_NOMEM);
  }
  return v;
}

/* ---------------------------------------------------------------- leaves */
static nd_var *make_leaf(nd_tape *tp, const char *op, const nd_tensor *x) {
  if (!tp) {
    nd__error(ND_ERR_INVALID_ARG, "%s: tape is NULL", op);
    return NULL;
  }
  if (tp->status != ND_OK) return NULL;
  if (nd__tensor_check(x, op, "tensor") != ND_OK) return nd__fail(tp, ND_ERR_INVALID_ARG);
  if (!nd_tensor_is_contiguous(x)) return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: tensor is not contiguous", op));
  nd_var *v = alloc_var(tp, op);
  if (!v) return NULL;
  v->value = *x;
  v->value.owns_data = false;
  v->grad = v->value;
  v->grad.data = NULL;
  v->leaf = true;
  return v;
}

nd_var *nd_tape_constant(nd_tape *tp, const nd_tensor *x) { return make_leaf(tp, "constant", x); }

nd_var *nd_tape_param(nd_tape *tp, nd_tensor *value, nd_tensor *grad) {
  nd_var *v = make_leaf(tp, "param", value);
  if (!v || !grad) return v;
  if (nd__tensor_check(grad, "param", "grad") != ND_OK) return nd__fail(tp, ND_ERR_INVALID_ARG);
  if (!nd_tensor_same_shape(value, grad) || !nd_tensor_is_contiguous(grad)) {
    char a[64], b[64];
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "param: grad is %s%s, value is %s", nd_tensor_shape_str(grad, b, 64),
                                  nd_tensor_is_contiguous(grad) ? "" : " (not contiguous)",
                                  nd_tensor_shape_str(value, a, 64)));
  }
  v->grad.data = grad->data;
  v->grad_external = true;
  v->grad_ready = true;
  if (tp->recording) {
    v->requires_grad = true;
    if (push_node(tp, v) != ND_OK) return nd__fail(tp, ND_ERR_NOMEM);
  }
  return v;
}

nd_var *nd_tape_variable(nd_tape *tp, const nd_tensor *x) {
  nd_var *v = make_leaf(tp, "variable", x);
  if (!v) return NULL;
  int64_t n = nd_tensor_numel(&v->value);
  v->grad.data = nd_arena_calloc(tp->arena, (size_t)n * sizeof(float));
  if (!v->grad.data && n > 0) return nd__fail(tp, nd__error(ND_ERR_NOMEM, "variable: out of memory for its gradient"));
  v->grad_ready = true;
  if (tp->recording) {
    v->requires_grad = true;
    if (push_node(tp, v) != ND_OK) return nd__fail(tp, ND_ERR_NOMEM);
  }
  return v;
}

nd_tensor *nd_var_value(nd_var *v) { return v ? &v->value : NULL; }
const nd_tensor *nd_var_grad(const nd_var *v) { return v && v->grad_ready && v->grad.data ? &v->grad : NULL; }
bool nd_var_requires_grad(const nd_var *v) { return v && v->requires_grad; }
float nd_var_item(const nd_var *v) { return v && v->value.data ? v->value.data[0] : NAN; }

/* ------------------------------------------------------ gradient buffers */
nd_status nd__grad(nd_tape *tp, nd_var *v, float **g, float *beta) {
  *g = NULL;
  *beta = 1.0f;
  if (!v->requires_grad) return ND_OK;
  if (!v->grad_ready) {
    if (!v->grad.data) {
      v->grad.data = nd_arena_alloc(tp->arena, (size_t)nd_tensor_numel(&v->value) * sizeof(float));
      if (!v->grad.data) return nd__error(ND_ERR_NOMEM, "%s: out of memory for a gradient", v->op);
    }
    v->grad_ready = true;
    *beta = 0.0f;
  }
  *g = v->grad.data;
  return ND_OK;
}

nd_status nd__grad_acc(nd_tape *tp, nd_var *v, float **g) {
  float beta;
  ND_TRY(nd__grad(tp, v, g, &beta));
  if (*g && beta == 0.0f) memset(*g, 0, (size_t)nd_tensor_numel(&v->value) * sizeof(float));
  return ND_OK;
}

nd_status nd__grad_overwrite(nd_tape *tp, nd_var *v, float **g) {
  float beta;
  ND_TRY(nd__grad(tp, v, g, &beta));
  if (*g && beta != 0.0f) {
    *g = nd_arena_alloc(tp->arena, (size_t)nd_tensor_numel(&v->value) * sizeof(float));
    if (!*g) return nd__error(ND_ERR_NOMEM, "%s: out of memory for gradient scratch", v->op);
  }
  return ND_OK;
}

void nd__gadd(float *g, float beta, float alpha, const float *src, int64_t n) {
  if (beta == 0.0f) {
    if (alpha == 1.0f)
      memcpy(g, src, (size_t)n * sizeof(float));
    else
      for (int64_t j = 0; j < n; j++) g[j] = alpha * src[j];
  } else {
    nd_axpy(alpha, src, g, n);
  }
}

void nd__grad_commit(nd_var *v, float *g) {
  if (g && g != v->grad.data) nd_axpy(1.0f, g, v->grad.data, nd_tensor_numel(&v->value));
}

/* ------------------------------------------------------------ grad hooks */
nd_status nd_tape_on_grad_ready(nd_tape *tp, nd_var *leaf, nd_grad_ready_fn fn, void *user) {
  if (!tp || !leaf || !fn)
    return nd__error(ND_ERR_INVALID_ARG, "nd_tape_on_grad_ready: %s is NULL", !tp ? "tape" : !leaf ? "leaf" : "fn");
  if (!leaf->leaf) return nd__error(ND_ERR_INVALID_ARG, "nd_tape_on_grad_ready: %s is not a leaf", leaf->op);
  if (leaf->hook > 0 && leaf->hook <= tp->n_hooks && tp->hooks[leaf->hook - 1].leaf == leaf) {
    tp->hooks[leaf->hook - 1].fn = fn, tp->hooks[leaf->hook - 1].user = user;
    return ND_OK;
  }
  if (tp->n_hooks == tp->cap_hooks) { /* grows once; kept across resets */
    int cap = tp->cap_hooks ? 2 * tp->cap_hooks : 16;
    nd__grad_hook *h = realloc(tp->hooks, (size_t)cap * sizeof *h);
    if (!h) return nd__error(ND_ERR_NOMEM, "nd_tape_on_grad_ready: no memory for %d hooks", cap);
    tp->hooks = h, tp->cap_hooks = cap;
  }
  tp->hooks[tp->n_hooks] = (nd__grad_hook){.leaf = leaf, .fn = fn, .user = user, .at = INT64_MAX};
  leaf->hook = ++tp->n_hooks;
  return ND_OK;
}

/* Each hook's firing point: the first recorded node reading its leaf.  The
 * hooks are then sorted by it, latest first (the sweep's order). */
static void place_hooks(nd_tape *tp) {
  for (int h = 0; h < tp->n_hooks; h++) tp->hooks[h].at = INT64_MAX;
  for (int64_t k = 0; k < tp->n_nodes; k++) {
    const nd_var *v = tp->nodes[k];
    for (int j = 0; j < v->n_in; j++) {
      const nd_var *u = v->in[j];
      if (u->leaf && u->hook > 0 && u->hook <= tp->n_hooks && tp->hooks[u->hook - 1].leaf == u &&
          tp->hooks[u->hook - 1].at == INT64_MAX)
        tp->hooks[u->hook - 1].at = k;
    }
  }
  for (int a = 1; a < tp->n_hooks; a++) { /* insertion sort, stable: few hooks */
    nd__grad_hook x = tp->hooks[a];
    int b = a;
    for (; b > 0 && (tp->hooks[b - 1].at == INT64_MAX ? 0 : tp->hooks[b - 1].at + 1) <
                        (x.at == INT64_MAX ? 0 : x.at + 1); b--)
      tp->hooks[b] = tp->hooks[b - 1];
    tp->hooks[b] = x;
  }
  for (int h = 0; h < tp->n_hooks; h++) tp->hooks[h].leaf->hook = h + 1;
}

/* Runs the hooks placed at node k (k = -1: those of unread leaves) from *next on. */
static nd_status fire_hooks(nd_tape *tp, int64_t k, int *next) {
  for (; *next < tp->n_hooks; ++*next) {
    nd__grad_hook *h = &tp->hooks[*next];
    if (k >= 0 && h->at != k) break;
    nd_status s = h->fn(h->leaf, h->user);
    if (s != ND_OK) {
      ++*next;
      return s;
    }
  }
  return ND_OK;
}

/* -------------------------------------------------------------- backward */
nd_status nd_tape_backward_seed(nd_tape *tp, nd_var *out, const nd_tensor *seed) {
  if (!tp) return nd__error(ND_ERR_INVALID_ARG, "backward: tape is NULL");
  if (tp->status != ND_OK) return tp->status;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "backward: output is NULL");
  if (!out->requires_grad)
    return nd__error(ND_ERR_INVALID_ARG,
                     "backward: the output (%s) does not depend on any parameter or variable, or the tape was "
                     "not recording",
                     out->op);
  if (seed && nd_tensor_numel(seed) != nd_tensor_numel(&out->value)) {
    char a[64], b[64];
    return nd__error(ND_ERR_SHAPE, "backward: seed is %s, output is %s", nd_tensor_shape_str(seed, a, 64),
                     nd__shape(out, b));
  }
  /* Intermediate gradients are recomputed by every sweep; leaves accumulate. */
  for (int64_t k = 0; k < tp->n_nodes; k++)
    if (!tp->nodes[k]->leaf) tp->nodes[k]->grad_ready = false;
  float *g, beta;
  ND_TRY(nd__grad(tp, out, &g, &beta));
  int64_t n = nd_tensor_numel(&out->value);
  if (beta == 0.0f) memset(g, 0, (size_t)n * sizeof(float));
  if (seed && nd_tensor_is_contiguous(seed)) {
    nd_axpy(1.0f, seed->data, g, n);
  } else if (seed) {
    float *s = nd__scratch(tp, n);
    if (!s) return nd__error(ND_ERR_NOMEM, "backward: out of memory for the seed");
    nd_tensor tmp = nd_tensor_wrap(s, seed->ndim, seed->shape);
    ND_TRY(nd_tensor_copy(&tmp, seed));
    nd_axpy(1.0f, s, g, n);
  } else {
    for (int64_t j = 0; j < n; j++) g[j] += 1.0f;
  }
  int next = 0;
  if (tp->n_hooks) place_hooks(tp);
  for (int64_t k = tp->n_nodes - 1; k >= 0; k--) {
    nd_var *v = tp->nodes[k];
    nd_status s = v->backward && v->grad_ready ? v->backward(tp, v) : ND_OK;
    if (s == ND_OK && next < tp->n_hooks) s = fire_hooks(tp, k, &next);
    if (s != ND_OK) {
      nd__fail(tp, s);
      return s;
    }
  }
  nd_status s = next < tp->n_hooks ? fire_hooks(tp, -1, &next) : ND_OK;
  if (s != ND_OK) nd__fail(tp, s);
  return s;
}

nd_status nd_tape_backward(nd_tape *tp, nd_var *out) {
  if (tp && tp->status == ND_OK && out && nd_tensor_numel(&out->value) != 1) {
    char a[64];
    return nd__error(ND_ERR_SHAPE, "backward: output %s is %s, not one element (use nd_tape_backward_seed)", out->op,
                     nd__shape(out, a));
  }
  return nd_tape_backward_seed(tp, out, NULL);
}

/* ------------------------------------------------------------ custom VJP */
typedef struct custom_saved {
  nd_custom_fn backward;
  void *user;
} custom_saved;

static nd_status custom_backward(nd_tape *tp, nd_var *v) {
  const custom_saved *cs = v->saved;
  nd_custom_args a;
  memset(&a, 0, sizeof a);
  nd_tensor dins[ND__AD_MAX_INPUTS];
  a.tape = tp;
  a.user = cs->user;
  a.n_inputs = v->n_in;
  a.output = &v->value;
  a.doutput = &v->grad;
  for (int k = 0; k < v->n_in; k++) {
    a.inputs[k] = &v->in[k]->value;
    float *g, beta;
    ND_TRY(nd__grad(tp, v->in[k], &g, &beta));
    if (!g) continue;
    if (beta == 0.0f) memset(g, 0, (size_t)nd_tensor_numel(&v->in[k]->value) * sizeof(float));
    dins[k] = v->in[k]->grad;
    dins[k].owns_data = false;
    a.dinputs[k] = &dins[k];
    a.beta[k] = beta;
  }
  /* An input passed twice shares one gradient buffer: every slot must then
   * accumulate, whatever order the callback writes them in. */
  for (int k = 0; k < v->n_in; k++)
    for (int j = 0; j < v->n_in; j++)
      if (j != k && v->in[j] == v->in[k]) a.beta[k] = 1.0f;
  nd_status s = cs->backward(&a);
  if (s != ND_OK && nd_last_error()[0] == '\0') nd__error(s, "custom op: backward callback failed");
  return s;
}

nd_var *nd_ad_custom(nd_tape *tp, int n_inputs, nd_var *const *inputs, int out_ndim, const int64_t *out_shape,
                     nd_custom_fn forward, nd_custom_fn backward, void *user) {
  if (n_inputs < 0 || n_inputs > ND_CUSTOM_MAX_INPUTS) {
    nd__error(ND_ERR_INVALID_ARG, "custom op: %d inputs, at most %d", n_inputs, ND_CUSTOM_MAX_INPUTS);
    return nd__fail(tp, ND_ERR_INVALID_ARG);
  }
  if (!nd__inputs_ok(tp, "custom op", n_inputs, inputs)) return NULL;
  if (!forward) return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "custom op: forward callback is NULL"));
  if (out_ndim < 0 || out_ndim > ND_MAX_DIMS || (out_ndim > 0 && !out_shape))
    return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "custom op: output has %d dimensions%s", out_ndim,
                                  out_ndim > 0 && !out_shape ? " and no shape" : ""));
  nd_var *v = nd__new_node(tp, "custom op", out_ndim, out_shape, n_inputs, inputs, backward ? custom_backward : NULL);
  if (!v) return NULL;
  nd_custom_args a;
  memset(&a, 0, sizeof a);
  a.tape = tp;
  a.user = user;
  a.n_inputs = n_inputs;
  for (int k = 0; k < n_inputs; k++) a.inputs[k] = &inputs[k]->value;
  a.output = &v->value;
  nd_clear_error();
  nd_status s = forward(&a);
  if (s != ND_OK) {
    if (nd_last_error()[0] == '\0') nd__error(s, "custom op: forward callback failed");
    return nd__fail(tp, s);
  }
  if (v->requires_grad) {
    custom_saved *cs = nd_tape_alloc(tp, sizeof *cs);
    if (!cs) return NULL;
    cs->backward = backward;
    cs->user = user;
    v->saved = cs;
  }
  return v;
}
