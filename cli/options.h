/* Typed option parser shared by every `neurodyn <command>`.
 *
 * A command declares a table of options and calls nd_opts_parse:
 *
 *   int epochs; double lr; int act; const char *init; bool plot;
 *   nd_cli_common common;
 *   static const char *const acts[] = {"relu", "tanh", NULL};
 *   const nd_option table[] = {
 *     {"epochs", ND_OPT_INT, &epochs, "5", "training epochs", NULL},
 *     {"lr", ND_OPT_DOUBLE, &lr, "0.01", "learning rate", NULL},
 *     {"act", ND_OPT_CHOICE, &act, "relu", "hidden activation", acts},
 *     {"init", ND_OPT_STRING, &init, NULL, "checkpoint to start from", NULL},
 *     {"plot", ND_OPT_BOOL, &plot, "true", "write PNG figures", NULL},
 *     ND_OPT_COMMON(&common),
 *     ND_OPT_END,
 *   };
 *   const nd_opts spec = {"neurodyn train", "[options]", "Trains ...", table, 0, 0};
 *   nd_args args;
 *   int rc = nd_opts_parse(&spec, argc, argv, &args);
 *   if (rc != ND_OPTS_CONTINUE) return rc;   // 0 after --help, 2 after a bad option
 *   nd_cli_common_apply(&common);            // threads, quiet
 *   ... args.pos[0 .. args.npos-1] are the positional arguments ...
 *   nd_opts_write_config(&spec, path);       // resolved options as JSON (atomic)
 *   nd_args_release(&args);
 *
 * Destinations: ND_OPT_INT int, ND_OPT_INT64 int64_t, ND_OPT_DOUBLE double,
 * ND_OPT_STRING const char * (NULL when the default is NULL and nothing was
 * given; the string stays valid until nd_args_release), ND_OPT_BOOL bool,
 * ND_OPT_CHOICE int (index into the NULL-terminated `choices`).  Defaults are
 * written as text, exactly as on the command line ("5", "0.01", "relu",
 * "true"); a NULL default means 0 / false / NULL / the first choice.
 * --help shows N for integers, X for reals, DIR for string options named
 * "out", "data" or "*-dir", FILE for other strings.
 *
 * Syntax: `--name value` or `--name=value`; booleans take `--name`,
 * `--no-name` or `--name=true|false|1|0|yes|no`.  `--` ends the options.
 * `-h`/`--help` prints the generated help on stdout.
 *
 * `--config FILE.json` (always understood) reads a JSON object (a regular
 * file of at most ND_CLI_CONFIG_MAX_BYTES, nothing but whitespace after the
 * object, no NUL or raw control byte, each key once) whose keys are
 * option names (`-` or `_` between words): numbers for numeric options,
 * strings for string and choice options, true/false for booleans.  The file
 * fills values that are not given on the command line: flags override it.
 * Keys starting with "_" are ignored (the writer stores "_command" and
 * "_version" there).  An unknown key, a value of the wrong type or out of
 * range, an unknown option or a missing value is a usage error: one line
 * `<prog>: <what was wrong, naming the option or file and key>` on stderr and
 * nd_opts_parse returns 2. */
#ifndef NEURODYN_CLI_OPTIONS_H
#define NEURODYN_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

typedef enum nd_opt_type {
  ND_OPT_INT = 1,
  ND_OPT_INT64,
  ND_OPT_DOUBLE,
  ND_OPT_STRING,
  ND_OPT_BOOL,
  ND_OPT_CHOICE
} nd_opt_type;

typedef struct nd_option {
  const char *name;            /* long name without "--"; NULL ends the table */
  nd_opt_type type;
  void *dest;
  const char *def;             /* default, as text; NULL: zero / false / NULL / first choice */
  const char *help;            /* one line */
  const char *const *choices;  /* ND_OPT_CHOICE: NULL-terminated names */
} nd_option;

#define ND_OPT_END {NULL, (nd_opt_type)0, NULL, NULL, NULL, NULL}

/* The options every command that runs something takes. */
typedef struct nd_cli_common {
  int64_t seed;      /* --seed N: makes a run repeatable (default 0) */
  const char *out;   /* --out DIR: where a run writes (default NULL: the command's own default) */
  int threads;       /* --threads N: worker threads, 0 = all cores / $ND_NUM_THREADS */
  bool quiet;        /* --quiet: no progress output */
} nd_cli_common;

