/* Real data: MNIST and Fashion-MNIST as scripts/get-data.sh installs them
 * (MNIST raw IDX, Fashion-MNIST gzip IDX), loaded through nd_mnist_load and
 * nd_fashion_mnist_load and checked against published facts about the sets:
 * split sizes, per-class label counts, the first labels, pixel range, and
 * the mean/std of the training pixels (the usual normalisation constants
 * 0.1307/0.3081 for MNIST and 0.2860/0.3530 for Fashion-MNIST).  Exits 77
 * (skipped) with a message when a data set is not present. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "neurodyn/data.h"
#include "neurodyn/neurodyn.h"

static int failures;

#define CHECK(cond, ...)                              \
  do {                                                \
    if (!(cond)) {                                    \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                   \
      fputc('\n', stderr);                            \
      failures++;                                     \
    }                                                 \
  } while (0)

typedef struct expect {
  const char *split;
  int64_t n;
  int counts[10];
  int first[3];
  double mean, std; /* of pixel/255; checked for the training split only */
  long first_sum;   /* sum of the raw bytes of image 0 */
} expect;

typedef nd_status (*loader)(const char *, const char *, int64_t, nd_dataset *);

static void check_split(const char *name, loader load, const expect *e) {
  nd_dataset ds;
  nd_status s = load(NULL, e->split, 0, &ds);
  if (s != ND_OK) {
    CHECK(0, "%s %s: %s", name, e->split, nd_last_error());
    return;
  }
  CHECK(ds.n == e->n, "%s %s: %lld examples, expected %lld", name, e->split, (long long)ds.n, (long long)e->n);
  CHECK(ds.rows == 28 && ds.cols == 28, "%s: images %dx%d", name, ds.rows, ds.cols);
  CHECK(ds.num_classes == 10, "%s: %d classes", name, ds.num_classes);
  CHECK(ds.images.ndim == 2 && ds.images.shape[0] == ds.n && ds.images.shape[1] == 784, "%s: image tensor shape",
        name);
  int counts[10] = {0};
  for (int64_t i = 0; i < ds.n; i++) {
    if (ds.labels[i] < 0 || ds.labels[i] > 9) {
      CHECK(0, "%s %s: label %lld is %d", name, e->split, (long long)i, ds.labels[i]);
      break;
    }
    counts[ds.labels[i]]++;
  }
  for (int c = 0; c < 10; c++)
    CHECK(counts[c] == e->counts[c], "%s %s: class %d has %d examples, expected %d", name, e->split, c, counts[c],
          e->counts[c]);
  for (int i = 0; i < 3; i++)
    CHECK(ds.labels[i] == e->first[i], "%s %s: label %d is %d, expected %d", name, e->split, i, ds.labels[i],
          e->first[i]);
  double sum = 0, sq = 0, lo = 1e9, hi = -1e9, first = 0;
  int64_t total = ds.n * 784;
  for (int64_t i = 0; i < total; i++) {
    double v = ds.images.data[i];
    sum += v;
    sq += v * v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    if (i < 784) first += v;
  }
  CHECK(lo == 0.0 && hi == 1.0, "%s %s: pixel range [%g, %g], expected [0, 1]", name, e->split, lo, hi);
  CHECK(fabs(first * 255 - e->first_sum) < 0.01, "%s %s: image 0 sums to %.3f bytes, expected %ld", name, e->split,
        first * 255, e->first_sum);
  if (e->mean > 0) {
    double mean = sum / (double)total, std = sqrt(sq / (double)total - mean * mean);
    CHECK(fabs(mean - e->mean) < 5e-4, "%s %s: pixel mean %.5f, expected %.4f", name, e->split, mean, e->mean);
    CHECK(fabs(std - e->std) < 5e-4, "%s %s: pixel std %.5f, expected %.4f", name, e->split, std, e->std);
  }
  /* limit keeps a prefix. */
  nd_dataset head;
  s = load(NULL, e->split, 100, &head);
  CHECK(s == ND_OK && head.n == 100 && !memcmp(head.images.data, ds.images.data, 100 * 784 * sizeof(float)) &&
            !memcmp(head.labels, ds.labels, 100 * sizeof(int32_t)),
        "%s %s: first 100 examples differ from the full load", name, e->split);
  nd_dataset_release(&head);
  nd_dataset_release(&ds);
  printf("%s %s: %lld examples ok\n", name, e->split, (long long)e->n);
}

int main(void) {
  char dir[1024];
  const char *sets[2] = {"mnist", "fashion-mnist"};
  for (int i = 0; i < 2; i++)
    if (nd_data_dir(sets[i], dir, sizeof dir) != ND_OK) {
      printf("SKIP: %s\n", nd_last_error());
      return 77;
    }
  const expect mnist[2] = {
      {"train", 60000, {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, {5, 0, 4}, 0.1307, 0.3081, 27525},
      {"test", 10000, {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, {7, 2, 1}, 0, 0, 18454},
  };
  const expect fashion[2] = {
      {"train", 60000, {6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000}, {9, 0, 0}, 0.2860, 0.3530,
       76247},
      {"test", 10000, {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, {9, 2, 1}, 0, 0, 33456},
  };
  for (int i = 0; i < 2; i++) check_split("mnist", nd_mnist_load, &mnist[i]);
  for (int i = 0; i < 2; i++) check_split("fashion-mnist", nd_fashion_mnist_load, &fashion[i]);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
