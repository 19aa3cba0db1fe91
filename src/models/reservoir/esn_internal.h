/* The echo-state network's insides, shared by esn.c (reservoir, step,
 * ridge fit) and esn_train.c (RLS/FORCE, local rules, batches, checkpoints). */
#ifndef NEURODYN_MODELS_RESERVOIR_ESN_INTERNAL_H
#define NEURODYN_MODELS_RESERVOIR_ESN_INTERNAL_H

#include <stdbool.h>

#include "neurodyn/reservoir.h"
#include "neurodyn/rng.h"

#define ND_ESN_MAX_UNITS 5000 /* W is drawn dense for dgeev: 200 MB, minutes */

typedef struct nd_esn_layer {
  int64_t *row_ptr; /* [N + 1] */
  int32_t *col;     /* [nnz] */
  double *val;      /* [nnz] */
  int64_t nnz;
  int64_t in;       /* inputs of the layer: K for the first, N above */
  double *w_in;     /* [N, 1 + in]: bias column first */
  double rho;       /* spectral radius after scaling */
} nd_esn_layer;

struct nd_esn {
  nd_esn_config c;
  nd_esn_layer layer[ND_ESN_MAX_LAYERS];
  int64_t F;             /* 1 + K + layers N */
  double *x, *pre;       /* [layers N] state, net inputs s */
  double *xprev, *nbuf;  /* [layers N] scratch: the previous state, noise */
  double *gain, *ipb;    /* [layers N] intrinsic gain and bias (1, 0) */
  double *u;             /* [K] last input */
  double *w_out;         /* [L, F] or NULL before a fit */
  double *P, *rls_k;     /* RLS: [F, F] inverse correlation, [F] gain vector; NULL until RLS runs */
  nd_rng noise_rng;      /* state noise in training */
};

void nd__esn_step_state(const nd_esn *e, const double *u, double *x, double *pre, const double *noise);
/* Steps the ESN's own state (noise if noisy and config.noise > 0) and records u. */
void nd__esn_step(nd_esn *e, const double *u, bool noisy);
void nd__esn_features_of(const nd_esn *e, const double *u, const double *x, double *phi);
void nd__esn_readout_of(const nd_esn *e, const double *u, const double *x, double *y);
/* Rescales layer l's W to the configured spectral radius (by its rho_method). */
nd_status nd__esn_rescale(nd_esn *e, int64_t l);
nd_status nd__esn_check_series(const char *who, const char *name, const double *v, int64_t n);

#endif
