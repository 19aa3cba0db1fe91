/* e-prop (Bellec et al. 2020, Nat. Commun. 11:3625; include/neurodyn/snn.h,
 * "training"): the gradient of the minibatch's loss from quantities that run
 * forward in time only.  Per step t, with pre = [x_t, z_{t-1}] (M = N_in + N):
 *
 *   eps_v^t = alpha eps_v^{t-1} + pre                  (Eq. 24: LIF; the same for ALIF's v)
 *   eps_a^t = rho eps_a^{t-1} + e^{t-1}                (Eq. 25: psi eps_v + (rho - psi beta) eps_a)
 *   e^t     = psi_t (eps_v^t - beta eps_a^t)            (Eq. 13, 25)
 *   ebar^t  = kappa ebar^{t-1} + e^t                    (the readout's filter, Eq. 28)
 *   L^t     = (pi_t - pi*_t) B^T, B = W_out^T or random (Eq. 4, symmetric / random e-prop)
 *   dW     += sum_b L^t_bj ebar^t_bji                   (Eq. 28)
 *
 * eps_v does not depend on the postsynaptic neuron (alpha is shared), so for
 * LIF and the rate network without readout leak the update is one GEMM per
 * step; otherwise the per-synapse traces [B, N, M] are swept once per step.
 * The readout's own gradient is exact: dW_out = sum_t zbar_t^T (pi - pi*),
 * db_out = sum_t bbar_t (pi - pi*) with bbar the bias's filtered trace. */
#include <string.h>

#include "backend/cpu/dispatch.h"
#include "core/internal.h"
#include "models/snn/snn_internal.h"
#include "neurodyn/kernels.h"

static void reset_traces(nd_snn_learner *l, int64_t B) {
  const nd_snn_learn_config *c = &l->c;
  int64_t N = c->neurons, M = c->inputs + N, bnm = B * N * M;
  memset(l->ev, 0, (size_t)(B * M) * sizeof(float));
  memset(l->zbar, 0, (size_t)(B * N) * sizeof(float));
  memset(l->gT, 0, (size_t)(N * M) * sizeof(float));
  if (l->ebar) memset(l->ebar, 0, (size_t)bnm * sizeof(float));
  if (l->ea) memset(l->ea, 0, (size_t)bnm * sizeof(float));
  if (l->eprev) memset(l->eprev, 0, (size_t)bnm * sizeof(float));
}

/* Neuron j's traces over rows 0..B-1 and its gradient row gj [M]; a serial
 * function for the CPU-dispatched clones (backend/cpu/dispatch.h). */
static ND__HOT void sweep_neuron(int64_t B, int64_t N, int64_t M, int64_t j, bool alif, float kappa, float rho, float beta,
                                 const float *ev, const float *psi, const float *L, float *ea, float *ep, float *eb,
                                 float *gj) {
  for (int64_t b = 0; b < B; b++) {
    const float p = psi[b * N + j], Lbj = L[b * N + j];
    const float *evb = ev + b * M;
    int64_t o = (b * N + j) * M;
    if (alif) {
      float *ea_ = ea + o, *ep_ = ep + o, *eb_ = eb + o;
      for (int64_t i = 0; i < M; i++) {
        float a = rho * ea_[i] + ep_[i];
        float e = p * (evb[i] - beta * a);
        ea_[i] = a, ep_[i] = e;
        float bar = kappa * eb_[i] + e;
        eb_[i] = bar;
        gj[i] += Lbj * bar;
      }
    } else {
      float *eb_ = eb + o;
      for (int64_t i = 0; i < M; i++) {
        float bar = kappa * eb_[i] + p * evb[i];
        eb_[i] = bar;
        gj[i] += Lbj * bar;
      }
    }
  }
}

