/* Neural ODE block with the adjoint method (include/neurodyn/node.h; Chen
 * et al. 2018, Eq. 4-5 and Alg. 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/node.h"
#include "neurodyn/rng.h"

struct nd_node {
  nd_node_config c;
  int64_t np, B;
  float *p, *g;
  float *s;        /* [B_max, n] scratch: f(z), then a . (1 - f^2) */
  float *aug;      /* [2 B_max n + np] the augmented state [z, a, a_theta] */
  nd_dopri *fwd, *bwd;
};

nd_node_config nd_node_defaults(void) {
  return (nd_node_config){.hidden = 16, .batch_max = 64, .t0 = 0, .t1 = 1, .rtol = 1e-6, .atol = 1e-8, .init_scale = 1, .seed = 1};
}

nd_status nd_node_config_check(const nd_node_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "node: config is NULL");
  if (c->hidden < 1 || c->hidden > 4096) return nd__error(ND_ERR_INVALID_ARG, "node: hidden = %lld, expected 1..4096", (long long)c->hidden);
  if (c->batch_max < 1 || c->batch_max > 100000) return nd__error(ND_ERR_INVALID_ARG, "node: batch_max = %lld, expected 1..100000", (long long)c->batch_max);
  if (!isfinite(c->t0) || !isfinite(c->t1) || c->t0 == c->t1) return nd__error(ND_ERR_INVALID_ARG, "node: t0 = %g, t1 = %g, expected finite and different", c->t0, c->t1);
  if (!(c->rtol > 0 && c->rtol < 1) || !(c->atol > 0 && c->atol < 1))
    return nd__error(ND_ERR_INVALID_ARG, "node: rtol = %g, atol = %g, expected in (0, 1) (a tolerance <= 0 is refused)", c->rtol, c->atol);
  if (!(c->init_scale >= 0 && c->init_scale <= 100)) return nd__error(ND_ERR_INVALID_ARG, "node: init_scale = %g, expected 0..100", c->init_scale);
  return ND_OK;
}

void nd_node_free(nd_node *m) {
  if (!m) return;
  free(m->p), free(m->g), free(m->s), free(m->aug);
  nd_dopri_free(m->fwd), nd_dopri_free(m->bwd);
  free(m);
}

nd_status nd_node_create(const nd_node_config *c, nd_node **out) {
  if (out) *out = NULL;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "node: out is NULL");
  ND_TRY(nd_node_config_check(c));
  nd_node *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "node: out of memory");
  m->c = *c;
  int64_t n = c->hidden, bn = c->batch_max * n;
  m->np = n * n + n;
  m->p = calloc((size_t)m->np, sizeof *m->p), m->g = calloc((size_t)m->np, sizeof *m->g);
  m->s = malloc((size_t)bn * sizeof *m->s), m->aug = malloc((size_t)(2 * bn + m->np) * sizeof *m->aug);
  nd_status st = (!m->p || !m->g || !m->s || !m->aug) ? nd__error(ND_ERR_NOMEM, "node: out of memory") : ND_OK;
  if (st == ND_OK) st = nd_dopri_create(bn, false, &m->fwd);
  if (st == ND_OK) st = nd_dopri_create(2 * bn + m->np, false, &m->bwd);
  if (st == ND_OK) {
    nd_rng r;
    nd_rng_init(&r, c->seed);
    st = nd_rng_normal(&r, m->p, n * n, 0, (float)(c->init_scale / sqrt((double)n)));
  }
  if (st != ND_OK) {
    nd_node_free(m);
    return st;
  }
  *out = m;
  return ND_OK;
}

int64_t nd_node_num_params(const nd_node *m) { return m ? m->np : -1; }
float *nd_node_params(nd_node *m) { return m ? m->p : NULL; }
const float *nd_node_grad(const nd_node *m) { return m ? m->g : NULL; }

/* fz [B, n] = tanh(z W^T + b) */
static void f_of(const nd_node *m, const float *z, float *fz) {
  int64_t n = m->c.hidden, B = m->B;
  for (int64_t i = 0; i < B; i++) memcpy(fz + i * n, m->p + n * n, (size_t)n * sizeof *fz);
  nd_sgemm(false, true, B, n, n, 1, z, n, m->p, n, 1, fz, n);
  for (int64_t i = 0; i < B * n; i++) fz[i] = tanhf(fz[i]);
}

static nd_status rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  f_of(user, y, dy);
  return ND_OK;
}

/* The augmented dynamics (Alg. 1): with v = a . (1 - f^2),
 *   dz/dt = f,  da/dt = -v W,  dW/dt = -v^T z,  db/dt = -sum_rows v. */
static nd_status aug_rhs(double t, const float *y, float *dy, void *user) {
  (void)t;
  nd_node *m = user;
  int64_t n = m->c.hidden, bn = m->B * n;
  const float *z = y, *a = y + bn;
  float *dz = dy, *da = dy + bn, *dth = dy + 2 * bn;
  f_of(m, z, dz);
  for (int64_t i = 0; i < bn; i++) m->s[i] = a[i] * (1 - dz[i] * dz[i]);
  nd_sgemm(false, false, m->B, n, n, -1, m->s, n, m->p, n, 0, da, n);
  nd_sgemm(true, false, n, n, m->B, -1, m->s, n, z, n, 0, dth, n);
  for (int64_t j = 0; j < n; j++) {
    double sb = 0;
    for (int64_t i = 0; i < m->B; i++) sb += m->s[i * n + j];
    dth[n * n + j] = (float)-sb;
  }
  return ND_OK;
}

