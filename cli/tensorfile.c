/* Tensor files for `inspect` and `convert` (see tensorfile.h). */
#include "tensorfile.h"

#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

const char *nd_cli_format_name(nd_cli_format f) {
  switch (f) {
    case ND_FMT_IDX: return "IDX";
    case ND_FMT_NPY: return "NPY";
    case ND_FMT_SAFETENSORS: return "safetensors";
    default: return "unknown";
  }
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

nd_cli_format nd_cli_format_of_name(const char *path) {
  if (ends_with(path, ".npy")) return ND_FMT_NPY;
  if (ends_with(path, ".safetensors")) return ND_FMT_SAFETENSORS;
  if (ends_with(path, ".idx") || ends_with(path, ".idx.gz") || ends_with(path, "-ubyte") ||
      ends_with(path, "-ubyte.gz"))
    return ND_FMT_IDX;
  return ND_FMT_UNKNOWN;
}

nd_cli_format nd_cli_format_of_bytes(const unsigned char *buf, size_t len) {
  if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) return ND_FMT_NPY;
  if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) return ND_FMT_IDX;
  if (len >= 4 && buf[0] == 0 && buf[1] == 0) return ND_FMT_IDX;
  if (len >= 9 && buf[8] == '{') return ND_FMT_SAFETENSORS;
  return ND_FMT_UNKNOWN;
}

nd_dtype nd_cli_npy_dtype(const unsigned char *buf, size_t len) {
  /* The header dict follows the 10-byte (v1) or 12-byte (v2, v3) preamble;
   * nd_npy_parse has already checked that 'descr' is one of <f4 >f4 <f8 >f8. */
  size_t start = len > 6 && buf[6] == 1 ? 10 : 12;
  const char *d = NULL;
  for (size_t i = start; i + 7 < len && i < start + 65536; i++)
    if (memcmp(buf + i, "'descr'", 7) == 0 || memcmp(buf + i, "\"descr\"", 7) == 0) {
      d = (const char *)buf + i + 7;
      break;
    }
  if (d) {
    const char *end = (const char *)buf + len;
    while (d < end && *d != '\'' && *d != '"') d++;
    if (d + 3 < end && d[3] == '8') return ND_DTYPE_F64;
  }
  return ND_DTYPE_F32;
}

void nd_cli_tensors_free(nd_cli_tensors *t) {
  if (!t) return;
  for (int i = 0; i < t->n; i++) {
    if (t->names) free(t->names[i]);
    if (t->arrays) nd_array_release(&t->arrays[i]);
  }
  for (int i = 0; i < 2 * t->n_meta; i++) free(t->meta[i]);
  free(t->meta);
  free(t->names);
  free(t->arrays);
  memset(t, 0, sizeof *t);
}

static nd_status alloc_slots(nd_cli_tensors *t, int n, const char *path) {
  t->names = calloc((size_t)(n > 0 ? n : 1), sizeof *t->names);
  t->arrays = calloc((size_t)(n > 0 ? n : 1), sizeof *t->arrays);
  if (!t->names || !t->arrays) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
  t->n = n;
  return ND_OK;
}

static char *stem_of(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  const char *dot = strrchr(base, '.');
  if (dot && dot != base) n = (size_t)(dot - base);
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, base, n);
    s[n] = '\0';
  }
  return s;
}

/* Narrows a float64 array read from an '<f4' file back to float32 (exact). */
static nd_status narrow_f32(nd_array *a, const char *path) {
  float *f = malloc((size_t)(a->numel > 0 ? a->numel : 1) * sizeof *f);
  if (!f) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
  const double *d = a->data;
  for (int64_t i = 0; i < a->numel; i++) f[i] = (float)d[i];
  free(a->data);
  a->data = f;
  a->dtype = ND_DTYPE_F32;
  return ND_OK;
}

static nd_status read_buffer(const char *path, const unsigned char *buf, size_t len, nd_cli_tensors *t) {
  nd_cli_format f = nd_cli_format_of_name(path);
  if (f == ND_FMT_UNKNOWN) f = nd_cli_format_of_bytes(buf, len);
  t->format = f;
  switch (f) {
    case ND_FMT_IDX: {
      ND_TRY(alloc_slots(t, 1, path));
      t->names[0] = strdup("data");
      if (!t->names[0]) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
      return nd_idx_parse(buf, len, path, &t->arrays[0]);
    }
    case ND_FMT_NPY: {
      ND_TRY(alloc_slots(t, 1, path));
      t->names[0] = stem_of(path);
      if (!t->names[0]) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
      ND_TRY(nd_npy_parse_f64(buf, len, path, &t->arrays[0]));
      if (nd_cli_npy_dtype(buf, len) == ND_DTYPE_F32) return narrow_f32(&t->arrays[0], path);
      return ND_OK;
    }
    case ND_FMT_SAFETENSORS: {
      nd_safetensors *st = NULL;
      ND_TRY(nd_safetensors_parse(buf, len, path, &st));
      nd_status s = alloc_slots(t, nd_safetensors_count(st), path);
      for (int i = 0; s == ND_OK && i < t->n; i++) {
        t->names[i] = strdup(nd_safetensors_name(st, i));
        if (!t->names[i]) s = nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
        if (s == ND_OK) s = nd_safetensors_get_array(st, t->names[i], &t->arrays[i]);
      }
      int nm = nd_safetensors_metadata_count(st);
      if (s == ND_OK && nm > 0) {
        t->meta = calloc((size_t)(2 * nm + 1), sizeof *t->meta); /* NULL-terminated */
        if (!t->meta) s = nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
        for (int i = 0; s == ND_OK && i < nm; i++) {
          const char *k = nd_safetensors_metadata_key(st, i);
          const char *v = nd_safetensors_metadata(st, k);
          t->meta[2 * i] = strdup(k);
          t->meta[2 * i + 1] = strdup(v ? v : "");
          t->n_meta = i + 1;
          if (!t->meta[2 * i] || !t->meta[2 * i + 1]) s = nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
        }
      }
      nd_safetensors_free(st);
      return s;
    }
    default:
      return nd__error(ND_ERR_FORMAT,
                       "%s: not an IDX, NPY or safetensors file (unrecognised name and first bytes)", path);
  }
}

nd_status nd_cli_tensors_read(const char *path, nd_cli_tensors *out) {
  memset(out, 0, sizeof *out);
  unsigned char *buf = NULL;
  size_t len = 0;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = read_buffer(path, buf, len, out);
  free(buf);
  if (s != ND_OK) nd_cli_tensors_free(out);
  return s;
}
