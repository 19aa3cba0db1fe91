/* neurodyn train krotov: the Krotov-Hopfield unsupervised layer (fast rule
 * or the full ODE model, include/neurodyn/krotov.h) on the shared run
 * driver (run.h).  Writes into --out: config.json, metrics.jsonl,
 * checkpoint.safetensors (resumable: --resume DIR), W.safetensors (the model,
 * for `train krotov-top --features`), fields.png and convergence.png.
 * docs/krotov.md lists every flag. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "datasets.h"
#include "progress.h"
#include "record_cli.h"
#include "run.h"

typedef struct krotov_args {
  int64_t hidden, k, epochs, batch, png_every, stop_after, checkpoint_every;
  double p, delta, eps0;
  double w_inh, h_star, tau, tau_l, dt, t_max, ode_lr, ode_lr_end; /* ODE model (--rule ode) */
  int rule, precision, integrator;
  const char *resume;
  nd_cli_record record;
  nd_cli_dataopts data;
  nd_cli_common common;
} krotov_args;

typedef struct krotov_run {
  const krotov_args *a;
  nd_krotov *fast;
  nd_krotov_ode *ode;
  const nd_dataset *train;
  double *pnorm, *frac; /* per-epoch history, grown as epochs finish */
  int64_t n_hist, cap_hist;
  double *norms;        /* [hidden] scratch */
  nd_cli_record *rec;
  nd_record_stream *fields; /* --record: W as [hidden, rows, cols] images per epoch */
} krotov_run;

static const char *const rules[] = {"fast", "ode", NULL};
static const char *const precisions[] = {"f32", "f64", NULL};
static const char *const integrators[] = {"euler", "rk4", NULL};

static const nd_tensor *weights(krotov_run *r) { return r->fast ? nd_krotov_weights(r->fast) : nd_krotov_ode_weights(r->ode); }

/* --record: the receptive fields (rows of W as images) at epoch 0 and every K epochs. */
static nd_status record_fields(krotov_run *r, int64_t e) {
  if (!r->fields || !nd_cli_record_due(r->rec, e)) return ND_OK;
  ND_CLI_TRY(nd_recorder_push(r->fields, weights(r)->data));
  return nd_cli_record_flush(r->rec);
}

static nd_status record_begin(krotov_run *r, nd_run *run) {
  if (!r->rec->on || !nd_run_is_root(run)) return ND_OK;
  ND_CLI_TRY(nd_cli_record_open(r->rec, run->dir, run->resumed));
  int64_t shape[3] = {r->a->hidden, r->train->rows, r->train->cols};
  ND_CLI_TRY(nd_cli_record_stream(r->rec, "fields", ND_RECORD_IMAGE, 3, shape, "epoch", 1,
                                  "{\"model\": \"krotov\", \"what\": \"receptive fields (rows of W)\"}",
                                  &r->fields));
  return run->resumed ? ND_OK : record_fields(r, 0);
}

/* ------------------------------------------------------------ the trainer */

static nd_status kr_epoch(void *self, nd_progress_fn progress, void *user) {
  krotov_run *r = self;
  const nd_dataset *d = r->train;
  if (r->fast) return nd_krotov_epoch(r->fast, d->images.data, d->n, progress, user);
  return nd_krotov_ode_epoch(r->ode, d->images.data, d->n, progress, user);
}

static nd_status kr_state(void *self, nd_train_state *st) {
  krotov_run *r = self;
  return r->fast ? nd_krotov_get_state(r->fast, st) : nd_krotov_ode_get_state(r->ode, st);
}

static nd_status push_history(krotov_run *r, double pn, double fr) {
  if (r->n_hist == r->cap_hist) {
    int64_t cap = r->cap_hist ? 2 * r->cap_hist : 64;
    double *a = realloc(r->pnorm, sizeof(double) * (size_t)cap), *b = a ? realloc(r->frac, sizeof(double) * (size_t)cap) : NULL;
    if (a) r->pnorm = a;
    if (b) r->frac = b;
    if (!a || !b) return ND_ERR_NOMEM;
    r->cap_hist = cap;
  }
  r->pnorm[r->n_hist] = pn;
  r->frac[r->n_hist++] = fr;
  return ND_OK;
}

