/* SOMP cells as the query and key projections of an attention layer (the
 * seed's list of roles; include/neurodyn/somp.h, docs/somp.md): two cells q,
 * k of a network read the token sequence and step along it, so query and key
 * of position i carry the cells' state from positions <= i.  Scaled
 * dot-product attention (Vaswani et al. 2017, Eq. 1) over the positions:
 *   S_b = Q_b K_b^T / sqrt(d),  A_b = softmax_rows(S_b) (causal: j <= i),
 *   out_b = A_b V_b.
 * Backward (the softmax Jacobian): dA = dout V^T, dV = A^T dout,
 *   dS = A .* (dA - rowsum(dA .* A)),  dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d);
 * dQ, dK are the dL/dY of the two cells for nd_somp_net_backward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "somp_internal.h"

struct nd_somp_attention {
  nd_somp_net *net;
  int q, k;
  bool causal;
  int64_t d, B, T, nv, cap;
  float *Q, *K, *A, *V, *dA; /* [B, T, d] x2, [B, T, T], [B, T, nv], [B, T, T] */
};

static void att_ws_free(nd_somp_attention *a) {
  nd_aligned_free(a->Q), nd_aligned_free(a->K), nd_aligned_free(a->A), nd_aligned_free(a->V), nd_aligned_free(a->dA);
  a->Q = a->K = a->A = a->V = a->dA = NULL;
  a->cap = 0;
}

void nd_somp_attention_free(nd_somp_attention *a) {
  if (!a) return;
  att_ws_free(a);
  free(a);
}

nd_status nd_somp_attention_create(nd_somp_net *net, int q_cell, int k_cell, bool causal, nd_somp_attention **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "somp attention: out is NULL");
  *out = NULL;
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "somp attention: net is NULL");
  if (q_cell < 0 || q_cell >= net->n || k_cell < 0 || k_cell >= net->n)
    return nd__error(ND_ERR_INVALID_ARG, "somp attention: cells %d, %d: the network has %d", q_cell, k_cell, net->n);
  if (q_cell == k_cell) return nd__error(ND_ERR_INVALID_ARG, "somp attention: query and key cell are both %d", q_cell);
  const int64_t d = net->cells[q_cell].c.units;
  if (net->cells[k_cell].c.units != d)
    return nd__error(ND_ERR_SHAPE, "somp attention: query cell has %lld units, key cell %lld", (long long)d,
                     (long long)net->cells[k_cell].c.units);
  nd_somp_attention *a = calloc(1, sizeof *a);
  if (!a) return nd__error(ND_ERR_NOMEM, "somp attention: out of memory");
  a->net = net, a->q = q_cell, a->k = k_cell, a->causal = causal, a->d = d;
  *out = a;
  return ND_OK;
}

static nd_status att_ensure(nd_somp_attention *a, int64_t B, int64_t T, int64_t nv) {
  const int64_t need = B * T * (2 * a->d + 2 * T + nv);
  if (need > a->cap) {
    att_ws_free(a);
    a->Q = nd_aligned_alloc((size_t)(B * T * a->d) * sizeof(float));
    a->K = nd_aligned_alloc((size_t)(B * T * a->d) * sizeof(float));
    a->A = nd_aligned_alloc((size_t)(B * T * T) * sizeof(float));
    a->dA = nd_aligned_alloc((size_t)(B * T * T) * sizeof(float));
    a->V = nd_aligned_alloc((size_t)(B * T * nv) * sizeof(float));
    if (!a->Q || !a->K || !a->A || !a->dA || !a->V) {
      att_ws_free(a);
      return nd__error(ND_ERR_NOMEM, "somp attention: out of memory for B %lld, T %lld", (long long)B, (long long)T);
    }
    a->cap = need;
  }
  a->B = B, a->T = T, a->nv = nv;
  return ND_OK;
}

static bool is_btn(const nd_tensor *t, int64_t B, int64_t T, int64_t n) {
  return t && t->data && t->ndim == 3 && t->shape[0] == B && t->shape[1] == T && t->shape[2] == n;
}

