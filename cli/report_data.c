/* A run directory as the report page's data (report.h): config.json,
 * metrics.jsonl as columns, the PNG figures, the recorded streams
 * (record/index.json, docs/record.md) as base64 float32 frames; and the
 * metrics as CSV. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "report.h"

/* ------------------------------------------------------------ base64 */

char *nd_report_base64(const void *data, size_t len) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (len > (SIZE_MAX / 4) * 3 - 3) return NULL;
  const unsigned char *p = data;
  size_t out_len = (len + 2) / 3 * 4;
  char *s = malloc(out_len + 1), *o = s;
  if (!s) return NULL;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = tab[(v >> 6) & 63], *o++ = tab[v & 63];
  }
  if (i < len) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
    *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63];
    *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  *o = '\0';
  return s;
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bool nd_report_is_run(const char *dir) {
  char p[4200];
  snprintf(p, sizeof p, "%s/config.json", dir);
  if (is_file(p)) return true;
  snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
  if (is_file(p)) return true;
  snprintf(p, sizeof p, "%s/record/index.json", dir); /* run X --record-dir DIR */
  return is_file(p);
}

/* ------------------------------------------------------------ metrics */

#define MAX_SERIES 4096
#define MAX_ARRAY_SERIES 64      /* numeric arrays longer than this are left out */
#define MAX_CELLS ((int64_t)1 << 24) /* series x lines held (128 MiB of doubles) */
#define HASH_SLOTS 8192          /* > 2 * MAX_SERIES: open addressing stays short */

typedef struct columns {
  int nkeys;
  char *keys[MAX_SERIES];
  double *vals[MAX_SERIES];
  int slot[HASH_SLOTS];          /* key index + 1, 0: empty */
  int64_t rows, cap;
} columns;

static void columns_release(columns *c) {
  for (int k = 0; k < c->nkeys; k++) free(c->keys[k]), free(c->vals[k]);
  memset(c, 0, sizeof *c);
}

static nd_status too_many(void) {
  return nd_set_error(ND_ERR_INVALID_ARG, "metrics: more than %lld values (series x lines) for a report",
                      (long long)MAX_CELLS);
}

static nd_status columns_grow(columns *c) {
  if (c->rows < c->cap) return ND_OK;
  int64_t cap = c->cap ? 2 * c->cap : 64;
  if (cap * (c->nkeys ? c->nkeys : 1) > MAX_CELLS) cap = c->cap + 1 + c->cap / 8;
  if (cap * (c->nkeys ? c->nkeys : 1) > MAX_CELLS) return too_many();
  for (int k = 0; k < c->nkeys; k++) {
    double *v = realloc(c->vals[k], (size_t)cap * sizeof *v);
    if (!v) return nd_set_error(ND_ERR_NOMEM, "metrics: out of memory");
    for (int64_t i = c->cap; i < cap; i++) v[i] = NAN;
    c->vals[k] = v;
  }
  c->cap = cap;
  return ND_OK;
}

static unsigned hash(const char *s) {
  /* FNV-1a, 32 bits; the product is formed in 64 bits and masked, because the
   * fuzz build's UBSan treats a wrapping unsigned multiply as an error. */
  uint64_t h = 2166136261u;
  for (; *s; s++) h = ((h ^ (unsigned char)*s) * 16777619u) & 0xffffffffu;
  return (unsigned)h;
}

/* Sets key's value in the current row (c->rows), adding the key. */
static nd_status columns_set(columns *c, const char *key, double v) {
  unsigned h = hash(key) % HASH_SLOTS;
  while (c->slot[h] && strcmp(c->keys[c->slot[h] - 1], key)) h = (h + 1) % HASH_SLOTS;
  int k = c->slot[h] - 1;
  if (k < 0) {
    if (c->nkeys == MAX_SERIES) return ND_OK; /* more series than a page can show */
    if (c->cap * (c->nkeys + 1) > MAX_CELLS) return too_many();
    double *vals = malloc((size_t)c->cap * sizeof *vals);
    char *name = strdup(key);
    if (!vals || !name) {
      free(vals), free(name);
      return nd_set_error(ND_ERR_NOMEM, "metrics: out of memory");
    }
    for (int64_t i = 0; i < c->cap; i++) vals[i] = NAN;
    k = c->nkeys++;
    c->keys[k] = name, c->vals[k] = vals, c->slot[h] = k + 1;
  }
  c->vals[k][c->rows] = v;
  return ND_OK;
}

