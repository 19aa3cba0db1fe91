/* Grid models (include/neurodyn/grid3d.h): config, topology (groups,
 * neighbour lists within the radius and their reverse lists for the
 * backward pass), node allocation and growth, counters. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "internal.h"

nd_grid3d_config nd_grid3d_defaults(void) {
  nd_grid3d_config c;
  memset(&c, 0, sizeof c);
  c.nx = 7, c.ny = 7, c.nz = 3;
  c.dim = 8;
  c.radius = 1.5f;
  c.steps = 1;
  c.in_h = 28, c.in_w = 28;
  c.classes = 10;
  c.growth = true;
  c.threshold = 0.0f;
  c.patience = 50;
  c.method = ND_CREDIT_BP;
  c.beta1 = 0.9f, c.beta2 = 0.999f, c.eps = 1e-8f;
  return c;
}

nd_status nd_grid3d_config_check(const nd_grid3d_config *c) {
  if (!c) return nd__error(ND_ERR_INVALID_ARG, "grid3d: config is NULL");
  if (!c->positions && (c->nx < 1 || c->ny < 1 || c->nz < 1 || c->nx * c->ny * c->nz > 1000000))
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: grid %lldx%lldx%lld, need sizes >= 1 and at most 1e6 nodes",
                     (long long)c->nx, (long long)c->ny, (long long)c->nz);
  if (c->positions && (c->n_nodes < 1 || c->n_nodes > 1000000))
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: n_nodes = %lld, need 1..1e6", (long long)c->n_nodes);
  for (int64_t i = 0; c->positions && i < 3 * c->n_nodes; i++)
    if (!isfinite(c->positions[i]))
      return nd__error(ND_ERR_INVALID_ARG, "grid3d: positions[%lld] is not finite", (long long)(i / 3));
  if (c->dim < 1 || c->dim > 4096) return nd__error(ND_ERR_INVALID_ARG, "grid3d: dim = %lld, need 1..4096", (long long)c->dim);
  if (!(c->radius >= 0.0f) || !isfinite(c->radius))
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: radius = %g, need a finite value >= 0", (double)c->radius);
  if (c->steps < 1 || c->steps > 1000) return nd__error(ND_ERR_INVALID_ARG, "grid3d: steps = %d, need 1..1000", c->steps);
  if (c->in_h < 1 || c->in_w < 1 || c->in_h * c->in_w > 100000000)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: image %lldx%lld, need sizes >= 1", (long long)c->in_h, (long long)c->in_w);
  if (c->classes < 2 || c->classes > 100000)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: classes = %lld, need 2..1e5", (long long)c->classes);
  if (!isfinite(c->threshold)) return nd__error(ND_ERR_INVALID_ARG, "grid3d: threshold is not finite");
  if (c->patience < 1) return nd__error(ND_ERR_INVALID_ARG, "grid3d: patience = %lld, need >= 1", (long long)c->patience);
  if (c->method != ND_CREDIT_BP && c->method != ND_CREDIT_DFA && c->method != ND_CREDIT_FF)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: method = %s, need bp, dfa or ff",
                     nd_credit_method_name(c->method) ? nd_credit_method_name(c->method) : "?");
  if (c->method == ND_CREDIT_DFA && !c->positions && c->nz > ND_CUSTOM_MAX_INPUTS - 1)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: method = dfa takes at most %d groups (z values), got nz = %lld",
                     ND_CUSTOM_MAX_INPUTS - 1, (long long)c->nz);
  if (!(c->ff_theta >= 0.0f) || !isfinite(c->ff_theta))
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: ff_theta = %g, need a finite value >= 0", (double)c->ff_theta);
  if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) || !(c->eps > 0))
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: Adam beta1 = %g, beta2 = %g, eps = %g, need betas in [0, 1), eps > 0",
                     (double)c->beta1, (double)c->beta2, (double)c->eps);
  return ND_OK;
}

void nd_grid3d_free(nd_grid3d *m) {
  if (!m) return;
  for (int64_t i = 0; m->nodes && i < m->n; i++) free(m->nodes[i].block);
  for (int g = 0; g < ND_GRID3D_MAX_GROUPS; g++) {
    free(m->rff_start[g]), free(m->rff[g]), free(m->rlat_start[g]), free(m->rlat[g]);
    nd_tensor_release(&m->feedback[g]);
  }
  nd_tensor_release(&m->anchor), nd_tensor_release(&m->anchor_grad);
  nd_tensor_release(&m->ro_w), nd_tensor_release(&m->ro_b), nd_tensor_release(&m->ro_gw), nd_tensor_release(&m->ro_gb);
  free(m->nodes), free(m->idx), free(m->positions);
  nd_tape_free(m->tape);
  nd_sampler_release(&m->sampler);
  free(m->xbuf), free(m->ybuf);
  free(m);
}

static int cmp_z(const void *a, const void *b) {
  const float *pa = *(const float *const *)a, *pb = *(const float *const *)b;
  if (pa[2] != pb[2]) return pa[2] < pb[2] ? -1 : 1;
  return pa < pb ? -1 : pa > pb; /* stable: the original order */
}

