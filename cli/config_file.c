/* --config JSON files: the strict reader and the resolved-config writer
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

#include "neurodyn/neurodyn.h"
#include "options_internal.h"
#include "progress.h"

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
bool nd__cli_apply_config(const nd_opts *spec, const char *path, nd_args *args) {
  unsigned char *buf = NULL;
  size_t len = 0;
  nd_status s = nd_file_read_all(path, (void **)&buf, &len);
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
    const nd_option *o = nd__cli_find_option(spec, key, strlen(key));
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
          if (!copy || !nd__cli_keep_string(args, copy)) {
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
    if (!err[0] && val) nd__cli_set_value(o, val, err, sizeof err);
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

/* ------------------------------------------------------------ writer */

cJSON *nd_opts_to_json(const nd_opts *spec) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
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
  if (!ok) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

nd_status nd_opts_write_config(const nd_opts *spec, const char *path) {
  cJSON *root = nd_opts_to_json(spec);
  return root ? nd_cli_write_json(root, path) : nd_set_error(ND_ERR_NOMEM, "%s: out of memory", path);
}

nd_status nd_cli_write_json(cJSON *root, const char *path) {
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  size_t n = text ? strlen(text) : 0;
  char *line = text ? realloc(text, n + 2) : NULL;
  if (!line) {
    free(text);
    return nd_set_error(ND_ERR_NOMEM, "%s: out of memory", path);
  }
  line[n] = '\n', line[n + 1] = 0;
  nd_status s = nd_file_write_atomic(path, line, n + 1);
  free(line);
  return s;
}

