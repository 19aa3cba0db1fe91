/* The CLI contract shared by every command: one-line failures with the exit
 * code rule, directories, --threads and --quiet (see options.h). */
#include "options.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "neurodyn/neurodyn.h"
#include "options_internal.h"
#include "progress.h"

/* Where failures are printed (NULL: stderr); the --config fuzz target sets it. */
FILE *nd__cli_err_stream = NULL;

static int cli_vfail(int code, const char *prefix, const char *prog, const char *fmt, va_list ap) {
  /* Room for a library message (at most 8 KiB, see nd_last_error) and context. */
  char msg[16384];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* One line: newlines inside a message become spaces. */
  for (char *c = msg; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  fprintf(nd__cli_err_stream ? nd__cli_err_stream : stderr, "%s%s: %s\n", prefix, prog, msg);
  return code;
}

int nd_cli_fail(int code, const char *prog, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cli_vfail(code, "", prog, fmt, ap);
  va_end(ap);
  return rc;
}

int nd_cli_cmd_fail(const char *cmd, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cli_vfail(code, "neurodyn ", cmd, fmt, ap);
  va_end(ap);
  return rc;
}

int nd_cli_lib_fail(const char *cmd, nd_status s) {
  const char *m = nd_last_error();
  return nd_cli_cmd_fail(cmd, nd_cli_status_code(s), "%s", m && m[0] ? m : nd_status_str(s));
}

int nd_cli_status_code(nd_status s) {
  switch (s) {
    case ND_OK: return 0;
    case ND_ERR_INVALID_ARG:
    case ND_ERR_SHAPE:
    case ND_ERR_FORMAT:
    case ND_ERR_NOT_FOUND:
    case ND_ERR_UNSUPPORTED: return 2;
    default: return 1;
  }
}

nd_status nd_cli_mkdirs(const char *dir) {
  char buf[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf) return nd_set_error(ND_ERR_INVALID_ARG, "bad directory name '%s'", dir);
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return nd_set_error(ND_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
    buf[i] = saved;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return nd_set_error(ND_ERR_IO, "'%s' exists and is not a directory", dir);
  return ND_OK;
}

void nd_cli_common_apply(const nd_cli_common *c) {
  if (c->threads > 0 && nd_set_num_threads(c->threads) != ND_OK)
    nd_cli_fail(1, "neurodyn", "%s", nd_last_error()); /* unreachable: the parser checked the range */
  nd_progress_set_quiet(c->quiet);
  if (c->quiet) nd_set_log_level(ND_LOG_ERROR);
}

/* ------------------------------------------------------------ helpers */


int nd_cli_check_finite(const char *prog, const char *path, const char *what, const nd_tensor *t) {
  const int64_t n = nd_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(t->data[i])) {
      char sh[96];
      return nd_cli_fail(2, prog, "%s: %s %s holds a NaN or infinite value (element %lld)", path, what,
                         nd_tensor_shape_str(t, sh, sizeof sh), (long long)i);
    }
  return 0;
}

int nd_cli_write_tensor(const char *prog, const char *path, const char *name, const nd_tensor *t) {
  nd_status s;
  if (nd_file_format_of_name(path) == ND_FILE_SAFETENSORS) {
    const char *names[1] = {name};
    const nd_tensor *ts[1] = {t};
    s = nd_safetensors_write(path, 1, names, ts, NULL);
  } else {
    s = nd_npy_write(path, t);
  }
  return s == ND_OK ? 0 : nd_cli_fail(1, prog, "%s", nd_last_error());
}

bool nd_cli_find_beside(const char *installed, const char *source, bool (*ok)(const char *path), char *buf,
                        size_t len) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return false;
  *slash = '\0'; /* the program's directory */
  snprintf(buf, len, "%s/../%s", exe, installed);
  if (ok(buf)) return true;
  static const char *const up[3] = {"..", "../..", "../../.."};
  for (int i = 0; i < 3; i++) {
    snprintf(buf, len, "%s/%s/%s", exe, up[i], source);
    if (ok(buf)) return true;
  }
  return false;
}
