/* Recorded states (src/io/record.c): a recording written and read back
 * chunk by chunk, the index visible after each chunk, appending after a
 * resume, replacing, write failures leaving only complete chunks, bad specs
 * and bad index files rejected with messages that name the field.  The bytes
 * are checked against NumPy in tests/python/test_record_numpy.py. */
#include "io_test_util.h"

#include "io/io_internal.h"
#include "neurodyn/record.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  io_mkdtemp(dir);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  io_rm_rf(dir);
  return 0;
}

static void rec_path(char *buf, const char *name) { snprintf(buf, 256, "%s/run/record/%s", dir, name); }
static void run_dir(char *buf) { snprintf(buf, 256, "%s/run", dir); }

static void read_index(nd_record_index *ix) {
  char p[256];
  rec_path(p, "index.json");
  nd_assert_ok(nd_record_index_read(p, ix));
}

/* Frame t of a 5-value vector stream. */
static void vec_frame(int t, float *f) {
  for (int i = 0; i < 5; i++) f[i] = (float)(t * 10 + i) + 0.25f;
}

static void test_round_trip(void **state) {
  (void)state;
  char rd[256], p[256];
  run_dir(rd);
  nd_recorder *r;
  nd_assert_ok(nd_recorder_open(rd, 0, &r));
  assert_non_null(strstr(nd_recorder_dir(r), "/run/record"));
  nd_record_stream *vec, *ras, *grid, *map;
  nd_record_stream_spec sv = nd_record_stream_defaults("codes", ND_RECORD_VECTOR, 1, ND_SHAPE(5));
  sv.chunk_frames = 4;
  sv.labels_json = "{\"model\": \"lca\", \"layer\": 1}";
  nd_assert_ok(nd_recorder_stream(r, &sv, &vec));
  nd_record_stream_spec sr = nd_record_stream_defaults("spikes", ND_RECORD_RASTER, 1, ND_SHAPE(3));
  sr.uint8 = true;
  sr.time_unit = "ms";
  sr.dt = 0.5;
  nd_assert_ok(nd_recorder_stream(r, &sr, &ras));
  float pos[4 * 3];
  for (int i = 0; i < 12; i++) pos[i] = (float)i * 0.5f;
  nd_record_stream_spec sg = nd_record_stream_defaults("grid", ND_RECORD_GRID3D, 1, ND_SHAPE(4));
  sg.positions = pos;
  nd_assert_ok(nd_recorder_stream(r, &sg, &grid));
  nd_record_stream_spec sm = nd_record_stream_defaults("area1", ND_RECORD_MAP2D, 3, ND_SHAPE(2, 3, 2));
  sm.time_unit = "epoch";
  nd_assert_ok(nd_recorder_stream(r, &sm, &map));

  float f[12];
  for (int t = 0; t < 10; t++) {
    vec_frame(t, f);
    nd_assert_ok(nd_recorder_push(vec, f));
    /* the index lists a chunk as soon as it is complete */
    if (t == 3) {
      nd_record_index ix;
      read_index(&ix);
      const nd_record_stream_info *s = nd_record_index_find(&ix, "codes");
      assert_non_null(s);
      assert_int_equal(s->nchunks, 1);
      assert_int_equal(s->frames, 4);
      nd_record_index_release(&ix);
    }
  }
  for (int t = 0; t < 7; t++) {
    float sp[3] = {(float)(t % 2), 0.0f, t == 3 ? 2.5f : 0.0f};
    nd_assert_ok(nd_recorder_push(ras, sp));
  }
  for (int i = 0; i < 4; i++) f[i] = (float)-i;
  nd_assert_ok(nd_recorder_push(grid, f));
  for (int i = 0; i < 12; i++) f[i] = (float)i / 4.0f;
  nd_assert_ok(nd_recorder_push(map, f));
  nd_assert_ok(nd_recorder_push(map, f));
  assert_int_equal(nd_record_stream_frames(vec), 10);
  nd_assert_ok(nd_recorder_close(r));

  nd_record_index ix;
  read_index(&ix);
  assert_int_equal(ix.version, 1);
  assert_int_equal(ix.nstreams, 4);
  const nd_record_stream_info *s = nd_record_index_find(&ix, "codes");
  assert_non_null(s);
  assert_int_equal(s->kind, ND_RECORD_VECTOR);
  assert_int_equal(s->nchunks, 3);
  assert_int_equal(s->frames, 10);
  assert_int_equal(s->chunks[2].t0, 8);
  assert_int_equal(s->chunks[2].frames, 2);
  assert_string_equal(s->chunks[1].file, "codes_000001.npy");
  assert_non_null(strstr(s->labels_json, "\"model\":\"lca\""));
  char rdir[256];
  snprintf(rdir, sizeof rdir, "%s/run/record", dir);
  for (int c = 0; c < s->nchunks; c++) {
    nd_array a;
    nd_assert_ok(nd_record_chunk_read(rdir, s, c, &a));
    assert_int_equal(a.dtype, ND_DTYPE_F32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[1], 5);
    for (int64_t k = 0; k < a.shape[0]; k++) {
      vec_frame((int)(s->chunks[c].t0 + k), f);
      assert_memory_equal((float *)a.data + k * 5, f, 5 * sizeof(float));
    }
    nd_array_release(&a);
  }
  s = nd_record_index_find(&ix, "spikes");
  assert_int_equal(s->dtype, ND_DTYPE_U8);
  assert_string_equal(s->time_unit, "ms");
  assert_true(s->dt == 0.5);
  nd_array a;
  nd_assert_ok(nd_record_chunk_read(rdir, s, 0, &a));
  assert_int_equal(a.dtype, ND_DTYPE_U8);
  assert_int_equal(a.shape[0], 7);
  const unsigned char *u = a.data;
  assert_int_equal(u[3 * 3 + 2], 1); /* any non-zero is a spike */
  assert_int_equal(u[1 * 3 + 0], 1);
  assert_int_equal(u[2 * 3 + 0], 0);
  nd_array_release(&a);
  s = nd_record_index_find(&ix, "grid");
  assert_string_equal(s->positions, "grid_positions.npy");
  rec_path(p, "grid_positions.npy");
  nd_tensor pt;
  nd_assert_ok(nd_npy_read(p, &pt));
  assert_int_equal(pt.ndim, 2);
  assert_int_equal(pt.shape[0], 4);
  assert_int_equal(pt.shape[1], 3);
  assert_memory_equal(pt.data, pos, sizeof pos);
  nd_tensor_release(&pt);
  s = nd_record_index_find(&ix, "area1");
  assert_int_equal(s->ndim, 3);
  assert_int_equal(s->frame_size, 12);
  assert_int_equal(s->frames, 2);
  assert_null(nd_record_index_find(&ix, "absent"));
  /* nothing temporary left */
  int tmp;
  snprintf(p, sizeof p, "%s/run/record", dir);
  assert_int_equal(io_count_entries(p, &tmp), 1 + 3 + 1 + 1 + 1 + 1);
  assert_int_equal(tmp, 0);
  /* a chunk whose shape differs from the index */
  s = nd_record_index_find(&ix, "codes");
  rec_path(p, "codes_000002.npy");
  nd_tensor *bad = nd_test_tensor(2, ND_SHAPE(3, 5));
  nd_assert_ok(nd_npy_write(p, bad));
  nd_tensor_free(bad);
  io_assert_error(nd_record_chunk_read(rdir, s, 2, &a), ND_ERR_FORMAT, "3x5", "2x5");
  assert_null(a.data);
  io_assert_error(nd_record_chunk_read(rdir, s, 3, &a), ND_ERR_INVALID_ARG, "3 chunks", "chunk 3");
  nd_record_index_release(&ix);
  nd_record_index_release(&ix); /* twice is fine */
  io_rm_rf(rd);
}

