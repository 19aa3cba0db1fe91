/* neurodyn demo superres: spectral superresolution (seed 000's motivating
 * example; docs/circuits.md "Spectral superresolution").  A constant-Q
 * gammatone filterbank (circuits.h) smears each tone over several channels;
 * four read-outs of its frame power are compared:
 *
 *   filterbank   peaks of the power itself
 *   lca          peaks of the non-negative LCA code under the dictionary whose
 *                column j is the bank's response to a tone at f_j (lca.h,
 *                Euler at eta = 1/L: the textbook dynamics)
 *   lca+lcwta    that code sharpened by a LocallyConnectedWta (circuits.h)
 *   lcawta       LCA and LocallyConnectedWta coupled by the flow matrix
 *                (nd_lcawta_solve), read from the WTA's excitatory units
 *
 * on (a) synthetic tones at known frequencies: single tones (frequency error
 * in cents) and equal-amplitude pairs on a ladder of spacings down to below
 * the filters' bandwidth (resolved: the two strongest peaks each within a
 * quarter of the spacing of a distinct tone; the minimum separable spacing
 * is the smallest rung from which every wider rung resolves >= 75% of its
 * pairs), with the LCA threshold (and the flow matrix) of each method chosen
 * on validation draws and the test draws scored once; and (b) speech from
 * espeak-ng (skipped with a message if it is absent or the build reads no
 * audio).  Writes results.json and spectrogram PNGs (raw vs sharpened) into
 * --out and prints where they are. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "neurodyn/neurodyn.h"
#include "options.h"
#include "run.h"


#include "progress.h"

int nd_demo_superres(int argc, char **argv);

#define PROG "neurodyn demo superres"
enum { M_FB, M_LCA, M_LCWTA, M_LCAWTA, N_METHODS };
static const char *const method_names[N_METHODS] = {"filterbank", "lca", "lca+lcwta", "lcawta"};
static const double lambdas[] = {0.003, 0.01, 0.03, 0.1};
enum { N_LAMBDA = 4 };
static const double ladder[] = {600, 400, 300, 250, 200, 160, 130, 100, 80, 60}; /* cents */
enum { N_RUNG = 10, MAXPK = 8 };
#define REL_PEAK 0.1 /* peaks at or above 10% of the spectrum's largest value */

typedef struct sr {
  nd_filterbank_config fb;
  int64_t K;
  double fc[256], norms[256];
  float *phi;     /* [K, K] */
  double L;       /* ||phi||^2 */
  nd_wta_config wta;
  int64_t halfwidth;
  int64_t max_iter;
  double tol;
  double flows[2][2][2];
} sr;

/* Non-negative LCA codes (lca.h) of the signals s [B, K] under the bank's
 * dictionary: the update `kind` (EULER: the textbook dynamics at eta = 1/L;
 * the LCA's default accelerated update otherwise). */
static nd_status lca_codes(const sr *S, double lambda, bool euler, const float *s, int64_t B, float *out, int64_t *iters) {
  nd_lca_config lc = nd_lca_defaults();
  lc.threshold = ND_LCA_NONNEG;
  lc.lambda = (float)lambda;
  if (euler) lc.update = nd_accel_defaults(ND_ACCEL_EULER);
  lc.auto_eta = true;
  lc.tol = S->tol;
  lc.max_iter = S->max_iter;
  nd_lca *l = NULL;
  nd_status st = nd_lca_create(&lc, S->phi, S->K, S->K, B, &l);
  nd_lca_result r = {0};
  if (st == ND_OK) st = nd_lca_solve(l, s, B, out, &r);
  nd_lca_free(l);
  *iters = r.iterations;
  return st;
}

/* The LocallyConnectedWta's steady state for the codes in [B, K] as input. */
static nd_status lcwta_codes(const sr *S, const float *in, int64_t B, float *out, int64_t *iters) {
  nd_wta_config w = S->wta;
  w.tol = S->tol;
  w.max_iter = S->max_iter;
  nd_wta_result wr = {0};
  nd_status st = nd_lcwta_solve(&w, S->halfwidth, in, B, S->K, out, NULL, &wr);
  *iters = wr.iterations;
  return st;
}

