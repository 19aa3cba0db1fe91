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
 * are the biases; the draws come from nd_rng seeded with `seed`. */
#ifndef NEURODYN_MLP_H
#define NEURODYN_MLP_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/optim.h"
#include "neurodyn/train.h"
#include "neurodyn/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_MLP_MAX_LAYERS 16

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
} nd_mlp_config;

/* Defaults: relu, cross-entropy, biases, seed 0, loss_power 6, out_scale 1. */
ND_API nd_mlp_config nd_mlp_defaults(int n_sizes, const int64_t *sizes);

typedef struct nd_mlp nd_mlp;

ND_API nd_status nd_mlp_create(const nd_mlp_config *c, nd_mlp **out);
ND_API void nd_mlp_free(nd_mlp *m);
ND_API const nd_mlp_config *nd_mlp_config_of(const nd_mlp *m);

/* Parameters in order W_0, b_0, W_1, b_1, ... (no b_l without biases), their
 * gradient buffers (same order), and names "layers.<l>.weight"/".bias" (as in
 * a PyTorch nn.Sequential of Linear layers, for checkpoints). */
ND_API int nd_mlp_num_params(const nd_mlp *m);
ND_API nd_tensor *nd_mlp_param(nd_mlp *m, int i);
ND_API nd_tensor *nd_mlp_grad(nd_mlp *m, int i);
ND_API const char *nd_mlp_param_name(const nd_mlp *m, int i);
/* Arrays of all parameter / gradient pointers (for nd_optim_create). */
ND_API nd_tensor *const *nd_mlp_params(nd_mlp *m);
ND_API nd_tensor *const *nd_mlp_grads(nd_mlp *m);

/* Builds the network on tp from x [B, sizes[0]] and returns z [B, classes]
 * (before the loss's readout).  Parameters enter as nd_tape_param leaves. */
ND_API nd_var *nd_mlp_forward(nd_mlp *m, nd_tape *tp, nd_var *x);
/* The configured loss of z against labels[B] (scalar). */
ND_API nd_var *nd_mlp_loss(nd_mlp *m, nd_tape *tp, nd_var *z, const int32_t *labels);

/* One epoch over x [n, sizes[0]] (row-major floats) with labels [n] in
 * 0..classes-1: minibatches of batch_size rows in the order of a fresh
 * nd_rng_permutation drawn from rng (the last batch may be smaller); per
 * batch: zero gradients, forward, loss, backward, opt step.  opt must have been
 * created over nd_mlp_params/nd_mlp_grads.  *mean_loss (may be NULL) receives
 * the sample-weighted mean of the batch losses. */
ND_API nd_status nd_mlp_train_epoch(nd_mlp *m, nd_optim *opt, const float *x, const int32_t *labels, int64_t n,
                             int64_t batch_size, nd_rng *rng, double *mean_loss);
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
