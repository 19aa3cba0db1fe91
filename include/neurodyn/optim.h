/* Optimizers, gradient clipping and learning-rate schedules.
 *
 * An optimizer updates a list of (parameter, gradient) tensor pairs in place.
 * Its state (momentum, moment estimates) is allocated once at creation; a step
 * allocates nothing.  Formulas follow the papers and, where PyTorch's
 * torch.optim makes a choice the paper leaves open, PyTorch's (each choice is
 * noted below), so results can be compared with torch.optim step by step.
 *
 *   nd_optim_config c = nd_optim_defaults(ND_OPTIM_ADAM);
 *   c.lr = 1e-3f;
 *   nd_optim *opt;
 *   nd_optim_create(&c, n, params, grads, &opt);
 *   loop { nd_optim_zero_grad(opt); ...backward...; nd_optim_step(opt); }
 *   nd_optim_free(opt);
 *
 * With g = grad + weight_decay * param (L2 regularisation; not for AdamW),
 * lr the current learning rate, t the step number starting at 1:
 *
 * SGD (momentum mu, dampening d, Nesterov; Sutskever et al. 2013 in PyTorch's form):
 *   b = g at t = 1, else b = mu b + (1 - d) g;  u = nesterov ? g + mu b : b;  p -= lr u
 *   (mu = 0: p -= lr g).
 * Adam (Kingma & Ba 2015, Algorithm 1):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * AdamW (Loshchilov & Hutter 2019, Algorithm 2, decoupled decay):
 *   p -= lr * weight_decay * p, then the Adam step with g = grad.
 *   (PyTorch's convention: the decay is multiplied by lr; the paper's
 *   schedule multiplier eta_t corresponds to lr / alpha.)
 * RMSProp (Hinton, Lecture 6e; centred variant Graves 2013 Eq. 38-40 with
 * eps outside the square root as in PyTorch):
 *   v = a v + (1-a) g^2;  centred: ga = a ga + (1-a) g, s = sqrt(max(v - ga^2, 0)) + eps,
 *   else s = sqrt(v) + eps;  momentum mu > 0: b = mu b + g / s, p -= lr b;
 *   else p -= lr g / s.
 * Max-normalised momentum (the training loop of Krotov & Hopfield's Dense
 * Associative Memory notebook, code of Krotov & Hopfield, NIPS 2016,
 * arXiv 1606.01164): with
 * G = max over all parameters of |g| (floor 1e-30),
 *   b = mu b + g / G;  p -= lr b;  clip > 0: p = min(max(p, -clip), clip).
 *   The largest step of a parameter is lr (times the momentum gain); the
 *   notebook uses lr = 0.04 decayed by 0.998 per epoch, mu = 0.6, clip = 1. */
#ifndef NEURODYN_OPTIM_H
#define NEURODYN_OPTIM_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_optim_kind {
  ND_OPTIM_SGD = 0,
  ND_OPTIM_ADAM,
  ND_OPTIM_ADAMW,
  ND_OPTIM_RMSPROP,
  ND_OPTIM_MAXNORM,
  ND_OPTIM_KIND_COUNT_
} nd_optim_kind;

/* ------------------------------------------------------------- schedules */
typedef enum nd_schedule_kind {
  ND_SCHED_CONSTANT = 0, /* base_lr */
  ND_SCHED_LINEAR,       /* base_lr -> final_lr linearly over total_steps, then final_lr */
  ND_SCHED_COSINE,       /* final + (base - final)(1 + cos(pi s/T))/2 (Loshchilov & Hutter 2017, Eq. 5, one cycle) */
  ND_SCHED_STEP,         /* base_lr * gamma^floor(s / step_size) */
  ND_SCHED_KIND_COUNT_
} nd_schedule_kind;

/* Learning rate as a function of the step index t = 0, 1, 2, ... (the step
 * about to be taken).  Optional linear warm-up: for t < warmup_steps,
 * lr = base_lr * (t + 1) / warmup_steps; afterwards the schedule runs on
 * s = t - warmup_steps with T = total_steps - warmup_steps. */
typedef struct nd_schedule {
  nd_schedule_kind kind;
  float base_lr;
  float final_lr;        /* linear, cosine */
  int64_t total_steps;   /* linear, cosine: steps including warm-up (>= 1) */
  int64_t step_size;     /* step: steps between decays (>= 1) */
  float gamma;           /* step: decay factor */
  int64_t warmup_steps;  /* 0 = none */
} nd_schedule;

