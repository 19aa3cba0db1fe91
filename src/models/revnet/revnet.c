/* Bijective classifier of additive coupling blocks, backward by
 * reconstruction (include/neurodyn/revnet.h; Gomez et al. 2017, Alg. 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/revnet.h"
#include "neurodyn/rng.h"

struct nd_revnet {
  nd_revnet_config c;
  int64_t d, sub;        /* half width D/2; parameters of one F or G */
  int64_t np;
  float *p, *g;
  float *y, *gy;         /* [B, D] the current activation and dL/d(it) */
  float *hid, *out;      /* [B, h], [B, d] a sub-layer's tanh and output */
  float *dh;             /* [B, h] */
  float *x0;             /* [B, D] the input, for the reconstruction error */
  float *stack;          /* store: [(L + 1), B, D] every block's input */
  float *logits, *dlogits;
  size_t act_bytes;
  double recon_err;
};

nd_revnet_config nd_revnet_defaults(void) {
  return (nd_revnet_config){.inputs = 784, .hidden = 64, .layers = 4, .classes = 10, .batch_max = 256, .seed = 1};
}

nd_status nd_revnet_config_check(const nd_revnet_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "revnet: config is NULL");
  if (c->inputs < 2 || c->inputs > 1 << 20 || c->inputs % 2)
    return nd__error(ND_ERR_INVALID_ARG, "revnet: inputs = %lld, expected even, 2..2^20", (long long)c->inputs);
  if (c->hidden < 1 || c->hidden > 65536) return nd__error(ND_ERR_INVALID_ARG, "revnet: hidden = %lld, expected 1..65536", (long long)c->hidden);
  if (c->layers < 1 || c->layers > 1000) return nd__error(ND_ERR_INVALID_ARG, "revnet: layers = %lld, expected 1..1000", (long long)c->layers);
  if (c->classes < 2 || c->classes > c->inputs / 2)
    return nd__error(ND_ERR_INVALID_ARG, "revnet: classes = %lld, expected 2..inputs/2 (%lld)", (long long)c->classes, (long long)c->inputs / 2);
  if (c->batch_max < 1 || c->batch_max > 100000) return nd__error(ND_ERR_INVALID_ARG, "revnet: batch_max = %lld, expected 1..100000", (long long)c->batch_max);
  return ND_OK;
}

void nd_revnet_free(nd_revnet *m) {
  if (!m) return;
  free(m->p), free(m->g), free(m->y), free(m->gy), free(m->hid), free(m->out), free(m->dh), free(m->x0), free(m->stack);
  free(m->logits), free(m->dlogits);
  free(m);
}

nd_status nd_revnet_create(const nd_revnet_config *c, nd_revnet **out) {
  if (out) *out = NULL;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "revnet: out is NULL");
  ND_TRY(nd_revnet_config_check(c));
  nd_revnet *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "revnet: out of memory");
  m->c = *c;
  int64_t D = c->inputs, d = D / 2, h = c->hidden, B = c->batch_max;
  m->d = d, m->sub = h * d + h + d * h + d, m->np = 2 * c->layers * m->sub;
  m->p = calloc((size_t)m->np, sizeof *m->p), m->g = calloc((size_t)m->np, sizeof *m->g);
  m->y = malloc(sizeof(float) * (size_t)(B * D)), m->gy = malloc(sizeof(float) * (size_t)(B * D));
  m->hid = malloc(sizeof(float) * (size_t)(B * h)), m->dh = malloc(sizeof(float) * (size_t)(B * h));
  m->out = malloc(sizeof(float) * (size_t)(B * d)), m->x0 = malloc(sizeof(float) * (size_t)(B * D));
  m->logits = malloc(sizeof(float) * (size_t)(B * c->classes)), m->dlogits = malloc(sizeof(float) * (size_t)(B * c->classes));
  if (c->store) m->stack = malloc(sizeof(float) * (size_t)((c->layers + 1) * B * D));
  nd_status s = (!m->p || !m->g || !m->y || !m->gy || !m->hid || !m->dh || !m->out || !m->x0 || !m->logits || !m->dlogits ||
                 (c->store && !m->stack))
                    ? nd__error(ND_ERR_NOMEM, "revnet: out of memory")
                    : ND_OK;
  nd_rng r;
  nd_rng_init(&r, c->seed);
  for (int64_t k = 0; s == ND_OK && k < 2 * c->layers; k++) { /* W ~ N(0, 1/d); V ~ N(0, 0.1^2/h): blocks start near identity */
    float *q = m->p + k * m->sub;
    s = nd_rng_normal(&r, q, h * d, 0, (float)(1 / sqrt((double)d)));
    if (s == ND_OK) s = nd_rng_normal(&r, q + h * d + h, d * h, 0, (float)(0.1 / sqrt((double)h)));
  }
  if (s != ND_OK) {
    nd_revnet_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}