/* LcaWta (nd_lcawta_solve) read from the WTA's excitatory units. */
static nd_status lcawta_codes(const sr *S, double lambda, int flow, const float *s, int64_t B, float *out, float *tmp,
                              int64_t *iters) {
  nd_lcawta_config c = nd_lcawta_defaults();
  c.wta = S->wta;
  c.wta.tol = S->tol;
  c.wta.max_iter = S->max_iter;
  c.halfwidth = S->halfwidth;
  c.lambda = lambda;
  c.lca_eta = 1.0 / S->L;
  memcpy(c.flow, S->flows[flow], sizeof c.flow);
  nd_wta_result r = {0};
  nd_status st = nd_lcawta_solve(&c, S->phi, S->K, S->K, s, B, tmp, out, &r);
  *iters = r.iterations;
  return st;
}

/* The spectrum of method m for the signals s [B, K] into out [B, K] (tmp:
 * another [B, K]); *iters the steps until the whole batch converged. */
static nd_status read_out(const sr *S, int m, double lambda, int flow, const float *s, int64_t B, float *out, float *tmp,
                          int64_t *iters) {
  *iters = 0;
  if (m == M_FB) {
    memcpy(out, s, (size_t)(B * S->K) * sizeof(float));
    return ND_OK;
  }
  if (m == M_LCAWTA) return lcawta_codes(S, lambda, flow, s, B, out, tmp, iters);
  if (m == M_LCA) return lca_codes(S, lambda, false, s, B, out, iters);
  int64_t i2 = 0;
  ND_CLI_TRY(lca_codes(S, lambda, false, s, B, tmp, iters));
  nd_status st = lcwta_codes(S, tmp, B, out, &i2);
  *iters += i2;
  return st;
}

/* ------------------------------------------------------------ signals */

typedef struct trial {
  int tones;
  double f[2];
} trial;

/* Mean frame power (after the first 5 frames: the filters settle) of the
 * tones of t, scaled to a largest channel of 1, into s [K]. */
static nd_status spectrum(const sr *S, const trial *t, nd_rng *rng, float *x, int64_t n, float *pw, float *s) {
  memset(x, 0, (size_t)n * sizeof(float));
  for (int q = 0; q < t->tones; q++) {
    const double ph = 2 * M_PI * nd_rng_uniform1(rng);
    for (int64_t i = 0; i < n; i++) x[i] += (float)cos(2 * M_PI * t->f[q] * (double)i / S->fb.rate + ph);
  }
  int64_t T = 0;
  nd_status st = nd_filterbank_apply(&S->fb, x, n, pw, &T);
  if (st != ND_OK) return st;
  float mx = 0;
  for (int64_t k = 0; k < S->K; k++) {
    double a = 0;
    for (int64_t f = 5; f < T; f++) a += pw[f * S->K + k];
    s[k] = (float)(a / (double)(T - 5));
    mx = fmaxf(mx, s[k]);
  }
  for (int64_t k = 0; k < S->K; k++) s[k] /= mx;
  return ND_OK;
}

static double cents(double a, double b) { return 1200.0 * fabs(log2(a / b)); }

typedef struct tally {
  double err_sum;   /* single tones: |error| in cents of the strongest peak */
  int err_n, spurious;
  int resolved[N_RUNG], pairs[N_RUNG];
  double pair_err_sum;
  int pair_err_n;
  int64_t iterations; /* summed over the batches */
  int batches;
} tally;

static void score_single(const sr *S, const float *a, const trial *t, tally *ty) {
  double f[MAXPK], h[MAXPK];
  int n = 0;
  nd_spectrum_peaks(a, S->fc, S->K, REL_PEAK, MAXPK, f, h, &n);
  if (n == 0) {
    ty->err_sum += 1200, ty->err_n++; /* nothing found: an octave, as a penalty */
    return;
  }
  ty->err_sum += cents(f[0], t->f[0]);
  ty->err_n++;
  ty->spurious += n - 1;
}

