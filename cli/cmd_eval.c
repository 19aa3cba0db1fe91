/* neurodyn eval --model DIR_or_FILE: test error of a saved Krotov-Hopfield
 * top layer (top.safetensors from `train krotov-top`: W, S, n, m, beta) or
 * backprop baseline (mlp.safetensors from `train mlp-baseline`) on the test
 * split of the data set it was trained on (or --dataset). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "core/internal.h"
#include "options.h"

/* Designated initialisers: independent of optional trailing fields of nd_option. */
#define KOPT(nm, ty, de, df, hp, ch) {.name = (nm), .type = (ty), .dest = (de), .def = (df), .help = (hp), .choices = (ch)}
#include "neurodyn/neurodyn.h"


typedef struct eval_args {
  const char *model, *dataset;
  int64_t limit, threads;
} eval_args;

static nd_status meta_num(const nd_safetensors *st, const char *path, const char *key, double *out) {
  const char *v = nd_safetensors_metadata(st, key);
  if (!v) return nd__error(ND_ERR_FORMAT, "%s: metadata has no '%s'", path, key);
  char *end = NULL;
  *out = strtod(v, &end);
  if (end == v || !isfinite(*out)) return nd__error(ND_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number", path, key, v);
  return ND_OK;
}

/* Test error of a saved krotov-top model (W, S, n, m, beta, lebesgue_p). */
static nd_status eval_top(const nd_safetensors *st, const char *path, const nd_dataset *te, double *err) {
  double n = 0, m = 0, beta = 0, lp = 0;
  ND_TRY(meta_num(st, path, "n", &n));
  ND_TRY(meta_num(st, path, "m", &m));
  ND_TRY(meta_num(st, path, "beta", &beta));
  ND_TRY(meta_num(st, path, "lebesgue_p", &lp));
  nd_tensor w = {0}, s = {0}, f = {0};
  nd_krotov_top *top = NULL;
  nd_status r = nd_safetensors_get(st, "W", &w);
  if (r == ND_OK) r = nd_safetensors_get(st, "S", &s);
  if (r == ND_OK && (w.ndim != 2 || s.ndim != 2 || s.shape[1] != w.shape[0]))
    r = nd__error(ND_ERR_SHAPE, "%s: W and S shapes do not chain (need W [H, D], S [C, H])", path);
  if (r == ND_OK && w.shape[1] != te->images.shape[1])
    r = nd__error(ND_ERR_SHAPE, "%s: W has %lld inputs, the data %lld", path, (long long)w.shape[1],
                  (long long)te->images.shape[1]);
  if (r == ND_OK) {
    nd_krotov_top_config c = nd_krotov_top_defaults(w.shape[0], s.shape[0]);
    c.n = (float)n;
    c.m = (float)m;
    c.beta = (float)beta;
    r = nd_krotov_top_create(&c, &top);
  }
  if (r == ND_OK) r = nd_krotov_top_set_weights(top, &s);
  if (r == ND_OK) r = nd_krotov_features(&w, te->images.data, te->n, w.shape[1], (float)n, (float)lp, &f);
  if (r == ND_OK) r = nd_krotov_top_error(top, &f, te->labels, err);
  nd_krotov_top_free(top);
  nd_tensor_release(&w);
  nd_tensor_release(&s);
  nd_tensor_release(&f);
  return r;
}

/* Test error of a saved mlp-baseline model. */
static nd_status eval_mlp(const nd_safetensors *st, const char *path, const nd_dataset *te, double *err) {
  double n = 0, m = 0, beta = 0, hidden = 0;
  ND_TRY(meta_num(st, path, "n", &n));
  ND_TRY(meta_num(st, path, "m", &m));
  ND_TRY(meta_num(st, path, "beta", &beta));
  ND_TRY(meta_num(st, path, "hidden", &hidden));
  int64_t sizes[3] = {te->images.shape[1], (int64_t)hidden, 10};
  nd_mlp_config c = nd_mlp_defaults(3, sizes);
  c.activation = ND_ACT_RELU_POW;
  c.act_param = (float)n;
  c.loss = ND_MLP_LOSS_ABS_POWER;
  c.loss_power = (float)m;
  c.out_scale = (float)beta;
  c.bias = false;
  nd_mlp *mlp = NULL;
  ND_TRY(nd_mlp_create(&c, &mlp));
  nd_status r = ND_OK;
  for (int i = 0; r == ND_OK && i < nd_mlp_num_params(mlp); i++) {
    nd_tensor t = {0};
    r = nd_safetensors_get(st, nd_mlp_param_name(mlp, i), &t);
    if (r == ND_OK) {
      nd_tensor *dst = nd_mlp_param(mlp, i);
      r = nd_tensor_same_shape(&t, dst) ? nd_tensor_copy(dst, &t)
                                        : nd__error(ND_ERR_SHAPE, "%s: tensor '%s' has the wrong shape", path,
                                                    nd_mlp_param_name(mlp, i));
    }
    nd_tensor_release(&t);
  }
  double acc = 0;
  if (r == ND_OK) r = nd_mlp_accuracy(mlp, te->images.data, te->labels, te->n, 1000, &acc);
  *err = 1.0 - acc;
  nd_mlp_free(mlp);
  return r;
}

static int run_eval(const eval_args *a) {
  const char *cmd = "eval";
  if (a->threads > 0) nd_set_num_threads((int)a->threads);
  if (!a->model || !a->model[0]) return nd_cli_cmd_fail(cmd, 2, "--model DIR_or_FILE is required");
  char path[4096];
  struct stat sb;
  if (stat(a->model, &sb) != 0) return nd_cli_cmd_fail(cmd, 2, "%s: no such file or directory", a->model);
  if (S_ISDIR(sb.st_mode)) {
    const char *cands[] = {"top.safetensors", "mlp.safetensors"};
    path[0] = 0;
    for (int i = 0; i < 2; i++) {
      snprintf(path, sizeof path, "%s/%s", a->model, cands[i]);
      if (stat(path, &sb) == 0) break;
      path[0] = 0;
    }
    if (!path[0]) return nd_cli_cmd_fail(cmd, 2, "%s: holds neither top.safetensors nor mlp.safetensors", a->model);
  } else {
    snprintf(path, sizeof path, "%s", a->model);
  }
  nd_safetensors *st = NULL;
  nd_status s = nd_safetensors_read(path, &st);
  if (s != ND_OK) return nd_cli_lib_fail(cmd, s);
  const char *kind = nd_safetensors_metadata(st, "model");
  const char *ds = a->dataset && a->dataset[0] ? a->dataset : nd_safetensors_metadata(st, "dataset");
  if (!ds) ds = "mnist";
  if (!kind || (strcmp(kind, "krotov-top") != 0 && strcmp(kind, "mlp-baseline") != 0)) {
    nd_safetensors_free(st);
    return nd_cli_cmd_fail(cmd, 2, "%s: metadata 'model' is %s, need krotov-top or mlp-baseline", path, kind ? kind : "missing");
  }
  nd_dataset te;
  memset(&te, 0, sizeof te);
  s = strcmp(ds, "fashion-mnist") == 0 ? nd_fashion_mnist_load(NULL, "test", a->limit, &te)
                                       : nd_mnist_load(NULL, "test", a->limit, &te);
  if (s != ND_OK) {
    nd_safetensors_free(st);
    return nd_cli_cmd_fail(cmd, 2, "%s (run `make data` to download it)", nd_last_error());
  }
  double err = 1;
  s = strcmp(kind, "krotov-top") == 0 ? eval_top(st, path, &te, &err) : eval_mlp(st, path, &te, &err);
  int rc = 0;
  if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  else
    printf("%s on %s test (%lld examples): test error %.2f%% (accuracy %.2f%%)\n", kind, ds, (long long)te.n,
           100 * err, 100 * (1 - err));
  nd_dataset_release(&te);
  nd_safetensors_free(st);
  return rc;
}

static const char *const eval_datasets[] = {"auto", "mnist", "fashion-mnist", NULL};

int nd_cli_eval(int argc, char **argv) {
  eval_args a;
  memset(&a, 0, sizeof a);
  int dataset = 0, threads = 0;
  const nd_option table[] = {
      KOPT("model", ND_OPT_STRING, &a.model, NULL, "run directory or model file (top.safetensors, mlp.safetensors)", NULL),
      KOPT("dataset", ND_OPT_CHOICE, &dataset, "auto", "test data: auto (the one the model was trained on), mnist or fashion-mnist", eval_datasets),
      KOPT("limit", ND_OPT_INT64, &a.limit, "0", "use only the first N test examples (0: all)", NULL),
      KOPT("threads", ND_OPT_INT, &threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn eval", "--model DIR_or_FILE [options]",
                        "Prints the test error of a model saved by `neurodyn train krotov-top` or "
                        "`neurodyn train mlp-baseline`.",
                        table, 0, 1};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  if (!a.model && args.npos == 1) a.model = args.pos[0];
  if (threads > 0) nd_set_num_threads(threads);
  a.dataset = dataset ? eval_datasets[dataset] : NULL;
  if (a.limit < 0) rc = nd_cli_cmd_fail("eval", 2, "--limit %lld: need >= 0", (long long)a.limit);
  else rc = run_eval(&a);
  nd_args_release(&args);
  return rc;
}
