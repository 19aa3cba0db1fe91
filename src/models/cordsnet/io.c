/* CordsNet weight files: safetensors with upstream's state_dict keys
 * (wmws2/cordsnet, torch.nn.utils.parametrizations.weight_norm:
 * "<m>.parametrizations.weight.original0" = g, "...original1" = v; or a plain
 * "<m>.weight"), conv_bias.{j}, out_fc.bias. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/cordsnet/cordsnet_internal.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/io.h"
#include "neurodyn/tensor.h"

#define CD_META_STRIDE "neurodyn.cordsnet.stem_stride"
#define CD_META_LAYOUT "neurodyn.cordsnet.layout"

nd_status cd_new(const nd_cordsnet_config *c, int64_t stem_stride, nd_cordsnet **out);

static bool has(const nd_safetensors *st, const char *name) {
  for (int i = 0; i < nd_safetensors_count(st); i++)
    if (!strcmp(nd_safetensors_name(st, i), name)) return true;
  return false;
}

/* Shape of a weight: its v (original1) or plain weight. */
static nd_status weight_shape(const nd_safetensors *st, const char *path, const char *base, int *ndim, int64_t *shape) {
  char nm[96];
  snprintf(nm, sizeof nm, "%s.parametrizations.weight.original1", base);
  if (!has(st, nm)) snprintf(nm, sizeof nm, "%s.weight", base);
  if (!has(st, nm))
    return nd__error(ND_ERR_NOT_FOUND, "%s: no tensor %s.parametrizations.weight.original1 nor %s.weight", path, base,
                     base);
  return nd_safetensors_info(st, nm, NULL, ndim, shape);
}

static nd_status get_exact(const nd_safetensors *st, const char *path, const char *name, int64_t numel,
                           const int64_t *want, int want_ndim, float *dst) {
  nd_tensor t = {0};
  ND_TRY(nd_safetensors_get(st, name, &t));
  bool ok = nd_tensor_numel(&t) == numel;
  if (ok && want)
    for (int d = 0; d < want_ndim && ok; d++) ok = t.ndim == want_ndim && t.shape[d] == want[d];
  if (!ok) {
    char got[96] = "", exp[96] = "";
    for (int d = 0; d < t.ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "", (long long)t.shape[d]);
    if (want)
      for (int d = 0; d < want_ndim; d++) snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", d ? "x" : "", (long long)want[d]);
    else
      snprintf(exp, sizeof exp, "%lld elements", (long long)numel);
    nd_tensor_release(&t);
    return nd__error(ND_ERR_SHAPE, "%s: tensor %s is %s, expected %s", path, name, got, exp);
  }
  memcpy(dst, t.data, sizeof(float) * (size_t)numel);
  nd_tensor_release(&t);
  return ND_OK;
}

static nd_status load_wn(nd_cordsnet *m, const nd_safetensors *st, const char *path, const cd_wn *w, int *used) {
  char g[96], v[96], p[96];
  snprintf(g, sizeof g, "%s.parametrizations.weight.original0", w->name);
  snprintf(v, sizeof v, "%s.parametrizations.weight.original1", w->name);
  snprintf(p, sizeof p, "%s.weight", w->name);
  float *gp = m->params + w->g_off, *vp = m->params + w->v_off;
  if (has(st, v)) {
    if (!has(st, g)) return nd__error(ND_ERR_NOT_FOUND, "%s: %s is present but %s is not", path, v, g);
    ND_TRY(get_exact(st, path, v, w->out * w->fan, w->shape, w->ndim, vp));
    ND_TRY(get_exact(st, path, g, w->out, NULL, 0, gp));
    *used += 2;
  } else {
    ND_TRY(get_exact(st, path, p, w->out * w->fan, w->shape, w->ndim, vp));
    for (int64_t o = 0; o < w->out; o++) {
      double s = 0;
      for (int64_t k = 0; k < w->fan; k++) s += (double)vp[o * w->fan + k] * vp[o * w->fan + k];
      gp[o] = (float)sqrt(s);
    }
    *used += 1;
  }
  return ND_OK;
}

