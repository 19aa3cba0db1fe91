/* neurodyn train lca: dictionary learning with LCA inference (dense atoms
 * or convolutional filters, include/neurodyn/lca.h) on whitened patches of
 * the two photographs in data/photos or on MNIST, on the shared run driver
 * (run.h).  Writes into --out: config.json, metrics.jsonl (reconstruction
 * error and sparsity per epoch, on the training minibatches and on the
 * held-out signals), checkpoint.safetensors (resumable: --resume DIR),
 * dictionary.png (and dictionary_epochNNNN.png every --png-every epochs) and
 * dictionary.npy (dense [m, n], columns = atoms, or filters [F, C, kh, kw]:
 * the --dict of `neurodyn run lca`).  docs/lca.md lists every flag. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "progress.h"
#include "record_cli.h"
#include "run.h"

#define CMD "train lca"

static const char *const sources[] = {"patches", "mnist", NULL};
static const char *const thresholds[] = {"soft", "hard", "nonneg", NULL};
static const char *const updates[] = {"euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam",
                                      "upstream-rmsprop", NULL};

typedef struct lca_args {
  int source, threshold, update;
  const char *root, *resume;
  int64_t limit, patch, patches, validation, atoms, filters, kernel, stride, pad, max_iter, epochs, batch;
  int64_t png_every, stop_after, checkpoint_every;
  double whiten_eps, lambda, eta, tol, lr;
  bool conv;
  nd_cli_record record;
  nd_cli_common common;
} lca_args;

typedef struct lca_run {
  const lca_args *a;
  nd_lca_dict *d;
  nd_tensor x;          /* [n, m]: training rows first, then the held-out ones */
  int64_t n_train, n_val;
  nd_lca_dict_stats last, val;
  char files[2][4096];
  const char *file_list[3];
  nd_cli_record *rec;
  nd_record_stream *atoms; /* --record: the dictionary per epoch */
  float *frame;
} lca_run;

/* --record: the atoms as images [n, side, side] (dense: column j of Phi is
 * atom j) or the filters [F C, kh, kw], at epoch 0 and every K epochs. */
static nd_status record_atoms(lca_run *r, int64_t e) {
  if (!r->atoms || !nd_cli_record_due(r->rec, e)) return ND_OK;
  const nd_tensor *w = nd_lca_dict_atoms(r->d);
  const float *src = w->data;
  if (!r->a->conv) { /* [m, n] -> [n, m] */
    int64_t m = w->shape[0], n = w->shape[1];
    for (int64_t p = 0; p < m; p++)
      for (int64_t j = 0; j < n; j++) r->frame[j * m + p] = w->data[p * n + j];
    src = r->frame;
  }
  ND_CLI_TRY(nd_recorder_push(r->atoms, src));
  return nd_cli_record_flush(r->rec);
}

/* --record, at the end: the final dictionary's LCA on the first 16 held-out
 * signals (training signals without --validation), codes and potentials
 * over the solver's iterations: maps [1, signals, atoms] (dense) or the
 * first image's F x P x Q maps (conv). */