nd_status nd_somp_attention_forward(nd_somp_attention *a, const nd_tensor *v, nd_tensor *out) {
  if (!a || !v || !out || !v->data || !out->data) return nd__error(ND_ERR_INVALID_ARG, "somp attention forward: NULL argument");
  nd_somp_net *net = a->net;
  if (!net->have_forward) return nd__error(ND_ERR_INVALID_ARG, "somp attention forward: the network has not run a forward");
  const int64_t B = net->B, T = net->T, d = a->d;
  if (v->ndim != 3 || v->shape[0] != B || v->shape[1] != T)
    return nd__error(ND_ERR_SHAPE, "somp attention forward: values must be [%lld, %lld, n] (the network's batch and T)",
                     (long long)B, (long long)T);
  const int64_t nv = v->shape[2];
  if (!is_btn(out, B, T, nv))
    return nd__error(ND_ERR_SHAPE, "somp attention forward: out must be [%lld, %lld, %lld]", (long long)B, (long long)T,
                     (long long)nv);
  ND_TRY(att_ensure(a, B, T, nv));
  nd_tensor tq = nd_tensor_wrap(a->Q, 3, ND_SHAPE(B, T, d)), tk = nd_tensor_wrap(a->K, 3, ND_SHAPE(B, T, d));
  ND_TRY(nd_somp_net_output(net, a->q, &tq));
  ND_TRY(nd_somp_net_output(net, a->k, &tk));
  memcpy(a->V, v->data, (size_t)(B * T * nv) * sizeof(float));
  const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for schedule(static) if (B > 1)
  for (int64_t b = 0; b < B; b++) {
    float *S = a->A + b * T * T;
    nd_sgemm(false, true, T, T, d, scale, a->Q + b * T * d, d, a->K + b * T * d, d, 0.0f, S, T);
    for (int64_t i = 0; i < T; i++) {
      float *row = S + i * T;
      const int64_t n = a->causal ? i + 1 : T;
      float mx = row[0];
      for (int64_t j = 1; j < n; j++) mx = fmaxf(mx, row[j]);
      double z = 0;
      for (int64_t j = 0; j < n; j++) z += row[j] = expf(row[j] - mx);
      const float iz = (float)(1.0 / z);
      for (int64_t j = 0; j < n; j++) row[j] *= iz;
      for (int64_t j = n; j < T; j++) row[j] = 0.0f;
    }
    nd_sgemm(false, false, T, nv, T, 1.0f, S, T, a->V + b * T * nv, nv, 0.0f, out->data + b * T * nv, nv);
  }
  return ND_OK;
}

nd_status nd_somp_attention_weights(const nd_somp_attention *a, nd_tensor *attn) {
  if (!a || !attn || !attn->data) return nd__error(ND_ERR_INVALID_ARG, "somp attention weights: NULL argument");
  if (!a->A || !is_btn(attn, a->B, a->T, a->T))
    return nd__error(ND_ERR_SHAPE, "somp attention weights: need a forward and a [%lld, %lld, %lld] tensor",
                     (long long)a->B, (long long)a->T, (long long)a->T);
  memcpy(attn->data, a->A, (size_t)(a->B * a->T * a->T) * sizeof(float));
  return ND_OK;
}

nd_status nd_somp_attention_backward(nd_somp_attention *a, const nd_tensor *dout, nd_tensor *dq, nd_tensor *dk,
                                     nd_tensor *dv) {
  if (!a || !dout || !dq || !dk) return nd__error(ND_ERR_INVALID_ARG, "somp attention backward: NULL argument");
  const int64_t B = a->B, T = a->T, d = a->d, nv = a->nv;
  if (!a->A) return nd__error(ND_ERR_INVALID_ARG, "somp attention backward: no forward");
  if (!is_btn(dout, B, T, nv) || !is_btn(dq, B, T, d) || !is_btn(dk, B, T, d) || (dv && !is_btn(dv, B, T, nv)))
    return nd__error(ND_ERR_SHAPE, "somp attention backward: dout, dv must be [%lld, %lld, %lld], dq, dk [%lld, %lld, %lld]",
                     (long long)B, (long long)T, (long long)nv, (long long)B, (long long)T, (long long)d);
  const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for schedule(static) if (B > 1)
  for (int64_t b = 0; b < B; b++) {
    const float *A = a->A + b * T * T, *go = dout->data + b * T * nv;
    float *dA = a->dA + b * T * T;
    nd_sgemm(false, true, T, T, nv, 1.0f, go, nv, a->V + b * T * nv, nv, 0.0f, dA, T);
    if (dv) nd_sgemm(true, false, T, nv, T, 1.0f, A, T, go, nv, 0.0f, dv->data + b * T * nv, nv);
    for (int64_t i = 0; i < T; i++) { /* dS in place of dA */
      double s = 0;
      for (int64_t j = 0; j < T; j++) s += (double)dA[i * T + j] * A[i * T + j];
      for (int64_t j = 0; j < T; j++) dA[i * T + j] = A[i * T + j] * (dA[i * T + j] - (float)s);
    }
    nd_sgemm(false, false, T, d, T, scale, dA, T, a->K + b * T * d, d, 0.0f, dq->data + b * T * d, d);
    nd_sgemm(true, false, T, d, T, scale, dA, T, a->Q + b * T * d, d, 0.0f, dk->data + b * T * d, d);
  }
  return ND_OK;
}
