/* Recorded states: the chunked stream format of include/neurodyn/record.h
 * (docs/record.md).  The writer buffers a chunk of frames per stream, writes
 * it as an NPY file under a temporary name and renames it, then rewrites
 * index.json the same way; the reader validates an index.json. */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/io_internal.h"
#include "neurodyn/record.h"

#define FORMAT_NAME "neurodyn-record"
#define MAX_STREAMS 1024
#define MAX_CHUNKS (1 << 24)

static const char *const kind_names[ND_RECORD_KIND_COUNT_] = {"grid3d", "map2d", "vector", "raster", "image"};
static const char *const time_units[] = {"step", "ms", "epoch"};

const char *nd_record_kind_name(nd_record_kind k) {
  return (unsigned)k < ND_RECORD_KIND_COUNT_ ? kind_names[k] : NULL;
}

int nd_record_kind_parse(const char *name) {
  for (int k = 0; name && k < ND_RECORD_KIND_COUNT_; k++)
    if (strcmp(name, kind_names[k]) == 0) return k;
  return -1;
}

/* [A-Za-z0-9_.-]+ of at most max characters. */
static bool valid_name(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
          c == '-'))
      return false;
  }
  return true;
}

/* A plain file name in the record directory: the name pattern, ".npy" at the end. */
static bool valid_file(const char *s) {
  size_t n = s ? strlen(s) : 0;
  return valid_name(s, 255) && n > 4 && strcmp(s + n - 4, ".npy") == 0 && s[0] != '.';
}

static bool valid_time_unit(const char *u) {
  for (size_t i = 0; u && i < sizeof time_units / sizeof *time_units; i++)
    if (strcmp(u, time_units[i]) == 0) return true;
  return false;
}

/* The frame's rank for the kind, positive sizes, a bounded size; "" if fine,
 * else what is wrong (static text). */
static const char *shape_problem(nd_record_kind kind, int ndim, const int64_t *shape, int64_t *size) {
  bool rank_ok = kind == ND_RECORD_MAP2D ? ndim == 3 : kind == ND_RECORD_IMAGE ? (ndim == 2 || ndim == 3) : ndim == 1;
  if (!rank_ok)
    return kind == ND_RECORD_MAP2D ? "a map2d frame is C x H x W (3 sizes)"
           : kind == ND_RECORD_IMAGE ? "an image frame is H x W or C x H x W (2 or 3 sizes)"
                                     : "this kind's frame is N values (1 size)";
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 1) return "sizes must be >= 1";
    if (shape[i] > ND_TENSOR_MAX_NUMEL / n) return "the frame has more than 2^36 values";
    n *= shape[i];
  }
  *size = n;
  return "";
}

static void stream_info_release(nd_record_stream_info *s) {
  free(s->name);
  free(s->positions);
  free(s->labels_json);
  for (int i = 0; i < s->nchunks; i++) free(s->chunks[i].file);
  free(s->chunks);
  memset(s, 0, sizeof *s);
}

void nd_record_index_release(nd_record_index *ix) {
  if (!ix) return;
  for (int i = 0; i < ix->nstreams; i++) stream_info_release(&ix->streams[i]);
  free(ix->streams);
  memset(ix, 0, sizeof *ix);
}

const nd_record_stream_info *nd_record_index_find(const nd_record_index *ix, const char *name) {
  for (int i = 0; ix && name && i < ix->nstreams; i++)
    if (strcmp(ix->streams[i].name, name) == 0) return &ix->streams[i];
  return NULL;
}

/* ================================================================ reader */

/* An integral JSON number in [lo, hi]. */
static bool json_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *v) {
  if (!cJSON_IsNumber(j)) return false;
  double d = j->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi) return false;
  *v = (int64_t)d;
  return true;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

typedef struct ctx {
  const char *file;
  int i;
  const char *stream; /* name once known */
} ctx;

#define FAIL(c, ...) fail_at(c, __VA_ARGS__)
static nd_status fail_at(const ctx *c, const char *fmt, ...) ND__PRINTF(2, 3);
static nd_status fail_at(const ctx *c, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->stream)
    return nd__error(ND_ERR_FORMAT, "%s: streams[%d] \"%s\": %s", c->file, c->i, c->stream, msg);
  return nd__error(ND_ERR_FORMAT, "%s: streams[%d]: %s", c->file, c->i, msg);
}

