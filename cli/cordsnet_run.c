/* neurodyn run cordsnet: logits (and recorded trajectories) of a CordsNet
 * (Soo et al., NeurIPS 2024; include/neurodyn/cordsnet.h, docs/cordsnet.md)
 * for images given as an N x C x H x W float32 array, or as PNG/JPEG files
 * resized and normalised like upstream's eval transform. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "record_cli.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/cordsnet.h"

#define PROG "neurodyn run cordsnet"

typedef struct run_opts {
  const char *weights, *input, *out, *record, *record_out, *labels;
  int depth, steps_spont, steps, threads;
  double alpha;
  nd_cli_record rec; /* --record-dir: the recorded areas as map2d streams */
} run_opts;

/* --record-dir: area j's rates of image 0, C x H x W per step, as stream
 * "areaJ" (one frame every --record-every steps, spontaneous steps first). */
static int write_streams(run_opts *o, nd_cordsnet *m, int n_rec, const int *areas, float *const *traj, int64_t T,
                         int64_t n, int steps_spont) {
  nd_status s = nd_cli_record_open(&o->rec, NULL, false);
  for (int k = 0; s == ND_OK && k < n_rec; k++) {
    int64_t ac, ah, aw;
    nd_cordsnet_area_shape(m, areas[k], &ac, &ah, &aw);
    char name[16], labels[160];
    snprintf(name, sizeof name, "area%d", areas[k]);
    snprintf(labels, sizeof labels, "{\"model\": \"cordsnet\", \"area\": %d, \"image\": 0, \"steps_spont\": %d}",
             areas[k], steps_spont);
    nd_record_stream *st = NULL;
    s = nd_cli_record_stream(&o->rec, name, ND_RECORD_MAP2D, 3, ND_SHAPE(ac, ah, aw), "step", 1, labels, &st);
    for (int64_t t = 0; s == ND_OK && t < T; t++) /* traj [T, n, C, H, W] */
      s = nd_cli_record_push(&o->rec, st, t, traj[k] + t * n * ac * ah * aw);
  }
  nd_status sc = nd_cli_record_close(&o->rec);
  if (s == ND_OK) s = sc;
  return s == ND_OK ? 0 : nd_cli_fail(1, PROG, "%s", nd_last_error());
}

static bool is_image(const char *p) {
  const char *d = strrchr(p, '.');
  if (!d) return false;
  return !strcasecmp(d, ".png") || !strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg");
}

/* --record "6,7" into areas[] */
static int parse_record(const char *s, int depth, int *areas, int *n) {
  *n = 0;
  const char *p = s;
  while (*p) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 0 || v >= depth || *n >= ND_CORDSNET_MAX_DEPTH)
      return nd_cli_fail(2, PROG, "--record '%s': need comma-separated areas in 0..%d", s, depth - 1);
    areas[(*n)++] = (int)v;
    p = end;
    if (*p == ',') p++;
    else if (*p) return nd_cli_fail(2, PROG, "--record '%s': need comma-separated areas in 0..%d", s, depth - 1);
  }
  if (*n == 0) return nd_cli_fail(2, PROG, "--record '%s': no area given", s);
  return 0;
}

/* The input as [N, C, H, W] float32. */
static int read_input(const run_opts *o, const nd_cordsnet_config *c, nd_tensor *x) {
  char sh[96];
  if (is_image(o->input)) {
    if (nd_cordsnet_image_read(o->input, c, x) != ND_OK) return nd_cli_fail(2, PROG, "--input: %s", nd_last_error());
    return 0;
  }
  if (nd_tensor_file_read_f32(o->input, NULL, x) != ND_OK) return nd_cli_fail(2, PROG, "--input: %s", nd_last_error());
  nd_tensor_shape_str(x, sh, sizeof sh);
  if (x->ndim == 3 && x->shape[0] == c->in_channels && x->shape[1] == c->in_h && x->shape[2] == c->in_w) {
    x->ndim = 4;
    x->shape[3] = x->shape[2], x->shape[2] = x->shape[1], x->shape[1] = x->shape[0], x->shape[0] = 1;
  }
  if (x->ndim != 4 || x->shape[1] != c->in_channels || x->shape[2] != c->in_h || x->shape[3] != c->in_w || x->shape[0] < 1)
    return nd_cli_fail(2, PROG, "%s: input has shape %s; the weights %s need [N, %lld, %lld, %lld]", o->input, sh,
                       o->weights, (long long)c->in_channels, (long long)c->in_h, (long long)c->in_w);
  return nd_cli_check_finite(PROG, o->input, "input", x);
}

