/* net.json, the somp tasks and the training step shared by `train somp` and
 * `run somp` (somp_common.h, docs/somp.md). */
#include "somp_common.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

/* ---------------------------------------------------------------- spec */
void somp_spec_default(somp_spec *s) {
  memset(s, 0, sizeof *s);
  s->n_cells = 1;
  s->cells[0] = nd_somp_cell_defaults("c", 32);
  s->n_conn[0] = 2;
  snprintf(s->conn[0][0], ND_SOMP_NAME_MAX, "x");
  snprintf(s->conn[0][1], ND_SOMP_NAME_MAX, "c");
  snprintf(s->readout, sizeof s->readout, "c");
  s->task.kind = SOMP_TASK_MACKEY_GLASS;
  s->task.T = 50, s->task.washout = 10, s->task.batch = 16, s->task.steps = 20, s->task.val_windows = 32;
  snprintf(s->task.path, sizeof s->task.path, "%s", SOMP_DEFAULT_CORPUS);
  s->learn = nd_somp_learn_defaults();
  s->learn.lr = 3e-3;
  s->learn.optimizer = ND_SOMP_ADAM;
  s->learn.clip = 1.0;
  s->learn.plastic = true;
  s->supervised = true;
  s->epochs = 10;
}

typedef struct jctx {
  const char *prog, *path;
  char where[160];
  int rc;
} jctx;

static int jfail(jctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jctx *c, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!c->rc) nd_cli_fail(2, c->prog, "%s: %s%s%s", c->path, c->where, c->where[0] ? ": " : "", msg);
  c->rc = 2;
  return 2;
}

/* every key of obj must be in allowed (NULL-ended), once */
static int check_keys(jctx *c, const cJSON *obj, const char *const *allowed) {
  if (!cJSON_IsObject(obj)) return jfail(c, "expected an object");
  for (const cJSON *it = obj->child; it; it = it->next) {
    bool ok = false;
    for (int k = 0; allowed[k] && !ok; k++) ok = !strcmp(allowed[k], it->string);
    if (!ok) {
      char list[512] = "";
      for (int k = 0; allowed[k]; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", allowed[k]);
      }
      return jfail(c, "unknown key \"%s\" (known: %s)", it->string, list);
    }
    for (const cJSON *jt = obj->child; jt != it; jt = jt->next)
      if (!strcmp(jt->string, it->string)) return jfail(c, "key \"%s\" given twice", it->string);
  }
  return 0;
}

static void sub(jctx *c, const char *base, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sub(jctx *c, const char *base, const char *fmt, ...) {
  char tail[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tail, sizeof tail, fmt, ap);
  va_end(ap);
  snprintf(c->where, sizeof c->where, "%s%s", base, tail);
}

/* c->where += ".key" (the old path kept in base, restored by leave) */
static void enter(jctx *c, const char *key, char *base, size_t len) {
  snprintf(base, len, "%s", c->where);
  sub(c, base, "%s%s", base[0] ? "." : "", key);
}
static void leave(jctx *c, const char *base) { snprintf(c->where, sizeof c->where, "%s", base); }

static int get_num(jctx *c, const cJSON *o, const char *key, double lo, double hi, double *v) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it) return 0;
  char base[160];
  enter(c, key, base, sizeof base);
  int rc = 0;
  if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) rc = jfail(c, "expected a number");
  else if (it->valuedouble < lo || it->valuedouble > hi) rc = jfail(c, "%g is outside %g..%g", it->valuedouble, lo, hi);
  else *v = it->valuedouble;
  leave(c, base);
  return rc;
}

static int get_int(jctx *c, const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *v) {
  double d = (double)*v;
  int rc = get_num(c, o, key, (double)lo, (double)hi, &d);
  if (rc) return rc;
  if (d != floor(d)) {
    char base[160];
    enter(c, key, base, sizeof base);
    rc = jfail(c, "%g is not an integer", d);
    leave(c, base);
    return rc;
  }
  *v = (int64_t)d;
  return 0;
}

static int get_bool(jctx *c, const cJSON *o, const char *key, bool *v) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it) return 0;
  if (!cJSON_IsBool(it)) {
    char base[160];
    enter(c, key, base, sizeof base);
    jfail(c, "expected true or false");
    leave(c, base);
    return 2;
  }
  *v = cJSON_IsTrue(it);
  return 0;
}

