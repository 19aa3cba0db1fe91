/* Save and load of a SOMP network (include/neurodyn/somp.h): the cells'
 * settings, every input they have grown (names and sizes, in order), the
 * parameters and Adam moments, the sequence and step counters.  A loaded
 * network continues bit for bit (its noise and the rules' draws are keyed
 * by the sequence counter). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "somp_internal.h"

static const char *const modes[] = {"dense", "sparse", NULL};
static const char *const thresholds[] = {"bucket", "z", "soft", NULL};
static const char *const pools[] = {"sum", "mean", NULL};

static nd_status put_num(nd_checkpoint *ck, const char *key, const char *fmt, ...) ND__PRINTF(3, 4);
static nd_status put_num(nd_checkpoint *ck, const char *key, const char *fmt, ...) {
  char v[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v, sizeof v, fmt, ap);
  va_end(ap);
  return nd_checkpoint_put_meta(ck, key, v);
}

static nd_status put_param(nd_checkpoint *ck, const char *prefix, const sparam *p) {
  char k[160];
  const float *src[3] = {p->w, p->m, p->v};
  static const char *const suf[3] = {"", ".adam_m", ".adam_v"};
  for (int i = 0; i < 3; i++) {
    snprintf(k, sizeof k, "%s%s", prefix, suf[i]);
    nd_tensor t = nd_tensor_wrap((float *)src[i], 2, ND_SHAPE(p->rows, p->cols));
    ND_TRY(nd_checkpoint_put_tensor(ck, k, &t));
  }
  return ND_OK;
}

nd_status nd_somp_net_save(const nd_somp_net *net, nd_checkpoint *ck) {
  if (!net || !ck) return nd__error(ND_ERR_INVALID_ARG, "somp save: NULL argument");
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "somp"));
  ND_TRY(put_num(ck, "somp.cells", "%d", net->n));
  ND_TRY(put_num(ck, "somp.seed", "%llu", (unsigned long long)net->seed));
  ND_TRY(put_num(ck, "somp.sequences", "%lld", (long long)net->seq));
  ND_TRY(put_num(ck, "somp.adam_t", "%lld", (long long)net->adam_t));
  char k[160];
  for (int i = 0; i < net->n; i++) {
    const scell *c = &net->cells[i];
    const nd_somp_hparams *h = &c->c.hp;
    snprintf(k, sizeof k, "somp.cell%d", i);
    ND_TRY(put_num(ck, k, "%s;%lld;%s;%s;%s;%.17g;%.17g;%.17g;%.17g;%.17g;%.17g;%.17g;%.17g", c->c.name,
                   (long long)c->c.units, modes[c->c.mode], thresholds[c->c.threshold], pools[c->c.pool],
                   c->c.init_scale, h->alpha_dense, h->alpha_sparse, h->a_decay, h->a_discharge, h->noise_mean,
                   h->noise_std, h->threshold));
    char list[SOMP_MAX_IN * (ND_SOMP_NAME_MAX + 24)] = "";
    for (int q = 0; q < c->n_in; q++) {
      size_t l = strlen(list);
      snprintf(list + l, sizeof list - l, "%s%s:%lld", q ? ";" : "", c->in[q]->name, (long long)c->in[q]->n);
    }
    snprintf(k, sizeof k, "somp.cell%d.inputs", i);
    ND_TRY(nd_checkpoint_put_meta(ck, k, list));
    snprintf(k, sizeof k, "c%d.b", i);
    ND_TRY(put_param(ck, k, &c->b));
    snprintf(k, sizeof k, "c%d.mu", i);
    ND_TRY(put_param(ck, k, &c->mu));
    for (int q = 0; q < c->n_in; q++) {
      snprintf(k, sizeof k, "c%d.in%d", i, q);
      ND_TRY(put_param(ck, k, &c->in[q]->P));
    }
  }
  return ND_OK;
}

static nd_status bad(const nd_checkpoint *ck, const char *key, const char *why) {
  return nd__error(ND_ERR_FORMAT, "%s: entry '%s': %s", nd_checkpoint_name(ck), key, why);
}

static nd_status get_ll(const nd_checkpoint *ck, const char *key, long long lo, long long hi, long long *v) {
  const char *s = nd_checkpoint_meta(ck, key);
  if (!s) return bad(ck, key, "missing");
  char *end;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || x < lo || x > hi) return bad(ck, key, "not an integer in range");
  *v = x;
  return ND_OK;
}

static int choice(const char *const *names, const char *s, size_t len) {
  for (int k = 0; names[k]; k++)
    if (strlen(names[k]) == len && !strncmp(names[k], s, len)) return k;
  return -1;
}

static nd_status parse_cell(const nd_checkpoint *ck, const char *key, nd_somp_cell_config *c) {
  const char *s = nd_checkpoint_meta(ck, key);
  if (!s) return bad(ck, key, "missing");
  const char *f[13];
  size_t len[13];
  int n = 0;
  const char *p = s;
  while (n < 13) {
    const char *e = strchr(p, ';');
    f[n] = p;
    len[n] = e ? (size_t)(e - p) : strlen(p);
    n++;
    if (!e) break;
    p = e + 1;
  }
  if (n != 13) return bad(ck, key, "expected 13 fields");
  if (len[0] < 1 || len[0] >= ND_SOMP_NAME_MAX) return bad(ck, key, "bad cell name");
  *c = nd_somp_cell_defaults(NULL, 0);
  memcpy(c->name, f[0], len[0]);
  c->name[len[0]] = 0;
  char *end;
  c->units = strtoll(f[1], &end, 10);
  const int m = choice(modes, f[2], len[2]), t = choice(thresholds, f[3], len[3]), o = choice(pools, f[4], len[4]);
  if (m < 0 || t < 0 || o < 0) return bad(ck, key, "bad mode, threshold or pool");
  c->mode = (nd_somp_mode)m, c->threshold = (nd_somp_threshold)t, c->pool = (nd_somp_pool)o;
  double v[8];
  for (int k = 0; k < 8; k++) {
    v[k] = strtod(f[5 + k], &end);
    if (end == f[5 + k]) return bad(ck, key, "bad number");
  }
  c->init_scale = v[0];
  c->hp = (nd_somp_hparams){v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  return ND_OK;
}

static nd_status get_param(const nd_checkpoint *ck, const char *prefix, sparam *p) {
  char k[160];
  float *dst[3] = {p->w, p->m, p->v};
  static const char *const suf[3] = {"", ".adam_m", ".adam_v"};
  for (int i = 0; i < 3; i++) {
    snprintf(k, sizeof k, "%s%s", prefix, suf[i]);
    nd_tensor t;
    ND_TRY(nd_checkpoint_get_tensor(ck, k, 2, ND_SHAPE(p->rows, p->cols), &t));
    memcpy(dst[i], t.data, (size_t)(p->rows * p->cols) * sizeof(float));
    nd_tensor_release(&t);
  }
  return ND_OK;
}

static nd_status load_into(const nd_checkpoint *ck, nd_somp_net *net) {
  char k[160];
  for (int i = 0; i < net->n; i++) {
    snprintf(k, sizeof k, "somp.cell%d.inputs", i);
    const char *s = nd_checkpoint_meta(ck, k);
    if (!s) return bad(ck, k, "missing");
    const char *p = s;
    while (*p) {
      const char *colon = strchr(p, ':');
      if (!colon || colon == p || colon - p >= ND_SOMP_NAME_MAX) return bad(ck, k, "expected name:size;...");
      char name[ND_SOMP_NAME_MAX];
      memcpy(name, p, (size_t)(colon - p));
      name[colon - p] = 0;
      char *end;
      long long n = strtoll(colon + 1, &end, 10);
      if (end == colon + 1 || (*end && *end != ';')) return bad(ck, k, "bad input size");
      nd_status st = nd_somp_net_connect(net, i, name, n);
      if (st != ND_OK) return nd__error(st, "%s: entry '%s': %s", nd_checkpoint_name(ck), k, nd_last_error());
      p = *end ? end + 1 : end;
    }
    scell *c = &net->cells[i];
    snprintf(k, sizeof k, "c%d.b", i);
    ND_TRY(get_param(ck, k, &c->b));
    snprintf(k, sizeof k, "c%d.mu", i);
    ND_TRY(get_param(ck, k, &c->mu));
    for (int q = 0; q < c->n_in; q++) {
      snprintf(k, sizeof k, "c%d.in%d", i, q);
      ND_TRY(get_param(ck, k, &c->in[q]->P));
    }
  }
  return ND_OK;
}

nd_status nd_somp_net_load(const nd_checkpoint *ck, nd_somp_net **out) {
  if (out) *out = NULL;
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "somp load: NULL argument");
  ND_TRY(nd_checkpoint_expect_model(ck, "somp"));
  long long n, seq, adam_t;
  ND_TRY(get_ll(ck, "somp.cells", 1, SOMP_MAX_CELLS, &n));
  ND_TRY(get_ll(ck, "somp.sequences", 0, (long long)9e18, &seq));
  ND_TRY(get_ll(ck, "somp.adam_t", 0, (long long)9e18, &adam_t));
  const char *sd = nd_checkpoint_meta(ck, "somp.seed");
  if (!sd) return bad(ck, "somp.seed", "missing");
  char *end;
  unsigned long long seed = strtoull(sd, &end, 10);
  if (end == sd || *end) return bad(ck, "somp.seed", "not an integer");
  nd_somp_cell_config cfg[SOMP_MAX_CELLS];
  char k[64];
  for (int i = 0; i < (int)n; i++) {
    snprintf(k, sizeof k, "somp.cell%d", i);
    ND_TRY(parse_cell(ck, k, &cfg[i]));
  }
  nd_somp_net *net = NULL;
  nd_status s = nd_somp_net_create((int)n, cfg, seed, &net);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  s = load_into(ck, net);
  if (s != ND_OK) {
    nd_somp_net_free(net);
    return s;
  }
  net->seq = seq, net->adam_t = adam_t;
  *out = net;
  return ND_OK;
}
