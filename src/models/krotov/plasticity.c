/* The Krotov-Hopfield learning rule as a local plasticity rule
 * (include/neurodyn/plasticity.h): the right-hand side of Eq. 3 of Krotov &
 * Hopfield (PNAS 2019), summed over the batch,
 *
 *   dW_mu += alpha (R^p sum_b g_b,mu v_b - (sum_b g_b,mu I_b,mu) W_mu)
 *
 * with pre = v [batch, visible], post = g [batch, hidden] (Eq. 9 of the ODE
 * model, or the fast rule's +1 / -delta of Eq. 10), w = W and extra[0] = the
 * currents I = <W_mu, v_b>_mu [batch, hidden].  The ODE model updates W
 * through it; the fast rule applies the same sum to the few rows its g
 * touches (rule.c), which tests/test_krotov_rule.c checks against this one. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/krotov.h"

typedef struct krotov_plasticity {
  nd_plasticity_rule base;
  float rp;      /* R^p */
  int64_t hidden;
  float *xx;     /* [hidden] sum_b g o I */
} krotov_plasticity;

static nd_status accumulate(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  krotov_plasticity *k = (krotov_plasticity *)self;
  const int64_t B = in->pre->shape[0], D = in->pre->shape[1], H = in->post->shape[1];
  if (H != k->hidden)
    return nd__error(ND_ERR_SHAPE, "krotov plasticity: post has %lld units, the rule was made for %lld", (long long)H,
                     (long long)k->hidden);
  if (in->extra[0]->ndim != 2 || in->extra[0]->shape[1] != H)
    return nd__error(ND_ERR_SHAPE, "krotov plasticity: extra[0] (the currents I) must be [batch, %lld]", (long long)H);
  const float *g = in->post->data, *cur = in->extra[0]->data, *v = in->pre->data, *w = in->w->data;
  float *xx = k->xx, *ds = dw->data;
  for (int64_t u = 0; u < H; u++) xx[u] = 0;
  for (int64_t b = 0; b < B; b++) {
    const float *gb = g + b * H, *ib = cur + b * H;
    for (int64_t u = 0; u < H; u++) xx[u] += gb[u] * ib[u];
  }
  nd_sgemm(true, false, H, D, B, alpha * k->rp, g, H, v, D, 1.0f, ds, D);
#pragma omp parallel for schedule(static) if (H * D > 65536)
  for (int64_t u = 0; u < H; u++) {
    const float x = alpha * xx[u];
    float *restrict dr = ds + u * D;
    const float *restrict wr = w + u * D;
    for (int64_t i = 0; i < D; i++) dr[i] -= x * wr[i];
  }
  return ND_OK;
}

static void destroy(nd_plasticity_rule *self) {
  krotov_plasticity *k = (krotov_plasticity *)self;
  nd_aligned_free(k->xx);
  free(k);
}

nd_status nd_krotov_plasticity_create(int64_t hidden, double R, double p, nd_plasticity_rule **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_plasticity_create: out is NULL");
  *out = NULL;
  if (hidden < 1 || hidden > 1000000000)
    return nd__error(ND_ERR_INVALID_ARG, "krotov plasticity: hidden = %lld, need 1..1e9", (long long)hidden);
  if (!(R > 0) || !isfinite(R) || !(p >= 1) || !isfinite(p) || !isfinite(pow(R, p)))
    return nd__error(ND_ERR_INVALID_ARG, "krotov plasticity: R = %g, p = %g: need R > 0, p >= 1, R^p finite", R, p);
  krotov_plasticity *k = calloc(1, sizeof *k);
  float *xx = nd_aligned_alloc(sizeof(float) * (size_t)hidden);
  if (!k || !xx) {
    free(k), nd_aligned_free(xx);
    return nd__error(ND_ERR_NOMEM, "krotov plasticity: out of memory");
  }
  k->base = (nd_plasticity_rule){"krotov (Eq. 3)", ND_PLASTICITY_NEEDS_W, 1, accumulate, destroy, NULL};
  k->rp = (float)pow(R, p);
  k->hidden = hidden;
  k->xx = xx;
  *out = &k->base;
  return ND_OK;
}
