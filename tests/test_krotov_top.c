/* Krotov-Hopfield top layer (Eq. 11-12): features against a naive loop, the
 * loss gradient wrt S against nd_gradcheck and against the closed form of
 * Eq. 11-12 (Krotov & Hopfield, PNAS 116(16):7723, 2019) differentiated by
 * hand (dC/dS = G^T f, G = beta m |c-t|^(m-1) sign(c-t)(1-c^2), evaluated in
 * double), and training on a separable toy problem. */
#include "nd_test.h"

#include <string.h>

static void test_features_naive(void **state) {
  (void)state;
  const int64_t n = 7, d = 5, h = 4;
  float v[7 * 5], w[4 * 5];
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_rng_uniform(&r, v, n * d, 0.0f, 1.0f);
  nd_rng_normal(&r, w, h * d, 0.0f, 1.0f);
  nd_tensor wt = nd_tensor_wrap(w, 2, ND_SHAPE(h, d));
  for (int metric = 0; metric < 2; metric++) {
    float p = metric ? 3.0f : 0.0f;
    nd_tensor f;
    nd_assert_ok(nd_krotov_features(&wt, v, n, d, 4.5f, p, &f));
    assert_int_equal(f.shape[0], n);
    assert_int_equal(f.shape[1], h);
    int positive = 0, zero = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t mu = 0; mu < h; mu++) {
        double a = 0;
        for (int64_t j = 0; j < d; j++) {
          double wj = w[mu * d + j];
          double wm = metric ? (wj < 0 ? -1.0 : 1.0) * pow(fabs(wj), p - 1.0) : wj;
          a += wm * v[i * d + j];
        }
        double want = a > 0 ? pow(a, 4.5) : 0.0;
        positive += a > 0;
        zero += a <= 0;
        nd_assert_close(f.data[i * h + mu], want, 1e-5, 1e-4);
      }
    assert_true(positive > 0 && zero > 0); /* both branches of the rectifier are exercised */
    nd_tensor_release(&f);
  }
}

typedef struct loss_ctx {
  nd_krotov_top *top;
  nd_tensor *f;
  const int32_t *labels;
} loss_ctx;

static nd_status loss_fn(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  loss_ctx *c = user;
  nd_var *cv = nd_krotov_readout(tp, nd_tape_constant(tp, c->f), leaves[0], nd_krotov_top_config_of(c->top)->beta);
  *out = nd_krotov_top_loss(c->top, tp, cv, c->labels);
  return nd_tape_status(tp);
}

static void test_gradcheck(void **state) {
  (void)state;
  const int64_t b = 6, h = 5, k = 3;
  nd_krotov_top_config cfg = nd_krotov_top_defaults(h, k);
  cfg.beta = 0.7f;
  cfg.init_std = 0.5f;
  cfg.seed = 11;
  cfg.m = 6.0f;
  nd_krotov_top *top;
  nd_assert_ok(nd_krotov_top_create(&cfg, &top));
  float fd[6 * 5];
  nd_rng r;
  nd_rng_init(&r, 5);
  nd_rng_uniform(&r, fd, b * h, -1.0f, 1.0f);
  for (int i = 0; i < b * h; i++) fd[i] = fd[i] > 0 ? fd[i] : 0.0f; /* rectified features */
  nd_tensor f = nd_tensor_wrap(fd, 2, ND_SHAPE(b, h));
  int32_t labels[6] = {0, 1, 2, 2, 1, 0};
  loss_ctx ctx = {top, &f, labels};

  nd_tensor *vals[1] = {nd_krotov_top_weights(top)};
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  nd_gradcheck_result res;
  nd_assert_ok(nd_gradcheck(loss_fn, &ctx, 1, vals, &o, &res));
  if (!res.passed)
    fail_msg("gradcheck: worst element %lld analytic %g numeric %g", (long long)res.worst_index,
             res.worst_analytic, res.worst_numeric);
  assert_int_equal(res.checked, h * k);

  /* Closed form in double against the tape's gradient. */
  nd_tape *tp = nd_test_tape(0);
  nd_tensor *ds = nd_krotov_top_grad(top);
  nd_tensor_fill(ds, 0.0f);
  nd_var *c = nd_krotov_top_forward(top, tp, nd_tape_constant(tp, &f));
  nd_var *loss = nd_krotov_top_loss(top, tp, c, labels);
  nd_assert_ok(nd_tape_backward(tp, loss));
  const float *s = nd_krotov_top_weights(top)->data;
  double want[3 * 5] = {0}, want_loss = 0;
  for (int64_t i = 0; i < b; i++)
    for (int64_t a = 0; a < k; a++) {
      double z = 0;
      for (int64_t mu = 0; mu < h; mu++) z += (double)s[a * h + mu] * fd[i * h + mu];
      double cc = tanh(cfg.beta * z), t = a == labels[i] ? 1.0 : -1.0, e = cc - t;
      want_loss += pow(fabs(e), cfg.m);
      double g = cfg.beta * cfg.m * pow(fabs(e), cfg.m - 1) * (e > 0 ? 1 : -1) * (1 - cc * cc);
      for (int64_t mu = 0; mu < h; mu++) want[a * h + mu] += g * fd[i * h + mu];
    }
  nd_assert_close(nd_var_item(loss), want_loss, 1e-5, 1e-4);
  float wantf[15];
  for (int i = 0; i < 15; i++) wantf[i] = (float)want[i];
  nd_assert_arrays_close(ds->data, wantf, h * k, 1e-5, 1e-3, "dC/dS");
  nd_tape_free(tp);
  nd_krotov_top_free(top);
}

