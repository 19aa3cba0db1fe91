/* Credit assignment without end-to-end back-propagation: the ops several
 * model families share (src/learning/), written as custom VJPs on the
 * autodiff tape (nd_ad_custom) so that one nd_tape_backward gives the
 * method's update.  docs/credit.md explains each method.
 *
 * Notation: a layer computes a = h W^T + b (W [out, in]) and h' = phi(a);
 * e = dL/dz is the error at the output pre-activation z [B, n_L].
 *
 *   BP   delta_l = (delta_{l+1} W_{l+1}) . phi'(a_l)          (Rumelhart et al. 1986)
 *   FA   delta_l = (delta_{l+1} B_{l+1}) . phi'(a_l), B fixed random with W's shape
 *        (Lillicrap et al. 2016, Nat. Commun. 7:13276, Eq. 1-2 / Fig. 1):
 *        nd_credit_linear_fa.
 *   DFA  delta_l = (e D_l) . phi'(a_l), D_l [n_L, n_l] fixed random
 *        (Nokland 2016, NIPS, Eq. 3 with e projected straight to each layer):
 *        every layer's input detached (nd_credit_detach) and the output passed
 *        through nd_credit_dfa_output.
 *   DNI  a layer is updated with a synthetic gradient dhat = M(h[, y]) in place
 *        of dL/dh (Jaderberg et al. 2017, ICML, Sec. 2 and 3.1):
 *        nd_credit_inject seeds it; M is regressed on the gradient that does
 *        arrive (nd_credit_regression_grads).
 *   FF   every layer trained on its own goodness G = sum_j y_j^2 with
 *        p(positive) = sigma(G - theta) (Hinton 2022, arXiv 2212.13345,
 *        Eq. 1): nd_credit_ff_loss, with inputs length-normalised
 *        (nd_credit_ff_normalize) and labels embedded in the image
 *        (nd_credit_ff_embed, Sec. 3.3).
 *   DTP  each hidden layer regressed on a target; the top hidden target is a
 *        gradient step, lower targets come down through learned inverses g_l
 *        with the difference correction hhat_{l-1} = h_{l-1} + g_l(hhat_l) -
 *        g_l(h_l) (Lee et al. 2015, ECML-PKDD, Sec. 3): nd_credit_dtp_top_target,
 *        nd_credit_dtp_target.
 *   AM   codes (pre-activations) as auxiliary variables, optimised top-down
 *        for a few Nesterov steps per batch, then each layer regressed on its
 *        codes (Choromanska et al. 2019, ICML, Sec. 3 / Alg. 1):
 *        nd_credit_nesterov_step.
 *   SUBTASK blocks trained on local losses D(yhat_k, R_k(y)) against learned
 *        label representatives R_k (seed 004, "Decomposing Subtasks"; resembles
 *        the local losses of Nokland & Eidnes 2019): nd_credit_representative.
 *
 * The ops follow the tape's conventions (autodiff.h): NULL on failure with
 * the error kept on the tape. */
#ifndef NEURODYN_CREDIT_H
#define NEURODYN_CREDIT_H

#include "neurodyn/core.h"
#include "neurodyn/tensor.h"
#include "neurodyn/autodiff.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nd_credit_method {
  ND_CREDIT_BP = 0, /* back-propagation */
  ND_CREDIT_FA,     /* feedback alignment */
  ND_CREDIT_DFA,    /* direct feedback alignment */
  ND_CREDIT_DNI,    /* decoupled neural interfaces (synthetic gradients) */
  ND_CREDIT_FF,     /* forward-forward */
  ND_CREDIT_DTP,    /* difference target propagation */
  ND_CREDIT_AM,     /* online alternating minimisation with auxiliary variables */
  ND_CREDIT_SUBTASK, /* subtask decomposition: block-local losses against learned label representatives */
  ND_CREDIT_COUNT_
} nd_credit_method;

/* "bp", "fa", "dfa", "dni", "ff", "dtp", "am", "subtask" (NULL-terminated, index = nd_credit_method). */
ND_API const char *const *nd_credit_method_names(void);
/* The name of m, or NULL when m is out of range. */
ND_API const char *nd_credit_method_name(nd_credit_method m);

/* A constant leaf viewing x's value: no gradient flows from it into x
 * (the value lives until the next reset). */
ND_API nd_var *nd_credit_detach(nd_tape *tp, nd_var *x);

/* Feedback alignment: y = x W^T + b (b may be NULL), whose VJP is
 * dx = dy B (B, the fixed feedback matrix, has W's shape [out, in] and must
 * outlive backward), dW = dy^T x and db = sum_rows dy as in BP.  B = W gives
 * back-propagation exactly. */
