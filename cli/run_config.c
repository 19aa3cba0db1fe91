/* config.json with provenance (run_config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "neurodyn/neurodyn.h"
#include "run_config.h"

static cJSON *provenance(const char *const *files) {
  cJSON *p = cJSON_CreateObject();
  if (!p) return NULL;
  char host[256] = "unknown", when[64] = "";
  if (nd_host_name(host, sizeof host) != ND_OK) snprintf(host, sizeof host, "unknown");
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject(p, "version", nd_version());
  cJSON_AddStringToObject(p, "commit", nd_build_commit());
  cJSON_AddStringToObject(p, "host", host);
  cJSON_AddStringToObject(p, "started", when);
  cJSON *data = cJSON_AddArrayToObject(p, "data");
  for (int i = 0; data && files && files[i]; i++) {
    char hex[65];
    cJSON *e = cJSON_CreateObject();
    if (!e) break;
    cJSON_AddStringToObject(e, "file", files[i]);
    if (nd_file_sha256(files[i], hex) == ND_OK) cJSON_AddStringToObject(e, "sha256", hex);
    cJSON_AddItemToArray(data, e);
  }
  return p;
}

int nd_cli_write_run_config(const char *cmd, const nd_opts *spec, const char *path, const char *const *files) {
  cJSON *root = nd_opts_to_json(spec);
  cJSON *p = root ? provenance(files) : NULL;
  if (!p) {
    cJSON_Delete(root);
    return nd_cli_cmd_fail(cmd, 1, "%s: out of memory", path);
  }
  cJSON_AddItemToObject(root, "_provenance", p);
  nd_status s = nd_cli_write_json(root, path);
  return s == ND_OK ? 0 : nd_cli_lib_fail(cmd, s);
}

int nd_cli_write_text_atomic(const char *cmd, const char *path, const char *text) {
  size_t n = strlen(text);
  char *line = malloc(n + 2);
  if (!line) return nd_cli_cmd_fail(cmd, 1, "%s: out of memory", path);
  memcpy(line, text, n);
  line[n] = '\n', line[n + 1] = 0;
  nd_status s = nd_file_write_atomic(path, line, n + 1);
  free(line);
  return s == ND_OK ? 0 : nd_cli_lib_fail(cmd, s);
}
