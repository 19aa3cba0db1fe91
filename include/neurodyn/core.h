/* neurodyn core: status codes, error messages, logging, threads, version.
 *
 * Every library function that can fail returns nd_status (ND_OK == 0).  On
 * failure, nd_last_error() returns a thread-local, human-readable message that
 * names the file, field or shape that was wrong.  The library never exits,
 * aborts or prints; messages go through the log callback. */
#ifndef NEURODYN_CORE_H
#define NEURODYN_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ND_API marks the public functions: the shared library is built with
 * -fvisibility=hidden, so only what carries this mark is exported. */
#if defined(ND_BUILDING_LIBRARY) && defined(__GNUC__)
#define ND_API __attribute__((visibility("default")))
#else
#define ND_API
#endif

#define ND_VERSION_MAJOR 0
#define ND_VERSION_MINOR 1
#define ND_VERSION_PATCH 0
#define ND_VERSION_STRING "0.1.0"

/* Returns ND_VERSION_STRING of the library actually linked. */
ND_API const char *nd_version(void);

typedef enum nd_status {
  ND_OK = 0,
  ND_ERR_INVALID_ARG,   /* an argument is out of range or NULL where it may not be */
  ND_ERR_SHAPE,         /* tensor shapes do not agree */
  ND_ERR_NOMEM,         /* an allocation failed */
  ND_ERR_IO,            /* a file could not be opened, read or written */
  ND_ERR_FORMAT,        /* a file's content is malformed (bad magic, truncated, lies about sizes) */
  ND_ERR_UNSUPPORTED,   /* valid request that this build or backend does not support */
  ND_ERR_NUMERIC,       /* NaN/Inf or a solver that did not converge */
  ND_ERR_NOT_FOUND,     /* a named item (tensor in a file, data set, command) does not exist */
  ND_ERR_INTERNAL,      /* a bug in neurodyn */
  ND_STATUS_COUNT_
} nd_status;

/* Short constant description of a status code ("invalid argument", ...). */
ND_API const char *nd_status_str(nd_status s);

/* Detailed message of the last failure on this thread ("" if none). */
ND_API const char *nd_last_error(void);
ND_API void nd_clear_error(void);
/* Records a failure of the caller's own (a program or a binding on top of
 * the library) so that it reads like a library one: sets the message
 * nd_last_error() returns and returns s. */
ND_API nd_status nd_set_error(nd_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Logging.  Levels follow the usual order; the default callback writes
 * WARN and above to stderr.  Pass NULL to restore the default. */
typedef enum nd_log_level {
  ND_LOG_DEBUG = 0,
  ND_LOG_INFO = 1,
  ND_LOG_WARN = 2,
  ND_LOG_ERROR = 3,
  ND_LOG_OFF = 4
} nd_log_level;
typedef void (*nd_log_fn)(nd_log_level level, const char *msg, void *user);
ND_API void nd_set_log_callback(nd_log_fn fn, void *user);
ND_API void nd_set_log_level(nd_log_level level);
ND_API nd_log_level nd_get_log_level(void);

/* Threads used by OpenMP regions and BLAS.  Defaults to $ND_NUM_THREADS if
 * that is valid, else to the number of cores.  n == 0 restores that default;
 * n outside 0..nd_max_threads() is refused with ND_ERR_INVALID_ARG (the count
 * is left unchanged). */
#define ND_MAX_THREADS 1024 /* hard cap on any thread count */
ND_API nd_status nd_set_num_threads(int n);
ND_API int nd_get_num_threads(void);
/* Largest thread count accepted: 4 x the online cores, at most ND_MAX_THREADS. */
ND_API int nd_max_threads(void);
/* Parses a thread count (decimal, 1..nd_max_threads(), nothing else in the
 * string) into *out; on failure ND_ERR_INVALID_ARG with a message naming
 * `source` (e.g. "--threads") and the value.  For programs that read counts. */
ND_API nd_status nd_parse_num_threads(const char *text, const char *source, int *out);
/* $ND_NUM_THREADS checked the same way: *out = 0 if unset, the count if valid,
 * else ND_ERR_INVALID_ARG naming the variable.  The library itself only logs a
 * bad value and ignores it (it cannot exit); a program calls this at start-up
 * to refuse it. */
ND_API nd_status nd_num_threads_from_env(int *out);

/* Aligned allocation (64 bytes) used for every tensor buffer: NULL with an
 * error set if the system is out of memory or bytes > ND_ALLOC_MAX_BYTES.
 * nd_aligned_free(NULL) is a no-op. */
#define ND_ALLOC_MAX_BYTES ((size_t)1 << 40)
ND_API void *nd_aligned_alloc(size_t bytes);
ND_API void nd_aligned_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
