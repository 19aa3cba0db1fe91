/* neurodyn run wta | lcwta | convwta: the steady state of a winner-take-all
 * circuit for given inputs (Rutishauser, Douglas & Slotine, Neural Comput.
 * 23(3), 2011; the library side is include/neurodyn/circuits.h, the user
 * guide docs/circuits.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "record_cli.h"
#include "neurodyn/neurodyn.h"
#include "neurodyn/circuits.h"

static const char *const orders[] = {"jacobi", "upstream", NULL};

typedef enum circuit { WTA, LCWTA, CONVWTA, LCAWTA } circuit;
static const char *const progs[] = {"neurodyn run wta", "neurodyn run lcwta", "neurodyn run convwta", "neurodyn run lcawta"};

typedef struct run_opts {
  const char *input, *out, *inh_out, *kernel, *dict, *flow, *circuit_out;
  nd_wta_config c;
  double lambda, lca_eta;
  int order, threads;
  int64_t halfwidth;
  bool across;
  nd_cli_record rec; /* --record-dir */
} run_opts;

/* --record-dir: the excitatory and inhibitory states over the steps of the
 * solve: one row as vectors, the first 64 rows as maps [1, rows, units], or
 * convwta's first image as maps [C, H, W]; one frame every --record-every
 * steps (frame f = step f K + 1). */
typedef struct circ_rec {
  nd_cli_record *rc;
  nd_record_stream *x, *y;
  nd_status status;
} circ_rec;

static int circ_observer(int64_t iter, const float *x, const float *y, int64_t batch, void *user) {
  circ_rec *cr = user;
  (void)batch;
  if (cr->status == ND_OK) cr->status = nd_cli_record_push(cr->rc, cr->x, iter - 1, x);
  if (cr->status == ND_OK) cr->status = nd_cli_record_push(cr->rc, cr->y, iter - 1, y);
  return cr->status != ND_OK;
}

/* xs, ys: the frame shapes (rank xn, yn). */
static nd_status circ_rec_begin(circ_rec *cr, nd_cli_record *rc, const char *model, int kind, int nd, const int64_t *xs,
                                int ykind, int ynd, const int64_t *ys) {
  memset(cr, 0, sizeof *cr);
  cr->rc = rc;
  if (!rc->dir) return ND_OK;
  char labels[96];
  snprintf(labels, sizeof labels, "{\"model\": \"%s\"}", model);
  nd_status s = nd_cli_record_open(rc, NULL, false);
  if (s == ND_OK) s = nd_cli_record_stream(rc, "excitatory", (nd_record_kind)kind, nd, xs, "step", 1, labels, &cr->x);
  if (s == ND_OK) s = nd_cli_record_stream(rc, "inhibitory", (nd_record_kind)ykind, ynd, ys, "step", 1, labels, &cr->y);
  return s;
}

/* --kernel K (1 x K) or KHxKW. */
static int parse_kernel(const char *prog, const char *text, int64_t *kh, int64_t *kw) {
  char *end;
  long long a = strtoll(text, &end, 10), b = a;
  if (end != text && *end == 'x') {
    const char *t2 = end + 1;
    b = strtoll(t2, &end, 10);
    if (end == t2) end = (char *)t2 - 1; /* force the error below */
  } else {
    a = 1;
  }
  if (end == text || *end || a < 1 || b < 1 || a % 2 == 0 || b % 2 == 0)
    return nd_cli_fail(2, prog, "--kernel '%s': need K or KHxKW with odd sizes >= 1 (e.g. 5 or 1x5 or 3x3)", text);
  *kh = a;
  *kw = b;
  return 0;
}

static int write_npy(const char *prog, const char *path, const float *v, const nd_tensor *like) {
  nd_tensor t = nd_tensor_wrap((float *)v, like->ndim, like->shape);
  if (like->ndim == 2 && t.shape[1] == 1) t = nd_tensor_wrap((float *)v, 1, ND_SHAPE(like->shape[0])); /* wta's y [B] */
  return nd_npy_write(path, &t) == ND_OK ? 0 : nd_cli_fail(1, prog, "%s", nd_last_error());
}

