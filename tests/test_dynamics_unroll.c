/* Differentiable unroll (nd_ad_unroll, include/neurodyn/dynamics.h): closed
 * form gradients of y_T for dy/dt = a y under Euler ((1 + a dt)^T) and RK4
 * (R(a dt)^T with R the degree-4 Taylor polynomial of e^z), gradchecks by
 * central differences through a batched tanh RNN for both integrators with
 * respect to the initial state and the parameters, a loss over the recorded
 * trajectory, forward values against nd_integrate, and errors. */
#include "ad_test.h"

#include <string.h>

#include "neurodyn/dynamics.h"

/* ---- dy/dt = a y, a one-element parameter ---- */
static nd_var *lin_rhs(nd_tape *tp, double t, nd_var *y, void *user) {
  (void)t;
  return nd_ad_mul(tp, y, (nd_var *)user);
}

static double rk4_R(double z) { return 1 + z + z * z / 2 + z * z * z / 6 + z * z * z * z / 24; }
static double rk4_dR(double z) { return 1 + z + z * z / 2 + z * z * z / 6; }

static void test_linear_closed_form(void **state) {
  (void)state;
  const double dt = 0.05;
  const int64_t T = 30;
  const float a0 = -0.8f;
  const float y0v[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  for (int k = 0; k < 2; k++) {
    nd_tape *tp;
    nd_assert_ok(nd_tape_create(0, &tp));
    float av = a0, ga = 0, yv[4], gy[4] = {0};
    memcpy(yv, y0v, sizeof yv);
    nd_tensor ta = nd_tensor_wrap(&av, 1, ND_SHAPE(1)), tga = nd_tensor_wrap(&ga, 1, ND_SHAPE(1));
    nd_tensor ty = nd_tensor_wrap(yv, 2, ND_SHAPE(2, 2)), tgy = nd_tensor_wrap(gy, 2, ND_SHAPE(2, 2));
    nd_var *a = nd_tape_param(tp, &ta, &tga);
    nd_var *y0 = nd_tape_param(tp, &ty, &tgy);
    nd_var *states[T + 1];
    nd_var *yT = nd_ad_unroll(tp, (nd_integrator_kind)k, lin_rhs, a, y0, 0.0, dt, T, states);
    assert_non_null(yT);
    assert_ptr_equal(states[0], y0);
    assert_ptr_equal(states[T], yT);
    nd_assert_ok(nd_tape_backward(tp, nd_ad_sum(tp, yT)));
    const double z = a0 * dt;
    const double R = k == 0 ? 1 + z : rk4_R(z), dR = k == 0 ? 1 : rk4_dR(z);
    double s0 = 0;
    for (int i = 0; i < 4; i++) s0 += y0v[i];
    /* y_T = R^T y0: dL/dy0_i = R^T, dL/da = T R^(T-1) R'(a dt) dt sum y0 */
    for (int i = 0; i < 4; i++) {
      nd_assert_close(nd_var_value(yT)->data[i], pow(R, T) * y0v[i], 1e-6, 1e-5);
      nd_assert_close(gy[i], pow(R, T), 1e-6, 1e-5);
    }
    nd_assert_close(ga, T * pow(R, T - 1) * dR * dt * s0, 1e-6, 1e-5);
    /* and the Euler gradient is not the RK4 one: they differ at this dt */
    if (k == 0) assert_true(fabs(pow(R, T) - pow(rk4_R(z), T)) > 1e-3);
    /* intermediate state n = 10 */
    nd_assert_close(nd_var_value(states[10])->data[3], pow(R, 10) * y0v[3], 1e-6, 1e-5);
    nd_tape_free(tp);
  }
}

/* ---- batched tanh RNN: dy/dt = -y + tanh(y W^T + b) + u sin(t) ---- */
typedef struct rnn_ctx {
  nd_var *W, *b, *u;
  nd_integrator_kind kind;
  int64_t steps;
  bool trajectory;
} rnn_ctx;

static nd_var *rnn_rhs(nd_tape *tp, double t, nd_var *y, void *user) {
  rnn_ctx *c = user;
  nd_var *drive = nd_ad_scale(tp, c->u, (float)sin(t)); /* time-dependent input [3] */
  nd_var *pre = nd_ad_add(tp, nd_ad_linear(tp, y, c->W, c->b), drive);
  return nd_ad_sub(tp, nd_ad_tanh(tp, pre), y);
}

static nd_status rnn_fn(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  rnn_ctx *c = user;
  c->W = leaves[1];
  c->b = leaves[2];
  c->u = leaves[3];
  nd_var *states[21];
  nd_var *yT = nd_ad_unroll(tp, c->kind, rnn_rhs, c, leaves[0], 0.3, 0.1, c->steps, c->trajectory ? states : NULL);
  if (c->trajectory && yT) {
    /* a loss over the whole trajectory: sum_n mean(y_n^2) */
    nd_var *acc = nd_ad_mean(tp, nd_ad_square(tp, states[1]));
    for (int64_t n = 2; n <= c->steps; n++) acc = nd_ad_add(tp, acc, nd_ad_mean(tp, nd_ad_square(tp, states[n])));
    yT = acc;
  }
  *out = yT;
  return nd_tape_status(tp);
}

static void test_gradcheck_rnn(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++)
    for (int traj = 0; traj < 2; traj++) {
      nd_tensor *y0 = ad_tensor(2, ND_SHAPE(4, 3), 1);
      nd_tensor *W = ad_tensor(2, ND_SHAPE(3, 3), 2);
      nd_tensor *b = ad_tensor(1, ND_SHAPE(3), 3);
      nd_tensor *u = ad_tensor(1, ND_SHAPE(3), 4);
      rnn_ctx c = {NULL, NULL, NULL, (nd_integrator_kind)k, 20, traj != 0};
      char what[64];
      snprintf(what, sizeof what, "unroll %s%s", nd_integrator_name(c.kind), traj ? " trajectory" : "");
      AD_GRADCHECK(what, rnn_fn, &c, y0, W, b, u);
      nd_tensor_free(y0);
      nd_tensor_free(W);
      nd_tensor_free(b);
      nd_tensor_free(u);
    }
}

