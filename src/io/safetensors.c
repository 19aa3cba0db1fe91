/* safetensors reader and writer.
 *
 * Format (https://github.com/huggingface/safetensors, README "Format"):
 *   8 bytes   N, unsigned little-endian: length of the header
 *   N bytes   JSON object, UTF-8, may be padded with spaces:
 *             {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 *              "__metadata__": {"key": "value"}}
 *   rest      byte buffer; data_offsets [begin, end) are relative to its start,
 *             elements little-endian, row-major.
 * The reader applies the reference implementation's checks: header starts
 * with '{', N <= 100 MB and inside the file, every tensor's byte length equals
 * numel * dtype size, and the tensors sorted by offset tile the buffer with
 * no gap and no overlap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/io_internal.h"

#define ST_MAX_HEADER 100000000u
/* Tensors and metadata entries a header may hold (each).  A 100 MB header
 * has room for about 1.8 million zero-size tensors, so this only bounds what
 * the header size already bounds; duplicate checks and lookups by name sort
 * an index once (n log n) and binary-search it. */
#define ST_MAX_ENTRIES 2097152

typedef struct st_entry {
  char *name;
  nd_dtype dtype;
  int ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  int64_t numel;
  uint64_t begin, end;
} st_entry;

struct nd_safetensors {
  char *source;              /* file name for messages */
  unsigned char *owned;      /* buffer that holds data */
  const unsigned char *data; /* start of the byte buffer */
  size_t data_len;
  int n;
  st_entry *e;   /* sorted by begin */
  int *by_name;  /* indices into e, sorted by name */
  int n_meta;
  char **meta_k; /* file order */
  char **meta_v;
  int *meta_by_key; /* indices into meta_k, sorted by key */
};

static const struct {
  const char *name;
  nd_dtype dtype;
} st_dtypes[] = {
    {"F64", ND_DTYPE_F64}, {"F32", ND_DTYPE_F32}, {"F16", ND_DTYPE_F16}, {"BF16", ND_DTYPE_BF16},
    {"I64", ND_DTYPE_I64}, {"I32", ND_DTYPE_I32}, {"I16", ND_DTYPE_I16}, {"I8", ND_DTYPE_I8},
    {"U8", ND_DTYPE_U8},   {"BOOL", ND_DTYPE_BOOL},
};
/* Valid in the format but not readable here. */
static const char *const st_unsupported[] = {"U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3",
                                             "F6_E3M2", "F4", "C64"};

static const char *st_dtype_str(nd_dtype t) {
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (st_dtypes[i].dtype == t) return st_dtypes[i].name;
  return NULL;
}

void nd_safetensors_free(nd_safetensors *st) {
  if (!st) return;
  for (int i = 0; i < st->n; i++) free(st->e[i].name);
  for (int i = 0; i < st->n_meta; i++) {
    free(st->meta_k[i]);
    free(st->meta_v[i]);
  }
  free(st->e);
  free(st->by_name);
  free(st->meta_by_key);
  free(st->meta_k);
  free(st->meta_v);
  free(st->owned);
  free(st->source);
  free(st);
}

static char *dupstr(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* Non-negative integer below 2^53 stored in a JSON number. */
static bool json_uint(const cJSON *j, uint64_t *v) {
  if (!cJSON_IsNumber(j)) return false;
  double d = j->valuedouble;
  if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || floor(d) != d) return false;
  *v = (uint64_t)d;
  return true;
}