/* A unit whose feature is 0 passes no gradient to its column of S. */
static void test_zero_feature_zero_grad(void **state) {
  (void)state;
  nd_krotov_top_config cfg = nd_krotov_top_defaults(3, 2);
  cfg.init_std = 0.3f;
  nd_krotov_top *top;
  nd_assert_ok(nd_krotov_top_create(&cfg, &top));
  float fd[2 * 3] = {0.5f, 0.0f, 1.0f, 0.2f, 0.0f, 0.0f};
  nd_tensor f = nd_tensor_wrap(fd, 2, ND_SHAPE(2, 3));
  int32_t labels[2] = {1, 0};
  nd_tape *tp = nd_test_tape(0);
  nd_tensor *ds = nd_krotov_top_grad(top);
  nd_tensor_fill(ds, 0.0f);
  nd_assert_ok(nd_tape_backward(tp, nd_krotov_top_loss(top, tp, nd_krotov_top_forward(top, tp, nd_tape_constant(tp, &f)), labels)));
  for (int a = 0; a < 2; a++) assert_true(ds->data[a * 3 + 1] == 0.0f);
  assert_true(ds->data[0] != 0.0f);
  nd_tape_free(tp);
  nd_krotov_top_free(top);
}

static void test_bad_input(void **state) {
  (void)state;
  nd_krotov_top_config cfg = nd_krotov_top_defaults(4, 3);
  cfg.m = 0.5f;
  nd_krotov_top *top = NULL;
  assert_int_equal(nd_krotov_top_create(&cfg, &top), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "m = 0.5"));
  cfg = nd_krotov_top_defaults(4, 3);
  cfg.dropout = 1.0f;
  assert_int_equal(nd_krotov_top_create(&cfg, &top), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "dropout = 1"));
  cfg = nd_krotov_top_defaults(4, 3);
  nd_assert_ok(nd_krotov_top_create(&cfg, &top));
  float fd[2 * 5] = {0};
  nd_tensor f = nd_tensor_wrap(fd, 2, ND_SHAPE(2, 5));
  int32_t pred[2];
  assert_int_equal(nd_krotov_top_predict(top, &f, pred), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "2x5"));
  nd_krotov_top_free(top);
}

/* Four classes, each with its own prototype over 12 rectified-power features
 * plus noise: Adam on Eq. 12 must reach 100% training and held-out accuracy,
 * with and without dropout on the features; dropout must work on a copy (the
 * caller's features unchanged) and change the trajectory. */
