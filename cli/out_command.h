/* The shape shared by commands that parse their option table, need --out
 * and run once (run snn, train esn, train ngrc). */
#ifndef NEURODYN_CLI_OUT_COMMAND_H
#define NEURODYN_CLI_OUT_COMMAND_H

#include "options.h"

/* Parses spec (0 after --help, 2 after a usage error), applies the common
 * options, refuses a missing --out (exit 2), calls run(spec, user) and maps
 * its status to the exit code (nd_cli_lib_fail on failure). */
int nd_cli_out_command(const char *cmd, const nd_opts *spec, const nd_cli_common *common, int argc, char **argv,
                       nd_status (*run)(const nd_opts *spec, void *user), void *user);

#endif
