/* One batch's gradient under each credit-assignment method, the epoch, and
 * the angle of a method's gradient to the true one (include/neurodyn/mlp.h,
 * docs/credit.md).  The methods' ops are in src/learning/ (credit.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "internal.h"
#include "neurodyn/kernels.h"

/* BP, FA and DFA: one graph whose backward gives the method's gradient.
 * BP: a_l = h_l W_l^T + b_l all the way (Rumelhart et al. 1986).
 * FA: the same forward; the VJP of every layer above the first sends the
 *     error down through B_l (Lillicrap et al. 2016).
 * DFA: every layer's input detached; z passes through the op that sends
 *     e D_l to each hidden activity (Nokland 2016, Eq. 3). */
static nd_var *feedback_graph(nd_mlp *m, nd_tape *tp, nd_var *x) {
  nd_var *h = x, *hidden[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV];
  const nd_tensor *D[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV];
  int nh = 0;
  if (m->c.n_conv > 0) h = nd__mlp_conv_front(m, tp, x, m->c.method, hidden, D, &nh); /* conv.c */
  for (int l = 0; l < m->n_layers; l++) {
    nd_var *w, *b, *a;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    if (m->c.method == ND_CREDIT_FA && m->feedback[l].data) a = nd_credit_linear_fa(tp, h, w, b, &m->feedback[l]);
    else a = nd_ad_linear(tp, m->c.method == ND_CREDIT_DFA ? nd_credit_detach(tp, h) : h, w, b);
    if (l + 1 == m->n_layers) return m->c.method == ND_CREDIT_DFA ? nd_credit_dfa_output(tp, a, nh, hidden, D) : a;
    h = nd__mlp_activate(tp, &m->c, a);
    hidden[nh] = h, D[nh++] = &m->feedback[l];
  }
  return h;
}

/* cDNI's module input [h, onehot(y)] (or h) into the tape's arena. */
static float *sg_input(nd_tape *tp, const nd_tensor *h, const int32_t *labels, int64_t k) {
  int64_t rows = h->shape[0], n = h->shape[1];
  float *in = nd_tape_alloc(tp, (size_t)(rows * k) * sizeof(float));
  if (!in) return NULL;
  for (int64_t r = 0; r < rows; r++) {
    memcpy(in + r * k, h->data + r * n, (size_t)n * sizeof(float));
    if (k > n) nd_credit_ff_embed(in + r * k + n, 1, k - n, k - n, labels + r, 0.0f);
  }
  return in;
}

/* DNI (Jaderberg et al. 2017, Sec. 2, 3.1): each layer's input is a fresh
 * leaf, hidden layer l is updated with dhat_l = M_l([h_l, y]) / B (the
 * module predicts the per-example gradient; the loss is a batch mean), the
 * output layer with the loss.  After backward the gradient that arrived at
 * the leaf over h_l (the true one below the output layer, the next module's
 * synthetic one carried through a layer further down: the paper's
 * bootstrap) is M_l's regression target. */
