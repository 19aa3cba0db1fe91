/* NPY reader and writer: round trips, files written by NumPy
 * (tests/fixtures/make_fixtures.py), the bytes of the header we write, and
 * malformed input. */
#include "io_test_util.h"

#include "io/io_internal.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  io_mkdtemp(dir);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  io_rm_rf(dir);
  return 0;
}

static void path_in(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", dir, name); }
static void fixture(char *buf, const char *name) { snprintf(buf, 512, "%s/tests/fixtures/%s", ND_SOURCE_DIR, name); }

/* Header text of an NPY 1.0 file (bytes 10 .. 10 + len). */
static char *header_text(const unsigned char *raw, size_t len) {
  assert_true(len >= 10);
  size_t h = (size_t)raw[8] | (size_t)raw[9] << 8;
  assert_true(10 + h <= len);
  char *s = malloc(h + 1);
  memcpy(s, raw + 10, h);
  s[h] = 0;
  return s;
}

static void test_round_trip_f32(void **state) {
  (void)state;
  char p[256];
  path_in(p, "a.npy");
  nd_tensor *t = nd_test_tensor(3, ND_SHAPE(2, 3, 4));
  for (int i = 0; i < 24; i++) t->data[i] = (float)(i * 0.37 - 4.1);
  t->data[5] = -0.0f;
  t->data[7] = 1e-40f; /* subnormal */
  nd_assert_ok(nd_npy_write(p, t));
  /* Bytes as NumPy writes them: magic, version 1.0, header padded so that
   * the data starts at a multiple of 64, ending in '\n'. */
  size_t len;
  unsigned char *raw = io_read_bytes(p, &len);
  assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
  char *h = header_text(raw, len);
  size_t hl = strlen(h);
  assert_int_equal((10 + hl) % 64, 0);
  assert_int_equal(h[hl - 1], '\n');
  assert_non_null(strstr(h, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"));
  assert_int_equal(len, 10 + hl + 24 * 4);
  assert_memory_equal(raw + 10 + hl, t->data, 24 * 4); /* little-endian host */
  free(h);
  free(raw);
  nd_tensor r;
  nd_assert_ok(nd_npy_read(p, &r));
  assert_int_equal(r.ndim, 3);
  assert_int_equal(r.shape[0], 2);
  assert_int_equal(r.shape[1], 3);
  assert_int_equal(r.shape[2], 4);
  assert_memory_equal(r.data, t->data, 24 * 4);
  nd_tensor_release(&r);
  /* The float64 reader widens exactly. */
  nd_array a;
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.dtype, ND_DTYPE_F64);
  assert_int_equal(a.numel, 24);
  for (int i = 0; i < 24; i++) assert_true(((double *)a.data)[i] == (double)t->data[i]);
  nd_array_release(&a);

  /* A strided view (columns 1..2 of a 2x3x4 tensor) is written contiguous. */
  nd_tensor v;
  nd_assert_ok(nd_tensor_slice(t, 2, 1, 2, &v));
  assert_false(nd_tensor_is_contiguous(&v));
  nd_assert_ok(nd_npy_write(p, &v));
  nd_assert_ok(nd_npy_read(p, &r));
  assert_int_equal(r.shape[2], 2);
  for (int i = 0; i < 6; i++)
    for (int k = 0; k < 2; k++) assert_true(r.data[i * 2 + k] == t->data[i * 4 + 1 + k]);
  nd_tensor_release(&r);

  /* 1-d shape is written "(n,)", a scalar "()". */
  nd_tensor *one = nd_test_tensor(1, ND_SHAPE(5));
  nd_assert_ok(nd_npy_write(p, one));
  raw = io_read_bytes(p, &len);
  h = header_text(raw, len);
  assert_non_null(strstr(h, "'shape': (5,)"));
  free(h);
  free(raw);
  nd_tensor s = nd_tensor_wrap(&(float){2.5f}, 0, NULL);
  nd_assert_ok(nd_npy_write(p, &s));
  raw = io_read_bytes(p, &len);
  h = header_text(raw, len);
  assert_non_null(strstr(h, "'shape': ()"));
  free(h);
  free(raw);
  nd_assert_ok(nd_npy_read(p, &r));
  assert_int_equal(r.ndim, 0);
  assert_true(r.data[0] == 2.5f);
  nd_tensor_release(&r);
  nd_tensor_free(one);
  nd_tensor_free(t);
}

static void test_round_trip_f64(void **state) {
  (void)state;
  char p[256];
  path_in(p, "d.npy");
  double d[2 * 5 * 3];
  for (int i = 0; i < 30; i++) d[i] = (i - 13) / 7.0 + 1e-13 * i;
  d[3] = 1e300;
  d[4] = -4.9e-324;
  nd_assert_ok(nd_npy_write_f64(p, 3, ND_SHAPE(2, 5, 3), d));
  size_t len;
  unsigned char *raw = io_read_bytes(p, &len);
  char *h = header_text(raw, len);
  assert_non_null(strstr(h, "'descr': '<f8'"));
  assert_non_null(strstr(h, "'shape': (2, 5, 3)"));
  free(h);
  free(raw);
  nd_array a;
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.ndim, 3);
  assert_int_equal(a.shape[1], 5);
  assert_memory_equal(a.data, d, sizeof d);
  nd_array_release(&a);
  /* The float32 reader rounds each element to nearest. */
  nd_tensor t;
  nd_assert_ok(nd_npy_read(p, &t));
  for (int i = 0; i < 30; i++) assert_true(t.data[i] == (float)d[i]);
  assert_true(isinf(t.data[3]));
  nd_tensor_release(&t);
  /* Eight dimensions fit the f64 reader but not nd_tensor (5). */
  const int64_t sh8[8] = {1, 2, 1, 1, 1, 1, 1, 3};
  nd_assert_ok(nd_npy_write_f64(p, 8, sh8, d));
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.ndim, 8);
  assert_int_equal(a.numel, 6);
  nd_array_release(&a);
  io_assert_error(nd_npy_read(p, &t), ND_ERR_UNSUPPORTED, p, "8 dimensions");
  assert_null(t.data);
}