ND_API nd_var *nd_credit_linear_fa(nd_tape *tp, nd_var *x, nd_var *w, nd_var *b, const nd_tensor *feedback);

/* Direct feedback alignment: returns z unchanged; its VJP passes e = dL/dz
 * on to z and sends e D_l [B, n_l] to each h[l] (n_hidden <= 7; D[l]
 * [n_L, n_l], fixed, outliving backward). */
ND_API nd_var *nd_credit_dfa_output(nd_tape *tp, nd_var *z, int n_hidden, nd_var *const *h,
                                    const nd_tensor *const *feedback);

/* A scalar 0 whose VJP adds doutput * g into dL/dh (g has h's shape and
 * must outlive backward): added to a loss, it makes g the gradient a layer
 * producing h receives, as if from the layers above (a synthetic gradient). */
ND_API nd_var *nd_credit_inject(nd_tape *tp, nd_var *h, const nd_tensor *g);

/* Least squares of a linear map pred = input W^T + b against target:
 * L = (1/B) sum ||pred - target||^2; writes dL/dW [n, k] and dL/db [n]
 * (db may be NULL) and *loss (may be NULL).  input [B, k], pred and target
 * [B, n]; work: B*n floats of scratch (NULL: allocated for the call). */
ND_API nd_status nd_credit_regression_grads(const nd_tensor *input, const nd_tensor *pred, const nd_tensor *target,
                                            float *work, nd_tensor *dw, nd_tensor *db, double *loss);

/* Forward-forward layer loss of y [R, n] (Hinton 2022, Eq. 1): G_r =
 * sum_j y_rj^2; rows 0..n_pos-1 are positive (loss softplus(theta - G)),
 * the next n_neg negative (softplus(G - theta)), any further rows take no
 * part; the scalar is the mean over the n_pos + n_neg rows.
 * dL/dy_rj = 2 y_rj (sigma(G_r - theta) - s_r) / (n_pos + n_neg). */
ND_API nd_var *nd_credit_ff_loss(nd_tape *tp, nd_var *y, int64_t n_pos, int64_t n_neg, float theta);

/* Length normalisation of each row (Hinton 2022, Sec. 2.1, "layer
 * normalization" without mean subtraction): out = x / (||x||_2 / sqrt(d) +
 * eps).  out may equal x. */
ND_API nd_status nd_credit_ff_normalize(const float *x, int64_t rows, int64_t d, float eps, float *out);

/* Label embedding (Hinton 2022, Sec. 3.3): the first `classes` entries of
 * each row of x [rows, d] (d >= classes) are replaced by a one-hot of
 * labels[r] (labels may be NULL: every entry set to `neutral`, e.g. 0.1). */
ND_API nd_status nd_credit_ff_embed(float *x, int64_t rows, int64_t d, int64_t classes, const int32_t *labels,
                                    float neutral);

/* DTP's top hidden target (Lee et al. 2015, Sec. 3): out = h - eta * grad,
 * grad the per-example dL/dh; n floats; out may equal h. */
ND_API nd_status nd_credit_dtp_top_target(const float *h, const float *grad, int64_t n, float eta, float *out);
/* DTP's difference correction (Lee et al. 2015, Sec. 3): out = h + g_hat -
 * g_h, with g_hat = g(hhat_above) and g_h = g(h_above) the learned inverse
 * applied to the layer above's target and activity; n floats.  hhat_above ==
 * h_above gives out == h whatever g is; an exact inverse makes f(out) equal
 * the target above. */
ND_API nd_status nd_credit_dtp_target(const float *h, const float *g_hat, const float *g_h, int64_t n, float *out);

/* One step of SGD with Nesterov momentum as torch.optim.SGD(nesterov=True):
 * v = momentum v + g; x -= lr (g + momentum v) (n floats; AM's code updates,
 * Choromanska et al. 2019, code IBM/online-alt-min). */
ND_API nd_status nd_credit_nesterov_step(float *x, float *v, const float *g, int64_t n, float lr, float momentum);

/* A learned label representative R(y) = onehot(y) E for rows labelled
 * labels[B] (read during the call), E [classes, n] a tape leaf: [B, n], with
 * dE = onehot^T dR (seed 004, "Decomposing Subtasks"). */
ND_API nd_var *nd_credit_representative(nd_tape *tp, nd_var *e, const int32_t *labels, int64_t rows);

/* The angle in degrees between two vectors of n floats (accumulated in
 * double); NaN when either is zero. */
ND_API double nd_credit_angle(const float *a, const float *b, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
