/* CordsNet model: layout, weight norm, the Jacobi explicit-Euler step and the
 * two-phase forward (Soo et al., NeurIPS 2024, Eq. 2; upstream cordsnet.py
 * as described in docs/cordsnet.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/cordsnet/cordsnet_internal.h"

nd_cordsnet_config nd_cordsnet_defaults(void) {
  nd_cordsnet_config c = {ND_CORDSNET_UPSTREAM, 8, 3, 1000, 224, 224, 64};
  return c;
}

nd_cordsnet_run nd_cordsnet_run_defaults(void) {
  nd_cordsnet_run r = {100, 100, 0.2f};
  return r;
}

nd_status nd_cordsnet_config_check(const nd_cordsnet_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "cordsnet: config is NULL");
  if (c->layout != ND_CORDSNET_UPSTREAM && c->layout != ND_CORDSNET_NATIVE)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: layout = %d, need 0 (upstream) or 1 (native)", (int)c->layout);
  if (c->depth < 2 || c->depth > 8 || c->depth % 2)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: depth = %d, need 2, 4, 6 or 8", c->depth);
  if (c->in_channels < 1 || c->in_channels > 4096)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: in_channels = %lld, need 1..4096", (long long)c->in_channels);
  if (c->classes < 1 || c->classes > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: classes = %lld, need 1..1000000", (long long)c->classes);
  if (c->width < 1 || c->width > 1024)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: width = %lld, need 1..1024", (long long)c->width);
  if (c->in_h < 8 || c->in_w < 8 || c->in_h > 4096 || c->in_w > 4096)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: input %lldx%lld, need 8..4096 on each side", (long long)c->in_h,
                     (long long)c->in_w);
  return ND_OK;
}

static int add_wn(nd_cordsnet *m, const char *name, int ndim, int64_t o, int64_t i, int64_t kh, int64_t kw) {
  cd_wn *w = &m->wn[m->n_wn];
  memset(w, 0, sizeof *w);
  snprintf(w->name, sizeof w->name, "%s", name);
  w->ndim = ndim;
  w->shape[0] = o, w->shape[1] = i, w->shape[2] = kh, w->shape[3] = kw;
  w->out = o;
  w->fan = i * (ndim == 4 ? kh * kw : 1);
  w->g_off = m->n_params;
  w->v_off = m->n_params + o;
  m->n_params += o + o * w->fan;
  return m->n_wn++;
}

static nd_conv2d_desc conv_desc(int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t s, int64_t p) {
  nd_conv2d_desc d = {1, cin, h, w, cout, k, k, s, s, p, p};
  return d;
}

int64_t cd_state_floats(const nd_cordsnet *m) {
  int64_t n = 0;
  for (int j = 0; j < m->depth; j++) n += m->a[j].n;
  return n;
}

/* Channel plan (upstream cordsnet.py: channels = [64,64,64,128,128,256,256,512,512],
 * strides = [1,1,2,1,2,1,2,1]); native: the same with 64 -> width. */
