/* nd_file_sha256 on the real MNIST files (found as nd_dataset_files finds
 * them) against the SHA-256 sums published in docs/data.md, which
 * scripts/get-data.sh checks when it fetches them.  Exit 77 (skipped) when
 * MNIST is not there or is stored gzipped (other bytes). */
#include <stdio.h>
#include <string.h>

#include "neurodyn/data.h"
#include "neurodyn/provenance.h"

int main(void) {
  static const struct {
    const char *split, *images, *labels;
  } want[2] = {
      {"train", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
       "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"},
      {"test", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
       "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
  };
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    char im[4300], lb[4300], h[65];
    if (nd_dataset_files(NULL, "mnist", want[i].split, im, lb, sizeof im) != ND_OK) {
      printf("SKIP: %s\n", nd_last_error());
      return 77;
    }
    if (strstr(im, ".gz") || strstr(lb, ".gz")) {
      printf("SKIP: MNIST is stored gzipped (%s); the published sums are of the raw files\n", im);
      return 77;
    }
    const char *files[2] = {im, lb}, *sums[2] = {want[i].images, want[i].labels};
    for (int f = 0; f < 2; f++) {
      if (nd_file_sha256(files[f], h) != ND_OK) {
        printf("FAIL: %s\n", nd_last_error());
        return 1;
      }
      bool ok = strcmp(h, sums[f]) == 0;
      printf("%s %s %s\n", ok ? "ok  " : "FAIL", h, files[f]);
      bad += !ok;
    }
  }
  return bad ? 1 : 0;
}