static void test_append_and_replace(void **state) {
  (void)state;
  char rd[256], p[256];
  run_dir(rd);
  nd_recorder *r;
  nd_record_stream *vec;
  nd_record_stream_spec sv = nd_record_stream_defaults("codes", ND_RECORD_VECTOR, 1, ND_SHAPE(5));
  sv.chunk_frames = 4;
  float f[5];
  nd_assert_ok(nd_recorder_open(rd, 0, &r));
  nd_assert_ok(nd_recorder_stream(r, &sv, &vec));
  for (int t = 0; t < 6; t++) {
    vec_frame(t, f);
    nd_assert_ok(nd_recorder_push(vec, f));
  }
  nd_assert_ok(nd_recorder_close(r));
  /* a resumed run continues the stream; another stream of the old run stays listed */
  nd_assert_ok(nd_recorder_open(rd, ND_RECORD_APPEND, &r));
  nd_record_stream_spec wrong = nd_record_stream_defaults("codes", ND_RECORD_VECTOR, 1, ND_SHAPE(6));
  io_assert_error(nd_recorder_stream(r, &wrong, &vec), ND_ERR_INVALID_ARG, "codes", "frame shape");
  assert_null(vec);
  nd_assert_ok(nd_recorder_stream(r, &sv, &vec));
  io_assert_error(nd_recorder_stream(r, &sv, &vec), ND_ERR_INVALID_ARG, "codes", "twice");
  assert_null(vec);
  /* vec is NULL after the failed call: declare it through a fresh recorder */
  nd_assert_ok(nd_recorder_close(r));
  nd_assert_ok(nd_recorder_open(rd, ND_RECORD_APPEND, &r));
  nd_assert_ok(nd_recorder_stream(r, &sv, &vec));
  assert_int_equal(nd_record_stream_frames(vec), 6);
  for (int t = 6; t < 9; t++) {
    vec_frame(t, f);
    nd_assert_ok(nd_recorder_push(vec, f));
  }
  nd_assert_ok(nd_recorder_close(r));
  nd_record_index ix;
  read_index(&ix);
  const nd_record_stream_info *s = nd_record_index_find(&ix, "codes");
  assert_int_equal(s->nchunks, 3);
  assert_int_equal(s->frames, 9);
  assert_int_equal(s->chunks[2].t0, 6);
  assert_int_equal(s->chunks[2].frames, 3);
  char rdir[256];
  snprintf(rdir, sizeof rdir, "%s/run/record", dir);
  nd_array a;
  nd_assert_ok(nd_record_chunk_read(rdir, s, 2, &a));
  vec_frame(6, f);
  assert_memory_equal(a.data, f, sizeof f);
  nd_array_release(&a);
  nd_record_index_release(&ix);
  /* a fresh recording replaces the index and removes the chunks it listed */
  nd_assert_ok(nd_recorder_open(rd, 0, &r));
  nd_assert_ok(nd_recorder_close(r));
  read_index(&ix);
  assert_int_equal(ix.nstreams, 0);
  nd_record_index_release(&ix);
  rec_path(p, "codes_000000.npy");
  assert_false(io_exists(p));
  io_rm_rf(rd);
}