/* Receptive fields (at most a 20 x 20 grid), each tile on its own signed
 * scale, and the convergence of the rows' p-norms to R = 1 (Eq. 3). */
static nd_status draw(krotov_run *r, nd_run *run, int64_t e) {
  char path[ND_RUN_PATH_MAX], name[64];
  const nd_tensor *w = weights(r);
  int n = (int)(w->shape[0] > 400 ? 400 : w->shape[0]);
  nd_png_tiles_opts o = {.cols = 0, .cmap = ND_CMAP_BWR, .zoom = 2, .global_range = false};
  snprintf(name, sizeof name, "fields_epoch%04lld.png", (long long)e);
  nd_status s = nd_run_path(run, name, path) ? nd_png_write_tiles(path, w->data, n, r->train->rows, r->train->cols, &o)
                                             : ND_ERR_INVALID_ARG;
  if (s == ND_OK && nd_run_path(run, "fields.png", path))
    s = nd_png_write_tiles(path, w->data, n, r->train->rows, r->train->cols, &o);
  double *x = malloc(sizeof(double) * (size_t)r->n_hist);
  if (!x) return ND_ERR_NOMEM;
  for (int64_t i = 0; i < r->n_hist; i++) x[i] = (double)(i + 1);
  nd_plot_series a = {.x = x, .y = r->pnorm, .n = (int)r->n_hist};
  nd_plot_series b = {.x = x, .y = r->frac, .n = (int)r->n_hist};
  nd_plot_panel p[2] = {{.series = &a, .n_series = 1, .y_label = "mean p-norm of the rows of W"},
                        {.series = &b, .n_series = 1, .y_label = "fraction of rows with |norm - 1| <= 1%",
                         .y_min = 0, .y_max = 1}};
  nd_plot_opts po = {.title = "Krotov-Hopfield hidden layer convergence", .x_label = "epoch"};
  if (s == ND_OK && nd_run_path(run, "convergence.png", path)) s = nd_png_plot_panels(path, 2, p, &po);
  free(x);
  return s;
}

static nd_status kr_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  krotov_run *r = self;
  const krotov_args *a = r->a;
  const nd_tensor *w = weights(r);
  ND_CLI_TRY(nd_krotov_row_pnorms(w, a->p, r->norms));
  double sum = 0;
  int64_t conv = 0;
  for (int64_t i = 0; i < a->hidden; i++) sum += r->norms[i], conv += fabs(r->norms[i] - 1.0) <= 0.01;
  double pn = sum / (double)a->hidden, fr = (double)conv / (double)a->hidden;
  if (push_history(r, pn, fr) != ND_OK) return ND_ERR_NOMEM;
  f[(*n)++] = r->fast ? ND_JNUM("eps", nd_krotov_eps(nd_krotov_config_of(r->fast), e - 1))
                      : ND_JNUM("lr", nd_krotov_ode_lr(nd_krotov_ode_config_of(r->ode), e - 1));
  f[(*n)++] = ND_JNUM("mean_pnorm", pn);
  f[(*n)++] = ND_JNUM("frac_converged", fr);
  /* winners (fast rule): units ranked first this epoch; a collapsing layer shows a handful */
  if (r->fast) f[(*n)++] = ND_JINT("winners", nd_krotov_winners(r->fast));
  ND_CLI_TRY(record_fields(r, e));
  bool png = a->png_every > 0 && (e % a->png_every == 0 || e == a->epochs);
  return png ? draw(r, run, e) : ND_OK;
}