/* a string that must be one of choices (NULL-ended); *idx unchanged if absent */
static int get_choice(jctx *c, const cJSON *o, const char *key, const char *const *choices, int *idx) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!it) return 0;
  char base[160];
  enter(c, key, base, sizeof base);
  int rc = 0;
  if (!cJSON_IsString(it)) {
    rc = jfail(c, "expected a string");
  } else {
    int k = 0;
    for (; choices[k] && strcmp(choices[k], it->valuestring); k++) {
    }
    if (!choices[k]) {
      char list[256] = "";
      for (int j = 0; choices[j]; j++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", choices[j]);
      }
      rc = jfail(c, "\"%s\" is not one of %s", it->valuestring, list);
    } else {
      *idx = k;
    }
  }
  leave(c, base);
  return rc;
}

static int get_name(jctx *c, const cJSON *it, char *dst, const char *what) {
  if (!cJSON_IsString(it) || !it->valuestring[0]) return jfail(c, "%s: expected a non-empty string", what);
  if (strlen(it->valuestring) >= ND_SOMP_NAME_MAX)
    return jfail(c, "%s: \"%.20s...\" longer than %d characters", what, it->valuestring, ND_SOMP_NAME_MAX - 1);
  snprintf(dst, ND_SOMP_NAME_MAX, "%s", it->valuestring);
  return 0;
}

static const char *const modes[] = {"dense", "sparse", NULL};
static const char *const thresholds[] = {"bucket", "z", "soft", NULL};
static const char *const pools[] = {"sum", "mean", NULL};
static const char *const hp_keys[] = {"alpha_dense", "alpha_sparse", "a_decay", "a_discharge",
                                      "noise_mean",  "noise_std",    "threshold", NULL};

static int parse_cell(jctx *c, const cJSON *o, int i, somp_spec *s) {
  static const char *const keys[] = {"name", "units", "mode", "threshold", "pool", "init_scale", "hparams", "inputs", NULL};
  sub(c, "", "cells[%d]", i);
  if (check_keys(c, o, keys)) return 2;
  nd_somp_cell_config *cc = &s->cells[i];
  *cc = nd_somp_cell_defaults(NULL, 0);
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (!nm) return jfail(c, "\"name\" is required");
  if (get_name(c, nm, cc->name, "name")) return 2;
  if (!strcmp(cc->name, "x")) return jfail(c, "name \"x\" is the task's input");
  if (!cJSON_GetObjectItemCaseSensitive(o, "units")) return jfail(c, "\"units\" is required");
  if (get_int(c, o, "units", 1, 65536, &cc->units)) return 2;
  int m = 0, t = 0, p = 0;
  if (get_choice(c, o, "mode", modes, &m) || get_choice(c, o, "threshold", thresholds, &t) ||
      get_choice(c, o, "pool", pools, &p))
    return 2;
  cc->mode = (nd_somp_mode)m, cc->threshold = (nd_somp_threshold)t, cc->pool = (nd_somp_pool)p;
  if (get_num(c, o, "init_scale", 0, 100, &cc->init_scale)) return 2;
  const cJSON *hp = cJSON_GetObjectItemCaseSensitive(o, "hparams");
  if (hp) {
    sub(c, "", "cells[%d].hparams", i);
    if (check_keys(c, hp, hp_keys)) return 2;
    double *v = &cc->hp.alpha_dense;
    for (int k = 0; hp_keys[k]; k++)
      if (get_num(c, hp, hp_keys[k], -1e6, 1e6, &v[k])) return 2;
    nd_somp_hparams out;
    if (nd_somp_hparams_resolve(&cc->hp, NULL, NULL, &out) != ND_OK) return jfail(c, "%s", nd_last_error());
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "inputs");
  sub(c, "", "cells[%d].inputs", i);
  if (!in || !cJSON_IsArray(in)) return jfail(c, "required: an array of input names (\"x\" and/or cell names)");
  int k = 0;
  for (const cJSON *it = in->child; it; it = it->next, k++) {
    if (k >= SOMP_CLI_MAX_CONN) return jfail(c, "at most %d inputs", SOMP_CLI_MAX_CONN);
    sub(c, "", "cells[%d].inputs[%d]", i, k);
    s->conn_from[i][k] = 0;
    if (cJSON_IsObject(it)) { /* {"name": "x", "from_epoch": N}: an input that appears later */
      static const char *const ikeys[] = {"name", "from_epoch", NULL};
      if (check_keys(c, it, ikeys)) return 2;
      if (get_name(c, cJSON_GetObjectItemCaseSensitive(it, "name"), s->conn[i][k], "name")) return 2;
      if (get_int(c, it, "from_epoch", 0, 1000000, &s->conn_from[i][k])) return 2;
      if (s->conn_from[i][k] > 0 && strcmp(s->conn[i][k], "x"))
        return jfail(c, "from_epoch: only the task input \"x\" can appear later (not \"%s\")", s->conn[i][k]);
    } else if (get_name(c, it, s->conn[i][k], "input")) {
      return 2;
    }
    for (int j = 0; j < k; j++)
      if (!strcmp(s->conn[i][j], s->conn[i][k])) return jfail(c, "\"%s\" listed twice", s->conn[i][k]);
  }
  s->n_conn[i] = k;
  if (k == 0) {
    sub(c, "", "cells[%d].inputs", i);
    return jfail(c, "empty: a cell needs at least one input");
  }
  return 0;
}

