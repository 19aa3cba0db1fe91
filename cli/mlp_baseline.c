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

typedef struct mlp_args {
  double n, m, beta, lr, lr_final;
  int64_t hidden, epochs, batch, checkpoint_every, stop_after;
  const char *resume;
  nd_cli_dataopts data;
  nd_cli_common common;
} mlp_args;

typedef struct mlp_run {
  const mlp_args *a;
  nd_mlp *mlp;
  nd_optim *opt;
  const nd_dataset *tr, *val;
  nd_rng rng;
  int64_t epoch;
  double loss, err_tr, err_val;
} mlp_run;

static nd_status mlp_epoch(void *self, nd_progress_fn progress, void *user) {
  mlp_run *r = self;
  ND_CLI_TRY(nd_mlp_train_epoch(r->mlp, r->opt, r->tr->images.data, r->tr->labels, r->tr->n, r->a->batch, &r->rng, &r->loss));
  r->epoch++;
  if (progress) progress(&(nd_progress_info){r->epoch - 1, 1, 1}, user);
  return ND_OK;
}

static nd_status mlp_state(void *self, nd_train_state *st) {
  mlp_run *r = self;
  *st = (nd_train_state){.epoch = r->epoch, .rng_key = r->rng.key, .rng_counter = r->rng.counter};
  return ND_OK;
}

static nd_status error_of(mlp_run *r, const nd_dataset *d, double *err) {
  double acc = 0;
  ND_CLI_TRY(nd_mlp_accuracy(r->mlp, d->images.data, d->labels, d->n, 1000, &acc));
  *err = 1 - acc;
  return ND_OK;
}

static nd_status mlp_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  mlp_run *r = self;
  (void)run, (void)e;
  ND_CLI_TRY(error_of(r, r->tr, &r->err_tr));
  f[(*n)++] = ND_JNUM("loss", r->loss);
  f[(*n)++] = ND_JNUM("train_error", r->err_tr);
  if (r->val) {
    ND_CLI_TRY(error_of(r, r->val, &r->err_val));
    f[(*n)++] = ND_JNUM("validation_error", r->err_val);
  }
  f[(*n)++] = ND_JNUM("lr", nd_optim_lr(r->opt));
  return ND_OK;
}

static void mlp_figures(void *self, char *buf, size_t len) {
  mlp_run *r = self;
  if (r->val) snprintf(buf, len, "loss=%.4f val_err=%.2f%%", r->loss, 100 * r->err_val);
  else snprintf(buf, len, "loss=%.4f train_err=%.2f%%", r->loss, 100 * r->err_tr);
}

static nd_status mlp_checkpoint(void *self, nd_run *run) {
  mlp_run *r = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "mlp.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_train_state st;
  mlp_state(r, &st);
  nd_status s = nd_mlp_save(r->mlp, ck);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
  if (s == ND_OK) s = nd_checkpoint_put_state(ck, &st); /* with the optimizer: an exact resume */
  if (s == ND_OK) s = nd_optim_save(r->opt, ck);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
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
  ND_CLI_TRY(nd_optim_create(&oc, nd_mlp_num_params(r->mlp), nd_mlp_params(r->mlp), nd_mlp_grads(r->mlp), &r->opt));
  int64_t steps = a->epochs * ((r->tr->n + a->batch - 1) / a->batch);
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = steps > 0 ? steps : 1};
  ND_CLI_TRY(nd_optim_set_schedule(r->opt, &sch));
  nd_rng_init(&r->rng, (uint64_t)a->common.seed);
  r->rng = nd_rng_split(&r->rng, 1);
  return ND_OK;
}

/* --resume: the parameters, the optimizer and the position from
 * DIR/mlp.safetensors. */
static nd_status resume_mlp(mlp_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/mlp.safetensors", r->a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_mlp *saved = NULL;
  nd_train_state st = {0};
  nd_status s = nd_mlp_load(ck, &saved);
  for (int i = 0; s == ND_OK && i < nd_mlp_num_params(r->mlp); i++) {
    if (i >= nd_mlp_num_params(saved) || !nd_tensor_same_shape(nd_mlp_param(saved, i), nd_mlp_param(r->mlp, i)))
      s = nd_set_error(ND_ERR_FORMAT, "%s: the network does not match the run's config.json", path);
    else
      s = nd_tensor_copy(nd_mlp_param(r->mlp, i), nd_mlp_param(saved, i));
  }
  if (s == ND_OK) s = nd_optim_load(r->opt, ck);
  if (s == ND_OK) s = nd_checkpoint_get_state(ck, &st);
  if (s == ND_OK && st.epoch > r->a->epochs)
    s = nd_set_error(ND_ERR_FORMAT, "%s: metadata 'state.epoch' = %lld is past --epochs %lld", path, (long long)st.epoch,
                     (long long)r->a->epochs);
  if (s == ND_OK) r->epoch = st.epoch, r->rng.key = st.rng_key, r->rng.counter = st.rng_counter;
  nd_mlp_free(saved);
  nd_checkpoint_free(ck);
  return s;
}

static int run_mlp(mlp_args *a, nd_run *run) {
  const char *cmd = "train mlp-baseline";
  if (a->hidden < 1 || a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(cmd, 2, "--hidden, --epochs and --batch must be >= 1");
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(cmd, &a->data, &tr, &val, &te);
  if (rc) return rc;
  mlp_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL};
  double t0 = nd_cli_now();
  nd_status s = set_up(&r);
  if (s == ND_OK && a->resume) s = resume_mlp(&r);
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  nd_trainer t = {.self = &r, .epochs = a->epochs, .unit = "epochs", .epoch = mlp_epoch, .state = mlp_state,
                  .after_epoch = mlp_after_epoch, .figures = mlp_figures, .checkpoint = mlp_checkpoint,
                  .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  double err_te = 1;
  bool partial = !rc && r.epoch < a->epochs; /* stopped by --stop-after: the test set waits for the end */
  if (partial)
    fprintf(stderr, "neurodyn train mlp-baseline: %lld of %lld epochs; resume with: neurodyn train mlp-baseline --resume %s\n",
            (long long)r.epoch, (long long)a->epochs, run->dir);
  if (!rc && !partial) {
    s = error_of(&r, &te, &err_te);
    nd_jsonl_field f[3] = {ND_JBOOL("final", true), ND_JINT("epoch", r.epoch), ND_JNUM("test_error", err_te)};
    if (s == ND_OK) s = nd_jsonl_write(run->metrics, 3, f);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  if (!rc && !partial) {
    printf("mlp-baseline: 784-%lld-10, relu^%g, |c-t|^%g, beta %g, %lld epochs: train error %.2f%%", (long long)a->hidden,
           a->n, a->m, a->beta, (long long)a->epochs, 100 * r.err_tr);
    if (r.val) printf(", validation error %.2f%%", 100 * r.err_val);
    printf(", test error %.2f%% (accuracy %.2f%%), %.1f s\n", 100 * err_te, 100 * (1 - err_te), nd_cli_now() - t0);
    printf("model: %s/mlp.safetensors\n", run->dir);
  }
  nd_run_end(run);
  nd_optim_free(r.opt);
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
