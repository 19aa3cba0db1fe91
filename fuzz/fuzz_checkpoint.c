/* libFuzzer target: checkpoint files through nd_checkpoint_parse and then
 * every consumer of checkpoint metadata: the shared training state and the
 * model loaders (krotov, krotov-ode, krotov-top, mlp-baseline).
 *
 * Checks: no crash, leak or sanitizer report; a refused file's message names
 * it; a loader that succeeds returns a model (and krotov-top its W). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neurodyn/checkpoint.h"
#include "neurodyn/krotov.h"
#include "neurodyn/mlp.h"

#define NAME "fuzz-input.safetensors"

static void named(nd_status s) {
  if (s != ND_OK && s != ND_ERR_NOMEM && !strstr(nd_last_error(), NAME)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nd_set_log_level(ND_LOG_OFF);
  nd_checkpoint *ck = NULL;
  nd_status s = nd_checkpoint_parse(data, size, NAME, &ck);
  if (s != ND_OK) {
    if (ck) __builtin_trap();
    named(s);
    return 0;
  }
  (void)nd_checkpoint_model(ck);
  nd_train_state st;
  named(nd_checkpoint_get_state(ck, &st));

  nd_krotov *k = NULL;
  s = nd_krotov_load(ck, &k);
  if ((s == ND_OK) != (k != NULL)) __builtin_trap();
  named(s);
  nd_krotov_free(k);

  nd_krotov_ode *m = NULL;
  s = nd_krotov_ode_load(ck, &m);
  if ((s == ND_OK) != (m != NULL)) __builtin_trap();
  named(s);
  nd_krotov_ode_free(m);

  nd_krotov_top *t = NULL;
  nd_tensor w;
  memset(&w, 0, sizeof w);
  s = nd_krotov_top_load(ck, &t, &w);
  if ((s == ND_OK) != (t != NULL) || (s == ND_OK && !w.data && nd_tensor_numel(&w) > 0)) __builtin_trap();
  named(s);
  nd_krotov_top_free(t);
  nd_tensor_release(&w);

  nd_mlp *p = NULL;
  s = nd_mlp_load(ck, &p);
  if ((s == ND_OK) != (p != NULL)) __builtin_trap();
  named(s);
  nd_mlp_free(p);

  nd_checkpoint_free(ck);
  return 0;
}
