/* Krotov-Hopfield supervised top layer (equations in include/neurodyn/krotov.h, part 3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"
#include "models/krotov/metric.h"

struct nd_krotov_top {
  nd_krotov_top_config c;
  nd_tensor s;       /* S [classes, hidden] */
  nd_tensor ds;      /* dloss/dS, same shape */
  nd_tape *tape;
  float *fbuf;       /* gathered minibatch of features [batch, hidden] */
  float *mask;       /* dropout uniforms [batch, hidden], only when dropout > 0 */
  int32_t *ybuf;     /* labels of the gathered batch */
  nd_sampler sampler; /* the minibatch order, from the caller's stream */
  int64_t buf_rows;
  nd_grad_sum *gsum; /* data-parallel: block gradients summed in block order (distributed.h), or NULL */
};

nd_krotov_top_config nd_krotov_top_defaults(int64_t hidden, int64_t classes) {
  nd_krotov_top_config c;
  memset(&c, 0, sizeof c);
  c.hidden = hidden;
  c.classes = classes;
  c.n = 4.5f;
  c.m = 6.0f;
  c.beta = 1.0f;
  c.init_std = 1e-2f;
  c.seed = 0;
  return c;
}

nd_status nd_krotov_top_config_check(const nd_krotov_top_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "krotov_top: config is NULL");
  if (c->hidden < 1 || c->classes < 2)
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: hidden = %lld, classes = %lld, need hidden >= 1, classes >= 2",
                     (long long)c->hidden, (long long)c->classes);
  if (!(c->n > 0.0f) || !isfinite(c->n))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: power n = %g, need a finite n > 0", (double)c->n);
  if (!(c->m >= 1.0f) || !isfinite(c->m))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: loss exponent m = %g, need a finite m >= 1", (double)c->m);
  if (!(c->beta > 0.0f) || !isfinite(c->beta))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: beta = %g, need a finite beta > 0", (double)c->beta);
  if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: dropout = %g, need 0 <= dropout < 1", (double)c->dropout);
  if (!(c->lebesgue_p >= 0.0f) || !isfinite(c->lebesgue_p))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: lebesgue_p = %g, need 0 (dot product) or p > 0", (double)c->lebesgue_p);
  if (!(c->init_std >= 0.0f) || !isfinite(c->init_std))
    return nd__error(ND_ERR_INVALID_ARG, "krotov_top: init_std = %g, need a finite value >= 0", (double)c->init_std);
  return ND_OK;
}

void nd_krotov_top_free(nd_krotov_top *t) {
  if (!t) return;
  nd_tensor_release(&t->s);
  nd_tensor_release(&t->ds);
  nd_tape_free(t->tape);
  free(t->fbuf);
  free(t->mask);
  free(t->ybuf);
  nd_sampler_release(&t->sampler);
  nd_grad_sum_free(t->gsum);
  free(t);
}

nd_status nd_krotov_top_create(const nd_krotov_top_config *c, nd_krotov_top **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "krotov_top: out is NULL");
  *out = NULL;
  ND_TRY(nd_krotov_top_config_check(c));
  nd_krotov_top *t = calloc(1, sizeof *t);
  if (!t) return nd__error(ND_ERR_NOMEM, "krotov_top: out of memory");
  t->c = *c;
  nd_status s = nd_tensor_alloc(&t->s, 2, ND_SHAPE(c->classes, c->hidden));
  if (s == ND_OK) s = nd_tensor_alloc(&t->ds, 2, ND_SHAPE(c->classes, c->hidden));
  if (s == ND_OK) s = nd_tape_create(0, &t->tape);
  if (s != ND_OK) {
    nd_krotov_top_free(t);
    return s;
  }
  nd_rng rng;
  nd_rng_init(&rng, c->seed);
  nd_rng_normal(&rng, t->s.data, c->classes * c->hidden, 0.0f, c->init_std);
  *out = t;
  return ND_OK;
}

const nd_krotov_top_config *nd_krotov_top_config_of(const nd_krotov_top *t) { return t ? &t->c : NULL; }
nd_tensor *nd_krotov_top_weights(nd_krotov_top *t) { return t ? &t->s : NULL; }
nd_tensor *nd_krotov_top_grad(nd_krotov_top *t) { return t ? &t->ds : NULL; }

nd_status nd_krotov_top_set_weights(nd_krotov_top *t, const nd_tensor *s) {
  if (!t || !s) return nd__error(ND_ERR_INVALID_ARG, "krotov_top set_weights: NULL argument");
  ND_TRY(nd_tensor_check_shape(s, "krotov_top: S", 2, ND_SHAPE(t->c.classes, t->c.hidden)));
  return nd_tensor_copy(&t->s, s);
}

