/* hello: the smallest program against the installed library.  Prints the
 * library version, builds two small tensors, multiplies them with nd_sgemm and
 * checks the product against a plain triple loop.
 *
 *   cc examples/hello.c $(pkg-config --cflags --libs neurodyn) -o hello
 *   ./hello
 *
 * Exits 1 if any call fails or the product is wrong. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "neurodyn/neurodyn.h"

int main(void) {
  printf("neurodyn %s\n", nd_version());
  if (strcmp(nd_version(), ND_VERSION_STRING) != 0) {
    fprintf(stderr, "hello: header says %s, library says %s\n", ND_VERSION_STRING, nd_version());
    return 1;
  }

  /* A [2, 3] and B [3, 4], filled with small integers so the product is exact. */
  nd_tensor *a = NULL, *b = NULL, *c = NULL;
  if (nd_tensor_create(2, ND_SHAPE(2, 3), &a) != ND_OK || nd_tensor_create(2, ND_SHAPE(3, 4), &b) != ND_OK ||
      nd_tensor_create(2, ND_SHAPE(2, 4), &c) != ND_OK) {
    fprintf(stderr, "hello: nd_tensor_create failed: %s\n", nd_last_error());
    nd_tensor_free(a);
    nd_tensor_free(b);
    nd_tensor_free(c);
    return 1;
  }
  for (int i = 0; i < 6; i++) a->data[i] = (float)(i + 1);
  for (int i = 0; i < 12; i++) b->data[i] = (float)(i % 5) - 2.0f;

  /* C = A B */
  nd_sgemm(false, false, 2, 4, 3, 1.0f, a->data, 3, b->data, 4, 0.0f, c->data, 4);

  int bad = 0;
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 4; j++) {
      float want = 0.0f;
      for (int k = 0; k < 3; k++) want += a->data[i * 3 + k] * b->data[k * 4 + j];
      float got = c->data[i * 4 + j];
      printf("%s%6.1f", j ? " " : "C = ", (double)got);
      if (fabsf(got - want) > 1e-5f) bad = 1;
    }
    printf("\n");
  }
  char shape[32];
  printf("shape %s, sum %.1f\n", nd_tensor_shape_str(c, shape, sizeof shape), nd_sum(c->data, nd_tensor_numel(c)));
  nd_tensor_free(a);
  nd_tensor_free(b);
  nd_tensor_free(c);
  if (bad) {
    fprintf(stderr, "hello: nd_sgemm disagrees with the reference loop\n");
    return 1;
  }
  return 0;
}
