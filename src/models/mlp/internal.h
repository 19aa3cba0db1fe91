/* The MLP family's private parts, shared by mlp.c (create, forward,
 * predict), train.c (the methods' batch gradients and the epoch) and ff.c
 * (forward-forward). */
#ifndef NEURODYN_MLP_INTERNAL_H
#define NEURODYN_MLP_INTERNAL_H

#include "neurodyn/mlp.h"

#define ND_MLP_MAXP (4 * ND_MLP_MAX_LAYERS)

struct nd_mlp {
  nd_mlp_config c;
  int n_layers;
  int n_params;
  nd_tensor params[ND_MLP_MAXP]; /* W_l [sizes[l+1], sizes[l]], b_l [sizes[l+1]], then DNI's sg modules */
  nd_tensor grads[ND_MLP_MAXP];
  nd_tensor *pp[ND_MLP_MAXP], *gp[ND_MLP_MAXP];
  int w_index[ND_MLP_MAX_LAYERS], b_index[ND_MLP_MAX_LAYERS]; /* b_index -1 without bias */
  int sg_w_index[ND_MLP_MAX_LAYERS], sg_b_index[ND_MLP_MAX_LAYERS]; /* DNI: module of hidden layer l's output */
  int inv_w_index[ND_MLP_MAX_LAYERS], inv_b_index[ND_MLP_MAX_LAYERS]; /* DTP: inverse of layer l (1 <= l < L-1) */
  int rep_index[ND_MLP_MAX_LAYERS]; /* SUBTASK: representative of block k's output */
  int conv_w_index[ND_MLP_MAX_CONV], conv_b_index[ND_MLP_MAX_CONV]; /* conv layers (b_index -1 without bias) */
  int64_t conv_side[ND_MLP_MAX_CONV + 1]; /* spatial side of conv layer j's input (j = n_conv: of the last output) */
  int64_t flat;                           /* the dense part's input width: sizes[0], or the flattened conv maps */
  nd_tensor conv_feedback[ND_MLP_MAX_CONV]; /* FA: kernels like K_j (j >= 1); DFA: D_j [classes, C_j P_j Q_j] */
  float *aux;         /* AM: codes, their start values and velocities, grown on demand */
  int64_t aux_rows;
  nd_tensor feedback[ND_MLP_MAX_LAYERS]; /* FA: B_l like W_l (l >= 1); DFA: D_l [classes, sizes[l+1]] */
  char names[ND_MLP_MAXP][32];
  nd_tape *tape;
  /* gather buffers for shuffled minibatches, grown on demand */
  float *xbuf;
  int32_t *ybuf;
  int64_t buf_rows;
  nd_sampler sampler; /* the minibatch order, from the caller's stream */
  nd_rng *neg_rng;    /* FF: the caller's stream during an epoch, for the wrong labels */
  nd_progress_fn progress;
  void *progress_user;
  const nd_tensor *const *sg_override; /* tests: DNI's synthetic gradients replaced (dL/dh per hidden layer) */
  nd_grad_sum *gsum;  /* data-parallel: block gradients summed in block order (distributed.h), or NULL */
  float *gflat;       /* [every gradient] the summed blocks, before they go back into grads */
  /* data-parallel buckets: one per layer, the last layer's first (its gradient is complete first) */
  struct nd__mlp_hook {
    struct nd_mlp *m;
    int i;                                 /* parameter index */
  } hook[ND_MLP_MAXP];
  int bucket_of[ND_MLP_MAXP];              /* bucket of parameter i (-1: none) */
  int64_t bucket_off[ND_MLP_MAXP];         /* its offset in the bucket */
  int64_t flat_off[ND_MLP_MAXP];           /* and in gflat */
  int bucket_params[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV]; /* parameters per bucket */
  int bucket_left[ND_MLP_MAX_LAYERS + ND_MLP_MAX_CONV];   /* of the block in the backward, not yet written */
  bool written[ND_MLP_MAXP];               /* parameter i of the current block is in its bucket */
  bool hooking;                            /* block_grads: layer leaves get nd_tape_on_grad_ready */
  int64_t cur_block;
  float cur_weight;
  bool cur_last;                           /* the block is this rank's last */
  bool cur_empty;                          /* the block has no rows */
  /* data-parallel FF and DTP: the minibatch's random draws, made for all its
   * rows on every rank in the order one process makes them (FF: a u32 per
   * row; DTP: the noise of hidden layer 1, then 2, ...), sliced by block */
  bool drawn;
  uint32_t *draw_u;
  float *draw_f;
  int64_t draw_cap_u, draw_cap_f;
  int64_t draw_rows, draw_r0;              /* the minibatch's rows; the block's first row */
};

