/* Broyden's method for g(x) = x, limited memory, rows solved independently
 * (include/neurodyn/dynamics.h; C. G. Broyden, "A class of methods for
 * solving nonlinear simultaneous equations", Math. Comp. 1965, the "good"
 * update; the low-rank inverse as in Bai, Kolter & Koltun's DEQ code). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/dynamics.h"

struct nd_broyden {
  int64_t dim, rows_max;
  int m_max;
  float *gx, *r, *dx, *dr, *hdr; /* [dim] g(x), residual, step, residual change, H dr */
  float *u, *v;                  /* [m_max, dim] the low-rank pairs, row-major per pair */
  int *k;                        /* [rows_max] pairs held by each row */
  unsigned char *done;           /* [rows_max] */
};

nd_status nd_broyden_create(int64_t dim, int m_max, int64_t rows_max, nd_broyden **out) {
  if (out) *out = NULL;
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "broyden: out is NULL");
  if (dim < 1 || dim > ((int64_t)1 << 32) || m_max < 1 || m_max > 64 || rows_max < 1 || rows_max > dim)
    return nd__error(ND_ERR_INVALID_ARG, "broyden: dim = %lld, m_max = %d, rows_max = %lld, expected dim >= 1, m_max 1..64, rows_max 1..dim",
                     (long long)dim, m_max, (long long)rows_max);
  nd_broyden *b = calloc(1, sizeof *b);
  if (!b) return nd__error(ND_ERR_NOMEM, "broyden: out of memory");
  b->dim = dim, b->m_max = m_max, b->rows_max = rows_max;
  size_t d = (size_t)dim * sizeof(float);
  b->gx = malloc(d), b->r = malloc(d), b->dx = malloc(d), b->dr = malloc(d), b->hdr = malloc(d);
  b->u = malloc(d * (size_t)m_max), b->v = malloc(d * (size_t)m_max);
  b->k = calloc((size_t)rows_max, sizeof *b->k), b->done = calloc((size_t)rows_max, 1);
  if (!b->gx || !b->r || !b->dx || !b->dr || !b->hdr || !b->u || !b->v || !b->k || !b->done) {
    nd_broyden_free(b);
    return nd__error(ND_ERR_NOMEM, "broyden: out of memory for dim %lld", (long long)dim);
  }
  *out = b;
  return ND_OK;
}

void nd_broyden_free(nd_broyden *b) {
  if (!b) return;
  free(b->gx), free(b->r), free(b->dx), free(b->dr), free(b->hdr), free(b->u), free(b->v), free(b->k), free(b->done);
  free(b);
}

/* out = H y for row `row` (offset o, n entries): -y + sum_i u_i (v_i . y); transposed: -y + sum_i v_i (u_i . y). */
static void apply_h(const nd_broyden *b, int64_t o, int64_t n, int k, bool transposed, const float *y, float *out) {
  for (int64_t j = 0; j < n; j++) out[j] = -y[o + j];
  for (int i = 0; i < k; i++) {
    const float *ui = b->u + (size_t)i * b->dim + o, *vi = b->v + (size_t)i * b->dim + o;
    const float *a = transposed ? ui : vi, *c = transposed ? vi : ui;
    double dot = 0;
    for (int64_t j = 0; j < n; j++) dot += (double)a[j] * y[o + j];
    for (int64_t j = 0; j < n; j++) out[j] += (float)(dot * c[j]);
  }
}

static double norm2(const float *a, int64_t n) {
  double s = 0;
  for (int64_t j = 0; j < n; j++) s += (double)a[j] * a[j];
  return sqrt(s);
}

