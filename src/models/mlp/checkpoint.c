/* Save and load of nd_mlp (include/neurodyn/mlp.h) through nd_checkpoint:
 * model "mlp", the config by table plus "sizes" ("784,2000,10"), and one
 * tensor per parameter under nd_mlp_param_name (with DNI, DTP and SUBTASK
 * the synthetic-gradient modules, inverses and representatives too; FA's and DFA's fixed feedback matrices
 * are drawn again from the seed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/mlp.h"

static const char *const activations[] = {"relu", "tanh", "sigmoid", "leaky-relu", "relu-pow", "identity", NULL};
static const char *const losses[] = {"cross-entropy", "abs-power", NULL};

#define MF(field, key, type, lo, hi) ND_META_FIELD(nd_mlp_config, field, key, type, lo, hi)
static const nd_meta_field mlp_fields[] = {
    ND_META_CHOICE_FIELD(nd_mlp_config, activation, "activation", activations),
    MF(act_param, "act_param", ND_META_F32, -1e6, 1e6),
    ND_META_CHOICE_FIELD(nd_mlp_config, loss, "loss", losses),
    MF(loss_power, "loss_power", ND_META_F32, 1, 1e3),
    MF(out_scale, "out_scale", ND_META_F32, 0, 1e30),
    MF(bias, "bias", ND_META_BOOL, 0, 1),
    MF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
/* The credit-assignment settings: checkpoints written before they existed
 * have no "method" and load as BP.  The names are nd_credit_method_names(). */
static const char *const methods[] = {"bp", "fa", "dfa", "dni", "ff", "dtp", "am", "subtask", NULL};
static const nd_meta_field credit_fields[] = {
    ND_META_CHOICE_FIELD(nd_mlp_config, method, "method", methods),
    MF(ff_theta, "ff_theta", ND_META_F32, 0, 1e30),
    MF(dni_conditioned, "dni_conditioned", ND_META_BOOL, 0, 1),
};
/* The settings of dtp, am and subtask: checkpoints written before them lack
 * them and load with the defaults. */
static const nd_meta_field local_fields[] = {
    MF(dtp_target_lr, "dtp_target_lr", ND_META_F32, 0, 1e30),
    MF(dtp_noise, "dtp_noise", ND_META_F32, 0, 1e30),
    MF(am_mu, "am_mu", ND_META_F32, 0, 1e30),
    MF(am_code_lr, "am_code_lr", ND_META_F32, 0, 1e30),
    MF(am_code_steps, "am_code_steps", ND_META_INT, 0, 1000),
    MF(subtask_layers, "subtask_layers", ND_META_INT, 1, ND_MLP_MAX_LAYERS),
};
/* Conv layers: present only when the network has them ("conv" = "32,64"). */
static const nd_meta_field conv_fields[] = {
    MF(conv_kernel, "conv_kernel", ND_META_INT, 1, 15),
    MF(conv_stride, "conv_stride", ND_META_INT, 1, 4),
};
#undef MF
#define N_CONV ((int)(sizeof conv_fields / sizeof conv_fields[0]))
#define N_LOCAL ((int)(sizeof local_fields / sizeof local_fields[0]))
#define N_FIELDS ((int)(sizeof mlp_fields / sizeof mlp_fields[0]))
#define N_CREDIT ((int)(sizeof credit_fields / sizeof credit_fields[0]))

nd_status nd_mlp_save(nd_mlp *m, nd_checkpoint *ck) {
  if (!m || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_save: NULL argument");
  const nd_mlp_config *c = nd_mlp_config_of(m);
  char sizes[ND_MLP_MAX_LAYERS * 24 + 24] = "";
  for (int i = 0; i < c->n_sizes; i++) {
    size_t l = strlen(sizes);
    snprintf(sizes + l, sizeof sizes - l, "%s%" PRId64, i ? "," : "", c->sizes[i]);
  }
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "mlp"));
  ND_TRY(nd_checkpoint_put_meta(ck, "sizes", sizes));
  ND_TRY(nd_checkpoint_put_fields(ck, N_FIELDS, mlp_fields, c));
  ND_TRY(nd_checkpoint_put_fields(ck, N_CREDIT, credit_fields, c));
  ND_TRY(nd_checkpoint_put_fields(ck, N_LOCAL, local_fields, c));
  if (c->n_conv > 0) {
    char conv[ND_MLP_MAX_CONV * 24 + 24] = "";
    for (int j = 0; j < c->n_conv; j++) {
      size_t l = strlen(conv);
      snprintf(conv + l, sizeof conv - l, "%s%" PRId64, j ? "," : "", c->conv_channels[j]);
    }
    ND_TRY(nd_checkpoint_put_meta(ck, "conv", conv));
    ND_TRY(nd_checkpoint_put_fields(ck, N_CONV, conv_fields, c));
  }
  for (int i = 0; i < nd_mlp_num_params(m); i++) ND_TRY(nd_checkpoint_put_tensor(ck, nd_mlp_param_name(m, i), nd_mlp_param(m, i)));
  return ND_OK;
}

