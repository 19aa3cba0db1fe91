/* The supervised trainers' shared loop pieces (supervised.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervised.h"

static nd_status sup_epoch(void *self, nd_progress_fn progress, void *user) {
  nd_cli_supervised *s = self;
  s->progress = progress, s->progress_user = user;
  nd_status r = s->train_epoch(s->self, &s->rng, &s->loss);
  s->progress = NULL, s->progress_user = NULL;
  ND_CLI_TRY(r);
  s->epoch++;
  if (progress && !s->reports_batches) progress(&(nd_progress_info){s->epoch - 1, 1, 1}, user);
  return ND_OK;
}

static nd_status sup_state(void *self, nd_train_state *st) {
  nd_cli_supervised *s = self;
  *st = (nd_train_state){.epoch = s->epoch, .rng_key = s->rng.key, .rng_counter = s->rng.counter};
  return ND_OK;
}

/* The metrics key of split: "train_error", or "train_<measure>". */
static const char *key_of(nd_cli_supervised *s, nd_cli_split split) {
  static const char *const names[] = {"train", "validation", "test"};
  snprintf(s->key_[split], sizeof s->key_[split], "%s_%s", names[split], s->measure ? s->measure : "error");
  return s->key_[split];
}

static nd_status sup_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  nd_cli_supervised *s = self;
  (void)run, (void)e;
  ND_CLI_TRY(s->error(s->self, ND_CLI_TRAIN, &s->err_train));
  f[(*n)++] = ND_JNUM("loss", s->loss);
  f[(*n)++] = ND_JNUM(key_of(s, ND_CLI_TRAIN), s->err_train);
  if (s->has_validation) {
    ND_CLI_TRY(s->error(s->self, ND_CLI_VALIDATION, &s->err_val));
    f[(*n)++] = ND_JNUM(key_of(s, ND_CLI_VALIDATION), s->err_val);
    if (!s->measure) f[(*n)++] = ND_JNUM("val_acc", 1 - s->err_val);
  }
  f[(*n)++] = ND_JNUM("lr", nd_optim_lr(s->opt));
  if (s->extra) ND_CLI_TRY(s->extra(s->self, f, n));
  return ND_OK;
}

static void sup_figures(void *self, char *buf, size_t len) {
  nd_cli_supervised *s = self;
  if (s->measure) snprintf(buf, len, "loss=%.4g %s=%.4g", s->loss, s->has_validation ? "val" : "train",
                           s->has_validation ? s->err_val : s->err_train);
  else if (s->has_validation) snprintf(buf, len, "loss=%.4f val_err=%.2f%%", s->loss, 100 * s->err_val);
  else snprintf(buf, len, "loss=%.4f train_err=%.2f%%", s->loss, 100 * s->err_train);
}

static nd_status sup_checkpoint(void *self, nd_run *run) {
  nd_cli_supervised *s = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, s->file, path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_train_state st;
  sup_state(s, &st);
  nd_status r = s->save(s->self, ck);
  if (r == ND_OK) r = nd_checkpoint_put_state(ck, &st); /* with the optimizer: an exact resume */
  if (r == ND_OK) r = nd_optim_save(s->opt, ck);
  if (r == ND_OK) r = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return r;
}

nd_trainer nd_cli_supervised_trainer(nd_cli_supervised *s) {
  return (nd_trainer){.self = s, .epochs = s->epochs, .unit = "epochs", .epoch = sup_epoch, .state = sup_state,
                      .after_epoch = sup_after_epoch, .figures = sup_figures, .checkpoint = sup_checkpoint,
                      .resumable = true};
}

nd_status nd_cli_supervised_resume(nd_cli_supervised *s, const char *dir) {
  char path[ND_RUN_PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, s->file) >= (int)sizeof path)
    return nd_set_error(ND_ERR_INVALID_ARG, "--resume: the path is too long");
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_train_state st = {0};
  nd_status r = s->restore(s->self, ck);
  if (r == ND_OK) r = nd_optim_load(s->opt, ck);
  if (r == ND_OK) r = nd_checkpoint_get_state(ck, &st);
  if (r == ND_OK && st.epoch > s->epochs)
    r = nd_set_error(ND_ERR_FORMAT, "%s: metadata 'state.epoch' = %lld is past --epochs %lld", path, (long long)st.epoch,
                     (long long)s->epochs);
  if (r == ND_OK) s->epoch = st.epoch, s->rng.key = st.rng_key, s->rng.counter = st.rng_counter;
  nd_checkpoint_free(ck);
  return r;
}

