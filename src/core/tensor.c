/* nd_tensor: headers, views and copies (see tensor.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/tensor.h"

/* Product of the non-zero sizes allowed next to a zero size: as in the file
 * readers (nd__shape_bytes), so an empty array they accept converts to a
 * tensor, while {0, 2^40, 2^40} is still refused. */
#define EMPTY_SHAPE_MAX (INT64_MAX / 16)

/* Element count of a shape; false if a size is negative, the count exceeds
 * ND_TENSOR_MAX_NUMEL, or (for an empty tensor) the product of the other
 * sizes exceeds EMPTY_SHAPE_MAX, so strides never overflow. */
static bool shape_numel_ok(int ndim, const int64_t *shape, int64_t *numel) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) return false;
    if (shape[i] == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, shape[i], &nonzero) || nonzero > EMPTY_SHAPE_MAX) return false;
  }
  if (!empty && nonzero > ND_TENSOR_MAX_NUMEL) return false;
  *numel = empty ? 0 : nonzero;
  return true;
}

static nd_status set_shape(nd_tensor *t, int ndim, const int64_t *shape, const char *what) {
  if (ndim < 0 || ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %d dimensions requested, 0..%d supported", what, ndim, ND_MAX_DIMS);
  if (ndim > 0 && !shape) return nd__error(ND_ERR_INVALID_ARG, "%s: shape is NULL", what);
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0)
      return nd__error(ND_ERR_INVALID_ARG, "%s: dimension %d has negative size %lld", what, i, (long long)shape[i]);
  int64_t n;
  if (!shape_numel_ok(ndim, shape, &n))
    return nd__error(ND_ERR_INVALID_ARG, "%s: shape has more than %lld elements (or the count overflows)", what,
                     (long long)ND_TENSOR_MAX_NUMEL);
  t->ndim = ndim;
  for (int i = 0; i < ND_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 1;
  int64_t s = 1;
  for (int i = ND_MAX_DIMS - 1; i >= 0; i--) {
    t->stride[i] = i < ndim ? s : 1;
    if (i < ndim) s *= t->shape[i];
  }
  return ND_OK;
}

static int64_t numel_of(const nd_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

/* A header the functions below can trust: non-NULL, ndim in range, sizes
 * non-negative and within the limit, data present if there are elements, and
 * every element address inside int64 range. */
nd_status nd__tensor_check(const nd_tensor *t, const char *what, const char *arg) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "%s: %s is NULL", what, arg);
  if (t->ndim < 0 || t->ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "%s: %s has %d dimensions (0..%d)", what, arg, t->ndim, ND_MAX_DIMS);
  int64_t n;
  if (!shape_numel_ok(t->ndim, t->shape, &n))
    return nd__error(ND_ERR_INVALID_ARG, "%s: %s has a negative size or more than %lld elements", what, arg,
                     (long long)ND_TENSOR_MAX_NUMEL);
  if (n > 0 && !t->data) return nd__error(ND_ERR_INVALID_ARG, "%s: %s has %lld elements but no data", what, arg,
                                          (long long)n);
  for (int i = 0; i < t->ndim; i++)
    if (t->stride[i] < -EMPTY_SHAPE_MAX || t->stride[i] > EMPTY_SHAPE_MAX)
      return nd__error(ND_ERR_INVALID_ARG, "%s: %s has stride %lld in dimension %d", what, arg,
                       (long long)t->stride[i], i);
  return ND_OK;
}

nd_status nd_tensor_alloc(nd_tensor *t, int ndim, const int64_t *shape) {
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "tensor alloc: tensor is NULL");
  memset(t, 0, sizeof *t);
  ND_TRY(set_shape(t, ndim, shape, "tensor alloc"));
  size_t bytes = (size_t)numel_of(t) * sizeof(float);
  t->data = nd_aligned_alloc(bytes);
  if (!t->data) {
    memset(t, 0, sizeof *t);
    return ND_ERR_NOMEM;
  }
  memset(t->data, 0, bytes);
  t->owns_data = true;
  return ND_OK;
}

void nd_tensor_release(nd_tensor *t) {
  if (!t) return;
  if (t->owns_data) nd_aligned_free(t->data);
  memset(t, 0, sizeof *t);
}

nd_status nd_tensor_create(int ndim, const int64_t *shape, nd_tensor **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor create: output pointer is NULL");
  *out = NULL;
  nd_tensor *t = malloc(sizeof *t);
  if (!t) return nd__error(ND_ERR_NOMEM, "tensor create: could not allocate header");
  nd_status s = nd_tensor_alloc(t, ndim, shape);
  if (s != ND_OK) {
    free(t);
    return s;
  }
  *out = t;
  return ND_OK;
}

void nd_tensor_free(nd_tensor *t) {
  if (!t) return;
  nd_tensor_release(t);
  free(t);
}

