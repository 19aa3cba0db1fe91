/* NPY reader and writer (NumPy's .npy format, numpy/lib/format.py).
 *
 * Layout: "\x93NUMPY", major, minor version bytes, header length (uint16 LE
 * for 1.0, uint32 LE for 2.0 and 3.0), an ASCII (3.0: UTF-8) Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded
 * with spaces and ended by '\n', then the raw elements. */
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

typedef struct npy_info {
  int esize;     /* 4 or 8 (1: uint8, nd__npy_parse_typed only) */
  bool big;      /* big-endian elements */
  int ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  int64_t numel;
  size_t data_off;
} npy_info;

typedef struct cursor {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Python string literal with ' or " quotes, no escapes needed for our keys. */
static bool parse_str(cursor *c, char *out, size_t cap) {
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\') return false;
    if (n + 1 >= cap) return false;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return false;
  c->p++;
  out[n] = 0;
  return true;
}

static bool parse_word(cursor *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
  c->p += n;
  return true;
}

static nd_status parse_header(const unsigned char *b, size_t len, const char *name, bool allow_u8, npy_info *info) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  memset(info, 0, sizeof *info);
  if (len < 10)
    return nd__error(ND_ERR_FORMAT, "%s: truncated: %zu bytes, an NPY header needs at least 10", name, len);
  if (memcmp(b, magic, 6) != 0)
    return nd__error(ND_ERR_FORMAT, "%s: bad magic: an NPY file starts with \\x93NUMPY", name);
  int major = b[6], minor = b[7];
  size_t hlen, pre;
  if (major == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    pre = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return nd__error(ND_ERR_FORMAT, "%s: truncated: %zu bytes, an NPY %d.%d header needs 12", name, len, major, minor);
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    pre = 12;
  } else {
    return nd__error(ND_ERR_UNSUPPORTED, "%s: NPY version %d.%d is not supported (1.0, 2.0, 3.0 are)", name, major,
                     minor);
  }
  if (hlen > len - pre)
    return nd__error(ND_ERR_FORMAT, "%s: truncated: header length %zu, but only %zu bytes follow", name, hlen, len - pre);
  cursor c = {(const char *)b + pre, (const char *)b + pre + hlen};
  bool have_descr = false, have_fortran = false, have_shape = false, fortran = false;
  char key[32], descr[32];
  skip_ws(&c);
  if (c.p >= c.end || *c.p != '{') return nd__error(ND_ERR_FORMAT, "%s: header is not a Python dict", name);
  c.p++;
  for (;;) {
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
      c.p++;
      break;
    }
    if (!parse_str(&c, key, sizeof key)) return nd__error(ND_ERR_FORMAT, "%s: header: expected a quoted key", name);
    skip_ws(&c);
    if (c.p >= c.end || *c.p != ':') return nd__error(ND_ERR_FORMAT, "%s: header: expected ':' after '%s'", name, key);
    c.p++;
    skip_ws(&c);
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (!parse_str(&c, descr, sizeof descr))
        return nd__error(ND_ERR_UNSUPPORTED, "%s: header: 'descr' is not a simple dtype string (structured arrays are not supported)", name);
      have_descr = true;
    } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
      if (parse_word(&c, "True"))
        fortran = true;
      else if (!parse_word(&c, "False"))
        return nd__error(ND_ERR_FORMAT, "%s: header: 'fortran_order' is not True or False", name);
      have_fortran = true;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if (c.p >= c.end || *c.p != '(') return nd__error(ND_ERR_FORMAT, "%s: header: 'shape' is not a tuple", name);
      c.p++;
      for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == ')') {
          c.p++;
          break;
        }
        if (c.p >= c.end || *c.p < '0' || *c.p > '9')
          return nd__error(ND_ERR_FORMAT, "%s: header: 'shape' holds something other than non-negative integers", name);
        if (info->ndim == ND_ARRAY_MAX_DIMS)
          return nd__error(ND_ERR_UNSUPPORTED, "%s: more than %d dimensions", name, ND_ARRAY_MAX_DIMS);
        int64_t v = 0;
        while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
          if (v > (INT64_MAX / 4 - 9) / 10)
            return nd__error(ND_ERR_FORMAT, "%s: header: dimension %d is too large", name, info->ndim);
          v = v * 10 + (*c.p++ - '0');
        }
        if (c.p < c.end && *c.p == 'L') c.p++; /* Python 2 long */
        info->shape[info->ndim++] = v;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
          c.p++;
        } else if (c.p >= c.end || *c.p != ')') {
          return nd__error(ND_ERR_FORMAT, "%s: header: malformed 'shape' tuple", name);
        } else if (info->ndim == 1 && c.p[-1] != ',') {
          /* "(3)" is an int in Python, not a tuple: numpy would refuse it too */
          return nd__error(ND_ERR_FORMAT, "%s: header: 'shape' (n) must be written (n,)", name);
        }
      }
      have_shape = true;
    } else {
      return nd__error(ND_ERR_FORMAT, "%s: header: unexpected or repeated key '%s'", name, key);
    }
    skip_ws(&c);
    if (c.p < c.end && *c.p == ',') {
      c.p++;
    } else if (c.p >= c.end || *c.p != '}') {
      return nd__error(ND_ERR_FORMAT, "%s: header: expected ',' or '}' after '%s'", name, key);
    }
  }
  skip_ws(&c);
  if (c.p != c.end) return nd__error(ND_ERR_FORMAT, "%s: header: characters after the closing '}'", name);
  if (!have_descr || !have_fortran || !have_shape)
    return nd__error(ND_ERR_FORMAT, "%s: header lacks %s", name,
                     !have_descr ? "'descr'" : !have_fortran ? "'fortran_order'" : "'shape'");
  if (fortran)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: fortran_order is True; only C-order arrays are supported", name);
  if (strcmp(descr, "<f4") == 0 || strcmp(descr, ">f4") == 0 || strcmp(descr, "<f8") == 0 ||
      strcmp(descr, ">f8") == 0) {
    info->big = descr[0] == '>';
    info->esize = descr[2] - '0';
  } else if (allow_u8 && (strcmp(descr, "|u1") == 0 || strcmp(descr, "<u1") == 0 || strcmp(descr, ">u1") == 0)) {
    info->esize = 1;
  } else {
    return nd__error(ND_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (float32 '<f4' or float64 '<f8' are)", name,
                     descr);
  }
  for (int i = info->ndim; i < ND_ARRAY_MAX_DIMS; i++) info->shape[i] = 1;
  info->data_off = pre + hlen;
  size_t have = len - info->data_off;
  uint64_t bytes;
  char shp[160];
  nd__shape_str(info->ndim, info->shape, shp, sizeof shp);
  if (!nd__shape_bytes(info->ndim, info->shape, (size_t)info->esize, UINT64_MAX / 2, &info->numel, &bytes))
    return nd__error(ND_ERR_FORMAT, "%s: header: shape %s: the sizes overflow (product above 2^59)", name, shp);
  if (bytes != have)
    return nd__error(ND_ERR_FORMAT, "%s: %sheader says %s of %s = %llu bytes of data, file has %zu", name,
                     bytes > have ? "truncated: " : "", shp, descr, (unsigned long long)bytes, have);
  return ND_OK;
}

