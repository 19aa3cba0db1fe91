/* Save and load of the LCA dictionary learner (include/neurodyn/lca.h)
 * through nd_checkpoint: model "lca-dict", every config field by table
 * (the inference settings as "lca.*"), the training state, the atoms and
 * the sums of a partial epoch. */
#include <string.h>

#include "core/internal.h"
#include "lca_dict.h"

static const char *const thresholds[] = {"soft", "hard", "nonneg", NULL};
static const char *const variants[] = {"textbook", "upstream", NULL};
static const char *const forms[] = {"auto", "gram", "two-gemm", NULL};
static const char *const kinds[] = {"euler", "momentum", "nesterov", "rmsprop", "adam", "upstream-adam", "upstream-rmsprop", NULL};
static const char *const schedules[] = {"constant", "fista", NULL};

#define DF(field, key, type, lo, hi) ND_META_FIELD(nd_lca_dict_config, field, key, type, lo, hi)
#define DC(field, key, names) ND_META_CHOICE_FIELD(nd_lca_dict_config, field, key, names)
static const nd_meta_field fields[] = {
    DC(lca.threshold, "lca.threshold", thresholds),
    DF(lca.lambda, "lca.lambda", ND_META_F32, 0, 3e38),
    DC(lca.update.kind, "lca.update", kinds),
    DF(lca.update.eta, "lca.eta", ND_META_F64, 0, 1e300),
    DF(lca.update.mu, "lca.mu", ND_META_F64, 0, 1),
    DC(lca.update.schedule, "lca.schedule", schedules),
    DF(lca.update.restart, "lca.restart", ND_META_BOOL, 0, 1),
    DF(lca.update.beta1, "lca.beta1", ND_META_F64, 0, 1),
    DF(lca.update.beta2, "lca.beta2", ND_META_F64, 0, 1),
    DF(lca.update.eps, "lca.eps", ND_META_F64, 0, 1e300),
    DF(lca.tol, "lca.tol", ND_META_F64, 0, 1e300),
    DF(lca.max_iter, "lca.max_iter", ND_META_I64, 1, 9.2e18),
    DC(lca.variant, "lca.variant", variants),
    DC(lca.form, "lca.form", forms),
    DF(lca.normalize, "lca.normalize", ND_META_BOOL, 0, 1),
    DF(lca.auto_eta, "lca.auto_eta", ND_META_BOOL, 0, 1),
    DF(conv, "conv", ND_META_BOOL, 0, 1),
    DF(rows, "rows", ND_META_I64, 1, 1 << 24),
    DF(cols, "cols", ND_META_I64, 1, 1 << 24),
    DF(atoms, "atoms", ND_META_I64, 1, 1 << 24),
    DF(shape.channels, "channels", ND_META_I64, 1, 1 << 24),
    DF(shape.height, "height", ND_META_I64, 1, 1 << 24),
    DF(shape.width, "width", ND_META_I64, 1, 1 << 24),
    DF(shape.filters, "filters", ND_META_I64, 1, 1 << 24),
    DF(shape.kernel_h, "kernel_h", ND_META_I64, 1, 1 << 24),
    DF(shape.kernel_w, "kernel_w", ND_META_I64, 1, 1 << 24),
    DF(shape.stride_h, "stride_h", ND_META_I64, 1, 1 << 24),
    DF(shape.stride_w, "stride_w", ND_META_I64, 1, 1 << 24),
    DF(shape.pad_h, "pad_h", ND_META_I64, 0, 1 << 24),
    DF(shape.pad_w, "pad_w", ND_META_I64, 0, 1 << 24),
    DF(lr, "lr", ND_META_F64, 0, 1e6),
    DF(epochs, "epochs", ND_META_I64, 1, ND_LCA_DICT_MAX_EPOCHS),
    DF(batch, "batch", ND_META_I64, 1, 1 << 20),
    DF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
#undef DF
#undef DC
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

nd_status nd_lca_dict_save(const nd_lca_dict *d, nd_checkpoint *ck) {
  if (!d || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_dict_save: NULL argument");
  nd_train_state st;
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "lca-dict"));
  ND_TRY(nd_checkpoint_put_fields(ck, COUNT(fields), fields, &d->c));
  ND_TRY(nd_lca_dict_get_state(d, &st));
  ND_TRY(nd_checkpoint_put_state(ck, &st));
  ND_TRY(nd_checkpoint_put_tensor(ck, "atoms", &d->w));
  nd_array sums = {.dtype = ND_DTYPE_F64, .ndim = 1, .shape = {ND__DS_COUNT}, .numel = ND__DS_COUNT, .data = (void *)d->sums};
  return nd_checkpoint_put_array(ck, "epoch_sums", &sums);
}

nd_status nd_lca_dict_load(const nd_checkpoint *ck, nd_lca_dict **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_lca_dict_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "lca-dict"));
  nd_lca_dict_config c = nd_lca_dict_defaults();
  nd_train_state st;
  ND_TRY(nd_checkpoint_get_fields(ck, COUNT(fields), fields, &c));
  ND_TRY(nd_checkpoint_get_state(ck, &st));
  if (st.epoch > c.epochs || (st.epoch == c.epochs && st.batch > 0))
    return nd__error(ND_ERR_FORMAT, "%s: metadata 'state.epoch' = %lld is past the run's 'epochs' = %lld",
                     nd_checkpoint_name(ck), (long long)st.epoch, (long long)c.epochs);
  nd_lca_dict *d = NULL;
  nd_status s = nd_lca_dict_create(&c, &d);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  nd_tensor w = {0};
  nd_array sums = {0};
  s = nd_checkpoint_get_tensor(ck, "atoms", d->w.ndim, d->w.shape, &w);
  if (s == ND_OK) s = nd__lca_dict_put_atoms(d, w.data, false);
  if (s == ND_OK) s = nd_checkpoint_get_array(ck, "epoch_sums", ND_DTYPE_F64, ND__DS_COUNT, &sums);
  if (s == ND_OK) memcpy(d->sums, sums.data, sizeof d->sums);
  if (s == ND_OK) s = nd_lca_dict_set_state(d, &st);
  nd_tensor_release(&w);
  nd_array_release(&sums);
  if (s != ND_OK) {
    nd_lca_dict_free(d);
    return s;
  }
  *out = d;
  return ND_OK;
}
