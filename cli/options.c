/* Typed option parser, --config JSON files and the resolved-config writer
 * (see options.h). */
#include "options.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"
#include "progress.h"

/* Where failures are printed (NULL: stderr); the --config fuzz target sets it. */
static FILE *cli_err_stream = NULL;

static int cli_vfail(int code, const char *prefix, const char *prog, const char *fmt, va_list ap) {
  /* Room for a library message (at most 8 KiB, see nd_last_error) and context. */
  char msg[16384];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* One line: newlines inside a message become spaces. */
  for (char *c = msg; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  fprintf(cli_err_stream ? cli_err_stream : stderr, "%s%s: %s\n", prefix, prog, msg);
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
  if (n == 0 || n >= sizeof buf) return nd__error(ND_ERR_INVALID_ARG, "bad directory name '%s'", dir);
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return nd__error(ND_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
    buf[i] = saved;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return nd__error(ND_ERR_IO, "'%s' exists and is not a directory", dir);
  return ND_OK;
}

void nd_cli_common_apply(const nd_cli_common *c) {
  if (c->threads > 0 && nd_set_num_threads(c->threads) != ND_OK)
    nd_cli_fail(1, "neurodyn", "%s", nd_last_error()); /* unreachable: the parser checked the range */
  nd_progress_set_quiet(c->quiet);
  if (c->quiet) nd_set_log_level(ND_LOG_ERROR);
}

/* ------------------------------------------------------------ helpers */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *type_metavar(const nd_option *o) {
  switch (o->type) {
    case ND_OPT_INT:
    case ND_OPT_INT64: return "N";
    case ND_OPT_DOUBLE: return "X";
    case ND_OPT_STRING:
      return !strcmp(o->name, "out") || !strcmp(o->name, "data") || ends_with(o->name, "-dir") ||
                     (o->help && strstr(o->help, " DIR"))
                 ? "DIR"
                 : "FILE";
    default: return "";
  }
}

/* Option names compare with '-' and '_' equal. */
static bool name_eq(const char *a, const char *b, size_t blen) {
  size_t i = 0;
  for (; i < blen && a[i]; i++) {
    char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
    if (x != y) return false;
  }
  return i == blen && a[i] == '\0';
}

static const nd_option *find_option(const nd_opts *spec, const char *name, size_t len) {
  for (const nd_option *o = spec->options; o && o->name; o++)
    if (name_eq(o->name, name, len)) return o;
  return NULL;
}

static bool keep_string(nd_args *args, char *s) {
  if (args->n_owned_ == args->cap_owned_) {
    int cap = args->cap_owned_ ? 2 * args->cap_owned_ : 8;
    char **p = realloc(args->owned_, (size_t)cap * sizeof *p);
    if (!p) return false;
    args->owned_ = p;
    args->cap_owned_ = cap;
  }
  args->owned_[args->n_owned_++] = s;
  return true;
}

void nd_args_release(nd_args *args) {
  if (!args) return;
  for (int i = 0; i < args->n_owned_; i++) free(args->owned_[i]);
  free(args->owned_);
  free(args->pos);
  memset(args, 0, sizeof *args);
}

/* Parses text into o's destination.  On failure writes the reason into err. */
static bool set_value(const nd_option *o, const char *text, char *err, size_t errlen) {
  char *end = NULL;
  switch (o->type) {
    case ND_OPT_INT:
    case ND_OPT_INT64: {
      if (!text || !*text) {
        snprintf(err, errlen, "expects an integer, got an empty value");
        return false;
      }
      errno = 0;
      long long v = strtoll(text, &end, 10);
      if (*end != '\0') {
        snprintf(err, errlen, "expects an integer, got '%s'", text);
        return false;
      }
      if (errno == ERANGE || (o->type == ND_OPT_INT && (v < -2147483647LL - 1 || v > 2147483647LL))) {
        snprintf(err, errlen, "value '%s' is out of range", text);
        return false;
      }
      /* Every thread count goes through the library's check (1..cap; 0 keeps
       * the default), so --threads -1 or 100000 is a usage error here. */
      if (!strcmp(o->name, "threads") && v != 0) {
        int n = 0;
        if (nd_parse_num_threads(text, "--threads", &n) != ND_OK) {
          snprintf(err, errlen, "value '%s' is out of range: want 0 (the default) or 1..%d", text, nd_max_threads());
          return false;
        }
      }
      if (o->type == ND_OPT_INT)
        *(int *)o->dest = (int)v;
      else
        *(int64_t *)o->dest = (int64_t)v;
      return true;
    }
    case ND_OPT_DOUBLE: {
      if (!text || !*text) {
        snprintf(err, errlen, "expects a number, got an empty value");
        return false;
      }
      errno = 0;
      double v = strtod(text, &end);
      if (*end != '\0' || !isfinite(v)) {
        snprintf(err, errlen, "expects a finite number, got '%s'", text);
        return false;
      }
      *(double *)o->dest = v;
      return true;
    }
    case ND_OPT_STRING: *(const char **)o->dest = text; return true;
    case ND_OPT_BOOL: {
      if (!text || !strcmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "yes")) {
        *(bool *)o->dest = true;
        return true;
      }
      if (!strcmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "no")) {
        *(bool *)o->dest = false;
        return true;
      }
      snprintf(err, errlen, "expects true or false, got '%s'", text);
      return false;
    }
    case ND_OPT_CHOICE: {
      if (!o->choices || !o->choices[0]) {
        snprintf(err, errlen, "has no choices (bug in the option table)");
        return false;
      }
      if (!text) {
        *(int *)o->dest = 0;
        return true;
      }
      for (int i = 0; o->choices[i]; i++)
        if (!strcmp(o->choices[i], text)) {
          *(int *)o->dest = i;
          return true;
        }
      size_t k = (size_t)snprintf(err, errlen, "expects one of ");
      for (int i = 0; o->choices[i] && k < errlen; i++)
        k += (size_t)snprintf(err + k, errlen - k, "%s%s", i ? ", " : "", o->choices[i]);
      if (k < errlen) snprintf(err + k, errlen - k, "; got '%s'", text);
      return false;
    }
  }
  snprintf(err, errlen, "has an unknown type (bug in the option table)");
  return false;
}

