/* neurodyn train hlca: a hierarchical LCA (include/neurodyn/hlca.h) on
 * MNIST, dictionaries learned layer by layer with the LCA dictionary learner
 * (nd_lca_dict, lca.h: layer 1 on the images, layer l on the layer-(l-1)
 * LCA codes of the same images), on the shared run driver (run.h):
 * config.json, metrics.jsonl (one line per epoch, with its layer),
 * checkpoint.safetensors (exact resume: --resume DIR), layer1.png and
 * layerL.npy for each layer ([n_{l-1}, n_l], columns = atoms).
 *
 * Then the feedback experiment (unless --gains is empty): the held-out
 * validation images, the probe-training images and the test images are
 * corrupted (--corrupt occlude: a random --occlude x --occlude square set to
 * 0; noise: + --noise N(0, 1)); for every gain of --gains the stack codes
 * them with that top-down gain and we measure the relative reconstruction
 * error of the CLEAN image, ||s - Phi_1 a_1||^2 / ||s||^2, and the accuracy
 * of a ridge-regression linear probe on the codes (layer 1 and the top
 * layer; fitted on the probe-training codes at the same gain).  The gain is
 * chosen on the validation split (lowest clean reconstruction error); the
 * test split is scored once, at that gain and at gain 0 (no feedback).
 * feedback.json has every figure.  docs/hlca.md lists the flags. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "progress.h"
#include "run.h"

#define CMD "train hlca"
#define MAXL ND_HLCA_MAX_LAYERS
#define MAXG 16

static const char *const sources[] = {"mnist", "fashion-mnist", NULL};
static const char *const thresholds[] = {"soft", "nonneg", NULL};
static const char *const corruptions[] = {"occlude", "noise", NULL};

typedef struct hl_args {
  int source, threshold, corrupt;
  const char *root, *resume, *atoms_s, *lambda_s, *gains_s;
  int64_t limit, validation, epochs, batch, max_iter, eval_iter, probe, test, occlude, stop_after, checkpoint_every;
  double lr, tol, eval_tol, noise, ridge;
  nd_cli_common common;
} hl_args;

typedef struct hl_run {
  const hl_args *a;
  int64_t L, sizes[MAXL + 1];
  float lambda[MAXL];
  int64_t layer;              /* the layer being learned (0-based) */
  nd_lca_dict *d;             /* its learner */
  nd_tensor atoms[MAXL];      /* finished layers [n_{l-1}, n_l] */
  nd_dataset data;            /* training images: n_train, then n_val held out */
  int64_t n_train, n_val;
  float *input;               /* the current layer's signals [n, sizes[layer]] (layer >= 1; else the images) */
  nd_lca_dict_stats last, val;
  char files[2][4096];
} hl_run;

/* ------------------------------------------------------------ lists */

/* "a,b,c" into out[0..max), at least one, each finite; -1 on a bad list. */
static int parse_list(const char *text, double *out, int max) {
  int n = 0;
  const char *p = text;
  if (!p || !*p) return 0;
  for (;;) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || n == max) return -1;
    out[n++] = v;
    if (*end == '\0') return n;
    if (*end != ',') return -1;
    p = end + 1;
  }
}

/* ------------------------------------------------------------ layers */

static nd_status clone(const nd_tensor *src, nd_tensor *dst) {
  ND_CLI_TRY(nd_tensor_alloc(dst, src->ndim, src->shape));
  return nd_tensor_copy(dst, src);
}

static nd_lca_dict_config layer_config(const hl_run *r, int64_t l) {
  const hl_args *a = r->a;
  nd_lca_dict_config c = nd_lca_dict_defaults();
  c.lca.lambda = r->lambda[l];
  c.lca.threshold = a->threshold == 1 ? ND_LCA_NONNEG : ND_LCA_SOFT;
  c.lca.tol = a->tol;
  c.lca.max_iter = a->max_iter;
  c.conv = false;
  if (l == 0) c.rows = c.cols = 28;
  else c.rows = r->sizes[l], c.cols = 1;
  c.atoms = r->sizes[l + 1];
  c.lr = a->lr, c.epochs = a->epochs, c.batch = a->batch, c.seed = (uint64_t)a->common.seed + (uint64_t)l;
  return c;
}

/* codes [n, sizes[l+1]] of x [n, sizes[l]] by the LCA of layer l's finished
 * dictionary, with the learner's inference settings (the gamma = 0 codes). */
