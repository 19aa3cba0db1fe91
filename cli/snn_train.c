/* neurodyn train snn: recurrent LIF/ALIF networks (or a plain leaky RNN)
 * trained by surrogate-gradient BPTT or e-prop (include/neurodyn/snn.h,
 * "training"; docs/spiking.md) on store-and-recall (Bellec et al. 2018) or
 * sequential MNIST, on the shared run driver (run.h).  Writes into --out:
 * config.json, metrics.jsonl (training loss, accuracy and spike rate,
 * validation, test at the end, buffer bytes), checkpoint.safetensors
 * (resumable: --resume DIR). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"

#define CMD "train snn"

typedef struct snn_args {
  int method, task, unit, surrogate, feedback;
  int64_t neurons, batch, steps, epochs, val_batches, stop_after, checkpoint_every, grad_blocks;
  int64_t periods, period_steps, channel, pixels, score_steps;
  double rate, lr, clip, dt, tau_m, tau_a, tau_out, v_th, beta, gamma, slope, w_in, w_rec;
  const char *resume;
  nd_cli_dataopts data;
  nd_cli_common common;
} snn_args;

typedef struct snn_run {
  const snn_args *a;
  nd_snn_learner *l;
  nd_snn_task task;
  nd_dataset tr, val, te;
  bool has_val;
  double val_loss, val_acc, test_loss, test_acc, epoch_t0;
} snn_run;

static const char *const methods[] = {"bptt", "eprop", NULL};
static const char *const tasks[] = {"recall", "smnist", NULL};
static const char *const units[] = {"lif", "alif", "rate", NULL};
static const char *const surrogates[] = {"fast-sigmoid", "triangle", "arctan", NULL};
static const char *const feedbacks[] = {"symmetric", "random", NULL};

static nd_status r_epoch(void *self, nd_progress_fn progress, void *user) {
  snn_run *r = self;
  r->epoch_t0 = nd_cli_now();
  return nd_snn_learner_epoch(r->l, &r->task, progress, user);
}
static nd_status r_state(void *self, nd_train_state *st) { return nd_snn_learner_get_state(((snn_run *)self)->l, st); }

/* Validation (split 0) or test (1): recall from fixed streams, smnist on the held-out rows / test set. */
static nd_status evaluate(snn_run *r, int split, double *loss, double *acc) {
  const nd_dataset *d = split ? &r->te : &r->val;
  if (r->task.kind == ND_SNN_TASK_RECALL)
    return nd_snn_learner_evaluate(r->l, &r->task, split, r->a->val_batches, 0, NULL, NULL, loss, acc);
  return nd_snn_learner_evaluate(r->l, &r->task, split, 0, d->n, d->images.data, d->labels, loss, acc);
}

static nd_status r_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  snn_run *r = self;
  (void)run;
  double loss, acc, rate;
  double secs = nd_cli_now() - r->epoch_t0;
  ND_CLI_TRY(nd_snn_learner_epoch_stats(r->l, &loss, &acc, &rate));
  f[(*n)++] = ND_JNUM("train_loss", loss);
  f[(*n)++] = ND_JNUM("train_accuracy", acc);
  f[(*n)++] = ND_JNUM("spikes_per_neuron_step", rate);
  if (r->has_val) {
    ND_CLI_TRY(evaluate(r, 0, &r->val_loss, &r->val_acc));
    f[(*n)++] = ND_JNUM("val_loss", r->val_loss);
    f[(*n)++] = ND_JNUM("val_accuracy", r->val_acc);
  }
  if (e == r->a->epochs) { /* the test split, once, at the end (choose settings on validation) */
    ND_CLI_TRY(evaluate(r, 1, &r->test_loss, &r->test_acc));
    f[(*n)++] = ND_JNUM("test_loss", r->test_loss);
    f[(*n)++] = ND_JNUM("test_accuracy", r->test_acc);
  }
  f[(*n)++] = ND_JINT("buffer_bytes", nd_snn_learner_buffer_bytes(r->l));
  f[(*n)++] = ND_JNUM("epoch_seconds", secs);
  return ND_OK;
}

static void r_figures(void *self, char *buf, size_t len) {
  snn_run *r = self;
  double loss, acc, rate;
  if (nd_snn_learner_epoch_stats(r->l, &loss, &acc, &rate) == ND_OK)
    snprintf(buf, len, "loss=%.4g acc=%.1f%% rate=%.3f", loss, 100 * acc, rate);
}

