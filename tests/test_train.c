/* The shared training machinery (include/neurodyn/train.h): the minibatch
 * sampler and stopping an epoch part-way with an exact resume. */
#include <stdlib.h>
#include <string.h>

#include "nd_test.h"
#include "neurodyn/krotov.h"
#include "neurodyn/train.h"

static nd_rng stream(uint64_t seed) {
  nd_rng r;
  nd_rng_init(&r, seed);
  return nd_rng_split(&r, 2);
}

/* Every row appears exactly once per epoch; drop_last decides the remainder. */
static void test_sampler_covers_each_row_once(void **state) {
  (void)state;
  for (int drop = 0; drop < 2; drop++) {
    nd_sampler s;
    nd_assert_ok(nd_sampler_init(&s, 4, drop, stream(3)));
    const int64_t n = 10;
    assert_int_equal(nd_sampler_batches(&s, n), drop ? 2 : 3);
    for (int epoch = 0; epoch < 3; epoch++) {
      int seen[10] = {0};
      int64_t total = 0, batches = 0;
      nd_assert_ok(nd_sampler_begin(&s, n));
      const int64_t *rows;
      int64_t count;
      while (nd_sampler_next(&s, &rows, &count)) {
        batches++;
        for (int64_t i = 0; i < count; i++) {
          assert_true(rows[i] >= 0 && rows[i] < n);
          seen[rows[i]]++;
        }
        total += count;
      }
      assert_int_equal(batches, drop ? 2 : 3);
      assert_int_equal(total, drop ? 8 : 10);
      for (int i = 0; i < n; i++) assert_true(seen[i] <= 1);
      if (!drop)
        for (int i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    }
    nd_sampler_release(&s);
  }
}

/* The same stream gives the same order, the permutation is that of
 * nd_rng_permutation, and a later epoch differs. */
static void test_sampler_order_is_the_streams_permutation(void **state) {
  (void)state;
  nd_sampler s;
  nd_assert_ok(nd_sampler_init(&s, 5, true, stream(9)));
  nd_rng ref = stream(9);
  int64_t perm[20], first[20];
  for (int epoch = 0; epoch < 2; epoch++) {
    nd_rng_permutation(&ref, perm, 20);
    nd_assert_ok(nd_sampler_begin(&s, 20));
    const int64_t *rows;
    int64_t count, at = 0;
    while (nd_sampler_next(&s, &rows, &count)) {
      assert_memory_equal(rows, perm + at, (size_t)count * sizeof *rows);
      at += count;
    }
    assert_int_equal(at, 20);
    if (epoch == 0) memcpy(first, perm, sizeof first);
  }
  assert_true(memcmp(first, perm, sizeof perm) != 0);
  nd_sampler_release(&s);
}

/* A state taken after 2 of 5 minibatches, given to another sampler, yields
 * the remaining 3 minibatches and then the same next epoch. */
static void test_sampler_resumes_mid_epoch(void **state) {
  (void)state;
  nd_sampler a, b;
  nd_assert_ok(nd_sampler_init(&a, 3, true, stream(5)));
  nd_assert_ok(nd_sampler_init(&b, 3, true, stream(77)));
  const int64_t *ra, *rb;
  int64_t ca, cb;
  nd_assert_ok(nd_sampler_begin(&a, 15));
  assert_true(nd_sampler_next(&a, &ra, &ca));
  assert_true(nd_sampler_next(&a, &ra, &ca));
  nd_train_state st = {0};
  nd_sampler_get_state(&a, &st);
  assert_int_equal(st.batch, 2);
  nd_assert_ok(nd_sampler_set_state(&b, &st));
  for (int epoch = 0; epoch < 2; epoch++) {
    nd_assert_ok(nd_sampler_begin(&a, 15));
    nd_assert_ok(nd_sampler_begin(&b, 15));
    int64_t steps = 0;
    for (;;) {
      bool ma = nd_sampler_next(&a, &ra, &ca), mb = nd_sampler_next(&b, &rb, &cb);
      assert_int_equal(ma, mb);
      if (!ma) break;
      assert_int_equal(ca, cb);
      assert_memory_equal(ra, rb, (size_t)ca * sizeof *ra);
      steps++;
    }
    assert_int_equal(steps, epoch == 0 ? 3 : 5);
  }
  nd_sampler_get_state(&a, &st);
  assert_int_equal(st.batch, 0);
  /* a state further into the epoch than it has minibatches is refused */
  st.batch = 5;
  nd_assert_ok(nd_sampler_set_state(&b, &st));
  assert_int_equal(nd_sampler_begin(&b, 15), ND_ERR_INVALID_ARG);
  nd_sampler_release(&a);
  nd_sampler_release(&b);
}

static int stop_after_two(const nd_progress_info *info, void *user) {
  (void)user;
  return info->done == 2;
}

/* Stopping the fast rule's epoch after 2 minibatches, moving W and the
 * state into a model made with another seed and finishing there gives the
 * W of an uninterrupted run, bit for bit (both precisions). */
static void test_krotov_epoch_stops_and_resumes_exactly(void **state) {
  (void)state;
  const int64_t H = 20, D = 12, B = 6, N = 36;
  float *data = malloc(N * D * sizeof *data);
  nd_rng r;
  nd_rng_init(&r, 2);
  nd_rng_uniform(&r, data, N * D, 0, 1);
  for (int prec = 0; prec < 2; prec++) {
    nd_krotov_config c = nd_krotov_defaults();
    c.hidden = H, c.visible = D, c.batch = B, c.p = 3, c.k = 3, c.epochs = 4, c.seed = 11;
    c.precision = prec ? ND_KROTOV_F64 : ND_KROTOV_F32;
    nd_krotov *full = NULL, *part = NULL, *rest = NULL;
    nd_assert_ok(nd_krotov_create(&c, &full));
    nd_assert_ok(nd_krotov_create(&c, &part));
    for (int e = 0; e < 2; e++) nd_assert_ok(nd_krotov_epoch(full, data, N, NULL, NULL));
    nd_assert_ok(nd_krotov_epoch(part, data, N, NULL, NULL));
    nd_assert_ok(nd_krotov_epoch(part, data, N, stop_after_two, NULL));
    nd_train_state st;
    nd_assert_ok(nd_krotov_get_state(part, &st));
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.batch, 2);
    double *w = malloc(H * D * sizeof *w), *wf = malloc(H * D * sizeof *wf);
    nd_krotov_weights_f64(part, w);
    c.seed = 12345;
    nd_assert_ok(nd_krotov_create(&c, &rest));
    nd_assert_ok(nd_krotov_set_weights_f64(rest, w));
    nd_assert_ok(nd_krotov_set_state(rest, &st));
    nd_assert_ok(nd_krotov_epoch(rest, data, N, NULL, NULL));
    nd_assert_ok(nd_krotov_get_state(rest, &st));
    assert_int_equal(st.epoch, 2);
    assert_int_equal(st.batch, 0);
    nd_krotov_weights_f64(rest, w);
    nd_krotov_weights_f64(full, wf);
    assert_memory_equal(w, wf, H * D * sizeof *w);
    /* the comparison can fail: one more minibatch changes W */
    nd_assert_ok(nd_krotov_epoch(rest, data, N, stop_after_two, NULL));
    nd_krotov_weights_f64(rest, w);
    assert_true(memcmp(w, wf, H * D * sizeof *w) != 0);
    free(w), free(wf);
    nd_krotov_free(full), nd_krotov_free(part), nd_krotov_free(rest);
  }
  free(data);
}

static void test_sampler_bad_arguments(void **state) {
  (void)state;
  nd_sampler s;
  assert_int_equal(nd_sampler_init(&s, 0, true, stream(1)), ND_ERR_INVALID_ARG);
  assert_int_equal(nd_sampler_init(NULL, 4, true, stream(1)), ND_ERR_INVALID_ARG);
  nd_assert_ok(nd_sampler_init(&s, 4, true, stream(1)));
  assert_int_equal(nd_sampler_begin(&s, 3), ND_ERR_SHAPE); /* no full minibatch */
  assert_int_equal(nd_sampler_begin(NULL, 3), ND_ERR_INVALID_ARG);
  nd_train_state st = {.batch = -1};
  assert_int_equal(nd_sampler_set_state(&s, &st), ND_ERR_INVALID_ARG);
  nd_sampler_release(&s);
  nd_sampler_release(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sampler_covers_each_row_once),
      cmocka_unit_test(test_sampler_order_is_the_streams_permutation),
      cmocka_unit_test(test_sampler_resumes_mid_epoch),
      cmocka_unit_test(test_krotov_epoch_stops_and_resumes_exactly),
      cmocka_unit_test(test_sampler_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
