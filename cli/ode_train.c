/* neurodyn train ode: neural ODEs trained by the adjoint method (Chen et al.
 * 2018; the library's block include/neurodyn/node.h: dz/dt = tanh(W z + b),
 * Dormand-Prince forward, the adjoint ODE backward with z reconstructed in
 * reverse time, so no trajectory is stored).  Two tasks:
 *
 *   spiral  learn the dynamics of a damped spiral, dy/dt = A y with
 *           A = [[-0.1, 1], [-1, -0.1]] (the linear spiral of Chen et al.'s
 *           demonstration), from --points observations of one trajectory:
 *           minibatches of windows of --window steps starting at random
 *           points, the state z = [y, 0, ..., 0] (n >= 2, the extra
 *           dimensions augment it), squared error of the first two
 *           coordinates at every observation; the adjoint is walked back
 *           window step by window step, adding each observation's dL/dz.
 *           Scored by the mean squared error of the whole trajectory
 *           integrated from its first point: the training trajectory,
 *           a validation trajectory and a test trajectory from other
 *           starting points (the true y(t) = exp(A t) y0, analytic).
 *   mnist   an ODE-block classifier: z(0) = P x + p, the ODE over [0, --t1],
 *           logits = V z(t1) + c, softmax cross-entropy (Chen et al.'s
 *           ODE-Net, with a dense block instead of convolutions).
 *
 * metrics.jsonl reports the function evaluations (NFE) of the forward and
 * backward solves. */
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
#include "neurodyn/node.h"

#define CMD "train ode"
#define EVAL_B 200

enum { TASK_SPIRAL = 0, TASK_MNIST };
static const char *const tasks[] = {"spiral", "mnist", NULL};

typedef struct ode_args {
  const char *resume;
  int task;
  int64_t hidden, points, window, steps, epochs, batch, epoch_size, eval_train, checkpoint_every, stop_after, grad_blocks;
  double rtol, atol, t_end, t1, init_scale, lr;
  nd_cli_dataopts data;
  nd_cli_common common;
} ode_args;

typedef struct nfe_stats {
  int64_t solves, nfe;
} nfe_stats;

typedef struct ode_run {
  const ode_args *a;
  nd_cli_supervised sup;
  nd_node *node;
  nd_cli_dense in, head;       /* mnist: the input map and the readout */
  nd_tensor tp, tg;            /* the ODE's parameters; its gradient (spiral: summed over the window) */
  float *gsum;                 /* spiral: the gradient summed over a window's segments */
  const nd_dataset *tr, *val, *te;
  nd_sampler sampler;
  float *xb, *z, *z0, *dz, *logits, *dlogits, *obs;
  int32_t *yb;
  nfe_stats fwd, bwd, eval;
  double recon_err;            /* spiral: max |reconstructed z(window start) - z| of the last minibatch */
} ode_run;

static void count(nfe_stats *s, const nd_dopri_result *r) { s->solves++, s->nfe += r->rhs_calls; }
static double mean_nfe(const nfe_stats *s) { return s->solves ? (double)s->nfe / (double)s->solves : NAN; }

/* ------------------------------------------------------------------ spiral */

/* The true trajectory y(t) = exp(A t) y0 of the damped spiral at point k. */
static void spiral_at(const double y0[2], double dt, int64_t k, float y[2]) {
  double t = dt * (double)k, e = exp(-0.1 * t), c = cos(t), s = sin(t);
  y[0] = (float)(e * (c * y0[0] + s * y0[1]));
  y[1] = (float)(e * (-s * y0[0] + c * y0[1]));
}

static const double spiral_y0[3][2] = {{0.5, 0}, {-0.35, 0.35}, {0, -0.5}}; /* train, validation, test */

static double spiral_dt(const ode_args *a) { return a->t_end / (double)(a->points - 1); }

/* One minibatch of B windows starting at the points x [B] (whole numbers
 * below 1e7, exact in float; y unused): forward K segments storing dL/dz at
 * each observation (the loss's input, [K, B, n]; not the trajectory), then
 * the adjoint back through each segment with z reconstructed; the gradient
 * of the B windows' mean loss into r->gsum (the optimizer's). */
