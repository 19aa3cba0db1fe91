/* neurodyn train deq: a deep equilibrium classifier (Bai, Kolter & Koltun
 * 2019) on MNIST or Fashion-MNIST: the image x, the equilibrium
 * z* = tanh(W z* + U x + b) of the library's DEQ layer (include/neurodyn/deq.h:
 * Anderson forward, implicit-differentiation backward) and a linear readout
 * of z* to 10 logits, trained by Adam on softmax cross-entropy.  On the
 * supervised run driver (supervised.h): progress, metrics.jsonl (error, the
 * forward and backward solver iterations and residuals, the solver's memory
 * against what storing every iterate would take, peak RSS), resumable
 * checkpoints (deq.safetensors), the test error once at the end. */
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
#include "neurodyn/deq.h"

#define CMD "train deq"
static const char *const solvers[] = {"anderson", "broyden", NULL};
#define EVAL_B 200

typedef struct deq_args {
  const char *resume;
  int anderson_m, solver;
  int64_t hidden, max_iter, epochs, batch, epoch_size, eval_train, checkpoint_every, stop_after, grad_blocks;
  double tol, init_scale, lr, jac_reg;
  nd_cli_dataopts data;
  nd_cli_common common;
} deq_args;

/* Solver figures summed over the solves of an epoch (or an evaluation). */
typedef struct solve_stats {
  int64_t solves, iters, unconverged;
  double residual_max;
} solve_stats;

typedef struct deq_run {
  const deq_args *a;
  nd_cli_supervised sup;
  nd_deq *deq;
  nd_cli_dense head;
  nd_tensor tp, tg;            /* views of the DEQ layer's parameters and gradient */
  const nd_dataset *tr, *val, *te;
  nd_sampler sampler;
  float *xb, *z, *logits, *dlogits, *dz, *eps;
  int32_t *yb;
  solve_stats fwd, bwd, eval;  /* this epoch's training solves; the last evaluation's */
  double jac_sum;              /* this epoch's Jacobian estimates R, summed */
} deq_run;

static void count(solve_stats *s, const nd_fixed_point_result *r) {
  s->solves++, s->iters += r->iterations, s->unconverged += r->stop != ND_STOP_TOLERANCE;
  if (r->residual > s->residual_max) s->residual_max = r->residual;
}

static double mean_iters(const solve_stats *s) { return s->solves ? (double)s->iters / (double)s->solves : NAN; }

/* One minibatch: forward solve, readout, loss, readout backward, implicit
 * backward, and with --jac-reg the Jacobian penalty (eps from the run's stream). */
static nd_status step(void *self, nd_rng *rng, const float *x, const int32_t *y, int64_t B, double *loss) {
  deq_run *r = self;
  int64_t wrong;
  nd_fixed_point_result fr, br;
  ND_CLI_TRY(nd_deq_forward(r->deq, x, B, r->z, &fr));
  count(&r->fwd, &fr);
  nd_cli_dense_forward(&r->head, r->z, B, r->logits);
  ND_CLI_TRY(nd_cli_ce_wrong(r->logits, y, B, 10, loss, r->dlogits, &wrong));
  nd_cli_dense_backward(&r->head, r->z, B, r->dlogits, r->dz);
  ND_CLI_TRY(nd_deq_backward(r->deq, x, B, r->dz, NULL, &br));
  count(&r->bwd, &br);
  double R = 0;
  if (r->a->jac_reg > 0) {
    ND_CLI_TRY(nd_rng_normal(rng, r->eps, B * r->a->hidden, 0, 1));
    ND_CLI_TRY(nd_deq_jacobian_reg(r->deq, x, B, r->eps, r->a->jac_reg, &R));
  }
  r->jac_sum += R;
  return ND_OK;
}

static nd_status deq_epoch(void *self, nd_rng *rng, double *mean_loss) {
  deq_run *r = self;
  memset(&r->fwd, 0, sizeof r->fwd), memset(&r->bwd, 0, sizeof r->bwd);
  r->jac_sum = 0;
  return nd_cli_supervised_minibatches(&r->sup, &r->sampler, r->tr, r->a->batch, r->a->epoch_size, rng, r->xb, r->yb, step,
                                       mean_loss);
}

static nd_status deq_error(void *self, nd_cli_split split, double *err) {
  deq_run *r = self;
  const nd_dataset *ds = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  int64_t n = ds->n, d = ds->images.shape[1], wrong = 0;
  if (split == ND_CLI_TRAIN && r->a->eval_train > 0 && r->a->eval_train < n) n = r->a->eval_train;
  memset(&r->eval, 0, sizeof r->eval);
  for (int64_t i = 0; i < n; i += EVAL_B) {
    int64_t B = n - i < EVAL_B ? n - i : EVAL_B, w;
    nd_fixed_point_result fr;
    double loss;
    ND_CLI_TRY(nd_deq_forward(r->deq, ds->images.data + i * d, B, r->z, &fr));
    count(&r->eval, &fr);
    nd_cli_dense_forward(&r->head, r->z, B, r->logits);
    ND_CLI_TRY(nd_cli_ce_wrong(r->logits, ds->labels + i, B, 10, &loss, NULL, &w));
    wrong += w;
  }
  *err = n ? (double)wrong / (double)n : NAN;
  return ND_OK;
}