static nd_status check(const nd_node *m, const float *z, int64_t B) {
  if (!m || !z) return nd__error(ND_ERR_INVALID_ARG, "node: NULL argument");
  if (B < 1 || B > m->c.batch_max) return nd__error(ND_ERR_SHAPE, "node: B = %lld, expected 1..batch_max (%lld)", (long long)B, (long long)m->c.batch_max);
  return ND_OK;
}

static nd_dopri_opts opts_of(const nd_node *m) {
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = m->c.rtol, o.atol = m->c.atol;
  return o;
}

nd_status nd_node_forward(nd_node *m, float *z, int64_t B, nd_dopri_result *result) {
  ND_TRY(check(m, z, B));
  m->B = B;
  nd_system sys = {B * m->c.hidden, rhs, m};
  nd_dopri_opts o = opts_of(m);
  return nd_dopri_integrate(m->fwd, &sys, m->c.t0, m->c.t1, z, &o, result);
}

nd_status nd_node_backward(nd_node *m, float *z, float *dz, int64_t B, nd_dopri_result *result) {
  ND_TRY(check(m, z, B));
  if (!dz) return nd__error(ND_ERR_INVALID_ARG, "node: dz is NULL");
  m->B = B;
  int64_t bn = B * m->c.hidden, dim = 2 * bn + m->np;
  memcpy(m->aug, z, (size_t)bn * sizeof *z);
  memcpy(m->aug + bn, dz, (size_t)bn * sizeof *dz);
  memset(m->aug + 2 * bn, 0, (size_t)m->np * sizeof *m->aug);
  nd_system sys = {dim, aug_rhs, m};
  nd_dopri_opts o = opts_of(m);
  ND_TRY(nd_dopri_integrate(m->bwd, &sys, m->c.t1, m->c.t0, m->aug, &o, result));
  memcpy(z, m->aug, (size_t)bn * sizeof *z);
  memcpy(dz, m->aug + bn, (size_t)bn * sizeof *dz);
  memcpy(m->g, m->aug + 2 * bn, (size_t)m->np * sizeof *m->g);
  return ND_OK;
}

static nd_status check_k(const nd_node *m, const float *ck, int64_t K, int64_t B) {
  ND_TRY(check(m, ck, B));
  if (K < 1 || K > 1000000) return nd__error(ND_ERR_INVALID_ARG, "node: checkpoints K = %lld, expected 1..1e6", (long long)K);
  return ND_OK;
}

/* The time of segment boundary k of K. */
static double t_at(const nd_node *m, int64_t k, int64_t K) { return m->c.t0 + (m->c.t1 - m->c.t0) * (double)k / (double)K; }

/* Sums of the segments' solver figures. */
static void add_result(nd_dopri_result *sum, const nd_dopri_result *r) {
  sum->steps += r->steps, sum->rejected += r->rejected, sum->rhs_calls += r->rhs_calls;
  sum->t = r->t, sum->h = r->h, sum->err = r->err, sum->residual = r->residual, sum->stop = r->stop;
}

nd_status nd_node_forward_checkpoints(nd_node *m, float *ck, int64_t K, int64_t B, nd_dopri_result *result) {
  ND_TRY(check_k(m, ck, K, B));
  m->B = B;
  int64_t bn = B * m->c.hidden;
  nd_system sys = {bn, rhs, m};
  nd_dopri_opts o = opts_of(m);
  nd_dopri_result sum = {0}, r;
  for (int64_t k = 0; k < K; k++) {
    memcpy(ck + (k + 1) * bn, ck + k * bn, (size_t)bn * sizeof *ck);
    ND_TRY(nd_dopri_integrate(m->fwd, &sys, t_at(m, k, K), t_at(m, k + 1, K), ck + (k + 1) * bn, &o, &r));
    add_result(&sum, &r);
  }
  if (result) *result = sum;
  return ND_OK;
}

nd_status nd_node_backward_checkpoints(nd_node *m, const float *ck, int64_t K, float *dz, int64_t B, nd_dopri_result *result) {
  ND_TRY(check_k(m, ck, K, B));
  if (!dz) return nd__error(ND_ERR_INVALID_ARG, "node: dz is NULL");
  m->B = B;
  int64_t bn = B * m->c.hidden;
  nd_system sys = {2 * bn + m->np, aug_rhs, m};
  nd_dopri_opts o = opts_of(m);
  nd_dopri_result sum = {0}, r;
  memcpy(m->aug + bn, dz, (size_t)bn * sizeof *dz);
  memset(m->aug + 2 * bn, 0, (size_t)m->np * sizeof *m->aug);
  for (int64_t k = K - 1; k >= 0; k--) { /* a and a_theta carry over; z restarts from the checkpoint */
    memcpy(m->aug, ck + (k + 1) * bn, (size_t)bn * sizeof *ck);
    ND_TRY(nd_dopri_integrate(m->bwd, &sys, t_at(m, k + 1, K), t_at(m, k, K), m->aug, &o, &r));
    add_result(&sum, &r);
  }
  memcpy(dz, m->aug + bn, (size_t)bn * sizeof *dz);
  memcpy(m->g, m->aug + 2 * bn, (size_t)m->np * sizeof *m->g);
  if (result) *result = sum;
  return ND_OK;
}
