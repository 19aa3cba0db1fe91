/* API probes (issue 8 item 4, issue 9 item 16): every public function of the
 * core, tensor, arena, rng, optim, autodiff, io and data headers (and the
 * dynamics solvers) called with
 * NULL pointers, zero sizes, mismatched or overflowing shapes.  Each probe runs
 * in its own forked child, so one crash does not hide the others; a probe
 * fails if the child dies from a signal (SIGSEGV, an abort from a sanitizer)
 * or if a bad call returns ND_OK (or an error without a message).
 *
 *   test_api_probe            run every probe
 *   test_api_probe NAME...    run the named probes only */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "neurodyn/neurodyn.h"

#define BIG31 ((int64_t)1 << 31)
#define BIG40 ((int64_t)1 << 40)

static char tmpdir[64];
static void tmp_path(char *buf, const char *name);

/* A bad call: must return an error status with a message. */
#define BAD(expr)                                                                                   \
  do {                                                                                              \
    nd_clear_error();                                                                               \
    nd_status s_ = (expr);                                                                          \
    if (s_ == ND_OK) {                                                                              \
      fprintf(stderr, "  line %d: %s returned ND_OK\n", __LINE__, #expr);                           \
      return 1;                                                                                     \
    }                                                                                               \
    if (!nd_last_error()[0]) {                                                                      \
      fprintf(stderr, "  line %d: %s returned %s without a message\n", __LINE__, #expr,             \
              nd_status_str(s_));                                                                   \
      return 1;                                                                                     \
    }                                                                                               \
  } while (0)
/* A bad call with a given status. */
#define BAD_AS(expr, want)                                                                          \
  do {                                                                                              \
    nd_clear_error();                                                                               \
    nd_status s_ = (expr);                                                                          \
    if (s_ != (want) || !nd_last_error()[0]) {                                                      \
      fprintf(stderr, "  line %d: %s returned %s (\"%s\"), expected %s\n", __LINE__, #expr,         \
              nd_status_str(s_), nd_last_error(), nd_status_str(want));                             \
      return 1;                                                                                     \
    }                                                                                               \
  } while (0)
#define OK(expr)                                                                                    \
  do {                                                                                              \
    nd_status s_ = (expr);                                                                          \
    if (s_ != ND_OK) {                                                                              \
      fprintf(stderr, "  line %d: %s failed: %s\n", __LINE__, #expr, nd_last_error());              \
      return 1;                                                                                     \
    }                                                                                               \
  } while (0)
#define EXPECT(cond)                                                                                \
  do {                                                                                              \
    if (!(cond)) {                                                                                  \
      fprintf(stderr, "  line %d: expected %s\n", __LINE__, #cond);                                 \
      return 1;                                                                                     \
    }                                                                                               \
  } while (0)
/* A query that must fail with a neutral value and a message. */
#define BAD_VALUE(expr, cond)                                                                       \
  do {                                                                                              \
    nd_clear_error();                                                                               \
    __typeof__(expr) v_ = (expr);                                                                   \
    if (!(cond) || !nd_last_error()[0]) {                                                           \
      fprintf(stderr, "  line %d: %s: expected %s and a message\n", __LINE__, #expr, #cond);        \
      return 1;                                                                                     \
    }                                                                                               \
    (void)v_;                                                                                       \
  } while (0)

/* ------------------------------------------------------------------ core */
static int p_core_status(void) {
  EXPECT(strcmp(nd_status_str((nd_status)-1), "unknown status") == 0);
  EXPECT(strcmp(nd_status_str((nd_status)9999), "unknown status") == 0);
  EXPECT(nd_version() && nd_version()[0]);
  nd_clear_error();
  EXPECT(nd_last_error() && nd_last_error()[0] == '\0');
  nd_set_log_callback(NULL, NULL);
  nd_set_log_level((nd_log_level)99);
  nd_set_log_level(ND_LOG_WARN);
  return 0;
}

static int p_core_threads(void) {
  int cap = nd_max_threads();
  EXPECT(cap >= 4 && cap <= ND_MAX_THREADS);
  int before = nd_get_num_threads();
  BAD_AS(nd_set_num_threads(-1), ND_ERR_INVALID_ARG);
  BAD_AS(nd_set_num_threads(cap + 1), ND_ERR_INVALID_ARG);
  BAD_AS(nd_set_num_threads(100000), ND_ERR_INVALID_ARG);
  BAD_AS(nd_set_num_threads(99999999), ND_ERR_INVALID_ARG);
  EXPECT(nd_get_num_threads() == before); /* unchanged by a refused call */
  OK(nd_set_num_threads(1));
  EXPECT(nd_get_num_threads() == 1);
  OK(nd_set_num_threads(0));
  int n = 0;
  const char *bad[] = {"5abc", "-1", "0", "", " 5", "+5", "99999999", "1e3", "0x10", "9223372036854775808"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    BAD_AS(nd_parse_num_threads(bad[i], "--threads", &n), ND_ERR_INVALID_ARG);
    EXPECT(strstr(nd_last_error(), "--threads") != NULL);
  }
  BAD(nd_parse_num_threads(NULL, "--threads", &n));
  BAD(nd_parse_num_threads("4", "--threads", NULL));
  OK(nd_parse_num_threads("2", NULL, &n));
  EXPECT(n == 2);
  BAD(nd_num_threads_from_env(NULL));
  setenv("ND_NUM_THREADS", "5abc", 1);
  BAD_AS(nd_num_threads_from_env(&n), ND_ERR_INVALID_ARG);
  EXPECT(strstr(nd_last_error(), "ND_NUM_THREADS") != NULL);
  setenv("ND_NUM_THREADS", "99999999", 1);
  BAD_AS(nd_num_threads_from_env(&n), ND_ERR_INVALID_ARG);
  EXPECT(nd_get_num_threads() >= 1);
  unsetenv("ND_NUM_THREADS");
  OK(nd_num_threads_from_env(&n));
  EXPECT(n == 0);
  return 0;
}

static int p_core_alloc(void) {
  BAD_VALUE(nd_aligned_alloc(SIZE_MAX), v_ == NULL);
  BAD_VALUE(nd_aligned_alloc(((size_t)1 << 40) + 1), v_ == NULL);
  nd_aligned_free(NULL);
  void *p = nd_aligned_alloc(0);
  EXPECT(p != NULL);
  nd_aligned_free(p);
  return 0;
}

/* Prefixing the last message with context must not garble it (issue 9 item 8). */
static int p_core_error_prefix(void) {
  nd_tensor t;
  BAD(nd_tensor_alloc(&t, -1, NULL));
  char want[600];
  snprintf(want, sizeof want, "%s is NULL", nd_last_error());
  /* nd_tensor_check_shape formats its `what` argument, here the very buffer
   * its own message replaces. */
  nd_status s = nd_tensor_check_shape(NULL, nd_last_error(), 0, NULL);
  EXPECT(s == ND_ERR_INVALID_ARG);
  if (strcmp(nd_last_error(), want) != 0) {
    fprintf(stderr, "  garbled: \"%s\", want \"%s\"\n", nd_last_error(), want);
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- tensor */
static int p_tensor_create(void) {
  nd_tensor *t = (nd_tensor *)1;
  BAD(nd_tensor_create(2, ND_SHAPE(2, 3), NULL));
  BAD(nd_tensor_create(-1, ND_SHAPE(2), &t));
  EXPECT(t == NULL);
  BAD(nd_tensor_create(ND_MAX_DIMS + 1, ND_SHAPE(1, 1, 1, 1, 1, 1), &t));
  BAD(nd_tensor_create(2, NULL, &t));
  BAD(nd_tensor_create(2, ND_SHAPE(2, -3), &t));
  BAD_AS(nd_tensor_create(2, ND_SHAPE(BIG31, BIG31), &t), ND_ERR_INVALID_ARG);
  BAD_AS(nd_tensor_create(2, ND_SHAPE(BIG40, BIG40), &t), ND_ERR_INVALID_ARG);
  BAD_AS(nd_tensor_create(3, ND_SHAPE(0, BIG40, BIG40), &t), ND_ERR_INVALID_ARG);
  BAD_AS(nd_tensor_create(1, ND_SHAPE(INT64_MAX), &t), ND_ERR_INVALID_ARG);
  BAD_AS(nd_tensor_create(5, ND_SHAPE(1 << 13, 1 << 13, 1 << 13, 1 << 13, 1 << 13), &t), ND_ERR_INVALID_ARG);
  EXPECT(t == NULL);
  OK(nd_tensor_create(3, ND_SHAPE(768, (int64_t)1 << 28, 0), &t)); /* empty: as the IDX reader allows */
  EXPECT(nd_tensor_numel(t) == 0);
  nd_tensor_free(t);
  OK(nd_tensor_create(2, ND_SHAPE(0, 5), &t)); /* zero size is fine */
  EXPECT(nd_tensor_numel(t) == 0);
  nd_tensor_free(t);
  OK(nd_tensor_create(0, NULL, &t)); /* scalar */
  EXPECT(nd_tensor_numel(t) == 1);
  nd_tensor_free(t);
  nd_tensor_free(NULL);
  return 0;
}

static int p_tensor_alloc(void) {
  nd_tensor t;
  BAD(nd_tensor_alloc(NULL, 1, ND_SHAPE(3)));
  BAD_AS(nd_tensor_alloc(&t, 2, ND_SHAPE(BIG31, BIG31)), ND_ERR_INVALID_ARG);
  EXPECT(t.data == NULL);
  BAD_AS(nd_tensor_alloc(&t, 2, ND_SHAPE(BIG40, BIG40)), ND_ERR_INVALID_ARG);
  BAD(nd_tensor_alloc(&t, 1, ND_SHAPE(-5)));
  BAD(nd_tensor_alloc(&t, 9, ND_SHAPE(1)));
  nd_tensor_release(NULL);
  nd_tensor_release(&t); /* released after a failed alloc: empty, fine */
  return 0;
}

static int p_tensor_create_in(void) {
  nd_arena *a;
  nd_tensor *t;
  OK(nd_arena_create(0, &a));
  BAD(nd_tensor_create_in(NULL, 1, ND_SHAPE(3), &t));
  BAD(nd_tensor_create_in(a, 1, ND_SHAPE(3), NULL));
  BAD(nd_tensor_create_in(a, 2, ND_SHAPE(BIG31, BIG31), &t));
  BAD(nd_tensor_create_in(a, 2, ND_SHAPE(BIG40, BIG40), &t));
  BAD(nd_tensor_create_in(a, -2, ND_SHAPE(3), &t));
  OK(nd_tensor_create_in(a, 2, ND_SHAPE(0, 3), &t));
  nd_arena_free(a);
  return 0;
}

static int p_tensor_wrap(void) {
  float x[6];
  nd_clear_error();
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(-2, -3));
  EXPECT(t.data == NULL && nd_last_error()[0]);
  t = nd_tensor_wrap(x, 7, ND_SHAPE(1));
  EXPECT(t.data == NULL);
  t = nd_tensor_wrap(x, 2, ND_SHAPE(BIG40, BIG40));
  EXPECT(t.data == NULL);
  t = nd_tensor_wrap(x, 2, NULL);
  EXPECT(t.data == NULL);
  /* and the empty result is refused downstream */
  BAD(nd_tensor_fill(&(nd_tensor){.ndim = 1, .shape = {6, 1, 1, 1, 1}, .stride = {1, 1, 1, 1, 1}}, 1.0f));
  return 0;
}

/* A header with a given ndim/shape and data, strides contiguous. */
static nd_tensor hdr(float *data, int ndim, const int64_t *shape) {
  nd_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.ndim = ndim;
  for (int i = 0; i < ND_MAX_DIMS; i++) {
    t.shape[i] = i < ndim ? shape[i] : 1;
    t.stride[i] = 1;
  }
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    t.stride[i] = s;
    if (__builtin_mul_overflow(s, shape[i] > 0 ? shape[i] : 1, &s)) s = 1; /* an invalid header anyway */
  }
  return t;
}

static int p_tensor_slice(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), v;
  BAD(nd_tensor_slice(NULL, 0, 0, 1, &v));
  BAD(nd_tensor_slice(&t, 0, 0, 1, NULL));
  BAD(nd_tensor_slice(&t, 0, INT64_MAX, INT64_MAX, &v));
  BAD(nd_tensor_slice(&t, 0, 1, INT64_MAX, &v));
  BAD(nd_tensor_slice(&t, 0, INT64_MAX, 1, &v));
  BAD(nd_tensor_slice(&t, 1, 2, 2, &v));
  BAD(nd_tensor_slice(&t, 0, -1, 1, &v));
  BAD(nd_tensor_slice(&t, 0, 0, -1, &v));
  BAD(nd_tensor_slice(&t, 2, 0, 1, &v));
  BAD(nd_tensor_slice(&t, -1, 0, 1, &v));
  BAD(nd_tensor_slice(&t, INT32_MAX, 0, 1, &v));
  OK(nd_tensor_slice(&t, 1, 3, 0, &v)); /* empty slice at the end */
  EXPECT(nd_tensor_numel(&v) == 0);
  nd_tensor bad = hdr(NULL, 2, ND_SHAPE(2, 3));
  BAD(nd_tensor_slice(&bad, 0, 0, 1, &v));
  bad = hdr(x, 2, ND_SHAPE(2, 3));
  bad.ndim = 99;
  BAD(nd_tensor_slice(&bad, 0, 0, 1, &v));
  return 0;
}

static int p_tensor_select(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), s = nd_tensor_wrap(x, 0, NULL), v;
  BAD(nd_tensor_select(NULL, 0, &v));
  BAD(nd_tensor_select(&t, 0, NULL));
  BAD(nd_tensor_select(&t, 2, &v));
  BAD(nd_tensor_select(&t, -1, &v));
  BAD(nd_tensor_select(&t, INT64_MAX, &v));
  BAD(nd_tensor_select(&s, 0, &v));
  nd_tensor bad = hdr(x, 2, ND_SHAPE(2, -3));
  BAD(nd_tensor_select(&bad, 0, &v));
  return 0;
}

static int p_tensor_reshape(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), v;
  BAD(nd_tensor_reshape(NULL, 1, ND_SHAPE(6), &v));
  BAD(nd_tensor_reshape(&t, 1, ND_SHAPE(6), NULL));
  BAD(nd_tensor_reshape(&t, 2, NULL, &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(-2, -3), &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(-1, -1), &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(-1, -6), &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(4, 2), &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(BIG40, BIG40), &v));
  BAD(nd_tensor_reshape(&t, 3, ND_SHAPE(BIG31, BIG31, 4), &v));
  BAD(nd_tensor_reshape(&t, 6, ND_SHAPE(1, 1, 1, 1, 1, 6), &v));
  BAD(nd_tensor_reshape(&t, -1, ND_SHAPE(6), &v));
  BAD(nd_tensor_reshape(&t, 2, ND_SHAPE(0, -1), &v));
  OK(nd_tensor_reshape(&t, 2, ND_SHAPE(3, -1), &v));
  EXPECT(v.shape[1] == 2 && v.data == x);
  nd_tensor tr = t; /* transposed view: not contiguous */
  tr.shape[0] = 3, tr.shape[1] = 2, tr.stride[0] = 1, tr.stride[1] = 3;
  BAD(nd_tensor_reshape(&tr, 1, ND_SHAPE(6), &v));
  return 0;
}

static int p_tensor_queries(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3));
  EXPECT(nd_tensor_numel(NULL) == 0);
  EXPECT(!nd_tensor_is_contiguous(NULL));
  EXPECT(!nd_tensor_same_shape(NULL, &t));
  EXPECT(!nd_tensor_same_shape(&t, NULL));
  EXPECT(!nd_tensor_same_shape(NULL, NULL));
  nd_tensor bad = t;
  bad.ndim = -3;
  EXPECT(nd_tensor_numel(&bad) == 0);
  EXPECT(!nd_tensor_is_contiguous(&bad));
  EXPECT(!nd_tensor_same_shape(&bad, &bad));
  bad = hdr(x, 2, ND_SHAPE(BIG40, BIG40));
  EXPECT(nd_tensor_numel(&bad) == 0);
  char buf[64];
  EXPECT(strcmp(nd_tensor_shape_str(NULL, buf, sizeof buf), "(null)") == 0);
  EXPECT(nd_tensor_shape_str(&t, NULL, 10) == NULL);
  EXPECT(nd_tensor_shape_str(&t, buf, 0) == NULL);
  EXPECT(strcmp(nd_tensor_shape_str(&t, buf, 2), "2") == 0);
  bad.ndim = 77;
  EXPECT(nd_tensor_shape_str(&bad, buf, sizeof buf) == buf);
  return 0;
}

static int p_tensor_at(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3));
  BAD_VALUE(nd_tensor_at(NULL, ND_SHAPE(0, 0)), v_ == NULL);
  BAD_VALUE(nd_tensor_at(&t, NULL), v_ == NULL);
  BAD_VALUE(nd_tensor_at(&t, ND_SHAPE(2, 0)), v_ == NULL);
  BAD_VALUE(nd_tensor_at(&t, ND_SHAPE(0, -1)), v_ == NULL);
  BAD_VALUE(nd_tensor_at(&t, ND_SHAPE(INT64_MAX, 0)), v_ == NULL);
  EXPECT(nd_tensor_at(&t, ND_SHAPE(1, 2)) == x + 5);
  return 0;
}

static int p_tensor_fill_copy(void) {
  float x[6] = {0}, y[6] = {0};
  nd_tensor a = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), b = nd_tensor_wrap(y, 2, ND_SHAPE(3, 2));
  BAD(nd_tensor_fill(NULL, 1.0f));
  nd_tensor bad = hdr(NULL, 2, ND_SHAPE(2, 3));
  BAD(nd_tensor_fill(&bad, 1.0f));
  bad = hdr(x, 2, ND_SHAPE(2, 3));
  bad.shape[1] = -3;
  BAD(nd_tensor_fill(&bad, 1.0f));
  bad = hdr(x, 2, ND_SHAPE(2, 3));
  bad.ndim = 6;
  BAD(nd_tensor_fill(&bad, 1.0f));
  BAD(nd_tensor_copy(NULL, &a));
  BAD(nd_tensor_copy(&a, NULL));
  BAD_AS(nd_tensor_copy(&a, &b), ND_ERR_SHAPE);
  bad = hdr(NULL, 2, ND_SHAPE(2, 3));
  BAD(nd_tensor_copy(&a, &bad));
  BAD(nd_tensor_copy(&bad, &a));
  nd_tensor e1 = nd_tensor_wrap(NULL, 2, ND_SHAPE(0, 3)), e2 = nd_tensor_wrap(NULL, 2, ND_SHAPE(0, 3));
  OK(nd_tensor_fill(&e1, 1.0f)); /* zero elements, no data needed */
  OK(nd_tensor_copy(&e1, &e2));
  return 0;
}