static nd_status encode(const hl_run *r, int64_t l, const float *x, int64_t n, float *codes) {
  nd_lca_dict_config dc = layer_config(r, l);
  const int64_t m = r->sizes[l], k = r->sizes[l + 1], chunk = 500;
  nd_lca *lca = NULL;
  ND_CLI_TRY(nd_lca_create(&dc.lca, r->atoms[l].data, m, k, chunk, &lca));
  nd_status s = ND_OK;
  for (int64_t i = 0; i < n && s == ND_OK; i += chunk) {
    const int64_t b = n - i < chunk ? n - i : chunk;
    nd_lca_result res;
    s = nd_lca_solve(lca, x + i * m, b, codes + i * k, &res);
  }
  nd_lca_free(lca);
  return s;
}

/* Layer `layer` is learned: keep its atoms, code its signals for the next
 * layer and start the next learner. */
static nd_status next_layer(hl_run *r) {
  const int64_t l = r->layer, n = r->n_train + r->n_val;
  if (!r->atoms[l].data) ND_CLI_TRY(clone(nd_lca_dict_atoms(r->d), &r->atoms[l]));
  float *codes = malloc((size_t)(n * r->sizes[l + 1]) * sizeof(float));
  if (!codes) return nd_set_error(ND_ERR_NOMEM, "out of memory for %lld codes", (long long)n);
  nd_status s = encode(r, l, l == 0 ? r->data.images.data : r->input, n, codes);
  if (s != ND_OK) {
    free(codes);
    return s;
  }
  free(r->input);
  r->input = codes;
  nd_lca_dict_free(r->d);
  r->d = NULL;
  r->layer = l + 1;
  nd_lca_dict_config c = layer_config(r, r->layer);
  return nd_lca_dict_create(&c, &r->d);
}

static const float *layer_input(const hl_run *r) { return r->layer == 0 ? r->data.images.data : r->input; }

/* ------------------------------------------------------------ the trainer */

static nd_status hl_state(void *self, nd_train_state *st) {
  hl_run *r = self;
  ND_CLI_TRY(nd_lca_dict_get_state(r->d, st));
  st->epoch += r->layer * r->a->epochs;
  return ND_OK;
}

static nd_status hl_epoch(void *self, nd_progress_fn progress, void *user) {
  hl_run *r = self;
  nd_train_state st;
  ND_CLI_TRY(nd_lca_dict_get_state(r->d, &st));
  if (st.epoch == r->a->epochs && r->layer + 1 < r->L) ND_CLI_TRY(next_layer(r));
  return nd_lca_dict_epoch(r->d, layer_input(r), r->n_train, progress, user);
}

static nd_status hl_after_epoch(void *self, nd_run *run, int64_t e, nd_jsonl_field *f, int *n) {
  hl_run *r = self;
  (void)e;
  ND_CLI_TRY(nd_lca_dict_stats_of(r->d, &r->last));
  f[(*n)++] = ND_JINT("layer", r->layer + 1);
  f[(*n)++] = ND_JNUM("rel_error", r->last.rel_error);
  f[(*n)++] = ND_JNUM("sparsity", r->last.sparsity);
  f[(*n)++] = ND_JNUM("nonzeros", r->last.l0);
  f[(*n)++] = ND_JNUM("lca_iterations", r->last.iterations);
  if (r->n_val > 0) {
    const int64_t m = r->sizes[r->layer];
    ND_CLI_TRY(nd_lca_dict_evaluate(r->d, layer_input(r) + r->n_train * m, r->n_val, &r->val));
    f[(*n)++] = ND_JNUM("val_rel_error", r->val.rel_error);
    f[(*n)++] = ND_JNUM("val_sparsity", r->val.sparsity);
  }
  char path[ND_RUN_PATH_MAX];
  if (r->layer == 0 && nd_run_path(run, "layer1.png", path)) ND_CLI_TRY(nd_lca_dict_write_png(r->d, path, 256));
  return ND_OK;
}

static void hl_figures(void *self, char *buf, size_t len) {
  hl_run *r = self;
  if (r->last.signals)
    snprintf(buf, len, "layer %lld err=%.4f sparsity=%.3f", (long long)r->layer + 1, r->last.rel_error, r->last.sparsity);
}

