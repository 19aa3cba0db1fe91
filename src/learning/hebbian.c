/* Reference local rules: Hebbian (Hebb 1949; reward-modulated when a reward
 * is given) and Oja's rule (E. Oja, "A simplified neuron model as a
 * principal component analyzer", J. Math. Biol. 15:267-273, 1982).  Both
 * are one GEMM over the batch, dW += alpha post^T pre, plus Oja's decay
 * term. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/plasticity.h"

typedef struct hebbian {
  nd_plasticity_rule base;
  float *scratch; /* [cap] reward-scaled post, grown on demand */
  int64_t cap;
} hebbian;

static void hebbian_destroy(nd_plasticity_rule *self) {
  hebbian *h = (hebbian *)self;
  nd_aligned_free(h->scratch);
  free(h);
}

/* Delta = sum_b r_b post_b pre_b^T (r = 1 without a reward). */
static nd_status hebbian_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  hebbian *h = (hebbian *)self;
  const int64_t B = in->pre->shape[0], np = in->pre->shape[1], nq = in->post->shape[1];
  const float *post = in->post->data;
  if (in->reward && nd_tensor_numel(in->reward) == 1) {
    alpha *= in->reward->data[0];
  } else if (in->reward) {
    if (B * nq > h->cap) {
      float *s = nd_aligned_alloc((size_t)(B * nq) * sizeof(float));
      if (!s)
        return nd__error(ND_ERR_NOMEM, "plasticity 'hebbian': cannot allocate a [%lld, %lld] scratch", (long long)B,
                         (long long)nq);
      nd_aligned_free(h->scratch);
      h->scratch = s;
      h->cap = B * nq;
    }
    const float *r = in->reward->data;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < nq; j++) h->scratch[b * nq + j] = r[b] * post[b * nq + j];
    post = h->scratch;
  }
  if (nq > 0 && np > 0) nd_sgemm(true, false, nq, np, B, alpha, post, nq, in->pre->data, np, 1.0f, dw->data, np);
  return ND_OK;
}

nd_status nd_hebbian_create(nd_plasticity_rule **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "hebbian: output pointer is NULL");
  *out = NULL;
  hebbian *h = calloc(1, sizeof *h);
  if (!h) return nd__error(ND_ERR_NOMEM, "hebbian: out of memory");
  h->base.name = "hebbian";
  h->base.needs = 0;
  h->base.n_extra = 0;
  h->base.accumulate = hebbian_acc;
  h->base.destroy = hebbian_destroy;
  *out = &h->base;
  return ND_OK;
}

/* Delta = post^T pre - diag(sum_b post_b^2) W. */
static nd_status oja_acc(nd_plasticity_rule *self, const nd_plasticity_input *in, float alpha, nd_tensor *dw) {
  (void)self;
  const int64_t B = in->pre->shape[0], np = in->pre->shape[1], nq = in->post->shape[1];
  const float *post = in->post->data, *w = in->w->data;
  float *d = dw->data;
  if (nq > 0 && np > 0) nd_sgemm(true, false, nq, np, B, alpha, post, nq, in->pre->data, np, 1.0f, d, np);
  for (int64_t j = 0; j < nq; j++) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) s += (double)post[b * nq + j] * post[b * nq + j];
    const float c = (float)(alpha * s);
    for (int64_t i = 0; i < np; i++) d[j * np + i] -= c * w[j * np + i];
  }
  return ND_OK;
}

static void oja_destroy(nd_plasticity_rule *self) { free(self); }

nd_status nd_oja_create(nd_plasticity_rule **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "oja: output pointer is NULL");
  *out = NULL;
  nd_plasticity_rule *r = calloc(1, sizeof *r);
  if (!r) return nd__error(ND_ERR_NOMEM, "oja: out of memory");
  r->name = "oja";
  r->needs = ND_PLASTICITY_NEEDS_W;
  r->n_extra = 0;
  r->accumulate = oja_acc;
  r->destroy = oja_destroy;
  *out = r;
  return ND_OK;
}