static int p_tensor_check_shape(void) {
  float x[6] = {0};
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3));
  BAD_AS(nd_tensor_check_shape(NULL, "W", 2, ND_SHAPE(2, 3)), ND_ERR_INVALID_ARG);
  BAD(nd_tensor_check_shape(&t, "W", 2, NULL));
  BAD(nd_tensor_check_shape(&t, "W", -1, ND_SHAPE(2)));
  BAD(nd_tensor_check_shape(&t, "W", 9, ND_SHAPE(2)));
  BAD_AS(nd_tensor_check_shape(&t, NULL, 2, ND_SHAPE(3, 2)), ND_ERR_SHAPE);
  BAD_AS(nd_tensor_check_shape(&t, "W", 2, ND_SHAPE(3, 2)), ND_ERR_SHAPE);
  EXPECT(strstr(nd_last_error(), "W has shape 2x3, expected 3x2") != NULL);
  BAD_AS(nd_tensor_check_shape(&t, "W", 2, ND_SHAPE(BIG40, BIG40)), ND_ERR_SHAPE);
  OK(nd_tensor_check_shape(&t, "W", 2, ND_SHAPE(2, 3)));
  return 0;
}

/* ----------------------------------------------------------------- arena */
static int p_arena(void) {
  nd_arena *a = (nd_arena *)1;
  BAD(nd_arena_create(0, NULL));
  BAD(nd_arena_create(SIZE_MAX, &a));
  EXPECT(a == NULL);
  nd_arena_free(NULL);
  nd_arena_reset(NULL);
  EXPECT(nd_arena_used(NULL) == 0 && nd_arena_capacity(NULL) == 0);
  BAD_VALUE(nd_arena_alloc(NULL, 16), v_ == NULL);
  BAD_VALUE(nd_arena_calloc(NULL, 16), v_ == NULL);
  OK(nd_arena_create(256, &a));
  BAD_VALUE(nd_arena_alloc(a, SIZE_MAX), v_ == NULL);
  BAD_VALUE(nd_arena_alloc(a, SIZE_MAX - 62), v_ == NULL);
  BAD_VALUE(nd_arena_calloc(a, SIZE_MAX), v_ == NULL);
  EXPECT(nd_arena_alloc(a, 0) != NULL);
  nd_arena_free(a);
  return 0;
}

/* ------------------------------------------------------------------- rng */
static int p_rng(void) {
  nd_rng r;
  float f[8];
  double d[8];
  int64_t p[8];
  uint32_t out[4];
  BAD(nd_rng_init(NULL, 1));
  OK(nd_rng_init(&r, 1));
  BAD_VALUE(nd_rng_split(NULL, 1), v_.key == 0 && v_.counter == 0);
  BAD(nd_philox4x32(1, 2, NULL));
  OK(nd_philox4x32(1, 2, out));
  BAD_VALUE(nd_rng_u32(NULL), v_ == 0);
  BAD_VALUE(nd_rng_uniform1(NULL), isnan(v_));
  BAD(nd_rng_uniform(NULL, f, 8, 0, 1));
  BAD(nd_rng_uniform(&r, NULL, 8, 0, 1));
  BAD(nd_rng_uniform(&r, f, -1, 0, 1));
  BAD(nd_rng_normal(NULL, f, 8, 0, 1));
  BAD(nd_rng_normal(&r, NULL, 8, 0, 1));
  BAD(nd_rng_normal(&r, f, INT64_MIN, 0, 1));
  BAD(nd_rng_bernoulli(NULL, f, 8, 0.5f));
  BAD(nd_rng_bernoulli(&r, NULL, 8, 0.5f));
  BAD(nd_rng_uniform_f64(NULL, d, 8, 0, 1));
  BAD(nd_rng_uniform_f64(&r, NULL, 8, 0, 1));
  BAD(nd_rng_normal_f64(NULL, d, 8, 0, 1));
  BAD(nd_rng_normal_f64(&r, d, -8, 0, 1));
  BAD(nd_rng_permutation(NULL, p, 8));
  BAD(nd_rng_permutation(&r, NULL, 8));
  BAD(nd_rng_permutation(&r, p, -1));
  OK(nd_rng_uniform(&r, NULL, 0, 0, 1)); /* nothing to fill */
  OK(nd_rng_permutation(&r, NULL, 0));
  return 0;
}

/* ----------------------------------------------------------------- optim */
static int p_schedule(void) {
  nd_schedule s = nd_schedule_constant(0.1f);
  OK(nd_schedule_check(&s));
  BAD(nd_schedule_check(NULL));
  s.kind = (nd_schedule_kind)77;
  BAD(nd_schedule_check(&s));
  s = nd_schedule_constant(NAN);
  BAD(nd_schedule_check(&s));
  BAD_VALUE(nd_schedule_lr(NULL, 3), isnan(v_));
  s = nd_schedule_constant(0.1f);
  EXPECT(nd_schedule_lr(&s, INT64_MIN) == 0.1f);
  return 0;
}

static int p_optim_create(void) {
  float x[6] = {0}, y[6] = {0}, z[6] = {0};
  nd_tensor p = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), g = nd_tensor_wrap(y, 2, ND_SHAPE(2, 3)),
            gbad = nd_tensor_wrap(z, 2, ND_SHAPE(3, 2));
  nd_tensor *ps[1] = {&p}, *gs[1] = {&g}, *gb[1] = {&gbad}, *nulls[1] = {NULL};
  nd_optim_config c = nd_optim_defaults(ND_OPTIM_ADAM);
  nd_optim *o = (nd_optim *)1;
  BAD(nd_optim_create(&c, 1, ps, gs, NULL));
  BAD(nd_optim_create(NULL, 1, ps, gs, &o));
  EXPECT(o == NULL);
  BAD(nd_optim_create(&c, -1, ps, gs, &o));
  BAD(nd_optim_create(&c, 1, NULL, gs, &o));
  BAD(nd_optim_create(&c, 1, ps, NULL, &o));
  BAD(nd_optim_create(&c, 1, nulls, gs, &o));
  BAD(nd_optim_create(&c, 1, ps, nulls, &o));
  BAD_AS(nd_optim_create(&c, 1, ps, gb, &o), ND_ERR_SHAPE);
  nd_tensor pn = hdr(NULL, 2, ND_SHAPE(2, 3)), *pns[1] = {&pn};
  BAD(nd_optim_create(&c, 1, pns, gs, &o));
  nd_optim_config bad = c;
  bad.kind = (nd_optim_kind)42;
  BAD(nd_optim_create(&bad, 1, ps, gs, &o));
  BAD(nd_optim_config_check(NULL));
  bad = c;
  bad.lr = NAN;
  BAD(nd_optim_config_check(&bad));
  (void)nd_optim_defaults((nd_optim_kind)-5);
  OK(nd_optim_create(&c, 0, NULL, NULL, &o)); /* no parameters: a no-op optimizer */
  OK(nd_optim_step(o));
  nd_optim_free(o);
  nd_optim_free(NULL);
  return 0;
}

static int p_optim_calls(void) {
  BAD(nd_optim_step(NULL));
  BAD(nd_optim_zero_grad(NULL));
  BAD(nd_optim_set_lr(NULL, 0.1f));
  BAD(nd_optim_set_schedule(NULL, NULL));
  BAD(nd_optim_reset_state(NULL));
  BAD_VALUE(nd_optim_lr(NULL), isnan(v_));
  BAD_VALUE(nd_optim_steps(NULL), v_ == -1);
  double n = 0;
  BAD(nd_optim_clip_grad_norm(NULL, 1.0, &n));
  float x[6] = {0}, y[6] = {0};
  nd_tensor p = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), g = nd_tensor_wrap(y, 2, ND_SHAPE(2, 3));
  nd_tensor *ps[1] = {&p}, *gs[1] = {&g};
  nd_optim_config c = nd_optim_defaults(ND_OPTIM_SGD);
  nd_optim *o;
  OK(nd_optim_create(&c, 1, ps, gs, &o));
  BAD(nd_optim_set_schedule(o, NULL));
  BAD(nd_optim_set_lr(o, NAN));
  BAD(nd_optim_set_lr(o, -1.0f));
  y[0] = NAN;
  BAD_AS(nd_optim_step(o), ND_ERR_NUMERIC);
  OK(nd_optim_zero_grad(o));
  OK(nd_optim_step(o));
  OK(nd_optim_reset_state(o));
  nd_optim_free(o);
  return 0;
}

static int p_clip_grad_norm(void) {
  float y[6] = {0};
  nd_tensor g = nd_tensor_wrap(y, 2, ND_SHAPE(2, 3)), *gs[2] = {&g, NULL};
  double n = 0;
  BAD(nd_clip_grad_norm(NULL, 2, 1.0, &n));
  EXPECT(isnan(n));
  BAD(nd_clip_grad_norm(gs, -1, 1.0, &n));
  BAD(nd_clip_grad_norm(gs, 2, 1.0, &n));
  BAD(nd_clip_grad_norm(gs, 1, NAN, &n));
  BAD(nd_clip_grad_norm(gs, 1, -1.0, &n));
  nd_tensor gn = hdr(NULL, 1, ND_SHAPE(4)), *gns[1] = {&gn};
  BAD(nd_clip_grad_norm(gns, 1, 1.0, &n));
  OK(nd_clip_grad_norm(gs, 1, 1.0, NULL));
  OK(nd_clip_grad_norm(NULL, 0, 1.0, &n));
  EXPECT(n == 0.0);
  return 0;
}

/* -------------------------------------------------------------- autodiff */
static int p_tape(void) {
  nd_tape *tp = (nd_tape *)1;
  BAD(nd_tape_create(0, NULL));
  BAD(nd_tape_create(SIZE_MAX, &tp));
  EXPECT(tp == NULL);
  nd_tape_free(NULL);
  nd_tape_reset(NULL);
  BAD(nd_tape_set_recording(NULL, true));
  EXPECT(!nd_tape_is_recording(NULL));
  BAD(nd_tape_status(NULL));
  BAD(nd_tape_set_error(NULL, ND_ERR_NUMERIC));
  EXPECT(nd_tape_num_nodes(NULL) == 0 && nd_tape_bytes_used(NULL) == 0 && nd_tape_bytes_held(NULL) == 0);
  BAD_VALUE(nd_tape_alloc(NULL, 8), v_ == NULL);
  OK(nd_tape_create(0, &tp));
  BAD_VALUE(nd_tape_alloc(tp, SIZE_MAX), v_ == NULL);
  EXPECT(nd_tape_status(tp) == ND_ERR_NOMEM); /* sticky */
  nd_tape_free(tp);
  return 0;
}

static int p_tape_leaves(void) {
  nd_tape *tp;
  OK(nd_tape_create(0, &tp));
  float x[6] = {0}, y[6] = {0};
  nd_tensor v = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), gbad = nd_tensor_wrap(y, 2, ND_SHAPE(3, 2));
  nd_tensor vn = hdr(NULL, 2, ND_SHAPE(2, 3));
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_constant(NULL, &v), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_constant(tp, NULL), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_constant(tp, &vn), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_param(NULL, &v, &v), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_param(tp, NULL, NULL), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_param(tp, &v, &gbad), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_variable(tp, NULL), v_ == NULL);
  nd_tape_reset(tp);
  BAD_VALUE(nd_tape_variable(NULL, &v), v_ == NULL);
  /* after a failure the tape is sticky: later leaves return NULL, the first
   * message stays */
  nd_tape_reset(tp);
  EXPECT(nd_tape_param(tp, &v, &gbad) == NULL);
  char first[512];
  snprintf(first, sizeof first, "%s", nd_last_error());
  EXPECT(nd_tape_constant(tp, &v) == NULL && nd_tape_status(tp) == ND_ERR_SHAPE);
  EXPECT(strcmp(first, nd_last_error()) == 0);
  EXPECT(nd_var_value(NULL) == NULL && nd_var_grad(NULL) == NULL && !nd_var_requires_grad(NULL));
  EXPECT(isnan(nd_var_item(NULL)));
  nd_tape_free(tp);
  return 0;
}

static int p_tape_backward(void) {
  nd_tape *tp;
  OK(nd_tape_create(0, &tp));
  float x[6] = {1, 2, 3, 4, 5, 6}, s[3] = {1, 1, 1};
  nd_tensor xt = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), seed = nd_tensor_wrap(s, 1, ND_SHAPE(3));
  nd_var *v = nd_tape_variable(tp, &xt);
  EXPECT(v != NULL);
  BAD(nd_tape_backward(NULL, v));
  BAD(nd_tape_backward(tp, NULL));
  BAD(nd_tape_backward(tp, v)); /* not one element */
  nd_tape_reset(tp);
  v = nd_tape_variable(tp, &xt);
  BAD(nd_tape_backward_seed(tp, v, &seed)); /* seed shape mismatch */
  BAD(nd_tape_backward_seed(NULL, v, NULL));
  nd_tape_free(tp);
  return 0;
}

static nd_status custom_fwd(const nd_custom_args *a) {
  (void)a;
  return ND_OK;
}

