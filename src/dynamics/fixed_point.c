/* Fixed-point iteration and Anderson acceleration (see
 * include/neurodyn/dynamics.h, "fixed point and Anderson mixing").
 *
 * D. G. Anderson, J. ACM 12(4):547-560, 1965; the unconstrained form of
 * H. F. Walker & P. Ni, SIAM J. Numer. Anal. 49(4):1715-1735, 2011, Sec. 1
 * (Algorithm AA) and Eq. (1.2)-(1.4) with mixing beta:
 *   x_{k+1} = x_k + beta f_k - (dX_k + beta dF_k) gamma_k,
 *   gamma_k = argmin ||f_k - dF_k gamma||_2  (here with a Tikhonov term).
 * The least squares is solved through its normal equations, whose Gram
 * matrix dF^T dF is kept up to date one column per iteration (m dot
 * products of the state), in float64, with LAPACK's Cholesky (dpotrf,
 * dpotrs) and its condition estimate (dpocon).
 *
 * History: ring buffers dX, dF of m_max columns shared by all rows; row r
 * uses the last nh[r] columns written, so that a restart of one row (nh = 0)
 * leaves the others alone.  Everything is allocated by _create. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics_internal.h"

#define ND_FP_M_MAX 64

struct nd_fixed_point {
  int64_t dim, rows_max;
  int m_max;
  float *f;      /* [dim] g(x_k), then f_k = g(x_k) - x_k */
  float *f_prev; /* [dim] f_{k-1} */
  float *x_prev; /* [dim] x_{k-1} */
  float *dX, *dF; /* [m_max][dim] ring buffers of dx_i, df_i */
  double *gram;  /* [rows_max][m_max][m_max] <df_i, df_j> per row, ring-slot indexed */
  int *nh;       /* [rows_max] history length per row */
  double *best;  /* [rows_max] smallest ||f|| since the row's last restart */
  double *a, *b, *work; /* [m][m], [m], [3m] LAPACK scratch */
  lapack_int *iwork;    /* [m] */
};

nd_fixed_point_opts nd_fixed_point_defaults(void) {
  nd_fixed_point_opts o;
  memset(&o, 0, sizeof o);
  o.m = 5;
  o.beta = 1.0;
  o.tol = 1e-6;
  o.atol = 0.0;
  o.max_iter = 1000;
  o.reg = 1e-10;
  o.cond_max = 1e8;
  o.restart_growth = 1e4;
  o.rows = 0;
  return o;
}

nd_status nd_fixed_point_create(int64_t dim, int m_max, int64_t rows_max, nd_fixed_point **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "fixed_point: output pointer is NULL");
  *out = NULL;
  if (dim < 1) return nd__error(ND_ERR_INVALID_ARG, "fixed_point: dim = %lld, must be >= 1", (long long)dim);
  if (m_max < 0 || m_max > ND_FP_M_MAX)
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: m_max = %d, must be in 0..%d", m_max, ND_FP_M_MAX);
  if (rows_max < 1 || rows_max > dim)
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: rows_max = %lld, must be in 1..dim (%lld)",
                     (long long)rows_max, (long long)dim);
  if ((uint64_t)dim > SIZE_MAX / sizeof(float) / (3 + 2 * (uint64_t)m_max) ||
      (uint64_t)rows_max > SIZE_MAX / sizeof(double) / (ND_FP_M_MAX * ND_FP_M_MAX + 2))
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: dim = %lld with m_max = %d is too large", (long long)dim,
                     m_max);
  nd_fixed_point *fp = calloc(1, sizeof *fp);
  if (!fp) return nd__error(ND_ERR_NOMEM, "fixed_point: out of memory");
  fp->dim = dim;
  fp->m_max = m_max;
  fp->rows_max = rows_max;
  size_t vb = (size_t)dim * sizeof(float), mm = (size_t)(m_max > 0 ? m_max : 1);
  fp->f = nd_aligned_alloc(vb);
  fp->f_prev = nd_aligned_alloc(vb);
  fp->x_prev = nd_aligned_alloc(vb);
  fp->dX = nd_aligned_alloc(vb * mm);
  fp->dF = nd_aligned_alloc(vb * mm);
  fp->gram = calloc((size_t)rows_max * mm * mm, sizeof(double));
  fp->nh = calloc((size_t)rows_max, sizeof(int));
  fp->best = calloc((size_t)rows_max, sizeof(double));
  fp->a = calloc(mm * mm + 4 * mm, sizeof(double));
  fp->iwork = calloc(mm, sizeof(lapack_int));
  if (!fp->f || !fp->f_prev || !fp->x_prev || !fp->dX || !fp->dF || !fp->gram || !fp->nh || !fp->best || !fp->a ||
      !fp->iwork) {
    nd_fixed_point_free(fp);
    return nd__error(ND_ERR_NOMEM, "fixed_point: cannot allocate a workspace for dim %lld, m_max %d",
                     (long long)dim, m_max);
  }
  fp->b = fp->a + mm * mm;
  fp->work = fp->b + mm;
  *out = fp;
  return ND_OK;
}

