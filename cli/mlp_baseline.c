/* neurodyn train mlp-baseline: the Krotov-Hopfield architecture (784 ->
 * hidden with max(x,0)^n -> 10, c = tanh(beta z), loss sum |c - t|^m, no
 * biases) with both layers trained end to end by backprop
 * (include/neurodyn/mlp.h), on the run driver.  Writes config.json,
 * metrics.jsonl and mlp.safetensors (model mlp, what `neurodyn eval`
 * scores). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"

typedef struct mlp_args {
  double n, m, beta, lr, lr_final;
  int64_t hidden, epochs, batch, checkpoint_every, stop_after;
  const char *resume;
  nd_cli_dataopts data;
  nd_cli_common common;
} mlp_args;

typedef struct mlp_run {
  const mlp_args *a;
  nd_cli_supervised sup; /* optimizer, stream, position, errors */
  nd_mlp *mlp;
  const nd_dataset *tr, *val, *te;
} mlp_run;

static nd_status mlp_train_epoch(void *self, nd_rng *rng, double *loss) {
  mlp_run *r = self;
  return nd_mlp_train_epoch(r->mlp, r->sup.opt, r->tr->images.data, r->tr->labels, r->tr->n, r->a->batch, rng, loss);
}

static nd_status mlp_error(void *self, nd_cli_split split, double *err) {
  mlp_run *r = self;
  const nd_dataset *d = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  double acc = 0;
  ND_CLI_TRY(nd_mlp_accuracy(r->mlp, d->images.data, d->labels, d->n, 1000, &acc));
  *err = 1 - acc;
  return ND_OK;
}

static nd_status mlp_save(void *self, nd_checkpoint *ck) {
  mlp_run *r = self;
  ND_CLI_TRY(nd_mlp_save(r->mlp, ck));
  return nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
}

/* The parameters from a checkpoint of this run. */
static nd_status mlp_restore(void *self, const nd_checkpoint *ck) {
  mlp_run *r = self;
  nd_mlp *saved = NULL;
  nd_status s = nd_mlp_load(ck, &saved);
  for (int i = 0; s == ND_OK && i < nd_mlp_num_params(r->mlp); i++) {
    if (i >= nd_mlp_num_params(saved) || !nd_tensor_same_shape(nd_mlp_param(saved, i), nd_mlp_param(r->mlp, i)))
      s = nd_set_error(ND_ERR_FORMAT, "%s: the network does not match the run's config.json", nd_checkpoint_name(ck));
    else
      s = nd_tensor_copy(nd_mlp_param(r->mlp, i), nd_mlp_param(saved, i));
  }
  nd_mlp_free(saved);
  return s;
}

static nd_status set_up(mlp_run *r) {
  const mlp_args *a = r->a;
  int64_t sizes[3] = {r->tr->images.shape[1], a->hidden, 10};
  nd_mlp_config c = nd_mlp_defaults(3, sizes);
  c.activation = ND_ACT_RELU_POW, c.act_param = (float)a->n;
  c.loss = ND_MLP_LOSS_ABS_POWER, c.loss_power = (float)a->m, c.out_scale = (float)a->beta;
  c.bias = false, c.seed = (uint64_t)a->common.seed;
  ND_CLI_TRY(nd_mlp_create(&c, &r->mlp));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  ND_CLI_TRY(nd_optim_create(&oc, nd_mlp_num_params(r->mlp), nd_mlp_params(r->mlp), nd_mlp_grads(r->mlp), &r->sup.opt));
  int64_t steps = a->epochs * ((r->tr->n + a->batch - 1) / a->batch);
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = steps > 0 ? steps : 1};
  ND_CLI_TRY(nd_optim_set_schedule(r->sup.opt, &sch));
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static int run_mlp(mlp_args *a, nd_run *run) {
  const char *cmd = "train mlp-baseline";
  if (a->hidden < 1 || a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(cmd, 2, "--hidden, --epochs and --batch must be >= 1");
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(cmd, &a->data, &tr, &val, &te);
  if (rc) return rc;
  mlp_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = cmd, .file = "mlp.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = mlp_train_epoch, .error = mlp_error,
                              .save = mlp_save, .restore = mlp_restore};
  double t0 = nd_cli_now();
  nd_status s = set_up(&r);
  if (s == ND_OK && a->resume) s = nd_cli_supervised_resume(&r.sup, a->resume);
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  nd_trainer t = nd_cli_supervised_trainer(&r.sup);
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  bool scored = false;
  rc = nd_cli_supervised_finish(&r.sup, run, rc, &scored);
  if (scored) {
    printf("mlp-baseline: 784-%lld-10, relu^%g, |c-t|^%g, beta %g, %lld epochs: train error %.2f%%", (long long)a->hidden,
           a->n, a->m, a->beta, (long long)a->epochs, 100 * r.sup.err_train);
    if (r.val) printf(", validation error %.2f%%", 100 * r.sup.err_val);
    printf(", test error %.2f%% (accuracy %.2f%%), %.1f s\n", 100 * r.sup.err_test, 100 * (1 - r.sup.err_test),
           nd_cli_now() - t0);
    printf("model: %s/mlp.safetensors\n", run->dir);
  }
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_mlp_free(r.mlp);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_mlp_baseline(int argc, char **argv) {
  mlp_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"hidden", ND_OPT_INT64, &a.hidden, "2000", "hidden units", NULL},
      {"n", ND_OPT_DOUBLE, &a.n, "4.5", "hidden activation max(x,0)^n", NULL},
      {"m", ND_OPT_DOUBLE, &a.m, "6", "loss exponent, sum |c - t|^m", NULL},
      {"beta", ND_OPT_DOUBLE, &a.beta, "1", "readout gain in c = tanh(beta z)", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "100", "epochs of Adam", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.001", "initial Adam learning rate", NULL},
      {"lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.00001", "learning rate at the end of the cosine anneal", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "10", "write mlp.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train mlp-baseline", "[options]",
                        "Backprop baseline of the Krotov-Hopfield architecture: 784 -> hidden (max(x,0)^n) -> 10, "
                        "c = tanh(beta z), loss sum |c - t|^m, no biases, both layers trained end to end with Adam. "
                        "Writes mlp.safetensors, metrics.jsonl and config.json into --out (default runs/mlp-baseline).",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, "train mlp-baseline", &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/mlp-baseline";
  rc = a.checkpoint_every < 0 || a.stop_after < 0
           ? nd_cli_cmd_fail("train mlp-baseline", 2, "--checkpoint-every and --stop-after: need >= 0")
           : run_mlp(&a, &run);
  nd_args_release(&args);
  return rc;
}

/* `neurodyn eval` of an mlp model (registry.c). */
nd_status nd_cli_predict_mlp(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred) {
  nd_mlp *m = NULL;
  ND_CLI_TRY(nd_mlp_load(ck, &m));
  const nd_mlp_config *c = nd_mlp_config_of(m);
  *classes = c->sizes[c->n_sizes - 1];
  nd_status s = ND_OK;
  if (c->sizes[0] != test->images.shape[1])
    s = nd_set_error(ND_ERR_SHAPE, "%s: the network takes %lld inputs, the test images have %lld pixels",
                     nd_checkpoint_name(ck), (long long)c->sizes[0], (long long)test->images.shape[1]);
  if (s == ND_OK) s = nd_mlp_predict(m, test->images.data, test->n, 1000, pred);
  nd_mlp_free(m);
  return s;
}