/* Eq. 11: f = max(V W^T, 0)^n, one GEMM per chunk of rows. */
nd_status nd_krotov_features(const nd_tensor *w, const float *v, int64_t n_rows, int64_t d, float n,
                             float lebesgue_p, nd_tensor *out) {
  if (!w || !v || !out) return nd__error(ND_ERR_INVALID_ARG, "krotov features: NULL argument");
  if (w->ndim != 2 || w->shape[1] != d || !nd_tensor_is_contiguous(w)) {
    char b[64];
    return nd__error(ND_ERR_SHAPE, "krotov features: W is %s, need a contiguous [hidden, %lld]",
                     nd_tensor_shape_str(w, b, sizeof b), (long long)d);
  }
  if (n_rows < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov features: n_rows = %lld, need >= 1", (long long)n_rows);
  if (!(n > 0.0f) || !isfinite(n)) return nd__error(ND_ERR_INVALID_ARG, "krotov features: power n = %g", (double)n);
  int64_t h = w->shape[0];
  ND_TRY(nd_tensor_alloc(out, 2, ND_SHAPE(n_rows, h)));
  const float *wm = w->data;
  float *tmp = NULL;
  if (lebesgue_p > 0.0f) {
    /* Eq. 3 metric: <W, v>_mu = sum_i sign(W)|W|^(p-1) v_i */
    tmp = nd_aligned_alloc((size_t)(h * d) * sizeof(float));
    if (!tmp) {
      nd_tensor_release(out);
      return nd__error(ND_ERR_NOMEM, "krotov features: out of memory for the %lldx%lld metric weights",
                       (long long)h, (long long)d);
    }
    nd__krotov_metric_rows(w->data, tmp, h, d, lebesgue_p); /* the rule's own Wp (metric.h) */
    wm = tmp;
  }
  const int64_t chunk = 8192;
  for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
    int64_t rows = ND__MIN(chunk, n_rows - r0);
    float *o = out->data + r0 * h;
    nd_sgemm(false, true, rows, h, d, 1.0f, v + r0 * d, d, wm, d, 0.0f, o, h);
    nd_unary(ND_RELU_POW, n, o, o, rows * h); /* rectify before the power: no powf of a negative */
  }
  nd_aligned_free(tmp);
  return ND_OK;
}

float nd_krotov_top_auto_beta(const nd_tensor *f) {
  if (!f || f->ndim != 2) return 1.0f;
  int64_t rows = f->shape[0], cols = f->shape[1];
  double sum = 0.0;
  int64_t cnt = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *x = f->data + r * cols;
    float mx = 0.0f;
    for (int64_t j = 0; j < cols; j++) mx = x[j] > mx ? x[j] : mx;
    if (mx > 0.0f && isfinite(mx)) {
      sum += mx;
      cnt++;
    }
  }
  if (cnt == 0 || !(sum > 0.0)) return 1.0f;
  return (float)((double)cnt / sum);
}

nd_var *nd_krotov_top_forward(nd_krotov_top *t, nd_tape *tp, nd_var *f) {
  if (!t || !tp) return NULL;
  return nd_krotov_readout(tp, f, nd_tape_param(tp, &t->s, &t->ds), t->c.beta);
}

nd_var *nd_krotov_readout(nd_tape *tp, nd_var *f, nd_var *s, float beta) {
  nd_var *z = nd_ad_matmul(tp, f, s, false, true); /* f S^T  [B, C] */
  return nd_ad_tanh(tp, nd_ad_scale(tp, z, beta)); /* Eq. 11: c = tanh(beta f S^T) */
}

