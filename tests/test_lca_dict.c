/* LCA dictionary learning: one minibatch step against the update worked out
 * here from the codes of an independent solve (dense: Phi + lr/B R A^T,
 * renormalised; conv: the same gradient summed over the Toeplitz positions
 * of each filter tap); recovery of a planted dictionary from sparse
 * combinations of its atoms; an epoch stopped part-way, saved and loaded
 * resumes to the bytes of an uninterrupted run; bad arguments. */
#include <string.h>

#include "nd_test.h"

#include "neurodyn/lca.h"

static void normalise_columns(double *w, int64_t m, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    double s = 0;
    for (int64_t i = 0; i < m; i++) s += w[i * n + j] * w[i * n + j];
    for (int64_t i = 0; i < m; i++) w[i * n + j] /= sqrt(s);
  }
}

static nd_lca_dict_config small_dense(void) {
  nd_lca_dict_config c = nd_lca_dict_defaults();
  c.rows = 4, c.cols = 4, c.atoms = 24, c.batch = 20, c.epochs = 3, c.lr = 0.5, c.seed = 11;
  c.lca.lambda = 0.1f;
  c.lca.tol = 1e-5;
  return c;
}

static void test_dense_step(void **state) {
  (void)state;
  nd_lca_dict_config c = small_dense();
  c.epochs = 1;
  const int64_t m = 16, n = 24, B = 20;
  nd_lca_dict *d;
  nd_assert_ok(nd_lca_dict_create(&c, &d));
  const nd_tensor *w = nd_lca_dict_atoms(d);
  assert_int_equal(w->shape[0], m);
  assert_int_equal(w->shape[1], n);
  float *w0 = malloc(sizeof(float) * (size_t)(m * n)), *x = malloc(sizeof(float) * (size_t)(B * m));
  float *a = malloc(sizeof(float) * (size_t)(B * n));
  memcpy(w0, w->data, sizeof(float) * (size_t)(m * n));
  for (int64_t j = 0; j < n; j++) { /* unit columns at create */
    double s = 0;
    for (int64_t i = 0; i < m; i++) s += (double)w0[i * n + j] * w0[i * n + j];
    nd_assert_close(s, 1, 1e-5, 0);
  }
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_rng_normal(&r, x, B * m, 0, 1);
  /* codes of the whole batch (one minibatch is the whole epoch, in sampler
   * order; the update is a sum over rows, so the order does not matter) */
  nd_lca_config lc = c.lca;
  nd_lca *l;
  nd_assert_ok(nd_lca_create(&lc, w0, m, n, B, &l));
  nd_assert_ok(nd_lca_solve(l, x, B, a, NULL));
  double *want = malloc(sizeof(double) * (size_t)(m * n));
  double r2 = 0, s2 = 0;
  for (int64_t i = 0; i < m * n; i++) want[i] = w0[i];
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < m; i++) {
      double res = x[b * m + i];
      for (int64_t j = 0; j < n; j++) res -= (double)w0[i * n + j] * a[b * n + j];
      r2 += res * res, s2 += (double)x[b * m + i] * x[b * m + i];
      for (int64_t j = 0; j < n; j++) want[i * n + j] += c.lr / B * res * a[b * n + j];
    }
  normalise_columns(want, m, n);
  nd_assert_ok(nd_lca_dict_epoch(d, x, B, NULL, NULL));
  w = nd_lca_dict_atoms(d);
  for (int64_t i = 0; i < m * n; i++) nd_assert_close(w->data[i], want[i], 2e-4, 1e-3);
  nd_lca_dict_stats st;
  nd_assert_ok(nd_lca_dict_stats_of(d, &st));
  assert_int_equal(st.signals, B);
  nd_assert_close(st.rel_error, r2 / s2, 1e-4, 1e-3);
  assert_true(st.sparsity > 0 && st.sparsity < 1);
  assert_int_equal(nd_lca_dict_epoch(d, x, B, NULL, NULL), ND_ERR_INVALID_ARG); /* all epochs done */
  free(w0), free(x), free(a), free(want);
  nd_lca_free(l);
  nd_lca_dict_free(d);
}