nd_status nd_tensor_create_in(nd_arena *a, int ndim, const int64_t *shape, nd_tensor **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor create_in: output pointer is NULL");
  *out = NULL;
  if (!a) return nd__error(ND_ERR_INVALID_ARG, "tensor create_in: arena is NULL");
  nd_tensor h;
  memset(&h, 0, sizeof h);
  ND_TRY(set_shape(&h, ndim, shape, "tensor create_in"));
  nd_tensor *t = nd_arena_alloc(a, sizeof *t);
  if (!t) return ND_ERR_NOMEM;
  *t = h;
  t->data = nd_arena_calloc(a, (size_t)numel_of(t) * sizeof(float));
  if (!t->data) return ND_ERR_NOMEM;
  *out = t;
  return ND_OK;
}

nd_tensor nd_tensor_wrap(float *data, int ndim, const int64_t *shape) {
  nd_tensor t;
  memset(&t, 0, sizeof t);
  if (set_shape(&t, ndim, shape, "tensor wrap") == ND_OK)
    t.data = data;
  else
    memset(&t, 0, sizeof t);
  return t;
}

int64_t nd_tensor_numel(const nd_tensor *t) {
  int64_t n;
  if (!t || t->ndim < 0 || t->ndim > ND_MAX_DIMS || !shape_numel_ok(t->ndim, t->shape, &n)) return 0;
  return n;
}

bool nd_tensor_is_contiguous(const nd_tensor *t) {
  if (!t || t->ndim < 0 || t->ndim > ND_MAX_DIMS) return false;
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return false;
    if (__builtin_mul_overflow(s, t->shape[i], &s)) return false;
  }
  return true;
}

bool nd_tensor_same_shape(const nd_tensor *a, const nd_tensor *b) {
  if (!a || !b || a->ndim != b->ndim || a->ndim < 0 || a->ndim > ND_MAX_DIMS) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

char *nd_tensor_shape_str(const nd_tensor *t, char *buf, size_t len) {
  if (!buf || len == 0) return NULL;
  buf[0] = '\0';
  if (!t) {
    snprintf(buf, len, "(null)");
    return buf;
  }
  if (t->ndim < 0 || t->ndim > ND_MAX_DIMS) {
    snprintf(buf, len, "(invalid: %d dimensions)", t->ndim);
    return buf;
  }
  if (t->ndim == 0) {
    snprintf(buf, len, "scalar");
    return buf;
  }
  size_t off = 0;
  for (int i = 0; i < t->ndim && off < len; i++) {
    int k = snprintf(buf + off, len - off, i ? "x%lld" : "%lld", (long long)t->shape[i]);
    if (k < 0) break;
    off += (size_t)k;
  }
  return buf;
}

nd_status nd_tensor_check_shape(const nd_tensor *t, const char *what, int ndim, const int64_t *shape) {
  if (!what) what = "tensor";
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "%s is NULL", what);
  if (ndim < 0 || ndim > ND_MAX_DIMS || (ndim > 0 && !shape))
    return nd__error(ND_ERR_INVALID_ARG, "%s: expected shape is invalid (%d dimensions%s)", what, ndim,
                     ndim > 0 && !shape ? ", NULL sizes" : "");
  bool same = t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
  if (same) return ND_OK;
  char got_s[128], want_s[128];
  nd_tensor want;
  memset(&want, 0, sizeof want);
  want.ndim = ndim;
  for (int i = 0; i < ndim; i++) want.shape[i] = shape[i];
  return nd__error(ND_ERR_SHAPE, "%s has shape %s, expected %s", what, nd_tensor_shape_str(t, got_s, sizeof got_s),
                   nd_tensor_shape_str(&want, want_s, sizeof want_s));
}

nd_status nd_tensor_slice(const nd_tensor *t, int dim, int64_t start, int64_t len, nd_tensor *out) {
  ND_TRY(nd__tensor_check(t, "tensor slice", "source"));
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor slice: output is NULL");
  if (dim < 0 || dim >= t->ndim)
    return nd__error(ND_ERR_INVALID_ARG, "tensor slice: dimension %d out of range for %d-D tensor", dim, t->ndim);
  /* len > size - start rather than start + len > size: no overflow. */
  if (start < 0 || len < 0 || start > t->shape[dim] || len > t->shape[dim] - start)
    return nd__error(ND_ERR_INVALID_ARG,
                     "tensor slice: start %lld, length %lld out of range 0..%lld in dimension %d",
                     (long long)start, (long long)len, (long long)t->shape[dim], dim);
  nd_tensor v = *t;
  v.owns_data = false;
  v.data = t->data ? t->data + start * t->stride[dim] : NULL;
  v.shape[dim] = len;
  *out = v;
  return ND_OK;
}