static nd_status parse_chunks(const cJSON *js, ctx *c, nd_record_stream_info *s) {
  if (!cJSON_IsArray(js)) return FAIL(c, "\"chunks\" is missing or not an array");
  int n = cJSON_GetArraySize(js);
  if (n > MAX_CHUNKS) return FAIL(c, "%d chunks, at most %d", n, MAX_CHUNKS);
  s->chunks = calloc(n ? (size_t)n : 1, sizeof *s->chunks);
  if (!s->chunks) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %d chunks", c->file, n);
  int64_t t = 0;
  for (const cJSON *e = js->child; e; e = e->next) {
    int k = s->nchunks;
    if (!cJSON_IsObject(e)) return FAIL(c, "chunks[%d] is not an object", k);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "file");
    if (!cJSON_IsString(f) || !valid_file(f->valuestring))
      return FAIL(c, "chunks[%d].file is missing or not a plain file name ([A-Za-z0-9_.-]+ ending in .npy)", k);
    int64_t t0, frames;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(e, "t0"), 0, INT64_C(1) << 52, &t0))
      return FAIL(c, "chunks[%d].t0 is missing or not a non-negative integer", k);
    if (!json_int(cJSON_GetObjectItemCaseSensitive(e, "frames"), 1, ND_TENSOR_MAX_NUMEL, &frames))
      return FAIL(c, "chunks[%d].frames is missing or not an integer >= 1", k);
    if (t0 != t)
      return FAIL(c, "chunks[%d].t0 is %lld, expected %lld (chunks are contiguous and in order)", k, (long long)t0,
                  (long long)t);
    if (frames > ND_TENSOR_MAX_NUMEL / s->frame_size)
      return FAIL(c, "chunks[%d]: %lld frames of %lld values exceed 2^36 values", k, (long long)frames,
                  (long long)s->frame_size);
    s->chunks[k].file = dup_str(f->valuestring);
    if (!s->chunks[k].file) return nd__error(ND_ERR_NOMEM, "%s: out of memory", c->file);
    s->chunks[k].t0 = t0;
    s->chunks[k].frames = frames;
    s->nchunks++;
    t += frames;
  }
  s->frames = t;
  return ND_OK;
}

static nd_status parse_shape(const cJSON *js, ctx *c, nd_record_stream_info *s) {
  if (!cJSON_IsArray(js)) return FAIL(c, "\"frame_shape\" is missing or not an array");
  int n = cJSON_GetArraySize(js);
  if (n < 1 || n > ND_RECORD_MAX_DIMS) return FAIL(c, "frame_shape has %d sizes, expected 1 to %d", n, ND_RECORD_MAX_DIMS);
  int i = 0;
  for (const cJSON *e = js->child; e; e = e->next, i++)
    if (!json_int(e, 1, ND_TENSOR_MAX_NUMEL, &s->frame_shape[i]))
      return FAIL(c, "frame_shape[%d] is not an integer >= 1", i);
  s->ndim = n;
  const char *why = shape_problem(s->kind, n, s->frame_shape, &s->frame_size);
  if (*why) return FAIL(c, "frame_shape: %s", why);
  return ND_OK;
}

