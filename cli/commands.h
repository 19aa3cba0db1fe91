/* Every `neurodyn <command>`: int nd_cli_<name>(int argc, char **argv), where
 * argv[0] is the command name.  Returns the exit code: 0 success, 1 runtime
 * failure, 2 bad input or usage.  A new command adds one line here and one
 * row to the table in main.c. */
#ifndef NEURODYN_CLI_COMMANDS_H
#define NEURODYN_CLI_COMMANDS_H

int nd_cli_data(int argc, char **argv);
int nd_cli_inspect(int argc, char **argv);
int nd_cli_convert(int argc, char **argv);
int nd_cli_demo(int argc, char **argv);
int nd_cli_train(int argc, char **argv);
int nd_cli_eval(int argc, char **argv);

#endif
