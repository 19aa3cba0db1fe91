/* --record and --record-every (record_cli.h). */
#include "record_cli.h"

#include <string.h>

#include "options.h"

nd_status nd_cli_record_check(const nd_cli_record *r) {
  if (r->dir && !*r->dir) return nd_set_error(ND_ERR_INVALID_ARG, "--record-dir: empty directory name");
  if ((r->on || r->dir) && r->every < 1)
    return nd_set_error(ND_ERR_INVALID_ARG, "--record-every %lld: need >= 1", (long long)r->every);
  return ND_OK;
}

nd_status nd_cli_record_open(nd_cli_record *r, const char *dir, bool append) {
  r->rec = NULL;
  if (r->dir) r->on = true, dir = r->dir;
  if (!r->on) return ND_OK;
  nd_status s = nd_cli_record_check(r);
  if (s == ND_OK && r->dir) s = nd_cli_mkdirs(r->dir);
  if (s == ND_OK) s = nd_recorder_open(dir, append ? ND_RECORD_APPEND : 0, &r->rec);
  return s;
}

static nd_status declare(nd_cli_record *r, nd_record_stream_spec *spec, const char *time_unit, double base_dt,
                         const char *labels, nd_record_stream **out) {
  *out = NULL;
  if (!r->rec) return ND_OK;
  spec->time_unit = time_unit;
  spec->dt = base_dt * (double)r->every;
  spec->labels_json = labels;
  return nd_recorder_stream(r->rec, spec, out);
}

nd_status nd_cli_record_stream(nd_cli_record *r, const char *name, nd_record_kind kind, int ndim, const int64_t *shape,
                               const char *time_unit, double base_dt, const char *labels, nd_record_stream **out) {
  nd_record_stream_spec spec = nd_record_stream_defaults(name, kind, ndim, shape);
  spec.uint8 = kind == ND_RECORD_RASTER;
  return declare(r, &spec, time_unit, base_dt, labels, out);
}

nd_status nd_cli_record_grid(nd_cli_record *r, const char *name, int64_t n, const float *positions,
                             const char *time_unit, double base_dt, const char *labels, nd_record_stream **out) {
  nd_record_stream_spec spec = nd_record_stream_defaults(name, ND_RECORD_GRID3D, 1, &n);
  spec.positions = positions;
  return declare(r, &spec, time_unit, base_dt, labels, out);
}

bool nd_cli_record_due(const nd_cli_record *r, int64_t t) { return r->rec && r->every > 0 && t % r->every == 0; }

nd_status nd_cli_record_push(const nd_cli_record *r, nd_record_stream *s, int64_t t, const float *frame) {
  if (!s || !nd_cli_record_due(r, t)) return ND_OK;
  return nd_recorder_push(s, frame);
}

nd_status nd_cli_record_flush(nd_cli_record *r) { return r->rec ? nd_recorder_flush(r->rec) : ND_OK; }

nd_status nd_cli_record_close(nd_cli_record *r) {
  nd_status s = nd_recorder_close(r->rec);
  r->rec = NULL;
  return s;
}
