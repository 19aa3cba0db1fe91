/* CordsNet (include/neurodyn/cordsnet.h) against independent references:
 *   - one step with alpha = 1 from zero state equals relu(bias + drive)
 *     computed here by direct loops (the stem convolved by hand);
 *   - the state after many steps satisfies the fixed-point equation
 *     r = relu(conv(r) + b + conv(u(r))) of the continuous system, checked
 *     with the kernels (a different computation than the Euler loop);
 *   - the cached spontaneous phase: a forward after the cache equals a fresh
 *     model's, a batch equals its images one at a time, and a change of the
 *     weights drops the cache;
 *   - save/load round trip (g, v kept) gives identical logits;
 *   - BPTT: the gradient with gradient checkpointing over time (K = 3,
 *     sqrt T) equals the one with every step stored (K = 1), truncation to
 *     all T steps equals no truncation, central finite differences of the
 *     loss agree with the gradient, and the stored bytes grow like sqrt T
 *     with checkpointing and like T without (50/100/200 steps);
 *   - bad configs and arguments.
 * The gradient against PyTorch autograd is tests/python/test_cordsnet_grad_torch.py.
 * Parity with PyTorch is tests/python/test_cordsnet_torch.py. */
#include "nd_test.h"

#include <string.h>
#include <unistd.h>

#include "neurodyn/cordsnet.h"

static nd_cordsnet_config small_native(int depth) {
  nd_cordsnet_config c = nd_cordsnet_defaults();
  c.layout = ND_CORDSNET_NATIVE;
  c.depth = depth;
  c.in_channels = 1;
  c.classes = 5;
  c.in_h = c.in_w = 28;
  c.width = 3;
  return c;
}

static void fill_input(float *x, int64_t n, uint64_t seed) {
  nd_rng r;
  nd_rng_init(&r, seed);
  nd_rng_uniform(&r, x, n, 0.0f, 1.0f);
}

static void scale_g(nd_cordsnet *m, float f) {
  /* every g halves: smaller weights keep random dynamics bounded */
  float *p = nd_cordsnet_params(m);
  int64_t n = nd_cordsnet_num_params(m);
  for (int64_t i = 0; i < n; i++) p[i] *= f;
  nd_cordsnet_weights_changed(m);
}