/* Per row: the units with x_i > 1e-3 max|I| (losers decay to 0 only
 * asymptotically) and the index of the largest one (-1: none active). */
static void print_winners(const char *key, const float *x, const float *in, int64_t B, int64_t n, bool index) {
  printf(", \"%s\": [", key);
  for (int64_t b = 0; b < B; b++) {
    double m = 0, best = 0;
    int64_t k = 0, arg = -1;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(in[b * n + i]));
    for (int64_t i = 0; i < n; i++)
      if (x[b * n + i] > 1e-3 * m) {
        k++;
        if (x[b * n + i] > best) best = x[b * n + (arg = i)];
      }
    printf("%s%lld", b ? ", " : "", (long long)(index ? arg : k));
  }
  printf("]");
}

static int solve(circuit kind, const run_opts *o, const nd_tensor *X) {
  const char *prog = progs[kind];
  const int64_t n = X->ndim == 1 ? X->shape[0] : nd_tensor_numel(X) / X->shape[0], B = X->ndim == 1 ? 1 : X->shape[0];
  const int64_t ni = kind == WTA ? 1 : n;
  float *x = nd_aligned_alloc((size_t)(B * n) * sizeof(float)), *y = nd_aligned_alloc((size_t)(B * ni) * sizeof(float));
  if (!x || !y) {
    nd_aligned_free(x);
    nd_aligned_free(y);
    return nd_cli_fail(1, prog, "out of memory for [%lld, %lld] units", (long long)B, (long long)n);
  }
  nd_wta_result r = {0};
  nd_status s;
  circ_rec cr;
  nd_wta_config c = o->c;
  static const char *const models[] = {"wta", "lcwta", "convwta"};
  int64_t rows = B < 64 ? B : 64;
  if (kind == CONVWTA) {
    const int64_t *sh = X->shape + 1;
    s = circ_rec_begin(&cr, (nd_cli_record *)&o->rec, models[kind], ND_RECORD_MAP2D, 3, sh, ND_RECORD_MAP2D, 3, sh);
  } else if (B == 1) {
    s = circ_rec_begin(&cr, (nd_cli_record *)&o->rec, models[kind], ND_RECORD_VECTOR, 1, &n, ND_RECORD_VECTOR, 1, &ni);
  } else {
    s = circ_rec_begin(&cr, (nd_cli_record *)&o->rec, models[kind], ND_RECORD_MAP2D, 3, ND_SHAPE(1, rows, n),
                       kind == WTA ? ND_RECORD_VECTOR : ND_RECORD_MAP2D, kind == WTA ? 1 : 3,
                       kind == WTA ? ND_SHAPE(rows) : ND_SHAPE(1, rows, n));
  }
  if (cr.x) c.observer = circ_observer, c.observer_user = &cr;
  if (s != ND_OK) {
    nd_cli_record_close(cr.rc);
  } else if (kind == WTA) {
    s = nd_wta_solve(&c, X->data, B, n, x, y, &r);
  } else if (kind == LCWTA) {
    s = nd_lcwta_solve(&c, o->halfwidth, X->data, B, n, x, y, &r);
  } else {
    nd_convwta_shape sh = {X->shape[0], X->shape[1], X->shape[2], X->shape[3], 1, 3, o->across};
    parse_kernel(prog, o->kernel, &sh.kh, &sh.kw); /* checked before the input was read */
    s = nd_convwta_solve(&c, &sh, X->data, x, y, &r);
  }
  if (cr.x) { /* the recording's failure first; a runaway keeps the recording up to it */
    nd_status sr = cr.status;
    nd_status sc = nd_cli_record_close(cr.rc);
    if (sr == ND_OK) sr = sc;
    if (sr != ND_OK) s = sr, r.stop = ND_STOP_OBSERVER;
  }
  int rc = 0;
  if (s != ND_OK && r.stop != ND_STOP_DIVERGED) rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s: %s", o->input, nd_last_error());
  if (!rc) {
    printf("{\"iterations\": %lld, \"residual\": %.9g, \"stopped\": \"%s\", \"batch\": %lld, \"units\": %lld",
           (long long)r.iterations, r.residual, nd_stop_reason_name(r.stop), (long long)B, (long long)n);
    print_winners("winners", x, X->data, B, n, false);
    if (kind == WTA) print_winners("winner", x, X->data, B, n, true);
    printf(", \"order\": \"%s\"}\n", nd_wta_order_name(o->c.order));
    fflush(stdout);
    if (s != ND_OK) rc = nd_cli_fail(1, prog, "%s (nothing written)", nd_last_error());
  }
  if (!rc) rc = write_npy(prog, o->out, x, X);
  if (!rc && o->inh_out) rc = write_npy(prog, o->inh_out, y, kind == WTA ? &(nd_tensor){.ndim = 2, .shape = {B, 1}} : X);
  nd_aligned_free(x);
  nd_aligned_free(y);
  return rc;
}

