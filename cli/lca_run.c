/* neurodyn run lca: sparse codes of signals under a dictionary by the
 * Locally Competitive Algorithm (Rozell et al., Neural Comput. 20(10), 2008;
 * the library side is include/neurodyn/lca.h, the user guide docs/lca.md). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "record_cli.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/lca.h"

#define PROG "neurodyn run lca"

static const char *const thresholds[] = {"soft", "hard", "nonneg", NULL};
static const char *const updates[] = {"euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam",
                                      "upstream-rmsprop", NULL};
static const char *const schedules[] = {"constant", "fista", NULL};
static const char *const variants[] = {"textbook", "upstream", NULL};
static const char *const forms[] = {"auto", "gram", "two-gemm", NULL};

typedef struct run_opts {
  const char *dict, *input, *out, *lambda, *eta, *mu, *beta1, *beta2, *eps;
  double tol;
  int64_t max_iter;
  int threshold, update, schedule, variant, form, threads;
  bool restart, normalize;
  bool conv;                       /* --conv: lca_conv.c */
  const char *kernel, *stride, *pad;
  nd_cli_record record;
} run_opts;

nd_status nd_cli_lca_rec_begin(nd_cli_lca_rec *lr, nd_cli_record *rc, int kind, int ndim, const int64_t *shape,
                               const char *labels) {
  memset(lr, 0, sizeof *lr);
  lr->rc = rc;
  if (!rc->dir && !rc->rec) return ND_OK;
  lr->frame_size = 1;
  for (int i = 0; i < ndim; i++) lr->frame_size *= shape[i];
  nd_record_stream *c = NULL, *u = NULL;
  nd_status s = rc->rec ? ND_OK : nd_cli_record_open(rc, NULL, false); /* train lca's is open */
  if (s == ND_OK) s = nd_cli_record_stream(rc, "codes", (nd_record_kind)kind, ndim, shape, "step", 1, labels, &c);
  if (s == ND_OK) s = nd_cli_record_stream(rc, "potentials", (nd_record_kind)kind, ndim, shape, "step", 1, labels, &u);
  lr->codes = c, lr->potentials = u;
  return s;
}

/* Frame f is iteration f K + 1 (the first step is always kept). */
int nd_cli_lca_rec_observer(int64_t iter, const float *a, const float *u, int64_t batch, void *user) {
  nd_cli_lca_rec *lr = user;
  (void)batch;
  if (lr->status == ND_OK) lr->status = nd_cli_record_push(lr->rc, lr->codes, iter - 1, a);
  if (lr->status == ND_OK) lr->status = nd_cli_record_push(lr->rc, lr->potentials, iter - 1, u);
  return lr->status != ND_OK;
}

nd_status nd_cli_lca_rec_end(nd_cli_lca_rec *lr) {
  nd_status s = nd_cli_record_close(lr->rc);
  return lr->status != ND_OK ? lr->status : s;
}

/* An optional real option given as text (NULL: keep the default). */
static int real_opt(const char *name, const char *text, double *dst) {
  if (!text) return 0;
  char *end;
  double v = strtod(text, &end);
  if (end == text || *end || !isfinite(v)) return nd_cli_fail(2, PROG, "--%s: '%s' is not a finite number", name, text);
  *dst = v;
  return 0;
}

/* The library config from the options (checked by nd_lca_config_check). */
static int make_config(const run_opts *o, nd_lca_config *c) {
  *c = nd_lca_defaults();
  double lambda = 0;
  if (!o->lambda) return nd_cli_fail(2, PROG, "--lambda is required (a number >= 0)");
  if (real_opt("lambda", o->lambda, &lambda)) return 2;
  if (lambda < 0) return nd_cli_fail(2, PROG, "--lambda %g: must be >= 0", lambda);
  c->lambda = (float)lambda;
  c->threshold = (nd_lca_threshold)o->threshold;
  c->variant = (nd_lca_variant)o->variant;
  c->form = (nd_lca_form)o->form;
  c->normalize = o->normalize;
  c->tol = o->tol;
  c->max_iter = o->max_iter;
  nd_accel_kind k = (nd_accel_kind)o->update;
  if (k != c->update.kind) c->update = nd_accel_defaults(k);
  c->update.schedule = (nd_accel_schedule)o->schedule;
  c->update.restart = o->restart;
  int rc = real_opt("eta", o->eta, &c->update.eta) || real_opt("mu", o->mu, &c->update.mu) ||
           real_opt("beta1", o->beta1, &c->update.beta1) || real_opt("beta2", o->beta2, &c->update.beta2) ||
           real_opt("eps", o->eps, &c->update.eps);
  if (rc) return 2;
  if (o->eta) c->auto_eta = false;
  if (nd_lca_config_check(c) != ND_OK) return nd_cli_fail(2, PROG, "%s", nd_last_error());
  return 0;
}

