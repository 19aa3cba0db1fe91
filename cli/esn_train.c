/* neurodyn train esn: an echo-state network (include/neurodyn/reservoir.h),
 * plain or deep, its reservoir optionally trained first by a local rule
 * (intrinsic plasticity or anti-Hebbian decorrelation), its readout fitted
 * by ridge regression or online by RLS/FORCE, to predict the next value of
 * a chaotic series; scored one step ahead and free-running (Jaeger & Haas
 * 2004, Science 304:78: the NRMSE after 84 free-running steps), on the shared
 * run driver (run.h: progress, metrics.jsonl, checkpoints, --resume).
 * docs/reservoir.md.
 *
 * The series (Mackey-Glass tau = 17 by RK4 with h = 1, or Lorenz sampled
 * every --dt by Dormand-Prince) is split in time: `discard` transient
 * steps, `train` steps for the fit (the first `washout` of them only warm
 * the reservoir up), then a validation and a test part of `trials` windows
 * each: a window teacher-forces `warmup` steps and then runs free for
 * `horizon` steps, all windows of a part in parallel (nd_esn_forecast_batch).
 * One-step NRMSE on the second half of the teacher-forced steps; free-run
 * NRMSE at the horizon and over the whole free run, normalised by the
 * series' variance (per component for Lorenz).
 *
 * Epochs of the run: `plasticity-epochs` passes of the local rule over the
 * training steps (none without --plasticity), then `readout-epochs` passes
 * of RLS/FORCE, or one ridge fit; a checkpoint after each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/io.h"
#include "neurodyn/reservoir.h"
#include "options.h"
#include "progress.h"
#include "run.h"

#define CMD "train esn"
enum { TASK_MG = 0, TASK_LORENZ = 1 };
enum { READ_RIDGE = 0, READ_RLS = 1, READ_FORCE = 2 };

typedef struct esn_opts {
  int task, transform, solver, rho_method, readout, plasticity;
  int64_t units, layers, washout, train, discard, warmup, horizon, trials, plast_epochs, read_epochs, stop_after, ckpt_every;
  double conn, rho, leak, in_scale, bias, inter, ridge, noise, alpha, lambda, eta, ip_mu, ip_sigma, dt;
  bool plot;
  const char *sweep, *resume;
  nd_cli_common common;
} esn_opts;

typedef struct score {
  double one_step, free_run, window; /* NRMSE: one step, at the horizon, over the free run */
} score;

typedef struct series {
  int64_t n, d;        /* points, components */
  double *x, *z;       /* [n, d] the series and what the network sees */
  double var[3], mean[3], scale[3];
} series;

typedef struct esn_run {
  const esn_opts *o;
  const nd_opts *spec;
  series s;
  nd_esn *e;
  int64_t epoch, epochs;
  double train_s, last_mse;
  nd_esn_adapt_stats last_stats;
  score val, test;
} esn_run;

static int64_t val0(const esn_opts *o) { return o->discard + o->train; }
static int64_t test0(const esn_opts *o) { return val0(o) + o->trials * (o->warmup + o->horizon); }

/* the values the network sees, and back (Jaeger & Haas 2004 fed tanh(x - 1); Lorenz: standardised) */
static double to_net(const esn_opts *o, const series *s, int i, double x) {
  if (o->task == TASK_LORENZ) return (x - s->mean[i]) / s->scale[i];
  return o->transform == 0 ? tanh(x - 1) : x;
}
static double from_net(const esn_opts *o, const series *s, int i, double z) {
  if (o->task == TASK_LORENZ) return z * s->scale[i] + s->mean[i];
  if (o->transform != 0) return z;
  return z >= 1 || z <= -1 || !isfinite(z) ? INFINITY : atanh(z) + 1;
}

