/* libFuzzer target: the --config JSON reader of cli/options.c (compiled into
 * this program with cli/options.c and cli/cli_common.c), with a table
 * that has every option type, a choice, and the thread count.
 *
 * Checks: no crash, leak or sanitizer report; a file that is accepted leaves
 * every destination in its type's range (thread count 0 or 1..cap, choice a
 * valid index, numbers finite) and strings valid until nd_args_release. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.c"
#include "config_file.c"
#include "options.c"

/* The progress module is not linked; the reader never calls it. */
void nd_progress_set_quiet(bool quiet) { (void)quiet; }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* Each refused file prints one line; keep the fuzzer's output (and any
   * sanitizer report) on stderr and send those lines elsewhere. */
  if (!getenv("ND_FUZZ_VERBOSE")) nd__cli_err_stream = fopen("/dev/null", "w");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const kinds[] = {"fast", "ode", "top", NULL};
  int epochs = 0, kind = 0;
  int64_t batch = 0;
  double lr = 0;
  const char *init = NULL;
  bool plot = false;
  nd_cli_common common;
  const nd_option table[] = {
      {"epochs", ND_OPT_INT, &epochs, "5", "epochs", NULL},
      {"batch", ND_OPT_INT64, &batch, "100", "batch", NULL},
      {"lr", ND_OPT_DOUBLE, &lr, "0.01", "lr", NULL},
      {"kind", ND_OPT_CHOICE, &kind, "fast", "kind", kinds},
      {"init", ND_OPT_STRING, &init, NULL, "init", NULL},
      {"plot", ND_OPT_BOOL, &plot, "true", "plot", NULL},
      {"weight-decay", ND_OPT_DOUBLE, &lr, "0", "weight decay", NULL},
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"fuzz", "[options]", NULL, table, 0, 0};
  nd_args args;
  memset(&args, 0, sizeof args);
  char err[256];
  for (const nd_option *o = table; o->name; o++)
    if (!set_default(o, err, sizeof err)) __builtin_trap();
  unsigned char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  if (apply_config_text(&spec, "fuzz.json", buf, size, &args)) {
    if (kind < 0 || kind > 2) __builtin_trap();
    if (!isfinite(lr)) __builtin_trap();
    if (common.threads < 0 || common.threads > nd_max_threads()) __builtin_trap();
    if (init) (void)strlen(init);
    if (common.out) (void)strlen(common.out);
  }
  nd_args_release(&args);
  return 0;
}