/* D [m, n] and S [m] or [B, m], finite. */
static int read_inputs(const run_opts *o, nd_tensor *D, nd_tensor *S) {
  char sd[96], ss[96];
  if (nd_tensor_file_read_f32(o->dict, NULL, D) != ND_OK) return nd_cli_fail(2, PROG, "--dict: %s", nd_last_error());
  if (D->ndim != 2)
    return nd_cli_fail(2, PROG, "%s: dictionary has shape %s; need 2-D [m, n] (columns are atoms)", o->dict,
                       nd_tensor_shape_str(D, sd, sizeof sd));
  nd_tensor_shape_str(D, sd, sizeof sd);
  if (D->shape[0] < 1 || D->shape[1] < 1) return nd_cli_fail(2, PROG, "%s: dictionary %s is empty", o->dict, sd);
  if (nd_cli_check_finite(PROG, o->dict, "dictionary", D)) return 2;
  if (nd_tensor_file_read_f32(o->input, NULL, S) != ND_OK) return nd_cli_fail(2, PROG, "--input: %s", nd_last_error());
  nd_tensor_shape_str(S, ss, sizeof ss);
  int64_t m = D->shape[0];
  if ((S->ndim != 1 && S->ndim != 2) || S->shape[S->ndim - 1] != m || (S->ndim == 2 && S->shape[0] < 1))
    return nd_cli_fail(2, PROG, "%s: input has shape %s; the dictionary %s is %s, so the input must be [%lld] or [B, %lld]",
                       o->input, ss, o->dict, sd, (long long)m, (long long)m);
  return nd_cli_check_finite(PROG, o->input, "input", S);
}

static int write_codes(const char *path, const float *a, int ndim, int64_t B, int64_t n) {
  nd_tensor t = ndim == 1 ? nd_tensor_wrap((float *)a, 1, ND_SHAPE(n)) : nd_tensor_wrap((float *)a, 2, ND_SHAPE(B, n));
  return nd_cli_write_tensor(PROG, path, "A", &t);
}

static int solve(const run_opts *o, const nd_lca_config *c, const nd_tensor *D, const nd_tensor *S) {
  const int64_t m = D->shape[0], n = D->shape[1], B = S->ndim == 2 ? S->shape[0] : 1;
  nd_lca *l = NULL;
  float *a = NULL;
  nd_status s = nd_lca_create(c, D->data, m, n, B, &l);
  if (s != ND_OK) return nd_cli_fail(nd_cli_status_code(s), PROG, "%s: %s", o->dict, nd_last_error());
  a = nd_aligned_alloc((size_t)(B * n) * sizeof(float));
  if (!a) {
    nd_lca_free(l);
    return nd_cli_fail(1, PROG, "out of memory for codes [%lld, %lld]", (long long)B, (long long)n);
  }
  /* --record-dir: one signal's codes as a vector, or the first 64 signals' as a map [1, B, n] */
  nd_cli_lca_rec lr;
  int64_t rows = B < 64 ? B : 64;
  s = B == 1 ? nd_cli_lca_rec_begin(&lr, (nd_cli_record *)&o->record, ND_RECORD_VECTOR, 1, &n,
                                    "{\"model\": \"lca\", \"signals\": 1}")
             : nd_cli_lca_rec_begin(&lr, (nd_cli_record *)&o->record, ND_RECORD_MAP2D, 3, ND_SHAPE(1, rows, n),
                                    "{\"model\": \"lca\", \"rows\": \"signals\", \"columns\": \"atoms\"}");
  if (s == ND_OK && lr.codes) s = nd_lca_set_observer(l, nd_cli_lca_rec_observer, &lr);
  nd_lca_result r;
  if (s == ND_OK) s = nd_lca_solve(l, S->data, B, a, &r);
  nd_status se = nd_cli_lca_rec_end(&lr);
  if (s == ND_OK) s = se;
  int rc = 0;
  if (s != ND_OK) rc = nd_cli_fail(nd_cli_status_code(s) == 2 ? 2 : 1, PROG, "%s", nd_last_error());
  if (!rc) rc = write_codes(o->out, a, S->ndim, B, n);
  if (!rc)
    printf("{\"iterations\": %lld, \"residual\": %.9g, \"objective\": %.9g, \"stopped\": \"%s\", \"batch\": %lld, "
           "\"atoms\": %lld, \"update\": \"%s\", \"eta\": %.9g, \"form\": \"%s\"}\n",
           (long long)r.iterations, r.residual, r.objective, nd_stop_reason_name(r.stop), (long long)B, (long long)n,
           nd_accel_name(c->update.kind), nd_lca_eta(l), nd_lca_form_name(nd_lca_form_of(l)));
  nd_aligned_free(a);
  nd_lca_free(l);
  return rc;
}