static void kr_figures(void *self, char *buf, size_t len) {
  krotov_run *r = self;
  if (r->fast && r->n_hist) snprintf(buf, len, "winners=%lld pnorm=%.3f", (long long)nd_krotov_winners(r->fast), r->pnorm[r->n_hist - 1]);
  else if (r->fast) snprintf(buf, len, "winners=%lld", (long long)nd_krotov_winners(r->fast));
  else if (r->n_hist) snprintf(buf, len, "pnorm=%.3f", r->pnorm[r->n_hist - 1]);
}

/* The model, its history and the data set in one file. */
static nd_status save_model(krotov_run *r, const char *path, bool history) {
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = r->fast ? nd_krotov_save(r->fast, ck) : nd_krotov_ode_save(r->ode, ck);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "dataset", nd_cli_data_name(&r->a->data));
  if (s == ND_OK && history) {
    nd_array h = {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {r->n_hist}, .numel = r->n_hist, .data = r->pnorm};
    s = nd_checkpoint_put_array(ck, "history.mean_pnorm", &h);
    h.data = r->frac;
    if (s == ND_OK) s = nd_checkpoint_put_array(ck, "history.frac_converged", &h);
  }
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status kr_checkpoint(void *self, nd_run *run) {
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  return save_model(self, path, true);
}

/* ------------------------------------------------------------ set-up */

static void make_configs(const krotov_args *a, int64_t visible, nd_krotov_config *f, nd_krotov_ode_config *o) {
  *f = nd_krotov_defaults();
  f->hidden = a->hidden, f->visible = visible, f->p = a->p, f->k = a->k, f->delta = a->delta, f->eps0 = a->eps0;
  f->epochs = a->epochs, f->batch = a->batch, f->seed = (uint64_t)a->common.seed;
  f->precision = a->precision ? ND_KROTOV_F64 : ND_KROTOV_F32;
  *o = nd_krotov_ode_defaults();
  o->hidden = a->hidden, o->visible = visible, o->batch = a->batch, o->p = a->p, o->delta = a->delta;
  o->w_inh = a->w_inh, o->h_star = a->h_star, o->tau = a->tau, o->tau_L = a->tau_l, o->dt = a->dt, o->t_max = a->t_max;
  o->integrator = a->integrator ? ND_INTEGRATOR_RK4 : ND_INTEGRATOR_EULER;
  o->lr = a->ode_lr, o->lr_end = a->ode_lr_end, o->epochs = a->epochs, o->seed = (uint64_t)a->common.seed;
}

/* The library's checks of the settings, before any input is read. */
static nd_status check_settings(const krotov_args *a) {
  nd_krotov_config f;
  nd_krotov_ode_config o;
  make_configs(a, 1, &f, &o);
  if (a->rule == 0) return nd_krotov_config_check(&f);
  if (a->precision) return nd_set_error(ND_ERR_INVALID_ARG, "krotov_ode: precision = f64: the ODE model runs in float32 only");
  return nd_krotov_ode_config_check(&o);
}

static nd_status create_model(const krotov_args *a, int64_t visible, krotov_run *r) {
  nd_krotov_config f;
  nd_krotov_ode_config o;
  make_configs(a, visible, &f, &o);
  return a->rule == 0 ? nd_krotov_create(&f, &r->fast) : nd_krotov_ode_create(&o, &r->ode);
}

/* --resume: the model, its state and history from DIR/checkpoint.safetensors,
 * which must be the run config.json describes. */