nd_status cd_build(nd_cordsnet *m, const nd_cordsnet_config *c, int64_t stem_stride) {
  ND_TRY(nd_cordsnet_config_check(c));
  m->cfg = *c;
  m->depth = c->depth;
  int64_t base = c->width;
  const int64_t mult[9] = {1, 1, 1, 2, 2, 4, 4, 8, 8};
  const int64_t stride[8] = {1, 1, 2, 1, 2, 1, 2, 1};
  int64_t ch[9];
  for (int i = 0; i < 9; i++) ch[i] = base * mult[i];
  int64_t k = c->layout == ND_CORDSNET_NATIVE ? 3 : 7;
  m->stem_stride = stem_stride > 0 ? stem_stride : (c->layout == ND_CORDSNET_NATIVE ? 1 : 2);
  m->dstem = conv_desc(c->in_channels, c->in_h, c->in_w, ch[0], k, m->stem_stride, k / 2);
  ND_TRY(nd_conv2d_check(&m->dstem));
  m->hc = nd_conv2d_out_h(&m->dstem), m->wc = nd_conv2d_out_w(&m->dstem);
  nd_pool2d_desc pd = {1, ch[0], m->hc, m->wc, 3, 3, 2, 2, 1, 1, true};
  m->dpool = pd;
  ND_TRY(nd_pool2d_check(&m->dpool));
  m->c0 = ch[0], m->hs = nd_pool2d_out_h(&pd), m->wsp = nd_pool2d_out_w(&pd);
  m->n_params = 0, m->n_wn = 0;
  m->stem = add_wn(m, "inp_conv", 4, ch[0], c->in_channels, k, k);
  m->inp_skip = add_wn(m, "inp_skip", 4, ch[0], ch[0], 3, 3);
  int64_t hin = m->hs, win = m->wsp;
  char nm[32];
  for (int j = 0; j < m->depth; j++) {
    cd_area *a = &m->a[j];
    memset(a, 0, sizeof *a);
    a->cin = ch[j], a->hin = hin, a->win = win, a->nin = ch[j] * hin * win;
    a->dinp = conv_desc(ch[j], hin, win, ch[j + 1], 3, stride[j], 1);
    ND_TRY(nd_conv2d_check(&a->dinp));
    a->c = ch[j + 1], a->h = nd_conv2d_out_h(&a->dinp), a->w = nd_conv2d_out_w(&a->dinp);
    a->n = a->c * a->h * a->w;
    a->drec = conv_desc(a->c, a->h, a->w, a->c, 3, 1, 1);
    snprintf(nm, sizeof nm, "area_conv.%d", j);
    a->rec = add_wn(m, nm, 4, a->c, a->c, 3, 3);
    snprintf(nm, sizeof nm, "area_area.%d", j);
    a->inp = add_wn(m, nm, 4, a->c, a->cin, 3, 3);
    a->bias_off = m->n_params;
    m->n_params += a->n;
    a->skip = -1;
    a->term = j == 0 ? CD_TERM_NONE : j == 1 ? CD_TERM_INP_SKIP : j % 2 == 0 ? CD_TERM_IDENTITY : CD_TERM_SKIP_CONV;
    if (a->term == CD_TERM_INP_SKIP) {
      a->skip = m->inp_skip;
      a->dskip = conv_desc(ch[0], m->hs, m->wsp, ch[0], 3, 1, 1);
    } else if (a->term == CD_TERM_SKIP_CONV) {
      const cd_area *p2 = &m->a[j - 2];
      snprintf(nm, sizeof nm, "skip_area.%d", (j - 3) / 2);
      a->skip = add_wn(m, nm, 4, a->cin, p2->c, 1, 1);
      a->dskip = conv_desc(p2->c, p2->h, p2->w, a->cin, 1, 2, 0);
      if (nd_conv2d_out_h(&a->dskip) != hin || nd_conv2d_out_w(&a->dskip) != win)
        return nd__error(ND_ERR_SHAPE, "cordsnet: skip_area.%d gives %lldx%lld, area %d needs %lldx%lld", (j - 3) / 2,
                         (long long)nd_conv2d_out_h(&a->dskip), (long long)nd_conv2d_out_w(&a->dskip), j,
                         (long long)hin, (long long)win);
    }
    if (j >= 1) {
      const cd_area *p1 = &m->a[j - 1];
      if (p1->c != a->cin || p1->h != hin || p1->w != win)
        return nd__error(ND_ERR_SHAPE, "cordsnet: area %d input does not match area %d", j, j - 1);
    }
    if (a->term == CD_TERM_IDENTITY) {
      const cd_area *p2 = &m->a[j - 2];
      if (p2->n != a->nin) return nd__error(ND_ERR_SHAPE, "cordsnet: areas %d and %d differ in shape", j - 1, j - 2);
    }
    hin = a->h, win = a->w;
  }
  m->fc = add_wn(m, "out_fc", 2, c->classes, ch[m->depth], 1, 1);
  m->fc_bias_off = m->n_params;
  m->n_params += c->classes;
  return ND_OK;
}

