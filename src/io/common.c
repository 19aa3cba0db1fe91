/* Shared file helpers of src/io: whole-file reads, atomic writes (temporary
 * name, fsync, rename), dtypes and typed arrays. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_internal.h"

long long nd__io_fail_after_bytes = -1;

nd_status nd__read_file(const char *path, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "read: path is NULL");
  /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
   * the regular-file check below then refuses it without reading. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    /* A path that names nothing readable is bad input; anything else is the
     * machine failing. */
    nd_status s = e == ENOENT ? ND_ERR_NOT_FOUND
                  : (e == EACCES || e == EISDIR || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG || e == ENXIO)
                      ? ND_ERR_INVALID_ARG
                      : ND_ERR_IO;
    return nd__error(s, "%s: cannot open: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return nd__error(ND_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return nd__error(ND_ERR_INVALID_ARG, "%s: not a regular file (%s)", path,
                     S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                                            : "not a file");
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int e = errno;
    close(fd);
    return nd__error(ND_ERR_IO, "%s: cannot open: %s", path, strerror(e));
  }
  if ((uint64_t)st.st_size >= (uint64_t)SIZE_MAX) {
    fclose(f);
    return nd__error(ND_ERR_IO, "%s: file too large (%lld bytes)", path, (long long)st.st_size);
  }
  size_t size = (size_t)st.st_size;
  unsigned char *b = malloc(size + 1);
  if (!b) {
    fclose(f);
    return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, size);
  }
  size_t got = fread(b, 1, size, f);
  int err = ferror(f);
  int extra = got == size ? fgetc(f) : EOF;
  fclose(f);
  if (err || got != size || extra != EOF) {
    free(b);
    return nd__error(ND_ERR_IO, "%s: read %zu of %zu bytes%s", path, got, size,
                     extra != EOF ? " (file grew while reading)" : err ? " (read error)" : " (file shrank)");
  }
  b[size] = 0;
  *buf = b;
  *len = size;
  return ND_OK;
}

nd_status nd__afile_open(nd__afile *a, const char *path) {
  memset(a, 0, sizeof *a);
  if (!path || !*path) return nd__error(ND_ERR_INVALID_ARG, "write: empty path");
  size_t n = strlen(path);
  a->path = malloc(n + 1);
  a->tmp = malloc(n + 32);
  if (!a->path || !a->tmp) {
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return nd__error(ND_ERR_NOMEM, "%s: cannot allocate path", path);
  }
  memcpy(a->path, path, n + 1);
  snprintf(a->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    int e = errno;
    nd_status s = nd__error(e == ENOENT ? ND_ERR_NOT_FOUND : ND_ERR_IO, "%s: cannot create %s: %s", path,
                            a->tmp, strerror(e));
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return s;
  }
  a->f = fdopen(fd, "wb");
  if (!a->f) {
    int e = errno;
    close(fd);
    unlink(a->tmp);
    nd_status s = nd__error(ND_ERR_IO, "%s: cannot open stream: %s", path, strerror(e));
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return s;
  }
  return ND_OK;
}

nd_status nd__afile_write(nd__afile *a, const void *buf, size_t n) {
  if (a->status != ND_OK) return a->status;
  if (!a->f) return a->status = nd__error(ND_ERR_INVALID_ARG, "write: file is not open");
  if (nd__io_fail_after_bytes >= 0 && a->written + n > (unsigned long long)nd__io_fail_after_bytes) {
    return a->status = nd__error(ND_ERR_IO, "%s: write failed after %zu bytes: simulated failure (test hook)",
                                 a->path, a->written);
  }
  if (n && fwrite(buf, 1, n, a->f) != n) {
    int e = errno;
    return a->status = nd__error(ND_ERR_IO, "%s: write failed after %zu bytes: %s", a->path, a->written,
                                 strerror(e));
  }
  a->written += n;
  return ND_OK;
}

static void afile_cleanup(nd__afile *a) {
  free(a->path);
  free(a->tmp);
  memset(a, 0, sizeof *a);
}

void nd__afile_abort(nd__afile *a) {
  if (a->f) {
    fclose(a->f);
    unlink(a->tmp);
  }
  afile_cleanup(a);
}

static void fsync_parent_dir(const char *path) {
  char *copy = strdup(path);
  if (!copy) return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd); /* best effort: makes the rename itself durable */
    close(fd);
  }
  free(copy);
}

