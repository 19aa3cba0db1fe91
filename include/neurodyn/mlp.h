/* Dense multilayer perceptron trained by the autodiff tape.
 *
 * Layers l = 0..L-1 map sizes[l] -> sizes[l+1]:
 *   h_0 = x [B, sizes[0]];  a_l = h_l W_l^T + b_l;  h_{l+1} = act(a_l) for hidden
 *   layers; the last layer's a_{L-1} is the output pre-activation z [B, classes].
 * Losses:
 *   ND_MLP_LOSS_CROSS_ENTROPY: mean over the batch of -log softmax(z)[label].
 *   ND_MLP_LOSS_ABS_POWER: c = tanh(out_scale * z), t = +1 for the label and -1
 *     elsewhere, loss = (1/B) sum_b sum_a |c - t|^loss_power (Krotov & Hopfield
 *     2019, Eq. 11-12 with the batch sum divided by B; multiply the learning
 *     rate by B to reproduce a batch sum with SGD).
 * Hidden activations: relu, tanh, sigmoid, leaky relu (act_param = slope),
 * rectified power max(x,0)^act_param (Krotov & Hopfield Eq. 11, n = 4.5), or
 * identity.  Prediction: argmax of z (monotone in c for the tanh readout).
 *
 * Weights W_l [sizes[l+1], sizes[l]] are Kaiming-uniform (He et al. 2015,
 * PyTorch nn.Linear's default): W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and so
 * are the biases; the draws come from nd_rng seeded with `seed`.
 *
 * Credit assignment (`method`, include/neurodyn/credit.h, docs/credit.md):
 * how the hidden layers get their update.  BP back-propagates; FA sends the
 * error down through fixed random matrices B_l shaped like W_l; DFA sends the
 * output error e straight to hidden layer l through D_l [classes, n_l]; DNI
 * updates each hidden layer with a synthetic gradient from a linear module
 * M_l(h_l[, y]) (zero-initialised, trained on the gradient that arrives from
 * the layer above); FF trains every hidden layer on its own goodness with
 * label-embedded positive and negative images, and the last layer as a
 * softmax read-out of the length-normalised top hidden layer (neutral label).
 * B_l ~ U(+-1/sqrt(fan_in)) and D_l ~ U(+-1/sqrt(n_l)) are drawn once from a
 * stream split off `seed` and never change.  DTP regresses every hidden
 * layer on a target (the top one a gradient step, the lower ones brought down
 * through learned inverses g_l(h) = act(h V_l^T + c_l), "inv.<l>.weight"
 * [sizes[l], sizes[l+1]], with the difference correction); AM optimises the
 * hidden pre-activations as codes, then regresses each layer on them; SUBTASK
 * trains blocks of subtask_layers layers on local losses against learned
 * label representatives "rep.<k>.weight" [classes, width].  DTP, AM and
 * SUBTASK need the cross-entropy loss.
 *
 * Small conv nets (n_conv > 0, methods bp, fa and dfa): the image x [B,
 * sizes[0]] is read as [B, 1, s, s] (s^2 = sizes[0]) and passed through n_conv
 * layers h = act(conv2d(h, K_j, stride, padding k/2) + c_j), K_j [C_j,
 * C_{j-1}, k, k] ("conv.<j>.weight", Kaiming-uniform), flattened, and then
 * through the dense layers (W_0 then reads the flattened maps).  FA sends the
 * error below conv layer j >= 1 through a fixed random kernel shaped like
 * K_j (and below dense layer 0 through B_0); DFA sends e D_j, D_j [classes,
 * C_j P_j Q_j], to every conv activity too. */
#ifndef NEURODYN_MLP_H
#define NEURODYN_MLP_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/distributed.h"
#include "neurodyn/optim.h"
#include "neurodyn/train.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/credit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_MLP_MAX_LAYERS 16
#define ND_MLP_MAX_CONV 4

typedef enum nd_activation {
  ND_ACT_RELU = 0,
  ND_ACT_TANH,
  ND_ACT_SIGMOID,
  ND_ACT_LEAKY_RELU, /* act_param: negative slope */
  ND_ACT_RELU_POW,   /* act_param: power n */
  ND_ACT_IDENTITY,
  ND_ACT_COUNT_
} nd_activation;

