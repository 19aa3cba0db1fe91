/* Checkpoints (include/neurodyn/checkpoint.h) and the families' save/load:
 * field tables round-trip and refuse bad values naming file and key; every
 * model comes back identical and trains on identically. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nd_test.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/krotov.h"
#include "neurodyn/mlp.h"

typedef struct demo_cfg {
  int64_t count;
  int small;
  uint64_t seed;
  double rate;
  float gain;
  bool flag;
  int kind;
} demo_cfg;

static const char *const kinds[] = {"alpha", "beta", NULL};
static const nd_meta_field demo_fields[] = {
    ND_META_FIELD(demo_cfg, count, "count", ND_META_I64, 1, 1000),
    ND_META_FIELD(demo_cfg, small, "small", ND_META_INT, -5, 5),
    ND_META_FIELD(demo_cfg, seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
    ND_META_FIELD(demo_cfg, rate, "rate", ND_META_F64, 0, 1),
    ND_META_FIELD(demo_cfg, gain, "gain", ND_META_F32, -10, 10),
    ND_META_FIELD(demo_cfg, flag, "flag", ND_META_BOOL, 0, 1),
    ND_META_CHOICE_FIELD(demo_cfg, kind, "kind", kinds),
};
#define N_DEMO 7

static char path_buf[256];
static const char *tmp_path(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/nd_test_ckpt_%d_%s", ND_BUILD_DIR, (int)getpid(), name);
  return path_buf;
}

static void test_fields_round_trip(void **state) {
  (void)state;
  demo_cfg a = {.count = 17, .small = -3, .seed = 18446744073709551615ULL, .rate = 0.1, .gain = 1.5f, .flag = true, .kind = 1};
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_checkpoint_put_fields(ck, N_DEMO, demo_fields, &a));
  assert_string_equal(nd_checkpoint_meta(ck, "kind"), "beta");
  assert_string_equal(nd_checkpoint_meta(ck, "seed"), "18446744073709551615");
  nd_assert_ok(nd_checkpoint_put_meta(ck, "model", "demo"));
  float x[6] = {1, 2, 3, 4, 5, 6};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3));
  nd_assert_ok(nd_checkpoint_put_tensor(ck, "x", &t));
  assert_int_equal(nd_checkpoint_put_tensor(ck, "x", &t), ND_ERR_INVALID_ARG); /* names are unique */
  const char *p = tmp_path("fields.safetensors");
  nd_assert_ok(nd_checkpoint_write(ck, p));
  nd_checkpoint_free(ck);

  nd_assert_ok(nd_checkpoint_read(p, &ck));
  demo_cfg b;
  memset(&b, 0, sizeof b);
  nd_assert_ok(nd_checkpoint_get_fields(ck, N_DEMO, demo_fields, &b));
  assert_int_equal(b.count, a.count);
  assert_int_equal(b.small, a.small);
  assert_true(b.seed == a.seed);
  assert_true(b.rate == a.rate); /* %.17g round-trips doubles */
  assert_true(b.gain == a.gain);
  assert_true(b.flag);
  assert_int_equal(b.kind, 1);
  nd_assert_ok(nd_checkpoint_expect_model(ck, "demo"));
  assert_int_equal(nd_checkpoint_expect_model(ck, "krotov"), ND_ERR_FORMAT);
  nd_tensor got = {0};
  nd_assert_ok(nd_checkpoint_get_tensor(ck, "x", 2, ND_SHAPE(2, -1), &got));
  assert_memory_equal(got.data, x, sizeof x);
  nd_tensor_release(&got);
  assert_int_equal(nd_checkpoint_get_tensor(ck, "x", 2, ND_SHAPE(3, 2), &got), ND_ERR_SHAPE);
  assert_non_null(strstr(nd_last_error(), "'x' is 2x3, expected 3x2"));
  assert_int_equal(nd_checkpoint_get_tensor(ck, "missing", 1, ND_SHAPE(1), &got), ND_ERR_FORMAT);
  nd_checkpoint_free(ck);
  unlink(p);
}

