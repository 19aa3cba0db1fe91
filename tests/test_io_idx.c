/* IDX reader/writer, gzip handling, bad input, and the MNIST-style loaders. */
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

/* Bytes written by hand from the format description, not by nd_idx_write. */
static void test_parse_hand_written(void **state) {
  (void)state;
  const unsigned char u8[] = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250};
  nd_array a;
  nd_assert_ok(nd_idx_parse(u8, sizeof u8, "u8", &a));
  assert_int_equal(a.dtype, ND_DTYPE_U8);
  assert_int_equal(a.ndim, 2);
  assert_int_equal(a.shape[0], 2);
  assert_int_equal(a.shape[1], 3);
  assert_int_equal(a.numel, 6);
  assert_int_equal(((uint8_t *)a.data)[5], 250);
  nd_array_release(&a);

  /* i16 258 and -2, big-endian; f32 1.5 (0x3FC00000) and -2 (0xC0000000). */
  const unsigned char i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE};
  nd_assert_ok(nd_idx_parse(i16, sizeof i16, "i16", &a));
  assert_int_equal(((int16_t *)a.data)[0], 258);
  assert_int_equal(((int16_t *)a.data)[1], -2);
  nd_array_release(&a);
  const unsigned char f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 2, 0x3F, 0xC0, 0, 0, 0xC0, 0, 0, 0};
  nd_assert_ok(nd_idx_parse(f32, sizeof f32, "f32", &a));
  assert_true(((float *)a.data)[0] == 1.5f);
  assert_true(((float *)a.data)[1] == -2.0f);
  nd_tensor t;
  nd_assert_ok(nd_array_to_tensor(&a, &t));
  assert_true(t.data[1] == -2.0f);
  nd_tensor_release(&t);
  nd_array_release(&a);
}

static void test_round_trip_types(void **state) {
  (void)state;
  const nd_dtype types[] = {ND_DTYPE_U8, ND_DTYPE_I8, ND_DTYPE_I16, ND_DTYPE_I32, ND_DTYPE_F32, ND_DTYPE_F64};
  char p[256];
  path_in(p, "rt.idx");
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    nd_array a = {.dtype = types[k], .ndim = 3, .shape = {3, 4, 5, 1, 1, 1, 1, 1}, .numel = 60};
    size_t esz = nd_dtype_size(types[k]);
    a.data = malloc(60 * esz);
    unsigned char *b = a.data;
    for (size_t i = 0; i < 60 * esz; i++) b[i] = (unsigned char)(i * 37 + k);
    if (types[k] == ND_DTYPE_F32)
      for (int i = 0; i < 60; i++) ((float *)a.data)[i] = (float)i * 0.25f - 3;
    if (types[k] == ND_DTYPE_F64)
      for (int i = 0; i < 60; i++) ((double *)a.data)[i] = (double)i / 7 - 2;
    nd_assert_ok(nd_idx_write(p, &a));
    size_t len;
    unsigned char *raw = io_read_bytes(p, &len);
    assert_int_equal(len, 4 + 12 + 60 * esz);
    assert_int_equal(raw[3], 3);
    assert_int_equal(raw[7], 3); /* big-endian dimension 3 */
    free(raw);
    nd_array r;
    nd_assert_ok(nd_idx_read(p, &r));
    assert_int_equal(r.dtype, types[k]);
    assert_int_equal(r.ndim, 3);
    assert_int_equal(r.shape[2], 5);
    assert_memory_equal(r.data, a.data, 60 * esz);
    nd_array_release(&r);
    nd_array_release(&a);
  }
}

