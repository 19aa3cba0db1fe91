/* Does the anti-Hebbian decorrelation rule (nd_esn_adapt, ND_ESN_DECORRELATE)
 * lower the correlation of the reservoir's units?  For each rate: a fresh
 * 1000-unit ESN (the defaults: 1% connectivity, radius 0.8), PASSES passes of
 * the rule over the Mackey-Glass training series of `neurodyn train esn`
 * (tau = 17, fed as tanh(x - 1), 1000 steps discarded, 3000 steps), then one
 * pass of ND_ESN_RULE_NONE on the adapted (and rescaled) reservoir, which
 * only measures: the mean |correlation| of the 64 fixed pairs of units and
 * the units' output spread.  Rate 0 is the untrained reservoir.  One JSON line
 * per rate (docs/RESULTS.md, "Reservoir computing").
 *
 *   bench_esn_decorrelation [SEED] [PASSES]   (defaults 1, 5) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "neurodyn/neurodyn.h"
#include "neurodyn/reservoir.h"

enum { DISCARD = 1000, T = 3000 };

int main(int argc, char **argv) {
  unsigned long long seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
  int passes = argc > 2 ? atoi(argv[2]) : 5;
  if (passes < 1 || passes > 1000) return fprintf(stderr, "bench_esn_decorrelation: PASSES = %d, expected 1..1000\n", passes), 2;
  double *x = malloc((DISCARD + T + 1) * sizeof *x);
  if (!x || nd_mackey_glass(DISCARD + T + 1, 17, 0.2, 0.1, 10, 1.2, 1, x) != ND_OK)
    return fprintf(stderr, "bench_esn_decorrelation: %s\n", nd_last_error()), 1;
  for (int k = 0; k < DISCARD + T + 1; k++) x[k] = tanh(x[k] - 1);
  const double etas[] = {0, 1e-6, 1e-5, 1e-4, 1e-3};
  for (int k = 0; k < 5; k++) {
    nd_esn_config c = nd_esn_defaults();
    c.seed = seed;
    nd_esn *e = NULL;
    nd_esn_plasticity p = nd_esn_plasticity_defaults(), none = p;
    p.rule = ND_ESN_DECORRELATE, none.rule = ND_ESN_RULE_NONE, p.eta = etas[k] > 0 ? etas[k] : 1e-6;
    nd_esn_adapt_stats during = {.mean_abs_corr = NAN}, after;
    nd_status s = nd_esn_create(&c, &e);
    for (int ep = 0; s == ND_OK && etas[k] > 0 && ep < passes; ep++) s = nd_esn_adapt(e, x + DISCARD, T, &p, &during);
    if (s == ND_OK) s = nd_esn_adapt(e, x + DISCARD, T, &none, &after);
    if (s != ND_OK) return fprintf(stderr, "bench_esn_decorrelation: eta %g: %s\n", etas[k], nd_last_error()), 1;
    printf("{\"seed\": %llu, \"eta\": %g, \"passes\": %d, \"mean_abs_corr_last_pass\": %.4f, \"mean_abs_corr_after\": %.4f, "
           "\"std_after\": %.4f}\n", seed, etas[k], etas[k] > 0 ? passes : 0, during.mean_abs_corr, after.mean_abs_corr, after.std);
    nd_esn_free(e);
  }
  free(x);
  return 0;
}
