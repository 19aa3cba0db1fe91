/* neurodyn train mlp (mlp_train.h): the harness every credit-assignment
 * method shares.  One data pipeline (--dataset, --validation), the library's
 * nd_mlp with `method` in its config (saved in mlp.safetensors), an optimizer
 * with a cosine schedule, metrics.jsonl with val_acc every epoch and the
 * angle of each layer's update to the true gradient, test_acc once at the
 * end, checkpoints with the optimizer state for an exact --resume. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "commands.h"
#include "mlp_train.h"
#include "progress.h"
#include "supervised.h"

static const char *const optimizers[] = {"adam", "sgd", "rmsprop", NULL};
static const nd_optim_kind optimizer_kinds[] = {ND_OPTIM_ADAM, ND_OPTIM_SGD, ND_OPTIM_RMSPROP};
static const char *const activations[] = {"relu", "tanh", "sigmoid", "leaky-relu", "relu-pow", "identity", NULL};
static const char *const losses[] = {"cross-entropy", "abs-power", NULL};

typedef struct mlp_run {
  nd_cli_mlp_args *a;
  nd_cli_supervised sup; /* optimizer, stream, position, errors */
  nd_mlp *mlp;
  const nd_dataset *tr, *val, *te;
  double angles[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV];
} mlp_run;

static int on_batch(const nd_progress_info *info, void *user) {
  nd_cli_supervised *s = user;
  if (s->progress) s->progress(&(nd_progress_info){s->epoch, info->done, info->total}, s->progress_user);
  return 0;
}

static nd_status mlp_train_epoch(void *self, nd_rng *rng, double *loss) {
  mlp_run *r = self;
  nd_mlp_set_progress(r->mlp, on_batch, &r->sup);
  return nd_mlp_train_epoch(r->mlp, r->sup.opt, r->tr->images.data, r->tr->labels, r->tr->n, r->a->batch, rng, loss);
}

static const nd_dataset *split_of(mlp_run *r, nd_cli_split split) {
  return split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
}

static nd_status mlp_error(void *self, nd_cli_split split, double *err) {
  mlp_run *r = self;
  const nd_dataset *d = split_of(r, split);
  double acc = 0;
  ND_CLI_TRY(nd_mlp_accuracy(r->mlp, d->images.data, d->labels, d->n, 1000, &acc));
  *err = 1 - acc;
  return ND_OK;
}

/* The angle of each layer's update to the true gradient on the first
 * --angle-rows training images (a fixed batch, so epochs compare). */
static nd_status mlp_extra(void *self, nd_jsonl_field *f, int *n) {
  mlp_run *r = self;
  int64_t rows = r->a->angle_rows < r->tr->n ? r->a->angle_rows : r->tr->n;
  const nd_mlp_config *c = nd_mlp_config_of(r->mlp);
  if (rows < 1 || c->method == ND_CREDIT_BP || c->method == ND_CREDIT_FF) return ND_OK;
  ND_CLI_TRY(nd_mlp_grad_angles(r->mlp, r->tr->images.data, r->tr->labels, rows, r->angles));
  static const char *const keys[] = {"angle_0", "angle_1", "angle_2", "angle_3", "angle_4", "angle_5", "angle_6", "angle_7"};
  for (int l = 0; l < c->n_sizes - 1 && l < 8 && *n < 20; l++) f[(*n)++] = ND_JNUM(keys[l], r->angles[l]);
  static const char *const ckeys[] = {"angle_conv_0", "angle_conv_1", "angle_conv_2", "angle_conv_3"};
  for (int j = 0; j < c->n_conv && *n < 20; j++) f[(*n)++] = ND_JNUM(ckeys[j], r->angles[c->n_sizes - 1 + j]);
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
  if (s == ND_OK && (nd_mlp_config_of(saved)->method != nd_mlp_config_of(r->mlp)->method ||
                     nd_mlp_num_params(saved) != nd_mlp_num_params(r->mlp)))
    s = nd_set_error(ND_ERR_FORMAT, "%s: the network does not match the run's config.json", nd_checkpoint_name(ck));
  for (int i = 0; s == ND_OK && i < nd_mlp_num_params(r->mlp); i++) {
    if (!nd_tensor_same_shape(nd_mlp_param(saved, i), nd_mlp_param(r->mlp, i)))
      s = nd_set_error(ND_ERR_FORMAT, "%s: the network does not match the run's config.json", nd_checkpoint_name(ck));
    else
      s = nd_tensor_copy(nd_mlp_param(r->mlp, i), nd_mlp_param(saved, i));
  }
  nd_mlp_free(saved);
  return s;
}

