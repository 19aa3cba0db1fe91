/* neurodyn train esn: an echo-state network (include/neurodyn/reservoir.h)
 * trained by ridge regression to predict the next value of a chaotic series,
 * scored one step ahead and free-running (Jaeger & Haas 2004, Science 304:78:
 * the NRMSE after 84 free-running steps).  docs/reservoir.md.
 *
 * The series (Mackey-Glass, tau = 17, RK4 with h = 1) is split in time:
 * `discard` transient steps, `train` steps for the fit (the first `washout`
 * of them only warm the reservoir up), then a validation and a test part of
 * `trials` windows each: a window teacher-forces `warmup` steps and then runs
 * free for `horizon` steps.  One-step NRMSE is measured on the second half
 * of the teacher-forced steps of the windows; the free-run NRMSE at the horizon over the windows,
 * normalised by the series' variance (J&H 2004). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "neurodyn/io.h"
#include "neurodyn/reservoir.h"
#include "options.h"
#include "out_command.h"

#define CMD "train esn"
#define ND_TRY_OR_RETURN(e)      \
  do {                           \
    nd_status s_ = (e);          \
    if (s_ != ND_OK) return s_;  \
  } while (0)

typedef struct esn_opts {
  int task, transform, solver, rho_method;
  int64_t units, washout, train, discard, warmup, horizon, trials;
  double conn, rho, leak, in_scale, bias, ridge;
  bool plot;
  const char *sweep; /* comma-separated spectral radii, or NULL */
  nd_cli_common common;
} esn_opts;

typedef struct score {
  double one_step, free_run; /* NRMSE, one step over the warm-ups, at the horizon */
} score;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `trials` windows starting at s0, s0 + (warmup + horizon), ... of series x */
/* the series the network sees, and back (Jaeger & Haas 2004 fed tanh(x - 1)) */
static double to_net(const esn_opts *o, double x) { return o->transform == 0 ? tanh(x - 1) : x; }
static double from_net(const esn_opts *o, double z) {
  if (o->transform != 0) return z;
  return z >= 1 ? INFINITY : z <= -1 ? -INFINITY : atanh(z) + 1;
}

static nd_status windows(nd_esn *e, const esn_opts *o, const double *z, const double *x, int64_t s0, double var,
                         score *sc, double *example) {
  int64_t W = o->warmup + o->horizon;
  double e1 = 0, eh = 0;
  int64_t n1 = 0;
  double *y = malloc((size_t)W * sizeof *y);
  if (!y) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_status st = ND_OK;
  for (int64_t i = 0; i < o->trials && st == ND_OK; i++) {
    const double *w = x + s0 + i * W;
    st = nd_esn_reset(e);
    if (st == ND_OK) st = nd_esn_run(e, z + s0 + i * W, o->warmup, y); /* y[t] predicts w[t + 1] */
    for (int64_t t = 0; t < o->warmup; t++) y[t] = from_net(o, y[t]);
    /* one-step errors over the second half of the warm-up (the first half is the reservoir's own transient) */
    for (int64_t t = o->warmup / 2; t + 1 < o->warmup && st == ND_OK; t++) e1 += (y[t] - w[t + 1]) * (y[t] - w[t + 1]), n1++;
    if (st == ND_OK) st = nd_esn_generate(e, o->horizon - 1, y + o->warmup); /* from the state, in the network's units */
    if (st == ND_ERR_NUMERIC) { /* the free run diverged: an infinite error, not a failure */
      nd_clear_error();
      st = ND_OK, eh = INFINITY;
      continue;
    }
    if (st != ND_OK) break;
    for (int64_t t = o->warmup; t < W; t++) y[t] = from_net(o, y[t]);
    /* y[warmup - 1] predicts w[warmup] (1 step into the free run); y[warmup - 2 + h] predicts w[warmup - 1 + h] */
    double d = y[o->warmup - 2 + o->horizon] - w[o->warmup - 1 + o->horizon];
    eh += d * d;
    if (i == 0 && example)
      for (int64_t t = 0; t < o->horizon; t++) example[t] = y[o->warmup - 1 + t];
  }
  free(y);
  if (st != ND_OK) return st;
  sc->one_step = sqrt(e1 / (double)n1 / var);
  sc->free_run = sqrt(eh / (double)o->trials / var);
  return ND_OK;
}

