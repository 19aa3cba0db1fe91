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
 * set, else to the number of cores.  n <= 0 restores that default. */
ND_API void nd_set_num_threads(int n);
ND_API int nd_get_num_threads(void);

/* Aligned allocation (64 bytes) used for every tensor buffer. */
ND_API void *nd_aligned_alloc(size_t bytes);
ND_API void nd_aligned_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