static nd_status deq_extra(void *self, nd_jsonl_field *f, int *n) {
  deq_run *r = self;
  int64_t bn = r->a->batch * r->a->hidden;
  f[(*n)++] = ND_JNUM("fwd_iters", mean_iters(&r->fwd));
  f[(*n)++] = ND_JNUM("bwd_iters", mean_iters(&r->bwd));
  f[(*n)++] = ND_JNUM("fwd_residual_max", r->fwd.residual_max);
  f[(*n)++] = ND_JNUM("bwd_residual_max", r->bwd.residual_max);
  f[(*n)++] = ND_JINT("fwd_unconverged", r->fwd.unconverged);
  f[(*n)++] = ND_JINT("bwd_unconverged", r->bwd.unconverged);
  f[(*n)++] = ND_JNUM("eval_fwd_iters", mean_iters(&r->eval));
  if (r->a->jac_reg > 0) f[(*n)++] = ND_JNUM("jac_frob", r->fwd.solves ? r->jac_sum / (double)r->fwd.solves : NAN);
  /* the layer keeps z*, u, s and the solver's window (Anderson 3 + 2m, Broyden
   * 4 + 2m buffers of B n floats); unrolled differentiation would keep every
   * forward iterate */
  f[(*n)++] = ND_JINT("solver_state_bytes", (int64_t)((3 + (r->a->solver == 1) + 2 * r->a->anderson_m) * bn * 4));
  f[(*n)++] = ND_JINT("unrolled_bytes", (int64_t)(mean_iters(&r->fwd) * (double)bn * 4));
  f[(*n)++] = ND_JINT("peak_rss_kib", nd_cli_peak_rss_kib());
  return ND_OK;
}

static nd_status deq_save(void *self, nd_checkpoint *ck) {
  deq_run *r = self;
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "model", "deq-classifier"));
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data)));
  ND_CLI_TRY(nd_checkpoint_put_tensor(ck, "deq", &r->tp));
  return nd_checkpoint_put_tensor(ck, "readout", &r->head.tp);
}

static nd_status deq_restore(void *self, const nd_checkpoint *ck) {
  deq_run *r = self;
  ND_CLI_TRY(nd_checkpoint_expect_model(ck, "deq-classifier"));
  ND_CLI_TRY(nd_cli_restore_tensor(ck, "deq", &r->tp));
  return nd_cli_restore_tensor(ck, "readout", &r->head.tp);
}

static nd_status make_config(const deq_args *a, nd_deq_config *c) {
  *c = nd_deq_defaults();
  c->inputs = 784, c->hidden = a->hidden, c->batch_max = a->batch > EVAL_B ? a->batch : EVAL_B;
  c->anderson_m = a->anderson_m, c->solver = (nd_deq_solver)a->solver, c->tol = a->tol, c->max_iter = a->max_iter, c->init_scale = a->init_scale;
  c->accept_unconverged = true, c->seed = (uint64_t)a->common.seed;
  return nd_deq_config_check(c);
}

