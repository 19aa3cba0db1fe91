/* safetensors: a hand-made file (tests/fixtures/hand.safetensors, written
 * byte by byte from the format description), round trips of float32 tensors
 * and typed arrays with the written header checked by cJSON, and malformed
 * files whose errors must name the file and the fault. */
#include "io_test_util.h"

#include <time.h>

#include <cjson/cJSON.h>

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

static void test_hand_made_fixture(void **state) {
  (void)state;
  char p[512];
  snprintf(p, sizeof p, "%s/tests/fixtures/hand.safetensors", ND_SOURCE_DIR);
  nd_safetensors *st;
  nd_assert_ok(nd_safetensors_read(p, &st));
  /* File order is data order. */
  assert_int_equal(nd_safetensors_count(st), 4);
  assert_string_equal(nd_safetensors_name(st, 0), "w");
  assert_string_equal(nd_safetensors_name(st, 1), "h");
  assert_string_equal(nd_safetensors_name(st, 2), "i");
  assert_string_equal(nd_safetensors_name(st, 3), "b");
  assert_null(nd_safetensors_name(st, 4));
  assert_int_equal(nd_safetensors_metadata_count(st), 2);
  assert_string_equal(nd_safetensors_metadata_key(st, 0), "format");
  assert_string_equal(nd_safetensors_metadata(st, "format"), "pt");
  assert_string_equal(nd_safetensors_metadata(st, "note"), "hand made");
  assert_null(nd_safetensors_metadata(st, "absent"));

  nd_dtype dt;
  int ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  nd_assert_ok(nd_safetensors_info(st, "w", &dt, &ndim, shape));
  assert_int_equal(dt, ND_DTYPE_F32);
  assert_int_equal(ndim, 2);
  assert_int_equal(shape[0], 2);
  assert_int_equal(shape[1], 2);
  nd_tensor t;
  nd_assert_ok(nd_safetensors_get(st, "w", &t));
  const float w[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  assert_memory_equal(t.data, w, sizeof w);
  nd_tensor_release(&t);

  nd_assert_ok(nd_safetensors_get(st, "h", &t)); /* F16 converted */
  assert_int_equal(t.ndim, 1);
  assert_true(t.data[0] == 1.5f);
  assert_true(t.data[1] == -0.25f);
  assert_true(t.data[2] == ldexpf(1.0f, -24)); /* smallest subnormal half */
  assert_true(isinf(t.data[3]) && t.data[3] > 0);
  nd_tensor_release(&t);
  nd_array a;
  nd_assert_ok(nd_safetensors_get_array(st, "h", &a));
  assert_int_equal(a.dtype, ND_DTYPE_F16);
  assert_int_equal(((uint16_t *)a.data)[1], 0xB400);
  nd_array_release(&a);

  nd_assert_ok(nd_safetensors_get_array(st, "i", &a)); /* 0-d I64 */
  assert_int_equal(a.dtype, ND_DTYPE_I64);
  assert_int_equal(a.ndim, 0);
  assert_int_equal(a.numel, 1);
  assert_int_equal(((int64_t *)a.data)[0], -7);
  nd_array_release(&a);
  nd_assert_ok(nd_safetensors_get(st, "i", &t));
  assert_int_equal(t.ndim, 0);
  assert_true(t.data[0] == -7.0f);
  nd_tensor_release(&t);

  nd_assert_ok(nd_safetensors_get(st, "b", &t)); /* BF16 */
  assert_int_equal(t.shape[1], 2);
  assert_true(t.data[0] == 1.0f);
  assert_true(t.data[1] == -3.0f);
  nd_tensor_release(&t);

  io_assert_error(nd_safetensors_get(st, "nope", &t), ND_ERR_NOT_FOUND, p, "no tensor named \"nope\"");
  io_assert_error(nd_safetensors_info(st, "nope", NULL, NULL, NULL), ND_ERR_NOT_FOUND, p, "nope");
  nd_safetensors_free(st);
}

/* Parses the header of a file we wrote with cJSON (independent of our reader). */
static cJSON *read_header(const char *p, size_t *hlen, size_t *file_len) {
  unsigned char *raw = io_read_bytes(p, file_len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | raw[i];
  *hlen = (size_t)n;
  assert_true(8 + n <= *file_len);
  cJSON *j = cJSON_ParseWithLength((const char *)raw + 8, (size_t)n);
  free(raw);
  assert_non_null(j);
  return j;
}

static void check_entry(const cJSON *root, const char *name, const char *dtype, int ndim, const int64_t *shape,
                        uint64_t begin, uint64_t end) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!e) fail_msg("header lacks \"%s\"", name);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring, dtype);
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  assert_int_equal(cJSON_GetArraySize(sh), ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal((int64_t)cJSON_GetArrayItem(sh, i)->valuedouble, shape[i]);
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  assert_int_equal((uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble, begin);
  assert_int_equal((uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble, end);
}

static void test_round_trip_tensors(void **state) {
  (void)state;
  char p[256];
  path_in(p, "ckpt.safetensors");
  nd_tensor *w = nd_test_tensor(2, ND_SHAPE(3, 4));
  nd_tensor *b = nd_test_tensor(1, ND_SHAPE(3));
  nd_tensor *e = nd_test_tensor(2, ND_SHAPE(0, 5));
  for (int i = 0; i < 12; i++) w->data[i] = (float)(i * i) / 9.0f - 3.0f;
  for (int i = 0; i < 3; i++) b->data[i] = -(float)i - 0.125f;
  nd_tensor col; /* strided: column 2 of w, shape [3, 1] */
  nd_assert_ok(nd_tensor_slice(w, 1, 2, 1, &col));
  float sv = 42.5f;
  nd_tensor s = nd_tensor_wrap(&sv, 0, NULL);
  const char *names[] = {"weight", "bias", "empty", "col", "scalar"};
  const nd_tensor *ts[] = {w, b, e, &col, &s};
  const char *meta[] = {"step", "100", "model", "lca \"v1\"", NULL};
  nd_assert_ok(nd_safetensors_write(p, 5, names, ts, meta));

  /* Header as an independent JSON parser sees it: sorted by name, offsets
   * contiguous, length padded to a multiple of 8. */
  size_t hlen, flen;
  cJSON *h = read_header(p, &hlen, &flen);
  assert_int_equal(hlen % 8, 0);
  assert_int_equal(flen, 8 + hlen + (12 + 3 + 0 + 3 + 1) * 4);
  check_entry(h, "bias", "F32", 1, ND_SHAPE(3), 0, 12);
  check_entry(h, "col", "F32", 2, ND_SHAPE(3, 1), 12, 24);
  check_entry(h, "empty", "F32", 2, ND_SHAPE(0, 5), 24, 24);
  check_entry(h, "scalar", "F32", 0, NULL, 24, 28);
  check_entry(h, "weight", "F32", 2, ND_SHAPE(3, 4), 28, 76);
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "model")->valuestring, "lca \"v1\"");
  cJSON_Delete(h);

  nd_safetensors *st;
  nd_assert_ok(nd_safetensors_read(p, &st));
  assert_int_equal(nd_safetensors_count(st), 5);
  assert_string_equal(nd_safetensors_metadata(st, "step"), "100");
  assert_string_equal(nd_safetensors_metadata(st, "model"), "lca \"v1\"");
  nd_tensor r;
  nd_assert_ok(nd_safetensors_get(st, "weight", &r));
  assert_true(nd_tensor_same_shape(&r, w));
  assert_memory_equal(r.data, w->data, 12 * 4);
  nd_tensor_release(&r);
  nd_assert_ok(nd_safetensors_get(st, "bias", &r));
  assert_memory_equal(r.data, b->data, 3 * 4);
  nd_tensor_release(&r);
  nd_assert_ok(nd_safetensors_get(st, "col", &r));
  assert_int_equal(r.shape[0], 3);
  assert_int_equal(r.shape[1], 1);
  for (int i = 0; i < 3; i++) assert_true(r.data[i] == w->data[i * 4 + 2]);
  nd_tensor_release(&r);
  nd_assert_ok(nd_safetensors_get(st, "empty", &r));
  assert_int_equal(r.shape[0], 0);
  assert_int_equal(r.shape[1], 5);
  nd_tensor_release(&r);
  nd_assert_ok(nd_safetensors_get(st, "scalar", &r));
  assert_int_equal(r.ndim, 0);
  assert_true(r.data[0] == 42.5f);
  nd_tensor_release(&r);
  nd_safetensors_free(st);

  /* Writer errors leave nothing behind. */
  char q[256];
  path_in(q, "bad.safetensors");
  const char *dup[] = {"x", "x"};
  io_assert_error(nd_safetensors_write(q, 2, dup, (const nd_tensor *const[]){w, b}, NULL), ND_ERR_INVALID_ARG, q,
                  "\"x\" is used twice");
  const char *res[] = {"__metadata__"};
  io_assert_error(nd_safetensors_write(q, 1, res, (const nd_tensor *const[]){w}, NULL), ND_ERR_INVALID_ARG, q,
                  "reserved");
  const char *odd[] = {"step", NULL};
  io_assert_error(nd_safetensors_write(q, 1, names, (const nd_tensor *const[]){w}, odd), ND_ERR_INVALID_ARG, q,
                  "\"step\" has no value");
  assert_false(io_exists(q));
  nd_tensor_free(w);
  nd_tensor_free(b);
  nd_tensor_free(e);
}

