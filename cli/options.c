/* Typed option parser and its --help (see options.h). */
#include "options.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "neurodyn/neurodyn.h"
#include "options_internal.h"
#include "progress.h"

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
bool nd__cli_name_eq(const char *a, const char *b, size_t blen) {
  size_t i = 0;
  for (; i < blen && a[i]; i++) {
    char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
    if (x != y) return false;
  }
  return i == blen && a[i] == '\0';
}

const nd_option *nd__cli_find_option(const nd_opts *spec, const char *name, size_t len) {
  for (const nd_option *o = spec->options; o && o->name; o++)
    if (nd__cli_name_eq(o->name, name, len)) return o;
  return NULL;
}

bool nd__cli_keep_string(nd_args *args, char *s) {
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
bool nd__cli_set_value(const nd_option *o, const char *text, char *err, size_t errlen) {
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
  return o->def ? nd__cli_set_value(o, o->def, err, errlen) : true;
}


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
        const nd_option *o = nd__cli_find_option(spec, name, strlen(name));
        if (o && o->type != ND_OPT_BOOL) i++;
      }
    }
  }
  if (args->config_path && !nd__cli_apply_config(spec, args->config_path, args)) {
    nd_args_release(args);
    return 2;
  }

  /* A command that takes --threads also refuses a bad $ND_NUM_THREADS (the
   * library only logs it and falls back to the number of cores). */
  if (nd__cli_find_option(spec, "threads", 7)) {
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
    if (nd__cli_name_eq("config", name, nlen)) {
      if (!eq) i++;
      continue;
    }
    const nd_option *o = nd__cli_find_option(spec, name, nlen);
    const char *value = eq ? eq + 1 : NULL;
    if (!o && !eq && nlen > 3 && !strncmp(name, "no-", 3)) {
      const nd_option *b = nd__cli_find_option(spec, name + 3, nlen - 3);
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
    if (!nd__cli_set_value(o, value, err, sizeof err)) {
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