/* Constant schedule at lr (other fields zero). */
ND_API nd_schedule nd_schedule_constant(float lr);
/* ND_OK, or ND_ERR_INVALID_ARG naming the bad field. */
ND_API nd_status nd_schedule_check(const nd_schedule *s);
/* NaN (error set) for a NULL schedule. */
ND_API float nd_schedule_lr(const nd_schedule *s, int64_t t);

/* ------------------------------------------------------------ optimizers */
typedef struct nd_optim_config {
  nd_optim_kind kind;
  float lr;
  float weight_decay;   /* L2 added to the gradient; AdamW: decoupled decay */
  /* SGD, RMSProp */
  float momentum;
  float dampening;      /* SGD only */
  bool nesterov;        /* SGD only; needs momentum > 0 and dampening = 0 */
  /* Adam, AdamW */
  float beta1, beta2;
  float eps;            /* Adam, AdamW, RMSProp */
  /* RMSProp */
  float alpha;          /* smoothing constant of the squared-gradient average */
  bool centered;
  /* max-normalised momentum */
  float clip;           /* > 0: parameters clipped to [-clip, clip] after each step */
} nd_optim_config;

/* PyTorch's defaults for the kind: SGD lr 1e-2 (PyTorch has none), momentum 0;
 * Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8; AdamW the same with
 * weight_decay 1e-2; RMSProp lr 1e-2, alpha 0.99, eps 1e-8; max-normalised
 * momentum: the DAM notebook's lr 0.04, momentum 0.6, clip 1. */
ND_API nd_optim_config nd_optim_defaults(nd_optim_kind kind);
ND_API nd_status nd_optim_config_check(const nd_optim_config *c);

typedef struct nd_optim nd_optim;

/* params[i] and grads[i] have equal shapes and are contiguous; the tensors
 * (not copied) must outlive the optimizer.  State starts at zero. */
ND_API nd_status nd_optim_create(const nd_optim_config *c, int n, nd_tensor *const *params, nd_tensor *const *grads,
                          nd_optim **out);
ND_API void nd_optim_free(nd_optim *o); /* NULL is a no-op */

/* One update of every parameter from its gradient.  Uses the schedule (if
 * set) at the current step index, else the fixed lr.  ND_ERR_NUMERIC if a
 * gradient holds NaN/Inf (parameters are left unchanged then). */
ND_API nd_status nd_optim_step(nd_optim *o);
ND_API nd_status nd_optim_zero_grad(nd_optim *o);

ND_API nd_status nd_optim_set_lr(nd_optim *o, float lr); /* fixed lr >= 0 (drops the schedule) */
ND_API nd_status nd_optim_set_schedule(nd_optim *o, const nd_schedule *s);
ND_API float nd_optim_lr(const nd_optim *o);            /* lr the next step will use (NaN for NULL) */
ND_API int64_t nd_optim_steps(const nd_optim *o);       /* steps taken so far (-1 for NULL) */
/* Forget the moment estimates and the step count (parameters untouched). */
ND_API nd_status nd_optim_reset_state(nd_optim *o);

/* Clips the gradients by their global L2 norm: if ||g|| > max_norm, every
 * gradient is scaled by max_norm / (||g|| + 1e-6) (torch.nn.utils.clip_grad_norm_).
 * *norm_out (may be NULL) receives the norm before clipping (computed in
 * double).  Gradients must be contiguous; max_norm >= 0. */
ND_API nd_status nd_clip_grad_norm(nd_tensor *const *grads, int n, double max_norm, double *norm_out);
ND_API nd_status nd_optim_clip_grad_norm(nd_optim *o, double max_norm, double *norm_out);

/* The optimizer's state (its step count and per-parameter moment buffers)
 * into a checkpoint ("optim.steps", "optim.kind", tensors "optim.<i>.s<j>")
 * and back into an optimizer made with the same config over parameters of
 * the same shapes (every buffer is checked before any changes).  With the
 * parameters themselves this resumes training exactly. */
struct nd_checkpoint;
ND_API nd_status nd_optim_save(const nd_optim *o, struct nd_checkpoint *ck);
ND_API nd_status nd_optim_load(nd_optim *o, const struct nd_checkpoint *ck);

#ifdef __cplusplus
}
#endif
#endif