/* Each op with a NULL tape, NULL inputs and mismatched shapes. */
static int p_ad_ops(void) {
  nd_tape *tp;
  OK(nd_tape_create(0, &tp));
  float buf[4][64];
  memset(buf, 0, sizeof buf);
  nd_tensor a23 = nd_tensor_wrap(buf[0], 2, ND_SHAPE(2, 3)), b23 = nd_tensor_wrap(buf[1], 2, ND_SHAPE(2, 3)),
            c45 = nd_tensor_wrap(buf[2], 2, ND_SHAPE(4, 5)), img = nd_tensor_wrap(buf[3], 4, ND_SHAPE(1, 1, 4, 4));
  int32_t labels[2] = {0, 7};
#define NULLOP(expr)                                                                    \
  do {                                                                                  \
    nd_tape_reset(tp);                                                                  \
    nd_var *a = nd_tape_variable(tp, &a23), *b = nd_tape_variable(tp, &b23);            \
    nd_var *c = nd_tape_variable(tp, &c45), *im = nd_tape_variable(tp, &img);           \
    (void)a, (void)b, (void)c, (void)im;                                                \
    nd_clear_error();                                                                   \
    nd_var *r_ = (expr);                                                                \
    if (r_ != NULL || nd_tape_status(tp) == ND_OK || !nd_last_error()[0]) {             \
      fprintf(stderr, "  line %d: %s did not fail with a sticky error\n", __LINE__, #expr); \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)
#define NOTAPE(expr)                                                                    \
  do {                                                                                  \
    nd_tape_reset(tp);                                                                  \
    nd_var *a = nd_tape_variable(tp, &a23), *b = nd_tape_variable(tp, &b23);            \
    (void)a, (void)b;                                                                   \
    nd_clear_error();                                                                   \
    if ((expr) != NULL || !nd_last_error()[0]) {                                        \
      fprintf(stderr, "  line %d: %s did not fail\n", __LINE__, #expr);                 \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)
  NOTAPE(nd_ad_matmul(NULL, a, b, false, true));
  NOTAPE(nd_ad_add(NULL, a, b));
  NOTAPE(nd_ad_relu(NULL, a));
  NOTAPE(nd_ad_sum(NULL, a));
  NOTAPE(nd_ad_mse(NULL, a, b));
  NULLOP(nd_ad_matmul(tp, a, NULL, false, false));
  NULLOP(nd_ad_matmul(tp, a, b, false, false)); /* 2x3 * 2x3 */
  NULLOP(nd_ad_matmul(tp, a, im, false, false));
  NULLOP(nd_ad_linear(tp, NULL, a, NULL));
  NULLOP(nd_ad_linear(tp, a, c, NULL)); /* W [4,5] against x [2,3] */
  NULLOP(nd_ad_linear(tp, a, b, c));    /* bias of the wrong size */
  NULLOP(nd_ad_add(tp, a, c));
  NULLOP(nd_ad_add(tp, NULL, b));
  NULLOP(nd_ad_sub(tp, a, c));
  NULLOP(nd_ad_mul(tp, a, c));
  NULLOP(nd_ad_mul(tp, a, NULL));
  NULLOP(nd_ad_scale(tp, NULL, 2.0f));
  NULLOP(nd_ad_reshape(tp, a, 2, ND_SHAPE(-2, -3)));
  NULLOP(nd_ad_reshape(tp, a, 2, ND_SHAPE(4, 2)));
  NULLOP(nd_ad_reshape(tp, a, 2, ND_SHAPE(BIG40, BIG40)));
  NULLOP(nd_ad_reshape(tp, a, 2, NULL));
  NULLOP(nd_ad_reshape(tp, NULL, 1, ND_SHAPE(6)));
  NULLOP(nd_ad_conv2d(tp, im, a, NULL, 1, 1, 0, 0));  /* 2-D weight */
  NULLOP(nd_ad_conv2d(tp, im, im, NULL, 0, 1, 0, 0)); /* stride 0 */
  NULLOP(nd_ad_conv2d(tp, im, im, NULL, 1, 1, -1, 0));
  NULLOP(nd_ad_conv2d(tp, NULL, im, NULL, 1, 1, 0, 0));
  NULLOP(nd_ad_conv2d(tp, im, im, NULL, 1, 1, INT64_MAX, INT64_MAX));
  NULLOP(nd_ad_conv_transpose2d(tp, im, im, NULL, 0, 1, 0, 0, 0, 0));
  NULLOP(nd_ad_conv_transpose2d(tp, im, im, NULL, 1, 1, 0, 0, 5, 0)); /* out_pad >= stride */
  NULLOP(nd_ad_conv_transpose2d(tp, im, im, NULL, INT64_MAX, INT64_MAX, 0, 0, 0, 0));
  NULLOP(nd_ad_conv_transpose2d(tp, a, im, NULL, 1, 1, 0, 0, 0, 0));
  NULLOP(nd_ad_avgpool2d(tp, im, 0, 1, 1, 1, 0, 0, true));
  NULLOP(nd_ad_avgpool2d(tp, im, 2, 2, 0, 1, 0, 0, true));
  NULLOP(nd_ad_avgpool2d(tp, im, 9, 9, 1, 1, 0, 0, true));
  NULLOP(nd_ad_avgpool2d(tp, im, 2, 2, 1, 1, 5, 5, true)); /* pad > kernel/2 */
  NULLOP(nd_ad_avgpool2d(tp, im, INT64_MAX, 2, 1, 1, 0, 0, true));
  NULLOP(nd_ad_avgpool2d(tp, a, 2, 2, 1, 1, 0, 0, true));
  NULLOP(nd_ad_adaptive_avgpool2d(tp, im, 0, 1));
  NULLOP(nd_ad_adaptive_avgpool2d(tp, im, -1, 1));
  NULLOP(nd_ad_adaptive_avgpool2d(tp, a, 1, 1));
  NULLOP(nd_ad_adaptive_avgpool2d(tp, im, INT64_MAX, 1));
  NULLOP(nd_ad_unary(tp, (nd_unary_op)999, 0.0f, a));
  NULLOP(nd_ad_unary(tp, (nd_unary_op)-1, 0.0f, a));
  NULLOP(nd_ad_relu(tp, NULL));
  NULLOP(nd_ad_leaky_relu(tp, NULL, 0.1f));
  NULLOP(nd_ad_tanh(tp, NULL));
  NULLOP(nd_ad_sigmoid(tp, NULL));
  NULLOP(nd_ad_softplus(tp, NULL));
  NULLOP(nd_ad_abs(tp, NULL));
  NULLOP(nd_ad_pow(tp, NULL, 2.0f));
  NULLOP(nd_ad_relu_pow(tp, NULL, 2.0f));
  NULLOP(nd_ad_soft_threshold(tp, NULL, 0.1f));
  NULLOP(nd_ad_hard_threshold(tp, NULL, 0.1f));
  NULLOP(nd_ad_exp(tp, NULL));
  NULLOP(nd_ad_log(tp, NULL));
  NULLOP(nd_ad_square(tp, NULL));
  NULLOP(nd_ad_prelu(tp, a, NULL));
  NULLOP(nd_ad_prelu(tp, a, c)); /* slope of the wrong size */
  NULLOP(nd_ad_sum(tp, NULL));
  NULLOP(nd_ad_mean(tp, NULL));
  NULLOP(nd_ad_softmax(tp, NULL));
  NULLOP(nd_ad_log_softmax(tp, NULL));
  NULLOP(nd_ad_cross_entropy(tp, a, NULL));
  NULLOP(nd_ad_cross_entropy(tp, NULL, labels));
  NULLOP(nd_ad_cross_entropy(tp, a, labels)); /* label 7 of 3 classes */
  NULLOP(nd_ad_mse(tp, a, c));
  NULLOP(nd_ad_mse(tp, a, NULL));
  NULLOP(nd_ad_abs_power_loss(tp, a, c, 6.0f));
  NULLOP(nd_ad_abs_power_loss(tp, a, b, 0.5f));
  NULLOP(nd_ad_abs_power_loss(tp, a, b, NAN));
  NULLOP(nd_ad_custom(tp, 1, (nd_var *const[]){a}, 2, ND_SHAPE(2, 3), NULL, NULL, NULL));
  NULLOP(nd_ad_custom(tp, ND_CUSTOM_MAX_INPUTS + 1, (nd_var *const[]){a}, 1, ND_SHAPE(2), NULL, NULL, NULL));
  NULLOP(nd_ad_custom(tp, -1, NULL, 1, ND_SHAPE(2), NULL, NULL, NULL));
  NULLOP(nd_ad_custom(tp, 1, NULL, 1, ND_SHAPE(2), NULL, NULL, NULL));
  NULLOP(nd_ad_custom(tp, 1, (nd_var *const[]){a}, 2, ND_SHAPE(BIG40, BIG40), custom_fwd, NULL, NULL));
  NULLOP(nd_ad_custom(tp, 1, (nd_var *const[]){a}, 2, ND_SHAPE(-1, 2), custom_fwd, NULL, NULL));
  NULLOP(nd_ad_custom(tp, 1, (nd_var *const[]){a}, 2, NULL, custom_fwd, NULL, NULL));
#undef NULLOP
#undef NOTAPE
  nd_tape_free(tp);
  return 0;
}

/* Zero-size inputs through every op, the optimizer and the writers: any
 * status is acceptable, a crash or sanitizer report is not; the ops that are
 * well defined on empty input must succeed. */
static int p_zero_size(void) {
  nd_tape *tp;
  OK(nd_tape_create(0, &tp));
  float one[1] = {0};
  nd_tensor e2 = nd_tensor_wrap(one, 2, ND_SHAPE(0, 3)), e1 = nd_tensor_wrap(one, 1, ND_SHAPE(0)),
            w = nd_tensor_wrap(one, 2, ND_SHAPE(0, 3)), img = nd_tensor_wrap(one, 4, ND_SHAPE(0, 1, 4, 4)),
            k = nd_tensor_wrap(one, 4, ND_SHAPE(1, 1, 2, 2)), e33 = nd_tensor_wrap(one, 2, ND_SHAPE(3, 0));
  nd_var *a = nd_tape_variable(tp, &e2), *b = nd_tape_variable(tp, &e2), *v1 = nd_tape_variable(tp, &e1);
  nd_var *wv = nd_tape_variable(tp, &w), *im = nd_tape_variable(tp, &img), *kv = nd_tape_variable(tp, &k);
  nd_var *t30 = nd_tape_variable(tp, &e33);
  EXPECT(a && b && v1 && wv && im && kv && t30);
  EXPECT(nd_ad_add(tp, a, b) && nd_ad_sub(tp, a, b) && nd_ad_mul(tp, a, b) && nd_ad_scale(tp, a, 2.0f));
  EXPECT(nd_ad_relu(tp, a) && nd_ad_tanh(tp, a) && nd_ad_exp(tp, a) && nd_ad_square(tp, a));
  EXPECT(nd_ad_reshape(tp, a, 2, ND_SHAPE(3, 0)));
  EXPECT(nd_ad_matmul(tp, a, t30, false, false)); /* [0,3] x [3,0] -> [0,0] */
  EXPECT(nd_ad_matmul(tp, t30, a, false, false)); /* [3,0] x [0,3] -> [3,3] of zeros */
  nd_var *s = nd_ad_sum(tp, a);
  EXPECT(s && nd_var_item(s) == 0.0f);
  EXPECT(nd_tape_status(tp) == ND_OK);
  /* well defined or refused, but no crash */
  (void)nd_ad_mean(tp, a);
  (void)nd_ad_softmax(tp, a);
  (void)nd_ad_log_softmax(tp, a);
  (void)nd_ad_linear(tp, a, wv, NULL);
  (void)nd_ad_mse(tp, a, b);
  (void)nd_ad_cross_entropy(tp, a, (const int32_t[1]){0});
  (void)nd_ad_abs_power_loss(tp, a, b, 6.0f);
  (void)nd_ad_conv2d(tp, im, kv, NULL, 1, 1, 0, 0);
  (void)nd_ad_avgpool2d(tp, im, 2, 2, 2, 2, 0, 0, true);
  (void)nd_ad_adaptive_avgpool2d(tp, im, 1, 1);
  nd_tape_reset(tp);
  s = nd_ad_sum(tp, nd_tape_variable(tp, &e2));
  if (s) (void)nd_tape_backward(tp, s);
  nd_tape_free(tp);
  /* optimizer over empty parameters */
  nd_tensor p = nd_tensor_wrap(one, 1, ND_SHAPE(0)), g = nd_tensor_wrap(one, 1, ND_SHAPE(0));
  nd_tensor *ps[1] = {&p}, *gs[1] = {&g};
  for (int kind = 0; kind < ND_OPTIM_KIND_COUNT_; kind++) {
    nd_optim_config c = nd_optim_defaults((nd_optim_kind)kind);
    nd_optim *o;
    OK(nd_optim_create(&c, 1, ps, gs, &o));
    OK(nd_optim_zero_grad(o));
    OK(nd_optim_step(o));
    double n = -1;
    OK(nd_optim_clip_grad_norm(o, 1.0, &n));
    EXPECT(n == 0.0);
    nd_optim_free(o);
  }
  /* writers and readers of empty arrays */
  char path[256];
  nd_tensor back;
  tmp_path(path, "empty.npy");
  OK(nd_npy_write(path, &e2));
  OK(nd_npy_read(path, &back));
  EXPECT(nd_tensor_numel(&back) == 0 && back.ndim == 2);
  nd_tensor_release(&back);
  tmp_path(path, "empty.safetensors");
  const nd_tensor *ts[1] = {&e2};
  OK(nd_safetensors_write(path, 1, (const char *[]){"e"}, ts, NULL));
  nd_safetensors *st;
  OK(nd_safetensors_read(path, &st));
  OK(nd_safetensors_get(st, "e", &back));
  nd_tensor_release(&back);
  nd_safetensors_free(st);
  OK(nd_safetensors_write(path, 0, NULL, NULL, NULL));
  OK(nd_safetensors_read(path, &st));
  EXPECT(nd_safetensors_count(st) == 0);
  nd_safetensors_free(st);
  tmp_path(path, "empty.idx");
  nd_array ea = {.dtype = ND_DTYPE_U8, .ndim = 2, .shape = {0, 5, 1, 1, 1, 1, 1, 1}, .numel = 0, .data = NULL};
  OK(nd_idx_write(path, &ea));
  nd_array rb;
  OK(nd_idx_read(path, &rb));
  EXPECT(rb.numel == 0 && rb.shape[1] == 5);
  nd_array_release(&rb);
  return 0;
}

static nd_status gc_fn(nd_tape *tp, nd_var *const *leaves, void *user, nd_var **out) {
  (void)user;
  *out = nd_ad_sum(tp, leaves[0]);
  return nd_tape_status(tp);
}

static int p_gradcheck(void) {
  float x[6] = {0};
  nd_tensor v = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), *vs[1] = {&v}, *nulls[1] = {NULL};
  nd_gradcheck_opts o = nd_gradcheck_default_opts();
  nd_gradcheck_result r;
  BAD(nd_gradcheck(NULL, NULL, 1, vs, &o, &r));
  BAD(nd_gradcheck(gc_fn, NULL, 1, NULL, &o, &r));
  BAD(nd_gradcheck(gc_fn, NULL, 1, nulls, &o, &r));
  BAD(nd_gradcheck(gc_fn, NULL, -1, vs, &o, &r));
  BAD(nd_gradcheck(gc_fn, NULL, 1, vs, &o, NULL));
  OK(nd_gradcheck(gc_fn, NULL, 1, vs, NULL, &r));
  EXPECT(r.passed);
  return 0;
}

/* -------------------------------------------------------------------- io */
static void tmp_path(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", tmpdir, name); }

static int p_io_arrays(void) {
  EXPECT(nd_dtype_size((nd_dtype)-1) == 0 && nd_dtype_size(ND_DTYPE_COUNT_) == 0);
  EXPECT(nd_dtype_name((nd_dtype)99) != NULL);
  nd_array_release(NULL);
  nd_tensor t;
  BAD(nd_array_to_tensor(NULL, &t));
  nd_array a = {.dtype = ND_DTYPE_F32, .ndim = 6, .shape = {1, 1, 1, 1, 1, 1, 1, 1}, .numel = 1, .data = (float[1]){0}};
  BAD(nd_array_to_tensor(&a, NULL));
  BAD(nd_array_to_tensor(&a, &t)); /* 6 dims > ND_MAX_DIMS */
  a.ndim = 1;
  a.dtype = (nd_dtype)77;
  BAD(nd_array_to_tensor(&a, &t));
  a.dtype = ND_DTYPE_F32;
  a.data = NULL;
  BAD(nd_array_to_tensor(&a, &t));
  a = (nd_array){.dtype = ND_DTYPE_F32, .ndim = 2, .shape = {BIG40, BIG40, 1, 1, 1, 1, 1, 1}, .numel = 1,
                 .data = (float[1]){0}};
  BAD(nd_array_to_tensor(&a, &t));
  return 0;
}

static int p_io_idx(void) {
  nd_array a;
  char p[256];
  tmp_path(p, "x.idx");
  BAD(nd_idx_parse(NULL, 16, "n", &a));
  BAD(nd_idx_parse("\0\0\x08\x01", 4, "n", NULL));
  BAD(nd_idx_parse("", 0, NULL, &a));
  BAD(nd_idx_read(NULL, &a));
  BAD(nd_idx_read(p, NULL));
  BAD(nd_idx_read(tmpdir, &a)); /* a directory */
  BAD(nd_idx_write(NULL, &(nd_array){0}));
  BAD(nd_idx_write(p, NULL));
  nd_array bad = {.dtype = ND_DTYPE_U8, .ndim = 1, .shape = {4, 1, 1, 1, 1, 1, 1, 1}, .numel = 4, .data = NULL};
  BAD(nd_idx_write(p, &bad));
  bad.data = (uint8_t[4]){0};
  bad.shape[0] = -4;
  BAD(nd_idx_write(p, &bad));
  bad.shape[0] = 4;
  bad.ndim = 0;
  BAD(nd_idx_write(p, &bad));
  bad.ndim = 1;
  bad.dtype = ND_DTYPE_BOOL;
  BAD(nd_idx_write(p, &bad));
  bad.dtype = ND_DTYPE_U8;
  bad.numel = 5; /* disagrees with the shape */
  BAD(nd_idx_write(p, &bad));
  return 0;
}

static int p_io_npy(void) {
  nd_tensor t;
  nd_array a;
  char p[256];
  tmp_path(p, "x.npy");
  BAD(nd_npy_parse(NULL, 10, "n", &t));
  BAD(nd_npy_parse("\x93NUMPY", 6, "n", NULL));
  BAD(nd_npy_parse_f64(NULL, 10, "n", &a));
  BAD(nd_npy_parse_f64("\x93NUMPY", 6, "n", NULL));
  BAD(nd_npy_read(NULL, &t));
  BAD(nd_npy_read(p, NULL));
  BAD(nd_npy_read_f64(NULL, &a));
  BAD(nd_npy_read_f64(tmpdir, &a));
  BAD(nd_npy_write(NULL, &(nd_tensor){0}));
  BAD(nd_npy_write(p, NULL));
  nd_tensor bad = hdr(NULL, 2, ND_SHAPE(2, 3));
  BAD(nd_npy_write(p, &bad));
  bad = hdr((float[6]){0}, 2, ND_SHAPE(2, -3));
  BAD(nd_npy_write(p, &bad));
  BAD(nd_npy_write_f64(NULL, 1, ND_SHAPE(2), (double[2]){0}));
  BAD(nd_npy_write_f64(p, 1, NULL, (double[2]){0}));
  BAD(nd_npy_write_f64(p, 1, ND_SHAPE(2), NULL));
  BAD(nd_npy_write_f64(p, 9, ND_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), (double[1]){0}));
  BAD(nd_npy_write_f64(p, 1, ND_SHAPE(-2), (double[2]){0}));
  BAD(nd_npy_write_f64(p, 2, ND_SHAPE(BIG40, BIG40), (double[2]){0}));
  return 0;
}

static int p_io_record(void) {
  nd_recorder *r = (nd_recorder *)1;
  nd_record_stream *s = (nd_record_stream *)1;
  nd_record_index ix;
  nd_array a;
  char p[256];
  tmp_path(p, "run");
  BAD(nd_recorder_open(NULL, 0, &r));
  BAD(nd_recorder_open(p, 0, NULL));
  BAD(nd_recorder_open(p, 0xff, &r));
  OK(nd_recorder_open(p, 0, &r));
  BAD(nd_recorder_stream(r, NULL, &s));
  nd_record_stream_spec sp = nd_record_stream_defaults("x", ND_RECORD_VECTOR, 1, ND_SHAPE(BIG40));
  BAD(nd_recorder_stream(r, &sp, &s));
  sp = nd_record_stream_defaults("x", ND_RECORD_IMAGE, 3, ND_SHAPE(BIG40, BIG40, BIG40));
  BAD(nd_recorder_stream(r, &sp, &s));
  sp = nd_record_stream_defaults("x", ND_RECORD_MAP2D, -1, NULL);
  BAD(nd_recorder_stream(r, &sp, &s));
  sp = nd_record_stream_defaults("x", ND_RECORD_VECTOR, 1, ND_SHAPE(1 << 25)); /* 128 MiB frames */
  BAD(nd_recorder_stream(r, &sp, &s));
  sp = nd_record_stream_defaults("x", ND_RECORD_VECTOR, 1, ND_SHAPE(2));
  sp.chunk_frames = -1;
  BAD(nd_recorder_stream(r, &sp, &s));
  sp.chunk_frames = 1 << 30; /* capped by the 64 MiB chunk */
  OK(nd_recorder_stream(r, &sp, &s));
  BAD(nd_recorder_stream(r, &sp, NULL));
  BAD(nd_recorder_stream(NULL, &sp, &s));
  BAD(nd_recorder_push(NULL, (float[2]){0}));
  BAD(nd_recorder_flush(NULL));
  OK(nd_recorder_close(r));
  OK(nd_recorder_close(NULL));
  BAD(nd_record_index_parse(NULL, 3, "n", &ix));
  BAD(nd_record_index_parse("{}", 2, "n", NULL));
  BAD(nd_record_index_parse("{}", 2, "n", &ix));
  BAD(nd_record_index_read(NULL, &ix));
  BAD(nd_record_index_read(tmpdir, &ix));
  BAD(nd_record_index_read(p, NULL));
  nd_record_index_release(NULL);
  EXPECT(nd_record_index_find(NULL, "x") == NULL);
  EXPECT(nd_record_stream_frames(NULL) == -1 && nd_recorder_dir(NULL) == NULL);
  BAD(nd_record_chunk_read(NULL, NULL, 0, &a));
  nd_record_stream_info info = {0};
  BAD(nd_record_chunk_read(p, &info, 0, &a));
  BAD(nd_record_chunk_read(p, &info, -1, &a));
  BAD(nd_record_chunk_read(p, &info, 0, NULL));
  return 0;
}

static int p_io_safetensors(void) {
  nd_safetensors *st = (nd_safetensors *)1;
  char p[256];
  tmp_path(p, "x.safetensors");
  BAD(nd_safetensors_parse(NULL, 10, "n", &st));
  BAD(nd_safetensors_parse("12345678{}", 10, "n", NULL));
  BAD(nd_safetensors_read(NULL, &st));
  BAD(nd_safetensors_read(p, NULL));
  BAD(nd_safetensors_read(tmpdir, &st));
  nd_safetensors_free(NULL);
  EXPECT(nd_safetensors_count(NULL) == 0);
  EXPECT(nd_safetensors_name(NULL, 0) == NULL);
  EXPECT(nd_safetensors_metadata(NULL, "k") == NULL);
  EXPECT(nd_safetensors_metadata_count(NULL) == 0);
  EXPECT(nd_safetensors_metadata_key(NULL, 0) == NULL);
  BAD(nd_safetensors_info(NULL, "a", NULL, NULL, NULL));
  nd_tensor t;
  nd_array arr;
  BAD(nd_safetensors_get(NULL, "a", &t));
  BAD(nd_safetensors_get_array(NULL, "a", &arr));
  /* writer */
  float x[6] = {0};
  nd_tensor a = nd_tensor_wrap(x, 2, ND_SHAPE(2, 3)), nodata = hdr(NULL, 2, ND_SHAPE(2, 3));
  const nd_tensor *ts[2] = {&a, &a}, *tn[1] = {NULL}, *tnd[1] = {&nodata};
  BAD(nd_safetensors_write(NULL, 1, (const char *[]){"a"}, ts, NULL));
  BAD(nd_safetensors_write(p, -1, (const char *[]){"a"}, ts, NULL));
  BAD(nd_safetensors_write(p, 1, NULL, ts, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){"a"}, NULL, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){"a"}, tn, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){NULL}, ts, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){""}, ts, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){"__metadata__"}, ts, NULL));
  BAD(nd_safetensors_write(p, 2, (const char *[]){"a", "a"}, ts, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){"a"}, tnd, NULL));
  BAD(nd_safetensors_write(p, 1, (const char *[]){"a"}, ts, (const char *[]){"key", NULL}));
  BAD(nd_safetensors_write_arrays(NULL, 0, NULL, NULL, NULL));
  BAD(nd_safetensors_write_arrays(p, 1, (const char *[]){"a"}, (const nd_array *[]){NULL}, NULL));
  nd_array bad = {.dtype = (nd_dtype)55, .ndim = 1, .shape = {2, 1, 1, 1, 1, 1, 1, 1}, .numel = 2, .data = x};
  BAD(nd_safetensors_write_arrays(p, 1, (const char *[]){"a"}, (const nd_array *[]){&bad}, NULL));
  bad.dtype = ND_DTYPE_F32;
  bad.data = NULL;
  BAD(nd_safetensors_write_arrays(p, 1, (const char *[]){"a"}, (const nd_array *[]){&bad}, NULL));
  /* a valid file, then bad lookups on it */
  OK(nd_safetensors_write(p, 1, (const char *[]){"a"}, ts, (const char *[]){"k", "v", NULL}));
  OK(nd_safetensors_read(p, &st));
  EXPECT(nd_safetensors_name(st, -1) == NULL && nd_safetensors_name(st, 1) == NULL);
  EXPECT(nd_safetensors_metadata_key(st, 5) == NULL);
  EXPECT(nd_safetensors_metadata(st, NULL) == NULL);
  BAD(nd_safetensors_info(st, NULL, NULL, NULL, NULL));
  BAD_AS(nd_safetensors_info(st, "b", NULL, NULL, NULL), ND_ERR_NOT_FOUND);
  BAD(nd_safetensors_get(st, "a", NULL));
  BAD(nd_safetensors_get_array(st, "a", NULL));
  BAD_AS(nd_safetensors_get(st, "zz", &t), ND_ERR_NOT_FOUND);
  nd_safetensors_free(st);
  return 0;
}

