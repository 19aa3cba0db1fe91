/* neurodyn train grid3d: the grid model (include/neurodyn/grid3d.h,
 * docs/grid3d.md) on MNIST / Fashion-MNIST on the run driver: the data
 * options and training flags of `train mlp`, metrics.jsonl with val_acc,
 * the active-node fraction, the allocated nodes and parameters and the time
 * per minibatch every epoch, test_acc once at the end, grid3d.safetensors
 * with the read-out optimizer and every node's Adam moments and growth
 * counters for an exact --resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "commands.h"
#include "mlp_train.h"
#include "progress.h"
#include "record_cli.h"
#include "supervised.h"

typedef struct grid_args {
  nd_grid3d_config model;
  double lr, lr_final;
  int64_t epochs, batch, checkpoint_every, stop_after, grad_blocks;
  const char *resume;
  nd_cli_record record;
  nd_cli_dataopts data;
  nd_cli_common common;
} grid_args;

typedef struct grid_run {
  grid_args *a;
  nd_cli_supervised sup;
  nd_grid3d *m;
  const nd_dataset *tr, *val, *te;
  nd_grid3d_stats st;   /* the last epoch's counters */
  double epoch_seconds;
  int64_t epoch_batches;
  nd_record_stream *rec_activity, *rec_allocated; /* --record: per epoch */
} grid_run;

/* --record: node i's activity on an image is the norm of its final state
 * ||h_i||_2 (0 for an inactive node). */
#define REC_PROBE 16 /* training images averaged per epoch frame */
#define REC_EVAL 64  /* test images, one frame each, at the end */

static nd_status node_norms(grid_run *r, const float *x, int64_t rows, float *norms) {
  int64_t n = nd_grid3d_num_nodes(r->m), dim = nd_grid3d_config_of(r->m)->dim;
  float *st = malloc(sizeof(float) * (size_t)(rows * n * dim));
  if (!st) return nd_set_error(ND_ERR_NOMEM, "out of memory for the recorded states");
  nd_status s = nd_grid3d_states(r->m, x, rows, st, NULL);
  for (int64_t k = 0; s == ND_OK && k < rows * n; k++) {
    double q = 0;
    for (int64_t d = 0; d < dim; d++) q += (double)st[k * dim + d] * st[k * dim + d];
    norms[k] = (float)sqrt(q);
  }
  free(st);
  return s;
}

static nd_status node_positions(grid_run *r, float **pos) {
  int64_t n = nd_grid3d_num_nodes(r->m);
  *pos = malloc(sizeof(float) * (size_t)(3 * n));
  if (!*pos) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) ND_CLI_TRY(nd_grid3d_node_info(r->m, i, *pos + 3 * i, NULL, NULL));
  return ND_OK;
}

/* The epoch frames of epoch e (0: before training): the mean activity over
 * the first training images, and which nodes are allocated. */
static nd_status record_epoch(grid_run *r, int64_t e) {
  if (!r->rec_activity || !nd_cli_record_due(&r->a->record, e)) return ND_OK;
  int64_t n = nd_grid3d_num_nodes(r->m), rows = r->tr->n < REC_PROBE ? r->tr->n : REC_PROBE;
  float *norms = malloc(sizeof(float) * (size_t)(n * (rows + 1)));
  if (!norms) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  float *mean = norms + rows * n;
  nd_status s = node_norms(r, r->tr->images.data, rows, norms);
  for (int64_t i = 0; s == ND_OK && i < n; i++) {
    double acc = 0;
    for (int64_t k = 0; k < rows; k++) acc += norms[k * n + i];
    mean[i] = (float)(acc / (double)rows);
  }
  if (s == ND_OK) s = nd_recorder_push(r->rec_activity, mean);
  for (int64_t i = 0; s == ND_OK && i < n; i++) mean[i] = nd_grid3d_node_allocated(r->m, i) ? 1.0f : 0.0f;
  if (s == ND_OK) s = nd_recorder_push(r->rec_allocated, mean);
  if (s == ND_OK) s = nd_cli_record_flush(&r->a->record);
  free(norms);
  return s;
}