/* The numeric fields of one object (prefix "" at the top; "a." inside). */
static nd_status add_fields(columns *c, const cJSON *obj, const char *prefix, int depth) {
  for (const cJSON *it = obj->child; it; it = it->next) {
    if (!it->string) continue;
    char key[1024];
    snprintf(key, sizeof key, "%.500s%.500s", prefix, it->string);
    if (cJSON_IsNumber(it)) {
      if (isfinite(it->valuedouble)) ND_CLI_TRY(columns_set(c, key, it->valuedouble));
    } else if (cJSON_IsObject(it) && depth < 2) {
      char sub[1030];
      snprintf(sub, sizeof sub, "%.1020s.", key);
      ND_CLI_TRY(add_fields(c, it, sub, depth + 1));
    } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) <= MAX_ARRAY_SERIES) {
      int i = 0;
      for (const cJSON *e = it->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) continue;
        char ak[1040];
        snprintf(ak, sizeof ak, "%.1020s[%d]", key, i);
        ND_CLI_TRY(columns_set(c, ak, e->valuedouble));
      }
    }
  }
  return ND_OK;
}

static nd_status parse_columns(const char *buf, size_t len, const char *name, columns *c) {
  memset(c, 0, sizeof *c);
  const char *p = buf, *end = p + len;
  int64_t line = 0;
  nd_status s = ND_OK;
  while (p < end && s == ND_OK) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    line++;
    if (!nl) break; /* unfinished last line: the writer is still at it */
    const char *q = p;
    while (q < nl && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
    if (q < nl) {
      cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
      if (!cJSON_IsObject(j)) {
        s = nd_set_error(ND_ERR_FORMAT, "%s: line %lld is not a JSON object", name, (long long)line);
      } else if ((s = columns_grow(c)) == ND_OK && (s = add_fields(c, j, "", 0)) == ND_OK) {
        c->rows++;
      }
      cJSON_Delete(j);
    }
    p = nl + 1;
  }
  if (s != ND_OK) columns_release(c);
  return s;
}

static cJSON *columns_json(const columns *c) {
  cJSON *m = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(m, "keys"),
        *cols = cJSON_AddObjectToObject(m, "columns");
  cJSON_AddNumberToObject(m, "n", (double)c->rows);
  for (int k = 0; k < c->nkeys && cols; k++) {
    cJSON_AddItemToArray(keys, cJSON_CreateString(c->keys[k]));
    cJSON *col = cJSON_AddArrayToObject(cols, c->keys[k]);
    for (int64_t i = 0; i < c->rows && col; i++)
      cJSON_AddItemToArray(col, isfinite(c->vals[k][i]) ? cJSON_CreateNumber(c->vals[k][i]) : cJSON_CreateNull());
  }
  if (!keys || !cols) {
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

nd_status nd_report_metrics_parse(const void *buf, size_t len, const char *name, cJSON **out) {
  if (!out) return nd_set_error(ND_ERR_INVALID_ARG, "metrics: out is NULL");
  *out = NULL;
  if (!buf && len) return nd_set_error(ND_ERR_INVALID_ARG, "metrics: buffer is NULL");
  if (!name) name = "<memory>";
  columns *c = malloc(sizeof *c);
  if (!c) return nd_set_error(ND_ERR_NOMEM, "%s: out of memory", name);
  nd_status s = parse_columns(buf, len, name, c);
  if (s == ND_OK) {
    *out = columns_json(c);
    columns_release(c);
    if (!*out) s = nd_set_error(ND_ERR_NOMEM, "%s: out of memory", name);
  }
  free(c);
  return s;
}

nd_status nd_report_metrics_json(const char *path, cJSON **out) {
  *out = NULL;
  if (!is_file(path)) {
    struct stat st;
    if (stat(path, &st) == 0) return nd_set_error(ND_ERR_INVALID_ARG, "%s: not a regular file", path);
    return nd_report_metrics_parse("", 0, path, out); /* a run that has not written a line yet */
  }
  void *buf;
  size_t len;
  ND_CLI_TRY(nd_file_read_all(path, &buf, &len));
  nd_status s = len > ND_REPORT_METRICS_MAX_BYTES
                    ? nd_set_error(ND_ERR_INVALID_ARG, "%s: %zu bytes, more than the %zu a report reads", path, len,
                                   ND_REPORT_METRICS_MAX_BYTES)
                    : nd_report_metrics_parse(buf, len, path, out);
  free(buf);
  return s;
}

/* ------------------------------------------------------------ PNG figures */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n > m && !strcmp(s + n - m, suf);
}

static nd_status add_pngs(const char *dir, cJSON *run) {
  cJSON *arr = cJSON_AddArrayToObject(run, "pngs");
  DIR *d = opendir(dir);
  if (!d) return nd_set_error(ND_ERR_IO, "%s: cannot list the directory", dir);
  char *names[512];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 512;)
    if (e->d_name[0] != '.' && has_suffix(e->d_name, ".png") && (names[n] = strdup(e->d_name))) n++;
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_names);
  nd_status s = ND_OK;
  for (int i = 0; i < n; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    void *buf = NULL;
    size_t len = 0;
    if (s != ND_OK || !is_file(path) || stat(path, &st) || (size_t)st.st_size > ND_REPORT_PNG_MAX_BYTES ||
        nd_file_read_all(path, &buf, &len) != ND_OK || len < 8 || memcmp(buf, "\x89PNG\r\n\x1a\n", 8)) {
      free(buf), free(names[i]);
      continue; /* too large, unreadable or not a PNG: not shown */
    }
    char *b64 = nd_report_base64(buf, len);
    free(buf);
    cJSON *o = cJSON_CreateObject();
    if (!b64 || !o || !cJSON_AddStringToObject(o, "name", names[i]) || !cJSON_AddStringToObject(o, "data", b64))
      s = nd_set_error(ND_ERR_NOMEM, "%s: out of memory", path);
    cJSON_AddItemToArray(arr, o);
    free(b64), free(names[i]);
  }
  return s;
}