/* Labels: one class name per line. */
static char **read_labels(const char *path, int64_t classes, int *rc) {
  FILE *f = fopen(path, "r");
  if (!f) {
    *rc = nd_cli_fail(2, PROG, "--labels %s: cannot open", path);
    return NULL;
  }
  char **l = calloc((size_t)classes, sizeof *l);
  char line[512];
  int64_t n = 0;
  while (l && n < classes && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    l[n++] = strdup(line);
  }
  fclose(f);
  if (!l || n < classes) {
    for (int64_t i = 0; l && i < n; i++) free(l[i]);
    free(l);
    *rc = nd_cli_fail(2, PROG, "--labels %s: has %lld lines, the model has %lld classes", path, (long long)n,
                      (long long)classes);
    return NULL;
  }
  return l;
}

static void print_top5(const float *logits, int64_t n, int64_t classes, char **labels) {
  int64_t k = classes < 5 ? classes : 5;
  float *p = malloc(sizeof(float) * (size_t)classes);
  int64_t idx[5];
  float val[5];
  for (int64_t b = 0; b < n && p; b++) {
    nd_softmax(logits + b * classes, 1, classes, p);
    nd_row_topk(p, 1, classes, k, val, idx);
    printf("image %lld:", (long long)b);
    for (int64_t i = 0; i < k; i++) printf("%s %s %.4f", i ? "," : "", labels[idx[i]], (double)val[i]);
    printf("\n");
  }
  free(p);
}

