/* What a file is, and tensor files whatever their format (see
 * include/neurodyn/tensorfile.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_internal.h"
#include "neurodyn/tensorfile.h"

/* ---------------------------------------------------------------- names */

static const struct {
  const char *name, *phrase;
} formats[ND_FILE_FORMAT_COUNT_] = {
    [ND_FILE_UNKNOWN] = {"unknown", "binary data of unknown format"},
    [ND_FILE_MISSING] = {"missing", "missing (no such file)"},
    [ND_FILE_DIRECTORY] = {"directory", "a directory"},
    [ND_FILE_SPECIAL] = {"special file", "not a regular file (a FIFO, socket or device)"},
    [ND_FILE_UNREADABLE] = {"unreadable", "a file that cannot be read"},
    [ND_FILE_EMPTY] = {"empty", "an empty file"},
    [ND_FILE_IDX] = {"IDX", "an IDX file"},
    [ND_FILE_IDX_GZ] = {"IDX (gzip)", "a gzip-compressed IDX file"},
    [ND_FILE_NPY] = {"NPY", "an NPY array"},
    [ND_FILE_SAFETENSORS] = {"safetensors", "a safetensors file"},
    [ND_FILE_PNG] = {"PNG", "a PNG image"},
    [ND_FILE_GZIP] = {"gzip", "gzip-compressed data"},
    [ND_FILE_ZIP] = {"zip", "a zip archive (a PyTorch .pth checkpoint is one)"},
    [ND_FILE_PICKLE] = {"pickle", "a Python pickle"},
    [ND_FILE_JSON] = {"JSON", "JSON text"},
    [ND_FILE_JSONL] = {"JSON Lines", "JSON Lines text"},
    [ND_FILE_TEXT] = {"text", "a text file"},
};

const char *nd_file_format_name(nd_file_format f) {
  return (unsigned)f < ND_FILE_FORMAT_COUNT_ ? formats[f].name : "unknown";
}

