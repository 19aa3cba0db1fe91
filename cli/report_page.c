/* The report page: report/page.html with the JavaScript libraries, the
 * viewer and the data inlined, so the file opens from disk with no server
 * and no network (report.h, docs/report.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "options.h"
#include "report.h"

/* The files the page inlines, relative to report/. */
#define F_PAGE "page.html"
#define F_APP_JS "app.js"
#define F_APP_CSS "app.css"
#define F_UPLOT_JS "node_modules/uplot/dist/uPlot.iife.min.js"
#define F_UPLOT_CSS "node_modules/uplot/dist/uPlot.min.css"
#define F_THREE "node_modules/three/build/three.module.js"
#define F_THREE_CORE "node_modules/three/build/three.core.js"

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool complete_dir(const char *dir) {
  static const char *const need[] = {F_PAGE, F_APP_JS, F_APP_CSS, F_UPLOT_JS, F_UPLOT_CSS, F_THREE, F_THREE_CORE};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    char p[PATH_MAX + 128];
    snprintf(p, sizeof p, "%s/%s", dir, need[i]);
    if (!is_file(p)) return false;
  }
  return true;
}

nd_status nd_report_assets_dir(char *buf, size_t len) {
  const char *env = getenv("ND_REPORT_DIR");
  if (env && *env) {
    snprintf(buf, len, "%s", env);
    if (complete_dir(buf)) return ND_OK;
    return nd_set_error(ND_ERR_NOT_FOUND,
                        "$ND_REPORT_DIR=%s lacks page.html, app.js or the JavaScript libraries "
                        "(node_modules: run `npm ci` there, or scripts/deps.sh)",
                        env);
  }
  if (nd_cli_find_beside("share/neurodyn/report", "report", complete_dir, buf, len)) return ND_OK;
  return nd_set_error(ND_ERR_NOT_FOUND,
                      "cannot find the report's page and JavaScript libraries (looked in $ND_REPORT_DIR, "
                      "<prefix>/share/neurodyn/report and report/ of the source tree this program was built in); "
                      "run scripts/deps.sh (it runs `npm ci` in report/)");
}

/* ------------------------------------------------------------ assembly */

#define sb_add nd_report_buf_add
#define sb_str nd_report_buf_str