static nd_status hl_checkpoint(void *self, nd_run *run) {
  hl_run *r = self;
  char path[ND_RUN_PATH_MAX], key[32], num[32];
  if (!nd_run_path(run, "checkpoint.safetensors", path)) return ND_ERR_INVALID_ARG;
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_create(&ck));
  nd_status s = nd_lca_dict_save(r->d, ck); /* the learner of the current layer ("lca-dict") */
  snprintf(num, sizeof num, "%lld", (long long)r->layer);
  if (s == ND_OK) s = nd_checkpoint_put_meta(ck, "hlca.layer", num);
  for (int64_t l = 0; l < r->layer && s == ND_OK; l++) {
    snprintf(key, sizeof key, "hlca.atoms%lld", (long long)l + 1);
    s = nd_checkpoint_put_tensor(ck, key, &r->atoms[l]);
  }
  if (s == ND_OK) s = nd_checkpoint_write(ck, path);
  nd_checkpoint_free(ck);
  return s;
}

/* --resume: the finished layers, the current learner, and the current
 * layer's signals coded again from the finished dictionaries. */
static nd_status load_checkpoint(hl_run *r) {
  char path[ND_RUN_PATH_MAX], key[32];
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", r->a->resume);
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  const char *lv = nd_checkpoint_meta(ck, "hlca.layer");
  char *end = NULL;
  long long layer = lv ? strtoll(lv, &end, 10) : -1;
  nd_status s = ND_OK;
  if (!lv || *end || layer < 0 || layer >= r->L)
    s = nd_set_error(ND_ERR_FORMAT, "%s: metadata 'hlca.layer' is missing or not in 0..%lld", path, (long long)r->L - 1);
  for (long long l = 0; l < layer && s == ND_OK; l++) {
    snprintf(key, sizeof key, "hlca.atoms%lld", l + 1);
    const int64_t shape[2] = {r->sizes[l], r->sizes[l + 1]};
    s = nd_checkpoint_get_tensor(ck, key, 2, shape, &r->atoms[l]);
  }
  if (s == ND_OK) s = nd_lca_dict_load(ck, &r->d);
  nd_checkpoint_free(ck);
  if (s != ND_OK) return s;
  const nd_lca_dict_config *got = nd_lca_dict_config_of(r->d), want = layer_config(r, layer);
  if (got->atoms != want.atoms || got->rows * got->cols != want.rows * want.cols || got->lca.lambda != want.lca.lambda ||
      got->lr != want.lr || got->batch != want.batch || got->seed != want.seed)
    return nd_set_error(ND_ERR_FORMAT, "%s does not hold the model config.json describes (edited by hand?)", path);
  nd_lca_dict *keep = r->d;
  r->d = NULL;
  for (int64_t l = 0; l < layer; l++) { /* the signals of layer `layer`, as the uninterrupted run made them */
    r->layer = l;
    nd_lca_dict_config c = layer_config(r, l);
    s = nd_lca_dict_create(&c, &r->d); /* next_layer frees it */
    if (s == ND_OK) s = next_layer(r);
    if (s != ND_OK) break;
  }
  nd_lca_dict_free(r->d);
  r->d = keep;
  r->layer = layer;
  return s;
}

/* ------------------------------------------------------------ the feedback experiment */

typedef struct hl_set {
  const char *name;
  int64_t n;
  float *clean, *bad; /* [n, 784] */
  int32_t *labels;
  float *codes[MAXL];
} hl_set;

static void release_set(hl_set *s) {
  free(s->clean), free(s->bad), free(s->labels);
  for (int l = 0; l < MAXL; l++) free(s->codes[l]);
  memset(s, 0, sizeof *s);
}

static nd_status make_set(const hl_args *a, hl_set *s, const char *name, const float *img, const int32_t *lab, int64_t n,
                          int64_t side, uint64_t stream, const int64_t *sizes, int64_t L) {
  const int64_t m = side * side;
  s->name = name;
  s->n = n;
  s->clean = malloc((size_t)(n * m) * sizeof(float));
  s->bad = malloc((size_t)(n * m) * sizeof(float));
  s->labels = malloc((size_t)n * sizeof(int32_t));
  bool ok = s->clean && s->bad && s->labels;
  for (int64_t l = 0; l < L && ok; l++) ok = (s->codes[l] = malloc((size_t)(n * sizes[l + 1]) * sizeof(float))) != NULL;
  if (!ok) return nd_set_error(ND_ERR_NOMEM, "out of memory for the %s set", name);
  memcpy(s->clean, img, (size_t)(n * m) * sizeof(float));
  memcpy(s->bad, img, (size_t)(n * m) * sizeof(float));
  memcpy(s->labels, lab, (size_t)n * sizeof(int32_t));
  nd_rng root, rng;
  ND_CLI_TRY(nd_rng_init(&root, (uint64_t)a->common.seed));
  rng = nd_rng_split(&root, 100 + stream);
  if (a->corrupt == 0) {
    const int64_t k = a->occlude;
    for (int64_t i = 0; i < n; i++) {
      const int64_t y0 = (int64_t)(nd_rng_uniform1(&rng) * (double)(side - k + 1));
      const int64_t x0 = (int64_t)(nd_rng_uniform1(&rng) * (double)(side - k + 1));
      for (int64_t y = y0; y < y0 + k; y++)
        for (int64_t x = x0; x < x0 + k; x++) s->bad[i * m + y * side + x] = 0.0f;
    }
  } else {
    float *z = malloc((size_t)(n * m) * sizeof(float));
    if (!z) return nd_set_error(ND_ERR_NOMEM, "out of memory for noise");
    nd_status st = nd_rng_normal(&rng, z, n * m, 0.0f, (float)a->noise);
    for (int64_t i = 0; i < n * m && st == ND_OK; i++) s->bad[i] += z[i];
    free(z);
    ND_CLI_TRY(st);
  }
  return ND_OK;
}