static int p_io_jsonl(void) {
  nd_jsonl *w = (nd_jsonl *)1;
  char p[256];
  tmp_path(p, "x.jsonl");
  BAD(nd_jsonl_open(NULL, &w));
  BAD(nd_jsonl_open("", &w));
  BAD(nd_jsonl_open(p, NULL));
  BAD(nd_jsonl_open_append(NULL, &w));
  BAD(nd_jsonl_open_append(p, NULL));
  BAD(nd_jsonl_open(tmpdir, &w));
  BAD(nd_jsonl_write(NULL, 1, &ND_JINT("a", 1)));
  OK(nd_jsonl_close(NULL));
  OK(nd_jsonl_open(p, &w));
  BAD(nd_jsonl_write(w, -1, &ND_JINT("a", 1)));
  BAD(nd_jsonl_write(w, 1, NULL));
  BAD(nd_jsonl_write(w, 1, &(nd_jsonl_field){.name = NULL, .kind = ND_JSONL_INT}));
  BAD(nd_jsonl_write(w, 1, &(nd_jsonl_field){.name = "x", .kind = (nd_jsonl_kind)42}));
  BAD(nd_jsonl_write(w, 1, &ND_JNUMS("a", NULL, 2)));
  BAD(nd_jsonl_write(w, 1, &ND_JNUMS("a", (const double[]){1}, -1)));
  OK(nd_jsonl_write(w, 0, NULL)); /* {} */
  OK(nd_jsonl_close(w));
  return 0;
}

static int p_io_png(void) {
  char p[256];
  tmp_path(p, "x.png");
  uint8_t px[12] = {0};
  float f[4] = {0};
  BAD(nd_png_write_gray(NULL, 2, 2, px));
  BAD(nd_png_write_gray(p, 0, 2, px));
  BAD(nd_png_write_gray(p, -2, 2, px));
  BAD(nd_png_write_gray(p, 2, 2, NULL));
  BAD(nd_png_write_gray(p, INT32_MAX, INT32_MAX, px));
  BAD(nd_png_write_rgb(NULL, 2, 2, px));
  BAD(nd_png_write_rgb(p, 2, -1, px));
  BAD(nd_png_write_rgb(p, 2, 2, NULL));
  BAD(nd_png_write_tiles(NULL, f, 1, 2, 2, NULL));
  BAD(nd_png_write_tiles(p, NULL, 1, 2, 2, NULL));
  BAD(nd_png_write_tiles(p, f, -1, 2, 2, NULL));
  BAD(nd_png_write_tiles(p, f, 1, 0, 2, NULL));
  BAD(nd_png_write_tiles(p, f, 1, INT32_MAX, INT32_MAX, NULL));
  nd_png_tiles_opts o = {.cols = INT32_MAX, .zoom = INT32_MAX};
  BAD(nd_png_write_tiles(p, f, 1, 2, 2, &o));
  double y[2] = {0, 1};
  nd_plot_series s = {.y = y, .n = 2};
  BAD(nd_png_plot_lines(NULL, 1, &s, NULL));
  BAD(nd_png_plot_lines(p, 1, NULL, NULL));
  BAD(nd_png_plot_lines(p, 0, &s, NULL));
  BAD(nd_png_plot_lines(p, 11, &s, NULL));
  nd_plot_series bad = {.y = NULL, .n = 2};
  BAD(nd_png_plot_lines(p, 1, &bad, NULL));
  bad = (nd_plot_series){.y = y, .n = -1};
  BAD(nd_png_plot_lines(p, 1, &bad, NULL));
  nd_plot_opts po = {.width = INT32_MAX, .height = INT32_MAX};
  BAD(nd_png_plot_lines(p, 1, &s, &po));
  return 0;
}

/* ------------------------------------------------------------------ data */
static int p_data(void) {
  nd_dataset d;
  char buf[256];
  nd_dataset_release(NULL);
  BAD(nd_data_dir(NULL, buf, sizeof buf));
  BAD(nd_data_dir("mnist", NULL, 10));
  BAD(nd_data_dir("mnist", buf, 0));
  BAD(nd_mnist_load(tmpdir, "bogus", 0, &d));
  BAD(nd_mnist_load(tmpdir, NULL, 0, &d));
  BAD(nd_mnist_load(tmpdir, "train", 0, NULL));
  BAD(nd_mnist_load(tmpdir, "train", -1, &d));
  BAD(nd_fashion_mnist_load(tmpdir, "test", 0, &d)); /* empty directory */
  BAD(nd_idx_dataset_load(NULL, NULL, 0, &d));
  BAD(nd_idx_dataset_load(tmpdir, tmpdir, 0, &d));
  BAD(nd_idx_dataset_load("a", "b", 0, NULL));
  /* natural-image patches */
  nd_tensor im, pt;
  BAD(nd_image_read_gray(NULL, &im));
  BAD(nd_image_read_gray(tmpdir, &im)); /* a directory */
  BAD(nd_image_read_gray("a.png", NULL));
  BAD(nd_image_parse_gray(NULL, 10, "m", &im));
  BAD(nd_image_parse_gray("abc", 0, "m", &im));
  BAD(nd_image_parse_gray("abc", 3, NULL, NULL));
  float px[16] = {0};
  nd_tensor small = nd_tensor_wrap(px, 2, ND_SHAPE(4, 4));
  BAD(nd_patches_sample(NULL, 1, 2, 3, 0, &pt));
  BAD(nd_patches_sample(&small, 0, 2, 3, 0, &pt));
  BAD(nd_patches_sample(&small, 1, 5, 3, 0, &pt));
  BAD(nd_patches_sample(&small, 1, 0, 3, 0, &pt));
  BAD(nd_patches_sample(&small, 1, 2, -3, 0, &pt));
  BAD(nd_patches_sample(&small, 1, 2, INT64_MAX, 0, &pt));
  BAD(nd_patches_sample(&small, 1, 2, 3, 0, NULL));
  BAD(nd_patches_whiten(NULL, 0.1, NULL));
  BAD(nd_patches_whiten(&small, -0.1, NULL));
  BAD(nd_patches_whiten(&small, NAN, NULL));
  nd_tensor one = nd_tensor_wrap(px, 1, ND_SHAPE(16));
  BAD(nd_patches_whiten(&one, 0.1, NULL));
  BAD(nd_photo_patches_load(tmpdir, 16, 10, 0, 0.1, &pt)); /* no photos/ there */
  BAD(nd_photo_patches_load(NULL, 16, 10, 0, 0.1, NULL));
  double a[4] = {1, 0, 0, 1}, w[2];
  BAD(nd_dsyev(2, NULL, w));
  BAD(nd_dsyev(2, a, NULL));
  BAD(nd_dsyev(-1, a, w));
  BAD(nd_dsyev(INT64_MAX, a, w));
  return 0;
}

/* ------------------------------------------------------ dynamics solvers */
static nd_status probe_rhs(double t, const float *y, float *dy, void *user) {
  (void)t, (void)user;
  dy[0] = -y[0];
  return ND_OK;
}

static int p_dynamics_dopri(void) {
  nd_dopri *dp = (nd_dopri *)1;
  BAD(nd_dopri_create(0, false, &dp));
  EXPECT(dp == NULL);
  BAD(nd_dopri_create(-1, true, &dp));
  BAD(nd_dopri_create(INT64_MAX, true, &dp));
  BAD(nd_dopri_create(1, false, NULL));
  nd_dopri_free(NULL);
  EXPECT(nd_dopri_dim(NULL) == 0);
  OK(nd_dopri_create(1, false, &dp));
  nd_system sys = {1, probe_rhs, NULL}, big = {2, probe_rhs, NULL}, none = {1, NULL, NULL};
  float y[2] = {1, 1};
  nd_dopri_result r;
  BAD(nd_dopri_integrate(NULL, &sys, 0, 1, y, NULL, &r));
  BAD(nd_dopri_integrate(dp, NULL, 0, 1, y, NULL, &r));
  BAD(nd_dopri_integrate(dp, &sys, 0, 1, NULL, NULL, &r));
  BAD_AS(nd_dopri_integrate(dp, &big, 0, 1, y, NULL, &r), ND_ERR_SHAPE);
  BAD(nd_dopri_integrate(dp, &none, 0, 1, y, NULL, &r));
  BAD(nd_dopri_integrate(dp, &sys, NAN, 1, y, NULL, &r));
  nd_dopri_opts o = nd_dopri_defaults();
  o.rtol = -1;
  BAD(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, &r));
  o = nd_dopri_defaults();
  o.fac_min = 0;
  BAD(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, &r));
  o = nd_dopri_defaults();
  o.fac_max = INFINITY;
  BAD(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, &r));
  o = nd_dopri_defaults();
  o.h0 = NAN;
  BAD(nd_dopri_integrate(dp, &sys, 0, 1, y, &o, NULL));
  BAD(nd_dopri_step(NULL, &sys, 0, 0.1, y, 1e-3, 1e-6, NULL));
  BAD(nd_dopri_step(dp, &sys, 0, INFINITY, y, 1e-3, 1e-6, NULL));
  BAD(nd_dopri_step(dp, &sys, 0, 0.1, y, 0, 0, NULL));
  BAD_AS(nd_dopri_step(dp, &big, 0, 0.1, y, 1e-3, 1e-6, NULL), ND_ERR_SHAPE);
  BAD(nd_dopri_dense(NULL, 0, y));
  BAD(nd_dopri_dense(dp, 0, NULL));
  BAD(nd_dopri_dense(dp, 0, y)); /* no dense buffers */
  OK(nd_dopri_integrate(dp, &sys, 0, 1, y, NULL, &r));
  EXPECT(r.t == 1.0 && fabsf(y[0] - expf(-1.0f)) < 1e-2f);
  nd_dopri_free(dp);
  return 0;
}

static int p_snn(void) {
  nd_snn *net = (nd_snn *)1;
  nd_snn_config c = nd_snn_defaults();
  BAD(nd_snn_config_check(NULL));
  BAD(nd_snn_create(NULL, &net));
  EXPECT(net == NULL);
  BAD(nd_snn_create(&c, NULL));
  c.batch = (int64_t)1 << 40;
  BAD(nd_snn_create(&c, &net));
  c = nd_snn_defaults();
  c.t_ref_ms = -1;
  BAD(nd_snn_config_check(&c));
  c = nd_snn_defaults();
  c.model = (nd_snn_model)9;
  BAD(nd_snn_config_check(&c));
  c = nd_snn_defaults();
  c.neurons = 4;
  OK(nd_snn_create(&c, &net));
  float w[16] = {0}, x = 1;
  w[3] = NAN;
  BAD_AS(nd_snn_set_recurrent(net, w), ND_ERR_NUMERIC);
  BAD(nd_snn_set_recurrent(net, NULL));
  BAD(nd_snn_set_recurrent(NULL, w));
  BAD(nd_snn_set_recurrent_random(net, -0.1, 0.5, 1, 1, 1));
  BAD(nd_snn_set_recurrent_random(net, 0.1, 2, 1, 1, 1));
  BAD(nd_snn_set_recurrent_random(net, 0.1, 0.5, INFINITY, 1, 1));
  BAD(nd_snn_set_recurrent_random(NULL, 0.1, 0.5, 1, 1, 1));
  BAD(nd_snn_set_input(net, &x)); /* inputs = 0 */
  BAD(nd_snn_set_input(NULL, &x));
  BAD(nd_snn_step(net, &x, NULL));
  BAD(nd_snn_step(NULL, NULL, NULL));
  BAD(nd_snn_reset_state(NULL));
  int64_t cnt;
  BAD_VALUE(nd_snn_spike_list(net, -1, &cnt), v_ == NULL);
  BAD_VALUE(nd_snn_spike_list(net, 0, NULL), v_ == NULL);
  BAD_VALUE(nd_snn_spike_list(NULL, 0, &cnt), v_ == NULL);
  BAD_VALUE(nd_snn_out_degree(net, 4), v_ == -1);
  BAD_VALUE(nd_snn_out_degree(NULL, 0), v_ == -1);
  EXPECT(nd_snn_voltage(NULL) == NULL && nd_snn_spikes(NULL) == NULL && nd_snn_current(NULL) == NULL);
  EXPECT(nd_snn_adaptation(NULL) == NULL && nd_snn_get_config(NULL) == NULL);
  EXPECT(nd_snn_steps(NULL) == -1 && nd_snn_gemm_steps(NULL) == -1 && nd_snn_synapse_count(NULL) == -1);
  nd_snn_free(net);
  nd_snn_free(NULL);
  return 0;
}

static int p_snn_learn(void) {
  nd_snn_learner *l = (nd_snn_learner *)1;
  nd_snn_learn_config c = nd_snn_learn_defaults();
  BAD(nd_snn_learn_config_check(NULL));
  BAD(nd_snn_learner_create(NULL, &l));
  EXPECT(l == NULL);
  BAD(nd_snn_learner_create(&c, NULL));
  c.surrogate = (nd_snn_surrogate)9;
  BAD(nd_snn_learn_config_check(&c));
  c = nd_snn_learn_defaults();
  c.gamma = NAN;
  BAD(nd_snn_learn_config_check(&c));
  c = nd_snn_learn_defaults();
  c.neurons = 4, c.inputs = 2, c.batch = 1;
  OK(nd_snn_learner_create(&c, &l));
  nd_snn_params p;
  BAD(nd_snn_learner_params(NULL, &p, NULL));
  BAD(nd_snn_learner_set_method(NULL, ND_SNN_EPROP));
  BAD(nd_snn_learner_set_method(l, (nd_snn_method)7));
  float x[2] = {1, 0};
  int32_t lab = 5;
  nd_snn_seq s = {.T = 1, .B = 1, .x = x, .labels = &lab};
  double lo;
  BAD(nd_snn_learner_grad(l, &s, &lo, NULL, NULL)); /* label 5 >= outputs 2 */
  lab = 1;
  BAD(nd_snn_learner_grad(NULL, &s, &lo, NULL, NULL));
  BAD(nd_snn_learner_grad(l, NULL, &lo, NULL, NULL));
  BAD(nd_snn_learner_grad(l, &s, NULL, NULL, NULL));
  BAD(nd_snn_learner_eval(l, &s, NULL, NULL, NULL));
  s.B = 2;
  BAD_AS(nd_snn_learner_eval(l, &s, &lo, NULL, NULL), ND_ERR_SHAPE);
  BAD(nd_snn_learner_update(NULL));
  nd_snn_task t = nd_snn_task_defaults(ND_SNN_TASK_RECALL);
  int64_t T, I, K;
  BAD(nd_snn_task_check(NULL));
  BAD(nd_snn_task_shape(NULL, &T, &I, &K));
  BAD(nd_snn_task_shape(&t, NULL, &I, &K));
  BAD(nd_snn_recall_batch(&t, NULL, 1, x, &lab));
  BAD(nd_snn_smnist_batch(&t, NULL, NULL, NULL, 1, x, &lab));
  BAD(nd_snn_learner_epoch(NULL, &t, NULL, NULL));
  BAD(nd_snn_learner_epoch(l, &t, NULL, NULL)); /* the task has 40 inputs */
  BAD(nd_snn_learner_epoch_stats(NULL, &lo, &lo, &lo));
  BAD(nd_snn_learner_evaluate(NULL, &t, 0, 1, 0, NULL, NULL, &lo, &lo));
  nd_train_state st;
  BAD(nd_snn_learner_get_state(NULL, &st));
  BAD(nd_snn_learner_set_state(l, NULL));
  BAD(nd_snn_learner_save(NULL, NULL));
  BAD(nd_snn_learner_load(NULL, &l));
  EXPECT(l == NULL);
  EXPECT(nd_snn_learner_config(NULL) == NULL && nd_snn_learner_feedback(NULL) == NULL);
  EXPECT(nd_snn_learner_buffer_bytes(NULL) == -1);
  nd_snn_learner_free(NULL);
  return 0;
}

