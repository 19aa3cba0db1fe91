/* neurodyn train somp --config net.json: a network of SOMP cells described
 * by net.json (cells, connections, rules and rates, readout, task, learning;
 * schema in docs/somp.md) trained on the run driver (run.h).  --config here
 * names the network description (not an options file): it is copied into
 * the run directory as net.json, which --resume reads back.  Writes
 * config.json, net.json, metrics.jsonl (losses, per-rule update norms,
 * activity rate and sparsity per cell), loss.png / rules.png / activity.png,
 * checkpoint.safetensors (exact resume, grown inputs included). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "progress.h"
#include "run.h"
#include "somp_common.h"

#define CMD "train somp"

typedef struct st_args {
  const char *net, *resume;
  int64_t stop_after, checkpoint_every;
  bool plots;
  nd_cli_common common;
} st_args;

typedef struct st_run {
  const st_args *a;
  somp_spec spec;
  somp_model m;
  uint64_t seed;
  nd_train_state st;
  double loss_sum;
  int64_t loss_n;
  double norm_sum[SOMP_CLI_MAX_RULES];
  double val_loss, val_metric, test_loss, test_metric;
} st_run;

static nd_status s_epoch(void *self, nd_progress_fn progress, void *user) {
  st_run *r = self;
  const somp_task *t = &r->spec.task;
  while (r->st.batch < t->steps) {
    const uint64_t index = (uint64_t)(r->st.epoch * t->steps + r->st.batch);
    r->m.epoch = r->st.epoch;
    somp_draw_starts(t, r->seed, index, t->batch, r->m.starts);
    double loss;
    ND_CLI_TRY(somp_train_batch(&r->m, t->batch, r->m.starts, &loss));
    r->loss_sum += loss, r->loss_n++;
    for (int k = 0; k < r->spec.n_rules; k++) r->norm_sum[k] += nd_somp_net_rule_norm(r->m.net, k);
    r->st.batch++;
    nd_progress_info info = {r->st.epoch, r->st.batch, t->steps};
    if (r->st.batch < t->steps && progress && progress(&info, user)) return ND_OK;
    if (r->st.batch == t->steps && progress) progress(&info, user);
  }
  r->st.epoch++, r->st.batch = 0;
  return ND_OK;
}

static nd_status s_state(void *self, nd_train_state *st) {
  *st = ((st_run *)self)->st;
  return ND_OK;
}

static const char *metric_name(const somp_spec *s) { return s->task.kind == SOMP_TASK_TEXT ? "bpc" : "nrmse"; }

static nd_status s_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  st_run *r = self;
  (void)run;
  static double norms[SOMP_CLI_MAX_RULES], rate[SOMP_CLI_MAX_CELLS], sparsity[SOMP_CLI_MAX_CELLS];
  static char val_key[32], test_key[32];
  ND_CLI_TRY(somp_evaluate(&r->m, SOMP_VAL, &r->val_loss, &r->val_metric));
  f[(*n)++] = ND_JNUM("train_loss", r->loss_n ? r->loss_sum / (double)r->loss_n : NAN);
  f[(*n)++] = ND_JNUM("val_loss", r->val_loss);
  snprintf(val_key, sizeof val_key, "val_%s", metric_name(&r->spec));
  f[(*n)++] = ND_JNUM(val_key, r->val_metric);
  for (int k = 0; k < r->spec.n_rules; k++) norms[k] = r->loss_n ? r->norm_sum[k] / (double)r->loss_n : 0;
  for (int i = 0; i < r->spec.n_cells; i++) nd_somp_net_activity(r->m.net, i, &rate[i], &sparsity[i]);
  if (r->spec.n_rules) f[(*n)++] = ND_JNUMS("rule_update_norm", norms, r->spec.n_rules);
  f[(*n)++] = ND_JNUMS("activity_rate", rate, r->spec.n_cells);
  f[(*n)++] = ND_JNUMS("sparsity", sparsity, r->spec.n_cells);
  if (e == r->spec.epochs) { /* the test split once, at the end */
    ND_CLI_TRY(somp_evaluate(&r->m, SOMP_TEST, &r->test_loss, &r->test_metric));
    snprintf(test_key, sizeof test_key, "test_%s", metric_name(&r->spec));
    f[(*n)++] = ND_JNUM("test_loss", r->test_loss);
    f[(*n)++] = ND_JNUM(test_key, r->test_metric);
  }
  r->loss_sum = 0, r->loss_n = 0;
  memset(r->norm_sum, 0, sizeof r->norm_sum);
  return ND_OK;
}