static nd_status dni_grads(nd_mlp *m, nd_tape *tp, nd_var *x, const int32_t *labels, int64_t rows, double *loss) {
  nd_var *h = x, *leaf[ND_MLP_MAX_LAYERS], *total = NULL;
  nd_tensor sg_in[ND_MLP_MAX_LAYERS], sg_pred[ND_MLP_MAX_LAYERS];
  for (int l = 0; l < m->n_layers; l++) {
    nd_var *w, *b;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    nd_var *a = nd_ad_linear(tp, h, w, b);
    if (l + 1 == m->n_layers) {
      nd_var *lv = nd_mlp_loss(m, tp, a, labels);
      total = total ? nd_ad_add(tp, lv, total) : lv;
      break;
    }
    nd_var *hl = nd__mlp_activate(tp, &m->c, a);
    ND_TRY(nd_tape_status(tp));
    const nd_tensor *hv = nd_var_value(hl);
    const nd_tensor *U = &m->params[m->sg_w_index[l]], *c = &m->params[m->sg_b_index[l]];
    int64_t n = hv->shape[1], k = U->shape[1];
    float *in = sg_input(tp, hv, labels, k), *pred = nd_tape_alloc(tp, (size_t)(rows * n) * sizeof(float));
    float *g = nd_tape_alloc(tp, (size_t)(rows * n) * sizeof(float));
    if (!in || !pred || !g) return nd_tape_status(tp);
    nd_sgemm(false, true, rows, n, k, 1.0f, in, k, U->data, k, 0.0f, pred, n); /* M(h, y) = [h, y] U^T + c */
    nd_add_channel_bias(pred, c->data, rows, n, 1);
    sg_in[l] = nd_tensor_wrap(in, 2, ND_SHAPE(rows, k));
    sg_pred[l] = nd_tensor_wrap(pred, 2, ND_SHAPE(rows, n));
    if (m->sg_override) memcpy(g, m->sg_override[l]->data, (size_t)(rows * n) * sizeof(float));
    else
      for (int64_t i = 0; i < rows * n; i++) g[i] = pred[i] / (float)rows;
    nd_tensor *gt = nd_tape_alloc(tp, sizeof *gt);
    if (!gt) return nd_tape_status(tp);
    *gt = nd_tensor_wrap(g, 2, hv->shape);
    nd_var *inj = nd_credit_inject(tp, hl, gt);
    total = total ? nd_ad_add(tp, total, inj) : inj;
    h = leaf[l] = nd_tape_variable(tp, hv);
  }
  ND_TRY(nd_tape_backward(tp, total));
  if (loss) *loss = nd_var_item(total);
  for (int l = 0; l + 1 < m->n_layers; l++) { /* M_l regressed on B * dL/dh_l as it arrived */
    const nd_tensor *d = nd_var_grad(leaf[l]);
    if (!d) return nd__error(ND_ERR_INVALID_ARG, "mlp dni: no gradient reached hidden layer %d", l);
    float *t = nd_tape_alloc(tp, (size_t)nd_tensor_numel(d) * sizeof(float));
    if (!t) return nd_tape_status(tp);
    for (int64_t i = 0; i < nd_tensor_numel(d); i++) t[i] = d->data[i] * (float)rows;
    nd_tensor target = nd_tensor_wrap(t, 2, d->shape);
    float *work = nd_tape_alloc(tp, (size_t)nd_tensor_numel(d) * sizeof(float));
    if (!work) return nd_tape_status(tp);
    ND_TRY(nd_credit_regression_grads(&sg_in[l], &sg_pred[l], &target, work, &m->grads[m->sg_w_index[l]],
                                      &m->grads[m->sg_b_index[l]], NULL));
  }
  return ND_OK;
}

void nd__mlp_set_sg_override(nd_mlp *m, const nd_tensor *const *g) { m->sg_override = g; }

static nd_status method_grads(nd_mlp *m, nd_credit_method method, const float *x, const int32_t *labels, int64_t rows,
                              double *loss) {
  for (int i = 0; i < m->n_params; i++) nd_tensor_fill(&m->grads[i], 0.0f);
  nd_credit_method saved = m->c.method;
  m->c.method = method;
  nd_status s;
  if (method == ND_CREDIT_FF) {
    s = nd__mlp_ff_grads(m, x, labels, rows, loss);
  } else {
    nd_tape *tp = m->tape;
    bool was = nd_tape_is_recording(tp);
    nd_tape_set_recording(tp, true);
    nd_tape_reset(tp);
    nd_tensor xb = nd_tensor_wrap((float *)x, 2, ND_SHAPE(rows, m->c.sizes[0])); /* read only */
    nd_var *xv = nd_tape_constant(tp, &xb);
    if (method == ND_CREDIT_DNI) {
      s = dni_grads(m, tp, xv, labels, rows, loss);
    } else if (method == ND_CREDIT_DTP) {
      s = nd__mlp_dtp_grads(m, x, labels, rows, loss);
    } else if (method == ND_CREDIT_AM) {
      s = nd__mlp_am_grads(m, x, labels, rows, loss);
    } else if (method == ND_CREDIT_SUBTASK) {
      s = nd__mlp_subtask_grads(m, x, labels, rows, loss);
    } else {
      nd_var *l = nd_mlp_loss(m, tp, feedback_graph(m, tp, xv), labels);
      s = nd_tape_backward(tp, l);
      if (s == ND_OK && loss) *loss = nd_var_item(l);
    }
    nd_tape_reset(tp);
    nd_tape_set_recording(tp, was);
  }
  m->c.method = saved;
  return s;
}

nd_status nd_mlp_batch_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss) {
  if (!m || !x || !labels) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_batch_grads: NULL argument");
  if (rows < 1) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_batch_grads: rows = %lld, need >= 1", (long long)rows);
  return method_grads(m, m->c.method, x, labels, rows, loss);
}

