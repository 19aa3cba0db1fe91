/* libFuzzer target: the metrics.jsonl reader of `neurodyn report`
 * (cli/report_data.c, compiled into this program): lines split by hand, each
 * parsed by cJSON, numeric fields flattened into series.
 *
 * Checks: no crash, leak or sanitizer report; an accepted file gives an
 * object whose "n" rows every column has, and whose "keys" are its columns. */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "report_data.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *m = NULL;
  if (nd_report_metrics_parse(data, size, "fuzz.jsonl", &m) != ND_OK) {
    if (m) abort(); /* failure leaves nothing */
    return 0;
  }
  int n = cJSON_GetObjectItem(m, "n")->valueint;
  const cJSON *keys = cJSON_GetObjectItem(m, "keys"), *cols = cJSON_GetObjectItem(m, "columns"), *k;
  if (cJSON_GetArraySize(keys) != cJSON_GetArraySize(cols)) abort();
  cJSON_ArrayForEach(k, keys) {
    const cJSON *col = cJSON_GetObjectItem(cols, k->valuestring);
    if (!col || cJSON_GetArraySize(col) != n) abort();
  }
  cJSON_Delete(m);
  return 0;
}
