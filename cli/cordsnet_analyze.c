/* neurodyn analyze cordsnet --weights M.safetensors --out DIR: spectra of a
 * CordsNet's recurrent convolutions and the stability of its Euler update
 * (docs/cordsnet-analysis.md).
 *
 * Area j's update (upstream cordsnet.py rnn(); paper Eq. 2 with explicit
 * Euler, alpha = dt/tau):
 *   r_j <- (1 - alpha) r_j + alpha relu(W_j r_j + b_j + area_area_j(u_j))
 * Its linear part r -> (1 - alpha) r + alpha W_j r has the eigenvalues
 * mu = 1 - alpha + alpha lambda for the eigenvalues lambda of the recurrent
 * conv W_j (area_conv.{j}, weight norm folded: W = g v / ||v||), so the
 * linearised update is stable when every |1 - alpha + alpha lambda| < 1.
 *
 * The Jacobian of one full-network step F at the spontaneous fixed point r*
 * (zero input, reached after --steps-spont steps) is block lower
 * triangular, because area j reads only r_j, r_{j-1} and r_{j-2} (upstream
 * table, docs/cordsnet.md): its eigenvalues are those of the diagonal blocks
 *   J_jj = (1 - alpha) I + alpha D_j W_j,   D_j = diag(relu'(z_j*)),
 * at the state r(S) after S = --steps-spont zero-input steps (upstream's
 * "spontaneous steady state"; how far it still moves is reported as
 * ||r(2S) - r(S)|| / ||r(2S)||).  relu'(z) is read from one more step:
 * alpha relu(z(r(S))) = r(S+1) - (1 - alpha) r(S).  Each block is an
 * operator for Arnoldi (x -> (1-alpha) x + alpha D_j W_j x). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "options.h"
#include "neurodyn/analysis.h"
#include "neurodyn/io.h"
#include "neurodyn/kernels.h"
#include "neurodyn/cordsnet.h"

static const char *const prog = "neurodyn analyze cordsnet";

#define ND_TRY_CLI_STATUS(expr)   \
  do {                            \
    nd_status st_ = (expr);       \
    if (st_ != ND_OK) return st_; \
  } while (0)

/* "all" or a comma list of area indices below depth. */
static int parse_areas(const char *s, int depth, bool *sel) {
  for (int j = 0; j < depth; j++) sel[j] = !strcmp(s, "all");
  if (!strcmp(s, "all")) return 0;
  const char *p = s;
  while (*p) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < 0 || v >= depth || (*end && *end != ','))
      return nd_cli_fail(2, prog, "--areas '%s': expected 'all' or area indices 0..%d separated by commas", s,
                         depth - 1);
    sel[v] = true;
    p = *end ? end + 1 : end;
  }
  return 0;
}

static cJSON *pair(double re, double im) {
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, cJSON_CreateNumber(re));
  cJSON_AddItemToArray(a, cJSON_CreateNumber(im));
  return a;
}

/* x -> (1 - alpha) x + alpha D (W x), D the 0/1 mask of active units */
typedef struct jac_ctx {
  nd_linop *conv;
  const float *mask;
  double alpha;
} jac_ctx;

static nd_status jac_apply(void *p, const double *x, double *y) {
  jac_ctx *c = p;
  ND_TRY_CLI_STATUS(c->conv->apply(c->conv->ctx, x, y));
  for (int64_t i = 0; i < c->conv->n; i++) y[i] = (1 - c->alpha) * x[i] + c->alpha * (c->mask[i] > 0 ? y[i] : 0);
  return ND_OK;
}

typedef struct area_result {
  int j;
  int64_t c, h, w, n;
  nd_eigs e, jac;
  double jac_max, active; /* max |mu| of J_jj over converged values; fraction of active units */
  int jac_converged;
  nd_power_result pw;
  double *pvec;
  double max_mu, max_mu_all; /* over converged / all Ritz values */
  int converged;
  int verdict; /* 0 unknown, 1 stable, 2 unstable */
  int jac_verdict;
} area_result;

static const char *verdict_str(int v) { return v == 1 ? "stable" : v == 2 ? "unstable" : "unknown"; }

