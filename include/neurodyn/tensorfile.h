/* Tensor files whatever their format: what a file is (by its name and its
 * first bytes), and its tensors read through the format readers of
 * neurodyn/io.h.
 *
 *   nd_array w;
 *   if (nd_tensor_file_read("runs/a/W.npy", NULL, &w) != ND_OK)
 *     fprintf(stderr, "%s\n", nd_last_error());
 *     // e.g. "runs/a/fields.png: is a PNG image, expected a safetensors or NPY tensor file"
 *
 * A file is recognised by its content first: magic numbers (PNG, NPY, gzip,
 * zip, pickle, IDX), the safetensors layout (an 8-byte length that fits the
 * file, then '{'), then text (JSON, JSON Lines, other text).  The extension
 * decides only when the content is not recognised: a damaged .safetensors or
 * .npy file then reaches its parser, which says what is wrong with it (for
 * example a header length larger than the file). */
#ifndef NEURODYN_TENSORFILE_H
#define NEURODYN_TENSORFILE_H

#include "neurodyn/core.h"
#include "neurodyn/io.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_file_format {
  ND_FILE_UNKNOWN = 0, /* binary data of no format listed here */
  ND_FILE_MISSING,     /* no such file */
  ND_FILE_DIRECTORY,
  ND_FILE_SPECIAL,     /* FIFO, socket, device */
  ND_FILE_UNREADABLE,  /* exists but cannot be opened or read */
  ND_FILE_EMPTY,       /* 0 bytes */
  ND_FILE_IDX,         /* IDX (MNIST), raw */
  ND_FILE_IDX_GZ,      /* IDX inside gzip (by name: *.idx.gz, *-ubyte.gz) */
  ND_FILE_NPY,
  ND_FILE_SAFETENSORS,
  ND_FILE_PNG,
  ND_FILE_GZIP,        /* gzip of something else */
  ND_FILE_ZIP,         /* zip archive, e.g. a PyTorch .pth checkpoint */
  ND_FILE_PICKLE,      /* Python pickle, e.g. a legacy PyTorch checkpoint */
  ND_FILE_JSON,
  ND_FILE_JSONL,       /* JSON Lines, e.g. metrics.jsonl */
  ND_FILE_TEXT,        /* other text */
  ND_FILE_FORMAT_COUNT_
} nd_file_format;

/* Short name: "PNG", "safetensors", "JSON Lines", "directory", ... */
ND_API const char *nd_file_format_name(nd_file_format f);
/* What a file of that format "is", for messages: "a PNG image",
 * "JSON Lines text", "a directory", "an empty file", ... */
ND_API const char *nd_file_format_phrase(nd_file_format f);

/* By extension alone: .npy, .safetensors, .idx / *-ubyte, .idx.gz /
 * *-ubyte.gz, .png, .json, .jsonl, .gz, .pth / .pt / .zip, .pkl / .pickle,
 * .txt / .csv / .md; ND_FILE_UNKNOWN otherwise.  NULL is fine. */
ND_API nd_file_format nd_file_format_of_name(const char *path);
/* By content alone (the first len bytes of a file; 4096 are plenty);
 * ND_FILE_EMPTY for len 0.  gzip is ND_FILE_GZIP here (the name tells an
 * IDX inside it). */
ND_API nd_file_format nd_file_format_of_bytes(const void *buf, size_t len);
/* A file on disk: what it is (missing, directory, ... or its format by
 * content, else by name).  Reads at most 4096 bytes; never blocks on a
 * FIFO. */
ND_API nd_file_format nd_file_sniff(const char *path);
/* nd_file_format_phrase(nd_file_sniff(path)). */
ND_API const char *nd_file_kind(const char *path);

/* One tensor from a safetensors or NPY file, in the file's dtype (NPY: f32
 * or f64).  name: the tensor of a safetensors file (NULL: the file must hold
 * exactly one); ignored for NPY, which holds one.  Errors, each naming the
 * file: ND_ERR_NOT_FOUND (no such file, or no tensor of that name: the
 * message lists the names there are), ND_ERR_INVALID_ARG (a directory or
 * other non-file; NULL path or out; several tensors and name NULL),
 * ND_ERR_FORMAT (a file of another kind: "x.png: is a PNG image, expected a
 * safetensors or NPY tensor file"; or a damaged file: the parser's message),
 * ND_ERR_IO. */
ND_API nd_status nd_tensor_file_read(const char *path, const char *name, nd_array *out);
/* The same, converted to float32 into a freshly allocated tensor (release
 * with nd_tensor_release). */
ND_API nd_status nd_tensor_file_read_f32(const char *path, const char *name, nd_tensor *out);

/* Every tensor of an IDX, NPY, safetensors or PyTorch (.pth) file, in file
 * order.  IDX files hold one tensor named "data", NPY files one named after
 * the file's stem; a .pth checkpoint its state_dict's keys (see nd_pth_parse). */
typedef struct nd_tensor_file {
  nd_file_format format; /* ND_FILE_IDX (also for gzip), ND_FILE_NPY, ND_FILE_SAFETENSORS or ND_FILE_ZIP (.pth) */
  int n;
  char **names;    /* [n] */
  nd_array *arrays; /* [n] */
  int n_meta;      /* safetensors metadata: n_meta key/value pairs */
  char **meta;     /* key0, value0, key1, value1, ..., NULL (NULL when n_meta = 0) */
} nd_tensor_file;

/* Reads path: its format by content, else by name (see above).  A file of
 * another kind is ND_ERR_FORMAT "x: is a PNG image, expected an IDX, NPY or
 * safetensors file"; other errors as nd_tensor_file_read. */
ND_API nd_status nd_tensor_file_load(const char *path, nd_tensor_file *out);
/* The in-memory twin of nd_tensor_file_load: len bytes at buf, name (the
 * file's name: its extension counts, and messages use it). */
ND_API nd_status nd_tensor_file_parse(const void *buf, size_t len, const char *name, nd_tensor_file *out);
/* A PyTorch checkpoint: the zip archive torch.save writes (PyTorch >= 1.6)
 * of a state_dict (a dict or OrderedDict of str -> tensor), read through
 * libzip and a minimal pickle reader that runs nothing: only the opcodes and
 * globals a state_dict needs (collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.*Storage) are
 * understood, anything else is ND_ERR_UNSUPPORTED or ND_ERR_FORMAT naming it
 * (docs/pth.md).  Tensors keep their storage's dtype (f16, bf16, f32, f64,
 * integers, bool) and come out contiguous, whatever their strides and
 * storage offsets; tensors sharing a storage each get their own copy.  A view
 * reaching past its storage, or a storage entry shorter than the pickle says,
 * is ND_ERR_FORMAT.  Names are the state_dict's keys, in its order. */
ND_API nd_status nd_pth_parse(const void *buf, size_t len, const char *name, nd_tensor_file *out);
ND_API nd_status nd_pth_read(const char *path, nd_tensor_file *out);
/* Frees what nd_tensor_file_load allocated and zeroes *t.  NULL is fine. */
ND_API void nd_tensor_file_release(nd_tensor_file *t);

#ifdef __cplusplus
}
#endif
#endif