static int cmp_entry_offset(const void *a, const void *b) {
  const st_entry *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Index sort: by name (ties by position, so the order is total). */
typedef struct {
  const char *const *names; /* names[i] of item i, or NULL with entries */
  const st_entry *entries;
} name_ctx;
static _Thread_local name_ctx sort_ctx;

static const char *item_name(int i) {
  return sort_ctx.entries ? sort_ctx.entries[i].name : sort_ctx.names[i];
}
static int cmp_index(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  int c = strcmp(item_name(x), item_name(y));
  return c ? c : (x > y) - (x < y);
}

/* Sorted index of n names; the first duplicate's name in *dup (NULL if none). */
static int *sorted_index(int n, const char *const *names, const st_entry *entries, const char **dup) {
  int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
  *dup = NULL;
  if (!idx) return NULL;
  for (int i = 0; i < n; i++) idx[i] = i;
  sort_ctx = (name_ctx){names, entries};
  qsort(idx, (size_t)n, sizeof *idx, cmp_index);
  for (int i = 1; i < n && !*dup; i++)
    if (!strcmp(item_name(idx[i - 1]), item_name(idx[i]))) *dup = item_name(idx[i]);
  sort_ctx = (name_ctx){NULL, NULL};
  return idx;
}

/* Binary search of an index made by sorted_index; -1 if absent. */
static int find_sorted(const int *idx, int n, const char *const *names, const st_entry *entries, const char *key) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    const char *m = entries ? entries[idx[mid]].name : names[idx[mid]];
    int c = strcmp(m, key);
    if (c == 0) return idx[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

static nd_status parse_metadata(nd_safetensors *st, const cJSON *m, const char *name) {
  if (cJSON_IsNull(m)) return ND_OK;
  if (!cJSON_IsObject(m)) return nd__error(ND_ERR_FORMAT, "%s: \"__metadata__\" is not an object", name);
  int count = cJSON_GetArraySize(m);
  if (count > ST_MAX_ENTRIES)
    return nd__error(ND_ERR_FORMAT, "%s: %d metadata entries, more than the limit of %d", name, count, ST_MAX_ENTRIES);
  st->meta_k = calloc((size_t)count + 1, sizeof *st->meta_k);
  st->meta_v = calloc((size_t)count + 1, sizeof *st->meta_v);
  if (!st->meta_k || !st->meta_v) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate metadata", name);
  for (const cJSON *kv = m->child; kv; kv = kv->next) {
    if (!cJSON_IsString(kv) || !kv->valuestring)
      return nd__error(ND_ERR_FORMAT, "%s: metadata value of \"%s\" is not a string", name,
                       kv->string ? kv->string : "");
    st->meta_k[st->n_meta] = dupstr(kv->string);
    st->meta_v[st->n_meta] = dupstr(kv->valuestring);
    if (!st->meta_k[st->n_meta] || !st->meta_v[st->n_meta]) {
      free(st->meta_k[st->n_meta]);
      free(st->meta_v[st->n_meta]);
      st->meta_k[st->n_meta] = st->meta_v[st->n_meta] = NULL;
      return nd__error(ND_ERR_NOMEM, "%s: cannot allocate metadata", name);
    }
    st->n_meta++;
  }
  const char *dup;
  st->meta_by_key = sorted_index(st->n_meta, (const char *const *)st->meta_k, NULL, &dup);
  if (!st->meta_by_key) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the metadata index", name);
  if (dup) return nd__error(ND_ERR_FORMAT, "%s: metadata key \"%s\" appears twice", name, dup);
  return ND_OK;
}

static nd_status parse_entry(st_entry *e, const cJSON *t, const char *name) {
  const char *tn = t->string;
  if (!cJSON_IsObject(t)) return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", name, tn);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
  if (!cJSON_IsString(dt) || !dt->valuestring)
    return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": \"dtype\" missing or not a string", name, tn);
  bool known = false;
  for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
    if (strcmp(dt->valuestring, st_dtypes[i].name) == 0) {
      e->dtype = st_dtypes[i].dtype;
      known = true;
    }
  if (!known) {
    for (size_t i = 0; i < sizeof st_unsupported / sizeof st_unsupported[0]; i++)
      if (strcmp(dt->valuestring, st_unsupported[i]) == 0)
        return nd__error(ND_ERR_UNSUPPORTED,
                         "%s: tensor \"%s\": dtype %s is not supported (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL are)",
                         name, tn, st_unsupported[i]);
    return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%.32s\"", name, tn, dt->valuestring);
  }
  if (!cJSON_IsArray(sh)) return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": \"shape\" missing or not a list", name, tn);
  int nd = cJSON_GetArraySize(sh);
  if (nd > ND_ARRAY_MAX_DIMS)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: tensor \"%s\" has %d dimensions, at most %d supported", name, tn, nd,
                     ND_ARRAY_MAX_DIMS);
  e->ndim = nd;
  for (int i = 0; i < ND_ARRAY_MAX_DIMS; i++) e->shape[i] = 1;
  int i = 0;
  for (const cJSON *d = sh->child; d; d = d->next, i++) {
    uint64_t v;
    if (!json_uint(d, &v))
      return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": shape entry %d is not a non-negative integer", name, tn, i);
    e->shape[i] = (int64_t)v;
  }
  if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &e->begin) ||
      !json_uint(off->child->next, &e->end))
    return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": \"data_offsets\" must be two non-negative integers", name, tn);
  if (e->end < e->begin)
    return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin", name, tn,
                     (unsigned long long)e->begin, (unsigned long long)e->end);
  uint64_t bytes;
  char shp[160];
  nd__shape_str(e->ndim, e->shape, shp, sizeof shp);
  if (!nd__shape_bytes(e->ndim, e->shape, nd_dtype_size(e->dtype), UINT64_MAX / 2, &e->numel, &bytes))
    return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": shape %s overflows", name, tn, shp);
  if (bytes != e->end - e->begin)
    return nd__error(ND_ERR_FORMAT,
                     "%s: tensor \"%s\": shape %s of %s needs %llu bytes, data_offsets [%llu, %llu] give %llu", name,
                     tn, shp, dt->valuestring, (unsigned long long)bytes, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)(e->end - e->begin));
  e->name = dupstr(tn);
  if (!e->name) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate a tensor name", name);
  return ND_OK;
}

