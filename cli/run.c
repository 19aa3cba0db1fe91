/* The run driver shared by every `neurodyn train <model>` (run.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "progress.h"
#include "report.h"
#include "run_config.h"
#include "run.h"

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t g_interrupted = 0;

static void on_signal(int sig) {
  g_interrupted = 1;
  signal(sig, SIG_DFL); /* a second Ctrl-C ends the program at once */
}

bool nd_run_interrupted(void) { return g_interrupted != 0; }

/* ------------------------------------------------------------ parsing */

/* The value of --resume in argv, or NULL. */
static const char *find_resume(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--resume") && i + 1 < argc) return argv[i + 1];
    if (!strncmp(argv[i], "--resume=", 9)) return argv[i] + 9;
  }
  return NULL;
}

/* True if argv sets option `name` (--name, --name=..., --no-name; - and _
 * alike). */
static bool given(int argc, char **argv, const char *name) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) break;
    if (strncmp(a, "--", 2) != 0) continue;
    a += 2;
    for (int neg = 0; neg < 2; neg++) {
      const char *b = a;
      if (neg) {
        if (strncmp(b, "no-", 3) != 0) break;
        b += 3;
      }
      size_t j = 0;
      while (name[j] && b[j] && (name[j] == b[j] || ((name[j] == '-' || name[j] == '_') && (b[j] == '-' || b[j] == '_'))))
        j++;
      if (!name[j] && (!b[j] || b[j] == '=')) return true;
    }
  }
  return false;
}

static void value_text(const nd_option *o, char *buf, size_t len) {
  switch (o->type) {
    case ND_OPT_INT: snprintf(buf, len, "%d", *(const int *)o->dest); break;
    case ND_OPT_INT64: snprintf(buf, len, "%" PRId64, *(const int64_t *)o->dest); break;
    case ND_OPT_DOUBLE: snprintf(buf, len, "%.17g", *(const double *)o->dest); break;
    case ND_OPT_BOOL: snprintf(buf, len, "%s", *(const bool *)o->dest ? "true" : "false"); break;
    case ND_OPT_CHOICE: snprintf(buf, len, "%s", o->choices[*(const int *)o->dest]); break;
    case ND_OPT_STRING: {
      const char *s = *(const char *const *)o->dest;
      snprintf(buf, len, "%s", s ? s : "(none)");
      break;
    }
  }
}

static bool is_free(const char *name, const char *const *free_keys) {
  for (int i = 0; free_keys && free_keys[i]; i++)
    if (!strcmp(free_keys[i], name)) return true;
  return false;
}

int nd_run_parse(nd_run *run, const char *cmd, const nd_opts *spec, int argc, char **argv, nd_args *args,
                 const char *const *free_keys) {
  memset(run, 0, sizeof *run);
  run->cmd = cmd;
  run->spec = spec;
  run->lock_fd = -1;
  const char *resume = find_resume(argc, argv);
  if (!resume) return nd_opts_parse(spec, argc, argv, args);
  if (given(argc, argv, "config"))
    return nd_cli_cmd_fail(cmd, 2, "--config and --resume: a resumed run takes its settings from its own config.json");
  char *cfg = run->resume_config; /* kept: the parse result refers to it */
  if (snprintf(cfg, sizeof run->resume_config, "%s/config.json", resume) >= (int)sizeof run->resume_config)
    return nd_cli_cmd_fail(cmd, 2, "--resume: the path is too long");
  struct stat sb;
  if (stat(resume, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return nd_cli_cmd_fail(cmd, 2, "--resume %s: no such run directory", resume);
  if (stat(cfg, &sb) != 0)
    return nd_cli_cmd_fail(cmd, 2, "--resume %s: no config.json there (not a run directory)", resume);

  /* pass 1: the saved values alone */
  int n_opts = 0;
  for (const nd_option *o = spec->options; o->name; o++) n_opts++;
  char **argv2 = calloc((size_t)(argc + n_opts) + 3, sizeof *argv2);
  char (*saved)[128] = calloc((size_t)n_opts + 1, sizeof *saved);
  char (*defaults)[160] = run->resume_args; /* kept: parsed values may point into them */
  if (n_opts > ND_RUN_MAX_OPTIONS) {
    free(argv2), free(saved);
    return nd_cli_cmd_fail(cmd, 1, "too many options for --resume (bug)");
  }
  if (!argv2 || !saved) {
    free(argv2), free(saved);
    return nd_cli_cmd_fail(cmd, 1, "out of memory");
  }
  argv2[0] = argv[0];
  argv2[1] = "--config";
  argv2[2] = cfg;
  int rc = nd_opts_parse(spec, 3, argv2, args);
  if (rc == ND_OPTS_CONTINUE) {
    for (int i = 0; i < n_opts; i++) value_text(&spec->options[i], saved[i], sizeof saved[i]);
    nd_args_release(args);
    /* pass 2: saved values; free options not given back at their defaults
     * (--stop-after of the first invocation must not stop this one); the flags */
    int at = 3;
    for (int i = 0; i < n_opts; i++) {
      const nd_option *o = &spec->options[i];
      if (!is_free(o->name, free_keys) || given(argc, argv, o->name) || !o->def) continue;
      snprintf(defaults[i], sizeof defaults[i], "--%s=%s", o->name, o->def);
      argv2[at++] = defaults[i];
    }
    for (int i = 1; i < argc; i++) argv2[at++] = argv[i];
    rc = nd_opts_parse(spec, at, argv2, args);
  }
  if (rc == ND_OPTS_CONTINUE) {
    char msg[1024] = "";
    for (int i = 0; i < n_opts; i++) {
      const nd_option *o = &spec->options[i];
      if (is_free(o->name, free_keys) || !given(argc, argv, o->name)) continue;
      char now[128];
      value_text(o, now, sizeof now);
      if (strcmp(now, saved[i]) != 0) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, "%s--%s %s (the run has %s)", l ? ", " : "", o->name, now, saved[i]);
      }
    }
    if (msg[0]) {
      nd_args_release(args);
      rc = nd_cli_cmd_fail(cmd, 2, "--resume %s: %s; drop these flags or start a new run", resume, msg);
    }
  }
  free(argv2);
  free(saved);
  if (rc == ND_OPTS_CONTINUE) run->resumed = true;
  return rc;
}

