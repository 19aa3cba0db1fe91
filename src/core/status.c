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

static _Thread_local char last_error[1024];

const char *nd_last_error(void) { return last_error; }
void nd_clear_error(void) { last_error[0] = '\0'; }

nd_status nd__error(nd_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  nd__log(ND_LOG_DEBUG, "%s: %s", nd_status_str(s), last_error);
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
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log_fn(level, msg, log_user);
}

void *nd_aligned_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (rounded == 0) rounded = 64;
  void *p = aligned_alloc(64, rounded);
  if (!p) nd__error(ND_ERR_NOMEM, "could not allocate %zu bytes", bytes);
  return p;
}

void nd_aligned_free(void *p) { free(p); }
