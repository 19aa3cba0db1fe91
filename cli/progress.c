/* Progress bar / periodic progress lines on stderr (see progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static bool g_quiet = false;

void nd_progress_set_quiet(bool quiet) { g_quiet = quiet; }
bool nd_progress_quiet(void) { return g_quiet; }

long nd_cli_peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
  fclose(f);
  return v;
}

double nd_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nd_progress_elapsed(const nd_progress *p) { return nd_cli_now() - p->t_start; }

int nd_progress_columns(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *c = getenv("COLUMNS");
  if (c && *c) {
    char *end;
    long v = strtol(c, &end, 10);
    if (*end == '\0' && v > 0 && v <= 100000) return (int)v;
  }
  return 80;
}

/* "1:02:03" or "2:03" into buf. */
static const char *fmt_duration(double s, char *buf, size_t len) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(buf, len, "?");
    return buf;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

static void set_text(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

void nd_progress_begin_unit(nd_progress *p, const char *label, int64_t total, const char *unit) {
  memset(p, 0, sizeof *p);
  set_text(p->label, sizeof p->label, label);
  set_text(p->unit, sizeof p->unit, unit);
  p->total = total;
  p->t_start = nd_cli_now();
  p->t_last_print = p->t_start;
  p->tty = isatty(STDERR_FILENO) != 0;
  p->quiet = g_quiet;
  p->active = true;
}

void nd_progress_begin(nd_progress *p, const char *label, int64_t total) {
  nd_progress_begin_unit(p, label, total, NULL);
}

/* ---------------------------------------------------------------- layout */

/* Columns taken by s[0..n): UTF-8 continuation bytes take none. */
static int columns_of(const char *s, size_t n) {
  int w = 0;
  for (size_t i = 0; i < n; i++) w += ((unsigned char)s[i] & 0xC0) != 0x80;
  return w;
}

/* Bytes of the longest prefix of s[0..n) that takes at most cols columns and
 * does not split a UTF-8 sequence. */
static size_t prefix_bytes(const char *s, size_t n, int cols) {
  int w = 0;
  size_t i = 0;
  for (; i < n; i++) {
    bool starts = ((unsigned char)s[i] & 0xC0) != 0x80;
    if (starts && w == cols) break;
    w += starts;
  }
  return i;
}

typedef struct pieces {
  double frac;         /* 0..1 when total > 0 */
  char pct[8], counts[48], rate[32], eta[40];
  int n_fields;
  int field_at[32], field_len[32]; /* the caller's words, in p->extra */
} pieces;

typedef struct layout {
  int barw; /* 0: no bar */
  int n_fields;
  bool rate, unit, eta;
  int label_cols;
} layout;

static void make_pieces(const nd_progress *p, bool final, pieces *pc) {
  memset(pc, 0, sizeof *pc);
  double el = nd_cli_now() - p->t_start;
  double rate = el > 0 ? (double)p->done / el : 0.0;
  char elapsed[32], d[32];
  fmt_duration(el, elapsed, sizeof elapsed);
  snprintf(pc->rate, sizeof pc->rate, rate < 100 ? "%.1f/s" : "%.0f/s", rate);
  if (p->total > 0) {
    double frac = (double)p->done / (double)p->total;
    pc->frac = frac > 1 ? 1 : frac < 0 ? 0 : frac;
    snprintf(pc->pct, sizeof pc->pct, "%3d%%", (int)(100 * pc->frac + 1e-9));
    snprintf(pc->counts, sizeof pc->counts, "%lld/%lld", (long long)p->done, (long long)p->total);
    if (final || p->done >= p->total)
      snprintf(pc->eta, sizeof pc->eta, "in %s", elapsed);
    else if (rate > 0)
      snprintf(pc->eta, sizeof pc->eta, "ETA %s", fmt_duration((double)(p->total - p->done) / rate, d, sizeof d));
    else
      snprintf(pc->eta, sizeof pc->eta, "ETA ?");
  } else {
    snprintf(pc->counts, sizeof pc->counts, "%lld", (long long)p->done);
    snprintf(pc->eta, sizeof pc->eta, "%s", elapsed);
  }
  /* Figures: a word with '=' starts one; words without '=' belong to the
   * figure before them ("epoch 3/10" is one, "loss=0.1 (best)" another). */
  for (int i = 0; p->extra[i];) {
    while (p->extra[i] == ' ') i++;
    if (!p->extra[i]) break;
    int s = i;
    bool named = false;
    while (p->extra[i] && p->extra[i] != ' ') named |= p->extra[i++] == '=';
    if (pc->n_fields > 0 && (!named || pc->n_fields == 32)) {
      pc->field_len[pc->n_fields - 1] = i - pc->field_at[pc->n_fields - 1];
      continue;
    }
    pc->field_at[pc->n_fields] = s;
    pc->field_len[pc->n_fields++] = i - s;
  }
}

/* Appends n bytes of s (and a space before it unless at the start). */
static void put(char *buf, size_t cap, size_t *at, const char *s, size_t n) {
  if (*at && *at + 1 < cap) buf[(*at)++] = ' ';
  if (n > cap - 1 - *at) n = cap - 1 - *at;
  memcpy(buf + *at, s, n);
  *at += n;
  buf[*at] = '\0';
}

static size_t assemble(const nd_progress *p, const pieces *pc, const layout *l, char *buf, size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  size_t ln = strlen(p->label);
  if (ln) put(buf, cap, &at, p->label, prefix_bytes(p->label, ln, l->label_cols));
  if (p->total > 0 && l->barw > 0) {
    char bar[64];
    int fill = (int)(pc->frac * l->barw);
    bar[0] = '[';
    for (int i = 0; i < l->barw; i++) bar[1 + i] = i < fill ? '#' : '.';
    bar[1 + l->barw] = ']';
    put(buf, cap, &at, bar, (size_t)l->barw + 2);
  }
  if (pc->pct[0]) put(buf, cap, &at, pc->pct, strlen(pc->pct));
  put(buf, cap, &at, pc->counts, strlen(pc->counts));
  if (l->unit && p->unit[0]) put(buf, cap, &at, p->unit, strlen(p->unit));
  if (l->rate) put(buf, cap, &at, pc->rate, strlen(pc->rate));
  if (l->eta) put(buf, cap, &at, pc->eta, strlen(pc->eta));
  for (int i = 0; i < l->n_fields; i++) put(buf, cap, &at, p->extra + pc->field_at[i], (size_t)pc->field_len[i]);
  return at;
}

enum { BAR_MAX = 20, BAR_MIN = 6, LABEL_MIN = 8 };

static size_t format_line(const nd_progress *p, int width, bool final, bool bar, char *buf, size_t len) {
  if (!buf || !len) return 0;
  pieces pc;
  make_pieces(p, final, &pc);
  int avail = width - 1 > 1 ? width - 1 : 1;
  int label_cols = columns_of(p->label, strlen(p->label));
  layout l = {p->total > 0 && bar ? BAR_MAX : 0, pc.n_fields, true, true, true, label_cols};
  char line[512];
  for (;;) {
    size_t n = assemble(p, &pc, &l, line, sizeof line);
    int over = columns_of(line, n) - avail;
    if (over <= 0) break;
    if (l.barw > BAR_MIN)
      l.barw = l.barw - over > BAR_MIN ? l.barw - over : BAR_MIN;
    else if (l.n_fields > 0)
      l.n_fields--;
    else if (l.barw > 0)
      l.barw = 0;
    else if (l.rate)
      l.rate = false;
    else if (l.unit && p->unit[0])
      l.unit = false;
    else if (l.eta)
      l.eta = false;
    else if (l.label_cols > LABEL_MIN)
      l.label_cols = l.label_cols - over > LABEL_MIN ? l.label_cols - over : LABEL_MIN;
    else
      break; /* cut below */
  }
  size_t n = strlen(line);
  n = prefix_bytes(line, n, avail);
  if (n > len - 1) n = prefix_bytes(line, len - 1, avail);
  memcpy(buf, line, n);
  buf[n] = '\0';
  return n;
}

size_t nd_progress_format(const nd_progress *p, int width, bool final, char *buf, size_t len) {
  return format_line(p, width, final, true, buf, len);
}

/* ---------------------------------------------------------------- output */

/* Prints the current state; final adds a newline on a terminal. */
static void print_state(nd_progress *p, bool final) {
  char line[512];
  if (p->tty) {
    nd_progress_format(p, nd_progress_columns(), final, line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
    if (final) fputc('\n', stderr);
  } else {
    format_line(p, (int)sizeof line, final, false, line, sizeof line); /* a log line: no bar */
    fprintf(stderr, "%s\n", line);
  }
  fflush(stderr);
  p->t_last_print = nd_cli_now();
}

void nd_progress_update(nd_progress *p, int64_t done, const char *fmt, ...) {
  if (!p->active) return;
  p->done = done;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->extra, sizeof p->extra, fmt, ap);
    va_end(ap);
  }
  if (p->quiet) return;
  double now = nd_cli_now();
  if (p->tty) {
    if (now - p->t_last_print >= 0.1) print_state(p, false);
    return;
  }
  int64_t decile = p->total > 0 ? (10 * done) / p->total : 0;
  if (now - p->t_last_print >= 5.0 || (p->total > 0 && decile > p->last_decile && done < p->total)) {
    p->last_decile = decile;
    print_state(p, false);
  }
}

void nd_progress_end(nd_progress *p) {
  if (!p->active) return;
  p->active = false;
  if (!p->quiet) print_state(p, true);
}