static void test_one_step_alpha1(void **st) {
  (void)st;
  nd_cordsnet_config c = small_native(2);
  nd_cordsnet *m;
  nd_assert_ok(nd_cordsnet_create(&c, 1, &m));
  /* biases random, everything else as created */
  int64_t C, H, W;
  nd_assert_ok(nd_cordsnet_area_shape(m, 0, &C, &H, &W));
  const float *b0;
  nd_assert_ok(nd_cordsnet_area_bias(m, 0, &b0));
  nd_rng r;
  nd_rng_init(&r, 7);
  nd_rng_uniform(&r, (float *)b0, C * H * W, -0.5f, 0.5f);
  nd_cordsnet_weights_changed(m);
  float x[28 * 28], logits[5];
  fill_input(x, 28 * 28, 3);
  nd_cordsnet_run run = {0, 1, 1.0f};
  int areas[1] = {0};
  float *traj = malloc(sizeof(float) * (size_t)(C * H * W));
  float *tp[1] = {traj};
  nd_assert_ok(nd_cordsnet_record(m, &run, x, 1, 1, areas, tp, logits));
  /* reference: stem = avgpool3x3s2p1(conv3x3 s1 p1(x)) with W = g v/||v||, folded here */
  const float *p = nd_cordsnet_params(m);
  /* layout of docs/cordsnet.md: inp_conv g [C], v [C,1,3,3] first */
  float ws[64][9];
  for (int64_t o = 0; o < C; o++) {
    double s = 0;
    for (int k = 0; k < 9; k++) s += (double)p[C + o * 9 + k] * p[C + o * 9 + k];
    for (int k = 0; k < 9; k++) ws[o][k] = (float)(p[o] * p[C + o * 9 + k] / sqrt(s));
  }
  static float conv[64][28][28], stem[64][14][14];
  for (int64_t o = 0; o < C; o++)
    for (int i = 0; i < 28; i++)
      for (int j = 0; j < 28; j++) {
        double s = 0;
        for (int di = -1; di <= 1; di++)
          for (int dj = -1; dj <= 1; dj++)
            if (i + di >= 0 && i + di < 28 && j + dj >= 0 && j + dj < 28) s += ws[o][(di + 1) * 3 + dj + 1] * x[(i + di) * 28 + j + dj];
        conv[o][i][j] = (float)s;
      }
  for (int64_t o = 0; o < C; o++)
    for (int i = 0; i < 14; i++)
      for (int j = 0; j < 14; j++) {
        double s = 0;
        for (int di = -1; di <= 1; di++)
          for (int dj = -1; dj <= 1; dj++) {
            int y = 2 * i + di, z = 2 * j + dj;
            if (y >= 0 && y < 28 && z >= 0 && z < 28) s += conv[o][y][z];
          }
        stem[o][i][j] = (float)(s / 9.0);
      }
  /* area_area.0 follows: g [C], v [C,C,3,3] after inp_skip and area_conv.0 */
  int64_t off = C + C * 9;                 /* after inp_conv */
  off += C + C * C * 9;                    /* inp_skip */
  off += C + C * C * 9;                    /* area_conv.0 */
  const float *g = p + off, *v = p + off + C;
  float *want = malloc(sizeof(float) * (size_t)(C * H * W));
  for (int64_t o = 0; o < C; o++) {
    double nn = 0;
    for (int64_t k = 0; k < C * 9; k++) nn += (double)v[o * C * 9 + k] * v[o * C * 9 + k];
    for (int i = 0; i < 14; i++)
      for (int j = 0; j < 14; j++) {
        double s = 0;
        for (int64_t ci = 0; ci < C; ci++)
          for (int di = -1; di <= 1; di++)
            for (int dj = -1; dj <= 1; dj++)
              if (i + di >= 0 && i + di < 14 && j + dj >= 0 && j + dj < 14)
                s += v[((o * C + ci) * 3 + di + 1) * 3 + dj + 1] * stem[ci][i + di][j + dj];
        s = s * g[o] / sqrt(nn) + b0[(o * 14 + i) * 14 + j];
        want[(o * 14 + i) * 14 + j] = (float)(s > 0 ? s : 0);
      }
  }
  nd_assert_arrays_close(traj, want, C * H * W, 1e-5, 1e-4, "area 0 after one alpha=1 step");
  free(want);
  free(traj);
  nd_cordsnet_free(m);
}