static nd_status make_series(const esn_opts *o, series *s) {
  s->d = o->task == TASK_LORENZ ? 3 : 1;
  s->n = test0(o) + o->trials * (o->warmup + o->horizon) + 1;
  s->x = malloc((size_t)(s->n * s->d) * sizeof *s->x);
  s->z = malloc((size_t)(s->n * s->d) * sizeof *s->z);
  if (!s->x || !s->z) return nd_set_error(ND_ERR_NOMEM, "out of memory for the series");
  double x0[3] = {17.68, 12.93, 43.91}; /* on the attractor (the NG-RC command's start) */
  ND_CLI_TRY(o->task == TASK_LORENZ ? nd_lorenz(s->n, o->dt, x0, 10, 28, 8.0 / 3, s->x)
                                    : nd_mackey_glass(s->n, 17, 0.2, 0.1, 10, 1.2, 1, s->x));
  int64_t m = s->n - o->discard, d = s->d;
  for (int i = 0; i < d; i++) {
    double mu = 0, v = 0, tm = 0, tv = 0;
    for (int64_t k = o->discard; k < s->n; k++) mu += s->x[k * d + i] / (double)m;
    for (int64_t k = o->discard; k < s->n; k++) v += (s->x[k * d + i] - mu) * (s->x[k * d + i] - mu) / (double)m;
    /* the network's standardisation from the training part only */
    for (int64_t k = o->discard; k < val0(o); k++) tm += s->x[k * d + i] / (double)o->train;
    for (int64_t k = o->discard; k < val0(o); k++) tv += (s->x[k * d + i] - tm) * (s->x[k * d + i] - tm) / (double)o->train;
    s->var[i] = v, s->mean[i] = tm, s->scale[i] = sqrt(tv) > 0 ? sqrt(tv) : 1;
  }
  for (int64_t k = 0; k < s->n; k++)
    for (int i = 0; i < d; i++) s->z[k * d + i] = to_net(o, s, i, s->x[k * d + i]);
  return ND_OK;
}

