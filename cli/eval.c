/* neurodyn eval: scores a saved model on a test set.  The model file's
 * "model" entry picks the scorer (registry.c); the data set is the one the
 * model was trained on unless --dataset says otherwise.  Prints the test
 * error (or, with --json, one JSON object with the confusion matrix);
 * --save DIR writes predictions.csv and confusion.csv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "datasets.h"
#include "options.h"
#include "run_config.h"

typedef struct eval_args {
  const char *model, *save;
  int dataset;
  bool json;
  nd_cli_dataopts data;
  int threads;
} eval_args;

static const char *const eval_datasets[] = {"auto", "mnist", "fashion-mnist", NULL};

/* DIR: the first model file a scorer knows; FILE: itself. */
static int find_model_file(const char *cmd, const char *model, char *path, size_t len) {
  struct stat sb;
  if (stat(model, &sb) != 0) return nd_cli_cmd_fail(cmd, 2, "%s: no such file or directory", model);
  if (!S_ISDIR(sb.st_mode)) {
    snprintf(path, len, "%s", model);
    return 0;
  }
  const char *cands[] = {"top.safetensors", "mlp.safetensors", "grid3d.safetensors"};
  for (int i = 0; i < 3; i++) {
    if (snprintf(path, len, "%s/%s", model, cands[i]) >= (int)len) return nd_cli_cmd_fail(cmd, 2, "--model: path too long");
    if (stat(path, &sb) == 0) return 0;
  }
  return nd_cli_cmd_fail(cmd, 2, "%s: holds none of top.safetensors, mlp.safetensors, grid3d.safetensors", model);
}

static const nd_cli_scorer *scorer_of(const char *model) {
  for (const nd_cli_scorer *s = nd_cli_scorers; model && s->model; s++)
    if (!strcmp(s->model, model)) return s;
  return NULL;
}

static char *confusion_csv(const int64_t *conf, int64_t c) {
  size_t cap = (size_t)(c * c * 12 + c * 8 + 64);
  char *t = malloc(cap);
  if (!t) return NULL;
  size_t l = (size_t)snprintf(t, cap, "label\\prediction");
  for (int64_t j = 0; j < c; j++) l += (size_t)snprintf(t + l, cap - l, ",%lld", (long long)j);
  for (int64_t i = 0; i < c; i++) {
    l += (size_t)snprintf(t + l, cap - l, "\n%lld", (long long)i);
    for (int64_t j = 0; j < c; j++) l += (size_t)snprintf(t + l, cap - l, ",%lld", (long long)conf[i * c + j]);
  }
  return t;
}

static int save_outputs(const char *cmd, const char *dir, const nd_dataset *te, const int32_t *pred, const int64_t *conf,
                        int64_t c) {
  nd_status s = nd_cli_mkdirs(dir);
  if (s != ND_OK) return nd_cli_cmd_fail(cmd, 2, "--save: %s", nd_last_error());
  char path[4200];
  size_t cap = (size_t)te->n * 40 + 64;
  char *t = malloc(cap);
  if (!t) return nd_cli_cmd_fail(cmd, 1, "out of memory");
  size_t l = (size_t)snprintf(t, cap, "index,label,prediction");
  for (int64_t i = 0; i < te->n; i++) l += (size_t)snprintf(t + l, cap - l, "\n%lld,%d,%d", (long long)i, te->labels[i], pred[i]);
  snprintf(path, sizeof path, "%s/predictions.csv", dir);
  int rc = nd_cli_write_text_atomic(cmd, path, t);
  free(t);
  t = rc ? NULL : confusion_csv(conf, c);
  if (!rc && !t) rc = nd_cli_cmd_fail(cmd, 1, "out of memory");
  snprintf(path, sizeof path, "%s/confusion.csv", dir);
  if (!rc) rc = nd_cli_write_text_atomic(cmd, path, t);
  free(t);
  return rc;
}

static void print_json(const char *model, const char *path, const char *ds, int64_t n, double err, const int64_t *conf,
                       int64_t c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "model", model);
  cJSON_AddStringToObject(o, "file", path);
  cJSON_AddStringToObject(o, "dataset", ds);
  cJSON_AddNumberToObject(o, "examples", (double)n);
  cJSON_AddNumberToObject(o, "test_error", err);
  cJSON_AddNumberToObject(o, "accuracy", 1 - err);
  cJSON *m = cJSON_AddArrayToObject(o, "confusion");
  for (int64_t i = 0; m && i < c; i++) {
    cJSON *row = cJSON_CreateArray();
    for (int64_t j = 0; row && j < c; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)conf[i * c + j]));
    cJSON_AddItemToArray(m, row);
  }
  char *text = cJSON_PrintUnformatted(o);
  if (text) printf("%s\n", text);
  cJSON_free(text);
  cJSON_Delete(o);
}