typedef struct hl_score {
  double rel_error, iterations, acc[2]; /* acc: layer 1, top layer */
} hl_score;

/* Codes of the corrupted set at the model's gain; mean iterations per chunk. */
static nd_status code_set(nd_hlca *h, hl_set *s, int64_t chunk, double *iters) {
  const int64_t L = nd_hlca_layers(h), m = nd_hlca_size(h, 0);
  double it = 0;
  int64_t chunks = 0;
  for (int64_t i = 0; i < s->n; i += chunk, chunks++) {
    const int64_t b = s->n - i < chunk ? s->n - i : chunk;
    float *codes[MAXL];
    for (int64_t l = 0; l < L; l++) codes[l] = s->codes[l] + i * nd_hlca_size(h, l + 1);
    nd_hlca_result res;
    ND_CLI_TRY(nd_hlca_solve(h, s->bad + i * m, b, codes, &res));
    it += (double)res.iterations;
  }
  *iters = it / (double)chunks;
  return ND_OK;
}

static nd_status rel_error(nd_hlca *h, const hl_set *s, float *buf, int64_t chunk, double *out) {
  const int64_t m = nd_hlca_size(h, 0), n1 = nd_hlca_size(h, 1);
  double num = 0, den = 0;
  for (int64_t i = 0; i < s->n; i += chunk) {
    const int64_t b = s->n - i < chunk ? s->n - i : chunk;
    ND_CLI_TRY(nd_hlca_predict(h, 1, s->codes[0] + i * n1, b, buf));
    for (int64_t k = 0; k < b * m; k++) {
      const double c = s->clean[i * m + k], e = c - buf[k];
      num += e * e, den += c * c;
    }
  }
  *out = num / fmax(den, 1e-30);
  return ND_OK;
}

/* Ridge probe: w [10, F + 1] fitted on (codes, one-hot) of `fit`, accuracy on `eval`. */
static nd_status probe(const hl_set *fit, const hl_set *eval, int64_t l, int64_t F, double ridge, double *acc) {
  const int64_t T = fit->n, K = 10, G = F + 1;
  double *phi = malloc((size_t)(T * G) * sizeof(double)), *y = calloc((size_t)(T * K), sizeof(double));
  double *w = malloc((size_t)(K * G) * sizeof(double));
  nd_status s = phi && y && w ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory for the probe");
  for (int64_t t = 0; t < T && s == ND_OK; t++) {
    phi[t * G] = 1.0;
    for (int64_t j = 0; j < F; j++) phi[t * G + 1 + j] = fit->codes[l][t * F + j];
    if (fit->labels[t] >= 0 && fit->labels[t] < K) y[t * K + fit->labels[t]] = 1.0;
  }
  if (s == ND_OK) s = nd_ridge_fit(phi, y, T, G, K, ridge, ND_RIDGE_CHOLESKY, w);
  int64_t right = 0;
  for (int64_t t = 0; t < eval->n && s == ND_OK; t++) {
    int best = 0;
    double bv = -INFINITY;
    for (int k = 0; k < K; k++) {
      double v = w[k * G];
      for (int64_t j = 0; j < F; j++) v += w[k * G + 1 + j] * eval->codes[l][t * F + j];
      if (v > bv) bv = v, best = k;
    }
    right += best == eval->labels[t];
  }
  *acc = eval->n ? (double)right / (double)eval->n : 0.0;
  free(phi), free(y), free(w);
  return s;
}