#define ND_OPT_COMMON(c)                                                                            \
  {"seed", ND_OPT_INT64, &(c)->seed, "0", "random seed (same seed, same run)", NULL},              \
  {"out", ND_OPT_STRING, &(c)->out, NULL, "output directory", NULL},                                \
  {"threads", ND_OPT_INT, &(c)->threads, "0", "worker threads (0: all cores or $ND_NUM_THREADS)", NULL}, \
  {"quiet", ND_OPT_BOOL, &(c)->quiet, "false", "no progress output", NULL}

typedef struct nd_opts {
  const char *prog;          /* "neurodyn train": used in messages and help */
  const char *usage;         /* synopsis after prog, e.g. "[options] FILE" */
  const char *description;   /* paragraph printed by --help (may be NULL) */
  const nd_option *options;  /* table ended by ND_OPT_END */
  int min_pos, max_pos;      /* accepted number of positional arguments (max_pos < 0: any) */
} nd_opts;

/* Result of a parse: positional arguments and the storage of strings read
 * from a config file. */
typedef struct nd_args {
  int npos;
  char **pos;                /* point into argv */
  const char *config_path;   /* --config FILE, or NULL */
  char **owned_;             /* private */
  int n_owned_, cap_owned_;  /* private */
} nd_args;

#define ND_OPTS_CONTINUE (-1)
#define ND_CLI_CONFIG_MAX_BYTES (1 << 20) /* largest --config file */

/* Sets defaults, reads --config, applies the flags.  argv[0] is the command
 * name and is skipped.  Returns ND_OPTS_CONTINUE on success, 0 after printing
 * --help, 2 after printing a usage error (args is then already released). */
int nd_opts_parse(const nd_opts *spec, int argc, char **argv, nd_args *args);
void nd_args_release(nd_args *args);

/* Prints the generated help to stdout. */
void nd_opts_print_help(const nd_opts *spec);

/* Writes the current values of every option in spec->options to path as a
 * JSON object (plus "_command" and "_version"), atomically (temporary file +
 * rename).  Reading that file back with --config reproduces the values. */
nd_status nd_opts_write_config(const nd_opts *spec, const char *path);

/* The same object as a cJSON tree (the caller adds to it and writes it with
 * nd_cli_write_json, which frees it).  NULL when out of memory. */
struct cJSON;
struct cJSON *nd_opts_to_json(const nd_opts *spec);
/* Prints root (then frees it) into path atomically, with a final newline. */
nd_status nd_cli_write_json(struct cJSON *root, const char *path);

/* Applies --threads (nd_set_num_threads) and --quiet (progress bars off,
 * library log level ERROR). */
void nd_cli_common_apply(const nd_cli_common *c);

/* Reports a failure in the contract's format: one line on stderr,
 * "<prog>: <message>".  Returns code, so commands can write
 *   return nd_cli_fail(2, "neurodyn inspect", "%s", nd_last_error()); */
int nd_cli_fail(int code, const char *prog, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Fails with exit 2 ("<path>: <what> <shape> holds a NaN or infinite value
 * (element i)") when t holds a non-finite value; 0 otherwise. */
int nd_cli_check_finite(const char *prog, const char *path, const char *what, const nd_tensor *t);
/* Writes t to path as safetensors (one tensor named `name`) when the name ends
 * in .safetensors, NPY otherwise, atomically; 0, or exit code 1 with the
 * library's message. */
int nd_cli_write_tensor(const char *prog, const char *path, const char *name, const nd_tensor *t);
/* The same with the program name "neurodyn <cmd>" (cmd e.g. "train krotov"). */
int nd_cli_cmd_fail(const char *cmd, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A library failure: prints nd_last_error() and returns nd_cli_status_code(s). */
int nd_cli_lib_fail(const char *cmd, nd_status s);

/* Exit code for a failing library status: 2 for bad input (invalid argument,
 * shape, missing or malformed file, unknown name), 1 for runtime failures. */
int nd_cli_status_code(nd_status s);

/* 0 if a file can be written at out (not a directory, its parent exists and
 * is writable), else the usage error printed and 2 (cmd_convert.c). */
int nd_cli_check_output(const char *prog, const char *out);

/* A file or directory that comes with the program, found from where the
 * program is (no path is compiled in): <bindir>/../<installed> (an installed
 * program: "share/neurodyn/..."), else <source> relative to the source tree a
 * build directory sits in (one to three levels up from the program).  True
 * with the path in buf when ok(path) holds for one. */
bool nd_cli_find_beside(const char *installed, const char *source, bool (*ok)(const char *path), char *buf,
                        size_t len);

/* Creates dir and its missing parents (like mkdir -p).  ND_ERR_IO names the
 * directory on failure. */
nd_status nd_cli_mkdirs(const char *dir);

#endif
