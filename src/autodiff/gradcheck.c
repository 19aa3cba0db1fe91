/* Gradient checker: tape gradient vs central differences in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/rng.h"

nd_gradcheck_opts nd_gradcheck_default_opts(void) {
  nd_gradcheck_opts o = {.step = 1e-3, .atol = 1e-3, .rtol = 1e-2, .max_per_leaf = 0, .seed = 1234};
  return o;
}

typedef struct gc_state {
  nd_gradcheck_fn f;
  void *user;
  int n;
  nd_tensor *const *values;
  nd_tensor *grads;  /* n gradient tensors (owned) */
  nd_var **leaves;   /* n leaf slots */
  float *r;          /* projection vector */
  int64_t r_len;
  nd_rng rng;
} gc_state;

/* Builds f on a fresh tape and returns sum_j r_j out_j in double. */
static nd_status evaluate(gc_state *st, nd_tape *tp, bool record, double *fval, nd_var **out_var) {
  nd_tape_reset(tp);
  nd_tape_set_recording(tp, record);
  for (int i = 0; i < st->n; i++) st->leaves[i] = nd_tape_param(tp, st->values[i], &st->grads[i]);
  ND_TRY(nd_tape_status(tp));
  nd_var *out = NULL;
  nd_status s = st->f(tp, st->leaves, st->user, &out);
  if (s != ND_OK) return s;
  ND_TRY(nd_tape_status(tp));
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "gradcheck: the function returned no output");
  const nd_tensor *y = nd_var_value(out);
  int64_t m = nd_tensor_numel(y);
  if (!st->r) {
    st->r = malloc((size_t)(m > 0 ? m : 1) * sizeof(float));
    if (!st->r) return nd__error(ND_ERR_NOMEM, "gradcheck: out of memory");
    st->r_len = m;
    if (m == 1)
      st->r[0] = 1.0f;
    else
      nd_rng_uniform(&st->rng, st->r, m, -1.0f, 1.0f);
  } else if (m != st->r_len) {
    return nd__error(ND_ERR_SHAPE, "gradcheck: output size changed from %lld to %lld between evaluations",
                     (long long)st->r_len, (long long)m);
  }
  double acc = 0.0;
  for (int64_t j = 0; j < m; j++) acc += (double)st->r[j] * (double)y->data[j];
  *fval = acc;
  if (out_var) *out_var = out;
  return ND_OK;
}

static nd_status run_check(gc_state *st, nd_tape *tp, const nd_gradcheck_opts *o, nd_gradcheck_result *res) {
  /* Analytic gradient: backward from the projection vector. */
  for (int i = 0; i < st->n; i++) nd_tensor_fill(&st->grads[i], 0.0f);
  double f0;
  nd_var *out;
  ND_TRY(evaluate(st, tp, true, &f0, &out));
  nd_tensor seed = nd_tensor_wrap(st->r, nd_var_value(out)->ndim, nd_var_value(out)->shape);
  ND_TRY(nd_tape_backward_seed(tp, out, &seed));

  double worst_excess = 0.0;
  for (int i = 0; i < st->n; i++) {
    nd_tensor *x = st->values[i];
    int64_t numel = nd_tensor_numel(x);
    int64_t count = numel;
    int64_t *idx = NULL;
    if (o->max_per_leaf > 0 && numel > o->max_per_leaf) {
      idx = malloc((size_t)numel * sizeof *idx);
      if (!idx) return nd__error(ND_ERR_NOMEM, "gradcheck: out of memory");
      nd_rng_permutation(&st->rng, idx, numel);
      count = o->max_per_leaf;
    }
    for (int64_t c = 0; c < count; c++) {
      int64_t j = idx ? idx[c] : c;
      float x0 = x->data[j];
      float xp = (float)((double)x0 + o->step), xm = (float)((double)x0 - o->step);
      double fp, fm;
      nd_status s;
      x->data[j] = xp;
      s = evaluate(st, tp, false, &fp, NULL);
      if (s == ND_OK) {
        x->data[j] = xm;
        s = evaluate(st, tp, false, &fm, NULL);
      }
      x->data[j] = x0;
      if (s != ND_OK) {
        free(idx);
        return s;
      }
      double numeric = (fp - fm) / ((double)xp - (double)xm);
      double analytic = st->grads[i].data[j];
      double err = fabs(analytic - numeric);
      double denom = fmax(fmax(fabs(analytic), fabs(numeric)), 1e-12);
      double excess = err - (o->atol + o->rtol * fabs(numeric));
      res->checked++;
      if (err > res->max_abs_err || isnan(err)) res->max_abs_err = err;
      if (err / denom > res->max_rel_err || isnan(err)) res->max_rel_err = err / denom;
      if (!(excess <= 0.0)) res->passed = false;
      double ex = isnan(excess) ? INFINITY : excess;
      if (res->worst_leaf < 0 || ex > worst_excess) {
        worst_excess = ex;
        res->worst_leaf = i;
        res->worst_index = j;
        res->worst_analytic = analytic;
        res->worst_numeric = numeric;
      }
    }
    free(idx);
  }
  return ND_OK;
}

nd_status nd_gradcheck(nd_gradcheck_fn f, void *user, int n_leaves, nd_tensor *const *values,
                       const nd_gradcheck_opts *opts, nd_gradcheck_result *res) {
  if (!f || !values || !res || n_leaves < 1)
    return nd__error(ND_ERR_INVALID_ARG, "gradcheck: need a function, at least one leaf and a result");
  nd_gradcheck_opts o = opts ? *opts : nd_gradcheck_default_opts();
  if (!(o.step > 0.0)) return nd__error(ND_ERR_INVALID_ARG, "gradcheck: step %g must be positive", o.step);
  memset(res, 0, sizeof *res);
  res->worst_leaf = -1;
  res->passed = true;
  for (int i = 0; i < n_leaves; i++)
    if (!values[i] || !nd_tensor_is_contiguous(values[i]))
      return nd__error(ND_ERR_INVALID_ARG, "gradcheck: leaf %d is NULL or not contiguous", i);

  gc_state st = {.f = f, .user = user, .n = n_leaves, .values = values};
  nd_rng_init(&st.rng, o.seed);
  st.grads = calloc((size_t)n_leaves, sizeof *st.grads);
  st.leaves = calloc((size_t)n_leaves, sizeof *st.leaves);
  nd_tape *tp = NULL;
  nd_status s = ND_OK;
  if (!st.grads || !st.leaves) s = nd__error(ND_ERR_NOMEM, "gradcheck: out of memory");
  if (s == ND_OK) s = nd_tape_create(0, &tp);
  for (int i = 0; s == ND_OK && i < n_leaves; i++) s = nd_tensor_alloc(&st.grads[i], values[i]->ndim, values[i]->shape);
  if (s == ND_OK) s = run_check(&st, tp, &o, res);
  for (int i = 0; st.grads && i < n_leaves; i++) nd_tensor_release(&st.grads[i]);
  free(st.grads);
  free(st.leaves);
  free(st.r);
  nd_tape_free(tp);
  return s;
}