/* Element i of the data as double. */
static double load_elem(const unsigned char *p, const npy_info *in, int64_t i) {
  unsigned char tmp[8];
  memcpy(tmp, p + (size_t)i * (size_t)in->esize, (size_t)in->esize);
  if (in->big == nd__little_endian()) nd__byteswap(tmp, 1, (size_t)in->esize);
  if (in->esize == 4) {
    float f;
    memcpy(&f, tmp, 4);
    return f;
  }
  double d;
  memcpy(&d, tmp, 8);
  return d;
}

nd_status nd_npy_parse(const void *buf, size_t len, const char *name, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "npy_parse: out is NULL");
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  npy_info in;
  ND_TRY(parse_header(buf, len, name, false, &in));
  if (in.ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: %d dimensions, nd_tensor holds at most %d", name, in.ndim, ND_MAX_DIMS);
  ND_TRY(nd_tensor_alloc(out, in.ndim, in.shape));
  const unsigned char *p = (const unsigned char *)buf + in.data_off;
  if (in.esize == 4 && in.big != nd__little_endian()) {
    if (in.numel) memcpy(out->data, p, (size_t)in.numel * 4);
  } else {
    for (int64_t i = 0; i < in.numel; i++) out->data[i] = (float)load_elem(p, &in, i);
  }
  return ND_OK;
}

nd_status nd_npy_parse_f64(const void *buf, size_t len, const char *name, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "npy_parse_f64: out is NULL");
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  npy_info in;
  ND_TRY(parse_header(buf, len, name, false, &in));
  double *d = malloc(in.numel ? (size_t)in.numel * sizeof(double) : 1);
  if (!d) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %lld doubles", name, (long long)in.numel);
  const unsigned char *p = (const unsigned char *)buf + in.data_off;
  for (int64_t i = 0; i < in.numel; i++) d[i] = load_elem(p, &in, i);
  out->dtype = ND_DTYPE_F64;
  out->ndim = in.ndim;
  memcpy(out->shape, in.shape, sizeof out->shape);
  out->numel = in.numel;
  out->data = d;
  return ND_OK;
}

