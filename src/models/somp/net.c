/* SOMP cells and networks of them (include/neurodyn/somp.h, docs/somp.md):
 * construction, input growth, the forward pass over [batch, T, n]
 * sequences with the local rules on every step, BPTT, and the blended
 * update w <- w - lr (eta_SL grad - sum_r eta_r Delta_r).
 *
 * Activity lives time-major ([T, B, n]) so that every step's slice is one
 * contiguous [B, n] matrix: the external inputs' terms are one GEMM over all
 * T B rows before the time loop, each recurrent connection one GEMM per step,
 * and the weight gradients one GEMM over the sequence after BPTT.  Buffers
 * are sized on the first forward of a (batch, T) and reused: the time loop
 * allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/kernels.h"
#include "somp_internal.h"

/* ------------------------------------------------------ hyperparameters */
nd_somp_hparams nd_somp_hparams_unset(void) {
  const double u = NAN;
  nd_somp_hparams h = {u, u, u, u, u, u, u};
  return h;
}

nd_somp_hparams nd_somp_hparams_defaults(void) {
  nd_somp_hparams h = {1.0, 1.0, 0.9, 0.1, 0.0, 0.1, 1.0};
  return h;
}

static void overlay(nd_somp_hparams *d, const nd_somp_hparams *s) {
  if (!s) return;
  const double *src = &s->alpha_dense;
  double *dst = &d->alpha_dense;
  for (int k = 0; k < 7; k++)
    if (!isnan(src[k])) dst[k] = src[k];
}

nd_status nd_somp_hparams_resolve(const nd_somp_hparams *cell, const nd_somp_hparams *call,
                                  const nd_somp_hparams *explicit_hp, nd_somp_hparams *out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "somp hparams: output is NULL");
  nd_somp_hparams h = nd_somp_hparams_defaults();
  overlay(&h, cell), overlay(&h, call), overlay(&h, explicit_hp);
  static const char *const names[] = {"alpha_dense", "alpha_sparse", "a_decay", "a_discharge",
                                      "noise_mean",  "noise_std",    "threshold"};
  const double *v = &h.alpha_dense;
  for (int k = 0; k < 7; k++)
    if (!isfinite(v[k])) return nd__error(ND_ERR_INVALID_ARG, "somp hparams: %s = %g is not finite", names[k], v[k]);
  if (!(h.alpha_dense > 0)) return nd__error(ND_ERR_INVALID_ARG, "somp hparams: alpha_dense = %g, need > 0", h.alpha_dense);
  if (!(h.alpha_sparse > 0))
    return nd__error(ND_ERR_INVALID_ARG, "somp hparams: alpha_sparse = %g, need > 0", h.alpha_sparse);
  if (!(h.a_decay >= 0 && h.a_decay < 1))
    return nd__error(ND_ERR_INVALID_ARG, "somp hparams: a_decay = %g, need 0 <= a_decay < 1", h.a_decay);
  if (!(h.a_discharge >= 0))
    return nd__error(ND_ERR_INVALID_ARG, "somp hparams: a_discharge = %g, need >= 0", h.a_discharge);
  if (!(h.noise_std >= 0)) return nd__error(ND_ERR_INVALID_ARG, "somp hparams: noise_std = %g, need >= 0", h.noise_std);
  if (!(h.threshold >= 0)) return nd__error(ND_ERR_INVALID_ARG, "somp hparams: threshold = %g, need >= 0", h.threshold);
  *out = h;
  return ND_OK;
}

nd_somp_cell_config nd_somp_cell_defaults(const char *name, int64_t units) {
  nd_somp_cell_config c;
  memset(&c, 0, sizeof c);
  if (name) snprintf(c.name, sizeof c.name, "%s", name);
  c.units = units;
  c.mode = ND_SOMP_DENSE;
  c.threshold = ND_SOMP_BUCKET;
  c.pool = ND_SOMP_SUM;
  c.hp = nd_somp_hparams_unset();
  c.init_scale = 1.0;
  return c;
}

/* ----------------------------------------------------------- parameters */
static void param_free(sparam *p) {
  nd_aligned_free(p->w), nd_aligned_free(p->g), nd_aligned_free(p->m), nd_aligned_free(p->v);
  nd_aligned_free(p->tmp);
  memset(p, 0, sizeof *p);
}

static float *zalloc(int64_t n) {
  float *p = nd_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  if (p) memset(p, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
  return p;
}

static nd_status param_alloc(sparam *p, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  p->rows = rows, p->cols = cols;
  p->w = zalloc(n), p->g = zalloc(n), p->m = zalloc(n), p->v = zalloc(n), p->tmp = zalloc(n);
  if (!p->w || !p->g || !p->m || !p->v || !p->tmp) {
    param_free(p);
    return nd__error(ND_ERR_NOMEM, "somp: cannot allocate a [%lld, %lld] parameter", (long long)rows, (long long)cols);
  }
  return ND_OK;
}

static void inst_free(sinst *s) {
  nd_plasticity_rule_free(s->rule);
  nd_aligned_free(s->R);
  s->rule = NULL, s->R = NULL;
}

static void input_free(sinput *in) {
  if (!in) return;
  param_free(&in->P);
  for (int r = 0; r < SOMP_MAX_RULES; r++) inst_free(&in->inst[r]);
  free(in);
}

static void cell_ws_free(scell *c) {
  nd_aligned_free(c->Z), nd_aligned_free(c->Bk), nd_aligned_free(c->Y), nd_aligned_free(c->Yh);
  nd_aligned_free(c->dY), nd_aligned_free(c->dZ), nd_aligned_free(c->G), nd_aligned_free(c->Gk);
  nd_aligned_free(c->carry);
  c->Z = c->Bk = c->Y = c->Yh = c->dY = c->dZ = c->G = c->Gk = c->carry = NULL;
}

void nd_somp_net_free(nd_somp_net *net) {
  if (!net) return;
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int k = 0; k < c->n_in; k++) input_free(c->in[k]);
    param_free(&c->b), param_free(&c->mu);
    for (int r = 0; r < SOMP_MAX_RULES; r++) inst_free(&c->vinst_mu[r]), inst_free(&c->vinst_b[r]);
    cell_ws_free(c);
  }
  for (int e = 0; e < ND_SOMP_MAX_INPUTS; e++) nd_aligned_free(net->ext[e].x), nd_aligned_free(net->ext[e].xh);
  nd_aligned_free(net->ones);
  free(net);
}

static nd_status check_cell_config(const nd_somp_cell_config *c, int i) {
  if (!c->name[0]) return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d].name is empty", i);
  if (c->units < 1 || c->units > 65536)
    return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] '%s': units = %lld, need 1..65536", i, c->name,
                     (long long)c->units);
  if ((unsigned)c->mode > ND_SOMP_SPARSE)
    return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] '%s': mode %d is not dense or sparse", i, c->name, (int)c->mode);
  if ((unsigned)c->threshold > ND_SOMP_SOFT)
    return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] '%s': threshold %d is not bucket, z or soft", i, c->name,
                     (int)c->threshold);
  if ((unsigned)c->pool > ND_SOMP_MEAN)
    return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] '%s': pool %d is not sum or mean", i, c->name, (int)c->pool);
  if (!(c->init_scale >= 0) || !isfinite(c->init_scale))
    return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] '%s': init_scale = %g, need >= 0", i, c->name, c->init_scale);
  nd_somp_hparams h;
  nd_status s = nd_somp_hparams_resolve(&c->hp, NULL, NULL, &h);
  if (s != ND_OK) return nd__error(s, "somp: cells[%d] '%s': %s", i, c->name, nd_last_error());
  return ND_OK;
}