static nd_status parse_header(nd_safetensors *st, const unsigned char *hdr, size_t n, const char *name) {
  /* cJSON wants a NUL-terminated string; the header may not be followed by one. */
  char *text = malloc(n + 1);
  if (!text) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes for the header", name, n);
  memcpy(text, hdr, n);
  text[n] = 0;
  if (memchr(text, 0, n)) {
    free(text);
    return nd__error(ND_ERR_FORMAT, "%s: header contains a NUL byte", name);
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
  nd_status s = ND_OK;
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    size_t pos = at && at >= text && at <= text + n ? (size_t)(at - text) : 0;
    s = nd__error(ND_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %zu)", name, pos, n);
    goto done;
  }
  for (const char *p = end; p && p < text + n; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      s = nd__error(ND_ERR_FORMAT, "%s: header has extra characters after the JSON object (byte %zu of %zu)", name,
                    (size_t)(p - text), n);
      goto done;
    }
  if (!cJSON_IsObject(root)) {
    s = nd__error(ND_ERR_FORMAT, "%s: header is not a JSON object", name);
    goto done;
  }
  int count = cJSON_GetArraySize(root);
  if (count > ST_MAX_ENTRIES + 1) {
    s = nd__error(ND_ERR_FORMAT, "%s: header has %d entries, more than the limit of %d tensors", name, count,
                  ST_MAX_ENTRIES);
    goto done;
  }
  st->e = calloc((size_t)count + 1, sizeof *st->e);
  if (!st->e) {
    s = nd__error(ND_ERR_NOMEM, "%s: cannot allocate %d tensor entries", name, count);
    goto done;
  }
  bool seen_meta = false;
  for (const cJSON *t = root->child; t && s == ND_OK; t = t->next) {
    if (!t->string) {
      s = nd__error(ND_ERR_FORMAT, "%s: header entry without a name", name);
    } else if (strcmp(t->string, "__metadata__") == 0) {
      if (seen_meta)
        s = nd__error(ND_ERR_FORMAT, "%s: \"__metadata__\" appears twice", name);
      else
        s = parse_metadata(st, t, name);
      seen_meta = true;
    } else {
      s = parse_entry(&st->e[st->n], t, name);
      if (s == ND_OK) st->n++;
    }
  }
  /* Duplicate names, found by sorting (the index is rebuilt once the entries
   * are sorted by offset). */
  if (s == ND_OK) {
    const char *dup;
    int *idx = sorted_index(st->n, NULL, st->e, &dup);
    if (!idx)
      s = nd__error(ND_ERR_NOMEM, "%s: cannot allocate the tensor index", name);
    else if (dup)
      s = nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\" appears twice in the header", name, dup);
    free(idx);
  }
