/* Checkpoints: a model's tensors and its settings in one safetensors file.
 *
 * A family saves itself into an nd_checkpoint (tensors plus string
 * metadata, with the key "model" naming the family, e.g. "krotov"), and the
 * run driver adds its own entries before writing; loading goes the other
 * way, and `eval` dispatches on nd_checkpoint_model().
 *
 * Settings travel as a table of {key, type, offset, range}: one table per
 * config struct turns it into metadata strings and back, so that nothing is
 * written or parsed by hand.  Reading checks every value: an integer must
 * be an integer (no "20.7", "1e300" or "abc"), a number must be finite, both
 * must lie in the field's range, a choice must be one of its names; the
 * message names the file and the key.  Tensors read back are checked for
 * dtype, shape and finiteness (a NaN or Inf in saved weights is an error
 * naming the tensor).
 *
 *   nd_checkpoint *ck;
 *   nd_checkpoint_create(&ck);
 *   nd_krotov_save(model, ck);                 // "model", config, W, state
 *   nd_checkpoint_put_meta(ck, "dataset", "mnist");
 *   nd_checkpoint_write(ck, "run/checkpoint.safetensors");   // atomic
 *   nd_checkpoint_free(ck); */
#ifndef NEURODYN_CHECKPOINT_H
#define NEURODYN_CHECKPOINT_H

#include <stddef.h>

#include "neurodyn/core.h"
#include "neurodyn/io.h"
#include "neurodyn/tensor.h"
#include "neurodyn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_meta_type {
  ND_META_I64 = 1, /* int64_t */
  ND_META_INT,     /* int */
  ND_META_U64,     /* uint64_t (seeds, stream counters) */
  ND_META_F64,     /* double */
  ND_META_F32,     /* float */
  ND_META_BOOL,    /* bool */
  ND_META_CHOICE   /* an enum stored as int: index into `choices`, written as its name */
} nd_meta_type;

typedef struct nd_meta_field {
  const char *key;
  nd_meta_type type;
  size_t offset;               /* offsetof(config struct, field) */
  double min, max;             /* inclusive range of numbers (ignored for bool and choice) */
  const char *const *choices;  /* ND_META_CHOICE: NULL-terminated names */
} nd_meta_field;

#define ND_META_FIELD(T, field, key, type, lo, hi) {(key), (type), offsetof(T, field), (lo), (hi), NULL}
#define ND_META_CHOICE_FIELD(T, field, key, names) {(key), ND_META_CHOICE, offsetof(T, field), 0, 0, (names)}

typedef struct nd_checkpoint nd_checkpoint;

/* An empty checkpoint to fill and write. */
ND_API nd_status nd_checkpoint_create(nd_checkpoint **out);
/* Reads a checkpoint file (path is kept for messages). */
ND_API nd_status nd_checkpoint_read(const char *path, nd_checkpoint **out);
/* The same from memory; name is used in messages. */
ND_API nd_status nd_checkpoint_parse(const void *buf, size_t len, const char *name, nd_checkpoint **out);
/* Frees everything; NULL is fine. */
ND_API void nd_checkpoint_free(nd_checkpoint *ck);

/* Sets (or replaces) a metadata entry; key and value are copied. */
ND_API nd_status nd_checkpoint_put_meta(nd_checkpoint *ck, const char *key, const char *value);
/* Writes every field of the struct at base as a metadata entry. */
ND_API nd_status nd_checkpoint_put_fields(nd_checkpoint *ck, int n, const nd_meta_field *fields, const void *base);
/* Adds a tensor (copied now, any dtype).  Names are unique. */
ND_API nd_status nd_checkpoint_put_array(nd_checkpoint *ck, const char *name, const nd_array *a);
ND_API nd_status nd_checkpoint_put_tensor(nd_checkpoint *ck, const char *name, const nd_tensor *t);
/* Writes path atomically (temporary file, then rename). */
ND_API nd_status nd_checkpoint_write(const nd_checkpoint *ck, const char *path);

/* The file name given to read/parse ("" for a new checkpoint). */
ND_API const char *nd_checkpoint_name(const nd_checkpoint *ck);
/* Metadata value, or NULL.  nd_checkpoint_model is the "model" entry. */
ND_API const char *nd_checkpoint_meta(const nd_checkpoint *ck, const char *key);
ND_API const char *nd_checkpoint_model(const nd_checkpoint *ck);
/* ND_ERR_FORMAT naming the file unless the "model" entry is `model`. */
ND_API nd_status nd_checkpoint_expect_model(const nd_checkpoint *ck, const char *model);
/* Reads every field into the struct at base: each key must be present and
 * valid (ND_ERR_FORMAT naming the file, the key and the value). */
ND_API nd_status nd_checkpoint_get_fields(const nd_checkpoint *ck, int n, const nd_meta_field *fields, void *base);
/* True if the checkpoint holds a tensor of this name. */
ND_API bool nd_checkpoint_has(const nd_checkpoint *ck, const char *name);
/* A float32 copy of a tensor whose shape must be `shape` (ndim entries; an
 * entry < 0 matches any size) and whose values must be finite. */
ND_API nd_status nd_checkpoint_get_tensor(const nd_checkpoint *ck, const char *name, int ndim, const int64_t *shape,
                                          nd_tensor *out);
/* A tensor in its own dtype, which must be `dtype`, with numel elements
 * (numel < 0: any); floating-point values must be finite. */
ND_API nd_status nd_checkpoint_get_array(const nd_checkpoint *ck, const char *name, nd_dtype dtype, int64_t numel,
                                         nd_array *out);

/* The shared training state as metadata: "state.epoch", "state.batch",
 * "state.rng_key", "state.rng_counter". */
ND_API nd_status nd_checkpoint_put_state(nd_checkpoint *ck, const nd_train_state *st);
ND_API nd_status nd_checkpoint_get_state(const nd_checkpoint *ck, nd_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
