/* Forward-forward (G. Hinton, "The forward-forward algorithm: some
 * preliminary investigations", arXiv 2212.13345, 2022): each layer is
 * trained alone to have high goodness G = sum_j y_j^2 on positive data (an
 * image with its true label embedded) and low goodness on negative data (a
 * wrong label), p(positive) = sigma(G - theta) (Eq. 1).  Inputs are
 * length-normalised so that a layer cannot read the previous layer's
 * goodness (Sec. 2.1), and labels go in the first pixels (Sec. 3.3). */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "credit_internal.h"

static const int64_t one[1] = {1};

typedef struct ff_user {
  int64_t n_pos, n_neg;
  float theta;
  double *goodness; /* [n_pos + n_neg] */
} ff_user;

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

static nd_status ff_forward(const nd_custom_args *a) {
  ff_user *u = a->user;
  const nd_tensor *y = a->inputs[0];
  int64_t n = y->shape[1], rows = u->n_pos + u->n_neg;
  double total = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y->data + r * n;
    double g = 0;
    for (int64_t j = 0; j < n; j++) g += (double)yr[j] * yr[j];
    u->goodness[r] = g;
    total += r < u->n_pos ? softplus(u->theta - g) : softplus(g - u->theta); /* -log p, -log (1 - p) */
  }
  a->output->data[0] = (float)(total / (double)rows);
  return ND_OK;
}

static nd_status ff_backward(const nd_custom_args *a) {
  const ff_user *u = a->user;
  if (!a->dinputs[0]) return ND_OK;
  const nd_tensor *y = a->inputs[0];
  int64_t n = y->shape[1], rows = u->n_pos + u->n_neg, all = y->shape[0];
  float *dy = a->dinputs[0]->data;
  if (a->beta[0] == 0.0f) memset(dy, 0, (size_t)(all * n) * sizeof(float));
  double scale = a->doutput->data[0] / (double)rows;
  for (int64_t r = 0; r < rows; r++) {
    double s = r < u->n_pos ? 1.0 : 0.0;
    float c = (float)(2.0 * scale * (sigmoid(u->goodness[r] - u->theta) - s)); /* dL/dG_r * dG/dy = 2y(...) */
    const float *yr = y->data + r * n;
    float *dr = dy + r * n;
    for (int64_t j = 0; j < n; j++) dr[j] += c * yr[j];
  }
  return ND_OK;
}

nd_var *nd_credit_ff_loss(nd_tape *tp, nd_var *y, int64_t n_pos, int64_t n_neg, float theta) {
  if (!nd__credit_inputs_ok(tp, "ff_loss", 1, &y)) return NULL;
  const nd_tensor *yv = nd_var_value(y);
  char s1[64];
  if (yv->ndim != 2 || n_pos < 0 || n_neg < 0 || n_pos + n_neg < 1 || n_pos > yv->shape[0] ||
      n_neg > yv->shape[0] - n_pos || !isfinite(theta)) {
    nd__error(ND_ERR_SHAPE, "ff_loss: y is %s with %lld positive and %lld negative rows, theta %g", nd_tensor_shape_str(yv, s1, 64),
              (long long)n_pos, (long long)n_neg, (double)theta);
    nd_tape_set_error(tp, ND_ERR_SHAPE);
    return NULL;
  }
  ff_user *u = nd_tape_alloc(tp, sizeof *u);
  double *g = nd_tape_alloc(tp, (size_t)(n_pos + n_neg) * sizeof(double));
  if (!u || !g) return NULL;
  *u = (ff_user){n_pos, n_neg, theta, g};
  return nd_ad_custom(tp, 1, &y, 1, one, ff_forward, ff_backward, u);
}

nd_status nd_credit_ff_normalize(const float *x, int64_t rows, int64_t d, float eps, float *out) {
  if (!x || !out || rows < 0 || d < 1 || !(eps >= 0))
    return nd__error(ND_ERR_INVALID_ARG, "ff_normalize: x or out NULL, rows = %lld, d = %lld or eps = %g", (long long)rows,
                     (long long)d, (double)eps);
  const double sd = sqrt((double)d);
#pragma omp parallel for schedule(static) if (rows * d > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    double ss = 0;
    for (int64_t j = 0; j < d; j++) ss += (double)xr[j] * xr[j];
    float inv = (float)(1.0 / (sqrt(ss) / sd + eps));
    for (int64_t j = 0; j < d; j++) out[r * d + j] = xr[j] * inv;
  }
  return ND_OK;
}

nd_status nd_credit_ff_embed(float *x, int64_t rows, int64_t d, int64_t classes, const int32_t *labels, float neutral) {
  if (!x || rows < 0 || classes < 1 || d < classes)
    return nd__error(ND_ERR_INVALID_ARG, "ff_embed: x NULL, rows = %lld, or %lld classes do not fit %lld inputs",
                     (long long)rows, (long long)classes, (long long)d);
  for (int64_t r = 0; r < rows; r++) {
    if (labels && (labels[r] < 0 || labels[r] >= classes))
      return nd__error(ND_ERR_INVALID_ARG, "ff_embed: label %d of row %lld is outside 0..%lld", (int)labels[r], (long long)r,
                       (long long)classes - 1);
    for (int64_t k = 0; k < classes; k++) x[r * d + k] = labels ? (k == labels[r] ? 1.0f : 0.0f) : neutral;
  }
  return ND_OK;
}