typedef enum nd_mlp_loss_kind {
  ND_MLP_LOSS_CROSS_ENTROPY = 0,
  ND_MLP_LOSS_ABS_POWER, /* tanh readout, +-1 targets, |c - t|^loss_power */
  ND_MLP_LOSS_COUNT_
} nd_mlp_loss_kind;

typedef struct nd_mlp_config {
  int n_sizes;                             /* number of layer sizes (>= 2): input, hidden..., output */
  int64_t sizes[ND_MLP_MAX_LAYERS + 1];
  nd_activation activation;                /* hidden layers */
  float act_param;
  nd_mlp_loss_kind loss;
  float loss_power;                        /* m for ND_MLP_LOSS_ABS_POWER */
  float out_scale;                         /* beta for ND_MLP_LOSS_ABS_POWER (tanh(beta z)) */
  bool bias;                               /* biases on every layer */
  uint64_t seed;                           /* initialisation */
  nd_credit_method method;                 /* credit assignment (credit.h) */
  float ff_theta;                          /* FF goodness threshold theta; 0: the layer's unit count */
  bool dni_conditioned;                    /* DNI: M(h, y) (cDNI) rather than M(h) */
  float dtp_target_lr;                     /* DTP: eta of the top target h - eta dL/dh (per-example gradient) */
  float dtp_noise;                         /* DTP: sigma of the inverses' training noise */
  float am_mu;                             /* AM: mu, the weight of the code penalty */
  float am_code_lr;                        /* AM: learning rate of the codes' Nesterov steps */
  int am_code_steps;                       /* AM: steps on each layer's codes per minibatch */
  int subtask_layers;                      /* SUBTASK: layers per block from the input (the last may be shorter) */
  int n_conv;                              /* convolutional layers before the dense ones (0: none; bp, fa, dfa) */
  int64_t conv_channels[ND_MLP_MAX_CONV];  /* their output channels; the input is one square channel of sizes[0] */
  int conv_kernel;                         /* kernel side k (padding k/2) */
  int conv_stride;                         /* stride */
} nd_mlp_config;

/* Defaults: relu, cross-entropy, biases, seed 0, loss_power 6, out_scale 1,
 * method BP, ff_theta 0 (= units), dni_conditioned true, dtp_target_lr 0.1,
 * dtp_noise 0.36, am_mu 0.003, am_code_lr 0.3, am_code_steps 5,
 * subtask_layers 2. */
ND_API nd_mlp_config nd_mlp_defaults(int n_sizes, const int64_t *sizes);
/* "784,1000,1000,10" into c->n_sizes and c->sizes (2 .. ND_MLP_MAX_LAYERS + 1
 * sizes, each 1 .. 1e9); ND_ERR_INVALID_ARG naming the text otherwise. */
ND_API nd_status nd_mlp_parse_sizes(const char *text, nd_mlp_config *c);

typedef struct nd_mlp nd_mlp;

/* The validation nd_mlp_create does, alone (ND_ERR_INVALID_ARG naming the field). */
ND_API nd_status nd_mlp_config_check(const nd_mlp_config *c);
ND_API nd_status nd_mlp_create(const nd_mlp_config *c, nd_mlp **out);
ND_API void nd_mlp_free(nd_mlp *m);
ND_API const nd_mlp_config *nd_mlp_config_of(const nd_mlp *m);

/* Parameters in order W_0, b_0, W_1, b_1, ... (no b_l without biases), their
 * gradient buffers (same order), and names "layers.<l>.weight"/".bias" (as in
 * a PyTorch nn.Sequential of Linear layers, for checkpoints).  With DNI the
 * synthetic-gradient modules follow: "sg.<l>.weight" [n, n (+ classes)] and
 * "sg.<l>.bias" [n] for the output h of hidden layer l. */
ND_API int nd_mlp_num_params(const nd_mlp *m);
ND_API nd_tensor *nd_mlp_param(nd_mlp *m, int i);
ND_API nd_tensor *nd_mlp_grad(nd_mlp *m, int i);
ND_API const char *nd_mlp_param_name(const nd_mlp *m, int i);
/* Arrays of all parameter / gradient pointers (for nd_optim_create). */
ND_API nd_tensor *const *nd_mlp_params(nd_mlp *m);
ND_API nd_tensor *const *nd_mlp_grads(nd_mlp *m);

/* "32,64" into c->n_conv and c->conv_channels (1..ND_MLP_MAX_CONV channel
 * counts in 1..4096; "" or NULL: none). */
