/* Core: status strings, errors, arena, tensor views, Philox RNG. */
#include <omp.h>
#include <string.h>

#include "core/internal.h"
#include "nd_test.h"

static void test_status_strings(void **state) {
  (void)state;
  assert_string_equal(nd_status_str(ND_OK), "ok");
  assert_string_equal(nd_status_str(ND_ERR_SHAPE), "shape mismatch");
  assert_string_equal(nd_status_str((nd_status)999), "unknown status");
  nd_status s = nd__error(ND_ERR_FORMAT, "file %s: bad magic %d", "x.idx", 42);
  assert_int_equal(s, ND_ERR_FORMAT);
  assert_string_equal(nd_last_error(), "file x.idx: bad magic 42");
  nd_clear_error();
  assert_string_equal(nd_last_error(), "");
  assert_string_equal(nd_version(), ND_VERSION_STRING);
}

static int log_calls;
static void count_log(nd_log_level level, const char *msg, void *user) {
  (void)level;
  (void)msg;
  *(int *)user += 1;
}

/* Issue 9 item 8: a message that prefixes the previous one with context
 * ("epoch 1: <reason>") must not read the buffer it is being written into. */
static void test_error_prefix(void **state) {
  (void)state;
  nd__error(ND_ERR_NUMERIC, "ax|ds| = 0 in minibatch %d", 3);
  nd__error(ND_ERR_NUMERIC, "krotov: epoch %d: %s", 1, nd_last_error());
  assert_string_equal(nd_last_error(), "krotov: epoch 1: ax|ds| = 0 in minibatch 3");
  nd__error(ND_ERR_NUMERIC, "outer: %s", nd_last_error());
  assert_string_equal(nd_last_error(), "outer: krotov: epoch 1: ax|ds| = 0 in minibatch 3");
  /* The argument may also start inside the buffer. */
  nd__error(ND_ERR_IO, "%s and %s", nd_last_error() + 7, nd_last_error());
  assert_string_equal(nd_last_error(),
                      "krotov: epoch 1: ax|ds| = 0 in minibatch 3 and outer: krotov: epoch 1: ax|ds| = 0 in minibatch 3");
}

/* Issue 9 item 13: a message naming two 4070-character paths fits whole; a
 * longer one (three of them) keeps its end, where the reason is, and says
 * what was cut. */
static void test_error_long(void **state) {
  (void)state;
  char path[4071];
  memset(path, 'p', 4070);
  path[4070] = '\0';
  nd__error(ND_ERR_IO, "%s: cannot rename %s to %s: No space left on device", path, path, path);
  const char *m = nd_last_error();
  size_t n = strlen(m);
  assert_true(n < 8192);
  const char *tail = ": No space left on device";
  assert_true(n > strlen(tail) && strcmp(m + n - strlen(tail), tail) == 0);
  assert_non_null(strstr(m, "characters cut"));
  assert_true(strncmp(m, "pppp", 4) == 0);
  /* a message that fits is kept whole */
  nd__error(ND_ERR_IO, "%s: cannot rename to %s: No space left on device", path, path);
  assert_int_equal(strlen(nd_last_error()), 2 * 4070 + strlen(": cannot rename to : No space left on device"));
}

static void test_log_threshold(void **state) {
  (void)state;
  int calls = 0;
  nd_set_log_callback(count_log, &calls);
  nd_set_log_level(ND_LOG_WARN);
  nd__log(ND_LOG_INFO, "hidden");
  nd__log(ND_LOG_ERROR, "shown");
  assert_int_equal(calls, 1);
  nd_set_log_callback(NULL, NULL);
  (void)log_calls;
}

