/* libFuzzer target: the IDX reader (raw and gzip) through nd_idx_parse.
 *
 * Checks beyond "no crash, no leak, no UB": a success returns an array whose
 * numel matches its shape and whose data can be converted to a tensor; a
 * failure leaves the output empty and its message names the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/io.h"

#define NAME "fuzz-input.idx"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_array a;
  nd_status s = nd_idx_parse(data, size, NAME, &a);
  if (s != ND_OK) {
    if (a.data || a.numel || !strstr(nd_last_error(), NAME)) __builtin_trap();
    return 0;
  }
  int64_t n = 1;
  for (int i = 0; i < a.ndim; i++) n *= a.shape[i];
  if (a.ndim < 1 || a.ndim > ND_ARRAY_MAX_DIMS || n != a.numel || !a.data) __builtin_trap();
  /* Touch every byte so ASan sees any short allocation. */
  const unsigned char *p = a.data;
  unsigned acc = 0;
  for (int64_t i = 0; i < a.numel * (int64_t)nd_dtype_size(a.dtype); i++) acc += p[i];
  (void)acc;
  if (a.ndim <= ND_MAX_DIMS) {
    nd_tensor t;
    if (nd_array_to_tensor(&a, &t) != ND_OK) __builtin_trap();
    if (nd_tensor_numel(&t) != a.numel) __builtin_trap();
    nd_tensor_release(&t);
  }
  nd_array_release(&a);
  return 0;
}