/* --flow F11,F12,F21,F22: exactly four finite numbers. */
static int parse_flow(const char *prog, const char *text, double f[2][2]) {
  const char *p = text;
  for (int i = 0; i < 4; i++) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || (i < 3 ? *end != ',' : *end != 0))
      return nd_cli_fail(2, prog, "--flow '%s': the flow matrix must be 2x2: four finite numbers F11,F12,F21,F22", text);
    f[i / 2][i % 2] = v;
    p = end + 1;
  }
  return 0;
}

static int solve_lcawta(const run_opts *o, const nd_lcawta_config *lc, const nd_tensor *D, const nd_tensor *S) {
  const char *prog = progs[LCAWTA];
  const int64_t m = D->shape[0], k = D->shape[1], B = S->ndim == 2 ? S->shape[0] : 1;
  float *a = nd_aligned_alloc((size_t)(B * k) * sizeof(float)), *x = nd_aligned_alloc((size_t)(B * k) * sizeof(float));
  int rc = 0;
  nd_wta_result r;
  nd_status s = a && x ? nd_lcawta_solve(lc, D->data, m, k, S->data, B, a, x, &r) : ND_ERR_NOMEM;
  if (s != ND_OK && s != ND_ERR_NUMERIC) rc = nd_cli_fail(nd_cli_status_code(s), prog, "%s", a && x ? nd_last_error() : "out of memory");
  if (!rc) {
    printf("{\"iterations\": %lld, \"residual\": %.9g, \"stopped\": \"%s\", \"batch\": %lld, \"atoms\": %lld",
           (long long)r.iterations, r.residual, nd_stop_reason_name(r.stop), (long long)B, (long long)k);
    print_winners("winners", x, a, B, k, false);
    printf("}\n");
    fflush(stdout);
    if (s != ND_OK) rc = nd_cli_fail(1, prog, "%s (nothing written)", nd_last_error());
  }
  nd_tensor like = S->ndim == 1 ? nd_tensor_wrap(a, 1, ND_SHAPE(k)) : nd_tensor_wrap(a, 2, ND_SHAPE(B, k));
  if (!rc) rc = write_npy(prog, o->out, a, &like);
  if (!rc && o->circuit_out) rc = write_npy(prog, o->circuit_out, x, &like);
  nd_aligned_free(a);
  nd_aligned_free(x);
  return rc;
}

