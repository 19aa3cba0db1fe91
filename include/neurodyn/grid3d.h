/* Grid models: nodes placed in 3-D space that pass messages to their
 * neighbours, with sparse growth (docs/grid3d.md).
 *
 * The idea is GrowNet's (Aalanli/GrowNet, README "core idea", and its Rust
 * models grid_like/m0.rs SimpleGrid and m2.rs, the lazily allocated node):
 * the nodes of a network get positions in R^3, so that locality makes the
 * connectivity sparse and information flows one way, along z.  There is no
 * paper; the definitions below are neurodyn's.
 *
 * Topology.  Node i has a position p_i (an nx x ny x nz grid with unit
 * spacing, or arbitrary points).  The distinct z values, in increasing
 * order, are the groups (layers) g = 0 .. G-1.  Node i of group g > 0
 * receives the states of the nodes j of group g-1 with ||p_i - p_j|| <=
 * radius (feed-forward messages); with `lateral`, also those of the other
 * nodes of its own group within radius at the previous step, and with
 * `recurrent` its own previous state.  The image [H, W] is spread over
 * group 0: pixel (u, v) is mapped to the point ((v + .5) W'/W - .5 + xmin,
 * (u + .5) H'/H - .5 + ymin) of group 0's bounding box (W' x H' its extent
 * + 1) and belongs to the group-0 node nearest in (x, y) (lowest index on a
 * tie): on a grid, the image cut into nx x ny patches.
 *
 * Node update (step t = 1 .. steps, groups in order):
 *   m_i = [h_j^t for j in ff(i)] ++ [h_k^{t-1} for k in lat(i)]   (group 0: its pixels)
 *   s_i = rms(m_i) = ||m_i||_2 / sqrt(|m_i|)
 *   h_i^t = [s_i > threshold] relu(W_i m_i + b_i),   W_i [dim, |m_i|]
 * with h^0 = 0, and the read-out z = h_top^steps W_out^T + b_out, h_top the
 * concatenated states of the last group.  A node is active on a row when
 * s_i > threshold (upstream m2 fires a node when the magnitude of its
 * accumulated messages clears a threshold; its sigmoid gate is not used
 * here); an inactive node outputs 0.
 *
 * Sparse growth (`growth`): a node has no weights and no compute until it
 * is first requested (active on some row of a training minibatch); it is
 * allocated after that minibatch (weights W_i, b_i ~ U(+-1/sqrt(|m_i|)),
 * from a stream split off the seed by node and birth), and freed once it
 * has not been requested for `patience` training minibatches in a row.  An
 * unallocated node outputs 0.  Compute: one GEMM per active node over the
 * batch rows, so the cost of a step follows the number of active nodes.
 * Without growth every node is allocated at creation and never freed.
 * threshold < 0 makes every node active on every row (a dense grid net).
 *
 * Credit assignment (include/neurodyn/credit.h): BP back-propagates
 * through the steps and groups; DFA sends the output error e to every
 * group's final state through a fixed D_g [classes, n_g dim] (Nokland 2016,
 * Eq. 3), each group's inputs detached; FF trains each group on its own
 * goodness (Hinton 2022, Eq. 1) with the label one-hot given to every
 * group-0 node as ten extra inputs, inputs length-normalised per group, and
 * the read-out a softmax of the normalised top group of the neutral-label
 * image.  Node parameters are updated by Adam (Kingma & Ba 2015, Alg. 1)
 * lazily: only the nodes computed in a minibatch, each with its own step
 * count since birth; the read-out by the caller's optimizer, whose learning
 * rate the nodes follow. */
#ifndef NEURODYN_GRID3D_H
#define NEURODYN_GRID3D_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/rng.h"
#include "neurodyn/autodiff.h"
#include "neurodyn/optim.h"
#include "neurodyn/train.h"
#include "neurodyn/checkpoint.h"
#include "neurodyn/credit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_GRID3D_MAX_GROUPS 64

