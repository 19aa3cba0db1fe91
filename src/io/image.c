/* Natural-image patches for sparse-coding dictionary learning: image files
 * decoded by stb_image (Debian libstb-dev), random square patches, and ZCA
 * whitening (Bell & Sejnowski 1997, "The independent components of natural
 * scenes are edge filters", Vision Research 37(23), Eq. for W_Z = C^{-1/2};
 * regularised as in Krizhevsky 2009, "Learning multiple layers of features
 * from tiny images", App. A: W = U (Lambda + eps)^{-1/2} U^T). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "core/internal.h"
#include "neurodyn/data.h"
#include "neurodyn/io.h"
#include "neurodyn/kernels.h"
#include "neurodyn/rng.h"

static nd_status gray_from_u8(const unsigned char *px, int w, int h, const char *name, nd_tensor *out) {
  if (!px) return nd__error(ND_ERR_FORMAT, "%s: not a readable image (%s)", name, stbi_failure_reason());
  nd_status s = nd_tensor_alloc(out, 2, ND_SHAPE(h, w));
  if (s == ND_OK)
    for (int64_t i = 0; i < (int64_t)w * h; i++) out->data[i] = (float)px[i] / 255.0f;
  stbi_image_free((void *)px);
  return s;
}

nd_status nd_image_parse_gray(const void *buf, size_t len, const char *name, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "image_parse_gray: out is NULL");
  memset(out, 0, sizeof *out);
  if (!name) name = "<memory>";
  if (!buf && len) return nd__error(ND_ERR_INVALID_ARG, "image_parse_gray: %s: NULL buffer of %zu bytes", name, len);
  if (len == 0 || len > INT32_MAX) return nd__error(ND_ERR_FORMAT, "%s: %zu bytes is not an image", name, len);
  int w = 0, h = 0, c = 0;
  unsigned char *px = stbi_load_from_memory(buf, (int)len, &w, &h, &c, 1);
  return gray_from_u8(px, w, h, name, out);
}

nd_status nd_image_read_gray(const char *path, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "image_read_gray: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "image_read_gray: path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return nd__error(ND_ERR_IO, "%s: cannot open", path);
  int w = 0, h = 0, c = 0;
  unsigned char *px = stbi_load_from_file(f, &w, &h, &c, 1);
  fclose(f);
  return gray_from_u8(px, w, h, path, out);
}

/* Planar RGB floats [3, h, w] in [0, 1] (gray images are replicated). */
nd_status nd_image_read_rgb(const char *path, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "image_read_rgb: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return nd__error(ND_ERR_INVALID_ARG, "image_read_rgb: path is NULL");
  FILE *f = fopen(path, "rb");
  if (!f) return nd__error(ND_ERR_IO, "%s: cannot open", path);
  int w = 0, h = 0, c = 0;
  unsigned char *px = stbi_load_from_file(f, &w, &h, &c, 3);
  fclose(f);
  if (!px) return nd__error(ND_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
  nd_status s = nd_tensor_alloc(out, 3, ND_SHAPE(3, h, w));
  if (s == ND_OK)
    for (int64_t i = 0; i < (int64_t)w * h; i++)
      for (int k = 0; k < 3; k++) out->data[(int64_t)k * w * h + i] = (float)px[3 * i + k] / 255.0f;
  stbi_image_free(px);
  return s;
}

nd_status nd_patches_sample(const nd_tensor *images, int n_images, int size, int64_t count, uint64_t seed,
                            nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "patches_sample: out is NULL");
  memset(out, 0, sizeof *out);
  if (!images || n_images < 1) return nd__error(ND_ERR_INVALID_ARG, "patches_sample: no images");
  if (size < 1 || count < 1 || count > ND_TENSOR_MAX_NUMEL / ((int64_t)size * size))
    return nd__error(ND_ERR_INVALID_ARG, "patches_sample: size %d, count %lld out of range", size, (long long)count);
  int64_t total = 0; /* patch positions over all images */
  for (int i = 0; i < n_images; i++) {
    const nd_tensor *im = &images[i];
    if (!im->data || im->ndim != 2 || im->shape[0] < size || im->shape[1] < size)
      return nd__error(ND_ERR_SHAPE, "patches_sample: image %d is not a 2-D image of at least %dx%d", i, size, size);
    total += (im->shape[0] - size + 1) * (im->shape[1] - size + 1);
  }
  ND_TRY(nd_tensor_alloc(out, 2, ND_SHAPE(count, (int64_t)size * size)));
  nd_rng r;
  nd_rng_init(&r, seed);
  for (int64_t p = 0; p < count; p++) {
    /* a position uniform over all images' positions: larger images give more */
    int64_t k = (int64_t)(nd_rng_uniform1(&r) * (double)total), i = 0;
    if (k >= total) k = total - 1;
    for (;; i++) {
      int64_t np = (images[i].shape[0] - size + 1) * (images[i].shape[1] - size + 1);
      if (k < np) break;
      k -= np;
    }
    const int64_t W = images[i].shape[1], y0 = k / (W - size + 1), x0 = k % (W - size + 1);
    float *dst = out->data + p * size * size;
    for (int y = 0; y < size; y++) memcpy(dst + y * size, images[i].data + (y0 + y) * W + x0, (size_t)size * sizeof(float));
  }
  return ND_OK;
}