/* `trials` windows from s0 in parallel; example (may be NULL): the first window's free run [horizon, d] */
static nd_status windows(const nd_esn *e, const esn_opts *o, const series *s, int64_t s0, score *sc, double *example) {
  int64_t W = o->warmup + o->horizon, d = s->d, B = o->trials, Y = o->warmup + o->horizon - 1;
  double *u = calloc((size_t)(B * o->warmup * d), sizeof *u), *y = malloc((size_t)(B * Y * d) * sizeof *y);
  if (!u || !y) {
    free(u), free(y);
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  for (int64_t b = 0; b < B; b++) memcpy(u + b * o->warmup * d, s->z + (s0 + b * W) * d, (size_t)(o->warmup * d) * sizeof *u);
  nd_status st = nd_esn_forecast_batch(e, u, B, o->warmup, o->horizon - 1, y);
  double e1 = 0, eh = 0, ew = 0;
  int64_t n1 = 0;
  for (int64_t b = 0; b < B && st == ND_OK; b++) {
    const double *yb = y + b * Y * d, *w = s->x + (s0 + b * W) * d;
    /* y[t] predicts w[t + 1]; the free run: y[warmup - 1 + h] predicts w[warmup + h], h = 0..horizon-1 */
    for (int64_t t = o->warmup / 2; t + 1 < o->warmup; t++, n1++)
      for (int i = 0; i < d; i++) {
        double r = from_net(o, s, i, yb[t * d + i]) - w[(t + 1) * d + i];
        e1 += r * r / s->var[i];
      }
    for (int64_t h = 0; h < o->horizon; h++)
      for (int i = 0; i < d; i++) {
        double p = from_net(o, s, i, yb[(o->warmup - 1 + h) * d + i]), r = p - w[(o->warmup + h) * d + i];
        r = isfinite(r) ? r * r / s->var[i] : INFINITY;
        ew += r;
        if (h == o->horizon - 1) eh += r;
        if (b == 0 && example) example[h * d + i] = p;
      }
  }
  free(u), free(y);
  if (st != ND_OK) return st;
  sc->one_step = sqrt(e1 / (double)(n1 * d));
  sc->free_run = sqrt(eh / (double)(B * d));
  sc->window = sqrt(ew / (double)(B * o->horizon * d));
  return ND_OK;
}

static nd_esn_config make_config(const esn_opts *o, int64_t d) {
  nd_esn_config c = nd_esn_defaults();
  c.units = o->units, c.inputs = c.outputs = d, c.connectivity = o->conn, c.spectral_radius = o->rho, c.leak = o->leak;
  c.input_scaling = o->in_scale, c.bias_scaling = o->bias, c.ridge = o->ridge, c.washout = o->washout;
  c.seed = (uint64_t)o->common.seed, c.solver = (nd_ridge_solver)o->solver, c.rho_method = (nd_esn_rho_method)o->rho_method;
  c.layers = o->layers, c.inter_scaling = o->inter, c.noise = o->noise;
  return c;
}

static int64_t plast_epochs(const esn_opts *o) { return o->plasticity ? o->plast_epochs : 0; }
static int64_t total_epochs(const esn_opts *o) { return plast_epochs(o) + (o->readout == READ_RIDGE ? 1 : o->read_epochs); }

/* epoch i (0-based) of the training: a pass of the rule, or of the readout */
static nd_status do_epoch(nd_esn *e, const esn_opts *o, const series *s, int64_t i, nd_esn_adapt_stats *st, double *mse) {
  const double *u = s->z + o->discard * s->d, *y = u + s->d;
  if (i < plast_epochs(o)) {
    nd_esn_plasticity p = {.rule = (nd_esn_rule)o->plasticity, .eta = o->eta, .mu = o->ip_mu, .sigma = o->ip_sigma};
    return nd_esn_adapt(e, u, o->train, &p, st);
  }
  if (o->readout == READ_RIDGE) return nd_esn_fit(e, u, y, o->train);
  nd_esn_rls r = {.force = o->readout == READ_FORCE, .alpha = o->alpha, .lambda = o->lambda};
  return nd_esn_fit_rls(e, u, y, o->train, &r, mse);
}

/* ---------------------------------------------------------------- driver callbacks */

static nd_status r_epoch(void *self, nd_progress_fn progress, void *user) {
  esn_run *r = self;
  (void)progress, (void)user; /* an epoch is one pass; it is not split */
  double t0 = nd_cli_now();
  nd_status s = do_epoch(r->e, r->o, &r->s, r->epoch, &r->last_stats, &r->last_mse);
  r->train_s += nd_cli_now() - t0;
  if (s == ND_OK) r->epoch++;
  return s;
}

static nd_status r_state(void *self, nd_train_state *st) {
  *st = (nd_train_state){.epoch = ((esn_run *)self)->epoch};
  return ND_OK;
}

static void r_figures(void *self, char *buf, size_t len) {
  esn_run *r = self;
  if (r->epoch <= plast_epochs(r->o)) snprintf(buf, len, "act_std=%.3g", r->last_stats.std);
  else if (r->o->readout != READ_RIDGE) snprintf(buf, len, "rls_mse=%.3g", r->last_mse);
  else buf[0] = 0;
}

static nd_status r_after_epoch(void *self, nd_run *run, int64_t ep, nd_jsonl_field *f, int *n) {
  esn_run *r = self;
  (void)run;
  bool plast = ep <= plast_epochs(r->o);
  f[(*n)++] = ND_JSTR("phase", plast ? "plasticity" : "readout");
  f[(*n)++] = ND_JNUM("train_s", r->train_s);
  if (plast) {
    f[(*n)++] = ND_JNUM("act_mean", r->last_stats.mean);
    f[(*n)++] = ND_JNUM("act_std", r->last_stats.std);
    f[(*n)++] = ND_JNUM("mean_abs_corr", r->last_stats.mean_abs_corr);
    f[(*n)++] = ND_JNUM("spectral_radius", nd_esn_spectral_radius(r->e));
    return ND_OK;
  }
  if (r->o->readout != READ_RIDGE) f[(*n)++] = ND_JNUM("train_mse", r->last_mse);
  ND_CLI_TRY(windows(r->e, r->o, &r->s, val0(r->o), &r->val, NULL));
  f[(*n)++] = ND_JNUM("val_nrmse_1", r->val.one_step);
  f[(*n)++] = ND_JNUM("val_nrmse_horizon", r->val.free_run);
  f[(*n)++] = ND_JNUM("val_nrmse_window", r->val.window);
  return ND_OK;
}

static nd_status r_checkpoint(void *self, nd_run *run) {
  esn_run *r = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_train_state st = {.epoch = r->epoch};
  nd_status s = nd_esn_save(r->e, ck);
  if (s == ND_OK) s = nd_checkpoint_put_state(ck, &st);
  char t[64];
  snprintf(t, sizeof t, "%.17g", r->train_s);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "run.train_s", t);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status load_checkpoint(esn_run *r) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", r->o->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_train_state st = {0};
  nd_status s = nd_esn_load(ck, &r->e);
  if (s == ND_OK) s = nd_checkpoint_get_state(ck, &st);
  if (s == ND_OK && (st.epoch < 0 || st.epoch > r->epochs))
    s = nd_set_error(ND_ERR_FORMAT, "%s: state.epoch = %lld is outside 0..%lld", path, (long long)st.epoch, (long long)r->epochs);
  const char *t = nd_checkpoint_meta(ck, "run.train_s");
  if (s == ND_OK) r->epoch = st.epoch, r->train_s = t ? atof(t) : 0;
  nd_checkpoint_free(ck);
  return s;
}

