/* libFuzzer target: the safetensors reader through nd_safetensors_parse, then
 * every accessor on every tensor and metadata entry.
 *
 * Checks: a parsed file's tensors have distinct names, lie inside the buffer
 * and can all be fetched (as arrays, and as float32 tensors when they have at
 * most ND_MAX_DIMS dimensions); failures name the input in the message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/io.h"

#define NAME "fuzz-input.safetensors"

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_safetensors *st = NULL;
  nd_status s = nd_safetensors_parse(data, size, NAME, &st);
  if (s != ND_OK) {
    if (st || !strstr(nd_last_error(), NAME)) __builtin_trap();
    return 0;
  }
  int n = nd_safetensors_count(st);
  uint64_t total = 0;
  /* Distinct names (sorted copy: the check itself must stay n log n, or the
   * per-input time limit would flag the harness instead of the parser). */
  const char **names = malloc((size_t)(n > 0 ? n : 1) * sizeof *names);
  if (!names) return 0;
  for (int i = 0; i < n; i++)
    if (!(names[i] = nd_safetensors_name(st, i))) __builtin_trap();
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 1; i < n; i++)
    if (!strcmp(names[i - 1], names[i])) __builtin_trap();
  free(names);
  for (int i = 0; i < n; i++) {
    const char *name = nd_safetensors_name(st, i);
    nd_dtype dt;
    int ndim;
    int64_t shape[ND_ARRAY_MAX_DIMS];
    if (nd_safetensors_info(st, name, &dt, &ndim, shape) != ND_OK) __builtin_trap();
    nd_array a;
    if (nd_safetensors_get_array(st, name, &a) != ND_OK) __builtin_trap();
    if (a.dtype != dt || a.ndim != ndim) __builtin_trap();
    total += (uint64_t)a.numel * nd_dtype_size(a.dtype);
    nd_tensor t;
    s = nd_safetensors_get(st, name, &t);
    if (ndim <= ND_MAX_DIMS) {
      if (s != ND_OK || nd_tensor_numel(&t) != a.numel) __builtin_trap();
      nd_tensor_release(&t);
    } else if (s != ND_ERR_UNSUPPORTED || t.data) {
      __builtin_trap();
    }
    nd_array_release(&a);
  }
  if (total > size) __builtin_trap();
  if (nd_safetensors_get_array(st, "\x01no such tensor", &(nd_array){0}) != ND_ERR_NOT_FOUND) __builtin_trap();
  for (int i = 0; i < nd_safetensors_metadata_count(st); i++) {
    const char *k = nd_safetensors_metadata_key(st, i);
    if (!k || !nd_safetensors_metadata(st, k)) __builtin_trap();
  }
  nd_safetensors_free(st);
  return 0;
}