static void score_pair(const sr *S, const float *a, const trial *t, double spacing, int rung, tally *ty) {
  double f[MAXPK], h[MAXPK];
  int n = 0;
  nd_spectrum_peaks(a, S->fc, S->K, REL_PEAK, MAXPK, f, h, &n);
  ty->pairs[rung]++;
  if (n < 2) return;
  const double lo = fmin(f[0], f[1]), hi = fmax(f[0], f[1]);
  const double e1 = cents(lo, t->f[0]), e2 = cents(hi, t->f[1]);
  if (e1 <= spacing / 4 && e2 <= spacing / 4) {
    ty->resolved[rung]++;
    ty->pair_err_sum += e1 + e2;
    ty->pair_err_n += 2;
  }
}

/* Smallest rung from which every wider rung resolves >= 75% (NAN: none). */
static double min_spacing(const tally *t) {
  double best = NAN;
  for (int r = 0; r < N_RUNG; r++) {
    if (t->pairs[r] == 0 || t->resolved[r] < 0.75 * t->pairs[r]) break;
    best = ladder[r];
  }
  return best;
}

typedef struct draws {
  int n_single, n_pair;
  trial *single, *pair; /* pair: n_pair per rung */
  float *s1, *s2;       /* spectra [n_single, K], [N_RUNG * n_pair, K] */
} draws;

static nd_status make_draws(const sr *S, uint64_t seed, uint64_t stream, int n_single, int n_pair, draws *d) {
  memset(d, 0, sizeof *d);
  d->n_single = n_single, d->n_pair = n_pair;
  const int64_t n = (int64_t)(0.25 * S->fb.rate), K = S->K, T = n / S->fb.hop;
  d->single = calloc((size_t)n_single, sizeof(trial));
  d->pair = calloc((size_t)(N_RUNG * n_pair), sizeof(trial));
  d->s1 = malloc((size_t)(n_single * K) * sizeof(float));
  d->s2 = malloc((size_t)(N_RUNG * n_pair * K) * sizeof(float));
  float *x = malloc((size_t)n * sizeof(float)), *pw = malloc((size_t)(T * K) * sizeof(float));
  nd_status st = d->single && d->pair && d->s1 && d->s2 && x && pw ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory");
  nd_rng root, rng;
  if (st == ND_OK) st = nd_rng_init(&root, seed);
  rng = nd_rng_split(&root, stream);
  for (int i = 0; i < n_single && st == ND_OK; i++) { /* log-uniform in [200, 3000] Hz */
    d->single[i] = (trial){1, {200 * pow(15, nd_rng_uniform1(&rng)), 0}};
    st = spectrum(S, &d->single[i], &rng, x, n, pw, d->s1 + i * K);
  }
  for (int r = 0; r < N_RUNG && st == ND_OK; r++)
    for (int i = 0; i < n_pair && st == ND_OK; i++) { /* lower tone log-uniform in [300, 2000] Hz */
      trial *t = &d->pair[r * n_pair + i];
      t->tones = 2;
      t->f[0] = 300 * pow(2000.0 / 300.0, nd_rng_uniform1(&rng));
      t->f[1] = t->f[0] * pow(2, ladder[r] / 1200);
      st = spectrum(S, t, &rng, x, n, pw, d->s2 + (r * n_pair + i) * K);
    }
  free(x), free(pw);
  return st;
}

static void free_draws(draws *d) { free(d->single), free(d->pair), free(d->s1), free(d->s2); }

/* Buffers of one evaluation: outputs, the LCA codes (cached by lambda and
 * draws, shared by lca and lca+lcwta) and scratch. */
typedef struct work {
  float *o1, *o2, *a1, *a2, *t1, *t2;
  const draws *cached;
  double cached_lambda;
  int64_t lca_it;
} work;

static nd_status lca_cached(const sr *S, double lambda, const draws *d, work *w) {
  if (w->cached == d && w->cached_lambda == lambda) return ND_OK;
  int64_t i1 = 0, i2 = 0;
  w->cached = NULL;
  ND_CLI_TRY(lca_codes(S, lambda, false, d->s1, d->n_single, w->a1, &i1));
  ND_CLI_TRY(lca_codes(S, lambda, false, d->s2, (int64_t)N_RUNG * d->n_pair, w->a2, &i2));
  w->cached = d, w->cached_lambda = lambda, w->lca_it = i1 + i2;
  return ND_OK;
}

