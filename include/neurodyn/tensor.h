/* nd_tensor: float32 array of up to 5 dimensions, row-major (NCHW convention).
 *
 * A tensor is a small header (this struct) that points at data.  The data is
 * either owned (allocated by nd_tensor_create / nd_tensor_alloc and released by
 * nd_tensor_free / nd_tensor_release respectively), borrowed from an arena, or a view of
 * another tensor's data (slices, reshapes: no copy, the view must not outlive
 * the data).  Strides are in elements; a freshly created tensor is contiguous.
 *
 * Headers are plain values: `nd_tensor v; nd_tensor_slice(&t, 0, 2, 5, &v);`
 * makes a view on the stack. */
#ifndef NEURODYN_TENSOR_H
#define NEURODYN_TENSOR_H

#include "neurodyn/core.h"
#include "neurodyn/arena.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_MAX_DIMS 5

typedef struct nd_tensor {
  float *data;                  /* first element */
  int ndim;                     /* 0..ND_MAX_DIMS (0 = scalar, one element) */
  int64_t shape[ND_MAX_DIMS];   /* sizes; entries >= ndim are 1 */
  int64_t stride[ND_MAX_DIMS];  /* element strides; entries >= ndim are 1 */
  bool owns_data;               /* true if nd_tensor_release must free data */
} nd_tensor;

/* Shape literal helper: nd_tensor_alloc(&t, 2, ND_SHAPE(3, 4)). */
#define ND_SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* Largest tensor: 2^36 elements (256 GiB of float32).  Larger shapes, and
 * shapes whose element or byte count overflows, are refused with
 * ND_ERR_INVALID_ARG before anything is allocated.  An empty tensor (a size
 * 0) may have other sizes whose product is up to 2^59, as the file readers
 * allow. */
#define ND_TENSOR_MAX_NUMEL ((int64_t)1 << 36)

/* Every function below checks its pointers and shapes: a NULL tensor, a
 * header with ndim outside 0..ND_MAX_DIMS or a negative size, or NULL data
 * with elements is ND_ERR_INVALID_ARG with a message.  Queries that return a
 * value (numel, is_contiguous, same_shape, at) return 0 / false / NULL then. */

/* Heap header + owned zero-filled data in *out (NULL on failure). */
ND_API nd_status nd_tensor_create(int ndim, const int64_t *shape, nd_tensor **out);
/* Frees data if owned, then the header.  NULL is a no-op. */
ND_API void nd_tensor_free(nd_tensor *t);

/* In-place variants for headers living on the stack or inside structs. */
ND_API nd_status nd_tensor_alloc(nd_tensor *t, int ndim, const int64_t *shape); /* owned, zeroed */
ND_API void nd_tensor_release(nd_tensor *t); /* frees owned data, leaves t empty; NULL is a no-op */

/* Header and data in an arena (zeroed); nothing to free individually. */
ND_API nd_status nd_tensor_create_in(nd_arena *a, int ndim, const int64_t *shape, nd_tensor **out);

/* Contiguous view over caller memory (not owned).  The one constructor that
 * returns its result by value, so it can be used in expressions: for an
 * invalid shape it returns a tensor with data == NULL (and sets the error),
 * which every other function refuses. */
ND_API nd_tensor nd_tensor_wrap(float *data, int ndim, const int64_t *shape);

/* Views (no copy).  slice: elements [start, start+len) of dimension dim.
 * reshape: needs a contiguous source and the same element count; one entry
 * of shape may be -1 (inferred), every other entry must be >= 0.  select:
 * index i of dimension 0, dropping that dimension. */
ND_API nd_status nd_tensor_slice(const nd_tensor *t, int dim, int64_t start, int64_t len, nd_tensor *out);
ND_API nd_status nd_tensor_reshape(const nd_tensor *t, int ndim, const int64_t *shape, nd_tensor *out);
ND_API nd_status nd_tensor_select(const nd_tensor *t, int64_t index, nd_tensor *out);

ND_API int64_t nd_tensor_numel(const nd_tensor *t);
ND_API bool nd_tensor_is_contiguous(const nd_tensor *t);
ND_API bool nd_tensor_same_shape(const nd_tensor *a, const nd_tensor *b);
/* Pointer to element (i0, i1, ...) given ndim indices; NULL (error set) if an
 * index is out of range. */
ND_API float *nd_tensor_at(const nd_tensor *t, const int64_t *index);

ND_API nd_status nd_tensor_fill(nd_tensor *t, float value);
/* dst and src must have the same shape; either may be strided. */
ND_API nd_status nd_tensor_copy(nd_tensor *dst, const nd_tensor *src);

/* "3x4x5" into buf (for error messages; "(null)" for a NULL tensor).
 * Returns buf (NULL if buf is NULL or len is 0). */
ND_API char *nd_tensor_shape_str(const nd_tensor *t, char *buf, size_t len);

/* Returns ND_OK if t has exactly this shape, else ND_ERR_SHAPE with a message
 * naming `what` and both shapes. */
ND_API nd_status nd_tensor_check_shape(const nd_tensor *t, const char *what, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