int nd_cli_run_lca(int argc, char **argv) {
  run_opts o;
  memset(&o, 0, sizeof o);
  const nd_option table[] = {
      {"dict", ND_OPT_STRING, &o.dict, NULL, "dictionary [m, n], columns are atoms (.npy, or .safetensors with one tensor)", NULL},
      {"input", ND_OPT_STRING, &o.input, NULL, "signals [m] or [B, m] (.npy or .safetensors)", NULL},
      {"out", ND_OPT_STRING, &o.out, NULL, "codes [n] or [B, n] (.npy, or .safetensors: tensor \"A\")", NULL},
      {"lambda", ND_OPT_STRING, &o.lambda, NULL, "threshold lambda >= 0 (required)", NULL},
      {"threshold", ND_OPT_CHOICE, &o.threshold, "soft", "soft (Lasso), hard or nonneg", thresholds},
      {"update", ND_OPT_CHOICE, &o.update, "nesterov", "state update (accel.h)", updates},
      {"eta", ND_OPT_STRING, &o.eta, NULL, "step (default: 1/||D||^2 for euler/momentum/nesterov, else 0.01)", NULL},
      {"schedule", ND_OPT_CHOICE, &o.schedule, "fista", "momentum coefficient: constant (--mu) or fista", schedules},
      {"restart", ND_OPT_BOOL, &o.restart, "true", "adaptive restart of momentum/nesterov", NULL},
      {"mu", ND_OPT_STRING, &o.mu, NULL, "constant momentum (default 0.9)", NULL},
      {"beta1", ND_OPT_STRING, &o.beta1, NULL, "adam/upstream first-moment decay (default per update)", NULL},
      {"beta2", ND_OPT_STRING, &o.beta2, NULL, "adam second-moment decay, rmsprop's rho (default per update)", NULL},
      {"eps", ND_OPT_STRING, &o.eps, NULL, "rmsprop/adam epsilon (default per update)", NULL},
      {"tol", ND_OPT_DOUBLE, &o.tol, "1e-4", "stop a signal when max|du/dt| / max|D^T s| <= tol (> 0)", NULL},
      {"max-iter", ND_OPT_INT64, &o.max_iter, "1000", "most steps", NULL},
      {"variant", ND_OPT_CHOICE, &o.variant, "textbook", "textbook (Rozell 2008) or upstream (NeurodynamicalSystems.jl)", variants},
      {"form", ND_OPT_CHOICE, &o.form, "auto", "inhibition as one Gram GEMM or two GEMMs", forms},
      {"normalize", ND_OPT_BOOL, &o.normalize, "false", "L2-normalise the dictionary's columns first", NULL},
      {"threads", ND_OPT_INT, &o.threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL},
      {"conv", ND_OPT_BOOL, &o.conv, "false", "convolutional: --dict filters [F, C, kh, kw] or [F, C, k], --input [(B,) C, H, W] or [(B,) C, L]", NULL},
      {"kernel", ND_OPT_STRING, &o.kernel, NULL, "conv: filter size KH[xKW] (checked against the filters)", NULL},
      {"stride", ND_OPT_STRING, &o.stride, "1", "conv: stride S or SHxSW", NULL},
      {"pad", ND_OPT_STRING, &o.pad, "0", "conv: zero padding P or PHxPW on each side", NULL},
      ND_OPT_RECORD_DIR(&o.record, "the codes and potentials over the solver's iterations", "iterations", "1"),
      ND_OPT_END,
  };
  const nd_opts spec = {PROG, "--dict D.npy --input S.npy --lambda L --out A.npy [options]",
                        "Solves tau du/dt = D^T s - u - (D^T D - I) a, a = T_lambda(u) for every signal s and\n"
                        "writes the codes a.  Prints one JSON line: iterations, residual, objective (the\n"
                        "summed energy, the Lasso objective for soft), stopped (tolerance or max-iter).\n"
                        "Exit 2 for bad input (nothing is written), 1 for a failure while running.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_lca_config c;
  nd_tensor D, S;
  memset(&D, 0, sizeof D);
  memset(&S, 0, sizeof S);
  if (!o.dict || !o.input || !o.out)
    rc = nd_cli_fail(2, PROG, "--dict, --input and --out are required (see --help)");
  if (!rc && nd_file_format_of_name(o.out) != ND_FILE_NPY && nd_file_format_of_name(o.out) != ND_FILE_SAFETENSORS)
    rc = nd_cli_fail(2, PROG, "%s: --out must end in .npy or .safetensors", o.out);
  if (!rc) rc = nd_cli_check_output(PROG, o.out);
  if (!rc && nd_cli_record_check(&o.record) != ND_OK) rc = nd_cli_fail(2, PROG, "%s", nd_last_error());
  if (!rc) rc = make_config(&o, &c);
  if (!rc && o.threads != 0 && nd_set_num_threads(o.threads) != ND_OK) rc = nd_cli_fail(2, PROG, "--threads: %s", nd_last_error());
  nd_cli_lca_conv_opts co = {PROG, o.dict, o.input, o.out, o.kernel, o.stride, o.pad, &o.record};
  if (!rc && o.conv) rc = nd_cli_lca_conv(&co, &c);
  else if (!rc) rc = read_inputs(&o, &D, &S);
  if (!rc && !o.conv) rc = solve(&o, &c, &D, &S);
  nd_tensor_release(&D);
  nd_tensor_release(&S);
  nd_args_release(&args);
  return rc;
}