static void test_round_trip_arrays(void **state) {
  (void)state;
  char p[256];
  path_in(p, "typed.safetensors");
  double d[3] = {0.1, -1e300, 7};
  int64_t l[2] = {INT64_MIN, 12345678901234LL};
  uint16_t hf[2] = {0x3C00, 0xC000}; /* f16 1, -2 */
  uint8_t u[5] = {0, 1, 127, 128, 255};
  int8_t c[3] = {-128, 0, 127};
  int16_t sh[2] = {-32768, 300};
  int32_t i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
  uint8_t bo[2] = {1, 0};
  nd_array arr[] = {
      {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {3}, .numel = 3, .data = d},
      {.dtype = ND_DTYPE_I64, .ndim = 2, .shape = {2, 1}, .numel = 2, .data = l},
      {.dtype = ND_DTYPE_F16, .ndim = 1, .shape = {2}, .numel = 2, .data = hf},
      {.dtype = ND_DTYPE_U8, .ndim = 1, .shape = {5}, .numel = 5, .data = u},
      {.dtype = ND_DTYPE_I8, .ndim = 1, .shape = {3}, .numel = 3, .data = c},
      {.dtype = ND_DTYPE_I16, .ndim = 1, .shape = {2}, .numel = 2, .data = sh},
      {.dtype = ND_DTYPE_I32, .ndim = 2, .shape = {2, 2}, .numel = 4, .data = i32},
      {.dtype = ND_DTYPE_BOOL, .ndim = 1, .shape = {2}, .numel = 2, .data = bo},
  };
  const char *names[] = {"d", "l", "hf", "u", "c", "sh", "i32", "bo"};
  const nd_array *ap[8];
  for (int i = 0; i < 8; i++) ap[i] = &arr[i];
  nd_assert_ok(nd_safetensors_write_arrays(p, 8, names, ap, NULL));
  size_t hlen, flen;
  cJSON *h = read_header(p, &hlen, &flen);
  /* Sorted by element size (8, 4, 2, 1), then by name. */
  check_entry(h, "d", "F64", 1, ND_SHAPE(3), 0, 24);
  check_entry(h, "l", "I64", 2, ND_SHAPE(2, 1), 24, 40);
  check_entry(h, "i32", "I32", 2, ND_SHAPE(2, 2), 40, 56);
  check_entry(h, "hf", "F16", 1, ND_SHAPE(2), 56, 60);
  check_entry(h, "sh", "I16", 1, ND_SHAPE(2), 60, 64);
  check_entry(h, "bo", "BOOL", 1, ND_SHAPE(2), 64, 66);
  check_entry(h, "c", "I8", 1, ND_SHAPE(3), 66, 69);
  check_entry(h, "u", "U8", 1, ND_SHAPE(5), 69, 74);
  assert_null(cJSON_GetObjectItemCaseSensitive(h, "__metadata__"));
  cJSON_Delete(h);
  nd_safetensors *st;
  nd_assert_ok(nd_safetensors_read(p, &st));
  for (int i = 0; i < 8; i++) {
    nd_array r;
    nd_assert_ok(nd_safetensors_get_array(st, names[i], &r));
    assert_int_equal(r.dtype, arr[i].dtype);
    assert_int_equal(r.ndim, arr[i].ndim);
    assert_int_equal(r.numel, arr[i].numel);
    assert_memory_equal(r.data, arr[i].data, (size_t)r.numel * nd_dtype_size(r.dtype));
    nd_array_release(&r);
  }
  nd_tensor t;
  nd_assert_ok(nd_safetensors_get(st, "hf", &t));
  assert_true(t.data[0] == 1.0f && t.data[1] == -2.0f);
  nd_tensor_release(&t);
  nd_assert_ok(nd_safetensors_get(st, "i32", &t));
  assert_true(t.data[0] == (float)INT32_MIN && t.data[3] == (float)INT32_MAX);
  nd_tensor_release(&t);
  nd_safetensors_free(st);
}

