/* Data sets stored as IDX image/label pairs: MNIST and Fashion-MNIST. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"
#include "neurodyn/data.h"

void nd_dataset_release(nd_dataset *d) {
  if (!d) return;
  nd_tensor_release(&d->images);
  free(d->labels);
  memset(d, 0, sizeof *d);
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/train-images-idx3-ubyte or dir/t10k-images-idx3-ubyte (raw or gzip). */
static bool holds_images(const char *dir) {
  static const char *const names[4] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                       "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"};
  char p[4200];
  for (int i = 0; i < 4; i++) {
    int k = snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    if (k > 0 && (size_t)k < sizeof p && is_file(p)) return true;
  }
  return false;
}

/* Last path component of dir (trailing slashes ignored) equals name. */
static bool last_component_is(const char *dir, const char *name) {
  size_t n = strlen(dir), k = strlen(name);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (n < k || memcmp(dir + n - k, name, k) != 0) return false;
  return n == k || dir[n - k - 1] == '/';
}

nd_status nd_data_find(const char *root, const char *dataset, char *buf, size_t len) {
  if (buf && len) buf[0] = 0;
  if (!dataset || !*dataset || !buf || !len)
    return nd__error(ND_ERR_INVALID_ARG, "data_find: %s", !dataset || !*dataset ? "no data set name" : "no buffer");
  enum { GIVEN, ENV, CWD } from;
  const char *env = getenv("ND_DATA_DIR");
  const char *base;
  if (root && *root) {
    from = GIVEN;
    base = root;
  } else if (env && *env) {
    from = ENV;
    base = env;
  } else {
    from = CWD;
    base = "data";
  }
  static const char *const fetch = "fetch it with `neurodyn data fetch` or scripts/get-data.sh";
  if (!is_dir(base)) {
    struct stat st;
    bool exists = stat(base, &st) == 0;
    if (from == GIVEN)
      return nd__error(ND_ERR_NOT_FOUND, "data directory %s %s", base, exists ? "is not a directory" : "does not exist");
    if (from == ENV)
      return nd__error(ND_ERR_NOT_FOUND, "ND_DATA_DIR=%s %s (set it to the directory that holds %s/, or unset it)",
                       base, exists ? "is not a directory" : "does not exist", dataset);
    return nd__error(ND_ERR_NOT_FOUND,
                     "data set \"%s\" not found: there is no ./data directory here (set ND_DATA_DIR or give the "
                     "data directory); %s",
                     dataset, fetch);
  }
  int k = snprintf(buf, len, "%s/%s", base, dataset);
  if (k < 0 || (size_t)k >= len) {
    buf[0] = 0;
    return nd__error(ND_ERR_INVALID_ARG, "data_find: path buffer too small for %s/%s", base, dataset);
  }
  if (is_dir(buf)) return ND_OK;
  /* A given directory may be the data set's own (".../mnist" for mnist). */
  if (from == GIVEN && last_component_is(base, dataset) && holds_images(base)) {
    snprintf(buf, len, "%s", base);
    if (strlen(base) < len) return ND_OK;
  }
  char tried[4200];
  snprintf(tried, sizeof tried, "%s", buf);
  buf[0] = 0;
  return nd__error(ND_ERR_NOT_FOUND, "data set \"%s\" not found: %s does not exist%s; %s", dataset, tried,
                   from == ENV ? " (from ND_DATA_DIR)" : "", fetch);
}

nd_status nd_data_dir(const char *dataset, char *buf, size_t len) { return nd_data_find(NULL, dataset, buf, len); }