/* ------------------------------------------------------------ streams */

cJSON *nd_report_chunk_json(const float *data, int64_t frame_size, int64_t t0, int64_t from, int64_t count,
                            int64_t stride) {
  if (stride < 1) stride = 1;
  int64_t first = t0 + from, last = t0 + from + count; /* frames [first, last) */
  int64_t k0 = (first + stride - 1) / stride * stride;
  if (k0 >= last) return NULL;
  int64_t kept = (last - 1 - k0) / stride + 1;
  float *buf = malloc((size_t)(kept * frame_size) * sizeof *buf);
  if (!buf) return NULL;
  for (int64_t i = 0; i < kept; i++)
    memcpy(buf + i * frame_size, data + (k0 + i * stride - t0) * frame_size, (size_t)frame_size * sizeof *buf);
  char *b64 = nd_report_base64(buf, (size_t)(kept * frame_size) * sizeof *buf);
  free(buf);
  cJSON *o = cJSON_CreateObject();
  if (!b64 || !o || !cJSON_AddNumberToObject(o, "t0", (double)k0) ||
      !cJSON_AddNumberToObject(o, "stride", (double)stride) || !cJSON_AddNumberToObject(o, "frames", (double)kept) ||
      !cJSON_AddStringToObject(o, "data", b64)) {
    cJSON_Delete(o);
    o = NULL;
  }
  free(b64);
  return o;
}

nd_status nd_report_stream_json(const char *record_dir, const nd_record_stream_info *s, int64_t stride, cJSON **out) {
  *out = NULL;
  cJSON *o = cJSON_CreateObject(), *shape = cJSON_AddArrayToObject(o, "frame_shape");
  cJSON_AddStringToObject(o, "name", s->name);
  cJSON_AddStringToObject(o, "kind", nd_record_kind_name(s->kind));
  for (int d = 0; d < s->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)s->frame_shape[d]));
  cJSON_AddStringToObject(o, "time_unit", s->time_unit);
  cJSON_AddNumberToObject(o, "dt", s->dt);
  cJSON_AddNumberToObject(o, "frames", (double)s->frames);
  cJSON_AddNumberToObject(o, "stride", (double)stride);
  cJSON *labels = s->labels_json ? cJSON_Parse(s->labels_json) : NULL;
  cJSON_AddItemToObject(o, "labels", labels ? labels : cJSON_CreateNull());
  cJSON *pos = NULL;
  if (s->positions) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", record_dir, s->positions);
    nd_tensor t;
    nd_status st = nd_npy_read(path, &t);
    if (st != ND_OK) {
      cJSON_Delete(o);
      return st;
    }
    if (t.ndim != 2 || t.shape[0] != s->frame_size || t.shape[1] != 3 || !nd_tensor_is_contiguous(&t)) {
      nd_tensor_release(&t);
      cJSON_Delete(o);
      return nd_set_error(ND_ERR_SHAPE, "%s: positions of stream '%s' must be %lld x 3", path, s->name,
                          (long long)s->frame_size);
    }
    char *b64 = nd_report_base64(t.data, (size_t)(3 * s->frame_size) * sizeof(float));
    nd_tensor_release(&t);
    if (b64) pos = cJSON_CreateString(b64);
    free(b64);
  }
  cJSON_AddItemToObject(o, "positions", pos ? pos : cJSON_CreateNull());
  if (!shape || !cJSON_GetObjectItem(o, "positions")) {
    cJSON_Delete(o);
    return nd_set_error(ND_ERR_NOMEM, "stream '%s': out of memory", s->name);
  }
  *out = o;
  return ND_OK;
}

