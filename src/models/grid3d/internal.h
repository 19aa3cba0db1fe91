/* The grid3d family's private parts: topology and nodes (grid3d.c), the
 * message-passing op and the methods' graphs (layer.c, train.c), save and
 * load (checkpoint.c). */
#ifndef NEURODYN_GRID3D_INTERNAL_H
#define NEURODYN_GRID3D_INTERNAL_H

#include "neurodyn/grid3d.h"

typedef struct g3_node {
  float pos[3];
  int group;
  int64_t local;          /* index within its group */
  int64_t fan_ff, fan_lat; /* |m_i| = fan_ff + fan_lat */
  int64_t idx_off;        /* its columns: idx[idx_off .. + fan_ff) into the group's input, then fan_lat into its own group */
  int64_t row_off;        /* first row of its dL/dm^T block in the group's backward buffer */
  float *block;           /* NULL: not allocated; else p = [W, b] (np floats), then grad, Adam m, Adam v */
  int64_t idle;           /* training minibatches since last requested */
  int64_t steps;          /* Adam steps since birth */
  int64_t births;
  uint8_t requested;      /* active on some row during this training minibatch */
  uint8_t computed;       /* computed (has a gradient) during this training minibatch */
  uint8_t live;           /* computed in its group's last forward call (layer.c) */
} g3_node;

struct nd_grid3d {
  nd_grid3d_config c;
  float *positions;        /* the caller's copy, or NULL for a grid */
  int64_t n;
  g3_node *nodes;
  int n_groups;
  int64_t gstart[ND_GRID3D_MAX_GROUPS + 1];
  int64_t gfan[ND_GRID3D_MAX_GROUPS];    /* sum of fan-ins over the group */
  int64_t fan_max;
  int64_t label_cols;      /* FF: the label one-hot in front of the pixels */
  int64_t in_cols;         /* label_cols + in_h in_w */
  int64_t *idx;
  /* reverse lists: for each column c of group g's feed-forward input (and
   * of its own state, lateral), the pairs (backward-buffer row, local node) */
  int64_t *rff_start[ND_GRID3D_MAX_GROUPS], *rff[ND_GRID3D_MAX_GROUPS];
  int64_t *rlat_start[ND_GRID3D_MAX_GROUPS], *rlat[ND_GRID3D_MAX_GROUPS];
  nd_tensor ro_w, ro_b, ro_gw, ro_gb;
  nd_tensor *rop[2], *rog[2];
  nd_tensor feedback[ND_GRID3D_MAX_GROUPS];
  nd_tensor anchor, anchor_grad; /* [1]: a parameter input of every layer op (layer.c) */
  nd_tape *tape;
  bool training;           /* forward calls mark requested / computed nodes */
  nd_grid3d_stats stats;
  nd_sampler sampler;
  float *xbuf;
  int32_t *ybuf;
  int64_t buf_rows;
  nd_progress_fn progress;
  void *progress_user;
};

static inline int64_t g3_group_size(const nd_grid3d *m, int g) { return m->gstart[g + 1] - m->gstart[g]; }
static inline int64_t g3_np(const nd_grid3d *m, const g3_node *nd) { return m->c.dim * (nd->fan_ff + nd->fan_lat) + m->c.dim; }
static inline bool g3_has_lateral(const nd_grid3d *m) { return m->c.lateral || m->c.recurrent; }

/* Node allocation (growth): weights drawn from the node's own stream. */
nd_status nd__g3_alloc_node(nd_grid3d *m, int64_t i);
void nd__g3_free_node(nd_grid3d *m, int64_t i);

/* h = the node update of group g (grid3d.h) on the tape: xff [B, cols of
 * the group's input], xlat [B, n_g dim] (NULL without lateral messages). */
nd_var *nd__g3_layer(nd_grid3d *m, nd_tape *tp, int g, nd_var *xff, nd_var *xlat);

#endif
