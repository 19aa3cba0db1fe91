/* Save and load of the three Krotov-Hopfield models (include/neurodyn/krotov.h)
 * through nd_checkpoint: every config field by table, the weights, and the
 * training state.  Model keys: "krotov" (fast rule), "krotov-ode" (full
 * model), "krotov-top" (top layer with its frozen hidden layer). */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/krotov.h"


static const char *const precisions[] = {"f32", "f64", NULL};
static const char *const updates[] = {"sparse", "gemm", NULL};
static const char *const integrators[] = {"euler", "rk4", NULL};

#define KF(field, key, type, lo, hi) ND_META_FIELD(nd_krotov_config, field, key, type, lo, hi)
static const nd_meta_field fast_fields[] = {
    KF(hidden, "hidden", ND_META_I64, 1, 1e9),
    KF(visible, "visible", ND_META_I64, 1, 1e9),
    KF(p, "p", ND_META_F64, 1, 1e6),
    KF(k, "k", ND_META_I64, 1, 1e9),
    KF(delta, "delta", ND_META_F64, -1e9, 1e9),
    KF(eps0, "eps0", ND_META_F64, 0, 1e9),
    KF(epochs, "epochs", ND_META_I64, 1, (double)ND_KROTOV_MAX_EPOCHS),
    KF(batch, "batch", ND_META_I64, 1, 1e9),
    KF(init_mean, "init_mean", ND_META_F64, -1e9, 1e9),
    KF(init_std, "init_std", ND_META_F64, 0, 1e9),
    KF(prec, "prec", ND_META_F64, 0, 1e300),
    ND_META_CHOICE_FIELD(nd_krotov_config, precision, "precision", precisions),
    ND_META_CHOICE_FIELD(nd_krotov_config, update, "update", updates),
    KF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
#undef KF

#define OF(field, key, type, lo, hi) ND_META_FIELD(nd_krotov_ode_config, field, key, type, lo, hi)
static const nd_meta_field ode_fields[] = {
    OF(hidden, "hidden", ND_META_I64, 1, 1e9),
    OF(visible, "visible", ND_META_I64, 1, 1e9),
    OF(batch, "batch", ND_META_I64, 1, 1e9),
    OF(p, "p", ND_META_F64, 1, 1e6),
    OF(w_inh, "w_inh", ND_META_F64, 0, 1e9),
    OF(delta, "delta", ND_META_F64, -1e9, 1e9),
    OF(h_star, "h_star", ND_META_F64, 0, 1e9),
    OF(tau, "tau", ND_META_F64, 0, 1e9),
    OF(tau_L, "tau_L", ND_META_F64, 0, 1e9),
    OF(R, "R", ND_META_F64, 0, 1e9),
    ND_META_CHOICE_FIELD(nd_krotov_ode_config, integrator, "integrator", integrators),
    OF(dt, "dt", ND_META_F64, 0, 1e9),
    OF(t_max, "t_max", ND_META_F64, 0, 1e12),
    OF(tol, "tol", ND_META_F64, -1e300, 1e300),
    OF(init_mean, "init_mean", ND_META_F64, -1e9, 1e9),
    OF(init_std, "init_std", ND_META_F64, 0, 1e9),
    OF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
    OF(lr, "lr", ND_META_F64, -1e12, 1e12),
    OF(lr_end, "lr_end", ND_META_F64, -1e12, 1e12),
    OF(epochs, "epochs", ND_META_I64, 1, (double)ND_KROTOV_MAX_EPOCHS),
};
#undef OF

#define TF(field, key, type, lo, hi) ND_META_FIELD(nd_krotov_top_config, field, key, type, lo, hi)
static const nd_meta_field top_fields[] = {
    TF(hidden, "hidden", ND_META_I64, 1, 1e9),
    TF(classes, "classes", ND_META_I64, 2, 1e6),
    TF(n, "n", ND_META_F32, 0, 1e3),
    TF(m, "m", ND_META_F32, 1, 1e3),
    TF(beta, "beta", ND_META_F32, 0, 1e30),
    TF(init_std, "init_std", ND_META_F32, 0, 1e9),
    TF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
    TF(dropout, "dropout", ND_META_F32, 0, 1),
    TF(lebesgue_p, "lebesgue_p", ND_META_F32, 0, 1e6),
};
#undef TF

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A run cannot be further than its own length. */
static nd_status check_progress(const nd_checkpoint *ck, const nd_train_state *st, int64_t epochs) {
  if (st->epoch > epochs || (st->epoch == epochs && st->batch > 0))
    return nd__error(ND_ERR_FORMAT, "%s: metadata 'state.epoch' = %lld is past the run's 'epochs' = %lld",
                     nd_checkpoint_name(ck), (long long)st->epoch, (long long)epochs);
  return ND_OK;
}

/* --------------------------------------------------------------- fast rule */

nd_status nd_krotov_save(nd_krotov *k, nd_checkpoint *ck) {
  if (!k || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_save: NULL argument");
  const nd_krotov_config *c = nd_krotov_config_of(k);
  nd_train_state st;
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "krotov"));
  ND_TRY(nd_checkpoint_put_fields(ck, COUNT(fast_fields), fast_fields, c));
  ND_TRY(nd_krotov_get_state(k, &st));
  ND_TRY(nd_checkpoint_put_state(ck, &st));
  ND_TRY(nd_checkpoint_put_tensor(ck, "W", nd_krotov_weights(k)));
  if (c->precision == ND_KROTOV_F64) { /* the float64 weights themselves, for an exact resume */
    nd_array a = {.dtype = ND_DTYPE_F64, .ndim = 2, .shape = {c->hidden, c->visible}, .numel = c->hidden * c->visible};
    a.data = malloc(sizeof(double) * (size_t)a.numel);
    if (!a.data) return nd__error(ND_ERR_NOMEM, "krotov: out of memory saving W_f64");
    nd_krotov_weights_f64(k, a.data);
    nd_status s = nd_checkpoint_put_array(ck, "W_f64", &a);
    free(a.data);
    ND_TRY(s);
  }
  return ND_OK;
}