static nd_status parse_stream(const cJSON *js, ctx *c, nd_record_stream_info *s) {
  if (!cJSON_IsObject(js)) return FAIL(c, "not an object");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
  if (!cJSON_IsString(name) || !valid_name(name->valuestring, ND_RECORD_NAME_MAX))
    return FAIL(c, "\"name\" is missing or not [A-Za-z0-9_.-]+ of at most %d characters", ND_RECORD_NAME_MAX);
  if (!(s->name = dup_str(name->valuestring))) return nd__error(ND_ERR_NOMEM, "%s: out of memory", c->file);
  c->stream = s->name;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(js, "kind");
  int k = cJSON_IsString(kind) ? nd_record_kind_parse(kind->valuestring) : -1;
  if (k < 0) return FAIL(c, "\"kind\" is missing or not one of grid3d, map2d, vector, raster, image");
  s->kind = (nd_record_kind)k;
  ND_TRY(parse_shape(cJSON_GetObjectItemCaseSensitive(js, "frame_shape"), c, s));
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(js, "dtype");
  if (!cJSON_IsString(dt)) return FAIL(c, "\"dtype\" is missing or not a string");
  if (strcmp(dt->valuestring, "float32") == 0)
    s->dtype = ND_DTYPE_F32;
  else if (strcmp(dt->valuestring, "uint8") == 0 && s->kind == ND_RECORD_RASTER)
    s->dtype = ND_DTYPE_U8;
  else
    return FAIL(c, "dtype \"%.32s\": expected float32 (or uint8 for a raster)", dt->valuestring);
  const cJSON *tu = cJSON_GetObjectItemCaseSensitive(js, "time_unit");
  if (!cJSON_IsString(tu) || !valid_time_unit(tu->valuestring))
    return FAIL(c, "\"time_unit\" is missing or not one of step, ms, epoch");
  snprintf(s->time_unit, sizeof s->time_unit, "%s", tu->valuestring);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(js, "dt");
  if (!cJSON_IsNumber(d) || !isfinite(d->valuedouble) || !(d->valuedouble > 0))
    return FAIL(c, "\"dt\" is missing or not a positive number");
  s->dt = d->valuedouble;
  const cJSON *pos = cJSON_GetObjectItemCaseSensitive(js, "positions");
  if (pos && !cJSON_IsNull(pos)) {
    if (!cJSON_IsString(pos) || !valid_file(pos->valuestring))
      return FAIL(c, "\"positions\" is not a plain file name ([A-Za-z0-9_.-]+ ending in .npy)");
    if (s->kind != ND_RECORD_GRID3D) return FAIL(c, "\"positions\" is only for a grid3d stream");
    if (!(s->positions = dup_str(pos->valuestring))) return nd__error(ND_ERR_NOMEM, "%s: out of memory", c->file);
  }
  const cJSON *lab = cJSON_GetObjectItemCaseSensitive(js, "labels");
  if (lab && !cJSON_IsNull(lab)) {
    if (!cJSON_IsObject(lab)) return FAIL(c, "\"labels\" is not an object");
    if (!(s->labels_json = cJSON_PrintUnformatted(lab))) return nd__error(ND_ERR_NOMEM, "%s: out of memory", c->file);
  }
  return parse_chunks(cJSON_GetObjectItemCaseSensitive(js, "chunks"), c, s);
}

static nd_status parse_root(const cJSON *root, const char *name, nd_record_index *out) {
  if (!cJSON_IsObject(root)) return nd__error(ND_ERR_FORMAT, "%s: not a JSON object", name);
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(f) || strcmp(f->valuestring, FORMAT_NAME) != 0)
    return nd__error(ND_ERR_FORMAT, "%s: \"format\" is missing or not \"" FORMAT_NAME "\"", name);
  int64_t v;
  if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 0, INT32_MAX, &v))
    return nd__error(ND_ERR_FORMAT, "%s: \"version\" is missing or not an integer", name);
  if (v != ND_RECORD_VERSION)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: record format version %lld, this reader knows version %d", name,
                     (long long)v, ND_RECORD_VERSION);
  out->version = (int)v;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "streams");
  if (!cJSON_IsArray(st)) return nd__error(ND_ERR_FORMAT, "%s: \"streams\" is missing or not an array", name);
  int n = cJSON_GetArraySize(st);
  if (n > MAX_STREAMS) return nd__error(ND_ERR_FORMAT, "%s: %d streams, at most %d", name, n, MAX_STREAMS);
  out->streams = calloc(n ? (size_t)n : 1, sizeof *out->streams);
  if (!out->streams) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %d streams", name, n);
  for (const cJSON *e = st->child; e; e = e->next) {
    ctx c = {name, out->nstreams, NULL};
    nd_record_stream_info *s = &out->streams[out->nstreams++];
    ND_TRY(parse_stream(e, &c, s));
    for (int j = 0; j < out->nstreams - 1; j++)
      if (strcmp(out->streams[j].name, s->name) == 0)
        return FAIL(&c, "the name is used by streams[%d] too (names are unique in a run)", j);
  }
  return ND_OK;
}