nd_status nd_broyden_solve(nd_broyden *b, const nd_map *map, float *x, const nd_fixed_point_opts *opts,
                           nd_fixed_point_result *result) {
  if (result) memset(result, 0, sizeof *result);
  if (!b || !map || !map->g || !x || !opts) return nd__error(ND_ERR_INVALID_ARG, "broyden: NULL argument");
  int64_t rows = opts->rows ? opts->rows : 1, dim = map->dim;
  if (dim < 1 || dim > b->dim || rows < 1 || rows > b->rows_max || dim % rows)
    return nd__error(ND_ERR_SHAPE, "broyden: dim %lld with %lld rows, the workspace holds dim %lld, rows %lld", (long long)dim,
                     (long long)rows, (long long)b->dim, (long long)b->rows_max);
  if (opts->m < 1 || opts->m > b->m_max || !(opts->tol >= 0) || !(opts->atol >= 0) || (opts->tol == 0 && opts->atol == 0) || opts->max_iter < 1)
    return nd__error(ND_ERR_INVALID_ARG, "broyden: m = %d (1..%d), tol = %g, atol = %g, max_iter = %lld", opts->m, b->m_max, opts->tol,
                     opts->atol, (long long)opts->max_iter);
  int64_t n = dim / rows, it = 0, restarts = 0;
  memset(b->k, 0, (size_t)rows * sizeof *b->k), memset(b->done, 0, (size_t)rows);
  ND_TRY(map->g(x, b->gx, map->user));
  it = 1;
  for (int64_t i = 0; i < dim; i++) b->r[i] = b->gx[i] - x[i];
  double change = INFINITY, resid = 0;
  nd_stop_reason stop = ND_STOP_MAX_ITER;
  for (;;) {
    bool all = true;
    change = 0;
    for (int64_t q = 0; q < rows; q++) { /* the step dx = -H r */
      if (b->done[q]) continue;
      int64_t o = q * n;
      apply_h(b, o, n, b->k[q], false, b->r, b->dx + o);
      for (int64_t j = 0; j < n; j++) b->dx[o + j] = -b->dx[o + j], x[o + j] += b->dx[o + j];
      double c = norm2(b->dx + o, n), xn = norm2(x + o, n);
      if (c <= opts->tol * xn + opts->atol) b->done[q] = 1;
      else all = false;
      if (xn > 0 && c / xn > change) change = c / xn;
      if (!isfinite(c)) stop = ND_STOP_DIVERGED;
    }
    if (stop == ND_STOP_DIVERGED) break;
    if (all) {
      stop = ND_STOP_TOLERANCE;
      break;
    }
    if (it >= opts->max_iter) break;
    ND_TRY(map->g(x, b->gx, map->user));
    it++;
    for (int64_t q = 0; q < rows; q++) { /* dr and the rank-one update of H */
      if (b->done[q]) continue;
      int64_t o = q * n;
      for (int64_t j = 0; j < n; j++) {
        float rn = b->gx[o + j] - x[o + j];
        b->dr[o + j] = rn - b->r[o + j], b->r[o + j] = rn;
      }
      if (b->k[q] == opts->m) b->k[q] = 0, restarts++;
      int i = b->k[q];
      float *ui = b->u + (size_t)i * b->dim + o, *vi = b->v + (size_t)i * b->dim + o;
      apply_h(b, o, n, i, false, b->dr, b->hdr + o); /* H dr */
      apply_h(b, o, n, i, true, b->dx, vi);          /* v = H^T dx */
      double den = 0;
      for (int64_t j = 0; j < n; j++) den += (double)vi[j] * b->dr[o + j]; /* dx^T H dr */
      if (!(fabs(den) > 1e-30)) continue;                                  /* no update: keep H */
      for (int64_t j = 0; j < n; j++) ui[j] = (float)((b->dx[o + j] - b->hdr[o + j]) / den);
      b->k[q] = i + 1;
    }
  }
  for (int64_t q = 0; q < rows; q++) resid = fmax(resid, norm2(b->r + q * n, n));
  if (result) *result = (nd_fixed_point_result){.iterations = it, .residual = resid, .change = change, .restarts = restarts, .stop = stop};
  if (stop == ND_STOP_DIVERGED) return nd__error(ND_ERR_NUMERIC, "broyden: the iterate is not finite after %lld evaluations", (long long)it);
  return ND_OK;
}
