/* libFuzzer target: the net.json reader of `neurodyn train somp`
 * (somp_spec_parse in cli/somp_common.c, compiled into this program with
 * cli/cli_common.c, cli/config_file.c and cli/options.c).
 *
 * Checks: no crash, leak or sanitizer report; a file that is accepted
 * describes a network the schema allows (1..16 cells of 1..65536 units with
 * unique names and 1..16 inputs each, every input "x" or a cell, some cell
 * reading x from the first epoch, rules on existing cells, washout < T), and
 * building that network in the library succeeds for small sizes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.c"
#include "config_file.c"
#include "options.c"
#include "somp_common.c"

/* The progress module is not linked; the reader never calls it. */
void nd_progress_set_quiet(bool quiet) { (void)quiet; }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (!getenv("ND_FUZZ_VERBOSE")) nd__cli_err_stream = fopen("/dev/null", "w");
  return 0;
}

static int find(const somp_spec *s, const char *name) {
  for (int i = 0; i < s->n_cells; i++)
    if (!strcmp(s->cells[i].name, name)) return i;
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static somp_spec s;
  if (somp_spec_parse("fuzz", "net.json", (const char *)data, size, &s) != 0) return 0;
  if (s.n_cells < 1 || s.n_cells > SOMP_CLI_MAX_CELLS || s.n_rules < 0 || s.n_rules > SOMP_CLI_MAX_RULES) __builtin_trap();
  bool x0 = false;
  int64_t units = 0;
  for (int i = 0; i < s.n_cells; i++) {
    if (s.cells[i].units < 1 || s.cells[i].units > 65536 || !s.cells[i].name[0]) __builtin_trap();
    if (find(&s, s.cells[i].name) != i) __builtin_trap();
    if (s.n_conn[i] < 1 || s.n_conn[i] > SOMP_CLI_MAX_CONN) __builtin_trap();
    for (int k = 0; k < s.n_conn[i]; k++) {
      const bool is_x = !strcmp(s.conn[i][k], "x");
      if (!is_x && find(&s, s.conn[i][k]) < 0) __builtin_trap();
      if (s.conn_from[i][k] < 0 || (!is_x && s.conn_from[i][k] != 0)) __builtin_trap();
      x0 |= is_x && s.conn_from[i][k] == 0;
    }
    units += s.cells[i].units;
  }
  if (!x0 || find(&s, s.readout) < 0 || s.task.washout >= s.task.T) __builtin_trap();
  for (int r = 0; r < s.n_rules; r++)
    if (s.rules[r].cell < 0 || s.rules[r].cell >= s.n_cells) __builtin_trap();
  if (units <= 256 && s.task.batch * s.task.T <= 4096) { /* the library accepts what the reader accepted */
    s.task.features = s.task.outputs = 3;
    somp_model m;
    if (somp_model_build(&m, &s, 1) != ND_OK) __builtin_trap();
    somp_model_free(&m);
  }
  return 0;
}
