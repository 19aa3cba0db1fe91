/* Deep equilibrium layer: Anderson forward, implicit-differentiation
 * backward (include/neurodyn/deq.h; Bai, Kolter & Koltun 2019, Sec. 3.1,
 * Theorem 1).  f(z) = tanh(W z + U x + b), rows of the batch independent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/deq.h"
#include "neurodyn/kernels.h"
#include "neurodyn/rng.h"

struct nd_deq {
  nd_deq_config c;
  int64_t np;
  float *p, *g;          /* W [n, n], U [n, in], b [n] */
  float *ux;             /* [B, n] U x + b, fixed during a solve */
  float *z;              /* [B, n] the last forward's fixed point */
  float *s;              /* [B, n] 1 - f(z*)^2 */
  float *y;              /* [B, n] f(z*) */
  float *dz, *v;         /* [B, n] backward: the right-hand side, u . s */
  int64_t B_last;        /* rows of the last backward (for the Jacobian penalty) */
  int64_t B;             /* rows of the last forward */
  nd_fixed_point *fp;
  nd_broyden *br;
};

nd_deq_config nd_deq_defaults(void) {
  return (nd_deq_config){.inputs = 1, .hidden = 16, .batch_max = 64, .anderson_m = 5, .tol = 1e-6, .max_iter = 200,
                         .init_scale = 0.5, .seed = 1};
}

nd_status nd_deq_config_check(const nd_deq_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "deq: config is NULL");
  if (c->inputs < 1 || c->inputs > 65536 || c->hidden < 1 || c->hidden > 65536)
    return nd__error(ND_ERR_INVALID_ARG, "deq: inputs = %lld, hidden = %lld, expected 1..65536", (long long)c->inputs, (long long)c->hidden);
  if (c->batch_max < 1 || c->batch_max > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "deq: batch_max = %lld, expected 1..100000", (long long)c->batch_max);
  if (c->anderson_m < 0 || c->anderson_m > 64) return nd__error(ND_ERR_INVALID_ARG, "deq: anderson_m = %d, expected 0..64", c->anderson_m);
  if ((unsigned)c->solver > ND_DEQ_BROYDEN) return nd__error(ND_ERR_INVALID_ARG, "deq: solver = %d unknown", (int)c->solver);
  if (c->solver == ND_DEQ_BROYDEN && c->anderson_m < 1)
    return nd__error(ND_ERR_INVALID_ARG, "deq: anderson_m = %d, Broyden's memory needs 1..64", c->anderson_m);
  if (!(c->tol > 0 && c->tol < 1)) return nd__error(ND_ERR_INVALID_ARG, "deq: tol = %g, expected (0, 1)", c->tol);
  if (c->max_iter < 1 || c->max_iter > 100000000) return nd__error(ND_ERR_INVALID_ARG, "deq: max_iter = %lld, expected >= 1", (long long)c->max_iter);
  if (!(c->init_scale >= 0 && c->init_scale <= 100)) return nd__error(ND_ERR_INVALID_ARG, "deq: init_scale = %g, expected 0..100", c->init_scale);
  return ND_OK;
}

void nd_deq_free(nd_deq *d) {
  if (!d) return;
  free(d->p), free(d->g), free(d->ux), free(d->z), free(d->s), free(d->dz), free(d->v), free(d->y);
  nd_fixed_point_free(d->fp);
  nd_broyden_free(d->br);
  free(d);
}

nd_status nd_deq_create(const nd_deq_config *c, nd_deq **out) {
  if (out) *out = NULL;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "deq: out is NULL");
  ND_TRY(nd_deq_config_check(c));
  nd_deq *d = calloc(1, sizeof *d);
  if (!d) return nd__error(ND_ERR_NOMEM, "deq: out of memory");
  d->c = *c;
  int64_t n = c->hidden, bn = c->batch_max * n;
  d->np = n * n + n * c->inputs + n;
  d->p = calloc((size_t)d->np, sizeof *d->p), d->g = calloc((size_t)d->np, sizeof *d->g);
  d->ux = malloc((size_t)bn * sizeof *d->ux), d->z = malloc((size_t)bn * sizeof *d->z), d->s = malloc((size_t)bn * sizeof *d->s);
  d->dz = malloc((size_t)bn * sizeof *d->dz), d->v = malloc((size_t)bn * sizeof *d->v), d->y = malloc((size_t)bn * sizeof *d->y);
  nd_status st = (!d->p || !d->g || !d->ux || !d->z || !d->s || !d->dz || !d->v || !d->y) ? nd__error(ND_ERR_NOMEM, "deq: out of memory") : ND_OK;
  if (st == ND_OK && c->solver == ND_DEQ_ANDERSON) st = nd_fixed_point_create(bn, c->anderson_m, c->batch_max, &d->fp);
  if (st == ND_OK && c->solver == ND_DEQ_BROYDEN) st = nd_broyden_create(bn, c->anderson_m, c->batch_max, &d->br);
  if (st == ND_OK) {
    nd_rng r;
    nd_rng_init(&r, c->seed);
    st = nd_rng_normal(&r, d->p, n * n, 0, (float)(c->init_scale / sqrt((double)n)));
    if (st == ND_OK) st = nd_rng_normal(&r, d->p + n * n, n * c->inputs, 0, (float)(1 / sqrt((double)c->inputs)));
  }
  if (st != ND_OK) {
    nd_deq_free(d);
    return st;
  }
  *out = d;
  return ND_OK;
}