static bool set_default(const nd_option *o, char *err, size_t errlen) {
  switch (o->type) {
    case ND_OPT_INT: *(int *)o->dest = 0; break;
    case ND_OPT_INT64: *(int64_t *)o->dest = 0; break;
    case ND_OPT_DOUBLE: *(double *)o->dest = 0.0; break;
    case ND_OPT_STRING: *(const char **)o->dest = NULL; break;
    case ND_OPT_BOOL: *(bool *)o->dest = false; break;
    case ND_OPT_CHOICE: *(int *)o->dest = 0; break;
  }
  return o->def ? set_value(o, o->def, err, errlen) : true;
}

/* A config key and where it starts in the file (for messages). */
typedef struct cfg_key {
  const char *name;
  size_t offset;
  int index; /* position in the object */
} cfg_key;

static int cfg_key_cmp(const void *a, const void *b) {
  const cfg_key *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Strict checks cJSON does not make, done on the raw bytes: JSON allows only
 * space, tab, LF and CR as whitespace and no raw control character inside a
 * string (cJSON skips any byte <= 32, NUL included, as whitespace), and
 * nothing may follow the value.  Also records the byte offset of every
 * top-level key, in order.  Returns false with the reason and offset in err. */
static bool config_scan(const unsigned char *b, size_t len, size_t end, size_t *key_off, int max_keys, int *n_keys,
                        char *err, size_t errlen) {
  int depth = 0, nk = 0;
  bool in_str = false, expect_key = false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = b[i];
    if (c == 0) {
      snprintf(err, errlen, "NUL byte at offset %zu", i);
      return false;
    }
    if (in_str) {
      if (c < 0x20) {
        snprintf(err, errlen, "control character 0x%02x inside a string at offset %zu", c, i);
        return false;
      }
      if (c == '\\') i++;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      snprintf(err, errlen, "control character 0x%02x at offset %zu", c, i);
      return false;
    }
    if (i >= end && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      snprintf(err, errlen, "unexpected '%c' at offset %zu after the end of the JSON object", c >= 0x20 && c < 0x7f ? c : '?', i);
      return false;
    }
    switch (c) {
      case '"':
        if (depth == 1 && expect_key && nk < max_keys) key_off[nk++] = i;
        expect_key = false;
        in_str = true;
        break;
      case '{':
      case '[':
        depth++;
        expect_key = depth == 1 && c == '{';
        break;
      case '}':
      case ']': depth--; break;
      case ',': expect_key = depth == 1; break;
      default: break;
    }
  }
  *n_keys = nk;
  return true;
}

