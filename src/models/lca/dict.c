/* Dictionary learning with LCA inference (include/neurodyn/lca.h,
 * "dictionary learning"): Olshausen & Field 1997 (their learning rule
 * dphi_i = eta <a_i (I - sum_j a_j phi_j)>), with the codes from the LCA of
 * Rozell et al. 2008, dense or convolutional. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "lca_dict.h"
#include "neurodyn/kernels.h"

nd_lca_dict_config nd_lca_dict_defaults(void) {
  nd_lca_dict_config c;
  memset(&c, 0, sizeof c);
  c.lca = nd_lca_defaults();
  c.lca.lambda = 0.1f;
  c.rows = 16, c.cols = 16, c.atoms = 256;
  c.shape = (nd_lca_conv_shape){1, 32, 32, 32, 8, 8, 1, 1, 0, 0};
  c.lr = 0.1, c.epochs = 10, c.batch = 100, c.seed = 0;
  return c;
}

nd_status nd_lca_dict_config_check(const nd_lca_dict_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "lca_dict: config is NULL");
  ND_TRY(nd_lca_config_check(&c->lca));
  if (c->conv) {
    ND_TRY(nd_lca_conv_shape_check(&c->shape, NULL, NULL));
  } else {
    if (c->rows < 1 || c->cols < 1 || c->rows > (1 << 20) || c->cols > (1 << 20) || c->rows * c->cols > (1 << 24))
      return nd__error(ND_ERR_INVALID_ARG, "lca_dict: rows = %lld, cols = %lld: need >= 1 and rows*cols <= 2^24",
                       (long long)c->rows, (long long)c->cols);
    if (c->atoms < 1 || c->atoms > (1 << 24))
      return nd__error(ND_ERR_INVALID_ARG, "lca_dict: atoms = %lld, need 1..2^24", (long long)c->atoms);
    if (c->atoms > ND_TENSOR_MAX_NUMEL / (c->rows * c->cols))
      return nd__error(ND_ERR_INVALID_ARG, "lca_dict: a %lld x %lld dictionary is too large",
                       (long long)(c->rows * c->cols), (long long)c->atoms);
  }
  if (!(c->lr > 0) || !isfinite(c->lr) || c->lr > 1e6)
    return nd__error(ND_ERR_INVALID_ARG, "lca_dict: lr = %g, need 0 < lr <= 1e6", c->lr);
  if (c->epochs < 1 || c->epochs > ND_LCA_DICT_MAX_EPOCHS)
    return nd__error(ND_ERR_INVALID_ARG, "lca_dict: epochs = %lld, need 1..%d", (long long)c->epochs, ND_LCA_DICT_MAX_EPOCHS);
  if (c->batch < 1 || c->batch > (1 << 20))
    return nd__error(ND_ERR_INVALID_ARG, "lca_dict: batch = %lld, need 1..2^20", (long long)c->batch);
  return ND_OK;
}

/* Unit-norm atoms: dense columns of [m, n], or rows of [F, fsize]. */
static nd_status normalise(float *w, int64_t rows, int64_t cols, bool columns) {
  const int64_t count = columns ? cols : rows, len = columns ? rows : cols;
  const int64_t step = columns ? cols : 1, stride = columns ? 1 : cols;
  for (int64_t k = 0; k < count; k++) {
    float *x = w + k * stride;
    double s = 0;
    for (int64_t i = 0; i < len; i++) s += (double)x[i * step] * x[i * step];
    if (!(s > 0) || !isfinite(s)) return nd__error(ND_ERR_NUMERIC, "lca_dict: atom %lld has norm %g", (long long)k, sqrt(s));
    const float inv = (float)(1.0 / sqrt(s));
    for (int64_t i = 0; i < len; i++) x[i * step] *= inv;
  }
  return ND_OK;
}

static nd_conv2d_desc conv_desc(const nd_lca_dict_config *c, int64_t batch) {
  const nd_lca_conv_shape *sh = &c->shape;
  return (nd_conv2d_desc){batch, sh->channels, sh->height, sh->width, sh->filters, sh->kernel_h, sh->kernel_w,
                          sh->stride_h, sh->stride_w, sh->pad_h, sh->pad_w};
}

static nd_status set_inference_atoms(nd_lca_dict *d) {
  return d->c.conv ? nd_lca_conv_set_filters(d->conv, d->w.data) : nd_lca_set_dictionary(d->dense, d->w.data);
}

void nd_lca_dict_free(nd_lca_dict *d) {
  if (!d) return;
  nd_lca_free(d->dense);
  nd_lca_conv_free(d->conv);
  nd_tensor_release(&d->w);
  nd_aligned_free(d->s), nd_aligned_free(d->a), nd_aligned_free(d->r), nd_aligned_free(d->g), nd_aligned_free(d->ws);
  nd_sampler_release(&d->sampler);
  free(d);
}

