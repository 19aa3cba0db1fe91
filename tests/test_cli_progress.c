/* The command line's progress line (cli/progress.c, compiled into this test)
 * on a real pseudo-terminal (openpty) of 80 and 40 columns, and with the
 * width from $COLUMNS or the default when the terminal reports none: every
 * redraw starts with "\r" and fits in width - 1 columns, there is exactly one
 * newline (after the final state), and the unit and the caller's figures
 * are shown when there is room.  nd_progress_format is checked at every width
 * from 2 to 200 on long labels, figures and UTF-8 text; plain lines (stderr
 * not a terminal) are whole lines without a bar. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "nd_test.h"

#include "../cli/progress.c"

/* Everything the master side can read now. */
static void drain(int m, char *buf, size_t cap, size_t *len) {
  for (;;) {
    if (*len + 1 >= cap) fail_msg("pty output longer than %zu bytes", cap);
    ssize_t k = read(m, buf + *len, cap - 1 - *len);
    if (k > 0) {
      *len += (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    break; /* EAGAIN, or EIO once the slave is closed */
  }
  buf[*len] = '\0';
}

typedef struct capture {
  char out[1 << 16];
  size_t len;
  int updates; /* redraws forced */
} capture;

/* Runs a bar of 469 batches with three live figures on a pty whose window is
 * cols wide (0: the terminal reports no width), stderr pointed at its slave. */
static void run_on_pty(int cols, capture *c, const char *unit) {
  int m, s;
  struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
  if (openpty(&m, &s, NULL, NULL, &ws) != 0) fail_msg("openpty: %s", strerror(errno));
  struct termios t;
  tcgetattr(s, &t);
  cfmakeraw(&t); /* no "\n" -> "\r\n": the bytes arrive as written */
  tcsetattr(s, TCSANOW, &t);
  fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(s, STDERR_FILENO);
  c->len = 0;
  c->updates = 0;
  nd_progress p;
  nd_progress_begin_unit(&p, "krotov", 469, unit);
  p.t_start -= 10; /* a steady, realistic rate (tens per second) */
  assert_true(p.tty);
  for (int i = 1; i <= 469; i += 13) {
    p.t_last_print = -1e9; /* force a redraw (they are limited to 10 a second) */
    nd_progress_update(&p, i, "winners=%d pnorm=%.3f loss=%.4f", 1830 + i, 1.02, 0.12);
    c->updates++;
    drain(m, c->out, sizeof c->out, &c->len);
  }
  nd_progress_end(&p);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(s);
  drain(m, c->out, sizeof c->out, &c->len);
  close(m);
}

/* Splits the captured bytes at "\r" and checks each drawn line: starts with
 * "\r", ends with the erase-to-end-of-line sequence (and the final one with
 * a newline), fits in width - 1 columns, no other control characters.
 * Returns how many lines contain needle (NULL: not counted). */
static int check_lines(const capture *c, int width, const char *needle, const char *needle2, int *with2) {
  const char *o = c->out;
  int lines = 0, found = 0, found2 = 0;
  const char *nl = strchr(o, '\n');
  if (!nl || nl != o + c->len - 1) fail_msg("expected exactly one newline, at the very end: %s", o);
  if (o[0] != '\r') fail_msg("first redraw does not start with \\r");
  for (const char *q = o; *q == '\r';) {
    const char *e = strchr(q + 1, '\r');
    if (!e) e = o + c->len;
    const char *end = e;
    if (end > q && end[-1] == '\n') end--;
    if (end - q < 4 || memcmp(end - 3, "\033[K", 3) != 0) fail_msg("a redraw does not end with ESC[K");
    const char *text = q + 1;
    size_t n = (size_t)(end - 3 - text);
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)text[i] < 0x20) fail_msg("control character 0x%02x in a line", text[i]);
    if ((int)n > width - 1) fail_msg("a line of %zu columns on a %d-column terminal: %.*s", n, width, (int)n, text);
    char line[600];
    snprintf(line, sizeof line, "%.*s", (int)n, text);
    if (getenv("ND_TEST_VERBOSE")) printf("%2d| %s\n", width, line);
    if (needle && strstr(line, needle)) found++;
    if (needle2 && strstr(line, needle2)) found2++;
    lines++;
    q = e;
  }
  if (lines != c->updates + 1) fail_msg("%d redraws for %d updates and the end", lines, c->updates);
  if (with2) *with2 = found2;
  return found;
}

static capture cap;