static void test_arena_alignment_and_reuse(void **state) {
  (void)state;
  nd_arena *a = NULL;
  nd_assert_ok(nd_arena_create(256, &a));
  assert_non_null(a);
  void *p1 = nd_arena_alloc(a, 10);
  void *p2 = nd_arena_alloc(a, 100);
  void *p3 = nd_arena_alloc(a, 1000); /* forces a second block */
  assert_true(((uintptr_t)p1 & 63) == 0);
  assert_true(((uintptr_t)p2 & 63) == 0);
  assert_true(((uintptr_t)p3 & 63) == 0);
  assert_true((char *)p2 >= (char *)p1 + 10);
  memset(p3, 1, 1000);
  size_t cap = nd_arena_capacity(a);
  nd_arena_reset(a);
  assert_int_equal(nd_arena_used(a), 0);
  /* Refilling the same pattern must not grow the arena. */
  nd_arena_alloc(a, 10);
  nd_arena_alloc(a, 100);
  nd_arena_alloc(a, 1000);
  assert_int_equal(nd_arena_capacity(a), cap);
  unsigned char *z = nd_arena_calloc(a, 64);
  for (int i = 0; i < 64; i++) assert_int_equal(z[i], 0);
  nd_arena_free(a);
}

static void test_tensor_views(void **state) {
  (void)state;
  nd_tensor *t = NULL;
  nd_assert_ok(nd_tensor_create(3, ND_SHAPE(2, 3, 4), &t));
  assert_non_null(t);
  assert_int_equal(nd_tensor_numel(t), 24);
  assert_true(((uintptr_t)t->data & 63) == 0);
  for (int i = 0; i < 24; i++) t->data[i] = (float)i;

  nd_tensor s;
  nd_assert_ok(nd_tensor_slice(t, 2, 1, 2, &s)); /* t[:, :, 1:3] */
  assert_false(nd_tensor_is_contiguous(&s));
  assert_float_equal(*nd_tensor_at(&s, ND_SHAPE(1, 2, 1)), 1 * 12 + 2 * 4 + 2, 0);

  nd_tensor c;
  nd_assert_ok(nd_tensor_alloc(&c, 3, ND_SHAPE(2, 3, 2)));
  nd_assert_ok(nd_tensor_copy(&c, &s));
  assert_float_equal(c.data[0], 1, 0);
  assert_float_equal(c.data[11], 22, 0); /* t[1][2][2] */

  nd_tensor r;
  nd_assert_ok(nd_tensor_reshape(t, 2, ND_SHAPE(-1, 4), &r));
  assert_int_equal(r.shape[0], 6);
  assert_float_equal(*nd_tensor_at(&r, ND_SHAPE(5, 3)), 23, 0);
  assert_int_equal(nd_tensor_reshape(&s, 1, ND_SHAPE(12), &r), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_tensor_reshape(t, 2, ND_SHAPE(5, 5), &r), ND_ERR_SHAPE);

  nd_tensor row;
  nd_assert_ok(nd_tensor_select(t, 1, &row));
  assert_int_equal(row.ndim, 2);
  assert_float_equal(row.data[0], 12, 0);

  assert_int_equal(nd_tensor_slice(t, 0, 1, 5, &s), ND_ERR_INVALID_ARG);
  assert_non_null(strstr(nd_last_error(), "out of range"));
  assert_int_equal(nd_tensor_check_shape(t, "weights", 2, ND_SHAPE(6, 4)), ND_ERR_SHAPE);
  assert_string_equal(nd_last_error(), "weights has shape 2x3x4, expected 6x4");

  nd_tensor_fill(&s, -1.0f);
  assert_float_equal(t->data[1], -1, 0);
  assert_float_equal(t->data[0], 0, 0);

  nd_tensor_release(&c);
  nd_tensor_free(t);

  nd_arena *a = NULL;
  nd_assert_ok(nd_arena_create(0, &a));
  nd_tensor *at = NULL;
  nd_assert_ok(nd_tensor_create_in(a, 2, ND_SHAPE(3, 3), &at));
  assert_non_null(at);
  assert_float_equal(at->data[8], 0, 0);
  nd_arena_free(a);
}

/* Known-answer vectors of Philox4x32-10 from the Random123 distribution
 * (kat_vectors): counter and key all zero, and all ones. */
static void test_philox_known_answers(void **state) {
  (void)state;
  uint32_t out[4];
  nd_philox4x32(0, 0, out);
  assert_int_equal(out[0], 0x6627e8d5u);
  assert_int_equal(out[1], 0xe169c58du);
  assert_int_equal(out[2], 0xbc57ac4cu);
  assert_int_equal(out[3], 0x9b00dbd8u);
}