void nd_fixed_point_free(nd_fixed_point *fp) {
  if (!fp) return;
  nd_aligned_free(fp->f);
  nd_aligned_free(fp->f_prev);
  nd_aligned_free(fp->x_prev);
  nd_aligned_free(fp->dX);
  nd_aligned_free(fp->dF);
  free(fp->gram);
  free(fp->nh);
  free(fp->best);
  free(fp->a);
  free(fp->iwork);
  free(fp);
}

static nd_status check_opts(const nd_fixed_point *fp, const nd_map *map, const nd_fixed_point_opts *o,
                            int64_t rows) {
  if (o->m < 0 || o->m > fp->m_max)
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: m = %d, must be in 0..%d (the workspace's m_max)", o->m,
                     fp->m_max);
  if (!(o->beta > 0 && o->beta <= 1))
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: beta = %g, must be in (0, 1]", o->beta);
  if (!(o->tol >= 0) || !(o->atol >= 0) || !isfinite(o->tol) || !isfinite(o->atol) || (o->tol == 0 && o->atol == 0))
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: tol = %g, atol = %g (each finite and >= 0, not both 0)",
                     o->tol, o->atol);
  if (o->max_iter < 1)
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: max_iter = %lld, must be >= 1", (long long)o->max_iter);
  if (!(o->reg >= 0) || !isfinite(o->reg))
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: reg = %g, must be finite and >= 0", o->reg);
  if (!(o->cond_max > 1) || !(o->restart_growth > 1))
    return nd__error(ND_ERR_INVALID_ARG, "fixed_point: cond_max = %g, restart_growth = %g (each > 1 or INFINITY)",
                     o->cond_max, o->restart_growth);
  if (rows < 1 || rows > fp->rows_max || map->dim % rows != 0)
    return nd__error(ND_ERR_SHAPE, "fixed_point: rows = %lld does not divide dim %lld or is not in 1..%lld",
                     (long long)rows, (long long)map->dim, (long long)fp->rows_max);
  return ND_OK;
}