/* ---------------------------------------------------------------- results */

static void add_score(cJSON *m, const char *part, const score *s) {
  char k[64];
  snprintf(k, sizeof k, "%s_nrmse_1", part), cJSON_AddNumberToObject(m, k, s->one_step);
  snprintf(k, sizeof k, "%s_nrmse_horizon", part), cJSON_AddNumberToObject(m, k, isfinite(s->free_run) ? s->free_run : -1);
  snprintf(k, sizeof k, "%s_nrmse_window", part), cJSON_AddNumberToObject(m, k, isfinite(s->window) ? s->window : -1);
}

static nd_status write_results(esn_run *r, nd_run *run, const double *example) {
  const esn_opts *o = r->o;
  char path[ND_RUN_PATH_MAX];
  cJSON *root = nd_opts_to_json(r->spec);
  cJSON *m = root ? cJSON_AddObjectToObject(root, "results") : NULL;
  if (!m) {
    cJSON_Delete(root);
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  cJSON_AddNumberToObject(m, "spectral_radius_measured", nd_esn_spectral_radius(r->e));
  cJSON_AddNumberToObject(m, "reservoir_nnz", (double)nd_esn_nnz(r->e));
  cJSON_AddNumberToObject(m, "features", (double)nd_esn_features(r->e));
  cJSON_AddNumberToObject(m, "fit_s", r->train_s);
  add_score(m, "val", &r->val);
  add_score(m, "test", &r->test);
  cJSON_AddNumberToObject(m, "test_log10_nrmse_horizon", log10(r->test.free_run));
  if (!nd_run_path(run, "metrics.json", path)) {
    cJSON_Delete(root);
    return ND_ERR_INVALID_ARG;
  }
  ND_CLI_TRY(nd_cli_write_json(root, path));
  if (o->plot) {
    int64_t H = o->horizon, d = r->s.d;
    double *t = malloc((size_t)H * sizeof *t), *a = malloc((size_t)H * sizeof *a), *b = malloc((size_t)H * sizeof *b);
    nd_status st = (!t || !a || !b) ? nd_set_error(ND_ERR_NOMEM, "out of memory") : ND_OK;
    for (int64_t k = 0; st == ND_OK && k < H; k++) /* the first component */
      t[k] = (double)(k + 1), a[k] = r->s.x[(test0(o) + o->warmup + k) * d], b[k] = example[k * d];
    nd_plot_series s[2] = {{t, a, (int)H, o->task == TASK_LORENZ ? "Lorenz x" : "Mackey-Glass"}, {t, b, (int)H, "ESN free run"}};
    if (st == ND_OK && nd_run_path(run, "free_run.png", path))
      st = nd_png_plot_lines(path, 2, s, &(nd_plot_opts){.title = "first test window", .x_label = "steps into the free run"});
    free(t), free(a), free(b);
    ND_CLI_TRY(st);
  }
  return ND_OK;
}

/* Comma-separated radii into r[0..*n) (at most 64), each > 0. */
static nd_status parse_list(const char *text, double *r, int *n) {
  *n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v > 0 && v < 1e6) || *n == 64 || (*end && *end != ','))
      return nd_set_error(ND_ERR_INVALID_ARG, "--sweep-rho '%.64s': expected up to 64 comma-separated radii > 0", text);
    r[(*n)++] = v;
    p = *end ? end + 1 : end;
  }
  if (*n == 0) return nd_set_error(ND_ERR_INVALID_ARG, "--sweep-rho: empty list");
  return ND_OK;
}