static void test_gzip(void **state) {
  (void)state;
  unsigned char raw[16 + 2 * 3 * 4];
  const unsigned char head[] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};
  memcpy(raw, head, 16);
  for (int i = 0; i < 24; i++) raw[16 + i] = (unsigned char)(i * 11);
  size_t zlen;
  unsigned char *z = io_gzip(raw, sizeof raw, &zlen);
  char p[256];
  path_in(p, "small-idx3-ubyte.gz");
  io_write_bytes(p, z, zlen);
  nd_array a;
  nd_assert_ok(nd_idx_read(p, &a));
  assert_int_equal(a.numel, 24);
  assert_memory_equal(a.data, raw + 16, 24);
  nd_array_release(&a);

  /* Two concatenated gzip members (as `cat a.gz b.gz` makes). */
  size_t z1, z2;
  unsigned char *m1 = io_gzip(raw, 10, &z1), *m2 = io_gzip(raw + 10, sizeof raw - 10, &z2);
  unsigned char *cat = malloc(z1 + z2);
  memcpy(cat, m1, z1);
  memcpy(cat + z1, m2, z2);
  nd_assert_ok(nd_idx_parse(cat, z1 + z2, "cat.gz", &a));
  assert_memory_equal(a.data, raw + 16, 24);
  nd_array_release(&a);

  /* Truncated gzip stream. */
  io_assert_error(nd_idx_parse(z, zlen - 12, "cut.gz", &a), ND_ERR_FORMAT, "cut.gz", "truncated");
  io_assert_error(nd_idx_parse(z, 12, "cut.gz", &a), ND_ERR_FORMAT, "cut.gz", "truncated");
  /* Corrupted deflate data. */
  unsigned char *bad = malloc(zlen);
  memcpy(bad, z, zlen);
  for (size_t i = 10; i < zlen - 8; i++) bad[i] ^= 0x5A;
  path_in(p, "corrupt-idx3-ubyte.gz");
  io_write_bytes(p, bad, zlen);
  io_assert_error(nd_idx_read(p, &a), ND_ERR_FORMAT, p, NULL);
  /* Wrong CRC-32 in the trailer: the data decode, the check fails. */
  memcpy(bad, z, zlen);
  bad[zlen - 8] ^= 0xFF;
  io_assert_error(nd_idx_parse(bad, zlen, "crc.gz", &a), ND_ERR_FORMAT, "crc.gz", "corrupt");
  /* Garbage after the stream. */
  unsigned char *tail = malloc(zlen + 3);
  memcpy(tail, z, zlen);
  memcpy(tail + zlen, "xyz", 3);
  io_assert_error(nd_idx_parse(tail, zlen + 3, "tail.gz", &a), ND_ERR_FORMAT, "tail.gz", "garbage");
  /* A gzip file whose IDX header claims more than deflate could expand to. */
  const unsigned char huge[] = {0, 0, 0x08, 3, 0, 0x10, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x10, 0};
  size_t hl;
  unsigned char *hz = io_gzip(huge, sizeof huge, &hl);
  io_assert_error(nd_idx_parse(hz, hl, "bomb.gz", &a), ND_ERR_FORMAT, "bomb.gz", "more data than");
  free(hz);
  free(tail);
  free(bad);
  free(cat);
  free(m1);
  free(m2);
  free(z);
}

static void test_bad_raw(void **state) {
  (void)state;
  nd_array a;
  char p[256];
  /* Truncated: the example of the design note. */
  unsigned char *t = calloc(1, 16 + 1000);
  const unsigned char head[] = {0, 0, 0x08, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
  memcpy(t, head, 16);
  path_in(p, "train-images-idx3-ubyte");
  io_write_bytes(p, t, 16 + 1000);
  io_assert_error(nd_idx_read(p, &a), ND_ERR_FORMAT, p, "truncated: header says 60000x28x28 (u8) = 47040000 bytes of data, file has 1000");
  assert_null(a.data);
  /* Trailing bytes. */
  const unsigned char tr[] = {0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3};
  io_assert_error(nd_idx_parse(tr, sizeof tr, "tr", &a), ND_ERR_FORMAT, "tr", "trailing");
  /* Wrong magic (e.g. a PNG), unknown type, bad ndim, header cut short. */
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0, 0, 0, 0};
  io_assert_error(nd_idx_parse(png, sizeof png, "x.png", &a), ND_ERR_FORMAT, "x.png", "bad magic 89 50 4e 47");
  const unsigned char ty[] = {0, 0, 0x07, 1, 0, 0, 0, 0};
  io_assert_error(nd_idx_parse(ty, sizeof ty, "ty", &a), ND_ERR_FORMAT, "ty", "type 0x07");
  const unsigned char nd0[] = {0, 0, 0x08, 0};
  io_assert_error(nd_idx_parse(nd0, sizeof nd0, "nd0", &a), ND_ERR_FORMAT, "nd0", "0 dimensions");
  const unsigned char sh[] = {0, 0, 0x08, 3, 0, 0, 0, 1};
  io_assert_error(nd_idx_parse(sh, sizeof sh, "sh", &a), ND_ERR_FORMAT, "sh", "truncated");
  io_assert_error(nd_idx_parse(sh, 2, "two", &a), ND_ERR_FORMAT, "two", "truncated");
  /* Sizes whose product overflows 64 bits must not wrap around. */
  const unsigned char ov[] = {0, 0, 0x0E, 4, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1,    2};
  io_assert_error(nd_idx_parse(ov, sizeof ov, "ov", &a), ND_ERR_FORMAT, "ov", "overflow");
  /* A zero size does not excuse the others: 0 x 2^32-1 x 2^32-1 x 2^32-1 would
   * overflow the strides of a tensor made from it. */
  const unsigned char z0[] = {0, 0, 0x08, 4, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
                              0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1};
  io_assert_error(nd_idx_parse(z0, sizeof z0, "z0", &a), ND_ERR_FORMAT, "z0", "overflow");
  /* Missing file and a directory. */
  path_in(p, "no-such-file");
  io_assert_error(nd_idx_read(p, &a), ND_ERR_NOT_FOUND, p, "No such file");
  io_assert_error(nd_idx_read(dir, &a), ND_ERR_INVALID_ARG, dir, "not a regular file (a directory)");
  free(t);
}

