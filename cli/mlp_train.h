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

/* Loads the data, trains, scores the test set once at the end; returns the
 * exit code. */
int nd_cli_mlp_run(const char *cmd, nd_cli_mlp_args *a, nd_run *run);

#endif
