/* neurodyn train revnet: the bijective classifier (include/neurodyn/revnet.h)
 * on MNIST or Fashion-MNIST: additive coupling blocks on the 784 pixels, the
 * first 10 output dimensions read as logits, the other 774 "dummy"
 * dimensions unconstrained; trained by Adam with activations reconstructed
 * from the output (or, --store, kept: ordinary backprop of the same
 * network).  On the supervised run driver (supervised.h): progress,
 * metrics.jsonl (error, the activation bytes of a training minibatch, the
 * input's reconstruction error, peak RSS), resumable checkpoints
 * (revnet.safetensors), the test error once at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "dense.h"
#include "progress.h"
#include "run.h"
#include "supervised.h"
#include "neurodyn/revnet.h"

#define CMD "train revnet"
#define EVAL_B 200

typedef struct rv_args {
  const char *resume;
  bool store;
  int64_t hidden, layers, epochs, batch, epoch_size, eval_train, checkpoint_every, stop_after, grad_blocks;
  double lr;
  nd_cli_dataopts data;
  nd_cli_common common;
} rv_args;

typedef struct rv_run {
  const rv_args *a;
  nd_cli_supervised sup;
  nd_revnet *m;
  nd_tensor tp, tg;
  const nd_dataset *tr, *val, *te;
  nd_sampler sampler;
  float *xb, *logits;
  int32_t *yb;
  double recon_max;
} rv_run;

static nd_status rv_step(void *self, nd_rng *rng, const float *x, const int32_t *y, int64_t B, double *loss) {
  rv_run *r = self;
  int64_t wrong;
  (void)rng;
  ND_CLI_TRY(nd_revnet_loss_grad(r->m, x, y, B, loss, &wrong));
  r->recon_max = fmax(r->recon_max, nd_revnet_reconstruction_error(r->m));
  return ND_OK;
}

static nd_status rv_epoch(void *self, nd_rng *rng, double *mean_loss) {
  rv_run *r = self;
  r->recon_max = 0;
  return nd_cli_supervised_minibatches(&r->sup, &r->sampler, r->tr, r->a->batch, r->a->epoch_size, rng, r->xb, r->yb, rv_step,
                                       mean_loss);
}

static nd_status rv_error(void *self, nd_cli_split split, double *err) {
  rv_run *r = self;
  const nd_dataset *ds = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  int64_t n = ds->n, d = ds->images.shape[1], wrong = 0;
  if (split == ND_CLI_TRAIN && r->a->eval_train > 0 && r->a->eval_train < n) n = r->a->eval_train;
  for (int64_t i = 0; i < n; i += EVAL_B) {
    int64_t B = n - i < EVAL_B ? n - i : EVAL_B, w;
    double loss;
    ND_CLI_TRY(nd_revnet_predict(r->m, ds->images.data + i * d, B, r->logits));
    ND_CLI_TRY(nd_cli_ce_wrong(r->logits, ds->labels + i, B, 10, &loss, NULL, &w));
    wrong += w;
  }
  *err = n ? (double)wrong / (double)n : NAN;
  return ND_OK;
}

static nd_status rv_extra(void *self, nd_jsonl_field *f, int *n) {
  rv_run *r = self;
  f[(*n)++] = ND_JINT("activation_bytes", (int64_t)nd_revnet_activation_bytes(r->m));
  f[(*n)++] = ND_JNUM("reconstruction_error", r->recon_max);
  f[(*n)++] = ND_JINT("peak_rss_kib", nd_cli_peak_rss_kib());
  return ND_OK;
}

static nd_status rv_save(void *self, nd_checkpoint *ck) {
  rv_run *r = self;
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "model", "revnet"));
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data)));
  return nd_checkpoint_put_tensor(ck, "params", &r->tp);
}

static nd_status rv_restore(void *self, const nd_checkpoint *ck) {
  rv_run *r = self;
  ND_CLI_TRY(nd_checkpoint_expect_model(ck, "revnet"));
  return nd_cli_restore_tensor(ck, "params", &r->tp);
}

static nd_status make_config(const rv_args *a, nd_revnet_config *c) {
  *c = nd_revnet_defaults();
  c->inputs = 784, c->hidden = a->hidden, c->layers = a->layers, c->classes = 10, c->store = a->store;
  c->batch_max = a->batch > EVAL_B ? a->batch : EVAL_B, c->seed = (uint64_t)a->common.seed;
  return nd_revnet_config_check(c);
}

static nd_status set_up(rv_run *r, const nd_revnet_config *c) {
  if (r->tr->images.shape[1] != 784)
    return nd_set_error(ND_ERR_SHAPE, "the data set has %lld pixels per image, expected 784", (long long)r->tr->images.shape[1]);
  ND_CLI_TRY(nd_revnet_create(c, &r->m));
  int64_t np = nd_revnet_num_params(r->m), B = c->batch_max;
  r->tp = nd_tensor_wrap(nd_revnet_params(r->m), 1, ND_SHAPE(np));
  r->tg = nd_tensor_wrap(nd_revnet_grad(r->m), 1, ND_SHAPE(np));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)r->a->lr;
  nd_tensor *pp[1] = {&r->tp}, *gg[1] = {&r->tg};
  ND_CLI_TRY(nd_optim_create(&oc, 1, pp, gg, &r->sup.opt));
  r->xb = malloc(sizeof(float) * (size_t)(B * 784)), r->logits = malloc(sizeof(float) * (size_t)(B * 10));
  r->yb = malloc(sizeof(int32_t) * (size_t)B);
  if (!r->xb || !r->logits || !r->yb) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_rng_init(&r->sup.rng, (uint64_t)r->a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static int run_train(rv_args *a, const nd_opts *spec, nd_run *run) {
  if (nd_cli_supervised_check_flags(CMD, a->epochs, a->batch, a->lr, a->epoch_size, a->eval_train)) return 2;
  nd_revnet_config c;
  nd_status s = make_config(a, &c);
  if (s != ND_OK) return nd_run_setting_fail(CMD, spec, s);
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(CMD, &a->data, &tr, &val, &te);
  if (rc) return rc;
  rv_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = CMD, .file = "revnet.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = rv_epoch, .error = rv_error,
                              .extra = rv_extra, .save = rv_save, .restore = rv_restore, .reports_batches = true,
                              .grads = {&r.tg}, .n_grads = 1, .grad_blocks = a->grad_blocks};
  double t0 = nd_cli_now();
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  bool scored = false;
  rc = nd_cli_supervised_run(&r.sup, run, set_up(&r, &c), a->resume, a->common.out, a->data.file_list, &lim, &scored);
  if (scored)
    printf("revnet: %lld blocks, hidden %lld, %s: train error %.2f%%, test error %.2f%%; activation bytes %zu; peak RSS %ld KiB; %.1f s\n",
           (long long)a->layers, (long long)a->hidden, a->store ? "stored activations" : "reconstructed", 100 * r.sup.err_train,
           100 * r.sup.err_test, nd_revnet_activation_bytes(r.m), nd_cli_peak_rss_kib(), nd_cli_now() - t0);
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_revnet_free(r.m);
  nd_sampler_release(&r.sampler);
  free(r.xb), free(r.logits), free(r.yb);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_revnet(int argc, char **argv) {
  rv_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"layers", ND_OPT_INT64, &a.layers, "4", "additive coupling blocks (each: y1 = x1 + F(x2), y2 = x2 + G(y1))", NULL},
      {"hidden", ND_OPT_INT64, &a.hidden, "64", "hidden width of F and G (F(u) = V tanh(W u + b) + c)", NULL},
      {"store", ND_OPT_BOOL, &a.store, "false", "keep every block's input (ordinary backprop) instead of reconstructing it", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "5", "epochs", NULL},
      {"epoch-size", ND_OPT_INT64, &a.epoch_size, "0", "training images per epoch, a fresh random subset each (0: all)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "64", "minibatch size", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.001", "Adam learning rate", NULL},
      {"eval-train", ND_OPT_INT64, &a.eval_train, "2000", "training images the per-epoch train error uses (0: all)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write revnet.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train revnet", "[options]",
                        "Trains a bijective classifier (additive coupling blocks on the 784 pixels; the first 10 "
                        "output dimensions are the logits, the rest dummy dimensions) with activations reconstructed "
                        "from the output, O(1) memory in depth (--store: kept, ordinary backprop). Writes "
                        "revnet.safetensors, metrics.jsonl and config.json into --out (default runs/revnet). "
                        "docs/memory.md.",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/revnet";
  rc = a.checkpoint_every < 0 || a.stop_after < 0 ? nd_cli_cmd_fail(CMD, 2, "--checkpoint-every and --stop-after: need >= 0")
                                                  : run_train(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}
