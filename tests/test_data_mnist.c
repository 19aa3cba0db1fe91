/* Data-set loaders on tiny synthetic IDX pairs written byte by byte (not by
 * nd_idx_write): scaling of pixels, label types, limits, directory lookup and
 * the errors a broken data set must produce. */
#include "io_test_util.h"

#include "neurodyn/data.h"

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

/* IDX file: magic 00 00 type ndim, big-endian uint32 sizes, then payload. */
static void write_idx(const char *path, unsigned type, int ndim, const uint32_t *dims, const void *payload,
                      size_t payload_len, bool gz) {
  size_t n = 4 + 4 * (size_t)ndim + payload_len;
  unsigned char *b = malloc(n);
  b[0] = 0;
  b[1] = 0;
  b[2] = (unsigned char)type;
  b[3] = (unsigned char)ndim;
  for (int i = 0; i < ndim; i++) {
    b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
    b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
    b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
    b[7 + 4 * i] = (unsigned char)dims[i];
  }
  memcpy(b + 4 + 4 * ndim, payload, payload_len);
  if (gz) {
    size_t zl;
    unsigned char *z = io_gzip(b, n, &zl);
    io_write_bytes(path, z, zl);
    free(z);
  } else {
    io_write_bytes(path, b, n);
  }
  free(b);
}

/* Six 2x3 images with pixel j of image i = 40*i + 7*j (0..241). */
static void six_images(const char *path, bool gz) {
  uint8_t px[6 * 6];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 6; j++) px[i * 6 + j] = (uint8_t)(40 * i + 7 * j);
  write_idx(path, 0x08, 3, (uint32_t[]){6, 2, 3}, px, sizeof px, gz);
}

static void test_generic_pair(void **state) {
  (void)state;
  char ip[256], lp[256];
  snprintf(ip, sizeof ip, "%s/im.idx", dir);
  snprintf(lp, sizeof lp, "%s/lb.idx", dir);
  six_images(ip, false);
  const uint8_t lab[6] = {2, 0, 13, 1, 1, 0};
  write_idx(lp, 0x08, 1, (uint32_t[]){6}, lab, 6, false);
  nd_dataset ds;
  nd_assert_ok(nd_idx_dataset_load(ip, lp, 0, &ds));
  assert_int_equal(ds.n, 6);
  assert_int_equal(ds.rows, 2);
  assert_int_equal(ds.cols, 3);
  assert_int_equal(ds.num_classes, 14); /* 1 + largest label */
  assert_int_equal(ds.images.ndim, 2);
  assert_int_equal(ds.images.shape[0], 6);
  assert_int_equal(ds.images.shape[1], 6);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(ds.labels[i], lab[i]);
    for (int j = 0; j < 6; j++) nd_assert_close(ds.images.data[i * 6 + j], (40 * i + 7 * j) / 255.0, 1e-7, 0);
  }
  nd_dataset_release(&ds);
  assert_null(ds.labels);
  /* limit keeps the first examples; a limit above n is ignored. */
  nd_assert_ok(nd_idx_dataset_load(ip, lp, 4, &ds));
  assert_int_equal(ds.n, 4);
  assert_int_equal(ds.images.shape[0], 4);
  assert_int_equal(ds.num_classes, 14);
  nd_dataset_release(&ds);
  nd_assert_ok(nd_idx_dataset_load(ip, lp, 1000, &ds));
  assert_int_equal(ds.n, 6);
  nd_dataset_release(&ds);

  /* Flat [n, d] images and big-endian int32 labels. */
  uint8_t flat[3 * 5];
  for (int i = 0; i < 15; i++) flat[i] = (uint8_t)(255 - i);
  write_idx(ip, 0x08, 2, (uint32_t[]){3, 5}, flat, sizeof flat, true);
  const unsigned char l32[12] = {0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0}; /* 4, 256, 0 */
  write_idx(lp, 0x0C, 1, (uint32_t[]){3}, l32, sizeof l32, false);
  nd_assert_ok(nd_idx_dataset_load(ip, lp, 0, &ds));
  assert_int_equal(ds.rows, 1);
  assert_int_equal(ds.cols, 5);
  assert_int_equal(ds.labels[1], 256);
  assert_int_equal(ds.num_classes, 257);
  assert_true(ds.images.data[0] == 1.0f);
  nd_assert_close(ds.images.data[14], 241 / 255.0, 1e-7, 0);
  nd_dataset_release(&ds);
}