static void cd_free_batch(nd_cordsnet *m) {
  for (int j = 0; j < ND_CORDSNET_MAX_DEPTH; j++) {
    nd_aligned_free(m->r[j]), nd_aligned_free(m->pre[j]), nd_aligned_free(m->u[j]);
    m->r[j] = m->pre[j] = m->u[j] = NULL;
  }
  nd_aligned_free(m->stem_c), nd_aligned_free(m->inp), nd_aligned_free(m->skipinp), nd_aligned_free(m->drive0);
  nd_aligned_free(m->feat), nd_aligned_free(m->ws);
  m->stem_c = m->inp = m->skipinp = m->drive0 = m->feat = m->ws = NULL;
  m->cap = 0;
}

static size_t ws_need(nd_conv2d_desc d, int64_t b) {
  d.batch = b;
  return nd_conv2d_workspace_floats(&d);
}

nd_status cd_reserve(nd_cordsnet *m, int64_t batch) {
  if (batch <= m->cap) return ND_OK;
  cd_free_batch(m);
  int64_t B = batch;
  bool ok = true;
#define CD_ALLOC(p, n) ok = ok && ((p) = nd_aligned_alloc(sizeof(float) * (size_t)((n) > 0 ? (n) : 1))) != NULL
  for (int j = 0; j < m->depth; j++) {
    CD_ALLOC(m->r[j], B * m->a[j].n);
    CD_ALLOC(m->pre[j], B * m->a[j].n);
    CD_ALLOC(m->u[j], B * m->a[j].nin);
  }
  CD_ALLOC(m->stem_c, B * m->c0 * m->hc * m->wc);
  CD_ALLOC(m->inp, B * m->c0 * m->hs * m->wsp);
  CD_ALLOC(m->skipinp, B * m->c0 * m->hs * m->wsp);
  CD_ALLOC(m->drive0, B * m->a[0].n);
  CD_ALLOC(m->feat, B * m->wn[m->fc].fan);
  size_t w = ws_need(m->dstem, B);
  for (int j = 0; j < m->depth; j++) {
    w = ND__MAX(w, ws_need(m->a[j].drec, B));
    w = ND__MAX(w, ws_need(m->a[j].dinp, B));
    if (m->a[j].skip >= 0) w = ND__MAX(w, ws_need(m->a[j].dskip, B));
  }
  m->ws_floats = w;
  CD_ALLOC(m->ws, (int64_t)w);
#undef CD_ALLOC
  if (!ok) {
    cd_free_batch(m);
    return nd__error(ND_ERR_NOMEM, "cordsnet: cannot allocate buffers for batch %lld", (long long)batch);
  }
  m->cap = batch;
  return ND_OK;
}

void cd_set_batch(nd_cordsnet *m, int64_t batch) {
  m->dstem.batch = batch;
  m->dpool.batch = batch;
  for (int j = 0; j < m->depth; j++) m->a[j].drec.batch = m->a[j].dinp.batch = m->a[j].dskip.batch = batch;
}

/* W = g v / ||v|| per output row (torch weight_norm, dim 0). */
void cd_fold(nd_cordsnet *m) {
  for (int i = 0; i < m->n_wn; i++) {
    cd_wn *w = &m->wn[i];
    const float *g = m->params + w->g_off, *v = m->params + w->v_off;
#pragma omp parallel for schedule(static) if (w->out * w->fan > 65536)
    for (int64_t o = 0; o < w->out; o++) {
      double s = 0;
      for (int64_t k = 0; k < w->fan; k++) s += (double)v[o * w->fan + k] * v[o * w->fan + k];
      double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
      w->inv_norm[o] = (float)inv;
      float f = (float)(g[o] * inv);
      for (int64_t k = 0; k < w->fan; k++) w->w[o * w->fan + k] = f * v[o * w->fan + k];
    }
  }
  m->spont_valid = false;
}

void nd_cordsnet_weights_changed(nd_cordsnet *m) {
  if (m) cd_fold(m);
}