nd_status nd_somp_net_create(int n_cells, const nd_somp_cell_config *cells, uint64_t seed, nd_somp_net **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "nd_somp_net_create: out is NULL");
  *out = NULL;
  if (n_cells < 1 || n_cells > SOMP_MAX_CELLS || !cells)
    return nd__error(ND_ERR_INVALID_ARG, "somp: %d cells, need 1..%d", n_cells, SOMP_MAX_CELLS);
  for (int i = 0; i < n_cells; i++) {
    ND_TRY(check_cell_config(&cells[i], i));
    for (int j = 0; j < i; j++)
      if (!strcmp(cells[i].name, cells[j].name))
        return nd__error(ND_ERR_INVALID_ARG, "somp: cells[%d] and cells[%d] are both named '%s'", j, i, cells[i].name);
  }
  nd_somp_net *net = calloc(1, sizeof *net);
  if (!net) return nd__error(ND_ERR_NOMEM, "somp: out of memory");
  net->n = n_cells;
  net->seed = seed;
  net->learn = nd_somp_learn_defaults();
  for (int i = 0; i < n_cells; i++) {
    scell *c = &net->cells[i];
    c->c = cells[i];
    nd_somp_hparams h;
    nd_somp_hparams_resolve(&c->c.hp, NULL, NULL, &h);
    nd_status s = param_alloc(&c->b, c->c.units, 1);
    if (s == ND_OK) s = param_alloc(&c->mu, c->c.units, 1);
    if (s != ND_OK) {
      nd_somp_net_free(net);
      return s;
    }
    for (int64_t u = 0; u < c->c.units; u++) c->mu.w[u] = (float)h.noise_mean;
  }
  *out = net;
  return ND_OK;
}

int nd_somp_net_cells(const nd_somp_net *net) { return net ? net->n : -1; }

const nd_somp_cell_config *nd_somp_net_cell_config(const nd_somp_net *net, int cell) {
  return net && cell >= 0 && cell < net->n ? &net->cells[cell].c : NULL;
}

int nd_somp_net_find(const nd_somp_net *net, const char *name) {
  if (!net || !name) return -1;
  for (int i = 0; i < net->n; i++)
    if (!strcmp(net->cells[i].c.name, name)) return i;
  return -1;
}

static nd_status check_cell(const nd_somp_net *net, int cell, const char *who) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "%s: network is NULL", who);
  if (cell < 0 || cell >= net->n)
    return nd__error(ND_ERR_INVALID_ARG, "%s: cell %d, the network has %d", who, cell, net->n);
  return ND_OK;
}

static sinput *find_input(const scell *c, const char *name, int *k) {
  for (int i = 0; i < c->n_in; i++)
    if (!strcmp(c->in[i]->name, name)) {
      if (k) *k = i;
      return c->in[i];
    }
  return NULL;
}

/* ---------------------------------------------------------------- rules */
static const char *const rule_names[ND_SOMP_RULE_COUNT] = {
    "stdp",         "stdp_multilag", "covariance_decay", "structural", "intrinsic", "l2",
    "mean_reg",     "sparsity_reg",  "temporal_vic",     "implication", "hard_wta", "soft_wta",
    "oja",          "row_normalize", "clip",             "hebbian"};

const char *nd_somp_rule_name(nd_somp_rule_kind k) {
  return (unsigned)k < ND_SOMP_RULE_COUNT ? rule_names[k] : NULL;
}

int nd_somp_rule_kind_of(const char *name) {
  if (!name) return -1;
  for (int k = 0; k < ND_SOMP_RULE_COUNT; k++)
    if (!strcmp(rule_names[k], name)) return k;
  return -1;
}

nd_somp_rule_config nd_somp_rule_defaults(nd_somp_rule_kind kind, int cell, double eta) {
  nd_somp_rule_config r;
  memset(&r, 0, sizeof r);
  r.kind = kind, r.cell = cell, r.eta = eta;
  for (int k = 0; k < 4; k++) r.p[k] = NAN;
  return r;
}

static double pv(const nd_somp_rule_config *rc, int k, double def) { return isnan(rc->p[k]) ? def : rc->p[k]; }

/* rules whose sum over steps equals one call on all steps' rows (accumulated mode) */
static bool separable(nd_somp_rule_kind k) {
  switch (k) {
  case ND_SOMP_RULE_STDP: case ND_SOMP_RULE_INTRINSIC: case ND_SOMP_RULE_MEAN_REG: case ND_SOMP_RULE_SPARSITY_REG:
  case ND_SOMP_RULE_IMPLICATION: case ND_SOMP_RULE_HARD_WTA: case ND_SOMP_RULE_SOFT_WTA: case ND_SOMP_RULE_OJA:
  case ND_SOMP_RULE_HEBBIAN: return true;
  default: return false;
  }
}
/* rules of W alone (the same every step while W is fixed) */
static bool w_only(nd_somp_rule_kind k) {
  return k == ND_SOMP_RULE_L2 || k == ND_SOMP_RULE_ROW_NORMALIZE || k == ND_SOMP_RULE_CLIP;
}
static bool reads_reward(nd_somp_rule_kind k) {
  return k == ND_SOMP_RULE_STDP || k == ND_SOMP_RULE_STDP_MULTILAG || k == ND_SOMP_RULE_HEBBIAN;
}

static nd_status make_rule(const nd_somp_net *net, int r, nd_plasticity_rule **out) {
  const nd_somp_rule_config *rc = &net->rc[r];
  static const int lags[5] = {1, 2, 4, 8, 16};
  switch (rc->kind) {
  case ND_SOMP_RULE_STDP: return nd_stdp_create(out);
  case ND_SOMP_RULE_STDP_MULTILAG: {
    const double n = pv(rc, 0, 5);
    if (!(n >= 1 && n <= 5 && n == floor(n)))
      return nd__error(ND_ERR_INVALID_ARG, "somp rule stdp_multilag: p[0] (lags) = %g, need 1..5", n);
    return nd_stdp_multilag_create((int)n, lags, out);
  }
  case ND_SOMP_RULE_COVARIANCE_DECAY: return nd_covariance_decay_create(pv(rc, 0, 0.9), pv(rc, 1, 1.0), pv(rc, 2, 0) != 0, out);
  case ND_SOMP_RULE_STRUCTURAL: return nd_structural_create(pv(rc, 0, 1.0), pv(rc, 1, 0.01), pv(rc, 2, 1e-3), net->seed, out);
  case ND_SOMP_RULE_INTRINSIC: return nd_intrinsic_create(pv(rc, 0, 0.1), out);
  case ND_SOMP_RULE_L2: return nd_l2_decay_create(out);
  case ND_SOMP_RULE_MEAN_REG: return nd_mean_reg_create(pv(rc, 0, 0.0), out);
  case ND_SOMP_RULE_SPARSITY_REG: return nd_sparsity_reg_create(pv(rc, 0, 0.1), out);
  case ND_SOMP_RULE_TEMPORAL_VIC: return nd_temporal_vic_create(pv(rc, 0, 25), pv(rc, 1, 25), pv(rc, 2, 1), pv(rc, 3, 1), out);
  case ND_SOMP_RULE_IMPLICATION: return nd_implication_create(pv(rc, 0, 0.2), out);
  case ND_SOMP_RULE_HARD_WTA: {
    const double g = pv(rc, 0, 0);
    if (!(g >= 0 && g == floor(g) && g < 1e9)) return nd__error(ND_ERR_INVALID_ARG, "somp rule hard_wta: group = %g", g);
    return nd_hard_wta_create((int64_t)g, out);
  }
  case ND_SOMP_RULE_SOFT_WTA: return nd_soft_wta_create(pv(rc, 0, 1.0), out);
  case ND_SOMP_RULE_OJA: return nd_oja_create(out);
  case ND_SOMP_RULE_ROW_NORMALIZE: return nd_row_normalize_create(pv(rc, 0, 1.0), out);
  case ND_SOMP_RULE_CLIP: return nd_clip_rule_create(pv(rc, 0, 1.0), out);
  case ND_SOMP_RULE_HEBBIAN: return nd_hebbian_create(out);
  default: return nd__error(ND_ERR_INVALID_ARG, "somp: rule kind %d unknown", (int)rc->kind);
  }
}