done:
  cJSON_Delete(root);
  free(text);
  return s;
}

static nd_status check_layout(nd_safetensors *st, const char *name) {
  qsort(st->e, (size_t)st->n, sizeof *st->e, cmp_entry_offset);
  uint64_t expect = 0;
  for (int i = 0; i < st->n; i++) {
    const st_entry *e = &st->e[i];
    if (e->begin != expect) {
      if (e->begin < expect)
        return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\" at [%llu, %llu] overlaps the previous tensor (ending at %llu)",
                         name, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)expect);
      return nd__error(ND_ERR_FORMAT, "%s: gap in the byte buffer: tensor \"%s\" begins at %llu, expected %llu", name,
                       e->name, (unsigned long long)e->begin, (unsigned long long)expect);
    }
    if (e->end > st->data_len)
      return nd__error(ND_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] past the end of the %zu-byte buffer",
                       name, e->name, (unsigned long long)e->begin, (unsigned long long)e->end, st->data_len);
    expect = e->end;
  }
  if (expect != st->data_len)
    return nd__error(ND_ERR_FORMAT, "%s: the tensors cover %llu bytes of the %zu-byte buffer", name,
                     (unsigned long long)expect, st->data_len);
  return ND_OK;
}

/* Parses buf; if take, st keeps buf (which must be malloc'ed), else the data
 * part is copied. */
static nd_status st_parse(unsigned char *buf, size_t len, const char *name, bool take, nd_safetensors **out) {
  *out = NULL;
  if (len < 8)
    return nd__error(ND_ERR_FORMAT, "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length",
                     name, len);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
  if (n > len - 8)
    return nd__error(ND_ERR_FORMAT, "%s: header length %llu is larger than the %zu bytes that follow it", name,
                     (unsigned long long)n, len - 8);
  if (n > ST_MAX_HEADER)
    return nd__error(ND_ERR_FORMAT, "%s: header length %llu exceeds the 100000000-byte limit", name,
                     (unsigned long long)n);
  if (n < 2 || buf[8] != '{')
    return nd__error(ND_ERR_FORMAT, "%s: header does not start with '{'", name);
  nd_safetensors *st = calloc(1, sizeof *st);
  if (!st) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate", name);
  st->source = dupstr(name);
  st->data_len = len - 8 - (size_t)n;
  nd_status s = st->source ? ND_OK : nd__error(ND_ERR_NOMEM, "%s: cannot allocate", name);
  if (s == ND_OK) s = parse_header(st, buf + 8, (size_t)n, name);
  if (s == ND_OK) s = check_layout(st, name);
  if (s == ND_OK) {
    const char *dup;
    st->by_name = sorted_index(st->n, NULL, st->e, &dup);
    if (!st->by_name) s = nd__error(ND_ERR_NOMEM, "%s: cannot allocate the tensor index", name);
  }
  if (s == ND_OK) {
    if (take) {
      st->owned = buf;
      st->data = buf + 8 + n;
    } else {
      st->owned = malloc(st->data_len ? st->data_len : 1);
      if (!st->owned)
        s = nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, st->data_len);
      else {
        if (st->data_len) memcpy(st->owned, buf + 8 + n, st->data_len);
        st->data = st->owned;
      }
    }
  }
  if (s != ND_OK) {
    nd_safetensors_free(st);
    return s;
  }
  *out = st;
  return ND_OK;
}

nd_status nd_safetensors_parse(const void *buf, size_t len, const char *name, nd_safetensors **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "safetensors_parse: out is NULL");
  *out = NULL;
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  return st_parse((unsigned char *)(uintptr_t)buf, len, name, false, out);
}

