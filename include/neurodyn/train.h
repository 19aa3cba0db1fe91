/* What every trainable model family shares (docs/architecture.md):
 *
 *   nd_train_state  the position of a run (epochs done, minibatches done in
 *                   the current epoch, the shuffle stream): with the model's
 *                   parameters it is everything an exact resume needs.
 *   nd_progress_fn  called after every minibatch (or epoch) of an epoch
 *                   function; returning non-zero asks it to stop there, with
 *                   the state saying where, so that Ctrl-C can checkpoint a
 *                   run mid-epoch and resume it bit for bit.
 *   nd_sampler      the one minibatch sampler: a seeded permutation of the
 *                   rows per epoch and a gather of each minibatch.
 *
 * The sampler draws epoch e's permutation from its Philox stream when the
 * epoch starts.  Its state is the stream as it was *before* that draw plus
 * the number of minibatches already taken, so a sampler restored from a
 * state taken mid-epoch redraws the same permutation and skips the
 * minibatches already done. */
#ifndef NEURODYN_TRAIN_H
#define NEURODYN_TRAIN_H

#include "neurodyn/core.h"
#include "neurodyn/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_train_state {
  int64_t epoch;        /* epochs completed */
  int64_t batch;        /* minibatches of epoch `epoch` already applied (0 at an epoch boundary) */
  uint64_t rng_key;     /* shuffle stream before epoch `epoch`'s permutation was drawn */
  uint64_t rng_counter;
} nd_train_state;

typedef struct nd_progress_info {
  int64_t epoch;        /* the epoch being run (0-based) */
  int64_t done, total;  /* minibatches done in this epoch, and per epoch */
} nd_progress_info;

/* Return 0 to go on, non-zero to stop after this minibatch. */
typedef int (*nd_progress_fn)(const nd_progress_info *info, void *user);

typedef struct nd_sampler {
  int64_t batch;        /* minibatch size */
  bool drop_last;       /* skip a final partial minibatch */
  nd_rng rng;           /* the stream; advanced by each epoch's permutation */
  nd_rng epoch_start;   /* the stream before this epoch's permutation */
  int64_t *perm;        /* [cap] this epoch's order */
  int64_t cap, n;       /* allocated rows, rows of this epoch */
  int64_t next;         /* minibatches taken in this epoch */
  int64_t skip;         /* minibatches to skip when the next epoch starts (restored mid-epoch) */
  bool in_epoch;
} nd_sampler;

/* batch >= 1.  rng: the stream (e.g. nd_rng_split(&root, 2)). */
ND_API nd_status nd_sampler_init(nd_sampler *s, int64_t batch, bool drop_last, nd_rng rng);
/* Frees the permutation; s may be NULL. */
ND_API void nd_sampler_release(nd_sampler *s);
/* Minibatches in an epoch over n rows. */
ND_API int64_t nd_sampler_batches(const nd_sampler *s, int64_t n);
/* Starts an epoch over n rows (draws the permutation) unless one is under
 * way over the same n.  ND_ERR_SHAPE if n gives no minibatch. */
ND_API nd_status nd_sampler_begin(nd_sampler *s, int64_t n);
/* Starts an epoch of `batch`-row minibatches over n rows whose permutation
 * comes from the caller's stream *rng (advanced past it), for models whose
 * caller owns the stream (nd_krotov_top_train_epoch, nd_mlp_train_epoch).
 * s needs only to be zeroed or initialised once; its buffer is reused. */
ND_API nd_status nd_sampler_begin_from(nd_sampler *s, int64_t n, int64_t batch, bool drop_last, nd_rng *rng);
/* Rows of the next minibatch of the epoch: *rows points at *count indices;
 * returns false (count 0) once the epoch is over, and then ends it. */
ND_API bool nd_sampler_next(nd_sampler *s, const int64_t **rows, int64_t *count);
/* Abandons the epoch under way (the next begin draws a new permutation from
 * the current stream). */
ND_API void nd_sampler_end(nd_sampler *s);
/* Copies rows of src [*, d] into dst [count, d]. */
ND_API void nd_sampler_gather(const float *src, int64_t d, const int64_t *rows, int64_t count, float *dst);

/* The sampler's part of a train state (epoch is left alone) and back. */
ND_API void nd_sampler_get_state(const nd_sampler *s, nd_train_state *st);
ND_API nd_status nd_sampler_set_state(nd_sampler *s, const nd_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
