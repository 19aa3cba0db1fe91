/* Provenance of a run: file checksums and the host (see
 * include/neurodyn/provenance.h; nd_build_commit lives in the source that
 * CMake generates, <build>/generated/nd_build_info.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "io/io_internal.h"
#include "neurodyn/provenance.h"

nd_status nd_file_sha256(const char *path, char hex[65]) {
  if (hex) hex[0] = 0;
  if (!path || !hex) return nd__error(ND_ERR_INVALID_ARG, "file_sha256: NULL %s", path ? "output" : "path");
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return nd__error(e == ENOENT ? ND_ERR_NOT_FOUND : e == EACCES || e == ENOTDIR ? ND_ERR_INVALID_ARG : ND_ERR_IO,
                     "%s: cannot open: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bool dir = S_ISDIR(st.st_mode);
    close(fd);
    return nd__error(ND_ERR_INVALID_ARG, "%s: not a regular file%s", path, dir ? " (a directory)" : "");
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  enum { CHUNK = 1 << 20 };
  unsigned char *buf = malloc(CHUNK);
  if (!buf) {
    close(fd);
    return nd__error(ND_ERR_NOMEM, "%s: cannot allocate a read buffer", path);
  }
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  nd_status s = ND_OK;
  for (;;) {
    ssize_t r = read(fd, buf, CHUNK);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      s = nd__error(ND_ERR_IO, "%s: read failed: %s", path, strerror(errno));
      break;
    }
    if (r == 0) break;
    sha256_update(&ctx, (size_t)r, buf);
  }
  free(buf);
  close(fd);
  if (s != ND_OK) return s;
  uint8_t d[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof d, d);
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = 0;
  return ND_OK;
}

nd_status nd_host_name(char *buf, size_t len) {
  if (!buf || len < 2) return nd__error(ND_ERR_INVALID_ARG, "host_name: %s", buf ? "buffer too small" : "NULL buffer");
  char name[256];
  if (gethostname(name, sizeof name) != 0) {
    buf[0] = 0;
    return nd__error(ND_ERR_IO, "gethostname failed: %s", strerror(errno));
  }
  name[sizeof name - 1] = 0;
  if (strlen(name) >= len) {
    buf[0] = 0;
    return nd__error(ND_ERR_INVALID_ARG, "host_name: buffer of %zu bytes too small for \"%s\"", len, name);
  }
  memcpy(buf, name, strlen(name) + 1);
  return ND_OK;
}