nd_status nd__afile_commit(nd__afile *a) {
  if (!a->f) {
    afile_cleanup(a);
    return nd__error(ND_ERR_INVALID_ARG, "write: file is not open");
  }
  nd_status s = a->status;
  if (s == ND_OK && fflush(a->f) != 0)
    s = nd__error(ND_ERR_IO, "%s: flush failed: %s", a->path, strerror(errno));
  if (s == ND_OK && !a->no_sync && fsync(fileno(a->f)) != 0)
    s = nd__error(ND_ERR_IO, "%s: fsync failed: %s", a->path, strerror(errno));
  if (fclose(a->f) != 0 && s == ND_OK) s = nd__error(ND_ERR_IO, "%s: close failed: %s", a->path, strerror(errno));
  a->f = NULL;
  if (s == ND_OK && rename(a->tmp, a->path) != 0)
    s = nd__error(ND_ERR_IO, "%s: cannot rename %s into place: %s", a->path, a->tmp, strerror(errno));
  if (s != ND_OK)
    unlink(a->tmp);
  else if (!a->no_sync)
    fsync_parent_dir(a->path);
  afile_cleanup(a);
  return s;
}

bool nd__shape_bytes(int ndim, const int64_t *shape, size_t elem_size, uint64_t limit, int64_t *numel,
                     uint64_t *bytes) {
  /* The product of the non-zero sizes must stay far from INT64_MAX even when
   * another size is 0: nd_tensor computes strides from it (a 0 x 2^40 x 2^40
   * header would otherwise overflow them). */
  const uint64_t cap = (uint64_t)INT64_MAX / 16;
  uint64_t n = 1;
  bool zero = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return false;
    if (shape[i] == 0) {
      zero = true;
      continue;
    }
    uint64_t d = (uint64_t)shape[i];
    if (n > cap / d) return false;
    n *= d;
  }
  if (zero) n = 0;
  if (n > limit || (elem_size && n > limit / elem_size)) return false;
  if (numel) *numel = (int64_t)n;
  if (bytes) *bytes = n * elem_size;
  return true;
}

char *nd__shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
  if (!len) return buf;
  buf[0] = 0;
  if (ndim == 0) {
    snprintf(buf, len, "scalar");
    return buf;
  }
  size_t used = 0;
  for (int i = 0; i < ndim && used < len; i++) {
    int k = snprintf(buf + used, len - used, "%s%lld", i ? "x" : "", (long long)shape[i]);
    if (k < 0) break;
    used += (size_t)k;
  }
  return buf;
}

static const size_t dtype_sizes[ND_DTYPE_COUNT_] = {
    [ND_DTYPE_U8] = 1, [ND_DTYPE_I8] = 1,   [ND_DTYPE_I16] = 2, [ND_DTYPE_I32] = 4,  [ND_DTYPE_I64] = 8,
    [ND_DTYPE_F16] = 2, [ND_DTYPE_BF16] = 2, [ND_DTYPE_F32] = 4, [ND_DTYPE_F64] = 8, [ND_DTYPE_BOOL] = 1,
};
static const char *const dtype_names[ND_DTYPE_COUNT_] = {
    [ND_DTYPE_U8] = "u8",   [ND_DTYPE_I8] = "i8",     [ND_DTYPE_I16] = "i16", [ND_DTYPE_I32] = "i32",
    [ND_DTYPE_I64] = "i64", [ND_DTYPE_F16] = "f16",   [ND_DTYPE_BF16] = "bf16", [ND_DTYPE_F32] = "f32",
    [ND_DTYPE_F64] = "f64", [ND_DTYPE_BOOL] = "bool",
};

size_t nd_dtype_size(nd_dtype t) { return (unsigned)t < ND_DTYPE_COUNT_ ? dtype_sizes[t] : 0; }
const char *nd_dtype_name(nd_dtype t) { return (unsigned)t < ND_DTYPE_COUNT_ ? dtype_names[t] : "invalid"; }