static nd_status inst_make(const nd_somp_net *net, int r, int64_t numel, sinst *s) {
  ND_TRY(make_rule(net, r, &s->rule));
  s->R = zalloc(numel);
  if (!s->R) {
    inst_free(s);
    return nd__error(ND_ERR_NOMEM, "somp: out of memory for rule '%s'", net->label[r]);
  }
  return ND_OK;
}

static bool rule_on_input(const nd_somp_rule_config *rc, const sinput *in) {
  return rc->kind != ND_SOMP_RULE_INTRINSIC && (!rc->input[0] || !strcmp(rc->input, in->name));
}

int nd_somp_net_num_rules(const nd_somp_net *net) { return net ? net->n_rules : -1; }

nd_status nd_somp_net_add_rule(nd_somp_net *net, const nd_somp_rule_config *rc) {
  if (!rc) return nd__error(ND_ERR_INVALID_ARG, "somp add_rule: config is NULL");
  ND_TRY(check_cell(net, rc->cell, "somp add_rule"));
  if ((unsigned)rc->kind >= ND_SOMP_RULE_COUNT)
    return nd__error(ND_ERR_INVALID_ARG, "somp add_rule: kind %d unknown", (int)rc->kind);
  if (!isfinite(rc->eta)) return nd__error(ND_ERR_INVALID_ARG, "somp rule %s: eta = %g is not finite", rule_names[rc->kind], rc->eta);
  if (net->n_rules >= SOMP_MAX_RULES) return nd__error(ND_ERR_INVALID_ARG, "somp add_rule: at most %d rules", SOMP_MAX_RULES);
  if (!memchr(rc->input, 0, sizeof rc->input)) return nd__error(ND_ERR_INVALID_ARG, "somp add_rule: input name too long");
  const int r = net->n_rules;
  const nd_somp_rule_config cfg = *rc;
  net->rc[r] = cfg;
  char label[sizeof net->label[0]];
  snprintf(label, sizeof label, "%s@%s%s%s", rule_names[cfg.kind], net->cells[cfg.cell].c.name, cfg.input[0] ? "." : "",
           cfg.input);
  memcpy(net->label[r], label, sizeof label);
  /* check the parameters once */
  nd_plasticity_rule *probe = NULL;
  ND_TRY(make_rule(net, r, &probe));
  nd_plasticity_rule_free(probe);
  scell *c = &net->cells[rc->cell];
  nd_status s = ND_OK;
  for (int k = 0; k < c->n_in && s == ND_OK; k++)
    if (rule_on_input(rc, c->in[k])) s = inst_make(net, r, c->in[k]->P.rows * c->in[k]->P.cols, &c->in[k]->inst[r]);
  if (s == ND_OK && rc->kind == ND_SOMP_RULE_INTRINSIC) s = inst_make(net, r, c->c.units, &c->vinst_mu[r]);
  if (s == ND_OK && rc->kind == ND_SOMP_RULE_L2 && !rc->input[0]) s = inst_make(net, r, c->c.units, &c->vinst_b[r]);
  if (s != ND_OK) {
    for (int k = 0; k < c->n_in; k++) inst_free(&c->in[k]->inst[r]);
    inst_free(&c->vinst_mu[r]), inst_free(&c->vinst_b[r]);
    return s;
  }
  net->n_rules++;
  return ND_OK;
}

/* ---------------------------------------------------------------- build */
nd_status nd_somp_net_connect(nd_somp_net *net, int cell, const char *source, int64_t n_in) {
  ND_TRY(check_cell(net, cell, "somp connect"));
  if (!source || !source[0]) return nd__error(ND_ERR_INVALID_ARG, "somp connect: source name is empty");
  if (strlen(source) >= ND_SOMP_NAME_MAX)
    return nd__error(ND_ERR_INVALID_ARG, "somp connect: source name '%.32s...' longer than %d", source, ND_SOMP_NAME_MAX - 1);
  scell *c = &net->cells[cell];
  const int src = nd_somp_net_find(net, source);
  if (src >= 0) n_in = net->cells[src].c.units;
  sinput *have = find_input(c, source, NULL);
  if (have) {
    if (have->n != n_in)
      return nd__error(ND_ERR_SHAPE, "somp cell '%s': input '%s' has %lld features, given %lld", c->c.name, source,
                       (long long)have->n, (long long)n_in);
    return ND_OK;
  }
  if (n_in < 1 || n_in > (1 << 24))
    return nd__error(ND_ERR_SHAPE, "somp cell '%s': input '%s' with %lld features, need 1..%d", c->c.name, source,
                     (long long)n_in, 1 << 24);
  if (c->n_in >= SOMP_MAX_IN) return nd__error(ND_ERR_INVALID_ARG, "somp cell '%s': at most %d inputs", c->c.name, SOMP_MAX_IN);
  sinput *in = calloc(1, sizeof *in);
  if (!in) return nd__error(ND_ERR_NOMEM, "somp: out of memory");
  snprintf(in->name, sizeof in->name, "%s", source);
  in->src = src, in->n = n_in, in->ext = -1;
  nd_status s = param_alloc(&in->P, c->c.units, n_in);
  if (s == ND_OK) { /* W ~ U(-a, a), a = init_scale sqrt(3 / n_in): variance init_scale^2 / n_in */
    nd_rng base, r;
    nd_rng_init(&base, net->seed ^ 0x50d9f1e3a7c4b215ull);
    r = nd_rng_split(&base, (uint64_t)cell * 4096u + (uint64_t)c->n_in);
    const float a = (float)(c->c.init_scale * sqrt(3.0 / (double)n_in));
    s = nd_rng_uniform(&r, in->P.w, c->c.units * n_in, -a, a);
  }
  for (int r = 0; r < net->n_rules && s == ND_OK; r++)
    if (net->rc[r].cell == cell && rule_on_input(&net->rc[r], in)) s = inst_make(net, r, c->c.units * n_in, &in->inst[r]);
  if (s != ND_OK) {
    input_free(in);
    return s;
  }
  c->in[c->n_in++] = in;
  return ND_OK;
}

int nd_somp_net_num_inputs(const nd_somp_net *net, int cell) {
  return net && cell >= 0 && cell < net->n ? net->cells[cell].n_in : -1;
}

const char *nd_somp_net_input_name(const nd_somp_net *net, int cell, int k) {
  if (!net || cell < 0 || cell >= net->n || k < 0 || k >= net->cells[cell].n_in) return NULL;
  return net->cells[cell].in[k]->name;
}

static nd_status view_param(nd_somp_net *net, int cell, const char *input, bool grad, nd_tensor *t, const char *who) {
  ND_TRY(check_cell(net, cell, who));
  if (!t || !input) return nd__error(ND_ERR_INVALID_ARG, "%s: NULL argument", who);
  sinput *in = find_input(&net->cells[cell], input, NULL);
  if (!in) return nd__error(ND_ERR_INVALID_ARG, "%s: cell '%s' has no input '%s'", who, net->cells[cell].c.name, input);
  *t = nd_tensor_wrap(grad ? in->P.g : in->P.w, 2, ND_SHAPE(in->P.rows, in->P.cols));
  return ND_OK;
}