static nd_status r_checkpoint(void *self, nd_run *run) {
  snn_run *r = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = nd_snn_learner_save(r->l, ck);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status make_config(const snn_args *a, nd_snn_task *t, nd_snn_learn_config *c) {
  *t = nd_snn_task_defaults((nd_snn_task_kind)a->task);
  t->periods = a->periods, t->period_steps = a->period_steps, t->channel = a->channel, t->rate = a->rate;
  t->pixels = a->pixels, t->score_steps = a->score_steps, t->steps = a->steps;
  ND_CLI_TRY(nd_snn_task_check(t));
  *c = nd_snn_learn_defaults();
  c->method = (nd_snn_method)a->method, c->unit = (nd_snn_unit)a->unit, c->surrogate = (nd_snn_surrogate)a->surrogate;
  c->feedback = (nd_snn_feedback)a->feedback, c->neurons = a->neurons, c->batch = a->batch, c->lr = a->lr;
  c->clip = a->clip, c->dt_ms = a->dt, c->tau_m_ms = a->tau_m, c->tau_a_ms = a->tau_a, c->tau_out_ms = a->tau_out;
  c->v_th = a->v_th, c->beta = a->beta, c->gamma = a->gamma, c->slope = a->slope, c->w_in_scale = a->w_in;
  c->w_rec_scale = a->w_rec, c->seed = (uint64_t)a->common.seed;
  int64_t T;
  ND_CLI_TRY(nd_snn_task_shape(t, &T, &c->inputs, &c->outputs));
  return nd_snn_learn_config_check(c);
}

static nd_status load_checkpoint(const snn_args *a, const nd_snn_learn_config *want, snn_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_status s = nd_snn_learner_load(ck, &r->l);
  nd_checkpoint_free(ck);
  if (s == ND_OK && memcmp(nd_snn_learner_config(r->l), want, sizeof *want))
    s = nd_set_error(ND_ERR_FORMAT, "%s does not hold the model config.json describes (edited by hand?)", path);
  return s;
}

static int load_data(snn_args *a, snn_run *r, nd_run *run) {
  if (a->task != ND_SNN_TASK_SMNIST) {
    r->has_val = true;
    return 0;
  }
  int rc = nd_cli_data_load(CMD, &a->data, &r->tr, &r->val, &r->te);
  if (rc) return rc;
  if (r->tr.rows * r->tr.cols != 784)
    return nd_cli_cmd_fail(CMD, 2, "--dataset: images of %d x %d pixels, sequential MNIST needs 28 x 28", r->tr.rows, r->tr.cols);
  r->has_val = a->data.validation > 0;
  r->task.n = r->tr.n, r->task.images = r->tr.images.data, r->task.labels = r->tr.labels;
  for (int i = 0; a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  return 0;
}

static nd_status r_set_comm(void *l, nd_comm *c, int64_t blocks) { return nd_snn_learner_set_comm(l, c, blocks); }

static int run_snn(snn_args *a, const nd_snn_learn_config *c, const nd_snn_task *task, nd_run *run) {
  snn_run r = {.a = a, .task = *task};
  int rc = load_data(a, &r, run);
  nd_status s = ND_OK;
  if (!rc) s = a->resume ? load_checkpoint(a, c, &r) : nd_snn_learner_create(c, &r.l);
  if (!rc && s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  run->parallel = true; /* block gradients summed in order across processes (nd_snn_learner_set_comm) */
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc) rc = nd_cli_set_grad_blocks(run, a->grad_blocks, r.l, r_set_comm);
  nd_trainer t = {.self = &r, .epochs = a->epochs, .unit = "batches", .epoch = r_epoch, .state = r_state,
                  .after_epoch = r_after_epoch, .figures = r_figures, .checkpoint = r_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  if (!rc && !a->common.quiet)
    fprintf(stderr, "neurodyn train snn: %s %s on %s: validation accuracy %.2f%%, test accuracy %.2f%%, %.1f s\n",
            units[a->unit], methods[a->method], tasks[a->task], 100 * r.val_acc, 100 * r.test_acc,
            nd_cli_now() - run->t_start);
  nd_run_end(run);
  nd_snn_learner_free(r.l);
  nd_dataset_release(&r.tr), nd_dataset_release(&r.val), nd_dataset_release(&r.te);
  return rc;
}

int nd_cli_train_snn(int argc, char **argv) {
  snn_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"method", ND_OPT_CHOICE, &a.method, "bptt", "bptt (surrogate-gradient BPTT) or eprop (online eligibility traces)", methods},
      {"task", ND_OPT_CHOICE, &a.task, "recall", "recall (store-and-recall) or smnist (sequential MNIST)", tasks},
      {"unit", ND_OPT_CHOICE, &a.unit, "alif", "neurons: lif, alif (adaptive threshold) or rate (plain leaky tanh RNN)", units},
      {"surrogate", ND_OPT_CHOICE, &a.surrogate, "triangle", "pseudo-derivative: fast-sigmoid, triangle or arctan", surrogates},
      {"feedback", ND_OPT_CHOICE, &a.feedback, "symmetric", "e-prop learning signal: symmetric (B = W_out^T) or random", feedbacks},
      {"neurons", ND_OPT_INT64, &a.neurons, "100", "recurrent neurons N", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "32", "sequences per minibatch", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.005", "Adam learning rate", NULL},
      {"clip", ND_OPT_DOUBLE, &a.clip, "1", "clip the gradient norm to this (0: off)", NULL},
      {"dt", ND_OPT_DOUBLE, &a.dt, "1", "time step (ms)", NULL},
      {"tau-m", ND_OPT_DOUBLE, &a.tau_m, "20", "membrane time constant (ms)", NULL},
      {"tau-a", ND_OPT_DOUBLE, &a.tau_a, "200", "ALIF adaptation time constant (ms)", NULL},
      {"tau-out", ND_OPT_DOUBLE, &a.tau_out, "20", "readout leak time constant (ms; 0: none)", NULL},
      {"v-th", ND_OPT_DOUBLE, &a.v_th, "0.6", "threshold v_th", NULL},
      {"beta", ND_OPT_DOUBLE, &a.beta, "1.8", "ALIF threshold increase per recent spike", NULL},
      {"gamma", ND_OPT_DOUBLE, &a.gamma, "0.3", "pseudo-derivative dampening", NULL},
      {"slope", ND_OPT_DOUBLE, &a.slope, "1", "fast-sigmoid / arctan slope", NULL},
      {"w-in-scale", ND_OPT_DOUBLE, &a.w_in, "1", "input weights N(0, s^2 / inputs)", NULL},
      {"w-rec-scale", ND_OPT_DOUBLE, &a.w_rec, "1", "recurrent weights N(0, s^2 / neurons)", NULL},
      {"periods", ND_OPT_INT64, &a.periods, "4", "recall: periods per sequence", NULL},
      {"period-steps", ND_OPT_INT64, &a.period_steps, "10", "recall: steps per period", NULL},
      {"channel", ND_OPT_INT64, &a.channel, "10", "recall: input neurons per channel (4 channels)", NULL},
      {"rate", ND_OPT_DOUBLE, &a.rate, "0.2", "recall: spike probability per step of an active input neuron", NULL},
      {"steps", ND_OPT_INT64, &a.steps, "50", "recall: minibatches per epoch", NULL},
      {"pixels", ND_OPT_INT64, &a.pixels, "28", "smnist: pixels per step (28: row by row, 1: pixel by pixel)", NULL},
      {"score-steps", ND_OPT_INT64, &a.score_steps, "1", "smnist: the label is scored at the last N steps", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "10", "epochs", NULL},
      {"val-batches", ND_OPT_INT64, &a.val_batches, "8", "recall: validation minibatches after each epoch, test minibatches after the last (fixed streams)", NULL},
      ND_OPT_DATA(&a.data),
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options]",
                        "Trains a recurrent spiking network (LIF/ALIF, or a plain leaky RNN) by surrogate-gradient BPTT "
                        "or by e-prop on store-and-recall or sequential MNIST (row by row, or pixel by pixel). Writes "
                        "config.json, metrics.jsonl and checkpoint.safetensors (resumable) into --out (default runs/snn). "
                        "smnist: choose settings on --validation N, the test set is scored once at the end. docs/spiking.md.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, "val-batches", NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  rc = 0;
  if (!a.common.out) a.common.out = "runs/snn";
  if (a.epochs < 1) rc = nd_cli_cmd_fail(CMD, 2, "--epochs %lld: need >= 1", (long long)a.epochs);
  if (!rc && (a.val_batches < 1 || a.val_batches > 1000000))
    rc = nd_cli_cmd_fail(CMD, 2, "--val-batches %lld: need 1..1000000", (long long)a.val_batches);
  if (!rc && a.stop_after < 0) rc = nd_cli_cmd_fail(CMD, 2, "--stop-after %lld: need >= 0", (long long)a.stop_after);
  if (!rc && a.checkpoint_every < 0)
    rc = nd_cli_cmd_fail(CMD, 2, "--checkpoint-every %lld: need >= 0", (long long)a.checkpoint_every);
  nd_snn_learn_config c;
  nd_snn_task task;
  nd_status s = rc ? ND_OK : make_config(&a, &task, &c);
  if (s != ND_OK) rc = nd_run_setting_fail(CMD, &spec, s);
  if (!rc) rc = run_snn(&a, &c, &task, &run);
  nd_args_release(&args);
  return rc;
}