static nd_status load_checkpoint(const krotov_args *a, int64_t visible, krotov_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_krotov_config f;
  nd_krotov_ode_config o;
  make_configs(a, visible, &f, &o); /* what config.json describes */
  nd_status s = a->rule == 0 ? nd_krotov_load(ck, &r->fast) : nd_krotov_ode_load(ck, &r->ode);
  bool same = s == ND_OK && (a->rule == 0 ? !memcmp(nd_krotov_config_of(r->fast), &f, sizeof f)
                                          : !memcmp(nd_krotov_ode_config_of(r->ode), &o, sizeof o));
  if (s == ND_OK && !same) s = nd_set_error(ND_ERR_FORMAT, "%s does not hold the model config.json describes (edited by hand?)", path);
  nd_train_state st = {0};
  if (s == ND_OK) s = kr_state(r, &st);
  for (int h = 0; s == ND_OK && h < 2; h++) {
    nd_array ha = {0};
    s = nd_checkpoint_get_array(ck, h ? "history.frac_converged" : "history.mean_pnorm", ND_DTYPE_F64, st.epoch, &ha);
    for (int64_t i = 0; s == ND_OK && i < st.epoch; i++) {
      if (h == 0) s = push_history(r, ((double *)ha.data)[i], 0);
      else r->frac[i] = ((double *)ha.data)[i];
    }
    nd_array_release(&ha);
  }
  nd_checkpoint_free(ck);
  return s;
}

