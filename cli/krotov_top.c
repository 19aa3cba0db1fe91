/* neurodyn train krotov-top: the supervised top layer of the
 * Krotov-Hopfield network on a frozen hidden layer (Krotov & Hopfield 2019,
 * Eq. 11-12; include/neurodyn/krotov.h part 3), on the run driver.  Writes
 * config.json, metrics.jsonl (loss, train and validation error per epoch;
 * the test error once, at the end) and top.safetensors (model krotov-top,
 * what `neurodyn eval` scores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"

typedef struct top_args {
  const char *features, *resume;
  int optimizer;
  double n, m, beta, lr, lr_final, lr_decay, lebesgue_p, init_std, dropout, weight_decay;
  int64_t epochs, batch, checkpoint_every, stop_after, grad_blocks;
  nd_cli_dataopts data;
  nd_cli_common common;
} top_args;

typedef struct top_run {
  const top_args *a;
  nd_cli_supervised sup;   /* optimizer, stream, position, errors */
  nd_krotov_top *top;
  nd_tensor w;             /* the frozen hidden layer */
  nd_tensor f, fv, ft;     /* features of the training, validation and test images */
  const nd_dataset *tr, *val, *te;
} top_run;

static const char *const optimizers[] = {"adam", "maxnorm", NULL};

static nd_status top_train_epoch(void *self, nd_rng *rng, double *loss) {
  top_run *r = self;
  return nd_krotov_top_train_epoch(r->top, r->sup.opt, &r->f, r->tr->labels, r->a->batch, rng, loss);
}

static nd_status top_error(void *self, nd_cli_split split, double *err) {
  top_run *r = self;
  const nd_tensor *f = split == ND_CLI_TRAIN ? &r->f : split == ND_CLI_VALIDATION ? &r->fv : &r->ft;
  const nd_dataset *d = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  return nd_krotov_top_error(r->top, f, d->labels, err);
}

static nd_status top_save(void *self, nd_checkpoint *ck) {
  top_run *r = self;
  ND_CLI_TRY(nd_krotov_top_save(r->top, &r->w, ck));
  return nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
}

/* S from a checkpoint of this run, whose hidden layer must be the one
 * --features holds. */
static nd_status top_restore(void *self, const nd_checkpoint *ck) {
  top_run *r = self;
  nd_krotov_top *saved = NULL;
  nd_tensor w = {0};
  nd_status s = nd_krotov_top_load(ck, &saved, &w);
  if (s == ND_OK && (!nd_tensor_same_shape(&w, &r->w) ||
                     memcmp(w.data, r->w.data, sizeof(float) * (size_t)nd_tensor_numel(&w)) != 0))
    s = nd_set_error(ND_ERR_FORMAT, "%s: its hidden layer W is not the one in %s", nd_checkpoint_name(ck), r->a->features);
  if (s == ND_OK) s = nd_krotov_top_set_weights(r->top, nd_krotov_top_weights(saved));
  nd_krotov_top_free(saved);
  nd_tensor_release(&w);
  return s;
}

/* Adam (AdamW with a decay), or the DAM notebook's max-normalised momentum
 * with S clipped to [-1, 1] (ND_OPTIM_MAXNORM); a cosine anneal from lr to
 * lr_final over the run, or with --lr-decay lr * decay^epoch. */
static nd_status make_optimizer(top_run *r) {
  const top_args *a = r->a;
  bool maxnorm = a->optimizer == 1;
  if (maxnorm && a->weight_decay > 0) return nd_set_error(ND_ERR_INVALID_ARG, "--weight-decay: only with --optimizer adam");
  nd_optim_config oc = nd_optim_defaults(maxnorm ? ND_OPTIM_MAXNORM : a->weight_decay > 0 ? ND_OPTIM_ADAMW : ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  if (!maxnorm) oc.weight_decay = (float)a->weight_decay;
  nd_tensor *pp[1] = {nd_krotov_top_weights(r->top)}, *gg[1] = {nd_krotov_top_grad(r->top)};
  ND_CLI_TRY(nd_optim_create(&oc, 1, pp, gg, &r->sup.opt));
  int64_t per_epoch = (r->tr->n + a->batch - 1) / a->batch;
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = a->epochs * per_epoch > 0 ? a->epochs * per_epoch : 1};
  if (a->lr_decay > 0)
    sch = (nd_schedule){.kind = ND_SCHED_STEP, .base_lr = (float)a->lr, .step_size = per_epoch, .gamma = (float)a->lr_decay};
  return nd_optim_set_schedule(r->sup.opt, &sch);
}