/* ----------------------------------------------------- accel and lca */
static int p_accel(void) {
  nd_accel *acc = (nd_accel *)1;
  nd_accel_config c = nd_accel_defaults(ND_ACCEL_ADAM);
  BAD(nd_accel_create(NULL, 1, 1, &acc));
  EXPECT(acc == NULL);
  BAD(nd_accel_create(&c, 1, 1, NULL));
  BAD(nd_accel_create(&c, 0, 1, &acc));
  BAD(nd_accel_create(&c, 1, -1, &acc));
  BAD(nd_accel_create(&c, BIG40, BIG40, &acc));
  nd_accel_config bad = c;
  bad.eta = NAN;
  BAD(nd_accel_config_check(&bad));
  bad = c;
  bad.beta1 = 1;
  BAD(nd_accel_config_check(&bad));
  bad = c;
  bad.kind = ND_ACCEL_KIND_COUNT_;
  BAD(nd_accel_config_check(&bad));
  BAD(nd_accel_config_check(NULL));
  nd_accel_kind k;
  BAD(nd_accel_parse(NULL, &k));
  BAD(nd_accel_parse("sgd", &k));
  BAD(nd_accel_parse("adam", NULL));
  nd_accel_schedule sc;
  BAD(nd_accel_schedule_parse("linear", &sc));
  EXPECT(nd_accel_name(ND_ACCEL_KIND_COUNT_) == NULL && nd_accel_schedule_name(ND_ACCEL_SCHEDULE_COUNT_) == NULL);
  OK(nd_accel_create(&c, 2, 3, &acc));
  float x[6] = {0}, d[6] = {1, 2, 3, 4, 5, 6};
  BAD(nd_accel_step(NULL, x, d, 2, 3, NULL));
  BAD(nd_accel_step(acc, NULL, d, 2, 3, NULL));
  BAD_AS(nd_accel_step(acc, x, d, 3, 3, NULL), ND_ERR_SHAPE);
  BAD_AS(nd_accel_step(acc, x, d, 2, 2, NULL), ND_ERR_SHAPE);
  BAD(nd_accel_step(acc, x, x + 1, 1, 3, NULL));
  BAD(nd_accel_reset(NULL));
  EXPECT(nd_accel_config_of(NULL) == NULL);
  nd_accel_free(acc);
  nd_accel_free(NULL);
  return 0;
}

static int p_lca(void) {
  float phi[6] = {1, 0, 0.5f, 0, 1, 0.5f}, s[4] = {1, 2, 3, 4}, a[8];
  nd_lca_config c = nd_lca_defaults();
  nd_lca *l = (nd_lca *)1;
  BAD(nd_lca_create(NULL, phi, 2, 3, 1, &l));
  EXPECT(l == NULL);
  BAD(nd_lca_create(&c, NULL, 2, 3, 1, &l));
  BAD(nd_lca_create(&c, phi, 2, 3, 1, NULL));
  BAD(nd_lca_create(&c, phi, 0, 3, 1, &l));
  BAD(nd_lca_create(&c, phi, 2, 3, 0, &l));
  BAD(nd_lca_create(&c, phi, BIG40, BIG40, 1, &l));
  nd_lca_config bad = c;
  bad.lambda = -1;
  BAD(nd_lca_config_check(&bad));
  bad = c;
  bad.tol = 0;
  BAD(nd_lca_config_check(&bad));
  bad = c;
  bad.max_iter = 0;
  BAD(nd_lca_config_check(&bad));
  bad = c;
  bad.variant = ND_LCA_UPSTREAM;
  bad.threshold = ND_LCA_HARD;
  BAD(nd_lca_config_check(&bad));
  bad = c;
  bad.update.eta = -1;
  BAD(nd_lca_config_check(&bad));
  BAD(nd_lca_config_check(NULL));
  float nanphi[6] = {1, NAN, 0, 0, 1, 0};
  BAD(nd_lca_create(&c, nanphi, 2, 3, 1, &l));
  float zero[6] = {0};
  bad = c;
  bad.normalize = true;
  BAD(nd_lca_create(&bad, zero, 2, 3, 1, &l));
  nd_lca_threshold t;
  nd_lca_variant v;
  nd_lca_form f;
  BAD(nd_lca_threshold_parse("medium", &t));
  BAD(nd_lca_variant_parse(NULL, &v));
  BAD(nd_lca_form_parse("gram", NULL));
  BAD(nd_lca_form_parse("gramian", &f));
  EXPECT(nd_lca_threshold_name(ND_LCA_THRESHOLD_COUNT_) == NULL && nd_lca_variant_name(ND_LCA_VARIANT_COUNT_) == NULL &&
         nd_lca_form_name(ND_LCA_FORM_COUNT_) == NULL);
  BAD(nd_lca_threshold_apply(ND_LCA_SOFT, ND_LCA_TEXTBOOK, 0.1f, NULL, a, 2));
  BAD(nd_lca_threshold_apply(ND_LCA_SOFT, ND_LCA_TEXTBOOK, -0.1f, s, a, 2));
  BAD(nd_lca_threshold_apply(ND_LCA_THRESHOLD_COUNT_, ND_LCA_TEXTBOOK, 0.1f, s, a, 2));
  BAD(nd_lca_threshold_apply(ND_LCA_SOFT, ND_LCA_VARIANT_COUNT_, 0.1f, s, a, 2));
  BAD(nd_lca_threshold_apply(ND_LCA_SOFT, ND_LCA_TEXTBOOK, 0.1f, s, a, -1));
  double pen;
  BAD(nd_lca_penalty(ND_LCA_SOFT, 0.1f, NULL, 2, &pen));
  BAD(nd_lca_penalty(ND_LCA_SOFT, NAN, s, 2, &pen));
  BAD(nd_lca_penalty(ND_LCA_SOFT, 0.1f, s, 2, NULL));
  OK(nd_lca_create(&c, phi, 2, 3, 2, &l));
  nd_lca_result r;
  BAD(nd_lca_solve(NULL, s, 1, a, &r));
  BAD(nd_lca_solve(l, NULL, 1, a, &r));
  BAD(nd_lca_solve(l, s, 1, NULL, &r));
  BAD_AS(nd_lca_solve(l, s, 3, a, &r), ND_ERR_SHAPE);
  BAD_AS(nd_lca_solve(l, s, 0, a, &r), ND_ERR_SHAPE);
  float nans[2] = {NAN, 1};
  BAD(nd_lca_solve(l, nans, 1, a, &r));
  double e;
  BAD(nd_lca_energy(NULL, s, a, 1, NULL, &e));
  BAD_AS(nd_lca_energy(l, s, a, 5, NULL, &e), ND_ERR_SHAPE);
  BAD(nd_lca_set_dictionary(l, NULL));
  BAD(nd_lca_set_dictionary(NULL, phi));
  BAD(nd_lca_set_dictionary(l, nanphi));
  BAD(nd_lca_set_observer(NULL, NULL, NULL));
  EXPECT(nd_lca_dictionary(NULL) == NULL && nd_lca_config_of(NULL) == NULL && nd_lca_potentials(NULL) == NULL);
  EXPECT(nd_lca_m(NULL) == -1 && nd_lca_n(NULL) == -1 && nd_lca_max_batch(NULL) == -1);
  EXPECT(isnan(nd_lca_lipschitz(NULL)) && isnan(nd_lca_eta(NULL)) && nd_lca_form_of(NULL) == ND_LCA_FORM_AUTO);
  OK(nd_lca_solve(l, s, 2, a, &r));
  nd_lca_free(l);
  nd_lca_free(NULL);
  return 0;
}

/* WTA circuits (circuits.h). */
static int p_circuits(void) {
  nd_wta_config c = nd_wta_defaults(), bad = c;
  float in[6] = {1, 0.5f, 0.2f, 0, 0.1f, 0.3f}, x[6], y[6];
  nd_wta_result r;
  BAD(nd_wta_config_check(NULL));
  bad.tau = -1;
  BAD(nd_wta_config_check(&bad));
  bad = c;
  bad.g = 0;
  BAD(nd_wta_config_check(&bad));
  bad = c;
  bad.alpha = NAN;
  BAD(nd_wta_config_check(&bad));
  bad = c;
  bad.order = ND_WTA_ORDER_COUNT_;
  BAD(nd_wta_solve(&bad, in, 1, 6, x, y, &r));
  EXPECT(nd_wta_order_name(ND_WTA_ORDER_COUNT_) == NULL);
  nd_wta_order o;
  BAD(nd_wta_order_parse(NULL, &o));
  BAD(nd_wta_order_parse("jacobi", NULL));
  BAD(nd_wta_solve(NULL, in, 1, 6, x, y, &r));
  BAD(nd_wta_solve(&c, NULL, 1, 6, x, y, &r));
  BAD(nd_wta_solve(&c, in, 1, 6, NULL, y, &r));
  BAD(nd_wta_solve(&c, in, 1, 6, x, y, NULL));
  BAD(nd_wta_solve(&c, in, 0, 6, x, y, &r));
  BAD(nd_wta_solve(&c, in, 1, 0, x, y, &r));
  BAD(nd_wta_solve(&c, in, BIG40, BIG40, x, y, &r));
  BAD(nd_lcwta_solve(&c, 6, in, 1, 6, x, y, &r));
  BAD(nd_lcwta_solve(&c, -1, in, 1, 6, x, y, &r));
  BAD(nd_lcwta_solve(&c, 1, in, 1, -6, x, y, &r));
  BAD(nd_lcwta_solve(&c, 1, in, BIG40, BIG40, x, y, &r));
  nd_convwta_shape s = {1, 2, 1, 3, 1, 3, true};
  BAD(nd_convwta_solve(&c, NULL, in, x, y, &r));
  BAD(nd_convwta_solve(&c, &s, in, x, y, NULL));
  BAD(nd_convwta_solve(&c, &s, NULL, x, y, &r));
  nd_convwta_shape sb = s;
  sb.kw = 5;
  BAD(nd_convwta_solve(&c, &sb, in, x, y, &r));
  sb = s;
  sb.kh = 0;
  BAD(nd_convwta_solve(&c, &sb, in, x, y, &r));
  sb = s;
  sb.channels = BIG40;
  sb.height = BIG40;
  BAD(nd_convwta_solve(&c, &sb, in, x, y, &r));
  OK(nd_wta_solve(&c, in, 1, 6, x, y, &r));
  OK(nd_lcwta_solve(&c, 1, in, 2, 3, x, y, &r));
  OK(nd_convwta_solve(&c, &s, in, x, NULL, &r));
  nd_lcawta_config lc = nd_lcawta_defaults();
  lc.halfwidth = 1;
  float phi[6] = {1, 0, 0, 0, 1, 0}, a[6];
  BAD(nd_lcawta_solve(NULL, phi, 2, 3, in, 1, a, x, &r));
  BAD(nd_lcawta_solve(&lc, NULL, 2, 3, in, 1, a, x, &r));
  BAD(nd_lcawta_solve(&lc, phi, 2, 3, NULL, 1, a, x, &r));
  BAD(nd_lcawta_solve(&lc, phi, 2, 3, in, 1, NULL, x, &r));
  BAD(nd_lcawta_solve(&lc, phi, 2, 3, in, 1, a, NULL, &r));
  BAD(nd_lcawta_solve(&lc, phi, 2, 3, in, 1, a, x, NULL));
  BAD(nd_lcawta_solve(&lc, phi, 2, 3, in, 0, a, x, &r));
  BAD(nd_lcawta_solve(&lc, phi, BIG40, BIG40, in, 1, a, x, &r));
  nd_lcawta_config lb = lc;
  lb.flow[1][1] = INFINITY;
  BAD(nd_lcawta_solve(&lb, phi, 2, 3, in, 1, a, x, &r));
  lb = lc;
  lb.lca_eta = 2;
  BAD(nd_lcawta_solve(&lb, phi, 2, 3, in, 1, a, x, &r));
  lb = lc;
  lb.halfwidth = 3;
  BAD(nd_lcawta_solve(&lb, phi, 2, 3, in, 1, a, x, &r));
  OK(nd_lcawta_solve(&lc, phi, 2, 3, in, 1, a, x, &r));
  return 0;
}

/* Credit-assignment ops (credit.h) and the MLP's method functions (mlp.h). */
static int p_credit(void) {
  nd_tape *tp;
  OK(nd_tape_create(0, &tp));
  float buf[3][64];
  memset(buf, 0, sizeof buf);
  nd_tensor a23 = nd_tensor_wrap(buf[0], 2, ND_SHAPE(2, 3)), w43 = nd_tensor_wrap(buf[1], 2, ND_SHAPE(4, 3)),
            f44 = nd_tensor_wrap(buf[2], 2, ND_SHAPE(4, 4));
#define CREDIT_BAD(expr)                                                                \
  do {                                                                                  \
    nd_tape_reset(tp);                                                                  \
    nd_var *a = nd_tape_variable(tp, &a23), *w = nd_tape_variable(tp, &w43);            \
    (void)a, (void)w;                                                                   \
    nd_clear_error();                                                                   \
    if ((expr) != NULL || !nd_last_error()[0]) {                                        \
      fprintf(stderr, "  line %d: %s did not fail\n", __LINE__, #expr);                 \
      return 1;                                                                         \
    }                                                                                   \
  } while (0)
  CREDIT_BAD(nd_credit_detach(NULL, a));
  CREDIT_BAD(nd_credit_detach(tp, NULL));
  CREDIT_BAD(nd_credit_linear_fa(NULL, a, w, NULL, &w43));
  CREDIT_BAD(nd_credit_linear_fa(tp, a, NULL, NULL, &w43));
  CREDIT_BAD(nd_credit_linear_fa(tp, a, w, NULL, NULL));
  CREDIT_BAD(nd_credit_linear_fa(tp, a, w, NULL, &f44));
  CREDIT_BAD(nd_credit_linear_fa(tp, a, a, a, &a23));    /* b [2,3] is not 1-D */
  CREDIT_BAD(nd_credit_dfa_output(NULL, a, 0, NULL, NULL));
  CREDIT_BAD(nd_credit_dfa_output(tp, NULL, 0, NULL, NULL));
  CREDIT_BAD(nd_credit_dfa_output(tp, a, 1, NULL, NULL));
  CREDIT_BAD(nd_credit_dfa_output(tp, a, 9, &a, (const nd_tensor *[]){&w43}));
  CREDIT_BAD(nd_credit_dfa_output(tp, a, 1, &w, (const nd_tensor *[]){&w43}));
  CREDIT_BAD(nd_credit_dfa_output(tp, a, 1, &a, (const nd_tensor *[]){NULL}));
  CREDIT_BAD(nd_credit_inject(NULL, a, &a23));
  CREDIT_BAD(nd_credit_inject(tp, NULL, &a23));
  CREDIT_BAD(nd_credit_inject(tp, a, NULL));
  CREDIT_BAD(nd_credit_inject(tp, a, &w43));
  CREDIT_BAD(nd_credit_ff_loss(NULL, a, 1, 1, 1.0f));
  CREDIT_BAD(nd_credit_ff_loss(tp, NULL, 1, 1, 1.0f));
  CREDIT_BAD(nd_credit_ff_loss(tp, a, 2, 1, 1.0f));
  CREDIT_BAD(nd_credit_ff_loss(tp, a, -1, 1, 1.0f));
  CREDIT_BAD(nd_credit_ff_loss(tp, a, 0, 0, 1.0f));
  CREDIT_BAD(nd_credit_ff_loss(tp, a, 1, 1, NAN));
#undef CREDIT_BAD
  nd_tape_free(tp);
  BAD(nd_credit_regression_grads(NULL, &a23, &a23, NULL, &w43, NULL, NULL));
  BAD(nd_credit_regression_grads(&a23, &a23, &a23, NULL, &w43, NULL, NULL)); /* dw [4,3], expected [3,3] */
  BAD(nd_credit_regression_grads(&a23, &a23, &w43, NULL, &f44, NULL, NULL));
  BAD(nd_credit_ff_normalize(NULL, 1, 3, 0, buf[0]));
  BAD(nd_credit_ff_normalize(buf[0], -1, 3, 0, buf[0]));
  BAD(nd_credit_ff_normalize(buf[0], 1, 0, 0, buf[0]));
  BAD(nd_credit_ff_normalize(buf[0], 1, 3, -1, buf[0]));
  BAD(nd_credit_ff_embed(NULL, 1, 3, 2, NULL, 0));
  BAD(nd_credit_ff_embed(buf[0], 1, 3, 4, NULL, 0));
  BAD(nd_credit_ff_embed(buf[0], 1, 3, 2, (const int32_t[]){5}, 0));
  if (nd_credit_method_name((nd_credit_method)-1) || nd_credit_method_name(ND_CREDIT_COUNT_) ||
      !isnan(nd_credit_angle(NULL, buf[0], 3)) || !isnan(nd_credit_angle(buf[0], buf[0], 0)))
    return 1;
  nd_mlp *m;
  nd_mlp_config c = nd_mlp_defaults(3, (const int64_t[]){3, 4, 2});
  c.method = ND_CREDIT_DNI;
  OK(nd_mlp_create(&c, &m));
  int32_t y[2] = {0, 1}, ybad[2] = {0, 7};
  double ang[2];
  BAD(nd_mlp_batch_grads(NULL, buf[0], y, 2, NULL));
  BAD(nd_mlp_batch_grads(m, NULL, y, 2, NULL));
  BAD(nd_mlp_batch_grads(m, buf[0], NULL, 2, NULL));
  BAD(nd_mlp_batch_grads(m, buf[0], y, 0, NULL));
  BAD(nd_mlp_batch_grads(m, buf[0], ybad, 2, NULL));
  BAD(nd_mlp_grad_angles(NULL, buf[0], y, 2, ang));
  BAD(nd_mlp_grad_angles(m, buf[0], y, 2, NULL));
  BAD(nd_mlp_grad_angles(m, buf[0], y, -1, ang));
  BAD(nd_mlp_set_progress(NULL, NULL, NULL));
  if (nd_mlp_feedback(NULL, 0) || nd_mlp_feedback(m, -1) || nd_mlp_feedback(m, 5) || nd_mlp_feedback(m, 0)) return 1;
  OK(nd_mlp_batch_grads(m, buf[0], y, 2, NULL));
  nd_mlp_free(m);
  c.method = ND_CREDIT_FF;
  OK(nd_mlp_create(&c, &m));
  BAD(nd_mlp_batch_grads(m, buf[0], ybad, 2, NULL));
  nd_mlp_free(m);
  return 0;
}

static nd_status probe_map(const float *x, float *gx, void *user) {
  (void)user;
  gx[0] = 0.5f * x[0] + 1.0f;
  return ND_OK;
}

static int p_dynamics_fixed_point(void) {
  nd_fixed_point *fp = (nd_fixed_point *)1;
  BAD(nd_fixed_point_create(0, 2, 1, &fp));
  EXPECT(fp == NULL);
  BAD(nd_fixed_point_create(1, -1, 1, &fp));
  BAD(nd_fixed_point_create(1, 65, 1, &fp));
  BAD(nd_fixed_point_create(1, 2, 0, &fp));
  BAD(nd_fixed_point_create(1, 2, 2, &fp));
  BAD(nd_fixed_point_create(INT64_MAX, 64, 1, &fp));
  BAD(nd_fixed_point_create(1, 2, 1, NULL));
  nd_fixed_point_free(NULL);
  OK(nd_fixed_point_create(2, 2, 2, &fp));
  nd_map map = {1, probe_map, NULL}, big = {3, probe_map, NULL}, none = {1, NULL, NULL};
  float x[3] = {0, 0, 0};
  nd_fixed_point_result r;
  BAD(nd_fixed_point_solve(NULL, &map, x, NULL, &r));
  BAD(nd_fixed_point_solve(fp, NULL, x, NULL, &r));
  BAD(nd_fixed_point_solve(fp, &map, NULL, NULL, &r));
  BAD(nd_fixed_point_solve(fp, &none, x, NULL, &r));
  BAD_AS(nd_fixed_point_solve(fp, &big, x, NULL, &r), ND_ERR_SHAPE);
  nd_fixed_point_opts o = nd_fixed_point_defaults();
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r)); /* m = 5 > m_max = 2 */
  o.m = 2;
  o.rows = 2; /* does not divide dim 1 */
  BAD_AS(nd_fixed_point_solve(fp, &map, x, &o, &r), ND_ERR_SHAPE);
  o.rows = 3;
  BAD_AS(nd_fixed_point_solve(fp, &map, x, &o, &r), ND_ERR_SHAPE);
  o.rows = 0;
  o.beta = NAN;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.beta = 1;
  o.tol = o.atol = 0;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.tol = -1;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.tol = 1e-6;
  o.max_iter = 0;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.max_iter = 100;
  o.reg = -1;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.reg = 0;
  o.cond_max = 1;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, &r));
  o.cond_max = 1e8;
  o.restart_growth = NAN;
  BAD(nd_fixed_point_solve(fp, &map, x, &o, NULL));
  o.restart_growth = 10;
  OK(nd_fixed_point_solve(fp, &map, x, &o, &r));
  EXPECT(r.stop == ND_STOP_TOLERANCE && fabsf(x[0] - 2.0f) < 1e-5f);
  nd_fixed_point_free(fp);
  return 0;
}

