/* The tables behind `neurodyn train <model>` and `neurodyn eval`
 * (commands.h).  A new family adds its rows here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "dist.h"
#include "options.h"
#include "report.h"

const nd_cli_command nd_cli_train_models[] = {
    {"krotov", nd_cli_train_krotov, "Krotov-Hopfield unsupervised layer (fast rule or ODE model), resumable"},
    {"krotov-top", nd_cli_train_krotov_top, "supervised top layer on a frozen hidden layer (--features W.safetensors)"},
    {"mlp-baseline", nd_cli_train_mlp_baseline, "the same architecture trained end to end by backprop"},
    {"grid3d", nd_cli_train_grid3d, "nodes in 3-D space passing local messages along z, sparse growth, --method bp|dfa|ff"},
    {"mlp", nd_cli_train_mlp, "dense network, credit assignment --method bp|fa|dfa|dni|ff (docs/credit.md)"},
    {"ngrc", nd_cli_train_ngrc, "next-generation reservoir computing (Gauthier et al. 2021) forecasting Lorenz or Mackey-Glass"},
    {"esn", nd_cli_train_esn, "echo-state network (deep, IP/decorrelation, ridge/RLS/FORCE readout), Mackey-Glass or Lorenz prediction, resumable"},
    {"lca", nd_cli_train_lca, "sparse-coding dictionary (dense or --conv) by LCA inference, resumable"},
    {"hlca", nd_cli_train_hlca, "hierarchical LCA with top-down feedback, layer by layer; feedback vs occlusion/noise"},
    {"rnn", nd_cli_train_rnn, "recurrent nets trained without stored activations (--cell reversible|unitary|tanh|gru), copy/adding tasks"},
    {"deq", nd_cli_train_deq, "deep equilibrium classifier (Anderson forward, implicit backward), MNIST/Fashion"},
    {"ode", nd_cli_train_ode, "neural ODE by the adjoint method: --task spiral (dynamics from a trajectory) or mnist (ODE block)"},
    {"snn", nd_cli_train_snn, "recurrent LIF/ALIF networks by surrogate-gradient BPTT or e-prop (--method bptt|eprop), recall/smnist tasks"},
    {"revnet", nd_cli_train_revnet, "bijective classifier (coupling blocks, dummy dimensions), activations reconstructed"},
    {"cordsnet", nd_cli_train_cordsnet, "convolutional continuous-time RNN (CordsNet) by BPTT with time checkpointing, MNIST/Fashion at 28x28"},
    {"somp", nd_cli_train_somp, "self-organising multi-paradigm cells in a (cyclic) network, --config net.json (docs/somp.md)"},
    {NULL, NULL, NULL},
};

/* `neurodyn run <model>`: inference / simulation of one model on given inputs. */
const nd_cli_command nd_cli_run_models[] = {
    {"snn", nd_cli_run_snn, "a random recurrent LIF/ALIF network built from flags (raster, rates, traces)"},
    {"lca", nd_cli_run_lca, "sparse codes of signals under a dictionary (LCA, Rozell et al. 2008)"},
    {"wta", nd_cli_run_wta, "winner-take-all circuit, one inhibitory unit (Rutishauser et al. 2011)"},
    {"lcwta", nd_cli_run_lcwta, "locally connected WTA: an inhibitory unit per neuron over a band"},
    {"lcawta", nd_cli_run_lcawta, "LCA and a locally connected WTA coupled by a 2x2 flow matrix"},
    {"somp", nd_cli_run_somp, "SOMPNet experiments: --experiment autoregression|refinement|decision [--quick] (docs/somp.md)"},
    {"convwta", nd_cli_run_convwta, "convolutional WTA on NCHW maps (box within or across channels)"},
    {"cordsnet", nd_cli_run_cordsnet, "convolutional continuous-time RNN (CordsNet, Soo et al. 2024): logits, trajectories"},
    {NULL, NULL, NULL},
};

/* `neurodyn analyze <model>`: spectral analysis of a saved model. */
const nd_cli_command nd_cli_analyze_models[] = {
    {"cordsnet", nd_cli_analyze_cordsnet, "recurrent-conv spectra (Arnoldi, power iteration), Euler stability, Jacobian at the spontaneous state"},
    {NULL, NULL, NULL},
};

