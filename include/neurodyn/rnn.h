/* Recurrent networks trained through time without storing activations
 * (docs/rnn.md).
 *
 *   ND_RNN_TANH        h_t = tanh(W h_{t-1} + U x_t + b): ordinary BPTT, which
 *                      stores every h_t (memory grows with T); the baseline.
 *   ND_RNN_REVERSIBLE  additive coupling (Gomez et al. 2017, RevNet; the RNN
 *                      form of MacKay et al. 2018), h = (h1, h2):
 *                        h1 <- h1 + tanh(W1 h2 + U1 x_t + b1)
 *                        h2 <- h2 + tanh(W2 h1 + U2 x_t + b2)
 *                      with the state held in int64 fixed point (frac_bits
 *                      fractional bits) and each update rounded to that grid,
 *                      so that the inverse h2 <- h2 - q(..), h1 <- h1 - q(..)
 *                      is exact, bit for bit.  Backward reconstructs h_{t-1}
 *                      from h_t: activation memory O(B·n), flat in T.
 *   ND_RNN_UNITARY     h_t = R h_{t-1} + U x_t with R orthogonal, a product of
 *                      L layers of Givens rotations on alternating neighbour
 *                      pairs (the real form of the tunable EUNN of Jing et al.
 *                      2017): O(n·L) per step, R^-1 = R^T, so backward
 *                      reconstructs h_{t-1} = R^T (h_t - U x_t), again O(B·n).
 *   ND_RNN_GRU         the gated recurrent unit (Cho et al. 2014, Eq. 5-8):
 *                        z = sigma(Wz h + Uz x + bz), r = sigma(Wr h + Ur x + br),
 *                        c = tanh(Wh (r . h) + Uh x + bh), h' = z . h + (1 - z) . c
 *                      trained by ordinary BPTT (every h_t stored, like tanh):
 *                      the gated baseline.
 *   ND_RNN_APPROX      the tanh cell f with a learned approximate inverse
 *                      g(h_t, x_t) = tanh(A h_t + C x_t + e) ~ h_{t-1}, fitted
 *                      by the extra loss inverse_weight ||g(f(h, x), x) - h||^2
 *                      at every step during the forward pass; backward walks
 *                      back through g instead of stored states (O(B·n)), so
 *                      its gradient is approximate (nd_rnn_inverse_check).
 *
 * The readout is y_t = V h_t + c at every step.  Losses: softmax cross-entropy
 * on per-step labels (-1: not scored) or squared error at the last step.
 * Parameters, gradients and the arithmetic are float64.  Every buffer a
 * training step needs that does not grow with T is allocated by create; the
 * tanh cell's per-step states are drawn from the model's arena, whose
 * high-water mark nd_rnn_scratch_peak reports (the memory test reads it).
 *
 * Tasks (inputs generated from the model's Philox stream): the copying-memory
 * task and the adding problem (Arjovsky, Shah & Bengio 2016, Sec. 4.1-4.2). */
#ifndef NEURODYN_RNN_H
#define NEURODYN_RNN_H

#include "neurodyn/checkpoint.h"
#include "neurodyn/core.h"
#include "neurodyn/distributed.h"
#include "neurodyn/rng.h"
#include "neurodyn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_rnn_cell { ND_RNN_TANH = 0, ND_RNN_REVERSIBLE, ND_RNN_UNITARY, ND_RNN_GRU, ND_RNN_APPROX } nd_rnn_cell;
typedef enum nd_rnn_task { ND_RNN_TASK_COPY = 0, ND_RNN_TASK_ADDING } nd_rnn_task;
typedef enum nd_rnn_loss_kind { ND_RNN_LOSS_CE = 0, ND_RNN_LOSS_MSE_LAST } nd_rnn_loss_kind;