/* Builds a file from a header text and len data bytes (0, 1, 2, ...). */
static unsigned char *make_file(const char *header, uint64_t claimed, size_t data_len, size_t *len) {
  size_t n = strlen(header);
  unsigned char *b = malloc(8 + n + data_len + 1);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(claimed >> (8 * i));
  memcpy(b + 8, header, n);
  for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (unsigned char)i;
  *len = 8 + n + data_len;
  return b;
}

static void test_errors(void **state) {
  (void)state;
  char p[256];
  path_in(p, "broken.safetensors");
  nd_safetensors *st = (nd_safetensors *)1;
  const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  size_t len;
  unsigned char *b = make_file(good, strlen(good), 8, &len);
  io_write_bytes(p, b, len);
  nd_assert_ok(nd_safetensors_read(p, &st));
  nd_safetensors_free(st);

  /* Header length lying: longer than the file, and shorter than the JSON. */
  b[0] = 0xFF;
  b[1] = 0x10;
  io_write_bytes(p, b, len);
  io_assert_error(nd_safetensors_read(p, &st), ND_ERR_FORMAT, p, "header length 4351 is larger than");
  assert_null(st);
  b[0] = (unsigned char)(strlen(good) - 4);
  b[1] = 0;
  io_write_bytes(p, b, len);
  io_assert_error(nd_safetensors_read(p, &st), ND_ERR_FORMAT, p, "not valid JSON");
  io_write_bytes(p, b, 5);
  io_assert_error(nd_safetensors_read(p, &st), ND_ERR_FORMAT, p, "truncated: 5 bytes");
  free(b);
  /* Header length beyond 100 MB (checked before allocating anything). */
  b = make_file(good, 200000000, 8, &len);
  io_assert_error(nd_safetensors_parse(b, len, "huge.safetensors", &st), ND_ERR_FORMAT, "huge.safetensors",
                  "larger than");
  free(b);

  static const struct {
    const char *header;
    size_t data_len;
    nd_status want;
    const char *msg;
  } bad[] = {
      /* shape says 3 floats, offsets give 2 */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, ND_ERR_FORMAT,
       "tensor \"a\": shape 3 of F32 needs 12 bytes, data_offsets [0, 8] give 8"},
      /* overlapping tensors */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
       12, ND_ERR_FORMAT, "tensor \"b\" at [4, 12] overlaps"},
      /* gap between tensors */
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
       "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
       5, ND_ERR_FORMAT, "gap in the byte buffer: tensor \"b\" begins at 3, expected 2"},
      /* past the end of the buffer */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, ND_ERR_FORMAT, "past the end"},
      /* unused bytes at the end */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, ND_ERR_FORMAT,
       "the tensors cover 8 bytes of the 12-byte buffer"},
      /* offsets backwards */
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, ND_ERR_FORMAT, "end before they begin"},
      /* bad JSON */
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, ND_ERR_FORMAT, "not valid JSON"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} {}", 8, ND_ERR_FORMAT, "extra characters"},
      {"[1, 2]", 0, ND_ERR_FORMAT, "does not start with '{'"},
      /* bad fields */
      {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ND_ERR_FORMAT, "unknown dtype \"F33\""},
      {"{\"a\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, ND_ERR_UNSUPPORTED,
       "dtype U32 is not supported"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, ND_ERR_FORMAT,
       "shape entry 0 is not a non-negative integer"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, ND_ERR_FORMAT, "shape entry 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, ND_ERR_FORMAT,
       "\"data_offsets\" must be two"},
      {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, ND_ERR_FORMAT, "\"shape\" missing"},
      {"{\"a\":[1]}", 0, ND_ERR_FORMAT, "entry is not an object"},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
       "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
       2, ND_ERR_FORMAT, "tensor \"a\" appears twice"},
      {"{\"__metadata__\":{\"k\":3}}", 0, ND_ERR_FORMAT, "metadata value of \"k\" is not a string"},
      {"{\"__metadata__\":[]}", 0, ND_ERR_FORMAT, "\"__metadata__\" is not an object"},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, ND_ERR_UNSUPPORTED,
       "9 dimensions"},
      {"{\"a\":{\"dtype\":\"U8\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, ND_ERR_FORMAT,
       "overflows"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    b = make_file(bad[k].header, strlen(bad[k].header), bad[k].data_len, &len);
    io_write_bytes(p, b, len);
    free(b);
    st = (nd_safetensors *)1;
    io_check_error(nd_safetensors_read(p, &st), bad[k].want, p, bad[k].msg, bad[k].header);
    assert_null(st);
  }
  /* A header with a NUL byte inside. */
  b = make_file("{\"a\":{\"dtype\":\"F32\"}}  ", 23, 0, &len);
  b[8 + 22] = 0;
  io_assert_error(nd_safetensors_parse(b, len, "nul.safetensors", &st), ND_ERR_FORMAT, "nul.safetensors", "NUL");
  free(b);
  /* Missing file and a directory. */
  path_in(p, "absent.safetensors");
  io_assert_error(nd_safetensors_read(p, &st), ND_ERR_NOT_FOUND, p, NULL);
  io_assert_error(nd_safetensors_read(dir, &st), ND_ERR_INVALID_ARG, dir, "not a regular file (a directory)");
}