/* The per-synapse sweep: traces of rows 0..B-1, gT[j, i] += sum_b L_bj ebar_bji. */
static void sweep(nd_snn_learner *l, int64_t B) {
  const nd_snn_learn_config *c = &l->c;
  const int64_t N = c->neurons, M = c->inputs + N;
  const float beta = c->unit == ND_SNN_UNIT_ALIF ? (float)c->beta : 0.0f;
  const bool alif = c->unit == ND_SNN_UNIT_ALIF;
#pragma omp parallel for schedule(static) if (N * M * B > 65536)
  for (int64_t j = 0; j < N; j++)
    sweep_neuron(B, N, M, j, alif, l->kappa, l->rho, beta, l->ev, l->psi, l->lsig, l->ea, l->eprev, l->ebar, l->gT + j * M);
}

nd_status nd__snn_eprop_grad(nd_snn_learner *l, const nd_snn_seq *s, double inv, double *lo, double *cor, double *sp) {
  const nd_snn_learn_config *c = &l->c;
  const int64_t T = s->T, B = s->B, I = c->inputs, N = c->neurons, K = c->outputs, M = I + N, BN = B * N, BK = B * K;
  const float alpha = l->alpha, kappa = l->kappa;
  const bool full = l->ebar != NULL;
  memset(l->v, 0, (size_t)BN * sizeof(float));
  memset(l->a, 0, (size_t)BN * sizeof(float));
  memset(l->z0, 0, (size_t)BN * sizeof(float));
  memset(l->y, 0, (size_t)BK * sizeof(float));
  reset_traces(l, B);
  float *w_out = l->p + I * N + N * N, *g_out = l->g + I * N + N * N, *g_b = g_out + N * K;
  const float *fb = c->feedback == ND_SNN_FEEDBACK_RANDOM ? l->fb : w_out;
  memset(g_out, 0, (size_t)(N * K + K) * sizeof(float));
  float *zp = l->z0, *zn = l->z1, bbar = 0; /* bbar: the bias's trace, kappa bbar + 1 */
  for (int64_t t = 0; t < T; t++) {
    const float *x = s->x + t * B * I;
    /* eps_v: the presynaptic traces, inputs then recurrent spikes */
    for (int64_t b = 0; b < B; b++) {
      float *e = l->ev + b * M;
      for (int64_t i = 0; i < I; i++) e[i] = alpha * e[i] + x[b * I + i];
      for (int64_t i = 0; i < N; i++) e[I + i] = alpha * e[I + i] + zp[b * N + i];
    }
    nd__snn_learn_input(l, B, x, zp);
    nd__snn_learn_neurons(l, B, zp, zn, l->psi);
    nd__snn_learn_readout(l, B, zn, s->labels + t * B, inv, l->dy, lo, cor);
    for (int64_t q = 0; q < BN; q++) {
      l->zbar[q] = kappa * l->zbar[q] + zn[q];
      *sp += zn[q];
    }
    /* readout gradient (exact) and the learning signal L = dy B^T */
    nd_sgemm(true, false, N, K, B, 1.0f, l->zbar, N, l->dy, K, 1.0f, g_out, K);
    bbar = kappa * bbar + 1;
    for (int64_t b = 0; b < B; b++)
      for (int64_t o = 0; o < K; o++) g_b[o] += bbar * l->dy[b * K + o];
    nd_sgemm(false, true, B, N, K, 1.0f, l->dy, K, fb, K, 0.0f, l->lsig, N);
    if (full) {
      sweep(l, B);
    } else { /* gT += (L psi)^T eps_v */
      for (int64_t q = 0; q < BN; q++) l->lsig[q] *= l->psi[q];
      nd_sgemm(true, false, N, M, B, 1.0f, l->lsig, N, l->ev, M, 1.0f, l->gT, M);
    }
    float *tmp = zp;
    zp = zn, zn = tmp;
  }
  /* gT [N, M] -> W_in [I, N], W_rec [N, N] */
  float *g_in = l->g, *g_rec = g_in + I * N;
  for (int64_t j = 0; j < N; j++) {
    const float *gj = l->gT + j * M;
    for (int64_t i = 0; i < I; i++) g_in[i * N + j] = gj[i];
    for (int64_t i = 0; i < N; i++) g_rec[i * N + j] = gj[I + i];
  }
  return ND_OK;
}