ND_API nd_status nd_mlp_parse_conv(const char *text, nd_mlp_config *c);

/* The fixed feedback matrix of layer l: FA's B_l [sizes[l+1], sizes[l]]
 * (l >= 1) or DFA's D_l [classes, sizes[l+1]] (l < layers - 1); NULL
 * otherwise.  Writable, for experiments (B_l = W_l gives BP). */
ND_API nd_tensor *nd_mlp_feedback(nd_mlp *m, int layer);

/* Builds the network on tp from x [B, sizes[0]] and returns z [B, classes]
 * (before the loss's readout).  Parameters enter as nd_tape_param leaves.
 * This is the inference graph (back-propagating through it gives BP's
 * gradient); with FF it embeds the neutral label and normalises each
 * layer's input. */
ND_API nd_var *nd_mlp_forward(nd_mlp *m, nd_tape *tp, nd_var *x);
/* The configured loss of z against labels[B] (scalar). */
ND_API nd_var *nd_mlp_loss(nd_mlp *m, nd_tape *tp, nd_var *z, const int32_t *labels);

/* One epoch over x [n, sizes[0]] (row-major floats) with labels [n] in
 * 0..classes-1: minibatches of batch_size rows in the order of a fresh
 * nd_rng_permutation drawn from rng (the last batch may be smaller); per
 * batch: the method's gradients (nd_mlp_batch_grads), opt step.  opt must have been
 * created over nd_mlp_params/nd_mlp_grads.  *mean_loss (may be NULL) receives
 * the sample-weighted mean of the batch losses. */
ND_API nd_status nd_mlp_train_epoch(nd_mlp *m, nd_optim *opt, const float *x, const int32_t *labels, int64_t n,
                             int64_t batch_size, nd_rng *rng, double *mean_loss);
/* The method's gradient for one batch of rows: zeroes every gradient buffer
 * and fills it (no optimizer step).  *loss (may be NULL): the batch loss
 * (FF: the sum of the layer losses and the read-out's). */
ND_API nd_status nd_mlp_batch_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss);
/* angles[l], l = 0..layers-1: the angle in degrees between the method's
 * gradient for W_l on this batch and the true (BP) gradient of the loss
 * (then angles[layers + j] for conv layer j's kernel);
 * 0 for BP, NaN for FF (no global loss trains its hidden layers).  Leaves
 * the gradient buffers zeroed. */
ND_API nd_status nd_mlp_grad_angles(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *angles);
/* Data-parallel training (include/neurodyn/distributed.h, nd_grad_sum): each
 * minibatch of nd_mlp_train_epoch is cut into `blocks` fixed blocks of rows;
 * each rank computes the method's gradient of its blocks, weighted by their
 * share of the rows, and every rank sums all blocks in block order before the
 * optimizer step.  The same blocks give the same model on 1 .. blocks
 * processes, bit for bit.  Methods bp, fa and dfa (ND_ERR_INVALID_ARG for ff
 * and dni).  c NULL: one process (blocks 1: the ordinary path).  The model
 * does not own c. */
ND_API nd_status nd_mlp_set_comm(nd_mlp *m, nd_comm *c, int64_t blocks);
/* fn (may be NULL) is called after every minibatch of nd_mlp_train_epoch
 * with done/total minibatches of the epoch (info->epoch is 0: the caller
 * counts epochs); its return value is ignored (an epoch runs to its end). */
ND_API nd_status nd_mlp_set_progress(nd_mlp *m, nd_progress_fn fn, void *user);

/* Model "mlp": the config (sizes, activation, loss, ...) and every
 * parameter; load creates the network from such a checkpoint. */
ND_API nd_status nd_mlp_save(nd_mlp *m, nd_checkpoint *ck);
ND_API nd_status nd_mlp_load(const nd_checkpoint *ck, nd_mlp **out);
/* Class predictions (argmax of z) for n rows, in batches, without recording. */
ND_API nd_status nd_mlp_predict(nd_mlp *m, const float *x, int64_t n, int64_t batch_size, int32_t *pred);
/* Fraction of rows whose prediction equals the label. */
ND_API nd_status nd_mlp_accuracy(nd_mlp *m, const float *x, const int32_t *labels, int64_t n, int64_t batch_size,
                          double *accuracy);

#ifdef __cplusplus
}
#endif
#endif