nd_status nd_somp_net_weight(nd_somp_net *net, int cell, const char *input, nd_tensor *w) {
  return view_param(net, cell, input, false, w, "somp weight");
}
nd_status nd_somp_net_weight_grad(nd_somp_net *net, int cell, const char *input, nd_tensor *g) {
  return view_param(net, cell, input, true, g, "somp weight_grad");
}

static nd_status view_vec(nd_somp_net *net, int cell, int which, nd_tensor *t) {
  ND_TRY(check_cell(net, cell, "somp vector"));
  if (!t) return nd__error(ND_ERR_INVALID_ARG, "somp vector: output is NULL");
  scell *c = &net->cells[cell];
  float *d = which == 0 ? c->b.w : which == 1 ? c->mu.w : c->b.g;
  *t = nd_tensor_wrap(d, 1, ND_SHAPE(c->c.units));
  return ND_OK;
}
nd_status nd_somp_net_bias(nd_somp_net *net, int cell, nd_tensor *b) { return view_vec(net, cell, 0, b); }
nd_status nd_somp_net_noise_mean(nd_somp_net *net, int cell, nd_tensor *mu) { return view_vec(net, cell, 1, mu); }
nd_status nd_somp_net_bias_grad(nd_somp_net *net, int cell, nd_tensor *g) { return view_vec(net, cell, 2, g); }

/* ------------------------------------------------------------ workspace */
static nd_status ensure_ws(nd_somp_net *net, int64_t B, int64_t T) {
  const int64_t BT = B * T;
  if (BT <= net->capBT && B <= net->capB && net->cells[0].Z) return ND_OK;
  const int64_t nBT = BT > net->capBT ? BT : net->capBT, nB = B > net->capB ? B : net->capB;
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    cell_ws_free(c);
    const int64_t u = c->c.units, big = (nBT + nB) * u;
    c->Z = zalloc(nBT * u), c->Bk = zalloc(nBT * u), c->Y = zalloc(big), c->Yh = zalloc(big), c->dY = zalloc(big);
    c->dZ = zalloc(nBT * u), c->G = zalloc(nBT * u), c->Gk = zalloc(nBT * u), c->carry = zalloc(nB * u);
    if (!c->Z || !c->Bk || !c->Y || !c->Yh || !c->dY || !c->dZ || !c->G || !c->Gk || !c->carry)
      return nd__error(ND_ERR_NOMEM, "somp: cannot allocate the workspace of cell '%s' (batch %lld, T %lld)", c->c.name,
                       (long long)B, (long long)T);
  }
  nd_aligned_free(net->ones);
  net->ones = zalloc(nBT);
  if (!net->ones) return nd__error(ND_ERR_NOMEM, "somp: out of memory");
  for (int64_t k = 0; k < nBT; k++) net->ones[k] = 1.0f;
  net->capBT = nBT, net->capB = nB;
  return ND_OK;
}

static nd_status ensure_ext(sext *e, int64_t n) {
  if (n <= e->cap && e->x) return ND_OK;
  nd_aligned_free(e->x), nd_aligned_free(e->xh);
  e->x = zalloc(n), e->xh = zalloc(n);
  if (!e->x || !e->xh) return nd__error(ND_ERR_NOMEM, "somp: cannot allocate an input buffer of %lld floats", (long long)n);
  e->cap = n;
  return ND_OK;
}

/* ------------------------------------------------------------- learning */
nd_somp_learn nd_somp_learn_defaults(void) {
  nd_somp_learn l;
  memset(&l, 0, sizeof l);
  l.plastic = false;
  l.apply = ND_SOMP_ACCUMULATE;
  l.lr = 1e-3, l.eta_sl = 1.0;
  l.optimizer = ND_SOMP_SGD;
  l.beta1 = 0.9, l.beta2 = 0.999, l.eps = 1e-8;
  return l;
}

nd_status nd_somp_net_learn(nd_somp_net *net, const nd_somp_learn *l) {
  if (!net || !l) return nd__error(ND_ERR_INVALID_ARG, "somp learn: NULL argument");
  if (!(l->lr >= 0) || !isfinite(l->lr)) return nd__error(ND_ERR_INVALID_ARG, "somp learn: lr = %g, need >= 0", l->lr);
  if (!isfinite(l->eta_sl)) return nd__error(ND_ERR_INVALID_ARG, "somp learn: eta_sl = %g is not finite", l->eta_sl);
  if ((unsigned)l->apply > ND_SOMP_IMMEDIATE || (unsigned)l->optimizer > ND_SOMP_ADAM)
    return nd__error(ND_ERR_INVALID_ARG, "somp learn: apply %d / optimizer %d unknown", (int)l->apply, (int)l->optimizer);
  if (l->optimizer == ND_SOMP_ADAM && !(l->beta1 >= 0 && l->beta1 < 1 && l->beta2 >= 0 && l->beta2 < 1 && l->eps > 0))
    return nd__error(ND_ERR_INVALID_ARG, "somp learn: Adam beta1 = %g, beta2 = %g, eps = %g: need [0,1), [0,1), > 0",
                     l->beta1, l->beta2, l->eps);
  if (!(l->clip >= 0)) return nd__error(ND_ERR_INVALID_ARG, "somp learn: clip = %g, need >= 0", l->clip);
  if (l->reward) {
    const int64_t n = nd_tensor_numel(l->reward);
    for (int64_t k = 0; k < n; k++)
      if (!isfinite(l->reward->data[k])) return nd__error(ND_ERR_INVALID_ARG, "somp learn: reward[%lld] is not finite", (long long)k);
  }
  net->learn = *l;
  return ND_OK;
}

/* ---------------------------------------------------------------- forward */
static inline float theta(float x) { return x >= 1.0f ? 1.0f : (x <= -1.0f ? -1.0f : 0.0f); }

/* Y_t (slot t+1) from Z_t for one cell; G_t = d yhat / dz * scale when needed */
static void activate(nd_somp_net *net, scell *c, int64_t t) {
  const int64_t B = net->B, u = c->c.units, n = B * u;
  const float *z = c->Z + t * n, *yprev = c->Y + t * n;
  float *y = c->Y + (t + 1) * n, *bk = c->Bk + t * n, *g = c->G + t * n;
  const float *bprev = t > 0 ? c->Bk + (t - 1) * n : NULL;
  const nd_somp_hparams *h = &c->hp;
  if (c->c.mode == ND_SOMP_DENSE) {
    const float a = (float)h->alpha_dense, ia = 1.0f / a;
    for (int64_t k = 0; k < n; k++) y[k] = a * tanhf(z[k] * ia);
    if (c->needs_gain)
      for (int64_t k = 0; k < n; k++) {
        const float q = y[k] * ia;
        g[k] = (1.0f - q * q) * ia * c->scale;
      }
  } else {
    const float a = (float)h->alpha_sparse, ia = 1.0f / a, dec = (float)h->a_decay, dis = (float)h->a_discharge;
    const float thr = (float)h->threshold;
    if (c->c.threshold == ND_SOMP_ON_Z) {
      for (int64_t k = 0; k < n; k++) y[k] = a * theta(z[k] * ia);
      if (c->needs_gain)
        for (int64_t k = 0; k < n; k++) g[k] = ia * c->scale;
    } else {
      for (int64_t k = 0; k < n; k++) bk[k] = (bprev ? dec * bprev[k] : 0.0f) + z[k] - dis * fabsf(yprev[k]);
      if (c->c.threshold == ND_SOMP_BUCKET) {
        for (int64_t k = 0; k < n; k++) y[k] = a * theta(bk[k] * ia);
        if (c->needs_gain)
          for (int64_t k = 0; k < n; k++) g[k] = ia * c->scale;
      } else {
        for (int64_t k = 0; k < n; k++) {
          const float m = fabsf(bk[k]) - thr;
          y[k] = m > 0 ? (bk[k] > 0 ? m : -m) : 0.0f;
        }
        if (c->needs_gain)
          for (int64_t k = 0; k < n; k++) g[k] = fabsf(bk[k]) > thr ? ia * c->scale : 0.0f;
      }
    }
  }
  if (c->Yhat != c->Y) {
    const float ia = 1.0f / c->alpha;
    float *yh = c->Yh + (t + 1) * n;
    for (int64_t k = 0; k < n; k++) yh[k] = y[k] * ia;
  }
}