static int run_krotov(krotov_args *a, const nd_opts *spec, nd_run *run) {
  const char *cmd = "train krotov";
  nd_dataset train;
  int rc = nd_cli_data_load(cmd, &a->data, &train, NULL, NULL);
  if (rc) return rc;
  krotov_run r = {.a = a, .train = &train, .rec = &a->record};
  nd_status s = a->resume ? load_checkpoint(a, train.images.shape[1], &r) : create_model(a, train.images.shape[1], &r);
  if (s == ND_OK && a->batch > train.n) s = nd_set_error(ND_ERR_INVALID_ARG, "--batch %lld is larger than the %lld training images", (long long)a->batch, (long long)train.n);
  r.norms = s == ND_OK ? malloc(sizeof(double) * (size_t)a->hidden) : NULL;
  if (s == ND_OK && !r.norms) s = ND_ERR_NOMEM;
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  for (int i = 0; !rc && a->data.file_list[i]; i++) run->dataset_files[i] = a->data.file_list[i];
  run->parallel = a->rule == 0; /* the fast rule shares minibatches across processes (nd_krotov_set_comm) */
  run->why_serial = "train krotov --rule ode (not connected to the comm yet: the steady states and the Eq. 3 weight step of a minibatch run in one process)";
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  if (!rc && r.fast && (s = nd_krotov_set_comm(r.fast, run->comm)) != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  if (!rc && (s = record_begin(&r, run)) != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  nd_trainer t = {.self = &r, .epochs = a->epochs, .unit = "batches", .epoch = kr_epoch, .state = kr_state,
                  .after_epoch = kr_after_epoch, .figures = kr_figures, .checkpoint = kr_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  char path[ND_RUN_PATH_MAX];
  if (!rc && nd_run_is_root(run) && nd_run_path(run, "W.safetensors", path)) {
    s = save_model(&r, path, false);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
    else if (!a->common.quiet) {
      nd_train_state st = {0};
      kr_state(&r, &st);
      int64_t last = r.n_hist - 1;
      fprintf(stderr, "neurodyn train krotov: %lld/%lld epochs, mean p-norm %.4f, %.1f%% of units converged, %.1f s\n",
              (long long)st.epoch, (long long)a->epochs, last >= 0 ? r.pnorm[last] : 0.0,
              last >= 0 ? 100.0 * r.frac[last] : 0.0, nd_cli_now() - run->t_start);
      printf("%s\n", path);
    }
  }
  if ((s = nd_cli_record_close(r.rec)) != ND_OK && !rc) rc = nd_cli_lib_fail(cmd, s);
  nd_run_end(run);
  free(r.pnorm), free(r.frac), free(r.norms);
  nd_krotov_free(r.fast);
  nd_krotov_ode_free(r.ode);
  nd_dataset_release(&train);
  (void)spec;
  return rc;
}

int nd_cli_train_krotov(int argc, char **argv) {
  krotov_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"hidden", ND_OPT_INT64, &a.hidden, "100", "number of hidden units H (paper MNIST: 2000)", NULL},
      {"p", ND_OPT_DOUBLE, &a.p, "2", "Lebesgue exponent p of the rule's metric, Eq. 2-3 (paper MNIST: 3)", NULL},
      {"k", ND_OPT_INT64, &a.k, "2", "rank that receives -delta, Eq. 10 (paper MNIST: 7)", NULL},
      {"delta", ND_OPT_DOUBLE, &a.delta, "0.4", "anti-Hebbian strength Delta", NULL},
      {"eps0", ND_OPT_DOUBLE, &a.eps0, "0.02", "initial learning rate (largest change per minibatch), annealed linearly to 0", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "200", "epochs (the anneal length)", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"rule", ND_OPT_CHOICE, &a.rule, "fast", "learning rule: fast (Eq. 10, official code) or ode (Eq. 3, 8, 9)", rules},
      {"precision", ND_OPT_CHOICE, &a.precision, "f32", "arithmetic of the rule: f32 or f64", precisions},
      {"png-every", ND_OPT_INT64, &a.png_every, "10", "write the receptive-field grid every N epochs (0: never)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      {"w-inh", ND_OPT_DOUBLE, &a.w_inh, "0.7", "ODE model: global inhibition w_inh, Eq. 8", NULL},
      {"h-star", ND_OPT_DOUBLE, &a.h_star, "0.5", "ODE model: activity threshold h*, Eq. 9", NULL},
      {"tau", ND_OPT_DOUBLE, &a.tau, "1", "ODE model: hidden time constant tau, Eq. 8", NULL},
      {"tau-l", ND_OPT_DOUBLE, &a.tau_l, "100", "ODE model: learning time constant tau_L, Eq. 3", NULL},
      {"dt", ND_OPT_DOUBLE, &a.dt, "0.05", "ODE model: integration step of Eq. 8", NULL},
      {"t-max", ND_OPT_DOUBLE, &a.t_max, "20", "ODE model: Eq. 8 integrated over [0, t_max]", NULL},
      {"integrator", ND_OPT_CHOICE, &a.integrator, "rk4", "ODE model: euler or rk4", integrators},
      {"ode-lr", ND_OPT_DOUBLE, &a.ode_lr, "60", "ODE model: learning-time step of the first epoch", NULL},
      {"ode-lr-end", ND_OPT_DOUBLE, &a.ode_lr_end, "5", "ODE model: learning-time step of the last epoch (linear)", NULL},
      ND_OPT_RECORD(&a.record, "the receptive fields (W's rows as images) at epoch 0 and", "epochs", "1"),
      ND_OPT_DATA(&a.data),
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train krotov", "[options]",
                        "Trains the Krotov-Hopfield unsupervised layer (Krotov & Hopfield, PNAS 2019). Writes "
                        "config.json, metrics.jsonl, checkpoint.safetensors (resumable), W.safetensors, "
                        "fields.png and convergence.png into --out (default runs/krotov). Ctrl-C writes a "
                        "checkpoint and says how to resume.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, "png-every", NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, "train krotov", &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  rc = 0;
  if (!a.common.out) a.common.out = "runs/krotov";
  if (!rc && a.png_every < 0) rc = nd_cli_cmd_fail("train krotov", 2, "--png-every %lld: need >= 0", (long long)a.png_every);
  if (!rc && nd_cli_record_check(&a.record) != ND_OK) rc = nd_cli_cmd_fail("train krotov", 2, "%s", nd_last_error());
  if (!rc && a.stop_after < 0) rc = nd_cli_cmd_fail("train krotov", 2, "--stop-after %lld: need >= 0", (long long)a.stop_after);
  if (!rc && a.checkpoint_every < 0)
    rc = nd_cli_cmd_fail("train krotov", 2, "--checkpoint-every %lld: need >= 0", (long long)a.checkpoint_every);
  nd_status s = rc ? ND_OK : check_settings(&a);
  if (s != ND_OK) rc = nd_run_setting_fail("train krotov", &spec, s);
  if (!rc) rc = run_krotov(&a, &spec, &run);
  nd_args_release(&args);
  return rc;
}
