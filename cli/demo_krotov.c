/* neurodyn demo krotov (the default demo, `make demo`): Krotov-Hopfield
 * "unsupervised learning by competing hidden units" on MNIST in a few minutes.
 * Runs `neurodyn train krotov` (official fast rule) and `neurodyn train
 * krotov-top` (supervised top layer, Eq. 11-12) into --out, prints the test
 * accuracy and where the receptive-field grid is. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "options.h"

/* Designated initialisers: independent of optional trailing fields of nd_option. */
#define KOPT(nm, ty, de, df, hp, ch) {.name = (nm), .type = (ty), .dest = (de), .def = (df), .help = (hp), .choices = (ch)}
#include "progress.h"
#include "neurodyn/neurodyn.h"

int nd_demo_krotov(int argc, char **argv);

/* test_error of the last line of a metrics.jsonl (NAN if unreadable). */
static double last_test_error(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NAN;
  char line[1024], last[1024] = "";
  while (fgets(line, sizeof line, f))
    if (line[0] == '{') memcpy(last, line, sizeof last);
  fclose(f);
  cJSON *j = cJSON_Parse(last);
  double v = NAN;
  const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "test_error") : NULL;
  if (cJSON_IsNumber(e)) v = e->valuedouble;
  cJSON_Delete(j);
  return v;
}

int nd_demo_krotov(int argc, char **argv) {
  int64_t hidden, epochs, top_epochs, limit;
  double p;
  int64_t k;
  nd_cli_common common;
  const nd_option table[] = {
      KOPT("hidden", ND_OPT_INT64, &hidden, "800", "hidden units", NULL),
      KOPT("p", ND_OPT_DOUBLE, &p, "2", "Lebesgue exponent p", NULL),
      KOPT("k", ND_OPT_INT64, &k, "2", "rank that receives -delta", NULL),
      KOPT("epochs", ND_OPT_INT64, &epochs, "60", "epochs of the unsupervised rule", NULL),
      KOPT("top-epochs", ND_OPT_INT64, &top_epochs, "40", "epochs of the supervised top layer", NULL),
      KOPT("limit", ND_OPT_INT64, &limit, "0", "use only the first N examples (0: all)", NULL),
      ND_OPT_COMMON(&common),
      ND_OPT_END,
  };
  const nd_opts spec = {"neurodyn demo krotov", "[options]",
                        "Krotov & Hopfield (PNAS 2019) on MNIST: unsupervised Hebbian layer with competing hidden "
                        "units (official fast rule), then a supervised top layer; prints the test accuracy and the "
                        "path of the receptive-field PNG. Output in --out (default runs/demo-krotov).",
                        table, 0, 0};
  nd_args args;
  int rc = nd_opts_parse(&spec, argc, argv, &args);
  if (rc != ND_OPTS_CONTINUE) return rc;
  rc = 0;
  nd_args_release(&args);
  char dir[4096];
  if (nd_data_dir("mnist", dir, sizeof dir) != ND_OK)
    return nd_cli_fail(2, "neurodyn demo krotov", "MNIST not found (%s); run `make data` first", nd_last_error());
  const char *out = common.out ? common.out : "runs/demo-krotov";
  char hebb[2048], top[2048], wpath[4096], s_hidden[32], s_p[32], s_k[32], s_ep[32], s_tep[32], s_seed[32],
      s_thr[32], s_lim[32];
  snprintf(hebb, sizeof hebb, "%s/hebbian", out);
  snprintf(top, sizeof top, "%s/top", out);
  snprintf(wpath, sizeof wpath, "%s/W.safetensors", hebb);
  snprintf(s_hidden, sizeof s_hidden, "%lld", (long long)hidden);
  snprintf(s_p, sizeof s_p, "%g", p);
  snprintf(s_k, sizeof s_k, "%lld", (long long)k);
  snprintf(s_ep, sizeof s_ep, "%lld", (long long)epochs);
  snprintf(s_tep, sizeof s_tep, "%lld", (long long)top_epochs);
  snprintf(s_seed, sizeof s_seed, "%lld", (long long)common.seed);
  snprintf(s_thr, sizeof s_thr, "%d", common.threads);
  snprintf(s_lim, sizeof s_lim, "%lld", (long long)limit);
  const char *quiet = common.quiet ? "--quiet" : "--no-quiet";
  double t0 = nd_cli_now();
  if (!common.quiet)
    fprintf(stderr, "demo krotov: step 1/2, unsupervised layer: %s hidden units, p=%s, k=%s, %s epochs -> %s\n",
            s_hidden, s_p, s_k, s_ep, hebb);
  char *a1[] = {"train", "krotov", "--hidden", s_hidden, "--p", s_p, "--k", s_k, "--epochs", s_ep, "--png-every",
                "10", "--seed", s_seed, "--threads", s_thr, "--limit", s_lim, "--out", hebb, (char *)quiet, NULL};
  rc = nd_cli_train((int)(sizeof a1 / sizeof a1[0]) - 1, a1);
  if (rc) return rc;
  if (!common.quiet)
    fprintf(stderr, "demo krotov: step 2/2, supervised top layer (n=4.5, m=6), %s epochs -> %s\n", s_tep, top);
  char *a2[] = {"train", "krotov-top", "--features", wpath, "--epochs", s_tep, "--seed", s_seed, "--threads", s_thr,
                "--limit", s_lim, "--out", top, (char *)quiet, NULL};
  rc = nd_cli_train((int)(sizeof a2 / sizeof a2[0]) - 1, a2);
  if (rc) return rc;
  char mpath[4200];
  snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", top);
  double err = last_test_error(mpath);
  printf("\nKrotov-Hopfield demo: %s hidden units, test accuracy %.2f%% (error %.2f%%) on the MNIST test set, "
         "%.0f s\n",
         s_hidden, 100.0 * (1.0 - err), 100.0 * err, nd_cli_now() - t0);
  printf("receptive fields (blue < 0 < red): %s/fields.png\n", hebb);
  printf("convergence (mean p-norm, fraction converged): %s/convergence.png\n", hebb);
  printf("model: %s/top.safetensors  (neurodyn eval --model %s)\n", top, top);
  return 0;
}