nd_status nd_safetensors_read(const char *path, nd_safetensors **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "safetensors_read: out is NULL");
  *out = NULL;
  unsigned char *buf;
  size_t len;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = st_parse(buf, len, path, true, out);
  if (s != ND_OK) free(buf);
  return s;
}

int nd_safetensors_count(const nd_safetensors *st) { return st ? st->n : 0; }

const char *nd_safetensors_name(const nd_safetensors *st, int i) {
  return st && i >= 0 && i < st->n ? st->e[i].name : NULL;
}

static const st_entry *find(const nd_safetensors *st, const char *name) {
  int i = st->by_name ? find_sorted(st->by_name, st->n, NULL, st->e, name) : -1;
  return i >= 0 ? &st->e[i] : NULL;
}

static nd_status lookup(const nd_safetensors *st, const char *name, const st_entry **e) {
  if (!st || !name) return nd__error(ND_ERR_INVALID_ARG, "safetensors: NULL file or tensor name");
  *e = find(st, name);
  if (!*e) return nd__error(ND_ERR_NOT_FOUND, "%s: no tensor named \"%s\" (%d tensors in the file)", st->source, name, st->n);
  return ND_OK;
}

nd_status nd_safetensors_info(const nd_safetensors *st, const char *name, nd_dtype *dtype, int *ndim,
                              int64_t *shape) {
  const st_entry *e;
  ND_TRY(lookup(st, name, &e));
  if (dtype) *dtype = e->dtype;
  if (ndim) *ndim = e->ndim;
  if (shape) memcpy(shape, e->shape, sizeof e->shape);
  return ND_OK;
}

nd_status nd_safetensors_get_array(const nd_safetensors *st, const char *name, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "safetensors_get_array: out is NULL");
  memset(out, 0, sizeof *out);
  const st_entry *e;
  ND_TRY(lookup(st, name, &e));
  size_t bytes = (size_t)(e->end - e->begin);
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes for \"%s\"", st->source, bytes, name);
  if (bytes) memcpy(out->data, st->data + e->begin, bytes);
  out->dtype = e->dtype;
  out->ndim = e->ndim;
  memcpy(out->shape, e->shape, sizeof out->shape);
  out->numel = e->numel;
  if (!nd__little_endian()) nd__byteswap(out->data, e->numel, nd_dtype_size(e->dtype));
  return ND_OK;
}

nd_status nd_safetensors_get(const nd_safetensors *st, const char *name, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "safetensors_get: out is NULL");
  memset(out, 0, sizeof *out);
  const st_entry *e;
  ND_TRY(lookup(st, name, &e));
  if (e->ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: tensor \"%s\" has %d dimensions, nd_tensor holds at most %d", st->source,
                     name, e->ndim, ND_MAX_DIMS);
  if (e->dtype == ND_DTYPE_F32) { /* no intermediate copy */
    ND_TRY(nd_tensor_alloc(out, e->ndim, e->shape));
    if (e->numel) memcpy(out->data, st->data + e->begin, (size_t)e->numel * 4);
    if (!nd__little_endian()) nd__byteswap(out->data, e->numel, 4);
    return ND_OK;
  }
  nd_array a;
  ND_TRY(nd_safetensors_get_array(st, name, &a));
  nd_status s = nd_array_to_tensor(&a, out);
  nd_array_release(&a);
  return s;
}

const char *nd_safetensors_metadata(const nd_safetensors *st, const char *key) {
  if (!st || !key) return NULL;
  int i = st->meta_by_key ? find_sorted(st->meta_by_key, st->n_meta, (const char *const *)st->meta_k, NULL, key) : -1;
  return i >= 0 ? st->meta_v[i] : NULL;
}

int nd_safetensors_metadata_count(const nd_safetensors *st) { return st ? st->n_meta : 0; }

const char *nd_safetensors_metadata_key(const nd_safetensors *st, int i) {
  return st && i >= 0 && i < st->n_meta ? st->meta_k[i] : NULL;
}

/* ---------------------------------------------------------------- writer */