nd_status nd_record_index_parse(const void *buf, size_t len, const char *name, nd_record_index *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "record_index_parse: out is NULL");
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "%s: buffer is NULL", name);
  if (len > ((size_t)1 << 30)) return nd__error(ND_ERR_FORMAT, "%s: %zu bytes, an index is at most 1 GiB", name, len);
  if (len && memchr(buf, 0, len)) return nd__error(ND_ERR_FORMAT, "%s: contains a NUL byte (not JSON text)", name);
  char *text = malloc(len + 1);
  if (!text) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, len);
  if (len) memcpy(text, buf, len);
  text[len] = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  nd_status s;
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    size_t pos = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
    s = nd__error(ND_ERR_FORMAT, "%s: not valid JSON (error near byte %zu of %zu)", name, pos, len);
  } else {
    s = ND_OK;
    for (const char *p = end; p && p < text + len; p++)
      if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
        s = nd__error(ND_ERR_FORMAT, "%s: text after the JSON object (byte %zu)", name, (size_t)(p - text));
        break;
      }
    if (s == ND_OK) s = parse_root(root, name, out);
  }
  cJSON_Delete(root);
  free(text);
  if (s != ND_OK) nd_record_index_release(out);
  return s;
}

nd_status nd_record_index_read(const char *path, nd_record_index *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "record_index_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "record_index_read: path is NULL");
  unsigned char *buf;
  size_t len;
  ND_TRY(nd__read_file(path, &buf, &len));
  nd_status s = nd_record_index_parse(buf, len, path, out);
  free(buf);
  return s;
}

static char *join(const char *dir, const char *file) {
  size_t n = strlen(dir) + strlen(file) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, file);
  return p;
}

nd_status nd_record_chunk_read(const char *record_dir, const nd_record_stream_info *s, int i, nd_array *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "record_chunk_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!record_dir || !s) return nd__error(ND_ERR_INVALID_ARG, "record_chunk_read: NULL directory or stream");
  if (i < 0 || i >= s->nchunks || !s->chunks)
    return nd__error(ND_ERR_INVALID_ARG, "record_chunk_read: stream \"%s\" has %d chunks, asked for chunk %d",
                     s->name ? s->name : "?", s->nchunks, i);
  const nd_record_chunk *ch = &s->chunks[i];
  char *path = join(record_dir, ch->file);
  if (!path) return nd__error(ND_ERR_NOMEM, "record_chunk_read: out of memory");
  unsigned char *buf;
  size_t len;
  nd_status st = nd__read_file(path, &buf, &len);
  if (st == ND_OK) {
    st = nd__npy_parse_typed(buf, len, path, out);
    free(buf);
  }
  if (st == ND_OK) {
    bool ok = out->dtype == s->dtype && out->ndim == s->ndim + 1 && out->shape[0] == ch->frames;
    for (int d = 0; ok && d < s->ndim; d++) ok = out->shape[d + 1] == s->frame_shape[d];
    if (!ok) {
      char got[160], want[160];
      int64_t w[ND_RECORD_MAX_DIMS + 1] = {ch->frames};
      memcpy(w + 1, s->frame_shape, (size_t)s->ndim * sizeof *w);
      nd__shape_str(out->ndim, out->shape, got, sizeof got);
      nd__shape_str(s->ndim + 1, w, want, sizeof want);
      st = nd__error(ND_ERR_FORMAT, "%s: %s of %s, the index says %s of %s (stream \"%s\", chunk %d)", path, got,
                     nd_dtype_name(out->dtype), want, nd_dtype_name(s->dtype), s->name, i);
      nd_array_release(out);
    }
  }
  free(path);
  return st;
}

/* ================================================================ writer */

struct nd_record_stream {
  nd_recorder *rec;
  nd_record_stream_info info; /* chunks grow as they are written */
  bool declared;              /* false: kept from the index of an earlier run (append) */
  int cap_chunks;
  int chunk_frames;
  size_t esize;
  unsigned char *buf; /* chunk_frames frames */
  int buffered;
};

struct nd_recorder {
  char *dir;
  char *index_path;
  nd_record_stream **streams;
  int n, cap;
  nd_status status; /* first failure */
};

const char *nd_recorder_dir(const nd_recorder *r) { return r ? r->dir : NULL; }

int64_t nd_record_stream_frames(const nd_record_stream *s) {
  return s ? s->info.frames + s->buffered : -1;
}

nd_record_stream_spec nd_record_stream_defaults(const char *name, nd_record_kind kind, int ndim,
                                                const int64_t *frame_shape) {
  nd_record_stream_spec s;
  memset(&s, 0, sizeof s);
  s.name = name;
  s.kind = kind;
  s.ndim = ndim;
  for (int i = 0; frame_shape && i < ndim && i < ND_RECORD_MAX_DIMS; i++) s.frame_shape[i] = frame_shape[i];
  s.time_unit = "step";
  s.dt = 1.0;
  return s;
}

