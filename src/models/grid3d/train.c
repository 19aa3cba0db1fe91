/* The grid model's graphs for BP, DFA and FF (grid3d.h; the credit ops of
 * src/learning/, docs/credit.md), the minibatch step (lazy Adam on the
 * computed nodes, the read-out's optimizer, growth), the epoch, inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/optim.h"
#include "internal.h"

#define FF_EPS 1e-8f    /* length normalisation x / (||x|| / sqrt(d) + eps), as the MLP's FF */
#define FF_NEUTRAL 0.1f /* neutral label (Hinton 2022, Sec. 3.3) */

/* A normalised (FF) or plain detached copy of rows [from, from + count) of v. */
static nd_var *cut(nd_tape *tp, nd_var *v, int64_t from, int64_t count, bool normalise) {
  if (!v) return NULL;
  const nd_tensor *t = nd_var_value(v);
  int64_t cols = t->shape[1];
  float *buf = nd_tape_alloc(tp, (size_t)(count * cols) * sizeof(float) + 1);
  nd_tensor *w = nd_tape_alloc(tp, sizeof *w);
  if (!buf || !w) return NULL;
  if (normalise) nd_credit_ff_normalize(t->data + from * cols, count, cols, FF_EPS, buf);
  else memcpy(buf, t->data + from * cols, (size_t)(count * cols) * sizeof(float));
  *w = nd_tensor_wrap(buf, 2, ND_SHAPE(count, cols));
  return nd_tape_constant(tp, w);
}

static nd_var *zeros(nd_tape *tp, int64_t rows, int64_t cols) {
  float *buf = nd_tape_alloc(tp, (size_t)(rows * cols) * sizeof(float) + 1);
  nd_tensor *w = nd_tape_alloc(tp, sizeof *w);
  if (!buf || !w) return NULL;
  memset(buf, 0, (size_t)(rows * cols) * sizeof(float));
  *w = nd_tensor_wrap(buf, 2, ND_SHAPE(rows, cols));
  return nd_tape_constant(tp, w);
}

/* The steps over the groups from x [R, in_cols]; h[g] receives each group's
 * final state.  BP: one graph; DFA: every input detached; FF: every input
 * length-normalised and detached. */
static nd_status unroll(nd_grid3d *m, nd_tape *tp, nd_var *x, nd_var **h) {
  const nd_credit_method meth = m->c.method;
  const bool cutting = meth != ND_CREDIT_BP, ff = meth == ND_CREDIT_FF;
  const int64_t rows = nd_var_value(x)->shape[0];
  nd_var *prev[ND_GRID3D_MAX_GROUPS] = {0};
  for (int g = 0; g < m->n_groups && g3_has_lateral(m); g++) prev[g] = zeros(tp, rows, g3_group_size(m, g) * m->c.dim);
  for (int t = 0; t < m->c.steps; t++) {
    nd_var *in = x;
    for (int g = 0; g < m->n_groups; g++) {
      nd_var *xin = cutting ? cut(tp, in, 0, rows, ff) : in;
      nd_var *xl = g3_has_lateral(m) ? (cutting && t > 0 ? cut(tp, prev[g], 0, rows, false) : prev[g]) : NULL;
      prev[g] = nd__g3_layer(m, tp, g, xin, xl);
      in = prev[g];
    }
  }
  for (int g = 0; g < m->n_groups; g++) h[g] = prev[g];
  return nd_tape_status(tp);
}

static nd_var *readout(nd_grid3d *m, nd_tape *tp, nd_var *top) {
  nd_var *w = nd_tape_param(tp, &m->ro_w, &m->ro_gw), *b = nd_tape_param(tp, &m->ro_b, &m->ro_gb);
  return nd_ad_linear(tp, top, w, b); /* z = h_top W_out^T + b_out */
}

/* x [B, pixels] with the label columns in front (FF), into the tape. */
static nd_var *input_rows(nd_grid3d *m, nd_tape *tp, const float *x, int64_t rows, int copies) {
  const int64_t px = m->c.in_h * m->c.in_w, cols = m->in_cols;
  float *buf = nd_tape_alloc(tp, (size_t)(copies * rows * cols) * sizeof(float) + 1);
  nd_tensor *t = nd_tape_alloc(tp, sizeof *t);
  if (!buf || !t) return NULL;
  for (int64_t r = 0; r < copies * rows; r++) {
    memset(buf + r * cols, 0, (size_t)m->label_cols * sizeof(float));
    memcpy(buf + r * cols + m->label_cols, x + (r % rows) * px, (size_t)px * sizeof(float));
  }
  *t = nd_tensor_wrap(buf, 2, ND_SHAPE(copies * rows, cols));
  return nd_tape_constant(tp, t);
}