/* After nd_run_begin: the epoch streams (continued on --resume). */
static nd_status record_begin(grid_run *r, nd_run *run) {
  nd_cli_record *rc = &r->a->record;
  if (!rc->on) return ND_OK;
  ND_CLI_TRY(nd_cli_record_open(rc, run->dir, run->resumed));
  float *pos = NULL;
  nd_status s = node_positions(r, &pos);
  int64_t n = nd_grid3d_num_nodes(r->m);
  const char *lab = "{\"model\": \"grid3d\", \"value\": \"mean ||h_i|| over the first 16 training images\"}";
  if (s == ND_OK) s = nd_cli_record_grid(rc, "activity", n, pos, "epoch", 1, lab, &r->rec_activity);
  lab = "{\"model\": \"grid3d\", \"value\": \"1: node allocated (sparse growth)\"}";
  if (s == ND_OK) s = nd_cli_record_grid(rc, "allocated", n, pos, "epoch", 1, lab, &r->rec_allocated);
  free(pos);
  if (s == ND_OK && !run->resumed) s = record_epoch(r, 0);
  return s;
}

/* At the end: ||h_i|| of every node on each of the first test images. */
static nd_status record_eval(grid_run *r) {
  nd_cli_record *rc = &r->a->record;
  if (!rc->rec) return ND_OK;
  int64_t n = nd_grid3d_num_nodes(r->m), rows = r->te->n < REC_EVAL ? r->te->n : REC_EVAL;
  float *pos = NULL, *norms = malloc(sizeof(float) * (size_t)(rows * n));
  nd_record_stream *st = NULL;
  nd_status s = norms ? node_positions(r, &pos) : nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_record_stream_spec spec = nd_record_stream_defaults("eval", ND_RECORD_GRID3D, 1, &n);
  spec.positions = pos;
  spec.labels_json = "{\"model\": \"grid3d\", \"value\": \"||h_i|| on test image t\", \"split\": \"test\"}";
  if (s == ND_OK) s = nd_recorder_stream(rc->rec, &spec, &st);
  if (s == ND_OK) s = node_norms(r, r->te->images.data, rows, norms);
  for (int64_t k = 0; s == ND_OK && k < rows; k++) s = nd_recorder_push(st, norms + k * n);
  free(pos), free(norms);
  return s;
}

static int on_batch(const nd_progress_info *info, void *user) {
  nd_cli_supervised *s = user;
  if (s->progress) s->progress(&(nd_progress_info){s->epoch, info->done, info->total}, s->progress_user);
  return 0;
}

static nd_status grid_train_epoch(void *self, nd_rng *rng, double *loss) {
  grid_run *r = self;
  nd_grid3d_set_progress(r->m, on_batch, &r->sup);
  nd_grid3d_reset_stats(r->m);
  double t0 = nd_cli_now();
  nd_status s = nd_grid3d_train_epoch(r->m, r->sup.opt, r->tr->images.data, r->tr->labels, r->tr->n, r->a->batch, rng, loss);
  r->epoch_seconds = nd_cli_now() - t0;
  r->epoch_batches = (r->tr->n + r->a->batch - 1) / r->a->batch;
  r->st = nd_grid3d_get_stats(r->m);
  return s;
}

static const nd_dataset *split_of(grid_run *r, nd_cli_split split) {
  return split == ND_CLI_TRAIN ? r->tr : split == ND_CLI_VALIDATION ? r->val : r->te;
}

static nd_status grid_error(void *self, nd_cli_split split, double *err) {
  grid_run *r = self;
  const nd_dataset *d = split_of(r, split);
  double acc = 0;
  ND_CLI_TRY(nd_grid3d_accuracy(r->m, d->images.data, d->labels, d->n, 500, &acc));
  *err = 1 - acc;
  return ND_OK;
}