nd_status nd_idx_dataset_load(const char *images_path, const char *labels_path, int64_t limit, nd_dataset *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "idx_dataset_load: out is NULL");
  memset(out, 0, sizeof *out);
  if (!images_path || !labels_path) return nd__error(ND_ERR_INVALID_ARG, "idx_dataset_load: NULL path");
  nd_array im, lb;
  ND_TRY(nd_idx_read(images_path, &im));
  nd_status s = nd_idx_read(labels_path, &lb);
  if (s != ND_OK) {
    nd_array_release(&im);
    return s;
  }
  char shp[128];
  if (im.dtype != ND_DTYPE_U8 || (im.ndim != 3 && im.ndim != 2)) {
    s = nd__error(ND_ERR_FORMAT, "%s: expected u8 images [n, rows, cols] or [n, d], file holds %s %s", images_path,
                  nd_dtype_name(im.dtype), nd__shape_str(im.ndim, im.shape, shp, sizeof shp));
  } else if ((lb.dtype != ND_DTYPE_U8 && lb.dtype != ND_DTYPE_I32) || lb.ndim != 1) {
    s = nd__error(ND_ERR_FORMAT, "%s: expected u8 or i32 labels [n], file holds %s %s", labels_path,
                  nd_dtype_name(lb.dtype), nd__shape_str(lb.ndim, lb.shape, shp, sizeof shp));
  } else if (im.shape[1] > INT32_MAX || (im.ndim == 3 && im.shape[2] > INT32_MAX)) {
    s = nd__error(ND_ERR_FORMAT, "%s: image size %s does not fit an int", images_path,
                  nd__shape_str(im.ndim, im.shape, shp, sizeof shp));
  } else if (lb.shape[0] != im.shape[0]) {
    s = nd__error(ND_ERR_FORMAT, "%s holds %lld images but %s holds %lld labels", images_path,
                  (long long)im.shape[0], labels_path, (long long)lb.shape[0]);
  }
  int64_t n = im.shape[0];
  if (limit > 0 && limit < n) n = limit;
  int64_t d = n ? im.numel / im.shape[0] : 0;
  if (s == ND_OK) {
    out->labels = malloc((size_t)(n ? n : 1) * sizeof *out->labels);
    if (!out->labels) s = nd__error(ND_ERR_NOMEM, "%s: cannot allocate %lld labels", labels_path, (long long)n);
  }
  int32_t maxl = -1;
  for (int64_t i = 0; s == ND_OK && i < n; i++) {
    int32_t l = lb.dtype == ND_DTYPE_U8 ? ((const uint8_t *)lb.data)[i] : ((const int32_t *)lb.data)[i];
    if (l < 0)
      s = nd__error(ND_ERR_FORMAT, "%s: label %lld is negative (%d)", labels_path, (long long)i, (int)l);
    out->labels[i] = l;
    if (l > maxl) maxl = l;
  }
  if (s == ND_OK) s = nd_tensor_alloc(&out->images, 2, (const int64_t[]){n, d});
  if (s == ND_OK) {
    const uint8_t *src = im.data;
    float *dst = out->images.data;
    for (int64_t i = 0; i < n * d; i++) dst[i] = (float)src[i] * (1.0f / 255.0f);
    out->n = n;
    out->rows = im.ndim == 3 ? (int)im.shape[1] : 1;
    out->cols = im.ndim == 3 ? (int)im.shape[2] : (int)im.shape[1];
    out->num_classes = maxl + 1;
  }
  nd_array_release(&im);
  nd_array_release(&lb);
  if (s != ND_OK) nd_dataset_release(out);
  return s;
}