static nd_status score(nd_hlca *h, hl_set *fit, hl_set *eval, float *buf, double ridge, hl_score *out) {
  const int64_t chunk = 500, L = nd_hlca_layers(h);
  double it_fit = 0;
  ND_CLI_TRY(code_set(h, fit, chunk, &it_fit));
  ND_CLI_TRY(code_set(h, eval, chunk, &out->iterations));
  ND_CLI_TRY(rel_error(h, eval, buf, chunk, &out->rel_error));
  ND_CLI_TRY(probe(fit, eval, 0, nd_hlca_size(h, 1), ridge, &out->acc[0]));
  ND_CLI_TRY(probe(fit, eval, L - 1, nd_hlca_size(h, L), ridge, &out->acc[1]));
  return ND_OK;
}

static cJSON *score_json(double gain, const hl_score *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "gain", gain);
  cJSON_AddNumberToObject(o, "clean_rel_error", s->rel_error);
  cJSON_AddNumberToObject(o, "probe_acc_layer1", s->acc[0]);
  cJSON_AddNumberToObject(o, "probe_acc_top", s->acc[1]);
  cJSON_AddNumberToObject(o, "iterations", s->iterations);
  return o;
}

static int feedback(hl_run *r, nd_run *run) {
  const hl_args *a = r->a;
  double gains[MAXG];
  const int ng = parse_list(a->gains_s, gains, MAXG);
  if (ng == 0) return 0;
  nd_dataset test = {0};
  nd_status s = a->test > 0 ? nd_dataset_load(a->root, sources[a->source], "test", a->test, &test) : ND_OK;
  if (s != ND_OK) return nd_cli_cmd_fail(CMD, 2, "--data %s (test split): %s", sources[a->source], nd_last_error());
  const int64_t side = r->data.rows, m = side * side;
  hl_set fit = {0}, val = {0}, tst = {0};
  const int64_t P = a->probe < r->n_train ? a->probe : r->n_train;
  s = make_set(a, &fit, "probe", r->data.images.data, r->data.labels, P, side, 1, r->sizes, r->L);
  if (s == ND_OK)
    s = make_set(a, &val, "validation", r->data.images.data + r->n_train * m, r->data.labels + r->n_train, r->n_val, side, 2,
                 r->sizes, r->L);
  if (s == ND_OK && a->test > 0) s = make_set(a, &tst, "test", test.images.data, test.labels, test.n, side, 3, r->sizes, r->L);
  nd_hlca_config hc = nd_hlca_defaults();
  hc.threshold = a->threshold == 1 ? ND_LCA_NONNEG : ND_LCA_SOFT;
  for (int64_t l = 0; l < r->L; l++) hc.lambda[l] = r->lambda[l];
  hc.tol = a->eval_tol;
  hc.max_iter = a->eval_iter;
  const float *phi[MAXL];
  for (int64_t l = 0; l < r->L; l++) phi[l] = r->atoms[l].data;
  nd_hlca *h = NULL;
  float *buf = malloc((size_t)(500 * m) * sizeof(float));
  if (s == ND_OK && !buf) s = nd_set_error(ND_ERR_NOMEM, "out of memory");
  if (s == ND_OK) s = nd_hlca_create(&hc, r->L, r->sizes, phi, 500, &h);
  hl_score vs[MAXG], t0 = {0}, tb = {0};
  int best = 0;
  for (int g = 0; g < ng && s == ND_OK; g++) {
    s = nd_hlca_set_gain(h, gains[g]);
    if (s == ND_OK) s = score(h, &fit, &val, buf, a->ridge, &vs[g]);
    if (s == ND_OK && vs[g].rel_error < vs[best].rel_error) best = g;
    if (s == ND_OK && !a->common.quiet)
      fprintf(stderr, "neurodyn train hlca: validation gain %g: clean error %.4f, probe %.4f (layer 1) %.4f (top), %.0f steps\n",
              gains[g], vs[g].rel_error, vs[g].acc[0], vs[g].acc[1], vs[g].iterations);
  }
  const bool testing = a->test > 0; /* the test split, once without feedback and once at the chosen gain */
  if (s == ND_OK && testing) s = nd_hlca_set_gain(h, 0.0);
  if (s == ND_OK && testing) s = score(h, &fit, &tst, buf, a->ridge, &t0);
  if (s == ND_OK && testing) s = nd_hlca_set_gain(h, gains[best]);
  if (s == ND_OK && testing) s = score(h, &fit, &tst, buf, a->ridge, &tb);
  int rc = s == ND_OK ? 0 : nd_cli_lib_fail(CMD, s);
  char path[ND_RUN_PATH_MAX];
  if (!rc && nd_run_path(run, "feedback.json", path)) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "corrupt", corruptions[a->corrupt]);
    cJSON_AddNumberToObject(root, a->corrupt == 0 ? "occlude" : "noise", a->corrupt == 0 ? (double)a->occlude : a->noise);
    cJSON_AddNumberToObject(root, "probe_images", (double)P);
    cJSON_AddNumberToObject(root, "validation_images", (double)r->n_val);
    cJSON_AddNumberToObject(root, "test_images", (double)tst.n);
    for (int g = 0; g < ng; g++) cJSON_AddItemToArray(arr, score_json(gains[g], &vs[g]));
    cJSON_AddItemToObject(root, "validation", arr);
    cJSON_AddNumberToObject(root, "chosen_gain", gains[best]);
    if (testing) cJSON_AddItemToObject(root, "test_no_feedback", score_json(0.0, &t0));
    if (testing) cJSON_AddItemToObject(root, "test_chosen_gain", score_json(gains[best], &tb));
    s = nd_cli_write_json(root, path);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
    else if (!a->common.quiet && !testing)
      fprintf(stderr, "neurodyn train hlca: chosen gain %g (test not scored: --test 0); %s\n", gains[best], path);
    else if (!a->common.quiet)
      fprintf(stderr, "neurodyn train hlca: test (%lld images): gain 0: clean error %.4f, probe %.4f / %.4f; gain %g (chosen "
              "on validation): clean error %.4f, probe %.4f / %.4f; %s\n", (long long)tst.n, t0.rel_error, t0.acc[0],
              t0.acc[1], gains[best], tb.rel_error, tb.acc[0], tb.acc[1], path);
  }
  nd_hlca_free(h);
  free(buf);
  release_set(&fit), release_set(&val), release_set(&tst);
  nd_dataset_release(&test);
  return rc;
}