static nd_status spiral_step(void *self, nd_rng *rng, const float *x, const int32_t *y, int64_t B, double *loss) {
  ode_run *r = self;
  const ode_args *a = r->a;
  (void)rng, (void)y;
  int64_t n = a->hidden, K = a->window, np = nd_node_num_params(r->node);
  double dt = spiral_dt(a), scale = 1.0 / (double)(B * K * 2), sum = 0;
  int64_t start[64];
  for (int64_t b = 0; b < B; b++) start[b] = (int64_t)x[b];
  memset(r->z, 0, sizeof(float) * (size_t)(B * n));
  for (int64_t b = 0; b < B; b++) spiral_at(spiral_y0[0], dt, start[b], r->z + b * n);
  memcpy(r->z0, r->z, sizeof(float) * (size_t)(B * n));
  for (int64_t k = 0; k < K; k++) {
    nd_dopri_result res;
    ND_CLI_TRY(nd_node_forward(r->node, r->z, B, &res));
    count(&r->fwd, &res);
    float *g = r->obs + k * B * n;
    memset(g, 0, sizeof(float) * (size_t)(B * n));
    for (int64_t b = 0; b < B; b++) {
      float y[2];
      spiral_at(spiral_y0[0], dt, start[b] + k + 1, y);
      for (int d = 0; d < 2; d++) {
        double e = r->z[b * n + d] - y[d];
        sum += e * e, g[b * n + d] = (float)(2 * e * scale);
      }
    }
  }
  *loss = sum * scale;
  memset(r->gsum, 0, sizeof(float) * (size_t)np);
  memcpy(r->dz, r->obs + (K - 1) * B * n, sizeof(float) * (size_t)(B * n));
  for (int64_t k = K - 1; k >= 0; k--) {
    nd_dopri_result res;
    ND_CLI_TRY(nd_node_backward(r->node, r->z, r->dz, B, &res));
    count(&r->bwd, &res);
    const float *g = nd_node_grad(r->node);
    for (int64_t i = 0; i < np; i++) r->gsum[i] += g[i];
    if (k > 0)
      for (int64_t i = 0; i < B * n; i++) r->dz[i] += r->obs[(k - 1) * B * n + i];
  }
  r->recon_err = 0;
  for (int64_t i = 0; i < B * n; i++) r->recon_err = fmax(r->recon_err, fabs((double)r->z[i] - r->z0[i]));
  return ND_OK;
}

/* Mean squared error of trajectory `which` integrated from its first point. */
static nd_status spiral_mse(ode_run *r, int which, double *mse) {
  const ode_args *a = r->a;
  int64_t n = a->hidden;
  double dt = spiral_dt(a), sum = 0;
  memset(r->z, 0, sizeof(float) * (size_t)n);
  spiral_at(spiral_y0[which], dt, 0, r->z);
  memset(&r->eval, 0, sizeof r->eval);
  for (int64_t k = 1; k < a->points; k++) {
    nd_dopri_result res;
    ND_CLI_TRY(nd_node_forward(r->node, r->z, 1, &res));
    count(&r->eval, &res);
    float y[2];
    spiral_at(spiral_y0[which], dt, k, y);
    for (int d = 0; d < 2; d++) sum += ((double)r->z[d] - y[d]) * ((double)r->z[d] - y[d]);
  }
  *mse = sum / (double)(2 * (a->points - 1));
  return ND_OK;
}

/* ------------------------------------------------------------------- mnist */

static nd_status mnist_step(void *self, nd_rng *rng, const float *x, const int32_t *y, int64_t B, double *loss) {
  ode_run *r = self;
  (void)rng;
  int64_t wrong;
  nd_dopri_result res;
  nd_cli_dense_forward(&r->in, x, B, r->z);
  ND_CLI_TRY(nd_node_forward(r->node, r->z, B, &res));
  count(&r->fwd, &res);
  nd_cli_dense_forward(&r->head, r->z, B, r->logits);
  ND_CLI_TRY(nd_cli_ce_wrong(r->logits, y, B, 10, loss, r->dlogits, &wrong));
  nd_cli_dense_backward(&r->head, r->z, B, r->dlogits, r->dz);
  ND_CLI_TRY(nd_node_backward(r->node, r->z, r->dz, B, &res)); /* dz -> dL/dz(0) */
  count(&r->bwd, &res);
  nd_cli_dense_backward(&r->in, x, B, r->dz, NULL);
  return ND_OK;
}

