/* Time to parse a safetensors header of N zero-size tensors (and N metadata
 * entries with --meta), then to look every tensor up by name.
 *   bench_safetensors_header N [--meta]
 * Prints one line: entries, parse seconds, lookup seconds.  The header scan
 * must grow linearly (n log n) in N; issue 9 found it quadratic. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "neurodyn/io.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s N [--meta]\n", argv[0]);
    return 2;
  }
  long n = atol(argv[1]);
  int meta = argc > 2 && !strcmp(argv[2], "--meta");
  if (n < 1) return 2;
  size_t cap = (size_t)n * 96 + 64;
  char *hdr = malloc(cap);
  size_t k = 0;
  k += (size_t)snprintf(hdr + k, cap - k, "{");
  for (long i = 0; i < n; i++)
    k += (size_t)snprintf(hdr + k, cap - k, "%s\"t%ld\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                          i ? "," : "", i);
  if (meta) {
    k += (size_t)snprintf(hdr + k, cap - k, ",\"__metadata__\":{");
    for (long i = 0; i < n; i++) k += (size_t)snprintf(hdr + k, cap - k, "%s\"k%ld\":\"v\"", i ? "," : "", i);
    k += (size_t)snprintf(hdr + k, cap - k, "}");
  }
  k += (size_t)snprintf(hdr + k, cap - k, "}");
  unsigned char *buf = malloc(8 + k);
  for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)k >> (8 * i));
  memcpy(buf + 8, hdr, k);
  free(hdr);
  double t0 = now();
  nd_safetensors *st = NULL;
  nd_status s = nd_safetensors_parse(buf, 8 + k, "bench", &st);
  double t1 = now();
  if (s != ND_OK) {
    fprintf(stderr, "parse failed: %s\n", nd_last_error());
    return 1;
  }
  char name[32];
  for (long i = 0; i < n; i++) {
    snprintf(name, sizeof name, "t%ld", i);
    if (nd_safetensors_info(st, name, NULL, NULL, NULL) != ND_OK) return 1;
    if (meta) {
      snprintf(name, sizeof name, "k%ld", i);
      if (!nd_safetensors_metadata(st, name)) return 1;
    }
  }
  double t2 = now();
  printf("%ld tensors%s, header %zu bytes: parse %.3f s, lookup of every name %.3f s\n", n,
         meta ? " + as many metadata keys" : "", k, t1 - t0, t2 - t1);
  nd_safetensors_free(st);
  free(buf);
  return 0;
}
