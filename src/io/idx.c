/* IDX reader and writer (the MNIST file format), raw or gzip-compressed.
 *
 * Layout (LeCun et al., http://yann.lecun.com/exdb/mnist/): bytes 0 0, a type
 * byte, the number of dimensions, then that many big-endian uint32 sizes, then
 * the elements big-endian in row-major order. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/io_internal.h"

/* Deflate expands at most 1032:1; a claim above this cannot be genuine. */
#define GZ_MAX_RATIO 1032u

static int idx_type_to_dtype(unsigned type, nd_dtype *dt) {
  switch (type) {
    case 0x08: *dt = ND_DTYPE_U8; return 1;
    case 0x09: *dt = ND_DTYPE_I8; return 1;
    case 0x0B: *dt = ND_DTYPE_I16; return 1;
    case 0x0C: *dt = ND_DTYPE_I32; return 1;
    case 0x0D: *dt = ND_DTYPE_F32; return 1;
    case 0x0E: *dt = ND_DTYPE_F64; return 1;
    default: return 0;
  }
}

static int dtype_to_idx_type(nd_dtype dt) {
  switch (dt) {
    case ND_DTYPE_U8: return 0x08;
    case ND_DTYPE_I8: return 0x09;
    case ND_DTYPE_I16: return 0x0B;
    case ND_DTYPE_I32: return 0x0C;
    case ND_DTYPE_F32: return 0x0D;
    case ND_DTYPE_F64: return 0x0E;
    default: return -1;
  }
}