static nd_status load_from(const nd_safetensors *st, const char *path, int depth, nd_cordsnet **out) {
  int found = 0;
  char nm[96];
  for (int j = 0; j < 16; j++) {
    snprintf(nm, sizeof nm, "area_conv.%d", j);
    int nd;
    int64_t sh[8];
    nd_clear_error();
    if (weight_shape(st, path, nm, &nd, sh) != ND_OK) break;
    found = j + 1;
  }
  nd_clear_error();
  if (found < 2)
    return nd__error(ND_ERR_FORMAT, "%s: no CordsNet weights (need area_conv.0 and area_conv.1, upstream's names)", path);
  if (depth > 0 && depth != found)
    return nd__error(ND_ERR_SHAPE, "%s: holds %d areas (area_conv.0..%d), --depth %d asked", path, found, found - 1, depth);
  nd_cordsnet_config c = nd_cordsnet_defaults();
  c.depth = found;
  int nd;
  int64_t sh[8];
  ND_TRY(weight_shape(st, path, "inp_conv", &nd, sh));
  if (nd != 4 || sh[2] != sh[3] || (sh[2] != 7 && sh[2] != 3))
    return nd__error(ND_ERR_SHAPE, "%s: inp_conv weight must be [C0, C, 7, 7] (upstream) or [C0, C, 3, 3] (native)", path);
  c.layout = sh[2] == 7 ? ND_CORDSNET_UPSTREAM : ND_CORDSNET_NATIVE;
  c.width = sh[0];
  c.in_channels = sh[1];
  const char *lay = nd_safetensors_metadata(st, CD_META_LAYOUT);
  if (lay && !strcmp(lay, "native")) c.layout = ND_CORDSNET_NATIVE;
  int64_t stride = c.layout == ND_CORDSNET_NATIVE ? 1 : 2;
  const char *ms = nd_safetensors_metadata(st, CD_META_STRIDE);
  if (ms) {
    char *end;
    long v = strtol(ms, &end, 10);
    if (*end || v < 1 || v > 4) return nd__error(ND_ERR_FORMAT, "%s: metadata %s = '%s', need 1..4", path, CD_META_STRIDE, ms);
    stride = v;
  }
  ND_TRY(weight_shape(st, path, "out_fc", &nd, sh));
  if (nd != 2) return nd__error(ND_ERR_SHAPE, "%s: out_fc weight must be [classes, C]", path);
  c.classes = sh[0];
  ND_TRY(nd_safetensors_info(st, "conv_bias.0", NULL, &nd, sh));
  if (nd != 3) return nd__error(ND_ERR_SHAPE, "%s: conv_bias.0 must be [C, H, W]", path);
  /* stem conv (stride s, "same" padding) then AvgPool(3,2,1): H = 2 s H0 */
  c.in_h = sh[1] * 2 * stride;
  c.in_w = sh[2] * 2 * stride;
  nd_cordsnet *m;
  ND_TRY(cd_new(&c, stride, &m));
  int used = 0;
  nd_status s = ND_OK;
  for (int i = 0; i < m->n_wn && s == ND_OK; i++) s = load_wn(m, st, path, &m->wn[i], &used);
  for (int j = 0; j < m->depth && s == ND_OK; j++) {
    const cd_area *a = &m->a[j];
    int64_t want[3] = {a->c, a->h, a->w};
    snprintf(nm, sizeof nm, "conv_bias.%d", j);
    s = get_exact(st, path, nm, a->n, want, 3, m->params + a->bias_off);
    used++;
  }
  if (s == ND_OK) {
    s = get_exact(st, path, "out_fc.bias", c.classes, NULL, 0, m->params + m->fc_bias_off);
    used++;
  }
  int optim = 0; /* a training checkpoint's optimizer moments ("optim.*") are not the model's */
  for (int i = 0; i < nd_safetensors_count(st); i++) optim += !strncmp(nd_safetensors_name(st, i), "optim.", 6);
  if (s == ND_OK && used + optim != nd_safetensors_count(st)) {
    for (int i = 0; i < nd_safetensors_count(st); i++) {
      const char *n = nd_safetensors_name(st, i);
      bool known = !strncmp(n, "optim.", 6);
      for (int k = 0; k < m->n_wn && !known; k++) {
        size_t l = strlen(m->wn[k].name);
        known = !strncmp(n, m->wn[k].name, l) && (!strcmp(n + l, ".weight") || !strncmp(n + l, ".parametrizations.weight.original", 33));
      }
      known = known || !strncmp(n, "conv_bias.", 10) || !strcmp(n, "out_fc.bias");
      if (!known) {
        s = nd__error(ND_ERR_FORMAT, "%s: unexpected tensor '%s' for a CordsNet-R%d", path, n, m->depth);
        break;
      }
    }
    if (s == ND_OK) s = nd__error(ND_ERR_FORMAT, "%s: tensors for more areas than area_conv.* gives (depth %d)", path, m->depth);
  }
  if (s != ND_OK) {
    nd_cordsnet_free(m);
    return s;
  }
  cd_fold(m);
  *out = m;
  return ND_OK;
}