/* ------------------------------------------------------------ set-up */

static int load_data(hl_run *r) {
  const hl_args *a = r->a;
  nd_status s = nd_dataset_files(a->root, sources[a->source], "train", r->files[0], r->files[1], sizeof r->files[0]);
  if (s == ND_OK) s = nd_dataset_load(a->root, sources[a->source], "train", a->limit, &r->data);
  if (s != ND_OK) return nd_cli_cmd_fail(CMD, 2, "--data %s: %s", sources[a->source], nd_last_error());
  if (r->data.rows != 28 || r->data.cols != 28 || r->sizes[0] != 784)
    return nd_cli_cmd_fail(CMD, 2, "--data %s: images are %dx%d, expected 28x28", sources[a->source], r->data.rows,
                           r->data.cols);
  const int64_t n = r->data.n;
  if (a->validation >= n)
    return nd_cli_cmd_fail(CMD, 2, "--validation %lld: only %lld images", (long long)a->validation, (long long)n);
  r->n_val = a->validation, r->n_train = n - a->validation;
  if (a->batch > r->n_train)
    return nd_cli_cmd_fail(CMD, 2, "--batch %lld is larger than the %lld training images", (long long)a->batch,
                           (long long)r->n_train);
  return 0;
}

static int check_args(const hl_args *a, hl_run *r) {
  double v[MAXL], g[MAXG];
  int na = parse_list(a->atoms_s, v, MAXL);
  if (na < 1) return nd_cli_cmd_fail(CMD, 2, "--atoms '%s': need 1 to %d comma-separated layer sizes", a->atoms_s, MAXL);
  r->L = na;
  r->sizes[0] = 784;
  for (int l = 0; l < na; l++) {
    if (!(v[l] >= 1 && v[l] <= 65536 && v[l] == floor(v[l])))
      return nd_cli_cmd_fail(CMD, 2, "--atoms '%s': layer %d size %g must be an integer in 1..65536", a->atoms_s, l + 1, v[l]);
    r->sizes[l + 1] = (int64_t)v[l];
  }
  int nl = parse_list(a->lambda_s, v, MAXL);
  if (nl != 1 && nl != na)
    return nd_cli_cmd_fail(CMD, 2, "--lambda '%s': need one value or one per layer (%d)", a->lambda_s, na);
  for (int l = 0; l < na; l++) {
    const double x = v[nl == 1 ? 0 : l];
    if (!(x >= 0)) return nd_cli_cmd_fail(CMD, 2, "--lambda '%s': layer %d value %g must be >= 0", a->lambda_s, l + 1, x);
    r->lambda[l] = (float)x;
  }
  int ng = parse_list(a->gains_s, g, MAXG);
  if (ng < 0) return nd_cli_cmd_fail(CMD, 2, "--gains '%s': need up to %d comma-separated numbers (or '')", a->gains_s, MAXG);
  for (int i = 0; i < ng; i++)
    if (!(g[i] >= 0)) return nd_cli_cmd_fail(CMD, 2, "--gains '%s': gain %g must be >= 0", a->gains_s, g[i]);
  const struct {
    const char *flag;
    int64_t v, lo;
  } nums[] = {{"epochs", a->epochs, 1},    {"batch", a->batch, 1},         {"max-iter", a->max_iter, 1},
              {"eval-iter", a->eval_iter, 1}, {"probe", a->probe, 11},      {"test", a->test, 0},
              {"validation", a->validation, ng > 0 ? 1 : 0}, {"limit", a->limit, 0}, {"stop-after", a->stop_after, 0},
              {"checkpoint-every", a->checkpoint_every, 0}, {"occlude", a->occlude, 0}};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    if (nums[i].v < nums[i].lo)
      return nd_cli_cmd_fail(CMD, 2, "--%s %lld: need >= %lld", nums[i].flag, (long long)nums[i].v, (long long)nums[i].lo);
  if (a->occlude > 28) return nd_cli_cmd_fail(CMD, 2, "--occlude %lld: the square must fit the 28x28 image", (long long)a->occlude);
  if (!(a->lr > 0) || !isfinite(a->lr)) return nd_cli_cmd_fail(CMD, 2, "--lr %g: need a finite number > 0", a->lr);
  if (!(a->tol > 0) || !(a->eval_tol > 0)) return nd_cli_cmd_fail(CMD, 2, "--tol / --eval-tol: need > 0");
  if (!(a->noise >= 0) || !isfinite(a->noise)) return nd_cli_cmd_fail(CMD, 2, "--noise %g: need a finite number >= 0", a->noise);
  if (!(a->ridge >= 0) || !isfinite(a->ridge)) return nd_cli_cmd_fail(CMD, 2, "--ridge %g: need a finite number >= 0", a->ridge);
  for (int64_t l = 0; l < r->L; l++) {
    nd_lca_dict_config c = layer_config(r, l);
    nd_status s = nd_lca_dict_config_check(&c);
    if (s != ND_OK) return nd_cli_cmd_fail(CMD, 2, "layer %lld: %s", (long long)l + 1, nd_last_error());
  }
  return 0;
}

