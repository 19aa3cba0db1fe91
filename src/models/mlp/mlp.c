/* Dense MLP on the autodiff tape (equations in include/neurodyn/mlp.h):
 * create, the fixed feedback matrices, the inference graph, the loss,
 * prediction.  The training step of each method is in train.c and ff.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "internal.h"

nd_mlp_config nd_mlp_defaults(int n_sizes, const int64_t *sizes) {
  nd_mlp_config c;
  memset(&c, 0, sizeof c);
  c.n_sizes = n_sizes;
  for (int i = 0; sizes && i < n_sizes && i <= ND_MLP_MAX_LAYERS; i++) c.sizes[i] = sizes[i];
  c.activation = ND_ACT_RELU;
  c.act_param = 0.0f;
  c.loss = ND_MLP_LOSS_CROSS_ENTROPY;
  c.loss_power = 6.0f;
  c.out_scale = 1.0f;
  c.bias = true;
  c.seed = 0;
  c.method = ND_CREDIT_BP;
  c.ff_theta = 0.0f;
  c.dni_conditioned = true;
  c.dtp_target_lr = 0.1f;  /* per example; Lee et al.'s code: 0.3277 on the batch mean (0.0033 per example at B 100) */
  c.dtp_noise = 0.36f;     /* Lee et al.'s code: sigma 0.3598 */
  c.am_mu = 0.003f;        /* Choromanska et al.'s code: mu 0.003, code lr 0.3, 5 code steps */
  c.am_code_lr = 0.3f;
  c.am_code_steps = 5;
  c.subtask_layers = 2;
  c.n_conv = 0;
  c.conv_kernel = 5;
  c.conv_stride = 2;
  return c;
}