/* Applies the JSON text buf[0..len) (buf[len] must be readable; path names
 * it in messages).  Takes buf (frees it).  Returns false after printing an
 * error.  fuzz/fuzz_config.c calls this directly. */
static bool apply_config_text(const nd_opts *spec, const char *path, unsigned char *buf, size_t len, nd_args *args);

/* Applies the JSON object in path.  Returns false after printing an error. */
static bool apply_config(const nd_opts *spec, const char *path, nd_args *args) {
  unsigned char *buf = NULL;
  size_t len = 0;
  nd_status s = nd__read_file(path, &buf, &len);
  if (s != ND_OK) {
    nd_cli_fail(2, spec->prog, "--config: %s", nd_last_error());
    return false;
  }
  return apply_config_text(spec, path, buf, len, args);
}

static bool apply_config_text(const nd_opts *spec, const char *path, unsigned char *buf, size_t len, nd_args *args) {
  if (len > ND_CLI_CONFIG_MAX_BYTES) {
    free(buf);
    nd_cli_fail(2, spec->prog, "--config %s: %zu bytes, larger than the limit of %d", path, len,
                ND_CLI_CONFIG_MAX_BYTES);
    return false;
  }
  const char *parse_end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf, len, &parse_end, false);
  if (!root) {
    size_t off = parse_end ? (size_t)(parse_end - (const char *)buf) : 0;
    /* cJSON reports where it stopped; a NUL or control byte is named first. */
    char err[160] = "";
    int nk = 0;
    size_t dummy;
    if (!config_scan(buf, len, len, &dummy, 0, &nk, err, sizeof err))
      nd_cli_fail(2, spec->prog, "--config %s: not valid JSON: %s", path, err);
    else
      nd_cli_fail(2, spec->prog, "--config %s: not valid JSON (near byte %zu)", path, off);
    free(buf);
    return false;
  }
  bool ok = true;
  if (!cJSON_IsObject(root)) {
    nd_cli_fail(2, spec->prog, "--config %s: expected a JSON object of option names and values", path);
    ok = false;
  }
  int n_items = 0;
  for (cJSON *it = ok ? root->child : NULL; it; it = it->next) n_items++;
  size_t *key_off = ok ? calloc((size_t)n_items + 1, sizeof *key_off) : NULL;
  cfg_key *keys = ok ? calloc((size_t)n_items + 1, sizeof *keys) : NULL;
  if (ok && (!key_off || !keys)) {
    nd_cli_fail(1, spec->prog, "--config %s: out of memory", path);
    ok = false;
  }
  if (ok) {
    char err[160] = "";
    int nk = 0;
    if (!config_scan(buf, len, (size_t)(parse_end - (const char *)buf), key_off, n_items, &nk, err, sizeof err)) {
      nd_cli_fail(2, spec->prog, "--config %s: %s", path, err);
      ok = false;
    } else if (nk != n_items) {
      nd_cli_fail(2, spec->prog, "--config %s: found %d keys, JSON parser found %d (bug)", path, nk, n_items);
      ok = false;
    }
  }
  /* Duplicate keys (last-wins in cJSON) are refused: sort, compare neighbours. */
  if (ok) {
    int i = 0;
    for (cJSON *it = root->child; it; it = it->next, i++)
      keys[i] = (cfg_key){it->string ? it->string : "", key_off[i], i};
    qsort(keys, (size_t)n_items, sizeof *keys, cfg_key_cmp);
    for (i = 1; i < n_items && ok; i++)
      if (!strcmp(keys[i - 1].name, keys[i].name)) {
        nd_cli_fail(2, spec->prog, "--config %s: duplicate key \"%s\" at offset %zu (first at offset %zu)", path,
                    keys[i].name, keys[i].offset, keys[i - 1].offset);
        ok = false;
      }
  }
  /* The same option under two spellings (weight-decay, weight_decay). */
  int n_opts = 0;
  for (const nd_option *o = spec->options; o && o->name; o++) n_opts++;
  size_t *seen = ok ? calloc((size_t)n_opts + 1, sizeof *seen) : NULL; /* offset + 1 of the first key */
  if (ok && !seen) {
    nd_cli_fail(1, spec->prog, "--config %s: out of memory", path);
    ok = false;
  }
  free(buf);
  int item = -1;
  for (cJSON *it = ok ? root->child : NULL; it && ok; it = it->next) {
    item++;
    const char *key = it->string;
    if (!key || key[0] == '_') continue;
    const nd_option *o = find_option(spec, key, strlen(key));
    if (!o) {
      nd_cli_fail(2, spec->prog, "--config %s: unknown option \"%s\" at offset %zu (see %s --help)", path, key,
                  key_off[item], spec->prog);
      ok = false;
      break;
    }
    size_t oi = (size_t)(o - spec->options);
    if (seen[oi]) {
      nd_cli_fail(2, spec->prog, "--config %s: key \"%s\" at offset %zu sets --%s again (first at offset %zu)", path,
                  key, key_off[item], o->name, seen[oi] - 1);
      ok = false;
      break;
    }
    seen[oi] = key_off[item] + 1;
    char err[256] = "";
    char text[64];
    const char *val = NULL;
    switch (o->type) {
      case ND_OPT_INT:
      case ND_OPT_INT64:
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble)) {
          snprintf(err, sizeof err, "expects an integer");
          break;
        }
        if (fabs(it->valuedouble) > 9.007199254740992e15) { /* 2^53: beyond exact doubles */
          snprintf(err, sizeof err, "value is out of range");
          break;
        }
        snprintf(text, sizeof text, "%.0f", it->valuedouble);
        val = text;
        break;
      case ND_OPT_DOUBLE:
        if (!cJSON_IsNumber(it)) {
          snprintf(err, sizeof err, "expects a number");
          break;
        }
        snprintf(text, sizeof text, "%.17g", it->valuedouble);
        val = text;
        break;
      case ND_OPT_BOOL:
        if (!cJSON_IsBool(it)) {
          snprintf(err, sizeof err, "expects true or false");
          break;
        }
        val = cJSON_IsTrue(it) ? "true" : "false";
        break;
      case ND_OPT_STRING:
      case ND_OPT_CHOICE:
        if (cJSON_IsNull(it) && o->type == ND_OPT_STRING) {
          *(const char **)o->dest = NULL;
          continue;
        }
        if (!cJSON_IsString(it)) {
          snprintf(err, sizeof err, "expects a string");
          break;
        }
        if (o->type == ND_OPT_STRING) {
          char *copy = strdup(it->valuestring);
          if (!copy || !keep_string(args, copy)) {
            free(copy);
            snprintf(err, sizeof err, "out of memory");
            break;
          }
          val = copy;
        } else {
          val = it->valuestring;
        }
        break;
    }
    if (!err[0] && val) set_value(o, val, err, sizeof err);
    if (err[0]) {
      nd_cli_fail(2, spec->prog, "--config %s: \"%s\" (offset %zu) %s", path, key, key_off[item], err);
      ok = false;
    }
  }
  cJSON_Delete(root);
  free(key_off);
  free(keys);
  free(seen);
  return ok;
}

