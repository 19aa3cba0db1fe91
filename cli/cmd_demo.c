/* neurodyn demo [NAME] [options]: named demonstrations.
 *
 * Each demo is `int fn(int argc, char **argv)` with argv[0] = its name; it
 * parses its own options (cli/options.h) and returns the exit code.  To add
 * one: declare its function below, add a row to `demos`, and put the code in
 * its own file cli/demo_<name>.c.  `demo_default` names the demo that plain
 * `neurodyn demo` (and `make demo`) runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "options.h"

/* The demos (each in cli/demo_<name>.c). */
int nd_demo_mlp(int argc, char **argv);
int nd_demo_krotov(int argc, char **argv);
int nd_demo_superres(int argc, char **argv);

typedef struct demo {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} demo;

static const demo demos[] = {
    {"krotov", nd_demo_krotov, "Krotov-Hopfield competing hidden units + top layer on MNIST; test accuracy, receptive-field PNG"},
    {"superres", nd_demo_superres, "spectral superresolution: gammatone filterbank vs LCA, LCA+LocallyConnectedWta, LcaWta; PNGs"},
    {"mlp", nd_demo_mlp, "784-256-10 MLP trained with Adam on MNIST (autodiff tape); prints test accuracy"},
};
static const char *const demo_default = "krotov";
static const int n_demos = (int)(sizeof demos / sizeof demos[0]);

static void list_demos(void) {
  for (int i = 0; i < n_demos; i++)
    printf("  %-10s  %s%s\n", demos[i].name, demos[i].summary, strcmp(demos[i].name, demo_default) ? "" : " [default]");
}

int nd_cli_demo(int argc, char **argv) {
  const char *name = demo_default;
  int first = 1; /* argv index where the demo's own arguments start */
  if (argc >= 2) {
    const char *a = argv[1];
    if (!strcmp(a, "--list")) {
      list_demos();
      return 0;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: neurodyn demo [NAME] [options]\n"
             "       neurodyn demo --list\n"
             "       neurodyn demo NAME --help   (the demo's options)\n\n"
             "Runs a named demonstration; without NAME, the default one.\n\ndemos:\n");
      list_demos();
      return 0;
    }
    if (a[0] != '-') {
      name = a;
      first = 1;
    } else {
      first = 0; /* options for the default demo */
    }
  }
  for (int i = 0; i < n_demos; i++) {
    if (strcmp(demos[i].name, name)) continue;
    if (first == 1 && argc >= 2 && argv[1][0] != '-') return demos[i].run(argc - 1, argv + 1);
    /* Default demo: hand over argv with argv[0] replaced by the demo name. */
    char **av = malloc((size_t)(argc + 1) * sizeof *av);
    if (!av) return nd_cli_fail(1, "neurodyn demo", "out of memory");
    av[0] = (char *)demos[i].name;
    for (int k = 1; k < argc; k++) av[k] = argv[k];
    av[argc] = NULL;
    int rc = demos[i].run(argc, av);
    free(av);
    return rc;
  }
  return nd_cli_fail(2, "neurodyn demo", "unknown demo '%s' (neurodyn demo --list shows them)", name);
}