typedef struct st_src {
  const char *name;
  nd_dtype dtype;
  int ndim;
  int64_t shape[ND_ARRAY_MAX_DIMS];
  uint64_t bytes;
  const nd_tensor *t; /* float32 source, or */
  const void *data;   /* contiguous native data */
} st_src;

static int cmp_src(const void *a, const void *b) {
  const st_src *x = a, *y = b;
  size_t sx = nd_dtype_size(x->dtype), sy = nd_dtype_size(y->dtype);
  if (sx != sy) return sx > sy ? -1 : 1; /* larger elements first keeps every tensor aligned */
  return strcmp(x->name, y->name);
}

static cJSON *json_uint_raw(uint64_t v) {
  char num[32];
  snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  return cJSON_CreateRaw(num);
}

static nd_status write_sources(const char *path, int n, st_src *src, const char *const *metadata) {
  nd_status s = ND_OK;
  for (int i = 0; i < n; i++) {
    if (!src[i].name || !src[i].name[0] || strcmp(src[i].name, "__metadata__") == 0)
      return nd__error(ND_ERR_INVALID_ARG, "%s: tensor %d has an empty or reserved name", path, i);
    for (int j = 0; j < i; j++)
      if (strcmp(src[i].name, src[j].name) == 0)
        return nd__error(ND_ERR_INVALID_ARG, "%s: tensor name \"%s\" is used twice", path, src[i].name);
  }
  qsort(src, (size_t)n, sizeof *src, cmp_src);
  cJSON *root = cJSON_CreateObject();
  if (!root) return nd__error(ND_ERR_NOMEM, "%s: cannot build the header", path);
  if (metadata && metadata[0]) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    for (int i = 0; m && metadata[i] && s == ND_OK; i += 2) {
      if (!metadata[i + 1]) {
        s = nd__error(ND_ERR_INVALID_ARG, "%s: metadata key \"%s\" has no value (list must be key, value, ..., NULL)",
                      path, metadata[i]);
        break;
      }
      if (cJSON_GetObjectItemCaseSensitive(m, metadata[i]))
        s = nd__error(ND_ERR_INVALID_ARG, "%s: metadata key \"%s\" given twice", path, metadata[i]);
      else if (!cJSON_AddStringToObject(m, metadata[i], metadata[i + 1]))
        s = nd__error(ND_ERR_NOMEM, "%s: cannot build the header", path);
    }
    if (!m && s == ND_OK) s = nd__error(ND_ERR_NOMEM, "%s: cannot build the header", path);
  }
  uint64_t off = 0;
  for (int i = 0; i < n && s == ND_OK; i++) {
    cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
    bool ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", st_dtype_str(src[i].dtype));
    for (int d = 0; ok && d < src[i].ndim; d++) ok = cJSON_AddItemToArray(shape, json_uint_raw((uint64_t)src[i].shape[d]));
    ok = ok && cJSON_AddItemToArray(offs, json_uint_raw(off)) &&
         cJSON_AddItemToArray(offs, json_uint_raw(off + src[i].bytes));
    if (ok) {
      cJSON_AddItemToObject(e, "shape", shape);
      cJSON_AddItemToObject(e, "data_offsets", offs);
      cJSON_AddItemToObject(root, src[i].name, e);
    } else {
      cJSON_Delete(e);
      cJSON_Delete(shape);
      cJSON_Delete(offs);
      s = nd__error(ND_ERR_NOMEM, "%s: cannot build the header", path);
    }
    off += src[i].bytes;
  }
  char *text = s == ND_OK ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (s != ND_OK) return s;
  if (!text) return nd__error(ND_ERR_NOMEM, "%s: cannot print the header", path);
  size_t hlen = strlen(text), pad = (8 - hlen % 8) % 8;
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
  nd__afile f;
  s = nd__afile_open(&f, path);
  if (s != ND_OK) {
    cJSON_free(text);
    return s;
  }
  nd__afile_write(&f, len8, 8);
  nd__afile_write(&f, text, hlen);
  nd__afile_write(&f, "        ", pad);
  cJSON_free(text);
  for (int i = 0; i < n && f.status == ND_OK; i++) {
    size_t esz = nd_dtype_size(src[i].dtype);
    if (src[i].t && nd__little_endian()) {
      nd__afile_write_tensor(&f, src[i].t);
      continue;
    }
    const unsigned char *p = src[i].t ? (const unsigned char *)src[i].t->data : src[i].data;
    if (nd__little_endian()) {
      nd__afile_write(&f, p, (size_t)src[i].bytes);
    } else { /* big-endian host: swap through a buffer */
      unsigned char chunk[1 << 14];
      size_t per = sizeof chunk / esz * esz;
      for (size_t o = 0; o < src[i].bytes && f.status == ND_OK; o += per) {
        size_t k = src[i].bytes - o < per ? (size_t)(src[i].bytes - o) : per;
        memcpy(chunk, p + o, k);
        nd__byteswap(chunk, (int64_t)(k / esz), esz);
        nd__afile_write(&f, chunk, k);
      }
    }
  }
  return nd__afile_commit(&f);
}