static void test_write_failure(void **state) {
  (void)state;
  char rd[256], p[256];
  run_dir(rd);
  nd_recorder *r;
  nd_record_stream *vec;
  nd_record_stream_spec sv = nd_record_stream_defaults("codes", ND_RECORD_VECTOR, 1, ND_SHAPE(5));
  sv.chunk_frames = 2;
  float f[5] = {0};
  nd_assert_ok(nd_recorder_open(rd, 0, &r));
  nd_assert_ok(nd_recorder_stream(r, &sv, &vec));
  nd_assert_ok(nd_recorder_push(vec, f));
  nd_assert_ok(nd_recorder_push(vec, f));
  nd__io_fail_after_bytes = 20; /* the next chunk's header fails */
  nd_assert_ok(nd_recorder_push(vec, f));
  io_assert_error(nd_recorder_push(vec, f), ND_ERR_IO, "codes_000001.npy", "simulated");
  /* the full chunk stays buffered: the next push tries it again first */
  io_assert_error(nd_recorder_push(vec, f), ND_ERR_IO, "codes_000001.npy", "simulated");
  nd_record_index ix;
  read_index(&ix);
  assert_int_equal(ix.streams[0].nchunks, 1);
  nd_record_index_release(&ix);
  int tmp;
  snprintf(p, sizeof p, "%s/run/record", dir);
  io_count_entries(p, &tmp);
  assert_int_equal(tmp, 0);
  rec_path(p, "codes_000001.npy");
  assert_false(io_exists(p));
  nd__io_fail_after_bytes = -1;
  nd_assert_ok(nd_recorder_push(vec, f)); /* writes chunk 1, buffers this frame */
  assert_int_equal(nd_recorder_close(r), ND_ERR_IO); /* the first failure */
  read_index(&ix);
  assert_int_equal(ix.streams[0].nchunks, 3);
  assert_int_equal(ix.streams[0].frames, 5);
  nd_record_index_release(&ix);
  io_rm_rf(rd);
}