int nd_cli_set_grad_blocks(nd_run *run, int64_t n, void *model, nd_status (*set)(void *model, nd_comm *c, int64_t blocks)) {
  int size = run->comm ? run->comm->size : 1;
  if (n < 0 || (n > 0 && n < size)) {
    if (nd_run_is_root(run))
      nd_cli_cmd_fail(run->cmd, 2, "--grad-blocks %lld: need 0 (one per process) or at least the %d processes", (long long)n, size);
    nd_cli_dist_agreed(2);
    return 2;
  }
  nd_status st = set(model, run->comm, n > 0 ? n : size);
  if (st == ND_OK) return 0;
  /* the model's refusal depends on its config alone: the same on every rank */
  int rc = nd_cli_status_code(st);
  if (nd_run_is_root(run)) nd_cli_lib_fail(run->cmd, st);
  nd_cli_dist_agreed(rc);
  return rc;
}

int nd_cli_supervised_finish(nd_cli_supervised *s, nd_run *run, int rc, bool *scored) {
  *scored = false;
  if (rc || !nd_run_is_root(run)) return rc; /* rank 0 scores the test set and writes */
  if (s->epoch < s->epochs) { /* stopped by --stop-after: the test set waits for the end */
    fprintf(stderr, "neurodyn %s: %lld of %lld epochs; resume with: neurodyn %s --resume %s\n", s->cmd,
            (long long)s->epoch, (long long)s->epochs, s->cmd, run->dir);
    return 0;
  }
  nd_status r = s->error(s->self, ND_CLI_TEST, &s->err_test);
  nd_jsonl_field f[4] = {ND_JBOOL("final", true), ND_JINT("epoch", s->epoch), ND_JNUM(key_of(s, ND_CLI_TEST), s->err_test),
                         ND_JNUM("test_acc", 1 - s->err_test)};
  if (r == ND_OK) r = nd_jsonl_write(run->metrics, s->measure ? 3 : 4, f);
  if (r != ND_OK) return nd_cli_lib_fail(s->cmd, r);
  *scored = true;
  return 0;
}

/* Data-parallel set-up (nd_cli_set_grad_blocks): one gradient sum over the
 * grads laid end to end; alone with one block, whole minibatches. */
static nd_status sup_set_comm(void *self, nd_comm *c, int64_t blocks) {
  nd_cli_supervised *s = self;
  if ((!c || c->size <= 1) && blocks <= 1) return ND_OK;
  int64_t numel = 0;
  for (int i = 0; i < s->n_grads; i++) numel += nd_tensor_numel(s->grads[i]);
  s->gflat_ = malloc(sizeof(float) * (size_t)numel);
  if (!s->gflat_) return nd_set_error(ND_ERR_NOMEM, "out of memory for the summed gradient");
  return nd_grad_sum_create(c, blocks, numel, &s->gsum_);
}

int nd_cli_supervised_run(nd_cli_supervised *s, nd_run *run, nd_status setup, const char *resume, const char *out,
                          const char *const *files, const nd_run_limits *lim, bool *scored) {
  int rc = 0;
  if (setup == ND_OK && resume) setup = nd_cli_supervised_resume(s, resume);
  if (setup != ND_OK) rc = nd_cli_lib_fail(s->cmd, setup);
  for (int i = 0; !rc && files && files[i] && i < 7; i++) run->dataset_files[i] = files[i];
  run->parallel = s->n_grads > 0; /* block gradients summed in order across processes (sup_set_comm) */
  if (!rc) rc = nd_run_begin(run, resume ? resume : out, resume != NULL);
  if (!rc && s->n_grads > 0) rc = nd_cli_set_grad_blocks(run, s->grad_blocks, s, sup_set_comm);
  nd_trainer t = nd_cli_supervised_trainer(s);
  t.unit = "batches";
  s->reports_batches = true;
  if (!rc) rc = nd_run_loop(run, &t, lim);
  rc = nd_cli_supervised_finish(s, run, rc, scored);
  nd_grad_sum_free(s->gsum_), s->gsum_ = NULL;
  free(s->gflat_), s->gflat_ = NULL;
  return rc;
}

/* One data-parallel minibatch (nd_grad_sum_batch's block function). */
typedef struct sup_blocks {
  nd_cli_supervised *s;
  nd_cli_step_fn step;
  const float *xb;
  const int32_t *yb;
  int64_t d;
  nd_rng base;  /* this minibatch's stream; block b's is its split b */
} sup_blocks;