/* In-place big-endian to native (little-endian host assumed by the swap). */
static void be_to_native(void *data, int64_t n, size_t size) {
  const uint16_t one = 1;
  if (*(const unsigned char *)&one == 0 || size == 1) return; /* big-endian host: nothing to do */
  unsigned char *p = data;
  for (int64_t i = 0; i < n; i++, p += size) {
    for (size_t a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
  }
}

/* Parsed header: what the first 4 + 4*ndim bytes say. */
typedef struct idx_header {
  nd_dtype dtype;
  int ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
} idx_header;

static nd_status parse_magic(const unsigned char *m, const char *name, idx_header *h) {
  if (m[0] != 0 || m[1] != 0)
    return nd__error(ND_ERR_FORMAT,
                     "%s: bad magic %02x %02x %02x %02x: an IDX file starts with 00 00 <type> <ndim>", name, m[0],
                     m[1], m[2], m[3]);
  if (!idx_type_to_dtype(m[2], &h->dtype))
    return nd__error(ND_ERR_FORMAT,
                     "%s: unknown IDX element type 0x%02x (known: 08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64)",
                     name, m[2]);
  if (m[3] < 1 || m[3] > ND_ARRAY_MAX_DIMS)
    return nd__error(ND_ERR_FORMAT, "%s: IDX header has %d dimensions, supported 1..%d", name, m[3],
                     ND_ARRAY_MAX_DIMS);
  h->ndim = m[3];
  return ND_OK;
}

static void parse_dims(const unsigned char *p, idx_header *h) {
  for (int i = 0; i < ND_ARRAY_MAX_DIMS; i++) h->shape[i] = 1;
  for (int i = 0; i < h->ndim; i++, p += 4)
    h->shape[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static nd_status alloc_array(const idx_header *h, int64_t numel, uint64_t bytes, const char *name, nd_array *out) {
  memset(out, 0, sizeof *out);
  out->dtype = h->dtype;
  out->ndim = h->ndim;
  memcpy(out->shape, h->shape, sizeof out->shape);
  out->numel = numel;
  out->data = malloc(bytes ? (size_t)bytes : 1);
  if (!out->data)
    return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %llu bytes for the data", name, (unsigned long long)bytes);
  return ND_OK;
}

/* ---------------------------------------------------------------- raw */

static nd_status parse_raw(const unsigned char *b, size_t len, const char *name, nd_array *out) {
  idx_header h;
  char shp[128];
  if (len < 4)
    return nd__error(ND_ERR_FORMAT, "%s: truncated: %zu bytes, an IDX header needs at least 4", name, len);
  ND_TRY(parse_magic(b, name, &h));
  size_t hdr = 4 + 4 * (size_t)h.ndim;
  if (len < hdr)
    return nd__error(ND_ERR_FORMAT, "%s: truncated: header of %d dimensions needs %zu bytes, file has %zu", name,
                     h.ndim, hdr, len);
  parse_dims(b + 4, &h);
  size_t esz = nd_dtype_size(h.dtype);
  int64_t numel;
  uint64_t bytes;
  size_t have = len - hdr;
  nd__shape_str(h.ndim, h.shape, shp, sizeof shp);
  if (!nd__shape_bytes(h.ndim, h.shape, esz, (uint64_t)have, &numel, &bytes)) {
    if (nd__shape_bytes(h.ndim, h.shape, esz, UINT64_MAX / 2, NULL, &bytes))
      return nd__error(ND_ERR_FORMAT, "%s: truncated: header says %s (%s) = %llu bytes of data, file has %zu", name,
                       shp, nd_dtype_name(h.dtype), (unsigned long long)bytes, have);
    return nd__error(ND_ERR_FORMAT, "%s: header says %s (%s): the sizes overflow (product above 2^59), file has %zu bytes of data",
                     name, shp, nd_dtype_name(h.dtype), have);
  }
  if (bytes < have)
    return nd__error(ND_ERR_FORMAT, "%s: header says %s (%s) = %llu bytes of data, file has %zu (%llu trailing bytes)",
                     name, shp, nd_dtype_name(h.dtype), (unsigned long long)bytes, have,
                     (unsigned long long)(have - bytes));
  ND_TRY(alloc_array(&h, numel, bytes, name, out));
  if (bytes) memcpy(out->data, b + hdr, (size_t)bytes);
  be_to_native(out->data, numel, esz);
  return ND_OK;
}

/* ---------------------------------------------------------------- gzip */

typedef struct gz_reader {
  z_stream z;
  const unsigned char *in;
  size_t len, pos; /* input not yet handed to zlib starts at in + pos */
  int ended;       /* the last gzip member ended */
  int truncated;   /* the input ran out inside a gzip member */
  const char *name;
} gz_reader;

static size_t gz_remaining(const gz_reader *g) { return g->z.avail_in + (g->len - g->pos); }

/* Reads up to n bytes; *got tells how many.  Stops early only at the end of
 * the stream (g->ended) or on error. */
static nd_status gz_read(gz_reader *g, void *dst, size_t n, size_t *got) {
  unsigned char *out = dst;
  *got = 0;
  while (*got < n && !g->ended && !g->truncated) {
    if (g->z.avail_in == 0 && g->pos < g->len) {
      size_t chunk = g->len - g->pos;
      if (chunk > (1u << 30)) chunk = 1u << 30;
      g->z.next_in = (unsigned char *)(uintptr_t)(g->in + g->pos);
      g->z.avail_in = (uInt)chunk;
      g->pos += chunk;
    }
    size_t want = n - *got;
    if (want > (1u << 30)) want = 1u << 30;
    g->z.next_out = out + *got;
    g->z.avail_out = (uInt)want;
    int r = inflate(&g->z, Z_NO_FLUSH);
    *got += want - g->z.avail_out;
    if (r == Z_STREAM_END) {
      /* Another gzip member may follow (concatenated .gz files). */
      if (gz_remaining(g) >= 2) {
        unsigned char m0, m1;
        if (g->z.avail_in >= 2) {
          m0 = g->z.next_in[0];
          m1 = g->z.next_in[1];
        } else if (g->z.avail_in == 1) {
          m0 = g->z.next_in[0];
          m1 = g->in[g->pos];
        } else {
          m0 = g->in[g->pos];
          m1 = g->in[g->pos + 1];
        }
        if (m0 == 0x1f && m1 == 0x8b) {
          if (inflateReset(&g->z) != Z_OK) return nd__error(ND_ERR_INTERNAL, "%s: inflateReset failed", g->name);
          continue;
        }
      }
      if (gz_remaining(g) > 0)
        return nd__error(ND_ERR_FORMAT, "%s: %zu bytes of garbage after the end of the gzip stream", g->name,
                         gz_remaining(g));
      g->ended = 1;
    } else if (r == Z_BUF_ERROR) {
      if (gz_remaining(g) == 0) {
        g->truncated = 1; /* the caller reports what was missing */
        break;
      }
    } else if (r == Z_MEM_ERROR) {
      return nd__error(ND_ERR_NOMEM, "%s: zlib is out of memory", g->name);
    } else if (r != Z_OK) {
      return nd__error(ND_ERR_FORMAT, "%s: gzip data is corrupt: %s", g->name, g->z.msg ? g->z.msg : "inflate error");
    }
  }
  return ND_OK;
}

static nd_status gz_read_exact(gz_reader *g, void *dst, size_t n, const char *what) {
  size_t got;
  ND_TRY(gz_read(g, dst, n, &got));
  if (got != n)
    return nd__error(ND_ERR_FORMAT, "%s: truncated gzip stream: %s needs %zu bytes, the stream ends after %zu", g->name,
                     what, n, got);
  return ND_OK;
}

static nd_status parse_gzip_body(gz_reader *g, size_t len, const char *name, nd_array *out) {
  idx_header h;
  unsigned char head[4 + 4 * ND_ARRAY_MAX_DIMS];
  char shp[128];
  ND_TRY(gz_read_exact(g, head, 4, "the IDX header"));
  ND_TRY(parse_magic(head, name, &h));
  ND_TRY(gz_read_exact(g, head + 4, 4 * (size_t)h.ndim, "the IDX header"));
  parse_dims(head + 4, &h);
  size_t esz = nd_dtype_size(h.dtype);
  int64_t numel;
  uint64_t bytes;
  nd__shape_str(h.ndim, h.shape, shp, sizeof shp);
  uint64_t limit = (uint64_t)len * GZ_MAX_RATIO + 4096;
  if (!nd__shape_bytes(h.ndim, h.shape, esz, limit, &numel, &bytes))
    return nd__error(ND_ERR_FORMAT,
                     "%s: header says %s (%s), more data than a gzip file of %zu bytes can hold (at most %llu bytes)",
                     name, shp, nd_dtype_name(h.dtype), len, (unsigned long long)limit);
  ND_TRY(alloc_array(&h, numel, bytes, name, out));
  size_t got;
  nd_status s = gz_read(g, out->data, (size_t)bytes, &got);
  if (s == ND_OK && got != bytes)
    s = nd__error(ND_ERR_FORMAT, "%s: truncated gzip stream: header says %s (%s) = %llu bytes of data, the stream ends after %zu", name,
                  shp, nd_dtype_name(h.dtype), (unsigned long long)bytes, got);
  /* The stream must end here; reaching its end also checks the CRC-32. */
  if (s == ND_OK) {
    unsigned char extra[64];
    s = gz_read(g, extra, sizeof extra, &got);
    if (s == ND_OK && !g->ended && !got)
      s = nd__error(ND_ERR_FORMAT, "%s: truncated gzip stream: the data is complete but the gzip trailer is missing",
                    name);
    if (s == ND_OK && got)
      s = nd__error(ND_ERR_FORMAT, "%s: header says %s (%s) = %llu bytes of data, the gzip stream holds more", name, shp,
                    nd_dtype_name(h.dtype), (unsigned long long)bytes);
  }
  if (s != ND_OK) {
    nd_array_release(out);
    return s;
  }
  be_to_native(out->data, numel, esz);
  return ND_OK;
}

static nd_status parse_gzip(const unsigned char *b, size_t len, const char *name, nd_array *out) {
  gz_reader g;
  memset(&g, 0, sizeof g);
  g.in = b;
  g.len = len;
  g.name = name;
  if (inflateInit2(&g.z, 16 + MAX_WBITS) != Z_OK) return nd__error(ND_ERR_NOMEM, "%s: inflateInit2 failed", name);
  nd_status s = parse_gzip_body(&g, len, name, out);
  inflateEnd(&g.z);
  return s;
}

nd_status nd_idx_parse(const void *buf, size_t len, const char *name, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "idx_parse: out is NULL");
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  const unsigned char *b = buf;
  if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) return parse_gzip(b, len, name, out);
  return parse_raw(b, len, name, out);
}

nd_status nd_idx_read(const char *path, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "idx_read: out is NULL");
  memset(out, 0, sizeof *out);
  unsigned char *buf;
  size_t len;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = nd_idx_parse(buf, len, path, out);
  free(buf);
  return s;
}