/* ----------------------------------------------------------- distributed */
/* nd_grad_sum_batch's block: rows x_i = i + 1, loss mean(x), gradient (mean(x), mean(3x)). */
static nd_status probe_block_mean(void *user, int64_t b, int64_t r0, int64_t r1, double w, double *mean) {
  double m = 0;
  for (int64_t i = r0; i < r1; i++) m += (double)(i + 1) / (double)(r1 - r0);
  *mean = m;
  float g[2] = {(float)m, (float)(3 * m)};
  return nd_grad_sum_put(user, b, w, g);
}

static nd_status fail_gather(const void *send, void *recv, int64_t bytes, void *user) {
  (void)send, (void)recv, (void)bytes, (void)user;
  return nd_set_error(ND_ERR_IO, "peer gone");
}

static int p_distributed(void) {
  int x = 3, y = 0, all[4];
  BAD(nd_comm_allgather(NULL, NULL, &y, 4));
  BAD(nd_comm_allgather(NULL, &x, NULL, 4));
  BAD(nd_comm_allgather(NULL, &x, &y, -1));
  OK(nd_comm_allgather(NULL, &x, &y, sizeof x));
  EXPECT(y == 3);
  nd_comm bad = {.rank = 0, .size = 2, .allgather = NULL};
  BAD(nd_comm_allgather(&bad, &x, all, sizeof x));
  bad.rank = 5;
  bad.allgather = fail_gather;
  BAD(nd_comm_allgather(&bad, &x, all, sizeof x));
  bad.rank = 1;
  BAD_AS(nd_comm_allgather(&bad, &x, all, sizeof x), ND_ERR_IO);
  BAD(nd_comm_max_int(&bad, 1, NULL));
  BAD_AS(nd_comm_max_int(&bad, 1, &y), ND_ERR_IO);
  OK(nd_comm_max_int(NULL, 7, &y));
  EXPECT(y == 7);
  int64_t lo = 9, hi = 9;
  nd_comm_shard_of(-1, 2, 10, &lo, &hi);
  EXPECT(lo == 0 && hi == 0);
  nd_comm_shard_of(2, 2, 10, &lo, &hi);
  EXPECT(lo == 0 && hi == 0);
  nd_comm_shard_of(0, 0, 10, &lo, &hi);
  EXPECT(lo == 0 && hi == 0);
  nd_comm_shard_of(1, 3, INT64_MAX / 2, &lo, &hi); /* no overflow */
  EXPECT(lo > 0 && hi > lo && hi < INT64_MAX / 2);
  nd_comm_shard(NULL, -5, &lo, &hi);
  EXPECT(lo == 0 && hi == 0);
  nd_comm_shard(NULL, 5, NULL, NULL);
  BAD(nd_krotov_set_comm(NULL, NULL));
  nd_krotov_config c = nd_krotov_defaults();
  c.hidden = 4, c.visible = 3, c.batch = 2;
  nd_krotov *k = NULL;
  OK(nd_krotov_create(&c, &k));
  nd_comm no_fn = {.rank = 0, .size = 2};
  nd_status s = nd_krotov_set_comm(k, &no_fn);
  nd_comm wrong = {.rank = 2, .size = 2, .allgather = fail_gather};
  nd_status s2 = nd_krotov_set_comm(k, &wrong);
  nd_status s3 = nd_krotov_set_comm(k, NULL);
  nd_krotov_free(k);
  EXPECT(s == ND_ERR_INVALID_ARG && s2 == ND_ERR_INVALID_ARG && s3 == ND_OK);
  /* block gradient sums */
  nd_grad_sum *g = (nd_grad_sum *)1;
  BAD(nd_grad_sum_create(NULL, 0, 4, &g));
  EXPECT(g == NULL);
  BAD(nd_grad_sum_create(NULL, 2, 0, &g));
  BAD(nd_grad_sum_create(NULL, 2, INT64_MAX, &g));
  BAD(nd_grad_sum_create(NULL, 2, 4, NULL));
  nd_comm four = {.rank = 0, .size = 4, .allgather = fail_gather};
  BAD(nd_grad_sum_create(&four, 3, 4, &g)); /* fewer blocks than ranks */
  BAD(nd_grad_sum_create(&no_fn, 2, 4, &g));
  nd_grad_sum_free(NULL);
  EXPECT(nd_grad_sum_blocks(NULL) == 0);
  EXPECT(nd_grad_sum_slot(NULL, 0, NULL) == NULL);
  BAD(nd_grad_sum_reduce(NULL, (float[4]){0}, NULL));
  OK(nd_grad_sum_create(NULL, 3, 5, &g));
  EXPECT(nd_grad_sum_slot(g, 3, NULL) == NULL && nd_grad_sum_slot(g, -1, NULL) == NULL);
  BAD(nd_grad_sum_reduce(g, NULL, NULL));
  double *l = NULL;
  for (int b = 0; b < 3; b++) {
    float *sl = nd_grad_sum_slot(g, b, &l);
    EXPECT(sl && l);
    for (int i = 0; i < 5; i++) sl[i] = (float)(b + 1);
    *l = b;
  }
  float out[5];
  double tot = -1;
  OK(nd_grad_sum_reduce(g, out, &tot));
  EXPECT(out[4] == 6.0f && tot == 3.0);
  nd_grad_sum_free(g);
  /* a batch of 5 rows in 3 blocks (2, 2, 1 rows: nd_grad_sum_batch): the
   * weighted block means sum to the batch mean, as one pass over the rows */
  BAD(nd_grad_sum_batch(NULL, 5, probe_block_mean, NULL, out, &tot));
  OK(nd_grad_sum_create(NULL, 3, 2, &g));
  BAD(nd_grad_sum_batch(g, 0, probe_block_mean, g, out, &tot));
  BAD(nd_grad_sum_batch(g, 5, NULL, g, out, &tot));
  BAD(nd_grad_sum_put(g, 3, 1.0, out));
  BAD(nd_grad_sum_put(g, 0, 1.0, NULL));
  OK(nd_grad_sum_batch(g, 5, probe_block_mean, g, out, &tot));
  EXPECT(fabsf(out[0] - 3.0f) < 1e-6f && fabsf(out[1] - 9.0f) < 1e-6f && fabs(tot - 3.0) < 1e-12);
  nd_grad_sum_free(g);
  nd_comm two = {.rank = 1, .size = 2, .allgather = fail_gather};
  OK(nd_grad_sum_create(&two, 2, 3, &g));
  BAD_AS(nd_grad_sum_reduce(g, out, NULL), ND_ERR_IO);
  nd_grad_sum_free(g);
  /* the models' setters */
  BAD(nd_krotov_top_set_comm(NULL, NULL, 1));
  BAD(nd_mlp_set_comm(NULL, NULL, 1));
  nd_krotov_top *top = NULL;
  OK(nd_krotov_top_create(&(nd_krotov_top_config){.hidden = 3, .classes = 2, .n = 1, .m = 2, .beta = 1, .init_std = 0.1f}, &top));
  s = nd_krotov_top_set_comm(top, NULL, 0);
  s2 = nd_krotov_top_set_comm(top, &four, 2);
  s3 = nd_krotov_top_set_comm(top, NULL, 2);
  nd_krotov_top_free(top);
  EXPECT(s == ND_ERR_INVALID_ARG && s2 == ND_ERR_INVALID_ARG && s3 == ND_OK);
  return 0;
}

static int p_lca_conv(void) {
  nd_lca_config c = nd_lca_defaults();
  nd_lca_conv_shape sh = {1, 4, 4, 2, 3, 3, 1, 1, 0, 0}, bad = sh;
  float w[18], s[32], a[16], o[32];
  for (int i = 0; i < 18; i++) w[i] = (float)(i % 3) - 1;
  for (int i = 0; i < 32; i++) s[i] = (float)i;
  int64_t m, n;
  BAD(nd_lca_conv_shape_check(NULL, &m, &n));
  bad.filters = 0;
  BAD(nd_lca_conv_shape_check(&bad, &m, &n));
  bad = sh, bad.kernel_w = 5;
  BAD(nd_lca_conv_shape_check(&bad, &m, &n));
  bad = sh, bad.pad_h = -1;
  BAD(nd_lca_conv_shape_check(&bad, NULL, NULL));
  bad = sh, bad.height = BIG40;
  BAD(nd_lca_conv_shape_check(&bad, NULL, NULL));
  nd_lca_conv *l = (nd_lca_conv *)1;
  BAD(nd_lca_conv_create(NULL, &sh, w, 1, &l));
  EXPECT(l == NULL);
  BAD(nd_lca_conv_create(&c, NULL, w, 1, &l));
  BAD(nd_lca_conv_create(&c, &sh, NULL, 1, &l));
  BAD(nd_lca_conv_create(&c, &sh, w, 0, &l));
  BAD(nd_lca_conv_create(&c, &sh, w, BIG40, &l));
  BAD(nd_lca_conv_create(&c, &sh, w, 1, NULL));
  OK(nd_lca_conv_create(&c, &sh, w, 2, &l));
  nd_lca_result r;
  BAD(nd_lca_conv_solve(NULL, s, 1, a, &r));
  BAD(nd_lca_conv_solve(l, NULL, 1, a, &r));
  BAD(nd_lca_conv_solve(l, s, 1, NULL, &r));
  BAD_AS(nd_lca_conv_solve(l, s, 3, a, &r), ND_ERR_SHAPE);
  BAD_AS(nd_lca_conv_solve(l, s, -1, a, &r), ND_ERR_SHAPE);
  BAD(nd_lca_conv_reconstruct(l, NULL, 1, o));
  BAD(nd_lca_conv_reconstruct(NULL, a, 1, o));
  BAD(nd_lca_conv_energy(l, s, NULL, 1, NULL, NULL));
  BAD(nd_lca_conv_set_filters(l, NULL));
  BAD(nd_lca_conv_set_observer(NULL, NULL, NULL));
  EXPECT(nd_lca_conv_filters(NULL) == NULL && nd_lca_conv_shape_of(NULL) == NULL);
  EXPECT(isnan(nd_lca_conv_lipschitz(NULL)) && isnan(nd_lca_conv_eta(NULL)));
  OK(nd_lca_conv_solve(l, s, 2, a, &r));
  nd_lca_conv_free(l);
  nd_lca_conv_free(NULL);
  return 0;
}

static int p_lca_dict(void) {
  nd_lca_dict_config c = nd_lca_dict_defaults(), bad = c;
  c.rows = 2, c.cols = 2, c.atoms = 3, c.batch = 2, c.epochs = 1;
  BAD(nd_lca_dict_config_check(NULL));
  bad = c, bad.lr = NAN;
  BAD(nd_lca_dict_config_check(&bad));
  bad = c, bad.epochs = 0;
  BAD(nd_lca_dict_config_check(&bad));
  bad = c, bad.batch = -1;
  BAD(nd_lca_dict_config_check(&bad));
  bad = c, bad.rows = BIG40;
  BAD(nd_lca_dict_config_check(&bad));
  bad = c, bad.conv = true, bad.shape.kernel_h = 0;
  BAD(nd_lca_dict_config_check(&bad));
  nd_lca_dict *d = (nd_lca_dict *)1;
  BAD(nd_lca_dict_create(&bad, &d));
  EXPECT(d == NULL);
  BAD(nd_lca_dict_create(&c, NULL));
  OK(nd_lca_dict_create(&c, &d));
  float x[8] = {1, 0, 0, 1, 0, 1, 1, 0};
  BAD(nd_lca_dict_epoch(NULL, x, 2, NULL, NULL));
  BAD(nd_lca_dict_epoch(d, NULL, 2, NULL, NULL));
  BAD(nd_lca_dict_epoch(d, x, 1, NULL, NULL));
  BAD(nd_lca_dict_epoch(d, x, -5, NULL, NULL));
  nd_lca_dict_stats st;
  BAD(nd_lca_dict_stats_of(NULL, &st));
  BAD(nd_lca_dict_stats_of(d, NULL));
  BAD(nd_lca_dict_evaluate(d, NULL, 2, &st));
  BAD(nd_lca_dict_evaluate(d, x, 0, &st));
  nd_train_state ts = {.epoch = -1};
  BAD(nd_lca_dict_get_state(d, NULL));
  BAD(nd_lca_dict_set_state(d, &ts));
  BAD(nd_lca_dict_set_state(NULL, &ts));
  nd_tensor t = nd_tensor_wrap(x, 2, ND_SHAPE(2, 4));
  BAD(nd_lca_dict_set_atoms(d, &t));
  BAD(nd_lca_dict_set_atoms(d, NULL));
  BAD(nd_lca_dict_save(d, NULL));
  BAD(nd_lca_dict_load(NULL, &d));
  BAD(nd_lca_dict_write_png(d, NULL, 0));
  BAD(nd_lca_dict_write_png(NULL, "x.png", 0));
  EXPECT(nd_lca_dict_atoms(NULL) == NULL && nd_lca_dict_config_of(NULL) == NULL && nd_lca_dict_signal_size(NULL) == -1);
  OK(nd_lca_dict_epoch(d, x, 2, NULL, NULL));
  nd_lca_dict_free(d);
  nd_lca_dict_free(NULL);
  return 0;
}

static int p_dynamics_trajectory(void) {
  char p[256];
  tmp_path(p, "traj.npy");
  float f[4] = {1, 2, 3, 4};
  nd_trajectory tr;
  BAD(nd_trajectory_init(NULL, f, NULL, 2, 2, 1));
  BAD(nd_trajectory_init(&tr, NULL, NULL, 2, 2, 1));
  BAD(nd_trajectory_init(&tr, f, NULL, 0, 2, 1));
  BAD(nd_trajectory_init(&tr, f, NULL, 2, -1, 1));
  BAD(nd_trajectory_init(&tr, f, NULL, 2, 2, 0));
  EXPECT(nd_trajectory_observe(0, 0.0, f, NULL) == 0);
  OK(nd_trajectory_init(&tr, f, NULL, 2, 2, 1));
  BAD(nd_trajectory_write_npy(NULL, p, NULL, NULL));
  BAD(nd_trajectory_write_npy(&tr, NULL, NULL, NULL));
  BAD(nd_trajectory_write_npy(&tr, p, p, NULL)); /* no times buffer */
  BAD(nd_trajectory_write_npy(&tr, p, NULL, p)); /* no steps buffer */
  nd_trajectory bad = tr;
  bad.count = 3; /* more than the capacity */
  BAD(nd_trajectory_write_npy(&bad, p, NULL, NULL));
  bad = tr;
  bad.capacity = INT64_MAX;
  bad.count = BIG40;
  BAD(nd_trajectory_write_npy(&bad, p, NULL, NULL));
  bad = tr;
  bad.dim = 0;
  BAD(nd_trajectory_write_npy(&bad, p, NULL, NULL));
  EXPECT(access(p, F_OK) != 0); /* nothing written */
  EXPECT(nd_trajectory_observe(0, 0.0, f, &tr) == 0);
  OK(nd_trajectory_write_npy(&tr, p, NULL, NULL));
  return 0;
}

