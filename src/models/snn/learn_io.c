/* Save and load of the spiking learner (include/neurodyn/snn.h, "training"):
 * every config field, the parameters (and random feedback), Adam's state,
 * the train state, the recall data stream and the running sums of the epoch
 * under way, so that a resumed run is the same run bit for bit. */
#include <stddef.h>
#include <string.h>

#include "core/internal.h"
#include "models/snn/snn_internal.h"

static const char *const units[] = {"lif", "alif", "rate", NULL};
static const char *const surrogates[] = {"fast-sigmoid", "triangle", "arctan", NULL};
static const char *const methods[] = {"bptt", "eprop", NULL};
static const char *const feedbacks[] = {"symmetric", "random", NULL};

#define F(field, key, type, lo, hi) ND_META_FIELD(nd_snn_learn_config, field, key, type, lo, hi)
static const nd_meta_field config_fields[] = {
    ND_META_CHOICE_FIELD(nd_snn_learn_config, unit, "unit", units),
    F(inputs, "inputs", ND_META_I64, 1, 65536),
    F(neurons, "neurons", ND_META_I64, 1, 65536),
    F(outputs, "outputs", ND_META_I64, 2, 65536),
    F(batch, "batch", ND_META_I64, 1, 1000000),
    F(dt_ms, "dt_ms", ND_META_F64, 0, 1e9),
    F(tau_m_ms, "tau_m_ms", ND_META_F64, 0, 1e12),
    F(tau_a_ms, "tau_a_ms", ND_META_F64, 0, 1e12),
    F(tau_out_ms, "tau_out_ms", ND_META_F64, 0, 1e12),
    F(v_th, "v_th", ND_META_F64, 0, 1e9),
    F(beta, "beta", ND_META_F64, 0, 1e9),
    F(gamma, "gamma", ND_META_F64, 0, 1e3),
    F(slope, "slope", ND_META_F64, 0, 1e6),
    ND_META_CHOICE_FIELD(nd_snn_learn_config, surrogate, "surrogate", surrogates),
    ND_META_CHOICE_FIELD(nd_snn_learn_config, method, "method", methods),
    ND_META_CHOICE_FIELD(nd_snn_learn_config, feedback, "feedback", feedbacks),
    F(smooth, "smooth", ND_META_BOOL, 0, 1),
    F(reset_grad, "reset_grad", ND_META_BOOL, 0, 1),
    F(w_in_scale, "w_in_scale", ND_META_F64, 0, 1e6),
    F(w_rec_scale, "w_rec_scale", ND_META_F64, 0, 1e6),
    F(lr, "lr", ND_META_F64, 0, 10),
    F(clip, "clip", ND_META_F64, 0, 1e12),
    F(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
#undef F

typedef struct run_fields {
  int64_t ep_n;
  double ep_loss, ep_acc, ep_rate;
  uint64_t rng_key, rng_counter;
} run_fields;

static const nd_meta_field run_table[] = {
    ND_META_FIELD(run_fields, ep_n, "epoch_batches", ND_META_I64, 0, 9e18),
    ND_META_FIELD(run_fields, ep_loss, "epoch_loss_sum", ND_META_F64, -1e300, 1e300),
    ND_META_FIELD(run_fields, ep_acc, "epoch_accuracy_sum", ND_META_F64, -1e300, 1e300),
    ND_META_FIELD(run_fields, ep_rate, "epoch_rate_sum", ND_META_F64, -1e300, 1e300),
    ND_META_FIELD(run_fields, rng_key, "data_rng_key", ND_META_U64, 0, 1.8446744073709552e19),
    ND_META_FIELD(run_fields, rng_counter, "data_rng_counter", ND_META_U64, 0, 1.8446744073709552e19),
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

nd_status nd_snn_learner_save(const nd_snn_learner *l, nd_checkpoint *ck) {
  if (!l || !ck) return nd__error(ND_ERR_INVALID_ARG, "snn save: NULL argument");
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "snn"));
  ND_TRY(nd_checkpoint_put_fields(ck, N_OF(config_fields), config_fields, &l->c));
  run_fields r = {l->ep_n, l->ep_loss, l->ep_acc, l->ep_rate, l->rng.key, l->rng.counter};
  ND_TRY(nd_checkpoint_put_fields(ck, N_OF(run_table), run_table, &r));
  nd_train_state st;
  ND_TRY(nd_snn_learner_get_state(l, &st));
  ND_TRY(nd_checkpoint_put_state(ck, &st));
  nd_array a = {.dtype = ND_DTYPE_F32, .ndim = 1, .shape = {l->np}, .numel = l->np, .data = l->p};
  ND_TRY(nd_checkpoint_put_array(ck, "params", &a));
  if (l->fb) {
    int64_t nk = l->c.neurons * l->c.outputs;
    nd_array f = {.dtype = ND_DTYPE_F32, .ndim = 2, .shape = {l->c.neurons, l->c.outputs}, .numel = nk, .data = l->fb};
    ND_TRY(nd_checkpoint_put_array(ck, "feedback", &f));
  }
  return nd_optim_save(l->opt, ck);
}

static nd_status get_f32(const nd_checkpoint *ck, const char *name, int64_t n, float *dst) {
  nd_array a = {0};
  nd_status s = nd_checkpoint_get_array(ck, name, ND_DTYPE_F32, n, &a);
  if (s == ND_OK) memcpy(dst, a.data, (size_t)n * sizeof(float));
  nd_array_release(&a);
  return s;
}

nd_status nd_snn_learner_load(const nd_checkpoint *ck, nd_snn_learner **out) {
  if (out) *out = NULL;
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "snn load: NULL argument");
  ND_TRY(nd_checkpoint_expect_model(ck, "snn"));
  nd_snn_learn_config c;
  memset(&c, 0, sizeof c);
  ND_TRY(nd_checkpoint_get_fields(ck, N_OF(config_fields), config_fields, &c));
  run_fields r;
  ND_TRY(nd_checkpoint_get_fields(ck, N_OF(run_table), run_table, &r));
  nd_train_state st;
  ND_TRY(nd_checkpoint_get_state(ck, &st));
  nd_snn_learner *l = NULL;
  nd_status s = nd_snn_learner_create(&c, &l);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  s = get_f32(ck, "params", l->np, l->p);
  if (s == ND_OK && l->fb) s = get_f32(ck, "feedback", c.neurons * c.outputs, l->fb);
  if (s == ND_OK) s = nd_optim_load(l->opt, ck);
  if (s == ND_OK) s = nd_snn_learner_set_state(l, &st);
  if (s != ND_OK) {
    nd_snn_learner_free(l);
    return s;
  }
  l->ep_n = r.ep_n, l->ep_loss = r.ep_loss, l->ep_acc = r.ep_acc, l->ep_rate = r.ep_rate;
  l->rng.key = r.rng_key, l->rng.counter = r.rng_counter;
  *out = l;
  return ND_OK;
}