/* ------------------------------------------------------------ parse */

int nd_opts_parse(const nd_opts *spec, int argc, char **argv, nd_args *args) {
  memset(args, 0, sizeof *args);
  char err[256];
  for (const nd_option *o = spec->options; o && o->name; o++) {
    err[0] = '\0';
    if (!set_default(o, err, sizeof err)) {
      nd_cli_fail(2, spec->prog, "default of --%s %s (bug in the option table)", o->name, err);
      return 2;
    }
  }
  args->pos = calloc((size_t)(argc > 0 ? argc : 1), sizeof *args->pos);
  if (!args->pos) return nd_cli_fail(1, spec->prog, "out of memory");

  /* Pass 1: --help and --config. */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) break;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      nd_opts_print_help(spec);
      nd_args_release(args);
      return 0;
    }
    if (!strcmp(a, "--config")) {
      if (i + 1 >= argc) {
        nd_args_release(args);
        return nd_cli_fail(2, spec->prog, "option --config needs a value (a JSON file)");
      }
      args->config_path = argv[++i];
    } else if (!strncmp(a, "--config=", 9)) {
      args->config_path = a + 9;
    } else if (a[0] == '-' && a[1] == '-') {
      /* Skip the value of a valued option so that a value that looks like
       * --help is not taken for it. */
      const char *name = a + 2;
      if (!strchr(name, '=')) {
        const nd_option *o = find_option(spec, name, strlen(name));
        if (o && o->type != ND_OPT_BOOL) i++;
      }
    }
  }
  if (args->config_path && !apply_config(spec, args->config_path, args)) {
    nd_args_release(args);
    return 2;
  }

  /* A command that takes --threads also refuses a bad $ND_NUM_THREADS (the
   * library only logs it and falls back to the number of cores). */
  if (find_option(spec, "threads", 7)) {
    int n = 0;
    if (nd_num_threads_from_env(&n) != ND_OK) {
      nd_cli_fail(2, spec->prog, "%s", nd_last_error());
      nd_args_release(args);
      return 2;
    }
  }

  /* Pass 2: flags and positional arguments. */
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
      args->pos[args->npos++] = a;
      continue;
    }
    if (!strcmp(a, "--")) {
      only_pos = true;
      continue;
    }
    if (a[1] != '-') {
      nd_args_release(args);
      return nd_cli_fail(2, spec->prog, "unknown option %s (options are long: --name; see %s --help)", a,
                         spec->prog);
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    if (name_eq("config", name, nlen)) {
      if (!eq) i++;
      continue;
    }
    const nd_option *o = find_option(spec, name, nlen);
    const char *value = eq ? eq + 1 : NULL;
    if (!o && !eq && nlen > 3 && !strncmp(name, "no-", 3)) {
      const nd_option *b = find_option(spec, name + 3, nlen - 3);
      if (b && b->type == ND_OPT_BOOL) {
        *(bool *)b->dest = false;
        continue;
      }
    }
    if (!o) {
      nd_args_release(args);
      return nd_cli_fail(2, spec->prog, "unknown option --%.*s (see %s --help)", (int)nlen, name, spec->prog);
    }
    if (o->type != ND_OPT_BOOL && !value) {
      if (i + 1 >= argc) {
        nd_args_release(args);
        return nd_cli_fail(2, spec->prog, "option --%s needs a value", o->name);
      }
      value = argv[++i];
    }
    err[0] = '\0';
    if (!set_value(o, value, err, sizeof err)) {
      nd_args_release(args);
      return nd_cli_fail(2, spec->prog, "option --%s %s", o->name, err);
    }
  }
  if (args->npos < spec->min_pos || (spec->max_pos >= 0 && args->npos > spec->max_pos)) {
    int n = args->npos;
    nd_args_release(args);
    if (n < spec->min_pos)
      return nd_cli_fail(2, spec->prog, "missing argument (usage: %s %s)", spec->prog,
                         spec->usage ? spec->usage : "");
    return nd_cli_fail(2, spec->prog, "too many arguments (usage: %s %s)", spec->prog, spec->usage ? spec->usage : "");
  }
  return ND_OPTS_CONTINUE;
}

