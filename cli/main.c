/* neurodyn: the command-line program.  `neurodyn <command> [options]`; every
 * command takes --help.  Exit codes: 0 success, 1 runtime failure, 2 bad
 * input or usage. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "neurodyn/core.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"demo", nd_cli_demo, "run a demonstration (neurodyn demo --list)"},
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