/* sum_i a_i b_i in float64, vectorised (the reduction order is the compiler's) */
static double dot(const float *a, const float *b, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Slot of the j-th newest history column (j = 0: newest) when the newest is at `head`. */
static inline int slot(int head, int j, int m) { return (head - j + m) % m; }

/* gamma for row r (nh columns, newest at `head`) into fp->b; false when the
 * normal matrix is singular or (with cond_max finite) ill-conditioned. */
static bool solve_gamma(nd_fixed_point *fp, int64_t r, int nh, int head, const float *fr, int64_t off, int64_t cols,
                        const nd_fixed_point_opts *o) {
  const int m = fp->m_max;
  const double *G = fp->gram + (size_t)r * m * m;
  double tr = 0;
  for (int i = 0; i < nh; i++) tr += G[slot(head, i, m) * m + slot(head, i, m)];
  const double lambda = o->reg * tr / nh;
  double anorm = 0;
  for (int j = 0; j < nh; j++) {
    double colsum = 0;
    for (int i = 0; i < nh; i++) {
      double v = G[slot(head, i, m) * m + slot(head, j, m)] + (i == j ? lambda : 0.0);
      fp->a[j * nh + i] = v; /* column-major nh x nh */
      colsum += fabs(v);
    }
    anorm = fmax(anorm, colsum);
    fp->b[j] = dot(fp->dF + (size_t)slot(head, j, m) * fp->dim + off, fr, cols);
  }
  if (!(tr > 0) || !isfinite(tr)) return false;
  if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', nh, fp->a, nh) != 0) return false;
  if (isfinite(o->cond_max)) {
    double rcond = 0;
    if (LAPACKE_dpocon_work(LAPACK_COL_MAJOR, 'L', nh, fp->a, nh, anorm, &rcond, fp->work, fp->iwork) != 0 ||
        !(rcond * o->cond_max >= 1))
      return false;
  }
  return LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', nh, 1, fp->a, nh, fp->b, nh) == 0;
}

/* One Anderson update of row r: x <- x + beta f - (dX + beta dF) gamma.
 * Returns ND_ERR_NUMERIC on a breakdown with the safeguards off. */
static nd_status update_row(nd_fixed_point *fp, int64_t r, int64_t cols, int head, float *x,
                            const nd_fixed_point_opts *o, int64_t k, int64_t *restarts) {
  const int64_t off = r * cols;
  const float beta = (float)o->beta;
  float *restrict xr = x + off;
  const float *restrict fr = fp->f + off;
  int nh = fp->nh[r];
  if (nh > 0 && !solve_gamma(fp, r, nh, head, fr, off, cols, o)) {
    if (o->reg == 0 && !isfinite(o->cond_max))
      return nd__error(ND_ERR_NUMERIC,
                       "fixed_point: Anderson least-squares system is singular at iteration %lld (row %lld, %d "
                       "history columns): a rank-deficient history; set reg > 0 or a finite cond_max",
                       (long long)k, (long long)r, nh);
    fp->nh[r] = nh = 0; /* restart: plain step this iteration */
    (*restarts)++;
  }
  for (int64_t i = 0; i < cols; i++) xr[i] += beta * fr[i];
  for (int j = 0; j < nh; j++) {
    const size_t s = (size_t)slot(head, j, fp->m_max) * fp->dim + off;
    const float gj = (float)fp->b[j];
    const float *restrict dx = fp->dX + s, *restrict df = fp->dF + s;
    for (int64_t i = 0; i < cols; i++) xr[i] -= gj * (dx[i] + beta * df[i]);
  }
  return ND_OK;
}

/* Appends dx = x_k - x_{k-1}, df = f_k - f_{k-1} at ring slot `head`, keeps
 * each row's last `mem` columns and the Gram entries <df_head, df_j>. */
static void push_history(nd_fixed_point *fp, const float *x, int64_t n, int64_t rows, int head, int mem) {
  const int m = fp->m_max;
  float *restrict dx = fp->dX + (size_t)head * fp->dim, *restrict df = fp->dF + (size_t)head * fp->dim;
  for (int64_t i = 0; i < n; i++) {
    dx[i] = x[i] - fp->x_prev[i];
    df[i] = fp->f[i] - fp->f_prev[i];
  }
  const int64_t cols = n / rows;
  for (int64_t r = 0; r < rows; r++) {
    int nh = fp->nh[r] < mem ? fp->nh[r] + 1 : mem;
    fp->nh[r] = nh;
    double *G = fp->gram + (size_t)r * m * m;
    for (int j = 0; j < nh; j++) {
      int s = slot(head, j, m);
      double v = dot(df + r * cols, fp->dF + (size_t)s * fp->dim + r * cols, cols);
      G[head * m + s] = G[s * m + head] = v;
    }
  }
}

nd_status nd_fixed_point_solve(nd_fixed_point *fp, const nd_map *map, float *x, const nd_fixed_point_opts *opts,
                               nd_fixed_point_result *result) {
  nd_fixed_point_result res = {0};
  res.stop = ND_STOP_MAX_ITER;
  if (result) *result = res;
  if (!fp || !map || !x) return nd__error(ND_ERR_INVALID_ARG, "fixed_point: workspace, map or state is NULL");
  if (!map->g) return nd__error(ND_ERR_INVALID_ARG, "fixed_point: map has no function (g is NULL)");
  if (map->dim < 1 || map->dim > fp->dim)
    return nd__error(ND_ERR_SHAPE, "fixed_point: map dim %lld is not in 1..%lld (the workspace's dim)",
                     (long long)map->dim, (long long)fp->dim);
  nd_fixed_point_opts o = opts ? *opts : nd_fixed_point_defaults();
  const int64_t rows = o.rows > 0 ? o.rows : 1, n = map->dim, cols = n / (rows ? rows : 1);
  ND_TRY(check_opts(fp, map, &o, rows));
  for (int64_t r = 0; r < rows; r++) fp->nh[r] = 0, fp->best[r] = INFINITY;
  const int m = o.m;
  int head = -1;
  nd_status st = ND_OK;
  for (int64_t k = 0; k < o.max_iter; k++) {
    ND_TRY(map->g(x, fp->f, map->user));
    res.iterations = k + 1;
    for (int64_t i = 0; i < n; i++) fp->f[i] -= x[i]; /* f_k = g(x_k) - x_k */
    if (m > 0 && k > 0) push_history(fp, x, n, rows, head = (head + 1) % fp->m_max, m);
    if (m > 0) {
      memcpy(fp->x_prev, x, (size_t)n * sizeof(float));
      memcpy(fp->f_prev, fp->f, (size_t)n * sizeof(float));
    }
    bool all_ok = true;
    res.residual = res.change = 0;
    for (int64_t r = 0; r < rows; r++) {
      const float *fr = fp->f + r * cols;
      double fn = sqrt(dot(fr, fr, cols)), xn = sqrt(dot(x + r * cols, x + r * cols, cols));
      if (!isfinite(fn)) {
        res.residual = fn;
        break;
      }
      res.residual = fmax(res.residual, fn);
      if (m > 0 && fp->nh[r] > 0 && fn > o.restart_growth * fp->best[r]) { /* residual grew: restart */
        fp->nh[r] = 0;
        fp->best[r] = INFINITY;
        res.restarts++;
      }
      fp->best[r] = fmin(fp->best[r], fn);
      if (m > 0) {
        st = update_row(fp, r, cols, head, x, &o, k, &res.restarts);
      } else {
        for (int64_t i = 0; i < cols; i++) x[r * cols + i] += (float)o.beta * fr[i];
      }
      if (st != ND_OK) break;
      /* change ||x_{k+1} - x_k||: x_prev holds x_k when m > 0; otherwise it is beta ||f_k|| */
      double ch = m > 0 ? 0 : o.beta * fn;
      if (m > 0) {
        const float *xp = fp->x_prev + r * cols, *xr = x + r * cols;
#pragma omp simd reduction(+ : ch)
        for (int64_t i = 0; i < cols; i++) ch += ((double)xr[i] - xp[i]) * ((double)xr[i] - xp[i]);
        ch = sqrt(ch);
      }
      if (!(ch <= o.tol * xn + o.atol)) all_ok = false;
      res.change = fmax(res.change, xn > 0 ? ch / xn : ch > 0 ? INFINITY : 0);
    }
    if (st != ND_OK || !isfinite(res.residual) || !isfinite(nd__max_abs(x, n))) {
      res.stop = ND_STOP_DIVERGED;
      if (st == ND_OK)
        st = nd__error(ND_ERR_NUMERIC, "fixed_point: iterate or residual not finite at iteration %lld",
                       (long long)res.iterations);
      break;
    }
    if (o.observer && o.observer(res.iterations, (double)res.iterations, x, o.observer_user) != 0) {
      res.stop = ND_STOP_OBSERVER;
      break;
    }
    if (all_ok) {
      res.stop = ND_STOP_TOLERANCE;
      break;
    }
  }
  if (result) *result = res;
  return st;
}
