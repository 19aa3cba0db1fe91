/* Private to src/models/rnn: the model struct and the cells' step
 * functions (cells.c), shared with rnn.c (the loss, the loop over time,
 * Adam) and io.c (checkpoints). */
#ifndef ND_MODELS_RNN_INTERNAL_H
#define ND_MODELS_RNN_INTERNAL_H

#include <stdint.h>

#include "neurodyn/arena.h"
#include "neurodyn/rnn.h"

struct nd_rnn {
  nd_rnn_config c;
  int64_t np;            /* parameters */
  double *p, *g;         /* [np] parameters, gradient */
  double *adam_m, *adam_v;
  int64_t adam_t;        /* Adam steps taken */
  /* offsets into p (and g) */
  int64_t oW, oU, ob, oW2, oU2, ob2, oth, oV, oc;
  /* per-batch buffers, [cap_b * width], allocated by create (grown for a larger B) */
  int64_t cap_b;
  double *h, *gh, *a, *f, *xd, *z; /* state, dL/dh, pre-activation, tanh, input, logits */
  int64_t *q;            /* reversible: the fixed-point state [cap_b, n] */
  double *cs;            /* unitary: cos, sin of every angle [L, n/2, 2] */
  nd_arena *arena;       /* tanh BPTT: the stored states */
  size_t scratch_peak, fixed_bytes;
  double recon_err;
  /* training */
  nd_rng rng;            /* data stream */
  int64_t epoch, batch_done;
  double ep_loss, ep_acc; /* sums over the epoch's minibatches */
  float *bx, *bt;        /* task minibatch: x [T, B, in], MSE target [B, out] */
  int32_t *bl;           /* CE labels [T, B] */
};

/* One step of the cell on the state in m (rows B), input m->xd.  Forward:
 * h_{t-1} -> h_t.  Backward: given h_t and gh = dL/dh_t, accumulate the
 * parameter gradient of the step, then leave h_{t-1} (reconstructed) and
 * gh = dL/dh_{t-1} (the recurrent part). */
void nd__rnn_rev_forward(nd_rnn *m, int64_t B);
void nd__rnn_rev_backward(nd_rnn *m, int64_t B);
void nd__rnn_uni_prepare(nd_rnn *m);
void nd__rnn_uni_forward(nd_rnn *m, int64_t B);
void nd__rnn_uni_backward(nd_rnn *m, int64_t B);
/* tanh: h_prev [B, n] -> h_next [B, n]; backward from h_next (the stored state
 * after the step) and gh, into gh = dL/dh_prev. */
void nd__rnn_tanh_forward(nd_rnn *m, int64_t B, const double *h_prev, double *h_next);
void nd__rnn_tanh_backward(nd_rnn *m, int64_t B, const double *h_prev, const double *h_next);
/* The reversible state as doubles: m->h = m->q * 2^-frac_bits. */
void nd__rnn_rev_to_double(nd_rnn *m, int64_t B);

#endif