/* the pre (and its previous step) of input `in` of cell c at step t, rows = B */
static const float *pre_at(const nd_somp_net *net, const sinput *in, int64_t t) {
  const int64_t B = net->B;
  if (in->src >= 0) return net->cells[in->src].Yhat + t * B * in->n; /* slot t = Y_{t-1} */
  return net->ext[in->ext].xhat + t * B * in->n;
}

static float reward_factor(const nd_somp_net *net) {
  const nd_tensor *r = net->learn.reward;
  if (!r) return 1.0f;
  const int64_t n = nd_tensor_numel(r);
  double s = 0;
  for (int64_t k = 0; k < n; k++) s += r->data[k];
  return (float)(1.0 + s / (double)(n > 0 ? n : 1));
}

/* One call of rule instance s (rule r) of cell c, input in (NULL: a vector rule
 * with target vec) on rows [t0, t0 + steps) of the sequence, t0 >= 1;
 * mult scales the rate (w-only rules called once for all steps). */
static nd_status run_rule(nd_somp_net *net, int r, scell *c, sinput *in, sparam *vec, sinst *s, int64_t t0,
                          int64_t steps, float mult) {
  const nd_somp_rule_config *rc = &net->rc[r];
  const int64_t B = net->B, u = c->c.units, rows = steps * B;
  const int64_t npre = in ? in->n : 1;
  sparam *P = in ? &in->P : vec;
  const float *pre = in ? pre_at(net, in, t0) : net->ones;
  const float *prep = in ? pre_at(net, in, t0 - 1) : net->ones;
  const float *post = c->Yhat + (t0 + 1) * B * u, *postp = c->Yhat + t0 * B * u;
  const float *G = c->G + t0 * B * u;
  if (in && c->needs_gain && rc->kind >= ND_SOMP_RULE_MEAN_REG && rc->kind <= ND_SOMP_RULE_TEMPORAL_VIC) {
    const float a = in->src >= 0 ? net->cells[in->src].alpha : (float)(net->ext[in->ext].alpha > 0 ? net->ext[in->ext].alpha : 1.0);
    if (a != 1.0f) {
      for (int64_t k = 0; k < rows * u; k++) c->Gk[k] = G[k] * a;
      G = c->Gk;
    }
  }
  nd_tensor tpre = nd_tensor_wrap((float *)pre, 2, ND_SHAPE(rows, npre));
  nd_tensor tprep = nd_tensor_wrap((float *)prep, 2, ND_SHAPE(rows, npre));
  nd_tensor tpost = nd_tensor_wrap((float *)post, 2, ND_SHAPE(rows, u));
  nd_tensor tpostp = nd_tensor_wrap((float *)postp, 2, ND_SHAPE(rows, u));
  nd_tensor tg = nd_tensor_wrap((float *)G, 2, ND_SHAPE(rows, u));
  nd_tensor tw = nd_tensor_wrap(P->w, 2, ND_SHAPE(P->rows, P->cols));
  nd_plasticity_input pin = {&tpre, &tpost, &tw, NULL, 3, {&tprep, &tpostp, &tg, NULL}};
  float alpha = (float)rc->eta * mult;
  if (rc->reward && net->learn.reward) {
    if (reads_reward(rc->kind) && (nd_tensor_numel(net->learn.reward) == 1 || rows == nd_tensor_numel(net->learn.reward)))
      pin.reward = net->learn.reward;
    else
      alpha *= reward_factor(net);
  }
  const bool immediate = net->learn.apply == ND_SOMP_IMMEDIATE;
  nd_tensor dst = nd_tensor_wrap(immediate ? P->tmp : s->R, 2, ND_SHAPE(P->rows, P->cols));
  const int64_t numel = P->rows * P->cols;
  if (immediate) memset(P->tmp, 0, (size_t)numel * sizeof(float));
  nd_status st = nd_plasticity_accumulate(s->rule, &pin, alpha, &dst);
  if (st != ND_OK) return nd__error(st, "somp rule '%s' on '%s': %s", net->label[r], in ? in->name : "(vector)", nd_last_error());
  if (immediate) {
    nd_axpy((float)net->learn.lr, P->tmp, P->w, numel);
    nd_axpy(1.0f, P->tmp, s->R, numel);
  }
  return ND_OK;
}

/* rule r of cell c on every input it is attached to that this call gives, and on its vectors */
static nd_status run_cell_rule(nd_somp_net *net, int r, scell *c, int64_t t0, int64_t steps, float mult) {
  for (int q = 0; q < c->n_in; q++) {
    sinput *in = c->in[q];
    if (in->inst[r].rule && (in->src >= 0 || in->ext >= 0)) ND_TRY(run_rule(net, r, c, in, NULL, &in->inst[r], t0, steps, mult));
  }
  if (c->vinst_mu[r].rule) ND_TRY(run_rule(net, r, c, NULL, &c->mu, &c->vinst_mu[r], t0, steps, mult));
  if (c->vinst_b[r].rule) ND_TRY(run_rule(net, r, c, NULL, &c->b, &c->vinst_b[r], t0, steps, mult));
  return ND_OK;
}

/* The rules of every cell.  batched = false: on step t, all of them in
 * immediate mode (all = true), else those that cannot be summed in one call;
 * batched = true (accumulated mode, after the loop): the separable ones on
 * all steps' rows in one call, the W-only ones once at rate x (T - 1). */
static nd_status run_rules(nd_somp_net *net, int64_t t, bool batched, bool all) {
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int r = 0; r < net->n_rules; r++) {
      if (net->rc[r].cell != i) continue;
      const nd_somp_rule_kind k = net->rc[r].kind;
      const bool per_sample_reward = net->rc[r].reward && net->learn.reward && nd_tensor_numel(net->learn.reward) > 1 &&
                                     reads_reward(k);
      const bool wo = w_only(k), summed = (separable(k) && !per_sample_reward) || wo;
      if (batched ? !summed : (!all && summed)) continue;
      if (batched) ND_TRY(run_cell_rule(net, r, c, 1, wo ? 1 : net->T - 1, wo ? (float)(net->T - 1) : 1.0f));
      else ND_TRY(run_cell_rule(net, r, c, t, 1, 1.0f));
    }
  }
  return ND_OK;
}