static void s_figures(void *self, char *buf, size_t len) {
  st_run *r = self;
  if (r->loss_n) snprintf(buf, len, "loss=%.4g", r->loss_sum / (double)r->loss_n);
}

static nd_status s_checkpoint(void *self, nd_run *run) {
  st_run *r = self;
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = nd_somp_net_save(r->m.net, ck);
  if (s == ND_OK) s = nd_somp_readout_save(r->m.ro, "readout", ck);
  if (s == ND_OK) s = nd_checkpoint_put_state(ck, &r->st);
  char v[64];
  snprintf(v, sizeof v, "%.17g", r->loss_sum);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "train.loss_sum", v);
  snprintf(v, sizeof v, "%lld", (long long)r->loss_n);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "train.loss_n", v);
  nd_tensor tn = nd_tensor_wrap(NULL, 1, ND_SHAPE(SOMP_CLI_MAX_RULES));
  float ns[SOMP_CLI_MAX_RULES];
  for (int k = 0; k < SOMP_CLI_MAX_RULES; k++) ns[k] = (float)r->norm_sum[k];
  tn.data = ns;
  if (s == ND_OK) s = nd_checkpoint_put_tensor(ck, "train.rule_norm_sum", &tn);
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

static nd_status load_checkpoint(st_run *r, const char *dir) {
  char path[ND_RUN_PATH_MAX];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_somp_net *net = NULL;
  nd_status s = nd_somp_net_load(ck, &net);
  if (s == ND_OK) {
    /* same cells and inputs as net.json describes, then the rules */
    for (int i = 0; i < r->spec.n_cells && s == ND_OK; i++)
      if (nd_somp_net_find(net, r->spec.cells[i].name) != i)
        s = nd_set_error(ND_ERR_FORMAT, "%s does not hold the network net.json describes (cell '%s')", path,
                         r->spec.cells[i].name);
    if (s == ND_OK && nd_somp_net_cells(net) != r->spec.n_cells)
      s = nd_set_error(ND_ERR_FORMAT, "%s holds %d cells, net.json %d", path, nd_somp_net_cells(net), r->spec.n_cells);
    for (int k = 0; k < r->spec.n_rules && s == ND_OK; k++) s = nd_somp_net_add_rule(net, &r->spec.rules[k]);
  }
  if (s == ND_OK) {
    nd_somp_net_free(r->m.net);
    r->m.net = net;
    net = NULL;
    s = nd_somp_readout_load(r->m.ro, "readout", ck);
  }
  if (s == ND_OK) s = nd_checkpoint_get_state(ck, &r->st);
  const char *ls = nd_checkpoint_meta(ck, "train.loss_sum"), *ln = nd_checkpoint_meta(ck, "train.loss_n");
  if (s == ND_OK && (!ls || !ln)) s = nd_set_error(ND_ERR_FORMAT, "%s: train.loss_sum / train.loss_n missing", path);
  if (s == ND_OK) r->loss_sum = strtod(ls, NULL), r->loss_n = strtoll(ln, NULL, 10);
  nd_tensor tn;
  if (s == ND_OK) s = nd_checkpoint_get_tensor(ck, "train.rule_norm_sum", 1, ND_SHAPE(SOMP_CLI_MAX_RULES), &tn);
  if (s == ND_OK) {
    for (int k = 0; k < SOMP_CLI_MAX_RULES; k++) r->norm_sum[k] = tn.data[k];
    nd_tensor_release(&tn);
  }
  nd_somp_net_free(net);
  nd_checkpoint_free(ck);
  return s;
}

