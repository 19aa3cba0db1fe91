/* LcaWta (circuits.h): an LCA layer (Rozell et al. 2008, Eq. 3.1) and a
 * LocallyConnectedWta coupled in neuron space by a 2 x 2 flow matrix
 * (upstream NeurodynamicalSystems.jl `LcaWTA`, 8333fac, which couples in
 * input space and so needs a square dictionary). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "circuits_internal.h"
#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "neurodyn/tensor.h"

nd_lcawta_config nd_lcawta_defaults(void) {
  nd_lcawta_config c;
  memset(&c, 0, sizeof c);
  c.wta = nd_wta_defaults();
  c.halfwidth = 3;
  c.lambda = 0.1;
  c.lca_eta = 0.1;
  c.flow[0][0] = -0.1;
  c.flow[0][1] = 0.1;
  c.flow[1][0] = 0.1;
  c.flow[1][1] = -0.1;
  return c;
}

static nd_status check(const nd_lcawta_config *c, const float *phi, int64_t m, int64_t k, const float *s, int64_t B,
                       const float *a, const float *x) {
  if (!c || !phi || !s || !a || !x) return nd__error(ND_ERR_INVALID_ARG, "lcawta: NULL argument");
  ND_TRY(nd_wta_config_check(&c->wta));
  if (m < 1 || k < 1 || B < 1) return nd__error(ND_ERR_INVALID_ARG, "lcawta: m %lld, k %lld, batch %lld must be >= 1",
                                                (long long)m, (long long)k, (long long)B);
  if ((double)m * k > (double)ND_TENSOR_MAX_NUMEL || (double)k * k > (double)ND_TENSOR_MAX_NUMEL ||
      (double)B * (m > k ? m : k) > (double)ND_TENSOR_MAX_NUMEL)
    return nd__error(ND_ERR_INVALID_ARG, "lcawta: sizes m %lld, k %lld, batch %lld exceed the tensor limit", (long long)m,
                     (long long)k, (long long)B);
  if (c->halfwidth < 0 || c->halfwidth >= k)
    return nd__error(ND_ERR_INVALID_ARG, "lcawta: halfwidth %lld must be in [0, k) = [0, %lld)", (long long)c->halfwidth,
                     (long long)k);
  if (!(c->lambda >= 0) || !isfinite(c->lambda)) return nd__error(ND_ERR_INVALID_ARG, "lcawta: lambda %g must be >= 0", c->lambda);
  if (!(c->lca_eta > 0 && c->lca_eta <= 1)) return nd__error(ND_ERR_INVALID_ARG, "lcawta: lca_eta %g must be in (0, 1]", c->lca_eta);
  for (int i = 0; i < 4; i++)
    if (!isfinite(c->flow[i / 2][i % 2])) return nd__error(ND_ERR_INVALID_ARG, "lcawta: flow[%d][%d] is not finite", i / 2, i % 2);
  for (int64_t i = 0; i < m * k; i++)
    if (!isfinite(phi[i])) return nd__error(ND_ERR_INVALID_ARG, "lcawta: dictionary element %lld is not finite", (long long)i);
  for (int64_t i = 0; i < B * m; i++)
    if (!isfinite(s[i])) return nd__error(ND_ERR_INVALID_ARG, "lcawta: signal element %lld is not finite", (long long)i);
  return ND_OK;
}

nd_status nd_lcawta_solve(const nd_lcawta_config *c, const float *phi, int64_t m, int64_t k, const float *s,
                          int64_t batch, float *a, float *x, nd_wta_result *r) {
  if (r) memset(r, 0, sizeof *r);
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "lcawta: result is NULL");
  ND_TRY(check(c, phi, m, k, s, batch, a, x));
  const int64_t B = batch, nt = omp_get_max_threads(), per = 3 * k;
  const float lam = (float)c->lambda, eta = (float)c->lca_eta;
  const float f11 = (float)c->flow[0][0], f12 = (float)c->flow[0][1], f21 = (float)c->flow[1][0], f22 = (float)c->flow[1][1];
  nd_wta_config wc = c->wta;
  wc.tol = -1; /* the row step always moves; the coupled residual decides */
  nd__wta_pool p;
  nd__lcwta_pool(k, c->halfwidth, &p);
  float *G = nd_aligned_alloc((size_t)(k * k) * sizeof(float)), *b = nd_aligned_alloc((size_t)(B * k) * sizeof(float));
  float *u = nd_aligned_alloc((size_t)(B * k) * sizeof(float)), *d = nd_aligned_alloc((size_t)(B * k) * sizeof(float));
  float *y = nd_aligned_alloc((size_t)(B * k) * sizeof(float)), *in = nd_aligned_alloc((size_t)(B * k) * sizeof(float));
  float *ws = nd_aligned_alloc((size_t)(nt * per) * sizeof(float));
  double *res = calloc((size_t)B, sizeof(double)), *scale = calloc((size_t)B, sizeof(double));
  double *mx = calloc((size_t)B, sizeof(double));
  nd_status st = ND_OK;
  if (!G || !b || !u || !d || !y || !in || !ws || !res || !scale || !mx) {
    st = nd__error(ND_ERR_NOMEM, "lcawta: out of memory for batch %lld x %lld neurons", (long long)B, (long long)k);
    goto done;
  }
  nd_sgemm(true, false, k, k, m, 1.0f, phi, k, phi, k, 0.0f, G, k); /* G = phi^T phi - I */
  for (int64_t i = 0; i < k; i++) G[i * k + i] -= 1.0f;
  nd_sgemm(false, false, B, k, m, 1.0f, s, m, phi, k, 0.0f, b, k); /* b = S phi */
  for (int64_t q = 0; q < B; q++) {
    double mm = 0;
    for (int64_t i = 0; i < k; i++) mm = fmax(mm, fabs((double)b[q * k + i]));
    scale[q] = fmax(mm, 1e-30);
  }
  memset(u, 0, (size_t)(B * k) * sizeof(float));
  memset(x, 0, (size_t)(B * k) * sizeof(float));
  memset(y, 0, (size_t)(B * k) * sizeof(float));
  r->stop = ND_STOP_MAX_ITER;
  for (int64_t it = 1; it <= wc.max_iter; it++) {
    for (int64_t i = 0; i < B * k; i++) a[i] = fmaxf(u[i] - lam, 0.0f);
    for (int64_t i = 0; i < B * k; i++) {
      d[i] = b[i] + f11 * a[i] + f12 * x[i] - u[i];
      in[i] = f21 * a[i] + f22 * x[i];
    }
    nd_sgemm(false, false, B, k, k, -1.0f, a, k, G, k, 1.0f, d, k); /* - (phi^T phi - I) a */
    double worst = 0;
#pragma omp parallel for schedule(static) reduction(max : worst)
    for (int64_t q = 0; q < B; q++) {
      double rw = nd__wta_row_step(&wc, &p, in + q * k, x + q * k, y + q * k, ws + (int64_t)omp_get_thread_num() * per,
                                   scale[q], &mx[q]);
      float dm = 0, um = 0;
      for (int64_t i = 0; i < k; i++) {
        float *ui = u + q * k + i;
        dm = fmaxf(dm, fabsf(d[q * k + i]));
        *ui += eta * d[q * k + i];
        um = fmaxf(um, fabsf(*ui));
      }
      res[q] = fmax(rw, (double)dm / scale[q]);
      if (!isfinite(res[q]) || !(um <= c->wta.max_state)) mx[q] = INFINITY;
      worst = fmax(worst, res[q]);
    }
    r->iterations = it;
    for (int64_t q = 0; q < B; q++)
      if (!(mx[q] <= c->wta.max_state)) {
        r->stop = ND_STOP_DIVERGED;
        st = nd__error(ND_ERR_NUMERIC, "lcawta: runaway in row %lld after %lld steps", (long long)q, (long long)it);
        goto out;
      }
    if (worst <= c->wta.tol) {
      r->stop = ND_STOP_TOLERANCE;
      break;
    }
  }
out:
  for (int64_t i = 0; i < B * k; i++) a[i] = fmaxf(u[i] - lam, 0.0f);
  for (int64_t q = 0; q < B; q++) r->residual = fmax(r->residual, res[q]);
done:
  nd_aligned_free(G);
  nd_aligned_free(b);
  nd_aligned_free(u);
  nd_aligned_free(d);
  nd_aligned_free(y);
  nd_aligned_free(in);
  nd_aligned_free(ws);
  free(res);
  free(scale);
  free(mx);
  return st;
}
