/* The run driver: what every `neurodyn train <model>` shares.
 *
 *   nd_run_parse   options, and with --resume DIR the run's own config.json
 *                  underneath the flags; a flag that contradicts it is refused
 *   nd_run_begin   only once the inputs have loaded: the run directory, a lock
 *                  (a second run into it exits 2 naming the holder's PID), stale
 *                  temporaries of killed runs removed, config.json (with the
 *                  commit, host and data checksums), metrics.jsonl
 *   nd_run_loop    the epochs: progress line with the family's live figures,
 *                  one metrics line per epoch, checkpoints every N epochs and at
 *                  the end, --stop-after, Ctrl-C (checkpoint mid-epoch, say how
 *                  to resume, exit 130; a second Ctrl-C kills at once)
 *   nd_run_end     closes and unlocks
 *
 * A family's CLI file fills an nd_trainer with its callbacks and leaves the
 * rest to the driver; cli/train_krotov.c is the example. */
#ifndef NEURODYN_CLI_RUN_H
#define NEURODYN_CLI_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "neurodyn/neurodyn.h"
#include "dist.h"
#include "options.h"

#define ND_RUN_PATH_MAX 4096
#define ND_RUN_MAX_OPTIONS 64

/* Propagate a failing status (the library's ND_TRY is private). */
#define ND_CLI_TRY(expr)                   \
  do {                                     \
    nd_status nd_cli_s_ = (expr);          \
    if (nd_cli_s_ != ND_OK) return nd_cli_s_; \
  } while (0)

typedef struct nd_run {
  const char *cmd;          /* "train krotov": messages say "neurodyn train krotov: ..." */
  const nd_opts *spec;      /* the options, for config.json */
  char dir[ND_RUN_PATH_MAX];
  bool resumed;             /* --resume DIR was given */
  int lock_fd;
  nd_jsonl *metrics;
  double t_start;
  const char *dataset_files[8]; /* data files read, for config.json checksums (NULL-ended) */
  /* Data parallelism (docs/distributed.md).  The family sets `parallel`
   * before nd_run_begin when its trainer can share minibatches across
   * processes (and then hands `comm` to its model); started as several
   * processes, a trainer without it exits 2 (with `why_serial`, if set).
   * Rank 0 alone writes the run directory, metrics and checkpoints and
   * prints progress. */
  bool parallel;
  const char *why_serial;
  nd_comm *comm;            /* set by nd_run_begin: NULL when alone */
  char resume_config[ND_RUN_PATH_MAX];            /* private: --resume's config.json */
  char resume_args[ND_RUN_MAX_OPTIONS][160];      /* private: defaults restored on resume */
} nd_run;

/* Options of a run that --resume leaves free to change; others must agree
 * with the saved config.json. */
#define ND_RUN_FREE_ON_RESUME "resume", "stop-after", "threads", "quiet", "out", "checkpoint-every"

/* Parses argv (argv[0] the command) against spec.  With --resume DIR (the
 * string option named "resume" in spec) the values come from
 * DIR/config.json, then the flags; a flag outside `free_keys`
 * (NULL-terminated) whose value differs from the saved one is refused (exit
 * 2, naming each).  Returns ND_OPTS_CONTINUE, or the exit code. */
int nd_run_parse(nd_run *run, const char *cmd, const nd_opts *spec, int argc, char **argv, nd_args *args,
                 const char *const *free_keys);

/* Creates (or on resume re-opens) dir, locks it, removes stale temporaries,
 * writes config.json (fresh runs) and opens metrics.jsonl (appending on
 * resume).  Returns 0 or the exit code, with the message printed.  Under
 * mpirun / srun: starts MPI (cli/dist.h), rank 0 alone does the above, and
 * every rank returns rank 0's outcome. */
int nd_run_begin(nd_run *run, const char *dir, bool resume);
void nd_run_end(nd_run *run);
/* True on the rank that writes and prints (rank 0, or alone). */
bool nd_run_is_root(const nd_run *run);

/* dir/name into buf (ND_RUN_PATH_MAX); a too-long result is reported and
 * returns false. */
bool nd_run_path(const nd_run *run, const char *name, char *buf);

/* A family's training loop, seen by the driver. */
typedef struct nd_trainer {
  void *self;
  int64_t epochs;            /* the run's length */
  const char *unit;          /* what the progress counts ("batches", "epochs") */
  /* One epoch; progress may stop it part-way (return ND_OK then). */
  nd_status (*epoch)(void *self, nd_progress_fn progress, void *user);
  nd_status (*state)(void *self, nd_train_state *st);
  /* After each completed epoch e (1-based): append to the metrics fields
   * (at most 16), draw figures.  Called on rank 0 only.  May be NULL. */
  nd_status (*after_epoch)(void *self, nd_run *run, int64_t e, nd_jsonl_field *fields, int *n_fields);
  /* Live figures for the progress line (may be NULL). */
  void (*figures)(void *self, char *buf, size_t len);
  /* Writes the checkpoint (atomically) into the run directory (rank 0 only). */
  nd_status (*checkpoint)(void *self, nd_run *run);
  bool resumable;            /* --resume DIR can continue it */
} nd_trainer;

typedef struct nd_run_limits {
  int64_t stop_after;        /* stop after this many epochs of this invocation (0: run to the end) */
  int64_t checkpoint_every;  /* epochs between checkpoints (0: only at the end and on Ctrl-C) */
} nd_run_limits;

/* Runs epochs from the trainer's state to its end.  Returns 0, 130 after
 * Ctrl-C (checkpoint written, resume command printed), or the exit code of
 * a failure (message printed). */
int nd_run_loop(nd_run *run, const nd_trainer *t, const nd_run_limits *lim);

/* Reports a failed config check of the library: its message names the
 * config field, and the flag of that name is put in front ("--dropout:
 * krotov_top: dropout = 1, need 0 <= dropout < 1").  Returns the exit code. */
int nd_run_setting_fail(const char *cmd, const nd_opts *spec, nd_status s);

/* Set by SIGINT/SIGTERM once nd_run_loop runs. */
bool nd_run_interrupted(void);

#endif