/* ------------------------------------------------------------ the directory */

bool nd_run_path(const nd_run *run, const char *name, char *buf) {
  if (snprintf(buf, ND_RUN_PATH_MAX, "%s/%s", run->dir, name) < ND_RUN_PATH_MAX) return true;
  nd_cli_cmd_fail(run->cmd, 2, "--out: the path %.60s.../%s is too long", run->dir, name);
  return false;
}

/* flock on DIR/.lock, holding our PID; a second run exits 2 naming it. */
static int lock_dir(nd_run *run) {
  char path[ND_RUN_PATH_MAX];
  if (!nd_run_path(run, ".lock", path)) return 2;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return nd_cli_cmd_fail(run->cmd, 1, "%s: cannot create the lock file: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "";
    ssize_t n = read(fd, pid, sizeof pid - 1);
    pid[n > 0 ? n : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    close(fd);
    return nd_cli_cmd_fail(run->cmd, 2, "%s is in use by another run (PID %s); wait for it or choose another --out",
                           run->dir, pid[0] ? pid : "unknown");
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) { /* only informative: the flock is the lock */
  }
  run->lock_fd = fd;
  return 0;
}

/* "<name>.tmp.<pid>" files whose writer is gone (killed runs) are removed. */
static void remove_stale_temporaries(const nd_run *run) {
  DIR *d = opendir(run->dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *t = strstr(e->d_name, ".tmp.");
    if (!t) continue;
    char *end = NULL;
    long pid = strtol(t + 5, &end, 10);
    if (pid <= 0 || *end) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* still running (or not ours to judge) */
    char path[ND_RUN_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", run->dir, e->d_name) < (int)sizeof path) unlink(path);
  }
  closedir(d);
}

bool nd_run_is_root(const nd_run *run) { return !run->comm || run->comm->rank == 0; }

static int begin_root(nd_run *run, const char *dir, bool resume);

int nd_run_begin(nd_run *run, const char *dir, bool resume) {
  int rc = nd_cli_dist_start(run->cmd, &run->comm);
  if (rc) return rc;
  if (run->comm && run->comm->size > 1 && !run->parallel) {
    if (nd_run_is_root(run))
      nd_cli_cmd_fail(run->cmd, 2, "%s cannot run data-parallel (started as %d processes); run it as one process",
                      run->why_serial ? run->why_serial : "this trainer", run->comm->size);
    nd_cli_dist_agreed(2);
    return 2;
  }
  if (nd_run_is_root(run)) {
    rc = begin_root(run, dir, resume);
  } else {
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    if (!nd_progress_quiet()) nd_progress_set_quiet(true); /* rank 0 prints */
    run->t_start = nd_cli_now();
  }
  return nd_cli_dist_agree(rc);
}

static int begin_root(nd_run *run, const char *dir, bool resume) {
  if (snprintf(run->dir, sizeof run->dir, "%s", dir) >= (int)sizeof run->dir)
    return nd_cli_cmd_fail(run->cmd, 2, "--out: the path is longer than %d bytes", ND_RUN_PATH_MAX - 1);
  struct stat sb;
  if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
    return nd_cli_cmd_fail(run->cmd, 2, "--out %s: exists and is not a directory", dir);
  nd_status s = nd_cli_mkdirs(dir);
  if (s != ND_OK) return nd_cli_cmd_fail(run->cmd, 2, "--out: %s", nd_last_error());
  int rc = lock_dir(run);
  if (rc) return rc;
  remove_stale_temporaries(run);
  char path[ND_RUN_PATH_MAX];
  if (!resume) {
    if (!nd_run_path(run, "config.json", path)) return 2;
    rc = nd_cli_write_run_config(run->cmd, run->spec, path, run->dataset_files);
    if (rc) return rc;
  }
  if (!nd_run_path(run, "metrics.jsonl", path)) return 2;
  s = resume ? nd_jsonl_open_append(path, &run->metrics) : nd_jsonl_open(path, &run->metrics);
  if (s != ND_OK) return nd_cli_lib_fail(run->cmd, s);
  run->t_start = nd_cli_now();
  nd_live_set_dir(run->dir); /* train --live: the server shows this directory from now on */
  return 0;
}

void nd_run_end(nd_run *run) {
  if (run->metrics) nd_jsonl_close(run->metrics);
  run->metrics = NULL;
  if (run->lock_fd >= 0) close(run->lock_fd); /* releases the flock */
  run->lock_fd = -1;
}

/* ------------------------------------------------------------ the loop */

typedef struct loop_ctx {
  const nd_trainer *t;
  nd_progress *bar;
  int64_t base;        /* minibatches before this invocation's first epoch, for the bar */
  int64_t per_epoch;
  int64_t first_epoch, end;
  nd_comm *comm;
} loop_ctx;

static int on_progress(const nd_progress_info *info, void *user) {
  loop_ctx *c = user;
  c->per_epoch = info->total;
  if (c->bar->total <= 0 && info->total > 0) c->bar->total = info->total * (c->end - c->first_epoch);
  char figs[160] = "";
  if (c->t->figures && (info->done % 10 == 0 || info->done == info->total)) c->t->figures(c->t->self, figs, sizeof figs);
  int64_t done = (info->epoch - c->first_epoch) * info->total + info->done;
  if (figs[0])
    nd_progress_update(c->bar, done, "epoch %" PRId64 "/%" PRId64 " %s", info->epoch + 1, c->t->epochs, figs);
  else
    nd_progress_update(c->bar, done, "epoch %" PRId64 "/%" PRId64, info->epoch + 1, c->t->epochs);
  int stop = g_interrupted ? 1 : 0;
  if (c->comm && c->comm->size > 1 && nd_comm_max_int(c->comm, stop, &stop) != ND_OK) {
    fprintf(stderr, "neurodyn: %s\n", nd_last_error());
    stop = 1; /* nd_cli_dist_finish aborts the job */
  }
  return stop;
}

static int checkpoint(nd_run *run, const nd_trainer *t) {
  if (!nd_run_is_root(run)) return 0;
  nd_status s = t->checkpoint(t->self, run);
  return s == ND_OK ? 0 : nd_cli_lib_fail(run->cmd, s);
}

/* Data-parallel: every rank's epoch time and time in collectives, gathered
 * (a collective) into *buf [2 * size]; the metrics get "ranks",
 * "rank_seconds", "rank_comm_seconds" and "comm_fraction" (the ranks' time
 * in collectives over their time in the epoch). */
static nd_status rank_times(nd_comm *c, double seconds, double comm, nd_jsonl_field *f, int *n, double **buf) {
  double mine[2] = {seconds, comm};
  double *all = malloc(sizeof(double) * 4 * (size_t)c->size);
  if (!all) return nd_set_error(ND_ERR_NOMEM, "no memory for the timings of %d ranks", c->size);
  nd_status s = nd_comm_allgather(c, mine, all, sizeof mine);
  if (s != ND_OK) {
    free(all);
    return s;
  }
  double *sec = all + 2 * c->size, *com = sec + c->size, tot = 0, tot_comm = 0;
  for (int r = 0; r < c->size; r++) {
    sec[r] = all[2 * r], com[r] = all[2 * r + 1];
    tot += sec[r], tot_comm += com[r];
  }
  f[(*n)++] = ND_JINT("ranks", c->size);
  f[(*n)++] = ND_JNUMS("rank_seconds", sec, c->size);
  f[(*n)++] = ND_JNUMS("rank_comm_seconds", com, c->size);
  f[(*n)++] = ND_JNUM("comm_fraction", tot > 0 ? tot_comm / tot : 0);
  *buf = all;
  return ND_OK;
}

int nd_run_loop(nd_run *run, const nd_trainer *t, const nd_run_limits *lim) {
  nd_train_state st;
  nd_status s = t->state(t->self, &st);
  if (s != ND_OK) return nd_cli_lib_fail(run->cmd, s);
  int64_t end = t->epochs;
  if (lim->stop_after > 0 && lim->stop_after < end - st.epoch) end = st.epoch + lim->stop_after; /* no overflow at INT64_MAX */
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  g_interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  nd_progress bar;
  nd_progress_begin_unit(&bar, run->cmd + (strncmp(run->cmd, "train ", 6) ? 0 : 6), 0, t->unit);
  loop_ctx ctx = {t, &bar, 0, 0, st.epoch, end, run->comm};
  int rc = 0;
  while (!rc && st.epoch < end) {
    double t0 = nd_cli_now(), comm0 = run->comm ? run->comm->seconds : 0;
    int64_t e_before = st.epoch;
    s = t->epoch(t->self, on_progress, &ctx);
    if (s == ND_OK) s = t->state(t->self, &st);
    if (s != ND_OK) {
      nd_progress_end(&bar);
      rc = nd_cli_lib_fail(run->cmd, s);
      break;
    }
    if (st.epoch == e_before) { /* stopped part-way: Ctrl-C */
      nd_progress_end(&bar);
      rc = checkpoint(run, t);
      if (!rc) nd_cli_dist_agreed(130); /* every rank stopped at the same minibatch */
      if (!rc && nd_run_is_root(run)) {
        fprintf(stderr, "neurodyn %s: interrupted in epoch %" PRId64 " after %" PRId64 " of %" PRId64
                        " minibatches; checkpoint written.\nresume with: neurodyn %s --resume %s\n",
                run->cmd, st.epoch + 1, st.batch, ctx.per_epoch, run->cmd, run->dir);
      }
      if (!rc) rc = 130;
      break;
    }
    nd_jsonl_field f[24];
    int n = 0;
    f[n++] = ND_JINT("epoch", st.epoch);
    f[n++] = ND_JNUM("seconds", nd_cli_now() - t0);
    f[n++] = ND_JNUM("elapsed", nd_cli_now() - run->t_start);
    double *ranks = NULL; /* per rank: the epoch's seconds, then its seconds in collectives */
    if (run->comm && run->comm->size > 1) s = rank_times(run->comm, nd_cli_now() - t0, run->comm->seconds - comm0, f, &n, &ranks);
    if (s == ND_OK && nd_run_is_root(run)) {
      if (t->after_epoch) s = t->after_epoch(t->self, run, st.epoch, f, &n);
      if (s == ND_OK) s = nd_jsonl_write(run->metrics, n, f);
    }
    free(ranks);
    if (s != ND_OK) {
      nd_progress_end(&bar);
      rc = nd_cli_lib_fail(run->cmd, s);
      break;
    }
    bool last = st.epoch == end;
    if (last || (lim->checkpoint_every > 0 && st.epoch % lim->checkpoint_every == 0) || g_interrupted) {
      rc = checkpoint(run, t);
      if (rc) {
        nd_progress_end(&bar);
        break;
      }
    }
    if (g_interrupted && !last && !(run->comm && run->comm->size > 1)) { /* Ctrl-C between epochs (data-parallel: at the next minibatch) */
      nd_progress_end(&bar);
      fprintf(stderr, "neurodyn %s: interrupted after epoch %" PRId64 "; checkpoint written.\n", run->cmd, st.epoch);
      if (t->resumable) fprintf(stderr, "resume with: neurodyn %s --resume %s\n", run->cmd, run->dir);
      rc = 130;
      break;
    }
  }
  if (rc == 0) nd_progress_end(&bar);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return rc;
}

/* "krotov_top: dropout = 1, need ..." names the config field "dropout":
 * the message gets the flag that sets it in front when the command has one. */
int nd_run_setting_fail(const char *cmd, const nd_opts *spec, nd_status s) {
  const char *msg = nd_last_error();
  const char *colon = strstr(msg, ": "), *eq = colon ? strstr(colon, " = ") : NULL;
  char field[64] = "";
  if (colon && eq && eq - colon - 2 > 0 && eq - colon - 2 < (long)sizeof field) {
    memcpy(field, colon + 2, (size_t)(eq - colon - 2));
    field[eq - colon - 2] = 0;
    for (char *c = field; *c; c++)
      if (*c == '_') *c = '-';
  }
  for (const nd_option *o = spec->options; field[0] && o->name; o++)
    if (!strcasecmp(o->name, field)) return nd_cli_cmd_fail(cmd, nd_cli_status_code(s), "--%s: %s", o->name, msg);
  return nd_cli_lib_fail(cmd, s);
}