/* rule parameters by name -> p[k] */
typedef struct rparam { const char *name; int k; } rparam;
static const rparam *rule_params(nd_somp_rule_kind k) {
  static const rparam none[] = {{NULL, 0}};
  static const rparam ml[] = {{"lags", 0}, {NULL, 0}};
  static const rparam cd[] = {{"beta", 0}, {"a_cd", 1}, {"seed_sign", 2}, {NULL, 0}};
  static const rparam sp[] = {{"a_sp", 0}, {"grow", 1}, {"prune_below", 2}, {NULL, 0}};
  static const rparam tg[] = {{"target", 0}, {NULL, 0}};
  static const rparam mr[] = {{"mu", 0}, {NULL, 0}};
  static const rparam vic[] = {{"lambda", 0}, {"mu", 1}, {"nu", 2}, {"gamma", 3}, {NULL, 0}};
  static const rparam th[] = {{"threshold", 0}, {NULL, 0}};
  static const rparam gr[] = {{"group", 0}, {NULL, 0}};
  static const rparam te[] = {{"temperature", 0}, {NULL, 0}};
  static const rparam nm[] = {{"norm", 0}, {NULL, 0}};
  static const rparam li[] = {{"limit", 0}, {NULL, 0}};
  switch (k) {
  case ND_SOMP_RULE_STDP_MULTILAG: return ml;
  case ND_SOMP_RULE_COVARIANCE_DECAY: return cd;
  case ND_SOMP_RULE_STRUCTURAL: return sp;
  case ND_SOMP_RULE_INTRINSIC: case ND_SOMP_RULE_SPARSITY_REG: return tg;
  case ND_SOMP_RULE_MEAN_REG: return mr;
  case ND_SOMP_RULE_TEMPORAL_VIC: return vic;
  case ND_SOMP_RULE_IMPLICATION: return th;
  case ND_SOMP_RULE_HARD_WTA: return gr;
  case ND_SOMP_RULE_SOFT_WTA: return te;
  case ND_SOMP_RULE_ROW_NORMALIZE: return nm;
  case ND_SOMP_RULE_CLIP: return li;
  default: return none;
  }
}

static int cell_index(const somp_spec *s, const char *name) {
  for (int i = 0; i < s->n_cells; i++)
    if (!strcmp(s->cells[i].name, name)) return i;
  return -1;
}