/* ------------------------------------------------------------ help */

void nd_opts_print_help(const nd_opts *spec) {
  printf("usage: %s %s\n", spec->prog, spec->usage ? spec->usage : "[options]");
  if (spec->description) {
    /* Wrap lines longer than 88 columns at spaces. */
    printf("\n");
    const char *line = spec->description;
    while (*line) {
      size_t len = strcspn(line, "\n");
      while (len > 88) {
        size_t cut = 88;
        while (cut > 0 && line[cut] != ' ') cut--;
        if (cut == 0) break;
        printf("%.*s\n", (int)cut, line);
        line += cut + 1;
        len -= cut + 1;
      }
      printf("%.*s\n", (int)len, line);
      line += len;
      if (*line == '\n') line++;
    }
  }
  printf("\noptions:\n");
  for (const nd_option *o = spec->options; o && o->name; o++) {
    char left[160];
    if (o->type == ND_OPT_CHOICE) {
      size_t k = (size_t)snprintf(left, sizeof left, "--%s ", o->name);
      for (int i = 0; o->choices && o->choices[i] && k < sizeof left; i++)
        k += (size_t)snprintf(left + k, sizeof left - k, "%s%s", i ? "|" : "", o->choices[i]);
    } else if (o->type == ND_OPT_BOOL) {
      snprintf(left, sizeof left, "--[no-]%s", o->name);
    } else {
      snprintf(left, sizeof left, "--%s %s", o->name, type_metavar(o));
    }
    if (strlen(left) > 24)
      printf("  %s\n  %-24s  %s", left, "", o->help ? o->help : "");
    else
      printf("  %-24s  %s", left, o->help ? o->help : "");
    if (o->def) printf(" (default %s)", o->def);
    printf("\n");
  }
  printf("  %-24s  %s\n", "--config FILE", "read options from a JSON object {\"name\": value}; flags override it");
  printf("  %-24s  %s\n", "-h, --help", "show this help");
}

