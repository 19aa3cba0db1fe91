/* neurodyn train: Krotov-Hopfield models.
 *
 *   neurodyn train krotov       unsupervised layer (fast rule or ODE model), resumable
 *   neurodyn train krotov-top   supervised top layer on a frozen hidden layer (Eq. 11-12)
 *   neurodyn train mlp-baseline the same architecture trained end to end by backprop
 *
 * Every run writes into --out: config.json, metrics.jsonl, checkpoints
 * (safetensors, atomic) and PNG figures.  docs/krotov.md lists every flag. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "core/internal.h"
#include "options.h"

/* Designated initialisers: independent of optional trailing fields of nd_option. */
#define KOPT(nm, ty, de, df, hp, ch) {.name = (nm), .type = (ty), .dest = (de), .def = (df), .help = (hp), .choices = (ch)}
#include "progress.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/krotov.h"

/* ------------------------------------------------------------ shared helpers */

static double wall_now(void) { return nd_cli_now(); }

static int make_dir(const char *cmd, const char *dir) {
  nd_status s = nd_cli_mkdirs(dir);
  return s == ND_OK ? 0 : nd_cli_cmd_fail(cmd, 1, "%s", nd_last_error());
}

static nd_status load_split(const char *dataset, const char *split, int64_t limit, nd_dataset *out) {
  if (strcmp(dataset, "fashion-mnist") == 0) return nd_fashion_mnist_load(NULL, split, limit, out);
  return nd_mnist_load(NULL, split, limit, out);
}

static int load_data(const char *cmd, const char *dataset, int64_t limit, nd_dataset *train, nd_dataset *test) {
  memset(train, 0, sizeof *train);
  if (test) memset(test, 0, sizeof *test);
  nd_status s = load_split(dataset, "train", limit, train);
  if (s == ND_OK && test) s = load_split(dataset, "test", limit, test);
  if (s != ND_OK) {
    int rc = nd_cli_cmd_fail(cmd, 2, "%s (run `make data` or `neurodyn data fetch` to download it)", nd_last_error());
    nd_dataset_release(train);
    if (test) nd_dataset_release(test);
    return rc;
  }
  return 0;
}