static nd_status cd_alloc_params(nd_cordsnet *m) {
  m->params = nd_aligned_alloc(sizeof(float) * (size_t)m->n_params);
  m->grad = nd_aligned_alloc(sizeof(float) * (size_t)m->n_params);
  if (!m->params || !m->grad) return nd__error(ND_ERR_NOMEM, "cordsnet: cannot allocate %lld parameters", (long long)m->n_params);
  memset(m->params, 0, sizeof(float) * (size_t)m->n_params);
  memset(m->grad, 0, sizeof(float) * (size_t)m->n_params);
  for (int i = 0; i < m->n_wn; i++) {
    cd_wn *w = &m->wn[i];
    w->w = nd_aligned_alloc(sizeof(float) * (size_t)(w->out * w->fan));
    w->inv_norm = nd_aligned_alloc(sizeof(float) * (size_t)w->out);
    if (!w->w || !w->inv_norm) return nd__error(ND_ERR_NOMEM, "cordsnet: cannot allocate weight %s", w->name);
  }
  for (int j = 0; j < m->depth; j++) {
    m->spont[j] = nd_aligned_alloc(sizeof(float) * (size_t)m->a[j].n);
    if (!m->spont[j]) return nd__error(ND_ERR_NOMEM, "cordsnet: cannot allocate the spontaneous state");
  }
  return ND_OK;
}

/* Allocates a model of config c (params zero); internal for load. */
nd_status cd_new(const nd_cordsnet_config *c, int64_t stem_stride, nd_cordsnet **out);
nd_status cd_new(const nd_cordsnet_config *c, int64_t stem_stride, nd_cordsnet **out) {
  nd_cordsnet *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "cordsnet: out of memory");
  nd_status s = cd_build(m, c, stem_stride);
  if (s == ND_OK) s = cd_alloc_params(m);
  if (s != ND_OK) {
    nd_cordsnet_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}

nd_status nd_cordsnet_create(const nd_cordsnet_config *c, uint64_t seed, nd_cordsnet **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_create: out is NULL");
  *out = NULL;
  nd_cordsnet *m;
  ND_TRY(cd_new(c, 0, &m));
  nd_rng rng;
  nd_rng_init(&rng, seed);
  /* PyTorch's default init: kaiming_uniform(a = sqrt 5) = U(-1/sqrt fan, 1/sqrt fan);
   * weight_norm then sets g = ||v||. */
  for (int i = 0; i < m->n_wn; i++) {
    cd_wn *w = &m->wn[i];
    float bound = 1.0f / sqrtf((float)w->fan);
    float *v = m->params + w->v_off;
    nd_rng_uniform(&rng, v, w->out * w->fan, -bound, bound);
    for (int64_t o = 0; o < w->out; o++) {
      double s = 0;
      for (int64_t k = 0; k < w->fan; k++) s += (double)v[o * w->fan + k] * v[o * w->fan + k];
      m->params[w->g_off + o] = (float)sqrt(s);
    }
  }
  float bound = 1.0f / sqrtf((float)m->wn[m->fc].fan);
  nd_rng_uniform(&rng, m->params + m->fc_bias_off, m->cfg.classes, -bound, bound);
  cd_fold(m);
  *out = m;
  return ND_OK;
}

void nd_cordsnet_free(nd_cordsnet *m) {
  if (!m) return;
  cd_free_batch(m);
  for (int i = 0; i < m->n_wn; i++)
    nd_aligned_free(m->wn[i].w), nd_aligned_free(m->wn[i].inv_norm), nd_aligned_free(m->wn[i].dw);
  for (int j = 0; j < ND_CORDSNET_MAX_DEPTH; j++) {
    nd_aligned_free(m->spont[j]);
    nd_aligned_free(m->dr[j]), nd_aligned_free(m->dr2[j]), nd_aligned_free(m->dpre[j]), nd_aligned_free(m->du[j]);
  }
  nd_aligned_free(m->dtmp), nd_aligned_free(m->dbias);
  nd_aligned_free(m->dinp), nd_aligned_free(m->dskipinp), nd_aligned_free(m->ddrive0), nd_aligned_free(m->dstem_c);
  nd_aligned_free(m->dfeat), nd_aligned_free(m->logits), nd_aligned_free(m->dlogits), nd_aligned_free(m->bptt);
  nd_aligned_free(m->params), nd_aligned_free(m->grad);
  free(m);
}

