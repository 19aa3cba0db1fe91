/* Loading of the data options (datasets.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "datasets.h"
#include "run.h"

const char *const nd_cli_dataset_names[] = {"mnist", "fashion-mnist", NULL};

const char *nd_cli_data_name(const nd_cli_dataopts *d) { return nd_cli_dataset_names[d->dataset]; }

/* Records the IDX files a split was read from, for config.json. */
static void note_files(nd_cli_dataopts *d, const char *split) {
  int at = 0;
  while (at < 4 && d->file_list[at]) at++;
  if (at > 2) return;
  if (nd_dataset_files(d->root, nd_cli_data_name(d), split, d->files[at], d->files[at + 1], sizeof d->files[at]) != ND_OK)
    return;
  d->file_list[at] = d->files[at];
  d->file_list[at + 1] = d->files[at + 1];
}

static int check_numbers(const char *cmd, const nd_cli_dataopts *d) {
  if (d->limit < 0) return nd_cli_cmd_fail(cmd, 2, "--limit %lld: need >= 0", (long long)d->limit);
  if (d->test_limit < 0) return nd_cli_cmd_fail(cmd, 2, "--test-limit %lld: need >= 0", (long long)d->test_limit);
  if (d->validation < 0) return nd_cli_cmd_fail(cmd, 2, "--validation %lld: need >= 0", (long long)d->validation);
  struct stat sb;
  if (d->root && (stat(d->root, &sb) != 0 || !S_ISDIR(sb.st_mode)))
    return nd_cli_cmd_fail(cmd, 2, "--data %s: no such directory", d->root);
  return 0;
}

/* The last n rows of from move into a new data set. */
static nd_status split_off(nd_dataset *from, int64_t n, nd_dataset *to) {
  memset(to, 0, sizeof *to);
  const int64_t d = from->images.shape[1], keep = from->n - n;
  nd_status s = nd_tensor_alloc(&to->images, 2, ND_SHAPE(n, d));
  to->labels = s == ND_OK ? malloc(sizeof(int32_t) * (size_t)n) : NULL;
  if (s != ND_OK || !to->labels) {
    nd_tensor_release(&to->images);
    return s != ND_OK ? s : ND_ERR_NOMEM;
  }
  memcpy(to->images.data, from->images.data + keep * d, sizeof(float) * (size_t)(n * d));
  memcpy(to->labels, from->labels + keep, sizeof(int32_t) * (size_t)n);
  to->n = n;
  to->rows = from->rows, to->cols = from->cols, to->num_classes = from->num_classes;
  from->n = keep;
  from->images.shape[0] = keep;
  return ND_OK;
}

int nd_cli_data_load(const char *cmd, nd_cli_dataopts *d, nd_dataset *train, nd_dataset *val, nd_dataset *test) {
  memset(train, 0, sizeof *train);
  if (val) memset(val, 0, sizeof *val);
  if (test) memset(test, 0, sizeof *test);
  memset(d->file_list, 0, sizeof d->file_list);
  int rc = check_numbers(cmd, d);
  if (rc) return rc;
  const char *name = nd_cli_data_name(d);
  nd_status s = nd_dataset_load(d->root, name, "train", d->limit, train);
  if (s == ND_OK && test) s = nd_dataset_load(d->root, name, "test", d->test_limit, test);
  if (s != ND_OK) {
    rc = nd_cli_cmd_fail(cmd, 2, "%s (run `make data` or `neurodyn data fetch` to download it)", nd_last_error());
  } else if (d->validation > 0 && d->validation >= train->n) {
    rc = nd_cli_cmd_fail(cmd, 2, "--validation %lld: the training set has only %lld images", (long long)d->validation,
                         (long long)train->n);
  } else if (d->validation > 0 && val) {
    s = split_off(train, d->validation, val);
    if (s != ND_OK) rc = nd_cli_lib_fail(cmd, s);
  } else if (d->validation > 0) {
    train->n -= d->validation; /* held out and unused by this command */
    train->images.shape[0] = train->n;
  }
  if (rc) {
    nd_dataset_release(train);
    if (val) nd_dataset_release(val);
    if (test) nd_dataset_release(test);
    return rc;
  }
  note_files(d, "train");
  if (test) note_files(d, "test");
  return 0;
}

nd_status nd_cli_read_weights(const char *path, nd_tensor *w) {
  memset(w, 0, sizeof *w);
  ND_CLI_TRY(nd_tensor_file_read_f32(path, "W", w)); /* tensor "W" of a safetensors file, or an NPY file */
  int64_t bad = -1, n = nd_tensor_numel(w);
  for (int64_t i = 0; i < n && bad < 0; i++)
    if (!isfinite(w->data[i])) bad = i;
  nd_status s = w->ndim != 2 ? nd_set_error(ND_ERR_SHAPE, "%s: W has %d dimensions, need [hidden, visible]", path, w->ndim)
                : bad >= 0   ? nd_set_error(ND_ERR_FORMAT, "%s: W holds a NaN or infinite value (element %lld)", path, (long long)bad)
                             : ND_OK;
  if (s != ND_OK) nd_tensor_release(w);
  return s;
}