static void test_bad_pairs(void **state) {
  (void)state;
  char ip[256], lp[256];
  snprintf(ip, sizeof ip, "%s/im.idx", dir);
  snprintf(lp, sizeof lp, "%s/lb.idx", dir);
  nd_dataset ds;
  six_images(ip, false);
  /* Count mismatch. */
  write_idx(lp, 0x08, 1, (uint32_t[]){5}, (uint8_t[5]){0}, 5, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, "holds 6 images", "holds 5 labels");
  assert_null(ds.labels);
  assert_null(ds.images.data);
  /* Labels of the wrong shape or type. */
  write_idx(lp, 0x08, 2, (uint32_t[]){6, 1}, (uint8_t[6]){0}, 6, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, lp, "u8 6x1");
  write_idx(lp, 0x0D, 1, (uint32_t[]){6}, (uint8_t[24]){0}, 24, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, lp, "f32");
  /* Negative int32 label. */
  const unsigned char neg[24] = {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE};
  write_idx(lp, 0x0C, 1, (uint32_t[]){6}, neg, sizeof neg, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, lp, "label 1 is negative (-2)");
  /* Images that are not u8, or 4-D. */
  write_idx(lp, 0x08, 1, (uint32_t[]){6}, (uint8_t[6]){0}, 6, false);
  write_idx(ip, 0x0B, 3, (uint32_t[]){6, 1, 1}, (uint8_t[12]){0}, 12, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, ip, "i16 6x1x1");
  write_idx(ip, 0x08, 4, (uint32_t[]){6, 1, 1, 1}, (uint8_t[6]){0}, 6, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, ip, "6x1x1x1");
  /* A corrupt image file: the IDX reader's message comes through. */
  io_write_bytes(ip, "\x00\x00\x08\x03\x00\x00", 6);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_FORMAT, ip, "truncated");
  remove(lp);
  six_images(ip, false);
  io_assert_error(nd_idx_dataset_load(ip, lp, 0, &ds), ND_ERR_NOT_FOUND, lp, NULL);
}

/* A fake data root with mnist/ and fashion-mnist/ of 6 training images. */
static void make_root(const char *root, bool gz) {
  char d[300], p[400];
  mkdir(root, 0777);
  const char *sets[] = {"mnist", "fashion-mnist"};
  for (int s = 0; s < 2; s++) {
    snprintf(d, sizeof d, "%s/%s", root, sets[s]);
    mkdir(d, 0777);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", d, gz ? ".gz" : "");
    six_images(p, gz);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte%s", d, gz ? ".gz" : "");
    const uint8_t lab[6] = {5, 0, 4, 1, 9, (uint8_t)(2 + s)};
    write_idx(p, 0x08, 1, (uint32_t[]){6}, lab, 6, gz);
  }
}

