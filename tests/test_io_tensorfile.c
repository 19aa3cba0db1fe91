/* What a file is (nd_file_sniff, nd_file_format_of_bytes/_of_name) and one
 * tensor from a safetensors or NPY file (nd_tensor_file_read), every tensor
 * of an IDX/NPY/safetensors file (nd_tensor_file_load).  The files are made
 * here byte by hand (PNG, gzip through zlib, IDX, JSON, JSON Lines, text,
 * zip and pickle openings, a FIFO), or are the NumPy-written and hand-made
 * fixtures; every refusal names the file, what it is and what was expected. */
#include "io_test_util.h"

#include <sys/types.h>

#include "neurodyn/tensorfile.h"

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

static void write_text(char *p, const char *name, const char *text) {
  path_in(p, name);
  io_write_bytes(p, text, strlen(text));
}

/* An IDX u8 file of 2x3 (values 0..5), as raw bytes. */
static const unsigned char idx_bytes[] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5};

static void test_sniff(void **state) {
  (void)state;
  char p[512];
  struct {
    const char *name;
    const void *bytes;
    size_t len;
    nd_file_format want;
    const char *phrase;
  } cases[] = {
      {"fields.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, ND_FILE_PNG, "a PNG image"},
      {"m.jsonl", "{\"epoch\": 1, \"loss\": 0.5}\n{\"epoch\": 2, \"loss\": 0.25}\n", 54, ND_FILE_JSONL,
       "JSON Lines text"},
      {"one.jsonl", "{\"epoch\": 1}\n", 13, ND_FILE_JSON, "JSON text"}, /* a single object is JSON */
      {"config.json", "  {\n  \"hidden\": 100,\n  \"p\": 3\n}\n", 32, ND_FILE_JSON, "JSON text"},
      {"list.json", "[1, 2, 3]", 9, ND_FILE_JSON, "JSON text"},
      {"notes", "hello, world\n", 13, ND_FILE_TEXT, "a text file"},
      {"x.pth", "PK\x03\x04\x14\0\0\0", 8, ND_FILE_ZIP, NULL},
      {"old.pt", "\x80\x02}q\0", 5, ND_FILE_PICKLE, "a Python pickle"},
      {"images-idx3-ubyte", idx_bytes, sizeof idx_bytes, ND_FILE_IDX, "an IDX file"},
      {"blob.bin", "\x01\x02\x03\x00\xff\xfe", 6, ND_FILE_UNKNOWN, "binary data of unknown format"},
      {"empty.npy", "", 0, ND_FILE_EMPTY, "an empty file"},
      /* content wins over the name */
      {"W.safetensors", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, ND_FILE_PNG, NULL},
      {"features.npy", "{\"a\": 1}\n{\"a\": 2}\n", 18, ND_FILE_JSONL, NULL},
      /* unrecognised content: the name decides */
      {"cut.safetensors", "\0\0\0\0\0\0\1\0{}", 10, ND_FILE_SAFETENSORS, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    path_in(p, cases[i].name);
    io_write_bytes(p, cases[i].bytes, cases[i].len);
    nd_file_format f = nd_file_sniff(p);
    if (f != cases[i].want)
      fail_msg("%s: sniffed as %s, expected %s", cases[i].name, nd_file_format_name(f), nd_file_format_name(cases[i].want));
    if (cases[i].phrase) assert_string_equal(nd_file_kind(p), cases[i].phrase);
  }
  /* gzip: IDX inside when the name says so, else plain gzip. */
  size_t gl;
  unsigned char *gz = io_gzip(idx_bytes, sizeof idx_bytes, &gl);
  path_in(p, "t10k-labels-idx1-ubyte.gz");
  io_write_bytes(p, gz, gl);
  assert_int_equal(nd_file_sniff(p), ND_FILE_IDX_GZ);
  path_in(p, "metrics.jsonl.gz");
  io_write_bytes(p, gz, gl);
  assert_int_equal(nd_file_sniff(p), ND_FILE_GZIP);
  assert_string_equal(nd_file_kind(p), "gzip-compressed data");
  free(gz);
  /* Real files: NumPy's NPY, the hand-made safetensors, a PNG from libpng. */
  fixture(p, "f32_2x3.npy");
  assert_int_equal(nd_file_sniff(p), ND_FILE_NPY);
  fixture(p, "hand.safetensors");
  assert_int_equal(nd_file_sniff(p), ND_FILE_SAFETENSORS);
  path_in(p, "real.png");
  uint8_t g[12] = {0};
  nd_assert_ok(nd_png_write_gray(p, 4, 3, g));
  assert_int_equal(nd_file_sniff(p), ND_FILE_PNG);
  /* Not files. */
  assert_int_equal(nd_file_sniff(dir), ND_FILE_DIRECTORY);
  assert_string_equal(nd_file_kind(dir), "a directory");
  path_in(p, "missing.npy");
  assert_int_equal(nd_file_sniff(p), ND_FILE_MISSING);
  assert_int_equal(nd_file_sniff(NULL), ND_FILE_MISSING);
  path_in(p, "fifo");
  assert_int_equal(mkfifo(p, 0600), 0);
  assert_int_equal(nd_file_sniff(p), ND_FILE_SPECIAL); /* and does not block */
  /* By name alone. */
  assert_int_equal(nd_file_format_of_name("a/B.NPY"), ND_FILE_NPY);
  assert_int_equal(nd_file_format_of_name("x.idx.gz"), ND_FILE_IDX_GZ);
  assert_int_equal(nd_file_format_of_name("runs/metrics.jsonl"), ND_FILE_JSONL);
  assert_int_equal(nd_file_format_of_name("model"), ND_FILE_UNKNOWN);
  assert_int_equal(nd_file_format_of_name(NULL), ND_FILE_UNKNOWN);
  /* Every format has a name and a phrase; out-of-range values too. */
  for (int f = 0; f < ND_FILE_FORMAT_COUNT_; f++) {
    assert_non_null(nd_file_format_name((nd_file_format)f));
    assert_true(strlen(nd_file_format_phrase((nd_file_format)f)) > 3);
  }
  assert_string_equal(nd_file_format_name((nd_file_format)99), "unknown");
  assert_int_equal(nd_file_format_of_bytes(NULL, 5), ND_FILE_EMPTY);
}

static void test_read_one(void **state) {
  (void)state;
  char p[512];
  nd_array a;
  /* NPY keeps its dtype; f32 values exactly NumPy's. */
  fixture(p, "f32_2x3.npy");
  nd_assert_ok(nd_tensor_file_read(p, NULL, &a));
  assert_int_equal(a.dtype, ND_DTYPE_F32);
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.shape[0], 2);
  assert_int_equal(a.shape[1], 3);
  for (int i = 0; i < 6; i++) assert_true(((float *)a.data)[i] == (float)((i - 2.5) / 3));
  nd_array_release(&a);
  fixture(p, "f64_3x2x2.npy");
  nd_assert_ok(nd_tensor_file_read(p, "ignored for NPY", &a));
  assert_int_equal(a.dtype, ND_DTYPE_F64);
  assert_true(((double *)a.data)[11] == 6.0 / 7);
  nd_array_release(&a);
  nd_tensor t;
  nd_assert_ok(nd_tensor_file_read_f32(p, NULL, &t));
  assert_int_equal(t.ndim, 3);
  assert_true(t.data[11] == (float)(6.0 / 7));
  nd_tensor_release(&t);
  /* safetensors by name; several tensors need one. */
  fixture(p, "hand.safetensors");
  nd_assert_ok(nd_tensor_file_read(p, "w", &a));
  const float w[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  assert_int_equal(a.dtype, ND_DTYPE_F32);
  assert_memory_equal(a.data, w, sizeof w);
  nd_array_release(&a);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_INVALID_ARG, p, "holds 4 tensors (\"w\", \"h\", \"i\", \"b\")");
  assert_null(a.data);
  io_assert_error(nd_tensor_file_read(p, "W", &a), ND_ERR_NOT_FOUND, "no tensor named \"W\"", "\"w\", \"h\"");
  /* A one-tensor safetensors file needs no name. */
  char q[256];
  path_in(q, "one.safetensors");
  float v[3] = {1, 2, 3};
  nd_tensor tv = nd_tensor_wrap(v, 1, (int64_t[]){3});
  nd_assert_ok(nd_safetensors_write(q, 1, (const char *[]){"features"}, (const nd_tensor *[]){&tv}, NULL));
  nd_assert_ok(nd_tensor_file_read_f32(q, NULL, &t));
  assert_memory_equal(t.data, v, sizeof v);
  nd_tensor_release(&t);
}

static void test_read_wrong_kind(void **state) {
  (void)state;
  char p[512], want[700];
  nd_array a;
  /* The reported case: a PNG, JSONL or the wrong tensor file where a tensor
   * file is expected. */
  path_in(p, "fields.png");
  nd_assert_ok(nd_png_write_gray(p, 4, 3, (uint8_t[12]){0}));
  snprintf(want, sizeof want, "%s: is a PNG image, expected a safetensors or NPY tensor file", p);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, want, NULL);
  assert_string_equal(nd_last_error(), want); /* the whole message, nothing about header lengths */
  write_text(p, "metrics.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2}\n");
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "metrics.jsonl: is JSON Lines text, expected",
                  "safetensors or NPY");
  write_text(p, "W.safetensors", "{\"hidden\": 100}");
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "W.safetensors: is JSON text", NULL);
  write_text(p, "notes.txt", "some notes\n");
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "is a text file", NULL);
  path_in(p, "labels-idx1-ubyte");
  io_write_bytes(p, idx_bytes, sizeof idx_bytes);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "is an IDX file, expected", NULL);
  size_t gl;
  unsigned char *gz = io_gzip("hello", 5, &gl);
  path_in(p, "x.gz");
  io_write_bytes(p, gz, gl);
  free(gz);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "is gzip-compressed data", NULL);
  path_in(p, "model.pth");
  io_write_bytes(p, "PK\x03\x04\x14\0\0\0", 8);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "model.pth: is a zip archive", NULL);
  path_in(p, "empty.npy");
  io_write_bytes(p, "", 0);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "empty.npy: is an empty file", NULL);
  io_assert_error(nd_tensor_file_read(dir, NULL, &a), ND_ERR_INVALID_ARG, "is a directory, expected a safetensors",
                  dir);
  path_in(p, "fifo2");
  assert_int_equal(mkfifo(p, 0600), 0);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_INVALID_ARG, "fifo2: is not a regular file", NULL);
  path_in(p, "missing.npy");
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_NOT_FOUND, p, NULL);
  /* A damaged file of the right kind reaches its parser, which says what is
   * wrong with it. */
  path_in(p, "cut.safetensors");
  io_write_bytes(p, "\x00\x00\x00\x00\x00\x01\x00\x00{}", 10);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "cut.safetensors", "header");
  char f[512];
  fixture(f, "f32_2x3.npy");
  size_t n;
  unsigned char *b = io_read_bytes(f, &n);
  path_in(p, "cut.npy");
  io_write_bytes(p, b, n - 4);
  free(b);
  io_assert_error(nd_tensor_file_read(p, NULL, &a), ND_ERR_FORMAT, "cut.npy", NULL);
  /* NULLs. */
  io_assert_error(nd_tensor_file_read(NULL, NULL, &a), ND_ERR_INVALID_ARG, "NULL path", NULL);
  io_assert_error(nd_tensor_file_read(p, NULL, NULL), ND_ERR_INVALID_ARG, "NULL out", NULL);
  io_assert_error(nd_tensor_file_read_f32(p, NULL, NULL), ND_ERR_INVALID_ARG, "out is NULL", NULL);
}