static void join(char *buf, size_t len, const char *dir, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

/* --------------------------------------------------------------- krotov */

typedef struct krotov_args {
  int64_t hidden, k, epochs, batch, png_every, limit, stop_after, seed, threads;
  double p, delta, eps0;
  /* ODE model (--rule ode) */
  double w_inh, h_star, tau, tau_l, dt, t_max, ode_lr, ode_lr_end;
  const char *integrator;
  const char *rule, *dataset, *precision, *out, *resume, *config;
  bool quiet;
} krotov_args;

/* Mean p-norm of the rows of W and the fraction of "converged" rows: those
 * whose p-norm is within 1% of R = 1, the value Eq. 3 drives every row to. */
static void pnorm_stats(const float *w, int64_t h, int64_t d, double p, double *mean, double *frac) {
  double sum = 0.0;
  int64_t conv = 0;
  for (int64_t r = 0; r < h; r++) {
    double s = 0.0;
    const float *x = w + r * d;
    for (int64_t j = 0; j < d; j++) s += pow(fabs((double)x[j]), p);
    double nrm = pow(s, 1.0 / p);
    sum += nrm;
    conv += fabs(nrm - 1.0) <= 0.01;
  }
  *mean = sum / (double)h;
  *frac = (double)conv / (double)h;
}

/* Receptive fields as a signed (blue-white-red) grid, the notebook's
 * draw_weights colour map ('bwr', symmetric range).  Each tile is scaled to its
 * own max |W_mu|: with one range for all tiles (the notebook's choice) the few
 * units that have not yet shrunk to unit norm wash out every other tile. */
static nd_status write_fields(const char *path, const float *w, int64_t h, int rows, int cols) {
  int n = (int)(h > 400 ? 400 : h); /* at most a 20 x 20 grid */
  nd_png_tiles_opts o = {.cols = 0, .cmap = ND_CMAP_BWR, .zoom = 2, .global_range = false};
  return nd_png_write_tiles(path, w, n, rows, cols, &o);
}

static nd_status write_convergence(const char *path, const double *pn, const double *fr, int64_t n) {
  double *x = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (!x) return ND_ERR_NOMEM;
  for (int64_t i = 0; i < n; i++) x[i] = (double)(i + 1);
  nd_plot_series s[2] = {{.x = x, .y = pn, .n = (int)n, .label = "mean p-norm"},
                         {.x = x, .y = fr, .n = (int)n, .label = "fraction of units converged (|norm - 1| <= 1%)"}};
  nd_plot_opts o = {.width = 640, .height = 400, .title = "Krotov-Hopfield hidden layer convergence",
                    .x_label = "epoch"};
  nd_status st = nd_png_plot_lines(path, 2, s, &o);
  free(x);
  return st;
}

/* The two rules behind one small interface: the fast rule (krotov.h) or
 * the ODE model (the ODE model of krotov.h, float32). */
typedef struct rule {
  nd_krotov *fast;
  nd_krotov_ode *ode;
  double ode_lr, ode_lr_end;
  int64_t epochs;
} rule;

static const nd_tensor *rule_weights(rule *r) { return r->fast ? nd_krotov_weights(r->fast) : nd_krotov_ode_weights(r->ode); }

static nd_train_state rule_state(const rule *r) {
  nd_train_state s = {0};
  if (r->fast) nd_krotov_get_state(r->fast, &s);
  else nd_krotov_ode_get_state(r->ode, &s);
  return s;
}

static nd_status rule_set_state(rule *r, const nd_train_state *s) {
  if (r->fast) return nd_krotov_set_state(r->fast, s);
  return nd_krotov_ode_set_state(r->ode, s);
}

static nd_status rule_set_weights(rule *r, const nd_tensor *w) {
  return r->fast ? nd_krotov_set_weights(r->fast, w) : nd_krotov_ode_set_weights(r->ode, w);
}

/* Step size of epoch e: the fast rule's eps0 (1 - e/epochs); for the ODE
 * model the learning-time step falls linearly from ode_lr to ode_lr_end. */
static double rule_eps(const rule *r, const nd_krotov_config *c, int64_t e) {
  if (r->fast) return nd_krotov_eps(c, e);
  return r->epochs > 1 ? r->ode_lr + (r->ode_lr_end - r->ode_lr) * (double)e / (double)(r->epochs - 1) : r->ode_lr;
}

static nd_status rule_epoch(rule *r, const float *data, int64_t n, double eps, nd_progress_fn cb,
                            void *user) {
  if (r->fast) return nd_krotov_epoch(r->fast, data, n, cb, user);
  return nd_krotov_ode_epoch_lr(r->ode, data, n, eps, cb, user);
}

/* Checkpoint: W (float32; plus W_f64 in float64 mode), the rule state and the
 * per-epoch history, with every hyperparameter in the metadata. */
static nd_status save_krotov_checkpoint(const char *path, rule *kr, const nd_krotov_config *c, const krotov_args *a,
                                        int64_t epoch, const double *pn, const double *fr) {
  nd_train_state st = rule_state(kr);
  const nd_tensor *w = rule_weights(kr);
  nd_array wa = {.dtype = ND_DTYPE_F32, .ndim = 2, .shape = {c->hidden, c->visible}, .numel = c->hidden * c->visible,
                 .data = w->data};
  double *w64 = NULL;
  nd_array w64a = wa;
  int64_t state[3] = {st.epoch, (int64_t)st.rng_key, (int64_t)st.rng_counter};
  nd_array sa = {.dtype = ND_DTYPE_I64, .ndim = 1, .shape = {3}, .numel = 3, .data = state};
  nd_array pa = {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {epoch}, .numel = epoch, .data = (void *)pn};
  nd_array fa = {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {epoch}, .numel = epoch, .data = (void *)fr};
  const char *names[5] = {"W", "state", "history.mean_pnorm", "history.frac_converged", "W_f64"};
  const nd_array *arrs[5] = {&wa, &sa, &pa, &fa, &w64a};
  int n = 4;
  if (kr->fast && c->precision == ND_KROTOV_F64) {
    w64 = malloc(sizeof(double) * (size_t)(c->hidden * c->visible));
    if (!w64) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
    nd_krotov_weights_f64(kr->fast, w64);
    w64a.dtype = ND_DTYPE_F64;
    w64a.data = w64;
    n = 5;
  }
  char hv[32], vv[32], pv[32], kv[32], dv[32], ev[32], nv[32], bv[32], sv[32], epv[32], lv[32], gv[32];
  char o1[32], o2[32], o3[32], o4[32], o5[32], o6[32], o7[32], o8[32];
  snprintf(o1, sizeof o1, "%.17g", a->w_inh);
  snprintf(o2, sizeof o2, "%.17g", a->h_star);
  snprintf(o3, sizeof o3, "%.17g", a->tau);
  snprintf(o4, sizeof o4, "%.17g", a->tau_l);
  snprintf(o5, sizeof o5, "%.17g", a->dt);
  snprintf(o6, sizeof o6, "%.17g", a->t_max);
  snprintf(o7, sizeof o7, "%.17g", a->ode_lr);
  snprintf(o8, sizeof o8, "%.17g", a->ode_lr_end);
  snprintf(lv, sizeof lv, "%lld", (long long)a->limit);
  snprintf(gv, sizeof gv, "%lld", (long long)a->png_every);
  snprintf(hv, sizeof hv, "%lld", (long long)c->hidden);
  snprintf(vv, sizeof vv, "%lld", (long long)c->visible);
  snprintf(pv, sizeof pv, "%.17g", c->p);
  snprintf(kv, sizeof kv, "%lld", (long long)c->k);
  snprintf(dv, sizeof dv, "%.17g", c->delta);
  snprintf(ev, sizeof ev, "%.17g", c->eps0);
  snprintf(nv, sizeof nv, "%lld", (long long)c->epochs);
  snprintf(bv, sizeof bv, "%lld", (long long)c->batch);
  snprintf(sv, sizeof sv, "%llu", (unsigned long long)c->seed);
  snprintf(epv, sizeof epv, "%lld", (long long)epoch);
  const char *meta[] = {"model", "krotov", "rule", a->rule, "dataset", a->dataset, "precision", a->precision,
                        "hidden", hv, "visible", vv, "p", pv, "k", kv, "delta", dv, "eps0", ev, "epochs", nv,
                        "batch", bv, "seed", sv, "epochs_done", epv, "limit", lv, "png_every", gv, "w_inh", o1, "h_star", o2, "tau", o3, "tau_l", o4, "dt", o5,
                        "t_max", o6, "ode_lr", o7, "ode_lr_end", o8, "integrator", a->integrator, NULL};
  nd_status s = nd_safetensors_write_arrays(path, n, names, arrs, meta);
  free(w64);
  return s;
}

typedef struct bar_ctx {
  nd_progress *bar;
  int64_t epoch, epochs;
} bar_ctx;

static int on_batch(const nd_progress_info *info, void *user) {
  bar_ctx *b = user;
  int64_t done = info->done, total = info->total;
  if (done % 20 != 0 && done != total) return 0;
  nd_progress_update(b->bar, b->epoch * total + done, "epoch %lld/%lld", (long long)(b->epoch + 1), (long long)b->epochs);
  return 0;
}

/* --resume DIR: the run's own hyperparameters come from DIR's checkpoint
 * metadata (flags given now are ignored for them), so the continued run is
 * the same run. */
static nd_status resume_meta(const nd_safetensors *st, const char *path, krotov_args *a) {
  static char rule[16], dataset[32], precision[8];
  static char integ[16];
  const char *keys[] = {"hidden", "p", "k", "delta", "eps0", "epochs", "batch", "seed", "limit", "png_every",
                        "w_inh", "h_star", "tau", "tau_l", "dt", "t_max", "ode_lr", "ode_lr_end"};
  double *odes[8] = {&a->w_inh, &a->h_star, &a->tau, &a->tau_l, &a->dt, &a->t_max, &a->ode_lr, &a->ode_lr_end};
  for (int i = 0; i < 18; i++) {
    const char *v = nd_safetensors_metadata(st, keys[i]);
    if (!v) return nd__error(ND_ERR_FORMAT, "%s: metadata has no '%s' (not a `train krotov` checkpoint)", path, keys[i]);
    double x = strtod(v, NULL);
    switch (i) {
      case 0: a->hidden = (int64_t)x; break;
      case 1: a->p = x; break;
      case 2: a->k = (int64_t)x; break;
      case 3: a->delta = x; break;
      case 4: a->eps0 = x; break;
      case 5: a->epochs = (int64_t)x; break;
      case 6: a->batch = (int64_t)x; break;
      case 7: a->seed = (int64_t)strtoull(v, NULL, 10); break;
      case 8: a->limit = (int64_t)x; break;
      case 9: a->png_every = (int64_t)x; break;
      default: *odes[i - 10] = x; break;
    }
  }
  const char *r = nd_safetensors_metadata(st, "rule"), *d = nd_safetensors_metadata(st, "dataset"),
             *pr = nd_safetensors_metadata(st, "precision");
  if (!r || !d || !pr) return nd__error(ND_ERR_FORMAT, "%s: metadata lacks rule/dataset/precision", path);
  snprintf(rule, sizeof rule, "%s", r);
  snprintf(dataset, sizeof dataset, "%s", d);
  snprintf(precision, sizeof precision, "%s", pr);
  const char *ig = nd_safetensors_metadata(st, "integrator");
  snprintf(integ, sizeof integ, "%s", ig ? ig : "rk4");
  a->integrator = integ;
  a->rule = rule;
  a->dataset = dataset;
  a->precision = precision;
  return ND_OK;
}

static int write_config(const char *cmd, const nd_opts *spec, const char *out);

static int train_krotov(const krotov_args *a_in, const nd_opts *spec) {
  const char *cmd = "train krotov";
  krotov_args a = *a_in;
  nd_safetensors *rst = NULL;
  char rp[4096];
  if (a.resume) {
    join(rp, sizeof rp, a.resume, "checkpoint.safetensors");
    nd_status s0 = nd_safetensors_read(rp, &rst);
    if (s0 == ND_OK) s0 = resume_meta(rst, rp, &a);
    if (s0 != ND_OK) {
      nd_safetensors_free(rst);
      return nd_cli_lib_fail(cmd, s0);
    }
    if (!a.out || !a.out[0]) a.out = a.resume;
  }
  if (a.threads > 0) nd_set_num_threads((int)a.threads);
  bool use_ode = strcmp(a.rule, "ode") == 0;
  if (use_ode && strcmp(a.precision, "f64") == 0) {
    nd_safetensors_free(rst);
    return nd_cli_cmd_fail(cmd, 2, "--precision f64: the ODE model (--rule ode) runs in float32 only");
  }

  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = a.hidden;
  c.p = a.p;
  c.k = a.k;
  c.delta = a.delta;
  c.eps0 = a.eps0;
  c.epochs = a.epochs;
  c.batch = a.batch;
  c.seed = (uint64_t)a.seed;
  c.precision = strcmp(a.precision, "f64") == 0 ? ND_KROTOV_F64 : ND_KROTOV_F32;

  nd_dataset train;
  int rc = load_data(cmd, a.dataset, a.limit, &train, NULL);
  if (rc) {
    nd_safetensors_free(rst);
    return rc;
  }
  c.visible = train.images.shape[1];
  if (train.n < c.batch) {
    nd_dataset_release(&train);
    nd_safetensors_free(rst);
    return nd_cli_cmd_fail(cmd, 2, "--batch %lld is larger than the %lld training examples", (long long)c.batch, (long long)train.n);
  }

  rule rr = {NULL, NULL, a.ode_lr, a.ode_lr_end, a.epochs};
  rule *kr = &rr;
  nd_status s;
  if (use_ode) {
    nd_krotov_ode_config oc = nd_krotov_ode_defaults();
    oc.hidden = c.hidden;
    oc.visible = c.visible;
    oc.batch = c.batch;
    oc.p = c.p;
    oc.delta = c.delta;
    oc.w_inh = a.w_inh;
    oc.h_star = a.h_star;
    oc.tau = a.tau;
    oc.tau_L = a.tau_l;
    oc.dt = a.dt;
    oc.t_max = a.t_max;
    oc.seed = c.seed;
    s = nd_integrator_parse(a.integrator, &oc.integrator);
    if (s == ND_OK) s = nd_krotov_ode_create(&oc, &rr.ode);
  } else {
    s = nd_krotov_create(&c, &rr.fast);
  }
  if (s != ND_OK) {
    nd_dataset_release(&train);
    nd_safetensors_free(rst);
    return nd_cli_lib_fail(cmd, s);
  }
  double *hist_pn = calloc((size_t)c.epochs + 1, sizeof(double));
  double *hist_fr = calloc((size_t)c.epochs + 1, sizeof(double));
  char path[4096], ckpt[4096];
  /* config.json only once the data loaded: bad input leaves nothing behind */
  rc = a.resume ? make_dir(cmd, a.out) : write_config(cmd, spec, a.out);
  join(ckpt, sizeof ckpt, a.out, "checkpoint.safetensors");
  int64_t start = 0;
  if (!rc && rst) {
    nd_safetensors *st = rst;
    nd_array sa = {0}, w64 = {0};
    nd_tensor w = {0};
    s = nd_safetensors_get_array(st, "state", &sa);
    if (s == ND_OK && (sa.dtype != ND_DTYPE_I64 || sa.numel != 3))
      s = nd__error(ND_ERR_FORMAT, "%s: tensor 'state' must be 3 int64 values", rp);
    if (s == ND_OK) {
      int64_t *v = sa.data;
      start = v[0];
      nd_train_state ks = {v[0], 0, (uint64_t)v[1], (uint64_t)v[2]};
      s = rule_set_state(kr, &ks);
    }
    if (s == ND_OK && !use_ode && c.precision == ND_KROTOV_F64) {
      s = nd_safetensors_get_array(st, "W_f64", &w64);
      if (s == ND_OK && (w64.dtype != ND_DTYPE_F64 || w64.numel != c.hidden * c.visible))
        s = nd__error(ND_ERR_FORMAT, "%s: tensor 'W_f64' does not match --hidden/--precision", rp);
      if (s == ND_OK) s = nd_krotov_set_weights_f64(kr->fast, w64.data);
    } else if (s == ND_OK) {
      s = nd_safetensors_get(st, "W", &w);
      if (s == ND_OK) s = rule_set_weights(kr, &w);
    }
    for (int h = 0; s == ND_OK && h < 2 && start > 0; h++) {
      nd_array ha = {0};
      s = nd_safetensors_get_array(st, h ? "history.frac_converged" : "history.mean_pnorm", &ha);
      if (s == ND_OK && (ha.dtype != ND_DTYPE_F64 || ha.numel != start))
        s = nd__error(ND_ERR_FORMAT, "%s: history tensors do not match the epoch count", rp);
      if (s == ND_OK) memcpy(h ? hist_fr : hist_pn, ha.data, sizeof(double) * (size_t)(start < c.epochs ? start : c.epochs));
      nd_array_release(&ha);
    }
    nd_array_release(&sa);
    nd_array_release(&w64);
    nd_tensor_release(&w);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }

  nd_jsonl *log = NULL;
  if (!rc) {
    join(path, sizeof path, a.out, "metrics.jsonl");
    s = start > 0 ? nd_jsonl_open_append(path, &log) : nd_jsonl_open(path, &log);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  int64_t end = c.epochs;
  if (a.stop_after > 0 && start + a.stop_after < end) end = start + a.stop_after;
  nd_progress bar;
  nd_progress_begin(&bar, "krotov", (end - start) * (train.n / c.batch));
  bar_ctx bc = {&bar, 0, c.epochs};
  double t_run = wall_now();
  int64_t batches = train.n / c.batch;
  for (int64_t e = start; !rc && e < end; e++) {
    double t0 = wall_now();
    double eps = rule_eps(kr, &c, e);
    bc.epoch = e - start;
    (void)batches;
    s = rule_epoch(kr, train.images.data, train.n, eps, on_batch, &bc);
    if (s != ND_OK) {
      rc = nd_cli_lib_fail(cmd, s);
      break;
    }
    double secs = wall_now() - t0;
    const nd_tensor *w = rule_weights(kr);
    pnorm_stats(w->data, c.hidden, c.visible, c.p, &hist_pn[e], &hist_fr[e]);
    /* winners (fast rule only): units ranked first at least once this epoch; a
     * collapsing layer shows a handful (docs/krotov.md, Fashion-MNIST) */
    nd_jsonl_field f[7] = {ND_JINT("epoch", e + 1), ND_JNUM("eps", eps), ND_JNUM("mean_pnorm", hist_pn[e]),
                           ND_JNUM("frac_converged", hist_fr[e]), ND_JNUM("seconds", secs),
                           ND_JNUM("elapsed", wall_now() - t_run),
                           ND_JINT("winners", kr->fast ? nd_krotov_winners(kr->fast) : 0)};
    s = save_krotov_checkpoint(ckpt, kr, &c, &a, e + 1, hist_pn, hist_fr);
    if (s == ND_OK) s = nd_jsonl_write(log, kr->fast ? 7 : 6, f);
    bool png = a.png_every > 0 && ((e + 1) % a.png_every == 0 || e + 1 == c.epochs);
    if (s == ND_OK && png) {
      char name[64];
      snprintf(name, sizeof name, "fields_epoch%04lld.png", (long long)(e + 1));
      join(path, sizeof path, a.out, name);
      s = write_fields(path, w->data, c.hidden, train.rows, train.cols);
      if (s == ND_OK) {
        join(path, sizeof path, a.out, "fields.png");
        s = write_fields(path, w->data, c.hidden, train.rows, train.cols);
      }
      if (s == ND_OK) {
        join(path, sizeof path, a.out, "convergence.png");
        s = write_convergence(path, hist_pn, hist_fr, e + 1);
      }
    }
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  nd_progress_end(&bar);
  if (!rc) {
    /* W alone, for `train krotov-top --features` */
    const nd_tensor *w = rule_weights(kr);
    join(path, sizeof path, a.out, "W.safetensors");
    const char *names[1] = {"W"};
    const nd_tensor *ts[1] = {w};
    char pv[32];
    snprintf(pv, sizeof pv, "%.17g", c.p);
    const char *meta[] = {"model", "krotov", "dataset", a.dataset, "p", pv, NULL};
    s = nd_safetensors_write(path, 1, names, ts, meta);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
    else if (!a.quiet) {
      int64_t last = end - 1;
      fprintf(stderr, "neurodyn train krotov: %lld/%lld epochs, mean p-norm %.4f, %.1f%% of units converged, %.1f s\n",
              (long long)end, (long long)c.epochs, last >= 0 ? hist_pn[last] : 0.0,
              last >= 0 ? 100.0 * hist_fr[last] : 0.0, wall_now() - t_run);
      printf("%s\n", path);
    }
  }
  nd_jsonl_close(log);
  nd_safetensors_free(rst);
  free(hist_pn);
  free(hist_fr);
  nd_krotov_free(rr.fast);
  nd_krotov_ode_free(rr.ode);
  nd_dataset_release(&train);
  return rc;
}

/* ----------------------------------------------------------- krotov-top */

typedef struct top_args {
  const char *features, *dataset, *out;
  const char *optimizer;
  double n, m, beta, lr, lr_final, lr_decay, lebesgue_p, init_std, dropout, weight_decay;
  int64_t epochs, batch, seed, limit, threads;
  bool quiet;
} top_args;

/* Adam (AdamW with a decay), or the DAM notebook's max-normalised momentum
 * steps with weights clipped to [-1, 1] (optim.h, ND_OPTIM_MAXNORM). */
static nd_optim_config top_optimizer(const top_args *a) {
  bool maxnorm = strcmp(a->optimizer, "maxnorm") == 0;
  nd_optim_config oc =
      nd_optim_defaults(maxnorm ? ND_OPTIM_MAXNORM : a->weight_decay > 0 ? ND_OPTIM_ADAMW : ND_OPTIM_ADAM);
  oc.lr = (float)a->lr;
  if (!maxnorm) oc.weight_decay = (float)a->weight_decay;
  return oc;
}

/* Cosine from lr to lr_final over all steps, or with --lr-decay the DAM
 * notebook's lr * decay^epoch. */
static nd_schedule top_schedule(const top_args *a, int64_t steps_per_epoch) {
  if (a->lr_decay > 0)
    return (nd_schedule){.kind = ND_SCHED_STEP, .base_lr = (float)a->lr, .step_size = steps_per_epoch,
                         .gamma = (float)a->lr_decay};
  int64_t steps = a->epochs * steps_per_epoch;
  return (nd_schedule){.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                       .total_steps = steps > 0 ? steps : 1};
}

static nd_status read_hidden_weights(const char *path, nd_tensor *w) {
  nd_safetensors *st = NULL;
  ND_TRY(nd_safetensors_read(path, &st));
  int ndim = 0;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  nd_status s = nd_safetensors_info(st, "W", NULL, &ndim, shape);
  if (s == ND_OK && ndim != 2) s = nd__error(ND_ERR_SHAPE, "%s: tensor 'W' has %d dimensions, need [hidden, visible]", path, ndim);
  if (s == ND_OK) s = nd_safetensors_get(st, "W", w);
  nd_safetensors_free(st);
  return s;
}

/* top.safetensors: the frozen W, the trained S, and n, m, beta, lebesgue_p in
 * the metadata: everything `neurodyn eval` needs. */
static nd_status save_top(const char *path, const nd_tensor *w, nd_krotov_top *top, const top_args *a) {
  const nd_krotov_top_config *c = nd_krotov_top_config_of(top);
  char nv[32], mv[32], bv[32], pv[32];
  snprintf(nv, sizeof nv, "%.9g", (double)c->n);
  snprintf(mv, sizeof mv, "%.9g", (double)c->m);
  snprintf(bv, sizeof bv, "%.9g", (double)c->beta);
  snprintf(pv, sizeof pv, "%.9g", a->lebesgue_p);
  const char *names[2] = {"W", "S"};
  const nd_tensor *ts[2] = {w, nd_krotov_top_weights(top)};
  const char *meta[] = {"model", "krotov-top", "dataset", a->dataset, "n", nv, "m", mv, "beta", bv, "lebesgue_p", pv, NULL};
  return nd_safetensors_write(path, 2, names, ts, meta);
}

static int train_top(const top_args *a, const nd_opts *spec) {
  const char *cmd = "train krotov-top";
  if (a->threads > 0) nd_set_num_threads((int)a->threads);
  if (!a->features || !a->features[0]) return nd_cli_cmd_fail(cmd, 2, "--features FILE is required (W.safetensors from `train krotov`)");
  nd_tensor w = {0};
  nd_status s = read_hidden_weights(a->features, &w);
  if (s != ND_OK) return nd_cli_lib_fail(cmd, s);
  nd_dataset tr, te;
  int rc = load_data(cmd, a->dataset, a->limit, &tr, &te);
  if (rc) {
    nd_tensor_release(&w);
    return rc;
  }
  if (w.shape[1] != tr.images.shape[1]) {
    rc = nd_cli_cmd_fail(cmd, 2, "%s: W is %lldx%lld but %s images have %lld pixels", a->features, (long long)w.shape[0],
              (long long)w.shape[1], a->dataset, (long long)tr.images.shape[1]);
    goto done_data;
  }
  rc = write_config(cmd, spec, a->out); /* only once W and the data are known to be good */
  if (rc) goto done_data;
  double t_start = wall_now();
  /* the hidden layer is frozen: features once for each split (Eq. 11) */
  nd_tensor f = {0}, ft = {0};
  s = nd_krotov_features(&w, tr.images.data, tr.n, w.shape[1], (float)a->n, (float)a->lebesgue_p, &f);
  if (s == ND_OK) s = nd_krotov_features(&w, te.images.data, te.n, w.shape[1], (float)a->n, (float)a->lebesgue_p, &ft);
  if (s != ND_OK) {
    rc = nd_cli_lib_fail(cmd, s);
    goto done_feat;
  }
  double t_feat = wall_now() - t_start;
  nd_krotov_top_config c = nd_krotov_top_defaults(w.shape[0], tr.num_classes > 10 ? tr.num_classes : 10);
  c.n = (float)a->n;
  c.m = (float)a->m;
  c.beta = a->beta > 0 ? (float)a->beta : nd_krotov_top_auto_beta(&f);
  c.init_std = (float)a->init_std;
  c.seed = (uint64_t)a->seed;
  c.dropout = (float)a->dropout;
  nd_krotov_top *top = NULL;
  nd_optim *opt = NULL;
  nd_jsonl *log = NULL;
  s = nd_krotov_top_create(&c, &top);
  if (s == ND_OK) {
    nd_optim_config oc = top_optimizer(a);
    nd_tensor *pp[1] = {nd_krotov_top_weights(top)}, *gg[1] = {nd_krotov_top_grad(top)};
    s = nd_optim_create(&oc, 1, pp, gg, &opt);
  }
  if (s == ND_OK) {
    nd_schedule sch = top_schedule(a, (tr.n + a->batch - 1) / a->batch);
    s = nd_optim_set_schedule(opt, &sch);
  }
  char path[4096];
  join(path, sizeof path, a->out, "metrics.jsonl");
  if (s == ND_OK) s = nd_jsonl_open(path, &log);
  if (s != ND_OK) {
    rc = nd_cli_lib_fail(cmd, s);
    goto done_top;
  }
  nd_rng rng;
  nd_rng_init(&rng, (uint64_t)a->seed);
  rng = nd_rng_split(&rng, 1);
  nd_progress bar;
  nd_progress_begin(&bar, "krotov-top", a->epochs);
  double err_tr = 1, err_te = 1, loss = 0;
  for (int64_t e = 0; e < a->epochs; e++) {
    double t0 = wall_now();
    float lr = nd_optim_lr(opt);
    s = nd_krotov_top_train_epoch(top, opt, &f, tr.labels, a->batch, &rng, &loss);
    if (s == ND_OK) s = nd_krotov_top_error(top, &f, tr.labels, &err_tr);
    if (s == ND_OK) s = nd_krotov_top_error(top, &ft, te.labels, &err_te);
    if (s != ND_OK) {
      rc = nd_cli_lib_fail(cmd, s);
      break;
    }
    nd_jsonl_field fl[6] = {ND_JINT("epoch", e + 1), ND_JNUM("loss", loss), ND_JNUM("train_error", err_tr),
                            ND_JNUM("test_error", err_te), ND_JNUM("lr", lr), ND_JNUM("seconds", wall_now() - t0)};
    s = nd_jsonl_write(log, 6, fl);
    if (s != ND_OK) {
      rc = nd_cli_lib_fail(cmd, s);
      break;
    }
    nd_progress_update(&bar, e + 1, "loss=%.4f test_err=%.2f%%", loss, 100 * err_te);
  }
  nd_progress_end(&bar);
  if (!rc) {
    join(path, sizeof path, a->out, "top.safetensors");
    s = save_top(path, &w, top, a);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  if (!rc) {
    printf("krotov-top: hidden %lld, n %g, m %g, beta %.6g, %lld epochs: train error %.2f%%, test error %.2f%% "
           "(accuracy %.2f%%), features %.1f s, total %.1f s\n",
           (long long)c.hidden, (double)c.n, (double)c.m, (double)c.beta, (long long)a->epochs, 100 * err_tr,
           100 * err_te, 100 * (1 - err_te), t_feat, wall_now() - t_start);
    printf("model: %s\n", path);
  }
done_top:
  nd_jsonl_close(log);
  nd_optim_free(opt);
  nd_krotov_top_free(top);
done_feat:
  nd_tensor_release(&f);
  nd_tensor_release(&ft);
done_data:
  nd_dataset_release(&tr);
  nd_dataset_release(&te);
  nd_tensor_release(&w);
  return rc;
}

/* --------------------------------------------------------- mlp-baseline */

typedef struct mlp_args {
  const char *dataset, *out;
  double n, m, beta, lr, lr_final;
  int64_t hidden, epochs, batch, seed, limit, threads;
  bool quiet;
} mlp_args;

/* 784 -> hidden (max(.,0)^n) -> 10, c = tanh(beta z), loss sum |c - t|^m
 * (divided by the batch size, see mlp.h), no biases: the Krotov-Hopfield
 * architecture with both layers trained end to end by backprop. */
static int train_mlp(const mlp_args *a, const nd_opts *spec) {
  const char *cmd = "train mlp-baseline";
  if (a->threads > 0) nd_set_num_threads((int)a->threads);
  nd_dataset tr, te;
  int rc = load_data(cmd, a->dataset, a->limit, &tr, &te);
  if (rc) return rc;
  rc = write_config(cmd, spec, a->out); /* only once the data loaded */
  if (rc) goto done;
  int64_t sizes[3] = {tr.images.shape[1], a->hidden, 10};
  nd_mlp_config c = nd_mlp_defaults(3, sizes);
  c.activation = ND_ACT_RELU_POW;
  c.act_param = (float)a->n;
  c.loss = ND_MLP_LOSS_ABS_POWER;
  c.loss_power = (float)a->m;
  c.out_scale = (float)a->beta;
  c.bias = false;
  c.seed = (uint64_t)a->seed;
  nd_mlp *m = NULL;
  nd_optim *opt = NULL;
  nd_jsonl *log = NULL;
  nd_status s = nd_mlp_create(&c, &m);
  if (s == ND_OK) {
    nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
    oc.lr = (float)a->lr;
    s = nd_optim_create(&oc, nd_mlp_num_params(m), nd_mlp_params(m), nd_mlp_grads(m), &opt);
  }
  if (s == ND_OK) {
    int64_t steps = a->epochs * ((tr.n + a->batch - 1) / a->batch);
    nd_schedule sch = {.kind = ND_SCHED_COSINE, .base_lr = (float)a->lr, .final_lr = (float)a->lr_final,
                       .total_steps = steps > 0 ? steps : 1};
    s = nd_optim_set_schedule(opt, &sch);
  }
  char path[4096];
  join(path, sizeof path, a->out, "metrics.jsonl");
  if (s == ND_OK) s = nd_jsonl_open(path, &log);
  if (s != ND_OK) {
    rc = nd_cli_lib_fail(cmd, s);
    goto done_m;
  }
  nd_rng rng;
  nd_rng_init(&rng, (uint64_t)a->seed);
  rng = nd_rng_split(&rng, 1);
  nd_progress bar;
  nd_progress_begin(&bar, "mlp-baseline", a->epochs);
  double t_start = wall_now(), acc = 0, acc_tr = 0, loss = 0;
  for (int64_t e = 0; e < a->epochs; e++) {
    double t0 = wall_now();
    float lr = nd_optim_lr(opt);
    s = nd_mlp_train_epoch(m, opt, tr.images.data, tr.labels, tr.n, a->batch, &rng, &loss);
    if (s == ND_OK) s = nd_mlp_accuracy(m, tr.images.data, tr.labels, tr.n, 1000, &acc_tr);
    if (s == ND_OK) s = nd_mlp_accuracy(m, te.images.data, te.labels, te.n, 1000, &acc);
    if (s != ND_OK) {
      rc = nd_cli_lib_fail(cmd, s);
      break;
    }
    nd_jsonl_field fl[6] = {ND_JINT("epoch", e + 1), ND_JNUM("loss", loss), ND_JNUM("train_error", 1 - acc_tr),
                            ND_JNUM("test_error", 1 - acc), ND_JNUM("lr", lr), ND_JNUM("seconds", wall_now() - t0)};
    s = nd_jsonl_write(log, 6, fl);
    if (s != ND_OK) {
      rc = nd_cli_lib_fail(cmd, s);
      break;
    }
    nd_progress_update(&bar, e + 1, "loss=%.4f test_err=%.2f%%", loss, 100 * (1 - acc));
  }
  nd_progress_end(&bar);
  if (!rc) {
    join(path, sizeof path, a->out, "mlp.safetensors");
    int np = nd_mlp_num_params(m);
    const char *names[ND_MLP_MAX_LAYERS * 2];
    const nd_tensor *ts[ND_MLP_MAX_LAYERS * 2];
    for (int i = 0; i < np; i++) {
      names[i] = nd_mlp_param_name(m, i);
      ts[i] = nd_mlp_param(m, i);
    }
    char hv[32], nv[32], mv[32], bv[32];
    snprintf(hv, sizeof hv, "%lld", (long long)a->hidden);
    snprintf(nv, sizeof nv, "%.9g", a->n);
    snprintf(mv, sizeof mv, "%.9g", a->m);
    snprintf(bv, sizeof bv, "%.9g", a->beta);
    const char *meta[] = {"model", "mlp-baseline", "dataset", a->dataset, "hidden", hv, "n", nv, "m", mv, "beta", bv, NULL};
    s = nd_safetensors_write(path, np, names, ts, meta);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  }
  if (!rc) {
    printf("mlp-baseline: 784-%lld-10, relu^%g, |c-t|^%g, beta %g, %lld epochs: train error %.2f%%, test error %.2f%% "
           "(accuracy %.2f%%), %.1f s\n",
           (long long)a->hidden, a->n, a->m, a->beta, (long long)a->epochs, 100 * (1 - acc_tr), 100 * (1 - acc),
           100 * acc, wall_now() - t_start);
    printf("model: %s\n", path);
  }
done_m:
  nd_jsonl_close(log);
  nd_optim_free(opt);
  nd_mlp_free(m);
done:
  nd_dataset_release(&tr);
  nd_dataset_release(&te);
  return rc;
}

/* ------------------------------------------------------------ parsing */

static const char *const rules[] = {"fast", "ode", NULL};
static const char *const datasets[] = {"mnist", "fashion-mnist", NULL};
static const char *const precisions[] = {"f32", "f64", NULL};
static const char *const integrators[] = {"rk4", "euler", NULL};
static const char *const optimizers[] = {"adam", "maxnorm", NULL};

static int write_config(const char *cmd, const nd_opts *spec, const char *out) {
  char path[4096];
  if (make_dir(cmd, out)) return 1;
  join(path, sizeof path, out, "config.json");
  nd_status s = nd_opts_write_config(spec, path);
  return s == ND_OK ? 0 : nd_cli_lib_fail(cmd, s);
}

static int cmd_krotov(int argc, char **argv) {
  krotov_args a;
  memset(&a, 0, sizeof a);
  nd_cli_common common;
  int rule = 0, dataset = 0, precision = 0, integ = 0;
  /* ODE-model values live here even when the rule is fast, so config.json is complete */
  const nd_option table[] = {
      KOPT("hidden", ND_OPT_INT64, &a.hidden, "100", "number of hidden units H (paper MNIST: 2000)", NULL),
      KOPT("p", ND_OPT_DOUBLE, &a.p, "2", "Lebesgue exponent p of the rule's metric, Eq. 2-3 (paper MNIST: 3)", NULL),
      KOPT("k", ND_OPT_INT64, &a.k, "2", "rank that receives -delta, Eq. 10 (paper MNIST: 7)", NULL),
      KOPT("delta", ND_OPT_DOUBLE, &a.delta, "0.4", "anti-Hebbian strength Delta", NULL),
      KOPT("eps0", ND_OPT_DOUBLE, &a.eps0, "0.02", "initial learning rate (largest change per minibatch), annealed linearly to 0", NULL),
      KOPT("epochs", ND_OPT_INT64, &a.epochs, "200", "epochs (the anneal length)", NULL),
      KOPT("batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL),
      KOPT("rule", ND_OPT_CHOICE, &rule, "fast", "learning rule: fast (Eq. 10, official code) or ode (Eq. 3, 8, 9)", rules),
      KOPT("dataset", ND_OPT_CHOICE, &dataset, "mnist", "training data: mnist or fashion-mnist", datasets),
      KOPT("precision", ND_OPT_CHOICE, &precision, "f32", "arithmetic of the rule: f32 or f64", precisions),
      KOPT("png-every", ND_OPT_INT64, &a.png_every, "10", "write the receptive-field grid every N epochs (0: never)", NULL),
      KOPT("limit", ND_OPT_INT64, &a.limit, "0", "use only the first N training examples (0: all)", NULL),
      KOPT("resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL),
      KOPT("stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to --epochs)", NULL),
      KOPT("w-inh", ND_OPT_DOUBLE, &a.w_inh, "0.7", "ODE model: global inhibition w_inh, Eq. 8", NULL),
      KOPT("h-star", ND_OPT_DOUBLE, &a.h_star, "0.5", "ODE model: activity threshold h*, Eq. 9", NULL),
      KOPT("tau", ND_OPT_DOUBLE, &a.tau, "1", "ODE model: hidden time constant tau, Eq. 8", NULL),
      KOPT("tau-l", ND_OPT_DOUBLE, &a.tau_l, "100", "ODE model: learning time constant tau_L, Eq. 3", NULL),
      KOPT("dt", ND_OPT_DOUBLE, &a.dt, "0.05", "ODE model: integration step of Eq. 8", NULL),
      KOPT("t-max", ND_OPT_DOUBLE, &a.t_max, "20", "ODE model: Eq. 8 integrated over [0, t_max]", NULL),
      KOPT("integrator", ND_OPT_CHOICE, &integ, "rk4", "ODE model: euler or rk4", integrators),
      KOPT("ode-lr", ND_OPT_DOUBLE, &a.ode_lr, "60", "ODE model: learning-time step of the first epoch", NULL),
      KOPT("ode-lr-end", ND_OPT_DOUBLE, &a.ode_lr_end, "5", "ODE model: learning-time step of the last epoch (linear)", NULL),
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train krotov", "[options]",
                        "Trains the Krotov-Hopfield unsupervised layer (Krotov & Hopfield, PNAS 2019). Writes "
                        "config.json, metrics.jsonl, checkpoint.safetensors (every epoch, resumable), W.safetensors, "
                        "fields.png and convergence.png into --out (default runs/krotov).",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_cli_common_apply(&common);
  a.rule = rules[rule];
  a.dataset = datasets[dataset];
  a.precision = precisions[precision];
  a.integrator = integrators[integ];
  a.seed = common.seed;
  a.quiet = common.quiet;
  a.out = common.out ? common.out : (a.resume ? a.resume : "runs/krotov");
  const char *cmd = "train krotov";
  if (a.hidden < 1) rc = nd_cli_cmd_fail(cmd, 2, "--hidden %lld: need >= 1", (long long)a.hidden);
  else if (!(a.p >= 1.0)) rc = nd_cli_cmd_fail(cmd, 2, "--p %g: need p >= 1", a.p);
  else if (a.k < 1 || a.k > a.hidden) rc = nd_cli_cmd_fail(cmd, 2, "--k %lld: need 1 <= k <= --hidden (%lld)", (long long)a.k, (long long)a.hidden);
  else if (a.epochs < 1) rc = nd_cli_cmd_fail(cmd, 2, "--epochs %lld: need >= 1", (long long)a.epochs);
  else if (a.batch < 1) rc = nd_cli_cmd_fail(cmd, 2, "--batch %lld: need >= 1", (long long)a.batch);
  else if (!(a.eps0 > 0.0)) rc = nd_cli_cmd_fail(cmd, 2, "--eps0 %g: need > 0", a.eps0);
  else if (a.limit < 0 || a.png_every < 0 || a.stop_after < 0) rc = nd_cli_cmd_fail(cmd, 2, "--limit, --png-every and --stop-after must be >= 0");
  else if (a.resume) {
    struct stat sb;
    char rp[4096];
    join(rp, sizeof rp, a.resume, "checkpoint.safetensors");
    if (stat(rp, &sb) != 0) rc = nd_cli_cmd_fail(cmd, 2, "--resume %s: no checkpoint.safetensors there", a.resume);
  }
  if (!rc) rc = train_krotov(&a, &spec);
  nd_args_release(&args);
  return rc;
}

static int cmd_top(int argc, char **argv) {
  top_args a;
  memset(&a, 0, sizeof a);
  nd_cli_common common;
  int dataset = 0, optimizer = 0;
  const nd_option table[] = {
      KOPT("features", ND_OPT_STRING, &a.features, NULL, "safetensors file holding the frozen hidden weights W [H, 784] (required)", NULL),
      KOPT("n", ND_OPT_DOUBLE, &a.n, "4.5", "power of the rectified power units f = max(h,0)^n, Eq. 11", NULL),
      KOPT("m", ND_OPT_DOUBLE, &a.m, "6", "loss exponent, sum |c - t|^m, Eq. 12", NULL),
      KOPT("beta", ND_OPT_DOUBLE, &a.beta, "0", "readout gain in tanh(beta f S^T) (0: 1 / mean_b max_mu f)", NULL),
      KOPT("lebesgue-p", ND_OPT_DOUBLE, &a.lebesgue_p, "0", "h from the Eq. 3 metric with this p (0: plain dot product)", NULL),
      KOPT("epochs", ND_OPT_INT64, &a.epochs, "100", "epochs of Adam", NULL),
      KOPT("lr", ND_OPT_DOUBLE, &a.lr, "0.01", "initial Adam learning rate", NULL),
      KOPT("lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.0001", "learning rate at the end of the cosine anneal", NULL),
      KOPT("lr-decay", ND_OPT_DOUBLE, &a.lr_decay, "0", "> 0: lr * decay^epoch instead of the cosine (DAM notebook: 0.998)", NULL),
      KOPT("optimizer", ND_OPT_CHOICE, &optimizer, "adam", "adam, or maxnorm: the DAM notebook's max-normalised momentum 0.6 with S clipped to [-1, 1]", optimizers),
      KOPT("batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL),
      KOPT("init-std", ND_OPT_DOUBLE, &a.init_std, "0.01", "S ~ N(0, init_std^2)", NULL),
      KOPT("dropout", ND_OPT_DOUBLE, &a.dropout, "0", "training-only dropout rate on the features f (not in the paper)", NULL),
      KOPT("weight-decay", ND_OPT_DOUBLE, &a.weight_decay, "0", "decoupled weight decay on S, AdamW (not in the paper)", NULL),
      KOPT("dataset", ND_OPT_CHOICE, &dataset, "mnist", "data: mnist or fashion-mnist", datasets),
      KOPT("limit", ND_OPT_INT64, &a.limit, "0", "use only the first N training and test examples (0: all)", NULL),
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train krotov-top", "--features W.safetensors [options]",
                        "Trains the supervised top layer c = tanh(beta f S^T), f = max(W v, 0)^n, on a frozen hidden "
                        "layer (Krotov & Hopfield 2019, Eq. 11-12) with Adam; writes top.safetensors, metrics.jsonl "
                        "and config.json into --out (default runs/krotov-top) and prints the test error.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_cli_common_apply(&common);
  a.dataset = datasets[dataset];
  a.seed = common.seed;
  a.quiet = common.quiet;
  a.out = common.out ? common.out : "runs/krotov-top";
  a.optimizer = optimizers[optimizer];
  const char *cmd = "train krotov-top";
  if (!(a.n > 0)) rc = nd_cli_cmd_fail(cmd, 2, "--n %g: need > 0", a.n);
  else if (!(a.m >= 1)) rc = nd_cli_cmd_fail(cmd, 2, "--m %g: need >= 1", a.m);
  else if (a.beta < 0) rc = nd_cli_cmd_fail(cmd, 2, "--beta %g: need >= 0", a.beta);
  else if (a.epochs < 1 || a.batch < 1) rc = nd_cli_cmd_fail(cmd, 2, "--epochs and --batch must be >= 1");
  else if (!(a.lr > 0) || a.lr_final < 0) rc = nd_cli_cmd_fail(cmd, 2, "--lr must be > 0 and --lr-final >= 0");
  else if (a.lr_decay < 0 || a.lr_decay > 1) rc = nd_cli_cmd_fail(cmd, 2, "--lr-decay %g: need 0 (cosine) or 0 < decay <= 1", a.lr_decay);
  else if (a.weight_decay > 0 && strcmp(a.optimizer, "maxnorm") == 0)
    rc = nd_cli_cmd_fail(cmd, 2, "--weight-decay: only with --optimizer adam");
  else if (!(a.dropout >= 0 && a.dropout < 1)) rc = nd_cli_cmd_fail(cmd, 2, "--dropout %g: need 0 <= rate < 1", a.dropout);
  else if (a.weight_decay < 0) rc = nd_cli_cmd_fail(cmd, 2, "--weight-decay %g: need >= 0", a.weight_decay);
  else if (a.limit < 0) rc = nd_cli_cmd_fail(cmd, 2, "--limit %lld: need >= 0", (long long)a.limit);
  if (!rc) rc = train_top(&a, &spec);
  nd_args_release(&args);
  return rc;
}

static int cmd_mlp(int argc, char **argv) {
  mlp_args a;
  memset(&a, 0, sizeof a);
  nd_cli_common common;
  int dataset = 0;
  const nd_option table[] = {
      KOPT("hidden", ND_OPT_INT64, &a.hidden, "2000", "hidden units", NULL),
      KOPT("n", ND_OPT_DOUBLE, &a.n, "4.5", "hidden activation max(x,0)^n", NULL),
      KOPT("m", ND_OPT_DOUBLE, &a.m, "6", "loss exponent, sum |c - t|^m", NULL),
      KOPT("beta", ND_OPT_DOUBLE, &a.beta, "1", "readout gain in c = tanh(beta z)", NULL),
      KOPT("epochs", ND_OPT_INT64, &a.epochs, "100", "epochs of Adam", NULL),
      KOPT("lr", ND_OPT_DOUBLE, &a.lr, "0.001", "initial Adam learning rate", NULL),
      KOPT("lr-final", ND_OPT_DOUBLE, &a.lr_final, "0.00001", "learning rate at the end of the cosine anneal", NULL),
      KOPT("batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL),
      KOPT("dataset", ND_OPT_CHOICE, &dataset, "mnist", "data: mnist or fashion-mnist", datasets),
      KOPT("limit", ND_OPT_INT64, &a.limit, "0", "use only the first N training and test examples (0: all)", NULL),
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train mlp-baseline", "[options]",
                        "Backprop baseline of the Krotov-Hopfield architecture: 784 -> hidden (max(x,0)^n) -> 10, "
                        "c = tanh(beta z), loss sum |c - t|^m, no biases, both layers trained end to end with Adam. "
                        "Writes mlp.safetensors, metrics.jsonl and config.json into --out (default runs/mlp-baseline).",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_cli_common_apply(&common);
  a.dataset = datasets[dataset];
  a.seed = common.seed;
  a.quiet = common.quiet;
  a.out = common.out ? common.out : "runs/mlp-baseline";
  const char *cmd = "train mlp-baseline";
  if (a.hidden < 1 || a.epochs < 1 || a.batch < 1) rc = nd_cli_cmd_fail(cmd, 2, "--hidden, --epochs and --batch must be >= 1");
  else if (!(a.n > 0) || !(a.m >= 1) || !(a.beta > 0)) rc = nd_cli_cmd_fail(cmd, 2, "need --n > 0, --m >= 1, --beta > 0");
  else if (!(a.lr > 0) || a.lr_final < 0) rc = nd_cli_cmd_fail(cmd, 2, "--lr must be > 0 and --lr-final >= 0");
  else if (a.limit < 0) rc = nd_cli_cmd_fail(cmd, 2, "--limit %lld: need >= 0", (long long)a.limit);
  if (!rc) rc = train_mlp(&a, &spec);
  nd_args_release(&args);
  return rc;
}

static void train_usage(FILE *f) {
  fprintf(f, "usage: neurodyn train <model> [options]   (neurodyn train <model> --help)\n\nmodels:\n"
             "  krotov        Krotov-Hopfield unsupervised layer (fast rule or ODE model), resumable\n"
             "  krotov-top    supervised top layer on a frozen hidden layer (--features W.safetensors)\n"
             "  mlp-baseline  the same architecture trained end to end by backprop\n");
}

int nd_cli_train(int argc, char **argv) {
  if (argc < 2) {
    train_usage(stderr);
    return 2;
  }
  const char *m = argv[1];
  if (!strcmp(m, "--help") || !strcmp(m, "-h")) {
    train_usage(stdout);
    return 0;
  }
  if (!strcmp(m, "krotov")) return cmd_krotov(argc - 1, argv + 1);
  if (!strcmp(m, "krotov-top")) return cmd_top(argc - 1, argv + 1);
  if (!strcmp(m, "mlp-baseline")) return cmd_mlp(argc - 1, argv + 1);
  return nd_cli_cmd_fail("train", 2, "unknown model '%s' (krotov, krotov-top, mlp-baseline)", m);
}
