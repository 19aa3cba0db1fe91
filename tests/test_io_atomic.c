/* Atomic writes: every writer that fails part way (simulated with the
 * nd__io_fail_after_bytes hook, and for real with RLIMIT_FSIZE) leaves neither
 * the target nor its temporary behind, and an existing file keeps its old
 * content. */
#include "io_test_util.h"

#include <signal.h>
#include <sys/resource.h>

#include "io/io_internal.h"
#include "neurodyn/data.h"

static char dir[64];

static int setup_each(void **state) {
  (void)state;
  io_mkdtemp(dir);
  nd__io_fail_after_bytes = -1;
  return 0;
}
static int teardown_each(void **state) {
  (void)state;
  nd__io_fail_after_bytes = -1;
  io_rm_rf(dir);
  return 0;
}

static void path_in(char *buf, const char *name) { snprintf(buf, 256, "%s/%s", dir, name); }

enum { W_NPY, W_NPY64, W_ST, W_ST_ARR, W_IDX, W_PNG, W_TILES, W_PLOT, W_COUNT };
static const char *const wnames[W_COUNT] = {"npy", "npy_f64", "safetensors", "safetensors_arrays",
                                            "idx", "png_gray", "png_tiles", "plot"};

/* Runs writer k on path; the data are large enough (a few kB) that a failure
 * can be injected at many points. */
static nd_status run_writer(int k, const char *p) {
  static float f[40 * 40];
  static double d[500];
  static uint8_t u[64 * 64];
  static double y[100];
  for (int i = 0; i < 1600; i++) f[i] = (float)sin(i * 0.1);
  for (int i = 0; i < 500; i++) d[i] = i / 3.0;
  for (int i = 0; i < 4096; i++) u[i] = (uint8_t)(i * 31 + i / 64);
  for (int i = 0; i < 100; i++) y[i] = cos(i * 0.2);
  nd_tensor t = nd_tensor_wrap(f, 2, ND_SHAPE(40, 40));
  nd_array a = {.dtype = ND_DTYPE_U8, .ndim = 2, .shape = {64, 64}, .numel = 4096, .data = u};
  switch (k) {
    case W_NPY: return nd_npy_write(p, &t);
    case W_NPY64: return nd_npy_write_f64(p, 2, ND_SHAPE(20, 25), d);
    case W_ST: return nd_safetensors_write(p, 1, (const char *[]){"w"}, (const nd_tensor *[]){&t}, NULL);
    case W_ST_ARR: return nd_safetensors_write_arrays(p, 1, (const char *[]){"u"}, (const nd_array *[]){&a}, NULL);
    case W_IDX: return nd_idx_write(p, &a);
    case W_PNG: return nd_png_write_gray(p, 64, 64, u);
    case W_TILES: return nd_png_write_tiles(p, f, 16, 10, 10, &(nd_png_tiles_opts){.cmap = ND_CMAP_BWR});
    case W_PLOT: return nd_png_plot_lines(p, 1, (nd_plot_series[]){{.y = y, .n = 100}}, NULL);
  }
  return ND_ERR_INTERNAL;
}

static void test_simulated_failures(void **state) {
  (void)state;
  char p[256];
  path_in(p, "out.bin");
  for (int k = 0; k < W_COUNT; k++) {
    /* Full size of this writer's output. */
    nd__io_fail_after_bytes = -1;
    nd_assert_ok(run_writer(k, p));
    int n_tmp;
    assert_int_equal(io_count_entries(dir, &n_tmp), 1);
    assert_int_equal(n_tmp, 0);
    size_t full;
    unsigned char *before = io_read_bytes(p, &full);
    assert_true(full > 100);
    const long long cuts[] = {0, 1, 8, 64, (long long)full / 2, (long long)full - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
      /* Over an existing file: it survives unchanged. */
      nd__io_fail_after_bytes = cuts[c];
      nd_status s = run_writer(k, p);
      nd__io_fail_after_bytes = -1;
      if (s != ND_ERR_IO)
        fail_msg("%s with a failure after %lld of %zu bytes: %s (%s)", wnames[k], cuts[c], full, nd_status_str(s),
                 nd_last_error());
      if (!strstr(nd_last_error(), p)) fail_msg("%s: message \"%s\" lacks the path", wnames[k], nd_last_error());
      assert_int_equal(io_count_entries(dir, &n_tmp), 1);
      assert_int_equal(n_tmp, 0);
      size_t len;
      unsigned char *after = io_read_bytes(p, &len);
      assert_int_equal(len, full);
      assert_memory_equal(after, before, full);
      free(after);
    }
    free(before);
    /* Into an empty directory: nothing appears. */
    remove(p);
    nd__io_fail_after_bytes = (long long)full / 3;
    assert_int_equal(run_writer(k, p), ND_ERR_IO);
    nd__io_fail_after_bytes = -1;
    assert_int_equal(io_count_entries(dir, NULL), 0);
  }
}

/* A real write error: the file-size limit makes the kernel refuse the bytes
 * (EFBIG) when the buffered stream is flushed. */
static void test_real_failure(void **state) {
  (void)state;
  char p[256];
  path_in(p, "big.npy");
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  lim = old;
  lim.rlim_cur = 1000;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  nd_tensor *t = nd_test_tensor(2, ND_SHAPE(100, 100)); /* 40 kB */
  nd_status s = nd_npy_write(p, t);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  nd_tensor_free(t);
  io_assert_error(s, ND_ERR_IO, p, "too large");
  assert_int_equal(io_count_entries(dir, NULL), 0);
}

static void test_missing_directory(void **state) {
  (void)state;
  char p[300];
  snprintf(p, sizeof p, "%s/no-such-dir/out.safetensors", dir);
  float v = 1;
  nd_tensor t = nd_tensor_wrap(&v, 0, NULL);
  io_assert_error(nd_safetensors_write(p, 1, (const char *[]){"v"}, (const nd_tensor *[]){&t}, NULL),
                  ND_ERR_NOT_FOUND, p, "cannot create");
  io_assert_error(nd_npy_write(p, &t), ND_ERR_NOT_FOUND, p, "No such file");
  assert_int_equal(io_count_entries(dir, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_simulated_failures, setup_each, teardown_each),
      cmocka_unit_test_setup_teardown(test_real_failure, setup_each, teardown_each),
      cmocka_unit_test_setup_teardown(test_missing_directory, setup_each, teardown_each),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
