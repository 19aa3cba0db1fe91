/* Test driver for tests/python/test_record_numpy.py.
 *
 *   record_tool write RUN_DIR   a recording of every kind, values
 *                               ((31 t + 7 i) mod 101) / 8 for frame t, element i
 *                               (rasters: that mod 2), chunks of 5 frames
 *   record_tool read RUN_DIR    for each stream of RUN_DIR/record/index.json one
 *                               line "name kind frames sum", the sum of every
 *                               chunk's values read through nd_record_chunk_read
 * Exit 0 on success, 1 with the library's message otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/record.h"

static int fail(const char *what) {
  fprintf(stderr, "record_tool: %s: %s\n", what, nd_last_error());
  return 1;
}

static float value(int t, int i) { return (float)((31 * t + 7 * i) % 101) / 8.0f; }

static int write_run(const char *run) {
  nd_recorder *r;
  if (nd_recorder_open(run, 0, &r) != ND_OK) return fail("open");
  struct {
    const char *name;
    nd_record_kind kind;
    int ndim;
    int64_t shape[3];
    int frames;
  } sp[] = {
      {"vec", ND_RECORD_VECTOR, 1, {7}, 12},     {"spikes", ND_RECORD_RASTER, 1, {9}, 11},
      {"grid", ND_RECORD_GRID3D, 1, {6}, 5},     {"area.1", ND_RECORD_MAP2D, 3, {2, 3, 4}, 7},
      {"w-img", ND_RECORD_IMAGE, 2, {4, 5}, 3},
  };
  float pos[6 * 3], frame[64];
  for (int i = 0; i < 18; i++) pos[i] = (float)i - 3.5f;
  for (size_t k = 0; k < sizeof sp / sizeof *sp; k++) {
    nd_record_stream_spec s = nd_record_stream_defaults(sp[k].name, sp[k].kind, sp[k].ndim, sp[k].shape);
    s.chunk_frames = 5;
    if (sp[k].kind == ND_RECORD_RASTER) s.uint8 = true, s.time_unit = "ms", s.dt = 0.25;
    if (sp[k].kind == ND_RECORD_GRID3D) s.positions = pos;
    if (sp[k].kind == ND_RECORD_IMAGE) s.time_unit = "epoch", s.labels_json = "{\"model\": \"krotov\"}";
    nd_record_stream *st;
    if (nd_recorder_stream(r, &s, &st) != ND_OK) return fail(sp[k].name);
    int64_t n = sp[k].shape[0] * (sp[k].ndim > 1 ? sp[k].shape[1] : 1) * (sp[k].ndim > 2 ? sp[k].shape[2] : 1);
    for (int t = 0; t < sp[k].frames; t++) {
      for (int i = 0; i < n; i++)
        frame[i] = sp[k].kind == ND_RECORD_RASTER ? (float)((31 * t + 7 * i) % 101 % 2) : value(t, i);
      if (nd_recorder_push(st, frame) != ND_OK) return fail("push");
    }
  }
  return nd_recorder_close(r) == ND_OK ? 0 : fail("close");
}

static int read_run(const char *run) {
  char path[4200], dir[4096];
  snprintf(dir, sizeof dir, "%s/record", run);
  snprintf(path, sizeof path, "%s/index.json", dir);
  nd_record_index ix;
  if (nd_record_index_read(path, &ix) != ND_OK) return fail("index");
  for (int k = 0; k < ix.nstreams; k++) {
    const nd_record_stream_info *s = &ix.streams[k];
    double sum = 0;
    for (int c = 0; c < s->nchunks; c++) {
      nd_array a;
      if (nd_record_chunk_read(dir, s, c, &a) != ND_OK) return fail("chunk");
      for (int64_t i = 0; i < a.numel; i++)
        sum += a.dtype == ND_DTYPE_U8 ? ((unsigned char *)a.data)[i] : ((float *)a.data)[i];
      nd_array_release(&a);
    }
    printf("%s %s %lld %.6f\n", s->name, nd_record_kind_name(s->kind), (long long)s->frames, sum);
  }
  nd_record_index_release(&ix);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: record_tool write|read RUN_DIR\n");
    return 2;
  }
  if (strcmp(argv[1], "write") == 0) return write_run(argv[2]);
  if (strcmp(argv[1], "read") == 0) return read_run(argv[2]);
  fprintf(stderr, "record_tool: unknown command %s\n", argv[1]);
  return 2;
}