/* Method m on the draws d: the tally of its peaks; iterations summed over
 * the two batches (single tones, pairs), each until its slowest row converged. */
static nd_status evaluate(const sr *S, int m, double lambda, int flow, const draws *d, work *w, tally *ty) {
  memset(ty, 0, sizeof *ty);
  const int64_t K = S->K, n1 = d->n_single, n2 = (int64_t)N_RUNG * d->n_pair;
  int64_t i1 = 0, i2 = 0;
  if (m == M_FB) {
    memcpy(w->o1, d->s1, (size_t)(n1 * K) * sizeof(float));
    memcpy(w->o2, d->s2, (size_t)(n2 * K) * sizeof(float));
  } else if (m == M_LCAWTA) {
    ND_CLI_TRY(lcawta_codes(S, lambda, flow, d->s1, n1, w->o1, w->t1, &i1));
    ND_CLI_TRY(lcawta_codes(S, lambda, flow, d->s2, n2, w->o2, w->t2, &i2));
  } else {
    ND_CLI_TRY(lca_cached(S, lambda, d, w));
    if (m == M_LCA) {
      memcpy(w->o1, w->a1, (size_t)(n1 * K) * sizeof(float));
      memcpy(w->o2, w->a2, (size_t)(n2 * K) * sizeof(float));
    } else {
      ND_CLI_TRY(lcwta_codes(S, w->a1, n1, w->o1, &i1));
      ND_CLI_TRY(lcwta_codes(S, w->a2, n2, w->o2, &i2));
    }
    i1 += w->lca_it;
  }
  ty->iterations = i1 + i2;
  ty->batches = 2;
  for (int i = 0; i < d->n_single; i++) score_single(S, w->o1 + i * K, &d->single[i], ty);
  for (int r = 0; r < N_RUNG; r++)
    for (int i = 0; i < d->n_pair; i++)
      score_pair(S, w->o2 + (r * d->n_pair + i) * K, &d->pair[r * d->n_pair + i], ladder[r], r, ty);
  return ND_OK;
}

static int total_resolved(const tally *t) {
  int s = 0;
  for (int r = 0; r < N_RUNG; r++) s += t->resolved[r];
  return s;
}

/* ------------------------------------------------------------ pictures */

/* Frames [T, K] of method m into a heat map [K, T] (rows = channels,
 * bottom = lowest), as dB below the largest value clipped at -40 for the
 * filterbank, and as the square root of the code (so weak lines show) for
 * the others. */
static void to_map(const float *frames, int64_t T, int64_t K, bool db, float *map) {
  float mx = 0;
  for (int64_t i = 0; i < T * K; i++) mx = fmaxf(mx, frames[i]);
  if (!(mx > 0)) mx = 1;
  for (int64_t t = 0; t < T; t++)
    for (int64_t k = 0; k < K; k++) {
      const float v = frames[t * K + k] / mx;
      map[k * T + t] = db ? fmaxf(-40.0f, 10.0f * log10f(fmaxf(v, 1e-12f))) : sqrtf(fmaxf(v, 0.0f));
    }
}

