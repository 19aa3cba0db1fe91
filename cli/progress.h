/* Progress reporting on stderr for long-running commands.
 *
 *   nd_progress p;
 *   nd_progress_begin(&p, "epoch 1/5", n_batches);
 *   for (int64_t i = 0; i < n_batches; i++) {
 *     ... work ...
 *     nd_progress_update(&p, i + 1, "loss=%.4f", loss);
 *   }
 *   nd_progress_end(&p);
 *
 * On a terminal: one line redrawn in place (at most ~10 times a second),
 *   epoch 1/5 [##########..........]  50% 235/469 31.2/s ETA 0:07 loss=0.1234
 * and nd_progress_end leaves the final state on its own line.  When stderr
 * is not a terminal (logs, CI): a plain line every ~5 s or every 10% of
 * total, whichever comes first, plus one at the end.  total <= 0 means
 * unknown: counts and rate only.  Nothing at all once nd_progress_set_quiet
 * (true) has been called (nd_cli_common_apply does it for --quiet).
 * The struct lives on the caller's stack; nothing is allocated. */
#ifndef NEURODYN_CLI_PROGRESS_H
#define NEURODYN_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct nd_progress {
  char label[64];
  int64_t total;
  int64_t done;
  double t_start;      /* seconds, monotonic clock */
  double t_last_print; /* last time a line was printed */
  int64_t last_decile; /* plain mode: last 10% step printed */
  char extra[96];      /* text of the last update */
  bool tty;
  bool quiet;
  bool active;
} nd_progress;

/* Global switch (default false). */
void nd_progress_set_quiet(bool quiet);
bool nd_progress_quiet(void);

void nd_progress_begin(nd_progress *p, const char *label, int64_t total);
/* done items so far; fmt (may be NULL) is printf-style extra text. */
void nd_progress_update(nd_progress *p, int64_t done, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void nd_progress_end(nd_progress *p);

/* Seconds since the progress began. */
double nd_progress_elapsed(const nd_progress *p);

/* Monotonic clock in seconds (for timing outside a bar). */
double nd_cli_now(void);

#endif