static float dist2(const float *a, const float *b, int dims) {
  float s = 0;
  for (int k = 0; k < dims; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return s;
}

/* Positions in group order, groups from the distinct z values. */
static nd_status place_nodes(nd_grid3d *m) {
  const nd_grid3d_config *c = &m->c;
  m->n = c->positions ? c->n_nodes : c->nx * c->ny * c->nz;
  m->nodes = calloc((size_t)m->n, sizeof *m->nodes);
  float *raw = malloc((size_t)m->n * 3 * sizeof(float));
  const float **order = malloc((size_t)m->n * sizeof *order);
  if (!m->nodes || !raw || !order) {
    free(raw), free(order);
    return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for %lld nodes", (long long)m->n);
  }
  if (c->positions) memcpy(raw, c->positions, (size_t)m->n * 3 * sizeof(float));
  else
    for (int64_t z = 0, i = 0; z < c->nz; z++)
      for (int64_t y = 0; y < c->ny; y++)
        for (int64_t x = 0; x < c->nx; x++, i++) raw[3 * i] = (float)x, raw[3 * i + 1] = (float)y, raw[3 * i + 2] = (float)z;
  for (int64_t i = 0; i < m->n; i++) order[i] = raw + 3 * i;
  qsort(order, (size_t)m->n, sizeof *order, cmp_z);
  nd_status s = ND_OK;
  m->n_groups = 0;
  for (int64_t i = 0; i < m->n && s == ND_OK; i++) {
    g3_node *nd = &m->nodes[i];
    memcpy(nd->pos, order[i], sizeof nd->pos);
    if (i == 0 || nd->pos[2] != m->nodes[i - 1].pos[2]) {
      if (m->n_groups == ND_GRID3D_MAX_GROUPS) {
        s = nd__error(ND_ERR_INVALID_ARG, "grid3d: more than %d distinct z values (groups)", ND_GRID3D_MAX_GROUPS);
        break;
      }
      m->gstart[m->n_groups++] = i;
    }
    nd->group = m->n_groups - 1;
    nd->local = i - m->gstart[nd->group];
  }
  m->gstart[m->n_groups] = m->n;
  free(raw), free(order);
  return s;
}

/* The group-0 node nearest in (x, y) to each pixel (grid3d.h). */
static nd_status pixel_owner(const nd_grid3d *m, int64_t *owner) {
  const nd_grid3d_config *c = &m->c;
  float xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (int64_t i = 0; i < m->gstart[1]; i++) {
    const float *p = m->nodes[i].pos;
    xmin = fminf(xmin, p[0]), xmax = fmaxf(xmax, p[0]), ymin = fminf(ymin, p[1]), ymax = fmaxf(ymax, p[1]);
  }
  for (int64_t u = 0; u < c->in_h; u++)
    for (int64_t v = 0; v < c->in_w; v++) {
      float q[2] = {xmin + ((float)v + 0.5f) * (xmax - xmin + 1) / (float)c->in_w - 0.5f,
                    ymin + ((float)u + 0.5f) * (ymax - ymin + 1) / (float)c->in_h - 0.5f};
      int64_t best = 0;
      float bd = INFINITY;
      for (int64_t i = 0; i < m->gstart[1]; i++) {
        float d = dist2(m->nodes[i].pos, q, 2);
        if (d < bd) bd = d, best = i;
      }
      owner[u * c->in_w + v] = best;
    }
  return ND_OK;
}

/* Reverse list of one input of group g: for each of `cols` columns the
 * (backward-buffer row, local node) pairs that read it. */
static nd_status reverse_list(nd_grid3d *m, int g, bool lateral, int64_t cols, int64_t **start_out, int64_t **list_out) {
  int64_t *start = calloc((size_t)cols + 1, sizeof *start);
  if (!start) return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for the neighbour lists");
  for (int64_t i = m->gstart[g]; i < m->gstart[g + 1]; i++) {
    const g3_node *nd = &m->nodes[i];
    const int64_t *ix = m->idx + nd->idx_off + (lateral ? nd->fan_ff : 0);
    for (int64_t f = 0, nf = lateral ? nd->fan_lat : nd->fan_ff; f < nf; f++) start[ix[f] + 1]++;
  }
  for (int64_t k = 0; k < cols; k++) start[k + 1] += start[k];
  int64_t *list = malloc((size_t)(2 * start[cols] + 1) * sizeof *list), *fill = malloc((size_t)cols * sizeof *fill + 1);
  if (!list || !fill) {
    free(start), free(list), free(fill);
    return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for the neighbour lists");
  }
  memcpy(fill, start, (size_t)cols * sizeof *fill);
  for (int64_t i = m->gstart[g]; i < m->gstart[g + 1]; i++) {
    const g3_node *nd = &m->nodes[i];
    int64_t f0 = lateral ? nd->fan_ff : 0, nf = lateral ? nd->fan_lat : nd->fan_ff;
    for (int64_t f = 0; f < nf; f++) {
      int64_t col = m->idx[nd->idx_off + f0 + f], e = fill[col]++;
      list[2 * e] = nd->row_off + f0 + f, list[2 * e + 1] = nd->local;
    }
  }
  free(fill);
  *start_out = start, *list_out = list;
  return ND_OK;
}

/* Neighbour lists: each node's input columns (grid3d.h, "Topology"). */
static nd_status connect(nd_grid3d *m) {
  const nd_grid3d_config *c = &m->c;
  const int64_t d = c->dim, pixels = c->in_h * c->in_w;
  const float r2 = c->radius * c->radius * (1.0f + 1e-6f) + 1e-12f;
  int64_t *owner = malloc((size_t)pixels * sizeof *owner);
  if (!owner) return nd__error(ND_ERR_NOMEM, "grid3d: out of memory");
  pixel_owner(m, owner);
  /* two passes: count, then fill */
  int64_t total = 0;
  for (int pass = 0; pass < 2; pass++) {
    int64_t at = 0;
    for (int64_t i = 0; i < m->n; i++) {
      g3_node *nd = &m->nodes[i];
      int g = nd->group;
      int64_t *ix = pass ? m->idx + at : NULL, k = 0;
      if (g == 0) {
        for (int64_t l = 0; l < m->label_cols; l++, k++) if (ix) ix[k] = l;
        for (int64_t p = 0; p < pixels; p++)
          if (owner[p] == i) {
            if (ix) ix[k] = m->label_cols + p;
            k++;
          }
      } else {
        for (int64_t j = m->gstart[g - 1]; j < m->gstart[g]; j++)
          if (dist2(nd->pos, m->nodes[j].pos, 3) <= r2) {
            for (int64_t e = 0; e < d && ix; e++) ix[k + e] = m->nodes[j].local * d + e;
            k += d;
          }
      }
      nd->fan_ff = k;
      if (g3_has_lateral(m))
        for (int64_t j = m->gstart[g]; j < m->gstart[g + 1]; j++) {
          bool self = j == i;
          if ((self && c->recurrent) || (!self && c->lateral && dist2(nd->pos, m->nodes[j].pos, 3) <= r2)) {
            for (int64_t e = 0; e < d && ix; e++) ix[k + e] = m->nodes[j].local * d + e;
            k += d;
          }
        }
      nd->fan_lat = k - nd->fan_ff;
      nd->idx_off = at;
      at += k;
    }
    if (!pass) {
      total = at;
      m->idx = malloc((size_t)(total + 1) * sizeof *m->idx);
      if (!m->idx) {
        free(owner);
        return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for %lld neighbour entries", (long long)total);
      }
    }
  }
  free(owner);
  m->fan_max = 1;
  for (int g = 0; g < m->n_groups; g++) {
    int64_t off = 0;
    for (int64_t i = m->gstart[g]; i < m->gstart[g + 1]; i++) {
      g3_node *nd = &m->nodes[i];
      nd->row_off = off;
      off += nd->fan_ff + nd->fan_lat;
      m->fan_max = ND__MAX(m->fan_max, nd->fan_ff + nd->fan_lat);
    }
    m->gfan[g] = off;
    int64_t cin = g == 0 ? m->in_cols : g3_group_size(m, g - 1) * d;
    ND_TRY(reverse_list(m, g, false, cin, &m->rff_start[g], &m->rff[g]));
    if (g3_has_lateral(m)) ND_TRY(reverse_list(m, g, true, g3_group_size(m, g) * d, &m->rlat_start[g], &m->rlat[g]));
  }
  return ND_OK;
}

static nd_status make_readout(nd_grid3d *m) {
  const nd_grid3d_config *c = &m->c;
  int top = m->n_groups - 1;
  int64_t fin = g3_group_size(m, top) * c->dim;
  ND_TRY(nd_tensor_alloc(&m->ro_w, 2, ND_SHAPE(c->classes, fin)));
  ND_TRY(nd_tensor_alloc(&m->ro_b, 1, ND_SHAPE(c->classes)));
  ND_TRY(nd_tensor_alloc(&m->ro_gw, 2, ND_SHAPE(c->classes, fin)));
  ND_TRY(nd_tensor_alloc(&m->ro_gb, 1, ND_SHAPE(c->classes)));
  m->rop[0] = &m->ro_w, m->rop[1] = &m->ro_b, m->rog[0] = &m->ro_gw, m->rog[1] = &m->ro_gb;
  nd_rng root, rng;
  nd_rng_init(&root, c->seed);
  rng = nd_rng_split(&root, 1);
  float bound = (float)(1.0 / sqrt((double)fin)); /* Kaiming uniform, as nn.Linear */
  nd_rng_uniform(&rng, m->ro_w.data, c->classes * fin, -bound, bound);
  nd_rng_uniform(&rng, m->ro_b.data, c->classes, -bound, bound);
  if (c->method == ND_CREDIT_DFA) { /* Nokland's code: D ~ U(+-1/sqrt(n)), fixed */
    rng = nd_rng_split(&root, 0xfeedbac);
    for (int g = 0; g < m->n_groups; g++) {
      int64_t n = g3_group_size(m, g) * c->dim;
      ND_TRY(nd_tensor_alloc(&m->feedback[g], 2, ND_SHAPE(c->classes, n)));
      float b = (float)(1.0 / sqrt((double)n));
      nd_rng_uniform(&rng, m->feedback[g].data, c->classes * n, -b, b);
    }
  }
  return ND_OK;
}

nd_status nd_grid3d_create(const nd_grid3d_config *c, nd_grid3d **out) {
  if (!out) return nd__error(ND_ERR_INVALID_ARG, "grid3d: out is NULL");
  *out = NULL;
  ND_TRY(nd_grid3d_config_check(c));
  nd_grid3d *m = calloc(1, sizeof *m);
  if (!m) return nd__error(ND_ERR_NOMEM, "grid3d: out of memory");
  m->c = *c;
  nd_status s = ND_OK;
  if (c->positions) {
    m->positions = malloc((size_t)c->n_nodes * 3 * sizeof(float));
    if (!m->positions) s = nd__error(ND_ERR_NOMEM, "grid3d: out of memory");
    else memcpy(m->positions, c->positions, (size_t)c->n_nodes * 3 * sizeof(float));
    m->c.positions = m->positions;
  }
  m->label_cols = c->method == ND_CREDIT_FF ? c->classes : 0;
  m->in_cols = m->label_cols + c->in_h * c->in_w;
  if (s == ND_OK) s = place_nodes(m);
  if (s == ND_OK && c->method == ND_CREDIT_DFA && m->n_groups > ND_CUSTOM_MAX_INPUTS - 1)
    s = nd__error(ND_ERR_INVALID_ARG, "grid3d: method = dfa takes at most %d groups (z values), got %d",
                  ND_CUSTOM_MAX_INPUTS - 1, m->n_groups);
  if (s == ND_OK) s = connect(m);
  if (s == ND_OK) s = make_readout(m);
  if (s == ND_OK) s = nd_tensor_alloc(&m->anchor, 1, ND_SHAPE(1));
  if (s == ND_OK) s = nd_tensor_alloc(&m->anchor_grad, 1, ND_SHAPE(1));
  if (s == ND_OK) s = nd_tape_create(0, &m->tape);
  for (int64_t i = 0; s == ND_OK && !c->growth && i < m->n; i++) s = nd__g3_alloc_node(m, i);
  if (s != ND_OK) {
    nd_grid3d_free(m);
    return s;
  }
  m->stats.births = 0;
  *out = m;
  return ND_OK;
}

const nd_grid3d_config *nd_grid3d_config_of(const nd_grid3d *m) { return m ? &m->c : NULL; }
int64_t nd_grid3d_num_nodes(const nd_grid3d *m) { return m ? m->n : 0; }
int nd_grid3d_num_groups(const nd_grid3d *m) { return m ? m->n_groups : 0; }

nd_status nd_grid3d_node_info(const nd_grid3d *m, int64_t i, float *pos, int *group, int64_t *fan_in) {
  if (!m || i < 0 || i >= m->n)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: node %lld is outside 0..%lld", (long long)i, m ? (long long)m->n - 1 : -1LL);
  const g3_node *nd = &m->nodes[i];
  if (pos) memcpy(pos, nd->pos, sizeof nd->pos);
  if (group) *group = nd->group;
  if (fan_in) *fan_in = nd->fan_ff + nd->fan_lat;
  return ND_OK;
}

static nd_status node_block(nd_grid3d *m, int64_t i, int part, float **w, float **b) {
  if (!m || i < 0 || i >= m->n || !w || !b)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: node %lld is outside 0..%lld", (long long)i, m ? (long long)m->n - 1 : -1LL);
  g3_node *nd = &m->nodes[i];
  if (!nd->block) {
    *w = *b = NULL;
    return ND_OK;
  }
  int64_t np = g3_np(m, nd);
  *w = nd->block + part * np;
  *b = *w + m->c.dim * (nd->fan_ff + nd->fan_lat);
  return ND_OK;
}

nd_status nd_grid3d_node_params(nd_grid3d *m, int64_t i, float **w, float **b) { return node_block(m, i, 0, w, b); }
nd_status nd_grid3d_node_grads(nd_grid3d *m, int64_t i, float **gw, float **gb) { return node_block(m, i, 1, gw, gb); }
bool nd_grid3d_node_allocated(const nd_grid3d *m, int64_t i) { return m && i >= 0 && i < m->n && m->nodes[i].block; }

nd_status nd_grid3d_set_allocated(nd_grid3d *m, int64_t i, bool on) {
  if (!m || i < 0 || i >= m->n)
    return nd__error(ND_ERR_INVALID_ARG, "grid3d: node %lld is outside 0..%lld", (long long)i, m ? (long long)m->n - 1 : -1LL);
  if (on && !m->nodes[i].block) return nd__g3_alloc_node(m, i);
  if (!on) nd__g3_free_node(m, i);
  return ND_OK;
}

nd_status nd__g3_alloc_node(nd_grid3d *m, int64_t i) {
  g3_node *nd = &m->nodes[i];
  if (nd->block) return ND_OK;
  int64_t np = g3_np(m, nd), fan = nd->fan_ff + nd->fan_lat;
  nd->block = calloc((size_t)(4 * np), sizeof(float));
  if (!nd->block) return nd__error(ND_ERR_NOMEM, "grid3d: out of memory for node %lld", (long long)i);
  nd_rng root, rng;
  nd_rng_init(&root, m->c.seed);
  rng = nd_rng_split(&root, ((uint64_t)(i + 1) << 24) | (uint64_t)(nd->births & 0xffffff)); /* by node and birth */
  float bound = fan > 0 ? (float)(1.0 / sqrt((double)fan)) : 1.0f; /* Kaiming uniform, as nn.Linear */
  nd_rng_uniform(&rng, nd->block, np, -bound, bound);
  nd->births++;
  nd->steps = 0;
  nd->idle = 0;
  m->stats.births++;
  return ND_OK;
}

void nd__g3_free_node(nd_grid3d *m, int64_t i) {
  g3_node *nd = &m->nodes[i];
  if (!nd->block) return;
  free(nd->block);
  nd->block = NULL;
  nd->steps = 0;
  m->stats.deaths++;
}

nd_status nd_grid3d_grow(nd_grid3d *m) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "grid3d grow: model is NULL");
  for (int64_t i = 0; i < m->n; i++) {
    g3_node *nd = &m->nodes[i];
    if (nd->requested) nd->idle = 0;
    else nd->idle++;
    if (m->c.growth) {
      if (nd->requested && !nd->block) ND_TRY(nd__g3_alloc_node(m, i));
      else if (!nd->requested && nd->block && nd->idle >= m->c.patience) nd__g3_free_node(m, i);
    }
    nd->requested = 0, nd->computed = 0;
  }
  return ND_OK;
}

