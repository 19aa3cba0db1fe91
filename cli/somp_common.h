/* What `neurodyn train somp` and `neurodyn run somp` share (docs/somp.md):
 * the network description (net.json, its schema in docs/somp.md), the
 * sequence tasks (Mackey-Glass next-step prediction, next-character
 * prediction on a text file), minibatches of windows, one training step of
 * the blend and the evaluation on a split. */
#ifndef NEURODYN_CLI_SOMP_COMMON_H
#define NEURODYN_CLI_SOMP_COMMON_H

#include <stdint.h>

#include "neurodyn/neurodyn.h"

#define SOMP_CLI_MAX_CELLS 16
#define SOMP_CLI_MAX_RULES 32
#define SOMP_CLI_MAX_CONN 16
#define SOMP_DEFAULT_CORPUS "/usr/share/common-licenses/GPL-3"

typedef enum { SOMP_TASK_MACKEY_GLASS = 0, SOMP_TASK_TEXT = 1 } somp_task_kind;
typedef enum { SOMP_TRAIN = 0, SOMP_VAL = 1, SOMP_TEST = 2 } somp_split;

typedef struct somp_task {
  somp_task_kind kind;
  int64_t T, washout, batch, steps, val_windows;
  char path[1024];
  /* data */
  float *series;           /* mackey-glass, standardised */
  uint8_t *text;           /* text: symbol indices */
  int64_t n, split[3][2];  /* [begin, end) of each split */
  int vocab;
  int64_t features, outputs;
} somp_task;

typedef struct somp_spec {
  int n_cells;
  nd_somp_cell_config cells[SOMP_CLI_MAX_CELLS];
  int n_conn[SOMP_CLI_MAX_CELLS];
  char conn[SOMP_CLI_MAX_CELLS][SOMP_CLI_MAX_CONN][ND_SOMP_NAME_MAX];
  /* the first training epoch (0-based) in which the cell reads that input:
   * 0, or later for "x", which then grows the cell's weights on first sight */
  int64_t conn_from[SOMP_CLI_MAX_CELLS][SOMP_CLI_MAX_CONN];
  int n_rules;
  nd_somp_rule_config rules[SOMP_CLI_MAX_RULES];
  char readout[ND_SOMP_NAME_MAX];
  somp_task task;
  nd_somp_learn learn;
  bool supervised;
  int64_t epochs;
} somp_spec;

/* Reads and checks net.json; on a bad file prints "<prog>: <path>: <key>: why"
 * and returns 2; 1 when out of memory; 0 on success. */
int somp_spec_read(const char *prog, const char *path, somp_spec *s);
/* The same on text already read (len bytes at buf; path names it in messages). */
int somp_spec_parse(const char *prog, const char *path, const char *buf, size_t len, somp_spec *s);
/* Defaults for a spec built in code (one dense cell "c" reading x and itself). */
void somp_spec_default(somp_spec *s);

/* Loads / generates the task's data (text: the file at path). */
nd_status somp_task_load(somp_task *t);
void somp_task_free(somp_task *t);

typedef struct somp_model {
  const somp_spec *spec;
  nd_somp_net *net;
  nd_somp_readout *ro;
  int ro_cell;
  int64_t epoch; /* the training epoch now running (inputs with from_epoch) */
  int64_t cap;
  float *x, *tgt, *dy;
  int32_t *lab;
  int64_t *starts;
} somp_model;

nd_status somp_model_build(somp_model *m, const somp_spec *s, uint64_t seed);
void somp_model_free(somp_model *m);
/* One minibatch of windows starting at starts[0..B): forward (rules on if
 * the spec's learn.plastic), readout loss, BPTT if supervised, the blended
 * step, the readout's step. */
nd_status somp_train_batch(somp_model *m, int64_t B, const int64_t *starts, double *loss);
/* Random window starts of the train split for minibatch `index`. */
void somp_draw_starts(const somp_task *t, uint64_t seed, uint64_t index, int64_t B, int64_t *starts);
/* Loss over val_windows fixed windows of a split (noise off, rules off):
 * loss (MSE or CE in nats), metric (NRMSE or bits per character). */
nd_status somp_evaluate(somp_model *m, somp_split split, double *loss, double *metric);

#endif