/* unstable: a converged value has |mu| >= 1 (certain); stable: every Ritz
 * value has |mu| < 1 and the leading one has converged; else unknown (raise
 * --krylov). */
static int verdict(const nd_eigs *e, double conv_max, double all_max, double tol) {
  double rho = fmax(hypot(e->re[0], e->im[0]), 1e-300);
  if (conv_max >= 1) return 2;
  if (all_max < 1 && (e->resid[0] <= tol * rho || e->invariant)) return 1;
  return 0;
}


/* max |mu| over the converged values (residual <= tol * spectral radius) of
 * mu = a + b lambda for the Ritz values lambda of e. */
static double max_abs_affine(const nd_eigs *e, double a, double b, double tol, int *converged, double *all) {
  double rho = fmax(hypot(e->re[0], e->im[0]), 1e-300), mx = 0;
  *converged = 0;
  *all = 0;
  for (int i = 0; i < e->m; i++) {
    double mu = hypot(a + b * e->re[i], b * e->im[i]);
    *all = fmax(*all, mu);
    if (e->resid[i] <= tol * rho) {
      (*converged)++;
      mx = fmax(mx, mu);
    }
  }
  return mx;
}

static void add_spectrum(cJSON *o, const nd_eigs *e) {
  cJSON *ev = cJSON_AddArrayToObject(o, "eigenvalues");
  cJSON *rs = cJSON_AddArrayToObject(o, "residuals");
  for (int i = 0; i < e->m; i++) {
    cJSON_AddItemToArray(ev, pair(e->re[i], e->im[i]));
    cJSON_AddItemToArray(rs, cJSON_CreateNumber(e->resid[i]));
  }
}

static int write_json(const char *path, cJSON *root) {
  char *text = cJSON_Print(root);
  if (!text) return nd_cli_fail(1, prog, "out of memory");
  size_t tl = strlen(text);
  char *line = malloc(tl + 2);
  if (!line) {
    free(text);
    return nd_cli_fail(1, prog, "out of memory");
  }
  memcpy(line, text, tl);
  line[tl] = '\n';
  free(text);
  nd_status s = nd_file_write_atomic(path, line, tl + 1);
  free(line);
  return s == ND_OK ? 0 : nd_cli_fail(1, prog, "%s", nd_last_error());
}

/* Leading eigenvectors, C x H x W float32: area<j>.power, .arnoldi_re, .arnoldi_im. */
static int write_vectors(const char *path, const area_result *res, int nres) {
  int nt = 3 * nres;
  char(*names)[48] = calloc((size_t)nt, sizeof *names);
  const char **np = calloc((size_t)nt, sizeof *np);
  nd_tensor *ts = calloc((size_t)nt, sizeof *ts);
  const nd_tensor **tp = calloc((size_t)nt, sizeof *tp);
  int64_t total = 0;
  for (int r = 0; r < nres; r++) total += 3 * res[r].n;
  float *buf = malloc((size_t)total * sizeof *buf);
  nd_status s = ND_ERR_NOMEM;
  if (names && np && ts && tp && buf) {
    float *at = buf;
    for (int r = 0; r < nres; r++) {
      const area_result *a = &res[r];
      const double *src[3] = {a->pvec, a->e.vec_re, a->e.vec_im};
      const char *what[3] = {"power", "arnoldi_re", "arnoldi_im"};
      for (int q = 0; q < 3; q++) {
        int i = 3 * r + q;
        snprintf(names[i], sizeof names[i], "area%d.%s", a->j, what[q]);
        np[i] = names[i];
        for (int64_t e = 0; e < a->n; e++) at[e] = (float)src[q][e];
        int64_t shape[3] = {a->c, a->h, a->w};
        ts[i] = nd_tensor_wrap(at, 3, shape);
        tp[i] = &ts[i];
        at += a->n;
      }
    }
    s = nd_safetensors_write(path, nt, np, tp, NULL);
  }
  free(names);
  free(np);
  free(ts);
  free(tp);
  free(buf);
  if (s == ND_ERR_NOMEM) return nd_cli_fail(1, prog, "out of memory");
  return s == ND_OK ? 0 : nd_cli_fail(1, prog, "%s", nd_last_error());
}