static nd_status check_config(const nd_mlp_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "mlp: config is NULL");
  if (c->n_sizes < 2 || c->n_sizes > ND_MLP_MAX_LAYERS + 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: n_sizes = %d, need 2..%d", c->n_sizes, ND_MLP_MAX_LAYERS + 1);
  for (int i = 0; i < c->n_sizes; i++)
    if (c->sizes[i] < 1) return nd__error(ND_ERR_INVALID_ARG, "mlp: sizes[%d] = %lld, need >= 1", i, (long long)c->sizes[i]);
  if ((int)c->activation < 0 || c->activation >= ND_ACT_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: unknown activation %d", (int)c->activation);
  if (c->activation == ND_ACT_RELU_POW && !(c->act_param > 0.0f))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: relu_pow power act_param = %g, need > 0", (double)c->act_param);
  if ((int)c->loss < 0 || c->loss >= ND_MLP_LOSS_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: unknown loss %d", (int)c->loss);
  if (c->loss == ND_MLP_LOSS_ABS_POWER) {
    if (!(c->loss_power >= 1.0f) || !isfinite(c->loss_power))
      return nd__error(ND_ERR_INVALID_ARG, "mlp: loss_power = %g, need a finite value >= 1", (double)c->loss_power);
    if (!(c->out_scale > 0.0f) || !isfinite(c->out_scale))
      return nd__error(ND_ERR_INVALID_ARG, "mlp: out_scale = %g, need a finite value > 0", (double)c->out_scale);
  }
  if (c->loss == ND_MLP_LOSS_CROSS_ENTROPY && c->sizes[c->n_sizes - 1] > INT32_MAX)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: too many classes");
  if ((int)c->method < 0 || c->method >= ND_CREDIT_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: method = %d, unknown", (int)c->method);
  if (c->method == ND_CREDIT_DFA && c->n_sizes - 2 > ND_CUSTOM_MAX_INPUTS - 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: method = dfa takes at most %d hidden layers", ND_CUSTOM_MAX_INPUTS - 1);
  if (c->method == ND_CREDIT_FF) {
    int64_t classes = c->sizes[c->n_sizes - 1];
    if (c->n_sizes < 3 || c->sizes[0] < classes || c->loss != ND_MLP_LOSS_CROSS_ENTROPY)
      return nd__error(ND_ERR_INVALID_ARG, "mlp: method = ff needs a hidden layer, at least as many inputs as classes "
                                           "(the label goes in the first inputs) and the cross-entropy loss");
    if (!(c->ff_theta >= 0.0f) || !isfinite(c->ff_theta))
      return nd__error(ND_ERR_INVALID_ARG, "mlp: ff_theta = %g, need a finite value >= 0", (double)c->ff_theta);
  }
  if (c->method == ND_CREDIT_DTP || c->method == ND_CREDIT_AM || c->method == ND_CREDIT_SUBTASK) {
    const char *name = c->method == ND_CREDIT_DTP ? "dtp" : c->method == ND_CREDIT_AM ? "am" : "subtask";
    if (c->n_sizes < 3 || c->loss != ND_MLP_LOSS_CROSS_ENTROPY)
      return nd__error(ND_ERR_INVALID_ARG, "mlp: method = %s needs a hidden layer and the cross-entropy loss", name);
  }
  if (!(c->dtp_target_lr > 0.0f) || !isfinite(c->dtp_target_lr))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: dtp_target_lr = %g, need a finite value > 0", (double)c->dtp_target_lr);
  if (!(c->dtp_noise >= 0.0f) || !isfinite(c->dtp_noise))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: dtp_noise = %g, need a finite value >= 0", (double)c->dtp_noise);
  if (!(c->am_mu > 0.0f) || !isfinite(c->am_mu))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: am_mu = %g, need a finite value > 0", (double)c->am_mu);
  if (!(c->am_code_lr >= 0.0f) || !isfinite(c->am_code_lr))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: am_code_lr = %g, need a finite value >= 0", (double)c->am_code_lr);
  if (c->am_code_steps < 0 || c->am_code_steps > 1000)
    return nd__error(ND_ERR_INVALID_ARG, "mlp: am_code_steps = %d, need 0..1000", c->am_code_steps);
  if (c->subtask_layers < 1 || (c->method == ND_CREDIT_SUBTASK && c->subtask_layers >= c->n_sizes - 1))
    return nd__error(ND_ERR_INVALID_ARG, "mlp: subtask_layers = %d, need 1..%d (at least two blocks of the %d layers)",
                     c->subtask_layers, c->n_sizes - 2 > 1 ? c->n_sizes - 2 : 1, c->n_sizes - 1);
  return nd__mlp_conv_check(c);
}

nd_status nd_mlp_config_check(const nd_mlp_config *c) { return check_config(c); }

void nd_mlp_free(nd_mlp *m) {
  if (!m) return;
  for (int i = 0; i < m->n_params; i++) {
    nd_tensor_release(&m->params[i]);
    nd_tensor_release(&m->grads[i]);
  }
  for (int l = 0; l < ND_MLP_MAX_LAYERS; l++) nd_tensor_release(&m->feedback[l]);
  for (int j = 0; j < ND_MLP_MAX_CONV; j++) nd_tensor_release(&m->conv_feedback[j]);
  nd_tape_free(m->tape);
  free(m->xbuf);
  free(m->ybuf);
  nd_sampler_release(&m->sampler);
  nd_grad_sum_free(m->gsum);
  free(m->gflat);
  free(m->draw_u);
  free(m->draw_f);
  free(m->aux);
  free(m);
}

/* A parameter and its gradient buffer, U(-bound, bound) from rng (zeros for
 * bound 0). */
nd_status nd__mlp_add_param(nd_mlp *m, int ndim, const int64_t *shape, float bound, nd_rng *rng, const char *name, int l,
                            int *index) {
  int k = m->n_params;
  nd_status s = nd_tensor_alloc(&m->params[k], ndim, shape);
  if (s == ND_OK) s = nd_tensor_alloc(&m->grads[k], ndim, shape);
  if (s != ND_OK) { /* nd_tensor_alloc may fail after allocating nothing */
    nd_tensor_release(&m->params[k]);
    nd_tensor_release(&m->grads[k]);
    return s;
  }
  m->n_params++;
  if (bound > 0) nd_rng_uniform(rng, m->params[k].data, nd_tensor_numel(&m->params[k]), -bound, bound);
  else nd_tensor_fill(&m->params[k], 0.0f);
  snprintf(m->names[k], sizeof m->names[k], name, l);
  *index = k;
  return ND_OK;
}

/* FA's B_l and DFA's D_l, from their own stream (mlp.h). */
static nd_status make_feedback(nd_mlp *m) {
  const nd_mlp_config *c = &m->c;
  nd_rng root, rng;
  nd_rng_init(&root, c->seed);
  rng = nd_rng_split(&root, 0xfeedbac);
  int64_t classes = c->sizes[c->n_sizes - 1];
  for (int l = 0; l < m->n_layers; l++) {
    if (c->method == ND_CREDIT_FA && (l >= 1 || c->n_conv > 0)) { /* Lillicrap et al.: fixed random, W's shape and scale */
      int64_t fin = l == 0 ? m->flat : c->sizes[l];
      ND_TRY(nd_tensor_alloc(&m->feedback[l], 2, ND_SHAPE(c->sizes[l + 1], fin)));
      float bound = (float)(1.0 / sqrt((double)fin));
      nd_rng_uniform(&rng, m->feedback[l].data, c->sizes[l + 1] * fin, -bound, bound);
    }
    if (c->method == ND_CREDIT_DFA && l + 1 < m->n_layers) { /* Nokland's code: D_l ~ U(+-1/sqrt(n_l)) */
      ND_TRY(nd_tensor_alloc(&m->feedback[l], 2, ND_SHAPE(classes, c->sizes[l + 1])));
      float bound = (float)(1.0 / sqrt((double)c->sizes[l + 1]));
      nd_rng_uniform(&rng, m->feedback[l].data, classes * c->sizes[l + 1], -bound, bound);
    }
  }
  return nd__mlp_conv_feedback(m, &rng);
}

static nd_status make_params(nd_mlp *m) {
  const nd_mlp_config *c = &m->c;
  nd_rng rng;
  nd_rng_init(&rng, c->seed);
  ND_TRY(nd__mlp_conv_params(m, &rng)); /* first: m->flat is dense layer 0's input */
  for (int l = 0; l < m->n_layers; l++) {
    int64_t fin = l == 0 ? m->flat : c->sizes[l], fout = c->sizes[l + 1];
    float bound = (float)(1.0 / sqrt((double)fin)); /* Kaiming uniform with a = sqrt(5), as nn.Linear */
    ND_TRY(nd__mlp_add_param(m, 2, ND_SHAPE(fout, fin), bound, &rng, "layers.%d.weight", l, &m->w_index[l]));
    m->b_index[l] = -1;
    if (c->bias) ND_TRY(nd__mlp_add_param(m, 1, ND_SHAPE(fout), bound, &rng, "layers.%d.bias", l, &m->b_index[l]));
  }
  int64_t classes = c->sizes[c->n_sizes - 1];
  for (int l = 0; c->method == ND_CREDIT_DNI && l + 1 < m->n_layers; l++) { /* Jaderberg et al.: M starts at 0 */
    int64_t n = c->sizes[l + 1], k = n + (c->dni_conditioned ? classes : 0);
    ND_TRY(nd__mlp_add_param(m, 2, ND_SHAPE(n, k), 0.0f, &rng, "sg.%d.weight", l, &m->sg_w_index[l]));
    ND_TRY(nd__mlp_add_param(m, 1, ND_SHAPE(n), 0.0f, &rng, "sg.%d.bias", l, &m->sg_b_index[l]));
  }
  for (int l = 1; c->method == ND_CREDIT_DTP && l + 1 < m->n_layers; l++) { /* g_l: h_{l+1} -> h_l */
    int64_t fin = c->sizes[l + 1], fout = c->sizes[l];
    float bound = (float)(1.0 / sqrt((double)fin));
    ND_TRY(nd__mlp_add_param(m, 2, ND_SHAPE(fout, fin), bound, &rng, "inv.%d.weight", l, &m->inv_w_index[l]));
    ND_TRY(nd__mlp_add_param(m, 1, ND_SHAPE(fout), bound, &rng, "inv.%d.bias", l, &m->inv_b_index[l]));
  }
  for (int k = 0; c->method == ND_CREDIT_SUBTASK && k + 1 < nd__mlp_subtask_blocks(m); k++) { /* R_k(y) = onehot(y) E_k */
    int first, end;
    nd__mlp_subtask_block(m, k, &first, &end);
    float bound = (float)(1.0 / sqrt((double)classes));
    ND_TRY(nd__mlp_add_param(m, 2, ND_SHAPE(classes, c->sizes[end]), bound, &rng, "rep.%d.weight", k, &m->rep_index[k]));
  }
  return make_feedback(m);
}

nd_status nd_mlp_create(const nd_mlp_config *c, nd_mlp **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "mlp: out is NULL");
  *out = NULL;
  ND_TRY(check_config(c));
  nd_mlp *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "mlp: out of memory");
  m->c = *c;
  m->n_layers = c->n_sizes - 1;
  nd_status s = make_params(m);
  for (int i = 0; i < m->n_params; i++) {
    m->pp[i] = &m->params[i];
    m->gp[i] = &m->grads[i];
  }
  if (s == ND_OK) s = nd_tape_create(0, &m->tape);
  if (s != ND_OK) {
    nd_mlp_free(m);
    return nd__error(ND_ERR_NOMEM, "mlp: out of memory for the parameters");
  }
  *out = m;
  return ND_OK;
}

const nd_mlp_config *nd_mlp_config_of(const nd_mlp *m) { return &m->c; }
int nd_mlp_num_params(const nd_mlp *m) { return m->n_params; }
nd_tensor *nd_mlp_param(nd_mlp *m, int i) { return i >= 0 && i < m->n_params ? &m->params[i] : NULL; }
nd_tensor *nd_mlp_grad(nd_mlp *m, int i) { return i >= 0 && i < m->n_params ? &m->grads[i] : NULL; }
const char *nd_mlp_param_name(const nd_mlp *m, int i) { return i >= 0 && i < m->n_params ? m->names[i] : NULL; }
nd_tensor *const *nd_mlp_params(nd_mlp *m) { return m->pp; }
nd_tensor *const *nd_mlp_grads(nd_mlp *m) { return m->gp; }

nd_tensor *nd_mlp_feedback(nd_mlp *m, int layer) {
  if (!m || layer < 0 || layer >= m->n_layers || !m->feedback[layer].data) return NULL;
  return &m->feedback[layer];
}

nd_status nd_mlp_set_progress(nd_mlp *m, nd_progress_fn fn, void *user) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_set_progress: model is NULL");
  m->progress = fn, m->progress_user = user;
  return ND_OK;
}

nd_tensor *nd__mlp_scratch(nd_tape *tp, int64_t rows, int64_t cols) {
  float *d = nd_tape_alloc(tp, (size_t)(rows * cols) * sizeof(float));
  nd_tensor *t = nd_tape_alloc(tp, sizeof *t);
  if (!d || !t) return NULL;
  *t = nd_tensor_wrap(d, 2, ND_SHAPE(rows, cols));
  return t;
}

int nd__mlp_subtask_blocks(const nd_mlp *m) {
  int k = m->c.subtask_layers < 1 ? 1 : m->c.subtask_layers;
  return (m->n_layers + k - 1) / k; /* blocks of k layers from the input, the last one possibly shorter */
}

void nd__mlp_subtask_block(const nd_mlp *m, int k, int *first, int *end) {
  int nb = nd__mlp_subtask_blocks(m), per = m->c.subtask_layers;
  *first = k * per;
  *end = k + 1 == nb ? m->n_layers : (k + 1) * per;
}

nd_var *nd__mlp_activate(nd_tape *tp, const nd_mlp_config *c, nd_var *a) {
  switch (c->activation) {
    case ND_ACT_RELU: return nd_ad_relu(tp, a);
    case ND_ACT_TANH: return nd_ad_tanh(tp, a);
    case ND_ACT_SIGMOID: return nd_ad_sigmoid(tp, a);
    case ND_ACT_LEAKY_RELU: return nd_ad_leaky_relu(tp, a, c->act_param);
    case ND_ACT_RELU_POW: return nd_ad_relu_pow(tp, a, c->act_param); /* Krotov & Hopfield 2019, Eq. 11 */
    case ND_ACT_IDENTITY:
    default: return a;
  }
}

void nd__mlp_layer_params(nd_mlp *m, nd_tape *tp, int l, nd_var **w, nd_var **b) {
  *w = nd_tape_param(tp, &m->params[m->w_index[l]], &m->grads[m->w_index[l]]);
  *b = m->b_index[l] >= 0 ? nd_tape_param(tp, &m->params[m->b_index[l]], &m->grads[m->b_index[l]]) : NULL;
  if (m->hooking) nd__mlp_hook_param(m, tp, *w, m->w_index[l]), nd__mlp_hook_param(m, tp, *b, m->b_index[l]);
}

nd_var *nd__mlp_linear_const(nd_mlp *m, nd_tape *tp, int l, nd_var *in) {
  nd_var *w = nd_tape_constant(tp, &m->params[m->w_index[l]]);
  nd_var *b = m->b_index[l] >= 0 ? nd_tape_constant(tp, &m->params[m->b_index[l]]) : NULL;
  return nd_ad_linear(tp, in, w, b);
}

nd_var *nd_mlp_forward(nd_mlp *m, nd_tape *tp, nd_var *x) {
  if (m && m->c.method == ND_CREDIT_FF) return nd__mlp_ff_forward(m, tp, x);
  nd_var *h = m && m->c.n_conv > 0 ? nd__mlp_conv_front(m, tp, x, ND_CREDIT_BP, NULL, NULL, NULL) : x;
  for (int l = 0; m && l < m->n_layers; l++) {
    nd_var *w, *b;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    nd_var *a = nd_ad_linear(tp, h, w, b); /* a_l = h_l W_l^T + b_l */
    h = l + 1 < m->n_layers ? nd__mlp_activate(tp, &m->c, a) : a;
  }
  return h;
}

nd_var *nd_mlp_loss(nd_mlp *m, nd_tape *tp, nd_var *z, const int32_t *labels) {
  if (!z) return NULL;
  if (!m || !labels) {
    nd__error(ND_ERR_INVALID_ARG, "mlp loss: %s is NULL", m ? "labels" : "model");
    nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
    return NULL;
  }
  if (m->c.loss == ND_MLP_LOSS_CROSS_ENTROPY) return nd_ad_cross_entropy(tp, z, labels);
  /* Krotov & Hopfield 2019, Eq. 11-12: c = tanh(beta z), C = sum |c - t|^m, t = +-1 */
  const nd_tensor *zv = nd_var_value(z);
  int64_t rows = zv->shape[0], cols = zv->ndim == 2 ? zv->shape[1] : 0;
  if (zv->ndim != 2 || rows < 1) {
    char s[64];
    nd__error(ND_ERR_SHAPE, "mlp loss: output is %s, expected [batch, classes]", nd_tensor_shape_str(zv, s, 64));
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  float *t = nd_tape_alloc(tp, (size_t)(rows * cols) * sizeof(float));
  if (!t) return NULL;
  for (int64_t r = 0; r < rows; r++) {
    if (labels[r] < 0 || labels[r] >= cols) {
      nd__error(ND_ERR_INVALID_ARG, "mlp loss: label %d of row %lld is outside 0..%lld", (int)labels[r],
                (long long)r, (long long)cols - 1);
      nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
      return NULL;
    }
    for (int64_t k = 0; k < cols; k++) t[r * cols + k] = k == labels[r] ? 1.0f : -1.0f;
  }
  nd_tensor tt = nd_tensor_wrap(t, 2, zv->shape);
  nd_var *c = nd_ad_tanh(tp, nd_ad_scale(tp, z, m->c.out_scale));
  nd_var *loss = nd_ad_abs_power_loss(tp, c, nd_tape_constant(tp, &tt), m->c.loss_power);
  return nd_ad_scale(tp, loss, (float)(1.0 / (double)rows));
}

nd_status nd_mlp_predict(nd_mlp *m, const float *x, int64_t n, int64_t batch_size, int32_t *pred) {
  if (!m || !x || !pred) return nd__error(ND_ERR_INVALID_ARG, "mlp predict: NULL argument");
  if (n < 0 || batch_size < 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp predict: n = %lld, batch_size = %lld", (long long)n,
                     (long long)batch_size);
  int64_t d = m->c.sizes[0], classes = m->c.sizes[m->c.n_sizes - 1];
  nd_tape *tp = m->tape;
  bool was = nd_tape_is_recording(tp);
  nd_tape_set_recording(tp, false);
  nd_status s = ND_OK;
  for (int64_t start = 0; start < n && s == ND_OK; start += batch_size) {
    int64_t rows = start + batch_size <= n ? batch_size : n - start;
    nd_tape_reset(tp);
    nd_tensor xb = nd_tensor_wrap((float *)(x + start * d), 2, ND_SHAPE(rows, d)); /* read only */
    nd_var *z = nd_mlp_forward(m, tp, nd_tape_constant(tp, &xb));
    int64_t *idx = nd_tape_alloc(tp, (size_t)rows * sizeof(int64_t));
    s = nd_tape_status(tp);
    if (s != ND_OK) break;
    nd_row_argmax(nd_var_value(z)->data, rows, classes, idx);
    for (int64_t r = 0; r < rows; r++) pred[start + r] = (int32_t)idx[r];
  }
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, was);
  return s;
}

nd_status nd_mlp_accuracy(nd_mlp *m, const float *x, const int32_t *labels, int64_t n, int64_t batch_size,
                          double *accuracy) {
  if (!labels || !accuracy) return nd__error(ND_ERR_INVALID_ARG, "mlp accuracy: NULL argument");
  if (n < 1) return nd__error(ND_ERR_INVALID_ARG, "mlp accuracy: n = %lld, need >= 1", (long long)n);
  int32_t *pred = malloc((size_t)n * sizeof *pred);
  if (!pred) return nd__error(ND_ERR_NOMEM, "mlp accuracy: out of memory for %lld predictions", (long long)n);
  nd_status s = nd_mlp_predict(m, x, n, batch_size, pred);
  int64_t correct = 0;
  for (int64_t r = 0; s == ND_OK && r < n; r++) correct += pred[r] == labels[r];
  free(pred);
  if (s == ND_OK) *accuracy = (double)correct / (double)n;
  return s;
}