static void test_rng_moments(void **state) {
  (void)state;
  enum { N = 200000 };
  float *x = malloc(N * sizeof *x);
  nd_rng r;
  nd_rng_init(&r, 7);
  nd_rng_normal(&r, x, N, 1.0f, 2.0f);
  double m = 0, v = 0;
  for (int i = 0; i < N; i++) m += x[i];
  m /= N;
  for (int i = 0; i < N; i++) v += (x[i] - m) * (x[i] - m);
  v /= N;
  nd_assert_close(m, 1.0, 0.02, 0);   /* std error 2/sqrt(N) = 0.0045 */
  nd_assert_close(v, 4.0, 0.06, 0);
  nd_rng_uniform(&r, x, N, -1.0f, 3.0f);
  m = 0;
  for (int i = 0; i < N; i++) {
    assert_true(x[i] >= -1.0f && x[i] < 3.0f);
    m += x[i];
  }
  nd_assert_close(m / N, 1.0, 0.01, 0);
  nd_rng_bernoulli(&r, x, N, 0.3f);
  m = 0;
  for (int i = 0; i < N; i++) m += x[i];
  nd_assert_close(m / N, 0.3, 0.005, 0);
  free(x);
}

static void test_rng_thread_independent(void **state) {
  (void)state;
  enum { N = 1 << 18 }; /* large enough for the parallel path */
  float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  double *da = malloc(N * sizeof *da), *db = malloc(N * sizeof *db);
  nd_rng r1, r2;
  nd_set_num_threads(1);
  nd_rng_init(&r1, 1234);
  nd_rng_normal(&r1, a, N, 0, 1);
  nd_rng_normal_f64(&r1, da, N, 0, 1);
  nd_set_num_threads(2);
  nd_rng_init(&r2, 1234);
  nd_rng_normal(&r2, b, N, 0, 1);
  nd_rng_normal_f64(&r2, db, N, 0, 1);
  assert_memory_equal(a, b, N * sizeof *a);
  assert_memory_equal(da, db, N * sizeof *da);
  assert_true(r1.counter == r2.counter);
  /* Same seed, different streams differ. */
  nd_rng s1 = nd_rng_split(&r1, 1), s2 = nd_rng_split(&r1, 2);
  assert_true(nd_rng_u32(&s1) != nd_rng_u32(&s2));
  nd_set_num_threads(0);
  free(a);
  free(b);
  free(da);
  free(db);
}

static void test_rng_permutation(void **state) {
  (void)state;
  enum { N = 1000 };
  int64_t p[N];
  int seen[N] = {0};
  nd_rng r;
  nd_rng_init(&r, 3);
  nd_rng_permutation(&r, p, N);
  int fixed = 0;
  for (int i = 0; i < N; i++) {
    assert_true(p[i] >= 0 && p[i] < N);
    seen[p[i]]++;
    fixed += p[i] == i;
  }
  for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
  assert_true(fixed < 10); /* expected 1 fixed point */
  /* First position is uniform over 0..4 for n = 5. */
  int counts[5] = {0};
  for (int t = 0; t < 50000; t++) {
    int64_t q[5];
    nd_rng_permutation(&r, q, 5);
    counts[q[0]]++;
  }
  for (int i = 0; i < 5; i++) nd_assert_close(counts[i], 10000, 400, 0);
}

static void test_threads(void **state) {
  (void)state;
  nd_set_num_threads(1);
  assert_int_equal(nd_get_num_threads(), 1);
  assert_int_equal(omp_get_max_threads(), 1);
  nd_set_num_threads(0);
  assert_true(nd_get_num_threads() >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_strings),         cmocka_unit_test(test_log_threshold),
      cmocka_unit_test(test_error_prefix),           cmocka_unit_test(test_error_long),
      cmocka_unit_test(test_arena_alignment_and_reuse), cmocka_unit_test(test_tensor_views),
      cmocka_unit_test(test_philox_known_answers),   cmocka_unit_test(test_rng_moments),
      cmocka_unit_test(test_rng_thread_independent), cmocka_unit_test(test_rng_permutation),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
