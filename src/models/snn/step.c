/* One step of a spiking network (the equations are in include/neurodyn/snn.h):
 *   1. r = z_{t-1} W_rec      one GEMM over the batch, or the rows of the
 *                             neurons that spiked (event-driven)
 *   2. r += x_t W_in          GEMM
 *   3. per neuron: exact exponential propagation of V and I_syn, noise,
 *      refractoriness, threshold (LIF / ALIF), reset, adaptation
 *   4. the spike lists of every batch row (the next step's events). */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "models/snn/snn_internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/rng.h"

/* Row b of r = sum over the spiking neurons j of row j of W_rec. */
static void events_row(const nd_snn *net, int64_t b) {
  int64_t n = net->c.neurons;
  float *r = net->r + b * n;
  const int32_t *list = net->list + b * n;
  memset(r, 0, (size_t)n * sizeof(float));
  if (!net->row_ptr) return; /* no recurrent weights set */
  for (int64_t s = 0; s < net->nlist[b]; s++) {
    int64_t j = list[s];
    const int32_t *col = net->col + net->row_ptr[j];
    const float *val = net->val + net->row_ptr[j];
    int64_t m = net->row_ptr[j + 1] - net->row_ptr[j];
    for (int64_t e = 0; e < m; e++) r[col[e]] += val[e];
  }
}

static bool recurrent(nd_snn *net) {
  const nd_snn_config *c = &net->c;
  int64_t n = c->neurons, B = c->batch, total = 0;
  for (int64_t b = 0; b < B; b++) total += net->nlist[b];
  bool gemm = net->w_dense && (c->rec_mode == ND_SNN_REC_GEMM ||
                               (c->rec_mode == ND_SNN_REC_AUTO && (double)total > c->gemm_fraction * (double)(B * n)));
  if (gemm) {
    nd_sgemm(false, false, B, n, n, 1.0f, net->z, n, net->w_dense, n, 0.0f, net->r, n);
    return true;
  }
  if (total == 0) {
    memset(net->r, 0, (size_t)(B * n) * sizeof(float));
    return false;
  }
#pragma omp parallel for schedule(dynamic, 1) if (B > 1 && (double)total * (double)(net->nnz + 1) / (double)n > 1e5)
  for (int64_t b = 0; b < B; b++) events_row(net, b);
  return false;
}

nd_status nd_snn_step(nd_snn *net, const float *x, const float *i_ext) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "snn_step: net is NULL");
  const nd_snn_config *c = &net->c;
  if (x && c->inputs == 0) return nd__error(ND_ERR_INVALID_ARG, "snn_step: x given to a network with inputs = 0");
  int64_t n = c->neurons, B = c->batch, bn = B * n;
  if (recurrent(net)) net->gemm_steps++;
  if (x) nd_sgemm(false, false, B, n, c->inputs, 1.0f, x, c->inputs, net->w_in, n, 1.0f, net->r, n);
  if (net->noise) nd__snn_normal_fill(&net->rng, net->noise, bn);

  const float alpha = (float)net->alpha, kappa = (float)net->kappa, rho = (float)net->rho;
  const float p21 = (float)net->p21, gain = (float)net->noise_gain, one_m_alpha = (float)(1 - net->alpha);
  const float v_rest = (float)c->v_rest, v_th = (float)c->v_th, v_reset = (float)c->v_reset;
  const float beta = c->model == ND_SNN_ALIF ? (float)c->beta : 0.0f, i0 = (float)c->i_ext;
  const bool exp_syn = c->synapse == ND_SNN_SYN_EXP, zero_reset = c->reset == ND_SNN_RESET_ZERO;
  const bool alif = c->model == ND_SNN_ALIF;
  const int32_t n_ref = net->n_ref;
  float *v = net->v, *isyn = net->isyn, *a = net->a, *z = net->z, *r = net->r, *noise = net->noise;
  int32_t *ref = net->ref;
#pragma omp parallel for schedule(static) if (bn > 32768)
  for (int64_t k = 0; k < bn; k++) {
    float ext = i0 + (i_ext ? i_ext[k] : 0.0f);
    float vk = v[k];
    /* exact propagation over one step (Rotter & Diesmann 1999) */
    float vn = v_rest + alpha * (vk - v_rest) + one_m_alpha * ext;
    if (exp_syn) {
      vn += p21 * isyn[k];
      isyn[k] = kappa * isyn[k] + r[k];
    } else {
      vn += r[k];
    }
    if (noise) vn += gain * noise[k];
    float s = 0.0f;
    if (ref[k] > 0) { /* held, no spike */
      vn = vk;
      ref[k]--;
    } else {
      float thr = v_th + beta * a[k]; /* Bellec et al. 2018, Eq. 1-2 */
      if (vn >= thr) {
        s = 1.0f;
        vn = zero_reset ? v_reset : vn - thr;
        ref[k] = n_ref;
      }
    }
    if (alif) a[k] = rho * a[k] + s;
    v[k] = vn;
    z[k] = s;
  }
  /* spike lists per batch row */
#pragma omp parallel for schedule(static) if (bn > 32768 && B > 1)
  for (int64_t b = 0; b < B; b++) {
    const float *zb = z + b * n;
    int32_t *list = net->list + b * n;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (zb[i] != 0.0f) list[m++] = (int32_t)i;
    net->nlist[b] = m;
  }
  net->steps++;
  return ND_OK;
}
