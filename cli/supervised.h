/* What the supervised trainers (train krotov-top, train mlp-baseline) share
 * on top of the run driver (run.h): epochs of a model trained by an
 * optimizer on shuffled minibatches drawn from the trainer's own Philox
 * stream; train and validation error per epoch, the test error once at the
 * end; checkpoints holding the model, the optimizer state and the position,
 * so that --resume continues exactly. */
#ifndef NEURODYN_CLI_SUPERVISED_H
#define NEURODYN_CLI_SUPERVISED_H

#include "run.h"

typedef enum nd_cli_split { ND_CLI_TRAIN = 0, ND_CLI_VALIDATION, ND_CLI_TEST } nd_cli_split;

typedef struct nd_cli_supervised {
  /* set by the family */
  void *self;
  const char *cmd;       /* "train krotov-top" */
  const char *file;      /* the model file in the run directory, "top.safetensors" */
  nd_optim *opt;
  int64_t epochs;
  bool has_validation;
  nd_status (*train_epoch)(void *self, nd_rng *rng, double *mean_loss);
  nd_status (*error)(void *self, nd_cli_split split, double *error);
  /* What error() measures, in the metrics keys: NULL is a classification
   * error ("train_error", "validation_error", "test_error" and the
   * accuracies); "mse" gives "train_mse", "validation_mse", "test_mse". */
  const char *measure;
  /* More metrics fields after each epoch (may be NULL; at most 20 in all). */
  nd_status (*extra)(void *self, nd_jsonl_field *fields, int *n_fields);
  nd_status (*save)(void *self, nd_checkpoint *ck);          /* the model and its data set */
  nd_status (*restore)(void *self, const nd_checkpoint *ck); /* the model's parameters, from a checkpoint of this run */
  /* kept by the helper: the driver's progress callback during an epoch (a
   * family that calls it per minibatch, with epoch = s->epoch, sets
   * reports_batches so that the helper does not report the epoch again) */
  nd_progress_fn progress;
  void *progress_user;
  bool reports_batches;
  /* A gradient trainer on nd_cli_supervised_minibatches that sets grads (the
   * optimizer's gradient tensors, at most 4) is data-parallel
   * (docs/distributed.md): nd_cli_supervised_run hands the run's comm and
   * grad_blocks (--grad-blocks) to the minibatch loop, which cuts each
   * minibatch into that many fixed blocks, runs step on this rank's blocks
   * and sums every block's gradient in block order (nd_grad_sum_batch). */
  nd_tensor *grads[4];
  int n_grads;
  int64_t grad_blocks;
  nd_grad_sum *gsum_;    /* private: NULL runs whole minibatches */
  float *gflat_;         /* private: the summed gradient, the grads one after another */
  nd_rng rng;            /* the minibatch stream */
  int64_t epoch;         /* epochs done */
  double loss, err_train, err_val, err_test;
  char key_[3][40];      /* private: the metrics keys of measure */
} nd_cli_supervised;

/* --grad-blocks N of a data-parallel gradient trainer (docs/distributed.md):
 * each minibatch is cut into N fixed blocks whose gradients are summed in
 * block order, so the same N gives the same model on any number of
 * processes up to N; 0 (default) takes one block per process. */
#define ND_OPT_GRAD_BLOCKS(dest)                                                                                  \
  {"grad-blocks", ND_OPT_INT64, (dest), "0",                                                                     \
   "data-parallel: N fixed blocks per minibatch, gradients summed in block order; the same N gives the same "   \
   "model on 1..N processes (0: one block per process)", NULL}

/* After nd_run_begin: blocks = n (or the process count when n is 0) handed
 * to the model with the run's comm; n below the process count exits 2 on
 * every rank.  Returns 0 or the exit code. */
int nd_cli_set_grad_blocks(nd_run *run, int64_t n, void *model, nd_status (*set)(void *model, nd_comm *c, int64_t blocks));

/* The trainer the run driver runs for s. */
nd_trainer nd_cli_supervised_trainer(nd_cli_supervised *s);
/* --resume DIR: the parameters, the optimizer and the position from DIR/<file>. */
nd_status nd_cli_supervised_resume(nd_cli_supervised *s, const char *dir);
/* After nd_run_loop returned rc: when the run reached its last epoch, scores
 * the test set once (err_test, a final metrics line) and sets *scored;
 * stopped early by --stop-after, says how to resume.  Returns the exit code. */
int nd_cli_supervised_finish(nd_cli_supervised *s, nd_run *run, int rc, bool *scored);

/* One epoch of shuffled minibatches of tr for a gradient trainer: the rows
 * from rng (the stream train_epoch is given), gathered into xb [batch, d]
 * and yb [batch]; step(self, rng, x, y, B, &loss) sets (overwrites) the
 * gradient of the mean loss over the B rows x [B, d], y [B], then one step
 * of s->opt; at most epoch_size images (0: all); s->progress after every
 * minibatch may stop it.  *mean_loss over the minibatches done.
 * Data-parallel (s->grads set, several processes or --grad-blocks > 1):
 * step runs once per block of this rank, on the block's rows, with a
 * stream of its own (from one draw of rng per minibatch, split by block
 * index, so that it does not depend on which rank runs the block); the
 * blocks' gradients are summed in block order into s->grads. */
typedef nd_status (*nd_cli_step_fn)(void *self, nd_rng *rng, const float *x, const int32_t *y, int64_t B, double *loss);
nd_status nd_cli_supervised_minibatches(nd_cli_supervised *s, nd_sampler *smp, const nd_dataset *tr, int64_t batch,
                                        int64_t epoch_size, nd_rng *rng, float *xb, int32_t *yb, nd_cli_step_fn step,
                                        double *mean_loss);

/* One minibatch's gradient for step on x [B, d], y [B] (y may be NULL) into
 * s->grads: step itself, or data-parallel its blocks summed (as
 * nd_cli_supervised_minibatches does for each minibatch). */
nd_status nd_cli_supervised_grad(nd_cli_supervised *s, nd_cli_step_fn step, nd_rng *rng, const float *x, const int32_t *y,
                                 int64_t d, int64_t B, double *loss);

/* The whole run after the family's set-up (whose status is `setup`): with
 * --resume DIR (resume not NULL) the position from DIR, then nd_run_begin
 * into resume or out (files: the data files read, NULL-ended, may be NULL),
 * data-parallel when s->grads is set (s->grad_blocks, as --grad-blocks),
 * the epochs counted in minibatches (the family calls s->progress per
 * minibatch), nd_cli_supervised_finish.  Returns the exit code; *scored as
 * for finish.  The caller ends the run (nd_run_end). */
int nd_cli_supervised_run(nd_cli_supervised *s, nd_run *run, nd_status setup, const char *resume, const char *out,
                          const char *const *files, const nd_run_limits *lim, bool *scored);

/* The flags every minibatch trainer shares: --epochs, --batch >= 1, --lr > 0,
 * --epoch-size, --eval-train >= 0.  Returns 0, or 2 after printing which flag
 * of cmd is bad. */
int nd_cli_supervised_check_flags(const char *cmd, int64_t epochs, int64_t batch, double lr, int64_t epoch_size,
                                  int64_t eval_train);

#endif
