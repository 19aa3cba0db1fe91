/* A minimal, safe reader of the pickle that torch.save writes for a
 * state_dict (data.pkl inside the zip checkpoint; src/io/pth.c).
 *
 * It is not a Python unpickler: it knows the opcodes of pickle protocols 2
 * to 5 that a state_dict uses (docs/pth.md lists them) and four kinds of
 * global, each replaced by what it means, never called:
 *   collections.OrderedDict            an empty dictionary
 *   torch._utils._rebuild_tensor_v2    a strided view of a storage
 *   torch._utils._rebuild_parameter    the tensor it wraps
 *   torch.<Type>Storage                a storage dtype (in a persistent id)
 * Any other global, opcode or argument shape is an error naming it, so a
 * hostile pickle (GLOBAL posix.system, REDUCE of anything else) is refused
 * before it could mean anything.  Memory is bounded by the pickle's length
 * (every opcode makes at most one value), and nothing recurses. */
#ifndef NEURODYN_IO_PICKLE_H
#define NEURODYN_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "neurodyn/io.h"

/* One storage named by a persistent id ('storage', torch.XStorage, key,
 * location, numel): its data is <archive>/data/<key>. */
typedef struct nd__pkl_storage {
  char *key;
  nd_dtype dtype;
  int64_t numel; /* elements the pickle says it holds */
} nd__pkl_storage;

/* One entry of the state_dict: a view of storages[storage]. */
typedef struct nd__pkl_tensor {
  char *name;
  int storage;
  int64_t offset; /* in elements */
  int ndim;
  int64_t size[ND_ARRAY_MAX_DIMS];
  int64_t stride[ND_ARRAY_MAX_DIMS];
} nd__pkl_tensor;

typedef struct nd__pkl_state_dict {
  int n;
  nd__pkl_tensor *t;  /* pickle order */
  int n_storages;
  nd__pkl_storage *s; /* first-seen order; a key appears once (shared storages) */
} nd__pkl_state_dict;

/* Reads a pickled dict (or OrderedDict) of str -> tensor.  Errors
 * (ND_ERR_FORMAT, ND_ERR_UNSUPPORTED, ND_ERR_NOMEM) name `name` and the byte
 * offset of the opcode.  Checks done here: names distinct, sizes and
 * strides >= 0, offset >= 0, at most ND_ARRAY_MAX_DIMS dimensions, and every
 * view inside its storage's declared numel. */
nd_status nd__pickle_state_dict(const unsigned char *buf, size_t len, const char *name, nd__pkl_state_dict *out);
void nd__pickle_state_dict_release(nd__pkl_state_dict *sd);

/* Elements of t's storage that t reaches: 0 for an empty view, else
 * offset + sum (size_i - 1) * stride_i + 1 (no overflow: checked at parse). */
int64_t nd__pkl_tensor_extent(const nd__pkl_tensor *t);

#endif
