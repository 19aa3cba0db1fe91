/* neurodyn train rnn: recurrent networks trained through time without
 * storing activations (include/neurodyn/rnn.h, docs/rnn.md) on the
 * copying-memory task or the adding problem (Arjovsky et al. 2016), on the
 * shared run driver (run.h).  Writes into --out: config.json,
 * metrics.jsonl (training and validation loss per epoch, the memoryless
 * baseline, the reconstruction error, the bytes a step allocated),
 * checkpoint.safetensors (resumable: --resume DIR). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"

#define CMD "train rnn"

typedef struct rnn_args {
  int cell, task;
  int64_t length, hidden, layers, batch, steps, epochs, val_batches, stop_after, checkpoint_every, grad_blocks;
  int frac_bits;
  double lr, clip, init_scale, inverse_weight;
  bool inverse_only;
  const char *resume;
  nd_cli_common common;
} rnn_args;

typedef struct rnn_run {
  const rnn_args *a;
  nd_rnn *m;
  double val_loss, val_acc, test_loss, test_acc;
} rnn_run;

static const char *const cells[] = {"tanh", "reversible", "unitary", "gru", "approx", NULL};
static const char *const tasks[] = {"copy", "adding", NULL};

static nd_status r_epoch(void *self, nd_progress_fn progress, void *user) {
  return nd_rnn_epoch(((rnn_run *)self)->m, progress, user);
}
static nd_status r_state(void *self, nd_train_state *st) { return nd_rnn_get_state(((rnn_run *)self)->m, st); }

static nd_status r_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  rnn_run *r = self;
  (void)run, (void)e;
  double loss, acc;
  ND_CLI_TRY(nd_rnn_epoch_loss(r->m, &loss, &acc));
  ND_CLI_TRY(nd_rnn_evaluate(r->m, ND_RNN_VALIDATION, r->a->val_batches, &r->val_loss, &r->val_acc));
  const nd_rnn_config *c = nd_rnn_config_of(r->m);
  f[(*n)++] = ND_JNUM("train_loss", loss);
  f[(*n)++] = ND_JNUM("val_loss", r->val_loss);
  f[(*n)++] = ND_JNUM("baseline_loss", nd_rnn_task_baseline(c));
  if (c->task == ND_RNN_TASK_COPY) f[(*n)++] = ND_JNUM("val_accuracy", r->val_acc);
  if (e == r->a->epochs) { /* the test split, once, at the end (choose settings on validation) */
    ND_CLI_TRY(nd_rnn_evaluate(r->m, ND_RNN_TEST, r->a->val_batches, &r->test_loss, &r->test_acc));
    f[(*n)++] = ND_JNUM("test_loss", r->test_loss);
    if (c->task == ND_RNN_TASK_COPY) f[(*n)++] = ND_JNUM("test_accuracy", r->test_acc);
  }
  f[(*n)++] = ND_JNUM("reconstruction_error", nd_rnn_reconstruction_error(r->m));
  if (c->cell == ND_RNN_APPROX) { /* gradient error against exact BPTT on the first validation minibatch */
    double ge, rmse, drift;
    ND_CLI_TRY(nd_rnn_inverse_check(r->m, ND_RNN_VALIDATION, &ge, &rmse, &drift));
    f[(*n)++] = ND_JNUM("grad_error", ge);
    f[(*n)++] = ND_JNUM("inverse_step_rmse", rmse);
    f[(*n)++] = ND_JNUM("val_reconstruction_error", drift);
  }
  f[(*n)++] = ND_JINT("step_scratch_bytes", (int64_t)nd_rnn_scratch_peak(r->m));
  return ND_OK;
}

static void r_figures(void *self, char *buf, size_t len) {
  rnn_run *r = self;
  double loss, acc;
  if (nd_rnn_epoch_loss(r->m, &loss, &acc) == ND_OK) snprintf(buf, len, "loss=%.4g (baseline %.4g)", loss, nd_rnn_task_baseline(nd_rnn_config_of(r->m)));
}