/* One plot of up to 10 sets: which = 0 the multipliers 1 - alpha + alpha lambda
 * of W_j, 1 the Jacobian's eigenvalues. */
static int plot_sets(const char *path, const area_result *res, int nres, int which, double alpha, const char *title) {
  int np = nres < 10 ? nres : 10;
  nd_plot_points sets[10];
  double *mre[10] = {0}, *mim[10] = {0};
  char labels[10][24];
  int rc = 0;
  for (int r = 0; r < np && !rc; r++) {
    const nd_eigs *e = which ? &res[r].jac : &res[r].e;
    mre[r] = malloc((size_t)e->m * sizeof(double));
    mim[r] = malloc((size_t)e->m * sizeof(double));
    if (!mre[r] || !mim[r]) {
      rc = nd_cli_fail(1, prog, "out of memory");
      break;
    }
    for (int i = 0; i < e->m; i++) {
      mre[r][i] = which ? e->re[i] : 1 - alpha + alpha * e->re[i];
      mim[r][i] = which ? e->im[i] : alpha * e->im[i];
    }
    snprintf(labels[r], sizeof labels[r], "area %d", res[r].j);
    sets[r] = (nd_plot_points){mre[r], mim[r], e->m, labels[r]};
  }
  nd_plot_circle unit = {0, 0, 1};
  if (!rc &&
      nd_png_plot_complex(path, np, sets,
                          &(nd_plot_complex_opts){.title = title, .x_label = "Re", .y_label = "Im", .circles = &unit,
                                                  .n_circles = 1}) != ND_OK)
    rc = nd_cli_fail(1, prog, "%s", nd_last_error());
  for (int r = 0; r < 10; r++) {
    free(mre[r]);
    free(mim[r]);
  }
  return rc;
}