int nd_cli_run_cordsnet(int argc, char **argv) {
  run_opts o;
  memset(&o, 0, sizeof o);
  const nd_option table[] = {
      {"weights", ND_OPT_STRING, &o.weights, NULL, "CordsNet weights (.safetensors, upstream's names; see neurodyn convert)", NULL},
      {"depth", ND_OPT_INT, &o.depth, "0", "areas 2|4|6|8, checked against the weights (0: infer)", NULL},
      {"input", ND_OPT_STRING, &o.input, NULL, "images [N, C, H, W] (.npy/.safetensors, normalised), or a .png/.jpg", NULL},
      {"out", ND_OPT_STRING, &o.out, NULL, "logits [N, classes] (.npy or .safetensors)", NULL},
      {"steps-spont", ND_OPT_INT, &o.steps_spont, "100", "zero-input steps first (cached: image independent)", NULL},
      {"steps", ND_OPT_INT, &o.steps, "100", "steps with the image; logits read at the last", NULL},
      {"alpha", ND_OPT_DOUBLE, &o.alpha, "0.2", "dt / tau, 0 < alpha <= 1", NULL},
      {"record", ND_OPT_STRING, &o.record, NULL, "areas to record, e.g. 6,7", NULL},
      {"record-out", ND_OPT_STRING, &o.record_out, NULL, "trajectories (.safetensors: area_J [T, N, C, H, W]; .npy: one area)", NULL},
      ND_OPT_RECORD_DIR(&o.rec, "the --record areas' rates of the first image (map2d streams)", "steps", "1"),
      {"labels", ND_OPT_STRING, &o.labels, NULL, "class names, one per line: print the top 5 per image", NULL},
      {"threads", ND_OPT_INT, &o.threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {PROG, "--weights M.safetensors --input X.npy --out logits.npy [options]",
                        "Runs steps-spont zero-input steps, then steps with each image, of\n"
                        "  r_j <- (1 - alpha) r_j + alpha relu(area_conv_j(r_j) + conv_bias_j + area_area_j(u_j))\n"
                        "and writes the logits at the last step.  Exit 2 for bad input (nothing written).",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_cordsnet *m = NULL;
  nd_tensor x;
  memset(&x, 0, sizeof x);
  float *logits = NULL;
  float *traj[ND_CORDSNET_MAX_DEPTH] = {0};
  char **labels = NULL;
  int areas[ND_CORDSNET_MAX_DEPTH], n_rec = 0;
  nd_cordsnet_run r = nd_cordsnet_run_defaults();
  r.steps_spont = o.steps_spont, r.steps = o.steps, r.alpha = (float)o.alpha;
  if (!o.weights || !o.input || !o.out) rc = nd_cli_fail(2, PROG, "--weights, --input and --out are required (see --help)");
  if (!rc && nd_file_format_of_name(o.out) != ND_FILE_NPY && nd_file_format_of_name(o.out) != ND_FILE_SAFETENSORS)
    rc = nd_cli_fail(2, PROG, "%s: --out must end in .npy or .safetensors", o.out);
  if (!rc && (o.steps_spont < 0 || o.steps < 1 || !(o.alpha > 0 && o.alpha <= 1)))
    rc = nd_cli_fail(2, PROG, "--steps-spont %d --steps %d --alpha %g: need >= 0, >= 1 and 0 < alpha <= 1", o.steps_spont,
                     o.steps, o.alpha);
  if (!rc && (o.record != NULL) != (o.record_out != NULL || o.rec.dir != NULL))
    rc = nd_cli_fail(2, PROG, "--record goes with --record-out or --record-dir (or both)");
  if (!rc && nd_cli_record_check(&o.rec) != ND_OK) rc = nd_cli_fail(2, PROG, "%s", nd_last_error());
  if (!rc && o.record_out && nd_file_format_of_name(o.record_out) != ND_FILE_NPY &&
      nd_file_format_of_name(o.record_out) != ND_FILE_SAFETENSORS)
    rc = nd_cli_fail(2, PROG, "%s: --record-out must end in .npy or .safetensors", o.record_out);
  if (!rc) rc = nd_cli_check_output(PROG, o.out);
  if (!rc && o.record_out) rc = nd_cli_check_output(PROG, o.record_out);
  if (!rc && o.threads != 0 && nd_set_num_threads(o.threads) != ND_OK) rc = nd_cli_fail(2, PROG, "--threads: %s", nd_last_error());
  if (!rc && nd_cordsnet_load(o.weights, o.depth, &m) != ND_OK) rc = nd_cli_fail(2, PROG, "--weights: %s", nd_last_error());
  const nd_cordsnet_config *c = m ? nd_cordsnet_config_of(m) : NULL;
  if (!rc && o.record) rc = parse_record(o.record, c->depth, areas, &n_rec);
  if (!rc && n_rec > 1 && o.record_out && nd_file_format_of_name(o.record_out) == ND_FILE_NPY)
    rc = nd_cli_fail(2, PROG, "%s: .npy holds one area; use .safetensors for --record %s", o.record_out, o.record);
  if (!rc && o.labels) labels = read_labels(o.labels, c->classes, &rc);
  if (!rc) rc = read_input(&o, c, &x);
  int64_t n = x.shape[0];
  int64_t T = (int64_t)r.steps_spont + r.steps;
  if (!rc) {
    logits = malloc(sizeof(float) * (size_t)(n * c->classes));
    if (!logits) rc = nd_cli_fail(1, PROG, "out of memory");
  }
  for (int k = 0; !rc && k < n_rec; k++) {
    int64_t ac, ah, aw;
    nd_cordsnet_area_shape(m, areas[k], &ac, &ah, &aw);
    double bytes = (double)T * n * ac * ah * aw * 4;
    if (bytes > 64e9) rc = nd_cli_fail(2, PROG, "--record %s: trajectories would need %.1f GB", o.record, bytes / 1e9);
    else if (!(traj[k] = malloc((size_t)bytes))) rc = nd_cli_fail(1, PROG, "out of memory for area %d's trajectory", areas[k]);
  }
  nd_status s = ND_OK;
  if (!rc) s = n_rec ? nd_cordsnet_record(m, &r, x.data, n, n_rec, areas, traj, logits) : nd_cordsnet_forward(m, &r, x.data, n, logits);
  if (!rc && s != ND_OK) rc = nd_cli_fail(nd_cli_status_code(s), PROG, "%s", nd_last_error());
  if (!rc) {
    nd_tensor lt = nd_tensor_wrap(logits, 2, ND_SHAPE(n, c->classes));
    rc = nd_cli_write_tensor(PROG, o.out, "logits", &lt);
  }
  if (!rc && n_rec) {
    char names[ND_CORDSNET_MAX_DEPTH][16];
    const char *np[ND_CORDSNET_MAX_DEPTH];
    nd_tensor ts[ND_CORDSNET_MAX_DEPTH];
    const nd_tensor *tp[ND_CORDSNET_MAX_DEPTH];
    for (int k = 0; k < n_rec; k++) {
      int64_t ac, ah, aw;
      nd_cordsnet_area_shape(m, areas[k], &ac, &ah, &aw);
      snprintf(names[k], sizeof names[k], "area_%d", areas[k]);
      np[k] = names[k];
      int64_t shape[5] = {T, n, ac, ah, aw};
      ts[k] = nd_tensor_wrap(traj[k], 5, shape);
      tp[k] = &ts[k];
    }
    if (!o.record_out) rc = 0;
    else if (nd_file_format_of_name(o.record_out) == ND_FILE_NPY) rc = nd_cli_write_tensor(PROG, o.record_out, np[0], tp[0]);
    else if (nd_safetensors_write(o.record_out, n_rec, np, tp, NULL) != ND_OK) rc = nd_cli_fail(1, PROG, "%s", nd_last_error());
  }
  if (!rc && n_rec && o.rec.dir) rc = write_streams(&o, m, n_rec, areas, traj, T, n, r.steps_spont);
  if (!rc && labels) print_top5(logits, n, c->classes, labels);
  if (!rc)
    printf("{\"images\": %lld, \"classes\": %lld, \"depth\": %d, \"steps_spont\": %d, \"steps\": %d, \"alpha\": %g}\n",
           (long long)n, (long long)c->classes, c->depth, r.steps_spont, r.steps, (double)r.alpha);
  for (int k = 0; k < ND_CORDSNET_MAX_DEPTH; k++) free(traj[k]);
  if (labels)
    for (int64_t i = 0; i < c->classes; i++) free(labels[i]);
  free(labels);
  free(logits);
  nd_tensor_release(&x);
  nd_cordsnet_free(m);
  nd_args_release(&args);
  return rc;
}