static void test_load_all(void **state) {
  (void)state;
  char p[512];
  nd_tensor_file t;
  fixture(p, "hand.safetensors");
  nd_assert_ok(nd_tensor_file_load(p, &t));
  assert_int_equal(t.format, ND_FILE_SAFETENSORS);
  assert_int_equal(t.n, 4);
  assert_string_equal(t.names[0], "w");
  assert_int_equal(t.n_meta, 2);
  assert_string_equal(t.meta[0], "format");
  assert_string_equal(t.meta[1], "pt");
  assert_null(t.meta[4]);
  nd_tensor_file_release(&t);
  nd_tensor_file_release(&t); /* twice is fine, and NULL */
  nd_tensor_file_release(NULL);
  fixture(p, "f64_3x2x2.npy");
  nd_assert_ok(nd_tensor_file_load(p, &t));
  assert_int_equal(t.format, ND_FILE_NPY);
  assert_string_equal(t.names[0], "f64_3x2x2");
  assert_int_equal(t.arrays[0].dtype, ND_DTYPE_F64);
  nd_tensor_file_release(&t);
  /* IDX raw and inside gzip (by name, and by content with a name that says nothing). */
  size_t gl;
  unsigned char *gz = io_gzip(idx_bytes, sizeof idx_bytes, &gl);
  const char *names[3] = {"a-idx2-ubyte.gz", "a.gz", "a"};
  for (int i = 0; i < 3; i++) {
    path_in(p, names[i]);
    io_write_bytes(p, gz, gl);
    nd_assert_ok(nd_tensor_file_load(p, &t));
    assert_int_equal(t.format, ND_FILE_IDX);
    assert_string_equal(t.names[0], "data");
    assert_int_equal(t.arrays[0].dtype, ND_DTYPE_U8);
    assert_int_equal(t.arrays[0].shape[1], 3);
    assert_int_equal(((uint8_t *)t.arrays[0].data)[5], 5);
    nd_tensor_file_release(&t);
  }
  free(gz);
  /* Other kinds: what it is and what was expected. */
  write_text(p, "metrics.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2}\n");
  io_assert_error(nd_tensor_file_load(p, &t), ND_ERR_FORMAT,
                  "metrics.jsonl: is JSON Lines text, expected an IDX, NPY or safetensors file", NULL);
  assert_int_equal(t.n, 0);
  assert_null(t.names);
  io_assert_error(nd_tensor_file_load(dir, &t), ND_ERR_INVALID_ARG, "is a directory", NULL);
  io_assert_error(nd_tensor_file_load(NULL, &t), ND_ERR_INVALID_ARG, "NULL path", NULL);
  /* The in-memory twin: same result, the name steers and is named. */
  fixture(p, "hand.safetensors");
  size_t n;
  unsigned char *b = io_read_bytes(p, &n);
  nd_assert_ok(nd_tensor_file_parse(b, n, "mem.safetensors", &t));
  assert_int_equal(t.n, 4);
  nd_tensor_file_release(&t);
  io_assert_error(nd_tensor_file_parse(b, 9, "mem.safetensors", &t), ND_ERR_FORMAT, "mem.safetensors", NULL);
  free(b);
  io_assert_error(nd_tensor_file_parse("{\"a\": 1}", 8, "m.json", &t), ND_ERR_FORMAT, "m.json: is JSON text", NULL);
  io_assert_error(nd_tensor_file_parse(NULL, 0, "nothing", &t), ND_ERR_FORMAT, "nothing: is an empty file", NULL);
  io_assert_error(nd_tensor_file_parse(NULL, 3, "x", &t), ND_ERR_INVALID_ARG, "NULL buffer", NULL);
  io_assert_error(nd_tensor_file_parse("abc", 3, NULL, &t), ND_ERR_INVALID_ARG, "NULL name", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sniff),
      cmocka_unit_test(test_read_one),
      cmocka_unit_test(test_read_wrong_kind),
      cmocka_unit_test(test_load_all),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