/* Inference graph from the input rows (label columns already there). */
static nd_var *infer(nd_grid3d *m, nd_tape *tp, nd_var *xin, nd_var **h) {
  if (m->c.method == ND_CREDIT_FF)
    nd_credit_ff_embed(nd_var_value(xin)->data, nd_var_value(xin)->shape[0], m->in_cols, m->c.classes, NULL, FF_NEUTRAL);
  if (unroll(m, tp, xin, h) != ND_OK) return NULL;
  nd_var *top = h[m->n_groups - 1];
  if (m->c.method == ND_CREDIT_FF) top = cut(tp, top, 0, nd_var_value(top)->shape[0], true);
  return readout(m, tp, top);
}

nd_var *nd_grid3d_forward(nd_grid3d *m, nd_tape *tp, nd_var *x) {
  if (!m || !tp || !x) return NULL;
  const nd_tensor *xv = nd_var_value(x);
  if (xv->ndim != 2 || xv->shape[1] != m->c.in_h * m->c.in_w) {
    char s[64];
    nd__error(ND_ERR_SHAPE, "grid3d: input is %s, expected [batch, %lld]", nd_tensor_shape_str(xv, s, 64),
              (long long)(m->c.in_h * m->c.in_w));
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  nd_var *h[ND_GRID3D_MAX_GROUPS];
  nd_var *xin = m->label_cols ? input_rows(m, tp, xv->data, xv->shape[0], 1) : x;
  return xin ? infer(m, tp, xin, h) : NULL;
}

static void zero_grads(nd_grid3d *m) {
  for (int64_t i = 0; i < m->n; i++) {
    g3_node *nd = &m->nodes[i];
    if (nd->block) {
      int64_t np = g3_np(m, nd);
      memset(nd->block + np, 0, (size_t)np * sizeof(float));
    }
  }
  nd_tensor_fill(&m->ro_gw, 0.0f), nd_tensor_fill(&m->ro_gb, 0.0f);
}

static nd_status check_labels(const nd_grid3d *m, const int32_t *labels, int64_t rows) {
  for (int64_t r = 0; r < rows; r++)
    if (labels[r] < 0 || labels[r] >= m->c.classes)
      return nd__error(ND_ERR_INVALID_ARG, "grid3d: label %d of row %lld is outside 0..%lld", (int)labels[r],
                       (long long)r, (long long)m->c.classes - 1);
  return ND_OK;
}

/* FF (Hinton 2022, Sec. 3.3): [positive; negative; neutral] rows, each
 * group's goodness loss (Eq. 1) on its final state, the read-out's
 * cross-entropy on the normalised neutral rows of the top group. */
static nd_var *ff_loss(nd_grid3d *m, nd_tape *tp, const float *x, const int32_t *labels, int64_t rows, nd_rng *rng) {
  const int64_t k = m->c.classes;
  int32_t *neg = nd_tape_alloc(tp, (size_t)rows * sizeof(int32_t) + 1);
  nd_var *xin = input_rows(m, tp, x, rows, 3);
  if (!neg || !xin) return NULL;
  for (int64_t r = 0; r < rows; r++) { /* a wrong label, uniform over the other classes */
    uint32_t u = rng ? nd_rng_u32(rng) : (uint32_t)(r * 2654435761u);
    neg[r] = (int32_t)((labels[r] + 1 + (int64_t)(u % (uint32_t)(k - 1))) % k);
  }
  float *buf = nd_var_value(xin)->data;
  nd_credit_ff_embed(buf, rows, m->in_cols, k, labels, 0.0f);
  nd_credit_ff_embed(buf + rows * m->in_cols, rows, m->in_cols, k, neg, 0.0f);
  nd_credit_ff_embed(buf + 2 * rows * m->in_cols, rows, m->in_cols, k, NULL, FF_NEUTRAL);
  nd_var *h[ND_GRID3D_MAX_GROUPS];
  if (unroll(m, tp, xin, h) != ND_OK) return NULL;
  nd_var *total = NULL;
  for (int g = 0; g < m->n_groups; g++) {
    float theta = m->c.ff_theta > 0 ? m->c.ff_theta : (float)(g3_group_size(m, g) * m->c.dim);
    nd_var *l = nd_credit_ff_loss(tp, h[g], rows, rows, theta);
    total = total ? nd_ad_add(tp, total, l) : l;
  }
  nd_var *z = readout(m, tp, cut(tp, h[m->n_groups - 1], 2 * rows, rows, true));
  nd_var *ce = nd_ad_cross_entropy(tp, z, labels);
  return total ? nd_ad_add(tp, total, ce) : ce;
}

nd_status nd_grid3d_batch_grads(nd_grid3d *m, const float *x, const int32_t *labels, int64_t rows, nd_rng *rng,
                                double *loss) {
  if (!m || !x || !labels || rows < 1) return nd__error(ND_ERR_INVALID_ARG, "grid3d batch: NULL argument or no rows");
  ND_TRY(check_labels(m, labels, rows));
  nd_tape *tp = m->tape;
  bool was = nd_tape_is_recording(tp);
  nd_tape_set_recording(tp, true);
  nd_tape_reset(tp);
  zero_grads(m);
  m->training = true;
  nd_var *total = NULL;
  if (m->c.method == ND_CREDIT_FF) {
    total = ff_loss(m, tp, x, labels, rows, rng);
  } else {
    nd_var *h[ND_GRID3D_MAX_GROUPS];
    nd_var *xin = input_rows(m, tp, x, rows, 1);
    if (xin && unroll(m, tp, xin, h) == ND_OK) {
      nd_var *top = h[m->n_groups - 1];
      if (m->c.method == ND_CREDIT_DFA) { /* Nokland 2016, Eq. 3: e D_g to every group, inputs detached */
        nd_var *z = readout(m, tp, cut(tp, top, 0, rows, false));
        const nd_tensor *fb[ND_GRID3D_MAX_GROUPS];
        for (int g = 0; g < m->n_groups; g++) fb[g] = &m->feedback[g];
        z = nd_credit_dfa_output(tp, z, m->n_groups, h, fb);
        total = nd_ad_cross_entropy(tp, z, labels);
      } else {
        total = nd_ad_cross_entropy(tp, readout(m, tp, top), labels);
      }
    }
  }
  nd_status s = nd_tape_status(tp);
  if (s == ND_OK && !total) s = nd__error(ND_ERR_INTERNAL, "grid3d: no loss");
  if (s == ND_OK) s = nd_tape_backward(tp, total);
  if (s == ND_OK && loss) *loss = nd_var_item(total);
  m->training = false;
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, was);
  return s;
}

