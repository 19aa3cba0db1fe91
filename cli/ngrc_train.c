/* neurodyn train ngrc: next-generation reservoir computing (Gauthier et al.
 * 2021, Nat. Commun. 12:5564; include/neurodyn/reservoir.h) on the Lorenz
 * system sampled every dt: fit on `train` points after a `discard`
 * transient, then forecast `horizon` steps (default one Lyapunov time,
 * 1.1 time units = 44 steps of 0.025) from `trials` validation and `trials`
 * test windows, each starting from the true history.  NRMSE over the window,
 * each component normalised by its variance (the paper's measure).
 * docs/reservoir.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "neurodyn/reservoir.h"
#include "options.h"
#include "out_command.h"
#include "progress.h"

#define CMD "train ngrc"
#define ND_TRY_CLI(e)           \
  do {                          \
    nd_status s_ = (e);         \
    if (s_ != ND_OK) return s_; \
  } while (0)

typedef struct ngrc_opts {
  int task;
  int64_t delays, spacing, train, discard, horizon, trials, warmup;
  double ridge, dt;
  nd_cli_common common;
} ngrc_opts;

/* forecast NRMSE over `trials` windows of `horizon` steps from start s0 */
static nd_status score(const nd_ngrc *m, const ngrc_opts *o, const double *u, int64_t s0, const double *var,
                       double *nrmse) {
  double *y = malloc((size_t)(o->horizon * 3) * sizeof *y), se = 0;
  if (!y) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_status st = ND_OK;
  for (int64_t i = 0; i < o->trials && st == ND_OK; i++) {
    int64_t t0 = s0 + i * o->horizon; /* history u[..t0), forecast u[t0 .. t0 + horizon) */
    st = nd_ngrc_forecast(m, u, t0, o->horizon, y);
    if (st == ND_ERR_NUMERIC) { /* diverged: an infinite error */
      nd_clear_error();
      st = ND_OK, se = INFINITY;
      continue;
    }
    for (int64_t k = 0; k < o->horizon * 3 && st == ND_OK; k++) {
      double d = y[k] - u[t0 * 3 + k];
      se += d * d / var[k % 3];
    }
  }
  free(y);
  *nrmse = sqrt(se / (double)(o->trials * o->horizon * 3));
  return st;
}

