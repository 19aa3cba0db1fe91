/* neurodyn data sets: MNIST and Fashion-MNIST (IDX files, raw or gzip).
 *
 * scripts/get-data.sh puts them in data/mnist/ and data/fashion-mnist/ (see
 * docs/data.md).  File names are looked up with and without ".gz":
 *   train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *   t10k-images-idx3-ubyte,  t10k-labels-idx1-ubyte. */
#ifndef NEURODYN_DATA_H
#define NEURODYN_DATA_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Labelled images.  Owns its memory; release with nd_dataset_release. */
typedef struct nd_dataset {
  nd_tensor images;   /* [n, rows*cols] float32, pixel / 255 in [0, 1] */
  int32_t *labels;    /* [n], 0 .. num_classes-1 */
  int64_t n;
  int rows, cols;     /* image size (28 x 28 for MNIST) */
  int num_classes;    /* 1 + largest label */
} nd_dataset;

ND_API void nd_dataset_release(nd_dataset *d);

/* Directory of a named data set ("mnist", "fashion-mnist"): the first of
 * $ND_DATA_DIR/<name>, ./data/<name> and <source tree>/data/<name> that
 * exists.  ND_ERR_NOT_FOUND says where it looked and how to fetch it. */
ND_API nd_status nd_data_dir(const char *dataset, char *buf, size_t len);

/* Loads split "train" (60000) or "test" (10000) from dir (NULL: nd_data_dir).
 * limit > 0 keeps only the first limit examples.  Images and labels must
 * agree in count; labels must be < 10. */
ND_API nd_status nd_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out);
ND_API nd_status nd_fashion_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out);

/* Any pair of IDX files: images u8 [n, rows, cols] (or [n, d]) and labels u8
 * or i32 [n]. */
ND_API nd_status nd_idx_dataset_load(const char *images_path, const char *labels_path, int64_t limit, nd_dataset *out);

#ifdef __cplusplus
}
#endif
#endif
