/* neurodyn train mlp: a dense network on MNIST / Fashion-MNIST whose
 * credit-assignment method is a choice (include/neurodyn/credit.h), on the
 * run driver.  `train mlp-baseline` is this command with the Krotov-Hopfield
 * architecture as its defaults (mlp_baseline.c). */
#ifndef NEURODYN_CLI_MLP_TRAIN_H
#define NEURODYN_CLI_MLP_TRAIN_H

#include "datasets.h"
#include "run.h"

typedef struct nd_cli_mlp_args {
  nd_mlp_config model;   /* sizes[0] == 0: the images' pixel count */
  int optimizer;         /* index into the optimizer names: adam, sgd, rmsprop */
  double lr, lr_final, momentum, weight_decay;
  int64_t epochs, batch, checkpoint_every, stop_after, angle_rows, grad_blocks;
  const char *resume;
  nd_cli_dataopts data;
  nd_cli_common common;
} nd_cli_mlp_args;

/* The training flags both mlp commands take (epochs' default given). */
#define ND_OPT_MLP_TRAINING(a, epochs_default)                                                                    \
  {"epochs", ND_OPT_INT64, &(a)->epochs, epochs_default, "training epochs", NULL},                                 \
  {"lr", ND_OPT_DOUBLE, &(a)->lr, "0.001", "initial learning rate", NULL},                                        \
  {"lr-final", ND_OPT_DOUBLE, &(a)->lr_final, "0.00001", "learning rate at the end of the cosine anneal", NULL},  \
  {"batch", ND_OPT_INT64, &(a)->batch, "100", "minibatch size", NULL},                                            \
  {"checkpoint-every", ND_OPT_INT64, &(a)->checkpoint_every, "10",                                                \
   "write mlp.safetensors every N epochs (0: only at the end)", NULL},                                            \
  {"resume", ND_OPT_STRING, &(a)->resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL}, \
  {"stop-after", ND_OPT_INT64, &(a)->stop_after, "0",                                                             \
   "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},                               \
  ND_OPT_GRAD_BLOCKS(&(a)->grad_blocks), ND_OPT_DATA(&(a)->data), ND_OPT_COMMON(&(a)->common)

/* Loads the data, trains, scores the test set once at the end; returns the
 * exit code. */
int nd_cli_mlp_run(const char *cmd, nd_cli_mlp_args *a, nd_run *run);

#endif