nd_status nd__npy_parse_typed(const void *buf, size_t len, const char *name, nd_array *out) {
  memset(out, 0, sizeof *out);
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  npy_info in;
  ND_TRY(parse_header(buf, len, name, true, &in));
  size_t bytes = (size_t)in.numel * (size_t)in.esize;
  void *d = malloc(bytes ? bytes : 1);
  if (!d) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, bytes);
  if (bytes) memcpy(d, (const unsigned char *)buf + in.data_off, bytes);
  if (in.esize > 1 && in.big == nd__little_endian()) nd__byteswap(d, in.numel, (size_t)in.esize);
  out->dtype = in.esize == 1 ? ND_DTYPE_U8 : in.esize == 4 ? ND_DTYPE_F32 : ND_DTYPE_F64;
  out->ndim = in.ndim;
  memcpy(out->shape, in.shape, sizeof out->shape);
  out->numel = in.numel;
  out->data = d;
  return ND_OK;
}

nd_status nd_npy_read(const char *path, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "npy_read: out is NULL");
  memset(out, 0, sizeof *out);
  unsigned char *buf;
  size_t len;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = nd_npy_parse(buf, len, path, out);
  free(buf);
  return s;
}

nd_status nd_npy_read_f64(const char *path, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "npy_read_f64: out is NULL");
  memset(out, 0, sizeof *out);
  unsigned char *buf;
  size_t len;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = nd_npy_parse_f64(buf, len, path, out);
  free(buf);
  return s;
}

/* Magic, version, length and the padded dict, as numpy >= 1.14 writes them
 * (total header a multiple of 64 bytes). */
nd_status nd__npy_write_header(nd__afile *f, const char *descr, int ndim, const int64_t *shape) {
  char dict[64 + 24 * ND_ARRAY_MAX_DIMS];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < ndim; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
  n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
  size_t body = (size_t)n + 1; /* + '\n' */
  size_t pad = (64 - (10 + body) % 64) % 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((body + pad) & 0xff),
                           (unsigned char)((body + pad) >> 8)};
  nd__afile_write(f, pre, 10);
  nd__afile_write(f, dict, (size_t)n);
  for (size_t i = 0; i < pad; i++) nd__afile_write(f, " ", 1);
  return nd__afile_write(f, "\n", 1);
}

nd_status nd_npy_write(const char *path, const nd_tensor *t) {
  if (!path || !t) return nd__error(ND_ERR_INVALID_ARG, "npy_write: NULL path or tensor");
  if (nd__tensor_check(t, path, "tensor") != ND_OK) return ND_ERR_INVALID_ARG;
  if (!nd__little_endian() && !nd_tensor_is_contiguous(t))
    return nd__error(ND_ERR_UNSUPPORTED, "%s: strided tensors on a big-endian host", path);
  nd__afile f;
  ND_TRY(nd__afile_open(&f, path));
  nd__npy_write_header(&f, nd__little_endian() ? "<f4" : ">f4", t->ndim, t->shape);
  nd__afile_write_tensor(&f, t);
  return nd__afile_commit(&f);
}

nd_status nd_npy_write_f64(const char *path, int ndim, const int64_t *shape, const double *data) {
  if (!path || (ndim > 0 && !shape)) return nd__error(ND_ERR_INVALID_ARG, "npy_write_f64: NULL path or shape");
  if (ndim < 0 || ndim > ND_ARRAY_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %d dimensions, at most %d supported", path, ndim, ND_ARRAY_MAX_DIMS);
  int64_t numel;
  if (!nd__shape_bytes(ndim, shape, 8, SIZE_MAX / 2, &numel, NULL))
    return nd__error(ND_ERR_INVALID_ARG, "%s: negative or overflowing shape", path);
  if (numel && !data) return nd__error(ND_ERR_INVALID_ARG, "%s: data is NULL", path);
  nd__afile f;
  ND_TRY(nd__afile_open(&f, path));
  nd__npy_write_header(&f, nd__little_endian() ? "<f8" : ">f8", ndim, shape);
  nd__afile_write(&f, data, (size_t)numel * 8);
  return nd__afile_commit(&f);
}