nd_status nd_idx_write(const char *path, const nd_array *a) {
  if (!a) return nd__error(ND_ERR_INVALID_ARG, "%s: array is NULL", path ? path : "idx_write");
  int type = dtype_to_idx_type(a->dtype);
  if (type < 0)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: IDX cannot store dtype %s", path, nd_dtype_name(a->dtype));
  if (a->ndim < 1 || a->ndim > ND_ARRAY_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "%s: IDX needs 1..%d dimensions, array has %d", path, ND_ARRAY_MAX_DIMS,
                     a->ndim);
  int64_t numel;
  size_t esz = nd_dtype_size(a->dtype);
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] < 0 || (uint64_t)a->shape[i] > UINT32_MAX)
      return nd__error(ND_ERR_INVALID_ARG, "%s: dimension %d of size %lld does not fit IDX's uint32", path, i,
                       (long long)a->shape[i]);
  if (!nd__shape_bytes(a->ndim, a->shape, esz, SIZE_MAX / 2, &numel, NULL) || numel != a->numel)
    return nd__error(ND_ERR_INVALID_ARG, "%s: array numel %lld does not match its shape", path, (long long)a->numel);
  if (numel && !a->data) return nd__error(ND_ERR_INVALID_ARG, "%s: array data is NULL", path);
  unsigned char head[4 + 4 * ND_ARRAY_MAX_DIMS] = {0, 0, (unsigned char)type, (unsigned char)a->ndim};
  for (int i = 0; i < a->ndim; i++) {
    uint32_t d = (uint32_t)a->shape[i];
    head[4 + 4 * i] = (unsigned char)(d >> 24);
    head[5 + 4 * i] = (unsigned char)(d >> 16);
    head[6 + 4 * i] = (unsigned char)(d >> 8);
    head[7 + 4 * i] = (unsigned char)d;
  }
  nd__afile f;
  ND_TRY(nd__afile_open(&f, path));
  nd__afile_write(&f, head, 4 + 4 * (size_t)a->ndim);
  unsigned char chunk[1 << 16];
  const unsigned char *src = a->data;
  size_t total = (size_t)numel * esz, per = sizeof chunk / esz * esz;
  for (size_t off = 0; off < total && f.status == ND_OK; off += per) {
    size_t n = total - off < per ? total - off : per;
    memcpy(chunk, src + off, n);
    be_to_native(chunk, (int64_t)(n / esz), esz); /* the swap is its own inverse */
    nd__afile_write(&f, chunk, n);
  }
  return nd__afile_commit(&f);
}