nd_status nd_report_chunk_read(const char *record_dir, const nd_record_stream_info *s, int i, float **out) {
  *out = NULL;
  nd_array a;
  ND_CLI_TRY(nd_record_chunk_read(record_dir, s, i, &a));
  if (a.dtype == ND_DTYPE_F32) {
    *out = a.data; /* the caller frees it */
    return ND_OK;
  }
  int64_t n = a.numel;
  float *f = a.dtype == ND_DTYPE_U8 ? malloc((size_t)(n ? n : 1) * sizeof *f) : NULL;
  if (f)
    for (int64_t k = 0; k < n; k++) f[k] = ((const uint8_t *)a.data)[k];
  nd_dtype dt = a.dtype;
  nd_array_release(&a);
  if (!f)
    return dt == ND_DTYPE_U8 ? nd_set_error(ND_ERR_NOMEM, "stream '%s': out of memory", s->name)
                             : nd_set_error(ND_ERR_UNSUPPORTED, "stream '%s': chunk of %s", s->name, nd_dtype_name(dt));
  *out = f;
  return ND_OK;
}

/* Every k-th frame so that the stream keeps at most max_frames frames and
 * budget bytes. */
static int64_t stream_stride(const nd_record_stream_info *s, int64_t max_frames, int64_t budget) {
  int64_t stride = 1;
  if (max_frames > 0 && s->frames > max_frames) stride = (s->frames + max_frames - 1) / max_frames;
  int64_t frame_bytes = s->frame_size * (int64_t)sizeof(float);
  int64_t fit = frame_bytes > 0 ? budget / frame_bytes : 0; /* frames that fit */
  if (fit < 1) fit = 1;
  if (s->frames > fit) {
    int64_t st = (s->frames + fit - 1) / fit;
    stride = st > stride ? st : stride;
  }
  return stride;
}

static nd_status add_streams(const char *dir, const nd_report_limits *lim, cJSON *run) {
  cJSON *arr = cJSON_AddArrayToObject(run, "streams");
  char rdir[4200], ipath[4300];
  snprintf(rdir, sizeof rdir, "%s/record", dir);
  snprintf(ipath, sizeof ipath, "%s/index.json", rdir);
  if (!is_file(ipath)) return ND_OK;
  nd_record_index ix;
  ND_CLI_TRY(nd_record_index_read(ipath, &ix));
  nd_status s = ND_OK;
  int64_t budget = lim->max_bytes / (ix.nstreams > 0 ? ix.nstreams : 1);
  for (int i = 0; i < ix.nstreams && s == ND_OK; i++) {
    const nd_record_stream_info *si = &ix.streams[i];
    int64_t stride = stream_stride(si, lim->max_frames, budget);
    cJSON *o;
    if ((s = nd_report_stream_json(rdir, si, stride, &o)) != ND_OK) break;
    cJSON_AddItemToArray(arr, o);
    cJSON *chunks = cJSON_AddArrayToObject(o, "chunks");
    for (int c = 0; c < si->nchunks && s == ND_OK; c++) {
      float *f;
      if ((s = nd_report_chunk_read(rdir, si, c, &f)) != ND_OK) break;
      cJSON *cj = nd_report_chunk_json(f, si->frame_size, si->chunks[c].t0, 0, si->chunks[c].frames, stride);
      free(f);
      if (cj) cJSON_AddItemToArray(chunks, cj);
    }
  }
  nd_record_index_release(&ix);
  return s;
}

/* ------------------------------------------------------------ one run */