static int run_eval(eval_args *a) {
  const char *cmd = "eval";
  if (!a->model || !a->model[0]) return nd_cli_cmd_fail(cmd, 2, "--model DIR_or_FILE is required");
  char path[4200];
  int rc = find_model_file(cmd, a->model, path, sizeof path);
  if (rc) return rc;
  nd_checkpoint *ck = NULL;
  nd_status s = nd_checkpoint_read(path, &ck);
  if (s != ND_OK) return nd_cli_lib_fail(cmd, s);
  const char *model = nd_checkpoint_model(ck);
  const nd_cli_scorer *sc = scorer_of(model);
  if (!sc) {
    rc = nd_cli_cmd_fail(cmd, 2, "%s: %s%.64s%s; eval scores krotov-top and mlp models (train a top layer on a "
                         "hidden layer with `neurodyn train krotov-top --features FILE`)", path,
                         model ? "holds a '" : "has no 'model' entry", model ? model : "", model ? "' model" : "");
    nd_checkpoint_free(ck);
    return rc;
  }
  const char *ds = nd_checkpoint_meta(ck, "dataset");
  if (a->dataset > 0) {
    a->data.dataset = a->dataset - 1;
  } else {
    int found = -1;
    for (int i = 0; ds && nd_cli_dataset_names[i]; i++)
      if (!strcmp(ds, nd_cli_dataset_names[i])) found = i;
    if (found < 0) {
      rc = nd_cli_cmd_fail(cmd, 2, "%s: metadata 'dataset' is %s%.40s%s; pass --dataset mnist or fashion-mnist", path,
                           ds ? "'" : "missing", ds ? ds : "", ds ? "', not one neurodyn has" : "");
      nd_checkpoint_free(ck);
      return rc;
    }
    a->data.dataset = found;
  }
  nd_dataset tr, te;
  a->data.limit = 1; /* only the test split is used */
  rc = nd_cli_data_load(cmd, &a->data, &tr, NULL, &te);
  if (rc) {
    nd_checkpoint_free(ck);
    return rc;
  }
  nd_dataset_release(&tr);
  int32_t *pred = malloc(sizeof(int32_t) * (size_t)te.n);
  int64_t classes = 0;
  s = pred ? sc->predict(ck, &te, &classes, pred) : nd_set_error(ND_ERR_NOMEM, "eval: out of memory");
  if (s == ND_OK && classes < te.num_classes)
    s = nd_set_error(ND_ERR_SHAPE, "%s: the model has %lld classes, the %s labels %d", path, (long long)classes,
                     nd_cli_data_name(&a->data), te.num_classes);
  int64_t *conf = s == ND_OK ? calloc((size_t)(classes * classes), sizeof *conf) : NULL;
  if (s == ND_OK && !conf) s = nd_set_error(ND_ERR_NOMEM, "eval: out of memory");
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  if (!rc) {
    int64_t wrong = 0;
    for (int64_t i = 0; i < te.n; i++) {
      conf[te.labels[i] * classes + pred[i]]++;
      wrong += pred[i] != te.labels[i];
    }
    double err = te.n ? (double)wrong / (double)te.n : 0;
    if (a->json) print_json(model, path, nd_cli_data_name(&a->data), te.n, err, conf, classes);
    else
      printf("%s on %s test (%lld examples): test error %.2f%% (accuracy %.2f%%)\n", model, nd_cli_data_name(&a->data),
             (long long)te.n, 100 * err, 100 * (1 - err));
    if (a->save) rc = save_outputs(cmd, a->save, &te, pred, conf, classes);
  }
  free(pred), free(conf);
  nd_dataset_release(&te);
  nd_checkpoint_free(ck);
  return rc;
}

int nd_cli_eval(int argc, char **argv) {
  eval_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"model", ND_OPT_STRING, &a.model, NULL, "run directory or model file (top.safetensors, mlp.safetensors)", NULL},
      {"dataset", ND_OPT_CHOICE, &a.dataset, "auto", "test data: auto (the one the model was trained on), mnist or fashion-mnist", eval_datasets},
      {"data", ND_OPT_STRING, &a.data.root, NULL, "data root holding mnist/ and fashion-mnist/ (default $ND_DATA_DIR, else ./data)", NULL},
      {"test-limit", ND_OPT_INT64, &a.data.test_limit, "0", "score only the first N test images (0: all)", NULL},
      {"json", ND_OPT_BOOL, &a.json, "false", "print one JSON object (error, accuracy, confusion matrix)", NULL},
      {"save", ND_OPT_STRING, &a.save, NULL, "write predictions.csv and confusion.csv into DIR", NULL},
      {"threads", ND_OPT_INT, &a.threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn eval", "--model DIR_or_FILE [options]",
                        "Prints the test error of a model saved by `neurodyn train krotov-top` or "
                        "`neurodyn train mlp-baseline`.",
                        table, 0, 1};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  if (!a.model && args.npos == 1) a.model = args.pos[0];
  nd_cli_common common = {.threads = a.threads};
  nd_cli_common_apply(&common);
  rc = run_eval(&a);
  nd_args_release(&args);
  return rc;
}