static void zero_R(nd_somp_net *net) {
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int r = 0; r < net->n_rules; r++) {
      for (int q = 0; q < c->n_in; q++)
        if (c->in[q]->inst[r].R) memset(c->in[q]->inst[r].R, 0, (size_t)(c->in[q]->P.rows * c->in[q]->P.cols) * sizeof(float));
      if (c->vinst_mu[r].R) memset(c->vinst_mu[r].R, 0, (size_t)c->c.units * sizeof(float));
      if (c->vinst_b[r].R) memset(c->vinst_b[r].R, 0, (size_t)c->c.units * sizeof(float));
    }
  }
}

static void reset_rules(nd_somp_net *net) {
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int r = 0; r < net->n_rules; r++) {
      const uint64_t base = net->seed * 0x9e3779b97f4a7c15ull + (uint64_t)net->seq * 0x100000001b3ull + (uint64_t)r * 131u + (uint64_t)i;
      for (int q = 0; q < c->n_in; q++) nd_plasticity_rule_reset(c->in[q]->inst[r].rule, base + (uint64_t)q * 7919u);
      nd_plasticity_rule_reset(c->vinst_mu[r].rule, base ^ 0xabcdefull);
      nd_plasticity_rule_reset(c->vinst_b[r].rule, base ^ 0x123457ull);
    }
  }
}

static void rule_norms(nd_somp_net *net) {
  for (int r = 0; r < net->n_rules; r++) {
    double s = 0;
    scell *c = &net->cells[net->rc[r].cell];
    for (int q = 0; q < c->n_in; q++)
      if (c->in[q]->inst[r].R) s += nd_dot(c->in[q]->inst[r].R, c->in[q]->inst[r].R, c->in[q]->P.rows * c->in[q]->P.cols);
    if (c->vinst_mu[r].R) s += nd_dot(c->vinst_mu[r].R, c->vinst_mu[r].R, c->c.units);
    if (c->vinst_b[r].R) s += nd_dot(c->vinst_b[r].R, c->vinst_b[r].R, c->c.units);
    net->norm[r] = sqrt(s);
  }
}

nd_status nd_somp_net_forward(nd_somp_net *net, int n, const nd_somp_input *in, const nd_somp_hparams *call,
                              const nd_somp_hparams *explicit_hp) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "somp forward: network is NULL");
  if (n < 0 || n > ND_SOMP_MAX_INPUTS || (n > 0 && !in))
    return nd__error(ND_ERR_INVALID_ARG, "somp forward: %d inputs, need 0..%d", n, ND_SOMP_MAX_INPUTS);
  net->have_forward = false;
  /* batch and T from the inputs; a network without external inputs needs one */
  int64_t B = -1, T = -1;
  char a[64];
  for (int e = 0; e < n; e++) {
    const nd_tensor *x = in[e].x;
    if (!in[e].name || !in[e].name[0]) return nd__error(ND_ERR_INVALID_ARG, "somp forward: inputs[%d] has no name", e);
    ND_TRY(check_cell(net, in[e].cell, "somp forward"));
    if (!x || x->ndim != 3 || !nd_tensor_is_contiguous(x) || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] < 1)
      return nd__error(ND_ERR_SHAPE, "somp forward: input '%s' is %s, expected contiguous [batch, T, n]", in[e].name,
                       x ? nd_tensor_shape_str(x, a, sizeof a) : "NULL");
    if (B < 0) B = x->shape[0], T = x->shape[1];
    if (x->shape[0] != B || x->shape[1] != T)
      return nd__error(ND_ERR_SHAPE, "somp forward: input '%s' is %s, the first input has batch %lld and T %lld",
                       in[e].name, nd_tensor_shape_str(x, a, sizeof a), (long long)B, (long long)T);
    if (!(in[e].alpha >= 0) || !isfinite(in[e].alpha))
      return nd__error(ND_ERR_INVALID_ARG, "somp forward: input '%s': alpha = %g, need >= 0", in[e].name, in[e].alpha);
    if (nd_somp_net_find(net, in[e].name) >= 0)
      return nd__error(ND_ERR_INVALID_ARG, "somp forward: input '%s' is the name of a cell (cells feed themselves)", in[e].name);
    for (int f = 0; f < e; f++)
      if (in[f].cell == in[e].cell && !strcmp(in[f].name, in[e].name))
        return nd__error(ND_ERR_INVALID_ARG, "somp forward: input '%s' given twice to cell '%s'", in[e].name,
                         net->cells[in[e].cell].c.name);
  }
  if (B < 0) return nd__error(ND_ERR_INVALID_ARG, "somp forward: no input sequence (batch and T come from the inputs)");
  const bool plastic = net->learn.plastic && net->n_rules > 0;
  if (plastic && T < 2)
    return nd__error(ND_ERR_SHAPE, "somp forward: T = %lld, the rules need T >= 2 (the previous step)", (long long)T);
  if (net->learn.reward) {
    const int64_t nr = nd_tensor_numel(net->learn.reward);
    if (nr != 1 && nr != B)
      return nd__error(ND_ERR_SHAPE, "somp forward: reward has %lld elements, expected 1 or batch %lld", (long long)nr, (long long)B);
  }
  /* resolve hyperparameters */
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    nd_status s = nd_somp_hparams_resolve(&c->c.hp, call, explicit_hp, &c->hp);
    if (s != ND_OK) return nd__error(s, "somp forward, cell '%s': %s", c->c.name, nd_last_error());
    c->mu_override = (call && !isnan(call->noise_mean)) || (explicit_hp && !isnan(explicit_hp->noise_mean));
  }
  /* grow inputs seen for the first time */
  for (int e = 0; e < n; e++) ND_TRY(nd_somp_net_connect(net, in[e].cell, in[e].name, in[e].x->shape[2]));
  ND_TRY(ensure_ws(net, B, T));
  net->B = B, net->T = T;
  for (int i = 0; i < net->n; i++)
    for (int q = 0; q < net->cells[i].n_in; q++) net->cells[i].in[q]->ext = -1;
  net->n_ext = n;
  for (int e = 0; e < n; e++) {
    sext *x = &net->ext[e];
    const int64_t nf = in[e].x->shape[2];
    ND_TRY(ensure_ext(x, B * T * nf));
    x->cell = in[e].cell, x->n = nf, x->alpha = in[e].alpha;
    int k = -1;
    find_input(&net->cells[in[e].cell], in[e].name, &k);
    x->input = k;
    net->cells[in[e].cell].in[k]->ext = e;
    const float *src = in[e].x->data;
    for (int64_t b = 0; b < B; b++)
      for (int64_t t = 0; t < T; t++) memcpy(x->x + (t * B + b) * nf, src + (b * T + t) * nf, (size_t)nf * sizeof(float));
    const float al = (float)(in[e].alpha > 0 ? in[e].alpha : 1.0);
    if (al != 1.0f) {
      for (int64_t k2 = 0; k2 < B * T * nf; k2++) x->xh[k2] = x->x[k2] / al;
      x->xhat = x->xh;
    } else {
      x->xhat = x->x;
    }
  }
  const bool immediate = plastic && net->learn.apply == ND_SOMP_IMMEDIATE;
  nd_rng base, rng;
  nd_rng_init(&base, net->seed ^ 0x6a09e667f3bcc909ull);
  rng = nd_rng_split(&base, (uint64_t)net->seq);
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    const int64_t u = c->c.units, rows = B * T;
    c->alpha = (float)(c->c.mode == ND_SOMP_DENSE ? c->hp.alpha_dense : c->hp.alpha_sparse);
    c->Yhat = c->alpha == 1.0f ? c->Y : c->Yh;
    c->needs_gain = false;
    for (int r = 0; r < net->n_rules; r++)
      if (net->rc[r].cell == i && net->rc[r].kind >= ND_SOMP_RULE_MEAN_REG && net->rc[r].kind <= ND_SOMP_RULE_TEMPORAL_VIC)
        c->needs_gain = plastic;
    int k_active = 0;
    for (int q = 0; q < c->n_in; q++) k_active += c->in[q]->src >= 0 || c->in[q]->ext >= 0;
    c->scale = c->c.pool == ND_SOMP_MEAN && k_active > 0 ? 1.0f / (float)k_active : 1.0f;
    /* Z = noise + mu + b, then the external terms */
    if (c->hp.noise_std > 0)
      ND_TRY(nd_rng_normal(&rng, c->Z, rows * u, 0.0f, (float)c->hp.noise_std));
    else
      memset(c->Z, 0, (size_t)(rows * u) * sizeof(float));
    for (int64_t rr = 0; rr < rows; rr++) {
      float *z = c->Z + rr * u;
      for (int64_t j = 0; j < u; j++) z[j] += c->b.w[j] + (c->mu_override ? (float)c->hp.noise_mean : c->mu.w[j]);
    }
    if (!immediate)
      for (int q = 0; q < c->n_in; q++) {
        sinput *inp = c->in[q];
        if (inp->ext < 0) continue;
        nd_sgemm(false, true, rows, u, inp->n, c->scale, net->ext[inp->ext].x, inp->n, inp->P.w, inp->n, 1.0f, c->Z, u);
      }
    memset(c->Y, 0, (size_t)(B * u) * sizeof(float));
    memset(c->Yh, 0, (size_t)(B * u) * sizeof(float));
  }
  if (plastic) {
    reset_rules(net);
    zero_R(net);
  }
  /* the time loop */
  for (int64_t t = 0; t < T; t++) {
    for (int i = 0; i < net->n; i++) {
      scell *c = &net->cells[i];
      const int64_t u = c->c.units;
      float *z = c->Z + t * B * u;
      for (int q = 0; q < c->n_in; q++) {
        sinput *inp = c->in[q];
        if (inp->src >= 0 && t > 0)
          nd_sgemm(false, true, B, u, inp->n, c->scale, net->cells[inp->src].Y + t * B * inp->n, inp->n, inp->P.w,
                   inp->n, 1.0f, z, u);
        else if (immediate && inp->ext >= 0)
          nd_sgemm(false, true, B, u, inp->n, c->scale, net->ext[inp->ext].x + t * B * inp->n, inp->n, inp->P.w, inp->n,
                   1.0f, z, u);
      }
    }
    for (int i = 0; i < net->n; i++) activate(net, &net->cells[i], t);
    if (plastic && t >= 1) ND_TRY(run_rules(net, t, false, immediate));
  }
  if (plastic && !immediate) ND_TRY(run_rules(net, 0, true, false));
  if (plastic) rule_norms(net);
  else
    for (int r = 0; r < net->n_rules; r++) net->norm[r] = 0;
  /* activity */
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    const int64_t m = B * T * c->c.units;
    const float *y = c->Y + B * c->c.units;
    double s = 0;
    int64_t z = 0;
    for (int64_t k = 0; k < m; k++) {
      s += fabsf(y[k]);
      z += y[k] == 0.0f;
    }
    c->rate = s / (double)m / c->alpha;
    c->sparsity = (double)z / (double)m;
  }
  net->seq++;
  net->have_forward = true;
  return ND_OK;
}

