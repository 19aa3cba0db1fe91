/* cli/out_command.h */
#include "out_command.h"

int nd_cli_out_command(const char *cmd, const nd_opts *spec, const nd_cli_common *common, int argc, char **argv,
                       nd_status (*run)(const nd_opts *spec, void *user), void *user) {
  nd_args args;
  int rc = nd_opts_parse(spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(common);
  if (!common->out) {
    nd_args_release(&args);
    return nd_cli_cmd_fail(cmd, 2, "--out DIR is required");
  }
  nd_status st = run(spec, user);
  nd_args_release(&args);
  return st == ND_OK ? 0 : nd_cli_lib_fail(cmd, st);
}
