/* Private helpers of src/io: whole-file reads, atomic writes, dtypes. */
#ifndef NEURODYN_IO_INTERNAL_H
#define NEURODYN_IO_INTERNAL_H

#include <stdio.h>

#include "core/internal.h"
#include "neurodyn/io.h"

/* Reads the whole of path into a malloc'ed buffer (*len bytes; one extra
 * zero byte follows it).  ND_ERR_NOT_FOUND if it does not exist,
 * ND_ERR_INVALID_ARG if it is not a regular file (checked before reading, so
 * a FIFO does not block) or the path cannot name a readable file (permission,
 * a directory in the way), ND_ERR_IO if reading fails. */
nd_status nd__read_file(const char *path, unsigned char **buf, size_t *len);

/* Atomic file write: data goes to "<path>.tmp.<pid>" in the same directory;
 * nd__afile_commit flushes, fsyncs, closes and renames it over path.  Any
 * failure (or nd__afile_abort) removes the temporary. */
typedef struct nd__afile {
  FILE *f;
  char *path;
  char *tmp;
  size_t written;
  nd_status status; /* first failure, reported by commit */
  bool no_sync;     /* set after open: commit renames without fsync (still atomic for
                       readers; not durable across a machine crash) */
} nd__afile;

nd_status nd__afile_open(nd__afile *a, const char *path);
/* Records a failure in a->status (and returns it); later writes are no-ops. */
nd_status nd__afile_write(nd__afile *a, const void *buf, size_t n);
nd_status nd__afile_commit(nd__afile *a);
void nd__afile_abort(nd__afile *a);

/* Test hook: when >= 0, nd__afile_write fails once this many bytes have
 * been written in total by one nd__afile (simulated disk full). */
extern long long nd__io_fail_after_bytes;

/* numel of a shape with overflow check: false if any size is negative, the
 * product of the non-zero sizes exceeds INT64_MAX / 16 (even when another
 * size is 0), or the product (times elem_size) exceeds limit. */
bool nd__shape_bytes(int ndim, const int64_t *shape, size_t elem_size, uint64_t limit, int64_t *numel,
                     uint64_t *bytes);

/* "60000x28x28" (or "scalar") into buf. */
char *nd__shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

/* Half/bfloat16 to float. */
float nd__f16_to_f32(uint16_t h);
float nd__bf16_to_f32(uint16_t h);


/* Writes the elements of t (any strides) as contiguous native float32. */
nd_status nd__afile_write_tensor(nd__afile *a, const nd_tensor *t);

/* NPY 1.0 header (magic, version, padded dict; data starts at a multiple of
 * 64 bytes) for a C-order array of the given descr ("<f4", "|u1", ...). */
nd_status nd__npy_write_header(nd__afile *f, const char *descr, int ndim, const int64_t *shape);
/* An NPY file of float32, float64 or uint8 ('|u1') elements in its own dtype,
 * native byte order. */
nd_status nd__npy_parse_typed(const void *buf, size_t len, const char *name, nd_array *out);

/* true on a little-endian host. */
static inline bool nd__little_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* Reverses the bytes of each of n elements of size bytes, in place. */
void nd__byteswap(void *data, int64_t n, size_t size);

#endif