static nd_status record_codes(lca_run *r) {
  nd_train_state st = {0};
  if (!r->atoms || nd_lca_dict_get_state(r->d, &st) != ND_OK || st.epoch < r->a->epochs) return ND_OK; /* finished runs */
  const nd_lca_dict_config *c = nd_lca_dict_config_of(r->d);
  const nd_tensor *w = nd_lca_dict_atoms(r->d);
  const int64_t m = r->x.shape[1], B = (r->n_val ? r->n_val : r->n_train) < 16 ? (r->n_val ? r->n_val : r->n_train) : 16;
  const float *sig = r->x.data + (r->n_val ? r->n_train : 0) * m;
  nd_lca_config lc = c->lca;
  lc.normalize = false; /* the atoms are unit already */
  nd_cli_lca_rec lr;
  nd_status s;
  nd_lca_result res;
  if (!c->conv) {
    const int64_t n = w->shape[1];
    nd_lca *l = NULL;
    float *codes = malloc(sizeof(float) * (size_t)(B * n));
    s = codes ? nd_lca_create(&lc, w->data, m, n, B, &l) : nd_set_error(ND_ERR_NOMEM, "out of memory");
    if (s == ND_OK)
      s = nd_cli_lca_rec_begin(&lr, r->rec, ND_RECORD_MAP2D, 3, ND_SHAPE(1, B, n),
                               "{\"model\": \"lca\", \"rows\": \"held-out signals\", \"columns\": \"atoms\"}");
    if (s == ND_OK) s = nd_lca_set_observer(l, nd_cli_lca_rec_observer, &lr);
    if (s == ND_OK) s = nd_lca_solve(l, sig, B, codes, &res);
    if (s == ND_OK) s = lr.status;
    nd_lca_free(l);
    free(codes);
    return s;
  }
  const nd_lca_conv_shape *sh = &c->shape;
  const int64_t P = (sh->height + 2 * sh->pad_h - sh->kernel_h) / sh->stride_h + 1;
  const int64_t Q = (sh->width + 2 * sh->pad_w - sh->kernel_w) / sh->stride_w + 1;
  nd_lca_conv *l = NULL;
  float *codes = malloc(sizeof(float) * (size_t)(B * sh->filters * P * Q));
  s = codes ? nd_lca_conv_create(&lc, sh, w->data, B, &l) : nd_set_error(ND_ERR_NOMEM, "out of memory");
  if (s == ND_OK)
    s = nd_cli_lca_rec_begin(&lr, r->rec, ND_RECORD_MAP2D, 3, ND_SHAPE(sh->filters, P, Q),
                             "{\"model\": \"lca-conv\", \"image\": \"the first held-out signal\"}");
  if (s == ND_OK) s = nd_lca_conv_set_observer(l, nd_cli_lca_rec_observer, &lr);
  if (s == ND_OK) s = nd_lca_conv_solve(l, sig, B, codes, &res);
  if (s == ND_OK) s = lr.status;
  nd_lca_conv_free(l);
  free(codes);
  return s;
}

static nd_status record_begin(lca_run *r, nd_run *run) {
  if (!r->rec->on) return ND_OK;
  ND_CLI_TRY(nd_cli_record_open(r->rec, run->dir, run->resumed));
  const nd_tensor *w = nd_lca_dict_atoms(r->d);
  int64_t shape[3];
  if (r->a->conv) shape[0] = w->shape[0] * w->shape[1], shape[1] = w->shape[2], shape[2] = w->shape[3];
  else shape[0] = w->shape[1], shape[1] = shape[2] = nd_lca_dict_config_of(r->d)->rows;
  if (!r->a->conv && !(r->frame = malloc(sizeof(float) * (size_t)nd_tensor_numel(w))))
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  ND_CLI_TRY(nd_cli_record_stream(r->rec, "atoms", ND_RECORD_IMAGE, 3, shape, "epoch", 1,
                                  r->a->conv ? "{\"model\": \"lca\", \"what\": \"filters\"}"
                                             : "{\"model\": \"lca\", \"what\": \"dictionary atoms\"}",
                                  &r->atoms));
  return run->resumed ? ND_OK : record_atoms(r, 0);
}

/* ------------------------------------------------------------ the trainer */

static nd_status lr_epoch(void *self, nd_progress_fn progress, void *user) {
  lca_run *r = self;
  return nd_lca_dict_epoch(r->d, r->x.data, r->n_train, progress, user);
}

static nd_status lr_state(void *self, nd_train_state *st) { return nd_lca_dict_get_state(((lca_run *)self)->d, st); }

static nd_status draw(lca_run *r, nd_run *run, int64_t e) {
  char path[ND_RUN_PATH_MAX], name[64];
  snprintf(name, sizeof name, "dictionary_epoch%04lld.png", (long long)e);
  nd_status s = nd_run_path(run, name, path) ? nd_lca_dict_write_png(r->d, path, 256) : ND_ERR_INVALID_ARG;
  if (s == ND_OK && nd_run_path(run, "dictionary.png", path)) s = nd_lca_dict_write_png(r->d, path, 256);
  return s;
}