static nd_status set_up(mlp_run *r) {
  nd_cli_mlp_args *a = r->a;
  nd_mlp_config c = a->model;
  c.seed = (uint64_t)a->common.seed;
  ND_CLI_TRY(nd_mlp_create(&c, &r->mlp));
  nd_optim_config oc = nd_optim_defaults(optimizer_kinds[a->optimizer]);
  oc.lr = (float)a->lr, oc.weight_decay = (float)a->weight_decay;
  if (optimizer_kinds[a->optimizer] != ND_OPTIM_ADAM) oc.momentum = (float)a->momentum;
  ND_CLI_TRY(nd_optim_create(&oc, nd_mlp_num_params(r->mlp), nd_mlp_params(r->mlp), nd_mlp_grads(r->mlp), &r->sup.opt));
  int64_t steps = a->epochs * ((r->tr->n + a->batch - 1) / a->batch);
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = steps > 0 ? steps : 1};
  ND_CLI_TRY(nd_optim_set_schedule(r->sup.opt, &sch));
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static void print_summary(const char *cmd, mlp_run *r, nd_run *run, double seconds) {
  const nd_mlp_config *c = nd_mlp_config_of(r->mlp);
  printf("%s: ", cmd + (strncmp(cmd, "train ", 6) ? 0 : 6));
  for (int j = 0; j < c->n_conv; j++) printf("%sconv%lld", j ? "-" : "", (long long)c->conv_channels[j]);
  if (c->n_conv) printf(" (k%d/s%d) + ", c->conv_kernel, c->conv_stride);
  for (int i = 0; i < c->n_sizes; i++) printf("%s%lld", i ? "-" : "", (long long)c->sizes[i]);
  printf(" %s, %lld epochs: train error %.2f%%", nd_credit_method_name(c->method), (long long)r->a->epochs,
         100 * r->sup.err_train);
  if (r->val) printf(", validation error %.2f%%", 100 * r->sup.err_val);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf(", test error %.2f%% (accuracy %.2f%%), %.1f s, peak memory %.0f MiB\n", 100 * r->sup.err_test,
         100 * (1 - r->sup.err_test), seconds, (double)ru.ru_maxrss / 1024.0);
  printf("model: %s/mlp.safetensors\n", run->dir);
}

static nd_status set_comm(void *model, nd_comm *c, int64_t blocks) { return nd_mlp_set_comm(model, c, blocks); }

