/* Dense batched LCA (lca.h): Rozell et al., Neural Comput. 20(10), 2008,
 * Eq. 3.1-3.2, batched over rows, one GEMM (GRAM form) or two (TWO_GEMM)
 * per step; the state update comes from accel.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "lca_internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/tensor.h"

struct nd_lca {
  nd_lca_config c;
  int64_t m, n, max_batch;
  nd_lca_form form;  /* resolved */
  double L, eta;     /* ||Phi||_2^2 and the step in use */
  float *phi;        /* [m, n] */
  float *gram;       /* [n, n] Phi^T Phi - I (GRAM form) or NULL */
  float *b, *u, *d;  /* [max_batch, n]: Phi^T s, potentials, direction */
  float *r;          /* [max_batch, m]: A Phi^T */
  double *bmax;      /* [max_batch] max |b| per row */
  unsigned char *active;
  nd_accel *acc;
  nd_lca_observer_fn observer;
  void *observer_user;
};

nd_accel_config nd__lca_default_update(void) {
  nd_accel_config u = nd_accel_defaults(ND_ACCEL_NESTEROV);
  u.schedule = ND_ACCEL_MU_FISTA;
  u.restart = true;
  return u;
}

/* The measured rule of docs/lca.md: the Gram matrix when one step with it
 * (B n^2) costs no more than the two thin GEMMs (2 B m n), i.e. n <= 2m. */
static nd_lca_form choose_form(int64_t m, int64_t n) { return n <= 2 * m ? ND_LCA_FORM_GRAM : ND_LCA_FORM_TWO_GEMM; }

void nd_lca_free(nd_lca *l) {
  if (!l) return;
  nd_aligned_free(l->phi);
  nd_aligned_free(l->gram);
  nd_aligned_free(l->b);
  nd_aligned_free(l->u);
  nd_aligned_free(l->d);
  nd_aligned_free(l->r);
  free(l->bmax);
  free(l->active);
  nd_accel_free(l->acc);
  free(l);
}

static bool all_finite(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return false;
  return true;
}

/* Largest eigenvalue of Phi^T Phi by power iteration (r buffer of m floats
 * and d buffer of n floats as scratch). */
static double power_norm(const float *phi, int64_t m, int64_t n, float *x, float *y) {
  for (int64_t j = 0; j < n; j++) x[j] = 1.0f + 0.01f * (float)(j % 7); /* not orthogonal to the top vector, generically */
  double lam = 0;
  for (int it = 0; it < 300; it++) {
    nd_sgemm(false, false, m, 1, n, 1.0f, phi, n, x, 1, 0.0f, y, 1);  /* y = Phi x */
    nd_sgemm(true, false, n, 1, m, 1.0f, phi, n, y, 1, 0.0f, x, 1);   /* x = Phi^T y */
    double nrm = sqrt(nd_dot(x, x, n));
    if (!(nrm > 0)) return 0;
    nd_scale((float)(1.0 / nrm), x, n);
    double prev = lam;
    lam = nrm;
    if (it > 5 && fabs(lam - prev) <= 1e-7 * lam) break;
  }
  return lam;
}

static nd_status load_dictionary(nd_lca *l, const float *phi) {
  const int64_t m = l->m, n = l->n;
  if (!all_finite(phi, m * n)) return nd__error(ND_ERR_INVALID_ARG, "lca: dictionary [%lld, %lld] has a non-finite value", (long long)m, (long long)n);
  memcpy(l->phi, phi, (size_t)(m * n) * sizeof(float));
  if (l->c.normalize) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t i = 0; i < m; i++) s += (double)l->phi[i * n + j] * l->phi[i * n + j];
      if (!(s > 0)) return nd__error(ND_ERR_INVALID_ARG, "lca: dictionary column %lld is zero and cannot be normalised", (long long)j);
      float k = (float)(1.0 / sqrt(s));
      for (int64_t i = 0; i < m; i++) l->phi[i * n + j] *= k;
    }
  }
  if (l->gram) { /* G = Phi^T Phi - I (Eq. 3.2's inhibition) */
    nd_sgemm(true, false, n, n, m, 1.0f, l->phi, n, l->phi, n, 0.0f, l->gram, n);
    for (int64_t j = 0; j < n; j++) l->gram[j * n + j] -= 1.0f;
  }
  l->L = power_norm(l->phi, m, n, l->d, l->r);
  nd_accel_kind k = l->c.update.kind;
  bool scaled = l->c.auto_eta && (k == ND_ACCEL_EULER || k == ND_ACCEL_MOMENTUM || k == ND_ACCEL_NESTEROV);
  l->eta = scaled ? (l->L > 0 ? 1.0 / l->L : 1.0) : l->c.update.eta;
  return ND_OK;
}

