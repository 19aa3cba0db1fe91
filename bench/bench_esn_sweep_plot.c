/* The spectral-radius sensitivity of several reservoir variants in one
 * figure (docs/RESULTS.md, "Reservoir computing"): reads the rho_sweep.json
 * that `neurodyn train esn --sweep-rho LIST` wrote for each variant and plots
 * each one's validation (or test) NRMSE at the horizon against the radius,
 * log scale, with the library's PNG writer.  A diverged point (-1) is left out.
 *
 *   bench_esn_sweep_plot OUT.png val|test LABEL DIR [LABEL DIR ...]   (up to 10) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "neurodyn/io.h"

enum { MAXS = 10, MAXP = 64 };

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  fclose(f);
  if (buf) buf[n] = 0;
  return buf;
}

/* the sweep of dir into r, v (points with a finite NRMSE only); returns the count or -1 */
static int read_sweep(const char *dir, const char *key, double *r, double *v) {
  char path[4096];
  snprintf(path, sizeof path, "%s/rho_sweep.json", dir);
  char *text = slurp(path);
  cJSON *root = text ? cJSON_Parse(text) : NULL;
  free(text);
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "sweep");
  int n = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "spectral_radius"), *b = cJSON_GetObjectItemCaseSensitive(it, key);
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || n == MAXP) continue;
    if (b->valuedouble > 0) r[n] = a->valuedouble, v[n++] = b->valuedouble;
  }
  bool ok = cJSON_IsArray(arr);
  cJSON_Delete(root);
  if (!ok) fprintf(stderr, "bench_esn_sweep_plot: %s: no \"sweep\" array\n", path);
  return ok ? n : -1;
}

int main(int argc, char **argv) {
  if (argc < 5 || argc % 2 == 0 || (argc - 3) / 2 > MAXS || (strcmp(argv[2], "val") && strcmp(argv[2], "test"))) {
    fprintf(stderr, "usage: bench_esn_sweep_plot OUT.png val|test LABEL DIR [LABEL DIR ...] (up to %d)\n", MAXS);
    return 2;
  }
  const char *key = strcmp(argv[2], "val") ? "test_nrmse_horizon" : "val_nrmse_horizon";
  static double r[MAXS][MAXP], v[MAXS][MAXP];
  nd_plot_series s[MAXS];
  int ns = (argc - 3) / 2;
  for (int i = 0; i < ns; i++) {
    int n = read_sweep(argv[4 + 2 * i], key, r[i], v[i]);
    if (n < 0) return 2;
    s[i] = (nd_plot_series){r[i], v[i], n, argv[3 + 2 * i]};
  }
  char title[96];
  snprintf(title, sizeof title, "%s NRMSE at the horizon vs spectral radius", argv[2][0] == 'v' ? "validation" : "test");
  nd_status st = nd_png_plot_lines(argv[1], ns, s, &(nd_plot_opts){.width = 720, .height = 450, .log_y = true, .title = title,
                                                                     .x_label = "spectral radius", .y_label = "NRMSE"});
  if (st != ND_OK) {
    fprintf(stderr, "bench_esn_sweep_plot: %s\n", nd_last_error());
    return 1;
  }
  return 0;
}