static void test_pty_80_and_40(void **state) {
  (void)state;
  unsetenv("COLUMNS");
  run_on_pty(80, &cap, "batches");
  int with_fig = 0;
  int with_unit = check_lines(&cap, 80, "batches", "winners=", &with_fig);
  /* 80 columns hold the unit and the first figures on every line. */
  assert_int_equal(with_unit, cap.updates + 1);
  assert_int_equal(with_fig, cap.updates + 1);
  assert_non_null(strstr(cap.out, "pnorm=1.020"));
  assert_non_null(strstr(cap.out, "100% 469/469 batches"));
  assert_non_null(strstr(cap.out, "[")); /* a bar */

  run_on_pty(40, &cap, "batches");
  int pct = check_lines(&cap, 40, "%", NULL, NULL);
  assert_int_equal(pct, cap.updates + 1); /* the percentage survives */
  assert_non_null(strstr(cap.out, "krotov"));
  assert_non_null(strstr(cap.out, "469/469"));

  /* Without a unit nothing is printed in its place. */
  run_on_pty(80, &cap, NULL);
  check_lines(&cap, 80, NULL, NULL, NULL);
  assert_null(strstr(cap.out, "batches"));
  assert_non_null(strstr(cap.out, "469/469 "));
}

static void test_width_fallbacks(void **state) {
  (void)state;
  /* The terminal reports 0 columns: $COLUMNS, else 80. */
  setenv("COLUMNS", "50", 1);
  run_on_pty(0, &cap, "batches");
  check_lines(&cap, 50, NULL, NULL, NULL);
  bool long_line = false; /* lines are fitted to 50, not 80 */
  setenv("COLUMNS", "50x", 1); /* not a number: ignored */
  run_on_pty(0, &cap, "batches");
  check_lines(&cap, 80, NULL, NULL, NULL);
  for (const char *q = cap.out; (q = strchr(q, '\r')); q++) {
    const char *e = strstr(q, "\033[K");
    if (e && e - q - 1 > 49) long_line = true;
  }
  assert_true(long_line);
  unsetenv("COLUMNS");
  run_on_pty(0, &cap, "batches");
  check_lines(&cap, 80, NULL, NULL, NULL);
  /* The terminal's own width wins over $COLUMNS. */
  setenv("COLUMNS", "200", 1);
  run_on_pty(40, &cap, "batches");
  check_lines(&cap, 40, NULL, NULL, NULL);
  unsetenv("COLUMNS");
}