nd_status nd_lca_dict_create(const nd_lca_dict_config *c, nd_lca_dict **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_lca_dict_config_check(c));
  nd_lca_dict *d = calloc(1, sizeof *d);
  if (!d) return nd__error(ND_ERR_NOMEM, "lca_dict_create: out of memory");
  d->c = *c;
  d->c.lca.normalize = false; /* the atoms are kept at unit norm here */
  nd_status s = ND_OK;
  if (c->conv) {
    const nd_lca_conv_shape *sh = &c->shape;
    ND_TRY(nd_lca_conv_shape_check(sh, &d->m, &d->n));
    s = nd_tensor_alloc(&d->w, 4, ND_SHAPE(sh->filters, sh->channels, sh->kernel_h, sh->kernel_w));
  } else {
    d->m = c->rows * c->cols, d->n = c->atoms;
    s = nd_tensor_alloc(&d->w, 2, ND_SHAPE(d->m, d->n));
  }
  if (s == ND_OK) {
    d->s = nd_aligned_alloc((size_t)(c->batch * d->m) * sizeof(float));
    d->r = nd_aligned_alloc((size_t)(c->batch * d->m) * sizeof(float));
    d->a = nd_aligned_alloc((size_t)(c->batch * d->n) * sizeof(float));
    d->g = nd_aligned_alloc((size_t)nd_tensor_numel(&d->w) * sizeof(float));
    if (c->conv) {
      nd_conv2d_desc cd = conv_desc(c, c->batch);
      d->ws = nd_aligned_alloc((nd_conv2d_workspace_floats(&cd) + 1) * sizeof(float));
    }
    if (!d->s || !d->r || !d->a || !d->g || (c->conv && !d->ws)) s = nd__error(ND_ERR_NOMEM, "lca_dict_create: out of memory for batch %lld", (long long)c->batch);
  }
  nd_rng root;
  nd_rng_init(&root, c->seed);
  nd_rng init = nd_rng_split(&root, 1);
  if (s == ND_OK) s = nd_rng_normal(&init, d->w.data, nd_tensor_numel(&d->w), 0.0f, 1.0f);
  const int64_t fsize = c->conv ? c->shape.channels * c->shape.kernel_h * c->shape.kernel_w : 0;
  if (s == ND_OK) s = c->conv ? normalise(d->w.data, c->shape.filters, fsize, false) : normalise(d->w.data, d->m, d->n, true);
  if (s == ND_OK)
    s = c->conv ? nd_lca_conv_create(&d->c.lca, &c->shape, d->w.data, c->batch, &d->conv)
                : nd_lca_create(&d->c.lca, d->w.data, d->m, d->n, c->batch, &d->dense);
  if (s == ND_OK) s = nd_sampler_init(&d->sampler, c->batch, true, nd_rng_split(&root, 2));
  if (s != ND_OK) {
    nd_lca_dict_free(d);
    return s;
  }
  *out = d;
  return ND_OK;
}

const nd_lca_dict_config *nd_lca_dict_config_of(const nd_lca_dict *d) { return d ? &d->c : NULL; }
int64_t nd_lca_dict_signal_size(const nd_lca_dict *d) { return d ? d->m : -1; }
const nd_tensor *nd_lca_dict_atoms(const nd_lca_dict *d) { return d ? &d->w : NULL; }

nd_status nd__lca_dict_put_atoms(nd_lca_dict *d, const float *w, bool renormalise) {
  const int64_t cnt = nd_tensor_numel(&d->w);
  for (int64_t i = 0; i < cnt; i++)
    if (!isfinite(w[i])) return nd__error(ND_ERR_INVALID_ARG, "lca_dict: atoms element %lld is not finite", (long long)i);
  float *keep = d->g; /* to restore on failure */
  memcpy(keep, d->w.data, (size_t)cnt * sizeof *keep);
  memcpy(d->w.data, w, (size_t)cnt * sizeof *keep);
  nd_status s = !renormalise ? ND_OK
                : d->c.conv  ? normalise(d->w.data, d->w.shape[0], cnt / d->w.shape[0], false)
                             : normalise(d->w.data, d->m, d->n, true);
  if (s == ND_OK) s = set_inference_atoms(d);
  if (s != ND_OK) memcpy(d->w.data, keep, (size_t)cnt * sizeof *keep);
  return s;
}

nd_status nd_lca_dict_set_atoms(nd_lca_dict *d, const nd_tensor *w) {
  if (!d || !w) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_set_atoms: NULL argument");
  ND_TRY(nd_tensor_check_shape(w, "lca_dict atoms", d->w.ndim, d->w.shape));
  return nd__lca_dict_put_atoms(d, w->data, true);
}