static nd_status spectrogram_png(const sr *S, const char *path, const char *title, const float *power, int64_t T,
                                 const double *lam, const int *flow) {
  const int64_t K = S->K;
  float *s = malloc((size_t)(T * K) * sizeof(float)), *maps = malloc((size_t)(N_METHODS * T * K) * sizeof(float));
  float *out = malloc((size_t)(T * K) * sizeof(float)), *tmp = malloc((size_t)(T * K) * sizeof(float));
  nd_status st = s && maps && out && tmp ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory");
  float mx = 0;
  for (int64_t i = 0; st == ND_OK && i < T * K; i++) mx = fmaxf(mx, power[i]);
  for (int64_t i = 0; st == ND_OK && i < T * K; i++) s[i] = power[i] / (mx > 0 ? mx : 1);
  nd_plot_heatmap hm[N_METHODS];
  char labels[N_METHODS][96];
  for (int m = 0; m < N_METHODS && st == ND_OK; m++) {
    int64_t it = 0;
    st = read_out(S, m, lam[m], flow[m], s, T, out, tmp, &it);
    if (st != ND_OK) break;
    to_map(out, T, K, m == M_FB, maps + m * T * K);
    if (m == M_FB) snprintf(labels[m], sizeof labels[m], "Hz  filterbank power (dB)");
    else snprintf(labels[m], sizeof labels[m], "Hz  %s (lambda %g), sqrt", method_names[m], lam[m]);
    const double dt = (double)S->fb.hop / S->fb.rate;
    hm[m] = (nd_plot_heatmap){.z = maps + m * T * K, .rows = (int)K, .cols = (int)T, .x0 = 0.5 * dt, .x1 = (T - 0.5) * dt,
                              .y0 = S->fc[0], .y1 = S->fc[K - 1], .log_y = true, .cmap = ND_CMAP_GRAY, .invert = true,
                              .y_label = labels[m]};
  }
  if (st == ND_OK)
    st = nd_png_plot_heatmaps(path, N_METHODS, hm, &(nd_plot_opts){.width = 900, .height = 860, .title = title,
                                                                     .x_label = "time (s)"});
  free(s), free(maps), free(out), free(tmp);
  return st;
}

/* The synthetic scene: 0-0.6 s tones at 440 and 554 Hz (400 cents) and 1500
 * Hz; 0.6-1.2 s 440 and 494 Hz (200 cents) and a glide 1000 -> 2000 Hz. */
static nd_status scene(const sr *S, float **power, int64_t *T) {
  const double rate = S->fb.rate;
  const int64_t n = (int64_t)(1.2 * rate), half = n / 2;
  float *x = calloc((size_t)n, sizeof(float));
  *power = malloc((size_t)(n / S->fb.hop * S->K) * sizeof(float));
  if (!x || !*power) return nd_set_error(ND_ERR_NOMEM, "out of memory");
  double ph = 0;
  for (int64_t i = 0; i < n; i++) {
    const double t = (double)i / rate;
    double v = cos(2 * M_PI * 440 * t);
    if (i < half) v += cos(2 * M_PI * 554.37 * t + 1) + 0.7 * cos(2 * M_PI * 1500 * t + 2);
    else {
      const double f = 1000 * pow(2, (t - 0.6) / 0.6);
      ph += 2 * M_PI * f / rate;
      v += cos(2 * M_PI * 493.88 * t + 1) + 0.7 * cos(ph);
    }
    x[i] = (float)v;
  }
  nd_status st = nd_filterbank_apply(&S->fb, x, n, *power, T);
  free(x);
  return st;
}

/* espeak-ng into path: 0 done, 1 absent, -1 failed. */
static int speak(const char *text, const char *path) {
  if (system("command -v espeak-ng >/dev/null 2>&1") != 0) return 1;
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "espeak-ng -w '%s' '%s' >/dev/null 2>&1", path, text);
  return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ the demo */

static cJSON *tally_json(const tally *t, double lambda, int flow, bool test) {
  cJSON *o = cJSON_CreateObject();
  if (lambda > 0) cJSON_AddNumberToObject(o, "lambda", lambda);
  if (flow >= 0) cJSON_AddNumberToObject(o, "flow_choice", flow);
  cJSON_AddNumberToObject(o, "single_tone_error_cents", t->err_sum / fmax(1, t->err_n));
  cJSON_AddNumberToObject(o, "spurious_peaks_per_tone", (double)t->spurious / fmax(1, t->err_n));
  double ms = min_spacing(t);
  if (isnan(ms)) cJSON_AddNullToObject(o, "min_separable_cents");
  else cJSON_AddNumberToObject(o, "min_separable_cents", ms);
  cJSON_AddNumberToObject(o, "pair_error_cents", t->pair_err_n ? t->pair_err_sum / t->pair_err_n : NAN);
  cJSON *rr = cJSON_CreateArray();
  for (int r = 0; r < N_RUNG; r++) cJSON_AddItemToArray(rr, cJSON_CreateNumber((double)t->resolved[r] / fmax(1, t->pairs[r])));
  cJSON_AddItemToObject(o, "resolved_fraction", rr);
  cJSON_AddNumberToObject(o, "iterations_per_batch", (double)t->iterations / fmax(1, t->batches));
  (void)test;
  return o;
}

