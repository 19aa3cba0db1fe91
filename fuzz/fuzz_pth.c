/* libFuzzer target: PyTorch .pth checkpoints in memory (nd_pth_parse): the
 * zip path through libzip, data.pkl through the pickle reader, storages
 * gathered by offset and strides.
 *
 * Checks besides crashes, leaks, undefined behaviour and time: a refusal
 * leaves the result empty and names the input; an accepted file is
 * ND_FILE_ZIP with named arrays whose element count matches their shape and
 * whose dtype is a readable one. */
#include <stdint.h>
#include <string.h>

#include "neurodyn/tensorfile.h"

#define NAME "fuzz-input.pth"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_tensor_file t;
  nd_status s = nd_pth_parse(data, size, NAME, &t);
  if (s != ND_OK) {
    if (t.n || t.names || t.arrays || !strstr(nd_last_error(), NAME)) __builtin_trap();
    return 0;
  }
  if (t.format != ND_FILE_ZIP || t.n < 0 || (t.n > 0 && (!t.names || !t.arrays))) __builtin_trap();
  for (int i = 0; i < t.n; i++) {
    const nd_array *a = &t.arrays[i];
    int64_t n = 1;
    for (int d = 0; d < a->ndim; d++) n *= a->shape[d];
    if (!t.names[i] || n != a->numel || nd_dtype_size(a->dtype) == 0 || !a->data) __builtin_trap();
    /* touch every byte, so a short copy is a finding of the sanitizer */
    volatile unsigned char sum = 0;
    for (size_t b = 0; b < (size_t)a->numel * nd_dtype_size(a->dtype); b++) sum ^= ((const unsigned char *)a->data)[b];
    (void)sum;
  }
  nd_tensor_file_release(&t);
  return 0;
}