static nd_status read_asset(const char *dir, const char *name, char **text, size_t *len) {
  char p[PATH_MAX + 128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  void *buf;
  ND_CLI_TRY(nd_file_read_all(p, &buf, len));
  *text = buf;
  return ND_OK;
}

/* Script text goes into <script> as it is: it must not end the element. */
static nd_status check_inline(const char *name, const char *text) {
  for (const char *c = strchr(text, '<'); c; c = strchr(c + 1, '<'))
    if (!strncasecmp(c, "</script", 8) || !strncmp(c, "<!--", 4))
      return nd_set_error(ND_ERR_FORMAT, "%s: holds '</script' or '<!--' and cannot be inlined in a page", name);
  return ND_OK;
}

/* A JavaScript module as a data: URL for the import map. */
static void add_module_url(nd_report_buf *b, const char *text, size_t len) {
  char *b64 = nd_report_base64(text, len);
  if (!b64) {
    b->failed = true;
    return;
  }
  sb_str(b, "\"data:text/javascript;base64,");
  sb_str(b, b64);
  sb_str(b, "\"");
  free(b64);
}

/* three.module.js imports './three.core.js'; in the page both are data:
 * URLs, so the import is renamed to the bare name the import map gives the
 * core. */
static nd_status three_modules(nd_report_buf *b, const char *dir) {
  char *mod = NULL, *core = NULL;
  size_t mlen, clen;
  nd_status s = read_asset(dir, F_THREE, &mod, &mlen);
  if (s == ND_OK) s = read_asset(dir, F_THREE_CORE, &core, &clen);
  if (s != ND_OK) {
    free(mod);
    return s;
  }
  static const char from[] = "'./three.core.js'", to[] = "'nd-three-core'  ";
  int found = 0;
  for (char *c = strstr(mod, from); c; c = strstr(c + 1, from)) memcpy(c, to, sizeof to - 1), found++;
  if (!found) {
    free(mod), free(core);
    return nd_set_error(ND_ERR_FORMAT, "%s/%s: does not import ./three.core.js (another three.js layout?)", dir, F_THREE);
  }
  sb_str(b, "<script type=\"importmap\">{\"imports\":{\"three\":");
  add_module_url(b, mod, mlen);
  sb_str(b, ",\"nd-three-core\":");
  add_module_url(b, core, clen);
  sb_str(b, "}}</script>\n");
  free(mod), free(core);
  return ND_OK;
}

/* Escapes '<' inside the JSON ("\u003c"), so no string in it ends the
 * <script> element; '<' occurs in JSON text only inside strings. */
static void add_json(nd_report_buf *b, const char *json) {
  for (const char *c = json; *c;) {
    const char *lt = strchr(c, '<');
    size_t n = lt ? (size_t)(lt - c) : strlen(c);
    sb_add(b, c, n);
    if (!lt) break;
    sb_str(b, "\\u003c");
    c = lt + 1;
  }
}

static void add_text_escaped(nd_report_buf *b, const char *s) {
  for (; *s; s++) switch (*s) {
      case '<': sb_str(b, "&lt;"); break;
      case '>': sb_str(b, "&gt;"); break;
      case '&': sb_str(b, "&amp;"); break;
      case '"': sb_str(b, "&quot;"); break;
      default: sb_add(b, s, 1);
    }
}

/* Inlines one asset as <tag>text</tag>. */
static nd_status add_inline(nd_report_buf *b, const char *dir, const char *file, const char *open, const char *close) {
  char *text;
  size_t len;
  ND_CLI_TRY(read_asset(dir, file, &text, &len));
  nd_status s = check_inline(file, text);
  if (s == ND_OK) {
    sb_str(b, open);
    sb_add(b, text, len);
    sb_str(b, close);
  }
  free(text);
  return s;
}

/* page.html holds the markers below, each alone on a line; everything else
 * is copied. */
nd_status nd_report_page(const cJSON *data, const char *title, char **html, size_t *len) {
  *html = NULL, *len = 0;
  char dir[PATH_MAX];
  ND_CLI_TRY(nd_report_assets_dir(dir, sizeof dir));
  char *page;
  size_t plen;
  ND_CLI_TRY(read_asset(dir, F_PAGE, &page, &plen));
  char *json = cJSON_PrintUnformatted(data);
  if (!json) {
    free(page);
    return nd_set_error(ND_ERR_NOMEM, "report: out of memory printing the data");
  }
  nd_report_buf b = {0};
  nd_status s = ND_OK;
  for (char *line = page, *next; line && *line && s == ND_OK; line = next) {
    char *nl = strchr(line, '\n');
    next = nl ? nl + 1 : NULL;
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    char marker[64] = "";
    if (n < sizeof marker) memcpy(marker, line, n), marker[n] = '\0';
    if (!strcmp(marker, "@TITLE@"))
      add_text_escaped(&b, title);
    else if (!strcmp(marker, "@STYLES@")) {
      s = add_inline(&b, dir, F_UPLOT_CSS, "<style>\n", "\n</style>\n");
      if (s == ND_OK) s = add_inline(&b, dir, F_APP_CSS, "<style>\n", "\n</style>\n");
    } else if (!strcmp(marker, "@LIBRARIES@")) {
      s = add_inline(&b, dir, F_UPLOT_JS, "<script>\n", "\n</script>\n");
      if (s == ND_OK) s = three_modules(&b, dir);
    } else if (!strcmp(marker, "@DATA@")) {
      sb_str(&b, "<script type=\"application/json\" id=\"nd-data\">");
      add_json(&b, json);
      sb_str(&b, "</script>\n");
    } else if (!strcmp(marker, "@APP@")) {
      s = add_inline(&b, dir, F_APP_JS, "<script type=\"module\">\n", "\n</script>\n");
    } else {
      sb_add(&b, line, n);
      sb_str(&b, "\n");
    }
  }
  free(page);
  cJSON_free(json);
  if (s == ND_OK && b.failed) s = nd_set_error(ND_ERR_NOMEM, "report: out of memory assembling the page");
  if (s != ND_OK) {
    free(b.p);
    return s;
  }
  *html = b.p, *len = b.len;
  return ND_OK;
}