nd_status nd_lca_create(const nd_lca_config *c, const float *phi, int64_t m, int64_t n, int64_t max_batch, nd_lca **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_create: out is NULL");
  *out = NULL;
  ND_TRY(nd_lca_config_check(c));
  if (!phi) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_create: dictionary is NULL");
  if (m < 1 || n < 1 || max_batch < 1 || m > ND_TENSOR_MAX_NUMEL / n || max_batch > ND_TENSOR_MAX_NUMEL / n ||
      max_batch > ND_TENSOR_MAX_NUMEL / m)
    return nd__error(ND_ERR_INVALID_ARG, "nd_lca_create: dictionary [%lld, %lld] and batch %lld must be >= 1 and fit 2^36 numbers",
                     (long long)m, (long long)n, (long long)max_batch);
  nd_lca_form form = c->form == ND_LCA_FORM_AUTO ? choose_form(m, n) : c->form;
  if (form == ND_LCA_FORM_GRAM && n > ND_TENSOR_MAX_NUMEL / n)
    return nd__error(ND_ERR_INVALID_ARG, "nd_lca_create: a Gram matrix of %lld atoms is too large; use the two-gemm form", (long long)n);
  nd_lca *l = calloc(1, sizeof *l);
  if (!l) return nd__error(ND_ERR_NOMEM, "nd_lca_create: out of memory");
  l->c = *c;
  l->m = m;
  l->n = n;
  l->max_batch = max_batch;
  l->form = form;
  size_t bn = (size_t)(max_batch * n) * sizeof(float);
  l->phi = nd_aligned_alloc((size_t)(m * n) * sizeof(float));
  if (form == ND_LCA_FORM_GRAM) l->gram = nd_aligned_alloc((size_t)(n * n) * sizeof(float));
  l->b = nd_aligned_alloc(bn);
  l->u = nd_aligned_alloc(bn);
  l->d = nd_aligned_alloc(bn);
  l->r = nd_aligned_alloc((size_t)(max_batch * m) * sizeof(float));
  l->bmax = calloc((size_t)max_batch, sizeof *l->bmax);
  l->active = calloc((size_t)max_batch, 1);
  nd_status s = ND_OK;
  if (!l->phi || (form == ND_LCA_FORM_GRAM && !l->gram) || !l->b || !l->u || !l->d || !l->r || !l->bmax || !l->active)
    s = nd__error(ND_ERR_NOMEM, "nd_lca_create: out of memory for dictionary [%lld, %lld], batch %lld", (long long)m,
                  (long long)n, (long long)max_batch);
  if (s == ND_OK) s = load_dictionary(l, phi);
  if (s == ND_OK) {
    nd_accel_config u = c->update;
    u.eta = l->eta;
    s = nd_accel_create(&u, max_batch, n, &l->acc);
  }
  if (s != ND_OK) {
    nd_lca_free(l);
    return s;
  }
  memset(l->u, 0, bn);
  *out = l;
  return ND_OK;
}

nd_status nd_lca_set_dictionary(nd_lca *l, const float *phi) {
  if (!l || !phi) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_set_dictionary: model and dictionary must not be NULL");
  ND_TRY(load_dictionary(l, phi));
  /* the step follows the new norm */
  nd_accel_config u = l->c.update;
  u.eta = l->eta;
  nd_accel *acc;
  ND_TRY(nd_accel_create(&u, l->max_batch, l->n, &acc));
  nd_accel_free(l->acc);
  l->acc = acc;
  return ND_OK;
}