nd_status nd_mlp_grad_angles(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *angles) {
  if (!m || !x || !labels || !angles) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_grad_angles: NULL argument");
  if (rows < 1) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_grad_angles: rows = %lld, need >= 1", (long long)rows);
  int nw = m->n_layers + m->c.n_conv, wi[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV]; /* dense W_l, then conv K_j */
  for (int l = 0; l < nw; l++) wi[l] = l < m->n_layers ? m->w_index[l] : m->conv_w_index[l - m->n_layers];
  for (int l = 0; l < nw; l++) angles[l] = m->c.method == ND_CREDIT_FF ? NAN : 0.0;
  if (m->c.method == ND_CREDIT_BP || m->c.method == ND_CREDIT_FF) return ND_OK;
  int64_t total = 0;
  for (int l = 0; l < nw; l++) total += nd_tensor_numel(&m->params[wi[l]]);
  float *est = malloc((size_t)total * sizeof(float));
  if (!est) return nd__error(ND_ERR_NOMEM, "nd_mlp_grad_angles: out of memory");
  nd_status s = method_grads(m, m->c.method, x, labels, rows, NULL);
  for (int l = 0, o = 0; s == ND_OK && l < nw; l++) {
    const nd_tensor *g = &m->grads[wi[l]];
    memcpy(est + o, g->data, (size_t)nd_tensor_numel(g) * sizeof(float));
    o += (int)nd_tensor_numel(g);
  }
  if (s == ND_OK) s = method_grads(m, ND_CREDIT_BP, x, labels, rows, NULL);
  for (int64_t l = 0, o = 0; s == ND_OK && l < nw; l++) {
    const nd_tensor *g = &m->grads[wi[l]];
    angles[l] = nd_credit_angle(est + o, g->data, nd_tensor_numel(g));
    o += nd_tensor_numel(g);
  }
  for (int i = 0; i < m->n_params; i++) nd_tensor_fill(&m->grads[i], 0.0f);
  free(est);
  return s;
}

static nd_status grow_buffers(nd_mlp *m, int64_t rows) {
  int64_t d = m->c.sizes[0];
  if (rows > m->buf_rows) {
    float *x = realloc(m->xbuf, (size_t)(rows * d) * sizeof(float));
    if (x) m->xbuf = x;
    int32_t *y = realloc(m->ybuf, (size_t)rows * sizeof(int32_t));
    if (y) m->ybuf = y;
    if (!x || !y) return nd__error(ND_ERR_NOMEM, "mlp: out of memory for a %lld-row batch", (long long)rows);
    m->buf_rows = rows;
  }
  return ND_OK;
}

/* Data-parallel FF and DTP: the minibatch's random draws for all its rows,
 * in the order one process makes them inside the gradient (ff.c, dtp.c), so
 * that a block reads its rows' draws and the result does not depend on the
 * blocks (nor differ from one process's whole-batch run). */
static nd_status draw_batch(nd_mlp *m, nd_rng *rng, int64_t rows) {
  m->drawn = false;
  if (m->c.method != ND_CREDIT_FF && m->c.method != ND_CREDIT_DTP) return ND_OK;
  int64_t nf = 0;
  for (int l = 1; m->c.method == ND_CREDIT_DTP && l + 1 < m->n_layers; l++) nf += rows * m->c.sizes[l];
  int64_t nu = m->c.method == ND_CREDIT_FF ? rows : 0;
  if (nu > m->draw_cap_u) {
    uint32_t *u = realloc(m->draw_u, sizeof(uint32_t) * (size_t)nu);
    if (!u) return nd__error(ND_ERR_NOMEM, "mlp: out of memory for %lld draws", (long long)nu);
    m->draw_u = u, m->draw_cap_u = nu;
  }
  if (nf > m->draw_cap_f) {
    float *f = realloc(m->draw_f, sizeof(float) * (size_t)nf);
    if (!f) return nd__error(ND_ERR_NOMEM, "mlp: out of memory for %lld draws", (long long)nf);
    m->draw_f = f, m->draw_cap_f = nf;
  }
  for (int64_t r = 0; r < nu; r++) m->draw_u[r] = nd_rng_u32(rng);
  for (int l = 1, off = 0; m->c.method == ND_CREDIT_DTP && l + 1 < m->n_layers; off += (int)m->c.sizes[l], l++)
    nd_rng_normal(rng, m->draw_f + rows * off, rows * m->c.sizes[l], 0.0f, m->c.dtp_noise);
  m->drawn = true, m->draw_rows = rows;
  return ND_OK;
}