static int parse_rule(jctx *c, const cJSON *o, int r, somp_spec *s) {
  static const char *const keys[] = {"rule", "cell", "input", "eta", "reward", "params", NULL};
  sub(c, "", "rules[%d]", r);
  if (check_keys(c, o, keys)) return 2;
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "rule");
  if (!k || !cJSON_IsString(k)) return jfail(c, "\"rule\" is required (a rule name, docs/somp.md)");
  const int kind = nd_somp_rule_kind_of(k->valuestring);
  if (kind < 0) {
    char list[512] = "";
    for (int j = 0; j < ND_SOMP_RULE_COUNT; j++) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", nd_somp_rule_name((nd_somp_rule_kind)j));
    }
    sub(c, "", "rules[%d].rule", r);
    return jfail(c, "unknown rule \"%s\" (%s)", k->valuestring, list);
  }
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(o, "cell");
  char cname[ND_SOMP_NAME_MAX];
  if (!cl) return jfail(c, "\"cell\" is required");
  if (get_name(c, cl, cname, "cell")) return 2;
  const int ci = cell_index(s, cname);
  sub(c, "", "rules[%d].cell", r);
  if (ci < 0) return jfail(c, "no cell named \"%s\"", cname);
  sub(c, "", "rules[%d]", r);
  nd_somp_rule_config *rc = &s->rules[r];
  *rc = nd_somp_rule_defaults((nd_somp_rule_kind)kind, ci, 0.01);
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input");
  if (in) {
    if (get_name(c, in, rc->input, "input")) return 2;
    bool found = false;
    for (int j = 0; j < s->n_conn[ci]; j++) found |= !strcmp(s->conn[ci][j], rc->input);
    sub(c, "", "rules[%d].input", r);
    if (!found) return jfail(c, "cell \"%s\" has no input \"%s\"", cname, rc->input);
    sub(c, "", "rules[%d]", r);
  }
  if (get_num(c, o, "eta", -1e6, 1e6, &rc->eta) || get_bool(c, o, "reward", &rc->reward)) return 2;
  const cJSON *pa = cJSON_GetObjectItemCaseSensitive(o, "params");
  if (pa) {
    const rparam *rp = rule_params((nd_somp_rule_kind)kind);
    const char *names[6] = {NULL};
    int n = 0;
    for (; rp[n].name; n++) names[n] = rp[n].name;
    sub(c, "", "rules[%d].params", r);
    if (check_keys(c, pa, names)) return 2;
    for (int j = 0; j < n; j++)
      if (get_num(c, pa, rp[j].name, -1e9, 1e9, &rc->p[rp[j].k])) return 2;
  }
  /* the rule's own checks (parameter ranges), on a scratch one-unit cell */
  nd_somp_cell_config one = nd_somp_cell_defaults("c", 1);
  nd_somp_net *scratch = NULL;
  nd_somp_rule_config probe = *rc;
  probe.cell = 0, probe.input[0] = 0;
  nd_status st = nd_somp_net_create(1, &one, 0, &scratch);
  if (st == ND_OK) st = nd_somp_net_add_rule(scratch, &probe);
  nd_somp_net_free(scratch);
  if (st != ND_OK) return jfail(c, "%s", nd_last_error());
  return 0;
}

static int parse_task(jctx *c, const cJSON *o, somp_spec *s) {
  static const char *const keys[] = {"name", "T", "washout", "batch", "steps", "val_windows", "path", NULL};
  static const char *const names[] = {"mackey-glass", "text", NULL};
  snprintf(c->where, sizeof c->where, "task");
  if (check_keys(c, o, keys)) return 2;
  int k = 0;
  if (get_choice(c, o, "name", names, &k)) return 2;
  somp_task *t = &s->task;
  t->kind = (somp_task_kind)k;
  if (get_int(c, o, "T", 2, 100000, &t->T) || get_int(c, o, "washout", 0, 100000, &t->washout) ||
      get_int(c, o, "batch", 1, 100000, &t->batch) || get_int(c, o, "steps", 1, 100000000, &t->steps) ||
      get_int(c, o, "val_windows", 1, 100000, &t->val_windows))
    return 2;
  snprintf(c->where, sizeof c->where, "task.washout");
  if (t->washout >= t->T) return jfail(c, "%lld, must be < T = %lld", (long long)t->washout, (long long)t->T);
  snprintf(c->where, sizeof c->where, "task");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
  if (p) {
    if (!cJSON_IsString(p) || strlen(p->valuestring) >= sizeof t->path) return jfail(c, "path: expected a file name");
    snprintf(t->path, sizeof t->path, "%s", p->valuestring);
  }
  return 0;
}

