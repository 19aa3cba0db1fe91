/* nd_tensor: headers, views and copies (see tensor.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/tensor.h"

static nd_status set_shape(nd_tensor *t, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "tensor: %d dimensions requested, at most %d supported", ndim,
                     ND_MAX_DIMS);
  t->ndim = ndim;
  for (int i = 0; i < ND_MAX_DIMS; i++) {
    if (i < ndim && shape[i] < 0)
      return nd__error(ND_ERR_INVALID_ARG, "tensor: dimension %d has negative size %lld", i,
                       (long long)shape[i]);
    t->shape[i] = i < ndim ? shape[i] : 1;
  }
  int64_t s = 1;
  for (int i = ND_MAX_DIMS - 1; i >= 0; i--) {
    t->stride[i] = i < ndim ? s : 1;
    if (i < ndim) s *= t->shape[i];
  }
  return ND_OK;
}

static int64_t shape_numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

nd_status nd_tensor_alloc(nd_tensor *t, int ndim, const int64_t *shape) {
  memset(t, 0, sizeof *t);
  ND_TRY(set_shape(t, ndim, shape));
  size_t bytes = (size_t)nd_tensor_numel(t) * sizeof(float);
  t->data = nd_aligned_alloc(bytes);
  if (!t->data) return ND_ERR_NOMEM;
  memset(t->data, 0, bytes);
  t->owns_data = true;
  return ND_OK;
}

void nd_tensor_release(nd_tensor *t) {
  if (!t) return;
  if (t->owns_data) nd_aligned_free(t->data);
  memset(t, 0, sizeof *t);
}

nd_tensor *nd_tensor_create(int ndim, const int64_t *shape) {
  nd_tensor *t = malloc(sizeof *t);
  if (!t) {
    nd__error(ND_ERR_NOMEM, "tensor: could not allocate header");
    return NULL;
  }
  if (nd_tensor_alloc(t, ndim, shape) != ND_OK) {
    free(t);
    return NULL;
  }
  return t;
}

void nd_tensor_free(nd_tensor *t) {
  if (!t) return;
  nd_tensor_release(t);
  free(t);
}

nd_tensor *nd_tensor_create_in(nd_arena *a, int ndim, const int64_t *shape) {
  nd_tensor *t = nd_arena_alloc(a, sizeof *t);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  if (set_shape(t, ndim, shape) != ND_OK) return NULL;
  t->data = nd_arena_calloc(a, (size_t)nd_tensor_numel(t) * sizeof(float));
  return t->data || nd_tensor_numel(t) == 0 ? t : NULL;
}

nd_tensor nd_tensor_wrap(float *data, int ndim, const int64_t *shape) {
  nd_tensor t;
  memset(&t, 0, sizeof t);
  if (set_shape(&t, ndim, shape) == ND_OK) t.data = data;
  return t;
}

int64_t nd_tensor_numel(const nd_tensor *t) { return shape_numel(t->ndim, t->shape); }

bool nd_tensor_is_contiguous(const nd_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return false;
    s *= t->shape[i];
  }
  return true;
}

bool nd_tensor_same_shape(const nd_tensor *a, const nd_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

char *nd_tensor_shape_str(const nd_tensor *t, char *buf, size_t len) {
  size_t off = 0;
  buf[0] = '\0';
  if (t->ndim == 0) {
    snprintf(buf, len, "scalar");
    return buf;
  }
  for (int i = 0; i < t->ndim && off < len; i++)
    off += (size_t)snprintf(buf + off, len - off, i ? "x%lld" : "%lld", (long long)t->shape[i]);
  return buf;
}

nd_status nd_tensor_check_shape(const nd_tensor *t, const char *what, int ndim, const int64_t *shape) {
  nd_tensor want = nd_tensor_wrap(NULL, ndim, shape);
  if (nd_tensor_same_shape(t, &want)) return ND_OK;
  char got_s[96], want_s[96];
  return nd__error(ND_ERR_SHAPE, "%s has shape %s, expected %s", what, nd_tensor_shape_str(t, got_s, sizeof got_s),
                   nd_tensor_shape_str(&want, want_s, sizeof want_s));
}

nd_status nd_tensor_slice(const nd_tensor *t, int dim, int64_t start, int64_t len, nd_tensor *out) {
  if (dim < 0 || dim >= t->ndim)
    return nd__error(ND_ERR_INVALID_ARG, "tensor slice: dimension %d out of range for %d-D tensor", dim, t->ndim);
  if (start < 0 || len < 0 || start + len > t->shape[dim])
    return nd__error(ND_ERR_INVALID_ARG, "tensor slice: [%lld, %lld) out of range 0..%lld in dimension %d",
                     (long long)start, (long long)(start + len), (long long)t->shape[dim], dim);
  nd_tensor v = *t;
  v.owns_data = false;
  v.data = t->data + start * t->stride[dim];
  v.shape[dim] = len;
  *out = v;
  return ND_OK;
}

nd_status nd_tensor_select(const nd_tensor *t, int64_t index, nd_tensor *out) {
  if (t->ndim < 1) return nd__error(ND_ERR_INVALID_ARG, "tensor select: scalar has no dimension to select");
  if (index < 0 || index >= t->shape[0])
    return nd__error(ND_ERR_INVALID_ARG, "tensor select: index %lld out of range 0..%lld", (long long)index,
                     (long long)t->shape[0]);
  nd_tensor v;
  memset(&v, 0, sizeof v);
  v.data = t->data + index * t->stride[0];
  v.ndim = t->ndim - 1;
  for (int i = 0; i < ND_MAX_DIMS; i++) {
    v.shape[i] = i + 1 < t->ndim ? t->shape[i + 1] : 1;
    v.stride[i] = i + 1 < t->ndim ? t->stride[i + 1] : 1;
  }
  *out = v;
  return ND_OK;
}

nd_status nd_tensor_reshape(const nd_tensor *t, int ndim, const int64_t *shape, nd_tensor *out) {
  if (!nd_tensor_is_contiguous(t))
    return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: source is not contiguous (copy it first)");
  if (ndim < 0 || ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: %d dimensions requested", ndim);
  int64_t resolved[ND_MAX_DIMS];
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < ndim; i++) {
    resolved[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: more than one -1 in the new shape");
      infer = i;
    } else {
      known *= shape[i];
    }
  }
  int64_t n = nd_tensor_numel(t);
  if (infer >= 0) resolved[infer] = known ? n / known : 0;
  if (shape_numel(ndim, resolved) != n) {
    char s[96];
    return nd__error(ND_ERR_SHAPE, "tensor reshape: %s (%lld elements) cannot become %lld elements",
                     nd_tensor_shape_str(t, s, sizeof s), (long long)n, (long long)shape_numel(ndim, resolved));
  }
  nd_tensor v = nd_tensor_wrap(t->data, ndim, resolved);
  *out = v;
  return ND_OK;
}

float *nd_tensor_at(const nd_tensor *t, const int64_t *index) {
  int64_t off = 0;
  for (int i = 0; i < t->ndim; i++) off += index[i] * t->stride[i];
  return t->data + off;
}

/* Visit every element of a (possibly strided) tensor in row-major order. */
#define FOR_EACH_INDEX(t, body)                                                              \
  do {                                                                                       \
    int64_t i0_, i1_, i2_, i3_, i4_;                                                         \
    for (i0_ = 0; i0_ < (t)->shape[0]; i0_++)                                                \
      for (i1_ = 0; i1_ < (t)->shape[1]; i1_++)                                              \
        for (i2_ = 0; i2_ < (t)->shape[2]; i2_++)                                            \
          for (i3_ = 0; i3_ < (t)->shape[3]; i3_++)                                          \
            for (i4_ = 0; i4_ < (t)->shape[4]; i4_++) {                                      \
              int64_t idx_[ND_MAX_DIMS] = {i0_, i1_, i2_, i3_, i4_};                          \
              body;                                                                          \
            }                                                                                \
  } while (0)

void nd_tensor_fill(nd_tensor *t, float value) {
  if (nd_tensor_is_contiguous(t)) {
    int64_t n = nd_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = value;
    return;
  }
  FOR_EACH_INDEX(t, *nd_tensor_at(t, idx_) = value);
}

nd_status nd_tensor_copy(nd_tensor *dst, const nd_tensor *src) {
  if (!nd_tensor_same_shape(dst, src)) {
    char a[96], b[96];
    return nd__error(ND_ERR_SHAPE, "tensor copy: destination is %s, source is %s",
                     nd_tensor_shape_str(dst, a, sizeof a), nd_tensor_shape_str(src, b, sizeof b));
  }
  if (nd_tensor_is_contiguous(dst) && nd_tensor_is_contiguous(src)) {
    memmove(dst->data, src->data, (size_t)nd_tensor_numel(src) * sizeof(float));
    return ND_OK;
  }
  FOR_EACH_INDEX(src, *nd_tensor_at(dst, idx_) = *nd_tensor_at(src, idx_));
  return ND_OK;
}