static void test_fixed_point(void **st) {
  (void)st;
  nd_cordsnet_config c = small_native(2);
  nd_cordsnet *m;
  nd_assert_ok(nd_cordsnet_create(&c, 2, &m));
  scale_g(m, 0.5f);
  float x[28 * 28], logits[5];
  fill_input(x, 28 * 28, 4);
  nd_cordsnet_run run = {50, 400, 0.2f};
  int64_t C, H, W;
  nd_cordsnet_area_shape(m, 0, &C, &H, &W);
  int64_t n = C * H * W;
  float *t0 = malloc(sizeof(float) * (size_t)(n * 450)), *t1 = malloc(sizeof(float) * (size_t)(n * 450));
  float *tp[2] = {t0, t1};
  int areas[2] = {0, 1};
  nd_assert_ok(nd_cordsnet_record(m, &run, x, 1, 2, areas, tp, logits));
  const float *r1 = t1 + 449 * n;
  const float *r1prev = t1 + 448 * n;
  double change = 0, mx = 0;
  for (int64_t i = 0; i < n; i++) change = fmax(change, fabs(r1[i] - r1prev[i])), mx = fmax(mx, r1[i]);
  assert_true(mx > 1e-3);
  assert_true(change < 1e-6 * (1 + mx)); /* converged */
  /* area 1 at the spontaneous fixed point (x = 0, so u_1 = r_0):
   * r1 = relu(area_conv_1(r1) + b1 + area_area_1(r0)) */
  const float *w1, *b1;
  int64_t kh, kw, hh, ww, cc;
  nd_assert_ok(nd_cordsnet_area_conv(m, 1, &w1, &cc, &kh, &kw, &hh, &ww));
  nd_assert_ok(nd_cordsnet_area_bias(m, 1, &b1));
  /* run the spontaneous phase long enough to converge, then test the equation */
  nd_cordsnet_run run2 = {600, 1, 0.2f};
  const float *sp0, *sp1;
  nd_assert_ok(nd_cordsnet_spontaneous(m, &run2, 0, &sp0));
  nd_assert_ok(nd_cordsnet_spontaneous(m, &run2, 1, &sp1));
  /* area_area_1's folded weight: from params (after area_area.0 and conv_bias.0 and area_conv.1) */
  const float *p = nd_cordsnet_params(m);
  int64_t off = C + C * 9 + (C + C * C * 9) /* inp_skip */ + 2 * (C + C * C * 9) + n /* area 0 */ + (C + C * C * 9);
  const float *g = p + off, *v = p + off + C;
  float *wa = malloc(sizeof(float) * (size_t)(C * C * 9));
  for (int64_t o = 0; o < C; o++) {
    double s = 0;
    for (int64_t k = 0; k < C * 9; k++) s += (double)v[o * C * 9 + k] * v[o * C * 9 + k];
    for (int64_t k = 0; k < C * 9; k++) wa[o * C * 9 + k] = (float)(g[o] * v[o * C * 9 + k] / sqrt(s));
  }
  float *pre = malloc(sizeof(float) * (size_t)n);
  nd_conv2d_desc d = {1, C, H, W, C, 3, 3, 1, 1, 1, 1};
  nd_assert_ok(nd_conv2d_forward(&d, sp1, w1, NULL, 0.0f, pre, NULL));
  nd_assert_ok(nd_conv2d_forward(&d, sp0, wa, NULL, 1.0f, pre, NULL));
  for (int64_t i = 0; i < n; i++) pre[i] = fmaxf(pre[i] + b1[i], 0.0f);
  nd_assert_arrays_close(sp1, pre, n, 1e-5, 1e-4, "spontaneous fixed point of area 1");
  free(pre), free(wa), free(t0), free(t1);
  nd_cordsnet_free(m);
}