nd_var *nd_krotov_top_loss(nd_krotov_top *t, nd_tape *tp, nd_var *c, const int32_t *labels) {
  if (!t || !tp || !c) return NULL;
  if (!labels) {
    nd__error(ND_ERR_INVALID_ARG, "krotov_top loss: labels is NULL");
    nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
    return NULL;
  }
  const nd_tensor *cv = nd_var_value(c);
  int64_t b = cv->shape[0], k = cv->shape[1];
  if (cv->ndim != 2 || k != t->c.classes) {
    nd__error(ND_ERR_SHAPE, "krotov_top loss: c has %lld columns, the model %lld classes", (long long)k,
              (long long)t->c.classes);
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  float *tg = nd_tape_alloc(tp, (size_t)(b * k) * sizeof(float));
  if (!tg) return NULL;
  for (int64_t r = 0; r < b; r++) {
    if (labels[r] < 0 || labels[r] >= k) {
      nd__error(ND_ERR_INVALID_ARG, "krotov_top loss: label[%lld] = %d, need 0..%lld", (long long)r, (int)labels[r],
                (long long)(k - 1));
      nd_tape_set_error(tp, ND_ERR_INVALID_ARG);
      return NULL;
    }
    for (int64_t a = 0; a < k; a++) tg[r * k + a] = a == labels[r] ? 1.0f : -1.0f; /* t = +-1 one-hot */
  }
  nd_tensor tt = nd_tensor_wrap(tg, 2, ND_SHAPE(b, k));
  return nd_ad_abs_power_loss(tp, c, nd_tape_constant(tp, &tt), t->c.m); /* Eq. 12 */
}

static nd_status check_features(const nd_krotov_top *t, const nd_tensor *f, const char *who) {
  if (!f || f->ndim != 2 || f->shape[1] != t->c.hidden || !nd_tensor_is_contiguous(f)) {
    char b[64];
    return nd__error(ND_ERR_SHAPE, "krotov_top %s: features are %s, need a contiguous [n, %lld]", who,
                     f ? nd_tensor_shape_str(f, b, sizeof b) : "NULL", (long long)t->c.hidden);
  }
  if (f->shape[0] < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov_top %s: no rows", who);
  return ND_OK;
}

static nd_status grow(nd_krotov_top *t, int64_t rows, int64_t n) {
  if (rows > t->buf_rows) {
    float *fb = realloc(t->fbuf, (size_t)(rows * t->c.hidden) * sizeof(float));
    if (fb) t->fbuf = fb;
    int32_t *yb = realloc(t->ybuf, (size_t)rows * sizeof(int32_t));
    if (yb) t->ybuf = yb;
    float *mb = t->c.dropout > 0.0f ? realloc(t->mask, (size_t)(rows * t->c.hidden) * sizeof(float)) : t->mask;
    if (mb) t->mask = mb;
    if (!fb || !yb || (t->c.dropout > 0.0f && !mb)) return nd__error(ND_ERR_NOMEM, "krotov_top: out of memory for a %lld-row batch", (long long)rows);
    t->buf_rows = rows;
  }
  (void)n;
  return ND_OK;
}

/* Inverted dropout on the gathered (constant) features: no autodiff op is
 * needed because f does not depend on S. */
static void drop_features(nd_krotov_top *t, nd_rng *rng, int64_t rows) {
  int64_t n = rows * t->c.hidden;
  const float keep = 1.0f - t->c.dropout, scale = 1.0f / keep;
  nd_rng_uniform(rng, t->mask, n, 0.0f, 1.0f);
  for (int64_t i = 0; i < n; i++) t->fbuf[i] = t->mask[i] < keep ? t->fbuf[i] * scale : 0.0f;
}

nd_status nd_krotov_top_set_comm(nd_krotov_top *t, nd_comm *c, int64_t blocks) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_top_set_comm: model is NULL");
  nd_grad_sum *g = NULL;
  if ((c && c->size > 1) || blocks > 1) ND_TRY(nd_grad_sum_create(c, blocks, nd_tensor_numel(&t->s), &g));
  else if (blocks < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov_top: blocks = %lld, need >= 1", (long long)blocks);
  nd_grad_sum_free(t->gsum);
  t->gsum = g;
  return ND_OK;
}

/* The gradient of the loss over the `rows` gathered rows into t->ds and the
 * loss into *loss: the whole batch at once, or (data-parallel) block by
 * block, this rank's blocks only, then summed in block order across ranks. */
static nd_status batch_gradient(nd_krotov_top *t, nd_optim *opt, int64_t rows, double *loss) {
  nd_tape *tp = t->tape;
  const int64_t h = t->c.hidden;
  int64_t b0 = 0, b1 = 1, nblk = 1;
  if (t->gsum) nd_grad_sum_mine(t->gsum, &b0, &b1), nblk = nd_grad_sum_blocks(t->gsum);
  for (int64_t b = b0; b < b1; b++) {
    int64_t r0, r1;
    nd_comm_shard_of((int)b, (int)nblk, rows, &r0, &r1);
    nd_tape_reset(tp);
    nd_optim_zero_grad(opt);
    double l = 0;
    if (r1 > r0) {
      nd_tensor fb = nd_tensor_wrap(t->fbuf + r0 * h, 2, ND_SHAPE(r1 - r0, h));
      nd_var *c = nd_krotov_top_forward(t, tp, nd_tape_constant(tp, &fb));
      nd_var *lv = nd_krotov_top_loss(t, tp, c, t->ybuf + r0);
      ND_TRY(nd_tape_status(tp));
      ND_TRY(nd_tape_backward(tp, lv));
      l = (double)nd_var_item(lv);
    }
    if (!t->gsum) {
      *loss = l;
      return ND_OK;
    }
    double *slot_loss;
    float *slot = nd_grad_sum_slot(t->gsum, b, &slot_loss);
    memcpy(slot, t->ds.data, sizeof(float) * (size_t)nd_tensor_numel(&t->ds));
    *slot_loss = l;
  }
  return nd_grad_sum_reduce(t->gsum, t->ds.data, loss);
}

nd_status nd_krotov_top_train_epoch(nd_krotov_top *t, nd_optim *opt, const nd_tensor *features,
                                    const int32_t *labels, int64_t batch, nd_rng *rng, double *mean_loss) {
  if (!t || !opt || !labels || !rng) return nd__error(ND_ERR_INVALID_ARG, "krotov_top train: NULL argument");
  ND_TRY(check_features(t, features, "train"));
  if (batch < 1) return nd__error(ND_ERR_INVALID_ARG, "krotov_top train: batch = %lld, need >= 1", (long long)batch);
  int64_t n = features->shape[0], h = t->c.hidden;
  int64_t bs = ND__MIN(batch, n);
  ND_TRY(grow(t, bs, n));
  ND_TRY(nd_sampler_begin_from(&t->sampler, n, bs, false, rng));
  nd_tape *tp = t->tape;
  nd_tape_set_recording(tp, true);
  double total = 0.0;
  const int64_t *idx;
  int64_t rows;
  while (nd_sampler_next(&t->sampler, &idx, &rows)) {
    nd_sampler_gather(features->data, h, idx, rows, t->fbuf);
    for (int64_t r = 0; r < rows; r++) t->ybuf[r] = labels[idx[r]];
    if (t->c.dropout > 0.0f) drop_features(t, rng, rows); /* every rank draws the whole batch's masks */
    double loss = 0;
    ND_TRY(batch_gradient(t, opt, rows, &loss));
    ND_TRY(nd_optim_step(opt));
    total += loss;
  }
  nd_tape_reset(tp);
  if (mean_loss) *mean_loss = total / (double)n;
  if (!isfinite(total)) return nd__error(ND_ERR_NUMERIC, "krotov_top train: loss is not finite");
  return ND_OK;
}

nd_status nd_krotov_top_predict(nd_krotov_top *t, const nd_tensor *features, int32_t *pred) {
  if (!t || !pred) return nd__error(ND_ERR_INVALID_ARG, "krotov_top predict: NULL argument");
  ND_TRY(check_features(t, features, "predict"));
  int64_t n = features->shape[0], h = t->c.hidden, k = t->c.classes;
  const int64_t chunk = 4096;
  float *z = malloc((size_t)(ND__MIN(chunk, n) * k) * sizeof(float));
  int64_t *idx = malloc((size_t)ND__MIN(chunk, n) * sizeof(int64_t));
  if (!z || !idx) {
    free(z);
    free(idx);
    return nd__error(ND_ERR_NOMEM, "krotov_top predict: out of memory");
  }
  /* argmax tanh(beta z) = argmax z (tanh increasing, beta > 0) */
  for (int64_t r0 = 0; r0 < n; r0 += chunk) {
    int64_t rows = ND__MIN(chunk, n - r0);
    nd_sgemm(false, true, rows, k, h, 1.0f, features->data + r0 * h, h, t->s.data, h, 0.0f, z, k);
    nd_row_argmax(z, rows, k, idx);
    for (int64_t r = 0; r < rows; r++) pred[r0 + r] = (int32_t)idx[r];
  }
  free(z);
  free(idx);
  return ND_OK;
}

nd_status nd_krotov_top_error(nd_krotov_top *t, const nd_tensor *features, const int32_t *labels, double *error) {
  if (!t || !labels || !error) return nd__error(ND_ERR_INVALID_ARG, "krotov_top error: NULL argument");
  ND_TRY(check_features(t, features, "error"));
  int64_t n = features->shape[0];
  int32_t *pred = malloc((size_t)n * sizeof(int32_t));
  if (!pred) return nd__error(ND_ERR_NOMEM, "krotov_top error: out of memory");
  nd_status s = nd_krotov_top_predict(t, features, pred);
  if (s == ND_OK) {
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) wrong += pred[i] != labels[i];
    *error = (double)wrong / (double)n;
  }
  free(pred);
  return s;
}
