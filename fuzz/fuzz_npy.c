/* libFuzzer target: the NPY reader through nd_npy_parse (float32 tensor) and
 * nd_npy_parse_f64 (float64 array).
 *
 * Differential check: both readers accept the same inputs (except arrays of
 * more dimensions than an nd_tensor holds) and agree element by element
 * (float32 result == (float) float64 result).  Failures leave the output
 * empty and name the input in the message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/io.h"

#define NAME "fuzz-input.npy"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_tensor t;
  nd_array a;
  nd_status st = nd_npy_parse(data, size, NAME, &t);
  if (st != ND_OK && (t.data || !strstr(nd_last_error(), NAME))) __builtin_trap();
  nd_status sa = nd_npy_parse_f64(data, size, NAME, &a);
  if (sa != ND_OK && (a.data || !strstr(nd_last_error(), NAME))) __builtin_trap();
  if (sa == ND_OK) {
    if (a.dtype != ND_DTYPE_F64 || a.ndim < 0 || a.ndim > ND_ARRAY_MAX_DIMS || !a.data) __builtin_trap();
    if (st != ND_OK && !(a.ndim > ND_MAX_DIMS && st == ND_ERR_UNSUPPORTED)) __builtin_trap();
  } else if (st == ND_OK) {
    __builtin_trap();
  }
  if (st == ND_OK) {
    if (t.ndim != a.ndim || nd_tensor_numel(&t) != a.numel) __builtin_trap();
    for (int i = 0; i < t.ndim; i++)
      if (t.shape[i] != a.shape[i]) __builtin_trap();
    const double *d = a.data;
    for (int64_t i = 0; i < a.numel; i++) {
      float want = (float)d[i], got = t.data[i];
      if (isnan(want) ? !isnan(got) : memcmp(&want, &got, sizeof got) != 0) __builtin_trap();
    }
    nd_tensor_release(&t);
  }
  nd_array_release(&a);
  return 0;
}