nd_tensor *const *nd_grid3d_readout_params(nd_grid3d *m) { return m ? m->rop : NULL; }
nd_tensor *const *nd_grid3d_readout_grads(nd_grid3d *m) { return m ? m->rog : NULL; }
nd_tensor *nd_grid3d_feedback(nd_grid3d *m, int group) {
  return m && group >= 0 && group < m->n_groups && m->feedback[group].data ? &m->feedback[group] : NULL;
}

int64_t nd_grid3d_num_allocated(const nd_grid3d *m) {
  int64_t k = 0;
  for (int64_t i = 0; m && i < m->n; i++) k += m->nodes[i].block != NULL;
  return k;
}

static int64_t count_params(const nd_grid3d *m, bool dense) {
  int64_t k = nd_tensor_numel(&m->ro_w) + nd_tensor_numel(&m->ro_b);
  for (int64_t i = 0; i < m->n; i++)
    if (dense || m->nodes[i].block) k += g3_np(m, &m->nodes[i]);
  return k;
}
int64_t nd_grid3d_param_count(const nd_grid3d *m) { return m ? count_params(m, false) : 0; }
int64_t nd_grid3d_param_count_dense(const nd_grid3d *m) { return m ? count_params(m, true) : 0; }

nd_grid3d_stats nd_grid3d_get_stats(const nd_grid3d *m) { return m ? m->stats : (nd_grid3d_stats){0}; }
void nd_grid3d_reset_stats(nd_grid3d *m) {
  if (m) m->stats = (nd_grid3d_stats){0};
}

