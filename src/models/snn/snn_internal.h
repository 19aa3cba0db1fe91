/* Private to src/models/snn/: the network struct shared by network.c and step.c. */
#ifndef ND_SNN_INTERNAL_H
#define ND_SNN_INTERNAL_H

#include "neurodyn/distributed.h"
#include "neurodyn/rng.h"
#include "neurodyn/snn.h"
#include "neurodyn/train.h"

/* int32 neuron indices in the sparse rows and spike lists */
#define ND_SNN_MAX_NEURONS ((int64_t)1 << 30)

struct nd_snn {
  nd_snn_config c;
  double alpha, kappa, rho, p21, noise_gain; /* one-step propagators (snn.h) */
  int32_t n_ref;                             /* refractory steps */
  float *v, *isyn, *a, *z, *r;               /* [B, N] state, spikes, synaptic input of the step */
  float *noise;                              /* [B, N] normal draws (noise_std > 0) */
  int32_t *ref;                              /* [B, N] refractory steps left */
  int32_t *list;                             /* [B, N] spiking neurons per row */
  int64_t *nlist;                            /* [B] their counts */
  float *w_dense;                            /* [N, N] or NULL */
  int64_t *row_ptr;                          /* [N + 1] sparse rows by presynaptic neuron, or NULL */
  int32_t *col;                              /* [nnz] targets */
  float *val;                                /* [nnz] weights */
  int64_t nnz;
  float *w_in;                               /* [N_in, N] or NULL */
  nd_rng rng;
  int64_t steps, gemm_steps;
};

void nd__snn_drop_sparse(nd_snn *net);
/* n standard normal draws from r's Philox stream (ziggurat; noise.c) */
void nd__snn_normal_fill(nd_rng *r, float *out, int64_t n);


/* ---- training (learn.c: forward and BPTT; eprop.c; learn_task.c; learn_io.c) */
#include "neurodyn/optim.h"
#include "neurodyn/tensor.h"

struct nd_snn_learner {
  nd_snn_learn_config c;
  float alpha, rho, kappa;
  int64_t np;          /* parameters: w_in, w_rec, w_out, b_out, contiguous in p (and g) */
  float *p, *g, *fb;   /* fb: random feedback [N, K] or NULL */
  nd_tensor tp[4], tg[4];
  nd_optim *opt;
  /* rolling state [B, N] / [B, K] (B = c.batch rows at most) */
  float *v, *a, *z0, *z1, *psi, *r, *y, *dy;
  /* BPTT storage for cap_t steps: z [(cap_t + 1) B N], psi/gv [cap_t B N], dy/gy [cap_t B K];
   * backward rolling gz, ga [B, N], gy [B, K] */
  int64_t cap_t;
  float *sz, *spsi, *sdy, *gz, *ga, *gyr;
  /* e-prop: eps_v [B, M]; ALIF or kappa > 0: eps_a, e_prev, e_bar [B, N, M]; L [B, N];
   * zbar [B, N]; gT [N, M] the input and recurrent gradient, transposed */
  float *ev, *ea, *eprev, *ebar, *lsig, *zbar, *gT;
  int64_t bytes;       /* held by the buffers above (nd_snn_learner_buffer_bytes) */
  /* training */
  nd_rng rng;          /* recall data stream */
  nd_sampler sampler;  /* smnist shuffle */
  int64_t epoch, batch_done;
  double ep_loss, ep_acc, ep_rate;
  int64_t ep_n;        /* minibatches of the last completed epoch */
  float *bx;           /* minibatch x [T, B, N_in], labels [T, B] */
  int32_t *bl;
  int64_t bx_t;
  /* data-parallel (nd_snn_learner_set_comm): NULL trains whole minibatches */
  nd_grad_sum *gsum;   /* blocks of np + 2 floats: the gradient, accuracy and rate */
  float *gflat;        /* [np + 2] the sum */
  float *kx;           /* one block's rows of bx, bl: [T, rows, N_in], [T, rows] */
  int32_t *kl;
};

/* Pseudo-derivative f(x) and its integral F(x) (F(-inf) = 0) of the surrogate. */
float nd__snn_surr_f(nd_snn_surrogate s, float slope, float x);
float nd__snn_surr_F(nd_snn_surrogate s, float slope, float x);
/* One step of the neurons of rows 0..B-1 (snn.h, training): from v, a and
 * zprev = z_{t-1}, with r = x_t W_in + z_{t-1} W_rec already in l->r: v_t,
 * a_t, z_t into znew, psi_t into psi. */
void nd__snn_learn_neurons(nd_snn_learner *l, int64_t B, const float *zprev, float *znew, float *psi);
/* r = x_t W_in + zprev W_rec into l->r. */
void nd__snn_learn_input(nd_snn_learner *l, int64_t B, const float *x, const float *zprev);
/* Readout y = kappa y + z W_out + b; loss and dy at the scored rows of labels
 * (dy / n_scored; rows without a label: dy = 0).  Adds to *loss, *correct. */
void nd__snn_learn_readout(nd_snn_learner *l, int64_t B, const float *z, const int32_t *labels, double inv_scored,
                           float *dy, double *loss, double *correct);
/* C [B, N] = beta C + A [B, K] W [K, N] and G [K, N] = A [R, K]^T D [R, N],
 * skipping A's zeros when it is sparse (spikes), else one GEMM. */
void nd__snn_mm(int64_t B, int64_t K, int64_t N, const float *A, const float *W, float beta, float *C);
void nd__snn_mm_tn(int64_t R, int64_t K, int64_t N, const float *A, const float *D, float *G);
/* Zeroed aligned floats counted in l->bytes. */
float *nd__snn_learn_buf(nd_snn_learner *l, int64_t n);
void nd__snn_learn_unbuf(nd_snn_learner *l, float *p, int64_t n);
nd_status nd__snn_eprop_grad(nd_snn_learner *l, const nd_snn_seq *s, double inv_scored, double *loss, double *correct,
                             double *spikes);

#endif
