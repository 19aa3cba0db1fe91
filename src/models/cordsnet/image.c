/* Image files as CordsNet input: upstream utils.py's eval transform
 * (torchvision Resize(256) on the shorter side, CenterCrop(224), ToTensor,
 * Normalize(ImageNet mean, std)), scaled to the model's input size. */
#include <math.h>
#include <string.h>

#include "models/cordsnet/cordsnet_internal.h"
#include "neurodyn/data.h"
#include "neurodyn/tensor.h"

/* Bilinear sample of plane p [h, w] at (y, x) with half-pixel centres
 * (align_corners = False), edges clamped. */
static float bilinear(const float *p, int64_t h, int64_t w, double y, double x) {
  y = y < 0 ? 0 : y > h - 1 ? (double)(h - 1) : y;
  x = x < 0 ? 0 : x > w - 1 ? (double)(w - 1) : x;
  int64_t y0 = (int64_t)y, x0 = (int64_t)x;
  int64_t y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
  double fy = y - y0, fx = x - x0;
  return (float)((1 - fy) * ((1 - fx) * p[y0 * w + x0] + fx * p[y0 * w + x1]) +
                 fy * ((1 - fx) * p[y1 * w + x0] + fx * p[y1 * w + x1]));
}

nd_status nd_cordsnet_image_read(const char *path, const nd_cordsnet_config *c, nd_tensor *out) {
  if (!out || !c || !path) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_image_read: NULL argument");
  memset(out, 0, sizeof *out);
  if (c->in_channels != 1 && c->in_channels != 3)
    return nd__error(ND_ERR_UNSUPPORTED, "%s: the model takes %lld channels; images give 1 or 3", path,
                     (long long)c->in_channels);
  nd_tensor img = {0};
  nd_status s = c->in_channels == 3 ? nd_image_read_rgb(path, &img) : nd_image_read_gray(path, &img);
  if (s != ND_OK) return s;
  int64_t C = c->in_channels, H = img.shape[img.ndim - 2], W = img.shape[img.ndim - 1];
  int64_t oh = c->in_h, ow = c->in_w;
  /* resize so the shorter side is `side`, then centre-crop oh x ow */
  double side = C == 3 ? floor(oh * 256.0 / 224.0 + 0.5) : (double)oh;
  double scale = C == 3 ? side / (double)(H < W ? H : W) : 0;
  double sy = C == 3 ? scale : (double)oh / H, sx = C == 3 ? scale : (double)ow / W;
  double rh = H * sy, rw = W * sx;
  double top = floor((rh - oh) / 2 + 0.5), left = floor((rw - ow) / 2 + 0.5);
  if (C == 1) top = left = 0;
  s = nd_tensor_alloc(out, 4, ND_SHAPE(1, C, oh, ow));
  if (s == ND_OK) {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    for (int64_t k = 0; k < C; k++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          float v = bilinear(img.data + k * H * W, H, W, (i + top + 0.5) / sy - 0.5, (j + left + 0.5) / sx - 0.5);
          out->data[(k * oh + i) * ow + j] = C == 3 ? (v - mean[k]) / stdv[k] : v;
        }
  }
  nd_tensor_release(&img);
  return s;
}