const nd_cordsnet_config *nd_cordsnet_config_of(const nd_cordsnet *m) { return m ? &m->cfg : NULL; }

nd_status nd_cordsnet_area_shape(const nd_cordsnet *m, int j, int64_t *c, int64_t *h, int64_t *w) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_area_shape: model is NULL");
  if (j < 0 || j >= m->depth) return nd__error(ND_ERR_INVALID_ARG, "cordsnet: area %d, need 0..%d", j, m->depth - 1);
  if (c) *c = m->a[j].c;
  if (h) *h = m->a[j].h;
  if (w) *w = m->a[j].w;
  return ND_OK;
}

nd_status nd_cordsnet_area_conv(const nd_cordsnet *m, int j, const float **w, int64_t *c, int64_t *kh, int64_t *kw,
                                int64_t *h, int64_t *wd) {
  ND_TRY(nd_cordsnet_area_shape(m, j, c, h, wd));
  if (!w) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_area_conv: w is NULL");
  const cd_wn *x = &m->wn[m->a[j].rec];
  *w = x->w;
  if (kh) *kh = x->shape[2];
  if (kw) *kw = x->shape[3];
  return ND_OK;
}

nd_status nd_cordsnet_area_bias(const nd_cordsnet *m, int j, const float **b) {
  ND_TRY(nd_cordsnet_area_shape(m, j, NULL, NULL, NULL));
  if (!b) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_area_bias: b is NULL");
  *b = m->params + m->a[j].bias_off;
  return ND_OK;
}

int64_t nd_cordsnet_num_params(const nd_cordsnet *m) { return m ? m->n_params : -1; }
float *nd_cordsnet_params(nd_cordsnet *m) { return m ? m->params : NULL; }
float *nd_cordsnet_grad(nd_cordsnet *m) { return m ? m->grad : NULL; }

/* ------------------------------------------------------------- forward */

void cd_stem(nd_cordsnet *m, const float *x, int64_t B) {
  size_t ninp = (size_t)(B * m->c0 * m->hs * m->wsp);
  if (!x) {
    memset(m->inp, 0, sizeof(float) * ninp);
    memset(m->skipinp, 0, sizeof(float) * ninp);
    memset(m->drive0, 0, sizeof(float) * (size_t)(B * m->a[0].n));
    return;
  }
  cd_set_batch(m, B);
  nd_conv2d_forward(&m->dstem, x, m->wn[m->stem].w, NULL, 0.0f, m->stem_c, m->ws);
  nd_avgpool2d_forward(&m->dpool, m->stem_c, m->inp);
  /* The input terms that do not change during the stimulus: area_area_0(u_0)
   * (u_0 = stem) and inp_skip(stem) of u_1; computed once per image. */
  nd_conv2d_forward(&m->a[0].dinp, m->inp, m->wn[m->a[0].inp].w, NULL, 0.0f, m->drive0, m->ws);
  nd_conv2d_forward(&m->a[1].dskip, m->inp, m->wn[m->inp_skip].w, NULL, 0.0f, m->skipinp, m->ws);
}

/* u_j, the sum of area j's inputs, from the current states (r >= 0, so
 * relu(r) = r in the forward pass). */
static void build_input(nd_cordsnet *m, int j, int64_t B, bool zero_input) {
  cd_area *a = &m->a[j];
  float *u = m->u[j];
  const float *r1 = m->r[j - 1];
  int64_t n = B * a->nin;
  switch (a->term) {
  case CD_TERM_INP_SKIP:
    if (zero_input) {
      memcpy(u, r1, sizeof(float) * (size_t)n);
    } else {
      const float *s = m->skipinp;
#pragma omp parallel for simd schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; i++) u[i] = r1[i] + s[i];
    }
    break;
  case CD_TERM_IDENTITY: {
    const float *r2 = m->r[j - 2];
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) u[i] = r1[i] + r2[i];
    break;
  }
  case CD_TERM_SKIP_CONV:
    memcpy(u, r1, sizeof(float) * (size_t)n);
    nd_conv2d_forward(&a->dskip, m->r[j - 2], m->wn[a->skip].w, NULL, 1.0f, u, m->ws);
    break;
  default:
    break;
  }
}

