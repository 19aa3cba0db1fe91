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

/* text into path atomically: path.tmp.<pid>, fsync, rename. */
int nd_cli_write_text_atomic(const char *cmd, const char *path, const char *text) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return nd_cli_cmd_fail(cmd, 2, "%s: path too long", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return nd_cli_cmd_fail(cmd, 1, "%s: cannot write: %s", tmp, strerror(errno));
  bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return nd_cli_cmd_fail(cmd, 1, "%s: cannot write: %s", path, strerror(err));
  }
  return 0;
}

int nd_cli_write_run_config(const char *cmd, const nd_opts *spec, const char *path, const char *const *files) {
  nd_status s = nd_opts_write_config(spec, path); /* the options alone, then read back and extended */
  if (s != ND_OK) return nd_cli_lib_fail(cmd, s);
  FILE *f = fopen(path, "rb");
  if (!f) return nd_cli_cmd_fail(cmd, 1, "%s: cannot read back: %s", path, strerror(errno));
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  char buf[4096];
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = 2 * (len + n + 1);
      char *t = realloc(text, cap);
      if (!t) break;
      text = t;
    }
    memcpy(text + len, buf, n);
    len += n;
  }
  fclose(f);
  cJSON *root = text ? (text[len] = 0, cJSON_Parse(text)) : NULL;
  free(text);
  cJSON *p = root ? provenance(files) : NULL;
  if (!p) {
    cJSON_Delete(root);
    return nd_cli_cmd_fail(cmd, 1, "%s: cannot add the provenance (out of memory)", path);
  }
  cJSON_AddItemToObject(root, "_provenance", p);
  char *out = cJSON_Print(root);
  cJSON_Delete(root);
  if (!out) return nd_cli_cmd_fail(cmd, 1, "%s: out of memory", path);
  int rc = nd_cli_write_text_atomic(cmd, path, out);
  cJSON_free(out);
  return rc;
}