/* Codes of the B signals in d->s, the residual R = S - Phi A, and the
 * figures added into sums. */
static nd_status codes(nd_lca_dict *d, int64_t B, double *e) {
  const int64_t m = d->m, n = d->n;
  nd_lca_result res;
  nd_status s = d->c.conv ? nd_lca_conv_solve(d->conv, d->s, B, d->a, &res) : nd_lca_solve(d->dense, d->s, B, d->a, &res);
  if (s != ND_OK) return s;
  if (d->c.conv) {
    ND_TRY(nd_lca_conv_reconstruct(d->conv, d->a, B, d->r));
    for (int64_t i = 0; i < B * m; i++) d->r[i] = d->s[i] - d->r[i];
  } else {
    memcpy(d->r, d->s, (size_t)(B * m) * sizeof *d->r);
    nd_sgemm(false, true, B, m, n, -1.0f, d->a, n, d->w.data, n, 1.0f, d->r, m);
  }
  double r2 = 0, s2 = 0, zeros = 0;
  for (int64_t i = 0; i < B * m; i++) r2 += (double)d->r[i] * d->r[i], s2 += (double)d->s[i] * d->s[i];
  for (int64_t i = 0; i < B * n; i++) zeros += d->a[i] == 0.0f;
  e[ND__DS_R2] += r2, e[ND__DS_S2] += s2, e[ND__DS_ZEROS] += zeros, e[ND__DS_COEFS] += (double)(B * n);
  e[ND__DS_ITERS] += (double)res.iterations, e[ND__DS_BATCHES] += 1, e[ND__DS_SIGNALS] += (double)B;
  e[ND__DS_OBJ] += res.objective;
  return ND_OK;
}

/* One minibatch: codes, then the dictionary step. */
static nd_status minibatch(nd_lca_dict *d, int64_t B) {
  const int64_t m = d->m, n = d->n;
  ND_TRY(codes(d, B, d->sums));
  /* Phi += lr / B * R A^T (Olshausen & Field 1997's rule), then unit norm */
  const float step = (float)(d->c.lr / (double)B);
  if (d->c.conv) {
    const nd_lca_conv_shape *sh = &d->c.shape;
    nd_conv2d_desc cd = conv_desc(&d->c, B);
    ND_TRY(nd_conv2d_backward_filter(&cd, d->r, d->a, 0.0f, d->g, NULL, d->ws));
    nd_axpy(step, d->g, d->w.data, nd_tensor_numel(&d->w));
    ND_TRY(normalise(d->w.data, sh->filters, nd_tensor_numel(&d->w) / sh->filters, false));
  } else {
    nd_sgemm(true, false, m, n, B, step, d->r, m, d->a, n, 1.0f, d->w.data, n);
    ND_TRY(normalise(d->w.data, m, n, true));
  }
  return set_inference_atoms(d);
}

static void stats_from(const nd_lca_dict *d, const double *e, nd_lca_dict_stats *st) {
  st->signals = (int64_t)e[ND__DS_SIGNALS];
  st->rel_error = e[ND__DS_S2] > 0 ? e[ND__DS_R2] / e[ND__DS_S2] : 0;
  st->mse = e[ND__DS_SIGNALS] > 0 ? e[ND__DS_R2] / (e[ND__DS_SIGNALS] * (double)d->m) : 0;
  st->sparsity = e[ND__DS_COEFS] > 0 ? e[ND__DS_ZEROS] / e[ND__DS_COEFS] : 0;
  st->l0 = e[ND__DS_SIGNALS] > 0 ? (e[ND__DS_COEFS] - e[ND__DS_ZEROS]) / e[ND__DS_SIGNALS] : 0;
  st->iterations = e[ND__DS_BATCHES] > 0 ? e[ND__DS_ITERS] / e[ND__DS_BATCHES] : 0;
  st->objective = e[ND__DS_SIGNALS] > 0 ? e[ND__DS_OBJ] / e[ND__DS_SIGNALS] : 0;
}

static void finish_epoch(nd_lca_dict *d) {
  stats_from(d, d->sums, &d->last);
  memset(d->sums, 0, sizeof d->sums);
}

static nd_status check_signals(const float *x, int64_t count, int64_t m, int64_t first) {
  for (int64_t i = 0; i < count * m; i++)
    if (!isfinite(x[i]))
      return nd__error(ND_ERR_INVALID_ARG, "lca_dict: signal %lld has a non-finite value", (long long)(first + i / m));
  return ND_OK;
}