static void test_cache_batch_and_roundtrip(void **st) {
  (void)st;
  nd_cordsnet_config c = small_native(4);
  nd_cordsnet *m, *m2, *m3;
  nd_assert_ok(nd_cordsnet_create(&c, 5, &m));
  scale_g(m, 0.6f);
  float x[3 * 28 * 28], la[15], lb[15], l1[5], lc[15];
  fill_input(x, 3 * 28 * 28, 6);
  nd_cordsnet_run run = {30, 30, 0.2f};
  nd_assert_ok(nd_cordsnet_forward(m, &run, x, 3, la));
  nd_assert_ok(nd_cordsnet_forward(m, &run, x, 3, lb)); /* from the cache */
  nd_assert_arrays_close(lb, la, 15, 0, 0, "cached spontaneous phase");
  for (int i = 0; i < 3; i++) {
    nd_assert_ok(nd_cordsnet_forward(m, &run, x + i * 784, 1, l1));
    nd_assert_arrays_close(l1, la + i * 5, 5, 1e-6, 1e-5, "image alone vs in the batch");
  }
  char path[] = "/tmp/nd_cordsnet_test_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  nd_assert_ok(nd_cordsnet_save(m, path));
  nd_assert_ok(nd_cordsnet_load(path, 0, &m2));
  assert_int_equal(nd_cordsnet_config_of(m2)->depth, 4);
  assert_int_equal(nd_cordsnet_config_of(m2)->width, 3);
  assert_int_equal(nd_cordsnet_config_of(m2)->in_h, 28);
  nd_assert_ok(nd_cordsnet_forward(m2, &run, x, 3, lc));
  nd_assert_arrays_close(lc, la, 15, 0, 0, "save/load");
  assert_int_equal(nd_cordsnet_load(path, 6, &m3), ND_ERR_SHAPE);
  /* a weight change drops the cache: m2 (cache filled, then biases changed)
   * must agree with a fresh model loaded from the changed weights */
  float *p = nd_cordsnet_params(m2);
  const float *b;
  nd_assert_ok(nd_cordsnet_area_bias(m2, 0, &b));
  int64_t boff = (int64_t)(b - p);
  for (int64_t i = 0; i < 50; i++) p[boff + i] += 0.3f;
  nd_cordsnet_weights_changed(m2);
  nd_assert_ok(nd_cordsnet_forward(m2, &run, x, 3, lc));
  nd_assert_ok(nd_cordsnet_save(m2, path));
  nd_assert_ok(nd_cordsnet_load(path, 4, &m3));
  nd_assert_ok(nd_cordsnet_forward(m3, &run, x, 3, lb));
  nd_assert_arrays_close(lc, lb, 15, 0, 0, "cache dropped after a weight change");
  double d = 0;
  for (int i = 0; i < 15; i++) d = fmax(d, fabs(lc[i] - la[i]));
  assert_true(d > 1e-5);
  nd_cordsnet_free(m3);
  unlink(path);
  nd_cordsnet_free(m);
  nd_cordsnet_free(m2);
}

static void test_bad_args(void **st) {
  (void)st;
  nd_cordsnet_config c = small_native(2);
  nd_cordsnet *m = NULL;
  c.depth = 3;
  assert_int_equal(nd_cordsnet_config_check(&c), ND_ERR_INVALID_ARG);
  assert_true(strstr(nd_last_error(), "depth") != NULL);
  c = small_native(2), c.width = 0;
  assert_int_equal(nd_cordsnet_create(&c, 0, &m), ND_ERR_INVALID_ARG);
  assert_null(m);
  assert_int_equal(nd_cordsnet_config_check(NULL), ND_ERR_INVALID_ARG);
  c = small_native(2);
  nd_assert_ok(nd_cordsnet_create(&c, 0, &m));
  float x[784], l[5];
  nd_cordsnet_run r = {1, 1, 1.5f};
  assert_int_equal(nd_cordsnet_forward(m, &r, x, 1, l), ND_ERR_INVALID_ARG);
  r = nd_cordsnet_run_defaults();
  r.steps = 0;
  assert_int_equal(nd_cordsnet_forward(m, &r, x, 1, l), ND_ERR_INVALID_ARG);
  r = nd_cordsnet_run_defaults();
  assert_int_equal(nd_cordsnet_forward(m, &r, NULL, 1, l), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_cordsnet_forward(m, &r, x, 0, l), ND_ERR_INVALID_ARG);
  int bad[1] = {2};
  float *tp[1] = {l};
  assert_int_equal(nd_cordsnet_record(m, &r, x, 1, 1, bad, tp, l), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_cordsnet_area_shape(m, 2, NULL, NULL, NULL), ND_ERR_INVALID_ARG);
  nd_cordsnet *m4 = (nd_cordsnet *)1;
  assert_true(nd_cordsnet_load("/nonexistent/cordsnet.safetensors", 0, &m4) != ND_OK);
  assert_null(m4);
  nd_cordsnet_free(m);
  nd_cordsnet_free(NULL);
}

static nd_cordsnet_train small_train(void) {
  nd_cordsnet_train t = nd_cordsnet_train_defaults();
  t.run.steps_spont = 5, t.run.steps = 8, t.run.alpha = 0.25f;
  t.ce_steps = 3, t.post_steps = 4, t.penalty_steps = 2, t.penalty = 0.5f;
  return t;
}

