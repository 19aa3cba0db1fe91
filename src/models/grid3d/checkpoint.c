/* Save and load of nd_grid3d (grid3d.h) through nd_checkpoint: model
 * "grid3d", the config by table, "positions" [n, 3] when given, the
 * read-out, and for every allocated node "nodes.<i>" = [W, b, Adam m, Adam
 * v] (flat) with "node_state" [n, 4] int64 = (allocated, idle, Adam steps,
 * births), so that training continues exactly.  DFA's feedback matrices are
 * drawn again from the seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "neurodyn/io.h"
#include "internal.h"

static const char *const methods[] = {"bp", "fa", "dfa", "dni", "ff", NULL};

#define MF(field, key, type, lo, hi) ND_META_FIELD(nd_grid3d_config, field, key, type, lo, hi)
static const nd_meta_field fields[] = {
    MF(nx, "nx", ND_META_I64, 1, 1e6), MF(ny, "ny", ND_META_I64, 1, 1e6), MF(nz, "nz", ND_META_I64, 1, 1e6),
    MF(n_nodes, "n_nodes", ND_META_I64, 0, 1e6), MF(dim, "dim", ND_META_I64, 1, 4096),
    MF(radius, "radius", ND_META_F32, 0, 1e30), MF(lateral, "lateral", ND_META_BOOL, 0, 1),
    MF(recurrent, "recurrent", ND_META_BOOL, 0, 1), MF(steps, "steps", ND_META_INT, 1, 1000),
    MF(in_h, "in_h", ND_META_I64, 1, 1e8), MF(in_w, "in_w", ND_META_I64, 1, 1e8),
    MF(classes, "classes", ND_META_I64, 2, 1e5), MF(growth, "growth", ND_META_BOOL, 0, 1),
    MF(threshold, "threshold", ND_META_F32, -1e30, 1e30), MF(patience, "patience", ND_META_I64, 1, 1e15),
    ND_META_CHOICE_FIELD(nd_grid3d_config, method, "method", methods),
    MF(ff_theta, "ff_theta", ND_META_F32, 0, 1e30), MF(beta1, "beta1", ND_META_F32, 0, 1),
    MF(beta2, "beta2", ND_META_F32, 0, 1), MF(eps, "eps", ND_META_F32, 0, 1),
    MF(seed, "seed", ND_META_U64, 0, 1.8446744073709552e19),
};
#undef MF
#define N_FIELDS ((int)(sizeof fields / sizeof fields[0]))

nd_status nd_grid3d_save(const nd_grid3d *m, nd_checkpoint *ck) {
  if (!m || !ck) return nd__error(ND_ERR_INVALID_ARG, "nd_grid3d_save: NULL argument");
  ND_TRY(nd_checkpoint_put_meta(ck, "model", "grid3d"));
  ND_TRY(nd_checkpoint_put_fields(ck, N_FIELDS, fields, &m->c));
  if (m->positions) {
    nd_tensor p = nd_tensor_wrap(m->positions, 2, ND_SHAPE(m->c.n_nodes, 3));
    ND_TRY(nd_checkpoint_put_tensor(ck, "positions", &p));
  }
  ND_TRY(nd_checkpoint_put_tensor(ck, "readout.weight", &m->ro_w));
  ND_TRY(nd_checkpoint_put_tensor(ck, "readout.bias", &m->ro_b));
  int64_t *st = malloc((size_t)(4 * m->n) * sizeof *st);
  if (!st) return nd__error(ND_ERR_NOMEM, "grid3d save: out of memory");
  nd_status s = ND_OK;
  char name[48];
  for (int64_t i = 0; i < m->n && s == ND_OK; i++) {
    const g3_node *nd = &m->nodes[i];
    st[4 * i] = nd->block != NULL, st[4 * i + 1] = nd->idle, st[4 * i + 2] = nd->steps, st[4 * i + 3] = nd->births;
    if (!nd->block) continue;
    int64_t np = g3_np(m, nd);
    /* parameters, then the Adam moments (the gradient part is scratch) */
    nd_tensor t = nd_tensor_wrap(nd->block, 1, ND_SHAPE(np));
    snprintf(name, sizeof name, "nodes.%lld", (long long)i);
    s = nd_checkpoint_put_tensor(ck, name, &t);
    t = nd_tensor_wrap(nd->block + 2 * np, 1, ND_SHAPE(2 * np));
    snprintf(name, sizeof name, "nodes.%lld.adam", (long long)i);
    if (s == ND_OK) s = nd_checkpoint_put_tensor(ck, name, &t);
  }
  nd_array a = {.dtype = ND_DTYPE_I64, .ndim = 2, .shape = {m->n, 4}, .numel = 4 * m->n, .data = st};
  if (s == ND_OK) s = nd_checkpoint_put_array(ck, "node_state", &a);
  free(st);
  return s;
}