static nd_status write_layers(hl_run *r, nd_run *run) {
  char path[ND_RUN_PATH_MAX], name[32];
  if (!r->atoms[r->layer].data) ND_CLI_TRY(clone(nd_lca_dict_atoms(r->d), &r->atoms[r->layer]));
  for (int64_t l = 0; l < r->L; l++) {
    snprintf(name, sizeof name, "layer%lld.npy", (long long)l + 1);
    if (!nd_run_path(run, name, path)) return ND_ERR_INVALID_ARG;
    ND_CLI_TRY(nd_npy_write(path, &r->atoms[l]));
  }
  return ND_OK;
}

static int run_hlca(hl_run *r, nd_run *run) {
  const hl_args *a = r->a;
  int rc = load_data(r);
  nd_status s = ND_OK;
  if (!rc) {
    nd_lca_dict_config c = layer_config(r, 0);
    s = a->resume ? load_checkpoint(r) : nd_lca_dict_create(&c, &r->d);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
  }
  run->dataset_files[0] = r->files[0], run->dataset_files[1] = r->files[1], run->dataset_files[2] = NULL;
  if (!rc) rc = nd_run_begin(run, a->resume ? a->resume : a->common.out, a->resume != NULL);
  nd_trainer t = {.self = r, .epochs = a->epochs * r->L, .unit = "batches", .epoch = hl_epoch, .state = hl_state,
                  .after_epoch = hl_after_epoch, .figures = hl_figures, .checkpoint = hl_checkpoint, .resumable = true};
  nd_run_limits lim = {.stop_after = a->stop_after, .checkpoint_every = a->checkpoint_every};
  if (!rc) rc = nd_run_loop(run, &t, &lim);
  nd_train_state st = {0};
  if (!rc && hl_state(r, &st) == ND_OK && st.epoch == t.epochs) { /* finished: the layers, then the experiment */
    s = write_layers(r, run);
    if (s != ND_OK) rc = nd_cli_lib_fail(CMD, s);
    if (!rc && !a->common.quiet)
      fprintf(stderr, "neurodyn train hlca: %lld layers learned, top layer relative error %.4f, %.1f s\n", (long long)r->L,
              r->last.rel_error, nd_cli_now() - run->t_start);
    if (!rc) rc = feedback(r, run);
    if (!rc && !a->common.quiet) printf("%s\n", run->dir);
  }
  nd_run_end(run);
  nd_lca_dict_free(r->d);
  for (int l = 0; l < MAXL; l++) nd_tensor_release(&r->atoms[l]);
  free(r->input);
  nd_dataset_release(&r->data);
  return rc;
}

