/* libFuzzer target: the record index reader, nd_record_index_parse
 * (include/neurodyn/record.h, docs/record.md).
 *
 * Checks beyond "no crash, no leak": a failure leaves the output zeroed and
 * names the input; an accepted index satisfies what the reader promises (names
 * of the pattern and unique, a frame rank that fits the kind, chunk file names
 * without a directory, chunks contiguous from t0 0 and summing to frames), and
 * looking up every stream by name finds it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/record.h"

#define NAME "fuzz-input.json"

static void check_stream(const nd_record_index *ix, const nd_record_stream_info *s) {
  if (!s->name || !*s->name || strlen(s->name) > ND_RECORD_NAME_MAX || strchr(s->name, '/')) __builtin_trap();
  if (nd_record_index_find(ix, s->name) != s) __builtin_trap();
  if (!nd_record_kind_name(s->kind) || s->ndim < 1 || s->ndim > ND_RECORD_MAX_DIMS) __builtin_trap();
  int64_t n = 1;
  for (int d = 0; d < s->ndim; d++) {
    if (s->frame_shape[d] < 1) __builtin_trap();
    n *= s->frame_shape[d];
  }
  if (n != s->frame_size) __builtin_trap();
  if (s->dtype != ND_DTYPE_F32 && !(s->dtype == ND_DTYPE_U8 && s->kind == ND_RECORD_RASTER)) __builtin_trap();
  if (!(s->dt > 0)) __builtin_trap();
  if (s->positions && (s->kind != ND_RECORD_GRID3D || strchr(s->positions, '/'))) __builtin_trap();
  int64_t t = 0;
  for (int c = 0; c < s->nchunks; c++) {
    const nd_record_chunk *ch = &s->chunks[c];
    if (!ch->file || strchr(ch->file, '/') || ch->t0 != t || ch->frames < 1) __builtin_trap();
    t += ch->frames;
  }
  if (t != s->frames) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_record_index ix;
  nd_status st = nd_record_index_parse(data, size, NAME, &ix);
  if (st != ND_OK) {
    if (ix.streams || ix.nstreams || !strstr(nd_last_error(), NAME)) __builtin_trap();
    return 0;
  }
  if (ix.version != ND_RECORD_VERSION || ix.nstreams < 0 || (ix.nstreams && !ix.streams)) __builtin_trap();
  for (int i = 0; i < ix.nstreams; i++) check_stream(&ix, &ix.streams[i]);
  nd_record_index_release(&ix);
  return 0;
}