const float *nd_lca_dictionary(const nd_lca *l) { return l ? l->phi : NULL; }
const nd_lca_config *nd_lca_config_of(const nd_lca *l) { return l ? &l->c : NULL; }
int64_t nd_lca_m(const nd_lca *l) { return l ? l->m : -1; }
int64_t nd_lca_n(const nd_lca *l) { return l ? l->n : -1; }
int64_t nd_lca_max_batch(const nd_lca *l) { return l ? l->max_batch : -1; }
double nd_lca_lipschitz(const nd_lca *l) { return l ? l->L : NAN; }
double nd_lca_eta(const nd_lca *l) { return l ? l->eta : NAN; }
nd_lca_form nd_lca_form_of(const nd_lca *l) { return l ? l->form : ND_LCA_FORM_AUTO; }
const float *nd_lca_potentials(const nd_lca *l) { return l ? l->u : NULL; }

nd_status nd_lca_set_observer(nd_lca *l, nd_lca_observer_fn fn, void *user) {
  if (!l) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_set_observer: model is NULL");
  l->observer = fn;
  l->observer_user = user;
  return ND_OK;
}

static nd_status check_batch(const nd_lca *l, const char *fn, const void *s, const void *a, int64_t batch) {
  if (!l || !s || !a) return nd__error(ND_ERR_INVALID_ARG, "%s: model, signals and codes must not be NULL", fn);
  if (batch < 1 || batch > l->max_batch)
    return nd__error(ND_ERR_SHAPE, "%s: batch %lld is not in 1..%lld (the model's max_batch)", fn, (long long)batch,
                     (long long)l->max_batch);
  return ND_OK;
}

static float row_max_abs(const float *x, int64_t n) {
  float m = 0;
  for (int64_t j = 0; j < n; j++) {
    float v = fabsf(x[j]);
    m = v > m ? v : m;
  }
  return m;
}

/* D = Phi^T s - u - (Phi^T Phi - I) a  [- lambda for UPSTREAM]  (Eq. 3.1),
 * with a = T_lambda(u) refreshed first for the rows still running. */
static void direction(nd_lca *l, float *a, int64_t B) {
  const int64_t m = l->m, n = l->n;
  const nd_lca_config *c = &l->c;
  float shift = c->variant == ND_LCA_UPSTREAM ? c->lambda : 0.0f;
  bool gram = l->form == ND_LCA_FORM_GRAM;
#pragma omp parallel for schedule(static) if (B * n > 65536 && B > 1)
  for (int64_t r = 0; r < B; r++) {
    float *ar = a + r * n, *dr = l->d + r * n;
    const float *br = l->b + r * n, *ur = l->u + r * n;
    if (l->active[r]) nd__lca_threshold(c->threshold, c->variant, c->lambda, ur, ar, n);
    if (gram)
      for (int64_t j = 0; j < n; j++) dr[j] = br[j] - ur[j] - shift;
    else
      for (int64_t j = 0; j < n; j++) dr[j] = br[j] - ur[j] - shift + ar[j];
  }
  if (gram) {
    nd_sgemm(false, false, B, n, n, -1.0f, a, n, l->gram, n, 1.0f, l->d, n); /* D -= A (Phi^T Phi - I) */
  } else {
    nd_sgemm(false, true, B, m, n, 1.0f, a, n, l->phi, n, 0.0f, l->r, m);    /* R = A Phi^T */
    nd_sgemm(false, false, B, n, m, -1.0f, l->r, m, l->phi, n, 1.0f, l->d, n); /* D -= R Phi */
  }
}

/* Residual of every row; rows that pass the tolerance stop.  Returns the
 * largest residual of all rows (NaN if any is not finite) and the number of
 * rows still running.  With euler_eta > 0 the rows still running also take
 * their Euler step u += eta D here (plain LCA in one pass over D; the same
 * arithmetic as nd_accel_step's EULER). */
static double residuals(nd_lca *l, int64_t B, int64_t *running, float euler_eta) {
  double worst = 0;
  int64_t left = 0, bad = 0;
#pragma omp parallel for schedule(static) reduction(max : worst) reduction(+ : left, bad) if (B * l->n > 65536 && B > 1)
  for (int64_t r = 0; r < B; r++) {
    float mx = row_max_abs(l->d + r * l->n, l->n);
    double res = (double)mx / (l->bmax[r] > 1e-30 ? l->bmax[r] : 1e-30);
    if (!(res <= 1e300)) bad++; /* NaN or infinite */
    else if (res > worst) worst = res;
    if (l->active[r] && res <= l->c.tol) l->active[r] = 0;
    left += l->active[r];
    if (euler_eta > 0 && l->active[r]) {
      float *ur = l->u + r * l->n;
      const float *dr = l->d + r * l->n;
      for (int64_t j = 0; j < l->n; j++) ur[j] += euler_eta * dr[j];
    }
  }
  *running = left;
  return bad ? NAN : worst;
}