nd_status nd_mlp_set_comm(nd_mlp *m, nd_comm *c, int64_t blocks) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_set_comm: model is NULL");
  if (blocks < 1) return nd__error(ND_ERR_INVALID_ARG, "mlp: blocks = %lld, need >= 1", (long long)blocks);
  bool parallel = (c && c->size > 1) || blocks > 1;
  static const char *const why[ND_CREDIT_COUNT_] = {
      [ND_CREDIT_DNI] = "its synthetic-gradient modules learn inside the batch",
      [ND_CREDIT_AM] = "its codes are optimised on the whole batch with batch-mean losses, so a block's code steps "
                       "would depend on its size"};
  if (parallel && why[m->c.method])
    return nd__error(ND_ERR_INVALID_ARG, "mlp: method = %s cannot run data-parallel (%s); use bp, fa, dfa, subtask, ff or dtp",
                     nd_credit_method_name(m->c.method), why[m->c.method]);
  /* Buckets (distributed.h), in the order the backward pass completes them:
   * the dense layers from the last down (W_l, b_l), then the conv layers
   * from the last down; any other parameter (subtask's representatives)
   * joins the last bucket, exchanged after the backward pass. */
  int nb = 0, order[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV][2];
  for (int l = m->n_layers - 1; l >= 0; l--, nb++) order[nb][0] = m->w_index[l], order[nb][1] = m->b_index[l];
  for (int j = m->c.n_conv - 1; j >= 0; j--, nb++) order[nb][0] = m->conv_w_index[j], order[nb][1] = m->conv_b_index[j];
  int64_t numel[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV] = {0}, total = 0;
  for (int i = 0; i < m->n_params; i++) m->bucket_of[i] = -1;
  for (int q = 0; q < nb; q++) {
    m->bucket_params[q] = 0;
    for (int j = 0; j < 2; j++)
      if (order[q][j] >= 0) m->bucket_of[order[q][j]] = q;
  }
  for (int i = 0; i < m->n_params; i++)
    if (m->bucket_of[i] < 0) m->bucket_of[i] = nb - 1;
  for (int q = 0; q < nb; q++) {
    for (int i = 0; i < m->n_params; i++) {
      if (m->bucket_of[i] != q) continue;
      m->bucket_off[i] = numel[q], m->flat_off[i] = total + numel[q];
      numel[q] += nd_tensor_numel(&m->grads[i]);
      m->bucket_params[q]++;
    }
    total += numel[q];
  }
  for (int i = 0; i < m->n_params; i++) m->hook[i] = (struct nd__mlp_hook){m, i};
  nd_grad_sum *g = NULL;
  float *flat = NULL;
  if (parallel) {
    ND_TRY(nd_grad_sum_create_buckets(c, blocks, nb, numel, &g));
    flat = malloc(sizeof(float) * (size_t)total);
    if (!flat) {
      nd_grad_sum_free(g);
      return nd__error(ND_ERR_NOMEM, "mlp: no memory for %lld gradient floats", (long long)total);
    }
  }
  nd_grad_sum_free(m->gsum);
  free(m->gflat);
  m->gsum = g, m->gflat = flat;
  return ND_OK;
}

/* A layer parameter's gradient of the block in the backward is final: into
 * its bucket, weighted by the block's share of the rows; the bucket starts
 * its exchange once all its parameters are in and this is the rank's last
 * block (nd_grad_sum_ready), while the backward goes on below. */
static nd_status write_param(nd_mlp *m, int i) {
  if (m->written[i]) return ND_OK;
  const int q = m->bucket_of[i];
  float *slot = nd_grad_sum_bucket(m->gsum, m->cur_block, q, NULL);
  if (!slot) return nd__error(ND_ERR_INVALID_ARG, "mlp: block %lld is not this rank's", (long long)m->cur_block);
  const nd_tensor *g = &m->grads[i];
  const int64_t k = nd_tensor_numel(g);
  const float w = m->cur_weight;
  float *dst = slot + m->bucket_off[i];
  if (m->cur_empty) memset(dst, 0, sizeof(float) * (size_t)k);
  else
    for (int64_t j = 0; j < k; j++) dst[j] = w * g->data[j];
  m->written[i] = true;
  if (--m->bucket_left[q] == 0 && m->cur_last) return nd_grad_sum_ready(m->gsum, q);
  return ND_OK;
}

static nd_status grad_ready(nd_var *leaf, void *user) {
  (void)leaf;
  const struct nd__mlp_hook *h = user;
  return write_param(h->m, h->i);
}