static int p_reservoir(void) {
  nd_esn *e = (nd_esn *)1;
  nd_esn_config c = nd_esn_defaults();
  BAD(nd_esn_config_check(NULL));
  BAD(nd_esn_create(NULL, &e));
  EXPECT(e == NULL);
  BAD(nd_esn_create(&c, NULL));
  c.units = 1 << 20;
  BAD(nd_esn_create(&c, &e));
  c = nd_esn_defaults();
  c.connectivity = 0;
  BAD(nd_esn_config_check(&c));
  c = nd_esn_defaults();
  c.solver = (nd_ridge_solver)7;
  BAD(nd_esn_config_check(&c));
  c = nd_esn_defaults();
  c.units = 10, c.connectivity = 0.5, c.washout = 2;
  OK(nd_esn_create(&c, &e));
  double u[8] = {0}, y[8], nan = NAN;
  BAD(nd_esn_step(NULL, u));
  BAD(nd_esn_step(e, NULL));
  BAD_AS(nd_esn_step(e, &nan), ND_ERR_NUMERIC);
  BAD(nd_esn_readout(e, y)); /* before a fit */
  BAD(nd_esn_readout(NULL, y));
  BAD(nd_esn_fit(e, u, u, 2));
  BAD(nd_esn_fit(e, NULL, u, 8));
  BAD(nd_esn_run(e, u, -1, y));
  BAD(nd_esn_generate(e, -1, y));
  BAD(nd_esn_generate(NULL, 1, y));
  BAD(nd_esn_reset(NULL));
  BAD(nd_esn_reservoir(NULL, y));
  BAD(nd_esn_reservoir(e, NULL));
  c.rho_method = (nd_esn_rho_method)4;
  BAD(nd_esn_config_check(&c));
  c.rho_method = ND_ESN_RHO_POWER, c.power_iterations = 1;
  BAD(nd_esn_config_check(&c));
  EXPECT(nd_esn_state(NULL) == NULL && nd_esn_readout_weights(NULL) == NULL && nd_esn_nnz(NULL) == -1);
  EXPECT(isnan(nd_esn_spectral_radius(NULL)));
  /* deep ESN, batches, RLS/FORCE, local rules, checkpoints */
  BAD(nd_esn_states_batch(NULL, u, 1, 2, y));
  BAD(nd_esn_states_batch(e, u, 0, 2, y));
  BAD(nd_esn_states_batch(e, u, 1, 0, y));
  BAD_AS(nd_esn_states_batch(e, &nan, 1, 1, y), ND_ERR_NUMERIC);
  BAD(nd_esn_forecast_batch(e, u, 1, 2, 1, y)); /* before a fit */
  nd_esn_rls rls = nd_esn_rls_defaults();
  BAD(nd_esn_fit_rls(e, u, u, 8, NULL, NULL));
  BAD(nd_esn_fit_rls(e, u, u, 2, &rls, NULL)); /* T <= washout */
  rls.lambda = 2;
  BAD(nd_esn_fit_rls(e, u, u, 8, &rls, NULL));
  nd_esn_plasticity pl = nd_esn_plasticity_defaults();
  BAD(nd_esn_adapt(e, u, 8, NULL, NULL));
  pl.rule = (nd_esn_rule)9;
  BAD(nd_esn_adapt(e, u, 8, &pl, NULL));
  pl = nd_esn_plasticity_defaults(), pl.sigma = 0;
  BAD(nd_esn_adapt(e, u, 8, &pl, NULL));
  BAD(nd_esn_rls_reset(NULL));
  BAD(nd_esn_layer_reservoir(e, 3, y));
  BAD(nd_esn_save(NULL, NULL));
  nd_esn *e2 = (nd_esn *)1;
  BAD(nd_esn_load(NULL, &e2));
  EXPECT(nd_esn_features(NULL) == -1 && nd_esn_gain(NULL) == NULL && nd_esn_ip_bias(NULL) == NULL);
  EXPECT(isnan(nd_esn_layer_spectral_radius(e, 5)) && nd_esn_features(e) == 12);
  c = nd_esn_defaults();
  OK(nd_esn_config_check(&c));
  c.layers = ND_ESN_MAX_LAYERS + 1;
  BAD(nd_esn_config_check(&c));
  c.layers = 1, c.inter_scaling = -1;
  BAD(nd_esn_config_check(&c));
  c.inter_scaling = 1, c.noise = 1;
  BAD(nd_esn_config_check(&c));
  nd_esn_free(e);
  nd_esn_free(NULL);
  double w[4], rho;
  BAD(nd_ridge_fit(NULL, u, 4, 2, 1, 0, ND_RIDGE_QR, w));
  BAD(nd_ridge_fit(u, u, 0, 2, 1, 0, ND_RIDGE_QR, w));
  BAD(nd_ridge_fit(u, u, 4, 2, 1, -1, ND_RIDGE_CHOLESKY, w));
  BAD(nd_ridge_fit(u, u, 4, 2, 1, 0, (nd_ridge_solver)5, w));
  BAD(nd_spectral_radius(NULL, 2, &rho));
  BAD(nd_spectral_radius(u, -1, &rho));
  BAD(nd_mackey_glass(0, 17, 0.2, 0.1, 10, 1.2, 1, y));
  BAD(nd_mackey_glass(4, 17, 0.2, 0.1, 10, 1.2, 0, y));
  BAD(nd_mackey_glass(4, 17, 0.2, 0.1, 10, 1.2, 1, NULL));
  BAD_VALUE(nd_nrmse(NULL, u, 1, 0), isnan(v_));
  BAD_VALUE(nd_nrmse(u, u, 0, 0), isnan(v_));
  nd_ngrc *m = (nd_ngrc *)1;
  nd_ngrc_config g = nd_ngrc_defaults();
  BAD(nd_ngrc_create(NULL, &m));
  EXPECT(m == NULL);
  BAD(nd_ngrc_create(&g, NULL));
  g.delays = 0;
  BAD(nd_ngrc_create(&g, &m));
  g = nd_ngrc_defaults();
  g.ridge = -1;
  BAD(nd_ngrc_create(&g, &m));
  g = nd_ngrc_defaults();
  OK(nd_ngrc_create(&g, &m));
  BAD(nd_ngrc_forecast(m, u, 2, 1, y)); /* before a fit */
  BAD(nd_ngrc_fit(m, u, 1));
  BAD(nd_ngrc_fit(NULL, u, 8));
  BAD(nd_ngrc_forecast(m, u, 2, -1, y));
  EXPECT(nd_ngrc_features(m) == 28 && nd_ngrc_features(NULL) == -1);
  nd_ngrc_free(m);
  nd_ngrc_free(NULL);
  double x0[3] = {1, 1, 1};
  BAD(nd_lorenz(0, 0.025, x0, 10, 28, 8.0 / 3, y));
  BAD(nd_lorenz(2, -1, x0, 10, 28, 8.0 / 3, y));
  BAD(nd_lorenz(2, 0.025, NULL, 10, 28, 8.0 / 3, y));
  return 0;
}

static int p_cordsnet(void) {
  nd_cordsnet *m = (nd_cordsnet *)1;
  nd_cordsnet_config c = nd_cordsnet_defaults();
  BAD(nd_cordsnet_config_check(NULL));
  BAD(nd_cordsnet_create(NULL, 0, &m));
  EXPECT(m == NULL);
  BAD(nd_cordsnet_create(&c, 0, NULL));
  c.depth = 5;
  BAD(nd_cordsnet_create(&c, 0, &m));
  EXPECT(m == NULL);
  c = nd_cordsnet_defaults(), c.in_h = 4;
  BAD(nd_cordsnet_config_check(&c));
  c = nd_cordsnet_defaults(), c.classes = 0;
  BAD(nd_cordsnet_config_check(&c));
  BAD(nd_cordsnet_load(NULL, 0, &m));
  BAD(nd_cordsnet_load("/nonexistent.safetensors", 3, &m));
  BAD(nd_cordsnet_save(NULL, "/tmp/x.safetensors"));
  c = nd_cordsnet_defaults();
  c.layout = ND_CORDSNET_NATIVE, c.depth = 2, c.width = 2, c.in_channels = 1, c.classes = 3, c.in_h = c.in_w = 28;
  OK(nd_cordsnet_create(&c, 1, &m));
  float x[2 * 784] = {0}, l[6];
  int32_t y[2] = {0, 5};
  double loss;
  nd_cordsnet_run r = nd_cordsnet_run_defaults();
  BAD(nd_cordsnet_forward(NULL, &r, x, 1, l));
  BAD(nd_cordsnet_forward(m, NULL, x, 1, l));
  BAD(nd_cordsnet_forward(m, &r, x, -1, l));
  BAD(nd_cordsnet_forward(m, &r, x, 1, NULL));
  int areas[1] = {7};
  float *tp[1] = {l};
  BAD(nd_cordsnet_record(m, &r, x, 1, 1, areas, tp, l));
  BAD(nd_cordsnet_record(m, &r, x, 1, 0, areas, tp, l));
  BAD(nd_cordsnet_area_shape(m, -1, NULL, NULL, NULL));
  BAD(nd_cordsnet_area_shape(NULL, 0, NULL, NULL, NULL));
  const float *w;
  BAD(nd_cordsnet_area_conv(m, 2, &w, NULL, NULL, NULL, NULL, NULL));
  BAD(nd_cordsnet_area_conv(m, 0, NULL, NULL, NULL, NULL, NULL, NULL));
  BAD(nd_cordsnet_area_bias(m, 9, &w));
  BAD(nd_cordsnet_spontaneous(m, &r, 0, NULL));
  nd_cordsnet_train t = nd_cordsnet_train_defaults();
  t.run.steps_spont = 1, t.run.steps = 2, t.ce_steps = 1, t.post_steps = 1, t.penalty_steps = 1;
  BAD(nd_cordsnet_loss_grad(m, &t, x, y, 2, &loss, NULL)); /* label 5 of 3 classes */
  y[1] = 1;
  BAD(nd_cordsnet_loss_grad(m, NULL, x, y, 2, &loss, NULL));
  BAD(nd_cordsnet_loss_grad(m, &t, x, y, 0, &loss, NULL));
  BAD(nd_cordsnet_loss_grad(m, &t, NULL, y, 2, &loss, NULL));
  t.ce_steps = 3;
  BAD(nd_cordsnet_loss_grad(m, &t, x, y, 2, &loss, NULL));
  t.ce_steps = 1, t.penalty_steps = 2;
  BAD(nd_cordsnet_loss_grad(m, &t, x, y, 2, &loss, NULL));
  t.penalty_steps = 1, t.checkpoint_every = -1;
  BAD(nd_cordsnet_loss_grad(m, &t, x, y, 2, &loss, NULL));
  t.checkpoint_every = 0;
  OK(nd_cordsnet_loss_grad(m, &t, x, y, 2, &loss, NULL));
  EXPECT(nd_cordsnet_num_params(NULL) == -1 && nd_cordsnet_params(NULL) == NULL);
  nd_cordsnet_weights_changed(NULL);
  nd_cordsnet_free(m);
  nd_cordsnet_free(NULL);
  return 0;
}

static int p_rnn(void) {
  nd_rnn *m = (nd_rnn *)1;
  nd_rnn_config c = nd_rnn_defaults();
  BAD(nd_rnn_config_check(NULL));
  BAD(nd_rnn_create(NULL, &m));
  EXPECT(m == NULL);
  BAD(nd_rnn_create(&c, NULL));
  c.length = 0;
  BAD(nd_rnn_create(&c, &m));
  c = nd_rnn_defaults(), c.cell = (nd_rnn_cell)9;
  BAD(nd_rnn_config_check(&c));
  c = nd_rnn_defaults(), c.hidden = 5;
  BAD(nd_rnn_config_check(&c));
  c = nd_rnn_defaults(), c.lr = 0;
  BAD(nd_rnn_config_check(&c));
  c = nd_rnn_defaults(), c.task = (nd_rnn_task)4;
  BAD(nd_rnn_config_check(&c));
  c = nd_rnn_defaults(), c.hidden = 8, c.length = 3, c.batch = 2, c.steps = 1;
  OK(nd_rnn_create(&c, &m));
  float x[64] = {0};
  int32_t lab[32] = {0};
  double loss, acc;
  nd_rnn_batch b = {.T = 2, .B = 1, .x = x, .labels = lab, .loss = ND_RNN_LOSS_CE};
  BAD(nd_rnn_loss_grad(NULL, &b, &loss, &acc));
  BAD(nd_rnn_loss_grad(m, NULL, &loss, &acc));
  BAD(nd_rnn_loss_grad(m, &b, NULL, &acc));
  b.T = -1;
  BAD(nd_rnn_loss(m, &b, &loss, &acc));
  b.T = 2, b.labels = NULL;
  BAD(nd_rnn_loss(m, &b, &loss, &acc));
  b.loss = ND_RNN_LOSS_MSE_LAST;
  BAD(nd_rnn_loss(m, &b, &loss, &acc));
  b.loss = (nd_rnn_loss_kind)5, b.labels = lab;
  BAD(nd_rnn_loss(m, &b, &loss, &acc));
  BAD(nd_rnn_adam_step(NULL));
  BAD(nd_rnn_epoch(NULL, NULL, NULL));
  BAD(nd_rnn_epoch_loss(NULL, &loss, &acc));
  BAD(nd_rnn_evaluate(m, ND_RNN_VALIDATION, 0, &loss, &acc));
  BAD(nd_rnn_evaluate(m, (nd_rnn_split)2, 1, &loss, &acc));
  BAD(nd_rnn_evaluate(NULL, ND_RNN_TEST, 1, &loss, &acc));
  nd_train_state st = {.batch = 5};
  BAD(nd_rnn_get_state(NULL, &st));
  BAD(nd_rnn_set_state(m, &st));
  BAD(nd_rnn_set_state(m, NULL));
  nd_rng r;
  nd_rng_init(&r, 1);
  BAD(nd_rnn_copy_task(&r, 0, 1, x, lab));
  BAD(nd_rnn_copy_task(NULL, 1, 1, x, lab));
  BAD(nd_rnn_adding_task(&r, 1, 1, x, x));
  BAD(nd_rnn_adding_task(&r, 4, 1, NULL, x));
  int64_t T, in, out;
  BAD(nd_rnn_task_shape(NULL, &T, &in, &out));
  BAD(nd_rnn_save(NULL, NULL));
  nd_rnn *l = (nd_rnn *)1;
  BAD(nd_rnn_load(NULL, &l));
  EXPECT(l == NULL);
  EXPECT(nd_rnn_num_params(NULL) == -1 && nd_rnn_params(NULL) == NULL && nd_rnn_grad(NULL) == NULL);
  EXPECT(nd_rnn_config_of(NULL) == NULL && nd_rnn_scratch_peak(NULL) == 0 && nd_rnn_fixed_bytes(NULL) == 0);
  EXPECT(isnan(nd_rnn_reconstruction_error(NULL)) && isnan(nd_rnn_task_baseline(NULL)));
  nd_rnn_free(m);
  nd_rnn_free(NULL);
  return 0;
}