/* dir/base or dir/base.gz, whichever exists. */
static nd_status find_idx(const char *dir, const char *base, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", dir, base);
  if (is_file(buf)) return ND_OK;
  snprintf(buf, len, "%s/%s.gz", dir, base);
  if (is_file(buf)) return ND_OK;
  /* Something that exists but is not a file is named as such, not as missing. */
  for (int gz = 0; gz < 2; gz++) {
    struct stat st;
    snprintf(buf, len, gz ? "%s/%s.gz" : "%s/%s", dir, base);
    if (stat(buf, &st) == 0)
      return nd__error(ND_ERR_INVALID_ARG, "%s: %s is %s, not a regular file", dir, gz ? "the .gz file" : base,
                       S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
  }
  return nd__error(ND_ERR_NOT_FOUND, "%s: neither %s nor %s.gz exists; fetch the data with scripts/get-data.sh", dir,
                   base, base);
}

static nd_status load_mnist_like(const char *dataset, const char *dir, const char *split, int64_t limit,
                                 nd_dataset *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "%s: out is NULL", dataset);
  memset(out, 0, sizeof *out);
  const char *prefix;
  if (split && strcmp(split, "train") == 0)
    prefix = "train";
  else if (split && strcmp(split, "test") == 0)
    prefix = "t10k";
  else
    return nd__error(ND_ERR_INVALID_ARG, "%s: split must be \"train\" or \"test\", not \"%s\"", dataset,
                     split ? split : "(null)");
  char found[4200], ip[4300], lp[4300], base[64];
  if (!dir) {
    ND_TRY(nd_data_find(NULL, dataset, found, sizeof found));
    dir = found;
  }
  snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
  ND_TRY(find_idx(dir, base, ip, sizeof ip));
  snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
  ND_TRY(find_idx(dir, base, lp, sizeof lp));
  ND_TRY(nd_idx_dataset_load(ip, lp, limit, out));
  if (out->num_classes > 10) {
    int top = out->num_classes - 1;
    nd_dataset_release(out);
    return nd__error(ND_ERR_FORMAT, "%s: labels go up to %d, %s has 10 classes", lp, top, dataset);
  }
  out->num_classes = 10;
  return ND_OK;
}

nd_status nd_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out) {
  return load_mnist_like("mnist", dir, split, limit, out);
}

nd_status nd_fashion_mnist_load(const char *dir, const char *split, int64_t limit, nd_dataset *out) {
  return load_mnist_like("fashion-mnist", dir, split, limit, out);
}

nd_status nd_dataset_load(const char *root, const char *dataset, const char *split, int64_t limit, nd_dataset *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!dataset || (strcmp(dataset, "mnist") != 0 && strcmp(dataset, "fashion-mnist") != 0))
    return nd__error(ND_ERR_INVALID_ARG, "unknown data set \"%s\" (known: mnist, fashion-mnist)",
                     dataset ? dataset : "(null)");
  char dir[4200];
  ND_TRY(nd_data_find(root, dataset, dir, sizeof dir));
  return load_mnist_like(dataset, dir, split, limit, out);
}

nd_status nd_dataset_files(const char *root, const char *dataset, const char *split, char *images, char *labels,
                           size_t len) {
  if (images && len) images[0] = 0;
  if (labels && len) labels[0] = 0;
  if (!images || !labels || !len) return nd__error(ND_ERR_INVALID_ARG, "dataset_files: no buffer");
  if (!dataset || (strcmp(dataset, "mnist") != 0 && strcmp(dataset, "fashion-mnist") != 0))
    return nd__error(ND_ERR_INVALID_ARG, "unknown data set \"%s\" (known: mnist, fashion-mnist)",
                     dataset ? dataset : "(null)");
  const char *prefix = split && !strcmp(split, "train") ? "train" : split && !strcmp(split, "test") ? "t10k" : NULL;
  if (!prefix)
    return nd__error(ND_ERR_INVALID_ARG, "%s: split must be \"train\" or \"test\", not \"%s\"", dataset,
                     split ? split : "(null)");
  char dir[4200], base[64], ip[4300], lp[4300];
  ND_TRY(nd_data_find(root, dataset, dir, sizeof dir));
  snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
  ND_TRY(find_idx(dir, base, ip, sizeof ip));
  snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
  ND_TRY(find_idx(dir, base, lp, sizeof lp));
  if (strlen(ip) >= len || strlen(lp) >= len)
    return nd__error(ND_ERR_INVALID_ARG, "dataset_files: buffer of %zu bytes too small for %s", len, ip);
  snprintf(images, len, "%s", ip);
  snprintf(labels, len, "%s", lp);
  return ND_OK;
}