static nd_status mkdir_one(const char *path) {
  if (mkdir(path, 0777) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ND_OK;
    return nd__error(ND_ERR_IO, "%s: exists and is not a directory", path);
  }
  return nd__error(errno == ENOENT ? ND_ERR_NOT_FOUND : ND_ERR_IO, "%s: cannot create the directory: %s", path,
                   strerror(errno));
}

static cJSON *stream_json(const nd_record_stream_info *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", s->name);
  cJSON_AddStringToObject(o, "kind", kind_names[s->kind]);
  cJSON *shape = cJSON_AddArrayToObject(o, "frame_shape");
  for (int i = 0; i < s->ndim; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)s->frame_shape[i]));
  cJSON_AddStringToObject(o, "dtype", s->dtype == ND_DTYPE_U8 ? "uint8" : "float32");
  cJSON_AddStringToObject(o, "time_unit", s->time_unit);
  cJSON_AddNumberToObject(o, "dt", s->dt);
  if (s->positions) cJSON_AddStringToObject(o, "positions", s->positions);
  if (s->labels_json) {
    cJSON *l = cJSON_Parse(s->labels_json);
    if (l) cJSON_AddItemToObject(o, "labels", l);
  }
  cJSON *chunks = cJSON_AddArrayToObject(o, "chunks");
  for (int i = 0; i < s->nchunks; i++) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "file", s->chunks[i].file);
    cJSON_AddNumberToObject(c, "t0", (double)s->chunks[i].t0);
    cJSON_AddNumberToObject(c, "frames", (double)s->chunks[i].frames);
    cJSON_AddItemToArray(chunks, c);
  }
  return o;
}

/* Rewritten after every chunk without fsync (rename keeps it atomic for
 * readers); synced when the recorder closes. */
static nd_status write_index_sync(nd_recorder *r, bool sync) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "format", FORMAT_NAME);
  cJSON_AddNumberToObject(root, "version", ND_RECORD_VERSION);
  cJSON *arr = cJSON_AddArrayToObject(root, "streams");
  for (int i = 0; root && arr && i < r->n; i++) cJSON_AddItemToArray(arr, stream_json(&r->streams[i]->info));
  char *text = root ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) return nd__error(ND_ERR_NOMEM, "%s: cannot format the index", r->index_path);
  nd__afile f;
  nd_status s = nd__afile_open(&f, r->index_path);
  if (s == ND_OK) {
    f.no_sync = !sync;
    nd__afile_write(&f, text, strlen(text));
    nd__afile_write(&f, "\n", 1);
    s = nd__afile_commit(&f);
  }
  free(text);
  return s;
}

static nd_status write_index(nd_recorder *r) { return write_index_sync(r, false); }

static void stream_free(nd_record_stream *s) {
  if (!s) return;
  stream_info_release(&s->info);
  free(s->buf);
  free(s);
}

static void recorder_destroy(nd_recorder *r) {
  for (int i = 0; i < r->n; i++) stream_free(r->streams[i]);
  free(r->streams);
  free(r->dir);
  free(r->index_path);
  free(r);
}

static nd_status add_stream(nd_recorder *r, nd_record_stream *s) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 8;
    nd_record_stream **p = realloc(r->streams, (size_t)cap * sizeof *p);
    if (!p) return nd__error(ND_ERR_NOMEM, "%s: out of memory", r->dir);
    r->streams = p;
    r->cap = cap;
  }
  r->streams[r->n++] = s;
  return ND_OK;
}