int64_t nd_deq_num_params(const nd_deq *d) { return d ? d->np : -1; }
float *nd_deq_params(nd_deq *d) { return d ? d->p : NULL; }
const float *nd_deq_grad(const nd_deq *d) { return d ? d->g : NULL; }

/* gz = tanh(W z + ux) over d->B rows */
static nd_status f_map(const float *z, float *gz, void *user) {
  nd_deq *d = user;
  int64_t n = d->c.hidden, bn = d->B * n;
  memcpy(gz, d->ux, (size_t)bn * sizeof *gz);
  nd_sgemm(false, true, d->B, n, n, 1, z, n, d->p, n, 1, gz, n);
  for (int64_t i = 0; i < bn; i++) gz[i] = tanhf(gz[i]);
  return ND_OK;
}

/* The backward map (Theorem 1): u -> J^T u + dz, J^T u = W^T (s . u) per row
 * (rows of u times W: (s . u) W). */
static nd_status adjoint_map(const float *u, float *gu, void *user) {
  nd_deq *d = user;
  int64_t n = d->c.hidden, bn = d->B * n;
  for (int64_t i = 0; i < bn; i++) d->v[i] = d->s[i] * u[i];
  memcpy(gu, d->dz, (size_t)bn * sizeof *gu);
  nd_sgemm(false, false, d->B, n, n, 1, d->v, n, d->p, n, 1, gu, n);
  return ND_OK;
}

static nd_status solve(nd_deq *d, nd_map_fn fn, float *state, nd_fixed_point_result *result, const char *what) {
  nd_fixed_point_opts o = nd_fixed_point_defaults();
  o.m = d->c.anderson_m, o.tol = d->c.tol, o.atol = 1e-12, o.max_iter = d->c.max_iter, o.rows = d->B;
  nd_map map = {d->B * d->c.hidden, fn, d};
  nd_fixed_point_result r;
  nd_status s = d->br ? nd_broyden_solve(d->br, &map, state, &o, &r) : nd_fixed_point_solve(d->fp, &map, state, &o, &r);
  if (result) *result = r;
  if (s != ND_OK) return s;
  if (r.stop == ND_STOP_MAX_ITER && d->c.accept_unconverged) return ND_OK;
  if (r.stop != ND_STOP_TOLERANCE)
    return nd__error(ND_ERR_NUMERIC, "deq: %s solve stopped (%s) after %lld iterations, residual %.3g, change %.3g > tol %g",
                     what, nd_stop_reason_name(r.stop), (long long)r.iterations, r.residual, r.change, d->c.tol);
  return ND_OK;
}

static nd_status check_rows(const nd_deq *d, const float *x, int64_t B) {
  if (!d || !x) return nd__error(ND_ERR_INVALID_ARG, "deq: NULL argument");
  if (B < 1 || B > d->c.batch_max) return nd__error(ND_ERR_SHAPE, "deq: B = %lld, expected 1..batch_max (%lld)", (long long)B, (long long)d->c.batch_max);
  return ND_OK;
}

nd_status nd_deq_forward(nd_deq *d, const float *x, int64_t B, float *z, nd_fixed_point_result *result) {
  ND_TRY(check_rows(d, x, B));
  if (!z) return nd__error(ND_ERR_INVALID_ARG, "deq: z is NULL");
  int64_t n = d->c.hidden, in = d->c.inputs;
  d->B = B;
  for (int64_t i = 0; i < B; i++) memcpy(d->ux + i * n, d->p + n * n + n * in, (size_t)n * sizeof *d->ux);
  nd_sgemm(false, true, B, n, in, 1, x, in, d->p + n * n, in, 1, d->ux, n);
  memset(d->z, 0, (size_t)(B * n) * sizeof *d->z);
  nd_status s = solve(d, f_map, d->z, result, "forward");
  memcpy(z, d->z, (size_t)(B * n) * sizeof *z);
  /* s = f'(W z* + Ux + b) = 1 - f(z*)^2, evaluated at the fixed point itself */
  if (s == ND_OK) s = f_map(d->z, d->y, d);
  for (int64_t i = 0; s == ND_OK && i < B * n; i++) d->s[i] = 1 - d->y[i] * d->y[i];
  if (s != ND_OK) d->B = 0;
  return s;
}