/* Files written by NumPy (see tests/fixtures/make_fixtures.py for formulas). */
static void test_numpy_fixtures(void **state) {
  (void)state;
  char p[512];
  nd_tensor t;
  nd_array a;
  fixture(p, "f32_2x3.npy");
  nd_assert_ok(nd_npy_read(p, &t));
  assert_int_equal(t.ndim, 2);
  assert_int_equal(t.shape[0], 2);
  assert_int_equal(t.shape[1], 3);
  for (int i = 0; i < 6; i++) assert_true(t.data[i] == (float)((i - 2.5) / 3));
  nd_tensor_release(&t);

  fixture(p, "f64_3x2x2.npy");
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.ndim, 3);
  assert_int_equal(a.shape[0], 3);
  assert_int_equal(a.shape[2], 2);
  for (int j = 0; j < 12; j++) assert_true(((double *)a.data)[j] == (j - 5) / 7.0);
  nd_array_release(&a);

  fixture(p, "f32be_4.npy"); /* big-endian float32 */
  nd_assert_ok(nd_npy_read(p, &t));
  assert_int_equal(t.shape[0], 4);
  for (int i = 0; i < 4; i++) assert_true(t.data[i] == (float)pow(1.5, i));
  nd_tensor_release(&t);

  fixture(p, "f64be_scalar.npy");
  nd_assert_ok(nd_npy_read(p, &t));
  assert_int_equal(t.ndim, 0);
  assert_true(t.data[0] == 3.25f);
  nd_tensor_release(&t);
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.ndim, 0);
  assert_int_equal(a.numel, 1);
  assert_true(((double *)a.data)[0] == 3.25);
  nd_array_release(&a);

  fixture(p, "f32_0x3.npy");
  nd_assert_ok(nd_npy_read(p, &t));
  assert_int_equal(t.ndim, 2);
  assert_int_equal(t.shape[0], 0);
  assert_int_equal(t.shape[1], 3);
  assert_int_equal(nd_tensor_numel(&t), 0);
  nd_tensor_release(&t);

  fixture(p, "f64_v2_5.npy"); /* format version 2.0: 4-byte header length */
  nd_assert_ok(nd_npy_read_f64(p, &a));
  assert_int_equal(a.numel, 5);
  for (int i = 0; i < 5; i++) assert_true(((double *)a.data)[i] == -i / 7.0);
  nd_array_release(&a);
}