int nd_cli_mlp_run(const char *cmd, nd_cli_mlp_args *a, nd_run *run) {
  if (a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(cmd, 2, "--epochs and --batch must be >= 1");
  if (a->checkpoint_every < 0 || a->stop_after < 0 || a->angle_rows < 0)
    return nd_cli_cmd_fail(cmd, 2, "--checkpoint-every, --stop-after and --angle-rows: need >= 0");
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(cmd, &a->data, &tr, &val, &te);
  if (rc) return rc;
  int64_t pixels = tr.images.shape[1], classes = a->model.sizes[a->model.n_sizes - 1];
  if (a->model.sizes[0] == 0) a->model.sizes[0] = pixels;
  if (a->model.sizes[0] != pixels || classes != 10)
    rc = nd_cli_cmd_fail(cmd, 2, "--layers: the network takes %lld inputs and gives %lld classes; the images have %lld "
                         "pixels and 10 classes", (long long)a->model.sizes[0], (long long)classes, (long long)pixels);
  mlp_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = cmd, .file = "mlp.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = mlp_train_epoch, .error = mlp_error,
                              .extra = mlp_extra, .reports_batches = true, .save = mlp_save, .restore = mlp_restore};
  double t0 = nd_cli_now();
  if (!rc) {
    nd_status s = set_up(&r);
    if (s == ND_OK && a->resume) s = nd_cli_supervised_resume(&r.sup, a->resume);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  run->parallel = true; /* bp, fa, dfa, subtask: block gradients summed in order across processes (nd_mlp_set_comm) */
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc) rc = nd_cli_set_grad_blocks(run, a->grad_blocks, r.mlp, set_comm);
  nd_trainer t = nd_cli_supervised_trainer(&r.sup);
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  bool scored = false;
  rc = nd_cli_supervised_finish(&r.sup, run, rc, &scored);
  if (scored) print_summary(cmd, &r, run, nd_cli_now() - t0);
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_mlp_free(r.mlp);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_mlp(int argc, char **argv) {
  const char *cmd = "train mlp";
  nd_cli_mlp_args a;
  memset(&a, 0, sizeof a);
  const char *layers = NULL;
  int method = 0, act = 0, loss = 0;
  double act_param = 0, loss_power = 6, beta = 1, ff_theta = 0, dtp_eta = 0.1, dtp_sigma = 0.36, am_mu = 0.003,
         am_lr = 0.3;
  int64_t am_steps = 5, sub_layers = 2, conv_kernel = 5, conv_stride = 2;
  const char *conv = NULL;
  bool bias = true, conditioned = true;
  const nd_option table[] = {
      {"method", ND_OPT_CHOICE, &method, "bp", "credit assignment: bp, fa, dfa, dni, ff, dtp, am, subtask (docs/credit.md)",
       nd_credit_method_names()},
      {"layers", ND_OPT_STRING, &layers, "784,1000,1000,10", "layer sizes, input first", NULL},
      {"conv", ND_OPT_STRING, &conv, NULL, "conv layers before the dense ones: output channels, e.g. 32,64 (bp, fa, dfa)", NULL},
      {"conv-kernel", ND_OPT_INT64, &conv_kernel, "5", "conv kernel side k (padding k/2)", NULL},
      {"conv-stride", ND_OPT_INT64, &conv_stride, "2", "conv stride", NULL},
      {"activation", ND_OPT_CHOICE, &act, "relu", "hidden activation", activations},
      {"act-param", ND_OPT_DOUBLE, &act_param, "0", "leaky-relu slope or relu-pow power", NULL},
      {"loss", ND_OPT_CHOICE, &loss, "cross-entropy", "cross-entropy, or abs-power (tanh read-out, sum |c-t|^m)", losses},
      {"loss-power", ND_OPT_DOUBLE, &loss_power, "6", "m of the abs-power loss", NULL},
      {"beta", ND_OPT_DOUBLE, &beta, "1", "read-out gain of the abs-power loss, c = tanh(beta z)", NULL},
      {"bias", ND_OPT_BOOL, &bias, "true", "biases on every layer", NULL},
      {"ff-theta", ND_OPT_DOUBLE, &ff_theta, "0", "ff: goodness threshold theta (0: the layer's unit count)", NULL},
      {"dni-conditioned", ND_OPT_BOOL, &conditioned, "true", "dni: synthetic gradient M(h, y) (cDNI) rather than M(h)", NULL},
      {"dtp-target-lr", ND_OPT_DOUBLE, &dtp_eta, "0.1", "dtp: eta of the top target h - eta dl/dh (per example)", NULL},
      {"dtp-noise", ND_OPT_DOUBLE, &dtp_sigma, "0.36", "dtp: sigma of the noise the inverses are trained on", NULL},
      {"am-mu", ND_OPT_DOUBLE, &am_mu, "0.003", "am: mu, weight of the code-to-layer penalty", NULL},
      {"am-code-lr", ND_OPT_DOUBLE, &am_lr, "0.3", "am: learning rate of the codes' Nesterov steps", NULL},
      {"am-code-steps", ND_OPT_INT64, &am_steps, "5", "am: code steps per layer and minibatch", NULL},
      {"subtask-layers", ND_OPT_INT64, &sub_layers, "2", "subtask: layers per block, from the input", NULL},
      {"optimizer", ND_OPT_CHOICE, &a.optimizer, "adam", "adam, sgd or rmsprop", optimizers},
      {"momentum", ND_OPT_DOUBLE, &a.momentum, "0.9", "sgd / rmsprop momentum", NULL},
      {"weight-decay", ND_OPT_DOUBLE, &a.weight_decay, "0", "L2 weight decay", NULL},
      {"angle-rows", ND_OPT_INT64, &a.angle_rows, "1000", "training images for the per-layer angle to the true gradient (0: none)", NULL},
      ND_OPT_MLP_TRAINING(&a, "20"),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train mlp", "[options]",
                        "A dense network trained with the chosen credit-assignment method (docs/credit.md): "
                        "bp back-propagation, fa feedback alignment, dfa direct feedback alignment, dni synthetic "
                        "gradients, ff forward-forward, dtp difference target propagation, am alternating "
                        "minimisation, subtask block-local losses against learned label representatives. Writes mlp.safetensors, metrics.jsonl and config.json into "
                        "--out (default runs/mlp).",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, cmd, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/mlp";
  a.model = nd_mlp_defaults(0, NULL);
  nd_status s = nd_mlp_parse_sizes(layers, &a.model);
  if (s != ND_OK) {
    rc = nd_cli_cmd_fail(cmd, 2, "--layers: %s", nd_last_error());
  } else if (nd_mlp_parse_conv(conv, &a.model) != ND_OK) {
    rc = nd_cli_cmd_fail(cmd, 2, "--conv: %s", nd_last_error());
  } else {
    a.model.method = (nd_credit_method)method, a.model.activation = (nd_activation)act, a.model.act_param = (float)act_param;
    a.model.loss = (nd_mlp_loss_kind)loss, a.model.loss_power = (float)loss_power, a.model.out_scale = (float)beta;
    a.model.bias = bias, a.model.ff_theta = (float)ff_theta, a.model.dni_conditioned = conditioned;
    a.model.dtp_target_lr = (float)dtp_eta, a.model.dtp_noise = (float)dtp_sigma, a.model.am_mu = (float)am_mu;
    a.model.am_code_lr = (float)am_lr;
    a.model.am_code_steps = (int)am_steps, a.model.subtask_layers = (int)sub_layers;
    a.model.conv_kernel = conv_kernel >= 1 && conv_kernel <= 15 ? (int)conv_kernel : 0;
    a.model.conv_stride = conv_stride >= 1 && conv_stride <= 4 ? (int)conv_stride : 0;
    if (am_steps < 0 || am_steps > 1000) {
      rc = nd_cli_cmd_fail(cmd, 2, "--am-code-steps: %lld, need 0..1000", (long long)am_steps);
    } else if (sub_layers < 1 || sub_layers > ND_MLP_MAX_LAYERS) {
      rc = nd_cli_cmd_fail(cmd, 2, "--subtask-layers: %lld, need 1..%d", (long long)sub_layers, ND_MLP_MAX_LAYERS);
    } else {
      s = nd_mlp_config_check(&a.model);
      rc = s != ND_OK ? nd_run_setting_fail(cmd, &spec, s) : nd_cli_mlp_run(cmd, &a, &run);
    }
  }
  nd_args_release(&args);
  return rc;
}
