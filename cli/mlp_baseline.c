/* neurodyn train mlp-baseline: `train mlp --method bp` (mlp_train.c) with
 * the Krotov-Hopfield architecture as its options (784 -> hidden with
 * max(x,0)^n -> 10, c = tanh(beta z), loss sum |c - t|^m, no biases), both
 * layers trained end to end by backprop.  Writes config.json, metrics.jsonl
 * and mlp.safetensors (model mlp, what `neurodyn eval` scores). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "mlp_train.h"
#include "supervised.h" /* ND_OPT_GRAD_BLOCKS */

int nd_cli_train_mlp_baseline(int argc, char **argv) {
  nd_cli_mlp_args a;
  memset(&a, 0, sizeof a);
  double n = 0, m = 0, beta = 0;
  int64_t hidden = 0;
  const nd_option table[] = {
      {"hidden", ND_OPT_INT64, &hidden, "2000", "hidden units", NULL},
      {"n", ND_OPT_DOUBLE, &n, "4.5", "hidden activation max(x,0)^n", NULL},
      {"m", ND_OPT_DOUBLE, &m, "6", "loss exponent, sum |c - t|^m", NULL},
      {"beta", ND_OPT_DOUBLE, &beta, "1", "readout gain in c = tanh(beta z)", NULL},
      ND_OPT_MLP_TRAINING(&a, "100"),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn train mlp-baseline", "[options]",
                        "Backprop baseline of the Krotov-Hopfield architecture: 784 -> hidden (max(x,0)^n) -> 10, "
                        "c = tanh(beta z), loss sum |c - t|^m, no biases, both layers trained end to end with Adam. "
                        "Writes mlp.safetensors, metrics.jsonl and config.json into --out (default runs/mlp-baseline).",
                        table, 0, 0};
  nd_run run;
  nd_args args;
  static const char *const free_keys[] = {ND_RUN_FREE_ON_RESUME, NULL};
  int rc = nd_run_parse(&run, "train mlp-baseline", &spec, argc, argv, &args, free_keys);
  if (rc != ND_OPTS_CONTINUE) return rc;
  nd_cli_common_apply(&a.common);
  if (!a.common.out) a.common.out = "runs/mlp-baseline";
  if (hidden < 1) {
    nd_args_release(&args);
    return nd_cli_cmd_fail("train mlp-baseline", 2, "--hidden must be >= 1");
  }
  a.model = nd_mlp_defaults(3, (const int64_t[]){0, hidden, 10}); /* 0: the images' pixels */
  a.model.activation = ND_ACT_RELU_POW, a.model.act_param = (float)n;
  a.model.loss = ND_MLP_LOSS_ABS_POWER, a.model.loss_power = (float)m, a.model.out_scale = (float)beta;
  a.model.bias = false, a.model.method = ND_CREDIT_BP;
  a.optimizer = 0; /* adam */
  rc = nd_cli_mlp_run("train mlp-baseline", &a, &run);
  nd_args_release(&args);
  return rc;
}

/* `neurodyn eval` of an mlp model (registry.c). */
nd_status nd_cli_predict_mlp(const nd_checkpoint *ck, const nd_dataset *test, int64_t *classes, int32_t *pred) {
  nd_mlp *m = NULL;
  ND_CLI_TRY(nd_mlp_load(ck, &m));
  const nd_mlp_config *c = nd_mlp_config_of(m);
  *classes = c->sizes[c->n_sizes - 1];
  nd_status s = ND_OK;
  if (c->sizes[0] != test->images.shape[1])
    s = nd_set_error(ND_ERR_SHAPE, "%s: the network takes %lld inputs, the test images have %lld pixels",
                     nd_checkpoint_name(ck), (long long)c->sizes[0], (long long)test->images.shape[1]);
  if (s == ND_OK) s = nd_mlp_predict(m, test->images.data, test->n, 1000, pred);
  nd_mlp_free(m);
  return s;
}
