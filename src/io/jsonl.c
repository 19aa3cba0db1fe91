/* JSON Lines metrics log: one JSON object per line, flushed line by line. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_internal.h"

struct nd_jsonl {
  FILE *f;
  char *path;
  char *line; /* reused line buffer */
  size_t cap, len;
};

static nd_status jsonl_open(const char *path, const char *mode, nd_jsonl **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "jsonl_open: out is NULL");
  *out = NULL;
  if (!path || !*path) return nd__error(ND_ERR_INVALID_ARG, "jsonl_open: empty path");
  nd_jsonl *w = calloc(1, sizeof *w);
  if (!w) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the writer", path);
  w->path = malloc(strlen(path) + 1);
  if (!w->path) {
    free(w);
    return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the writer", path);
  }
  strcpy(w->path, path);
  /* O_NONBLOCK: a FIFO at path fails at once (ENXIO without a reader) or is
   * refused below, instead of blocking the run. */
  const bool append = mode[0] == 'a';
  int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | (append ? O_APPEND : 0), 0666);
  struct stat st;
  nd_status s = ND_OK;
  if (fd < 0) {
    int e = errno;
    s = nd__error(e == ENOENT ? ND_ERR_NOT_FOUND
                  : (e == EACCES || e == EISDIR || e == ENOTDIR || e == ENXIO || e == ELOOP) ? ND_ERR_INVALID_ARG
                                                                                             : ND_ERR_IO,
                  "%s: cannot open for writing: %s", path, strerror(e));
  } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    s = nd__error(ND_ERR_INVALID_ARG, "%s: not a regular file", path);
  } else if (!append && ftruncate(fd, 0) != 0) {
    s = nd__error(ND_ERR_IO, "%s: cannot truncate: %s", path, strerror(errno));
  } else {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    w->f = fdopen(fd, append ? "a" : "w");
    if (!w->f) s = nd__error(ND_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
  }
  if (s != ND_OK) {
    if (fd >= 0 && !w->f) close(fd);
    free(w->path);
    free(w);
    return s;
  }
  *out = w;
  return ND_OK;
}

nd_status nd_jsonl_open(const char *path, nd_jsonl **out) { return jsonl_open(path, "w", out); }
nd_status nd_jsonl_open_append(const char *path, nd_jsonl **out) { return jsonl_open(path, "a", out); }

static bool reserve(nd_jsonl *w, size_t extra) {
  if (w->len + extra + 1 <= w->cap) return true;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < w->len + extra + 1) cap *= 2;
  char *p = realloc(w->line, cap);
  if (!p) return false;
  w->line = p;
  w->cap = cap;
  return true;
}

static bool put(nd_jsonl *w, const char *s, size_t n) {
  if (!reserve(w, n)) return false;
  memcpy(w->line + w->len, s, n);
  w->len += n;
  w->line[w->len] = 0;
  return true;
}

static bool put_str(nd_jsonl *w, const char *s) {
  if (!put(w, "\"", 1)) return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      if (!put(w, esc, 2)) return false;
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      if (!put(w, esc, 6)) return false;
    } else if (!put(w, (const char *)p, 1)) {
      return false;
    }
  }
  return put(w, "\"", 1);
}

/* Shortest of %.15g, %.16g, %.17g that reads back exactly. */
static bool put_num(nd_jsonl *w, double v) {
  if (!isfinite(v)) return put(w, "null", 4);
  char num[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(num, sizeof num, "%.*g", prec, v);
    if (strtod(num, NULL) == v) break;
  }
  return put(w, num, strlen(num));
}

nd_status nd_jsonl_write(nd_jsonl *w, int n, const nd_jsonl_field *fields) {
  if (!w) return nd__error(ND_ERR_INVALID_ARG, "jsonl_write: writer is NULL");
  if (n < 0 || (n > 0 && !fields))
    return nd__error(ND_ERR_INVALID_ARG, "%s: jsonl_write: %d fields%s", w->path, n, fields ? "" : " and no field array");
  w->len = 0;
  bool ok = put(w, "{", 1);
  for (int i = 0; ok && i < n; i++) {
    const nd_jsonl_field *f = &fields[i];
    if (!f->name) return nd__error(ND_ERR_INVALID_ARG, "%s: field %d has no name", w->path, i);
    ok = (i == 0 || put(w, ", ", 2)) && put_str(w, f->name) && put(w, ": ", 2);
    if (!ok) break;
    switch (f->kind) {
      case ND_JSONL_NUM: ok = put_num(w, f->num); break;
      case ND_JSONL_INT: {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)f->i);
        ok = put(w, num, strlen(num));
        break;
      }
      case ND_JSONL_STR: ok = f->str ? put_str(w, f->str) : put(w, "null", 4); break;
      case ND_JSONL_BOOL: ok = f->i ? put(w, "true", 4) : put(w, "false", 5); break;
      case ND_JSONL_NUMS:
        if (f->i < 0 || (f->i > 0 && !f->nums))
          return nd__error(ND_ERR_INVALID_ARG, "%s: field \"%s\": %lld numbers%s", w->path, f->name, (long long)f->i,
                           f->nums ? "" : " and no array");
        ok = put(w, "[", 1);
        for (int64_t j = 0; ok && j < f->i; j++) ok = (j == 0 || put(w, ", ", 2)) && put_num(w, f->nums[j]);
        ok = ok && put(w, "]", 1);
        break;
      default: return nd__error(ND_ERR_INVALID_ARG, "%s: field \"%s\" has an unknown kind %d", w->path, f->name, (int)f->kind);
    }
  }
  ok = ok && put(w, "}\n", 2);
  if (!ok) return nd__error(ND_ERR_NOMEM, "%s: cannot allocate the line", w->path);
  if (fwrite(w->line, 1, w->len, w->f) != w->len || fflush(w->f) != 0)
    return nd__error(ND_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
  return ND_OK;
}

nd_status nd_jsonl_close(nd_jsonl *w) {
  if (!w) return ND_OK;
  nd_status s = ND_OK;
  if (fclose(w->f) != 0) s = nd__error(ND_ERR_IO, "%s: close failed: %s", w->path, strerror(errno));
  free(w->line);
  free(w->path);
  free(w);
  return s;
}
