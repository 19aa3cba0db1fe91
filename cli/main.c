/* neurodyn: the command-line program.  `neurodyn <command> [options]`; every
 * command takes --help.  Exit codes: 0 success, 1 runtime failure, 2 bad
 * input or usage. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "dist.h"
#include "neurodyn/core.h"

static const nd_cli_command commands[] = {
    {"data", nd_cli_data, "fetch (data fetch) or check (data check) the MNIST and Fashion-MNIST files"},
    {"inspect", nd_cli_inspect, "show the tensors, dtypes and shapes in an IDX, NPY or safetensors file"},
    {"convert", nd_cli_convert, "convert a tensor file between .npy and .safetensors, or a PyTorch .pth state_dict"},
    {"demo", nd_cli_demo, "run a demonstration (neurodyn demo --list)"},
    {"train", nd_cli_train, "train a model (neurodyn train --help lists the models; neurodyn train MODEL --help)"},
    {"run", nd_cli_run, "run a model on inputs (neurodyn run --help lists the models; neurodyn run MODEL --help)"},
    {"analyze", nd_cli_analyze, "spectra and stability of a model's linearised dynamics: cordsnet (neurodyn analyze MODEL --help)"},
    {"report", nd_cli_report, "write a self-contained HTML page of a run: config, metrics plots, figures, recorded states"},
    {"serve", nd_cli_serve, "serve a run's page on 127.0.0.1, streaming new metrics and frames as they are written"},
    {"eval", nd_cli_eval, "print the test error of a saved model (neurodyn eval --model DIR)"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
  fprintf(f, "usage: neurodyn <command> [options]\n"
             "       neurodyn <command> --help\n"
             "       neurodyn --version\n\n"
             "Neurodynamical systems: simulation and learning.\n\ncommands:\n");
  for (int i = 0; i < n_commands; i++) fprintf(f, "  %-10s  %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nexit codes: 0 success, 1 runtime failure, 2 bad input or usage\n");
}

int main(int argc, char **argv) {
  /* A write beyond the file-size limit then fails with EFBIG and is reported
   * (and the partial temporary removed) instead of killing the program. */
  signal(SIGXFSZ, SIG_IGN);
  nd_cli_dist_omp_policy(argv); /* under mpirun with more threads than cores: a passive OpenMP wait policy */
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("neurodyn %s\n", nd_version());
    return 0;
  }
  for (int i = 0; i < n_commands; i++)
    if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  if (cmd[0] == '-')
    fprintf(stderr, "neurodyn: unknown option %s (see neurodyn --help)\n", cmd);
  else
    fprintf(stderr, "neurodyn: unknown command '%s' (see neurodyn --help)\n", cmd);
  return 2;
}