void nd_array_release(nd_array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

float nd__f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do {
        e++;
        man <<= 1;
      } while (!(man & 0x400));
      bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

float nd__bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

nd_status nd_array_to_tensor(const nd_array *a, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: output is NULL");
  memset(out, 0, sizeof *out);
  if (!a) return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: array is NULL");
  if (a->ndim < 0 || a->ndim > ND_ARRAY_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: %d dimensions", a->ndim);
  if (a->ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_UNSUPPORTED, "array_to_tensor: %d dimensions, tensors have at most %d", a->ndim,
                     ND_MAX_DIMS);
  if (nd_dtype_size(a->dtype) == 0)
    return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: invalid dtype %d", (int)a->dtype);
  ND_TRY(nd_tensor_alloc(out, a->ndim, a->shape));
  const int64_t shape_numel = nd_tensor_numel(out);
  if (a->numel != shape_numel) {
    nd_tensor_release(out);
    return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: numel %lld disagrees with the shape (%lld elements)",
                     (long long)a->numel, (long long)shape_numel);
  }
  if (a->numel > 0 && !a->data) {
    nd_tensor_release(out);
    return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: array has %lld elements but no data", (long long)a->numel);
  }
  float *d = out->data;
  const void *s = a->data;
  int64_t n = a->numel;
  switch (a->dtype) {
    case ND_DTYPE_U8: for (int64_t i = 0; i < n; i++) d[i] = ((const uint8_t *)s)[i]; break;
    case ND_DTYPE_BOOL: for (int64_t i = 0; i < n; i++) d[i] = ((const uint8_t *)s)[i] ? 1.0f : 0.0f; break;
    case ND_DTYPE_I8: for (int64_t i = 0; i < n; i++) d[i] = ((const int8_t *)s)[i]; break;
    case ND_DTYPE_I16: for (int64_t i = 0; i < n; i++) d[i] = ((const int16_t *)s)[i]; break;
    case ND_DTYPE_I32: for (int64_t i = 0; i < n; i++) d[i] = (float)((const int32_t *)s)[i]; break;
    case ND_DTYPE_I64: for (int64_t i = 0; i < n; i++) d[i] = (float)((const int64_t *)s)[i]; break;
    case ND_DTYPE_F16: for (int64_t i = 0; i < n; i++) d[i] = nd__f16_to_f32(((const uint16_t *)s)[i]); break;
    case ND_DTYPE_BF16: for (int64_t i = 0; i < n; i++) d[i] = nd__bf16_to_f32(((const uint16_t *)s)[i]); break;
    case ND_DTYPE_F32: if (n) memcpy(d, s, (size_t)n * 4); break;
    case ND_DTYPE_F64: for (int64_t i = 0; i < n; i++) d[i] = (float)((const double *)s)[i]; break;
    default:
      nd_tensor_release(out);
      return nd__error(ND_ERR_INVALID_ARG, "array_to_tensor: invalid dtype %d", (int)a->dtype);
  }
  return ND_OK;
}

void nd__byteswap(void *data, int64_t n, size_t size) {
  unsigned char *p = data;
  if (size <= 1) return;
  for (int64_t i = 0; i < n; i++, p += size) {
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
  }
}

nd_status nd__afile_write_tensor(nd__afile *a, const nd_tensor *t) {
  int64_t numel = nd_tensor_numel(t);
  if (numel == 0) return a->status;
  if (nd_tensor_is_contiguous(t)) return nd__afile_write(a, t->data, (size_t)numel * sizeof(float));
  /* Odometer over all but the last dimension; gather rows into a buffer. */
  float buf[4096];
  int nb = 0;
  int64_t idx[ND_MAX_DIMS] = {0};
  int last = t->ndim - 1;
  int64_t rows = numel / t->shape[last];
  for (int64_t r = 0; r < rows && a->status == ND_OK; r++) {
    const float *row = t->data;
    for (int d = 0; d < last; d++) row += idx[d] * t->stride[d];
    for (int64_t j = 0; j < t->shape[last]; j++) {
      buf[nb++] = row[j * t->stride[last]];
      if (nb == (int)(sizeof buf / sizeof buf[0])) {
        nd__afile_write(a, buf, sizeof buf);
        nb = 0;
      }
    }
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < t->shape[d]) break;
      idx[d] = 0;
    }
  }
  if (nb) nd__afile_write(a, buf, (size_t)nb * sizeof(float));
  return a->status;
}

nd_status nd_file_read_all(const char *path, void **buf, size_t *len) {
  if (!buf || !len) return nd__error(ND_ERR_INVALID_ARG, "nd_file_read_all: NULL argument");
  unsigned char *b = NULL;
  nd_status s = nd__read_file(path, &b, len);
  *buf = b;
  return s;
}

nd_status nd_file_write_atomic(const char *path, const void *data, size_t len) {
  if (!path || (len > 0 && !data)) return nd__error(ND_ERR_INVALID_ARG, "nd_file_write_atomic: NULL argument");
  nd__afile f;
  ND_TRY(nd__afile_open(&f, path));
  nd__afile_write(&f, data, len); /* a failed write is kept and reported by commit, which removes the temporary */
  return nd__afile_commit(&f);
}