/* Streams of an existing index: kept (append) or their files removed. */
static nd_status take_old_index(nd_recorder *r, bool append) {
  struct stat st;
  if (stat(r->index_path, &st) != 0) return ND_OK;
  nd_record_index ix;
  nd_status s = nd_record_index_read(r->index_path, &ix);
  if (s != ND_OK) {
    if (append) return nd__error(s, "cannot append to the recording: %s", nd_last_error());
    return ND_OK; /* replaced below; its files are left alone */
  }
  for (int i = 0; s == ND_OK && i < ix.nstreams; i++) {
    nd_record_stream_info *info = &ix.streams[i];
    if (!append) {
      for (int c = 0; c < info->nchunks; c++) {
        char *p = join(r->dir, info->chunks[c].file);
        if (p) unlink(p);
        free(p);
      }
      if (info->positions) {
        char *p = join(r->dir, info->positions);
        if (p) unlink(p);
        free(p);
      }
      continue;
    }
    nd_record_stream *rs = calloc(1, sizeof *rs);
    if (!rs) {
      s = nd__error(ND_ERR_NOMEM, "%s: out of memory", r->dir);
      break;
    }
    rs->rec = r;
    rs->info = *info;
    memset(info, 0, sizeof *info);
    rs->cap_chunks = rs->info.nchunks;
    s = add_stream(r, rs);
    if (s != ND_OK) stream_free(rs);
  }
  nd_record_index_release(&ix);
  return s;
}

nd_status nd_recorder_open(const char *run_dir, unsigned flags, nd_recorder **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "recorder_open: out is NULL");
  *out = NULL;
  if (!run_dir || !*run_dir) return nd__error(ND_ERR_INVALID_ARG, "recorder_open: empty run directory");
  if (flags & ~ND_RECORD_APPEND) return nd__error(ND_ERR_INVALID_ARG, "recorder_open: unknown flags 0x%x", flags);
  nd_recorder *r = calloc(1, sizeof *r);
  if (!r) return nd__error(ND_ERR_NOMEM, "recorder_open: out of memory");
  r->dir = join(run_dir, "record");
  r->index_path = r->dir ? join(r->dir, "index.json") : NULL;
  nd_status s = r->index_path ? ND_OK : nd__error(ND_ERR_NOMEM, "recorder_open: out of memory");
  if (s == ND_OK) s = mkdir_one(run_dir);
  if (s == ND_OK) s = mkdir_one(r->dir);
  if (s == ND_OK) s = take_old_index(r, flags & ND_RECORD_APPEND);
  if (s == ND_OK) s = write_index(r);
  if (s != ND_OK) {
    recorder_destroy(r);
    return s;
  }
  *out = r;
  return ND_OK;
}

static nd_status check_spec(const nd_recorder *r, const nd_record_stream_spec *sp, int64_t *size) {
  const char *nm = sp->name && valid_name(sp->name, ND_RECORD_NAME_MAX) ? sp->name : NULL;
  if (!nm)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream name \"%.80s\" is not [A-Za-z0-9_.-]+ of at most %d characters",
                     r->dir, sp->name ? sp->name : "(null)", ND_RECORD_NAME_MAX);
  if ((unsigned)sp->kind >= ND_RECORD_KIND_COUNT_)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": kind %d is not a record kind", r->dir, nm, (int)sp->kind);
  if (sp->ndim < 1 || sp->ndim > ND_RECORD_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": ndim %d, expected 1 to %d", r->dir, nm, sp->ndim,
                     ND_RECORD_MAX_DIMS);
  const char *why = shape_problem(sp->kind, sp->ndim, sp->frame_shape, size);
  if (*why) return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": frame_shape: %s", r->dir, nm, why);
  if (*size > ND_RECORD_CHUNK_MAX_BYTES / (sp->uint8 ? 1 : (int64_t)sizeof(float)))
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": a frame of %lld values is over %lld MiB", r->dir, nm,
                     (long long)*size, (long long)(ND_RECORD_CHUNK_MAX_BYTES >> 20));
  if (sp->uint8 && sp->kind != ND_RECORD_RASTER)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": uint8 frames are for a raster stream only", r->dir, nm);
  if (sp->time_unit && !valid_time_unit(sp->time_unit))
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": time_unit \"%.16s\" is not step, ms or epoch", r->dir,
                     nm, sp->time_unit);
  if (!isfinite(sp->dt) || !(sp->dt > 0))
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": dt %g is not a positive number", r->dir, nm, sp->dt);
  if (sp->positions && sp->kind != ND_RECORD_GRID3D)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": positions are for a grid3d stream only", r->dir, nm);
  if (sp->chunk_frames < 0)
    return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": chunk_frames %d is negative", r->dir, nm,
                     sp->chunk_frames);
  if (sp->labels_json) {
    cJSON *l = cJSON_Parse(sp->labels_json);
    bool ok = cJSON_IsObject(l);
    cJSON_Delete(l);
    if (!ok) return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\": labels_json is not a JSON object", r->dir, nm);
  }
  return ND_OK;
}