typedef struct nd_rnn_config {
  nd_rnn_cell cell;
  int64_t inputs, hidden, outputs; /* hidden even for reversible and unitary */
  int64_t layers;      /* unitary: Givens layers L (1..hidden) */
  int frac_bits;       /* reversible: fractional bits of the fixed-point state (8..40) */
  double init_scale;   /* tanh/reversible/gru/approx recurrent weights N(0, init_scale^2 / fan_in) */
  double inverse_weight; /* approx: weight of the inverse's loss, per entry of the mean (1) */
  bool inverse_only;     /* approx: Adam moves g alone, f and the readout stay as created (the
                            gradient-error-against-reconstruction experiment) */
  double lr, beta1, beta2, eps; /* Adam (Kingma & Ba 2015) */
  double clip;         /* global gradient-norm clip (0: off) */
  /* the training task, for nd_rnn_epoch */
  nd_rnn_task task;
  int64_t length;      /* copy: the delay T (sequence T + 20); adding: sequence length T */
  int64_t batch;       /* sequences per minibatch */
  int64_t steps;       /* minibatches per epoch */
  uint64_t seed;
} nd_rnn_config;

typedef struct nd_rnn nd_rnn;

/* A batch of sequences: x [T, B, inputs] (time-major); labels [T, B] for CE
 * (-1: no loss at that step), target [B, outputs] for MSE_LAST. */
typedef struct nd_rnn_batch {
  int64_t T, B;
  const float *x;
  const int32_t *labels;
  const float *target;
  nd_rnn_loss_kind loss;
} nd_rnn_batch;

/* Copy task with delay T, 8 symbols: 10 symbols, T-1 blanks, a marker, 10
 * blanks (length T + 20, inputs 10, outputs 9; labels: 8 = blank).  x
 * [(T+20), B, 10], labels [(T+20), B].  The memoryless baseline's loss is
 * 10 log 8 / (T + 20). */
ND_API nd_status nd_rnn_copy_task(nd_rng *rng, int64_t T, int64_t B, float *x, int32_t *labels);
/* Adding problem: x [T, B, 2] (a uniform value, a marker on two steps, one in
 * each half), target [B, 1] = the sum of the two marked values.  The
 * predict-1 baseline's squared error is 1/6. */
ND_API nd_status nd_rnn_adding_task(nd_rng *rng, int64_t T, int64_t B, float *x, float *target);
/* The task's sequence length, inputs and outputs for config c. */
ND_API nd_status nd_rnn_task_shape(const nd_rnn_config *c, int64_t *T, int64_t *inputs, int64_t *outputs);
/* The memoryless baseline's loss for the task of c (copy: 10 log 8/(T+20), adding: 1/6). */
ND_API double nd_rnn_task_baseline(const nd_rnn_config *c);

ND_API nd_rnn_config nd_rnn_defaults(void);
ND_API nd_status nd_rnn_config_check(const nd_rnn_config *c);
ND_API nd_status nd_rnn_create(const nd_rnn_config *c, nd_rnn **out);
ND_API void nd_rnn_free(nd_rnn *m);
ND_API const nd_rnn_config *nd_rnn_config_of(const nd_rnn *m);

/* The flat parameter vector and its gradient (float64, nd_rnn_num_params
 * entries; layouts in docs/rnn.md).  NULL / -1 for a NULL model. */
ND_API int64_t nd_rnn_num_params(const nd_rnn *m);
ND_API double *nd_rnn_params(nd_rnn *m);
ND_API const double *nd_rnn_grad(const nd_rnn *m);

/* Forward over the batch, *loss (mean over scored entries) and the gradient
 * of it into nd_rnn_grad (overwritten).  *accuracy (may be NULL): CE: the
 * fraction of scored steps whose argmax is the label; MSE: NaN. */
ND_API nd_status nd_rnn_loss_grad(nd_rnn *m, const nd_rnn_batch *b, double *loss, double *accuracy);
/* Forward only. */
ND_API nd_status nd_rnn_loss(nd_rnn *m, const nd_rnn_batch *b, double *loss, double *accuracy);
/* One Adam step along nd_rnn_grad (clipped to c.clip); re-orthogonalises nothing
 * (the Givens parametrisation is orthogonal for any angles). */
