/* Provenance: nd_file_sha256 against the FIPS 180 test vectors and against
 * coreutils' sha256sum on a file larger than the read buffer (the real
 * MNIST files: tests/integration/test_sha256_mnist.c), nd_host_name against gethostname's own answer, and
 * nd_build_commit naming a commit of this checkout. */
#define _GNU_SOURCE
#include "io_test_util.h"

#include <sys/types.h>

#include "neurodyn/provenance.h"

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

/* First line of a shell command's output (trailing newline removed). */
static bool shell_line(const char *cmd, char *out, size_t len) {
  FILE *p = popen(cmd, "r");
  if (!p) return false;
  bool ok = fgets(out, (int)len, p) != NULL;
  int rc = pclose(p);
  if (!ok || rc != 0) return false;
  out[strcspn(out, "\n")] = 0;
  return true;
}

static void test_sha256(void **state) {
  (void)state;
  char p[256], hex[65];
  /* FIPS 180-2 appendix B: "abc", and one million 'a'; the empty message. */
  snprintf(p, sizeof p, "%s/abc", dir);
  io_write_bytes(p, "abc", 3);
  nd_assert_ok(nd_file_sha256(p, hex));
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  char *a = malloc(1000000);
  memset(a, 'a', 1000000);
  snprintf(p, sizeof p, "%s/million", dir);
  io_write_bytes(p, a, 1000000);
  free(a);
  nd_assert_ok(nd_file_sha256(p, hex));
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  snprintf(p, sizeof p, "%s/empty", dir);
  io_write_bytes(p, "", 0);
  nd_assert_ok(nd_file_sha256(p, hex));
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  /* 3 MiB + 7 bytes of pseudo-random data (three read buffers and a bit)
   * against sha256sum. */
  size_t n = (3u << 20) + 7;
  unsigned char *b = malloc(n);
  uint32_t x = 12345;
  for (size_t i = 0; i < n; i++) {
    x = x * 1664525u + 1013904223u;
    b[i] = (unsigned char)(x >> 24);
  }
  snprintf(p, sizeof p, "%s/random.bin", dir);
  io_write_bytes(p, b, n);
  free(b);
  nd_assert_ok(nd_file_sha256(p, hex));
  char cmd[400], ref[200];
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", p);
  if (shell_line(cmd, ref, sizeof ref)) {
    ref[64] = 0;
    assert_string_equal(hex, ref);
  } else {
    print_message("sha256sum not available: the large-file comparison is not run\n");
  }
  /* Errors name the file; hex is emptied; a FIFO does not block. */
  strcpy(hex, "junk");
  snprintf(p, sizeof p, "%s/missing", dir);
  io_assert_error(nd_file_sha256(p, hex), ND_ERR_NOT_FOUND, p, NULL);
  assert_string_equal(hex, "");
  io_assert_error(nd_file_sha256(dir, hex), ND_ERR_INVALID_ARG, dir, "a directory");
  snprintf(p, sizeof p, "%s/fifo", dir);
  assert_int_equal(mkfifo(p, 0600), 0);
  io_assert_error(nd_file_sha256(p, hex), ND_ERR_INVALID_ARG, "fifo: not a regular file", NULL);
  io_assert_error(nd_file_sha256(NULL, hex), ND_ERR_INVALID_ARG, "NULL path", NULL);
  io_assert_error(nd_file_sha256(p, NULL), ND_ERR_INVALID_ARG, "NULL output", NULL);
}

static void test_host_and_commit(void **state) {
  (void)state;
  char host[256], want[256];
  nd_assert_ok(nd_host_name(host, sizeof host));
  assert_int_equal(gethostname(want, sizeof want), 0);
  assert_string_equal(host, want);
  assert_true(strlen(host) > 0);
  io_assert_error(nd_host_name(host, strlen(want)), ND_ERR_INVALID_ARG, "too small", NULL);
  assert_string_equal(host, "");
  io_assert_error(nd_host_name(NULL, 10), ND_ERR_INVALID_ARG, "NULL", NULL);

  const char *c = nd_build_commit();
  assert_non_null(c);
  assert_true(strlen(c) > 0);
  char cmd[600], out[200];
  snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --git-dir >/dev/null 2>&1 && echo yes", ND_SOURCE_DIR);
  if (!shell_line(cmd, out, sizeof out)) {
    print_message("%s is not a git checkout: commit \"%s\" not checked\n", ND_SOURCE_DIR, c);
    return;
  }
  /* "<hash>", "<tag>-<n>-g<hash>", either with "-dirty": the hash is a
   * commit of this repository. */
  char h[128];
  snprintf(h, sizeof h, "%s", c);
  char *d = strstr(h, "-dirty");
  if (d && d[6] == 0) *d = 0;
  char *g = strrchr(h, 'g');
  const char *hash = g && g > h && g[-1] == '-' ? g + 1 : h;
  assert_true(strlen(hash) >= 7);
  for (const char *q = hash; *q; q++)
    if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))) fail_msg("commit \"%s\": \"%s\" is not a hash", c, hash);
  snprintf(cmd, sizeof cmd, "git -C '%s' cat-file -t '%s^{commit}' 2>/dev/null", ND_SOURCE_DIR, hash);
  if (!shell_line(cmd, out, sizeof out) || strcmp(out, "commit") != 0)
    fail_msg("nd_build_commit() = \"%s\" names no commit of %s", c, ND_SOURCE_DIR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sha256, setup, teardown),
      cmocka_unit_test(test_host_and_commit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
