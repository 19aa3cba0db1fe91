/* Status codes, thread-local error message, logging callback, version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static const char *const status_names[ND_STATUS_COUNT_] = {
    [ND_OK] = "ok",
    [ND_ERR_INVALID_ARG] = "invalid argument",
    [ND_ERR_SHAPE] = "shape mismatch",
    [ND_ERR_NOMEM] = "out of memory",
    [ND_ERR_IO] = "input/output error",
    [ND_ERR_FORMAT] = "malformed file",
    [ND_ERR_UNSUPPORTED] = "unsupported",
    [ND_ERR_NUMERIC] = "numerical failure",
    [ND_ERR_NOT_FOUND] = "not found",
    [ND_ERR_INTERNAL] = "internal error",
};

const char *nd_version(void) { return ND_VERSION_STRING; }

const char *nd_status_str(nd_status s) {
  if ((int)s < 0 || s >= ND_STATUS_COUNT_) return "unknown status";
  return status_names[s];
}

/* Large enough for two PATH_MAX paths and a reason; a longer message keeps
 * its beginning and its end (where the reason usually is) and says how much
 * of the middle was cut. */
#define ND__ERROR_CAP 8192
static _Thread_local char last_error[ND__ERROR_CAP];

const char *nd_last_error(void) { return last_error; }
void nd_clear_error(void) { last_error[0] = '\0'; }

/* The message is formatted into a separate buffer first and copied into
 * last_error only once complete, so an argument that points into last_error
 * itself (nd__error(s, "ctx: %s", nd_last_error())) is read intact. */
static void set_last_error(const char *fmt, va_list ap) {
  char local[ND__ERROR_CAP];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(local, sizeof local, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    snprintf(last_error, sizeof last_error, "(unprintable error message)");
    return;
  }
  if ((size_t)n < sizeof local) {
    va_end(ap2);
    memcpy(last_error, local, (size_t)n + 1);
    return;
  }
  /* Too long: format it whole on the heap and elide the middle. */
  char *full = malloc((size_t)n + 1);
  if (!full) {
    va_end(ap2);
    memcpy(last_error, local, sizeof last_error); /* vsnprintf terminated it */
    return;
  }
  vsnprintf(full, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  char mark[64];
  const size_t keep = (sizeof last_error - sizeof mark) / 2;
  int m = snprintf(mark, sizeof mark, " [... %zu characters cut ...] ", (size_t)n - 2 * keep);
  memcpy(last_error, full, keep);
  memcpy(last_error + keep, mark, (size_t)m);
  memcpy(last_error + keep + (size_t)m, full + (size_t)n - keep, keep);
  last_error[keep + (size_t)m + keep] = '\0';
  free(full);
}

nd_status nd__error(nd_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_last_error(fmt, ap);
  va_end(ap);
  nd__log(ND_LOG_DEBUG, "%s: %s", nd_status_str(s), last_error);
  return s;
}

nd_status nd_set_error(nd_status s, const char *fmt, ...) {
  if (!fmt) fmt = "";
  va_list ap;
  va_start(ap, fmt);
  set_last_error(fmt, ap);
  va_end(ap);
  return s;
}

static void default_log(nd_log_level level, const char *msg, void *user) {
  (void)user;
  static const char *const names[] = {"debug", "info", "warning", "error"};
  fprintf(stderr, "neurodyn %s: %s\n", names[level < ND_LOG_OFF ? level : ND_LOG_ERROR], msg);
}

static nd_log_fn log_fn = default_log;
static void *log_user = NULL;
static nd_log_level log_threshold = ND_LOG_WARN;

void nd_set_log_callback(nd_log_fn fn, void *user) {
  log_fn = fn ? fn : default_log;
  log_user = fn ? user : NULL;
}
void nd_set_log_level(nd_log_level level) { log_threshold = level; }
nd_log_level nd_get_log_level(void) { return log_threshold; }

void nd__log(nd_log_level level, const char *fmt, ...) {
  if (level < log_threshold || level >= ND_LOG_OFF) return;
  char msg[ND__ERROR_CAP + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_fn(level, msg, log_user);
}

void *nd_aligned_alloc(size_t bytes) {
  if (bytes > ND_ALLOC_MAX_BYTES) {
    nd__error(ND_ERR_NOMEM, "could not allocate %zu bytes (more than the limit of %llu)", bytes,
              (unsigned long long)ND_ALLOC_MAX_BYTES);
    return NULL;
  }
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded == 0) rounded = 64;
  void *p = aligned_alloc(64, rounded);
  if (!p) nd__error(ND_ERR_NOMEM, "could not allocate %zu bytes", bytes);
  return p;
}

void nd_aligned_free(void *p) { free(p); }

nd_status nd__parse_choice(const char *what, const char *name, const char *const *names, int count, int *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "%s: out is NULL", what);
  *out = 0;
  if (!name) return nd__error(ND_ERR_INVALID_ARG, "%s: name is NULL", what);
  for (int i = 0; i < count; i++)
    if (!strcmp(name, names[i])) {
      *out = i;
      return ND_OK;
    }
  char list[256] = "";
  for (int i = 0; i < count; i++) {
    size_t l = strlen(list);
    snprintf(list + l, sizeof list - l, "%s%s", i ? "|" : "", names[i]);
  }
  return nd__error(ND_ERR_INVALID_ARG, "%s: unknown name '%.64s' (%s)", what, name, list);
}