nd_status nd_report_run_json(const char *dir, const char *name, const nd_report_limits *lim, cJSON **out) {
  *out = NULL;
  struct stat st;
  if (stat(dir, &st) != 0) return nd_set_error(ND_ERR_NOT_FOUND, "%s: no such directory", dir);
  if (!S_ISDIR(st.st_mode)) return nd_set_error(ND_ERR_INVALID_ARG, "%s: not a directory", dir);
  if (!name) {
    const char *slash = strrchr(dir, '/');
    name = slash && slash[1] ? slash + 1 : dir;
  }
  cJSON *run = cJSON_CreateObject();
  cJSON_AddStringToObject(run, "name", name);
  cJSON_AddStringToObject(run, "path", dir);
  char path[4200];
  snprintf(path, sizeof path, "%s/config.json", dir);
  nd_status s = ND_OK;
  cJSON *config = NULL;
  if (is_file(path)) {
    void *buf;
    size_t len;
    if ((s = nd_file_read_all(path, &buf, &len)) == ND_OK) {
      config = cJSON_ParseWithLength(buf, len);
      free(buf);
      if (!cJSON_IsObject(config)) s = nd_set_error(ND_ERR_FORMAT, "%s: not a JSON object", path);
    }
  }
  if (s != ND_OK) {
    cJSON_Delete(config);
    cJSON_Delete(run);
    return s;
  }
  cJSON_AddItemToObject(run, "config", config ? config : cJSON_CreateNull());
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  cJSON *metrics;
  if ((s = nd_report_metrics_json(path, &metrics)) == ND_OK) {
    cJSON_AddItemToObject(run, "metrics", metrics);
    if ((s = add_pngs(dir, run)) == ND_OK) s = add_streams(dir, lim, run);
  }
  if (s != ND_OK) {
    cJSON_Delete(run);
    return s;
  }
  *out = run;
  return ND_OK;
}

/* ------------------------------------------------------------ CSV */

void nd_report_buf_add(nd_report_buf *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->failed = true;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
void nd_report_buf_str(nd_report_buf *b, const char *s) { nd_report_buf_add(b, s, strlen(s)); }
#define sb_add nd_report_buf_add
#define sb_str nd_report_buf_str

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void sb_field(nd_report_buf *b, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    sb_str(b, s);
    return;
  }
  sb_str(b, "\"");
  for (const char *c = s; *c; c++) sb_add(b, *c == '"' ? "\"\"" : c, *c == '"' ? 2 : 1);
  sb_str(b, "\"");
}

nd_status nd_report_csv(const cJSON *runs, char **text, size_t *len) {
  *text = NULL, *len = 0;
  /* the union of the keys, in order of first appearance */
  cJSON *keys = cJSON_CreateArray();
  const cJSON *run;
  cJSON_ArrayForEach(run, runs) {
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItem(cJSON_GetObjectItem(run, "metrics"), "keys")) {
      bool seen = false;
      const cJSON *q;
      cJSON_ArrayForEach(q, keys) seen = seen || !strcmp(q->valuestring, k->valuestring);
      if (!seen) cJSON_AddItemToArray(keys, cJSON_CreateString(k->valuestring));
    }
  }
  nd_report_buf b = {0};
  sb_str(&b, "run");
  const cJSON *k;
  cJSON_ArrayForEach(k, keys) sb_str(&b, ","), sb_field(&b, k->valuestring);
  sb_str(&b, "\n");
  cJSON_ArrayForEach(run, runs) {
    const cJSON *m = cJSON_GetObjectItem(run, "metrics"), *cols = cJSON_GetObjectItem(m, "columns");
    int n = cJSON_GetObjectItem(m, "n") ? cJSON_GetObjectItem(m, "n")->valueint : 0;
    for (int i = 0; i < n; i++) {
      sb_field(&b, cJSON_GetObjectItem(run, "name")->valuestring);
      cJSON_ArrayForEach(k, keys) {
        const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(cols, k->valuestring), i);
        char num[40] = "";
        if (cJSON_IsNumber(v)) { /* the shortest of %.15g / %.17g that reads back the same */
          snprintf(num, sizeof num, "%.15g", v->valuedouble);
          if (strtod(num, NULL) != v->valuedouble) snprintf(num, sizeof num, "%.17g", v->valuedouble);
        }
        sb_str(&b, ","), sb_str(&b, num);
      }
      sb_str(&b, "\n");
    }
  }
  cJSON_Delete(keys);
  if (b.failed || !b.p) {
    free(b.p);
    return nd_set_error(ND_ERR_NOMEM, "CSV: out of memory");
  }
  *text = b.p, *len = b.len;
  return ND_OK;
}
