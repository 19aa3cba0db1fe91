/* neurodyn train cordsnet: a CordsNet (include/neurodyn/cordsnet.h) trained
 * from scratch by backpropagation through time with upstream's loss
 * (docs/cordsnet.md "Training") and AdamW with gradient-norm clipping, on
 * MNIST or Fashion-MNIST at native resolution, on the run driver: progress,
 * metrics.jsonl (loss, train error on a fixed subset, validation error),
 * resumable checkpoints (cordsnet.safetensors: upstream's tensor names, so
 * `neurodyn run cordsnet --weights` reads it), test error once at the end.
 * Data-parallel under mpirun (docs/distributed.md): each minibatch's fixed
 * --grad-blocks blocks are shared among the processes and their gradients
 * summed in block order (nd_grad_sum_batch), so every rank takes the same
 * AdamW step and the model does not depend on the process count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"
#include "neurodyn/cordsnet.h"

#define CMD "train cordsnet"

typedef struct tr_args {
  const char *resume, *init;
  int depth, steps_spont, steps, ce_steps, post_steps, penalty_steps, truncate, time_checkpoint;
  int64_t width, epochs, batch, epoch_size, eval_train, checkpoint_every, stop_after, grad_blocks;
  double alpha, penalty, lr, lr_final, weight_decay, clip;
  nd_cli_dataopts data;
  nd_cli_common common;
} tr_args;

typedef struct tr_run {
  const tr_args *a;
  nd_cli_supervised sup;
  nd_cordsnet *m;
  nd_cordsnet_train t;
  nd_tensor params, grad;  /* views of the model's flat vectors, for the optimizer */
  const nd_dataset *tr, *val, *te;
  nd_sampler sampler;
  float *xb;
  int32_t *yb;
  int64_t *order;
  double last_norm;
  nd_grad_sum *gsum;       /* data-parallel (or --grad-blocks > 1): the minibatch's blocks; NULL: whole batches */
} tr_run;

/* Block b's part of the minibatch in r->xb, r->yb: w times its mean-loss gradient into its slot. */
static nd_status block_grad(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean) {
  tr_run *r = user;
  int64_t d = r->tr->images.shape[1];
  if (r1 > r0) ND_CLI_TRY(nd_cordsnet_loss_grad(r->m, &r->t, r->xb + r0 * d, r->yb + r0, r1 - r0, mean, NULL));
  return nd_grad_sum_put(r->gsum, b, w, nd_cordsnet_grad(r->m));
}

static nd_status set_comm(void *self, nd_comm *c, int64_t blocks) {
  tr_run *r = self;
  if ((!c || c->size <= 1) && blocks <= 1) return ND_OK;
  return nd_grad_sum_create(c, blocks, nd_cordsnet_num_params(r->m), &r->gsum);
}

static nd_status tr_epoch(void *self, nd_rng *rng, double *mean_loss) {
  tr_run *r = self;
  const tr_args *a = r->a;
  int64_t n = r->tr->n, d = r->tr->images.shape[1];
  ND_CLI_TRY(nd_sampler_begin_from(&r->sampler, n, a->batch, true, rng));
  int64_t per = nd_sampler_batches(&r->sampler, n);
  if (a->epoch_size > 0 && a->epoch_size / a->batch < per) per = a->epoch_size / a->batch;
  if (per < 1) per = 1;
  double sum = 0;
  int64_t done = 0;
  const int64_t *rows;
  int64_t count;
  while (done < per && nd_sampler_next(&r->sampler, &rows, &count)) {
    nd_sampler_gather(r->tr->images.data, d, rows, count, r->xb);
    for (int64_t i = 0; i < count; i++) r->yb[i] = r->tr->labels[rows[i]];
    double loss;
    if (r->gsum) ND_CLI_TRY(nd_grad_sum_batch(r->gsum, count, block_grad, r, nd_cordsnet_grad(r->m), &loss));
    else ND_CLI_TRY(nd_cordsnet_loss_grad(r->m, &r->t, r->xb, r->yb, count, &loss, NULL));
    if (!isfinite(loss)) return nd_set_error(ND_ERR_NUMERIC, "loss is %g at minibatch %lld", loss, (long long)done);
    if (a->clip > 0) ND_CLI_TRY(nd_optim_clip_grad_norm(r->sup.opt, a->clip, &r->last_norm));
    ND_CLI_TRY(nd_optim_step(r->sup.opt));
    nd_cordsnet_weights_changed(r->m);
    sum += loss;
    done++;
    if (r->sup.progress && r->sup.progress(&(nd_progress_info){r->sup.epoch, done, per}, r->sup.progress_user)) break;
  }
  nd_sampler_end(&r->sampler);
  *mean_loss = done ? sum / done : NAN;
  return ND_OK;
}

