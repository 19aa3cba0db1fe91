/* config.json of a run: the resolved options (options.h) plus where the
 * run came from under "_provenance" (ignored when the file is read back
 * with --config): the program version and source commit, the host, the
 * start time and the SHA-256 of every data file read. */
#ifndef NEURODYN_CLI_RUN_CONFIG_H
#define NEURODYN_CLI_RUN_CONFIG_H

#include "options.h"

/* files: NULL-terminated list of data files (may be NULL).  Returns 0 or
 * the exit code with the message printed. */
int nd_cli_write_run_config(const char *cmd, const nd_opts *spec, const char *path, const char *const *files);

/* text (plus a newline) into path atomically: path.tmp.<pid>, fsync,
 * rename.  Returns 0 or the exit code with the message printed. */
int nd_cli_write_text_atomic(const char *cmd, const char *path, const char *text);

#endif