static void test_errors(void **state) {
  (void)state;
  char p[512], q[256];
  nd_tensor t;
  nd_array a;
  fixture(p, "f32_fortran.npy");
  io_assert_error(nd_npy_read(p, &t), ND_ERR_UNSUPPORTED, p, "fortran_order is True");
  assert_null(t.data);
  io_assert_error(nd_npy_read_f64(p, &a), ND_ERR_UNSUPPORTED, p, "fortran_order");
  assert_null(a.data);
  fixture(p, "i32_3.npy");
  io_assert_error(nd_npy_read(p, &t), ND_ERR_UNSUPPORTED, p, "dtype '<i4' is not supported");
  fixture(p, "f16_2.npy");
  io_assert_error(nd_npy_read_f64(p, &a), ND_ERR_UNSUPPORTED, p, "'<f2'");

  /* Truncated data: a NumPy file with its last 5 bytes cut off. */
  fixture(p, "f32_2x3.npy");
  size_t len;
  unsigned char *raw = io_read_bytes(p, &len);
  path_in(q, "cut.npy");
  io_write_bytes(q, raw, len - 5);
  io_assert_error(nd_npy_read(q, &t), ND_ERR_FORMAT, q, "header says 2x3 of <f4 = 24 bytes of data, file has 19");
  io_write_bytes(q, raw, 9);
  io_assert_error(nd_npy_read(q, &t), ND_ERR_FORMAT, q, "truncated");
  /* Header length pointing past the end of the file. */
  raw[8] = 0xF0;
  io_write_bytes(q, raw, len);
  io_assert_error(nd_npy_read(q, &t), ND_ERR_FORMAT, q, "header length 240");
  raw[8] = (unsigned char)(len - 10 - 24); /* restore */
  /* Extra data after the elements. */
  unsigned char *more = malloc(len + 4);
  memcpy(more, raw, len);
  memset(more + len, 0, 4);
  io_assert_error(nd_npy_parse(more, len + 4, "more.npy", &t), ND_ERR_FORMAT, "more.npy", "file has 28");
  free(more);
  /* Bad magic, unknown version. */
  raw[1] = 'X';
  io_assert_error(nd_npy_parse(raw, len, "magic.npy", &t), ND_ERR_FORMAT, "magic.npy", "bad magic");
  raw[1] = 'N';
  raw[6] = 4;
  io_assert_error(nd_npy_parse(raw, len, "v4.npy", &t), ND_ERR_UNSUPPORTED, "v4.npy", "version 4.0");
  raw[6] = 1;
  nd_assert_ok(nd_npy_parse(raw, len, "ok.npy", &t));
  nd_tensor_release(&t);
  free(raw);

  /* Hand-made headers: each must fail with a message about its own fault. */
  static const struct {
    const char *dict, *status_word;
    nd_status want;
  } bad[] = {
      {"['descr', '<f4']", "not a Python dict", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, }", "lacks 'shape'", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'shape': (1,), }", "lacks 'fortran_order'", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", "must be written (n,)", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "non-negative integers", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "not True or False", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "repeated key 'descr'",
       ND_ERR_FORMAT},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "structured", ND_ERR_UNSUPPORTED},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", "after the closing", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "too large", ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }", "overflow",
       ND_ERR_FORMAT},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", "more than 8 dimensions",
       ND_ERR_UNSUPPORTED},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    unsigned char buf[256] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    size_t n = strlen(bad[k].dict);
    buf[8] = (unsigned char)(n + 1);
    memcpy(buf + 10, bad[k].dict, n);
    buf[10 + n] = '\n';
    memset(buf + 11 + n, 0, 4); /* one float32 element of data */
    char name[32];
    snprintf(name, sizeof name, "bad%zu.npy", k);
    io_check_error(nd_npy_parse(buf, 15 + n, name, &t), bad[k].want, name, bad[k].status_word, bad[k].dict);
  }
  /* Missing file. */
  path_in(q, "absent.npy");
  io_assert_error(nd_npy_read(q, &t), ND_ERR_NOT_FOUND, q, "No such file");
  io_assert_error(nd_npy_read_f64(q, &a), ND_ERR_NOT_FOUND, q, NULL);
  /* Writer arguments. */
  io_assert_error(nd_npy_write_f64(q, 2, ND_SHAPE(2, -1), (double[2]){0}), ND_ERR_INVALID_ARG, q, "negative");
  io_assert_error(nd_npy_write_f64(q, 9, ND_SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), (double[1]){0}), ND_ERR_INVALID_ARG,
                  q, "9 dimensions");
  assert_false(io_exists(q));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_f32),
      cmocka_unit_test(test_round_trip_f64),
      cmocka_unit_test(test_numpy_fixtures),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