nd_status nd_cordsnet_load(const char *path, int depth, nd_cordsnet **out) {
  if (!path || !out) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_load: path or out is NULL");
  *out = NULL;
  if (depth < 0 || depth > 8 || depth % 2)
    return nd__error(ND_ERR_INVALID_ARG, "cordsnet_load: depth = %d, need 0 (infer), 2, 4, 6 or 8", depth);
  nd_safetensors *st;
  ND_TRY(nd_safetensors_read(path, &st));
  nd_status s = load_from(st, path, depth, out);
  nd_safetensors_free(st);
  return s;
}

/* Every parameter tensor under upstream's name: 2 per weight norm (g, v),
 * conv_bias.{j}, out_fc.bias.  names[i] has 96 chars. */
static int named_tensors(const nd_cordsnet *m, char (*names)[96], nd_tensor *ts) {
  int k = 0;
  for (int i = 0; i < m->n_wn; i++) {
    const cd_wn *w = &m->wn[i];
    int64_t gs[4] = {w->out, 1, 1, 1};
    snprintf(names[k], 96, "%s.parametrizations.weight.original0", w->name);
    ts[k++] = nd_tensor_wrap(m->params + w->g_off, w->ndim, gs);
    snprintf(names[k], 96, "%s.parametrizations.weight.original1", w->name);
    ts[k++] = nd_tensor_wrap(m->params + w->v_off, w->ndim, w->shape);
  }
  for (int j = 0; j < m->depth; j++) {
    int64_t sh[3] = {m->a[j].c, m->a[j].h, m->a[j].w};
    snprintf(names[k], 96, "conv_bias.%d", j);
    ts[k++] = nd_tensor_wrap(m->params + m->a[j].bias_off, 3, sh);
  }
  int64_t cs[1] = {m->cfg.classes};
  snprintf(names[k], 96, "out_fc.bias");
  ts[k++] = nd_tensor_wrap(m->params + m->fc_bias_off, 1, cs);
  return k;
}

#define CD_MAX_TENSORS (2 * CD_MAX_WN + ND_CORDSNET_MAX_DEPTH + 1)

nd_status nd_cordsnet_save(const nd_cordsnet *m, const char *path) {
  if (!m || !path) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_save: model or path is NULL");
  char names[CD_MAX_TENSORS][96];
  const char *np[CD_MAX_TENSORS];
  nd_tensor ts[CD_MAX_TENSORS];
  const nd_tensor *tp[CD_MAX_TENSORS];
  int n = named_tensors(m, names, ts);
  for (int i = 0; i < n; i++) np[i] = names[i], tp[i] = &ts[i];
  char stride[16];
  snprintf(stride, sizeof stride, "%lld", (long long)m->stem_stride);
  const char *meta[] = {CD_META_LAYOUT, m->cfg.layout == ND_CORDSNET_NATIVE ? "native" : "upstream", CD_META_STRIDE,
                        stride, NULL};
  return nd_safetensors_write(path, n, np, tp, meta);
}

nd_status nd_cordsnet_put(const nd_cordsnet *m, nd_checkpoint *ck) {
  if (!m || !ck) return nd__error(ND_ERR_INVALID_ARG, "cordsnet_put: model or checkpoint is NULL");
  char names[CD_MAX_TENSORS][96];
  nd_tensor ts[CD_MAX_TENSORS];
  int n = named_tensors(m, names, ts);
  for (int i = 0; i < n; i++) ND_TRY(nd_checkpoint_put_tensor(ck, names[i], &ts[i]));
  char stride[16];
  snprintf(stride, sizeof stride, "%lld", (long long)m->stem_stride);
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "cordsnet"));
  ND_TRY(nd_checkpoint_put_meta(ck, CD_META_LAYOUT, m->cfg.layout == ND_CORDSNET_NATIVE ? "native" : "upstream"));
  return nd_checkpoint_put_meta(ck, CD_META_STRIDE, stride);
}