static void run_separable(float dropout, float *s_out) {
  const int64_t n = 200, d = 12, h = 12, k = 4;
  float *v = malloc(sizeof(float) * n * d), *vt = malloc(sizeof(float) * n * d);
  int32_t *y = malloc(sizeof(int32_t) * n), *yt = malloc(sizeof(int32_t) * n);
  nd_rng r;
  nd_rng_init(&r, 9);
  for (int split = 0; split < 2; split++) {
    float *vv = split ? vt : v;
    int32_t *yy = split ? yt : y;
    nd_rng_uniform(&r, vv, n * d, 0.0f, 0.4f);
    for (int64_t i = 0; i < n; i++) {
      yy[i] = (int32_t)(i % k);
      for (int64_t j = 0; j < 3; j++) vv[i * d + yy[i] * 3 + j] += 1.0f; /* class block */
    }
  }
  /* W: identity-like hidden layer, one unit per input */
  float *w = calloc((size_t)(h * d), sizeof(float));
  for (int64_t i = 0; i < h; i++) w[i * d + i] = 1.0f;
  nd_tensor wt = nd_tensor_wrap(w, 2, ND_SHAPE(h, d));
  nd_tensor f, ft;
  nd_assert_ok(nd_krotov_features(&wt, v, n, d, 4.5f, 0.0f, &f));
  nd_assert_ok(nd_krotov_features(&wt, vt, n, d, 4.5f, 0.0f, &ft));

  float *f_copy = malloc(sizeof(float) * (size_t)(n * h));
  memcpy(f_copy, f.data, sizeof(float) * (size_t)(n * h));
  nd_krotov_top_config cfg = nd_krotov_top_defaults(h, k);
  cfg.dropout = dropout;
  cfg.beta = nd_krotov_top_auto_beta(&f);
  assert_true(cfg.beta > 0.0f && isfinite(cfg.beta));
  nd_krotov_top *top;
  nd_assert_ok(nd_krotov_top_create(&cfg, &top));
  nd_optim_config oc = nd_optim_defaults(ND_OPTIM_ADAM);
  oc.lr = 1e-2f;
  nd_optim *opt;
  nd_tensor *pp[1] = {nd_krotov_top_weights(top)}, *gg[1] = {nd_krotov_top_grad(top)};
  nd_assert_ok(nd_optim_create(&oc, 1, pp, gg, &opt));
  double err0, err, loss0 = 0, loss = 0;
  nd_assert_ok(nd_krotov_top_error(top, &f, y, &err0));
  for (int e = 0; e < 60; e++) {
    nd_assert_ok(nd_krotov_top_train_epoch(top, opt, &f, y, 20, &r, &loss));
    if (e == 0) loss0 = loss;
  }
  nd_assert_ok(nd_krotov_top_error(top, &f, y, &err));
  assert_true(loss < 0.5 * loss0);
  nd_assert_close(err, 0.0, 0.0, 0.0);
  nd_assert_ok(nd_krotov_top_error(top, &ft, yt, &err));
  nd_assert_close(err, 0.0, 0.0, 0.0);
  assert_true(err0 > 0.2); /* it did learn something */
  nd_assert_arrays_close(f.data, f_copy, n * h, 0, 0, "features after training");
  memcpy(s_out, nd_krotov_top_weights(top)->data, sizeof(float) * (size_t)(k * h));
  free(f_copy);
  nd_optim_free(opt);
  nd_krotov_top_free(top);
  nd_tensor_release(&f);
  nd_tensor_release(&ft);
  free(w);
  free(v);
  free(vt);
  free(y);
  free(yt);
}

static void test_separable_trains(void **state) {
  (void)state;
  float s_plain[4 * 12], s_drop[4 * 12];
  run_separable(0.0f, s_plain);
  run_separable(0.3f, s_drop);
  double diff = 0;
  for (int i = 0; i < 4 * 12; i++) diff = fmax(diff, fabs(s_plain[i] - s_drop[i]));
  assert_true(diff > 1e-3); /* dropout really masked something */
}

/* Dropout's rate, measured through the loss: two classes, feature f_a = 1 for
 * class a, S = 20 (2I - 1) so a kept row has c = t exactly (loss 0) and a
 * dropped row has c = 0 (loss 2).  One minibatch of all n rows, so the loss
 * is computed before S moves: mean loss = 2 * (fraction dropped). */
static void test_dropout_rate(void **state) {
  (void)state;
  const int64_t n = 4000;
  float *fd = calloc((size_t)(2 * n), sizeof(float));
  int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(i % 2), fd[i * 2 + y[i]] = 1.0f;
  nd_tensor f = nd_tensor_wrap(fd, 2, ND_SHAPE(n, 2));
  float sd[4] = {20, -20, -20, 20};
  nd_tensor s = nd_tensor_wrap(sd, 2, ND_SHAPE(2, 2));
  const float rates[3] = {0.0f, 0.3f, 0.7f};
  for (int r = 0; r < 3; r++) {
    nd_krotov_top_config cfg = nd_krotov_top_defaults(2, 2);
    cfg.dropout = rates[r];
    nd_krotov_top *top;
    nd_assert_ok(nd_krotov_top_create(&cfg, &top));
    nd_assert_ok(nd_krotov_top_set_weights(top, &s));
    nd_optim_config oc = nd_optim_defaults(ND_OPTIM_SGD);
    nd_optim *opt;
    nd_tensor *pp[1] = {nd_krotov_top_weights(top)}, *gg[1] = {nd_krotov_top_grad(top)};
    nd_assert_ok(nd_optim_create(&oc, 1, pp, gg, &opt));
    nd_rng rng;
    nd_rng_init(&rng, 5);
    double loss = -1;
    nd_assert_ok(nd_krotov_top_train_epoch(top, opt, &f, y, n, &rng, &loss));
    /* binomial: sd of the dropped fraction is sqrt(d(1-d)/n) <= 0.008 */
    if (!(fabs(loss - 2.0 * rates[r]) <= 0.05))
      fail_msg("dropout %g: mean loss %g, want %g", (double)rates[r], loss, 2.0 * rates[r]);
    nd_optim_free(opt);
    nd_krotov_top_free(top);
  }
  free(fd);
  free(y);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_features_naive),        cmocka_unit_test(test_gradcheck),
      cmocka_unit_test(test_zero_feature_zero_grad), cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_separable_trains),      cmocka_unit_test(test_dropout_rate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