/* The cost figures of the epoch just trained. */
static nd_status grid_extra(void *self, nd_jsonl_field *f, int *n) {
  grid_run *r = self;
  double frac = r->st.node_slots ? (double)r->st.node_evals / (double)r->st.node_slots : 0;
  f[(*n)++] = ND_JNUM("active_fraction", frac);
  f[(*n)++] = ND_JINT("allocated_nodes", nd_grid3d_num_allocated(r->m));
  f[(*n)++] = ND_JINT("params", nd_grid3d_param_count(r->m));
  f[(*n)++] = ND_JINT("births", r->st.births);
  f[(*n)++] = ND_JINT("deaths", r->st.deaths);
  f[(*n)++] = ND_JNUM("ms_per_batch", r->epoch_batches ? 1e3 * r->epoch_seconds / (double)r->epoch_batches : 0);
  return record_epoch(r, r->sup.epoch);
}

static nd_status grid_save(void *self, nd_checkpoint *ck) {
  grid_run *r = self;
  ND_CLI_TRY(nd_grid3d_save(r->m, ck));
  return nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
}

static nd_status make_optim(grid_run *r);

/* The model from a checkpoint of this run; the read-out optimizer is made
 * again over its read-out (nd_cli_supervised_resume then loads its state). */
static nd_status grid_restore(void *self, const nd_checkpoint *ck) {
  grid_run *r = self;
  nd_grid3d *saved = NULL;
  ND_CLI_TRY(nd_grid3d_load(ck, &saved));
  if (nd_grid3d_num_nodes(saved) != nd_grid3d_num_nodes(r->m) ||
      nd_grid3d_param_count_dense(saved) != nd_grid3d_param_count_dense(r->m) ||
      nd_grid3d_config_of(saved)->method != nd_grid3d_config_of(r->m)->method) {
    nd_grid3d_free(saved);
    return nd_set_error(ND_ERR_FORMAT, "%s: the grid does not match the run's config.json", nd_checkpoint_name(ck));
  }
  nd_grid3d_free(r->m);
  r->m = saved;
  return make_optim(r);
}

static nd_status set_up(grid_run *r) {
  grid_args *a = r->a;
  nd_grid3d_config c = a->model;
  c.seed = (uint64_t)a->common.seed;
  c.in_h = r->tr->rows, c.in_w = r->tr->cols;
  ND_CLI_TRY(nd_grid3d_create(&c, &r->m));
  return ND_OK;
}

static nd_status make_optim(grid_run *r) {
  grid_args *a = r->a;
  nd_optim_free(r->sup.opt);
  r->sup.opt = NULL;
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  ND_CLI_TRY(nd_optim_create(&oc, 2, nd_grid3d_readout_params(r->m), nd_grid3d_readout_grads(r->m), &r->sup.opt));
  int64_t steps = a->epochs * ((r->tr->n + a->batch - 1) / a->batch);
  nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                     .total_steps = steps > 0 ? steps : 1};
  return nd_optim_set_schedule(r->sup.opt, &sch);
}

static void print_summary(const char *cmd, grid_run *r, nd_run *run, double seconds) {
  const nd_grid3d_config *c = nd_grid3d_config_of(r->m);
  printf("%s: %lld nodes in %d groups, dim %lld, %s, %lld epochs: train error %.2f%%", cmd + 6,
         (long long)nd_grid3d_num_nodes(r->m), nd_grid3d_num_groups(r->m), (long long)c->dim,
         nd_credit_method_name(c->method), (long long)r->a->epochs, 100 * r->sup.err_train);
  if (r->val) printf(", validation error %.2f%%", 100 * r->sup.err_val);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf(", test error %.2f%% (accuracy %.2f%%), %lld of %lld parameters allocated, %.1f s, peak memory %.0f MiB\n",
         100 * r->sup.err_test, 100 * (1 - r->sup.err_test), (long long)nd_grid3d_param_count(r->m),
         (long long)nd_grid3d_param_count_dense(r->m), seconds, (double)ru.ru_maxrss / 1024.0);
  printf("model: %s/grid3d.safetensors\n", run->dir);
}