static int run_lcawta(const run_opts *o) {
  const char *prog = progs[LCAWTA];
  nd_lcawta_config lc = nd_lcawta_defaults();
  lc.wta = o->c;
  lc.halfwidth = o->halfwidth;
  lc.lambda = o->lambda;
  lc.lca_eta = o->lca_eta;
  if (!o->dict) return nd_cli_fail(2, prog, "--dict is required (see --help)");
  if (parse_flow(prog, o->flow, lc.flow)) return 2;
  if (o->circuit_out && nd_file_format_of_name(o->circuit_out) != ND_FILE_NPY)
    return nd_cli_fail(2, prog, "%s: --circuit must end in .npy", o->circuit_out);
  if (o->circuit_out && nd_cli_check_output(prog, o->circuit_out)) return 2;
  if (!(lc.lambda >= 0)) return nd_cli_fail(2, prog, "--lambda %g: must be >= 0", lc.lambda);
  if (!(lc.lca_eta > 0 && lc.lca_eta <= 1)) return nd_cli_fail(2, prog, "--lca-eta %g: must be in (0, 1]", lc.lca_eta);
  nd_tensor D, S;
  memset(&D, 0, sizeof D);
  memset(&S, 0, sizeof S);
  char sd[96], ss[96];
  int rc = 0;
  if (nd_tensor_file_read_f32(o->dict, NULL, &D) != ND_OK) rc = nd_cli_fail(2, prog, "--dict: %s", nd_last_error());
  if (!rc && (D.ndim != 2 || nd_tensor_numel(&D) < 1))
    rc = nd_cli_fail(2, prog, "%s: dictionary has shape %s; need 2-D [m, k]", o->dict, nd_tensor_shape_str(&D, sd, sizeof sd));
  if (!rc && (lc.halfwidth < 0 || lc.halfwidth >= D.shape[1]))
    rc = nd_cli_fail(2, prog, "--halfwidth %lld: must be in [0, k) = [0, %lld)", (long long)lc.halfwidth, (long long)D.shape[1]);
  if (!rc && nd_tensor_file_read_f32(o->input, NULL, &S) != ND_OK) rc = nd_cli_fail(2, prog, "--input: %s", nd_last_error());
  if (!rc && ((S.ndim != 1 && S.ndim != 2) || S.shape[S.ndim - 1] != D.shape[0] || nd_tensor_numel(&S) < 1))
    rc = nd_cli_fail(2, prog, "%s: input has shape %s; the dictionary %s is %s, so the input must be [%lld] or [B, %lld]",
                     o->input, nd_tensor_shape_str(&S, ss, sizeof ss), o->dict, nd_tensor_shape_str(&D, sd, sizeof sd),
                     (long long)D.shape[0], (long long)D.shape[0]);
  if (!rc) rc = solve_lcawta(o, &lc, &D, &S);
  nd_tensor_release(&D);
  nd_tensor_release(&S);
  return rc;
}

/* The input's shape for the circuit: [n] or [B, n]; [B, C, H, W] for convwta. */
static int check_input(circuit kind, const run_opts *o, const nd_tensor *X) {
  char sh[96];
  nd_tensor_shape_str(X, sh, sizeof sh);
  if (kind == CONVWTA && X->ndim != 4)
    return nd_cli_fail(2, progs[kind], "%s: input has shape %s; need 4-D [B, C, H, W] (NCHW)", o->input, sh);
  if (kind != CONVWTA && X->ndim != 1 && X->ndim != 2)
    return nd_cli_fail(2, progs[kind], "%s: input has shape %s; need [n] or [B, n]", o->input, sh);
  if (nd_tensor_numel(X) < 1) return nd_cli_fail(2, progs[kind], "%s: input %s is empty", o->input, sh);
  return 0;
}