static nd_status set_up(deq_run *r, const nd_deq_config *c) {
  const deq_args *a = r->a;
  if (r->tr->images.shape[1] != c->inputs)
    return nd_set_error(ND_ERR_SHAPE, "the data set has %lld pixels per image, expected 784", (long long)r->tr->images.shape[1]);
  ND_CLI_TRY(nd_deq_create(c, &r->deq));
  int64_t np = nd_deq_num_params(r->deq);
  r->tp = nd_tensor_wrap(nd_deq_params(r->deq), 1, ND_SHAPE(np));
  r->tg = nd_tensor_wrap((float *)nd_deq_grad(r->deq), 1, ND_SHAPE(np));
  nd_rng init;
  nd_rng_init(&init, (uint64_t)a->common.seed);
  init = nd_rng_split(&init, 7);
  ND_CLI_TRY(nd_cli_dense_init(&r->head, a->hidden, 10, &init));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  nd_tensor *pp[2] = {&r->tp, &r->head.tp}, *gg[2] = {&r->tg, &r->head.tg};
  ND_CLI_TRY(nd_optim_create(&oc, 2, pp, gg, &r->sup.opt));
  int64_t B = c->batch_max, n = a->hidden;
  r->xb = malloc(sizeof(float) * (size_t)(B * 784)), r->z = malloc(sizeof(float) * (size_t)(B * n));
  r->dz = malloc(sizeof(float) * (size_t)(B * n)), r->eps = malloc(sizeof(float) * (size_t)(B * n));
  r->logits = malloc(sizeof(float) * (size_t)(B * 10)), r->dlogits = malloc(sizeof(float) * (size_t)(B * 10));
  r->yb = malloc(sizeof(int32_t) * (size_t)B);
  if (!r->xb || !r->z || !r->dz || !r->eps || !r->logits || !r->dlogits || !r->yb) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static int run_train(deq_args *a, const nd_opts *spec, nd_run *run) {
  if (nd_cli_supervised_check_flags(CMD, a->epochs, a->batch, a->lr, a->epoch_size, a->eval_train)) return 2;
  if (!(a->jac_reg >= 0 && a->jac_reg < 1e6)) return nd_cli_cmd_fail(CMD, 2, "--jac-reg %g: need >= 0", a->jac_reg);
  nd_deq_config c;
  nd_status s = make_config(a, &c);
  if (s != ND_OK) return nd_run_setting_fail(CMD, spec, s);
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(CMD, &a->data, &tr, &val, &te);
  if (rc) return rc;
  deq_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = CMD, .file = "deq.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = deq_epoch, .error = deq_error,
                              .extra = deq_extra, .save = deq_save, .restore = deq_restore, .reports_batches = true,
                              .grads = {&r.tg, &r.head.tg}, .n_grads = 2, .grad_blocks = a->grad_blocks};
  double t0 = nd_cli_now();
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  bool scored = false;
  rc = nd_cli_supervised_run(&r.sup, run, set_up(&r, &c), a->resume, a->common.out, a->data.file_list, &lim, &scored);
  if (scored) {
    printf("deq: hidden %lld, %s m = %d, tol %g: train error %.2f%%", (long long)a->hidden, solvers[a->solver], a->anderson_m, a->tol,
           100 * r.sup.err_train);
    if (r.val) printf(", validation error %.2f%%", 100 * r.sup.err_val);
    printf(", test error %.2f%%; iterations per solve: forward %.1f, backward %.1f (last epoch), test forward %.1f; "
           "peak RSS %ld KiB; %.1f s\n",
           100 * r.sup.err_test, mean_iters(&r.fwd), mean_iters(&r.bwd), mean_iters(&r.eval), nd_cli_peak_rss_kib(),
           nd_cli_now() - t0);
  }
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_deq_free(r.deq);
  nd_cli_dense_release(&r.head);
  nd_sampler_release(&r.sampler);
  free(r.xb), free(r.z), free(r.dz), free(r.eps), free(r.logits), free(r.dlogits), free(r.yb);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_deq(int argc, char **argv) {
  deq_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"hidden", ND_OPT_INT64, &a.hidden, "64", "units of the equilibrium state z*", NULL},
      {"solver", ND_OPT_CHOICE, &a.solver, "anderson", "both solves: anderson (Anderson acceleration) or broyden (Broyden's good method)", solvers},
      {"anderson-m", ND_OPT_INT, &a.anderson_m, "5", "Anderson window of both solves (0: plain fixed-point iteration); broyden: its memory (1..64)", NULL},
      {"tol", ND_OPT_DOUBLE, &a.tol, "0.0001", "relative-change tolerance of the forward and backward solves (> 0)", NULL},
      {"max-iter", ND_OPT_INT64, &a.max_iter, "50", "iterations per solve; a solve that spends them is counted (fwd_unconverged)", NULL},
      {"init-scale", ND_OPT_DOUBLE, &a.init_scale, "0.5", "W ~ N(0, s^2/hidden): s < 1 starts contractive", NULL},
      {"jac-reg", ND_OPT_DOUBLE, &a.jac_reg, "0", "Jacobian regularisation weight gamma (Bai et al. 2021): gamma ||eps^T J_f||^2/n, Hutchinson (0: off)", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "5", "epochs", NULL},
      {"epoch-size", ND_OPT_INT64, &a.epoch_size, "0", "training images per epoch, a fresh random subset each (0: all)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "64", "minibatch size", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.001", "Adam learning rate", NULL},
      {"eval-train", ND_OPT_INT64, &a.eval_train, "2000", "training images the per-epoch train error uses (0: all)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write deq.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train deq", "[options]",
                        "Trains a deep equilibrium classifier (z* = tanh(W z* + U x + b) solved by Anderson "
                        "acceleration, gradients by implicit differentiation: memory independent of the iteration "
                        "count; linear readout of z*) on MNIST or Fashion-MNIST. Writes deq.safetensors, "
                        "metrics.jsonl (error, solver iterations and residuals, memory) and config.json into --out "
                        "(default runs/deq) and prints the test error. docs/deq.md.",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/deq";
  rc = a.checkpoint_every < 0 || a.stop_after < 0 ? nd_cli_cmd_fail(CMD, 2, "--checkpoint-every and --stop-after: need >= 0")
                                                  : run_train(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}