/* act(a) of the hidden layers. */
nd_var *nd__mlp_activate(nd_tape *tp, const nd_mlp_config *c, nd_var *a);
/* Data-parallel (train.c): while m->hooking, parameter i's leaf hands its
 * gradient to its bucket as soon as it is final (leaf may be NULL). */
void nd__mlp_hook_param(nd_mlp *m, nd_tape *tp, nd_var *leaf, int i);
/* The parameter leaves of layer l (b NULL without biases). */
void nd__mlp_layer_params(nd_mlp *m, nd_tape *tp, int l, nd_var **w, nd_var **b);
/* FF (ff.c): the inference graph, and one batch's gradients. */
nd_var *nd__mlp_ff_forward(nd_mlp *m, nd_tape *tp, nd_var *x);
nd_status nd__mlp_ff_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss);
/* DTP (dtp.c): one batch's gradients; the targets alone (tests: targets[l]
 * [rows, sizes[l]] for hidden outputs l = 1..L-1, NULL entries skipped). */
nd_status nd__mlp_dtp_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss);
nd_status nd__mlp_dtp_targets(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, float *const *targets);
/* AM (am.c) and SUBTASK (subtask.c): one batch's gradients. */
nd_status nd__mlp_am_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss);
nd_status nd__mlp_subtask_grads(nd_mlp *m, const float *x, const int32_t *labels, int64_t rows, double *loss);
/* SUBTASK: the number of blocks and the layers [*first, *end) of block k. */
int nd__mlp_subtask_blocks(const nd_mlp *m);
void nd__mlp_subtask_block(const nd_mlp *m, int k, int *first, int *end);
/* in W_l^T + b_l with layer l's parameters as constants. */
nd_var *nd__mlp_linear_const(nd_mlp *m, nd_tape *tp, int l, nd_var *in);
/* The conv layers on x [B, sizes[0]] for BP, FA or DFA (conv.c): the
 * flattened maps [B, flat]; with DFA each activity (flattened) goes into
 * hidden[*n_hidden] and its D into D[*n_hidden], and the last output is
 * detached for the dense layers. */
nd_var *nd__mlp_conv_front(nd_mlp *m, nd_tape *tp, nd_var *x, nd_credit_method method, nd_var **hidden,
                           const nd_tensor **D, int *n_hidden);
nd_status nd__mlp_conv_check(const nd_mlp_config *c);
/* The conv layers' geometry and parameters (m->flat), and FA's / DFA's
 * fixed conv feedback from fb (conv.c). */
nd_status nd__mlp_conv_params(nd_mlp *m, nd_rng *rng);
nd_status nd__mlp_conv_feedback(nd_mlp *m, nd_rng *fb);
/* A parameter and its gradient buffer, U(-bound, bound) from rng (zeros for
 * bound 0), named by the format `name` with l (mlp.c). */
nd_status nd__mlp_add_param(nd_mlp *m, int ndim, const int64_t *shape, float bound, nd_rng *rng, const char *name, int l,
                            int *index);
/* A [rows, cols] tensor in the tape's arena (NULL on failure, error on the tape). */
nd_tensor *nd__mlp_scratch(nd_tape *tp, int64_t rows, int64_t cols);
/* Tests: DNI with these synthetic gradients (NULL: the modules' own). */
void nd__mlp_set_sg_override(nd_mlp *m, const nd_tensor *const *g);

#endif