static nd_status mnist_error(ode_run *r, const nd_dataset *ds, int64_t n, double *err) {
  int64_t d = ds->images.shape[1], wrong = 0;
  memset(&r->eval, 0, sizeof r->eval);
  for (int64_t i = 0; i < n; i += EVAL_B) {
    int64_t B = n - i < EVAL_B ? n - i : EVAL_B, w;
    nd_dopri_result res;
    double loss;
    nd_cli_dense_forward(&r->in, ds->images.data + i * d, B, r->z);
    ND_CLI_TRY(nd_node_forward(r->node, r->z, B, &res));
    count(&r->eval, &res);
    nd_cli_dense_forward(&r->head, r->z, B, r->logits);
    ND_CLI_TRY(nd_cli_ce_wrong(r->logits, ds->labels + i, B, 10, &loss, NULL, &w));
    wrong += w;
  }
  *err = n ? (double)wrong / (double)n : NAN;
  return ND_OK;
}

/* ---------------------------------------------------------- the trainer */

static nd_status ode_epoch(void *self, nd_rng *rng, double *mean_loss) {
  ode_run *r = self;
  const ode_args *a = r->a;
  memset(&r->fwd, 0, sizeof r->fwd), memset(&r->bwd, 0, sizeof r->bwd);
  if (a->task == TASK_MNIST)
    return nd_cli_supervised_minibatches(&r->sup, &r->sampler, r->tr, a->batch, a->epoch_size, rng, r->xb, r->yb, mnist_step,
                                         mean_loss);
  double sum = 0;
  int64_t done = 0;
  while (done < a->steps) {
    double loss;
    for (int64_t b = 0; b < a->batch; b++) r->xb[b] = (float)(int64_t)(nd_rng_uniform1(rng) * (double)(a->points - a->window));
    ND_CLI_TRY(nd_cli_supervised_grad(&r->sup, spiral_step, rng, r->xb, NULL, 1, a->batch, &loss));
    if (!isfinite(loss)) return nd_set_error(ND_ERR_NUMERIC, "loss is %g at minibatch %lld", loss, (long long)done);
    ND_CLI_TRY(nd_optim_step(r->sup.opt));
    sum += loss, done++;
    if (r->sup.progress && r->sup.progress(&(nd_progress_info){r->sup.epoch, done, a->steps}, r->sup.progress_user)) break;
  }
  *mean_loss = done ? sum / (double)done : NAN;
  return ND_OK;
}

static nd_status ode_error(void *self, nd_cli_split split, double *err) {
  ode_run *r = self;
  if (r->a->task == TASK_SPIRAL) return spiral_mse(r, (int)split, err);
  const nd_dataset *ds = split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
  int64_t n = ds->n;
  if (split == ND_CLI_TRAIN && r->a->eval_train > 0 && r->a->eval_train < n) n = r->a->eval_train;
  return mnist_error(r, ds, n, err);
}

