/* Progress bar / periodic progress lines on stderr (see progress.h). */
#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool g_quiet = false;

void nd_progress_set_quiet(bool quiet) { g_quiet = quiet; }
bool nd_progress_quiet(void) { return g_quiet; }

double nd_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nd_progress_elapsed(const nd_progress *p) { return nd_cli_now() - p->t_start; }

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

void nd_progress_begin(nd_progress *p, const char *label, int64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  p->total = total;
  p->t_start = nd_cli_now();
  p->t_last_print = p->t_start;
  p->tty = isatty(STDERR_FILENO) != 0;
  p->quiet = g_quiet;
  p->active = true;
}

/* Prints the current state; final adds a newline on a terminal. */
static void print_state(nd_progress *p, bool final) {
  double now = nd_cli_now();
  double el = now - p->t_start;
  double rate = el > 0 ? (double)p->done / el : 0.0;
  char eta[48], elapsed[32], bar[32];
  fmt_duration(el, elapsed, sizeof elapsed);
  char counts[96];
  if (p->total > 0) {
    double frac = (double)p->done / (double)p->total;
    if (frac > 1) frac = 1;
    if (frac < 0) frac = 0;
    if (final || p->done >= p->total)
      snprintf(eta, sizeof eta, "in %s", elapsed);
    else if (rate > 0) {
      char d[24];
      snprintf(eta, sizeof eta, "ETA %s", fmt_duration((double)(p->total - p->done) / rate, d, sizeof d));
    } else
      snprintf(eta, sizeof eta, "ETA ?");
    snprintf(counts, sizeof counts, "%3d%% %lld/%lld %.1f/s %s", (int)(100 * frac + 1e-9), (long long)p->done,
             (long long)p->total, rate, eta);
    const int width = 20;
    int fill = (int)(frac * width);
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
  } else {
    snprintf(counts, sizeof counts, "%lld %.1f/s %s", (long long)p->done, rate, elapsed);
    bar[0] = '\0';
  }
  if (p->tty) {
    if (bar[0])
      fprintf(stderr, "\r\033[K%s [%s] %s %s", p->label, bar, counts, p->extra);
    else
      fprintf(stderr, "\r\033[K%s %s %s", p->label, counts, p->extra);
    if (final) fputc('\n', stderr);
  } else {
    fprintf(stderr, "%s %s %s\n", p->label, counts, p->extra);
  }
  fflush(stderr);
  p->t_last_print = now;
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