nd_status nd_deq_backward(nd_deq *d, const float *x, int64_t B, const float *dz, float *dx, nd_fixed_point_result *result) {
  ND_TRY(check_rows(d, x, B));
  if (!dz) return nd__error(ND_ERR_INVALID_ARG, "deq: dz is NULL");
  if (B != d->B) return nd__error(ND_ERR_INVALID_ARG, "deq: backward of %lld rows after a forward of %lld", (long long)B, (long long)d->B);
  int64_t n = d->c.hidden, in = d->c.inputs, bn = B * n;
  memcpy(d->dz, dz, (size_t)bn * sizeof *d->dz);
  float *u = d->ux; /* U x + b is not needed any more: it holds u */
  memcpy(u, dz, (size_t)bn * sizeof *u);
  nd_status s = solve(d, adjoint_map, u, result, "backward");
  d->B = 0; /* ux is spent: the next backward needs a forward */
  d->B_last = s == ND_OK ? B : 0;
  if (s != ND_OK) return s;
  /* dL/dtheta = u^T df/dtheta: with v = s . u, dW = v^T z*, dU = v^T x, db = sum v */
  for (int64_t i = 0; i < bn; i++) d->v[i] = d->s[i] * u[i];
  memset(d->g, 0, (size_t)d->np * sizeof *d->g);
  nd_sgemm(true, false, n, n, B, 1, d->v, n, d->z, n, 0, d->g, n);
  nd_sgemm(true, false, n, in, B, 1, d->v, n, x, in, 0, d->g + n * n, in);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < n; j++) d->g[n * n + n * in + j] += d->v[i * n + j];
  if (dx) nd_sgemm(false, false, B, in, n, 1, d->v, n, d->p + n * n, in, 0, dx, in);
  return ND_OK;
}

nd_status nd_deq_jacobian_reg(nd_deq *d, const float *x, int64_t B, const float *eps, double gamma, double *R) {
  ND_TRY(check_rows(d, x, B));
  if (!eps || !R) return nd__error(ND_ERR_INVALID_ARG, "deq: jacobian_reg: eps or R is NULL");
  if (!(gamma >= 0 && gamma < 1e12)) return nd__error(ND_ERR_INVALID_ARG, "deq: jacobian_reg: gamma = %g, expected >= 0", gamma);
  if (B != d->B_last) return nd__error(ND_ERR_INVALID_ARG, "deq: jacobian_reg of %lld rows after a backward of %lld", (long long)B, (long long)d->B_last);
  int64_t n = d->c.hidden, in = d->c.inputs, bn = B * n;
  float *v = d->v, *u = d->dz; /* the backward's buffers are free now */
  const float *y = d->y;
  for (int64_t i = 0; i < bn; i++) v[i] = d->s[i] * eps[i];            /* v = s . eps: eps^T J = v W (rows) */
  nd_sgemm(false, false, B, n, n, 1, v, n, d->p, n, 0, u, n);          /* u = v W */
  double sum = 0, k = 2 * gamma / (double)bn;
  for (int64_t i = 0; i < bn; i++) sum += (double)u[i] * u[i];
  *R = sum / (double)bn;
  if (gamma == 0) return ND_OK;
  /* dR/dW direct: k v^T u; through s = 1 - y^2, y = f(z*): ds/da = -2 y s, a = W z* + U x + b */
  nd_sgemm(true, false, n, n, B, (float)k, v, n, u, n, 1, d->g, n);
  nd_sgemm(false, true, B, n, n, (float)k, u, n, d->p, n, 0, v, n);    /* v := dR/dv = k u W^T */
  for (int64_t i = 0; i < bn; i++) v[i] *= eps[i] * -2 * y[i] * d->s[i]; /* dR/da */
  nd_sgemm(true, false, n, n, B, 1, v, n, d->z, n, 1, d->g, n);
  nd_sgemm(true, false, n, in, B, 1, v, n, x, in, 1, d->g + n * n, in);
  for (int64_t i = 0; i < B; i++)
    for (int64_t j = 0; j < n; j++) d->g[n * n + n * in + j] += v[i * n + j];
  return ND_OK;
}
