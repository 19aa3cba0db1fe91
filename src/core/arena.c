/* Arena allocator: a chain of blocks with a bump pointer (see arena.h). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/arena.h"

#define ARENA_ALIGN 64

typedef struct block {
  struct block *next;
  size_t size; /* usable bytes in data */
  size_t used;
  unsigned char *data;
} block;

struct nd_arena {
  block *first;
  block *current;
  size_t total_used;
};

static block *block_new(size_t size) {
  block *b = malloc(sizeof *b);
  if (!b) return NULL;
  b->data = nd_aligned_alloc(size);
  if (!b->data) {
    free(b);
    return NULL;
  }
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

nd_status nd_arena_create(size_t capacity, nd_arena **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "arena: output pointer is NULL");
  *out = NULL;
  if (capacity == 0) capacity = (size_t)1 << 20;
  if (capacity > ND_ARENA_MAX_BLOCK)
    return nd__error(ND_ERR_INVALID_ARG, "arena: first block of %zu bytes is larger than the limit %zu", capacity,
                     (size_t)ND_ARENA_MAX_BLOCK);
  nd_arena *a = calloc(1, sizeof *a);
  if (!a) return nd__error(ND_ERR_NOMEM, "arena: could not allocate header");
  a->first = a->current = block_new(capacity);
  if (!a->first) {
    free(a);
    return nd__error(ND_ERR_NOMEM, "arena: could not allocate %zu bytes", capacity);
  }
  *out = a;
  return ND_OK;
}

void nd_arena_free(nd_arena *a) {
  if (!a) return;
  for (block *b = a->first; b;) {
    block *next = b->next;
    nd_aligned_free(b->data);
    free(b);
    b = next;
  }
  free(a);
}

void *nd_arena_alloc(nd_arena *a, size_t bytes) {
  if (!a) {
    nd__error(ND_ERR_INVALID_ARG, "arena alloc: arena is NULL");
    return NULL;
  }
  if (bytes > ND_ARENA_MAX_BLOCK) {
    nd__error(ND_ERR_NOMEM, "arena alloc: %zu bytes requested, the limit is %zu", bytes, (size_t)ND_ARENA_MAX_BLOCK);
    return NULL;
  }
  size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (need == 0) need = ARENA_ALIGN;
  /* Walk forward through blocks kept from before a reset, then grow. */
  while (a->current->used + need > a->current->size) {
    if (!a->current->next) {
      size_t size = a->current->size <= ND_ARENA_MAX_BLOCK / 2 ? a->current->size * 2 : ND_ARENA_MAX_BLOCK;
      if (size < need) size = need;
      block *b = block_new(size);
      if (!b) {
        nd__error(ND_ERR_NOMEM, "arena: could not grow by %zu bytes", size);
        return NULL;
      }
      a->current->next = b;
    }
    a->current = a->current->next;
  }
  void *p = a->current->data + a->current->used;
  a->current->used += need;
  a->total_used += need;
  return p;
}

void *nd_arena_calloc(nd_arena *a, size_t bytes) {
  void *p = nd_arena_alloc(a, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void nd_arena_reset(nd_arena *a) {
  if (!a) return;
  for (block *b = a->first; b; b = b->next) b->used = 0;
  a->current = a->first;
  a->total_used = 0;
}

size_t nd_arena_used(const nd_arena *a) { return a ? a->total_used : 0; }

size_t nd_arena_capacity(const nd_arena *a) {
  size_t total = 0;
  if (!a) return 0;
  for (const block *b = a->first; b; b = b->next) total += b->size;
  return total;
}
