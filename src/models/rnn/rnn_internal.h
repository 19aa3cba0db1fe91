/* Private to src/models/rnn: the model struct and the cells' step
 * functions (cells.c), shared with rnn.c (the loss, the loop over time,
 * Adam) and io.c (checkpoints). */
#ifndef ND_MODELS_RNN_INTERNAL_H
#define ND_MODELS_RNN_INTERNAL_H

#include <stdint.h>

#include "neurodyn/arena.h"
#include "neurodyn/distributed.h"
#include "neurodyn/rnn.h"

/* A task minibatch held as what generates it, O(B) whatever the length:
 * the copy task's 10 symbols per sequence, or the adding problem's two
 * marked steps per sequence and the Philox position of its numbers (drawn
 * by counter, so step t's inputs can be regenerated in any order).  The
 * inputs and labels of a step are made when the loop reaches it, forwards
 * and again backwards; nd_rnn_copy_task and nd_rnn_adding_task write the
 * same minibatch out as arrays. */
typedef struct nd__rnn_stream {
  nd_rnn_task task;
  int64_t T, B, cap;     /* steps (copy: delay + 20), rows, rows allocated */
  int64_t delay;         /* copy: the delay */
  uint8_t *sym;          /* copy: [B, 10] */
  uint64_t key, counter; /* adding: the stream position of the first row's draws */
  int64_t *mark;         /* adding: [B, 2] the marked steps */
  float *target;         /* adding: [B] */
} nd__rnn_stream;

nd_status nd__rnn_stream_alloc(nd__rnn_stream *s, int64_t B, size_t *bytes);
void nd__rnn_stream_free(nd__rnn_stream *s);
/* Draws a minibatch of B rows from *rng (consuming it as the array
 * generators do). */
nd_status nd__rnn_stream_draw(nd__rnn_stream *s, nd_rng *rng, nd_rnn_task task, int64_t length, int64_t B);
/* Rows [r0, r1) of the minibatch in s, as a minibatch of their own (a view
 * of s's arrays: a data-parallel block). */
nd__rnn_stream nd__rnn_stream_rows(const nd__rnn_stream *s, int64_t r0, int64_t r1);
/* Step t's inputs [B, inputs] (as doubles) and, for copy, labels [B]. */
void nd__rnn_stream_x(const nd__rnn_stream *s, int64_t t, double *x);
void nd__rnn_stream_labels(const nd__rnn_stream *s, int64_t t, int32_t *labels);

struct nd_rnn {
  nd_rnn_config c;
  int64_t np;            /* parameters */
  double *p, *g;         /* [np] parameters, gradient */
  double *adam_m, *adam_v;
  int64_t adam_t;        /* Adam steps taken */
  /* offsets into p (and g) */
  int64_t oW, oU, ob, oW2, oU2, ob2, oW3, oU3, ob3, oth, oV, oc;
  /* per-batch buffers, [cap_b * width], allocated by create (grown for a larger B) */
  int64_t cap_b;
  double *h, *gh, *a, *f, *xd, *z; /* state, dL/dh, pre-activation, tanh, input, logits */
  int64_t *q;            /* reversible: the fixed-point state [cap_b, n] */
  double *cs;            /* unitary: cos, sin of every angle [L, n/2, 2] */
  double *gg;            /* GRU: gates z, r, candidate c, r . h [4, cap_b, n] */
  nd_arena *arena;       /* tanh BPTT: the stored states */
  size_t scratch_peak, fixed_bytes;
  double recon_err;
  bool exact;            /* approx: store the states and use them (the reference gradient) */
  double inv_sq, inv_n;  /* approx: the last forward's summed squared one-step reconstruction error, entries */
  double *gref;          /* approx: [np] the exact gradient, for nd_rnn_inverse_check */
  /* training */
  nd_rng rng;            /* data stream */
  int64_t epoch, batch_done;
  double ep_loss, ep_acc; /* sums over the epoch's minibatches */
  nd__rnn_stream task;   /* the task minibatch under way (streamed: no [T, B, in] array) */
  int32_t *lab;          /* [cap_b] the labels of one step */
  /* data-parallel (nd_rnn_set_comm): blocks of each minibatch, 0 = whole minibatches */
  nd_comm *comm;
  int64_t gs_blocks;
  double *gs_mine, *gs_recv, *gs_out; /* nd_grad_sum_f64's buffers, blocks of np + 2 (gradient, loss, accuracy) */
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
/* The loss (and with grad its gradient) of the task minibatch in m->task,
 * streamed step by step. */
nd_status nd__rnn_task_run(nd_rnn *m, bool grad, double *loss, double *accuracy);
/* GRU (same contract as tanh); backward recomputes the gates from h_prev. */
void nd__rnn_gru_forward(nd_rnn *m, int64_t B, const double *h_prev, double *h_next);
void nd__rnn_gru_backward(nd_rnn *m, int64_t B, const double *h_prev);
/* Approximate inverse: g(h_next) = tanh(A h_next + C x + e) against h_prev,
 * the squared error summed; with scale > 0 its gradient times scale into
 * dA, dC, de.  Uses m->f (g's output) and m->a. */
double nd__rnn_inv_fit(nd_rnn *m, int64_t B, const double *h_prev, const double *h_next, double scale);
/* h_prev [B, n] = g(h_next, x) */
void nd__rnn_inv_step(nd_rnn *m, int64_t B, const double *h_next, double *h_prev);
/* The approx cell on the task minibatch in m->task: nd_rnn_inverse_check's figures. */
nd_status nd__rnn_inverse_check(nd_rnn *m, double *grad_err, double *step_rmse, double *drift);
/* The reversible state as doubles: m->h = m->q * 2^-frac_bits. */
void nd__rnn_rev_to_double(nd_rnn *m, int64_t B);

#endif