int nd_cli_analyze_cordsnet(int argc, char **argv) {
  const char *weights, *areas_s;
  double alpha, conv_tol, power_tol;
  int krylov, power_iters, steps_spont, depth_opt;
  bool plot, jacobian;
  nd_cli_common common;
  const nd_option table[] = {
      {"weights", ND_OPT_STRING, &weights, NULL,
       "CordsNet weights (.safetensors with upstream's names: neurodyn convert model.pth)", NULL},
      {"depth", ND_OPT_INT, &depth_opt, "0", "expected depth (0: read from the weights)", NULL},
      {"areas", ND_OPT_STRING, &areas_s, "all", "areas to analyse: all, or indices such as 6,7", NULL},
      {"alpha", ND_OPT_DOUBLE, &alpha, "0.2", "dt / tau of the Euler update (upstream 0.2)", NULL},
      {"krylov", ND_OPT_INT, &krylov, "100", "Arnoldi Krylov dimension per operator (at most C*H*W)", NULL},
      {"power-iters", ND_OPT_INT, &power_iters, "2000", "power iteration: at most this many products", NULL},
      {"power-tol", ND_OPT_DOUBLE, &power_tol, "1e-6", "power iteration: stop at ||Wv - lambda v|| <= tol |lambda|",
       NULL},
      {"converged", ND_OPT_DOUBLE, &conv_tol, "1e-6",
       "a Ritz value counts as an eigenvalue when its residual is <= this times the spectral radius", NULL},
      {"jacobian", ND_OPT_BOOL, &jacobian, "true",
       "also the Jacobian spectrum of the network at its spontaneous fixed point", NULL},
      {"steps-spont", ND_OPT_INT, &steps_spont, "100", "zero-input steps that reach the spontaneous state (upstream 100)",
       NULL},
      {"plot", ND_OPT_BOOL, &plot, "true", "write the PNG plots of the spectra", NULL},
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {
      prog, "--weights M.safetensors --out DIR [options]",
      "Eigenvalues of each area's recurrent convolution W_j (area_conv.{j}, weight norm\n"
      "folded) by matrix-free Arnoldi, its leading eigenvector by power iteration and by\n"
      "Arnoldi (with the spectral gap), the stability of the linearised Euler update\n"
      "r <- (1 - alpha) r + alpha W_j r (stable when every |1 - alpha + alpha lambda| < 1),\n"
      "and the Jacobian spectrum of one network step at the spontaneous fixed point.\n"
      "Writes DIR/spectra.json, DIR/eigvecs.safetensors (leading eigenvectors, C x H x W),\n"
      "DIR/spectrum_area<j>.png, DIR/euler_multipliers.png and DIR/jacobian_spectrum.png\n"
      "(complex plane with the unit circle).  Exit 2 for bad input (missing or malformed\n"
      "weights, bad options).",
      table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&common);
  nd_cordsnet *m = NULL;
  area_result *res = NULL;
  int nres = 0;
  float *spont = NULL, *mask = NULL;
  cJSON *root = NULL;
  nd_status s;
  rc = 0;
  if (!weights || !common.out)
    rc = nd_cli_fail(2, prog, "--weights FILE and --out DIR are required (neurodyn analyze cordsnet --help)");
  else if (!(alpha > 0 && alpha <= 1))
    rc = nd_cli_fail(2, prog, "--alpha %g: expected 0 < alpha <= 1", alpha);
  else if (krylov < 1 || power_iters < 1 || !(power_tol > 0) || !(conv_tol > 0) || steps_spont < 1)
    rc = nd_cli_fail(2, prog, "--krylov, --power-iters, --steps-spont must be >= 1 and --power-tol, --converged > 0");
  else if (nd_cordsnet_load(weights, depth_opt, &m) != ND_OK)
    rc = nd_cli_fail(2, prog, "--weights: %s", nd_last_error());
  if (rc) goto done;
  const int depth = nd_cordsnet_config_of(m)->depth;
  bool sel[ND_CORDSNET_MAX_DEPTH] = {false};
  if ((rc = parse_areas(areas_s, depth, sel)) != 0) goto done;
  if ((s = nd_cli_mkdirs(common.out)) != ND_OK) {
    rc = nd_cli_fail(2, prog, "--out %s: %s", common.out, nd_last_error());
    goto done;
  }
  res = calloc((size_t)depth, sizeof *res);
  if (!res) {
    rc = nd_cli_fail(1, prog, "out of memory");
    goto done;
  }
  /* the spontaneous state after steps_spont and 2 steps_spont steps: how far
   * from a fixed point it still is */
  nd_cordsnet_run run = nd_cordsnet_run_defaults();
  run.alpha = (float)alpha;
  run.steps_spont = steps_spont;
  double fp_change = 0, fp_norm = 0;
  int64_t total_n = 0;
  if (jacobian) {
    for (int j = 0; j < depth; j++) {
      int64_t c, h, w;
      nd_cordsnet_area_shape(m, j, &c, &h, &w);
      total_n += c * h * w;
    }
    spont = malloc((size_t)total_n * sizeof *spont);
    if (!spont) {
      rc = nd_cli_fail(1, prog, "out of memory");
      goto done;
    }
    int64_t at = 0;
    for (int j = 0; j < depth && !rc; j++) {
      const float *st;
      int64_t c, h, w;
      nd_cordsnet_area_shape(m, j, &c, &h, &w);
      if ((s = nd_cordsnet_spontaneous(m, &run, j, &st)) != ND_OK) rc = nd_cli_fail(1, prog, "%s", nd_last_error());
      else memcpy(spont + at, st, (size_t)(c * h * w) * sizeof *st);
      at += c * h * w;
    }
    /* the units whose pre-activation is positive at r(S): relu(z(r(S))) =
     * (r(S+1) - (1 - alpha) r(S)) / alpha, from one more step */
    nd_cordsnet_run next = run, twice = run;
    next.steps_spont = steps_spont + 1;
    twice.steps_spont = 2 * steps_spont;
    mask = malloc((size_t)total_n * sizeof *mask);
    if (!mask) rc = nd_cli_fail(1, prog, "out of memory");
    at = 0;
    for (int j = 0; j < depth && !rc; j++) {
      const float *st;
      int64_t c, h, w;
      nd_cordsnet_area_shape(m, j, &c, &h, &w);
      if ((s = nd_cordsnet_spontaneous(m, &next, j, &st)) != ND_OK) rc = nd_cli_fail(1, prog, "%s", nd_last_error());
      for (int64_t i = 0; !rc && i < c * h * w; i++) {
        double q = (double)st[i] - (1 - (double)run.alpha) * spont[at + i];
        mask[at + i] = q > 1e-5 * fabs((double)st[i]) && q > 0 ? 1.0f : 0.0f;
      }
      at += c * h * w;
    }
    at = 0;
    for (int j = 0; j < depth && !rc; j++) {
      const float *st;
      int64_t c, h, w;
      nd_cordsnet_area_shape(m, j, &c, &h, &w);
      if ((s = nd_cordsnet_spontaneous(m, &twice, j, &st)) != ND_OK) rc = nd_cli_fail(1, prog, "%s", nd_last_error());
      for (int64_t i = 0; !rc && i < c * h * w; i++) {
        double d = (double)st[i] - spont[at + i];
        fp_change += d * d;
        fp_norm += (double)st[i] * st[i];
      }
      at += c * h * w;
    }
    if (rc) goto done;
  }
  int64_t offset = 0;
  for (int j = 0; j < depth && !rc; j++) {
    const float *wt;
    int64_t c, kh, kw, h, wd;
    if ((s = nd_cordsnet_area_conv(m, j, &wt, &c, &kh, &kw, &h, &wd)) != ND_OK) {
      rc = nd_cli_fail(2, prog, "%s", nd_last_error());
      break;
    }
    int64_t area_off = offset;
    offset += c * h * wd;
    if (!sel[j]) continue;
    area_result *a = &res[nres++];
    a->j = j;
    a->c = c, a->h = h, a->w = wd, a->n = c * h * wd;
    nd_conv2d_desc d = {.batch = 1, .in_channels = c, .in_h = h, .in_w = wd, .out_channels = c, .kernel_h = kh,
                        .kernel_w = kw, .stride_h = 1, .stride_w = 1, .pad_h = kh / 2, .pad_w = kw / 2};
    nd_linop op;
    if ((s = nd_conv_linop_create(&d, wt, &op)) != ND_OK) {
      rc = nd_cli_fail(nd_cli_status_code(s), prog, "area %d: %s", j, nd_last_error());
      break;
    }
    const uint64_t seed = (uint64_t)common.seed;
    s = nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = krylov, .seed = seed, .want_vector = true}, &a->e);
    a->pvec = malloc((size_t)a->n * sizeof *a->pvec);
    if (s == ND_OK && !a->pvec) s = nd_set_error(ND_ERR_NOMEM, "out of memory");
    if (s == ND_OK)
      s = nd_power_iteration(&op, &(nd_power_opts){.max_iter = power_iters, .tol = power_tol, .seed = seed + 1},
                             a->pvec, &a->pw);
    if (s == ND_OK && jacobian) {
      const float *amask = mask + area_off;
      int64_t on = 0;
      for (int64_t i = 0; i < a->n; i++) on += amask[i] > 0;
      a->active = (double)on / (double)a->n;
      jac_ctx jc = {&op, amask, alpha};
      nd_linop jop = {.n = a->n, .apply = jac_apply, .ctx = &jc};
      s = nd_arnoldi_eigs(&jop, &(nd_arnoldi_opts){.krylov = krylov, .seed = seed + 2}, &a->jac);
    }
    nd_linop_free(&op);
    if (s != ND_OK) {
      rc = nd_cli_fail(1, prog, "area %d: %s", j, nd_last_error());
      break;
    }
    a->max_mu = max_abs_affine(&a->e, 1 - alpha, alpha, conv_tol, &a->converged, &a->max_mu_all);
    a->verdict = verdict(&a->e, a->max_mu, a->max_mu_all, conv_tol);
    if (jacobian) {
      double all;
      a->jac_max = max_abs_affine(&a->jac, 0, 1, conv_tol, &a->jac_converged, &all);
      a->jac_verdict = verdict(&a->jac, a->jac_max, all, conv_tol);
    }
  }
  if (rc) goto done;

  /* ---- report */
  root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "weights", weights);
  cJSON_AddNumberToObject(root, "depth", depth);
  cJSON_AddNumberToObject(root, "alpha", alpha);
  cJSON_AddNumberToObject(root, "krylov", krylov);
  cJSON_AddNumberToObject(root, "seed", (double)common.seed);
  cJSON_AddNumberToObject(root, "converged_tol", conv_tol);
  cJSON *arr = cJSON_AddArrayToObject(root, "areas");
  int worst = 1, jac_worst = 1; /* the report's verdicts: unstable > unknown > stable */
  double jac_rho = 0;
  printf("%-4s %-12s %5s %9s %-22s %7s %-20s %8s %6s", "area", "shape", "ritz", "radius", "leading (Arnoldi)", "gap",
         "power iteration", "max|mu|", "stable");
  printf(jacobian ? " %8s %-8s %6s\n" : "\n", "Jacobian", "", "active");
  for (int r = 0; r < nres; r++) {
    area_result *a = &res[r];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "area", a->j);
    cJSON *sh = cJSON_AddArrayToObject(o, "shape");
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)a->c));
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)a->h));
    cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)a->w));
    cJSON_AddNumberToObject(o, "n", (double)a->n);
    cJSON_AddNumberToObject(o, "ritz_values", a->e.m);
    cJSON_AddBoolToObject(o, "invariant", a->e.invariant);
    cJSON_AddNumberToObject(o, "converged_values", a->converged);
    cJSON_AddNumberToObject(o, "spectral_radius", hypot(a->e.re[0], a->e.im[0]));
    add_spectrum(o, &a->e);
    cJSON *lead = cJSON_AddObjectToObject(o, "leading");
    cJSON_AddItemToObject(lead, "arnoldi", pair(a->e.re[0], a->e.im[0]));
    cJSON_AddNumberToObject(lead, "arnoldi_residual", a->e.resid[0]);
    cJSON_AddNumberToObject(lead, "spectral_gap", a->e.gap);
    cJSON *pw = cJSON_AddObjectToObject(lead, "power");
    cJSON_AddNumberToObject(pw, "lambda", a->pw.lambda);
    cJSON_AddNumberToObject(pw, "residual", a->pw.residual);
    cJSON_AddNumberToObject(pw, "iters", a->pw.iters);
    cJSON_AddBoolToObject(pw, "converged", a->pw.converged);
    cJSON *eu = cJSON_AddObjectToObject(o, "euler");
    cJSON_AddNumberToObject(eu, "max_abs_mu", a->max_mu);
    cJSON_AddNumberToObject(eu, "max_abs_mu_all_ritz", a->max_mu_all);
    cJSON_AddStringToObject(eu, "verdict", verdict_str(a->verdict));
    if (jacobian) {
      cJSON *jo = cJSON_AddObjectToObject(o, "jacobian");
      cJSON_AddNumberToObject(jo, "active_fraction", a->active);
      cJSON_AddNumberToObject(jo, "ritz_values", a->jac.m);
      cJSON_AddNumberToObject(jo, "converged_values", a->jac_converged);
      cJSON_AddNumberToObject(jo, "spectral_radius", a->jac_max);
      cJSON_AddStringToObject(jo, "verdict", verdict_str(a->jac_verdict));
      add_spectrum(jo, &a->jac);
      jac_rho = fmax(jac_rho, a->jac_max);
      jac_worst = a->jac_verdict == 2 || jac_worst == 2 ? 2 : a->jac_verdict == 0 || jac_worst == 0 ? 0 : 1;
    }
    cJSON_AddItemToArray(arr, o);
    worst = a->verdict == 2 || worst == 2 ? 2 : a->verdict == 0 || worst == 0 ? 0 : 1;
    char shape[48], lead_s[48], pow_s[48];
    snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)a->c, (long long)a->h, (long long)a->w);
    snprintf(lead_s, sizeof lead_s, "%.5g%+.5gi", a->e.re[0], a->e.im[0]);
    snprintf(pow_s, sizeof pow_s, "%.5g%s (%d it)", a->pw.lambda, a->pw.converged ? "" : "?", a->pw.iters);
    printf("%-4d %-12s %5d %9.5g %-22s %7.4f %-20s %8.5f %6s", a->j, shape, a->e.m, hypot(a->e.re[0], a->e.im[0]),
           lead_s, a->e.gap, pow_s, a->max_mu, verdict_str(a->verdict));
    if (jacobian) printf(" %8.5f %-8s %6.3f\n", a->jac_max, verdict_str(a->jac_verdict), a->active);
    else printf("\n");
  }
  cJSON_AddStringToObject(root, "verdict", verdict_str(worst));
  printf("linearised Euler update (alpha %g): %s (every |1 - alpha + alpha lambda| < 1: %s)\n", alpha,
         verdict_str(worst), worst == 1 ? "yes" : worst == 2 ? "no" : "not settled by the converged Ritz values; raise --krylov");
  if (jacobian) {
    cJSON *jo = cJSON_AddObjectToObject(root, "jacobian");
    cJSON_AddNumberToObject(jo, "steps_spont", steps_spont);
    cJSON_AddNumberToObject(jo, "fixed_point_change", fp_norm > 0 ? sqrt(fp_change / fp_norm) : sqrt(fp_change));
    cJSON_AddNumberToObject(jo, "spectral_radius", jac_rho);
    cJSON_AddStringToObject(jo, "verdict", verdict_str(jac_worst));
    printf("Jacobian at the spontaneous state (%d steps; ||r(%d) - r(%d)|| / ||r(%d)|| = %.3g): spectral radius %.5f, "
           "%s\n",
           steps_spont, 2 * steps_spont, steps_spont, 2 * steps_spont,
           fp_norm > 0 ? sqrt(fp_change / fp_norm) : sqrt(fp_change), jac_rho, verdict_str(jac_worst));
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/spectra.json", common.out);
  if ((rc = write_json(path, root)) != 0) goto done;
  snprintf(path, sizeof path, "%s/eigvecs.safetensors", common.out);
  if ((rc = write_vectors(path, res, nres)) != 0) goto done;
  if (plot) {
    nd_plot_circle unit = {0, 0, 1};
    for (int r = 0; r < nres && !rc; r++) {
      const area_result *a = &res[r];
      char title[96];
      snprintf(title, sizeof title, "area %d recurrent conv W: %d Ritz values", a->j, a->e.m);
      nd_plot_points pts = {a->e.re, a->e.im, a->e.m, "eigenvalues of W"};
      snprintf(path, sizeof path, "%s/spectrum_area%d.png", common.out, a->j);
      if (nd_png_plot_complex(path, 1, &pts,
                              &(nd_plot_complex_opts){.title = title, .x_label = "Re", .y_label = "Im",
                                                      .circles = &unit, .n_circles = 1}) != ND_OK)
        rc = nd_cli_fail(1, prog, "%s", nd_last_error());
    }
    char title[96];
    snprintf(title, sizeof title, "Euler multipliers 1 - a + a lambda(W), a = %g", alpha);
    snprintf(path, sizeof path, "%s/euler_multipliers.png", common.out);
    if (!rc && nres) rc = plot_sets(path, res, nres, 0, alpha, title);
    snprintf(title, sizeof title, "Jacobian at the spontaneous state, a = %g", alpha);
    snprintf(path, sizeof path, "%s/jacobian_spectrum.png", common.out);
    if (!rc && nres && jacobian) rc = plot_sets(path, res, nres, 1, alpha, title);
  }
done:
  if (res)
    for (int r = 0; r < nres; r++) {
      nd_eigs_release(&res[r].e);
      nd_eigs_release(&res[r].jac);
      free(res[r].pvec);
    }
  free(res);
  free(spont);
  free(mask);
  cJSON_Delete(root);
  nd_cordsnet_free(m);
  nd_args_release(&args);
  return rc;
}
