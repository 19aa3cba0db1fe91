/* CordsNet: convolutional continuous-time RNN dynamical systems (Soo,
 * Battista, Radmard & Wang, "Recurrent neural network dynamical systems for
 * biological vision", NeurIPS 2024; docs/cordsnet.md).
 *
 * Each area j holds a rate map r_j (C_j x H_j x W_j, r_j >= 0) and follows
 *   T dr_j/dt = -r_j + relu( Conv_rec,j(r_j) + b_j + Conv_inp,j(u_j) )      (paper Eq. 2)
 * discretised by explicit Euler with alpha = dt/T (upstream: 0.2), all areas
 * updated from the previous step's states (Jacobi; upstream's top-down loop
 * j = D-1..0 is exactly that):
 *   r_j <- (1 - alpha) r_j + alpha relu( area_conv_j(r_j) + conv_bias_j + area_area_j(u_j) )
 * with the conv applied to the SUM of the area's inputs u_j:
 *   u_0 = stem(x)                     stem = AvgPool(3,2,1)(Conv7x7 s2 (x))
 *   u_1 = relu(r_0) + inp_skip(stem(x))
 *   u_j = relu(r_{j-1}) + relu(r_{j-2})                 j even >= 2
 *   u_j = relu(r_{j-1}) + skip_area_{(j-3)/2}(relu(r_{j-2}))   j odd >= 3
 * conv_bias_j is per unit (C_j x H_j x W_j).  Protocol: steps_spont steps with
 * x = 0 (image independent: computed once per model and cached until the
 * weights change), then `steps` steps with the image; the logits are read at
 * the last step only:  out_fc( mean_hw( relu(r_{D-1}) + relu(r_{D-2}) ) ).
 *
 * Weight files are safetensors whose tensor names are upstream's state_dict
 * keys (inp_conv.parametrizations.weight.original0 = g, ...original1 = v,
 * or plain inp_conv.weight; area_conv.{j}, area_area.{j}, conv_bias.{j},
 * skip_area.{k}, inp_skip, out_fc, out_fc.bias), float32.  Weight norm
 * W = g v / ||v|| (norm over all dims but the first) is folded at load for
 * inference; the model keeps (g, v) for training and saves them back under
 * the same names.  Depth and layout are read from the tensors (and the
 * metadata key "neurodyn.cordsnet.stem_stride" for the native layout). */
#ifndef NEURODYN_CORDSNET_H
#define NEURODYN_CORDSNET_H

#include "neurodyn/core.h"
#include "neurodyn/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ND_CORDSNET_MAX_DEPTH 8

typedef enum nd_cordsnet_layout {
  /* upstream: stem Conv7x7 s2 p3 + AvgPool(3,2,1); channels 64,64,128,128,256,256,512,512;
   * 224x224 input gives areas at 56,56,28,28,14,14,7,7 */
  ND_CORDSNET_UPSTREAM = 0,
  /* native small images (28x28): stem Conv3x3 s1 p1 + AvgPool(3,2,1) (28 -> 14);
   * areas at 14,14,7,7,4,4,2,2 */
  ND_CORDSNET_NATIVE = 1
} nd_cordsnet_layout;

typedef struct nd_cordsnet_config {
  nd_cordsnet_layout layout;
  int depth;              /* 2, 4, 6 or 8 areas */
  int64_t in_channels;    /* 3 (RGB) or 1 (MNIST) */
  int64_t classes;        /* 1000, 10, ... */
  int64_t in_h, in_w;     /* input image size (224 upstream, 28 native) */
  int64_t width;          /* base width w: channels w,w,2w,2w,4w,4w,8w,8w (upstream 64) */
} nd_cordsnet_config;

/* R8 on 3x224x224 ImageNet (1000 classes), upstream layout. */
ND_API nd_cordsnet_config nd_cordsnet_defaults(void);
ND_API nd_status nd_cordsnet_config_check(const nd_cordsnet_config *c);

typedef struct nd_cordsnet nd_cordsnet;

/* A model with weights drawn like PyTorch's default init (kaiming-uniform
 * v, g = ||v||, zero conv biases) from seed. */
ND_API nd_status nd_cordsnet_create(const nd_cordsnet_config *c, uint64_t seed, nd_cordsnet **out);
/* Loads a safetensors file with upstream's names.  depth <= 0: inferred
 * from the area_conv.{j} tensors; otherwise it must match.  in_h/in_w come
 * from conv_bias.0 (4x / 2x its size for the upstream / native stem). */
ND_API nd_status nd_cordsnet_load(const char *path, int depth, nd_cordsnet **out);
/* Writes (g, v) and biases under upstream's names (atomically). */
ND_API nd_status nd_cordsnet_save(const nd_cordsnet *m, const char *path);
/* The same tensors and layout metadata (model "cordsnet") into a training
 * checkpoint; nd_cordsnet_load reads such a file, ignoring "optim.*". */
struct nd_checkpoint;
ND_API nd_status nd_cordsnet_put(const nd_cordsnet *m, struct nd_checkpoint *ck);
ND_API void nd_cordsnet_free(nd_cordsnet *m);
ND_API const nd_cordsnet_config *nd_cordsnet_config_of(const nd_cordsnet *m);