static int cols_of(const char *s) {
  int w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

/* Valid UTF-8 (no sequence cut short). */
static bool utf8_ok(const char *s) {
  for (const unsigned char *u = (const unsigned char *)s; *u;) {
    int n = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3 : (*u & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return false;
    for (int i = 1; i < n; i++)
      if ((u[i] & 0xC0) != 0x80) return false;
    u += n;
  }
  return true;
}

static void test_format_every_width(void **state) {
  (void)state;
  nd_progress p;
  nd_progress_begin_unit(&p, "krotov-top on fashion-mnist \xc3\xa9\xc3\xa9\xc3\xa9 long label", 1000000, "images");
  p.tty = true;
  p.done = 123456;
  p.t_start = nd_cli_now() - 1000; /* a steady rate: 123/s, ETA about 1:58:20 */
  snprintf(p.extra, sizeof p.extra, "loss=0.1234 test_err=1.74%% winners=1830 pnorm=1.020 \xe2\x88\x86=0.5 %s",
           "a_very_long_figure_without_spaces_that_goes_on_and_on_and_on_and_on_and_on_and_on");
  char buf[600];
  int prev_fields = 0;
  for (int w = 2; w <= 200; w++) {
    size_t n = nd_progress_format(&p, w, false, buf, sizeof buf);
    assert_int_equal(n, strlen(buf));
    int avail = w - 1 > 1 ? w - 1 : 1;
    if (cols_of(buf) > avail) fail_msg("width %d: %d columns: %s", w, cols_of(buf), buf);
    if (!utf8_ok(buf)) fail_msg("width %d: broken UTF-8: %s", w, buf);
    /* More room never shows fewer figures. */
    int fields = 0;
    for (const char *q = buf; (q = strchr(q, '=')); q++) fields++;
    if (fields < prev_fields) fail_msg("width %d shows %d figures, width %d showed %d", w, fields, w - 1, prev_fields);
    prev_fields = fields;
    if (getenv("ND_TEST_VERBOSE")) printf("%3d %s\n", w, buf);
  }
  /* Wide: everything, with a full 20-cell bar. */
  nd_progress_format(&p, 400, false, buf, sizeof buf);
  assert_non_null(strstr(buf, "[##..................]"));
  assert_non_null(strstr(buf, " 12% 123456/1000000 images "));
  assert_non_null(strstr(buf, "ETA "));
  assert_non_null(strstr(buf, "and_on_and_on"));
  /* Order of giving up room: first the bar shrinks, then figures go from the
   * end, then the bar, then rate, unit and ETA. */
  int w_all = cols_of(buf) + 1;
  nd_progress_format(&p, w_all - 5, false, buf, sizeof buf);
  assert_non_null(strstr(buf, "and_on_and_on")); /* bar shrank */
  assert_null(strstr(buf, "[##..................]"));
  nd_progress_format(&p, 120, false, buf, sizeof buf); /* figures from the end */
  assert_null(strstr(buf, "and_on_and_on"));
  assert_null(strstr(buf, "winners="));
  assert_non_null(strstr(buf, "loss=0.1234"));
  assert_non_null(strstr(buf, "[......]")); /* the smallest bar, 6 cells */
  nd_progress_format(&p, 92, false, buf, sizeof buf); /* then the bar */
  assert_null(strstr(buf, "="));
  assert_null(strstr(buf, "["));
  assert_non_null(strstr(buf, "/s ETA"));
  nd_progress_format(&p, 84, false, buf, sizeof buf); /* then the rate */
  assert_null(strstr(buf, "/s"));
  assert_non_null(strstr(buf, " images ETA "));
  nd_progress_format(&p, 78, false, buf, sizeof buf); /* then the unit */
  assert_null(strstr(buf, "images"));
  assert_non_null(strstr(buf, "ETA "));
  nd_progress_format(&p, 60, false, buf, sizeof buf); /* then the ETA, then the label is cut */
  assert_null(strstr(buf, "ETA"));
  assert_non_null(strstr(buf, " 12% 123456/1000000"));
  assert_null(strstr(buf, "long label"));
  /* Words without '=' stay with the figure before them: "epoch 3/10" is
   * dropped whole, never cut to a dangling "epoch". */
  snprintf(p.extra, sizeof p.extra, "epoch 3/10 winners=1830 (best) pnorm=1.020");
  bool saw_epoch_only = false, saw_winners_without_best = false;
  for (int w = 40; w <= 200; w++) {
    nd_progress_format(&p, w, false, buf, sizeof buf);
    const char *e = strstr(buf, "epoch");
    if (e && strncmp(e, "epoch 3/10", 10) != 0) saw_epoch_only = true;
    const char *wn = strstr(buf, "winners=1830");
    if (wn && strncmp(wn, "winners=1830 (best)", 19) != 0) saw_winners_without_best = true;
  }
  assert_false(saw_epoch_only);
  assert_false(saw_winners_without_best);
  nd_progress_format(&p, 400, false, buf, sizeof buf);
  assert_non_null(strstr(buf, " epoch 3/10 winners=1830 (best) pnorm=1.020"));
  /* A tiny buffer: cut, still terminated. */
  size_t n = nd_progress_format(&p, 200, false, buf, 10);
  assert_true(n <= 9);
  assert_int_equal(strlen(buf), n);
  /* Final line: "in" instead of the ETA. */
  nd_progress_format(&p, 400, true, buf, sizeof buf);
  assert_non_null(strstr(buf, " in "));
  assert_null(strstr(buf, "ETA"));
  /* Unknown total: counts, unit, rate, elapsed; no bar or percentage. */
  p.total = 0;
  nd_progress_format(&p, 400, false, buf, sizeof buf);
  assert_null(strstr(buf, "["));
  assert_null(strstr(buf, "% 123456"));
  assert_non_null(strstr(buf, " 123456 images "));
}

/* stderr not a terminal: whole lines, no "\r", no escape sequence, no bar. */
static void test_plain_lines(void **state) {
  (void)state;
  char path[] = "/tmp/nd-progress-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  nd_progress p;
  nd_progress_begin_unit(&p, "mlp-baseline", 10, "epochs");
  assert_false(p.tty);
  for (int e = 1; e <= 10; e++) nd_progress_update(&p, e, "loss=%.2f", 1.0 / e);
  nd_progress_end(&p);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char buf[4096] = "";
  ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
  close(fd);
  unlink(path);
  assert_true(k > 0);
  buf[k] = '\0';
  assert_null(strchr(buf, '\r'));
  assert_null(strchr(buf, '\033'));
  assert_null(strchr(buf, '['));
  assert_non_null(strstr(buf, "mlp-baseline  10% 1/10 epochs "));
  assert_non_null(strstr(buf, "100% 10/10 epochs "));
  assert_non_null(strstr(buf, "loss=0.10\n"));
  int lines = 0;
  for (const char *q = buf; (q = strchr(q, '\n')); q++) lines++;
  assert_int_equal(lines, 10); /* 10%, ..., 90%, and the end */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pty_80_and_40),
      cmocka_unit_test(test_width_fallbacks),
      cmocka_unit_test(test_format_every_width),
      cmocka_unit_test(test_plain_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