static nd_status ode_extra(void *self, nd_jsonl_field *f, int *n) {
  ode_run *r = self;
  f[(*n)++] = ND_JNUM("fwd_nfe", mean_nfe(&r->fwd)); /* per solve: one segment, or one batch's [0, t1] */
  f[(*n)++] = ND_JNUM("bwd_nfe", mean_nfe(&r->bwd));
  f[(*n)++] = ND_JNUM("eval_fwd_nfe", mean_nfe(&r->eval));
  if (r->a->task == TASK_SPIRAL) {
    double zero = 0, dt = spiral_dt(r->a);
    for (int64_t k = 1; k < r->a->points; k++) {
      float y[2];
      spiral_at(spiral_y0[0], dt, k, y);
      zero += (double)y[0] * y[0] + (double)y[1] * y[1];
    }
    f[(*n)++] = ND_JNUM("zero_baseline_mse", zero / (double)(2 * (r->a->points - 1)));
    f[(*n)++] = ND_JNUM("reconstruction_error", r->recon_err);
  }
  /* the adjoint's augmented state [z, a, a_theta] and DOPRI5's 9 buffers of it */
  int64_t bn = r->a->batch * r->a->hidden, np = nd_node_num_params(r->node);
  f[(*n)++] = ND_JINT("adjoint_state_bytes", (int64_t)(10 * (2 * bn + np) * 4));
  f[(*n)++] = ND_JINT("peak_rss_kib", nd_cli_peak_rss_kib());
  return ND_OK;
}

static nd_status ode_save(void *self, nd_checkpoint *ck) {
  ode_run *r = self;
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "model", "ode"));
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "task", tasks[r->a->task]));
  ND_CLI_TRY(nd_checkpoint_put_tensor(ck, "ode", &r->tp));
  if (r->a->task == TASK_SPIRAL) return ND_OK;
  ND_CLI_TRY(nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data)));
  ND_CLI_TRY(nd_checkpoint_put_tensor(ck, "input", &r->in.tp));
  return nd_checkpoint_put_tensor(ck, "readout", &r->head.tp);
}

static nd_status ode_restore(void *self, const nd_checkpoint *ck) {
  ode_run *r = self;
  ND_CLI_TRY(nd_checkpoint_expect_model(ck, "ode"));
  ND_CLI_TRY(nd_cli_restore_tensor(ck, "ode", &r->tp));
  if (r->a->task == TASK_SPIRAL) return ND_OK;
  ND_CLI_TRY(nd_cli_restore_tensor(ck, "input", &r->in.tp));
  return nd_cli_restore_tensor(ck, "readout", &r->head.tp);
}

static nd_status make_config(const ode_args *a, nd_node_config *c) {
  *c = nd_node_defaults();
  c->hidden = a->hidden, c->rtol = a->rtol, c->atol = a->atol, c->init_scale = a->init_scale;
  c->batch_max = a->task == TASK_MNIST && a->batch < EVAL_B ? EVAL_B : a->batch;
  c->t0 = 0, c->t1 = a->task == TASK_SPIRAL ? spiral_dt(a) : a->t1;
  c->seed = (uint64_t)a->common.seed;
  return nd_node_config_check(c);
}

static nd_status set_up(ode_run *r, const nd_node_config *c) {
  const ode_args *a = r->a;
  ND_CLI_TRY(nd_node_create(c, &r->node));
  int64_t np = nd_node_num_params(r->node), B = c->batch_max, n = a->hidden;
  r->tp = nd_tensor_wrap(nd_node_params(r->node), 1, ND_SHAPE(np));
  r->gsum = malloc(sizeof(float) * (size_t)np);
  r->tg = nd_tensor_wrap(a->task == TASK_SPIRAL ? r->gsum : (float *)nd_node_grad(r->node), 1, ND_SHAPE(np));
  nd_tensor *pp[3] = {&r->tp, &r->in.tp, &r->head.tp}, *gg[3] = {&r->tg, &r->in.tg, &r->head.tg};
  int nt = 1;
  if (a->task == TASK_MNIST) {
    if (r->tr->images.shape[1] != 784)
      return nd_set_error(ND_ERR_SHAPE, "the data set has %lld pixels per image, expected 784", (long long)r->tr->images.shape[1]);
    nd_rng init;
    nd_rng_init(&init, (uint64_t)a->common.seed);
    init = nd_rng_split(&init, 7);
    ND_CLI_TRY(nd_cli_dense_init(&r->in, 784, n, &init));
    ND_CLI_TRY(nd_cli_dense_init(&r->head, n, 10, &init));
    nt = 3;
  }
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  ND_CLI_TRY(nd_optim_create(&oc, nt, pp, gg, &r->sup.opt));
  int64_t K = a->task == TASK_SPIRAL ? a->window : 1;
  r->xb = malloc(sizeof(float) * (size_t)(B * 784)), r->z = malloc(sizeof(float) * (size_t)(B * n));
  r->z0 = malloc(sizeof(float) * (size_t)(B * n)), r->dz = malloc(sizeof(float) * (size_t)(B * n));
  r->obs = malloc(sizeof(float) * (size_t)(K * B * n));
  r->logits = malloc(sizeof(float) * (size_t)(B * 10)), r->dlogits = malloc(sizeof(float) * (size_t)(B * 10));
  r->yb = malloc(sizeof(int32_t) * (size_t)B);
  if (!r->gsum || !r->xb || !r->z || !r->z0 || !r->dz || !r->obs || !r->logits || !r->dlogits || !r->yb)
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_rng_init(&r->sup.rng, (uint64_t)a->common.seed);
  r->sup.rng = nd_rng_split(&r->sup.rng, 1);
  return ND_OK;
}