static int run_circuit(circuit kind, int argc, char **argv) {
  const char *prog = progs[kind];
  run_opts o;
  memset(&o, 0, sizeof o);
  o.c = nd_wta_defaults();
  enum { A = 15, W1 = 1, L1 = 2, C1 = 4, LA = 8 }; /* which commands take a row (bits by circuit) */
  const nd_option table[] = {
      {"input", ND_OPT_STRING, &o.input, NULL,
       kind == CONVWTA ? "inputs [B, C, H, W] (.npy or .safetensors)"
                       : kind == LCAWTA ? "signals [m] or [B, m]" : "inputs [n] or [B, n] (.npy or .safetensors)", NULL},
      {"out", ND_OPT_STRING, &o.out, NULL, kind == LCAWTA ? "the LCA codes a [k] or [B, k] (.npy)"
                                                          : "excitatory steady state, the input's shape (.npy)", NULL},
      {"inhibitory", ND_OPT_STRING, &o.inh_out, NULL, "also write the inhibitory units (.npy)", NULL},
      {"dict", ND_OPT_STRING, &o.dict, NULL, "dictionary [m, k], columns are atoms (any m, k)", NULL},
      {"flow", ND_OPT_STRING, &o.flow, "-0.1,0.1,0.1,-0.1", "2x2 flow matrix F11,F12,F21,F22 (row-major)", NULL},
      {"lambda", ND_OPT_DOUBLE, &o.lambda, "0.1", "LCA threshold >= 0 (a = max(u - lambda, 0))", NULL},
      {"lca-eta", ND_OPT_DOUBLE, &o.lca_eta, "0.1", "LCA Euler step dt/tau_l in (0, 1]", NULL},
      {"circuit", ND_OPT_STRING, &o.circuit_out, NULL, "also write the circuit's excitatory state x (.npy)", NULL},
      {"alpha", ND_OPT_DOUBLE, &o.c.alpha, "1.2", "self-excitation alpha", NULL},
      {"beta1", ND_OPT_DOUBLE, &o.c.beta1, "3", "inhibitory -> excitatory weight beta1 >= 0", NULL},
      {"beta2", ND_OPT_DOUBLE, &o.c.beta2, "0.25", "excitatory -> inhibitory weight beta2 >= 0", NULL},
      {"te", ND_OPT_DOUBLE, &o.c.te, "0", "excitatory threshold Te", NULL},
      {"ti", ND_OPT_DOUBLE, &o.c.ti, "0", "inhibitory threshold Ti", NULL},
      {"g", ND_OPT_DOUBLE, &o.c.g, "1", "leak G > 0", NULL},
      {"tau", ND_OPT_DOUBLE, &o.c.tau, "1", "time constant tau > 0", NULL},
      {"dt", ND_OPT_DOUBLE, &o.c.dt, "0.1", "Euler step, 0 < dt <= tau", NULL},
      {"order", ND_OPT_CHOICE, &o.order, "jacobi", "jacobi (simultaneous) or upstream (inhibitory first)", orders},
      {"tol", ND_OPT_DOUBLE, &o.c.tol, "1e-6", "stop a row when max|tau dx/dt| / max|I| <= tol (> 0)", NULL},
      {"max-iter", ND_OPT_INT64, &o.c.max_iter, "10000", "most steps", NULL},
      {"max-state", ND_OPT_DOUBLE, &o.c.max_state, "1e6", "a larger |state| is a runaway (exit 1)", NULL},
      {"halfwidth", ND_OPT_INT64, &o.halfwidth, "3", "band half-width w, 0 <= w < n", NULL},
      {"kernel", ND_OPT_STRING, &o.kernel, "3", "box K (1 x K) or KHxKW, odd sizes", NULL},
      {"across", ND_OPT_BOOL, &o.across, "false", "pool over all channels too (1x1: a WTA across features)", NULL},
      {"threads", ND_OPT_INT, &o.threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL},
      ND_OPT_RECORD_DIR(&o.rec, "the excitatory and inhibitory states over the steps", "steps", "1"),
      ND_OPT_END,
  };
  const unsigned which[] = {A,  A,  W1 | L1 | C1, LA, LA, LA, LA, LA, A, A, A, A, A, A, A, A, A, A, A, A, L1 | LA, C1, C1, A,
                            W1 | L1 | C1, W1 | L1 | C1, A};
  _Static_assert(sizeof which / sizeof which[0] == sizeof table / sizeof table[0], "one mask per row");
  nd_option tab[sizeof table / sizeof table[0]];
  int k = 0;
  for (int i = 0; i < (int)(sizeof table / sizeof table[0]); i++) /* the rows of this command */
    if (which[i] & (1u << kind)) tab[k++] = table[i];
  const nd_opts spec = {prog, kind == LCAWTA ? "--dict D.npy --input S.npy --out A.npy [options]" : "--input X.npy --out Y.npy [options]",
                        "Integrates, from x = y = 0 to the steady state (f = max(., 0)),\n"
                        "  tau dx/dt + G x = f(I + alpha x - beta1 P'y - Te)\n"
                        "  tau dy/dt + G y = f(beta2 P x - Ti)\n"
                        "with P one inhibitory unit (wta), a band (lcwta) or a box (convwta),\n"
                        "and writes x.  Prints one JSON line: iterations, residual, stopped,\n"
                        "winners (active units per row: x > 1e-3 max|I|), for wta also winner\n"
                        "(the index per row, -1: none).  Exit 2 for bad input (nothing is\n"
                        "written), 1 for a runaway (alpha >= 1 + beta1 beta2).\n"
                        "lcawta: an LCA (tau_l du/dt = D's + F11 a + F12 x - u - (D'D - I) a,\n"
                        "a = max(u - lambda, 0)) and the lcwta circuit with I = F21 a + F22 x.",
                        tab, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  o.c.order = (nd_wta_order)o.order;
  int64_t kh, kw;
  nd_tensor X;
  memset(&X, 0, sizeof X);
  if (!o.input || !o.out) rc = nd_cli_fail(2, prog, "--input and --out are required (see --help)");
  if (!rc && nd_file_format_of_name(o.out) != ND_FILE_NPY) rc = nd_cli_fail(2, prog, "%s: --out must end in .npy", o.out);
  if (!rc && o.inh_out && nd_file_format_of_name(o.inh_out) != ND_FILE_NPY)
    rc = nd_cli_fail(2, prog, "%s: --inhibitory must end in .npy", o.inh_out);
  if (!rc) rc = nd_cli_check_output(prog, o.out);
  if (!rc && o.inh_out) rc = nd_cli_check_output(prog, o.inh_out);
  if (!rc && nd_wta_config_check(&o.c) != ND_OK) rc = nd_cli_fail(2, prog, "%s", nd_last_error());
  if (!rc && nd_cli_record_check(&o.rec) != ND_OK) rc = nd_cli_fail(2, prog, "%s", nd_last_error());
  if (!rc && kind == CONVWTA) rc = parse_kernel(prog, o.kernel, &kh, &kw);
  if (!rc && o.threads != 0 && nd_set_num_threads(o.threads) != ND_OK) rc = nd_cli_fail(2, prog, "--threads: %s", nd_last_error());
  if (!rc && kind == LCAWTA) rc = run_lcawta(&o);
  else if (!rc && nd_tensor_file_read_f32(o.input, NULL, &X) != ND_OK) rc = nd_cli_fail(2, prog, "--input: %s", nd_last_error());
  else if (!rc) rc = check_input(kind, &o, &X);
  if (!rc && kind != LCAWTA) rc = solve(kind, &o, &X);
  nd_tensor_release(&X);
  nd_args_release(&args);
  return rc;
}

int nd_cli_run_wta(int argc, char **argv) { return run_circuit(WTA, argc, argv); }
int nd_cli_run_lcwta(int argc, char **argv) { return run_circuit(LCWTA, argc, argv); }
int nd_cli_run_convwta(int argc, char **argv) { return run_circuit(CONVWTA, argc, argv); }
int nd_cli_run_lcawta(int argc, char **argv) { return run_circuit(LCAWTA, argc, argv); }