static void test_named_sets(void **state) {
  (void)state;
  char root[128], d[300], found[512];
  snprintf(root, sizeof root, "%s/data", dir);
  make_root(root, true);
  snprintf(d, sizeof d, "%s/mnist", root);
  nd_dataset ds;
  nd_assert_ok(nd_mnist_load(d, "train", 0, &ds));
  assert_int_equal(ds.n, 6);
  assert_int_equal(ds.num_classes, 10); /* always 10 for MNIST */
  assert_int_equal(ds.labels[0], 5);
  assert_int_equal(ds.labels[5], 2);
  nd_dataset_release(&ds);
  /* Lookup: $ND_DATA_DIR first. */
  setenv("ND_DATA_DIR", root, 1);
  nd_assert_ok(nd_data_dir("fashion-mnist", found, sizeof found));
  snprintf(d, sizeof d, "%s/fashion-mnist", root);
  assert_string_equal(found, d);
  nd_assert_ok(nd_fashion_mnist_load(NULL, "train", 3, &ds));
  assert_int_equal(ds.n, 3);
  nd_dataset_release(&ds);
  nd_assert_ok(nd_fashion_mnist_load(NULL, "train", 0, &ds));
  assert_int_equal(ds.labels[5], 3);
  nd_dataset_release(&ds);
  /* Then ./data relative to the working directory. */
  unsetenv("ND_DATA_DIR");
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(dir), 0);
  nd_assert_ok(nd_data_dir("mnist", found, sizeof found));
  assert_string_equal(found, "data/mnist");
  /* An empty ND_DATA_DIR is ignored; one that does not exist is an error
   * naming it, even though ./data would have the set (no silent fall-back). */
  setenv("ND_DATA_DIR", "", 1);
  nd_assert_ok(nd_data_dir("mnist", found, sizeof found));
  assert_string_equal(found, "data/mnist");
  setenv("ND_DATA_DIR", "/nonexistent-nd", 1);
  io_assert_error(nd_data_dir("mnist", found, sizeof found), ND_ERR_NOT_FOUND, "ND_DATA_DIR=/nonexistent-nd",
                  "does not exist");
  assert_string_equal(found, "");
  io_assert_error(nd_fashion_mnist_load(NULL, "train", 0, &ds), ND_ERR_NOT_FOUND, "ND_DATA_DIR=/nonexistent-nd", NULL);
  /* An ND_DATA_DIR that exists but lacks the set: names the place, no fall-back. */
  setenv("ND_DATA_DIR", dir, 1);
  io_assert_error(nd_data_dir("mnist", found, sizeof found), ND_ERR_NOT_FOUND, "/mnist does not exist (from ND_DATA_DIR)",
                  "get-data.sh");
  /* ND_DATA_DIR naming a file. */
  snprintf(d, sizeof d, "%s/data/mnist/train-labels-idx1-ubyte.gz", dir);
  setenv("ND_DATA_DIR", d, 1);
  io_assert_error(nd_data_dir("mnist", found, sizeof found), ND_ERR_NOT_FOUND, "is not a directory", NULL);
  /* An explicit directory (a command's --data DIR) wins over ND_DATA_DIR. */
  setenv("ND_DATA_DIR", "/nonexistent-nd", 1);
  nd_assert_ok(nd_data_find(root, "mnist", found, sizeof found));
  snprintf(d, sizeof d, "%s/mnist", root);
  assert_string_equal(found, d);
  /* ... and may be the set's own directory (last component = its name). */
  nd_assert_ok(nd_data_find(d, "mnist", found, sizeof found));
  assert_string_equal(found, d);
  io_assert_error(nd_data_find(d, "fashion-mnist", found, sizeof found), ND_ERR_NOT_FOUND, "fashion-mnist", NULL);
  io_assert_error(nd_data_find("/nonexistent-given", "mnist", found, sizeof found), ND_ERR_NOT_FOUND,
                  "data directory /nonexistent-given does not exist", NULL);
  nd_assert_ok(nd_dataset_load(root, "fashion-mnist", "train", 0, &ds));
  assert_int_equal(ds.n, 6);
  assert_int_equal(ds.labels[5], 3);
  nd_dataset_release(&ds);
  /* The limit applies to the one load it is given to. */
  nd_assert_ok(nd_dataset_load(root, "mnist", "train", 4, &ds));
  assert_int_equal(ds.n, 4);
  nd_dataset_release(&ds);
  io_assert_error(nd_dataset_load(root, "cifar", "train", 0, &ds), ND_ERR_INVALID_ARG, "cifar", "mnist, fashion-mnist");
  /* Provenance: the files a load reads, as they are on disk. */
  char im[600], lb[600];
  nd_assert_ok(nd_dataset_files(root, "mnist", "train", im, lb, sizeof im));
  snprintf(d, sizeof d, "%s/mnist/train-images-idx3-ubyte.gz", root);
  assert_string_equal(im, d);
  snprintf(d, sizeof d, "%s/mnist/train-labels-idx1-ubyte.gz", root);
  assert_string_equal(lb, d);
  io_assert_error(nd_dataset_files(root, "mnist", "test", im, lb, sizeof im), ND_ERR_NOT_FOUND, "t10k-images", NULL);
  assert_string_equal(im, "");
  io_assert_error(nd_dataset_files(root, "mnist", "dev", im, lb, sizeof im), ND_ERR_INVALID_ARG, "dev", NULL);
  io_assert_error(nd_dataset_files(root, "mnist", "train", im, lb, 8), ND_ERR_INVALID_ARG, "too small", NULL);
  /* Without ND_DATA_DIR and without ./data: says so and how to fetch. */
  unsetenv("ND_DATA_DIR");
  assert_int_equal(chdir(cwd), 0);
  char empty[128];
  snprintf(empty, sizeof empty, "%s/empty", dir);
  mkdir(empty, 0777);
  assert_int_equal(chdir(empty), 0);
  io_assert_error(nd_data_dir("mnist", found, sizeof found), ND_ERR_NOT_FOUND, "no ./data directory", "data fetch");
  assert_int_equal(chdir(cwd), 0);
  /* The uncompressed file wins when both exist. */
  snprintf(d, sizeof d, "%s/mnist/train-labels-idx1-ubyte", root);
  write_idx(d, 0x08, 1, (uint32_t[]){6}, (uint8_t[6]){7, 7, 7, 7, 7, 7}, 6, false);
  snprintf(d, sizeof d, "%s/mnist", root);
  nd_assert_ok(nd_mnist_load(d, "train", 0, &ds));
  assert_int_equal(ds.labels[0], 7);
  nd_dataset_release(&ds);
  /* The test split is absent; bad split names. */
  io_assert_error(nd_mnist_load(d, "test", 0, &ds), ND_ERR_NOT_FOUND, "t10k-images-idx3-ubyte", "get-data.sh");
  io_assert_error(nd_mnist_load(d, NULL, 0, &ds), ND_ERR_INVALID_ARG, "\"train\" or \"test\"", NULL);
  /* Path buffer too small. */
  setenv("ND_DATA_DIR", root, 1);
  io_assert_error(nd_data_dir("mnist", found, 8), ND_ERR_INVALID_ARG, "too small", NULL);
  unsetenv("ND_DATA_DIR");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_generic_pair, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_pairs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_named_sets, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
