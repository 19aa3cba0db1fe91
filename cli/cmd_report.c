/* neurodyn report RUN_DIR | --compare DIR1 DIR2 ... [--out FILE] [--csv FILE]:
 * one self-contained HTML page of runs (report.h, docs/report.md). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "options.h"
#include "report.h"

#define PROG "neurodyn report"
#define MAX_SUBRUNS 64

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* dir as one run, or, when dir is not a run itself, each subdirectory that
 * is one (a demo's directory: runs/demo-krotov/{hebbian,top}), named
 * "<dir>/<sub>". */
static nd_status add_dir(cJSON *runs, const char *dir, const nd_report_limits *lim) {
  struct stat st;
  if (stat(dir, &st) != 0) return nd_set_error(ND_ERR_NOT_FOUND, "%s: no such directory", dir);
  if (!S_ISDIR(st.st_mode)) return nd_set_error(ND_ERR_INVALID_ARG, "%s: not a directory", dir);
  cJSON *run;
  if (nd_report_is_run(dir)) {
    ND_CLI_TRY(nd_report_run_json(dir, NULL, lim, &run));
    cJSON_AddItemToArray(runs, run);
    return ND_OK;
  }
  DIR *d = opendir(dir);
  if (!d) return nd_set_error(ND_ERR_IO, "%s: cannot list the directory", dir);
  char *subs[MAX_SUBRUNS];
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < MAX_SUBRUNS;) {
    if (e->d_name[0] == '.') continue;
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && nd_report_is_run(p) && (subs[n] = strdup(e->d_name))) n++;
  }
  closedir(d);
  if (n == 0)
    return nd_set_error(ND_ERR_INVALID_ARG,
                        "%s: not a run directory (no config.json, metrics.jsonl or record/index.json, nor a subdirectory with one)", dir);
  qsort(subs, (size_t)n, sizeof *subs, cmp_names);
  const char *slash = strrchr(dir, '/');
  const char *base = slash && slash[1] ? slash + 1 : dir;
  nd_status s = ND_OK;
  for (int i = 0; i < n; i++) {
    char p[4400], name[4400];
    snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
    snprintf(name, sizeof name, "%s/%s", base, subs[i]);
    if (s == ND_OK && (s = nd_report_run_json(p, name, lim, &run)) == ND_OK) cJSON_AddItemToArray(runs, run);
    free(subs[i]);
  }
  return s;
}

/* "-": stdout; else written atomically. */
static int write_out(const char *path, const char *text, size_t len) {
  if (!strcmp(path, "-")) {
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout)) return nd_cli_fail(1, PROG, "writing stdout failed");
    return 0;
  }
  nd_status s = nd_file_write_atomic(path, text, len);
  return s == ND_OK ? 0 : nd_cli_lib_fail("report", s);
}

int nd_cli_report(int argc, char **argv) {
  const char *out, *csv;
  bool compare;
  int64_t max_frames, max_mb;
  const nd_option table[] = {
      {"out", ND_OPT_STRING, &out, NULL, "the page (default RUN_DIR/report.html; compare.html with --compare; - for stdout)", NULL},
      {"compare", ND_OPT_BOOL, &compare, "false", "overlay the runs DIR1 DIR2 ... in one page", NULL},
      {"csv", ND_OPT_STRING, &csv, NULL, "write the metrics as CSV to FILE (- for stdout) instead of the page", NULL},
      {"max-frames", ND_OPT_INT64, &max_frames, "1000", "frames of a recorded stream kept in the page (every k-th beyond)", NULL},
      {"max-mb", ND_OPT_INT64, &max_mb, "64", "MiB of recorded frames kept in the page per run", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {
      PROG, "[options] RUN_DIR | --compare DIR1 DIR2 ...",
      "Writes one self-contained HTML page of a run directory: its config.json, interactive plots of\n"
      "every series of metrics.jsonl (drag to zoom, double-click to reset, hover for values, click a\n"
      "legend entry to hide it, log scale), its PNG figures, and viewers for the states recorded in\n"
      "record/ (3-D grid with activity as colour, heat maps, rasters; play, pause, scrub).  The page\n"
      "holds its JavaScript (uPlot, three.js) and data: it opens from disk, with no server or network.\n"
      "A directory that is no run itself but holds runs (a demo's) shows each.  --compare overlays the\n"
      "metrics of several runs.  --csv FILE writes the metrics as CSV (one row per line of each run's\n"
      "metrics.jsonl) and no page.  neurodyn serve RUN_DIR serves the same page, live.",
      table, 1, -1};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  if (args.npos > 1 && !compare)
    rc = nd_cli_fail(2, PROG, "%d directories given: one RUN_DIR, or --compare DIR1 DIR2 ...", args.npos);
  else if (compare && args.npos < 2)
    rc = nd_cli_fail(2, PROG, "--compare needs at least two run directories");
  else if (max_frames < 1 || max_mb < 1 || max_mb > (1 << 20))
    rc = nd_cli_fail(2, PROG, "--max-frames and --max-mb: need >= 1 (and --max-mb <= 1048576)");
  nd_report_limits lim = {max_frames, max_mb << 20};
  cJSON *data = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(data, "runs");
  cJSON_AddBoolToObject(data, "live", false);
  cJSON_AddBoolToObject(data, "compare", compare);
  for (int i = 0; i < args.npos && !rc; i++) {
    nd_status s = add_dir(runs, args.pos[i], &lim);
    if (s != ND_OK) rc = nd_cli_lib_fail("report", s);
  }
  char *text = NULL;
  size_t len = 0;
  if (!rc && csv) {
    nd_status s = nd_report_csv(runs, &text, &len);
    rc = s != ND_OK ? nd_cli_lib_fail("report", s) : write_out(csv, text, len);
  } else if (!rc) {
    char title[4400], path[4400];
    snprintf(title, sizeof title, "neurodyn report: %s%s", args.pos[0], compare ? " and others" : "");
    if (out)
      snprintf(path, sizeof path, "%s", out);
    else if (compare)
      snprintf(path, sizeof path, "compare.html");
    else
      snprintf(path, sizeof path, "%s/report.html", args.pos[0]);
    nd_status s = nd_report_page(data, title, &text, &len);
    rc = s != ND_OK ? nd_cli_lib_fail("report", s) : write_out(path, text, len);
    if (!rc && strcmp(path, "-")) printf("%s\n", path);
  }
  free(text);
  cJSON_Delete(data);
  nd_args_release(&args);
  return rc;
}
