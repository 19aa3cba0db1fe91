/* --record and --record-every: a command's recorded states into
 * RUN_DIR/record/ (include/neurodyn/record.h, docs/record.md), shared by
 * every command that records. */
#ifndef NEURODYN_CLI_RECORD_H
#define NEURODYN_CLI_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "neurodyn/record.h"

typedef struct nd_cli_record {
  bool on;           /* --record (or --record-dir given) */
  const char *dir;   /* --record-dir DIR: commands without a run directory */
  int64_t every;     /* --record-every K: one frame every K steps / iterations / epochs */
  nd_recorder *rec;  /* open between nd_cli_record_open and _close */
} nd_cli_record;

/* The two options; what: "the node activities", unit: "steps", every_def:
 * the default K as text. */
#define ND_OPT_RECORD(r, what, unit, every_def)                                                                       \
  {"record", ND_OPT_BOOL, &(r)->on, "false", "record " what " into OUT/record/ for neurodyn report (docs/record.md)", \
   NULL},                                                                                                             \
  {"record-every", ND_OPT_INT64, &(r)->every, every_def, "with --record: one frame every K " unit, NULL}

/* The same for a command that writes files, not a run directory: --record-dir DIR. */
#define ND_OPT_RECORD_DIR(r, what, unit, every_def)                                                                 \
  {"record-dir", ND_OPT_STRING, &(r)->dir, NULL, "record " what " into DIR/record/ for neurodyn report (docs/record.md)", \
   NULL},                                                                                                           \
  {"record-every", ND_OPT_INT64, &(r)->every, every_def, "with --record-dir: one frame every K " unit, NULL}

/* --record-every >= 1 (ND_ERR_INVALID_ARG naming it). */
nd_status nd_cli_record_check(const nd_cli_record *r);
/* With --record: opens DIR/record/ (appending to it when append, for a
 * resumed run); with --record-dir, that directory (dir is then ignored).
 * Without either: nothing. */
nd_status nd_cli_record_open(nd_cli_record *r, const char *dir, bool append);
/* Declares a stream whose frames are K = every base steps of base_dt apart;
 * *out is NULL without --record.  labels: NULL or a JSON object's text. */
nd_status nd_cli_record_stream(nd_cli_record *r, const char *name, nd_record_kind kind, int ndim, const int64_t *shape,
                               const char *time_unit, double base_dt, const char *labels, nd_record_stream **out);
/* A grid3d stream with positions (N x 3). */
nd_status nd_cli_record_grid(nd_cli_record *r, const char *name, int64_t n, const float *positions,
                             const char *time_unit, double base_dt, const char *labels, nd_record_stream **out);
/* True when step t (0-based) is one that is kept: t % every == 0. */
bool nd_cli_record_due(const nd_cli_record *r, int64_t t);
/* Pushes frame into s when s is not NULL and step t is due. */
nd_status nd_cli_record_push(const nd_cli_record *r, nd_record_stream *s, int64_t t, const float *frame);
/* Partial chunks now (a live viewer sees them); nothing without --record. */
nd_status nd_cli_record_flush(nd_cli_record *r);
/* Closes (NULL recorder is fine); returns the first failure. */
nd_status nd_cli_record_close(nd_cli_record *r);

#endif
