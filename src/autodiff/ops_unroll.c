/* Differentiable unroll of the explicit integrators on the tape (BPTT through
 * Euler and RK4), see include/neurodyn/dynamics.h, "Differentiable unroll".
 *
 * Each step is recorded as the user's right-hand-side ops plus one fused
 * combination node per stage, so a step of Euler adds f's nodes and one node
 * y + h k1, and a step of RK4 adds f's nodes four times, three stage nodes
 * y + (h/2) k and one y + h/6 (k1 + 2 k2 + 2 k3 + k4).  The combinations use
 * the same float32 expressions, in the same order, as src/dynamics (the
 * fixed-step integrators), so an unroll's forward values follow nd_integrate
 * for the same f. */
#include <math.h>
#include <string.h>

#include "autodiff/ad_internal.h"
#include "neurodyn/dynamics.h"

/* out = y + a k.  VJP: dy += g, dk += a g. */
static nd_status axpy_backward(nd_tape *tp, nd_var *v) {
  const int64_t n = nd_tensor_numel(&v->value);
  const float *g = v->grad.data;
  float *gi, beta;
  ND_TRY(nd__grad(tp, v->in[0], &gi, &beta));
  if (gi) nd__gadd(gi, beta, 1.0f, g, n);
  ND_TRY(nd__grad(tp, v->in[1], &gi, &beta));
  if (gi) nd__gadd(gi, beta, v->f[0], g, n);
  return ND_OK;
}

static nd_var *axpy(nd_tape *tp, nd_var *y, nd_var *k, float a) {
  nd_var *in[2] = {y, k};
  nd_var *v = nd__new_node(tp, "unroll_stage", y->value.ndim, y->value.shape, 2, in, axpy_backward);
  if (!v) return NULL;
  v->f[0] = a;
  const int64_t n = nd_tensor_numel(&y->value);
  const float *restrict yv = y->value.data, *restrict kv = k->value.data;
  float *restrict o = v->value.data;
  for (int64_t j = 0; j < n; j++) o[j] = yv[j] + a * kv[j];
  return v;
}

/* out = y + h6 ((k1 + 2 k2 + 2 k3) + k4).  VJP: dy += g, dk1 += h6 g,
 * dk2 += 2 h6 g, dk3 += 2 h6 g, dk4 += h6 g. */
static nd_status rk4_backward(nd_tape *tp, nd_var *v) {
  const int64_t n = nd_tensor_numel(&v->value);
  const float *g = v->grad.data;
  const float h6 = v->f[0];
  const float c[5] = {1.0f, h6, 2.0f * h6, 2.0f * h6, h6};
  for (int i = 0; i < 5; i++) {
    float *gi, beta;
    ND_TRY(nd__grad(tp, v->in[i], &gi, &beta));
    if (gi) nd__gadd(gi, beta, c[i], g, n);
  }
  return ND_OK;
}

static nd_var *rk4_combine(nd_tape *tp, nd_var *y, nd_var *k1, nd_var *k2, nd_var *k3, nd_var *k4, float h6) {
  nd_var *in[5] = {y, k1, k2, k3, k4};
  nd_var *v = nd__new_node(tp, "unroll_rk4", y->value.ndim, y->value.shape, 5, in, rk4_backward);
  if (!v) return NULL;
  v->f[0] = h6;
  const int64_t n = nd_tensor_numel(&y->value);
  const float *restrict yv = y->value.data, *restrict a = k1->value.data, *restrict b = k2->value.data,
                        *restrict c = k3->value.data, *restrict d = k4->value.data;
  float *restrict o = v->value.data;
  for (int64_t j = 0; j < n; j++) {
    float s = a[j] + 2.0f * b[j];
    s += 2.0f * c[j];
    o[j] = yv[j] + h6 * (s + d[j]);
  }
  return v;
}

/* f(t, y) with its shape checked against y's. */
static nd_var *eval_rhs(nd_tape *tp, nd_ad_rhs_fn f, void *user, double t, nd_var *y) {
  nd_var *k = f(tp, t, y, user);
  if (!k) {
    if (nd_tape_status(tp) == ND_OK)
      return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "unroll: the right-hand side returned NULL at t = %g", t));
    return NULL;
  }
  if (!nd_tensor_same_shape(&k->value, &y->value)) {
    char a[64], b[64];
    return nd__fail(tp, nd__error(ND_ERR_SHAPE, "unroll: the right-hand side returned %s for a state of shape %s",
                                  nd__shape(k, a), nd__shape(y, b)));
  }
  return k;
}

static nd_var *one_step(nd_tape *tp, nd_integrator_kind kind, nd_ad_rhs_fn f, void *user, nd_var *y, double t,
                        double h) {
  nd_var *k1 = eval_rhs(tp, f, user, t, y);
  if (!k1) return NULL;
  if (kind == ND_INTEGRATOR_EULER) return axpy(tp, y, k1, (float)h);
  const float h2 = (float)(0.5 * h), hf = (float)h, h6 = (float)(h / 6.0);
  nd_var *y2 = axpy(tp, y, k1, h2);
  nd_var *k2 = y2 ? eval_rhs(tp, f, user, t + 0.5 * h, y2) : NULL;
  nd_var *y3 = k2 ? axpy(tp, y, k2, h2) : NULL;
  nd_var *k3 = y3 ? eval_rhs(tp, f, user, t + 0.5 * h, y3) : NULL;
  nd_var *y4 = k3 ? axpy(tp, y, k3, hf) : NULL;
  nd_var *k4 = y4 ? eval_rhs(tp, f, user, t + h, y4) : NULL;
  return k4 ? rk4_combine(tp, y, k1, k2, k3, k4, h6) : NULL;
}

static bool check_args(nd_tape *tp, const char *what, nd_integrator_kind kind, nd_ad_rhs_fn f, nd_var *y, double t,
                       double dt) {
  if (!nd__inputs_ok(tp, what, 1, &y)) return false;
  if (kind != ND_INTEGRATOR_EULER && kind != ND_INTEGRATOR_RK4) {
    nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: kind = %d is not ND_INTEGRATOR_EULER or _RK4", what, (int)kind));
    return false;
  }
  if (!f) {
    nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: right-hand side is NULL", what));
    return false;
  }
  if (!isfinite(dt) || dt == 0.0 || !isfinite(t)) {
    nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "%s: t0 = %g, dt = %g (dt must be finite and non-zero)", what, t, dt));
    return false;
  }
  return true;
}

nd_var *nd_ad_unroll_step(nd_tape *tp, nd_integrator_kind kind, nd_ad_rhs_fn f, void *user, nd_var *y, double t,
                          double dt) {
  if (!check_args(tp, "unroll_step", kind, f, y, t, dt)) return NULL;
  return one_step(tp, kind, f, user, y, t, dt);
}

nd_var *nd_ad_unroll(nd_tape *tp, nd_integrator_kind kind, nd_ad_rhs_fn f, void *user, nd_var *y0, double t0,
                     double dt, int64_t steps, nd_var **states) {
  if (!check_args(tp, "unroll", kind, f, y0, t0, dt)) return NULL;
  if (steps < 0)
    return nd__fail(tp, nd__error(ND_ERR_INVALID_ARG, "unroll: steps = %lld, must be >= 0", (long long)steps));
  nd_var *y = y0;
  if (states) states[0] = y0;
  for (int64_t i = 0; i < steps; i++) {
    y = one_step(tp, kind, f, user, y, t0 + (double)i * dt, dt);
    if (!y) return NULL;
    if (states) states[i + 1] = y;
  }
  return y;
}