/* Each bad value is refused with a message naming the file and the key. */
static void test_fields_refuse_bad_values(void **state) {
  (void)state;
  const struct {
    const char *key, *value;
  } bad[] = {{"count", "20.7"}, {"count", "1e300"}, {"count", "abc"}, {"count", ""},   {"count", "0"},
             {"count", "1001"}, {"count", "99999999999999999999"},  {"small", "6"},   {"seed", "-1"},
             {"rate", "nan"},   {"rate", "inf"},  {"rate", "1.5"},  {"rate", "0.5x"}, {"gain", "1e39"},
             {"flag", "yes"},   {"kind", "gamma"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    demo_cfg a = {.count = 5, .rate = 0.5, .flag = false, .kind = 0};
    nd_checkpoint *ck = NULL;
    nd_assert_ok(nd_checkpoint_create(&ck));
    nd_assert_ok(nd_checkpoint_put_fields(ck, N_DEMO, demo_fields, &a));
    nd_assert_ok(nd_checkpoint_put_meta(ck, bad[i].key[0] ? bad[i].key : "count", bad[i].value[0] ? bad[i].value : " "));
    const char *p = tmp_path("bad.safetensors");
    nd_assert_ok(nd_checkpoint_write(ck, p));
    nd_checkpoint_free(ck);
    nd_assert_ok(nd_checkpoint_read(p, &ck));
    demo_cfg b;
    nd_status s = nd_checkpoint_get_fields(ck, N_DEMO, demo_fields, &b);
    if (s != ND_ERR_FORMAT) fail_msg("%s = '%s' was accepted (status %d)", bad[i].key, bad[i].value, (int)s);
    assert_non_null(strstr(nd_last_error(), p));
    char want[64];
    snprintf(want, sizeof want, "'%s'", bad[i].key);
    assert_non_null(strstr(nd_last_error(), want));
    nd_checkpoint_free(ck);
    unlink(p);
  }
  /* a missing key */
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  demo_cfg b;
  assert_int_equal(nd_checkpoint_get_fields(ck, N_DEMO, demo_fields, &b), ND_ERR_FORMAT);
  assert_non_null(strstr(nd_last_error(), "no 'count'"));
  nd_checkpoint_free(ck);
}

/* NaN or Inf in a saved tensor is refused, naming the tensor. */
static void test_non_finite_tensor_refused(void **state) {
  (void)state;
  float bad[4] = {1, NAN, 2, 3};
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_tensor t = nd_tensor_wrap(bad, 1, ND_SHAPE(4));
  nd_assert_ok(nd_checkpoint_put_tensor(ck, "W", &t));
  bad[1] = INFINITY;
  nd_assert_ok(nd_checkpoint_put_tensor(ck, "S", &t));
  nd_tensor got = {0};
  assert_int_equal(nd_checkpoint_get_tensor(ck, "W", 1, ND_SHAPE(4), &got), ND_ERR_FORMAT);
  assert_non_null(strstr(nd_last_error(), "'W' holds a NaN or infinite value (element 1)"));
  assert_int_equal(nd_checkpoint_get_tensor(ck, "S", 1, ND_SHAPE(4), &got), ND_ERR_FORMAT);
  assert_null(got.data);
  nd_checkpoint_free(ck);
}

static nd_checkpoint *through_file(nd_checkpoint *ck, const char *name) {
  const char *p = tmp_path(name);
  nd_assert_ok(nd_checkpoint_write(ck, p));
  nd_checkpoint_free(ck);
  nd_checkpoint *back = NULL;
  nd_assert_ok(nd_checkpoint_read(p, &back));
  unlink(p);
  return back;
}

/* The fast rule saved mid-run and loaded trains on exactly as the
 * original (both precisions); a file of another model is refused. */
static void test_krotov_save_load(void **state) {
  (void)state;
  const int64_t H = 10, D = 8, N = 40;
  float *data = malloc(N * D * sizeof *data);
  nd_rng r;
  nd_rng_init(&r, 1);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  for (int prec = 0; prec < 2; prec++) {
    nd_krotov_config c = nd_krotov_defaults();
    c.hidden = H, c.visible = D, c.batch = 5, c.p = 3, c.k = 2, c.epochs = 5, c.seed = 3;
    c.precision = prec ? ND_KROTOV_F64 : ND_KROTOV_F32;
    nd_krotov *a = NULL, *b = NULL;
    nd_assert_ok(nd_krotov_create(&c, &a));
    nd_assert_ok(nd_krotov_epoch(a, data, N, NULL, NULL));
    nd_checkpoint *ck = NULL;
    nd_assert_ok(nd_checkpoint_create(&ck));
    nd_assert_ok(nd_krotov_save(a, ck));
    ck = through_file(ck, "krotov.safetensors");
    assert_string_equal(nd_checkpoint_model(ck), "krotov");
    nd_assert_ok(nd_krotov_load(ck, &b));
    nd_krotov_ode *wrong = NULL;
    assert_int_equal(nd_krotov_ode_load(ck, &wrong), ND_ERR_FORMAT);
    nd_checkpoint_free(ck);
    assert_int_equal(nd_krotov_config_of(b)->precision, c.precision);
    nd_assert_ok(nd_krotov_epoch(a, data, N, NULL, NULL));
    nd_assert_ok(nd_krotov_epoch(b, data, N, NULL, NULL));
    double *wa = malloc(H * D * sizeof *wa), *wb = malloc(H * D * sizeof *wb);
    nd_krotov_weights_f64(a, wa);
    nd_krotov_weights_f64(b, wb);
    assert_memory_equal(wa, wb, H * D * sizeof *wa);
    free(wa), free(wb);
    nd_krotov_free(a), nd_krotov_free(b);
  }
  free(data);
}

static void test_krotov_ode_save_load(void **state) {
  (void)state;
  const int64_t H = 6, D = 5, N = 12;
  float data[60];
  nd_rng r;
  nd_rng_init(&r, 2);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  c.hidden = H, c.visible = D, c.batch = 4, c.t_max = 2, c.lr = 0.5, c.lr_end = 0.1, c.epochs = 3, c.seed = 9;
  nd_krotov_ode *a = NULL, *b = NULL;
  nd_assert_ok(nd_krotov_ode_create(&c, &a));
  nd_assert_ok(nd_krotov_ode_epoch(a, data, N, NULL, NULL));
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_krotov_ode_save(a, ck));
  ck = through_file(ck, "ode.safetensors");
  nd_assert_ok(nd_krotov_ode_load(ck, &b));
  nd_checkpoint_free(ck);
  assert_true(nd_krotov_ode_config_of(b)->lr_end == 0.1);
  nd_assert_ok(nd_krotov_ode_epoch(a, data, N, NULL, NULL));
  nd_assert_ok(nd_krotov_ode_epoch(b, data, N, NULL, NULL));
  assert_memory_equal(nd_krotov_ode_weights(a)->data, nd_krotov_ode_weights(b)->data, H * D * sizeof(float));
  nd_krotov_ode_free(a), nd_krotov_ode_free(b);
}

