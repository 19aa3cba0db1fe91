/* Save and load of the rnn family (include/neurodyn/rnn.h): every config
 * field, the parameters, Adam's moments and step, the train state and the
 * running sums of the epoch under way, so that a resumed run is the same
 * run bit for bit. */
#include <stddef.h>
#include <string.h>

#include "core/internal.h"
#include "rnn_internal.h"

static const char *const cells[] = {"tanh", "reversible", "unitary", "gru", "approx", NULL};
static const char *const tasks[] = {"copy", "adding", NULL};

#define F(field, key, type, lo, hi) ND_META_FIELD(nd_rnn_config, field, key, type, lo, hi)
static const nd_meta_field config_fields[] = {
    ND_META_CHOICE_FIELD(nd_rnn_config, cell, "cell", cells),
    F(inputs, "inputs", ND_META_I64, 1, 65536),
    F(hidden, "hidden", ND_META_I64, 2, 65536),
    F(outputs, "outputs", ND_META_I64, 1, 65536),
    F(layers, "layers", ND_META_I64, 0, 65536),
    F(frac_bits, "frac_bits", ND_META_INT, 8, 40),
    F(init_scale, "init_scale", ND_META_F64, 0, 100),
    F(inverse_weight, "inverse_weight", ND_META_F64, 0, 1e6),
    F(inverse_only, "inverse_only", ND_META_BOOL, 0, 1),
    F(lr, "lr", ND_META_F64, 0, 10),
    F(beta1, "beta1", ND_META_F64, 0, 1),
    F(beta2, "beta2", ND_META_F64, 0, 1),
    F(eps, "eps", ND_META_F64, 0, 1),
    F(clip, "clip", ND_META_F64, 0, 1e12),
    ND_META_CHOICE_FIELD(nd_rnn_config, task, "task", tasks),
    F(length, "length", ND_META_I64, 1, 1e8),
    F(batch, "batch", ND_META_I64, 1, 100000),
    F(steps, "steps", ND_META_I64, 1, 1e9),
    F(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
#undef F

typedef struct run_fields {
  int64_t adam_t;
  double ep_loss, ep_acc;
} run_fields;

static const nd_meta_field run_table[] = {
    ND_META_FIELD(run_fields, adam_t, "adam_t", ND_META_I64, 0, 9e18),
    ND_META_FIELD(run_fields, ep_loss, "epoch_loss_sum", ND_META_F64, -1e300, 1e300),
    ND_META_FIELD(run_fields, ep_acc, "epoch_accuracy_sum", ND_META_F64, -1e300, 1e300),
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
static const char *const arrays[] = {"params", "adam_m", "adam_v"};

nd_status nd_rnn_save(const nd_rnn *m, nd_checkpoint *ck) {
  if (!m || !ck) return nd__error(ND_ERR_INVALID_ARG, "rnn save: NULL argument");
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "rnn"));
  ND_TRY(nd_checkpoint_put_fields(ck, N_OF(config_fields), config_fields, &m->c));
  run_fields r = {m->adam_t, m->ep_loss, m->ep_acc};
  ND_TRY(nd_checkpoint_put_fields(ck, N_OF(run_table), run_table, &r));
  nd_train_state st;
  ND_TRY(nd_rnn_get_state(m, &st));
  ND_TRY(nd_checkpoint_put_state(ck, &st));
  double *src[] = {m->p, m->adam_m, m->adam_v};
  for (int i = 0; i < 3; i++) {
    nd_array a = {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {m->np}, .numel = m->np, .data = src[i]};
    ND_TRY(nd_checkpoint_put_array(ck, arrays[i], &a));
  }
  return ND_OK;
}

nd_status nd_rnn_load(const nd_checkpoint *ck, nd_rnn **out) {
  if (out) *out = NULL;
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "rnn load: NULL argument");
  ND_TRY(nd_checkpoint_expect_model(ck, "rnn"));
  nd_rnn_config c;
  memset(&c, 0, sizeof c);
  ND_TRY(nd_checkpoint_get_fields(ck, N_OF(config_fields), config_fields, &c));
  run_fields r;
  ND_TRY(nd_checkpoint_get_fields(ck, N_OF(run_table), run_table, &r));
  nd_train_state st;
  ND_TRY(nd_checkpoint_get_state(ck, &st));
  nd_rnn *m = NULL;
  nd_status s = nd_rnn_create(&c, &m);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  double *dst[] = {m->p, m->adam_m, m->adam_v};
  for (int i = 0; s == ND_OK && i < 3; i++) {
    nd_array a = {0};
    s = nd_checkpoint_get_array(ck, arrays[i], ND_DTYPE_F64, m->np, &a);
    if (s == ND_OK) memcpy(dst[i], a.data, (size_t)m->np * sizeof(double));
    nd_array_release(&a);
  }
  if (s == ND_OK) s = nd_rnn_set_state(m, &st);
  if (s != ND_OK) {
    nd_rnn_free(m);
    return s;
  }
  m->adam_t = r.adam_t, m->ep_loss = r.ep_loss, m->ep_acc = r.ep_acc;
  *out = m;
  return ND_OK;
}