typedef struct nd_grid3d_config {
  int64_t nx, ny, nz;        /* grid size (used when positions is NULL) */
  int64_t n_nodes;           /* with positions: the number of points */
  const float *positions;    /* [n_nodes, 3] x, y, z or NULL (grid); copied by create */
  int64_t dim;               /* state dimensions per node */
  float radius;              /* message radius (Euclidean, grid spacing 1) */
  bool lateral;              /* messages within a group from the previous step */
  bool recurrent;            /* a node's own previous state as an input */
  int steps;                 /* update steps (>= 1) */
  int64_t in_h, in_w;        /* image shape: inputs are [B, in_h * in_w] */
  int64_t classes;           /* read-out size */
  bool growth;               /* allocate on first activation, free after patience idle minibatches */
  float threshold;           /* active when rms(message) > threshold; < 0: always active */
  int64_t patience;          /* idle training minibatches before a node is freed (>= 1) */
  nd_credit_method method;   /* bp, dfa or ff */
  float ff_theta;            /* FF goodness threshold; 0: the group's unit count */
  float beta1, beta2, eps;   /* the nodes' Adam */
  uint64_t seed;
} nd_grid3d_config;

/* Defaults: a 7 x 7 x 3 grid, dim 8, radius 1.5, no lateral or recurrent
 * messages, 1 step, 28 x 28 images, 10 classes, growth on, threshold 0,
 * patience 50, BP, ff_theta 0, Adam (0.9, 0.999, 1e-8), seed 0. */
ND_API nd_grid3d_config nd_grid3d_defaults(void);
/* ND_OK or ND_ERR_INVALID_ARG naming the field. */
ND_API nd_status nd_grid3d_config_check(const nd_grid3d_config *c);

typedef struct nd_grid3d nd_grid3d;

ND_API nd_status nd_grid3d_create(const nd_grid3d_config *c, nd_grid3d **out);
ND_API void nd_grid3d_free(nd_grid3d *m);
/* The config (positions points at the model's copy, or NULL for a grid). */
ND_API const nd_grid3d_config *nd_grid3d_config_of(const nd_grid3d *m);

/* Reads "x y z" per line (or comma separated; '#' starts a comment) into a
 * malloc'ed [n, 3] array.  ND_ERR_FORMAT naming the file and line. */
ND_API nd_status nd_grid3d_read_positions(const char *path, float **xyz, int64_t *n);

/* Topology.  Nodes are numbered in group order (z, then the order of the
 * grid (x fastest, then y) or of the positions). */
ND_API int64_t nd_grid3d_num_nodes(const nd_grid3d *m);
ND_API int nd_grid3d_num_groups(const nd_grid3d *m);
/* The position [3] and group of node i; its fan-in |m_i| (floats). */
ND_API nd_status nd_grid3d_node_info(const nd_grid3d *m, int64_t i, float *pos, int *group, int64_t *fan_in);
/* Node i's W [dim, fan_in] and b [dim] (NULL, NULL when not allocated). */
ND_API nd_status nd_grid3d_node_params(nd_grid3d *m, int64_t i, float **w, float **b);
/* Gradient buffers of node i, like nd_grid3d_node_params. */
ND_API nd_status nd_grid3d_node_grads(nd_grid3d *m, int64_t i, float **gw, float **gb);
ND_API bool nd_grid3d_node_allocated(const nd_grid3d *m, int64_t i);
/* Allocates (true) or frees node i by hand (tests, experiments). */
ND_API nd_status nd_grid3d_set_allocated(nd_grid3d *m, int64_t i, bool on);

/* The read-out W_out [classes, n_top dim] and b_out [classes], their
 * gradients (params 0, 1; for nd_optim_create) and names. */