nd_status nd_lca_solve(nd_lca *l, const float *s, int64_t batch, float *a, nd_lca_result *result) {
  if (result) memset(result, 0, sizeof *result);
  ND_TRY(check_batch(l, "nd_lca_solve", s, a, batch));
  const int64_t m = l->m, n = l->n, B = batch;
  if (!all_finite(s, B * m)) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_solve: signals [%lld, %lld] have a non-finite value", (long long)B, (long long)m);
  nd_sgemm(false, false, B, n, m, 1.0f, s, m, l->phi, n, 0.0f, l->b, n); /* b = Phi^T s, rows: S Phi */
  for (int64_t r = 0; r < B; r++) {
    l->bmax[r] = nd_max_abs(l->b + r * n, n);
    l->active[r] = 1;
  }
  memset(l->u, 0, (size_t)(B * n) * sizeof(float));
  ND_TRY(nd_accel_reset(l->acc));
  int64_t it = 0, running = B;
  double res;
  nd_stop_reason stop;
  /* plain LCA fuses its step into the residual pass, unless it could be the last one */
  float euler = l->c.update.kind == ND_ACCEL_EULER ? (float)l->eta : 0.0f;
  for (;;) {
    direction(l, a, B);
    res = residuals(l, B, &running, it < l->c.max_iter ? euler : 0.0f);
    if (isnan(res)) { stop = ND_STOP_DIVERGED; break; }
    if (running == 0) { stop = ND_STOP_TOLERANCE; break; }
    if (it == l->c.max_iter) { stop = ND_STOP_MAX_ITER; break; }
    if (euler == 0) ND_TRY(nd_accel_step(l->acc, l->u, l->d, B, n, l->active));
    it++;
    if (!l->observer) continue; /* a = T(u) is refreshed at the start of direction() */
    for (int64_t r = 0; r < B; r++)
      if (l->active[r]) nd__lca_threshold(l->c.threshold, l->c.variant, l->c.lambda, l->u + r * n, a + r * n, n);
    if (l->observer(it, a, l->u, B, l->observer_user)) {
      direction(l, a, B); /* the residual of the state returned */
      res = residuals(l, B, &running, 0.0f);
      stop = isnan(res) ? ND_STOP_DIVERGED : ND_STOP_OBSERVER;
      break;
    }
  }
  if (result) {
    result->iterations = it;
    result->residual = res;
    result->stop = stop;
    if (stop != ND_STOP_DIVERGED) ND_TRY(nd_lca_energy(l, s, a, B, NULL, &result->objective));
    else result->objective = NAN;
  }
  if (stop == ND_STOP_DIVERGED)
    return nd__error(ND_ERR_NUMERIC, "nd_lca_solve: the state became non-finite after %lld steps (step eta %g too large?)",
                     (long long)it, l->eta);
  return ND_OK;
}

nd_status nd_lca_energy(nd_lca *l, const float *s, const float *a, int64_t batch, double *per_row, double *total) {
  if (total) *total = 0;
  ND_TRY(check_batch(l, "nd_lca_energy", s, a, batch));
  const int64_t m = l->m, n = l->n;
  nd_sgemm(false, true, batch, m, n, 1.0f, a, n, l->phi, n, 0.0f, l->r, m); /* R = A Phi^T: reconstructions */
  double sum = 0;
  for (int64_t r = 0; r < batch; r++) {
    double e = 0;
    for (int64_t i = 0; i < m; i++) {
      double x = (double)s[r * m + i] - (double)l->r[r * m + i];
      e += x * x;
    }
    e = 0.5 * e + nd__lca_penalty(l->c.threshold, l->c.lambda, a + r * n, n); /* Eq. 2.1 */
    if (per_row) per_row[r] = e;
    sum += e;
  }
  if (total) *total = sum;
  return ND_OK;
}