nd_status nd_somp_net_output(const nd_somp_net *net, int cell, nd_tensor *y) {
  ND_TRY(check_cell(net, cell, "somp output"));
  if (!net->have_forward) return nd__error(ND_ERR_INVALID_ARG, "somp output: no forward pass yet");
  const scell *c = &net->cells[cell];
  const int64_t B = net->B, T = net->T, u = c->c.units;
  ND_TRY(nd_tensor_check_shape(y, "somp output y", 3, ND_SHAPE(B, T, u)));
  if (!nd_tensor_is_contiguous(y)) return nd__error(ND_ERR_INVALID_ARG, "somp output: y must be contiguous");
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++)
      memcpy(y->data + (b * T + t) * u, c->Y + ((t + 1) * B + b) * u, (size_t)u * sizeof(float));
  return ND_OK;
}

nd_status nd_somp_net_output_step(nd_somp_net *net, int cell, int64_t t, nd_tensor *y) {
  ND_TRY(check_cell(net, cell, "somp output_step"));
  if (!net->have_forward) return nd__error(ND_ERR_INVALID_ARG, "somp output_step: no forward pass yet");
  if (!y || t < 0 || t >= net->T)
    return nd__error(ND_ERR_INVALID_ARG, "somp output_step: t = %lld, the last forward had T = %lld", (long long)t,
                     (long long)net->T);
  const scell *c = &net->cells[cell];
  *y = nd_tensor_wrap(c->Y + (t + 1) * net->B * c->c.units, 2, ND_SHAPE(net->B, c->c.units));
  return ND_OK;
}

nd_status nd_somp_net_activity(const nd_somp_net *net, int cell, double *rate, double *sparsity) {
  ND_TRY(check_cell(net, cell, "somp activity"));
  if (rate) *rate = net->cells[cell].rate;
  if (sparsity) *sparsity = net->cells[cell].sparsity;
  return ND_OK;
}

double nd_somp_net_rule_norm(const nd_somp_net *net, int rule) {
  return net && rule >= 0 && rule < net->n_rules ? net->norm[rule] : NAN;
}
const char *nd_somp_net_rule_label(const nd_somp_net *net, int rule) {
  return net && rule >= 0 && rule < net->n_rules ? net->label[rule] : NULL;
}
int64_t nd_somp_net_sequences(const nd_somp_net *net) { return net ? net->seq : -1; }

nd_status nd_somp_net_set_sequences(nd_somp_net *net, int64_t seq) {
  if (!net || seq < 0) return nd__error(ND_ERR_INVALID_ARG, "somp set_sequences: network NULL or seq = %lld < 0", (long long)seq);
  net->seq = seq;
  return ND_OK;
}