static int parse_learn(jctx *c, const cJSON *o, somp_spec *s) {
  static const char *const keys[] = {"lr", "eta_sl", "optimizer", "apply", "plastic", "supervised", "clip", NULL};
  static const char *const opts[] = {"sgd", "adam", NULL};
  static const char *const applies[] = {"accumulate", "immediate", NULL};
  snprintf(c->where, sizeof c->where, "learn");
  if (check_keys(c, o, keys)) return 2;
  nd_somp_learn *l = &s->learn;
  int op = (int)l->optimizer, ap = (int)l->apply;
  if (get_num(c, o, "lr", 0, 10, &l->lr) || get_num(c, o, "eta_sl", -1e6, 1e6, &l->eta_sl) ||
      get_choice(c, o, "optimizer", opts, &op) || get_choice(c, o, "apply", applies, &ap) ||
      get_bool(c, o, "plastic", &l->plastic) || get_bool(c, o, "supervised", &s->supervised) ||
      get_num(c, o, "clip", 0, 1e12, &l->clip))
    return 2;
  l->optimizer = (nd_somp_optimizer)op, l->apply = (nd_somp_apply)ap;
  return 0;
}

static int parse_root(jctx *c, const cJSON *root, somp_spec *s) {
  static const char *const keys[] = {"cells", "rules", "readout", "task", "learn", "epochs", NULL};
  if (check_keys(c, root, keys)) return 2;
  const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
  if (!cells || !cJSON_IsArray(cells) || !cells->child) return jfail(c, "\"cells\": required, a non-empty array");
  int n = 0;
  for (const cJSON *it = cells->child; it; it = it->next, n++) {
    if (n >= SOMP_CLI_MAX_CELLS) return jfail(c, "cells: at most %d", SOMP_CLI_MAX_CELLS);
    if (parse_cell(c, it, n, s)) return 2;
    for (int j = 0; j < n; j++)
      if (!strcmp(s->cells[j].name, s->cells[n].name)) return jfail(c, "name \"%s\" already used by cells[%d]", s->cells[n].name, j);
  }
  s->n_cells = n;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < s->n_conn[i]; k++)
      if (strcmp(s->conn[i][k], "x") && cell_index(s, s->conn[i][k]) < 0) {
        sub(c, "", "cells[%d].inputs[%d]", i, k);
        return jfail(c, "\"%s\" is neither a cell nor the task input \"x\"", s->conn[i][k]);
      }
  bool any_x = false;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < s->n_conn[i]; k++) any_x |= !strcmp(s->conn[i][k], "x") && s->conn_from[i][k] == 0;
  c->where[0] = 0;
  if (!any_x) return jfail(c, "cells: no cell reads the task input \"x\" (from the first epoch)");
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
  s->n_rules = 0;
  if (rules) {
    if (!cJSON_IsArray(rules)) return jfail(c, "\"rules\": expected an array");
    for (const cJSON *it = rules->child; it; it = it->next, s->n_rules++) {
      if (s->n_rules >= SOMP_CLI_MAX_RULES) return jfail(c, "rules: at most %d", SOMP_CLI_MAX_RULES);
      if (parse_rule(c, it, s->n_rules, s)) return 2;
    }
  }
  c->where[0] = 0;
  const cJSON *ro = cJSON_GetObjectItemCaseSensitive(root, "readout");
  if (ro) {
    snprintf(c->where, sizeof c->where, "readout");
    if (get_name(c, ro, s->readout, "readout")) return 2;
  } else {
    snprintf(s->readout, sizeof s->readout, "%s", s->cells[n - 1].name);
  }
  if (cell_index(s, s->readout) < 0) return jfail(c, "no cell named \"%s\"", s->readout);
  c->where[0] = 0;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "task");
  if (t && parse_task(c, t, s)) return 2;
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "learn");
  if (l && parse_learn(c, l, s)) return 2;
  c->where[0] = 0;
  if (get_int(c, root, "epochs", 1, 1000000, &s->epochs)) return 2;
  return 0;
}

int somp_spec_read(const char *prog, const char *path, somp_spec *s) {
  void *buf = NULL;
  size_t len = 0;
  nd_status st = nd_file_read_all(path, &buf, &len);
  if (st != ND_OK) return nd_cli_fail(nd_cli_status_code(st), prog, "%s", nd_last_error());
  const int rc = somp_spec_parse(prog, path, buf, len, s);
  free(buf);
  return rc;
}