/* Area j's map size (C, H, W); ND_ERR_INVALID_ARG for j out of range. */
ND_API nd_status nd_cordsnet_area_shape(const nd_cordsnet *m, int j, int64_t *c, int64_t *h, int64_t *w);

typedef struct nd_cordsnet_run {
  int steps_spont;   /* zero-input steps before the image (upstream 100) */
  int steps;         /* steps with the image (upstream 100) */
  float alpha;       /* dt / tau (upstream 0.2) */
} nd_cordsnet_run;
ND_API nd_cordsnet_run nd_cordsnet_run_defaults(void); /* 100, 100, 0.2 */

/* logits[n, classes] for x[n, in_channels, in_h, in_w] (normalised images). */
ND_API nd_status nd_cordsnet_forward(nd_cordsnet *m, const nd_cordsnet_run *r, const float *x, int64_t n,
                                     float *logits);
/* As forward, also recording the rates of n_areas areas (indices in areas[])
 * at every step of both phases: traj[k] (one per recorded area) is
 * [steps_spont + steps, n, C, H, W].  logits may be NULL. */
ND_API nd_status nd_cordsnet_record(nd_cordsnet *m, const nd_cordsnet_run *r, const float *x, int64_t n,
                                    int n_areas, const int *areas, float *const *traj, float *logits);

/* An image file as the model's input [1, C, in_h, in_w]: upstream's eval
 * transform (Resize shorter side to in_h*256/224 bilinear, CenterCrop
 * in_h x in_w, ImageNet mean/std for 3 channels); 1-channel models get the
 * gray image resized to in_h x in_w in [0, 1] (the native training scale). */
struct nd_tensor;
ND_API nd_status nd_cordsnet_image_read(const char *path, const nd_cordsnet_config *c, struct nd_tensor *out);

/* The spontaneous steady state of area j after r->steps_spont zero-input
 * steps ([C, H, W], computed once and cached). */
ND_API nd_status nd_cordsnet_spontaneous(nd_cordsnet *m, const nd_cordsnet_run *r, int j, const float **state);

/* For the analysis toolkit: area j's recurrent conv (weight-norm folded),
 * [C, C, kh, kw] with stride 1 and pad kh/2, and the map size; the pointer
 * is valid until the model changes.  The area operator is
 *   r -> (1 - alpha) r + alpha * conv(r)      (linear part of the update) */
ND_API nd_status nd_cordsnet_area_conv(const nd_cordsnet *m, int j, const float **w, int64_t *c, int64_t *kh,
                                       int64_t *kw, int64_t *h, int64_t *wd);
/* Area j's per-unit bias [C, H, W]. */
ND_API nd_status nd_cordsnet_area_bias(const nd_cordsnet *m, int j, const float **b);

/* Call after changing parameters through nd_cordsnet_params: refolds the
 * weight norm and drops the cached spontaneous state. */
ND_API void nd_cordsnet_weights_changed(nd_cordsnet *m);

/* ------------------------------------------------------------ training
 * BPTT through every step (docs/cordsnet.md "Training").  Loss (upstream
 * training/class_rnn_5_final.py): the stimulus phase's last `ce_steps`
 * readouts, each cross-entropy (mean over the batch) weighted by
 * logspace(-3, 0, ce_steps), averaged over those steps; plus
 * penalty * sum_j mean((r_j - spont_j)^2) / (D * penalty_steps) over the last
 * penalty_steps of `post_steps` zero-input steps after the stimulus. */
typedef struct nd_cordsnet_train {
  nd_cordsnet_run run;
  int ce_steps;        /* upstream 30 */
  int post_steps;      /* upstream 100 (0: no post phase, no penalty) */
  int penalty_steps;   /* upstream 10 */
  float penalty;       /* upstream 1e-3 */
  int truncate;        /* > 0: BPTT through only the last `truncate` steps (0: all) */
  int checkpoint_every;/* gradient checkpointing over time: keep the state every K steps and
                        * recompute segments in backward (0: sqrt(total steps); 1: store every step) */
} nd_cordsnet_train;
ND_API nd_cordsnet_train nd_cordsnet_train_defaults(void);

/* Flat parameters (g, v, biases in the order of docs/cordsnet.md) and their gradient. */
ND_API int64_t nd_cordsnet_num_params(const nd_cordsnet *m);
ND_API float *nd_cordsnet_params(nd_cordsnet *m);
ND_API float *nd_cordsnet_grad(nd_cordsnet *m);
/* Loss and gradient (overwritten) on a batch x[n, C, H, W], labels[n];
 * *correct (may be NULL): how many last-step argmaxes equal the label. */
ND_API nd_status nd_cordsnet_loss_grad(nd_cordsnet *m, const nd_cordsnet_train *t, const float *x,
                                       const int32_t *labels, int64_t n, double *loss, int64_t *correct);
/* Bytes of the per-step state storage the last loss_grad held at its peak. */
ND_API size_t nd_cordsnet_bptt_bytes(const nd_cordsnet *m);

#ifdef __cplusplus
}
#endif
#endif