static nd_status load_nodes(const nd_checkpoint *ck, nd_grid3d *m) {
  nd_array a = {0};
  ND_TRY(nd_checkpoint_get_array(ck, "node_state", ND_DTYPE_I64, 4 * m->n, &a));
  const int64_t *st = a.data;
  nd_status s = ND_OK;
  char name[48];
  for (int64_t i = 0; i < m->n && s == ND_OK; i++) {
    g3_node *nd = &m->nodes[i];
    nd__g3_free_node(m, i);
    if (st[4 * i]) {
      nd->births = st[4 * i + 3] > 0 ? st[4 * i + 3] - 1 : 0;
      s = nd__g3_alloc_node(m, i);
      int64_t np = g3_np(m, nd);
      nd_tensor t = {0};
      snprintf(name, sizeof name, "nodes.%lld", (long long)i);
      if (s == ND_OK) s = nd_checkpoint_get_tensor(ck, name, 1, ND_SHAPE(np), &t);
      if (s == ND_OK) memcpy(nd->block, t.data, (size_t)np * sizeof(float));
      nd_tensor_release(&t);
      snprintf(name, sizeof name, "nodes.%lld.adam", (long long)i);
      if (s == ND_OK) s = nd_checkpoint_get_tensor(ck, name, 1, ND_SHAPE(2 * np), &t);
      if (s == ND_OK) memcpy(nd->block + 2 * np, t.data, (size_t)(2 * np) * sizeof(float));
      nd_tensor_release(&t);
    }
    nd->idle = st[4 * i + 1], nd->steps = st[4 * i + 2], nd->births = st[4 * i + 3];
  }
  nd_array_release(&a);
  return s;
}

nd_status nd_grid3d_load(const nd_checkpoint *ck, nd_grid3d **out) {
  if (!ck || !out) return nd__error(ND_ERR_INVALID_ARG, "nd_grid3d_load: NULL argument");
  *out = NULL;
  ND_TRY(nd_checkpoint_expect_model(ck, "grid3d"));
  nd_grid3d_config c = nd_grid3d_defaults();
  ND_TRY(nd_checkpoint_get_fields(ck, N_FIELDS, fields, &c));
  nd_tensor pos = {0};
  if (nd_checkpoint_has(ck, "positions")) {
    ND_TRY(nd_checkpoint_get_tensor(ck, "positions", 2, ND_SHAPE(c.n_nodes, 3), &pos));
    c.positions = pos.data;
  } else {
    c.positions = NULL;
  }
  bool growth = c.growth;
  c.growth = true; /* nothing allocated at creation: the checkpoint says which nodes exist */
  nd_grid3d *m = NULL;
  nd_status s = nd_grid3d_create(&c, &m);
  nd_tensor_release(&pos);
  if (s != ND_OK) return nd__error(s, "%s: %s", nd_checkpoint_name(ck), nd_last_error());
  m->c.growth = growth;
  nd_tensor t = {0};
  s = nd_checkpoint_get_tensor(ck, "readout.weight", 2, m->ro_w.shape, &t);
  if (s == ND_OK) s = nd_tensor_copy(&m->ro_w, &t);
  nd_tensor_release(&t);
  if (s == ND_OK) s = nd_checkpoint_get_tensor(ck, "readout.bias", 1, m->ro_b.shape, &t);
  if (s == ND_OK) s = nd_tensor_copy(&m->ro_b, &t);
  nd_tensor_release(&t);
  if (s == ND_OK) s = load_nodes(ck, m);
  m->stats = (nd_grid3d_stats){0};
  if (s != ND_OK) {
    nd_grid3d_free(m);
    return s;
  }
  *out = m;
  return ND_OK;
}