/* n zero-size tensors "t0".."t<n-1>" (entry `dup_at` >= 0 renamed to "t0"),
 * plus n metadata keys when meta; returns the file bytes. */
static unsigned char *many_entries(long n, long dup_at, bool meta, size_t *len) {
  size_t cap = (size_t)n * 160 + 64, k = 0;
  char *h = malloc(cap);
  assert_non_null(h);
  k += (size_t)snprintf(h + k, cap - k, "{");
  for (long i = 0; i < n; i++)
    k += (size_t)snprintf(h + k, cap - k, "%s\"t%ld\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                          i ? "," : "", i == dup_at ? 0 : i);
  if (meta) {
    k += (size_t)snprintf(h + k, cap - k, ",\"__metadata__\":{");
    for (long i = 0; i < n; i++)
      k += (size_t)snprintf(h + k, cap - k, "%s\"k%ld\":\"v%ld\"", i ? "," : "", i == dup_at ? 0 : i, i);
    k += (size_t)snprintf(h + k, cap - k, "}");
  }
  k += (size_t)snprintf(h + k, cap - k, "}");
  unsigned char *b = malloc(k + 8);
  assert_non_null(b);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)k >> (8 * i));
  memcpy(b + 8, h, k);
  free(h);
  *len = k + 8;
  return b;
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Issue 9 item 4: the duplicate-name check and the lookups by name were
 * quadratic (100k zero-size tensors took over a minute).  200k tensors and
 * 200k metadata keys, every one looked up, must take seconds, and a duplicate
 * far from its twin is still found. */