ND_API nd_status nd_rnn_adam_step(nd_rnn *m);

/* Bytes the last nd_rnn_loss_grad drew from the model's scratch arena (the
 * per-step states of BPTT; 0 for the reversible and unitary cells, whose
 * O(B·n) buffers come from create), and the bytes create allocated. */
ND_API size_t nd_rnn_scratch_peak(const nd_rnn *m);
ND_API size_t nd_rnn_fixed_bytes(const nd_rnn *m);
/* Largest |h_0 reconstructed - h_0| of the last nd_rnn_loss_grad (0 for tanh;
 * exactly 0 for the reversible cell; rounding for the unitary one). */
ND_API double nd_rnn_reconstruction_error(const nd_rnn *m);

/* One epoch of c.steps minibatches of the task, drawn from the model's
 * stream; progress after each minibatch may stop it.  The mean training loss
 * and accuracy of the epoch's minibatches so far: nd_rnn_epoch_loss. */
ND_API nd_status nd_rnn_epoch(nd_rnn *m, nd_progress_fn progress, void *user);
/* Data-parallel nd_rnn_epoch (docs/distributed.md): every rank draws the
 * same minibatch from the shared stream (row b's draws are keyed by its
 * index in the minibatch, not by the rank), computes the gradients of its
 * share of `blocks` fixed blocks of the rows, and every rank sums all the
 * blocks' gradients in block order in float64 (nd_grad_sum_f64) before the
 * same Adam step: the same blocks give the same model on 1 .. blocks
 * processes.  c may be NULL (alone); blocks >= the process count; alone
 * with 1 block: whole minibatches, as without it.  c must outlive m's use. */
ND_API nd_status nd_rnn_set_comm(nd_rnn *m, nd_comm *c, int64_t blocks);
ND_API nd_status nd_rnn_epoch_loss(const nd_rnn *m, double *loss, double *accuracy);
/* Loss on `batches` minibatches of a split of the task: ND_RNN_VALIDATION
 * or ND_RNN_TEST, each its own stream off the seed (apart from training's),
 * the same minibatches every call. */
typedef enum nd_rnn_split { ND_RNN_VALIDATION = 0, ND_RNN_TEST } nd_rnn_split;
ND_API nd_status nd_rnn_evaluate(nd_rnn *m, nd_rnn_split split, int64_t batches, double *loss, double *accuracy);
/* The approximate cell on one minibatch of a split: *grad_err = ||g~ - g|| / ||g||
 * over f's and the readout's parameters, g~ the gradient through the learned
 * inverse and g exact BPTT's (states stored); *step_rmse the RMS one-step
 * reconstruction error ||g(h_t) - h_{t-1}|| per entry along the forward;
 * *drift max |h_0 reconstructed - h_0| after walking back all T steps.
 * nd_rnn_grad is overwritten.  ND_ERR_INVALID_ARG for another cell. */
/* The approx cell: the mean squared one-step reconstruction error
 * ||g(h_t, x_t) - h_{t-1}||^2 per entry of the last forward pass (its loss is
 * inverse_weight times this; NaN for other cells). */
ND_API double nd_rnn_inverse_loss(const nd_rnn *m);
ND_API nd_status nd_rnn_inverse_check(nd_rnn *m, nd_rnn_split split, double *grad_err, double *step_rmse, double *drift);

ND_API nd_status nd_rnn_get_state(const nd_rnn *m, nd_train_state *st);
ND_API nd_status nd_rnn_set_state(nd_rnn *m, const nd_train_state *st);

/* Checkpoint: "model": "rnn", every config field, parameters, Adam moments,
 * the state and the epoch's running loss. */
ND_API nd_status nd_rnn_save(const nd_rnn *m, nd_checkpoint *ck);
ND_API nd_status nd_rnn_load(const nd_checkpoint *ck, nd_rnn **out);

#ifdef __cplusplus
}
#endif
#endif