nd_status nd_safetensors_write(const char *path, int n, const char *const *names, const nd_tensor *const *tensors,
                               const char *const *metadata) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "safetensors_write: path is NULL");
  if (n < 0 || (n > 0 && (!names || !tensors)))
    return nd__error(ND_ERR_INVALID_ARG, "%s: bad tensor list (n = %d)", path, n);
  st_src *src = calloc((size_t)n + 1, sizeof *src);
  if (!src) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate", path);
  for (int i = 0; i < n; i++) {
    const nd_tensor *t = tensors[i];
    if (!t || (!t->data && nd_tensor_numel(t) > 0) || t->ndim < 0 || t->ndim > ND_MAX_DIMS) {
      free(src);
      return nd__error(ND_ERR_INVALID_ARG, "%s: tensor %d (\"%s\") is NULL or invalid", path, i,
                       names[i] ? names[i] : "");
    }
    src[i].name = names[i];
    src[i].dtype = ND_DTYPE_F32;
    src[i].ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) src[i].shape[d] = t->shape[d];
    src[i].bytes = (uint64_t)nd_tensor_numel(t) * 4;
    src[i].t = t;
  }
  /* A strided tensor on a big-endian host is the one case without a path. */
  for (int i = 0; i < n; i++)
    if (!nd__little_endian() && !nd_tensor_is_contiguous(tensors[i])) {
      free(src);
      return nd__error(ND_ERR_UNSUPPORTED, "%s: strided tensors on a big-endian host", path);
    }
  nd_status s = write_sources(path, n, src, metadata);
  free(src);
  return s;
}

nd_status nd_safetensors_write_arrays(const char *path, int n, const char *const *names,
                                      const nd_array *const *arrays, const char *const *metadata) {
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "safetensors_write: path is NULL");
  if (n < 0 || (n > 0 && (!names || !arrays)))
    return nd__error(ND_ERR_INVALID_ARG, "%s: bad array list (n = %d)", path, n);
  st_src *src = calloc((size_t)n + 1, sizeof *src);
  if (!src) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate", path);
  for (int i = 0; i < n; i++) {
    const nd_array *a = arrays[i];
    int64_t numel;
    uint64_t bytes;
    if (!a || !st_dtype_str(a->dtype) || a->ndim < 0 || a->ndim > ND_ARRAY_MAX_DIMS ||
        !nd__shape_bytes(a->ndim, a->shape, nd_dtype_size(a->dtype), UINT64_MAX / 4, &numel, &bytes) ||
        numel != a->numel || (numel > 0 && !a->data)) {
      free(src);
      return nd__error(ND_ERR_INVALID_ARG, "%s: array %d (\"%s\") is NULL or inconsistent", path, i,
                       names[i] ? names[i] : "");
    }
    src[i].name = names[i];
    src[i].dtype = a->dtype;
    src[i].ndim = a->ndim;
    memcpy(src[i].shape, a->shape, sizeof src[i].shape);
    src[i].bytes = bytes;
    src[i].data = a->data;
  }
  nd_status s = write_sources(path, n, src, metadata);
  free(src);
  return s;
}