/* the unroll's forward pass follows nd_integrate for the same system */
typedef struct plain_ctx {
  const float *W, *b, *u;
} plain_ctx;

static nd_status rnn_plain(double t, const float *y, float *dy, void *user) {
  const plain_ctx *c = user;
  for (int r = 0; r < 4; r++)
    for (int i = 0; i < 3; i++) {
      float s = 0;
      for (int j = 0; j < 3; j++) s += y[r * 3 + j] * c->W[i * 3 + j];
      s += c->b[i] + c->u[i] * (float)sin(t);
      dy[r * 3 + i] = tanhf(s) - y[r * 3 + i];
    }
  return ND_OK;
}

static void test_forward_matches_integrate(void **state) {
  (void)state;
  for (int k = 0; k < 2; k++) {
    nd_tensor *y0 = ad_tensor(2, ND_SHAPE(4, 3), 11);
    nd_tensor *W = ad_tensor(2, ND_SHAPE(3, 3), 12);
    nd_tensor *b = ad_tensor(1, ND_SHAPE(3), 13);
    nd_tensor *u = ad_tensor(1, ND_SHAPE(3), 14);
    nd_tape *tp;
    nd_assert_ok(nd_tape_create(0, &tp));
    nd_assert_ok(nd_tape_set_recording(tp, false)); /* values only */
    rnn_ctx c = {nd_tape_constant(tp, W), nd_tape_constant(tp, b), nd_tape_constant(tp, u), (nd_integrator_kind)k,
                 40, false};
    nd_var *yT = nd_ad_unroll(tp, c.kind, rnn_rhs, &c, nd_tape_constant(tp, y0), 0.3, 0.05, 40, NULL);
    assert_non_null(yT);
    assert_int_equal(nd_tape_num_nodes(tp), 0);
    float y[12];
    memcpy(y, y0->data, sizeof y);
    plain_ctx pc = {W->data, b->data, u->data};
    nd_integrator *it;
    nd_assert_ok(nd_integrator_create(c.kind, 12, &it));
    nd_system sys = {12, rnn_plain, &pc};
    nd_integrate_result r;
    nd_assert_ok(nd_integrate(it, &sys, 0.3, 0.3 + 40 * 0.05, 0.05, y, NULL, &r));
    assert_int_equal(r.steps, 40);
    nd_assert_arrays_close(nd_var_value(yT)->data, y, 12, 1e-5, 1e-5, "unroll vs nd_integrate");
    nd_integrator_free(it);
    nd_tape_free(tp);
    nd_tensor_free(y0);
    nd_tensor_free(W);
    nd_tensor_free(b);
    nd_tensor_free(u);
  }
}