static void print_summary(const ode_run *r, double t0) {
  const ode_args *a = r->a;
  if (a->task == TASK_SPIRAL)
    printf("ode spiral: hidden %lld, %lld points: trajectory MSE train %.3g, validation %.3g, test %.3g", (long long)a->hidden,
           (long long)a->points, r->sup.err_train, r->sup.err_val, r->sup.err_test);
  else {
    printf("ode mnist: hidden %lld, t1 %g: train error %.2f%%", (long long)a->hidden, a->t1, 100 * r->sup.err_train);
    if (r->val) printf(", validation error %.2f%%", 100 * r->sup.err_val);
    printf(", test error %.2f%%", 100 * r->sup.err_test);
  }
  printf("; NFE per solve: forward %.1f, backward %.1f (last epoch), test forward %.1f; peak RSS %ld KiB; %.1f s\n",
         mean_nfe(&r->fwd), mean_nfe(&r->bwd), mean_nfe(&r->eval), nd_cli_peak_rss_kib(), nd_cli_now() - t0);
}

static int check_args(const ode_args *a) {
  if (nd_cli_supervised_check_flags(CMD, a->epochs, a->batch, a->lr, a->epoch_size, a->eval_train)) return 2;
  if (a->task == TASK_SPIRAL) {
    if (a->hidden < 2) return nd_cli_cmd_fail(CMD, 2, "--hidden %lld: the spiral needs >= 2", (long long)a->hidden);
    if (a->batch > 64) return nd_cli_cmd_fail(CMD, 2, "--batch %lld: the spiral takes 1..64 windows", (long long)a->batch);
    if (a->points < 3 || a->points > 10000000) return nd_cli_cmd_fail(CMD, 2, "--points %lld: need 3..1e7", (long long)a->points);
    if (a->window < 1 || a->window > a->points - 2)
      return nd_cli_cmd_fail(CMD, 2, "--window %lld: need 1..points-2 (%lld)", (long long)a->window, (long long)a->points - 2);
    if (a->steps < 1) return nd_cli_cmd_fail(CMD, 2, "--steps %lld: need >= 1", (long long)a->steps);
    if (!(a->t_end > 0 && a->t_end < 1e6)) return nd_cli_cmd_fail(CMD, 2, "--t-end %g: need > 0", a->t_end);
  } else if (!(a->t1 > 0 && a->t1 < 1e6))
    return nd_cli_cmd_fail(CMD, 2, "--t1 %g: need > 0", a->t1);
  return 0;
}