/* ------------------------------------------------------------ writer */

nd_status nd_opts_write_config(const nd_opts *spec, const char *path) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
  bool ok = cJSON_AddStringToObject(root, "_command", spec->prog) != NULL &&
            cJSON_AddStringToObject(root, "_version", nd_version()) != NULL;
  for (const nd_option *o = spec->options; ok && o && o->name; o++) {
    cJSON *v = NULL;
    switch (o->type) {
      case ND_OPT_INT: v = cJSON_CreateNumber((double)*(const int *)o->dest); break;
      case ND_OPT_INT64: v = cJSON_CreateNumber((double)*(const int64_t *)o->dest); break;
      case ND_OPT_DOUBLE: v = cJSON_CreateNumber(*(const double *)o->dest); break;
      case ND_OPT_BOOL: v = cJSON_CreateBool(*(const bool *)o->dest); break;
      case ND_OPT_STRING: {
        const char *s = *(const char *const *)o->dest;
        v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
        break;
      }
      case ND_OPT_CHOICE: v = cJSON_CreateString(o->choices[*(const int *)o->dest]); break;
    }
    ok = v != NULL && cJSON_AddItemToObject(root, o->name, v);
    if (v && !ok) cJSON_Delete(v);
  }
  char *text = ok ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) return nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
  nd__afile f;
  nd_status s = nd__afile_open(&f, path);
  if (s == ND_OK) {
    nd__afile_write(&f, text, strlen(text));
    nd__afile_write(&f, "\n", 1);
    s = nd__afile_commit(&f);
  }
  free(text);
  return s;
}