static nd_status write_positions(nd_record_stream *s, const float *pos) {
  size_t n = strlen(s->info.name) + 16;
  s->info.positions = malloc(n);
  if (!s->info.positions) return nd__error(ND_ERR_NOMEM, "out of memory");
  snprintf(s->info.positions, n, "%s_positions.npy", s->info.name);
  char *path = join(s->rec->dir, s->info.positions);
  if (!path) return nd__error(ND_ERR_NOMEM, "out of memory");
  int64_t shape[2] = {s->info.frame_size, 3};
  nd__afile f;
  nd_status st = nd__afile_open(&f, path);
  if (st == ND_OK) {
    nd__npy_write_header(&f, nd__little_endian() ? "<f4" : ">f4", 2, shape);
    nd__afile_write(&f, pos, (size_t)shape[0] * 3 * sizeof(float));
    st = nd__afile_commit(&f);
  }
  free(path);
  return st;
}

/* An earlier run's stream of the same name: the same kind, shape and dtype. */
static nd_status resume_stream(nd_record_stream *old, const nd_record_stream_info *want) {
  const nd_record_stream_info *o = &old->info;
  bool same = o->kind == want->kind && o->ndim == want->ndim && o->dtype == want->dtype;
  for (int i = 0; same && i < o->ndim; i++) same = o->frame_shape[i] == want->frame_shape[i];
  if (old->declared) return nd__error(ND_ERR_INVALID_ARG, "%s: stream \"%s\" is declared twice", old->rec->dir, o->name);
  if (!same)
    return nd__error(ND_ERR_INVALID_ARG,
                     "%s: stream \"%s\": the recording being appended to has another kind, frame shape or dtype",
                     old->rec->dir, o->name);
  return ND_OK;
}

nd_status nd_recorder_stream(nd_recorder *r, const nd_record_stream_spec *spec, nd_record_stream **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "recorder_stream: out is NULL");
  *out = NULL;
  if (!r || !spec) return nd__error(ND_ERR_INVALID_ARG, "recorder_stream: NULL recorder or spec");
  int64_t size = 0;
  ND_TRY(check_spec(r, spec, &size));
  nd_record_stream *s = calloc(1, sizeof *s);
  if (!s) return nd__error(ND_ERR_NOMEM, "recorder_stream: out of memory");
  s->rec = r;
  s->declared = true;
  nd_record_stream_info *in = &s->info;
  in->kind = spec->kind;
  in->ndim = spec->ndim;
  memcpy(in->frame_shape, spec->frame_shape, sizeof in->frame_shape);
  in->frame_size = size;
  in->dtype = spec->uint8 ? ND_DTYPE_U8 : ND_DTYPE_F32;
  snprintf(in->time_unit, sizeof in->time_unit, "%s", spec->time_unit ? spec->time_unit : "step");
  in->dt = spec->dt;
  s->esize = spec->uint8 ? 1 : sizeof(float);
  int64_t cf = spec->chunk_frames ? spec->chunk_frames : ND_RECORD_CHUNK_FRAMES;
  int64_t fit = ND_RECORD_CHUNK_MAX_BYTES / (size * (int64_t)s->esize);
  s->chunk_frames = (int)(cf < fit ? cf : fit > 1 ? fit : 1);
  in->name = dup_str(spec->name);
  in->labels_json = spec->labels_json ? dup_str(spec->labels_json) : NULL;
  s->buf = malloc((size_t)s->chunk_frames * (size_t)size * s->esize);
  nd_status st = in->name && s->buf && (!spec->labels_json || in->labels_json)
                     ? ND_OK
                     : nd__error(ND_ERR_NOMEM, "%s: stream \"%s\": cannot allocate a chunk of %d frames", r->dir,
                                 spec->name, s->chunk_frames);
  int slot = -1;
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->streams[i]->info.name, spec->name) == 0) slot = i;
  if (st == ND_OK && slot >= 0) st = resume_stream(r->streams[slot], in);
  if (st == ND_OK && spec->positions) st = write_positions(s, spec->positions);
  if (st == ND_OK && slot < 0) st = add_stream(r, s);
  if (st != ND_OK) {
    stream_free(s);
    return st;
  }
  if (slot >= 0) { /* continue the earlier run's chunks */
    nd_record_stream *old = r->streams[slot];
    in->chunks = old->info.chunks;
    in->nchunks = old->info.nchunks;
    in->frames = old->info.frames;
    s->cap_chunks = old->cap_chunks;
    old->info.chunks = NULL;
    old->info.nchunks = 0;
    stream_free(old);
    r->streams[slot] = s;
  }
  st = write_index(r);
  if (st != ND_OK) return st;
  *out = s;
  return ND_OK;
}