/* loss.png, rules.png, activity.png from metrics.jsonl (the whole run, resumed parts included) */
static void plots(const st_run *r, nd_run *run) {
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "metrics.jsonl", path)) return;
  void *buf = NULL;
  size_t len = 0;
  if (nd_file_read_all(path, &buf, &len) != ND_OK) return;
  enum { MAXE = 4096 };
  static double ep[MAXE], tr[MAXE], va[MAXE], rn[SOMP_CLI_MAX_RULES][MAXE], ra[SOMP_CLI_MAX_CELLS][MAXE],
      sp[SOMP_CLI_MAX_CELLS][MAXE];
  int n = 0;
  for (char *line = buf; line && *line && n < MAXE;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    cJSON *o = cJSON_Parse(line);
    const cJSON *e = o ? cJSON_GetObjectItem(o, "epoch") : NULL;
    if (e && cJSON_IsNumber(e)) {
      ep[n] = e->valuedouble;
      const cJSON *a = cJSON_GetObjectItem(o, "train_loss"), *b = cJSON_GetObjectItem(o, "val_loss");
      tr[n] = a && cJSON_IsNumber(a) ? a->valuedouble : NAN;
      va[n] = b && cJSON_IsNumber(b) ? b->valuedouble : NAN;
      const char *arr[3] = {"rule_update_norm", "activity_rate", "sparsity"};
      for (int q = 0; q < 3; q++) {
        const cJSON *x = cJSON_GetObjectItem(o, arr[q]);
        int k = 0;
        for (const cJSON *it = x ? x->child : NULL; it; it = it->next, k++) {
          const double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
          if (q == 0 && k < SOMP_CLI_MAX_RULES) rn[k][n] = v;
          if (q == 1 && k < SOMP_CLI_MAX_CELLS) ra[k][n] = v;
          if (q == 2 && k < SOMP_CLI_MAX_CELLS) sp[k][n] = v;
        }
      }
      n++;
    }
    cJSON_Delete(o);
    line = nl ? nl + 1 : NULL;
  }
  free(buf);
  if (n < 1) return;
  nd_plot_series s[10];
  s[0] = (nd_plot_series){ep, tr, n, "train"};
  s[1] = (nd_plot_series){ep, va, n, "validation"};
  if (nd_run_path(run, "loss.png", path))
    nd_png_plot_lines(path, 2, s, &(nd_plot_opts){.title = "somp loss", .x_label = "epoch", .log_y = true});
  int k = 0;
  for (; k < r->spec.n_rules && k < 10; k++) s[k] = (nd_plot_series){ep, rn[k], n, nd_somp_rule_name(r->spec.rules[k].kind)};
  if (k && nd_run_path(run, "rules.png", path))
    nd_png_plot_lines(path, k, s, &(nd_plot_opts){.title = "rule update norms", .x_label = "epoch", .log_y = true});
  nd_plot_series a[10], b[10];
  int c = 0;
  for (; c < r->spec.n_cells && c < 10; c++) {
    a[c] = (nd_plot_series){ep, ra[c], n, r->spec.cells[c].name};
    b[c] = (nd_plot_series){ep, sp[c], n, r->spec.cells[c].name};
  }
  nd_plot_panel p[2] = {{.series = a, .n_series = c, .y_label = "activity rate"},
                        {.series = b, .n_series = c, .y_label = "sparsity", .y_min = 0, .y_max = 1}};
  if (nd_run_path(run, "activity.png", path))
    nd_png_plot_panels(path, 2, p, &(nd_plot_opts){.title = "activity per cell", .x_label = "epoch"});
}

static int copy_net(nd_run *run, const char *src) {
  char dst[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, "net.json", dst)) return 2;
  void *buf = NULL;
  size_t len = 0;
  nd_status s = nd_file_read_all(src, &buf, &len);
  if (s == ND_OK) s = nd_file_write_atomic(dst, buf, len);
  free(buf);
  return s == ND_OK ? 0 : nd_cli_lib_fail(CMD, s);
}