/* ---- errors ---- */
static nd_var *wrong_shape(nd_tape *tp, double t, nd_var *y, void *user) {
  (void)t;
  (void)y;
  return nd_tape_constant(tp, (nd_tensor *)user);
}

static nd_var *returns_null(nd_tape *tp, double t, nd_var *y, void *user) {
  (void)tp;
  (void)t;
  (void)y;
  (void)user;
  return NULL;
}

static void test_errors(void **state) {
  (void)state;
  float v[6] = {1, 2, 3, 4, 5, 6}, w[5] = {0};
  nd_tensor ty = nd_tensor_wrap(v, 2, ND_SHAPE(2, 3)), tw = nd_tensor_wrap(w, 1, ND_SHAPE(5));
  nd_tape *tp;
  nd_assert_ok(nd_tape_create(0, &tp));
  nd_var *y = nd_tape_variable(tp, &ty);
  nd_var *a = nd_tape_constant(tp, &tw);
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_RK4, wrong_shape, &tw, y, 0, 0.1, 3, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "right-hand side returned 5"));
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_EULER, returns_null, NULL, y, 0, 0.1, 3, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  a = nd_tape_constant(tp, &tw);
  (void)a;
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_EULER, lin_rhs, NULL, y, 0, 0.0, 3, NULL));
  assert_int_equal(nd_tape_status(tp), ND_ERR_INVALID_ARG);
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_EULER, lin_rhs, NULL, y, 0, 0.1, -1, NULL));
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  assert_null(nd_ad_unroll(tp, (nd_integrator_kind)4, lin_rhs, NULL, y, 0, 0.1, 1, NULL));
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_EULER, NULL, NULL, y, 0, 0.1, 1, NULL));
  nd_tape_reset(tp);
  assert_null(nd_ad_unroll(tp, ND_INTEGRATOR_EULER, lin_rhs, NULL, NULL, 0, 0.1, 1, NULL));
  assert_null(nd_ad_unroll(NULL, ND_INTEGRATOR_EULER, lin_rhs, NULL, y, 0, 0.1, 1, NULL));
  /* zero steps: y0 itself */
  nd_tape_reset(tp);
  y = nd_tape_variable(tp, &ty);
  nd_var *st[1];
  assert_ptr_equal(nd_ad_unroll(tp, ND_INTEGRATOR_RK4, lin_rhs, NULL, y, 0, 0.1, 0, st), y);
  assert_ptr_equal(st[0], y);
  /* one step with nd_ad_unroll_step: Euler y + dt * a y */
  float av = 2.0f;
  nd_tensor ta = nd_tensor_wrap(&av, 1, ND_SHAPE(1));
  nd_var *ap = nd_tape_constant(tp, &ta);
  nd_var *y1 = nd_ad_unroll_step(tp, ND_INTEGRATOR_EULER, lin_rhs, ap, y, 0, 0.25);
  assert_non_null(y1);
  for (int i = 0; i < 6; i++) nd_assert_close(nd_var_value(y1)->data[i], 1.5 * v[i], 0, 0);
  assert_null(nd_ad_unroll_step(tp, ND_INTEGRATOR_EULER, lin_rhs, ap, y, 0, NAN));
  nd_tape_free(tp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear_closed_form),
      cmocka_unit_test(test_gradcheck_rnn),
      cmocka_unit_test(test_forward_matches_integrate),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
