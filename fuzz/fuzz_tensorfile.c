/* libFuzzer target: the tensor-file front door (src/io/tensorfile.c): format
 * sniffing of the bytes, then nd_tensor_file_load and nd_tensor_file_read on
 * the input written to a file under each name the sniffer distinguishes
 * (.npy, .safetensors, .idx, .idx.gz, .png, no extension).
 *
 * Checks: no crash, leak or sanitizer report; a refused file's message names
 * it; a loaded file has as many names as arrays and a known format. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neurodyn/tensorfile.h"

static char dir[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/nd-fuzz-tf-%ld", base, (long)getpid());
  char cmd[128];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
  if (system(cmd) != 0) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_set_log_level(ND_LOG_OFF);
  nd_file_format f = nd_file_format_of_bytes(data, size);
  if ((int)f < 0 || f >= ND_FILE_FORMAT_COUNT_ || !nd_file_format_name(f) || !nd_file_format_phrase(f))
    __builtin_trap();
  static const char *const names[] = {"in.npy", "in.safetensors", "in.idx", "in.idx.gz", "in.png", "in"};
  /* One name per input (chosen by its size) keeps each run to one file. */
  const char *name = names[size % (sizeof names / sizeof names[0])];
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *fp = fopen(path, "wb");
  if (!fp) return 0;
  if (size && fwrite(data, 1, size, fp) != size) {
    fclose(fp);
    return 0;
  }
  fclose(fp);
  (void)nd_file_kind(path);
  nd_tensor_file t;
  nd_status s = nd_tensor_file_load(path, &t);
  if (s == ND_OK) {
    if (t.n < 0 || (t.n > 0 && (!t.names || !t.arrays))) __builtin_trap();
    nd_tensor_file_release(&t);
  } else if (s != ND_ERR_NOMEM && !strstr(nd_last_error(), name)) {
    __builtin_trap();
  }
  nd_tensor x;
  s = nd_tensor_file_read_f32(path, NULL, &x);
  if (s == ND_OK) nd_tensor_release(&x);
  unlink(path);
  return 0;
}