static int grid_run_all(const char *cmd, grid_args *a, nd_run *run) {
  if (a->epochs < 1 || a->batch < 1) return nd_cli_cmd_fail(cmd, 2, "--epochs and --batch must be >= 1");
  if (a->checkpoint_every < 0 || a->stop_after < 0)
    return nd_cli_cmd_fail(cmd, 2, "--checkpoint-every and --stop-after: need >= 0");
  if (nd_cli_record_check(&a->record) != ND_OK) return nd_cli_cmd_fail(cmd, 2, "%s", nd_last_error());
  if (a->grad_blocks != 0) return nd_cli_cmd_fail(cmd, 2, "--grad-blocks: grid3d trains in one process (need 0)");
  nd_dataset tr, val, te;
  int rc = nd_cli_data_load(cmd, &a->data, &tr, &val, &te);
  if (rc) return rc;
  grid_run r = {.a = a, .tr = &tr, .val = a->data.validation > 0 ? &val : NULL, .te = &te};
  r.sup = (nd_cli_supervised){.self = &r, .cmd = cmd, .file = "grid3d.safetensors", .epochs = a->epochs,
                              .has_validation = r.val != NULL, .train_epoch = grid_train_epoch, .error = grid_error,
                              .extra = grid_extra, .reports_batches = true, .save = grid_save, .restore = grid_restore};
  if (a->model.classes != tr.num_classes && tr.num_classes > a->model.classes)
    rc = nd_cli_cmd_fail(cmd, 2, "the data set has %d classes, the read-out %lld", tr.num_classes, (long long)a->model.classes);
  double t0 = nd_cli_now();
  if (!rc) {
    nd_status s = set_up(&r);
    if (s == ND_OK) s = make_optim(&r);
    if (s == ND_OK && a->resume) s = nd_cli_supervised_resume(&r.sup, a->resume);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  run->why_serial = "grid3d trains in one process";
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  nd_status srec = ND_OK;
  if (!rc && (srec = record_begin(&r, run)) != ND_OK) rc = nd_cli_lib_fail(cmd, srec);
  nd_trainer t = nd_cli_supervised_trainer(&r.sup);
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  bool scored = false;
  rc = nd_cli_supervised_finish(&r.sup, run, rc, &scored);
  if (scored && (srec = record_eval(&r)) != ND_OK) rc = nd_cli_lib_fail(cmd, srec);
  if ((srec = nd_cli_record_close(&a->record)) != ND_OK && !rc) rc = nd_cli_lib_fail(cmd, srec);
  if (scored) print_summary(cmd, &r, run, nd_cli_now() - t0);
  nd_run_end(run);
  nd_optim_free(r.sup.opt);
  nd_grid3d_free(r.m);
  nd_dataset_release(&tr), nd_dataset_release(&val), nd_dataset_release(&te);
  return rc;
}

/* neurodyn eval's scorer of model "grid3d" (registry.c). */
nd_status nd_cli_predict_grid3d(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred) {
  nd_grid3d *m = NULL;
  ND_CLI_TRY(nd_grid3d_load(ck, &m));
  const nd_grid3d_config *c = nd_grid3d_config_of(m);
  *classes = c->classes;
  nd_status s = ND_OK;
  if (c->in_h * c->in_w != test->images.shape[1])
    s = nd_set_error(ND_ERR_SHAPE, "%s: the grid takes %lldx%lld images, the test images have %lld pixels",
                     nd_checkpoint_name(ck), (long long)c->in_h, (long long)c->in_w, (long long)test->images.shape[1]);
  if (s == ND_OK) s = nd_grid3d_predict(m, test->images.data, test->n, 500, pred);
  nd_grid3d_free(m);
  return s;
}

/* "7,7,3" into nx, ny, nz. */
static bool parse_grid(const char *text, nd_grid3d_config *c) {
  long long v[3];
  char tail;
  if (!text || sscanf(text, "%lld,%lld,%lld%c", &v[0], &v[1], &v[2], &tail) != 3) return false;
  for (int k = 0; k < 3; k++)
    if (v[k] < 1 || v[k] > 100000) return false;
  c->nx = v[0], c->ny = v[1], c->nz = v[2];
  return true;
}

int nd_cli_train_grid3d(int argc, char **argv) {
  const char *cmd = "train grid3d";
  grid_args a;
  memset(&a, 0, sizeof a);
  const char *grid = NULL, *positions = NULL;
  int method = 0;
  int64_t dim = 8, steps = 1, patience = 50, classes = 10;
  double radius = 1.5, threshold = 0, ff_theta = 0;
  bool lateral = false, recurrent = false, growth = true;
  const nd_option table[] = {
      {"method", ND_OPT_CHOICE, &method, "bp", "credit assignment: bp, dfa or ff (docs/credit.md)", nd_credit_method_names()},
      {"grid", ND_OPT_STRING, &grid, "7,7,3", "nodes on an X,Y,Z grid (spacing 1); z is the direction of flow", NULL},
      {"positions", ND_OPT_STRING, &positions, NULL, "file of node positions, one 'x y z' per line (instead of --grid)", NULL},
      {"dim", ND_OPT_INT64, &dim, "8", "state dimensions per node", NULL},
      {"radius", ND_OPT_DOUBLE, &radius, "1.5", "message radius: nodes of the group below within it feed a node", NULL},
      {"lateral", ND_OPT_BOOL, &lateral, "false", "messages within a group from the previous step", NULL},
      {"recurrent", ND_OPT_BOOL, &recurrent, "false", "a node's own previous state as an input", NULL},
      {"steps", ND_OPT_INT64, &steps, "1", "update steps (lateral/recurrent messages need >= 2 to matter)", NULL},
      {"growth", ND_OPT_BOOL, &growth, "true", "allocate nodes on first activation, free them after --patience idle batches", NULL},
      {"threshold", ND_OPT_DOUBLE, &threshold, "0", "a node is active on an image when rms(its messages) > threshold (< 0: always)", NULL},
      {"patience", ND_OPT_INT64, &patience, "50", "idle training minibatches before a node is freed", NULL},
      {"classes", ND_OPT_INT64, &classes, "10", "read-out size", NULL},
      {"ff-theta", ND_OPT_DOUBLE, &ff_theta, "0", "ff: goodness threshold theta (0: the group's unit count)", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "5", "training epochs", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.01", "initial learning rate (Adam; nodes and read-out)", NULL},
      {"lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.0001", "learning rate at the end of the cosine anneal", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write grid3d.safetensors every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      ND_OPT_RECORD(&a.record, "node activities and allocation per epoch (grid3d streams), and at the end on test images",
                    "epochs", "1"),
      ND_OPT_GRAD_BLOCKS(&a.grad_blocks),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train grid3d", "[options]",
                        "Nodes on a 3-D grid (or at given positions), each a small dense unit passing messages to its "
                        "neighbours within --radius, layer by layer along z, with sparse growth (docs/grid3d.md). Writes "
                        "grid3d.safetensors, metrics.jsonl (val_acc, active_fraction, params, ms_per_batch) and "
                        "config.json into --out (default runs/grid3d).",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, cmd, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/grid3d";
  a.model = nd_grid3d_defaults();
  float *xyz = NULL;
  if (!parse_grid(grid, &a.model)) {
    rc = nd_cli_cmd_fail(cmd, 2, "--grid '%.64s': need X,Y,Z, three integers in 1..100000", grid ? grid : "");
  } else if (positions) {
    int64_t n = 0;
    nd_status s = nd_grid3d_read_positions(positions, &xyz, &n);
    if (s != ND_OK) rc = nd_cli_cmd_fail(cmd, 2, "--positions: %s", nd_last_error());
    a.model.positions = xyz, a.model.n_nodes = n;
  }
  if (!rc && (steps < 1 || steps > 1000)) rc = nd_cli_cmd_fail(cmd, 2, "--steps %lld: need 1..1000", (long long)steps);
  if (!rc) {
    a.model.method = (nd_credit_method)method, a.model.dim = dim, a.model.radius = (float)radius;
    a.model.lateral = lateral, a.model.recurrent = recurrent, a.model.steps = (int)steps;
    a.model.growth = growth, a.model.threshold = (float)threshold, a.model.patience = patience;
    a.model.classes = classes, a.model.ff_theta = (float)ff_theta;
    nd_status s = nd_grid3d_config_check(&a.model);
    rc = s != ND_OK ? nd_run_setting_fail(cmd, &spec, s) : grid_run_all(cmd, &a, &run);
  }
  free(xyz);
  nd_args_release(&args);
  return rc;
}