/* DIR/metrics.json: the options and results {features, keys: vals (-1 when not finite)} */
static nd_status write_metrics(const ngrc_opts *o, const nd_opts *spec, const nd_ngrc *m, int n, const char *const *keys,
                               const double *vals) {
  ND_TRY_CLI(nd_cli_mkdirs(o->common.out));
  cJSON *root = nd_opts_to_json(spec), *r = root ? cJSON_AddObjectToObject(root, "results") : NULL;
  if (!r) {
    cJSON_Delete(root);
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  cJSON_AddNumberToObject(r, "features", (double)nd_ngrc_features(m));
  for (int k = 0; k < n; k++) cJSON_AddNumberToObject(r, keys[k], isfinite(vals[k]) ? vals[k] : -1);
  char path[4096];
  snprintf(path, sizeof path, "%s/metrics.json", o->common.out);
  return nd_cli_write_json(root, path);
}

/* Mackey-Glass in the windows of `train esn` (cli/esn_train.c): window i of a
 * part starting at s0 is x[s0 + i W ..), W = warmup + horizon; the one-step
 * forecasts over the second half of its first `warmup` points (each from the
 * true history), and the free run from the history x[.. s0 + i W + warmup):
 * the error at the horizon and over the run, normalised by var. */
static nd_status score_mg(const nd_ngrc *m, const ngrc_opts *o, const double *x, int64_t s0, double var, double r[3]) {
  int64_t W = o->warmup + o->horizon, n1 = 0;
  double *y = malloc((size_t)o->horizon * sizeof *y), e1 = 0, eh = 0, ew = 0;
  if (!y) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_status st = ND_OK;
  for (int64_t i = 0; i < o->trials && st == ND_OK; i++) {
    int64_t w0 = s0 + i * W;
    for (int64_t t = o->warmup / 2; t + 1 < o->warmup && st == ND_OK; t++, n1++) { /* predicts x[w0 + t + 1] */
      st = nd_ngrc_forecast(m, x, w0 + t + 1, 1, y);
      if (st == ND_OK) e1 += (y[0] - x[w0 + t + 1]) * (y[0] - x[w0 + t + 1]);
    }
    if (st == ND_OK) st = nd_ngrc_forecast(m, x, w0 + o->warmup, o->horizon, y);
    if (st == ND_ERR_NUMERIC) { /* diverged: an infinite error */
      nd_clear_error();
      st = ND_OK, eh = ew = INFINITY;
      continue;
    }
    for (int64_t h = 0; h < o->horizon && st == ND_OK; h++) {
      double d = y[h] - x[w0 + o->warmup + h];
      ew += d * d;
      if (h == o->horizon - 1) eh += d * d;
    }
  }
  free(y);
  r[0] = sqrt(e1 / (double)n1 / var), r[1] = sqrt(eh / (double)o->trials / var), r[2] = sqrt(ew / (double)(o->trials * o->horizon) / var);
  return st;
}

static nd_status run_mg(const ngrc_opts *o, const nd_opts *spec) {
  nd_ngrc_config c = {.inputs = 1, .delays = o->delays, .spacing = o->spacing, .ridge = o->ridge};
  int64_t back = (o->delays - 1) * o->spacing, W = o->warmup + o->horizon;
  if (o->train < 2 || o->discard < back || o->horizon < 1 || o->trials < 1 || o->warmup < 2 || o->warmup <= back ||
      o->train + o->discard + 2 * o->trials * W > 100000000)
    return nd_set_error(ND_ERR_INVALID_ARG, "--train >= 2, --discard and --warmup > (delays-1)*spacing, --horizon, --trials >= 1");
  nd_ngrc *m = NULL;
  ND_TRY_CLI(nd_ngrc_create(&c, &m));
  int64_t val0 = o->discard + o->train, test0 = val0 + o->trials * W, n = test0 + o->trials * W + 1;
  double *x = malloc((size_t)n * sizeof *x), mean = 0, var = 0, v[3] = {NAN, NAN, NAN}, t[3] = {NAN, NAN, NAN};
  nd_status st = x ? nd_mackey_glass(n, 17, 0.2, 0.1, 10, 1.2, 1, x) : nd_set_error(ND_ERR_NOMEM, "out of memory");
  for (int64_t k = o->discard; st == ND_OK && k < n; k++) mean += x[k] / (double)(n - o->discard);
  for (int64_t k = o->discard; st == ND_OK && k < n; k++) var += (x[k] - mean) * (x[k] - mean) / (double)(n - o->discard);
  double t0 = nd_cli_now();
  if (st == ND_OK) st = nd_ngrc_fit(m, x + o->discard - back, o->train + back);
  double fit_s = nd_cli_now() - t0;
  if (st == ND_OK) st = score_mg(m, o, x, val0, var, v);
  if (st == ND_OK) st = score_mg(m, o, x, test0, var, t);
  static const char *const keys[7] = {"fit_s", "val_nrmse_1", "val_nrmse_horizon", "val_nrmse_window",
                                       "test_nrmse_1", "test_nrmse_horizon", "test_nrmse_window"};
  double vals[7] = {fit_s, v[0], v[1], v[2], t[0], t[1], t[2]};
  if (st == ND_OK) st = write_metrics(o, spec, m, 7, keys, vals);
  if (st == ND_OK && !o->common.quiet)
    printf("ngrc (%lld features): Mackey-Glass one-step NRMSE val %.3g test %.3g; %lld-step free-run NRMSE val %.3g test %.3g; wrote %s\n",
           (long long)nd_ngrc_features(m), v[0], t[0], (long long)o->horizon, v[1], t[1], o->common.out);
  free(x);
  nd_ngrc_free(m);
  return st;
}

static nd_status run(const ngrc_opts *o, const nd_opts *spec) {
  if (o->task == 1) return run_mg(o, spec);
  nd_ngrc_config c = {.inputs = 3, .delays = o->delays, .spacing = o->spacing, .ridge = o->ridge};
  nd_ngrc *m = NULL;
  nd_status st = nd_ngrc_create(&c, &m);
  if (st != ND_OK) return st;
  if (o->train < 2 || o->discard < (o->delays - 1) * o->spacing || o->horizon < 1 || o->trials < 1 ||
      !(o->dt > 0 && o->dt < 1) || (o->train + o->discard + 2 * o->trials * o->horizon) > 10000000) {
    nd_ngrc_free(m);
    return nd_set_error(ND_ERR_INVALID_ARG, "--train >= 2, --discard >= (delays-1)*spacing, --horizon, --trials >= 1, "
                                            "0 < --dt < 1, at most 1e7 points in all");
  }
  int64_t val0 = o->discard + o->train, test0 = val0 + o->trials * o->horizon, n = test0 + o->trials * o->horizon;
  double *u = malloc((size_t)(n * 3) * sizeof *u), x0[3] = {17.68, 12.93, 43.91}, mean[3] = {0}, var[3] = {0};
  if (!u) st = nd_set_error(ND_ERR_NOMEM, "out of memory");
  if (st == ND_OK) st = nd_lorenz(n, o->dt, x0, 10, 28, 8.0 / 3, u);
  for (int64_t k = o->discard; st == ND_OK && k < n; k++)
    for (int i = 0; i < 3; i++) mean[i] += u[k * 3 + i] / (double)(n - o->discard);
  for (int64_t k = o->discard; st == ND_OK && k < n; k++)
    for (int i = 0; i < 3; i++) var[i] += (u[k * 3 + i] - mean[i]) * (u[k * 3 + i] - mean[i]) / (double)(n - o->discard);
  /* the fit sees the delays before the training points: start (k-1)s earlier */
  int64_t back = (o->delays - 1) * o->spacing;
  if (st == ND_OK) st = nd_ngrc_fit(m, u + (o->discard - back) * 3, o->train + back);
  double v = NAN, t = NAN;
  if (st == ND_OK) st = score(m, o, u, val0, var, &v);
  if (st == ND_OK) st = score(m, o, u, test0, var, &t);
  static const char *const keys[2] = {"val_nrmse", "test_nrmse"};
  if (st == ND_OK) st = write_metrics(o, spec, m, 2, keys, (double[2]){v, t});
  if (st == ND_OK && !o->common.quiet)
    printf("ngrc (%lld features, ridge %g): %lld-step forecast NRMSE val %.3g test %.3g; wrote %s\n",
           (long long)nd_ngrc_features(m), o->ridge, (long long)o->horizon, v, t, o->common.out);
  free(u);
  nd_ngrc_free(m);
  return st;
}

static nd_status run_cb(const nd_opts *spec, void *user) { return run((const ngrc_opts *)user, spec); }

int nd_cli_train_ngrc(int argc, char **argv) {
  ngrc_opts o = {0};
  static const char *const tasks[] = {"lorenz", "mackey-glass", NULL};
  const nd_option table[] = {
      {"task", ND_OPT_CHOICE, &o.task, "lorenz", "series: Lorenz 1963 (Dormand-Prince) or Mackey-Glass (tau 17, RK4 h 1; the windows of train esn)", tasks},
      {"dt", ND_OPT_DOUBLE, &o.dt, "0.025", "sampling interval (Gauthier et al. 2021)", NULL},
      {"delays", ND_OPT_INT64, &o.delays, "2", "k time-delayed copies of the input", NULL},
      {"spacing", ND_OPT_INT64, &o.spacing, "1", "s steps between the delays", NULL},
      {"ridge", ND_OPT_DOUBLE, &o.ridge, "1e-3", "ridge coefficient (chosen on validation; the paper's 2.5e-6 diverges)", NULL},
      {"train", ND_OPT_INT64, &o.train, "400", "training points (Gauthier et al. 2021: 400)", NULL},
      {"discard", ND_OPT_INT64, &o.discard, "400", "transient left out", NULL},
      {"horizon", ND_OPT_INT64, &o.horizon, "44", "forecast steps per window (one Lyapunov time at dt 0.025)", NULL},
      {"trials", ND_OPT_INT64, &o.trials, "20", "windows in each of the validation and test parts", NULL},
      {"warmup", ND_OPT_INT64, &o.warmup, "200", "Mackey-Glass: true points before each free run (one-step scored on their second half)", NULL},
      ND_OPT_COMMON(&o.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options] --out DIR",
                        "Fits an NG-RC readout (constant, linear and quadratic features of time-delayed inputs) "
                        "to the Lorenz system and scores fed-back forecasts on validation and test windows; "
                        "writes metrics.json into DIR.",
                        table, 0, 0};
  return nd_cli_out_command(CMD, &spec, &o.common, argc, argv, run_cb, &o);
}