static void test_many_entries(void **state) {
  (void)state;
  const long n = 200000;
  size_t len;
  unsigned char *b = many_entries(n, -1, true, &len);
  double t0 = seconds();
  nd_safetensors *st = NULL;
  nd_assert_ok(nd_safetensors_parse(b, len, "many.safetensors", &st));
  assert_int_equal(nd_safetensors_count(st), n);
  assert_int_equal(nd_safetensors_metadata_count(st), n);
  char name[32];
  for (long i = 0; i < n; i++) {
    snprintf(name, sizeof name, "t%ld", i);
    nd_assert_ok(nd_safetensors_info(st, name, NULL, NULL, NULL));
    snprintf(name, sizeof name, "k%ld", i);
    const char *v = nd_safetensors_metadata(st, name);
    char want[32];
    snprintf(want, sizeof want, "v%ld", i);
    assert_non_null(v);
    assert_string_equal(v, want);
  }
  io_assert_error(nd_safetensors_info(st, "t-1", NULL, NULL, NULL), ND_ERR_NOT_FOUND, "many.safetensors", "t-1");
  assert_null(nd_safetensors_metadata(st, "k-1"));
  double dt = seconds() - t0;
  nd_safetensors_free(st);
  free(b);
  if (dt > 30.0) fail_msg("200000 tensors + 200000 metadata keys took %.1f s (quadratic?)", dt);
  /* Duplicates: the last tensor named like the first; a repeated metadata key. */
  b = many_entries(n, n - 1, false, &len);
  io_assert_error(nd_safetensors_parse(b, len, "dup.safetensors", &st), ND_ERR_FORMAT, "dup.safetensors",
                  "\"t0\" appears twice");
  assert_null(st);
  free(b);
  b = many_entries(1000, -1, true, &len);
  /* Rename metadata key "k999" to "k0" plus two spaces (valid before the colon). */
  char *kk = memmem(b + 8, len - 8, "\"k999\"", 6);
  assert_non_null(kk);
  memcpy(kk, "\"k0\"  ", 6);
  io_assert_error(nd_safetensors_parse(b, len, "dupmeta.safetensors", &st), ND_ERR_FORMAT, "dupmeta.safetensors",
                  "metadata key \"k0\" appears twice");
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_many_entries),
      cmocka_unit_test(test_hand_made_fixture),
      cmocka_unit_test(test_round_trip_tensors),
      cmocka_unit_test(test_round_trip_arrays),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