/* Writes a small MNIST-like split into d: images raw, labels gzip. */
static void make_split(const char *d, const char *prefix, int n, const uint8_t *labels, int label_count) {
  char p[400];
  nd_array im = {.dtype = ND_DTYPE_U8, .ndim = 3, .shape = {n, 28, 28, 1, 1, 1, 1, 1}, .numel = n * 784};
  im.data = malloc((size_t)n * 784);
  for (int i = 0; i < n * 784; i++) ((uint8_t *)im.data)[i] = (uint8_t)(i % 256);
  snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", d, prefix);
  nd_assert_ok(nd_idx_write(p, &im));
  nd_array_release(&im);
  unsigned char raw[8 + 64];
  const unsigned char h[] = {0, 0, 0x08, 1, 0, 0, 0, (unsigned char)label_count};
  memcpy(raw, h, 8);
  memcpy(raw + 8, labels, (size_t)label_count);
  size_t zl;
  unsigned char *z = io_gzip(raw, 8 + (size_t)label_count, &zl);
  snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte.gz", d, prefix);
  io_write_bytes(p, z, zl);
  free(z);
}

static void test_mnist_loader(void **state) {
  (void)state;
  char d[320], root[256];
  path_in(root, "data");
  mkdir(root, 0777);
  snprintf(d, sizeof d, "%s/mnist", root);
  mkdir(d, 0777);
  const uint8_t labels[5] = {3, 1, 4, 1, 5};
  make_split(d, "train", 5, labels, 5);
  nd_dataset ds;
  nd_assert_ok(nd_mnist_load(d, "train", 0, &ds));
  assert_int_equal(ds.n, 5);
  assert_int_equal(ds.rows, 28);
  assert_int_equal(ds.cols, 28);
  assert_int_equal(ds.num_classes, 10);
  assert_int_equal(ds.images.shape[0], 5);
  assert_int_equal(ds.images.shape[1], 784);
  for (int i = 0; i < 5 * 784; i++) nd_assert_close(ds.images.data[i], (float)(i % 256) / 255.0f, 1e-7, 0);
  assert_int_equal(ds.labels[2], 4);
  nd_dataset_release(&ds);
  nd_assert_ok(nd_mnist_load(d, "train", 2, &ds));
  assert_int_equal(ds.n, 2);
  assert_int_equal(ds.images.shape[0], 2);
  nd_dataset_release(&ds);
  /* Located through $ND_DATA_DIR. */
  setenv("ND_DATA_DIR", root, 1);
  char found[512];
  nd_assert_ok(nd_data_dir("mnist", found, sizeof found));
  assert_string_equal(found, d);
  nd_assert_ok(nd_mnist_load(NULL, "train", 0, &ds));
  assert_int_equal(ds.n, 5);
  nd_dataset_release(&ds);
  io_assert_error(nd_data_dir("no-such-set", found, sizeof found), ND_ERR_NOT_FOUND, "no-such-set", "get-data.sh");
  unsetenv("ND_DATA_DIR");
  /* Errors: bad split, missing test files, count mismatch, label out of range. */
  io_assert_error(nd_mnist_load(d, "valid", 0, &ds), ND_ERR_INVALID_ARG, "valid", NULL);
  io_assert_error(nd_fashion_mnist_load(d, "test", 0, &ds), ND_ERR_NOT_FOUND, "t10k-images-idx3-ubyte", "get-data.sh");
  make_split(d, "t10k", 5, labels, 4);
  io_assert_error(nd_mnist_load(d, "test", 0, &ds), ND_ERR_FORMAT, "5 images", "4 labels");
  const uint8_t bad[5] = {0, 1, 12, 3, 4};
  make_split(d, "t10k", 5, bad, 5);
  io_assert_error(nd_mnist_load(d, "test", 0, &ds), ND_ERR_FORMAT, "t10k-labels-idx1-ubyte.gz", "up to 12");
  assert_null(ds.labels);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_hand_written), cmocka_unit_test(test_round_trip_types),
      cmocka_unit_test(test_gzip),               cmocka_unit_test(test_bad_raw),
      cmocka_unit_test(test_mnist_loader),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