const nd_cli_scorer nd_cli_scorers[] = {
    {"krotov-top", nd_cli_predict_krotov_top},
    {"mlp", nd_cli_predict_mlp},
    {"grid3d", nd_cli_predict_grid3d},
    {NULL, NULL},
};

static void models_usage(FILE *f, const char *verb, const nd_cli_command *table) {
  fprintf(f, "usage: neurodyn %s <model> [options]   (neurodyn %s <model> --help)\n\nmodels:\n", verb, verb);
  for (const nd_cli_command *c = table; c->name; c++) fprintf(f, "  %-13s %s\n", c->name, c->summary);
  if (!strcmp(verb, "train"))
    fprintf(f, "\nevery model: --live PORT  serve the run's report page on http://127.0.0.1:PORT/ while it trains,\n"
               "                          streaming new metrics and frames (docs/report.md)\n");
}

/* Takes --live PORT (or --live=PORT) out of argv (before any "--"): the
 * port, -1 when absent, -2 when its value is missing or not a number. */
static int64_t take_live(int *argc, char **argv) {
  int64_t port = -1;
  for (int i = 1; i < *argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    const char *v = NULL;
    int n = 0;
    if (!strcmp(argv[i], "--live")) v = i + 1 < *argc ? argv[i + 1] : NULL, n = 2;
    else if (!strncmp(argv[i], "--live=", 7)) v = argv[i] + 7, n = 1;
    if (!n) continue;
    char *end = NULL;
    long long p = v && *v ? strtoll(v, &end, 10) : -1;
    port = v && end && !*end && p >= 0 && p <= 65535 ? p : -2;
    if (i + n > *argc) n = *argc - i;
    memmove(argv + i, argv + i + n, (size_t)(*argc - i - n + 1) * sizeof *argv);
    *argc -= n;
    i--;
  }
  return port;
}

/* `neurodyn <verb> <model> ...` through one of the tables above. */
static int dispatch(const char *verb, const nd_cli_command *table, int argc, char **argv) {
  if (argc < 2) {
    models_usage(stderr, verb, table);
    return 2;
  }
  const char *m = argv[1];
  if (!strcmp(m, "--help") || !strcmp(m, "-h")) {
    models_usage(stdout, verb, table);
    return 0;
  }
  for (const nd_cli_command *c = table; c->name; c++)
    if (!strcmp(m, c->name)) {
      int rc = nd_cli_dist_guard(verb, c->name); /* several processes: only the data-parallel trainers (dist.h) */
      if (rc) return rc;
      rc = c->run(argc - 1, argv + 1);
      return nd_cli_dist_finish(rc); /* MPI_Finalize, or MPI_Abort when the ranks did not end alike (dist.h) */
    }
  char names[256] = "";
  for (const nd_cli_command *c = table; c->name; c++) {
    size_t l = strlen(names);
    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", c->name);
  }
  return nd_cli_cmd_fail(verb, 2, "unknown model '%.64s' (%s)", m, names);
}

/* `train`, with --live PORT: the run's page served from a thread while it
 * trains (serve.c; cli/run.c hands it the run directory). */
int nd_cli_train(int argc, char **argv) {
  int64_t live = take_live(&argc, argv);
  if (live == -2) return nd_cli_cmd_fail("train", 2, "--live PORT: need a port 0 ... 65535 (0: any free one)");
  if (live < 0) return dispatch("train", nd_cli_train_models, argc, argv);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "train %.64s", argc > 1 ? argv[1] : "");
  int rc = nd_live_start(cmd, (int)live);
  if (rc) return rc;
  /* Trainers not on the run driver never call nd_live_set_dir: their --out
   * is shown from the start (it fills as they write it). */
  for (int i = 2; i + 1 < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], "--out")) nd_live_set_dir(argv[i + 1]);
  rc = dispatch("train", nd_cli_train_models, argc, argv);
  nd_live_stop();
  return rc;
}
int nd_cli_run(int argc, char **argv) { return dispatch("run", nd_cli_run_models, argc, argv); }
int nd_cli_analyze(int argc, char **argv) { return dispatch("analyze", nd_cli_analyze_models, argc, argv); }