static int run_train(ode_args *a, const nd_opts *spec, nd_run *run) {
  int rc = check_args(a);
  if (rc) return rc;
  nd_node_config c;
  nd_status s = make_config(a, &c);
  if (s != ND_OK) return nd_run_setting_fail(CMD, spec, s);
  nd_dataset tr, val, te;
  memset(&tr, 0, sizeof tr), memset(&val, 0, sizeof val), memset(&te, 0, sizeof te);
  if (a->task == TASK_MNIST && (rc = nd_cli_data_load(CMD, &a->data, &tr, &val, &te))) return rc;
  ode_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = CMD, .file = "ode.safetensors", .epochs = a->epochs,
                              .has_validation = a->task == TASK_SPIRAL || r.val != NULL, .train_epoch = ode_epoch,
                              .error = ode_error, .measure = a->task == TASK_SPIRAL ? "mse" : NULL, .extra = ode_extra,
                              .save = ode_save, .restore = ode_restore, .reports_batches = true,
                              .grads = {&r.tg, &r.in.tg, &r.head.tg}, .n_grads = a->task == TASK_MNIST ? 3 : 1,
                              .grad_blocks = a->grad_blocks};
  double t0 = nd_cli_now();
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  bool scored = false;
  rc = nd_cli_supervised_run(&r.sup, run, set_up(&r, &c), a->resume, a->common.out, a->task == TASK_MNIST ? a->data.file_list : NULL, &lim, &scored);
  if (scored) print_summary(&r, t0);
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_node_free(r.node);
  nd_cli_dense_release(&r.in), nd_cli_dense_release(&r.head);
  nd_sampler_release(&r.sampler);
  free(r.gsum), free(r.xb), free(r.z), free(r.z0), free(r.dz), free(r.obs), free(r.logits), free(r.dlogits), free(r.yb);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

int nd_cli_train_ode(int argc, char **argv) {
  ode_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"task", ND_OPT_CHOICE, &a.task, "spiral", "spiral (learn a trajectory's dynamics) or mnist (ODE-block classifier)", tasks},
      {"hidden", ND_OPT_INT64, &a.hidden, "0", "state dimension n (0: spiral 2, mnist 64; spiral: 2 observed + n-2 augmented, docs/node.md)", NULL},
      {"rtol", ND_OPT_DOUBLE, &a.rtol, "0.000001", "Dormand-Prince relative tolerance of forward and adjoint solves (> 0)", NULL},
      {"atol", ND_OPT_DOUBLE, &a.atol, "0.00000001", "Dormand-Prince absolute tolerance (> 0)", NULL},
      {"init-scale", ND_OPT_DOUBLE, &a.init_scale, "1", "W ~ N(0, s^2/n)", NULL},
      {"points", ND_OPT_INT64, &a.points, "1000", "spiral: observations of the trajectory", NULL},
      {"t-end", ND_OPT_DOUBLE, &a.t_end, "25", "spiral: the trajectory's time span", NULL},
      {"window", ND_OPT_INT64, &a.window, "10", "spiral: observations per training window", NULL},
      {"steps", ND_OPT_INT64, &a.steps, "50", "spiral: minibatches per epoch", NULL},
      {"t1", ND_OPT_DOUBLE, &a.t1, "1", "mnist: integration time of the ODE block", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "10", "epochs", NULL},
      {"epoch-size", ND_OPT_INT64, &a.epoch_size, "0", "mnist: training images per epoch, a fresh random subset each (0: all)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "20", "minibatch size (spiral: windows, 1..64)", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.001", "Adam learning rate", NULL},
      {"eval-train", ND_OPT_INT64, &a.eval_train, "2000", "mnist: training images the per-epoch train error uses (0: all)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write ode.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train ode", "[options]",
                        "Trains a neural ODE dz/dt = tanh(W z + b) by the adjoint method (Dormand-Prince forward, "
                        "the adjoint ODE backward with the state reconstructed: memory flat in the number of solver "
                        "steps): --task spiral learns a damped spiral's dynamics from one trajectory (scored by "
                        "trajectory MSE on held-out starting points), --task mnist trains an ODE-block classifier. "
                        "Writes ode.safetensors, metrics.jsonl (with function evaluations) and config.json into "
                        "--out (default runs/ode). docs/node.md.",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/ode";
  if (a.hidden == 0) a.hidden = a.task == TASK_SPIRAL ? 2 : 64;
  rc = a.checkpoint_every < 0 || a.stop_after < 0 ? nd_cli_cmd_fail(CMD, 2, "--checkpoint-every and --stop-after: need >= 0")
                                                  : run_train(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}