void cd_step(nd_cordsnet *m, int64_t B, float alpha, bool zero_input) {
  cd_set_batch(m, B);
  /* j = D-1 .. 0: area j reads r_{j-1}, r_{j-2} before they are updated,
   * so the in-place loop is the synchronous (Jacobi) Euler step. */
  for (int j = m->depth - 1; j >= 0; j--) {
    cd_area *a = &m->a[j];
    float *pre = m->pre[j], *r = m->r[j];
    nd_conv2d_forward(&a->drec, r, m->wn[a->rec].w, NULL, 0.0f, pre, m->ws);
    if (j == 0) {
      if (!zero_input) nd_add(pre, m->drive0, pre, B * a->n);
    } else {
      build_input(m, j, B, zero_input);
      nd_conv2d_forward(&a->dinp, m->u[j], m->wn[a->inp].w, NULL, 1.0f, pre, m->ws);
    }
    const float *bias = m->params + a->bias_off;
    const float c1 = 1.0f - alpha;
    const int64_t n = a->n;
#pragma omp parallel for schedule(static) if (B * n > 32768)
    for (int64_t b = 0; b < B; b++) {
      float *pb = pre + b * n, *rb = r + b * n;
#pragma omp simd
      for (int64_t i = 0; i < n; i++) {
        float p = pb[i] + bias[i];
        pb[i] = p;
        rb[i] = c1 * rb[i] + alpha * (p > 0.0f ? p : 0.0f);
      }
    }
  }
}

void cd_readout(nd_cordsnet *m, int64_t B, float *logits) {
  cd_readout_from(m, B, m->r[m->depth - 1], m->r[m->depth - 2], logits);
}

void cd_readout_from(nd_cordsnet *m, int64_t B, const float *r1, const float *r2, float *logits) {
  const cd_area *a1 = &m->a[m->depth - 1];
  int64_t C = a1->c, hw = a1->h * a1->w;
  float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) if (B * C > 256)
  for (int64_t bc = 0; bc < B * C; bc++) {
    double s = 0;
    const float *p = r1 + bc * hw, *q = r2 + bc * hw;
    for (int64_t i = 0; i < hw; i++) s += (double)p[i] + (double)q[i];
    m->feat[bc] = (float)s * inv;
  }
  const cd_wn *fc = &m->wn[m->fc];
  nd_sgemm(false, true, B, fc->out, fc->fan, 1.0f, m->feat, fc->fan, fc->w, fc->fan, 0.0f, logits, fc->out);
  nd_add_channel_bias(logits, m->params + m->fc_bias_off, B, fc->out, 1);
}

static nd_status check_run(const nd_cordsnet_run *r) {
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "cordsnet: run settings are NULL");
  if (r->steps_spont < 0 || r->steps < 1 || r->steps_spont > 1000000 || r->steps > 1000000)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: steps_spont = %d, steps = %d, need >= 0 and >= 1", r->steps_spont,
                     r->steps);
  if (!(r->alpha > 0.0f && r->alpha <= 1.0f))
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet: alpha = %g, need 0 < alpha <= 1", (double)r->alpha);
  return ND_OK;
}

/* The spontaneous phase: zero input, so every image sees the same states;
 * run once at batch 1 and kept until the weights or the settings change. */
nd_status cd_spont(nd_cordsnet *m, const nd_cordsnet_run *r) {
  ND_TRY(check_run(r));
  if (m->spont_valid && m->spont_steps == r->steps_spont && m->spont_alpha == r->alpha) return ND_OK;
  ND_TRY(cd_reserve(m, 1));
  for (int j = 0; j < m->depth; j++) memset(m->r[j], 0, sizeof(float) * (size_t)m->a[j].n);
  for (int t = 0; t < r->steps_spont; t++) cd_step(m, 1, r->alpha, true);
  for (int j = 0; j < m->depth; j++) memcpy(m->spont[j], m->r[j], sizeof(float) * (size_t)m->a[j].n);
  m->spont_valid = true;
  m->spont_steps = r->steps_spont;
  m->spont_alpha = r->alpha;
  return ND_OK;
}