static nd_status write_chunk(nd_record_stream *s) {
  nd_record_stream_info *in = &s->info;
  if (in->nchunks == s->cap_chunks) {
    int cap = s->cap_chunks ? 2 * s->cap_chunks : 16;
    nd_record_chunk *c = realloc(in->chunks, (size_t)cap * sizeof *c);
    if (!c) return nd__error(ND_ERR_NOMEM, "%s: out of memory", s->rec->dir);
    in->chunks = c;
    s->cap_chunks = cap;
  }
  size_t fn = strlen(in->name) + 24;
  char *file = malloc(fn);
  if (!file) return nd__error(ND_ERR_NOMEM, "%s: out of memory", s->rec->dir);
  snprintf(file, fn, "%s_%06d.npy", in->name, in->nchunks);
  char *path = join(s->rec->dir, file);
  int64_t shape[ND_RECORD_MAX_DIMS + 1] = {s->buffered};
  memcpy(shape + 1, in->frame_shape, (size_t)in->ndim * sizeof *shape);
  const char *descr = s->esize == 1 ? "|u1" : nd__little_endian() ? "<f4" : ">f4";
  nd__afile f;
  nd_status st = path ? nd__afile_open(&f, path) : nd__error(ND_ERR_NOMEM, "out of memory");
  if (st == ND_OK) {
    f.no_sync = true; /* the index that names it is synced on close */
    nd__npy_write_header(&f, descr, in->ndim + 1, shape);
    nd__afile_write(&f, s->buf, (size_t)s->buffered * (size_t)in->frame_size * s->esize);
    st = nd__afile_commit(&f);
  }
  free(path);
  if (st != ND_OK) {
    free(file);
    return st;
  }
  in->chunks[in->nchunks++] = (nd_record_chunk){file, in->frames, s->buffered};
  in->frames += s->buffered;
  s->buffered = 0;
  return write_index(s->rec);
}

static nd_status note(nd_recorder *r, nd_status s) {
  if (s != ND_OK && r->status == ND_OK) r->status = s;
  return s;
}

nd_status nd_recorder_push(nd_record_stream *s, const float *frame) {
  if (!s || !frame) return nd__error(ND_ERR_INVALID_ARG, "recorder_push: NULL stream or frame");
  if (!s->buf) return nd__error(ND_ERR_INVALID_ARG, "recorder_push: stream \"%s\" is not declared", s->info.name);
  if (s->buffered == s->chunk_frames) /* the last write failed: try it again first */
    ND_TRY(note(s->rec, write_chunk(s)));
  size_t n = (size_t)s->info.frame_size;
  unsigned char *dst = s->buf + (size_t)s->buffered * n * s->esize;
  if (s->esize == 1)
    for (size_t i = 0; i < n; i++) dst[i] = frame[i] != 0.0f;
  else
    memcpy(dst, frame, n * sizeof(float));
  if (++s->buffered < s->chunk_frames) return ND_OK;
  return note(s->rec, write_chunk(s));
}

nd_status nd_recorder_flush(nd_recorder *r) {
  if (!r) return nd__error(ND_ERR_INVALID_ARG, "recorder_flush: recorder is NULL");
  nd_status first = ND_OK;
  for (int i = 0; i < r->n; i++)
    if (r->streams[i]->buffered > 0) {
      nd_status s = note(r, write_chunk(r->streams[i]));
      if (first == ND_OK) first = s;
    }
  return first;
}

nd_status nd_recorder_close(nd_recorder *r) {
  if (!r) return ND_OK;
  nd_recorder_flush(r);
  int fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) { /* the chunks, written without fsync, reach the disk before the final index */
    syncfs(fd);
    close(fd);
  }
  note(r, write_index_sync(r, true));
  nd_status s = r->status;
  recorder_destroy(r);
  return s;
}