static nd_status sup_block(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean) {
  sup_blocks *k = user;
  nd_cli_supervised *s = k->s;
  float *slot = nd_grad_sum_slot(s->gsum_, b, NULL);
  *mean = 0;
  if (r1 > r0) {
    nd_rng rng = nd_rng_split(&k->base, (uint64_t)b);
    ND_CLI_TRY(k->step(s->self, &rng, k->xb + r0 * k->d, k->yb ? k->yb + r0 : NULL, r1 - r0, mean));
  }
  const float wf = (float)w; /* as nd_grad_sum_put */
  for (int i = 0; i < s->n_grads; i++) {
    int64_t n = nd_tensor_numel(s->grads[i]);
    if (r1 > r0)
      for (int64_t j = 0; j < n; j++) slot[j] = wf * s->grads[i]->data[j];
    else memset(slot, 0, sizeof(float) * (size_t)n);
    slot += n;
  }
  return ND_OK;
}

nd_status nd_cli_supervised_grad(nd_cli_supervised *s, nd_cli_step_fn step, nd_rng *rng, const float *xb,
                                 const int32_t *yb, int64_t d, int64_t B, double *loss) {
  if (!s->gsum_) return step(s->self, rng, xb, yb, B, loss);
  sup_blocks k = {.s = s, .step = step, .xb = xb, .yb = yb, .d = d};
  uint64_t key = (uint64_t)nd_rng_u32(rng) << 32 | nd_rng_u32(rng); /* the same draws on every rank */
  nd_rng_init(&k.base, key);
  ND_CLI_TRY(nd_grad_sum_batch(s->gsum_, B, sup_block, &k, s->gflat_, loss));
  const float *g = s->gflat_;
  for (int i = 0; i < s->n_grads; i++) {
    int64_t n = nd_tensor_numel(s->grads[i]);
    memcpy(s->grads[i]->data, g, sizeof(float) * (size_t)n);
    g += n;
  }
  return ND_OK;
}

nd_status nd_cli_supervised_minibatches(nd_cli_supervised *s, nd_sampler *smp, const nd_dataset *tr, int64_t batch,
                                        int64_t epoch_size, nd_rng *rng, float *xb, int32_t *yb, nd_cli_step_fn step,
                                        double *mean_loss) {
  int64_t n = tr->n, d = tr->images.shape[1];
  ND_CLI_TRY(nd_sampler_begin_from(smp, n, batch, true, rng));
  int64_t per = nd_sampler_batches(smp, n);
  if (epoch_size > 0 && epoch_size / batch < per) per = epoch_size / batch;
  if (per < 1) per = 1;
  double sum = 0;
  int64_t done = 0, count;
  const int64_t *rows;
  nd_status r = ND_OK;
  while (r == ND_OK && done < per && nd_sampler_next(smp, &rows, &count)) {
    nd_sampler_gather(tr->images.data, d, rows, count, xb);
    for (int64_t i = 0; i < count; i++) yb[i] = tr->labels[rows[i]];
    double loss;
    r = nd_cli_supervised_grad(s, step, rng, xb, yb, d, count, &loss);
    if (r == ND_OK && !isfinite(loss)) r = nd_set_error(ND_ERR_NUMERIC, "loss is %g at minibatch %lld", loss, (long long)done);
    if (r == ND_OK) r = nd_optim_step(s->opt);
    if (r != ND_OK) break;
    sum += loss, done++;
    if (s->progress && s->progress(&(nd_progress_info){s->epoch, done, per}, s->progress_user)) break;
  }
  nd_sampler_end(smp);
  *mean_loss = done ? sum / (double)done : NAN;
  return r;
}

int nd_cli_supervised_check_flags(const char *cmd, int64_t epochs, int64_t batch, double lr, int64_t epoch_size,
                                  int64_t eval_train) {
  if (epochs < 1 || batch < 1) return nd_cli_cmd_fail(cmd, 2, "--epochs and --batch must be >= 1");
  if (!(lr > 0)) return nd_cli_cmd_fail(cmd, 2, "--lr %g: need > 0", lr);
  if (epoch_size < 0 || eval_train < 0) return nd_cli_cmd_fail(cmd, 2, "--epoch-size and --eval-train: need >= 0");
  return 0;
}