/* The whole training and scoring at each radius of the sweep: rho_sweep.json and .png. */
static nd_status sweep(const esn_run *r, nd_run *run, const double *rad, int nr) {
  const esn_opts *o = r->o;
  double v[64], t[64];
  nd_status st = ND_OK;
  nd_esn_config c = make_config(o, r->s.d);
  for (int i = 0; i < nr && st == ND_OK; i++) {
    nd_esn *e = NULL;
    score a = {0}, b = {0};
    c.spectral_radius = rad[i];
    st = nd_esn_create(&c, &e);
    for (int64_t k = 0; st == ND_OK && k < total_epochs(o); k++) st = do_epoch(e, o, &r->s, k, &(nd_esn_adapt_stats){0}, &(double){0});
    if (st == ND_OK) st = windows(e, o, &r->s, val0(o), &a, NULL);
    if (st == ND_OK) st = windows(e, o, &r->s, test0(o), &b, NULL);
    nd_esn_free(e);
    if (st == ND_ERR_NUMERIC) { /* a rule or an online readout diverged at this radius */
      nd_clear_error();
      st = ND_OK, a.free_run = b.free_run = INFINITY;
    }
    v[i] = a.free_run, t[i] = b.free_run;
    if (st == ND_OK && !o->common.quiet) printf("  rho %.3g: %lld-step NRMSE val %.3g test %.3g\n", rad[i], (long long)o->horizon, v[i], t[i]);
  }
  if (st != ND_OK) return st;
  char path[ND_RUN_PATH_MAX];
  cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "sweep") : NULL;
  for (int i = 0; arr && i < nr; i++) {
    cJSON *it = cJSON_CreateObject();
    if (!it) break;
    cJSON_AddNumberToObject(it, "spectral_radius", rad[i]);
    cJSON_AddNumberToObject(it, "val_nrmse_horizon", isfinite(v[i]) ? v[i] : -1);
    cJSON_AddNumberToObject(it, "test_nrmse_horizon", isfinite(t[i]) ? t[i] : -1);
    cJSON_AddItemToArray(arr, it);
  }
  if (!arr || !nd_run_path(run, "rho_sweep.json", path)) {
    cJSON_Delete(root);
    return arr ? ND_ERR_INVALID_ARG : nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  ND_CLI_TRY(nd_cli_write_json(root, path));
  nd_plot_series s[2] = {{rad, v, nr, "validation"}, {rad, t, nr, "test"}};
  if (!nd_run_path(run, "rho_sweep.png", path)) return ND_ERR_INVALID_ARG;
  return nd_png_plot_lines(path, 2, s, &(nd_plot_opts){.log_y = true, .title = "free-run NRMSE at the horizon",
                                                         .x_label = "spectral radius", .y_label = "NRMSE"});
}

static int check_opts(const esn_opts *o) {
  if (o->train <= o->washout)
    return nd_cli_cmd_fail(CMD, 2, "--train %lld must exceed --washout %lld", (long long)o->train, (long long)o->washout);
  if (o->discard < 0 || o->warmup < 2 || o->horizon < 1 || o->trials < 1 || o->train > 100000000 || o->discard > 100000000 ||
      (o->warmup + o->horizon) * o->trials > 100000000)
    return nd_cli_cmd_fail(CMD, 2, "--discard >= 0, --warmup >= 2, --horizon >= 1, --trials >= 1, each part <= 1e8 steps");
  if (o->plast_epochs < 1 || o->read_epochs < 1 || o->plast_epochs > 100000 || o->read_epochs > 100000)
    return nd_cli_cmd_fail(CMD, 2, "--plasticity-epochs and --readout-epochs: need 1..100000");
  if (!(o->eta > 0 && o->eta < 1)) return nd_cli_cmd_fail(CMD, 2, "--plasticity-eta %g: need (0, 1)", o->eta);
  if (!(o->ip_sigma > 0 && o->ip_sigma < 1e3) || !isfinite(o->ip_mu))
    return nd_cli_cmd_fail(CMD, 2, "--ip-sigma %g, --ip-mu %g: need sigma > 0, mu finite", o->ip_sigma, o->ip_mu);
  if (!(o->alpha > 0 && o->alpha < 1e30)) return nd_cli_cmd_fail(CMD, 2, "--rls-alpha %g: need > 0", o->alpha);
  if (!(o->lambda > 0 && o->lambda <= 1)) return nd_cli_cmd_fail(CMD, 2, "--rls-lambda %g: need (0, 1]", o->lambda);
  if (!(o->dt > 0 && o->dt < 1)) return nd_cli_cmd_fail(CMD, 2, "--dt %g: need (0, 1)", o->dt);
  if (o->stop_after < 0 || o->ckpt_every < 0) return nd_cli_cmd_fail(CMD, 2, "--stop-after and --checkpoint-every: need >= 0");
  return 0;
}