static void test_bad_specs(void **state) {
  (void)state;
  char rd[256];
  run_dir(rd);
  nd_recorder *r = NULL;
  io_assert_error(nd_recorder_open(NULL, 0, &r), ND_ERR_INVALID_ARG, "empty", NULL);
  io_assert_error(nd_recorder_open(rd, 8, &r), ND_ERR_INVALID_ARG, "flags", NULL);
  assert_null(r);
  nd_assert_ok(nd_recorder_open(rd, 0, &r));
  nd_record_stream *s = NULL;
  float pos[6] = {0};
  struct {
    nd_record_stream_spec spec;
    const char *want;
  } bad[] = {
      {nd_record_stream_defaults("a/b", ND_RECORD_VECTOR, 1, ND_SHAPE(2)), "a/b"},
      {nd_record_stream_defaults("", ND_RECORD_VECTOR, 1, ND_SHAPE(2)), "stream name"},
      {nd_record_stream_defaults("v", ND_RECORD_VECTOR, 2, ND_SHAPE(2, 2)), "1 size"},
      {nd_record_stream_defaults("m", ND_RECORD_MAP2D, 2, ND_SHAPE(2, 2)), "C x H x W"},
      {nd_record_stream_defaults("i", ND_RECORD_IMAGE, 1, ND_SHAPE(2)), "H x W"},
      {nd_record_stream_defaults("z", ND_RECORD_VECTOR, 1, ND_SHAPE(0)), ">= 1"},
      {nd_record_stream_defaults("k", (nd_record_kind)9, 1, ND_SHAPE(2)), "kind 9"},
      {nd_record_stream_defaults("d", ND_RECORD_VECTOR, 4, ND_SHAPE(1, 1, 1, 1)), "ndim 4"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    io_assert_error(nd_recorder_stream(r, &bad[i].spec, &s), ND_ERR_INVALID_ARG, bad[i].want, NULL);
    assert_null(s);
  }
  nd_record_stream_spec sp = nd_record_stream_defaults("v", ND_RECORD_VECTOR, 1, ND_SHAPE(2));
  sp.positions = pos;
  io_assert_error(nd_recorder_stream(r, &sp, &s), ND_ERR_INVALID_ARG, "\"v\"", "grid3d");
  sp = nd_record_stream_defaults("v", ND_RECORD_VECTOR, 1, ND_SHAPE(2));
  sp.uint8 = true;
  io_assert_error(nd_recorder_stream(r, &sp, &s), ND_ERR_INVALID_ARG, "uint8", "raster");
  sp = nd_record_stream_defaults("v", ND_RECORD_VECTOR, 1, ND_SHAPE(2));
  sp.dt = 0;
  io_assert_error(nd_recorder_stream(r, &sp, &s), ND_ERR_INVALID_ARG, "dt", NULL);
  sp.dt = 1;
  sp.time_unit = "hour";
  io_assert_error(nd_recorder_stream(r, &sp, &s), ND_ERR_INVALID_ARG, "hour", NULL);
  sp.time_unit = NULL;
  sp.labels_json = "[1]";
  io_assert_error(nd_recorder_stream(r, &sp, &s), ND_ERR_INVALID_ARG, "labels_json", NULL);
  sp.labels_json = NULL;
  nd_assert_ok(nd_recorder_stream(r, &sp, &s));
  nd_record_stream *s2;
  io_assert_error(nd_recorder_stream(r, &sp, &s2), ND_ERR_INVALID_ARG, "\"v\"", "twice");
  io_assert_error(nd_recorder_push(s, NULL), ND_ERR_INVALID_ARG, "NULL", NULL);
  io_assert_error(nd_recorder_push(NULL, pos), ND_ERR_INVALID_ARG, "NULL", NULL);
  assert_int_equal(nd_record_stream_frames(NULL), -1);
  assert_null(nd_recorder_dir(NULL));
  nd_assert_ok(nd_recorder_close(r));
  nd_assert_ok(nd_recorder_close(NULL));
  assert_string_equal(nd_record_kind_name(ND_RECORD_MAP2D), "map2d");
  assert_null(nd_record_kind_name((nd_record_kind)7));
  assert_int_equal(nd_record_kind_parse("raster"), ND_RECORD_RASTER);
  assert_int_equal(nd_record_kind_parse("movie"), -1);
  /* the run directory's place is taken by a file */
  char p[256];
  snprintf(p, sizeof p, "%s/file", dir);
  io_write_bytes(p, "x", 1);
  io_assert_error(nd_recorder_open(p, 0, &r), ND_ERR_IO, p, "not a directory");
  io_rm_rf(rd);
}

#define HEAD "{\"format\": \"neurodyn-record\", \"version\": 1, \"streams\": ["
#define NODT "{\"name\": \"a\", \"kind\": \"vector\", \"frame_shape\": [3], \"dtype\": \"float32\", " \
             "\"time_unit\": \"step\""
#define GOOD NODT ", \"dt\": 1"
#define CH ", \"chunks\": [{\"file\": \"a_000000.npy\", \"t0\": 0, \"frames\": 2}]}"

static void test_bad_index(void **state) {
  (void)state;
  struct {
    const char *text;
    const char *want1, *want2;
  } bad[] = {
      {"", "not valid JSON", NULL},
      {"[1]", "not a JSON object", NULL},
      {"{\"format\": \"x\", \"version\": 1, \"streams\": []}", "\"format\"", NULL},
      {"{\"format\": \"neurodyn-record\", \"version\": 2, \"streams\": []}", "version 2", NULL},
      {"{\"format\": \"neurodyn-record\", \"version\": 1.5, \"streams\": []}", "\"version\"", NULL},
      {"{\"format\": \"neurodyn-record\", \"version\": 1}", "\"streams\"", NULL},
      {HEAD GOOD CH "]} x", "text after", NULL},
      {HEAD "3]}", "streams[0]", "not an object"},
      {HEAD "{\"name\": \"a b\"}]}", "streams[0]", "\"name\""},
      {HEAD "{\"name\": \"a\", \"kind\": \"movie\"}]}", "\"a\"", "\"kind\""},
      {HEAD "{\"name\": \"a\", \"kind\": \"map2d\", \"frame_shape\": [3]}]}", "\"a\"", "C x H x W"},
      {HEAD "{\"name\": \"a\", \"kind\": \"vector\", \"frame_shape\": [0]}]}", "frame_shape[0]", NULL},
      {HEAD "{\"name\": \"a\", \"kind\": \"vector\", \"frame_shape\": [1,1,1,1]}]}", "4 sizes", NULL},
      {HEAD "{\"name\": \"a\", \"kind\": \"vector\", \"frame_shape\": [3], \"dtype\": \"uint8\"}]}", "dtype",
       "uint8"},
      {HEAD "{\"name\": \"a\", \"kind\": \"vector\", \"frame_shape\": [3], \"dtype\": \"float32\", \"time_unit\": "
            "\"s\"}]}",
       "\"time_unit\"", NULL},
      {HEAD NODT ", \"dt\": -1" CH "]}", "\"dt\"", NULL},
      {HEAD NODT CH "]}", "\"dt\"", NULL},
      {HEAD GOOD "}]}", "\"chunks\"", NULL},
      {HEAD GOOD ", \"positions\": \"p.npy\"" CH "]}", "positions", "grid3d"},
      {HEAD GOOD ", \"labels\": [1]" CH "]}", "\"labels\"", NULL},
      {HEAD GOOD ", \"chunks\": [{\"file\": \"../x.npy\", \"t0\": 0, \"frames\": 2}]}]}", "chunks[0].file", NULL},
      {HEAD GOOD ", \"chunks\": [{\"file\": \"x.bin\", \"t0\": 0, \"frames\": 2}]}]}", "chunks[0].file", NULL},
      {HEAD GOOD ", \"chunks\": [{\"file\": \"x.npy\", \"t0\": 1, \"frames\": 2}]}]}", "chunks[0].t0 is 1",
       "contiguous"},
      {HEAD GOOD ", \"chunks\": [{\"file\": \"x.npy\", \"t0\": 0, \"frames\": 2}, {\"file\": \"y.npy\", \"t0\": 3, "
                 "\"frames\": 2}]}]}",
       "chunks[1].t0 is 3", "expected 2"},
      {HEAD GOOD ", \"chunks\": [{\"file\": \"x.npy\", \"t0\": 0, \"frames\": 0}]}]}", "chunks[0].frames", NULL},
      {HEAD GOOD CH ", " GOOD CH "]}", "streams[1] \"a\"", "streams[0] too"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    nd_record_index ix;
    char name[32];
    snprintf(name, sizeof name, "bad%zu.json", i);
    nd_status s = nd_record_index_parse(bad[i].text, strlen(bad[i].text), name, &ix);
    io_check_error(s, s == ND_ERR_UNSUPPORTED ? ND_ERR_UNSUPPORTED : ND_ERR_FORMAT, bad[i].want1, bad[i].want2,
                   bad[i].text);
    assert_non_null(strstr(nd_last_error(), name));
    assert_int_equal(ix.nstreams, 0);
    assert_null(ix.streams);
  }
  /* a good one with unknown keys (ignored) and a null positions */
  const char *good = HEAD GOOD ", \"positions\": null, \"future\": {\"x\": 1}" CH "], \"extra\": 1}";
  nd_record_index ix;
  nd_assert_ok(nd_record_index_parse(good, strlen(good), "good.json", &ix));
  assert_int_equal(ix.nstreams, 1);
  assert_int_equal(ix.streams[0].frames, 2);
  assert_null(ix.streams[0].positions);
  nd_record_index_release(&ix);
  io_assert_error(nd_record_index_parse("{\0}", 3, "nul.json", &ix), ND_ERR_FORMAT, "NUL", NULL);
  io_assert_error(nd_record_index_parse(NULL, 3, "n.json", &ix), ND_ERR_INVALID_ARG, "NULL", NULL);
  io_assert_error(nd_record_index_parse("{}", 2, "n.json", NULL), ND_ERR_INVALID_ARG, "NULL", NULL);
  char p[256];
  snprintf(p, sizeof p, "%s/absent.json", dir);
  io_assert_error(nd_record_index_read(p, &ix), ND_ERR_NOT_FOUND, p, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_append_and_replace),
      cmocka_unit_test(test_write_failure),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_bad_index),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