/* Error of the last-step readout on (a subset of) a split. */
static nd_status tr_error(void *self, nd_cli_split split, double *err) {
  tr_run *r = self;
  const nd_dataset *ds = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  int64_t n = ds->n;
  if (split == ND_CLI_TRAIN && r->a->eval_train > 0 && r->a->eval_train < n) n = r->a->eval_train;
  const int64_t d = ds->images.shape[1], C = nd_cordsnet_config_of(r->m)->classes, B = 200;
  float *logits = malloc(sizeof(float) * (size_t)(B * C));
  if (!logits) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  int64_t wrong = 0;
  nd_status s = ND_OK;
  for (int64_t i = 0; i < n && s == ND_OK; i += B) {
    int64_t c = n - i < B ? n - i : B;
    s = nd_cordsnet_forward(r->m, &r->t.run, ds->images.data + i * d, c, logits);
    for (int64_t b = 0; s == ND_OK && b < c; b++) {
      int64_t k;
      nd_row_argmax(logits + b * C, 1, C, &k);
      wrong += k != ds->labels[i + b];
    }
  }
  free(logits);
  *err = n ? (double)wrong / n : NAN;
  return s;
}

static nd_status tr_extra(void *self, nd_jsonl_field *f, int *n) {
  tr_run *r = self;
  f[(*n)++] = ND_JNUM("grad_norm", r->last_norm);
  f[(*n)++] = ND_JINT("bptt_bytes", (int64_t)nd_cordsnet_bptt_bytes(r->m));
  return ND_OK;
}

static nd_status tr_save(void *self, nd_checkpoint *ck) {
  tr_run *r = self;
  ND_CLI_TRY(nd_cordsnet_put(r->m, ck));
  return nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
}

/* Parameters from a file with upstream's names into the run's model (same shape). */
static nd_status copy_from(tr_run *r, const char *path) {
  nd_cordsnet *src = NULL;
  ND_CLI_TRY(nd_cordsnet_load(path, 0, &src));
  nd_status s = ND_OK;
  if (nd_cordsnet_num_params(src) != nd_cordsnet_num_params(r->m) ||
      nd_cordsnet_config_of(src)->depth != nd_cordsnet_config_of(r->m)->depth ||
      nd_cordsnet_config_of(src)->width != nd_cordsnet_config_of(r->m)->width)
    s = nd_set_error(ND_ERR_SHAPE, "%s: a CordsNet-R%d of width %lld, this run trains R%d of width %lld", path,
                     nd_cordsnet_config_of(src)->depth, (long long)nd_cordsnet_config_of(src)->width,
                     nd_cordsnet_config_of(r->m)->depth, (long long)nd_cordsnet_config_of(r->m)->width);
  if (s == ND_OK) {
    memcpy(nd_cordsnet_params(r->m), nd_cordsnet_params(src), sizeof(float) * (size_t)nd_cordsnet_num_params(src));
    nd_cordsnet_weights_changed(r->m);
  }
  nd_cordsnet_free(src);
  return s;
}

static nd_status tr_restore(void *self, const nd_checkpoint *ck) {
  return copy_from(self, nd_checkpoint_name(ck));
}