static nd_status lr_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  lca_run *r = self;
  ND_CLI_TRY(nd_lca_dict_stats_of(r->d, &r->last));
  f[(*n)++] = ND_JNUM("rel_error", r->last.rel_error);
  f[(*n)++] = ND_JNUM("mse", r->last.mse);
  f[(*n)++] = ND_JNUM("sparsity", r->last.sparsity);
  f[(*n)++] = ND_JNUM("nonzeros", r->last.l0);
  f[(*n)++] = ND_JNUM("lca_iterations", r->last.iterations);
  f[(*n)++] = ND_JNUM("objective", r->last.objective);
  if (r->n_val > 0) {
    ND_CLI_TRY(nd_lca_dict_evaluate(r->d, r->x.data + r->n_train * r->x.shape[1], r->n_val, &r->val));
    f[(*n)++] = ND_JNUM("val_rel_error", r->val.rel_error);
    f[(*n)++] = ND_JNUM("val_sparsity", r->val.sparsity);
    f[(*n)++] = ND_JNUM("val_nonzeros", r->val.l0);
  }
  const lca_args *a = r->a;
  ND_CLI_TRY(record_atoms(r, e));
  bool png = a->png_every > 0 && (e % a->png_every == 0 || e == a->epochs);
  return png ? draw(r, run, e) : ND_OK;
}

static void lr_figures(void *self, char *buf, size_t len) {
  lca_run *r = self;
  if (r->last.signals) snprintf(buf, len, "err=%.4f sparsity=%.3f", r->last.rel_error, r->last.sparsity);
}

static nd_status save_model(lca_run *r, const char *path) {
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = nd_lca_dict_save(r->d, ck);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "dataset", sources[r->a->source]);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status lr_checkpoint(void *self, nd_run *run) {
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  return save_model(self, path);
}

/* ------------------------------------------------------------ set-up */

static nd_lca_dict_config make_config(const lca_args *a, int64_t side) {
  nd_lca_dict_config c = nd_lca_dict_defaults();
  c.lca.lambda = (float)a->lambda;
  c.lca.threshold = (nd_lca_threshold)a->threshold;
  if ((nd_accel_kind)a->update != c.lca.update.kind) c.lca.update = nd_accel_defaults((nd_accel_kind)a->update);
  if (a->eta > 0) c.lca.update.eta = a->eta, c.lca.auto_eta = false;
  c.lca.tol = a->tol;
  c.lca.max_iter = a->max_iter;
  c.conv = a->conv;
  c.rows = side, c.cols = side, c.atoms = a->atoms;
  c.shape = (nd_lca_conv_shape){1, side, side, a->filters, a->kernel, a->kernel, a->stride, a->stride, a->pad, a->pad};
  c.lr = a->lr, c.epochs = a->epochs, c.batch = a->batch, c.seed = (uint64_t)a->common.seed;
  return c;
}

/* The signals: whitened photograph patches or MNIST images, held-out last. */
static int load_data(lca_args *a, lca_run *r, int64_t *side) {
  nd_status s;
  if (a->source == 0) {
    char dir[4000];
    s = nd_data_find(a->root, "photos", dir, sizeof dir);
    if (s == ND_OK) {
      snprintf(r->files[0], sizeof r->files[0], "%s/china.jpg", dir);
      snprintf(r->files[1], sizeof r->files[1], "%s/flower.jpg", dir);
      s = nd_photo_patches_load(a->root, (int)a->patch, a->patches, (uint64_t)a->common.seed, a->whiten_eps, &r->x);
    }
    *side = a->patch;
  } else {
    nd_dataset ds;
    s = nd_dataset_files(a->root, "mnist", "train", r->files[0], r->files[1], sizeof r->files[0]);
    if (s == ND_OK) s = nd_dataset_load(a->root, "mnist", "train", a->limit, &ds);
    if (s == ND_OK) {
      r->x = ds.images; /* the images are all we keep */
      ds.images = (nd_tensor){0};
      *side = ds.rows;
      if (ds.rows != ds.cols) s = nd_set_error(ND_ERR_FORMAT, "mnist: images are %dx%d, not square", ds.rows, ds.cols);
      nd_dataset_release(&ds);
    }
  }
  if (s != ND_OK) return nd_cli_cmd_fail(CMD, 2, "--data %s: %s", sources[a->source], nd_last_error());
  r->file_list[0] = r->files[0], r->file_list[1] = r->files[1], r->file_list[2] = NULL;
  const int64_t n = r->x.shape[0];
  if (a->validation >= n)
    return nd_cli_cmd_fail(CMD, 2, "--validation %lld: only %lld signals", (long long)a->validation, (long long)n);
  r->n_val = a->validation, r->n_train = n - a->validation;
  if (a->batch > r->n_train)
    return nd_cli_cmd_fail(CMD, 2, "--batch %lld is larger than the %lld training signals", (long long)a->batch,
                           (long long)r->n_train);
  return 0;
}