int nd_cli_train_hlca(int argc, char **argv) {
  hl_args a;
  memset(&a, 0, sizeof a);
  const nd_option table[] = {
      {"data", ND_OPT_CHOICE, &a.source, "mnist", "images: mnist or fashion-mnist", sources},
      {"data-dir", ND_OPT_STRING, &a.root, NULL, "data root holding mnist/ (default $ND_DATA_DIR, else ./data)", NULL},
      {"limit", ND_OPT_INT64, &a.limit, "6000", "use the first N training images (0: all 60000)", NULL},
      {"validation", ND_OPT_INT64, &a.validation, "1000", "hold out the last N of them (dictionary figures; gain choice)", NULL},
      {"atoms", ND_OPT_STRING, &a.atoms_s, "128,32", "atoms per layer, bottom first (the number of layers)", NULL},
      {"lambda", ND_OPT_STRING, &a.lambda_s, "0.1,0.05", "LCA threshold per layer (or one for all)", NULL},
      {"threshold", ND_OPT_CHOICE, &a.threshold, "soft", "soft or nonneg", thresholds},
      {"tol", ND_OPT_DOUBLE, &a.tol, "1e-3", "learning: LCA stops a signal at this relative rate", NULL},
      {"max-iter", ND_OPT_INT64, &a.max_iter, "300", "learning: LCA steps at most per minibatch", NULL},
      {"lr", ND_OPT_DOUBLE, &a.lr, "0.1", "dictionary step: Phi += lr/B R A^T, then unit atoms", NULL},
      {"epochs", ND_OPT_INT64, &a.epochs, "3", "epochs per layer", NULL},
      {"batch", ND_OPT_INT64, &a.batch, "100", "minibatch size", NULL},
      {"gains", ND_OPT_STRING, &a.gains_s, "0,0.1,0.3,1,3", "top-down gains to compare ('': no experiment)", NULL},
      {"corrupt", ND_OPT_CHOICE, &a.corrupt, "occlude", "the ambiguity: occlude (a square set to 0) or noise", corruptions},
      {"occlude", ND_OPT_INT64, &a.occlude, "12", "side of the occluding square", NULL},
      {"noise", ND_OPT_DOUBLE, &a.noise, "0.5", "standard deviation of the additive noise", NULL},
      {"probe", ND_OPT_INT64, &a.probe, "5000", "training images the linear probe is fitted on", NULL},
      {"test", ND_OPT_INT64, &a.test, "2000", "test images scored once (0: none; 10000: all)", NULL},
      {"ridge", ND_OPT_DOUBLE, &a.ridge, "1", "ridge of the linear probe", NULL},
      {"eval-iter", ND_OPT_INT64, &a.eval_iter, "300", "experiment: hierarchical LCA steps at most", NULL},
      {"eval-tol", ND_OPT_DOUBLE, &a.eval_tol, "1e-3", "experiment: hierarchical LCA stops a row at this residual", NULL},
      {"resume", ND_OPT_STRING, &a.resume, NULL, "continue the interrupted run in DIR exactly (its own settings)", NULL},
      {"stop-after", ND_OPT_INT64, &a.stop_after, "0", "stop after N epochs of this invocation (resumable; 0: run to the end)", NULL},
      {"checkpoint-every", ND_OPT_INT64, &a.checkpoint_every, "1", "write checkpoint.safetensors every N epochs (0: only at the end)", NULL},
      ND_OPT_COMMON(&a.common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train hlca", "[options]",
                        "Learns a hierarchical LCA (layer l sparse-codes layer l-1's code) layer by layer on MNIST, "
                        "then codes occluded or noisy images with top-down feedback at each --gains value and "
                        "reports the reconstruction error of the clean image and linear-probe accuracy of the codes "
                        "(gain chosen on the validation split; test scored once). Writes config.json, metrics.jsonl, "
                        "checkpoint.safetensors (resumable), layer1.png, layerN.npy and feedback.json into --out "
                        "(default runs/hlca).",
                        table, 0, 0};
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  nd_run run;
  nd_args args;
  int rc = nd_run_parse(&run, CMD, &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/hlca";
  hl_run r;
  memset(&r, 0, sizeof r);
  r.a = &a;
  rc = check_args(&a, &r);
  if (!rc) rc = run_hlca(&r, &run);
  nd_args_release(&args);
  return rc;
}