static nd_status set_up(tr_run *r) {
  const tr_args *a = r->a;
  nd_cordsnet_config c = nd_cordsnet_defaults();
  c.layout = ND_CORDSNET_NATIVE;
  c.depth = a->depth, c.width = a->width, c.in_channels = 1;
  c.in_h = r->tr->rows, c.in_w = r->tr->cols;
  c.classes = r->tr->num_classes > 10 ? r->tr->num_classes : 10;
  ND_CLI_TRY(nd_cordsnet_create(&c, (uint64_t)a->common.seed, &r->m));
  if (a->init) ND_CLI_TRY(copy_from(r, a->init));
  int64_t np = nd_cordsnet_num_params(r->m);
  r->params = nd_tensor_wrap(nd_cordsnet_params(r->m), 1, ND_SHAPE(np));
  r->grad = nd_tensor_wrap(nd_cordsnet_grad(r->m), 1, ND_SHAPE(np));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAMW);
  oc.lr = (float)a->lr;
  oc.weight_decay = (float)a->weight_decay;
  nd_tensor *pp[1] = {&r->params}, *gg[1] = {&r->grad};
  ND_CLI_TRY(nd_optim_create(&oc, 1, pp, gg, &r->sup.opt));
  int64_t per = r->tr->n / a->batch;
  if (a->epoch_size > 0 && a->epoch_size / a->batch < per) per = a->epoch_size / a->batch;
  if (per < 1) per = 1;
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = a->epochs * per};
  ND_CLI_TRY(nd_optim_set_schedule(r->sup.opt, &sch));
  r->xb = malloc(sizeof(float) * (size_t)(a->batch * r->tr->images.shape[1]));
  r->yb = malloc(sizeof(int32_t) * (size_t)a->batch);
  if (!r->xb || !r->yb) return nd_set_error(ND_ERR_NOMEM, "out of memory for a minibatch");
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static int run_train(tr_args *a, const nd_opts *spec, nd_run *run) {
  if (a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(CMD, 2, "--epochs and --batch must be >= 1");
  if (!(a->lr > 0) || a->lr_final < 0 || a->weight_decay < 0 || a->clip < 0)
    return nd_cli_cmd_fail(CMD, 2, "--lr must be > 0; --lr-final, --weight-decay and --clip >= 0");
  if (a->epoch_size < 0 || a->eval_train < 0) return nd_cli_cmd_fail(CMD, 2, "--epoch-size and --eval-train: need >= 0");
  nd_cordsnet_config c = nd_cordsnet_defaults();
  c.layout = ND_CORDSNET_NATIVE, c.depth = a->depth, c.width = a->width, c.in_channels = 1, c.classes = 10;
  c.in_h = c.in_w = 28;
  nd_status s = nd_cordsnet_config_check(&c);
  if (s != ND_OK) return nd_run_setting_fail(CMD, spec, s);
  tr_run r0 = {.a = a};
  r0.t = nd_cordsnet_train_defaults();
  r0.t.run.steps_spont = a->steps_spont, r0.t.run.steps = a->steps, r0.t.run.alpha = (float)a->alpha;
  r0.t.ce_steps = a->ce_steps, r0.t.post_steps = a->post_steps, r0.t.penalty_steps = a->penalty_steps;
  r0.t.penalty = (float)a->penalty, r0.t.truncate = a->truncate, r0.t.checkpoint_every = a->time_checkpoint;
  if (a->steps < 1 || a->steps_spont < 0 || !(a->alpha > 0 && a->alpha <= 1))
    return nd_cli_cmd_fail(CMD, 2, "--steps %d --steps-spont %d --alpha %g: need >= 1, >= 0, 0 < alpha <= 1", a->steps,
                           a->steps_spont, a->alpha);
  if (a->ce_steps < 1 || a->ce_steps > a->steps)
    return nd_cli_cmd_fail(CMD, 2, "--ce-steps %d: need 1..--steps (%d)", a->ce_steps, a->steps);
  if (a->post_steps < 0 || (a->post_steps > 0 && (a->penalty_steps < 1 || a->penalty_steps > a->post_steps)))
    return nd_cli_cmd_fail(CMD, 2, "--post-steps %d --penalty-steps %d: need >= 0 and 1..post-steps", a->post_steps,
                           a->penalty_steps);
  if (a->truncate < 0 || a->time_checkpoint < 0 || a->penalty < 0)
    return nd_cli_cmd_fail(CMD, 2, "--truncate, --time-checkpoint and --penalty: need >= 0");
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(CMD, &a->data, &tr, &val, &te);
  if (rc) return rc;
  tr_run r = r0;
  r.tr = &tr, r.val = a->data.validation > 0 ? &val : NULL, r.te = &te;
  r.sup = (nd_cli_supervised){.self = &r, .cmd = CMD, .file = "cordsnet.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = tr_epoch, .error = tr_error,
                              .extra = tr_extra, .save = tr_save, .restore = tr_restore, .reports_batches = true};
  double t0 = nd_cli_now();
  s = set_up(&r);
  if (s == ND_OK && a->resume) s = nd_cli_supervised_resume(&r.sup, a->resume);
  if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  run->parallel = true; /* block gradients summed in order across processes (set_comm) */
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc) rc = nd_cli_set_grad_blocks(run, a->grad_blocks, &r, set_comm);
  nd_trainer t = nd_cli_supervised_trainer(&r.sup);
  t.unit = "batches";
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  bool scored = false;
  rc = nd_cli_supervised_finish(&r.sup, run, rc, &scored);
  if (scored) {
    printf("cordsnet: R%d width %lld, %d+%d steps, %lld epochs: train error %.2f%%", a->depth, (long long)a->width,
           a->steps_spont, a->steps, (long long)a->epochs, 100 * r.sup.err_train);
    if (r.val) printf(", validation error %.2f%%", 100 * r.sup.err_val);
    printf(", test error %.2f%% (accuracy %.2f%%), %.1f s\n", 100 * r.sup.err_test, 100 * (1 - r.sup.err_test),
           nd_cli_now() - t0);
    printf("model: %s/cordsnet.safetensors\n", run->dir);
  }
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_grad_sum_free(r.gsum);
  nd_cordsnet_free(r.m);
  nd_sampler_release(&r.sampler);
  free(r.xb), free(r.yb);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_cordsnet(int argc, char **argv) {
  tr_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"depth", ND_OPT_INT, &a.depth, "4", "areas: 2, 4, 6 or 8", NULL},
      {"width", ND_OPT_INT64, &a.width, "16", "base width w: channels w,w,2w,2w,4w,4w,8w,8w", NULL},
      {"steps-spont", ND_OPT_INT, &a.steps_spont, "10", "zero-input steps first, no gradient (upstream 100)", NULL},
      {"steps", ND_OPT_INT, &a.steps, "10", "steps with the image (upstream 100)", NULL},
      {"alpha", ND_OPT_DOUBLE, &a.alpha, "0.2", "dt / tau", NULL},
      {"ce-steps", ND_OPT_INT, &a.ce_steps, "5", "readouts scored at the last N stimulus steps, logspace(-3,0,N) ramp (upstream 30)", NULL},
      {"post-steps", ND_OPT_INT, &a.post_steps, "5", "zero-input steps after the image (upstream 100; 0: no penalty)", NULL},
      {"penalty-steps", ND_OPT_INT, &a.penalty_steps, "2", "last post steps of the activity penalty (upstream 10)", NULL},
      {"penalty", ND_OPT_DOUBLE, &a.penalty, "0.001", "weight of the return-to-baseline penalty (upstream 1e-3)", NULL},
      {"truncate", ND_OPT_INT, &a.truncate, "0", "backpropagate through the last N steps only (0: all)", NULL},
      {"time-checkpoint", ND_OPT_INT, &a.time_checkpoint, "0", "gradient checkpointing: keep every K-th state (0: sqrt(steps); 1: keep all)", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "10", "epochs", NULL},
      {"epoch-size", ND_OPT_INT64, &a.epoch_size, "0", "training images per epoch, a fresh random subset each (0: all)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "32", "minibatch size", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.002", "AdamW learning rate (cosine to --lr-final)", NULL},
      {"lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.00005", "learning rate at the end", NULL},
      {"weight-decay", ND_OPT_DOUBLE, &a.weight_decay, "0.0001", "AdamW decoupled weight decay", NULL},
      {"clip", ND_OPT_DOUBLE, &a.clip, "1", "clip the gradient's global norm (0: off; upstream 1e-4 at lr 1e-5)", NULL},
      {"eval-train", ND_OPT_INT64, &a.eval_train, "2000", "training images the per-epoch train error uses (0: all)", NULL},
      {"init", ND_OPT_STRING, &a.init, NULL, "start from these weights (.safetensors, upstream's names)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write cordsnet.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train cordsnet", "[options]",
                        "Trains a native-resolution CordsNet (28x28 input) by BPTT through every step with "
                        "upstream's loss; writes cordsnet.safetensors (upstream's names: `neurodyn run cordsnet "
                        "--weights` reads it), metrics.jsonl and config.json into --out (default runs/cordsnet) and "
                        "prints the test error. Choose settings on --validation 10000, then score the test set once.",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/cordsnet";
  rc = a.checkpoint_every < 0 || a.stop_after < 0 ? nd_cli_cmd_fail(CMD, 2, "--checkpoint-every and --stop-after: need >= 0")
                                                  : run_train(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}