static void test_conv_step(void **state) {
  (void)state;
  nd_lca_dict_config c = nd_lca_dict_defaults();
  c.conv = true;
  c.shape = (nd_lca_conv_shape){2, 7, 6, 3, 3, 2, 2, 1, 1, 0};
  c.batch = 2, c.epochs = 1, c.lr = 0.3, c.seed = 5;
  c.lca.tol = 1e-5;
  const int64_t P = (7 + 2 - 3) / 2 + 1, Q = (6 - 2) / 1 + 1, m = 2 * 7 * 6, n = 3 * P * Q, fs = 2 * 3 * 2, B = 2;
  nd_lca_dict *d;
  nd_assert_ok(nd_lca_dict_create(&c, &d));
  assert_int_equal(nd_lca_dict_signal_size(d), m);
  float w0[3 * 12], x[2 * 84], a[2 * 3 * 4 * 5], phi[84 * 60];
  memcpy(w0, nd_lca_dict_atoms(d)->data, sizeof w0);
  nd_rng r;
  nd_rng_init(&r, 8);
  nd_rng_normal(&r, x, B * m, 0, 1);
  /* the Toeplitz dictionary of w0, column (f, p, q) */
  memset(phi, 0, sizeof phi);
  for (int64_t f = 0; f < 3; f++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t q = 0; q < Q; q++)
        for (int64_t ch = 0; ch < 2; ch++)
          for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 2; j++) {
              int64_t y = p * 2 - 1 + i, xx = q + j;
              if (y < 0 || y >= 7) continue;
              phi[((ch * 7 + y) * 6 + xx) * n + (f * P + p) * Q + q] = w0[((f * 2 + ch) * 3 + i) * 2 + j];
            }
  nd_lca *l;
  nd_assert_ok(nd_lca_create(&c.lca, phi, m, n, B, &l));
  nd_assert_ok(nd_lca_solve(l, x, B, a, NULL));
  double want[36];
  for (int k = 0; k < 36; k++) want[k] = w0[k];
  for (int64_t b = 0; b < B; b++)
    for (int64_t row = 0; row < m; row++) {
      double res = x[b * m + row];
      for (int64_t j = 0; j < n; j++) res -= (double)phi[row * n + j] * a[b * n + j];
      const int64_t ch = row / 42, y = row % 42 / 6, xx = row % 6;
      for (int64_t f = 0; f < 3; f++)
        for (int64_t p = 0; p < P; p++)
          for (int64_t q = 0; q < Q; q++) {
            int64_t i = y - (p * 2 - 1), j = xx - q;
            if (i < 0 || i >= 3 || j < 0 || j >= 2) continue;
            want[((f * 2 + ch) * 3 + i) * 2 + j] += c.lr / B * res * a[b * n + (f * P + p) * Q + q];
          }
    }
  for (int f = 0; f < 3; f++) {
    double s = 0;
    for (int k = 0; k < fs; k++) s += want[f * fs + k] * want[f * fs + k];
    for (int k = 0; k < fs; k++) want[f * fs + k] /= sqrt(s);
  }
  nd_assert_ok(nd_lca_dict_epoch(d, x, B, NULL, NULL));
  const float *got = nd_lca_dict_atoms(d)->data;
  for (int k = 0; k < 36; k++) nd_assert_close(got[k], want[k], 2e-4, 1e-3);
  nd_lca_free(l);
  nd_lca_dict_free(d);
}

/* Signals x = Phi* c, c 2-sparse with non-negative weights; the learned
 * atoms must find every planted one (|cos| >= 0.95). */
static void test_recovery(void **state) {
  (void)state;
  enum { M = 16, N = 12, S = 600 };
  double truth[M * N];
  float x[S * M];
  nd_rng r;
  nd_rng_init(&r, 21);
  for (int i = 0; i < M * N; i++) truth[i] = nd_rng_uniform1(&r) - 0.5;
  normalise_columns(truth, M, N);
  for (int s = 0; s < S; s++) {
    int j1 = (int)(nd_rng_uniform1(&r) * N), j2 = (j1 + 1 + (int)(nd_rng_uniform1(&r) * (N - 1))) % N;
    double c1 = 1 + nd_rng_uniform1(&r), c2 = 1 + nd_rng_uniform1(&r);
    for (int i = 0; i < M; i++) x[s * M + i] = (float)(c1 * truth[i * N + j1] + c2 * truth[i * N + j2]);
  }
  nd_lca_dict_config c = nd_lca_dict_defaults();
  c.rows = 4, c.cols = 4, c.atoms = N, c.batch = 20, c.epochs = 30, c.lr = 0.3, c.seed = 2;
  c.lca.lambda = 0.1f;
  c.lca.tol = 1e-3;
  nd_lca_dict *d;
  nd_assert_ok(nd_lca_dict_create(&c, &d));
  nd_lca_dict_stats first = {0}, st = {0};
  for (int e = 0; e < c.epochs; e++) {
    nd_assert_ok(nd_lca_dict_epoch(d, x, S, NULL, NULL));
    nd_assert_ok(nd_lca_dict_stats_of(d, &st));
    if (e == 0) first = st;
  }
  assert_true(st.rel_error < 0.5 * first.rel_error);
  const float *w = nd_lca_dict_atoms(d)->data;
  int found = 0;
  for (int j = 0; j < N; j++) {
    double best = 0;
    for (int k = 0; k < N; k++) {
      double dot = 0;
      for (int i = 0; i < M; i++) dot += truth[i * N + j] * w[i * N + k];
      best = fmax(best, fabs(dot));
    }
    found += best >= 0.95;
  }
  if (found < N) fail_msg("%d of %d planted atoms recovered (rel_error %g -> %g)", found, N, first.rel_error, st.rel_error);
  nd_lca_dict_free(d);
}