int somp_spec_parse(const char *prog, const char *path, const char *buf, size_t len, somp_spec *s) {
  somp_spec_default(s);
  s->n_rules = 0;
  if (len > (1u << 20)) return nd_cli_fail(2, prog, "%s: %zu bytes, larger than 1 MiB", path, len);
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
  jctx c = {prog, path, "", 0};
  if (!root) {
    jfail(&c, "not valid JSON (near byte %zu)", end ? (size_t)(end - buf) : (size_t)0);
    return 2;
  }
  if (!cJSON_IsObject(root)) jfail(&c, "expected a JSON object {\"cells\": [...], ...}");
  else parse_root(&c, root, s);
  for (const char *p = end; p && (size_t)(p - buf) < len && !c.rc; p++)
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') jfail(&c, "text after the JSON object");
  cJSON_Delete(root);
  return c.rc;
}

/* ---------------------------------------------------------------- tasks */
void somp_task_free(somp_task *t) {
  free(t->series), free(t->text);
  t->series = NULL, t->text = NULL;
}

nd_status somp_task_load(somp_task *t) {
  somp_task_free(t);
  if (t->kind == SOMP_TASK_MACKEY_GLASS) {
    /* Mackey & Glass 1977, tau 17 (the classic chaotic setting), h = 1,
     * 500 transient steps dropped; splits 60 / 20 / 20 %. */
    const int64_t n = 6000, drop = 500;
    double *d = malloc((size_t)(n + drop) * sizeof *d);
    t->series = malloc((size_t)n * sizeof(float));
    if (!d || !t->series) {
      free(d);
      return nd_set_error(ND_ERR_NOMEM, "somp task: out of memory");
    }
    nd_status s = nd_mackey_glass(n + drop, 17, 0.2, 0.1, 10, 1.2, 1.0, d);
    if (s != ND_OK) {
      free(d);
      return s;
    }
    double m = 0, v = 0;
    for (int64_t k = 0; k < n; k++) m += d[drop + k];
    m /= n;
    for (int64_t k = 0; k < n; k++) v += (d[drop + k] - m) * (d[drop + k] - m);
    const double sd = sqrt(v / n);
    for (int64_t k = 0; k < n; k++) t->series[k] = (float)((d[drop + k] - m) / sd);
    free(d);
    t->n = n;
    t->features = t->outputs = 1;
  } else {
    void *buf = NULL;
    size_t len = 0;
    nd_status s = nd_file_read_all(t->path, &buf, &len);
    if (s != ND_OK) return s;
    if (len < 1000) {
      free(buf);
      return nd_set_error(ND_ERR_INVALID_ARG, "somp task text: %s has %zu bytes, need >= 1000", t->path, len);
    }
    int map[256];
    for (int k = 0; k < 256; k++) map[k] = -1;
    const uint8_t *b = buf;
    int v = 0;
    for (size_t k = 0; k < len; k++) map[b[k]] = 1;
    for (int k = 0; k < 256; k++)
      if (map[k] > 0) map[k] = v++;
    t->text = malloc(len);
    if (!t->text) {
      free(buf);
      return nd_set_error(ND_ERR_NOMEM, "somp task: out of memory");
    }
    for (size_t k = 0; k < len; k++) t->text[k] = (uint8_t)map[b[k]];
    free(buf);
    t->n = (int64_t)len;
    t->vocab = v;
    t->features = t->outputs = v;
  }
  /* contiguous splits: train 60 %, validation 20 %, test 20 % (text: 80 / 10 / 10) */
  const double a = t->kind == SOMP_TASK_TEXT ? 0.8 : 0.6, b2 = t->kind == SOMP_TASK_TEXT ? 0.9 : 0.8;
  t->split[0][0] = 0, t->split[0][1] = (int64_t)(a * t->n);
  t->split[1][0] = t->split[0][1], t->split[1][1] = (int64_t)(b2 * t->n);
  t->split[2][0] = t->split[1][1], t->split[2][1] = t->n;
  for (int k = 0; k < 3; k++)
    if (t->split[k][1] - t->split[k][0] < t->T + 2)
      return nd_set_error(ND_ERR_INVALID_ARG, "somp task: split %d has %lld points, need T + 2 = %lld", k,
                          (long long)(t->split[k][1] - t->split[k][0]), (long long)(t->T + 2));
  return ND_OK;
}