nd_status nd_lca_dict_evaluate(nd_lca_dict *d, const float *x, int64_t n, nd_lca_dict_stats *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!d || !x || !out) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_evaluate: NULL argument");
  if (n < 1) return nd__error(ND_ERR_SHAPE, "lca_dict_evaluate: %lld signals", (long long)n);
  double e[ND__DS_COUNT] = {0};
  for (int64_t i = 0; i < n; i += d->c.batch) {
    const int64_t B = n - i < d->c.batch ? n - i : d->c.batch;
    ND_TRY(check_signals(x + i * d->m, B, d->m, i));
    memcpy(d->s, x + i * d->m, (size_t)(B * d->m) * sizeof *d->s);
    ND_TRY(codes(d, B, e));
  }
  stats_from(d, e, out);
  return ND_OK;
}

nd_status nd_lca_dict_epoch(nd_lca_dict *d, const float *x, int64_t n, nd_progress_fn progress, void *user) {
  if (!d || !x) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_epoch: NULL argument");
  if (n < d->c.batch)
    return nd__error(ND_ERR_SHAPE, "lca_dict_epoch: %lld signals, fewer than one minibatch of %lld", (long long)n,
                     (long long)d->c.batch);
  if (d->epoch >= d->c.epochs) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_epoch: all %lld epochs are done", (long long)d->c.epochs);
  ND_TRY(nd_sampler_begin(&d->sampler, n));
  const int64_t total = nd_sampler_batches(&d->sampler, n);
  const int64_t *rows;
  int64_t count;
  while (nd_sampler_next(&d->sampler, &rows, &count)) {
    nd_sampler_gather(x, d->m, rows, count, d->s);
    nd_status s = ND_OK;
    for (int64_t k = 0; k < count && s == ND_OK; k++) s = check_signals(d->s + k * d->m, 1, d->m, rows[k]);
    if (s != ND_OK) {
      nd_sampler_end(&d->sampler);
      return s;
    }
    s = minibatch(d, count);
    if (s != ND_OK) return nd__error(s, "epoch %lld: %s", (long long)d->epoch, nd_last_error());
    nd_progress_info info = {d->epoch, d->sampler.next, total};
    if (progress && progress(&info, user) && d->sampler.next < total) return ND_OK; /* stopped part-way */
  }
  finish_epoch(d);
  d->epoch++;
  return ND_OK;
}

nd_status nd_lca_dict_stats_of(const nd_lca_dict *d, nd_lca_dict_stats *out) {
  if (!d || !out) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_stats_of: NULL argument");
  *out = d->last;
  return ND_OK;
}

nd_status nd_lca_dict_get_state(const nd_lca_dict *d, nd_train_state *out) {
  if (!d || !out) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_get_state: NULL argument");
  nd_sampler_get_state(&d->sampler, out);
  out->epoch = d->epoch;
  return ND_OK;
}

nd_status nd_lca_dict_set_state(nd_lca_dict *d, const nd_train_state *s) {
  if (!d || !s) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_set_state: NULL argument");
  if (s->epoch < 0 || s->epoch > d->c.epochs || s->batch < 0)
    return nd__error(ND_ERR_INVALID_ARG, "lca_dict_set_state: epoch %lld, batch %lld outside the run's %lld epochs",
                     (long long)s->epoch, (long long)s->batch, (long long)d->c.epochs);
  ND_TRY(nd_sampler_set_state(&d->sampler, s));
  d->epoch = s->epoch;
  return ND_OK;
}

nd_status nd_lca_dict_write_png(const nd_lca_dict *d, const char *path, int max_tiles) {
  if (!d || !path) return nd__error(ND_ERR_INVALID_ARG, "lca_dict_write_png: NULL argument");
  int64_t count, h, w, len;
  if (d->c.conv) count = d->c.shape.filters, h = d->c.shape.kernel_h, w = d->c.shape.kernel_w;
  else count = d->n, h = d->c.rows, w = d->c.cols;
  len = h * w;
  if (max_tiles > 0 && count > max_tiles) count = max_tiles;
  float *t = malloc((size_t)(count * len) * sizeof *t);
  if (!t) return nd__error(ND_ERR_NOMEM, "lca_dict_write_png: out of memory");
  const int64_t fsize = d->c.conv ? d->c.shape.channels * len : 0;
  for (int64_t k = 0; k < count; k++)
    for (int64_t i = 0; i < len; i++) /* dense: column k; conv: filter k, channel 0 */
      t[k * len + i] = d->c.conv ? d->w.data[k * fsize + i] : d->w.data[i * d->n + k];
  int zoom = (int)(h >= 16 ? 2 : h >= 8 ? 3 : 4);
  nd_png_tiles_opts o = {.cols = 0, .cmap = ND_CMAP_BWR, .zoom = zoom, .global_range = false};
  nd_status s = nd_png_write_tiles(path, t, (int)count, (int)h, (int)w, &o);
  free(t);
  return s;
}
