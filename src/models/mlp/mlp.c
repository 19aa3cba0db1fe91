/* Dense MLP on the autodiff tape (equations in include/neurodyn/mlp.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/mlp.h"

#define MAXP (2 * ND_MLP_MAX_LAYERS)

struct nd_mlp {
  nd_mlp_config c;
  int n_layers;
  int n_params;
  nd_tensor params[MAXP];  /* W_l [sizes[l+1], sizes[l]], b_l [sizes[l+1]] */
  nd_tensor grads[MAXP];
  nd_tensor *pp[MAXP], *gp[MAXP];
  int w_index[ND_MLP_MAX_LAYERS], b_index[ND_MLP_MAX_LAYERS]; /* b_index -1 without bias */
  char names[MAXP][32];
  nd_tape *tape;
  /* gather buffers for shuffled minibatches, grown on demand */
  float *xbuf;
  int32_t *ybuf;
  int64_t buf_rows;
  nd_sampler sampler; /* the minibatch order, from the caller's stream */
};

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
  return ND_OK;
}

void nd_mlp_free(nd_mlp *m) {
  if (!m) return;
  for (int i = 0; i < m->n_params; i++) {
    nd_tensor_release(&m->params[i]);
    nd_tensor_release(&m->grads[i]);
  }
  nd_tape_free(m->tape);
  free(m->xbuf);
  free(m->ybuf);
  nd_sampler_release(&m->sampler);
  free(m);
}

nd_status nd_mlp_create(const nd_mlp_config *c, nd_mlp **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "mlp: out is NULL");
  *out = NULL;
  ND_TRY(check_config(c));
  nd_mlp *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "mlp: out of memory");
  m->c = *c;
  m->n_layers = c->n_sizes - 1;
  nd_rng rng;
  nd_rng_init(&rng, c->seed);
  nd_status s = ND_OK;
  for (int l = 0; l < m->n_layers && s == ND_OK; l++) {
    int64_t fin = c->sizes[l], fout = c->sizes[l + 1];
    float bound = (float)(1.0 / sqrt((double)fin)); /* Kaiming uniform with a = sqrt(5), as nn.Linear */
    int k = m->n_params;
    m->w_index[l] = k;
    s = nd_tensor_alloc(&m->params[k], 2, ND_SHAPE(fout, fin));
    if (s == ND_OK) s = nd_tensor_alloc(&m->grads[k], 2, ND_SHAPE(fout, fin));
    if (s != ND_OK) break;
    m->n_params++;
    nd_rng_uniform(&rng, m->params[k].data, fout * fin, -bound, bound);
    snprintf(m->names[k], sizeof m->names[k], "layers.%d.weight", l);
    m->b_index[l] = -1;
    if (c->bias) {
      k = m->n_params;
      m->b_index[l] = k;
      s = nd_tensor_alloc(&m->params[k], 1, ND_SHAPE(fout));
      if (s == ND_OK) s = nd_tensor_alloc(&m->grads[k], 1, ND_SHAPE(fout));
      if (s != ND_OK) break;
      m->n_params++;
      nd_rng_uniform(&rng, m->params[k].data, fout, -bound, bound);
      snprintf(m->names[k], sizeof m->names[k], "layers.%d.bias", l);
    }
  }
  for (int i = 0; i < m->n_params; i++) {
    m->pp[i] = &m->params[i];
    m->gp[i] = &m->grads[i];
  }
  if (s == ND_OK) s = nd_tape_create(0, &m->tape);
  if (s != ND_OK) {
    /* nd_tensor_alloc may fail after allocating nothing: release what is counted
     * plus a possibly half-made pair */
    if (m->n_params < MAXP) {
      nd_tensor_release(&m->params[m->n_params]);
      nd_tensor_release(&m->grads[m->n_params]);
    }
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

static nd_var *activate(nd_tape *tp, const nd_mlp_config *c, nd_var *a) {
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

nd_var *nd_mlp_forward(nd_mlp *m, nd_tape *tp, nd_var *x) {
  nd_var *h = x;
  for (int l = 0; l < m->n_layers; l++) {
    nd_var *w = nd_tape_param(tp, &m->params[m->w_index[l]], &m->grads[m->w_index[l]]);
    nd_var *b = m->b_index[l] >= 0 ? nd_tape_param(tp, &m->params[m->b_index[l]], &m->grads[m->b_index[l]]) : NULL;
    nd_var *a = nd_ad_linear(tp, h, w, b); /* a_l = h_l W_l^T + b_l */
    h = l + 1 < m->n_layers ? activate(tp, &m->c, a) : a;
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

static nd_status grow_buffers(nd_mlp *m, int64_t rows, int64_t n) {
  int64_t d = m->c.sizes[0];
  if (rows > m->buf_rows) {
    float *x = realloc(m->xbuf, (size_t)(rows * d) * sizeof(float));
    if (x) m->xbuf = x;
    int32_t *y = realloc(m->ybuf, (size_t)rows * sizeof(int32_t));
    if (y) m->ybuf = y;
    if (!x || !y) return nd__error(ND_ERR_NOMEM, "mlp: out of memory for a %lld-row batch", (long long)rows);
    m->buf_rows = rows;
  }
  (void)n;
  return ND_OK;
}

nd_status nd_mlp_train_epoch(nd_mlp *m, nd_optim *opt, const float *x, const int32_t *labels, int64_t n,
                             int64_t batch_size, nd_rng *rng, double *mean_loss) {
  if (!m || !opt || !x || !labels || !rng) return nd__error(ND_ERR_INVALID_ARG, "mlp train: NULL argument");
  if (n < 1 || batch_size < 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp train: n = %lld, batch_size = %lld, need both >= 1", (long long)n,
                     (long long)batch_size);
  int64_t bs = batch_size < n ? batch_size : n;
  ND_TRY(grow_buffers(m, bs, n));
  int64_t d = m->c.sizes[0];
  ND_TRY(nd_sampler_begin_from(&m->sampler, n, bs, false, rng));
  nd_tape *tp = m->tape;
  nd_tape_set_recording(tp, true);
  double total = 0.0;
  const int64_t *idx;
  int64_t rows;
  while (nd_sampler_next(&m->sampler, &idx, &rows)) {
    nd_sampler_gather(x, d, idx, rows, m->xbuf);
    for (int64_t r = 0; r < rows; r++) m->ybuf[r] = labels[idx[r]];
    nd_tape_reset(tp);
    nd_optim_zero_grad(opt);
    nd_tensor xb = nd_tensor_wrap(m->xbuf, 2, ND_SHAPE(rows, d));
    nd_var *z = nd_mlp_forward(m, tp, nd_tape_constant(tp, &xb));
    nd_var *loss = nd_mlp_loss(m, tp, z, m->ybuf);
    ND_TRY(nd_tape_status(tp));
    ND_TRY(nd_tape_backward(tp, loss));
    ND_TRY(nd_optim_step(opt));
    total += (double)nd_var_item(loss) * (double)rows;
  }
  if (mean_loss) *mean_loss = total / (double)n;
  return ND_OK;
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