static nd_krotov_top_config make_config(const top_args *a, int64_t hidden, int64_t classes) {
  nd_krotov_top_config c = nd_krotov_top_defaults(hidden, classes);
  c.n = (float)a->n, c.m = (float)a->m, c.init_std = (float)a->init_std, c.seed = (uint64_t)a->common.seed;
  c.dropout = (float)a->dropout, c.lebesgue_p = (float)a->lebesgue_p;
  c.beta = a->beta != 0 ? (float)a->beta : 1.0f; /* 0: chosen from the features once they exist */
  return c;
}

/* W from --features (safetensors tensor "W", or an NPY file), features of
 * every split (Eq. 11: the hidden layer is frozen), then the model. */
static nd_status set_up(top_run *r) {
  const top_args *a = r->a;
  ND_CLI_TRY(nd_cli_read_weights(a->features, &r->w));
  if (r->w.shape[1] != r->tr->images.shape[1])
    return nd_set_error(ND_ERR_SHAPE, "%s: W is %lldx%lld but the %s images have %lld pixels", a->features,
                        (long long)r->w.shape[0], (long long)r->w.shape[1], nd_cli_data_name(&a->data),
                        (long long)r->tr->images.shape[1]);
  const int64_t d = r->w.shape[1];
  ND_CLI_TRY(nd_krotov_features(&r->w, r->tr->images.data, r->tr->n, d, (float)a->n, (float)a->lebesgue_p, &r->f));
  if (r->val) ND_CLI_TRY(nd_krotov_features(&r->w, r->val->images.data, r->val->n, d, (float)a->n, (float)a->lebesgue_p, &r->fv));
  ND_CLI_TRY(nd_krotov_features(&r->w, r->te->images.data, r->te->n, d, (float)a->n, (float)a->lebesgue_p, &r->ft));
  nd_krotov_top_config c = make_config(a, r->w.shape[0], r->tr->num_classes > 10 ? r->tr->num_classes : 10);
  if (a->beta == 0) c.beta = nd_krotov_top_auto_beta(&r->f);
  ND_CLI_TRY(nd_krotov_top_create(&c, &r->top));
  ND_CLI_TRY(make_optimizer(r));
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static nd_status set_comm(void *model, nd_comm *c, int64_t blocks) { return nd_krotov_top_set_comm(model, c, blocks); }

static int run_top(top_args *a, const nd_opts *spec, nd_run *run) {
  const char *cmd = "train krotov-top";
  if (!a->features || !a->features[0]) return nd_cli_cmd_fail(cmd, 2, "--features FILE is required (W.safetensors from `train krotov`)");
  if (a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(cmd, 2, "--epochs and --batch must be >= 1");
  if (!(a->lr > 0) || a->lr_final < 0) return nd_cli_cmd_fail(cmd, 2, "--lr must be > 0 and --lr-final >= 0");
  if (a->lr_decay < 0 || a->lr_decay > 1) return nd_cli_cmd_fail(cmd, 2, "--lr-decay %g: need 0 (cosine) or 0 < decay <= 1", a->lr_decay);
  if (a->weight_decay < 0) return nd_cli_cmd_fail(cmd, 2, "--weight-decay %g: need >= 0", a->weight_decay);
  if (a->weight_decay > 0 && a->optimizer == 1) return nd_cli_cmd_fail(cmd, 2, "--weight-decay: only with --optimizer adam");
  nd_krotov_top_config c = make_config(a, 1, 10);
  nd_status s = nd_krotov_top_config_check(&c);
  if (s != ND_OK) return nd_run_setting_fail(cmd, spec, s);
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(cmd, &a->data, &tr, &val, &te);
  if (rc) return rc;
  top_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = cmd, .file = "top.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = top_train_epoch, .error = top_error,
                              .save = top_save, .restore = top_restore};
  double t0 = nd_cli_now();
  s = set_up(&r);
  if (s == ND_OK && a->resume) s = nd_cli_supervised_resume(&r.sup, a->resume);
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  double t_feat = nd_cli_now() - t0;
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  run->parallel = true; /* block gradients summed in order across processes (nd_krotov_top_set_comm) */
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc) rc = nd_cli_set_grad_blocks(run, a->grad_blocks, r.top, set_comm);
  nd_trainer t = nd_cli_supervised_trainer(&r.sup);
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  bool scored = false;
  rc = nd_cli_supervised_finish(&r.sup, run, rc, &scored);
  if (scored) {
    const nd_krotov_top_config *c = nd_krotov_top_config_of(r.top);
    printf("krotov-top: hidden %lld, n %g, m %g, beta %.6g, %lld epochs: train error %.2f%%", (long long)c->hidden,
           (double)c->n, (double)c->m, (double)c->beta, (long long)a->epochs, 100 * r.sup.err_train);
    if (r.val) printf(", validation error %.2f%%", 100 * r.sup.err_val);
    printf(", test error %.2f%% (accuracy %.2f%%), features %.1f s, total %.1f s\n", 100 * r.sup.err_test,
           100 * (1 - r.sup.err_test), t_feat, nd_cli_now() - t0);
    printf("model: %s/top.safetensors\n", run->dir);
  }
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_krotov_top_free(r.top);
  nd_tensor_release(&r.w), nd_tensor_release(&r.f), nd_tensor_release(&r.fv), nd_tensor_release(&r.ft);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_krotov_top(int argc, char **argv) {
  top_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"features", ND_OPT_STRING, &a.features, NULL, "frozen hidden weights W [H, 784]: W.safetensors from `train krotov`, or NPY (required)", NULL},
      {"n", ND_OPT_DOUBLE, &a.n, "4.5", "power of the rectified power units f = max(h,0)^n, Eq. 11", NULL},
      {"m", ND_OPT_DOUBLE, &a.m, "6", "loss exponent, sum |c - t|^m, Eq. 12", NULL},
      {"beta", ND_OPT_DOUBLE, &a.beta, "0", "readout gain in tanh(beta f S^T) (0: 1 / mean_b max_mu f)", NULL},
      {"lebesgue-p", ND_OPT_DOUBLE, &a.lebesgue_p, "0", "h from the Eq. 3 metric with this p (0: plain dot product)", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "100", "epochs of Adam", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.01", "initial Adam learning rate", NULL},
      {"lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.0001", "learning rate at the end of the cosine anneal", NULL},
      {"lr-decay", ND_OPT_DOUBLE, &a.lr_decay, "0", "> 0: lr * decay^epoch instead of the cosine (DAM notebook: 0.998)", NULL},
      {"optimizer", ND_OPT_CHOICE, &a.optimizer, "adam", "adam, or maxnorm: the DAM notebook's max-normalised momentum 0.6 with S clipped to [-1, 1]", optimizers},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"init-std", ND_OPT_DOUBLE, &a.init_std, "0.01", "S ~ N(0, init_std^2)", NULL},
      {"dropout", ND_OPT_DOUBLE, &a.dropout, "0", "training-only dropout rate on the features f (not in the paper)", NULL},
      {"weight-decay", ND_OPT_DOUBLE, &a.weight_decay, "0", "decoupled weight decay on S, AdamW (not in the paper)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "10", "write top.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train krotov-top", "--features W.safetensors [options]",
                        "Trains the supervised top layer c = tanh(beta f S^T), f = max(W v, 0)^n, on a frozen hidden "
                        "layer (Krotov & Hopfield 2019, Eq. 11-12); writes top.safetensors, metrics.jsonl and "
                        "config.json into --out (default runs/krotov-top) and prints the test error. Choose "
                        "settings on --validation 10000, then score the test set once.",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, "train krotov-top", &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/krotov-top";
  rc = a.checkpoint_every < 0 || a.stop_after < 0
           ? nd_cli_cmd_fail("train krotov-top", 2, "--checkpoint-every and --stop-after: need >= 0")
           : run_top(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}

/* `neurodyn eval` of a krotov-top model (registry.c): class predictions of
 * the test images. */
nd_status nd_cli_predict_krotov_top(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred) {
  nd_krotov_top *top = NULL;
  nd_tensor w = {0}, f = {0};
  ND_CLI_TRY(nd_krotov_top_load(ck, &top, &w));
  const nd_krotov_top_config *c = nd_krotov_top_config_of(top);
  *classes = c->classes;
  nd_status s = ND_OK;
  if (w.shape[1] != test->images.shape[1])
    s = nd_set_error(ND_ERR_SHAPE, "%s: W has %lld inputs, the test images %lld pixels", nd_checkpoint_name(ck),
                     (long long)w.shape[1], (long long)test->images.shape[1]);
  if (s == ND_OK) s = nd_krotov_features(&w, test->images.data, test->n, w.shape[1], c->n, c->lebesgue_p, &f);
  if (s == ND_OK) s = nd_krotov_top_predict(top, &f, pred);
  nd_tensor_release(&w), nd_tensor_release(&f);
  nd_krotov_top_free(top);
  return s;
}