nd_status nd_grid3d_apply(nd_grid3d *m, nd_optim *opt) {
  if (!m || !opt) return nd__error(ND_ERR_INVALID_ARG, "grid3d apply: NULL argument");
  const float lr = nd_optim_lr(opt);
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.beta1 = m->c.beta1, oc.beta2 = m->c.beta2, oc.eps = m->c.eps;
  for (int64_t i = 0; i < m->n; i++) {
    g3_node *nd = &m->nodes[i];
    if (!nd->block || !nd->computed) continue; /* lazy Adam: only the nodes computed in this minibatch */
    int64_t np = g3_np(m, nd);
    float *p = nd->block;
    for (int64_t j = 0; j < np; j++)
      if (!isfinite(p[np + j]))
        return nd__error(ND_ERR_NUMERIC, "grid3d: gradient of node %lld holds NaN or Inf", (long long)i);
    nd->steps++;
    nd__adam_update(&oc, nd->steps, lr, p, p + np, p + 2 * np, p + 3 * np, np);
  }
  ND_TRY(nd_optim_step(opt));
  return nd_grid3d_grow(m);
}

static nd_status grow_buffers(nd_grid3d *m, int64_t rows) {
  if (rows <= m->buf_rows) return ND_OK;
  int64_t px = m->c.in_h * m->c.in_w;
  float *xb = realloc(m->xbuf, (size_t)(rows * px) * sizeof(float));
  if (xb) m->xbuf = xb;
  int32_t *yb = realloc(m->ybuf, (size_t)rows * sizeof(int32_t));
  if (yb) m->ybuf = yb;
  if (!xb || !yb) return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for a batch of %lld", (long long)rows);
  m->buf_rows = rows;
  return ND_OK;
}

nd_status nd_grid3d_train_epoch(nd_grid3d *m, nd_optim *opt, const float *x, const int32_t *labels, int64_t n,
                                int64_t batch_size, nd_rng *rng, double *mean_loss) {
  if (!m || !opt || !x || !labels || !rng) return nd__error(ND_ERR_INVALID_ARG, "grid3d train: NULL argument");
  if (n < 1 || batch_size < 1)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d train: n = %lld, batch_size = %lld, need both >= 1", (long long)n,
                     (long long)batch_size);
  int64_t bs = batch_size < n ? batch_size : n, px = m->c.in_h * m->c.in_w;
  ND_TRY(grow_buffers(m, bs));
  ND_TRY(nd_sampler_begin_from(&m->sampler, n, bs, false, rng));
  int64_t total_batches = (n + bs - 1) / bs, done = 0;
  double total = 0.0;
  const int64_t *idx;
  int64_t rows;
  nd_status s = ND_OK;
  while (s == ND_OK && nd_sampler_next(&m->sampler, &idx, &rows)) {
    nd_sampler_gather(x, px, idx, rows, m->xbuf);
    for (int64_t r = 0; r < rows; r++) m->ybuf[r] = labels[idx[r]];
    double l = 0;
    s = nd_grid3d_batch_grads(m, m->xbuf, m->ybuf, rows, rng, &l);
    if (s == ND_OK) s = nd_grid3d_apply(m, opt);
    total += l * (double)rows;
    if (m->progress) m->progress(&(nd_progress_info){0, ++done, total_batches}, m->progress_user);
  }
  if (s != ND_OK) {
    nd_sampler_end(&m->sampler);
    return s;
  }
  if (mean_loss) *mean_loss = total / (double)n;
  return ND_OK;
}

