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

/* Frees images and labels and zeroes *d (the struct is the caller's).  NULL
 * or a zeroed struct is a no-op. */
ND_API void nd_dataset_release(nd_dataset *d);

/* Directory of a named data set ("mnist", "fashion-mnist") into buf:
 *   1. root/<name> when root is given (a command's --data DIR); root may
 *      also be the set's own directory when its last component is <name>
 *      and it holds the image files ("--data data/mnist" for mnist);
 *   2. else $ND_DATA_DIR/<name> when ND_DATA_DIR is set and not empty;
 *   3. else ./data/<name> (relative to the working directory).
 * Only the first rule that applies is tried: a root or an ND_DATA_DIR that
 * does not exist is ND_ERR_NOT_FOUND naming it, never a fall-back to the
 * next place.  ND_ERR_NOT_FOUND also when <name> is not there (the message
 * says where it looked and how to fetch the data); ND_ERR_INVALID_ARG for a
 * NULL name or buffer, or a buffer too small. */
ND_API nd_status nd_data_find(const char *root, const char *dataset, char *buf, size_t len);
/* nd_data_find(NULL, dataset, buf, len). */
ND_API nd_status nd_data_dir(const char *dataset, char *buf, size_t len);

/* Loads split "train" (60000) or "test" (10000) from dir, the data set's
 * own directory (NULL: nd_data_dir).
 * limit > 0 keeps only the first limit examples.  Images and labels must
 * agree in count; labels must be < 10. */
ND_API nd_status nd_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out);
ND_API nd_status nd_fashion_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out);

/* Split "train" or "test" of the named data set ("mnist", "fashion-mnist")
 * found by nd_data_find(root, dataset, ...).  limit > 0 keeps the first
 * limit examples, and applies to this one load only: a command passes its
 * --limit to the training split and the test split's own --test-limit (0,
 * the whole test set, unless given); see docs/data.md. */
ND_API nd_status nd_dataset_load(const char *root, const char *dataset, const char *split, int64_t limit,
                                 nd_dataset *out);

/* The two files nd_dataset_load(root, dataset, split, ...) reads, as they
 * exist on disk (raw or .gz): images and labels paths into buffers of len
 * bytes each.  For provenance (checksums in a run's config.json). */
ND_API nd_status nd_dataset_files(const char *root, const char *dataset, const char *split, char *images,
                                  char *labels, size_t len);

/* Any pair of IDX files: images u8 [n, rows, cols] (or [n, d]) and labels u8
 * or i32 [n]. */
ND_API nd_status nd_idx_dataset_load(const char *images_path, const char *labels_path, int64_t limit, nd_dataset *out);

/* ------------------------------------------------ natural-image patches */
/* An image file (JPEG, PNG, BMP, ... whatever stb_image decodes) as gray
 * floats in [0, 1]: out is allocated [height, width] (release with
 * nd_tensor_release).  ND_ERR_IO if the file cannot be opened, ND_ERR_FORMAT
 * naming it if it does not decode.  parse: the same from memory. */
ND_API nd_status nd_image_read_gray(const char *path, nd_tensor *out);
ND_API nd_status nd_image_parse_gray(const void *buf, size_t len, const char *name, nd_tensor *out);
/* The same as planar RGB floats [3, height, width] in [0, 1]. */
ND_API nd_status nd_image_read_rgb(const char *path, nd_tensor *out);

/* count square size x size patches, each at a position drawn uniformly over
 * every position of every image (Philox stream seed): out is allocated
 * [count, size*size], patch rows top to bottom. */
ND_API nd_status nd_patches_sample(const nd_tensor *images, int n_images, int size, int64_t count, uint64_t seed,
                                   nd_tensor *out);

/* In place: removes each patch's mean, then ZCA-whitens the rows,
 * x <- x U (Lambda + e)^{-1/2} U^T with C = U Lambda U^T the patches'
 * covariance and e = eps * trace(C) / d (eps relative to the mean
 * eigenvalue; 0 whitens fully).  zca, if not NULL, receives the d x d
 * whitening matrix.  d <= 4096. */
ND_API nd_status nd_patches_whiten(nd_tensor *patches, double eps, float *zca);

/* The photographs of nd_data_find(root, "photos", ...) (china.jpg and
 * flower.jpg, which scripts/get-data.sh copies from Debian's python3-sklearn)
 * as count patches of size x size, whitened with eps (eps < 0: not
 * whitened). */
ND_API nd_status nd_photo_patches_load(const char *root, int size, int64_t count, uint64_t seed, double eps,
                                       nd_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