/* --------------------------------------------------------------- backward */
nd_status nd_somp_net_backward(nd_somp_net *net, const nd_tensor *const *dy, nd_tensor *const *dx) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "somp backward: network is NULL");
  if (!net->have_forward) return nd__error(ND_ERR_INVALID_ARG, "somp backward: no forward pass to differentiate");
  const int64_t B = net->B, T = net->T;
  char a[64];
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    const int64_t u = c->c.units;
    memset(c->dY, 0, (size_t)((T + 1) * B * u) * sizeof(float));
    memset(c->carry, 0, (size_t)(B * u) * sizeof(float));
    if (dy && dy[i]) {
      const nd_tensor *g = dy[i];
      if (g->ndim != 3 || g->shape[0] != B || g->shape[1] != T || g->shape[2] != u || !nd_tensor_is_contiguous(g))
        return nd__error(ND_ERR_SHAPE, "somp backward: dy[%d] (cell '%s') is %s, expected [%lld, %lld, %lld]", i,
                         c->c.name, nd_tensor_shape_str(g, a, sizeof a), (long long)B, (long long)T, (long long)u);
      for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
          memcpy(c->dY + ((t + 1) * B + b) * u, g->data + (b * T + t) * u, (size_t)u * sizeof(float));
    }
  }
  if (dx)
    for (int e = 0; e < net->n_ext; e++)
      if (dx[e]) {
        const sext *x = &net->ext[e];
        if (dx[e]->ndim != 3 || dx[e]->shape[0] != B || dx[e]->shape[1] != T || dx[e]->shape[2] != x->n ||
            !nd_tensor_is_contiguous(dx[e]))
          return nd__error(ND_ERR_SHAPE, "somp backward: dx[%d] is %s, expected [%lld, %lld, %lld]", e,
                           nd_tensor_shape_str(dx[e], a, sizeof a), (long long)B, (long long)T, (long long)x->n);
      }
  for (int64_t t = T - 1; t >= 0; t--) {
    for (int i = 0; i < net->n; i++) {
      scell *c = &net->cells[i];
      const int64_t u = c->c.units, n = B * u;
      const float *g = c->dY + (t + 1) * n, *y = c->Y + (t + 1) * n, *yprev = c->Y + t * n, *bk = c->Bk + t * n;
      float *dz = c->dZ + t * n, *dyprev = c->dY + t * n;
      if (c->c.mode == ND_SOMP_DENSE) {
        const float ia = 1.0f / (float)c->hp.alpha_dense;
        for (int64_t k = 0; k < n; k++) {
          const float q = y[k] * ia;
          dz[k] = g[k] * (1.0f - q * q);
        }
      } else if (c->c.threshold == ND_SOMP_ON_Z) {
        memcpy(dz, g, (size_t)n * sizeof(float));
      } else {
        const float dec = (float)c->hp.a_decay, dis = (float)c->hp.a_discharge, thr = (float)c->hp.threshold;
        const bool soft = c->c.threshold == ND_SOMP_SOFT;
        for (int64_t k = 0; k < n; k++) {
          const float db = (soft ? (fabsf(bk[k]) > thr ? g[k] : 0.0f) : g[k]) + c->carry[k];
          dz[k] = db;
          c->carry[k] = dec * db;
          /* B_t = ... - a_dis |Y_{t-1}|: d|Y|/dY = sign(Y) */
          if (t > 0 && dis != 0.0f) dyprev[k] -= dis * (float)((yprev[k] > 0) - (yprev[k] < 0)) * db;
        }
      }
    }
    if (t == 0) break;
    for (int i = 0; i < net->n; i++) {
      scell *c = &net->cells[i];
      const int64_t u = c->c.units;
      for (int q = 0; q < c->n_in; q++) {
        sinput *inp = c->in[q];
        if (inp->src < 0) continue;
        scell *s = &net->cells[inp->src];
        nd_sgemm(false, false, B, inp->n, u, c->scale, c->dZ + t * B * u, u, inp->P.w, inp->n, 1.0f,
                 s->dY + t * B * inp->n, inp->n);
      }
    }
  }
  /* parameter gradients over the whole sequence */
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    const int64_t u = c->c.units;
    for (int q = 0; q < c->n_in; q++) {
      sinput *inp = c->in[q];
      if (inp->src >= 0) {
        if (T > 1)
          nd_sgemm(true, false, u, inp->n, (T - 1) * B, c->scale, c->dZ + B * u, u, net->cells[inp->src].Y + B * inp->n,
                   inp->n, 1.0f, inp->P.g, inp->n);
      } else if (inp->ext >= 0) {
        const sext *x = &net->ext[inp->ext];
        nd_sgemm(true, false, u, inp->n, T * B, c->scale, c->dZ, u, x->x, inp->n, 1.0f, inp->P.g, inp->n);
      }
    }
    /* db = sum of dZ over all T B rows, row by row (contiguous) */
    for (int64_t rr = 0; rr < T * B; rr++) {
      const float *dz = c->dZ + rr * u;
      float *gb = c->b.g;
#pragma omp simd
      for (int64_t j = 0; j < u; j++) gb[j] += dz[j];
    }
  }
  if (dx)
    for (int e = 0; e < net->n_ext; e++) {
      if (!dx[e]) continue;
      sext *x = &net->ext[e];
      scell *c = &net->cells[x->cell];
      sinput *inp = c->in[x->input];
      const int64_t u = c->c.units;
      /* dX (time-major) = scale dZ W into the buffer of the input's hats (the
       * rules that read them ran in forward), then to [B, T, n] */
      float *tmp = x->xh;
      nd_sgemm(false, false, T * B, inp->n, u, c->scale, c->dZ, u, inp->P.w, inp->n, 0.0f, tmp, inp->n);
      for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
          memcpy(dx[e]->data + (b * T + t) * inp->n, tmp + (t * B + b) * inp->n, (size_t)inp->n * sizeof(float));
    }
  return ND_OK;
}

void nd_somp_net_zero_grad(nd_somp_net *net) {
  if (!net) return;
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int q = 0; q < c->n_in; q++) memset(c->in[q]->P.g, 0, (size_t)(c->in[q]->P.rows * c->in[q]->P.cols) * sizeof(float));
    memset(c->b.g, 0, (size_t)c->c.units * sizeof(float));
    memset(c->mu.g, 0, (size_t)c->c.units * sizeof(float));
  }
}

/* ------------------------------------------------------------------- step */
/* g <- eta_SL g - sum_r R_r (accumulated mode) for one parameter; returns |g|^2 */
static double combine(nd_somp_net *net, sparam *P, sinst *inst) {
  const int64_t n = P->rows * P->cols;
  const float e = (float)net->learn.eta_sl;
  if (e != 1.0f) nd_scale(e, P->g, n);
  if (net->learn.apply == ND_SOMP_ACCUMULATE && net->learn.plastic)
    for (int r = 0; r < net->n_rules; r++)
      if (inst[r].R) nd_axpy(-1.0f, inst[r].R, P->g, n);
  return nd_dot(P->g, P->g, n);
}

static void update(nd_somp_net *net, sparam *P, float f) {
  const int64_t n = P->rows * P->cols;
  const float lr = (float)net->learn.lr;
  if (net->learn.optimizer == ND_SOMP_SGD) {
    nd_axpy(-lr * f, P->g, P->w, n);
  } else { /* Adam (Kingma & Ba 2015, Algorithm 1) */
    const double b1 = net->learn.beta1, b2 = net->learn.beta2, t = (double)net->adam_t;
    const float c1 = (float)(1.0 / (1.0 - pow(b1, t))), c2 = (float)(1.0 / (1.0 - pow(b2, t)));
    const float eps = (float)net->learn.eps;
    for (int64_t k = 0; k < n; k++) {
      const float g = f * P->g[k];
      P->m[k] = (float)b1 * P->m[k] + (float)(1 - b1) * g;
      P->v[k] = (float)b2 * P->v[k] + (float)(1 - b2) * g * g;
      P->w[k] -= lr * (P->m[k] * c1) / (sqrtf(P->v[k] * c2) + eps);
    }
  }
  memset(P->g, 0, (size_t)n * sizeof(float));
}

nd_status nd_somp_net_step(nd_somp_net *net) {
  if (!net) return nd__error(ND_ERR_INVALID_ARG, "somp step: network is NULL");
  double s = 0;
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int q = 0; q < c->n_in; q++) s += combine(net, &c->in[q]->P, c->in[q]->inst);
    s += combine(net, &c->b, c->vinst_b);
    s += combine(net, &c->mu, c->vinst_mu);
  }
  if (!isfinite(s)) return nd__error(ND_ERR_NUMERIC, "somp step: the combined update is not finite");
  float f = 1.0f;
  if (net->learn.clip > 0 && sqrt(s) > net->learn.clip) f = (float)(net->learn.clip / sqrt(s));
  net->adam_t++;
  for (int i = 0; i < net->n; i++) {
    scell *c = &net->cells[i];
    for (int q = 0; q < c->n_in; q++) update(net, &c->in[q]->P, f);
    update(net, &c->b, f);
    update(net, &c->mu, f);
  }
  if (net->learn.plastic) zero_R(net);
  return ND_OK;
}