static nd_status r_checkpoint(void *self, nd_run *run) {
  rnn_run *r = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = nd_rnn_save(r->m, ck);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status make_config(const rnn_args *a, nd_rnn_config *c) {
  *c = nd_rnn_defaults();
  c->cell = (nd_rnn_cell)a->cell, c->task = (nd_rnn_task)a->task, c->length = a->length, c->hidden = a->hidden;
  c->layers = a->layers, c->batch = a->batch, c->steps = a->steps, c->frac_bits = a->frac_bits, c->lr = a->lr;
  c->clip = a->clip, c->init_scale = a->init_scale, c->inverse_weight = a->inverse_weight, c->inverse_only = a->inverse_only, c->seed = (uint64_t)a->common.seed;
  int64_t T;
  ND_CLI_TRY(nd_rnn_config_check(c));
  return nd_rnn_task_shape(c, &T, &c->inputs, &c->outputs);
}

static nd_status load_checkpoint(const rnn_args *a, const nd_rnn_config *want, rnn_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_status s = nd_rnn_load(ck, &r->m);
  nd_checkpoint_free(ck);
  if (s == ND_OK && memcmp(nd_rnn_config_of(r->m), want, sizeof *want))
    s = nd_set_error(ND_ERR_FORMAT, "%s does not hold the model config.json describes (edited by hand?)", path);
  return s;
}

static nd_status r_set_comm(void *m, nd_comm *c, int64_t blocks) { return nd_rnn_set_comm(m, c, blocks); }

static int run_rnn(const rnn_args *a, const nd_rnn_config *c, nd_run *run) {
  rnn_run r = {.a = a};
  nd_status s = a->resume ? load_checkpoint(a, c, &r) : nd_rnn_create(c, &r.m);
  int rc = s == ND_OK ? 0 : nd_cli_lib_fail(CMD, s);
  run->parallel = true; /* block gradients summed in order across processes (nd_rnn_set_comm) */
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc) rc = nd_cli_set_grad_blocks(run, a->grad_blocks, r.m, r_set_comm);
  nd_trainer t = {.self = &r, .epochs = a->epochs, .unit = "batches", .epoch = r_epoch, .state = r_state,
                  .after_epoch = r_after_epoch, .figures = r_figures, .checkpoint = r_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  if (!rc && !a->common.quiet)
    fprintf(stderr, "neurodyn train rnn: %s cell, %s T = %lld: validation loss %.4g, test loss %.4g (memoryless baseline %.4g), %.1f s\n",
            cells[a->cell], tasks[a->task], (long long)a->length, r.val_loss, r.test_loss, nd_rnn_task_baseline(c),
            nd_cli_now() - run->t_start);
  nd_run_end(run);
  nd_rnn_free(r.m);
  return rc;
}

int nd_cli_train_rnn(int argc, char **argv) {
  rnn_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"cell", ND_OPT_CHOICE, &a.cell, "unitary", "reversible (fixed-point additive coupling), unitary (Givens layers), tanh or gru (both stored BPTT), approx (tanh with a learned inverse)", cells},
      {"task", ND_OPT_CHOICE, &a.task, "copy", "copy (copying memory, delay T) or adding (adding problem, length T)", tasks},
      {"length", ND_OPT_INT64, &a.length, "100", "T: the copy task's delay (sequence T + 20) or the adding problem's length", NULL},
      {"hidden", ND_OPT_INT64, &a.hidden, "128", "hidden units n (even for reversible and unitary)", NULL},
      {"layers", ND_OPT_INT64, &a.layers, "8", "unitary: Givens rotation layers L (cost O(n L) per step)", NULL},
      {"frac-bits", ND_OPT_INT, &a.frac_bits, "32", "reversible: fractional bits of the fixed-point state", NULL},
      {"init-scale", ND_OPT_DOUBLE, &a.init_scale, "1", "tanh/reversible/gru: recurrent weights N(0, s^2/fan_in)", NULL},
      {"inverse-weight", ND_OPT_DOUBLE, &a.inverse_weight, "1", "approx: weight of the inverse's loss ||g(f(h, x), x) - h||^2 (mean)", NULL},
      {"inverse-only", ND_OPT_BOOL, &a.inverse_only, "false", "approx: train g alone (f and the readout stay as initialised)", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.001", "Adam learning rate", NULL},
      {"clip", ND_OPT_DOUBLE, &a.clip, "1", "clip the gradient norm to this (0: off)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "32", "sequences per minibatch", NULL},
      {"steps", ND_OPT_INT64, &a.steps, "50", "minibatches per epoch", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "20", "epochs", NULL},
      {"val-batches", ND_OPT_INT64, &a.val_batches, "4", "validation minibatches after each epoch, and test minibatches after the last (fixed streams of their own)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options]",
                        "Trains a recurrent network whose backward pass reconstructs past states instead of storing "
                        "them (reversible or orthogonal cell; tanh and GRU: ordinary BPTT for comparison) on the copying-memory "
                        "task or the adding problem. Writes config.json, metrics.jsonl and checkpoint.safetensors "
                        "(resumable) into --out (default runs/rnn). docs/rnn.md.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, "val-batches", NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  rc = 0;
  if (!a.common.out) a.common.out = "runs/rnn";
  if (a.epochs < 1) rc = nd_cli_cmd_fail(CMD, 2, "--epochs %lld: need >= 1", (long long)a.epochs);
  if (!rc && (a.val_batches < 1 || a.val_batches > 1000000))
    rc = nd_cli_cmd_fail(CMD, 2, "--val-batches %lld: need 1..1000000", (long long)a.val_batches);
  if (!rc && a.stop_after < 0) rc = nd_cli_cmd_fail(CMD, 2, "--stop-after %lld: need >= 0", (long long)a.stop_after);
  if (!rc && a.checkpoint_every < 0)
    rc = nd_cli_cmd_fail(CMD, 2, "--checkpoint-every %lld: need >= 0", (long long)a.checkpoint_every);
  nd_rnn_config c;
  nd_status s = rc ? ND_OK : make_config(&a, &c);
  if (s != ND_OK) rc = nd_run_setting_fail(CMD, &spec, s);
  if (!rc) rc = run_rnn(&a, &c, &run);
  nd_args_release(&args);
  return rc;
}
