/* Loading of the data options (datasets.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "datasets.h"
#include "run.h"

const char *const nd_cli_dataset_names[] = {"mnist", "fashion-mnist", NULL};

const char *nd_cli_data_name(const nd_cli_dataopts *d) { return nd_cli_dataset_names[d->dataset]; }

static nd_status load_split(const nd_cli_dataopts *d, const char *dir, const char *split, int64_t limit, nd_dataset *out) {
  if (d->dataset == 1) return nd_fashion_mnist_load(dir, split, limit, out);
  return nd_mnist_load(dir, split, limit, out);
}

/* Records the IDX files of a split that exist (plain or .gz) for config.json. */
static void note_files(nd_cli_dataopts *d, const char *dir, const char *split) {
  const char *stem = strcmp(split, "test") == 0 ? "t10k" : "train";
  const char *kinds[2] = {"images-idx3-ubyte", "labels-idx1-ubyte"};
  int at = 0;
  while (at < 4 && d->file_list[at]) at++;
  for (int k = 0; k < 2 && at < 4; k++)
    for (int gz = 0; gz < 2; gz++) {
      char *p = d->files[at];
      snprintf(p, sizeof d->files[at], "%s/%s-%s%s", dir, stem, kinds[k], gz ? ".gz" : "");
      struct stat sb;
      if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
        d->file_list[at++] = p;
        break;
      }
    }
}

static int check_numbers(const char *cmd, const nd_cli_dataopts *d) {
  if (d->limit < 0) return nd_cli_cmd_fail(cmd, 2, "--limit %lld: need >= 0", (long long)d->limit);
  if (d->test_limit < 0) return nd_cli_cmd_fail(cmd, 2, "--test-limit %lld: need >= 0", (long long)d->test_limit);
  if (d->validation < 0) return nd_cli_cmd_fail(cmd, 2, "--validation %lld: need >= 0", (long long)d->validation);
  if (d->root) {
    struct stat sb;
    if (stat(d->root, &sb) != 0 || !S_ISDIR(sb.st_mode))
      return nd_cli_cmd_fail(cmd, 2, "--data %s: no such directory", d->root);
  }
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
  char dir[4096];
  nd_status s = ND_OK;
  if (d->root) {
    if (snprintf(dir, sizeof dir, "%s/%s", d->root, nd_cli_data_name(d)) >= (int)sizeof dir)
      return nd_cli_cmd_fail(cmd, 2, "--data: the path is too long");
  } else {
    s = nd_data_dir(nd_cli_data_name(d), dir, sizeof dir);
  }
  if (s == ND_OK) s = load_split(d, dir, "train", d->limit, train);
  if (s == ND_OK && test) s = load_split(d, dir, "test", d->test_limit, test);
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
  note_files(d, dir, "train");
  if (test) note_files(d, dir, "test");
  return 0;
}

nd_status nd_cli_read_weights(const char *path, nd_tensor *w) {
  memset(w, 0, sizeof *w);
  size_t n = strlen(path);
  if (n >= 4 && !strcmp(path + n - 4, ".npy")) {
    ND_CLI_TRY(nd_npy_read(path, w));
    int64_t bad = -1;
    for (int64_t i = 0; i < nd_tensor_numel(w) && bad < 0; i++)
      if (!(w->data[i] == w->data[i]) || w->data[i] - w->data[i] != 0) bad = i;
    nd_status s = w->ndim != 2 ? nd_set_error(ND_ERR_SHAPE, "%s: the array has %d dimensions, need [hidden, visible]", path, w->ndim)
                  : bad >= 0   ? nd_set_error(ND_ERR_FORMAT, "%s: holds a NaN or infinite value (element %lld)", path, (long long)bad)
                               : ND_OK;
    if (s != ND_OK) nd_tensor_release(w);
    return s;
  }
  nd_checkpoint *ck = NULL;
  ND_CLI_TRY(nd_checkpoint_read(path, &ck));
  nd_status s = nd_checkpoint_get_tensor(ck, "W", 2, ND_SHAPE(-1, -1), w);
  nd_checkpoint_free(ck);
  return s;
}