static int p_somp(void) {
  nd_somp_net *n = (nd_somp_net *)1;
  nd_somp_cell_config c = nd_somp_cell_defaults("c", 3);
  BAD(nd_somp_net_create(1, NULL, 1, &n));
  EXPECT(n == NULL);
  BAD(nd_somp_net_create(0, &c, 1, &n));
  BAD(nd_somp_net_create(1, &c, 1, NULL));
  c.units = 0;
  BAD(nd_somp_net_create(1, &c, 1, &n));
  c = nd_somp_cell_defaults("c", 3), c.mode = (nd_somp_mode)7;
  BAD(nd_somp_net_create(1, &c, 1, &n));
  c = nd_somp_cell_defaults("c", 3);
  c.hp.alpha_dense = -1;
  BAD(nd_somp_net_create(1, &c, 1, &n));
  c = nd_somp_cell_defaults("", 3);
  BAD(nd_somp_net_create(1, &c, 1, &n));
  c = nd_somp_cell_defaults("c", 3);
  OK(nd_somp_net_create(1, &c, 1, &n));
  BAD(nd_somp_net_connect(NULL, 0, "x", 2));
  BAD(nd_somp_net_connect(n, 1, "x", 2));
  BAD(nd_somp_net_connect(n, 0, NULL, 2));
  BAD(nd_somp_net_connect(n, 0, "x", 0));
  BAD(nd_somp_net_connect(n, 0, "x", BIG40));
  OK(nd_somp_net_connect(n, 0, "x", 2));
  BAD(nd_somp_net_connect(n, 0, "x", 3));
  float x[2 * 3 * 2] = {0};
  nd_tensor tx = nd_tensor_wrap(x, 3, ND_SHAPE(2, 3, 2)), t2 = nd_tensor_wrap(x, 2, ND_SHAPE(6, 2));
  nd_somp_input in = {"x", 0, &tx, 0};
  BAD(nd_somp_net_output(n, 0, &tx)); /* no forward yet */
  BAD(nd_somp_net_backward(n, NULL, NULL));
  BAD(nd_somp_net_forward(NULL, 1, &in, NULL, NULL));
  BAD(nd_somp_net_forward(n, 1, NULL, NULL, NULL));
  BAD(nd_somp_net_forward(n, 0, NULL, NULL, NULL));
  BAD(nd_somp_net_forward(n, -1, &in, NULL, NULL));
  in.x = &t2;
  BAD(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  in.x = NULL;
  BAD(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  in.x = &tx, in.cell = 4;
  BAD(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  in.cell = 0, in.alpha = NAN;
  BAD(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  in.alpha = 0, in.name = "c";
  BAD(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  in.name = "x";
  nd_somp_hparams h = nd_somp_hparams_unset();
  h.noise_std = -1;
  BAD(nd_somp_net_forward(n, 1, &in, &h, NULL));
  OK(nd_somp_net_forward(n, 1, &in, NULL, NULL));
  nd_somp_attention *att = (nd_somp_attention *)1;
  BAD(nd_somp_attention_create(n, 0, 0, false, &att)); /* one cell: no separate key cell */
  EXPECT(att == NULL);
  BAD(nd_somp_attention_create(NULL, 0, 1, false, &att));
  BAD(nd_somp_attention_create(n, -1, 1, false, &att));
  BAD(nd_somp_attention_create(n, 0, 1, false, NULL));
  BAD(nd_somp_attention_forward(NULL, &tx, &tx));
  BAD(nd_somp_attention_weights(NULL, &tx));
  BAD(nd_somp_attention_backward(NULL, &tx, &tx, &tx, NULL));
  nd_somp_attention_free(NULL);
  BAD(nd_somp_net_output(n, 0, NULL));
  BAD(nd_somp_net_output(n, 0, &t2));
  nd_tensor v;
  BAD(nd_somp_net_output_step(n, 0, 3, &v));
  BAD(nd_somp_net_output_step(n, 0, 0, NULL));
  const nd_tensor *dy[1] = {&t2};
  BAD(nd_somp_net_backward(n, dy, NULL));
  nd_tensor *dx[1] = {&t2};
  BAD(nd_somp_net_backward(n, NULL, dx));
  BAD(nd_somp_net_weight(n, 0, "nope", &v));
  BAD(nd_somp_net_weight(n, 0, NULL, &v));
  BAD(nd_somp_net_weight(n, 0, "x", NULL));
  BAD(nd_somp_net_bias(n, 2, &v));
  BAD(nd_somp_net_bias(n, 0, NULL));
  nd_somp_rule_config rc = nd_somp_rule_defaults(ND_SOMP_RULE_STDP, 0, 1);
  BAD(nd_somp_net_add_rule(n, NULL));
  BAD(nd_somp_net_add_rule(NULL, &rc));
  rc.kind = ND_SOMP_RULE_COUNT;
  BAD(nd_somp_net_add_rule(n, &rc));
  rc = nd_somp_rule_defaults(ND_SOMP_RULE_STDP, 0, INFINITY);
  BAD(nd_somp_net_add_rule(n, &rc));
  rc = nd_somp_rule_defaults(ND_SOMP_RULE_COVARIANCE_DECAY, 0, 1), rc.p[0] = 2;
  BAD(nd_somp_net_add_rule(n, &rc));
  nd_somp_learn l = nd_somp_learn_defaults();
  BAD(nd_somp_net_learn(NULL, &l));
  BAD(nd_somp_net_learn(n, NULL));
  l.lr = -1;
  BAD(nd_somp_net_learn(n, &l));
  l = nd_somp_learn_defaults(), l.optimizer = (nd_somp_optimizer)5;
  BAD(nd_somp_net_learn(n, &l));
  BAD(nd_somp_net_step(NULL));
  BAD(nd_somp_net_set_sequences(n, -1));
  BAD(nd_somp_net_activity(NULL, 0, NULL, NULL));
  BAD(nd_somp_hparams_resolve(NULL, NULL, NULL, NULL));
  BAD(nd_somp_net_save(NULL, NULL));
  nd_somp_net *ld = (nd_somp_net *)1;
  BAD(nd_somp_net_load(NULL, &ld));
  EXPECT(ld == NULL);
  nd_somp_readout *r = (nd_somp_readout *)1;
  BAD(nd_somp_readout_create(0, 2, &r));
  EXPECT(r == NULL);
  OK(nd_somp_readout_create(3, 2, &r));
  double loss;
  BAD(nd_somp_readout_loss(r, n, 0, ND_SOMP_LOSS_MSE, NULL, NULL, 0, NULL, NULL, &loss, NULL));
  BAD(nd_somp_readout_loss(r, n, 0, ND_SOMP_LOSS_MSE, x, NULL, 9, NULL, NULL, &loss, NULL));
  BAD(nd_somp_readout_loss(NULL, n, 0, ND_SOMP_LOSS_MSE, x, NULL, 0, NULL, NULL, &loss, NULL));
  BAD(nd_somp_readout_step(r, NULL));
  const nd_somp_conv cv = {3, 3, 1, 1, 0, 0};
  nd_tensor map = nd_tensor_wrap(x, 5, ND_SHAPE(1, 1, 2, 2, 3));
  BAD(nd_somp_im2col(&cv, &map, &tx)); /* kernel larger than the map */
  BAD(nd_somp_im2col(NULL, &map, &tx));
  BAD(nd_somp_col2im(&cv, NULL, &map));
  BAD(nd_somp_cols_to_map(NULL, 1, 1, 1, &map));
  EXPECT(nd_somp_net_cells(NULL) == -1 && nd_somp_net_find(NULL, "c") == -1 && nd_somp_net_num_rules(NULL) == -1);
  EXPECT(nd_somp_rule_name(ND_SOMP_RULE_COUNT) == NULL && nd_somp_rule_kind_of(NULL) == -1);
  EXPECT(isnan(nd_somp_net_rule_norm(NULL, 0)) && nd_somp_net_rule_label(n, 0) == NULL);
  nd_somp_readout_free(r);
  nd_somp_readout_free(NULL);
  nd_somp_net_free(n);
  nd_somp_net_free(NULL);
  return 0;
}

static int p_deq(void) {
  nd_deq *d = (nd_deq *)1;
  nd_deq_config c = nd_deq_defaults();
  BAD(nd_deq_config_check(NULL));
  BAD(nd_deq_create(NULL, &d));
  EXPECT(d == NULL);
  BAD(nd_deq_create(&c, NULL));
  c.tol = 0;
  BAD(nd_deq_config_check(&c));
  c = nd_deq_defaults(), c.hidden = 0;
  BAD(nd_deq_config_check(&c));
  c = nd_deq_defaults(), c.max_iter = 0;
  BAD(nd_deq_config_check(&c));
  c = nd_deq_defaults(), c.batch_max = 2;
  OK(nd_deq_create(&c, &d));
  float x[4] = {0}, z[64], dz[64] = {0};
  BAD(nd_deq_forward(NULL, x, 1, z, NULL));
  BAD(nd_deq_forward(d, NULL, 1, z, NULL));
  BAD(nd_deq_forward(d, x, 1, NULL, NULL));
  BAD(nd_deq_forward(d, x, 3, z, NULL));
  BAD(nd_deq_forward(d, x, 0, z, NULL));
  BAD(nd_deq_backward(d, x, 1, dz, NULL, NULL)); /* before a forward */
  OK(nd_deq_forward(d, x, 1, z, NULL));
  BAD(nd_deq_backward(d, x, 1, NULL, NULL, NULL));
  BAD(nd_deq_backward(d, x, 2, dz, NULL, NULL));
  EXPECT(nd_deq_num_params(NULL) == -1 && nd_deq_params(NULL) == NULL && nd_deq_grad(NULL) == NULL);
  nd_deq_free(d);
  nd_deq_free(NULL);
  return 0;
}

static int p_node(void) {
  nd_node *m = (nd_node *)1;
  nd_node_config c = nd_node_defaults();
  BAD(nd_node_config_check(NULL));
  BAD(nd_node_create(NULL, &m));
  EXPECT(m == NULL);
  BAD(nd_node_create(&c, NULL));
  c.rtol = 0;
  BAD(nd_node_config_check(&c));
  c = nd_node_defaults(), c.t1 = NAN;
  BAD(nd_node_config_check(&c));
  c = nd_node_defaults(), c.hidden = 0;
  BAD(nd_node_config_check(&c));
  c = nd_node_defaults(), c.batch_max = 1, c.hidden = 4;
  OK(nd_node_create(&c, &m));
  float z[8] = {0}, dz[8] = {0};
  BAD(nd_node_forward(NULL, z, 1, NULL));
  BAD(nd_node_forward(m, NULL, 1, NULL));
  BAD(nd_node_forward(m, z, 2, NULL));
  BAD(nd_node_backward(m, z, NULL, 1, NULL));
  BAD(nd_node_backward(m, z, dz, 0, NULL));
  EXPECT(nd_node_num_params(NULL) == -1 && nd_node_params(NULL) == NULL && nd_node_grad(NULL) == NULL);
  nd_node_free(m);
  nd_node_free(NULL);
  return 0;
}

/* PyTorch .pth reader (tensorfile.h) and the analysis toolkit (analysis.h). */
static int p_io_pth(void) {
  nd_tensor_file t;
  BAD(nd_pth_parse(NULL, 4, "x.pth", &t));
  BAD(nd_pth_parse("PK\x03\x04", 4, NULL, &t));
  BAD(nd_pth_parse("PK\x03\x04", 4, "x.pth", NULL));
  BAD(nd_pth_parse("PK\x03\x04", 4, "x.pth", &t));
  EXPECT(t.n == 0 && t.names == NULL);
  BAD(nd_pth_parse("", 0, "x.pth", &t));
  BAD(nd_pth_read(NULL, &t));
  BAD(nd_pth_read("/nonexistent/x.pth", &t));
  nd_tensor_file_release(NULL);
  return 0;
}

static nd_status probe_identity(void *ctx, const double *x, double *y) {
  (void)ctx;
  y[0] = x[0];
  return ND_OK;
}

static nd_status probe_nan(void *ctx, const double *x, double *y) {
  (void)ctx;
  (void)x;
  y[0] = NAN;
  return ND_OK;
}

static int p_analysis(void) {
  nd_eigs e;
  nd_linop op = {.n = 1, .apply = probe_identity};
  BAD(nd_arnoldi_eigs(NULL, NULL, &e));
  BAD(nd_arnoldi_eigs(&op, NULL, NULL));
  nd_linop empty = {.n = 0, .apply = probe_identity};
  BAD(nd_arnoldi_eigs(&empty, NULL, &e));
  nd_linop noapply = {.n = 3};
  BAD(nd_arnoldi_eigs(&noapply, NULL, &e));
  BAD(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = -1}, &e));
  nd_linop nan = {.n = 1, .apply = probe_nan};
  BAD(nd_arnoldi_eigs(&nan, NULL, &e));
  EXPECT(e.m == 0 && e.re == NULL);
  OK(nd_arnoldi_eigs(&op, &(nd_arnoldi_opts){.krylov = 5, .want_vector = true}, &e));
  EXPECT(e.m == 1 && fabs(e.re[0] - 1) < 1e-12 && e.vec_re && fabs(fabs(e.vec_re[0]) - 1) < 1e-12);
  nd_eigs_release(&e);
  nd_eigs_release(NULL);
  double v[1];
  nd_power_result pr;
  BAD(nd_power_iteration(NULL, NULL, v, &pr));
  BAD(nd_power_iteration(&op, NULL, NULL, &pr));
  BAD(nd_power_iteration(&op, NULL, v, NULL));
  BAD(nd_power_iteration(&op, &(nd_power_opts){.tol = -1}, v, &pr));
  BAD(nd_power_iteration(&nan, NULL, v, &pr));
  OK(nd_power_iteration(&op, NULL, v, &pr));
  EXPECT(pr.converged && fabs(pr.lambda - 1) < 1e-12);
  nd_conv2d_desc d = {1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1};
  float w[2 * 2 * 9] = {0};
  nd_linop c;
  BAD(nd_conv_linop_create(NULL, w, &c));
  BAD(nd_conv_linop_create(&d, NULL, &c));
  BAD(nd_conv_linop_create(&d, w, NULL));
  d.out_channels = 3;
  BAD(nd_conv_linop_create(&d, w, &c)); /* maps 2 channels to 3 */
  d.out_channels = 2, d.stride_h = 2;
  BAD(nd_conv_linop_create(&d, w, &c)); /* 4x4 to 2x3 */
  d.stride_h = 1, d.pad_h = -1;
  BAD(nd_conv_linop_create(&d, w, &c));
  d.pad_h = 1;
  OK(nd_conv_linop_create(&d, w, &c));
  EXPECT(c.n == 32);
  nd_linop_free(&c);
  nd_linop_free(NULL);
  return 0;
}

/* ---------------------------------------------------------------- runner */
typedef struct probe {
  const char *name;
  int (*fn)(void);
} probe;

#define P(f) {#f, f}
/* Grid models (grid3d.h). */
static int p_grid3d(void) {
  nd_grid3d_config c = nd_grid3d_defaults();
  c.nx = 2, c.ny = 2, c.nz = 2, c.dim = 2, c.in_h = 4, c.in_w = 4, c.classes = 2;
  nd_grid3d *m = NULL;
  BAD(nd_grid3d_create(NULL, &m));
  BAD(nd_grid3d_create(&c, NULL));
  BAD(nd_grid3d_config_check(NULL));
  nd_grid3d_config bad = c;
  bad.nx = 0;
  BAD(nd_grid3d_config_check(&bad));
  bad = c, bad.radius = NAN;
  BAD(nd_grid3d_config_check(&bad));
  bad = c, bad.steps = 0;
  BAD(nd_grid3d_config_check(&bad));
  bad = c, bad.threshold = INFINITY;
  BAD(nd_grid3d_config_check(&bad));
  bad = c, bad.method = ND_CREDIT_FA;
  BAD(nd_grid3d_config_check(&bad));
  bad = c, bad.positions = (const float[]){0, 0, NAN}, bad.n_nodes = 1;
  BAD(nd_grid3d_config_check(&bad));
  OK(nd_grid3d_create(&c, &m));
  if (nd_grid3d_num_nodes(NULL) || nd_grid3d_num_groups(NULL) || nd_grid3d_config_of(NULL) || nd_grid3d_feedback(NULL, 0) ||
      nd_grid3d_feedback(m, 0) || nd_grid3d_readout_params(NULL) || nd_grid3d_param_count(NULL) ||
      nd_grid3d_node_allocated(NULL, 0) || nd_grid3d_node_allocated(m, 99) || nd_grid3d_num_allocated(NULL))
    return 1;
  nd_grid3d_reset_stats(NULL);
  (void)nd_grid3d_get_stats(NULL);
  float *w, *b, x[2 * 16] = {0.5f}, st[2 * 8 * 2], z[4];
  int32_t y[2] = {0, 1}, ybad[2] = {0, 5}, pred[2];
  double acc;
  BAD(nd_grid3d_node_info(NULL, 0, NULL, NULL, NULL));
  BAD(nd_grid3d_node_info(m, -1, NULL, NULL, NULL));
  BAD(nd_grid3d_node_info(m, 8, NULL, NULL, NULL));
  BAD(nd_grid3d_node_params(m, 8, &w, &b));
  BAD(nd_grid3d_node_params(m, 0, NULL, NULL));
  BAD(nd_grid3d_node_grads(NULL, 0, &w, &b));
  BAD(nd_grid3d_set_allocated(m, -1, true));
  BAD(nd_grid3d_batch_grads(NULL, x, y, 2, NULL, NULL));
  BAD(nd_grid3d_batch_grads(m, NULL, y, 2, NULL, NULL));
  BAD(nd_grid3d_batch_grads(m, x, NULL, 2, NULL, NULL));
  BAD(nd_grid3d_batch_grads(m, x, y, 0, NULL, NULL));
  BAD(nd_grid3d_batch_grads(m, x, ybad, 2, NULL, NULL));
  BAD(nd_grid3d_apply(NULL, NULL));
  BAD(nd_grid3d_apply(m, NULL));
  BAD(nd_grid3d_grow(NULL));
  BAD(nd_grid3d_train_epoch(m, NULL, x, y, 2, 1, NULL, NULL));
  BAD(nd_grid3d_set_progress(NULL, NULL, NULL));
  BAD(nd_grid3d_predict(NULL, x, 2, 2, pred));
  BAD(nd_grid3d_predict(m, x, -1, 2, pred));
  BAD(nd_grid3d_predict(m, x, 2, 0, pred));
  BAD(nd_grid3d_states(m, x, 0, st, z));
  BAD(nd_grid3d_states(m, x, 2, NULL, NULL));
  BAD(nd_grid3d_accuracy(m, x, NULL, 2, 2, &acc));
  BAD(nd_grid3d_accuracy(m, x, y, 0, 2, &acc));
  BAD(nd_grid3d_save(NULL, NULL));
  BAD(nd_grid3d_load(NULL, &m));
  float *xyz;
  int64_t n;
  char path[256];
  tmp_path(path, "no-such-positions.txt");
  BAD(nd_grid3d_read_positions(path, &xyz, &n));
  BAD(nd_grid3d_read_positions(NULL, &xyz, &n));
  OK(nd_grid3d_states(m, x, 2, st, z));
  nd_grid3d_free(m);
  nd_grid3d_free(NULL);
  return 0;
}

static const probe probes[] = {
    P(p_core_status),     P(p_core_threads),    P(p_core_alloc),       P(p_core_error_prefix),
    P(p_tensor_create),   P(p_tensor_alloc),    P(p_tensor_create_in), P(p_tensor_wrap),
    P(p_tensor_slice),    P(p_tensor_select),   P(p_tensor_reshape),   P(p_tensor_queries),
    P(p_tensor_at),       P(p_tensor_fill_copy), P(p_tensor_check_shape), P(p_arena),
    P(p_rng),             P(p_schedule),        P(p_optim_create),     P(p_optim_calls),
    P(p_clip_grad_norm),  P(p_tape),            P(p_tape_leaves),      P(p_tape_backward),
    P(p_ad_ops),          P(p_gradcheck),       P(p_io_arrays),        P(p_io_idx),
    P(p_io_npy),          P(p_io_record),       P(p_io_safetensors),  P(p_io_jsonl),         P(p_io_png),
    P(p_data),            P(p_zero_size),
    P(p_dynamics_dopri),
    P(p_snn),
    P(p_snn_learn),
    P(p_accel),           P(p_lca),             P(p_credit),          P(p_grid3d),
    P(p_dynamics_fixed_point),
    P(p_distributed),
    P(p_lca_conv),        P(p_lca_dict),
    P(p_dynamics_trajectory),
    P(p_reservoir),
    P(p_circuits),
    P(p_rnn),
    P(p_cordsnet),
    P(p_somp),
    P(p_deq),
    P(p_node),
    P(p_io_pth),
    P(p_analysis),
};

static bool selected(const char *name, int argc, char **argv) {
  if (argc < 2) return true;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], name)) return true;
  return false;
}

int main(int argc, char **argv) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/nd-probe-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  nd_set_log_level(ND_LOG_OFF);
  int failed = 0, run = 0;
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    if (!selected(probes[i].name, argc, argv)) continue;
    run++;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) _exit(probes[i].fn() == 0 ? 0 : 3);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    if (WIFSIGNALED(st)) {
      fprintf(stderr, "FAIL %s: killed by signal %d (%s)\n", probes[i].name, WTERMSIG(st), strsignal(WTERMSIG(st)));
      failed++;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "FAIL %s: exit %d%s\n", probes[i].name, WEXITSTATUS(st),
              WEXITSTATUS(st) == 3 ? " (a bad call was accepted, see above)" : " (sanitizer report above?)");
      failed++;
    } else {
      printf("ok   %s\n", probes[i].name);
    }
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  printf("%d of %d probes passed\n", run - failed, run);
  return failed ? 1 : 0;
}
