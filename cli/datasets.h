/* The data options every command that reads a data set takes, and their
 * loading: --dataset, --data DIR (the data root holding mnist/ and
 * fashion-mnist/; default $ND_DATA_DIR, else ./data), --limit N (training
 * images only: the test set is never trimmed unless --test-limit says so)
 * and --validation N (the last N training images held out, e.g. 10000, to
 * choose hyperparameters on). */
#ifndef NEURODYN_CLI_DATASETS_H
#define NEURODYN_CLI_DATASETS_H

#include "neurodyn/neurodyn.h"
#include "options.h"

typedef struct nd_cli_dataopts {
  int dataset;        /* index into nd_cli_dataset_names */
  const char *root;   /* --data DIR, or NULL */
  int64_t limit;      /* training images used (0: all) */
  int64_t test_limit; /* test images used (0: all) */
  int64_t validation; /* last training images held out (0: none) */
  char files[4][4096]; /* the IDX files read (for config.json) */
  const char *file_list[5];
} nd_cli_dataopts;

extern const char *const nd_cli_dataset_names[]; /* "mnist", "fashion-mnist", NULL */

#define ND_OPT_DATA(d)                                                                                              \
  {"dataset", ND_OPT_CHOICE, &(d)->dataset, "mnist", "data set: mnist or fashion-mnist", nd_cli_dataset_names},     \
  {"data", ND_OPT_STRING, &(d)->root, NULL, "data root holding mnist/ and fashion-mnist/ (default $ND_DATA_DIR, else ./data)", NULL}, \
  {"limit", ND_OPT_INT64, &(d)->limit, "0", "use only the first N training images (0: all; the test set stays whole)", NULL}, \
  {"test-limit", ND_OPT_INT64, &(d)->test_limit, "0", "use only the first N test images (0: all)", NULL},              \
  {"validation", ND_OPT_INT64, &(d)->validation, "0", "hold out the last N training images as a validation set (0: none)", NULL}

/* Checks the numbers (exit 2 naming the flag) and loads what is asked for:
 * train (always), val (when --validation > 0 and val is not NULL), test
 * (when not NULL).  Returns 0 or the exit code with the message printed;
 * on failure nothing is left allocated. */
int nd_cli_data_load(const char *cmd, nd_cli_dataopts *d, nd_dataset *train, nd_dataset *val, nd_dataset *test);

const char *nd_cli_data_name(const nd_cli_dataopts *d);

#endif