static void test_top_and_mlp_save_load(void **state) {
  (void)state;
  nd_krotov_top_config c = nd_krotov_top_defaults(4, 3);
  c.beta = 0.25f, c.lebesgue_p = 3, c.seed = 5;
  nd_krotov_top *t = NULL, *u = NULL;
  nd_assert_ok(nd_krotov_top_create(&c, &t));
  float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  nd_tensor wt = nd_tensor_wrap(w, 2, ND_SHAPE(4, 2)), wb = {0};
  nd_checkpoint *ck = NULL;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_krotov_top_save(t, &wt, ck));
  ck = through_file(ck, "top.safetensors");
  nd_assert_ok(nd_krotov_top_load(ck, &u, &wb));
  nd_checkpoint_free(ck);
  assert_memory_equal(wb.data, w, sizeof w);
  assert_true(nd_krotov_top_config_of(u)->lebesgue_p == 3.0f);
  assert_true(nd_krotov_top_config_of(u)->beta == 0.25f);
  assert_memory_equal(nd_krotov_top_weights(u)->data, nd_krotov_top_weights(t)->data, 12 * sizeof(float));
  nd_tensor_release(&wb);
  nd_krotov_top_free(t), nd_krotov_top_free(u);

  int64_t sizes[3] = {5, 7, 3};
  nd_mlp_config mc = nd_mlp_defaults(3, sizes);
  mc.activation = ND_ACT_RELU_POW, mc.act_param = 4.5f, mc.loss = ND_MLP_LOSS_ABS_POWER, mc.bias = false;
  nd_mlp *m = NULL, *m2 = NULL;
  nd_assert_ok(nd_mlp_create(&mc, &m));
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_mlp_save(m, ck));
  ck = through_file(ck, "mlp.safetensors");
  assert_string_equal(nd_checkpoint_meta(ck, "sizes"), "5,7,3");
  nd_assert_ok(nd_mlp_load(ck, &m2));
  nd_checkpoint_free(ck);
  assert_int_equal(nd_mlp_num_params(m2), nd_mlp_num_params(m));
  assert_int_equal(nd_mlp_config_of(m2)->activation, ND_ACT_RELU_POW);
  for (int i = 0; i < nd_mlp_num_params(m); i++)
    assert_memory_equal(nd_mlp_param(m, i)->data, nd_mlp_param(m2, i)->data,
                        (size_t)nd_tensor_numel(nd_mlp_param(m, i)) * sizeof(float));
  nd_mlp_free(m), nd_mlp_free(m2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fields_round_trip),        cmocka_unit_test(test_fields_refuse_bad_values),
      cmocka_unit_test(test_non_finite_tensor_refused), cmocka_unit_test(test_krotov_save_load),
      cmocka_unit_test(test_krotov_ode_save_load),      cmocka_unit_test(test_top_and_mlp_save_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
