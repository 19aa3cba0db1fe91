/* The HTML page of a run: `neurodyn report` writes it to a file, `neurodyn
 * serve` and `train ... --live` serve it (docs/report.md).
 *
 * A run directory becomes one JSON object, the page's data:
 *   {"name", "path", "config": config.json or null,
 *    "metrics": {"keys": [...], "n": rows, "columns": {key: [number|null]}},
 *    "pngs": [{"name", "data": base64}],
 *    "streams": [{"name", "kind", "frame_shape", "time_unit", "dt", "labels",
 *                 "frames", "stride", "positions": base64 float32 | null,
 *                 "chunks": [{"t0", "stride", "frames", "data": base64 float32}]}]}
 * and the page is report/page.html's shell with the assets inlined: uPlot,
 * three.js (both from report/node_modules, installed by scripts/deps.sh),
 * report/app.js and report/app.css, and {"runs": [...], "live": false}. */
#ifndef NEURODYN_CLI_REPORT_H
#define NEURODYN_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "neurodyn/neurodyn.h"
#include "neurodyn/record.h"
#include "run.h" /* ND_CLI_TRY */

struct cJSON;


typedef struct nd_report_limits {
  int64_t max_frames; /* per stream: more are thinned to every k-th frame */
  int64_t max_bytes;  /* of the frames of one run, all streams together */
} nd_report_limits;

#define ND_REPORT_MAX_FRAMES_DEFAULT 1000
#define ND_REPORT_MAX_BYTES_DEFAULT ((int64_t)64 << 20)
#define ND_REPORT_PNG_MAX_BYTES ((size_t)32 << 20)   /* a larger PNG is left out (named) */
#define ND_REPORT_METRICS_MAX_BYTES ((size_t)256 << 20)

/* A growing text; `failed` once an allocation failed (later adds do
 * nothing).  p is malloc'ed and NUL-ended. */
typedef struct nd_report_buf {
  char *p;
  size_t len, cap;
  bool failed;
} nd_report_buf;
void nd_report_buf_add(nd_report_buf *b, const char *s, size_t n);
void nd_report_buf_str(nd_report_buf *b, const char *s);

/* Base64 (RFC 4648, with padding) of len bytes; malloc'ed, NUL-ended; NULL
 * when out of memory. */
char *nd_report_base64(const void *data, size_t len);

/* True when dir holds a run: config.json, metrics.jsonl or record/index.json. */
bool nd_report_is_run(const char *dir);

/* metrics.jsonl as {"keys", "n", "columns"}: every numeric field of every
 * line is a series (nested objects as "a.b", numeric arrays as "a[i]");
 * an unfinished last line (no newline yet: a run still writing) is left
 * out.  A line that is not a JSON object is ND_ERR_FORMAT naming the file
 * and line.  A missing file gives an empty object. */
nd_status nd_report_metrics_json(const char *path, struct cJSON **out);
/* The same of len bytes at buf; name is used in messages. */
nd_status nd_report_metrics_parse(const void *buf, size_t len, const char *name, struct cJSON **out);

/* One run directory as the page's run object (above).  name: shown in the
 * page (NULL: the directory's name). */
nd_status nd_report_run_json(const char *dir, const char *name, const nd_report_limits *lim, struct cJSON **out);

/* Frames [from, from + count) of chunk `chunk` (already read: data, frames
 * x frame_size floats, first frame t0) that fall on multiples of stride, as
 * {"t0", "stride", "frames", "data"}; NULL when none do or out of memory. */
struct cJSON *nd_report_chunk_json(const float *data, int64_t frame_size, int64_t t0, int64_t from, int64_t count,
                                   int64_t stride);

/* Chunk i of stream s as float32 (uint8 raster frames widened), frames x
 * frame_size values, malloc'ed. */
nd_status nd_report_chunk_read(const char *record_dir, const nd_record_stream_info *s, int i, float **out);

/* A stream's description without chunks (the "streams" entry minus
 * "chunks"), positions read from record_dir. */
nd_status nd_report_stream_json(const char *record_dir, const nd_record_stream_info *s, int64_t stride,
                                struct cJSON **out);

/* The runs' metrics as CSV: "run,<x>,<every key>", one row per metrics line
 * of each run. */
nd_status nd_report_csv(const struct cJSON *runs, char **text, size_t *len);

/* Where report/ is: $ND_REPORT_DIR, else <prefix>/share/neurodyn/report
 * next to <prefix>/bin/neurodyn, else report/ of the source tree a build
 * directory sits in.  ND_ERR_NOT_FOUND saying where it looked and how to
 * install the JavaScript libraries. */
nd_status nd_report_assets_dir(char *buf, size_t len);

/* The whole page (malloc'ed, NUL-ended) with data (an object: {"runs",
 * "live", ...}) inlined; the assets are read from nd_report_assets_dir. */
nd_status nd_report_page(const struct cJSON *data, const char *title, char **html, size_t *len);

/* `neurodyn serve` and `train --live`: the server (serve.c).  nd_live_*
 * serve a training run's directory from a thread while it trains: start
 * before the run, set the directory once the driver has made it, stop at
 * the end (cli/run.c calls nd_live_set_dir; a no-op when not live). */
int nd_live_start(const char *cmd, int port);
void nd_live_set_dir(const char *dir);
void nd_live_stop(void);

#endif
