/* The command registry of the `neurodyn` program.
 *
 * Every command is int nd_cli_<name>(int argc, char **argv) with argv[0]
 * the command's name, returning the exit code: 0 success, 1 the machine
 * failed (out of memory, a write failed), 2 bad input or usage, 130
 * interrupted (Ctrl-C, checkpoint written).  Top-level commands are listed
 * in main.c; `train <model>` and `eval` dispatch through the tables of
 * registry.c, where a new family adds one row per command (and its CLI file,
 * e.g. cli/krotov_train.c). */
#ifndef NEURODYN_CLI_COMMANDS_H
#define NEURODYN_CLI_COMMANDS_H

#include "neurodyn/neurodyn.h"

typedef struct nd_cli_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} nd_cli_command;

/* `eval` of a saved model: predictions [test->n] and the model's number of
 * classes, from a checkpoint whose "model" entry is `model`. */
typedef struct nd_cli_scorer {
  const char *model;
  nd_status (*predict)(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred);
} nd_cli_scorer;

extern const nd_cli_command nd_cli_train_models[]; /* NULL-name ended */
extern const nd_cli_command nd_cli_run_models[];   /* `run <model>`, NULL-name ended */
extern const nd_cli_command nd_cli_analyze_models[]; /* `analyze <model>`, NULL-name ended */
extern const nd_cli_scorer nd_cli_scorers[];      /* NULL-model ended */

/* top-level commands */
int nd_cli_data(int argc, char **argv);
int nd_cli_inspect(int argc, char **argv);
int nd_cli_convert(int argc, char **argv);
int nd_cli_demo(int argc, char **argv);
int nd_cli_train(int argc, char **argv);
int nd_cli_eval(int argc, char **argv);
int nd_cli_run(int argc, char **argv);
int nd_cli_analyze(int argc, char **argv);
int nd_cli_report(int argc, char **argv); /* cmd_report.c */
int nd_cli_serve(int argc, char **argv);  /* serve.c */
int nd_cli_analyze_cordsnet(int argc, char **argv); /* cordsnet_analyze.c */

/* train <model>, per family file */
int nd_cli_train_krotov(int argc, char **argv);      /* krotov_train.c */
int nd_cli_train_krotov_top(int argc, char **argv);  /* krotov_top.c */
int nd_cli_train_mlp_baseline(int argc, char **argv); /* mlp_baseline.c */
int nd_cli_train_mlp(int argc, char **argv);          /* mlp_train.c */
int nd_cli_train_grid3d(int argc, char **argv);       /* grid3d_train.c */
int nd_cli_train_esn(int argc, char **argv);          /* esn_train.c */
int nd_cli_train_lca(int argc, char **argv);          /* lca_train.c */
int nd_cli_train_hlca(int argc, char **argv);         /* hlca_train.c */
int nd_cli_train_ngrc(int argc, char **argv);         /* ngrc_train.c */
int nd_cli_train_rnn(int argc, char **argv);          /* rnn_train.c */
int nd_cli_train_snn(int argc, char **argv);          /* snn_train.c */
int nd_cli_train_cordsnet(int argc, char **argv);     /* cordsnet_train.c */
int nd_cli_train_deq(int argc, char **argv);          /* deq_train.c */
int nd_cli_train_ode(int argc, char **argv);          /* ode_train.c */
int nd_cli_train_revnet(int argc, char **argv);       /* revnet_train.c */
int nd_cli_train_somp(int argc, char **argv);         /* somp_train.c */

/* run <model>, per family file */
int nd_cli_run_lca(int argc, char **argv); /* lca_run.c */
int nd_cli_run_snn(int argc, char **argv); /* snn_run.c */
int nd_cli_run_cordsnet(int argc, char **argv); /* cordsnet_run.c */
int nd_cli_run_somp(int argc, char **argv); /* somp_run.c */
/* run lca --conv (lca_conv.c), called by lca_run.c with its checked config:
 * --dict filters, --input images, --out codes, --kernel / --stride / --pad
 * as "N" or "NxM" (kernel NULL: taken from the filters). */
struct nd_cli_record;
typedef struct nd_cli_lca_conv_opts {
  const char *prog, *dict, *input, *out, *kernel, *stride, *pad;
  struct nd_cli_record *record; /* --record-dir */
} nd_cli_lca_conv_opts;
/* run lca --record-dir: the codes and potentials of a solve, one frame per
 * --record-every iterations, as streams "codes" and "potentials" of the
 * given kind and frame shape (frame_size floats from the start of A and U),
 * into the recorder already open (train lca) or one opened on --record-dir.
 * lca_run.c; the observer to hand to nd_lca(_conv)_set_observer. */
typedef struct nd_cli_lca_rec {
  struct nd_cli_record *rc;
  void *codes, *potentials; /* nd_record_stream * */
  int64_t frame_size;
  nd_status status;
} nd_cli_lca_rec;
nd_status nd_cli_lca_rec_begin(nd_cli_lca_rec *lr, struct nd_cli_record *rc, int kind, int ndim, const int64_t *shape,
                               const char *labels);
int nd_cli_lca_rec_observer(int64_t iter, const float *a, const float *u, int64_t batch, void *user);
/* Closes the recording; returns the first failure (also the observer's). */
nd_status nd_cli_lca_rec_end(nd_cli_lca_rec *lr);
int nd_cli_lca_conv(const nd_cli_lca_conv_opts *o, const nd_lca_config *c);
int nd_cli_run_wta(int argc, char **argv);     /* circuits_run.c */
int nd_cli_run_lcwta(int argc, char **argv);   /* circuits_run.c */
int nd_cli_run_convwta(int argc, char **argv); /* circuits_run.c */
int nd_cli_run_lcawta(int argc, char **argv);  /* circuits_run.c */

/* eval scorers, per family file */
nd_status nd_cli_predict_krotov_top(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred);
nd_status nd_cli_predict_mlp(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred);
nd_status nd_cli_predict_grid3d(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred);

/* W [hidden, visible] from a tensor file: tensor "W" of a safetensors file,
 * or the array of an NPY file; 2-D and finite (datasets.c). */
nd_status nd_cli_read_weights(const char *path, nd_tensor *w);

#endif