int64_t nd_revnet_num_params(const nd_revnet *m) { return m ? m->np : -1; }
float *nd_revnet_params(nd_revnet *m) { return m ? m->p : NULL; }
float *nd_revnet_grad(nd_revnet *m) { return m ? m->g : NULL; }
size_t nd_revnet_activation_bytes(const nd_revnet *m) { return m ? m->act_bytes : 0; }
double nd_revnet_reconstruction_error(const nd_revnet *m) { return m ? m->recon_err : NAN; }

/* out [B, d] = V tanh(W u + b) + c for sub-layer k, u [B, d] with leading dimension D; hid keeps the tanh. */
static void sub_forward(nd_revnet *m, int64_t k, const float *u, int64_t B) {
  int64_t d = m->d, h = m->c.hidden, D = m->c.inputs;
  const float *W = m->p + k * m->sub, *b = W + h * d, *V = b + h, *c = V + d * h;
  for (int64_t i = 0; i < B; i++) memcpy(m->hid + i * h, b, sizeof(float) * (size_t)h);
  nd_sgemm(false, true, B, h, d, 1, u, D, W, d, 1, m->hid, h);
  for (int64_t i = 0; i < B * h; i++) m->hid[i] = tanhf(m->hid[i]);
  for (int64_t i = 0; i < B; i++) memcpy(m->out + i * d, c, sizeof(float) * (size_t)d);
  nd_sgemm(false, true, B, d, h, 1, m->hid, h, V, h, 1, m->out, d);
}

/* After sub_forward(k, u): gradient of sub-layer k for dL/d(out) = gout (ld D), and gu (ld D) += dL/du. */
static void sub_backward(nd_revnet *m, int64_t k, const float *u, const float *gout, float *gu, int64_t B) {
  int64_t d = m->d, h = m->c.hidden, D = m->c.inputs;
  const float *W = m->p + k * m->sub, *V = W + h * d + h;
  float *gW = m->g + k * m->sub, *gb = gW + h * d, *gV = gb + h, *gc = gV + d * h;
  nd_sgemm(true, false, d, h, B, 1, gout, D, m->hid, h, 1, gV, h);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d; j++) gc[j] += gout[i * D + j];
  nd_sgemm(false, false, B, h, d, 1, gout, D, V, h, 0, m->dh, h);
  for (int64_t i = 0; i < B * h; i++) m->dh[i] *= 1 - m->hid[i] * m->hid[i];
  nd_sgemm(true, false, h, d, B, 1, m->dh, h, u, D, 1, gW, d);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < h; j++) gb[j] += m->dh[i * h + j];
  nd_sgemm(false, false, B, d, h, 1, m->dh, h, W, d, 1, gu, D);
}

/* y (in place, [B, D]) through block l: y1 += F(y2), then y2 += G(y1). */
static void block_forward(nd_revnet *m, int64_t l, float *y, int64_t B) {
  int64_t d = m->d, D = m->c.inputs;
  sub_forward(m, 2 * l, y + d, B);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d; j++) y[i * D + j] += m->out[i * d + j];
  sub_forward(m, 2 * l + 1, y, B);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d; j++) y[i * D + d + j] += m->out[i * d + j];
}

/* Backward through block l from its output y and gy = dL/dy: y becomes the
 * block's input (reconstructed, or from `input` when stored), gy its gradient. */
