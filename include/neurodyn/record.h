/* Recording a model's state over time into a run directory, in the chunked
 * format a viewer streams (docs/record.md).
 *
 * RUN_DIR/record/ holds one index.json and, per stream, NPY chunk files
 * "<name>_<chunk>.npy" of shape [frames] + frame_shape (NPY 1.0,
 * little-endian float32, or uint8 for a raster stream, C order), plus
 * "<name>_positions.npy" (N x 3 float32) for a stream with node positions.
 * A chunk is written under a temporary name and renamed; index.json is
 * rewritten the same way after every chunk, so a reader polling it only ever
 * sees complete chunks.
 *
 *   nd_recorder *r;
 *   nd_recorder_open("runs/a", 0, &r);
 *   nd_record_stream *s;
 *   nd_record_stream_spec spec = nd_record_stream_defaults("codes", ND_RECORD_VECTOR, 1, ND_SHAPE(256));
 *   nd_recorder_stream(r, &spec, &s);
 *   for (t = 0; t < T; t++) nd_recorder_push(s, state);   // one frame
 *   nd_recorder_close(r);                                   // last chunk, final index
 */
#ifndef NEURODYN_RECORD_H
#define NEURODYN_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "neurodyn/core.h"
#include "neurodyn/io.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_RECORD_VERSION 1
#define ND_RECORD_MAX_DIMS 3      /* of one frame: map2d and image C x H x W */
#define ND_RECORD_NAME_MAX 64     /* stream names: [A-Za-z0-9_.-]+, at most this many characters */
#define ND_RECORD_CHUNK_FRAMES 64 /* default frames per chunk */
/* A stream buffers at most this many bytes: a chunk of large frames (a
 * Krotov weight matrix per epoch) holds fewer frames than chunk_frames, and
 * one frame may not be larger. */
#define ND_RECORD_CHUNK_MAX_BYTES ((int64_t)64 << 20)

typedef enum nd_record_kind {
  ND_RECORD_GRID3D = 0, /* N values, one per node; positions N x 3 */
  ND_RECORD_MAP2D,      /* C x H x W heat maps */
  ND_RECORD_VECTOR,     /* N values */
  ND_RECORD_RASTER,     /* N values in {0, 1}: spikes at that step */
  ND_RECORD_IMAGE,      /* H x W or C x H x W */
  ND_RECORD_KIND_COUNT_
} nd_record_kind;

/* "grid3d", "map2d", "vector", "raster", "image" (NULL for a bad kind) and
 * back (-1 for an unknown name). */
ND_API const char *nd_record_kind_name(nd_record_kind k);
ND_API int nd_record_kind_parse(const char *name);

/* ------------------------------------------------------------ writer */

typedef struct nd_record_stream_spec {
  const char *name;                          /* [A-Za-z0-9_.-]+, unique in the run */
  nd_record_kind kind;
  int ndim;                                  /* of one frame: 1 (grid3d, vector, raster), 3 (map2d), 2 or 3 (image) */
  int64_t frame_shape[ND_RECORD_MAX_DIMS];
  bool uint8;                                /* raster only: frames stored as uint8 0/1 */
  const char *time_unit;                     /* "step" (default), "ms" or "epoch" */
  double dt;                                 /* > 0, default 1 */
  const float *positions;                    /* NULL or N x 3 (N = frame size; grid3d only) */
  const char *labels_json;                   /* NULL or the text of a JSON object */
  int chunk_frames;                          /* 0: ND_RECORD_CHUNK_FRAMES */
} nd_record_stream_spec;

/* A spec with the defaults: time_unit "step", dt 1, no positions or labels. */
ND_API nd_record_stream_spec nd_record_stream_defaults(const char *name, nd_record_kind kind, int ndim,
                                                       const int64_t *frame_shape);

typedef struct nd_recorder nd_recorder;
typedef struct nd_record_stream nd_record_stream;

/* ND_RECORD_APPEND: keep the streams an existing RUN_DIR/record/index.json
 * lists (a resumed run); a stream declared again with the same name must
 * have the same kind, shape and dtype and continues after its last frame.
 * Without it an existing index is replaced and the chunk files it lists are
 * removed. */
#define ND_RECORD_APPEND 1u

/* Creates RUN_DIR/record/ (and RUN_DIR) when absent. */
ND_API nd_status nd_recorder_open(const char *run_dir, unsigned flags, nd_recorder **out);
/* Declares a stream (ND_ERR_INVALID_ARG naming the field), writes its
 * positions file and the index.  The stream belongs to the recorder. */
ND_API nd_status nd_recorder_stream(nd_recorder *r, const nd_record_stream_spec *spec, nd_record_stream **out);
/* Appends one frame (frame_size floats, C order); a full chunk is written
 * and the index rewritten.  Non-finite values are stored as they are. */
ND_API nd_status nd_recorder_push(nd_record_stream *s, const float *frame);
/* Frames pushed to s so far (-1 for NULL). */
ND_API int64_t nd_record_stream_frames(const nd_record_stream *s);
/* Writes every stream's partial chunk as a (shorter) chunk of its own and
 * rewrites the index: what a live viewer sees after an epoch. */
ND_API nd_status nd_recorder_flush(nd_recorder *r);
/* Flushes and frees (NULL is fine); returns the first failure. */
ND_API nd_status nd_recorder_close(nd_recorder *r);
/* "<run_dir>/record" (NULL for NULL). */
ND_API const char *nd_recorder_dir(const nd_recorder *r);

/* ------------------------------------------------------------ reader */

typedef struct nd_record_chunk {
  char *file;     /* a plain file name in the record directory */
  int64_t t0;     /* index of its first frame */
  int64_t frames; /* >= 1 */
} nd_record_chunk;

typedef struct nd_record_stream_info {
  char *name;
  nd_record_kind kind;
  int ndim;
  int64_t frame_shape[ND_RECORD_MAX_DIMS];
  int64_t frame_size;  /* product of frame_shape */
  nd_dtype dtype;      /* ND_DTYPE_F32, or ND_DTYPE_U8 (raster) */
  char time_unit[8];   /* "step", "ms" or "epoch" */
  double dt;
  char *positions;     /* NULL or a file name in the record directory */
  char *labels_json;   /* NULL or the labels object, printed unformatted */
  int nchunks;
  nd_record_chunk *chunks;
  int64_t frames;      /* sum of the chunks' frames */
} nd_record_stream_info;

typedef struct nd_record_index {
  int version;
  int nstreams;
  nd_record_stream_info *streams;
} nd_record_index;

/* Reads and validates an index.json: format and version, every stream's
 * name (pattern, unique), kind, frame_shape (rank for the kind, positive
 * sizes, bounded), dtype, time_unit, dt, positions and chunk file names
 * (plain names, no directory, ending in .npy), chunks contiguous from t0 0.
 * Unknown keys are ignored.  ND_ERR_FORMAT naming the file, the stream and
 * the field; *out is zeroed on failure. */
ND_API nd_status nd_record_index_parse(const void *buf, size_t len, const char *name, nd_record_index *out);
ND_API nd_status nd_record_index_read(const char *path, nd_record_index *out);
ND_API void nd_record_index_release(nd_record_index *ix);
/* The stream called name, or NULL. */
ND_API const nd_record_stream_info *nd_record_index_find(const nd_record_index *ix, const char *name);

/* Reads chunk i of stream s from record_dir as float32 (uint8 widened) and
 * checks its shape against the index: [frames] + frame_shape. */
ND_API nd_status nd_record_chunk_read(const char *record_dir, const nd_record_stream_info *s, int i, nd_array *out);

#ifdef __cplusplus
}
#endif

#endif