static void test_bptt_checkpointing(void **st) {
  (void)st;
  nd_cordsnet_config c = small_native(4);
  nd_cordsnet *m;
  nd_assert_ok(nd_cordsnet_create(&c, 9, &m));
  float x[4 * 784];
  fill_input(x, 4 * 784, 10);
  int32_t y[4] = {0, 1, 2, 3};
  int64_t n = nd_cordsnet_num_params(m);
  float *g1 = malloc(sizeof(float) * (size_t)n);
  nd_cordsnet_train t = small_train();
  double l1, l2;
  t.checkpoint_every = 1;
  nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &l1, NULL));
  memcpy(g1, nd_cordsnet_grad(m), sizeof(float) * (size_t)n);
  double gn = 0;
  for (int64_t i = 0; i < n; i++) gn += (double)g1[i] * g1[i];
  assert_true(gn > 0);
  int ks[3] = {3, 0, 5};
  for (int k = 0; k < 3; k++) {
    t.checkpoint_every = ks[k];
    nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &l2, NULL));
    assert_true(l1 == l2);
    nd_assert_arrays_close(nd_cordsnet_grad(m), g1, n, 0, 0, "checkpointed gradient");
  }
  t.checkpoint_every = 2, t.truncate = 12; /* = all steps */
  nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &l2, NULL));
  nd_assert_arrays_close(nd_cordsnet_grad(m), g1, n, 0, 0, "truncate = T");
  t.truncate = 3; /* must change the gradient */
  nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &l2, NULL));
  double d = 0;
  for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(nd_cordsnet_grad(m)[i] - g1[i]));
  assert_true(d > 1e-6);
  /* central differences of the loss (float32, so a coarse check) on a few parameters */
  t = small_train();
  nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &l1, NULL));
  memcpy(g1, nd_cordsnet_grad(m), sizeof(float) * (size_t)n);
  float *p = nd_cordsnet_params(m);
  int checked = 0;
  for (int64_t i = 7; i < n && checked < 12; i += n / 997) {
    if (fabs(g1[i]) < 1e-3) continue;
    float p0 = p[i], h = 1e-2f * fmaxf(fabsf(p0), 0.1f);
    double lp, lm;
    p[i] = p0 + h, nd_cordsnet_weights_changed(m);
    nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &lp, NULL));
    p[i] = p0 - h, nd_cordsnet_weights_changed(m);
    nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 4, &lm, NULL));
    p[i] = p0, nd_cordsnet_weights_changed(m);
    nd_assert_close((lp - lm) / (2 * h), g1[i], 2e-4, 5e-2);
    checked++;
  }
  assert_true(checked >= 5);
  /* memory of the stored states: sqrt(T) with checkpointing, T without */
  size_t b[2][3];
  int Ts[3] = {50, 100, 200};
  for (int k = 0; k < 3; k++)
    for (int mode = 0; mode < 2; mode++) {
      t = small_train();
      t.run.steps = Ts[k] - 10, t.post_steps = 10;
      t.checkpoint_every = mode ? 1 : 0;
      nd_assert_ok(nd_cordsnet_loss_grad(m, &t, x, y, 1, &l1, NULL));
      b[mode][k] = nd_cordsnet_bptt_bytes(m);
    }
  assert_true(b[1][2] > 3.5 * b[1][0]);             /* stored: linear in T */
  assert_true(b[0][2] < 2.5 * b[0][0]);             /* checkpointed: ~sqrt(4) = 2 */
  assert_true(b[0][2] * 4 < b[1][2]);
  free(g1);
  nd_cordsnet_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_step_alpha1),
      cmocka_unit_test(test_fixed_point),
      cmocka_unit_test(test_cache_batch_and_roundtrip),
      cmocka_unit_test(test_bptt_checkpointing),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