ND_API nd_tensor *const *nd_grid3d_readout_params(nd_grid3d *m);
ND_API nd_tensor *const *nd_grid3d_readout_grads(nd_grid3d *m);
/* DFA's D_g [classes, n_g dim] (NULL otherwise); writable. */
ND_API nd_tensor *nd_grid3d_feedback(nd_grid3d *m, int group);

/* Counts: parameters of the allocated nodes plus the read-out, and of all
 * nodes plus the read-out (the dense size). */
ND_API int64_t nd_grid3d_param_count(const nd_grid3d *m);
ND_API int64_t nd_grid3d_param_count_dense(const nd_grid3d *m);
ND_API int64_t nd_grid3d_num_allocated(const nd_grid3d *m);

typedef struct nd_grid3d_stats {
  int64_t node_evals;        /* (node, group step) GEMMs computed since the last reset */
  int64_t node_slots;        /* all (node, group step) pairs of those forwards */
  int64_t births, deaths;    /* nodes allocated / freed by growth */
} nd_grid3d_stats;
/* Counters since the last reset (active fraction = node_evals / node_slots). */
ND_API nd_grid3d_stats nd_grid3d_get_stats(const nd_grid3d *m);
ND_API void nd_grid3d_reset_stats(nd_grid3d *m);

/* Builds the inference graph on tp from x [B, in_h in_w] and returns z
 * [B, classes] (BP's gradient flows through it into the node gradient
 * buffers and the read-out).  With FF the neutral label is embedded. */
ND_API nd_var *nd_grid3d_forward(nd_grid3d *m, nd_tape *tp, nd_var *x);
/* Inference on x [rows, in_h in_w]: the final state of every node into
 * states [rows, n_nodes, dim] (0 for inactive nodes) and, when logits is
 * not NULL, z into logits [rows, classes]. */
ND_API nd_status nd_grid3d_states(nd_grid3d *m, const float *x, int64_t rows, float *states, float *logits);

/* One batch: zeroes the gradients, fills them by the configured method,
 * marks the requested nodes (growth bookkeeping; no update).  *loss may be
 * NULL.  FF draws the wrong labels from rng (NULL: a fixed stream). */
ND_API nd_status nd_grid3d_batch_grads(nd_grid3d *m, const float *x, const int32_t *labels, int64_t rows, nd_rng *rng,
                                       double *loss);
/* After batch_grads: Adam on the computed nodes at the read-out
 * optimizer's learning rate, the read-out's step, then growth. */
ND_API nd_status nd_grid3d_apply(nd_grid3d *m, nd_optim *readout_opt);
/* Growth bookkeeping alone (allocate the requested, free the idle). */
ND_API nd_status nd_grid3d_grow(nd_grid3d *m);

/* One epoch: minibatches of a permutation drawn from rng (last may be
 * smaller), batch_grads + apply each.  *mean_loss may be NULL. */
ND_API nd_status nd_grid3d_train_epoch(nd_grid3d *m, nd_optim *readout_opt, const float *x, const int32_t *labels,
                                       int64_t n, int64_t batch_size, nd_rng *rng, double *mean_loss);
ND_API nd_status nd_grid3d_set_progress(nd_grid3d *m, nd_progress_fn fn, void *user);

/* Class predictions without recording, and accuracy. */
ND_API nd_status nd_grid3d_predict(nd_grid3d *m, const float *x, int64_t n, int64_t batch_size, int32_t *pred);
ND_API nd_status nd_grid3d_accuracy(nd_grid3d *m, const float *x, const int32_t *labels, int64_t n,
                                    int64_t batch_size, double *accuracy);

/* Model "grid3d": the config, positions (when given), read-out, and every
 * allocated node with its Adam moments and growth counters, so that a
 * loaded model continues training exactly. */
ND_API nd_status nd_grid3d_save(const nd_grid3d *m, nd_checkpoint *ck);
ND_API nd_status nd_grid3d_load(const nd_checkpoint *ck, nd_grid3d **out);

#ifdef __cplusplus
}
#endif
#endif