/* C = X^T X / n (in double), after removing each row's mean. */
static void centred_covariance(float *x, int64_t n, int64_t d, double *cov) {
  for (int64_t p = 0; p < n; p++) {
    double m = 0;
    for (int64_t j = 0; j < d; j++) m += x[p * d + j];
    m /= (double)d;
    for (int64_t j = 0; j < d; j++) x[p * d + j] -= (float)m;
  }
  double *xd = malloc((size_t)(n * d) * sizeof *xd);
  if (xd) {
    for (int64_t i = 0; i < n * d; i++) xd[i] = x[i];
    nd_dgemm(true, false, d, d, n, 1.0 / (double)n, xd, d, xd, d, 0.0, cov, d);
    free(xd);
    return;
  }
  memset(cov, 0, (size_t)(d * d) * sizeof *cov); /* allocation failed: slow path */
  for (int64_t p = 0; p < n; p++)
    for (int64_t i = 0; i < d; i++)
      for (int64_t j = 0; j < d; j++) cov[i * d + j] += (double)x[p * d + i] * x[p * d + j] / (double)n;
}

nd_status nd_patches_whiten(nd_tensor *patches, double eps, float *zca) {
  if (!patches || !patches->data || patches->ndim != 2)
    return nd__error(ND_ERR_INVALID_ARG, "patches_whiten: patches must be a 2-D tensor [n, d]");
  if (!(eps >= 0) || !isfinite(eps)) return nd__error(ND_ERR_INVALID_ARG, "patches_whiten: eps %g must be >= 0", eps);
  const int64_t n = patches->shape[0], d = patches->shape[1];
  if (n < 2 || d < 2 || d > 4096)
    return nd__error(ND_ERR_SHAPE, "patches_whiten: [%lld, %lld] needs n >= 2 and 2 <= d <= 4096", (long long)n,
                     (long long)d);
  double *cov = malloc((size_t)(d * d) * sizeof *cov), *ev = malloc((size_t)d * sizeof *ev);
  double *wz = malloc((size_t)(d * d) * sizeof *wz);
  float *wf = malloc((size_t)(d * d) * sizeof *wf), *y = malloc((size_t)(n * d) * sizeof *y);
  nd_status s = ND_OK;
  if (!cov || !ev || !wz || !wf || !y) s = nd__error(ND_ERR_NOMEM, "patches_whiten: cannot allocate for d = %lld", (long long)d);
  if (s == ND_OK) {
    centred_covariance(patches->data, n, d, cov);
    double trace = 0;
    for (int64_t i = 0; i < d; i++) trace += cov[i * d + i];
    s = nd_dsyev(d, cov, ev); /* row k of cov: eigenvector k */
    /* eps is relative to the mean eigenvalue, so it does not depend on the
     * images' contrast; the mean-removed direction (eigenvalue ~0) is sent
     * to ~0 instead of being blown up, because eps > 0 in practice. */
    const double e = eps * trace / (double)d;
    for (int64_t k = 0; s == ND_OK && k < d; k++) {
      double lk = ev[k] > 0 ? ev[k] : 0, sc = lk + e > 0 ? 1.0 / sqrt(lk + e) : 0.0;
      if (lk + e <= 1e-12 * (trace / (double)d)) sc = 0; /* a null direction (eps = 0): leave it null */
      for (int64_t j = 0; j < d; j++) cov[k * d + j] *= sqrt(sc);
    }
    if (s == ND_OK) {
      /* W = sum_k u_k u_k^T / sqrt(l_k + e) = V^T V with V's rows u_k (l_k+e)^{-1/4} */
      nd_dgemm(true, false, d, d, d, 1.0, cov, d, cov, d, 0.0, wz, d);
      for (int64_t i = 0; i < d * d; i++) wf[i] = (float)wz[i];
      nd_sgemm(false, false, n, d, d, 1.0f, patches->data, d, wf, d, 0.0f, y, d); /* W symmetric */
      memcpy(patches->data, y, (size_t)(n * d) * sizeof *y);
      if (zca) memcpy(zca, wf, (size_t)(d * d) * sizeof *wf);
    }
  }
  free(cov), free(ev), free(wz), free(wf), free(y);
  return s;
}

nd_status nd_photo_patches_load(const char *root, int size, int64_t count, uint64_t seed, double eps, nd_tensor *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "photo_patches_load: out is NULL");
  memset(out, 0, sizeof *out);
  char dir[4096], path[4200];
  ND_TRY(nd_data_find(root, "photos", dir, sizeof dir));
  static const char *const names[2] = {"china.jpg", "flower.jpg"};
  nd_tensor im[2];
  memset(im, 0, sizeof im);
  nd_status s = ND_OK;
  for (int i = 0; i < 2 && s == ND_OK; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    s = nd_image_read_gray(path, &im[i]);
  }
  if (s == ND_OK) s = nd_patches_sample(im, 2, size, count, seed, out);
  if (s == ND_OK && eps >= 0) s = nd_patches_whiten(out, eps, NULL);
  if (s != ND_OK) nd_tensor_release(out);
  nd_tensor_release(&im[0]);
  nd_tensor_release(&im[1]);
  return s;
}