static nd_status write_results(const esn_opts *o, const nd_opts *spec, const nd_esn *e, const score *val,
                               const score *test, double fit_s, const double *x, int64_t test0, const double *example) {
  char path[4096];
  nd_status st = nd_cli_mkdirs(o->common.out);
  if (st != ND_OK) return st;
  cJSON *root = nd_opts_to_json(spec);
  cJSON *m = root ? cJSON_AddObjectToObject(root, "results") : NULL;
  if (!m) {
    cJSON_Delete(root);
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  cJSON_AddNumberToObject(m, "spectral_radius_measured", nd_esn_spectral_radius(e));
  cJSON_AddNumberToObject(m, "reservoir_nnz", (double)nd_esn_nnz(e));
  cJSON_AddNumberToObject(m, "fit_s", fit_s);
  cJSON_AddNumberToObject(m, "val_nrmse_1", val->one_step);
  cJSON_AddNumberToObject(m, "val_nrmse_horizon", val->free_run);
  cJSON_AddNumberToObject(m, "test_nrmse_1", test->one_step);
  cJSON_AddNumberToObject(m, "test_nrmse_horizon", test->free_run);
  cJSON_AddNumberToObject(m, "test_log10_nrmse_horizon", log10(test->free_run));
  snprintf(path, sizeof path, "%s/metrics.json", o->common.out);
  ND_TRY_OR_RETURN(nd_cli_write_json(root, path));
  if (o->plot) {
    int64_t H = o->horizon;
    double *t = malloc((size_t)H * sizeof *t);
    if (!t) return nd_set_error(ND_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < H; k++) t[k] = (double)(k + 1);
    const double *truth = x + test0 + o->warmup;
    nd_plot_series s[2] = {{t, truth, (int)H, "Mackey-Glass"}, {t, example, (int)H, "ESN free run"}};
    snprintf(path, sizeof path, "%s/free_run.png", o->common.out);
    st = nd_png_plot_lines(path, 2, s, &(nd_plot_opts){.title = "first test window", .x_label = "steps into the free run"});
    free(t);
    if (st != ND_OK) return st;
  }
  if (!o->common.quiet)
    printf("esn %lld units (rho %.3g): one-step NRMSE val %.3g test %.3g; %lld-step free-run NRMSE val %.3g test %.3g "
           "(log10 %.2f); fit %.2f s; wrote %s\n",
           (long long)o->units, nd_esn_spectral_radius(e), val->one_step, test->one_step, (long long)o->horizon,
           val->free_run, test->free_run, log10(test->free_run), fit_s, o->common.out);
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

/* Free-run NRMSE (validation, test) at each radius of the sweep: rho_sweep.json and .png. */
static nd_status sweep(const esn_opts *o, nd_esn_config c, const double *r, int nr, const double *z, const double *x,
                       int64_t val0, int64_t test0, double var) {
  double v[64], t[64];
  nd_status st = ND_OK;
  for (int i = 0; i < nr && st == ND_OK; i++) {
    nd_esn *e = NULL;
    score a = {0}, b = {0};
    c.spectral_radius = r[i];
    st = nd_esn_create(&c, &e);
    if (st == ND_OK) st = nd_esn_fit(e, z + o->discard, z + o->discard + 1, o->train);
    if (st == ND_OK) st = windows(e, o, z, x, val0, var, &a, NULL);
    if (st == ND_OK) st = windows(e, o, z, x, test0, var, &b, NULL);
    nd_esn_free(e);
    v[i] = a.free_run, t[i] = b.free_run;
    if (st == ND_OK && !o->common.quiet) printf("  rho %.3g: %lld-step NRMSE val %.3g test %.3g\n", r[i], (long long)o->horizon, v[i], t[i]);
  }
  if (st != ND_OK) return st;
  char path[4096];
  cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "sweep") : NULL;
  for (int i = 0; arr && i < nr; i++) {
    cJSON *it = cJSON_CreateObject();
    if (!it) break;
    cJSON_AddNumberToObject(it, "spectral_radius", r[i]);
    cJSON_AddNumberToObject(it, "val_nrmse_horizon", isfinite(v[i]) ? v[i] : -1);
    cJSON_AddNumberToObject(it, "test_nrmse_horizon", isfinite(t[i]) ? t[i] : -1);
    cJSON_AddItemToArray(arr, it);
  }
  if (!arr) {
    cJSON_Delete(root);
    return nd_set_error(ND_ERR_NOMEM, "out of memory");
  }
  snprintf(path, sizeof path, "%s/rho_sweep.json", o->common.out);
  ND_TRY_OR_RETURN(nd_cli_write_json(root, path));
  nd_plot_series s[2] = {{r, v, nr, "validation"}, {r, t, nr, "test"}};
  snprintf(path, sizeof path, "%s/rho_sweep.png", o->common.out);
  return nd_png_plot_lines(path, 2, s, &(nd_plot_opts){.log_y = true, .title = "free-run NRMSE at the horizon",
                                                         .x_label = "spectral radius", .y_label = "NRMSE"});
}

static nd_status train(const esn_opts *o, const nd_opts *spec) {
  nd_esn_config c = nd_esn_defaults();
  c.units = o->units, c.connectivity = o->conn, c.spectral_radius = o->rho, c.leak = o->leak;
  c.input_scaling = o->in_scale, c.bias_scaling = o->bias, c.ridge = o->ridge, c.washout = o->washout;
  c.seed = (uint64_t)o->common.seed, c.solver = (nd_ridge_solver)o->solver;
  c.rho_method = (nd_esn_rho_method)o->rho_method;
  ND_TRY_OR_RETURN(nd_esn_config_check(&c));
  double radii[64];
  int nr = 0;
  if (o->sweep) ND_TRY_OR_RETURN(parse_list(o->sweep, radii, &nr));
  if (o->train <= o->washout) return nd_set_error(ND_ERR_INVALID_ARG, "--train %lld must exceed --washout %lld", (long long)o->train, (long long)o->washout);
  if (o->discard < 0 || o->warmup < 2 || o->horizon < 1 || o->trials < 1 || o->train > 100000000 ||
      o->discard > 100000000 || (o->warmup + o->horizon) * o->trials > 100000000)
    return nd_set_error(ND_ERR_INVALID_ARG, "--discard >= 0, --warmup >= 2, --horizon >= 1, --trials >= 1, each part <= 1e8 steps");
  int64_t W = o->warmup + o->horizon, val0 = o->discard + o->train, test0 = val0 + o->trials * W;
  int64_t n = test0 + o->trials * W + 1;
  double *x = malloc((size_t)n * sizeof *x), *example = malloc((size_t)o->horizon * sizeof *example);
  double *z = malloc((size_t)n * sizeof *z);
  nd_esn *e = NULL;
  nd_status st = (!x || !z || !example) ? nd_set_error(ND_ERR_NOMEM, "out of memory") : ND_OK;
  if (st == ND_OK) st = nd_mackey_glass(n, 17, 0.2, 0.1, 10, 1.2, 1, x);
  for (int64_t k = 0; st == ND_OK && k < n; k++) z[k] = to_net(o, x[k]);
  double mean = 0, var = 0;
  for (int64_t k = o->discard; st == ND_OK && k < n; k++) mean += x[k] / (double)(n - o->discard);
  for (int64_t k = o->discard; st == ND_OK && k < n; k++) var += (x[k] - mean) * (x[k] - mean) / (double)(n - o->discard);
  double t0 = now_s();
  if (st == ND_OK) st = nd_esn_create(&c, &e);
  if (st == ND_OK) st = nd_esn_fit(e, z + o->discard, z + o->discard + 1, o->train);
  double fit_s = now_s() - t0;
  score val = {0}, test = {0};
  if (st == ND_OK) st = windows(e, o, z, x, val0, var, &val, NULL);
  if (st == ND_OK) st = windows(e, o, z, x, test0, var, &test, example);
  if (st == ND_OK) st = write_results(o, spec, e, &val, &test, fit_s, x, test0, example);
  nd_esn_free(e);
  if (st == ND_OK && nr > 0) st = sweep(o, c, radii, nr, z, x, val0, test0, var);
  free(x), free(z), free(example);
  return st;
}

static nd_status train_cb(const nd_opts *spec, void *user) { return train((const esn_opts *)user, spec); }

int nd_cli_train_esn(int argc, char **argv) {
  esn_opts o = {0};
  static const char *const tasks[] = {"mackey-glass", NULL};
  static const char *const transforms[] = {"tanh", "none", NULL};
  static const char *const solvers[] = {"cholesky", "qr", NULL};
  static const char *const rhos[] = {"eig", "power", NULL};
  const nd_option table[] = {
      {"task", ND_OPT_CHOICE, &o.task, "mackey-glass", "series to predict (Mackey-Glass tau = 17, RK4 h = 1)", tasks},
      {"transform", ND_OPT_CHOICE, &o.transform, "tanh", "the network sees tanh(x - 1) (Jaeger & Haas 2004) or x itself; NRMSE is on x", transforms},
      {"units", ND_OPT_INT64, &o.units, "1000", "reservoir size N", NULL},
      {"connectivity", ND_OPT_DOUBLE, &o.conn, "0.01", "fraction of non-zero reservoir weights", NULL},
      {"spectral-radius", ND_OPT_DOUBLE, &o.rho, "0.8", "spectral radius of W", NULL},
      {"leak", ND_OPT_DOUBLE, &o.leak, "1", "leak rate a (1: no leak)", NULL},
      {"input-scaling", ND_OPT_DOUBLE, &o.in_scale, "1", "input weights uniform in [-s, s]", NULL},
      {"bias-scaling", ND_OPT_DOUBLE, &o.bias, "0.2", "bias weights uniform in [-s, s]", NULL},
      {"ridge", ND_OPT_DOUBLE, &o.ridge, "1e-8", "ridge (Tikhonov) coefficient", NULL},
      {"rho-method", ND_OPT_CHOICE, &o.rho_method, "eig", "spectral radius by LAPACK dgeev or power iteration", rhos},
      {"solver", ND_OPT_CHOICE, &o.solver, "cholesky", "ridge solver: normal equations (dposv) or QR (dgels)", solvers},
      {"washout", ND_OPT_INT64, &o.washout, "100", "reservoir warm-up steps before the fit", NULL},
      {"train", ND_OPT_INT64, &o.train, "3000", "training steps (washout included)", NULL},
      {"discard", ND_OPT_INT64, &o.discard, "1000", "transient of the series left out", NULL},
      {"warmup", ND_OPT_INT64, &o.warmup, "200", "teacher-forced steps before each free run", NULL},
      {"horizon", ND_OPT_INT64, &o.horizon, "84", "free-running steps scored (Jaeger & Haas 2004: 84)", NULL},
      {"trials", ND_OPT_INT64, &o.trials, "50", "windows in each of the validation and test parts", NULL},
      {"plot", ND_OPT_BOOL, &o.plot, "true", "write free_run.png", NULL},
      {"sweep-rho", ND_OPT_STRING, &o.sweep, NULL, "also score these spectral radii (e.g. 0.5,0.8,1.1): rho_sweep.png/json", NULL},
      ND_OPT_COMMON(&o.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "[options] --out DIR",
                        "Trains an echo-state network's ridge readout to predict the next value of Mackey-Glass "
                        "(tau = 17) and scores one-step and free-running NRMSE on validation and test windows; "
                        "writes metrics.json and free_run.png into DIR.",
                        table, 0, 0};
  return nd_cli_out_command(CMD, &spec, &o.common, argc, argv, train_cb, &o);
}