nd_status nd_mlp_parse_sizes(const char *text, nd_mlp_config *c) {
  if (!text || !c) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_parse_sizes: NULL argument");
  int n = 0;
  int64_t sizes[ND_MLP_MAX_LAYERS + 1];
  const char *p = text;
  while (*p) {
    char *end = NULL;
    long long x = strtoll(p, &end, 10);
    if (end == p || x < 1 || x > 1000000000LL || (*end && *end != ',') || n > ND_MLP_MAX_LAYERS)
      return nd__error(ND_ERR_INVALID_ARG, "sizes = '%.60s': need 2 to %d comma-separated sizes in 1..1e9", text,
                       ND_MLP_MAX_LAYERS + 1);
    sizes[n++] = x;
    p = *end ? end + 1 : end;
  }
  if (n < 2) return nd__error(ND_ERR_INVALID_ARG, "sizes = '%.60s': need at least 2 sizes", text);
  c->n_sizes = n;
  memcpy(c->sizes, sizes, (size_t)n * sizeof sizes[0]);
  return ND_OK;
}

nd_status nd_mlp_parse_conv(const char *text, nd_mlp_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_parse_conv: NULL argument");
  int n = 0;
  int64_t ch[ND_MLP_MAX_CONV];
  for (const char *p = text ? text : ""; *p;) {
    char *end = NULL;
    long long x = strtoll(p, &end, 10);
    if (end == p || x < 1 || x > 4096 || (*end && *end != ',') || n >= ND_MLP_MAX_CONV)
      return nd__error(ND_ERR_INVALID_ARG, "conv = '%.60s': need up to %d comma-separated channel counts in 1..4096",
                       text, ND_MLP_MAX_CONV);
    ch[n++] = x;
    p = *end ? end + 1 : end;
  }
  c->n_conv = n;
  memcpy(c->conv_channels, ch, (size_t)n * sizeof ch[0]);
  return ND_OK;
}

nd_status nd_mlp_load(const nd_checkpoint *ck, nd_mlp **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_mlp_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "mlp"));
  nd_mlp_config c = nd_mlp_defaults(2, (const int64_t[]){1, 1});
  const char *sz = nd_checkpoint_meta(ck, "sizes");
  if (!sz) return nd__error(ND_ERR_FORMAT, "%s: metadata has no 'sizes'", nd_checkpoint_name(ck));
  if (nd_mlp_parse_sizes(sz, &c) != ND_OK)
    return nd__error(ND_ERR_FORMAT, "%s: metadata %s", nd_checkpoint_name(ck), nd_last_error());
  ND_TRY(nd_checkpoint_get_fields(ck, N_FIELDS, mlp_fields, &c));
  if (nd_checkpoint_meta(ck, "method")) ND_TRY(nd_checkpoint_get_fields(ck, N_CREDIT, credit_fields, &c));
  if (nd_checkpoint_meta(ck, "dtp_target_lr")) ND_TRY(nd_checkpoint_get_fields(ck, N_LOCAL, local_fields, &c));
  const char *conv = nd_checkpoint_meta(ck, "conv");
  if (conv) {
    if (nd_mlp_parse_conv(conv, &c) != ND_OK)
      return nd__error(ND_ERR_FORMAT, "%s: metadata %s", nd_checkpoint_name(ck), nd_last_error());
    ND_TRY(nd_checkpoint_get_fields(ck, N_CONV, conv_fields, &c));
  }
  nd_mlp *m = NULL;
  nd_status s = nd_mlp_create(&c, &m);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  for (int i = 0; s == ND_OK && i < nd_mlp_num_params(m); i++) {
    nd_tensor *dst = nd_mlp_param(m, i), t = {0};
    s = nd_checkpoint_get_tensor(ck, nd_mlp_param_name(m, i), dst->ndim, dst->shape, &t);
    if (s == ND_OK) s = nd_tensor_copy(dst, &t);
    nd_tensor_release(&t);
  }
  if (s != ND_OK) {
    nd_mlp_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}