static void block_backward(nd_revnet *m, int64_t l, float *y, float *gy, const float *input, int64_t B) {
  int64_t d = m->d, D = m->c.inputs;
  sub_forward(m, 2 * l + 1, y, B); /* G(y1) */
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d; j++) y[i * D + d + j] = input ? input[i * D + d + j] : y[i * D + d + j] - m->out[i * d + j];
  sub_backward(m, 2 * l + 1, y, gy + d, gy, B); /* g1 += dG/dy1^T g2 */
  sub_forward(m, 2 * l, y + d, B); /* F(x2) */
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < d; j++) y[i * D + j] = input ? input[i * D + j] : y[i * D + j] - m->out[i * d + j];
  sub_backward(m, 2 * l, y + d, gy, gy + d, B); /* g2 += dF/dx2^T g1 */
}

static nd_status check_rows(const nd_revnet *m, const float *x, int64_t B) {
  if (!m || !x) return nd__error(ND_ERR_INVALID_ARG, "revnet: NULL argument");
  if (B < 1 || B > m->c.batch_max) return nd__error(ND_ERR_SHAPE, "revnet: B = %lld, expected 1..batch_max (%lld)", (long long)B, (long long)m->c.batch_max);
  return ND_OK;
}

static void forward(nd_revnet *m, const float *x, int64_t B) {
  int64_t D = m->c.inputs, C = m->c.classes;
  memcpy(m->y, x, sizeof(float) * (size_t)(B * D));
  for (int64_t l = 0; l < m->c.layers; l++) {
    if (m->stack) memcpy(m->stack + l * B * D, m->y, sizeof(float) * (size_t)(B * D));
    block_forward(m, l, m->y, B);
  }
  for (int64_t i = 0; i < B; i++) memcpy(m->logits + i * C, m->y + i * D, sizeof(float) * (size_t)C);
}

nd_status nd_revnet_predict(nd_revnet *m, const float *x, int64_t B, float *logits) {
  ND_TRY(check_rows(m, x, B));
  if (!logits) return nd__error(ND_ERR_INVALID_ARG, "revnet: logits is NULL");
  float *keep = m->stack;
  m->stack = NULL; /* inference stores nothing */
  forward(m, x, B);
  m->stack = keep;
  memcpy(logits, m->logits, sizeof(float) * (size_t)(B * m->c.classes));
  return ND_OK;
}

nd_status nd_revnet_loss_grad(nd_revnet *m, const float *x, const int32_t *labels, int64_t B, double *loss, int64_t *wrong) {
  ND_TRY(check_rows(m, x, B));
  if (!labels || !loss || !wrong) return nd__error(ND_ERR_INVALID_ARG, "revnet: NULL argument");
  int64_t D = m->c.inputs, C = m->c.classes;
  forward(m, x, B);
  ND_TRY(nd_cross_entropy(m->logits, labels, B, C, loss, m->dlogits));
  *wrong = 0;
  for (int64_t i = 0; i < B; i++) {
    int64_t k;
    nd_row_argmax(m->logits + i * C, 1, C, &k);
    *wrong += k != labels[i];
  }
  memset(m->gy, 0, sizeof(float) * (size_t)(B * D)); /* the dummy dimensions: no loss */
  for (int64_t i = 0; i < B; i++) memcpy(m->gy + i * D, m->dlogits + i * C, sizeof(float) * (size_t)C);
  memset(m->g, 0, sizeof(float) * (size_t)m->np);
  for (int64_t l = m->c.layers - 1; l >= 0; l--) block_backward(m, l, m->y, m->gy, m->stack ? m->stack + l * B * D : NULL, B);
  m->recon_err = 0;
  for (int64_t i = 0; i < B * D; i++) m->recon_err = fmax(m->recon_err, fabs((double)m->y[i] - x[i]));
  size_t scratch = sizeof(float) * (size_t)(B * (2 * D + 2 * m->c.hidden + m->d));
  m->act_bytes = scratch + (m->stack ? sizeof(float) * (size_t)((m->c.layers + 1) * B * D) : 0);
  return ND_OK;
}