int nd_demo_superres(int argc, char **argv) {
  int64_t n_val, n_test;
  const char *text, *wav;
  nd_cli_common common;
  const nd_option table[] = {
      {"trials", ND_OPT_INT64, &n_test, "12", "test draws: single tones, and pairs per spacing", NULL},
      {"val-trials", ND_OPT_INT64, &n_val, "8", "validation draws (choose lambda and the flow)", NULL},
      {"text", ND_OPT_STRING, &text, "Spectral superresolution with competitive circuits.", "speech for espeak-ng", NULL},
      {"wav", ND_OPT_STRING, &wav, NULL, "use this audio file instead of espeak-ng's", NULL},
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {PROG, "[options]",
                        "Spectral superresolution: a constant-Q gammatone filterbank read by peak picking, by "
                        "an LCA whose dictionary is the filters' responses, by that LCA sharpened by a "
                        "LocallyConnectedWta, and by LcaWta; synthetic tones (frequency error, minimum separable "
                        "spacing, iterations) and espeak-ng speech. Writes results.json and spectrogram PNGs into "
                        "--out (default runs/superres).",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&common);
  rc = 0;
  const char *out = common.out ? common.out : "runs/superres";
  if (n_test < 1 || n_val < 1 || n_test > 1000 || n_val > 1000) {
    nd_args_release(&args);
    return nd_cli_fail(2, PROG, "--trials %lld, --val-trials %lld: need 1..1000", (long long)n_test, (long long)n_val);
  }
  if (text && strchr(text, '\'')) {
    nd_args_release(&args);
    return nd_cli_fail(2, PROG, "--text: no single quotes, please");
  }
  const double t0 = nd_cli_now();
  sr S;
  memset(&S, 0, sizeof S);
  S.fb = nd_filterbank_defaults();
  S.K = S.fb.channels;
  S.halfwidth = 1;
  S.wta = nd_wta_defaults();
  S.tol = 1e-3;
  S.max_iter = 20000;
  const double fl[2][2][2] = {{{-0.1, 0.1}, {0.1, -0.1}}, {{-0.1, 0.5}, {0.5, 0.0}}}; /* upstream's default and its example */
  memcpy(S.flows, fl, sizeof fl);
  S.phi = malloc((size_t)(S.K * S.K) * sizeof(float));
  const size_t wn = (size_t)(N_RUNG * (n_val > n_test ? n_val : n_test)) * (size_t)S.K;
  work w = {0};
  float *buf = malloc(6 * wn * sizeof(float));
  if (buf) w.o1 = buf, w.o2 = buf + wn, w.a1 = buf + 2 * wn, w.a2 = buf + 3 * wn, w.t1 = buf + 4 * wn, w.t2 = buf + 5 * wn;
  draws val = {0}, tst = {0};
  nd_status st = S.phi && buf ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory");
  if (st == ND_OK) st = nd_filterbank_centres(&S.fb, S.fc);
  if (st == ND_OK) st = nd_filterbank_dictionary(&S.fb, S.phi, S.norms);
  if (st == ND_OK) {
    nd_lca_config lc = nd_lca_defaults();
    nd_lca *l = NULL;
    st = nd_lca_create(&lc, S.phi, S.K, S.K, 1, &l);
    S.L = nd_lca_lipschitz(l);
    nd_lca_free(l);
  }
  if (st == ND_OK) st = nd_cli_mkdirs(out);
  if (st == ND_OK) st = make_draws(&S, (uint64_t)common.seed, 1, (int)n_val, (int)n_val, &val);
  if (st == ND_OK) st = make_draws(&S, (uint64_t)common.seed, 2, (int)n_test, (int)n_test, &tst);
  const double bw = 1200 * log2(1 + 0.87 / S.fb.q), spacing = 1200 * log2(S.fc[1] / S.fc[0]);
  if (st == ND_OK && !common.quiet)
    printf("demo superres: %lld-channel constant-Q gammatone bank %g-%g Hz (q %g: 3-dB bandwidth about %.0f cents, "
           "channels %.0f cents apart), ||Phi||^2 = %.2f\n",
           (long long)S.K, S.fb.f_lo, S.fb.f_hi, S.fb.q, bw, spacing, S.L);
  /* validation: lambda (and for lcawta the flow) per method */
  double lam[N_METHODS] = {0};
  int flow[N_METHODS] = {-1, -1, -1, 0};
  tally best[N_METHODS], t;
  for (int m = 0; m < N_METHODS && st == ND_OK; m++) {
    const int nl = m == M_FB ? 1 : N_LAMBDA, nf = m == M_LCAWTA ? 2 : 1;
    bool have = false;
    for (int li = 0; li < nl && st == ND_OK; li++)
      for (int f = 0; f < nf && st == ND_OK; f++) {
        st = evaluate(&S, m, m == M_FB ? 0 : lambdas[li], f, &val, &w, &t);
        if (st != ND_OK) break;
        const int tr = total_resolved(&t), br = have ? total_resolved(&best[m]) : -1;
        if (!have || tr > br || (tr == br && t.err_sum < best[m].err_sum)) {
          best[m] = t, have = true;
          lam[m] = m == M_FB ? 0 : lambdas[li];
          if (m == M_LCAWTA) flow[m] = f;
        }
      }
  }
  /* test, once, at the chosen settings */
  tally res[N_METHODS];
  for (int m = 0; m < N_METHODS && st == ND_OK; m++) st = evaluate(&S, m, lam[m], flow[m], &tst, &w, &res[m]);
  /* the textbook LCA's iterations (Euler at eta = 1/L) at lca's lambda, for the convergence comparison */
  int64_t e1 = 0, e2 = 0;
  if (st == ND_OK) st = lca_codes(&S, lam[M_LCA], true, tst.s1, tst.n_single, w.t1, &e1);
  if (st == ND_OK) st = lca_codes(&S, lam[M_LCA], true, tst.s2, (int64_t)N_RUNG * tst.n_pair, w.t2, &e2);
  cJSON *root = cJSON_CreateObject();
  char path[4200];
  if (st == ND_OK) {
    cJSON_AddNumberToObject(root, "channels", (double)S.K);
    cJSON_AddNumberToObject(root, "channel_spacing_cents", spacing);
    cJSON_AddNumberToObject(root, "bandwidth_3db_cents", bw);
    cJSON *lad = cJSON_CreateArray();
    for (int r = 0; r < N_RUNG; r++) cJSON_AddItemToArray(lad, cJSON_CreateNumber(ladder[r]));
    cJSON_AddItemToObject(root, "spacings_cents", lad);
    cJSON_AddNumberToObject(root, "test_trials", (double)n_test);
    cJSON *ms = cJSON_CreateObject();
    for (int m = 0; m < N_METHODS; m++) cJSON_AddItemToObject(ms, method_names[m], tally_json(&res[m], lam[m], flow[m], true));
    cJSON_AddItemToObject(root, "test", ms);
    cJSON_AddNumberToObject(root, "lca_euler_iterations_per_batch", (double)(e1 + e2) / 2);
    if (!common.quiet) {
      printf("\n%-11s %8s %12s %10s %14s %12s %11s\n", "method", "lambda", "tone err(c)", "spurious", "min sep (c)",
             "pair err(c)", "iterations");
      for (int m = 0; m < N_METHODS; m++) {
        const double mn = min_spacing(&res[m]);
        char lb[32] = "-", msb[32] = "none";
        if (m != M_FB) snprintf(lb, sizeof lb, "%g", lam[m]);
        if (!isnan(mn)) snprintf(msb, sizeof msb, "%.0f", mn);
        printf("%-11s %8s %12.1f %10.2f %14s %12.1f %11.0f\n", method_names[m], lb, res[m].err_sum / fmax(1, res[m].err_n),
               (double)res[m].spurious / fmax(1, res[m].err_n), msb,
               res[m].pair_err_n ? res[m].pair_err_sum / res[m].pair_err_n : NAN,
               (double)res[m].iterations / fmax(1, res[m].batches));
      }
      printf("%-11s %8s %12s %10s %14s %12s %11.0f\n", "lca (euler)", "", "", "", "", "", (double)(e1 + e2) / 2);
      printf("(test: %lld single tones and %lld pairs per spacing; lambda%s chosen on %lld validation draws)\n",
             (long long)n_test, (long long)n_test, " and lcawta's flow", (long long)n_val);
    }
  }
  /* pictures: the synthetic scene, then speech */
  float *power = NULL;
  int64_t T = 0;
  if (st == ND_OK) st = scene(&S, &power, &T);
  snprintf(path, sizeof path, "%s/superres_synthetic.png", out);
  if (st == ND_OK) st = spectrogram_png(&S, path, "440+554+1500 Hz, then 440+494 Hz and a glide", power, T, lam, flow);
  free(power);
  power = NULL;
  const char *speech_png = NULL;
  char speech_path[4200], wav_path[4200];
  if (st == ND_OK) {
    snprintf(wav_path, sizeof wav_path, "%s/speech.wav", out);
    int sp = wav ? 0 : (nd_audio_available() ? speak(text, wav_path) : 1);
    if (!nd_audio_available()) {
      printf("speech: skipped (this build reads no audio: libsndfile was not found at build time)\n");
      cJSON_AddStringToObject(root, "speech", "skipped: no libsndfile");
    } else if (sp == 1) {
      printf("speech: skipped (espeak-ng is not installed)\n");
      cJSON_AddStringToObject(root, "speech", "skipped: no espeak-ng");
    } else if (sp < 0) {
      printf("speech: skipped (espeak-ng failed)\n");
      cJSON_AddStringToObject(root, "speech", "skipped: espeak-ng failed");
    } else {
      float *x = NULL;
      int64_t n = 0;
      double rate = 0;
      st = nd_audio_read(wav ? wav : wav_path, &x, &n, &rate);
      if (st == ND_OK) {
        sr S2 = S; /* the bank at the file's rate */
        S2.fb.rate = rate;
        S2.fb.hop = (int64_t)lround(0.01 * rate);
        S2.phi = malloc((size_t)(S.K * S.K) * sizeof(float));
        power = malloc((size_t)((n / S2.fb.hop + 1) * S.K) * sizeof(float));
        st = S2.phi && power ? ND_OK : nd_set_error(ND_ERR_NOMEM, "out of memory");
        if (st == ND_OK) st = nd_filterbank_dictionary(&S2.fb, S2.phi, S2.norms);
        if (st == ND_OK) st = nd_filterbank_apply(&S2.fb, x, n, power, &T);
        snprintf(speech_path, sizeof speech_path, "%s/superres_speech.png", out);
        if (st == ND_OK) {
          const double t1 = nd_cli_now();
          st = spectrogram_png(&S2, speech_path, "espeak-ng speech", power, T, lam, flow);
          if (st == ND_OK) {
            speech_png = speech_path;
            cJSON_AddStringToObject(root, "speech", wav ? wav : text);
            cJSON_AddNumberToObject(root, "speech_seconds", (double)n / rate);
            cJSON_AddNumberToObject(root, "speech_frames", (double)T);
            cJSON_AddNumberToObject(root, "speech_read_out_seconds", nd_cli_now() - t1);
          }
        }
        free(S2.phi);
      }
      free(x);
    }
  }
  if (st == ND_OK) {
    cJSON_AddNumberToObject(root, "seconds", nd_cli_now() - t0);
    snprintf(path, sizeof path, "%s/results.json", out);
    st = nd_cli_write_json(root, path);
    root = NULL;
  }
  cJSON_Delete(root);
  if (st == ND_OK && !common.quiet) {
    printf("\npictures: %s/superres_synthetic.png%s%s\nfigures: %s/results.json (%.1f s)\n", out, speech_png ? ", " : "",
           speech_png ? speech_png : "", out, nd_cli_now() - t0);
  }
  if (st != ND_OK) rc = nd_cli_fail(nd_cli_status_code(st), PROG, "%s", nd_last_error());
  free(power);
  free(S.phi);
  free(buf);
  free_draws(&val), free_draws(&tst);
  nd_args_release(&args);
  return rc;
}
