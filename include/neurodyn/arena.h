/* Arena allocator: bump allocation, 64-byte aligned, released all at once.
 *
 * An arena grows by chaining blocks when it runs out; nd_arena_reset() keeps
 * the blocks, so after the first pass a loop that resets and refills the arena
 * allocates nothing from the system (no page faults on the hot path). */
#ifndef NEURODYN_ARENA_H
#define NEURODYN_ARENA_H

#include "neurodyn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nd_arena nd_arena;

/* Largest block and largest single allocation: 2^40 bytes (1 TiB). */
#define ND_ARENA_MAX_BLOCK ((size_t)1 << 40)

/* capacity: bytes of the first block (0 picks 1 MiB).  *out is NULL on failure. */
ND_API nd_status nd_arena_create(size_t capacity, nd_arena **out);
/* Frees every block and the arena.  NULL is a no-op. */
ND_API void nd_arena_free(nd_arena *a);

/* Allocators return a pointer, as malloc does: 64-byte aligned, uninitialised
 * memory, or NULL with an error set (ND_ERR_INVALID_ARG for a NULL arena,
 * ND_ERR_NOMEM if the system is out of memory or bytes exceeds
 * ND_ARENA_MAX_BLOCK). */
ND_API void *nd_arena_alloc(nd_arena *a, size_t bytes);
/* Same, zero-filled. */
ND_API void *nd_arena_calloc(nd_arena *a, size_t bytes);

/* Forget every allocation; keep the memory for reuse.  NULL is a no-op. */
ND_API void nd_arena_reset(nd_arena *a);

ND_API size_t nd_arena_used(const nd_arena *a);      /* bytes handed out since reset (0 for NULL) */
ND_API size_t nd_arena_capacity(const nd_arena *a);  /* bytes held from the system (0 for NULL) */

#ifdef __cplusplus
}
#endif
#endif