nd_status nd_grid3d_set_progress(nd_grid3d *m, nd_progress_fn fn, void *user) {
  if (!m) return nd__error(ND_ERR_INVALID_ARG, "nd_grid3d_set_progress: model is NULL");
  m->progress = fn, m->progress_user = user;
  return ND_OK;
}

nd_status nd_grid3d_read_positions(const char *path, float **xyz, int64_t *n) {
  if (!path || !xyz || !n) return nd__error(ND_ERR_INVALID_ARG, "grid3d positions: NULL argument");
  *xyz = NULL, *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) return nd__error(ND_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  int64_t cap = 0, count = 0, line_no = 0;
  float *buf = NULL;
  char line[512];
  nd_status s = ND_OK;
  while (s == ND_OK && fgets(line, sizeof line, f)) {
    line_no++;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    for (char *p = line; *p; p++)
      if (*p == ',') *p = ' ';
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) continue;
    float v[3];
    char *end = p;
    int k = 0;
    for (; k < 3; k++) {
      errno = 0;
      v[k] = strtof(p, &end);
      if (end == p || errno || !isfinite(v[k])) break;
      p = end;
    }
    while (isspace((unsigned char)*p)) p++;
    if (k < 3 || *p) {
      s = nd__error(ND_ERR_FORMAT, "%s:%lld: need three finite numbers x y z", path, (long long)line_no);
      break;
    }
    if (count == cap) {
      cap = cap ? 2 * cap : 256;
      float *nb = realloc(buf, (size_t)cap * 3 * sizeof(float));
      if (!nb) {
        s = nd__error(ND_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
      buf = nb;
    }
    memcpy(buf + 3 * count++, v, sizeof v);
  }
  fclose(f);
  if (s == ND_OK && count == 0) s = nd__error(ND_ERR_FORMAT, "%s: no positions", path);
  if (s != ND_OK) {
    free(buf);
    return s;
  }
  *xyz = buf, *n = count;
  return ND_OK;
}
