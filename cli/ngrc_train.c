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

#define CMD "train ngrc"

typedef struct ngrc_opts {
  int task;
  int64_t delays, spacing, train, discard, horizon, trials;
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

static nd_status run(const ngrc_opts *o, const nd_opts *spec) {
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
  if (st == ND_OK) st = nd_cli_mkdirs(o->common.out);
  if (st == ND_OK) {
    cJSON *root = nd_opts_to_json(spec), *r = root ? cJSON_AddObjectToObject(root, "results") : NULL;
    if (!r) {
      cJSON_Delete(root);
      st = nd_set_error(ND_ERR_NOMEM, "out of memory");
    } else {
      char path[4096];
      cJSON_AddNumberToObject(r, "features", (double)nd_ngrc_features(m));
      cJSON_AddNumberToObject(r, "val_nrmse", isfinite(v) ? v : -1);
      cJSON_AddNumberToObject(r, "test_nrmse", isfinite(t) ? t : -1);
      snprintf(path, sizeof path, "%s/metrics.json", o->common.out);
      st = nd_cli_write_json(root, path);
    }
  }
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
  static const char *const tasks[] = {"lorenz", NULL};
  const nd_option table[] = {
      {"task", ND_OPT_CHOICE, &o.task, "lorenz", "series (Lorenz 1963, sampled by Dormand-Prince)", tasks},
      {"dt", ND_OPT_DOUBLE, &o.dt, "0.025", "sampling interval (Gauthier et al. 2021)", NULL},
      {"delays", ND_OPT_INT64, &o.delays, "2", "k time-delayed copies of the input", NULL},
      {"spacing", ND_OPT_INT64, &o.spacing, "1", "s steps between the delays", NULL},
      {"ridge", ND_OPT_DOUBLE, &o.ridge, "1e-3", "ridge coefficient (chosen on validation; the paper's 2.5e-6 diverges)", NULL},
      {"train", ND_OPT_INT64, &o.train, "400", "training points (Gauthier et al. 2021: 400)", NULL},
      {"discard", ND_OPT_INT64, &o.discard, "400", "transient left out", NULL},
      {"horizon", ND_OPT_INT64, &o.horizon, "44", "forecast steps per window (one Lyapunov time at dt 0.025)", NULL},
      {"trials", ND_OPT_INT64, &o.trials, "20", "windows in each of the validation and test parts", NULL},
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