static int run_esn(const esn_opts *o, const nd_opts *spec, nd_run *run, const double *rad, int nr) {
  esn_run r = {.o = o, .spec = spec, .epochs = total_epochs(o)};
  double *example = NULL;
  nd_status s = make_series(o, &r.s);
  if (s == ND_OK) {
    double t0 = nd_cli_now();
    nd_esn_config c = make_config(o, r.s.d);
    s = o->resume ? load_checkpoint(&r) : nd_esn_create(&c, &r.e);
    if (!o->resume) r.train_s = nd_cli_now() - t0; /* creation (spectral radius included) counts as training */
  }
  int rc = s == ND_OK ? 0 : nd_cli_lib_fail(CMD, s);
  if (!rc) rc = nd_run_begin(run, o->resume ? o->resume : o->common.out, o->resume != NULL);
  nd_trainer t = {.self = &r, .epochs = r.epochs, .unit = "epochs", .epoch = r_epoch, .state = r_state,
                  .after_epoch = r_after_epoch, .figures = r_figures, .checkpoint = r_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = o->stop_after, .checkpoint_every = o->ckpt_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  if (!rc && r.epoch == r.epochs) { /* finished: the test windows, once */
    example = malloc((size_t)(o->horizon * r.s.d) * sizeof *example);
    s = example ? windows(r.e, o, &r.s, test0(o), &r.test, example) : nd_set_error(ND_ERR_NOMEM, "out of memory");
    if (s == ND_OK) s = write_results(&r, run, example);
    if (s == ND_OK && nr > 0) s = sweep(&r, run, rad, nr);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
    if (!rc && !o->common.quiet)
      printf("esn %lld x %lld units (rho %.3g): one-step NRMSE val %.3g test %.3g; %lld-step free-run NRMSE val %.3g test %.3g "
             "(log10 %.2f); training %.2f s; wrote %s\n",
             (long long)o->layers, (long long)o->units, nd_esn_spectral_radius(r.e), r.val.one_step, r.test.one_step,
             (long long)o->horizon, r.val.free_run, r.test.free_run, log10(r.test.free_run), r.train_s, run->dir);
  }
  nd_run_end(run);
  nd_esn_free(r.e);
  free(r.s.x), free(r.s.z), free(example);
  return rc;
}

int nd_cli_train_esn(int argc, char **argv) {
  esn_opts o;
  memset(&o, 0, sizeof o);
  static const char *const tasks[] = {"mackey-glass", "lorenz", NULL};
  static const char *const transforms[] = {"tanh", "none", NULL};
  static const char *const solvers[] = {"cholesky", "qr", NULL};
  static const char *const rhos[] = {"eig", "power", NULL};
  static const char *const readouts[] = {"ridge", "rls", "force", NULL};
  static const char *const rules[] = {"none", "ip", "decorrelate", NULL};
  const nd_option table[] = {
      {"task", ND_OPT_CHOICE, &o.task, "mackey-glass", "series: Mackey-Glass (tau 17, RK4 h 1) or Lorenz (Dormand-Prince, every --dt)", tasks},
      {"transform", ND_OPT_CHOICE, &o.transform, "tanh", "Mackey-Glass: the network sees tanh(x - 1) (Jaeger & Haas 2004) or x; NRMSE is on x", transforms},
      {"dt", ND_OPT_DOUBLE, &o.dt, "0.025", "Lorenz sampling interval (Gauthier et al. 2021)", NULL},
      {"units", ND_OPT_INT64, &o.units, "1000", "reservoir size N (per layer)", NULL},
      {"layers", ND_OPT_INT64, &o.layers, "1", "stacked reservoirs (deep ESN, Gallicchio et al. 2017); readout from all", NULL},
      {"inter-scaling", ND_OPT_DOUBLE, &o.inter, "1", "deep ESN: weights from layer l-1 to l uniform in [-s, s]", NULL},
      {"connectivity", ND_OPT_DOUBLE, &o.conn, "0.01", "fraction of non-zero reservoir weights", NULL},
      {"spectral-radius", ND_OPT_DOUBLE, &o.rho, "0.8", "spectral radius of each W", NULL},
      {"leak", ND_OPT_DOUBLE, &o.leak, "1", "leak rate a (1: no leak)", NULL},
      {"input-scaling", ND_OPT_DOUBLE, &o.in_scale, "1", "input weights uniform in [-s, s]", NULL},
      {"bias-scaling", ND_OPT_DOUBLE, &o.bias, "0.2", "bias weights uniform in [-s, s]", NULL},
      {"noise", ND_OPT_DOUBLE, &o.noise, "0", "state noise uniform in [-s, s] while training the readout (Jaeger & Haas 2004)", NULL},
      {"readout", ND_OPT_CHOICE, &o.readout, "ridge", "ridge (batch), rls (online, teacher input) or force (online, own output fed back)", readouts},
      {"ridge", ND_OPT_DOUBLE, &o.ridge, "1e-8", "ridge (Tikhonov) coefficient", NULL},
      {"solver", ND_OPT_CHOICE, &o.solver, "cholesky", "ridge solver: normal equations (dposv) or QR (dgels)", solvers},
      {"rls-alpha", ND_OPT_DOUBLE, &o.alpha, "1e-8", "rls/force: P(0) = I / alpha (the ridge of one pass)", NULL},
      {"rls-lambda", ND_OPT_DOUBLE, &o.lambda, "1", "rls/force: forgetting factor", NULL},
      {"readout-epochs", ND_OPT_INT64, &o.read_epochs, "1", "rls/force: passes over the training steps", NULL},
      {"plasticity", ND_OPT_CHOICE, &o.plasticity, "none", "local rule on the reservoir before the readout: ip (Schrauwen et al. 2008) or decorrelate (anti-Hebbian)", rules},
      {"plasticity-epochs", ND_OPT_INT64, &o.plast_epochs, "5", "passes of the rule over the training steps", NULL},
      {"plasticity-eta", ND_OPT_DOUBLE, &o.eta, "5e-4", "learning rate of the rule", NULL},
      {"ip-mu", ND_OPT_DOUBLE, &o.ip_mu, "0", "ip: target mean of the units' outputs", NULL},
      {"ip-sigma", ND_OPT_DOUBLE, &o.ip_sigma, "0.2", "ip: target standard deviation", NULL},
      {"rho-method", ND_OPT_CHOICE, &o.rho_method, "eig", "spectral radius by LAPACK dgeev or power iteration", rhos},
      {"washout", ND_OPT_INT64, &o.washout, "100", "reservoir warm-up steps before the fit", NULL},
      {"train", ND_OPT_INT64, &o.train, "3000", "training steps (washout included)", NULL},
      {"discard", ND_OPT_INT64, &o.discard, "1000", "transient of the series left out", NULL},
      {"warmup", ND_OPT_INT64, &o.warmup, "200", "teacher-forced steps before each free run", NULL},
      {"horizon", ND_OPT_INT64, &o.horizon, "84", "free-running steps scored (Jaeger & Haas 2004: 84)", NULL},
      {"trials", ND_OPT_INT64, &o.trials, "50", "windows in each of the validation and test parts", NULL},
      {"plot", ND_OPT_BOOL, &o.plot, "true", "write free_run.png", NULL},
      {"sweep-rho", ND_OPT_STRING, &o.sweep, NULL, "also train and score at these spectral radii (e.g. 0.5,0.8,1.1): rho_sweep.png/json", NULL},
      {"resume", ND_OPT_STRING, &o.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &o.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: to the end)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &o.ckpt_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      ND_OPT_COMMON(&o.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options] --out DIR",
                        "Trains an echo-state network (plain or deep; reservoir optionally adapted by intrinsic plasticity "
                        "or anti-Hebbian decorrelation; readout by ridge, RLS or FORCE) to predict the next value of "
                        "Mackey-Glass (tau = 17) or Lorenz, and scores one-step and free-running NRMSE on validation and "
                        "test windows. Writes config.json, metrics.jsonl, checkpoint.safetensors (resumable), "
                        "metrics.json and free_run.png into DIR. docs/reservoir.md.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&o.common);
  rc = 0;
  if (!o.common.out && !o.resume) rc = nd_cli_cmd_fail(CMD, 2, "--out DIR is required");
  if (!rc) rc = check_opts(&o);
  nd_esn_config c = make_config(&o, o.task == TASK_LORENZ ? 3 : 1);
  nd_status s = rc ? ND_OK : nd_esn_config_check(&c);
  if (s != ND_OK) rc = nd_run_setting_fail(CMD, &spec, s);
  double radii[64];
  int nr = 0;
  if (!rc && o.sweep && (s = parse_list(o.sweep, radii, &nr)) != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  if (!rc) rc = run_esn(&o, &spec, &run, radii, nr);
  nd_args_release(&args);
  return rc;
}