void cd_broadcast_spont(nd_cordsnet *m, int64_t B) {
  for (int j = 0; j < m->depth; j++)
    for (int64_t b = 0; b < B; b++) memcpy(m->r[j] + b * m->a[j].n, m->spont[j], sizeof(float) * (size_t)m->a[j].n);
}

nd_status nd_cordsnet_spontaneous(nd_cordsnet *m, const nd_cordsnet_run *r, int j, const float **state) {
  ND_TRY(nd_cordsnet_area_shape(m, j, NULL, NULL, NULL));
  if (!state) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_spontaneous: state is NULL");
  ND_TRY(cd_spont(m, r));
  *state = m->spont[j];
  return ND_OK;
}

static nd_status forward_common(nd_cordsnet *m, const nd_cordsnet_run *r, const float *x, int64_t n, int n_areas,
                                const int *areas, float *const *traj, float *logits) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_forward: model is NULL");
  ND_TRY(check_run(r));
  if (!x) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_forward: x is NULL");
  if (n < 1 || n > 1000000) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_forward: n = %lld, need >= 1", (long long)n);
  if (n_areas < 0 || n_areas > m->depth || (n_areas > 0 && (!areas || !traj)))
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet_record: n_areas = %d with areas/traj given, need 0..%d", n_areas,
                     m->depth);
  for (int k = 0; k < n_areas; k++) {
    if (areas[k] < 0 || areas[k] >= m->depth)
      return nd__error(ND_ERR_INVALID_ARG, "cordsnet_record: area %d, need 0..%d", areas[k], m->depth - 1);
    if (!traj[k]) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_record: traj[%d] is NULL", k);
  }
  int T = r->steps_spont + r->steps;
  if (n_areas > 0) {
    /* the spontaneous trajectory itself is wanted: run it at batch 1 and copy */
    ND_TRY(cd_reserve(m, 1));
    for (int j = 0; j < m->depth; j++) memset(m->r[j], 0, sizeof(float) * (size_t)m->a[j].n);
    for (int t = 0; t < r->steps_spont; t++) {
      cd_step(m, 1, r->alpha, true);
      for (int k = 0; k < n_areas; k++) {
        int64_t an = m->a[areas[k]].n;
        for (int64_t b = 0; b < n; b++)
          memcpy(traj[k] + ((int64_t)t * n + b) * an, m->r[areas[k]], sizeof(float) * (size_t)an);
      }
    }
  }
  ND_TRY(cd_spont(m, r));
  ND_TRY(cd_reserve(m, n));
  cd_broadcast_spont(m, n);
  cd_stem(m, x, n);
  for (int t = 0; t < r->steps; t++) {
    cd_step(m, n, r->alpha, false);
    for (int k = 0; k < n_areas; k++) {
      int64_t an = m->a[areas[k]].n;
      memcpy(traj[k] + (int64_t)(r->steps_spont + t) * n * an, m->r[areas[k]], sizeof(float) * (size_t)(n * an));
    }
  }
  (void)T;
  if (logits) cd_readout(m, n, logits);
  return ND_OK;
}

nd_status nd_cordsnet_forward(nd_cordsnet *m, const nd_cordsnet_run *r, const float *x, int64_t n, float *logits) {
  if (!logits) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_forward: logits is NULL");
  return forward_common(m, r, x, n, 0, NULL, NULL, logits);
}

nd_status nd_cordsnet_record(nd_cordsnet *m, const nd_cordsnet_run *r, const float *x, int64_t n, int n_areas,
                             const int *areas, float *const *traj, float *logits) {
  if (n_areas < 1) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_record: n_areas = %d, need >= 1", n_areas);
  return forward_common(m, r, x, n, n_areas, areas, traj, logits);
}