static int stop_at_two(const nd_progress_info *info, void *user) {
  (void)user;
  return info->done == 2;
}

static void resume_case(nd_lca_dict_config c, int64_t rows) {
  const int64_t m = c.conv ? c.shape.channels * c.shape.height * c.shape.width : c.rows * c.cols;
  float *x = malloc(sizeof(float) * (size_t)(rows * m));
  nd_rng r;
  nd_rng_init(&r, 4);
  nd_rng_normal(&r, x, rows * m, 0, 1);
  nd_lca_dict *ref, *part, *back;
  nd_assert_ok(nd_lca_dict_create(&c, &ref));
  nd_assert_ok(nd_lca_dict_epoch(ref, x, rows, NULL, NULL));
  nd_assert_ok(nd_lca_dict_epoch(ref, x, rows, NULL, NULL));
  nd_assert_ok(nd_lca_dict_create(&c, &part));
  nd_assert_ok(nd_lca_dict_epoch(part, x, rows, NULL, NULL));
  nd_assert_ok(nd_lca_dict_epoch(part, x, rows, stop_at_two, NULL));
  nd_train_state st;
  nd_assert_ok(nd_lca_dict_get_state(part, &st));
  assert_int_equal(st.epoch, 1);
  assert_int_equal(st.batch, 2);
  nd_checkpoint *ck;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_lca_dict_save(part, ck));
  nd_assert_ok(nd_lca_dict_load(ck, &back));
  nd_assert_ok(nd_lca_dict_epoch(back, x, rows, NULL, NULL));
  const nd_tensor *a = nd_lca_dict_atoms(ref), *b = nd_lca_dict_atoms(back);
  assert_memory_equal(a->data, b->data, sizeof(float) * (size_t)nd_tensor_numel(a));
  nd_lca_dict_stats sa, sb;
  nd_lca_dict_stats_of(ref, &sa);
  nd_lca_dict_stats_of(back, &sb);
  assert_memory_equal(&sa, &sb, sizeof sa);
  nd_checkpoint_free(ck);
  nd_lca_dict_free(ref), nd_lca_dict_free(part), nd_lca_dict_free(back);
  free(x);
}

static void test_resume(void **state) {
  (void)state;
  nd_lca_dict_config c = small_dense();
  c.batch = 10;
  resume_case(c, 50);
  c.conv = true;
  c.shape = (nd_lca_conv_shape){1, 10, 10, 4, 3, 3, 1, 1, 1, 1};
  c.batch = 4;
  resume_case(c, 20);
}

static void test_bad_arguments(void **state) {
  (void)state;
  nd_lca_dict_config c = small_dense();
  nd_lca_dict *d = NULL;
  c.lr = 0;
  assert_int_equal(nd_lca_dict_create(&c, &d), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "lr"));
  c = small_dense(), c.atoms = 0;
  assert_int_equal(nd_lca_dict_config_check(&c), ND_ERR_INVALID_ARG);
  c = small_dense(), c.lca.tol = 0;
  assert_int_equal(nd_lca_dict_config_check(&c), ND_ERR_INVALID_ARG);
  c = small_dense();
  nd_assert_ok(nd_lca_dict_create(&c, &d));
  float x[16 * 5] = {0};
  assert_int_equal(nd_lca_dict_epoch(d, x, 5, NULL, NULL), ND_ERR_SHAPE); /* fewer than a batch */
  float y[16 * 20] = {0};
  y[7] = NAN;
  assert_int_equal(nd_lca_dict_epoch(d, y, 20, NULL, NULL), ND_ERR_INVALID_ARG);
  nd_tensor t = nd_tensor_wrap(y, 2, ND_SHAPE(20, 16));
  assert_int_equal(nd_lca_dict_set_atoms(d, &t), ND_ERR_SHAPE);
  nd_checkpoint *ck;
  nd_assert_ok(nd_checkpoint_create(&ck));
  nd_assert_ok(nd_checkpoint_put_meta(ck, "model", "krotov"));
  nd_lca_dict *e = NULL;
  assert_int_equal(nd_lca_dict_load(ck, &e), ND_ERR_FORMAT);
  nd_checkpoint_free(ck);
  nd_lca_dict_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dense_step), cmocka_unit_test(test_conv_step),      cmocka_unit_test(test_recovery),
      cmocka_unit_test(test_resume),     cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