/* x [B, T, F], targets (MSE [B, T, 1]) or labels (CE [B, T]) of windows at starts */
static void fill_batch(const somp_task *t, int64_t B, const int64_t *starts, float *x, float *tgt, int32_t *lab) {
  const int64_t T = t->T, F = t->features;
  if (t->kind == SOMP_TASK_MACKEY_GLASS) {
    for (int64_t b = 0; b < B; b++)
      for (int64_t s = 0; s < T; s++) {
        x[b * T + s] = t->series[starts[b] + s];
        tgt[b * T + s] = t->series[starts[b] + s + 1];
      }
  } else {
    memset(x, 0, (size_t)(B * T * F) * sizeof(float));
    for (int64_t b = 0; b < B; b++)
      for (int64_t s = 0; s < T; s++) {
        x[(b * T + s) * F + t->text[starts[b] + s]] = 1.0f;
        lab[b * T + s] = t->text[starts[b] + s + 1];
      }
  }
}

void somp_draw_starts(const somp_task *t, uint64_t seed, uint64_t index, int64_t B, int64_t *starts) {
  nd_rng root, r;
  nd_rng_init(&root, seed ^ 0x7f4a7c15u);
  r = nd_rng_split(&root, index);
  const int64_t lo = t->split[SOMP_TRAIN][0], span = t->split[SOMP_TRAIN][1] - lo - t->T - 1;
  for (int64_t b = 0; b < B; b++) starts[b] = lo + (int64_t)(nd_rng_uniform1(&r) * (double)span);
}

/* ---------------------------------------------------------------- model */
void somp_model_free(somp_model *m) {
  nd_somp_net_free(m->net);
  nd_somp_readout_free(m->ro);
  free(m->x), free(m->tgt), free(m->dy), free(m->lab), free(m->starts);
  memset(m, 0, sizeof *m);
}

static nd_status ensure(somp_model *m, int64_t B) {
  if (B <= m->cap) return ND_OK;
  const somp_task *t = &m->spec->task;
  free(m->x), free(m->tgt), free(m->dy), free(m->lab), free(m->starts);
  const int64_t u = m->spec->cells[m->ro_cell].units;
  m->x = malloc((size_t)(B * t->T * t->features) * sizeof(float));
  m->tgt = malloc((size_t)(B * t->T) * sizeof(float));
  m->dy = malloc((size_t)(B * t->T * u) * sizeof(float));
  m->lab = malloc((size_t)(B * t->T) * sizeof(int32_t));
  m->starts = malloc((size_t)B * sizeof(int64_t));
  if (!m->x || !m->tgt || !m->dy || !m->lab || !m->starts) {
    m->cap = 0;
    return nd_set_error(ND_ERR_NOMEM, "somp: out of memory for a batch of %lld", (long long)B);
  }
  m->cap = B;
  return ND_OK;
}

nd_status somp_model_build(somp_model *m, const somp_spec *s, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->spec = s;
  nd_status st = nd_somp_net_create(s->n_cells, s->cells, seed, &m->net);
  for (int i = 0; i < s->n_cells && st == ND_OK; i++)
    for (int k = 0; k < s->n_conn[i] && st == ND_OK; k++)
      if (s->conn_from[i][k] == 0) /* later ones grow in their first forward */
        st = nd_somp_net_connect(m->net, i, s->conn[i][k], !strcmp(s->conn[i][k], "x") ? s->task.features : 0);
  for (int r = 0; r < s->n_rules && st == ND_OK; r++) st = nd_somp_net_add_rule(m->net, &s->rules[r]);
  m->ro_cell = nd_somp_net_find(m->net, s->readout);
  if (st == ND_OK) st = nd_somp_readout_create(s->cells[m->ro_cell].units, s->task.outputs, &m->ro);
  if (st == ND_OK) st = ensure(m, s->task.batch);
  if (st != ND_OK) somp_model_free(m);
  return st;
}

static bool has_input(const nd_somp_net *net, int cell, const char *name) {
  for (int k = 0; k < nd_somp_net_num_inputs(net, cell); k++)
    if (!strcmp(nd_somp_net_input_name(net, cell, k), name)) return true;
  return false;
}