const char *nd_file_format_phrase(nd_file_format f) {
  return (unsigned)f < ND_FILE_FORMAT_COUNT_ ? formats[f].phrase : formats[ND_FILE_UNKNOWN].phrase;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n < k) return false;
  for (size_t i = 0; i < k; i++) {
    char a = s[n - k + i], b = suffix[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

nd_file_format nd_file_format_of_name(const char *path) {
  if (!path) return ND_FILE_UNKNOWN;
  if (ends_with(path, ".npy")) return ND_FILE_NPY;
  if (ends_with(path, ".safetensors")) return ND_FILE_SAFETENSORS;
  if (ends_with(path, ".idx.gz") || ends_with(path, "-ubyte.gz")) return ND_FILE_IDX_GZ;
  if (ends_with(path, ".idx") || ends_with(path, "-ubyte")) return ND_FILE_IDX;
  if (ends_with(path, ".png")) return ND_FILE_PNG;
  if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson")) return ND_FILE_JSONL;
  if (ends_with(path, ".json")) return ND_FILE_JSON;
  if (ends_with(path, ".gz")) return ND_FILE_GZIP;
  if (ends_with(path, ".pth") || ends_with(path, ".pt") || ends_with(path, ".zip")) return ND_FILE_ZIP;
  if (ends_with(path, ".pkl") || ends_with(path, ".pickle")) return ND_FILE_PICKLE;
  if (ends_with(path, ".txt") || ends_with(path, ".csv") || ends_with(path, ".md") || ends_with(path, ".log"))
    return ND_FILE_TEXT;
  return ND_FILE_UNKNOWN;
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Text: no NUL and no control bytes but tab, newline, carriage return and
 * form feed (UTF-8 bytes >= 0x80 are fine). */
static bool looks_like_text(const unsigned char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' && b[i] != '\f') || b[i] == 0x7f) return false;
  return true;
}

/* JSON Lines: the first two non-blank lines each hold one object ({ ... }). */
static bool looks_like_jsonl(const unsigned char *b, size_t n) {
  int objects = 0;
  size_t i = 0;
  while (i < n && objects < 2) {
    while (i < n && is_space(b[i])) i++;
    if (i >= n) break;
    if (b[i] != '{') return false;
    size_t e = i;
    while (e < n && b[e] != '\n') e++;
    if (e >= n) return objects >= 1; /* a line cut by the prefix */
    size_t last = e;
    while (last > i && is_space(b[last - 1])) last--;
    if (last == i || b[last - 1] != '}') return false;
    objects++;
    i = e + 1;
  }
  return objects >= 2;
}

nd_file_format nd_file_format_of_bytes(const void *buf, size_t len) {
  const unsigned char *b = buf;
  if (!b || len == 0) return ND_FILE_EMPTY;
  if (len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return ND_FILE_PNG;
  if (len >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) return ND_FILE_NPY;
  if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b) return ND_FILE_GZIP;
  if (len >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6)))
    return ND_FILE_ZIP;
  if (len >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return ND_FILE_PICKLE;
  /* safetensors: a little-endian u64 header length that fits the file (or
   * the prefix we were given, when it is the first 4096 bytes or more), then
   * the header's opening brace. */
  if (len >= 9 && b[8] == '{') {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n >= 2 && n <= 100000000 && (n <= len - 8 || len >= 4096)) return ND_FILE_SAFETENSORS;
  }
  /* IDX: 00 00, a known element type, 1 to 8 dimensions. */
  if (len >= 4 && b[0] == 0 && b[1] == 0 &&
      (b[2] == 0x08 || b[2] == 0x09 || b[2] == 0x0B || b[2] == 0x0C || b[2] == 0x0D || b[2] == 0x0E) && b[3] >= 1 &&
      b[3] <= 8)
    return ND_FILE_IDX;
  if (looks_like_text(b, len)) {
    size_t i = 0;
    if (len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0) i = 3; /* UTF-8 byte order mark */
    while (i < len && is_space(b[i])) i++;
    if (i < len && b[i] == '{' && looks_like_jsonl(b + i, len - i)) return ND_FILE_JSONL;
    if (i < len && (b[i] == '{' || b[i] == '[')) return ND_FILE_JSON;
    return ND_FILE_TEXT;
  }
  return ND_FILE_UNKNOWN;
}

/* The content's verdict, refined by the name: gzip named as IDX is IDX
 * inside gzip; content of no known format falls back to the name. */
static nd_file_format decide(const char *path, nd_file_format by_content) {
  nd_file_format by_name = nd_file_format_of_name(path);
  if (by_content == ND_FILE_GZIP && by_name == ND_FILE_IDX_GZ) return ND_FILE_IDX_GZ;
  if (by_content == ND_FILE_UNKNOWN) return by_name;
  return by_content;
}

/* What stat says, or ND_FILE_UNKNOWN for a regular file. */
static nd_file_format kind_of_stat(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno == ENOENT || errno == ENOTDIR ? ND_FILE_MISSING : ND_FILE_UNREADABLE;
  if (S_ISDIR(st.st_mode)) return ND_FILE_DIRECTORY;
  if (!S_ISREG(st.st_mode)) return ND_FILE_SPECIAL;
  if (st.st_size == 0) return ND_FILE_EMPTY;
  return ND_FILE_UNKNOWN;
}

nd_file_format nd_file_sniff(const char *path) {
  if (!path) return ND_FILE_MISSING;
  nd_file_format k = kind_of_stat(path);
  if (k != ND_FILE_UNKNOWN) return k;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ND_FILE_UNREADABLE;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { /* replaced since the stat */
    close(fd);
    return ND_FILE_SPECIAL;
  }
  unsigned char buf[4096];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t r = read(fd, buf + got, sizeof buf - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  return decide(path, nd_file_format_of_bytes(buf, got));
}

const char *nd_file_kind(const char *path) { return nd_file_format_phrase(nd_file_sniff(path)); }

/* ---------------------------------------------------------------- reading */

void nd_tensor_file_release(nd_tensor_file *t) {
  if (!t) return;
  for (int i = 0; i < t->n; i++) {
    if (t->names) free(t->names[i]);
    if (t->arrays) nd_array_release(&t->arrays[i]);
  }
  if (t->meta)
    for (int i = 0; i < 2 * t->n_meta; i++) free(t->meta[i]);
  free(t->meta);
  free(t->names);
  free(t->arrays);
  memset(t, 0, sizeof *t);
}

static nd_status alloc_slots(nd_tensor_file *t, int n, const char *path) {
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

/* f4 or f8 from the header of an NPY buffer that nd_npy_parse_f64 accepted
 * (it has checked that 'descr' is one of <f4 >f4 <f8 >f8). */
static bool npy_is_f64(const unsigned char *buf, size_t len) {
  size_t start = len > 6 && buf[6] == 1 ? 10 : 12;
  for (size_t i = start; i + 7 < len && i < start + 65536; i++)
    if (memcmp(buf + i, "'descr'", 7) == 0 || memcmp(buf + i, "\"descr\"", 7) == 0) {
      const unsigned char *d = buf + i + 7, *end = buf + len;
      while (d < end && *d != '\'' && *d != '"') d++;
      return d + 3 < end && d[3] == '8';
    }
  return false;
}

/* An NPY buffer as an array of its own dtype (f32 or f64). */
static nd_status npy_array(const unsigned char *buf, size_t len, const char *path, nd_array *out) {
  ND_TRY(nd_npy_parse_f64(buf, len, path, out));
  if (npy_is_f64(buf, len)) return ND_OK;
  /* '<f4' read as float64: narrow back (exact). */
  float *f = malloc((size_t)(out->numel > 0 ? out->numel : 1) * sizeof *f);
  if (!f) {
    nd_array_release(out);
    return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
  }
  const double *d = out->data;
  for (int64_t i = 0; i < out->numel; i++) f[i] = (float)d[i];
  free(out->data);
  out->data = f;
  out->dtype = ND_DTYPE_F32;
  return ND_OK;
}

/* "a, b, c" (at most 8 names, then ", ...") into buf. */
static void list_names(const nd_safetensors *st, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  int n = nd_safetensors_count(st);
  for (int i = 0; i < n && at + 1 < len; i++) {
    int k = i == 8 ? snprintf(buf + at, len - at, ", ...")
                   : snprintf(buf + at, len - at, "%s\"%s\"", i ? ", " : "", nd_safetensors_name(st, i));
    if (k < 0) break;
    at += (size_t)k < len - at ? (size_t)k : len - at - 1;
    if (i == 8) break;
  }
}

/* Reads path whole after checking it is a regular file; a directory or
 * special file is refused with "is <kind>, expected <what>". */
static nd_status read_checked(const char *path, const char *expected, unsigned char **buf, size_t *len) {
  nd_file_format k = kind_of_stat(path);
  if (k == ND_FILE_DIRECTORY || k == ND_FILE_SPECIAL)
    return nd__error(ND_ERR_INVALID_ARG, "%s: is %s, expected %s", path, nd_file_format_phrase(k), expected);
  return nd__read_file(path, buf, len);
}

static nd_status wrong_kind(const char *path, nd_file_format f, const char *expected) {
  return nd__error(ND_ERR_FORMAT, "%s: is %s, expected %s", path, nd_file_format_phrase(f), expected);
}

static const char *const expect_one = "a safetensors or NPY tensor file";
static const char *const expect_any = "an IDX, NPY or safetensors file";

nd_status nd_tensor_file_read(const char *path, const char *name, nd_array *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return nd__error(ND_ERR_INVALID_ARG, "tensor_file_read: NULL %s", path ? "out" : "path");
  unsigned char *buf = NULL;
  size_t len = 0;
  ND_TRY(read_checked(path, expect_one, &buf, &len));
  nd_file_format f = decide(path, nd_file_format_of_bytes(buf, len));
  nd_status s;
  if (f == ND_FILE_NPY) {
    s = npy_array(buf, len, path, out);
  } else if (f == ND_FILE_SAFETENSORS) {
    nd_safetensors *st = NULL;
    s = nd_safetensors_parse(buf, len, path, &st);
    if (s == ND_OK) {
      int n = nd_safetensors_count(st);
      char names[512];
      list_names(st, names, sizeof names);
      if (name) {
        if (nd_safetensors_info(st, name, NULL, NULL, NULL) != ND_OK)
          s = nd__error(ND_ERR_NOT_FOUND, "%s: no tensor named \"%s\" (the file holds %s)", path, name,
                        n ? names : "no tensors");
        else
          s = nd_safetensors_get_array(st, name, out);
      } else if (n == 1) {
        s = nd_safetensors_get_array(st, nd_safetensors_name(st, 0), out);
      } else if (n == 0) {
        s = nd__error(ND_ERR_FORMAT, "%s: holds no tensors", path);
      } else {
        s = nd__error(ND_ERR_INVALID_ARG, "%s: holds %d tensors (%s); say which one to read", path, n, names);
      }
    }
    nd_safetensors_free(st);
  } else {
    s = wrong_kind(path, f, expect_one);
  }
  free(buf);
  if (s != ND_OK) nd_array_release(out);
  return s;
}

nd_status nd_tensor_file_read_f32(const char *path, const char *name, nd_tensor *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor_file_read_f32: out is NULL");
  nd_array a;
  ND_TRY(nd_tensor_file_read(path, name, &a));
  nd_status s = nd_array_to_tensor(&a, out);
  nd_array_release(&a);
  return s;
}

static nd_status load_buffer(const char *path, const unsigned char *buf, size_t len, nd_tensor_file *t) {
  nd_file_format f = decide(path, nd_file_format_of_bytes(buf, len));
  /* gzip of an unnamed kind: IDX is the only gzip content read here, and
   * the IDX reader says what is wrong when it is not one. */
  if (f == ND_FILE_GZIP) {
    nd_file_format by_name = nd_file_format_of_name(path);
    if (by_name == ND_FILE_GZIP || by_name == ND_FILE_UNKNOWN) f = ND_FILE_IDX_GZ;
  }
  switch (f) {
    case ND_FILE_IDX:
    case ND_FILE_IDX_GZ: {
      t->format = ND_FILE_IDX;
      ND_TRY(alloc_slots(t, 1, path));
      t->names[0] = strdup("data");
      if (!t->names[0]) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
      return nd_idx_parse(buf, len, path, &t->arrays[0]);
    }
    case ND_FILE_NPY: {
      t->format = ND_FILE_NPY;
      ND_TRY(alloc_slots(t, 1, path));
      t->names[0] = stem_of(path);
      if (!t->names[0]) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
      return npy_array(buf, len, path, &t->arrays[0]);
    }
    case ND_FILE_SAFETENSORS: {
      t->format = ND_FILE_SAFETENSORS;
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
    case ND_FILE_ZIP: return nd_pth_parse(buf, len, path, t);
    case ND_FILE_PICKLE:
      return nd__error(ND_ERR_UNSUPPORTED,
                       "%s: is a bare pickle (PyTorch's legacy pre-1.6 torch.save format), which is not read: "
                       "save it again with a current PyTorch (torch.save(torch.load(f), f2)) to get the zip format",
                       path);
    default: return wrong_kind(path, f, expect_any);
  }
}

nd_status nd_tensor_file_parse(const void *buf, size_t len, const char *name, nd_tensor_file *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!buf && len) || !name)
    return nd__error(ND_ERR_INVALID_ARG, "tensor_file_parse: NULL %s", !out ? "out" : !name ? "name" : "buffer");
  nd_status s = load_buffer(name, buf ? buf : (const void *)"", len, out);
  if (s != ND_OK) nd_tensor_file_release(out);
  return s;
}

nd_status nd_tensor_file_load(const char *path, nd_tensor_file *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return nd__error(ND_ERR_INVALID_ARG, "tensor_file_load: NULL %s", path ? "out" : "path");
  unsigned char *buf = NULL;
  size_t len = 0;
  ND_TRY(read_checked(path, expect_any, &buf, &len));
  nd_status s = load_buffer(path, buf, len, out);
  free(buf);
  if (s != ND_OK) nd_tensor_file_release(out);
  return s;
}
