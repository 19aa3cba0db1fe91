/* Tensor files as the `inspect` and `convert` commands see them: the format
 * of a file (by extension, else by its first bytes) and its tensors as typed
 * arrays, read through the IO layer (include/neurodyn/io.h). */
#ifndef NEURODYN_CLI_TENSORFILE_H
#define NEURODYN_CLI_TENSORFILE_H

#include "neurodyn/io.h"

typedef enum nd_cli_format {
  ND_FMT_UNKNOWN = 0,
  ND_FMT_IDX,
  ND_FMT_NPY,
  ND_FMT_SAFETENSORS
} nd_cli_format;

const char *nd_cli_format_name(nd_cli_format f);

/* By extension: .npy, .safetensors, .idx, *-ubyte, *-ubyte.gz, .idx.gz. */
nd_cli_format nd_cli_format_of_name(const char *path);

/* By content: NPY magic, IDX magic (00 00 type ndim, or gzip), or a
 * safetensors header (8-byte length then '{'). */
nd_cli_format nd_cli_format_of_bytes(const unsigned char *buf, size_t len);

/* Every tensor of a file, in file order. */
typedef struct nd_cli_tensors {
  nd_cli_format format;
  int n;
  char **names;
  nd_array *arrays;
  int n_meta;        /* safetensors metadata: n_meta key/value pairs */
  char **meta;       /* key0, value0, key1, value1, ... */
} nd_cli_tensors;

/* Reads path (format by extension, else by content).  IDX files hold one
 * tensor named "data", NPY files one named after the file's stem.  Errors
 * (missing file, unknown format, malformed content) come back as the
 * library's status with nd_last_error() naming the file. */
nd_status nd_cli_tensors_read(const char *path, nd_cli_tensors *out);
void nd_cli_tensors_free(nd_cli_tensors *t);

/* "<f4"-style descr of an NPY buffer that nd_npy_parse accepted, mapped to
 * ND_DTYPE_F32 or ND_DTYPE_F64. */
nd_dtype nd_cli_npy_dtype(const unsigned char *buf, size_t len);

#endif