int nd_cli_train_somp(int argc, char **argv) {
  st_args a;
  memset(&a, 0, sizeof a);
  /* --config names the network description: hand it to --net */
  char **av = calloc((size_t)argc + 1, sizeof *av);
  char *eq = NULL; /* the one rewritten --config=FILE */
  if (!av) return nd_cli_cmd_fail(CMD, 1, "out of memory");
  for (int i = 0; i < argc; i++) {
    av[i] = argv[i];
    if (!strcmp(argv[i], "--config")) {
      av[i] = "--net";
    } else if (!strncmp(argv[i], "--config=", 9) && !eq) {
      const size_t l = strlen(argv[i] + 9) + 7;
      eq = malloc(l);
      if (!eq) {
        free(av);
        return nd_cli_cmd_fail(CMD, 1, "out of memory");
      }
      snprintf(eq, l, "--net=%s", argv[i] + 9);
      av[i] = eq;
    }
  }
  const nd_option table[] = {
      {"net", ND_OPT_STRING, &a.net, NULL, "the network description net.json (given as --config FILE; docs/somp.md)", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own net.json)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to the end)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      {"plots", ND_OPT_BOOL, &a.plots, "true", "write loss.png, rules.png and activity.png", NULL},
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn " CMD, "--config net.json [options]",
                        "Trains a network of self-organising multi-paradigm cells (cells, connections, local rules and "
                        "their rates, readout, task and learning settings from net.json) by the blend of BPTT and "
                        "local rules. Writes config.json, net.json, metrics.jsonl, PNG plots and "
                        "checkpoint.safetensors (resumable) into --out (default runs/somp). docs/somp.md.",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, "plots", "net", NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, av, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) {
    free(av);
    free(eq);
    return rc;
  }
  nd_cli_common_apply(&a.common);
  rc = 0;
  if (!a.common.out) a.common.out = "runs/somp";
  if (!a.net && !a.resume) rc = nd_cli_cmd_fail(CMD, 2, "--config net.json is required (docs/somp.md)");
  if (!rc && a.stop_after < 0) rc = nd_cli_cmd_fail(CMD, 2, "--stop-after %lld: need >= 0", (long long)a.stop_after);
  if (!rc && a.checkpoint_every < 0)
    rc = nd_cli_cmd_fail(CMD, 2, "--checkpoint-every %lld: need >= 0", (long long)a.checkpoint_every);
  st_run *r = calloc(1, sizeof *r);
  if (!r && !rc) rc = nd_cli_cmd_fail(CMD, 1, "out of memory");
  char netpath[ND_RUN_PATH_MAX];
  if (!rc) {
    if (a.resume) snprintf(netpath, sizeof netpath, "%s/net.json", a.resume);
    else snprintf(netpath, sizeof netpath, "%s", a.net);
    rc = somp_spec_read("neurodyn " CMD, netpath, &r->spec);
  }
  nd_status s = ND_OK;
  if (!rc) {
    r->a = &a;
    r->seed = (uint64_t)a.common.seed;
    s = somp_task_load(&r->spec.task);
    if (s == ND_OK) s = somp_model_build(&r->m, &r->spec, r->seed);
    if (s == ND_OK && a.resume) s = load_checkpoint(r, a.resume);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  }
  bool begun = false;
  if (!rc) {
    if (r->spec.task.kind == SOMP_TASK_TEXT) run.dataset_files[0] = r->spec.task.path;
    rc = nd_run_begin(&run, a.resume ? a.resume : a.common.out, a.resume != NULL);
    begun = !rc;
  }
  if (!rc && !a.resume) rc = copy_net(&run, netpath);
  nd_trainer t = {.self = r, .epochs = r ? r->spec.epochs : 0, .unit = "batches", .epoch = s_epoch, .state = s_state,
                  .after_epoch = s_after_epoch, .figures = s_figures, .checkpoint = s_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a.stop_after, .checkpoint_every = a.checkpoint_every};
  if (!rc) rc = nd_run_loop(&run, &t, &lim);
  if (begun && (rc == 0 || rc == 130) && a.plots) plots(r, &run);
  if (!rc && !a.common.quiet && r->st.epoch == r->spec.epochs)
    fprintf(stderr, "neurodyn train somp: validation %s %.4g, test %s %.4g, %.1f s\n", metric_name(&r->spec),
            r->val_metric, metric_name(&r->spec), r->test_metric, nd_cli_now() - run.t_start);
  if (begun) nd_run_end(&run);
  if (r) {
    somp_model_free(&r->m);
    somp_task_free(&r->spec.task);
    free(r);
  }
  nd_args_release(&args);
  free(av);
  free(eq);
  return rc;
}