nd_status nd_krotov_load(const nd_checkpoint *ck, nd_krotov **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "krotov"));
  nd_krotov_config c = nd_krotov_defaults();
  nd_train_state st;
  ND_TRY(nd_checkpoint_get_fields(ck, COUNT(fast_fields), fast_fields, &c));
  ND_TRY(nd_checkpoint_get_state(ck, &st));
  ND_TRY(check_progress(ck, &st, c.epochs));
  nd_krotov *k = NULL;
  nd_status s = nd_krotov_create(&c, &k);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  if (c.precision == ND_KROTOV_F64) {
    nd_array a = {0};
    s = nd_checkpoint_get_array(ck, "W_f64", ND_DTYPE_F64, c.hidden * c.visible, &a);
    if (s == ND_OK) s = nd_krotov_set_weights_f64(k, a.data);
    nd_array_release(&a);
  } else {
    nd_tensor w = {0};
    s = nd_checkpoint_get_tensor(ck, "W", 2, ND_SHAPE(c.hidden, c.visible), &w);
    if (s == ND_OK) s = nd_krotov_set_weights(k, &w);
    nd_tensor_release(&w);
  }
  if (s == ND_OK) s = nd_krotov_set_state(k, &st);
  if (s != ND_OK) {
    nd_krotov_free(k);
    return s;
  }
  *out = k;
  return ND_OK;
}

/* --------------------------------------------------------------- ODE model */

nd_status nd_krotov_ode_save(const nd_krotov_ode *m, nd_checkpoint *ck) {
  if (!m || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_ode_save: NULL argument");
  nd_train_state st;
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "krotov-ode"));
  ND_TRY(nd_checkpoint_put_fields(ck, COUNT(ode_fields), ode_fields, nd_krotov_ode_config_of(m)));
  ND_TRY(nd_krotov_ode_get_state(m, &st));
  ND_TRY(nd_checkpoint_put_state(ck, &st));
  return nd_checkpoint_put_tensor(ck, "W", nd_krotov_ode_weights(m));
}

nd_status nd_krotov_ode_load(const nd_checkpoint *ck, nd_krotov_ode **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_ode_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "krotov-ode"));
  nd_krotov_ode_config c = nd_krotov_ode_defaults();
  nd_train_state st;
  ND_TRY(nd_checkpoint_get_fields(ck, COUNT(ode_fields), ode_fields, &c));
  ND_TRY(nd_checkpoint_get_state(ck, &st));
  ND_TRY(check_progress(ck, &st, c.epochs));
  nd_krotov_ode *m = NULL;
  nd_status s = nd_krotov_ode_create(&c, &m);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  nd_tensor w = {0};
  s = nd_checkpoint_get_tensor(ck, "W", 2, ND_SHAPE(c.hidden, c.visible), &w);
  if (s == ND_OK) s = nd_krotov_ode_set_weights(m, &w);
  if (s == ND_OK) s = nd_krotov_ode_set_state(m, &st);
  nd_tensor_release(&w);
  if (s != ND_OK) {
    nd_krotov_ode_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}

/* --------------------------------------------------------------- top layer */

nd_status nd_krotov_top_save(nd_krotov_top *t, const nd_tensor *w, nd_checkpoint *ck) {
  if (!t || !w || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_top_save: NULL argument");
  const nd_krotov_top_config *c = nd_krotov_top_config_of(t);
  if (w->ndim != 2 || w->shape[0] != c->hidden)
    return nd__error(ND_ERR_SHAPE, "nd_krotov_top_save: W must be [hidden = %lld, visible]", (long long)c->hidden);
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "krotov-top"));
  ND_TRY(nd_checkpoint_put_fields(ck, COUNT(top_fields), top_fields, c));
  ND_TRY(nd_checkpoint_put_tensor(ck, "W", w));
  return nd_checkpoint_put_tensor(ck, "S", nd_krotov_top_weights(t));
}

nd_status nd_krotov_top_load(const nd_checkpoint *ck, nd_krotov_top **out, nd_tensor *w) {
  if (!ck || !out || !w) return nd__error(ND_ERR_INVALID_ARG, "nd_krotov_top_load: NULL argument");
  *out = NULL;
  memset(w, 0, sizeof *w);
  ND_TRY(nd_checkpoint_expect_model(ck, "krotov-top"));
  nd_krotov_top_config c = nd_krotov_top_defaults(1, 2);
  ND_TRY(nd_checkpoint_get_fields(ck, COUNT(top_fields), top_fields, &c));
  nd_krotov_top *t = NULL;
  nd_status s = nd_krotov_top_create(&c, &t);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  nd_tensor sw = {0};
  s = nd_checkpoint_get_tensor(ck, "S", 2, ND_SHAPE(c.classes, c.hidden), &sw);
  if (s == ND_OK) s = nd_krotov_top_set_weights(t, &sw);
  if (s == ND_OK) s = nd_checkpoint_get_tensor(ck, "W", 2, ND_SHAPE(c.hidden, -1), w);
  nd_tensor_release(&sw);
  if (s != ND_OK) {
    nd_krotov_top_free(t);
    nd_tensor_release(w);
    return s;
  }
  *out = t;
  return ND_OK;
}