void nd__mlp_hook_param(nd_mlp *m, nd_tape *tp, nd_var *leaf, int i) {
  if (!leaf || i < 0) return;
  nd_status s = nd_tape_on_grad_ready(tp, leaf, grad_ready, &m->hook[i]);
  if (s != ND_OK) nd_tape_set_error(tp, s);
}

/* Data-parallel: the batch's gradient as the sum, in block order, of its
 * fixed blocks' gradients, each weighted by its share of the rows (the
 * losses are batch means; nd_grad_sum_batch); this rank computes its own
 * blocks only, and each layer's bucket is on its way while the layers below
 * are differentiated. */
static nd_status block_grad(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean) {
  nd_mlp *m = user;
  int64_t b0, b1, d = m->c.sizes[0];
  const int nq = nd_grad_sum_buckets(m->gsum);
  nd_grad_sum_mine(m->gsum, &b0, &b1);
  m->cur_block = b, m->cur_last = b + 1 == b1;
  m->cur_weight = (float)w;
  m->cur_empty = r1 == r0;
  m->draw_r0 = r0;
  for (int q = 0; q < nq; q++) m->bucket_left[q] = m->bucket_params[q];
  for (int i = 0; i < m->n_params; i++) m->written[i] = false;
  if (r1 > r0) {
    /* BP, FA, DFA: one backward pass, whose hooks hand each layer over as
     * soon as it is done; the other methods' parameters go after it */
    m->hooking = m->c.method == ND_CREDIT_BP || m->c.method == ND_CREDIT_FA || m->c.method == ND_CREDIT_DFA;
    nd_status s = method_grads(m, m->c.method, m->xbuf + r0 * d, m->ybuf + r0, r1 - r0, mean);
    m->hooking = false;
    ND_TRY(s);
  }
  for (int i = 0; i < m->n_params; i++) ND_TRY(write_param(m, i)); /* those no hook wrote (an empty block: zeros) */
  return ND_OK;
}

static nd_status block_grads(nd_mlp *m, int64_t rows, double *loss) {
  ND_TRY(nd_grad_sum_batch(m->gsum, rows, block_grad, m, m->gflat, loss));
  for (int i = 0; i < m->n_params; i++)
    memcpy(m->grads[i].data, m->gflat + m->flat_off[i], sizeof(float) * (size_t)nd_tensor_numel(&m->grads[i]));
  return ND_OK;
}

nd_status nd_mlp_train_epoch(nd_mlp *m, nd_optim *opt, const float *x, const int32_t *labels, int64_t n,
                             int64_t batch_size, nd_rng *rng, double *mean_loss) {
  if (!m || !opt || !x || !labels || !rng) return nd__error(ND_ERR_INVALID_ARG, "mlp train: NULL argument");
  if (n < 1 || batch_size < 1)
    return nd__error(ND_ERR_INVALID_ARG, "mlp train: n = %lld, batch_size = %lld, need both >= 1", (long long)n,
                     (long long)batch_size);
  int64_t bs = batch_size < n ? batch_size : n, d = m->c.sizes[0];
  ND_TRY(grow_buffers(m, bs));
  ND_TRY(nd_sampler_begin_from(&m->sampler, n, bs, false, rng));
  int64_t total_batches = (n + bs - 1) / bs, done = 0;
  double total = 0.0;
  const int64_t *idx;
  int64_t rows;
  m->neg_rng = rng; /* FF's wrong labels: drawn from the caller's stream after the permutation */
  nd_status s = ND_OK;
  while (s == ND_OK && nd_sampler_next(&m->sampler, &idx, &rows)) {
    nd_sampler_gather(x, d, idx, rows, m->xbuf);
    for (int64_t r = 0; r < rows; r++) m->ybuf[r] = labels[idx[r]];
    double l = 0;
    if (m->gsum) s = draw_batch(m, rng, rows);
    if (s == ND_OK) s = m->gsum ? block_grads(m, rows, &l) : method_grads(m, m->c.method, m->xbuf, m->ybuf, rows, &l);
    m->drawn = false;
    if (s == ND_OK) s = nd_optim_step(opt);
    total += l * (double)rows;
    if (m->progress) m->progress(&(nd_progress_info){0, ++done, total_batches}, m->progress_user);
  }
  m->neg_rng = NULL;
  if (s != ND_OK) {
    nd_sampler_end(&m->sampler);
    return s;
  }
  if (mean_loss) *mean_loss = total / (double)n;
  return ND_OK;
}
