/* Progress reporting on stderr for long-running commands.
 *
 *   nd_progress p;
 *   nd_progress_begin_unit(&p, "krotov", n_batches, "batches");
 *   for (int64_t i = 0; i < n_batches; i++) {
 *     ... work ...
 *     nd_progress_update(&p, i + 1, "winners=%lld pnorm=%.3f", winners, pnorm);
 *   }
 *   nd_progress_end(&p);
 *
 * On a terminal: one line redrawn in place ("\r", then the line, then an
 * erase-to-end-of-line; at most ~10 times a second),
 *   krotov [##########..........]  50% 235/469 batches 31.2/s ETA 0:07 winners=1830 pnorm=1.020
 * and nd_progress_end leaves the final state on its own line.  The line never
 * wraps: it is fitted to the terminal's width (nd_progress_columns, read
 * again at every redraw so a resized window is followed) less one column.
 * When it does not fit, in this order: the bar shrinks (down to 6 cells), the
 * caller's figures are dropped from the last one back (a figure is a
 * "name=value" word of the update text with the words without '=' that
 * follow it, so "epoch 3/10" stays whole), the bar goes, then the rate, the
 * unit, the ETA, the label is cut (to 8 characters), and last the line itself
 * is cut at the width.
 *
 * When stderr is not a terminal (logs, CI): a plain, complete line every ~5 s
 * or every 10% of total, whichever comes first, plus one at the end.  total
 * <= 0 means unknown: counts, rate and elapsed time only.  Nothing at all
 * once nd_progress_set_quiet(true) has been called (nd_cli_common_apply does
 * it for --quiet).  The struct lives on the caller's stack; nothing is
 * allocated. */
#ifndef NEURODYN_CLI_PROGRESS_H
#define NEURODYN_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nd_progress {
  char label[64];
  char unit[24];       /* "batches", "epochs", "images", ...; "" = none */
  int64_t total;
  int64_t done;
  double t_start;      /* seconds, monotonic clock */
  double t_last_print; /* last time a line was printed */
  int64_t last_decile; /* plain mode: last 10% step printed */
  char extra[192];     /* the caller's figures from the last update */
  bool tty;
  bool quiet;
  bool active;
} nd_progress;

/* Global switch (default false). */
void nd_progress_set_quiet(bool quiet);
bool nd_progress_quiet(void);

/* label: what is running; total: items to do (<= 0: unknown); unit: what an
 * item is, in the plural ("batches"; NULL or "": no unit shown). */
void nd_progress_begin_unit(nd_progress *p, const char *label, int64_t total, const char *unit);
/* Same without a unit. */
void nd_progress_begin(nd_progress *p, const char *label, int64_t total);
/* done items so far; fmt (may be NULL: keep the last figures) is printf-style
 * text of the family's live figures, space-separated "name=value" words. */
void nd_progress_update(nd_progress *p, int64_t done, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void nd_progress_end(nd_progress *p);

/* Seconds since the progress began. */
double nd_progress_elapsed(const nd_progress *p);

/* Width of the terminal on stderr: TIOCGWINSZ, else $COLUMNS (a positive
 * integer), else 80. */
int nd_progress_columns(void);

/* The terminal line for p's current state, fitted into at most width - 1
 * columns (see above) and NUL-terminated in buf; final: the line printed by
 * nd_progress_end ("in 0:07" instead of the ETA).  Returns its length. */
size_t nd_progress_format(const nd_progress *p, int width, bool final, char *buf, size_t len);

/* Monotonic clock in seconds (for timing outside a bar). */
double nd_cli_now(void);
/* The process's peak resident set so far (VmHWM of /proc/self/status) in
 * KiB, or -1 where it cannot be read. */
long nd_cli_peak_rss_kib(void);

#endif