nd_status nd_tensor_select(const nd_tensor *t, int64_t index, nd_tensor *out) {
  ND_TRY(nd__tensor_check(t, "tensor select", "source"));
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor select: output is NULL");
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
  ND_TRY(nd__tensor_check(t, "tensor reshape", "source"));
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: output is NULL");
  if (!nd_tensor_is_contiguous(t))
    return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: source is not contiguous (copy it first)");
  if (ndim < 0 || ndim > ND_MAX_DIMS)
    return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: %d dimensions requested, 0..%d supported", ndim,
                     ND_MAX_DIMS);
  if (ndim > 0 && !shape) return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: shape is NULL");
  int64_t resolved[ND_MAX_DIMS];
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    resolved[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0) return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: more than one -1 in the new shape");
      infer = i;
      resolved[i] = 1;
    } else if (shape[i] < 0) {
      return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: dimension %d has negative size %lld", i,
                       (long long)shape[i]);
    }
  }
  int64_t known;
  if (!shape_numel_ok(ndim, resolved, &known))
    return nd__error(ND_ERR_INVALID_ARG, "tensor reshape: new shape has more than %lld elements",
                     (long long)ND_TENSOR_MAX_NUMEL);
  int64_t n = numel_of(t);
  if (infer >= 0) {
    resolved[infer] = known ? n / known : 0; /* next to a zero size: 0 */
    known *= resolved[infer];
  }
  if (known != n) {
    char s[128];
    return nd__error(ND_ERR_SHAPE, "tensor reshape: %s (%lld elements) cannot become %lld elements",
                     nd_tensor_shape_str(t, s, sizeof s), (long long)n, (long long)known);
  }
  nd_tensor v;
  memset(&v, 0, sizeof v);
  ND_TRY(set_shape(&v, ndim, resolved, "tensor reshape"));
  v.data = t->data;
  *out = v;
  return ND_OK;
}

static float *at_unchecked(const nd_tensor *t, const int64_t *index) {
  int64_t off = 0;
  for (int i = 0; i < t->ndim; i++) off += index[i] * t->stride[i];
  return t->data + off;
}

float *nd_tensor_at(const nd_tensor *t, const int64_t *index) {
  if (nd__tensor_check(t, "tensor at", "tensor") != ND_OK) return NULL;
  if (t->ndim > 0 && !index) {
    nd__error(ND_ERR_INVALID_ARG, "tensor at: index is NULL");
    return NULL;
  }
  for (int i = 0; i < t->ndim; i++)
    if (index[i] < 0 || index[i] >= t->shape[i]) {
      nd__error(ND_ERR_INVALID_ARG, "tensor at: index %lld out of range 0..%lld in dimension %d",
                (long long)index[i], (long long)t->shape[i], i);
      return NULL;
    }
  return at_unchecked(t, index);
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

/* Shape entries at or past ndim must be 1 for FOR_EACH_INDEX; headers made by
 * hand may hold anything there, so iterate over a normalised copy. */
static nd_tensor normalised(const nd_tensor *t) {
  nd_tensor v = *t;
  for (int i = t->ndim; i < ND_MAX_DIMS; i++) {
    v.shape[i] = 1;
    v.stride[i] = 1;
  }
  return v;
}

nd_status nd_tensor_fill(nd_tensor *t, float value) {
  ND_TRY(nd__tensor_check(t, "tensor fill", "tensor"));
  int64_t n = numel_of(t);
  if (n == 0) return ND_OK;
  if (nd_tensor_is_contiguous(t)) {
    for (int64_t i = 0; i < n; i++) t->data[i] = value;
    return ND_OK;
  }
  nd_tensor v = normalised(t);
  FOR_EACH_INDEX(&v, *at_unchecked(&v, idx_) = value);
  return ND_OK;
}

nd_status nd_tensor_copy(nd_tensor *dst, const nd_tensor *src) {
  ND_TRY(nd__tensor_check(dst, "tensor copy", "destination"));
  ND_TRY(nd__tensor_check(src, "tensor copy", "source"));
  if (!nd_tensor_same_shape(dst, src)) {
    char a[128], b[128];
    return nd__error(ND_ERR_SHAPE, "tensor copy: destination is %s, source is %s",
                     nd_tensor_shape_str(dst, a, sizeof a), nd_tensor_shape_str(src, b, sizeof b));
  }
  int64_t n = numel_of(src);
  if (n == 0) return ND_OK;
  if (nd_tensor_is_contiguous(dst) && nd_tensor_is_contiguous(src)) {
    memmove(dst->data, src->data, (size_t)n * sizeof(float));
    return ND_OK;
  }
  nd_tensor d = normalised(dst), s = normalised(src);
  FOR_EACH_INDEX(&s, *at_unchecked(&d, idx_) = *at_unchecked(&s, idx_));
  return ND_OK;
}