/* --resume: the model and its state from DIR/checkpoint.safetensors, which
 * must be the run config.json describes. */
static nd_status load_checkpoint(const lca_args *a, int64_t side, lca_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_status s = nd_lca_dict_load(ck, &r->d);
  nd_checkpoint_free(ck);
  if (s != ND_OK) return s;
  nd_lca_dict_config want = make_config(a, side);
  const nd_lca_dict_config *got = nd_lca_dict_config_of(r->d);
  bool same = got->conv == want.conv && got->lr == want.lr && got->epochs == want.epochs && got->batch == want.batch &&
              got->lca.lambda == want.lca.lambda && got->seed == want.seed &&
              (want.conv ? !memcmp(&got->shape, &want.shape, sizeof want.shape)
                         : got->rows == want.rows && got->cols == want.cols && got->atoms == want.atoms);
  if (!same) return nd_set_error(ND_ERR_FORMAT, "%s does not hold the model config.json describes (edited by hand?)", path);
  return ND_OK;
}

static nd_status write_atoms(lca_run *r, const char *path) { return nd_npy_write(path, nd_lca_dict_atoms(r->d)); }

static int run_lca(lca_args *a, nd_run *run) {
  lca_run r = {.a = a, .rec = &a->record};
  int64_t side = 0;
  int rc = load_data(a, &r, &side);
  nd_status s = ND_OK;
  if (!rc) {
    nd_lca_dict_config c = make_config(a, side);
    s = a->resume ? load_checkpoint(a, side, &r) : nd_lca_dict_create(&c, &r.d);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  }
  for (int i = 0; !rc && r.file_list[i]; i++) run->dataset_files[i] = r.file_list[i];
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc && (s = record_begin(&r, run)) != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  nd_trainer t = {.self = &r, .epochs = a->epochs, .unit = "batches", .epoch = lr_epoch, .state = lr_state,
                  .after_epoch = lr_after_epoch, .figures = lr_figures, .checkpoint = lr_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  char path[ND_RUN_PATH_MAX];
  if (!rc && nd_run_path(run, "dictionary.npy", path)) {
    s = write_atoms(&r, path);
    if (s == ND_OK && nd_run_path(run, "dictionary.png", path)) s = nd_lca_dict_write_png(r.d, path, 256);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
    else if (!a->common.quiet) {
      nd_train_state st = {0};
      lr_state(&r, &st);
      fprintf(stderr, "neurodyn train lca: %lld/%lld epochs, relative error %.4f, sparsity %.4f, %.1f s\n",
              (long long)st.epoch, (long long)a->epochs, r.last.rel_error, r.last.sparsity, nd_cli_now() - run->t_start);
      printf("%s\n", path);
    }
  }
  if (!rc && (s = record_codes(&r)) != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  if ((s = nd_cli_record_close(r.rec)) != ND_OK && !rc) rc = nd_cli_lib_fail(CMD, s);
  free(r.frame);
  nd_run_end(run);
  nd_lca_dict_free(r.d);
  nd_tensor_release(&r.x);
  return rc;
}

static int check_args(const lca_args *a) {
  const struct {
    const char *flag;
    int64_t v, lo;
  } nums[] = {{"patch", a->patch, 2},           {"patches", a->patches, 1},     {"validation", a->validation, 0},
              {"limit", a->limit, 0},           {"png-every", a->png_every, 0}, {"stop-after", a->stop_after, 0},
              {"checkpoint-every", a->checkpoint_every, 0}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    if (nums[i].v < nums[i].lo)
      return nd_cli_cmd_fail(CMD, 2, "--%s %lld: need >= %lld", nums[i].flag, (long long)nums[i].v, (long long)nums[i].lo);
  if (nd_cli_record_check(&a->record) != ND_OK) return nd_cli_cmd_fail(CMD, 2, "%s", nd_last_error());
  if (!(a->lambda >= 0) || !isfinite(a->lambda)) return nd_cli_cmd_fail(CMD, 2, "--lambda %g: need a finite number >= 0", a->lambda);
  if (a->source == 1 && a->patch != 16) return nd_cli_cmd_fail(CMD, 2, "--patch: only for --data patches (MNIST images are 28x28)");
  return 0;
}

int nd_cli_train_lca(int argc, char **argv) {
  lca_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"data", ND_OPT_CHOICE, &a.source, "patches", "signals: patches (whitened photograph patches) or mnist", sources},
      {"data-dir", ND_OPT_STRING, &a.root, NULL, "data root holding photos/ and mnist/ (default $ND_DATA_DIR, else ./data)", NULL},
      {"patch", ND_OPT_INT64, &a.patch, "16", "patches: side of the square patches (also the conv image side)", NULL},
      {"patches", ND_OPT_INT64, &a.patches, "50000", "patches: how many are drawn from the photographs", NULL},
      {"whiten-eps", ND_OPT_DOUBLE, &a.whiten_eps, "0.1", "patches: ZCA regulariser relative to the mean eigenvalue (< 0: no whitening)", NULL},
      {"limit", ND_OPT_INT64, &a.limit, "0", "mnist: use only the first N training images (0: all 60000)", NULL},
      {"validation", ND_OPT_INT64, &a.validation, "1000", "hold out the last N signals; their error and sparsity per epoch", NULL},
      {"conv", ND_OPT_BOOL, &a.conv, "false", "learn convolutional filters instead of dense atoms", NULL},
      {"atoms", ND_OPT_INT64, &a.atoms, "256", "dense: number of atoms n", NULL},
      {"filters", ND_OPT_INT64, &a.filters, "32", "conv: number of filters F", NULL},
      {"kernel", ND_OPT_INT64, &a.kernel, "8", "conv: filter side kh = kw", NULL},
      {"stride", ND_OPT_INT64, &a.stride, "1", "conv: stride (both directions)", NULL},
      {"pad", ND_OPT_INT64, &a.pad, "0", "conv: zero padding on each side", NULL},
      {"lambda", ND_OPT_DOUBLE, &a.lambda, "0.1", "LCA threshold lambda", NULL},
      {"threshold", ND_OPT_CHOICE, &a.threshold, "soft", "soft, hard or nonneg", thresholds},
      {"update", ND_OPT_CHOICE, &a.update, "nesterov", "LCA state update (docs/lca.md)", updates},
      {"eta", ND_OPT_DOUBLE, &a.eta, "0", "LCA step (0: 1/||Phi||^2 for euler/momentum/nesterov, else the update's default)", NULL},
      {"tol", ND_OPT_DOUBLE, &a.tol, "1e-3", "LCA stops a signal at this relative rate", NULL},
      {"max-iter", ND_OPT_INT64, &a.max_iter, "300", "LCA steps at most per minibatch", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.1", "dictionary step: Phi += lr/B R A^T, then unit atoms", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "10", "epochs", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"png-every", ND_OPT_INT64, &a.png_every, "1", "write the dictionary grid every N epochs (0: only at the end)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      ND_OPT_RECORD(&a.record, "the dictionary atoms (images) at epoch 0 and", "epochs", "1"),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train lca", "[options]",
                        "Learns a sparse-coding dictionary (dense atoms or --conv filters) by alternating LCA "
                        "inference with a gradient step on the reconstruction error (Olshausen & Field 1997; "
                        "Rozell et al. 2008). Writes config.json, metrics.jsonl, checkpoint.safetensors "
                        "(resumable), dictionary.npy and dictionary.png into --out (default runs/lca). Ctrl-C "
                        "writes a checkpoint and says how to resume.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, "png-every", NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/lca";
  rc = check_args(&a);
  if (!rc) {
    nd_lca_dict_config c = make_config(&a, a.source == 1 ? 28 : a.patch);
    nd_status s = nd_lca_dict_config_check(&c);
    if (s != ND_OK) rc = nd_run_setting_fail(CMD, &spec, s);
  }
  if (!rc) rc = run_lca(&a, &run);
  nd_args_release(&args);
  return rc;
}