/* Inference on rows [start, start + rows): z, and the node states. */
static nd_status infer_rows(nd_grid3d *m, const float *x, int64_t rows, float *states, float *logits, int32_t *pred) {
  nd_tape *tp = m->tape;
  nd_tape_reset(tp);
  nd_var *h[ND_GRID3D_MAX_GROUPS];
  nd_var *xin = input_rows(m, tp, x, rows, 1);
  nd_var *z = xin ? infer(m, tp, xin, h) : NULL;
  ND_TRY(nd_tape_status(tp));
  if (!z) return nd__error(ND_ERR_INTERNAL, "grid3d: no output");
  const int64_t k = m->c.classes, d = m->c.dim;
  if (logits) memcpy(logits, nd_var_value(z)->data, (size_t)(rows * k) * sizeof(float));
  if (pred) {
    int64_t *idx = nd_tape_alloc(tp, (size_t)rows * sizeof(int64_t));
    if (!idx) return nd_tape_status(tp);
    nd_row_argmax(nd_var_value(z)->data, rows, k, idx);
    for (int64_t r = 0; r < rows; r++) pred[r] = (int32_t)idx[r];
  }
  for (int g = 0; states && g < m->n_groups; g++) {
    const float *hv = nd_var_value(h[g])->data;
    int64_t ng = g3_group_size(m, g);
    for (int64_t r = 0; r < rows; r++)
      memcpy(states + (r * m->n + m->gstart[g]) * d, hv + r * ng * d, (size_t)(ng * d) * sizeof(float));
  }
  return ND_OK;
}

static nd_status run_inference(nd_grid3d *m, const float *x, int64_t n, int64_t batch_size, float *states,
                               float *logits, int32_t *pred) {
  nd_tape *tp = m->tape;
  bool was = nd_tape_is_recording(tp);
  nd_tape_set_recording(tp, false);
  const int64_t px = m->c.in_h * m->c.in_w;
  nd_status s = ND_OK;
  for (int64_t start = 0; start < n && s == ND_OK; start += batch_size) {
    int64_t rows = start + batch_size <= n ? batch_size : n - start;
    s = infer_rows(m, x + start * px, rows, states ? states + start * m->n * m->c.dim : NULL,
                   logits ? logits + start * m->c.classes : NULL, pred ? pred + start : NULL);
  }
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, was);
  return s;
}

nd_status nd_grid3d_predict(nd_grid3d *m, const float *x, int64_t n, int64_t batch_size, int32_t *pred) {
  if (!m || !x || !pred) return nd__error(ND_ERR_INVALID_ARG, "grid3d predict: NULL argument");
  if (n < 0 || batch_size < 1)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d predict: n = %lld, batch_size = %lld", (long long)n, (long long)batch_size);
  return run_inference(m, x, n, batch_size, NULL, NULL, pred);
}

nd_status nd_grid3d_states(nd_grid3d *m, const float *x, int64_t rows, float *states, float *logits) {
  if (!m || !x || (!states && !logits) || rows < 1)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d states: NULL argument or no rows");
  return run_inference(m, x, rows, rows, states, logits, NULL);
}

nd_status nd_grid3d_accuracy(nd_grid3d *m, const float *x, const int32_t *labels, int64_t n, int64_t batch_size,
                             double *accuracy) {
  if (!labels || !accuracy) return nd__error(ND_ERR_INVALID_ARG, "grid3d accuracy: NULL argument");
  if (n < 1) return nd__error(ND_ERR_INVALID_ARG, "grid3d accuracy: n = %lld, need >= 1", (long long)n);
  int32_t *pred = malloc((size_t)n * sizeof *pred);
  if (!pred) return nd__error(ND_ERR_NOMEM, "grid3d accuracy: out of memory for %lld predictions", (long long)n);
  nd_status s = nd_grid3d_predict(m, x, n, batch_size, pred);
  int64_t correct = 0;
  for (int64_t r = 0; s == ND_OK && r < n; r++) correct += pred[r] == labels[r];
  free(pred);
  if (s == ND_OK) *accuracy = (double)correct / (double)n;
  return s;
}
