/* libFuzzer target, in memory (fuzz_tensorfile.c drives the file functions):
 * what a file is (nd_file_format_of_bytes) and every
 * tensor of it (nd_tensor_file_parse), under each of the names that steer
 * the format choice (.npy, .safetensors, -ubyte, .gz, no extension).
 *
 * Checks besides crashes, leaks and undefined behaviour: the sniffer gives a
 * valid format; a refusal leaves the result empty and names the input; an
 * accepted file has the format it was read as, n >= 0 names and arrays whose
 * element count matches their shape. */
#include <stdint.h>
#include <string.h>

#include "neurodyn/tensorfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_file_format f = nd_file_format_of_bytes(data, size);
  if ((unsigned)f >= ND_FILE_FORMAT_COUNT_) __builtin_trap();
  if (size == 0 && f != ND_FILE_EMPTY) __builtin_trap();
  static const char *const names[5] = {"fuzz-input.npy", "fuzz-input.safetensors", "fuzz-input-ubyte",
                                       "fuzz-input.gz", "fuzz-input"};
  for (int k = 0; k < 5; k++) {
    nd_tensor_file t;
    nd_status s = nd_tensor_file_parse(data, size, names[k], &t);
    if (s != ND_OK) {
      if (t.n || t.names || t.arrays || t.meta || !strstr(nd_last_error(), names[k])) __builtin_trap();
      continue;
    }
    if (t.format != ND_FILE_IDX && t.format != ND_FILE_NPY && t.format != ND_FILE_SAFETENSORS && t.format != ND_FILE_ZIP)
      __builtin_trap();
    if (t.n < 0 || (t.n > 0 && (!t.names || !t.arrays))) __builtin_trap();
    for (int i = 0; i < t.n; i++) {
      int64_t n = 1;
      for (int d = 0; d < t.arrays[i].ndim; d++) n *= t.arrays[i].shape[d];
      if (!t.names[i] || n != t.arrays[i].numel) __builtin_trap();
    }
    nd_tensor_file_release(&t);
  }
  return 0;
}
