/* Forward-forward training of the MLP (Hinton 2022, arXiv 2212.13345,
 * Sec. 3.3; ops in src/learning/ff.c).  Each hidden layer l reads the
 * length-normalised activity of the layer below, detached, and is trained on
 * its own goodness loss (Eq. 1) with positive rows (true label embedded in
 * the first pixels) and negative rows (a wrong label drawn uniformly); the
 * last layer is a softmax read-out of the normalised top hidden activity of
 * the image with the neutral label (0.1 in every label pixel), trained by
 * cross-entropy on detached input (the paper's faster test, Sec. 3.3).  No
 * gradient crosses a layer boundary. */
#include <string.h>

#include "core/internal.h"
#include "internal.h"

#define FF_EPS 1e-8f     /* length normalisation: x / (||x|| / sqrt(d) + eps) */
#define FF_NEUTRAL 0.1f  /* neutral label value (Sec. 3.3) */

/* A normalised detached copy of v's value (rows `from`.. of it) as a
 * constant leaf. */
static nd_var *normalised(nd_tape *tp, const float *data, int64_t rows, int64_t d) {
  float *buf = nd_tape_alloc(tp, (size_t)(rows * d) * sizeof(float));
  if (!buf) return NULL;
  nd_credit_ff_normalize(data, rows, d, FF_EPS, buf);
  nd_tensor *t = nd_tape_alloc(tp, sizeof *t);
  if (!t) return NULL;
  *t = nd_tensor_wrap(buf, 2, ND_SHAPE(rows, d));
  return nd_tape_constant(tp, t);
}

static float theta_of(const nd_mlp *m, int l) {
  return m->c.ff_theta > 0 ? m->c.ff_theta : (float)m->c.sizes[l + 1]; /* default: the unit count */
}

/* The read-out z of the rows [first, first + count) of the layer stack run
 * on images xin [rows, d] (labels already embedded); with n_pos/n_neg > 0
 * each hidden layer's goodness loss is added into *total. */
static nd_var *stack(nd_mlp *m, nd_tape *tp, float *xin, int64_t rows, int64_t n_pos, int64_t n_neg, int64_t first,
                     int64_t count, nd_var **total) {
  nd_var *in = normalised(tp, xin, rows, m->c.sizes[0]);
  for (int l = 0; l < m->n_layers; l++) {
    nd_var *w, *b;
    nd__mlp_layer_params(m, tp, l, &w, &b);
    if (l + 1 == m->n_layers) return nd_ad_linear(tp, in, w, b);
    nd_var *h = nd__mlp_activate(tp, &m->c, nd_ad_linear(tp, in, w, b));
    if (!h) return NULL;
    if (total && n_pos + n_neg > 0) {
      nd_var *ll = nd_credit_ff_loss(tp, h, n_pos, n_neg, theta_of(m, l));
      *total = *total ? nd_ad_add(tp, *total, ll) : ll;
    }
    int64_t n = m->c.sizes[l + 1];
    bool top = l + 2 == m->n_layers; /* the read-out sees only the neutral rows */
    in = top ? normalised(tp, nd_var_value(h)->data + first * n, count, n) : normalised(tp, nd_var_value(h)->data, rows, n);
  }
  return NULL;
}

nd_var *nd__mlp_ff_forward(nd_mlp *m, nd_tape *tp, nd_var *x) {
  if (!tp || !x) return NULL;
  const nd_tensor *xv = nd_var_value(x);
  int64_t d = m->c.sizes[0], classes = m->c.sizes[m->c.n_sizes - 1];
  if (xv->ndim != 2 || xv->shape[1] != d) {
    char s[64];
    nd__error(ND_ERR_SHAPE, "mlp ff: input is %s, expected [batch, %lld]", nd_tensor_shape_str(xv, s, 64), (long long)d);
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  int64_t rows = xv->shape[0];
  float *buf = nd_tape_alloc(tp, (size_t)(rows * d) * sizeof(float));
  if (!buf) return NULL;
  memcpy(buf, xv->data, (size_t)(rows * d) * sizeof(float));
  nd_credit_ff_embed(buf, rows, d, classes, NULL, FF_NEUTRAL);
  return stack(m, tp, buf, rows, 0, 0, 0, rows, NULL);
}

nd_status nd__mlp_ff_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss) {
  int64_t d = m->c.sizes[0], classes = m->c.sizes[m->c.n_sizes - 1];
  nd_tape *tp = m->tape;
  bool was = nd_tape_is_recording(tp);
  nd_tape_set_recording(tp, true);
  nd_tape_reset(tp);
  /* [positive; negative; neutral] rows in one batch (one GEMM per layer) */
  float *buf = nd_tape_alloc(tp, (size_t)(3 * rows * d) * sizeof(float));
  int32_t *neg = nd_tape_alloc(tp, (size_t)rows * sizeof(int32_t));
  nd_status s = nd_tape_status(tp);
  for (int64_t r = 0; s == ND_OK && r < rows; r++) {
    if (labels[r] < 0 || labels[r] >= classes)
      s = nd__error(ND_ERR_INVALID_ARG, "mlp ff: label %d of row %lld is outside 0..%lld", (int)labels[r], (long long)r,
                    (long long)classes - 1);
    /* a wrong label, uniform over the other classes (Sec. 3.3); a fixed stream outside an epoch */
    uint32_t u = m->drawn ? m->draw_u[m->draw_r0 + r] : m->neg_rng ? nd_rng_u32(m->neg_rng) : (uint32_t)(r * 2654435761u);
    if (s == ND_OK) neg[r] = (int32_t)((labels[r] + 1 + (int64_t)(u % (uint32_t)(classes - 1))) % classes);
  }
  if (s == ND_OK) {
    for (int k = 0; k < 3; k++) memcpy(buf + k * rows * d, x, (size_t)(rows * d) * sizeof(float));
    nd_credit_ff_embed(buf, rows, d, classes, labels, 0.0f);
    nd_credit_ff_embed(buf + rows * d, rows, d, classes, neg, 0.0f);
    nd_credit_ff_embed(buf + 2 * rows * d, rows, d, classes, NULL, FF_NEUTRAL);
    nd_var *total = NULL;
    nd_var *z = stack(m, tp, buf, 3 * rows, rows, rows, 2 * rows, rows, &total);
    nd_var *ce = nd_mlp_loss(m, tp, z, labels);
    total = total ? nd_ad_add(tp, total, ce) : ce;
    s = nd_tape_backward(tp, total);
    if (s == ND_OK && loss) *loss = nd_var_item(total);
  }
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, was);
  return s;
}
