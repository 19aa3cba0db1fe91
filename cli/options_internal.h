/* Private to cli/options.c, cli/config_file.c and cli/cli_common.c: the
 * pieces the option parser and the --config reader share. */
#ifndef NEURODYN_CLI_OPTIONS_INTERNAL_H
#define NEURODYN_CLI_OPTIONS_INTERNAL_H

#include <stdio.h>

#include "options.h"

/* Where failures are printed (NULL: stderr); the --config fuzz target sets it. */
extern FILE *nd__cli_err_stream;

/* Option names compare with '-' and '_' alike. */
bool nd__cli_name_eq(const char *a, const char *b, size_t blen);
const nd_option *nd__cli_find_option(const nd_opts *spec, const char *name, size_t len);
/* args takes s (malloc'ed) and frees it in nd_args_release. */
bool nd__cli_keep_string(nd_args *args, char *s);
/* Parses text into o's destination; false with a message in err. */
bool nd__cli_set_value(const nd_option *o, const char *text, char *err, size_t errlen);
/* Applies the JSON object in path; false after printing an error. */
bool nd__cli_apply_config(const nd_opts *spec, const char *path, nd_args *args);

#endif
