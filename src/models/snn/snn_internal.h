/* Private to src/models/snn/: the network struct shared by network.c and step.c. */
#ifndef ND_SNN_INTERNAL_H
#define ND_SNN_INTERNAL_H

#include "neurodyn/rng.h"
#include "neurodyn/snn.h"

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

#endif