/* training (learn_on): the inputs whose from_epoch has come; evaluation: those the network has */
static nd_status forward(somp_model *m, int64_t B, bool learn_on) {
  const somp_spec *s = m->spec;
  nd_tensor tx = nd_tensor_wrap(m->x, 3, ND_SHAPE(B, s->task.T, s->task.features));
  nd_somp_input in[SOMP_CLI_MAX_CELLS];
  int n = 0;
  for (int i = 0; i < s->n_cells; i++)
    for (int k = 0; k < s->n_conn[i]; k++)
      if (!strcmp(s->conn[i][k], "x") && (learn_on ? m->epoch >= s->conn_from[i][k] : has_input(m->net, i, "x")))
        in[n++] = (nd_somp_input){"x", i, &tx, 0};
  nd_somp_learn l = s->learn;
  l.plastic = learn_on && s->learn.plastic;
  nd_status st = nd_somp_net_learn(m->net, &l);
  if (st != ND_OK) return st;
  nd_somp_hparams ex = nd_somp_hparams_unset();
  if (!learn_on) ex.noise_std = 0;
  return nd_somp_net_forward(m->net, n, in, NULL, learn_on ? NULL : &ex);
}

nd_status somp_train_batch(somp_model *m, int64_t B, const int64_t *starts, double *loss) {
  const somp_spec *s = m->spec;
  nd_status st = ensure(m, B);
  if (st != ND_OK) return st;
  fill_batch(&s->task, B, starts, m->x, m->tgt, m->lab);
  st = forward(m, B, true);
  if (st != ND_OK) return st;
  const int64_t u = s->cells[m->ro_cell].units;
  nd_tensor tdy = nd_tensor_wrap(m->dy, 3, ND_SHAPE(B, s->task.T, u));
  const nd_somp_loss kind = s->task.kind == SOMP_TASK_TEXT ? ND_SOMP_LOSS_CE : ND_SOMP_LOSS_MSE;
  st = nd_somp_readout_loss(m->ro, m->net, m->ro_cell, kind, m->tgt, m->lab, s->task.washout, &tdy, NULL, loss, NULL);
  if (st != ND_OK) return st;
  nd_somp_net_zero_grad(m->net);
  if (s->supervised) {
    const nd_tensor *dy[SOMP_CLI_MAX_CELLS] = {NULL};
    dy[m->ro_cell] = &tdy;
    st = nd_somp_net_backward(m->net, dy, NULL);
    if (st != ND_OK) return st;
  }
  st = nd_somp_net_step(m->net);
  if (st == ND_OK) st = nd_somp_readout_step(m->ro, &s->learn);
  return st;
}

nd_status somp_evaluate(somp_model *m, somp_split split, double *loss, double *metric) {
  const somp_spec *s = m->spec;
  const somp_task *t = &s->task;
  const int64_t B = t->val_windows;
  nd_status st = ensure(m, B);
  if (st != ND_OK) return st;
  const int64_t lo = t->split[split][0], span = t->split[split][1] - lo - t->T - 1;
  for (int64_t b = 0; b < B; b++) m->starts[b] = lo + (B > 1 ? span * b / (B - 1) : 0);
  fill_batch(t, B, m->starts, m->x, m->tgt, m->lab);
  st = forward(m, B, false);
  if (st != ND_OK) return st;
  const nd_somp_loss kind = t->kind == SOMP_TASK_TEXT ? ND_SOMP_LOSS_CE : ND_SOMP_LOSS_MSE;
  st = nd_somp_readout_loss(m->ro, m->net, m->ro_cell, kind, m->tgt, m->lab, t->washout, NULL, NULL, loss, NULL);
  if (st != ND_OK) return st;
  if (kind == ND_SOMP_LOSS_CE) {
    *metric = *loss / log(2.0);
  } else { /* NRMSE: sqrt(MSE / var(target)) over the scored targets */
    double m1 = 0, m2 = 0, c = 0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t k = t->washout; k < t->T; k++) {
        const double v = m->tgt[b * t->T + k];
        m1 += v, m2 += v * v, c++;
      }
    m1 /= c;
    *metric = sqrt(*loss / (m2 / c - m1 * m1));
  }
  return ND_OK;
}
