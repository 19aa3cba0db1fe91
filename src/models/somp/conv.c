/* SOMP cells as convolution layers (include/neurodyn/somp.h): the layout
 * changes that turn every output position of a channels-last map sequence
 * into one sequence of the cell's batch, and back. */
#include <string.h>

#include "core/internal.h"
#include "neurodyn/somp.h"

static nd_status check(const nd_somp_conv *cv, const nd_tensor *x, int64_t *Ho, int64_t *Wo, const char *who) {
  char a[96];
  if (!cv || !x) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL argument", who);
  if (x->ndim != 5 || !nd_tensor_is_contiguous(x))
    return nd__error(ND_ERR_SHAPE, "%s: map is %s, expected contiguous [B, T, H, W, C]", who, nd_tensor_shape_str(x, a, sizeof a));
  if (cv->kh < 1 || cv->kw < 1 || cv->stride_h < 1 || cv->stride_w < 1 || cv->pad_h < 0 || cv->pad_w < 0)
    return nd__error(ND_ERR_INVALID_ARG, "%s: kernel %lldx%lld, stride %lldx%lld, pad %lldx%lld: need kernel, stride >= 1, pad >= 0",
                     who, (long long)cv->kh, (long long)cv->kw, (long long)cv->stride_h, (long long)cv->stride_w,
                     (long long)cv->pad_h, (long long)cv->pad_w);
  const int64_t H = x->shape[2], W = x->shape[3];
  if (H + 2 * cv->pad_h < cv->kh || W + 2 * cv->pad_w < cv->kw)
    return nd__error(ND_ERR_SHAPE, "%s: kernel %lldx%lld larger than the padded map %lldx%lld", who, (long long)cv->kh,
                     (long long)cv->kw, (long long)(H + 2 * cv->pad_h), (long long)(W + 2 * cv->pad_w));
  *Ho = (H + 2 * cv->pad_h - cv->kh) / cv->stride_h + 1;
  *Wo = (W + 2 * cv->pad_w - cv->kw) / cv->stride_w + 1;
  return ND_OK;
}

/* adjoint = false: cols = im2col(x); true: x += col2im(cols) */
static void walk(const nd_somp_conv *cv, const int64_t *s, int64_t Ho, int64_t Wo, float *x, float *cols, bool adjoint) {
  const int64_t B = s[0], T = s[1], H = s[2], W = s[3], C = s[4], F = cv->kh * cv->kw * C;
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < Ho; i++)
      for (int64_t j = 0; j < Wo; j++)
        for (int64_t t = 0; t < T; t++) {
          float *col = cols + (((b * Ho + i) * Wo + j) * T + t) * F;
          for (int64_t di = 0; di < cv->kh; di++)
            for (int64_t dj = 0; dj < cv->kw; dj++) {
              const int64_t y = i * cv->stride_h - cv->pad_h + di, z = j * cv->stride_w - cv->pad_w + dj;
              float *c = col + (di * cv->kw + dj) * C;
              const bool in = y >= 0 && y < H && z >= 0 && z < W;
              float *px = in ? x + (((b * T + t) * H + y) * W + z) * C : NULL;
              if (!adjoint) {
                if (in) memcpy(c, px, (size_t)C * sizeof(float));
                else memset(c, 0, (size_t)C * sizeof(float));
              } else if (in) {
                for (int64_t k = 0; k < C; k++) px[k] += c[k];
              }
            }
        }
}

nd_status nd_somp_im2col(const nd_somp_conv *cv, const nd_tensor *x, nd_tensor *cols) {
  int64_t Ho, Wo;
  ND_TRY(check(cv, x, &Ho, &Wo, "somp im2col"));
  const int64_t *s = x->shape;
  ND_TRY(nd_tensor_check_shape(cols, "somp im2col cols", 3, ND_SHAPE(s[0] * Ho * Wo, s[1], cv->kh * cv->kw * s[4])));
  walk(cv, s, Ho, Wo, x->data, cols->data, false);
  return ND_OK;
}

nd_status nd_somp_col2im(const nd_somp_conv *cv, const nd_tensor *cols, nd_tensor *x) {
  int64_t Ho, Wo;
  ND_TRY(check(cv, x, &Ho, &Wo, "somp col2im"));
  const int64_t *s = x->shape;
  ND_TRY(nd_tensor_check_shape(cols, "somp col2im cols", 3, ND_SHAPE(s[0] * Ho * Wo, s[1], cv->kh * cv->kw * s[4])));
  memset(x->data, 0, (size_t)nd_tensor_numel(x) * sizeof(float));
  walk(cv, s, Ho, Wo, x->data, cols->data, true);
  return ND_OK;
}

nd_status nd_somp_cols_to_map(const nd_tensor *y, int64_t B, int64_t Ho, int64_t Wo, nd_tensor *map) {
  char a[96];
  if (!y || !map) return nd__error(ND_ERR_INVALID_ARG, "somp cols_to_map: NULL argument");
  if (y->ndim != 3 || y->shape[0] != B * Ho * Wo || !nd_tensor_is_contiguous(y))
    return nd__error(ND_ERR_SHAPE, "somp cols_to_map: y is %s, expected [B Ho Wo = %lld, T, U]", nd_tensor_shape_str(y, a, sizeof a),
                     (long long)(B * Ho * Wo));
  const int64_t T = y->shape[1], U = y->shape[2];
  ND_TRY(nd_tensor_check_shape(map, "somp cols_to_map map", 5, ND_SHAPE(B, T, Ho, Wo, U)));
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < Ho; i++)
      for (int64_t j = 0; j < Wo; j++)
        for (int64_t t = 0; t < T; t++)
          memcpy(map->data + (((b * T + t) * Ho + i) * Wo + j) * U, y->data + (((b * Ho + i) * Wo + j) * T + t) * U,
                 (size_t)U * sizeof(float));
  return ND_OK;
}
