/* Helpers for the io tests: scratch directories, raw file bytes, gzip through
 * zlib directly, and error-message checks. */
#ifndef ND_IO_TEST_UTIL_H
#define ND_IO_TEST_UTIL_H

#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nd_test.h"

/* Creates a fresh directory /tmp/nd-io-XXXXXX in buf (64 bytes). */
static inline void io_mkdtemp(char *buf) {
  strcpy(buf, "/tmp/nd-io-XXXXXX");
  if (!mkdtemp(buf)) fail_msg("mkdtemp failed");
}

static inline int io_rm_cb(const char *p, const struct stat *s, int flag, struct FTW *f) {
  (void)s;
  (void)flag;
  (void)f;
  return remove(p);
}
static inline void io_rm_rf(const char *dir) { nftw(dir, io_rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Number of entries in dir (without . and ..), and how many contain ".tmp.". */
static inline int io_count_entries(const char *dir, int *n_tmp) {
  DIR *d = opendir(dir);
  int n = 0, t = 0;
  if (!d) fail_msg("cannot open %s", dir);
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    if (strstr(e->d_name, ".tmp.")) t++;
  }
  closedir(d);
  if (n_tmp) *n_tmp = t;
  return n;
}

static inline bool io_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static inline void io_write_bytes(const char *path, const void *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot create %s", path);
  if (len && fwrite(buf, 1, len, f) != len) fail_msg("cannot write %s", path);
  fclose(f);
}

/* Whole file into a malloc'ed buffer. */
static inline unsigned char *io_read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  if (n && fread(b, 1, (size_t)n, f) != (size_t)n) fail_msg("cannot read %s", path);
  fclose(f);
  *len = (size_t)n;
  return b;
}

/* gzip-compresses len bytes with zlib (an independent writer of the format). */
static inline unsigned char *io_gzip(const void *in, size_t len, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail_msg("deflateInit2");
  size_t cap = deflateBound(&z, (uLong)len) + 64;
  unsigned char *out = malloc(cap);
  z.next_in = (unsigned char *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) fail_msg("deflate");
  *out_len = z.total_out;
  deflateEnd(&z);
  return out;
}

static inline void io_check_error(nd_status got, nd_status want, const char *s1, const char *s2, const char *expr) {
  const char *m = nd_last_error();
  if (got != want) fail_msg("%s -> %s (\"%s\"), expected %s", expr, nd_status_str(got), m, nd_status_str(want));
  if (s1 && !strstr(m, s1)) fail_msg("%s: message \"%s\" lacks \"%s\"", expr, m, s1);
  if (s2 && !strstr(m, s2)) fail_msg("%s: message \"%s\" lacks \"%s\"", expr, m, s2);
}

/* Checks status and that the message mentions each non-NULL substring. */
#define io_assert_error(expr, want, s1, s2) io_check_error((expr), (want), (s1), (s2), #expr)

#endif
